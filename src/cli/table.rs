//! The command table: every verb, its options and the function that runs it. Parsing,
//! `help` and tab completion all read this one table.

use serde_json::Value;

use super::args::Args;
use super::client::Client;
use super::errors::Failure;
use super::{crypto_ops, keys, management, quorum};

/// How many values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arity {
    /// `--verbose`
    Switch,
    /// `--label x`
    One,
    /// `--filter a=1 b=2` (values up to the next `--option`; the option may repeat)
    Many,
}

/// One option of a command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag {
    pub(crate) name: &'static str,
    pub(crate) arity: Arity,
    pub(crate) required: bool,
    pub(crate) help: &'static str,
}

const fn opt(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        arity: Arity::One,
        required: false,
        help,
    }
}
const fn req(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        arity: Arity::One,
        required: true,
        help,
    }
}
const fn switch(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        arity: Arity::Switch,
        required: false,
        help,
    }
}
const fn many(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        arity: Arity::Many,
        required: false,
        help,
    }
}
const fn many_req(name: &'static str, help: &'static str) -> Flag {
    Flag {
        name,
        arity: Arity::Many,
        required: true,
        help,
    }
}

/// What a command runs: the client (connection, session, login) and the parsed options.
pub(crate) type Handler = fn(&mut Client, &Args) -> Result<Value, Failure>;

/// One command.
pub(crate) struct Command {
    pub(crate) path: &'static [&'static str],
    pub(crate) summary: &'static str,
    pub(crate) flags: &'static [Flag],
    pub(crate) run: Handler,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Command({})", self.path.join(" "))
    }
}

const FILTER_HELP: &str = "attr.<name>=<value> ... and/or key-reference=0x<hex> (all must match)";
const USERNAME: Flag = req("username", "user name: 1-31 of A-Z a-z 0-9 _");
const ROLE: Flag = req("role", "admin | crypto-user");
const PASSWORD: Flag = opt(
    "password",
    "the password (asked without echo if omitted on a terminal)",
);
const FILTER: Flag = many_req("filter", FILTER_HELP);
const SESSION: Flag = switch("session", "a session key: gone when this CLI session ends");
const ATTRIBUTES: Flag = many(
    "attributes",
    "<name>=<value> ... extra attributes, e.g. extractable=false id=0x01",
);
const SHARE: Flag = many(
    "share-crypto-users",
    "crypto users to share the new key with",
);
const PATH_OUT: Flag = opt("path", "write the result to this file");
const DATA: Flag = opt("data", "input: base64 (plain text if it is not base64)");
const DATA_PATH: Flag = opt("data-path", "input: a file (raw bytes)");
const DATA_TYPE: Flag = opt(
    "data-type",
    "raw (default: hashed here) | digest (already hashed)",
);
const HASH: Flag = req("hash-function", "sha1 | sha224 | sha256 | sha384 | sha512");
const MGF: Flag = opt(
    "mgf",
    "mgf1-sha1 ... mgf1-sha512 (default: the hash function's)",
);
const SALT: Flag = opt(
    "salt-length",
    "PSS salt length in bytes (default: the hash length)",
);
const KEY_FILTER: Flag = many_req("key-filter", FILTER_HELP);
const SIGNATURE: Flag = opt("signature", "the signature, base64");
const SIGNATURE_PATH: Flag = opt("signature-path", "the signature, a file (raw bytes)");
const AAD: Flag = opt("aad", "additional authenticated data, hex");
const TAG_BITS: Flag = opt("tag-length-bits", "GCM tag length (default 128)");
const IV: Flag = req("iv", "the IV printed by encrypt/wrap, hex");
const PAYLOAD: Flag = many_req(
    "payload-filter",
    "the key to wrap: attr.<name>=<value> ... or key-reference=0x...",
);
const WRAPPING: Flag = many_req(
    "wrapping-filter",
    "the wrapping key: attr.<name>=<value> ... or key-reference=0x...",
);
const OAEP_HASH: Flag = opt(
    "hash-function",
    "OAEP hash: sha1 ... sha512 (default sha256)",
);
const KEY_TYPE_CLASS_UNWRAP: Flag = req(
    "key-type-class",
    "aes | generic-secret | rsa-private | ec-private",
);
const LABEL: Flag = req("label", "the new key's label");

