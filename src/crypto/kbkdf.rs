//! Key derivation built on HMAC and AES-CMAC: HKDF (RFC 5869) for every SHA-1/SHA-2 hash,
//! PBKDF2 (RFC 8018) and the three NIST SP 800-108 modes with PKCS#11 3.0's flexible PRF
//! input layout. Knows nothing of PKCS#11 numbers: callers describe inputs with [`Field`].

use zeroize::Zeroizing;

use super::aes::AesKey;
use super::hmac::HmacKey;
use super::HashAlg;
use crate::error::{Error, Result};

/// HKDF-Extract: PRK = HMAC-Hash(salt, IKM). An empty salt is hash-length zeros.
pub fn hkdf_extract(hash: HashAlg, salt: &[u8], ikm: &[u8]) -> Zeroizing<Vec<u8>> {
    let zeros = vec![0u8; hash.len()];
    let salt = if salt.is_empty() { &zeros[..] } else { salt };
    Zeroizing::new(HmacKey::new(hash, salt).sign(ikm))
}

/// HKDF-Expand of `prk` with `info` to `len` bytes (at most 255 hash lengths, else
/// `KeySizeRange`).
pub fn hkdf_expand(
    hash: HashAlg,
    prk: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if len == 0 || len > 255 * hash.len() {
        return Err(Error::KeySizeRange);
    }
    let mac = HmacKey::new(hash, prk);
    let mut out = Zeroizing::new(Vec::with_capacity(len + hash.len()));
    let mut t = Zeroizing::new(Vec::new());
    let mut i: u8 = 1;
    while out.len() < len {
        let mut input = Zeroizing::new(Vec::with_capacity(t.len() + info.len() + 1));
        input.extend_from_slice(&t);
        input.extend_from_slice(info);
        input.push(i);
        t = Zeroizing::new(mac.sign(&input));
        out.extend_from_slice(&t);
        i = i.wrapping_add(1);
    }
    out.truncate(len);
    Ok(out)
}

/// PBKDF2 (RFC 8018 section 5.2) with HMAC-`hash`: `len` bytes from `password` and `salt`
/// after `iterations` (at least 1) rounds.
pub fn pbkdf2(
    hash: HashAlg,
    password: &[u8],
    salt: &[u8],
    iterations: u64,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if iterations == 0 || len == 0 {
        return Err(Error::ArgumentsBad);
    }
    let mac = HmacKey::new(hash, password);
    let h = hash.len();
    let blocks = len.div_ceil(h);
    let blocks = u32::try_from(blocks).map_err(|_| Error::ArgumentsBad)?;
    let mut out = Zeroizing::new(Vec::with_capacity(blocks as usize * h));
    for i in 1..=blocks {
        let mut input = salt.to_vec();
        input.extend_from_slice(&i.to_be_bytes());
        let mut u = Zeroizing::new(mac.sign(&input));
        let mut t = u.clone();
        for _ in 1..iterations {
            u = Zeroizing::new(mac.sign(&u));
            t.iter_mut().zip(u.iter()).for_each(|(a, b)| *a ^= b);
        }
        out.extend_from_slice(&t);
    }
    out.truncate(len);
    Ok(out)
}

/// The PRF of an SP 800-108 KDF, keyed with the key-derivation key.
pub enum Prf {
    Hmac(Box<HmacKey>),
    Cmac(Box<AesKey>),
}

impl Prf {
    /// HMAC-`hash` keyed with `key`.
    pub fn hmac(hash: HashAlg, key: &[u8]) -> Prf {
        Prf::Hmac(Box::new(HmacKey::new(hash, key)))
    }

    /// AES-CMAC keyed with `key` (16, 24 or 32 bytes, else `KeySizeRange`).
    pub fn cmac(key: &[u8]) -> Result<Prf> {
        Ok(Prf::Cmac(Box::new(AesKey::new(key)?)))
    }

    /// Output length in bytes.
    pub fn out_len(&self) -> usize {
        match self {
            Prf::Hmac(k) => k.hash().len(),
            Prf::Cmac(_) => 16,
        }
    }

