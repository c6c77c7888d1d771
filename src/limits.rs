//! Rate limits on the work other people can make us do: inbox requests per
//! client address and per remote server, and the fetches of remote
//! documents they trigger, per remote server.
//!
//! A leaf: each limit is a keyed GCRA bucket (the `governor` crate), a
//! sustained rate per second with a burst of ten seconds' worth, so a
//! server that falls silent and then catches up is not punished, while a
//! flood is answered 429 with `Retry-After` before it costs a database
//! write or an outbound request. Keys that stay quiet are forgotten
//! ([`Limits::forget_quiet`], run every minute), so the memory a limit
//! holds follows the traffic of the last minute. IPv6 clients are keyed by
//! their /64: one host usually holds a whole one.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    sync::Arc,
    time::Duration,
};

use http::HeaderMap;

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};

/// A request refused for now: try again after `retry_after`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many {what}: try again in {retry_after:?}")]
pub struct Limited {
    pub what: &'static str,
    pub retry_after: Duration,
}

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// One limit: `per_second` sustained per key, or none when 0.
struct Limit {
    what: &'static str,
    limiter: Option<Keyed>,
}

impl Limit {
    fn new(what: &'static str, per_second: u32) -> Limit {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(per_second.saturating_mul(10)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Limit { what, limiter }
    }

    fn check(&self, key: &str) -> Result<(), Limited> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter
            .check_key(&key.to_string())
            .map_err(|not_until| Limited {
                what: self.what,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            })
    }

    fn forget_quiet(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }
}

/// Every limit of a process, shared by its handlers.
#[derive(Clone)]
pub struct Limits(Arc<[Limit; 3]>);

/// The rates, per second and key; 0 turns a limit off.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub inbox_per_client: u32,
    pub inbox_per_server: u32,
    pub fetches_per_server: u32,
}

impl Limits {
    pub fn new(rates: Rates) -> Limits {
        Limits(Arc::new([
            Limit::new("requests from this address", rates.inbox_per_client),
            Limit::new("requests from this server", rates.inbox_per_server),
            Limit::new("new actors from this server", rates.fetches_per_server),
        ]))
    }

    /// An inbox request from the client at `ip`.
    pub fn inbox_client(&self, ip: IpAddr) -> Result<(), Limited> {
        self.0[0].check(&client_key(ip))
    }

    /// An inbox request whose actor is on `server` (`host[:port]`).
    pub fn inbox_server(&self, server: &str) -> Result<(), Limited> {
        self.0[1].check(server)
    }

    /// A document about to be fetched from `server` because of a request.
    pub fn fetch_from(&self, server: &str) -> Result<(), Limited> {
        self.0[2].check(server)
    }

    /// Drops the state of keys whose buckets are full again.
    pub fn forget_quiet(&self) {
        for limit in self.0.iter() {
            limit.forget_quiet();
        }
    }

    /// How many keys the limits hold now.
    pub fn keys(&self) -> usize {
        self.0.iter().map(Limit::len).sum()
    }
}

/// The address of the client behind a request: the connection's peer, or,
/// behind a trusted reverse proxy, the last `X-Forwarded-For` entry (the one
/// the proxy added; earlier ones are whatever the client claimed).
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for
        && let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok())
    {
        return ip;
    }
    peer.ip()
}

/// The key of a client address: IPv4 as is, IPv6 by its /64 (an IPv4
/// address mapped into IPv6 counts as IPv4).
pub fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(per_second: u32) -> Rates {
        Rates {
            inbox_per_client: per_second,
            inbox_per_server: per_second,
            fetches_per_server: per_second,
        }
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds_with_a_retry_time() {
        let limits = Limits::new(rates(2));
        for _ in 0..20 {
            limits.inbox_server("a.example").unwrap();
        }
        let refused = limits.inbox_server("a.example").unwrap_err();
        assert!(refused.retry_after > Duration::ZERO);
        assert!(refused.retry_after <= Duration::from_millis(500));
        // Other servers are not affected.
        limits.inbox_server("b.example").unwrap();
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = Limits::new(rates(0));
        for _ in 0..10_000 {
            limits.fetch_from("a.example").unwrap();
        }
        assert_eq!(limits.keys(), 0);
    }

    #[test]
    fn forwarded_for_only_behind_a_trusted_proxy() {
        let peer: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        assert_eq!(client_ip(peer, &headers, false), peer.ip());
        assert_eq!(
            client_ip(peer, &headers, true),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        headers.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_ip(peer, &headers, true), peer.ip());
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(client_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
