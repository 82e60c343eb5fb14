//! Cluster, login, user and audit commands.

use serde_json::{json, Value};

use crate::error::Error;
use crate::hsm::api::{Request, Response, Role, Secret, UserInfo};

use super::args::Args;
use super::client::{parse_role, password_arg, Client};
use super::errors::Failure;
use super::quorum::{self, with_approval};

fn unexpected() -> Failure {
    Failure::hsm(Error::GeneralError).say("unexpected answer from the HSM")
}

/// `cluster activate`: set the password of `admin` on a cluster never activated.
pub(crate) fn cluster_activate(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let Response::TokenInfo(info) = c.call(Request::TokenInfo { conn: c.conn() })? else {
        return Err(unexpected());
    };
    // Activating an activated cluster would re-initialize it (C_InitToken): never from here.
    if info.initialized {
        return Err(Failure::new("the cluster is already activated"));
    }
    let password = password_arg(a.get("password"), "Enter password: ", true)?;
    // The PIN names the user, so a ':' inside the password cannot be read as a user name.
    let mut pin = b"admin:".to_vec();
    pin.extend_from_slice(password.as_bytes());
    let label = c.slot().label.clone();
    c.call(Request::InitToken {
        conn: c.conn(),
        so_pin: Secret::new(pin),
        label,
    })
    .map_err(|f| f.context("cluster activate"))?;
    Ok(json!("Cluster activation successful"))
}

fn mechanism_name(m: u64) -> String {
    use cryptoki_sys::*;
    let names: &[(u64, &str)] = &[
        (CKM_RSA_PKCS_KEY_PAIR_GEN, "rsa-pkcs-key-pair-gen"),
        (CKM_RSA_PKCS, "rsa-pkcs"),
        (CKM_RSA_X_509, "rsa-x-509"),
        (CKM_RSA_PKCS_OAEP, "rsa-pkcs-oaep"),
        (CKM_RSA_PKCS_PSS, "rsa-pkcs-pss"),
        (CKM_SHA1_RSA_PKCS, "sha1-rsa-pkcs"),
        (CKM_SHA224_RSA_PKCS, "sha224-rsa-pkcs"),
        (CKM_SHA256_RSA_PKCS, "sha256-rsa-pkcs"),
        (CKM_SHA384_RSA_PKCS, "sha384-rsa-pkcs"),
        (CKM_SHA512_RSA_PKCS, "sha512-rsa-pkcs"),
        (CKM_SHA1_RSA_PKCS_PSS, "sha1-rsa-pkcs-pss"),
        (CKM_SHA224_RSA_PKCS_PSS, "sha224-rsa-pkcs-pss"),
        (CKM_SHA256_RSA_PKCS_PSS, "sha256-rsa-pkcs-pss"),
        (CKM_SHA384_RSA_PKCS_PSS, "sha384-rsa-pkcs-pss"),
        (CKM_SHA512_RSA_PKCS_PSS, "sha512-rsa-pkcs-pss"),
        (CKM_EC_KEY_PAIR_GEN, "ec-key-pair-gen"),
        (CKM_ECDSA, "ecdsa"),
        (CKM_ECDSA_SHA1, "ecdsa-sha1"),
        (CKM_ECDSA_SHA224, "ecdsa-sha224"),
        (CKM_ECDSA_SHA256, "ecdsa-sha256"),
        (CKM_ECDSA_SHA384, "ecdsa-sha384"),
        (CKM_ECDSA_SHA512, "ecdsa-sha512"),
        (CKM_ECDH1_DERIVE, "ecdh1-derive"),
        (CKM_AES_KEY_GEN, "aes-key-gen"),
        (CKM_AES_ECB, "aes-ecb"),
        (CKM_AES_CBC, "aes-cbc"),
        (CKM_AES_CBC_PAD, "aes-cbc-pad"),
        (CKM_AES_CTR, "aes-ctr"),
        (CKM_AES_GCM, "aes-gcm"),
        (CKM_AES_CMAC, "aes-cmac"),
        (CKM_AES_CMAC_GENERAL, "aes-cmac-general"),
        (CKM_AES_KEY_WRAP, "aes-key-wrap"),
        (CKM_AES_KEY_WRAP_KWP, "aes-key-wrap-kwp"),
        (CKM_GENERIC_SECRET_KEY_GEN, "generic-secret-key-gen"),
        (CKM_SHA_1_HMAC, "sha1-hmac"),
        (CKM_SHA224_HMAC, "sha224-hmac"),
        (CKM_SHA256_HMAC, "sha256-hmac"),
        (CKM_SHA384_HMAC, "sha384-hmac"),
        (CKM_SHA512_HMAC, "sha512-hmac"),
    ];
    names
        .iter()
        .find(|(n, _)| *n == m)
        .map_or_else(|| format!("0x{m:08x}"), |(_, s)| (*s).to_string())
}

