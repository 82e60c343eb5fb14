//! Parameters of the mechanisms added for issue 3 (EdDSA, CloudHSM's wrapping, RSA-AES key
//! wrap, HKDF, SP 800-108, PBKDF2, the simple derivations, AES-MAC): `CK_MECHANISM` →
//! `api::Mechanism`. The entry points are called from `mechanism::parse`.
//!
//! Handles inside parameters (CKM_CONCATENATE_BASE_AND_KEY's key, HKDF's salt key) are
//! carried as `ObjectId(handle)` and translated above the seam by `cryptoki`.

use std::mem::size_of;

use cryptoki_sys::*;

use super::marshal::{bytes_or, from_ck};
use super::template::template;
use crate::crypto::HashAlg;
use crate::error::{Error, Result};
use crate::hsm::api::{
    GcmParams, HkdfParams, HkdfSalt, KbkdfCounter, KbkdfData, KbkdfMode, KbkdfParams, KbkdfPrf,
    KeyWrapPad, Mechanism, OaepParams, ObjectId, Pbkdf2Params, Secret,
};
use crate::hsm::vendor;

const BAD: Error = Error::MechanismParamInvalid;

/// # Safety
/// `m.pParameter` is NULL or valid for reads of `m.ulParameterLen` bytes.
unsafe fn param<T: Copy>(m: &CK_MECHANISM) -> Result<T> {
    if m.pParameter.is_null() || usize::try_from(m.ulParameterLen) != Ok(size_of::<T>()) {
        return Err(BAD);
    }
    // SAFETY: non-NULL and readable for size_of::<T>() bytes (contract, length checked);
    // every T used here is plain data valid for any bit pattern.
    Ok(unsafe { m.pParameter.cast::<T>().read_unaligned() })
}

/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes.
unsafe fn data(ptr: *const u8, len: CK_ULONG) -> Result<Vec<u8>> {
    // SAFETY: contract.
    Ok(unsafe { bytes_or(ptr, len, BAD) }?.to_vec())
}

fn cbool(b: CK_BBOOL) -> Result<bool> {
    match b {
        CK_FALSE => Ok(false),
        CK_TRUE => Ok(true),
        _ => Err(BAD),
    }
}

/// A hash or HMAC mechanism naming a hash inside a parameter.
fn prf_hash(ty: CK_MECHANISM_TYPE) -> Result<HashAlg> {
    match ty {
        CKM_SHA_1 | CKM_SHA_1_HMAC => Ok(HashAlg::Sha1),
        CKM_SHA224 | CKM_SHA224_HMAC => Ok(HashAlg::Sha224),
        CKM_SHA256 | CKM_SHA256_HMAC => Ok(HashAlg::Sha256),
        CKM_SHA384 | CKM_SHA384_HMAC => Ok(HashAlg::Sha384),
        CKM_SHA512 | CKM_SHA512_HMAC => Ok(HashAlg::Sha512),
        _ => Err(BAD),
    }
}

