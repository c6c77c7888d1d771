//! The store on its own, on both databases: the queue's claim and lease,
//! transitions that commit with their activities or not at all, the domain
//! block's reach, and the outbox listing. What the rest of the code relies
//! on, checked below HTTP so that a failure names the query.

mod common;

use std::collections::BTreeSet;

use broadside::{
    organisations::Organisation,
    statements::{Content, State},
    store::{
        ClaimedDelivery, FollowStored, FollowerState, NewActivity, NewStatement, ReceivedFollow,
        RemoteActorData, Store, Transition,
    },
};
use common::TestDb;

async fn store(db: &TestDb) -> Store {
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn organisation(store: &Store, handle: &str) -> Organisation {
    common::organisation_in(store, handle).await
}

async fn draft(store: &Store, signer: &Organisation) -> broadside::statements::Statement {
    let content = Content {
        title: "Declaration".into(),
        body: "Text.".into(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    store
        .create_statement(NewStatement {
            public_id: &uuid::Uuid::now_v7().to_string(),
            content: &content,
            state: State::Draft,
            publish_at: None,
            import_key: None,
            signatory_ids: &[signer.id],
        })
        .await
        .unwrap()
}

fn activity<'a>(
    id: &'a str,
    org: &Organisation,
    kind: &'a str,
    statement: Option<i64>,
) -> NewActivity<'a> {
    NewActivity {
        public_id: id,
        organisation_id: org.id,
        kind,
        statement_id: statement,
        body: r#"{"type":"Test"}"#,
    }
}

fn inboxes(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://s{i}.example/inbox"))
        .collect()
}

fn ids(claimed: &[ClaimedDelivery]) -> BTreeSet<i64> {
    claimed.iter().map(|d| d.id).collect()
}

both_backends!(
    an_activity_to_more_inboxes_than_one_insert_holds_queues_each_once,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        // Three of the queue's multi-row inserts (500 rows each), the first
        // sharing its command with the activity's own insert.
        let mut targets = inboxes(1_201);
        targets.push(targets[7].clone()); // a duplicate is queued once
        let (done, queued) = store
            .enqueue_batch(None, &[(activity("wide", &org, "Create", None), &targets)])
            .await
            .unwrap();
        assert!(done);
        assert_eq!(queued, 1_201);
        store.worker_heartbeat("all").await.unwrap();
        let claimed = store.claim_deliveries(2_000, 60_000, "all").await.unwrap();
        assert_eq!(claimed.len(), 1_201);
        let activity_ids: BTreeSet<i64> = claimed.iter().map(|d| d.activity_id).collect();
        assert_eq!(
            activity_ids.len(),
            1,
            "every row belongs to the one activity"
        );
        let sent = store
            .activity_to_send(*activity_ids.first().unwrap())
            .await
            .unwrap();
        assert!(sent.body.contains("Test"), "{}", sent.body);
        let claimed_inboxes: BTreeSet<&str> = claimed.iter().map(|d| d.inbox.as_str()).collect();
        let wanted: BTreeSet<&str> = targets.iter().map(String::as_str).collect();
        assert_eq!(claimed_inboxes, wanted);
        // An activity with no one to send to is stored all the same.
        let (done, queued) = store
            .enqueue_batch(None, &[(activity("nobody", &org, "Create", None), &[])])
            .await
            .unwrap();
        assert!(done);
        assert_eq!(queued, 0);
        assert!(
            store.activity_body("nobody", &[]).await.unwrap().is_some(),
            "stored without deliveries"
        );
    }
);

