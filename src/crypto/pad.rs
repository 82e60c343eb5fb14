//! PKCS#7 padding (PKCS#5 for 8-byte blocks), checked in constant time: one routine for every
//! block cipher mode and wrapping format that strips it (AES-CBC-PAD, DES3-CBC-PAD, CloudHSM's
//! AES key wrap with PKCS#5 padding).

use subtle::{Choice, ConstantTimeEq, ConstantTimeGreater, ConstantTimeLess};

use crate::error::{Error, Result};

/// The length of `data` without its PKCS#7 padding for `block`-byte blocks (1..=255). The last
/// block is examined whole, in constant time, whatever the padding byte says. Shorter than a
/// block: `EncryptedDataLenRange`; bad padding: `EncryptedDataInvalid` (one code whatever is
/// wrong with it).
pub fn unpadded_len(data: &[u8], block: usize) -> Result<usize> {
    let block_u8 = u8::try_from(block).map_err(|_| Error::GeneralError)?;
    let Some(last) = data.len().checked_sub(block).and_then(|s| data.get(s..)) else {
        return Err(Error::EncryptedDataLenRange);
    };
    let Some(&p) = last.last() else {
        return Err(Error::EncryptedDataLenRange);
    };
    let mut good: Choice = p.ct_gt(&0) & !p.ct_gt(&block_u8);
    for (i, &b) in last.iter().rev().enumerate() {
        // The i-th byte from the end is padding when i < p.
        let in_pad = (i as u8).ct_lt(&p);
        good &= !in_pad | b.ct_eq(&p);
    }
    if bool::from(good) {
        Ok(data.len() - usize::from(p))
    } else {
        Err(Error::EncryptedDataInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_refuses() {
        for block in [8usize, 16] {
            for p in 1..=block {
                let mut v = vec![0xAAu8; 2 * block - p];
                v.resize(2 * block, p as u8);
                assert_eq!(unpadded_len(&v, block), Ok(2 * block - p));
                // Any padding byte changed: refused.
                for i in 0..p {
                    let mut bad = v.clone();
                    bad[2 * block - 1 - i] ^= 1;
                    assert_eq!(unpadded_len(&bad, block), Err(Error::EncryptedDataInvalid));
                }
            }
            let mut zero = vec![0u8; block];
            assert_eq!(unpadded_len(&zero, block), Err(Error::EncryptedDataInvalid));
            zero[block - 1] = block as u8 + 1;
            assert_eq!(unpadded_len(&zero, block), Err(Error::EncryptedDataInvalid));
            assert_eq!(
                unpadded_len(&zero[1..], block),
                Err(Error::EncryptedDataLenRange)
            );
        }
    }
}
