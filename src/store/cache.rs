//! What every inbound request asks of the database and almost never
//! changes, kept in this process: the domain blocks, the hosts with a
//! failure record, and the organisations by handle.
//!
//! Without it a Follow read the organisation twice, the block list twice
//! and the host's failure record once: five of its round trips, each a hop
//! to a database thread (the federation benchmark's profile,
//! benches/README.md). A Like or boost paid two of them.
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
    hash::Hash,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{domains::BlockList, organisations::Organisation};

/// How old a copy may get before it is read again.
pub const MAX_AGE: Duration = Duration::from_millis(500);

/// Values read from the database, by key, each with its age; one
/// generation for all of them. A whole table kept as one value uses the
/// key `()`. At most [`CAPACITY`] keys.
pub(crate) struct Copies<K, V> {
    state: Mutex<CopiesState<K, V>>,
}

struct CopiesState<K, V> {
    generation: u64,
    entries: HashMap<K, (Instant, V)>,
}

/// More keys than a server has organisations; past it the copies are
/// dropped and read again, so a flood of made-up handles costs no memory.
pub const CAPACITY: usize = 1024;

impl<K, V> Default for Copies<K, V> {
    fn default() -> Self {
        Copies {
            state: Mutex::new(CopiesState {
                generation: 0,
                entries: HashMap::new(),
            }),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Copies<K, V> {
    /// The copy for `key` when young enough, else the generation a fresh
    /// read must present to [`Self::keep`].
    pub fn get(&self, key: &K) -> Result<V, u64> {
        let state = self.state.lock().expect("cache lock");
        match state.entries.get(key) {
            Some((at, value)) if at.elapsed() < MAX_AGE => Ok(value.clone()),
            _ => Err(state.generation),
        }
    }

    /// Keeps `value`, read under `generation`, unless a write has
    /// forgotten the copies since.
    pub fn keep(&self, generation: u64, key: K, value: V) {
        let mut state = self.state.lock().expect("cache lock");
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= CAPACITY {
            state.entries.retain(|_, (at, _)| at.elapsed() < MAX_AGE);
            if state.entries.len() >= CAPACITY {
                state.entries.clear();
            }
        }
        state.entries.insert(key, (Instant::now(), value));
    }

    /// The copy for `key` when young enough, else what `read` returns, kept.
    pub async fn get_or_read<E>(
        &self,
        key: K,
        read: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        let generation = match self.get(&key) {
            Ok(value) => return Ok(value),
            Err(generation) => generation,
        };
        let value = read.await?;
        self.keep(generation, key, value.clone());
        Ok(value)
    }

    /// Drops every copy: the next reads go to the database.
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
    pub blocks: Copies<(), Arc<BlockList>>,
    pub failing_hosts: Copies<(), Arc<FailingHosts>>,
    /// Live organisations by lowercase handle, read on every inbox
    /// request. Only found ones are kept: a handle that is not there is
    /// asked of the database each time, so a miss never hides a new
    /// organisation.
    pub organisations: Copies<String, Organisation>,
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
        let copies = Copies::<(), u32>::default();
        let generation = copies.get(&()).unwrap_err();
        // A write forgets the copies while the read is in flight…
        copies.forget();
        copies.keep(generation, (), 1);
        // …so what it read is not served.
        let fresh = copies.get(&()).unwrap_err();
        assert_ne!(fresh, generation);
        copies.keep(fresh, (), 2);
        assert_eq!(copies.get(&()), Ok(2));
    }

    #[test]
    fn copies_are_bounded_and_forgotten_together() {
        let copies = Copies::<String, u32>::default();
        for n in 0..CAPACITY + 10 {
            copies.keep(0, n.to_string(), n as u32);
        }
        assert!(copies.state.lock().unwrap().entries.len() <= CAPACITY);
        assert_eq!(
            copies.get(&(CAPACITY + 9).to_string()),
            Ok(CAPACITY as u32 + 9)
        );
        copies.forget();
        assert_eq!(copies.get(&"1".to_string()), Err(1));
        copies.keep(0, "1".to_string(), 1);
        assert_eq!(
            copies.get(&"1".to_string()),
            Err(1),
            "a read from before the forget is not kept"
        );
    }

    #[test]
    fn a_copy_is_served_only_while_young() {
        let copies = Copies::<(), u32>::default();
        copies.keep(0, (), 7);
        assert_eq!(copies.get(&()), Ok(7));
        std::thread::sleep(MAX_AGE + Duration::from_millis(20));
        assert!(copies.get(&()).is_err());
    }
}
