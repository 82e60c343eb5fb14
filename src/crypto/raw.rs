//! The one place where `crypto/` calls aws-lc directly (through `aws-lc-sys`), for what the
//! safe `aws-lc-rs` API does not offer:
//!
//! - RSA with 1024-bit keys, any public exponent, PKCS#1 v1.5 type-1 padding of caller bytes
//!   (CKM_RSA_PKCS sign with a caller-supplied DigestInfo), PSS with any salt length and an MGF
//!   hash different from the message hash, raw (unpadded) private/public operations;
//! - ECDSA over a caller-supplied digest of any length, secp256k1, ECDH on any of our curves;
//! - AES block modes and key wrap over one expanded key schedule (aws-lc-rs would expand a
//!   separate copy per mode and direction, and its key wrap lacks AES-192);
//! - AES-GCM with IVs other than 96 bits and truncated tags.
//!
//! Everything here is small safe wrappers. Every failure of an aws-lc call clears aws-lc's
//! per-thread error queue and becomes `Error::GeneralError`; the safe callers check lengths
//! and ranges first and map failures to the precise error they need.
//!
//! Thread safety: aws-lc `RSA` and `EC_KEY` objects may be used concurrently from several
//! threads once built (aws-lc locks its lazily-built Montgomery contexts and blinding state;
//! ECDSA signing and ECDH take `const EC_KEY *`), which is what lets the key types be cached
//! and shared (`Send + Sync`).

// `unsafe_code` is allowed for this module alone, at its declaration in `crypto/mod.rs`.

use std::os::raw::{c_int, c_uint};
use std::ptr::{self, NonNull};

use aws_lc_sys as sys;
use zeroize::{Zeroize, Zeroizing};

use super::HashAlg;
use crate::error::{Error, Result};

/// Clears aws-lc's error queue and reports a general failure.
fn fail<T>() -> Result<T> {
    // SAFETY: ERR_clear_error only touches aws-lc's thread-local error queue.
    unsafe { sys::ERR_clear_error() };
    Err(Error::GeneralError)
}

fn check(rc: c_int) -> Result<()> {
    if rc == 1 {
        Ok(())
    } else {
        fail()
    }
}

fn c_len(len: usize) -> Result<c_int> {
    c_int::try_from(len).map_err(|_| Error::DataLenRange)
}

fn md(alg: HashAlg) -> *const sys::EVP_MD {
    // SAFETY: these return pointers to static, immutable method tables.
    unsafe {
        match alg {
            HashAlg::Sha1 => sys::EVP_sha1(),
            HashAlg::Sha224 => sys::EVP_sha224(),
            HashAlg::Sha256 => sys::EVP_sha256(),
            HashAlg::Sha384 => sys::EVP_sha384(),
            HashAlg::Sha512 => sys::EVP_sha512(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// BIGNUM helpers

/// An owned BIGNUM; cleared on drop when it may hold a secret.
struct Bn {
    ptr: NonNull<sys::BIGNUM>,
    secret: bool,
}

impl Bn {
    fn from_bytes(bytes: &[u8], secret: bool) -> Result<Bn> {
        // SAFETY: `bytes` is a valid slice for its length; a null `ret` asks for a new BIGNUM.
        let p = unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), ptr::null_mut()) };
        match NonNull::new(p) {
            Some(ptr) => Ok(Bn { ptr, secret }),
            None => fail(),
        }
    }

    fn from_u64(v: u64) -> Result<Bn> {
        Bn::from_bytes(&v.to_be_bytes(), false)
    }

    fn as_ptr(&self) -> *const sys::BIGNUM {
        self.ptr.as_ptr()
    }

    /// Give the BIGNUM away (to an aws-lc `set0` function, which takes ownership).
    fn into_raw(self) -> *mut sys::BIGNUM {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: we own the BIGNUM and free it exactly once.
        unsafe {
            if self.secret {
                sys::BN_clear_free(self.ptr.as_ptr());
            } else {
                sys::BN_free(self.ptr.as_ptr());
            }
        }
    }
}

/// Big-endian bytes of a BIGNUM we do not own, without leading zeros.
///
/// # Safety
/// `bn` must be null or point to a valid BIGNUM for the duration of the call.
unsafe fn bn_bytes(bn: *const sys::BIGNUM) -> Zeroizing<Vec<u8>> {
    if bn.is_null() {
        return Zeroizing::new(Vec::new());
    }
    // SAFETY: per this function's contract `bn` is valid; the buffer has BN_num_bytes bytes.
    unsafe {
        let n = sys::BN_num_bytes(bn) as usize;
        let mut out = Zeroizing::new(vec![0u8; n]);
        sys::BN_bn2bin(bn, out.as_mut_ptr());
        out
    }
}

/// Big-endian bytes of a BIGNUM we do not own, left-padded to `len`.
///
/// # Safety
/// `bn` must point to a valid BIGNUM for the duration of the call.
unsafe fn bn_padded(bn: *const sys::BIGNUM, len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    // SAFETY: per this function's contract `bn` is valid; `out` has `len` writable bytes.
    check(unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) })?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// RSA

/// An aws-lc `RSA` object (public, or private with CRT parameters).
pub(super) struct Rsa {
    ptr: NonNull<sys::RSA>,
}

// SAFETY: an aws-lc RSA object is immutable once built except for internal caches, which
// aws-lc guards with its own locks; concurrent use from several threads is supported.
unsafe impl Send for Rsa {}
// SAFETY: as above.
unsafe impl Sync for Rsa {}

impl Drop for Rsa {
    fn drop(&mut self) {
        // SAFETY: we own the RSA object; RSA_free clears its private values.
        unsafe { sys::RSA_free(self.ptr.as_ptr()) }
    }
}

/// Big-endian private key components, in RFC 8017 order.
pub(super) struct RsaParts<'a> {
    pub n: &'a [u8],
    pub e: &'a [u8],
    pub d: &'a [u8],
    pub p: &'a [u8],
    pub q: &'a [u8],
    pub dp: &'a [u8],
    pub dq: &'a [u8],
    pub qinv: &'a [u8],
}

/// Owned components read back out of a key (the private ones zeroized on drop).
pub(super) struct RsaOwnedParts {
    pub n: Zeroizing<Vec<u8>>,
    pub e: Zeroizing<Vec<u8>>,
    pub d: Zeroizing<Vec<u8>>,
    pub p: Zeroizing<Vec<u8>>,
    pub q: Zeroizing<Vec<u8>>,
    pub dp: Zeroizing<Vec<u8>>,
    pub dq: Zeroizing<Vec<u8>>,
    pub qinv: Zeroizing<Vec<u8>>,
}

impl Rsa {
    fn wrap(p: *mut sys::RSA) -> Result<Rsa> {
        match NonNull::new(p) {
            Some(ptr) => Ok(Rsa { ptr }),
            None => fail(),
        }
    }

    /// Builds a private key; aws-lc checks the components for consistency (RSA_check_key).
    pub(super) fn new_private(c: &RsaParts<'_>) -> Result<Rsa> {
        let n = Bn::from_bytes(c.n, false)?;
        let e = Bn::from_bytes(c.e, false)?;
        let d = Bn::from_bytes(c.d, true)?;
        let p = Bn::from_bytes(c.p, true)?;
        let q = Bn::from_bytes(c.q, true)?;
        let dp = Bn::from_bytes(c.dp, true)?;
        let dq = Bn::from_bytes(c.dq, true)?;
        let qinv = Bn::from_bytes(c.qinv, true)?;
        // SAFETY: all arguments are valid BIGNUMs that outlive the call; aws-lc copies them.
        Rsa::wrap(unsafe {
            sys::RSA_new_private_key(
                n.as_ptr(),
                e.as_ptr(),
                d.as_ptr(),
                p.as_ptr(),
                q.as_ptr(),
                dp.as_ptr(),
                dq.as_ptr(),
                qinv.as_ptr(),
            )
        })
    }

    /// Builds a public key; aws-lc checks n and e (odd e > 1, sizes).
    pub(super) fn new_public(n: &[u8], e: &[u8]) -> Result<Rsa> {
        let n = Bn::from_bytes(n, false)?;
        let e = Bn::from_bytes(e, false)?;
        // SAFETY: both arguments are valid BIGNUMs that outlive the call; aws-lc copies them.
        Rsa::wrap(unsafe { sys::RSA_new_public_key(n.as_ptr(), e.as_ptr()) })
    }

    /// Generates a key of `bits` (a multiple of 128) with public exponent `e`.
    pub(super) fn generate(bits: usize, e: u64) -> Result<Rsa> {
        let e = Bn::from_u64(e)?;
        let bits = c_len(bits)?;
        // SAFETY: RSA_new returns a fresh object or null (checked by `wrap`).
        let rsa = Rsa::wrap(unsafe { sys::RSA_new() })?;
        // SAFETY: `rsa` and `e` are valid; no callback.
        check(unsafe {
            sys::RSA_generate_key_ex(rsa.ptr.as_ptr(), bits, e.as_ptr(), ptr::null_mut())
        })?;
        Ok(rsa)
    }

