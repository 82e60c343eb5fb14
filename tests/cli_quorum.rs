#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Quorum (M of N) authentication through `cloudhsm-cli`, as AWS documents it: admins register
//! RSA-2048 keys with signed registration tokens, an admin sets the `user` service's quorum
//! value to 2, and user management then needs a token approved by two distinct registered
//! admins. Keys are made here (aws-lc-rs) and tokens signed here (RustCrypto `rsa`, PKCS#1
//! v1.5 over the token as a SHA-256 digest, as `openssl pkeyutl -pkeyopt digest:sha256` does),
//! independently of the HSM's own RSA code.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::Pkcs1v15Sign;
use serde_json::{json, Value};

const ADMIN_PW: &str = "admin-pw-1";
const PW: &str = "user-pw-1";
const REQUIRED: &str = "Quorum approval is required for this operation";

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let cli = Cli {
            dir: tempfile::tempdir().unwrap(),
        };
        cli.ok(None, &["cluster", "activate", "--password", ADMIN_PW]);
        cli
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    /// Run as `who` (an admin, with the test password): (exit code, JSON).
    fn run(&self, who: Option<&str>, args: &[&str]) -> (i32, Value) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cloudhsm-cli"));
        c.env_remove("CLOUDHSM_ROLE")
            .env_remove("CLOUDHSM_PIN")
            .env_remove("CLOUDHSM_PKCS11_CONF")
            .env("CLOUDHSM_HOME", self.path("store"))
            .stdin(Stdio::null());
        if let Some(user) = who {
            let pw = if user == "admin" { ADMIN_PW } else { PW };
            c.args(["--username", user, "--role", "admin", "--password", pw]);
        }
        let out = c.args(args).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"));
        let code = out.status.code().unwrap();
        assert_eq!(v["error_code"].as_i64().unwrap(), i64::from(code));
        (code, v)
    }

    fn ok(&self, who: Option<&str>, args: &[&str]) -> Value {
        let (code, v) = self.run(who, args);
        assert_eq!(code, 0, "{who:?} {args:?} failed: {v}");
        v["data"].clone()
    }

    fn fail(&self, who: Option<&str>, args: &[&str]) -> String {
        let (code, v) = self.run(who, args);
        assert_eq!(code, 1, "{who:?} {args:?} should fail: {v}");
        v["data"]["error"].as_str().unwrap().to_string()
    }

    fn users(&self) -> Vec<(String, bool)> {
        self.ok(None, &["user", "list"])["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                let registered = u["quorum"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|q| q["strategy"] == "token-sign" && q["status"] == "enabled");
                (u["username"].as_str().unwrap().to_string(), registered)
            })
            .collect()
    }

    fn has_user(&self, name: &str) -> bool {
        self.users().iter().any(|(u, _)| u == name)
    }

    fn read(&self, name: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path(name)).unwrap()).unwrap()
    }

    fn write(&self, name: &str, v: &Value) -> String {
        std::fs::write(self.path(name), serde_json::to_string_pretty(v).unwrap()).unwrap();
        self.file(name)
    }

    /// `who` draws a token for `service`; the token file's JSON.
    fn token(&self, who: &str, service: &str, name: &str) -> Value {
        let f = self.file(name);
        let out = self.ok(
            Some(who),
            &[
                "quorum",
                "token-sign",
                "generate",
                "--service",
                service,
                "--token",
                &f,
            ],
        );
        assert_eq!(out["path"], f.as_str());
        self.read(name)
    }

    fn create_admin(&self, name: &str) {
        self.ok(
            Some("admin"),
            &[
                "user",
                "create",
                "--username",
                name,
                "--role",
                "admin",
                "--password",
                PW,
            ],
        );
    }
}

/// An approver's key pair, made outside the HSM.
struct Signer {
    key: rsa::RsaPrivateKey,
    lc: aws_lc_rs::rsa::KeyPair,
}

impl Signer {
    fn new() -> Signer {
        let lc = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der: Pkcs8V1Der = lc.as_der().unwrap();
        let key = rsa::RsaPrivateKey::from_pkcs8_der(der.as_ref()).unwrap();
        Signer { key, lc }
    }

