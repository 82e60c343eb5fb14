//! Key generation and basic crypto through the built module, checked against published
//! vectors and independently with RustCrypto from the exported public keys; the error codes
//! of misused keys; the output-buffer protocol. Each step runs in its own process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use sha2::{Digest, Sha256};
use signature::hazmat::PrehashVerifier;
use signature::Verifier;

black_box_suite! {
    steps: [
        activate, secret_keys, aes_modes, digests_and_random, rsa_signatures, ec_signatures,
        hmac, misuse, output_buffers, in_place,
    ];
    scenarios: [
        secret_key_generation, aes_gcm_and_cbc, digest_and_random, rsa_sign_verify, ec_sign_verify,
        hmac_sign_verify, key_misuse, output_buffer_protocol, in_place_and_exact_buffers,
    ];
}

fn activate(ctx: &Ctx) {
    ctx.init().activate_with(&[CU1]);
}

fn scenario_steps(env: &Env, step: &str) {
    env.run("activate");
    env.run(step);
}

fn secret_key(s: &Session, key_type: KeyType, value: &[u8]) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Token(false),
        Attribute::Value(value.to_vec()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
    ])
    .unwrap()
}

// ---------------------------------------------------------------------------- key generation

fn secret_key_generation(env: &Env) {
    scenario_steps(env, "secret_keys");
}

fn gen_secret(s: &Session, mech: &Mechanism, len: u64) -> Result<ObjectHandle, RvError> {
    rv(s.generate_key(
        mech,
        &[
            Attribute::Token(false),
            Attribute::ValueLen(len.into()),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Sign(true),
            Attribute::Verify(true),
        ],
    ))
}

fn secret_keys(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    for len in [16u64, 24, 32] {
        let a = gen_secret(&s, &Mechanism::AesKeyGen, len).unwrap();
        let b = gen_secret(&s, &Mechanism::AesKeyGen, len).unwrap();
        let (va, vb) = (
            bytes_attr(&s, a, AttributeType::Value),
            bytes_attr(&s, b, AttributeType::Value),
        );
        assert_eq!(va.len() as u64, len, "AES-{} key length", len * 8);
        assert_ne!(va, vb, "two generated keys must differ");
        assert_eq!(ulong_attr(&s, a, AttributeType::ValueLen), len);
        assert_eq!(ulong_attr(&s, a, AttributeType::KeyType), CKK_AES);
        assert_eq!(ulong_attr(&s, a, AttributeType::Class), CKO_SECRET_KEY);
    }
    for len in [20u64, 0, 64] {
        let r = gen_secret(&s, &Mechanism::AesKeyGen, len);
        assert!(
            matches!(
                r,
                Err(RvError::KeySizeRange
                    | RvError::AttributeValueInvalid
                    | RvError::TemplateInconsistent
                    | RvError::TemplateIncomplete)
            ),
            "AES key of {len} bytes: {r:?}"
        );
    }
    let missing = rv(s.generate_key(&Mechanism::AesKeyGen, &[Attribute::Token(false)]));
    assert_eq!(
        missing.err(),
        Some(RvError::TemplateIncomplete),
        "AES key generation without CKA_VALUE_LEN"
    );
    for len in [1u64, 32, 800] {
        let g = gen_secret(&s, &Mechanism::GenericSecretKeyGen, len).unwrap();
        assert_eq!(
            bytes_attr(&s, g, AttributeType::Value).len() as u64,
            len,
            "generic secret of {len} bytes"
        );
        assert_eq!(
            ulong_attr(&s, g, AttributeType::KeyType),
            CKK_GENERIC_SECRET
        );
    }
    for len in [0u64, 801] {
        let r = gen_secret(&s, &Mechanism::GenericSecretKeyGen, len);
        assert!(
            matches!(
                r,
                Err(RvError::KeySizeRange
                    | RvError::AttributeValueInvalid
                    | RvError::TemplateInconsistent)
            ),
            "generic secret of {len} bytes: {r:?}"
        );
    }
    // Token keys persist with their attributes.
    let token = rv(s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::ValueLen(32.into()),
            Attribute::Label(b"aes-token".to_vec()),
        ],
    ))
    .unwrap();
    assert!(bool_attr(&s, token, AttributeType::Token));
    assert_eq!(find_label(&s, "aes-token"), vec![token]);
}

// ---------------------------------------------------------------------------- AES

fn aes_gcm_and_cbc(env: &Env) {
    scenario_steps(env, "aes_modes");
}

/// The GCM test vector of McGrew & Viega, "The Galois/Counter Mode of Operation", test case 4.
const GCM_KEY: &str = "feffe9928665731c6d6a8f9467308308";
const GCM_IV: &str = "cafebabefacedbaddecaf888";
const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const GCM_PT: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const GCM_CT: &str = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
const GCM_TAG: &str = "5bc94fbc3221a5db94fae95ae7121a47";

