//! Sessions: handle, slot, read-only or read/write, and the session's operations.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cryptoki_sys::*;
use parking_lot::{Mutex, MutexGuard};

use super::message::MessageOps;
use super::ops::Ops;
use super::slot::Slot;
use crate::error::{Error, Result};
use crate::hsm::api::{Request, Secret, SessionId, UserType};

/// C_GetSessionInfo, as plain data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    pub slot_id: u64,
    /// CKS_*.
    pub state: u64,
    /// CKF_SERIAL_SESSION, CKF_RW_SESSION.
    pub flags: u64,
}

/// One open session.
pub struct Session {
    handle: u64,
    slot: Arc<Slot>,
    rw: bool,
    closed: AtomicBool,
    ops: Mutex<Ops>,
    /// Message-based operations (PKCS#11 3.0): their own slots, beside the classic ones.
    msg: Mutex<MessageOps>,
}

impl Session {
    pub(crate) fn new(handle: u64, slot: Arc<Slot>, rw: bool) -> Session {
        Session {
            handle,
            slot,
            rw,
            closed: AtomicBool::new(false),
            ops: Mutex::new(Ops::default()),
            msg: Mutex::new(MessageOps::default()),
        }
    }

    pub fn handle(&self) -> u64 {
        self.handle
    }

    pub(crate) fn sid(&self) -> SessionId {
        SessionId(self.handle)
    }

    pub(crate) fn slot(&self) -> &Arc<Slot> {
        &self.slot
    }

    pub(crate) fn is_rw(&self) -> bool {
        self.rw
    }

    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// CKR_SESSION_CLOSED if the session was closed since it was looked up.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::SessionClosed);
        }
        Ok(())
    }

    /// The session's operations, locked.
    pub(crate) fn ops(&self) -> Result<MutexGuard<'_, Ops>> {
        let ops = self.ops.lock();
        self.check_open()?;
        Ok(ops)
    }

    /// The session's message-based operations, locked (never while holding `ops`).
    pub(crate) fn msg(&self) -> Result<MutexGuard<'_, MessageOps>> {
        let msg = self.msg.lock();
        self.check_open()?;
        Ok(msg)
    }

    /// End every operation of the session (logout, close).
    pub(crate) fn terminate_ops(&self) {
        let mut ops = self.ops.lock();
        for op in ops.take_all() {
            self.slot.cancel(op);
        }
        drop(ops);
        for op in self.msg.lock().take_all() {
            self.slot.cancel(op);
        }
    }

    /// C_GetSessionInfo.
    pub fn info(&self) -> Result<SessionInfo> {
        self.check_open()?;
        let state = match (self.slot.login_state(), self.rw) {
            (None, false) => CKS_RO_PUBLIC_SESSION,
            (None, true) => CKS_RW_PUBLIC_SESSION,
            (Some(UserType::User), false) => CKS_RO_USER_FUNCTIONS,
            (Some(UserType::User), true) => CKS_RW_USER_FUNCTIONS,
            // An SO never has read-only sessions (CKR_SESSION_READ_ONLY_EXISTS,
            // CKR_SESSION_READ_WRITE_SO_EXISTS).
            (Some(UserType::So), _) => CKS_RW_SO_FUNCTIONS,
        };
        let flags = CKF_SERIAL_SESSION | if self.rw { CKF_RW_SESSION } else { 0 };
        Ok(SessionInfo {
            slot_id: self.slot.id(),
            state,
            flags,
        })
    }

    /// C_Login / C_LoginUser. `user_type` is the CKU_* value; `username` is given by
    /// C_LoginUser only (else the core reads `name:password` from the PIN).
    pub fn login(&self, user_type: u64, username: Option<String>, pin: Secret) -> Result<()> {
        self.check_open()?;
        match user_type {
            CKU_SO => self.slot.login(UserType::So, username, pin),
            CKU_USER => self.slot.login(UserType::User, username, pin),
            CKU_CONTEXT_SPECIFIC => self.context_login(pin),
            _ => Err(Error::UserTypeInvalid),
        }
    }

    /// CKU_CONTEXT_SPECIFIC: re-authenticate for the session's active keyed operation.
    fn context_login(&self, pin: Secret) -> Result<()> {
        let ops = self.ops()?;
        let op = ops.context_op().ok_or(Error::OperationNotInitialized)?;
        let r = self.slot.call(Request::ContextLogin {
            conn: self.slot.conn(),
            op,
            pin,
        })?;
        super::slot::expect_ok(r)
    }

    /// C_Logout.
    pub fn logout(&self) -> Result<()> {
        self.check_open()?;
        self.slot.logout()
    }

    /// C_InitPIN: in an SO session only; the core decides the rest.
    pub fn init_pin(&self, pin: Secret) -> Result<()> {
        self.check_open()?;
        if self.slot.login_state() != Some(UserType::So) {
            return Err(Error::UserNotLoggedIn);
        }
        let r = self.slot.call(Request::InitPin {
            conn: self.slot.conn(),
            pin,
        })?;
        super::slot::expect_ok(r)
    }

    /// C_SetPIN: in a read/write session; the core decides whose password changes.
    pub fn set_pin(&self, old: Secret, new: Secret) -> Result<()> {
        self.check_open()?;
        if !self.rw {
            return Err(Error::SessionReadOnly);
        }
        let r = self.slot.call(Request::SetPin {
            conn: self.slot.conn(),
            old,
            new,
        })?;
        super::slot::expect_ok(r)
    }

    /// C_SessionCancel (3.0): end the operations named by CKF_* `flags`.
    pub fn cancel(&self, flags: u64) -> Result<()> {
        let mut ops = self.ops()?;
        for op in ops.cancel(flags) {
            self.slot.cancel(op);
        }
        drop(ops);
        for op in self.msg()?.cancel(flags) {
            self.slot.cancel(op);
        }
        Ok(())
    }
}
