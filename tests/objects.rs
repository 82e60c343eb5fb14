//! Objects through the built module: the attribute policy table, two-pass
//! C_GetAttributeValue, computed attributes, visibility in C_FindObjects, a find among 10,000
//! token objects, C_CopyObject and C_GetObjectSize. Each step runs in its own process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;
use rsa::pkcs8::DecodePublicKey;

black_box_suite! {
    steps: [
        activate, policy_table, all_or_nothing, two_pass, computed, visibility_cu1,
        visibility_cu2, create_many, find_among_many, copy_and_size,
    ];
    scenarios: [
        attribute_policy, get_attribute_value_two_pass, computed_attributes, find_visibility,
        find_among_10000, copy_object_and_size,
    ];
}

fn activate(ctx: &Ctx) {
    ctx.init().activate();
}

// ---------------------------------------------------------------------------- policy table

type Template = Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>;

fn ul(v: CK_ULONG) -> Vec<u8> {
    ulong_bytes(v)
}
fn b(v: bool) -> Vec<u8> {
    bool_bytes(v)
}

/// An AES session key made with C_CreateObject (16 zero bytes: its KCV is known).
fn aes(extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Template {
    let mut t: Template = vec![
        (CKA_CLASS, ul(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, ul(CKK_AES)),
        (CKA_TOKEN, b(false)),
        (CKA_PRIVATE, b(true)),
        (CKA_VALUE, vec![0; 16]),
        (CKA_LABEL, b"policy".to_vec()),
        (CKA_ENCRYPT, b(true)),
    ];
    for (ty, v) in extra {
        match t.iter_mut().find(|(t2, _)| t2 == ty) {
            Some(slot) => slot.1 = v.clone(),
            None => t.push((*ty, v.clone())),
        }
    }
    t
}

fn without(mut t: Template, ty: CK_ATTRIBUTE_TYPE) -> Template {
    t.retain(|(t2, _)| *t2 != ty);
    t
}

fn data_t(extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Template {
    let mut t: Template = vec![
        (CKA_CLASS, ul(CKO_DATA)),
        (CKA_TOKEN, b(false)),
        (CKA_PRIVATE, b(false)),
        (CKA_LABEL, b"data".to_vec()),
        (CKA_VALUE, b"value".to_vec()),
    ];
    t.extend(extra.iter().cloned());
    t
}

/// An uncompressed P-256 point (the generator), DER OCTET STRING wrapped.
fn p256_generator_point() -> Vec<u8> {
    let mut v = vec![0x04, 0x41, 0x04];
    v.extend(unhex(
        "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
    ));
    v.extend(unhex(
        "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
    ));
    v
}

fn ec_pub(extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Template {
    let mut t: Template = vec![
        (CKA_CLASS, ul(CKO_PUBLIC_KEY)),
        (CKA_KEY_TYPE, ul(CKK_EC)),
        (CKA_TOKEN, b(false)),
        (CKA_EC_PARAMS, P256_OID.to_vec()),
        (CKA_EC_POINT, p256_generator_point()),
    ];
    for (ty, v) in extra {
        match t.iter_mut().find(|(t2, _)| t2 == ty) {
            Some(slot) => slot.1 = v.clone(),
            None => t.push((*ty, v.clone())),
        }
    }
    t
}

enum Op {
    /// C_CreateObject with this template.
    Create(Template),
    /// Create the first template, then C_SetAttributeValue with the second.
    Set(Template, Template),
    /// Create, then C_CopyObject with the second template.
    Copy(Template, Template),
    /// Create, then C_DestroyObject.
    Destroy(Template),
}

struct Case {
    what: &'static str,
    op: Op,
    want: &'static [CK_RV],
}

fn case(what: &'static str, op: Op, want: &'static [CK_RV]) -> Case {
    Case { what, op, want }
}

/// Class × attribute × operation → CKR (PKCS#11 3.0 §4.1 "Common footnotes", §4.2–4.10, §5.7).
fn policy_cases() -> Vec<Case> {
    use Op::*;
    const OK: &[CK_RV] = &[CKR_OK];
    const RO: &[CK_RV] = &[CKR_ATTRIBUTE_READ_ONLY];
    const INCOMPLETE: &[CK_RV] = &[CKR_TEMPLATE_INCOMPLETE];
    const INCONSISTENT: &[CK_RV] = &[CKR_TEMPLATE_INCONSISTENT];
    const VALUE_INVALID: &[CK_RV] = &[CKR_ATTRIBUTE_VALUE_INVALID];
    const TYPE_INVALID: &[CK_RV] = &[CKR_ATTRIBUTE_TYPE_INVALID];
    const PROHIBITED: &[CK_RV] = &[CKR_ACTION_PROHIBITED];
    let sensitive = aes(&[(CKA_SENSITIVE, b(true)), (CKA_EXTRACTABLE, b(false))]);
    let open = aes(&[(CKA_SENSITIVE, b(false)), (CKA_EXTRACTABLE, b(true))]);
    vec![
        // Secret key, C_CreateObject.
        case("AES: a valid template", Create(aes(&[])), OK),
        case(
            "AES: CKA_LOCAL is computed",
            Create(aes(&[(CKA_LOCAL, b(true))])),
            RO,
        ),
        case(
            "AES: CKA_ALWAYS_SENSITIVE is computed",
            Create(aes(&[(CKA_ALWAYS_SENSITIVE, b(true))])),
            RO,
        ),
        case(
            "AES: CKA_NEVER_EXTRACTABLE is computed",
            Create(aes(&[(CKA_NEVER_EXTRACTABLE, b(true))])),
            RO,
        ),
        case(
            "AES: CKA_KEY_GEN_MECHANISM is computed",
            Create(aes(&[(CKA_KEY_GEN_MECHANISM, ul(CKM_AES_KEY_GEN))])),
            RO,
        ),
        case(
            "AES: CKA_UNIQUE_ID is computed",
            Create(aes(&[(CKA_UNIQUE_ID, b"mine".to_vec())])),
            RO,
        ),
        case(
            "AES: no CKA_VALUE",
            Create(without(aes(&[]), CKA_VALUE)),
            INCOMPLETE,
        ),
        case(
            "AES: no CKA_KEY_TYPE",
            Create(without(aes(&[]), CKA_KEY_TYPE)),
            INCOMPLETE,
        ),
        case(
            "AES: no CKA_CLASS",
            Create(without(aes(&[]), CKA_CLASS)),
            INCOMPLETE,
        ),
        case(
            "AES: a 15-byte key",
            Create(aes(&[(CKA_VALUE, vec![0; 15])])),
            VALUE_INVALID,
        ),
        case(
            "AES: CKA_TOKEN of 4 bytes",
            Create(aes(&[(CKA_TOKEN, vec![0; 4])])),
            VALUE_INVALID,
        ),
        case(
            "AES: CKA_CLASS of 4 bytes",
            Create(aes(&[(CKA_CLASS, vec![4, 0, 0, 0])])),
            VALUE_INVALID,
        ),
        case(
            "AES: CKA_VALUE_LEN contradicts CKA_VALUE",
            Create(aes(&[(CKA_VALUE_LEN, ul(32))])),
            &[CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_READ_ONLY],
        ),
        case(
            "AES: two different labels",
            Create({
                let mut t = aes(&[]);
                t.push((CKA_LABEL, b"other".to_vec()));
                t
            }),
            INCONSISTENT,
        ),
        case(
            "AES: an RSA attribute",
            Create(aes(&[(CKA_MODULUS, vec![1; 256])])),
            TYPE_INVALID,
        ),
        case(
            "secret key of type RSA",
            Create(aes(&[(CKA_KEY_TYPE, ul(CKK_RSA))])),
            &[CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_VALUE_INVALID],
        ),
        case(
            "AES: the right check value",
            Create(aes(&[(CKA_CHECK_VALUE, unhex("66e94b"))])),
            OK,
        ),
        case(
            "AES: a wrong check value",
            Create(aes(&[(CKA_CHECK_VALUE, unhex("000000"))])),
            &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
        ),
        // Other classes, C_CreateObject.
        case(
            "data: no value needed",
            Create(without(data_t(&[]), CKA_VALUE)),
            OK,
        ),
        case(
            "X.509 certificate without subject and value",
            Create(vec![
                (CKA_CLASS, ul(CKO_CERTIFICATE)),
                (CKA_CERTIFICATE_TYPE, ul(CKC_X_509)),
                (CKA_TOKEN, b(false)),
            ]),
            INCOMPLETE,
        ),
        case("EC public key: valid", Create(ec_pub(&[])), OK),
        case(
            "EC public key: not a point",
            Create(ec_pub(&[(CKA_EC_POINT, vec![0x04, 0x03, 1, 2, 3])])),
            VALUE_INVALID,
        ),
        case(
            "EC public key: brainpoolP256r1 (not offered)",
            Create(ec_pub(&[(CKA_EC_PARAMS, unhex("06092b2403030208010107"))])),
            &[
                CKR_CURVE_NOT_SUPPORTED,
                CKR_DOMAIN_PARAMS_INVALID,
                CKR_ATTRIBUTE_VALUE_INVALID,
            ],
        ),
        case(
            "EC public key: no CKA_EC_POINT",
            Create(without(ec_pub(&[]), CKA_EC_POINT)),
            INCOMPLETE,
        ),
        // C_SetAttributeValue.
        case(
            "AES: relabel",
            Set(aes(&[]), vec![(CKA_LABEL, b"new".to_vec())]),
            OK,
        ),
        case(
            "AES: CKA_SENSITIVE true→false",
            Set(sensitive.clone(), vec![(CKA_SENSITIVE, b(false))]),
            RO,
        ),
        case(
            "AES: CKA_EXTRACTABLE false→true",
            Set(sensitive.clone(), vec![(CKA_EXTRACTABLE, b(true))]),
            RO,
        ),
        case(
            "AES: CKA_SENSITIVE false→true",
            Set(open.clone(), vec![(CKA_SENSITIVE, b(true))]),
            OK,
        ),
        case(
            "AES: CKA_EXTRACTABLE true→false",
            Set(open.clone(), vec![(CKA_EXTRACTABLE, b(false))]),
            OK,
        ),
        case(
            "AES: change CKA_CLASS",
            Set(aes(&[]), vec![(CKA_CLASS, ul(CKO_DATA))]),
            RO,
        ),
        case(
            "AES: change CKA_KEY_TYPE",
            Set(aes(&[]), vec![(CKA_KEY_TYPE, ul(CKK_GENERIC_SECRET))]),
            RO,
        ),
        case(
            "AES: change CKA_VALUE",
            Set(aes(&[]), vec![(CKA_VALUE, vec![1; 16])]),
            RO,
        ),
        case(
            "AES: change CKA_LOCAL",
            Set(aes(&[]), vec![(CKA_LOCAL, b(true))]),
            RO,
        ),
        case(
            "AES: change CKA_TOKEN",
            Set(aes(&[]), vec![(CKA_TOKEN, b(true))]),
            RO,
        ),
        case(
            "AES: change CKA_PRIVATE",
            Set(aes(&[]), vec![(CKA_PRIVATE, b(false))]),
            RO,
        ),
        case(
            "AES: CKA_TRUSTED by a crypto user",
            Set(aes(&[]), vec![(CKA_TRUSTED, b(true))]),
            RO,
        ),
        case(
            "AES: CKA_COPYABLE true→false",
            Set(aes(&[]), vec![(CKA_COPYABLE, b(false))]),
            OK,
        ),
        case(
            "AES: CKA_COPYABLE false→true",
            Set(
                aes(&[(CKA_COPYABLE, b(false))]),
                vec![(CKA_COPYABLE, b(true))],
            ),
            RO,
        ),
        case(
            "AES: an RSA attribute",
            Set(aes(&[]), vec![(CKA_MODULUS, vec![1; 256])]),
            TYPE_INVALID,
        ),
        case(
            "AES: CKA_SENSITIVE of 4 bytes",
            Set(open.clone(), vec![(CKA_SENSITIVE, vec![1, 0, 0, 0])]),
            VALUE_INVALID,
        ),
        case(
            "AES CKA_MODIFIABLE=false: relabel",
            Set(
                aes(&[(CKA_MODIFIABLE, b(false))]),
                vec![(CKA_LABEL, b"x".to_vec())],
            ),
            PROHIBITED,
        ),
        case(
            "data: relabel",
            Set(data_t(&[]), vec![(CKA_LABEL, b"renamed".to_vec())]),
            OK,
        ),
        case(
            "data CKA_MODIFIABLE=false: relabel",
            Set(
                data_t(&[(CKA_MODIFIABLE, b(false))]),
                vec![(CKA_LABEL, b"x".to_vec())],
            ),
            PROHIBITED,
        ),
        case(
            "EC public key: CKA_VERIFY false",
            Set(ec_pub(&[]), vec![(CKA_VERIFY, b(false))]),
            OK,
        ),
        case(
            "EC public key: change CKA_EC_POINT",
            Set(ec_pub(&[]), vec![(CKA_EC_POINT, p256_generator_point())]),
            &[CKR_OK, CKR_ATTRIBUTE_READ_ONLY],
        ),
        // C_CopyObject.
        case(
            "AES: copy with a new label",
            Copy(aes(&[]), vec![(CKA_LABEL, b"copy".to_vec())]),
            OK,
        ),
        case(
            "AES: copy to the token",
            Copy(aes(&[]), vec![(CKA_TOKEN, b(true))]),
            OK,
        ),
        case(
            "AES CKA_COPYABLE=false: copy",
            Copy(aes(&[(CKA_COPYABLE, b(false))]), vec![]),
            PROHIBITED,
        ),
        case(
            "AES: copy turning CKA_SENSITIVE off",
            Copy(sensitive.clone(), vec![(CKA_SENSITIVE, b(false))]),
            RO,
        ),
        case(
            "AES: copy turning CKA_EXTRACTABLE on",
            Copy(sensitive, vec![(CKA_EXTRACTABLE, b(true))]),
            RO,
        ),
        case(
            "AES CKA_MODIFIABLE=false: copy modifiable",
            Copy(
                aes(&[(CKA_MODIFIABLE, b(false))]),
                vec![(CKA_MODIFIABLE, b(true))],
            ),
            RO,
        ),
        case(
            "AES: copy changing CKA_CLASS",
            Copy(aes(&[]), vec![(CKA_CLASS, ul(CKO_DATA))]),
            RO,
        ),
        // C_DestroyObject.
        case("data: destroy", Destroy(data_t(&[])), OK),
        case(
            "data CKA_DESTROYABLE=false: destroy",
            Destroy(data_t(&[(CKA_DESTROYABLE, b(false))])),
            PROHIBITED,
        ),
        case(
            "AES CKA_DESTROYABLE=false: destroy",
            Destroy(aes(&[(CKA_DESTROYABLE, b(false))])),
            PROHIBITED,
        ),
    ]
}

fn set_attribute_value(
    raw: &Raw,
    s: CK_SESSION_HANDLE,
    o: CK_OBJECT_HANDLE,
    t: &Template,
) -> CK_RV {
    let mut values: Vec<Vec<u8>> = t.iter().map(|(_, v)| v.clone()).collect();
    let mut attrs: Vec<CK_ATTRIBUTE> = t
        .iter()
        .zip(values.iter_mut())
        .map(|((ty, _), v)| CK_ATTRIBUTE {
            type_: *ty,
            pValue: v.as_mut_ptr().cast(),
            ulValueLen: v.len() as CK_ULONG,
        })
        .collect();
    // SAFETY: the template points into `values`, alive for the call.
    unsafe {
        raw.sys()
            .C_SetAttributeValue(s, o, attrs.as_mut_ptr(), attrs.len() as CK_ULONG)
    }
}

fn copy_object(
    raw: &Raw,
    s: CK_SESSION_HANDLE,
    o: CK_OBJECT_HANDLE,
    t: &Template,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut values: Vec<Vec<u8>> = t.iter().map(|(_, v)| v.clone()).collect();
    let mut attrs: Vec<CK_ATTRIBUTE> = t
        .iter()
        .zip(values.iter_mut())
        .map(|((ty, _), v)| CK_ATTRIBUTE {
            type_: *ty,
            pValue: v.as_mut_ptr().cast(),
            ulValueLen: v.len() as CK_ULONG,
        })
        .collect();
    let mut out: CK_OBJECT_HANDLE = 0;
    // An empty template is a valid (non-NULL) pointer and a count of 0.
    let ptr = attrs.as_mut_ptr();
    // SAFETY: the template points into `values`, alive for the call; `out` is writable.
    let rv = unsafe {
        raw.sys()
            .C_CopyObject(s, o, ptr, attrs.len() as CK_ULONG, &mut out)
    };
    if rv == CKR_OK {
        Ok(out)
    } else {
        Err(rv)
    }
}

fn attribute_policy(env: &Env) {
    env.run("activate");
    env.run("policy_table");
    env.run("all_or_nothing");
}

fn policy_table(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let (raw, h) = (&hsm.raw, s.handle());
    let mut failures = Vec::new();
    for c in policy_cases() {
        let base = |t: &Template| {
            raw.create_object(h, t)
                .unwrap_or_else(|rv| panic!("{}: base object: {}", c.what, ckr_name(rv)))
        };
        let got = match &c.op {
            Op::Create(t) => raw.create_object(h, t).err().unwrap_or(CKR_OK),
            Op::Set(t, change) => set_attribute_value(raw, h, base(t), change),
            Op::Copy(t, change) => copy_object(raw, h, base(t), change).err().unwrap_or(CKR_OK),
            Op::Destroy(t) => raw.destroy_object(h, base(t)),
        };
        if !c.want.contains(&got) {
            let want: Vec<String> = c.want.iter().map(|w| ckr_name(*w)).collect();
            failures.push(format!(
                "{}: got {}, want {}",
                c.what,
                ckr_name(got),
                want.join(" or ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "attribute policy table:\n{}",
        failures.join("\n")
    );
}

/// A rejected template changes nothing: C_SetAttributeValue is all or nothing; a failed
/// C_CreateObject leaves no object behind.
fn all_or_nothing(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let (raw, h) = (&hsm.raw, s.handle());
    let o = raw
        .create_object(h, &aes(&[(CKA_LABEL, b"before".to_vec())]))
        .unwrap();
    let rv = set_attribute_value(
        raw,
        h,
        o,
        &vec![(CKA_LABEL, b"after".to_vec()), (CKA_LOCAL, b(true))],
    );
    assert_rv(
        rv,
        CKR_ATTRIBUTE_READ_ONLY,
        "a good change followed by a forbidden one",
    );
    let handle = unsafe_handle(o);
    assert_eq!(
        bytes_attr(&s, handle, AttributeType::Label),
        b"before",
        "nothing changed"
    );
    let before = find(&s, &[]).len();
    assert!(raw
        .create_object(
            h,
            &aes(&[(CKA_LABEL, b"half".to_vec()), (CKA_LOCAL, b(true))])
        )
        .is_err());
    assert!(raw
        .create_object(
            h,
            &aes(&[
                (CKA_TOKEN, b(true)),
                (CKA_LABEL, b"half".to_vec()),
                (CKA_VALUE, vec![0; 7])
            ])
        )
        .is_err());
    assert_eq!(
        find(&s, &[]).len(),
        before,
        "a refused C_CreateObject leaves nothing"
    );
    assert!(find_label(&s, "half").is_empty());
}

fn unsafe_handle(h: CK_OBJECT_HANDLE) -> ObjectHandle {
    // SAFETY: `h` is a handle the module returned in this process.
    unsafe { ObjectHandle::new_from_raw(h) }
}

// ---------------------------------------------------------------------------- two-pass reads

fn get_attribute_value_two_pass(env: &Env) {
    env.run("activate");
    env.run("two_pass");
}

fn two_pass(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let (raw, h) = (&hsm.raw, s.handle());
    let label = b"two-pass label".to_vec();
    let key = raw
        .create_object(
            h,
            &aes(&[
                (CKA_LABEL, label.clone()),
                (CKA_SENSITIVE, b(true)),
                (CKA_VALUE, vec![7; 32]),
            ]),
        )
        .unwrap();
    let data = raw.create_object(h, &data_t(&[])).unwrap();
    let na = CK_UNAVAILABLE_INFORMATION;

    // Pass 1, NULL buffers: the lengths.
    let (rv, out) = raw.get_attribute_value(
        h,
        data,
        &[(CKA_LABEL, None), (CKA_VALUE, None), (CKA_CLASS, None)],
    );
    assert_rv(rv, CKR_OK, "lengths of a data object");
    assert_eq!(out.iter().map(|a| a.len).collect::<Vec<_>>(), vec![4, 5, 8]);
    // Pass 2, exact buffers: the values.
    let (rv, out) = raw.get_attribute_value(
        h,
        data,
        &[
            (CKA_LABEL, Some(4)),
            (CKA_VALUE, Some(5)),
            (CKA_CLASS, Some(8)),
        ],
    );
    assert_rv(rv, CKR_OK, "values of a data object");
    assert_eq!(out[0].value.as_deref(), Some(&b"data"[..]));
    assert_eq!(out[1].value.as_deref(), Some(&b"value"[..]));
    assert_eq!(out[2].value, Some(ul(CKO_DATA)));
    // A larger buffer is fine and gets the true length.
    let (rv, out) = raw.get_attribute_value(h, data, &[(CKA_LABEL, Some(64))]);
    assert_rv(rv, CKR_OK, "a larger buffer");
    assert_eq!(
        (out[0].len, out[0].value.as_deref()),
        (4, Some(&b"data"[..]))
    );

    // A too-small buffer: that attribute CK_UNAVAILABLE_INFORMATION, CKR_BUFFER_TOO_SMALL,
    // the others still filled.
    let (rv, out) = raw.get_attribute_value(
        h,
        data,
        &[
            (CKA_CLASS, Some(8)),
            (CKA_VALUE, Some(2)),
            (CKA_LABEL, Some(4)),
        ],
    );
    assert_rv(rv, CKR_BUFFER_TOO_SMALL, "a too-small buffer");
    assert_eq!(out[1].len, na, "the too-small attribute's length");
    assert_eq!(
        out[0].value,
        Some(ul(CKO_DATA)),
        "the attribute before it is filled"
    );
    assert_eq!(
        out[2].value.as_deref(),
        Some(&b"data"[..]),
        "the attribute after it is filled"
    );

    // An attribute the object does not have: CKR_ATTRIBUTE_TYPE_INVALID, the rest filled.
    let (rv, out) =
        raw.get_attribute_value(h, data, &[(CKA_MODULUS, Some(256)), (CKA_LABEL, Some(4))]);
    assert_rv(
        rv,
        CKR_ATTRIBUTE_TYPE_INVALID,
        "an attribute of another class",
    );
    assert_eq!(out[0].len, na);
    assert_eq!(out[1].value.as_deref(), Some(&b"data"[..]));

    // A sensitive attribute: CKR_ATTRIBUTE_SENSITIVE, in both passes, the rest filled.
    let (rv, out) = raw.get_attribute_value(
        h,
        key,
        &[(CKA_LABEL, None), (CKA_VALUE, None), (CKA_VALUE_LEN, None)],
    );
    assert_rv(
        rv,
        CKR_ATTRIBUTE_SENSITIVE,
        "lengths with a sensitive attribute",
    );
    assert_eq!(
        out[0].len,
        label.len() as CK_ULONG,
        "CKA_LABEL length still given"
    );
    assert_eq!(out[1].len, na, "CKA_VALUE of a sensitive key");
    assert_eq!(out[2].len, 8, "CKA_VALUE_LEN length still given");
    let (rv, out) = raw.get_attribute_value(
        h,
        key,
        &[
            (CKA_LABEL, Some(label.len())),
            (CKA_VALUE, Some(32)),
            (CKA_VALUE_LEN, Some(8)),
        ],
    );
    assert_rv(
        rv,
        CKR_ATTRIBUTE_SENSITIVE,
        "values with a sensitive attribute",
    );
    assert_eq!(
        out[0].value.as_deref(),
        Some(&label[..]),
        "CKA_LABEL still filled"
    );
    assert_eq!(out[1].len, na);
    assert_ne!(
        out[1].value.as_deref(),
        Some(&[7u8; 32][..]),
        "the key bytes must not be written"
    );
    assert_eq!(out[2].value, Some(ul(32)), "CKA_VALUE_LEN still filled");

    // Unextractable (not sensitive) keys hide their value too; extractable ones show it.
    let unextractable = raw
        .create_object(
            h,
            &aes(&[(CKA_SENSITIVE, b(false)), (CKA_EXTRACTABLE, b(false))]),
        )
        .unwrap();
    let (rv, out) = raw.get_attribute_value(h, unextractable, &[(CKA_VALUE, Some(16))]);
    assert_rv(
        rv,
        CKR_ATTRIBUTE_SENSITIVE,
        "CKA_VALUE of an unextractable key",
    );
    assert_eq!(out[0].len, na);
    let open = raw
        .create_object(
            h,
            &aes(&[(CKA_SENSITIVE, b(false)), (CKA_EXTRACTABLE, b(true))]),
        )
        .unwrap();
    let (rv, out) = raw.get_attribute_value(h, open, &[(CKA_VALUE, Some(16))]);
    assert_rv(rv, CKR_OK, "CKA_VALUE of an extractable, non-sensitive key");
    assert_eq!(out[0].value, Some(vec![0; 16]));

    // The crate's own two-pass reader agrees, and skips what is unavailable.
    let got = s
        .get_attributes(
            unsafe_handle(key),
            &[
                AttributeType::Label,
                AttributeType::Value,
                AttributeType::Class,
            ],
        )
        .unwrap();
    assert!(got.contains(&Attribute::Label(label.clone())));
    assert!(got.contains(&Attribute::Class(ObjectClass::SECRET_KEY)));
    assert!(
        !got.iter().any(|a| matches!(a, Attribute::Value(_))),
        "no CKA_VALUE for a sensitive key"
    );
}

// ---------------------------------------------------------------------------- computed

fn computed_attributes(env: &Env) {
    env.run("activate");
    env.run("computed");
}

fn computed(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);

    // Generated AES key: local, always sensitive, never extractable, its mechanism, an ID.
    let gen = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Label(b"generated".to_vec()),
            ],
        )
        .unwrap();
    assert!(bool_attr(&s, gen, AttributeType::Local));
    assert!(bool_attr(&s, gen, AttributeType::AlwaysSensitive));
    assert!(bool_attr(&s, gen, AttributeType::NeverExtractable));
    assert_eq!(
        ulong_attr(&s, gen, AttributeType::KeyGenMechanism),
        CKM_AES_KEY_GEN
    );
    // CKA_CHECK_VALUE of an AES key: the first 3 bytes of AES-ECB(key, 0^128); check it with
    // the module's own ECB on the zero block.
    let kcv = bytes_attr(&s, gen, AttributeType::CheckValue);
    assert_eq!(kcv.len(), 3);
    let ecb = s.encrypt(&Mechanism::AesEcb, gen, &[0u8; 16]).unwrap();
    assert_eq!(kcv, ecb[..3], "CKA_CHECK_VALUE of a generated AES key");

    // Imported keys: not local, not always sensitive; the known KCVs of the zero keys.
    for (len, kcv) in [(16, "66e94b"), (24, "aae069"), (32, "dc95c0")] {
        let imported = s
            .create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::Value(vec![0; len]),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ])
            .unwrap();
        assert!(!bool_attr(&s, imported, AttributeType::Local));
        assert!(
            !bool_attr(&s, imported, AttributeType::AlwaysSensitive),
            "imported: never ALWAYS_SENSITIVE"
        );
        assert!(
            !bool_attr(&s, imported, AttributeType::NeverExtractable),
            "imported: never NEVER_EXTRACTABLE"
        );
        assert_eq!(
            ulong_attr(&s, imported, AttributeType::KeyGenMechanism),
            CK_UNAVAILABLE_INFORMATION
        );
        assert_eq!(
            hex(&bytes_attr(&s, imported, AttributeType::CheckValue)),
            kcv,
            "KCV of the zero AES-{}",
            len * 8
        );
        assert_eq!(
            ulong_attr(&s, imported, AttributeType::ValueLen),
            len as u64
        );
    }
    // Generated but extractable and not sensitive: neither flag.
    let loose = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(16.into()),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    assert!(!bool_attr(&s, loose, AttributeType::AlwaysSensitive));
    assert!(!bool_attr(&s, loose, AttributeType::NeverExtractable));
    assert!(bool_attr(&s, loose, AttributeType::Local));
    // Turning sensitive on later does not make it "always" sensitive.
    s.update_attributes(loose, &[Attribute::Sensitive(true)])
        .unwrap();
    assert!(!bool_attr(&s, loose, AttributeType::AlwaysSensitive));

    // CKA_UNIQUE_ID: present, non-empty, distinct, read-only.
    let ids: BTreeSet<Vec<u8>> = [gen, loose]
        .iter()
        .map(|o| bytes_attr(&s, *o, AttributeType::UniqueId))
        .collect();
    assert_eq!(ids.len(), 2, "unique IDs must differ");
    assert!(ids.iter().all(|i| !i.is_empty()));
    assert_eq!(
        rv(s.update_attributes(gen, &[Attribute::UniqueId(b"x".to_vec())])),
        Err(RvError::AttributeReadOnly)
    );

    // EC key pair: local, its mechanism, CKA_PUBLIC_KEY_INFO = the SPKI of CKA_EC_POINT.
    let (ec_pub, ec_priv) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(P256_OID.to_vec()),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Token(false),
                Attribute::Sign(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ],
        )
        .unwrap();
    for o in [ec_pub, ec_priv] {
        assert!(bool_attr(&s, o, AttributeType::Local));
        assert_eq!(
            ulong_attr(&s, o, AttributeType::KeyGenMechanism),
            CKM_EC_KEY_PAIR_GEN
        );
    }
    assert!(
        bool_attr(&s, ec_priv, AttributeType::AlwaysSensitive)
            && bool_attr(&s, ec_priv, AttributeType::NeverExtractable)
    );
    let point = der_octet_string(&bytes_attr(&s, ec_pub, AttributeType::EcPoint));
    let spki = bytes_attr(&s, ec_pub, AttributeType::PublicKeyInfo);
    let parsed = p256::PublicKey::from_public_key_der(&spki)
        .expect("CKA_PUBLIC_KEY_INFO must be a P-256 SPKI");
    assert_eq!(
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&parsed, false).as_bytes(),
        &point[..]
    );
    let priv_spki = bytes_attr(&s, ec_priv, AttributeType::PublicKeyInfo);
    assert!(
        priv_spki.is_empty() || priv_spki == spki,
        "a private key's CKA_PUBLIC_KEY_INFO is its public key's"
    );

    // RSA key pair: the same for CKA_PUBLIC_KEY_INFO; CKA_MODULUS_BITS.
    let (rsa_pub, rsa_priv) = s
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
            ],
            &[Attribute::Token(false), Attribute::Sign(true)],
        )
        .unwrap();
    assert_eq!(
        ulong_attr(&s, rsa_pub, AttributeType::KeyGenMechanism),
        CKM_RSA_PKCS_KEY_PAIR_GEN
    );
    assert!(bool_attr(&s, rsa_priv, AttributeType::Local));
    assert_eq!(ulong_attr(&s, rsa_pub, AttributeType::ModulusBits), 2048);
    let n = bytes_attr(&s, rsa_pub, AttributeType::Modulus);
    let spki = bytes_attr(&s, rsa_pub, AttributeType::PublicKeyInfo);
    let parsed = rsa::RsaPublicKey::from_public_key_der(&spki)
        .expect("CKA_PUBLIC_KEY_INFO must be an RSA SPKI");
    assert_eq!(rsa::traits::PublicKeyParts::n(&parsed).to_bytes_be(), n);
    assert_eq!(
        bytes_attr(&s, rsa_priv, AttributeType::Modulus),
        n,
        "the private key carries its modulus"
    );
}

