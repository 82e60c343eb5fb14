//! A PKCS#11 module as a benchmark side: loaded by path through the `cryptoki` crate (so each
//! call goes through the same client code an application uses), a throw-away token provisioned
//! with C_InitToken + SO login + C_InitPIN, then the cases run through one logged-in session
//! (or one session per thread).

use std::collections::HashMap;
use std::path::Path;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::cases::{self, Case, Kind};
use crate::measure::{measure, measure_threads, Histogram, Limits, Sample};
use crate::{Failure, Side};

const SO_PIN: &str = "bench-so-password";
/// CloudHSM's `user:password` form; to SoftHSM it is just a 24-character PIN.
const USER_PIN: &str = "benchcu:bench-cu-password";
const TOKEN_LABEL: &str = "bench";

const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Pkcs11(RvError::MechanismInvalid, f) => {
                Failure::NotSupported(format!("CKR_MECHANISM_INVALID from {f}"))
            }
            Error::Pkcs11(rv, f) => Failure::Error(format!("{f}: {rv:?}")),
            other => Failure::Error(other.to_string()),
        }
    }
}

/// A key pair (or a secret key in `private`, with `public` unused).
#[derive(Clone, Copy)]
struct Keys {
    public: ObjectHandle,
    private: ObjectHandle,
}

pub(crate) struct TokenSide {
    // Field order is drop order: the session closes before the library is finalized.
    session: Session,
    keys: HashMap<&'static str, Keys>,
    /// Inputs made while preparing: signatures to verify, a ciphertext to decrypt, a peer point.
    blobs: HashMap<&'static str, Vec<u8>>,
    find_objects: usize,
    slot: Slot,
    pkcs11: Pkcs11,
    iv_counter: u64,
}

impl TokenSide {
    /// Loads the module, provisions a fresh token (the caller points the module at an empty
    /// store first) and logs the user in. `find_objects` is how many objects the find case
    /// creates.
    pub(crate) fn open(module: &Path, find_objects: usize) -> Result<Self, Failure> {
        let pkcs11 = Pkcs11::new(module)?;
        pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
        let slot = *pkcs11
            .get_slots_with_token()?
            .first()
            .ok_or_else(|| Failure::Error("the module has no slot with a token".into()))?;
        pkcs11.init_token(slot, &AuthPin::from(SO_PIN), TOKEN_LABEL)?;
        // SoftHSM moves an initialized token to a new slot ID: find it again by its label.
        let slot = pkcs11
            .get_slots_with_initialized_token()?
            .into_iter()
            .find(|s| {
                pkcs11
                    .get_token_info(*s)
                    .is_ok_and(|t| t.label() == TOKEN_LABEL)
            })
            .ok_or_else(|| {
                Failure::Error("the initialized token is not in the slot list".into())
            })?;
        {
            let so = pkcs11.open_rw_session(slot)?;
            so.login(UserType::So, Some(&AuthPin::from(SO_PIN)))?;
            so.init_pin(&AuthPin::from(USER_PIN))?;
            so.logout()?;
        }
        let session = pkcs11.open_rw_session(slot)?;
        session.login(UserType::User, Some(&AuthPin::from(USER_PIN)))?;
        Ok(TokenSide {
            session,
            keys: HashMap::new(),
            blobs: HashMap::new(),
            find_objects,
            slot,
            pkcs11,
            iv_counter: 0,
        })
    }

    fn key(&self, name: &str) -> Result<Keys, Failure> {
        self.keys
            .get(name)
            .copied()
            .ok_or_else(|| Failure::Error(format!("key {name} not prepared")))
    }

