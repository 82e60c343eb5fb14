//! DSA (FIPS 186-4) for CKM_DSA and CKM_DSA_SHA*: legacy, for migrations; not offered by the
//! FIPS build. p of 2048 or 3072 bits with q of 224 or 256 bits; signatures are r || s, each
//! as long as q (PKCS #11 §2.2). The nonce comes from aws-lc's DRBG.

use zeroize::Zeroizing;

use super::dh::{bits, cmp_be};
use super::raw::Dsa;
use crate::error::{Error, Result};

/// Prime sizes we accept, in bits.
pub const MIN_BITS: usize = 2048;
pub const MAX_BITS: usize = 3072;

/// New domain parameters with a p of 2048 or 3072 bits (else `KeySizeRange`) and a q of 256
/// bits: (p, q, g).
pub fn generate_params(p_bits: usize) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    if p_bits != 2048 && p_bits != 3072 {
        return Err(Error::KeySizeRange);
    }
    Dsa::generate_params(p_bits as u32)
}

/// Check domain parameters: p of 2048..=3072 bits (else `KeySizeRange`), q of 224 or 256
/// bits and 1 < g < p (else `AttributeValueInvalid`).
pub fn check_params(p: &[u8], q: &[u8], g: &[u8]) -> Result<()> {
    if !(MIN_BITS..=MAX_BITS).contains(&bits(p)) {
        return Err(Error::KeySizeRange);
    }
    if !matches!(bits(q), 224 | 256) || cmp_be(g, &[1]).is_le() || cmp_be(g, p).is_ge() {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(())
}

/// A key pair on checked parameters: (y, x).
pub fn generate(p: &[u8], q: &[u8], g: &[u8]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    Dsa::generate(p, q, g)
}

/// A DSA private key.
pub struct DsaPrivateKey(Dsa);

/// A DSA public key.
pub struct DsaPublicKey(Dsa);

impl DsaPrivateKey {
    pub fn new(p: &[u8], q: &[u8], g: &[u8], x: &[u8]) -> Result<Self> {
        check_params(p, q, g)?;
        if cmp_be(x, &[0]).is_eq() || cmp_be(x, q).is_ge() {
            return Err(Error::AttributeValueInvalid);
        }
        Ok(DsaPrivateKey(Dsa::new(p, q, g, x, true)?))
    }

    /// The signature length: twice the length of q.
    pub fn signature_len(&self) -> usize {
        2 * self.0.q_len()
    }

    /// Sign a digest (longer than q: its leftmost bytes, as FIPS 186-4 says).
    pub fn sign(&self, digest: &[u8]) -> Result<Vec<u8>> {
        self.0.sign(digest)
    }
}

impl DsaPublicKey {
    pub fn new(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Result<Self> {
        check_params(p, q, g)?;
        if cmp_be(y, &[1]).is_le() || cmp_be(y, p).is_ge() {
            return Err(Error::AttributeValueInvalid);
        }
        Ok(DsaPublicKey(Dsa::new(p, q, g, y, false)?))
    }

    /// Verify r || s: not twice the length of q: `SignatureLenRange`; bad: `SignatureInvalid`.
    pub fn verify(&self, digest: &[u8], sig: &[u8]) -> Result<()> {
        if sig.len() != 2 * self.0.q_len() {
            return Err(Error::SignatureLenRange);
        }
        if self.0.verify(digest, sig)? {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

impl std::fmt::Debug for DsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DsaPrivateKey")
    }
}
impl std::fmt::Debug for DsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DsaPublicKey")
    }
}
