//! ChaCha20-Poly1305 (RFC 8439, aws-lc-rs's AEAD) and the raw ChaCha20 stream cipher
//! (aws-lc's `CRYPTO_chacha_20` through `raw`), with the 96-bit nonce / 32-bit counter layout
//! of RFC 8439 and the original 64-bit nonce / 64-bit counter one.

use aws_lc_rs::aead;
use zeroize::Zeroizing;

use super::raw;
use crate::error::{Error, Result};

/// Key length in bytes.
pub const KEY_LEN: usize = 32;
/// The AEAD's nonce and tag lengths.
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
const BLOCK: usize = 64;

/// A ChaCha20 key, with its AEAD context prepared once. Zeroized on drop.
pub struct ChaChaKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    aead: aead::LessSafeKey,
}

impl std::fmt::Debug for ChaChaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChaChaKey")
    }
}

impl ChaChaKey {
    /// `key` must be 32 bytes, else `KeySizeRange`.
    pub fn new(key: &[u8]) -> Result<Self> {
        let k: [u8; KEY_LEN] = key.try_into().map_err(|_| Error::KeySizeRange)?;
        let unbound = aead::UnboundKey::new(&aead::CHACHA20_POLY1305, key)
            .map_err(|_| Error::GeneralError)?;
        Ok(ChaChaKey {
            key: Zeroizing::new(k),
            aead: aead::LessSafeKey::new(unbound),
        })
    }

    fn nonce(nonce: &[u8]) -> Result<aead::Nonce> {
        aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::MechanismParamInvalid)
    }

    /// ChaCha20-Poly1305 encryption: ciphertext || 16-byte tag. The nonce must be 12 bytes,
    /// else `MechanismParamInvalid`.
    pub fn seal(&self, nonce: &[u8], aad: &[u8], pt: &[u8]) -> Result<Vec<u8>> {
        let nonce = Self::nonce(nonce)?;
        let mut out = Vec::with_capacity(pt.len() + TAG_LEN);
        out.extend_from_slice(pt);
        let tag = self
            .aead
            .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), &mut out)
            .map_err(|_| Error::DataLenRange)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// ChaCha20-Poly1305 decryption of ciphertext || tag. Shorter than a tag:
    /// `EncryptedDataLenRange`; authentication failure: `EncryptedDataInvalid`.
    pub fn open(&self, nonce: &[u8], aad: &[u8], ct_tag: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let nonce = Self::nonce(nonce)?;
        if ct_tag.len() < TAG_LEN {
            return Err(Error::EncryptedDataLenRange);
        }
        let mut buf = Zeroizing::new(ct_tag.to_vec());
        let n = self
            .aead
            .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
            .map_err(|_| Error::EncryptedDataInvalid)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}

/// A raw ChaCha20 keystream position, for single- and multi-part CKM_CHACHA20.
pub struct ChaChaStream {
    key: Zeroizing<[u8; KEY_LEN]>,
    /// 12 bytes: the RFC 8439 nonce, or the 64-bit nonce after the counter's high word.
    nonce: [u8; 12],
    wide: bool,
    /// The next block's counter.
    counter: u64,
    /// Keystream of the current partial block and how much of it is spent.
    ks: Zeroizing<[u8; BLOCK]>,
    used: usize,
}

impl std::fmt::Debug for ChaChaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChaChaStream")
    }
}

impl ChaChaStream {
    /// `nonce` of 12 bytes with a 32-bit `counter`, or of 8 bytes with a 64-bit one
    /// (`counter_bits`); anything else is `MechanismParamInvalid`.
    pub fn new(key: &ChaChaKey, nonce: &[u8], counter: u64, counter_bits: u64) -> Result<Self> {
        let mut n = [0u8; 12];
        let wide = match (nonce.len(), counter_bits) {
            (12, 32) if counter <= u64::from(u32::MAX) => {
                n.copy_from_slice(nonce);
                false
            }
            (8, 64) => {
                n[4..].copy_from_slice(nonce);
                true
            }
            _ => return Err(Error::MechanismParamInvalid),
        };
        Ok(ChaChaStream {
            key: Zeroizing::new(*key.key),
            nonce: n,
            wide,
            counter,
            ks: Zeroizing::new([0; BLOCK]),
            used: BLOCK,
        })
    }

    /// Blocks still available before the counter runs out.
    fn blocks_left(&self) -> u128 {
        let max: u128 = if self.wide { 1 << 64 } else { 1 << 32 };
        max - u128::from(self.counter)
    }

