//! AES-CCM, ChaCha20 and ChaCha20-Poly1305, the message-based operations of PKCS#11 3.0 and
//! the post-quantum mechanisms of 3.2 (ML-KEM, ML-DSA): their mechanism-table rows, key
//! material, parameter checks and dispatch. `mechs` calls in here for these mechanisms.
//!
//! IV generation for message-based encryption (CK_GCM_MESSAGE_PARAMS.ivGenerator and its CCM
//! counterpart) happens here, below the seam: the token, not the application, makes the
//! generated part. CKG_GENERATE_COUNTER counts per operation from 0 in the IV's low free
//! bits (the caller's fixed part must tell operations under one key apart);
//! CKG_GENERATE_RANDOM fills the free bits from the DRBG; CKG_GENERATE picks random when at
//! least 64 bits are free and a counter otherwise.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::api::{
    AttrValue, Attribute, Mechanism, MechanismInfo, MessageMech, MessageParams, OpKind, Response,
};
use super::mechs::{self, find_bytes, find_ulong, OpState, ParsedKey};
use super::objects::Object;
use crate::crypto::ccm;
use crate::crypto::chacha::{self, ChaChaKey, ChaChaStream};
use crate::crypto::pq::{self, MlDsa, MlDsaPrivate, MlDsaPublic, MlKem, MlKemPrivate, MlKemPublic};
use crate::error::{Error, Result};

/// Rows of the mechanism table.
pub fn rows() -> Vec<MechanismInfo> {
    let m = |mech, min_key, max_key, flags| MechanismInfo {
        mech,
        min_key,
        max_key,
        flags,
    };
    let ed = CKF_ENCRYPT | CKF_DECRYPT;
    let msg_ed = CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE;
    // ML-KEM and ML-DSA report their range of parameter sets (CKP_ML_* numbers) as key sizes.
    vec![
        m(CKM_AES_CCM, 16, 32, ed | msg_ed),
        m(CKM_CHACHA20_KEY_GEN, 32, 32, CKF_GENERATE),
        m(CKM_CHACHA20, 32, 32, ed),
        m(CKM_CHACHA20_POLY1305, 32, 32, ed | msg_ed),
        m(
            CKM_ML_KEM_KEY_PAIR_GEN,
            CKP_ML_KEM_512,
            CKP_ML_KEM_1024,
            CKF_GENERATE_KEY_PAIR,
        ),
        m(
            CKM_ML_KEM,
            CKP_ML_KEM_512,
            CKP_ML_KEM_1024,
            CKF_ENCAPSULATE | CKF_DECAPSULATE,
        ),
        m(
            CKM_ML_DSA_KEY_PAIR_GEN,
            CKP_ML_DSA_44,
            CKP_ML_DSA_87,
            CKF_GENERATE_KEY_PAIR,
        ),
        m(
            CKM_ML_DSA,
            CKP_ML_DSA_44,
            CKP_ML_DSA_87,
            CKF_SIGN | CKF_VERIFY,
        ),
    ]
}

/// Flags the message-based API adds to existing rows (AES-GCM, HMAC, CMAC).
pub fn message_flags(mech: u64) -> u64 {
    match mech {
        CKM_AES_GCM => CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE,
        CKM_SHA_1_HMAC
        | CKM_SHA224_HMAC
        | CKM_SHA256_HMAC
        | CKM_SHA384_HMAC
        | CKM_SHA512_HMAC
        | CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL
        | CKM_AES_CMAC
        | CKM_AES_CMAC_GENERAL => CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY | CKF_MULTI_MESSAGE,
        _ => 0,
    }
}

/// The CKM_* number of a message-based mechanism.
pub fn message_ck_type(m: MessageMech) -> u64 {
    match m {
        MessageMech::AesGcm => CKM_AES_GCM,
        MessageMech::AesCcm => CKM_AES_CCM,
        MessageMech::ChaCha20Poly1305 => CKM_CHACHA20_POLY1305,
        MessageMech::Hmac { hash, out_len } => mechs::ck_type(&Mechanism::Hmac { hash, out_len }),
        MessageMech::AesCmac { out_len } => mechs::ck_type(&Mechanism::AesCmac { out_len }),
    }
}

