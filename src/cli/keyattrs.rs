//! Key attributes as the CLI names, reads and prints them (CloudHSM CLI's names: `label`,
//! `id`, `class`, `key-type`, `modulus-size-bits`, `key-length-bytes`, `curve`...), key
//! filters (`attr.label=x key-reference=0x...`) and the JSON of a key.
//!
//! Names are derived from the core's attribute table (`CKA_WRAP_WITH_TRUSTED` is
//! `wrap-with-trusted`), except the few CloudHSM renamed.

use cryptoki_sys::*;
use serde_json::{json, Map, Value};

use crate::crypto::ec::Curve;
use crate::hsm::api::{AttrType, AttrValue, Attribute, KeyInfo, ObjectId};
use crate::hsm::attrs::{self, flag, AttrKind};

use super::encoding::{hex0x, parse_hex};
use super::errors::Failure;

/// CloudHSM's names that are not the CKA name.
const RENAMED: &[(&str, AttrType)] = &[
    ("modulus-size-bits", CKA_MODULUS_BITS),
    ("key-length-bytes", CKA_VALUE_LEN),
    ("curve", CKA_EC_PARAMS),
];

/// Byte-string attributes shown and read as text rather than hex.
const TEXT: &[AttrType] = &[CKA_LABEL, CKA_APPLICATION, CKA_URL, CKA_UNIQUE_ID];

const CLASSES: &[(&str, u64)] = &[
    ("data", CKO_DATA),
    ("certificate", CKO_CERTIFICATE),
    ("public-key", CKO_PUBLIC_KEY),
    ("private-key", CKO_PRIVATE_KEY),
    ("secret-key", CKO_SECRET_KEY),
];

const KEY_TYPES: &[(&str, u64)] = &[
    ("rsa", CKK_RSA),
    ("ec", CKK_EC),
    ("aes", CKK_AES),
    ("generic-secret", CKK_GENERIC_SECRET),
    ("des3", CKK_DES3),
    ("sha1-hmac", CKK_SHA_1_HMAC),
    ("sha224-hmac", CKK_SHA224_HMAC),
    ("sha256-hmac", CKK_SHA256_HMAC),
    ("sha384-hmac", CKK_SHA384_HMAC),
    ("sha512-hmac", CKK_SHA512_HMAC),
];

/// CLI curve names.
pub(crate) fn curve(name: &str) -> Option<Curve> {
    match name {
        "prime256v1" | "secp256r1" => Some(Curve::P256),
        "secp384r1" => Some(Curve::P384),
        "secp521r1" => Some(Curve::P521),
        "secp256k1" => Some(Curve::Secp256k1),
        _ => None,
    }
}

fn curve_name(c: Curve) -> &'static str {
    match c {
        Curve::P256 => "prime256v1",
        Curve::P384 => "secp384r1",
        Curve::P521 => "secp521r1",
        Curve::Secp256k1 => "secp256k1",
    }
}

/// The attribute type of a CLI name.
pub(crate) fn attr_type(name: &str) -> Option<AttrType> {
    if let Some((_, ty)) = RENAMED.iter().find(|(n, _)| *n == name) {
        return Some(*ty);
    }
    let cka = format!("CKA_{}", name.to_ascii_uppercase().replace('-', "_"));
    attrs::TABLE.iter().find(|m| m.name == cka).map(|m| m.ty)
}

/// The CLI name of an attribute type.
pub(crate) fn attr_name(ty: AttrType) -> String {
    if let Some((n, _)) = RENAMED.iter().find(|(_, t)| *t == ty) {
        return (*n).to_string();
    }
    match attrs::meta(ty) {
        Some(m) => m
            .name
            .trim_start_matches("CKA_")
            .to_ascii_lowercase()
            .replace('_', "-"),
        None => format!("0x{ty:08x}"),
    }
}

fn bad(name: &str, text: &str, want: &str) -> Failure {
    Failure::new(format!("{name}={text}: expected {want}"))
}

