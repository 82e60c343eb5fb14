//! Mechanisms: the table the token offers, which keys each accepts, key generation and import
//! material, and running operations on parsed (cached) keys.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::aead_pq;
use super::api::{AttrValue, Attribute, KeyWrapPad, Mechanism, MechanismInfo, OpKind};
use super::objects::Object;
use super::vendor;
use crate::crypto::aes::{AesKey, AesStream, StreamMode};
use crate::crypto::chacha::{ChaChaKey, ChaChaStream};
use crate::crypto::des3::{self, Des3Key, Des3Mode, Des3Stream};
use crate::crypto::dh::{self, DhPrivateKey};
use crate::crypto::dsa::{self, DsaPrivateKey, DsaPublicKey};
use crate::crypto::ec::{self, Curve, EcPrivateKey, EcPublicKey};
use crate::crypto::ed25519::{self, Ed25519PrivateKey, Ed25519PublicKey};
use crate::crypto::hmac::{HmacKey, HmacStream};
use crate::crypto::pq::{MlDsaPrivate, MlDsaPublic, MlKemPrivate, MlKemPublic};
use crate::crypto::rsa::{self, RsaComponents, RsaPrivateKey, RsaPublicKey};
use crate::crypto::HashAlg;
use crate::error::{Error, Result};

/// RSA modulus sizes we generate and accept.
pub const RSA_MIN_BITS: u64 = 2048;
pub const RSA_MAX_BITS: u64 = 8192;
/// Generic secret sizes (bytes), as CloudHSM.
pub const GENERIC_MIN: u64 = 1;
pub const GENERIC_MAX: u64 = 800;

/// Whether the legacy families (DES3, FFDH, DSA) are offered: not in the FIPS build.
pub const LEGACY: bool = cfg!(not(feature = "fips"));

/// Whether a mechanism belongs to a legacy family (see [`LEGACY`]).
fn is_legacy(m: &Mechanism) -> bool {
    matches!(
        m,
        Mechanism::Des3KeyGen
            | Mechanism::Des3Ecb
            | Mechanism::Des3Cbc(_)
            | Mechanism::Des3CbcPad(_)
            | Mechanism::DhPkcsParameterGen
            | Mechanism::DhPkcsKeyPairGen
            | Mechanism::DhPkcsDerive(_)
            | Mechanism::DsaParameterGen
            | Mechanism::DsaKeyPairGen
            | Mechanism::Dsa
            | Mechanism::HashDsa(_)
    )
}

/// Refuse a legacy mechanism where the legacy families are off.
fn check_available(m: &Mechanism) -> Result<()> {
    if is_legacy(m) && !LEGACY {
        return Err(Error::MechanismInvalid);
    }
    Ok(())
}

/// The mechanism table (C_GetMechanismList / C_GetMechanismInfo).
pub fn table() -> Vec<MechanismInfo> {
    let m = |mech, min_key, max_key, flags| MechanismInfo {
        mech,
        min_key,
        max_key,
        flags,
    };
    let sv = CKF_SIGN | CKF_VERIFY;
    let ed = CKF_ENCRYPT | CKF_DECRYPT;
    let recover = CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER;
    let ec_flags = CKF_EC_F_P | CKF_EC_OID | CKF_EC_UNCOMPRESS;
    let mut t = vec![
        m(
            CKM_RSA_PKCS_KEY_PAIR_GEN,
            RSA_MIN_BITS,
            RSA_MAX_BITS,
            CKF_GENERATE_KEY_PAIR,
        ),
        m(
            CKM_EC_KEY_PAIR_GEN,
            256,
            521,
            CKF_GENERATE_KEY_PAIR | ec_flags,
        ),
        m(CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE),
        m(
            CKM_GENERIC_SECRET_KEY_GEN,
            GENERIC_MIN * 8,
            GENERIC_MAX * 8,
            CKF_GENERATE,
        ),
        m(CKM_RSA_PKCS, RSA_MIN_BITS, RSA_MAX_BITS, sv | ed | recover),
        m(CKM_RSA_X_509, RSA_MIN_BITS, RSA_MAX_BITS, sv | ed | recover),
        m(CKM_RSA_PKCS_PSS, RSA_MIN_BITS, RSA_MAX_BITS, sv),
        m(CKM_RSA_PKCS_OAEP, RSA_MIN_BITS, RSA_MAX_BITS, ed),
        m(CKM_ECDSA, 256, 521, sv | ec_flags),
        m(CKM_AES_ECB, 16, 32, ed),
        m(CKM_AES_CBC, 16, 32, ed),
        m(CKM_AES_CBC_PAD, 16, 32, ed),
        m(CKM_AES_CTR, 16, 32, ed),
        m(CKM_AES_GCM, 16, 32, ed),
        m(CKM_AES_CMAC, 16, 32, sv),
        m(CKM_AES_CMAC_GENERAL, 16, 32, sv),
        m(CKM_AES_KEY_WRAP, 16, 32, CKF_WRAP | CKF_UNWRAP),
        m(CKM_AES_KEY_WRAP_KWP, 16, 32, CKF_WRAP | CKF_UNWRAP),
        m(
            vendor::CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD,
            16,
            32,
            CKF_WRAP | CKF_UNWRAP,
        ),
        m(CKM_ECDH1_DERIVE, 256, 521, CKF_DERIVE | ec_flags),
    ];
    // OAEP also wraps and unwraps secret keys.
    for info in t.iter_mut().filter(|i| i.mech == CKM_RSA_PKCS_OAEP) {
        info.flags |= CKF_WRAP | CKF_UNWRAP;
    }
    // So do AES-GCM and AES-CBC-PAD (`wrap` / `unwrap` below): say so in CK_MECHANISM_INFO.
    for info in t
        .iter_mut()
        .filter(|i| matches!(i.mech, CKM_AES_GCM | CKM_AES_CBC_PAD))
    {
        info.flags |= CKF_WRAP | CKF_UNWRAP;
    }
    for h in [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
        t.push(m(digest_mech(h), 0, 0, CKF_DIGEST));
        t.push(m(rsa_pkcs_mech(h), RSA_MIN_BITS, RSA_MAX_BITS, sv));
        t.push(m(rsa_pss_mech(h), RSA_MIN_BITS, RSA_MAX_BITS, sv));
        t.push(m(ecdsa_mech(h), 256, 521, sv | ec_flags));
        let (hmac, general) = hmac_mechs(h);
        t.push(m(hmac, GENERIC_MIN * 8, GENERIC_MAX * 8, sv));
        t.push(m(general, GENERIC_MIN * 8, GENERIC_MAX * 8, sv));
    }
    if LEGACY {
        // DES3 keys are 24 bytes (192 bits with parity; CK_MECHANISM_INFO counts bytes).
        t.extend([
            m(CKM_DES3_KEY_GEN, 24, 24, CKF_GENERATE),
            m(CKM_DES3_ECB, 24, 24, ed),
            m(CKM_DES3_CBC, 24, 24, ed),
            m(CKM_DES3_CBC_PAD, 24, 24, ed | CKF_WRAP | CKF_UNWRAP),
            // FFDH: primes of 2048..8192 bits (parameter generation: the RFC 7919 sizes).
            m(CKM_DH_PKCS_PARAMETER_GEN, 2048, 8192, CKF_GENERATE),
            m(CKM_DH_PKCS_KEY_PAIR_GEN, 2048, 8192, CKF_GENERATE_KEY_PAIR),
            m(CKM_DH_PKCS_DERIVE, 2048, 8192, CKF_DERIVE),
            // DSA: p of 2048..3072 bits.
            m(CKM_DSA_PARAMETER_GEN, 2048, 3072, CKF_GENERATE),
            m(CKM_DSA_KEY_PAIR_GEN, 2048, 3072, CKF_GENERATE_KEY_PAIR),
            m(CKM_DSA, 2048, 3072, sv),
        ]);
        for h in [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            t.push(m(dsa_mech(h), 2048, 3072, sv));
        }
    }
    table_mechs_a(&mut t);
    t.extend(aead_pq::rows());
    for info in t.iter_mut() {
        info.flags |= aead_pq::message_flags(info.mech);
    }
    t.sort_by_key(|i| i.mech);
    t
}

/// Rows of EdDSA, CloudHSM's wrapping, the KDFs and the simple derivations (issue 3).
fn table_mechs_a(t: &mut Vec<MechanismInfo>) {
    let m = |mech, min_key, max_key, flags| MechanismInfo {
        mech,
        min_key,
        max_key,
        flags,
    };
    let wu = CKF_WRAP | CKF_UNWRAP;
    let (gmin, gmax) = (GENERIC_MIN * 8, GENERIC_MAX * 8);
    let ed_flags = CKF_EC_OID | CKF_EC_CURVENAME;
    t.extend([
        m(
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            255,
            255,
            CKF_GENERATE_KEY_PAIR | ed_flags,
        ),
        m(CKM_EDDSA, 255, 255, CKF_SIGN | CKF_VERIFY | ed_flags),
        m(
            vendor::CKM_CLOUDHSM_EDDSA,
            255,
            255,
            CKF_SIGN | CKF_VERIFY | ed_flags,
        ),
        m(
            vendor::CKM_CLOUDHSM_AES_GCM,
            16,
            32,
            CKF_ENCRYPT | CKF_DECRYPT | wu,
        ),
        m(vendor::CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD, 16, 32, wu),
        m(vendor::CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD, 16, 32, wu),
        m(CKM_RSA_AES_KEY_WRAP, RSA_MIN_BITS, RSA_MAX_BITS, wu),
        m(CKM_HKDF_KEY_GEN, gmin, gmax, CKF_GENERATE),
        m(CKM_HKDF_DERIVE, gmin, gmax, CKF_DERIVE),
        m(CKM_SP800_108_COUNTER_KDF, gmin, gmax, CKF_DERIVE),
        m(CKM_SP800_108_FEEDBACK_KDF, gmin, gmax, CKF_DERIVE),
        m(CKM_SP800_108_DOUBLE_PIPELINE_KDF, gmin, gmax, CKF_DERIVE),
        m(
            vendor::CKM_CLOUDHSM_SP800_108_COUNTER_KDF,
            gmin,
            gmax,
            CKF_DERIVE,
        ),
        m(CKM_PKCS5_PBKD2, gmin, gmax, CKF_GENERATE),
        m(CKM_CONCATENATE_BASE_AND_KEY, gmin, gmax, CKF_DERIVE),
        m(CKM_CONCATENATE_BASE_AND_DATA, gmin, gmax, CKF_DERIVE),
        m(CKM_CONCATENATE_DATA_AND_BASE, gmin, gmax, CKF_DERIVE),
        m(CKM_XOR_BASE_AND_DATA, gmin, gmax, CKF_DERIVE),
        m(CKM_EXTRACT_KEY_FROM_KEY, gmin, gmax, CKF_DERIVE),
        m(CKM_AES_MAC, 16, 32, CKF_SIGN | CKF_VERIFY),
        m(CKM_AES_MAC_GENERAL, 16, 32, CKF_SIGN | CKF_VERIFY),
    ]);
    for h in [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ] {
        t.push(m(hmac_key_gen_mech(h), gmin, gmax, CKF_GENERATE));
    }
    // The vendor NO_PAD row predates this table; every CloudHSM key wrap now works.
}

fn hmac_key_gen_mech(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKM_SHA_1_KEY_GEN,
        HashAlg::Sha224 => CKM_SHA224_KEY_GEN,
        HashAlg::Sha256 => CKM_SHA256_KEY_GEN,
        HashAlg::Sha384 => CKM_SHA384_KEY_GEN,
        HashAlg::Sha512 => CKM_SHA512_KEY_GEN,
    }
}

