//! docs/mechanisms.md is generated from what the module reports: every mechanism of
//! C_GetMechanismList with the functions and key sizes of its C_GetMechanismInfo, beside the
//! coverage of AWS CloudHSM (its published mechanism matrix, /work/shared/reference/cloudhsm-sdk5.md
//! section 2.1, recorded below) and of SoftHSMv2 (what its C_GetMechanismList / C_GetMechanismInfo
//! report, recorded below from Debian's softhsm2 2.6.1 so this test does not depend on it being
//! installed).
//!
//! The test regenerates the part of the file between the markers and fails if it differs,
//! printing the fresh table. Update the file with
//! `UPDATE_MECHANISMS_DOC=1 cargo test --release --test mechanisms_doc`; text outside the
//! markers is kept. Refresh the SoftHSMv2 table from an installed library with
//! `cargo test --release --test mechanisms_doc softhsm -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use cryptoki_sys::*;

black_box_suite! {
    steps: [mechanisms];
    scenarios: [mechanisms_doc_is_current];
}

const DOC: &str = "docs/mechanisms.md";
const UPDATE_VAR: &str = "UPDATE_MECHANISMS_DOC";
const BEGIN: &str = "<!-- BEGIN GENERATED: mechanisms (tests/mechanisms_doc.rs; \
                     UPDATE_MECHANISMS_DOC=1 cargo test --release --test mechanisms_doc) -->";
const END: &str = "<!-- END GENERATED: mechanisms -->";

fn mechanisms_doc_is_current(env: &Env) {
    env.run("mechanisms");
}

/// One row of C_GetMechanismInfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Info {
    mech: CK_MECHANISM_TYPE,
    min: CK_ULONG,
    max: CK_ULONG,
    flags: CK_FLAGS,
}

/// C_GetMechanismList and C_GetMechanismInfo of a slot, through the raw symbols.
fn mechanism_infos(f: &cryptoki_sys::Pkcs11, slot: CK_SLOT_ID) -> Vec<Info> {
    let mut n: CK_ULONG = 0;
    // SAFETY: a size query: NULL list, `n` writable.
    let rv = unsafe { f.C_GetMechanismList(slot, std::ptr::null_mut(), &mut n) };
    assert_rv(rv, CKR_OK, "C_GetMechanismList (size)");
    let mut list = vec![0 as CK_MECHANISM_TYPE; n as usize];
    // SAFETY: `list` has room for `n` entries.
    let rv = unsafe { f.C_GetMechanismList(slot, list.as_mut_ptr(), &mut n) };
    assert_rv(rv, CKR_OK, "C_GetMechanismList");
    list.truncate(n as usize);
    let mut out: Vec<Info> = list
        .iter()
        .map(|&mech| {
            let mut info = CK_MECHANISM_INFO::default();
            // SAFETY: `info` is writable.
            let rv = unsafe { f.C_GetMechanismInfo(slot, mech, &mut info) };
            assert_rv(rv, CKR_OK, &format!("C_GetMechanismInfo({})", name(mech)));
            Info {
                mech,
                min: info.ulMinKeySize,
                max: info.ulMaxKeySize,
                flags: info.flags,
            }
        })
        .collect();
    out.sort_by_key(|i| i.mech);
    let before = out.len();
    out.dedup_by_key(|i| i.mech);
    assert_eq!(
        before,
        out.len(),
        "C_GetMechanismList lists a mechanism twice"
    );
    out
}

