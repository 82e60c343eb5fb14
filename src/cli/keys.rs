//! `key ...` commands.

use cryptoki_sys::*;
use serde_json::{json, Value};

use crate::crypto::ec::{self, EcPrivateKey, EcPublicKey};
use crate::crypto::rsa::{RsaPrivateKey, RsaPublicKey};
use crate::crypto::HashAlg;
use crate::error::Error;
use crate::hsm::api::{
    AttrValue, Attribute, GcmParams, KeyInfo, Mechanism, OaepParams, ObjectId, Request, Response,
};

use super::args::Args;
use super::client::Client;
use super::encoding::{base64_encode, hex0x, parse_hex, pem_decode, pem_encode};
use super::errors::Failure;
use super::keyattrs::{
    self, key_attr, key_reference, parse_assignments, parse_filter, render_key, unique_id,
};

fn unexpected() -> Failure {
    Failure::hsm(Error::GeneralError).say("unexpected answer from the HSM")
}

/// The keys a filter matches, as the logged-in user sees them.
pub(crate) fn find_keys(c: &Client, filter: &[String]) -> Result<Vec<KeyInfo>, Failure> {
    let template = parse_filter(filter)?;
    match c.call(Request::KeyList {
        conn: c.conn(),
        template,
    })? {
        Response::Keys(k) => Ok(k),
        _ => Err(unexpected()),
    }
}

/// The one key a filter must match. `what` names the filter in messages.
pub(crate) fn find_one(c: &Client, filter: &[String], what: &str) -> Result<KeyInfo, Failure> {
    let mut keys = find_keys(c, filter)?;
    match keys.len() {
        1 => Ok(keys.remove(0)),
        0 => Err(Failure::new(format!(
            "no key matches the {what} ({})",
            filter.join(" ")
        ))),
        n => {
            let refs: Vec<String> = keys.iter().map(|k| key_reference(k.id)).collect();
            Err(Failure::new(format!(
                "the {what} matches {n} keys; narrow it, e.g. with key-reference=0x..."
            ))
            .with("matching-keys", refs))
        }
    }
}

/// A key by its id (after generating or importing it).
fn key_by_id(c: &Client, id: ObjectId) -> Result<KeyInfo, Failure> {
    match c.call(Request::KeyList {
        conn: c.conn(),
        template: vec![unique_id(id)],
    })? {
        Response::Keys(mut k) if k.len() == 1 => Ok(k.remove(0)),
        _ => Err(unexpected()),
    }
}

fn show(c: &Client, id: ObjectId) -> Result<Value, Failure> {
    Ok(render_key(&key_by_id(c, id)?, true))
}

/// `key list`.
pub(crate) fn list(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let keys = find_keys(c, a.many("filter"))?;
    let max = a.number("max-items")?.unwrap_or(10);
    if max == 0 {
        return Err(Failure::new("--max-items must be at least 1"));
    }
    let start = match a.get("starting-token") {
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| Failure::new(format!("invalid --starting-token '{t}'")))?,
        None => 0,
    };
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let page: Vec<Value> = keys
        .iter()
        .skip(start)
        .take(max)
        .map(|k| render_key(k, a.has("verbose")))
        .collect();
    let mut out = json!({
        "matched_keys": page,
        "total_key_count": keys.len(),
        "returned_key_count": page.len(),
    });
    let next = start.saturating_add(page.len());
    if next < keys.len() {
        out["next_token"] = json!(next.to_string());
    }
    Ok(out)
}

/// Owner-only refusals, said plainly.
fn owner_only(f: Failure, action: &str) -> Failure {
    if f.cause == Some(Error::ActionProhibited) {
        f.say(format!(
            "not permitted for this user: only the key's owner may {action} it"
        ))
    } else {
        f
    }
}

/// `key delete`.
pub(crate) fn delete(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let k = find_one(c, a.many("filter"), "filter")?;
    c.call(Request::DestroyObject {
        conn: c.conn(),
        sid: c.sid(),
        id: k.id,
    })
    .map_err(|f| owner_only(f, "delete").context("key delete"))?;
    Ok(json!({ "message": "Key deleted successfully", "key-reference": key_reference(k.id) }))
}

