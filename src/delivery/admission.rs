//! Per-host admission and the circuit breaker: which claimed delivery goes
//! now, which waits in memory for its host, and which goes back to the
//! queue. A pure type — no I/O, no clock of its own: every call is given
//! `now`, so the tests drive time by hand.
//!
//! - At most `per_host` requests in flight to one host; up to
//!   `waiting_capacity` more wait in memory behind them (each waiting one
//!   takes over a finished one's slot); the rest return to the queue for
//!   [`BUSY_HOST_DELAY`], so a slow or dead server holds only its own slots.
//! - [`BREAKER_THRESHOLD`] retryable failures in a row pause the host for
//!   [`BREAKER_PAUSE`] (Mastodon's circuit breaker): what is claimed for it
//!   meanwhile, and what waited for it, returns to the queue until then.

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

/// Consecutive failures that open a host's circuit breaker, and for how long.
pub const BREAKER_THRESHOLD: u32 = 10;
pub const BREAKER_PAUSE: Duration = Duration::from_secs(60);
/// How long a delivery for a host with a full waiting line stays back: long
/// enough that a backlog for one host is not claimed and put back over and
/// over while its line drains.
pub const BUSY_HOST_DELAY: Duration = Duration::from_secs(5);

/// What to do with a claimed delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<T> {
    /// Send it now: it holds one of its host's slots until [`Hosts::finish`].
    Send(T),
    /// Queued in memory behind the host's requests in flight.
    Wait,
    /// Back to the database, due again after this long.
    Release(T, Duration),
}

/// How a request to a host ended, as the breaker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Delivered,
    /// A failure worth retrying: it counts towards the breaker.
    Failed,
    /// A failure about this delivery only (a 4xx): the host is fine.
    Refused,
}

/// What follows a finished request.
#[derive(Debug, PartialEq, Eq)]
pub struct AfterFinish<T> {
    /// The next delivery for the same host, which takes the freed slot.
    pub next: Option<T>,
    /// Deliveries that waited for a host that is now paused: back to the
    /// queue, due again after `pause`.
    pub released: Vec<T>,
    pub pause: Duration,
}

#[derive(Debug)]
struct HostState<T> {
    in_flight: usize,
    waiting: VecDeque<T>,
    consecutive_failures: u32,
    paused_until: Option<Instant>,
}

impl<T> Default for HostState<T> {
    fn default() -> Self {
        HostState {
            in_flight: 0,
            waiting: VecDeque::new(),
            consecutive_failures: 0,
            paused_until: None,
        }
    }
}

/// The admission state of every host this worker talks to.
#[derive(Debug)]
pub struct Hosts<T> {
    per_host: usize,
    waiting_capacity: usize,
    states: HashMap<String, HostState<T>>,
    waiting: usize,
}

impl<T> Hosts<T> {
    pub fn new(per_host: usize, waiting_capacity: usize) -> Self {
        Hosts {
            per_host,
            waiting_capacity,
            states: HashMap::new(),
            waiting: 0,
        }
    }

    /// Deliveries waiting in memory, over all hosts.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Whether the one request in flight to `host` is the last one for now:
    /// nothing else in flight to it and nothing waiting for it.
    pub fn last_for_host(&self, host: &str) -> bool {
        self.states
            .get(host)
            .is_none_or(|state| state.in_flight <= 1 && state.waiting.is_empty())
    }

    pub fn admit(&mut self, host: &str, delivery: T, now: Instant) -> Admission<T> {
        let state = self.states.entry(host.to_string()).or_default();
        if let Some(until) = state.paused_until {
            if until > now {
                return Admission::Release(delivery, until - now);
            }
            state.paused_until = None;
        }
        if state.in_flight < self.per_host {
            state.in_flight += 1;
            return Admission::Send(delivery);
        }
        if state.waiting.len() < self.waiting_capacity {
            state.waiting.push_back(delivery);
            self.waiting += 1;
            return Admission::Wait;
        }
        Admission::Release(delivery, BUSY_HOST_DELAY)
    }

