//! Activities we read. The inbox reads an [`Envelope`] (id, type, actor,
//! the object's id) to run its gate, and once the gate has verified who
//! sent it, parses the activity into a [`Received`]: what we act on, typed,
//! with the origin rules applied here: an actor undoes only its own follow,
//! like, boost or block, and a post it sends (a reply, a quote) must be
//! its own — attributed to it and with an id on its server (the checks
//! whose absence made CVE-2024-23832). That an `Update` or `Delete` touches
//! only what the same actor created is the services' rule: they look rows
//! up by object *and* actor. What we do not act on is `Other`,
//! acknowledged and stored nowhere.
//!
//! ActivityStreams lets a field hold an id or an embedded object with one;
//! [`Reference`] takes both.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::domains::host_and_port;

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

/// A like or a boost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reaction {
    Like,
    Boost,
}

impl Reaction {
    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::Like => "like",
            Reaction::Boost => "boost",
        }
    }
}

/// A post by a remote actor (a reply, or a quoting post), as far as we
/// keep it. Its HTML is not sanitised yet: the services do that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    pub id: Url,
    pub url: Option<Url>,
    pub in_reply_to: Option<Url>,
    /// What it quotes: `quote`, `_misskey_quote`, `quoteUrl`, `quoteUri`,
    /// in the order Mastodon reads them (docs/interop.md §13).
    pub quote: Option<Url>,
    pub content: String,
    pub summary: Option<String>,
    pub language: Option<String>,
    pub published: Option<DateTime<Utc>>,
}

