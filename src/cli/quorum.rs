//! Quorum (M of N) commands: `quorum token-sign ...`, `user change-quorum token-sign
//! register`, and the `--approval <file>` of gated commands. Token files have CloudHSM's
//! shapes; every check (who may approve, how many, token use and expiry) is in the core.
//!
//! - approval token (services `user`, `quorum`):
//!   `{"version":"2.0","approval_data":<b64>,"token":<b64 SHA-256 of approval_data>,
//!   "signatures":[{"username":..,"signature":<b64>}]}`
//! - registration token: `{"version":"2.0","tokens":[{"approval_data":<b64>,
//!   "unsigned":<b64 SHA-256>,"signed":<b64 signature, "" until signed>}]}`
//!
//! A signature is RSASSA-PKCS1-v1_5 of the token as a SHA-256 digest
//! (`openssl pkeyutl -sign -pkeyopt digest:sha256 -in <raw token>`).

use serde_json::{json, Value};

use crate::error::Error;
use crate::hsm::api::{Approval, QuorumService, Request, Response, Role};

use super::args::Args;
use super::client::Client;
use super::encoding::{base64_decode, base64_encode, pem_decode};
use super::errors::Failure;

/// CloudHSM's message when a gated operation lacks enough approvals.
pub(crate) const APPROVAL_REQUIRED: &str = "Quorum approval is required for this operation";

fn unexpected() -> Failure {
    Failure::hsm(Error::GeneralError).say("unexpected answer from the HSM")
}

fn read_text(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::new(format!("cannot read {path}: {e}")))
}

fn write_text(path: &str, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::new(format!("cannot write {path}: {e}")))
}

fn parse_service(s: &str) -> Result<QuorumService, Failure> {
    Ok(match s {
        "user" => QuorumService::User,
        "quorum" => QuorumService::Quorum,
        "registration" => QuorumService::Registration,
        "key-management" => QuorumService::KeyManagement,
        "key-usage" => QuorumService::KeyUsage,
        other => {
            return Err(Failure::new(format!(
                "unknown service '{other}' (user, quorum, registration, key-management, key-usage)"
            )))
        }
    })
}

fn b64_field(v: &Value, name: &str, path: &str) -> Result<Vec<u8>, Failure> {
    v.get(name)
        .and_then(Value::as_str)
        .and_then(base64_decode)
        .ok_or_else(|| Failure::new(format!("{path}: \"{name}\" is missing or not base64")))
}

fn json_file(path: &str) -> Result<Value, Failure> {
    serde_json::from_str(&read_text(path)?)
        .map_err(|e| Failure::new(format!("{path}: not a token file ({e})")))
}

/// Read a signed approval token file.
pub(crate) fn read_approval(path: &str) -> Result<Approval, Failure> {
    let v = json_file(path)?;
    let approval_data = b64_field(&v, "approval_data", path)?;
    let token = b64_field(&v, "token", path)?;
    let mut signatures = Vec::new();
    for s in v
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::new(format!("{path}: \"signatures\" must be a list")))?
    {
        let name = s
            .get("username")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::new(format!("{path}: a signature has no \"username\"")))?;
        signatures.push((name.to_string(), b64_field(s, "signature", path)?));
    }
    Ok(Approval {
        approval_data,
        token,
        signatures,
    })
}

/// Wrap a gated request with the approval of `--approval`, if given.
pub(crate) fn with_approval(req: Request, a: &Args) -> Result<Request, Failure> {
    Ok(match a.get("approval") {
        Some(path) => Request::Approved {
            approval: read_approval(path)?,
            request: Box::new(req),
        },
        None => req,
    })
}

/// A quorum refusal keeps CloudHSM's exact message; other failures get `context` (none if
/// empty).
pub(crate) fn explain(f: Failure, context: &str) -> Failure {
    if context.is_empty() && f.cause != Some(Error::FunctionRejected) {
        return f;
    }
    if f.cause == Some(Error::FunctionRejected) {
        f.say(APPROVAL_REQUIRED).with(
            "hint",
            "generate a token with `quorum token-sign generate`, have enough registered admins sign it, and pass it with --approval (a token is single-use, yours, for this service, and expires)",
        )
    } else {
        f.context(context)
    }
}