    /// Modulus length in bytes.
    pub(super) fn size(&self) -> usize {
        // SAFETY: `self.ptr` is a valid RSA object.
        unsafe { sys::RSA_size(self.ptr.as_ptr()) as usize }
    }

    /// Modulus length in bits.
    pub(super) fn bits(&self) -> usize {
        // SAFETY: `self.ptr` is a valid RSA object.
        unsafe { sys::RSA_bits(self.ptr.as_ptr()) as usize }
    }

    /// All components (private ones empty for a public key).
    pub(super) fn parts(&self) -> RsaOwnedParts {
        let mut n = ptr::null();
        let mut e = ptr::null();
        let mut d = ptr::null();
        let mut p = ptr::null();
        let mut q = ptr::null();
        let mut dp = ptr::null();
        let mut dq = ptr::null();
        let mut qinv = ptr::null();
        // SAFETY: `self.ptr` is valid; the getters write borrowed pointers (or null) that stay
        // valid while `self` lives, and `bn_bytes` copies them out at once.
        unsafe {
            sys::RSA_get0_key(self.ptr.as_ptr(), &mut n, &mut e, &mut d);
            sys::RSA_get0_factors(self.ptr.as_ptr(), &mut p, &mut q);
            sys::RSA_get0_crt_params(self.ptr.as_ptr(), &mut dp, &mut dq, &mut qinv);
            RsaOwnedParts {
                n: bn_bytes(n),
                e: bn_bytes(e),
                d: bn_bytes(d),
                p: bn_bytes(p),
                q: bn_bytes(q),
                dp: bn_bytes(dp),
                dq: bn_bytes(dq),
                qinv: bn_bytes(qinv),
            }
        }
    }

    /// EMSA-PKCS1-v1_5 type-1 padding of `payload` then the (blinded, constant-time) private
    /// operation. `payload.len() <= k - 11` is the caller's check.
    pub(super) fn sign_pkcs1_type1(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let k = self.size();
        let mut out = vec![0u8; k];
        let mut out_len = 0usize;
        // SAFETY: `out` has `k` writable bytes, `payload` is a valid slice.
        check(unsafe {
            sys::RSA_sign_raw(
                self.ptr.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                payload.as_ptr(),
                payload.len(),
                sys::RSA_PKCS1_PADDING,
            )
        })?;
        if out_len != k {
            return fail();
        }
        Ok(out)
    }

    /// The public operation then a type-1 padding check; returns the payload.
    /// `sig.len() == k` is the caller's check.
    pub(super) fn recover_pkcs1_type1(&self, sig: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.size()];
        let mut out_len = 0usize;
        // SAFETY: `out` has `k` writable bytes, `sig` is a valid slice.
        check(unsafe {
            sys::RSA_verify_raw(
                self.ptr.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                sig.as_ptr(),
                sig.len(),
                sys::RSA_PKCS1_PADDING,
            )
        })?;
        out.truncate(out_len);
        Ok(out)
    }

    /// RSASSA-PSS signature over `digest` (whose length the caller checked against `hash`).
    pub(super) fn sign_pss(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        digest: &[u8],
    ) -> Result<Vec<u8>> {
        let k = self.size();
        let salt_len = c_len(salt_len)?;
        let mut out = vec![0u8; k];
        let mut out_len = 0usize;
        // SAFETY: `out` has `k` writable bytes; the digest pointers are static method tables.
        check(unsafe {
            sys::RSA_sign_pss_mgf1(
                self.ptr.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                digest.as_ptr(),
                digest.len(),
                md(hash),
                md(mgf),
                salt_len,
            )
        })?;
        if out_len != k {
            return fail();
        }
        Ok(out)
    }

    /// RSASSA-PSS verification; `Ok(false)` for a bad signature.
    pub(super) fn verify_pss(
        &self,
        hash: HashAlg,
        mgf: HashAlg,
        salt_len: usize,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<bool> {
        let salt_len = c_len(salt_len)?;
        // SAFETY: all slices are valid for their lengths; method tables are static.
        let rc = unsafe {
            sys::RSA_verify_pss_mgf1(
                self.ptr.as_ptr(),
                digest.as_ptr(),
                digest.len(),
                md(hash),
                md(mgf),
                salt_len,
                sig.as_ptr(),
                sig.len(),
            )
        };
        if rc == 1 {
            Ok(true)
        } else {
            let _ = fail::<()>();
            Ok(false)
        }
    }

    /// The raw private operation on `input` (exactly k bytes, value < n: the caller checks the
    /// length; a value >= n fails). Blinded and constant time in aws-lc; the CRT result is
    /// verified against the public key before it is returned (fault-attack countermeasure).
    pub(super) fn private_raw(&self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.size()]);
        let mut out_len = 0usize;
        // SAFETY: `out` has `k` writable bytes, `input` is a valid slice.
        check(unsafe {
            sys::RSA_decrypt(
                self.ptr.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                input.as_ptr(),
                input.len(),
                sys::RSA_NO_PADDING,
            )
        })?;
        if out_len != out.len() {
            return fail();
        }
        Ok(out)
    }

    /// The raw public operation on `input` (exactly k bytes, value < n, else failure).
    pub(super) fn public_raw(&self, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.size()];
        let mut out_len = 0usize;
        // SAFETY: `out` has `k` writable bytes, `input` is a valid slice.
        check(unsafe {
            sys::RSA_encrypt(
                self.ptr.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                input.as_ptr(),
                input.len(),
                sys::RSA_NO_PADDING,
            )
        })?;
        if out_len != out.len() {
            return fail();
        }
        Ok(out)
    }

    /// RSAES-PKCS1-v1_5 encryption (random type-2 padding); `msg.len() <= k - 11` is the
    /// caller's check.
    pub(super) fn encrypt_pkcs1(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.size()];
        let mut out_len = 0usize;
        // SAFETY: `out` has `k` writable bytes, `msg` is a valid slice.
        check(unsafe {
            sys::RSA_encrypt(
                self.ptr.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                msg.as_ptr(),
                msg.len(),
                sys::RSA_PKCS1_PADDING,
            )
        })?;
        if out_len != out.len() {
            return fail();
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Elliptic curves

/// An aws-lc `EC_KEY` (public, or private with its public point).
pub(super) struct EcKey {
    ptr: NonNull<sys::EC_KEY>,
}

// SAFETY: once built an EC_KEY is only read (signing, verification and ECDH take `const
// EC_KEY *`), so sharing between threads is sound.
unsafe impl Send for EcKey {}
// SAFETY: as above.
unsafe impl Sync for EcKey {}

impl Drop for EcKey {
    fn drop(&mut self) {
        // SAFETY: we own the EC_KEY; EC_KEY_free clears the private scalar.
        unsafe { sys::EC_KEY_free(self.ptr.as_ptr()) }
    }
}

/// An owned EC_POINT.
struct Point(NonNull<sys::EC_POINT>);

impl Drop for Point {
    fn drop(&mut self) {
        // SAFETY: we own the point and free it once.
        unsafe { sys::EC_POINT_free(self.0.as_ptr()) }
    }
}

impl EcKey {
    fn new(nid: c_int) -> Result<EcKey> {
        // SAFETY: returns a fresh EC_KEY for a built-in group, or null.
        match NonNull::new(unsafe { sys::EC_KEY_new_by_curve_name(nid) }) {
            Some(ptr) => Ok(EcKey { ptr }),
            None => fail(),
        }
    }

    fn group(&self) -> *const sys::EC_GROUP {
        // SAFETY: `self.ptr` is a valid EC_KEY with a static built-in group.
        unsafe { sys::EC_KEY_get0_group(self.ptr.as_ptr()) }
    }

    fn new_point(&self) -> Result<Point> {
        // SAFETY: the group pointer is valid for the key's life.
        match NonNull::new(unsafe { sys::EC_POINT_new(self.group()) }) {
            Some(p) => Ok(Point(p)),
            None => fail(),
        }
    }

    /// Decodes an uncompressed or compressed point, checking it is on the curve.
    fn decode_point(&self, bytes: &[u8]) -> Result<Point> {
        let pt = self.new_point()?;
        // SAFETY: group and point are valid; `bytes` is a valid slice.
        check(unsafe {
            sys::EC_POINT_oct2point(
                self.group(),
                pt.0.as_ptr(),
                bytes.as_ptr(),
                bytes.len(),
                ptr::null_mut(),
            )
        })?;
        Ok(pt)
    }

    /// The public point, uncompressed.
    pub(super) fn public_point(&self, field_len: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; 1 + 2 * field_len];
        // SAFETY: the key is valid; its public point is borrowed for the call only.
        let n = unsafe {
            let pt = sys::EC_KEY_get0_public_key(self.ptr.as_ptr());
            if pt.is_null() {
                return fail();
            }
            sys::EC_POINT_point2oct(
                self.group(),
                pt,
                sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED,
                out.as_mut_ptr(),
                out.len(),
                ptr::null_mut(),
            )
        };
        if n != out.len() {
            return fail();
        }
        Ok(out)
    }

    /// A private key from scalar `d` (1 <= d < order, else failure); the public point is
    /// computed (constant-time base-point multiplication) and the pair checked.
    pub(super) fn from_private(nid: c_int, d: &[u8]) -> Result<EcKey> {
        let key = EcKey::new(nid)?;
        let d = Bn::from_bytes(d, true)?;
        let pt = key.new_point()?;
        // SAFETY: key, group, point and scalar are valid; aws-lc copies the scalar.
        unsafe {
            check(sys::EC_KEY_set_private_key(key.ptr.as_ptr(), d.as_ptr()))?;
            check(sys::EC_POINT_mul(
                key.group(),
                pt.0.as_ptr(),
                d.as_ptr(),
                ptr::null(),
                ptr::null(),
                ptr::null_mut(),
            ))?;
            check(sys::EC_KEY_set_public_key(key.ptr.as_ptr(), pt.0.as_ptr()))?;
            check(sys::EC_KEY_check_key(key.ptr.as_ptr()))?;
        }
        Ok(key)
    }

    /// A fresh random key.
    pub(super) fn generate(nid: c_int) -> Result<EcKey> {
        let key = EcKey::new(nid)?;
        // SAFETY: the key is valid.
        check(unsafe { sys::EC_KEY_generate_key(key.ptr.as_ptr()) })?;
        Ok(key)
    }

    /// A public key from an encoded point, checked to be on the curve and not infinity.
    pub(super) fn from_public(nid: c_int, point: &[u8]) -> Result<EcKey> {
        let key = EcKey::new(nid)?;
        let pt = key.decode_point(point)?;
        // SAFETY: key and point are valid; aws-lc copies the point.
        unsafe {
            check(sys::EC_KEY_set_public_key(key.ptr.as_ptr(), pt.0.as_ptr()))?;
            check(sys::EC_KEY_check_key(key.ptr.as_ptr()))?;
        }
        Ok(key)
    }

    /// The private scalar, left-padded to `len` bytes.
    pub(super) fn private_scalar(&self, len: usize) -> Result<Zeroizing<Vec<u8>>> {
        // SAFETY: the key is valid; the scalar is borrowed for the call only.
        unsafe {
            let d = sys::EC_KEY_get0_private_key(self.ptr.as_ptr());
            if d.is_null() {
                return fail();
            }
            bn_padded(d, len)
        }
    }

    /// ECDSA over `digest` (any length: aws-lc keeps its leftmost bits up to the order's bit
    /// length, FIPS 186-5). Nonces are hedged: aws-lc draws them from its DRBG with
    /// SHA-512(private key || digest) as additional input. Returns r || s, each `len` bytes.
    pub(super) fn sign(&self, digest: &[u8], len: usize) -> Result<Vec<u8>> {
        // SAFETY: the key is valid; `digest` is a valid slice.
        let sig = unsafe { sys::ECDSA_do_sign(digest.as_ptr(), digest.len(), self.ptr.as_ptr()) };
        if sig.is_null() {
            return fail();
        }
        let mut r = ptr::null();
        let mut s = ptr::null();
        // SAFETY: `sig` is a valid ECDSA_SIG we own; r and s are borrowed from it and copied
        // out before it is freed exactly once.
        unsafe {
            sys::ECDSA_SIG_get0(sig, &mut r, &mut s);
            let mut out = vec![0u8; 2 * len];
            let ok = sys::BN_bn2bin_padded(out.as_mut_ptr(), len, r) == 1
                && sys::BN_bn2bin_padded(out.as_mut_ptr().add(len), len, s) == 1;
            sys::ECDSA_SIG_free(sig);
            if ok {
                Ok(out)
            } else {
                fail()
            }
        }
    }

    /// ECDSA verification of (r, s); `Ok(false)` for a bad signature.
    pub(super) fn verify(&self, digest: &[u8], r: &[u8], s: &[u8]) -> Result<bool> {
        let r = Bn::from_bytes(r, false)?;
        let s = Bn::from_bytes(s, false)?;
        // SAFETY: a fresh ECDSA_SIG or null.
        let sig = unsafe { sys::ECDSA_SIG_new() };
        if sig.is_null() {
            return fail();
        }
        // SAFETY: ECDSA_SIG_set0 takes ownership of r and s on success, so we forget our
        // handles; the signature is freed once after the verification.
        unsafe {
            if sys::ECDSA_SIG_set0(sig, r.ptr.as_ptr(), s.ptr.as_ptr()) != 1 {
                sys::ECDSA_SIG_free(sig);
                return fail();
            }
            std::mem::forget(r);
            std::mem::forget(s);
            let rc = sys::ECDSA_do_verify(digest.as_ptr(), digest.len(), sig, self.ptr.as_ptr());
            sys::ECDSA_SIG_free(sig);
            if rc == 1 {
                Ok(true)
            } else {
                let _ = fail::<()>();
                Ok(false)
            }
        }
    }

    /// ECDH: the X coordinate of d * peer, `len` bytes. A peer point that does not decode or
    /// is not on the curve fails.
    pub(super) fn ecdh(&self, peer: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
        let pt = self.decode_point(peer)?;
        let mut out = Zeroizing::new(vec![0u8; len]);
        // SAFETY: `out` has `len` writable bytes; point and key are valid; no KDF.
        let n = unsafe {
            sys::ECDH_compute_key(
                out.as_mut_ptr().cast(),
                out.len(),
                pt.0.as_ptr(),
                self.ptr.as_ptr(),
                None,
            )
        };
        if usize::try_from(n).ok() != Some(len) {
            return fail();
        }
        Ok(out)
    }
}