fn aes_modes(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let key = secret_key(&s, KeyType::AES, &unhex(GCM_KEY));
    let (aad, pt) = (unhex(GCM_AAD), unhex(GCM_PT));
    let want = [unhex(GCM_CT), unhex(GCM_TAG)].concat();
    let mut iv = unhex(GCM_IV);

    // Single-part.
    let ct = s
        .encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into()).unwrap()),
            key,
            &pt,
        )
        .unwrap();
    assert_eq!(hex(&ct), hex(&want), "AES-GCM test case 4");
    let back = s
        .decrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into()).unwrap()),
            key,
            &ct,
        )
        .unwrap();
    assert_eq!(back, pt);

    // Multi-part, in uneven pieces.
    s.encrypt_init(
        &Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into()).unwrap()),
        key,
    )
    .unwrap();
    let mut multi = Vec::new();
    for piece in [&pt[..1], &pt[1..20], &pt[20..21], &pt[21..]] {
        multi.extend(s.encrypt_update(piece).unwrap());
    }
    multi.extend(s.encrypt_final().unwrap());
    assert_eq!(hex(&multi), hex(&want), "multi-part AES-GCM");
    s.decrypt_init(
        &Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into()).unwrap()),
        key,
    )
    .unwrap();
    let mut plain = Vec::new();
    for piece in [&ct[..7], &ct[7..40], &ct[40..]] {
        plain.extend(s.decrypt_update(piece).unwrap());
    }
    plain.extend(s.decrypt_final().unwrap());
    assert_eq!(plain, pt, "multi-part AES-GCM decryption");

    // A flipped bit anywhere fails authentication, and releases no plaintext.
    for i in [0, ct.len() - 1] {
        let mut bad = ct.clone();
        bad[i] ^= 0x01;
        let r = rv(s.decrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &aad, 128.into()).unwrap()),
            key,
            &bad,
        ));
        assert!(
            r.is_err(),
            "a tampered GCM ciphertext (byte {i}) must not decrypt: {r:?}"
        );
    }
    let r = rv(s.decrypt(
        &Mechanism::AesGcm(GcmParams::new(&mut iv, b"other aad", 128.into()).unwrap()),
        key,
        &ct,
    ));
    assert!(r.is_err(), "other AAD must not decrypt");

    // A generated key round-trips.
    let gen = gen_secret(&s, &Mechanism::AesKeyGen, 32).unwrap();
    let mut iv2 = s.generate_random_vec(12).unwrap();
    let msg = b"a message under a generated key".to_vec();
    let c = s
        .encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv2, &[], 128.into()).unwrap()),
            gen,
            &msg,
        )
        .unwrap();
    assert_eq!(c.len(), msg.len() + 16);
    assert_eq!(
        s.decrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv2, &[], 128.into()).unwrap()),
            gen,
            &c
        )
        .unwrap(),
        msg
    );

    // AES-CBC-PAD: NIST SP 800-38A F.2.1 (block 1) with PKCS#7 padding of a full block.
    let cbc_key = secret_key(&s, KeyType::AES, &unhex("2b7e151628aed2a6abf7158809cf4f3c"));
    let cbc_iv: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f")
        .try_into()
        .unwrap();
    let p1 = unhex("6bc1bee22e409f96e93d7e117393172a");
    let c = s
        .encrypt(&Mechanism::AesCbcPad(cbc_iv), cbc_key, &p1)
        .unwrap();
    assert_eq!(
        hex(&c),
        "7649abac8119b246cee98e9b12e9197d8964e0b149c10b7b682e6e39aaeb731c",
        "AES-CBC-PAD"
    );
    assert_eq!(
        s.decrypt(&Mechanism::AesCbcPad(cbc_iv), cbc_key, &c)
            .unwrap(),
        p1
    );
    let odd: Vec<u8> = (0u8..45).collect();
    let single = s
        .encrypt(&Mechanism::AesCbcPad(cbc_iv), cbc_key, &odd)
        .unwrap();
    assert_eq!(single.len(), 48);
    s.encrypt_init(&Mechanism::AesCbcPad(cbc_iv), cbc_key)
        .unwrap();
    let mut multi = Vec::new();
    for piece in [&odd[..5], &odd[5..30], &odd[30..]] {
        multi.extend(s.encrypt_update(piece).unwrap());
    }
    multi.extend(s.encrypt_final().unwrap());
    assert_eq!(multi, single, "multi-part AES-CBC-PAD");
    assert_eq!(
        s.decrypt(&Mechanism::AesCbcPad(cbc_iv), cbc_key, &single)
            .unwrap(),
        odd
    );
}

// ---------------------------------------------------------------------------- digests, RNG

