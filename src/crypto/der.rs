//! A small DER reader and writer: just what key import/export needs (SubjectPublicKeyInfo,
//! PKCS#8 PrivateKeyInfo, RSAPublicKey/RSAPrivateKey of RFC 8017, ECPrivateKey of RFC 5915,
//! OIDs, OCTET/BIT STRINGs).
//!
//! The reader is strict DER: definite minimal lengths, single-byte tags, minimal positive
//! INTEGERs. It never panics and never allocates; every malformed input is
//! `Error::AttributeValueInvalid` (callers that need another code map it).
//!
//! The writer builds each element with its exact size known up front, so secret content is
//! never left behind in a reallocated buffer; secret-bearing output is `Zeroizing`.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub const TAG_INTEGER: u8 = 0x02;
pub const TAG_BIT_STRING: u8 = 0x03;
pub const TAG_OCTET_STRING: u8 = 0x04;
pub const TAG_NULL: u8 = 0x05;
pub const TAG_OID: u8 = 0x06;
pub const TAG_PRINTABLE_STRING: u8 = 0x13;
pub const TAG_SEQUENCE: u8 = 0x30;
/// `[0]` constructed, context-specific (ECPrivateKey parameters).
pub const TAG_CONTEXT_0: u8 = 0xa0;
/// `[1]` constructed, context-specific (ECPrivateKey publicKey).
pub const TAG_CONTEXT_1: u8 = 0xa1;

/// Object identifiers we know, as DER content bytes (no tag or length).
pub mod oid {
    /// rsaEncryption, 1.2.840.113549.1.1.1
    pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// id-ecPublicKey, 1.2.840.10045.2.1
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// prime256v1 / secp256r1, 1.2.840.10045.3.1.7
    pub const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// secp384r1, 1.3.132.0.34
    pub const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    /// secp521r1, 1.3.132.0.35
    pub const SECP521R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    /// secp256k1, 1.3.132.0.10
    pub const SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];
}

fn malformed<T>() -> Result<T> {
    Err(Error::AttributeValueInvalid)
}

/// A cursor over DER input.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Reads one element: (tag, content).
    pub fn read_any(&mut self) -> Result<(u8, &'a [u8])> {
        let (&tag, rest) = match self.data.split_first() {
            Some(x) => x,
            None => return malformed(),
        };
        // High-tag-number form (low five bits all set) is never used by our structures.
        if tag & 0x1f == 0x1f {
            return malformed();
        }
        let (&first, mut rest) = match rest.split_first() {
            Some(x) => x,
            None => return malformed(),
        };
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is the (BER-only) indefinite form; more than 4 length bytes is absurd here.
            if n == 0 || n > 4 || rest.len() < n {
                return malformed();
            }
            let (len_bytes, after) = rest.split_at(n);
            rest = after;
            if len_bytes[0] == 0 {
                return malformed(); // not minimal
            }
            let mut len = 0usize;
            for &b in len_bytes {
                len = (len << 8) | usize::from(b);
            }
            if len < 0x80 {
                return malformed(); // long form where the short one fits
            }
            len
        };
        if rest.len() < len {
            return malformed();
        }
        let (content, after) = rest.split_at(len);
        self.data = after;
        Ok((tag, content))
    }

    /// Reads one element that must carry `tag`; returns its content.
    pub fn read(&mut self, tag: u8) -> Result<&'a [u8]> {
        match self.read_any()? {
            (t, content) if t == tag => Ok(content),
            _ => malformed(),
        }
    }

    /// Reads an element with `tag` if it is next.
    pub fn read_optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>> {
        if self.peek_tag() == Some(tag) {
            self.read(tag).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a SEQUENCE and returns a reader over its content.
    pub fn sequence(&mut self) -> Result<Reader<'a>> {
        self.read(TAG_SEQUENCE).map(Reader::new)
    }

    /// Reads a non-negative INTEGER; returns its magnitude big-endian without leading zeros
    /// (empty for zero).
    pub fn uint(&mut self) -> Result<&'a [u8]> {
        let c = self.read(TAG_INTEGER)?;
        match c {
            [] => malformed(),
            [b, ..] if b & 0x80 != 0 => malformed(), // negative
            [0] => Ok(&c[1..]),
            [0, b, ..] if b & 0x80 == 0 => malformed(), // not minimal
            [0, ..] => Ok(&c[1..]),
            _ => Ok(c),
        }
    }

    /// Reads a small non-negative INTEGER (versions).
    pub fn small_uint(&mut self) -> Result<u64> {
        let m = self.uint()?;
        if m.len() > 8 {
            return malformed();
        }
        Ok(m.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Reads an OBJECT IDENTIFIER; returns its content bytes.
    pub fn oid(&mut self) -> Result<&'a [u8]> {
        let c = self.read(TAG_OID)?;
        if c.is_empty() {
            return malformed();
        }
        Ok(c)
    }

    /// Reads a NULL.
    pub fn null(&mut self) -> Result<()> {
        if self.read(TAG_NULL)?.is_empty() {
            Ok(())
        } else {
            malformed()
        }
    }

    /// Reads an OCTET STRING.
    pub fn octet_string(&mut self) -> Result<&'a [u8]> {
        self.read(TAG_OCTET_STRING)
    }

    /// Reads a BIT STRING with no unused bits; returns the bytes after the count octet.
    pub fn bit_string(&mut self) -> Result<&'a [u8]> {
        match self.read(TAG_BIT_STRING)? {
            [0, rest @ ..] => Ok(rest),
            _ => malformed(),
        }
    }

    /// Requires that nothing is left.
    pub fn finish(self) -> Result<()> {
        if self.data.is_empty() {
            Ok(())
        } else {
            malformed()
        }
    }
}