const SIGN_FLAGS: &[Flag] = &[KEY_FILTER, HASH, DATA, DATA_PATH, DATA_TYPE];
const SIGN_PSS_FLAGS: &[Flag] = &[KEY_FILTER, HASH, DATA, DATA_PATH, DATA_TYPE, MGF, SALT];
const VERIFY_FLAGS: &[Flag] = &[
    KEY_FILTER,
    HASH,
    DATA,
    DATA_PATH,
    DATA_TYPE,
    SIGNATURE,
    SIGNATURE_PATH,
];
const VERIFY_PSS_FLAGS: &[Flag] = &[
    KEY_FILTER,
    HASH,
    DATA,
    DATA_PATH,
    DATA_TYPE,
    SIGNATURE,
    SIGNATURE_PATH,
    MGF,
    SALT,
];
const WRAP_FLAGS: &[Flag] = &[PAYLOAD, WRAPPING, PATH_OUT];
const WRAP_GCM_FLAGS: &[Flag] = &[PAYLOAD, WRAPPING, PATH_OUT, AAD, TAG_BITS];
const WRAP_OAEP_FLAGS: &[Flag] = &[PAYLOAD, WRAPPING, PATH_OUT, OAEP_HASH, MGF];
const UNWRAP_COMMON: [Flag; 8] = [
    FILTER,
    KEY_TYPE_CLASS_UNWRAP,
    LABEL,
    DATA,
    DATA_PATH,
    SESSION,
    ATTRIBUTES,
    SHARE,
];
const UNWRAP_FLAGS: &[Flag] = &UNWRAP_COMMON;
const UNWRAP_GCM_FLAGS: &[Flag] = &[
    FILTER,
    KEY_TYPE_CLASS_UNWRAP,
    LABEL,
    DATA,
    DATA_PATH,
    SESSION,
    ATTRIBUTES,
    SHARE,
    IV,
    AAD,
    TAG_BITS,
];
const UNWRAP_OAEP_FLAGS: &[Flag] = &[
    FILTER,
    KEY_TYPE_CLASS_UNWRAP,
    LABEL,
    DATA,
    DATA_PATH,
    SESSION,
    ATTRIBUTES,
    SHARE,
    OAEP_HASH,
    MGF,
];
const SYMMETRIC_FLAGS: &[Flag] = &[
    LABEL,
    req(
        "key-length-bytes",
        "aes: 16, 24 or 32; generic-secret: 1-800",
    ),
    SESSION,
    ATTRIBUTES,
    SHARE,
];
const PAIR_COMMON: [Flag; 6] = [
    req("public-label", "the public key's label"),
    req("private-label", "the private key's label"),
    SESSION,
    many("public-attributes", "<name>=<value> ... for the public key"),
    many(
        "private-attributes",
        "<name>=<value> ... for the private key",
    ),
    SHARE,
];
const PAIR_RSA_FLAGS: &[Flag] = &[
    PAIR_COMMON[0],
    PAIR_COMMON[1],
    PAIR_COMMON[2],
    PAIR_COMMON[3],
    PAIR_COMMON[4],
    PAIR_COMMON[5],
    req("modulus-size-bits", "2048 ... 8192"),
    req("public-exponent", "e.g. 65537"),
];
const PAIR_EC_FLAGS: &[Flag] = &[
    PAIR_COMMON[0],
    PAIR_COMMON[1],
    PAIR_COMMON[2],
    PAIR_COMMON[3],
    PAIR_COMMON[4],
    PAIR_COMMON[5],
    req("curve", "prime256v1 | secp384r1 | secp521r1 | secp256k1"),
];
const SHARE_FLAGS: &[Flag] = &[FILTER, USERNAME, req("role", "crypto-user")];
const APPROVAL: Flag = opt(
    "approval",
    "a quorum token file signed by enough approvers (needed while the service's quorum value is above 1)",
);
const SERVICE: Flag = req(
    "service",
    "user | quorum | registration (key-management | key-usage: not supported)",
);

