//! Quorum (M of N) authentication, CloudHSM's `token-sign` strategy.
//!
//! Each user may register an RSA-2048 public key (proving possession by signing a
//! `registration` token). An admin sets a quorum value M per service (1 = off, up to 8). While
//! M > 1, a gated operation runs only with a token the requester drew from the HSM and that
//! at least M distinct registered users approved by signing it with their private keys:
//!
//! - `approval_data` is HSM-made binary data naming the token: magic, token id, service,
//!   creation and expiry times, a random nonce, the cluster serial and the requester;
//! - the token is `SHA-256(approval_data)`; an approval is the RSASSA-PKCS1-v1_5 signature of
//!   that digest (`openssl pkeyutl -sign -pkeyopt digest:sha256` over the raw token bytes,
//!   i.e. `sha256WithRSAEncryption` over `approval_data`).
//!
//! This module holds the data and the pure checks; `hsm::core` keeps the records in the store
//! (kind `Quorum`, sealed under the domain key, docs/store-format.md) and enforces the gates.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::api::{QuorumService, Role};
use crate::crypto::digest::digest;
use crate::crypto::rsa::RsaPublicKey;
use crate::crypto::HashAlg;
use crate::error::{Error, Result};

/// The largest quorum value.
pub const MAX_VALUE: u64 = 8;
/// Live tokens per cluster (CloudHSM: 1,024 per HSM); expired ones are purged first.
pub const MAX_TOKENS: usize = 1024;
/// Default token lifetime, seconds (CloudHSM: ten minutes).
pub const DEFAULT_TIMEOUT_S: u64 = 600;
/// Longest token lifetime `set-timeout` accepts, seconds (one day).
pub const MAX_TIMEOUT_S: u64 = 86_400;
/// The only quorum key size CloudHSM accepts.
pub const KEY_BITS: usize = 2048;

/// Record id of the settings.
pub const SETTINGS_ID: &[u8] = b"settings";
const KEY_PREFIX: &str = "key/";
const TOKEN_PREFIX: &str = "token/";
const MAGIC: &[u8; 8] = b"CHSMQT01";

/// Record id of a user's registered key.
pub fn key_id(user: &str) -> Vec<u8> {
    format!("{KEY_PREFIX}{user}").into_bytes()
}

/// The user a key record id names.
pub fn key_owner(id: &[u8]) -> Option<&str> {
    std::str::from_utf8(id).ok()?.strip_prefix(KEY_PREFIX)
}

/// Record id of a token: the requester's name is part of it, so a user's tokens can be found
/// (and deleted with the user) without opening them; the sealing AAD binds the id.
pub fn token_record_id(user: &str, id: &[u8; 16]) -> Vec<u8> {
    format!("{TOKEN_PREFIX}{user}/{}", hex::encode(id)).into_bytes()
}

/// The requester a token record id names.
pub fn token_owner(id: &[u8]) -> Option<&str> {
    let rest = std::str::from_utf8(id).ok()?.strip_prefix(TOKEN_PREFIX)?;
    rest.split_once('/').map(|(user, _)| user)
}

/// Quorum values and token lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub user: u64,
    pub quorum: u64,
    /// Seconds a generated token stays valid for approval.
    pub generated_timeout: u64,
    /// Seconds an approved token stays usable.
    pub approved_timeout: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            user: 1,
            quorum: 1,
            generated_timeout: DEFAULT_TIMEOUT_S,
            approved_timeout: DEFAULT_TIMEOUT_S,
        }
    }
}

impl Settings {
    /// M for a service (1: no quorum).
    pub fn value(&self, service: QuorumService) -> u64 {
        match service {
            QuorumService::User => self.user,
            QuorumService::Quorum => self.quorum,
            QuorumService::Registration
            | QuorumService::KeyManagement
            | QuorumService::KeyUsage => 1,
        }
    }

    /// Set M for an admin service; 1..=8.
    pub fn set_value(&mut self, service: QuorumService, value: u64) -> Result<()> {
        if !(1..=MAX_VALUE).contains(&value) {
            return Err(Error::ArgumentsBad);
        }
        match service {
            QuorumService::User => self.user = value,
            QuorumService::Quorum => self.quorum = value,
            QuorumService::Registration => return Err(Error::ArgumentsBad),
            QuorumService::KeyManagement | QuorumService::KeyUsage => {
                return Err(Error::FunctionNotSupported)
            }
        }
        Ok(())
    }
}

/// The settings record: a clear copy, so anyone can list values and timeouts before logging
/// in, and the same settings sealed under the domain key, the only copy enforcement trusts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettingsRecord {
    pub clear: Settings,
    pub sealed: Vec<u8>,
}

/// A registered quorum key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub user: String,
    /// The role the user had when registering; a key counts only while it still matches.
    pub role: Role,
    /// SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
}

impl Registration {
    pub fn public_key(&self) -> Result<RsaPublicKey> {
        RsaPublicKey::from_spki_der(&self.spki)
    }
}