/// The HMAC key type a CKM_SHA*_KEY_GEN makes.
fn hmac_key_type(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKK_SHA_1_HMAC,
        HashAlg::Sha224 => CKK_SHA224_HMAC,
        HashAlg::Sha256 => CKK_SHA256_HMAC,
        HashAlg::Sha384 => CKK_SHA384_HMAC,
        HashAlg::Sha512 => CKK_SHA512_HMAC,
    }
}

fn digest_mech(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKM_SHA_1,
        HashAlg::Sha224 => CKM_SHA224,
        HashAlg::Sha256 => CKM_SHA256,
        HashAlg::Sha384 => CKM_SHA384,
        HashAlg::Sha512 => CKM_SHA512,
    }
}
fn rsa_pkcs_mech(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKM_SHA1_RSA_PKCS,
        HashAlg::Sha224 => CKM_SHA224_RSA_PKCS,
        HashAlg::Sha256 => CKM_SHA256_RSA_PKCS,
        HashAlg::Sha384 => CKM_SHA384_RSA_PKCS,
        HashAlg::Sha512 => CKM_SHA512_RSA_PKCS,
    }
}
fn rsa_pss_mech(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKM_SHA1_RSA_PKCS_PSS,
        HashAlg::Sha224 => CKM_SHA224_RSA_PKCS_PSS,
        HashAlg::Sha256 => CKM_SHA256_RSA_PKCS_PSS,
        HashAlg::Sha384 => CKM_SHA384_RSA_PKCS_PSS,
        HashAlg::Sha512 => CKM_SHA512_RSA_PKCS_PSS,
    }
}
fn ecdsa_mech(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKM_ECDSA_SHA1,
        HashAlg::Sha224 => CKM_ECDSA_SHA224,
        HashAlg::Sha256 => CKM_ECDSA_SHA256,
        HashAlg::Sha384 => CKM_ECDSA_SHA384,
        HashAlg::Sha512 => CKM_ECDSA_SHA512,
    }
}
fn dsa_mech(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKM_DSA_SHA1,
        HashAlg::Sha224 => CKM_DSA_SHA224,
        HashAlg::Sha256 => CKM_DSA_SHA256,
        HashAlg::Sha384 => CKM_DSA_SHA384,
        HashAlg::Sha512 => CKM_DSA_SHA512,
    }
}
fn hmac_mechs(h: HashAlg) -> (u64, u64) {
    match h {
        HashAlg::Sha1 => (CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL),
        HashAlg::Sha224 => (CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL),
        HashAlg::Sha256 => (CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL),
        HashAlg::Sha384 => (CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL),
        HashAlg::Sha512 => (CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL),
    }
}

/// The CKM_* number of a mechanism (CKA_ALLOWED_MECHANISMS, CKA_KEY_GEN_MECHANISM).
pub fn ck_type(m: &Mechanism) -> u64 {
    match m {
        Mechanism::AesKeyGen => CKM_AES_KEY_GEN,
        Mechanism::GenericSecretKeyGen => CKM_GENERIC_SECRET_KEY_GEN,
        Mechanism::RsaPkcsKeyPairGen => CKM_RSA_PKCS_KEY_PAIR_GEN,
        Mechanism::EcKeyPairGen => CKM_EC_KEY_PAIR_GEN,
        Mechanism::Digest(h) => digest_mech(*h),
        Mechanism::RsaPkcs => CKM_RSA_PKCS,
        Mechanism::RsaX509 => CKM_RSA_X_509,
        Mechanism::RsaPkcsPss(_) => CKM_RSA_PKCS_PSS,
        Mechanism::HashRsaPkcs(h) => rsa_pkcs_mech(*h),
        Mechanism::HashRsaPkcsPss(h, _) => rsa_pss_mech(*h),
        Mechanism::RsaPkcsOaep(_) => CKM_RSA_PKCS_OAEP,
        Mechanism::Ecdsa => CKM_ECDSA,
        Mechanism::HashEcdsa(h) => ecdsa_mech(*h),
        Mechanism::AesEcb => CKM_AES_ECB,
        Mechanism::AesCbc(_) => CKM_AES_CBC,
        Mechanism::AesCbcPad(_) => CKM_AES_CBC_PAD,
        Mechanism::AesCtr { .. } => CKM_AES_CTR,
        Mechanism::AesGcm(_) => CKM_AES_GCM,
        Mechanism::Hmac {
            hash,
            out_len: None,
        } => hmac_mechs(*hash).0,
        Mechanism::Hmac {
            hash,
            out_len: Some(_),
        } => hmac_mechs(*hash).1,
        Mechanism::AesCmac { out_len: None } => CKM_AES_CMAC,
        Mechanism::AesCmac { out_len: Some(_) } => CKM_AES_CMAC_GENERAL,
        Mechanism::AesKeyWrap { .. } => CKM_AES_KEY_WRAP,
        Mechanism::AesKeyWrapKwp { .. } => CKM_AES_KEY_WRAP_KWP,
        Mechanism::Ecdh1Derive { .. } => CKM_ECDH1_DERIVE,
        Mechanism::Des3KeyGen => CKM_DES3_KEY_GEN,
        Mechanism::Des3Ecb => CKM_DES3_ECB,
        Mechanism::Des3Cbc(_) => CKM_DES3_CBC,
        Mechanism::Des3CbcPad(_) => CKM_DES3_CBC_PAD,
        Mechanism::DhPkcsParameterGen => CKM_DH_PKCS_PARAMETER_GEN,
        Mechanism::DhPkcsKeyPairGen => CKM_DH_PKCS_KEY_PAIR_GEN,
        Mechanism::DhPkcsDerive(_) => CKM_DH_PKCS_DERIVE,
        Mechanism::DsaParameterGen => CKM_DSA_PARAMETER_GEN,
        Mechanism::DsaKeyPairGen => CKM_DSA_KEY_PAIR_GEN,
        Mechanism::Dsa => CKM_DSA,
        Mechanism::HashDsa(h) => dsa_mech(*h),
        Mechanism::EcEdwardsKeyPairGen => CKM_EC_EDWARDS_KEY_PAIR_GEN,
        Mechanism::Eddsa { vendor: false, .. } => CKM_EDDSA,
        Mechanism::Eddsa { vendor: true, .. } => vendor::CKM_CLOUDHSM_EDDSA,
        Mechanism::CloudhsmAesGcm(_) => vendor::CKM_CLOUDHSM_AES_GCM,
        Mechanism::CloudhsmAesKeyWrap { pad, .. } => match pad {
            KeyWrapPad::None => vendor::CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD,
            KeyWrapPad::Pkcs5 => vendor::CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD,
            KeyWrapPad::Zero => vendor::CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD,
        },
        Mechanism::RsaAesKeyWrap { .. } => CKM_RSA_AES_KEY_WRAP,
        Mechanism::HkdfKeyGen => CKM_HKDF_KEY_GEN,
        Mechanism::HkdfDerive(_) => CKM_HKDF_DERIVE,
        Mechanism::Sp800108(p) => p.mech,
        Mechanism::Pbkdf2(_) => CKM_PKCS5_PBKD2,
        Mechanism::ConcatenateBaseAndKey(_) => CKM_CONCATENATE_BASE_AND_KEY,
        Mechanism::ConcatenateBaseAndData(_) => CKM_CONCATENATE_BASE_AND_DATA,
        Mechanism::ConcatenateDataAndBase(_) => CKM_CONCATENATE_DATA_AND_BASE,
        Mechanism::XorBaseAndData(_) => CKM_XOR_BASE_AND_DATA,
        Mechanism::ExtractKeyFromKey(_) => CKM_EXTRACT_KEY_FROM_KEY,
        Mechanism::HmacKeyGen(h) => hmac_key_gen_mech(*h),
        Mechanism::AesMac { out_len: None } => CKM_AES_MAC,
        Mechanism::AesMac { out_len: Some(_) } => CKM_AES_MAC_GENERAL,
        Mechanism::AesCcm(_) => CKM_AES_CCM,
        Mechanism::ChaCha20KeyGen => CKM_CHACHA20_KEY_GEN,
        Mechanism::ChaCha20 { .. } => CKM_CHACHA20,
        Mechanism::ChaCha20Poly1305 { .. } => CKM_CHACHA20_POLY1305,
        Mechanism::Message(m) => aead_pq::message_ck_type(*m),
        Mechanism::MlKemKeyPairGen => CKM_ML_KEM_KEY_PAIR_GEN,
        Mechanism::MlKem => CKM_ML_KEM,
        Mechanism::MlDsaKeyPairGen => CKM_ML_DSA_KEY_PAIR_GEN,
        Mechanism::MlDsa(_) => CKM_ML_DSA,
    }
}

/// Whether CKA_EC_PARAMS of an object name Ed25519 (CloudHSM makes Ed25519 keys as CKK_EC).
fn is_ed25519(obj: &Object) -> bool {
    obj.bytes(CKA_EC_PARAMS).is_some_and(ed25519::is_params)
}

/// A key parsed once and kept with its cache entry.
pub enum ParsedKey {
    RsaPrivate(RsaPrivateKey),
    RsaPublic(RsaPublicKey),
    EcPrivate(EcPrivateKey),
    EcPublic(EcPublicKey),
    Aes(Arc<AesKey>),
    Hmac(HmacKey, Zeroizing<Vec<u8>>),
    Des3(Arc<Des3Key>),
    DhPrivate(DhPrivateKey),
    DsaPrivate(DsaPrivateKey),
    DsaPublic(DsaPublicKey),
    EdPrivate(Ed25519PrivateKey),
    EdPublic(Ed25519PublicKey),
    ChaCha(Arc<ChaChaKey>),
    MlKemPrivate(MlKemPrivate),
    MlKemPublic(MlKemPublic),
    MlDsaPrivate(MlDsaPrivate),
    MlDsaPublic(MlDsaPublic),
}

fn attr_bytes(obj: &Object, ty: u64) -> Result<&[u8]> {
    obj.bytes(ty).ok_or(Error::GeneralError)
}

fn rsa_components(obj: &Object) -> Result<RsaComponents> {
    let z = |ty| attr_bytes(obj, ty).map(|b| Zeroizing::new(b.to_vec()));
    Ok(RsaComponents {
        n: attr_bytes(obj, CKA_MODULUS)?.to_vec(),
        e: attr_bytes(obj, CKA_PUBLIC_EXPONENT)?.to_vec(),
        d: z(CKA_PRIVATE_EXPONENT)?,
        p: z(CKA_PRIME_1)?,
        q: z(CKA_PRIME_2)?,
        dp: z(CKA_EXPONENT_1)?,
        dq: z(CKA_EXPONENT_2)?,
        qinv: z(CKA_COEFFICIENT)?,
    })
}