// ---------------------------------------------------------------------------- find

fn find_visibility(env: &Env) {
    env.run("activate");
    env.run("visibility_cu1");
    env.run("visibility_cu2");
}

fn labels(s: &Session, found: &[ObjectHandle]) -> BTreeSet<String> {
    found
        .iter()
        .map(|o| String::from_utf8(bytes_attr(s, *o, AttributeType::Label)).unwrap())
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn visibility_cu1(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    s.create_object(&data("cu1-token-private", true, true, b"1"))
        .unwrap();
    s.create_object(&data("cu1-token-public", true, false, b"2"))
        .unwrap();
    s.create_object(&data("cu1-session-private", false, true, b"3"))
        .unwrap();
    s.create_object(&data("cu1-session-public", false, false, b"4"))
        .unwrap();
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::ValueLen(16.into()),
            Attribute::Label(b"cu1-key".to_vec()),
        ],
    )
    .unwrap();
    let all = set(&[
        "cu1-token-private",
        "cu1-token-public",
        "cu1-session-private",
        "cu1-session-public",
        "cu1-key",
    ]);
    assert_eq!(
        labels(&s, &find(&s, &[])),
        all,
        "an empty template finds every visible object"
    );
    assert_eq!(
        labels(
            &s,
            &find(
                &s,
                &[
                    Attribute::Class(ObjectClass::DATA),
                    Attribute::Private(true)
                ]
            )
        ),
        set(&["cu1-token-private", "cu1-session-private"])
    );
    assert_eq!(
        labels(&s, &find(&s, &[Attribute::Class(ObjectClass::SECRET_KEY)])),
        set(&["cu1-key"])
    );
    assert!(find(&s, &[Attribute::Label(b"no such label".to_vec())]).is_empty());
    s.logout().unwrap();
    assert_eq!(
        labels(&s, &find(&s, &[])),
        set(&["cu1-token-public", "cu1-session-public"]),
        "private objects are invisible before login"
    );
    // A find in progress: C_FindObjectsInit twice is an error.
    let p = hsm.raw.sys();
    let mut none: [CK_ATTRIBUTE; 0] = [];
    // SAFETY: an empty template (a valid pointer, a count of 0) matches every object.
    unsafe {
        assert_rv(
            p.C_FindObjectsInit(s.handle(), none.as_mut_ptr(), 0),
            CKR_OK,
            "C_FindObjectsInit",
        );
        assert_rv(
            p.C_FindObjectsInit(s.handle(), none.as_mut_ptr(), 0),
            CKR_OPERATION_ACTIVE,
            "a second C_FindObjectsInit",
        );
        assert_rv(
            p.C_FindObjectsFinal(s.handle()),
            CKR_OK,
            "C_FindObjectsFinal",
        );
        assert_rv(
            p.C_FindObjectsFinal(s.handle()),
            CKR_OPERATION_NOT_INITIALIZED,
            "a second C_FindObjectsFinal",
        );
    }
}

