//! The seam: `trait Hsm` and the plain-data requests and responses that cross it.
//!
//! Everything above this seam (`cryptoki/`, `ffi/`) is PKCS#11 bookkeeping; every security
//! decision (who may log in, who may see or use an object, which attribute may change) is
//! taken below it, in `hsm::core`. Requests and responses are serde data so the same core
//! can serve a network node unchanged; `hsm::wire` proves it by encoding every call.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::crypto::digest::HashState;
use crate::crypto::HashAlg;
use crate::error::Result;

/// One application's (process's) view of one slot: login state lives here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConnId(pub u64);

/// A session of a connection, numbered by the caller (the PKCS#11 session handle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionId(pub u64);

/// A random 128-bit object identity, stable in the store and across processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectId(pub u128);

/// A crypto operation in progress inside the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OpId(pub u64);

/// A PIN or password. Zeroized on drop; `Debug` never shows it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Secret(pub Zeroizing<Vec<u8>>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A PKCS#11 attribute type number (CKA_*).
pub type AttrType = u64;

/// A typed attribute value. The kind of each attribute type is fixed by `hsm::attrs::kind`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrValue {
    Bool(bool),
    Ulong(u64),
    Bytes(Vec<u8>),
    /// CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE.
    Template(Vec<Attribute>),
    /// CKA_ALLOWED_MECHANISMS.
    Mechanisms(Vec<u64>),
}

impl std::fmt::Debug for AttrValue {
    // Attribute values may be key material: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValue::Bool(b) => write!(f, "Bool({b})"),
            AttrValue::Ulong(v) => write!(f, "Ulong({v})"),
            AttrValue::Bytes(b) => write!(f, "Bytes(len={})", b.len()),
            AttrValue::Template(t) => write!(f, "Template(len={})", t.len()),
            AttrValue::Mechanisms(m) => write!(f, "Mechanisms({m:?})"),
        }
    }
}

impl zeroize::Zeroize for AttrValue {
    fn zeroize(&mut self) {
        match self {
            AttrValue::Bytes(b) => b.zeroize(),
            AttrValue::Template(t) => t.iter_mut().for_each(|a| a.value.zeroize()),
            AttrValue::Bool(_) | AttrValue::Ulong(_) | AttrValue::Mechanisms(_) => {}
        }
    }
}

/// One attribute of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub ty: AttrType,
    pub value: AttrValue,
}

impl Attribute {
    pub fn new(ty: AttrType, value: AttrValue) -> Self {
        Attribute { ty, value }
    }
}

/// A template: what C_CreateObject, C_FindObjectsInit, C_GenerateKey... receive.
pub type Template = Vec<Attribute>;

/// The outcome of reading one attribute (C_GetAttributeValue is per attribute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrRead {
    Value(AttrValue),
    /// The attribute exists but is sensitive or unextractable: CKR_ATTRIBUTE_SENSITIVE.
    Sensitive,
    /// The object has no such attribute: CKR_ATTRIBUTE_TYPE_INVALID.
    Invalid,
}

/// PKCS#11 user types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserType {
    /// CKU_SO: an admin.
    So,
    /// CKU_USER: a crypto user.
    User,
}

/// CloudHSM roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// The user `admin` of a cluster that was never activated.
    UnactivatedAdmin,
    /// CloudHSM CO: manages users, never uses keys.
    Admin,
    /// CloudHSM CU: owns and uses keys.
    CryptoUser,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::UnactivatedAdmin => "unactivated-admin",
            Role::Admin => "admin",
            Role::CryptoUser => "crypto-user",
        }
    }
}

/// PSS parameters (CK_RSA_PKCS_PSS_PARAMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PssParams {
    pub hash: HashAlg,
    pub mgf: HashAlg,
    pub salt_len: u64,
}

/// OAEP parameters (CK_RSA_PKCS_OAEP_PARAMS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OaepParams {
    pub hash: HashAlg,
    pub mgf: HashAlg,
    pub label: Vec<u8>,
}

/// GCM parameters (CK_GCM_PARAMS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcmParams {
    pub iv: Vec<u8>,
    pub aad: Vec<u8>,
    pub tag_bits: u64,
}

