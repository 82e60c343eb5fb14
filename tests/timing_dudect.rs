//! A dudect-style statistical timing test (Reparaz, Balasch, Verbauwhede, "Dude, is my code
//! constant time?", 2017) of the two padding-oracle paths of issue 3, through the PKCS#11 API:
//!
//! - CKM_AES_CBC_PAD decryption of ciphertexts with valid vs invalid PKCS#7 padding;
//! - CKM_RSA_PKCS decryption of ciphertexts with valid vs invalid PKCS#1 v1.5 type-2 padding
//!   (the module answers invalid ones by implicit rejection, docs/crypto.md).
//!
//! Each measurement round draws the class of every sample at random (interleaved, so drift of
//! the machine hits both classes alike), times one C_Decrypt, and runs Welch's t-test between
//! the classes on the raw timings and on timings cropped at a set of percentiles (dudect's
//! post-processing against the long right tail of a busy machine); the statistic is the largest
//! |t|. dudect reads |t| > 10 as "definitely not constant time". This runs on a shared,
//! noisy machine, so a path fails only if *every* one of several bounded rounds exceeds the
//! threshold; a round at or under it ends the test.
//!
//! The harness checks itself: the same statistic over an early-exit byte comparison (equal
//! prefix of 0 vs 4095 bytes) in this file must exceed the threshold, so a broken harness
//! cannot pass silently.
//!
//! `cargo test --release --test timing_dudect -- --nocapture` prints the t values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[allow(unused_macros)]
mod common;

use std::hint::black_box;
use std::time::Instant;

use common::*;
use cryptoki::mechanism::Mechanism as CkMechanism;
use cryptoki::object::Attribute;
use cryptoki_sys::*;

/// dudect's threshold for "definitely not constant time".
const T_THRESHOLD: f64 = 10.0;
/// Rounds before a path is declared leaky (each must exceed the threshold).
const ROUNDS: usize = 5;

static STEPS: &[(&str, Step)] = &[
    ("activate", activate as Step),
    ("cbc_pad", cbc_pad as Step),
    ("rsa_pkcs", rsa_pkcs as Step),
];

/// The timing steps run on the direct transport only: the wire transport adds an encoding
/// step of the same cost to both classes, nothing to learn and twice the time.
#[test]
fn aes_cbc_pad_decrypt_constant_time() {
    common::scenario(
        "aes_cbc_pad_decrypt_constant_time",
        Transport::Direct,
        |env| {
            env.run("activate");
            env.run("cbc_pad");
        },
        STEPS,
    );
}

#[test]
fn rsa_pkcs_decrypt_constant_time() {
    common::scenario(
        "rsa_pkcs_decrypt_constant_time",
        Transport::Direct,
        |env| {
            env.run("activate");
            env.run("rsa_pkcs");
        },
        STEPS,
    );
}

/// The harness must see an obvious leak: an early-exit comparison.
#[test]
fn harness_detects_a_leak() {
    let secret: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    let mut differs_first = secret.clone();
    differs_first[0] ^= 1;
    let mut differs_last = secret.clone();
    differs_last[4095] ^= 1;
    let inputs = [differs_first, differs_last];
    let mut rng = XorShift::new(0x5eed);
    let mut best = 0.0f64;
    for round in 0..ROUNDS {
        let samples = measure(&mut rng, 20_000, |class| {
            let start = Instant::now();
            black_box(leaky_eq(black_box(&secret), black_box(&inputs[class])));
            start.elapsed().as_nanos() as f64
        });
        let t = max_abs_t(&samples);
        println!("self-check round {round}: leaky comparison max |t| = {t:.1}");
        best = best.max(t);
        if t > T_THRESHOLD {
            break;
        }
    }
    assert!(
        best > T_THRESHOLD,
        "the harness did not see an early-exit comparison leak (max |t| = {best:.1}): \
         it could not see a real one either"
    );
    // And two identical classes stay under the threshold in some round (no built-in bias).
    let mut least = f64::INFINITY;
    for round in 0..ROUNDS {
        let samples = measure(&mut rng, 20_000, |_| {
            let start = Instant::now();
            black_box(leaky_eq(black_box(&secret), black_box(&inputs[1])));
            start.elapsed().as_nanos() as f64
        });
        let t = max_abs_t(&samples);
        println!("self-check round {round}: identical classes max |t| = {t:.1}");
        least = least.min(t);
        if t <= T_THRESHOLD {
            break;
        }
    }
    assert!(
        least <= T_THRESHOLD,
        "identical classes exceeded the threshold in every round (min |t| = {least:.1})"
    );
}

