//! Attribute metadata: one sorted table, built from one macro, of every attribute type the
//! token knows, with its value kind and its policy flags (Kryoptic's `OAFlags` habit).
//!
//! The kind tells `ffi` how to decode a CK_ATTRIBUTE value; the flags tell `hsm::objects`
//! what a template may do with it. Which attributes an object of a given class carries is
//! decided in `hsm::objects`; this table is about the attribute itself.

use cryptoki_sys::*;

use super::api::AttrType;

/// How an attribute's value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    Bool,
    Ulong,
    Bytes,
    /// CK_DATE: 8 ASCII digits, or empty.
    Date,
    Template,
    Mechanisms,
}

/// Policy flags.
pub mod flag {
    /// Computed by the token; no template may set it.
    pub const READ_ONLY: u32 = 1;
    /// May be given when an object is created, never changed afterwards.
    pub const CREATE_ONLY: u32 = 1 << 1;
    /// May only change from true to false (CKA_EXTRACTABLE, CKA_COPYABLE, CKA_MODIFIABLE...).
    pub const TO_FALSE_ONLY: u32 = 1 << 2;
    /// May only change from false to true (CKA_SENSITIVE, CKA_WRAP_WITH_TRUSTED).
    pub const TO_TRUE_ONLY: u32 = 1 << 3;
    /// Only an admin (CKU_SO) may set it to true (CKA_TRUSTED).
    pub const SO_ONLY: u32 = 1 << 4;
    /// Key material: unreadable when the object is sensitive or unextractable.
    pub const SECRET: u32 = 1 << 5;
}

/// Metadata of one attribute type.
#[derive(Debug, Clone, Copy)]
pub struct AttrMeta {
    pub ty: AttrType,
    pub name: &'static str,
    pub kind: AttrKind,
    pub flags: u32,
}

macro_rules! attr_table {
    ($( $ty:ident : $kind:ident $(| $flag:ident)* ;)*) => {
        /// Every known attribute, sorted by type number (checked by a test).
        pub static TABLE: &[AttrMeta] = &[
            $( AttrMeta {
                ty: $ty,
                name: stringify!($ty),
                kind: AttrKind::$kind,
                flags: 0 $(| flag::$flag)*,
            }, )*
        ];
    };
}

