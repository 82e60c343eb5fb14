//! Ed25519 (RFC 8032, pure mode) on aws-lc-rs: key generation from a random seed, signing,
//! verification, and the encodings PKCS#11 uses (CKA_EC_PARAMS, CKA_EC_POINT, PKCS#8, SPKI).

use aws_lc_rs::encoding::{AsBigEndian, AsDer, Curve25519SeedBin, Pkcs8V1Der};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

use super::der;
use crate::error::{Error, Result};

/// Length of a seed (the RFC 8032 private key), a public key, and a signature.
pub const SEED_LEN: usize = 32;
pub const PUBLIC_LEN: usize = 32;
pub const SIGNATURE_LEN: usize = 64;

/// The content of the Ed25519 OID 1.3.101.112.
const OID: [u8; 3] = [0x2b, 0x65, 0x70];
const CURVE_NAME: &[u8] = b"edwards25519";

/// CKA_EC_PARAMS for Ed25519 as we write it: the DER OID 1.3.101.112.
pub fn params() -> Vec<u8> {
    der::oid(&OID).to_vec()
}

/// Whether CKA_EC_PARAMS names Ed25519: the OID 1.3.101.112 (RFC 8410), or the printable
/// string "edwards25519" (PKCS#11 3.0 curve name).
pub fn is_params(p: &[u8]) -> bool {
    if let Ok(oid) = der::parse_single(p, 0x06) {
        return oid == OID;
    }
    matches!(der::parse_single(p, 0x13), Ok(name) if name == CURVE_NAME)
}

/// CKA_EC_POINT of an Ed25519 key: the DER OCTET STRING of the 32-byte key.
pub fn point_to_der(public: &[u8]) -> Vec<u8> {
    der::octet_string(public).to_vec()
}

/// The 32-byte public key from CKA_EC_POINT: a DER OCTET STRING (the standard) or the bare
/// 32 bytes. Anything else: `AttributeValueInvalid`.
pub fn point_from_der(v: &[u8]) -> Result<[u8; PUBLIC_LEN]> {
    let raw = match der::parse_single(v, der::TAG_OCTET_STRING) {
        Ok(inner) if inner.len() == PUBLIC_LEN => inner,
        _ => v,
    };
    raw.try_into().map_err(|_| Error::AttributeValueInvalid)
}

/// SubjectPublicKeyInfo (RFC 8410) of a public key.
pub fn spki_der(public: &[u8]) -> Vec<u8> {
    let alg = der::sequence(&[&der::oid(&OID)]);
    der::sequence(&[&alg, &der::bit_string(public)]).to_vec()
}

/// An Ed25519 private key, parsed once.
pub struct Ed25519PrivateKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Ed25519PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519PrivateKey")
    }
}

impl Ed25519PrivateKey {
    /// A fresh key pair.
    pub fn generate() -> Result<Self> {
        let pair = Ed25519KeyPair::generate().map_err(|_| Error::GeneralError)?;
        Ok(Ed25519PrivateKey { pair })
    }

    /// From the 32-byte seed (CKA_VALUE). Wrong length: `KeySizeRange`.
    pub fn from_seed(seed: &[u8]) -> Result<Self> {
        if seed.len() != SEED_LEN {
            return Err(Error::KeySizeRange);
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| Error::KeySizeRange)?;
        Ok(Ed25519PrivateKey { pair })
    }

    /// From a PKCS#8 (v1 or v2) PrivateKeyInfo; returns the key and its seed.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<(Self, Zeroizing<Vec<u8>>)> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der_bytes)
            .map_err(|_| Error::WrappedKeyInvalid)?;
        let k = Ed25519PrivateKey { pair };
        let seed = k.seed()?;
        Ok((k, seed))
    }

    /// The 32-byte seed (CKA_VALUE).
    pub fn seed(&self) -> Result<Zeroizing<Vec<u8>>> {
        let seed = self.pair.seed().map_err(|_| Error::GeneralError)?;
        let bin: Curve25519SeedBin<'_> = seed.as_be_bytes().map_err(|_| Error::GeneralError)?;
        Ok(Zeroizing::new(bin.as_ref().to_vec()))
    }

    /// PKCS#8 v1 PrivateKeyInfo (RFC 8410), for wrapping.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let doc: Pkcs8V1Der<'_> = self.pair.as_der().map_err(|_| Error::GeneralError)?;
        Ok(Zeroizing::new(doc.as_ref().to_vec()))
    }

    /// The 32-byte public key.
    pub fn public(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// A pure Ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.pair.sign(msg).as_ref().to_vec()
    }
}

/// An Ed25519 public key.
#[derive(Debug, Clone)]
pub struct Ed25519PublicKey {
    bytes: [u8; PUBLIC_LEN],
}

impl Ed25519PublicKey {
    /// From the 32-byte key (checked when a signature is verified).
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        Ok(Ed25519PublicKey {
            bytes: b.try_into().map_err(|_| Error::AttributeValueInvalid)?,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Verifies a pure Ed25519 signature: wrong length `SignatureLenRange`, else
    /// `SignatureInvalid` on any failure.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        if sig.len() != SIGNATURE_LEN {
            return Err(Error::SignatureLenRange);
        }
        UnparsedPublicKey::new(&signature::ED25519, &self.bytes)
            .verify(msg, sig)
            .map_err(|_| Error::SignatureInvalid)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test_2() {
        // RFC 8032 section 7.1, TEST 2.
        let seed = hex::decode("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
            .unwrap();
        let k = Ed25519PrivateKey::from_seed(&seed).unwrap();
        assert_eq!(
            hex::encode(k.public()),
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        );
        let sig = k.sign(&[0x72]);
        assert_eq!(
            hex::encode(&sig),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        );
        let p = Ed25519PublicKey::from_bytes(&k.public()).unwrap();
        p.verify(&[0x72], &sig).unwrap();
        assert_eq!(p.verify(&[0x73], &sig), Err(Error::SignatureInvalid));
        assert_eq!(p.verify(&[0x72], &sig[..63]), Err(Error::SignatureLenRange));
        assert_eq!(k.seed().unwrap().as_slice(), seed.as_slice());
        let (k2, s2) = Ed25519PrivateKey::from_pkcs8_der(&k.to_pkcs8_der().unwrap()).unwrap();
        assert_eq!(s2.as_slice(), seed.as_slice());
        assert_eq!(k2.public(), k.public());
    }

    #[test]
    fn encodings() {
        assert!(is_params(&params()));
        assert!(is_params(&[
            0x13, 12, b'e', b'd', b'w', b'a', b'r', b'd', b's', b'2', b'5', b'5', b'1', b'9'
        ]));
        assert!(!is_params(&hex::decode("06082a8648ce3d030107").unwrap()));
        let pk = [9u8; 32];
        assert_eq!(point_from_der(&point_to_der(&pk)).unwrap(), pk);
        assert_eq!(point_from_der(&pk).unwrap(), pk);
        assert!(point_from_der(&[1, 2, 3]).is_err());
        assert_eq!(spki_der(&pk).len(), 44);
    }
}