/// Parse an object's key material.
pub fn parse(obj: &Object) -> Result<ParsedKey> {
    if aead_pq::parses(obj) {
        return aead_pq::parse(obj);
    }
    match (obj.class(), obj.key_type()) {
        (CKO_PRIVATE_KEY, Some(CKK_EC_EDWARDS | CKK_EC)) if is_ed25519(obj) => Ok(
            ParsedKey::EdPrivate(Ed25519PrivateKey::from_seed(attr_bytes(obj, CKA_VALUE)?)?),
        ),
        (CKO_PUBLIC_KEY, Some(CKK_EC_EDWARDS | CKK_EC)) if is_ed25519(obj) => {
            let point = ed25519::point_from_der(attr_bytes(obj, CKA_EC_POINT)?)?;
            Ok(ParsedKey::EdPublic(Ed25519PublicKey::from_bytes(&point)?))
        }
        (CKO_PRIVATE_KEY | CKO_PUBLIC_KEY, Some(CKK_EC_EDWARDS)) => Err(Error::KeyTypeInconsistent),
        (CKO_PRIVATE_KEY, Some(CKK_RSA)) => Ok(ParsedKey::RsaPrivate(
            RsaPrivateKey::from_components(&rsa_components(obj)?)?,
        )),
        (CKO_PUBLIC_KEY, Some(CKK_RSA)) => Ok(ParsedKey::RsaPublic(RsaPublicKey::from_components(
            attr_bytes(obj, CKA_MODULUS)?,
            attr_bytes(obj, CKA_PUBLIC_EXPONENT)?,
        )?)),
        (CKO_PRIVATE_KEY, Some(CKK_EC)) => {
            let curve = Curve::from_params(attr_bytes(obj, CKA_EC_PARAMS)?)?;
            Ok(ParsedKey::EcPrivate(EcPrivateKey::from_scalar(
                curve,
                attr_bytes(obj, CKA_VALUE)?,
            )?))
        }
        (CKO_PUBLIC_KEY, Some(CKK_EC)) => {
            let curve = Curve::from_params(attr_bytes(obj, CKA_EC_PARAMS)?)?;
            let point = ec::ec_point_from_der(attr_bytes(obj, CKA_EC_POINT)?)?;
            Ok(ParsedKey::EcPublic(EcPublicKey::from_point(curve, &point)?))
        }
        (CKO_SECRET_KEY, Some(CKK_AES)) => Ok(ParsedKey::Aes(Arc::new(AesKey::new(attr_bytes(
            obj, CKA_VALUE,
        )?)?))),
        (CKO_PRIVATE_KEY, Some(CKK_DH)) => Ok(ParsedKey::DhPrivate(DhPrivateKey::new(
            attr_bytes(obj, CKA_PRIME)?,
            attr_bytes(obj, CKA_BASE)?,
            attr_bytes(obj, CKA_VALUE)?,
        )?)),
        (CKO_PRIVATE_KEY, Some(CKK_DSA)) => Ok(ParsedKey::DsaPrivate(DsaPrivateKey::new(
            attr_bytes(obj, CKA_PRIME)?,
            attr_bytes(obj, CKA_SUBPRIME)?,
            attr_bytes(obj, CKA_BASE)?,
            attr_bytes(obj, CKA_VALUE)?,
        )?)),
        (CKO_PUBLIC_KEY, Some(CKK_DSA)) => Ok(ParsedKey::DsaPublic(DsaPublicKey::new(
            attr_bytes(obj, CKA_PRIME)?,
            attr_bytes(obj, CKA_SUBPRIME)?,
            attr_bytes(obj, CKA_BASE)?,
            attr_bytes(obj, CKA_VALUE)?,
        )?)),
        (CKO_SECRET_KEY, Some(CKK_DES3)) => Ok(ParsedKey::Des3(Arc::new(Des3Key::new(
            attr_bytes(obj, CKA_VALUE)?,
        )?))),
        (CKO_SECRET_KEY, Some(_)) => {
            // Generic secrets (and HMAC key types) key HMAC; the hash is chosen per operation.
            let v = Zeroizing::new(attr_bytes(obj, CKA_VALUE)?.to_vec());
            Ok(ParsedKey::Hmac(HmacKey::new(HashAlg::Sha256, &v), v))
        }
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// Which key type and class a mechanism needs for an operation, and which usage attribute.
fn requirements(kind: OpKind, mech: &Mechanism) -> Result<(u64, u64, u64)> {
    use Mechanism as M;
    let usage = match kind {
        OpKind::Encrypt => CKA_ENCRYPT,
        OpKind::Decrypt => CKA_DECRYPT,
        OpKind::Sign => CKA_SIGN,
        OpKind::Verify => CKA_VERIFY,
        OpKind::SignRecover => CKA_SIGN_RECOVER,
        OpKind::VerifyRecover => CKA_VERIFY_RECOVER,
    };
    let asym_class = match kind {
        OpKind::Encrypt | OpKind::Verify | OpKind::VerifyRecover => CKO_PUBLIC_KEY,
        OpKind::Decrypt | OpKind::Sign | OpKind::SignRecover => CKO_PRIVATE_KEY,
    };
    let signing = matches!(kind, OpKind::Sign | OpKind::Verify);
    if matches!(kind, OpKind::SignRecover | OpKind::VerifyRecover) {
        // Only the RSA mechanisms whose signature carries the data recover it.
        return match mech {
            M::RsaPkcs | M::RsaX509 => Ok((CKK_RSA, asym_class, usage)),
            _ => Err(Error::MechanismInvalid),
        };
    }
    let (key_type, class) = match mech {
        M::RsaPkcs | M::RsaX509 => (CKK_RSA, asym_class),
        M::RsaPkcsPss(_) | M::HashRsaPkcs(_) | M::HashRsaPkcsPss(..) if signing => {
            (CKK_RSA, asym_class)
        }
        M::RsaPkcsOaep(_) if !signing => (CKK_RSA, asym_class),
        M::Ecdsa | M::HashEcdsa(_) if signing => (CKK_EC, asym_class),
        M::AesEcb | M::AesCbc(_) | M::AesCbcPad(_) | M::AesCtr { .. } | M::AesGcm(_)
            if !signing =>
        {
            (CKK_AES, CKO_SECRET_KEY)
        }
        M::Hmac { .. } if signing => (CKK_GENERIC_SECRET, CKO_SECRET_KEY),
        M::AesCmac { .. } if signing => (CKK_AES, CKO_SECRET_KEY),
        M::Des3Ecb | M::Des3Cbc(_) | M::Des3CbcPad(_) if !signing && LEGACY => {
            (CKK_DES3, CKO_SECRET_KEY)
        }
        M::Dsa | M::HashDsa(_) if signing && LEGACY => (CKK_DSA, asym_class),
        M::Eddsa { .. } if signing => (CKK_EC_EDWARDS, asym_class),
        M::AesMac { .. } if signing => (CKK_AES, CKO_SECRET_KEY),
        M::CloudhsmAesGcm(_) if !signing => (CKK_AES, CKO_SECRET_KEY),
        M::AesCcm(_) if !signing => (CKK_AES, CKO_SECRET_KEY),
        M::ChaCha20 { .. } | M::ChaCha20Poly1305 { .. } if !signing => {
            (CKK_CHACHA20, CKO_SECRET_KEY)
        }
        M::MlDsa(_) if signing => (CKK_ML_DSA, asym_class),
        M::Message(m) => aead_pq::message_requirements(kind, *m)?,
        _ => return Err(Error::MechanismInvalid),
    };
    Ok((key_type, class, usage))
}

/// Check a key may be used for this operation and mechanism (C_*Init).
pub fn check_key(kind: OpKind, mech: &Mechanism, obj: &Object) -> Result<()> {
    check_available(mech)?;
    let (key_type, class, usage) = requirements(kind, mech)?;
    let kt = obj.key_type().ok_or(Error::KeyTypeInconsistent)?;
    // Ed25519 keys: CKK_EC_EDWARDS, or CKK_EC with the Ed25519 OID as CloudHSM makes them.
    let ed_key = matches!(kt, CKK_EC_EDWARDS | CKK_EC) && is_ed25519(obj);
    if (key_type == CKK_EC_EDWARDS) != ed_key {
        return Err(Error::KeyTypeInconsistent);
    }
    let type_ok = kt == key_type
        || ed_key
        || (key_type == CKK_GENERIC_SECRET
            && matches!(
                kt,
                CKK_SHA_1_HMAC
                    | CKK_SHA224_HMAC
                    | CKK_SHA256_HMAC
                    | CKK_SHA384_HMAC
                    | CKK_SHA512_HMAC
            ));
    if !type_ok || obj.class() != class {
        return Err(Error::KeyTypeInconsistent);
    }
    if !obj.bool(usage) {
        return Err(Error::KeyFunctionNotPermitted);
    }
    if let Some(AttrValue::Mechanisms(allowed)) = obj.attrs.get(&CKA_ALLOWED_MECHANISMS) {
        if !allowed.is_empty() && !allowed.contains(&ck_type(mech)) {
            return Err(Error::MechanismInvalid);
        }
    }
    check_params(mech)
}

fn check_params(mech: &Mechanism) -> Result<()> {
    match mech {
        Mechanism::AesGcm(p)
            if (p.iv.is_empty()
                || p.iv.len() > 256
                || !matches!(p.tag_bits, 32..=128)
                || p.tag_bits % 8 != 0) =>
        {
            return Err(Error::MechanismParamInvalid);
        }
        Mechanism::AesCtr { counter_bits, .. } if !(1..=128).contains(counter_bits) => {
            return Err(Error::MechanismParamInvalid)
        }
        Mechanism::Hmac {
            hash,
            out_len: Some(l),
        } if *l == 0 || *l > hash.len() as u64 => return Err(Error::MechanismParamInvalid),
        Mechanism::AesCmac { out_len: Some(l) } | Mechanism::AesMac { out_len: Some(l) }
            if *l == 0 || *l > 16 =>
        {
            return Err(Error::MechanismParamInvalid)
        }
        // Ed25519ph and Ed25519ctx are not offered: pure Ed25519 only.
        Mechanism::Eddsa {
            params: Some((ph, ctx)),
            ..
        } if *ph || !ctx.is_empty() => return Err(Error::MechanismParamInvalid),
        Mechanism::CloudhsmAesGcm(p)
            if (!p.iv.is_empty() || !matches!(p.tag_bits, 32..=128) || p.tag_bits % 8 != 0) =>
        {
            return Err(Error::MechanismParamInvalid)
        }
        Mechanism::RsaPkcsPss(p) | Mechanism::HashRsaPkcsPss(_, p) => {
            if let Mechanism::HashRsaPkcsPss(h, _) = mech {
                if *h != p.hash {
                    return Err(Error::MechanismParamInvalid);
                }
            }
        }
        _ => return aead_pq::check_params(mech),
    }
    Ok(())
}

/// State of a multi-part operation in the core.
pub enum OpState {
    /// Nothing fed yet: single-part, or multi-part that has not started.
    Fresh,
    /// Buffered input (GCM, where nothing may be released before the tag is checked).
    Buffer(Zeroizing<Vec<u8>>),
    Aes(Box<AesStream>),
    Hmac(Box<HmacStream>),
    Des3(Box<Des3Stream>),
    /// A digest moved into the core by C_DigestKey.
    Digest(Box<crate::crypto::digest::Hasher>),
    /// CKM_CHACHA20's keystream position.
    ChaCha(Box<ChaChaStream>),
    /// A message-based operation: the next generated IV counter.
    Message(u64),
}

fn hmac_for(key: &Zeroizing<Vec<u8>>, hash: HashAlg) -> HmacKey {
    HmacKey::new(hash, key)
}

fn digest_len_ok(mech: &Mechanism, data: &[u8]) -> Result<()> {
    match mech.prehashed() {
        Some(h) if data.len() != h.len() => Err(Error::DataLenRange),
        _ => Ok(()),
    }
}

/// A single-part operation. For Verify, `extra` is the signature and the output is empty.
pub fn one_shot(
    kind: OpKind,
    mech: &Mechanism,
    key: &ParsedKey,
    data: &[u8],
    extra: &[u8],
) -> Result<Vec<u8>> {
    use Mechanism as M;
    use ParsedKey as K;
    digest_len_ok(mech, data)?;
    match (kind, mech, key) {
        (OpKind::Sign, M::HashRsaPkcs(h), K::RsaPrivate(k)) => k.sign_pkcs1(*h, data),
        (OpKind::Sign, M::RsaPkcs, K::RsaPrivate(k)) => k.sign_pkcs1_raw(data),
        (OpKind::Sign, M::RsaX509, K::RsaPrivate(k)) => k.raw_private(data),
        (OpKind::SignRecover, M::RsaPkcs, K::RsaPrivate(k)) => k.sign_pkcs1_raw(data),
        (OpKind::SignRecover, M::RsaX509, K::RsaPrivate(k)) => k.raw_private(data),
        // C_VerifyRecover: `data` is the signature, the output the recovered data.
        (OpKind::VerifyRecover, M::RsaPkcs, K::RsaPublic(k)) => k.recover_pkcs1(data),
        (OpKind::VerifyRecover, M::RsaX509, K::RsaPublic(k)) => {
            if data.len() != k.modulus_len() {
                return Err(Error::SignatureLenRange);
            }
            k.raw_public(data).map_err(|e| match e {
                Error::DataInvalid => Error::SignatureInvalid,
                other => other,
            })
        }
        (OpKind::Sign, M::RsaPkcsPss(p), K::RsaPrivate(k)) => {
            if data.len() != p.hash.len() {
                return Err(Error::DataLenRange);
            }
            k.sign_pss(p.hash, p.mgf, usize_of(p.salt_len)?, data)
        }
        (OpKind::Sign, M::HashRsaPkcsPss(_, p), K::RsaPrivate(k)) => {
            k.sign_pss(p.hash, p.mgf, usize_of(p.salt_len)?, data)
        }
        (OpKind::Verify, M::HashRsaPkcs(h), K::RsaPublic(k)) => {
            k.verify_pkcs1(*h, data, extra).map(|()| Vec::new())
        }
        (OpKind::Verify, M::RsaPkcs, K::RsaPublic(k)) => {
            k.verify_pkcs1_raw(data, extra).map(|()| Vec::new())
        }
        (OpKind::Verify, M::RsaX509, K::RsaPublic(k)) => {
            if extra.len() != k.modulus_len() {
                return Err(Error::SignatureLenRange);
            }
            let recovered = k.raw_public(extra)?;
            let mut padded = vec![0u8; k.modulus_len().saturating_sub(data.len())];
            padded.extend_from_slice(data);
            if subtle::ConstantTimeEq::ct_eq(recovered.as_slice(), padded.as_slice()).into() {
                Ok(Vec::new())
            } else {
                Err(Error::SignatureInvalid)
            }
        }
        (OpKind::Verify, M::RsaPkcsPss(p), K::RsaPublic(k)) => {
            if data.len() != p.hash.len() {
                return Err(Error::DataLenRange);
            }
            k.verify_pss(p.hash, p.mgf, usize_of(p.salt_len)?, data, extra)
                .map(|()| Vec::new())
        }
        (OpKind::Verify, M::HashRsaPkcsPss(_, p), K::RsaPublic(k)) => k
            .verify_pss(p.hash, p.mgf, usize_of(p.salt_len)?, data, extra)
            .map(|()| Vec::new()),
        (OpKind::Encrypt, M::RsaPkcsOaep(p), K::RsaPublic(k)) => {
            k.encrypt_oaep(p.hash, p.mgf, &p.label, data)
        }
        (OpKind::Decrypt, M::RsaPkcsOaep(p), K::RsaPrivate(k)) => k
            .decrypt_oaep(p.hash, p.mgf, &p.label, data)
            .map(|z| z.to_vec()),
        (OpKind::Encrypt, M::RsaPkcs, K::RsaPublic(k)) => k.encrypt_pkcs1(data),
        (OpKind::Decrypt, M::RsaPkcs, K::RsaPrivate(k)) => {
            k.decrypt_pkcs1(data).map(|z| z.to_vec())
        }
        (OpKind::Encrypt, M::RsaX509, K::RsaPublic(k)) => k.raw_public(data),
        (OpKind::Decrypt, M::RsaX509, K::RsaPrivate(k)) => k.raw_private(data),
        (OpKind::Sign, M::Ecdsa | M::HashEcdsa(_), K::EcPrivate(k)) => k.sign_digest(data),
        (OpKind::Verify, M::Ecdsa | M::HashEcdsa(_), K::EcPublic(k)) => {
            k.verify_digest(data, extra).map(|()| Vec::new())
        }
        (_, M::AesCcm(_) | M::ChaCha20 { .. } | M::ChaCha20Poly1305 { .. } | M::MlDsa(_), _) => {
            aead_pq::one_shot(kind, mech, key, data, extra)
        }
        (OpKind::Encrypt, M::AesGcm(p), K::Aes(k)) => {
            k.gcm_seal(&p.iv, &p.aad, data, tag_len(p.tag_bits))
        }
        (OpKind::Decrypt, M::AesGcm(p), K::Aes(k)) => k
            .gcm_open(&p.iv, &p.aad, data, tag_len(p.tag_bits))
            .map(|z| z.to_vec()),
        (OpKind::Encrypt, M::AesEcb, K::Aes(k)) => k.ecb_encrypt(data),
        (OpKind::Decrypt, M::AesEcb, K::Aes(k)) => k.ecb_decrypt(data).map(|z| z.to_vec()),
        (OpKind::Encrypt, M::AesCbc(iv), K::Aes(k)) => k.cbc_encrypt(iv, data, false),
        (OpKind::Decrypt, M::AesCbc(iv), K::Aes(k)) => {
            k.cbc_decrypt(iv, data, false).map(|z| z.to_vec())
        }
        (OpKind::Encrypt, M::AesCbcPad(iv), K::Aes(k)) => k.cbc_encrypt(iv, data, true),
        (OpKind::Decrypt, M::AesCbcPad(iv), K::Aes(k)) => {
            k.cbc_decrypt(iv, data, true).map(|z| z.to_vec())
        }
        (OpKind::Encrypt | OpKind::Decrypt, M::AesCtr { counter_bits, cb }, K::Aes(k)) => {
            k.ctr_xor(cb, usize_of(*counter_bits)?, data)
        }
        (OpKind::Sign, M::Dsa | M::HashDsa(_), K::DsaPrivate(k)) => {
            dsa_digest_len_ok(mech, data)?;
            k.sign(data)
        }
        (OpKind::Verify, M::Dsa | M::HashDsa(_), K::DsaPublic(k)) => {
            dsa_digest_len_ok(mech, data)?;
            k.verify(data, extra).map(|()| Vec::new())
        }
        (OpKind::Encrypt, M::Des3Ecb, K::Des3(k)) => k.ecb_encrypt(data),
        (OpKind::Decrypt, M::Des3Ecb, K::Des3(k)) => k.ecb_decrypt(data).map(|z| z.to_vec()),
        (OpKind::Encrypt, M::Des3Cbc(iv), K::Des3(k)) => k.cbc_encrypt(iv, data, false),
        (OpKind::Decrypt, M::Des3Cbc(iv), K::Des3(k)) => {
            k.cbc_decrypt(iv, data, false).map(|z| z.to_vec())
        }
        (OpKind::Encrypt, M::Des3CbcPad(iv), K::Des3(k)) => k.cbc_encrypt(iv, data, true),
        (OpKind::Decrypt, M::Des3CbcPad(iv), K::Des3(k)) => {
            k.cbc_decrypt(iv, data, true).map(|z| z.to_vec())
        }
        (OpKind::Sign, M::Hmac { hash, out_len }, K::Hmac(_, v)) => {
            let mut mac = hmac_for(v, *hash).sign(data);
            mac.truncate(out_len.map_or(hash.len(), |l| l as usize));
            Ok(mac)
        }
        (OpKind::Verify, M::Hmac { hash, out_len }, K::Hmac(_, v)) => {
            let want = out_len.map_or(hash.len(), |l| l as usize);
            if extra.len() != want {
                return Err(Error::SignatureLenRange);
            }
            hmac_for(v, *hash).verify(data, extra).map(|()| Vec::new())
        }
        (OpKind::Sign, M::AesCmac { out_len }, K::Aes(k)) => {
            let mac = k.cmac(data)?;
            Ok(mac[..out_len.map_or(16, |l| l as usize)].to_vec())
        }
        (OpKind::Verify, M::AesCmac { out_len }, K::Aes(k)) => {
            let want = out_len.map_or(16, |l| l as usize);
            if extra.len() != want {
                return Err(Error::SignatureLenRange);
            }
            let mac = k.cmac(data)?;
            if subtle::ConstantTimeEq::ct_eq(&mac[..want], extra).into() {
                Ok(Vec::new())
            } else {
                Err(Error::SignatureInvalid)
            }
        }
        (OpKind::Sign, M::Eddsa { .. }, K::EdPrivate(k)) => Ok(k.sign(data)),
        (OpKind::Verify, M::Eddsa { .. }, K::EdPublic(k)) => {
            k.verify(data, extra).map(|()| Vec::new())
        }
        (OpKind::Encrypt, M::CloudhsmAesGcm(p), K::Aes(k)) => cloudhsm_gcm_seal(k, p, data),
        (OpKind::Decrypt, M::CloudhsmAesGcm(p), K::Aes(k)) => {
            cloudhsm_gcm_open(k, p, data).map(|z| z.to_vec())
        }
        (OpKind::Sign, M::AesMac { out_len }, K::Aes(k)) => {
            let mac = aes_cbc_mac(k, data)?;
            Ok(mac[..out_len.map_or(8, |l| l as usize)].to_vec())
        }
        (OpKind::Verify, M::AesMac { out_len }, K::Aes(k)) => {
            let want = out_len.map_or(8, |l| l as usize);
            if extra.len() != want {
                return Err(Error::SignatureLenRange);
            }
            let mac = aes_cbc_mac(k, data)?;
            if subtle::ConstantTimeEq::ct_eq(&mac[..want], extra).into() {
                Ok(Vec::new())
            } else {
                Err(Error::SignatureInvalid)
            }
        }
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// CKM_DSA signs a caller's digest: one of the SHA-1 / SHA-2 lengths.
fn dsa_digest_len_ok(mech: &Mechanism, data: &[u8]) -> Result<()> {
    if *mech == Mechanism::Dsa && !matches!(data.len(), 20 | 28 | 32 | 48 | 64) {
        return Err(Error::DataLenRange);
    }
    Ok(())
}

/// The IV length CKM_CLOUDHSM_AES_GCM generates and prepends.
const CLOUDHSM_GCM_IV: usize = 12;

/// CKM_CLOUDHSM_AES_GCM encryption: a fresh 12-byte IV, prepended to ciphertext || tag.
fn cloudhsm_gcm_seal(k: &AesKey, p: &super::api::GcmParams, data: &[u8]) -> Result<Vec<u8>> {
    let mut iv = [0u8; CLOUDHSM_GCM_IV];
    crate::crypto::rng::fill(&mut iv)?;
    let ct = k.gcm_seal(&iv, &p.aad, data, tag_len(p.tag_bits))?;
    let mut out = Vec::with_capacity(iv.len() + ct.len());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// CKM_CLOUDHSM_AES_GCM decryption: the input starts with the 12-byte IV.
fn cloudhsm_gcm_open(
    k: &AesKey,
    p: &super::api::GcmParams,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    if data.len() < CLOUDHSM_GCM_IV + tag_len(p.tag_bits) {
        return Err(Error::EncryptedDataLenRange);
    }
    let (iv, ct) = data.split_at(CLOUDHSM_GCM_IV);
    k.gcm_open(iv, &p.aad, ct, tag_len(p.tag_bits))
}

/// CBC-MAC (CKM_AES_MAC): the last block of AES-CBC with a zero IV over the data padded
/// with zeros to a whole number of blocks (at least one).
fn aes_cbc_mac(k: &AesKey, data: &[u8]) -> Result<[u8; 16]> {
    let mut padded = Zeroizing::new(data.to_vec());
    let blocks = data.len().div_ceil(16).max(1);
    padded.resize(blocks * 16, 0);
    let ct = k.cbc_encrypt(&[0u8; 16], &padded, false)?;
    ct.get(ct.len() - 16..)
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::GeneralError)
}

fn tag_len(bits: u64) -> usize {
    (bits / 8) as usize
}

fn usize_of(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| Error::MechanismParamInvalid)
}

/// Whether a mechanism may run multi-part in the core.
pub fn multipart(mech: &Mechanism) -> bool {
    matches!(
        mech,
        Mechanism::AesEcb
            | Mechanism::AesCmac { .. }
            | Mechanism::AesCbc(_)
            | Mechanism::AesCbcPad(_)
            | Mechanism::AesCtr { .. }
            | Mechanism::AesGcm(_)
            | Mechanism::Hmac { .. }
            | Mechanism::Des3Ecb
            | Mechanism::Des3Cbc(_)
            | Mechanism::Des3CbcPad(_)
            | Mechanism::Eddsa { .. }
            | Mechanism::CloudhsmAesGcm(_)
            | Mechanism::AesMac { .. }
            | Mechanism::AesCcm(_)
            | Mechanism::ChaCha20 { .. }
            | Mechanism::ChaCha20Poly1305 { .. }
    )
}

/// Feed a multi-part operation.
pub fn update(
    kind: OpKind,
    mech: &Mechanism,
    key: &ParsedKey,
    state: &mut OpState,
    data: &[u8],
) -> Result<Vec<u8>> {
    if let OpState::Digest(h) = state {
        h.update(data);
        return Ok(Vec::new());
    }
    if !multipart(mech) {
        return Err(Error::FunctionNotSupported);
    }
    if matches!(state, OpState::Fresh) {
        if let Some(s) = aead_pq::start(mech, key)? {
            *state = s;
        }
    }
    if matches!(state, OpState::Fresh) {
        *state = match (mech, key) {
            (
                Mechanism::AesGcm(_)
                | Mechanism::AesCmac { .. }
                | Mechanism::Eddsa { .. }
                | Mechanism::CloudhsmAesGcm(_)
                | Mechanism::AesMac { .. },
                _,
            ) => OpState::Buffer(Zeroizing::new(Vec::new())),
            (Mechanism::Hmac { hash, .. }, ParsedKey::Hmac(_, v)) => {
                OpState::Hmac(Box::new(hmac_for(v, *hash).stream()))
            }
            (m, ParsedKey::Des3(k)) => {
                let mode = match m {
                    Mechanism::Des3Ecb => Des3Mode::Ecb,
                    Mechanism::Des3Cbc(iv) => Des3Mode::Cbc {
                        iv: *iv,
                        pad: false,
                    },
                    Mechanism::Des3CbcPad(iv) => Des3Mode::Cbc { iv: *iv, pad: true },
                    _ => return Err(Error::KeyTypeInconsistent),
                };
                OpState::Des3(Box::new(Des3Stream::new(
                    k.clone(),
                    mode,
                    kind == OpKind::Encrypt,
                )))
            }
            (m, ParsedKey::Aes(k)) => {
                let mode = match m {
                    Mechanism::AesEcb => StreamMode::Ecb,
                    Mechanism::AesCbc(iv) => StreamMode::Cbc {
                        iv: *iv,
                        pad: false,
                    },
                    Mechanism::AesCbcPad(iv) => StreamMode::Cbc { iv: *iv, pad: true },
                    Mechanism::AesCtr { counter_bits, cb } => StreamMode::Ctr {
                        counter_block: *cb,
                        counter_bits: usize_of(*counter_bits)?,
                    },
                    _ => return Err(Error::MechanismInvalid),
                };
                OpState::Aes(Box::new(AesStream::new(
                    k.clone(),
                    mode,
                    kind == OpKind::Encrypt,
                )))
            }
            _ => return Err(Error::KeyTypeInconsistent),
        };
    }
    match state {
        OpState::Buffer(b) => {
            b.extend_from_slice(data);
            Ok(Vec::new())
        }
        OpState::Aes(s) => s.update(data),
        OpState::Des3(s) => s.update(data),
        OpState::Digest(_) => Err(Error::GeneralError),
        OpState::Hmac(h) => {
            h.update(data);
            Ok(Vec::new())
        }
        OpState::ChaCha(s) => {
            let mut out = data.to_vec();
            s.apply(&mut out)?;
            Ok(out)
        }
        OpState::Fresh | OpState::Message(_) => Err(Error::GeneralError),
    }
}

/// Finish a multi-part operation. For Verify, `extra` is the signature.
pub fn finish(
    kind: OpKind,
    mech: &Mechanism,
    key: &ParsedKey,
    state: OpState,
    extra: &[u8],
) -> Result<Vec<u8>> {
    match state {
        OpState::Fresh => {
            if !multipart(mech) {
                return Err(Error::FunctionNotSupported);
            }
            one_shot(kind, mech, key, &[], extra)
        }
        OpState::Buffer(b) => one_shot(kind, mech, key, &b, extra),
        OpState::Aes(s) => s.finish(),
        OpState::Des3(s) => s.finish(),
        OpState::Digest(h) => Ok(h.finish()),
        OpState::ChaCha(_) => Ok(Vec::new()),
        OpState::Message(_) => Err(Error::OperationNotInitialized),
        OpState::Hmac(h) => {
            let Mechanism::Hmac { hash, out_len } = mech else {
                return Err(Error::GeneralError);
            };
            let mut mac = h.finish();
            let want = out_len.map_or(hash.len(), |l| l as usize);
            mac.truncate(want);
            match kind {
                OpKind::Sign => Ok(mac),
                _ => {
                    if extra.len() != want {
                        return Err(Error::SignatureLenRange);
                    }
                    if subtle::ConstantTimeEq::ct_eq(mac.as_slice(), extra).into() {
                        Ok(Vec::new())
                    } else {
                        Err(Error::SignatureInvalid)
                    }
                }
            }
        }
    }
}

fn bytes(ty: u64, v: &[u8]) -> Attribute {
    Attribute::new(ty, AttrValue::Bytes(v.to_vec()))
}

/// The last value of a CK_ULONG attribute in a template (CKR_ATTRIBUTE_VALUE_INVALID if it is
/// not one).
pub(super) fn find_ulong(t: &[Attribute], ty: u64) -> Result<Option<u64>> {
    match t.iter().rev().find(|a| a.ty == ty) {
        None => Ok(None),
        Some(Attribute {
            value: AttrValue::Ulong(v),
            ..
        }) => Ok(Some(*v)),
        Some(_) => Err(Error::AttributeValueInvalid),
    }
}

/// The last value of a byte-string attribute in a template.
pub(super) fn find_bytes(t: &[Attribute], ty: u64) -> Result<Option<&[u8]>> {
    match t.iter().rev().find(|a| a.ty == ty) {
        None => Ok(None),
        Some(Attribute {
            value: AttrValue::Bytes(v),
            ..
        }) => Ok(Some(v)),
        Some(_) => Err(Error::AttributeValueInvalid),
    }
}

/// Generated material for a secret key: (key type, attributes).
pub fn generate_secret(mech: &Mechanism, template: &[Attribute]) -> Result<(u64, Vec<Attribute>)> {
    check_available(mech)?;
    if matches!(
        mech,
        Mechanism::DhPkcsParameterGen | Mechanism::DsaParameterGen
    ) {
        return generate_domain(mech, template);
    }
    if *mech == Mechanism::Des3KeyGen {
        // The length is fixed; a template may only repeat it.
        if find_ulong(template, CKA_VALUE_LEN)?.is_some_and(|l| l != des3::KEY_LEN as u64) {
            return Err(Error::TemplateInconsistent);
        }
        if find_ulong(template, CKA_KEY_TYPE)?.is_some_and(|kt| kt != CKK_DES3) {
            return Err(Error::TemplateInconsistent);
        }
        let value = des3::generate()?;
        return Ok((CKK_DES3, secret_material(CKK_DES3, &value)?));
    }
    let len = match find_ulong(template, CKA_VALUE_LEN)? {
        Some(l) => l,
        None if *mech == Mechanism::ChaCha20KeyGen => 32,
        None => return Err(Error::TemplateIncomplete),
    };
    let generic = (GENERIC_MIN..=GENERIC_MAX).contains(&len);
    let (kt, ok) = match mech {
        Mechanism::ChaCha20KeyGen => (CKK_CHACHA20, len == 32),
        Mechanism::AesKeyGen => (CKK_AES, matches!(len, 16 | 24 | 32)),
        Mechanism::GenericSecretKeyGen => (CKK_GENERIC_SECRET, generic),
        Mechanism::HmacKeyGen(h) => (hmac_key_type(*h), generic),
        Mechanism::HkdfKeyGen => (CKK_HKDF, generic),
        Mechanism::Pbkdf2(p) => {
            let kt = find_ulong(template, CKA_KEY_TYPE)?.unwrap_or(CKK_GENERIC_SECRET);
            if !derivable_key_type(kt) {
                return Err(Error::TemplateInconsistent);
            }
            if (kt == CKK_AES && !matches!(len, 16 | 24 | 32)) || !generic {
                return Err(Error::KeySizeRange);
            }
            // At least one round; at most ten million, so one call cannot hold the core for
            // minutes.
            if !(1..=PBKDF2_MAX_ITERATIONS).contains(&p.iterations) {
                return Err(Error::MechanismParamInvalid);
            }
            let value = crate::crypto::kbkdf::pbkdf2(
                p.prf,
                p.password.as_bytes(),
                &p.salt,
                p.iterations,
                len as usize,
            )?;
            return Ok((kt, secret_material(kt, &value)?));
        }
        _ => return Err(Error::MechanismInvalid),
    };
    if !ok {
        return Err(Error::KeySizeRange);
    }
    if let Some(given) = find_ulong(template, CKA_KEY_TYPE)? {
        if given != kt {
            return Err(Error::TemplateInconsistent);
        }
    }
    let mut value = Zeroizing::new(vec![0u8; len as usize]);
    crate::crypto::rng::fill(&mut value)?;
    let material = secret_material(kt, &value)?;
    Ok((kt, material))
}

/// The class C_GenerateKey makes with a mechanism.
pub fn generated_class(mech: &Mechanism) -> u64 {
    match mech {
        Mechanism::DhPkcsParameterGen | Mechanism::DsaParameterGen => CKO_DOMAIN_PARAMETERS,
        _ => CKO_SECRET_KEY,
    }
}

/// Generated domain parameters: (key type, attributes). CKA_PRIME_BITS is required.
fn generate_domain(mech: &Mechanism, template: &[Attribute]) -> Result<(u64, Vec<Attribute>)> {
    let kt = if *mech == Mechanism::DhPkcsParameterGen {
        CKK_DH
    } else {
        CKK_DSA
    };
    if find_ulong(template, CKA_KEY_TYPE)?.is_some_and(|given| given != kt) {
        return Err(Error::TemplateInconsistent);
    }
    let bits = find_ulong(template, CKA_PRIME_BITS)?.ok_or(Error::TemplateIncomplete)?;
    let bits = usize::try_from(bits).map_err(|_| Error::KeySizeRange)?;
    let ulong = |ty, v: usize| Attribute::new(ty, AttrValue::Ulong(v as u64));
    if kt == CKK_DH {
        // Named RFC 7919 groups, never freshly generated primes (docs/crypto.md).
        let (p, g) = dh::named_group(bits)?;
        return Ok((
            kt,
            vec![
                bytes(CKA_PRIME, &p),
                bytes(CKA_BASE, &g),
                ulong(CKA_PRIME_BITS, bits),
            ],
        ));
    }
    if find_ulong(template, CKA_SUBPRIME_BITS)?.is_some_and(|q| q != 256) {
        return Err(Error::TemplateInconsistent);
    }
    let (p, q, g) = dsa::generate_params(bits)?;
    Ok((
        kt,
        vec![
            bytes(CKA_PRIME, &p),
            bytes(CKA_SUBPRIME, &q),
            bytes(CKA_BASE, &g),
            ulong(CKA_PRIME_BITS, dh::bits(&p)),
            ulong(CKA_SUBPRIME_BITS, dh::bits(&q)),
        ],
    ))
}

/// The most PBKDF2 iterations one C_GenerateKey may ask for.
pub const PBKDF2_MAX_ITERATIONS: u64 = 10_000_000;

/// Secret key types a derivation or PBKDF2 may produce.
pub fn derivable_key_type(kt: u64) -> bool {
    matches!(
        kt,
        CKK_AES
            | CKK_GENERIC_SECRET
            | CKK_HKDF
            | CKK_SHA_1_HMAC
            | CKK_SHA224_HMAC
            | CKK_SHA256_HMAC
            | CKK_SHA384_HMAC
            | CKK_SHA512_HMAC
    )
}

/// Computed attributes of a secret key from its value (generation and import).
pub fn secret_material(kt: u64, value: &[u8]) -> Result<Vec<Attribute>> {
    let mut m = vec![
        bytes(CKA_VALUE, value),
        Attribute::new(CKA_VALUE_LEN, AttrValue::Ulong(value.len() as u64)),
    ];
    if kt == CKK_AES {
        let key = AesKey::new(value)?;
        m.push(bytes(CKA_CHECK_VALUE, &key.check_value()));
    } else if kt == CKK_DES3 {
        if !LEGACY {
            return Err(Error::TemplateInconsistent);
        }
        let key = Des3Key::new(value).map_err(|_| Error::AttributeValueInvalid)?;
        m.push(bytes(CKA_CHECK_VALUE, &key.check_value()));
    } else if kt == CKK_CHACHA20 && value.len() != 32 {
        return Err(Error::KeySizeRange);
    } else if value.is_empty() {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(m)
}

/// Generated material for a key pair: (key type, public attributes, private attributes).
pub fn generate_pair(
    mech: &Mechanism,
    public: &[Attribute],
    private: &[Attribute],
) -> Result<(u64, Vec<Attribute>, Vec<Attribute>)> {
    check_available(mech)?;
    for t in [public, private] {
        if let Some(kt) = find_ulong(t, CKA_KEY_TYPE)? {
            let want = match mech {
                Mechanism::RsaPkcsKeyPairGen => CKK_RSA,
                Mechanism::DhPkcsKeyPairGen => CKK_DH,
                Mechanism::DsaKeyPairGen => CKK_DSA,
                Mechanism::EcEdwardsKeyPairGen => CKK_EC_EDWARDS,
                other => aead_pq::pair_key_type(other).unwrap_or(CKK_EC),
            };
            if kt != want {
                return Err(Error::TemplateInconsistent);
            }
        }
    }
    match mech {
        Mechanism::RsaPkcsKeyPairGen => {
            let bits = find_ulong(public, CKA_MODULUS_BITS)?.ok_or(Error::TemplateIncomplete)?;
            if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) || bits % 8 != 0 {
                return Err(Error::KeySizeRange);
            }
            let e = find_bytes(public, CKA_PUBLIC_EXPONENT)?.map_or(vec![1, 0, 1], <[u8]>::to_vec);
            let c = rsa::generate(bits as usize, &e)?;
            let key = RsaPrivateKey::from_components(&c)?;
            let (pubm, privm) = rsa_material(&key, &c)?;
            Ok((CKK_RSA, pubm, privm))
        }
        Mechanism::EcEdwardsKeyPairGen => {
            let params =
                find_bytes(public, CKA_EC_PARAMS)?.map_or_else(ed25519::params, <[u8]>::to_vec);
            if !ed25519::is_params(&params) {
                return Err(Error::CurveNotSupported);
            }
            let (pubm, privm) = ed25519_material(&Ed25519PrivateKey::generate()?, &params)?;
            Ok((CKK_EC_EDWARDS, pubm, privm))
        }
        Mechanism::EcKeyPairGen
            if find_bytes(public, CKA_EC_PARAMS)?.is_some_and(ed25519::is_params) =>
        {
            // CloudHSM: Ed25519 keys come from CKM_EC_KEY_PAIR_GEN with the Ed25519 OID.
            let params =
                find_bytes(public, CKA_EC_PARAMS)?.map_or_else(ed25519::params, <[u8]>::to_vec);
            let (pubm, privm) = ed25519_material(&Ed25519PrivateKey::generate()?, &params)?;
            Ok((CKK_EC, pubm, privm))
        }
        Mechanism::EcKeyPairGen => {
            let params = find_bytes(public, CKA_EC_PARAMS)?
                .ok_or(Error::TemplateIncomplete)?
                .to_vec();
            let curve = Curve::from_params(&params)?;
            let (d, point) = ec::generate(curve)?;
            let pubkey = EcPublicKey::from_point(curve, &point)?;
            let spki = pubkey.to_spki_der()?;
            let pubm = vec![
                bytes(CKA_EC_PARAMS, &params),
                bytes(CKA_EC_POINT, &ec::ec_point_to_der(&point)),
                bytes(CKA_PUBLIC_KEY_INFO, &spki),
            ];
            let privm = vec![
                bytes(CKA_EC_PARAMS, &params),
                bytes(CKA_VALUE, &d),
                bytes(CKA_PUBLIC_KEY_INFO, &spki),
            ];
            Ok((CKK_EC, pubm, privm))
        }
        Mechanism::DhPkcsKeyPairGen => {
            let need = |ty| find_bytes(public, ty)?.ok_or(Error::TemplateIncomplete);
            let (p, g) = (need(CKA_PRIME)?.to_vec(), need(CKA_BASE)?.to_vec());
            dh::check_params(&p, &g).map_err(domain_error)?;
            let priv_bits = match find_ulong(private, CKA_VALUE_BITS)? {
                None => None,
                Some(b) if (256..dh::bits(&p) as u64).contains(&b) => Some(b as u32),
                Some(_) => return Err(Error::TemplateInconsistent),
            };
            // With CKA_VALUE_BITS, x has exactly that many bits (aws-lc draws it below 2^bits).
            let mut tries = 0;
            let (y, x) = loop {
                let (y, x) = dh::generate(&p, &g, priv_bits)?;
                tries += 1;
                if priv_bits.is_none_or(|b| dh::bits(&x) == b as usize) || tries > 64 {
                    break (y, x);
                }
            };
            let x_bits = Attribute::new(CKA_VALUE_BITS, AttrValue::Ulong(dh::bits(&x) as u64));
            let pubm = vec![
                bytes(CKA_PRIME, &p),
                bytes(CKA_BASE, &g),
                bytes(CKA_VALUE, &y),
            ];
            let privm = vec![
                bytes(CKA_PRIME, &p),
                bytes(CKA_BASE, &g),
                bytes(CKA_VALUE, &x),
                x_bits,
            ];
            Ok((CKK_DH, pubm, privm))
        }
        Mechanism::DsaKeyPairGen => {
            let need = |ty| find_bytes(public, ty)?.ok_or(Error::TemplateIncomplete);
            let (p, q, g) = (
                need(CKA_PRIME)?.to_vec(),
                need(CKA_SUBPRIME)?.to_vec(),
                need(CKA_BASE)?.to_vec(),
            );
            dsa::check_params(&p, &q, &g).map_err(domain_error)?;
            let (y, x) = dsa::generate(&p, &q, &g)?;
            let params = [
                bytes(CKA_PRIME, &p),
                bytes(CKA_SUBPRIME, &q),
                bytes(CKA_BASE, &g),
            ];
            let mut pubm = params.to_vec();
            pubm.push(bytes(CKA_VALUE, &y));
            let mut privm = params.to_vec();
            privm.push(bytes(CKA_VALUE, &x));
            Ok((CKK_DSA, pubm, privm))
        }
        Mechanism::MlKemKeyPairGen | Mechanism::MlDsaKeyPairGen => {
            aead_pq::generate_pair(mech, public, private)
        }
        _ => Err(Error::MechanismInvalid),
    }
}

/// Bad domain parameters in a key-pair template: CKR_DOMAIN_PARAMS_INVALID (sizes keep
/// CKR_KEY_SIZE_RANGE).
fn domain_error(e: Error) -> Error {
    match e {
        Error::AttributeValueInvalid => Error::DomainParamsInvalid,
        other => other,
    }
}

/// (public, private) attributes of an Ed25519 key.
fn ed25519_material(
    k: &Ed25519PrivateKey,
    params: &[u8],
) -> Result<(Vec<Attribute>, Vec<Attribute>)> {
    let public = k.public();
    let spki = ed25519::spki_der(&public);
    let pubm = vec![
        bytes(CKA_EC_PARAMS, params),
        bytes(CKA_EC_POINT, &ed25519::point_to_der(&public)),
        bytes(CKA_PUBLIC_KEY_INFO, &spki),
    ];
    let privm = vec![
        bytes(CKA_EC_PARAMS, params),
        bytes(CKA_VALUE, &k.seed()?),
        bytes(CKA_PUBLIC_KEY_INFO, &spki),
    ];
    Ok((pubm, privm))
}

fn rsa_material(
    key: &RsaPrivateKey,
    c: &RsaComponents,
) -> Result<(Vec<Attribute>, Vec<Attribute>)> {
    let spki = key.public_key()?.to_spki_der()?;
    let pubm = vec![
        bytes(CKA_MODULUS, &c.n),
        bytes(CKA_PUBLIC_EXPONENT, &c.e),
        Attribute::new(
            CKA_MODULUS_BITS,
            AttrValue::Ulong(key.modulus_bits() as u64),
        ),
        bytes(CKA_PUBLIC_KEY_INFO, &spki),
    ];
    let privm = vec![
        bytes(CKA_MODULUS, &c.n),
        bytes(CKA_PUBLIC_EXPONENT, &c.e),
        bytes(CKA_PRIVATE_EXPONENT, &c.d),
        bytes(CKA_PRIME_1, &c.p),
        bytes(CKA_PRIME_2, &c.q),
        bytes(CKA_EXPONENT_1, &c.dp),
        bytes(CKA_EXPONENT_2, &c.dq),
        bytes(CKA_COEFFICIENT, &c.qinv),
        bytes(CKA_PUBLIC_KEY_INFO, &spki),
    ];
    Ok((pubm, privm))
}

/// Computed attributes for an imported key (C_CreateObject), after validating its material.
pub fn import_material(
    class: u64,
    key_type: Option<u64>,
    template: &[Attribute],
) -> Result<Vec<Attribute>> {
    let get = |ty| find_bytes(template, ty).and_then(|v| v.ok_or(Error::TemplateIncomplete));
    let invalid = |_| Error::AttributeValueInvalid;
    match (class, key_type) {
        (CKO_SECRET_KEY, Some(kt)) => {
            let v = get(CKA_VALUE)?;
            let mut m = secret_material(kt, v).map_err(invalid)?;
            m.retain(|a| a.ty != CKA_VALUE);
            Ok(m)
        }
        (CKO_PUBLIC_KEY, Some(CKK_RSA)) => {
            let k = RsaPublicKey::from_components(get(CKA_MODULUS)?, get(CKA_PUBLIC_EXPONENT)?)
                .map_err(invalid)?;
            Ok(vec![
                Attribute::new(CKA_MODULUS_BITS, AttrValue::Ulong(k.modulus_bits() as u64)),
                bytes(CKA_PUBLIC_KEY_INFO, &k.to_spki_der()?),
            ])
        }
        (CKO_PRIVATE_KEY, Some(CKK_RSA)) => {
            let z = |ty| get(ty).map(|b| Zeroizing::new(b.to_vec()));
            let c = RsaComponents {
                n: get(CKA_MODULUS)?.to_vec(),
                e: get(CKA_PUBLIC_EXPONENT)?.to_vec(),
                d: z(CKA_PRIVATE_EXPONENT)?,
                p: z(CKA_PRIME_1)?,
                q: z(CKA_PRIME_2)?,
                dp: z(CKA_EXPONENT_1)?,
                dq: z(CKA_EXPONENT_2)?,
                qinv: z(CKA_COEFFICIENT)?,
            };
            let k = RsaPrivateKey::from_components(&c).map_err(invalid)?;
            Ok(vec![bytes(
                CKA_PUBLIC_KEY_INFO,
                &k.public_key()?.to_spki_der()?,
            )])
        }
        (CKO_PUBLIC_KEY, Some(CKK_EC | CKK_EC_EDWARDS))
            if ed25519::is_params(get(CKA_EC_PARAMS)?) =>
        {
            let point = ed25519::point_from_der(get(CKA_EC_POINT)?)?;
            Ok(vec![bytes(CKA_PUBLIC_KEY_INFO, &ed25519::spki_der(&point))])
        }
        (CKO_PRIVATE_KEY, Some(CKK_EC | CKK_EC_EDWARDS))
            if ed25519::is_params(get(CKA_EC_PARAMS)?) =>
        {
            let k = Ed25519PrivateKey::from_seed(get(CKA_VALUE)?).map_err(invalid)?;
            Ok(vec![bytes(
                CKA_PUBLIC_KEY_INFO,
                &ed25519::spki_der(&k.public()),
            )])
        }
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY, Some(CKK_EC_EDWARDS)) => Err(Error::CurveNotSupported),
        (CKO_PUBLIC_KEY, Some(CKK_EC)) => {
            let curve = Curve::from_params(get(CKA_EC_PARAMS)?)?;
            let point = ec::ec_point_from_der(get(CKA_EC_POINT)?).map_err(invalid)?;
            let k = EcPublicKey::from_point(curve, &point).map_err(invalid)?;
            Ok(vec![bytes(CKA_PUBLIC_KEY_INFO, &k.to_spki_der()?)])
        }
        (CKO_PRIVATE_KEY, Some(CKK_EC)) => {
            let curve = Curve::from_params(get(CKA_EC_PARAMS)?)?;
            let k = EcPrivateKey::from_scalar(curve, get(CKA_VALUE)?).map_err(invalid)?;
            let public = EcPublicKey::from_point(curve, &k.public_point())?;
            Ok(vec![bytes(CKA_PUBLIC_KEY_INFO, &public.to_spki_der()?)])
        }
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY, Some(CKK_DH)) if LEGACY => {
            let (p, g) = (get(CKA_PRIME)?, get(CKA_BASE)?);
            dh::check_params(p, g).map_err(|_| Error::AttributeValueInvalid)?;
            let v = get(CKA_VALUE)?;
            if class == CKO_PUBLIC_KEY && !dh::in_range(v, p) {
                return Err(Error::AttributeValueInvalid);
            }
            if class == CKO_PRIVATE_KEY {
                DhPrivateKey::new(p, g, v).map_err(invalid)?;
                let bits = Attribute::new(CKA_VALUE_BITS, AttrValue::Ulong(dh::bits(v) as u64));
                return Ok(vec![bits]);
            }
            Ok(Vec::new())
        }
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY, Some(CKK_DSA)) if LEGACY => {
            let (p, q, g, v) = (
                get(CKA_PRIME)?,
                get(CKA_SUBPRIME)?,
                get(CKA_BASE)?,
                get(CKA_VALUE)?,
            );
            if class == CKO_PUBLIC_KEY {
                DsaPublicKey::new(p, q, g, v).map_err(invalid)?;
            } else {
                DsaPrivateKey::new(p, q, g, v).map_err(invalid)?;
            }
            Ok(Vec::new())
        }
        (CKO_DOMAIN_PARAMETERS, Some(CKK_DH)) if LEGACY => {
            let (p, g) = (get(CKA_PRIME)?, get(CKA_BASE)?);
            dh::check_params(p, g).map_err(|_| Error::AttributeValueInvalid)?;
            Ok(vec![Attribute::new(
                CKA_PRIME_BITS,
                AttrValue::Ulong(dh::bits(p) as u64),
            )])
        }
        (CKO_DOMAIN_PARAMETERS, Some(CKK_DSA)) if LEGACY => {
            let (p, q, g) = (get(CKA_PRIME)?, get(CKA_SUBPRIME)?, get(CKA_BASE)?);
            dsa::check_params(p, q, g).map_err(|_| Error::AttributeValueInvalid)?;
            Ok(vec![
                Attribute::new(CKA_PRIME_BITS, AttrValue::Ulong(dh::bits(p) as u64)),
                Attribute::new(CKA_SUBPRIME_BITS, AttrValue::Ulong(dh::bits(q) as u64)),
            ])
        }
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY, Some(kt @ (CKK_ML_KEM | CKK_ML_DSA))) => {
            aead_pq::import_material(class, kt, template)
        }
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_DOMAIN_PARAMETERS, Some(_)) => {
            Err(Error::TemplateInconsistent)
        }
        _ => Ok(Vec::new()),
    }
}

