//! The C headers we ship (`include/`) against the ABI the module implements.
//!
//! Compiles small C programs that include `include/pkcs11.h` and
//! `include/cloudhsm_pkcs11_vendor_defs.h` with `cc -std=c99 -Wall -Wextra
//! -pedantic -Werror`, runs them, and compares what they print with
//! `cryptoki_sys` (the Rust bindings the module is built on): constant values,
//! struct sizes, field offsets, and the position of every function in the
//! three function lists. The CloudHSM vendor values are compared with literals
//! whose sources are listed in `include/README.md`.
//!
//! Needs only a C compiler (`$CC`, default `cc`) and the `cryptoki-sys` crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use cryptoki_sys as ck;

/// `(name, value)` for constants that must be equal in C and in cryptoki-sys.
macro_rules! consts {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), ck::$name as u64)),*]
    };
}

/// `(type, size)` for structs whose size must be equal in C and Rust.
macro_rules! sizes {
    ($($ty:ident),* $(,)?) => {
        &[$((stringify!($ty), size_of::<ck::$ty>())),*]
    };
}

/// `(type, C field, offset)`: `field` or `c_field => rust_field`.
macro_rules! offsets {
    ($($ty:ident . $field:ident $(=> $rust:ident)?),* $(,)?) => {
        &[$((stringify!($ty), stringify!($field), offsets!(@off $ty $field $($rust)?))),*]
    };
    (@off $ty:ident $field:ident) => { offset_of!(ck::$ty, $field) };
    (@off $ty:ident $field:ident $rust:ident) => { offset_of!(ck::$ty, $rust) };
}

/// `(list, function, offset)` for every member of a function list.
macro_rules! functions {
    ($list:ident: $($f:ident),* $(,)?) => {
        &[$((stringify!($list), stringify!($f), offset_of!(ck::$list, $f))),*]
    };
}