// A claim on PostgreSQL brings each activity's body with the first of its
// rows, so a worker sends a received Follow's Accept without another round
// trip; whatever a claim carries is the activity as stored.
both_backends!(
    a_claim_carries_each_activity_once_and_as_stored,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        let (create, accept) = (inboxes(3), inboxes(1));
        let (done, _) = store
            .enqueue_batch(
                None,
                &[
                    (activity("c1", &org, "Create", None), &create),
                    (activity("a1", &org, "Accept", None), &accept),
                ],
            )
            .await
            .unwrap();
        assert!(done);
        store.worker_heartbeat("all").await.unwrap();
        let claimed = store.claim_deliveries(10, 60_000, "all").await.unwrap();
        assert_eq!(claimed.len(), 4);
        let mut carried = BTreeSet::new();
        for delivery in &claimed {
            let Some(activity) = &delivery.activity else {
                continue;
            };
            let stored = store.activity_to_send(delivery.activity_id).await.unwrap();
            assert_eq!(activity.id, delivery.activity_id);
            assert_eq!(activity.organisation_id, org.id);
            assert_eq!(
                (activity.kind.as_str(), activity.body.as_str()),
                (stored.kind.as_str(), stored.body.as_str())
            );
            assert!(
                carried.insert(delivery.activity_id),
                "an activity comes once per claim"
            );
        }
        let activities: BTreeSet<i64> = claimed.iter().map(|d| d.activity_id).collect();
        if db.url.starts_with("postgres") {
            assert_eq!(carried, activities, "each activity comes with the claim");
        } else {
            assert!(carried.is_empty(), "SQLite's worker reads it in-process");
        }
    }
);

both_backends!(
    each_delivery_goes_to_one_claimant_until_its_lease_ends,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        let targets = inboxes(50);
        let (done, queued) = store
            .enqueue_batch(None, &[(activity("a1", &org, "Accept", None), &targets)])
            .await
            .unwrap();
        assert!(done);
        assert_eq!(queued, 50);

        // Workers are known alive before they claim (delivery::heartbeat).
        for claimant in ["one", "two", "three", "dies", "next"] {
            store.worker_heartbeat(claimant).await.unwrap();
        }
        let (one, two) = tokio::join!(
            store.claim_deliveries(30, 60_000, "one"),
            store.claim_deliveries(30, 60_000, "two"),
        );
        let (one, two) = (one.unwrap(), two.unwrap());
        assert_eq!(one.len() + two.len(), 50, "every row claimed once");
        assert!(ids(&one).is_disjoint(&ids(&two)), "no row claimed twice");
        assert!(
            store
                .claim_deliveries(30, 60_000, "three")
                .await
                .unwrap()
                .is_empty(),
            "leased rows are not handed out again"
        );

        // A lease that ran out (its worker died) is claimed again, as a new
        // attempt.
        let (done, _) = store
            .enqueue_batch(None, &[(activity("a2", &org, "Accept", None), &inboxes(1))])
            .await
            .unwrap();
        assert!(done);
        let first = store.claim_deliveries(10, 1, "dies").await.unwrap();
        assert_eq!(first.len(), 1);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let again = store.claim_deliveries(10, 60_000, "next").await.unwrap();
        assert_eq!(ids(&again), ids(&first));
        assert_eq!(again[0].attempts, 2);

        // A worker that is gone (stopped beating, or said so) leaves what it
        // held to the others at once, long before its lease runs out.
        let (done, _) = store
            .enqueue_batch(None, &[(activity("a3", &org, "Accept", None), &inboxes(2))])
            .await
            .unwrap();
        assert!(done);
        store.worker_heartbeat("crashes").await.unwrap();
        let held = store
            .claim_deliveries(10, 3_600_000, "crashes")
            .await
            .unwrap();
        assert_eq!(held.len(), 2);
        assert!(
            store
                .claim_deliveries(10, 60_000, "next")
                .await
                .unwrap()
                .is_empty()
        );
        store.worker_gone("crashes").await.unwrap();
        let taken = store.claim_deliveries(10, 60_000, "next").await.unwrap();
        assert_eq!(
            ids(&taken),
            ids(&held),
            "a gone worker's rows are taken back"
        );
        for delivery in &taken {
            store
                .deliveries_succeeded(std::slice::from_ref(delivery))
                .await
                .unwrap();
        }

        // Outcomes: a success is final, a failure with a retry goes back to
        // the queue, a failure without one is final.
        store.deliveries_succeeded(&one[..1]).await.unwrap();
        store
            .delivery_failed(&one[1], Some(503), "busy", Some(0), true)
            .await
            .unwrap();
        store
            .delivery_failed(&one[2], Some(410), "gone", None, false)
            .await
            .unwrap();
        let counts = store.delivery_counts(None).await.unwrap();
        assert_eq!(counts.delivered, 3, "one, and the two taken back");
        assert_eq!(counts.failed, 1);
        assert_eq!(counts.queued, 1);
        assert_eq!(counts.sending, 48, "51 claimed, 3 finished");
        store.close().await;
    }
);