    fn mac(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        Ok(Zeroizing::new(match self {
            Prf::Hmac(k) => k.sign(data),
            Prf::Cmac(k) => k.cmac(data)?.to_vec(),
        }))
    }
}

/// An integer encoding: width in bits (a multiple of 8, 8..=64) and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntFormat {
    pub width_bits: u64,
    pub little_endian: bool,
}

impl IntFormat {
    fn encode(self, v: u64, out: &mut Vec<u8>) -> Result<()> {
        if self.width_bits == 0 || self.width_bits > 64 || !self.width_bits.is_multiple_of(8) {
            return Err(Error::MechanismParamInvalid);
        }
        let n = (self.width_bits / 8) as usize;
        if n < 8 && v >> (n * 8) != 0 {
            // The value does not fit the field.
            return Err(Error::MechanismParamInvalid);
        }
        let be = v.to_be_bytes();
        let mut field = be[8 - n..].to_vec();
        if self.little_endian {
            field.reverse();
        }
        out.extend_from_slice(&field);
        Ok(())
    }
}

/// One element of the PRF input, in the caller's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Counter mode: the counter i in this format. Feedback / double pipeline (None): the
    /// chaining value K(i-1) or A(i).
    Iteration(Option<IntFormat>),
    /// The counter i (feedback and double-pipeline modes).
    Counter(IntFormat),
    /// L, the length in bits of the derived keying material.
    DkmLength {
        format: IntFormat,
        sum_of_segments: bool,
    },
    Bytes(Vec<u8>),
}

/// The SP 800-108 mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Counter,
    /// Feedback mode with this IV (K(0); may be empty).
    Feedback,
    DoublePipeline,
}

