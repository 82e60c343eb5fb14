//! Key encapsulation (PKCS#11 3.2): C_EncapsulateKey, C_DecapsulateKey with CKM_ML_KEM. The
//! shared secret becomes a new secret key object made from the caller's template.

use cryptoki_sys::*;

use super::marshal::{bytes, from_ck, put, to_ck, OutBuf};
use super::mechanism::mechanism;
use super::template::template;
use crate::cryptoki::Out;
use crate::error::Error;

cryptoki_fn! {
    /// C_EncapsulateKey. A NULL `pCiphertext` asks for the ciphertext's length (no key is
    /// made); too small a buffer gets the length and CKR_BUFFER_TOO_SMALL.
    fn C_EncapsulateKey(
        hSession: CK_SESSION_HANDLE,
        pMechanism: *mut CK_MECHANISM,
        hPublicKey: CK_OBJECT_HANDLE,
        pTemplate: *mut CK_ATTRIBUTE,
        ulAttributeCount: CK_ULONG,
        pCiphertext: *mut CK_BYTE,
        pulCiphertextLen: *mut CK_ULONG,
        phKey: *mut CK_OBJECT_HANDLE,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pMechanism is NULL or a valid CK_MECHANISM (contract).
        let mech = unsafe { mechanism(pMechanism) }?;
        // SAFETY: pTemplate is NULL or a valid template of ulAttributeCount attributes.
        let tpl = unsafe { template(pTemplate, ulAttributeCount) }?;
        // SAFETY: the output buffer's contract is the function's.
        let buf = unsafe { OutBuf::new(pCiphertext, pulCiphertextLen) }?;
        let n = session.encapsulate_len(from_ck(hPublicKey))?;
        if buf.cap().is_none_or(|c| c < n) {
            return buf.deliver(Out::Needed(n));
        }
        if phKey.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let (h, ct) = session.encapsulate(mech, from_ck(hPublicKey), tpl)?;
        buf.write(&ct)?;
        // SAFETY: phKey is non-NULL and writable (contract).
        unsafe { put(phKey, to_ck(h)) }
    }
}

cryptoki_fn! {
    /// C_DecapsulateKey.
    fn C_DecapsulateKey(
        hSession: CK_SESSION_HANDLE,
        pMechanism: *mut CK_MECHANISM,
        hPrivateKey: CK_OBJECT_HANDLE,
        pTemplate: *mut CK_ATTRIBUTE,
        ulAttributeCount: CK_ULONG,
        pCiphertext: *mut CK_BYTE,
        ulCiphertextLen: CK_ULONG,
        phKey: *mut CK_OBJECT_HANDLE,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pMechanism is NULL or a valid CK_MECHANISM (contract).
        let mech = unsafe { mechanism(pMechanism) }?;
        // SAFETY: pTemplate is NULL or a valid template of ulAttributeCount attributes.
        let tpl = unsafe { template(pTemplate, ulAttributeCount) }?;
        // SAFETY: pCiphertext is NULL or valid for ulCiphertextLen bytes (contract).
        let ct = unsafe { bytes(pCiphertext, ulCiphertextLen) }?.to_vec();
        if phKey.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let h = session.decapsulate(mech, from_ck(hPrivateKey), ct, tpl)?;
        // SAFETY: phKey is non-NULL and writable (contract).
        unsafe { put(phKey, to_ck(h)) }
    }
}