/// A mechanism with its typed parameters. Parsed once, in `ffi`, from CK_MECHANISM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mechanism {
    // key generation
    AesKeyGen,
    GenericSecretKeyGen,
    RsaPkcsKeyPairGen,
    EcKeyPairGen,
    // digest (done above the seam; listed so the mechanism table is complete)
    Digest(HashAlg),
    // RSA
    RsaPkcs,
    RsaX509,
    RsaPkcsPss(PssParams),
    /// CKM_SHA*_RSA_PKCS: the request's data is the digest, hashed above the seam.
    HashRsaPkcs(HashAlg),
    /// CKM_SHA*_RSA_PKCS_PSS: the request's data is the digest.
    HashRsaPkcsPss(HashAlg, PssParams),
    RsaPkcsOaep(OaepParams),
    // EC
    Ecdsa,
    /// CKM_ECDSA_SHA*: the request's data is the digest.
    HashEcdsa(HashAlg),
    // AES
    AesEcb,
    AesCbc([u8; 16]),
    AesCbcPad([u8; 16]),
    AesCtr {
        counter_bits: u64,
        cb: [u8; 16],
    },
    AesGcm(GcmParams),
    // HMAC: `out_len` is Some for the _GENERAL variants.
    Hmac {
        hash: HashAlg,
        out_len: Option<u64>,
    },
    /// CKM_AES_CMAC (`out_len` None) and CKM_AES_CMAC_GENERAL.
    AesCmac {
        out_len: Option<u64>,
    },
    /// CKM_AES_KEY_WRAP (RFC 3394); `iv` must be absent or the default A6 x 8.
    AesKeyWrap {
        iv: Option<Vec<u8>>,
    },
    /// CKM_AES_KEY_WRAP_KWP (RFC 5649); `iv` must be absent or the default A65959A6.
    AesKeyWrapKwp {
        iv: Option<Vec<u8>>,
    },
    /// CKM_ECDH1_DERIVE (CK_ECDH1_DERIVE_PARAMS): `kdf` is the CKD_* number.
    Ecdh1Derive {
        kdf: u64,
        shared_data: Vec<u8>,
        public_data: Vec<u8>,
    },
    // Legacy triple DES (not in the FIPS build).
    Des3KeyGen,
    Des3Ecb,
    Des3Cbc([u8; 8]),
    Des3CbcPad([u8; 8]),
    // Legacy FFDH and DSA (not in the FIPS build).
    /// CKM_DH_PKCS_PARAMETER_GEN: C_GenerateKey makes CKO_DOMAIN_PARAMETERS.
    DhPkcsParameterGen,
    DhPkcsKeyPairGen,
    /// CKM_DH_PKCS_DERIVE: the other party's public value.
    DhPkcsDerive(Vec<u8>),
    DsaParameterGen,
    DsaKeyPairGen,
    /// CKM_DSA: the request's data is the caller's digest.
    Dsa,
    /// CKM_DSA_SHA*: the request's data is the digest, hashed above the seam.
    HashDsa(HashAlg),
    // ---- EdDSA, CloudHSM wrapping, KDFs and simple derivations (issue 3, mechs-a)
    /// CKM_EC_EDWARDS_KEY_PAIR_GEN (Ed25519).
    EcEdwardsKeyPairGen,
    /// CKM_EDDSA (`vendor` false) or CKM_CLOUDHSM_EDDSA (`vendor` true): pure Ed25519.
    /// `params` is CK_EDDSA_PARAMS when given: (phFlag, context).
    Eddsa {
        vendor: bool,
        params: Option<(bool, Vec<u8>)>,
    },
    /// CKM_CLOUDHSM_AES_GCM: the module makes the 12-byte IV and prepends it to the
    /// ciphertext; `iv` must be empty (pIv NULL).
    CloudhsmAesGcm(GcmParams),
    /// CKM_CLOUDHSM_AES_KEY_WRAP_NO_PAD / _PKCS5_PAD / _ZERO_PAD; `iv` absent or A6 x 8.
    CloudhsmAesKeyWrap {
        pad: KeyWrapPad,
        iv: Option<Vec<u8>>,
    },
    /// CKM_RSA_AES_KEY_WRAP (CK_RSA_AES_KEY_WRAP_PARAMS).
    RsaAesKeyWrap {
        aes_key_bits: u64,
        oaep: OaepParams,
    },
    /// CKM_HKDF_KEY_GEN.
    HkdfKeyGen,
    /// CKM_HKDF_DERIVE (CK_HKDF_PARAMS).
    HkdfDerive(HkdfParams),
    /// CKM_SP800_108_COUNTER_KDF, _FEEDBACK_KDF, _DOUBLE_PIPELINE_KDF and
    /// CKM_CLOUDHSM_SP800_108_COUNTER_KDF.
    Sp800108(Box<KbkdfParams>),
    /// CKM_PKCS5_PBKD2 (C_GenerateKey).
    Pbkdf2(Pbkdf2Params),
    /// CKM_CONCATENATE_BASE_AND_KEY: the other key. Parsed in `ffi` as the caller's handle
    /// (`ObjectId(handle)`), translated to the object's id above the seam.
    ConcatenateBaseAndKey(ObjectId),
    /// CKM_CONCATENATE_BASE_AND_DATA.
    ConcatenateBaseAndData(Vec<u8>),
    /// CKM_CONCATENATE_DATA_AND_BASE.
    ConcatenateDataAndBase(Vec<u8>),
    /// CKM_XOR_BASE_AND_DATA.
    XorBaseAndData(Vec<u8>),
    /// CKM_EXTRACT_KEY_FROM_KEY: the first bit to extract.
    ExtractKeyFromKey(u64),
    /// CKM_SHA_1_KEY_GEN, CKM_SHA224_KEY_GEN .. CKM_SHA512_KEY_GEN (HMAC keys).
    HmacKeyGen(HashAlg),
    /// CKM_AES_MAC (`out_len` None: half the block) and CKM_AES_MAC_GENERAL.
    AesMac {
        out_len: Option<u64>,
    },
    // ---- AEADs, ChaCha20, the message-based API, post-quantum (issue 3, pq-msg)
    /// CKM_AES_CCM (CK_CCM_PARAMS).
    AesCcm(CcmParams),
    /// CKM_CHACHA20_KEY_GEN.
    ChaCha20KeyGen,
    /// CKM_CHACHA20 (CK_CHACHA20_PARAMS): 12-byte nonce with a 32-bit block counter, or
    /// 8-byte nonce with a 64-bit one.
    ChaCha20 {
        nonce: Vec<u8>,
        counter: u64,
        counter_bits: u64,
    },
    /// CKM_CHACHA20_POLY1305 (CK_SALSA20_CHACHA20_POLY1305_PARAMS).
    ChaCha20Poly1305 {
        nonce: Vec<u8>,
        aad: Vec<u8>,
    },
    /// A message-based operation (C_MessageEncryptInit ...): the per-message parameters come
    /// with each message (`Request::Message`).
    Message(MessageMech),
    /// CKM_ML_KEM_KEY_PAIR_GEN (parameter set from CKA_PARAMETER_SET).
    MlKemKeyPairGen,
    /// CKM_ML_KEM: C_EncapsulateKey / C_DecapsulateKey.
    MlKem,
    /// CKM_ML_DSA_KEY_PAIR_GEN.
    MlDsaKeyPairGen,
    /// CKM_ML_DSA, with its optional CK_SIGN_ADDITIONAL_CONTEXT.
    MlDsa(Option<SignContext>),
}