/// aws-lc NIDs of our curves.
pub(super) mod nid {
    use std::os::raw::c_int;
    pub(in crate::crypto) const P256: c_int = aws_lc_sys::NID_X9_62_prime256v1;
    pub(in crate::crypto) const P384: c_int = aws_lc_sys::NID_secp384r1;
    pub(in crate::crypto) const P521: c_int = aws_lc_sys::NID_secp521r1;
    pub(in crate::crypto) const SECP256K1: c_int = aws_lc_sys::NID_secp256k1;
}

// ---------------------------------------------------------------------------------------------
// AES

/// Expanded AES encryption and decryption key schedules, zeroized on drop.
pub(super) struct AesSchedule {
    enc: sys::AES_KEY,
    dec: sys::AES_KEY,
}

impl Drop for AesSchedule {
    fn drop(&mut self) {
        self.enc.rd_key.zeroize();
        self.dec.rd_key.zeroize();
        self.enc.rounds.zeroize();
        self.dec.rounds.zeroize();
    }
}

impl AesSchedule {
    /// `key` must be 16, 24 or 32 bytes (checked by the caller; otherwise failure).
    pub(super) fn new(key: &[u8]) -> Result<AesSchedule> {
        let bits = c_uint::try_from(key.len() * 8).map_err(|_| Error::KeySizeRange)?;
        let mut s = AesSchedule {
            enc: sys::AES_KEY {
                rd_key: [0; 60],
                rounds: 0,
            },
            dec: sys::AES_KEY {
                rd_key: [0; 60],
                rounds: 0,
            },
        };
        // SAFETY: `key` holds `bits / 8` bytes; the AES_KEY structs are valid and writable.
        unsafe {
            if sys::AES_set_encrypt_key(key.as_ptr(), bits, &mut s.enc) != 0
                || sys::AES_set_decrypt_key(key.as_ptr(), bits, &mut s.dec) != 0
            {
                return fail();
            }
        }
        Ok(s)
    }

    /// Encrypts one block.
    pub(super) fn encrypt_block(&self, block: &mut [u8; 16]) {
        let p = block.as_mut_ptr();
        // SAFETY: one 16-byte block, in place (aws-lc's block functions allow in == out).
        unsafe { sys::AES_ecb_encrypt(p, p, &self.enc, sys::AES_ENCRYPT as c_int) }
    }

    /// ECB over whole blocks, in place. `data.len()` must be a multiple of 16 (the caller's
    /// check; any tail is left untouched).
    pub(super) fn ecb(&self, data: &mut [u8], encrypt: bool) {
        let (key, dir) = if encrypt {
            (&self.enc, sys::AES_ENCRYPT)
        } else {
            (&self.dec, sys::AES_DECRYPT)
        };
        for block in data.chunks_exact_mut(16) {
            let p = block.as_mut_ptr();
            // SAFETY: one 16-byte block, in place.
            unsafe { sys::AES_ecb_encrypt(p, p, key, dir as c_int) }
        }
    }

