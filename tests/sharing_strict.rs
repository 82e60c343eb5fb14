//! Key ownership and sharing as a PKCS#11 application meets it (C_Login with `cu2:<password>`),
//! and strict CloudHSM mode (`compat = "cloudhsm"`) through the module (issue 4, "Must
//! show"). The key is shared with `cloudhsm-cli`, as a CloudHSM user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

black_box_suite! {
    steps: [
        activate, cu1_keys, cu2_uses_shared, admin_uses_nothing, strict_behaviours,
    ];
    scenarios: [
        sharee_permissions, strict_cloudhsm_mode,
    ];
}

/// P-256's OID, DER.
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn activate(ctx: &Ctx) {
    ctx.init().activate_with(&[CU1, CU2]);
}

/// The same store, read by `cloudhsm-cli` logged in as cu1.
fn cli_as_cu1(env: &Env, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudhsm-cli"))
        .env_remove("CLOUDHSM_ROLE")
        .env_remove("CLOUDHSM_PIN")
        .env_remove("CLOUDHSM_PKCS11_CONF")
        .env_remove("CLOUDHSM_HOME")
        .arg("--store")
        .arg(env.store())
        .args(["--username", "cu1", "--role", "crypto-user", "--password"])
        .arg(CU1.split_once(':').unwrap().1)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error_code"], 0, "cloudhsm-cli {args:?}: {v}");
    v
}

fn aes_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::ValueLen(32.into()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Extractable(true),
    ]
}

/// cu1 makes token keys: "shared" (AES, to be shared), "ecdh" (a P-256 pair with CKA_DERIVE,
/// to be shared) and "mine" (AES, never shared).
fn cu1_keys(ctx: &Ctx) {
    let h = ctx.init();
    let s = h.user(CU1);
    s.generate_key(&Mechanism::AesKeyGen, &aes_template("shared"))
        .unwrap();
    s.generate_key(&Mechanism::AesKeyGen, &aes_template("mine"))
        .unwrap();
    s.generate_key(
        &Mechanism::GenericSecretKeyGen,
        &[
            Attribute::Token(true),
            Attribute::Label(b"kdf-base".to_vec()),
            Attribute::ValueLen(32.into()),
            Attribute::Derive(true),
        ],
    )
    .unwrap();
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::Label(b"ecdh".to_vec()),
            Attribute::EcParams(P256.to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Label(b"ecdh".to_vec()),
            Attribute::Derive(true),
        ],
    )
    .unwrap();
}

fn gcm_roundtrip(s: &Session, key: cryptoki::object::ObjectHandle) {
    let mut iv = [7u8; 12];
    let ct = s
        .encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into()).unwrap()),
            key,
            b"shared data",
        )
        .unwrap();
    let pt = s
        .decrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into()).unwrap()),
            key,
            &ct,
        )
        .unwrap();
    assert_eq!(pt, b"shared data");
}

/// cu2, logged in with CloudHSM's PIN form, uses what cu1 shared and nothing more.
fn cu2_uses_shared(ctx: &Ctx) {
    let h = ctx.init();
    let s = h.user(CU2);
    assert!(
        find_label(&s, "mine").is_empty(),
        "an unshared key is hidden"
    );
    let shared = one(&s, "shared");
    gcm_roundtrip(&s, shared);

    // Sharees may not modify, delete, copy, wrap (export) or re-share.
    assert_eq!(
        rv(s.update_attributes(shared, &[Attribute::Label(b"renamed".to_vec())])),
        Err(RvError::ActionProhibited)
    );
    assert_eq!(rv(s.destroy_object(shared)), Err(RvError::ActionProhibited));
    assert_eq!(
        rv(s.copy_object(shared, &[Attribute::Token(false)])),
        Err(RvError::ActionProhibited)
    );
    let own = s
        .generate_key(&Mechanism::AesKeyGen, &aes_template("cu2-wrapper"))
        .unwrap();
    assert_eq!(
        rv(s.wrap_key(&Mechanism::AesKeyWrap, own, shared)),
        Err(RvError::KeyNotWrappable)
    );
    // The owner's own key wraps fine with the same call shape (the refusal is about sharing).
    assert!(s.wrap_key(&Mechanism::AesKeyWrap, own, own).is_ok());

    // Sharees derive (ECDH) with a shared private key.
    let ecdh: Vec<_> = find(
        &s,
        &[
            Attribute::Label(b"ecdh".to_vec()),
            Attribute::Class(ObjectClass::PRIVATE_KEY),
        ],
    );
    assert_eq!(ecdh.len(), 1);
    let point = bytes_attr(&s, one_public(&s, "ecdh"), AttributeType::EcPoint);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &point);
    let derived = s
        .derive_key(
            &Mechanism::Ecdh1Derive(params),
            ecdh[0],
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        )
        .unwrap();
    gcm_roundtrip(&s, derived);
    // ...and with the other derivations (HKDF here) from a shared secret key.
    let base = one(&s, "kdf-base");
    let hkdf = HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Data(b"salt")),
        Some(b"info"),
    );
    let derived = s
        .derive_key(
            &Mechanism::HkdfDerive(hkdf),
            base,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        )
        .unwrap();
    gcm_roundtrip(&s, derived);
    println!("cu2 ok");
}