fn visibility_cu2(ctx: &Ctx) {
    let hsm = ctx.init();
    let anon = hsm.rw();
    assert_eq!(
        labels(&anon, &find(&anon, &[])),
        set(&["cu1-token-public"]),
        "before login, in a new process"
    );
    drop(anon);
    let s = hsm.user(CU2);
    assert_eq!(
        labels(&s, &find(&s, &[])),
        set(&["cu1-token-public"]),
        "cu2 sees only public objects of cu1"
    );
    assert!(
        find_label(&s, "cu1-key").is_empty(),
        "cu2 cannot see cu1's private key"
    );
    assert!(find(&s, &[Attribute::Class(ObjectClass::SECRET_KEY)]).is_empty());
    s.logout().unwrap();
    login(&s, UserType::User, CU1).unwrap();
    assert_eq!(
        labels(&s, &find(&s, &[])),
        set(&["cu1-token-private", "cu1-token-public", "cu1-key"]),
        "cu1's token objects persist"
    );
}

const MANY: usize = 10_000;

fn find_among_10000(env: &Env) {
    env.run("activate");
    env.run("create_many");
    env.run("find_among_many");
}

fn many_label(i: usize) -> String {
    format!("many-{i:05}")
}

fn create_many(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let start = Instant::now();
    for i in 0..MANY {
        // Half private, half public: both kinds of record in the store.
        s.create_object(&data(
            &many_label(i),
            true,
            i % 2 == 0,
            i.to_string().as_bytes(),
        ))
        .unwrap();
    }
    println!(
        "created {MANY} token objects in {:?} ({})",
        start.elapsed(),
        ctx.transport.as_str()
    );
}