    /// CBC over whole blocks, in place; `iv` is updated to chain into the next call.
    /// `data.len()` must be a multiple of 16 (the caller's check).
    pub(super) fn cbc(&self, data: &mut [u8], iv: &mut [u8; 16], encrypt: bool) {
        let (key, dir) = if encrypt {
            (&self.enc, sys::AES_ENCRYPT)
        } else {
            (&self.dec, sys::AES_DECRYPT)
        };
        let len = data.len() - data.len() % 16;
        let p = data.as_mut_ptr();
        // SAFETY: `len` bytes in place (supported by aws-lc's CBC), a 16-byte IV.
        unsafe { sys::AES_cbc_encrypt(p, p, len, key, iv.as_mut_ptr(), dir as c_int) }
    }

    /// CTR keystream XOR, in place, continuing from (`counter`, `keystream`, `used`): the
    /// 128-bit big-endian counter block, the current keystream block and how many of its bytes
    /// are spent. The whole block is incremented; the caller guarantees no wrap of the part
    /// that is the counter.
    pub(super) fn ctr(
        &self,
        data: &mut [u8],
        counter: &mut [u8; 16],
        keystream: &mut [u8; 16],
        used: &mut u32,
    ) {
        let p = data.as_mut_ptr();
        let mut num: c_uint = *used;
        // SAFETY: `data` in place; 16-byte counter and keystream buffers; `num` < 16.
        unsafe {
            sys::AES_ctr128_encrypt(
                p,
                p,
                data.len(),
                &self.enc,
                counter.as_mut_ptr(),
                keystream.as_mut_ptr(),
                &mut num,
            )
        }
        *used = num;
    }

    /// RFC 3394 key wrap with the default IV. `data.len()` a multiple of 8, at least 16.
    pub(super) fn wrap(&self, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = vec![0u8; data.len() + 8];
        // SAFETY: `out` has in_len + 8 bytes as AES_wrap_key requires; null IV = default.
        let n = unsafe {
            sys::AES_wrap_key(
                &self.enc,
                ptr::null(),
                out.as_mut_ptr(),
                data.as_ptr(),
                data.len(),
            )
        };
        if usize::try_from(n).ok() != Some(out.len()) {
            return fail();
        }
        Ok(out)
    }

    /// RFC 3394 key unwrap; the integrity check is constant time in aws-lc.
    pub(super) fn unwrap(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if data.len() < 24 || !data.len().is_multiple_of(8) {
            return fail();
        }
        let mut out = Zeroizing::new(vec![0u8; data.len() - 8]);
        // SAFETY: `out` has in_len - 8 bytes as AES_unwrap_key requires; null IV = default.
        let n = unsafe {
            sys::AES_unwrap_key(
                &self.dec,
                ptr::null(),
                out.as_mut_ptr(),
                data.as_ptr(),
                data.len(),
            )
        };
        if usize::try_from(n).ok() != Some(out.len()) {
            return fail();
        }
        Ok(out)
    }

    /// RFC 5649 key wrap with padding.
    pub(super) fn wrap_pad(&self, data: &[u8]) -> Result<Vec<u8>> {
        let max = data.len().div_ceil(8) * 8 + 8;
        let mut out = vec![0u8; max];
        let mut out_len = 0usize;
        // SAFETY: `out` has `max` writable bytes; `data` is a valid slice.
        check(unsafe {
            sys::AES_wrap_key_padded(
                &self.enc,
                out.as_mut_ptr(),
                &mut out_len,
                max,
                data.as_ptr(),
                data.len(),
            )
        })?;
        out.truncate(out_len);
        Ok(out)
    }

    /// RFC 5649 key unwrap.
    pub(super) fn unwrap_pad(&self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; data.len()]);
        let mut out_len = 0usize;
        // SAFETY: `out` has `data.len()` writable bytes (enough for any result).
        check(unsafe {
            sys::AES_unwrap_key_padded(
                &self.dec,
                out.as_mut_ptr(),
                &mut out_len,
                out.len(),
                data.as_ptr(),
                data.len(),
            )
        })?;
        out.truncate(out_len);
        Ok(out)
    }
}

/// An owned EVP_CIPHER_CTX.
struct CipherCtx(NonNull<sys::EVP_CIPHER_CTX>);

impl CipherCtx {
    fn new() -> Result<CipherCtx> {
        // SAFETY: returns a fresh context or null.
        match NonNull::new(unsafe { sys::EVP_CIPHER_CTX_new() }) {
            Some(p) => Ok(CipherCtx(p)),
            None => fail(),
        }
    }
}

impl Drop for CipherCtx {
    fn drop(&mut self) {
        // SAFETY: we own the context; freeing cleans up (and clears) its key material.
        unsafe { sys::EVP_CIPHER_CTX_free(self.0.as_ptr()) }
    }
}

fn gcm_cipher(key_len: usize) -> Result<*const sys::EVP_CIPHER> {
    // SAFETY: these return pointers to static method tables.
    unsafe {
        match key_len {
            16 => Ok(sys::EVP_aes_128_gcm()),
            24 => Ok(sys::EVP_aes_192_gcm()),
            32 => Ok(sys::EVP_aes_256_gcm()),
            _ => Err(Error::KeySizeRange),
        }
    }
}

/// AES-GCM encryption with any IV length (>= 1) and tag length 1..=16 (the caller enforces
/// the policy). Returns ct || tag.
pub(super) fn gcm_seal(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    pt: &[u8],
    tag_len: usize,
) -> Result<Vec<u8>> {
    let cipher = gcm_cipher(key.len())?;
    let iv_len = c_len(iv.len())?;
    let aad_len = c_len(aad.len())?;
    let pt_len = c_len(pt.len())?;
    let tag_len_c = c_len(tag_len)?;
    let ctx = CipherCtx::new()?;
    let c = ctx.0.as_ptr();
    let mut out = vec![0u8; pt.len() + tag_len];
    let mut n: c_int = 0;
    // SAFETY: `ctx` is a fresh context; key and IV have the lengths the cipher was told; the
    // output buffer has pt.len() bytes for the ciphertext (GCM is a stream mode: update writes
    // exactly its input length, final writes nothing) followed by `tag_len` bytes for the tag.
    unsafe {
        check(sys::EVP_EncryptInit_ex(
            c,
            cipher,
            ptr::null_mut(),
            ptr::null(),
            ptr::null(),
        ))?;
        check(sys::EVP_CIPHER_CTX_ctrl(
            c,
            sys::EVP_CTRL_GCM_SET_IVLEN,
            iv_len,
            ptr::null_mut(),
        ))?;
        check(sys::EVP_EncryptInit_ex(
            c,
            ptr::null(),
            ptr::null_mut(),
            key.as_ptr(),
            iv.as_ptr(),
        ))?;
        if !aad.is_empty() {
            check(sys::EVP_EncryptUpdate(
                c,
                ptr::null_mut(),
                &mut n,
                aad.as_ptr(),
                aad_len,
            ))?;
        }
        if !pt.is_empty() {
            check(sys::EVP_EncryptUpdate(
                c,
                out.as_mut_ptr(),
                &mut n,
                pt.as_ptr(),
                pt_len,
            ))?;
            if usize::try_from(n).ok() != Some(pt.len()) {
                return fail();
            }
        }
        let mut fin = [0u8; 16];
        check(sys::EVP_EncryptFinal_ex(c, fin.as_mut_ptr(), &mut n))?;
        if n != 0 {
            return fail();
        }
        check(sys::EVP_CIPHER_CTX_ctrl(
            c,
            sys::EVP_CTRL_GCM_GET_TAG,
            tag_len_c,
            out.as_mut_ptr().add(pt.len()).cast(),
        ))?;
    }
    Ok(out)
}