/// `cluster info`.
pub(crate) fn cluster_info(c: &mut Client, _: &Args) -> Result<Value, Failure> {
    let Response::ClusterInfo(i) = c.call(Request::ClusterInfo { conn: c.conn() })? else {
        return Err(unexpected());
    };
    let by_mech: serde_json::Map<String, Value> = i
        .operations_by_mechanism
        .iter()
        .map(|(m, n)| (mechanism_name(*m), json!(n)))
        .collect();
    Ok(json!({
        "cluster": c.slot().name,
        "store": c.slot().store.display().to_string(),
        "label": i.label,
        "serial": i.serial,
        "activated": i.activated,
        "users": i.users,
        "token-objects": i.token_objects,
        "operations": i.operations,
        "operations-by-mechanism": by_mech,
    }))
}

/// `login`.
pub(crate) fn login(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let user = a.req("username")?;
    let role = a.req("role")?;
    parse_role(role)?;
    let password = password_arg(a.get("password"), "Enter password: ", false)?;
    let (user, role) = c
        .login(user, role, password)
        .map_err(|f| f.context("login"))?;
    Ok(json!({ "username": user, "role": role.as_str() }))
}

/// `logout`.
pub(crate) fn logout(c: &mut Client, _: &Args) -> Result<Value, Failure> {
    c.logout()?;
    Ok(json!("Logout successful"))
}

fn users(c: &Client) -> Result<Vec<UserInfo>, Failure> {
    match c.call(Request::UserList { conn: c.conn() })? {
        Response::Users(u) => Ok(u),
        _ => Err(unexpected()),
    }
}

/// The user `name`, checked to have the role the command names.
fn user_with_role(c: &Client, name: &str, role: Role) -> Result<UserInfo, Failure> {
    let lower = name.to_ascii_lowercase();
    let u = users(c)?
        .into_iter()
        .find(|u| u.name == lower)
        .ok_or_else(|| Failure::new(format!("no such user: {name}")))?;
    if u.role != role {
        return Err(Failure::new(format!(
            "{} is a {}, not a {}",
            u.name,
            u.role.as_str(),
            role.as_str()
        )));
    }
    Ok(u)
}

/// `user list`.
pub(crate) fn user_list(c: &mut Client, _: &Args) -> Result<Value, Failure> {
    let registered = quorum::registered(c);
    let list: Vec<Value> = users(c)?
        .iter()
        .map(|u| {
            let quorum = if registered.contains(&u.name) {
                json!([{ "strategy": "token-sign", "status": "enabled" }])
            } else {
                json!([])
            };
            json!({
                "username": u.name,
                "role": u.role.as_str(),
                "locked": u.locked.to_string(),
                "mfa": [],
                "quorum": quorum,
                "cluster-coverage": "full",
            })
        })
        .collect();
    Ok(json!({ "users": list }))
}

/// `user create`.
pub(crate) fn user_create(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let name = a.req("username")?;
    let role = parse_role(a.req("role")?)?;
    let password = password_arg(a.get("password"), "Enter password: ", true)?;
    let req = Request::UserCreate {
        conn: c.conn(),
        name: name.to_string(),
        role,
        password,
    };
    c.call(with_approval(req, a)?).map_err(|f| match f.cause {
        Some(Error::ActionProhibited) => f.say(format!("user {name} already exists")),
        Some(Error::ArgumentsBad) => {
            f.say(format!("invalid user name '{name}': 1-31 of A-Z a-z 0-9 _"))
        }
        _ => quorum::explain(f, ""),
    })?;
    Ok(json!({ "username": name.to_ascii_lowercase(), "role": role.as_str() }))
}

