//! The SQLite backend of `trait Store`: the embedded mode's store, shared by every process
//! on the host that opens the same directory (NGINX workers, pkcs11-tool, a Java app).
//!
//! The on-disk format is specified in `docs/store-format.md`; in short:
//!
//! - `dir/store.db` (mode 0600, in a 0700 directory), WAL journal, `synchronous=FULL`,
//!   schema version in `PRAGMA user_version`, our `PRAGMA application_id`.
//! - `records(kind, id, version, seq, body)`: bodies are opaque (sealed by the caller).
//! - `tombstones(kind, id, seq)` and the one-row `feed(seq, horizon, tombstones)`: every
//!   write transaction takes the next `seq`, stamps it on the rows it writes and stores it
//!   in `feed`, so `changes_since(p)` is "rows with `seq > p`" and a cache stays fresh by
//!   reloading only those.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions (the write lock is taken up front, so two
//! writers never deadlock upgrading a read lock), waiting for the lock through SQLite's busy
//! handler plus a bounded retry loop, `Error::StoreBusy` after that. Reads never block
//! writers (WAL).
//!
//! Fork: a connection must never be used, nor closed, by a process that did not open it
//! (SQLite's locks are per process). A `SqliteStore` remembers the pid that opened it; in
//! any other process every call fails with `Error::GeneralError` and dropping it leaks the
//! connection instead of closing it. `forget_after_fork` does the same explicitly.
//!
//! Locking: one `parking_lot::Mutex` per store around its connection; it is the only lock
//! here and nothing else is called while it is held.

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};
use rusqlite::config::DbConfig;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

use super::{Change, CommitOutcome, Kind, Record, Store, Write};
use crate::error::{Error, Result};

/// The database file inside the store directory.
pub const DB_FILE: &str = "store.db";

/// The schema version this code reads and writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id` of our databases: "CHSM".
pub const APPLICATION_ID: i64 = 0x4348_534d;

/// How many tombstones are kept; beyond that the oldest are pruned and readers older than
/// them get a full reload (`Change::Reset`).
pub const TOMBSTONE_LIMIT: u64 = 100_000;

/// How long one SQLite call waits in its busy handler for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a write (or the schema set-up) keeps retrying for the write lock in total.
const BUSY_DEADLINE: Duration = Duration::from_secs(10);

/// Bytes the WAL file is truncated to after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 16 * 1024 * 1024;

/// Prepared statements cached per connection (we use about 15).
const STATEMENT_CACHE: usize = 32;

