//! `cloudhsm-cli`: the management shell, a client of the HSM core through `trait Hsm`
//! exactly like the PKCS#11 layer. It parses, calls and prints; every rule (who may create
//! users, use, share or delete keys...) is enforced in the core.
//!
//! Modes:
//! - single command: `cloudhsm-cli [global options] <command> [options]`, e.g.
//!   `cloudhsm-cli --username cu1 --role crypto-user --password pw key list`. Credentials come
//!   from `--username/--role/--password` or from `CLOUDHSM_ROLE` and `CLOUDHSM_PIN`
//!   (`user:password`); the CLI logs in, runs the command and logs out.
//! - interactive: `cloudhsm-cli interactive`, or no command on a terminal: a prompt with
//!   history and tab completion, `login`/`logout`, `help`, `quit`. Without a terminal the same
//!   shell reads one command per line from standard input.
//!
//! The store is chosen like the PKCS#11 module's (`CLOUDHSM_PKCS11_CONF`, `CLOUDHSM_HOME`);
//! `--config FILE`, `--cluster NAME` (several clusters configured) and `--store DIR` override.
//!
//! Every command prints `{"error_code": 0, "data": ...}` or
//! `{"error_code": 1, "data": {"error": "<message>"}}`; the exit code is the error code.

mod args;
mod client;
mod crypto_ops;
mod encoding;
mod errors;
mod keyattrs;
mod keys;
mod management;
mod quorum;
mod shell;
mod table;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::{Config, SlotConfig};
use crate::hsm::api::Secret;

use args::{parse_command, parse_global, Global, Parsed};
use client::{password_arg, Client};
use errors::Failure;
use table::{Arity, COMMANDS};

