#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The HSM core through the seam (`trait Hsm`), directly and through the wire encoding.

use cloudhsm_pkcs11::config::{Compat, SlotConfig, Transport};
use cloudhsm_pkcs11::error::Error;
use cloudhsm_pkcs11::hsm::api::*;
use cloudhsm_pkcs11::hsm::{self};
use cryptoki_sys::*;

fn cfg(dir: &std::path::Path, transport: Transport) -> SlotConfig {
    SlotConfig {
        slot_id: 1,
        name: "t".into(),
        label: "t".into(),
        store: dir.to_path_buf(),
        min_pin_len: 4,
        max_pin_len: 32,
        compat: Compat::Default,
        transport,
        max_users: 1024,
        max_keys: 16_666,
    }
}

fn secret(s: &str) -> Secret {
    Secret::new(s.as_bytes().to_vec())
}

fn a(ty: u64, v: AttrValue) -> Attribute {
    Attribute::new(ty, v)
}

struct T {
    hsm: std::sync::Arc<dyn Hsm>,
    conn: ConnId,
}

impl T {
    fn new(dir: &std::path::Path, transport: Transport) -> T {
        let hsm = hsm::open(&cfg(dir, transport)).unwrap();
        let Response::Connected(conn) = hsm.call(Request::Connect).unwrap() else {
            panic!()
        };
        T { hsm, conn }
    }
    fn call(&self, r: Request) -> Result<Response, Error> {
        self.hsm.call(r)
    }
    fn ok(&self, r: Request) {
        self.call(r).unwrap();
    }
    fn session(&self, sid: u64, rw: bool) -> SessionId {
        self.ok(Request::OpenSession {
            conn: self.conn,
            sid: SessionId(sid),
            rw,
        });
        SessionId(sid)
    }
    fn login(&self, ut: UserType, pin: &str) -> Result<Response, Error> {
        self.call(Request::Login {
            conn: self.conn,
            user_type: ut,
            username: None,
            pin: secret(pin),
        })
    }
    fn object(&self, r: Request) -> ObjectId {
        match self.call(r).unwrap() {
            Response::Object(id) => id,
            other => panic!("{other:?}"),
        }
    }
    fn find(&self, t: Template) -> Vec<ObjectId> {
        match self
            .call(Request::FindObjects {
                conn: self.conn,
                template: t,
            })
            .unwrap()
        {
            Response::Objects(v) => v,
            other => panic!("{other:?}"),
        }
    }
    fn op(
        &self,
        sid: SessionId,
        kind: OpKind,
        mech: Mechanism,
        key: ObjectId,
        data: &[u8],
        extra: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let op = match self.call(Request::OpInit {
            conn: self.conn,
            sid,
            kind,
            mech,
            key,
        })? {
            Response::Op(op) | Response::OpIv { op, .. } => op,
            other => panic!("{other:?}"),
        };
        match self.call(Request::OpOneShot {
            conn: self.conn,
            op,
            data: data.to_vec(),
            extra: extra.to_vec(),
        })? {
            Response::Data(d) => Ok(d),
            other => panic!("{other:?}"),
        }
    }
}

fn activate(t: &T) {
    t.ok(Request::InitToken {
        conn: t.conn,
        so_pin: secret("so-password"),
        label: "tok".into(),
    });
    t.login(UserType::So, "so-password").unwrap();
    t.ok(Request::InitPin {
        conn: t.conn,
        pin: secret("cu1:cu1-password"),
    });
    t.ok(Request::InitPin {
        conn: t.conn,
        pin: secret("user-password"),
    });
    t.ok(Request::Logout { conn: t.conn });
}