/// The bytes a key contributes when wrapped: a secret key's value, a private key's PKCS#8.
pub fn wrap_payload(obj: &Object, key: &ParsedKey) -> Result<Zeroizing<Vec<u8>>> {
    match (obj.class(), key) {
        (CKO_SECRET_KEY, _) => Ok(Zeroizing::new(attr_bytes(obj, CKA_VALUE)?.to_vec())),
        (CKO_PRIVATE_KEY, ParsedKey::RsaPrivate(k)) => k.to_pkcs8_der(),
        (CKO_PRIVATE_KEY, ParsedKey::EcPrivate(k)) => k.to_pkcs8_der(),
        (CKO_PRIVATE_KEY, ParsedKey::EdPrivate(k)) => k.to_pkcs8_der(),
        _ => Err(Error::KeyNotWrappable),
    }
}

const KW_DEFAULT_IV: [u8; 8] = [0xa6; 8];
const KWP_DEFAULT_IV: [u8; 4] = [0xa6, 0x59, 0x59, 0xa6];

/// Wrap `payload` under `wrapping` with `mech`.
pub fn wrap(mech: &Mechanism, wrapping: &ParsedKey, payload: &[u8]) -> Result<Vec<u8>> {
    match (mech, wrapping) {
        (Mechanism::AesKeyWrap { iv }, ParsedKey::Aes(k)) => {
            if iv.as_ref().is_some_and(|v| v[..] != KW_DEFAULT_IV) {
                return Err(Error::MechanismParamInvalid);
            }
            k.key_wrap(payload).map_err(|_| Error::KeySizeRange)
        }
        (Mechanism::AesKeyWrapKwp { iv }, ParsedKey::Aes(k)) => {
            if iv.as_ref().is_some_and(|v| v[..] != KWP_DEFAULT_IV) {
                return Err(Error::MechanismParamInvalid);
            }
            k.key_wrap_pad(payload)
        }
        (Mechanism::AesGcm(p), ParsedKey::Aes(k)) => {
            k.gcm_seal(&p.iv, &p.aad, payload, tag_len(p.tag_bits))
        }
        (Mechanism::AesCbcPad(iv), ParsedKey::Aes(k)) => k.cbc_encrypt(iv, payload, true),
        (Mechanism::Des3CbcPad(iv), ParsedKey::Des3(k)) if LEGACY => {
            k.cbc_encrypt(iv, payload, true)
        }
        (Mechanism::RsaPkcsOaep(p), ParsedKey::RsaPublic(k)) => {
            k.encrypt_oaep(p.hash, p.mgf, &p.label, payload)
        }
        (Mechanism::CloudhsmAesGcm(p), ParsedKey::Aes(k)) => {
            check_params(mech)?;
            cloudhsm_gcm_seal(k, p, payload)
        }
        (Mechanism::CloudhsmAesKeyWrap { pad, iv }, ParsedKey::Aes(k)) => {
            if iv.as_ref().is_some_and(|v| v[..] != KW_DEFAULT_IV) {
                return Err(Error::MechanismParamInvalid);
            }
            match pad {
                KeyWrapPad::None => k.key_wrap(payload).map_err(|_| Error::KeySizeRange),
                KeyWrapPad::Zero => k.key_wrap_pad(payload),
                KeyWrapPad::Pkcs5 => {
                    let n = 8 - payload.len() % 8;
                    let mut padded = Zeroizing::new(payload.to_vec());
                    padded.resize(payload.len() + n, n as u8);
                    k.key_wrap(&padded).map_err(|_| Error::KeySizeRange)
                }
            }
        }
        (Mechanism::RsaAesKeyWrap { aes_key_bits, oaep }, ParsedKey::RsaPublic(k)) => {
            // An ephemeral AES key, OAEP-encrypted, then KWP of the payload under it.
            let len = match aes_key_bits {
                128 | 192 | 256 => (*aes_key_bits / 8) as usize,
                _ => return Err(Error::MechanismParamInvalid),
            };
            let mut eph = Zeroizing::new(vec![0u8; len]);
            crate::crypto::rng::fill(&mut eph)?;
            let mut out = k.encrypt_oaep(oaep.hash, oaep.mgf, &oaep.label, &eph)?;
            out.extend_from_slice(&AesKey::new(&eph)?.key_wrap_pad(payload)?);
            Ok(out)
        }
        (
            Mechanism::CloudhsmAesGcm(_)
            | Mechanism::CloudhsmAesKeyWrap { .. }
            | Mechanism::RsaAesKeyWrap { .. },
            _,
        ) => Err(Error::WrappingKeyTypeInconsistent),
        (
            Mechanism::AesKeyWrap { .. }
            | Mechanism::AesKeyWrapKwp { .. }
            | Mechanism::AesGcm(_)
            | Mechanism::AesCbcPad(_)
            | Mechanism::RsaPkcsOaep(_),
            _,
        ) => Err(Error::WrappingKeyTypeInconsistent),
        (Mechanism::Des3CbcPad(_), _) if LEGACY => Err(Error::WrappingKeyTypeInconsistent),
        _ => Err(Error::MechanismInvalid),
    }
}

