//! The one table of addresses we never connect to (unless
//! `allow_private_addresses`), and the DNS resolver that applies it to every
//! address a name resolves to, at the moment of connecting — so a name that
//! resolves to a public address when checked and to an internal one when
//! used (DNS rebinding) gains nothing.
//!
//! The federation library checks the URLs of its own fetches with a table
//! of its own before they reach our client; this table refuses at least
//! everything that one does (pinned by `refuses_what_the_library_refuses`),
//! so the effective rule for every request is this one.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether an address is globally reachable, i.e. not loopback, private,
/// CGNAT, link-local, unique-local, multicast, documentation, reserved,
/// unspecified, or one of the IPv6 forms that embed such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_documentation()
        || v4.is_unspecified()
        || v4.is_broadcast()
        // 0.0.0.0/8: reaches loopback on Linux.
        || o[0] == 0
        // 100.64.0.0/10: shared address space, internal services at cloud providers.
        || (o[0] == 100 && (o[1] & 0xc0) == 0x40)
        // 240.0.0.0/4: reserved.
        || o[0] >= 240)
}

fn public_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return public_v4(v4);
    }
    let s = v6.segments();
    // The NAT64 well-known prefix (64:ff9b::/96) carries an IPv4 address:
    // judge that one, so IPv6-only servers behind DNS64 stay reachable.
    if let [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] = s {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        return public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(v6.is_loopback()
        || v6.is_multicast()
        || v6.is_unspecified()
        || v6.is_unique_local()
        || v6.is_unicast_link_local()
        || matches!(
            s,
            // documentation: 2001:db8::/32 and 3fff::/20
            [0x2001, 0xdb8, ..] | [0x3fff, 0..=0x0fff, ..]
            // IPv4-compatible (::/96, deprecated)
            | [0, 0, 0, 0, 0, 0, ..]
            // local-use NAT64 (64:ff9b:1::/48)
            | [0x64, 0xff9b, 1, ..]
            // 6to4 (2002::/16, deprecated): may embed any IPv4 address
            | [0x2002, ..]
        ))
}

/// Resolution refused: the name points at an address in the table above.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{host} resolves to {ip}, which is not a public address")]
pub struct RefusedAddress {
    pub host: String,
    pub ip: IpAddr,
}

/// How long a name's checked addresses are reused. The system resolver
/// (getaddrinfo, on a blocking thread) keeps no cache of its own, and a
/// connection to a server we have not talked to for a while starts with a
/// resolution: a statement to a thousand servers is a thousand of them.
const RESOLVED_FOR: Duration = Duration::from_secs(60);
/// Names remembered at most (a few hundred bytes each).
const RESOLVED_NAMES: u64 = 10_000;

/// The outbound client's resolver: the system's resolution, then the table.
/// What passed the table is kept for [`RESOLVED_FOR`]; refusals and failures
/// are not kept, so they are asked again.
pub struct PublicOnlyResolver {
    allow_private_addresses: bool,
    resolved: moka::future::Cache<String, Arc<[SocketAddr]>>,
}

impl PublicOnlyResolver {
    pub fn new(allow_private_addresses: bool) -> Self {
        PublicOnlyResolver {
            allow_private_addresses,
            resolved: moka::future::Cache::builder()
                .max_capacity(RESOLVED_NAMES)
                .time_to_live(RESOLVED_FOR)
                .build(),
        }
    }
}

/// A resolution that failed, or that the table refused.
type ResolveError = Box<dyn std::error::Error + Send + Sync>;

async fn resolve_checked(host: String, check: bool) -> Result<Arc<[SocketAddr]>, ResolveError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
    if check
        && let Some(ip) = addrs
            .iter()
            .map(|a| a.ip().to_canonical())
            .find(|ip| !is_public(*ip))
    {
        return Err(Box::new(RefusedAddress { host, ip }));
    }
    Ok(addrs.into())
}

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let check = !self.allow_private_addresses;
        let resolved = self.resolved.clone();
        Box::pin(async move {
            // Concurrent connections to one name share one resolution.
            let addrs = resolved
                .try_get_with(host.clone(), resolve_checked(host, check))
                .await
                .map_err(|shared: Arc<ResolveError>| -> ResolveError {
                    match shared.downcast_ref::<RefusedAddress>() {
                        Some(refused) => Box::new(refused.clone()),
                        None => shared.to_string().into(),
                    }
                })?;
            Ok(Box::new((0..addrs.len()).map(move |i| addrs[i])) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(ip: &str) -> bool {
        is_public(ip.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_refused() {
        for ip in [
            "0.0.0.1",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "192.168.1.1",
            "192.0.2.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
        ] {
            assert!(!public(ip), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_refusal_is_asked_again_and_what_passed_is_kept() {
        let refusing = PublicOnlyResolver::new(false);
        for _ in 0..2 {
            let error = match refusing.resolve("localhost".parse().unwrap()).await {
                Err(error) => error,
                Ok(_) => panic!("localhost must be refused"),
            };
            // Still the type the delivery worker recognises as permanent.
            assert!(error.downcast_ref::<RefusedAddress>().is_some(), "{error}");
        }
        refusing.resolved.run_pending_tasks().await;
        assert_eq!(refusing.resolved.entry_count(), 0);

        let allowing = PublicOnlyResolver::new(true);
        let addrs: Vec<SocketAddr> = allowing
            .resolve("LocalHost.".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        assert!(allowing.resolved.contains_key("localhost"));
    }

    #[test]
    fn refuses_what_the_library_refuses() {
        // The ranges where our table once disagreed with the federation
        // library's: documentation 3fff::/20, 6to4, local-use NAT64.
        for ip in [
            "3fff::1",
            "3fff:fff::1",
            "2002:7f00:1::1",
            "2002:5db8:d70e::1",
            "64:ff9b:1::1",
        ] {
            assert!(!public(ip), "{ip}");
        }
        assert!(public("3fff:1000::1"), "just outside 3fff::/20");
    }

    #[test]
    fn global_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "93.184.215.14",
            "172.66.147.243",
            "2606:4700::1111",
            "2a01:4f8::1",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
        ] {
            assert!(public(ip), "{ip}");
        }
    }
}