    fn blob(&self, name: &str) -> Result<&[u8], Failure> {
        self.blobs
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| Failure::Error(format!("{name} not prepared")))
    }

    /// Generates (once) the named token key the cases use.
    fn ensure_key(&mut self, name: &'static str) -> Result<Keys, Failure> {
        if let Some(k) = self.keys.get(name) {
            return Ok(*k);
        }
        let s = &self.session;
        let label = Attribute::Label(name.as_bytes().to_vec());
        let keys = match name {
            "rsa2048" | "rsa3072" => {
                let bits: u64 = if name == "rsa2048" { 2048 } else { 3072 };
                let (public, private) = s.generate_key_pair(
                    &Mechanism::RsaPkcsKeyPairGen,
                    &[
                        Attribute::Token(true),
                        Attribute::ModulusBits(bits.into()),
                        Attribute::PublicExponent(vec![1, 0, 1]),
                        Attribute::Verify(true),
                        Attribute::Encrypt(true),
                        label.clone(),
                    ],
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Sign(true),
                        Attribute::Decrypt(true),
                        label,
                    ],
                )?;
                Keys { public, private }
            }
            "p256" | "p384" | "p256-ecdh" | "p256-peer" => {
                let oid = if name == "p384" { P384_OID } else { P256_OID };
                let derive = name == "p256-ecdh";
                let (public, private) = s.generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &[
                        Attribute::Token(true),
                        Attribute::EcParams(oid.to_vec()),
                        Attribute::Verify(!derive),
                        label.clone(),
                    ],
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        if derive {
                            Attribute::Derive(true)
                        } else {
                            Attribute::Sign(true)
                        },
                        label,
                    ],
                )?;
                Keys { public, private }
            }
            "aes256" => {
                let key = s.generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::ValueLen(32.into()),
                        Attribute::Encrypt(true),
                        Attribute::Decrypt(true),
                        label,
                    ],
                )?;
                Keys {
                    public: key,
                    private: key,
                }
            }
            "hmac" => {
                let key = s.generate_key(
                    &Mechanism::GenericSecretKeyGen,
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::ValueLen(32.into()),
                        Attribute::Sign(true),
                        Attribute::Verify(true),
                        label,
                    ],
                )?;
                Keys {
                    public: key,
                    private: key,
                }
            }
            other => return Err(Failure::Error(format!("unknown key {other}"))),
        };
        self.keys.insert(name, keys);
        Ok(keys)
    }

    fn next_iv(&mut self) -> [u8; 16] {
        self.iv_counter += 1;
        let mut iv = [0u8; 16];
        iv[8..].copy_from_slice(&self.iv_counter.to_be_bytes());
        iv
    }
}

fn pss_params() -> PkcsPssParams {
    PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    }
}

fn oaep_params() -> PkcsOaepParams<'static> {
    PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    )
}

fn rsa_key_name(bits: u32) -> &'static str {
    if bits == 3072 {
        "rsa3072"
    } else {
        "rsa2048"
    }
}

/// A token AES-256 key template with its value, as C_CreateObject takes it.
fn aes_object(label: String) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Label(label.into_bytes()),
        Attribute::Value(cases::payload(32)),
    ]
}

/// The uncompressed point of an EC public key object: CKA_EC_POINT is a DER OCTET STRING
/// around it (some modules return the bare point).
fn ec_point(session: &Session, key: ObjectHandle) -> Result<Vec<u8>, Failure> {
    let attrs = session.get_attributes(key, &[AttributeType::EcPoint])?;
    let Some(Attribute::EcPoint(der)) = attrs.into_iter().next() else {
        return Err(Failure::Error("no CKA_EC_POINT".into()));
    };
    match der.as_slice() {
        [0x04, len, rest @ ..]
            if usize::from(*len) == rest.len() && rest.first() == Some(&0x04) =>
        {
            Ok(rest.to_vec())
        }
        _ => Ok(der),
    }
}

impl Side for TokenSide {
    fn prepare(&mut self, case: &Case) -> Result<(), Failure> {
        match case.kind {
            Kind::RsaSign { bits, .. } => {
                self.ensure_key(rsa_key_name(bits))?;
            }
            Kind::RsaVerify => {
                let k = self.ensure_key("rsa2048")?;
                let sig =
                    self.session
                        .sign(&Mechanism::Sha256RsaPkcs, k.private, &cases::MESSAGE)?;
                self.blobs.insert("rsa-sig", sig);
            }
            Kind::RsaOaepDecrypt => {
                let k = self.ensure_key("rsa2048")?;
                let ct = self.session.encrypt(
                    &Mechanism::RsaPkcsOaep(oaep_params()),
                    k.public,
                    &cases::MESSAGE[..32],
                )?;
                self.blobs.insert("oaep-ct", ct);
            }
            Kind::EcdsaSign { p384 } => {
                self.ensure_key(if p384 { "p384" } else { "p256" })?;
            }
            Kind::EcdsaVerify => {
                let k = self.ensure_key("p256")?;
                let sig = self
                    .session
                    .sign(&Mechanism::Ecdsa, k.private, &cases::MESSAGE[..32])?;
                self.blobs.insert("ecdsa-sig", sig);
            }
            Kind::EcdhDerive => {
                self.ensure_key("p256-ecdh")?;
                let peer = self.ensure_key("p256-peer")?;
                let point = ec_point(&self.session, peer.public)?;
                self.blobs.insert("ecdh-peer", point);
            }
            Kind::AesGcm { .. } | Kind::AesCbcPad { .. } => {
                self.ensure_key("aes256")?;
            }
            Kind::Hmac { .. } => {
                self.ensure_key("hmac")?;
            }
            Kind::FindByLabel => {
                for i in 0..self.find_objects {
                    self.session
                        .create_object(&aes_object(cases::find_label(i)))?;
                }
            }
            Kind::Sha256 { .. }
            | Kind::AesKeygen
            | Kind::RsaKeygen
            | Kind::Random { .. }
            | Kind::SessionOpenClose
            | Kind::CreateObject => {}
        }
        Ok(())
    }