fn digest_and_random(env: &Env) {
    scenario_steps(env, "digests_and_random");
}

/// FIPS 180-4 examples: the digests of "abc".
const ABC: &[(Mechanism<'static>, &str)] = &[
    (Mechanism::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (Mechanism::Sha224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
    (Mechanism::Sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        Mechanism::Sha384,
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    ),
    (
        Mechanism::Sha512,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
];

fn digests_and_random(ctx: &Ctx) {
    let hsm = ctx.init();
    // Digests need no login.
    let s = hsm.ro();
    for (mech, want) in ABC {
        assert_eq!(
            hex(&s.digest(mech, b"abc").unwrap()),
            *want,
            "{:?} single-part",
            mech.mechanism_type()
        );
        s.digest_init(mech).unwrap();
        for piece in [&b"a"[..], b"", b"bc"] {
            s.digest_update(piece).unwrap();
        }
        assert_eq!(
            hex(&s.digest_final().unwrap()),
            *want,
            "{:?} multi-part",
            mech.mechanism_type()
        );
    }
    // A long message, in pieces, against RustCrypto.
    let long: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    s.digest_init(&Mechanism::Sha256).unwrap();
    for chunk in long.chunks(65_537) {
        s.digest_update(chunk).unwrap();
    }
    assert_eq!(
        s.digest_final().unwrap(),
        Sha256::digest(&long).to_vec(),
        "SHA-256 of 1 MB"
    );

    let a = s.generate_random_vec(32).unwrap();
    let b = s.generate_random_vec(32).unwrap();
    assert_ne!(a, b);
    assert!(a.iter().any(|x| *x != 0));
    let mut big = vec![0u8; 4096];
    s.generate_random_slice(&mut big).unwrap();
    let distinct: std::collections::BTreeSet<u8> = big.iter().copied().collect();
    assert!(
        distinct.len() > 200,
        "4 KiB of random bytes use most byte values"
    );
    let seeded = rv(s.seed_random(b"some seed"));
    assert!(
        matches!(seeded, Ok(()) | Err(RvError::RandomSeedNotSupported)),
        "C_SeedRandom: {seeded:?}"
    );
}

// ---------------------------------------------------------------------------- RSA

fn rsa_sign_verify(env: &Env) {
    scenario_steps(env, "rsa_signatures");
}

fn rsa_pair(s: &Session, bits: u64, label: &str) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::ModulusBits(bits.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Verify(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
    )
    .unwrap()
}

fn rsa_public(s: &Session, public: ObjectHandle) -> rsa::RsaPublicKey {
    let n = bytes_attr(s, public, AttributeType::Modulus);
    let e = bytes_attr(s, public, AttributeType::PublicExponent);
    rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n),
        rsa::BigUint::from_bytes_be(&e),
    )
    .unwrap()
}

fn pss() -> PkcsPssParams {
    PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    }
}

fn rsa_signatures(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let msg = b"the message RSA signs".to_vec();
    for bits in [2048u64, 3072] {
        let (public, private) = rsa_pair(&s, bits, &format!("rsa-{bits}"));
        assert_eq!(
            bytes_attr(&s, public, AttributeType::Modulus).len() as u64,
            bits / 8
        );
        assert_eq!(
            bytes_attr(&s, public, AttributeType::PublicExponent),
            vec![1, 0, 1]
        );
        let pk = rsa_public(&s, public);

        // CKM_SHA256_RSA_PKCS: deterministic; RustCrypto verifies it.
        let sig = s.sign(&Mechanism::Sha256RsaPkcs, private, &msg).unwrap();
        assert_eq!(sig.len() as u64, bits / 8);
        assert_eq!(
            sig,
            s.sign(&Mechanism::Sha256RsaPkcs, private, &msg).unwrap(),
            "PKCS#1 v1.5 is deterministic"
        );
        s.verify(&Mechanism::Sha256RsaPkcs, public, &msg, &sig)
            .unwrap();
        let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(pk.clone());
        vk.verify(&msg, &rsa::pkcs1v15::Signature::try_from(&sig[..]).unwrap())
            .expect("RustCrypto rejects our SHA256-RSA-PKCS signature");
        let mut bad = sig.clone();
        bad[10] ^= 0x40;
        assert_eq!(
            rv(s.verify(&Mechanism::Sha256RsaPkcs, public, &msg, &bad)),
            Err(RvError::SignatureInvalid)
        );
        assert_eq!(
            rv(s.verify(&Mechanism::Sha256RsaPkcs, public, b"another message", &sig)),
            Err(RvError::SignatureInvalid)
        );

        // Multi-part signing gives the same signature.
        s.sign_init(&Mechanism::Sha256RsaPkcs, private).unwrap();
        s.sign_update(&msg[..5]).unwrap();
        s.sign_update(&msg[5..]).unwrap();
        assert_eq!(s.sign_final().unwrap(), sig, "multi-part SHA256-RSA-PKCS");

        // CKM_SHA256_RSA_PKCS_PSS, and CKM_RSA_PKCS_PSS on the digest.
        let vk = rsa::pss::VerifyingKey::<Sha256>::new(pk.clone());
        let sig = s
            .sign(&Mechanism::Sha256RsaPkcsPss(pss()), private, &msg)
            .unwrap();
        s.verify(&Mechanism::Sha256RsaPkcsPss(pss()), public, &msg, &sig)
            .unwrap();
        vk.verify(&msg, &rsa::pss::Signature::try_from(&sig[..]).unwrap())
            .expect("RustCrypto rejects our SHA256-RSA-PKCS-PSS signature");
        let digest = Sha256::digest(&msg);
        let sig = s
            .sign(&Mechanism::RsaPkcsPss(pss()), private, &digest)
            .unwrap();
        s.verify(&Mechanism::RsaPkcsPss(pss()), public, &digest, &sig)
            .unwrap();
        vk.verify_prehash(&digest, &rsa::pss::Signature::try_from(&sig[..]).unwrap())
            .expect("RustCrypto rejects our RSA-PKCS-PSS signature of a digest");
        let mut bad = sig.clone();
        bad[0] ^= 0x01;
        assert_eq!(
            rv(s.verify(&Mechanism::RsaPkcsPss(pss()), public, &digest, &bad)),
            Err(RvError::SignatureInvalid)
        );
    }
}

// ---------------------------------------------------------------------------- EC

fn ec_sign_verify(env: &Env) {
    scenario_steps(env, "ec_signatures");
}

fn ec_pair(s: &Session, oid: &[u8], label: &str) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::EcParams(oid.to_vec()),
            Attribute::Verify(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
    )
    .unwrap()
}