const SCHEMA_V1: &str = "
CREATE TABLE records (
    kind    INTEGER NOT NULL,
    id      BLOB    NOT NULL,
    version INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    body    BLOB    NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX records_seq ON records (seq);
CREATE TABLE tombstones (
    kind INTEGER NOT NULL,
    id   BLOB    NOT NULL,
    seq  INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX tombstones_seq ON tombstones (seq);
CREATE TABLE feed (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    seq        INTEGER NOT NULL,
    horizon    INTEGER NOT NULL,
    tombstones INTEGER NOT NULL
);
INSERT INTO feed (one, seq, horizon, tombstones) VALUES (1, 0, 0, 0);
";

/// A store in one directory, backed by SQLite. See the module documentation.
pub struct SqliteStore {
    inner: Mutex<Option<Inner>>,
    /// The process that opened the connection; no other may use or close it.
    pid: u32,
    busy_deadline: Duration,
    tombstone_limit: u64,
}

struct Inner {
    conn: Connection,
    /// Commits made through this connection: `PRAGMA data_version` does not count them.
    own_commits: u64,
}

/// The one row of `feed`.
struct Feed {
    seq: i64,
    horizon: i64,
    tombstones: i64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (creating if needed) the store in `dir`.
    ///
    /// Creates `dir` with mode 0700 and `dir/store.db` with mode 0600 if missing, switches
    /// the database to WAL and creates the schema. A database of a newer schema version, or
    /// a SQLite file that is not ours, is `Error::TokenNotRecognized`; an unreadable one is
    /// `Error::StoreCorrupt`; a filesystem failure is `Error::DeviceError`.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        create_private_dir(dir)?;
        let path = dir.join(DB_FILE);
        // Create the file ourselves so it gets mode 0600 (SQLite would use 0644 less the
        // umask); SQLite gives its -wal and -shm files the database file's mode.
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                tracing::error!(error = %e, "cannot create the store database file");
                Error::DeviceError
            })?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Hardening for a file others might have written: no schema-defined functions or
        // triggers run with our privileges, no writes that could corrupt the file format.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
        let mode: String = retry_busy(BUSY_DEADLINE, || {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        })?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::error!(mode, "the store database refused WAL mode");
            return Err(Error::DeviceError);
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        // After a checkpoint, shrink a WAL that a burst of writes made large.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        set_up_schema(&conn, BUSY_DEADLINE)?;
        Ok(SqliteStore {
            inner: Mutex::new(Some(Inner {
                conn,
                own_commits: 0,
            })),
            pid: std::process::id(),
            busy_deadline: BUSY_DEADLINE,
            tombstone_limit: TOMBSTONE_LIMIT,
        })
    }

    /// The same store, giving up on a busy write lock after `deadline` instead of 10 s.
    pub fn with_busy_deadline(mut self, deadline: Duration) -> Self {
        self.busy_deadline = deadline;
        self
    }

    /// Give up this handle in a child process after `fork()`, without closing its
    /// connection: the connection (its file descriptors, locks and shared memory) belongs
    /// to the parent, and closing it here could release or corrupt the parent's state.
    /// The memory is leaked on purpose. The child opens its own `SqliteStore`.
    ///
    /// Dropping a `SqliteStore` in a process other than the one that opened it does the
    /// same, so this is the explicit spelling of what drop would do.
    pub fn forget_after_fork(mut self) {
        if let Some(inner) = self.inner.get_mut().take() {
            std::mem::forget(inner);
        }
    }

    /// The connection, locked, if this is the process that opened it.
    fn lock(&self) -> Result<MappedMutexGuard<'_, Inner>> {
        if std::process::id() != self.pid {
            tracing::error!("a store handle was used in a forked child; open a new one");
            return Err(Error::GeneralError);
        }
        MutexGuard::try_map(self.inner.lock(), Option::as_mut).map_err(|_| Error::GeneralError)
    }

    /// Check and apply one write inside `tx`. `Ok(false)`: the record was not at the
    /// expected version. `tombstones` tracks the tombstone count.
    fn apply(tx: &Transaction<'_>, write: &Write, seq: i64, tombstones: &mut i64) -> Result<bool> {
        let (kind, id) = match write {
            Write::Put { kind, id, .. } | Write::Delete { kind, id, .. } => (kind_num(*kind), id),
        };
        let applied = match write {
            Write::Put {
                expected: 0, body, ..
            } => tx
                .prepare_cached(
                    "INSERT INTO records (kind, id, version, seq, body) VALUES (?1, ?2, 1, ?3, ?4)
                     ON CONFLICT (kind, id) DO NOTHING",
                )?
                .execute(params![kind, id, seq, body])?,
            Write::Put { expected, body, .. } => {
                let old = version_num(*expected)?;
                let new = old.checked_add(1).ok_or(Error::ArgumentsBad)?;
                tx.prepare_cached(
                    "UPDATE records SET version = ?1, seq = ?2, body = ?3
                     WHERE kind = ?4 AND id = ?5 AND version = ?6",
                )?
                .execute(params![new, seq, body, kind, id, old])?
            }
            Write::Delete { expected: 0, .. } => {
                let exists = tx
                    .prepare_cached("SELECT 1 FROM records WHERE kind = ?1 AND id = ?2")?
                    .exists(params![kind, id])?;
                // Nothing to delete and nothing written: no tombstone either.
                return Ok(!exists);
            }
            Write::Delete { expected, .. } => tx
                .prepare_cached("DELETE FROM records WHERE kind = ?1 AND id = ?2 AND version = ?3")?
                .execute(params![kind, id, version_num(*expected)?])?,
        };
        if applied != 1 {
            return Ok(false);
        }
        let removed = tx
            .prepare_cached("DELETE FROM tombstones WHERE kind = ?1 AND id = ?2")?
            .execute(params![kind, id])?;
        *tombstones -= count_num(removed)?;
        if let Write::Delete { .. } = write {
            tx.prepare_cached("INSERT INTO tombstones (kind, id, seq) VALUES (?1, ?2, ?3)")?
                .execute(params![kind, id, seq])?;
            *tombstones += 1;
        }
        Ok(true)
    }

    /// Drop the oldest tombstones beyond the limit, moving the horizon past them.
    fn prune(&self, tx: &Transaction<'_>, feed: &mut Feed) -> Result<()> {
        let limit = i64::try_from(self.tombstone_limit).unwrap_or(i64::MAX);
        if feed.tombstones <= limit {
            return Ok(());
        }
        let excess = feed.tombstones - limit;
        let newest_pruned: Option<i64> = tx
            .prepare_cached(
                "SELECT max(seq) FROM (SELECT seq FROM tombstones ORDER BY seq LIMIT ?1)",
            )?
            .query_row(params![excess], |row| row.get(0))?;
        if let Some(h) = newest_pruned {
            let removed = tx
                .prepare_cached("DELETE FROM tombstones WHERE seq <= ?1")?
                .execute(params![h])?;
            feed.tombstones -= count_num(removed)?;
            feed.horizon = feed.horizon.max(h);
        }
        Ok(())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if std::process::id() != self.pid {
            if let Some(inner) = self.inner.get_mut().take() {
                std::mem::forget(inner);
            }
        }
    }
}