/// AES-GCM decryption with any IV length and tag length (the tag is the last `tag_len` bytes
/// of `ct_tag`, the caller checked `ct_tag.len() >= tag_len`). The tag check is constant time
/// in aws-lc; on failure no plaintext is released.
pub(super) fn gcm_open(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    ct_tag: &[u8],
    tag_len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let cipher = gcm_cipher(key.len())?;
    let (ct, tag) = ct_tag.split_at(ct_tag.len().saturating_sub(tag_len));
    if tag.len() != tag_len {
        return fail();
    }
    let iv_len = c_len(iv.len())?;
    let aad_len = c_len(aad.len())?;
    let ct_len = c_len(ct.len())?;
    let tag_len_c = c_len(tag_len)?;
    let mut tag_copy = [0u8; 16];
    tag_copy
        .get_mut(..tag_len)
        .ok_or(Error::GeneralError)?
        .copy_from_slice(tag);
    let ctx = CipherCtx::new()?;
    let c = ctx.0.as_ptr();
    let mut out = Zeroizing::new(vec![0u8; ct.len()]);
    let mut n: c_int = 0;
    // SAFETY: as in `gcm_seal`; the tag buffer holds `tag_len` <= 16 bytes.
    unsafe {
        check(sys::EVP_DecryptInit_ex(
            c,
            cipher,
            ptr::null_mut(),
            ptr::null(),
            ptr::null(),
        ))?;
        check(sys::EVP_CIPHER_CTX_ctrl(
            c,
            sys::EVP_CTRL_GCM_SET_IVLEN,
            iv_len,
            ptr::null_mut(),
        ))?;
        check(sys::EVP_DecryptInit_ex(
            c,
            ptr::null(),
            ptr::null_mut(),
            key.as_ptr(),
            iv.as_ptr(),
        ))?;
        check(sys::EVP_CIPHER_CTX_ctrl(
            c,
            sys::EVP_CTRL_GCM_SET_TAG,
            tag_len_c,
            tag_copy.as_mut_ptr().cast(),
        ))?;
        if !aad.is_empty() {
            check(sys::EVP_DecryptUpdate(
                c,
                ptr::null_mut(),
                &mut n,
                aad.as_ptr(),
                aad_len,
            ))?;
        }
        if !ct.is_empty() {
            check(sys::EVP_DecryptUpdate(
                c,
                out.as_mut_ptr(),
                &mut n,
                ct.as_ptr(),
                ct_len,
            ))?;
            if usize::try_from(n).ok() != Some(ct.len()) {
                return fail();
            }
        }
        let mut fin = [0u8; 16];
        check(sys::EVP_DecryptFinal_ex(c, fin.as_mut_ptr(), &mut n))?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Triple DES (legacy; not in the FIPS build's mechanism table)

/// The three DES key schedules of a DES-EDE3 key, zeroized on drop.
pub(super) struct Des3Schedule {
    ks: [sys::DES_key_schedule; 3],
}

impl Drop for Des3Schedule {
    fn drop(&mut self) {
        for k in &mut self.ks {
            k.subkeys.iter_mut().for_each(|s| s.zeroize());
        }
    }
}

impl Des3Schedule {
    /// Key schedules of a 24-byte key (parity bits are ignored, as DES does).
    pub(super) fn new(key: &[u8; 24]) -> Des3Schedule {
        let mut s = Des3Schedule {
            ks: [sys::DES_key_schedule::default(); 3],
        };
        for (i, ks) in s.ks.iter_mut().enumerate() {
            let mut block = sys::DES_cblock { bytes: [0; 8] };
            block.bytes.copy_from_slice(&key[8 * i..8 * i + 8]);
            // SAFETY: both pointers are to live, properly typed locals.
            unsafe { sys::DES_set_key_unchecked(&block, ks) };
            block.bytes.zeroize();
        }
        s
    }

    /// ECB over whole 8-byte blocks in place (`data.len() % 8 == 0` is the caller's check).
    pub(super) fn ecb(&self, data: &mut [u8], encrypt: bool) {
        let enc = c_int::from(encrypt);
        for chunk in data.chunks_exact_mut(8) {
            let mut block = sys::DES_cblock { bytes: [0; 8] };
            block.bytes.copy_from_slice(chunk);
            let mut out = sys::DES_cblock { bytes: [0; 8] };
            // SAFETY: input and output are distinct live blocks; the schedules are ours.
            unsafe {
                sys::DES_ecb3_encrypt(&block, &mut out, &self.ks[0], &self.ks[1], &self.ks[2], enc)
            };
            chunk.copy_from_slice(&out.bytes);
            block.bytes.zeroize();
            out.bytes.zeroize();
        }
    }

    /// CBC over whole 8-byte blocks in place, updating the chaining value `iv`.
    pub(super) fn cbc(&self, data: &mut [u8], iv: &mut [u8; 8], encrypt: bool) {
        if data.is_empty() {
            return;
        }
        let mut ivec = sys::DES_cblock { bytes: *iv };
        let input = Zeroizing::new(data.to_vec());
        // SAFETY: `input` and `data` are distinct buffers of `data.len()` bytes (a multiple of
        // 8, the caller's check); the schedules and `ivec` are live.
        unsafe {
            sys::DES_ede3_cbc_encrypt(
                input.as_ptr(),
                data.as_mut_ptr(),
                data.len(),
                &self.ks[0],
                &self.ks[1],
                &self.ks[2],
                &mut ivec,
                c_int::from(encrypt),
            )
        };
        *iv = ivec.bytes;
    }
}

// ---------------------------------------------------------------------------------------------
// SHA-1 / SHA-2 contexts whose state can be exported and imported (C_DigestKey moves a digest
// begun above the seam into the core).

/// The exportable parts of a SHA context: chaining words, total length in bits, and the bytes
/// of the partial block.
pub(super) struct ShaParts {
    pub(super) words: Vec<u64>,
    pub(super) bits: u128,
    pub(super) tail: Zeroizing<Vec<u8>>,
}

/// A SHA-1 or SHA-2 context, zeroized on drop (it may have absorbed key bytes).
#[derive(Clone)]
pub(super) enum ShaCtx {
    Sha1(sys::SHA_CTX),
    Sha256(sys::SHA256_CTX, HashAlg),
    Sha512(sys::SHA512_CTX, HashAlg),
}

impl Drop for ShaCtx {
    fn drop(&mut self) {
        match self {
            ShaCtx::Sha1(c) => {
                c.h.zeroize();
                c.data.zeroize();
            }
            ShaCtx::Sha256(c, _) => {
                c.h.zeroize();
                c.data.zeroize();
            }
            ShaCtx::Sha512(c, _) => {
                c.h.zeroize();
                c.p.zeroize();
            }
        }
    }
}

impl ShaCtx {
    pub(super) fn new(alg: HashAlg) -> ShaCtx {
        let c32 = || sys::SHA256_CTX {
            h: [0; 8],
            Nl: 0,
            Nh: 0,
            data: [0; 64],
            num: 0,
            md_len: 0,
        };
        let c64 = || sys::SHA512_CTX {
            h: [0; 8],
            Nl: 0,
            Nh: 0,
            p: [0; 128],
            num: 0,
            md_len: 0,
        };
        // SAFETY (every arm): the Init functions only write the context we pass, which is a
        // live, properly typed local; they cannot fail.
        match alg {
            HashAlg::Sha1 => {
                let mut c = sys::SHA_CTX {
                    h: [0; 5],
                    Nl: 0,
                    Nh: 0,
                    data: [0; 64],
                    num: 0,
                };
                // SAFETY: see above.
                unsafe { sys::SHA1_Init(&mut c) };
                ShaCtx::Sha1(c)
            }
            HashAlg::Sha224 | HashAlg::Sha256 => {
                let mut c = c32();
                // SAFETY: see above.
                unsafe {
                    if alg == HashAlg::Sha224 {
                        sys::SHA224_Init(&mut c)
                    } else {
                        sys::SHA256_Init(&mut c)
                    }
                };
                ShaCtx::Sha256(c, alg)
            }
            HashAlg::Sha384 | HashAlg::Sha512 => {
                let mut c = c64();
                // SAFETY: see above.
                unsafe {
                    if alg == HashAlg::Sha384 {
                        sys::SHA384_Init(&mut c)
                    } else {
                        sys::SHA512_Init(&mut c)
                    }
                };
                ShaCtx::Sha512(c, alg)
            }
        }
    }

    pub(super) fn update(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        // SAFETY: the context is live and initialized; `data` is a valid slice. The SHA-224
        // and SHA-384 updates are those of SHA-256 and SHA-512.
        unsafe {
            match self {
                ShaCtx::Sha1(c) => sys::SHA1_Update(c, data.as_ptr().cast(), data.len()),
                ShaCtx::Sha256(c, _) => sys::SHA256_Update(c, data.as_ptr().cast(), data.len()),
                ShaCtx::Sha512(c, _) => sys::SHA512_Update(c, data.as_ptr().cast(), data.len()),
            }
        };
    }

    pub(super) fn finish(mut self, out_len: usize) -> Vec<u8> {
        let mut out = vec![0u8; 64];
        // SAFETY: `out` has 64 writable bytes, enough for every digest; the context is live.
        unsafe {
            match &mut self {
                ShaCtx::Sha1(c) => sys::SHA1_Final(out.as_mut_ptr(), c),
                ShaCtx::Sha256(c, HashAlg::Sha224) => sys::SHA224_Final(out.as_mut_ptr(), c),
                ShaCtx::Sha256(c, _) => sys::SHA256_Final(out.as_mut_ptr(), c),
                ShaCtx::Sha512(c, HashAlg::Sha384) => sys::SHA384_Final(out.as_mut_ptr(), c),
                ShaCtx::Sha512(c, _) => sys::SHA512_Final(out.as_mut_ptr(), c),
            }
        };
        out.truncate(out_len);
        out
    }

    /// The state, to continue elsewhere.
    pub(super) fn export(&self) -> ShaParts {
        match self {
            ShaCtx::Sha1(c) => ShaParts {
                words: c.h.iter().map(|&w| u64::from(w)).collect(),
                bits: (u128::from(c.Nh) << 32) | u128::from(c.Nl),
                tail: Zeroizing::new(c.data[..c.num as usize].to_vec()),
            },
            ShaCtx::Sha256(c, _) => ShaParts {
                words: c.h.iter().map(|&w| u64::from(w)).collect(),
                bits: (u128::from(c.Nh) << 32) | u128::from(c.Nl),
                tail: Zeroizing::new(c.data[..c.num as usize].to_vec()),
            },
            ShaCtx::Sha512(c, _) => ShaParts {
                words: c.h.to_vec(),
                bits: (u128::from(c.Nh) << 64) | u128::from(c.Nl),
                tail: Zeroizing::new(c.p[..c.num as usize].to_vec()),
            },
        }
    }

    /// A context continuing from `parts`; inconsistent parts (word count, a length that is
    /// not whole bytes or does not match the partial block): `ArgumentsBad`.
    pub(super) fn import(alg: HashAlg, parts: &ShaParts) -> Result<ShaCtx> {
        let mut ctx = ShaCtx::new(alg);
        let block: u128 = match alg {
            HashAlg::Sha1 | HashAlg::Sha224 | HashAlg::Sha256 => 64,
            HashAlg::Sha384 | HashAlg::Sha512 => 128,
        };
        let bytes = parts.bits / 8;
        let consistent = parts.bits.is_multiple_of(8)
            && bytes % block == parts.tail.len() as u128
            && parts.tail.len() < block as usize;
        let bad = || Error::ArgumentsBad;
        if !consistent {
            return Err(bad());
        }
        let num = c_uint::try_from(parts.tail.len()).map_err(|_| bad())?;
        let word32 = |w: &u64| u32::try_from(*w).map_err(|_| bad());
        match &mut ctx {
            ShaCtx::Sha1(c) => {
                if parts.words.len() != 5 || parts.bits >> 64 != 0 {
                    return Err(bad());
                }
                for (d, s) in c.h.iter_mut().zip(&parts.words) {
                    *d = word32(s)?;
                }
                c.Nl = parts.bits as u32;
                c.Nh = (parts.bits >> 32) as u32;
                c.data[..parts.tail.len()].copy_from_slice(&parts.tail);
                c.num = num;
            }
            ShaCtx::Sha256(c, _) => {
                if parts.words.len() != 8 || parts.bits >> 64 != 0 {
                    return Err(bad());
                }
                for (d, s) in c.h.iter_mut().zip(&parts.words) {
                    *d = word32(s)?;
                }
                c.Nl = parts.bits as u32;
                c.Nh = (parts.bits >> 32) as u32;
                c.data[..parts.tail.len()].copy_from_slice(&parts.tail);
                c.num = num;
            }
            ShaCtx::Sha512(c, _) => {
                if parts.words.len() != 8 {
                    return Err(bad());
                }
                c.h.copy_from_slice(&parts.words);
                c.Nl = parts.bits as u64;
                c.Nh = (parts.bits >> 64) as u64;
                c.p[..parts.tail.len()].copy_from_slice(&parts.tail);
                c.num = num;
            }
        }
        Ok(ctx)
    }
}

// ---------------------------------------------------------------------------------------------
// Finite-field Diffie-Hellman and DSA (legacy; not in the FIPS build's mechanism table)

/// Bytes of a BIGNUM read through a getter, or empty when absent.
///
/// # Safety
/// `bn` is null or valid for the duration of the call.
unsafe fn opt_bytes(bn: *const sys::BIGNUM) -> Zeroizing<Vec<u8>> {
    // SAFETY: the caller's contract.
    unsafe { bn_bytes(bn) }
}

/// The RFC 7919 group (p, g) of `bits` (2048, 3072, 4096 or 8192), else `KeySizeRange`.
pub(super) fn ffdhe_group(bits: usize) -> Result<(Vec<u8>, Vec<u8>)> {
    let nid = match bits {
        2048 => sys::NID_ffdhe2048,
        3072 => sys::NID_ffdhe3072,
        4096 => sys::NID_ffdhe4096,
        8192 => sys::NID_ffdhe8192,
        _ => return Err(Error::KeySizeRange),
    };
    // SAFETY: DH_new_by_nid returns a new DH or null.
    let dh = Dh::wrap(unsafe { sys::DH_new_by_nid(nid as c_int) })?;
    let (mut p, mut g) = (ptr::null(), ptr::null());
    // SAFETY: `dh` is live; the getters write borrowed pointers into our locals.
    let out = unsafe {
        sys::DH_get0_pqg(dh.ptr.as_ptr(), &mut p, ptr::null_mut(), &mut g);
        (bn_bytes(p).to_vec(), bn_bytes(g).to_vec())
    };
    Ok(out)
}

/// An aws-lc `DH` (domain parameters and, when private, the private value).
pub(super) struct Dh {
    ptr: NonNull<sys::DH>,
}

// SAFETY: once built a DH is only read (DH_compute_key_padded takes `DH *` but only to build
// its Montgomery context lazily, under aws-lc's own lock), so sharing between threads is sound.
unsafe impl Send for Dh {}
// SAFETY: as above.
unsafe impl Sync for Dh {}

impl Drop for Dh {
    fn drop(&mut self) {
        // SAFETY: we own the DH; DH_free clears its private value.
        unsafe { sys::DH_free(self.ptr.as_ptr()) }
    }
}

impl Dh {
    fn wrap(p: *mut sys::DH) -> Result<Dh> {
        NonNull::new(p)
            .map(|ptr| Dh { ptr })
            .ok_or(())
            .or_else(|()| fail())
    }

    fn with_params(p: &[u8], g: &[u8]) -> Result<Dh> {
        // SAFETY: DH_new returns a new DH or null.
        let dh = Dh::wrap(unsafe { sys::DH_new() })?;
        let (p, g) = (Bn::from_bytes(p, false)?, Bn::from_bytes(g, false)?);
        // SAFETY: `dh` is live; DH_set0_pqg takes ownership of p and g on success (on failure
        // they leak, which only happens on allocation failure).
        check(unsafe {
            sys::DH_set0_pqg(dh.ptr.as_ptr(), p.into_raw(), ptr::null_mut(), g.into_raw())
        })?;
        Ok(dh)
    }

    /// Whether p is a safe prime (instant for the RFC 7919 / 3526 groups aws-lc knows; a
    /// primality test otherwise).
    pub(super) fn check_safe_prime(p: &[u8], g: &[u8]) -> Result<bool> {
        let dh = Dh::with_params(p, g)?;
        let mut flags: c_int = 0;
        // SAFETY: `dh` is live; `flags` is writable.
        check(unsafe { sys::DH_check(dh.ptr.as_ptr(), &mut flags) })?;
        let bad = (sys::DH_CHECK_P_NOT_PRIME | sys::DH_CHECK_P_NOT_SAFE_PRIME) as c_int;
        Ok(flags & bad == 0)
    }

    /// A new key pair on (p, g): (public value, private value).
    pub(super) fn generate(
        p: &[u8],
        g: &[u8],
        priv_bits: Option<u32>,
    ) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let dh = Dh::with_params(p, g)?;
        if let Some(bits) = priv_bits {
            // SAFETY: `dh` is live.
            check(unsafe { sys::DH_set_length(dh.ptr.as_ptr(), bits) })?;
        }
        // SAFETY: `dh` is live with its parameters set.
        check(unsafe { sys::DH_generate_key(dh.ptr.as_ptr()) })?;
        let (mut y, mut x) = (ptr::null(), ptr::null());
        // SAFETY: `dh` is live; the getter writes borrowed pointers into our locals, read
        // before `dh` drops.
        let out = unsafe {
            sys::DH_get0_key(dh.ptr.as_ptr(), &mut y, &mut x);
            (opt_bytes(y).to_vec(), opt_bytes(x))
        };
        Ok(out)
    }

    /// A private key (p, g, x).
    pub(super) fn private(p: &[u8], g: &[u8], x: &[u8]) -> Result<Dh> {
        let dh = Dh::with_params(p, g)?;
        let x = Bn::from_bytes(x, true)?;
        // SAFETY: `dh` is live; DH_set0_key takes ownership of x (no public value needed).
        check(unsafe { sys::DH_set0_key(dh.ptr.as_ptr(), ptr::null_mut(), x.into_raw()) })?;
        Ok(dh)
    }

    /// The shared secret with the peer's public value, left-padded to the length of p. The
    /// caller checked the peer value's range.
    pub(super) fn compute(&self, peer: &[u8], p_len: usize) -> Result<Zeroizing<Vec<u8>>> {
        let peer = Bn::from_bytes(peer, false)?;
        // SAFETY: `dh` is live.
        let size = unsafe { sys::DH_size(self.ptr.as_ptr()) } as usize;
        if size != p_len {
            return fail();
        }
        let mut out = Zeroizing::new(vec![0u8; size]);
        // SAFETY: `out` has DH_size bytes as DH_compute_key_padded requires; the peer value and
        // the DH are live.
        let n = unsafe {
            sys::DH_compute_key_padded(out.as_mut_ptr(), peer.as_ptr(), self.ptr.as_ptr())
        };
        if usize::try_from(n) != Ok(size) {
            return fail();
        }
        Ok(out)
    }
}

/// An aws-lc `DSA` key (public or private).
pub(super) struct Dsa {
    ptr: NonNull<sys::DSA>,
    q_len: usize,
}

// SAFETY: once built a DSA key is only read (signing and verification take `const DSA *`).
unsafe impl Send for Dsa {}
// SAFETY: as above.
unsafe impl Sync for Dsa {}

impl Drop for Dsa {
    fn drop(&mut self) {
        // SAFETY: we own the DSA; DSA_free clears its private value.
        unsafe { sys::DSA_free(self.ptr.as_ptr()) }
    }
}

impl Dsa {
    fn wrap(p: *mut sys::DSA) -> Result<Dsa> {
        match NonNull::new(p) {
            Some(ptr) => Ok(Dsa { ptr, q_len: 0 }),
            None => fail(),
        }
    }

    fn pqg_of(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (mut p, mut q, mut g) = (ptr::null(), ptr::null(), ptr::null());
        // SAFETY: the DSA is live; the getter writes borrowed pointers read right away.
        unsafe {
            sys::DSA_get0_pqg(self.ptr.as_ptr(), &mut p, &mut q, &mut g);
            (
                bn_bytes(p).to_vec(),
                bn_bytes(q).to_vec(),
                bn_bytes(g).to_vec(),
            )
        }
    }

    /// New domain parameters (FIPS 186-4, SHA-256, q of 256 bits) with a p of `bits` bits.
    pub(super) fn generate_params(bits: u32) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        // SAFETY: DSA_new returns a new DSA or null.
        let dsa = Dsa::wrap(unsafe { sys::DSA_new() })?;
        // SAFETY: `dsa` is live; no seed, counter or callback.
        check(unsafe {
            sys::DSA_generate_parameters_ex(
                dsa.ptr.as_ptr(),
                bits,
                ptr::null(),
                0,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        })?;
        Ok(dsa.pqg_of())
    }

    fn with_params(p: &[u8], q: &[u8], g: &[u8]) -> Result<Dsa> {
        // SAFETY: DSA_new returns a new DSA or null.
        let mut dsa = Dsa::wrap(unsafe { sys::DSA_new() })?;
        let (pb, qb, gb) = (
            Bn::from_bytes(p, false)?,
            Bn::from_bytes(q, false)?,
            Bn::from_bytes(g, false)?,
        );
        // SAFETY: `qb` is live.
        dsa.q_len = (unsafe { sys::BN_num_bits(qb.as_ptr()) } as usize).div_ceil(8);
        // SAFETY: `dsa` is live; DSA_set0_pqg takes ownership of the three values.
        check(unsafe {
            sys::DSA_set0_pqg(
                dsa.ptr.as_ptr(),
                pb.into_raw(),
                qb.into_raw(),
                gb.into_raw(),
            )
        })?;
        Ok(dsa)
    }

    /// A new key pair on (p, q, g): (y, x).
    pub(super) fn generate(p: &[u8], q: &[u8], g: &[u8]) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
        let dsa = Dsa::with_params(p, q, g)?;
        // SAFETY: `dsa` is live with its parameters.
        check(unsafe { sys::DSA_generate_key(dsa.ptr.as_ptr()) })?;
        let (mut y, mut x) = (ptr::null(), ptr::null());
        // SAFETY: as in `pqg_of`.
        let out = unsafe {
            sys::DSA_get0_key(dsa.ptr.as_ptr(), &mut y, &mut x);
            (opt_bytes(y).to_vec(), opt_bytes(x))
        };
        Ok(out)
    }

    /// A key from (p, q, g) and the public value y or the private value x (then y = g^x mod p
    /// is computed, in constant time, as aws-lc wants both).
    pub(super) fn new(p: &[u8], q: &[u8], g: &[u8], value: &[u8], private: bool) -> Result<Dsa> {
        let dsa = Dsa::with_params(p, q, g)?;
        let v = Bn::from_bytes(value, private)?;
        let (y, x) = if private {
            let (pb, gb) = (Bn::from_bytes(p, false)?, Bn::from_bytes(g, false)?);
            let y = Bn::from_bytes(&[], false)?;
            // SAFETY: BN_CTX_new returns a new context or null, freed below.
            let ctx = unsafe { sys::BN_CTX_new() };
            if ctx.is_null() {
                return fail();
            }
            // SAFETY: every BIGNUM is live; `y` is ours to write; the context is freed once.
            let rc = unsafe {
                let rc = sys::BN_mod_exp_mont_consttime(
                    y.ptr.as_ptr(),
                    gb.as_ptr(),
                    v.as_ptr(),
                    pb.as_ptr(),
                    ctx,
                    ptr::null(),
                );
                sys::BN_CTX_free(ctx);
                rc
            };
            check(rc)?;
            (y.into_raw(), v.into_raw())
        } else {
            (v.into_raw(), ptr::null_mut())
        };
        // SAFETY: `dsa` is live; DSA_set0_key takes ownership of the value given.
        check(unsafe { sys::DSA_set0_key(dsa.ptr.as_ptr(), y, x) })?;
        Ok(dsa)
    }

    pub(super) fn q_len(&self) -> usize {
        self.q_len
    }

    /// A signature r || s, each left-padded to the length of q.
    pub(super) fn sign(&self, digest: &[u8]) -> Result<Vec<u8>> {
        // SAFETY: `digest` is a valid slice; the DSA is live.
        let sig = unsafe { sys::DSA_do_sign(digest.as_ptr(), digest.len(), self.ptr.as_ptr()) };
        if sig.is_null() {
            return fail();
        }
        let (mut r, mut s) = (ptr::null(), ptr::null());
        // SAFETY: `sig` is a live DSA_SIG we own and free below; r and s are read before.
        unsafe {
            sys::DSA_SIG_get0(sig, &mut r, &mut s);
            let out = bn_padded(r, self.q_len).and_then(|r| {
                let s = bn_padded(s, self.q_len)?;
                Ok([&r[..], &s[..]].concat())
            });
            sys::DSA_SIG_free(sig);
            out
        }
    }

    /// Whether `r || s` (the caller checked its length) is a valid signature of `digest`.
    pub(super) fn verify(&self, digest: &[u8], sig: &[u8]) -> Result<bool> {
        let (r, s) = sig.split_at(sig.len() / 2);
        let (r, s) = (Bn::from_bytes(r, false)?, Bn::from_bytes(s, false)?);
        // SAFETY: DSA_SIG_new returns a new DSA_SIG or null.
        let dsig = unsafe { sys::DSA_SIG_new() };
        if dsig.is_null() {
            return fail();
        }
        let mut valid: c_int = 0;
        // SAFETY: `dsig` is live and takes ownership of r and s; the digest and DSA are live;
        // `dsig` is freed once, after the check.
        let rc = unsafe {
            let set = sys::DSA_SIG_set0(dsig, r.into_raw(), s.into_raw());
            let rc = if set == 1 {
                sys::DSA_do_check_signature(
                    &mut valid,
                    digest.as_ptr(),
                    digest.len(),
                    dsig,
                    self.ptr.as_ptr(),
                )
            } else {
                0
            };
            sys::DSA_SIG_free(dsig);
            rc
        };
        if rc != 1 {
            // A malformed signature (e.g. r or s out of range) is simply invalid.
            // SAFETY: only touches aws-lc's thread-local error queue.
            unsafe { sys::ERR_clear_error() };
            return Ok(false);
        }
        Ok(valid == 1)
    }
}

// ChaCha20

/// The ChaCha20 keystream XORed into `data` in place, from block `counter` with the 12-byte
/// `nonce` (RFC 8439 layout: the nonce is state words 13..15). The caller keeps the 32-bit
/// counter from wrapping within `data`.
pub(super) fn chacha20(data: &mut [u8], key: &[u8; 32], nonce: &[u8; 12], counter: u32) {
    let p = data.as_mut_ptr();
    // SAFETY: `data` is valid for reads and writes of its length, in place (aws-lc allows
    // `in == out`); the key is 32 bytes and the nonce 12, as CRYPTO_chacha_20 reads.
    unsafe { sys::CRYPTO_chacha_20(p, p, data.len(), key.as_ptr(), nonce.as_ptr(), counter) }
}

// ---------------------------------------------------------------------------------------------
// ML-DSA with a context string (FIPS 204 §5.2, the `ctx` input aws-lc-rs does not expose)

/// An owned EVP_PKEY.
struct Pkey(NonNull<sys::EVP_PKEY>);

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: we own the key and free it once (aws-lc clears its private material).
        unsafe { sys::EVP_PKEY_free(self.0.as_ptr()) }
    }
}