/// Parse a CLI value for an attribute.
pub(crate) fn parse_value(name: &str, ty: AttrType, text: &str) -> Result<AttrValue, Failure> {
    let named = |table: &[(&str, u64)], what: &str| {
        table
            .iter()
            .find(|(n, _)| *n == text)
            .map(|(_, v)| AttrValue::Ulong(*v))
            .ok_or_else(|| {
                let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
                bad(name, text, &format!("a {what}: {}", names.join(" | ")))
            })
    };
    match (ty, attrs::kind(ty)) {
        (CKA_CLASS, _) => named(CLASSES, "class"),
        (CKA_KEY_TYPE, _) => named(KEY_TYPES, "key type"),
        (CKA_EC_PARAMS, _) => match curve(text) {
            Some(c) => Ok(AttrValue::Bytes(c.params())),
            None => parse_hex(text)
                .map(AttrValue::Bytes)
                .ok_or_else(|| bad(name, text, "prime256v1 | secp384r1 | secp521r1 | secp256k1")),
        },
        (CKA_PUBLIC_EXPONENT, _) => {
            let v = if text.starts_with("0x") {
                parse_hex(text)
            } else {
                text.parse::<u64>().ok().map(be_bytes)
            };
            v.map(AttrValue::Bytes)
                .ok_or_else(|| bad(name, text, "a number such as 65537"))
        }
        (_, AttrKind::Bool) => match text {
            "true" | "1" => Ok(AttrValue::Bool(true)),
            "false" | "0" => Ok(AttrValue::Bool(false)),
            _ => Err(bad(name, text, "true or false")),
        },
        (_, AttrKind::Ulong) => super::args::parse_number(text)
            .map(AttrValue::Ulong)
            .ok_or_else(|| bad(name, text, "a number")),
        (_, AttrKind::Date) => {
            if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
                Ok(AttrValue::Bytes(text.as_bytes().to_vec()))
            } else {
                Err(bad(name, text, "a date YYYYMMDD"))
            }
        }
        (t, AttrKind::Bytes) if TEXT.contains(&t) => Ok(AttrValue::Bytes(text.as_bytes().to_vec())),
        (_, AttrKind::Bytes) => parse_hex(text)
            .map(AttrValue::Bytes)
            .ok_or_else(|| bad(name, text, "hex bytes such as 0x01ab")),
        (_, AttrKind::Template | AttrKind::Mechanisms) => Err(Failure::new(format!(
            "{name} cannot be given on the command line"
        ))),
    }
}

/// A number as big-endian bytes without leading zeros.
fn be_bytes(v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let first = b.iter().position(|&x| x != 0).unwrap_or(b.len() - 1);
    b[first..].to_vec()
}

/// `name=value` pairs (`--attributes`, `--set`).
pub(crate) fn parse_assignments(items: &[String]) -> Result<Vec<Attribute>, Failure> {
    items.iter().map(|item| parse_assignment(item)).collect()
}

/// One `name=value`.
pub(crate) fn parse_assignment(item: &str) -> Result<Attribute, Failure> {
    let (name, value) = item
        .split_once('=')
        .ok_or_else(|| Failure::new(format!("'{item}': expected name=value")))?;
    attribute(name, value)
}

/// An attribute from a CLI name and value.
pub(crate) fn attribute(name: &str, value: &str) -> Result<Attribute, Failure> {
    let ty = attr_type(name).ok_or_else(|| Failure::new(format!("unknown attribute '{name}'")))?;
    Ok(Attribute::new(ty, parse_value(name, ty, value)?))
}

/// The key reference of a key, as `key list` and the audit log print it.
pub(crate) fn key_reference(id: ObjectId) -> String {
    format!("0x{:032x}", id.0)
}

/// A key's CKA_UNIQUE_ID (the core sets it to the object id in hex): how a filter names one
/// key by reference.
pub(crate) fn unique_id(id: ObjectId) -> Attribute {
    Attribute::new(
        CKA_UNIQUE_ID,
        AttrValue::Bytes(format!("{:032x}", id.0).into_bytes()),
    )
}