/// Parses `input` as exactly one element with `tag` (no trailing bytes); returns its content.
pub fn parse_single(input: &[u8], tag: u8) -> Result<&[u8]> {
    let mut r = Reader::new(input);
    let c = r.read(tag)?;
    r.finish()?;
    Ok(c)
}

// ---------------------------------------------------------------------------------------------
// Writer

/// Size of a complete element with `content_len` bytes of content.
pub fn encoded_len(content_len: usize) -> usize {
    1 + len_of_len(content_len) + content_len
}

fn len_of_len(len: usize) -> usize {
    match len {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xff_ffff => 4,
        _ => 5,
    }
}

fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    let n = len_of_len(len);
    if n == 1 {
        out.push(len as u8);
    } else {
        out.push(0x80 | (n - 1) as u8);
        for i in (0..n - 1).rev() {
            out.push((len >> (8 * i)) as u8);
        }
    }
}

/// One element whose content is the concatenation of `parts`, in a buffer of exact size.
pub fn tlv(tag: u8, parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let content_len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(encoded_len(content_len));
    push_header(&mut out, tag, content_len);
    for p in parts {
        out.extend_from_slice(p);
    }
    Zeroizing::new(out)
}

/// A SEQUENCE of already-encoded elements.
pub fn sequence(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    tlv(TAG_SEQUENCE, parts)
}

/// A non-negative INTEGER from big-endian magnitude bytes (leading zeros allowed on input).
pub fn uint(magnitude: &[u8]) -> Zeroizing<Vec<u8>> {
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let m = &magnitude[start..];
    match m.first() {
        None => tlv(TAG_INTEGER, &[&[0]]),
        Some(b) if b & 0x80 != 0 => tlv(TAG_INTEGER, &[&[0], m]),
        Some(_) => tlv(TAG_INTEGER, &[m]),
    }
}

/// A small INTEGER (versions).
pub fn small_uint(v: u64) -> Zeroizing<Vec<u8>> {
    uint(&v.to_be_bytes())
}

pub fn oid(content: &[u8]) -> Zeroizing<Vec<u8>> {
    tlv(TAG_OID, &[content])
}

pub fn null() -> Zeroizing<Vec<u8>> {
    tlv(TAG_NULL, &[])
}

pub fn octet_string(content: &[u8]) -> Zeroizing<Vec<u8>> {
    tlv(TAG_OCTET_STRING, &[content])
}