/// `user delete`.
pub(crate) fn user_delete(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let name = a.req("username")?;
    let role = parse_role(a.req("role")?)?;
    let user = user_with_role(c, name, role)?;
    let req = Request::UserDelete {
        conn: c.conn(),
        name: user.name.clone(),
    };
    match c.call(with_approval(req, a)?) {
        Ok(_) => Ok(json!({ "username": user.name, "role": role.as_str() })),
        Err(f) if f.cause == Some(Error::ActionProhibited) => Err(why_not_deleted(c, &user, f)),
        Err(f) => Err(quorum::explain(f, "user delete")),
    }
}

/// The core refuses a deletion with one code; say which of its rules applied.
fn why_not_deleted(c: &Client, user: &UserInfo, f: Failure) -> Failure {
    let name = &user.name;
    if user.role == Role::CryptoUser {
        if let Ok(Response::Keys(keys)) = c.call(Request::KeyList {
            conn: c.conn(),
            template: vec![],
        }) {
            let owned = keys
                .iter()
                .filter(|k| k.owner.as_deref() == Some(name.as_str()))
                .count();
            if owned > 0 {
                return f
                    .say(format!("cannot delete {name}: it still owns {owned} key(s); its keys must be deleted first"))
                    .with("owned-keys", owned);
            }
        }
    }
    if user.role == Role::Admin {
        let admins = users(c)
            .map(|u| u.iter().filter(|u| u.role == Role::Admin).count())
            .unwrap_or(0);
        if admins <= 1 {
            return f.say(format!("cannot delete {name}: it is the last admin"));
        }
        if let Some((registered, m)) = quorum::lockout(c, name) {
            return f.say(format!(
                "cannot delete {name}: {registered} admin(s) with a registered quorum key would remain, fewer than the quorum value {m}; lower the value first"
            ));
        }
    }
    f.say(format!("cannot delete {name} while it is logged in"))
}

/// `user change-password`.
pub(crate) fn user_change_password(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let name = a.req("username")?;
    let role = parse_role(a.req("role")?)?;
    let user = user_with_role(c, name, role)?;
    let own = c.who().is_some_and(|(u, _)| u == user.name);
    let old = if own {
        match a.get("old-password") {
            Some(p) => Some(Secret::new(p.as_bytes().to_vec())),
            None => c.login_password().cloned(),
        }
    } else {
        None
    };
    let new = password_arg(a.get("password"), "Enter new password: ", true)?;
    let req = Request::UserChangePassword {
        conn: c.conn(),
        name: user.name.clone(),
        old,
        new: new.clone(),
    };
    c.call(with_approval(req, a)?)
        .map_err(|f| quorum::explain(f, "user change-password"))?;
    if own {
        c.set_login_password(new);
    }
    Ok(json!({ "username": user.name, "role": role.as_str() }))
}

/// `audit verify`: the core's verdict on the whole chain.
pub(crate) fn audit_verify(c: &mut Client, _: &Args) -> Result<Value, Failure> {
    let Response::Audit(text) = c.call(Request::AuditVerify { conn: c.conn() })? else {
        return Err(unexpected());
    };
    let verdict: Value = serde_json::from_str(&text).map_err(|_| unexpected())?;
    if let Some(ok) = verdict.get("Ok") {
        let count = ok.get("count").cloned().unwrap_or(Value::Null);
        let authenticated = ok.get("authenticated").cloned().unwrap_or(Value::Null);
        return Ok(json!({
            "status": "ok",
            "records": count,
            "authenticated": authenticated,
            "message": format!("ok: {count} records verified, {authenticated} covered by a MAC"),
        }));
    }
    if let Some(bad) = verdict.get("Bad") {
        let seq = bad.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let reason = bad
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        return Err(Failure::new(format!(
            "audit log fails verification at record {seq}: {reason}"
        ))
        .with("status", "bad")
        .with("sequence-number", seq)
        .with("reason", reason));
    }
    Err(unexpected())
}