/// The mechanisms of this file; None when `m` is none of them.
///
/// # Safety
/// As `mechanism::mechanism`: the parameter and every pointer inside it are NULL or valid
/// for their lengths.
pub(super) unsafe fn parse(m: &CK_MECHANISM) -> Result<Option<Mechanism>> {
    let none = |mech: Mechanism| {
        if m.ulParameterLen != 0 {
            Err(BAD)
        } else {
            Ok(mech)
        }
    };
    let ty = m.mechanism;
    Ok(Some(match ty {
        CKM_EC_EDWARDS_KEY_PAIR_GEN => none(Mechanism::EcEdwardsKeyPairGen)?,
        CKM_EDDSA | vendor::CKM_CLOUDHSM_EDDSA => {
            let params = if m.ulParameterLen == 0 {
                None
            } else {
                // SAFETY: contract.
                let p = unsafe { param::<CK_EDDSA_PARAMS>(m) }?;
                // SAFETY: pContextData is NULL or valid for ulContextDataLen bytes.
                let ctx = unsafe { data(p.pContextData, p.ulContextDataLen) }?;
                Some((cbool(p.phFlag)?, ctx))
            };
            Mechanism::Eddsa {
                vendor: ty == vendor::CKM_CLOUDHSM_EDDSA,
                params,
            }
        }
        vendor::CKM_CLOUDHSM_AES_GCM => {
            // SAFETY: contract.
            let p = unsafe { param::<CK_GCM_PARAMS>(m) }?;
            // The module makes the IV: pIv must be NULL (a length alone is ignored, as the
            // IV is not written back).
            if !p.pIv.is_null() {
                return Err(BAD);
            }
            Mechanism::CloudhsmAesGcm(GcmParams {
                iv: Vec::new(),
                // SAFETY: pAAD is NULL or valid for ulAADLen bytes.
                aad: unsafe { data(p.pAAD, p.ulAADLen) }?,
                tag_bits: from_ck(p.ulTagBits),
            })
        }
        vendor::CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD
        | vendor::CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD
        | vendor::CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD => {
            // SAFETY: contract.
            let iv = unsafe { data(m.pParameter.cast(), m.ulParameterLen) }?;
            let pad = match ty {
                vendor::CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD => KeyWrapPad::None,
                vendor::CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD => KeyWrapPad::Pkcs5,
                _ => KeyWrapPad::Zero,
            };
            // Zero padding takes only the implicit IV.
            if pad == KeyWrapPad::Zero && !iv.is_empty() {
                return Err(BAD);
            }
            Mechanism::CloudhsmAesKeyWrap {
                pad,
                iv: (!iv.is_empty()).then_some(iv),
            }
        }
        CKM_RSA_AES_KEY_WRAP => {
            // SAFETY: contract.
            let p = unsafe { param::<CK_RSA_AES_KEY_WRAP_PARAMS>(m) }?;
            if p.pOAEPParams.is_null() {
                return Err(BAD);
            }
            // SAFETY: non-NULL, points to a CK_RSA_PKCS_OAEP_PARAMS (contract).
            let o = unsafe { p.pOAEPParams.read_unaligned() };
            let label = match o.source {
                // SAFETY: pSourceData is NULL or valid for ulSourceDataLen bytes.
                CKZ_DATA_SPECIFIED => unsafe { data(o.pSourceData.cast(), o.ulSourceDataLen) }?,
                0 if o.ulSourceDataLen == 0 => Vec::new(),
                _ => return Err(BAD),
            };
            let mgf = match o.mgf {
                CKG_MGF1_SHA1 => HashAlg::Sha1,
                CKG_MGF1_SHA224 => HashAlg::Sha224,
                CKG_MGF1_SHA256 => HashAlg::Sha256,
                CKG_MGF1_SHA384 => HashAlg::Sha384,
                CKG_MGF1_SHA512 => HashAlg::Sha512,
                _ => return Err(BAD),
            };
            let hash = match o.hashAlg {
                CKM_SHA_1 | CKM_SHA224 | CKM_SHA256 | CKM_SHA384 | CKM_SHA512 => {
                    prf_hash(o.hashAlg)?
                }
                _ => return Err(BAD),
            };
            Mechanism::RsaAesKeyWrap {
                aes_key_bits: from_ck(p.ulAESKeyBits),
                oaep: OaepParams { hash, mgf, label },
            }
        }
        CKM_HKDF_KEY_GEN => none(Mechanism::HkdfKeyGen)?,
        CKM_HKDF_DERIVE => {
            // SAFETY: contract.
            let p = unsafe { param::<CK_HKDF_PARAMS>(m) }?;
            let hash = match p.prfHashMechanism {
                CKM_SHA_1 | CKM_SHA224 | CKM_SHA256 | CKM_SHA384 | CKM_SHA512 => {
                    prf_hash(p.prfHashMechanism)?
                }
                _ => return Err(BAD),
            };
            let extract = cbool(p.bExtract)?;
            let salt = match p.ulSaltType {
                CKF_HKDF_SALT_NULL => HkdfSalt::Null,
                CKF_HKDF_SALT_DATA => {
                    // SAFETY: pSalt is NULL or valid for ulSaltLen bytes.
                    let d = unsafe { data(p.pSalt, p.ulSaltLen) }?;
                    if d.is_empty() {
                        return Err(BAD);
                    }
                    HkdfSalt::Data(d)
                }
                CKF_HKDF_SALT_KEY => HkdfSalt::Key(ObjectId(u128::from(from_ck(p.hSaltKey)))),
                // Without extraction the salt is unused.
                _ if !extract => HkdfSalt::Null,
                _ => return Err(BAD),
            };
            Mechanism::HkdfDerive(HkdfParams {
                extract,
                expand: cbool(p.bExpand)?,
                prf: hash,
                salt,
                // SAFETY: pInfo is NULL or valid for ulInfoLen bytes.
                info: unsafe { data(p.pInfo, p.ulInfoLen) }?,
            })
        }
        CKM_SP800_108_COUNTER_KDF
        | CKM_SP800_108_FEEDBACK_KDF
        | CKM_SP800_108_DOUBLE_PIPELINE_KDF
        | vendor::CKM_CLOUDHSM_SP800_108_COUNTER_KDF => {
            // SAFETY: contract.
            Mechanism::Sp800108(Box::new(unsafe { kbkdf(m) }?))
        }
        // SAFETY: contract.
        CKM_PKCS5_PBKD2 => Mechanism::Pbkdf2(unsafe { pbkdf2(m) }?),
        CKM_CONCATENATE_BASE_AND_KEY => {
            // SAFETY: contract.
            let h = unsafe { param::<CK_OBJECT_HANDLE>(m) }?;
            Mechanism::ConcatenateBaseAndKey(ObjectId(u128::from(from_ck(h))))
        }
        CKM_CONCATENATE_BASE_AND_DATA | CKM_CONCATENATE_DATA_AND_BASE | CKM_XOR_BASE_AND_DATA => {
            // SAFETY: contract.
            let p = unsafe { param::<CK_KEY_DERIVATION_STRING_DATA>(m) }?;
            // SAFETY: pData is NULL or valid for ulLen bytes.
            let d = unsafe { data(p.pData, p.ulLen) }?;
            match ty {
                CKM_CONCATENATE_BASE_AND_DATA => Mechanism::ConcatenateBaseAndData(d),
                CKM_CONCATENATE_DATA_AND_BASE => Mechanism::ConcatenateDataAndBase(d),
                _ => Mechanism::XorBaseAndData(d),
            }
        }
        CKM_EXTRACT_KEY_FROM_KEY => {
            // SAFETY: contract.
            let bit = unsafe { param::<CK_EXTRACT_PARAMS>(m) }?;
            Mechanism::ExtractKeyFromKey(from_ck(bit))
        }
        CKM_SHA_1_KEY_GEN => none(Mechanism::HmacKeyGen(HashAlg::Sha1))?,
        CKM_SHA224_KEY_GEN => none(Mechanism::HmacKeyGen(HashAlg::Sha224))?,
        CKM_SHA256_KEY_GEN => none(Mechanism::HmacKeyGen(HashAlg::Sha256))?,
        CKM_SHA384_KEY_GEN => none(Mechanism::HmacKeyGen(HashAlg::Sha384))?,
        CKM_SHA512_KEY_GEN => none(Mechanism::HmacKeyGen(HashAlg::Sha512))?,
        CKM_AES_MAC => none(Mechanism::AesMac { out_len: None })?,
        CKM_AES_MAC_GENERAL => {
            // SAFETY: contract.
            let len = unsafe { param::<CK_MAC_GENERAL_PARAMS>(m) }?;
            Mechanism::AesMac {
                out_len: Some(from_ck(len)),
            }
        }
        _ => return Ok(None),
    }))
}

