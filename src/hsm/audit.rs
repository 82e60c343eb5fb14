//! The tamper-evident audit log: one JSON line per management event, in `<store>/audit.log`
//! (rotated by size into `audit.log.<first seq>`), shared by every process of the store.
//!
//! Each record carries a gap-free sequence number, the time in µs, the store's boot counter
//! (this process's start number), the opcode, user, role, key references and response, the
//! SHA-256 `prev` of the previous line, and `mac`: HMAC-SHA256 over the record (without `mac`)
//! under a key derived from the domain key. A process that holds no domain key (nobody logged
//! in yet, e.g. a failed login) writes `mac: null`; the next record written by a process that
//! holds it covers those records through the `prev` hash chain. `verify` therefore proves
//! every record up to the last MAC'd one, and says how many follow it unauthenticated.
//!
//! Appends take an exclusive lock on `audit.lock` (std `File::lock`), read the last record and
//! append under it, so several processes never interleave or leave gaps. A process keeps the
//! lock file and the live file open between appends, reused while their paths still name the
//! same files (device and inode, checked under the lock). It also remembers
//! where its own last append left the live file (device, inode, length) with that record's
//! sequence number and hash: while the file is still exactly so under the lock, no other
//! process has appended and the last record need not be read back. Nothing here runs on
//! the crypto hot path: crypto operations are only counted (`Counters`).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::crypto::digest::digest;
use crate::crypto::hmac::HmacKey;
use crate::crypto::HashAlg;
use crate::error::{Error, Result};

/// Rotate the live file beyond this size.
pub const ROTATE_BYTES: u64 = 8 << 20;

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: u64,
    pub time_us: u64,
    pub boot: u64,
    pub opcode: String,
    pub user: Option<String>,
    pub role: Option<String>,
    pub keys: Vec<String>,
    pub response: String,
    pub prev: String,
    pub mac: Option<String>,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Every record chains; `authenticated` of `count` are covered by a MAC.
    Ok { count: u64, authenticated: u64 },
    /// The first bad record, by sequence number, and why.
    Bad { seq: u64, reason: String },
}

/// The audit log of one store.
pub struct AuditLog {
    dir: PathBuf,
    boot: u64,
    key: Mutex<Option<HmacKey>>,
    /// What appends keep between calls (taken under `key`'s lock).
    appender: Mutex<Appender>,
    /// Rotate beyond this size (`ROTATE_BYTES`; smaller in tests).
    rotate_at: u64,
}

/// Kept between appends: the lock file and live file open (each with the device and inode it
/// was opened at, reused while the path still names that file) and where this process's last
/// append left the live file. (A forked child shares these open files' locks with its
/// parent, so it must not append through an inherited `AuditLog`: the PKCS#11 layer never
/// uses the parent's core in a child, it opens its own.)
#[derive(Default)]
struct Appender {
    lock: Option<(File, (u64, u64))>,
    live: Option<(File, (u64, u64))>,
    tail: Option<Tail>,
}

/// `file`, reused if it is still the file at `path` (`now`: its identity), else `path`
/// opened afresh (created if missing) with `options`.
fn reopen<'a>(
    slot: &'a mut Option<(File, (u64, u64))>,
    path: &Path,
    now: Option<(u64, u64, u64)>,
    options: &OpenOptions,
) -> Result<&'a File> {
    use std::os::unix::fs::MetadataExt;
    let current = matches!((&*slot, now), (Some((_, id)), Some((d, i, _))) if *id == (d, i));
    if !current {
        *slot = None;
        let f = options.open(path).map_err(io)?;
        let m = f.metadata().map_err(io)?;
        *slot = Some((f, (m.dev(), m.ino())));
    }
    match slot {
        Some((f, _)) => Ok(f),
        None => Err(Error::GeneralError),
    }
}

/// The live file as this process's last append left it, and its last record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tail {
    dev: u64,
    ino: u64,
    len: u64,
    seq: u64,
    /// SHA-256 (hex) of the last line.
    prev: String,
}