/// Padding of CloudHSM's AES key wrap mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyWrapPad {
    /// RFC 3394: the payload is a multiple of 8 bytes.
    None,
    /// PKCS #5 padding to a multiple of 8 bytes, then RFC 3394.
    Pkcs5,
    /// RFC 5649 (zero padding, length in the alternative IV).
    Zero,
}

/// Where HKDF's salt comes from (CK_HKDF_PARAMS.ulSaltType).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HkdfSalt {
    /// CKF_HKDF_SALT_NULL: a string of hash-length zeros.
    Null,
    /// CKF_HKDF_SALT_DATA.
    Data(Vec<u8>),
    /// CKF_HKDF_SALT_KEY: the value of a secret key (handle translated above the seam, as
    /// for `ConcatenateBaseAndKey`).
    Key(ObjectId),
}

/// CK_HKDF_PARAMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HkdfParams {
    pub extract: bool,
    pub expand: bool,
    pub prf: HashAlg,
    pub salt: HkdfSalt,
    pub info: Vec<u8>,
}

/// The PRF of an SP 800-108 KDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KbkdfPrf {
    Hmac(HashAlg),
    AesCmac,
}

/// The SP 800-108 mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KbkdfMode {
    Counter,
    Feedback,
    DoublePipeline,
}

/// One element of an SP 800-108 PRF input (CK_PRF_DATA_PARAM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KbkdfData {
    /// CK_SP800_108_ITERATION_VARIABLE: in counter mode a counter of this encoding; in the
    /// other modes (None) the chaining value K(i-1) or A(i).
    Iteration(Option<KbkdfCounter>),
    /// CK_SP800_108_COUNTER (feedback and double-pipeline modes).
    Counter(KbkdfCounter),
    /// CK_SP800_108_DKM_LENGTH.
    DkmLength {
        sum_of_segments: bool,
        little_endian: bool,
        width_bits: u64,
    },
    /// CK_SP800_108_BYTE_ARRAY.
    Bytes(Vec<u8>),
}