/// A deliberately non-constant-time comparison (the self-check's leak).
#[inline(never)]
fn leaky_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    for i in 0..a.len() {
        if black_box(a[i]) != black_box(b[i]) {
            return false;
        }
    }
    true
}

fn activate(ctx: &Ctx) {
    ctx.init().activate_with(&[CU1]);
}

// ---------------------------------------------------------------------------- statistics

/// A small PRNG for the class order (not for keys).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `n` timings, each of a class drawn at random: (class, time).
fn measure(rng: &mut XorShift, n: usize, mut time: impl FnMut(usize) -> f64) -> Vec<(usize, f64)> {
    // Warm up caches and branch predictors on both classes first.
    for i in 0..n.min(200) {
        black_box(time(i % 2));
    }
    (0..n)
        .map(|_| {
            let class = rng.below(2);
            (class, time(class))
        })
        .collect()
}

/// Welch's t statistic between the two classes of `samples` (only values < `crop`).
fn welch_t(samples: &[(usize, f64)], crop: f64) -> f64 {
    let mut n = [0f64; 2];
    let mut mean = [0f64; 2];
    let mut m2 = [0f64; 2];
    for &(c, x) in samples.iter().filter(|(_, x)| *x < crop) {
        n[c] += 1.0;
        let d = x - mean[c];
        mean[c] += d / n[c];
        m2[c] += d * (x - mean[c]);
    }
    if n[0] < 2.0 || n[1] < 2.0 {
        return 0.0;
    }
    let var = [m2[0] / (n[0] - 1.0), m2[1] / (n[1] - 1.0)];
    let se = (var[0] / n[0] + var[1] / n[1]).sqrt();
    if se == 0.0 {
        return 0.0;
    }
    (mean[0] - mean[1]) / se
}

/// dudect's statistic: the largest |t| over the raw timings and the timings cropped at
/// percentiles 1 - 0.5^(10 (i+1) / 100) of the whole sample (dudect's crops), i = 0..100.
fn max_abs_t(samples: &[(usize, f64)]) -> f64 {
    let mut sorted: Vec<f64> = samples.iter().map(|s| s.1).collect();
    sorted.sort_by(f64::total_cmp);
    let mut best = welch_t(samples, f64::INFINITY).abs();
    for i in 0..100 {
        let q = 1.0 - 0.5f64.powf(10.0 * (i as f64 + 1.0) / 100.0);
        let idx = ((sorted.len() as f64 * q) as usize).min(sorted.len() - 1);
        best = best.max(welch_t(samples, sorted[idx]).abs());
    }
    best
}

/// Median timing of each class, for the report.
fn medians(samples: &[(usize, f64)]) -> [f64; 2] {
    let mut out = [0.0; 2];
    for (c, o) in out.iter_mut().enumerate() {
        let mut v: Vec<f64> = samples.iter().filter(|s| s.0 == c).map(|s| s.1).collect();
        v.sort_by(f64::total_cmp);
        *o = v.get(v.len() / 2).copied().unwrap_or(0.0);
    }
    out
}

