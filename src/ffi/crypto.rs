//! Cryptographic functions: encrypt, decrypt, digest, sign, verify, key generation,
//! wrapping, derivation, random numbers.

use cryptoki_sys::*;

use super::marshal::{bytes, from_ck, len_from_ck, put, to_ck, OutBuf};
use super::mechanism::mechanism;
use super::template::template;
use crate::error::Error;
use crate::hsm::api::OpKind;

/// C_*Init of a keyed operation.
///
/// # Safety
/// `mech` is NULL or a valid `CK_MECHANISM` (see `mechanism::mechanism`).
pub(super) unsafe fn init(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> crate::error::Result<()> {
    let session = super::session(h)?;
    // SAFETY: contract.
    let parsed = unsafe { mechanism(mech) }?;
    let iv = session.op_init(kind, parsed, from_ck(key))?;
    if let Some(iv) = iv {
        // SAFETY: `mechanism` just read this CK_MECHANISM and its CK_GCM_PARAMS, whose pIV
        // is valid for ulIvLen bytes (the core generates an IV only when that is 12).
        unsafe { write_back_gcm_iv(mech, &iv) };
    }
    Ok(())
}

/// Write a core-generated AES-GCM IV into the caller's CK_GCM_PARAMS.pIV (strict CloudHSM
/// mode, where the HSM chooses the IV).
///
/// # Safety
/// `mech` was accepted by `mechanism` as CKM_AES_GCM with a CK_GCM_PARAMS whose `pIV` is
/// valid for `ulIvLen` bytes.
unsafe fn write_back_gcm_iv(mech: *mut CK_MECHANISM, iv: &[u8]) {
    // SAFETY: the caller's contract.
    let m = unsafe { &*mech };
    if m.mechanism != CKM_AES_GCM
        || m.pParameter.is_null()
        || usize::try_from(m.ulParameterLen).ok() != Some(std::mem::size_of::<CK_GCM_PARAMS>())
    {
        return;
    }
    // SAFETY: checked above: pParameter points at a CK_GCM_PARAMS.
    let p = unsafe { &mut *m.pParameter.cast::<CK_GCM_PARAMS>() };
    if p.pIv.is_null() || usize::try_from(p.ulIvLen).ok() != Some(iv.len()) {
        return;
    }
    // SAFETY: pIv is valid for ulIvLen == iv.len() bytes (the contract).
    unsafe { std::ptr::copy_nonoverlapping(iv.as_ptr(), p.pIv, iv.len()) };
}

/// C_Encrypt, C_Decrypt, C_Sign.
///
/// # Safety
/// `data` is NULL or valid for `len` bytes; `out`/`out_len` as for `OutBuf::new`.
pub(super) unsafe fn single(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    data: *const u8,
    len: CK_ULONG,
    out: *mut u8,
    out_len: *mut CK_ULONG,
) -> crate::error::Result<()> {
    let session = super::session(h)?;
    // SAFETY: contract.
    let data = unsafe { bytes(data, len) }?;
    // SAFETY: contract.
    let buf = unsafe { OutBuf::new(out, out_len) }?;
    if buf.overlaps(data) {
        // In place (the same buffer for input and output): work from a copy of the input.
        let copy = zeroize::Zeroizing::new(data.to_vec());
        // SAFETY: `copy` is ours, so nothing else touches the caller's buffer meanwhile.
        let dst = unsafe { buf.slice_mut() };
        return buf.deliver(session.op_single_into(kind, &copy, dst)?);
    }
    // SAFETY: `data` does not overlap the caller's buffer (checked above), and nothing else
    // touches it while the operation runs.
    let dst = unsafe { buf.slice_mut() };
    buf.deliver(session.op_single_into(kind, data, dst)?)
}

/// C_EncryptUpdate, C_DecryptUpdate.
///
/// # Safety
/// As [`single`].
unsafe fn update(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    data: *const u8,
    len: CK_ULONG,
    out: *mut u8,
    out_len: *mut CK_ULONG,
) -> crate::error::Result<()> {
    let session = super::session(h)?;
    // SAFETY: contract.
    let data = unsafe { bytes(data, len) }?;
    // SAFETY: contract.
    let buf = unsafe { OutBuf::new(out, out_len) }?;
    buf.deliver(session.op_update(kind, data, buf.cap())?)
}

/// C_EncryptFinal, C_DecryptFinal, C_SignFinal.
///
/// # Safety
/// `out`/`out_len` as for `OutBuf::new`.
unsafe fn finish(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    out: *mut u8,
    out_len: *mut CK_ULONG,
) -> crate::error::Result<()> {
    let session = super::session(h)?;
    // SAFETY: contract.
    let buf = unsafe { OutBuf::new(out, out_len) }?;
    buf.deliver(session.op_final(kind, buf.cap())?)
}

/// C_SignUpdate, C_VerifyUpdate.
///
/// # Safety
/// `data` is NULL or valid for `len` bytes.
unsafe fn feed(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    data: *const u8,
    len: CK_ULONG,
) -> crate::error::Result<()> {
    let session = super::session(h)?;
    // SAFETY: contract.
    let data = unsafe { bytes(data, len) }?;
    session.op_feed(kind, data)
}

cryptoki_fn! {
    /// C_EncryptInit.
    fn C_EncryptInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::Encrypt, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_Encrypt.
    fn C_Encrypt(
        hSession: CK_SESSION_HANDLE,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pEncryptedData: *mut CK_BYTE,
        pulEncryptedDataLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { single(hSession, OpKind::Encrypt, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen) }
    }
}

cryptoki_fn! {
    /// C_EncryptUpdate.
    fn C_EncryptUpdate(
        hSession: CK_SESSION_HANDLE,
        pPart: *mut CK_BYTE,
        ulPartLen: CK_ULONG,
        pEncryptedPart: *mut CK_BYTE,
        pulEncryptedPartLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { update(hSession, OpKind::Encrypt, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen) }
    }
}

cryptoki_fn! {
    /// C_EncryptFinal.
    fn C_EncryptFinal(hSession: CK_SESSION_HANDLE, pLastEncryptedPart: *mut CK_BYTE, pulLastEncryptedPartLen: *mut CK_ULONG) {
        // SAFETY: the function's contract.
        unsafe { finish(hSession, OpKind::Encrypt, pLastEncryptedPart, pulLastEncryptedPartLen) }
    }
}

cryptoki_fn! {
    /// C_DecryptInit.
    fn C_DecryptInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::Decrypt, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_Decrypt.
    fn C_Decrypt(
        hSession: CK_SESSION_HANDLE,
        pEncryptedData: *mut CK_BYTE,
        ulEncryptedDataLen: CK_ULONG,
        pData: *mut CK_BYTE,
        pulDataLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { single(hSession, OpKind::Decrypt, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen) }
    }
}

cryptoki_fn! {
    /// C_DecryptUpdate.
    fn C_DecryptUpdate(
        hSession: CK_SESSION_HANDLE,
        pEncryptedPart: *mut CK_BYTE,
        ulEncryptedPartLen: CK_ULONG,
        pPart: *mut CK_BYTE,
        pulPartLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { update(hSession, OpKind::Decrypt, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen) }
    }
}

cryptoki_fn! {
    /// C_DecryptFinal.
    fn C_DecryptFinal(hSession: CK_SESSION_HANDLE, pLastPart: *mut CK_BYTE, pulLastPartLen: *mut CK_ULONG) {
        // SAFETY: the function's contract.
        unsafe { finish(hSession, OpKind::Decrypt, pLastPart, pulLastPartLen) }
    }
}

cryptoki_fn! {
    /// C_DigestInit.
    fn C_DigestInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM) {
        let session = super::session(hSession)?;
        // SAFETY: pMechanism is NULL or a valid CK_MECHANISM (contract).
        let mech = unsafe { mechanism(pMechanism) }?;
        session.digest_init(&mech)
    }
}

