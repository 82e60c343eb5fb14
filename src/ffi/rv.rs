//! The one mapping from `Error` to `CK_RV`.
//!
//! Exhaustive and without a catch-all arm: a new `Error` variant does not compile until it is
//! given its return code here.

use cryptoki_sys::*;

use crate::error::Error;

/// The PKCS#11 return code for an error.
pub(crate) fn rv(e: Error) -> CK_RV {
    match e {
        Error::ActionProhibited => CKR_ACTION_PROHIBITED,
        Error::ArgumentsBad => CKR_ARGUMENTS_BAD,
        Error::AttributeReadOnly => CKR_ATTRIBUTE_READ_ONLY,
        Error::AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
        Error::AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
        Error::AttributeValueInvalid => CKR_ATTRIBUTE_VALUE_INVALID,
        Error::BufferTooSmall => CKR_BUFFER_TOO_SMALL,
        Error::CantLock => CKR_CANT_LOCK,
        Error::CryptokiAlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
        Error::CryptokiNotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
        Error::CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
        Error::DataInvalid => CKR_DATA_INVALID,
        Error::DataLenRange => CKR_DATA_LEN_RANGE,
        Error::DeviceError => CKR_DEVICE_ERROR,
        Error::DeviceMemory => CKR_DEVICE_MEMORY,
        Error::DomainParamsInvalid => CKR_DOMAIN_PARAMS_INVALID,
        Error::EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
        Error::EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
        Error::FunctionCanceled => CKR_FUNCTION_CANCELED,
        Error::FunctionFailed => CKR_FUNCTION_FAILED,
        Error::FunctionNotParallel => CKR_FUNCTION_NOT_PARALLEL,
        Error::FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
        Error::FunctionRejected => CKR_FUNCTION_REJECTED,
        Error::GeneralError => CKR_GENERAL_ERROR,
        Error::HostMemory => CKR_HOST_MEMORY,
        Error::KeyFunctionNotPermitted => CKR_KEY_FUNCTION_NOT_PERMITTED,
        Error::KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
        Error::KeyIndigestible => CKR_KEY_INDIGESTIBLE,
        Error::KeyNeeded => CKR_KEY_NEEDED,
        Error::KeyNotNeeded => CKR_KEY_NOT_NEEDED,
        Error::KeyNotWrappable => CKR_KEY_NOT_WRAPPABLE,
        Error::KeySizeRange => CKR_KEY_SIZE_RANGE,
        Error::KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
        Error::KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
        Error::MechanismInvalid => CKR_MECHANISM_INVALID,
        Error::MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
        Error::NoEvent => CKR_NO_EVENT,
        Error::ObjectHandleInvalid => CKR_OBJECT_HANDLE_INVALID,
        Error::OperationActive => CKR_OPERATION_ACTIVE,
        Error::OperationCancelFailed => CKR_OPERATION_CANCEL_FAILED,
        Error::OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
        Error::PinExpired => CKR_PIN_EXPIRED,
        Error::PinIncorrect => CKR_PIN_INCORRECT,
        Error::PinInvalid => CKR_PIN_INVALID,
        Error::PinLenRange => CKR_PIN_LEN_RANGE,
        Error::PinLocked => CKR_PIN_LOCKED,
        Error::PinTooWeak => CKR_PIN_TOO_WEAK,
        Error::PublicKeyInvalid => CKR_PUBLIC_KEY_INVALID,
        Error::RandomNoRng => CKR_RANDOM_NO_RNG,
        Error::RandomSeedNotSupported => CKR_RANDOM_SEED_NOT_SUPPORTED,
        Error::SavedStateInvalid => CKR_SAVED_STATE_INVALID,
        Error::SessionClosed => CKR_SESSION_CLOSED,
        Error::SessionCount => CKR_SESSION_COUNT,
        Error::SessionExists => CKR_SESSION_EXISTS,
        Error::SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
        Error::SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
        Error::SessionReadOnly => CKR_SESSION_READ_ONLY,
        Error::SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
        Error::SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
        Error::SignatureInvalid => CKR_SIGNATURE_INVALID,
        Error::SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
        Error::SlotIdInvalid => CKR_SLOT_ID_INVALID,
        Error::StateUnsaveable => CKR_STATE_UNSAVEABLE,
        Error::TemplateIncomplete => CKR_TEMPLATE_INCOMPLETE,
        Error::TemplateInconsistent => CKR_TEMPLATE_INCONSISTENT,
        Error::TokenNotPresent => CKR_TOKEN_NOT_PRESENT,
        Error::TokenNotRecognized => CKR_TOKEN_NOT_RECOGNIZED,
        Error::TokenWriteProtected => CKR_TOKEN_WRITE_PROTECTED,
        Error::UnwrappingKeyHandleInvalid => CKR_UNWRAPPING_KEY_HANDLE_INVALID,
        Error::UnwrappingKeySizeRange => CKR_UNWRAPPING_KEY_SIZE_RANGE,
        Error::UnwrappingKeyTypeInconsistent => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
        Error::UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
        Error::UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
        Error::UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
        Error::UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
        Error::UserTooManyTypes => CKR_USER_TOO_MANY_TYPES,
        Error::UserTypeInvalid => CKR_USER_TYPE_INVALID,
        Error::WrappedKeyInvalid => CKR_WRAPPED_KEY_INVALID,
        Error::WrappedKeyLenRange => CKR_WRAPPED_KEY_LEN_RANGE,
        Error::WrappingKeyHandleInvalid => CKR_WRAPPING_KEY_HANDLE_INVALID,
        Error::WrappingKeySizeRange => CKR_WRAPPING_KEY_SIZE_RANGE,
        Error::WrappingKeyTypeInconsistent => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
        // A record failed authentication or could not be read: never wrong data.
        Error::StoreCorrupt => CKR_DEVICE_ERROR,
        // Another process held the store beyond the bounded retry.
        Error::StoreBusy => CKR_DEVICE_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_codes_for_distinct_conditions() {
        assert_eq!(rv(Error::BufferTooSmall), CKR_BUFFER_TOO_SMALL);
        assert_eq!(
            rv(Error::CryptokiNotInitialized),
            CKR_CRYPTOKI_NOT_INITIALIZED
        );
        assert_eq!(rv(Error::StoreCorrupt), CKR_DEVICE_ERROR);
        assert_eq!(rv(Error::GeneralError), CKR_GENERAL_ERROR);
        assert_ne!(rv(Error::KeyHandleInvalid), rv(Error::ObjectHandleInvalid));
    }
}