fn share_or_unshare(c: &mut Client, a: &Args, share: bool) -> Result<Value, Failure> {
    let user = a.req("username")?;
    if a.req("role")? != "crypto-user" {
        return Err(Failure::new(
            "keys are shared with crypto users only: use --role crypto-user",
        ));
    }
    let k = find_one(c, a.many("filter"), "filter")?;
    let verb = if share { "share" } else { "unshare" };
    let req = Request::KeyShare {
        conn: c.conn(),
        id: k.id,
        user: user.to_string(),
        share,
    };
    c.call(req).map_err(|f| {
        let f = match f.cause {
            Some(Error::ArgumentsBad) => f.say(format!(
                "cannot {verb} with {user}: not another existing crypto user"
            )),
            Some(Error::KeyTypeInconsistent) => f.say("only token keys can be shared"),
            _ => owner_only(f, "share or unshare"),
        };
        f.context(&format!("key {verb}"))
    })?;
    let message = if share {
        "Key shared successfully"
    } else {
        "Key unshared successfully"
    };
    Ok(
        json!({ "message": message, "key-reference": key_reference(k.id), "username": user.to_ascii_lowercase() }),
    )
}

/// `key share`.
pub(crate) fn share(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    share_or_unshare(c, a, true)
}

/// `key unshare`.
pub(crate) fn unshare(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    share_or_unshare(c, a, false)
}

/// `key set-attribute`.
pub(crate) fn set_attribute(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let attr = keyattrs::attribute(a.req("name")?, a.req("value")?)?;
    let k = find_one(c, a.many("filter"), "filter")?;
    c.call(Request::SetAttributes { conn: c.conn(), sid: c.sid(), id: k.id, template: vec![attr] }).map_err(|f| {
        let f = if f.cause == Some(Error::ActionProhibited) {
            f.say("not permitted for this user: only the key's owner may change it, and only while it is modifiable")
        } else {
            f
        };
        f.context("key set-attribute")
    })?;
    Ok(json!({ "message": "Attribute set successfully", "key-reference": key_reference(k.id) }))
}

fn ulong(ty: u64, v: u64) -> Attribute {
    Attribute::new(ty, AttrValue::Ulong(v))
}
fn boolean(ty: u64, v: bool) -> Attribute {
    Attribute::new(ty, AttrValue::Bool(v))
}
fn bytes(ty: u64, v: &[u8]) -> Attribute {
    Attribute::new(ty, AttrValue::Bytes(v.to_vec()))
}

/// Share a new key with `--share-crypto-users`; on failure say that the key exists.
fn share_new(c: &Client, id: ObjectId, users: &[String]) -> Result<(), Failure> {
    for u in users {
        c.call(Request::KeyShare {
            conn: c.conn(),
            id,
            user: u.clone(),
            share: true,
        })
        .map_err(|f| {
            let f = if f.cause == Some(Error::ArgumentsBad) {
                f.say(format!("{u} is not another existing crypto user"))
            } else {
                f
            };
            f.context(&format!(
                "key {} was created, but sharing it with {u} failed",
                key_reference(id)
            ))
        })?;
    }
    Ok(())
}

/// `key generate-symmetric aes|generic-secret`.
pub(crate) fn generate_symmetric(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let (mech, kt) = match a.variant() {
        "aes" => (Mechanism::AesKeyGen, CKK_AES),
        _ => (Mechanism::GenericSecretKeyGen, CKK_GENERIC_SECRET),
    };
    let len = a
        .number("key-length-bytes")?
        .ok_or_else(|| Failure::new("missing --key-length-bytes"))?;
    let mut template = vec![
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, kt),
        ulong(CKA_VALUE_LEN, len),
        bytes(CKA_LABEL, a.req("label")?.as_bytes()),
        boolean(CKA_TOKEN, !a.has("session")),
    ];
    template.extend(parse_assignments(a.many("attributes"))?);
    let req = Request::GenerateKey {
        conn: c.conn(),
        sid: c.sid(),
        mech,
        template,
    };
    let Response::Object(id) = c
        .call(req)
        .map_err(|f| f.context("key generate-symmetric"))?
    else {
        return Err(unexpected());
    };
    share_new(c, id, a.many("share-crypto-users"))?;
    Ok(json!({ "key": show(c, id)? }))
}