/// (device, inode, length) of a file, `None` if it does not exist.
fn identity(path: &Path) -> Result<Option<(u64, u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some((m.dev(), m.ino(), m.len()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
    }
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn io(_: std::io::Error) -> Error {
    Error::DeviceError
}

/// The MAC key for audit records, derived from the domain key.
pub fn audit_key(dk: &[u8; 32]) -> Result<HmacKey> {
    let k = crate::crypto::kdf::hkdf_sha256(dk, b"cloudhsm-audit", b"audit-mac-v1", 32)?;
    Ok(HmacKey::new(HashAlg::Sha256, &k))
}

fn record_mac(key: &HmacKey, rec: &AuditRecord) -> Result<String> {
    let mut unsigned = rec.clone();
    unsigned.mac = None;
    let bytes = serde_json::to_vec(&unsigned).map_err(|_| Error::GeneralError)?;
    Ok(hex::encode(key.sign(&bytes)))
}

impl AuditLog {
    /// Open the log of the store in `dir`, counting this process as one more boot.
    pub fn open(dir: &Path) -> Result<AuditLog> {
        let log = AuditLog {
            dir: dir.to_path_buf(),
            boot: 0,
            key: Mutex::new(None),
            appender: Mutex::new(Appender::default()),
            rotate_at: ROTATE_BYTES,
        };
        let boot = log.with_lock(|_| {
            let p = log.dir.join("audit.boot");
            let n = std::fs::read_to_string(&p)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(0)
                + 1;
            std::fs::write(&p, n.to_string()).map_err(io)?;
            Ok(n)
        })?;
        Ok(AuditLog { boot, ..log })
    }

    /// Give (or take away) the MAC key: set at login, cleared when nobody is logged in.
    pub fn set_key(&self, key: Option<HmacKey>) {
        *self.key.lock() = key;
    }

    fn with_lock<T>(&self, f: impl FnOnce(&File) -> Result<T>) -> Result<T> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("audit.lock"))
            .map_err(io)?;
        lock.lock().map_err(io)?;
        let out = f(&lock);
        let _ = lock.unlock();
        out
    }

    fn live(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    /// Append one record.
    pub fn append(
        &self,
        opcode: &str,
        user: Option<&str>,
        role: Option<&str>,
        keys: Vec<String>,
        response: &str,
    ) -> Result<()> {
        let key_guard = self.key.lock();
        let mut appender = self.appender.lock();
        let Appender { lock, live, tail } = &mut *appender;
        let lock_path = self.dir.join("audit.lock");
        let lock_now = identity(&lock_path)?;
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        let lock = reopen(lock, &lock_path, lock_now, &options)?;
        lock.lock().map_err(io)?;
        let result = (|| {
            let live_now = identity(&self.live())?;
            let known = tail
                .as_ref()
                .filter(|t| live_now == Some((t.dev, t.ino, t.len)))
                .map(|t| (t.seq, t.prev.clone()));
            *tail = None;
            let (last_seq, prev) = match known {
                Some(k) => k,
                None => match last_line(&self.live())? {
                    Some(line) => {
                        let rec: AuditRecord =
                            serde_json::from_str(&line).map_err(|_| Error::DeviceError)?;
                        (
                            rec.seq,
                            hex::encode(digest(HashAlg::Sha256, line.as_bytes())),
                        )
                    }
                    None => self.last_of_rotated()?,
                },
            };
            let mut rec = AuditRecord {
                seq: last_seq + 1,
                time_us: now_us(),
                boot: self.boot,
                opcode: opcode.to_string(),
                user: user.map(str::to_string),
                role: role.map(str::to_string),
                keys,
                response: response.to_string(),
                prev,
                mac: None,
            };
            if let Some(k) = key_guard.as_ref() {
                rec.mac = Some(record_mac(k, &rec)?);
            }
            let mut line = serde_json::to_string(&rec).map_err(|_| Error::GeneralError)?;
            line.push('\n');
            let live_path = self.live();
            let mut live_now = live_now;
            if live_now.is_some_and(|(_, _, len)| len > self.rotate_at) {
                // Rotation keeps the chain: the new file's first record hashes the old last line.
                let first = first_seq(&live_path)?.unwrap_or(rec.seq);
                std::fs::rename(&live_path, self.dir.join(format!("audit.log.{first:020}")))
                    .map_err(io)?;
                live_now = None;
            }
            let mut append = OpenOptions::new();
            append.create(true).append(true);
            let mut f = reopen(live, &live_path, live_now, &append)?;
            f.write_all(line.as_bytes()).map_err(io)?;
            f.sync_data().map_err(io)?;
            {
                use std::os::unix::fs::MetadataExt;
                let m = f.metadata().map_err(io)?;
                let written = line.trim_end_matches('\n');
                *tail = Some(Tail {
                    dev: m.dev(),
                    ino: m.ino(),
                    len: m.len(),
                    seq: rec.seq,
                    prev: hex::encode(digest(HashAlg::Sha256, written.as_bytes())),
                });
            }
            Ok(())
        })();
        let _ = lock.unlock();
        result
    }

    /// (last seq, hash of last line) from the newest rotated file, or the start of the chain.
    fn last_of_rotated(&self) -> Result<(u64, String)> {
        match self.files()?.into_iter().rev().find(|p| *p != self.live()) {
            Some(p) => match last_line(&p)? {
                Some(line) => {
                    let rec: AuditRecord =
                        serde_json::from_str(&line).map_err(|_| Error::DeviceError)?;
                    Ok((
                        rec.seq,
                        hex::encode(digest(HashAlg::Sha256, line.as_bytes())),
                    ))
                }
                None => Ok((0, String::new())),
            },
            None => Ok((0, String::new())),
        }
    }

    /// Every log file, oldest first.
    fn files(&self) -> Result<Vec<PathBuf>> {
        let mut rotated: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("audit.log."))
            })
            .collect();
        rotated.sort();
        if self.live().exists() {
            rotated.push(self.live());
        }
        Ok(rotated)
    }

    /// Check the whole chain with the MAC key.
    pub fn verify(&self, key: &HmacKey) -> Result<Verdict> {
        self.with_lock(|_| {
            let mut expected_seq = 1u64;
            let mut prev = String::new();
            let mut authenticated = 0u64;
            let mut pending = 0u64;
            for path in self.files()? {
                let f = File::open(&path).map_err(io)?;
                for line in BufReader::new(f).lines() {
                    let line = line.map_err(io)?;
                    let rec: AuditRecord = match serde_json::from_str(&line) {
                        Ok(r) => r,
                        Err(_) => {
                            return Ok(Verdict::Bad {
                                seq: expected_seq,
                                reason: "unreadable record".into(),
                            })
                        }
                    };
                    if rec.seq != expected_seq {
                        let reason = if rec.seq > expected_seq {
                            format!("missing records {expected_seq}..{}", rec.seq - 1)
                        } else {
                            "reordered or repeated record".to_string()
                        };
                        return Ok(Verdict::Bad {
                            seq: expected_seq,
                            reason,
                        });
                    }
                    if rec.prev != prev {
                        return Ok(Verdict::Bad {
                            seq: rec.seq,
                            reason: "does not chain to the previous record".into(),
                        });
                    }
                    match &rec.mac {
                        Some(mac) => {
                            let want = record_mac(key, &rec)?;
                            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                                want.as_bytes(),
                                mac.as_bytes(),
                            )) {
                                return Ok(Verdict::Bad {
                                    seq: rec.seq,
                                    reason: "forged: MAC does not match".into(),
                                });
                            }
                            authenticated += pending + 1;
                            pending = 0;
                        }
                        None => pending += 1,
                    }
                    prev = hex::encode(digest(HashAlg::Sha256, line.as_bytes()));
                    expected_seq += 1;
                }
            }
            Ok(Verdict::Ok {
                count: expected_seq - 1,
                authenticated,
            })
        })
    }
}