fn find_among_many(ctx: &Ctx) {
    let hsm = ctx.init();
    let start = Instant::now();
    let s = hsm.user(CU1);
    println!(
        "login with {MANY} objects in the store: {:?}",
        start.elapsed()
    );
    for i in [4242, 7777] {
        let start = Instant::now();
        let found = find_label(&s, &many_label(i));
        let took = start.elapsed();
        println!(
            "find by label among {MANY} objects ({}): {took:?}",
            ctx.transport.as_str()
        );
        assert_eq!(
            found.len(),
            1,
            "exactly one object labelled {}",
            many_label(i)
        );
        assert_eq!(
            bytes_attr(&s, found[0], AttributeType::Value),
            i.to_string().as_bytes()
        );
        assert_eq!(bool_attr(&s, found[0], AttributeType::Private), i % 2 == 0);
    }
    let all = find(&s, &[Attribute::Class(ObjectClass::DATA)]);
    assert_eq!(all.len(), MANY, "every object is there");
    s.logout().unwrap();
    assert_eq!(
        find(&s, &[Attribute::Class(ObjectClass::DATA)]).len(),
        MANY / 2,
        "only the public half before login"
    );
    assert!(
        find_label(&s, &many_label(4242)).is_empty(),
        "a private one is invisible"
    );
    assert_eq!(
        find_label(&s, &many_label(7777)).len(),
        1,
        "a public one is visible"
    );
}

