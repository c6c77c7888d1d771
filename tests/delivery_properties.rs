//! Property tests of the delivery worker's per-host state machine
//! (`delivery::admission`): over random interleavings of claims, finished
//! requests, failures and the passing of time, no delivery is lost or sent
//! twice, no host gets more than its slots, and a paused host gets nothing.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use broadside::delivery::admission::{
    Admission, BREAKER_PAUSE, BREAKER_THRESHOLD, Finished, Hosts,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// A delivery for host `n` was claimed.
    Claim(usize),
    /// The oldest request in flight to host `n` ended.
    Finish(usize, Finished),
    /// Time passes.
    Wait(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..4usize).prop_map(Step::Claim),
        4 => (0..4usize, prop_oneof![
            Just(Finished::Delivered),
            Just(Finished::Failed),
            Just(Finished::Refused),
        ]).prop_map(|(h, f)| Step::Finish(h, f)),
        1 => (0..90u64).prop_map(Step::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_is_lost_sent_twice_or_sent_to_a_paused_host(
        per_host in 1..4usize,
        capacity in 0..4usize,
        steps in prop::collection::vec(step(), 1..300),
    ) {
        let start = Instant::now();
        let mut now = start;
        let mut hosts: Hosts<u32> = Hosts::new(per_host, capacity);
        let mut next_id = 0u32;
        // Where each delivery is, as the caller sees it.
        let mut in_flight: HashMap<usize, Vec<u32>> = HashMap::new();
        let mut waiting: HashSet<u32> = HashSet::new();
        let mut sent: HashSet<u32> = HashSet::new();
        let mut released: HashSet<u32> = HashSet::new();
        // The model of the breaker: failures in a row, paused until.
        let mut failures: HashMap<usize, u32> = HashMap::new();
        let mut paused: HashMap<usize, Instant> = HashMap::new();

        let mut send = |id: u32, host: usize, in_flight: &mut HashMap<usize, Vec<u32>>| {
            prop_assert!(sent.insert(id), "delivery {id} sent twice");
            in_flight.entry(host).or_default().push(id);
            prop_assert!(in_flight[&host].len() <= per_host, "host {host} over its slots");
            Ok(())
        };
        for step in steps {
            match step {
                Step::Claim(host) => {
                    let id = next_id;
                    next_id += 1;
                    let is_paused = paused.get(&host).is_some_and(|until| *until > now);
                    match hosts.admit(&host.to_string(), id, now) {
                        Admission::Send(got) => {
                            prop_assert_eq!(got, id);
                            prop_assert!(!is_paused, "sent to paused host {}", host);
                            send(id, host, &mut in_flight)?;
                        }
                        Admission::Wait => {
                            prop_assert!(!is_paused);
                            waiting.insert(id);
                        }
                        Admission::Release(got, after) => {
                            prop_assert_eq!(got, id);
                            prop_assert!(after > Duration::ZERO);
                            released.insert(id);
                        }
                    }
                }
                Step::Finish(host, finished) => {
                    let Some(list) = in_flight.get_mut(&host).filter(|l| !l.is_empty()) else {
                        continue;
                    };
                    list.remove(0);
                    match finished {
                        Finished::Delivered => { failures.insert(host, 0); }
                        Finished::Failed => {
                            let n = failures.entry(host).or_default();
                            *n += 1;
                            if *n >= BREAKER_THRESHOLD {
                                paused.insert(host, now + BREAKER_PAUSE);
                                *n = 0;
                            }
                        }
                        Finished::Refused => {}
                    }
                    let after = hosts.finish(&host.to_string(), finished, now);
                    let is_paused = paused.get(&host).is_some_and(|until| *until > now);
                    if let Some(next) = after.next {
                        prop_assert!(!is_paused, "a waiting delivery went to a paused host");
                        prop_assert!(waiting.remove(&next), "{} was not waiting", next);
                        send(next, host, &mut in_flight)?;
                    }
                    for id in after.released {
                        prop_assert!(is_paused, "released without a pause");
                        prop_assert!(waiting.remove(&id), "{} was not waiting", id);
                        released.insert(id);
                    }
                }
                Step::Wait(secs) => now += Duration::from_secs(secs),
            }
            prop_assert_eq!(hosts.waiting(), waiting.len());
        }
        // At shutdown whatever waits is handed back: every claim is accounted
        // for exactly once.
        let drained: HashSet<u32> = hosts.drain_waiting().into_iter().collect();
        prop_assert_eq!(&drained, &waiting);
        prop_assert_eq!(hosts.waiting(), 0);
        let total = sent.len() + released.len() + drained.len();
        prop_assert_eq!(total, next_id as usize, "a delivery was lost");
        prop_assert!(sent.is_disjoint(&released) && sent.is_disjoint(&drained));
    }
}