/// `quorum token-sign generate`.
pub(crate) fn generate(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let service = parse_service(a.req("service")?)?;
    let path = a.req("token")?;
    let resp = c
        .call(Request::QuorumTokenGenerate {
            conn: c.conn(),
            service,
        })
        .map_err(|f| match f.cause {
            Some(Error::ActionProhibited) => f.say(format!(
                "you already have a live {} token: use it, let it expire or run `quorum token-sign delete --scope user`",
                service.as_str()
            )),
            Some(Error::FunctionNotSupported) => f.say(format!(
                "service {} (per-key quorum) is not supported",
                service.as_str()
            )),
            _ => f.context("quorum token-sign generate"),
        })?;
    let Response::QuorumToken {
        approval_data,
        token,
    } = resp
    else {
        return Err(unexpected());
    };
    let file = if service == QuorumService::Registration {
        json!({
            "version": "2.0",
            "tokens": [{
                "approval_data": base64_encode(&approval_data),
                "unsigned": base64_encode(&token),
                "signed": "",
            }],
        })
    } else {
        json!({
            "version": "2.0",
            "approval_data": base64_encode(&approval_data),
            "token": base64_encode(&token),
            "signatures": [],
        })
    };
    let text = serde_json::to_string_pretty(&file).map_err(|_| unexpected())?;
    write_text(path, &(text + "\n"))?;
    Ok(json!({ "path": path }))
}

/// `user change-quorum token-sign register`.
pub(crate) fn register(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let key_path = a.req("public-key")?;
    let token_path = a.req("signed-token")?;
    let (label, der) = pem_decode(&read_text(key_path)?)
        .ok_or_else(|| Failure::new(format!("{key_path}: not a PEM file")))?;
    if label != "PUBLIC KEY" {
        return Err(Failure::new(format!(
            "{key_path}: expected a PUBLIC KEY (SubjectPublicKeyInfo) PEM, found {label}"
        )));
    }
    let (user, role) = c
        .who()
        .map(|(u, r)| (u.to_string(), r))
        .ok_or_else(|| Failure::hsm(Error::UserNotLoggedIn).say("not logged in"))?;
    let v = json_file(token_path)?;
    // CloudHSM's registration shape, or an approval-shaped file signed by the caller.
    let (approval_data, signature) = match v.get("tokens").and_then(Value::as_array) {
        Some(tokens) => {
            let t = tokens
                .first()
                .ok_or_else(|| Failure::new(format!("{token_path}: no token in \"tokens\"")))?;
            let sig = t.get("signed").and_then(Value::as_str).unwrap_or("");
            if sig.is_empty() {
                return Err(Failure::new(format!(
                    "{token_path}: the token is not signed yet (\"signed\" is empty)"
                )));
            }
            (
                b64_field(t, "approval_data", token_path)?,
                base64_decode(sig).ok_or_else(|| {
                    Failure::new(format!("{token_path}: \"signed\" is not base64"))
                })?,
            )
        }
        None => {
            let approval = read_approval(token_path)?;
            let sig = approval
                .signatures
                .into_iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&user))
                .map(|(_, s)| s)
                .ok_or_else(|| Failure::new(format!("{token_path}: no signature by {user}")))?;
            (approval.approval_data, sig)
        }
    };
    c.call(Request::QuorumRegister {
        conn: c.conn(),
        public_key: der,
        approval_data,
        signature,
    })
    .map_err(|f| match f.cause {
        Some(Error::FunctionRejected) => f.say(
            "the registration token is unknown, used, expired, not yours or not a registration token",
        ),
        Some(Error::SignatureInvalid | Error::SignatureLenRange) => {
            f.say("the token's signature does not verify with this public key")
        }
        Some(Error::KeySizeRange) => f.say("a quorum key must be an RSA-2048 key"),
        Some(Error::PublicKeyInvalid) => f.say("not an RSA public key"),
        _ => f.context("user change-quorum token-sign register"),
    })?;
    Ok(json!({ "username": user, "role": role.as_str() }))
}

/// `quorum token-sign list`.
pub(crate) fn list(c: &mut Client, _: &Args) -> Result<Value, Failure> {
    let Response::QuorumTokens(tokens) = c.call(Request::QuorumTokenList { conn: c.conn() })?
    else {
        return Err(unexpected());
    };
    let tokens: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "username": t.user,
                "service": t.service.as_str(),
                "approvals-required": { "value": t.approvals_required },
                "number-of-approvals": { "value": t.approvals },
                "token-timeout-seconds": { "value": t.timeout_seconds },
                "cluster-coverage": "full",
            })
        })
        .collect();
    Ok(json!({ "tokens": tokens }))
}

/// `quorum token-sign list-quorum-values`.
pub(crate) fn list_values(c: &mut Client, _: &Args) -> Result<Value, Failure> {
    let Response::QuorumValues(values) = c.call(Request::QuorumValues { conn: c.conn() })? else {
        return Err(unexpected());
    };
    let map: serde_json::Map<String, Value> = values
        .iter()
        .map(|(s, v)| (s.as_str().to_string(), json!(v)))
        .collect();
    Ok(Value::Object(map))
}

/// Admins with a registered quorum key.
fn registered_admins(c: &Client) -> Option<usize> {
    let Ok(Response::QuorumRegistered(names)) =
        c.call(Request::QuorumRegistered { conn: c.conn() })
    else {
        return None;
    };
    let Ok(Response::Users(users)) = c.call(Request::UserList { conn: c.conn() }) else {
        return None;
    };
    Some(
        users
            .iter()
            .filter(|u| u.role == Role::Admin && names.contains(&u.name))
            .count(),
    )
}

