//! SHA-1 and SHA-2 digests, single- and multi-part.

use aws_lc_rs::digest;

use super::HashAlg;

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
#[derive(Clone)]
pub struct Hasher {
    alg: HashAlg,
    ctx: digest::Context,
}

impl Hasher {
    pub fn new(alg: HashAlg) -> Self {
        Hasher {
            alg,
            ctx: digest::Context::new(algorithm(alg)),
        }
    }
    pub fn alg(&self) -> HashAlg {
        self.alg
    }
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }
    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish().as_ref().to_vec()
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
}
