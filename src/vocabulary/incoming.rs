//! Activities we read. The inbox reads an [`Envelope`] (id, type, actor,
//! the object's id) to run its gate, and once the gate has verified who
//! sent it, parses the activity into a [`Received`]: what we act on, typed,
//! with the origin rules applied here (an actor can only undo its own
//! follow). What we do not act on is `Other`, acknowledged and stored
//! nowhere.
//!
//! ActivityStreams lets a field hold an id or an embedded object with one;
//! [`Reference`] takes both.

use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// An id, or an object that carries one.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Reference {
    Id(Url),
    Object { id: Url },
}

impl Reference {
    pub fn id(&self) -> &Url {
        match self {
            Reference::Id(id) | Reference::Object { id } => id,
        }
    }
}

/// What the gate needs before it trusts anything: who claims to send the
/// activity and what it is about.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub id: Url,
    pub kind: String,
    pub actor: Url,
    /// The id the activity's `object` names, when it names one.
    pub object: Option<Url>,
}

#[derive(Deserialize)]
struct EnvelopeDoc {
    id: Url,
    #[serde(rename = "type")]
    kind: String,
    actor: Reference,
    #[serde(default)]
    object: Option<Value>,
}

impl Envelope {
    /// `None` unless the activity has an `id` and an `actor` that are URLs
    /// and a `type` that is a string.
    pub fn read(json: &Value) -> Option<Envelope> {
        let doc = EnvelopeDoc::deserialize(json).ok()?;
        let object = doc
            .object
            .and_then(|o| Reference::deserialize(o).ok())
            .map(|r| r.id().clone());
        Some(Envelope {
            id: doc.id,
            kind: doc.kind,
            actor: doc.actor.id().clone(),
            object,
        })
    }

    /// A `Delete` of the sending actor itself: an account deleted on its
    /// server, whose key is gone with it.
    pub fn deletes_its_actor(&self) -> bool {
        self.kind == "Delete" && self.object.as_ref() == Some(&self.actor)
    }
}

/// A verified activity, typed: what we act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// `Follow` of `object` (one of our organisations, or not).
    Follow { object: Url },
    /// `Undo{Follow}` by the follower: the Follow by its id, the followed
    /// actor when the Undo names it (a bare id names only the Follow).
    UndoFollow {
        follow: Option<Url>,
        object: Option<Url>,
    },
    /// `Update` of the sending actor's own profile.
    UpdateActor,
    /// `Delete` of the sending actor itself.
    DeleteActor,
    /// Anything else: answered 202, stored nowhere.
    Other { kind: String },
}

/// Why a verified activity is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The activity is not shaped as its type requires (400).
    #[error("{0}")]
    Malformed(String),
    /// It touches something the sender does not own (403).
    #[error("{0}")]
    NotYours(String),
}

/// The object of an `Undo`: an id, or the undone activity embedded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Undone {
    Id(Url),
    Activity(Box<EmbeddedActivity>),
}

#[derive(Deserialize)]
struct EmbeddedActivity {
    #[serde(default)]
    id: Option<Url>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    actor: Option<Reference>,
    #[serde(default)]
    object: Option<Reference>,
}

