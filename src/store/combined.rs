//! Group commit: writes of one kind that arrive while an earlier one is
//! being written go together in the next command.
//!
//! On SQLite every round trip to the one writer holds it for about 0.3 ms
//! under load and hands it to the next task in line, most of it waiting for
//! threads to be scheduled; with 64 Follows in flight the writer was the
//! queue each waited 30 ms in, twice. On PostgreSQL every statement is a
//! commit (a WAL flush) and a pooled connection, pinged by sqlx when it
//! comes back, on a machine the Follows keep busy (README "Benchmarks").
//! Writing a batch in one statement pays those once.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use tokio::sync::watch;

/// One kind of write, combined. A caller adds its item to the batch that is
/// filling and waits for that batch's outcome; whoever gets the turn first
/// writes the batch in a task of its own (a caller that goes away cannot
/// stop it half-way), and the batch that fills meanwhile goes next, so at
/// most one batch of a kind is written at a time. Every caller of a batch
/// gets the whole outcome and picks its own part; `None` when the batch
/// failed, so the caller can do its write alone and get its own error.
pub(crate) struct Combined<T, R> {
    filling: Mutex<Option<Batch<T, R>>>,
    turn: Arc<tokio::sync::Mutex<()>>,
}

struct Batch<T, R> {
    items: Vec<T>,
    done: watch::Sender<Option<Option<R>>>,
}

impl<T, R> Default for Combined<T, R> {
    fn default() -> Self {
        Combined {
            filling: Mutex::new(None),
            turn: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

impl<T, R> std::fmt::Debug for Combined<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Combined").finish_non_exhaustive()
    }
}

impl<T: Send + 'static, R: Clone + Send + Sync + 'static> Combined<T, R> {
    /// Writes `item` in a batch: `write` is what this caller runs if the
    /// turn falls to it, on every item of the batch that is filling then.
    pub async fn run<F, W>(&self, item: T, write: W) -> Option<R>
    where
        W: FnOnce(Vec<T>) -> F,
        F: Future<Output = Option<R>> + Send + 'static,
    {
        let mut done = {
            let mut filling = self.filling.lock().expect("never poisoned");
            let batch = filling.get_or_insert_with(|| Batch {
                items: Vec::new(),
                done: watch::channel(None).0,
            });
            batch.items.push(item);
            batch.done.subscribe()
        };
        let mut write = Some(write);
        loop {
            tokio::select! {
                biased;
                changed = done.changed() => {
                    // An error: the batch's task ended without an answer.
                    return changed.ok().and_then(|()| done.borrow().clone()).flatten();
                }
                turn = Arc::clone(&self.turn).lock_owned() => {
                    let batch = self.filling.lock().expect("never poisoned").take();
                    // Without a batch, ours was written already: `done` says
                    // so next. This caller writes at most once.
                    let (Some(batch), Some(write)) = (batch, write.take()) else {
                        continue;
                    };
                    let writing = write(batch.items);
                    tokio::spawn(async move {
                        let outcome = writing.await;
                        let _ = batch.done.send(Some(outcome));
                        drop(turn);
                    });
                }
            }
        }
    }
}

impl<T: Send + 'static, V: Send + Sync + 'static> Combined<T, Arc<V>> {
    /// [`Self::run`] for a write that can fail: a failed batch is logged
    /// once, as a batch of `what`, and each of its callers gets `None`, to
    /// write alone for its own error.
    pub async fn run_or_alone<F, W, E>(
        &self,
        item: T,
        what: &'static str,
        write: W,
    ) -> Option<Arc<V>>
    where
        W: FnOnce(Vec<T>) -> F,
        F: Future<Output = Result<V, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        self.run(item, move |items| {
            let count = items.len();
            let writing = write(items);
            async move {
                writing
                    .await
                    .inspect_err(|err| {
                        tracing::warn!(error = %err, items = count, "a batch of {what} failed; each is written alone");
                    })
                    .ok()
                    .map(Arc::new)
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::{sync::Semaphore, task::JoinHandle};

    use super::*;

    type Numbers = Combined<u32, Arc<Vec<u32>>>;

    /// A call for `n` whose write, if the turn falls to it, waits for
    /// `gate` and then succeeds with its batch, or fails.
    fn call(
        combined: &Arc<Numbers>,
        gate: &Arc<Semaphore>,
        n: u32,
        succeeds: bool,
    ) -> JoinHandle<Option<Arc<Vec<u32>>>> {
        let (combined, gate) = (combined.clone(), gate.clone());
        tokio::spawn(async move {
            combined
                .run(n, |items| async move {
                    let _open = gate.acquire().await.ok()?;
                    succeeds.then(|| Arc::new(items))
                })
                .await
        })
    }

    fn settle() -> tokio::time::Sleep {
        tokio::time::sleep(Duration::from_millis(20))
    }

    /// Twenty calls while the first batch's write is held up: the first
    /// call's batch of one, then one batch of the nineteen that waited.
    #[tokio::test]
    async fn calls_that_wait_together_go_in_one_write() {
        let (combined, gate) = (Arc::new(Numbers::default()), Arc::new(Semaphore::new(0)));
        let calls: Vec<_> = (0..20).map(|n| call(&combined, &gate, n, true)).collect();
        settle().await;
        gate.add_permits(100);
        let mut batches = std::collections::BTreeSet::new();
        for (n, call) in (0..).zip(calls) {
            let items = call.await.unwrap().expect("the batch was written");
            assert!(items.contains(&n), "{n} is in its batch {items:?}");
            batches.insert(items.to_vec());
        }
        let sizes: Vec<_> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1, 19], "two writes for twenty calls");

        // Alone, a call is a batch of its own.
        assert_eq!(
            *call(&combined, &gate, 7, true).await.unwrap().unwrap(),
            vec![7]
        );
    }

    #[tokio::test]
    async fn a_failed_batch_says_so_to_each_caller_and_the_next_batch_is_written() {
        let (combined, gate) = (Arc::new(Numbers::default()), Arc::new(Semaphore::new(0)));
        let calls: Vec<_> = (0..5).map(|n| call(&combined, &gate, n, false)).collect();
        settle().await;
        gate.add_permits(100);
        for call in calls {
            assert!(call.await.unwrap().is_none());
        }
        assert_eq!(
            *call(&combined, &gate, 9, true).await.unwrap().unwrap(),
            vec![9]
        );
    }

    /// A caller that goes away while it writes its batch does not stop the
    /// write: the others of the batch get its outcome.
    #[tokio::test]
    async fn a_caller_that_goes_away_does_not_stop_its_batch() {
        let combined = Arc::new(Numbers::default());
        let (first, second) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
        // A write under way holds the turn while 1 and 2 join the next batch.
        let earlier = call(&combined, &first, 0, true);
        settle().await;
        let leader = call(&combined, &second, 1, true);
        let follower = call(&combined, &second, 2, true);
        settle().await;
        first.add_permits(1);
        assert_eq!(*earlier.await.unwrap().unwrap(), vec![0]);
        // 1 has the turn and writes [1, 2]; it goes away before the end.
        settle().await;
        leader.abort();
        second.add_permits(1);
        assert_eq!(*follower.await.unwrap().unwrap(), vec![1, 2]);
    }
}