/// An owned EVP_MD_CTX.
struct MdCtx(NonNull<sys::EVP_MD_CTX>);

impl Drop for MdCtx {
    fn drop(&mut self) {
        // SAFETY: we own the context and free it once.
        unsafe { sys::EVP_MD_CTX_free(self.0.as_ptr()) }
    }
}

fn mldsa_nid(level: u32) -> Result<c_int> {
    match level {
        44 => Ok(sys::NID_MLDSA44),
        65 => Ok(sys::NID_MLDSA65),
        87 => Ok(sys::NID_MLDSA87),
        _ => fail(),
    }
}

fn md_ctx() -> Result<MdCtx> {
    // SAFETY: returns a fresh context or null.
    match NonNull::new(unsafe { sys::EVP_MD_CTX_new() }) {
        Some(p) => Ok(MdCtx(p)),
        None => fail(),
    }
}

/// ML-DSA-`level` signature of `msg` under the expanded private key `sk`, with `context`
/// (at most 255 bytes; hedged, as aws-lc signs).
pub(super) fn mldsa_sign_ctx(level: u32, sk: &[u8], msg: &[u8], context: &[u8]) -> Result<Vec<u8>> {
    let nid = mldsa_nid(level)?;
    // SAFETY: `sk` is a valid slice; a null result is handled.
    let key = match NonNull::new(unsafe {
        sys::EVP_PKEY_pqdsa_new_raw_private_key(nid, sk.as_ptr(), sk.len())
    }) {
        Some(p) => Pkey(p),
        None => return fail(),
    };
    let ctx = md_ctx()?;
    let mut pctx: *mut sys::EVP_PKEY_CTX = ptr::null_mut();
    let mut len = 0usize;
    // SAFETY: `ctx` and `key` are live objects we own; `pctx` is owned by `ctx` and used only
    // while it lives; every buffer is a valid slice of the length passed; the first
    // EVP_DigestSign call (null output) asks for the signature length, the second writes at
    // most that many bytes into `sig`.
    unsafe {
        check(sys::EVP_DigestSignInit(
            ctx.0.as_ptr(),
            &mut pctx,
            ptr::null(),
            ptr::null_mut(),
            key.0.as_ptr(),
        ))?;
        check(sys::EVP_PKEY_CTX_set1_signature_context_string(
            pctx,
            context.as_ptr(),
            context.len(),
        ))?;
        check(sys::EVP_DigestSign(
            ctx.0.as_ptr(),
            ptr::null_mut(),
            &mut len,
            msg.as_ptr(),
            msg.len(),
        ))?;
        let mut sig = vec![0u8; len];
        check(sys::EVP_DigestSign(
            ctx.0.as_ptr(),
            sig.as_mut_ptr(),
            &mut len,
            msg.as_ptr(),
            msg.len(),
        ))?;
        sig.truncate(len);
        Ok(sig)
    }
}