/// (key type, class) a message-based mechanism needs, if `kind` suits it.
pub fn message_requirements(kind: OpKind, m: MessageMech) -> Result<(u64, u64)> {
    let signing = matches!(kind, OpKind::Sign | OpKind::Verify);
    match m {
        MessageMech::AesGcm | MessageMech::AesCcm if !signing => Ok((CKK_AES, CKO_SECRET_KEY)),
        MessageMech::ChaCha20Poly1305 if !signing => Ok((CKK_CHACHA20, CKO_SECRET_KEY)),
        MessageMech::Hmac { .. } if signing => Ok((CKK_GENERIC_SECRET, CKO_SECRET_KEY)),
        MessageMech::AesCmac { .. } if signing => Ok((CKK_AES, CKO_SECRET_KEY)),
        _ => Err(Error::MechanismInvalid),
    }
}

fn bad() -> Error {
    Error::MechanismParamInvalid
}

/// Parameter checks of the classic mechanisms (C_*Init).
pub fn check_params(mech: &Mechanism) -> Result<()> {
    match mech {
        Mechanism::AesCcm(p) => {
            if !(7..=13).contains(&p.nonce.len())
                || !(4..=16).contains(&p.mac_len)
                || !p.mac_len.is_multiple_of(2)
            {
                return Err(bad());
            }
            let l = 15 - p.nonce.len();
            if l < 8 && p.data_len >= 1u64 << (8 * l) {
                return Err(bad());
            }
        }
        Mechanism::ChaCha20Poly1305 { nonce, .. } if nonce.len() != chacha::NONCE_LEN => {
            return Err(bad())
        }
        Mechanism::ChaCha20 {
            nonce,
            counter,
            counter_bits,
        } => match (nonce.len(), counter_bits) {
            (12, 32) if *counter <= u64::from(u32::MAX) => {}
            (8, 64) => {}
            _ => return Err(bad()),
        },
        // Signing is hedged: a deterministic signature cannot be promised.
        Mechanism::MlDsa(Some(c))
            if c.hedge >= CKH_DETERMINISTIC_REQUIRED || c.context.len() > pq::MLDSA_MAX_CONTEXT =>
        {
            return Err(bad());
        }
        _ => {}
    }
    Ok(())
}

fn mlkem_param(set: u64) -> Result<MlKem> {
    match set {
        CKP_ML_KEM_512 => Ok(MlKem::K512),
        CKP_ML_KEM_768 => Ok(MlKem::K768),
        CKP_ML_KEM_1024 => Ok(MlKem::K1024),
        _ => Err(Error::AttributeValueInvalid),
    }
}

fn mldsa_param(set: u64) -> Result<MlDsa> {
    match set {
        CKP_ML_DSA_44 => Ok(MlDsa::D44),
        CKP_ML_DSA_65 => Ok(MlDsa::D65),
        CKP_ML_DSA_87 => Ok(MlDsa::D87),
        _ => Err(Error::AttributeValueInvalid),
    }
}

/// The ML-KEM ciphertext length of a parameter set (C_EncapsulateKey's size query).
pub fn mlkem_ciphertext_len(set: u64) -> Result<usize> {
    Ok(mlkem_param(set)?.ciphertext_len())
}

/// Whether `parse` handles this object.
pub fn parses(obj: &Object) -> bool {
    matches!(
        (obj.class(), obj.key_type()),
        (CKO_SECRET_KEY, Some(CKK_CHACHA20))
            | (
                CKO_PUBLIC_KEY | CKO_PRIVATE_KEY,
                Some(CKK_ML_KEM | CKK_ML_DSA)
            )
    )
}