fn last_line(path: &Path) -> Result<Option<String>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let len = f.metadata().map_err(io)?.len();
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).map_err(io)?;
        let text = String::from_utf8_lossy(&buf);
        let trimmed = text.trim_end_matches('\n');
        if let Some(pos) = trimmed.rfind('\n') {
            return Ok(Some(trimmed[pos + 1..].to_string()));
        }
        if start == 0 {
            return Ok((!trimmed.is_empty()).then(|| trimmed.to_string()));
        }
        window *= 4;
    }
}

fn first_seq(path: &Path) -> Result<Option<u64>> {
    let f = File::open(path).map_err(io)?;
    match BufReader::new(f).lines().next() {
        Some(Ok(line)) => Ok(serde_json::from_str::<AuditRecord>(&line)
            .ok()
            .map(|r| r.seq)),
        _ => Ok(None),
    }
}

/// Operation counters per mechanism, for `cluster_info`: lock-free and sharded. Each thread
/// counts into its own shard (threads are spread over the shards round-robin), so threads
/// counting at the same time never write the same cache line; a snapshot sums the shards.
pub struct Counters {
    /// The counted mechanisms, sorted (a counter's index is its position here).
    mechs: Vec<u64>,
    /// `SHARDS` runs of `stride` counters each: the mechanisms' in order, then "other".
    counts: Box<[AtomicU64]>,
    stride: usize,
}

