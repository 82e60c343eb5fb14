//! Object functions: create, copy, destroy, attributes, size, key generation, unwrap,
//! derive, random. Handles are translated here; the core decides everything else.

use super::session::Session;
use super::slot::{expect_data, expect_object, expect_ok};
use crate::error::{Error, Result};
use crate::hsm::api::{AttrRead, AttrType, HkdfSalt, Mechanism, Request, Response, Template};

/// The codes with which the core says an object does not exist (for this application).
const GONE: &[Error] = &[Error::ObjectHandleInvalid];

impl Session {
    /// C_CreateObject.
    pub fn create_object(&self, template: Template) -> Result<u64> {
        self.check_open()?;
        let slot = self.slot();
        let r = slot.call(Request::CreateObject {
            conn: slot.conn(),
            sid: self.sid(),
            template,
        })?;
        Ok(slot.handle(expect_object(r)?))
    }

    /// C_CopyObject.
    pub fn copy_object(&self, object: u64, template: Template) -> Result<u64> {
        self.check_open()?;
        let slot = self.slot();
        let id = slot.object(object, Error::ObjectHandleInvalid)?;
        let r = slot.call(Request::CopyObject {
            conn: slot.conn(),
            sid: self.sid(),
            id,
            template,
        });
        let r = slot.checked(id, r, GONE, Error::ObjectHandleInvalid)?;
        Ok(slot.handle(expect_object(r)?))
    }

    /// C_DestroyObject.
    pub fn destroy_object(&self, object: u64) -> Result<()> {
        self.check_open()?;
        let slot = self.slot();
        let id = slot.object(object, Error::ObjectHandleInvalid)?;
        let r = slot.call(Request::DestroyObject {
            conn: slot.conn(),
            sid: self.sid(),
            id,
        });
        expect_ok(slot.checked(id, r, GONE, Error::ObjectHandleInvalid)?)?;
        slot.forget(id);
        Ok(())
    }

    /// C_GetAttributeValue: one outcome per requested type, in order.
    pub fn get_attributes(&self, object: u64, types: Vec<AttrType>) -> Result<Vec<AttrRead>> {
        self.check_open()?;
        let slot = self.slot();
        let id = slot.object(object, Error::ObjectHandleInvalid)?;
        let n = types.len();
        let r = slot.call(Request::GetAttributes {
            conn: slot.conn(),
            id,
            types,
        });
        match slot.checked(id, r, GONE, Error::ObjectHandleInvalid)? {
            Response::Attributes(reads) if reads.len() == n => Ok(reads),
            _ => Err(Error::GeneralError),
        }
    }

    /// C_SetAttributeValue.
    pub fn set_attributes(&self, object: u64, template: Template) -> Result<()> {
        self.check_open()?;
        let slot = self.slot();
        let id = slot.object(object, Error::ObjectHandleInvalid)?;
        let r = slot.call(Request::SetAttributes {
            conn: slot.conn(),
            sid: self.sid(),
            id,
            template,
        });
        expect_ok(slot.checked(id, r, GONE, Error::ObjectHandleInvalid)?)
    }

    /// C_GetObjectSize.
    pub fn object_size(&self, object: u64) -> Result<u64> {
        self.check_open()?;
        let slot = self.slot();
        let id = slot.object(object, Error::ObjectHandleInvalid)?;
        let r = slot.call(Request::ObjectSize {
            conn: slot.conn(),
            id,
        });
        match slot.checked(id, r, GONE, Error::ObjectHandleInvalid)? {
            Response::Size(n) => Ok(n),
            _ => Err(Error::GeneralError),
        }
    }

    /// C_GenerateKey.
    pub fn generate_key(&self, mech: Mechanism, template: Template) -> Result<u64> {
        self.check_open()?;
        let slot = self.slot();
        let r = slot.call(Request::GenerateKey {
            conn: slot.conn(),
            sid: self.sid(),
            mech,
            template,
        })?;
        Ok(slot.handle(expect_object(r)?))
    }