fn mechanisms(ctx: &Ctx) {
    let hsm = ctx.init();
    let ours = mechanism_infos(hsm.raw.sys(), hsm.slot.id());
    assert!(!ours.is_empty(), "the module lists no mechanism");
    // Every listed mechanism does something and has a sane key-size range.
    let functions = CKF_ENCRYPT
        | CKF_DECRYPT
        | CKF_DIGEST
        | CKF_SIGN
        | CKF_SIGN_RECOVER
        | CKF_VERIFY
        | CKF_VERIFY_RECOVER
        | CKF_GENERATE
        | CKF_GENERATE_KEY_PAIR
        | CKF_WRAP
        | CKF_UNWRAP
        | CKF_DERIVE
        | CKF_ENCAPSULATE
        | CKF_DECAPSULATE
        | CKF_MESSAGE_ENCRYPT
        | CKF_MESSAGE_DECRYPT
        | CKF_MESSAGE_SIGN
        | CKF_MESSAGE_VERIFY;
    for i in &ours {
        assert!(
            i.flags & functions != 0,
            "{} is listed without any function flag ({:#x})",
            name(i.mech),
            i.flags
        );
        assert!(
            i.min <= i.max,
            "{}: ulMinKeySize > ulMaxKeySize",
            name(i.mech)
        );
    }
    let fresh = generate(&ours);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DOC);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let update = std::env::var_os(UPDATE_VAR).is_some_and(|v| !v.is_empty() && v != "0");
    match splice(&current, &fresh) {
        Some(updated) if updated == current => {
            println!("{DOC} is current ({} mechanisms)", ours.len());
        }
        Some(updated) if update => {
            if ctx.transport == Transport::Direct {
                write_atomically(&path, &updated);
                println!("{DOC} updated ({} mechanisms)", ours.len());
            }
        }
        None if update => {
            if ctx.transport == Transport::Direct {
                let mut text = current.clone();
                if text.is_empty() {
                    text.push_str("# Mechanisms\n\n");
                }
                text.push_str(&format!("\n{BEGIN}\n{fresh}{END}\n"));
                write_atomically(&path, &text);
                println!("{DOC} written ({} mechanisms)", ours.len());
            }
        }
        _ => {
            println!("{fresh}");
            panic!(
                "{DOC} does not match what the module reports (the fresh table is printed \
                 above). Update it with `{UPDATE_VAR}=1 cargo test --release --test \
                 mechanisms_doc` and review the diff."
            );
        }
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp: PathBuf = path.with_extension("md.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `doc` with the generated part replaced by `fresh`, or None if it has no markers.
fn splice(doc: &str, fresh: &str) -> Option<String> {
    let b = doc.find(BEGIN)?;
    let after_begin = b + BEGIN.len();
    let e = after_begin + doc[after_begin..].find(END)?;
    Some(format!("{}\n{fresh}{}", &doc[..after_begin], &doc[e..]))
}

// ---------------------------------------------------------------------------- the document

/// A cell for a pair of functions: both, one of them, or none.
fn pair(flags: CK_FLAGS, a: CK_FLAGS, b: CK_FLAGS, a_name: &str, b_name: &str) -> String {
    match (flags & a != 0, flags & b != 0) {
        (true, true) => "✓".into(),
        (true, false) => format!("{a_name} only"),
        (false, true) => format!("{b_name} only"),
        (false, false) => String::new(),
    }
}

/// The coverage letters of another token (see the legend).
fn letters(flags: CK_FLAGS) -> String {
    let mut out = Vec::new();
    for (f, l) in [
        (CKF_GENERATE | CKF_GENERATE_KEY_PAIR, "G"),
        (CKF_ENCRYPT | CKF_DECRYPT, "E"),
        (CKF_SIGN | CKF_VERIFY, "S"),
        (CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER, "R"),
        (CKF_DIGEST, "H"),
        (CKF_WRAP | CKF_UNWRAP, "W"),
        (CKF_DERIVE, "X"),
        (CKF_ENCAPSULATE | CKF_DECAPSULATE, "K"),
        (
            CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY,
            "M",
        ),
    ] {
        if flags & f != 0 {
            out.push(l);
        }
    }
    if out.is_empty() {
        "✓".into()
    } else {
        out.join(" ")
    }
}

fn sizes(i: &Info) -> String {
    if i.min == 0 && i.max == 0 {
        "—".into()
    } else if i.max >= 0x8000_0000 {
        format!("{}–(no limit)", i.min)
    } else if i.min == i.max {
        i.min.to_string()
    } else {
        format!("{}–{}", i.min, i.max)
    }
}

fn generate(ours: &[Info]) -> String {
    let cloudhsm: BTreeMap<CK_MECHANISM_TYPE, CK_FLAGS> = cloudhsm_table();
    let softhsm: BTreeMap<CK_MECHANISM_TYPE, Info> =
        softhsm_table().into_iter().map(|i| (i.mech, i)).collect();
    let ours_set: BTreeMap<CK_MECHANISM_TYPE, &Info> = ours.iter().map(|i| (i.mech, i)).collect();
    let mut s = String::new();
    let covered = cloudhsm.keys().filter(|m| ours_set.contains_key(m)).count();
    let covered_soft = softhsm.keys().filter(|m| ours_set.contains_key(m)).count();
    s.push_str(&format!(
        "This module lists **{}** mechanisms. Of AWS CloudHSM's {} it offers {}; of SoftHSMv2's \
         {} it offers {}.\n\n",
        ours.len(),
        cloudhsm.len(),
        covered,
        softhsm.len(),
        covered_soft
    ));
    s.push_str(
        "Key sizes are CK_MECHANISM_INFO's ulMinKeySize–ulMaxKeySize as the module reports \
         them (bits or bytes, as the PKCS#11 specification defines for each mechanism). \
         Columns \"AWS CloudHSM\" and \"SoftHSMv2\": G generate, E encrypt/decrypt, \
         S sign/verify, R sign/verify-recover, H digest, W wrap/unwrap, X derive, \
         K encapsulate/decapsulate, M message-based; empty = not offered.\n\n",
    );
    s.push_str(
        "| Mechanism | Value | Encrypt / Decrypt | Sign / Verify | Sign / Verify recover \
         | Digest | Generate | Wrap / Unwrap | Derive | Encapsulate / Decapsulate \
         | Message-based | Key sizes | AWS CloudHSM | SoftHSMv2 |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for i in ours {
        let f = i.flags;
        let generate = match (f & CKF_GENERATE != 0, f & CKF_GENERATE_KEY_PAIR != 0) {
            (true, true) => "key, key pair",
            (true, false) => "key",
            (false, true) => "key pair",
            (false, false) => "",
        };
        let message: Vec<&str> = [
            (CKF_MESSAGE_ENCRYPT, "encrypt"),
            (CKF_MESSAGE_DECRYPT, "decrypt"),
            (CKF_MESSAGE_SIGN, "sign"),
            (CKF_MESSAGE_VERIFY, "verify"),
        ]
        .iter()
        .filter(|(fl, _)| f & fl != 0)
        .map(|(_, n)| *n)
        .collect();
        s.push_str(&format!(
            "| {} | {:#x} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            name(i.mech),
            i.mech,
            pair(f, CKF_ENCRYPT, CKF_DECRYPT, "encrypt", "decrypt"),
            pair(f, CKF_SIGN, CKF_VERIFY, "sign", "verify"),
            pair(f, CKF_SIGN_RECOVER, CKF_VERIFY_RECOVER, "sign", "verify"),
            if f & CKF_DIGEST != 0 { "✓" } else { "" },
            generate,
            pair(f, CKF_WRAP, CKF_UNWRAP, "wrap", "unwrap"),
            if f & CKF_DERIVE != 0 { "✓" } else { "" },
            pair(
                f,
                CKF_ENCAPSULATE,
                CKF_DECAPSULATE,
                "encapsulate",
                "decapsulate"
            ),
            message.join(", "),
            sizes(i),
            cloudhsm
                .get(&i.mech)
                .map_or_else(String::new, |f| letters(*f)),
            softhsm
                .get(&i.mech)
                .map_or_else(String::new, |i| letters(i.flags)),
        ));
    }
    let missing: Vec<CK_MECHANISM_TYPE> = cloudhsm
        .keys()
        .chain(softhsm.keys())
        .copied()
        .filter(|m| !ours_set.contains_key(m))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    s.push_str(&format!(
        "\nOffered by AWS CloudHSM or SoftHSMv2 but not by this module ({}):\n\n",
        missing.len()
    ));
    if missing.is_empty() {
        s.push_str("(none)\n");
    } else {
        s.push_str("| Mechanism | Value | AWS CloudHSM | SoftHSMv2 |\n|---|---|---|---|\n");
        for m in missing {
            s.push_str(&format!(
                "| {} | {m:#x} | {} | {} |\n",
                name(m),
                cloudhsm.get(&m).map_or_else(String::new, |f| letters(*f)),
                softhsm
                    .get(&m)
                    .map_or_else(String::new, |i| letters(i.flags)),
            ));
        }
    }
    s
}

// ---------------------------------------------------------------------------- AWS CloudHSM

/// AWS CloudHSM's mechanism matrix (Client SDK 5, /work/shared/reference/cloudhsm-sdk5.md
/// section 2.1, from the AWS "Supported mechanisms for the PKCS #11 library" page), as flags.
fn cloudhsm_table() -> BTreeMap<CK_MECHANISM_TYPE, CK_FLAGS> {
    let g = CKF_GENERATE;
    let gp = CKF_GENERATE_KEY_PAIR;
    let s = CKF_SIGN | CKF_VERIFY;
    let e = CKF_ENCRYPT | CKF_DECRYPT;
    let w = CKF_WRAP | CKF_UNWRAP;
    let h = CKF_DIGEST;
    let x = CKF_DERIVE;
    let v = |n: &str| vendor(n).unwrap_or_else(|| panic!("{n} not in the vendor header"));
    let mut t = vec![
        (CKM_RSA_PKCS_KEY_PAIR_GEN, gp),
        (CKM_RSA_X9_31_KEY_PAIR_GEN, gp),
        (CKM_EC_KEY_PAIR_GEN, gp),
        (v("CKM_CLOUDHSM_ML_DSA_KEY_PAIR_GEN"), gp),
        (CKM_GENERIC_SECRET_KEY_GEN, g),
        (CKM_AES_KEY_GEN, g),
        (CKM_DES3_KEY_GEN, g),
        (CKM_RSA_X_509, s | e),
        (CKM_RSA_PKCS, s | e | w),
        (CKM_RSA_PKCS_PSS, s),
        (CKM_SHA1_RSA_PKCS, s),
        (CKM_SHA224_RSA_PKCS, s),
        (CKM_SHA256_RSA_PKCS, s),
        (CKM_SHA384_RSA_PKCS, s),
        (CKM_SHA512_RSA_PKCS, s),
        (CKM_SHA1_RSA_PKCS_PSS, s),
        (CKM_SHA224_RSA_PKCS_PSS, s),
        (CKM_SHA256_RSA_PKCS_PSS, s),
        (CKM_SHA384_RSA_PKCS_PSS, s),
        (CKM_SHA512_RSA_PKCS_PSS, s),
        (CKM_RSA_PKCS_OAEP, e | w),
        (CKM_ECDSA, s),
        (CKM_ECDSA_SHA1, s),
        (CKM_ECDSA_SHA224, s),
        (CKM_ECDSA_SHA256, s),
        (CKM_ECDSA_SHA384, s),
        (CKM_ECDSA_SHA512, s),
        (v("CKM_CLOUDHSM_EDDSA"), s),
        (v("CKM_CLOUDHSM_ML_DSA"), s),
        (v("CKM_CLOUDHSM_EXT_MU_ML_DSA"), s),
        (CKM_SHA_1_HMAC, s),
        (CKM_SHA224_HMAC, s),
        (CKM_SHA256_HMAC, s),
        (CKM_SHA384_HMAC, s),
        (CKM_SHA512_HMAC, s),
        (CKM_AES_CMAC, s),
        (CKM_SHA_1, h),
        (CKM_SHA224, h),
        (CKM_SHA256, h),
        (CKM_SHA384, h),
        (CKM_SHA512, h),
        (CKM_AES_ECB, e),
        (CKM_AES_CTR, e),
        (CKM_AES_CBC, e),
        (CKM_AES_CBC_PAD, e),
        (CKM_DES3_CBC, e),
        (CKM_DES3_ECB, e),
        (CKM_DES3_CBC_PAD, e),
        (CKM_AES_GCM, e | w),
        (v("CKM_CLOUDHSM_AES_GCM"), e | w),
        (CKM_RSA_AES_KEY_WRAP, w),
        (v("CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD"), w),
        (v("CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD"), w),
        (v("CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD"), w),
        (v("CKM_CLOUDHSM_SP800_108_COUNTER_KDF"), x),
        (CKM_ECDH1_DERIVE, x),
    ];
    let n = t.len();
    t.sort_by_key(|(m, _)| *m);
    t.dedup_by_key(|(m, _)| *m);
    assert_eq!(n, t.len(), "the CloudHSM table lists a mechanism twice");
    t.into_iter().collect()
}

// ---------------------------------------------------------------------------- SoftHSMv2

/// SoftHSMv2 2.6.1 (Debian softhsm2 2.6.1-2.1): C_GetMechanismList / C_GetMechanismInfo of
/// its slot as (mechanism, ulMinKeySize, ulMaxKeySize, flags). Refresh with the ignored test
/// `softhsm_table_matches_the_installed_library`.
const SOFTHSM: &[(CK_MECHANISM_TYPE, CK_ULONG, CK_ULONG, CK_FLAGS)] = &[
    (0x0, 512, 16384, 0x10000),        // CKM_RSA_PKCS_KEY_PAIR_GEN
    (0x1, 512, 16384, 0x62b00),        // CKM_RSA_PKCS
    (0x3, 512, 16384, 0x2b00),         // CKM_RSA_X_509
    (0x5, 512, 16384, 0x2800),         // CKM_MD5_RSA_PKCS
    (0x6, 512, 16384, 0x2800),         // CKM_SHA1_RSA_PKCS
    (0x9, 512, 16384, 0x60300),        // CKM_RSA_PKCS_OAEP
    (0xd, 512, 16384, 0x2800),         // CKM_RSA_PKCS_PSS
    (0xe, 512, 16384, 0x2800),         // CKM_SHA1_RSA_PKCS_PSS
    (0x10, 512, 1024, 0x10000),        // CKM_DSA_KEY_PAIR_GEN
    (0x11, 512, 1024, 0x2800),         // CKM_DSA
    (0x12, 512, 1024, 0x2800),         // CKM_DSA_SHA1
    (0x13, 512, 1024, 0x2800),         // CKM_DSA_SHA224
    (0x14, 512, 1024, 0x2800),         // CKM_DSA_SHA256
    (0x15, 512, 1024, 0x2800),         // CKM_DSA_SHA384
    (0x16, 512, 1024, 0x2800),         // CKM_DSA_SHA512
    (0x20, 512, 10000, 0x10000),       // CKM_DH_PKCS_KEY_PAIR_GEN
    (0x21, 512, 10000, 0x80000),       // CKM_DH_PKCS_DERIVE
    (0x40, 512, 16384, 0x2800),        // CKM_SHA256_RSA_PKCS
    (0x41, 512, 16384, 0x2800),        // CKM_SHA384_RSA_PKCS
    (0x42, 512, 16384, 0x2800),        // CKM_SHA512_RSA_PKCS
    (0x43, 512, 16384, 0x2800),        // CKM_SHA256_RSA_PKCS_PSS
    (0x44, 512, 16384, 0x2800),        // CKM_SHA384_RSA_PKCS_PSS
    (0x45, 512, 16384, 0x2800),        // CKM_SHA512_RSA_PKCS_PSS
    (0x46, 512, 16384, 0x2800),        // CKM_SHA224_RSA_PKCS
    (0x47, 512, 16384, 0x2800),        // CKM_SHA224_RSA_PKCS_PSS
    (0x120, 0, 0, 0x8000),             // CKM_DES_KEY_GEN
    (0x121, 0, 0, 0x20300),            // CKM_DES_ECB
    (0x122, 0, 0, 0x20300),            // CKM_DES_CBC
    (0x125, 0, 0, 0x20300),            // CKM_DES_CBC_PAD
    (0x130, 0, 0, 0x8000),             // CKM_DES2_KEY_GEN
    (0x131, 0, 0, 0x8000),             // CKM_DES3_KEY_GEN
    (0x132, 0, 0, 0x300),              // CKM_DES3_ECB
    (0x133, 0, 0, 0x20300),            // CKM_DES3_CBC
    (0x136, 0, 0, 0x300),              // CKM_DES3_CBC_PAD
    (0x138, 0, 0, 0x2800),             // CKM_DES3_CMAC
    (0x210, 0, 0, 0x400),              // CKM_MD5
    (0x211, 16, 512, 0x2800),          // CKM_MD5_HMAC
    (0x220, 0, 0, 0x400),              // CKM_SHA_1
    (0x221, 20, 512, 0x2800),          // CKM_SHA_1_HMAC
    (0x250, 0, 0, 0x400),              // CKM_SHA256
    (0x251, 32, 512, 0x2800),          // CKM_SHA256_HMAC
    (0x255, 0, 0, 0x400),              // CKM_SHA224
    (0x256, 28, 512, 0x2800),          // CKM_SHA224_HMAC
    (0x260, 0, 0, 0x400),              // CKM_SHA384
    (0x261, 48, 512, 0x2800),          // CKM_SHA384_HMAC
    (0x270, 0, 0, 0x400),              // CKM_SHA512
    (0x271, 64, 512, 0x2800),          // CKM_SHA512_HMAC
    (0x350, 1, 2147483648, 0x8000),    // CKM_GENERIC_SECRET_KEY_GEN
    (0x1040, 112, 521, 0x1910000),     // CKM_EC_KEY_PAIR_GEN
    (0x1041, 112, 521, 0x1902800),     // CKM_ECDSA
    (0x1050, 112, 521, 0x80000),       // CKM_ECDH1_DERIVE
    (0x1055, 256, 456, 0x10000),       // CKM_EC_EDWARDS_KEY_PAIR_GEN
    (0x1057, 256, 456, 0x2800),        // CKM_EDDSA
    (0x1080, 16, 32, 0x8000),          // CKM_AES_KEY_GEN
    (0x1081, 16, 32, 0x300),           // CKM_AES_ECB
    (0x1082, 16, 32, 0x20300),         // CKM_AES_CBC
    (0x1085, 16, 32, 0x300),           // CKM_AES_CBC_PAD
    (0x1086, 16, 32, 0x300),           // CKM_AES_CTR
    (0x1087, 16, 32, 0x300),           // CKM_AES_GCM
    (0x108a, 16, 32, 0x2800),          // CKM_AES_CMAC
    (0x1100, 0, 0, 0x80000),           // CKM_DES_ECB_ENCRYPT_DATA
    (0x1101, 0, 0, 0x80000),           // CKM_DES_CBC_ENCRYPT_DATA
    (0x1102, 0, 0, 0x80000),           // CKM_DES3_ECB_ENCRYPT_DATA
    (0x1103, 0, 0, 0x80000),           // CKM_DES3_CBC_ENCRYPT_DATA
    (0x1104, 0, 0, 0x80000),           // CKM_AES_ECB_ENCRYPT_DATA
    (0x1105, 0, 0, 0x80000),           // CKM_AES_CBC_ENCRYPT_DATA
    (0x2000, 512, 1024, 0x8000),       // CKM_DSA_PARAMETER_GEN
    (0x2001, 512, 10000, 0x8000),      // CKM_DH_PKCS_PARAMETER_GEN
    (0x2109, 16, 2147483648, 0x60000), // CKM_AES_KEY_WRAP
    (0x210a, 1, 2147483648, 0x60000),  // CKM_AES_KEY_WRAP_PAD
];

fn softhsm_table() -> Vec<Info> {
    SOFTHSM
        .iter()
        .map(|&(mech, min, max, flags)| Info {
            mech,
            min,
            max,
            flags,
        })
        .collect()
}

const SOFTHSM_LIB: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Compares the recorded table with an installed SoftHSMv2 and prints the fresh one. Ignored
/// by default: the test suite must not depend on SoftHSMv2 being installed, nor on its version.
#[test]
#[ignore]
fn softhsm_table_matches_the_installed_library() {
    let lib = std::env::var("SOFTHSM2_LIB").unwrap_or_else(|_| SOFTHSM_LIB.into());
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::create_dir_all(dir.path().join("tokens")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    // SAFETY: loading SoftHSMv2, a PKCS#11 module, for its C_* functions.
    let f = unsafe { cryptoki_sys::Pkcs11::new(&lib) }.unwrap();
    // SAFETY: no arguments.
    let rv = unsafe { f.C_Initialize(std::ptr::null_mut()) };
    assert_rv(rv, CKR_OK, "SoftHSMv2 C_Initialize");
    let mut slots = [0 as CK_SLOT_ID; 8];
    let mut n = slots.len() as CK_ULONG;
    // SAFETY: `slots` has room for `n` entries.
    let rv = unsafe { f.C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut n) };
    assert_rv(rv, CKR_OK, "SoftHSMv2 C_GetSlotList");
    assert!(n > 0, "SoftHSMv2 has no slot");
    let infos = mechanism_infos(&f, slots[0]);
    // SAFETY: no arguments.
    unsafe { f.C_Finalize(std::ptr::null_mut()) };
    println!("const SOFTHSM: &[(CK_MECHANISM_TYPE, CK_ULONG, CK_ULONG, CK_FLAGS)] = &[");
    for i in &infos {
        println!(
            "    ({:#x}, {}, {}, {:#x}), // {}",
            i.mech,
            i.min,
            i.max,
            i.flags,
            name(i.mech)
        );
    }
    println!("];");
    assert_eq!(
        infos,
        softhsm_table(),
        "the installed SoftHSMv2 differs from the recorded table (the fresh one is printed)"
    );
}

// ---------------------------------------------------------------------------- names

macro_rules! names {
    ($($n:ident),* $(,)?) => {
        &[$(($n, stringify!($n))),*]
    };
}

/// Every CKM_* of PKCS#11 3.2 (cryptoki-sys), one name per value (the current spelling where
/// the headers keep an old alias).
const STANDARD: &[(CK_MECHANISM_TYPE, &str)] = names![
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_RSA_PKCS,
    CKM_RSA_9796,
    CKM_RSA_X_509,
    CKM_MD2_RSA_PKCS,
    CKM_MD5_RSA_PKCS,
    CKM_SHA1_RSA_PKCS,
    CKM_RIPEMD128_RSA_PKCS,
    CKM_RIPEMD160_RSA_PKCS,
    CKM_RSA_PKCS_OAEP,
    CKM_RSA_X9_31_KEY_PAIR_GEN,
    CKM_RSA_X9_31,
    CKM_SHA1_RSA_X9_31,
    CKM_RSA_PKCS_PSS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_ML_KEM_KEY_PAIR_GEN,
    CKM_DSA_KEY_PAIR_GEN,
    CKM_DSA,
    CKM_DSA_SHA1,
    CKM_DSA_SHA224,
    CKM_DSA_SHA256,
    CKM_DSA_SHA384,
    CKM_DSA_SHA512,
    CKM_ML_KEM,
    CKM_DSA_SHA3_224,
    CKM_DSA_SHA3_256,
    CKM_DSA_SHA3_384,
    CKM_DSA_SHA3_512,
    CKM_ML_DSA_KEY_PAIR_GEN,
    CKM_ML_DSA,
    CKM_HASH_ML_DSA,
    CKM_DH_PKCS_KEY_PAIR_GEN,
    CKM_DH_PKCS_DERIVE,
    CKM_HASH_ML_DSA_SHA224,
    CKM_HASH_ML_DSA_SHA256,
    CKM_HASH_ML_DSA_SHA384,
    CKM_HASH_ML_DSA_SHA512,
    CKM_HASH_ML_DSA_SHA3_224,
    CKM_HASH_ML_DSA_SHA3_256,
    CKM_HASH_ML_DSA_SHA3_384,
    CKM_HASH_ML_DSA_SHA3_512,
    CKM_HASH_ML_DSA_SHAKE128,
    CKM_HASH_ML_DSA_SHAKE256,
    CKM_SLH_DSA_KEY_PAIR_GEN,
    CKM_SLH_DSA,
    CKM_X9_42_DH_KEY_PAIR_GEN,
    CKM_X9_42_DH_DERIVE,
    CKM_X9_42_DH_HYBRID_DERIVE,
    CKM_X9_42_MQV_DERIVE,
    CKM_HASH_SLH_DSA,
    CKM_HASH_SLH_DSA_SHA224,
    CKM_HASH_SLH_DSA_SHA256,
    CKM_HASH_SLH_DSA_SHA384,
    CKM_HASH_SLH_DSA_SHA512,
    CKM_HASH_SLH_DSA_SHA3_224,
    CKM_HASH_SLH_DSA_SHA3_256,
    CKM_HASH_SLH_DSA_SHA3_384,
    CKM_HASH_SLH_DSA_SHA3_512,
    CKM_HASH_SLH_DSA_SHAKE128,
    CKM_HASH_SLH_DSA_SHAKE256,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS,
    CKM_SHA224_RSA_PKCS,
    CKM_SHA224_RSA_PKCS_PSS,
    CKM_SHA512_224,
    CKM_SHA512_224_HMAC,
    CKM_SHA512_224_HMAC_GENERAL,
    CKM_SHA512_256,
    CKM_SHA512_256_HMAC,
    CKM_SHA512_256_HMAC_GENERAL,
    CKM_SHA512_T,
    CKM_SHA512_T_HMAC,
    CKM_SHA512_T_HMAC_GENERAL,
    CKM_TLS12_EXTENDED_MASTER_KEY_DERIVE,
    CKM_TLS12_EXTENDED_MASTER_KEY_DERIVE_DH,
    CKM_SHA3_256_RSA_PKCS,
    CKM_SHA3_384_RSA_PKCS,
    CKM_SHA3_512_RSA_PKCS,
    CKM_SHA3_256_RSA_PKCS_PSS,
    CKM_SHA3_384_RSA_PKCS_PSS,
    CKM_SHA3_512_RSA_PKCS_PSS,
    CKM_SHA3_224_RSA_PKCS,
    CKM_SHA3_224_RSA_PKCS_PSS,
    CKM_RC2_KEY_GEN,
    CKM_RC2_ECB,
    CKM_RC2_CBC,
    CKM_RC2_MAC,
    CKM_RC2_MAC_GENERAL,
    CKM_RC2_CBC_PAD,
    CKM_RC4_KEY_GEN,
    CKM_RC4,
    CKM_DES_KEY_GEN,
    CKM_DES_ECB,
    CKM_DES_CBC,
    CKM_DES_MAC,
    CKM_DES_MAC_GENERAL,
    CKM_DES_CBC_PAD,
    CKM_DES2_KEY_GEN,
    CKM_DES3_KEY_GEN,
    CKM_DES3_ECB,
    CKM_DES3_CBC,
    CKM_DES3_MAC,
    CKM_DES3_MAC_GENERAL,
    CKM_DES3_CBC_PAD,
    CKM_DES3_CMAC_GENERAL,
    CKM_DES3_CMAC,
    CKM_CDMF_KEY_GEN,
    CKM_CDMF_ECB,
    CKM_CDMF_CBC,
    CKM_CDMF_MAC,
    CKM_CDMF_MAC_GENERAL,
    CKM_CDMF_CBC_PAD,
    CKM_DES_OFB64,
    CKM_DES_OFB8,
    CKM_DES_CFB64,
    CKM_DES_CFB8,
    CKM_MD2,
    CKM_MD2_HMAC,
    CKM_MD2_HMAC_GENERAL,
    CKM_MD5,
    CKM_MD5_HMAC,
    CKM_MD5_HMAC_GENERAL,
    CKM_SHA_1,
    CKM_SHA_1_HMAC,
    CKM_SHA_1_HMAC_GENERAL,
    CKM_RIPEMD128,
    CKM_RIPEMD128_HMAC,
    CKM_RIPEMD128_HMAC_GENERAL,
    CKM_RIPEMD160,
    CKM_RIPEMD160_HMAC,
    CKM_RIPEMD160_HMAC_GENERAL,
    CKM_SHA256,
    CKM_SHA256_HMAC,
    CKM_SHA256_HMAC_GENERAL,
    CKM_SHA224,
    CKM_SHA224_HMAC,
    CKM_SHA224_HMAC_GENERAL,
    CKM_SHA384,
    CKM_SHA384_HMAC,
    CKM_SHA384_HMAC_GENERAL,
    CKM_SHA512,
    CKM_SHA512_HMAC,
    CKM_SHA512_HMAC_GENERAL,
    CKM_SECURID_KEY_GEN,
    CKM_SECURID,
    CKM_HOTP_KEY_GEN,
    CKM_HOTP,
    CKM_ACTI,
    CKM_ACTI_KEY_GEN,
    CKM_SHA3_256,
    CKM_SHA3_256_HMAC,
    CKM_SHA3_256_HMAC_GENERAL,
    CKM_SHA3_256_KEY_GEN,
    CKM_SHA3_224,
    CKM_SHA3_224_HMAC,
    CKM_SHA3_224_HMAC_GENERAL,
    CKM_SHA3_224_KEY_GEN,
    CKM_SHA3_384,
    CKM_SHA3_384_HMAC,
    CKM_SHA3_384_HMAC_GENERAL,
    CKM_SHA3_384_KEY_GEN,
    CKM_SHA3_512,
    CKM_SHA3_512_HMAC,
    CKM_SHA3_512_HMAC_GENERAL,
    CKM_SHA3_512_KEY_GEN,
    CKM_CAST_KEY_GEN,
    CKM_CAST_ECB,
    CKM_CAST_CBC,
    CKM_CAST_MAC,
    CKM_CAST_MAC_GENERAL,
    CKM_CAST_CBC_PAD,
    CKM_CAST3_KEY_GEN,
    CKM_CAST3_ECB,
    CKM_CAST3_CBC,
    CKM_CAST3_MAC,
    CKM_CAST3_MAC_GENERAL,
    CKM_CAST3_CBC_PAD,
    CKM_CAST128_KEY_GEN,
    CKM_CAST128_ECB,
    CKM_CAST128_MAC,
    CKM_CAST128_CBC,
    CKM_CAST128_MAC_GENERAL,
    CKM_CAST128_CBC_PAD,
    CKM_RC5_KEY_GEN,
    CKM_RC5_ECB,
    CKM_RC5_CBC,
    CKM_RC5_MAC,
    CKM_RC5_MAC_GENERAL,
    CKM_RC5_CBC_PAD,
    CKM_IDEA_KEY_GEN,
    CKM_IDEA_ECB,
    CKM_IDEA_CBC,
    CKM_IDEA_MAC,
    CKM_IDEA_MAC_GENERAL,
    CKM_IDEA_CBC_PAD,
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_CONCATENATE_BASE_AND_KEY,
    CKM_CONCATENATE_BASE_AND_DATA,
    CKM_CONCATENATE_DATA_AND_BASE,
    CKM_XOR_BASE_AND_DATA,
    CKM_EXTRACT_KEY_FROM_KEY,
    CKM_SSL3_PRE_MASTER_KEY_GEN,
    CKM_SSL3_MASTER_KEY_DERIVE,
    CKM_SSL3_KEY_AND_MAC_DERIVE,
    CKM_SSL3_MASTER_KEY_DERIVE_DH,
    CKM_TLS_PRE_MASTER_KEY_GEN,
    CKM_TLS_MASTER_KEY_DERIVE,
    CKM_TLS_KEY_AND_MAC_DERIVE,
    CKM_TLS_MASTER_KEY_DERIVE_DH,
    CKM_TLS_PRF,
    CKM_SSL3_MD5_MAC,
    CKM_SSL3_SHA1_MAC,
    CKM_SHA3_256_KEY_DERIVE,
    CKM_SHA3_224_KEY_DERIVE,
    CKM_SHA3_384_KEY_DERIVE,
    CKM_SHA3_512_KEY_DERIVE,
    CKM_SHAKE_128_KEY_DERIVE,
    CKM_SHAKE_256_KEY_DERIVE,
    CKM_PBE_MD2_DES_CBC,
    CKM_PBE_MD5_DES_CBC,
    CKM_PBE_MD5_CAST_CBC,
    CKM_PBE_MD5_CAST3_CBC,
    CKM_PBE_MD5_CAST128_CBC,
    CKM_PBE_SHA1_CAST128_CBC,
    CKM_PBE_SHA1_RC4_128,
    CKM_PBE_SHA1_RC4_40,
    CKM_PBE_SHA1_DES3_EDE_CBC,
    CKM_PBE_SHA1_DES2_EDE_CBC,
    CKM_PBE_SHA1_RC2_128_CBC,
    CKM_PBE_SHA1_RC2_40_CBC,
    CKM_PKCS5_PBKD2,
    CKM_PBA_SHA1_WITH_SHA1_HMAC,
    CKM_WTLS_PRE_MASTER_KEY_GEN,
    CKM_WTLS_MASTER_KEY_DERIVE,
    CKM_WTLS_MASTER_KEY_DERIVE_DH_ECC,
    CKM_WTLS_PRF,
    CKM_WTLS_SERVER_KEY_AND_MAC_DERIVE,
    CKM_WTLS_CLIENT_KEY_AND_MAC_DERIVE,
    CKM_TLS10_MAC_SERVER,
    CKM_TLS10_MAC_CLIENT,
    CKM_TLS12_MAC,
    CKM_TLS12_KDF,
    CKM_TLS12_MASTER_KEY_DERIVE,
    CKM_TLS12_KEY_AND_MAC_DERIVE,
    CKM_TLS12_MASTER_KEY_DERIVE_DH,
    CKM_TLS12_KEY_SAFE_DERIVE,
    CKM_TLS_MAC,
    CKM_TLS_KDF,
    CKM_KEY_WRAP_LYNKS,
    CKM_KEY_WRAP_SET_OAEP,
    CKM_CMS_SIG,
    CKM_KIP_DERIVE,
    CKM_KIP_WRAP,
    CKM_KIP_MAC,
    CKM_CAMELLIA_KEY_GEN,
    CKM_CAMELLIA_ECB,
    CKM_CAMELLIA_CBC,
    CKM_CAMELLIA_MAC,
    CKM_CAMELLIA_MAC_GENERAL,
    CKM_CAMELLIA_CBC_PAD,
    CKM_CAMELLIA_ECB_ENCRYPT_DATA,
    CKM_CAMELLIA_CBC_ENCRYPT_DATA,
    CKM_CAMELLIA_CTR,
    CKM_ARIA_KEY_GEN,
    CKM_ARIA_ECB,
    CKM_ARIA_CBC,
    CKM_ARIA_MAC,
    CKM_ARIA_MAC_GENERAL,
    CKM_ARIA_CBC_PAD,
    CKM_ARIA_ECB_ENCRYPT_DATA,
    CKM_ARIA_CBC_ENCRYPT_DATA,
    CKM_SEED_KEY_GEN,
    CKM_SEED_ECB,
    CKM_SEED_CBC,
    CKM_SEED_MAC,
    CKM_SEED_MAC_GENERAL,
    CKM_SEED_CBC_PAD,
    CKM_SEED_ECB_ENCRYPT_DATA,
    CKM_SEED_CBC_ENCRYPT_DATA,
    CKM_SKIPJACK_KEY_GEN,
    CKM_SKIPJACK_ECB64,
    CKM_SKIPJACK_CBC64,
    CKM_SKIPJACK_OFB64,
    CKM_SKIPJACK_CFB64,
    CKM_SKIPJACK_CFB32,
    CKM_SKIPJACK_CFB16,
    CKM_SKIPJACK_CFB8,
    CKM_SKIPJACK_WRAP,
    CKM_SKIPJACK_PRIVATE_WRAP,
    CKM_SKIPJACK_RELAYX,
    CKM_KEA_KEY_PAIR_GEN,
    CKM_KEA_KEY_DERIVE,
    CKM_KEA_DERIVE,
    CKM_FORTEZZA_TIMESTAMP,
    CKM_BATON_KEY_GEN,
    CKM_BATON_ECB128,
    CKM_BATON_ECB96,
    CKM_BATON_CBC128,
    CKM_BATON_COUNTER,
    CKM_BATON_SHUFFLE,
    CKM_BATON_WRAP,
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDSA,
    CKM_ECDSA_SHA1,
    CKM_ECDSA_SHA224,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
    CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS,
    CKM_ECDH1_DERIVE,
    CKM_ECDH1_COFACTOR_DERIVE,
    CKM_ECMQV_DERIVE,
    CKM_ECDH_AES_KEY_WRAP,
    CKM_RSA_AES_KEY_WRAP,
    CKM_JUNIPER_KEY_GEN,
    CKM_JUNIPER_ECB128,
    CKM_JUNIPER_CBC128,
    CKM_JUNIPER_COUNTER,
    CKM_JUNIPER_SHUFFLE,
    CKM_JUNIPER_WRAP,
    CKM_FASTHASH,
    CKM_AES_XTS,
    CKM_AES_XTS_KEY_GEN,
    CKM_AES_KEY_GEN,
    CKM_AES_ECB,
    CKM_AES_CBC,
    CKM_AES_MAC,
    CKM_AES_MAC_GENERAL,
    CKM_AES_CBC_PAD,
    CKM_AES_CTR,
    CKM_AES_GCM,
    CKM_AES_CCM,
    CKM_AES_CTS,
    CKM_AES_CMAC,
    CKM_AES_CMAC_GENERAL,
    CKM_AES_XCBC_MAC,
    CKM_AES_XCBC_MAC_96,
    CKM_AES_GMAC,
    CKM_BLOWFISH_KEY_GEN,
    CKM_BLOWFISH_CBC,
    CKM_TWOFISH_KEY_GEN,
    CKM_TWOFISH_CBC,
    CKM_BLOWFISH_CBC_PAD,
    CKM_TWOFISH_CBC_PAD,
    CKM_DES_ECB_ENCRYPT_DATA,
    CKM_DES_CBC_ENCRYPT_DATA,
    CKM_DES3_ECB_ENCRYPT_DATA,
    CKM_DES3_CBC_ENCRYPT_DATA,
    CKM_AES_ECB_ENCRYPT_DATA,
    CKM_AES_CBC_ENCRYPT_DATA,
    CKM_GOSTR3410_KEY_PAIR_GEN,
    CKM_GOSTR3410,
    CKM_GOSTR3410_WITH_GOSTR3411,
    CKM_GOSTR3410_KEY_WRAP,
    CKM_GOSTR3410_DERIVE,
    CKM_GOSTR3411,
    CKM_GOSTR3411_HMAC,
    CKM_GOST28147_KEY_GEN,
    CKM_GOST28147_ECB,
    CKM_GOST28147,
    CKM_GOST28147_MAC,
    CKM_GOST28147_KEY_WRAP,
    CKM_CHACHA20_KEY_GEN,
    CKM_CHACHA20,
    CKM_POLY1305_KEY_GEN,
    CKM_POLY1305,
    CKM_DSA_PARAMETER_GEN,
    CKM_DH_PKCS_PARAMETER_GEN,
    CKM_X9_42_DH_PARAMETER_GEN,
    CKM_DSA_PROBABILISTIC_PARAMETER_GEN,
    CKM_DSA_SHAWE_TAYLOR_PARAMETER_GEN,
    CKM_DSA_FIPS_G_GEN,
    CKM_AES_OFB,
    CKM_AES_CFB64,
    CKM_AES_CFB8,
    CKM_AES_CFB128,
    CKM_AES_CFB1,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_AES_KEY_WRAP_KWP,
    CKM_AES_KEY_WRAP_PKCS7,
    CKM_RSA_PKCS_TPM_1_1,
    CKM_RSA_PKCS_OAEP_TPM_1_1,
    CKM_SHA_1_KEY_GEN,
    CKM_SHA224_KEY_GEN,
    CKM_SHA256_KEY_GEN,
    CKM_SHA384_KEY_GEN,
    CKM_SHA512_KEY_GEN,
    CKM_SHA512_224_KEY_GEN,
    CKM_SHA512_256_KEY_GEN,
    CKM_SHA512_T_KEY_GEN,
    CKM_NULL,
    CKM_BLAKE2B_160,
    CKM_BLAKE2B_160_HMAC,
    CKM_BLAKE2B_160_HMAC_GENERAL,
    CKM_BLAKE2B_160_KEY_DERIVE,
    CKM_BLAKE2B_160_KEY_GEN,
    CKM_BLAKE2B_256,
    CKM_BLAKE2B_256_HMAC,
    CKM_BLAKE2B_256_HMAC_GENERAL,
    CKM_BLAKE2B_256_KEY_DERIVE,
    CKM_BLAKE2B_256_KEY_GEN,
    CKM_BLAKE2B_384,
    CKM_BLAKE2B_384_HMAC,
    CKM_BLAKE2B_384_HMAC_GENERAL,
    CKM_BLAKE2B_384_KEY_DERIVE,
    CKM_BLAKE2B_384_KEY_GEN,
    CKM_BLAKE2B_512,
    CKM_BLAKE2B_512_HMAC,
    CKM_BLAKE2B_512_HMAC_GENERAL,
    CKM_BLAKE2B_512_KEY_DERIVE,
    CKM_BLAKE2B_512_KEY_GEN,
    CKM_SALSA20,
    CKM_CHACHA20_POLY1305,
    CKM_SALSA20_POLY1305,
    CKM_X3DH_INITIALIZE,
    CKM_X3DH_RESPOND,
    CKM_X2RATCHET_INITIALIZE,
    CKM_X2RATCHET_RESPOND,
    CKM_X2RATCHET_ENCRYPT,
    CKM_X2RATCHET_DECRYPT,
    CKM_XEDDSA,
    CKM_HKDF_DERIVE,
    CKM_HKDF_DATA,
    CKM_HKDF_KEY_GEN,
    CKM_SALSA20_KEY_GEN,
    CKM_ECDSA_SHA3_224,
    CKM_ECDSA_SHA3_256,
    CKM_ECDSA_SHA3_384,
    CKM_ECDSA_SHA3_512,
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
    CKM_EDDSA,
    CKM_SP800_108_COUNTER_KDF,
    CKM_SP800_108_FEEDBACK_KDF,
    CKM_SP800_108_DOUBLE_PIPELINE_KDF,
    CKM_IKE2_PRF_PLUS_DERIVE,
    CKM_IKE_PRF_DERIVE,
    CKM_IKE1_PRF_DERIVE,
    CKM_IKE1_EXTENDED_DERIVE,
    CKM_HSS_KEY_PAIR_GEN,
    CKM_HSS,
    CKM_XMSS_KEY_PAIR_GEN,
    CKM_XMSSMT_KEY_PAIR_GEN,
    CKM_XMSS,
    CKM_XMSSMT,
    CKM_ECDH_X_AES_KEY_WRAP,
    CKM_ECDH_COF_AES_KEY_WRAP,
    CKM_PUB_KEY_FROM_PRIV_KEY,
];

/// The vendor header, parsed for its `#define CKM_...` lines.
const VENDOR_HEADER: &str = include_str!("../include/cloudhsm_pkcs11_vendor_defs.h");

/// The CloudHSM vendor mechanisms of include/cloudhsm_pkcs11_vendor_defs.h: (value, name), the
/// first name defined for a value kept.
fn vendor_names() -> &'static [(CK_MECHANISM_TYPE, String)] {
    static NAMES: std::sync::OnceLock<Vec<(CK_MECHANISM_TYPE, String)>> =
        std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        let mut out: Vec<(CK_MECHANISM_TYPE, String)> = Vec::new();
        for line in VENDOR_HEADER.lines() {
            let Some(rest) = line.trim().strip_prefix("#define ") else {
                continue;
            };
            let mut parts = rest.splitn(2, char::is_whitespace);
            let (Some(n), Some(expr)) = (parts.next(), parts.next()) else {
                continue;
            };
            if !n.starts_with("CKM_") {
                continue;
            }
            let expr = expr.split("/*").next().unwrap().trim();
            let value = eval(expr, &out).unwrap_or_else(|| panic!("cannot evaluate {n} = {expr}"));
            if !out.iter().any(|(v, _)| *v == value) && !STANDARD.iter().any(|(v, _)| *v == value) {
                out.push((value, n.to_string()));
            }
        }
        out
    })
}

