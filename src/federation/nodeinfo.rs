//! NodeInfo 2.1: what software this is and how much it publishes, for
//! server directories and for peers deciding how to talk to us.

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{error::AppError, state::AppState};

const SCHEMA: &str = "http://nodeinfo.diaspora.software/ns/schema/2.1";

/// `GET /.well-known/nodeinfo`
pub async fn discovery(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "links": [{ "rel": SCHEMA, "href": state.urls.nodeinfo() }]
    }))
}

/// `GET /nodeinfo/2.1`
pub async fn nodeinfo(State(state): State<AppState>) -> Result<Response, AppError> {
    let organisations = state.store.count_organisations().await?;
    let statements = state.store.count_published_statements().await?;
    let config = &state.config;
    let body = json!({
        "version": "2.1",
        "software": {
            "name": "broadside",
            "version": env!("CARGO_PKG_VERSION"),
            "repository": env!("CARGO_PKG_REPOSITORY"),
            "homepage": env!("CARGO_PKG_REPOSITORY"),
        },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": [] },
        "openRegistrations": false,
        "usage": {
            "users": {
                "total": organisations,
                "activeMonth": organisations,
                "activeHalfyear": organisations,
            },
            "localPosts": statements,
        },
        "metadata": {
            "nodeName": config.instance_name,
            "nodeDescription": config.instance_description,
            "contact": config.instance_contact,
        },
    });
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("application/json; profile=\"{SCHEMA}#\""))
            .expect("static header"),
    );
    Ok(response)
}
