//! `crypto ...` commands: sign and verify (hashed here, signed in the HSM with the
//! prehashed mechanisms), and AES-GCM encrypt/decrypt.

use serde_json::{json, Value};

use crate::crypto::digest::digest;
use crate::crypto::HashAlg;
use crate::error::Error;
use crate::hsm::api::{GcmParams, Mechanism, OpKind, PssParams, Request, Response};

use super::args::Args;
use super::client::Client;
use super::encoding::{base64_decode, base64_encode, hex0x, parse_hex};
use super::errors::Failure;
use super::keyattrs::key_reference;
use super::keys::{aad, find_one, hash_alg, input, random};

fn unexpected() -> Failure {
    Failure::hsm(Error::GeneralError).say("unexpected answer from the HSM")
}

/// The digest to sign or verify: the data hashed here, or (`--data-type digest`) as given.
fn to_sign(a: &Args, hash: HashAlg) -> Result<Vec<u8>, Failure> {
    let data = input(a, "data", "data-path")?;
    match a.get("data-type").unwrap_or("raw") {
        "raw" => Ok(digest(hash, &data)),
        "digest" if data.len() == hash.len() => Ok(data),
        "digest" => Err(Failure::new(format!(
            "a {hash:?} digest is {} bytes, not {}",
            hash.len(),
            data.len()
        ))),
        other => Err(Failure::new(format!(
            "unknown --data-type '{other}' (raw | digest)"
        ))),
    }
}

fn mechanism(a: &Args, hash: HashAlg) -> Result<Mechanism, Failure> {
    Ok(match a.variant() {
        "rsa-pkcs" => Mechanism::HashRsaPkcs(hash),
        "rsa-pkcs-pss" => {
            let mgf = a.get("mgf").map(hash_alg).transpose()?.unwrap_or(hash);
            let salt_len = a.number("salt-length")?.unwrap_or(hash.len() as u64);
            Mechanism::HashRsaPkcsPss(
                hash,
                PssParams {
                    hash,
                    mgf,
                    salt_len,
                },
            )
        }
        _ => Mechanism::HashEcdsa(hash),
    })
}

/// One single-part operation with a key: OpInit, then OpOneShot.
fn one_shot(
    c: &Client,
    kind: OpKind,
    mech: Mechanism,
    key: crate::hsm::api::ObjectId,
    data: Vec<u8>,
    extra: Vec<u8>,
) -> Result<Vec<u8>, Failure> {
    let Response::Op(op) = c.call(Request::OpInit {
        conn: c.conn(),
        sid: c.sid(),
        kind,
        mech,
        key,
    })?
    else {
        return Err(unexpected());
    };
    match c.call(Request::OpOneShot {
        conn: c.conn(),
        op,
        data,
        extra,
    })? {
        Response::Data(d) => Ok(d),
        _ => Err(unexpected()),
    }
}

/// `crypto sign <mechanism>`.
pub(crate) fn sign(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let hash = hash_alg(a.req("hash-function")?)?;
    let digest = to_sign(a, hash)?;
    let key = find_one(c, a.many("key-filter"), "key filter")?;
    let sig = one_shot(
        c,
        OpKind::Sign,
        mechanism(a, hash)?,
        key.id,
        digest,
        Vec::new(),
    )
    .map_err(|f| f.context("crypto sign"))?;
    Ok(json!({ "key-reference": key_reference(key.id), "signature": base64_encode(&sig) }))
}

/// `crypto verify <mechanism>`.
pub(crate) fn verify(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let hash = hash_alg(a.req("hash-function")?)?;
    let digest = to_sign(a, hash)?;
    let sig = match (a.get("signature"), a.get("signature-path")) {
        (Some(s), None) => {
            base64_decode(s).ok_or_else(|| Failure::new("--signature: expected base64"))?
        }
        (None, Some(p)) => {
            std::fs::read(p).map_err(|e| Failure::new(format!("cannot read {p}: {e}")))?
        }
        _ => return Err(Failure::new("give one of --signature or --signature-path")),
    };
    let key = find_one(c, a.many("key-filter"), "key filter")?;
    one_shot(c, OpKind::Verify, mechanism(a, hash)?, key.id, digest, sig)
        .map_err(|f| f.context("crypto verify"))?;
    Ok(
        json!({ "message": "Signature verified successfully", "key-reference": key_reference(key.id) }),
    )
}

fn gcm(a: &Args, iv: Vec<u8>) -> Result<Mechanism, Failure> {
    let tag_bits = a.number("tag-length-bits")?.unwrap_or(128);
    Ok(Mechanism::AesGcm(GcmParams {
        iv,
        aad: aad(a)?,
        tag_bits,
    }))
}

/// `crypto encrypt aes-gcm`: under a fresh 12-byte IV from the HSM's RNG.
pub(crate) fn encrypt(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let data = input(a, "data", "data-path")?;
    let key = find_one(c, a.many("key-filter"), "key filter")?;
    let iv = random(c, 12)?;
    let ct = one_shot(
        c,
        OpKind::Encrypt,
        gcm(a, iv.clone())?,
        key.id,
        data,
        Vec::new(),
    )
    .map_err(|f| f.context("crypto encrypt"))?;
    Ok(
        json!({ "key-reference": key_reference(key.id), "iv": hex0x(&iv), "data": base64_encode(&ct) }),
    )
}

/// `crypto decrypt aes-gcm`.
pub(crate) fn decrypt(c: &mut Client, a: &Args) -> Result<Value, Failure> {
    let data = input(a, "data", "data-path")?;
    let iv = parse_hex(a.req("iv")?).ok_or_else(|| Failure::new("--iv: expected hex"))?;
    let key = find_one(c, a.many("key-filter"), "key filter")?;
    let pt = one_shot(c, OpKind::Decrypt, gcm(a, iv)?, key.id, data, Vec::new())
        .map_err(|f| f.context("crypto decrypt"))?;
    Ok(json!({ "key-reference": key_reference(key.id), "data": base64_encode(&pt) }))
}