/// CloudHSM's own parameter structure for its SP 800-108 counter KDF.
#[repr(C)]
#[derive(Clone, Copy)]
struct CloudhsmKdfParams {
    prftype: CK_MECHANISM_TYPE,
    ul_number_of_data_params: CK_ULONG,
    p_data_params: *mut CK_PRF_DATA_PARAM,
}

/// # Safety
/// As [`parse`].
unsafe fn kbkdf(m: &CK_MECHANISM) -> Result<KbkdfParams> {
    let ty = m.mechanism;
    let len = usize::try_from(m.ulParameterLen).map_err(|_| BAD)?;
    let (prf, n, list, iv, adds, nadds, cloudhsm) = match ty {
        CKM_SP800_108_FEEDBACK_KDF => {
            // SAFETY: contract.
            let p = unsafe { param::<CK_SP800_108_FEEDBACK_KDF_PARAMS>(m) }?;
            // SAFETY: pIV is NULL or valid for ulIVLen bytes.
            let iv = unsafe { data(p.pIV, p.ulIVLen) }?;
            let a = (p.pAdditionalDerivedKeys, p.ulAdditionalDerivedKeys);
            (
                p.prfType,
                p.ulNumberOfDataParams,
                p.pDataParams,
                iv,
                a.0,
                a.1,
                false,
            )
        }
        vendor::CKM_CLOUDHSM_SP800_108_COUNTER_KDF if len == size_of::<CloudhsmKdfParams>() => {
            // SAFETY: contract.
            let p = unsafe { param::<CloudhsmKdfParams>(m) }?;
            let none = std::ptr::null_mut();
            (
                p.prftype,
                p.ul_number_of_data_params,
                p.p_data_params,
                Vec::new(),
                none,
                0,
                true,
            )
        }
        _ => {
            // SAFETY: contract.
            let p = unsafe { param::<CK_SP800_108_KDF_PARAMS>(m) }?;
            let a = (p.pAdditionalDerivedKeys, p.ulAdditionalDerivedKeys);
            (
                p.prfType,
                p.ulNumberOfDataParams,
                p.pDataParams,
                Vec::new(),
                a.0,
                a.1,
                false,
            )
        }
    };
    let prf = match prf {
        CKM_AES_CMAC => KbkdfPrf::AesCmac,
        CKM_SHA_1_HMAC | CKM_SHA224_HMAC | CKM_SHA256_HMAC | CKM_SHA384_HMAC | CKM_SHA512_HMAC => {
            KbkdfPrf::Hmac(prf_hash(prf)?)
        }
        _ => return Err(BAD),
    };
    let n = usize::try_from(n).map_err(|_| BAD)?;
    if n == 0 || list.is_null() || n > 64 {
        return Err(BAD);
    }
    // SAFETY: non-NULL and valid for n CK_PRF_DATA_PARAMs (contract).
    let raw = unsafe { std::slice::from_raw_parts(list, n) };
    let mode = match ty {
        CKM_SP800_108_FEEDBACK_KDF => KbkdfMode::Feedback,
        CKM_SP800_108_DOUBLE_PIPELINE_KDF => KbkdfMode::DoublePipeline,
        _ => KbkdfMode::Counter,
    };
    // CloudHSM's data types (4..=8) or the 3.0 ones (1, 3, 4): 4 is CloudHSM's counter
    // format or 3.0's byte array; the other types in the list tell which.
    let has = |t: u64| raw.iter().any(|d| from_ck(d.type_) == t);
    let vendor_types = [
        vendor::SP800_108_PRF_LABEL,
        vendor::SP800_108_PRF_CONTEXT,
        vendor::SP800_108_DKM_FORMAT,
        vendor::SP800_108_BYTE_ARRAY,
    ]
    .into_iter()
    .any(has)
        || (has(vendor::SP800_108_COUNTER_FORMAT) && !has(CK_SP800_108_ITERATION_VARIABLE));
    let data = if ty == vendor::CKM_CLOUDHSM_SP800_108_COUNTER_KDF && vendor_types {
        // SAFETY: contract.
        unsafe { cloudhsm_data(raw) }?
    } else {
        // SAFETY: contract.
        unsafe {
            standard_data(
                raw,
                mode,
                cloudhsm || ty == vendor::CKM_CLOUDHSM_SP800_108_COUNTER_KDF,
            )
        }?
    };
    let nadds = usize::try_from(nadds).map_err(|_| BAD)?;
    let mut additional = Vec::with_capacity(nadds);
    if nadds > 0 {
        if adds.is_null() || nadds > 64 {
            return Err(BAD);
        }
        // SAFETY: non-NULL and valid for nadds CK_DERIVED_KEYs (contract).
        for k in unsafe { std::slice::from_raw_parts(adds, nadds) } {
            if k.phKey.is_null() {
                return Err(BAD);
            }
            // SAFETY: pTemplate is NULL or a valid template of ulAttributeCount attributes.
            additional.push(unsafe { template(k.pTemplate, k.ulAttributeCount) }.map_err(|_| BAD)?);
        }
    }
    Ok(KbkdfParams {
        mode,
        mech: ty,
        prf,
        data,
        iv,
        additional,
    })
}

