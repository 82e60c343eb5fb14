//! Post-quantum primitives on aws-lc-rs: ML-KEM (FIPS 203) and ML-DSA (FIPS 204).
//!
//! Keys cross this module as raw encodings: an ML-KEM encapsulation key / decapsulation key
//! (FIPS 203 §7), an ML-DSA public key / expanded private key (FIPS 204 §7.2) and its 32-byte
//! seed ξ. Private keys are parsed once by the caller and kept.

use aws_lc_rs::encoding::AsRawBytes;
use aws_lc_rs::kem;
use aws_lc_rs::signature::{self, KeyPair, PqdsaKeyPair, UnparsedPublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// ML-KEM parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlKem {
    K512,
    K768,
    K1024,
}

impl MlKem {
    fn alg(self) -> &'static kem::Algorithm {
        match self {
            MlKem::K512 => &kem::ML_KEM_512,
            MlKem::K768 => &kem::ML_KEM_768,
            MlKem::K1024 => &kem::ML_KEM_1024,
        }
    }
    /// Encapsulation (public) key length.
    pub fn public_len(self) -> usize {
        match self {
            MlKem::K512 => 800,
            MlKem::K768 => 1184,
            MlKem::K1024 => 1568,
        }
    }
    /// Decapsulation (private) key length.
    pub fn private_len(self) -> usize {
        match self {
            MlKem::K512 => 1632,
            MlKem::K768 => 2400,
            MlKem::K1024 => 3168,
        }
    }
    /// Ciphertext length.
    pub fn ciphertext_len(self) -> usize {
        match self {
            MlKem::K512 => 768,
            MlKem::K768 => 1088,
            MlKem::K1024 => 1568,
        }
    }
}

/// The shared secret's length (every parameter set).
pub const MLKEM_SECRET_LEN: usize = 32;

/// A new ML-KEM key pair: (decapsulation key, encapsulation key).
pub fn mlkem_generate(p: MlKem) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    let dk = kem::DecapsulationKey::generate(p.alg()).map_err(|_| Error::FunctionFailed)?;
    let ek = dk.encapsulation_key().map_err(|_| Error::GeneralError)?;
    let ek_bytes = ek.key_bytes().map_err(|_| Error::GeneralError)?;
    let dk_bytes = dk.key_bytes().map_err(|_| Error::GeneralError)?;
    Ok((
        Zeroizing::new(dk_bytes.as_ref().to_vec()),
        ek_bytes.as_ref().to_vec(),
    ))
}

/// A parsed ML-KEM decapsulation key.
pub struct MlKemPrivate {
    param: MlKem,
    key: kem::DecapsulationKey,
}

impl MlKemPrivate {
    /// A decapsulation key of `p`'s length, else `Err(KeySizeRange)`.
    pub fn new(p: MlKem, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != p.private_len() {
            return Err(Error::KeySizeRange);
        }
        let key = kem::DecapsulationKey::new(p.alg(), bytes).map_err(|_| Error::GeneralError)?;
        Ok(MlKemPrivate { param: p, key })
    }
    pub fn param(&self) -> MlKem {
        self.param
    }
    /// Decapsulate. A ciphertext of the wrong length: `EncryptedDataLenRange`. A tampered
    /// ciphertext yields an unrelated secret (implicit rejection, FIPS 203), never an error.
    pub fn decapsulate(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ct.len() != self.param.ciphertext_len() {
            return Err(Error::EncryptedDataLenRange);
        }
        let ss = self
            .key
            .decapsulate(ct.into())
            .map_err(|_| Error::GeneralError)?;
        Ok(Zeroizing::new(ss.as_ref().to_vec()))
    }
}

/// FIPS 203 §7.2's modulus check of an encapsulation key: every 12-bit coefficient of its
/// encoded vector (all but the last 32 bytes, ρ) is below q = 3329.
fn ek_modulus_ok(t: &[u8]) -> bool {
    const Q: u16 = 3329;
    t.chunks_exact(3).all(|b| {
        let (b0, b1, b2) = (u16::from(b[0]), u16::from(b[1]), u16::from(b[2]));
        let c0 = b0 | ((b1 & 0x0f) << 8);
        let c1 = (b1 >> 4) | (b2 << 4);
        c0 < Q && c1 < Q
    })
}

/// A parsed ML-KEM encapsulation key.
pub struct MlKemPublic {
    param: MlKem,
    key: kem::EncapsulationKey,
}