/// `key generate-asymmetric-pair rsa|ec`.
pub(crate) fn generate_pair(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let token = !a.has("session");
    let (mech, kt, mut public) = match a.variant() {
        "rsa" => {
            let bits = a
                .number("modulus-size-bits")?
                .ok_or_else(|| Failure::new("missing --modulus-size-bits"))?;
            let e = keyattrs::attribute("public-exponent", a.req("public-exponent")?)?;
            (
                Mechanism::RsaPkcsKeyPairGen,
                CKK_RSA,
                vec![ulong(CKA_MODULUS_BITS, bits), e],
            )
        }
        _ => {
            let name = a.req("curve")?;
            let curve = keyattrs::curve(name).ok_or_else(|| {
                Failure::new(format!(
                    "unknown curve '{name}' (prime256v1 | secp384r1 | secp521r1 | secp256k1)"
                ))
            })?;
            (
                Mechanism::EcKeyPairGen,
                CKK_EC,
                vec![bytes(CKA_EC_PARAMS, &curve.params())],
            )
        }
    };
    public.extend([
        ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        ulong(CKA_KEY_TYPE, kt),
        bytes(CKA_LABEL, a.req("public-label")?.as_bytes()),
        boolean(CKA_TOKEN, token),
    ]);
    public.extend(parse_assignments(a.many("public-attributes"))?);
    let mut private = vec![
        ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        ulong(CKA_KEY_TYPE, kt),
        bytes(CKA_LABEL, a.req("private-label")?.as_bytes()),
        boolean(CKA_TOKEN, token),
    ];
    private.extend(parse_assignments(a.many("private-attributes"))?);
    let req = Request::GenerateKeyPair {
        conn: c.conn(),
        sid: c.sid(),
        mech,
        public,
        private,
    };
    let Response::KeyPair { public, private } = c
        .call(req)
        .map_err(|f| f.context("key generate-asymmetric-pair"))?
    else {
        return Err(unexpected());
    };
    // Public keys are visible to everyone already; sharing is about the private key.
    share_new(c, private, a.many("share-crypto-users"))?;
    Ok(json!({ "public_key": show(c, public)?, "private_key": show(c, private)? }))
}

fn read_file(path: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::new(format!("cannot read {path}: {e}")))
}

fn write_file(path: &str, data: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, data).map_err(|e| Failure::new(format!("cannot write {path}: {e}")))
}

/// The attributes of a PEM key for `key import pem`.
fn pem_template(class: &str, label: &str, der: &[u8]) -> Result<Vec<Attribute>, Error> {
    Ok(match class {
        "rsa-public" => {
            let k = RsaPublicKey::from_spki_der(der)?;
            vec![
                ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                ulong(CKA_KEY_TYPE, CKK_RSA),
                bytes(CKA_MODULUS, &k.n()),
                bytes(CKA_PUBLIC_EXPONENT, &k.e()),
            ]
        }
        "ec-public" => {
            let (k, curve) = EcPublicKey::from_spki_der(der)?;
            vec![
                ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                ulong(CKA_KEY_TYPE, CKK_EC),
                bytes(CKA_EC_PARAMS, &curve.params()),
                bytes(CKA_EC_POINT, &ec::ec_point_to_der(&k.point())),
            ]
        }
        "rsa-private" => {
            let (_, p) = RsaPrivateKey::from_pkcs8_der(der)?;
            vec![
                ulong(CKA_CLASS, CKO_PRIVATE_KEY),
                ulong(CKA_KEY_TYPE, CKK_RSA),
                bytes(CKA_MODULUS, &p.n),
                bytes(CKA_PUBLIC_EXPONENT, &p.e),
                bytes(CKA_PRIVATE_EXPONENT, &p.d),
                bytes(CKA_PRIME_1, &p.p),
                bytes(CKA_PRIME_2, &p.q),
                bytes(CKA_EXPONENT_1, &p.dp),
                bytes(CKA_EXPONENT_2, &p.dq),
                bytes(CKA_COEFFICIENT, &p.qinv),
            ]
        }
        _ => {
            let (_, curve, scalar) = EcPrivateKey::from_pkcs8_der(der)?;
            vec![
                ulong(CKA_CLASS, CKO_PRIVATE_KEY),
                ulong(CKA_KEY_TYPE, CKK_EC),
                bytes(CKA_EC_PARAMS, &curve.params()),
                bytes(CKA_VALUE, &scalar),
            ]
        }
    }
    .into_iter()
    .chain([bytes(CKA_LABEL, label.as_bytes())])
    .collect())
}