const CONSTANTS: &[(&str, u64)] = consts![
    CRYPTOKI_VERSION_MAJOR,
    CRYPTOKI_VERSION_MINOR,
    CK_TRUE,
    CK_FALSE,
    CK_INVALID_HANDLE,
    CK_EFFECTIVELY_INFINITE,
    // object classes, key types
    CKO_DATA,
    CKO_CERTIFICATE,
    CKO_PUBLIC_KEY,
    CKO_PRIVATE_KEY,
    CKO_SECRET_KEY,
    CKO_PROFILE,
    CKO_TRUST,
    CKO_VENDOR_DEFINED,
    CKK_RSA,
    CKK_EC,
    CKK_GENERIC_SECRET,
    CKK_DES3,
    CKK_AES,
    CKK_SHA256_HMAC,
    CKK_EC_EDWARDS,
    CKK_ML_KEM,
    CKK_ML_DSA,
    CKK_SLH_DSA,
    // attributes
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_UNIQUE_ID,
    CKA_VALUE,
    CKA_TRUSTED,
    CKA_CHECK_VALUE,
    CKA_KEY_TYPE,
    CKA_ID,
    CKA_SENSITIVE,
    CKA_SIGN,
    CKA_DERIVE,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_VALUE_LEN,
    CKA_EXTRACTABLE,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_DERIVE_TEMPLATE,
    CKA_ALLOWED_MECHANISMS,
    CKA_PROFILE_ID,
    CKA_PARAMETER_SET,
    CKA_ENCAPSULATE,
    CKA_DECAPSULATE,
    CKA_SEED,
    CKA_VENDOR_DEFINED,
    // mechanisms
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_RSA_PKCS,
    CKM_RSA_X_509,
    CKM_RSA_PKCS_OAEP,
    CKM_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA512_RSA_PKCS_PSS,
    CKM_ML_KEM_KEY_PAIR_GEN,
    CKM_ML_KEM,
    CKM_ML_DSA_KEY_PAIR_GEN,
    CKM_ML_DSA,
    CKM_HASH_ML_DSA_SHA512,
    CKM_SLH_DSA_KEY_PAIR_GEN,
    CKM_SLH_DSA,
    CKM_SHA_1,
    CKM_SHA256,
    CKM_SHA512_HMAC,
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_SP800_108_COUNTER_KDF,
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDSA,
    CKM_ECDSA_SHA384,
    CKM_ECDH1_DERIVE,
    CKM_RSA_AES_KEY_WRAP,
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EDDSA,
    CKM_AES_KEY_GEN,
    CKM_AES_CBC_PAD,
    CKM_AES_CTR,
    CKM_AES_GCM,
    CKM_AES_CMAC,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_AES_KEY_WRAP_KWP,
    CKM_DES3_CBC,
    CKM_HKDF_DERIVE,
    CKM_PUB_KEY_FROM_PRIV_KEY,
    CKM_VENDOR_DEFINED,
    // return values
    CKR_OK,
    CKR_GENERAL_ERROR,
    CKR_FUNCTION_FAILED,
    CKR_ARGUMENTS_BAD,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ACTION_PROHIBITED,
    CKR_AEAD_DECRYPT_FAILED,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_PIN_INCORRECT,
    CKR_PIN_LOCKED,
    CKR_SESSION_READ_ONLY,
    CKR_SIGNATURE_INVALID,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_USER_ALREADY_LOGGED_IN,
    CKR_USER_NOT_LOGGED_IN,
    CKR_BUFFER_TOO_SMALL,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_OPERATION_CANCEL_FAILED,
    CKR_PENDING,
    CKR_PARAMETER_SET_NOT_SUPPORTED,
    CKR_VENDOR_DEFINED,
    // flags
    CKF_TOKEN_PRESENT,
    CKF_RNG,
    CKF_LOGIN_REQUIRED,
    CKF_USER_PIN_INITIALIZED,
    CKF_TOKEN_INITIALIZED,
    CKF_USER_PIN_COUNT_LOW,
    CKF_USER_PIN_FINAL_TRY,
    CKF_USER_PIN_LOCKED,
    CKF_SO_PIN_LOCKED,
    CKF_ASYNC_SESSION_SUPPORTED,
    CKF_RW_SESSION,
    CKF_SERIAL_SESSION,
    CKF_ASYNC_SESSION,
    CKF_HW,
    CKF_ENCRYPT,
    CKF_SIGN,
    CKF_GENERATE_KEY_PAIR,
    CKF_DERIVE,
    CKF_EC_OID,
    CKF_EC_UNCOMPRESS,
    CKF_ENCAPSULATE,
    CKF_DECAPSULATE,
    CKF_ARRAY_ATTRIBUTE,
    CKF_OS_LOCKING_OK,
    CKF_INTERFACE_FORK_SAFE,
    CKF_END_OF_MESSAGE,
    CKF_HKDF_SALT_KEY,
    // users, states, generators, KDFs, parameter sets
    CKU_SO,
    CKU_USER,
    CKU_CONTEXT_SPECIFIC,
    CKS_RW_USER_FUNCTIONS,
    CKG_MGF1_SHA256,
    CKG_GENERATE_RANDOM,
    CKZ_DATA_SPECIFIED,
    CKD_NULL,
    CKD_SHA1_KDF,
    CKD_SHA256_KDF,
    CKD_SHA512_KDF,
    CKD_SHA256_KDF_SP800,
    CKP_ML_DSA_44,
    CKP_ML_DSA_87,
    CKP_ML_KEM_768,
    CKP_SLH_DSA_SHAKE_256F,
    CKH_DETERMINISTIC_REQUIRED,
    CK_SP800_108_ITERATION_VARIABLE,
    CK_SP800_108_DKM_LENGTH,
    CK_SP800_108_BYTE_ARRAY,
    CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
];

