//! Sealing of record bodies: AES-256-GCM under a 256-bit key (the domain key, or the
//! public-object key), with an AAD that binds the record's kind, id and version.
//!
//! Envelope (format version 1), see `docs/store-format.md`:
//!
//! ```text
//! 0x01 || nonce (12 bytes, random) || ciphertext (len(plaintext)) || tag (16 bytes)
//! AAD = "cloudhsm-record-v1" || kind (1 byte) || len(id) (u32 BE) || id || version (u64 BE)
//! ```
//!
//! Because the AAD names the record, a body copied to another id or kind, or replayed at
//! another version, fails to open. Every failure to open is the one opaque
//! `Error::StoreCorrupt`: the caller learns nothing about which byte was wrong.
//!
//! The nonce is drawn by aws-lc itself (`RandomizedNonceKey`, the FIPS-approved
//! internal-IV construction). With 96-bit random nonces, NIST SP 800-38D §8.3 allows
//! 2^32 seals under one key; records are written far more rarely than that.

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

use super::Kind;
use crate::error::{Error, Result};

/// The first byte of every sealed body.
pub const FORMAT_V1: u8 = 1;

/// Length of the GCM tag at the end of a sealed body.
pub const TAG_LEN: usize = 16;

/// Bytes a sealed body adds to its plaintext: format byte, nonce, tag.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// The label that starts every AAD, naming the envelope format.
const AAD_LABEL: &[u8] = b"cloudhsm-record-v1";

/// A 256-bit record-sealing key. The raw bytes are zeroized on drop; `Debug` prints only the
/// type name. The aws-lc key schedule is built once, in `new`, so sealing costs no key setup.
pub struct SealKey {
    // Boxed so that moving a `SealKey` does not leave copies of the bytes behind.
    bytes: Box<Zeroizing<[u8; 32]>>,
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey")
    }
}

impl SealKey {
    /// A key from its 32 bytes (which the caller should zeroize itself).
    ///
    /// Fails (`Error::GeneralError`) only if aws-lc refuses the key, which for 32 bytes can
    /// happen only when its FIPS self-tests failed.
    pub fn new(bytes: &[u8; 32]) -> Result<Self> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| Error::GeneralError)?;
        Ok(SealKey {
            bytes: Box::new(Zeroizing::new(*bytes)),
            key,
        })
    }

    /// A fresh random key from aws-lc's DRBG.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(&mut bytes[..]).map_err(|_| Error::FunctionFailed)?;
        Self::new(&bytes)
    }

    /// The raw key, for wrapping it into a user's keyslot.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Seal `plaintext` as the body of record (`kind`, `id`) at `version`.
    pub fn seal(&self, kind: Kind, id: &[u8], version: u64, plaintext: &[u8]) -> Result<Vec<u8>> {
        let aad = aad(kind, id, version).ok_or(Error::ArgumentsBad)?;
        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&[0u8; NONCE_LEN]);
        out.extend_from_slice(plaintext);
        let body_start = 1 + NONCE_LEN;
        match self
            .key
            .seal_in_place_separate_tag(Aad::from(&aad[..]), &mut out[body_start..])
        {
            Ok((nonce, tag)) => {
                let nonce: &[u8; NONCE_LEN] = nonce.as_ref();
                out[1..body_start].copy_from_slice(nonce);
                out.extend_from_slice(tag.as_ref());
                Ok(out)
            }
            Err(_) => {
                // `out` may still hold plaintext.
                zeroize::Zeroize::zeroize(&mut out);
                Err(Error::FunctionFailed)
            }
        }
    }

    /// Open a body sealed by `seal` for the same (`kind`, `id`, `version`).
    ///
    /// Any failure (wrong key, wrong kind/id/version, a flipped bit, truncation, unknown
    /// format) is `Error::StoreCorrupt`.
    pub fn open(
        &self,
        kind: Kind,
        id: &[u8],
        version: u64,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let (&format, rest) = sealed.split_first().ok_or(Error::StoreCorrupt)?;
        if format != FORMAT_V1 || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(Error::StoreCorrupt);
        }
        let (nonce, ciphertext_and_tag) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::StoreCorrupt)?;
        let aad = aad(kind, id, version).ok_or(Error::StoreCorrupt)?;
        let mut buf = Zeroizing::new(ciphertext_and_tag.to_vec());
        let plaintext_len = self
            .key
            .open_in_place(nonce, Aad::from(&aad[..]), &mut buf[..])
            .map_err(|_| Error::StoreCorrupt)?
            .len();
        buf.truncate(plaintext_len);
        Ok(buf)
    }
}

