//! The embedded HSM core: answers `Request`s for one cluster (one slot) on its store.
//!
//! Lock order (take left before right, never the reverse; release before crypto):
//! `conns` → a connection's `Mutex` → `keys` → `cache` → `ops`. The store has its own
//! internal lock and is called with at most `cache` held (refresh) or nothing held.
//! No lock is held while a private-key operation runs: operations take an `Arc<Entry>` out
//! of the cache and release it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::aead_pq;
use super::api::*;
use super::audit::{self, AuditLog, Counters};
use super::compat;
use super::inplace;
use super::mechs::{self, OpState, ParsedKey};
use super::objects::{self, Object, Origin};
use super::quorum::{self, TokenRecord};
use super::users::{self, UserRecord};
use crate::config::SlotConfig;
use crate::error::{Error, Result};
use crate::store::seal::SealKey;
use crate::store::sqlite::SqliteStore;
use crate::store::{Change, CommitOutcome, Kind, Record, Store, Write};

/// The name of the slot's default crypto user (C_InitPIN, bare PINs).
pub const DEFAULT_CRYPTO_USER: &str = "user";
/// The name of the first admin.
pub const DEFAULT_ADMIN: &str = "admin";
const META_ID: &[u8] = b"cluster";
const DK_CHECK_ID: &[u8] = b"dk-check";
/// Record body prefix: object sealed under the public-object key or the domain key.
const SEALED_PUBLIC: u8 = 0;
const SEALED_PRIVATE: u8 = 1;

/// Cluster-wide settings, stored in clear (nothing secret; the public-object key is
/// authenticated by `dk_check` under the domain key at every login).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    activated: bool,
    label: String,
    serial: String,
    generation: u64,
    pk: Option<[u8; 32]>,
    dk_check: Option<Vec<u8>>,
}

/// A cached, decrypted object with its lazily parsed key.
pub struct Entry {
    pub id: ObjectId,
    pub obj: Object,
    /// Store version (token objects); 0 for session objects.
    pub version: u64,
    /// The session that owns a session object.
    pub session: Option<(ConnId, SessionId)>,
    key: OnceLock<std::result::Result<ParsedKey, Error>>,
}

impl Entry {
    fn new(
        id: ObjectId,
        obj: Object,
        version: u64,
        session: Option<(ConnId, SessionId)>,
    ) -> Arc<Self> {
        Arc::new(Entry {
            id,
            obj,
            version,
            session,
            key: OnceLock::new(),
        })
    }
    /// The parsed key, parsed on first use and kept (invalidated by replacing the entry).
    pub fn key(&self) -> Result<&ParsedKey> {
        self.key
            .get_or_init(|| mechs::parse(&self.obj))
            .as_ref()
            .map_err(|e| *e)
    }
}

#[derive(Default)]
struct Cache {
    objects: FxHashMap<ObjectId, Arc<Entry>>,
    /// (attribute, value) → ids, for CKA_LABEL and CKA_ID.
    index: HashMap<(AttrType, Vec<u8>), HashSet<ObjectId>>,
    by_class: HashMap<u64, HashSet<ObjectId>>,
    /// Private token records awaiting the domain key.
    sealed: HashMap<ObjectId, Record>,
    /// Records that failed authentication.
    corrupt: HashSet<ObjectId>,
    /// Session objects by owning session (C_CloseSession drops them without a scan).
    by_session: FxHashMap<(ConnId, SessionId), HashSet<ObjectId>>,
    feed_pos: u64,
    marker: Option<u64>,
    meta: Option<(Meta, u64)>,
}

impl Cache {
    fn insert(&mut self, e: Arc<Entry>) {
        self.remove(e.id);
        for ty in [CKA_LABEL, CKA_ID] {
            if let Some(v) = e.obj.bytes(ty) {
                self.index.entry((ty, v.to_vec())).or_default().insert(e.id);
            }
        }
        self.by_class.entry(e.obj.class()).or_default().insert(e.id);
        if let Some(owner) = e.session {
            self.by_session.entry(owner).or_default().insert(e.id);
        }
        self.objects.insert(e.id, e);
    }
    fn remove(&mut self, id: ObjectId) -> Option<Arc<Entry>> {
        let e = self.objects.remove(&id)?;
        for ty in [CKA_LABEL, CKA_ID] {
            if let Some(v) = e.obj.bytes(ty) {
                let key = (ty, v.to_vec());
                if let Some(set) = self.index.get_mut(&key) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.index.remove(&key);
                    }
                }
            }
        }
        if let Some(set) = self.by_class.get_mut(&e.obj.class()) {
            set.remove(&id);
        }
        if let Some(owner) = e.session {
            if let Some(set) = self.by_session.get_mut(&owner) {
                set.remove(&id);
                if set.is_empty() {
                    self.by_session.remove(&owner);
                }
            }
        }
        Some(e)
    }
}

#[derive(Debug, Clone)]
struct Login {
    user: String,
    role: Role,
}

#[derive(Default)]
struct Conn {
    login: Option<Arc<Login>>,
    /// Open sessions and whether each is read-write.
    sessions: FxHashMap<SessionId, bool>,
}

struct Op {
    conn: ConnId,
    sid: SessionId,
    kind: OpKind,
    mech: Mechanism,
    entry: Arc<Entry>,
    state: OpState,
    /// CKA_ALWAYS_AUTHENTICATE: a context-specific login is due before use.
    needs_auth: bool,
}

/// Shards of the operation table (a power of two).
const OP_SHARDS: u64 = 64;

/// One shard of the operation table, alone on its cache line(s).
#[repr(align(64))]
#[derive(Default)]
struct OpShard(Mutex<OpShardInner>);

#[derive(Default)]
struct OpShardInner {
    /// Operations numbered in this shard so far.
    issued: u64,
    ops: FxHashMap<OpId, Op>,
    /// The sessions of this shard as last checked by C_*Init: (connection, `Core::conn_epoch`
    /// then, the login then as this shard's own copy).
    seen: FxHashMap<SessionId, (ConnId, u64, Option<Arc<Login>>)>,
}

/// Active operations, sharded by session: an operation's id says its shard (`id %
/// OP_SHARDS`), and a session's operations all live in the shard of its id, so threads
/// working in different sessions take different locks and write different cache lines.
struct OpTable {
    shards: Box<[OpShard]>,
}

impl Default for OpTable {
    fn default() -> Self {
        OpTable {
            shards: (0..OP_SHARDS).map(|_| OpShard::default()).collect(),
        }
    }
}

impl OpTable {
    fn shard(&self, n: u64) -> &Mutex<OpShardInner> {
        // The remainder is below OP_SHARDS, so the cast never truncates.
        &self.shards[(n % OP_SHARDS) as usize].0
    }

    /// Add an operation of session `sid`: its new id (never 0, never reused).
    fn insert(&self, sid: SessionId, op: Op) -> OpId {
        let index = sid.0 % OP_SHARDS;
        let mut shard = self.shard(index).lock();
        shard.issued += 1;
        let id = OpId(shard.issued * OP_SHARDS + index);
        shard.ops.insert(id, op);
        id
    }

    /// Work on the shard that holds operation `id`.
    fn with<R>(&self, id: OpId, f: impl FnOnce(&mut FxHashMap<OpId, Op>) -> R) -> R {
        f(&mut self.shard(id.0).lock().ops)
    }

    /// `retain` over the shard of session `sid` (which holds all its operations); forgets
    /// what `remember` noted about the session.
    fn retain_session(&self, sid: SessionId, keep: impl FnMut(&OpId, &mut Op) -> bool) {
        let mut shard = self.shard(sid.0).lock();
        shard.ops.retain(keep);
        shard.seen.remove(&sid);
    }

    /// The login of session `sid` of `conn` noted at `epoch`, if that is still the epoch.
    fn seen(&self, conn: ConnId, sid: SessionId, epoch: u64) -> Option<Option<Arc<Login>>> {
        match self.shard(sid.0).lock().seen.get(&sid) {
            Some((c, e, login)) if *c == conn && *e == epoch => Some(login.clone()),
            _ => None,
        }
    }

    /// Note that session `sid` of `conn` was valid with `login` at `epoch`. The shard keeps
    /// its own copy of the login, so its reference count is written by this shard's threads
    /// only.
    fn remember(&self, conn: ConnId, sid: SessionId, epoch: u64, login: Option<&Login>) {
        let copy = login.map(|l| Arc::new(l.clone()));
        self.shard(sid.0)
            .lock()
            .seen
            .insert(sid, (conn, epoch, copy));
    }

    fn retain(&self, mut keep: impl FnMut(&OpId, &mut Op) -> bool) {
        for shard in self.shards.iter() {
            shard.0.lock().ops.retain(&mut keep);
        }
    }

    /// Forget what `remember` noted about the sessions of `conn`.
    fn forget_conn(&self, conn: ConnId) {
        for shard in self.shards.iter() {
            shard.0.lock().seen.retain(|_, (c, _, _)| *c != conn);
        }
    }
}

/// Keys held while someone in this process is logged in.
#[derive(Default)]
struct Keys {
    dk: Option<Arc<SealKey>>,
    pk: Option<Arc<SealKey>>,
}

/// The HSM core of one cluster.
pub struct Core {
    cfg: SlotConfig,
    store: Box<dyn Store>,
    conns: RwLock<FxHashMap<ConnId, Arc<Mutex<Conn>>>>,
    keys: RwLock<Keys>,
    cache: RwLock<Cache>,
    ops: OpTable,
    /// Bumped whenever a connection's login or sessions change (login, logout, open and
    /// close session, disconnect): a session check noted at an epoch holds while it lasts.
    conn_epoch: AtomicU64,
    next: AtomicU64,
    audit: AuditLog,
    counters: Counters,
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    postcard::to_stdvec(v).map_err(|_| Error::GeneralError)
}

fn dec<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Result<T> {
    postcard::from_bytes(b).map_err(|_| Error::StoreCorrupt)
}

fn oid_bytes(id: ObjectId) -> Vec<u8> {
    id.0.to_be_bytes().to_vec()
}

impl Core {
    /// Open (creating if needed) the store of a slot. A fresh store is an unactivated
    /// cluster: user `admin` with no password, CKF_TOKEN_INITIALIZED clear.
    pub fn open(cfg: &SlotConfig) -> Result<Core> {
        let store = SqliteStore::open(&cfg.store)?;
        let audit = AuditLog::open(&cfg.store)?;
        let core = Core {
            audit,
            counters: Counters::new(mechs::table().iter().map(|m| m.mech)),
            cfg: cfg.clone(),
            store: Box::new(store),
            conns: RwLock::new(FxHashMap::default()),
            keys: RwLock::new(Keys::default()),
            cache: RwLock::new(Cache::default()),
            ops: OpTable::default(),
            conn_epoch: AtomicU64::new(0),
            next: AtomicU64::new(1),
        };
        core.ensure_meta()?;
        core.refresh()?;
        Ok(core)
    }

    fn ensure_meta(&self) -> Result<()> {
        if self.store.get(Kind::Meta, META_ID)?.is_some() {
            return Ok(());
        }
        let mut serial = [0u8; 8];
        crate::crypto::rng::fill(&mut serial)?;
        let meta = Meta {
            activated: false,
            label: self.cfg.label.clone(),
            serial: hex::encode(serial),
            generation: 0,
            pk: None,
            dk_check: None,
        };
        let admin = UserRecord::unactivated(DEFAULT_ADMIN);
        let writes = vec![
            Write::Put {
                kind: Kind::Meta,
                id: META_ID.to_vec(),
                expected: 0,
                body: enc(&meta)?,
            },
            Write::Put {
                kind: Kind::User,
                id: DEFAULT_ADMIN.as_bytes().to_vec(),
                expected: 0,
                body: enc(&admin)?,
            },
        ];
        // Another process may have created it first: a conflict is fine.
        self.store.commit(writes)?;
        Ok(())
    }

    fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    // ---------------------------------------------------------------- cache and store

    /// Bring the cache up to date with the store: O(1) when nothing changed.
    fn refresh(&self) -> Result<()> {
        let marker = self.store.change_marker()?;
        if self.cache.read().marker == Some(marker) {
            return Ok(());
        }
        let keys = self.keys.read();
        let mut cache = self.cache.write();
        if cache.marker == Some(marker) {
            return Ok(());
        }
        let (pos, changes) = self.store.changes_since(cache.feed_pos)?;
        for change in changes {
            match change {
                Change::Put(rec) => match rec.kind {
                    Kind::Object => self.load_object(&mut cache, &keys, rec),
                    Kind::Meta if rec.id == META_ID => {
                        let meta: Meta = dec(&rec.body)?;
                        cache.meta = Some((meta, rec.version));
                    }
                    _ => {}
                },
                Change::Delete {
                    kind: Kind::Object,
                    id,
                } => {
                    let oid = parse_oid(&id)?;
                    cache.remove(oid);
                    cache.sealed.remove(&oid);
                    cache.corrupt.remove(&oid);
                }
                Change::Delete { .. } => {}
                Change::Reset => {
                    // Session objects stay; every token object is reloaded from the puts that follow.
                    let token: Vec<ObjectId> = cache
                        .objects
                        .values()
                        .filter(|e| e.session.is_none())
                        .map(|e| e.id)
                        .collect();
                    for id in token {
                        cache.remove(id);
                    }
                    cache.sealed.clear();
                    cache.corrupt.clear();
                }
            }
        }
        cache.feed_pos = pos;
        cache.marker = Some(marker);
        Ok(())
    }

