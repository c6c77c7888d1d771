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

/// Sidekiq's default backoff, which Mastodon uses: attempts⁴ + 15 s plus up
/// to 10·(attempts+1) s of jitter, in units of `unit` (one second in
/// production; tests shrink it).
pub fn retry_delay(attempts: u32, unit: Duration) -> Duration {
    let n = u64::from(attempts.min(40));
    let jitter = rand::rng().random_range(0..10) * (n + 1);
    unit * (n.pow(4) + 15 + jitter) as u32
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
}