/// The value of a data parameter as a `T`, checked for size.
///
/// # Safety
/// `d.pValue` is NULL or valid for reads of `d.ulValueLen` bytes.
unsafe fn value<T: Copy>(d: &CK_PRF_DATA_PARAM) -> Result<T> {
    if d.pValue.is_null() || usize::try_from(d.ulValueLen) != Ok(size_of::<T>()) {
        return Err(BAD);
    }
    // SAFETY: non-NULL and readable for size_of::<T>() bytes; plain data.
    Ok(unsafe { d.pValue.cast::<T>().read_unaligned() })
}

/// The PKCS#11 3.0 data types, in the caller's order. `cloudhsm_formats`: CloudHSM's
/// counter (width only, big-endian) and DKM (method, width) structures.
///
/// # Safety
/// Every `pValue` is NULL or valid for its length.
unsafe fn standard_data(
    raw: &[CK_PRF_DATA_PARAM],
    mode: KbkdfMode,
    cloudhsm_formats: bool,
) -> Result<Vec<KbkdfData>> {
    let counter = |d: &CK_PRF_DATA_PARAM| -> Result<KbkdfCounter> {
        if cloudhsm_formats && usize::try_from(d.ulValueLen) == Ok(size_of::<CK_ULONG>()) {
            // SAFETY: contract.
            let w = unsafe { value::<CK_ULONG>(d) }?;
            return Ok(KbkdfCounter {
                little_endian: false,
                width_bits: from_ck(w),
            });
        }
        // SAFETY: contract.
        let f = unsafe { value::<CK_SP800_108_COUNTER_FORMAT>(d) }?;
        Ok(KbkdfCounter {
            little_endian: cbool(f.bLittleEndian)?,
            width_bits: from_ck(f.ulWidthInBits),
        })
    };
    let mut out = Vec::with_capacity(raw.len());
    for d in raw {
        out.push(match from_ck(d.type_) {
            CK_SP800_108_ITERATION_VARIABLE => {
                if mode == KbkdfMode::Counter {
                    KbkdfData::Iteration(Some(counter(d)?))
                } else {
                    if d.ulValueLen != 0 {
                        return Err(BAD);
                    }
                    KbkdfData::Iteration(None)
                }
            }
            CK_SP800_108_COUNTER if mode != KbkdfMode::Counter => KbkdfData::Counter(counter(d)?),
            CK_SP800_108_DKM_LENGTH => {
                let (method, little_endian, width) = if cloudhsm_formats
                    && usize::try_from(d.ulValueLen) == Ok(2 * size_of::<CK_ULONG>())
                {
                    // SAFETY: contract.
                    let [method, width] = unsafe { value::<[CK_ULONG; 2]>(d) }?;
                    (method, false, width)
                } else {
                    // SAFETY: contract.
                    let f = unsafe { value::<CK_SP800_108_DKM_LENGTH_FORMAT>(d) }?;
                    (f.dkmLengthMethod, cbool(f.bLittleEndian)?, f.ulWidthInBits)
                };
                let sum_of_segments = match method {
                    CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => false,
                    CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => true,
                    _ => return Err(BAD),
                };
                KbkdfData::DkmLength {
                    sum_of_segments,
                    little_endian,
                    width_bits: from_ck(width),
                }
            }
            CK_SP800_108_BYTE_ARRAY => {
                // SAFETY: pValue is NULL or valid for ulValueLen bytes.
                KbkdfData::Bytes(unsafe { data(d.pValue.cast(), d.ulValueLen) }?)
            }
            _ => return Err(BAD),
        });
    }
    Ok(out)
}