    fn public_pem(&self) -> String {
        self.key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    /// Sign a base64 token (a SHA-256 digest) the way AWS's OpenSSL example does.
    fn sign_token(&self, token_b64: &str) -> String {
        let digest = b64d(token_b64);
        assert_eq!(digest.len(), 32);
        let sig = self
            .key
            .sign(Pkcs1v15Sign::new::<sha2::Sha256>(), &digest)
            .unwrap();
        b64e(&sig)
    }

    /// The same signature made another way: sha256WithRSAEncryption over approval_data.
    fn sign_approval_data(&self, approval_data_b64: &str) -> String {
        let data = b64d(approval_data_b64);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; self.lc.public_modulus_len()];
        self.lc
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                &data,
                &mut sig,
            )
            .unwrap();
        b64e(&sig)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64e(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64d(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&x| x == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// A token file with these (username, signature) approvals appended.
fn approved(token: &Value, sigs: &[(&str, String)]) -> Value {
    let mut t = token.clone();
    for (name, sig) in sigs {
        t["signatures"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "username": name, "signature": sig }));
    }
    t
}

/// `who` registers `signer`'s key with a registration token it signed.
fn register(cli: &Cli, who: &str, signer: &Signer) {
    let reg = cli.token(who, "registration", &format!("{who}.reg"));
    assert_eq!(reg["version"], "2.0");
    let t = &reg["tokens"][0];
    assert_eq!(t["signed"], "");
    let mut signed = reg.clone();
    signed["tokens"][0]["signed"] = json!(signer.sign_token(t["unsigned"].as_str().unwrap()));
    let token_file = cli.write(&format!("{who}.reg.signed"), &signed);
    std::fs::write(cli.path(&format!("{who}.pub")), signer.public_pem()).unwrap();
    let out = cli.ok(
        Some(who),
        &[
            "user",
            "change-quorum",
            "token-sign",
            "register",
            "--public-key",
            &cli.file(&format!("{who}.pub")),
            "--signed-token",
            &token_file,
        ],
    );
    assert_eq!(out["username"], who);
    // A registration token is single-use.
    let again = cli.fail(
        Some(who),
        &[
            "user",
            "change-quorum",
            "token-sign",
            "register",
            "--public-key",
            &cli.file(&format!("{who}.pub")),
            "--signed-token",
            &token_file,
        ],
    );
    assert!(
        again.contains("registration token is unknown, used"),
        "{again}"
    );
}

fn create_cu<'a>(name: &'a str, approval: Option<&'a str>) -> Vec<&'a str> {
    let mut v = vec![
        "user",
        "create",
        "--username",
        name,
        "--role",
        "crypto-user",
        "--password",
        PW,
    ];
    if let Some(a) = approval {
        v.extend(["--approval", a]);
    }
    v
}

/// What PKCS#11 can do to users (C_InitToken, C_InitPIN, C_SetPIN as an admin) cannot carry
/// an approval, so the core refuses it while the user service needs a quorum.
fn pkcs11_paths_are_gated_too(cli: &Cli) {
    use cloudhsm_pkcs11::hsm::api::{Request, Response, Secret, UserType};
    let toml = format!(
        "[[cluster]]\nname = \"q\"\nstore = \"{}\"\ntransport = \"wire\"\n",
        cli.path("store").display()
    );
    let cfg = cloudhsm_pkcs11::config::Config::parse(&toml).unwrap();
    let hsm = cloudhsm_pkcs11::hsm::open(&cfg.slots[0]).unwrap();
    let Response::Connected(conn) = hsm.call(Request::Connect).unwrap() else {
        panic!()
    };
    let secret = |s: &str| Secret::new(s.as_bytes().to_vec());
    let rejected = Err(cloudhsm_pkcs11::error::Error::FunctionRejected);
    let reinit = hsm.call(Request::InitToken {
        conn,
        so_pin: secret(&format!("admin:{ADMIN_PW}")),
        label: "q".into(),
    });
    assert_eq!(reinit.map(|_| ()), rejected);
    hsm.call(Request::Login {
        conn,
        user_type: UserType::So,
        username: None,
        pin: secret(&format!("admin:{ADMIN_PW}")),
    })
    .unwrap();
    let init_pin = hsm.call(Request::InitPin {
        conn,
        pin: secret("user:some-pin-1"),
    });
    assert_eq!(init_pin.map(|_| ()), rejected);
    let set_pin = hsm.call(Request::SetPin {
        conn,
        old: secret(ADMIN_PW),
        new: secret("another-pw-1"),
    });
    assert_eq!(set_pin.map(|_| ()), rejected);
    // Only user management and set-quorum-value take an approval.
    let approval = cloudhsm_pkcs11::hsm::api::Approval {
        approval_data: vec![],
        token: vec![],
        signatures: vec![],
    };
    let odd = hsm.call(Request::Approved {
        approval,
        request: Box::new(Request::UserList { conn }),
    });
    assert_eq!(
        odd.map(|_| ()),
        Err(cloudhsm_pkcs11::error::Error::ArgumentsBad)
    );
    hsm.call(Request::Logout { conn }).unwrap();
    hsm.call(Request::Disconnect { conn }).unwrap();
}

#[test]
fn admins_approve_user_management_by_quorum() {
    let cli = Cli::new();
    for a in ["admin2", "admin3", "admin4"] {
        cli.create_admin(a);
    }
    let keys: Vec<(&str, Signer)> = ["admin", "admin2", "admin3", "admin4"]
        .into_iter()
        .map(|a| (a, Signer::new()))
        .collect();
    let key = |name: &str| &keys.iter().find(|(n, _)| *n == name).unwrap().1;

    // Registration proves possession of the private key.
    let reg = cli.token("admin2", "registration", "bad.reg");
    let mut wrong = reg.clone();
    wrong["tokens"][0]["signed"] =
        json!(key("admin3").sign_token(reg["tokens"][0]["unsigned"].as_str().unwrap()));
    std::fs::write(cli.path("admin2.pub"), key("admin2").public_pem()).unwrap();
    let err = cli.fail(
        Some("admin2"),
        &[
            "user",
            "change-quorum",
            "token-sign",
            "register",
            "--public-key",
            &cli.file("admin2.pub"),
            "--signed-token",
            &cli.write("wrong.reg", &wrong),
        ],
    );
    assert!(err.contains("does not verify"), "{err}");
    // The refused registration token stays until used, deleted or expired.
    let tokens = cli.ok(Some("admin2"), &["quorum", "token-sign", "list"]);
    assert_eq!(tokens["tokens"][0]["service"], "registration");
    cli.ok(
        Some("admin2"),
        &["quorum", "token-sign", "delete", "--scope", "user"],
    );
    // admin4 stays unregistered.
    for a in ["admin", "admin2", "admin3"] {
        register(&cli, a, key(a));
    }
    let users = cli.users();
    for (name, registered) in &users {
        assert_eq!(
            *registered,
            ["admin", "admin2", "admin3"].contains(&name.as_str()),
            "{name}"
        );
    }

    // M is at most the admins who could approve.
    fn set_user(m: &str) -> Vec<&str> {
        vec![
            "quorum",
            "token-sign",
            "set-quorum-value",
            "--service",
            "user",
            "--value",
            m,
        ]
    }
    let err = cli.fail(Some("admin"), &set_user("4"));
    assert!(err.contains("registered quorum key (3)"), "{err}");
    assert!(cli
        .fail(Some("admin"), &set_user("9"))
        .contains("1 (no quorum) to 8"));
    cli.ok(Some("admin"), &set_user("2"));
    assert_eq!(
        cli.ok(None, &["quorum", "token-sign", "list-quorum-values"]),
        json!({ "user": 2, "quorum": 1 })
    );

    // No approval: CloudHSM's message, and nothing happens.
    assert_eq!(cli.fail(Some("admin"), &create_cu("cu1", None)), REQUIRED);
    assert!(!cli.has_user("cu1"));
    pkcs11_paths_are_gated_too(&cli);
    // Admins' password changes are gated too.
    let err = cli.fail(
        Some("admin"),
        &[
            "user",
            "change-password",
            "--username",
            "admin3",
            "--role",
            "admin",
            "--password",
            "newpass-1",
        ],
    );
    assert_eq!(err, REQUIRED);

    let token = cli.token("admin", "user", "t1.json");
    assert_eq!(token["version"], "2.0");
    assert_eq!(token["signatures"], json!([]));
    let t = token["token"].as_str().unwrap().to_string();
    let data = token["approval_data"].as_str().unwrap().to_string();
    // One live user-service token per admin.
    let err = cli.fail(
        Some("admin"),
        &[
            "quorum",
            "token-sign",
            "generate",
            "--service",
            "user",
            "--token",
            &cli.file("t1b.json"),
        ],
    );
    assert!(err.contains("already have a live user token"), "{err}");
    let listed = cli.ok(Some("admin"), &["quorum", "token-sign", "list"]);
    let row = &listed["tokens"][0];
    assert_eq!(row["username"], "admin");
    assert_eq!(row["service"], "user");
    assert_eq!(row["approvals-required"]["value"], 2);
    assert_eq!(row["number-of-approvals"]["value"], 0);
    assert!(row["token-timeout-seconds"]["value"].as_u64().unwrap() > 590);

    let s2 = key("admin2").sign_token(&t);
    let s3 = key("admin3").sign_token(&t);
    let s4 = key("admin4").sign_token(&t);
    let mut forged = b64d(&s3);
    forged[100] ^= 0x01;
    let forged = b64e(&forged);
    let refused: Vec<(&str, Value)> = vec![
        ("one approval", approved(&token, &[("admin2", s2.clone())])),
        (
            "the same approver twice",
            approved(&token, &[("admin2", s2.clone()), ("ADMIN2", s2.clone())]),
        ),
        (
            "a forged signature",
            approved(&token, &[("admin2", s2.clone()), ("admin3", forged)]),
        ),
        (
            "an unregistered signer",
            approved(&token, &[("admin2", s2.clone()), ("admin4", s4)]),
        ),
        (
            "a signature by another approver's key",
            approved(&token, &[("admin2", s2.clone()), ("admin3", s2.clone())]),
        ),
        (
            "a non-existent user",
            approved(&token, &[("admin2", s2.clone()), ("nobody", s3.clone())]),
        ),
    ];
    for (what, file) in refused {
        let f = cli.write("try.json", &file);
        assert_eq!(
            cli.fail(Some("admin"), &create_cu("cu1", Some(&f))),
            REQUIRED,
            "{what}"
        );
        assert!(!cli.has_user("cu1"), "{what}");
    }
    // Approval data changed under the signatures: not the token that was signed.
    let mut tampered = approved(&token, &[("admin2", s2.clone()), ("admin3", s3.clone())]);
    let mut d = b64d(&data);
    let last = d.len() - 1;
    d[last] ^= 1;
    tampered["approval_data"] = json!(b64e(&d));
    let f = cli.write("tampered.json", &tampered);
    assert_eq!(
        cli.fail(Some("admin"), &create_cu("cu1", Some(&f))),
        REQUIRED
    );
    // Another admin cannot use admin's token, even fully approved.
    let good = approved(
        &token,
        &[
            ("admin2", s2.clone()),
            ("admin3", key("admin3").sign_approval_data(&data)),
        ],
    );
    let good_file = cli.write("t1.approved.json", &good);
    assert_eq!(
        cli.fail(Some("admin2"), &create_cu("cu1", Some(&good_file))),
        REQUIRED
    );

    // Two distinct registered admins (one signature made as sha256WithRSA over the data).
    cli.ok(Some("admin"), &create_cu("cu1", Some(&good_file)));
    assert!(cli.has_user("cu1"));
    // Used once: the same approval does not work again.
    assert_eq!(
        cli.fail(Some("admin"), &create_cu("cu2", Some(&good_file))),
        REQUIRED
    );
    assert!(!cli.has_user("cu2"));
    assert_eq!(
        cli.ok(Some("admin"), &["quorum", "token-sign", "list"]),
        json!({ "tokens": [] })
    );

    // A token for the `quorum` service does not approve user management.
    let qt = cli.token("admin", "quorum", "q1.json");
    let qt_t = qt["token"].as_str().unwrap().to_string();
    let q_ok = approved(
        &qt,
        &[
            ("admin", key("admin").sign_token(&qt_t)),
            ("admin3", key("admin3").sign_token(&qt_t)),
        ],
    );
    let q_file = cli.write("q1.approved.json", &q_ok);
    assert_eq!(
        cli.fail(Some("admin"), &create_cu("cu2", Some(&q_file))),
        REQUIRED
    );

    // admin2 deletes cu1 with its own token, approved by admin (the requester may approve
    // its own token too) and admin2.
    let t2 = cli.token("admin2", "user", "t2.json");
    let t2_t = t2["token"].as_str().unwrap().to_string();
    let t2_ok = approved(
        &t2,
        &[
            ("admin", key("admin").sign_token(&t2_t)),
            ("admin2", key("admin2").sign_token(&t2_t)),
        ],
    );
    let f = cli.write("t2.approved.json", &t2_ok);
    cli.ok(
        Some("admin2"),
        &[
            "user",
            "delete",
            "--username",
            "cu1",
            "--role",
            "crypto-user",
            "--approval",
            &f,
        ],
    );
    assert!(!cli.has_user("cu1"));

    // The quorum service gates set-quorum-value itself once its value is above 1.
    let set_quorum = [
        "quorum",
        "token-sign",
        "set-quorum-value",
        "--service",
        "quorum",
        "--value",
        "2",
    ];
    cli.ok(Some("admin"), &set_quorum);
    assert_eq!(cli.fail(Some("admin"), &set_user("1")), REQUIRED);
    let mut with_approval = set_user("1");
    with_approval.extend(["--approval", &q_file]);
    cli.ok(Some("admin"), &with_approval);
    assert_eq!(
        cli.ok(None, &["quorum", "token-sign", "list-quorum-values"]),
        json!({ "user": 1, "quorum": 2 })
    );
    // Quorum off for users: no approval needed.
    cli.ok(Some("admin"), &create_cu("cu2", None));

    // Expiry: a token not used within its lifetime is refused.
    assert_eq!(
        cli.ok(None, &["quorum", "token-sign", "list-timeouts"]),
        json!({ "generated": 600, "approved": 600 })
    );
    let qt2 = cli.token("admin", "quorum", "q2.json");
    let qt2_t = qt2["token"].as_str().unwrap().to_string();
    let q2_file = cli.write(
        "q2.approved.json",
        &approved(
            &qt2,
            &[
                ("admin2", key("admin2").sign_token(&qt2_t)),
                ("admin3", key("admin3").sign_token(&qt2_t)),
            ],
        ),
    );
    let mut back_to_2 = set_user("2");
    back_to_2.extend(["--approval", &q2_file]);
    cli.ok(Some("admin"), &back_to_2);
    cli.ok(
        Some("admin"),
        &["quorum", "token-sign", "set-timeout", "--generated", "1"],
    );
    assert_eq!(
        cli.ok(None, &["quorum", "token-sign", "list-timeouts"]),
        json!({ "generated": 1, "approved": 600 })
    );
    let t3 = cli.token("admin", "user", "t3.json");
    let t3_t = t3["token"].as_str().unwrap().to_string();
    let f = cli.write(
        "t3.approved.json",
        &approved(
            &t3,
            &[
                ("admin2", key("admin2").sign_token(&t3_t)),
                ("admin3", key("admin3").sign_token(&t3_t)),
            ],
        ),
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(
        cli.fail(Some("admin"), &create_cu("cu3", Some(&f))),
        REQUIRED
    );
    assert!(!cli.has_user("cu3"));

    // Token housekeeping: crypto users cannot draw admin tokens; admins delete tokens.
    cli.ok(
        Some("admin"),
        &["quorum", "token-sign", "set-timeout", "--generated", "600"],
    );
    cli.token("admin2", "user", "t4.json");
    assert_eq!(
        cli.ok(Some("admin"), &["quorum", "token-sign", "list"])["tokens"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    cli.ok(
        Some("admin"),
        &["quorum", "token-sign", "delete", "--scope", "user"],
    );
    assert_eq!(
        cli.ok(Some("admin"), &["quorum", "token-sign", "list"])["tokens"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "scope user leaves admin2's token"
    );
    cli.ok(
        Some("admin"),
        &["quorum", "token-sign", "delete", "--scope", "all"],
    );
    assert_eq!(
        cli.ok(Some("admin"), &["quorum", "token-sign", "list"]),
        json!({ "tokens": [] })
    );

    // No lock-out: the admins who could approve never drop below an admin service's value.
    let approved_token = |file: &str, signers: [&str; 2]| {
        let t = cli.token("admin", "user", file);
        let tt = t["token"].as_str().unwrap().to_string();
        let sigs: Vec<(&str, String)> = signers
            .iter()
            .map(|s| (*s, key(s).sign_token(&tt)))
            .collect();
        cli.write(&format!("{file}.approved"), &approved(&t, &sigs))
    };
    let delete_admin = |victim: &'static str, approval: &str| {
        cli.run(
            Some("admin"),
            &[
                "user",
                "delete",
                "--username",
                victim,
                "--role",
                "admin",
                "--approval",
                approval,
            ],
        )
    };
    let f = approved_token("t5.json", ["admin2", "admin3"]);
    assert_eq!(delete_admin("admin4", &f).0, 0, "admin4 had no key");
    let f = approved_token("t6.json", ["admin", "admin3"]);
    assert_eq!(
        delete_admin("admin3", &f).0,
        0,
        "two registered admins remain"
    );
    let f = approved_token("t7.json", ["admin", "admin2"]);
    let (code, v) = delete_admin("admin2", &f);
    assert_eq!(code, 1);
    let err = v["data"]["error"].as_str().unwrap();
    assert!(err.contains("fewer than the quorum value 2"), "{err}");
    assert!(cli.has_user("admin2"));

    // Every quorum action is in the audit log, and the chain verifies.
    let log = std::fs::read_to_string(cli.path("store").join("audit.log")).unwrap();
    let records: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let has = |op: &str, resp: &str| {
        records
            .iter()
            .any(|r| r["opcode"] == op && r["response"] == resp)
    };
    for (op, resp) in [
        ("CN_GET_TOKEN", "OK"),
        ("CN_REGISTER_QUORUM_PUBKEY", "OK"),
        ("CN_REGISTER_QUORUM_PUBKEY", "SignatureInvalid"),
        ("CN_SET_M_VALUE", "OK"),
        ("CN_SET_M_VALUE", "FunctionRejected"),
        ("CN_APPROVE_TOKEN", "OK"),
        ("CN_APPROVE_TOKEN", "FunctionRejected"),
        ("CN_CREATE_USER", "FunctionRejected"),
        ("CN_DELETE_TOKEN", "OK"),
        ("CN_SET_TOKEN_TIMEOUT", "OK"),
    ] {
        assert!(has(op, resp), "no {op} {resp} record");
    }
    let verdict = cli.ok(Some("admin"), &["audit", "verify"]);
    assert_eq!(verdict["status"], "ok", "{verdict}");
}

#[test]
fn crypto_users_register_but_never_draw_admin_tokens() {
    let cli = Cli::new();
    cli.ok(Some("admin"), &create_cu("cu1", None));
    let cu = [
        "--username",
        "cu1",
        "--role",
        "crypto-user",
        "--password",
        PW,
    ];
    let run = |args: &[&str]| {
        let all: Vec<&str> = cu.iter().chain(args).copied().collect();
        cli.run(None, &all)
    };
    let f = cli.file("cu.json");
    let (code, v) = run(&[
        "quorum",
        "token-sign",
        "generate",
        "--service",
        "user",
        "--token",
        &f,
    ]);
    assert_eq!(code, 1, "{v}");
    let (code, v) = run(&[
        "quorum",
        "token-sign",
        "generate",
        "--service",
        "key-usage",
        "--token",
        &f,
    ]);
    assert_eq!(code, 1, "{v}");
    assert!(v["data"]["error"]
        .as_str()
        .unwrap()
        .contains("not supported"));
    let (code, v) = run(&[
        "quorum",
        "token-sign",
        "set-quorum-value",
        "--service",
        "user",
        "--value",
        "2",
    ]);
    assert_eq!(code, 1, "{v}");

    let signer = Signer::new();
    let (code, v) = run(&[
        "quorum",
        "token-sign",
        "generate",
        "--service",
        "registration",
        "--token",
        &f,
    ]);
    assert_eq!(code, 0, "{v}");
    let mut reg = cli.read("cu.json");
    let unsigned = reg["tokens"][0]["unsigned"].as_str().unwrap().to_string();
    reg["tokens"][0]["signed"] = json!(signer.sign_token(&unsigned));
    let signed = cli.write("cu.signed.json", &reg);
    std::fs::write(cli.path("cu.pub"), signer.public_pem()).unwrap();
    let pem = cli.file("cu.pub");
    let (code, v) = run(&[
        "user",
        "change-quorum",
        "token-sign",
        "register",
        "--public-key",
        &pem,
        "--signed-token",
        &signed,
    ]);
    assert_eq!(code, 0, "{v}");
    assert!(cli.users().contains(&("cu1".to_string(), true)));

    // A crypto user's key never approves admin services, so it cannot raise M for admins.
    let err = cli.fail(
        Some("admin"),
        &[
            "quorum",
            "token-sign",
            "set-quorum-value",
            "--service",
            "user",
            "--value",
            "2",
        ],
    );
    assert!(err.contains("registered quorum key (0)"), "{err}");

    // Deleting the user deletes its registration; a new cu1 starts unregistered.
    cli.ok(
        Some("admin"),
        &[
            "user",
            "delete",
            "--username",
            "cu1",
            "--role",
            "crypto-user",
        ],
    );
    cli.ok(Some("admin"), &create_cu("cu1", None));
    assert!(cli.users().contains(&("cu1".to_string(), false)));
    let verdict = cli.ok(Some("admin"), &["audit", "verify"]);
    assert_eq!(verdict["status"], "ok");
}
