//! Slots: one per configured cluster, each with its HSM, its connection (this process's view:
//! login state lives there), its sessions and its object handles.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};

use super::handles::Handles;
use super::session::Session;
use super::Module;
use crate::config::SlotConfig;
use crate::error::{Error, Result};
use crate::hsm::api::{
    ConnId, Hsm, MechanismInfo, ObjectId, OpId, PinState, Request, Response, Secret, SessionId,
    TokenInfo, UserType,
};

/// At most this many sessions per application and slot (CKR_SESSION_COUNT beyond).
pub(crate) const MAX_SESSIONS: usize = 1024;

/// What we tell applications about who made us.
pub(crate) const MANUFACTURER: &str = "cloudhsm-pkcs11 project";
const MODEL: &str = "cloudhsm-pkcs11";

/// The next session handle of this process (shared by every slot, never reset).
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// Who is logged in to a slot, for this application.
pub type LoginKind = Option<UserType>;

/// C_GetSlotInfo, as plain data (`ffi` pads the strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub description: String,
    pub manufacturer: &'static str,
    pub flags: u64,
    pub hardware_version: (u8, u8),
    pub firmware_version: (u8, u8),
}

/// C_GetTokenInfo, as plain data (`ffi` pads the strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfoView {
    pub label: String,
    pub manufacturer: &'static str,
    pub model: &'static str,
    pub serial: String,
    pub flags: u64,
    pub max_sessions: u64,
    pub sessions: u64,
    pub max_rw_sessions: u64,
    pub rw_sessions: u64,
    pub max_pin_len: u64,
    pub min_pin_len: u64,
    pub total_public_memory: u64,
    pub free_public_memory: u64,
    pub total_private_memory: u64,
    pub free_private_memory: u64,
    pub hardware_version: (u8, u8),
    pub firmware_version: (u8, u8),
}

/// Login state and sessions of a slot: one lock, so that logins, session opening and closing
/// see each other atomically (lock order: see the module documentation).
#[derive(Default)]
pub(crate) struct SlotState {
    pub(crate) login: LoginKind,
    pub(crate) sessions: BTreeMap<u64, Arc<Session>>,
}

/// One slot (= one cluster) as this process sees it.
pub(crate) struct Slot {
    cfg: SlotConfig,
    hsm: Arc<dyn Hsm>,
    conn: ConnId,
    connected: AtomicBool,
    pub(crate) state: Mutex<SlotState>,
    objects: RwLock<Handles>,
    /// Bumped whenever a handle is forgotten (after the change, under `objects`' write lock):
    /// a handle → object lookup remembered at generation `g` is still right while the
    /// generation is `g` (handles are never reused). See `Session::op_init`.
    handles_generation: AtomicU64,
    mechanisms: OnceLock<Vec<MechanismInfo>>,
    seen_generation: Mutex<u64>,
}

/// This library's version, for the version fields of the info structures.
pub(crate) fn library_version() -> (u8, u8) {
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    (major, minor)
}

impl Slot {
    /// Connect to the slot's HSM (Request::Connect) and note the token's generation.
    pub(crate) fn connect(cfg: SlotConfig, hsm: Arc<dyn Hsm>) -> Result<Slot> {
        let conn = match hsm.call(Request::Connect)? {
            Response::Connected(c) => c,
            _ => return Err(Error::GeneralError),
        };
        let slot = Slot {
            cfg,
            hsm,
            conn,
            connected: AtomicBool::new(true),
            state: Mutex::new(SlotState::default()),
            objects: RwLock::new(Handles::default()),
            handles_generation: AtomicU64::new(0),
            mechanisms: OnceLock::new(),
            seen_generation: Mutex::new(0),
        };
        // On error, `slot` drops and disconnects.
        *slot.seen_generation.lock() = slot.core_token_info()?.generation;
        Ok(slot)
    }

    pub(crate) fn id(&self) -> u64 {
        self.cfg.slot_id
    }

    pub(crate) fn conn(&self) -> ConnId {
        self.conn
    }

    /// One request to the core.
    pub(crate) fn call(&self, req: Request) -> Result<Response> {
        self.hsm.call(req)
    }

