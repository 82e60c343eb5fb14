//! The seam: `trait Hsm` and the plain-data requests and responses that cross it.
//!
//! Everything above this seam (`cryptoki/`, `ffi/`) is PKCS#11 bookkeeping; every security
//! decision (who may log in, who may see or use an object, which attribute may change) is
//! taken below it, in `hsm::core`. Requests and responses are serde data so the same core
//! can serve a network node unchanged; `hsm::wire` proves it by encoding every call.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

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
}

impl Mechanism {
    /// Whether the data of a sign/verify request with this mechanism is a digest computed
    /// above the seam.
    pub fn prehashed(&self) -> Option<HashAlg> {
        match self {
            Mechanism::HashRsaPkcs(h)
            | Mechanism::HashRsaPkcsPss(h, _)
            | Mechanism::HashEcdsa(h) => Some(*h),
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
    Data(Vec<u8>),
    Mechanisms(Vec<MechanismInfo>),
    Users(Vec<UserInfo>),
    Keys(Vec<KeyInfo>),
    ClusterInfo(ClusterInfo),
    /// The audit verdict as JSON text.
    Audit(String),
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
