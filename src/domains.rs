//! Domains as federation uses them: the one normal form of a server's name
//! (`host[:port]`), and the one rule for whether a domain block covers it.
//!
//! A leaf: it depends on nothing of ours. Every place that asks "is this
//! server blocked?" — the inbox gate, block creation (which removes
//! followers and drops queued deliveries), enqueueing and the worker right
//! before each send — asks [`BlockList::blocks`] or [`covers`], so they
//! cannot disagree.

use url::Url;

/// `host[:port]` of a URL, lower case (the `url` crate already turns IDNs
/// into punycode), without a trailing dot, the port only when it is not
/// the scheme's default: how we key servers everywhere.
pub fn host_and_port(url: &Url) -> String {
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// A domain as people type it — `example.org`, `EXAMPLE.org.`,
/// `bücher.example`, `host:8080` — in the normal form of
/// [`host_and_port`], or `None` if it is not a host name.
pub fn normalise(input: &str) -> Option<String> {
    let input = input.trim();
    if input.is_empty() || input.len() > 253 || input.contains(['/', '@', '?', '#', ' ']) {
        return None;
    }
    let url = Url::parse(&format!("https://{input}/")).ok()?;
    let normal = host_and_port(&url);
    let host = normal.split(':').next().unwrap_or_default();
    (!host.is_empty() && !host.starts_with('.')).then_some(normal)
}

/// Whether the block `entry` covers the server `host` (both in normal
/// form): the domain itself, any subdomain, and any port on them — unless
/// the entry names a port, then only that port.
pub fn covers(entry: &str, host: &str) -> bool {
    if entry == host {
        return true;
    }
    let (entry_name, entry_port) = split_port(entry);
    let (host_name, host_port) = split_port(host);
    if entry_port.is_some() && entry_port != host_port {
        return false;
    }
    host_name == entry_name
        || host_name
            .strip_suffix(entry_name)
            .is_some_and(|rest| rest.ends_with('.'))
}

fn split_port(host: &str) -> (&str, Option<&str>) {
    // An IPv6 literal keeps its colons inside brackets.
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => (&host[..i], Some(&host[i + 1..])),
        _ => (host, None),
    }
}

/// Every domain block, loaded once and asked many times.
#[derive(Debug, Clone, Default)]
pub struct BlockList {
    entries: Vec<String>,
}

impl BlockList {
    pub fn new(entries: Vec<String>) -> Self {
        BlockList { entries }
    }

    /// Whether any block covers `host` (`host[:port]`, any case).
    pub fn blocks(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.entries.iter().any(|entry| covers(entry, &host))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_covers_the_domain_its_subdomains_and_their_ports() {
        for host in [
            "example.org",
            "a.example.org",
            "deep.a.example.org",
            "example.org:8443",
            "a.example.org:443",
        ] {
            assert!(covers("example.org", host), "{host}");
        }
        for host in [
            "notexample.org",
            "example.org.evil",
            "example.com",
            "org",
            "aexample.org",
        ] {
            assert!(!covers("example.org", host), "{host}");
        }
    }

    #[test]
    fn a_block_with_a_port_covers_only_that_port() {
        assert!(covers("example.org:8080", "example.org:8080"));
        assert!(covers("example.org:8080", "a.example.org:8080"));
        assert!(!covers("example.org:8080", "example.org"));
        assert!(!covers("example.org:8080", "example.org:9090"));
    }

    #[test]
    fn typed_domains_become_the_normal_form() {
        assert_eq!(normalise("EXAMPLE.org.").as_deref(), Some("example.org"));
        assert_eq!(normalise(" host:8080 ").as_deref(), Some("host:8080"));
        assert_eq!(normalise("example.org:443").as_deref(), Some("example.org"));
        assert_eq!(
            normalise("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        for bad in ["", "https://example.org", "a@b", "exa mple.org", ".", "x/y"] {
            assert_eq!(normalise(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hosts_from_urls_share_the_normal_form() {
        let host = |u: &str| host_and_port(&Url::parse(u).unwrap());
        assert_eq!(host("https://Example.ORG./inbox"), "example.org");
        assert_eq!(host("https://bücher.example/"), "xn--bcher-kva.example");
        assert_eq!(host("http://localhost:3000/"), "localhost:3000");
        assert_eq!(host("https://example.org:443/"), "example.org");
        assert_eq!(host("http://[::1]:8080/"), "[::1]:8080");
    }

    #[test]
    fn an_idn_block_covers_its_punycode_hosts() {
        let list = BlockList::new(vec![normalise("bücher.example").unwrap()]);
        assert!(list.blocks("shop.xn--bcher-kva.example"));
        assert!(list.blocks("XN--BCHER-KVA.EXAMPLE."));
        assert!(!list.blocks("example"));
    }

    #[test]
    fn ipv6_literals_keep_their_colons() {
        assert!(covers("[::1]", "[::1]:8080"));
        assert!(!covers("[::1]:9090", "[::1]:8080"));
    }
}
