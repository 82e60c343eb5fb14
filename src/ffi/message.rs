//! The message-based functions of PKCS#11 3.0: C_MessageEncryptInit / C_EncryptMessage /
//! C_EncryptMessageBegin / C_EncryptMessageNext / C_MessageEncryptFinal, their decrypt, sign
//! and verify counterparts. Per-message parameters (CK_GCM_MESSAGE_PARAMS,
//! CK_CCM_MESSAGE_PARAMS, CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS) are parsed here; the IV the
//! token generates and the tag of an encryption are written back into them.

use std::ffi::c_void;
use std::mem::size_of;

use cryptoki_sys::*;

use super::marshal::{bytes, bytes_or, from_ck, len_from_ck, OutBuf};
use super::mechanism::mechanism;
use crate::cryptoki::{MessageOut, Session};
use crate::error::{Error, Result};
use crate::hsm::api::{Mechanism, MessageMech, MessageParams, OpKind};

/// The mechanism of C_Message*Init.
///
/// # Safety
/// `ptr` is NULL or a valid `CK_MECHANISM` (see `mechanism::mechanism`).
unsafe fn message_mech(kind: OpKind, ptr: *mut CK_MECHANISM) -> Result<MessageMech> {
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL and readable (contract).
    let m = unsafe { ptr.read_unaligned() };
    let aead = match m.mechanism {
        CKM_AES_GCM => Some(MessageMech::AesGcm),
        CKM_AES_CCM => Some(MessageMech::AesCcm),
        CKM_CHACHA20_POLY1305 => Some(MessageMech::ChaCha20Poly1305),
        _ => None,
    };
    match (kind, aead) {
        // The parameters come with each message.
        (OpKind::Encrypt | OpKind::Decrypt, Some(a)) if m.ulParameterLen == 0 => Ok(a),
        (OpKind::Encrypt | OpKind::Decrypt, Some(_)) => Err(Error::MechanismParamInvalid),
        (OpKind::Encrypt | OpKind::Decrypt, None) => {
            // A known mechanism that has no message form: CKR_MECHANISM_INVALID.
            // SAFETY: contract.
            unsafe { mechanism(ptr) }?;
            Err(Error::MechanismInvalid)
        }
        (OpKind::Sign | OpKind::Verify, Some(_))
        | (OpKind::SignRecover | OpKind::VerifyRecover, _) => Err(Error::MechanismInvalid),
        // SAFETY: contract.
        (OpKind::Sign | OpKind::Verify, None) => match unsafe { mechanism(ptr) }? {
            Mechanism::Hmac { hash, out_len } => Ok(MessageMech::Hmac { hash, out_len }),
            Mechanism::AesCmac { out_len } => Ok(MessageMech::AesCmac { out_len }),
            _ => Err(Error::MechanismInvalid),
        },
    }
}

/// One message's parameters and where its IV and tag go back to.
type Parsed = (MessageParams, WriteBack);

/// Where an encryption's IV and tag go back to.
struct WriteBack {
    iv: *mut u8,
    iv_len: usize,
    tag: *mut u8,
    tag_len: usize,
}