/// A key filter (`attr.<name>=<value>`, `key-reference=0x...`) as a template.
pub(crate) fn parse_filter(items: &[String]) -> Result<Vec<Attribute>, Failure> {
    let mut template = Vec::new();
    for item in items {
        let (lhs, value) = item.split_once('=').ok_or_else(|| {
            Failure::new(format!(
                "filter '{item}': expected attr.<name>=<value> or key-reference=0x..."
            ))
        })?;
        if lhs == "key-reference" {
            let bytes = parse_hex(value).filter(|b| !b.is_empty() && b.len() <= 16);
            let id = bytes.map(|b| b.iter().fold(0u128, |acc, x| (acc << 8) | u128::from(*x)));
            let id = id.ok_or_else(|| {
                Failure::new(format!(
                    "filter '{item}': a key reference is up to 32 hex digits"
                ))
            })?;
            template.push(unique_id(ObjectId(id)));
            continue;
        }
        let name = lhs.strip_prefix("attr.").ok_or_else(|| {
            Failure::new(format!(
                "filter '{item}': expected attr.<name>=<value> or key-reference=0x..."
            ))
        })?;
        let a = attribute(name, value)?;
        if attrs::meta(a.ty).is_some_and(|m| m.flags & flag::SECRET != 0) {
            return Err(Failure::new(format!(
                "filter '{item}': key material cannot be used as a filter"
            )));
        }
        template.push(a);
    }
    Ok(template)
}

/// An attribute value as JSON.
pub(crate) fn render_value(ty: AttrType, v: &AttrValue) -> Value {
    let name_of = |table: &[(&str, u64)], n: u64| {
        table
            .iter()
            .find(|(_, x)| *x == n)
            .map_or_else(|| json!(format!("0x{n:08x}")), |(s, _)| json!(s))
    };
    match (ty, v) {
        (CKA_CLASS, AttrValue::Ulong(n)) => name_of(CLASSES, *n),
        (CKA_KEY_TYPE, AttrValue::Ulong(n)) => name_of(KEY_TYPES, *n),
        (CKA_EC_PARAMS, AttrValue::Bytes(b)) => {
            Curve::from_params(b).map_or_else(|_| json!(hex0x(b)), |c| json!(curve_name(c)))
        }
        (CKA_KEY_GEN_MECHANISM, AttrValue::Ulong(n)) if *n == CK_UNAVAILABLE_INFORMATION => {
            json!("unavailable")
        }
        (CKA_KEY_GEN_MECHANISM, AttrValue::Ulong(n)) => json!(format!("0x{n:08x}")),
        (t, AttrValue::Bytes(b)) if TEXT.contains(&t) || attrs::kind(t) == AttrKind::Date => {
            json!(String::from_utf8_lossy(b))
        }
        (_, AttrValue::Bool(b)) => json!(b),
        (_, AttrValue::Ulong(n)) => json!(n),
        (_, AttrValue::Bytes(b)) => json!(hex0x(b)),
        (_, AttrValue::Template(t)) => Value::Object(render_attrs(t)),
        (_, AttrValue::Mechanisms(m)) => {
            json!(m.iter().map(|x| format!("0x{x:08x}")).collect::<Vec<_>>())
        }
    }
}

/// Attributes as a JSON object keyed by CLI name.
pub(crate) fn render_attrs(list: &[Attribute]) -> Map<String, Value> {
    list.iter()
        .map(|a| (attr_name(a.ty), render_value(a.ty, &a.value)))
        .collect()
}

/// A key as `key list` shows it: the reference and label, or (verbose) owner, sharing and
/// every non-secret attribute the core returned.
pub(crate) fn render_key(k: &KeyInfo, verbose: bool) -> Value {
    let mut m = Map::new();
    m.insert("key-reference".into(), json!(key_reference(k.id)));
    if verbose {
        let users = |names: &[String]| -> Vec<Value> {
            names
                .iter()
                .map(|n| json!({"username": n, "key-coverage": "full"}))
                .collect()
        };
        let owners: Vec<String> = k.owner.iter().cloned().collect();
        m.insert(
            "key-info".into(),
            json!({
                "key-owners": users(&owners),
                "shared-users": users(&k.shared),
                "cluster-coverage": "full",
            }),
        );
        m.insert("attributes".into(), Value::Object(render_attrs(&k.attrs)));
    } else {
        let label = k
            .attrs
            .iter()
            .find(|a| a.ty == CKA_LABEL)
            .map(|a| render_value(a.ty, &a.value));
        m.insert(
            "attributes".into(),
            json!({ "label": label.unwrap_or(json!("")) }),
        );
    }
    Value::Object(m)
}