fn lifecycle(transport: Transport) {
    let dir = tempfile::tempdir().unwrap();
    let t = T::new(dir.path(), transport);
    let Response::TokenInfo(info) = t.call(Request::TokenInfo { conn: t.conn }).unwrap() else {
        panic!()
    };
    assert!(!info.initialized && !info.user_pin_initialized);
    assert_eq!(
        t.login(UserType::User, "whatever").err(),
        Some(Error::UserPinNotInitialized)
    );
    activate(&t);
    let Response::TokenInfo(info) = t.call(Request::TokenInfo { conn: t.conn }).unwrap() else {
        panic!()
    };
    assert!(info.initialized && info.user_pin_initialized && info.label == "tok");

    let sid = t.session(1, true);
    // Nothing private before login.
    assert_eq!(
        t.call(Request::GenerateKey {
            conn: t.conn,
            sid,
            mech: Mechanism::AesKeyGen,
            template: vec![
                a(CKA_VALUE_LEN, AttrValue::Ulong(32)),
                a(CKA_TOKEN, AttrValue::Bool(true))
            ],
        })
        .err(),
        Some(Error::UserNotLoggedIn)
    );
    let Response::LoggedIn { user, role } = t.login(UserType::User, "cu1:cu1-password").unwrap()
    else {
        panic!()
    };
    assert_eq!((user.as_str(), role), ("cu1", Role::CryptoUser));
    let aes = t.object(Request::GenerateKey {
        conn: t.conn,
        sid,
        mech: Mechanism::AesKeyGen,
        template: vec![
            a(CKA_VALUE_LEN, AttrValue::Ulong(32)),
            a(CKA_TOKEN, AttrValue::Bool(true)),
            a(CKA_LABEL, AttrValue::Bytes(b"aes".to_vec())),
        ],
    });
    let gcm = Mechanism::AesGcm(GcmParams {
        iv: vec![1; 12],
        aad: b"aad".to_vec(),
        tag_bits: 128,
    });
    let ct = t
        .op(
            sid,
            OpKind::Encrypt,
            gcm.clone(),
            aes,
            b"secret message",
            &[],
        )
        .unwrap();
    assert_eq!(ct.len(), 14 + 16);
    assert_eq!(
        t.op(sid, OpKind::Decrypt, gcm.clone(), aes, &ct, &[])
            .unwrap(),
        b"secret message"
    );
    let mut bad = ct.clone();
    bad[0] ^= 1;
    assert_eq!(
        t.op(sid, OpKind::Decrypt, gcm, aes, &bad, &[]).err(),
        Some(Error::EncryptedDataInvalid)
    );

    let Response::KeyPair { public, private } = t
        .call(Request::GenerateKeyPair {
            conn: t.conn,
            sid,
            mech: Mechanism::EcKeyPairGen,
            public: vec![
                a(
                    CKA_EC_PARAMS,
                    AttrValue::Bytes(vec![
                        0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                    ]),
                ),
                a(CKA_TOKEN, AttrValue::Bool(true)),
            ],
            private: vec![
                a(CKA_TOKEN, AttrValue::Bool(true)),
                a(CKA_LABEL, AttrValue::Bytes(b"ec".to_vec())),
            ],
        })
        .unwrap()
    else {
        panic!()
    };
    let digest = [7u8; 32];
    let sig = t
        .op(sid, OpKind::Sign, Mechanism::Ecdsa, private, &digest, &[])
        .unwrap();
    assert_eq!(sig.len(), 64);
    t.op(sid, OpKind::Verify, Mechanism::Ecdsa, public, &digest, &sig)
        .unwrap();
    assert_eq!(
        t.op(
            sid,
            OpKind::Verify,
            Mechanism::Ecdsa,
            public,
            &[8u8; 32],
            &sig
        )
        .err(),
        Some(Error::SignatureInvalid)
    );
    // The AES value is sensitive.
    let Response::Attributes(r) = t
        .call(Request::GetAttributes {
            conn: t.conn,
            id: aes,
            types: vec![CKA_VALUE, CKA_LABEL, CKA_MODULUS],
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        r,
        vec![
            AttrRead::Sensitive,
            AttrRead::Value(AttrValue::Bytes(b"aes".to_vec())),
            AttrRead::Invalid
        ]
    );
    assert_eq!(
        t.find(vec![a(CKA_LABEL, AttrValue::Bytes(b"aes".to_vec()))]),
        vec![aes]
    );

    // Another process (another core on the same store) sees the token objects after login,
    // not before.
    let t2 = T::new(dir.path(), transport);
    assert!(t2
        .find(vec![a(CKA_LABEL, AttrValue::Bytes(b"aes".to_vec()))])
        .is_empty());
    t2.login(UserType::User, "cu1:cu1-password").unwrap();
    assert_eq!(
        t2.find(vec![a(CKA_LABEL, AttrValue::Bytes(b"aes".to_vec()))]),
        vec![aes]
    );
    // The default user cannot see cu1's keys.
    t2.ok(Request::Logout { conn: t2.conn });
    t2.login(UserType::User, "user-password").unwrap();
    assert!(t2
        .find(vec![a(CKA_LABEL, AttrValue::Bytes(b"aes".to_vec()))])
        .is_empty());
    t2.ok(Request::Logout { conn: t2.conn });

    // Lockout: five failures lock, even the right password then fails.
    for _ in 0..5 {
        assert_eq!(
            t2.login(UserType::User, "cu1:wrong-password").err(),
            Some(Error::PinIncorrect)
        );
    }
    assert_eq!(
        t2.login(UserType::User, "cu1:cu1-password").err(),
        Some(Error::PinLocked)
    );

    // Destroy, then it is gone for both.
    t.ok(Request::DestroyObject {
        conn: t.conn,
        sid,
        id: aes,
    });
    assert!(t
        .find(vec![a(CKA_LABEL, AttrValue::Bytes(b"aes".to_vec()))])
        .is_empty());
}

#[test]
fn lifecycle_direct() {
    lifecycle(Transport::Direct);
}

#[test]
fn lifecycle_wire() {
    lifecycle(Transport::Wire);
}

#[test]
fn reinit_wipes_objects_and_crypto_users() {
    let dir = tempfile::tempdir().unwrap();
    let t = T::new(dir.path(), Transport::Direct);
    activate(&t);
    let sid = t.session(1, true);
    t.login(UserType::User, "cu1:cu1-password").unwrap();
    t.object(Request::CreateObject {
        conn: t.conn,
        sid,
        template: vec![
            a(CKA_CLASS, AttrValue::Ulong(CKO_DATA)),
            a(CKA_TOKEN, AttrValue::Bool(true)),
        ],
    });
    assert_eq!(t.find(vec![]).len(), 1);
    t.ok(Request::Logout { conn: t.conn });
    assert_eq!(
        t.call(Request::InitToken {
            conn: t.conn,
            so_pin: secret("wrong-password"),
            label: "x".into()
        })
        .err(),
        Some(Error::PinIncorrect)
    );
    t.ok(Request::InitToken {
        conn: t.conn,
        so_pin: secret("so-password"),
        label: "again".into(),
    });
    assert_eq!(
        t.login(UserType::User, "cu1:cu1-password").err(),
        Some(Error::PinIncorrect)
    );
    t.login(UserType::So, "so-password").unwrap();
    assert!(t.find(vec![]).is_empty());
}

#[test]
fn wrap_unwrap_and_derive() {
    let dir = tempfile::tempdir().unwrap();
    let t = T::new(dir.path(), Transport::Wire);
    activate(&t);
    let sid = t.session(1, true);
    t.login(UserType::User, "cu1:cu1-password").unwrap();
    let aes = |label: &str, extra: Vec<Attribute>| {
        let mut tpl = vec![
            a(CKA_VALUE_LEN, AttrValue::Ulong(32)),
            a(CKA_LABEL, AttrValue::Bytes(label.into())),
        ];
        tpl.extend(extra);
        t.object(Request::GenerateKey {
            conn: t.conn,
            sid,
            mech: Mechanism::AesKeyGen,
            template: tpl,
        })
    };
    let kek = aes("kek", vec![]);
    let data = aes("data", vec![]);
    let fixed = aes("fixed", vec![a(CKA_EXTRACTABLE, AttrValue::Bool(false))]);
    let Response::Data(wrapped) = t
        .call(Request::WrapKey {
            conn: t.conn,
            mech: Mechanism::AesKeyWrap { iv: None },
            wrapping: kek,
            key: data,
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(wrapped.len(), 40);
    assert_eq!(
        t.call(Request::WrapKey {
            conn: t.conn,
            mech: Mechanism::AesKeyWrap { iv: None },
            wrapping: kek,
            key: fixed
        })
        .err(),
        Some(Error::KeyUnextractable)
    );
    let template = vec![
        a(CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY)),
        a(CKA_KEY_TYPE, AttrValue::Ulong(CKK_AES)),
        a(CKA_SENSITIVE, AttrValue::Bool(true)),
        a(CKA_EXTRACTABLE, AttrValue::Bool(false)),
    ];
    let back = t.object(Request::UnwrapKey {
        conn: t.conn,
        sid,
        mech: Mechanism::AesKeyWrap { iv: None },
        unwrapping: kek,
        wrapped: wrapped.clone(),
        template: template.clone(),
    });
    // Same key: same check value; not local.
    let kcv = |id| match t
        .call(Request::GetAttributes {
            conn: t.conn,
            id,
            types: vec![CKA_CHECK_VALUE, CKA_LOCAL],
        })
        .unwrap()
    {
        Response::Attributes(v) => v,
        _ => panic!(),
    };
    assert_eq!(kcv(back)[0], kcv(data)[0]);
    assert_eq!(kcv(back)[1], AttrRead::Value(AttrValue::Bool(false)));
    // C_UnwrapKey: the key has been outside, so neither "always sensitive" nor "never
    // extractable", whatever the template says of it now.
    let Response::Attributes(history) = t
        .call(Request::GetAttributes {
            conn: t.conn,
            id: back,
            types: vec![CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE],
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        history,
        vec![
            AttrRead::Value(AttrValue::Bool(false)),
            AttrRead::Value(AttrValue::Bool(false))
        ]
    );
    let mut bad = wrapped;
    bad[5] ^= 1;
    assert_eq!(
        t.call(Request::UnwrapKey {
            conn: t.conn,
            sid,
            mech: Mechanism::AesKeyWrap { iv: None },
            unwrapping: kek,
            wrapped: bad,
            template
        })
        .err(),
        Some(Error::WrappedKeyInvalid)
    );

    // ECDH: both sides derive the same AES key.
    let p256 = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let pair = || match t
        .call(Request::GenerateKeyPair {
            conn: t.conn,
            sid,
            mech: Mechanism::EcKeyPairGen,
            public: vec![a(CKA_EC_PARAMS, AttrValue::Bytes(p256.clone()))],
            private: vec![a(CKA_DERIVE, AttrValue::Bool(true))],
        })
        .unwrap()
    {
        Response::KeyPair { public, private } => (public, private),
        _ => panic!(),
    };
    let point = |id| match t
        .call(Request::GetAttributes {
            conn: t.conn,
            id,
            types: vec![CKA_EC_POINT],
        })
        .unwrap()
    {
        Response::Attributes(v) => match &v[0] {
            AttrRead::Value(AttrValue::Bytes(b)) => b.clone(),
            _ => panic!(),
        },
        _ => panic!(),
    };
    let (apub, apriv) = pair();
    let (bpub, bpriv) = pair();
    let derive = |base, peer| {
        t.object(Request::DeriveKey {
            conn: t.conn,
            sid,
            mech: Mechanism::Ecdh1Derive {
                kdf: CKD_SHA256_KDF,
                shared_data: b"info".to_vec(),
                public_data: peer,
            },
            base,
            template: vec![
                a(CKA_CLASS, AttrValue::Ulong(CKO_SECRET_KEY)),
                a(CKA_KEY_TYPE, AttrValue::Ulong(CKK_AES)),
                a(CKA_VALUE_LEN, AttrValue::Ulong(16)),
            ],
        })
    };
    let k1 = derive(apriv, point(bpub));
    let k2 = derive(bpriv, point(apub));
    assert_eq!(kcv(k1)[0], kcv(k2)[0]);
}

#[test]
fn strict_cloudhsm_mode() {
    let dir = tempfile::tempdir().unwrap();
    // Activate and create a crypto user in default mode (as cloudhsm-cli would)...
    {
        let t = T::new(dir.path(), Transport::Direct);
        activate(&t);
    }
    // ...then meet the store as an SDK 5 application would.
    let mut c = cfg(dir.path(), Transport::Wire);
    c.compat = Compat::Cloudhsm;
    let hsm = hsm::open(&c).unwrap();
    let Response::Connected(conn) = hsm.call(Request::Connect).unwrap() else {
        panic!()
    };
    let t = T { hsm, conn };
    assert_eq!(
        t.call(Request::OpenSession {
            conn,
            sid: SessionId(1),
            rw: false
        })
        .err(),
        Some(Error::FunctionFailed)
    );
    let sid = t.session(2, true);
    assert_eq!(
        t.call(Request::InitPin {
            conn,
            pin: secret("cu9:password9")
        })
        .err(),
        Some(Error::FunctionNotSupported)
    );
    t.login(UserType::User, "cu1:cu1-password").unwrap();
    let gen = |private: bool| {
        t.call(Request::GenerateKey {
            conn,
            sid,
            mech: Mechanism::AesKeyGen,
            template: vec![
                a(CKA_VALUE_LEN, AttrValue::Ulong(32)),
                a(CKA_PRIVATE, AttrValue::Bool(private)),
            ],
        })
    };
    assert_eq!(gen(false).err(), Some(Error::AttributeValueInvalid));
    let Response::Object(key) = gen(true).unwrap() else {
        panic!()
    };
    assert_eq!(
        t.call(Request::SetAttributes {
            conn,
            sid,
            id: key,
            template: vec![a(CKA_LABEL, AttrValue::Bytes(b"x".to_vec()))]
        })
        .err(),
        Some(Error::FunctionNotSupported)
    );
    assert_eq!(
        t.call(Request::CopyObject {
            conn,
            sid,
            id: key,
            template: vec![]
        })
        .err(),
        Some(Error::FunctionNotSupported)
    );
    let gcm = Mechanism::AesGcm(GcmParams {
        iv: vec![0; 12],
        aad: vec![],
        tag_bits: 128,
    });
    assert_eq!(
        t.op(
            sid,
            OpKind::Encrypt,
            gcm.clone(),
            key,
            &vec![0u8; 16_225],
            &[]
        )
        .err(),
        Some(Error::DataLenRange)
    );
    assert!(t
        .op(
            sid,
            OpKind::Encrypt,
            gcm.clone(),
            key,
            &vec![0u8; 16_224],
            &[]
        )
        .is_ok());
    // The core draws the encryption IV and hands it back; the caller's must be 12 zero bytes.
    let Response::OpIv { op, iv } = t
        .call(Request::OpInit {
            conn,
            sid,
            kind: OpKind::Encrypt,
            mech: gcm.clone(),
            key,
        })
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(iv.len(), 12);
    assert_ne!(iv, vec![0; 12]);
    assert_eq!(
        t.call(Request::OpUpdate {
            conn,
            op,
            data: vec![1; 16]
        })
        .err(),
        Some(Error::MechanismInvalid)
    );
    let sealed = t
        .op(sid, OpKind::Encrypt, gcm.clone(), key, b"strict", &[])
        .unwrap();
    assert_eq!(sealed.len(), 6 + 16);
    for bad_iv in [vec![1u8; 12], vec![0u8; 16]] {
        let mech = Mechanism::AesGcm(GcmParams {
            iv: bad_iv,
            aad: vec![],
            tag_bits: 128,
        });
        assert_eq!(
            t.call(Request::OpInit {
                conn,
                sid,
                kind: OpKind::Encrypt,
                mech,
                key,
            })
            .err(),
            Some(Error::MechanismParamInvalid)
        );
    }
    // Decryption takes the IV the encryption returned.
    let Response::OpIv { op, iv } = t
        .call(Request::OpInit {
            conn,
            sid,
            kind: OpKind::Encrypt,
            mech: gcm,
            key,
        })
        .unwrap()
    else {
        panic!()
    };
    let Response::Data(ct) = t
        .call(Request::OpOneShot {
            conn,
            op,
            data: b"round trip".to_vec(),
            extra: vec![],
        })
        .unwrap()
    else {
        panic!()
    };
    let dec = Mechanism::AesGcm(GcmParams {
        iv,
        aad: vec![],
        tag_bits: 128,
    });
    assert_eq!(
        t.op(sid, OpKind::Decrypt, dec, key, &ct, &[]).unwrap(),
        b"round trip"
    );
    // Attributes CloudHSM lacks: unreadable on keys, refused in key templates.
    let Response::Attributes(read) = t
        .call(Request::GetAttributes {
            conn,
            id: key,
            types: vec![
                CKA_LABEL,
                CKA_START_DATE,
                CKA_ALLOWED_MECHANISMS,
                CKA_SIGN_RECOVER,
            ],
        })
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(read[0], AttrRead::Value(_)));
    assert_eq!(
        &read[1..],
        &[AttrRead::Invalid, AttrRead::Invalid, AttrRead::Invalid]
    );
    assert_eq!(
        t.call(Request::GenerateKey {
            conn,
            sid,
            mech: Mechanism::AesKeyGen,
            template: vec![
                a(CKA_VALUE_LEN, AttrValue::Ulong(32)),
                a(CKA_START_DATE, AttrValue::Bytes(b"20260101".to_vec())),
            ],
        })
        .err(),
        Some(Error::TemplateInconsistent)
    );
}

#[test]
fn user_and_key_quotas() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path(), Transport::Wire);
    // admin + user + cu1 after activation; one more user fits, then the quota bites.
    c.max_users = 4;
    c.max_keys = 3;
    let hsm = hsm::open(&c).unwrap();
    let Response::Connected(conn) = hsm.call(Request::Connect).unwrap() else {
        panic!()
    };
    let t = T { hsm, conn };
    activate(&t);
    t.login(UserType::So, "so-password").unwrap();
    t.ok(Request::InitPin {
        conn,
        pin: secret("cu2:cu2-password"),
    });
    assert_eq!(
        t.call(Request::InitPin {
            conn,
            pin: secret("cu3:cu3-password"),
        })
        .err(),
        Some(Error::DeviceMemory)
    );
    t.ok(Request::Logout { conn });
    t.login(UserType::User, "cu1:cu1-password").unwrap();
    let sid = t.session(1, true);
    let gen = |token: bool| {
        t.call(Request::GenerateKey {
            conn,
            sid,
            mech: Mechanism::AesKeyGen,
            template: vec![
                a(CKA_VALUE_LEN, AttrValue::Ulong(16)),
                a(CKA_TOKEN, AttrValue::Bool(token)),
            ],
        })
    };
    for token in [true, false, true] {
        gen(token).unwrap();
    }
    assert_eq!(gen(false).err(), Some(Error::DeviceMemory));
    assert_eq!(gen(true).err(), Some(Error::DeviceMemory));
    // Data objects are not keys.
    t.ok(Request::CreateObject {
        conn,
        sid,
        template: vec![
            a(CKA_CLASS, AttrValue::Ulong(CKO_DATA)),
            a(CKA_VALUE, AttrValue::Bytes(b"d".to_vec())),
        ],
    });
}