/// Parse the key material of a ChaCha20, ML-KEM or ML-DSA key.
pub fn parse(obj: &Object) -> Result<ParsedKey> {
    let value = obj.bytes(CKA_VALUE).ok_or(Error::GeneralError)?;
    let set = || obj.ulong(CKA_PARAMETER_SET).ok_or(Error::GeneralError);
    Ok(match (obj.class(), obj.key_type()) {
        (CKO_SECRET_KEY, Some(CKK_CHACHA20)) => ParsedKey::ChaCha(Arc::new(ChaChaKey::new(value)?)),
        (CKO_PUBLIC_KEY, Some(CKK_ML_KEM)) => {
            ParsedKey::MlKemPublic(MlKemPublic::new(mlkem_param(set()?)?, value)?)
        }
        (CKO_PRIVATE_KEY, Some(CKK_ML_KEM)) => {
            ParsedKey::MlKemPrivate(MlKemPrivate::new(mlkem_param(set()?)?, value)?)
        }
        (CKO_PUBLIC_KEY, Some(CKK_ML_DSA)) => {
            ParsedKey::MlDsaPublic(MlDsaPublic::new(mldsa_param(set()?)?, value)?)
        }
        (CKO_PRIVATE_KEY, Some(CKK_ML_DSA)) => {
            ParsedKey::MlDsaPrivate(MlDsaPrivate::new(mldsa_param(set()?)?, value)?)
        }
        _ => return Err(Error::KeyTypeInconsistent),
    })
}