    /// The state's nonce argument and 32-bit counter for the next block.
    fn position(&self) -> ([u8; 12], u32) {
        let mut n = self.nonce;
        if self.wide {
            n[..4].copy_from_slice(&((self.counter >> 32) as u32).to_le_bytes());
        }
        (n, self.counter as u32)
    }

    /// XOR the keystream into `data` in place (encryption and decryption are the same).
    /// Running past the counter's end: `DataLenRange`, and nothing changes.
    pub fn apply(&mut self, data: &mut [u8]) -> Result<()> {
        let from_ks = (BLOCK - self.used).min(data.len());
        let rest = data.len() - from_ks;
        if rest.div_ceil(BLOCK) as u128 > self.blocks_left() {
            return Err(Error::DataLenRange);
        }
        let (head, mut tail) = data.split_at_mut(from_ks);
        for (d, k) in head.iter_mut().zip(&self.ks[self.used..]) {
            *d ^= k;
        }
        self.used += from_ks;
        // Whole blocks, never crossing a 2^32 boundary of the low counter word in one call.
        while tail.len() >= BLOCK {
            let low_left = (1u64 << 32) - (self.counter & 0xffff_ffff);
            let blocks = ((tail.len() / BLOCK) as u64).min(low_left);
            let (now, later) = tail.split_at_mut(blocks as usize * BLOCK);
            let (n, c) = self.position();
            raw::chacha20(now, &self.key, &n, c);
            self.counter += blocks;
            tail = later;
        }
        if !tail.is_empty() {
            *self.ks = [0; BLOCK];
            let (n, c) = self.position();
            raw::chacha20(&mut self.ks[..], &self.key, &n, c);
            self.counter += 1;
            for (d, k) in tail.iter_mut().zip(self.ks.iter()) {
                *d ^= k;
            }
            self.used = tail.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

    /// RFC 8439 §2.4.2: ChaCha20 with counter 1; split at every length, the stream matches.
    #[test]
    fn raw_keystream() {
        let key = ChaChaKey::new(&unhex(KEY)).unwrap();
        let nonce = unhex("000000000000004a00000000");
        let want = unhex(
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b
             f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
             07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736
             5af90bbf74a35be6b40b8eedf2785e42874d",
        );
        for split in [0, 1, 63, 64, 65, 100, SUNSCREEN.len()] {
            let mut s = ChaChaStream::new(&key, &nonce, 1, 32).unwrap();
            let mut data = SUNSCREEN.to_vec();
            let (a, b) = data.split_at_mut(split);
            s.apply(a).unwrap();
            s.apply(b).unwrap();
            assert_eq!(data, want, "split at {split}");
        }
        // 64-bit counter crossing its low word: the same as one call at the later position.
        let mut s = ChaChaStream::new(&key, &[7; 8], 0xffff_ffff, 64).unwrap();
        let mut a = vec![0u8; 128];
        s.apply(&mut a).unwrap();
        let mut t = ChaChaStream::new(&key, &[7; 8], 1 << 32, 64).unwrap();
        let mut b = vec![0u8; 64];
        t.apply(&mut b).unwrap();
        assert_eq!(a[64..], b[..]);
        // The 32-bit counter ends.
        let mut e = ChaChaStream::new(&key, &nonce, 0xffff_ffff, 32).unwrap();
        assert_eq!(e.apply(&mut [0u8; 65]), Err(Error::DataLenRange));
        assert!(ChaChaStream::new(&key, &nonce, 0, 64).is_err());
    }

    /// RFC 8439 §2.8.2.
    #[test]
    fn aead_known_answer() {
        let key = ChaChaKey::new(&unhex(
            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        ))
        .unwrap();
        let nonce = unhex("070000004041424344454647");
        let aad = unhex("50515253c0c1c2c3c4c5c6c7");
        let ct = key.seal(&nonce, &aad, SUNSCREEN).unwrap();
        assert_eq!(
            hex::encode(&ct[SUNSCREEN.len()..]),
            "1ae10b594f09e26a7e902ecbd0600691"
        );
        assert_eq!(hex::encode(&ct[..16]), "d31a8d34648e60db7b86afbc53ef7ec2");
        assert_eq!(&key.open(&nonce, &aad, &ct).unwrap()[..], SUNSCREEN);
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            key.open(&nonce, &aad, &bad).err(),
            Some(Error::EncryptedDataInvalid)
        );
        assert_eq!(
            key.seal(&[0; 8], &aad, b"").err(),
            Some(Error::MechanismParamInvalid)
        );
    }
}
