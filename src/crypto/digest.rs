//! SHA-1 and SHA-2 digests, single- and multi-part.

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::raw::{ShaCtx, ShaParts};
use super::HashAlg;
use crate::error::Result;

fn algorithm(alg: HashAlg) -> &'static digest::Algorithm {
    match alg {
        HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlg::Sha224 => &digest::SHA224,
        HashAlg::Sha256 => &digest::SHA256,
        HashAlg::Sha384 => &digest::SHA384,
        HashAlg::Sha512 => &digest::SHA512,
    }
}

/// A multi-part digest. `Clone` forks the state (C_DigestFinal with a size query needs it).
/// Its state can be exported and continued elsewhere ([`HashState`]), which is how C_DigestKey
/// moves a digest begun above the seam into the core, where the key's value is.
#[derive(Clone)]
pub struct Hasher {
    alg: HashAlg,
    ctx: ShaCtx,
}

/// The state of a [`Hasher`]: chaining words, total length in bits and the partial block.
/// It holds (a function of) everything absorbed so far, so only a state of public data may
/// leave the core.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashState {
    pub alg: HashAlg,
    pub words: Vec<u64>,
    pub bits: u128,
    pub tail: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for HashState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashState({:?}, bits={})", self.alg, self.bits)
    }
}

impl Hasher {
    pub fn new(alg: HashAlg) -> Self {
        Hasher {
            alg,
            ctx: ShaCtx::new(alg),
        }
    }
    pub fn alg(&self) -> HashAlg {
        self.alg
    }
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }
    pub fn finish(self) -> Vec<u8> {
        let len = self.alg.len();
        self.ctx.finish(len)
    }
    /// The state so far.
    pub fn export(&self) -> HashState {
        let p = self.ctx.export();
        HashState {
            alg: self.alg,
            words: p.words,
            bits: p.bits,
            tail: p.tail,
        }
    }
    /// Continue from an exported state; an inconsistent one: `ArgumentsBad`.
    pub fn import(state: &HashState) -> Result<Self> {
        let parts = ShaParts {
            words: state.words.clone(),
            bits: state.bits,
            tail: state.tail.clone(),
        };
        Ok(Hasher {
            alg: state.alg,
            ctx: ShaCtx::import(state.alg, &parts)?,
        })
    }
}

/// One-shot digest.
pub fn digest(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    digest::digest(algorithm(alg), data).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answer() {
        // FIPS 180-2 example: "abc".
        let d = digest(HashAlg::Sha256, b"abc");
        assert_eq!(
            hex::encode(d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = Hasher::new(HashAlg::Sha256);
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), digest(HashAlg::Sha256, b"abc"));
    }

    /// Export at any point, import, continue: the same digest as one pass, for every
    /// algorithm and across block boundaries.
    #[test]
    fn export_import_continues() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for alg in [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let want = digest(alg, &data);
            for cut in [0, 1, 63, 64, 65, 127, 128, 129, 300] {
                let mut h = Hasher::new(alg);
                h.update(&data[..cut]);
                let state = h.export();
                let mut g = Hasher::import(&state).unwrap();
                g.update(&data[cut..]);
                assert_eq!(g.finish(), want, "{alg:?} cut {cut}");
            }
            let mut bad = Hasher::new(alg).export();
            bad.bits = 8;
            assert!(Hasher::import(&bad).is_err());
        }
    }
}