both_backends!(
    a_batch_of_successes_records_the_claims_still_held_and_clears_their_hosts,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        let (done, _) = store
            .enqueue_batch(None, &[(activity("b1", &org, "Create", None), &inboxes(4))])
            .await
            .unwrap();
        assert!(done);
        for claimant in ["w", "other"] {
            store.worker_heartbeat(claimant).await.unwrap();
        }
        // Two hosts have failure records from earlier attempts.
        let first = store.claim_deliveries(10, 60_000, "w").await.unwrap();
        assert_eq!(first.len(), 4);
        for delivery in &first[..2] {
            store
                .delivery_failed(delivery, Some(503), "busy", Some(0), true)
                .await
                .unwrap();
        }
        let failing: BTreeSet<String> = store
            .failing_hosts(10)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.host)
            .collect();
        assert_eq!(failing.len(), 2);

        // The two retried rows come back as second attempts; one of them is
        // then taken over by another worker (its lease ran out), so the
        // first worker's claim on it is stale.
        let mut batch = store.claim_deliveries(10, 1, "w").await.unwrap();
        assert_eq!(batch.len(), 2);
        assert!(batch.iter().all(|d| d.attempts == 2));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let taken = store.claim_deliveries(1, 60_000, "other").await.unwrap();
        assert_eq!(taken.len(), 1);
        batch.extend(first[2..].iter().cloned());

        // One call records the four: three are still held and delivered,
        // the taken-over row stays with its new holder.
        store.deliveries_succeeded(&batch).await.unwrap();
        let counts = store.delivery_counts(None).await.unwrap();
        assert_eq!((counts.delivered, counts.sending), (3, 1));
        // The hosts that answered are cleared, the one whose row was taken
        // over as well (it did answer this worker).
        assert!(store.failing_hosts(10).await.unwrap().is_empty());

        // The new holder's success records it; an empty batch changes nothing.
        store.deliveries_succeeded(&taken).await.unwrap();
        store.deliveries_succeeded(&[]).await.unwrap();
        let counts = store.delivery_counts(None).await.unwrap();
        assert_eq!((counts.delivered, counts.sending, counts.queued), (4, 0, 0));
        store.close().await;
    }
);

async fn store_org(store: &Store) -> Organisation {
    organisation(store, "cras").await
}

both_backends!(
    a_transition_commits_with_its_activities_or_not_at_all,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        let statement = draft(&store, &org).await;
        let targets = inboxes(3);

        // A draft cannot be withdrawn: nothing is stored, nothing queued.
        let (done, queued) = store
            .enqueue_batch(
                Some(Transition::Delete {
                    statement_id: statement.id,
                }),
                &[(activity("d1", &org, "Delete", Some(statement.id)), &targets)],
            )
            .await
            .unwrap();
        assert_eq!((done, queued), (false, 0));
        assert_eq!(store.delivery_counts(None).await.unwrap().queued, 0);
        assert_eq!(store.activity_body("d1", &[]).await.unwrap(), None);

        let publish = || Transition::Publish {
            statement_id: statement.id,
            at: 1_000,
        };
        let (done, queued) = store
            .enqueue_batch(
                Some(publish()),
                &[(activity("c1", &org, "Create", Some(statement.id)), &targets)],
            )
            .await
            .unwrap();
        assert_eq!((done, queued), (true, 3));
        let published = store.statement_by_id(statement.id).await.unwrap();
        assert_eq!(published.state, State::Published);
        assert_eq!(published.published_at, Some(1_000));

        // Publishing twice (two processes racing) stores the second nowhere.
        let (done, _) = store
            .enqueue_batch(
                Some(publish()),
                &[(activity("c2", &org, "Create", Some(statement.id)), &targets)],
            )
            .await
            .unwrap();
        assert!(!done);
        assert_eq!(store.activity_body("c2", &[]).await.unwrap(), None);
        assert_eq!(store.delivery_counts(None).await.unwrap().queued, 3);

        // An id taken already fails the whole transaction, transition too.
        let withdraw = Transition::Delete {
            statement_id: statement.id,
        };
        let clash = store
            .enqueue_batch(
                Some(withdraw.clone()),
                &[(activity("c1", &org, "Delete", Some(statement.id)), &targets)],
            )
            .await;
        assert!(clash.is_err());
        assert_eq!(
            store.statement_by_id(statement.id).await.unwrap().state,
            State::Published
        );
        store.close().await;
    }
);