/// Derives one key per entry of `key_lens` (bytes, each > 0) from a single keystream, in
/// order. With `sum_of_segments` DKM length fields, each key starts on a PRF-output
/// boundary, as PKCS#11 3.0 defines L then.
pub fn sp800_108(
    mode: Mode,
    prf: &Prf,
    fields: &[Field],
    iv: &[u8],
    key_lens: &[usize],
) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    let h = prf.out_len();
    let iterations = fields
        .iter()
        .filter(|f| matches!(f, Field::Iteration(_)))
        .count();
    let dkm: Vec<&Field> = fields
        .iter()
        .filter(|f| matches!(f, Field::DkmLength { .. }))
        .collect();
    if iterations != 1 || dkm.len() > 1 {
        return Err(Error::MechanismParamInvalid);
    }
    for f in fields {
        match (mode, f) {
            (Mode::Counter, Field::Iteration(None) | Field::Counter(_))
            | (Mode::Feedback | Mode::DoublePipeline, Field::Iteration(Some(_))) => {
                return Err(Error::MechanismParamInvalid)
            }
            _ => {}
        }
    }
    if mode != Mode::Feedback && !iv.is_empty() {
        return Err(Error::MechanismParamInvalid);
    }
    if key_lens.is_empty() || key_lens.contains(&0) {
        return Err(Error::KeySizeRange);
    }
    let segments = matches!(
        dkm.first(),
        Some(Field::DkmLength {
            sum_of_segments: true,
            ..
        })
    );
    let spans: Vec<usize> = key_lens
        .iter()
        .map(|&l| if segments { l.div_ceil(h) * h } else { l })
        .collect();
    let total: usize = spans.iter().sum();
    let l_bits = (total as u64).checked_mul(8).ok_or(Error::KeySizeRange)?;
    let rounds = total.div_ceil(h);
    if rounds as u64 > u64::from(u32::MAX) {
        return Err(Error::KeySizeRange);
    }
    // Everything but the iteration variable and the counter: A(0) of the double pipeline.
    let fixed = |out: &mut Vec<u8>| -> Result<()> {
        for f in fields {
            match f {
                Field::DkmLength { format, .. } => format.encode(l_bits, out)?,
                Field::Bytes(b) => out.extend_from_slice(b),
                Field::Iteration(_) | Field::Counter(_) => {}
            }
        }
        Ok(())
    };
    let mut a = Zeroizing::new(Vec::new());
    if mode == Mode::DoublePipeline {
        fixed(&mut a)?;
    }
    let mut chain = Zeroizing::new(iv.to_vec());
    let mut stream = Zeroizing::new(Vec::with_capacity(rounds * h));
    for i in 1..=rounds as u64 {
        if mode == Mode::DoublePipeline {
            a = prf.mac(&a)?;
        }
        let mut input = Zeroizing::new(Vec::new());
        for f in fields {
            match f {
                Field::Iteration(Some(fmt)) => fmt.encode(i, &mut input)?,
                Field::Iteration(None) if mode == Mode::Feedback => input.extend_from_slice(&chain),
                Field::Iteration(None) => input.extend_from_slice(&a),
                Field::Counter(fmt) => fmt.encode(i, &mut input)?,
                Field::DkmLength { format, .. } => format.encode(l_bits, &mut input)?,
                Field::Bytes(b) => input.extend_from_slice(b),
            }
        }
        let k = prf.mac(&input)?;
        stream.extend_from_slice(&k);
        chain = k;
    }
    let mut keys = Vec::with_capacity(key_lens.len());
    let mut at = 0;
    for (&len, &span) in key_lens.iter().zip(&spans) {
        keys.push(Zeroizing::new(stream[at..at + len].to_vec()));
        at += span;
    }
    Ok(keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn hkdf_rfc5869_sha1_and_sha256() {
        // RFC 5869 A.1 (SHA-256) and A.4 (SHA-1).
        let prk = hkdf_extract(
            HashAlg::Sha256,
            &h("000102030405060708090a0b0c"),
            &[0x0b; 22],
        );
        assert_eq!(
            hex::encode(&prk[..]),
            "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
        );
        let okm = hkdf_expand(HashAlg::Sha256, &prk, &h("f0f1f2f3f4f5f6f7f8f9"), 42).unwrap();
        assert_eq!(
            hex::encode(&okm[..]),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        let prk = hkdf_extract(HashAlg::Sha1, &h("000102030405060708090a0b0c"), &[0x0b; 11]);
        let okm = hkdf_expand(HashAlg::Sha1, &prk, &h("f0f1f2f3f4f5f6f7f8f9"), 42).unwrap();
        assert_eq!(
            hex::encode(&okm[..]),
            "085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896"
        );
        assert!(hkdf_expand(HashAlg::Sha1, &prk, &[], 255 * 20 + 1).is_err());
    }

    #[test]
    fn pbkdf2_rfc6070() {
        // RFC 6070 (PBKDF2-HMAC-SHA1) test vectors 1 and 2.
        let k = pbkdf2(HashAlg::Sha1, b"password", b"salt", 1, 20).unwrap();
        assert_eq!(
            hex::encode(&k[..]),
            "0c60c80f961f0e71f3a9b524af6012062fe037a6"
        );
        let k = pbkdf2(HashAlg::Sha1, b"password", b"salt", 2, 20).unwrap();
        assert_eq!(
            hex::encode(&k[..]),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"
        );
        let k = pbkdf2(
            HashAlg::Sha1,
            b"passwordPASSWORDpassword",
            b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
            4096,
            25,
        )
        .unwrap();
        assert_eq!(
            hex::encode(&k[..]),
            "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"
        );
    }

    #[test]
    fn counter_mode_shape() {
        // The counter-mode PRF input is exactly the fields in order: check K(1) by hand.
        let key = [7u8; 32];
        let prf = Prf::hmac(HashAlg::Sha256, &key);
        let ctr = IntFormat {
            width_bits: 32,
            little_endian: false,
        };
        let fields = vec![
            Field::Iteration(Some(ctr)),
            Field::Bytes(b"label".to_vec()),
            Field::DkmLength {
                format: IntFormat {
                    width_bits: 16,
                    little_endian: true,
                },
                sum_of_segments: false,
            },
        ];
        let keys = sp800_108(Mode::Counter, &prf, &fields, &[], &[40, 8]).unwrap();
        let mut in1 = vec![0, 0, 0, 1];
        in1.extend_from_slice(b"label");
        in1.extend_from_slice(&[0x80, 0x01]); // 384 bits, little endian
        let mut in2 = in1.clone();
        in2[3] = 2;
        let k1 = HmacKey::new(HashAlg::Sha256, &key).sign(&in1);
        let k2 = HmacKey::new(HashAlg::Sha256, &key).sign(&in2);
        let stream = [k1, k2].concat();
        assert_eq!(keys[0].as_slice(), &stream[..40]);
        assert_eq!(keys[1].as_slice(), &stream[40..48]);
        // Two iteration variables, or a chaining value in counter mode: rejected.
        let bad = vec![Field::Iteration(Some(ctr)), Field::Iteration(Some(ctr))];
        assert!(sp800_108(Mode::Counter, &prf, &bad, &[], &[16]).is_err());
        let bad = vec![Field::Iteration(None)];
        assert!(sp800_108(Mode::Counter, &prf, &bad, &[], &[16]).is_err());
    }

    #[test]
    fn sum_of_segments_aligns_keys() {
        // SHA-256 PRF (32 bytes), keys of 40 and 8 bytes: segments of 64 and 32 bytes, so
        // L = 96 * 8 and the second key starts at byte 64 of the stream.
        let key = [9u8; 16];
        let prf = Prf::hmac(HashAlg::Sha256, &key);
        let fields = vec![
            Field::Iteration(Some(IntFormat {
                width_bits: 8,
                little_endian: false,
            })),
            Field::DkmLength {
                format: IntFormat {
                    width_bits: 16,
                    little_endian: false,
                },
                sum_of_segments: true,
            },
        ];
        let keys = sp800_108(Mode::Counter, &prf, &fields, &[], &[40, 8]).unwrap();
        let mac = HmacKey::new(HashAlg::Sha256, &key);
        let block = |i: u8| mac.sign(&[i, 0x03, 0x00]);
        let stream = [block(1), block(2), block(3)].concat();
        assert_eq!(keys[0].as_slice(), &stream[..40]);
        assert_eq!(keys[1].as_slice(), &stream[64..72]);
    }

    #[test]
    fn feedback_and_pipeline_shapes() {
        let key = [5u8; 20];
        let prf = Prf::hmac(HashAlg::Sha1, &key);
        let mac = HmacKey::new(HashAlg::Sha1, &key);
        let fields = vec![Field::Iteration(None), Field::Bytes(b"x".to_vec())];
        let fb = sp800_108(Mode::Feedback, &prf, &fields, b"iv", &[30]).unwrap();
        let k1 = mac.sign(b"ivx");
        let k2 = mac.sign(&[&k1[..], b"x"].concat());
        assert_eq!(fb[0].as_slice(), &[k1, k2].concat()[..30]);
        let dp = sp800_108(Mode::DoublePipeline, &prf, &fields, &[], &[20]).unwrap();
        let a1 = mac.sign(b"x");
        assert_eq!(
            dp[0].as_slice(),
            mac.sign(&[&a1[..], b"x"].concat()).as_slice()
        );
        // An IV outside feedback mode, a counter in counter mode: rejected.
        assert!(sp800_108(Mode::DoublePipeline, &prf, &fields, b"iv", &[20]).is_err());
        let ctr = IntFormat {
            width_bits: 8,
            little_endian: false,
        };
        let bad = vec![Field::Iteration(Some(ctr)), Field::Counter(ctr)];
        assert!(sp800_108(Mode::Counter, &prf, &bad, &[], &[20]).is_err());
        // A value that does not fit its field is a parameter error, not a silent wrap.
        let narrow = vec![
            Field::Iteration(Some(ctr)),
            Field::DkmLength {
                format: ctr,
                sum_of_segments: false,
            },
        ];
        assert_eq!(
            sp800_108(Mode::Counter, &prf, &narrow, &[], &[40]).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }
}
