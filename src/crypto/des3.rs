//! Legacy triple DES (DES-EDE3, 24-byte keys): ECB, CBC and CBC with PKCS#7 padding, single-
//! and multi-part. Kept for migrations (CKM_DES3_*); not offered by the FIPS build.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::raw::Des3Schedule;
use crate::error::{Error, Result};

/// The DES block size.
pub const BLOCK: usize = 8;
/// A DES3 key's length in bytes (three DES keys, parity bits included).
pub const KEY_LEN: usize = 24;

/// A DES-EDE3 key with its expanded schedules.
pub struct Des3Key {
    schedule: Des3Schedule,
}

impl std::fmt::Debug for Des3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Des3Key")
    }
}

/// Set each byte's low bit so that the byte has odd parity (FIPS 46-3).
pub fn set_odd_parity(key: &mut [u8]) {
    for b in key {
        let high = *b & 0xfe;
        *b = high | u8::from(high.count_ones() % 2 == 0);
    }
}

/// A fresh random DES3 key: odd parity, and three distinct DES keys (so that it never
/// degenerates to single DES).
pub fn generate() -> Result<Zeroizing<Vec<u8>>> {
    loop {
        let mut k = Zeroizing::new(vec![0u8; KEY_LEN]);
        super::rng::fill(&mut k)?;
        set_odd_parity(&mut k);
        let (a, b, c) = (&k[..8], &k[8..16], &k[16..]);
        if a != b && b != c && a != c {
            return Ok(k);
        }
    }
}

impl Des3Key {
    /// A 24-byte key; any other length: `KeySizeRange`.
    pub fn new(key: &[u8]) -> Result<Self> {
        let key: &[u8; KEY_LEN] = key.try_into().map_err(|_| Error::KeySizeRange)?;
        Ok(Des3Key {
            schedule: Des3Schedule::new(key),
        })
    }

    /// CKA_CHECK_VALUE: the first three bytes of the encryption of a zero block.
    pub fn check_value(&self) -> [u8; 3] {
        let mut block = [0u8; BLOCK];
        self.schedule.ecb(&mut block, true);
        [block[0], block[1], block[2]]
    }

    /// ECB encryption; length not a multiple of 8: `DataLenRange`.
    pub fn ecb_encrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        if !data.len().is_multiple_of(BLOCK) {
            return Err(Error::DataLenRange);
        }
        let mut out = data.to_vec();
        self.schedule.ecb(&mut out, true);
        Ok(out)
    }

    /// ECB decryption; length not a multiple of 8: `EncryptedDataLenRange`.
    pub fn ecb_decrypt(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if !data.len().is_multiple_of(BLOCK) {
            return Err(Error::EncryptedDataLenRange);
        }
        let mut out = Zeroizing::new(data.to_vec());
        self.schedule.ecb(&mut out, false);
        Ok(out)
    }

    /// CBC encryption, with PKCS#7 padding (1..=8 bytes, always) when `pad`; without it the
    /// length must be a multiple of 8, else `DataLenRange`.
    pub fn cbc_encrypt(&self, iv: &[u8; 8], data: &[u8], pad: bool) -> Result<Vec<u8>> {
        let mut out = data.to_vec();
        if pad {
            let p = BLOCK - data.len() % BLOCK;
            out.resize(data.len() + p, p as u8);
        } else if !data.len().is_multiple_of(BLOCK) {
            return Err(Error::DataLenRange);
        }
        let mut chain = *iv;
        self.schedule.cbc(&mut out, &mut chain, true);
        Ok(out)
    }

    /// CBC decryption. Length not a multiple of 8 (or empty, with `pad`):
    /// `EncryptedDataLenRange`; bad padding: `EncryptedDataInvalid`, decided in constant time
    /// over the whole last block.
    pub fn cbc_decrypt(&self, iv: &[u8; 8], data: &[u8], pad: bool) -> Result<Zeroizing<Vec<u8>>> {
        if !data.len().is_multiple_of(BLOCK) || (pad && data.is_empty()) {
            return Err(Error::EncryptedDataLenRange);
        }
        let mut out = Zeroizing::new(data.to_vec());
        let mut chain = *iv;
        self.schedule.cbc(&mut out, &mut chain, false);
        if pad {
            let keep = super::pad::unpadded_len(&out, BLOCK)?;
            out.truncate(keep);
        }
        Ok(out)
    }
}

/// The mode of a [`Des3Stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Des3Mode {
    Ecb,
    /// CBC; `pad`: PKCS#7 (CKM_DES3_CBC_PAD).
    Cbc {
        iv: [u8; 8],
        pad: bool,
    },
}

/// A multi-part DES3 operation: whole blocks out as they are complete (decryption with
/// padding holds the last block back until the end).
pub struct Des3Stream {
    key: Arc<Des3Key>,
    mode: Des3Mode,
    encrypt: bool,
    pending: Zeroizing<Vec<u8>>,
    chain: [u8; 8],
}