fn ec_signatures(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let msg = b"the message ECDSA signs".to_vec();
    let digest = Sha256::digest(&msg);

    // P-256, checked by RustCrypto from CKA_EC_POINT.
    let (public, private) = ec_pair(&s, P256_OID, "p256");
    assert_eq!(bytes_attr(&s, public, AttributeType::EcParams), P256_OID);
    let point = der_octet_string(&bytes_attr(&s, public, AttributeType::EcPoint));
    assert_eq!(
        (point.len(), point[0]),
        (65, 0x04),
        "an uncompressed P-256 point"
    );
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();

    let sig = s.sign(&Mechanism::EcdsaSha256, private, &msg).unwrap();
    assert_eq!(sig.len(), 64, "ECDSA signatures are r || s");
    s.verify(&Mechanism::EcdsaSha256, public, &msg, &sig)
        .unwrap();
    vk.verify(&msg, &p256::ecdsa::Signature::from_slice(&sig).unwrap())
        .expect("RustCrypto rejects our ECDSA-SHA256 signature");

    let sig = s.sign(&Mechanism::Ecdsa, private, &digest).unwrap();
    s.verify(&Mechanism::Ecdsa, public, &digest, &sig).unwrap();
    vk.verify_prehash(&digest, &p256::ecdsa::Signature::from_slice(&sig).unwrap())
        .expect("RustCrypto rejects our ECDSA signature of a digest");
    // CKM_ECDSA of the digest is CKM_ECDSA_SHA256 of the message.
    s.verify(&Mechanism::EcdsaSha256, public, &msg, &sig)
        .unwrap();

    let mut bad = sig.clone();
    bad[5] ^= 0x01;
    assert_eq!(
        rv(s.verify(&Mechanism::Ecdsa, public, &digest, &bad)),
        Err(RvError::SignatureInvalid)
    );
    let short = rv(s.verify(&Mechanism::Ecdsa, public, &digest, &sig[..63]));
    assert!(
        matches!(
            short,
            Err(RvError::SignatureLenRange | RvError::SignatureInvalid)
        ),
        "a short signature: {short:?}"
    );

    // Multi-part ECDSA-SHA256.
    s.sign_init(&Mechanism::EcdsaSha256, private).unwrap();
    s.sign_update(&msg[..3]).unwrap();
    s.sign_update(&msg[3..]).unwrap();
    let sig = s.sign_final().unwrap();
    vk.verify(&msg, &p256::ecdsa::Signature::from_slice(&sig).unwrap())
        .unwrap();

    // P-384 and P-521: the module verifies its own signatures, of the right size.
    for (oid, name, len, coord) in [(P384_OID, "p384", 96, 48), (P521_OID, "p521", 132, 66)] {
        let (public, private) = ec_pair(&s, oid, name);
        let point = der_octet_string(&bytes_attr(&s, public, AttributeType::EcPoint));
        assert_eq!(
            (point.len(), point[0]),
            (1 + 2 * coord, 0x04),
            "{name} point"
        );
        let sig = s.sign(&Mechanism::EcdsaSha256, private, &msg).unwrap();
        assert_eq!(sig.len(), len, "{name} signature length");
        s.verify(&Mechanism::EcdsaSha256, public, &msg, &sig)
            .unwrap();
        let mut bad = sig.clone();
        bad[len - 1] ^= 0x01;
        assert_eq!(
            rv(s.verify(&Mechanism::EcdsaSha256, public, &msg, &bad)),
            Err(RvError::SignatureInvalid),
            "{name}"
        );
    }
    // An unknown curve is refused.
    let r = rv(s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::EcParams(unhex("06092b2403030208010107")),
        ],
        &[Attribute::Token(false)],
    ));
    assert!(
        matches!(
            r,
            Err(RvError::CurveNotSupported | RvError::DomainParamsInvalid)
        ),
        "brainpoolP256r1: {r:?}"
    );
}