// ---------------------------------------------------------------------------- copy, size

fn copy_object_and_size(env: &Env) {
    env.run("activate");
    env.run("copy_and_size");
}

fn copy_and_size(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let original = s
        .create_object(&data("original", false, true, b"payload"))
        .unwrap();
    let copy = s
        .copy_object(
            original,
            &[Attribute::Label(b"copy".to_vec()), Attribute::Token(true)],
        )
        .unwrap();
    assert_ne!(copy, original);
    assert_eq!(bytes_attr(&s, copy, AttributeType::Label), b"copy");
    assert_eq!(bytes_attr(&s, copy, AttributeType::Value), b"payload");
    assert!(
        bool_attr(&s, copy, AttributeType::Token) && !bool_attr(&s, original, AttributeType::Token)
    );
    assert_eq!(
        bytes_attr(&s, original, AttributeType::Label),
        b"original",
        "the original is unchanged"
    );
    assert_ne!(
        bytes_attr(&s, copy, AttributeType::UniqueId),
        bytes_attr(&s, original, AttributeType::UniqueId)
    );
    s.destroy_object(original).unwrap();
    assert_eq!(
        bytes_attr(&s, copy, AttributeType::Value),
        b"payload",
        "the copy is independent"
    );

    // A copied key still works and is the same key.
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Value(vec![0x42; 32]),
            Attribute::Encrypt(true),
        ])
        .unwrap();
    let key2 = s.copy_object(key, &[]).unwrap();
    let block = [9u8; 16];
    assert_eq!(
        s.encrypt(&Mechanism::AesEcb, key, &block).unwrap(),
        s.encrypt(&Mechanism::AesEcb, key2, &block).unwrap()
    );

    // C_GetObjectSize: a positive size that grows with the value.
    let small = s
        .create_object(&data("small", false, false, &[1; 8]))
        .unwrap();
    let big = s
        .create_object(&data("big", false, false, &[1; 4000]))
        .unwrap();
    let size = |o: ObjectHandle| {
        hsm.raw
            .object_size(s.handle(), o.handle())
            .unwrap_or_else(|rv| panic!("C_GetObjectSize: {}", ckr_name(rv)))
    };
    let (small_size, big_size) = (size(small), size(big));
    assert!(
        small_size > 0 && big_size > small_size,
        "sizes {small_size} and {big_size}"
    );
    assert!(size(copy) > 0);
}