/// Run the CLI with the process arguments (without the program name); returns the exit code.
pub fn run(argv: Vec<String>) -> u8 {
    let (global, words) = match parse_global(&argv) {
        Ok(x) => x,
        Err(f) => return print_result(&Err(f)),
    };
    if global.version {
        println!("cloudhsm-cli {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    if global.help {
        print_help(&words);
        return 0;
    }
    let interactive = words.is_empty() || (words.len() == 1 && words[0] == "interactive");
    if interactive {
        return run_shell(&global);
    }
    run_single(&global, &words)
}

/// Print a command's result as the CLI's JSON; returns the exit code.
pub(crate) fn print_result(result: &Result<Value, Failure>) -> u8 {
    let (code, data) = match result {
        Ok(v) => (0u8, v.clone()),
        Err(f) => (1u8, f.data()),
    };
    println!("{}", render(code, &data));
    code
}

/// `{"error_code": n, "data": ...}`, pretty-printed with `error_code` first.
fn render(code: u8, data: &Value) -> String {
    let pretty = serde_json::to_string_pretty(data).unwrap_or_else(|_| "null".into());
    let data = pretty.replace('\n', "\n  ");
    format!("{{\n  \"error_code\": {code},\n  \"data\": {data}\n}}")
}

/// Help on the commands under `words` (all of them for none).
pub(crate) fn help_text(words: &[String]) -> String {
    let under = args::commands_under(words);
    let mut s = String::new();
    if let [cmd] = under.as_slice() {
        s.push_str(&format!(
            "{}\n  {}\n\nOptions:\n",
            cmd.path.join(" "),
            cmd.summary
        ));
        for f in cmd.flags {
            let value = match f.arity {
                Arity::Switch => "",
                Arity::One => " <value>",
                Arity::Many => " <value>...",
            };
            let req = if f.required { " (required)" } else { "" };
            s.push_str(&format!("  --{}{value}{req}\n      {}\n", f.name, f.help));
        }
        return s;
    }
    let list: Vec<_> = if under.is_empty() {
        COMMANDS.iter().collect()
    } else {
        under
    };
    if words.is_empty() {
        s.push_str(
            "Usage: cloudhsm-cli [--username U --role R [--password P]] [--store DIR] [--cluster NAME] [--config FILE] <command> [options]\n\
             \x20      cloudhsm-cli [interactive]\n\
             Credentials may also come from CLOUDHSM_ROLE and CLOUDHSM_PIN=user:password.\n\n",
        );
    }
    s.push_str("Commands:\n");
    let width = list
        .iter()
        .map(|c| c.path.join(" ").len())
        .max()
        .unwrap_or(0);
    for c in list {
        s.push_str(&format!("  {:width$}  {}\n", c.path.join(" "), c.summary));
    }
    s.push_str("\n`<command> --help` shows a command's options.\n");
    s
}

pub(crate) fn print_help(words: &[String]) {
    print!("{}", help_text(words));
}

/// The cluster to talk to: `--config`/`CLOUDHSM_PKCS11_CONF`, `--cluster`, then `--store`.
fn select_slot(g: &Global) -> Result<SlotConfig, Failure> {
    let config = Config::load(g.config.as_deref().map(Path::new)).map_err(|_| {
        let path = g
            .config
            .clone()
            .or_else(|| std::env::var("CLOUDHSM_PKCS11_CONF").ok())
            .unwrap_or_default();
        Failure::new(format!("cannot load the configuration {path}"))
    })?;
    let names = || {
        config
            .slots
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut slot = match &g.cluster {
        Some(name) => config
            .slots
            .iter()
            .find(|s| s.name == *name)
            .cloned()
            .ok_or_else(|| {
                Failure::new(format!(
                    "no cluster named '{name}' (configured: {})",
                    names()
                ))
            })?,
        None if config.slots.len() == 1 || g.store.is_some() => config.slots[0].clone(),
        None => {
            return Err(Failure::new(format!(
                "several clusters are configured ({}): choose one with --cluster",
                names()
            )))
        }
    };
    if let Some(store) = &g.store {
        slot.store = PathBuf::from(store);
    }
    Ok(slot)
}

/// Login details for single-command mode.
struct Credentials {
    user: String,
    role: String,
    password: Option<Secret>,
}

/// `--username/--role/--password`, else `CLOUDHSM_ROLE` + `CLOUDHSM_PIN` (`user:password`).
fn credentials(g: &Global, use_env: bool) -> Result<Option<Credentials>, Failure> {
    if g.username.is_some() || g.role.is_some() || g.password.is_some() {
        let user = g
            .username
            .clone()
            .ok_or_else(|| Failure::new("--role/--password need --username"))?;
        let role = g
            .role
            .clone()
            .ok_or_else(|| Failure::new("--username needs --role (admin or crypto-user)"))?;
        let password = g
            .password
            .as_ref()
            .map(|p| Secret::new(p.as_bytes().to_vec()));
        return Ok(Some(Credentials {
            user,
            role,
            password,
        }));
    }
    if !use_env {
        return Ok(None);
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (env("CLOUDHSM_ROLE"), env("CLOUDHSM_PIN")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(Failure::new("CLOUDHSM_ROLE is set but CLOUDHSM_PIN is not")),
        (None, Some(_)) => Err(Failure::new("CLOUDHSM_PIN is set but CLOUDHSM_ROLE is not")),
        (Some(role), Some(pin)) => {
            let (user, password) = pin
                .split_once(':')
                .ok_or_else(|| Failure::new("CLOUDHSM_PIN must be user:password"))?;
            Ok(Some(Credentials {
                user: user.to_string(),
                role,
                password: Some(Secret::new(password.as_bytes().to_vec())),
            }))
        }
    }
}

fn log_in(client: &mut Client, creds: Credentials) -> Result<(), Failure> {
    let password = match creds.password {
        Some(p) => p,
        None => password_arg(None, &format!("Password for {}: ", creds.user), false)?,
    };
    client
        .login(&creds.user, &creds.role, password)
        .map_err(|f| f.context(&format!("login as {}", creds.user)))?;
    Ok(())
}

fn run_single(g: &Global, words: &[String]) -> u8 {
    let (cmd, args) = match parse_command(words) {
        Ok(Parsed::Run(cmd, args)) => (cmd, args),
        Ok(Parsed::Help(w)) => {
            print_help(&w);
            return 0;
        }
        Err(f) => return print_result(&Err(f)),
    };
    // `cluster activate` runs before anyone can log in; `login` brings its own credentials.
    let needs_no_login = matches!(cmd.path, ["cluster", "activate"] | ["login"]);
    let result = (|| {
        let creds = credentials(g, !needs_no_login)?;
        let mut client = Client::open(select_slot(g)?)?;
        if let Some(creds) = creds.filter(|_| !needs_no_login) {
            log_in(&mut client, creds)?;
        }
        let result = (cmd.run)(&mut client, &args);
        client.close();
        result
    })();
    print_result(&result)
}

fn run_shell(g: &Global) -> u8 {
    let mut client = match select_slot(g).and_then(Client::open) {
        Ok(c) => c,
        Err(f) => return print_result(&Err(f)),
    };
    match credentials(g, false) {
        Ok(Some(creds)) => {
            let r = log_in(&mut client, creds).map(|()| {
                let (user, role) = client
                    .who()
                    .map(|(u, r)| (u.to_string(), r.as_str()))
                    .unwrap_or_default();
                serde_json::json!({ "username": user, "role": role })
            });
            if print_result(&r) != 0 {
                return 1;
            }
        }
        Ok(None) => {}
        Err(f) => return print_result(&Err(f)),
    }
    let code = if std::io::stdin().is_terminal() {
        shell::interactive(&mut client)
    } else {
        shell::script(&mut client)
    };
    client.close();
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_shape() {
        let ok = render(0, &serde_json::json!({"a": [1]}));
        assert!(ok.starts_with("{\n  \"error_code\": 0,\n  \"data\": {"));
        let v: Value = serde_json::from_str(&ok).unwrap_or(Value::Null);
        assert_eq!(v["data"]["a"][0], 1);
        let err = render(1, &Failure::new("boom").data());
        let v: Value = serde_json::from_str(&err).unwrap_or(Value::Null);
        assert_eq!(v["error_code"], 1);
        assert_eq!(v["data"]["error"], "boom");
    }

    #[test]
    fn help_lists_and_details() {
        assert!(help_text(&[]).contains("key generate-asymmetric-pair rsa"));
        let one = help_text(&["user".into(), "create".into()]);
        assert!(one.contains("--username <value> (required)"));
        assert!(help_text(&["crypto".into()]).contains("crypto sign ecdsa"));
    }
}