/// A BIT STRING with no unused bits.
pub fn bit_string(content: &[u8]) -> Zeroizing<Vec<u8>> {
    tlv(TAG_BIT_STRING, &[&[0], content])
}

/// Strips leading zero bytes (integers as PKCS#11 attributes carry them).
pub fn trim_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip() {
        for m in [
            &[][..],
            &[1],
            &[0x7f],
            &[0x80],
            &[0, 0, 0x80, 1],
            &[0xff; 300],
        ] {
            let enc = uint(m);
            let mut r = Reader::new(&enc);
            assert_eq!(r.uint().unwrap(), trim_leading_zeros(m));
            r.finish().unwrap();
        }
        assert_eq!(&uint(&[0x80])[..], &[2, 2, 0, 0x80]);
        assert_eq!(&uint(&[])[..], &[2, 1, 0]);
        assert_eq!(&small_uint(0)[..], &[2, 1, 0]);
        assert_eq!(&small_uint(65537)[..], &[2, 3, 1, 0, 1]);
    }

    #[test]
    fn rejects_non_der_integers() {
        assert!(Reader::new(&[2, 0]).uint().is_err()); // empty
        assert!(Reader::new(&[2, 1, 0x80]).uint().is_err()); // negative
        assert!(Reader::new(&[2, 2, 0, 1]).uint().is_err()); // non-minimal
        assert!(Reader::new(&[2, 2, 0xff, 0x80]).uint().is_err());
    }

    #[test]
    fn lengths() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 65536, 70000] {
            let content = vec![7u8; len];
            let enc = octet_string(&content);
            assert_eq!(enc.len(), encoded_len(len));
            assert_eq!(enc.capacity(), enc.len());
            assert_eq!(parse_single(&enc, TAG_OCTET_STRING).unwrap(), &content[..]);
        }
        // Long form for a short length, leading zero length byte, indefinite, truncated.
        assert!(parse_single(&[4, 0x81, 5, 1, 2, 3, 4, 5], TAG_OCTET_STRING).is_err());
        assert!(parse_single(&[4, 0x82, 0, 0x80], TAG_OCTET_STRING).is_err());
        assert!(parse_single(&[4, 0x80, 0, 0], TAG_OCTET_STRING).is_err());
        assert!(parse_single(&[4, 3, 1, 2], TAG_OCTET_STRING).is_err());
        assert!(parse_single(&[4, 1, 1, 9], TAG_OCTET_STRING).is_err()); // trailing
        assert!(parse_single(&[0x1f, 1, 1], 0x1f).is_err()); // high tag form
        assert!(parse_single(&[4, 0x85, 1, 1, 1, 1, 1], TAG_OCTET_STRING).is_err());
    }

    #[test]
    fn bit_strings() {
        assert_eq!(Reader::new(&[3, 2, 0, 9]).bit_string().unwrap(), &[9]);
        assert!(Reader::new(&[3, 2, 1, 9]).bit_string().is_err());
        assert!(Reader::new(&[3, 0]).bit_string().is_err());
    }

    /// Random and mutated input never panics (a cheap deterministic fuzz).
    #[test]
    fn no_panic_on_garbage() {
        let seed_doc = sequence(&[
            &small_uint(0),
            &sequence(&[&oid(oid::EC_PUBLIC_KEY), &null()]),
            &octet_string(&[1, 2, 3]),
            &bit_string(&[4; 200]),
        ]);
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut doc = seed_doc.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % doc.len();
                doc[i] = next() as u8;
            }
            let cut = (next() as usize) % (doc.len() + 1);
            let doc = &doc[..cut];
            walk(Reader::new(doc), 0);
        }
        fn walk(mut r: Reader<'_>, depth: usize) {
            while let Ok((tag, c)) = r.read_any() {
                let _ = Reader::new(c).uint();
                let _ = Reader::new(c).bit_string();
                if tag & 0x20 != 0 && depth < 8 {
                    walk(Reader::new(c), depth + 1);
                }
            }
        }
    }
}
