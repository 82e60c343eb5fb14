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
}

impl Kind {
    pub fn as_u8(self) -> u8 {
        match self {
            Kind::Meta => 1,
            Kind::User => 2,
            Kind::Object => 3,
            Kind::Audit => 4,
        }
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

/// One write of an atomic batch.
#[derive(Debug, Clone)]
pub enum Write {
    /// Store `body` as version `expected + 1` (expected 0: the record must not exist yet).
    Put { kind: Kind, id: Vec<u8>, expected: u64, body: Vec<u8> },
    /// Delete the record if it is at version `expected`.
    Delete { kind: Kind, id: Vec<u8>, expected: u64 },
}

/// A change seen in the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Put(Record),
    Delete { kind: Kind, id: Vec<u8> },
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
    /// O(1): the hot path may call it on every lookup.
    fn change_marker(&self) -> Result<u64>;
    /// The changes after feed position `since` and the new position. Position 0 means
    /// "from the beginning".
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
