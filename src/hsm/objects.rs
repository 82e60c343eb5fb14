//! Objects and the attribute policy: which attributes each class and key type carries, their
//! defaults, which a template may set at creation, which may change later and how, and which
//! are computed. Everything is checked before anything changes (a rejected template leaves
//! no partial state).

use std::collections::BTreeMap;

use cryptoki_sys::*;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::api::{AttrRead, AttrType, AttrValue, Attribute, ObjectId};
use super::attrs::{self, flag, AttrKind};
use crate::error::{Error, Result};

/// An object: its attributes (key material included) and who owns it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Object {
    pub attrs: BTreeMap<AttrType, AttrValue>,
    /// The crypto user who created it (None: made before any login, e.g. a public certificate
    /// written in a public session).
    pub owner: Option<String>,
    /// Crypto users the owner shared it with.
    pub shared: Vec<String>,
}

impl Drop for Object {
    fn drop(&mut self) {
        self.attrs.values_mut().for_each(Zeroize::zeroize);
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("class", &self.ulong(CKA_CLASS))
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl Object {
    pub fn bool(&self, ty: AttrType) -> bool {
        matches!(self.attrs.get(&ty), Some(AttrValue::Bool(true)))
    }
    pub fn ulong(&self, ty: AttrType) -> Option<u64> {
        match self.attrs.get(&ty) {
            Some(AttrValue::Ulong(v)) => Some(*v),
            _ => None,
        }
    }
    pub fn bytes(&self, ty: AttrType) -> Option<&[u8]> {
        match self.attrs.get(&ty) {
            Some(AttrValue::Bytes(v)) => Some(v),
            _ => None,
        }
    }
    pub fn class(&self) -> u64 {
        self.ulong(CKA_CLASS).unwrap_or(CK_UNAVAILABLE_INFORMATION)
    }
    pub fn key_type(&self) -> Option<u64> {
        self.ulong(CKA_KEY_TYPE)
    }
    pub fn is_token(&self) -> bool {
        self.bool(CKA_TOKEN)
    }
    pub fn is_private(&self) -> bool {
        self.bool(CKA_PRIVATE)
    }
    /// Whether only its owner (and sharees) may see it: private objects, and every secret or
    /// private key whatever its CKA_PRIVATE says (a token key belongs to the crypto user who
    /// made it). Such objects are sealed under the domain key.
    pub fn owner_only(&self) -> bool {
        self.is_private() || matches!(self.class(), CKO_SECRET_KEY | CKO_PRIVATE_KEY)
    }
    pub fn is_key(&self) -> bool {
        matches!(
            self.class(),
            CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY
        )
    }
    pub fn label(&self) -> &[u8] {
        self.bytes(CKA_LABEL).unwrap_or(&[])
    }

    /// Whether every attribute of `template` is present with an equal value. Hidden key
    /// material never matches, so a search cannot test guesses of a sensitive value.
    pub fn matches(&self, template: &[Attribute]) -> bool {
        template.iter().all(|a| match self.read(a.ty) {
            AttrRead::Value(v) => v == a.value,
            AttrRead::Sensitive | AttrRead::Invalid => false,
        })
    }

    /// C_GetAttributeValue, one attribute at a time.
    pub fn read(&self, ty: AttrType) -> AttrRead {
        let Some(v) = self.attrs.get(&ty) else {
            return AttrRead::Invalid;
        };
        let secret = attrs::meta(ty).is_some_and(|m| m.flags & flag::SECRET != 0);
        let hidden = secret
            && matches!(self.class(), CKO_SECRET_KEY | CKO_PRIVATE_KEY)
            && (self.bool(CKA_SENSITIVE) || !self.bool(CKA_EXTRACTABLE));
        if hidden {
            AttrRead::Sensitive
        } else {
            AttrRead::Value(v.clone())
        }
    }

    /// An estimate of the object's size in bytes (C_GetObjectSize).
    pub fn size(&self) -> u64 {
        let mut n = 0usize;
        for v in self.attrs.values() {
            n += 16
                + match v {
                    AttrValue::Bool(_) => 1,
                    AttrValue::Ulong(_) => 8,
                    AttrValue::Bytes(b) => b.len(),
                    AttrValue::Template(t) => t.len() * 24,
                    AttrValue::Mechanisms(m) => m.len() * 8,
                };
        }
        n as u64
    }
}

/// How an object comes to be; decides computed attributes and what a template may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// C_CreateObject: key material comes from the template.
    Create,
    /// C_GenerateKey / C_GenerateKeyPair with the given mechanism: material made here.
    Generate(u64),
    /// C_UnwrapKey / C_DeriveKey: material made here from other keys.
    Unwrap,
}

/// The attribute set of a class/key type: (type, default). `None` default = absent unless
/// given (or computed).
fn schema(class: u64, key_type: Option<u64>) -> Result<Vec<(AttrType, Option<AttrValue>)>> {
    use AttrValue::{Bool, Bytes};
    let t = || Some(Bool(true));
    let f = || Some(Bool(false));
    let empty = || Some(Bytes(Vec::new()));
    let mut s: Vec<(AttrType, Option<AttrValue>)> = vec![
        (CKA_CLASS, None),
        (CKA_TOKEN, f()),
        (CKA_PRIVATE, None), // class-dependent, set below
        (CKA_MODIFIABLE, t()),
        (CKA_COPYABLE, t()),
        (CKA_DESTROYABLE, t()),
        (CKA_LABEL, empty()),
        (CKA_UNIQUE_ID, None),
    ];
    let private_default = matches!(class, CKO_PRIVATE_KEY | CKO_SECRET_KEY | CKO_DATA);
    s[2].1 = Some(Bool(private_default));
    let key_common = |s: &mut Vec<(AttrType, Option<AttrValue>)>| {
        s.extend([
            (CKA_KEY_TYPE, None),
            (CKA_ID, empty()),
            (CKA_START_DATE, empty()),
            (CKA_END_DATE, empty()),
            (CKA_DERIVE, t()),
            (CKA_LOCAL, f()),
            (
                CKA_KEY_GEN_MECHANISM,
                Some(AttrValue::Ulong(CK_UNAVAILABLE_INFORMATION)),
            ),
            (
                CKA_ALLOWED_MECHANISMS,
                Some(AttrValue::Mechanisms(Vec::new())),
            ),
        ]);
    };
    match class {
        CKO_DATA => s.extend([
            (CKA_APPLICATION, empty()),
            (CKA_OBJECT_ID, empty()),
            (CKA_VALUE, empty()),
        ]),
        CKO_CERTIFICATE => {
            s.extend([
                (CKA_CERTIFICATE_TYPE, None),
                (CKA_TRUSTED, f()),
                (CKA_CERTIFICATE_CATEGORY, Some(AttrValue::Ulong(0))),
                (CKA_CHECK_VALUE, None),
                (CKA_START_DATE, empty()),
                (CKA_END_DATE, empty()),
                (CKA_PUBLIC_KEY_INFO, empty()),
                (CKA_SUBJECT, None),
                (CKA_ID, empty()),
                (CKA_ISSUER, empty()),
                (CKA_SERIAL_NUMBER, empty()),
                (CKA_VALUE, None),
                (CKA_URL, empty()),
                (CKA_HASH_OF_SUBJECT_PUBLIC_KEY, empty()),
                (CKA_HASH_OF_ISSUER_PUBLIC_KEY, empty()),
                (CKA_JAVA_MIDP_SECURITY_DOMAIN, Some(AttrValue::Ulong(0))),
                (CKA_NAME_HASH_ALGORITHM, Some(AttrValue::Ulong(CKM_SHA_1))),
            ]);
        }
        CKO_PUBLIC_KEY => {
            key_common(&mut s);
            s.extend([
                (CKA_SUBJECT, empty()),
                (CKA_ENCRYPT, t()),
                (CKA_VERIFY, t()),
                (CKA_VERIFY_RECOVER, t()),
                (CKA_WRAP, t()),
                (CKA_TRUSTED, f()),
                (CKA_WRAP_TEMPLATE, Some(AttrValue::Template(Vec::new()))),
                (CKA_PUBLIC_KEY_INFO, None),
            ]);
        }
        CKO_PRIVATE_KEY => {
            key_common(&mut s);
            s.extend([
                (CKA_SUBJECT, empty()),
                (CKA_SENSITIVE, t()),
                (CKA_DECRYPT, t()),
                (CKA_SIGN, t()),
                (CKA_SIGN_RECOVER, t()),
                (CKA_UNWRAP, t()),
                (CKA_EXTRACTABLE, t()),
                (CKA_ALWAYS_SENSITIVE, f()),
                (CKA_NEVER_EXTRACTABLE, f()),
                (CKA_WRAP_WITH_TRUSTED, f()),
                (CKA_UNWRAP_TEMPLATE, Some(AttrValue::Template(Vec::new()))),
                (CKA_DERIVE_TEMPLATE, Some(AttrValue::Template(Vec::new()))),
                (CKA_ALWAYS_AUTHENTICATE, f()),
                (CKA_PUBLIC_KEY_INFO, None),
            ]);
        }
        CKO_SECRET_KEY => {
            key_common(&mut s);
            s.extend([
                (CKA_SENSITIVE, t()),
                (CKA_ENCRYPT, t()),
                (CKA_DECRYPT, t()),
                (CKA_SIGN, t()),
                (CKA_VERIFY, t()),
                (CKA_WRAP, t()),
                (CKA_UNWRAP, t()),
                (CKA_EXTRACTABLE, t()),
                (CKA_ALWAYS_SENSITIVE, f()),
                (CKA_NEVER_EXTRACTABLE, f()),
                (CKA_CHECK_VALUE, None),
                (CKA_WRAP_WITH_TRUSTED, f()),
                (CKA_TRUSTED, f()),
                (CKA_WRAP_TEMPLATE, Some(AttrValue::Template(Vec::new()))),
                (CKA_UNWRAP_TEMPLATE, Some(AttrValue::Template(Vec::new()))),
                (CKA_DERIVE_TEMPLATE, Some(AttrValue::Template(Vec::new()))),
            ]);
        }
        CKO_DOMAIN_PARAMETERS => s.extend([(CKA_KEY_TYPE, None), (CKA_LOCAL, Some(Bool(false)))]),
        _ => return Err(Error::TemplateInconsistent),
    }
    match (class, key_type) {
        (CKO_PUBLIC_KEY, Some(CKK_RSA)) => s.extend([
            (CKA_MODULUS, None),
            (CKA_MODULUS_BITS, None),
            (CKA_PUBLIC_EXPONENT, None),
        ]),
        (CKO_PRIVATE_KEY, Some(CKK_RSA)) => s.extend([
            (CKA_MODULUS, None),
            (CKA_PUBLIC_EXPONENT, None),
            (CKA_PRIVATE_EXPONENT, None),
            (CKA_PRIME_1, None),
            (CKA_PRIME_2, None),
            (CKA_EXPONENT_1, None),
            (CKA_EXPONENT_2, None),
            (CKA_COEFFICIENT, None),
        ]),
        (CKO_PUBLIC_KEY, Some(CKK_EC)) => s.extend([(CKA_EC_PARAMS, None), (CKA_EC_POINT, None)]),
        (CKO_PRIVATE_KEY, Some(CKK_EC)) => s.extend([(CKA_EC_PARAMS, None), (CKA_VALUE, None)]),
        (CKO_PUBLIC_KEY, Some(CKK_EC_EDWARDS)) => {
            s.extend([(CKA_EC_PARAMS, None), (CKA_EC_POINT, None)])
        }
        (CKO_PRIVATE_KEY, Some(CKK_EC_EDWARDS)) => {
            s.extend([(CKA_EC_PARAMS, None), (CKA_VALUE, None)])
        }
        (CKO_SECRET_KEY, Some(CKK_HKDF)) => s.extend([(CKA_VALUE, None), (CKA_VALUE_LEN, None)]),
        (CKO_SECRET_KEY, Some(CKK_AES | CKK_GENERIC_SECRET))
        | (CKO_SECRET_KEY, Some(CKK_SHA_1_HMAC | CKK_SHA224_HMAC | CKK_SHA256_HMAC))
        | (CKO_SECRET_KEY, Some(CKK_SHA384_HMAC | CKK_SHA512_HMAC))
        | (CKO_SECRET_KEY, Some(CKK_DES3)) => s.extend([(CKA_VALUE, None), (CKA_VALUE_LEN, None)]),
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY, Some(CKK_DH)) => {
            s.extend([(CKA_PRIME, None), (CKA_BASE, None), (CKA_VALUE, None)]);
            if class == CKO_PRIVATE_KEY {
                s.push((CKA_VALUE_BITS, None));
            }
        }
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY, Some(CKK_DSA)) => s.extend([
            (CKA_PRIME, None),
            (CKA_SUBPRIME, None),
            (CKA_BASE, None),
            (CKA_VALUE, None),
        ]),
        (CKO_DOMAIN_PARAMETERS, Some(CKK_DH)) => {
            s.extend([(CKA_PRIME, None), (CKA_BASE, None), (CKA_PRIME_BITS, None)])
        }
        (CKO_DOMAIN_PARAMETERS, Some(CKK_DSA)) => s.extend([
            (CKA_PRIME, None),
            (CKA_SUBPRIME, None),
            (CKA_BASE, None),
            (CKA_PRIME_BITS, None),
            (CKA_SUBPRIME_BITS, None),
        ]),
        (CKO_SECRET_KEY, Some(CKK_CHACHA20)) => {
            s.extend([(CKA_VALUE, None), (CKA_VALUE_LEN, None)])
        }
        (CKO_PUBLIC_KEY, Some(CKK_ML_KEM)) => s.extend([
            (CKA_PARAMETER_SET, None),
            (CKA_VALUE, None),
            (CKA_ENCAPSULATE, Some(AttrValue::Bool(true))),
        ]),
        (CKO_PRIVATE_KEY, Some(CKK_ML_KEM)) => s.extend([
            (CKA_PARAMETER_SET, None),
            (CKA_VALUE, None),
            (CKA_SEED, None),
            (CKA_DECAPSULATE, Some(AttrValue::Bool(true))),
        ]),
        (CKO_PUBLIC_KEY, Some(CKK_ML_DSA)) => {
            s.extend([(CKA_PARAMETER_SET, None), (CKA_VALUE, None)])
        }
        (CKO_PRIVATE_KEY, Some(CKK_ML_DSA)) => s.extend([
            (CKA_PARAMETER_SET, None),
            (CKA_VALUE, None),
            (CKA_SEED, None),
        ]),
        (CKO_DATA | CKO_CERTIFICATE, _) => {}
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY | CKO_DOMAIN_PARAMETERS, None) => {
            return Err(Error::TemplateIncomplete)
        }
        _ => return Err(Error::TemplateInconsistent),
    }
    Ok(s)
}