/// One attribute of a listed key.
pub(crate) fn key_attr(k: &KeyInfo, ty: AttrType) -> Option<&AttrValue> {
    k.attrs.iter().find(|a| a.ty == ty).map(|a| &a.value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, ty) in [
            ("label", CKA_LABEL),
            ("id", CKA_ID),
            ("class", CKA_CLASS),
            ("key-type", CKA_KEY_TYPE),
            ("wrap-with-trusted", CKA_WRAP_WITH_TRUSTED),
            ("modulus-size-bits", CKA_MODULUS_BITS),
            ("key-length-bytes", CKA_VALUE_LEN),
            ("curve", CKA_EC_PARAMS),
            ("ec-point", CKA_EC_POINT),
            ("check-value", CKA_CHECK_VALUE),
            ("public-exponent", CKA_PUBLIC_EXPONENT),
        ] {
            assert_eq!(attr_type(name), Some(ty), "{name}");
            assert_eq!(attr_name(ty), name);
        }
        assert_eq!(attr_type("bogus"), None);
    }

    /// (item, expected template or error fragment)
    #[test]
    fn filters() {
        let f =
            |items: &[&str]| parse_filter(&items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let t = f(&[
            "attr.label=k1",
            "attr.class=secret-key",
            "attr.id=0x0102",
            "attr.token=true",
        ])
        .unwrap();
        assert_eq!(
            t,
            vec![
                Attribute::new(CKA_LABEL, AttrValue::Bytes(b"k1".to_vec())),
                Attribute::new(CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY)),
                Attribute::new(CKA_ID, AttrValue::Bytes(vec![1, 2])),
                Attribute::new(CKA_TOKEN, AttrValue::Bool(true)),
            ]
        );
        let r = f(&["key-reference=0x00000000000000000000000000000abc"]).unwrap();
        assert_eq!(r, vec![unique_id(ObjectId(0xabc))]);
        assert_eq!(f(&["key-reference=0xabc"]).unwrap(), r);
        for (item, want) in [
            ("label=x", "expected attr."),
            ("attr.class=nope", "secret-key"),
            ("attr.bogus=1", "unknown attribute"),
            ("attr.value=0x00", "key material"),
            ("key-reference=0x", "32 hex digits"),
            (
                "key-reference=0x112233445566778899aabbccddeeff0011",
                "32 hex digits",
            ),
            ("attr.token=yes", "true or false"),
        ] {
            let e = f(&[item]).unwrap_err();
            assert!(e.message.contains(want), "{item}: {}", e.message);
        }
    }

    #[test]
    fn values() {
        assert_eq!(
            parse_value("public-exponent", CKA_PUBLIC_EXPONENT, "65537").unwrap(),
            AttrValue::Bytes(vec![1, 0, 1])
        );
        assert_eq!(
            parse_value("curve", CKA_EC_PARAMS, "secp384r1").unwrap(),
            AttrValue::Bytes(Curve::P384.params())
        );
        assert_eq!(
            render_value(CKA_EC_PARAMS, &AttrValue::Bytes(Curve::P256.params())),
            json!("prime256v1")
        );
        assert_eq!(
            render_value(CKA_CLASS, &AttrValue::Ulong(CKO_PRIVATE_KEY)),
            json!("private-key")
        );
        assert_eq!(
            render_value(CKA_ID, &AttrValue::Bytes(vec![0xab])),
            json!("0xab")
        );
        assert_eq!(
            render_value(CKA_LABEL, &AttrValue::Bytes(b"x".to_vec())),
            json!("x")
        );
        assert!(parse_value("start-date", CKA_START_DATE, "2026-01-01").is_err());
        assert_eq!(be_bytes(0), vec![0]);
    }
}
