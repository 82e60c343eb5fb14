//! AES-CCM (RFC 3610, NIST SP 800-38C) over the AES block cipher: CBC-MAC for the tag, CTR
//! for the data. aws-lc offers CCM only through fixed-parameter AEADs (Bluetooth, Matter) and
//! an EVP cipher that cannot authenticate an empty message, so the mode is composed here from
//! aws-lc's constant-time AES block and CTR functions. The tag check is constant time
//! (`subtle`) and no plaintext is released unless it passes.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::aes::{AesKey, BLOCK};
use crate::error::{Error, Result};

/// CCM parameters: nonce (7..=13 bytes) and tag length (4, 6, ..., 16 bytes).
fn check(nonce: &[u8], tag_len: usize) -> Result<usize> {
    if !(7..=13).contains(&nonce.len())
        || !(4..=16).contains(&tag_len)
        || !tag_len.is_multiple_of(2)
    {
        return Err(Error::MechanismParamInvalid);
    }
    // L: the size of the length field, 15 - nonce length (2..=8 bytes).
    Ok(15 - nonce.len())
}

/// Whether a message of `len` bytes fits a length field of `l` bytes.
fn fits(len: usize, l: usize) -> bool {
    l >= 8 || (len as u128) < (1u128 << (8 * l))
}