// ---------------------------------------------------------------------------- HMAC

fn hmac_sign_verify(env: &Env) {
    scenario_steps(env, "hmac");
}

fn hmac(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    // RFC 4231 test case 2.
    let key = secret_key(&s, KeyType::GENERIC_SECRET, b"Jefe");
    let data = b"what do ya want for nothing?";
    let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    let mac = s.sign(&Mechanism::Sha256Hmac, key, data).unwrap();
    assert_eq!(hex(&mac), want, "HMAC-SHA256, RFC 4231 test case 2");
    s.verify(&Mechanism::Sha256Hmac, key, data, &mac).unwrap();
    s.sign_init(&Mechanism::Sha256Hmac, key).unwrap();
    s.sign_update(&data[..4]).unwrap();
    s.sign_update(&data[4..]).unwrap();
    assert_eq!(
        hex(&s.sign_final().unwrap()),
        want,
        "multi-part HMAC-SHA256"
    );
    let mut bad = mac.clone();
    bad[31] ^= 0x80;
    assert_eq!(
        rv(s.verify(&Mechanism::Sha256Hmac, key, data, &bad)),
        Err(RvError::SignatureInvalid)
    );
    // A generated generic secret.
    let gen = gen_secret(&s, &Mechanism::GenericSecretKeyGen, 32).unwrap();
    let mac = s.sign(&Mechanism::Sha256Hmac, gen, b"x").unwrap();
    assert_eq!(mac.len(), 32);
    s.verify(&Mechanism::Sha256Hmac, gen, b"x", &mac).unwrap();
    assert_eq!(
        rv(s.verify(&Mechanism::Sha256Hmac, gen, b"y", &mac)),
        Err(RvError::SignatureInvalid)
    );
}

// ---------------------------------------------------------------------------- misuse

fn key_misuse(env: &Env) {
    scenario_steps(env, "misuse");
}

fn misuse(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let (ec_pub, ec_priv) = ec_pair(&s, P256_OID, "misuse-ec");
    let (_, rsa_priv) = rsa_pair(&s, 2048, "misuse-rsa");
    let generic = gen_secret(&s, &Mechanism::GenericSecretKeyGen, 32).unwrap();
    let aes = gen_secret(&s, &Mechanism::AesKeyGen, 32).unwrap();
    let mut iv = [0u8; 12];

    // The wrong key type for the mechanism.
    let kti = Err(RvError::KeyTypeInconsistent);
    assert_eq!(
        rv(s.sign_init(&Mechanism::Sha256RsaPkcs, ec_priv)),
        kti,
        "RSA mechanism, EC key"
    );
    assert_eq!(
        rv(s.sign_init(&Mechanism::EcdsaSha256, rsa_priv)),
        kti,
        "ECDSA, RSA key"
    );
    assert_eq!(
        rv(s.sign_init(&Mechanism::Ecdsa, aes)),
        kti,
        "ECDSA, AES key"
    );
    assert_eq!(
        rv(s.encrypt_init(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
            generic
        )),
        kti,
        "AES-GCM, generic secret"
    );
    let r = rv(s.encrypt_init(
        &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
        rsa_priv,
    ));
    assert!(
        matches!(
            r,
            Err(RvError::KeyTypeInconsistent | RvError::KeyFunctionNotPermitted)
        ),
        "AES-GCM with an RSA private key: {r:?}"
    );
    assert_eq!(
        rv(s.sign_init(&Mechanism::Sha256Hmac, ec_priv)),
        kti,
        "HMAC, EC key"
    );

    // A key whose usage attribute forbids the operation.
    let (_, no_sign) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(P256_OID.to_vec()),
            ],
            &[Attribute::Token(false), Attribute::Sign(false)],
        )
        .unwrap();
    assert_eq!(
        rv(s.sign_init(&Mechanism::EcdsaSha256, no_sign)),
        Err(RvError::KeyFunctionNotPermitted),
        "CKA_SIGN=false"
    );
    let no_encrypt = rv(s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(false),
            Attribute::ValueLen(16.into()),
            Attribute::Encrypt(false),
            Attribute::Decrypt(true),
        ],
    ))
    .unwrap();
    assert_eq!(
        rv(s.encrypt_init(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
            no_encrypt
        )),
        Err(RvError::KeyFunctionNotPermitted),
        "CKA_ENCRYPT=false"
    );
    // A public key cannot sign.
    let r = rv(s.sign_init(&Mechanism::EcdsaSha256, ec_pub));
    assert!(
        matches!(
            r,
            Err(RvError::KeyTypeInconsistent | RvError::KeyFunctionNotPermitted)
        ),
        "signing with a public key: {r:?}"
    );
    // A key whose CKA_SIGN is switched off later.
    let (_, later) = ec_pair(&s, P256_OID, "later");
    s.sign(&Mechanism::EcdsaSha256, later, b"ok").unwrap();
    s.update_attributes(later, &[Attribute::Sign(false)])
        .unwrap();
    assert_eq!(
        rv(s.sign_init(&Mechanism::EcdsaSha256, later)),
        Err(RvError::KeyFunctionNotPermitted)
    );
    // Operation state: an active operation, and none.
    s.sign_init(&Mechanism::EcdsaSha256, ec_priv).unwrap();
    assert_eq!(
        rv(s.sign_init(&Mechanism::EcdsaSha256, ec_priv)),
        Err(RvError::OperationActive)
    );
    s.sign_final().unwrap();
    assert_eq!(rv(s.sign_final()), Err(RvError::OperationNotInitialized));
}

