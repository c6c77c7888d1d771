//! Broadside: joint statements of several organisations, published on the
//! fediverse. See ARCHITECTURE.md for the map of these modules.

pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod desk;
pub mod documents;
pub mod domains;
pub mod error;
pub mod federation;
pub mod html;
pub mod instance;
pub mod keys;
pub mod limits;
pub mod media;
pub mod ops;
pub mod organisations;
pub mod secrets;
pub mod services;
pub mod state;
pub mod statements;
pub mod store;
pub mod templates;
pub mod transport;
pub mod urls;
pub mod vocabulary;
pub mod web;