/// A token as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: [u8; 16],
    pub service: QuorumService,
    pub user: String,
    pub approval_data: Vec<u8>,
    /// Seconds since the epoch.
    pub created: u64,
    /// When the token stops being valid for approval.
    pub expires: u64,
    /// (when, how many approvals) once a presentation carried enough approvals.
    pub approved: Option<(u64, u64)>,
}

fn service_byte(s: QuorumService) -> u8 {
    match s {
        QuorumService::User => 1,
        QuorumService::Quorum => 2,
        QuorumService::Registration => 3,
        QuorumService::KeyManagement => 4,
        QuorumService::KeyUsage => 5,
    }
}

impl TokenRecord {
    /// A fresh token for `user` and `service`, valid for `lifetime` seconds from `now`.
    pub fn new(
        serial: &str,
        service: QuorumService,
        user: &str,
        now: u64,
        lifetime: u64,
    ) -> Result<Self> {
        let mut id = [0u8; 16];
        crate::crypto::rng::fill(&mut id)?;
        let mut nonce = [0u8; 32];
        crate::crypto::rng::fill(&mut nonce)?;
        let expires = now.saturating_add(lifetime);
        let serial_len = u8::try_from(serial.len()).map_err(|_| Error::GeneralError)?;
        let user_len = u8::try_from(user.len()).map_err(|_| Error::GeneralError)?;
        let mut data = Vec::with_capacity(128);
        data.extend_from_slice(MAGIC);
        data.extend_from_slice(&id);
        data.push(service_byte(service));
        data.extend_from_slice(&now.to_be_bytes());
        data.extend_from_slice(&expires.to_be_bytes());
        data.extend_from_slice(&nonce);
        data.push(serial_len);
        data.extend_from_slice(serial.as_bytes());
        data.push(user_len);
        data.extend_from_slice(user.as_bytes());
        // CloudHSM: the raw approval data never exceeds 245 bytes (RSA-2048 PKCS#1 payload).
        if data.len() > 245 {
            return Err(Error::GeneralError);
        }
        Ok(TokenRecord {
            id,
            service,
            user: user.to_string(),
            approval_data: data,
            created: now,
            expires,
            approved: None,
        })
    }

    /// The SHA-256 digest approvers sign.
    pub fn token(&self) -> Vec<u8> {
        digest(HashAlg::Sha256, &self.approval_data)
    }

    /// When the token stops being usable: its approval deadline, or once approved, the
    /// approved lifetime from the approval.
    pub fn deadline(&self, s: &Settings) -> u64 {
        match self.approved {
            Some((at, _)) => at.saturating_add(s.approved_timeout),
            None => self.expires,
        }
    }

    pub fn live(&self, now: u64, s: &Settings) -> bool {
        now < self.deadline(s)
    }
}

/// The token id named in approval data, if it has our shape.
pub fn token_id_of(approval_data: &[u8]) -> Option<[u8; 16]> {
    if approval_data.get(..8)? != MAGIC {
        return None;
    }
    approval_data.get(8..24)?.try_into().ok()
}

/// Does the presented data name this token, with the right digest? Constant time.
pub fn matches(rec: &TokenRecord, approval_data: &[u8], token: &[u8]) -> bool {
    let same_data = approval_data.len() == rec.approval_data.len()
        && bool::from(approval_data.ct_eq(&rec.approval_data));
    let digest = rec.token();
    let same_token = token.len() == digest.len() && bool::from(token.ct_eq(&digest));
    same_data & same_token
}

/// A user who may approve: name, current role, registered key.
pub struct Approver {
    pub name: String,
    pub role: Role,
    pub key: RsaPublicKey,
}

/// How many distinct approvers signed `token` validly. Signatures by unknown or unregistered
/// users, by users without the `role` the service needs, repeats of a name and signatures
/// that do not verify do not count.
pub fn count_approvals(
    token: &[u8],
    signatures: &[(String, Vec<u8>)],
    role: Option<Role>,
    approver: impl Fn(&str) -> Option<Approver>,
) -> u64 {
    let mut seen: Vec<String> = Vec::new();
    let mut count = 0;
    for (name, sig) in signatures {
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            continue;
        }
        let Some(a) = approver(&name) else { continue };
        if role.is_some_and(|r| r != a.role) {
            continue;
        }
        if a.key.verify_pkcs1(HashAlg::Sha256, token, sig).is_ok() {
            seen.push(name);
            count += 1;
        }
    }
    count
}