/// CK_SP800_108_COUNTER_FORMAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbkdfCounter {
    pub little_endian: bool,
    pub width_bits: u64,
}

/// CK_SP800_108_KDF_PARAMS / CK_SP800_108_FEEDBACK_KDF_PARAMS (and CloudHSM's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbkdfParams {
    pub mode: KbkdfMode,
    /// The CKM_* number the caller used (CKA_ALLOWED_MECHANISMS).
    pub mech: u64,
    pub prf: KbkdfPrf,
    pub data: Vec<KbkdfData>,
    /// Feedback mode's IV (may be empty).
    pub iv: Vec<u8>,
    /// Templates of the additional derived keys (CK_DERIVED_KEY); their handles are written
    /// back by `ffi`.
    pub additional: Vec<Template>,
}

/// CK_PKCS5_PBKD2_PARAMS(2): salt source CKZ_SALT_SPECIFIED only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pbkdf2Params {
    pub salt: Vec<u8>,
    pub iterations: u64,
    pub prf: HashAlg,
    pub password: Secret,
}

impl std::fmt::Debug for Pbkdf2Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pbkdf2Params")
            .field("iterations", &self.iterations)
            .field("prf", &self.prf)
            .finish_non_exhaustive()
    }
}

/// CCM parameters (CK_CCM_PARAMS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CcmParams {
    /// The message length, announced in advance (CCM authenticates it first).
    pub data_len: u64,
    pub nonce: Vec<u8>,
    pub aad: Vec<u8>,
    /// The tag length in bytes (4, 6, ..., 16).
    pub mac_len: u64,
}

/// CK_SIGN_ADDITIONAL_CONTEXT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignContext {
    /// CKH_HEDGE_PREFERRED, CKH_HEDGE_REQUIRED, CKH_DETERMINISTIC_REQUIRED.
    pub hedge: u64,
    pub context: Vec<u8>,
}

/// The mechanism of a message-based operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageMech {
    AesGcm,
    AesCcm,
    ChaCha20Poly1305,
    Hmac { hash: HashAlg, out_len: Option<u64> },
    AesCmac { out_len: Option<u64> },
}

/// The parameters of one message of an AEAD message-based operation (CK_GCM_MESSAGE_PARAMS,
/// CK_CCM_MESSAGE_PARAMS, CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageParams {
    /// The IV / nonce: as given (CKG_NO_GENERATE), or the fixed part and the length of the
    /// one to generate.
    pub iv: Vec<u8>,
    /// How many leading bits of `iv` are fixed when the token generates the rest.
    pub iv_fixed_bits: u64,
    /// CKG_NO_GENERATE, CKG_GENERATE, CKG_GENERATE_COUNTER, CKG_GENERATE_RANDOM.
    pub generator: u64,
    /// The tag length in bytes.
    pub tag_len: u64,
    /// Decryption: the tag to check.
    pub tag: Vec<u8>,
    /// CCM: the announced message length.
    pub data_len: Option<u64>,
}