    fn load_object(&self, cache: &mut Cache, keys: &Keys, rec: Record) {
        let Ok(oid) = parse_oid(&rec.id) else { return };
        if cache
            .objects
            .get(&oid)
            .is_some_and(|e| e.version >= rec.version)
        {
            return;
        }
        let private = rec.body.first() == Some(&SEALED_PRIVATE);
        if private {
            cache.sealed.insert(oid, rec.clone());
        }
        let key = if private {
            keys.dk.clone()
        } else {
            keys.pk.clone().or_else(|| self.public_key_unchecked(cache))
        };
        let Some(key) = key else {
            cache.remove(oid);
            return;
        };
        match open_object(&key, &rec) {
            Ok(obj) => {
                cache.corrupt.remove(&oid);
                cache.insert(Entry::new(oid, obj, rec.version, None));
            }
            Err(_) => {
                cache.remove(oid);
                cache.corrupt.insert(oid);
            }
        }
    }

    /// The public-object key before anyone logged in (authenticated at login).
    fn public_key_unchecked(&self, cache: &Cache) -> Option<Arc<SealKey>> {
        let pk = cache.meta.as_ref()?.0.pk?;
        SealKey::new(&pk).ok().map(Arc::new)
    }

    fn meta(&self) -> Result<(Meta, u64)> {
        self.refresh()?;
        self.cache.read().meta.clone().ok_or(Error::StoreCorrupt)
    }

    fn user(&self, name: &str) -> Result<Option<(UserRecord, u64)>> {
        match self.store.get(Kind::User, name.as_bytes())? {
            Some(r) => Ok(Some((dec(&r.body)?, r.version))),
            None => Ok(None),
        }
    }

    fn commit(&self, writes: Vec<Write>) -> Result<()> {
        match self.store.commit(writes)? {
            CommitOutcome::Committed(_) => Ok(()),
            // Someone else changed the record first: the caller's view was stale.
            CommitOutcome::Conflict => Err(Error::FunctionFailed),
        }
    }

    /// Seal an object for the store.
    fn seal_object(&self, id: ObjectId, version: u64, obj: &Object) -> Result<Vec<u8>> {
        let keys = self.keys.read();
        let (tag, key) = if obj.owner_only() {
            (
                SEALED_PRIVATE,
                keys.dk.clone().ok_or(Error::UserNotLoggedIn)?,
            )
        } else {
            let pk = match keys.pk.clone() {
                Some(pk) => pk,
                None => self
                    .public_key_unchecked(&self.cache.read())
                    .ok_or(Error::UserPinNotInitialized)?,
            };
            (SEALED_PUBLIC, pk)
        };
        let plain = Zeroizing::new(enc(obj)?);
        let mut body = vec![tag];
        body.extend(key.seal(Kind::Object, &oid_bytes(id), version, &plain)?);
        Ok(body)
    }

    // ---------------------------------------------------------------- connections

    fn conn(&self, conn: ConnId) -> Result<Arc<Mutex<Conn>>> {
        self.conns
            .read()
            .get(&conn)
            .cloned()
            .ok_or(Error::GeneralError)
    }

    fn login_of(&self, conn: ConnId) -> Result<Option<Arc<Login>>> {
        Ok(self.conn(conn)?.lock().login.clone())
    }

    /// The session's RW flag, checking it belongs to the connection.
    fn session_rw(&self, conn: ConnId, sid: SessionId) -> Result<bool> {
        self.conn(conn)?
            .lock()
            .sessions
            .get(&sid)
            .copied()
            .ok_or(Error::SessionHandleInvalid)
    }

    /// Who is logged in on a connection, checking the session belongs to it (one lock of the
    /// connection: `session_rw` and `login_of` together).
    fn session_login(&self, conn: ConnId, sid: SessionId) -> Result<Option<Arc<Login>>> {
        let c = self.conn(conn)?;
        let c = c.lock();
        if !c.sessions.contains_key(&sid) {
            return Err(Error::SessionHandleInvalid);
        }
        Ok(c.login.clone())
    }

    fn any_logged_in(&self) -> bool {
        self.conns.read().values().any(|c| c.lock().login.is_some())
    }

    /// Forget the domain key and private objects when nobody in this process is logged in.
    fn drop_keys_if_idle(&self) {
        if self.any_logged_in() {
            return;
        }
        let mut keys = self.keys.write();
        keys.dk = None;
        self.audit.set_key(None);
        let mut cache = self.cache.write();
        let private: Vec<ObjectId> = cache
            .objects
            .values()
            .filter(|e| e.obj.owner_only() && e.session.is_none())
            .map(|e| e.id)
            .collect();
        for id in private {
            cache.remove(id);
        }
    }