/// CloudHSM's data types: the PRF input is Counter || Label || 0x00 || Context || [byte
/// arrays] || L whatever the list order (AWS's samples), counter 16 or 32 bits, L 8, 16, 32
/// or 64 bits, both big-endian; L is the sum of the keys' lengths.
///
/// # Safety
/// Every `pValue` is NULL or valid for its length.
unsafe fn cloudhsm_data(raw: &[CK_PRF_DATA_PARAM]) -> Result<Vec<KbkdfData>> {
    let (mut counter, mut dkm) = (None, None);
    let (mut label, mut context, mut extra) = (None, None, Vec::new());
    for d in raw {
        match from_ck(d.type_) {
            vendor::SP800_108_COUNTER_FORMAT if counter.is_none() => {
                // SAFETY: contract.
                let w = from_ck(unsafe { value::<CK_ULONG>(d) }?);
                if !matches!(w, 16 | 32) {
                    return Err(BAD);
                }
                counter = Some(w);
            }
            vendor::SP800_108_DKM_FORMAT if dkm.is_none() => {
                // SAFETY: contract.
                let [method, width] = unsafe { value::<[CK_ULONG; 2]>(d) }?;
                if from_ck(method) != CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS
                    || !matches!(from_ck(width), 8 | 16 | 32 | 64)
                {
                    return Err(BAD);
                }
                dkm = Some(from_ck(width));
            }
            vendor::SP800_108_PRF_LABEL if label.is_none() => {
                // SAFETY: pValue is NULL or valid for ulValueLen bytes (contract).
                label = Some(unsafe { data(d.pValue.cast(), d.ulValueLen) }?)
            }
            vendor::SP800_108_PRF_CONTEXT if context.is_none() => {
                // SAFETY: as above.
                context = Some(unsafe { data(d.pValue.cast(), d.ulValueLen) }?)
            }
            vendor::SP800_108_BYTE_ARRAY => {
                // SAFETY: as above.
                extra.push(unsafe { data(d.pValue.cast(), d.ulValueLen) }?)
            }
            _ => return Err(BAD),
        }
    }
    let width_bits = counter.ok_or(BAD)?;
    let mut out = vec![KbkdfData::Iteration(Some(KbkdfCounter {
        little_endian: false,
        width_bits,
    }))];
    if label.is_some() || context.is_some() {
        out.push(KbkdfData::Bytes(label.unwrap_or_default()));
        out.push(KbkdfData::Bytes(vec![0]));
        out.push(KbkdfData::Bytes(context.unwrap_or_default()));
    }
    out.extend(extra.into_iter().map(KbkdfData::Bytes));
    if let Some(w) = dkm {
        out.push(KbkdfData::DkmLength {
            sum_of_segments: false,
            little_endian: false,
            width_bits: w,
        });
    }
    Ok(out)
}

