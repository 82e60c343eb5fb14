//! `trait Store`: versioned records with compare-and-swap writes and a change feed.
//!
//! The store holds opaque bodies; sealing (AES-256-GCM under the domain key, AAD binding kind,
//! id and version) is done by `store::seal` on the caller's side, so a backend never sees
//! plaintext and every backend (sqlite embedded, etcd in cluster mode) is interchangeable.
//! Every backend passes the conformance suite in `store::conformance`.

use serde::{Deserialize, Serialize};

use crate::error::Result;

pub mod seal;
pub mod sqlite;

#[cfg(test)]
mod conformance;

/// What a record is. Part of every record's key and of its sealing AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    /// Cluster-wide settings: activation, label, serial, domain-key check.
    Meta,
    /// A user: name, role, keyslot, failed-login counter.
    User,
    /// A token object (key, certificate, data), sealed under the domain key or, for public
    /// objects, under the public-object key.
    Object,
    /// Audit log records.
    Audit,
    /// Quorum authentication: settings, registered public keys, tokens (`hsm::quorum`).
    Quorum,
}

impl Kind {
    /// Every kind, in `as_u8` order.
    pub const ALL: [Kind; 5] = [
        Kind::Meta,
        Kind::User,
        Kind::Object,
        Kind::Audit,
        Kind::Quorum,
    ];

    /// The kind's stored number (stable: part of the on-disk format and of the sealing AAD).
    pub fn as_u8(self) -> u8 {
        match self {
            Kind::Meta => 1,
            Kind::User => 2,
            Kind::Object => 3,
            Kind::Audit => 4,
            Kind::Quorum => 5,
        }
    }

    /// The kind stored as `n`, or None for a number this version does not know.
    pub fn from_u8(n: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_u8() == n)
    }
}

/// A record as stored: `version` starts at 1 and grows by one on every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: Kind,
    pub id: Vec<u8>,
    pub version: u64,
    pub body: Vec<u8>,
}

/// One write of an atomic batch. `expected` is the version the caller last saw; 0 means
/// "the record does not exist".
#[derive(Debug, Clone)]
pub enum Write {
    /// Store `body` as version `expected + 1` (expected 0: the record must not exist yet).
    Put {
        kind: Kind,
        id: Vec<u8>,
        expected: u64,
        body: Vec<u8>,
    },
    /// Delete the record if it is at version `expected` (expected 0: succeeds, writing
    /// nothing, if the record does not exist).
    Delete {
        kind: Kind,
        id: Vec<u8>,
        expected: u64,
    },
}

/// A change seen in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The record now has this version and body (created or updated).
    Put(Record),
    /// The record was deleted.
    Delete { kind: Kind, id: Vec<u8> },
    /// The feed cannot say what changed since the given position (it is older than the
    /// oldest deletion the backend still remembers, or not a position of this store): drop
    /// every cached record. Only ever the first change of a batch, followed by one `Put` for
    /// every live record, i.e. a full reload.
    Reset,
}

/// A versioned record store shared by every process (and node) of a cluster.
pub trait Store: Send + Sync {
    /// One record, or None.
    fn get(&self, kind: Kind, id: &[u8]) -> Result<Option<Record>>;
    /// Every record of a kind.
    fn list(&self, kind: Kind) -> Result<Vec<Record>>;
    /// Apply every write or none, atomically (one transaction). A record not at its expected
    /// version makes the whole batch `CommitOutcome::Conflict` and writes nothing.
    fn commit(&self, writes: Vec<Write>) -> Result<CommitOutcome>;
    /// A number that changes whenever anyone (any process) committed since the last call.
    /// O(1): the hot path may call it on every lookup. Only equality is meaningful: compare
    /// with the value you saw last; the number is per store handle, not a feed position.
    fn change_marker(&self) -> Result<u64>;
    /// The changes after feed position `since` and the new position to pass next time.
    /// Position 0 means "from the beginning". Changes come in commit order; each record
    /// appears at most once, in its latest state (intermediate versions are not replayed).
    /// If `since` is too old for the backend to know every deletion after it (or is not a
    /// position of this store), the answer is `Change::Reset` followed by every live record.
    fn changes_since(&self, since: u64) -> Result<(u64, Vec<Change>)>;
}

/// What `commit` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Every write applied; the feed position after this commit.
    Committed(u64),
    /// Some record was not at the expected version; nothing was written.
    Conflict,
}