/// Whether the attribute type belongs to objects of this class/key type.
pub fn has_attr(obj: &Object, ty: AttrType) -> bool {
    obj.attrs.contains_key(&ty)
}

fn ulong_of(template: &[Attribute], ty: AttrType) -> Result<Option<u64>> {
    match template.iter().rev().find(|a| a.ty == ty) {
        None => Ok(None),
        Some(Attribute {
            value: AttrValue::Ulong(v),
            ..
        }) => Ok(Some(*v)),
        Some(_) => Err(Error::AttributeValueInvalid),
    }
}

/// The class and key type a template names (for C_CreateObject etc.).
pub fn class_and_type(template: &[Attribute]) -> Result<(Option<u64>, Option<u64>)> {
    Ok((
        ulong_of(template, CKA_CLASS)?,
        ulong_of(template, CKA_KEY_TYPE)?,
    ))
}

/// Check that each value has the kind its type demands and that no type repeats with
/// different values.
pub fn check_template(template: &[Attribute]) -> Result<()> {
    for (i, a) in template.iter().enumerate() {
        let ok = match (attrs::kind(a.ty), &a.value) {
            (AttrKind::Bool, AttrValue::Bool(_))
            | (AttrKind::Ulong, AttrValue::Ulong(_))
            | (AttrKind::Bytes, AttrValue::Bytes(_))
            | (AttrKind::Template, AttrValue::Template(_))
            | (AttrKind::Mechanisms, AttrValue::Mechanisms(_)) => true,
            (AttrKind::Date, AttrValue::Bytes(b)) => {
                b.is_empty() || (b.len() == 8 && b.iter().all(u8::is_ascii_digit))
            }
            _ => false,
        };
        if !ok {
            return Err(Error::AttributeValueInvalid);
        }
        if template[..i]
            .iter()
            .any(|b| b.ty == a.ty && b.value != a.value)
        {
            return Err(Error::TemplateInconsistent);
        }
    }
    Ok(())
}

