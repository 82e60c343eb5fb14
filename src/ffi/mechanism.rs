//! `CK_MECHANISM` → `api::Mechanism`, parameters included. A wrong parameter size or a NULL
//! parameter is CKR_MECHANISM_PARAM_INVALID; a mechanism we do not know is
//! CKR_MECHANISM_INVALID. Whether the token *supports* a known mechanism for a given key is
//! the core's decision.

use std::mem::size_of;

use cryptoki_sys::*;

use super::marshal::{bytes_or, from_ck, to_ck};
use crate::crypto::HashAlg;
use crate::error::{Error, Result};
use crate::hsm::api::{CcmParams, GcmParams, Mechanism, OaepParams, PssParams, SignContext};

/// Parse the mechanism a caller passes to C_*Init, C_GenerateKey*, C_WrapKey...
///
/// # Safety
/// `ptr` is NULL or valid for a read of a `CK_MECHANISM` whose `pParameter` is NULL or valid
/// for reads of `ulParameterLen` bytes (and so are the pointers inside the parameters).
pub(crate) unsafe fn mechanism(ptr: *const CK_MECHANISM) -> Result<Mechanism> {
    if ptr.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: non-NULL and readable (contract).
    let m = unsafe { ptr.read_unaligned() };
    // SAFETY: the parameter obeys the contract.
    unsafe { parse(&m) }
}