/// Single-part operations of the mechanisms of this file (classic API).
pub fn one_shot(
    kind: OpKind,
    mech: &Mechanism,
    key: &ParsedKey,
    data: &[u8],
    extra: &[u8],
) -> Result<Vec<u8>> {
    use Mechanism as M;
    use ParsedKey as K;
    let len = |v: u64| usize::try_from(v).map_err(|_| bad());
    match (kind, mech, key) {
        (OpKind::Encrypt, M::AesCcm(p), K::Aes(k)) => {
            if data.len() as u64 != p.data_len {
                return Err(Error::DataLenRange);
            }
            ccm::seal(k, &p.nonce, &p.aad, data, len(p.mac_len)?)
        }
        (OpKind::Decrypt, M::AesCcm(p), K::Aes(k)) => {
            if Some(data.len() as u64) != p.data_len.checked_add(p.mac_len) {
                return Err(Error::EncryptedDataLenRange);
            }
            ccm::open(k, &p.nonce, &p.aad, data, len(p.mac_len)?).map(|z| z.to_vec())
        }
        (OpKind::Encrypt, M::ChaCha20Poly1305 { nonce, aad }, K::ChaCha(k)) => {
            k.seal(nonce, aad, data)
        }
        (OpKind::Decrypt, M::ChaCha20Poly1305 { nonce, aad }, K::ChaCha(k)) => {
            k.open(nonce, aad, data).map(|z| z.to_vec())
        }
        (OpKind::Encrypt | OpKind::Decrypt, M::ChaCha20 { .. }, K::ChaCha(k)) => {
            let mut s = chacha_stream(mech, k)?;
            let mut out = data.to_vec();
            s.apply(&mut out)?;
            Ok(out)
        }
        (OpKind::Sign, M::MlDsa(c), K::MlDsaPrivate(k)) => {
            k.sign_with_context(data, c.as_ref().map_or(&[][..], |c| &c.context))
        }
        (OpKind::Verify, M::MlDsa(c), K::MlDsaPublic(k)) => k
            .verify_with_context(data, extra, c.as_ref().map_or(&[][..], |c| &c.context))
            .map(|()| Vec::new()),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// A ChaCha20 stream at the position CKM_CHACHA20's parameters name.
pub fn chacha_stream(mech: &Mechanism, key: &ChaChaKey) -> Result<ChaChaStream> {
    match mech {
        Mechanism::ChaCha20 {
            nonce,
            counter,
            counter_bits,
        } => ChaChaStream::new(key, nonce, *counter, *counter_bits),
        _ => Err(Error::MechanismInvalid),
    }
}

/// The state of a fresh multi-part operation of this file's mechanisms.
pub fn start(mech: &Mechanism, key: &ParsedKey) -> Result<Option<OpState>> {
    Ok(match (mech, key) {
        (Mechanism::AesCcm(_) | Mechanism::ChaCha20Poly1305 { .. }, _) => {
            Some(OpState::Buffer(Zeroizing::new(Vec::new())))
        }
        (Mechanism::ChaCha20 { .. }, ParsedKey::ChaCha(k)) => {
            Some(OpState::ChaCha(Box::new(chacha_stream(mech, k)?)))
        }
        _ => None,
    })
}

// ---------------------------------------------------------------------------- keys

fn bytes(ty: u64, v: &[u8]) -> Attribute {
    Attribute::new(ty, AttrValue::Bytes(v.to_vec()))
}

fn set_attr(set: u64) -> Attribute {
    Attribute::new(CKA_PARAMETER_SET, AttrValue::Ulong(set))
}

/// The parameter set both templates agree on (the public one's, else the private one's).
fn parameter_set(public: &[Attribute], private: &[Attribute]) -> Result<u64> {
    match (
        find_ulong(public, CKA_PARAMETER_SET)?,
        find_ulong(private, CKA_PARAMETER_SET)?,
    ) {
        (Some(a), Some(b)) if a != b => Err(Error::TemplateInconsistent),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err(Error::TemplateIncomplete),
    }
}

/// The key type a key-pair mechanism of this file makes.
pub fn pair_key_type(mech: &Mechanism) -> Option<u64> {
    match mech {
        Mechanism::MlKemKeyPairGen => Some(CKK_ML_KEM),
        Mechanism::MlDsaKeyPairGen => Some(CKK_ML_DSA),
        _ => None,
    }
}

/// Generated ML-KEM / ML-DSA key pairs: (key type, public attributes, private attributes).
pub fn generate_pair(
    mech: &Mechanism,
    public: &[Attribute],
    private: &[Attribute],
) -> Result<(u64, Vec<Attribute>, Vec<Attribute>)> {
    let set = parameter_set(public, private)?;
    match mech {
        Mechanism::MlKemKeyPairGen => {
            let (dk, ek) = pq::mlkem_generate(mlkem_param(set)?)?;
            Ok((
                CKK_ML_KEM,
                vec![set_attr(set), bytes(CKA_VALUE, &ek)],
                vec![set_attr(set), bytes(CKA_VALUE, &dk)],
            ))
        }
        Mechanism::MlDsaKeyPairGen => {
            let (seed, sk, pk) = pq::mldsa_generate(mldsa_param(set)?)?;
            Ok((
                CKK_ML_DSA,
                vec![set_attr(set), bytes(CKA_VALUE, &pk)],
                vec![set_attr(set), bytes(CKA_VALUE, &sk), bytes(CKA_SEED, &seed)],
            ))
        }
        _ => Err(Error::MechanismInvalid),
    }
}

/// Validate imported ML-KEM / ML-DSA keys (C_CreateObject); the computed attributes. An
/// ML-DSA private key may be given by its seed alone: its expanded form is computed.
pub fn import_material(
    class: u64,
    key_type: u64,
    template: &[Attribute],
) -> Result<Vec<Attribute>> {
    let invalid = |_| Error::AttributeValueInvalid;
    let set = find_ulong(template, CKA_PARAMETER_SET)?.ok_or(Error::TemplateIncomplete)?;
    let value = find_bytes(template, CKA_VALUE)?;
    let need = || value.ok_or(Error::TemplateIncomplete);
    match (class, key_type) {
        (CKO_PUBLIC_KEY, CKK_ML_KEM) => {
            MlKemPublic::new(mlkem_param(set)?, need()?).map_err(invalid)?;
            Ok(Vec::new())
        }
        (CKO_PRIVATE_KEY, CKK_ML_KEM) => {
            // The crypto core cannot expand an ML-KEM seed, so it could not check one.
            if find_bytes(template, CKA_SEED)?.is_some() {
                return Err(Error::TemplateInconsistent);
            }
            MlKemPrivate::new(mlkem_param(set)?, need()?).map_err(invalid)?;
            Ok(Vec::new())
        }
        (CKO_PUBLIC_KEY, CKK_ML_DSA) => {
            MlDsaPublic::new(mldsa_param(set)?, need()?).map_err(invalid)?;
            Ok(Vec::new())
        }
        (CKO_PRIVATE_KEY, CKK_ML_DSA) => {
            let p = mldsa_param(set)?;
            match (find_bytes(template, CKA_SEED)?, value) {
                (Some(seed), v) => {
                    let k = MlDsaPrivate::from_seed(p, seed).map_err(invalid)?;
                    let sk = k.private_bytes()?;
                    if v.is_some_and(|v| v != &sk[..]) {
                        return Err(Error::AttributeValueInvalid);
                    }
                    Ok(if v.is_some() {
                        Vec::new()
                    } else {
                        vec![bytes(CKA_VALUE, &sk)]
                    })
                }
                (None, Some(v)) => {
                    MlDsaPrivate::new(p, v).map_err(invalid)?;
                    Ok(Vec::new())
                }
                (None, None) => Err(Error::TemplateIncomplete),
            }
        }
        _ => Err(Error::TemplateInconsistent),
    }
}

/// The secret key a KEM's shared secret becomes: (key type, attributes). CKA_VALUE_LEN, if
/// given, takes that many leading bytes of the secret.
pub fn shared_secret_material(
    key_type: Option<u64>,
    template: &[Attribute],
    secret: &[u8],
) -> Result<(u64, Vec<Attribute>)> {
    let kt = key_type.unwrap_or(CKK_GENERIC_SECRET);
    let value = match find_ulong(template, CKA_VALUE_LEN)? {
        Some(l) => {
            let l = usize::try_from(l).map_err(|_| Error::TemplateInconsistent)?;
            secret.get(..l).ok_or(Error::TemplateInconsistent)?
        }
        None => secret,
    };
    match kt {
        CKK_AES if !matches!(value.len(), 16 | 24 | 32) => return Err(Error::TemplateInconsistent),
        CKK_CHACHA20 if value.len() != chacha::KEY_LEN => return Err(Error::TemplateInconsistent),
        CKK_GENERIC_SECRET | CKK_AES | CKK_CHACHA20 | CKK_SHA_1_HMAC | CKK_SHA224_HMAC
        | CKK_SHA256_HMAC | CKK_SHA384_HMAC | CKK_SHA512_HMAC => {}
        _ => return Err(Error::TemplateInconsistent),
    }
    Ok((kt, mechs::secret_material(kt, value)?))
}

/// C_EncapsulateKey's cryptography: (ciphertext, shared secret).
pub fn encapsulate(key: &ParsedKey) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    match key {
        ParsedKey::MlKemPublic(k) => k.encapsulate(),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// C_DecapsulateKey's cryptography: the shared secret.
pub fn decapsulate(key: &ParsedKey, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    match key {
        ParsedKey::MlKemPrivate(k) => k.decapsulate(ciphertext),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

// ---------------------------------------------------------------------------- messages

/// Check one message's AEAD parameters against the operation's mechanism; the IV the message
/// uses (generated here when the parameters ask for it; `state` keeps the counter).
pub fn message_iv(
    kind: OpKind,
    m: MessageMech,
    p: &MessageParams,
    state: &mut OpState,
) -> Result<Vec<u8>> {
    let tag_ok = match m {
        MessageMech::AesGcm => (1..=256).contains(&p.iv.len()) && (4..=16).contains(&p.tag_len),
        MessageMech::AesCcm => {
            (7..=13).contains(&p.iv.len())
                && (4..=16).contains(&p.tag_len)
                && p.tag_len.is_multiple_of(2)
        }
        MessageMech::ChaCha20Poly1305 => {
            p.iv.len() == chacha::NONCE_LEN
                && p.tag_len == chacha::TAG_LEN as u64
                && p.generator == CKG_NO_GENERATE
        }
        MessageMech::Hmac { .. } | MessageMech::AesCmac { .. } => false,
    };
    if !tag_ok {
        return Err(bad());
    }
    if p.generator == CKG_NO_GENERATE {
        return Ok(p.iv.clone());
    }
    if kind != OpKind::Encrypt {
        return Err(bad());
    }
    let total = p.iv.len() as u64 * 8;
    if p.iv_fixed_bits > total {
        return Err(bad());
    }
    let free = total - p.iv_fixed_bits;
    let random = match p.generator {
        CKG_GENERATE => free >= 64,
        CKG_GENERATE_COUNTER => false,
        CKG_GENERATE_RANDOM => true,
        _ => return Err(bad()),
    };
    let mut iv = p.iv.clone();
    let mut fresh = vec![0u8; iv.len()];
    if random {
        crate::crypto::rng::fill(&mut fresh)?;
    } else {
        let counter = match state {
            OpState::Message(c) => *c,
            _ => 0,
        };
        if free < 64 && counter >> free != 0 {
            // Every IV of the free bits was used in this operation.
            return Err(Error::FunctionFailed);
        }
        let n = fresh.len();
        for (i, b) in counter.to_be_bytes().iter().rev().enumerate().take(n) {
            fresh[n - 1 - i] = *b;
        }
        *state = OpState::Message(counter + 1);
    }
    // Keep the fixed leading bits, take the rest from `fresh`.
    for (bit, (out, new)) in (0u64..).step_by(8).zip(iv.iter_mut().zip(&fresh)) {
        let fixed_here = p.iv_fixed_bits.saturating_sub(bit).min(8);
        let keep: u8 = if fixed_here == 8 {
            0xff
        } else {
            !(0xffu8 >> fixed_here)
        };
        *out = (*out & keep) | (new & !keep);
    }
    Ok(iv)
}

/// Run one message of a message-based operation.
#[allow(clippy::too_many_arguments)]
pub fn run_message(
    kind: OpKind,
    m: MessageMech,
    key: &ParsedKey,
    params: Option<&MessageParams>,
    iv: &[u8],
    aad: &[u8],
    data: &[u8],
    extra: &[u8],
) -> Result<Response> {
    use ParsedKey as K;
    let sign_mech = match m {
        MessageMech::Hmac { hash, out_len } => Some(Mechanism::Hmac { hash, out_len }),
        MessageMech::AesCmac { out_len } => Some(Mechanism::AesCmac { out_len }),
        _ => None,
    };
    if let Some(mech) = sign_mech {
        let out = mechs::one_shot(kind, &mech, key, data, extra)?;
        return Ok(Response::Message {
            data: out,
            iv: Vec::new(),
            tag: Vec::new(),
        });
    }
    let p = params.ok_or_else(bad)?;
    let tag_len = usize::try_from(p.tag_len).map_err(|_| bad())?;
    if let Some(l) = p.data_len {
        if l != data.len() as u64 {
            return Err(match kind {
                OpKind::Decrypt => Error::EncryptedDataLenRange,
                _ => Error::DataLenRange,
            });
        }
    }
    match kind {
        OpKind::Encrypt => {
            let mut out = match (m, key) {
                (MessageMech::AesGcm, K::Aes(k)) => k.gcm_seal(iv, aad, data, tag_len)?,
                (MessageMech::AesCcm, K::Aes(k)) => ccm::seal(k, iv, aad, data, tag_len)?,
                (MessageMech::ChaCha20Poly1305, K::ChaCha(k)) => k.seal(iv, aad, data)?,
                _ => return Err(Error::KeyTypeInconsistent),
            };
            let tag = out.split_off(out.len() - tag_len);
            Ok(Response::Message {
                data: out,
                iv: iv.to_vec(),
                tag,
            })
        }
        OpKind::Decrypt => {
            if p.tag.len() != tag_len {
                return Err(bad());
            }
            let mut ct = Zeroizing::new(Vec::with_capacity(data.len() + tag_len));
            ct.extend_from_slice(data);
            ct.extend_from_slice(&p.tag);
            let pt = match (m, key) {
                (MessageMech::AesGcm, K::Aes(k)) => k.gcm_open(iv, aad, &ct, tag_len)?,
                (MessageMech::AesCcm, K::Aes(k)) => ccm::open(k, iv, aad, &ct, tag_len)?,
                (MessageMech::ChaCha20Poly1305, K::ChaCha(k)) => k.open(iv, aad, &ct)?,
                _ => return Err(Error::KeyTypeInconsistent),
            };
            Ok(Response::Message {
                data: pt.to_vec(),
                iv: iv.to_vec(),
                tag: Vec::new(),
            })
        }
        OpKind::Sign | OpKind::Verify | OpKind::SignRecover | OpKind::VerifyRecover => {
            Err(Error::MechanismInvalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(iv: Vec<u8>, fixed: u64, generator: u64) -> MessageParams {
        MessageParams {
            iv,
            iv_fixed_bits: fixed,
            generator,
            tag_len: 16,
            tag: Vec::new(),
            data_len: None,
        }
    }

    #[test]
    fn iv_generation() {
        let mut st = OpState::Fresh;
        let k = OpKind::Encrypt;
        let gcm = MessageMech::AesGcm;
        // Counter in the low free bits, fixed prefix kept (20 fixed bits: 2.5 bytes).
        let p = params(
            vec![0xab, 0xcd, 0xef, 0xff, 0, 0, 0, 0, 0, 0, 0, 0xff],
            20,
            CKG_GENERATE_COUNTER,
        );
        let a = message_iv(k, gcm, &p, &mut st).unwrap();
        let b = message_iv(k, gcm, &p, &mut st).unwrap();
        assert_eq!(hex::encode(&a), "abcde0000000000000000000");
        assert_eq!(hex::encode(&b), "abcde0000000000000000001");
        // Random: the fixed part stays, the rest differs.
        let r = params(vec![0x11; 12], 32, CKG_GENERATE_RANDOM);
        let x = message_iv(k, gcm, &r, &mut st).unwrap();
        let y = message_iv(k, gcm, &r, &mut st).unwrap();
        assert_eq!(&x[..4], &[0x11; 4]);
        assert_ne!(x, y);
        // The counter runs out with 4 free bits after 16 messages.
        let mut st = OpState::Fresh;
        let small = params(vec![0xff; 12], 92, CKG_GENERATE_COUNTER);
        for i in 0..16u8 {
            let iv = message_iv(k, gcm, &small, &mut st).unwrap();
            assert_eq!(iv[11], 0xf0 | i);
        }
        assert_eq!(
            message_iv(k, gcm, &small, &mut st),
            Err(Error::FunctionFailed)
        );
        // Decryption never generates; bad generators and fixed parts are rejected.
        for (kind, p) in [
            (OpKind::Decrypt, params(vec![0; 12], 0, CKG_GENERATE_RANDOM)),
            (k, params(vec![0; 12], 97, CKG_GENERATE_RANDOM)),
            (k, params(vec![0; 12], 0, CKG_GENERATE_COUNTER_XOR)),
            (k, params(vec![], 0, CKG_NO_GENERATE)),
        ] {
            assert_eq!(message_iv(kind, gcm, &p, &mut st), Err(bad()));
        }
        assert_eq!(
            message_iv(
                k,
                MessageMech::ChaCha20Poly1305,
                &params(vec![0; 12], 0, CKG_GENERATE),
                &mut st
            ),
            Err(bad())
        );
    }
}