    /// A single-part operation on borrowed input, its output written into `out` where it
    /// fits (`Hsm::op_one_shot_into`).
    pub(crate) fn op_one_shot_into(
        &self,
        op: OpId,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<crate::hsm::api::Placed> {
        self.hsm.op_one_shot_into(self.conn, op, data, &[], out)
    }

    /// Disconnect once (C_Finalize, or a failed C_Initialize).
    pub(crate) fn disconnect(&self) {
        if self.connected.swap(false, Ordering::AcqRel) {
            let _ = self.call(Request::Disconnect { conn: self.conn });
        }
    }

    /// Close every session and log out (C_Finalize).
    pub(crate) fn close_all_sessions(&self) {
        let mut st = self.state.lock();
        let sessions = std::mem::take(&mut st.sessions);
        for s in sessions.values() {
            s.mark_closed();
            s.terminate_ops();
            let _ = self.call(Request::CloseSession {
                conn: self.conn,
                sid: SessionId(s.handle()),
            });
        }
        if st.login.take().is_some() {
            let _ = self.call(Request::Logout { conn: self.conn });
        }
    }

    fn core_token_info(&self) -> Result<TokenInfo> {
        match self.call(Request::TokenInfo { conn: self.conn })? {
            Response::TokenInfo(t) => Ok(t),
            _ => Err(Error::GeneralError),
        }
    }

    /// Whether the token changed (was re-initialized) since we last looked.
    pub(crate) fn token_changed(&self) -> Result<bool> {
        let generation = self.core_token_info()?.generation;
        let mut seen = self.seen_generation.lock();
        let changed = *seen != generation;
        *seen = generation;
        Ok(changed)
    }

    /// C_GetSlotInfo.
    pub(crate) fn slot_info(&self) -> SlotInfo {
        SlotInfo {
            description: format!("cloudhsm-pkcs11 cluster {}", self.cfg.name),
            manufacturer: MANUFACTURER,
            flags: CKF_TOKEN_PRESENT,
            hardware_version: (0, 0),
            firmware_version: library_version(),
        }
    }

    /// C_GetTokenInfo: the core's token information, this process's session counts.
    pub(crate) fn token_info(&self) -> Result<TokenInfoView> {
        let t = self.core_token_info()?;
        let (sessions, rw_sessions) = {
            let st = self.state.lock();
            let rw = st.sessions.values().filter(|s| s.is_rw()).count();
            (st.sessions.len(), rw)
        };
        let mut flags = CKF_RNG | CKF_LOGIN_REQUIRED;
        if t.initialized {
            flags |= CKF_TOKEN_INITIALIZED;
        }
        if t.user_pin_initialized {
            flags |= CKF_USER_PIN_INITIALIZED;
        }
        flags |= pin_flags(
            t.user_pin,
            [
                CKF_USER_PIN_COUNT_LOW,
                CKF_USER_PIN_FINAL_TRY,
                CKF_USER_PIN_LOCKED,
            ],
        );
        flags |= pin_flags(
            t.so_pin,
            [
                CKF_SO_PIN_COUNT_LOW,
                CKF_SO_PIN_FINAL_TRY,
                CKF_SO_PIN_LOCKED,
            ],
        );
        let label = if t.label.is_empty() {
            self.cfg.label.clone()
        } else {
            t.label
        };
        Ok(TokenInfoView {
            label,
            manufacturer: MANUFACTURER,
            model: MODEL,
            serial: t.serial,
            flags,
            max_sessions: MAX_SESSIONS as u64,
            sessions: sessions as u64,
            max_rw_sessions: MAX_SESSIONS as u64,
            rw_sessions: rw_sessions as u64,
            max_pin_len: t.max_pin_len,
            min_pin_len: t.min_pin_len,
            // One store holds public and private objects alike.
            total_public_memory: t.total_public_memory,
            free_public_memory: t.free_public_memory,
            total_private_memory: t.total_public_memory,
            free_private_memory: t.free_public_memory,
            hardware_version: (0, 0),
            firmware_version: library_version(),
        })
    }

    /// The token's mechanisms (asked once, then cached).
    pub(crate) fn mechanisms(&self) -> Result<&[MechanismInfo]> {
        if let Some(m) = self.mechanisms.get() {
            return Ok(m);
        }
        let list = match self.call(Request::Mechanisms)? {
            Response::Mechanisms(m) => m,
            _ => return Err(Error::GeneralError),
        };
        Ok(self.mechanisms.get_or_init(|| list))
    }

    /// C_InitToken: only with no session of this application open on the slot.
    pub(crate) fn init_token(&self, so_pin: Secret, label: String) -> Result<()> {
        let st = self.state.lock();
        if !st.sessions.is_empty() {
            return Err(Error::SessionExists);
        }
        expect_ok(self.call(Request::InitToken {
            conn: self.conn,
            so_pin,
            label,
        })?)?;
        drop(st);
        // Every token object is gone, and no session (so no session object) exists.
        let mut objects = self.objects.write();
        objects.clear();
        self.handles_generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Open a session (C_OpenSession).
    pub(crate) fn open_session(self: &Arc<Self>, flags: u64) -> Result<Arc<Session>> {
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        let rw = flags & CKF_RW_SESSION != 0;
        let mut st = self.state.lock();
        if st.sessions.len() >= MAX_SESSIONS {
            return Err(Error::SessionCount);
        }
        if !rw && st.login == Some(UserType::So) {
            return Err(Error::SessionReadWriteSoExists);
        }
        let handle = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        expect_ok(self.call(Request::OpenSession {
            conn: self.conn,
            sid: SessionId(handle),
            rw,
        })?)?;
        let session = Arc::new(Session::new(handle, Arc::clone(self), rw));
        st.sessions.insert(handle, Arc::clone(&session));
        Ok(session)
    }

    /// Close a session (C_CloseSession); closing the last one logs the application out.
    pub(crate) fn close_session(&self, session: &Session) -> Result<()> {
        let mut st = self.state.lock();
        if st.sessions.remove(&session.handle()).is_none() {
            return Err(Error::SessionHandleInvalid);
        }
        session.mark_closed();
        session.terminate_ops();
        let closed = self.call(Request::CloseSession {
            conn: self.conn,
            sid: session.sid(),
        });
        if st.sessions.is_empty()
            && st.login.take().is_some()
            && self.call(Request::Logout { conn: self.conn }).is_ok()
        {
            self.forget_invisible();
        }
        expect_ok(closed?)
    }

    /// Log in (C_Login / C_LoginUser with CKU_SO or CKU_USER).
    pub(crate) fn login(
        &self,
        user_type: UserType,
        username: Option<String>,
        pin: Secret,
    ) -> Result<()> {
        let mut st = self.state.lock();
        match st.login {
            Some(u) if u == user_type => return Err(Error::UserAlreadyLoggedIn),
            Some(_) => return Err(Error::UserAnotherAlreadyLoggedIn),
            None => {}
        }
        if user_type == UserType::So && st.sessions.values().any(|s| !s.is_rw()) {
            return Err(Error::SessionReadOnlyExists);
        }
        match self.call(Request::Login {
            conn: self.conn,
            user_type,
            username,
            pin,
        })? {
            Response::LoggedIn { .. } | Response::Ok => {}
            _ => return Err(Error::GeneralError),
        }
        st.login = Some(user_type);
        Ok(())
    }

    /// Log out every session of the slot and end their operations (C_Logout).
    pub(crate) fn logout(&self) -> Result<()> {
        let mut st = self.state.lock();
        if st.login.is_none() {
            return Err(Error::UserNotLoggedIn);
        }
        let r = self.call(Request::Logout { conn: self.conn });
        st.login = None;
        for s in st.sessions.values() {
            s.terminate_ops();
        }
        expect_ok(r?)?;
        self.forget_invisible();
        Ok(())
    }

    /// After a logout, handles to objects the application can no longer see (private
    /// objects) become invalid, even if a user logs in again (PKCS#11 C_Logout): keep only
    /// the handles of objects still visible. One find, never per object.
    fn forget_invisible(&self) {
        let visible = match self.call(Request::FindObjects {
            conn: self.conn,
            template: Vec::new(),
        }) {
            Ok(Response::Objects(ids)) => ids.into_iter().collect::<std::collections::HashSet<_>>(),
            // Best effort: the core refuses invisible objects anyway.
            _ => return,
        };
        let mut objects = self.objects.write();
        objects.retain(|id| visible.contains(&id));
        self.handles_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Who is logged in.
    pub(crate) fn login_state(&self) -> LoginKind {
        self.state.lock().login
    }

    // ----- object handles -----

    /// The object behind a handle; `invalid` is the error for an unknown handle
    /// (CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID, ... as the function's spec says).
    pub(crate) fn object(&self, handle: u64, invalid: Error) -> Result<ObjectId> {
        self.objects.read().id(handle).ok_or(invalid)
    }

    /// The handle of an object, allocating one for an object not seen before.
    pub(crate) fn handle(&self, id: ObjectId) -> u64 {
        if let Some(h) = self.objects.read().existing(id) {
            return h;
        }
        self.objects.write().handle(id)
    }

    /// Forget an object (destroyed).
    pub(crate) fn forget(&self, id: ObjectId) {
        let mut objects = self.objects.write();
        objects.forget(id);
        self.handles_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// See the field.
    pub(crate) fn handles_generation(&self) -> u64 {
        self.handles_generation.load(Ordering::Acquire)
    }

    /// Pass a core result on; if the core no longer knows the object (`gone` is the code it
    /// answers with), forget its handle and answer `invalid` instead.
    pub(crate) fn checked<T>(
        &self,
        id: ObjectId,
        r: Result<T>,
        gone: &[Error],
        invalid: Error,
    ) -> Result<T> {
        match r {
            Err(e) if gone.contains(&e) => {
                self.forget(id);
                Err(invalid)
            }
            other => other,
        }
    }

    /// Best-effort cancel of a core operation (the core may already have dropped it).
    pub(crate) fn cancel(&self, op: OpId) {
        let _ = self.call(Request::OpCancel {
            conn: self.conn,
            op,
        });
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.disconnect();
    }
}

fn pin_flags(p: PinState, [low, final_try, locked]: [u64; 3]) -> u64 {
    let mut f = 0;
    if p.count_low {
        f |= low;
    }
    if p.final_try {
        f |= final_try;
    }
    if p.locked {
        f |= locked;
    }
    f
}

/// The core answered `Ok`.
pub(crate) fn expect_ok(r: Response) -> Result<()> {
    match r {
        Response::Ok => Ok(()),
        _ => Err(Error::GeneralError),
    }
}

/// The core answered a verification: `Ok`, or `Data` with no output.
pub(crate) fn expect_done(r: Response) -> Result<()> {
    match r {
        Response::Ok | Response::Data(_) => Ok(()),
        _ => Err(Error::GeneralError),
    }
}

/// The core answered with an object.
pub(crate) fn expect_object(r: Response) -> Result<ObjectId> {
    match r {
        Response::Object(id) => Ok(id),
        _ => Err(Error::GeneralError),
    }
}

/// The core answered with data.
pub(crate) fn expect_data(r: Response) -> Result<Vec<u8>> {
    match r {
        Response::Data(d) => Ok(d),
        _ => Err(Error::GeneralError),
    }
}

impl Module {
    /// C_GetSlotInfo.
    pub fn slot_info(&self, slot: u64) -> Result<SlotInfo> {
        Ok(self.slot(slot)?.slot_info())
    }

    /// C_GetTokenInfo.
    pub fn token_info(&self, slot: u64) -> Result<TokenInfoView> {
        self.slot(slot)?.token_info()
    }

    /// C_GetMechanismList.
    pub fn mechanism_list(&self, slot: u64) -> Result<Vec<u64>> {
        Ok(self
            .slot(slot)?
            .mechanisms()?
            .iter()
            .map(|m| m.mech)
            .collect())
    }

    /// C_GetMechanismInfo.
    pub fn mechanism_info(&self, slot: u64, mech: u64) -> Result<MechanismInfo> {
        self.slot(slot)?
            .mechanisms()?
            .iter()
            .find(|m| m.mech == mech)
            .copied()
            .ok_or(Error::MechanismInvalid)
    }

    /// C_InitToken.
    pub fn init_token(&self, slot: u64, so_pin: Secret, label: String) -> Result<()> {
        self.slot(slot)?.init_token(so_pin, label)
    }

    /// C_OpenSession: the new session's handle.
    pub fn open_session(&self, slot: u64, flags: u64) -> Result<u64> {
        let session = self.slot(slot)?.open_session(flags)?;
        let handle = session.handle();
        self.sessions.insert(session);
        Ok(handle)
    }

    /// C_CloseSession.
    pub fn close_session(&self, handle: u64) -> Result<()> {
        let session = self
            .sessions
            .remove(handle)
            .ok_or(Error::SessionHandleInvalid)?;
        session.slot().close_session(&session)
    }

    /// C_CloseAllSessions.
    pub fn close_all_sessions(&self, slot: u64) -> Result<()> {
        let slot = self.slot(slot)?;
        let handles: Vec<u64> = slot.state.lock().sessions.keys().copied().collect();
        for h in handles {
            let removed = self.sessions.remove(h);
            if let Some(session) = removed {
                // Another thread may have closed it meanwhile: not an error here.
                let _ = slot.close_session(&session);
            }
        }
        Ok(())
    }
}