cryptoki_fn! {
    /// C_Digest.
    fn C_Digest(
        hSession: CK_SESSION_HANDLE,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pDigest: *mut CK_BYTE,
        pulDigestLen: *mut CK_ULONG,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pData is NULL or valid for ulDataLen bytes (contract).
        let data = unsafe { bytes(pData, ulDataLen) }?;
        // SAFETY: the output buffer's contract is the function's.
        let buf = unsafe { OutBuf::new(pDigest, pulDigestLen) }?;
        buf.deliver(session.digest(data, buf.cap())?)
    }
}

cryptoki_fn! {
    /// C_DigestUpdate.
    fn C_DigestUpdate(hSession: CK_SESSION_HANDLE, pPart: *mut CK_BYTE, ulPartLen: CK_ULONG) {
        let session = super::session(hSession)?;
        // SAFETY: pPart is NULL or valid for ulPartLen bytes (contract).
        let data = unsafe { bytes(pPart, ulPartLen) }?;
        session.digest_update(data)
    }
}

cryptoki_fn! {
    /// C_DigestFinal.
    fn C_DigestFinal(hSession: CK_SESSION_HANDLE, pDigest: *mut CK_BYTE, pulDigestLen: *mut CK_ULONG) {
        let session = super::session(hSession)?;
        // SAFETY: the output buffer's contract is the function's.
        let buf = unsafe { OutBuf::new(pDigest, pulDigestLen) }?;
        buf.deliver(session.digest_final(buf.cap())?)
    }
}