// ---------------------------------------------------------------------------- output buffers

fn output_buffer_protocol(env: &Env) {
    scenario_steps(env, "output_buffers");
}

fn output_buffers(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let (raw, h) = (&hsm.raw, s.handle());
    let (ec_pub, ec_priv) = ec_pair(&s, P256_OID, "buffers");
    let msg = b"size queries must not end the operation";

    // C_Sign: a NULL buffer asks for the size, a too-small one gets CKR_BUFFER_TOO_SMALL and
    // the size; neither ends the operation; the real call does.
    assert_rv(
        raw.sign_init(h, CKM_ECDSA_SHA256, ec_priv.handle()),
        CKR_OK,
        "C_SignInit",
    );
    let (rv1, len, _) = raw.sign(h, msg, None);
    assert_rv(rv1, CKR_OK, "C_Sign size query");
    assert_eq!(len, 64, "ECDSA P-256 signature size");
    let (rv2, len2, _) = raw.sign(h, msg, Some(10));
    assert_rv(rv2, CKR_BUFFER_TOO_SMALL, "C_Sign with 10 bytes");
    assert_eq!(len2, 64, "the needed size comes back");
    let (rv3, len3, sig) = raw.sign(h, msg, Some(len as usize));
    assert_rv(rv3, CKR_OK, "C_Sign");
    assert_eq!(len3, 64);
    s.verify(&Mechanism::EcdsaSha256, ec_pub, msg, &sig)
        .unwrap();
    let (rv4, _, _) = raw.sign(h, msg, Some(64));
    assert_rv(
        rv4,
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign after the operation ended",
    );

    // C_Digest likewise.
    assert_rv(raw.digest_init(h, CKM_SHA256), CKR_OK, "C_DigestInit");
    let (rv1, len, _) = raw.digest(h, b"abc", None);
    assert_rv(rv1, CKR_OK, "C_Digest size query");
    assert_eq!(len, 32);
    let (rv2, len2, _) = raw.digest(h, b"abc", Some(31));
    assert_rv(rv2, CKR_BUFFER_TOO_SMALL, "C_Digest with 31 bytes");
    assert_eq!(len2, 32);
    let (rv3, _, d) = raw.digest(h, b"abc", Some(32));
    assert_rv(rv3, CKR_OK, "C_Digest");
    assert_eq!(hex(&d), ABC[2].1);
    assert_rv(
        raw.digest(h, b"abc", Some(32)).0,
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Digest after the end",
    );

    // C_Encrypt with AES-GCM: the size may be an upper bound, the result is the vector.
    let key = secret_key(&s, KeyType::AES, &unhex(GCM_KEY));
    let (pt, want) = (unhex(GCM_PT), [unhex(GCM_CT), unhex(GCM_TAG)].concat());
    assert_rv(
        raw.encrypt_init_gcm(h, key.handle(), &unhex(GCM_IV), &unhex(GCM_AAD), 128),
        CKR_OK,
        "C_EncryptInit",
    );
    let (rv1, len, _) = raw.encrypt(h, &pt, None);
    assert_rv(rv1, CKR_OK, "C_Encrypt size query");
    assert!(
        len as usize >= want.len(),
        "size query {len} < {}",
        want.len()
    );
    let (rv2, len2, _) = raw.encrypt(h, &pt, Some(16));
    assert_rv(rv2, CKR_BUFFER_TOO_SMALL, "C_Encrypt with 16 bytes");
    assert!(len2 as usize >= want.len());
    let (rv3, len3, ct) = raw.encrypt(h, &pt, Some(len as usize));
    assert_rv(rv3, CKR_OK, "C_Encrypt");
    assert_eq!(
        len3 as usize,
        want.len(),
        "the exact length after the real call"
    );
    assert_eq!(hex(&ct), hex(&want));

    // C_Sign without C_SignInit.
    assert_rv(
        raw.sign(h, msg, Some(64)).0,
        CKR_OPERATION_NOT_INITIALIZED,
        "C_Sign without C_SignInit",
    );
}