/// Run up to ROUNDS rounds of `round` (which returns its max |t|); pass at the first round at
/// or under the threshold, fail if all exceed it.
fn judge(what: &str, mut round: impl FnMut() -> Vec<(usize, f64)>) {
    let mut ts = Vec::new();
    for r in 0..ROUNDS {
        let samples = round();
        let t = max_abs_t(&samples);
        let [m0, m1] = medians(&samples);
        println!(
            "{what}: round {r}: {} samples, median {m0:.0} ns / {m1:.0} ns, \
             max |t| = {t:.2} (threshold {T_THRESHOLD})",
            samples.len()
        );
        ts.push(t);
        if t <= T_THRESHOLD {
            println!("{what}: no timing difference between the classes");
            return;
        }
    }
    panic!(
        "{what}: the classes are distinguishable by timing in every round \
         (max |t| per round: {ts:.2?}, threshold {T_THRESHOLD})"
    );
}

// ---------------------------------------------------------------------------- the module

struct P11 {
    raw: Raw,
    s: CK_SESSION_HANDLE,
}

impl P11 {
    fn f(&self) -> &cryptoki_sys::Pkcs11 {
        self.raw.sys()
    }

    fn random(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        // SAFETY: `out` is alive and n bytes long.
        let rv = unsafe {
            self.f()
                .C_GenerateRandom(self.s, out.as_mut_ptr(), n as CK_ULONG)
        };
        assert_rv(rv, CKR_OK, "C_GenerateRandom");
        out
    }

    /// C_EncryptInit + C_Encrypt.
    fn encrypt(&self, m: &mut CK_MECHANISM, key: CK_OBJECT_HANDLE, data: &[u8]) -> Vec<u8> {
        // SAFETY: the mechanism and its parameter outlive the call.
        let rv = unsafe { self.f().C_EncryptInit(self.s, m, key) };
        assert_rv(rv, CKR_OK, "C_EncryptInit");
        let mut data = data.to_vec();
        let mut out = vec![0u8; data.len() + 1024];
        let mut len = out.len() as CK_ULONG;
        // SAFETY: `data` and `out` are alive; `len` is the capacity of `out`.
        let rv = unsafe {
            self.f().C_Encrypt(
                self.s,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        assert_rv(rv, CKR_OK, "C_Encrypt");
        out.truncate(len as usize);
        out
    }

    /// C_DecryptInit (not timed) + C_Decrypt (timed): (code, nanoseconds).
    fn timed_decrypt(
        &self,
        m: &mut CK_MECHANISM,
        key: CK_OBJECT_HANDLE,
        ct: &mut [u8],
        out: &mut [u8],
    ) -> (CK_RV, f64) {
        // SAFETY: the mechanism and its parameter outlive the call.
        let rv = unsafe { self.f().C_DecryptInit(self.s, m, key) };
        assert_rv(rv, CKR_OK, "C_DecryptInit");
        let mut len = out.len() as CK_ULONG;
        let start = Instant::now();
        // SAFETY: `ct` and `out` are alive; `len` is the capacity of `out`.
        let rv = unsafe {
            self.f().C_Decrypt(
                self.s,
                ct.as_mut_ptr(),
                ct.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut len,
            )
        };
        let t = start.elapsed().as_nanos() as f64;
        (black_box(rv), t)
    }
}

fn session(ctx: &Ctx) -> (Hsm, cryptoki::session::Session, P11) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let p = P11 {
        raw: ctx.raw(),
        s: s.handle(),
    };
    (hsm, s, p)
}

fn with_param<T>(ty: CK_MECHANISM_TYPE, p: &mut T) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: (p as *mut T).cast(),
        ulParameterLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

fn bare(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    }
}

// ---------------------------------------------------------------------------- AES-CBC-PAD

/// Ciphertexts per class (cycled through during a round).
const POOL: usize = 128;

