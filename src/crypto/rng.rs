//! The random number generator (aws-lc's DRBG, seeded from the OS), with a small per-thread
//! pool in front of it.
//!
//! Each call into aws-lc's `RAND_bytes` costs about 0.9 µs here whatever its size (it mixes in
//! fresh RDRAND input and re-keys its CTR-DRBG per call), so small requests (C_GenerateRandom
//! of a few bytes, key and IV generation) are served from a per-thread pool of DRBG output
//! drawn [`POOL`] bytes at a time. The pool is secret state: every byte is wiped as it is
//! handed out, the rest when the thread exits, and it is discarded unused in a child process
//! after `fork()` (parent and child must never hand out the same bytes).

use std::cell::RefCell;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use super::raw;
use crate::error::{Error, Result};

/// Bytes drawn from the DRBG per refill of a thread's pool.
pub const POOL: usize = 4096;
/// Requests up to this size are served from the pool; larger ones go to the DRBG directly.
pub const SMALL: usize = 256;

/// One thread's buffered DRBG output; `buf[pos..]` is unused, `buf[..pos]` already wiped.
struct Pool {
    buf: Box<[u8; POOL]>,
    pos: usize,
    generation: u64,
}

impl Drop for Pool {
    fn drop(&mut self) {
        raw::cleanse(&mut self.buf[self.pos..]);
    }
}

impl Pool {
    fn serve(&mut self, out: &mut [u8]) -> Result<()> {
        if POOL - self.pos < out.len() {
            fill_direct(&mut self.buf[..])?;
            self.pos = 0;
        }
        let end = self.pos + out.len();
        let src = &mut self.buf[self.pos..end];
        out.copy_from_slice(src);
        raw::cleanse(src);
        self.pos = end;
        Ok(())
    }
}

thread_local! {
    static THREAD_POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

fn fill_direct(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| Error::FunctionFailed)
}

/// Fill `buf` with random bytes.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    if buf.len() > SMALL {
        return fill_direct(buf);
    }
    let generation = raw::fork_generation();
    let served = THREAD_POOL.try_with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return None;
        };
        if slot.as_ref().is_some_and(|p| p.generation != generation) {
            // Inherited through fork(): never hand out what the parent may also hand out.
            *slot = None;
        }
        let pool = slot.get_or_insert_with(|| Pool {
            buf: Box::new([0u8; POOL]),
            pos: POOL,
            generation,
        });
        Some(pool.serve(buf))
    });
    match served {
        Ok(Some(r)) => r,
        // The thread is exiting (its pool is gone) or re-entered: go to the DRBG.
        Ok(None) | Err(_) => fill_direct(buf),
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pool_hands_out_distinct_bytes_and_refills() {
        // Enough small draws to go through several refills; no two 16-byte draws repeat.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..(3 * POOL / 16) {
            let mut b = [0u8; 16];
            fill(&mut b).unwrap();
            assert!(seen.insert(b), "a random draw repeated");
        }
        // Sizes around the pool's thresholds.
        for n in [1, SMALL - 1, SMALL, SMALL + 1, POOL, POOL + 1] {
            let mut b = vec![0u8; n];
            fill(&mut b).unwrap();
            if n >= 16 {
                assert!(b.iter().any(|x| *x != 0));
            }
        }
        fill(&mut []).unwrap();
    }

    #[test]
    fn served_bytes_are_wiped_from_the_pool() {
        let mut b = [0u8; 32];
        fill(&mut b).unwrap();
        THREAD_POOL.with(|cell| {
            let p = cell.borrow();
            let p = p.as_ref().unwrap();
            assert!(p.pos >= 32);
            assert!(p.buf[..p.pos].iter().all(|x| *x == 0));
        });
    }

    #[test]
    fn a_new_fork_generation_discards_the_pool() {
        let mut b = [0u8; 8];
        fill(&mut b).unwrap();
        THREAD_POOL.with(|cell| {
            if let Some(p) = cell.borrow_mut().as_mut() {
                p.generation = p.generation.wrapping_add(1);
            }
        });
        fill(&mut b).unwrap();
        THREAD_POOL.with(|cell| {
            let p = cell.borrow();
            let p = p.as_ref().unwrap();
            assert_eq!(p.generation, raw::fork_generation());
            assert_eq!(p.pos, 8, "a fresh pool was drawn");
        });
    }
}