/// `key import pem`.
pub(crate) fn import_pem(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let path = a.req("path")?;
    let class = a.req("key-type-class")?;
    let want_label = match class {
        "rsa-public" | "ec-public" => "PUBLIC KEY",
        "rsa-private" | "ec-private" => "PRIVATE KEY",
        other => {
            return Err(Failure::new(format!("unknown --key-type-class '{other}' (rsa-public | ec-public | rsa-private | ec-private)")))
        }
    };
    let text = String::from_utf8(read_file(path)?)
        .map_err(|_| Failure::new(format!("{path} is not a PEM file")))?;
    let (label, der) = pem_decode(&text)
        .ok_or_else(|| Failure::new(format!("{path} holds no readable PEM block")))?;
    let der = zeroize::Zeroizing::new(der);
    if label != want_label {
        return Err(Failure::new(format!(
            "{path} holds a '{label}' block; {class} needs '{want_label}' (SPKI public key or unencrypted PKCS #8)"
        )));
    }
    let mut template = pem_template(class, a.req("label")?, &der)
        .map_err(|e| Failure::hsm(e).context(&format!("{path} is not a valid {class} key")))?;
    template.push(boolean(CKA_TOKEN, !a.has("session")));
    template.extend(parse_assignments(a.many("attributes"))?);
    let Response::Object(id) = c
        .call(Request::CreateObject {
            conn: c.conn(),
            sid: c.sid(),
            template,
        })
        .map_err(|f| f.context("key import pem"))?
    else {
        return Err(unexpected());
    };
    Ok(json!({ "key": show(c, id)? }))
}

/// `key generate-file --encoding pem`: the public key of a key pair, as SPKI PEM.
pub(crate) fn generate_file(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let encoding = a.req("encoding")?;
    if encoding != "pem" {
        return Err(Failure::new(format!(
            "--encoding {encoding} is not supported (pem)"
        )));
    }
    let path = a.req("path")?;
    let k = find_one(c, a.many("filter"), "filter")?;
    let Some(AttrValue::Bytes(spki)) = key_attr(&k, CKA_PUBLIC_KEY_INFO)
        .filter(|v| !matches!(v, AttrValue::Bytes(b) if b.is_empty()))
    else {
        return Err(Failure::new(
            "this key has no public key to write (only RSA and EC keys do)",
        ));
    };
    write_file(path, pem_encode("PUBLIC KEY", spki).as_bytes())?;
    Ok(
        json!({ "message": "Successfully generated key file", "key-reference": key_reference(k.id), "path": path }),
    )
}

/// A hash function name.
pub(crate) fn hash_alg(name: &str) -> Result<HashAlg, Failure> {
    match name.trim_start_matches("mgf1-") {
        "sha1" => Ok(HashAlg::Sha1),
        "sha224" => Ok(HashAlg::Sha224),
        "sha256" => Ok(HashAlg::Sha256),
        "sha384" => Ok(HashAlg::Sha384),
        "sha512" => Ok(HashAlg::Sha512),
        _ => Err(Failure::new(format!(
            "unknown hash function '{name}' (sha1 | sha224 | sha256 | sha384 | sha512)"
        ))),
    }
}

fn tag_bits(a: &Args) -> Result<u64, Failure> {
    Ok(a.number("tag-length-bits")?.unwrap_or(128))
}

/// Hex AAD.
pub(crate) fn aad(a: &Args) -> Result<Vec<u8>, Failure> {
    match a.get("aad") {
        Some(t) => parse_hex(t).ok_or_else(|| Failure::new("--aad: expected hex")),
        None => Ok(Vec::new()),
    }
}

/// Fresh random bytes from the HSM.
pub(crate) fn random(c: &Client, len: u64) -> Result<Vec<u8>, Failure> {
    match c.call(Request::GenerateRandom { len })? {
        Response::Data(d) => Ok(d),
        _ => Err(unexpected()),
    }
}

fn oaep(a: &Args) -> Result<OaepParams, Failure> {
    let hash = hash_alg(a.get("hash-function").unwrap_or("sha256"))?;
    let mgf = a.get("mgf").map(hash_alg).transpose()?.unwrap_or(hash);
    Ok(OaepParams {
        hash,
        mgf,
        label: Vec::new(),
    })
}