/// The last block of a four-block plaintext, by kind of padding.
#[derive(Clone, Copy, Debug)]
enum Pad {
    /// Valid padding of 1..=16 bytes, drawn at random.
    ValidAny,
    /// Valid padding of exactly this many bytes.
    Valid(usize),
    /// Invalid, in one of the ways (drawn in turn).
    InvalidAny,
    /// Invalid and visible at the last byte: pad length 0 or more than a block.
    InvalidAtLastByte,
    /// Invalid only at the first byte of a full-block pad (an early-exit check scans the
    /// whole pad before it sees this).
    InvalidAtFirstPadByte,
}

fn padded(p: &P11, rng: &mut XorShift, kind: Pad, i: usize) -> Vec<u8> {
    let mut pt = p.random(64);
    let mut fill = |n: usize| pt[64 - n..].fill(n as u8);
    match kind {
        Pad::ValidAny => fill(1 + rng.below(16)),
        Pad::Valid(n) => fill(n),
        Pad::InvalidAny => {
            return padded(
                p,
                rng,
                match i % 3 {
                    0 => Pad::InvalidAtLastByte,
                    1 => Pad::InvalidAtFirstPadByte,
                    _ => {
                        // right length, one wrong byte inside the pad
                        let n = 2 + rng.below(15);
                        fill(n);
                        let j = 64 - n + rng.below(n - 1);
                        pt[j] ^= 1 + rng.below(255) as u8;
                        return pt;
                    }
                },
                i,
            );
        }
        Pad::InvalidAtLastByte => {
            pt[63] = if i.is_multiple_of(2) {
                0
            } else {
                17 + rng.below(239) as u8
            }
        }
        Pad::InvalidAtFirstPadByte => {
            fill(16);
            pt[48] ^= 1 + rng.below(255) as u8;
        }
    }
    pt
}

fn cbc_pad(ctx: &Ctx) {
    let (_hsm, _s, p) = session(ctx);
    let key = p
        .raw
        .create_object(
            p.s,
            &[
                (CKA_CLASS, ulong_bytes(CKO_SECRET_KEY)),
                (CKA_KEY_TYPE, ulong_bytes(CKK_AES)),
                (CKA_TOKEN, bool_bytes(false)),
                (CKA_VALUE, p.random(32)),
                (CKA_ENCRYPT, bool_bytes(true)),
                (CKA_DECRYPT, bool_bytes(true)),
            ],
        )
        .unwrap();
    let mut iv: [u8; 16] = p.random(16).try_into().unwrap();
    let mut rng = XorShift::new(u64::from_le_bytes(p.random(8).try_into().unwrap()));
    // Four-block plaintexts of each kind, encrypted without padding by the module
    // (CKM_AES_CBC), so the decryption sees exactly the padding chosen.
    let mut pool = |kind: Pad| -> Vec<Vec<u8>> {
        (0..POOL)
            .map(|i| {
                let pt = padded(&p, &mut rng, kind, i);
                p.encrypt(&mut with_param(CKM_AES_CBC, &mut iv), key, &pt)
            })
            .collect()
    };
    let valid_vs_invalid = [pool(Pad::ValidAny), pool(Pad::InvalidAny)];
    let where_invalid = [
        pool(Pad::InvalidAtLastByte),
        pool(Pad::InvalidAtFirstPadByte),
    ];
    let valid_lengths = [pool(Pad::Valid(1)), pool(Pad::Valid(16))];
    let mut run = |what: &str, pools: &[Vec<Vec<u8>>; 2], want: [CK_RV; 2]| -> Vec<(usize, f64)> {
        let mut out = vec![0u8; 128];
        let mut next = [0usize; 2];
        let mut cts = pools.clone();
        measure(&mut rng, 30_000, |class| {
            let ct = &mut cts[class][next[class] % POOL];
            next[class] += 1;
            let mut m = with_param(CKM_AES_CBC_PAD, &mut iv);
            let (rv, t) = p.timed_decrypt(&mut m, key, ct, &mut out);
            assert_eq!(
                rv,
                want[class],
                "{what}: class {class} gave {}",
                ckr_name(rv)
            );
            t
        })
    };
    // Where and how the padding is wrong must not show: one return code, one time.
    judge(
        "CKM_AES_CBC_PAD decrypt, invalid padding seen at the last byte vs at the first pad byte",
        || {
            run(
                "where invalid",
                &where_invalid,
                [CKR_ENCRYPTED_DATA_INVALID, CKR_ENCRYPTED_DATA_INVALID],
            )
        },
    );
    // For the record only, two comparisons whose timing difference tells nothing the caller
    // does not already get: valid vs invalid padding (PKCS#11 returns CKR_ENCRYPTED_DATA_INVALID
    // for bad padding, so the success path that returns the plaintext and the error path are
    // told apart by the code whatever their timing), and valid padding of 1 vs 16 bytes (the
    // output length, 63 vs 48 bytes, differs and is returned).
    for (what, pools, want) in [
        (
            "valid vs invalid padding (the return code already tells them apart)",
            &valid_vs_invalid,
            [CKR_OK, CKR_ENCRYPTED_DATA_INVALID],
        ),
        (
            "valid 1-byte vs 16-byte padding (the output length already tells them apart)",
            &valid_lengths,
            [CKR_OK, CKR_OK],
        ),
    ] {
        let samples = run(what, pools, want);
        let [m0, m1] = medians(&samples);
        println!(
            "CKM_AES_CBC_PAD decrypt, {what}: for the record, median {m0:.0} ns / {m1:.0} ns, \
             max |t| = {:.2}",
            max_abs_t(&samples)
        );
    }
}

