//! The one error type of the library.
//!
//! Every layer returns `Result<T, Error>`; only `ffi` turns an `Error` into a `CK_RV`, in one
//! exhaustive `match` (see `ffi::rv`). Variants are named after the PKCS#11 return code they
//! become, so the mapping is obvious and reviewable. `Error` is plain data (serde), because it
//! crosses the `trait Hsm` seam and, in cluster mode, the wire.

use serde::{Deserialize, Serialize};

/// Everything that can go wrong, one variant per PKCS#11 return code we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Error {
    ActionProhibited,
    ArgumentsBad,
    AttributeReadOnly,
    AttributeSensitive,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    BufferTooSmall,
    CantLock,
    CryptokiAlreadyInitialized,
    CryptokiNotInitialized,
    CurveNotSupported,
    DataInvalid,
    DataLenRange,
    DeviceError,
    DeviceMemory,
    DomainParamsInvalid,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    FunctionCanceled,
    FunctionFailed,
    FunctionNotParallel,
    FunctionNotSupported,
    FunctionRejected,
    GeneralError,
    HostMemory,
    KeyFunctionNotPermitted,
    KeyHandleInvalid,
    KeyIndigestible,
    KeyNeeded,
    KeyNotNeeded,
    KeyNotWrappable,
    KeySizeRange,
    KeyTypeInconsistent,
    KeyUnextractable,
    MechanismInvalid,
    MechanismParamInvalid,
    NoEvent,
    ObjectHandleInvalid,
    OperationActive,
    OperationCancelFailed,
    OperationNotInitialized,
    PinExpired,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    PinTooWeak,
    PublicKeyInvalid,
    RandomNoRng,
    RandomSeedNotSupported,
    SavedStateInvalid,
    SessionClosed,
    SessionCount,
    SessionExists,
    SessionHandleInvalid,
    SessionParallelNotSupported,
    SessionReadOnly,
    SessionReadOnlyExists,
    SessionReadWriteSoExists,
    SignatureInvalid,
    SignatureLenRange,
    SlotIdInvalid,
    StateUnsaveable,
    TemplateIncomplete,
    TemplateInconsistent,
    TokenNotPresent,
    TokenNotRecognized,
    TokenWriteProtected,
    UnwrappingKeyHandleInvalid,
    UnwrappingKeySizeRange,
    UnwrappingKeyTypeInconsistent,
    UserAlreadyLoggedIn,
    UserAnotherAlreadyLoggedIn,
    UserNotLoggedIn,
    UserPinNotInitialized,
    UserTooManyTypes,
    UserTypeInvalid,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    WrappingKeyHandleInvalid,
    WrappingKeySizeRange,
    WrappingKeyTypeInconsistent,
    /// The store failed authentication (a record was tampered with or corrupted), or could not
    /// be read. Becomes CKR_DEVICE_ERROR; never wrong data.
    StoreCorrupt,
    /// The store is busy beyond the bounded retry (another process holds the write lock).
    StoreBusy,
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(code, _)
                if matches!(
                    code.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                Error::StoreBusy
            }
            rusqlite::Error::SqliteFailure(code, _)
                if code.code == rusqlite::ErrorCode::DatabaseCorrupt
                    || code.code == rusqlite::ErrorCode::NotADatabase =>
            {
                Error::StoreCorrupt
            }
            _ => Error::DeviceError,
        }
    }
}
