//! Slot and token management: slot list, slot/token/mechanism information, C_InitToken,
//! C_InitPIN, C_SetPIN.

use cryptoki_sys::*;

use super::marshal::{bytes, from_ck, out_array, padded, put, secret, to_ck, unpadded, version};
use crate::cryptoki;

cryptoki_fn! {
    /// C_GetSlotList: every configured slot (each always has its token).
    fn C_GetSlotList(tokenPresent: CK_BBOOL, pSlotList: *mut CK_SLOT_ID, pulCount: *mut CK_ULONG) {
        let _ = tokenPresent;
        let ids: Vec<CK_SLOT_ID> = cryptoki::module()?.slot_ids().into_iter().map(to_ck).collect();
        // SAFETY: the array protocol's contract is the function's (contract).
        unsafe { out_array(pSlotList, pulCount, &ids) }
    }
}

cryptoki_fn! {
    /// C_GetSlotInfo.
    fn C_GetSlotInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_SLOT_INFO) {
        let s = cryptoki::module()?.slot_info(from_ck(slotID))?;
        let info = CK_SLOT_INFO {
            slotDescription: padded(&s.description),
            manufacturerID: padded(s.manufacturer),
            flags: to_ck(s.flags),
            hardwareVersion: version(s.hardware_version),
            firmwareVersion: version(s.firmware_version),
        };
        // SAFETY: pInfo is NULL or points to a CK_SLOT_INFO (contract).
        unsafe { put(pInfo, info) }
    }
}

cryptoki_fn! {
    /// C_GetTokenInfo.
    fn C_GetTokenInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_TOKEN_INFO) {
        let t = cryptoki::module()?.token_info(from_ck(slotID))?;
        let info = CK_TOKEN_INFO {
            label: padded(&t.label),
            manufacturerID: padded(t.manufacturer),
            model: padded(t.model),
            serialNumber: padded(&t.serial),
            flags: to_ck(t.flags),
            ulMaxSessionCount: to_ck(t.max_sessions),
            ulSessionCount: to_ck(t.sessions),
            ulMaxRwSessionCount: to_ck(t.max_rw_sessions),
            ulRwSessionCount: to_ck(t.rw_sessions),
            ulMaxPinLen: to_ck(t.max_pin_len),
            ulMinPinLen: to_ck(t.min_pin_len),
            ulTotalPublicMemory: to_ck(t.total_public_memory),
            ulFreePublicMemory: to_ck(t.free_public_memory),
            ulTotalPrivateMemory: to_ck(t.total_private_memory),
            ulFreePrivateMemory: to_ck(t.free_private_memory),
            hardwareVersion: version(t.hardware_version),
            firmwareVersion: version(t.firmware_version),
            // No clock on the token (no CKF_CLOCK_ON_TOKEN).
            utcTime: [b' '; 16],
        };
        // SAFETY: pInfo is NULL or points to a CK_TOKEN_INFO (contract).
        unsafe { put(pInfo, info) }
    }
}

cryptoki_fn! {
    /// C_GetMechanismList.
    fn C_GetMechanismList(slotID: CK_SLOT_ID, pMechanismList: *mut CK_MECHANISM_TYPE, pulCount: *mut CK_ULONG) {
        let list: Vec<CK_MECHANISM_TYPE> =
            cryptoki::module()?.mechanism_list(from_ck(slotID))?.into_iter().map(to_ck).collect();
        // SAFETY: the array protocol's contract is the function's (contract).
        unsafe { out_array(pMechanismList, pulCount, &list) }
    }
}

cryptoki_fn! {
    /// C_GetMechanismInfo.
    fn C_GetMechanismInfo(slotID: CK_SLOT_ID, type_: CK_MECHANISM_TYPE, pInfo: *mut CK_MECHANISM_INFO) {
        let m = cryptoki::module()?.mechanism_info(from_ck(slotID), from_ck(type_))?;
        let info = CK_MECHANISM_INFO {
            ulMinKeySize: to_ck(m.min_key),
            ulMaxKeySize: to_ck(m.max_key),
            flags: to_ck(m.flags),
        };
        // SAFETY: pInfo is NULL or points to a CK_MECHANISM_INFO (contract).
        unsafe { put(pInfo, info) }
    }
}

cryptoki_fn! {
    /// C_InitToken: `pLabel` is 32 blank-padded bytes.
    fn C_InitToken(slotID: CK_SLOT_ID, pPin: *mut CK_UTF8CHAR, ulPinLen: CK_ULONG, pLabel: *mut CK_UTF8CHAR) {
        let module = cryptoki::module()?;
        // SAFETY: pPin is NULL or valid for ulPinLen bytes (contract).
        let pin = unsafe { secret(pPin, ulPinLen) }?;
        // SAFETY: pLabel is NULL or points to 32 bytes (contract).
        let label = unpadded(unsafe { bytes(pLabel, 32) }?)?;
        module.init_token(from_ck(slotID), pin, label)
    }
}

cryptoki_fn! {
    /// C_InitPIN (SO sessions only).
    fn C_InitPIN(hSession: CK_SESSION_HANDLE, pPin: *mut CK_UTF8CHAR, ulPinLen: CK_ULONG) {
        let session = super::session(hSession)?;
        // SAFETY: pPin is NULL or valid for ulPinLen bytes (contract).
        let pin = unsafe { secret(pPin, ulPinLen) }?;
        session.init_pin(pin)
    }
}

cryptoki_fn! {
    /// C_SetPIN (read/write sessions).
    fn C_SetPIN(
        hSession: CK_SESSION_HANDLE,
        pOldPin: *mut CK_UTF8CHAR,
        ulOldLen: CK_ULONG,
        pNewPin: *mut CK_UTF8CHAR,
        ulNewLen: CK_ULONG,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pOldPin is NULL or valid for ulOldLen bytes (contract).
        let old = unsafe { secret(pOldPin, ulOldLen) }?;
        // SAFETY: pNewPin is NULL or valid for ulNewLen bytes (contract).
        let new = unsafe { secret(pNewPin, ulNewLen) }?;
        session.set_pin(old, new)
    }
}