/// Unwrap `wrapped` under `unwrapping` with `mech`. Every failure of the decryption itself is
/// one code, whatever the cause.
pub fn unwrap(
    mech: &Mechanism,
    unwrapping: &ParsedKey,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let opaque = |_| Error::WrappedKeyInvalid;
    match (mech, unwrapping) {
        (Mechanism::AesKeyWrap { iv }, ParsedKey::Aes(k)) => {
            if iv.as_ref().is_some_and(|v| v[..] != KW_DEFAULT_IV) {
                return Err(Error::MechanismParamInvalid);
            }
            if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
                return Err(Error::WrappedKeyLenRange);
            }
            k.key_unwrap(wrapped).map_err(opaque)
        }
        (Mechanism::AesKeyWrapKwp { iv }, ParsedKey::Aes(k)) => {
            if iv.as_ref().is_some_and(|v| v[..] != KWP_DEFAULT_IV) {
                return Err(Error::MechanismParamInvalid);
            }
            if wrapped.len() < 16 || !wrapped.len().is_multiple_of(8) {
                return Err(Error::WrappedKeyLenRange);
            }
            k.key_unwrap_pad(wrapped).map_err(opaque)
        }
        (Mechanism::AesGcm(p), ParsedKey::Aes(k)) => k
            .gcm_open(&p.iv, &p.aad, wrapped, tag_len(p.tag_bits))
            .map_err(opaque),
        (Mechanism::AesCbcPad(iv), ParsedKey::Aes(k)) => {
            k.cbc_decrypt(iv, wrapped, true).map_err(opaque)
        }
        (Mechanism::Des3CbcPad(iv), ParsedKey::Des3(k)) if LEGACY => {
            if wrapped.is_empty() || !wrapped.len().is_multiple_of(des3::BLOCK) {
                return Err(Error::WrappedKeyLenRange);
            }
            k.cbc_decrypt(iv, wrapped, true).map_err(opaque)
        }
        (Mechanism::RsaPkcsOaep(p), ParsedKey::RsaPrivate(k)) => k
            .decrypt_oaep(p.hash, p.mgf, &p.label, wrapped)
            .map_err(opaque),
        (Mechanism::CloudhsmAesGcm(p), ParsedKey::Aes(k)) => {
            check_params(mech)?;
            if wrapped.len() < CLOUDHSM_GCM_IV + tag_len(p.tag_bits) {
                return Err(Error::WrappedKeyLenRange);
            }
            cloudhsm_gcm_open(k, p, wrapped).map_err(opaque)
        }
        (Mechanism::CloudhsmAesKeyWrap { pad, iv }, ParsedKey::Aes(k)) => {
            if iv.as_ref().is_some_and(|v| v[..] != KW_DEFAULT_IV) {
                return Err(Error::MechanismParamInvalid);
            }
            let min = if *pad == KeyWrapPad::Zero { 16 } else { 24 };
            if wrapped.len() < min || !wrapped.len().is_multiple_of(8) {
                return Err(Error::WrappedKeyLenRange);
            }
            match pad {
                KeyWrapPad::None => k.key_unwrap(wrapped).map_err(opaque),
                KeyWrapPad::Zero => k.key_unwrap_pad(wrapped).map_err(opaque),
                KeyWrapPad::Pkcs5 => {
                    let mut v = k.key_unwrap(wrapped).map_err(opaque)?;
                    let n = crate::crypto::pad::unpadded_len(&v, 8)
                        .map_err(|_| Error::WrappedKeyInvalid)?;
                    v.truncate(n);
                    Ok(v)
                }
            }
        }
        (Mechanism::RsaAesKeyWrap { aes_key_bits, oaep }, ParsedKey::RsaPrivate(k)) => {
            if !matches!(aes_key_bits, 128 | 192 | 256) {
                return Err(Error::MechanismParamInvalid);
            }
            let m = k.modulus_len();
            if wrapped.len() < m + 16 {
                return Err(Error::WrappedKeyLenRange);
            }
            let (ek, kwp) = wrapped.split_at(m);
            let eph = k
                .decrypt_oaep(oaep.hash, oaep.mgf, &oaep.label, ek)
                .map_err(opaque)?;
            if eph.len() as u64 * 8 != *aes_key_bits {
                return Err(Error::WrappedKeyInvalid);
            }
            let kek = AesKey::new(&eph).map_err(opaque)?;
            if !kwp.len().is_multiple_of(8) {
                return Err(Error::WrappedKeyLenRange);
            }
            kek.key_unwrap_pad(kwp).map_err(opaque)
        }
        (
            Mechanism::CloudhsmAesGcm(_)
            | Mechanism::CloudhsmAesKeyWrap { .. }
            | Mechanism::RsaAesKeyWrap { .. },
            _,
        ) => Err(Error::UnwrappingKeyTypeInconsistent),
        (
            Mechanism::AesKeyWrap { .. }
            | Mechanism::AesKeyWrapKwp { .. }
            | Mechanism::AesGcm(_)
            | Mechanism::AesCbcPad(_)
            | Mechanism::RsaPkcsOaep(_),
            _,
        ) => Err(Error::UnwrappingKeyTypeInconsistent),
        (Mechanism::Des3CbcPad(_), _) if LEGACY => Err(Error::UnwrappingKeyTypeInconsistent),
        _ => Err(Error::MechanismInvalid),
    }
}

