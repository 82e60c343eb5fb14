//! The raw column: the same operation done directly with aws-lc-rs in-process, keys parsed
//! once, outputs allocated per call as a PKCS#11 client's are. It is the limit of a module that
//! does its crypto with aws-lc-rs.

use std::collections::HashMap;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::agreement;
use aws_lc_rs::cipher::{EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey, AES_256};
use aws_lc_rs::digest::{self, Digest, SHA256, SHA384};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{self, SystemRandom};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    OAEP_SHA1_MGF1SHA1,
};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, ParsedPublicKey, RsaKeyPair, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};

use crate::cases::{self, Case, Kind};
use crate::measure::{measure, measure_threads, Histogram, Limits, Sample};
use crate::{Failure, Side};

fn fail<E: std::fmt::Debug>(e: E) -> Failure {
    Failure::Error(format!("aws-lc-rs: {e:?}"))
}

#[derive(Default)]
pub(crate) struct RawSide {
    rsa: HashMap<u32, RsaKeyPair>,
    rsa_sig: Option<(ParsedPublicKey, Vec<u8>)>,
    oaep: Option<(OaepPrivateDecryptingKey, Vec<u8>)>,
    ecdsa: HashMap<bool, EcdsaKeyPair>,
    ecdsa_sig: Option<(ParsedPublicKey, Vec<u8>)>,
    ecdh: Option<(agreement::PrivateKey, Vec<u8>)>,
    iv_counter: u64,
}

impl RawSide {
    fn rsa(&self, bits: u32) -> Result<&RsaKeyPair, Failure> {
        self.rsa
            .get(&bits)
            .ok_or_else(|| Failure::Error("RSA key not prepared".into()))
    }

    fn ecdsa(&self, p384: bool) -> Result<&EcdsaKeyPair, Failure> {
        self.ecdsa
            .get(&p384)
            .ok_or_else(|| Failure::Error("EC key not prepared".into()))
    }

    fn ensure_rsa(&mut self, bits: u32) -> Result<&RsaKeyPair, Failure> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.rsa.entry(bits) {
            let size = if bits == 3072 {
                KeySize::Rsa3072
            } else {
                KeySize::Rsa2048
            };
            slot.insert(RsaKeyPair::generate(size).map_err(fail)?);
        }
        self.rsa(bits)
    }

    fn ensure_ecdsa(&mut self, p384: bool) -> Result<&EcdsaKeyPair, Failure> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.ecdsa.entry(p384) {
            let alg = if p384 {
                &ECDSA_P384_SHA384_FIXED_SIGNING
            } else {
                &ECDSA_P256_SHA256_FIXED_SIGNING
            };
            slot.insert(EcdsaKeyPair::generate(alg).map_err(fail)?);
        }
        self.ecdsa(p384)
    }
}

/// The "digest" the ECDSA cases sign, as aws-lc-rs wants it.
fn digest_of(p384: bool) -> Result<Digest, Failure> {
    if p384 {
        Digest::import_less_safe(&cases::MESSAGE[..48], &SHA384).map_err(fail)
    } else {
        Digest::import_less_safe(&cases::MESSAGE[..32], &SHA256).map_err(fail)
    }
}

fn rsa_sign(key: &RsaKeyPair, pss: bool, rng: &SystemRandom) -> Result<(), Failure> {
    let mut sig = vec![0u8; key.public_modulus_len()];
    let enc = if pss {
        &RSA_PSS_SHA256
    } else {
        &RSA_PKCS1_SHA256
    };
    key.sign(enc, rng, &cases::MESSAGE, &mut sig).map_err(fail)
}