/// The actor `name` on `host`, stored as if fetched (its inbox the host's
/// `/inbox`); its row id.
async fn remote(store: &Store, host: &str, name: &str) -> i64 {
    let uri = format!("https://{host}/users/{name}");
    store
        .upsert_remote_actor(&RemoteActorData {
            uri: uri.clone(),
            domain: host.to_string(),
            inbox: format!("https://{host}/inbox"),
            shared_inbox: None,
            public_key_id: format!("{uri}#main-key"),
            public_key_pem: "-".into(),
            preferred_username: None,
            name: None,
            kind: "Person".into(),
            icon_url: None,
        })
        .await
        .unwrap()
        .id
}

both_backends!(
    actors_upserted_at_the_same_time_each_get_their_own_row,
    |db: TestDb| async move {
        let store = store(&db).await;
        // Forty actors arrive at once, each twice (a refetch racing the
        // first fetch), the second copy with a new name and key.
        let actor = |n: usize, copy: usize| RemoteActorData {
            uri: format!("https://s{n}.example/users/a"),
            domain: format!("s{n}.example"),
            inbox: format!("https://s{n}.example/users/a/inbox"),
            shared_inbox: n
                .is_multiple_of(2)
                .then(|| format!("https://s{n}.example/inbox")),
            public_key_id: format!("https://s{n}.example/users/a#key-{copy}"),
            public_key_pem: format!("pem {n}\nline \"{copy}\" ü"),
            preferred_username: Some("a".into()),
            name: (copy == 1).then(|| format!("Actor {n}, second copy")),
            kind: "Person".into(),
            icon_url: None,
        };
        let calls = (0..40)
            .flat_map(|n| [(n, 0), (n, 1)])
            .map(|(n, copy)| {
                let (store, data) = (store.clone(), actor(n, copy));
                tokio::spawn(async move { (data.clone(), store.upsert_remote_actor(&data).await) })
            })
            .collect::<Vec<_>>();
        let mut ids = std::collections::BTreeMap::new();
        for call in calls {
            let (data, stored) = call.await.unwrap();
            let stored = stored.unwrap();
            assert_eq!(stored.uri, data.uri);
            assert_eq!(stored.inbox, data.inbox);
            assert_eq!(stored.shared_inbox, data.shared_inbox);
            assert_eq!(stored.domain, data.domain);
            ids.entry(data.uri)
                .or_insert_with(BTreeSet::new)
                .insert(stored.id);
        }
        assert_eq!(ids.len(), 40);
        assert!(
            ids.values().all(|rows| rows.len() == 1),
            "one row per actor"
        );

        // What is stored is one of the two copies, whole.
        for n in 0..40 {
            let uri = format!("https://s{n}.example/users/a");
            let stored = store.remote_actor(&uri).await.unwrap().unwrap();
            let copy = if stored.name.is_some() { 1 } else { 0 };
            let expected = actor(n, copy);
            assert_eq!(stored.public_key_id, expected.public_key_id);
            assert_eq!(stored.public_key_pem, expected.public_key_pem);
            assert_eq!(stored.preferred_username.as_deref(), Some("a"));
            assert_eq!(stored.kind, "Person");
        }

        // A later fetch refreshes the row it has.
        let again = store.upsert_remote_actor(&actor(3, 1)).await.unwrap();
        assert_eq!(ids[&again.uri].first(), Some(&again.id));
        assert_eq!(again.name.as_deref(), Some("Actor 3, second copy"));
        store.close().await;
    }
);