impl Store for SqliteStore {
    fn get(&self, kind: Kind, id: &[u8]) -> Result<Option<Record>> {
        let inner = self.lock()?;
        let row = inner
            .conn
            .prepare_cached("SELECT version, body FROM records WHERE kind = ?1 AND id = ?2")?
            .query_row(params![kind_num(kind), id], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
            })
            .optional()?;
        row.map(|(version, body)| {
            Ok(Record {
                kind,
                id: id.to_vec(),
                version: stored_version(version)?,
                body,
            })
        })
        .transpose()
    }

    fn list(&self, kind: Kind) -> Result<Vec<Record>> {
        let inner = self.lock()?;
        let mut stmt = inner
            .conn
            .prepare_cached("SELECT id, version, body FROM records WHERE kind = ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![kind_num(kind)], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Vec<u8>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, version, body) = row?;
            out.push(Record {
                kind,
                id,
                version: stored_version(version)?,
                body,
            });
        }
        Ok(out)
    }

    fn commit(&self, writes: Vec<Write>) -> Result<CommitOutcome> {
        let mut inner = self.lock()?;
        if writes.is_empty() {
            let feed = read_feed(&inner.conn)?;
            return Ok(CommitOutcome::Committed(stored_seq(feed.seq)?));
        }
        let tx = retry_busy(self.busy_deadline, || {
            Transaction::new_unchecked(&inner.conn, TransactionBehavior::Immediate)
        })?;
        let mut feed = read_feed(&tx)?;
        let seq = feed.seq.checked_add(1).ok_or(Error::StoreCorrupt)?;
        for write in &writes {
            if !Self::apply(&tx, write, seq, &mut feed.tombstones)? {
                tx.rollback()?;
                return Ok(CommitOutcome::Conflict);
            }
        }
        self.prune(&tx, &mut feed)?;
        tx.prepare_cached("UPDATE feed SET seq = ?1, horizon = ?2, tombstones = ?3 WHERE one = 1")?
            .execute(params![seq, feed.horizon, feed.tombstones])?;
        tx.commit()?;
        inner.own_commits = inner.own_commits.wrapping_add(1);
        Ok(CommitOutcome::Committed(stored_seq(seq)?))
    }

    /// `(PRAGMA data_version << 32) + commits through this handle`. `data_version` changes
    /// exactly when another connection (any process) committed; it costs no I/O (in WAL
    /// mode SQLite compares the shared-memory WAL index header).
    fn change_marker(&self) -> Result<u64> {
        let inner = self.lock()?;
        let data_version: i64 = inner
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?;
        let data_version = u64::try_from(data_version).map_err(|_| Error::StoreCorrupt)?;
        Ok((data_version << 32).wrapping_add(inner.own_commits))
    }

    fn changes_since(&self, since: u64) -> Result<(u64, Vec<Change>)> {
        let inner = self.lock()?;
        // One read transaction: the position and the rows come from one snapshot.
        let tx = Transaction::new_unchecked(&inner.conn, TransactionBehavior::Deferred)?;
        let feed = read_feed(&tx)?;
        let since = i64::try_from(since).unwrap_or(i64::MAX);
        let mut changes = Vec::new();
        if since < feed.horizon || since > feed.seq {
            changes.push(Change::Reset);
            let mut stmt =
                tx.prepare_cached("SELECT kind, id, version, body FROM records ORDER BY seq")?;
            let rows = stmt.query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, Vec<u8>>(3)?,
                ))
            })?;
            for row in rows {
                let (kind, id, version, body) = row?;
                if let Some(kind) = stored_kind(kind) {
                    changes.push(Change::Put(Record {
                        kind,
                        id,
                        version: stored_version(version)?,
                        body,
                    }));
                }
            }
        } else {
            let mut puts = tx.prepare_cached(
                "SELECT seq, kind, id, version, body FROM records WHERE seq > ?1 ORDER BY seq",
            )?;
            let puts = puts.query_map(params![since], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, Vec<u8>>(4)?,
                ))
            })?;
            let mut dels = tx.prepare_cached(
                "SELECT seq, kind, id FROM tombstones WHERE seq > ?1 ORDER BY seq",
            )?;
            let dels = dels.query_map(params![since], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            })?;
            let mut seqd: Vec<(i64, Change)> = Vec::new();
            for row in puts {
                let (seq, kind, id, version, body) = row?;
                if let Some(kind) = stored_kind(kind) {
                    let version = stored_version(version)?;
                    seqd.push((
                        seq,
                        Change::Put(Record {
                            kind,
                            id,
                            version,
                            body,
                        }),
                    ));
                }
            }
            for row in dels {
                let (seq, kind, id) = row?;
                if let Some(kind) = stored_kind(kind) {
                    seqd.push((seq, Change::Delete { kind, id }));
                }
            }
            // Both lists are sorted by seq; a stable sort merges them. Within one seq (one
            // commit) every (kind, id) appears once, so the order there does not matter.
            seqd.sort_by_key(|(seq, _)| *seq);
            changes.extend(seqd.into_iter().map(|(_, change)| change));
        }
        tx.commit()?;
        Ok((stored_seq(feed.seq)?, changes))
    }
}