/// Shards of [`Counters`].
const SHARDS: usize = 16;

/// The shard of the calling thread.
fn counter_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.try_with(|s| *s).unwrap_or(0)
}

impl Counters {
    /// Counters for the given mechanism numbers.
    pub fn new(mechs: impl IntoIterator<Item = u64>) -> Self {
        let mut mechs: Vec<u64> = mechs.into_iter().collect();
        mechs.sort_unstable();
        mechs.dedup();
        // One slot per mechanism plus "other", rounded up to whole 64-byte lines, plus one
        // line of padding: whatever the allocation's alignment, no line holds two shards.
        let stride = (mechs.len() + 1).div_ceil(8) * 8 + 8;
        Counters {
            mechs,
            counts: (0..SHARDS * stride).map(|_| AtomicU64::new(0)).collect(),
            stride,
        }
    }

    /// Count one operation with a mechanism (called at C_*Init).
    pub fn count(&self, mech: u64) {
        let slot = self.mechs.binary_search(&mech).unwrap_or(self.mechs.len());
        if let Some(c) = self.counts.get(counter_shard() * self.stride + slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn total(&self, slot: usize) -> u64 {
        (0..SHARDS)
            .filter_map(|s| self.counts.get(s * self.stride + slot))
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// (total, per mechanism with a non-zero count).
    pub fn snapshot(&self) -> (u64, BTreeMap<u64, u64>) {
        let per: BTreeMap<u64, u64> = self
            .mechs
            .iter()
            .enumerate()
            .map(|(i, m)| (*m, self.total(i)))
            .filter(|(_, c)| *c > 0)
            .collect();
        (
            per.values().sum::<u64>() + self.total(self.mechs.len()),
            per,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_over_threads_and_shards() {
        let c = Counters::new([5, 1, 3]);
        std::thread::scope(|s| {
            for _ in 0..(2 * SHARDS + 1) {
                s.spawn(|| {
                    for _ in 0..10 {
                        c.count(3);
                    }
                    c.count(1);
                    c.count(99);
                });
            }
        });
        let n = (2 * SHARDS + 1) as u64;
        let (total, per) = c.snapshot();
        assert_eq!(per.get(&3), Some(&(10 * n)));
        assert_eq!(per.get(&1), Some(&n));
        assert_eq!(per.get(&5), None);
        assert_eq!(total, 12 * n, "the unknown mechanism counts as other");
    }

    #[test]
    fn rotation_with_two_processes_keeps_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = AuditLog::open(dir.path()).unwrap();
        let mut b = AuditLog::open(dir.path()).unwrap();
        a.rotate_at = 1500;
        b.rotate_at = 1500;
        let key = audit_key(&[5u8; 32]).unwrap();
        a.set_key(Some(audit_key(&[5u8; 32]).unwrap()));
        b.set_key(Some(audit_key(&[5u8; 32]).unwrap()));
        for i in 0..40 {
            let log = if i % 3 == 0 { &b } else { &a };
            log.append(
                "CN_DERIVE_KEY",
                Some("cu1"),
                None,
                vec![i.to_string()],
                "OK",
            )
            .unwrap();
        }
        let rotated = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("audit.log.")
            })
            .count();
        assert!(
            rotated >= 3,
            "the live file rotated ({rotated} rotated files)"
        );
        assert_eq!(
            b.verify(&key).unwrap(),
            Verdict::Ok {
                count: 40,
                authenticated: 40
            }
        );
    }

    #[test]
    fn appends_of_two_processes_chain() {
        // Two logs on one store stand for two processes: each remembers where its own last
        // append left the file, and must notice the other's appends in between.
        let dir = tempfile::tempdir().unwrap();
        let a = AuditLog::open(dir.path()).unwrap();
        let b = AuditLog::open(dir.path()).unwrap();
        let key = audit_key(&[7u8; 32]).unwrap();
        a.set_key(Some(audit_key(&[7u8; 32]).unwrap()));
        b.set_key(Some(audit_key(&[7u8; 32]).unwrap()));
        for (i, log) in [&a, &a, &b, &a, &b, &b, &a].into_iter().enumerate() {
            log.append(
                "CN_DERIVE_KEY",
                Some("cu1"),
                None,
                vec![i.to_string()],
                "OK",
            )
            .unwrap();
        }
        assert_eq!(
            a.verify(&key).unwrap(),
            Verdict::Ok {
                count: 7,
                authenticated: 7
            }
        );
        // A file replaced behind a process's back (same length, other inode) is read again.
        let path = dir.path().join("audit.log");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, &text).unwrap();
        a.append("CN_DERIVE_KEY", None, None, vec![], "OK").unwrap();
        assert_eq!(
            b.verify(&key).unwrap(),
            Verdict::Ok {
                count: 8,
                authenticated: 8
            }
        );
    }

    #[test]
    fn chain_detects_forgery_gaps_and_reordering() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        let key = audit_key(&[9u8; 32]).unwrap();
        log.append(
            "CN_LOGIN",
            Some("cu1"),
            Some("crypto-user"),
            vec![],
            "CKR_PIN_INCORRECT",
        )
        .unwrap();
        log.set_key(Some(audit_key(&[9u8; 32]).unwrap()));
        for i in 0..5 {
            log.append(
                "CN_GENERATE_KEY",
                Some("cu1"),
                Some("crypto-user"),
                vec![format!("0x{i:x}")],
                "OK",
            )
            .unwrap();
        }
        assert_eq!(
            log.verify(&key).unwrap(),
            Verdict::Ok {
                count: 6,
                authenticated: 6
            }
        );
        let path = dir.path().join("audit.log");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        // A changed field: forged.
        let forged = text.replacen("\"0x2\"", "\"0x9\"", 1);
        std::fs::write(&path, &forged).unwrap();
        assert!(matches!(
            log.verify(&key).unwrap(),
            Verdict::Bad { seq: 4, .. }
        ));
        // A deleted line: the gap is named.
        let mut gap = lines.clone();
        gap.remove(2);
        std::fs::write(&path, gap.join("\n") + "\n").unwrap();
        assert!(matches!(
            log.verify(&key).unwrap(),
            Verdict::Bad { seq: 3, .. }
        ));
        // Swapped lines: reordering.
        let mut swapped = lines.clone();
        swapped.swap(3, 4);
        std::fs::write(&path, swapped.join("\n") + "\n").unwrap();
        assert!(matches!(
            log.verify(&key).unwrap(),
            Verdict::Bad { seq: 4, .. }
        ));
        // A wrong key: nothing authenticates.
        std::fs::write(&path, &text).unwrap();
        assert!(matches!(
            log.verify(&audit_key(&[1u8; 32]).unwrap()).unwrap(),
            Verdict::Bad { seq: 2, .. }
        ));
    }
}