/// Whether `sig` is an ML-DSA-`level` signature of `msg` with `context` under `pk`.
pub(super) fn mldsa_verify_ctx(
    level: u32,
    pk: &[u8],
    msg: &[u8],
    sig: &[u8],
    context: &[u8],
) -> Result<bool> {
    let nid = mldsa_nid(level)?;
    // SAFETY: `pk` is a valid slice; a null result is handled.
    let key = match NonNull::new(unsafe {
        sys::EVP_PKEY_pqdsa_new_raw_public_key(nid, pk.as_ptr(), pk.len())
    }) {
        Some(p) => Pkey(p),
        None => return fail(),
    };
    let ctx = md_ctx()?;
    let mut pctx: *mut sys::EVP_PKEY_CTX = ptr::null_mut();
    // SAFETY: as in `mldsa_sign_ctx`; the signature and message are valid slices.
    let ok = unsafe {
        check(sys::EVP_DigestVerifyInit(
            ctx.0.as_ptr(),
            &mut pctx,
            ptr::null(),
            ptr::null_mut(),
            key.0.as_ptr(),
        ))?;
        check(sys::EVP_PKEY_CTX_set1_signature_context_string(
            pctx,
            context.as_ptr(),
            context.len(),
        ))?;
        sys::EVP_DigestVerify(
            ctx.0.as_ptr(),
            sig.as_ptr(),
            sig.len(),
            msg.as_ptr(),
            msg.len(),
        ) == 1
    };
    // SAFETY: ERR_clear_error only touches aws-lc's thread-local error queue.
    unsafe { sys::ERR_clear_error() };
    Ok(ok)
}