/// The AAD binding a body to its record; None if `id` is longer than u32::MAX bytes.
fn aad(kind: Kind, id: &[u8], version: u64) -> Option<Vec<u8>> {
    let id_len = u32::try_from(id.len()).ok()?;
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 1 + 4 + id.len() + 8);
    aad.extend_from_slice(AAD_LABEL);
    aad.push(kind.as_u8());
    aad.extend_from_slice(&id_len.to_be_bytes());
    aad.extend_from_slice(id);
    aad.extend_from_slice(&version.to_be_bytes());
    Some(aad)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;

    const ID: &[u8] = b"0123456789abcdef";

    fn key() -> SealKey {
        SealKey::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = key();
        for len in [0usize, 1, 15, 16, 17, 1000, 65536] {
            let pt: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let sealed = k.seal(Kind::Object, ID, 3, &pt).unwrap();
            assert_eq!(sealed.len(), pt.len() + OVERHEAD);
            assert_eq!(sealed[0], FORMAT_V1);
            if len >= 16 {
                assert!(
                    !sealed.windows(16).any(|w| w == &pt[..16]),
                    "plaintext visible"
                );
            }
            assert_eq!(&k.open(Kind::Object, ID, 3, &sealed).unwrap()[..], &pt[..]);
        }
    }

    #[test]
    fn nonces_differ() {
        let k = key();
        let a = k.seal(Kind::User, ID, 1, b"same").unwrap();
        let b = k.seal(Kind::User, ID, 1, b"same").unwrap();
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn known_aad_layout() {
        let aad = aad(Kind::Object, b"ab", 0x0102).unwrap();
        let mut want = b"cloudhsm-record-v1".to_vec();
        want.extend_from_slice(&[3, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(aad, want);
    }

    /// The envelope is plain AES-256-GCM: an independent implementation opens it.
    #[test]
    fn matches_independent_gcm() {
        use aws_lc_rs::aead::{LessSafeKey, UnboundKey};
        let k = key();
        let sealed = k.seal(Kind::Meta, ID, 9, b"hello domain").unwrap();
        let other = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..13]).unwrap();
        let mut buf = sealed[13..].to_vec();
        let pt = other
            .open_in_place(nonce, Aad::from(aad(Kind::Meta, ID, 9).unwrap()), &mut buf)
            .unwrap();
        assert_eq!(pt, b"hello domain");
    }

    #[test]
    fn every_single_byte_flip_fails() {
        let k = key();
        let sealed = k
            .seal(
                Kind::Object,
                ID,
                5,
                b"CKA_SENSITIVE=true, CKA_EXTRACTABLE=false",
            )
            .unwrap();
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                assert_eq!(
                    k.open(Kind::Object, ID, 5, &bad).unwrap_err(),
                    Error::StoreCorrupt,
                    "flip of bit {bit} in byte {i} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn wrong_kind_id_version_or_key_fails() {
        let k = key();
        let sealed = k.seal(Kind::Object, ID, 5, b"body").unwrap();
        let corrupt = Err(Error::StoreCorrupt);
        assert_eq!(k.open(Kind::User, ID, 5, &sealed).map(|_| ()), corrupt);
        assert_eq!(k.open(Kind::Meta, ID, 5, &sealed).map(|_| ()), corrupt);
        assert_eq!(
            k.open(Kind::Object, b"0123456789abcdeF", 5, &sealed)
                .map(|_| ()),
            corrupt
        );
        assert_eq!(
            k.open(Kind::Object, &ID[..15], 5, &sealed).map(|_| ()),
            corrupt
        );
        assert_eq!(k.open(Kind::Object, b"", 5, &sealed).map(|_| ()), corrupt);
        assert_eq!(k.open(Kind::Object, ID, 4, &sealed).map(|_| ()), corrupt);
        assert_eq!(k.open(Kind::Object, ID, 6, &sealed).map(|_| ()), corrupt);
        assert_eq!(
            k.open(Kind::Object, ID, 5 | 1 << 32, &sealed).map(|_| ()),
            corrupt
        );
        let other = SealKey::new(&[8u8; 32]).unwrap();
        assert_eq!(
            other.open(Kind::Object, ID, 5, &sealed).map(|_| ()),
            corrupt
        );
        assert!(k.open(Kind::Object, ID, 5, &sealed).is_ok());
    }

    #[test]
    fn truncated_or_extended_input_fails() {
        let k = key();
        let sealed = k.seal(Kind::Audit, ID, 1, b"twenty bytes of text").unwrap();
        for len in 0..sealed.len() {
            assert_eq!(
                k.open(Kind::Audit, ID, 1, &sealed[..len]).map(|_| ()),
                Err(Error::StoreCorrupt),
                "truncated to {len}"
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(
            k.open(Kind::Audit, ID, 1, &longer).map(|_| ()),
            Err(Error::StoreCorrupt)
        );
        let mut v2 = sealed.clone();
        v2[0] = 2;
        assert_eq!(
            k.open(Kind::Audit, ID, 1, &v2).map(|_| ()),
            Err(Error::StoreCorrupt)
        );
    }

    /// Property-style: arbitrary inputs (a deterministic xorshift stream) never panic and
    /// never open.
    #[test]
    fn arbitrary_inputs_never_open() {
        let k = key();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let len = (next() % 80) as usize;
            let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 2 == 0 && !input.is_empty() {
                input[0] = FORMAT_V1;
            }
            assert!(k.open(Kind::Object, ID, next() % 4, &input).is_err());
        }
    }

    #[test]
    fn generate_and_debug() {
        let a = SealKey::generate().unwrap();
        let b = SealKey::generate().unwrap();
        assert_ne!(a.bytes(), b.bytes());
        assert_eq!(format!("{a:?}"), "SealKey");
        let sealed = a.seal(Kind::Meta, b"", 1, b"x").unwrap();
        let again = SealKey::new(a.bytes()).unwrap();
        assert_eq!(&again.open(Kind::Meta, b"", 1, &sealed).unwrap()[..], b"x");
    }
}
