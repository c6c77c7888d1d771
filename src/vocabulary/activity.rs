//! An activity we send, as a typed value: its kind, its id (minted here,
//! once, from `Urls`), and its JSON. Builders (`activities` for follows and
//! profiles, `statement` for statements) give
//! only the rest of the JSON; nothing reads an id back out of it. A leaf.

use serde_json::Value;
use url::Url;

use crate::urls::Urls;

/// Every kind of activity we send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Create,
    Announce,
    Update,
    Delete,
    Accept,
    Reject,
    Undo,
}

/// What an organisation's outbox lists: the activities that carry its
/// statements to followers (the lead's Create, each co-signer's Announce).
/// It is also what Mastodon counts as the account's posts.
pub const OUTBOX: [&str; 2] = [Kind::Create.as_str(), Kind::Announce.as_str()];

/// What stays readable at its id once its statement is deleted: the
/// Delete, the record of the deletion (the others carry the text).
pub const KEPT_AFTER_DELETION: [&str; 1] = [Kind::Delete.as_str()];

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Create => "Create",
            Kind::Announce => "Announce",
            Kind::Update => "Update",
            Kind::Delete => "Delete",
            Kind::Accept => "Accept",
            Kind::Reject => "Reject",
            Kind::Undo => "Undo",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Activity {
    public_id: String,
    id: Url,
    kind: Kind,
    body: Value,
}

impl Activity {
    /// A new activity of `kind`: a fresh UUIDv7 id under `/activities/`
    /// (ids sort by time and are never reused), set with `type` into the
    /// JSON object `fields`.
    pub fn new(urls: &Urls, kind: Kind, fields: Value) -> Activity {
        let public_id = uuid::Uuid::now_v7().to_string();
        let id = urls.activity(&public_id);
        let mut body = fields;
        let map = body
            .as_object_mut()
            .expect("an activity's fields are a JSON object");
        map.insert("id".into(), Value::String(id.to_string()));
        map.insert("type".into(), Value::String(kind.as_str().into()));
        Activity {
            public_id,
            id,
            kind,
            body,
        }
    }

    /// The last segment of [`Self::id`]: how `/activities/{id}` finds it.
    pub fn public_id(&self) -> &str {
        &self.public_id
    }

    pub fn id(&self) -> &Url {
        &self.id
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn body(&self) -> &Value {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_and_type_are_set_once_and_match() {
        let urls = Urls::new(Url::parse("https://statements.example.org").unwrap());
        let a = Activity::new(&urls, Kind::Accept, serde_json::json!({"actor": "x"}));
        let b = Activity::new(&urls, Kind::Accept, serde_json::json!({"actor": "x"}));
        assert_ne!(a.id(), b.id(), "never reused");
        assert_eq!(a.body()["id"], a.id().as_str());
        assert_eq!(a.body()["type"], "Accept");
        assert_eq!(
            a.id().as_str(),
            format!(
                "https://statements.example.org/activities/{}",
                a.public_id()
            )
        );
        assert!(
            a.id() < b.id() || a.public_id() < b.public_id(),
            "ids sort by time"
        );
    }
}