impl std::fmt::Debug for Des3Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Des3Stream")
    }
}

impl Des3Stream {
    pub fn new(key: Arc<Des3Key>, mode: Des3Mode, encrypt: bool) -> Self {
        let chain = match mode {
            Des3Mode::Ecb => [0; 8],
            Des3Mode::Cbc { iv, .. } => iv,
        };
        Des3Stream {
            key,
            mode,
            encrypt,
            pending: Zeroizing::new(Vec::with_capacity(2 * BLOCK)),
            chain,
        }
    }

    fn padded_decrypt(&self) -> bool {
        !self.encrypt && matches!(self.mode, Des3Mode::Cbc { pad: true, .. })
    }

    fn process(&mut self, blocks: &mut [u8]) {
        match self.mode {
            Des3Mode::Ecb => self.key.schedule.ecb(blocks, self.encrypt),
            Des3Mode::Cbc { .. } => self.key.schedule.cbc(blocks, &mut self.chain, self.encrypt),
        }
    }

    /// More input; returns the blocks completed so far.
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let mut all = Zeroizing::new(Vec::with_capacity(self.pending.len() + data.len()));
        all.extend_from_slice(&self.pending);
        all.extend_from_slice(data);
        let mut n = all.len() / BLOCK * BLOCK;
        if self.padded_decrypt() && n == all.len() && n > 0 {
            n -= BLOCK; // the last block may hold the padding
        }
        let mut out = all[..n].to_vec();
        self.pending = Zeroizing::new(all[n..].to_vec());
        self.process(&mut out);
        Ok(out)
    }

    /// The end: the padded last block, or the unpadded last plaintext.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        match (self.mode, self.encrypt) {
            (Des3Mode::Cbc { pad: true, .. }, true) => {
                let p = BLOCK - self.pending.len();
                let mut out = self.pending.to_vec();
                out.resize(BLOCK, p as u8);
                self.process(&mut out);
                Ok(out)
            }
            (Des3Mode::Cbc { pad: true, .. }, false) => {
                if self.pending.len() != BLOCK {
                    return Err(Error::EncryptedDataLenRange);
                }
                let mut block = Zeroizing::new(self.pending.to_vec());
                self.process(&mut block);
                let keep = super::pad::unpadded_len(&block, BLOCK)?;
                Ok(block[..keep].to_vec())
            }
            _ if self.pending.is_empty() => Ok(Vec::new()),
            (_, true) => Err(Error::DataLenRange),
            (_, false) => Err(Error::EncryptedDataLenRange),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// NIST SP 800-67 Appendix B example: three-key TDEA in ECB mode.
    #[test]
    fn sp800_67_known_answer() {
        let key = Des3Key::new(&h("0123456789abcdef23456789abcdef01456789abcdef0123")).unwrap();
        let pt = b"The qufck brown fox jump";
        let ct = key.ecb_encrypt(pt).unwrap();
        assert_eq!(
            hex::encode(&ct),
            "a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900"
        );
        assert_eq!(&key.ecb_decrypt(&ct).unwrap()[..], pt);
    }

    #[test]
    fn parity_and_generation() {
        let mut k = vec![0u8, 1, 2, 0xfe, 0xff];
        set_odd_parity(&mut k);
        assert_eq!(k, vec![1, 1, 2, 0xfe, 0xfe]);
        let g = generate().unwrap();
        assert!(g.iter().all(|b| b.count_ones() % 2 == 1));
    }

    #[test]
    fn multipart_matches_single_part() {
        let key = Arc::new(Des3Key::new(&[7u8; 24]).unwrap());
        let iv = [9u8; 8];
        for len in [0usize, 1, 7, 8, 9, 16, 23, 40] {
            let pt: Vec<u8> = (0..len as u8).collect();
            let ct = key.cbc_encrypt(&iv, &pt, true).unwrap();
            for split in [0, len / 2, len] {
                let mut s = Des3Stream::new(key.clone(), Des3Mode::Cbc { iv, pad: true }, true);
                let mut out = s.update(&pt[..split]).unwrap();
                out.extend(s.update(&pt[split..]).unwrap());
                out.extend(s.finish().unwrap());
                assert_eq!(out, ct);
                let mut d = Des3Stream::new(key.clone(), Des3Mode::Cbc { iv, pad: true }, false);
                let cut = split.min(ct.len());
                let mut back = d.update(&ct[..cut]).unwrap();
                back.extend(d.update(&ct[cut..]).unwrap());
                back.extend(d.finish().unwrap());
                assert_eq!(back, pt);
            }
        }
        // Bad padding is one code.
        let mut ct = key.cbc_encrypt(&iv, b"abc", true).unwrap();
        ct[7] ^= 1;
        assert_eq!(
            key.cbc_decrypt(&iv, &ct, true).map(|_| ()),
            Err(Error::EncryptedDataInvalid)
        );
    }
}
