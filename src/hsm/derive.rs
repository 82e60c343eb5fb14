//! Derivations of secret keys from secret keys (C_DeriveKey): HKDF, the three SP 800-108
//! modes, and PKCS#11's simple derivations (concatenate, XOR, extract). The core checks the
//! caller's rights on every key involved; here the material is computed, with the key-type
//! and length rules of the specification.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::api::{
    Attribute, HkdfSalt, KbkdfData, KbkdfMode, KbkdfPrf, Mechanism, ObjectId, Template,
};
use super::mechs::{derivable_key_type, find_ulong, secret_material};
use super::objects::Object;
use crate::crypto::kbkdf::{self, Field, IntFormat, Mode, Prf};
use crate::error::{Error, Result};

/// Whether this module derives with `mech` (the rest is `mechs::derive`).
pub fn handles(mech: &Mechanism) -> bool {
    matches!(
        mech,
        Mechanism::HkdfDerive(_)
            | Mechanism::Sp800108(_)
            | Mechanism::ConcatenateBaseAndKey(_)
            | Mechanism::ConcatenateBaseAndData(_)
            | Mechanism::ConcatenateDataAndBase(_)
            | Mechanism::XorBaseAndData(_)
            | Mechanism::ExtractKeyFromKey(_)
    )
}

/// The simple derivations, whose keys inherit CKA_SENSITIVE and CKA_EXTRACTABLE from the
/// keys they come from (PKCS#11 "Miscellaneous simple key derivation mechanisms").
pub fn simple(mech: &Mechanism) -> bool {
    matches!(
        mech,
        Mechanism::ConcatenateBaseAndKey(_)
            | Mechanism::ConcatenateBaseAndData(_)
            | Mechanism::ConcatenateDataAndBase(_)
            | Mechanism::XorBaseAndData(_)
            | Mechanism::ExtractKeyFromKey(_)
    )
}

/// The second key a mechanism's parameters name, if any.
pub fn other_key(mech: &Mechanism) -> Option<ObjectId> {
    match mech {
        Mechanism::ConcatenateBaseAndKey(id) => Some(*id),
        Mechanism::HkdfDerive(p) => match p.salt {
            HkdfSalt::Key(id) => Some(id),
            _ => None,
        },
        _ => None,
    }
}

/// Templates of the additional keys a mechanism derives (SP 800-108).
pub fn additional_templates(mech: &Mechanism) -> &[Template] {
    match mech {
        Mechanism::Sp800108(p) => &p.additional,
        _ => &[],
    }
}

fn secret_value(obj: &Object) -> Result<&[u8]> {
    if obj.class() != CKO_SECRET_KEY {
        return Err(Error::KeyTypeInconsistent);
    }
    obj.bytes(CKA_VALUE).ok_or(Error::KeyTypeInconsistent)
}

/// The key type and length a template asks for. `natural` is the length the mechanism
/// produces when the template names none (None: the template must give one).
fn wanted(template: &[Attribute], natural: Option<usize>) -> Result<(u64, usize)> {
    let kt = find_ulong(template, CKA_KEY_TYPE)?.unwrap_or(CKK_GENERIC_SECRET);
    if !derivable_key_type(kt) {
        return Err(Error::TemplateInconsistent);
    }
    let len = match find_ulong(template, CKA_VALUE_LEN)? {
        Some(l) => usize::try_from(l).map_err(|_| Error::AttributeValueInvalid)?,
        // AES has no single length: the template must say which.
        None if kt == CKK_AES => return Err(Error::TemplateIncomplete),
        None => natural.ok_or(Error::TemplateIncomplete)?,
    };
    if len == 0 || len > 800 || (kt == CKK_AES && !matches!(len, 16 | 24 | 32)) {
        return Err(Error::TemplateInconsistent);
    }
    Ok((kt, len))
}

fn material(kt: u64, value: &[u8]) -> Result<(u64, Vec<Attribute>)> {
    Ok((kt, secret_material(kt, value)?))
}