/// # Safety
/// As [`mechanism`], for `m`'s parameter.
unsafe fn parse(m: &CK_MECHANISM) -> Result<Mechanism> {
    let ty = m.mechanism;
    Ok(match ty {
        CKM_AES_KEY_GEN => none(m, Mechanism::AesKeyGen)?,
        CKM_GENERIC_SECRET_KEY_GEN => none(m, Mechanism::GenericSecretKeyGen)?,
        CKM_RSA_PKCS_KEY_PAIR_GEN => none(m, Mechanism::RsaPkcsKeyPairGen)?,
        CKM_EC_KEY_PAIR_GEN => none(m, Mechanism::EcKeyPairGen)?,
        CKM_SHA_1 | CKM_SHA224 | CKM_SHA256 | CKM_SHA384 | CKM_SHA512 => {
            none(m, Mechanism::Digest(hash(ty)?))?
        }
        CKM_RSA_PKCS => none(m, Mechanism::RsaPkcs)?,
        CKM_RSA_X_509 => none(m, Mechanism::RsaX509)?,
        // SAFETY: the parameter obeys the contract.
        CKM_RSA_PKCS_PSS => Mechanism::RsaPkcsPss(unsafe { pss(m) }?),
        CKM_SHA1_RSA_PKCS | CKM_SHA224_RSA_PKCS | CKM_SHA256_RSA_PKCS | CKM_SHA384_RSA_PKCS
        | CKM_SHA512_RSA_PKCS => none(m, Mechanism::HashRsaPkcs(rsa_pkcs_hash(ty)?))?,
        CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS => {
            // SAFETY: the parameter obeys the contract.
            Mechanism::HashRsaPkcsPss(rsa_pss_hash(ty)?, unsafe { pss(m) }?)
        }
        // SAFETY: the parameter obeys the contract.
        CKM_RSA_PKCS_OAEP => Mechanism::RsaPkcsOaep(unsafe { oaep(m) }?),
        CKM_ECDSA => none(m, Mechanism::Ecdsa)?,
        CKM_ECDSA_SHA1 | CKM_ECDSA_SHA224 | CKM_ECDSA_SHA256 | CKM_ECDSA_SHA384
        | CKM_ECDSA_SHA512 => none(m, Mechanism::HashEcdsa(ecdsa_hash(ty)?))?,
        CKM_AES_ECB => none(m, Mechanism::AesEcb)?,
        // SAFETY: the parameter obeys the contract.
        CKM_AES_CBC => Mechanism::AesCbc(unsafe { param::<[u8; 16]>(m) }?),
        // SAFETY: the parameter obeys the contract.
        CKM_AES_CBC_PAD => Mechanism::AesCbcPad(unsafe { param::<[u8; 16]>(m) }?),
        CKM_AES_CTR => {
            // SAFETY: the parameter obeys the contract.
            let p = unsafe { param::<CK_AES_CTR_PARAMS>(m) }?;
            Mechanism::AesCtr {
                counter_bits: from_ck(p.ulCounterBits),
                cb: p.cb,
            }
        }
        // SAFETY: the parameter obeys the contract.
        CKM_AES_GCM => Mechanism::AesGcm(unsafe { gcm(m) }?),
        CKM_SHA_1_HMAC | CKM_SHA224_HMAC | CKM_SHA256_HMAC | CKM_SHA384_HMAC | CKM_SHA512_HMAC => {
            none(
                m,
                Mechanism::Hmac {
                    hash: hmac_hash(ty)?,
                    out_len: None,
                },
            )?
        }
        CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL => {
            // SAFETY: the parameter obeys the contract.
            let len = unsafe { param::<CK_MAC_GENERAL_PARAMS>(m) }?;
            Mechanism::Hmac {
                hash: hmac_hash(ty)?,
                out_len: Some(from_ck(len)),
            }
        }
        CKM_AES_CMAC => none(m, Mechanism::AesCmac { out_len: None })?,
        CKM_AES_CMAC_GENERAL => {
            // SAFETY: the parameter obeys the contract.
            let len = unsafe { param::<CK_MAC_GENERAL_PARAMS>(m) }?;
            Mechanism::AesCmac {
                out_len: Some(from_ck(len)),
            }
        }
        CKM_AES_KEY_WRAP => Mechanism::AesKeyWrap {
            // SAFETY: the parameter obeys the contract.
            iv: unsafe { optional_iv(m) }?,
        },
        CKM_AES_KEY_WRAP_KWP => Mechanism::AesKeyWrapKwp {
            // SAFETY: the parameter obeys the contract.
            iv: unsafe { optional_iv(m) }?,
        },
        CKM_ECDH1_DERIVE => {
            // SAFETY: the parameter obeys the contract.
            let p = unsafe { param::<CK_ECDH1_DERIVE_PARAMS>(m) }?;
            let bad = Error::MechanismParamInvalid;
            Mechanism::Ecdh1Derive {
                kdf: from_ck(p.kdf),
                // SAFETY: pSharedData is NULL or valid for ulSharedDataLen bytes (contract).
                shared_data: unsafe { bytes_or(p.pSharedData, p.ulSharedDataLen, bad) }?.to_vec(),
                // SAFETY: pPublicData is NULL or valid for ulPublicDataLen bytes (contract).
                public_data: unsafe { bytes_or(p.pPublicData, p.ulPublicDataLen, bad) }?.to_vec(),
            }
        }
        #[cfg(not(feature = "fips"))]
        CKM_DES3_KEY_GEN => none(m, Mechanism::Des3KeyGen)?,
        #[cfg(not(feature = "fips"))]
        CKM_DES3_ECB => none(m, Mechanism::Des3Ecb)?,
        #[cfg(not(feature = "fips"))]
        // SAFETY: the parameter obeys the contract.
        CKM_DES3_CBC => Mechanism::Des3Cbc(unsafe { param::<[u8; 8]>(m) }?),
        #[cfg(not(feature = "fips"))]
        // SAFETY: the parameter obeys the contract.
        CKM_DES3_CBC_PAD => Mechanism::Des3CbcPad(unsafe { param::<[u8; 8]>(m) }?),
        #[cfg(not(feature = "fips"))]
        CKM_DH_PKCS_PARAMETER_GEN => none(m, Mechanism::DhPkcsParameterGen)?,
        #[cfg(not(feature = "fips"))]
        CKM_DH_PKCS_KEY_PAIR_GEN => none(m, Mechanism::DhPkcsKeyPairGen)?,
        #[cfg(not(feature = "fips"))]
        CKM_DH_PKCS_DERIVE => {
            // The parameter is the other party's public value, as bytes.
            // SAFETY: the parameter obeys the contract.
            let v = unsafe {
                bytes_or(
                    m.pParameter.cast(),
                    m.ulParameterLen,
                    Error::MechanismParamInvalid,
                )
            }?;
            if v.is_empty() {
                return Err(Error::MechanismParamInvalid);
            }
            Mechanism::DhPkcsDerive(v.to_vec())
        }
        #[cfg(not(feature = "fips"))]
        CKM_DSA_PARAMETER_GEN => none(m, Mechanism::DsaParameterGen)?,
        #[cfg(not(feature = "fips"))]
        CKM_DSA_KEY_PAIR_GEN => none(m, Mechanism::DsaKeyPairGen)?,
        #[cfg(not(feature = "fips"))]
        CKM_DSA => none(m, Mechanism::Dsa)?,
        #[cfg(not(feature = "fips"))]
        CKM_DSA_SHA1 => none(m, Mechanism::HashDsa(HashAlg::Sha1))?,
        #[cfg(not(feature = "fips"))]
        CKM_DSA_SHA224 => none(m, Mechanism::HashDsa(HashAlg::Sha224))?,
        #[cfg(not(feature = "fips"))]
        CKM_DSA_SHA256 => none(m, Mechanism::HashDsa(HashAlg::Sha256))?,
        #[cfg(not(feature = "fips"))]
        CKM_DSA_SHA384 => none(m, Mechanism::HashDsa(HashAlg::Sha384))?,
        #[cfg(not(feature = "fips"))]
        CKM_DSA_SHA512 => none(m, Mechanism::HashDsa(HashAlg::Sha512))?,
        // SAFETY: the parameter obeys the contract.
        CKM_AES_CCM => Mechanism::AesCcm(unsafe { ccm(m) }?),
        CKM_CHACHA20_KEY_GEN => none(m, Mechanism::ChaCha20KeyGen)?,
        // SAFETY: the parameter obeys the contract.
        CKM_CHACHA20 => unsafe { chacha20(m) }?,
        CKM_CHACHA20_POLY1305 => {
            // SAFETY: the parameter obeys the contract.
            let p = unsafe { param::<CK_SALSA20_CHACHA20_POLY1305_PARAMS>(m) }?;
            let bad = Error::MechanismParamInvalid;
            Mechanism::ChaCha20Poly1305 {
                // SAFETY: pNonce is NULL or valid for ulNonceLen bytes (contract).
                nonce: unsafe { bytes_or(p.pNonce, p.ulNonceLen, bad) }?.to_vec(),
                // SAFETY: pAAD is NULL or valid for ulAADLen bytes (contract).
                aad: unsafe { bytes_or(p.pAAD, p.ulAADLen, bad) }?.to_vec(),
            }
        }
        CKM_ML_KEM_KEY_PAIR_GEN => none(m, Mechanism::MlKemKeyPairGen)?,
        CKM_ML_KEM => none(m, Mechanism::MlKem)?,
        CKM_ML_DSA_KEY_PAIR_GEN => none(m, Mechanism::MlDsaKeyPairGen)?,
        CKM_ML_DSA if m.ulParameterLen == 0 => Mechanism::MlDsa(None),
        CKM_ML_DSA => {
            // SAFETY: the parameter obeys the contract.
            let p = unsafe { param::<CK_SIGN_ADDITIONAL_CONTEXT>(m) }?;
            // SAFETY: pContext is NULL or valid for ulContextLen bytes (contract).
            let context =
                unsafe { bytes_or(p.pContext, p.ulContextLen, Error::MechanismParamInvalid) }?;
            Mechanism::MlDsa(Some(SignContext {
                hedge: from_ck(p.hedgeVariant),
                context: context.to_vec(),
            }))
        }
        _ => {
            // SAFETY: the parameter obeys the contract.
            return unsafe { super::mechanism_kdf::parse(m) }?.ok_or(Error::MechanismInvalid);
        }
    })
}

