//! Property tests of the delivery state machines.
//!
//! - The worker's per-host admission (`delivery::admission`): over random
//!   interleavings of claims, finished requests, failures and the passing of
//!   time, no delivery is lost or sent twice, no host gets more than its
//!   slots, and a paused host gets nothing.
//! - The queue's rows in a real store (SQLite, and PostgreSQL when there is
//!   one): over random claims, outcomes, releases and workers dying, every
//!   row is in the state a model says, a finished row stays finished, a
//!   claim is handed to one live worker at a time, and an outcome from a
//!   claim that was taken over changes nothing.

mod common;

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

/// What one worker does to the queue.
#[derive(Debug, Clone)]
enum Op {
    Claim {
        worker: usize,
        limit: i64,
    },
    /// The worker's `n`-th claim (mod how many it holds) ends so.
    Succeed {
        worker: usize,
        n: usize,
    },
    Fail {
        worker: usize,
        n: usize,
        retry: bool,
    },
    Release {
        worker: usize,
        n: usize,
    },
    /// The worker dies (stops beating): what it holds may be taken.
    Dies {
        worker: usize,
    },
    /// The worker stops beating for a while but lives on, and later reports
    /// on claims others may have taken over meanwhile.
    Stalls {
        worker: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let worker = 0..3usize;
    prop_oneof![
        3 => (worker.clone(), 1..4i64).prop_map(|(worker, limit)| Op::Claim { worker, limit }),
        2 => (worker.clone(), 0..4usize).prop_map(|(worker, n)| Op::Succeed { worker, n }),
        2 => (worker.clone(), 0..4usize, any::<bool>())
            .prop_map(|(worker, n, retry)| Op::Fail { worker, n, retry }),
        1 => (worker.clone(), 0..4usize).prop_map(|(worker, n)| Op::Release { worker, n }),
        1 => worker.clone().prop_map(|worker| Op::Dies { worker }),
        1 => worker.prop_map(|worker| Op::Stalls { worker }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Queued,
    Sending { worker: usize, attempts: i32 },
    Delivered,
    Failed,
}

async fn run_queue(db: &common::TestDb, ops: &[Op]) -> Result<(), TestCaseError> {
    use broadside::store::{ClaimedDelivery, NewActivity, Store};
    const ROWS: usize = 5;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let org = common::organisation_in(&store, "cras").await;
    let inboxes: Vec<String> = (0..ROWS)
        .map(|i| format!("https://s{i}.example/inbox"))
        .collect();
    let activity = NewActivity {
        public_id: "a1",
        organisation_id: org.id,
        kind: "Accept",
        statement_id: None,
        body: r#"{"type":"Accept"}"#,
    };
    store
        .enqueue_batch(None, &[(activity, inboxes.as_slice())])
        .await
        .unwrap();
    let names = ["w0", "w1", "w2"];
    let mut alive = [true; 3];
    for name in names {
        store.worker_heartbeat(name).await.unwrap();
    }
    // A fresh database numbers the rows from 1.
    let mut model: HashMap<i64, Row> = (1..=ROWS as i64).map(|id| (id, Row::Queued)).collect();
    let mut held: [Vec<ClaimedDelivery>; 3] = Default::default();
    for op in ops {
        match op.clone() {
            Op::Claim { worker, limit } => {
                if !alive[worker] {
                    // A process that died claims nothing; restarted, it beats again.
                    store.worker_heartbeat(names[worker]).await.unwrap();
                    alive[worker] = true;
                }
                let claimable: HashSet<i64> = model
                    .iter()
                    .filter(|(_, row)| match row {
                        Row::Queued => true,
                        Row::Sending { worker: w, .. } => !alive[*w],
                        _ => false,
                    })
                    .map(|(id, _)| *id)
                    .collect();
                let claimed = store
                    .claim_deliveries(limit, 3_600_000, names[worker])
                    .await
                    .unwrap();
                prop_assert_eq!(claimed.len(), (limit as usize).min(claimable.len()));
                for delivery in claimed {
                    prop_assert!(
                        claimable.contains(&delivery.id),
                        "row {} claimed while {:?}",
                        delivery.id,
                        model.get(&delivery.id)
                    );
                    model.insert(
                        delivery.id,
                        Row::Sending {
                            worker,
                            attempts: delivery.attempts,
                        },
                    );
                    held[worker].push(delivery);
                }
            }
            Op::Succeed { worker, n } | Op::Fail { worker, n, .. } | Op::Release { worker, n }
                if !held[worker].is_empty() =>
            {
                let delivery = held[worker].remove(n % held[worker].len());
                let ours = model.get(&delivery.id)
                    == Some(&Row::Sending {
                        worker,
                        attempts: delivery.attempts,
                    });
                let next = match op {
                    Op::Succeed { .. } => {
                        store
                            .deliveries_succeeded(std::slice::from_ref(&delivery))
                            .await
                            .unwrap();
                        Row::Delivered
                    }
                    Op::Fail { retry, .. } => {
                        store
                            .delivery_failed(
                                &delivery,
                                Some(503),
                                "busy",
                                retry.then_some(0),
                                false,
                            )
                            .await
                            .unwrap();
                        if *retry { Row::Queued } else { Row::Failed }
                    }
                    _ => {
                        store
                            .release_delivery(delivery.id, delivery.attempts, 0)
                            .await
                            .unwrap();
                        Row::Queued
                    }
                };
                if ours {
                    model.insert(delivery.id, next);
                }
            }
            Op::Dies { worker } => {
                store.worker_gone(names[worker]).await.unwrap();
                alive[worker] = false;
                // What it held it will never report.
                held[worker].clear();
            }
            Op::Stalls { worker } => {
                store.worker_gone(names[worker]).await.unwrap();
                alive[worker] = false;
            }
            _ => {}
        }
        let counts = store.delivery_counts(None).await.unwrap();
        let count = |f: fn(&Row) -> bool| model.values().filter(|r| f(r)).count() as i64;
        prop_assert_eq!(
            counts.queued,
            count(|r| *r == Row::Queued),
            "after {:?}",
            op
        );
        prop_assert_eq!(counts.sending, count(|r| matches!(r, Row::Sending { .. })));
        prop_assert_eq!(counts.delivered, count(|r| *r == Row::Delivered));
        prop_assert_eq!(counts.failed, count(|r| *r == Row::Failed));
    }
    store.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_queue_follows_its_model(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let sqlite = common::TestDb::new(common::Backend::Sqlite).await.unwrap();
            run_queue(&sqlite, &ops).await?;
            if let Some(postgres) = common::TestDb::new(common::Backend::Postgres).await {
                run_queue(&postgres, &ops).await?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}
