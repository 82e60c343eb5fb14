//! Session management and logins.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::marshal::{from_ck, put, secret, to_ck, utf8};
use crate::cryptoki;
use crate::error::Error;

cryptoki_fn! {
    /// C_OpenSession: CKF_SERIAL_SESSION required; notification callbacks are never called
    /// (we have no surrender points).
    fn C_OpenSession(
        slotID: CK_SLOT_ID,
        flags: CK_FLAGS,
        pApplication: *mut c_void,
        Notify: CK_NOTIFY,
        phSession: *mut CK_SESSION_HANDLE,
    ) {
        let _ = (pApplication, Notify);
        let module = cryptoki::module()?;
        if phSession.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let handle = module.open_session(from_ck(slotID), from_ck(flags))?;
        // SAFETY: phSession is non-NULL and writable (contract).
        unsafe { put(phSession, to_ck(handle)) }
    }
}

cryptoki_fn! {
    /// C_CloseSession.
    fn C_CloseSession(hSession: CK_SESSION_HANDLE) {
        cryptoki::module()?.close_session(from_ck(hSession))
    }
}

cryptoki_fn! {
    /// C_CloseAllSessions.
    fn C_CloseAllSessions(slotID: CK_SLOT_ID) {
        cryptoki::module()?.close_all_sessions(from_ck(slotID))
    }
}

cryptoki_fn! {
    /// C_GetSessionInfo.
    fn C_GetSessionInfo(hSession: CK_SESSION_HANDLE, pInfo: *mut CK_SESSION_INFO) {
        let s = super::session(hSession)?.info()?;
        let info = CK_SESSION_INFO {
            slotID: to_ck(s.slot_id),
            state: to_ck(s.state),
            flags: to_ck(s.flags),
            ulDeviceError: 0,
        };
        // SAFETY: pInfo is NULL or points to a CK_SESSION_INFO (contract).
        unsafe { put(pInfo, info) }
    }
}

cryptoki_fn! {
    /// C_SessionCancel (3.0): end the operations named by `flags`.
    fn C_SessionCancel(hSession: CK_SESSION_HANDLE, flags: CK_FLAGS) {
        super::session(hSession)?.cancel(from_ck(flags))
    }
}

cryptoki_fn! {
    /// C_Login: CKU_SO, CKU_USER (the PIN may be `name:password`), CKU_CONTEXT_SPECIFIC.
    fn C_Login(hSession: CK_SESSION_HANDLE, userType: CK_USER_TYPE, pPin: *mut CK_UTF8CHAR, ulPinLen: CK_ULONG) {
        let session = super::session(hSession)?;
        // SAFETY: pPin is NULL or valid for ulPinLen bytes (contract).
        let pin = unsafe { secret(pPin, ulPinLen) }?;
        session.login(from_ck(userType), None, pin)
    }
}

cryptoki_fn! {
    /// C_LoginUser (3.0): an explicit user name.
    fn C_LoginUser(
        hSession: CK_SESSION_HANDLE,
        userType: CK_USER_TYPE,
        pPin: *mut CK_UTF8CHAR,
        ulPinLen: CK_ULONG,
        pUsername: *mut CK_UTF8CHAR,
        ulUsernameLen: CK_ULONG,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pPin is NULL or valid for ulPinLen bytes (contract).
        let pin = unsafe { secret(pPin, ulPinLen) }?;
        // SAFETY: pUsername is NULL or valid for ulUsernameLen bytes (contract).
        let name = unsafe { utf8(pUsername, ulUsernameLen) }?;
        session.login(from_ck(userType), Some(name), pin)
    }
}

cryptoki_fn! {
    /// C_Logout: every session of the slot.
    fn C_Logout(hSession: CK_SESSION_HANDLE) {
        super::session(hSession)?.logout()
    }
}
