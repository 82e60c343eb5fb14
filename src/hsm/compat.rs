//! What AWS CloudHSM Client SDK 5 knows of key attributes, for a slot in strict CloudHSM mode
//! (`compat = "cloudhsm"`). The default mode follows the PKCS#11 specification and never
//! consults this table.
//!
//! Source: "PKCS #11 library attributes tables for AWS CloudHSM Client SDK 5"
//! (<https://docs.aws.amazon.com/cloudhsm/latest/userguide/pkcs11-attributes-interpreting.html>)
//! and "Interpreting PKCS #11 library attribute errors"
//! (<https://docs.aws.amazon.com/cloudhsm/latest/userguide/attr-errors.html>): a template with
//! a spec-valid attribute CloudHSM does not support fails with CKR_TEMPLATE_INCONSISTENT, and
//! reading one fails with CKR_ATTRIBUTE_TYPE_INVALID. CKA_SIGN_RECOVER and CKA_VERIFY_RECOVER
//! are listed there as unsupported for every key type.

use cryptoki_sys::*;

use super::api::AttrType;

/// The attributes a CloudHSM key object has (every key type; the per-type columns of AWS's
/// table only say which of these a given key type carries, which the object schema already
/// decides).
const CLOUDHSM_KEY_ATTRIBUTES: &[AttrType] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_VALUE,
    CKA_KEY_TYPE,
    CKA_ID,
    CKA_SENSITIVE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_DERIVE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
    CKA_VALUE_LEN,
    CKA_EXTRACTABLE,
    CKA_LOCAL,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_MODIFIABLE,
    CKA_DESTROYABLE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_CHECK_VALUE,
    CKA_TRUSTED,
    CKA_WRAP_WITH_TRUSTED,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
];

/// Does a CloudHSM key object have this attribute?
pub fn cloudhsm_key_attribute(ty: AttrType) -> bool {
    CLOUDHSM_KEY_ATTRIBUTES.contains(&ty)
}

/// Is `class` one of the key classes the table above describes?
pub fn is_key_class(class: u64) -> bool {
    matches!(class, CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        assert!(cloudhsm_key_attribute(CKA_LABEL));
        assert!(cloudhsm_key_attribute(CKA_WRAP_WITH_TRUSTED));
        for lacking in [
            CKA_SIGN_RECOVER,
            CKA_VERIFY_RECOVER,
            CKA_START_DATE,
            CKA_END_DATE,
            CKA_SUBJECT,
            CKA_ALLOWED_MECHANISMS,
            CKA_KEY_GEN_MECHANISM,
            CKA_ALWAYS_AUTHENTICATE,
            CKA_PUBLIC_KEY_INFO,
            CKA_COPYABLE,
            CKA_UNIQUE_ID,
        ] {
            assert!(!cloudhsm_key_attribute(lacking), "{lacking:#x}");
        }
    }
}