/// Material of an unwrapped key: (key type, attributes) for the template's class.
pub fn unwrapped_material(
    class: u64,
    key_type: Option<u64>,
    template: &[Attribute],
    payload: &[u8],
) -> Result<(u64, Vec<Attribute>)> {
    match class {
        CKO_SECRET_KEY => {
            let kt = key_type.ok_or(Error::TemplateIncomplete)?;
            let mut value = payload;
            if let Some(len) = find_ulong(template, CKA_VALUE_LEN)? {
                let len = usize::try_from(len).map_err(|_| Error::AttributeValueInvalid)?;
                value = payload.get(..len).ok_or(Error::TemplateInconsistent)?;
            }
            if (kt == CKK_AES && !matches!(value.len(), 16 | 24 | 32))
                || (kt == CKK_DES3 && value.len() != des3::KEY_LEN)
            {
                return Err(Error::WrappedKeyInvalid);
            }
            Ok((kt, secret_material(kt, value)?))
        }
        CKO_PRIVATE_KEY => match key_type {
            Some(CKK_RSA) => {
                let (k, c) =
                    RsaPrivateKey::from_pkcs8_der(payload).map_err(|_| Error::WrappedKeyInvalid)?;
                Ok((CKK_RSA, rsa_material(&k, &c)?.1))
            }
            Some(kt @ (CKK_EC | CKK_EC_EDWARDS))
                if kt == CKK_EC_EDWARDS
                    || find_bytes(template, CKA_EC_PARAMS)?.is_some_and(ed25519::is_params) =>
            {
                let (k, _) = Ed25519PrivateKey::from_pkcs8_der(payload)
                    .map_err(|_| Error::WrappedKeyInvalid)?;
                let params = find_bytes(template, CKA_EC_PARAMS)?
                    .map_or_else(ed25519::params, <[u8]>::to_vec);
                if !ed25519::is_params(&params) {
                    return Err(Error::TemplateInconsistent);
                }
                Ok((kt, ed25519_material(&k, &params)?.1))
            }
            Some(CKK_EC) => {
                let (k, curve, d) =
                    EcPrivateKey::from_pkcs8_der(payload).map_err(|_| Error::WrappedKeyInvalid)?;
                let public = EcPublicKey::from_point(curve, &k.public_point())?;
                let params = find_bytes(template, CKA_EC_PARAMS)?
                    .map_or_else(|| curve.params(), <[u8]>::to_vec);
                Ok((
                    CKK_EC,
                    vec![
                        bytes(CKA_EC_PARAMS, &params),
                        bytes(CKA_VALUE, &d),
                        bytes(CKA_PUBLIC_KEY_INFO, &public.to_spki_der()?),
                    ],
                ))
            }
            Some(_) => Err(Error::TemplateInconsistent),
            None => Err(Error::TemplateIncomplete),
        },
        _ => Err(Error::TemplateInconsistent),
    }
}