// ---------------------------------------------------------------------------- RSA PKCS#1

fn rsa_pkcs(ctx: &Ctx) {
    let (_hsm, s, p) = session(ctx);
    let (public, private) = s
        .generate_key_pair(
            &CkMechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Encrypt(true),
            ],
            &[
                Attribute::Token(false),
                Attribute::Sensitive(true),
                Attribute::Decrypt(true),
            ],
        )
        .unwrap();
    let (public, private) = (public.handle(), private.handle());
    let k = 256;
    let mut rng = XorShift::new(u64::from_le_bytes(p.random(8).try_into().unwrap()));
    // Valid: the module's own PKCS#1 v1.5 encryption of 32-byte messages. Invalid: raw RSA
    // (CKM_RSA_X_509) of encoded messages broken in the ways a Bleichenbacher oracle probes.
    let mut pools: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    for i in 0..POOL / 2 {
        // Messages of 0..=245 bytes, as the synthetic messages of implicit rejection (their
        // length is uniform below k - 10), so the returned lengths do not differ by class.
        let msg = p.random(rng.below(k - 10));
        pools[0].push(p.encrypt(&mut bare(CKM_RSA_PKCS), public, &msg));
        let mut em: Vec<u8> = p
            .random(k)
            .into_iter()
            .map(|b| if b == 0 { 1 } else { b })
            .collect();
        em[0] = 0;
        em[1] = 2;
        match i % 4 {
            0 => em[1] = 1,                // wrong block type
            1 => {}                        // no zero separator at all
            2 => em[2 + rng.below(7)] = 0, // padding string shorter than 8 bytes
            _ => {
                em[1] = rng.below(256) as u8 | 0x04; // block type >= 4
                em[k - 33] = 0;
            }
        }
        pools[1].push(p.encrypt(&mut bare(CKM_RSA_X_509), public, &em));
    }
    let mut out = vec![0u8; k];
    judge("CKM_RSA_PKCS decrypt (implicit rejection)", || {
        let mut next = [0usize; 2];
        measure(&mut rng, 1_500, |class| {
            let ct = &mut pools[class][next[class] % (POOL / 2)];
            next[class] += 1;
            let (rv, t) = p.timed_decrypt(&mut bare(CKM_RSA_PKCS), private, ct, &mut out);
            // Implicit rejection: invalid padding decrypts to a synthetic message too.
            assert_eq!(rv, CKR_OK, "class {class} decrypted to {}", ckr_name(rv));
            t
        })
    });
}