cryptoki_fn! {
    /// C_SignInit.
    fn C_SignInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::Sign, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_Sign.
    fn C_Sign(
        hSession: CK_SESSION_HANDLE,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pSignature: *mut CK_BYTE,
        pulSignatureLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { single(hSession, OpKind::Sign, pData, ulDataLen, pSignature, pulSignatureLen) }
    }
}

cryptoki_fn! {
    /// C_SignUpdate.
    fn C_SignUpdate(hSession: CK_SESSION_HANDLE, pPart: *mut CK_BYTE, ulPartLen: CK_ULONG) {
        // SAFETY: the function's contract.
        unsafe { feed(hSession, OpKind::Sign, pPart, ulPartLen) }
    }
}

cryptoki_fn! {
    /// C_SignFinal.
    fn C_SignFinal(hSession: CK_SESSION_HANDLE, pSignature: *mut CK_BYTE, pulSignatureLen: *mut CK_ULONG) {
        // SAFETY: the function's contract.
        unsafe { finish(hSession, OpKind::Sign, pSignature, pulSignatureLen) }
    }
}

cryptoki_fn! {
    /// C_VerifyInit.
    fn C_VerifyInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::Verify, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_Verify.
    fn C_Verify(
        hSession: CK_SESSION_HANDLE,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pSignature: *mut CK_BYTE,
        ulSignatureLen: CK_ULONG,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pData is NULL or valid for ulDataLen bytes (contract).
        let data = unsafe { bytes(pData, ulDataLen) }?;
        // SAFETY: pSignature is NULL or valid for ulSignatureLen bytes (contract).
        let sig = unsafe { bytes(pSignature, ulSignatureLen) }?;
        session.verify(data, sig)
    }
}

cryptoki_fn! {
    /// C_VerifyUpdate.
    fn C_VerifyUpdate(hSession: CK_SESSION_HANDLE, pPart: *mut CK_BYTE, ulPartLen: CK_ULONG) {
        // SAFETY: the function's contract.
        unsafe { feed(hSession, OpKind::Verify, pPart, ulPartLen) }
    }
}