impl Side for RawSide {
    fn prepare(&mut self, case: &Case) -> Result<(), Failure> {
        match case.kind {
            Kind::RsaSign { bits, .. } => {
                self.ensure_rsa(bits)?;
            }
            Kind::RsaVerify => {
                let key = self.ensure_rsa(2048)?;
                let mut sig = vec![0u8; key.public_modulus_len()];
                key.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    &cases::MESSAGE,
                    &mut sig,
                )
                .map_err(fail)?;
                let public =
                    ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key().as_ref())
                        .map_err(fail)?;
                self.rsa_sig = Some((public, sig));
            }
            Kind::RsaOaepDecrypt => {
                let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).map_err(fail)?;
                let public = OaepPublicEncryptingKey::new(key.public_key()).map_err(fail)?;
                let mut ct = vec![0u8; public.ciphertext_size()];
                let len = public
                    .encrypt(&OAEP_SHA1_MGF1SHA1, &cases::MESSAGE[..32], &mut ct, None)
                    .map_err(fail)?
                    .len();
                ct.truncate(len);
                self.oaep = Some((OaepPrivateDecryptingKey::new(key).map_err(fail)?, ct));
            }
            Kind::EcdsaSign { p384 } => {
                self.ensure_ecdsa(p384)?;
            }
            Kind::EcdsaVerify => {
                let key = self.ensure_ecdsa(false)?;
                let sig = key
                    .sign_digest(&digest_of(false)?)
                    .map_err(fail)?
                    .as_ref()
                    .to_vec();
                let public =
                    ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref())
                        .map_err(fail)?;
                self.ecdsa_sig = Some((public, sig));
            }
            Kind::EcdhDerive => {
                let mine = agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(fail)?;
                let peer = agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(fail)?;
                let point = peer.compute_public_key().map_err(fail)?.as_ref().to_vec();
                self.ecdh = Some((mine, point));
            }
            _ => {}
        }
        Ok(())
    }

    fn run(
        &mut self,
        case: &Case,
        limits: Limits,
        hist: &mut Histogram,
    ) -> Result<Sample, Failure> {
        let rng = SystemRandom::new();
        if case.threads > 1 {
            return match case.kind {
                Kind::RsaSign { bits, pss } => {
                    let key = self.rsa(bits)?;
                    measure_threads(case.threads, limits, hist, || {
                        Ok(|| rsa_sign(key, pss, &rng))
                    })
                }
                Kind::EcdsaSign { p384 } => {
                    let key = self.ecdsa(p384)?;
                    measure_threads(case.threads, limits, hist, || {
                        let d = digest_of(p384)?;
                        Ok(move || key.sign_digest(&d).map(drop).map_err(fail))
                    })
                }
                _ => Err(Failure::Error(format!(
                    "{} has no threaded form",
                    case.name
                ))),
            };
        }
        match case.kind {
            Kind::RsaSign { bits, pss } => {
                let key = self.rsa(bits)?;
                measure(limits, hist, || rsa_sign(key, pss, &rng))
            }
            Kind::RsaVerify => {
                let (public, sig) = self
                    .rsa_sig
                    .as_ref()
                    .ok_or_else(|| Failure::Error("not prepared".into()))?;
                measure(limits, hist, || {
                    public.verify_sig(&cases::MESSAGE, sig).map_err(fail)
                })
            }
            Kind::RsaOaepDecrypt => {
                let (key, ct) = self
                    .oaep
                    .as_ref()
                    .ok_or_else(|| Failure::Error("not prepared".into()))?;
                measure(limits, hist, || {
                    let mut out = vec![0u8; key.min_output_size()];
                    key.decrypt(&OAEP_SHA1_MGF1SHA1, ct, &mut out, None)
                        .map(drop)
                        .map_err(fail)
                })
            }
            Kind::EcdsaSign { p384 } => {
                let key = self.ecdsa(p384)?;
                let d = digest_of(p384)?;
                measure(limits, hist, || key.sign_digest(&d).map(drop).map_err(fail))
            }
            Kind::EcdsaVerify => {
                let (public, sig) = self
                    .ecdsa_sig
                    .as_ref()
                    .ok_or_else(|| Failure::Error("not prepared".into()))?;
                let d = digest_of(false)?;
                measure(limits, hist, || {
                    public.verify_digest_sig(&d, sig).map_err(fail)
                })
            }
            Kind::EcdhDerive => {
                let (mine, peer) = self
                    .ecdh
                    .as_ref()
                    .ok_or_else(|| Failure::Error("not prepared".into()))?;
                measure(limits, hist, || {
                    // The peer point is parsed every time: C_DeriveKey receives it every time.
                    let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer);
                    agreement::agree(mine, peer, fail("agree"), |secret| Ok(secret.to_vec()))
                        .map(drop)
                })
            }
            Kind::AesGcm { len } => {
                let key = LessSafeKey::new(
                    UnboundKey::new(&AES_256_GCM, &cases::payload(32)).map_err(fail)?,
                );
                let data = cases::payload(len);
                let counter = &mut self.iv_counter;
                measure(limits, hist, || {
                    *counter += 1;
                    let mut iv = [0u8; 12];
                    iv[4..].copy_from_slice(&counter.to_be_bytes());
                    let mut out = Vec::with_capacity(len + 16);
                    out.extend_from_slice(&data);
                    key.seal_in_place_append_tag(
                        Nonce::assume_unique_for_key(iv),
                        Aad::empty(),
                        &mut out,
                    )
                    .map_err(fail)
                })
            }
            Kind::AesCbcPad { len } => {
                let unbound = UnboundCipherKey::new(&AES_256, &cases::payload(32)).map_err(fail)?;
                let key = PaddedBlockEncryptingKey::cbc_pkcs7(unbound).map_err(fail)?;
                let data = cases::payload(len);
                let iv = [7u8; 16];
                measure(limits, hist, || {
                    let mut out = Vec::with_capacity(len + 16);
                    out.extend_from_slice(&data);
                    key.less_safe_encrypt(&mut out, EncryptionContext::Iv128(iv.into()))
                        .map(drop)
                        .map_err(fail)
                })
            }
            Kind::Sha256 { len } => {
                let data = cases::payload(len);
                measure(limits, hist, || {
                    std::hint::black_box(digest::digest(&SHA256, &data));
                    Ok(())
                })
            }
            Kind::Hmac { len } => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, &cases::payload(32));
                let data = cases::payload(len);
                measure(limits, hist, || {
                    std::hint::black_box(hmac::sign(&key, &data));
                    Ok(())
                })
            }
            Kind::AesKeygen => measure(limits, hist, || {
                // Draw the key and expand it, as a module must before first use.
                let mut value = [0u8; 32];
                rand::fill(&mut value).map_err(fail)?;
                UnboundKey::new(&AES_256_GCM, &value)
                    .map(LessSafeKey::new)
                    .map(drop)
                    .map_err(fail)
            }),
            Kind::RsaKeygen => measure(limits, hist, || {
                RsaKeyPair::generate(KeySize::Rsa2048)
                    .map(drop)
                    .map_err(fail)
            }),
            Kind::Random { len } => {
                let mut buf = vec![0u8; len];
                measure(limits, hist, || rand::fill(&mut buf).map_err(fail))
            }
            Kind::SessionOpenClose | Kind::CreateObject | Kind::FindByLabel => {
                Err(Failure::NotSupported("no raw equivalent".into()))
            }
        }
    }

    fn describe(&self) -> String {
        "aws-lc-rs in-process".into()
    }
}