/// Create `dir` (and missing parents) with mode 0700; warn if an existing one is open to
/// others.
fn create_private_dir(dir: &Path) -> Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            tracing::error!(error = %e, "cannot create the store directory");
            Error::DeviceError
        })?;
    if let Ok(meta) = std::fs::metadata(dir) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!("the store directory is accessible to other users");
        }
    }
    Ok(())
}

/// Create the schema on a fresh database, or check that an existing one is ours and of a
/// version we know.
fn set_up_schema(conn: &Connection, deadline: Duration) -> Result<()> {
    if check_schema(conn)? {
        return Ok(());
    }
    // Fresh database: create the schema under the write lock, unless another process
    // did so while we were looking.
    let tx = retry_busy(deadline, || {
        Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
    })?;
    if check_schema(&tx)? {
        return Ok(());
    }
    let objects: i64 = tx.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    if objects != 0 {
        tracing::error!("the store database holds tables of another application");
        return Err(Error::TokenNotRecognized);
    }
    tx.execute_batch(SCHEMA_V1)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// `Ok(true)`: a database of our current schema; `Ok(false)`: an empty database.
fn check_schema(conn: &Connection) -> Result<bool> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let app: i64 = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
    match version {
        0 => Ok(false),
        SCHEMA_VERSION if app == APPLICATION_ID => Ok(true),
        _ => {
            tracing::error!(version, app, "unknown store database format");
            Err(Error::TokenNotRecognized)
        }
    }
}

fn read_feed(conn: &Connection) -> Result<Feed> {
    Ok(conn
        .prepare_cached("SELECT seq, horizon, tombstones FROM feed WHERE one = 1")?
        .query_row([], |row| {
            Ok(Feed {
                seq: row.get(0)?,
                horizon: row.get(1)?,
                tombstones: row.get(2)?,
            })
        })?)
}

