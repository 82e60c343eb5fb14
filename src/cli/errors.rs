//! What the CLI says when something fails: one readable message per core `Error`, in one
//! exhaustive `match` (the CLI's counterpart of `ffi`'s `Error` → `CK_RV` mapping).

use serde_json::{Map, Value};

use crate::error::Error;

/// A failed command: a readable message and, optionally, more fields for the JSON `data`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) details: Map<String, Value>,
    /// The core's error, when the failure came from the HSM.
    pub(crate) cause: Option<Error>,
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            details: Map::new(),
            cause: None,
        }
    }

    /// A failure of the HSM, with the generic message for its error.
    pub(crate) fn hsm(e: Error) -> Self {
        Failure {
            message: message(e).to_string(),
            details: Map::new(),
            cause: Some(e),
        }
    }

    /// Add a field to the JSON `data` next to `error`.
    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// Replace the message, keeping the cause.
    pub(crate) fn say(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Put `context` in front of the message ("key delete: ...").
    pub(crate) fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The JSON `data` of the failure: `{"error": message, ...details}`.
    pub(crate) fn data(&self) -> Value {
        let mut m = Map::new();
        m.insert("error".into(), Value::String(self.message.clone()));
        for (k, v) in &self.details {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::hsm(e)
    }
}

/// A readable message for each core error.
pub(crate) fn message(e: Error) -> &'static str {
    use Error as E;
    match e {
        E::ActionProhibited => "not permitted for this user",
        E::ArgumentsBad => "invalid arguments (unknown user, bad name or wrong role?)",
        E::AttributeReadOnly => "this attribute cannot be set to that value (read-only, one-way, or admin-only)",
        E::AttributeSensitive => "this attribute is sensitive and cannot be read",
        E::AttributeTypeInvalid => "this attribute does not apply to this kind of key",
        E::AttributeValueInvalid => "invalid attribute value",
        E::BufferTooSmall => "output buffer too small",
        E::CantLock => "locking is not available",
        E::CryptokiAlreadyInitialized => "already initialized",
        E::CryptokiNotInitialized => "not initialized",
        E::CurveNotSupported => "curve not supported",
        E::DataInvalid => "invalid input data",
        E::DataLenRange => "input data has the wrong length",
        E::DeviceError => "HSM device error (is the store readable?)",
        E::DeviceMemory => "HSM capacity reached (too many users or keys)",
        E::DomainParamsInvalid => "invalid domain parameters",
        E::EncryptedDataInvalid => "ciphertext is invalid (wrong key, IV or AAD, or tampered data)",
        E::EncryptedDataLenRange => "ciphertext has the wrong length",
        E::FunctionCanceled => "operation canceled",
        E::FunctionFailed => "operation failed (changed concurrently? try again)",
        E::FunctionNotParallel => "operation cannot run in parallel",
        E::FunctionNotSupported => "operation not supported",
        E::FunctionRejected => super::quorum::APPROVAL_REQUIRED,
        E::GeneralError => "internal error",
        E::HostMemory => "out of memory",
        E::KeyFunctionNotPermitted => "the key's attributes do not allow this operation",
        E::KeyHandleInvalid => "key not found",
        E::KeyIndigestible => "this key cannot be digested",
        E::KeyNeeded => "a key is needed",
        E::KeyNotNeeded => "no key is needed",
        E::KeyNotWrappable => {
            "this key cannot be wrapped by this user (only its owner may wrap it, and a wrap-with-trusted key needs a trusted wrapping key)"
        }
        E::KeySizeRange => "key size out of range",
        E::KeyTypeInconsistent => "wrong key type for this operation",
        E::KeyUnextractable => "the key is not extractable",
        E::MechanismInvalid => "mechanism not supported or not allowed for this key",
        E::MechanismParamInvalid => "invalid mechanism parameters",
        E::NoEvent => "no event",
        E::ObjectHandleInvalid => "key not found",
        E::OperationActive => "another operation is active",
        E::OperationCancelFailed => "operation could not be canceled",
        E::OperationNotInitialized => "operation not initialized",
        E::PinExpired => "password expired",
        E::PinIncorrect => "incorrect password (or no such user with this role)",
        E::PinInvalid => "invalid username or password",
        E::PinLenRange => "password length out of range",
        E::PinLocked => "user locked after too many failed logins; an admin must reset the password",
        E::PinTooWeak => "password too weak",
        E::PublicKeyInvalid => "invalid public key",
        E::RandomNoRng => "no random number generator",
        E::RandomSeedNotSupported => "seeding the RNG is not supported",
        E::SavedStateInvalid => "invalid saved state",
        E::SessionClosed => "session closed",
        E::SessionCount => "too many sessions",
        E::SessionExists => "a session exists",
        E::SessionHandleInvalid => "invalid session",
        E::SessionParallelNotSupported => "parallel sessions not supported",
        E::SessionReadOnly => "read-only session",
        E::SessionReadOnlyExists => "a read-only session exists",
        E::SessionReadWriteSoExists => "an admin read-write session exists",
        E::SignatureInvalid => "signature is invalid",
        E::SignatureLenRange => "signature has the wrong length",
        E::SlotIdInvalid => "no such cluster",
        E::StateUnsaveable => "state cannot be saved",
        E::TemplateIncomplete => "a required attribute is missing",
        E::TemplateInconsistent => "the attributes are inconsistent",
        E::TokenNotPresent => "cluster not available",
        E::TokenNotRecognized => "cluster not recognized",
        E::TokenWriteProtected => "cluster is write-protected",
        E::UnwrappingKeyHandleInvalid => "unwrapping key not found",
        E::UnwrappingKeySizeRange => "unwrapping key size out of range",
        E::UnwrappingKeyTypeInconsistent => "the unwrapping key has the wrong type for this mechanism",
        E::UserAlreadyLoggedIn => "already logged in",
        E::UserAnotherAlreadyLoggedIn => "another user is logged in; log out first",
        E::UserNotLoggedIn => "not logged in",
        E::UserPinNotInitialized => "the cluster is not activated (run `cluster activate`)",
        E::UserTooManyTypes => "too many user types logged in",
        E::UserTypeInvalid => "this role cannot do that",
        E::WrappedKeyInvalid => "wrapped key data is invalid (wrong key, IV or mechanism, or tampered data)",
        E::WrappedKeyLenRange => "wrapped key data has the wrong length",
        E::WrappingKeyHandleInvalid => "wrapping key not found",
        E::WrappingKeySizeRange => "wrapping key size out of range",
        E::WrappingKeyTypeInconsistent => "the wrapping key has the wrong type for this mechanism",
        E::StoreCorrupt => "the store failed authentication (tampered with or corrupt)",
        E::StoreBusy => "the store is busy; try again",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_named_in_the_brief() {
        assert!(message(Error::PinIncorrect).starts_with("incorrect password"));
        assert_eq!(
            message(Error::ActionProhibited),
            "not permitted for this user"
        );
        assert_eq!(message(Error::UserTypeInvalid), "this role cannot do that");
        let f = Failure::hsm(Error::ActionProhibited)
            .context("key delete")
            .with("key-reference", "0x1");
        assert_eq!(f.data()["error"], "key delete: not permitted for this user");
        assert_eq!(f.data()["key-reference"], "0x1");
    }
}