impl Mechanism {
    /// Whether the data of a sign/verify request with this mechanism is a digest computed
    /// above the seam.
    pub fn prehashed(&self) -> Option<HashAlg> {
        match self {
            Mechanism::HashRsaPkcs(h)
            | Mechanism::HashRsaPkcsPss(h, _)
            | Mechanism::HashEcdsa(h)
            | Mechanism::HashDsa(h) => Some(*h),
            _ => None,
        }
    }
}

/// What a crypto operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OpKind {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    /// C_SignRecover: the signature carries the data (CKA_SIGN_RECOVER).
    SignRecover,
    /// C_VerifyRecover: the data is recovered from the signature (CKA_VERIFY_RECOVER).
    VerifyRecover,
}

/// Token information the core knows (C_GetTokenInfo; the rest is filled above the seam).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub label: String,
    pub serial: String,
    /// The cluster was activated (CKF_TOKEN_INITIALIZED).
    pub initialized: bool,
    /// The slot's default crypto user exists (CKF_USER_PIN_INITIALIZED).
    pub user_pin_initialized: bool,
    pub user_pin: PinState,
    pub so_pin: PinState,
    pub min_pin_len: u64,
    pub max_pin_len: u64,
    /// Bumped whenever the token is (re)initialized: C_WaitForSlotEvent watches it.
    pub generation: u64,
    pub total_public_memory: u64,
    pub free_public_memory: u64,
}

/// Failed-login state of the user a PIN flag reports on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinState {
    pub count_low: bool,
    pub final_try: bool,
    pub locked: bool,
}

