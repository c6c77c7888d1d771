//! What every inbound request asks of the database and almost never
//! changes, kept in this process: the domain blocks, the hosts with a
//! failure record, and the organisations by handle.
//!
//! Without it a Follow read the organisation twice, the block list twice
//! and the host's failure record once: five of its round trips, each a hop
//! to a database thread (the federation benchmark's profile, README
//! "Benchmarks"). A Like or boost paid two of them.
//!
//! The rules that keep it honest:
//! - a copy is used for at most [`MAX_AGE`], so another process sharing the
//!   database sees a change as late as that (the delivery worker always
//!   allowed its block list the same age);
//! - every write this process makes to those tables goes through the
//!   `Store` method that forgets the copy, in the same call;
//! - a read that started before a write cannot store what it read after
//!   the write forgot the copy: each copy carries a generation, bumped by
//!   every forget, and a stale generation is not kept.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{domains::BlockList, organisations::Organisation};

/// How old a copy may get before it is read again.
pub const MAX_AGE: Duration = Duration::from_millis(500);

/// One value read from the database, its age, and its generation.
pub(crate) struct Snapshot<T> {
    state: Mutex<SnapshotState<T>>,
}

struct SnapshotState<T> {
    generation: u64,
    value: Option<(Instant, Arc<T>)>,
}

impl<T> Default for Snapshot<T> {
    fn default() -> Self {
        Snapshot {
            state: Mutex::new(SnapshotState {
                generation: 0,
                value: None,
            }),
        }
    }
}

impl<T> Snapshot<T> {
    /// The copy when it is young enough, else the generation a fresh read
    /// must present to [`Self::keep`].
    pub fn get(&self) -> Result<Arc<T>, u64> {
        let state = self.state.lock().expect("snapshot lock");
        match &state.value {
            Some((at, value)) if at.elapsed() < MAX_AGE => Ok(value.clone()),
            _ => Err(state.generation),
        }
    }

    /// Keeps `value`, read under `generation`, unless a write has
    /// forgotten the copy since.
    pub fn keep(&self, generation: u64, value: Arc<T>) {
        let mut state = self.state.lock().expect("snapshot lock");
        if state.generation == generation {
            state.value = Some((Instant::now(), value));
        }
    }

    /// The copy when it is young enough, else what `read` returns, kept.
    pub async fn get_or_read<E>(
        &self,
        read: impl Future<Output = Result<T, E>>,
    ) -> Result<Arc<T>, E> {
        let generation = match self.get() {
            Ok(value) => return Ok(value),
            Err(generation) => generation,
        };
        let value = Arc::new(read.await?);
        self.keep(generation, value.clone());
        Ok(value)
    }

    /// Drops the copy: the next read goes to the database.
    pub fn forget(&self) {
        let mut state = self.state.lock().expect("snapshot lock");
        state.generation += 1;
        state.value = None;
    }
}

/// Values read from the database one key at a time, with the same rules as
/// [`Snapshot`]; at most [`KEYED_CAPACITY`] of them.
pub(crate) struct Keyed<V> {
    state: Mutex<KeyedState<V>>,
}

struct KeyedState<V> {
    generation: u64,
    entries: HashMap<String, (Instant, V)>,
}

/// More keys than a server has organisations; past it the copies are
/// dropped and read again, so a flood of made-up handles costs no memory.
pub const KEYED_CAPACITY: usize = 1024;

impl<V> Default for Keyed<V> {
    fn default() -> Self {
        Keyed {
            state: Mutex::new(KeyedState {
                generation: 0,
                entries: HashMap::new(),
            }),
        }
    }
}

impl<V: Clone> Keyed<V> {
    /// The copy for `key` when young enough, else the generation a fresh
    /// read must present to [`Self::keep`].
    pub fn get(&self, key: &str) -> Result<V, u64> {
        let state = self.state.lock().expect("cache lock");
        match state.entries.get(key) {
            Some((at, value)) if at.elapsed() < MAX_AGE => Ok(value.clone()),
            _ => Err(state.generation),
        }
    }

    pub fn keep(&self, generation: u64, key: &str, value: V) {
        let mut state = self.state.lock().expect("cache lock");
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= KEYED_CAPACITY {
            state.entries.retain(|_, (at, _)| at.elapsed() < MAX_AGE);
            if state.entries.len() >= KEYED_CAPACITY {
                state.entries.clear();
            }
        }
        state
            .entries
            .insert(key.to_string(), (Instant::now(), value));
    }

    /// Drops every copy.
    pub fn forget(&self) {
        let mut state = self.state.lock().expect("cache lock");
        state.generation += 1;
        state.entries.clear();
    }
}

/// Hosts with a failure record (`delivery_hosts`), and whether each is
/// unavailable.
#[derive(Debug, Default)]
pub struct FailingHosts {
    hosts: HashMap<String, bool>,
}

impl FailingHosts {
    pub fn new(rows: Vec<(String, bool)>) -> Self {
        FailingHosts {
            hosts: rows.into_iter().collect(),
        }
    }

    /// Whether `host` (lowercase) has any failure record.
    pub fn has_record(&self, host: &str) -> bool {
        self.hosts.contains_key(host)
    }

    /// Whether nothing is to be queued for `host` (lowercase).
    pub fn is_unavailable(&self, host: &str) -> bool {
        self.hosts.get(host).copied().unwrap_or(false)
    }
}

/// The process's copies; one per [`super::Store`] and its clones.
#[derive(Default)]
pub(crate) struct Cache {
    pub blocks: Snapshot<BlockList>,
    pub failing_hosts: Snapshot<FailingHosts>,
    /// Live organisations by lowercase handle, read on every inbox
    /// request. Only found ones are kept: a handle that is not there is
    /// asked of the database each time, so a miss never hides a new
    /// organisation.
    pub organisations: Keyed<Organisation>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cache")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_straddles_a_write_is_not_kept() {
        let snapshot = Snapshot::<u32>::default();
        let generation = snapshot.get().unwrap_err();
        // A write forgets the copy while the read is in flight…
        snapshot.forget();
        snapshot.keep(generation, Arc::new(1));
        // …so what it read is not served.
        let fresh = snapshot.get().unwrap_err();
        assert_ne!(fresh, generation);
        snapshot.keep(fresh, Arc::new(2));
        assert_eq!(*snapshot.get().unwrap(), 2);
    }

    #[test]
    fn keyed_copies_are_bounded_and_forgotten_together() {
        let keyed = Keyed::<u32>::default();
        for n in 0..KEYED_CAPACITY + 10 {
            keyed.keep(0, &n.to_string(), n as u32);
        }
        assert!(keyed.state.lock().unwrap().entries.len() <= KEYED_CAPACITY);
        assert_eq!(
            keyed.get(&(KEYED_CAPACITY + 9).to_string()),
            Ok(KEYED_CAPACITY as u32 + 9)
        );
        keyed.forget();
        assert_eq!(keyed.get("1"), Err(1));
        keyed.keep(0, "1", 1);
        assert_eq!(
            keyed.get("1"),
            Err(1),
            "a read from before the forget is not kept"
        );
    }

    #[test]
    fn a_copy_is_served_only_while_young() {
        let snapshot = Snapshot::<u32>::default();
        snapshot.keep(0, Arc::new(7));
        assert_eq!(*snapshot.get().unwrap(), 7);
        std::thread::sleep(MAX_AGE + Duration::from_millis(20));
        assert!(snapshot.get().is_err());
    }
}