// ---------------------------------------------------------------------------------------------
// Wiping and fork detection

/// Overwrites `buf` with zeros in one pass the compiler may not elide (aws-lc's
/// `OPENSSL_cleanse`: a `memset` followed by a compiler barrier). Much faster than a
/// byte-at-a-time volatile loop on large buffers.
pub(super) fn cleanse(buf: &mut [u8]) {
    if buf.is_empty() {
        return;
    }
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes.
    unsafe { sys::OPENSSL_cleanse(buf.as_mut_ptr().cast(), buf.len()) }
}

/// Bumped in the child of every `fork()` once [`fork_generation`] has been called.
static FORK_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static FORK_HOOK: std::sync::Once = std::sync::Once::new();

extern "C" fn note_fork_in_child() {
    FORK_GENERATION.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
}

/// A number that changes in a child process after `fork()` (from the first call on: the
/// `pthread_atfork` child handler is registered then). State derived from secrets that must
/// not be shared between parent and child (buffered random bytes) records it and is discarded
/// when it changes.
pub(super) fn fork_generation() -> u64 {
    FORK_HOOK.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function that never unwinds (an atomic add)
        // as the child handler; no prepare or parent handler.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(note_fork_in_child)) };
        if rc != 0 {
            // Without the handler a fork could not be noticed: never reuse state across one
            // by making every generation different.
            FORK_GENERATION.store(u64::MAX, std::sync::atomic::Ordering::Release);
        }
    });
    let g = FORK_GENERATION.load(std::sync::atomic::Ordering::Acquire);
    if g == u64::MAX {
        // Registration failed: report a new generation every time (callers then never keep
        // state between calls).
        return FORK_GENERATION_FALLBACK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    g
}

static FORK_GENERATION_FALLBACK: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(1 << 63);

// ---------------------------------------------------------------------------------------------
// AES-GCM, out of place

/// An AES-GCM key prepared once (aws-lc `EVP_AEAD_CTX`, 128-bit tags, 96-bit nonces), for
/// sealing from the caller's input straight into the caller's output buffer: aws-lc-rs only
/// seals in place, which costs a copy of the whole input first.
pub(super) struct AeadGcm(NonNull<sys::EVP_AEAD_CTX>);

// SAFETY: the context is immutable after creation; aws-lc's seal and open take it `const` and
// keep no per-call state in it, so it may be used from several threads at once.
unsafe impl Send for AeadGcm {}
// SAFETY: as above.
unsafe impl Sync for AeadGcm {}

impl Drop for AeadGcm {
    fn drop(&mut self) {
        // SAFETY: we own the context; freeing it cleanses its key schedule.
        unsafe { sys::EVP_AEAD_CTX_free(self.0.as_ptr()) }
    }
}

impl AeadGcm {
    /// `key` must be 16, 24 or 32 bytes, else `KeySizeRange`.
    pub(super) fn new(key: &[u8]) -> Result<AeadGcm> {
        // SAFETY: these return pointers to static method tables.
        let aead = unsafe {
            match key.len() {
                16 => sys::EVP_aead_aes_128_gcm(),
                24 => sys::EVP_aead_aes_192_gcm(),
                32 => sys::EVP_aead_aes_256_gcm(),
                _ => return Err(Error::KeySizeRange),
            }
        };
        // SAFETY: `key` is valid for `key.len()` bytes; tag length 0 asks for the default (16).
        let ctx = unsafe { sys::EVP_AEAD_CTX_new(aead, key.as_ptr(), key.len(), 0) };
        match NonNull::new(ctx) {
            Some(p) => Ok(AeadGcm(p)),
            None => fail(),
        }
    }

    /// Encrypts `pt` into `ct` (the same length; distinct buffers) under a 12-byte `nonce`,
    /// and returns the full 16-byte tag.
    pub(super) fn seal(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        pt: &[u8],
        ct: &mut [u8],
    ) -> Result<[u8; 16]> {
        if ct.len() != pt.len() {
            return fail();
        }
        let mut tag = [0u8; 16];
        let mut tag_len = 0usize;
        // SAFETY: `ct` and `pt` are valid for `pt.len()` bytes and do not overlap (a `&mut`
        // and a `&` slice); `tag` has room for the 16-byte tag; nonce and AAD are valid for
        // their lengths; no extra input.
        let rc = unsafe {
            sys::EVP_AEAD_CTX_seal_scatter(
                self.0.as_ptr(),
                ct.as_mut_ptr(),
                tag.as_mut_ptr(),
                &mut tag_len,
                tag.len(),
                nonce.as_ptr(),
                nonce.len(),
                pt.as_ptr(),
                pt.len(),
                ptr::null(),
                0,
                aad.as_ptr(),
                aad.len(),
            )
        };
        check(rc)?;
        if tag_len != tag.len() {
            return fail();
        }
        Ok(tag)
    }
}