/// A request across the seam.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    Connect,
    Disconnect {
        conn: ConnId,
    },
    TokenInfo {
        conn: ConnId,
    },
    InitToken {
        conn: ConnId,
        so_pin: Secret,
        label: String,
    },
    Login {
        conn: ConnId,
        user_type: UserType,
        username: Option<String>,
        pin: Secret,
    },
    /// CKU_CONTEXT_SPECIFIC: re-authenticate the logged-in user for one operation.
    ContextLogin {
        conn: ConnId,
        op: OpId,
        pin: Secret,
    },
    Logout {
        conn: ConnId,
    },
    InitPin {
        conn: ConnId,
        pin: Secret,
    },
    SetPin {
        conn: ConnId,
        old: Secret,
        new: Secret,
    },
    OpenSession {
        conn: ConnId,
        sid: SessionId,
        rw: bool,
    },
    CloseSession {
        conn: ConnId,
        sid: SessionId,
    },
    CreateObject {
        conn: ConnId,
        sid: SessionId,
        template: Template,
    },
    CopyObject {
        conn: ConnId,
        sid: SessionId,
        id: ObjectId,
        template: Template,
    },
    DestroyObject {
        conn: ConnId,
        sid: SessionId,
        id: ObjectId,
    },
    GetAttributes {
        conn: ConnId,
        id: ObjectId,
        types: Vec<AttrType>,
    },
    SetAttributes {
        conn: ConnId,
        sid: SessionId,
        id: ObjectId,
        template: Template,
    },
    ObjectSize {
        conn: ConnId,
        id: ObjectId,
    },
    FindObjects {
        conn: ConnId,
        template: Template,
    },
    GenerateKey {
        conn: ConnId,
        sid: SessionId,
        mech: Mechanism,
        template: Template,
    },
    GenerateKeyPair {
        conn: ConnId,
        sid: SessionId,
        mech: Mechanism,
        public: Template,
        private: Template,
    },
    WrapKey {
        conn: ConnId,
        mech: Mechanism,
        wrapping: ObjectId,
        key: ObjectId,
    },
    UnwrapKey {
        conn: ConnId,
        sid: SessionId,
        mech: Mechanism,
        unwrapping: ObjectId,
        wrapped: Vec<u8>,
        template: Template,
    },
    DeriveKey {
        conn: ConnId,
        sid: SessionId,
        mech: Mechanism,
        base: ObjectId,
        template: Template,
    },
    /// Start an operation: checks the key, the mechanism and the user's rights now, as
    /// C_*Init must.
    OpInit {
        conn: ConnId,
        sid: SessionId,
        kind: OpKind,
        mech: Mechanism,
        key: ObjectId,
    },
    /// Feed data to a multi-part operation; returns output produced so far.
    OpUpdate {
        conn: ConnId,
        op: OpId,
        data: Vec<u8>,
    },
    /// Finish a multi-part operation; `data` is the signature for Verify. Ends the operation,
    /// whatever the outcome.
    OpFinal {
        conn: ConnId,
        op: OpId,
        data: Vec<u8>,
    },
    /// Single-part operation; `extra` is the signature for Verify. Ends the operation,
    /// whatever the outcome.
    OpOneShot {
        conn: ConnId,
        op: OpId,
        data: Vec<u8>,
        extra: Vec<u8>,
    },
    OpCancel {
        conn: ConnId,
        op: OpId,
    },
    /// The mechanisms this token offers (C_GetMechanismList / C_GetMechanismInfo).
    Mechanisms,
    // ---- message-based operations and KEMs (issue 3, pq-msg)
    /// One message of a message-based operation (`OpInit` with `Mechanism::Message`): the
    /// operation stays active. `params` for AEADs; `extra` is the signature for Verify.
    Message {
        conn: ConnId,
        op: OpId,
        params: Option<MessageParams>,
        aad: Vec<u8>,
        data: Vec<u8>,
        extra: Vec<u8>,
    },
    /// The IV the token generates for the next message (C_EncryptMessageBegin): answers
    /// `Data(iv)`; the message then runs with that IV given.
    MessageIv {
        conn: ConnId,
        op: OpId,
        params: MessageParams,
    },
    /// C_EncapsulateKey: answers `Encapsulated`.
    Encapsulate {
        conn: ConnId,
        sid: SessionId,
        mech: Mechanism,
        key: ObjectId,
        template: Template,
    },
    /// C_DecapsulateKey: answers `Object`.
    Decapsulate {
        conn: ConnId,
        sid: SessionId,
        mech: Mechanism,
        key: ObjectId,
        ciphertext: Vec<u8>,
        template: Template,
    },
    // ---- management (cloudhsm-cli); every rule is enforced in the core
    /// Create a user (admins only).
    UserCreate {
        conn: ConnId,
        name: String,
        role: Role,
        password: Secret,
    },
    /// Delete a user (admins only; not while logged in, not while owning keys, not the last admin).
    UserDelete {
        conn: ConnId,
        name: String,
    },
    /// Every user (anyone, logged in or not).
    UserList {
        conn: ConnId,
    },
    /// Change a password: your own (give `old`), or anyone's as an admin (clears a lockout).
    UserChangePassword {
        conn: ConnId,
        name: String,
        old: Option<Secret>,
        new: Secret,
    },
    /// Share / unshare a key with another crypto user (the owner only).
    KeyShare {
        conn: ConnId,
        id: ObjectId,
        user: String,
        share: bool,
    },
    /// Token keys with their metadata: a crypto user sees what it owns or is shared, and
    /// public keys; an admin sees every key's metadata, never key material.
    KeyList {
        conn: ConnId,
        template: Template,
    },
    /// Cluster facts and operation counters (anyone).
    ClusterInfo {
        conn: ConnId,
    },
    /// Check the audit chain (a logged-in user, for the MAC key).
    AuditVerify {
        conn: ConnId,
    },
    GenerateRandom {
        len: u64,
    },
    SeedRandom {
        data: Vec<u8>,
    },
    // ---- quorum (M of N) authentication (cloudhsm-cli `quorum token-sign ...`); see hsm::quorum
    /// Draw a quorum token for a service (the logged-in admin or crypto user).
    QuorumTokenGenerate {
        conn: ConnId,
        service: QuorumService,
    },
    /// Register the caller's quorum public key (an RSA-2048 SubjectPublicKeyInfo, DER),
    /// proving possession with a signature over a `registration` token.
    QuorumRegister {
        conn: ConnId,
        public_key: Vec<u8>,
        approval_data: Vec<u8>,
        signature: Vec<u8>,
    },
    /// Live tokens of the cluster (a logged-in user).
    QuorumTokenList {
        conn: ConnId,
    },
    /// Delete the caller's tokens, or every token (`all`) (admins).
    QuorumTokenDelete {
        conn: ConnId,
        all: bool,
    },
    /// The quorum value (M) of every service (anyone).
    QuorumValues {
        conn: ConnId,
    },
    /// Set a service's quorum value, 1 (off) to 8 (admins; gated by the `quorum` service).
    QuorumSetValue {
        conn: ConnId,
        service: QuorumService,
        value: u64,
    },
    /// Token lifetimes in seconds (anyone).
    QuorumTimeouts {
        conn: ConnId,
    },
    /// Set token lifetimes in seconds (admins).
    QuorumSetTimeout {
        conn: ConnId,
        generated: Option<u64>,
        approved: Option<u64>,
    },
    /// Users with a registered quorum key (anyone).
    QuorumRegistered {
        conn: ConnId,
    },
    /// A gated management request (user create/delete/change-password, set-quorum-value)
    /// with the signed token that approves it.
    Approved {
        approval: Approval,
        request: Box<Request>,
    },
    /// C_DigestKey: digest a secret key's value inside the core. The digest either starts
    /// here from the state of a digest begun above the seam (and continues in the core, as
    /// the returned operation: OpUpdate / OpFinal), or continues a core digest operation.
    DigestKey {
        conn: ConnId,
        sid: SessionId,
        key: ObjectId,
        into: DigestInto,
    },
}