fn one_public(s: &Session, label: &str) -> cryptoki::object::ObjectHandle {
    let found = find(
        s,
        &[
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Class(ObjectClass::PUBLIC_KEY),
        ],
    );
    assert_eq!(found.len(), 1, "public key {label}");
    found[0]
}

/// Admins manage users; they never use keys, and key material never reaches them.
fn admin_uses_nothing(ctx: &Ctx) {
    let h = ctx.init();
    let s = h.so();
    // Secret and private keys are not even visible to an admin through PKCS#11 (`key list`
    // shows their metadata); public keys are, and still cannot be used.
    assert!(find_label(&s, "shared").is_empty());
    assert!(find(
        &s,
        &[
            Attribute::Label(b"ecdh".to_vec()),
            Attribute::Class(ObjectClass::PRIVATE_KEY),
        ],
    )
    .is_empty());
    let public = one_public(&s, "ecdh");
    assert_eq!(
        rv(s.verify(&Mechanism::Ecdsa, public, &[0u8; 32], &[0u8; 64])),
        Err(RvError::UserNotLoggedIn)
    );
    println!("admin ok");
}

fn sharee_permissions(env: &Env) {
    env.run("activate");
    env.run("cu1_keys");
    cli_as_cu1(
        env,
        &[
            "key",
            "share",
            "--filter",
            "attr.label=shared",
            "--username",
            "cu2",
            "--role",
            "crypto-user",
        ],
    );
    cli_as_cu1(
        env,
        &[
            "key",
            "share",
            "--filter",
            "attr.label=ecdh",
            "attr.class=private-key",
            "--username",
            "cu2",
            "--role",
            "crypto-user",
        ],
    );
    cli_as_cu1(
        env,
        &[
            "key",
            "share",
            "--filter",
            "attr.label=kdf-base",
            "--username",
            "cu2",
            "--role",
            "crypto-user",
        ],
    );
    assert!(env.run("cu2_uses_shared").contains("cu2 ok"));
    assert!(env.run("admin_uses_nothing").contains("admin ok"));
}

// ---------------------------------------------------------------------------- strict mode

