//! The random number generator (aws-lc's DRBG, seeded from the OS).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};

/// Fill `buf` with random bytes.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| Error::FunctionFailed)
}

/// A random u128 (object ids).
pub fn u128() -> Result<u128> {
    let mut b = [0u8; 16];
    fill(&mut b)?;
    Ok(u128::from_le_bytes(b))
}

/// A random u64.
pub fn u64() -> Result<u64> {
    let mut b = [0u8; 8];
    fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}