cryptoki_fn! {
    /// C_VerifyFinal.
    fn C_VerifyFinal(hSession: CK_SESSION_HANDLE, pSignature: *mut CK_BYTE, ulSignatureLen: CK_ULONG) {
        let session = super::session(hSession)?;
        // SAFETY: pSignature is NULL or valid for ulSignatureLen bytes (contract).
        let sig = unsafe { bytes(pSignature, ulSignatureLen) }?;
        session.verify_final(sig)
    }
}

cryptoki_fn! {
    /// C_GenerateKey.
    fn C_GenerateKey(
        hSession: CK_SESSION_HANDLE,
        pMechanism: *mut CK_MECHANISM,
        pTemplate: *mut CK_ATTRIBUTE,
        ulCount: CK_ULONG,
        phKey: *mut CK_OBJECT_HANDLE,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pMechanism is NULL or a valid CK_MECHANISM (contract).
        let mech = unsafe { mechanism(pMechanism) }?;
        // SAFETY: pTemplate is NULL or a valid template of ulCount attributes (contract).
        let tpl = unsafe { template(pTemplate, ulCount) }?;
        if phKey.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let h = session.generate_key(mech, tpl)?;
        // SAFETY: phKey is non-NULL and writable (contract).
        unsafe { put(phKey, to_ck(h)) }
    }
}

cryptoki_fn! {
    /// C_GenerateKeyPair.
    fn C_GenerateKeyPair(
        hSession: CK_SESSION_HANDLE,
        pMechanism: *mut CK_MECHANISM,
        pPublicKeyTemplate: *mut CK_ATTRIBUTE,
        ulPublicKeyAttributeCount: CK_ULONG,
        pPrivateKeyTemplate: *mut CK_ATTRIBUTE,
        ulPrivateKeyAttributeCount: CK_ULONG,
        phPublicKey: *mut CK_OBJECT_HANDLE,
        phPrivateKey: *mut CK_OBJECT_HANDLE,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pMechanism is NULL or a valid CK_MECHANISM (contract).
        let mech = unsafe { mechanism(pMechanism) }?;
        // SAFETY: each template is NULL or valid for its count (contract).
        let public = unsafe { template(pPublicKeyTemplate, ulPublicKeyAttributeCount) }?;
        // SAFETY: as above.
        let private = unsafe { template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount) }?;
        if phPublicKey.is_null() || phPrivateKey.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let (p, q) = session.generate_key_pair(mech, public, private)?;
        // SAFETY: both handles' pointers are non-NULL and writable (contract).
        unsafe {
            put(phPublicKey, to_ck(p))?;
            put(phPrivateKey, to_ck(q))
        }
    }
}

cryptoki_fn! {
    /// C_WrapKey (output stashed between a size query and the real call).
    fn C_WrapKey(
        hSession: CK_SESSION_HANDLE,
        pMechanism: *mut CK_MECHANISM,
        hWrappingKey: CK_OBJECT_HANDLE,
        hKey: CK_OBJECT_HANDLE,
        pWrappedKey: *mut CK_BYTE,
        pulWrappedKeyLen: *mut CK_ULONG,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pMechanism is NULL or a valid CK_MECHANISM (contract).
        let mech = unsafe { mechanism(pMechanism) }?;
        // SAFETY: the output buffer's contract is the function's.
        let buf = unsafe { OutBuf::new(pWrappedKey, pulWrappedKeyLen) }?;
        buf.deliver(session.wrap_key(mech, from_ck(hWrappingKey), from_ck(hKey), buf.cap())?)
    }
}

