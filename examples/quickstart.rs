//! Quickstart: load the built PKCS#11 module as any application would, activate a fresh demo
//! store, create a crypto user, generate RSA, EC and AES keys, sign/verify,
//! encrypt/decrypt, list the objects, and print how to point pkcs11-tool at the module.
//!
//! Run: `cargo run --release --example quickstart`

use std::path::PathBuf;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

const SO_PIN: &str = "admin-password";
const CU: &str = "cu1:cu1-password";

fn module_path() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    target.join(profile).join("libcloudhsm_pkcs11.so")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let module = module_path();
    if !module.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release`",
            module.display()
        )
        .into());
    }
    // A fresh demo store, so the demo always starts from an unactivated cluster.
    let store = std::env::temp_dir().join("cloudhsm-quickstart");
    let _ = std::fs::remove_dir_all(&store);
    std::env::set_var("CLOUDHSM_HOME", &store);
    std::env::remove_var("CLOUDHSM_PKCS11_CONF");

    let p11 = Pkcs11::new(&module)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let info = p11.get_library_info()?;
    println!(
        "module    {} ({})",
        module.display(),
        info.library_description()
    );
    let slot = *p11.get_slots_with_token()?.first().ok_or("no slot")?;
    let token = p11.get_token_info(slot)?;
    println!(
        "slot      {} token '{}' serial {}",
        slot.id(),
        token.label(),
        token.serial_number()
    );

    // Activate the cluster: the SO PIN becomes the admin's password.
    p11.init_token(slot, &AuthPin::from(SO_PIN), "quickstart")?;
    println!("activated the cluster (admin password set)");
    {
        let so = p11.open_rw_session(slot)?;
        so.login(UserType::So, Some(&AuthPin::from(SO_PIN)))?;
        so.init_pin(&AuthPin::from(CU))?;
        so.logout()?;
    }
    println!("created crypto user cu1");

    let session = p11.open_rw_session(slot)?;
    session.login(UserType::User, Some(&AuthPin::from(CU)))?;
    println!("logged in as cu1 (PIN in CloudHSM's user:password form)");

    let label = |l: &str| Attribute::Label(l.as_bytes().to_vec());
    let (rsa_pub, rsa_priv) = session.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            label("rsa"),
        ],
        &[Attribute::Token(true), Attribute::Sign(true), label("rsa")],
    )?;
    let p256_oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let (ec_pub, ec_priv) = session.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::EcParams(p256_oid),
            label("ec"),
        ],
        &[Attribute::Token(true), Attribute::Sign(true), label("ec")],
    )?;
    let aes = session.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::ValueLen(32.into()),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            label("aes"),
        ],
    )?;
    println!("generated RSA-2048, EC P-256 and AES-256 token keys");

    let msg = b"hello from the quickstart";
    let sig = session.sign(&Mechanism::Sha256RsaPkcs, rsa_priv, msg)?;
    session.verify(&Mechanism::Sha256RsaPkcs, rsa_pub, msg, &sig)?;
    println!(
        "RSA  CKM_SHA256_RSA_PKCS  signature of {} bytes verified",
        sig.len()
    );
    let sig = session.sign(&Mechanism::EcdsaSha256, ec_priv, msg)?;
    session.verify(&Mechanism::EcdsaSha256, ec_pub, msg, &sig)?;
    println!(
        "EC   CKM_ECDSA_SHA256     signature of {} bytes verified",
        sig.len()
    );

    let mut iv = [0u8; 12];
    session.generate_random_slice(&mut iv)?;
    let ct = session.encrypt(
        &Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into())?),
        aes,
        msg,
    )?;
    let pt = session.decrypt(
        &Mechanism::AesGcm(GcmParams::new(&mut iv, b"aad", 128.into())?),
        aes,
        &ct,
    )?;
    assert_eq!(pt, msg);
    println!(
        "AES  CKM_AES_GCM          {} bytes encrypted and decrypted",
        msg.len()
    );

    println!("objects on the token:");
    for h in session.find_objects(&[])? {
        let attrs = session.get_attributes(h, &[AttributeType::Class, AttributeType::Label])?;
        let mut class = String::new();
        let mut name = String::new();
        for a in attrs {
            match a {
                Attribute::Class(c) => class = class_name(c).to_string(),
                Attribute::Label(l) => name = String::from_utf8_lossy(&l).into_owned(),
                _ => {}
            }
        }
        println!("  {class:<12} {name}");
    }
    session.logout()?;
    drop(session);
    p11.finalize()?;

    println!();
    println!("Use it from pkcs11-tool (apt-get install opensc):");
    println!("  export CLOUDHSM_HOME={}", store.display());
    println!(
        "  pkcs11-tool --module {} --login --pin {CU} --list-objects",
        std::fs::canonicalize(&module)?.display()
    );
    Ok(())
}

fn class_name(c: ObjectClass) -> &'static str {
    match c {
        ObjectClass::PUBLIC_KEY => "public key",
        ObjectClass::PRIVATE_KEY => "private key",
        ObjectClass::SECRET_KEY => "secret key",
        ObjectClass::CERTIFICATE => "certificate",
        ObjectClass::DATA => "data",
        _ => "other",
    }
}
