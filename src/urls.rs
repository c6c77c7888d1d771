//! Every public URL we mint, in one place. ActivityPub ids are built only
//! here, from the configured base URL, so that routes and ids never drift apart.

use url::Url;

/// ActivityStreams' public collection: addressed to everyone.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

#[derive(Clone, Debug)]
pub struct Urls {
    base: Url,
    domain: String,
}

impl Urls {
    pub fn new(base: Url) -> Self {
        let domain = crate::domains::host_and_port(&base);
        Urls { base, domain }
    }

    fn join(&self, path: &str) -> Url {
        self.base.join(path).expect("paths we build are valid")
    }

    /// A fixed path of ours (`/actor/inbox`…).
    pub fn join_path(&self, path: &'static str) -> Url {
        self.join(path)
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `host[:port]`, the domain part of `acct:` addresses.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether `url` is on this server (same scheme, host and port).
    pub fn is_local(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    pub fn organisation(&self, handle: &str) -> Url {
        self.join(&format!("/organisations/{handle}"))
    }

    /// The handle of an organisation actor URL of ours.
    pub fn handle_of(&self, actor: &Url) -> Option<String> {
        if !self.is_local(actor) || actor.query().is_some() || actor.fragment().is_some() {
            return None;
        }
        let handle = actor.path().strip_prefix("/organisations/")?;
        (!handle.is_empty() && !handle.contains('/')).then(|| handle.to_string())
    }

    pub fn key_id(&self, actor: &Url) -> String {
        format!("{actor}#main-key")
    }

    pub fn inbox(&self, handle: &str) -> Url {
        self.join(&format!("/organisations/{handle}/inbox"))
    }

    pub fn outbox(&self, handle: &str) -> Url {
        self.join(&format!("/organisations/{handle}/outbox"))
    }

    pub fn followers(&self, handle: &str) -> Url {
        self.join(&format!("/organisations/{handle}/followers"))
    }

    pub fn following(&self, handle: &str) -> Url {
        self.join(&format!("/organisations/{handle}/following"))
    }

    pub fn featured(&self, handle: &str) -> Url {
        self.join(&format!("/organisations/{handle}/featured"))
    }

    /// A page of one of an organisation's collections.
    pub fn page(&self, collection: &Url, page: u64) -> Url {
        let mut url = collection.clone();
        url.set_query(Some(&format!("page={page}")));
        url
    }

    pub fn shared_inbox(&self) -> Url {
        self.join("/inbox")
    }

    /// The instance actor, which signs our GET requests.
    pub fn instance_actor(&self) -> Url {
        self.join("/actor")
    }

    /// A statement's ActivityPub id and web page.
    pub fn statement(&self, public_id: &str) -> Url {
        self.join(&format!("/statements/{public_id}"))
    }

    /// The web page of a statement's translation into `language`.
    pub fn statement_in(&self, public_id: &str, language: &str) -> Url {
        self.join(&format!("/statements/{public_id}/{language}"))
    }

    /// The public id of a statement URL of ours (its ActivityPub id).
    pub fn statement_id_of(&self, url: &Url) -> Option<String> {
        if !self.is_local(url) || url.query().is_some() || url.fragment().is_some() {
            return None;
        }
        let id = url.path().strip_prefix("/statements/")?;
        (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
    }

    /// A statement's `likes`, `shares` or `replies` collection.
    pub fn statement_collection(&self, public_id: &str, which: &str) -> Url {
        self.join(&format!("/statements/{public_id}/{which}"))
    }

    /// The QuoteAuthorization of one quote (FEP-044f).
    pub fn quote_authorization(&self, public_id: &str) -> Url {
        self.join(&format!("/quote-authorizations/{public_id}"))
    }

    /// The page of a hashtag.
    pub fn tag(&self, tag: &str) -> Url {
        let mut url = self.join("/tags/");
        url.path_segments_mut()
            .expect("http URLs have paths")
            .pop_if_empty()
            .push(&tag.to_lowercase());
        url
    }

    /// An activity we send, by its opaque id.
    pub fn activity(&self, id: &str) -> Url {
        self.join(&format!("/activities/{id}"))
    }

    pub fn webfinger(&self) -> Url {
        self.join("/.well-known/webfinger")
    }

    pub fn nodeinfo(&self) -> Url {
        self.join("/nodeinfo/2.1")
    }

    pub fn acct(&self, handle: &str) -> String {
        format!("acct:{handle}@{}", self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_of_reads_back_what_organisation_builds() {
        let urls = Urls::new(Url::parse("https://statements.example.org").unwrap());
        let actor = urls.organisation("cras");
        assert_eq!(
            actor.as_str(),
            "https://statements.example.org/organisations/cras"
        );
        assert_eq!(urls.handle_of(&actor).as_deref(), Some("cras"));
        assert_eq!(urls.handle_of(&urls.outbox("cras")), None);
        let foreign = Url::parse("https://elsewhere.example/organisations/cras").unwrap();
        assert_eq!(urls.handle_of(&foreign), None);
    }
}