#[test]
fn key_use_follows_login_changes_and_session_close() {
    // C_*Init remembers a session's login per session; every login, logout and session change
    // must be seen by the next C_*Init.
    let dir = tempfile::tempdir().unwrap();
    let t = T::new(dir.path(), Transport::Direct);
    activate(&t);
    let sid = t.session(1, true);
    t.login(UserType::User, "cu1:cu1-password").unwrap();
    let key = t.object(Request::GenerateKey {
        conn: t.conn,
        sid,
        mech: Mechanism::AesKeyGen,
        template: vec![
            a(CKA_VALUE_LEN, AttrValue::Ulong(32)),
            a(CKA_TOKEN, AttrValue::Bool(true)),
            a(CKA_PRIVATE, AttrValue::Bool(false)),
            a(CKA_ENCRYPT, AttrValue::Bool(true)),
        ],
    });
    let gcm = || {
        Mechanism::AesGcm(GcmParams {
            iv: vec![1; 12],
            aad: Vec::new(),
            tag_bits: 128,
        })
    };
    let encrypt = |t: &T, sid| t.op(sid, OpKind::Encrypt, gcm(), key, b"data", &[]);
    encrypt(&t, sid).unwrap();
    encrypt(&t, sid).unwrap();
    // An admin never uses keys: the remembered crypto-user login must not linger.
    t.ok(Request::Logout { conn: t.conn });
    t.login(UserType::So, "so-password").unwrap();
    assert_eq!(encrypt(&t, sid).err(), Some(Error::UserNotLoggedIn));
    t.ok(Request::Logout { conn: t.conn });
    t.login(UserType::User, "cu1:cu1-password").unwrap();
    encrypt(&t, sid).unwrap();
    // A closed session is no session.
    t.ok(Request::CloseSession { conn: t.conn, sid });
    assert_eq!(encrypt(&t, sid).err(), Some(Error::SessionHandleInvalid));
}