cryptoki_fn! {
    /// C_UnwrapKey.
    fn C_UnwrapKey(
        hSession: CK_SESSION_HANDLE,
        pMechanism: *mut CK_MECHANISM,
        hUnwrappingKey: CK_OBJECT_HANDLE,
        pWrappedKey: *mut CK_BYTE,
        ulWrappedKeyLen: CK_ULONG,
        pTemplate: *mut CK_ATTRIBUTE,
        ulAttributeCount: CK_ULONG,
        phKey: *mut CK_OBJECT_HANDLE,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pMechanism is NULL or a valid CK_MECHANISM (contract).
        let mech = unsafe { mechanism(pMechanism) }?;
        // SAFETY: pWrappedKey is NULL or valid for ulWrappedKeyLen bytes (contract).
        let wrapped = unsafe { bytes(pWrappedKey, ulWrappedKeyLen) }?.to_vec();
        // SAFETY: pTemplate is NULL or a valid template of ulAttributeCount attributes.
        let tpl = unsafe { template(pTemplate, ulAttributeCount) }?;
        if phKey.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let h = session.unwrap_key(mech, from_ck(hUnwrappingKey), wrapped, tpl)?;
        // SAFETY: phKey is non-NULL and writable (contract).
        unsafe { put(phKey, to_ck(h)) }
    }
}

cryptoki_fn! {
    /// C_DeriveKey.
    fn C_DeriveKey(
        hSession: CK_SESSION_HANDLE,
        pMechanism: *mut CK_MECHANISM,
        hBaseKey: CK_OBJECT_HANDLE,
        pTemplate: *mut CK_ATTRIBUTE,
        ulAttributeCount: CK_ULONG,
        phKey: *mut CK_OBJECT_HANDLE,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pMechanism is NULL or a valid CK_MECHANISM (contract).
        let mech = unsafe { mechanism(pMechanism) }?;
        // SAFETY: pTemplate is NULL or a valid template of ulAttributeCount attributes.
        let tpl = unsafe { template(pTemplate, ulAttributeCount) }?;
        if phKey.is_null() {
            return Err(Error::ArgumentsBad);
        }
        // SAFETY: pMechanism was parsed above, so it is a valid CK_MECHANISM (contract).
        let extra_out = unsafe { super::mechanism_kdf::additional_key_outputs(&*pMechanism) };
        for &out in &extra_out {
            // Until they exist, the additional keys are CK_INVALID_HANDLE (3.0 section 2.42.4).
            // SAFETY: each phKey is non-NULL (checked when parsed) and writable (contract).
            unsafe { put(out, CK_INVALID_HANDLE) }?;
        }
        let hs = session.derive_keys(mech, from_ck(hBaseKey), tpl)?;
        let (&h, extra) = hs.split_first().ok_or(Error::GeneralError)?;
        // SP 800-108 additional derived keys: their handles go to their CK_DERIVED_KEYs.
        for (&out, &k) in extra_out.iter().zip(extra) {
            // SAFETY: each phKey is non-NULL (checked when parsed) and writable (contract).
            unsafe { put(out, to_ck(k)) }?;
        }
        // SAFETY: phKey is non-NULL and writable (contract).
        unsafe { put(phKey, to_ck(h)) }
    }
}

cryptoki_fn! {
    /// C_SeedRandom.
    fn C_SeedRandom(hSession: CK_SESSION_HANDLE, pSeed: *mut CK_BYTE, ulSeedLen: CK_ULONG) {
        let session = super::session(hSession)?;
        // SAFETY: pSeed is NULL or valid for ulSeedLen bytes (contract).
        let seed = unsafe { bytes(pSeed, ulSeedLen) }?;
        session.seed_random(seed)
    }
}

cryptoki_fn! {
    /// C_GenerateRandom.
    fn C_GenerateRandom(hSession: CK_SESSION_HANDLE, RandomData: *mut CK_BYTE, ulRandomLen: CK_ULONG) {
        let session = super::session(hSession)?;
        let n = len_from_ck(ulRandomLen)?;
        if n == 0 {
            return Ok(());
        }
        if RandomData.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let mut data = session.generate_random(n)?;
        // SAFETY: RandomData is non-NULL and writable for ulRandomLen == data.len() bytes
        // (contract); `data` is ours, so they do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), RandomData, data.len()) };
        crate::crypto::wipe(&mut data);
        Ok(())
    }
}
