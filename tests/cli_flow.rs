#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `cloudhsm-cli` as a user runs it: the built binary on a fresh store, every step's JSON
//! checked. The main test is CloudHSM's getting-started flow (issue 4, "Must show").

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

const ADMIN_PW: &str = "admin-pw-1";
const PW: &str = "user-pw-1";

/// A fresh store and a way to run the CLI on it.
struct Cli {
    dir: tempfile::TempDir,
}

/// Who runs a command: nobody, or (user, role) with the test password.
type As<'a> = Option<(&'a str, &'a str)>;

impl Cli {
    fn new() -> Cli {
        Cli {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cloudhsm-cli"));
        c.env_remove("CLOUDHSM_ROLE")
            .env_remove("CLOUDHSM_PIN")
            .env_remove("CLOUDHSM_PKCS11_CONF")
            .env("CLOUDHSM_HOME", self.store())
            .stdin(Stdio::null());
        c
    }

    /// Run with raw arguments: (exit code, JSON).
    fn raw(&self, args: &[&str]) -> (i32, Value) {
        let out = self.command().args(args).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"));
        let code = out.status.code().unwrap();
        assert_eq!(
            v["error_code"].as_i64().unwrap(),
            i64::from(code),
            "{args:?}: exit code and error_code differ"
        );
        (code, v)
    }

    fn run(&self, who: As<'_>, args: &[&str]) -> (i32, Value) {
        let mut all: Vec<&str> = Vec::new();
        if let Some((user, role)) = who {
            let pw = if role == "admin" && user == "admin" {
                ADMIN_PW
            } else {
                PW
            };
            all.extend(["--username", user, "--role", role, "--password", pw]);
        }
        all.extend(args);
        self.raw(&all)
    }

    /// A command that must succeed: its `data`.
    fn ok(&self, who: As<'_>, args: &[&str]) -> Value {
        let (code, v) = self.run(who, args);
        assert_eq!(code, 0, "{who:?} {args:?} failed: {v}");
        v["data"].clone()
    }

    /// A command that must fail: its message.
    fn fail(&self, who: As<'_>, args: &[&str]) -> String {
        let (code, v) = self.run(who, args);
        assert_eq!(code, 1, "{who:?} {args:?} should fail: {v}");
        v["data"]["error"].as_str().unwrap().to_string()
    }

    fn audit_log(&self) -> PathBuf {
        self.store().join("audit.log")
    }

    /// An activated cluster with crypto users cu1, cu2.
    fn activated() -> Cli {
        let cli = Cli::new();
        cli.ok(None, &["cluster", "activate", "--password", ADMIN_PW]);
        for cu in ["cu1", "cu2"] {
            cli.ok(
                ADMIN,
                &[
                    "user",
                    "create",
                    "--username",
                    cu,
                    "--role",
                    "crypto-user",
                    "--password",
                    PW,
                ],
            );
        }
        cli
    }
}

const ADMIN: As<'static> = Some(("admin", "admin"));
const CU1: As<'static> = Some(("cu1", "crypto-user"));
const CU2: As<'static> = Some(("cu2", "crypto-user"));

fn reference(key: &Value) -> String {
    key["key-reference"].as_str().unwrap().to_string()
}

fn record_seq(line: &str) -> u64 {
    serde_json::from_str::<Value>(line).unwrap()["seq"]
        .as_u64()
        .unwrap()
}

#[test]
fn getting_started_flow() {
    let cli = Cli::new();

    // A fresh cluster: anyone may read its info and users; `admin` is unactivated.
    let info = cli.ok(None, &["cluster", "info"]);
    assert_eq!(info["activated"], false);
    let users = cli.ok(None, &["user", "list"]);
    assert_eq!(users["users"][0]["username"], "admin");
    assert_eq!(users["users"][0]["role"], "unactivated-admin");

    // Activate; a second activation is refused (it would wipe the cluster).
    assert_eq!(
        cli.ok(None, &["cluster", "activate", "--password", ADMIN_PW]),
        "Cluster activation successful"
    );
    assert!(cli
        .fail(None, &["cluster", "activate", "--password", ADMIN_PW])
        .contains("already activated"));
    assert_eq!(cli.ok(None, &["cluster", "info"])["activated"], true);

    // The admin creates admin2, cu1, cu2, cu3.
    for (name, role) in [
        ("admin2", "admin"),
        ("cu1", "crypto-user"),
        ("cu2", "crypto-user"),
        ("cu3", "crypto-user"),
    ] {
        let d = cli.ok(
            ADMIN,
            &[
                "user",
                "create",
                "--username",
                name,
                "--role",
                role,
                "--password",
                PW,
            ],
        );
        assert_eq!(d, serde_json::json!({"username": name, "role": role}));
    }
    let users = cli.ok(None, &["user", "list"])["users"].clone();
    let roles: Vec<(String, String)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().into(),
                u["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("admin", "admin"),
            ("admin2", "admin"),
            ("cu1", "crypto-user"),
            ("cu2", "crypto-user"),
            ("cu3", "crypto-user")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(cli
        .fail(
            ADMIN,
            &[
                "user",
                "create",
                "--username",
                "cu1",
                "--role",
                "crypto-user",
                "--password",
                PW
            ]
        )
        .contains("already exists"));
    // A crypto user cannot manage users; a wrong password is named as such.
    assert!(cli
        .fail(
            CU1,
            &[
                "user",
                "create",
                "--username",
                "x",
                "--role",
                "crypto-user",
                "--password",
                PW
            ]
        )
        .starts_with("this role cannot do that"));
    let (_, v) = cli.raw(&[
        "--username",
        "cu1",
        "--role",
        "crypto-user",
        "--password",
        "wrong-pw",
        "key",
        "list",
    ]);
    assert!(
        v["data"]["error"]
            .as_str()
            .unwrap()
            .contains("incorrect password"),
        "{v}"
    );

    // cu1 generates an RSA pair and an AES key, and shares the AES key with cu2.
    let pair = cli.ok(
        CU1,
        &[
            "key",
            "generate-asymmetric-pair",
            "rsa",
            "--public-label",
            "rsa1-pub",
            "--private-label",
            "rsa1",
            "--modulus-size-bits",
            "2048",
            "--public-exponent",
            "65537",
        ],
    );
    assert_eq!(pair["private_key"]["attributes"]["key-type"], "rsa");
    assert_eq!(pair["public_key"]["attributes"]["modulus-size-bits"], 2048);
    assert_eq!(
        pair["private_key"]["key-info"]["key-owners"][0]["username"],
        "cu1"
    );
    let rsa_ref = reference(&pair["private_key"]);
    let aes = cli.ok(
        CU1,
        &[
            "key",
            "generate-symmetric",
            "aes",
            "--label",
            "aes1",
            "--key-length-bytes",
            "32",
        ],
    )["key"]
        .clone();
    assert_eq!(aes["attributes"]["key-length-bytes"], 32);
    assert_eq!(aes["attributes"]["class"], "secret-key");
    let aes_ref = reference(&aes);
    let shared = cli.ok(
        CU1,
        &[
            "key",
            "share",
            "--filter",
            "attr.label=aes1",
            "--username",
            "cu2",
            "--role",
            "crypto-user",
        ],
    );
    assert_eq!(shared["message"], "Key shared successfully");
    let listed = cli.ok(
        CU1,
        &["key", "list", "--filter", "attr.label=aes1", "--verbose"],
    );
    assert_eq!(listed["total_key_count"], 1);
    assert_eq!(
        listed["matched_keys"][0]["key-info"]["shared-users"][0]["username"],
        "cu2"
    );
    // Filters by class and by reference; a filter that matches several keys is refused.
    let secret = cli.ok(CU1, &["key", "list", "--filter", "attr.class=secret-key"]);
    assert_eq!(secret["matched_keys"][0]["key-reference"], aes_ref.as_str());
    let by_ref = cli.ok(
        CU1,
        &[
            "key",
            "list",
            "--filter",
            &format!("key-reference={aes_ref}"),
        ],
    );
    assert_eq!(by_ref["matched_keys"][0]["attributes"]["label"], "aes1");
    assert!(cli
        .fail(CU1, &["key", "delete", "--filter", "attr.key-type=rsa"])
        .contains("matches 2 keys"));
    // cu3 sees neither secret key (only the public one).
    let cu3 = cli.ok(Some(("cu3", "crypto-user")), &["key", "list"]);
    assert_eq!(cu3["total_key_count"], 1);
    assert_eq!(cu3["matched_keys"][0]["attributes"]["label"], "rsa1-pub");

    // cu2 encrypts with the shared key (and decrypts).
    let enc = cli.ok(
        CU2,
        &[
            "crypto",
            "encrypt",
            "aes-gcm",
            "--key-filter",
            "attr.label=aes1",
            "--data",
            "hello, cloudhsm",
        ],
    );
    let iv = enc["iv"].as_str().unwrap();
    let ct = enc["data"].as_str().unwrap();
    let dec = cli.ok(
        CU2,
        &[
            "crypto",
            "decrypt",
            "aes-gcm",
            "--key-filter",
            "attr.label=aes1",
            "--iv",
            iv,
            "--data",
            ct,
        ],
    );
    assert_eq!(dec["data"], "aGVsbG8sIGNsb3VkaHNt"); // base64("hello, cloudhsm")

    // ...but cannot delete, wrap or re-share it.
    let msg = cli.fail(CU2, &["key", "delete", "--filter", "attr.label=aes1"]);
    assert_eq!(
        msg,
        "key delete: not permitted for this user: only the key's owner may delete it"
    );
    cli.ok(
        CU2,
        &[
            "key",
            "generate-symmetric",
            "aes",
            "--label",
            "cu2-wrap",
            "--key-length-bytes",
            "32",
        ],
    );
    let msg = cli.fail(
        CU2,
        &[
            "key",
            "wrap",
            "aes-key-wrap",
            "--payload-filter",
            "attr.label=aes1",
            "--wrapping-filter",
            "attr.label=cu2-wrap",
        ],
    );
    assert!(
        msg.starts_with(
            "key wrap: this key cannot be wrapped by this user (only its owner may wrap it"
        ),
        "{msg}"
    );
    let msg = cli.fail(
        CU2,
        &[
            "key",
            "share",
            "--filter",
            "attr.label=aes1",
            "--username",
            "cu3",
            "--role",
            "crypto-user",
        ],
    );
    assert_eq!(
        msg,
        "key share: not permitted for this user: only the key's owner may share or unshare it"
    );
    let msg = cli.fail(
        CU2,
        &[
            "key",
            "set-attribute",
            "--filter",
            "attr.label=aes1",
            "--name",
            "label",
            "--value",
            "mine",
        ],
    );
    assert!(msg.contains("only the key's owner may change it"), "{msg}");
    // The owner can wrap it.
    let wrapped = cli.ok(
        CU1,
        &[
            "key",
            "wrap",
            "aes-gcm",
            "--payload-filter",
            "attr.label=aes1",
            "--wrapping-filter",
            "attr.label=aes1",
        ],
    );
    assert!(wrapped["wrapped_key_data"].as_str().unwrap().len() > 40);

    // A sharee signs with a shared RSA key; the public key verifies.
    cli.ok(
        CU1,
        &[
            "key",
            "share",
            "--filter",
            "attr.label=rsa1",
            "--username",
            "cu2",
            "--role",
            "crypto-user",
        ],
    );
    let sig = cli.ok(
        CU2,
        &[
            "crypto",
            "sign",
            "rsa-pkcs",
            "--key-filter",
            "attr.label=rsa1",
            "--hash-function",
            "sha256",
            "--data",
            "aGk=",
        ],
    );
    assert_eq!(sig["key-reference"], rsa_ref.as_str());
    let s = sig["signature"].as_str().unwrap();
    let ok = cli.ok(
        CU1,
        &[
            "crypto",
            "verify",
            "rsa-pkcs",
            "--key-filter",
            "attr.label=rsa1-pub",
            "--hash-function",
            "sha256",
            "--data",
            "aGk=",
            "--signature",
            s,
        ],
    );
    assert_eq!(ok["message"], "Signature verified successfully");
    let bad = cli.fail(
        CU1,
        &[
            "crypto",
            "verify",
            "rsa-pkcs",
            "--key-filter",
            "attr.label=rsa1-pub",
            "--hash-function",
            "sha256",
            "--data",
            "aGo=",
            "--signature",
            s,
        ],
    );
    assert!(bad.contains("signature is invalid"), "{bad}");

    // The admin sees key metadata but cannot sign.
    let all = cli.ok(ADMIN, &["key", "list"]);
    assert_eq!(all["total_key_count"], 4);
    let msg = cli.fail(
        ADMIN,
        &[
            "crypto",
            "sign",
            "rsa-pkcs",
            "--key-filter",
            "attr.label=rsa1",
            "--hash-function",
            "sha256",
            "--data",
            "aGk=",
        ],
    );
    assert!(
        msg.starts_with("crypto sign: this role cannot do that"),
        "{msg}"
    );

    // Deleting cu1 while it owns keys fails; cu1 deletes the AES key.
    let msg = cli.fail(
        ADMIN,
        &[
            "user",
            "delete",
            "--username",
            "cu1",
            "--role",
            "crypto-user",
        ],
    );
    assert_eq!(
        msg,
        "cannot delete cu1: it still owns 3 key(s); its keys must be deleted first"
    );
    assert!(cli
        .fail(
            ADMIN,
            &["user", "delete", "--username", "cu1", "--role", "admin"]
        )
        .contains("not a admin"));
    let del = cli.ok(CU1, &["key", "delete", "--filter", "attr.label=aes1"]);
    assert_eq!(del["key-reference"], aes_ref.as_str());
    assert_eq!(
        cli.ok(CU1, &["key", "list", "--filter", "attr.label=aes1"])["total_key_count"],
        0
    );
    assert_eq!(
        cli.ok(CU2, &["key", "list", "--filter", "attr.label=aes1"])["total_key_count"],
        0
    );
    // A user without keys can go; so can an admin who is not the last.
    cli.ok(
        ADMIN,
        &[
            "user",
            "delete",
            "--username",
            "cu3",
            "--role",
            "crypto-user",
        ],
    );
    cli.ok(
        ADMIN,
        &["user", "delete", "--username", "admin2", "--role", "admin"],
    );

    // The audit chain verifies.
    let v = cli.ok(CU1, &["audit", "verify"]);
    assert_eq!(v["status"], "ok");
    assert!(v["records"].as_u64().unwrap() > 30, "{v}");
    let info = cli.ok(None, &["cluster", "info"]);
    assert_eq!(info["users"], 3);

    // Flip one digit of a key reference inside a record: verify names that record.
    let text = std::fs::read_to_string(cli.audit_log()).unwrap();
    let target = text
        .lines()
        .find(|l| {
            l.contains("CN_DESTROY_OBJECT")
                && l.contains(&aes_ref)
                && l.contains("\"response\":\"OK\"")
        })
        .expect("the delete of the AES key is audited")
        .to_string();
    let seq = record_seq(&target);
    let digit = &aes_ref[aes_ref.len() - 1..];
    let flipped_digit = if digit == "0" { "1" } else { "0" };
    let forged = target.replace(
        &aes_ref,
        &format!("{}{flipped_digit}", &aes_ref[..aes_ref.len() - 1]),
    );
    assert_eq!(forged.len(), target.len());
    std::fs::write(cli.audit_log(), text.replacen(&target, &forged, 1)).unwrap();
    let (code, v) = cli.run(CU1, &["audit", "verify"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["data"]["sequence-number"], seq);
    assert_eq!(v["data"]["status"], "bad");
    let msg = v["data"]["error"].as_str().unwrap();
    assert!(
        msg.contains(&format!("record {seq}")) && msg.contains("forged"),
        "{msg}"
    );

    // Put it back: ok again (the records appended since chain on).
    let now = std::fs::read_to_string(cli.audit_log()).unwrap();
    std::fs::write(cli.audit_log(), now.replacen(&forged, &target, 1)).unwrap();
    assert_eq!(cli.ok(CU1, &["audit", "verify"])["status"], "ok");

    // Delete one line: verify reports the gap.
    let now = std::fs::read_to_string(cli.audit_log()).unwrap();
    let lines: Vec<&str> = now.lines().collect();
    let gone = lines.len() / 2;
    let gone_seq = record_seq(lines[gone]);
    let mut kept = lines.clone();
    kept.remove(gone);
    std::fs::write(cli.audit_log(), kept.join("\n") + "\n").unwrap();
    let (code, v) = cli.run(CU1, &["audit", "verify"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["data"]["sequence-number"], gone_seq);
    let msg = v["data"]["error"].as_str().unwrap();
    assert!(
        msg.contains(&format!("missing records {gone_seq}..{gone_seq}")),
        "{msg}"
    );
}

#[test]
fn environment_credentials_and_password_changes() {
    let cli = Cli::activated();
    let run_env = |role: &str, pin: &str, args: &[&str]| -> Value {
        let out = cli
            .command()
            .env("CLOUDHSM_ROLE", role)
            .env("CLOUDHSM_PIN", pin)
            .args(args)
            .output()
            .unwrap();
        serde_json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap()
    };
    let v = run_env(
        "crypto-user",
        &format!("cu1:{PW}"),
        &[
            "key",
            "generate-symmetric",
            "generic-secret",
            "--label",
            "g1",
            "--key-length-bytes",
            "24",
        ],
    );
    assert_eq!(v["error_code"], 0, "{v}");
    assert_eq!(v["data"]["key"]["attributes"]["key-type"], "generic-secret");
    let v = run_env("crypto-user", "no-colon", &["key", "list"]);
    assert_eq!(v["data"]["error"], "CLOUDHSM_PIN must be user:password");
    let v = run_env("crypto-user", "cu1:bad-password", &["key", "list"]);
    assert!(
        v["data"]["error"]
            .as_str()
            .unwrap()
            .starts_with("login as cu1: incorrect password"),
        "{v}"
    );

    // Own password (the login password proves it), then an admin reset.
    cli.ok(
        CU1,
        &[
            "user",
            "change-password",
            "--username",
            "cu1",
            "--role",
            "crypto-user",
            "--password",
            "new-pw-22",
        ],
    );
    cli.fail(CU1, &["key", "list"]);
    let (code, _) = cli.raw(&[
        "--username",
        "cu1",
        "--role",
        "crypto-user",
        "--password",
        "new-pw-22",
        "key",
        "list",
    ]);
    assert_eq!(code, 0);
    assert!(cli
        .fail(
            CU2,
            &[
                "user",
                "change-password",
                "--username",
                "cu1",
                "--role",
                "crypto-user",
                "--password",
                "x-pw-333"
            ]
        )
        .starts_with("user change-password: this role cannot do that"));
    cli.ok(
        ADMIN,
        &[
            "user",
            "change-password",
            "--username",
            "cu1",
            "--role",
            "crypto-user",
            "--password",
            PW,
        ],
    );
    cli.ok(CU1, &["key", "list"]);

    // Without credentials, key commands say how to log in.
    assert!(cli
        .fail(
            None,
            &[
                "key",
                "generate-symmetric",
                "aes",
                "--label",
                "x",
                "--key-length-bytes",
                "16"
            ]
        )
        .contains("not logged in"));
    // Usage errors are JSON too.
    assert!(cli
        .fail(None, &["key", "bogus"])
        .contains("unknown command"));
    assert!(cli
        .fail(None, &["user", "create", "--role", "admin"])
        .contains("needs --username"));
    assert!(cli
        .fail(Some(("cu1", "wizard")), &["key", "list"])
        .contains("unknown role"));
}

#[test]
fn pem_import_export_wrap_unwrap_and_signatures() {
    let cli = Cli::activated();
    let dir = cli.dir.path();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();

    // EC pair on each curve; ECDSA and PSS round trips.
    for curve in ["prime256v1", "secp384r1", "secp521r1", "secp256k1"] {
        let pair = cli.ok(
            CU1,
            &[
                "key",
                "generate-asymmetric-pair",
                "ec",
                "--curve",
                curve,
                "--public-label",
                &format!("{curve}-pub"),
                "--private-label",
                curve,
            ],
        );
        assert_eq!(pair["public_key"]["attributes"]["curve"], curve);
        let sig = cli.ok(
            CU1,
            &[
                "crypto",
                "sign",
                "ecdsa",
                "--key-filter",
                &format!("attr.label={curve}"),
                "--hash-function",
                "sha384",
                "--data",
                "plain text",
            ],
        );
        let s = sig["signature"].as_str().unwrap();
        cli.ok(
            CU1,
            &[
                "crypto",
                "verify",
                "ecdsa",
                "--key-filter",
                &format!("attr.label={curve}-pub"),
                "--hash-function",
                "sha384",
                "--data",
                "plain text",
                "--signature",
                s,
            ],
        );
    }
    cli.ok(
        CU1,
        &[
            "key",
            "generate-asymmetric-pair",
            "rsa",
            "--public-label",
            "r-pub",
            "--private-label",
            "r",
            "--modulus-size-bits",
            "2048",
            "--public-exponent",
            "65537",
            "--private-attributes",
            "extractable=true",
            "id=0x0102",
            "--share-crypto-users",
            "cu2",
        ],
    );
    std::fs::write(p("data.bin"), b"file data").unwrap();
    let sig = cli.ok(
        CU2,
        &[
            "crypto",
            "sign",
            "rsa-pkcs-pss",
            "--key-filter",
            "attr.id=0x0102",
            "--hash-function",
            "sha512",
            "--data-path",
            &p("data.bin"),
        ],
    );
    let s = sig["signature"].as_str().unwrap();
    cli.ok(
        CU1,
        &[
            "crypto",
            "verify",
            "rsa-pkcs-pss",
            "--key-filter",
            "attr.label=r-pub",
            "--hash-function",
            "sha512",
            "--data-path",
            &p("data.bin"),
            "--signature",
            s,
        ],
    );

    // Export the public key as PEM and import it again; both verify the same signature.
    cli.ok(
        CU1,
        &[
            "key",
            "generate-file",
            "--encoding",
            "pem",
            "--path",
            &p("r.pem"),
            "--filter",
            "attr.label=r",
        ],
    );
    let pem = std::fs::read_to_string(p("r.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let imported = cli.ok(
        CU2,
        &[
            "key",
            "import",
            "pem",
            "--path",
            &p("r.pem"),
            "--label",
            "r-imported",
            "--key-type-class",
            "rsa-public",
        ],
    );
    assert_eq!(imported["key"]["attributes"]["class"], "public-key");
    cli.ok(
        CU2,
        &[
            "crypto",
            "verify",
            "rsa-pkcs-pss",
            "--key-filter",
            "attr.label=r-imported",
            "--hash-function",
            "sha512",
            "--data-path",
            &p("data.bin"),
            "--signature",
            s,
        ],
    );
    assert!(cli
        .fail(
            CU2,
            &[
                "key",
                "import",
                "pem",
                "--path",
                &p("r.pem"),
                "--label",
                "x",
                "--key-type-class",
                "ec-public"
            ]
        )
        .contains("not a valid ec-public key"));
    assert!(cli
        .fail(
            CU2,
            &[
                "key",
                "import",
                "pem",
                "--path",
                &p("r.pem"),
                "--label",
                "x",
                "--key-type-class",
                "rsa-private"
            ]
        )
        .contains("needs 'PRIVATE KEY'"));
    let sym = cli.ok(
        CU1,
        &[
            "key",
            "generate-symmetric",
            "aes",
            "--label",
            "kek",
            "--key-length-bytes",
            "16",
        ],
    );
    assert_eq!(sym["key"]["attributes"]["key-length-bytes"], 16);
    assert!(cli
        .fail(
            CU1,
            &[
                "key",
                "generate-file",
                "--encoding",
                "pem",
                "--path",
                &p("x.pem"),
                "--filter",
                "attr.label=kek"
            ]
        )
        .contains("no public key"));

    // Wrap the RSA private key under the AES key (RFC 5649), write it to a file, unwrap it.
    let w = cli.ok(
        CU1,
        &[
            "key",
            "wrap",
            "aes-key-wrap-pad",
            "--payload-filter",
            "attr.label=r",
            "--wrapping-filter",
            "attr.label=kek",
            "--path",
            &p("r.wrapped"),
        ],
    );
    assert!(w.get("wrapped_key_data").is_none());
    let u = cli.ok(
        CU1,
        &[
            "key",
            "unwrap",
            "aes-key-wrap-pad",
            "--filter",
            "attr.label=kek",
            "--key-type-class",
            "rsa-private",
            "--label",
            "r2",
            "--data-path",
            &p("r.wrapped"),
        ],
    );
    assert_eq!(u["key"]["attributes"]["local"], false);
    let sig2 = cli.ok(
        CU1,
        &[
            "crypto",
            "sign",
            "rsa-pkcs",
            "--key-filter",
            "attr.label=r2",
            "--hash-function",
            "sha256",
            "--data",
            "x",
        ],
    );
    cli.ok(
        CU1,
        &[
            "crypto",
            "verify",
            "rsa-pkcs",
            "--key-filter",
            "attr.label=r-pub",
            "--hash-function",
            "sha256",
            "--data",
            "x",
            "--signature",
            sig2["signature"].as_str().unwrap(),
        ],
    );

    // An AES key through AES-GCM and RSA-OAEP.
    cli.ok(
        CU1,
        &[
            "key",
            "generate-symmetric",
            "aes",
            "--label",
            "data-key",
            "--key-length-bytes",
            "32",
        ],
    );
    let w = cli.ok(
        CU1,
        &[
            "key",
            "wrap",
            "aes-gcm",
            "--payload-filter",
            "attr.label=data-key",
            "--wrapping-filter",
            "attr.label=kek",
            "--aad",
            "0x0a0b",
        ],
    );
    let iv = w["iv"].as_str().unwrap();
    let data = w["wrapped_key_data"].as_str().unwrap();
    let u = cli.ok(
        CU1,
        &[
            "key",
            "unwrap",
            "aes-gcm",
            "--filter",
            "attr.label=kek",
            "--key-type-class",
            "aes",
            "--label",
            "data-key-2",
            "--data",
            data,
            "--iv",
            iv,
            "--aad",
            "0x0a0b",
            "--session",
        ],
    );
    assert_eq!(u["key"]["attributes"]["token"], false);
    assert!(cli
        .fail(
            CU1,
            &[
                "key",
                "unwrap",
                "aes-gcm",
                "--filter",
                "attr.label=kek",
                "--key-type-class",
                "aes",
                "--label",
                "bad",
                "--data",
                data,
                "--iv",
                iv
            ]
        )
        .contains("wrapped key data is invalid"));
    let w = cli.ok(
        CU1,
        &[
            "key",
            "wrap",
            "rsa-oaep",
            "--payload-filter",
            "attr.label=data-key",
            "--wrapping-filter",
            "attr.label=r-pub",
            "--hash-function",
            "sha256",
        ],
    );
    let data = w["wrapped_key_data"].as_str().unwrap();
    let u = cli.ok(
        CU1,
        &[
            "key",
            "unwrap",
            "rsa-oaep",
            "--filter",
            "attr.label=r",
            "--key-type-class",
            "aes",
            "--label",
            "data-key-3",
            "--data",
            data,
        ],
    );
    assert_eq!(
        u["key"]["attributes"]["check-value"],
        cli.ok(
            CU1,
            &[
                "key",
                "list",
                "--filter",
                "attr.label=data-key",
                "--verbose"
            ]
        )["matched_keys"][0]["attributes"]["check-value"]
    );

    // set-attribute by the owner; paging through key list.
    cli.ok(
        CU1,
        &[
            "key",
            "set-attribute",
            "--filter",
            "attr.label=data-key-3",
            "--name",
            "label",
            "--value",
            "renamed",
        ],
    );
    assert_eq!(
        cli.ok(CU1, &["key", "list", "--filter", "attr.label=renamed"])["total_key_count"],
        1
    );
    let page1 = cli.ok(CU1, &["key", "list", "--max-items", "4"]);
    let total = page1["total_key_count"].as_u64().unwrap();
    assert_eq!(page1["returned_key_count"], 4);
    let mut seen = 4;
    let mut token = page1["next_token"].as_str().map(str::to_string);
    while let Some(t) = token {
        let page = cli.ok(
            CU1,
            &["key", "list", "--max-items", "4", "--starting-token", &t],
        );
        seen += page["returned_key_count"].as_u64().unwrap();
        token = page["next_token"].as_str().map(str::to_string);
    }
    assert_eq!(seen, total);
}

/// The shell reads one command per line from a pipe; login state lasts across lines.
#[test]
fn shell_reads_commands_from_standard_input() {
    let cli = Cli::activated();
    let mut child = cli
        .command()
        .arg("interactive")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!(
        "# a comment\nuser list\nlogin --username cu1 --role crypto-user --password {PW}\n\
         key generate-symmetric aes --label 'shell key' --key-length-bytes 16\n\
         key list --filter \"attr.label=shell key\"\nlogin --username cu2 --role crypto-user --password {PW}\n\
         logout\nkey generate-symmetric aes --label y --key-length-bytes 16\nbogus\nhelp\nquit\nuser list\n"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (json_part, help_part) = text.split_at(text.find("Usage:").unwrap());
    let docs: Vec<Value> = serde_json::Deserializer::from_str(json_part)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect();
    let codes: Vec<i64> = docs
        .iter()
        .map(|d| d["error_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [0, 0, 0, 0, 1, 0, 1, 1], "{text}");
    assert_eq!(docs[1]["data"]["username"], "cu1");
    assert_eq!(docs[3]["data"]["total_key_count"], 1);
    assert!(docs[4]["data"]["error"]
        .as_str()
        .unwrap()
        .contains("already logged in"));
    assert!(docs[6]["data"]["error"]
        .as_str()
        .unwrap()
        .contains("not logged in"));
    assert!(docs[7]["data"]["error"]
        .as_str()
        .unwrap()
        .contains("unknown command"));
    assert!(help_part.contains("quit | exit"));
    // Nothing after `quit` ran.
    assert!(!help_part.contains("\"error_code\""));
}

/// Several clusters in one configuration: `--cluster` picks one; each has its own users.
#[test]
fn cluster_selection() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("cloudhsm.toml");
    let store = |n: &str| dir.path().join(n);
    std::fs::write(
        &conf,
        format!("[[cluster]]\nname = \"a\"\nstore = \"{}\"\n[[cluster]]\nname = \"b\"\nstore = \"{}\"\n", store("a").display(), store("b").display()),
    )
    .unwrap();
    let run = |args: &[&str]| -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_cloudhsm-cli"))
            .env_remove("CLOUDHSM_ROLE")
            .env_remove("CLOUDHSM_PIN")
            .env("CLOUDHSM_PKCS11_CONF", &conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        serde_json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap()
    };
    assert!(run(&["user", "list"])["data"]["error"]
        .as_str()
        .unwrap()
        .contains("choose one with --cluster"));
    assert_eq!(
        run(&[
            "--cluster",
            "a",
            "cluster",
            "activate",
            "--password",
            ADMIN_PW
        ])["error_code"],
        0
    );
    assert_eq!(
        run(&["--cluster", "a", "user", "list"])["data"]["users"][0]["role"],
        "admin"
    );
    assert_eq!(
        run(&["--cluster", "b", "user", "list"])["data"]["users"][0]["role"],
        "unactivated-admin"
    );
    assert!(run(&["--cluster", "c", "user", "list"])["data"]["error"]
        .as_str()
        .unwrap()
        .contains("configured: a, b"));
    // --store overrides the store directory.
    let other = store("c");
    let v = run(&["--store", other.to_str().unwrap(), "cluster", "info"]);
    assert_eq!(v["data"]["store"], other.to_str().unwrap());
    assert!(Path::new(&other).exists());
}