// ---------------------------------------------------------------------------- in place

fn in_place_and_exact_buffers(env: &Env) {
    scenario_steps(env, "in_place");
}

/// C_EncryptInit / C_DecryptInit / C_SignInit through the raw function list.
fn raw_init(
    hsm: &Hsm,
    h: CK_SESSION_HANDLE,
    kind: &str,
    mech: CK_MECHANISM_TYPE,
    param: &mut [u8],
    key: &ObjectHandle,
) -> CK_RV {
    let mut m = CK_MECHANISM {
        mechanism: mech,
        pParameter: if param.is_empty() {
            std::ptr::null_mut()
        } else {
            param.as_mut_ptr().cast()
        },
        ulParameterLen: param.len() as CK_ULONG,
    };
    let f = hsm.raw.functions();
    // SAFETY: `m` and its parameter outlive the call.
    unsafe {
        match kind {
            "encrypt" => f.C_EncryptInit(h, &mut m, key.handle()),
            "decrypt" => f.C_DecryptInit(h, &mut m, key.handle()),
            _ => f.C_SignInit(h, &mut m, key.handle()),
        }
    }
}

/// C_Encrypt / C_Decrypt / C_Sign whose input is `buf[..len]` and whose output buffer is
/// `buf` itself (in place) or, with `separate`, a fresh buffer of `cap` bytes.
fn raw_run(
    hsm: &Hsm,
    h: CK_SESSION_HANDLE,
    kind: &str,
    buf: &mut Vec<u8>,
    len: usize,
    cap: usize,
) -> (CK_RV, usize) {
    buf.resize(buf.len().max(cap), 0);
    let p = buf.as_mut_ptr();
    let mut out_len = cap as CK_ULONG;
    let f = hsm.raw.functions();
    // SAFETY: `buf` holds `len` input bytes and has room for `cap` output bytes; PKCS#11
    // allows the output to be the input's buffer.
    let rv = unsafe {
        match kind {
            "encrypt" => f.C_Encrypt(h, p, len as CK_ULONG, p, &mut out_len),
            "decrypt" => f.C_Decrypt(h, p, len as CK_ULONG, p, &mut out_len),
            _ => f.C_Sign(h, p, len as CK_ULONG, p, &mut out_len),
        }
    };
    (rv, out_len as usize)
}

