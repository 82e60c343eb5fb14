//! General-purpose functions: C_Initialize, C_Finalize, C_GetInfo, the function lists and
//! interfaces, C_WaitForSlotEvent.

use std::ffi::c_void;
use std::path::Path;
use std::sync::Once;

use cryptoki_sys::*;

use super::lists::{FUNCTION_LIST, INTERFACES, INTERFACE_NAME};
use super::marshal::{c_str, from_ck, get, out_array, padded, put, to_ck, version};
use crate::cryptoki;
use crate::error::Error;

/// The Cryptoki version C_GetInfo reports: the 3.0 interface is complete (its message-based
/// functions answer CKR_FUNCTION_NOT_SUPPORTED, as the spec allows); of 3.2 only the list.
const CRYPTOKI_VERSION: CK_VERSION = CK_VERSION { major: 3, minor: 0 };

static FORK_HANDLERS: Once = Once::new();

extern "C" fn atfork_prepare() {
    let _ = std::panic::catch_unwind(cryptoki::fork_prepare);
}

extern "C" fn atfork_parent() {
    let _ = std::panic::catch_unwind(cryptoki::fork_parent);
}

extern "C" fn atfork_child() {
    let _ = std::panic::catch_unwind(cryptoki::fork_child);
}

/// Register the fork handlers, once per process (they survive C_Finalize).
fn register_fork_handlers() {
    FORK_HANDLERS.call_once(|| {
        // SAFETY: the three handlers are `extern "C"` functions of this library taking no
        // argument, as pthread_atfork requires; they never unwind (catch_unwind).
        let _ = unsafe {
            libc::pthread_atfork(
                Some(atfork_prepare),
                Some(atfork_parent),
                Some(atfork_child),
            )
        };
    });
}

static PIN: Once = Once::new();

/// Keep this library mapped for the life of the process, whatever the application's
/// `dlclose`: once used, the process holds thread-exit destructors (ours and our
/// dependencies') and fork handlers pointing into it, which must never run unmapped code.
fn pin_library() {
    PIN.call_once(|| {
        let anchor = pin_library as fn() as *const c_void;
        // SAFETY: `Dl_info` is plain data (pointers and integers) for which all-zero is valid.
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: `anchor` is an address inside this library and `info` is writable.
        let found = unsafe { libc::dladdr(anchor, &mut info) };
        if found == 0 || info.dli_fname.is_null() {
            return;
        }
        // SAFETY: `dli_fname` is the loader's NUL-terminated path of the already loaded object;
        // RTLD_NOLOAD only takes a new reference to it, RTLD_NODELETE makes it permanent. The
        // handle is deliberately never closed.
        let _handle = unsafe {
            libc::dlopen(
                info.dli_fname,
                libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE,
            )
        };
    });
}

cryptoki_fn! {
    /// C_Initialize. `pInitArgs` NULL or a CK_C_INITIALIZE_ARGS: mutex callbacks all or none
    /// (else CKR_ARGUMENTS_BAD), and if given, CKF_OS_LOCKING_OK too (we only use OS locking,
    /// else CKR_CANT_LOCK). Extension: a non-NULL `pReserved` is a NUL-terminated config path.
    fn C_Initialize(pInitArgs: *mut c_void) {
        pin_library();
        let mut config = None;
        if !pInitArgs.is_null() {
            // SAFETY: a non-NULL pInitArgs points to a CK_C_INITIALIZE_ARGS (contract).
            let args = unsafe { get(pInitArgs.cast::<CK_C_INITIALIZE_ARGS>()) }?;
            let given = [
                args.CreateMutex.is_some(),
                args.DestroyMutex.is_some(),
                args.LockMutex.is_some(),
                args.UnlockMutex.is_some(),
            ];
            let n = given.iter().filter(|g| **g).count();
            if n != 0 && n != given.len() {
                return Err(Error::ArgumentsBad);
            }
            if n != 0 && args.flags & CKF_OS_LOCKING_OK == 0 {
                return Err(Error::CantLock);
            }
            // SAFETY: our documented extension: pReserved is NULL or a NUL-terminated path.
            config = unsafe { c_str(args.pReserved) }?;
        }
        super::log::init();
        register_fork_handlers();
        cryptoki::initialize(config.as_deref().map(Path::new))
    }
}