/// A verified activity, typed: what we act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// `Like` or `Announce` of `object`.
    Reacted { reaction: Reaction, object: Url },
    /// `Undo{Like}` or `Undo{Announce}` by the one who sent it: by the
    /// activity's id, and the object when the Undo embeds it.
    Unreacted {
        reaction: Option<Reaction>,
        activity: Option<Url>,
        object: Option<Url>,
    },
    /// `Create{Note}` (`edited`: `Update{Note}`) of a post by the sender.
    Posted { post: Box<Post>, edited: bool },
    /// `Delete` of an object (a post, as id or Tombstone) of the sender.
    Deleted { object: Url },
    /// `QuoteRequest` for `object` by the post `instrument` (FEP-044f).
    QuoteRequested { object: Url, instrument: Box<Post> },
    /// `Flag`: a report from the sender's server about `objects`.
    Flagged { objects: Vec<Url>, content: String },
    /// `Block` of `object`.
    Blocked { object: Url },
    /// `Undo{Block}`: by the Block's id, and the object when embedded.
    Unblocked {
        activity: Option<Url>,
        object: Option<Url>,
    },
    /// `Follow` of `object` (one of our organisations, or not).
    Follow { object: Url },
    /// `Undo{Follow}` by the follower: the Follow by its id, the followed
    /// actor when the Undo names it (a bare id names only the Follow).
    UndoFollow {
        follow: Option<Url>,
        object: Option<Url>,
    },
    /// `Undo` of the sender's activity with this id, whatever it was (a
    /// Follow, a Like, a boost, a Block).
    Undone { activity: Url },
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
                    Ok(Undone::Id(activity)) => Ok(Received::Undone { activity }),
                    // An object with an id and no type: as good as the id.
                    Ok(Undone::Activity(undone)) if undone.kind.is_none() => match undone.id {
                        Some(activity) => Ok(Received::Undone { activity }),
                        None => Err(Refused::Malformed(
                            "an Undo must name what it undoes".into(),
                        )),
                    },
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
                    Ok(Undone::Activity(undone)) => {
                        let kind = undone.kind.clone().unwrap_or_default();
                        let reaction = match kind.as_str() {
                            "Like" => Some(Reaction::Like),
                            "Announce" => Some(Reaction::Boost),
                            "Block" => None,
                            _ => {
                                return Ok(Received::Other {
                                    kind: format!("Undo{{{kind}}}"),
                                });
                            }
                        };
                        if undone.actor.as_ref().map(Reference::id) != Some(&envelope.actor) {
                            return Err(Refused::NotYours(format!(
                                "only its actor can undo a {kind}"
                            )));
                        }
                        let object = undone.object.map(|o| o.id().clone());
                        Ok(match reaction {
                            Some(reaction) => Received::Unreacted {
                                reaction: Some(reaction),
                                activity: undone.id,
                                object,
                            },
                            None => Received::Unblocked {
                                activity: undone.id,
                                object,
                            },
                        })
                    }
                    Err(_) => Err(Refused::Malformed(
                        "an Undo's object must be an activity or its id".into(),
                    )),
                }
            }
            "Update" if envelope.object.as_ref() == Some(&envelope.actor) => {
                Ok(Received::UpdateActor)
            }
            "Delete" if envelope.deletes_its_actor() => Ok(Received::DeleteActor),
            "Like" | "Announce" => match &envelope.object {
                Some(object) => Ok(Received::Reacted {
                    reaction: if envelope.kind == "Like" {
                        Reaction::Like
                    } else {
                        Reaction::Boost
                    },
                    object: object.clone(),
                }),
                None => Err(Refused::Malformed(format!(
                    "a {} needs an object",
                    envelope.kind
                ))),
            },
            "Create" | "Update" => match object {
                Some(note @ Value::Object(map))
                    if map
                        .get("type")
                        .and_then(Value::as_str)
                        .is_some_and(is_post_type) =>
                {
                    Ok(Received::Posted {
                        post: Box::new(Post::parse(note, &envelope.actor)?),
                        edited: envelope.kind == "Update",
                    })
                }
                _ => Ok(Received::Other {
                    kind: envelope.kind.clone(),
                }),
            },
            "Delete" => match &envelope.object {
                Some(object) => Ok(Received::Deleted {
                    object: object.clone(),
                }),
                None => Err(Refused::Malformed("a Delete needs an object".into())),
            },
            "QuoteRequest" => {
                let Some(target) = &envelope.object else {
                    return Err(Refused::Malformed(
                        "a QuoteRequest needs the id of the quoted post".into(),
                    ));
                };
                match json.get("instrument") {
                    Some(instrument @ Value::Object(_)) => Ok(Received::QuoteRequested {
                        object: target.clone(),
                        instrument: Box::new(Post::parse(instrument, &envelope.actor)?),
                    }),
                    _ => Err(Refused::Malformed(
                        "a QuoteRequest needs its quoting post embedded as instrument".into(),
                    )),
                }
            }
            "Flag" => {
                let objects = match object {
                    Some(Value::Array(items)) => items
                        .iter()
                        .filter_map(|item| Reference::deserialize(item).ok())
                        .map(|r| r.id().clone())
                        .collect(),
                    Some(single) => Reference::deserialize(single)
                        .map(|r| vec![r.id().clone()])
                        .unwrap_or_default(),
                    None => vec![],
                };
                if objects.is_empty() {
                    return Err(Refused::Malformed("a Flag needs what it reports".into()));
                }
                let content = json
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                Ok(Received::Flagged {
                    objects,
                    content: content.chars().take(MAX_REPORT_LEN).collect(),
                })
            }
            "Block" => match &envelope.object {
                Some(object) => Ok(Received::Blocked {
                    object: object.clone(),
                }),
                None => Err(Refused::Malformed("a Block needs an object".into())),
            },
            other => Ok(Received::Other {
                kind: other.to_string(),
            }),
        }
    }
}

/// Longest report text we keep; Mastodon allows 1,000 characters.
pub const MAX_REPORT_LEN: usize = 5_000;
/// Longest post HTML we keep (Mastodon's own limit is far lower).
pub const MAX_POST_LEN: usize = 100_000;