    /// Install the domain key after a login and decrypt waiting private records.
    fn install_dk(&self, dk: SealKey, meta: &Meta) -> Result<()> {
        let pk_bytes = meta.pk.ok_or(Error::StoreCorrupt)?;
        let check = meta.dk_check.as_ref().ok_or(Error::StoreCorrupt)?;
        let opened = dk.open(Kind::Meta, DK_CHECK_ID, 0, check)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            opened.as_slice(),
            &pk_bytes[..],
        )) {
            return Err(Error::StoreCorrupt);
        }
        self.audit.set_key(Some(audit::audit_key(dk.bytes())?));
        let mut keys = self.keys.write();
        let dk = Arc::new(dk);
        keys.dk = Some(dk.clone());
        keys.pk = Some(Arc::new(SealKey::new(&pk_bytes)?));
        let mut cache = self.cache.write();
        let sealed: Vec<Record> = cache.sealed.values().cloned().collect();
        for rec in sealed {
            let Ok(oid) = parse_oid(&rec.id) else {
                continue;
            };
            if cache
                .objects
                .get(&oid)
                .is_some_and(|e| e.version >= rec.version)
            {
                continue;
            }
            match open_object(&dk, &rec) {
                Ok(obj) => cache.insert(Entry::new(oid, obj, rec.version, None)),
                Err(_) => {
                    cache.corrupt.insert(oid);
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- visibility

    fn visible(login: Option<&Login>, conn: ConnId, e: &Entry) -> bool {
        if let Some((c, _)) = e.session {
            if c != conn {
                return false;
            }
        }
        if !e.obj.owner_only() {
            return true;
        }
        match login {
            Some(l) if l.role == Role::CryptoUser => {
                e.obj.owner.as_deref() == Some(l.user.as_str()) || e.obj.shared.contains(&l.user)
            }
            _ => false,
        }
    }

    /// Look up an object the connection may see.
    fn entry(&self, conn: ConnId, login: Option<&Login>, id: ObjectId) -> Result<Arc<Entry>> {
        let found = self.cache.read().objects.get(&id).cloned();
        let e = match found {
            Some(e) => e,
            None => {
                self.refresh()?;
                let cache = self.cache.read();
                if cache.corrupt.contains(&id) {
                    return Err(Error::StoreCorrupt);
                }
                cache
                    .objects
                    .get(&id)
                    .cloned()
                    .ok_or(Error::ObjectHandleInvalid)?
            }
        };
        if Self::visible(login, conn, &e) {
            Ok(e)
        } else {
            Err(Error::ObjectHandleInvalid)
        }
    }

    /// May this login change or destroy the object? Only its owner (or anyone, for objects
    /// nobody owns); sharees and admins may not.
    fn check_owner(login: Option<&Login>, e: &Entry) -> Result<()> {
        match (&e.obj.owner, login) {
            (None, _) => Ok(()),
            (Some(o), Some(l)) if l.role == Role::CryptoUser && *o == l.user => Ok(()),
            _ => Err(Error::ActionProhibited),
        }
    }

    /// Who may create an object of this kind in this session.
    fn check_create(
        &self,
        conn: ConnId,
        sid: SessionId,
        login: Option<&Login>,
        obj: &Object,
    ) -> Result<()> {
        let rw = self.session_rw(conn, sid)?;
        if obj.is_token() && !rw {
            return Err(Error::SessionReadOnly);
        }
        match login.map(|l| l.role) {
            Some(Role::CryptoUser) => Ok(()),
            // Admins and public sessions: public, non-secret objects only.
            _ if obj.owner_only() => Err(Error::UserNotLoggedIn),
            _ => Ok(()),
        }
    }

    /// Store (token) or keep (session) a new object.
    fn add_object(
        &self,
        conn: ConnId,
        sid: SessionId,
        login: Option<&Login>,
        mut obj: Object,
        id: ObjectId,
    ) -> Result<()> {
        obj.owner = login
            .filter(|l| l.role == Role::CryptoUser)
            .map(|l| l.user.clone());
        if obj.is_key() && self.key_count() >= self.cfg.max_keys {
            // The cluster's key quota (CloudHSM: 16,666 keys, session and token).
            return Err(Error::DeviceMemory);
        }
        if obj.is_token() {
            let body = self.seal_object(id, 1, &obj)?;
            self.commit(vec![Write::Put {
                kind: Kind::Object,
                id: oid_bytes(id),
                expected: 0,
                body,
            }])?;
            self.cache.write().insert(Entry::new(id, obj, 1, None));
        } else {
            self.cache
                .write()
                .insert(Entry::new(id, obj, 0, Some((conn, sid))));
        }
        Ok(())
    }

    /// Key objects this process knows of: session keys and token keys, sealed ones included.
    fn key_count(&self) -> u64 {
        let cache = self.cache.read();
        let keys: usize = [CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY]
            .iter()
            .map(|c| cache.by_class.get(c).map_or(0, HashSet::len))
            .sum();
        (keys + cache.sealed.len()) as u64
    }

    /// Replace an object with a changed version.
    fn replace_object(&self, e: &Entry, obj: Object) -> Result<()> {
        if e.session.is_some() {
            self.cache
                .write()
                .insert(Entry::new(e.id, obj, 0, e.session));
            return Ok(());
        }
        let version = e.version + 1;
        let body = self.seal_object(e.id, version, &obj)?;
        self.commit(vec![Write::Put {
            kind: Kind::Object,
            id: oid_bytes(e.id),
            expected: e.version,
            body,
        }])?;
        self.cache
            .write()
            .insert(Entry::new(e.id, obj, version, None));
        Ok(())
    }

    fn new_object_id() -> Result<ObjectId> {
        Ok(ObjectId(crate::crypto::rng::u128()?))
    }

    // ---------------------------------------------------------------- requests

    fn token_info(&self) -> Result<TokenInfo> {
        let (meta, _) = self.meta()?;
        let user = self.user(DEFAULT_CRYPTO_USER)?;
        let admin = self.user(DEFAULT_ADMIN)?;
        let pin_state = |u: &Option<(UserRecord, u64)>| {
            u.as_ref().map(|(r, _)| r.pin_state()).unwrap_or_default()
        };
        let count = self.cache.read().objects.len() as u64;
        Ok(TokenInfo {
            label: meta.label.clone(),
            serial: meta.serial.clone(),
            initialized: meta.activated,
            user_pin_initialized: user.is_some(),
            user_pin: pin_state(&user),
            so_pin: pin_state(&admin),
            min_pin_len: self.cfg.min_pin_len,
            max_pin_len: self.cfg.max_pin_len,
            generation: meta.generation,
            total_public_memory: self.cfg.max_keys,
            free_public_memory: self.cfg.max_keys.saturating_sub(count),
        })
    }

    fn check_pin_len(&self, pin: &[u8]) -> Result<()> {
        let len = pin.len() as u64;
        if len < self.cfg.min_pin_len || len > self.cfg.max_pin_len {
            return Err(Error::PinLenRange);
        }
        Ok(())
    }

    /// Verify a user's password, counting failures and locking after five.
    fn authenticate(&self, name: &str, password: &[u8]) -> Result<(UserRecord, SealKey)> {
        let (rec, version) = self.user(name)?.ok_or(Error::PinIncorrect)?;
        if rec.locked() {
            return Err(Error::PinLocked);
        }
        match rec.unlock(password) {
            Ok(dk) => {
                if rec.failed != 0 {
                    let mut ok = rec.clone();
                    ok.failed = 0;
                    // Best effort: a concurrent change of the record wins.
                    let _ = self.store.commit(vec![Write::Put {
                        kind: Kind::User,
                        id: name.as_bytes().to_vec(),
                        expected: version,
                        body: enc(&ok)?,
                    }]);
                }
                Ok((rec, dk))
            }
            Err(_) => {
                // Count the failure; retry on a concurrent update so no failure is lost.
                for _ in 0..20 {
                    let Some((mut cur, v)) = self.user(name)? else {
                        break;
                    };
                    cur.failed = cur.failed.saturating_add(1);
                    let w = Write::Put {
                        kind: Kind::User,
                        id: name.as_bytes().to_vec(),
                        expected: v,
                        body: enc(&cur)?,
                    };
                    if self.store.commit(vec![w])? != CommitOutcome::Conflict {
                        break;
                    }
                }
                Err(Error::PinIncorrect)
            }
        }
    }

    fn init_token(&self, conn: ConnId, so_pin: &[u8], label: &str) -> Result<()> {
        let (name, password) = users::split_pin(so_pin, DEFAULT_ADMIN);
        self.check_pin_len(password)?;
        let _ = conn;
        let (meta, meta_version) = self.meta()?;
        if self.any_logged_in() {
            return Err(Error::UserAlreadyLoggedIn);
        }
        let mut meta = meta;
        let label = label.trim_end().to_string();
        if !meta.activated {
            // Activation: a new domain key, the admin's keyslot, the public-object key.
            let dk = SealKey::generate()?;
            let pk = SealKey::generate()?;
            let admin = UserRecord::new(&name, Role::Admin, password, &dk)?;
            let (_, admin_version) = self
                .user(&name)?
                .unwrap_or((UserRecord::unactivated(&name), 0));
            meta.activated = true;
            meta.label = label;
            meta.generation += 1;
            meta.pk = Some(*pk.bytes());
            meta.dk_check = Some(dk.seal(Kind::Meta, DK_CHECK_ID, 0, pk.bytes())?);
            return self.commit(vec![
                Write::Put {
                    kind: Kind::Meta,
                    id: META_ID.to_vec(),
                    expected: meta_version,
                    body: enc(&meta)?,
                },
                Write::Put {
                    kind: Kind::User,
                    id: name.as_bytes().to_vec(),
                    expected: admin_version,
                    body: enc(&admin)?,
                },
            ]);
        }
        // Re-initialization: the admin's password, then every token object and crypto user goes.
        let (rec, dk) = self.authenticate(&name, password)?;
        if rec.role != Role::Admin {
            return Err(Error::PinIncorrect);
        }
        // Re-initialization deletes every crypto user: a user-service operation, which
        // PKCS#11 cannot carry a quorum approval for.
        if self.quorum_settings(Some(&dk))?.0.user > 1 {
            return Err(Error::FunctionRejected);
        }
        let mut writes = Vec::new();
        for r in self.store.list(Kind::Object)? {
            writes.push(Write::Delete {
                kind: Kind::Object,
                id: r.id,
                expected: r.version,
            });
        }
        for r in self.store.list(Kind::User)? {
            let u: UserRecord = dec(&r.body)?;
            if u.role == Role::CryptoUser {
                writes.extend(self.quorum_user_cleanup(&u.name)?);
                writes.push(Write::Delete {
                    kind: Kind::User,
                    id: r.id,
                    expected: r.version,
                });
            }
        }
        meta.label = label;
        meta.generation += 1;
        writes.push(Write::Put {
            kind: Kind::Meta,
            id: META_ID.to_vec(),
            expected: meta_version,
            body: enc(&meta)?,
        });
        self.commit(writes)?;
        self.refresh()
    }

    fn login(
        &self,
        conn: ConnId,
        user_type: UserType,
        username: Option<String>,
        pin: &[u8],
    ) -> Result<Response> {
        let c = self.conn(conn)?;
        if let Some(l) = &c.lock().login {
            let same = matches!(
                (user_type, l.role),
                (UserType::User, Role::CryptoUser) | (UserType::So, Role::Admin)
            );
            return Err(if same {
                Error::UserAlreadyLoggedIn
            } else {
                Error::UserAnotherAlreadyLoggedIn
            });
        }
        let default = match user_type {
            UserType::So => DEFAULT_ADMIN,
            UserType::User => DEFAULT_CRYPTO_USER,
        };
        let (name, password) = match username {
            Some(n) => (users::check_name(&n)?, pin),
            None => users::split_pin(pin, default),
        };
        let (meta, _) = self.meta()?;
        if !meta.activated {
            return Err(if user_type == UserType::So {
                Error::PinIncorrect
            } else {
                Error::UserPinNotInitialized
            });
        }
        if user_type == UserType::User && name == DEFAULT_CRYPTO_USER && self.user(&name)?.is_none()
        {
            return Err(Error::UserPinNotInitialized);
        }
        let (rec, dk) = self.authenticate(&name, password)?;
        let role_ok = match user_type {
            UserType::So => rec.role == Role::Admin,
            UserType::User => rec.role == Role::CryptoUser,
        };
        if !role_ok {
            return Err(Error::PinIncorrect);
        }
        self.install_dk(dk, &meta)?;
        let mut guard = c.lock();
        if guard.login.is_some() {
            return Err(Error::UserAlreadyLoggedIn);
        }
        guard.login = Some(Arc::new(Login {
            user: name.clone(),
            role: rec.role,
        }));
        self.conn_epoch.fetch_add(1, Ordering::AcqRel);
        Ok(Response::LoggedIn {
            user: name,
            role: rec.role,
        })
    }

    fn logout(&self, conn: ConnId) -> Result<()> {
        let c = self.conn(conn)?;
        {
            let mut guard = c.lock();
            if guard.login.take().is_none() {
                return Err(Error::UserNotLoggedIn);
            }
            self.conn_epoch.fetch_add(1, Ordering::AcqRel);
        }
        // Operations of this connection end with the login.
        self.ops.retain(|_, op| op.conn != conn);
        self.drop_keys_if_idle();
        Ok(())
    }

    fn init_pin(&self, conn: ConnId, pin: &[u8]) -> Result<()> {
        let login = self.login_of(conn)?.ok_or(Error::UserNotLoggedIn)?;
        if login.role != Role::Admin {
            return Err(Error::UserNotLoggedIn);
        }
        let (name, password) = users::split_pin(pin, DEFAULT_CRYPTO_USER);
        self.check_pin_len(password)?;
        let dk = self.keys.read().dk.clone().ok_or(Error::UserNotLoggedIn)?;
        let existing = self.user(&name)?;
        if let Some((r, _)) = &existing {
            if r.role != Role::CryptoUser {
                return Err(Error::ActionProhibited);
            }
        } else {
            let n = self.store.list(Kind::User)?.len() as u64;
            if n >= self.cfg.max_users {
                return Err(Error::DeviceMemory);
            }
        }
        let rec = UserRecord::new(&name, Role::CryptoUser, password, &dk)?;
        // C_InitPIN creates or resets a user: gated like `user create`, and PKCS#11 has no
        // way to carry an approval, so it is refused while the user service needs a quorum.
        let mut writes = self.quorum_gate(&login, QuorumService::User, None)?;
        if existing.is_none() {
            writes.extend(self.quorum_user_cleanup(&name)?);
        }
        let expected = existing.map_or(0, |(_, v)| v);
        writes.push(Write::Put {
            kind: Kind::User,
            id: name.as_bytes().to_vec(),
            expected,
            body: enc(&rec)?,
        });
        self.commit(writes)
    }

    fn set_pin(&self, conn: ConnId, old: &[u8], new: &[u8]) -> Result<()> {
        let login = self.login_of(conn)?;
        let (name, old_pw) = match &login {
            Some(l) => (l.user.clone(), users::split_pin(old, &l.user).1),
            None => users::split_pin(old, DEFAULT_CRYPTO_USER),
        };
        let new_pw = users::split_pin(new, &name).1;
        self.check_pin_len(new_pw)?;
        let (rec, dk) = self.authenticate(&name, old_pw)?;
        let updated = UserRecord::new(&name, rec.role, new_pw, &dk)?;
        let (_, version) = self.user(&name)?.ok_or(Error::PinIncorrect)?;
        // An admin's password change is a user-service operation (see user_change_password).
        if let Some(l) = login.as_deref().filter(|l| l.role == Role::Admin) {
            self.quorum_gate(l, QuorumService::User, None)?;
        }
        self.commit(vec![Write::Put {
            kind: Kind::User,
            id: name.as_bytes().to_vec(),
            expected: version,
            body: enc(&updated)?,
        }])
    }

    fn find(&self, conn: ConnId, template: &[Attribute]) -> Result<Vec<ObjectId>> {
        self.refresh()?;
        let login = self.login_of(conn)?;
        let cache = self.cache.read();
        if !cache.corrupt.is_empty() {
            return Err(Error::StoreCorrupt);
        }
        // The smallest candidate set an index gives, else everything.
        let mut candidates: Option<&HashSet<ObjectId>> = None;
        static EMPTY: OnceLock<HashSet<ObjectId>> = OnceLock::new();
        let empty = EMPTY.get_or_init(HashSet::new);
        for a in template {
            let set = match (&a.value, a.ty) {
                (AttrValue::Bytes(v), CKA_LABEL | CKA_ID) => {
                    cache.index.get(&(a.ty, v.clone())).unwrap_or(empty)
                }
                (AttrValue::Ulong(c), CKA_CLASS) => cache.by_class.get(c).unwrap_or(empty),
                _ => continue,
            };
            if candidates.is_none_or(|c| set.len() < c.len()) {
                candidates = Some(set);
            }
        }
        let ok =
            |e: &Arc<Entry>| Self::visible(login.as_deref(), conn, e) && e.obj.matches(template);
        let mut out: Vec<ObjectId> = match candidates {
            Some(set) => set
                .iter()
                .filter_map(|id| cache.objects.get(id))
                .filter(|e| ok(e))
                .map(|e| e.id)
                .collect(),
            None => cache
                .objects
                .values()
                .filter(|e| ok(e))
                .map(|e| e.id)
                .collect(),
        };
        out.sort_unstable();
        Ok(out)
    }

    fn create_object(
        &self,
        conn: ConnId,
        sid: SessionId,
        template: &[Attribute],
    ) -> Result<ObjectId> {
        let login = self.login_of(conn)?;
        let (class, key_type) = objects::class_and_type(template)?;
        let class = class.ok_or(Error::TemplateIncomplete)?;
        let material = mechs::import_material(class, key_type, template)?;
        let id = Self::new_object_id()?;
        let obj = objects::build(class, key_type, template, material, Origin::Create, id)?;
        self.check_create(conn, sid, login.as_deref(), &obj)?;
        self.add_object(conn, sid, login.as_deref(), obj, id)?;
        Ok(id)
    }

    fn copy_object(
        &self,
        conn: ConnId,
        sid: SessionId,
        id: ObjectId,
        template: &[Attribute],
    ) -> Result<ObjectId> {
        let login = self.login_of(conn)?;
        let e = self.entry(conn, login.as_deref(), id)?;
        if !e.obj.bool(CKA_COPYABLE) {
            return Err(Error::ActionProhibited);
        }
        Self::check_owner(login.as_deref(), &e)?;
        let is_so = login.as_deref().is_some_and(|l| l.role == Role::Admin);
        let mut obj = objects::apply_changes(&e.obj, template, true, is_so)?;
        let new_id = Self::new_object_id()?;
        obj.attrs.insert(
            CKA_UNIQUE_ID,
            AttrValue::Bytes(format!("{:032x}", new_id.0).into_bytes()),
        );
        self.check_create(conn, sid, login.as_deref(), &obj)?;
        self.add_object(conn, sid, login.as_deref(), obj, new_id)?;
        Ok(new_id)
    }

    fn destroy_object(&self, conn: ConnId, sid: SessionId, id: ObjectId) -> Result<()> {
        let login = self.login_of(conn)?;
        let rw = self.session_rw(conn, sid)?;
        let e = self.entry(conn, login.as_deref(), id)?;
        if e.session.is_none() && !rw {
            return Err(Error::SessionReadOnly);
        }
        if !e.obj.bool(CKA_DESTROYABLE) {
            return Err(Error::ActionProhibited);
        }
        Self::check_owner(login.as_deref(), &e)?;
        if e.session.is_none() {
            self.commit(vec![Write::Delete {
                kind: Kind::Object,
                id: oid_bytes(id),
                expected: e.version,
            }])?;
        }
        let mut cache = self.cache.write();
        cache.remove(id);
        cache.sealed.remove(&id);
        Ok(())
    }

    fn get_attributes(
        &self,
        conn: ConnId,
        id: ObjectId,
        types: &[AttrType],
    ) -> Result<Vec<AttrRead>> {
        let login = self.login_of(conn)?;
        let e = self.entry(conn, login.as_deref(), id)?;
        let strict_key = self.strict() && compat::is_key_class(e.obj.class());
        Ok(types
            .iter()
            .map(|t| {
                if strict_key && !compat::cloudhsm_key_attribute(*t) {
                    // CloudHSM: reading an attribute it lacks is CKR_ATTRIBUTE_TYPE_INVALID.
                    AttrRead::Invalid
                } else {
                    e.obj.read(*t)
                }
            })
            .collect())
    }

    fn set_attributes(
        &self,
        conn: ConnId,
        sid: SessionId,
        id: ObjectId,
        template: &[Attribute],
    ) -> Result<()> {
        let login = self.login_of(conn)?;
        let rw = self.session_rw(conn, sid)?;
        if login.as_deref().is_some_and(|l| l.role == Role::Admin)
            && !template.is_empty()
            && template.iter().all(|a| a.ty == CKA_TRUSTED)
        {
            // Admins mark wrapping keys trusted (CloudHSM); they see every token key's metadata.
            self.refresh()?;
            let e = self
                .cache
                .read()
                .objects
                .get(&id)
                .cloned()
                .ok_or(Error::ObjectHandleInvalid)?;
            if !rw {
                return Err(Error::SessionReadOnly);
            }
            if e.session.is_some() || !e.obj.is_key() {
                return Err(Error::ObjectHandleInvalid);
            }
            let obj = objects::apply_changes(&e.obj, template, false, true)?;
            return self.replace_object(&e, obj);
        }
        let e = self.entry(conn, login.as_deref(), id)?;
        if e.session.is_none() && !rw {
            return Err(Error::SessionReadOnly);
        }
        Self::check_owner(login.as_deref(), &e)?;
        if self.strict() && e.obj.is_key() {
            // CloudHSM changes key attributes only through cloudhsm-cli.
            return Err(Error::FunctionNotSupported);
        }
        let is_so = login.as_deref().is_some_and(|l| l.role == Role::Admin);
        let obj = objects::apply_changes(&e.obj, template, false, is_so)?;
        self.replace_object(&e, obj)
    }

    fn generate_key(
        &self,
        conn: ConnId,
        sid: SessionId,
        mech: &Mechanism,
        template: &[Attribute],
    ) -> Result<ObjectId> {
        let login = self.login_of(conn)?;
        let (class, _) = objects::class_and_type(template)?;
        let made = mechs::generated_class(mech);
        if class.is_some_and(|c| c != made) {
            return Err(Error::TemplateInconsistent);
        }
        let (kt, material) = mechs::generate_secret(mech, template)?;
        let id = Self::new_object_id()?;
        let obj = objects::build(
            made,
            Some(kt),
            template,
            material,
            Origin::Generate(mechs::ck_type(mech)),
            id,
        )?;
        self.check_create(conn, sid, login.as_deref(), &obj)?;
        self.add_object(conn, sid, login.as_deref(), obj, id)?;
        Ok(id)
    }

    fn generate_key_pair(
        &self,
        conn: ConnId,
        sid: SessionId,
        mech: &Mechanism,
        public: &[Attribute],
        private: &[Attribute],
    ) -> Result<Response> {
        let login = self.login_of(conn)?;
        for (t, want) in [(public, CKO_PUBLIC_KEY), (private, CKO_PRIVATE_KEY)] {
            if objects::class_and_type(t)?.0.is_some_and(|c| c != want) {
                return Err(Error::TemplateInconsistent);
            }
        }
        // Check both templates before the (slow) generation.
        objects::check_template(public)?;
        objects::check_template(private)?;
        let (kt, pubm, privm) = mechs::generate_pair(mech, public, private)?;
        let origin = Origin::Generate(mechs::ck_type(mech));
        let (pub_id, priv_id) = (Self::new_object_id()?, Self::new_object_id()?);
        let pub_obj = objects::build(CKO_PUBLIC_KEY, Some(kt), public, pubm, origin, pub_id)?;
        let priv_obj = objects::build(CKO_PRIVATE_KEY, Some(kt), private, privm, origin, priv_id)?;
        self.check_create(conn, sid, login.as_deref(), &pub_obj)?;
        self.check_create(conn, sid, login.as_deref(), &priv_obj)?;
        self.add_object(conn, sid, login.as_deref(), priv_obj, priv_id)?;
        if let Err(e) = self.add_object(conn, sid, login.as_deref(), pub_obj, pub_id) {
            let _ = self.destroy_object(conn, sid, priv_id);
            return Err(e);
        }
        Ok(Response::KeyPair {
            public: pub_id,
            private: priv_id,
        })
    }

    fn op_init(
        &self,
        conn: ConnId,
        sid: SessionId,
        kind: OpKind,
        mech: Mechanism,
        key: ObjectId,
    ) -> Result<(OpId, Option<Vec<u8>>)> {
        // The session and login check, from this session's shard when nothing changed since
        // the last C_*Init of the session (the epoch is read first: a change meanwhile leaves
        // the note stale, never wrong).
        let epoch = self.conn_epoch.load(Ordering::Acquire);
        let login = match self.ops.seen(conn, sid, epoch) {
            Some(login) => login,
            None => {
                let login = self.session_login(conn, sid)?;
                self.ops.remember(conn, sid, epoch, login.as_deref());
                login
            }
        };
        if login.as_deref().is_some_and(|l| l.role != Role::CryptoUser) {
            // Admins never use keys.
            return Err(Error::UserNotLoggedIn);
        }
        let e = self
            .entry(conn, login.as_deref(), key)
            .map_err(|err| match err {
                Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
                other => other,
            })?;
        mechs::check_key(kind, &mech, &e.obj)?;
        e.key()?;
        let (mech, iv) = self.strict_gcm_iv(kind, mech)?;
        let needs_auth = e.obj.bool(CKA_ALWAYS_AUTHENTICATE)
            && matches!(kind, OpKind::Sign | OpKind::Decrypt | OpKind::SignRecover);
        self.counters.count(mechs::ck_type(&mech));
        let id = self.ops.insert(
            sid,
            Op {
                conn,
                sid,
                kind,
                mech,
                entry: e,
                state: OpState::Fresh,
                needs_auth,
            },
        );
        Ok((id, iv))
    }

    /// CloudHSM generates the AES-GCM encryption IV itself and writes it into the caller's
    /// CK_GCM_PARAMS.pIV, which must be a zero-filled 12-byte buffer ("Expect IV to be all 0").
    /// In strict mode the core does the same: the IV it draws goes back to the caller.
    fn strict_gcm_iv(&self, kind: OpKind, mech: Mechanism) -> Result<(Mechanism, Option<Vec<u8>>)> {
        match mech {
            Mechanism::AesGcm(mut p) if self.strict() && kind == OpKind::Encrypt => {
                if p.iv.len() != 12 || p.iv.iter().any(|b| *b != 0) {
                    return Err(Error::MechanismParamInvalid);
                }
                crate::crypto::rng::fill(&mut p.iv)?;
                let iv = p.iv.clone();
                Ok((Mechanism::AesGcm(p), Some(iv)))
            }
            other => Ok((other, None)),
        }
    }

    /// A key for use by the logged-in crypto user (admins never use keys).
    fn usable_key(
        &self,
        conn: ConnId,
        login: Option<&Login>,
        id: ObjectId,
        invalid: Error,
    ) -> Result<Arc<Entry>> {
        if login.is_some_and(|l| l.role != Role::CryptoUser) {
            return Err(Error::UserNotLoggedIn);
        }
        self.entry(conn, login, id).map_err(|e| {
            if e == Error::ObjectHandleInvalid {
                invalid
            } else {
                e
            }
        })
    }

    fn check_allowed(mech: &Mechanism, obj: &Object) -> Result<()> {
        if let Some(AttrValue::Mechanisms(allowed)) = obj.attrs.get(&CKA_ALLOWED_MECHANISMS) {
            if !allowed.is_empty() && !allowed.contains(&mechs::ck_type(mech)) {
                return Err(Error::MechanismInvalid);
            }
        }
        Ok(())
    }

    fn wrap_key(
        &self,
        conn: ConnId,
        mech: &Mechanism,
        wrapping: ObjectId,
        key: ObjectId,
    ) -> Result<Vec<u8>> {
        let login = self.login_of(conn)?;
        let w = self.usable_key(
            conn,
            login.as_deref(),
            wrapping,
            Error::WrappingKeyHandleInvalid,
        )?;
        let k = self.usable_key(conn, login.as_deref(), key, Error::KeyHandleInvalid)?;
        if !w.obj.bool(CKA_WRAP) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        Self::check_allowed(mech, &w.obj)?;
        // Sharees use keys; only the owner may export one, and only wrapped.
        Self::check_owner(login.as_deref(), &k).map_err(|_| Error::KeyNotWrappable)?;
        if !k.obj.bool(CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        if k.obj.bool(CKA_WRAP_WITH_TRUSTED) && !w.obj.bool(CKA_TRUSTED) {
            return Err(Error::KeyNotWrappable);
        }
        if let Some(AttrValue::Template(t)) = w.obj.attrs.get(&CKA_WRAP_TEMPLATE) {
            if !k.obj.matches(t) {
                return Err(Error::KeyNotWrappable);
            }
        }
        let payload = mechs::wrap_payload(&k.obj, k.key()?)?;
        mechs::wrap(mech, w.key()?, &payload)
    }

    fn unwrap_key(
        &self,
        conn: ConnId,
        sid: SessionId,
        mech: &Mechanism,
        unwrapping: ObjectId,
        wrapped: &[u8],
        template: &[Attribute],
    ) -> Result<ObjectId> {
        let login = self.login_of(conn)?;
        let u = self.usable_key(
            conn,
            login.as_deref(),
            unwrapping,
            Error::UnwrappingKeyHandleInvalid,
        )?;
        if !u.obj.bool(CKA_UNWRAP) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        Self::check_allowed(mech, &u.obj)?;
        // The unwrapping key's template constrains (and completes) the new key's.
        let mut full: Vec<Attribute> = template.to_vec();
        if let Some(AttrValue::Template(t)) = u.obj.attrs.get(&CKA_UNWRAP_TEMPLATE) {
            for a in t {
                match template.iter().find(|b| b.ty == a.ty) {
                    Some(b) if b.value != a.value => return Err(Error::TemplateInconsistent),
                    Some(_) => {}
                    None => full.push(a.clone()),
                }
            }
        }
        let (class, key_type) = objects::class_and_type(&full)?;
        let class = class.ok_or(Error::TemplateIncomplete)?;
        objects::check_template(&full)?;
        let payload = mechs::unwrap(mech, u.key()?, wrapped)?;
        let (kt, material) = mechs::unwrapped_material(class, key_type, &full, &payload)?;
        let id = Self::new_object_id()?;
        let obj = objects::build(class, Some(kt), &full, material, Origin::Unwrap, id)?;
        self.check_create(conn, sid, login.as_deref(), &obj)?;
        self.add_object(conn, sid, login.as_deref(), obj, id)?;
        Ok(id)
    }

    fn derive_key(
        &self,
        conn: ConnId,
        sid: SessionId,
        mech: &Mechanism,
        base: ObjectId,
        template: &[Attribute],
    ) -> Result<ObjectId> {
        let login = self.login_of(conn)?;
        let b = self.usable_key(conn, login.as_deref(), base, Error::KeyHandleInvalid)?;
        if !b.obj.bool(CKA_DERIVE) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        Self::check_allowed(mech, &b.obj)?;
        // Sharees use keys, deriving included (issue 4); CloudHSM refuses them derivation, and
        // so does the strict mode.
        if self.strict() {
            Self::check_owner(login.as_deref(), &b).map_err(|_| Error::KeyFunctionNotPermitted)?;
        }
        let (class, key_type) = objects::class_and_type(template)?;
        if class.is_some_and(|c| c != CKO_SECRET_KEY) {
            return Err(Error::TemplateInconsistent);
        }
        objects::check_template(template)?;
        let (kt, material) = mechs::derive(
            mech,
            b.key()?,
            key_type.unwrap_or(CKK_GENERIC_SECRET),
            template,
        )?;
        let id = Self::new_object_id()?;
        let mut obj = objects::build(
            CKO_SECRET_KEY,
            Some(kt),
            template,
            material,
            Origin::Unwrap,
            id,
        )?;
        // Derived keys inherit "always sensitive / never extractable" from the base (spec).
        let always = b.obj.bool(CKA_ALWAYS_SENSITIVE) && obj.bool(CKA_SENSITIVE);
        let never = b.obj.bool(CKA_NEVER_EXTRACTABLE) && !obj.bool(CKA_EXTRACTABLE);
        obj.attrs
            .insert(CKA_ALWAYS_SENSITIVE, AttrValue::Bool(always));
        obj.attrs
            .insert(CKA_NEVER_EXTRACTABLE, AttrValue::Bool(never));
        self.check_create(conn, sid, login.as_deref(), &obj)?;
        self.add_object(conn, sid, login.as_deref(), obj, id)?;
        Ok(id)
    }

    /// C_DigestKey: absorb a secret key's value into a digest that from then on runs here
    /// (its state is never returned: it holds key bytes).
    fn digest_key(
        &self,
        conn: ConnId,
        sid: SessionId,
        key: ObjectId,
        into: DigestInto,
    ) -> Result<OpId> {
        self.session_rw(conn, sid)?;
        let login = self.login_of(conn)?;
        let e = self.usable_key(conn, login.as_deref(), key, Error::KeyHandleInvalid)?;
        if !e.obj.is_key() {
            return Err(Error::KeyHandleInvalid);
        }
        // Only a secret key's value is digestible: a private key's is not one string.
        if e.obj.class() != CKO_SECRET_KEY {
            return Err(Error::KeyIndigestible);
        }
        let value = e.obj.bytes(CKA_VALUE).ok_or(Error::KeyIndigestible)?;
        match into {
            DigestInto::Start(state) => {
                let mut h = crate::crypto::digest::Hasher::import(&state)?;
                h.update(value);
                let mech = Mechanism::Digest(h.alg());
                let id = self.ops.insert(
                    sid,
                    Op {
                        conn,
                        sid,
                        // Unused: a digest state is fed and finished whatever the kind.
                        kind: OpKind::Sign,
                        mech,
                        entry: e.clone(),
                        state: OpState::Digest(Box::new(h)),
                        needs_auth: false,
                    },
                );
                Ok(id)
            }
            DigestInto::Op(id) => {
                let mut o = self.take_op(conn, id)?;
                let r = match &mut o.state {
                    OpState::Digest(h) => {
                        h.update(value);
                        Ok(id)
                    }
                    _ => Err(Error::OperationNotInitialized),
                };
                self.ops.with(id, |ops| ops.insert(id, o));
                r
            }
        }
    }

    /// C_DeriveKey with the secret-key derivations of `hsm::derive`: the main key, then any
    /// additional keys (SP 800-108), all or nothing.
    fn derive_keys(
        &self,
        conn: ConnId,
        sid: SessionId,
        mech: &Mechanism,
        base: ObjectId,
        template: &[Attribute],
    ) -> Result<Vec<ObjectId>> {
        let login = self.login_of(conn)?;
        let b = self.usable_key(conn, login.as_deref(), base, Error::KeyHandleInvalid)?;
        if !b.obj.bool(CKA_DERIVE) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        Self::check_allowed(mech, &b.obj)?;
        // Sharees derive in the default mode, not in the strict one (as `derive_key`).
        let strict = self.strict();
        if strict {
            Self::check_owner(login.as_deref(), &b).map_err(|_| Error::KeyFunctionNotPermitted)?;
        }
        let other = match super::derive::other_key(mech) {
            Some(id) => {
                let o =
                    self.usable_key(conn, login.as_deref(), id, Error::MechanismParamInvalid)?;
                if strict {
                    Self::check_owner(login.as_deref(), &o)
                        .map_err(|_| Error::KeyFunctionNotPermitted)?;
                }
                Some(o)
            }
            None => None,
        };
        let mut templates: Vec<&[Attribute]> = vec![template];
        templates.extend(
            super::derive::additional_templates(mech)
                .iter()
                .map(Vec::as_slice),
        );
        for t in &templates {
            let (class, _) = objects::class_and_type(t)?;
            if class.is_some_and(|c| c != CKO_SECRET_KEY) {
                return Err(Error::TemplateInconsistent);
            }
            objects::check_template(t)?;
        }
        let made = super::derive::derive(mech, &b.obj, other.as_deref().map(|e| &e.obj), template)?;
        let sources: Vec<&Object> = std::iter::once(&b.obj)
            .chain(other.as_deref().map(|e| &e.obj))
            .collect();
        let mut objs = Vec::with_capacity(made.len());
        for (t, (kt, material)) in templates.iter().zip(made) {
            let id = Self::new_object_id()?;
            let mut obj =
                objects::build(CKO_SECRET_KEY, Some(kt), t, material, Origin::Unwrap, id)?;
            if super::derive::simple(mech) {
                // Sensitive if any source is; unextractable if any source is.
                if sources.iter().any(|o| o.bool(CKA_SENSITIVE)) {
                    obj.attrs.insert(CKA_SENSITIVE, AttrValue::Bool(true));
                }
                if sources.iter().any(|o| !o.bool(CKA_EXTRACTABLE)) {
                    obj.attrs.insert(CKA_EXTRACTABLE, AttrValue::Bool(false));
                }
            }
            let always =
                sources.iter().all(|o| o.bool(CKA_ALWAYS_SENSITIVE)) && obj.bool(CKA_SENSITIVE);
            let never =
                sources.iter().all(|o| o.bool(CKA_NEVER_EXTRACTABLE)) && !obj.bool(CKA_EXTRACTABLE);
            obj.attrs
                .insert(CKA_ALWAYS_SENSITIVE, AttrValue::Bool(always));
            obj.attrs
                .insert(CKA_NEVER_EXTRACTABLE, AttrValue::Bool(never));
            self.check_create(conn, sid, login.as_deref(), &obj)?;
            objs.push((id, obj));
        }
        let mut ids = Vec::with_capacity(objs.len());
        for (id, obj) in objs {
            if let Err(e) = self.add_object(conn, sid, login.as_deref(), obj, id) {
                for done in &ids {
                    let _ = self.destroy_object(conn, sid, *done);
                }
                return Err(e);
            }
            ids.push(id);
        }
        Ok(ids)
    }

    fn take_op(&self, conn: ConnId, op: OpId) -> Result<Op> {
        let o = self.ops.with(op, |ops| {
            match ops.get(&op) {
                Some(o) if o.conn == conn => {}
                _ => return Err(Error::OperationNotInitialized),
            }
            ops.remove(&op).ok_or(Error::OperationNotInitialized)
        })?;
        if o.needs_auth {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(o)
    }

    fn op_one_shot(&self, conn: ConnId, op: OpId, data: &[u8], extra: &[u8]) -> Result<Vec<u8>> {
        let o = self.take_op(conn, op)?;
        self.check_data_limit(&o.mech, data.len())?;
        if !matches!(o.state, OpState::Fresh) {
            return Err(Error::OperationActive);
        }
        mechs::one_shot(o.kind, &o.mech, o.entry.key()?, data, extra)
    }

    /// `op_one_shot` with the output written into `out` where it fits (no copy of the input,
    /// none of the output for the symmetric ciphers and MACs).
    fn op_one_shot_placed(
        &self,
        conn: ConnId,
        op: OpId,
        data: &[u8],
        extra: &[u8],
        out: &mut [u8],
    ) -> Result<Placed> {
        let o = self.take_op(conn, op)?;
        self.check_data_limit(&o.mech, data.len())?;
        if !matches!(o.state, OpState::Fresh) {
            return Err(Error::OperationActive);
        }
        let key = o.entry.key()?;
        if let Some(n) = inplace::one_shot_into(o.kind, &o.mech, key, data, extra, out)? {
            return Ok(Placed::Written(n));
        }
        let output = mechs::one_shot(o.kind, &o.mech, key, data, extra)?;
        Ok(Placed::place(output, out))
    }

    fn op_update(&self, conn: ConnId, op: OpId, data: &[u8]) -> Result<Vec<u8>> {
        let mut o = self.take_op(conn, op)?;
        if self.strict() && matches!(o.mech, Mechanism::AesGcm(_) | Mechanism::CloudhsmAesGcm(_)) {
            // CloudHSM: no multi-part GCM.
            return Err(Error::MechanismInvalid);
        }
        let out = mechs::update(o.kind, &o.mech, o.entry.key()?, &mut o.state, data)?;
        self.ops.with(op, |ops| ops.insert(op, o));
        Ok(out)
    }

    fn op_final(&self, conn: ConnId, op: OpId, data: &[u8]) -> Result<Vec<u8>> {
        let o = self.take_op(conn, op)?;
        mechs::finish(o.kind, &o.mech, o.entry.key()?, o.state, data)
    }

    fn context_login(&self, conn: ConnId, op: OpId, pin: &[u8]) -> Result<()> {
        let login = self.login_of(conn)?.ok_or(Error::UserNotLoggedIn)?;
        let password = users::split_pin(pin, &login.user).1;
        self.authenticate(&login.user, password)?;
        self.ops.with(op, |ops| {
            let o = ops
                .get_mut(&op)
                .filter(|o| o.conn == conn)
                .ok_or(Error::OperationNotInitialized)?;
            o.needs_auth = false;
            Ok(())
        })
    }

    fn close_session(&self, conn: ConnId, sid: SessionId) -> Result<()> {
        let c = self.conn(conn)?;
        c.lock()
            .sessions
            .remove(&sid)
            .ok_or(Error::SessionHandleInvalid)?;
        self.conn_epoch.fetch_add(1, Ordering::AcqRel);
        self.ops
            .retain_session(sid, |_, o| !(o.conn == conn && o.sid == sid));
        let mut cache = self.cache.write();
        let dead: Vec<ObjectId> = cache
            .by_session
            .get(&(conn, sid))
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default();
        for id in dead {
            cache.remove(id);
        }
        Ok(())
    }

    fn disconnect(&self, conn: ConnId) -> Result<()> {
        let c = self
            .conns
            .write()
            .remove(&conn)
            .ok_or(Error::GeneralError)?;
        self.conn_epoch.fetch_add(1, Ordering::AcqRel);
        self.ops.retain(|_, o| o.conn != conn);
        self.ops.forget_conn(conn);
        {
            let mut cache = self.cache.write();
            let dead: Vec<ObjectId> = cache
                .objects
                .values()
                .filter(|e| e.session.is_some_and(|(c, _)| c == conn))
                .map(|e| e.id)
                .collect();
            for id in dead {
                cache.remove(id);
            }
        }
        drop(c);
        self.drop_keys_if_idle();
        Ok(())
    }
}

fn parse_oid(id: &[u8]) -> Result<ObjectId> {
    let b: [u8; 16] = id.try_into().map_err(|_| Error::StoreCorrupt)?;
    Ok(ObjectId(u128::from_be_bytes(b)))
}

fn open_object(key: &SealKey, rec: &Record) -> Result<Object> {
    let body = rec.body.get(1..).ok_or(Error::StoreCorrupt)?;
    let plain = key.open(Kind::Object, &rec.id, rec.version, body)?;
    dec(&plain)
}

impl Core {
    fn strict(&self) -> bool {
        self.cfg.compat == crate::config::Compat::Cloudhsm
    }

    /// What AWS CloudHSM Client SDK 5 refuses, in the slot's strict mode (docs/cloudhsm-compat.md).
    fn check_compat(&self, req: &Request) -> Result<()> {
        use Request as R;
        if !self.strict() {
            return Ok(());
        }
        let key_templates: Vec<&Template> = match req {
            R::OpenSession { rw: false, .. } => return Err(Error::FunctionFailed),
            R::CopyObject { .. } | R::InitToken { .. } | R::InitPin { .. } | R::SetPin { .. } => {
                return Err(Error::FunctionNotSupported)
            }
            R::GenerateKey { template, .. }
            | R::UnwrapKey { template, .. }
            | R::DeriveKey { template, .. }
            | R::Encapsulate { template, .. }
            | R::Decapsulate { template, .. } => vec![template],
            R::GenerateKeyPair {
                public, private, ..
            } => vec![public, private],
            R::CreateObject { template, .. } => {
                let (class, _) = objects::class_and_type(template)?;
                if class
                    .is_some_and(|c| matches!(c, CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY))
                {
                    vec![template]
                } else {
                    vec![]
                }
            }
            _ => vec![],
        };
        for t in key_templates {
            // A spec-valid attribute CloudHSM lacks: CKR_TEMPLATE_INCONSISTENT.
            if t.iter().any(|a| !compat::cloudhsm_key_attribute(a.ty)) {
                return Err(Error::TemplateInconsistent);
            }
            // CKA_PRIVATE is "partially supported": keys must stay private.
            if t.iter()
                .any(|a| a.ty == CKA_PRIVATE && a.value == AttrValue::Bool(false))
            {
                return Err(Error::AttributeValueInvalid);
            }
        }
        Ok(())
    }

    /// CloudHSM's per-call data limits for HSM-side mechanisms (strict mode).
    fn check_data_limit(&self, mech: &Mechanism, len: usize) -> Result<()> {
        if !self.strict() {
            return Ok(());
        }
        let limit = match mech {
            Mechanism::Hmac {
                hash: crate::crypto::HashAlg::Sha1 | crate::crypto::HashAlg::Sha256,
                ..
            } => 16_288,
            Mechanism::Hmac {
                hash: crate::crypto::HashAlg::Sha224,
                ..
            } => 16_256,
            Mechanism::Hmac { .. } => 16_224,
            Mechanism::AesCbc(_) | Mechanism::AesCbcPad(_) => 16_272,
            Mechanism::AesGcm(_) | Mechanism::CloudhsmAesGcm(_) => 16_224,
            _ => return Ok(()),
        };
        if len > limit {
            return Err(Error::DataLenRange);
        }
        Ok(())
    }

    fn dispatch(&self, req: Request) -> Result<Response> {
        use Request as R;
        self.check_compat(&req)?;
        Ok(match req {
            R::Connect => {
                let id = ConnId(self.next_id());
                self.conns
                    .write()
                    .insert(id, Arc::new(Mutex::new(Conn::default())));
                Response::Connected(id)
            }
            R::Disconnect { conn } => {
                self.disconnect(conn)?;
                Response::Ok
            }
            R::TokenInfo { conn: _ } => Response::TokenInfo(self.token_info()?),
            R::InitToken {
                conn,
                so_pin,
                label,
            } => {
                self.init_token(conn, so_pin.as_bytes(), &label)?;
                Response::Ok
            }
            R::Login {
                conn,
                user_type,
                username,
                pin,
            } => self.login(conn, user_type, username, pin.as_bytes())?,
            R::ContextLogin { conn, op, pin } => {
                self.context_login(conn, op, pin.as_bytes())?;
                Response::Ok
            }
            R::Logout { conn } => {
                self.logout(conn)?;
                Response::Ok
            }
            R::InitPin { conn, pin } => {
                self.init_pin(conn, pin.as_bytes())?;
                Response::Ok
            }
            R::SetPin { conn, old, new } => {
                self.set_pin(conn, old.as_bytes(), new.as_bytes())?;
                Response::Ok
            }
            R::OpenSession { conn, sid, rw } => {
                self.conn(conn)?.lock().sessions.insert(sid, rw);
                self.conn_epoch.fetch_add(1, Ordering::AcqRel);
                Response::Ok
            }
            R::CloseSession { conn, sid } => {
                self.close_session(conn, sid)?;
                Response::Ok
            }
            R::CreateObject {
                conn,
                sid,
                template,
            } => Response::Object(self.create_object(conn, sid, &template)?),
            R::CopyObject {
                conn,
                sid,
                id,
                template,
            } => Response::Object(self.copy_object(conn, sid, id, &template)?),
            R::DestroyObject { conn, sid, id } => {
                self.destroy_object(conn, sid, id)?;
                Response::Ok
            }
            R::GetAttributes { conn, id, types } => {
                Response::Attributes(self.get_attributes(conn, id, &types)?)
            }
            R::SetAttributes {
                conn,
                sid,
                id,
                template,
            } => {
                self.set_attributes(conn, sid, id, &template)?;
                Response::Ok
            }
            R::ObjectSize { conn, id } => {
                let login = self.login_of(conn)?;
                Response::Size(self.entry(conn, login.as_deref(), id)?.obj.size())
            }
            R::FindObjects { conn, template } => Response::Objects(self.find(conn, &template)?),
            R::GenerateKey {
                conn,
                sid,
                mech,
                template,
            } => Response::Object(self.generate_key(conn, sid, &mech, &template)?),
            R::GenerateKeyPair {
                conn,
                sid,
                mech,
                public,
                private,
            } => self.generate_key_pair(conn, sid, &mech, &public, &private)?,
            R::WrapKey {
                conn,
                mech,
                wrapping,
                key,
            } => Response::Data(self.wrap_key(conn, &mech, wrapping, key)?),
            R::UnwrapKey {
                conn,
                sid,
                mech,
                unwrapping,
                wrapped,
                template,
            } => Response::Object(
                self.unwrap_key(conn, sid, &mech, unwrapping, &wrapped, &template)?,
            ),
            R::DeriveKey {
                conn,
                sid,
                mech,
                base,
                template,
            } => {
                if super::derive::handles(&mech) {
                    let ids = self.derive_keys(conn, sid, &mech, base, &template)?;
                    if ids.len() == 1 {
                        Response::Object(ids[0])
                    } else {
                        Response::Objects(ids)
                    }
                } else {
                    Response::Object(self.derive_key(conn, sid, &mech, base, &template)?)
                }
            }
            R::OpInit {
                conn,
                sid,
                kind,
                mech,
                key,
            } => match self.op_init(conn, sid, kind, mech, key)? {
                (op, None) => Response::Op(op),
                (op, Some(iv)) => Response::OpIv { op, iv },
            },
            R::OpUpdate { conn, op, data } => Response::Data(self.op_update(conn, op, &data)?),
            R::OpFinal { conn, op, data } => Response::Data(self.op_final(conn, op, &data)?),
            R::OpOneShot {
                conn,
                op,
                data,
                extra,
            } => Response::Data(self.op_one_shot(conn, op, &data, &extra)?),
            R::OpCancel { conn, op } => {
                self.ops.with(op, |ops| {
                    if ops.get(&op).is_some_and(|o| o.conn == conn) {
                        ops.remove(&op);
                    }
                });
                Response::Ok
            }
            R::Mechanisms => Response::Mechanisms(mechs::table()),
            R::DigestKey {
                conn,
                sid,
                key,
                into,
            } => Response::Op(self.digest_key(conn, sid, key, into)?),
            R::Message {
                conn,
                op,
                params,
                aad,
                data,
                extra,
            } => self.message(conn, op, params.as_ref(), &aad, &data, &extra)?,
            R::MessageIv { conn, op, params } => {
                Response::Data(self.message_iv(conn, op, &params)?.1)
            }
            R::Encapsulate {
                conn,
                sid,
                mech,
                key,
                template,
            } => self.encapsulate(conn, sid, &mech, key, &template)?,
            R::Decapsulate {
                conn,
                sid,
                mech,
                key,
                ciphertext,
                template,
            } => {
                Response::Object(self.decapsulate(conn, sid, &mech, key, &ciphertext, &template)?)
            }
            R::GenerateRandom { len } => {
                let len = usize::try_from(len).map_err(|_| Error::ArgumentsBad)?;
                if len > 1 << 24 {
                    return Err(Error::ArgumentsBad);
                }
                let mut out = vec![0u8; len];
                crate::crypto::rng::fill(&mut out)?;
                Response::Data(out)
            }
            R::SeedRandom { .. } => return Err(Error::RandomSeedNotSupported),
            R::UserCreate {
                conn,
                name,
                role,
                password,
            } => {
                self.user_create(conn, &name, role, password.as_bytes(), None)?;
                Response::Ok
            }
            R::UserDelete { conn, name } => {
                self.user_delete(conn, &name, None)?;
                Response::Ok
            }
            R::UserList { conn: _ } => Response::Users(self.user_list()?),
            R::UserChangePassword {
                conn,
                name,
                old,
                new,
            } => {
                self.user_change_password(
                    conn,
                    &name,
                    old.as_ref().map(Secret::as_bytes),
                    new.as_bytes(),
                    None,
                )?;
                Response::Ok
            }
            R::KeyShare {
                conn,
                id,
                user,
                share,
            } => {
                self.key_share(conn, id, &user, share)?;
                Response::Ok
            }
            R::KeyList { conn, template } => Response::Keys(self.key_list(conn, &template)?),
            R::ClusterInfo { conn: _ } => Response::ClusterInfo(self.cluster_info()?),
            R::AuditVerify { conn } => {
                let login = self.login_of(conn)?.ok_or(Error::UserNotLoggedIn)?;
                let _ = login;
                let dk = self.keys.read().dk.clone().ok_or(Error::UserNotLoggedIn)?;
                let verdict = self.audit.verify(&audit::audit_key(dk.bytes())?)?;
                Response::Audit(serde_json::to_string(&verdict).map_err(|_| Error::GeneralError)?)
            }
            req @ (R::QuorumTokenGenerate { .. }
            | R::QuorumRegister { .. }
            | R::QuorumTokenList { .. }
            | R::QuorumTokenDelete { .. }
            | R::QuorumValues { .. }
            | R::QuorumSetValue { .. }
            | R::QuorumTimeouts { .. }
            | R::QuorumSetTimeout { .. }
            | R::QuorumRegistered { .. }
            | R::Approved { .. }) => self.dispatch_quorum(req)?,
        })
    }

    fn admin(&self, conn: ConnId) -> Result<Arc<Login>> {
        match self.login_of(conn)? {
            Some(l) if l.role == Role::Admin => Ok(l),
            Some(_) => Err(Error::UserTypeInvalid),
            None => Err(Error::UserNotLoggedIn),
        }
    }

    fn check_password_len(&self, password: &[u8]) -> Result<()> {
        self.check_pin_len(password)
    }

    fn user_create(
        &self,
        conn: ConnId,
        name: &str,
        role: Role,
        password: &[u8],
        approval: Option<&Approval>,
    ) -> Result<()> {
        let login = self.admin(conn)?;
        let name = users::check_name(name).map_err(|_| Error::ArgumentsBad)?;
        if role == Role::UnactivatedAdmin {
            return Err(Error::ArgumentsBad);
        }
        self.check_password_len(password)?;
        if self.user(&name)?.is_some() {
            return Err(Error::ActionProhibited);
        }
        if self.store.list(Kind::User)?.len() as u64 >= self.cfg.max_users {
            return Err(Error::DeviceMemory);
        }
        let dk = self.keys.read().dk.clone().ok_or(Error::UserNotLoggedIn)?;
        let rec = UserRecord::new(&name, role, password, &dk)?;
        let mut writes = self.quorum_gate(&login, QuorumService::User, approval)?;
        // A name used before must not inherit a quorum key or tokens left behind.
        writes.extend(self.quorum_user_cleanup(&name)?);
        writes.push(Write::Put {
            kind: Kind::User,
            id: name.as_bytes().to_vec(),
            expected: 0,
            body: enc(&rec)?,
        });
        self.commit(writes)
    }

    fn user_delete(&self, conn: ConnId, name: &str, approval: Option<&Approval>) -> Result<()> {
        let login = self.admin(conn)?;
        let name = users::check_name(name).map_err(|_| Error::ArgumentsBad)?;
        let (rec, version) = self.user(&name)?.ok_or(Error::ArgumentsBad)?;
        let logged_in = self
            .conns
            .read()
            .values()
            .any(|c| c.lock().login.as_deref().is_some_and(|l| l.user == name));
        if logged_in {
            return Err(Error::ActionProhibited);
        }
        match rec.role {
            Role::CryptoUser => {
                // A crypto user who still owns token keys cannot go. Private keys are only
                // readable here with the domain key, which an admin's login installed.
                self.refresh()?;
                let cache = self.cache.read();
                if !cache.sealed.is_empty() && self.keys.read().dk.is_none() {
                    return Err(Error::UserNotLoggedIn);
                }
                if cache
                    .objects
                    .values()
                    .any(|e| e.session.is_none() && e.obj.owner.as_deref() == Some(name.as_str()))
                {
                    return Err(Error::ActionProhibited);
                }
            }
            Role::Admin | Role::UnactivatedAdmin => {
                let admins = self
                    .store
                    .list(Kind::User)?
                    .iter()
                    .filter_map(|r| dec::<UserRecord>(&r.body).ok())
                    .filter(|u| u.role == Role::Admin)
                    .count();
                if admins <= 1 {
                    return Err(Error::ActionProhibited);
                }
                // Never leave fewer registered admins than an admin service's quorum value:
                // nobody could approve anything again.
                let m = self.quorum_admin_max()?;
                if m > 1 && self.quorum_approvers_without(&name)? < m {
                    return Err(Error::ActionProhibited);
                }
            }
        }
        let mut writes = self.quorum_gate(&login, QuorumService::User, approval)?;
        // The user's quorum key and tokens go with it.
        writes.extend(self.quorum_user_cleanup(&name)?);
        writes.push(Write::Delete {
            kind: Kind::User,
            id: name.as_bytes().to_vec(),
            expected: version,
        });
        self.commit(writes)
    }

    fn user_list(&self) -> Result<Vec<UserInfo>> {
        let mut out: Vec<UserInfo> = self
            .store
            .list(Kind::User)?
            .iter()
            .map(|r| dec::<UserRecord>(&r.body))
            .map(|u| {
                u.map(|u| UserInfo {
                    locked: u.locked(),
                    failed_logins: u.failed,
                    name: u.name,
                    role: u.role,
                })
            })
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn user_change_password(
        &self,
        conn: ConnId,
        name: &str,
        old: Option<&[u8]>,
        new: &[u8],
        approval: Option<&Approval>,
    ) -> Result<()> {
        let login = self.login_of(conn)?.ok_or(Error::UserNotLoggedIn)?;
        let name = users::check_name(name).map_err(|_| Error::ArgumentsBad)?;
        self.check_password_len(new)?;
        let (rec, version) = self.user(&name)?.ok_or(Error::ArgumentsBad)?;
        let dk = if login.user == name {
            self.authenticate(&name, old.ok_or(Error::ArgumentsBad)?)?.1
        } else if login.role == Role::Admin {
            self.keys
                .read()
                .dk
                .clone()
                .ok_or(Error::UserNotLoggedIn)
                .and_then(|k| SealKey::new(k.bytes()))?
        } else {
            return Err(Error::UserTypeInvalid);
        };
        // A new keyslot; the failed-login counter starts again (an admin reset unlocks).
        let updated = UserRecord::new(&name, rec.role, new, &dk)?;
        let version = self.user(&name)?.map_or(version, |(_, v)| v);
        // Password changes by admins are user-service operations (a crypto user changing its
        // own password is not).
        let mut writes = if login.role == Role::Admin {
            self.quorum_gate(&login, QuorumService::User, approval)?
        } else {
            Vec::new()
        };
        writes.push(Write::Put {
            kind: Kind::User,
            id: name.as_bytes().to_vec(),
            expected: version,
            body: enc(&updated)?,
        });
        self.commit(writes)
    }

    fn key_share(&self, conn: ConnId, id: ObjectId, user: &str, share: bool) -> Result<()> {
        let login = self.login_of(conn)?.ok_or(Error::UserNotLoggedIn)?;
        if login.role != Role::CryptoUser {
            return Err(Error::UserTypeInvalid);
        }
        let e = self.entry(conn, Some(&*login), id)?;
        if !e.obj.is_key() || e.session.is_some() {
            return Err(Error::KeyTypeInconsistent);
        }
        // Only the owner shares or unshares; a sharee may not re-share.
        Self::check_owner(Some(&*login), &e)?;
        let user = users::check_name(user).map_err(|_| Error::ArgumentsBad)?;
        match self.user(&user)? {
            Some((u, _)) if u.role == Role::CryptoUser && u.name != login.user => {}
            _ => return Err(Error::ArgumentsBad),
        }
        let mut obj = e.obj.clone();
        obj.shared.retain(|s| *s != user);
        if share {
            obj.shared.push(user);
        }
        self.replace_object(&e, obj)
    }

    fn key_list(&self, conn: ConnId, template: &[Attribute]) -> Result<Vec<KeyInfo>> {
        self.refresh()?;
        let login = self.login_of(conn)?;
        let is_admin = login.as_deref().is_some_and(|l| l.role == Role::Admin);
        let cache = self.cache.read();
        let mut out: Vec<KeyInfo> = cache
            .objects
            .values()
            .filter(|e| e.obj.is_key() && e.obj.matches(template))
            .filter(|e| {
                (is_admin && e.session.is_none()) || Self::visible(login.as_deref(), conn, e)
            })
            .map(|e| KeyInfo {
                id: e.id,
                owner: e.obj.owner.clone(),
                shared: e.obj.shared.clone(),
                attrs: e
                    .obj
                    .attrs
                    .iter()
                    .filter(|(ty, _)| {
                        super::attrs::meta(**ty)
                            .is_none_or(|m| m.flags & super::attrs::flag::SECRET == 0)
                    })
                    .map(|(ty, v)| Attribute::new(*ty, v.clone()))
                    .collect(),
            })
            .collect();
        out.sort_by_key(|k| k.id);
        Ok(out)
    }

    fn cluster_info(&self) -> Result<ClusterInfo> {
        let (meta, _) = self.meta()?;
        let (operations, by_mech) = self.counters.snapshot();
        Ok(ClusterInfo {
            label: meta.label,
            serial: meta.serial,
            activated: meta.activated,
            users: self.store.list(Kind::User)?.len() as u64,
            token_objects: self.store.list(Kind::Object)?.len() as u64,
            operations,
            operations_by_mechanism: by_mech.into_iter().collect(),
        })
    }
}

/// What an audited request is: its opcode and the key references it names.
fn audit_event(req: &Request) -> Option<(&'static str, Vec<ObjectId>)> {
    use Request as R;
    Some(match req {
        R::InitToken { .. } => ("CN_INIT_TOKEN", vec![]),
        R::Login { .. } | R::ContextLogin { .. } => ("CN_LOGIN", vec![]),
        R::Logout { .. } => ("CN_LOGOUT", vec![]),
        R::InitPin { .. } => ("CN_INIT_PIN", vec![]),
        R::SetPin { .. } | R::UserChangePassword { .. } => ("CN_CHANGE_PSWD", vec![]),
        R::UserCreate { .. } => ("CN_CREATE_USER", vec![]),
        R::UserDelete { .. } => ("CN_DELETE_USER", vec![]),
        R::CreateObject { .. } => ("CN_CREATE_OBJECT", vec![]),
        R::CopyObject { id, .. } => ("CN_COPY_OBJECT", vec![*id]),
        R::DestroyObject { id, .. } => ("CN_DESTROY_OBJECT", vec![*id]),
        R::SetAttributes { id, .. } => ("CN_SET_ATTRIBUTE_VALUE", vec![*id]),
        R::GenerateKey { .. } => ("CN_GENERATE_KEY", vec![]),
        R::GenerateKeyPair { .. } => ("CN_GENERATE_KEY_PAIR", vec![]),
        R::WrapKey { wrapping, key, .. } => ("CN_WRAP_KEY", vec![*wrapping, *key]),
        R::UnwrapKey { unwrapping, .. } => ("CN_UNWRAP_KEY", vec![*unwrapping]),
        R::DeriveKey { base, .. } => ("CN_DERIVE_KEY", vec![*base]),
        R::Encapsulate { key, .. } => ("CN_ENCAPSULATE_KEY", vec![*key]),
        R::Decapsulate { key, .. } => ("CN_DECAPSULATE_KEY", vec![*key]),
        R::KeyShare {
            id, share: true, ..
        } => ("CN_SHARE_OBJECT", vec![*id]),
        R::KeyShare {
            id, share: false, ..
        } => ("CN_UNSHARE_OBJECT", vec![*id]),
        R::QuorumTokenGenerate { .. } => ("CN_GET_TOKEN", vec![]),
        R::QuorumRegister { .. } => ("CN_REGISTER_QUORUM_PUBKEY", vec![]),
        R::QuorumTokenDelete { .. } => ("CN_DELETE_TOKEN", vec![]),
        R::QuorumSetValue { .. } => ("CN_SET_M_VALUE", vec![]),
        R::QuorumSetTimeout { .. } => ("CN_SET_TOKEN_TIMEOUT", vec![]),
        // The gated operation's own record; the approval has its CN_APPROVE_TOKEN record.
        R::Approved { request, .. } => return audit_event(request),
        _ => return None,
    })
}

fn request_conn(req: &Request) -> Option<ConnId> {
    use Request as R;
    match req {
        R::InitToken { conn, .. }
        | R::Login { conn, .. }
        | R::ContextLogin { conn, .. }
        | R::Logout { conn }
        | R::InitPin { conn, .. }
        | R::SetPin { conn, .. }
        | R::UserChangePassword { conn, .. }
        | R::UserCreate { conn, .. }
        | R::UserDelete { conn, .. }
        | R::CreateObject { conn, .. }
        | R::CopyObject { conn, .. }
        | R::DestroyObject { conn, .. }
        | R::SetAttributes { conn, .. }
        | R::GenerateKey { conn, .. }
        | R::GenerateKeyPair { conn, .. }
        | R::WrapKey { conn, .. }
        | R::UnwrapKey { conn, .. }
        | R::DeriveKey { conn, .. }
        | R::Encapsulate { conn, .. }
        | R::Decapsulate { conn, .. }
        | R::KeyShare { conn, .. }
        | R::QuorumTokenGenerate { conn, .. }
        | R::QuorumRegister { conn, .. }
        | R::QuorumTokenDelete { conn, .. }
        | R::QuorumSetValue { conn, .. }
        | R::QuorumSetTimeout { conn, .. } => Some(*conn),
        R::Approved { request, .. } => request_conn(request),
        _ => None,
    }
}

impl Hsm for Core {
    fn op_one_shot_into(
        &self,
        conn: ConnId,
        op: OpId,
        data: &[u8],
        extra: &[u8],
        out: &mut [u8],
    ) -> Result<Placed> {
        // Not audited and no compatibility check, as `Request::OpOneShot`.
        self.op_one_shot_placed(conn, op, data, extra, out)
    }

    fn call(&self, req: Request) -> Result<Response> {
        let Some((opcode, mut keys)) = audit_event(&req) else {
            return self.dispatch(req);
        };
        let who = request_conn(&req).and_then(|c| self.login_of(c).ok().flatten());
        // A login names its user in the PIN; audit the name, never the password.
        let attempted = match &req {
            Request::Login {
                username: Some(n), ..
            } => Some(n.to_ascii_lowercase()),
            Request::Login { user_type, pin, .. } => {
                let default = if *user_type == UserType::So {
                    DEFAULT_ADMIN
                } else {
                    DEFAULT_CRYPTO_USER
                };
                Some(users::split_pin(pin.as_bytes(), default).0)
            }
            _ => None,
        };
        let result = self.dispatch(req);
        match &result {
            Ok(Response::Object(id) | Response::Encapsulated { key: id, .. }) => keys.push(*id),
            Ok(Response::KeyPair { public, private }) => keys.extend([*public, *private]),
            Ok(Response::Objects(ids)) if matches!(opcode, "CN_DERIVE_KEY") => {
                keys.extend(ids.iter().copied())
            }
            _ => {}
        }
        let (user, role) = match (&result, who, attempted) {
            (Ok(Response::LoggedIn { user, role }), _, _) => {
                (Some(user.clone()), Some(role.as_str()))
            }
            (_, Some(l), _) => (Some(l.user.clone()), Some(l.role.as_str())),
            (_, None, a) => (a, None),
        };
        let response = match &result {
            Ok(_) => "OK".to_string(),
            Err(e) => format!("{e:?}"),
        };
        let refs = keys.iter().map(|k| format!("0x{:032x}", k.0)).collect();
        // The audit trail must not be lost silently: a failed append fails the call.
        self.audit
            .append(opcode, user.as_deref(), role, refs, &response)?;
        result
    }
}

// ---------------------------------------------------------------- quorum (M of N)
//
// Records of kind `Quorum` (docs/store-format.md): `settings`, `key/<user>` (a registered
// public key), `token/<user>/<id>` (a drawn token). All are sealed under the domain key; the
// settings also keep a clear copy for listing before login. `hsm::quorum` has the data and the
// pure checks.

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn open_sealed<T: serde::de::DeserializeOwned>(dk: &SealKey, rec: &Record) -> Result<T> {
    let plain = dk.open(rec.kind, &rec.id, rec.version, &rec.body)?;
    dec(&plain)
}

fn sealed_put<T: Serialize>(dk: &SealKey, id: Vec<u8>, expected: u64, v: &T) -> Result<Write> {
    let plain = Zeroizing::new(enc(v)?);
    let body = dk.seal(Kind::Quorum, &id, expected + 1, &plain)?;
    Ok(Write::Put {
        kind: Kind::Quorum,
        id,
        expected,
        body,
    })
}

impl Core {
    fn dispatch_quorum(&self, req: Request) -> Result<Response> {
        use Request as R;
        Ok(match req {
            R::QuorumTokenGenerate { conn, service } => self.quorum_generate(conn, service)?,
            R::QuorumRegister {
                conn,
                public_key,
                approval_data,
                signature,
            } => {
                self.quorum_register(conn, &public_key, &approval_data, &signature)?;
                Response::Ok
            }
            R::QuorumTokenList { conn } => Response::QuorumTokens(self.quorum_list(conn)?),
            R::QuorumTokenDelete { conn, all } => {
                self.quorum_delete(conn, all)?;
                Response::Ok
            }
            R::QuorumValues { conn: _ } => {
                let (s, _) = self.quorum_settings(self.keys.read().dk.as_deref())?;
                Response::QuorumValues(vec![
                    (QuorumService::User, s.user),
                    (QuorumService::Quorum, s.quorum),
                ])
            }
            R::QuorumSetValue {
                conn,
                service,
                value,
            } => {
                self.quorum_set_value(conn, service, value, None)?;
                Response::Ok
            }
            R::QuorumTimeouts { conn: _ } => {
                let (s, _) = self.quorum_settings(self.keys.read().dk.as_deref())?;
                Response::QuorumTimeouts {
                    generated: s.generated_timeout,
                    approved: s.approved_timeout,
                }
            }
            R::QuorumSetTimeout {
                conn,
                generated,
                approved,
            } => {
                self.quorum_set_timeout(conn, generated, approved)?;
                Response::Ok
            }
            R::QuorumRegistered { conn: _ } => {
                let mut names: Vec<String> = self
                    .store
                    .list(Kind::Quorum)?
                    .iter()
                    .filter_map(|r| quorum::key_owner(&r.id).map(str::to_string))
                    .collect();
                names.sort();
                Response::QuorumRegistered(names)
            }
            R::Approved { approval, request } => {
                let a = Some(&approval);
                match *request {
                    R::UserCreate {
                        conn,
                        name,
                        role,
                        password,
                    } => self.user_create(conn, &name, role, password.as_bytes(), a)?,
                    R::UserDelete { conn, name } => self.user_delete(conn, &name, a)?,
                    R::UserChangePassword {
                        conn,
                        name,
                        old,
                        new,
                    } => self.user_change_password(
                        conn,
                        &name,
                        old.as_ref().map(Secret::as_bytes),
                        new.as_bytes(),
                        a,
                    )?,
                    R::QuorumSetValue {
                        conn,
                        service,
                        value,
                    } => self.quorum_set_value(conn, service, value, a)?,
                    // Nothing else is gated by an approval.
                    _ => return Err(Error::ArgumentsBad),
                }
                Response::Ok
            }
            _ => return Err(Error::GeneralError),
        })
    }

    fn logged_in_dk(&self) -> Result<Arc<SealKey>> {
        self.keys.read().dk.clone().ok_or(Error::UserNotLoggedIn)
    }

    /// The quorum settings and their record's version (0: never set, the defaults). With the
    /// domain key, the sealed copy (the only one enforcement trusts); without, the clear copy.
    fn quorum_settings(&self, dk: Option<&SealKey>) -> Result<(quorum::Settings, u64)> {
        let Some(rec) = self.store.get(Kind::Quorum, quorum::SETTINGS_ID)? else {
            return Ok((quorum::Settings::default(), 0));
        };
        let stored: quorum::SettingsRecord = dec(&rec.body)?;
        let settings = match dk {
            Some(dk) => {
                let plain = dk.open(
                    Kind::Quorum,
                    quorum::SETTINGS_ID,
                    rec.version,
                    &stored.sealed,
                )?;
                dec(&plain)?
            }
            None => stored.clear,
        };
        Ok((settings, rec.version))
    }

    fn settings_write(&self, dk: &SealKey, s: &quorum::Settings, expected: u64) -> Result<Write> {
        let sealed = dk.seal(Kind::Quorum, quorum::SETTINGS_ID, expected + 1, &enc(s)?)?;
        Ok(Write::Put {
            kind: Kind::Quorum,
            id: quorum::SETTINGS_ID.to_vec(),
            expected,
            body: enc(&quorum::SettingsRecord { clear: *s, sealed })?,
        })
    }

    /// Someone who may approve: a registered key whose user still exists with the role it
    /// registered under.
    fn quorum_approver(&self, dk: &SealKey, name: &str) -> Option<quorum::Approver> {
        let rec = self.store.get(Kind::Quorum, &quorum::key_id(name)).ok()??;
        let reg: quorum::Registration = open_sealed(dk, &rec).ok()?;
        let (user, _) = self.user(name).ok()??;
        if user.role != reg.role || reg.user != name {
            return None;
        }
        Some(quorum::Approver {
            name: name.to_string(),
            role: reg.role,
            key: reg.public_key().ok()?,
        })
    }

    /// Every token record, opened: (token, version, record id).
    fn quorum_tokens(&self, dk: &SealKey) -> Result<Vec<(TokenRecord, u64, Vec<u8>)>> {
        self.store
            .list(Kind::Quorum)?
            .into_iter()
            .filter(|r| quorum::token_owner(&r.id).is_some())
            .map(|r| Ok((open_sealed(dk, &r)?, r.version, r.id)))
            .collect()
    }

    /// Deletes of a user's quorum key and tokens (when the user goes, or a name is reused).
    fn quorum_user_cleanup(&self, name: &str) -> Result<Vec<Write>> {
        Ok(self
            .store
            .list(Kind::Quorum)?
            .into_iter()
            .filter(|r| {
                quorum::key_owner(&r.id) == Some(name) || quorum::token_owner(&r.id) == Some(name)
            })
            .map(|r| Write::Delete {
                kind: Kind::Quorum,
                id: r.id,
                expected: r.version,
            })
            .collect())
    }

    /// The quorum check of a gated operation: nothing to do while the service's value is 1;
    /// else the approval must name a live token the caller drew for this service, signed by at
    /// least M distinct admins with their registered keys. Returns the write that consumes the
    /// token, to be committed with the operation (so a token is used once, and only by an
    /// operation that happened). Every presented approval is audited (CN_APPROVE_TOKEN).
    fn quorum_gate(
        &self,
        login: &Login,
        service: QuorumService,
        approval: Option<&Approval>,
    ) -> Result<Vec<Write>> {
        let dk = self.logged_in_dk()?;
        let (settings, _) = self.quorum_settings(Some(&dk))?;
        let m = settings.value(service);
        if m <= 1 {
            return Ok(Vec::new());
        }
        let Some(approval) = approval else {
            return Err(Error::FunctionRejected);
        };
        let result = self.check_approval(&dk, login, service, m, &settings, approval);
        let response = match &result {
            Ok(_) => "OK".to_string(),
            Err(e) => format!("{e:?}"),
        };
        self.audit.append(
            "CN_APPROVE_TOKEN",
            Some(&login.user),
            Some(login.role.as_str()),
            vec![],
            &response,
        )?;
        result
    }

    fn check_approval(
        &self,
        dk: &SealKey,
        login: &Login,
        service: QuorumService,
        m: u64,
        settings: &quorum::Settings,
        approval: &Approval,
    ) -> Result<Vec<Write>> {
        let id = quorum::token_id_of(&approval.approval_data).ok_or(Error::FunctionRejected)?;
        // The record id names the requester: only the caller's own tokens are found.
        let rid = quorum::token_record_id(&login.user, &id);
        let rec = self
            .store
            .get(Kind::Quorum, &rid)?
            .ok_or(Error::FunctionRejected)?;
        let mut token: TokenRecord = open_sealed(dk, &rec)?;
        let now = now_s();
        let valid = quorum::matches(&token, &approval.approval_data, &approval.token)
            && token.service == service
            && token.user == login.user
            && token.live(now, settings);
        if !valid {
            return Err(Error::FunctionRejected);
        }
        // Admin services take admins' approvals.
        let count = quorum::count_approvals(
            &token.token(),
            &approval.signatures,
            Some(Role::Admin),
            |name| self.quorum_approver(dk, name),
        );
        if count < m {
            return Err(Error::FunctionRejected);
        }
        let mut version = rec.version;
        if token.approved.is_none() {
            // Approved now: usable for the approved lifetime, shown by `list`, and kept if
            // the operation fails for another reason.
            token.approved = Some((now, count));
            self.commit(vec![sealed_put(dk, rid.clone(), version, &token)?])?;
            version += 1;
        }
        Ok(vec![Write::Delete {
            kind: Kind::Quorum,
            id: rid,
            expected: version,
        }])
    }

    fn quorum_generate(&self, conn: ConnId, service: QuorumService) -> Result<Response> {
        let login = self.login_of(conn)?.ok_or(Error::UserNotLoggedIn)?;
        match service {
            QuorumService::User | QuorumService::Quorum if login.role != Role::Admin => {
                return Err(Error::UserTypeInvalid)
            }
            QuorumService::KeyManagement | QuorumService::KeyUsage => {
                return Err(Error::FunctionNotSupported)
            }
            _ => {}
        }
        let dk = self.logged_in_dk()?;
        let (settings, _) = self.quorum_settings(Some(&dk))?;
        let now = now_s();
        let mut writes = Vec::new();
        let mut live = 0usize;
        for (t, version, id) in self.quorum_tokens(&dk)? {
            if !t.live(now, &settings) {
                writes.push(Write::Delete {
                    kind: Kind::Quorum,
                    id,
                    expected: version,
                });
                continue;
            }
            live += 1;
            // One live token per user per admin service (CloudHSM).
            if t.user == login.user
                && t.service == service
                && matches!(service, QuorumService::User | QuorumService::Quorum)
            {
                return Err(Error::ActionProhibited);
            }
        }
        if live >= quorum::MAX_TOKENS {
            return Err(Error::DeviceMemory);
        }
        let (meta, _) = self.meta()?;
        let token = TokenRecord::new(
            &meta.serial,
            service,
            &login.user,
            now,
            settings.generated_timeout,
        )?;
        let rid = quorum::token_record_id(&login.user, &token.id);
        writes.push(sealed_put(&dk, rid, 0, &token)?);
        self.commit(writes)?;
        Ok(Response::QuorumToken {
            token: token.token(),
            approval_data: token.approval_data,
        })
    }

    fn quorum_register(
        &self,
        conn: ConnId,
        public_key: &[u8],
        approval_data: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        let login = self.login_of(conn)?.ok_or(Error::UserNotLoggedIn)?;
        let dk = self.logged_in_dk()?;
        let key = quorum::check_public_key(public_key)?;
        let id = quorum::token_id_of(approval_data).ok_or(Error::FunctionRejected)?;
        let rid = quorum::token_record_id(&login.user, &id);
        let rec = self
            .store
            .get(Kind::Quorum, &rid)?
            .ok_or(Error::FunctionRejected)?;
        let token: TokenRecord = open_sealed(&dk, &rec)?;
        let (settings, _) = self.quorum_settings(Some(&dk))?;
        let digest = token.token();
        if !quorum::matches(&token, approval_data, &digest)
            || token.service != QuorumService::Registration
            || !token.live(now_s(), &settings)
        {
            return Err(Error::FunctionRejected);
        }
        // Proof of possession: the registration token signed with the private key.
        key.verify_pkcs1(crate::crypto::HashAlg::Sha256, &digest, signature)
            .map_err(|_| Error::SignatureInvalid)?;
        let reg = quorum::Registration {
            user: login.user.clone(),
            role: login.role,
            spki: key.to_spki_der()?,
        };
        let kid = quorum::key_id(&login.user);
        let expected = self.store.get(Kind::Quorum, &kid)?.map_or(0, |r| r.version);
        self.commit(vec![
            sealed_put(&dk, kid, expected, &reg)?,
            Write::Delete {
                kind: Kind::Quorum,
                id: rid,
                expected: rec.version,
            },
        ])
    }

    fn quorum_list(&self, conn: ConnId) -> Result<Vec<QuorumTokenInfo>> {
        self.login_of(conn)?.ok_or(Error::UserNotLoggedIn)?;
        let dk = self.logged_in_dk()?;
        let (settings, _) = self.quorum_settings(Some(&dk))?;
        let now = now_s();
        let mut out: Vec<QuorumTokenInfo> = self
            .quorum_tokens(&dk)?
            .into_iter()
            .filter(|(t, _, _)| t.live(now, &settings))
            .map(|(t, _, _)| QuorumTokenInfo {
                user: t.user.clone(),
                service: t.service,
                approvals_required: settings.value(t.service),
                approvals: t.approved.map_or(0, |(_, n)| n),
                timeout_seconds: t.deadline(&settings).saturating_sub(now),
            })
            .collect();
        out.sort_by(|a, b| (&a.user, a.service.as_str()).cmp(&(&b.user, b.service.as_str())));
        Ok(out)
    }

    fn quorum_delete(&self, conn: ConnId, all: bool) -> Result<()> {
        let login = self.admin(conn)?;
        let writes: Vec<Write> = self
            .store
            .list(Kind::Quorum)?
            .into_iter()
            .filter(|r| match quorum::token_owner(&r.id) {
                Some(owner) => all || owner == login.user,
                None => false,
            })
            .map(|r| Write::Delete {
                kind: Kind::Quorum,
                id: r.id,
                expected: r.version,
            })
            .collect();
        if writes.is_empty() {
            return Ok(());
        }
        self.commit(writes)
    }

    fn quorum_set_value(
        &self,
        conn: ConnId,
        service: QuorumService,
        value: u64,
        approval: Option<&Approval>,
    ) -> Result<()> {
        let login = self.admin(conn)?;
        let dk = self.logged_in_dk()?;
        let (mut settings, version) = self.quorum_settings(Some(&dk))?;
        settings.set_value(service, value)?;
        // Never more approvals than admins who could give them: no lock-out.
        if value > 1 && self.quorum_approvers_without("")? < value {
            return Err(Error::ArgumentsBad);
        }
        let mut writes = self.quorum_gate(&login, QuorumService::Quorum, approval)?;
        writes.push(self.settings_write(&dk, &settings, version)?);
        self.commit(writes)
    }

    /// Admins with a registered key who could approve, leaving out `without`.
    fn quorum_approvers_without(&self, without: &str) -> Result<u64> {
        let dk = self.logged_in_dk()?;
        Ok(self
            .store
            .list(Kind::Quorum)?
            .iter()
            .filter_map(|r| quorum::key_owner(&r.id))
            .filter(|n| *n != without)
            .filter_map(|n| self.quorum_approver(&dk, n))
            .filter(|a| a.role == Role::Admin)
            .count() as u64)
    }

    /// The highest quorum value of the admin services (1: quorum off).
    fn quorum_admin_max(&self) -> Result<u64> {
        let dk = self.logged_in_dk()?;
        let (s, _) = self.quorum_settings(Some(&dk))?;
        Ok(s.user.max(s.quorum))
    }

    fn quorum_set_timeout(
        &self,
        conn: ConnId,
        generated: Option<u64>,
        approved: Option<u64>,
    ) -> Result<()> {
        self.admin(conn)?;
        let dk = self.logged_in_dk()?;
        if generated.is_none() && approved.is_none() {
            return Err(Error::ArgumentsBad);
        }
        let range = 1..=quorum::MAX_TIMEOUT_S;
        if [generated, approved]
            .iter()
            .flatten()
            .any(|t| !range.contains(t))
        {
            return Err(Error::ArgumentsBad);
        }
        let (mut settings, version) = self.quorum_settings(Some(&dk))?;
        if let Some(g) = generated {
            settings.generated_timeout = g;
        }
        if let Some(a) = approved {
            settings.approved_timeout = a;
        }
        let w = self.settings_write(&dk, &settings, version)?;
        self.commit(vec![w])
    }
}

/// Message-based operations and KEMs (issue 3): the crypto is in `aead_pq`.
impl Core {
    /// The message-based operation `op` of `conn` and the IV of its next message, generated
    /// here when `params` ask for it (the counter lives in the operation's state).
    fn message_iv(
        &self,
        conn: ConnId,
        op: OpId,
        params: &MessageParams,
    ) -> Result<(Arc<Entry>, Vec<u8>)> {
        self.ops.with(op, |ops| {
            let o = ops
                .get_mut(&op)
                .filter(|o| o.conn == conn)
                .ok_or(Error::OperationNotInitialized)?;
            if o.needs_auth {
                return Err(Error::UserNotLoggedIn);
            }
            let Mechanism::Message(m) = &o.mech else {
                return Err(Error::OperationNotInitialized);
            };
            let iv = aead_pq::message_iv(o.kind, *m, params, &mut o.state)?;
            Ok((o.entry.clone(), iv))
        })
    }

    /// One message: the operation stays active whatever the outcome.
    fn message(
        &self,
        conn: ConnId,
        op: OpId,
        params: Option<&MessageParams>,
        aad: &[u8],
        data: &[u8],
        extra: &[u8],
    ) -> Result<Response> {
        let (kind, m) = self.ops.with(op, |ops| {
            let o = ops
                .get(&op)
                .filter(|o| o.conn == conn)
                .ok_or(Error::OperationNotInitialized)?;
            match &o.mech {
                Mechanism::Message(m) => Ok((o.kind, *m)),
                _ => Err(Error::OperationNotInitialized),
            }
        })?;
        let (entry, iv) = match params {
            Some(p) => self.message_iv(conn, op, p)?,
            None => self.ops.with(op, |ops| {
                let o = ops.get(&op).ok_or(Error::OperationNotInitialized)?;
                if o.needs_auth {
                    return Err(Error::UserNotLoggedIn);
                }
                Ok((o.entry.clone(), Vec::new()))
            })?,
        };
        aead_pq::run_message(kind, m, entry.key()?, params, &iv, aad, data, extra)
    }

    /// The ML-KEM key a KEM call uses, with its checks: class, key type, usage, mechanism.
    fn kem_key(
        &self,
        conn: ConnId,
        login: Option<&Login>,
        mech: &Mechanism,
        key: ObjectId,
        class: u64,
        usage: u64,
    ) -> Result<Arc<Entry>> {
        if *mech != Mechanism::MlKem {
            return Err(Error::MechanismInvalid);
        }
        let e = self.usable_key(conn, login, key, Error::KeyHandleInvalid)?;
        if e.obj.class() != class || e.obj.key_type() != Some(CKK_ML_KEM) {
            return Err(Error::KeyTypeInconsistent);
        }
        if !e.obj.bool(usage) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        Self::check_allowed(mech, &e.obj)?;
        Ok(e)
    }

    /// The secret key a shared secret becomes, added to the session or token.
    fn add_shared_secret(
        &self,
        conn: ConnId,
        sid: SessionId,
        login: Option<&Login>,
        template: &[Attribute],
        secret: &[u8],
    ) -> Result<ObjectId> {
        let (kt, material) = aead_pq::shared_secret_material(
            objects::class_and_type(template)?.1,
            template,
            secret,
        )?;
        let id = Self::new_object_id()?;
        let mut obj = objects::build(
            CKO_SECRET_KEY,
            Some(kt),
            template,
            material,
            Origin::Unwrap,
            id,
        )?;
        // The secret is known to whoever holds the decapsulation key, which may have been
        // outside the token: never "always sensitive" nor "never extractable".
        obj.attrs
            .insert(CKA_ALWAYS_SENSITIVE, AttrValue::Bool(false));
        obj.attrs
            .insert(CKA_NEVER_EXTRACTABLE, AttrValue::Bool(false));
        self.check_create(conn, sid, login, &obj)?;
        self.add_object(conn, sid, login, obj, id)?;
        Ok(id)
    }

    fn check_kem_template(template: &[Attribute]) -> Result<()> {
        if objects::class_and_type(template)?
            .0
            .is_some_and(|c| c != CKO_SECRET_KEY)
        {
            return Err(Error::TemplateInconsistent);
        }
        objects::check_template(template)
    }

    fn encapsulate(
        &self,
        conn: ConnId,
        sid: SessionId,
        mech: &Mechanism,
        key: ObjectId,
        template: &[Attribute],
    ) -> Result<Response> {
        self.session_rw(conn, sid)?;
        let login = self.login_of(conn)?;
        let e = self.kem_key(
            conn,
            login.as_deref(),
            mech,
            key,
            CKO_PUBLIC_KEY,
            CKA_ENCAPSULATE,
        )?;
        Self::check_kem_template(template)?;
        self.counters.count(mechs::ck_type(mech));
        let (ciphertext, secret) = aead_pq::encapsulate(e.key()?)?;
        let id = self.add_shared_secret(conn, sid, login.as_deref(), template, &secret)?;
        Ok(Response::Encapsulated {
            key: id,
            ciphertext,
        })
    }

    fn decapsulate(
        &self,
        conn: ConnId,
        sid: SessionId,
        mech: &Mechanism,
        key: ObjectId,
        ciphertext: &[u8],
        template: &[Attribute],
    ) -> Result<ObjectId> {
        self.session_rw(conn, sid)?;
        let login = self.login_of(conn)?;
        let e = self.kem_key(
            conn,
            login.as_deref(),
            mech,
            key,
            CKO_PRIVATE_KEY,
            CKA_DECAPSULATE,
        )?;
        Self::check_kem_template(template)?;
        self.counters.count(mechs::ck_type(mech));
        let secret = aead_pq::decapsulate(e.key()?, ciphertext)?;
        self.add_shared_secret(conn, sid, login.as_deref(), template, &secret)
    }
}