cryptoki_fn! {
    /// C_Finalize. `pReserved` must be NULL.
    fn C_Finalize(pReserved: *mut c_void) {
        if !pReserved.is_null() {
            cryptoki::module()?;
            return Err(Error::ArgumentsBad);
        }
        cryptoki::finalize()
    }
}

cryptoki_fn! {
    /// C_GetInfo.
    fn C_GetInfo(pInfo: *mut CK_INFO) {
        cryptoki::module()?;
        let info = CK_INFO {
            cryptokiVersion: CRYPTOKI_VERSION,
            manufacturerID: padded(crate::cryptoki::MANUFACTURER),
            flags: 0,
            libraryDescription: padded("cloudhsm-pkcs11 PKCS#11 module"),
            libraryVersion: version(crate::cryptoki::library_version()),
        };
        // SAFETY: pInfo is NULL or points to a CK_INFO (contract).
        unsafe { put(pInfo, info) }
    }
}

cryptoki_fn! {
    /// C_GetFunctionList: the 2.40 list (callable before C_Initialize).
    fn C_GetFunctionList(ppFunctionList: *mut *mut CK_FUNCTION_LIST) {
        let list = std::ptr::addr_of!(FUNCTION_LIST).cast_mut();
        // SAFETY: ppFunctionList is NULL or points to a pointer we may set (contract).
        unsafe { put(ppFunctionList, list) }
    }
}

cryptoki_fn! {
    /// C_GetInterfaceList: "PKCS 11" 3.0, 3.2 and 2.40 (callable before C_Initialize).
    fn C_GetInterfaceList(pInterfacesList: *mut CK_INTERFACE, pulCount: *mut CK_ULONG) {
        // SAFETY: the array protocol's contract is the function's (contract).
        unsafe { out_array(pInterfacesList, pulCount, &INTERFACES.0) }
    }
}

cryptoki_fn! {
    /// C_GetInterface: by name ("PKCS 11" or NULL), version (NULL: the default, 3.0) and
    /// flags (all of which the interface must have). No match: CKR_ARGUMENTS_BAD.
    fn C_GetInterface(
        pInterfaceName: *mut CK_UTF8CHAR,
        pVersion: *mut CK_VERSION,
        ppInterface: *mut *mut CK_INTERFACE,
        flags: CK_FLAGS,
    ) {
        if ppInterface.is_null() {
            return Err(Error::ArgumentsBad);
        }
        // SAFETY: pInterfaceName is NULL or a NUL-terminated string (contract).
        let name = unsafe { c_str(pInterfaceName.cast_const().cast()) }?;
        if name.as_deref().is_some_and(|n| n.as_bytes() != &INTERFACE_NAME[..INTERFACE_NAME.len() - 1]) {
            return Err(Error::ArgumentsBad);
        }
        let wanted = if pVersion.is_null() {
            None
        } else {
            // SAFETY: non-NULL pVersion points to a CK_VERSION (contract).
            Some(unsafe { get(pVersion.cast_const()) }?)
        };
        let found = INTERFACES.0.iter().position(|i| {
            // SAFETY: every pFunctionList of INTERFACES points to a static function list,
            // each of which starts with its CK_VERSION.
            let v = unsafe { i.pFunctionList.cast::<CK_VERSION>().read() };
            wanted.is_none_or(|w| (w.major, w.minor) == (v.major, v.minor)) && i.flags & flags == flags
        });
        let index = found.ok_or(Error::ArgumentsBad)?;
        let iface = std::ptr::addr_of!(INTERFACES.0[index]).cast_mut();
        // SAFETY: ppInterface is non-NULL and writable (contract).
        unsafe { put(ppInterface, iface) }
    }
}

cryptoki_fn! {
    /// C_WaitForSlotEvent: CKF_DONT_BLOCK → a changed slot or CKR_NO_EVENT; blocking →
    /// wait for a change, or C_Finalize (CKR_CRYPTOKI_NOT_INITIALIZED).
    fn C_WaitForSlotEvent(flags: CK_FLAGS, pSlot: *mut CK_SLOT_ID, pReserved: *mut c_void) {
        let _ = pReserved;
        let module = cryptoki::module()?;
        if pSlot.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let slot = module.wait_for_slot_event(from_ck(flags) & from_ck(CKF_DONT_BLOCK) == 0)?;
        // SAFETY: pSlot is non-NULL and writable (contract).
        unsafe { put(pSlot, to_ck(slot)) }
    }
}
