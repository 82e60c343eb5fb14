//! CloudHSM's vendor constants (the values of `include/cloudhsm_pkcs11_vendor_defs.h`; see
//! include/README.md for which are published by AWS and which are chosen).

/// CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD = CKM_VENDOR_DEFINED | CKM_AES_KEY_WRAP (RFC 3394).
pub const CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD: u64 = 0x8000_2109;
/// CKD_CLOUDHSM_X963_SHA{1,224,256,384,512}_KDF (ANSI X9.63, as the standard CKD_SHA*_KDF).
pub const CKD_CLOUDHSM_X963_SHA1_KDF: u64 = 0x8000_0002;
pub const CKD_CLOUDHSM_X963_SHA224_KDF: u64 = 0x8000_0005;
pub const CKD_CLOUDHSM_X963_SHA256_KDF: u64 = 0x8000_0006;
pub const CKD_CLOUDHSM_X963_SHA384_KDF: u64 = 0x8000_0007;
pub const CKD_CLOUDHSM_X963_SHA512_KDF: u64 = 0x8000_0008;