/// CloudHSM vendor constants and the values verified for them (see
/// include/README.md for the source of each; "chosen" ones are ours).
const VENDOR: &[(&str, u64)] = &[
    // Published by AWS (aws-cloudhsm-pkcs11-examples cloudhsm_pkcs11_vendor_defs.h).
    ("CKM_CLOUDHSM_SP800_108_COUNTER_KDF", 0x8000_0001),
    ("CKM_CLOUDHSM_AES_GCM", 0x8000_1087),
    ("CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD", 0x8000_2109),
    ("CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD", 0x8000_210A),
    ("CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD", 0x8000_216F),
    ("CKM_DES3_NIST_WRAP", 0x8000_8000),
    ("CKM_CLOUDHSM_DES3_NIST_WRAP", 0x8000_8000),
    ("SP800_108_COUNTER_FORMAT", 4),
    ("SP800_108_PRF_LABEL", 5),
    ("SP800_108_PRF_CONTEXT", 6),
    ("SP800_108_DKM_FORMAT", 7),
    ("SP800_108_BYTE_ARRAY", 8),
    ("SP800_108_DKM_LENGTH_SUM_OF_KEYS", 1),
    ("SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS", 2),
    // Names published by AWS, values chosen by this project.
    ("CKM_CLOUDHSM_EDDSA", 0x8000_1057),
    ("CKM_CLOUDHSM_ML_DSA_KEY_PAIR_GEN", 0x8000_001C),
    ("CKM_CLOUDHSM_ML_DSA", 0x8000_001D),
    ("CKM_CLOUDHSM_EXT_MU_ML_DSA", 0x8001_001D),
    ("CKA_CLOUDHSM_PARAMETER_SET", 0x8000_061D),
    ("CKP_CLOUDHSM_ML_DSA_44", 1),
    ("CKP_CLOUDHSM_ML_DSA_65", 2),
    ("CKP_CLOUDHSM_ML_DSA_87", 3),
    ("CKD_CLOUDHSM_X963_SHA1_KDF", 0x8000_0002),
    ("CKD_CLOUDHSM_X963_SHA224_KDF", 0x8000_0005),
    ("CKD_CLOUDHSM_X963_SHA256_KDF", 0x8000_0006),
    ("CKD_CLOUDHSM_X963_SHA384_KDF", 0x8000_0007),
    ("CKD_CLOUDHSM_X963_SHA512_KDF", 0x8000_0008),
    ("CKD_VENDOR_DEFINED", 0x8000_0000),
    // This project's reserved range.
    ("CLOUDHSM_OPEN_VENDOR_BASE", 0x8F00_0000),
];