impl Received {
    /// Parses the verified activity `json`, whose envelope the gate read.
    pub fn parse(envelope: &Envelope, json: &Value) -> Result<Received, Refused> {
        let object = json.get("object");
        match envelope.kind.as_str() {
            "Follow" => match &envelope.object {
                Some(object) => Ok(Received::Follow {
                    object: object.clone(),
                }),
                None => Err(Refused::Malformed(
                    "a Follow needs the id of the actor it follows".into(),
                )),
            },
            "Undo" => {
                let Some(object) = object else {
                    return Err(Refused::Malformed("an Undo needs an object".into()));
                };
                match Undone::deserialize(object) {
                    Ok(Undone::Id(id)) => Ok(Received::UndoFollow {
                        follow: Some(id),
                        object: None,
                    }),
                    // An object with an id and no type: as good as the id.
                    Ok(Undone::Activity(undone)) if undone.kind.is_none() => {
                        Ok(Received::UndoFollow {
                            follow: undone.id,
                            object: None,
                        })
                    }
                    Ok(Undone::Activity(undone)) if undone.kind.as_deref() == Some("Follow") => {
                        if undone.actor.as_ref().map(Reference::id) != Some(&envelope.actor) {
                            return Err(Refused::NotYours(
                                "only the follower can undo its follow".into(),
                            ));
                        }
                        Ok(Received::UndoFollow {
                            follow: undone.id,
                            object: undone.object.map(|o| o.id().clone()),
                        })
                    }
                    Ok(Undone::Activity(undone)) => Ok(Received::Other {
                        kind: format!("Undo{{{}}}", undone.kind.unwrap_or_default()),
                    }),
                    Err(_) => Err(Refused::Malformed(
                        "an Undo's object must be an activity or its id".into(),
                    )),
                }
            }
            "Update" if envelope.object.as_ref() == Some(&envelope.actor) => {
                Ok(Received::UpdateActor)
            }
            "Delete" if envelope.deletes_its_actor() => Ok(Received::DeleteActor),
            other => Ok(Received::Other {
                kind: other.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ANN: &str = "https://a.example/users/ann";
    const CRAS: &str = "https://us.example/organisations/cras";

    fn received(json: Value) -> Result<Received, Refused> {
        let envelope = Envelope::read(&json).expect("envelope");
        Received::parse(&envelope, &json)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn an_envelope_needs_an_id_a_type_and_an_actor() {
        let ok = json!({"id": "https://a.example/1", "type": "Like", "actor": {"id": ANN}, "object": CRAS});
        let envelope = Envelope::read(&ok).unwrap();
        assert_eq!(envelope.actor, url(ANN));
        assert_eq!(envelope.object, Some(url(CRAS)));
        for broken in [
            json!({"type": "Like", "actor": ANN}),
            json!({"id": "not a url", "type": "Like", "actor": ANN}),
            json!({"id": "https://a.example/1", "type": ["Like"], "actor": ANN}),
            json!({"id": "https://a.example/1", "type": "Like"}),
            json!({"id": "https://a.example/1", "type": "Like", "actor": 7}),
            json!([1, 2]),
        ] {
            assert!(Envelope::read(&broken).is_none(), "{broken}");
        }
    }

    #[test]
    fn a_follow_names_what_it_follows_by_id_or_embedded() {
        for object in [json!(CRAS), json!({"id": CRAS, "type": "Organization"})] {
            let follow = json!({"id": "https://a.example/f", "type": "Follow", "actor": ANN, "object": object});
            assert_eq!(received(follow), Ok(Received::Follow { object: url(CRAS) }));
        }
        let without = json!({"id": "https://a.example/f", "type": "Follow", "actor": ANN});
        assert!(matches!(received(without), Err(Refused::Malformed(_))));
    }

    #[test]
    fn only_the_follower_undoes_its_follow() {
        let undo = |actor: &str| {
            json!({"id": "https://a.example/u", "type": "Undo", "actor": ANN,
                   "object": {"id": "https://a.example/f", "type": "Follow", "actor": actor, "object": CRAS}})
        };
        assert_eq!(
            received(undo(ANN)),
            Ok(Received::UndoFollow {
                follow: Some(url("https://a.example/f")),
                object: Some(url(CRAS)),
            })
        );
        assert!(matches!(
            received(undo("https://a.example/users/bob")),
            Err(Refused::NotYours(_))
        ));
        let bare = json!({"id": "https://a.example/u", "type": "Undo", "actor": ANN, "object": "https://a.example/f"});
        assert_eq!(
            received(bare),
            Ok(Received::UndoFollow {
                follow: Some(url("https://a.example/f")),
                object: None
            })
        );
        let like = json!({"id": "https://a.example/u", "type": "Undo", "actor": ANN,
                          "object": {"id": "https://a.example/l", "type": "Like", "actor": ANN, "object": CRAS}});
        assert_eq!(
            received(like),
            Ok(Received::Other {
                kind: "Undo{Like}".into()
            })
        );
        let empty = json!({"id": "https://a.example/u", "type": "Undo", "actor": ANN, "object": 3});
        assert!(matches!(received(empty), Err(Refused::Malformed(_))));
    }

    #[test]
    fn updates_and_deletes_of_the_actor_itself_are_recognised() {
        let update = json!({"id": "https://a.example/u", "type": "Update", "actor": ANN,
                            "object": {"id": ANN, "type": "Person"}});
        assert_eq!(received(update), Ok(Received::UpdateActor));
        let other_update = json!({"id": "https://a.example/u", "type": "Update", "actor": ANN,
                                  "object": {"id": "https://a.example/notes/1", "type": "Note"}});
        assert!(matches!(received(other_update), Ok(Received::Other { .. })));
        let delete =
            json!({"id": "https://a.example/d", "type": "Delete", "actor": ANN, "object": ANN});
        let envelope = Envelope::read(&delete).unwrap();
        assert!(envelope.deletes_its_actor());
        assert_eq!(received(delete), Ok(Received::DeleteActor));
        let delete_note = json!({"id": "https://a.example/d", "type": "Delete", "actor": ANN,
                                 "object": "https://a.example/notes/1"});
        assert!(!Envelope::read(&delete_note).unwrap().deletes_its_actor());
    }
}
