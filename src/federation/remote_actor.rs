//! Actors of other servers, fetched with activitypub_federation's
//! `ObjectId::dereference` (content type checked, the document's `id` the
//! actor asked for, cached in
//! `remote_actors`, refetched after a day) through our guarded, signing client.

use activitypub_federation::{
    config::Data,
    fetch::object_id::ObjectId,
    protocol::{public_key::PublicKey, verification::verify_domains_match},
    traits::{Actor, Object},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    domains::host_and_port,
    services::{ServiceError, inbox},
    state::AppState,
    store::{RemoteActor, RemoteActorData, StoreError, from_ms},
};

/// A remote actor we know, with its id parsed.
#[derive(Debug, Clone)]
pub struct Peer {
    pub id: Url,
    pub record: RemoteActor,
}

/// The parts of an actor document we use. Unknown fields are ignored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorDocument {
    pub id: Url,
    #[serde(rename = "type")]
    pub kind: String,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub inbox: Url,
    #[serde(default)]
    pub endpoints: Option<ActorEndpoints>,
    pub public_key: PublicKey,
    /// The avatar: an Image (or several), or a bare URL.
    #[serde(default)]
    pub icon: Option<serde_json::Value>,
}

/// The first http(s) URL an `icon` names.
fn icon_url(icon: &serde_json::Value) -> Option<String> {
    let url = match icon {
        serde_json::Value::String(url) => Some(url.as_str()),
        serde_json::Value::Object(map) => map.get("url").and_then(|u| match u {
            serde_json::Value::String(s) => Some(s.as_str()),
            serde_json::Value::Object(link) => link.get("href").and_then(|h| h.as_str()),
            _ => None,
        }),
        serde_json::Value::Array(items) => return items.iter().find_map(icon_url),
        _ => None,
    }?;
    let parsed = Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "https" | "http") && url.len() <= 2_048).then(|| url.to_string())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorEndpoints {
    pub shared_inbox: Option<Url>,
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("fetching the actor failed: {0}")]
    Fetch(#[from] activitypub_federation::error::Error),
    #[error("the actor document is not acceptable: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl PeerError {
    /// The fetch limit that refused this fetch, if that is why it failed
    /// (`transport::SignedFetches` refuses before sending).
    pub fn limited(&self) -> Option<&crate::limits::Limited> {
        match self {
            PeerError::Fetch(activitypub_federation::error::Error::ReqwestMiddleware(
                reqwest_middleware::Error::Middleware(err),
            )) => err.downcast_ref(),
            _ => None,
        }
    }
}

/// What the inbox and authorized fetch answer when the actor or key could
/// not be fetched: 429 when the fetch limit refused it, else 401.
impl From<PeerError> for crate::error::AppError {
    fn from(err: PeerError) -> Self {
        match err.limited() {
            Some(limited) => limited.clone().into(),
            None => {
                crate::error::AppError::Unauthorized("the actor's key could not be fetched".into())
            }
        }
    }
}

const ACTOR_TYPES: [&str; 5] = ["Person", "Service", "Application", "Group", "Organization"];

#[async_trait::async_trait]
impl Object for Peer {
    type DataType = AppState;
    type Kind = ActorDocument;
    type Error = PeerError;

    fn id(&self) -> &Url {
        &self.id
    }

    fn last_refreshed_at(&self) -> Option<DateTime<Utc>> {
        Some(from_ms(self.record.fetched_at))
    }

    async fn read_from_id(id: Url, data: &Data<AppState>) -> Result<Option<Self>, PeerError> {
        Ok(data
            .store
            .remote_actor(id.as_str())
            .await?
            .map(|record| Peer { id, record }))
    }

    async fn into_json(self, _: &Data<AppState>) -> Result<ActorDocument, PeerError> {
        Err(PeerError::Invalid("remote actors are not served by us"))
    }

    async fn verify(
        json: &ActorDocument,
        expected: &Url,
        _: &Data<AppState>,
    ) -> Result<(), PeerError> {
        verify_domains_match(&json.id, expected)?;
        verify_domains_match(&json.inbox, &json.id)?;
        if !ACTOR_TYPES.contains(&json.kind.as_str()) {
            return Err(PeerError::Invalid("not an actor type"));
        }
        if json.public_key.owner != json.id {
            return Err(PeerError::Invalid("publicKey.owner is not the actor"));
        }
        Ok(())
    }

    async fn from_json(json: ActorDocument, data: &Data<AppState>) -> Result<Self, PeerError> {
        let record = inbox::actor_fetched(
            &data.services,
            &RemoteActorData {
                uri: json.id.to_string(),
                domain: host_and_port(&json.id),
                inbox: json.inbox.to_string(),
                shared_inbox: json
                    .endpoints
                    .and_then(|e| e.shared_inbox)
                    .map(|u| u.to_string()),
                public_key_id: json.public_key.id,
                public_key_pem: json.public_key.public_key_pem,
                preferred_username: json.preferred_username,
                name: json.name,
                kind: json.kind,
                icon_url: json.icon.as_ref().and_then(icon_url),
            },
        )
        .await?;
        Ok(Peer {
            id: json.id,
            record,
        })
    }
}

impl Actor for Peer {
    fn public_key_pem(&self) -> &str {
        &self.record.public_key_pem
    }

    fn private_key_pem(&self) -> Option<String> {
        None
    }

    fn inbox(&self) -> Url {
        Url::parse(&self.record.inbox).unwrap_or_else(|_| self.id.clone())
    }

    fn shared_inbox(&self) -> Option<Url> {
        self.record
            .shared_inbox
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
    }
}

/// The actor at `id`: from the cache when fresh, else fetched (signed GET).
pub async fn peer(id: &Url, data: &Data<AppState>) -> Result<Peer, PeerError> {
    the_actor(
        id,
        ObjectId::<Peer>::from(id.clone()).dereference(data).await?,
    )
}

/// The actor at `id`, fetched now whatever the cache holds (its key may
/// have changed).
pub async fn refetch_peer(id: &Url, data: &Data<AppState>) -> Result<Peer, PeerError> {
    the_actor(
        id,
        ObjectId::<Peer>::from(id.clone())
            .dereference_forced(data)
            .await?,
    )
}

/// The owner of the key `key_id`, for a signed GET: the document at the
/// keyId (without its fragment), whatever its own id — GoToSocial's keys
/// live at `/users/x/main-key`, whose document is `/users/x` — as long as its
/// key is that key and it is on the key's server.
/// Always fetched: the caller asks only when the cached key did not verify.
pub async fn key_owner(key_id: &Url, data: &Data<AppState>) -> Result<Peer, PeerError> {
    let mut document = key_id.clone();
    document.set_fragment(None);
    let peer = ObjectId::<Peer>::from(document)
        .dereference_forced(data)
        .await?;
    if peer.record.public_key_id != key_id.as_str()
        || host_and_port(&peer.id) != host_and_port(key_id)
    {
        return Err(PeerError::Invalid(
            "the key's document does not hold that key",
        ));
    }
    Ok(peer)
}

/// The actor we asked for, not another one on the same server. The library
/// follows a document whose `id` differs from the URL to that `id` (on the
/// same host): `/users/swap` answering with swapb's document gives swapb,
/// and a Follow naming swap, signed with swapb's key, would make swapb the
/// follower while the Accept names swap.
fn the_actor(id: &Url, peer: Peer) -> Result<Peer, PeerError> {
    if peer.id != *id {
        return Err(PeerError::Invalid(
            "the actor document's id is not the activity's actor",
        ));
    }
    Ok(peer)
}
