//! Key derivation: Argon2id for passwords (keyslots), HKDF-SHA256 for everything else.

use aws_lc_rs::hkdf;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Argon2id cost parameters, stored with each keyslot so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Argon2Params {
    /// OWASP's recommendation for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const DEFAULT: Argon2Params = Argon2Params {
        m_kib: 19456,
        t: 2,
        p: 1,
    };
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Argon2id (RFC 9106, version 0x13) of `password` and `salt` (at least 8 bytes) into 32
/// bytes. Parameters outside Argon2's limits: `ArgumentsBad`.
pub fn argon2id(password: &[u8], salt: &[u8], params: Argon2Params) -> Result<Zeroizing<[u8; 32]>> {
    let p = argon2::Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|_| Error::ArgumentsBad)?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p);
    let mut out = Zeroizing::new([0u8; 32]);
    a.hash_password_into(password, salt, &mut out[..])
        .map_err(|_| Error::ArgumentsBad)?;
    Ok(out)
}

/// An output length for aws-lc-rs's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 (RFC 5869): extract with `salt` (empty = zeros), expand with `info` to `len`
/// bytes (at most 255 * 32, else `ArgumentsBad`).
pub fn hkdf_sha256(ikm: &[u8], salt: &[u8], info: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    if len == 0 || len > 255 * 32 {
        return Err(Error::ArgumentsBad);
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, Len(len))
        .map_err(|_| Error::ArgumentsBad)?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    okm.fill(&mut out).map_err(|_| Error::GeneralError)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_rfc5869() {
        // RFC 5869 A.1 and A.3.
        let okm = hkdf_sha256(
            &[0x0b; 22],
            &hex::decode("000102030405060708090a0b0c").unwrap(),
            &hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap(),
            42,
        )
        .unwrap();
        assert_eq!(
            hex::encode(&okm[..]),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        let okm = hkdf_sha256(&[0x0b; 22], &[], &[], 42).unwrap();
        assert_eq!(
            hex::encode(&okm[..]),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
        assert_eq!(
            hkdf_sha256(b"k", b"s", b"i", 255 * 32 + 1).unwrap_err(),
            Error::ArgumentsBad
        );
        assert_eq!(
            hkdf_sha256(b"k", b"s", b"i", 255 * 32).unwrap().len(),
            255 * 32
        );
    }

    #[test]
    fn argon2id_reference_vector() {
        // The reference implementation's test vector (phc-winner-argon2 test.c), Argon2id
        // v1.3, t=2, m=2^16 KiB, p=1, "password"/"somesalt".
        let out = argon2id(
            b"password",
            b"somesalt",
            Argon2Params {
                m_kib: 1 << 16,
                t: 2,
                p: 1,
            },
        )
        .unwrap();
        assert_eq!(
            hex::encode(&out[..]),
            "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
        );
    }

    #[test]
    fn argon2id_params() {
        let small = Argon2Params {
            m_kib: 64,
            t: 1,
            p: 1,
        };
        let a = argon2id(b"pw", b"saltsalt", small).unwrap();
        assert_eq!(a, argon2id(b"pw", b"saltsalt", small).unwrap());
        assert_ne!(a, argon2id(b"pw2", b"saltsalt", small).unwrap());
        assert_ne!(
            a,
            argon2id(b"pw", b"saltsalt", Argon2Params { t: 2, ..small }).unwrap()
        );
        assert_eq!(
            argon2id(b"pw", b"short", small).unwrap_err(),
            Error::ArgumentsBad
        );
        assert_eq!(
            argon2id(
                b"pw",
                b"saltsalt",
                Argon2Params {
                    m_kib: 1,
                    t: 1,
                    p: 1
                }
            )
            .unwrap_err(),
            Error::ArgumentsBad
        );
        assert_eq!(
            Argon2Params::default(),
            Argon2Params {
                m_kib: 19456,
                t: 2,
                p: 1
            }
        );
    }
}