/// The CBC-MAC of B0 || encoded AAD || message (each padded to a block), untruncated.
fn cbc_mac(key: &AesKey, nonce: &[u8], aad: &[u8], msg: &[u8], tag_len: usize) -> [u8; 16] {
    let l = 15 - nonce.len();
    let sched = key.schedule();
    let mut x = [0u8; BLOCK];
    // B0: flags || nonce || message length (big-endian, l bytes).
    let adata = if aad.is_empty() { 0 } else { 0x40 };
    x[0] = adata | ((((tag_len - 2) / 2) as u8) << 3) | ((l - 1) as u8);
    x[1..1 + nonce.len()].copy_from_slice(nonce);
    let len_be = (msg.len() as u64).to_be_bytes();
    x[16 - l..].copy_from_slice(&len_be[8 - l.min(8)..]);
    sched.encrypt_block(&mut x);
    let absorb = |data: &[u8], x: &mut [u8; 16]| {
        for chunk in data.chunks(BLOCK) {
            for (a, b) in x.iter_mut().zip(chunk) {
                *a ^= b;
            }
            sched.encrypt_block(x);
        }
    };
    if !aad.is_empty() {
        // The AAD's length encoding (RFC 3610 §2.2), then the AAD, zero-padded as one string.
        let mut head = Zeroizing::new(Vec::with_capacity(aad.len() + 10));
        let n = aad.len() as u64;
        if n < 0xff00 {
            head.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= u64::from(u32::MAX) {
            head.extend_from_slice(&[0xff, 0xfe]);
            head.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            head.extend_from_slice(&[0xff, 0xff]);
            head.extend_from_slice(&n.to_be_bytes());
        }
        head.extend_from_slice(aad);
        absorb(&head, &mut x);
    }
    absorb(msg, &mut x);
    x
}

/// The counter block A_i with i = `ctr`.
fn counter_block(nonce: &[u8], ctr: u8) -> [u8; 16] {
    let l = 15 - nonce.len();
    let mut a = [0u8; BLOCK];
    a[0] = (l - 1) as u8;
    a[1..1 + nonce.len()].copy_from_slice(nonce);
    a[15] = ctr;
    a
}

/// CTR over `data` from A_1, in place.
fn ctr_apply(key: &AesKey, nonce: &[u8], data: &mut [u8]) {
    let mut counter = counter_block(nonce, 1);
    let mut ks = Zeroizing::new([0u8; BLOCK]);
    let mut used = 0;
    key.schedule().ctr(data, &mut counter, &mut ks, &mut used);
}

/// The tag: the CBC-MAC truncated and masked with E(A_0).
fn tag(key: &AesKey, nonce: &[u8], aad: &[u8], msg: &[u8], tag_len: usize) -> Zeroizing<[u8; 16]> {
    let mut t = Zeroizing::new(cbc_mac(key, nonce, aad, msg, tag_len));
    let mut s0 = Zeroizing::new(counter_block(nonce, 0));
    key.schedule().encrypt_block(&mut s0);
    for (a, b) in t.iter_mut().zip(s0.iter()) {
        *a ^= b;
    }
    t
}

/// CCM encryption: ciphertext || tag (`tag_len` bytes). Bad nonce or tag length:
/// `MechanismParamInvalid`; a message too long for the nonce's length field: `DataLenRange`.
pub fn seal(key: &AesKey, nonce: &[u8], aad: &[u8], pt: &[u8], tag_len: usize) -> Result<Vec<u8>> {
    let l = check(nonce, tag_len)?;
    if !fits(pt.len(), l) {
        return Err(Error::DataLenRange);
    }
    let t = tag(key, nonce, aad, pt, tag_len);
    let mut out = Vec::with_capacity(pt.len() + tag_len);
    out.extend_from_slice(pt);
    ctr_apply(key, nonce, &mut out);
    out.extend_from_slice(&t[..tag_len]);
    Ok(out)
}

/// CCM decryption of ciphertext || tag. Shorter than the tag: `EncryptedDataLenRange`; any
/// authentication failure: `EncryptedDataInvalid` (no plaintext released).
pub fn open(
    key: &AesKey,
    nonce: &[u8],
    aad: &[u8],
    ct_tag: &[u8],
    tag_len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let l = check(nonce, tag_len)?;
    if ct_tag.len() < tag_len {
        return Err(Error::EncryptedDataLenRange);
    }
    let (ct, given) = ct_tag.split_at(ct_tag.len() - tag_len);
    if !fits(ct.len(), l) {
        return Err(Error::EncryptedDataLenRange);
    }
    let mut pt = Zeroizing::new(ct.to_vec());
    ctr_apply(key, nonce, &mut pt);
    let t = tag(key, nonce, aad, &pt, tag_len);
    if bool::from(t[..tag_len].ct_eq(given)) {
        Ok(pt)
    } else {
        Err(Error::EncryptedDataInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    /// RFC 3610 packet vector #1 and NIST SP 800-38C example 1.
    #[test]
    fn known_answers() {
        let key = AesKey::new(&unhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF")).unwrap();
        let nonce = unhex("00000003020100A0A1A2A3A4A5");
        let packet = unhex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E");
        let (aad, pt) = packet.split_at(8);
        let ct = seal(&key, &nonce, aad, pt, 8).unwrap();
        assert_eq!(
            hex::encode_upper(&ct),
            "588C979A61C663D2F066D0C2C0F989806D5F6B61DAC38417E8D12CFDF926E0"
        );
        assert_eq!(&open(&key, &nonce, aad, &ct, 8).unwrap()[..], pt);

        let key = AesKey::new(&unhex("404142434445464748494a4b4c4d4e4f")).unwrap();
        let ct = seal(
            &key,
            &unhex("10111213141516"),
            &unhex("0001020304050607"),
            &unhex("20212223"),
            4,
        )
        .unwrap();
        assert_eq!(hex::encode(&ct), "7162015b4dac255d");
    }

    #[test]
    fn rejects() {
        let key = AesKey::new(&[1; 16]).unwrap();
        let mut ct = seal(&key, &[2; 12], b"aad", b"", 16).unwrap();
        assert_eq!(ct.len(), 16);
        assert!(open(&key, &[2; 12], b"aad", &ct, 16).unwrap().is_empty());
        ct[0] ^= 1;
        assert_eq!(
            open(&key, &[2; 12], b"aad", &ct, 16).err(),
            Some(Error::EncryptedDataInvalid)
        );
        for (nonce, tag) in [(6usize, 16usize), (14, 16), (12, 5), (12, 2), (12, 18)] {
            assert_eq!(
                seal(&key, &vec![0; nonce], b"", b"x", tag).err(),
                Some(Error::MechanismParamInvalid)
            );
        }
        // 13-byte nonce: a 2-byte length field, messages below 64 KiB.
        assert_eq!(
            seal(&key, &[0; 13], b"", &vec![0; 1 << 16], 16).err(),
            Some(Error::DataLenRange)
        );
    }
}
