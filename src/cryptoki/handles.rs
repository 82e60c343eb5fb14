//! Handles. Object handles: per process, from one counter, never 0, never reused; a two-way
//! map between the core's `ObjectId`s and the handles this process handed out, per slot.
//! Session handles: the module's registry of open sessions ([`SessionTable`]).
//!
//! Both sit on the path of every call, so their maps hash with FxHash (handles and object ids
//! are ours, not chosen by an attacker, so SipHash's flooding resistance buys nothing) and
//! the session registry is sharded so that threads working in different sessions do not
//! write the same cache lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rustc_hash::FxHashMap as HashMap;

use super::session::Session;
use crate::hsm::api::ObjectId;

/// The next object handle of this process (shared by every slot, never reset).
static NEXT_OBJECT: AtomicU64 = AtomicU64::new(1);

/// ObjectId ↔ CK_OBJECT_HANDLE, O(1) both ways.
#[derive(Debug, Default)]
pub(crate) struct Handles {
    by_id: HashMap<ObjectId, u64>,
    by_handle: HashMap<u64, ObjectId>,
}

impl Handles {
    /// The object behind a handle.
    pub(crate) fn id(&self, handle: u64) -> Option<ObjectId> {
        self.by_handle.get(&handle).copied()
    }

    /// The handle of an object already seen.
    pub(crate) fn existing(&self, id: ObjectId) -> Option<u64> {
        self.by_id.get(&id).copied()
    }

    /// The handle of an object, allocating a fresh one for an object not seen yet.
    pub(crate) fn handle(&mut self, id: ObjectId) -> u64 {
        if let Some(h) = self.by_id.get(&id) {
            return *h;
        }
        let h = NEXT_OBJECT.fetch_add(1, Ordering::Relaxed);
        self.by_id.insert(id, h);
        self.by_handle.insert(h, id);
        h
    }

    /// Forget an object (destroyed, or the core no longer knows it). Its handle is never
    /// issued again.
    pub(crate) fn forget(&mut self, id: ObjectId) {
        if let Some(h) = self.by_id.remove(&id) {
            self.by_handle.remove(&h);
        }
    }

    /// Keep only the objects `keep` says yes to.
    pub(crate) fn retain(&mut self, keep: impl Fn(ObjectId) -> bool) {
        self.by_id.retain(|id, _| keep(*id));
        let by_id = &self.by_id;
        self.by_handle.retain(|_, id| by_id.contains_key(id));
    }

    /// Forget every object (the token was re-initialized).
    pub(crate) fn clear(&mut self) {
        self.by_id.clear();
        self.by_handle.clear();
    }
}

/// Shards of the session registry (a power of two).
const SESSION_SHARDS: usize = 64;

/// One shard, alone on its cache line(s).
#[repr(align(64))]
#[derive(Default)]
struct SessionShard(RwLock<HashMap<u64, Arc<Session>>>);

/// Every open session of the module, by handle: O(1), sharded by handle. Session handles are
/// consecutive, so sessions opened one after another (one per thread, typically) land in
/// different shards and lookups from different threads touch different locks.
pub(crate) struct SessionTable {
    shards: Box<[SessionShard]>,
}

impl Default for SessionTable {
    fn default() -> Self {
        SessionTable {
            shards: (0..SESSION_SHARDS)
                .map(|_| SessionShard::default())
                .collect(),
        }
    }
}

impl SessionTable {
    fn shard(&self, handle: u64) -> &RwLock<HashMap<u64, Arc<Session>>> {
        // The remainder is below SESSION_SHARDS, so the cast never truncates.
        &self.shards[(handle % SESSION_SHARDS as u64) as usize].0
    }

    pub(crate) fn get(&self, handle: u64) -> Option<Arc<Session>> {
        self.shard(handle).read().get(&handle).cloned()
    }

    pub(crate) fn insert(&self, session: Arc<Session>) {
        let handle = session.handle();
        self.shard(handle).write().insert(handle, session);
    }

    pub(crate) fn remove(&self, handle: u64) -> Option<Arc<Session>> {
        self.shard(handle).write().remove(&handle)
    }

    pub(crate) fn clear(&self) {
        for s in self.shards.iter() {
            s.0.write().clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_stable_nonzero_and_never_reused() {
        let mut h = Handles::default();
        let a = h.handle(ObjectId(1));
        let b = h.handle(ObjectId(2));
        assert_ne!(a, 0);
        assert_ne!(a, b);
        assert_eq!(h.handle(ObjectId(1)), a);
        assert_eq!(h.id(b), Some(ObjectId(2)));
        h.forget(ObjectId(1));
        assert_eq!(h.id(a), None);
        assert_eq!(h.existing(ObjectId(1)), None);
        let a2 = h.handle(ObjectId(1));
        assert_ne!(a2, a, "a forgotten handle is never reused");
        let c = h.handle(ObjectId(3));
        h.retain(|id| id != ObjectId(2));
        assert_eq!((h.id(b), h.id(c)), (None, Some(ObjectId(3))));
        h.clear();
        assert_eq!(h.id(c), None);
    }
}