/// Run `f` until it does not fail with SQLITE_BUSY / SQLITE_LOCKED or `deadline` passed.
/// Each attempt already waits up to `BUSY_TIMEOUT` in SQLite's busy handler; this loop
/// covers the cases where SQLite reports busy without waiting.
fn retry_busy<T>(deadline: Duration, mut f: impl FnMut() -> rusqlite::Result<T>) -> Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let err = match f() {
            Ok(value) => return Ok(value),
            Err(e) => Error::from(e),
        };
        let elapsed = start.elapsed();
        if err != Error::StoreBusy || elapsed >= deadline {
            if err == Error::StoreBusy {
                tracing::warn!(?elapsed, "store write lock still busy; giving up");
            }
            return Err(err);
        }
        std::thread::sleep(pause.min(deadline - elapsed));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn kind_num(kind: Kind) -> i64 {
    i64::from(kind.as_u8())
}

/// A stored kind number; None for kinds this version does not know (skipped by the feed).
fn stored_kind(n: i64) -> Option<Kind> {
    u8::try_from(n).ok().and_then(Kind::from_u8)
}

/// A caller's version as stored (versions beyond i64::MAX cannot exist).
fn version_num(version: u64) -> Result<i64> {
    i64::try_from(version).map_err(|_| Error::ArgumentsBad)
}

fn stored_version(version: i64) -> Result<u64> {
    match u64::try_from(version) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(Error::StoreCorrupt),
    }
}

fn stored_seq(seq: i64) -> Result<u64> {
    u64::try_from(seq).map_err(|_| Error::StoreCorrupt)
}