/// Derive: the base key's material (and the other key's), returns (key type, attributes)
/// of the main key, then of each additional key in order.
pub fn derive(
    mech: &Mechanism,
    base: &Object,
    other: Option<&Object>,
    template: &[Attribute],
) -> Result<Vec<(u64, Vec<Attribute>)>> {
    let value = secret_value(base)?;
    match mech {
        Mechanism::ConcatenateBaseAndKey(_) => {
            let o = other.ok_or(Error::MechanismParamInvalid)?;
            let ov = secret_value(o).map_err(|_| Error::KeyTypeInconsistent)?;
            let mut v = Zeroizing::new([value, ov].concat());
            take(&mut v, template).map(|m| vec![m])
        }
        Mechanism::ConcatenateBaseAndData(d) => {
            let mut v = Zeroizing::new([value, d].concat());
            take(&mut v, template).map(|m| vec![m])
        }
        Mechanism::ConcatenateDataAndBase(d) => {
            let mut v = Zeroizing::new([&d[..], value].concat());
            take(&mut v, template).map(|m| vec![m])
        }
        Mechanism::XorBaseAndData(d) => {
            if d.is_empty() {
                return Err(Error::MechanismParamInvalid);
            }
            let mut v = Zeroizing::new(
                value
                    .iter()
                    .zip(d.iter())
                    .map(|(a, b)| a ^ b)
                    .collect::<Vec<u8>>(),
            );
            take(&mut v, template).map(|m| vec![m])
        }
        Mechanism::ExtractKeyFromKey(first_bit) => {
            let (kt, len) = wanted(template, None)?;
            let bits = value.len() * 8;
            if len * 8 > bits {
                return Err(Error::TemplateInconsistent);
            }
            let start = usize::try_from(*first_bit).map_err(|_| Error::MechanismParamInvalid)?;
            if start >= bits {
                return Err(Error::MechanismParamInvalid);
            }
            // Bit 0 is the most significant bit of the first byte; positions wrap around.
            let mut out = Zeroizing::new(vec![0u8; len]);
            for i in 0..len * 8 {
                let p = (start + i) % bits;
                let bit = (value[p / 8] >> (7 - p % 8)) & 1;
                out[i / 8] |= bit << (7 - i % 8);
            }
            material(kt, &out).map(|m| vec![m])
        }
        Mechanism::HkdfDerive(p) => {
            if !p.extract && !p.expand {
                return Err(Error::MechanismParamInvalid);
            }
            if !matches!(base.key_type(), Some(CKK_HKDF | CKK_GENERIC_SECRET)) {
                return Err(Error::KeyTypeInconsistent);
            }
            let prk = if p.extract {
                let salt: Zeroizing<Vec<u8>> = match &p.salt {
                    HkdfSalt::Null => Zeroizing::new(Vec::new()),
                    HkdfSalt::Data(d) => Zeroizing::new(d.clone()),
                    HkdfSalt::Key(_) => {
                        let o = other.ok_or(Error::MechanismParamInvalid)?;
                        Zeroizing::new(secret_value(o)?.to_vec())
                    }
                };
                kbkdf::hkdf_extract(p.prf, &salt, value)
            } else {
                Zeroizing::new(value.to_vec())
            };
            if !p.expand {
                let (kt, len) = wanted(template, Some(prk.len()))?;
                if len != prk.len() {
                    return Err(Error::TemplateInconsistent);
                }
                return material(kt, &prk).map(|m| vec![m]);
            }
            let (kt, len) = wanted(template, None)?;
            let okm = kbkdf::hkdf_expand(p.prf, &prk, &p.info, len)
                .map_err(|_| Error::TemplateInconsistent)?;
            material(kt, &okm).map(|m| vec![m])
        }
        Mechanism::Sp800108(p) => {
            let prf = match p.prf {
                KbkdfPrf::Hmac(h) => Prf::hmac(h, value),
                KbkdfPrf::AesCmac => {
                    if base.key_type() != Some(CKK_AES) {
                        return Err(Error::KeyTypeInconsistent);
                    }
                    Prf::cmac(value)?
                }
            };
            let mut kinds = vec![wanted(template, None)?];
            for t in &p.additional {
                kinds.push(wanted(t, None)?);
            }
            let fields = p.data.iter().map(field).collect::<Result<Vec<Field>>>()?;
            let mode = match p.mode {
                KbkdfMode::Counter => Mode::Counter,
                KbkdfMode::Feedback => Mode::Feedback,
                KbkdfMode::DoublePipeline => Mode::DoublePipeline,
            };
            let lens: Vec<usize> = kinds.iter().map(|k| k.1).collect();
            let keys = kbkdf::sp800_108(mode, &prf, &fields, &p.iv, &lens)?;
            kinds
                .iter()
                .zip(keys.iter())
                .map(|((kt, _), v)| material(*kt, v))
                .collect()
        }
        _ => Err(Error::MechanismInvalid),
    }
}

/// The leading bytes of `v` the template asks for (all of it by default).
fn take(v: &mut Zeroizing<Vec<u8>>, template: &[Attribute]) -> Result<(u64, Vec<Attribute>)> {
    let (kt, len) = wanted(template, Some(v.len()))?;
    if len > v.len() {
        return Err(Error::TemplateInconsistent);
    }
    v.truncate(len);
    material(kt, v)
}

fn int_format(width_bits: u64, little_endian: bool) -> Result<IntFormat> {
    if width_bits == 0 || width_bits > 64 || !width_bits.is_multiple_of(8) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(IntFormat {
        width_bits,
        little_endian,
    })
}

fn field(d: &KbkdfData) -> Result<Field> {
    Ok(match d {
        KbkdfData::Iteration(None) => Field::Iteration(None),
        KbkdfData::Iteration(Some(c)) => {
            if !matches!(c.width_bits, 8 | 16 | 24 | 32) {
                return Err(Error::MechanismParamInvalid);
            }
            Field::Iteration(Some(int_format(c.width_bits, c.little_endian)?))
        }
        KbkdfData::Counter(c) => {
            if !matches!(c.width_bits, 8 | 16 | 24 | 32) {
                return Err(Error::MechanismParamInvalid);
            }
            Field::Counter(int_format(c.width_bits, c.little_endian)?)
        }
        KbkdfData::DkmLength {
            sum_of_segments,
            little_endian,
            width_bits,
        } => Field::DkmLength {
            format: int_format(*width_bits, *little_endian)?,
            sum_of_segments: *sum_of_segments,
        },
        KbkdfData::Bytes(b) => Field::Bytes(b.clone()),
    })
}