/// `quorum token-sign set-quorum-value`.
pub(crate) fn set_value(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let service = parse_service(a.req("service")?)?;
    if !matches!(service, QuorumService::User | QuorumService::Quorum) {
        return Err(Failure::new(format!(
            "quorum values are set for the services user and quorum, not {}",
            service.as_str()
        )));
    }
    let value = a
        .number("value")?
        .ok_or_else(|| Failure::new("missing --value"))?;
    if !(1..=8).contains(&value) {
        return Err(Failure::new(format!(
            "--value {value}: a quorum value is 1 (no quorum) to 8"
        )));
    }
    let req = Request::QuorumSetValue {
        conn: c.conn(),
        service,
        value,
    };
    c.call(with_approval(req, a)?).map_err(|f| {
        if f.cause == Some(Error::ArgumentsBad) {
            let n = registered_admins(c).map_or_else(|| "?".to_string(), |n| n.to_string());
            f.say(format!(
                "--value {value} is more than the admins with a registered quorum key ({n}): register keys first (`user change-quorum token-sign register`)"
            ))
        } else {
            explain(f, "quorum token-sign set-quorum-value")
        }
    })?;
    Ok(json!("Set quorum value successful"))
}

/// `quorum token-sign delete`.
pub(crate) fn delete(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let all = match a.req("scope")? {
        "user" => false,
        "all" => true,
        other => {
            return Err(Failure::new(format!(
                "unknown scope '{other}' (user or all)"
            )))
        }
    };
    c.call(Request::QuorumTokenDelete {
        conn: c.conn(),
        all,
    })
    .map_err(|f| f.context("quorum token-sign delete"))?;
    Ok(json!("Deletion of quorum token(s) successful"))
}

/// `quorum token-sign list-timeouts`.
pub(crate) fn list_timeouts(c: &mut Client, _: &Args) -> Result<Value, Failure> {
    let Response::QuorumTimeouts {
        generated,
        approved,
    } = c.call(Request::QuorumTimeouts { conn: c.conn() })?
    else {
        return Err(unexpected());
    };
    Ok(json!({ "generated": generated, "approved": approved }))
}

/// `quorum token-sign set-timeout`.
pub(crate) fn set_timeout(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let generated = a.number("generated")?;
    let approved = a.number("approved")?;
    if generated.is_none() && approved.is_none() {
        return Err(Failure::new("give --generated and/or --approved (seconds)"));
    }
    c.call(Request::QuorumSetTimeout {
        conn: c.conn(),
        generated,
        approved,
    })
    .map_err(|f| match f.cause {
        Some(Error::ArgumentsBad) => f.say("a token timeout is 1 to 86400 seconds"),
        _ => f.context("quorum token-sign set-timeout"),
    })?;
    Ok(json!("Set token timeout successful"))
}

/// Would deleting admin `name` leave fewer registered admins than an admin service's quorum
/// value? (remaining registered admins, the value)
pub(crate) fn lockout(c: &Client, name: &str) -> Option<(usize, u64)> {
    let names = registered(c);
    if !names.iter().any(|n| n == name) {
        return None;
    }
    let registered = registered_admins(c)?.saturating_sub(1);
    let Ok(Response::QuorumValues(values)) = c.call(Request::QuorumValues { conn: c.conn() })
    else {
        return None;
    };
    let m = values.iter().map(|(_, v)| *v).max().unwrap_or(1);
    (u64::try_from(registered).ok()? < m).then_some((registered, m))
}

/// Users with a registered quorum key, for `user list`.
pub(crate) fn registered(c: &Client) -> Vec<String> {
    match c.call(Request::QuorumRegistered { conn: c.conn() }) {
        Ok(Response::QuorumRegistered(names)) => names,
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn approval_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.json");
        let path = p.to_str().unwrap();
        std::fs::write(
            &p,
            r#"{"version":"2.0","approval_data":"AAEC","token":"AwQF","signatures":[{"username":"admin2","signature":"BgcI"}]}"#,
        )
        .unwrap();
        let a = read_approval(path).unwrap();
        assert_eq!(a.approval_data, [0, 1, 2]);
        assert_eq!(a.token, [3, 4, 5]);
        assert_eq!(a.signatures, [("admin2".to_string(), vec![6, 7, 8])]);
        for bad in [
            "not json",
            r#"{"approval_data":"AAEC","token":"AwQF"}"#,
            r#"{"approval_data":"!!","token":"AwQF","signatures":[]}"#,
            r#"{"approval_data":"AAEC","token":"AwQF","signatures":[{"signature":"BgcI"}]}"#,
        ] {
            std::fs::write(&p, bad).unwrap();
            assert!(read_approval(path).is_err(), "{bad}");
        }
    }
}