fn count_num(n: usize) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::StoreCorrupt)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;

    fn put(kind: Kind, id: &[u8], expected: u64, body: &[u8]) -> Write {
        Write::Put {
            kind,
            id: id.to_vec(),
            expected,
            body: body.to_vec(),
        }
    }

    fn del(kind: Kind, id: &[u8], expected: u64) -> Write {
        Write::Delete {
            kind,
            id: id.to_vec(),
            expected,
        }
    }

    fn raw(dir: &Path) -> Connection {
        Connection::open(dir.join(DB_FILE)).unwrap()
    }

    #[test]
    fn creates_private_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/store");
        let store = SqliteStore::open(&dir).unwrap();
        store.commit(vec![put(Kind::Meta, b"m", 0, b"x")]).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir.join(DB_FILE)), 0o600);
        assert_eq!(mode(&dir.join("store.db-wal")), 0o600);
        assert_eq!(mode(&dir.join("store.db-shm")), 0o600);
        let conn = raw(&dir);
        let jm: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(jm, "wal");
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn refuses_newer_schema_and_foreign_databases() {
        let tmp = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(tmp.path()).unwrap());
        raw(tmp.path())
            .pragma_update(None, "user_version", 2)
            .unwrap();
        assert_eq!(
            SqliteStore::open(tmp.path()).unwrap_err(),
            Error::TokenNotRecognized
        );

        let other = tempfile::tempdir().unwrap();
        raw(other.path())
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        assert_eq!(
            SqliteStore::open(other.path()).unwrap_err(),
            Error::TokenNotRecognized
        );

        let other = tempfile::tempdir().unwrap();
        let conn = raw(other.path());
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        assert_eq!(
            SqliteStore::open(other.path()).unwrap_err(),
            Error::TokenNotRecognized
        );

        let garbage = tempfile::tempdir().unwrap();
        std::fs::write(garbage.path().join(DB_FILE), vec![0x55u8; 8192]).unwrap();
        assert_eq!(
            SqliteStore::open(garbage.path()).unwrap_err(),
            Error::StoreCorrupt
        );
    }

    #[test]
    fn many_processes_opening_a_fresh_store_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fresh");
        std::thread::scope(|scope| {
            let opened: Vec<_> = (0..8)
                .map(|i| {
                    let dir = &dir;
                    scope.spawn(move || {
                        let s = SqliteStore::open(dir).unwrap();
                        s.commit(vec![put(Kind::User, &[i], 0, b"u")]).unwrap()
                    })
                })
                .collect();
            for t in opened {
                assert!(matches!(t.join().unwrap(), CommitOutcome::Committed(_)));
            }
        });
        let s = SqliteStore::open(&dir).unwrap();
        assert_eq!(s.list(Kind::User).unwrap().len(), 8);
        assert_eq!(s.changes_since(0).unwrap().0, 8);
    }

    #[test]
    fn reopen_keeps_data_and_schema() {
        let tmp = tempfile::tempdir().unwrap();
        let a = SqliteStore::open(tmp.path()).unwrap();
        a.commit(vec![put(Kind::User, b"u", 0, b"1")]).unwrap();
        drop(a);
        let b = SqliteStore::open(tmp.path()).unwrap();
        assert_eq!(b.get(Kind::User, b"u").unwrap().unwrap().body, b"1");
        assert_eq!(b.changes_since(0).unwrap().0, 1);
    }

    #[test]
    fn busy_write_lock_gives_store_busy_after_deadline() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path())
            .unwrap()
            .with_busy_deadline(Duration::from_millis(300));
        let blocker = raw(tmp.path());
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let start = Instant::now();
        let r = store.commit(vec![put(Kind::Meta, b"m", 0, b"x")]);
        assert_eq!(r, Err(Error::StoreBusy));
        // The busy handler waits up to BUSY_TIMEOUT per attempt on top of the deadline.
        assert!(start.elapsed() < Duration::from_millis(300) + BUSY_TIMEOUT * 2);
        // Reads are not blocked by a writer (WAL).
        assert_eq!(store.get(Kind::Meta, b"m").unwrap(), None);
        blocker.execute_batch("COMMIT").unwrap();
        assert!(matches!(
            store.commit(vec![put(Kind::Meta, b"m", 0, b"x")]),
            Ok(CommitOutcome::Committed(1))
        ));
    }

    #[test]
    fn busy_write_lock_released_in_time_is_waited_for() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let blocker = raw(tmp.path());
        blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            blocker.execute_batch("COMMIT").unwrap();
        });
        let r = store.commit(vec![put(Kind::Meta, b"m", 0, b"x")]);
        assert_eq!(r, Ok(CommitOutcome::Committed(1)));
        t.join().unwrap();
    }

    #[test]
    fn tombstones_are_bounded_and_old_readers_reload() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(tmp.path()).unwrap();
        store.tombstone_limit = 3;
        for i in 0u8..6 {
            store
                .commit(vec![put(Kind::Object, &[i], 0, b"v")])
                .unwrap();
        }
        // Position 6: six records. Delete five, one per commit: positions 7..=11.
        for i in 0u8..5 {
            store.commit(vec![del(Kind::Object, &[i], 1)]).unwrap();
        }
        let count: i64 = raw(tmp.path())
            .query_row("SELECT count(*) FROM tombstones", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 3);
        let (pos, changes) = store.changes_since(9).unwrap();
        assert_eq!(pos, 11);
        assert_eq!(
            changes,
            vec![
                Change::Delete {
                    kind: Kind::Object,
                    id: vec![3]
                },
                Change::Delete {
                    kind: Kind::Object,
                    id: vec![4]
                },
            ]
        );
        // Horizon is 8 (tombstones of commits 7 and 8 are gone).
        assert!(!matches!(
            store.changes_since(8).unwrap().1.first(),
            Some(Change::Reset)
        ));
        for since in [0, 6, 7] {
            let (pos, changes) = store.changes_since(since).unwrap();
            assert_eq!(pos, 11);
            assert_eq!(changes.len(), 2, "since {since}: {changes:?}");
            assert_eq!(changes[0], Change::Reset);
            assert!(matches!(&changes[1], Change::Put(r) if r.id == vec![5]));
        }
        // A position from the future (not of this store) also reloads.
        assert_eq!(store.changes_since(12).unwrap().1[0], Change::Reset);
        // The count stays right through re-creation of a deleted id.
        store
            .commit(vec![put(Kind::Object, &[4], 0, b"again")])
            .unwrap();
        let (tomb, counted): (i64, i64) = raw(tmp.path())
            .query_row(
                "SELECT (SELECT tombstones FROM feed), (SELECT count(*) FROM tombstones)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((tomb, counted), (2, 2));
    }

    #[test]
    fn handle_from_another_process_is_refused_and_leaked() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(tmp.path()).unwrap();
        store.commit(vec![put(Kind::Meta, b"m", 0, b"x")]).unwrap();
        // Pretend we are the child of a fork: the handle's pid is not ours.
        store.pid = store.pid.wrapping_add(1);
        assert_eq!(store.get(Kind::Meta, b"m"), Err(Error::GeneralError));
        assert_eq!(store.change_marker(), Err(Error::GeneralError));
        assert_eq!(store.commit(vec![]), Err(Error::GeneralError));
        drop(store); // leaks, does not close
        let again = SqliteStore::open(tmp.path()).unwrap();
        assert!(again.get(Kind::Meta, b"m").unwrap().is_some());
        again.forget_after_fork();
    }

    #[test]
    fn delete_expecting_absent() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        assert_eq!(
            store.commit(vec![del(Kind::Object, b"x", 0)]),
            Ok(CommitOutcome::Committed(1))
        );
        assert_eq!(store.changes_since(0).unwrap().1, vec![]);
        store
            .commit(vec![put(Kind::Object, b"x", 0, b"v")])
            .unwrap();
        assert_eq!(
            store.commit(vec![del(Kind::Object, b"x", 0)]),
            Ok(CommitOutcome::Conflict)
        );
    }

    /// The cost of `change_marker` and of its alternative (reading the feed's seq). Run
    /// with `cargo test --release -- --ignored --nocapture change_marker_cost`.
    #[test]
    #[ignore = "benchmark"]
    fn change_marker_cost() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(tmp.path()).unwrap();
        let other = SqliteStore::open(tmp.path()).unwrap();
        store.commit(vec![put(Kind::Meta, b"m", 0, b"x")]).unwrap();
        let n = 200_000u32;
        let time = |name: &str, f: &mut dyn FnMut()| {
            for _ in 0..1000 {
                f();
            }
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            println!("{name}: {:?} per call", start.elapsed() / n);
        };
        time("change_marker (data_version)", &mut || {
            std::hint::black_box(store.change_marker().unwrap());
        });
        time("feed seq read", &mut || {
            let inner = store.lock().unwrap();
            let seq: i64 = inner
                .conn
                .prepare_cached("SELECT seq FROM feed WHERE one = 1")
                .unwrap()
                .query_row([], |r| r.get(0))
                .unwrap();
            std::hint::black_box(seq);
        });
        time(
            "SELECT 1 (statement overhead, no read transaction)",
            &mut || {
                let inner = store.lock().unwrap();
                let one: i64 = inner
                    .conn
                    .prepare_cached("SELECT 1")
                    .unwrap()
                    .query_row([], |r| r.get(0))
                    .unwrap();
                std::hint::black_box(one);
            },
        );
        time("getpid", &mut || {
            std::hint::black_box(std::process::id());
        });
        // With another process's commit in between every call (worst case for both).
        let mut i = 0u64;
        let n2 = 2000u32;
        let mut cm = Duration::ZERO;
        let mut sq = Duration::ZERO;
        for _ in 0..n2 {
            other
                .commit(vec![put(Kind::Audit, &i.to_be_bytes(), 0, b"a")])
                .unwrap();
            i += 1;
            let t = Instant::now();
            std::hint::black_box(store.change_marker().unwrap());
            cm += t.elapsed();
            other
                .commit(vec![put(Kind::Audit, &i.to_be_bytes(), 0, b"a")])
                .unwrap();
            i += 1;
            let t = Instant::now();
            let inner = store.lock().unwrap();
            let seq: i64 = inner
                .conn
                .prepare_cached("SELECT seq FROM feed WHERE one = 1")
                .unwrap()
                .query_row([], |r| r.get(0))
                .unwrap();
            drop(inner);
            sq += t.elapsed();
            std::hint::black_box(seq);
        }
        println!(
            "after a foreign commit: change_marker {:?}, feed seq read {:?}",
            cm / n2,
            sq / n2
        );
        let t = Instant::now();
        for j in 0..200u64 {
            store
                .commit(vec![put(Kind::Object, &j.to_be_bytes(), 0, &[0u8; 1000])])
                .unwrap();
        }
        println!(
            "commit (synchronous=FULL, 1 KB record): {:?}",
            t.elapsed() / 200
        );
    }
}