/// Each behaviour `compat = "cloudhsm"` lists (docs/cloudhsm-compat.md), through the module.
fn strict_behaviours(ctx: &Ctx) {
    let h = ctx.init();
    // Only RW sessions.
    assert_eq!(
        rv(h.p11.open_ro_session(h.slot)).err(),
        Some(RvError::FunctionFailed)
    );
    // No C_InitToken / C_InitPIN / C_SetPIN (users are managed with cloudhsm-cli).
    assert_eq!(
        rv(h.p11.init_token(h.slot, &AuthPin::from(SO_PIN), "again")),
        Err(RvError::FunctionNotSupported)
    );
    let so = h.rw();
    login(&so, UserType::So, SO_PIN).unwrap();
    assert_eq!(
        rv(so.init_pin(&AuthPin::from("cu3:cu3-password"))),
        Err(RvError::FunctionNotSupported)
    );
    so.logout().unwrap();
    let s = h.user(CU1);
    assert_eq!(
        rv(s.set_pin(
            &AuthPin::from(CU1.split_once(':').unwrap().1),
            &AuthPin::from("new-password")
        )),
        Err(RvError::FunctionNotSupported)
    );

    // Keys stay private; attributes CloudHSM lacks are refused in templates.
    let mut template = aes_template("strict");
    template.push(Attribute::Private(false));
    assert_eq!(
        rv(s.generate_key(&Mechanism::AesKeyGen, &template)),
        Err(RvError::AttributeValueInvalid)
    );
    let mut template = aes_template("strict");
    template.push(Attribute::StartDate(cryptoki::types::Date::new_empty()));
    assert_eq!(
        rv(s.generate_key(&Mechanism::AesKeyGen, &template)),
        Err(RvError::TemplateInconsistent)
    );
    let key = s
        .generate_key(&Mechanism::AesKeyGen, &aes_template("strict"))
        .unwrap();
    // ...and unreadable on keys (CKR_ATTRIBUTE_TYPE_INVALID), while CloudHSM's are readable.
    for (ty, want) in [
        (
            cryptoki_sys::CKA_START_DATE,
            cryptoki_sys::CKR_ATTRIBUTE_TYPE_INVALID,
        ),
        (
            cryptoki_sys::CKA_ALLOWED_MECHANISMS,
            cryptoki_sys::CKR_ATTRIBUTE_TYPE_INVALID,
        ),
        (
            cryptoki_sys::CKA_SIGN_RECOVER,
            cryptoki_sys::CKR_ATTRIBUTE_TYPE_INVALID,
        ),
        (cryptoki_sys::CKA_LABEL, cryptoki_sys::CKR_OK),
    ] {
        let (got, _) = h
            .raw
            .get_attribute_value(s.handle(), key.handle(), &[(ty, None)]);
        assert_eq!(got, want, "attribute {ty:#x}");
    }
    // No attribute changes on keys, no copies.
    assert_eq!(
        rv(s.update_attributes(key, &[Attribute::Label(b"x".to_vec())])),
        Err(RvError::FunctionNotSupported)
    );
    assert_eq!(
        rv(s.copy_object(key, &[])),
        Err(RvError::FunctionNotSupported)
    );

    // AES-GCM: the HSM writes the IV it chose into the caller's zeroed 12-byte pIV.
    let mut iv = [0u8; 12];
    let ct = s
        .encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into()).unwrap()),
            key,
            b"strict gcm",
        )
        .unwrap();
    assert_ne!(iv, [0u8; 12], "the generated IV was written back");
    let pt = s
        .decrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into()).unwrap()),
            key,
            &ct,
        )
        .unwrap();
    assert_eq!(pt, b"strict gcm");
    // A caller-chosen IV is refused.
    let mut chosen = [9u8; 12];
    assert_eq!(
        rv(s.encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut chosen, b"", 128.into()).unwrap()),
            key,
            b"x"
        )),
        Err(RvError::MechanismParamInvalid)
    );
    // GCM is single-part only, and limited to 16,224 bytes a call.
    let mut iv = [0u8; 12];
    s.encrypt_init(
        &Mechanism::AesGcm(GcmParams::new(&mut iv, b"", 128.into()).unwrap()),
        key,
    )
    .unwrap();
    assert_eq!(
        rv(s.encrypt_update(&[0u8; 16])),
        Err(RvError::MechanismInvalid)
    );
    let mut iv = [0u8; 12];
    assert_eq!(
        rv(s.encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, b"", 128.into()).unwrap()),
            key,
            &vec![0u8; 16_225]
        )),
        Err(RvError::DataLenRange)
    );
    println!("strict ok");
}

fn strict_cloudhsm_mode(env: &Env) {
    // Users come first, in the default mode (as cloudhsm-cli would create them)...
    env.run("activate");
    // ...then the slot meets applications as SDK 5 does.
    let toml = env.cluster_toml(CONFIG_LABEL, &env.store()) + "compat = \"cloudhsm\"\n";
    env.write_config(&toml);
    assert!(env.run("strict_behaviours").contains("strict ok"));
}
