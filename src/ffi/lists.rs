//! The static function lists (2.40, 3.0, 3.2) and the "PKCS 11" interfaces.

use std::ptr::addr_of;

use cryptoki_sys::*;

use super::crypto::*;
use super::general::*;
use super::kem::*;
use super::legacy::*;
use super::message::*;
use super::object::*;
use super::session::*;
use super::slot::*;
use super::unsupported::*;

/// Build a function list from a version and the names of its functions.
macro_rules! list {
    ($ty:ident { $major:literal . $minor:literal } $($f:ident)*) => {
        $ty { version: CK_VERSION { major: $major, minor: $minor }, $($f: Some($f),)* }
    };
}

/// The functions of the 2.40 list, appended to `$args` and passed to `$cb!`.
macro_rules! v2_40 {
    ($cb:ident, $($args:tt)*) => {
        $cb!($($args)*
        C_Initialize C_Finalize C_GetInfo C_GetFunctionList C_GetSlotList C_GetSlotInfo
        C_GetTokenInfo C_GetMechanismList C_GetMechanismInfo C_InitToken C_InitPIN C_SetPIN
        C_OpenSession C_CloseSession C_CloseAllSessions C_GetSessionInfo C_GetOperationState
        C_SetOperationState C_Login C_Logout C_CreateObject C_CopyObject C_DestroyObject
        C_GetObjectSize C_GetAttributeValue C_SetAttributeValue C_FindObjectsInit C_FindObjects
        C_FindObjectsFinal C_EncryptInit C_Encrypt C_EncryptUpdate C_EncryptFinal C_DecryptInit
        C_Decrypt C_DecryptUpdate C_DecryptFinal C_DigestInit C_Digest C_DigestUpdate
        C_DigestKey C_DigestFinal C_SignInit C_Sign C_SignUpdate C_SignFinal C_SignRecoverInit
        C_SignRecover C_VerifyInit C_Verify C_VerifyUpdate C_VerifyFinal C_VerifyRecoverInit
        C_VerifyRecover C_DigestEncryptUpdate C_DecryptDigestUpdate C_SignEncryptUpdate
        C_DecryptVerifyUpdate C_GenerateKey C_GenerateKeyPair C_WrapKey C_UnwrapKey C_DeriveKey
        C_SeedRandom C_GenerateRandom C_GetFunctionStatus C_CancelFunction C_WaitForSlotEvent
        )
    };
}

/// The functions 3.0 adds.
macro_rules! v3_0 {
    ($cb:ident, $($args:tt)*) => {
        v2_40!($cb, $($args)*
        C_GetInterfaceList C_GetInterface C_LoginUser C_SessionCancel C_MessageEncryptInit
        C_EncryptMessage C_EncryptMessageBegin C_EncryptMessageNext C_MessageEncryptFinal
        C_MessageDecryptInit C_DecryptMessage C_DecryptMessageBegin C_DecryptMessageNext
        C_MessageDecryptFinal C_MessageSignInit C_SignMessage C_SignMessageBegin
        C_SignMessageNext C_MessageSignFinal C_MessageVerifyInit C_VerifyMessage
        C_VerifyMessageBegin C_VerifyMessageNext C_MessageVerifyFinal
        )
    };
}

/// The functions 3.2 adds.
macro_rules! v3_2 {
    ($cb:ident, $($args:tt)*) => {
        v3_0!($cb, $($args)*
        C_EncapsulateKey C_DecapsulateKey C_VerifySignatureInit C_VerifySignature
        C_VerifySignatureUpdate C_VerifySignatureFinal C_GetSessionValidationFlags
        C_AsyncComplete C_AsyncGetID C_AsyncJoin C_WrapKeyAuthenticated C_UnwrapKeyAuthenticated
        )
    };
}

/// The 2.40 list (C_GetFunctionList).
pub(crate) static FUNCTION_LIST: CK_FUNCTION_LIST = v2_40!(list, CK_FUNCTION_LIST { 2 . 40 });

/// The 3.0 list.
pub(crate) static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 =
    v3_0!(list, CK_FUNCTION_LIST_3_0 { 3 . 0 });

/// The 3.2 list.
pub(crate) static FUNCTION_LIST_3_2: CK_FUNCTION_LIST_3_2 =
    v3_2!(list, CK_FUNCTION_LIST_3_2 { 3 . 2 });

/// The name of our interfaces, NUL-terminated.
pub(crate) static INTERFACE_NAME: [u8; 8] = *b"PKCS 11\0";

/// The interfaces C_GetInterfaceList offers, the default (3.0) first.
pub(crate) struct Interfaces(pub(crate) [CK_INTERFACE; 3]);

// SAFETY: the pointers inside refer to immutable statics (the name and the function lists);
// nothing ever writes through them, so sharing them between threads is sound.
unsafe impl Sync for Interfaces {}

const fn interface(list: *const std::ffi::c_void) -> CK_INTERFACE {
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr().cast_mut(),
        pFunctionList: list.cast_mut(),
        flags: 0,
    }
}

pub(crate) static INTERFACES: Interfaces = Interfaces([
    interface(addr_of!(FUNCTION_LIST_3_0).cast()),
    interface(addr_of!(FUNCTION_LIST_3_2).cast()),
    interface(addr_of!(FUNCTION_LIST).cast()),
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_complete() {
        // Every entry is Some: a missing function would not compile (named fields), and
        // `Option` fields are set by the macro; check the versions and a few entries.
        assert_eq!(
            (FUNCTION_LIST.version.major, FUNCTION_LIST.version.minor),
            (2, 40)
        );
        assert_eq!(
            (
                FUNCTION_LIST_3_0.version.major,
                FUNCTION_LIST_3_0.version.minor
            ),
            (3, 0)
        );
        assert_eq!(
            (
                FUNCTION_LIST_3_2.version.major,
                FUNCTION_LIST_3_2.version.minor
            ),
            (3, 2)
        );
        assert!(FUNCTION_LIST.C_Initialize.is_some() && FUNCTION_LIST.C_WaitForSlotEvent.is_some());
        assert!(
            FUNCTION_LIST_3_0.C_LoginUser.is_some()
                && FUNCTION_LIST_3_0.C_MessageVerifyFinal.is_some()
        );
        assert!(FUNCTION_LIST_3_2.C_UnwrapKeyAuthenticated.is_some());
    }
}
