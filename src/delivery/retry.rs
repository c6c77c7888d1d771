//! When to try again: Mastodon's schedule and its idea of a permanent failure
//! (`app/workers/activitypub/delivery_worker.rb`, docs/interop.md §9).

use std::time::Duration;

use rand::Rng;

/// What an answer (or its absence) means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Worth another try (network error, 5xx, 401, 408, 429, a redirect).
    Retry,
    /// The server will never take it (other 4xx, 501).
    Permanent,
}

pub fn classify(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        Some(401 | 408 | 429) => Verdict::Retry,
        Some(400..=499 | 501) => Verdict::Permanent,
        _ => Verdict::Retry,
    }
}

/// Mastodon's delivery backoff (docs/interop.md §9): Sidekiq's n⁴ + 15 s
/// with Sidekiq's jitter of up to 10·(n+1) s, plus Mastodon's own jitter of
/// up to n⁴/2 s, so that retries after an outage do not all land at once. In
/// units of `unit` (one second in production; tests shrink it).
pub fn retry_delay(attempts: u32, unit: Duration) -> Duration {
    let n = u64::from(attempts.min(40));
    let mut rng = rand::rng();
    let sidekiq_jitter = rng.random_range(0..10) * (n + 1);
    let mastodon_jitter = rng.random_range(0..=n.pow(4) / 2);
    unit * (n.pow(4) + 15 + sidekiq_jitter + mastodon_jitter) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodons_permanent_failures() {
        assert_eq!(classify(Some(202)), Verdict::Delivered);
        for s in [400, 403, 404, 410, 422, 501] {
            assert_eq!(classify(Some(s)), Verdict::Permanent, "{s}");
        }
        for s in [401, 408, 429, 500, 502, 503, 301] {
            assert_eq!(classify(Some(s)), Verdict::Retry, "{s}");
        }
        assert_eq!(classify(None), Verdict::Retry);
    }

    #[test]
    fn the_schedule_spans_days() {
        let unit = Duration::from_secs(1);
        let first = retry_delay(1, unit).as_secs();
        assert!((16..=36).contains(&first), "{first}");
        let total: u64 = (1..16).map(|n| retry_delay(n, unit).as_secs()).sum();
        assert!(total > 36 * 3600 && total < 4 * 24 * 3600, "{total}");
    }

    #[test]
    fn the_jitter_stays_within_mastodons_bounds_and_spreads() {
        let unit = Duration::from_secs(1);
        let delays: Vec<u64> = (0..200).map(|_| retry_delay(10, unit).as_secs()).collect();
        let (low, high) = (10_000 + 15, 10_000 + 15 + 9 * 11 + 5_000);
        assert!(
            delays.iter().all(|d| (low..=high).contains(d)),
            "{delays:?}"
        );
        let spread = delays.iter().max().unwrap() - delays.iter().min().unwrap();
        assert!(
            spread > 1_000,
            "Mastodon's own jitter spreads retries: {spread} s"
        );
    }
}