/// Where C_DigestKey's digest continues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DigestInto {
    /// A digest begun above the seam: its state (of the caller's own data).
    Start(HashState),
    /// A digest already in the core.
    Op(OpId),
}

/// A response across the seam.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    Ok,
    Connected(ConnId),
    TokenInfo(TokenInfo),
    LoggedIn {
        user: String,
        role: Role,
    },
    Object(ObjectId),
    KeyPair {
        public: ObjectId,
        private: ObjectId,
    },
    Objects(Vec<ObjectId>),
    Attributes(Vec<AttrRead>),
    Size(u64),
    Op(OpId),
    /// An operation started with an IV the core generated (strict CloudHSM mode's AES-GCM
    /// encryption): the caller's CK_GCM_PARAMS.pIV receives it.
    OpIv {
        op: OpId,
        iv: Vec<u8>,
    },
    Data(Vec<u8>),
    Mechanisms(Vec<MechanismInfo>),
    Users(Vec<UserInfo>),
    Keys(Vec<KeyInfo>),
    ClusterInfo(ClusterInfo),
    /// The audit verdict as JSON text.
    Audit(String),
    /// A message's output, the IV it used and (encryption) its tag.
    Message {
        data: Vec<u8>,
        iv: Vec<u8>,
        tag: Vec<u8>,
    },
    /// C_EncapsulateKey: the new key and the ciphertext.
    Encapsulated {
        key: ObjectId,
        ciphertext: Vec<u8>,
    },
    /// A new quorum token: the approval data approvers sign, and its SHA-256.
    QuorumToken {
        approval_data: Vec<u8>,
        token: Vec<u8>,
    },
    QuorumTokens(Vec<QuorumTokenInfo>),
    QuorumValues(Vec<(QuorumService, u64)>),
    QuorumTimeouts {
        generated: u64,
        approved: u64,
    },
    /// Names of the users with a registered quorum key.
    QuorumRegistered(Vec<String>),
}

/// The services quorum authentication can gate (CloudHSM's service names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuorumService {
    /// Admin service: user create, delete, change-password.
    User,
    /// Admin service: set-quorum-value.
    Quorum,
    /// Tokens that prove possession of a quorum key when registering it.
    Registration,
    /// Crypto-user service, per key (not supported here).
    KeyManagement,
    /// Crypto-user service, per key (not supported here).
    KeyUsage,
}