/// Check a public key offered for registration: RSA, 2048 bits.
pub fn check_public_key(spki: &[u8]) -> Result<RsaPublicKey> {
    let key = RsaPublicKey::from_spki_der(spki).map_err(|e| match e {
        Error::KeySizeRange => Error::KeySizeRange,
        _ => Error::PublicKeyInvalid,
    })?;
    if key.modulus_bits() != KEY_BITS {
        return Err(Error::KeySizeRange);
    }
    Ok(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::rsa::RsaPrivateKey;

    fn keypair() -> (RsaPrivateKey, RsaPublicKey) {
        let c = crate::crypto::rsa::generate(2048, &[1, 0, 1]).unwrap();
        let k = RsaPrivateKey::from_components(&c).unwrap();
        let p = k.public_key().unwrap();
        (k, p)
    }

    #[test]
    fn ids_name_their_users() {
        assert_eq!(key_owner(&key_id("admin2")), Some("admin2"));
        let id = token_record_id("admin", &[7; 16]);
        assert_eq!(token_owner(&id), Some("admin"));
        assert_eq!(key_owner(&id), None);
        assert_eq!(token_owner(b"settings"), None);
    }

    #[test]
    fn token_data_binds_everything_and_fits_a_signature() {
        let t = TokenRecord::new(
            "0011223344556677",
            QuorumService::User,
            &"a".repeat(31),
            100,
            600,
        )
        .unwrap();
        assert!(t.approval_data.len() <= 245);
        assert_eq!(token_id_of(&t.approval_data), Some(t.id));
        assert!(matches(&t, &t.approval_data, &t.token()));
        let mut other = t.approval_data.clone();
        let last = other.len() - 1;
        other[last] ^= 1;
        assert!(!matches(&t, &other, &t.token()));
        assert!(!matches(&t, &t.approval_data, &[0u8; 32]));
        assert_eq!(token_id_of(b"not a token at all, really"), None);
        let s = Settings::default();
        assert!(t.live(699, &s) && !t.live(700, &s));
        let mut approved = t.clone();
        approved.approved = Some((650, 2));
        assert_eq!(approved.deadline(&s), 1250);
    }

    #[test]
    fn values_range() {
        let mut s = Settings::default();
        assert_eq!(s.value(QuorumService::User), 1);
        s.set_value(QuorumService::User, 8).unwrap();
        assert_eq!(s.value(QuorumService::User), 8);
        assert_eq!(
            s.set_value(QuorumService::User, 9),
            Err(Error::ArgumentsBad)
        );
        assert_eq!(
            s.set_value(QuorumService::Quorum, 0),
            Err(Error::ArgumentsBad)
        );
        assert_eq!(
            s.set_value(QuorumService::KeyUsage, 2),
            Err(Error::FunctionNotSupported)
        );
    }

    #[test]
    fn only_distinct_valid_registered_approvals_count() {
        let (k1, p1) = keypair();
        let (k2, p2) = keypair();
        let t = TokenRecord::new("00", QuorumService::User, "admin", 0, 600).unwrap();
        let token = t.token();
        let s1 = k1.sign_pkcs1(HashAlg::Sha256, &token).unwrap();
        let s2 = k2.sign_pkcs1(HashAlg::Sha256, &token).unwrap();
        let keys = [("admin", p1), ("admin2", p2)];
        let lookup = |n: &str| {
            keys.iter().find(|(k, _)| *k == n).map(|(k, p)| Approver {
                name: k.to_string(),
                role: Role::Admin,
                key: RsaPublicKey::from_spki_der(&p.to_spki_der().unwrap()).unwrap(),
            })
        };
        let sig = |n: &str, s: &Vec<u8>| (n.to_string(), s.clone());
        let count =
            |sigs: &[(String, Vec<u8>)]| count_approvals(&token, sigs, Some(Role::Admin), lookup);
        assert_eq!(count(&[sig("admin", &s1), sig("admin2", &s2)]), 2);
        // The same approver twice counts once, even under another spelling.
        assert_eq!(count(&[sig("admin", &s1), sig("ADMIN", &s1)]), 1);
        // A signature by the wrong key, an unknown signer, a forged signature.
        assert_eq!(count(&[sig("admin", &s2)]), 0);
        assert_eq!(count(&[sig("admin9", &s1)]), 0);
        let mut forged = s2.clone();
        forged[10] ^= 1;
        assert_eq!(count(&[sig("admin", &s1), sig("admin2", &forged)]), 1);
        // A crypto-user service role check.
        assert_eq!(
            count_approvals(&token, &[sig("admin", &s1)], Some(Role::CryptoUser), lookup),
            0
        );
    }

    #[test]
    fn registration_keys_are_rsa_2048() {
        let (_, p) = keypair();
        assert!(check_public_key(&p.to_spki_der().unwrap()).is_ok());
        let c = crate::crypto::rsa::generate(3072, &[1, 0, 1]).unwrap();
        let big = RsaPrivateKey::from_components(&c)
            .unwrap()
            .public_key()
            .unwrap();
        assert_eq!(
            check_public_key(&big.to_spki_der().unwrap()).err(),
            Some(Error::KeySizeRange)
        );
        assert_eq!(
            check_public_key(b"junk").err(),
            Some(Error::PublicKeyInvalid)
        );
    }
}