attr_table! {
    CKA_CLASS: Ulong | CREATE_ONLY;
    CKA_TOKEN: Bool | CREATE_ONLY;
    CKA_PRIVATE: Bool | CREATE_ONLY;
    CKA_LABEL: Bytes;
    CKA_UNIQUE_ID: Bytes | READ_ONLY;
    CKA_APPLICATION: Bytes;
    CKA_VALUE: Bytes | CREATE_ONLY | SECRET;
    CKA_OBJECT_ID: Bytes;
    CKA_CERTIFICATE_TYPE: Ulong | CREATE_ONLY;
    CKA_ISSUER: Bytes;
    CKA_SERIAL_NUMBER: Bytes;
    CKA_AC_ISSUER: Bytes;
    CKA_OWNER: Bytes;
    CKA_ATTR_TYPES: Bytes;
    CKA_TRUSTED: Bool | SO_ONLY;
    CKA_CERTIFICATE_CATEGORY: Ulong;
    CKA_JAVA_MIDP_SECURITY_DOMAIN: Ulong;
    CKA_URL: Bytes;
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY: Bytes;
    CKA_HASH_OF_ISSUER_PUBLIC_KEY: Bytes;
    CKA_NAME_HASH_ALGORITHM: Ulong;
    CKA_CHECK_VALUE: Bytes | READ_ONLY;
    CKA_KEY_TYPE: Ulong | CREATE_ONLY;
    CKA_SUBJECT: Bytes;
    CKA_ID: Bytes;
    CKA_SENSITIVE: Bool | TO_TRUE_ONLY;
    CKA_ENCRYPT: Bool;
    CKA_DECRYPT: Bool;
    CKA_WRAP: Bool;
    CKA_UNWRAP: Bool;
    CKA_SIGN: Bool;
    CKA_SIGN_RECOVER: Bool;
    CKA_VERIFY: Bool;
    CKA_VERIFY_RECOVER: Bool;
    CKA_DERIVE: Bool;
    CKA_START_DATE: Date;
    CKA_END_DATE: Date;
    CKA_MODULUS: Bytes | CREATE_ONLY;
    CKA_MODULUS_BITS: Ulong | CREATE_ONLY;
    CKA_PUBLIC_EXPONENT: Bytes | CREATE_ONLY;
    CKA_PRIVATE_EXPONENT: Bytes | CREATE_ONLY | SECRET;
    CKA_PRIME_1: Bytes | CREATE_ONLY | SECRET;
    CKA_PRIME_2: Bytes | CREATE_ONLY | SECRET;
    CKA_EXPONENT_1: Bytes | CREATE_ONLY | SECRET;
    CKA_EXPONENT_2: Bytes | CREATE_ONLY | SECRET;
    CKA_COEFFICIENT: Bytes | CREATE_ONLY | SECRET;
    CKA_PUBLIC_KEY_INFO: Bytes | CREATE_ONLY;
    CKA_PRIME: Bytes | CREATE_ONLY;
    CKA_SUBPRIME: Bytes | CREATE_ONLY;
    CKA_BASE: Bytes | CREATE_ONLY;
    CKA_PRIME_BITS: Ulong | CREATE_ONLY;
    CKA_SUBPRIME_BITS: Ulong | CREATE_ONLY;
    CKA_VALUE_BITS: Ulong | CREATE_ONLY;
    CKA_VALUE_LEN: Ulong | CREATE_ONLY;
    CKA_EXTRACTABLE: Bool | TO_FALSE_ONLY;
    CKA_LOCAL: Bool | READ_ONLY;
    CKA_NEVER_EXTRACTABLE: Bool | READ_ONLY;
    CKA_ALWAYS_SENSITIVE: Bool | READ_ONLY;
    CKA_KEY_GEN_MECHANISM: Ulong | READ_ONLY;
    CKA_MODIFIABLE: Bool | CREATE_ONLY;
    CKA_COPYABLE: Bool | TO_FALSE_ONLY;
    CKA_DESTROYABLE: Bool | TO_FALSE_ONLY;
    CKA_EC_PARAMS: Bytes | CREATE_ONLY;
    CKA_EC_POINT: Bytes | CREATE_ONLY;
    CKA_ALWAYS_AUTHENTICATE: Bool | CREATE_ONLY;
    CKA_WRAP_WITH_TRUSTED: Bool | TO_TRUE_ONLY;
    CKA_OTP_FORMAT: Ulong;
    CKA_HW_FEATURE_TYPE: Ulong | READ_ONLY;
    CKA_PROFILE_ID: Ulong;
    CKA_PARAMETER_SET: Ulong | CREATE_ONLY;
    CKA_ENCAPSULATE: Bool;
    CKA_DECAPSULATE: Bool;
    CKA_SEED: Bytes | CREATE_ONLY | SECRET;
    CKA_WRAP_TEMPLATE: Template | CREATE_ONLY;
    CKA_UNWRAP_TEMPLATE: Template | CREATE_ONLY;
    CKA_DERIVE_TEMPLATE: Template | CREATE_ONLY;
    CKA_ALLOWED_MECHANISMS: Mechanisms | CREATE_ONLY;
}

/// Metadata of an attribute type, or None for a type the token does not know.
pub fn meta(ty: AttrType) -> Option<&'static AttrMeta> {
    TABLE
        .binary_search_by_key(&ty, |m| m.ty)
        .ok()
        .map(|i| &TABLE[i])
}

/// How to decode a value of this type. Unknown types decode as bytes (the core then rejects
/// them with CKR_ATTRIBUTE_TYPE_INVALID where they are not allowed).
pub fn kind(ty: AttrType) -> AttrKind {
    meta(ty).map_or(AttrKind::Bytes, |m| m.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in TABLE.windows(2) {
            assert!(
                w[0].ty < w[1].ty,
                "{} must sort before {}",
                w[0].name,
                w[1].name
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(kind(CKA_TOKEN), AttrKind::Bool);
        assert_eq!(kind(CKA_MODULUS_BITS), AttrKind::Ulong);
        assert_eq!(kind(CKA_WRAP_TEMPLATE), AttrKind::Template);
        assert_eq!(kind(0x8000_1234), AttrKind::Bytes);
        assert!(meta(CKA_LOCAL).is_some_and(|m| m.flags & flag::READ_ONLY != 0));
    }
}