/// A fixed-size per-message parameter structure.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes.
unsafe fn read<T: Copy>(p: *mut c_void, len: CK_ULONG) -> Result<T> {
    if p.is_null() || usize::try_from(len) != Ok(size_of::<T>()) {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL and readable for size_of::<T>() bytes (contract, length checked);
    // plain data valid for any bit pattern.
    Ok(unsafe { p.cast::<T>().read_unaligned() })
}

/// The parameters of one AEAD message and where to write its IV and tag back. Sign and
/// verify take no per-message parameters (`None`; whatever is passed is ignored).
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes, and the pointers inside the structure are
/// NULL or valid for their lengths (reads, and writes of the IV and tag).
unsafe fn params(
    mech: MessageMech,
    kind: OpKind,
    p: *mut c_void,
    len: CK_ULONG,
) -> Result<Option<(MessageParams, WriteBack)>> {
    let bad = Error::MechanismParamInvalid;
    let decrypting = kind == OpKind::Decrypt;
    // (iv ptr, iv len, fixed bits, generator, tag ptr, tag len, data len)
    let (iv, iv_len, fixed, generator, tag, tag_len, data_len) = match mech {
        MessageMech::AesGcm => {
            // SAFETY: contract.
            let g = unsafe { read::<CK_GCM_MESSAGE_PARAMS>(p, len) }?;
            let bits = from_ck(g.ulTagBits);
            if !bits.is_multiple_of(8) {
                return Err(bad);
            }
            let tag_len = usize::try_from(bits / 8).map_err(|_| bad)?;
            (
                g.pIv,
                g.ulIvLen,
                g.ulIvFixedBits,
                g.ivGenerator,
                g.pTag,
                tag_len,
                None,
            )
        }
        MessageMech::AesCcm => {
            // SAFETY: contract.
            let c = unsafe { read::<CK_CCM_MESSAGE_PARAMS>(p, len) }?;
            let tag_len = len_from_ck(c.ulMACLen).map_err(|_| bad)?;
            (
                c.pNonce,
                c.ulNonceLen,
                c.ulNonceFixedBits,
                c.nonceGenerator,
                c.pMAC,
                tag_len,
                Some(from_ck(c.ulDataLen)),
            )
        }
        MessageMech::ChaCha20Poly1305 => {
            // SAFETY: contract.
            let c = unsafe { read::<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>(p, len) }?;
            (c.pNonce, c.ulNonceLen, 0, CKG_NO_GENERATE, c.pTag, 16, None)
        }
        MessageMech::Hmac { .. } | MessageMech::AesCmac { .. } => return Ok(None),
    };
    if iv.is_null() || tag.is_null() || tag_len > 16 {
        return Err(bad);
    }
    // SAFETY: the IV pointer is valid for its length (contract).
    let iv_bytes = unsafe { bytes_or(iv, iv_len, bad) }?.to_vec();
    let tag_bytes = if decrypting {
        // SAFETY: the tag pointer is valid for the tag length (contract).
        unsafe { std::slice::from_raw_parts(tag, tag_len) }.to_vec()
    } else {
        Vec::new()
    };
    Ok(Some((
        MessageParams {
            iv: iv_bytes.clone(),
            iv_fixed_bits: from_ck(fixed),
            generator: from_ck(generator),
            tag_len: tag_len as u64,
            tag: tag_bytes,
            data_len,
        },
        WriteBack {
            iv,
            iv_len: iv_bytes.len(),
            tag,
            tag_len,
        },
    )))
}

impl WriteBack {
    /// Copy the IV used and the tag made into the caller's parameters.
    fn write(&self, iv: &[u8], tag: &[u8]) -> Result<()> {
        if iv.len() == self.iv_len && !iv.is_empty() {
            // SAFETY: `self.iv` is valid for writes of `iv_len` bytes (the caller's parameters,
            // per the function's contract); `iv` is our own buffer.
            unsafe { std::ptr::copy_nonoverlapping(iv.as_ptr(), self.iv, iv.len()) };
        }
        if !tag.is_empty() {
            if tag.len() != self.tag_len {
                return Err(Error::GeneralError);
            }
            // SAFETY: `self.tag` is valid for writes of `tag_len` bytes (contract).
            unsafe { std::ptr::copy_nonoverlapping(tag.as_ptr(), self.tag, tag.len()) };
        }
        Ok(())
    }
}

/// The session and its operation's per-message parameters.
///
/// # Safety
/// As [`params`].
unsafe fn session_params(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    p: *mut c_void,
    len: CK_ULONG,
) -> Result<(std::sync::Arc<Session>, Option<Parsed>)> {
    let session = super::session(h)?;
    let mech = session.message_mech(kind)?;
    // SAFETY: contract.
    let params = unsafe { params(mech, kind, p, len) }?;
    Ok((session, params))
}

/// Deliver a message's output and write its IV and tag back.
fn deliver(buf: &OutBuf, out: MessageOut, wb: Option<&WriteBack>) -> Result<()> {
    let done = matches!(out.out, crate::cryptoki::Out::Done(_));
    if done {
        if let Some(wb) = wb {
            wb.write(&out.iv, &out.tag)?;
        }
    }
    buf.deliver(out.out)
}

/// C_MessageEncryptInit and its kin.
///
/// # Safety
/// `mech` is NULL or a valid `CK_MECHANISM`.
unsafe fn init(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> Result<()> {
    let session = super::session(h)?;
    // SAFETY: contract.
    let m = unsafe { message_mech(kind, mech) }?;
    session.message_init(kind, m, from_ck(key))
}

/// C_EncryptMessage, C_DecryptMessage.
///
/// # Safety
/// The pointers obey the function's contract.
#[allow(clippy::too_many_arguments)]
unsafe fn crypt(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    p: *mut c_void,
    pl: CK_ULONG,
    aad: *mut u8,
    aad_len: CK_ULONG,
    data: *mut u8,
    data_len: CK_ULONG,
    out: *mut u8,
    out_len: *mut CK_ULONG,
) -> Result<()> {
    // SAFETY: contract.
    let (session, params) = unsafe { session_params(h, kind, p, pl) }?;
    // SAFETY: contract.
    let aad = unsafe { bytes(aad, aad_len) }?;
    // SAFETY: contract.
    let data = unsafe { bytes(data, data_len) }?;
    // SAFETY: contract.
    let buf = unsafe { OutBuf::new(out, out_len) }?;
    let (params, wb) = params
        .ok_or(Error::MechanismParamInvalid)
        .map(|(p, w)| (Some(p), w))?;
    let r = session.message_one(kind, params, aad, data, &[], buf.cap())?;
    deliver(&buf, r, Some(&wb))
}

/// C_EncryptMessageBegin, C_DecryptMessageBegin, C_SignMessageBegin, C_VerifyMessageBegin.
///
/// # Safety
/// The pointers obey the function's contract.
unsafe fn begin(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    p: *mut c_void,
    pl: CK_ULONG,
    aad: *mut u8,
    aad_len: CK_ULONG,
) -> Result<()> {
    // SAFETY: contract.
    let (session, params) = unsafe { session_params(h, kind, p, pl) }?;
    // SAFETY: contract.
    let aad = unsafe { bytes(aad, aad_len) }?;
    let (params, wb) = match params {
        Some((p, w)) => (Some(p), Some(w)),
        None => (None, None),
    };
    let iv = session.message_begin(kind, params, aad)?;
    if let (Some(iv), Some(wb)) = (iv, wb) {
        wb.write(&iv, &[])?;
    }
    Ok(())
}

/// C_EncryptMessageNext, C_DecryptMessageNext.
///
/// # Safety
/// The pointers obey the function's contract.
#[allow(clippy::too_many_arguments)]
unsafe fn crypt_next(
    h: CK_SESSION_HANDLE,
    kind: OpKind,
    p: *mut c_void,
    pl: CK_ULONG,
    data: *mut u8,
    data_len: CK_ULONG,
    out: *mut u8,
    out_len: *mut CK_ULONG,
    flags: CK_FLAGS,
) -> Result<()> {
    // SAFETY: contract.
    let (session, params) = unsafe { session_params(h, kind, p, pl) }?;
    // SAFETY: contract.
    let data = unsafe { bytes(data, data_len) }?;
    // SAFETY: contract.
    let buf = unsafe { OutBuf::new(out, out_len) }?;
    let (params, wb) = params
        .ok_or(Error::MechanismParamInvalid)
        .map(|(p, w)| (Some(p), w))?;
    let last = flags & CKF_END_OF_MESSAGE != 0;
    let r = session.message_next(kind, params, data, last, &[], buf.cap())?;
    deliver(&buf, r, Some(&wb))
}

cryptoki_fn! {
    /// C_MessageEncryptInit.
    fn C_MessageEncryptInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::Encrypt, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_EncryptMessage.
    fn C_EncryptMessage(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pAssociatedData: *mut CK_BYTE,
        ulAssociatedDataLen: CK_ULONG,
        pPlaintext: *mut CK_BYTE,
        ulPlaintextLen: CK_ULONG,
        pCiphertext: *mut CK_BYTE,
        pulCiphertextLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe {
            crypt(hSession, OpKind::Encrypt, pParameter, ulParameterLen, pAssociatedData,
                ulAssociatedDataLen, pPlaintext, ulPlaintextLen, pCiphertext, pulCiphertextLen)
        }
    }
}

cryptoki_fn! {
    /// C_EncryptMessageBegin.
    fn C_EncryptMessageBegin(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pAssociatedData: *mut CK_BYTE,
        ulAssociatedDataLen: CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { begin(hSession, OpKind::Encrypt, pParameter, ulParameterLen, pAssociatedData, ulAssociatedDataLen) }
    }
}

cryptoki_fn! {
    /// C_EncryptMessageNext.
    fn C_EncryptMessageNext(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pPlaintextPart: *mut CK_BYTE,
        ulPlaintextPartLen: CK_ULONG,
        pCiphertextPart: *mut CK_BYTE,
        pulCiphertextPartLen: *mut CK_ULONG,
        flags: CK_FLAGS,
    ) {
        // SAFETY: the function's contract.
        unsafe {
            crypt_next(hSession, OpKind::Encrypt, pParameter, ulParameterLen, pPlaintextPart,
                ulPlaintextPartLen, pCiphertextPart, pulCiphertextPartLen, flags)
        }
    }
}

cryptoki_fn! {
    /// C_MessageEncryptFinal.
    fn C_MessageEncryptFinal(hSession: CK_SESSION_HANDLE) {
        super::session(hSession)?.message_final(OpKind::Encrypt)
    }
}

cryptoki_fn! {
    /// C_MessageDecryptInit.
    fn C_MessageDecryptInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::Decrypt, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_DecryptMessage.
    fn C_DecryptMessage(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pAssociatedData: *mut CK_BYTE,
        ulAssociatedDataLen: CK_ULONG,
        pCiphertext: *mut CK_BYTE,
        ulCiphertextLen: CK_ULONG,
        pPlaintext: *mut CK_BYTE,
        pulPlaintextLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe {
            crypt(hSession, OpKind::Decrypt, pParameter, ulParameterLen, pAssociatedData,
                ulAssociatedDataLen, pCiphertext, ulCiphertextLen, pPlaintext, pulPlaintextLen)
        }
    }
}

cryptoki_fn! {
    /// C_DecryptMessageBegin.
    fn C_DecryptMessageBegin(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pAssociatedData: *mut CK_BYTE,
        ulAssociatedDataLen: CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        unsafe { begin(hSession, OpKind::Decrypt, pParameter, ulParameterLen, pAssociatedData, ulAssociatedDataLen) }
    }
}

cryptoki_fn! {
    /// C_DecryptMessageNext.
    fn C_DecryptMessageNext(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pCiphertextPart: *mut CK_BYTE,
        ulCiphertextPartLen: CK_ULONG,
        pPlaintextPart: *mut CK_BYTE,
        pulPlaintextPartLen: *mut CK_ULONG,
        flags: CK_FLAGS,
    ) {
        // SAFETY: the function's contract.
        unsafe {
            crypt_next(hSession, OpKind::Decrypt, pParameter, ulParameterLen, pCiphertextPart,
                ulCiphertextPartLen, pPlaintextPart, pulPlaintextPartLen, flags)
        }
    }
}

cryptoki_fn! {
    /// C_MessageDecryptFinal.
    fn C_MessageDecryptFinal(hSession: CK_SESSION_HANDLE) {
        super::session(hSession)?.message_final(OpKind::Decrypt)
    }
}

cryptoki_fn! {
    /// C_MessageSignInit.
    fn C_MessageSignInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::Sign, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_SignMessage.
    fn C_SignMessage(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pSignature: *mut CK_BYTE,
        pulSignatureLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        let (session, _) = unsafe { session_params(hSession, OpKind::Sign, pParameter, ulParameterLen) }?;
        // SAFETY: pData is NULL or valid for ulDataLen bytes (contract).
        let data = unsafe { bytes(pData, ulDataLen) }?;
        // SAFETY: the output buffer's contract is the function's.
        let buf = unsafe { OutBuf::new(pSignature, pulSignatureLen) }?;
        let r = session.message_one(OpKind::Sign, None, &[], data, &[], buf.cap())?;
        deliver(&buf, r, None)
    }
}

cryptoki_fn! {
    /// C_SignMessageBegin.
    fn C_SignMessageBegin(hSession: CK_SESSION_HANDLE, pParameter: *mut c_void, ulParameterLen: CK_ULONG) {
        // SAFETY: the function's contract.
        unsafe { begin(hSession, OpKind::Sign, pParameter, ulParameterLen, std::ptr::null_mut(), 0) }
    }
}

cryptoki_fn! {
    /// C_SignMessageNext: a NULL `pulSignatureLen` means more parts follow.
    fn C_SignMessageNext(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pSignature: *mut CK_BYTE,
        pulSignatureLen: *mut CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        let (session, _) = unsafe { session_params(hSession, OpKind::Sign, pParameter, ulParameterLen) }?;
        // SAFETY: pData is NULL or valid for ulDataLen bytes (contract).
        let data = unsafe { bytes(pData, ulDataLen) }?;
        if pulSignatureLen.is_null() {
            session.message_next(OpKind::Sign, None, data, false, &[], None)?;
            return Ok(());
        }
        // SAFETY: the output buffer's contract is the function's.
        let buf = unsafe { OutBuf::new(pSignature, pulSignatureLen) }?;
        let r = session.message_next(OpKind::Sign, None, data, true, &[], buf.cap())?;
        deliver(&buf, r, None)
    }
}

cryptoki_fn! {
    /// C_MessageSignFinal.
    fn C_MessageSignFinal(hSession: CK_SESSION_HANDLE) {
        super::session(hSession)?.message_final(OpKind::Sign)
    }
}

cryptoki_fn! {
    /// C_MessageVerifyInit.
    fn C_MessageVerifyInit(hSession: CK_SESSION_HANDLE, pMechanism: *mut CK_MECHANISM, hKey: CK_OBJECT_HANDLE) {
        // SAFETY: the function's contract.
        unsafe { init(hSession, OpKind::Verify, pMechanism, hKey) }
    }
}

cryptoki_fn! {
    /// C_VerifyMessage.
    fn C_VerifyMessage(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pSignature: *mut CK_BYTE,
        ulSignatureLen: CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        let (session, _) = unsafe { session_params(hSession, OpKind::Verify, pParameter, ulParameterLen) }?;
        // SAFETY: pData is NULL or valid for ulDataLen bytes (contract).
        let data = unsafe { bytes(pData, ulDataLen) }?;
        // SAFETY: pSignature is NULL or valid for ulSignatureLen bytes (contract).
        let sig = unsafe { bytes(pSignature, ulSignatureLen) }?;
        session.message_one(OpKind::Verify, None, &[], data, sig, None).map(|_| ())
    }
}

cryptoki_fn! {
    /// C_VerifyMessageBegin.
    fn C_VerifyMessageBegin(hSession: CK_SESSION_HANDLE, pParameter: *mut c_void, ulParameterLen: CK_ULONG) {
        // SAFETY: the function's contract.
        unsafe { begin(hSession, OpKind::Verify, pParameter, ulParameterLen, std::ptr::null_mut(), 0) }
    }
}

cryptoki_fn! {
    /// C_VerifyMessageNext: a NULL `pSignature` means more parts follow.
    fn C_VerifyMessageNext(
        hSession: CK_SESSION_HANDLE,
        pParameter: *mut c_void,
        ulParameterLen: CK_ULONG,
        pData: *mut CK_BYTE,
        ulDataLen: CK_ULONG,
        pSignature: *mut CK_BYTE,
        ulSignatureLen: CK_ULONG,
    ) {
        // SAFETY: the function's contract.
        let (session, _) = unsafe { session_params(hSession, OpKind::Verify, pParameter, ulParameterLen) }?;
        // SAFETY: pData is NULL or valid for ulDataLen bytes (contract).
        let data = unsafe { bytes(pData, ulDataLen) }?;
        let last = !pSignature.is_null();
        // SAFETY: pSignature is NULL or valid for ulSignatureLen bytes (contract).
        let sig = if last { unsafe { bytes(pSignature, ulSignatureLen) }? } else { &[] };
        session.message_next(OpKind::Verify, None, data, last, sig, None).map(|_| ())
    }
}

cryptoki_fn! {
    /// C_MessageVerifyFinal.
    fn C_MessageVerifyFinal(hSession: CK_SESSION_HANDLE) {
        super::session(hSession)?.message_final(OpKind::Verify)
    }
}