both_backends!(
    a_received_follow_is_stored_with_its_accept_or_not_at_all,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        let (store, org) = (&store, &org);
        // The Follow `id` from `actor` (a row), answered by the Accept `accept`.
        let receive = |id: &'static str, actor_id: i64, accept_now: bool, accept: &'static str| async move {
            let inbox = format!("https://{actor_id}.example/inbox");
            let follow = ReceivedFollow {
                activity_id: id,
                organisation_id: org.id,
                actor_id,
                accept_now,
            };
            store
                .follow_received(follow, &activity(accept, org, "Accept", None), &inbox)
                .await
        };
        let accepted = |n: usize| FollowStored::Accepted { queued: n };
        let queued = || async { store.delivery_counts(None).await.unwrap().queued };
        let stored = |accept: &'static str| async move {
            store.activity_body(accept, &[]).await.unwrap().is_some()
        };
        let ana = remote(store, "a.example", "ana").await;

        assert_eq!(receive("f1", ana, true, "a1").await.unwrap(), accepted(1));
        assert!(stored("a1").await);
        assert_eq!(queued().await, 1);
        assert_eq!(
            store
                .count_followers(org.id, FollowerState::Accepted)
                .await
                .unwrap(),
            1
        );

        // The same Follow again changes nothing and queues nothing.
        assert_eq!(
            receive("f1", ana, true, "a2").await.unwrap(),
            FollowStored::Replayed
        );
        assert!(!stored("a2").await);
        assert_eq!(queued().await, 1);

        // A new Follow from a follower accepted before is accepted again
        // (its Accept echoes the new id), even if requests now wait.
        assert_eq!(receive("f2", ana, false, "a3").await.unwrap(), accepted(1));
        assert!(stored("a3").await);
        let kept = store
            .follow_of(org.id, "https://a.example/users/ana")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (kept.state.as_str(), kept.follow_activity_id.as_str()),
            ("accepted", "f2")
        );

        // A request waits, and its Accept is not stored.
        let bea = remote(store, "b.example", "bea").await;
        assert_eq!(
            receive("f3", bea, false, "a4").await.unwrap(),
            FollowStored::Pending
        );
        assert!(!stored("a4").await);
        assert_eq!(
            store
                .count_followers(org.id, FollowerState::Pending)
                .await
                .unwrap(),
            1
        );

        // An Accept whose id is taken fails the whole command: no follow,
        // and the Follow's id is not spent, so it is stored when it comes
        // again. The connection is left as it was for the next command.
        let cy = remote(store, "c.example", "cy").await;
        assert!(receive("f4", cy, true, "a1").await.is_err());
        let none = store.follow_of(org.id, "https://c.example/users/cy").await;
        assert!(none.unwrap().is_none());
        assert_eq!(
            store
                .count_followers(org.id, FollowerState::Accepted)
                .await
                .unwrap(),
            1
        );
        assert_eq!(receive("f4", cy, true, "a5").await.unwrap(), accepted(1));
        assert_eq!(
            store
                .count_followers(org.id, FollowerState::Accepted)
                .await
                .unwrap(),
            2
        );
        assert_eq!(queued().await, 3);
        store.close().await;
    }
);