/// Lengths below this in CK_PKCS5_PBKD2_PARAMS's last field are a length (the 3.0
/// CK_PKCS5_PBKD2_PARAMS2); above, a pointer to the length (the 2.x structure, whose
/// ulPasswordLen is a CK_ULONG_PTR). Both structures have the same size; no address in a
/// process's mapped memory is this low.
const PBKDF2_LEN_LIMIT: CK_ULONG = 0x1_0000;

/// # Safety
/// As [`parse`]; for the 2.x structure `ulPasswordLen` points to a CK_ULONG.
unsafe fn pbkdf2(m: &CK_MECHANISM) -> Result<Pbkdf2Params> {
    // SAFETY: contract.
    let p = unsafe { param::<CK_PKCS5_PBKD2_PARAMS2>(m) }?;
    if p.saltSource != CKZ_SALT_SPECIFIED {
        return Err(BAD);
    }
    let prf = match p.prf {
        CKP_PKCS5_PBKD2_HMAC_SHA1 => HashAlg::Sha1,
        CKP_PKCS5_PBKD2_HMAC_SHA224 => HashAlg::Sha224,
        CKP_PKCS5_PBKD2_HMAC_SHA256 => HashAlg::Sha256,
        CKP_PKCS5_PBKD2_HMAC_SHA384 => HashAlg::Sha384,
        CKP_PKCS5_PBKD2_HMAC_SHA512 => HashAlg::Sha512,
        _ => return Err(BAD),
    };
    let pw_len = if p.ulPasswordLen < PBKDF2_LEN_LIMIT {
        p.ulPasswordLen
    } else {
        let ptr = p.ulPasswordLen as usize as *const CK_ULONG;
        // SAFETY: the 2.x structure: a valid pointer to the password length (contract).
        unsafe { ptr.read_unaligned() }
    };
    // SAFETY: pPassword is NULL or valid for pw_len bytes (contract).
    let password = unsafe { bytes_or(p.pPassword, pw_len, BAD) }?;
    Ok(Pbkdf2Params {
        // SAFETY: pSaltSourceData is NULL or valid for ulSaltSourceDataLen bytes.
        salt: unsafe { data(p.pSaltSourceData.cast(), p.ulSaltSourceDataLen) }?,
        iterations: from_ck(p.iterations),
        prf,
        password: Secret::new(password.to_vec()),
    })
}

