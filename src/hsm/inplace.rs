//! Single-part operations that write their output straight into the caller's buffer (the
//! C_Encrypt / C_Decrypt / C_Sign hot path): symmetric ciphers sealed or decrypted in place,
//! MACs computed into place. Everything else, or an output buffer too small, goes through
//! `mechs::one_shot` and an owned output.
//!
//! Same checks and errors as `mechs::one_shot` for the same operation; decrypted output that
//! fails its check (GCM tag, CBC padding) is wiped from the buffer before the error returns.

use super::api::{Mechanism, OpKind};
use super::mechs::ParsedKey;
use crate::crypto::hmac::HmacKey;
use crate::error::{Error, Result};

/// Run a single-part operation into `out`: `Ok(Some(n))` when its `n`-byte output is there,
/// `Ok(None)` when this mechanism has no in-place form or `out` is too small (nothing was
/// computed: the caller runs `mechs::one_shot`).
pub fn one_shot_into(
    kind: OpKind,
    mech: &Mechanism,
    key: &ParsedKey,
    data: &[u8],
    extra: &[u8],
    out: &mut [u8],
) -> Result<Option<usize>> {
    use Mechanism as M;
    use OpKind::{Decrypt, Encrypt, Sign, Verify};
    use ParsedKey as K;
    match (kind, mech, key) {
        (Encrypt, M::AesGcm(p), K::Aes(k)) => {
            k.gcm_seal_into(&p.iv, &p.aad, data, tag_len(p.tag_bits), out)
        }
        (Decrypt, M::AesGcm(p), K::Aes(k)) => {
            k.gcm_open_into(&p.iv, &p.aad, data, tag_len(p.tag_bits), out)
        }
        (Encrypt, M::AesEcb, K::Aes(k)) => k.ecb_into(data, true, out),
        (Decrypt, M::AesEcb, K::Aes(k)) => k.ecb_into(data, false, out),
        (Encrypt, M::AesCbc(iv), K::Aes(k)) => k.cbc_encrypt_into(iv, data, false, out),
        (Decrypt, M::AesCbc(iv), K::Aes(k)) => k.cbc_decrypt_into(iv, data, false, out),
        (Encrypt, M::AesCbcPad(iv), K::Aes(k)) => k.cbc_encrypt_into(iv, data, true, out),
        (Decrypt, M::AesCbcPad(iv), K::Aes(k)) => k.cbc_decrypt_into(iv, data, true, out),
        (Encrypt | Decrypt, M::AesCtr { counter_bits, cb }, K::Aes(k)) => {
            let bits = usize::try_from(*counter_bits).map_err(|_| Error::MechanismParamInvalid)?;
            k.ctr_into(cb, bits, data, out)
        }
        (Sign, M::Hmac { hash, out_len }, K::Hmac(cached, value)) => {
            let want = out_len.map_or(hash.len(), |l| l as usize);
            let Some(out) = out.get_mut(..want) else {
                return Ok(None);
            };
            // The parsed key holds the prepared SHA-256 HMAC key; other hashes prepare theirs.
            if cached.hash() == *hash {
                cached.sign_into(data, out)?;
            } else {
                HmacKey::new(*hash, value).sign_into(data, out)?;
            }
            Ok(Some(want))
        }
        (Verify, M::Hmac { hash, out_len }, K::Hmac(cached, value)) => {
            let want = out_len.map_or(hash.len(), |l| l as usize);
            if extra.len() != want {
                return Err(Error::SignatureLenRange);
            }
            if cached.hash() == *hash {
                cached.verify(data, extra)?;
            } else {
                HmacKey::new(*hash, value).verify(data, extra)?;
            }
            Ok(Some(0))
        }
        _ => Ok(None),
    }
}

fn tag_len(bits: u64) -> usize {
    (bits / 8) as usize
}

/// The exact output length of a single-part operation when it follows from the mechanism
/// and the input length alone (ciphers' encryption, MACs), so that a size query or too small a
/// buffer can be answered without running the operation. `None`: the operation must run to
/// know (signatures, decryption with padding, inputs the operation will refuse).
pub fn output_len(kind: OpKind, mech: &Mechanism, data_len: usize) -> Option<usize> {
    use Mechanism as M;
    match (kind, mech) {
        (OpKind::Encrypt, M::AesGcm(p)) if matches!(p.tag_bits, 32..=128) => {
            data_len.checked_add(tag_len(p.tag_bits))
        }
        (OpKind::Encrypt, M::AesCbcPad(_)) => Some(data_len - data_len % 16 + 16),
        (OpKind::Encrypt | OpKind::Decrypt, M::AesCbc(_) | M::AesEcb)
            if data_len.is_multiple_of(16) =>
        {
            Some(data_len)
        }
        (OpKind::Encrypt | OpKind::Decrypt, M::AesCtr { .. }) => Some(data_len),
        (OpKind::Sign, M::Hmac { hash, out_len }) => match out_len {
            None => Some(hash.len()),
            Some(l) if *l >= 1 && *l <= hash.len() as u64 => usize::try_from(*l).ok(),
            Some(_) => None,
        },
        (OpKind::Sign, M::AesCmac { out_len }) => match out_len {
            None => Some(16),
            Some(l) if (1..=16).contains(l) => usize::try_from(*l).ok(),
            Some(_) => None,
        },
        _ => None,
    }
}
