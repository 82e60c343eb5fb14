//! C_SignRecover / C_VerifyRecover (and their Init) and C_DigestKey.

use cryptoki_sys::*;

use super::crypto::{init, single};
use crate::hsm::api::OpKind;

cryptoki_fn! {
    /// C_SignRecoverInit.
    fn C_SignRecoverInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::SignRecover, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_SignRecover: single-part only.
    fn C_SignRecover(
        hSession: CK_SESSION_HANDLE,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pSignature: *mut CK_BYTE,
        pulSignatureLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { single(hSession, OpKind::SignRecover, pData, ulDataLen, pSignature, pulSignatureLen) }
    }
}

cryptoki_fn! {
    /// C_VerifyRecoverInit.
    fn C_VerifyRecoverInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::VerifyRecover, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_VerifyRecover: the signature in, the recovered data out.
    fn C_VerifyRecover(
        hSession: CK_SESSION_HANDLE,
        pSignature: *mut CK_BYTE,
        ulSignatureLen: CK_ULONG,
        pData: *mut CK_BYTE,
        pulDataLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { single(hSession, OpKind::VerifyRecover, pSignature, ulSignatureLen, pData, pulDataLen) }
    }
}

cryptoki_fn! {
    /// C_DigestKey.
    fn C_DigestKey(hSession: CK_SESSION_HANDLE, hKey: CK_OBJECT_HANDLE) {
        super::session(hSession)?.digest_key(super::marshal::from_ck(hKey))
    }
}