/// Derive secret-key material from a base key: (key type, attributes).
pub fn derive(
    mech: &Mechanism,
    base: &ParsedKey,
    key_type: u64,
    template: &[Attribute],
) -> Result<(u64, Vec<Attribute>)> {
    check_available(mech)?;
    if let Mechanism::DhPkcsDerive(peer) = mech {
        let ParsedKey::DhPrivate(k) = base else {
            return Err(Error::KeyTypeInconsistent);
        };
        let z = k.derive(peer)?;
        return derived_value(&z, key_type, template);
    }
    let Mechanism::Ecdh1Derive {
        kdf,
        shared_data,
        public_data,
    } = mech
    else {
        return Err(Error::MechanismInvalid);
    };
    let ParsedKey::EcPrivate(k) = base else {
        return Err(Error::KeyTypeInconsistent);
    };
    let peer = ec::ec_point_from_der(public_data).map_err(|_| Error::MechanismParamInvalid)?;
    let z = k.ecdh(&peer)?;
    let want = match find_ulong(template, CKA_VALUE_LEN)? {
        Some(l) => usize::try_from(l).map_err(|_| Error::AttributeValueInvalid)?,
        None if key_type == CKK_AES => return Err(Error::TemplateIncomplete),
        None => z.len(),
    };
    let hash = match *kdf {
        CKD_NULL => None,
        CKD_SHA1_KDF | vendor::CKD_CLOUDHSM_X963_SHA1_KDF => Some(HashAlg::Sha1),
        CKD_SHA224_KDF | vendor::CKD_CLOUDHSM_X963_SHA224_KDF => Some(HashAlg::Sha224),
        CKD_SHA256_KDF | vendor::CKD_CLOUDHSM_X963_SHA256_KDF => Some(HashAlg::Sha256),
        CKD_SHA384_KDF | vendor::CKD_CLOUDHSM_X963_SHA384_KDF => Some(HashAlg::Sha384),
        CKD_SHA512_KDF | vendor::CKD_CLOUDHSM_X963_SHA512_KDF => Some(HashAlg::Sha512),
        _ => return Err(Error::MechanismParamInvalid),
    };
    let value: Zeroizing<Vec<u8>> = match hash {
        None => {
            if !shared_data.is_empty() {
                return Err(Error::MechanismParamInvalid);
            }
            Zeroizing::new(z.get(..want).ok_or(Error::TemplateInconsistent)?.to_vec())
        }
        // ANSI X9.63 KDF: Hash(Z || counter32 || SharedInfo) for counter = 1, 2, ...
        Some(h) => {
            let mut out = Zeroizing::new(Vec::with_capacity(want + h.len()));
            let mut counter: u32 = 1;
            while out.len() < want {
                let mut hasher = crate::crypto::digest::Hasher::new(h);
                hasher.update(&z);
                hasher.update(&counter.to_be_bytes());
                hasher.update(shared_data);
                out.extend_from_slice(&hasher.finish());
                counter += 1;
            }
            out.truncate(want);
            out
        }
    };
    if key_type == CKK_AES && !matches!(value.len(), 16 | 24 | 32) {
        return Err(Error::KeySizeRange);
    }
    Ok((key_type, secret_material(key_type, &value)?))
}

/// A secret key from a raw shared secret (CKD_NULL-style): its leading CKA_VALUE_LEN bytes
/// (all of it when absent, except for AES, which needs a length).
fn derived_value(z: &[u8], key_type: u64, template: &[Attribute]) -> Result<(u64, Vec<Attribute>)> {
    let want = match find_ulong(template, CKA_VALUE_LEN)? {
        Some(l) => usize::try_from(l).map_err(|_| Error::AttributeValueInvalid)?,
        None if key_type == CKK_AES => return Err(Error::TemplateIncomplete),
        None if key_type == CKK_DES3 => des3::KEY_LEN,
        None => z.len(),
    };
    let value = Zeroizing::new(z.get(..want).ok_or(Error::TemplateInconsistent)?.to_vec());
    if (key_type == CKK_AES && !matches!(value.len(), 16 | 24 | 32))
        || (key_type == CKK_DES3 && value.len() != des3::KEY_LEN)
        || value.is_empty()
    {
        return Err(Error::KeySizeRange);
    }
    Ok((key_type, secret_material(key_type, &value)?))
}