/// Build a new object from a template, as `origin` says. `material` holds the attributes
/// computed by the caller (key material for generated keys, public values for imported ones)
/// and wins over defaults; the template may not contradict it.
pub fn build(
    class: u64,
    key_type: Option<u64>,
    template: &[Attribute],
    material: Vec<Attribute>,
    origin: Origin,
    id: ObjectId,
) -> Result<Object> {
    check_template(template)?;
    let schema = schema(class, key_type)?;
    let mut attrs: BTreeMap<AttrType, AttrValue> = BTreeMap::new();
    for (ty, def) in &schema {
        if let Some(v) = def {
            attrs.insert(*ty, v.clone());
        }
    }
    attrs.insert(CKA_CLASS, AttrValue::Ulong(class));
    if let Some(kt) = key_type {
        attrs.insert(CKA_KEY_TYPE, AttrValue::Ulong(kt));
    }
    let computed: Vec<AttrType> = material.iter().map(|a| a.ty).collect();
    for a in template {
        let known = schema.iter().any(|(ty, _)| *ty == a.ty);
        if !known {
            return Err(Error::AttributeTypeInvalid);
        }
        let meta = attrs::meta(a.ty).ok_or(Error::AttributeTypeInvalid)?;
        if meta.flags & flag::READ_ONLY != 0 && a.ty != CKA_CHECK_VALUE {
            return Err(Error::AttributeReadOnly);
        }
        if a.ty == CKA_CLASS || a.ty == CKA_KEY_TYPE {
            continue; // already checked by the caller against class/key_type
        }
        if computed.contains(&a.ty) {
            // A generated/derived value: the template may only repeat it.
            if material.iter().any(|m| m.ty == a.ty && m.value != a.value) {
                return Err(Error::TemplateInconsistent);
            }
            continue;
        }
        if a.ty == CKA_CHECK_VALUE {
            continue; // compared with the computed value below
        }
        // Key material comes from the template only on C_CreateObject.
        if meta.flags & flag::SECRET != 0 && origin != Origin::Create {
            return Err(Error::TemplateInconsistent);
        }
        attrs.insert(a.ty, a.value.clone());
    }
    for m in material {
        attrs.insert(m.ty, m.value);
    }
    // Required attributes.
    for (ty, def) in &schema {
        if def.is_none() && !attrs.contains_key(ty) && !optional_when_absent(*ty, class, origin) {
            return Err(Error::TemplateIncomplete);
        }
    }
    // Computed attributes.
    attrs.insert(
        CKA_UNIQUE_ID,
        AttrValue::Bytes(format!("{:032x}", id.0).into_bytes()),
    );
    // Only keys made here were always sensitive / never extractable; an unwrapped key was
    // outside (C_UnwrapKey: both false); derivations set their own from the base key.
    let generated = matches!(origin, Origin::Generate(_));
    if matches!(class, CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY) {
        attrs.insert(
            CKA_LOCAL,
            AttrValue::Bool(matches!(origin, Origin::Generate(_))),
        );
        if let Origin::Generate(mech) = origin {
            attrs.insert(CKA_KEY_GEN_MECHANISM, AttrValue::Ulong(mech));
        }
    }
    if class == CKO_DOMAIN_PARAMETERS {
        attrs.insert(
            CKA_LOCAL,
            AttrValue::Bool(matches!(origin, Origin::Generate(_))),
        );
    }
    if matches!(class, CKO_PRIVATE_KEY | CKO_SECRET_KEY) {
        let sensitive = matches!(attrs.get(&CKA_SENSITIVE), Some(AttrValue::Bool(true)));
        let extractable = matches!(attrs.get(&CKA_EXTRACTABLE), Some(AttrValue::Bool(true)));
        attrs.insert(
            CKA_ALWAYS_SENSITIVE,
            AttrValue::Bool(generated && sensitive),
        );
        attrs.insert(
            CKA_NEVER_EXTRACTABLE,
            AttrValue::Bool(generated && !extractable),
        );
    }
    let obj = Object {
        attrs,
        owner: None,
        shared: Vec::new(),
    };
    if let Some(given) = template.iter().find(|a| a.ty == CKA_CHECK_VALUE) {
        if obj.attrs.get(&CKA_CHECK_VALUE) != Some(&given.value) {
            return Err(Error::AttributeValueInvalid);
        }
    }
    Ok(obj)
}