/// Follows that arrive at once (`(Follow id, actor row, Accept id)`), each
/// in a task of its own, with what became of each.
async fn receive_at_once(
    store: &Store,
    org: &Organisation,
    follows: Vec<(String, i64, String)>,
) -> Vec<(String, String, Option<FollowStored>)> {
    let calls: Vec<_> = follows
        .into_iter()
        .map(|(id, actor_id, accept)| {
            let (store, org) = (store.clone(), org.clone());
            tokio::spawn(async move {
                let follow = ReceivedFollow {
                    activity_id: &id,
                    organisation_id: org.id,
                    actor_id,
                    accept_now: true,
                };
                let inbox = format!("https://{actor_id}.example/inbox");
                let outcome = store
                    .follow_received(follow, &activity(&accept, &org, "Accept", None), &inbox)
                    .await;
                (id, accept, outcome.ok())
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    outcomes
}

both_backends!(
    follows_received_at_the_same_time_are_each_stored_as_if_alone,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        let mut actors = Vec::new();
        for n in 0..50 {
            actors.push(remote(&store, &format!("s{n}.example"), "a").await);
        }
        let accepted = Some(FollowStored::Accepted { queued: 1 });
        let outcome_of = |outcomes: &[(String, String, Option<FollowStored>)], id: &str| {
            let mut found: Vec<_> = outcomes
                .iter()
                .filter(|(f, _, _)| f == id)
                .map(|(_, accept, outcome)| (accept.clone(), *outcome))
                .collect();
            found.sort_by_key(|(accept, _)| accept.clone());
            found
        };

        // Forty actors follow at once; one Follow comes twice (a retried delivery)
        // and one actor sends a second Follow of its own.
        let mut follows: Vec<(String, i64, String)> = (0..40)
            .map(|n| (format!("f{n}"), actors[n], format!("a{n}")))
            .collect();
        follows.push(("f7".into(), actors[7], "a7-again".into()));
        follows.push(("f9-second".into(), actors[9], "a9-second".into()));
        let outcomes = receive_at_once(&store, &org, follows).await;
        for n in (0..40).filter(|n| *n != 7) {
            assert_eq!(
                outcome_of(&outcomes, &format!("f{n}")),
                [(format!("a{n}"), accepted)]
            );
        }
        // The Follow that came twice is acted on once, whichever copy won.
        let twice: Vec<_> = outcome_of(&outcomes, "f7")
            .into_iter()
            .map(|(_, o)| o)
            .collect();
        assert!(
            twice == [accepted, Some(FollowStored::Replayed)]
                || twice == [Some(FollowStored::Replayed), accepted],
            "{twice:?}"
        );
        let a7 = store.activity_body("a7", &[]).await.unwrap().is_some();
        let a7_again = store
            .activity_body("a7-again", &[])
            .await
            .unwrap()
            .is_some();
        assert!(a7 != a7_again, "one Accept for the Follow that came twice");
        // A second Follow from a follower is accepted again, and the follow
        // keeps the id of whichever was written last.
        assert_eq!(
            outcome_of(&outcomes, "f9-second"),
            [("a9-second".into(), accepted)]
        );
        let nine = store.follow_of(org.id, "https://s9.example/users/a").await;
        let nine = nine.unwrap().unwrap().follow_activity_id;
        assert!(nine == "f9" || nine == "f9-second", "{nine}");
        assert_eq!(
            store
                .count_followers(org.id, FollowerState::Accepted)
                .await
                .unwrap(),
            40
        );
        assert_eq!(store.delivery_counts(None).await.unwrap().queued, 41);

        // Ten more at once, one of them answered with an Accept id that is
        // taken: that one fails alone and leaves nothing, the others are
        // stored.
        let mut follows: Vec<(String, i64, String)> = (40..50)
            .map(|n| (format!("f{n}"), actors[n], format!("a{n}")))
            .collect();
        follows.insert(5, ("f-bad".into(), actors[45], "a3".into()));
        let outcomes = receive_at_once(&store, &org, follows).await;
        assert_eq!(outcome_of(&outcomes, "f-bad"), [("a3".into(), None)]);
        for n in 40..50 {
            assert_eq!(
                outcome_of(&outcomes, &format!("f{n}")),
                [(format!("a{n}"), accepted)]
            );
        }
        let of_45 = store.follow_of(org.id, "https://s45.example/users/a").await;
        assert_eq!(of_45.unwrap().unwrap().follow_activity_id, "f45");
        assert_eq!(
            store
                .count_followers(org.id, FollowerState::Accepted)
                .await
                .unwrap(),
            50
        );
        assert_eq!(store.delivery_counts(None).await.unwrap().queued, 51);

        // The failed Follow's id is not spent: it is stored when it comes again.
        let (_, _, again) = receive_at_once(
            &store,
            &org,
            vec![("f-bad".into(), actors[45], "a-bad".into())],
        )
        .await
        .remove(0);
        assert_eq!(again, accepted);
        store.close().await;
    }
);

both_backends!(
    the_outbox_lists_the_kinds_asked_for_of_published_statements,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        let statement = draft(&store, &org).await;
        let other = draft(&store, &org).await;
        let none: Vec<String> = vec![];
        store
            .enqueue_batch(
                Some(Transition::Publish {
                    statement_id: statement.id,
                    at: 1,
                }),
                &[
                    (activity("c", &org, "Create", Some(statement.id)), &none),
                    (activity("u", &org, "Update", Some(statement.id)), &none),
                ],
            )
            .await
            .unwrap();
        // Activities about a statement still in draft are no post.
        store
            .enqueue_batch(
                None,
                &[(activity("x", &org, "Create", Some(other.id)), &none)],
            )
            .await
            .unwrap();
        let kinds = ["Create", "Announce"];
        assert_eq!(
            store
                .count_statement_activities(org.id, &kinds)
                .await
                .unwrap(),
            1
        );
        let listed = store
            .statement_activities(org.id, &kinds, 10, 0)
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            store
                .count_statement_activities(org.id, &["Update"])
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.count_statement_activities(org.id, &[]).await.unwrap(),
            0
        );

        // Once deleted, only the kinds kept after deletion stay readable.
        store
            .enqueue_batch(
                Some(Transition::Delete {
                    statement_id: statement.id,
                }),
                &[(activity("d", &org, "Delete", Some(statement.id)), &none)],
            )
            .await
            .unwrap();
        assert_eq!(store.activity_body("c", &["Delete"]).await.unwrap(), None);
        assert!(
            store
                .activity_body("d", &["Delete"])
                .await
                .unwrap()
                .is_some()
        );
        store.close().await;
    }
);

both_backends!(
    a_domain_block_reaches_subdomains_and_ports_and_nothing_else,
    |db: TestDb| async move {
        let store = store(&db).await;
        let org = store_org(&store).await;
        let mut inboxes = Vec::new();
        for (n, host) in [
            "a.example.org",
            "example.org:8443",
            "example.orgx",
            "b.example.net",
        ]
        .iter()
        .enumerate()
        {
            let actor = remote(&store, host, &format!("u{n}")).await;
            store
                .record_follow(
                    org.id,
                    actor,
                    &format!("https://{host}/users/u{n}/follow"),
                    true,
                )
                .await
                .unwrap();
            let inbox = format!("https://{host}/inbox");
            inboxes.push(inbox);
        }
        store
            .enqueue_batch(None, &[(activity("a", &org, "Update", None), &inboxes)])
            .await
            .unwrap();

        store.block_domain("example.org", "spam").await.unwrap();
        assert_eq!(
            store
                .count_followers(org.id, FollowerState::Accepted)
                .await
                .unwrap(),
            2
        );
        let left: BTreeSet<String> = store
            .follower_inboxes(&[org.id])
            .await
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(
            left,
            BTreeSet::from([
                "https://b.example.net/inbox".to_string(),
                "https://example.orgx/inbox".to_string()
            ])
        );
        let counts = store.delivery_counts(None).await.unwrap();
        assert_eq!((counts.failed, counts.queued), (2, 2));
        assert!(store.is_domain_blocked("deep.a.example.org").await.unwrap());
        assert!(!store.is_domain_blocked("example.orgx").await.unwrap());

        // Nothing new is queued for a covered server.
        let (_, queued) = store
            .enqueue_batch(None, &[(activity("b", &org, "Update", None), &inboxes)])
            .await
            .unwrap();
        assert_eq!(queued, 2);
        assert!(store.unblock_domain("example.org").await.unwrap());
        assert!(!store.is_domain_blocked("a.example.org").await.unwrap());
        store.close().await;
    }
);

both_backends!(
    a_domain_block_holds_at_once_here_and_within_half_a_second_in_another_process,
    |db: TestDb| async move {
        // Two stores on one database are two processes sharing it: each
        // keeps its own copy of the block list (`store::cache`).
        let here = store(&db).await;
        let elsewhere = store(&db).await;
        assert!(!elsewhere.is_domain_blocked("spam.example").await.unwrap());
        here.block_domain("spam.example", "spam").await.unwrap();
        assert!(here.is_domain_blocked("a.spam.example").await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert!(elsewhere.is_domain_blocked("a.spam.example").await.unwrap());

        assert!(here.unblock_domain("spam.example").await.unwrap());
        assert!(!here.is_domain_blocked("a.spam.example").await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        assert!(!elsewhere.is_domain_blocked("a.spam.example").await.unwrap());
    }
);

/// On PostgreSQL a received Follow's statement announces its Accept's
/// delivery to the workers of every process (`LISTEN`) when it commits, and
/// a Follow that queues nothing announces nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_follow_that_queues_its_accept_announces_it_to_every_worker() {
    let Some(db) = TestDb::new(common::Backend::Postgres).await else {
        return;
    };
    let store = store(&db).await;
    let org = store_org(&store).await;
    let mut listener = store.listen_for_deliveries().await.unwrap().unwrap();
    let receive = |id: &'static str, actor_id: i64, accept_now: bool, accept: &'static str| {
        let (store, org) = (&store, &org);
        async move {
            let follow = ReceivedFollow {
                activity_id: id,
                organisation_id: org.id,
                actor_id,
                accept_now,
            };
            let inbox = format!("https://{actor_id}.example/inbox");
            store
                .follow_received(follow, &activity(accept, org, "Accept", None), &inbox)
                .await
                .unwrap()
        }
    };
    let wait = std::time::Duration::from_secs(5);

    let ana = remote(&store, "a.example", "ana").await;
    assert_eq!(
        receive("f1", ana, true, "a1").await,
        FollowStored::Accepted { queued: 1 }
    );
    tokio::time::timeout(wait, listener.next())
        .await
        .expect("the Accept's delivery is announced")
        .unwrap();

    // A request waiting for the editor, and the same Follow again, queue
    // nothing and announce nothing; the next accepted Follow does.
    let bo = remote(&store, "b.example", "bo").await;
    assert_eq!(receive("f2", bo, false, "a2").await, FollowStored::Pending);
    assert_eq!(receive("f1", ana, true, "a3").await, FollowStored::Replayed);
    let cy = remote(&store, "c.example", "cy").await;
    assert_eq!(
        receive("f3", cy, true, "a4").await,
        FollowStored::Accepted { queued: 1 }
    );
    tokio::time::timeout(wait, listener.next())
        .await
        .expect("the second Accept's delivery is announced")
        .unwrap();
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), listener.next())
            .await
            .is_err(),
        "one announcement per queued Accept, none for the others"
    );
    // The listener holds a connection of the pool, which closing waits for.
    drop(listener);
    store.close().await;
}

/// PostgreSQL connections are not pinged when lent (`Store::connect`): a
/// connection the server closed while idle fails the one call that gets it,
/// and the pool goes on with fresh ones, as after a database restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_closed_by_the_server_cost_a_call_each_at_most() {
    let Some(db) = TestDb::new(common::Backend::Postgres).await else {
        return;
    };
    let store = store(&db).await;
    let org = store_org(&store).await;
    // Several calls at once leave several connections idle in the pool.
    let counts = (0..8).map(|_| store.count_followers(org.id, FollowerState::Accepted));
    for count in futures::future::join_all(counts).await {
        assert_eq!(count.unwrap(), 0);
    }

    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!ended.is_empty(), "the store's connections were ended");

    let mut failed = 0;
    for _ in 0..32 {
        if store
            .count_followers(org.id, FollowerState::Accepted)
            .await
            .is_err()
        {
            failed += 1;
        }
    }
    assert!(
        failed <= ended.len(),
        "{failed} calls failed for {} connections",
        ended.len()
    );
    assert_eq!(
        store
            .count_followers(org.id, FollowerState::Accepted)
            .await
            .unwrap(),
        0
    );
    store.close().await;
}