    /// Frees the host's slot, feeds its breaker, and hands over the next
    /// delivery waiting for it.
    pub fn finish(&mut self, host: &str, finished: Finished, now: Instant) -> AfterFinish<T> {
        let state = self.states.entry(host.to_string()).or_default();
        state.in_flight = state.in_flight.saturating_sub(1);
        match finished {
            Finished::Delivered => state.consecutive_failures = 0,
            Finished::Failed => {
                state.consecutive_failures += 1;
                if state.consecutive_failures >= BREAKER_THRESHOLD {
                    tracing::warn!(
                        host,
                        "{BREAKER_THRESHOLD} failures in a row: pausing deliveries to it"
                    );
                    state.paused_until = Some(now + BREAKER_PAUSE);
                    state.consecutive_failures = 0;
                }
            }
            Finished::Refused => {}
        }
        let mut after = AfterFinish {
            next: None,
            released: Vec::new(),
            pause: Duration::ZERO,
        };
        match state.paused_until.filter(|until| *until > now) {
            Some(until) => {
                after.pause = until - now;
                after.released = state.waiting.drain(..).collect();
                self.waiting -= after.released.len();
            }
            None => {
                after.next = state.waiting.pop_front();
                if after.next.is_some() {
                    self.waiting -= 1;
                    state.in_flight += 1;
                }
            }
        }
        if state.in_flight == 0
            && state.waiting.is_empty()
            && state.consecutive_failures == 0
            && state.paused_until.is_none()
        {
            self.states.remove(host);
        }
        after
    }

    /// Everything waiting in memory, taken out (at shutdown).
    pub fn drain_waiting(&mut self) -> Vec<T> {
        let drained: Vec<T> = self
            .states
            .values_mut()
            .flat_map(|state| state.waiting.drain(..))
            .collect();
        self.waiting = 0;
        drained
    }