impl MlKemPublic {
    /// An encapsulation key of `p`'s length that passes FIPS 203's checks, else `Err`.
    pub fn new(p: MlKem, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != p.public_len() {
            return Err(Error::KeySizeRange);
        }
        if !ek_modulus_ok(&bytes[..bytes.len() - 32]) {
            return Err(Error::GeneralError);
        }
        let key = kem::EncapsulationKey::new(p.alg(), bytes).map_err(|_| Error::GeneralError)?;
        Ok(MlKemPublic { param: p, key })
    }
    pub fn param(&self) -> MlKem {
        self.param
    }
    /// Encapsulate: (ciphertext, shared secret).
    pub fn encapsulate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let (ct, ss) = self.key.encapsulate().map_err(|_| Error::FunctionFailed)?;
        Ok((ct.as_ref().to_vec(), Zeroizing::new(ss.as_ref().to_vec())))
    }
}

/// ML-DSA parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlDsa {
    D44,
    D65,
    D87,
}

impl MlDsa {
    fn signing(self) -> &'static signature::PqdsaSigningAlgorithm {
        match self {
            MlDsa::D44 => &signature::ML_DSA_44_SIGNING,
            MlDsa::D65 => &signature::ML_DSA_65_SIGNING,
            MlDsa::D87 => &signature::ML_DSA_87_SIGNING,
        }
    }
    fn verification(self) -> &'static signature::PqdsaVerificationAlgorithm {
        match self {
            MlDsa::D44 => &signature::ML_DSA_44,
            MlDsa::D65 => &signature::ML_DSA_65,
            MlDsa::D87 => &signature::ML_DSA_87,
        }
    }
    pub fn public_len(self) -> usize {
        match self {
            MlDsa::D44 => 1312,
            MlDsa::D65 => 1952,
            MlDsa::D87 => 2592,
        }
    }
    pub fn private_len(self) -> usize {
        match self {
            MlDsa::D44 => 2560,
            MlDsa::D65 => 4032,
            MlDsa::D87 => 4896,
        }
    }
    fn level(self) -> u32 {
        match self {
            MlDsa::D44 => 44,
            MlDsa::D65 => 65,
            MlDsa::D87 => 87,
        }
    }
    pub fn signature_len(self) -> usize {
        match self {
            MlDsa::D44 => 2420,
            MlDsa::D65 => 3309,
            MlDsa::D87 => 4627,
        }
    }
}

/// The ML-DSA key generation seed's length.
pub const MLDSA_SEED_LEN: usize = 32;

/// A new ML-DSA key pair from a fresh random seed: (seed, private key, public key).
#[allow(clippy::type_complexity)]
pub fn mldsa_generate(p: MlDsa) -> Result<(Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>, Vec<u8>)> {
    let mut seed = Zeroizing::new(vec![0u8; MLDSA_SEED_LEN]);
    super::rng::fill(&mut seed)?;
    let kp = PqdsaKeyPair::from_seed(p.signing(), &seed).map_err(|_| Error::GeneralError)?;
    let sk = kp
        .private_key()
        .as_raw_bytes()
        .map_err(|_| Error::GeneralError)?;
    let pk = kp.public_key().as_ref().to_vec();
    Ok((seed, Zeroizing::new(sk.as_ref().to_vec()), pk))
}

/// The longest context string (FIPS 204).
pub const MLDSA_MAX_CONTEXT: usize = 255;

/// A parsed ML-DSA private key.
pub struct MlDsaPrivate {
    param: MlDsa,
    key: PqdsaKeyPair,
}

impl MlDsaPrivate {
    /// From the expanded private key (FIPS 204 skEncode); wrong length or encoding: `Err`.
    pub fn new(p: MlDsa, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != p.private_len() {
            return Err(Error::KeySizeRange);
        }
        let key = PqdsaKeyPair::from_raw_private_key(p.signing(), bytes)
            .map_err(|_| Error::GeneralError)?;
        Ok(MlDsaPrivate { param: p, key })
    }
    /// From the 32-byte seed ξ.
    pub fn from_seed(p: MlDsa, seed: &[u8]) -> Result<Self> {
        let key = PqdsaKeyPair::from_seed(p.signing(), seed).map_err(|_| Error::GeneralError)?;
        Ok(MlDsaPrivate { param: p, key })
    }
    pub fn param(&self) -> MlDsa {
        self.param
    }
    /// The expanded private key.
    pub fn private_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let sk = self
            .key
            .private_key()
            .as_raw_bytes()
            .map_err(|_| Error::GeneralError)?;
        Ok(Zeroizing::new(sk.as_ref().to_vec()))
    }
    /// The public key.
    pub fn public_bytes(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }
    /// ML-DSA.Sign (hedged, empty context string).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let mut sig = vec![0u8; self.param.signature_len()];
        let n = self
            .key
            .sign(msg, &mut sig)
            .map_err(|_| Error::FunctionFailed)?;
        sig.truncate(n);
        Ok(sig)
    }
    /// ML-DSA.Sign with a context string (hedged); an empty one is [`Self::sign`].
    pub fn sign_with_context(&self, msg: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        if context.is_empty() {
            return self.sign(msg);
        }
        if context.len() > MLDSA_MAX_CONTEXT {
            return Err(Error::MechanismParamInvalid);
        }
        let sk = self.private_bytes()?;
        super::raw::mldsa_sign_ctx(self.param.level(), &sk, msg, context)
            .map_err(|_| Error::FunctionFailed)
    }
}