/// Every command, in the order `help` lists them.
pub(crate) static COMMANDS: &[Command] = &[
    Command {
        path: &["cluster", "activate"],
        summary: "activate a new cluster: set the password of user `admin`",
        flags: &[opt(
            "password",
            "the admin password (asked without echo if omitted on a terminal)",
        )],
        run: management::cluster_activate,
    },
    Command {
        path: &["cluster", "info"],
        summary: "cluster facts and operation counters (no login needed)",
        flags: &[],
        run: management::cluster_info,
    },
    Command {
        path: &["login"],
        summary: "log in as an admin or a crypto user",
        flags: &[USERNAME, ROLE, PASSWORD],
        run: management::login,
    },
    Command {
        path: &["logout"],
        summary: "log out",
        flags: &[],
        run: management::logout,
    },
    Command {
        path: &["user", "create"],
        summary: "create a user (admins)",
        flags: &[USERNAME, ROLE, PASSWORD, APPROVAL],
        run: management::user_create,
    },
    Command {
        path: &["user", "delete"],
        summary: "delete a user (admins; not while logged in or owning keys; not the last admin)",
        flags: &[USERNAME, ROLE, APPROVAL],
        run: management::user_delete,
    },
    Command {
        path: &["user", "list"],
        summary: "list users (no login needed)",
        flags: &[],
        run: management::user_list,
    },
    Command {
        path: &["user", "change-password"],
        summary: "change your own password, or anyone's as an admin (clears a lockout)",
        flags: &[
            USERNAME,
            ROLE,
            PASSWORD,
            opt(
                "old-password",
                "your current password (default: the one you logged in with)",
            ),
            APPROVAL,
        ],
        run: management::user_change_password,
    },
    Command {
        path: &["key", "list"],
        summary:
            "list keys: yours, those shared with you and public keys (admins: every key's metadata)",
        flags: &[
            many("filter", FILTER_HELP),
            opt("max-items", "page size (default 10)"),
            opt("starting-token", "the next_token of the previous page"),
            switch(
                "verbose",
                "show owners, sharing and every non-secret attribute",
            ),
        ],
        run: keys::list,
    },
    Command {
        path: &["key", "delete"],
        summary: "delete a key (its owner)",
        flags: &[FILTER],
        run: keys::delete,
    },
    Command {
        path: &["key", "share"],
        summary: "share a key with a crypto user (its owner)",
        flags: SHARE_FLAGS,
        run: keys::share,
    },
    Command {
        path: &["key", "unshare"],
        summary: "stop sharing a key with a crypto user (its owner)",
        flags: SHARE_FLAGS,
        run: keys::unshare,
    },
    Command {
        path: &["key", "set-attribute"],
        summary: "change one attribute of a key (its owner; `trusted` by an admin)",
        flags: &[
            FILTER,
            req("name", "attribute name, e.g. label, trusted, decrypt"),
            req("value", "new value"),
        ],
        run: keys::set_attribute,
    },
    Command {
        path: &["key", "generate-symmetric", "aes"],
        summary: "generate an AES key",
        flags: SYMMETRIC_FLAGS,
        run: keys::generate_symmetric,
    },
    Command {
        path: &["key", "generate-symmetric", "generic-secret"],
        summary: "generate a generic secret (HMAC) key",
        flags: SYMMETRIC_FLAGS,
        run: keys::generate_symmetric,
    },
    Command {
        path: &["key", "generate-asymmetric-pair", "rsa"],
        summary: "generate an RSA key pair",
        flags: PAIR_RSA_FLAGS,
        run: keys::generate_pair,
    },
    Command {
        path: &["key", "generate-asymmetric-pair", "ec"],
        summary: "generate an EC key pair",
        flags: PAIR_EC_FLAGS,
        run: keys::generate_pair,
    },
    Command {
        path: &["key", "import", "pem"],
        summary: "import a PEM key (PUBLIC KEY or unencrypted PKCS#8 PRIVATE KEY)",
        flags: &[
            req("path", "the PEM file"),
            LABEL,
            req(
                "key-type-class",
                "rsa-public | ec-public | rsa-private | ec-private",
            ),
            SESSION,
            ATTRIBUTES,
        ],
        run: keys::import_pem,
    },
    Command {
        path: &["key", "generate-file"],
        summary: "write a key's public key to a file",
        flags: &[
            req("encoding", "pem"),
            req("path", "the file to write"),
            FILTER,
        ],
        run: keys::generate_file,
    },
    Command {
        path: &["key", "wrap", "aes-gcm"],
        summary: "wrap a key with AES-GCM",
        flags: WRAP_GCM_FLAGS,
        run: keys::wrap,
    },
    Command {
        path: &["key", "wrap", "aes-key-wrap"],
        summary: "wrap a key with AES key wrap (RFC 3394)",
        flags: WRAP_FLAGS,
        run: keys::wrap,
    },
    Command {
        path: &["key", "wrap", "aes-key-wrap-pad"],
        summary: "wrap a key with AES key wrap with padding (RFC 5649)",
        flags: WRAP_FLAGS,
        run: keys::wrap,
    },
    Command {
        path: &["key", "wrap", "rsa-oaep"],
        summary: "wrap a key with RSA-OAEP (wrapping key: a public key)",
        flags: WRAP_OAEP_FLAGS,
        run: keys::wrap,
    },
    Command {
        path: &["key", "unwrap", "aes-gcm"],
        summary: "unwrap a key with AES-GCM",
        flags: UNWRAP_GCM_FLAGS,
        run: keys::unwrap,
    },
    Command {
        path: &["key", "unwrap", "aes-key-wrap"],
        summary: "unwrap a key with AES key wrap (RFC 3394)",
        flags: UNWRAP_FLAGS,
        run: keys::unwrap,
    },
    Command {
        path: &["key", "unwrap", "aes-key-wrap-pad"],
        summary: "unwrap a key with AES key wrap with padding (RFC 5649)",
        flags: UNWRAP_FLAGS,
        run: keys::unwrap,
    },
    Command {
        path: &["key", "unwrap", "rsa-oaep"],
        summary: "unwrap a key with RSA-OAEP (unwrapping key: a private key)",
        flags: UNWRAP_OAEP_FLAGS,
        run: keys::unwrap,
    },
    Command {
        path: &["crypto", "sign", "rsa-pkcs"],
        summary: "sign with RSA PKCS #1 v1.5",
        flags: SIGN_FLAGS,
        run: crypto_ops::sign,
    },
    Command {
        path: &["crypto", "sign", "rsa-pkcs-pss"],
        summary: "sign with RSA-PSS",
        flags: SIGN_PSS_FLAGS,
        run: crypto_ops::sign,
    },
    Command {
        path: &["crypto", "sign", "ecdsa"],
        summary: "sign with ECDSA (signature r||s)",
        flags: SIGN_FLAGS,
        run: crypto_ops::sign,
    },
    Command {
        path: &["crypto", "verify", "rsa-pkcs"],
        summary: "verify an RSA PKCS #1 v1.5 signature",
        flags: VERIFY_FLAGS,
        run: crypto_ops::verify,
    },
    Command {
        path: &["crypto", "verify", "rsa-pkcs-pss"],
        summary: "verify an RSA-PSS signature",
        flags: VERIFY_PSS_FLAGS,
        run: crypto_ops::verify,
    },
    Command {
        path: &["crypto", "verify", "ecdsa"],
        summary: "verify an ECDSA signature (r||s)",
        flags: VERIFY_FLAGS,
        run: crypto_ops::verify,
    },
    Command {
        path: &["crypto", "encrypt", "aes-gcm"],
        summary: "encrypt with AES-GCM under a fresh random IV (not in AWS's CLI)",
        flags: &[KEY_FILTER, DATA, DATA_PATH, AAD, TAG_BITS],
        run: crypto_ops::encrypt,
    },
    Command {
        path: &["crypto", "decrypt", "aes-gcm"],
        summary: "decrypt with AES-GCM (not in AWS's CLI)",
        flags: &[KEY_FILTER, DATA, DATA_PATH, IV, AAD, TAG_BITS],
        run: crypto_ops::decrypt,
    },
    Command {
        path: &["audit", "verify"],
        summary: "check the audit log's chain: \"ok\" or the first bad record's sequence number",
        flags: &[],
        run: management::audit_verify,
    },
    Command {
        path: &["user", "change-quorum", "token-sign", "register"],
        summary: "register your RSA-2048 quorum public key (admins and crypto users)",
        flags: &[
            req("public-key", "the public key, a PEM file (PUBLIC KEY)"),
            req(
                "signed-token",
                "a `registration` token file signed with the matching private key",
            ),
        ],
        run: quorum::register,
    },
    Command {
        path: &["quorum", "token-sign", "generate"],
        summary: "draw a quorum token for a service and write its token file",
        flags: &[SERVICE, req("token", "the token file to write")],
        run: quorum::generate,
    },
    Command {
        path: &["quorum", "token-sign", "list"],
        summary: "live quorum tokens of the cluster",
        flags: &[],
        run: quorum::list,
    },
    Command {
        path: &["quorum", "token-sign", "list-quorum-values"],
        summary: "the quorum value of each service (no login needed)",
        flags: &[],
        run: quorum::list_values,
    },
    Command {
        path: &["quorum", "token-sign", "set-quorum-value"],
        summary: "set a service's quorum value: 1 (off) to 8 (admins)",
        flags: &[
            req("service", "user | quorum"),
            req(
                "value",
                "1 to 8, at most the admins with a registered quorum key",
            ),
            APPROVAL,
        ],
        run: quorum::set_value,
    },
    Command {
        path: &["quorum", "token-sign", "delete"],
        summary: "delete your quorum tokens, or all of them (admins)",
        flags: &[req("scope", "user (your tokens) | all")],
        run: quorum::delete,
    },
    Command {
        path: &["quorum", "token-sign", "list-timeouts"],
        summary: "token lifetimes in seconds (no login needed)",
        flags: &[],
        run: quorum::list_timeouts,
    },
    Command {
        path: &["quorum", "token-sign", "set-timeout"],
        summary: "set token lifetimes in seconds (admins)",
        flags: &[
            opt(
                "generated",
                "seconds a generated token may wait for approval",
            ),
            opt("approved", "seconds an approved token stays usable"),
        ],
        run: quorum::set_timeout,
    },
];

/// Words the interactive shell understands besides the table.
pub(crate) const SHELL_WORDS: &[&str] = &["help", "quit", "exit"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_no_path_prefixes_another() {
        for (i, a) in COMMANDS.iter().enumerate() {
            for b in &COMMANDS[i + 1..] {
                let n = a.path.len().min(b.path.len());
                assert!(
                    a.path[..n] != b.path[..n],
                    "{:?} and {:?} clash",
                    a.path,
                    b.path
                );
            }
            let mut names: Vec<&str> = a.flags.iter().map(|f| f.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), a.flags.len(), "{:?} repeats an option", a.path);
        }
    }
}