    /// Hosts with state kept (in flight, waiting, failing or paused).
    pub fn tracked(&self) -> usize {
        self.states.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_gets_its_slots_then_a_waiting_line_then_the_queue() {
        let now = Instant::now();
        let mut hosts = Hosts::new(2, 1);
        assert_eq!(hosts.admit("a", 1, now), Admission::Send(1));
        assert_eq!(hosts.admit("a", 2, now), Admission::Send(2));
        assert_eq!(hosts.admit("a", 3, now), Admission::Wait);
        assert_eq!(
            hosts.admit("a", 4, now),
            Admission::Release(4, BUSY_HOST_DELAY)
        );
        // Another host is not held up by the first.
        assert_eq!(hosts.admit("b", 5, now), Admission::Send(5));
        assert_eq!(hosts.waiting(), 1);
        // The waiting one takes over the first slot freed.
        let after = hosts.finish("a", Finished::Delivered, now);
        assert_eq!(after.next, Some(3));
        assert_eq!(hosts.waiting(), 0);
        assert_eq!(hosts.admit("a", 6, now), Admission::Wait);
    }

    #[test]
    fn a_request_is_the_last_for_its_host_when_nothing_else_goes_there() {
        let now = Instant::now();
        let mut hosts = Hosts::new(2, 1);
        assert!(hosts.last_for_host("a.example"));
        assert_eq!(hosts.admit("a.example", 1, now), Admission::Send(1));
        assert!(hosts.last_for_host("a.example"));
        assert_eq!(hosts.admit("a.example", 2, now), Admission::Send(2));
        assert!(!hosts.last_for_host("a.example"));
        assert_eq!(hosts.admit("a.example", 3, now), Admission::Wait);
        hosts.finish("a.example", Finished::Delivered, now);
        // One in flight, and the waiting one took the freed slot.
        assert!(!hosts.last_for_host("a.example"));
        hosts.finish("a.example", Finished::Delivered, now);
        assert!(hosts.last_for_host("a.example"));
        assert!(hosts.last_for_host("b.example"));
    }

    #[test]
    fn hosts_are_forgotten_when_idle_and_healthy() {
        let now = Instant::now();
        let mut hosts = Hosts::new(1, 0);
        assert_eq!(hosts.admit("a", 1, now), Admission::Send(1));
        assert_eq!(hosts.tracked(), 1);
        hosts.finish("a", Finished::Delivered, now);
        assert_eq!(hosts.tracked(), 0);
        hosts.admit("a", 2, now);
        hosts.finish("a", Finished::Failed, now);
        assert_eq!(hosts.tracked(), 1, "a failing host is remembered");
    }

    #[test]
    fn ten_failures_in_a_row_pause_a_host_for_a_minute() {
        let start = Instant::now();
        let mut hosts = Hosts::new(1, 5);
        for i in 0..BREAKER_THRESHOLD - 1 {
            assert_eq!(hosts.admit("a", i, start), Admission::Send(i));
            hosts.finish("a", Finished::Failed, start);
        }
        // A refused (4xx) answer does not count, nor break the run.
        assert_eq!(hosts.admit("a", 100, start), Admission::Send(100));
        assert_eq!(hosts.admit("a", 101, start), Admission::Wait);
        hosts.finish("a", Finished::Refused, start);
        let after = hosts.finish("a", Finished::Failed, start);
        assert!(after.next.is_none());
        assert_eq!(after.pause, BREAKER_PAUSE);
        // While paused, what is claimed for it goes back until the pause ends.
        let later = start + Duration::from_secs(20);
        assert_eq!(
            hosts.admit("a", 102, later),
            Admission::Release(102, Duration::from_secs(40))
        );
        // After the pause it is tried again.
        let after_pause = start + BREAKER_PAUSE;
        assert_eq!(hosts.admit("a", 103, after_pause), Admission::Send(103));
    }

    #[test]
    fn a_pause_sends_the_waiting_line_back_to_the_queue() {
        let now = Instant::now();
        let mut hosts = Hosts::new(1, 20);
        assert_eq!(hosts.admit("a", 0, now), Admission::Send(0));
        for i in 1..=15 {
            assert_eq!(hosts.admit("a", i, now), Admission::Wait);
        }
        // Each of the first nine failures hands the slot to the next in line.
        for expected in 1..BREAKER_THRESHOLD {
            let after = hosts.finish("a", Finished::Failed, now);
            assert_eq!(after.next, Some(expected));
        }
        // The tenth opens the breaker: the six still waiting go back.
        let after = hosts.finish("a", Finished::Failed, now);
        assert_eq!(after.next, None);
        assert_eq!(after.released, vec![10, 11, 12, 13, 14, 15]);
        assert_eq!(after.pause, BREAKER_PAUSE);
        assert_eq!(hosts.waiting(), 0);
    }

    #[test]
    fn a_success_resets_the_count() {
        let now = Instant::now();
        let mut hosts = Hosts::new(1, 0);
        for round in 0..3 {
            for _ in 0..BREAKER_THRESHOLD - 1 {
                hosts.admit("a", round, now);
                hosts.finish("a", Finished::Failed, now);
            }
            hosts.admit("a", round, now);
            let after = hosts.finish("a", Finished::Delivered, now);
            assert_eq!(after.pause, Duration::ZERO);
        }
        assert_eq!(hosts.admit("a", 9, now), Admission::Send(9));
    }

    #[test]
    fn shutdown_takes_every_waiting_delivery_out() {
        let now = Instant::now();
        let mut hosts = Hosts::new(1, 2);
        hosts.admit("a", 1, now);
        hosts.admit("a", 2, now);
        hosts.admit("b", 3, now);
        hosts.admit("b", 4, now);
        hosts.admit("b", 5, now);
        let mut drained = hosts.drain_waiting();
        drained.sort();
        assert_eq!(drained, vec![2, 4, 5]);
        assert_eq!(hosts.waiting(), 0);
    }
}
