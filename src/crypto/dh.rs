//! Finite-field Diffie-Hellman (PKCS #3, CKM_DH_PKCS_*): legacy, for migrations; not offered by
//! the FIPS build. Primes of 2048 to 8192 bits, safe primes only; new domain parameters are
//! the RFC 7919 groups (ffdhe2048/3072/4096/8192), never freshly generated primes.

use std::cmp::Ordering;

use zeroize::Zeroizing;

use super::raw::{self, Dh};
use crate::error::{Error, Result};

/// Prime sizes we accept, in bits.
pub const MIN_BITS: usize = 2048;
pub const MAX_BITS: usize = 8192;

/// Big-endian bytes without leading zeros.
fn strip(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| b != 0).unwrap_or(v.len());
    &v[start..]
}

/// Compare two unsigned big-endian integers.
pub(crate) fn cmp_be(a: &[u8], b: &[u8]) -> Ordering {
    let (a, b) = (strip(a), strip(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `v - small` for `v >= small` (big-endian).
fn sub_small(v: &[u8], small: u8) -> Vec<u8> {
    let mut out = v.to_vec();
    let mut borrow = u16::from(small);
    for b in out.iter_mut().rev() {
        let x = u16::from(*b);
        if x >= borrow {
            *b = (x - borrow) as u8;
            return out;
        }
        *b = (x + 256 - borrow) as u8;
        borrow = 1;
    }
    out
}

/// Whether 2 <= v <= p - 2 (the range of a DH public value or generator).
pub fn in_range(v: &[u8], p: &[u8]) -> bool {
    cmp_be(v, &[2]) != Ordering::Less
        && cmp_be(p, &[4]) != Ordering::Less
        && cmp_be(v, &sub_small(p, 2)) != Ordering::Greater
}

/// The size of an unsigned big-endian integer in bits.
pub fn bits(v: &[u8]) -> usize {
    let v = strip(v);
    match v.first() {
        None => 0,
        Some(&top) => v.len() * 8 - top.leading_zeros() as usize,
    }
}

/// The RFC 7919 group (p, g = 2) with a prime of `bits` bits: 2048, 3072, 4096 or 8192,
/// else `KeySizeRange`.
pub fn named_group(bits: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    raw::ffdhe_group(bits)
}

/// Check domain parameters: p of 2048..=8192 bits (else `KeySizeRange`), a safe prime, and
/// 2 <= g <= p - 2 (else `AttributeValueInvalid`).
pub fn check_params(p: &[u8], g: &[u8]) -> Result<()> {
    if !(MIN_BITS..=MAX_BITS).contains(&bits(p)) {
        return Err(Error::KeySizeRange);
    }
    if !in_range(g, p) || !Dh::check_safe_prime(p, g)? {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(())
}

/// A key pair on checked parameters: (public value y, private value x). `priv_bits`, if
/// given, is the private value's length (CKA_VALUE_BITS).
pub fn generate(
    p: &[u8],
    g: &[u8],
    priv_bits: Option<u32>,
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    Dh::generate(p, g, priv_bits)
}

/// A DH private key.
pub struct DhPrivateKey {
    dh: Dh,
    p: Vec<u8>,
}

impl std::fmt::Debug for DhPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DhPrivateKey")
    }
}

impl DhPrivateKey {
    pub fn new(p: &[u8], g: &[u8], x: &[u8]) -> Result<Self> {
        Ok(DhPrivateKey {
            dh: Dh::private(p, g, x)?,
            p: strip(p).to_vec(),
        })
    }

    /// The shared secret y^x mod p, left-padded to the length of p. A peer value outside
    /// [2, p - 2]: `MechanismParamInvalid`.
    pub fn derive(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if !in_range(peer, &self.p) {
            return Err(Error::MechanismParamInvalid);
        }
        self.dh.compute(strip(peer), self.p.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let p = [0x01, 0x00]; // 256
        assert!(!in_range(&[1], &p));
        assert!(in_range(&[2], &p));
        assert!(in_range(&[0, 0, 0xfe], &p));
        assert!(!in_range(&[0xff], &p));
        assert_eq!(sub_small(&p, 2), vec![0, 0xfe]);
        assert_eq!(bits(&[0, 0x01, 0]), 9);
    }

    #[test]
    fn agreement() {
        let (p, g) = named_group(2048).unwrap();
        assert_eq!(bits(&p), 2048);
        check_params(&p, &g).unwrap();
        let (ya, xa) = generate(&p, &g, None).unwrap();
        let (yb, xb) = generate(&p, &g, None).unwrap();
        let a = DhPrivateKey::new(&p, &g, &xa).unwrap();
        let b = DhPrivateKey::new(&p, &g, &xb).unwrap();
        assert_eq!(a.derive(&yb).unwrap(), b.derive(&ya).unwrap());
        assert_eq!(
            a.derive(&[1]).map(|_| ()),
            Err(Error::MechanismParamInvalid)
        );
        // Not a safe prime.
        let mut q = p.clone();
        q[255] ^= 2;
        assert!(check_params(&q, &g).is_err());
    }
}