/// A parsed ML-DSA public key.
pub struct MlDsaPublic {
    param: MlDsa,
    key: Vec<u8>,
}

impl MlDsaPublic {
    /// A public key of `p`'s length, else `Err(KeySizeRange)`.
    pub fn new(p: MlDsa, bytes: &[u8]) -> Result<Self> {
        if bytes.len() != p.public_len() {
            return Err(Error::KeySizeRange);
        }
        Ok(MlDsaPublic {
            param: p,
            key: bytes.to_vec(),
        })
    }
    pub fn param(&self) -> MlDsa {
        self.param
    }
    /// ML-DSA.Verify (empty context string). Wrong length: `SignatureLenRange`; otherwise any
    /// failure: `SignatureInvalid`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        if sig.len() != self.param.signature_len() {
            return Err(Error::SignatureLenRange);
        }
        UnparsedPublicKey::new(self.param.verification(), &self.key)
            .verify(msg, sig)
            .map_err(|_| Error::SignatureInvalid)
    }
    /// ML-DSA.Verify with a context string; an empty one is [`Self::verify`].
    pub fn verify_with_context(&self, msg: &[u8], sig: &[u8], context: &[u8]) -> Result<()> {
        if context.is_empty() {
            return self.verify(msg, sig);
        }
        if context.len() > MLDSA_MAX_CONTEXT {
            return Err(Error::MechanismParamInvalid);
        }
        if sig.len() != self.param.signature_len() {
            return Err(Error::SignatureLenRange);
        }
        match super::raw::mldsa_verify_ctx(self.param.level(), &self.key, msg, sig, context) {
            Ok(true) => Ok(()),
            _ => Err(Error::SignatureInvalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlkem_round_trip() {
        for p in [MlKem::K512, MlKem::K768, MlKem::K1024] {
            let (dk, ek) = mlkem_generate(p).unwrap();
            assert_eq!((dk.len(), ek.len()), (p.private_len(), p.public_len()));
            let (ct, ss) = MlKemPublic::new(p, &ek).unwrap().encapsulate().unwrap();
            assert_eq!(ct.len(), p.ciphertext_len());
            let priv_key = MlKemPrivate::new(p, &dk).unwrap();
            assert_eq!(priv_key.decapsulate(&ct).unwrap(), ss);
            // A coefficient of q or more is refused.
            let mut unreduced = ek.clone();
            unreduced[0] = 0xff;
            unreduced[1] |= 0x0f;
            assert!(MlKemPublic::new(p, &unreduced).is_err());
            let mut bad = ct.clone();
            bad[3] ^= 1;
            assert_ne!(priv_key.decapsulate(&bad).unwrap(), ss);
            assert_eq!(
                priv_key.decapsulate(&ct[1..]).err(),
                Some(Error::EncryptedDataLenRange)
            );
        }
    }

    #[test]
    fn mldsa_round_trip() {
        for p in [MlDsa::D44, MlDsa::D65, MlDsa::D87] {
            let (seed, sk, pk) = mldsa_generate(p).unwrap();
            assert_eq!((sk.len(), pk.len()), (p.private_len(), p.public_len()));
            let k = MlDsaPrivate::new(p, &sk).unwrap();
            assert_eq!(k.public_bytes(), pk);
            assert_eq!(
                MlDsaPrivate::from_seed(p, &seed)
                    .unwrap()
                    .private_bytes()
                    .unwrap(),
                sk
            );
            let sig = k.sign(b"msg").unwrap();
            let v = MlDsaPublic::new(p, &pk).unwrap();
            v.verify(b"msg", &sig).unwrap();
            assert_eq!(v.verify(b"msh", &sig), Err(Error::SignatureInvalid));
            let sc = k.sign_with_context(b"msg", b"ctx").unwrap();
            v.verify_with_context(b"msg", &sc, b"ctx").unwrap();
            assert_eq!(v.verify(b"msg", &sc), Err(Error::SignatureInvalid));
            assert_eq!(
                v.verify_with_context(b"msg", &sig, b"ctx"),
                Err(Error::SignatureInvalid)
            );
        }
    }
}
