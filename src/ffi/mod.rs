//! The C ABI: every `extern "C"` function, raw pointer and `unsafe` block of the module.
//!
//! Each exported function is defined with [`cryptoki_fn!`], which puts its body behind the
//! one panic boundary ([`guard`]: a panic becomes CKR_GENERAL_ERROR, an `Error` becomes its
//! `CK_RV` through [`rv::rv`]). Bodies marshal their arguments once, with the helpers of
//! [`marshal`], [`template`] and [`mechanism`], then call safe code in `cryptoki`.
//! Every call but C_GetFunctionList, C_GetInterfaceList, C_GetInterface and C_Initialize
//! starts with `cryptoki::module()?`, which is CKR_CRYPTOKI_NOT_INITIALIZED before
//! C_Initialize, after C_Finalize and in a forked child.
//!
//! Extension: C_Initialize accepts, in `CK_C_INITIALIZE_ARGS.pReserved`, a NUL-terminated
//! path of a configuration file (used instead of `$CLOUDHSM_PKCS11_CONF`).

#![deny(unsafe_op_in_unsafe_fn)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use cryptoki_sys::{CKR_GENERAL_ERROR, CKR_OK, CK_RV, CK_SESSION_HANDLE};

use crate::cryptoki::Session;
use crate::error::Result;

/// Define an exported PKCS#11 function: `#[unsafe(no_mangle)] pub unsafe extern "C"`, its
/// body run behind the panic boundary and returning `Result<()>`.
macro_rules! cryptoki_fn {
    ($(#[$meta:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        ///
        /// # Safety
        ///
        /// The caller keeps the PKCS#11 contract of this function: every pointer argument is
        /// NULL or valid for what the specification says the function reads or writes.
        #[unsafe(no_mangle)]
        #[allow(non_snake_case)] // PKCS#11 names, as in the specification
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> cryptoki_sys::CK_RV {
            $crate::ffi::guard(stringify!($name), move || -> $crate::error::Result<()> { $body })
        }
    };
}

/// Define exported functions that only say CKR_FUNCTION_NOT_SUPPORTED (once initialized).
macro_rules! not_supported {
    ($($name:ident($($arg:ident: $ty:ty),* $(,)?);)*) => {
        $(
            cryptoki_fn! {
                #[doc = concat!("`", stringify!($name), "`: not supported (CKR_FUNCTION_NOT_SUPPORTED).")]
                fn $name($($arg: $ty),*) {
                    $crate::cryptoki::module()?;
                    Err($crate::error::Error::FunctionNotSupported)
                }
            }
        )*
    };
}

mod lists;
mod log;
mod marshal;
mod mechanism;
mod mechanism_kdf;
mod rv;
mod template;

pub mod crypto;
pub mod general;
pub mod kem;
pub mod legacy;
pub mod message;
pub mod object;
pub mod session;
pub mod slot;
pub mod unsupported;

/// The panic boundary every export runs behind: `Ok` → CKR_OK, `Err(e)` → `rv(e)`, a panic
/// → CKR_GENERAL_ERROR (never unwinding into the caller).
pub(crate) fn guard(name: &'static str, body: impl FnOnce() -> Result<()>) -> CK_RV {
    let rv = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(e)) => rv::rv(e),
        Err(_) => {
            tracing::error!(function = name, "panic caught at the C boundary");
            CKR_GENERAL_ERROR
        }
    };
    tracing::debug!(function = name, rv = format_args!("{rv:#x}"));
    rv
}

/// The open session behind a handle (after the initialization check).
pub(crate) fn session(handle: CK_SESSION_HANDLE) -> Result<Arc<Session>> {
    crate::cryptoki::with_module(|m| m.session(marshal::from_ck(handle)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use cryptoki_sys::{CKR_ARGUMENTS_BAD, CKR_BUFFER_TOO_SMALL};

    #[test]
    fn boundary_maps_results_and_panics() {
        assert_eq!(guard("t", || Ok(())), CKR_OK);
        assert_eq!(guard("t", || Err(Error::ArgumentsBad)), CKR_ARGUMENTS_BAD);
        assert_eq!(
            guard("t", || Err(Error::BufferTooSmall)),
            CKR_BUFFER_TOO_SMALL
        );
        #[allow(clippy::panic)]
        let rv = guard("t", || panic!("boom"));
        assert_eq!(rv, CKR_GENERAL_ERROR);
    }
}
