//! This server's own identity: the instance actor's keys, with which we sign
//! our GETs (federation serves its document at `/actor`).

use crate::{
    keys::{PrivateKey, generate_keypair},
    store::{Store, StoreResult},
};

/// The instance actor's name; reserved as an organisation handle.
pub const USERNAME: &str = "broadside";

#[derive(Clone, Debug)]
pub struct InstanceActor {
    pub public_key_pem: String,
    pub private_key: PrivateKey,
}

impl InstanceActor {
    /// Loads the instance keys, creating them on first start.
    pub async fn load(store: &Store) -> StoreResult<Self> {
        let (private_key, public_key_pem) = store
            .instance_keys(|| generate_keypair().expect("RSA key generation works"))
            .await?;
        Ok(InstanceActor {
            public_key_pem,
            private_key,
        })
    }
}