/// A `#define` value of the vendor header: names and hex literals joined by `|`.
fn eval(expr: &str, vendor: &[(CK_MECHANISM_TYPE, String)]) -> Option<CK_MECHANISM_TYPE> {
    let mut value = 0;
    for term in expr.trim_matches(|c| c == '(' || c == ')').split('|') {
        let term = term.trim();
        value |= if let Some(hex) = term.strip_prefix("0x") {
            u64::from_str_radix(hex.trim_end_matches(['U', 'L', 'u', 'l']), 16).ok()?
        } else if term == "CKM_VENDOR_DEFINED" {
            CKM_VENDOR_DEFINED
        } else if let Some((v, _)) = STANDARD.iter().find(|(_, n)| *n == term) {
            *v
        } else {
            vendor.iter().find(|(_, n)| n == term)?.0
        };
    }
    Some(value)
}

fn vendor(n: &str) -> Option<CK_MECHANISM_TYPE> {
    vendor_names().iter().find(|(_, v)| v == n).map(|(m, _)| *m)
}

/// The CKM_* name of a mechanism, or its number in hex.
fn name(m: CK_MECHANISM_TYPE) -> String {
    STANDARD
        .iter()
        .find(|(v, _)| *v == m)
        .map(|(_, n)| (*n).to_string())
        .or_else(|| {
            vendor_names()
                .iter()
                .find(|(v, _)| *v == m)
                .map(|(_, n)| n.clone())
        })
        .unwrap_or_else(|| format!("{m:#x}"))
}