const SIZES: &[(&str, usize)] = sizes![
    CK_VERSION,
    CK_INFO,
    CK_SLOT_INFO,
    CK_TOKEN_INFO,
    CK_SESSION_INFO,
    CK_ATTRIBUTE,
    CK_DATE,
    CK_MECHANISM,
    CK_MECHANISM_INFO,
    CK_C_INITIALIZE_ARGS,
    CK_INTERFACE,
    CK_DERIVED_KEY,
    CK_ASYNC_DATA,
    CK_FUNCTION_LIST,
    CK_FUNCTION_LIST_3_0,
    CK_FUNCTION_LIST_3_2,
    CK_RSA_PKCS_OAEP_PARAMS,
    CK_RSA_PKCS_PSS_PARAMS,
    CK_RSA_AES_KEY_WRAP_PARAMS,
    CK_ECDH1_DERIVE_PARAMS,
    CK_ECDH2_DERIVE_PARAMS,
    CK_ECMQV_DERIVE_PARAMS,
    CK_ECDH_AES_KEY_WRAP_PARAMS,
    CK_EDDSA_PARAMS,
    CK_XEDDSA_PARAMS,
    CK_X9_42_DH1_DERIVE_PARAMS,
    CK_X9_42_DH2_DERIVE_PARAMS,
    CK_X9_42_MQV_DERIVE_PARAMS,
    CK_KEA_DERIVE_PARAMS,
    CK_RC2_CBC_PARAMS,
    CK_RC2_MAC_GENERAL_PARAMS,
    CK_RC5_PARAMS,
    CK_RC5_CBC_PARAMS,
    CK_RC5_MAC_GENERAL_PARAMS,
    CK_DES_CBC_ENCRYPT_DATA_PARAMS,
    CK_AES_CBC_ENCRYPT_DATA_PARAMS,
    CK_CAMELLIA_CBC_ENCRYPT_DATA_PARAMS,
    CK_ARIA_CBC_ENCRYPT_DATA_PARAMS,
    CK_SEED_CBC_ENCRYPT_DATA_PARAMS,
    CK_AES_CTR_PARAMS,
    CK_CAMELLIA_CTR_PARAMS,
    CK_GCM_PARAMS,
    CK_AES_GCM_PARAMS,
    CK_GCM_MESSAGE_PARAMS,
    CK_GCM_WRAP_PARAMS,
    CK_CCM_PARAMS,
    CK_AES_CCM_PARAMS,
    CK_CCM_MESSAGE_PARAMS,
    CK_CCM_WRAP_PARAMS,
    CK_CHACHA20_PARAMS,
    CK_SALSA20_PARAMS,
    CK_SALSA20_CHACHA20_POLY1305_PARAMS,
    CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS,
    CK_KEY_WRAP_SET_OAEP_PARAMS,
    CK_KEY_DERIVATION_STRING_DATA,
    CK_SKIPJACK_PRIVATE_WRAP_PARAMS,
    CK_SKIPJACK_RELAYX_PARAMS,
    CK_PBE_PARAMS,
    CK_PKCS5_PBKD2_PARAMS,
    CK_PKCS5_PBKD2_PARAMS2,
    CK_OTP_PARAM,
    CK_OTP_PARAMS,
    CK_OTP_SIGNATURE_INFO,
    CK_KIP_PARAMS,
    CK_SSL3_RANDOM_DATA,
    CK_SSL3_MASTER_KEY_DERIVE_PARAMS,
    CK_SSL3_KEY_MAT_OUT,
    CK_SSL3_KEY_MAT_PARAMS,
    CK_TLS_PRF_PARAMS,
    CK_TLS12_MASTER_KEY_DERIVE_PARAMS,
    CK_TLS12_KEY_MAT_PARAMS,
    CK_TLS_KDF_PARAMS,
    CK_TLS_MAC_PARAMS,
    CK_TLS12_EXTENDED_MASTER_KEY_DERIVE_PARAMS,
    CK_WTLS_RANDOM_DATA,
    CK_WTLS_MASTER_KEY_DERIVE_PARAMS,
    CK_WTLS_PRF_PARAMS,
    CK_WTLS_KEY_MAT_OUT,
    CK_WTLS_KEY_MAT_PARAMS,
    CK_CMS_SIG_PARAMS,
    CK_DSA_PARAMETER_GEN_PARAM,
    CK_GOSTR3410_DERIVE_PARAMS,
    CK_GOSTR3410_KEY_WRAP_PARAMS,
    CK_PRF_DATA_PARAM,
    CK_SP800_108_COUNTER_FORMAT,
    CK_SP800_108_DKM_LENGTH_FORMAT,
    CK_SP800_108_KDF_PARAMS,
    CK_SP800_108_FEEDBACK_KDF_PARAMS,
    CK_HKDF_PARAMS,
    CK_X3DH_INITIATE_PARAMS,
    CK_X3DH_RESPOND_PARAMS,
    CK_X2RATCHET_INITIALIZE_PARAMS,
    CK_X2RATCHET_RESPOND_PARAMS,
    CK_IKE2_PRF_PLUS_DERIVE_PARAMS,
    CK_IKE_PRF_DERIVE_PARAMS,
    CK_IKE1_PRF_DERIVE_PARAMS,
    CK_IKE1_EXTENDED_DERIVE_PARAMS,
    CK_SIGN_ADDITIONAL_CONTEXT,
    CK_HASH_SIGN_ADDITIONAL_CONTEXT,
];