    fn run(
        &mut self,
        case: &Case,
        limits: Limits,
        hist: &mut Histogram,
    ) -> Result<Sample, Failure> {
        if case.threads > 1 {
            return self.run_threads(case, limits, hist);
        }
        let mut created: Vec<ObjectHandle> = Vec::new();
        let sample = self.run_one(case, limits, hist, &mut created);
        // Objects the case made are destroyed after the repetition, untimed, even on failure.
        for h in created {
            self.session.destroy_object(h)?;
        }
        sample
    }

    fn describe(&self) -> String {
        match self.pkcs11.get_library_info() {
            Ok(info) => format!(
                "{} {} (library {}, PKCS#11 {})",
                info.manufacturer_id().trim(),
                info.library_description().trim(),
                info.library_version(),
                info.cryptoki_version()
            ),
            Err(e) => format!("C_GetInfo failed: {e}"),
        }
    }
}

impl TokenSide {
    fn run_one(
        &mut self,
        case: &Case,
        limits: Limits,
        hist: &mut Histogram,
        created: &mut Vec<ObjectHandle>,
    ) -> Result<Sample, Failure> {
        match case.kind {
            Kind::RsaSign { bits, pss } => {
                let k = self.key(rsa_key_name(bits))?;
                let mech = if pss {
                    Mechanism::Sha256RsaPkcsPss(pss_params())
                } else {
                    Mechanism::Sha256RsaPkcs
                };
                let s = &self.session;
                measure(limits, hist, || {
                    s.sign(&mech, k.private, &cases::MESSAGE)?;
                    Ok(())
                })
            }
            Kind::RsaVerify => {
                let k = self.key("rsa2048")?;
                let sig = self.blob("rsa-sig")?;
                let s = &self.session;
                measure(limits, hist, || {
                    Ok(s.verify(&Mechanism::Sha256RsaPkcs, k.public, &cases::MESSAGE, sig)?)
                })
            }
            Kind::RsaOaepDecrypt => {
                let k = self.key("rsa2048")?;
                let ct = self.blob("oaep-ct")?;
                let s = &self.session;
                measure(limits, hist, || {
                    s.decrypt(&Mechanism::RsaPkcsOaep(oaep_params()), k.private, ct)?;
                    Ok(())
                })
            }
            Kind::EcdsaSign { p384 } => {
                let k = self.key(if p384 { "p384" } else { "p256" })?;
                let digest = if p384 {
                    &cases::MESSAGE[..48]
                } else {
                    &cases::MESSAGE[..32]
                };
                let s = &self.session;
                measure(limits, hist, || {
                    s.sign(&Mechanism::Ecdsa, k.private, digest)?;
                    Ok(())
                })
            }
            Kind::EcdsaVerify => {
                let k = self.key("p256")?;
                let sig = self.blob("ecdsa-sig")?;
                let s = &self.session;
                measure(limits, hist, || {
                    Ok(s.verify(&Mechanism::Ecdsa, k.public, &cases::MESSAGE[..32], sig)?)
                })
            }
            Kind::EcdhDerive => {
                let k = self.key("p256-ecdh")?;
                let peer = self.blob("ecdh-peer")?;
                let s = &self.session;
                let template = [
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::GENERIC_SECRET),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(false),
                    Attribute::Sensitive(true),
                ];
                measure(limits, hist, || {
                    let mech = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer));
                    created.push(s.derive_key(&mech, k.private, &template)?);
                    Ok(())
                })
            }
            Kind::AesGcm { len } => {
                let k = self.key("aes256")?;
                let data = cases::payload(len);
                let (s, counter) = (&self.session, &mut self.iv_counter);
                measure(limits, hist, || {
                    // A fresh IV every call: a module may refuse to reuse one under a key.
                    *counter += 1;
                    let mut iv = [0u8; 12];
                    iv[4..].copy_from_slice(&counter.to_be_bytes());
                    let mech = Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into())?);
                    s.encrypt(&mech, k.private, &data)?;
                    Ok(())
                })
            }
            Kind::AesCbcPad { len } => {
                let k = self.key("aes256")?;
                let data = cases::payload(len);
                let iv = self.next_iv();
                let s = &self.session;
                measure(limits, hist, || {
                    s.encrypt(&Mechanism::AesCbcPad(iv), k.private, &data)?;
                    Ok(())
                })
            }
            Kind::Sha256 { len } => {
                let data = cases::payload(len);
                let s = &self.session;
                measure(limits, hist, || {
                    s.digest(&Mechanism::Sha256, &data)?;
                    Ok(())
                })
            }
            Kind::Hmac { len } => {
                let k = self.key("hmac")?;
                let data = cases::payload(len);
                let s = &self.session;
                measure(limits, hist, || {
                    s.sign(&Mechanism::Sha256Hmac, k.private, &data)?;
                    Ok(())
                })
            }
            Kind::AesKeygen => {
                let s = &self.session;
                let template = [
                    Attribute::Token(false),
                    Attribute::Sensitive(true),
                    Attribute::ValueLen(32.into()),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                ];
                measure(limits, hist, || {
                    created.push(s.generate_key(&Mechanism::AesKeyGen, &template)?);
                    Ok(())
                })
            }
            Kind::RsaKeygen => {
                let s = &self.session;
                let public = [
                    Attribute::Token(false),
                    Attribute::ModulusBits(2048.into()),
                    Attribute::PublicExponent(vec![1, 0, 1]),
                    Attribute::Verify(true),
                ];
                let private = [
                    Attribute::Token(false),
                    Attribute::Sensitive(true),
                    Attribute::Sign(true),
                ];
                measure(limits, hist, || {
                    let (p, q) =
                        s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)?;
                    created.extend([p, q]);
                    Ok(())
                })
            }
            Kind::Random { len } => {
                let mut buf = vec![0u8; len];
                let s = &self.session;
                measure(limits, hist, || Ok(s.generate_random_slice(&mut buf)?))
            }
            Kind::SessionOpenClose => {
                let (p, slot) = (&self.pkcs11, self.slot);
                measure(limits, hist, || {
                    drop(p.open_rw_session(slot)?); // dropping the session is C_CloseSession
                    Ok(())
                })
            }
            Kind::CreateObject => {
                let s = &self.session;
                let template = aes_object("bench-create".into());
                measure(limits, hist, || {
                    created.push(s.create_object(&template)?);
                    Ok(())
                })
            }
            Kind::FindByLabel => {
                let wanted = cases::find_label(self.find_objects / 2);
                let template = [Attribute::Label(wanted.into_bytes())];
                let s = &self.session;
                measure(limits, hist, || match s.find_objects(&template)?.len() {
                    1 => Ok(()),
                    n => Err(Failure::Error(format!(
                        "find by label found {n} objects, not 1"
                    ))),
                })
            }
        }
    }

    /// The scaling rows: each thread opens its own session (the login is the application's,
    /// so it covers them) and signs with the same token key.
    fn run_threads(
        &mut self,
        case: &Case,
        limits: Limits,
        hist: &mut Histogram,
    ) -> Result<Sample, Failure> {
        let (rsa, key, data): (bool, _, &[u8]) = match case.kind {
            Kind::RsaSign { bits, pss: false } => {
                (true, self.key(rsa_key_name(bits))?, &cases::MESSAGE)
            }
            Kind::EcdsaSign { p384 } => {
                let k = self.key(if p384 { "p384" } else { "p256" })?;
                (
                    false,
                    k,
                    if p384 {
                        &cases::MESSAGE[..48]
                    } else {
                        &cases::MESSAGE[..32]
                    },
                )
            }
            _ => {
                return Err(Failure::Error(format!(
                    "{} has no threaded form",
                    case.name
                )))
            }
        };
        let (pkcs11, slot) = (&self.pkcs11, self.slot);
        measure_threads(case.threads, limits, hist, || {
            let session = pkcs11.open_rw_session(slot)?;
            let mech = if rsa {
                Mechanism::Sha256RsaPkcs
            } else {
                Mechanism::Ecdsa
            };
            Ok(move || {
                session.sign(&mech, key.private, data)?;
                Ok(())
            })
        })
    }
}