#[test]
fn names_cover_the_standard_and_the_vendor_header() {
    let mut values: Vec<_> = STANDARD.iter().map(|(v, _)| *v).collect();
    values.sort_unstable();
    let n = values.len();
    values.dedup();
    assert_eq!(n, values.len(), "two standard names for one value");
    assert_eq!(name(CKM_AES_GCM), "CKM_AES_GCM");
    assert_eq!(name(CKM_EC_KEY_PAIR_GEN), "CKM_EC_KEY_PAIR_GEN");
    assert_eq!(name(CKM_ML_KEM), "CKM_ML_KEM");
    assert_eq!(name(CKM_SP800_108_COUNTER_KDF), "CKM_SP800_108_COUNTER_KDF");
    for (v, n) in [
        (0x8000_1087, "CKM_CLOUDHSM_AES_GCM"),
        (0x8000_2109, "CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD"),
        (0x8000_210a, "CKM_CLOUDHSM_AES_KEY_WRAP_PKCS5_PAD"),
        (0x8000_216f, "CKM_CLOUDHSM_AES_KEY_WRAP_ZERO_PAD"),
        (0x8000_0001, "CKM_CLOUDHSM_SP800_108_COUNTER_KDF"),
        (0x8000_1057, "CKM_CLOUDHSM_EDDSA"),
        (0x8000_001c, "CKM_CLOUDHSM_ML_DSA_KEY_PAIR_GEN"),
        (0x8000_001d, "CKM_CLOUDHSM_ML_DSA"),
        (0x8001_001d, "CKM_CLOUDHSM_EXT_MU_ML_DSA"),
    ] {
        assert_eq!(name(v), n, "{v:#x}");
    }
    assert_eq!(name(0x8f00_0001), "0x8f000001");
}

#[test]
fn splice_keeps_the_text_around_the_markers() {
    let doc = format!("# T\n\nbefore\n\n{BEGIN}\nold\n{END}\n\nafter\n");
    assert_eq!(
        splice(&doc, "new\n").unwrap(),
        format!("# T\n\nbefore\n\n{BEGIN}\nnew\n{END}\n\nafter\n")
    );
    assert_eq!(splice("no markers", "x"), None);
}