/// # Safety
/// As [`param`], and `pNonce` / `pAAD` are NULL or valid for their lengths.
unsafe fn ccm(m: &CK_MECHANISM) -> Result<CcmParams> {
    // SAFETY: contract.
    let p = unsafe { param::<CK_CCM_PARAMS>(m) }?;
    let bad = Error::MechanismParamInvalid;
    Ok(CcmParams {
        data_len: from_ck(p.ulDataLen),
        // SAFETY: contract.
        nonce: unsafe { bytes_or(p.pNonce, p.ulNonceLen, bad) }?.to_vec(),
        // SAFETY: contract.
        aad: unsafe { bytes_or(p.pAAD, p.ulAADLen, bad) }?.to_vec(),
        mac_len: from_ck(p.ulMACLen),
    })
}

/// CK_CHACHA20_PARAMS. The block counter is read as the little-endian bytes of the state's
/// counter word(s) (RFC 8439 §2.3 layout), 4 or 8 of them as `blockCounterBits` says.
///
/// # Safety
/// As [`param`], and `pBlockCounter` / `pNonce` are NULL or valid for their bit lengths.
unsafe fn chacha20(m: &CK_MECHANISM) -> Result<Mechanism> {
    // SAFETY: contract.
    let p = unsafe { param::<CK_CHACHA20_PARAMS>(m) }?;
    let bad = Error::MechanismParamInvalid;
    let counter_bits = from_ck(p.blockCounterBits);
    let nonce_bits = from_ck(p.ulNonceBits);
    if !matches!(counter_bits, 32 | 64) || !matches!(nonce_bits, 64 | 96) {
        return Err(bad);
    }
    // SAFETY: contract (lengths in bytes from the bit counts just checked).
    let counter = unsafe { bytes_or(p.pBlockCounter, to_ck(counter_bits / 8), bad) }?;
    // SAFETY: contract.
    let nonce = unsafe { bytes_or(p.pNonce, to_ck(nonce_bits / 8), bad) }?;
    let mut le = [0u8; 8];
    le[..counter.len()].copy_from_slice(counter);
    Ok(Mechanism::ChaCha20 {
        nonce: nonce.to_vec(),
        counter: u64::from_le_bytes(le),
        counter_bits,
    })
}

/// An optional IV given as the whole parameter (CKM_AES_KEY_WRAP, _KWP): none when the
/// length is 0; whether it is acceptable is the core's decision.
///
/// # Safety
/// `m.pParameter` is NULL or valid for reads of `m.ulParameterLen` bytes.
unsafe fn optional_iv(m: &CK_MECHANISM) -> Result<Option<Vec<u8>>> {
    // SAFETY: contract.
    let iv = unsafe {
        bytes_or(
            m.pParameter.cast(),
            m.ulParameterLen,
            Error::MechanismParamInvalid,
        )
    }?;
    Ok(if iv.is_empty() {
        None
    } else {
        Some(iv.to_vec())
    })
}