impl QuorumService {
    pub fn as_str(self) -> &'static str {
        match self {
            QuorumService::User => "user",
            QuorumService::Quorum => "quorum",
            QuorumService::Registration => "registration",
            QuorumService::KeyManagement => "key-management",
            QuorumService::KeyUsage => "key-usage",
        }
    }
}

/// A signed quorum token as the requester presents it (`--approval <file>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approval_data: Vec<u8>,
    /// SHA-256 of `approval_data`, as the token file states it.
    pub token: Vec<u8>,
    /// (approver user name, RSA PKCS#1 v1.5 signature of the token as a SHA-256 digest).
    pub signatures: Vec<(String, Vec<u8>)>,
}

/// A live token as `quorum token-sign list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumTokenInfo {
    pub user: String,
    pub service: QuorumService,
    pub approvals_required: u64,
    pub approvals: u64,
    pub timeout_seconds: u64,
}

/// A user as `user list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub locked: bool,
    pub failed_logins: u32,
}

/// A key as `key list` shows it: metadata only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub id: ObjectId,
    pub owner: Option<String>,
    pub shared: Vec<String>,
    /// Every non-secret attribute.
    pub attrs: Vec<Attribute>,
}

/// `cluster info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub label: String,
    pub serial: String,
    pub activated: bool,
    pub users: u64,
    pub token_objects: u64,
    /// Crypto operations started by this process: total and per CKM_* number.
    pub operations: u64,
    pub operations_by_mechanism: Vec<(u64, u64)>,
}

/// One row of the mechanism table: CK_MECHANISM_INFO with the mechanism number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MechanismInfo {
    /// CKM_* number.
    pub mech: u64,
    pub min_key: u64,
    pub max_key: u64,
    /// CKF_* flags.
    pub flags: u64,
}

/// The seam. Embedded: `hsm::core::Core` in-process; remote: a client to `cloudhsm-node`.
pub trait Hsm: Send + Sync {
    fn call(&self, req: Request) -> Result<Response>;

    /// `Request::OpOneShot` without copies, for the in-process hot path: the input is
    /// borrowed and the output written straight into `out` when it fits. Same semantics and
    /// errors as the request (the operation ends, whatever the outcome). The default goes
    /// through [`Hsm::call`] (a remote HSM, the wire test transport); the embedded core
    /// overrides it.
    fn op_one_shot_into(
        &self,
        conn: ConnId,
        op: OpId,
        data: &[u8],
        extra: &[u8],
        out: &mut [u8],
    ) -> Result<Placed> {
        match self.call(Request::OpOneShot {
            conn,
            op,
            data: data.to_vec(),
            extra: extra.to_vec(),
        })? {
            Response::Data(d) => Ok(Placed::place(d, out)),
            Response::Ok => Ok(Placed::Written(0)),
            _ => Err(crate::error::Error::GeneralError),
        }
    }
}

/// Where [`Hsm::op_one_shot_into`] put an operation's output.
#[derive(PartialEq, Eq)]
pub enum Placed {
    /// In the caller's buffer: this many bytes.
    Written(usize),
    /// Too big for the caller's buffer: here it is (the caller keeps it for a retry and wipes
    /// it if it is plaintext).
    Output(Vec<u8>),
}

impl std::fmt::Debug for Placed {
    // Outputs may be plaintext: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Placed::Written(n) => write!(f, "Written({n})"),
            Placed::Output(d) => write!(f, "Output(len={})", d.len()),
        }
    }
}

impl Placed {
    /// Copy `data` into `out` if it fits (then wipe `data`: it may be plaintext), else keep it.
    pub fn place(mut data: Vec<u8>, out: &mut [u8]) -> Placed {
        match out.get_mut(..data.len()) {
            Some(dst) => {
                dst.copy_from_slice(&data);
                crate::crypto::wipe(&mut data);
                Placed::Written(data.len())
            }
            None => Placed::Output(data),
        }
    }
}
