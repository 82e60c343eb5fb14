//! Users, their keyslots and lockout.
//!
//! A user record holds no password: only a keyslot, the domain key sealed under a key derived
//! from the password with Argon2id (parameters and salt in the record, so costs can be raised
//! later). Logging in is opening your keyslot; the AEAD tag check is the constant-time
//! password check. The keyslot's AAD binds the user's name and role, so a role edited in the
//! store makes the keyslot fail to open.

use serde::{Deserialize, Serialize};

use super::api::{PinState, Role};
use crate::crypto::kdf::{self, Argon2Params};
use crate::error::{Error, Result};
use crate::store::seal::SealKey;
use crate::store::Kind;

/// Consecutive failed logins that lock a user.
pub const MAX_FAILED: u32 = 5;
/// Users per cluster (CloudHSM's quota).
pub const MAX_USERS: u64 = 1024;
/// Keys per cluster (CloudHSM's quota), reported as token memory.
pub const MAX_KEYS: u64 = 16_666;

/// The domain key sealed under a password-derived key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keyslot {
    pub params: Argon2Params,
    pub salt: Vec<u8>,
    pub sealed_dk: Vec<u8>,
}

/// A user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    /// None only for the unactivated admin.
    pub keyslot: Option<Keyslot>,
    /// Consecutive failed logins.
    pub failed: u32,
}

fn slot_aad_id(name: &str, role: Role) -> Vec<u8> {
    format!("keyslot/{name}/{}", role.as_str()).into_bytes()
}

impl UserRecord {
    /// The `admin` of a cluster never activated.
    pub fn unactivated(name: &str) -> Self {
        UserRecord {
            name: name.to_string(),
            role: Role::UnactivatedAdmin,
            keyslot: None,
            failed: 0,
        }
    }

    /// A user whose keyslot opens with `password`.
    pub fn new(name: &str, role: Role, password: &[u8], dk: &SealKey) -> Result<Self> {
        let params = Argon2Params::DEFAULT;
        let mut salt = vec![0u8; 16];
        crate::crypto::rng::fill(&mut salt)?;
        let kek = kdf::argon2id(password, &salt, params)?;
        let sealed_dk =
            SealKey::new(&kek)?.seal(Kind::User, &slot_aad_id(name, role), 0, dk.bytes())?;
        Ok(UserRecord {
            name: name.to_string(),
            role,
            keyslot: Some(Keyslot {
                params,
                salt,
                sealed_dk,
            }),
            failed: 0,
        })
    }

    /// Open the keyslot: the domain key, or `PinIncorrect`.
    pub fn unlock(&self, password: &[u8]) -> Result<SealKey> {
        let slot = self.keyslot.as_ref().ok_or(Error::PinIncorrect)?;
        let kek = kdf::argon2id(password, &slot.salt, slot.params)?;
        let dk = SealKey::new(&kek)?
            .open(
                Kind::User,
                &slot_aad_id(&self.name, self.role),
                0,
                &slot.sealed_dk,
            )
            .map_err(|_| Error::PinIncorrect)?;
        let bytes: [u8; 32] = dk.as_slice().try_into().map_err(|_| Error::StoreCorrupt)?;
        SealKey::new(&bytes)
    }

    pub fn locked(&self) -> bool {
        self.failed >= MAX_FAILED
    }

    /// The token-info PIN flags for this user.
    pub fn pin_state(&self) -> PinState {
        PinState {
            count_low: self.failed > 0 && self.failed < MAX_FAILED,
            final_try: self.failed + 1 == MAX_FAILED,
            locked: self.locked(),
        }
    }
}

/// Validate a user name: 1–31 of `[A-Za-z0-9_]`, stored lower-case.
pub fn check_name(name: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name.len() <= 31
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(Error::PinInvalid)
    }
}

/// Split a PIN in CloudHSM's `user:password` form; a PIN without a valid `user:` prefix is a
/// bare password for `default`.
pub fn split_pin<'a>(pin: &'a [u8], default: &str) -> (String, &'a [u8]) {
    if let Some(pos) = pin.iter().position(|&b| b == b':') {
        if let Ok(name) = std::str::from_utf8(&pin[..pos])
            .map_err(|_| Error::PinInvalid)
            .and_then(check_name)
        {
            return (name, &pin[pos + 1..]);
        }
    }
    (default.to_string(), pin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_forms() {
        assert_eq!(
            split_pin(b"cu1:secret", "user"),
            ("cu1".to_string(), &b"secret"[..])
        );
        assert_eq!(
            split_pin(b"CU1:a:b", "user"),
            ("cu1".to_string(), &b"a:b"[..])
        );
        assert_eq!(
            split_pin(b"123456", "user"),
            ("user".to_string(), &b"123456"[..])
        );
        assert_eq!(
            split_pin(b"bad name:x", "user"),
            ("user".to_string(), &b"bad name:x"[..])
        );
        assert!(check_name(&"a".repeat(32)).is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn keyslot_opens_only_with_the_password_and_role() {
        let dk = SealKey::generate().unwrap();
        let u = UserRecord::new("cu1", Role::CryptoUser, b"password1", &dk).unwrap();
        assert_eq!(u.unlock(b"password1").unwrap().bytes(), dk.bytes());
        assert_eq!(u.unlock(b"password2").err(), Some(Error::PinIncorrect));
        let mut promoted = u.clone();
        promoted.role = Role::Admin;
        assert_eq!(
            promoted.unlock(b"password1").err(),
            Some(Error::PinIncorrect)
        );
    }

    #[test]
    fn lockout_flags() {
        let mut u = UserRecord::unactivated("admin");
        assert_eq!(u.pin_state(), PinState::default());
        u.failed = 4;
        assert!(u.pin_state().final_try && u.pin_state().count_low && !u.locked());
        u.failed = 5;
        assert!(u.locked() && u.pin_state().locked);
    }
}
