//! Functions of the 2.40, 3.0 and 3.2 lists we do not support. Each says so (once the
//! library is initialized): CKR_FUNCTION_NOT_SUPPORTED, or CKR_FUNCTION_NOT_PARALLEL for the
//! legacy parallel-function calls. Never a fake success.

use cryptoki_sys::*;

use crate::cryptoki;
use crate::error::Error;

cryptoki_fn! {
    /// C_GetFunctionStatus: legacy; CKR_FUNCTION_NOT_PARALLEL.
    fn C_GetFunctionStatus(_hSession: CK_SESSION_HANDLE) {
        cryptoki::module()?;
        Err(Error::FunctionNotParallel)
    }
}

cryptoki_fn! {
    /// C_CancelFunction: legacy; CKR_FUNCTION_NOT_PARALLEL.
    fn C_CancelFunction(_hSession: CK_SESSION_HANDLE) {
        cryptoki::module()?;
        Err(Error::FunctionNotParallel)
    }
}

not_supported! {
    // 2.40
    C_GetOperationState(_s: CK_SESSION_HANDLE, _state: *mut CK_BYTE, _len: *mut CK_ULONG);
    C_SetOperationState(
        _s: CK_SESSION_HANDLE,
        _state: *mut CK_BYTE,
        _len: CK_ULONG,
        _enc: CK_OBJECT_HANDLE,
        _auth: CK_OBJECT_HANDLE,
    );
    C_DigestEncryptUpdate(_s: CK_SESSION_HANDLE, _d: *mut CK_BYTE, _dl: CK_ULONG, _o: *mut CK_BYTE, _ol: *mut CK_ULONG);
    C_DecryptDigestUpdate(_s: CK_SESSION_HANDLE, _d: *mut CK_BYTE, _dl: CK_ULONG, _o: *mut CK_BYTE, _ol: *mut CK_ULONG);
    C_SignEncryptUpdate(_s: CK_SESSION_HANDLE, _d: *mut CK_BYTE, _dl: CK_ULONG, _o: *mut CK_BYTE, _ol: *mut CK_ULONG);
    C_DecryptVerifyUpdate(_s: CK_SESSION_HANDLE, _d: *mut CK_BYTE, _dl: CK_ULONG, _o: *mut CK_BYTE, _ol: *mut CK_ULONG);

    // 3.2
    C_VerifySignatureInit(
        _s: CK_SESSION_HANDLE,
        _m: *mut CK_MECHANISM,
        _key: CK_OBJECT_HANDLE,
        _sig: *mut CK_BYTE,
        _sl: CK_ULONG,
    );
    C_VerifySignature(_s: CK_SESSION_HANDLE, _d: *mut CK_BYTE, _dl: CK_ULONG);
    C_VerifySignatureUpdate(_s: CK_SESSION_HANDLE, _d: *mut CK_BYTE, _dl: CK_ULONG);
    C_VerifySignatureFinal(_s: CK_SESSION_HANDLE);
    C_GetSessionValidationFlags(_s: CK_SESSION_HANDLE, _ty: CK_SESSION_VALIDATION_FLAGS_TYPE, _f: *mut CK_FLAGS);
    C_AsyncComplete(_s: CK_SESSION_HANDLE, _name: *mut CK_UTF8CHAR, _r: *mut CK_ASYNC_DATA);
    C_AsyncGetID(_s: CK_SESSION_HANDLE, _name: *mut CK_UTF8CHAR, _id: *mut CK_ULONG);
    C_AsyncJoin(_s: CK_SESSION_HANDLE, _name: *mut CK_UTF8CHAR, _id: CK_ULONG, _d: *mut CK_BYTE, _dl: CK_ULONG);
    C_WrapKeyAuthenticated(
        _s: CK_SESSION_HANDLE,
        _m: *mut CK_MECHANISM,
        _wk: CK_OBJECT_HANDLE,
        _k: CK_OBJECT_HANDLE,
        _a: *mut CK_BYTE,
        _al: CK_ULONG,
        _o: *mut CK_BYTE,
        _ol: *mut CK_ULONG,
    );
    C_UnwrapKeyAuthenticated(
        _s: CK_SESSION_HANDLE,
        _m: *mut CK_MECHANISM,
        _uk: CK_OBJECT_HANDLE,
        _w: *mut CK_BYTE,
        _wl: CK_ULONG,
        _t: *mut CK_ATTRIBUTE,
        _tl: CK_ULONG,
        _a: *mut CK_BYTE,
        _al: CK_ULONG,
        _h: *mut CK_OBJECT_HANDLE,
    );
}