const OFFSETS: &[(&str, &str, usize)] = offsets![
    CK_ATTRIBUTE.type => type_,
    CK_ATTRIBUTE.pValue,
    CK_ATTRIBUTE.ulValueLen,
    CK_MECHANISM.mechanism,
    CK_MECHANISM.pParameter,
    CK_MECHANISM.ulParameterLen,
    CK_GCM_PARAMS.pIv,
    CK_GCM_PARAMS.ulIvLen,
    CK_GCM_PARAMS.ulIvBits,
    CK_GCM_PARAMS.pAAD,
    CK_GCM_PARAMS.ulAADLen,
    CK_GCM_PARAMS.ulTagBits,
    CK_INFO.manufacturerID,
    CK_INFO.flags,
    CK_INFO.libraryDescription,
    CK_INFO.libraryVersion,
    CK_SLOT_INFO.flags,
    CK_SLOT_INFO.hardwareVersion,
    CK_TOKEN_INFO.serialNumber,
    CK_TOKEN_INFO.flags,
    CK_TOKEN_INFO.ulMaxPinLen,
    CK_TOKEN_INFO.hardwareVersion,
    CK_TOKEN_INFO.utcTime,
    CK_SESSION_INFO.state,
    CK_SESSION_INFO.ulDeviceError,
    CK_C_INITIALIZE_ARGS.flags,
    CK_C_INITIALIZE_ARGS.pReserved,
    CK_INTERFACE.pFunctionList,
    CK_INTERFACE.flags,
    CK_RSA_PKCS_OAEP_PARAMS.source,
    CK_RSA_PKCS_OAEP_PARAMS.ulSourceDataLen,
    CK_RSA_PKCS_PSS_PARAMS.sLen,
    CK_ECDH1_DERIVE_PARAMS.kdf,
    CK_ECDH1_DERIVE_PARAMS.pSharedData,
    CK_ECDH1_DERIVE_PARAMS.pPublicData,
    CK_EDDSA_PARAMS.ulContextDataLen,
    CK_EDDSA_PARAMS.pContextData,
    CK_AES_CTR_PARAMS.cb,
    CK_CCM_PARAMS.ulMACLen,
    CK_GCM_MESSAGE_PARAMS.ivGenerator,
    CK_GCM_MESSAGE_PARAMS.pTag,
    CK_PRF_DATA_PARAM.type => type_,
    CK_PRF_DATA_PARAM.ulValueLen,
    CK_SP800_108_COUNTER_FORMAT.ulWidthInBits,
    CK_SP800_108_DKM_LENGTH_FORMAT.bLittleEndian,
    CK_SP800_108_DKM_LENGTH_FORMAT.ulWidthInBits,
    CK_SP800_108_KDF_PARAMS.pDataParams,
    CK_SP800_108_KDF_PARAMS.pAdditionalDerivedKeys,
    CK_HKDF_PARAMS.prfHashMechanism,
    CK_HKDF_PARAMS.hSaltKey,
    CK_HKDF_PARAMS.ulInfoLen,
    CK_PKCS5_PBKD2_PARAMS2.ulPasswordLen,
    CK_TLS12_KEY_MAT_PARAMS.RandomInfo,
    CK_TLS12_KEY_MAT_PARAMS.prfHashMechanism,
    CK_IKE1_PRF_DERIVE_PARAMS.keyNumber,
    CK_ASYNC_DATA.hAdditionalObject,
    CK_SIGN_ADDITIONAL_CONTEXT.ulContextLen,
    CK_HASH_SIGN_ADDITIONAL_CONTEXT.hash,
];

const FUNCTIONS_2_X: &[(&str, &str, usize)] = functions![CK_FUNCTION_LIST:
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,
    C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN,
    C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,
    C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, C_DestroyObject,
    C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit, C_FindObjects,
    C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal,
    C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest,
    C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal,
    C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,
    C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate,
    C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey,
    C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus,
    C_CancelFunction, C_WaitForSlotEvent,
];

const FUNCTIONS_3_0: &[(&str, &str, usize)] = functions![CK_FUNCTION_LIST_3_0:
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,
    C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN,
    C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,
    C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, C_DestroyObject,
    C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit, C_FindObjects,
    C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal,
    C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest,
    C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal,
    C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,
    C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate,
    C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey,
    C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus,
    C_CancelFunction, C_WaitForSlotEvent,
    C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel, C_MessageEncryptInit,
    C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext, C_MessageEncryptFinal,
    C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext,
    C_MessageDecryptFinal, C_MessageSignInit, C_SignMessage, C_SignMessageBegin,
    C_SignMessageNext, C_MessageSignFinal, C_MessageVerifyInit, C_VerifyMessage,
    C_VerifyMessageBegin, C_VerifyMessageNext, C_MessageVerifyFinal,
];

const FUNCTIONS_3_2: &[(&str, &str, usize)] = functions![CK_FUNCTION_LIST_3_2:
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,
    C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN,
    C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,
    C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, C_DestroyObject,
    C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit, C_FindObjects,
    C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal,
    C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest,
    C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal,
    C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,
    C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate,
    C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey,
    C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus,
    C_CancelFunction, C_WaitForSlotEvent,
    C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel, C_MessageEncryptInit,
    C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext, C_MessageEncryptFinal,
    C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext,
    C_MessageDecryptFinal, C_MessageSignInit, C_SignMessage, C_SignMessageBegin,
    C_SignMessageNext, C_MessageSignFinal, C_MessageVerifyInit, C_VerifyMessage,
    C_VerifyMessageBegin, C_VerifyMessageNext, C_MessageVerifyFinal,
    C_EncapsulateKey, C_DecapsulateKey, C_VerifySignatureInit, C_VerifySignature,
    C_VerifySignatureUpdate, C_VerifySignatureFinal, C_GetSessionValidationFlags,
    C_AsyncComplete, C_AsyncGetID, C_AsyncJoin, C_WrapKeyAuthenticated,
    C_UnwrapKeyAuthenticated,
];