fn in_place(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let h = s.handle();
    let key = secret_key(&s, KeyType::AES, &unhex(GCM_KEY));
    let iv = [7u8; 16];
    let pt: Vec<u8> = (0u8..20).collect();

    // CBC-PAD in place (input and output the same buffer), as the spec allows.
    let want = s.encrypt(&Mechanism::AesCbcPad(iv), key, &pt).unwrap();
    assert_eq!(want.len(), 32);
    let mut buf = pt.clone();
    let mut p = iv.to_vec();
    assert_rv(
        raw_init(&hsm, h, "encrypt", CKM_AES_CBC_PAD, &mut p, &key),
        CKR_OK,
        "init",
    );
    let (rv, n) = raw_run(&hsm, h, "encrypt", &mut buf, pt.len(), 32);
    assert_rv(rv, CKR_OK, "C_Encrypt in place");
    assert_eq!(hex(&buf[..n]), hex(&want), "in-place CBC-PAD ciphertext");
    assert_rv(
        raw_init(&hsm, h, "decrypt", CKM_AES_CBC_PAD, &mut p, &key),
        CKR_OK,
        "init",
    );
    let (rv, n) = raw_run(&hsm, h, "decrypt", &mut buf, 32, 32);
    assert_rv(rv, CKR_OK, "C_Decrypt in place");
    assert_eq!(&buf[..n], &pt[..], "in-place CBC-PAD plaintext");

    // Bad padding: one error, and no decrypted bytes left in the caller's buffer.
    let mut bad = want.clone();
    bad[31] ^= 0x55;
    let mut out = vec![0xeeu8; 32];
    assert_rv(
        raw_init(&hsm, h, "decrypt", CKM_AES_CBC_PAD, &mut p, &key),
        CKR_OK,
        "init",
    );
    let mut out_len = 32 as CK_ULONG;
    // SAFETY: live buffers of the lengths given.
    let rv = unsafe {
        hsm.raw
            .functions()
            .C_Decrypt(h, bad.as_mut_ptr(), 32, out.as_mut_ptr(), &mut out_len)
    };
    assert_rv(rv, CKR_ENCRYPTED_DATA_INVALID, "bad padding");
    assert!(
        !out.windows(16).any(|w| w == &pt[..16]),
        "plaintext left behind after a padding failure"
    );

    // GCM: exact size queries, an exact-size plaintext buffer, a tampered tag.
    let mut gcm = CK_GCM_PARAMS {
        pIv: iv.as_ptr() as *mut u8,
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: std::ptr::null_mut(),
        ulAADLen: 0,
        ulTagBits: 128,
    };
    // SAFETY: a plain C struct viewed as bytes for the duration of the init calls.
    let gcm_bytes = unsafe {
        std::slice::from_raw_parts_mut(
            (&mut gcm as *mut CK_GCM_PARAMS).cast::<u8>(),
            std::mem::size_of::<CK_GCM_PARAMS>(),
        )
    };
    assert_rv(
        raw_init(&hsm, h, "encrypt", CKM_AES_GCM, gcm_bytes, &key),
        CKR_OK,
        "init",
    );
    let (rv, n, _) = hsm.raw.encrypt(h, &pt, None);
    assert_rv(rv, CKR_OK, "GCM size query");
    assert_eq!(n as usize, pt.len() + 16, "the exact GCM output length");
    let (rv, _, ct) = hsm.raw.encrypt(h, &pt, Some(n as usize));
    assert_rv(rv, CKR_OK, "GCM encrypt");
    assert_eq!(ct.len(), pt.len() + 16);
    for exact in [true, false] {
        assert_rv(
            raw_init(&hsm, h, "decrypt", CKM_AES_GCM, gcm_bytes, &key),
            CKR_OK,
            "init",
        );
        let cap = if exact { pt.len() } else { ct.len() };
        let mut out = vec![0u8; cap];
        let mut out_len = cap as CK_ULONG;
        let mut input = ct.clone();
        // SAFETY: live buffers of the lengths given.
        let rv = unsafe {
            hsm.raw.functions().C_Decrypt(
                h,
                input.as_mut_ptr(),
                input.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut out_len,
            )
        };
        assert_rv(rv, CKR_OK, "GCM decrypt");
        assert_eq!(&out[..out_len as usize], &pt[..]);
    }
    let mut forged = ct.clone();
    forged[0] ^= 1;
    assert_rv(
        raw_init(&hsm, h, "decrypt", CKM_AES_GCM, gcm_bytes, &key),
        CKR_OK,
        "init",
    );
    let mut out = vec![0u8; forged.len()];
    let mut out_len = forged.len() as CK_ULONG;
    // SAFETY: live buffers of the lengths given.
    let rv = unsafe {
        hsm.raw.functions().C_Decrypt(
            h,
            forged.as_mut_ptr(),
            forged.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut out_len,
        )
    };
    assert_rv(rv, CKR_ENCRYPTED_DATA_INVALID, "forged GCM ciphertext");
    assert!(
        out.iter().all(|b| *b == 0),
        "unauthenticated plaintext left behind"
    );

    // HMAC: size query, too small, then the MAC, the same as through the cryptoki crate.
    let mac_key = secret_key(&s, KeyType::GENERIC_SECRET, &[0x0b; 20]);
    let want = s
        .sign(&Mechanism::Sha256Hmac, mac_key, b"Hi There")
        .unwrap();
    assert_rv(
        raw_init(&hsm, h, "sign", CKM_SHA256_HMAC, &mut [], &mac_key),
        CKR_OK,
        "init",
    );
    let (rv, n, _) = hsm.raw.sign(h, b"Hi There", None);
    assert_rv(rv, CKR_OK, "HMAC size query");
    assert_eq!(n, 32);
    let (rv, n, _) = hsm.raw.sign(h, b"Hi There", Some(31));
    assert_rv(rv, CKR_BUFFER_TOO_SMALL, "HMAC into 31 bytes");
    assert_eq!(n, 32);
    let (rv, _, mac) = hsm.raw.sign(h, b"Hi There", Some(32));
    assert_rv(rv, CKR_OK, "HMAC");
    assert_eq!(hex(&mac), hex(&want));
    assert_eq!(
        hex(&mac),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "RFC 4231 test case 1"
    );
}