/// Attributes with no default that may still be missing: computed later or optional.
fn optional_when_absent(ty: AttrType, class: u64, origin: Origin) -> bool {
    match ty {
        CKA_UNIQUE_ID | CKA_CHECK_VALUE | CKA_PUBLIC_KEY_INFO | CKA_SEED => true,
        CKA_MODULUS_BITS | CKA_VALUE_LEN => true, // computed from the material
        CKA_PRIME_BITS | CKA_SUBPRIME_BITS | CKA_VALUE_BITS => true,
        CKA_KEY_TYPE | CKA_CLASS => false,
        _ => class == CKO_PRIVATE_KEY && origin != Origin::Create && ty != CKA_VALUE,
    }
}

/// Check a C_SetAttributeValue / C_CopyObject template against an object's policy and
/// return the changed object. `copy` relaxes CKA_TOKEN/CKA_PRIVATE/CKA_MODIFIABLE, which a
/// copy may set. `is_so`: the caller is an admin (may set CKA_TRUSTED).
pub fn apply_changes(
    obj: &Object,
    template: &[Attribute],
    copy: bool,
    is_so: bool,
) -> Result<Object> {
    check_template(template)?;
    if !copy && !obj.bool(CKA_MODIFIABLE) {
        return Err(Error::ActionProhibited);
    }
    let mut new = obj.clone();
    for a in template {
        let current = obj.attrs.get(&a.ty).ok_or(Error::AttributeTypeInvalid)?;
        let meta = attrs::meta(a.ty).ok_or(Error::AttributeTypeInvalid)?;
        if current == &a.value {
            continue;
        }
        let copy_settable = copy && matches!(a.ty, CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE);
        if meta.flags & (flag::READ_ONLY | flag::CREATE_ONLY) != 0 && !copy_settable {
            return Err(Error::AttributeReadOnly);
        }
        let to_true = a.value == AttrValue::Bool(true);
        if meta.flags & flag::TO_FALSE_ONLY != 0 && to_true {
            return Err(Error::AttributeReadOnly);
        }
        if meta.flags & flag::TO_TRUE_ONLY != 0 && !to_true {
            return Err(Error::AttributeReadOnly);
        }
        if copy_settable && a.ty == CKA_MODIFIABLE && to_true {
            return Err(Error::AttributeReadOnly);
        }
        if meta.flags & flag::SO_ONLY != 0 && to_true && !is_so {
            return Err(Error::AttributeReadOnly);
        }
        new.attrs.insert(a.ty, a.value.clone());
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttrValue::*;

    fn a(ty: AttrType, v: AttrValue) -> Attribute {
        Attribute::new(ty, v)
    }

    fn aes(template: &[Attribute]) -> Result<Object> {
        build(
            CKO_SECRET_KEY,
            Some(CKK_AES),
            template,
            vec![
                a(CKA_VALUE, Bytes(vec![7; 32])),
                a(CKA_VALUE_LEN, Ulong(32)),
            ],
            Origin::Generate(CKM_AES_KEY_GEN),
            ObjectId(1),
        )
    }

    #[test]
    fn defaults_and_computed() {
        let o = aes(&[a(CKA_LABEL, Bytes(b"k".to_vec()))]).unwrap();
        assert!(o.bool(CKA_SENSITIVE) && o.bool(CKA_ALWAYS_SENSITIVE) && o.bool(CKA_LOCAL));
        assert!(!o.bool(CKA_NEVER_EXTRACTABLE));
        assert_eq!(o.ulong(CKA_KEY_GEN_MECHANISM), Some(CKM_AES_KEY_GEN));
        assert_eq!(o.read(CKA_VALUE), AttrRead::Sensitive);
        assert_eq!(o.read(CKA_MODULUS), AttrRead::Invalid);
        assert_eq!(o.read(CKA_LABEL), AttrRead::Value(Bytes(b"k".to_vec())));
    }

    /// (template attribute, expected outcome) at creation.
    #[test]
    fn creation_policy_table() {
        let cases: Vec<(Attribute, Result<()>)> = vec![
            (a(CKA_LOCAL, Bool(true)), Err(Error::AttributeReadOnly)),
            (
                a(CKA_ALWAYS_SENSITIVE, Bool(true)),
                Err(Error::AttributeReadOnly),
            ),
            (
                a(CKA_MODULUS, Bytes(vec![1])),
                Err(Error::AttributeTypeInvalid),
            ),
            (
                a(CKA_VALUE, Bytes(vec![1; 32])),
                Err(Error::TemplateInconsistent),
            ),
            (
                a(CKA_VALUE_LEN, Ulong(16)),
                Err(Error::TemplateInconsistent),
            ),
            (a(CKA_VALUE_LEN, Ulong(32)), Ok(())),
            (a(CKA_TOKEN, Ulong(1)), Err(Error::AttributeValueInvalid)),
            (
                a(CKA_START_DATE, Bytes(b"2026x101".to_vec())),
                Err(Error::AttributeValueInvalid),
            ),
            (a(CKA_START_DATE, Bytes(b"20261101".to_vec())), Ok(())),
            (a(CKA_ENCRYPT, Bool(false)), Ok(())),
        ];
        for (attr, want) in cases {
            assert_eq!(
                aes(std::slice::from_ref(&attr)).map(|_| ()),
                want,
                "{:#x}",
                attr.ty
            );
        }
    }

    /// (attribute, new value, expected) for C_SetAttributeValue on a generated AES key.
    #[test]
    fn set_policy_table() {
        let o = aes(&[
            a(CKA_EXTRACTABLE, Bool(true)),
            a(CKA_SENSITIVE, Bool(false)),
        ])
        .unwrap();
        let cases: Vec<(Attribute, Result<()>)> = vec![
            (a(CKA_LABEL, Bytes(b"new".to_vec())), Ok(())),
            (a(CKA_SENSITIVE, Bool(true)), Ok(())),
            (a(CKA_EXTRACTABLE, Bool(false)), Ok(())),
            (a(CKA_CLASS, Ulong(CKO_DATA)), Err(Error::AttributeReadOnly)),
            (a(CKA_TOKEN, Bool(true)), Err(Error::AttributeReadOnly)),
            (a(CKA_LOCAL, Bool(false)), Err(Error::AttributeReadOnly)),
            (
                a(CKA_VALUE, Bytes(vec![0; 32])),
                Err(Error::AttributeReadOnly),
            ),
            (a(CKA_TRUSTED, Bool(true)), Err(Error::AttributeReadOnly)),
            (
                a(CKA_MODULUS, Bytes(vec![1])),
                Err(Error::AttributeTypeInvalid),
            ),
            (a(CKA_WRAP_WITH_TRUSTED, Bool(true)), Ok(())),
        ];
        for (attr, want) in cases {
            assert_eq!(
                apply_changes(&o, std::slice::from_ref(&attr), false, false).map(|_| ()),
                want,
                "{:#x}",
                attr.ty
            );
        }
        // One-way attributes cannot go back.
        let s = apply_changes(&o, &[a(CKA_SENSITIVE, Bool(true))], false, false).unwrap();
        assert_eq!(
            apply_changes(&s, &[a(CKA_SENSITIVE, Bool(false))], false, false).map(|_| ()),
            Err(Error::AttributeReadOnly)
        );
        // All or nothing: a bad attribute after a good one changes nothing.
        assert!(apply_changes(
            &o,
            &[
                a(CKA_LABEL, Bytes(b"x".to_vec())),
                a(CKA_LOCAL, Bool(false))
            ],
            false,
            false
        )
        .is_err());
        // Not modifiable: nothing changes.
        let ro = aes(&[a(CKA_MODIFIABLE, Bool(false))]).unwrap();
        assert_eq!(
            apply_changes(&ro, &[a(CKA_LABEL, Bytes(b"x".to_vec()))], false, false).map(|_| ()),
            Err(Error::ActionProhibited)
        );
    }

    #[test]
    fn required_attributes() {
        // A certificate needs its type, subject and value.
        let r = build(
            CKO_CERTIFICATE,
            None,
            &[a(CKA_CERTIFICATE_TYPE, Ulong(CKC_X_509))],
            vec![],
            Origin::Create,
            ObjectId(2),
        );
        assert_eq!(r.map(|_| ()), Err(Error::TemplateIncomplete));
        // A key without a key type.
        assert_eq!(
            build(
                CKO_SECRET_KEY,
                None,
                &[],
                vec![],
                Origin::Create,
                ObjectId(3)
            )
            .map(|_| ()),
            Err(Error::TemplateIncomplete)
        );
        // A data object needs nothing.
        assert!(build(CKO_DATA, None, &[], vec![], Origin::Create, ObjectId(4)).is_ok());
    }
}