/// Object types that are posts someone can reply or quote with.
fn is_post_type(kind: &str) -> bool {
    matches!(kind, "Note" | "Article" | "Question" | "Page")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostDoc {
    id: Url,
    #[serde(default)]
    attributed_to: Option<Value>,
    #[serde(default)]
    url: Option<Value>,
    #[serde(default)]
    in_reply_to: Option<Value>,
    #[serde(default)]
    quote: Option<Value>,
    #[serde(default, rename = "_misskey_quote")]
    misskey_quote: Option<Value>,
    #[serde(default)]
    quote_url: Option<Value>,
    #[serde(default)]
    quote_uri: Option<Value>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    content_map: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    published: Option<DateTime<Utc>>,
}

/// The first id in a field holding an id, an object with one, or an array
/// of either (`attributedTo`, `url`).
fn first_id(value: &Option<Value>) -> Option<Url> {
    match value.as_ref()? {
        Value::Array(items) => items
            .iter()
            .find_map(|item| Reference::deserialize(item).ok())
            .map(|r| r.id().clone()),
        Value::Object(map) if map.get("href").is_some() => map
            .get("href")
            .and_then(Value::as_str)
            .and_then(|s| Url::parse(s).ok()),
        other => Reference::deserialize(other).ok().map(|r| r.id().clone()),
    }
}

impl Post {
    /// A post sent by `sender`: it must be attributed to the sender and
    /// live on the sender's server.
    fn parse(json: &Value, sender: &Url) -> Result<Post, Refused> {
        let doc = PostDoc::deserialize(json)
            .map_err(|e| Refused::Malformed(format!("the post is malformed: {e}")))?;
        if first_id(&doc.attributed_to).as_ref() != Some(sender) {
            return Err(Refused::NotYours(
                "a post must be attributed to the actor that sends it".into(),
            ));
        }
        if host_and_port(&doc.id) != host_and_port(sender) {
            return Err(Refused::NotYours(
                "a post's id must be on its author's server".into(),
            ));
        }
        let (language, content) = match (doc.content, doc.content_map) {
            (Some(content), map) => (map.and_then(|m| m.keys().next().cloned()), content),
            (None, Some(map)) => match map
                .into_iter()
                .find_map(|(lang, v)| v.as_str().map(|text| (lang, text.to_string())))
            {
                Some((lang, text)) => (Some(lang), text),
                None => (None, String::new()),
            },
            (None, None) => (None, String::new()),
        };
        if content.len() > MAX_POST_LEN {
            return Err(Refused::Malformed("the post is too long".into()));
        }
        let quote = [
            &doc.quote,
            &doc.misskey_quote,
            &doc.quote_url,
            &doc.quote_uri,
        ]
        .into_iter()
        .find_map(first_id);
        Ok(Post {
            id: doc.id,
            url: first_id(&doc.url),
            in_reply_to: first_id(&doc.in_reply_to),
            quote,
            content,
            summary: doc.summary.filter(|s| !s.is_empty()),
            language,
            published: doc.published,
        })
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
            Ok(Received::Undone {
                activity: url("https://a.example/f"),
            })
        );
        let unknown = json!({"id": "https://a.example/u", "type": "Undo", "actor": ANN,
                          "object": {"id": "https://a.example/l", "type": "EmojiReact", "actor": ANN, "object": CRAS}});
        assert_eq!(
            received(unknown),
            Ok(Received::Other {
                kind: "Undo{EmojiReact}".into()
            })
        );
        let empty = json!({"id": "https://a.example/u", "type": "Undo", "actor": ANN, "object": 3});
        assert!(matches!(received(empty), Err(Refused::Malformed(_))));
    }

    fn note(id: &str, author: &str) -> Value {
        json!({"id": id, "type": "Note", "attributedTo": author,
               "inReplyTo": "https://us.example/statements/s1",
               "content": "<p>Solidarity</p>", "contentMap": {"en": "<p>Solidarity</p>"},
               "published": "2026-12-01T10:00:00Z"})
    }

    #[test]
    fn likes_and_boosts_and_their_undos() {
        let like =
            json!({"id": "https://a.example/l", "type": "Like", "actor": ANN, "object": CRAS});
        assert_eq!(
            received(like.clone()),
            Ok(Received::Reacted {
                reaction: Reaction::Like,
                object: url(CRAS)
            })
        );
        let announce = json!({"id": "https://a.example/b", "type": "Announce", "actor": ANN,
                              "object": {"id": CRAS, "type": "Note"}});
        assert!(matches!(
            received(announce),
            Ok(Received::Reacted {
                reaction: Reaction::Boost,
                ..
            })
        ));
        let undo = |inner: Value| json!({"id": "https://a.example/u", "type": "Undo", "actor": ANN, "object": inner});
        assert_eq!(
            received(undo(like.clone())),
            Ok(Received::Unreacted {
                reaction: Some(Reaction::Like),
                activity: Some(url("https://a.example/l")),
                object: Some(url(CRAS)),
            })
        );
        let mut bobs = like;
        bobs["actor"] = json!("https://a.example/users/bob");
        assert!(matches!(received(undo(bobs)), Err(Refused::NotYours(_))));
        let block =
            json!({"id": "https://a.example/k", "type": "Block", "actor": ANN, "object": CRAS});
        assert_eq!(
            received(block.clone()),
            Ok(Received::Blocked { object: url(CRAS) })
        );
        assert!(matches!(
            received(undo(block)),
            Ok(Received::Unblocked { .. })
        ));
    }

    #[test]
    fn a_post_must_be_its_senders_own() {
        let create = |note: Value| json!({"id": "https://a.example/c", "type": "Create", "actor": ANN, "object": note});
        let Ok(Received::Posted { post, edited }) =
            received(create(note("https://a.example/notes/1", ANN)))
        else {
            panic!("a reply is a post");
        };
        assert!(!edited);
        assert_eq!(post.language.as_deref(), Some("en"));
        assert_eq!(
            post.in_reply_to,
            Some(url("https://us.example/statements/s1"))
        );
        assert!(matches!(
            received(create(note(
                "https://a.example/notes/1",
                "https://a.example/users/bob"
            ))),
            Err(Refused::NotYours(_))
        ));
        assert!(matches!(
            received(create(note("https://elsewhere.example/notes/1", ANN))),
            Err(Refused::NotYours(_))
        ));
        let mut quoting = note("https://a.example/notes/2", ANN);
        quoting["quoteUri"] = json!("https://us.example/statements/s1");
        let Ok(Received::Posted { post, .. }) = received(create(quoting)) else {
            panic!("a quote is a post");
        };
        assert_eq!(post.quote, Some(url("https://us.example/statements/s1")));
    }

    #[test]
    fn quote_requests_and_reports() {
        let request = |author: &str| {
            json!({"id": "https://a.example/q", "type": "QuoteRequest", "actor": ANN,
                   "object": "https://us.example/statements/s1",
                   "instrument": note("https://a.example/notes/3", author)})
        };
        assert!(matches!(
            received(request(ANN)),
            Ok(Received::QuoteRequested { .. })
        ));
        assert!(matches!(
            received(request("https://a.example/users/bob")),
            Err(Refused::NotYours(_))
        ));
        let flag = json!({"id": "https://a.example/f", "type": "Flag", "actor": ANN,
                          "content": "spam", "object": [CRAS, "https://us.example/statements/s1"]});
        assert_eq!(
            received(flag),
            Ok(Received::Flagged {
                objects: vec![url(CRAS), url("https://us.example/statements/s1")],
                content: "spam".into()
            })
        );
    }

    #[test]
    fn updates_and_deletes_of_the_actor_itself_are_recognised() {
        let update = json!({"id": "https://a.example/u", "type": "Update", "actor": ANN,
                            "object": {"id": ANN, "type": "Person"}});
        assert_eq!(received(update), Ok(Received::UpdateActor));
        let other_update = json!({"id": "https://a.example/u", "type": "Update", "actor": ANN,
                                  "object": {"id": "https://a.example/q/1", "type": "Question", "attributedTo": ANN}});
        assert!(matches!(
            received(other_update),
            Ok(Received::Posted { edited: true, .. })
        ));
        let delete =
            json!({"id": "https://a.example/d", "type": "Delete", "actor": ANN, "object": ANN});
        let envelope = Envelope::read(&delete).unwrap();
        assert!(envelope.deletes_its_actor());
        assert_eq!(received(delete), Ok(Received::DeleteActor));
        let delete_note = json!({"id": "https://a.example/d", "type": "Delete", "actor": ANN,
                                 "object": "https://a.example/notes/1"});
        assert!(!Envelope::read(&delete_note).unwrap().deletes_its_actor());
        assert_eq!(
            received(delete_note),
            Ok(Received::Deleted {
                object: url("https://a.example/notes/1")
            })
        );
    }
}