/// The `phKey` outputs of CK_DERIVED_KEYs in a SP 800-108 mechanism's parameters, in order
/// (empty for any other mechanism).
///
/// # Safety
/// As [`parse`], for a mechanism that [`parse`] accepted.
pub(crate) unsafe fn additional_key_outputs(m: &CK_MECHANISM) -> Vec<*mut CK_OBJECT_HANDLE> {
    let (ptr, n) = match m.mechanism {
        CKM_SP800_108_FEEDBACK_KDF => {
            // SAFETY: contract.
            match unsafe { param::<CK_SP800_108_FEEDBACK_KDF_PARAMS>(m) } {
                Ok(p) => (p.pAdditionalDerivedKeys, p.ulAdditionalDerivedKeys),
                Err(_) => return Vec::new(),
            }
        }
        CKM_SP800_108_COUNTER_KDF
        | CKM_SP800_108_DOUBLE_PIPELINE_KDF
        | vendor::CKM_CLOUDHSM_SP800_108_COUNTER_KDF => {
            // SAFETY: contract.
            match unsafe { param::<CK_SP800_108_KDF_PARAMS>(m) } {
                Ok(p) => (p.pAdditionalDerivedKeys, p.ulAdditionalDerivedKeys),
                Err(_) => return Vec::new(),
            }
        }
        _ => return Vec::new(),
    };
    let Ok(n) = usize::try_from(n) else {
        return Vec::new();
    };
    if ptr.is_null() || n == 0 {
        return Vec::new();
    }
    // SAFETY: non-NULL and valid for n CK_DERIVED_KEYs (contract).
    unsafe { std::slice::from_raw_parts(ptr, n) }
        .iter()
        .map(|k| k.phKey)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::ffi::marshal::len_to_ck;

    fn mech<T>(ty: CK_MECHANISM_TYPE, p: &mut T) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: ty,
            pParameter: (p as *mut T).cast(),
            ulParameterLen: len_to_ck(size_of::<T>()),
        }
    }

    fn run(m: &CK_MECHANISM) -> Result<Mechanism> {
        // SAFETY: every test parameter points to live locals with their lengths, or NULL.
        unsafe { parse(m) }.map(|o| o.expect("one of ours"))
    }

    #[test]
    fn hkdf_params() {
        let mut salt = [1u8, 2, 3];
        let mut info = [9u8; 4];
        let mut p = CK_HKDF_PARAMS {
            bExtract: CK_TRUE,
            bExpand: CK_TRUE,
            prfHashMechanism: CKM_SHA384,
            ulSaltType: CKF_HKDF_SALT_DATA,
            pSalt: salt.as_mut_ptr(),
            ulSaltLen: 3,
            hSaltKey: 0,
            pInfo: info.as_mut_ptr(),
            ulInfoLen: 4,
        };
        assert_eq!(
            run(&mech(CKM_HKDF_DERIVE, &mut p)),
            Ok(Mechanism::HkdfDerive(HkdfParams {
                extract: true,
                expand: true,
                prf: HashAlg::Sha384,
                salt: HkdfSalt::Data(vec![1, 2, 3]),
                info: vec![9; 4],
            }))
        );
        p.ulSaltType = CKF_HKDF_SALT_KEY;
        p.hSaltKey = 77;
        assert!(matches!(
            run(&mech(CKM_HKDF_DERIVE, &mut p)),
            Ok(Mechanism::HkdfDerive(HkdfParams {
                salt: HkdfSalt::Key(ObjectId(77)),
                ..
            }))
        ));
        p.bExpand = 7;
        assert_eq!(run(&mech(CKM_HKDF_DERIVE, &mut p)), Err(BAD));
        p.bExpand = CK_TRUE;
        p.pInfo = std::ptr::null_mut();
        assert_eq!(run(&mech(CKM_HKDF_DERIVE, &mut p)), Err(BAD));
    }

    #[test]
    fn kbkdf_params_and_outputs() {
        let mut ctr = CK_SP800_108_COUNTER_FORMAT {
            bLittleEndian: CK_TRUE,
            ulWidthInBits: 16,
        };
        let mut label = *b"lbl";
        let mut data = [
            CK_PRF_DATA_PARAM {
                type_: CK_SP800_108_ITERATION_VARIABLE,
                pValue: (&mut ctr as *mut CK_SP800_108_COUNTER_FORMAT).cast(),
                ulValueLen: len_to_ck(size_of::<CK_SP800_108_COUNTER_FORMAT>()),
            },
            CK_PRF_DATA_PARAM {
                type_: CK_SP800_108_BYTE_ARRAY,
                pValue: label.as_mut_ptr().cast(),
                ulValueLen: 3,
            },
        ];
        let mut class = CKO_SECRET_KEY;
        let mut tpl = [CK_ATTRIBUTE {
            type_: CKA_CLASS,
            pValue: (&mut class as *mut CK_ULONG).cast(),
            ulValueLen: len_to_ck(size_of::<CK_ULONG>()),
        }];
        let mut out: CK_OBJECT_HANDLE = 0;
        let mut adds = [CK_DERIVED_KEY {
            pTemplate: tpl.as_mut_ptr(),
            ulAttributeCount: 1,
            phKey: &mut out,
        }];
        let mut p = CK_SP800_108_KDF_PARAMS {
            prfType: CKM_SHA256_HMAC,
            ulNumberOfDataParams: 2,
            pDataParams: data.as_mut_ptr(),
            ulAdditionalDerivedKeys: 1,
            pAdditionalDerivedKeys: adds.as_mut_ptr(),
        };
        let m = mech(CKM_SP800_108_COUNTER_KDF, &mut p);
        let Ok(Mechanism::Sp800108(k)) = run(&m) else {
            panic!("parsed")
        };
        assert_eq!(k.prf, KbkdfPrf::Hmac(HashAlg::Sha256));
        assert_eq!(
            k.data,
            vec![
                KbkdfData::Iteration(Some(KbkdfCounter {
                    little_endian: true,
                    width_bits: 16
                })),
                KbkdfData::Bytes(b"lbl".to_vec())
            ]
        );
        assert_eq!(k.additional.len(), 1);
        // SAFETY: m's parameter is alive.
        let outs = unsafe { additional_key_outputs(&m) };
        assert_eq!(outs, vec![&mut out as *mut CK_OBJECT_HANDLE]);
        // A NULL output handle, an unknown PRF, an unknown data type: parameter errors.
        // SAFETY: p points to `adds`, alive.
        unsafe { (*p.pAdditionalDerivedKeys).phKey = std::ptr::null_mut() };
        assert_eq!(run(&mech(CKM_SP800_108_COUNTER_KDF, &mut p)), Err(BAD));
        p.ulAdditionalDerivedKeys = 0;
        p.prfType = CKM_MD5_HMAC;
        assert_eq!(run(&mech(CKM_SP800_108_COUNTER_KDF, &mut p)), Err(BAD));
        p.prfType = CKM_AES_CMAC;
        // SAFETY: p points to `data`, alive, of two entries.
        unsafe { (*p.pDataParams.add(1)).type_ = 99 };
        assert_eq!(run(&mech(CKM_SP800_108_COUNTER_KDF, &mut p)), Err(BAD));
    }

    #[test]
    fn pbkdf2_both_structures() {
        let mut pw = *b"password";
        let mut salt = *b"salt";
        let mut p2 = CK_PKCS5_PBKD2_PARAMS2 {
            saltSource: CKZ_SALT_SPECIFIED,
            pSaltSourceData: salt.as_mut_ptr().cast(),
            ulSaltSourceDataLen: 4,
            iterations: 2,
            prf: CKP_PKCS5_PBKD2_HMAC_SHA256,
            pPrfData: std::ptr::null_mut(),
            ulPrfDataLen: 0,
            pPassword: pw.as_mut_ptr(),
            ulPasswordLen: 8,
        };
        let want = Mechanism::Pbkdf2(Pbkdf2Params {
            salt: b"salt".to_vec(),
            iterations: 2,
            prf: HashAlg::Sha256,
            password: Secret::new(b"password".to_vec()),
        });
        assert_eq!(run(&mech(CKM_PKCS5_PBKD2, &mut p2)), Ok(want.clone()));
        let mut len: CK_ULONG = 8;
        let mut p1 = CK_PKCS5_PBKD2_PARAMS {
            saltSource: CKZ_SALT_SPECIFIED,
            pSaltSourceData: salt.as_mut_ptr().cast(),
            ulSaltSourceDataLen: 4,
            iterations: 2,
            prf: CKP_PKCS5_PBKD2_HMAC_SHA256,
            pPrfData: std::ptr::null_mut(),
            ulPrfDataLen: 0,
            pPassword: pw.as_mut_ptr(),
            ulPasswordLen: &mut len,
        };
        assert_eq!(run(&mech(CKM_PKCS5_PBKD2, &mut p1)), Ok(want));
        p2.saltSource = 2;
        assert_eq!(run(&mech(CKM_PKCS5_PBKD2, &mut p2)), Err(BAD));
    }

    #[test]
    fn wraps_and_simple_params() {
        let mut iv = [0xa6u8; 8];
        let m = CK_MECHANISM {
            mechanism: vendor::CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD,
            pParameter: iv.as_mut_ptr().cast(),
            ulParameterLen: 8,
        };
        assert_eq!(run(&m), Err(BAD), "ZERO_PAD takes no IV");
        let m = CK_MECHANISM {
            mechanism: vendor::CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD,
            ..m
        };
        assert_eq!(
            run(&m),
            Ok(Mechanism::CloudhsmAesKeyWrap {
                pad: KeyWrapPad::Pkcs5,
                iv: Some(vec![0xa6; 8])
            })
        );
        let mut h: CK_OBJECT_HANDLE = 42;
        assert_eq!(
            run(&mech(CKM_CONCATENATE_BASE_AND_KEY, &mut h)),
            Ok(Mechanism::ConcatenateBaseAndKey(ObjectId(42)))
        );
        let mut bit: CK_EXTRACT_PARAMS = 21;
        assert_eq!(
            run(&mech(CKM_EXTRACT_KEY_FROM_KEY, &mut bit)),
            Ok(Mechanism::ExtractKeyFromKey(21))
        );
        let mut d = [1u8, 2];
        let mut s = CK_KEY_DERIVATION_STRING_DATA {
            pData: d.as_mut_ptr(),
            ulLen: 2,
        };
        assert_eq!(
            run(&mech(CKM_XOR_BASE_AND_DATA, &mut s)),
            Ok(Mechanism::XorBaseAndData(vec![1, 2]))
        );
        assert_eq!(
            // SAFETY: a mechanism this file does not know, without a parameter.
            unsafe {
                parse(&CK_MECHANISM {
                    mechanism: CKM_MD5,
                    pParameter: std::ptr::null_mut(),
                    ulParameterLen: 0,
                })
            },
            Ok(None)
        );
    }
}
