//! The benchmark cases: one table, read by the coordinator (order, limits, report rows) and by
//! every side (what to prepare and what to run).

/// What a case does. Each side (our module, SoftHSM, raw aws-lc-rs) maps it to the same
/// operation with its own API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// CKM_SHA256_RSA_PKCS (or CKM_SHA256_RSA_PKCS_PSS, salt 32) over a 64-byte message.
    RsaSign { bits: u32, pss: bool },
    /// CKM_SHA256_RSA_PKCS verify of a 64-byte message.
    RsaVerify,
    /// CKM_RSA_PKCS_OAEP (SHA-1, MGF1-SHA-1, no label: what SoftHSM supports) of 32 bytes.
    RsaOaepDecrypt,
    /// CKM_ECDSA over a digest of the curve's size (32 B for P-256, 48 B for P-384).
    EcdsaSign { p384: bool },
    /// CKM_ECDSA verify of a 32-byte digest, P-256.
    EcdsaVerify,
    /// CKM_ECDH1_DERIVE (CKD_NULL) to a 32-byte generic secret session key, P-256.
    EcdhDerive,
    /// CKM_AES_GCM encrypt (12-byte IV, no AAD, 128-bit tag), single part.
    AesGcm { len: usize },
    /// CKM_AES_CBC_PAD encrypt, single part.
    AesCbcPad { len: usize },
    /// CKM_SHA256 digest, single part.
    Sha256 { len: usize },
    /// CKM_SHA256_HMAC sign with a 32-byte generic secret, single part.
    Hmac { len: usize },
    /// CKM_AES_KEY_GEN of an AES-256 session key.
    AesKeygen,
    /// CKM_RSA_PKCS_KEY_PAIR_GEN of an RSA-2048 session key pair.
    RsaKeygen,
    /// C_GenerateRandom of `len` bytes.
    Random { len: usize },
    /// C_OpenSession + C_CloseSession.
    SessionOpenClose,
    /// C_CreateObject of a token AES-256 key (CKA_VALUE given).
    CreateObject,
    /// C_FindObjectsInit + C_FindObjects + C_FindObjectsFinal by CKA_LABEL among N token objects.
    FindByLabel,
}

/// One row of the benchmark.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Threads, each with its own session (1 for all but the scaling rows).
    pub(crate) threads: usize,
    /// Most operations in one repetition of a full run (a repetition also stops at its time).
    pub(crate) max_ops: u64,
}

impl Case {
    /// Whether raw aws-lc-rs can do the same operation (the crypto cases).
    pub(crate) fn has_raw(&self) -> bool {
        !matches!(
            self.kind,
            Kind::SessionOpenClose | Kind::CreateObject | Kind::FindByLabel
        )
    }

    pub(crate) fn by_name(name: &str) -> Option<&'static Case> {
        CASES.iter().find(|c| c.name == name)
    }
}

const MANY: u64 = 5_000_000;

const fn case(name: &'static str, kind: Kind) -> Case {
    Case {
        name,
        kind,
        threads: 1,
        max_ops: MANY,
    }
}

/// Every case, in the order they run. The find case runs last: its 10,000 token objects would
/// otherwise slow every later case of a store that rescans its objects (SoftHSM does).
pub(crate) static CASES: &[Case] = &[
    case(
        "rsa2048-sign",
        Kind::RsaSign {
            bits: 2048,
            pss: false,
        },
    ),
    Case {
        threads: 2,
        ..case(
            "rsa2048-sign 2 threads",
            Kind::RsaSign {
                bits: 2048,
                pss: false,
            },
        )
    },
    case(
        "rsa2048-pss-sign",
        Kind::RsaSign {
            bits: 2048,
            pss: true,
        },
    ),
    case(
        "rsa3072-sign",
        Kind::RsaSign {
            bits: 3072,
            pss: false,
        },
    ),
    case("rsa2048-verify", Kind::RsaVerify),
    case("rsa2048-oaep-decrypt", Kind::RsaOaepDecrypt),
    case("ecdsa-p256-sign", Kind::EcdsaSign { p384: false }),
    Case {
        threads: 2,
        ..case("ecdsa-p256-sign 2 threads", Kind::EcdsaSign { p384: false })
    },
    case("ecdsa-p384-sign", Kind::EcdsaSign { p384: true }),
    case("ecdsa-p256-verify", Kind::EcdsaVerify),
    case("ecdh-p256-derive", Kind::EcdhDerive),
    case("aes256-gcm-encrypt 64 B", Kind::AesGcm { len: 64 }),
    case("aes256-gcm-encrypt 4 KiB", Kind::AesGcm { len: 4096 }),
    case("aes256-gcm-encrypt 1 MiB", Kind::AesGcm { len: 1 << 20 }),
    case("aes256-cbc-pad 4 KiB", Kind::AesCbcPad { len: 4096 }),
    case("sha256-digest 1 MiB", Kind::Sha256 { len: 1 << 20 }),
    case("hmac-sha256 4 KiB", Kind::Hmac { len: 4096 }),
    case("aes-keygen", Kind::AesKeygen),
    Case {
        max_ops: 5,
        ..case("rsa2048-keygen", Kind::RsaKeygen)
    },
    case("generate-random 32 B", Kind::Random { len: 32 }),
    case("empty call (C_GenerateRandom 1 B)", Kind::Random { len: 1 }),
    case("session open/close", Kind::SessionOpenClose),
    // Every created object is destroyed after its repetition, untimed; the cap keeps the store
    // (and SoftHSM's token directory) small while it runs.
    Case {
        max_ops: 2_000,
        ..case("C_CreateObject (token)", Kind::CreateObject)
    },
    case("find by label", Kind::FindByLabel),
];

/// The label of the i-th object the find case creates.
pub(crate) fn find_label(i: usize) -> String {
    format!("bench-find-{i:05}")
}

/// The fixed message signed by the RSA and HMAC cases (64 bytes) and the "digest" the ECDSA
/// cases sign.
pub(crate) const MESSAGE: [u8; 64] =
    *b"The quick brown fox jumps over the lazy dog. PKCS#11 benchmark!!";

/// The n-byte input of the bulk cases (deterministic, not all zeros).
pub(crate) fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)).to_le_bytes()[0])
        .collect()
}