/// `key wrap <mechanism>`.
pub(crate) fn wrap(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let payload = find_one(c, a.many("payload-filter"), "payload filter")?;
    let wrapping = find_one(c, a.many("wrapping-filter"), "wrapping filter")?;
    let mut iv = None;
    let mech = match a.variant() {
        "aes-gcm" => {
            let v = random(c, 12)?;
            iv = Some(v.clone());
            Mechanism::AesGcm(GcmParams {
                iv: v,
                aad: aad(a)?,
                tag_bits: tag_bits(a)?,
            })
        }
        "aes-key-wrap" => Mechanism::AesKeyWrap { iv: None },
        "aes-key-wrap-pad" => Mechanism::AesKeyWrapKwp { iv: None },
        _ => Mechanism::RsaPkcsOaep(oaep(a)?),
    };
    let req = Request::WrapKey {
        conn: c.conn(),
        mech,
        wrapping: wrapping.id,
        key: payload.id,
    };
    let Response::Data(wrapped) = c.call(req).map_err(|f| f.context("key wrap"))? else {
        return Err(unexpected());
    };
    let mut out = json!({
        "payload_key_reference": key_reference(payload.id),
        "wrapping_key_reference": key_reference(wrapping.id),
    });
    if let Some(iv) = iv {
        out["iv"] = json!(hex0x(&iv));
    }
    match a.get("path") {
        Some(path) => {
            write_file(path, &wrapped)?;
            out["path"] = json!(path);
        }
        None => out["wrapped_key_data"] = json!(base64_encode(&wrapped)),
    }
    Ok(out)
}

/// Input bytes from `--<data>` (base64, else plain text) or `--<data>-path` (raw).
pub(crate) fn input(a: &Args, flag: &str, path_flag: &str) -> Result<Vec<u8>, Failure> {
    match (a.get(flag), a.get(path_flag)) {
        (Some(_), Some(_)) => Err(Failure::new(format!(
            "give --{flag} or --{path_flag}, not both"
        ))),
        (Some(d), None) => {
            Ok(super::encoding::base64_decode(d).unwrap_or_else(|| d.as_bytes().to_vec()))
        }
        (None, Some(p)) => read_file(p),
        (None, None) => Err(Failure::new(format!("missing --{flag} or --{path_flag}"))),
    }
}

/// `key unwrap <mechanism>`.
pub(crate) fn unwrap(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let unwrapping = find_one(c, a.many("filter"), "filter")?;
    let wrapped = input(a, "data", "data-path")?;
    let mech = match a.variant() {
        "aes-gcm" => {
            let iv = parse_hex(a.req("iv")?).ok_or_else(|| Failure::new("--iv: expected hex"))?;
            Mechanism::AesGcm(GcmParams {
                iv,
                aad: aad(a)?,
                tag_bits: tag_bits(a)?,
            })
        }
        "aes-key-wrap" => Mechanism::AesKeyWrap { iv: None },
        "aes-key-wrap-pad" => Mechanism::AesKeyWrapKwp { iv: None },
        _ => Mechanism::RsaPkcsOaep(oaep(a)?),
    };
    let (class, kt) = match a.req("key-type-class")? {
        "aes" => (CKO_SECRET_KEY, CKK_AES),
        "generic-secret" => (CKO_SECRET_KEY, CKK_GENERIC_SECRET),
        "rsa-private" => (CKO_PRIVATE_KEY, CKK_RSA),
        "ec-private" => (CKO_PRIVATE_KEY, CKK_EC),
        other => {
            return Err(Failure::new(format!(
            "unknown --key-type-class '{other}' (aes | generic-secret | rsa-private | ec-private)"
        )))
        }
    };
    let mut template = vec![
        ulong(CKA_CLASS, class),
        ulong(CKA_KEY_TYPE, kt),
        bytes(CKA_LABEL, a.req("label")?.as_bytes()),
        boolean(CKA_TOKEN, !a.has("session")),
    ];
    template.extend(parse_assignments(a.many("attributes"))?);
    let req = Request::UnwrapKey {
        conn: c.conn(),
        sid: c.sid(),
        mech,
        unwrapping: unwrapping.id,
        wrapped,
        template,
    };
    let Response::Object(id) = c.call(req).map_err(|f| f.context("key unwrap"))? else {
        return Err(unexpected());
    };
    share_new(c, id, a.many("share-crypto-users"))?;
    Ok(json!({ "key": show(c, id)? }))
}