/// Compile-time checks inside the C program: -Werror turns a failed one into a
/// compile error (negative array size), so they hold for any compiler flags.
const STATIC_CHECKS: &str = r#"
#include <stddef.h>
#define HDR_ASSERT(name, cond) typedef char hdr_assert_##name[(cond) ? 1 : -1]
#define FN_COUNT(list) \
    ((sizeof(list) - offsetof(list, C_Initialize)) / sizeof(CK_C_Initialize))
HDR_ASSERT(fl_2_x_count, FN_COUNT(CK_FUNCTION_LIST) == 68);
HDR_ASSERT(fl_3_0_count, FN_COUNT(CK_FUNCTION_LIST_3_0) == 92);
HDR_ASSERT(fl_3_2_count, FN_COUNT(CK_FUNCTION_LIST_3_2) == 104);
HDR_ASSERT(fl_version_first, offsetof(CK_FUNCTION_LIST_3_2, version) == 0);
HDR_ASSERT(fl_3_0_extends_2_x, offsetof(CK_FUNCTION_LIST_3_0, C_WaitForSlotEvent)
           == offsetof(CK_FUNCTION_LIST, C_WaitForSlotEvent));
HDR_ASSERT(fl_3_2_extends_3_0, offsetof(CK_FUNCTION_LIST_3_2, C_MessageVerifyFinal)
           == offsetof(CK_FUNCTION_LIST_3_0, C_MessageVerifyFinal));
HDR_ASSERT(mechanism_size, sizeof(CK_MECHANISM) == 3 * sizeof(CK_ULONG));
HDR_ASSERT(attribute_size, sizeof(CK_ATTRIBUTE) == 3 * sizeof(CK_ULONG));
HDR_ASSERT(gcm_params_size, sizeof(CK_GCM_PARAMS) == 6 * sizeof(CK_ULONG));
HDR_ASSERT(gcm_tag_bits_last, offsetof(CK_GCM_PARAMS, ulTagBits) == 5 * sizeof(CK_ULONG));
HDR_ASSERT(ulong_is_long, sizeof(CK_ULONG) == sizeof(unsigned long));
HDR_ASSERT(cloudhsm_kdf_params_size,
           sizeof(CK_CLOUDHSM_SP800_108_KDF_PARAMS) == 3 * sizeof(CK_ULONG));
HDR_ASSERT(cloudhsm_counter_format_size,
           sizeof(CK_CLOUDHSM_SP800_108_COUNTER_FORMAT) == sizeof(CK_ULONG));
HDR_ASSERT(cloudhsm_dkm_format_size,
           sizeof(CK_CLOUDHSM_SP800_108_DKM_LENGTH_FORMAT) == 2 * sizeof(CK_ULONG));
"#;

fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("headers-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compile `source` with the strict flags plus `extra`; `Ok(exe)` or `Err(stderr)`.
fn compile(name: &str, source: &str, extra: &[&str]) -> Result<PathBuf, String> {
    let dir = work_dir(name);
    let c_file = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&c_file, source).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let out = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-I"])
        .arg(include_dir())
        .args(extra)
        .arg(&c_file)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    if out.status.success() {
        Ok(exe)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Run a compiled program and collect its `key value` lines.
fn run(exe: &Path) -> BTreeMap<String, u64> {
    let out = Command::new(exe).output().unwrap();
    assert!(out.status.success(), "{} failed: {:?}", exe.display(), out);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (k, v) = line.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

/// Every `(type, field, offset)` to compare: struct fields and function lists.
fn all_offsets() -> impl Iterator<Item = &'static (&'static str, &'static str, usize)> {
    OFFSETS
        .iter()
        .chain(FUNCTIONS_2_X)
        .chain(FUNCTIONS_3_0)
        .chain(FUNCTIONS_3_2)
}

/// The C program printing every value the test compares.
fn probe_source() -> String {
    let mut s = String::from(
        "#include \"pkcs11.h\"\n#include \"cloudhsm_pkcs11_vendor_defs.h\"\n#include <stdio.h>\n",
    );
    s.push_str(STATIC_CHECKS);
    s.push_str("\nint main(void) {\n");
    let mut line = |key: String, expr: String| {
        s.push_str(&format!(
            "    printf(\"%s %lu\\n\", \"{key}\", (unsigned long)({expr}));\n"
        ));
    };
    for (name, _) in CONSTANTS.iter().chain(VENDOR) {
        line(format!("const {name}"), (*name).to_owned());
    }
    for (ty, _) in SIZES {
        line(format!("size {ty}"), format!("sizeof({ty})"));
    }
    for (ty, field, _) in all_offsets() {
        line(
            format!("offset {ty}.{field}"),
            format!("offsetof({ty}, {field})"),
        );
    }
    s.push_str("    return 0;\n}\n");
    s
}

#[test]
fn headers_match_cryptoki_sys_and_cloudhsm_values() {
    let exe = compile("probe", &probe_source(), &[]).unwrap_or_else(|e| {
        panic!("the headers do not compile cleanly with -std=c99 -Wall -Werror:\n{e}")
    });
    let got = run(&exe);

    let mut expected: Vec<(String, u64)> = Vec::new();
    for (name, value) in CONSTANTS.iter().chain(VENDOR) {
        expected.push((format!("const {name}"), *value));
    }
    for (ty, size) in SIZES {
        expected.push((format!("size {ty}"), *size as u64));
    }
    for (ty, field, off) in all_offsets() {
        expected.push((format!("offset {ty}.{field}"), *off as u64));
    }

    let mismatches: Vec<String> = expected
        .iter()
        .filter(|(key, want)| got.get(key) != Some(want))
        .map(|(key, want)| {
            let seen = got
                .get(key)
                .map_or("nothing".to_owned(), |v| format!("{v:#x}"));
            format!("{key}: the C program says {seen}, expected {want:#x}")
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "header values differ:\n{}",
        mismatches.join("\n")
    );
    assert_eq!(got.len(), expected.len(), "every probe printed once");

    // A few facts spelled out, so that a reader sees what is being checked.
    assert_eq!(got["const CKM_AES_GCM"], 0x1087);
    assert_eq!(got["const CKA_ALLOWED_MECHANISMS"], 0x4000_0600);
    assert_eq!(got["const CKR_PIN_LOCKED"], 0xA4);
    assert_eq!(got["const CKF_USER_PIN_LOCKED"], 0x0004_0000);
    assert_eq!(got["const CKM_ML_DSA"], 0x1D);
    assert_eq!(
        got["size CK_FUNCTION_LIST_3_2"],
        105 * size_of::<usize>() as u64
    );
    assert_eq!(
        got["offset CK_FUNCTION_LIST_3_2.C_UnwrapKeyAuthenticated"],
        104 * size_of::<usize>() as u64
    );
}

/// Code written for AWS CloudHSM SDK 5 (its KDF structures under the PKCS #11
/// 3.0 names) compiles with CLOUDHSM_PKCS11_SDK5_KDF, and gets CloudHSM's
/// layouts and mechanism number.
#[test]
fn cloudhsm_sdk5_sample_style_code_compiles() {
    let source = r#"
#include "cloudhsm_pkcs11_vendor_defs.h"
#include <stdio.h>
int main(void) {
    CK_SP800_108_COUNTER_FORMAT counter;
    CK_SP800_108_DKM_LENGTH_FORMAT dkm;
    CK_BYTE label[] = {1, 2, 3}, context[] = {4, 5};
    CK_PRF_DATA_PARAM data[4];
    CK_SP800_108_KDF_PARAMS kdf;
    CK_MECHANISM mech;
    CK_CLOUDHSM_ML_DSA_PARAMETER_SET_TYPE set = CKP_CLOUDHSM_ML_DSA_65;
    CK_ATTRIBUTE tmpl[1];
    CK_EDDSA_PARAMS ph = {CK_TRUE, 0, NULL_PTR};
    CK_ECDH1_DERIVE_PARAMS ecdh = {CKD_CLOUDHSM_X963_SHA256_KDF, 0, NULL_PTR, 0, NULL_PTR};
    counter.ulWidthInBits = 32;
    dkm.dkmLengthMethod = SP800_108_DKM_LENGTH_SUM_OF_KEYS;
    dkm.ulWidthInBits = 32;
    data[0].type = SP800_108_COUNTER_FORMAT; data[0].pValue = &counter; data[0].ulValueLen = sizeof(counter);
    data[1].type = SP800_108_DKM_FORMAT;     data[1].pValue = &dkm;     data[1].ulValueLen = sizeof(dkm);
    data[2].type = SP800_108_PRF_LABEL;      data[2].pValue = label;    data[2].ulValueLen = sizeof(label);
    data[3].type = SP800_108_PRF_CONTEXT;    data[3].pValue = context;  data[3].ulValueLen = sizeof(context);
    kdf.prftype = CKM_SHA512_HMAC;
    kdf.pDataParams = data;
    kdf.ulNumberOfDataParams = 4;
    mech.mechanism = CKM_SP800_108_COUNTER_KDF;
    mech.pParameter = &kdf;
    mech.ulParameterLen = sizeof(kdf);
    tmpl[0].type = CKA_CLOUDHSM_PARAMETER_SET; tmpl[0].pValue = &set; tmpl[0].ulValueLen = sizeof(set);
    printf("mechanism %lu\n", (unsigned long)mech.mechanism);
    printf("kdf_params %lu\n", (unsigned long)mech.ulParameterLen);
    printf("counter_format %lu\n", (unsigned long)sizeof(counter));
    printf("dkm_format %lu\n", (unsigned long)sizeof(dkm));
    printf("eddsa %lu\n", (unsigned long)(CKM_CLOUDHSM_EDDSA + ph.phFlag - 1));
    printf("ecdh_kdf %lu\n", (unsigned long)ecdh.kdf);
    printf("template %lu\n", (unsigned long)tmpl[0].type);
    return 0;
}
"#;
    let exe = compile("sdk5", source, &["-DCLOUDHSM_PKCS11_SDK5_KDF"])
        .unwrap_or_else(|e| panic!("CloudHSM SDK 5 style code does not compile:\n{e}"));
    let got = run(&exe);
    let word = size_of::<ck::CK_ULONG>() as u64;
    assert_eq!(got["mechanism"], 0x8000_0001);
    assert_eq!(got["kdf_params"], 3 * word);
    assert_eq!(got["counter_format"], word);
    assert_eq!(got["dkm_format"], 2 * word);
    assert_eq!(got["eddsa"], 0x8000_1057);
    assert_eq!(got["ecdh_kdf"], 0x8000_0006);
    assert_eq!(got["template"], 0x8000_061D);

    // Without the switch the same code must not compile: the PKCS #11 3.0
    // structure has `prfType`, not CloudHSM's `prftype`.
    assert!(compile("sdk5-off", source, &[]).is_err());
}

/// pkcs11t.h alone is refused with a message (it needs pkcs11.h's macros),
/// and the switch CK_PKCS11_NO_PROTOTYPES leaves the function declarations out.
#[test]
fn header_entry_points() {
    let err = compile(
        "t-alone",
        "#include \"pkcs11t.h\"\nint main(void) { return 0; }\n",
        &[],
    )
    .expect_err("pkcs11t.h on its own must not compile");
    assert!(err.contains("pkcs11.h"), "unhelpful error: {err}");

    let source = "#include \"pkcs11.h\"\nstatic CK_C_Initialize p;\n\
                  int main(void) { return p == NULL_PTR ? 0 : 1; }\n";
    compile("no-protos", source, &["-DCK_PKCS11_NO_PROTOTYPES"]).unwrap();
    let uses_prototype = "#include \"pkcs11.h\"\n\
                          int main(void) { CK_C_Initialize p = C_Initialize; return p == NULL_PTR; }\n";
    let err = compile(
        "no-protos-use",
        uses_prototype,
        &["-DCK_PKCS11_NO_PROTOTYPES"],
    )
    .expect_err("C_Initialize must not be declared");
    assert!(err.contains("C_Initialize"), "unexpected error: {err}");
}
