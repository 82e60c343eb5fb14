//! Cryptographic primitives on aws-lc-rs. Knows nothing of PKCS#11: no CK_* types here.
//!
//! Rules (DESIGN §6): RSA private operations blinded and constant time, no padding oracles,
//! parsed keys kept and reused by callers, secrets zeroized on drop.

use serde::{Deserialize, Serialize};

/// Hash algorithms of the SHA-1 and SHA-2 families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

#[allow(clippy::len_without_is_empty)]
impl HashAlg {
    /// Output length in bytes.
    pub fn len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }
}

pub mod aes;
pub mod ccm;
pub mod chacha;
pub mod der;
pub mod des3;
pub mod dh;
pub mod digest;
pub mod dsa;
pub mod ec;
pub mod ed25519;
pub mod hmac;
pub mod kbkdf;
pub mod kdf;
pub mod pad;
pub mod pq;
#[allow(unsafe_code)]
mod raw;
pub mod rng;
pub mod rsa;

/// Overwrite a buffer that held a secret (plaintext, key bytes) with zeros, in one fast pass
/// the compiler may not elide. Prefer it to `Zeroize` on large buffers: `zeroize` writes one
/// volatile byte at a time.
pub fn wipe(buf: &mut [u8]) {
    raw::cleanse(buf);
}

// `raw.rs` links aws-lc-sys directly; in a FIPS build those calls would run outside the
// validated module. Until raw.rs is switched to aws-lc-fips-sys, refuse to build a "fips"
// binary that is not one (docs/crypto.md).
#[cfg(feature = "fips")]
compile_error!("the `fips` feature is not ready: src/crypto/raw.rs still links aws-lc-sys (see docs/crypto.md)");
