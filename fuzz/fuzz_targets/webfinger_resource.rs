//! WebFinger's `resource` parameter: `acct:handle@domain` (with or without
//! `acct:`, with or without a leading `@`) or an actor URL of ours.
//!
//! Fuzzes `broadside::federation::webfinger::requested_handle`, what the
//! handler asks first. Nothing may panic, a handle read from one of our actor URLs
//! must build that URL again, and any handle found must build our URLs.

#![no_main]

use std::sync::LazyLock;

use broadside::urls::Urls;
use libfuzzer_sys::fuzz_target;
use url::Url;

static URLS: LazyLock<Urls> =
    LazyLock::new(|| Urls::new(Url::parse("https://statements.example.org").unwrap()));

fuzz_target!(|data: &[u8]| {
    let Ok(resource) = std::str::from_utf8(data) else {
        return;
    };
    let urls = &*URLS;
    let as_url = Url::parse(resource)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"));

    let handle = broadside::federation::webfinger::requested_handle(resource, urls);

    let Some(handle) = handle else {
        return;
    };
    assert!(!handle.is_empty(), "an empty handle from {resource:?}");
    // What the handler goes on to build from it (organisation URL, acct:,
    // the JRD's links) must not panic.
    let actor = urls.organisation(&handle);
    let _ = urls.acct(&handle);
    let _ = urls.inbox(&handle);
    if let Some(url) = as_url {
        assert_eq!(
            actor, url,
            "the handle {handle:?} does not build {resource:?} again"
        );
        assert_eq!(urls.handle_of(&actor).as_deref(), Some(handle.as_str()));
    }
});