    /// C_GenerateKeyPair: (public, private).
    pub fn generate_key_pair(
        &self,
        mech: Mechanism,
        public: Template,
        private: Template,
    ) -> Result<(u64, u64)> {
        self.check_open()?;
        let slot = self.slot();
        let req = Request::GenerateKeyPair {
            conn: slot.conn(),
            sid: self.sid(),
            mech,
            public,
            private,
        };
        match slot.call(req)? {
            Response::KeyPair { public, private } => {
                Ok((slot.handle(public), slot.handle(private)))
            }
            _ => Err(Error::GeneralError),
        }
    }

    /// C_UnwrapKey.
    pub fn unwrap_key(
        &self,
        mech: Mechanism,
        unwrapping: u64,
        wrapped: Vec<u8>,
        template: Template,
    ) -> Result<u64> {
        self.check_open()?;
        let slot = self.slot();
        let key = slot.object(unwrapping, Error::UnwrappingKeyHandleInvalid)?;
        let req = Request::UnwrapKey {
            conn: slot.conn(),
            sid: self.sid(),
            mech,
            unwrapping: key,
            wrapped,
            template,
        };
        let r = slot.call(req);
        let gone = [
            Error::UnwrappingKeyHandleInvalid,
            Error::ObjectHandleInvalid,
        ];
        let r = slot.checked(key, r, &gone, Error::UnwrappingKeyHandleInvalid)?;
        Ok(slot.handle(expect_object(r)?))
    }

    /// C_DeriveKey.
    pub fn derive_key(&self, mech: Mechanism, base: u64, template: Template) -> Result<u64> {
        self.derive_keys(mech, base, template)?
            .first()
            .copied()
            .ok_or(Error::GeneralError)
    }

    /// C_DeriveKey of a mechanism that may make several keys (SP 800-108 additional derived
    /// keys): the main key's handle, then the additional keys' in order. Handles inside the
    /// mechanism's parameters are translated here.
    pub fn derive_keys(
        &self,
        mut mech: Mechanism,
        base: u64,
        template: Template,
    ) -> Result<Vec<u64>> {
        self.check_open()?;
        let slot = self.slot();
        let inner = match &mut mech {
            Mechanism::ConcatenateBaseAndKey(id) => Some(id),
            Mechanism::HkdfDerive(p) => match &mut p.salt {
                HkdfSalt::Key(id) => Some(id),
                _ => None,
            },
            _ => None,
        };
        if let Some(id) = inner {
            let h = u64::try_from(id.0).map_err(|_| Error::KeyHandleInvalid)?;
            *id = slot.object(h, Error::KeyHandleInvalid)?;
        }
        let id = slot.object(base, Error::KeyHandleInvalid)?;
        let r = slot.call(Request::DeriveKey {
            conn: slot.conn(),
            sid: self.sid(),
            mech,
            base: id,
            template,
        });
        let gone = [Error::KeyHandleInvalid, Error::ObjectHandleInvalid];
        match slot.checked(id, r, &gone, Error::KeyHandleInvalid)? {
            Response::Objects(ids) => Ok(ids.into_iter().map(|i| slot.handle(i)).collect()),
            r => Ok(vec![slot.handle(expect_object(r)?)]),
        }
    }

    /// C_GenerateRandom.
    pub fn generate_random(&self, len: usize) -> Result<Vec<u8>> {
        self.check_open()?;
        let r = self
            .slot()
            .call(Request::GenerateRandom { len: len as u64 })?;
        let data = expect_data(r)?;
        if data.len() != len {
            return Err(Error::GeneralError);
        }
        Ok(data)
    }

    /// C_SeedRandom.
    pub fn seed_random(&self, data: &[u8]) -> Result<()> {
        self.check_open()?;
        expect_ok(self.slot().call(Request::SeedRandom {
            data: data.to_vec(),
        })?)
    }
}