/// A mechanism without parameters: any pointer with length 0 is accepted.
fn none(m: &CK_MECHANISM, mech: Mechanism) -> Result<Mechanism> {
    if m.ulParameterLen != 0 {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(mech)
}

/// A fixed-size parameter structure.
///
/// # Safety
/// `m.pParameter` is NULL or valid for reads of `m.ulParameterLen` bytes.
unsafe fn param<T: Copy>(m: &CK_MECHANISM) -> Result<T> {
    if m.pParameter.is_null() || usize::try_from(m.ulParameterLen) != Ok(size_of::<T>()) {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: non-NULL and readable for size_of::<T>() bytes (contract, length checked);
    // every T used here is plain data valid for any bit pattern.
    Ok(unsafe { m.pParameter.cast::<T>().read_unaligned() })
}

/// # Safety
/// As [`param`].
unsafe fn pss(m: &CK_MECHANISM) -> Result<PssParams> {
    // SAFETY: contract.
    let p = unsafe { param::<CK_RSA_PKCS_PSS_PARAMS>(m) }?;
    Ok(PssParams {
        hash: param_hash(p.hashAlg)?,
        mgf: mgf(p.mgf)?,
        salt_len: from_ck(p.sLen),
    })
}

/// # Safety
/// As [`param`], and `pSourceData` is NULL or valid for `ulSourceDataLen` bytes.
unsafe fn oaep(m: &CK_MECHANISM) -> Result<OaepParams> {
    // SAFETY: contract.
    let p = unsafe { param::<CK_RSA_PKCS_OAEP_PARAMS>(m) }?;
    let label = match p.source {
        // SAFETY: contract.
        CKZ_DATA_SPECIFIED => unsafe {
            bytes_or(
                p.pSourceData.cast(),
                p.ulSourceDataLen,
                Error::MechanismParamInvalid,
            )
        }?
        .to_vec(),
        // No source: an empty label (as many applications pass).
        0 if p.ulSourceDataLen == 0 => Vec::new(),
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok(OaepParams {
        hash: param_hash(p.hashAlg)?,
        mgf: mgf(p.mgf)?,
        label,
    })
}

/// # Safety
/// As [`param`], and `pIv` / `pAAD` are NULL or valid for their lengths.
unsafe fn gcm(m: &CK_MECHANISM) -> Result<GcmParams> {
    // SAFETY: contract.
    let p = unsafe { param::<CK_GCM_PARAMS>(m) }?;
    // SAFETY: contract.
    // ulIvBits is ignored, as the 2.40 errata and most implementations do.
    let iv = unsafe { bytes_or(p.pIv, p.ulIvLen, Error::MechanismParamInvalid) }?.to_vec();
    // SAFETY: contract.
    let aad = unsafe { bytes_or(p.pAAD, p.ulAADLen, Error::MechanismParamInvalid) }?.to_vec();
    Ok(GcmParams {
        iv,
        aad,
        tag_bits: from_ck(p.ulTagBits),
    })
}

fn hash(ty: CK_MECHANISM_TYPE) -> Result<HashAlg> {
    match ty {
        CKM_SHA_1 => Ok(HashAlg::Sha1),
        CKM_SHA224 => Ok(HashAlg::Sha224),
        CKM_SHA256 => Ok(HashAlg::Sha256),
        CKM_SHA384 => Ok(HashAlg::Sha384),
        CKM_SHA512 => Ok(HashAlg::Sha512),
        _ => Err(Error::MechanismInvalid),
    }
}

/// A hash named inside a parameter structure.
fn param_hash(ty: CK_MECHANISM_TYPE) -> Result<HashAlg> {
    hash(ty).map_err(|_| Error::MechanismParamInvalid)
}

fn mgf(g: CK_RSA_PKCS_MGF_TYPE) -> Result<HashAlg> {
    match g {
        CKG_MGF1_SHA1 => Ok(HashAlg::Sha1),
        CKG_MGF1_SHA224 => Ok(HashAlg::Sha224),
        CKG_MGF1_SHA256 => Ok(HashAlg::Sha256),
        CKG_MGF1_SHA384 => Ok(HashAlg::Sha384),
        CKG_MGF1_SHA512 => Ok(HashAlg::Sha512),
        _ => Err(Error::MechanismParamInvalid),
    }
}

fn rsa_pkcs_hash(ty: CK_MECHANISM_TYPE) -> Result<HashAlg> {
    match ty {
        CKM_SHA1_RSA_PKCS => Ok(HashAlg::Sha1),
        CKM_SHA224_RSA_PKCS => Ok(HashAlg::Sha224),
        CKM_SHA256_RSA_PKCS => Ok(HashAlg::Sha256),
        CKM_SHA384_RSA_PKCS => Ok(HashAlg::Sha384),
        CKM_SHA512_RSA_PKCS => Ok(HashAlg::Sha512),
        _ => Err(Error::MechanismInvalid),
    }
}

fn rsa_pss_hash(ty: CK_MECHANISM_TYPE) -> Result<HashAlg> {
    match ty {
        CKM_SHA1_RSA_PKCS_PSS => Ok(HashAlg::Sha1),
        CKM_SHA224_RSA_PKCS_PSS => Ok(HashAlg::Sha224),
        CKM_SHA256_RSA_PKCS_PSS => Ok(HashAlg::Sha256),
        CKM_SHA384_RSA_PKCS_PSS => Ok(HashAlg::Sha384),
        CKM_SHA512_RSA_PKCS_PSS => Ok(HashAlg::Sha512),
        _ => Err(Error::MechanismInvalid),
    }
}

fn ecdsa_hash(ty: CK_MECHANISM_TYPE) -> Result<HashAlg> {
    match ty {
        CKM_ECDSA_SHA1 => Ok(HashAlg::Sha1),
        CKM_ECDSA_SHA224 => Ok(HashAlg::Sha224),
        CKM_ECDSA_SHA256 => Ok(HashAlg::Sha256),
        CKM_ECDSA_SHA384 => Ok(HashAlg::Sha384),
        CKM_ECDSA_SHA512 => Ok(HashAlg::Sha512),
        _ => Err(Error::MechanismInvalid),
    }
}

fn hmac_hash(ty: CK_MECHANISM_TYPE) -> Result<HashAlg> {
    match ty {
        CKM_SHA_1_HMAC | CKM_SHA_1_HMAC_GENERAL => Ok(HashAlg::Sha1),
        CKM_SHA224_HMAC | CKM_SHA224_HMAC_GENERAL => Ok(HashAlg::Sha224),
        CKM_SHA256_HMAC | CKM_SHA256_HMAC_GENERAL => Ok(HashAlg::Sha256),
        CKM_SHA384_HMAC | CKM_SHA384_HMAC_GENERAL => Ok(HashAlg::Sha384),
        CKM_SHA512_HMAC | CKM_SHA512_HMAC_GENERAL => Ok(HashAlg::Sha512),
        _ => Err(Error::MechanismInvalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::marshal::len_to_ck;
    use std::ffi::c_void;

    fn mech<T>(ty: CK_MECHANISM_TYPE, p: &mut T) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: ty,
            pParameter: (p as *mut T).cast::<c_void>(),
            ulParameterLen: len_to_ck(size_of::<T>()),
        }
    }

    fn bare(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: ty,
            pParameter: std::ptr::null_mut(),
            ulParameterLen: 0,
        }
    }

    fn parse_ok(m: &CK_MECHANISM) -> Result<Mechanism> {
        // SAFETY: every test mechanism points to live locals with their lengths, or NULL.
        unsafe { mechanism(m) }
    }

    #[test]
    fn plain_mechanisms() {
        let table = [
            (CKM_AES_KEY_GEN, Mechanism::AesKeyGen),
            (CKM_EC_KEY_PAIR_GEN, Mechanism::EcKeyPairGen),
            (CKM_SHA384, Mechanism::Digest(HashAlg::Sha384)),
            (CKM_SHA256_RSA_PKCS, Mechanism::HashRsaPkcs(HashAlg::Sha256)),
            (CKM_ECDSA, Mechanism::Ecdsa),
            (CKM_ECDSA_SHA256, Mechanism::HashEcdsa(HashAlg::Sha256)),
            (
                CKM_SHA512_HMAC,
                Mechanism::Hmac {
                    hash: HashAlg::Sha512,
                    out_len: None,
                },
            ),
        ];
        for (ty, want) in table {
            assert_eq!(parse_ok(&bare(ty)), Ok(want));
        }
        assert_eq!(parse_ok(&bare(CKM_MD5)), Err(Error::MechanismInvalid));
        let mut junk = 0u8;
        assert_eq!(
            parse_ok(&mech(CKM_ECDSA, &mut junk)),
            Err(Error::MechanismParamInvalid)
        );
        assert_eq!(
            // SAFETY: NULL.
            unsafe { mechanism(std::ptr::null()) },
            Err(Error::ArgumentsBad)
        );
    }

    #[test]
    fn parameters() {
        let mut iv = [7u8; 16];
        assert_eq!(
            parse_ok(&mech(CKM_AES_CBC_PAD, &mut iv)),
            Ok(Mechanism::AesCbcPad([7; 16]))
        );
        let mut short = [0u8; 8];
        assert_eq!(
            parse_ok(&mech(CKM_AES_CBC, &mut short)),
            Err(Error::MechanismParamInvalid)
        );
        assert_eq!(
            parse_ok(&bare(CKM_AES_CBC)),
            Err(Error::MechanismParamInvalid)
        );

        let mut pss = CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            sLen: 32,
        };
        let want = PssParams {
            hash: HashAlg::Sha256,
            mgf: HashAlg::Sha256,
            salt_len: 32,
        };
        assert_eq!(
            parse_ok(&mech(CKM_SHA256_RSA_PKCS_PSS, &mut pss)),
            Ok(Mechanism::HashRsaPkcsPss(HashAlg::Sha256, want))
        );
        pss.mgf = 0x99;
        assert_eq!(
            parse_ok(&mech(CKM_RSA_PKCS_PSS, &mut pss)),
            Err(Error::MechanismParamInvalid)
        );

        let mut label = *b"lbl";
        let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: CKM_SHA_1,
            mgf: CKG_MGF1_SHA1,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: label.as_mut_ptr().cast(),
            ulSourceDataLen: 3,
        };
        assert_eq!(
            parse_ok(&mech(CKM_RSA_PKCS_OAEP, &mut oaep)),
            Ok(Mechanism::RsaPkcsOaep(OaepParams {
                hash: HashAlg::Sha1,
                mgf: HashAlg::Sha1,
                label: b"lbl".to_vec()
            }))
        );
        oaep.pSourceData = std::ptr::null_mut();
        assert_eq!(
            parse_ok(&mech(CKM_RSA_PKCS_OAEP, &mut oaep)),
            Err(Error::MechanismParamInvalid)
        );

        let mut nonce = [1u8; 12];
        let mut aad = [2u8; 5];
        let mut gcm = CK_GCM_PARAMS {
            pIv: nonce.as_mut_ptr(),
            ulIvLen: 12,
            ulIvBits: 0,
            pAAD: aad.as_mut_ptr(),
            ulAADLen: 5,
            ulTagBits: 128,
        };
        assert_eq!(
            parse_ok(&mech(CKM_AES_GCM, &mut gcm)),
            Ok(Mechanism::AesGcm(GcmParams {
                iv: vec![1; 12],
                aad: vec![2; 5],
                tag_bits: 128
            }))
        );
        gcm.pAAD = std::ptr::null_mut();
        assert_eq!(
            parse_ok(&mech(CKM_AES_GCM, &mut gcm)),
            Err(Error::MechanismParamInvalid)
        );
        gcm.ulAADLen = 0;
        assert!(parse_ok(&mech(CKM_AES_GCM, &mut gcm)).is_ok());

        let mut ctr = CK_AES_CTR_PARAMS {
            ulCounterBits: 32,
            cb: [3; 16],
        };
        assert_eq!(
            parse_ok(&mech(CKM_AES_CTR, &mut ctr)),
            Ok(Mechanism::AesCtr {
                counter_bits: 32,
                cb: [3; 16]
            })
        );

        assert_eq!(
            parse_ok(&bare(CKM_AES_KEY_WRAP)),
            Ok(Mechanism::AesKeyWrap { iv: None })
        );
        let mut kwp_iv = [0xa6u8, 0x59, 0x59, 0xa6];
        assert_eq!(
            parse_ok(&mech(CKM_AES_KEY_WRAP_KWP, &mut kwp_iv)),
            Ok(Mechanism::AesKeyWrapKwp {
                iv: Some(kwp_iv.to_vec())
            })
        );
        let mut point = [4u8; 65];
        let mut ecdh = CK_ECDH1_DERIVE_PARAMS {
            kdf: CKD_NULL,
            ulSharedDataLen: 0,
            pSharedData: std::ptr::null_mut(),
            ulPublicDataLen: 65,
            pPublicData: point.as_mut_ptr(),
        };
        assert_eq!(
            parse_ok(&mech(CKM_ECDH1_DERIVE, &mut ecdh)),
            Ok(Mechanism::Ecdh1Derive {
                kdf: CKD_NULL,
                shared_data: vec![],
                public_data: vec![4; 65]
            })
        );
        ecdh.pPublicData = std::ptr::null_mut();
        assert_eq!(
            parse_ok(&mech(CKM_ECDH1_DERIVE, &mut ecdh)),
            Err(Error::MechanismParamInvalid)
        );

        // Legacy families (not in the FIPS build).
        #[cfg(not(feature = "fips"))]
        {
            let mut iv8 = [5u8; 8];
            assert_eq!(
                parse_ok(&mech(CKM_DES3_CBC_PAD, &mut iv8)),
                Ok(Mechanism::Des3CbcPad([5; 8]))
            );
            assert_eq!(
                parse_ok(&mech(CKM_DES3_CBC, &mut iv)),
                Err(Error::MechanismParamInvalid)
            );
            assert_eq!(parse_ok(&bare(CKM_DES3_ECB)), Ok(Mechanism::Des3Ecb));
            let mut peer = [9u8; 256];
            assert_eq!(
                parse_ok(&mech(CKM_DH_PKCS_DERIVE, &mut peer)),
                Ok(Mechanism::DhPkcsDerive(vec![9; 256]))
            );
            assert_eq!(
                parse_ok(&bare(CKM_DH_PKCS_DERIVE)),
                Err(Error::MechanismParamInvalid)
            );
            assert_eq!(
                parse_ok(&bare(CKM_DSA_SHA384)),
                Ok(Mechanism::HashDsa(HashAlg::Sha384))
            );
            assert_eq!(parse_ok(&bare(CKM_DSA)), Ok(Mechanism::Dsa));
        }

        let mut out_len: CK_MAC_GENERAL_PARAMS = 16;
        assert_eq!(
            parse_ok(&mech(CKM_SHA256_HMAC_GENERAL, &mut out_len)),
            Ok(Mechanism::Hmac {
                hash: HashAlg::Sha256,
                out_len: Some(16)
            })
        );
    }

    #[test]
    fn aead_chacha_pq_parameters() {
        let mut nonce = [9u8; 13];
        let mut aad = [8u8; 3];
        let mut ccm = CK_CCM_PARAMS {
            ulDataLen: 20,
            pNonce: nonce.as_mut_ptr(),
            ulNonceLen: 13,
            pAAD: aad.as_mut_ptr(),
            ulAADLen: 3,
            ulMACLen: 8,
        };
        assert_eq!(
            parse_ok(&mech(CKM_AES_CCM, &mut ccm)),
            Ok(Mechanism::AesCcm(CcmParams {
                data_len: 20,
                nonce: vec![9; 13],
                aad: vec![8; 3],
                mac_len: 8
            }))
        );
        ccm.pNonce = std::ptr::null_mut();
        assert_eq!(
            parse_ok(&mech(CKM_AES_CCM, &mut ccm)),
            Err(Error::MechanismParamInvalid)
        );
        let mut counter = 7u32.to_le_bytes();
        let mut n12 = [1u8; 12];
        let mut cc = CK_CHACHA20_PARAMS {
            pBlockCounter: counter.as_mut_ptr(),
            blockCounterBits: 32,
            pNonce: n12.as_mut_ptr(),
            ulNonceBits: 96,
        };
        assert_eq!(
            parse_ok(&mech(CKM_CHACHA20, &mut cc)),
            Ok(Mechanism::ChaCha20 {
                nonce: vec![1; 12],
                counter: 7,
                counter_bits: 32
            })
        );
        cc.ulNonceBits = 80;
        assert_eq!(
            parse_ok(&mech(CKM_CHACHA20, &mut cc)),
            Err(Error::MechanismParamInvalid)
        );
        let mut poly = CK_SALSA20_CHACHA20_POLY1305_PARAMS {
            pNonce: n12.as_mut_ptr(),
            ulNonceLen: 12,
            pAAD: std::ptr::null_mut(),
            ulAADLen: 0,
        };
        assert_eq!(
            parse_ok(&mech(CKM_CHACHA20_POLY1305, &mut poly)),
            Ok(Mechanism::ChaCha20Poly1305 {
                nonce: vec![1; 12],
                aad: vec![]
            })
        );
        assert_eq!(parse_ok(&bare(CKM_ML_DSA)), Ok(Mechanism::MlDsa(None)));
        assert_eq!(parse_ok(&bare(CKM_ML_KEM)), Ok(Mechanism::MlKem));
        let mut ctx = CK_SIGN_ADDITIONAL_CONTEXT {
            hedgeVariant: CKH_HEDGE_REQUIRED,
            pContext: aad.as_mut_ptr(),
            ulContextLen: 3,
        };
        assert_eq!(
            parse_ok(&mech(CKM_ML_DSA, &mut ctx)),
            Ok(Mechanism::MlDsa(Some(SignContext {
                hedge: CKH_HEDGE_REQUIRED,
                context: vec![8; 3]
            })))
        );
        let mut junk = 0u8;
        assert_eq!(
            parse_ok(&mech(CKM_ML_KEM, &mut junk)),
            Err(Error::MechanismParamInvalid)
        );
    }

    /// Property: arbitrary mechanism numbers and parameter lengths never panic; every error
    /// is CKR_MECHANISM_INVALID or CKR_MECHANISM_PARAM_INVALID.
    #[test]
    fn arbitrary_mechanisms_never_panic() {
        let mut rng = crate::ffi::template::tests::Rng(0xdead_beef_cafe_f00d);
        let known = [
            CKM_AES_KEY_GEN,
            CKM_SHA256,
            CKM_RSA_PKCS_PSS,
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_RSA_PKCS_OAEP,
            CKM_AES_CBC,
            CKM_AES_CBC_PAD,
            CKM_AES_CTR,
            CKM_AES_GCM,
            CKM_SHA256_HMAC_GENERAL,
            CKM_AES_CMAC_GENERAL,
            CKM_AES_KEY_WRAP,
            CKM_AES_KEY_WRAP_KWP,
            CKM_ECDH1_DERIVE,
            CKM_ECDSA,
            CKM_DES3_CBC,
            CKM_DES3_CBC_PAD,
            CKM_DH_PKCS_DERIVE,
            CKM_DSA_SHA256,
            // Parameters without pointers (the fuzzer gives arbitrary bytes).
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            CKM_CONCATENATE_BASE_AND_KEY,
            CKM_EXTRACT_KEY_FROM_KEY,
            CKM_AES_MAC_GENERAL,
            CKM_SHA256_KEY_GEN,
            CKM_HKDF_KEY_GEN,
            crate::hsm::vendor::CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD,
            crate::hsm::vendor::CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD,
            CKM_AES_CCM,
            CKM_CHACHA20,
            CKM_CHACHA20_POLY1305,
            CKM_ML_DSA,
            CKM_ML_KEM,
        ];
        let mut data = rng.bytes(64);
        for _ in 0..5000 {
            let ty = if rng.below(10) == 0 {
                rng.next()
            } else {
                known[rng.below(known.len())]
            };
            // Structures with pointers get valid (or NULL) pointers and arbitrary lengths no
            // longer than the buffers; the rest get arbitrary bytes.
            let dp = if rng.below(4) == 0 {
                std::ptr::null_mut()
            } else {
                data.as_mut_ptr()
            };
            let dl = len_to_ck(rng.below(65));
            let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
                hashAlg: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                source: rng.next() % 3,
                pSourceData: dp.cast(),
                ulSourceDataLen: dl,
            };
            let mut gcm = CK_GCM_PARAMS {
                pIv: dp,
                ulIvLen: dl,
                ulIvBits: 0,
                pAAD: dp,
                ulAADLen: dl,
                ulTagBits: rng.next(),
            };
            let mut ecdh = CK_ECDH1_DERIVE_PARAMS {
                kdf: 1,
                ulSharedDataLen: dl,
                pSharedData: dp,
                ulPublicDataLen: dl,
                pPublicData: dp,
            };
            let mut ccm = CK_CCM_PARAMS {
                ulDataLen: rng.next(),
                pNonce: dp,
                ulNonceLen: dl,
                pAAD: dp,
                ulAADLen: dl,
                ulMACLen: rng.next() % 20,
            };
            let mut chacha = CK_CHACHA20_PARAMS {
                pBlockCounter: dp,
                blockCounterBits: [32, 64, 7][rng.below(3)],
                pNonce: dp,
                ulNonceBits: [64, 96, 128][rng.below(3)],
            };
            let mut poly = CK_SALSA20_CHACHA20_POLY1305_PARAMS {
                pNonce: dp,
                ulNonceLen: dl,
                pAAD: dp,
                ulAADLen: dl,
            };
            let mut sctx = CK_SIGN_ADDITIONAL_CONTEXT {
                hedgeVariant: rng.next() % 4,
                pContext: dp,
                ulContextLen: dl,
            };
            let mut raw = rng.bytes(64);
            let (p, max): (*mut c_void, usize) = match ty {
                CKM_AES_CCM => (
                    (&mut ccm as *mut CK_CCM_PARAMS).cast(),
                    size_of::<CK_CCM_PARAMS>(),
                ),
                CKM_CHACHA20 => (
                    (&mut chacha as *mut CK_CHACHA20_PARAMS).cast(),
                    size_of::<CK_CHACHA20_PARAMS>(),
                ),
                CKM_CHACHA20_POLY1305 => (
                    (&mut poly as *mut CK_SALSA20_CHACHA20_POLY1305_PARAMS).cast(),
                    size_of::<CK_SALSA20_CHACHA20_POLY1305_PARAMS>(),
                ),
                CKM_ML_DSA => (
                    (&mut sctx as *mut CK_SIGN_ADDITIONAL_CONTEXT).cast(),
                    size_of::<CK_SIGN_ADDITIONAL_CONTEXT>(),
                ),
                CKM_RSA_PKCS_OAEP => (
                    (&mut oaep as *mut CK_RSA_PKCS_OAEP_PARAMS).cast(),
                    size_of::<CK_RSA_PKCS_OAEP_PARAMS>(),
                ),
                CKM_AES_GCM => (
                    (&mut gcm as *mut CK_GCM_PARAMS).cast(),
                    size_of::<CK_GCM_PARAMS>(),
                ),
                CKM_ECDH1_DERIVE => (
                    (&mut ecdh as *mut CK_ECDH1_DERIVE_PARAMS).cast(),
                    size_of::<CK_ECDH1_DERIVE_PARAMS>(),
                ),
                _ => (raw.as_mut_ptr().cast(), raw.len()),
            };
            // Whole structures most of the time, so the inner checks run too.
            let len = if rng.below(2) == 0 {
                max
            } else {
                rng.below(max + 1)
            };
            let len = if matches!(
                ty,
                CKM_RSA_PKCS_OAEP
                    | CKM_AES_GCM
                    | CKM_ECDH1_DERIVE
                    | CKM_AES_CCM
                    | CKM_CHACHA20
                    | CKM_CHACHA20_POLY1305
                    | CKM_ML_DSA
            ) {
                len
            } else {
                rng.below(max + 1)
            };
            let p = if rng.below(8) == 0 {
                std::ptr::null_mut()
            } else {
                p
            };
            let m = CK_MECHANISM {
                mechanism: ty,
                pParameter: p,
                ulParameterLen: len_to_ck(len),
            };
            match parse_ok(&m) {
                Ok(_) => {}
                Err(e) => assert!(
                    matches!(e, Error::MechanismInvalid | Error::MechanismParamInvalid),
                    "{ty:#x}: {e:?}"
                ),
            }
        }
    }
}
