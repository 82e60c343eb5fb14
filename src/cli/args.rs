//! Argument parsing: shell-like splitting of a shell line, the global options that come
//! before a command, and a command's flags checked against its entry in the command table.

use std::collections::BTreeMap;

use super::errors::Failure;
use super::table::{Arity, Command, COMMANDS};

/// Split a line as a POSIX shell would for plain words: whitespace separates, '...' keeps
/// everything literally, "..." keeps everything but `\"` and `\\`, a backslash outside
/// quotes escapes the next character.
pub(crate) fn split_line(line: &str) -> Result<Vec<String>, Failure> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(Failure::new("unterminated ' quote")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => return Err(Failure::new("unterminated \" quote")),
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err(Failure::new("unterminated \" quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Options given before the command (single-command mode).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Global {
    pub(crate) username: Option<String>,
    pub(crate) role: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) store: Option<String>,
    pub(crate) cluster: Option<String>,
    pub(crate) config: Option<String>,
    pub(crate) help: bool,
    pub(crate) version: bool,
}

/// Split the process arguments into global options and the command words that follow.
pub(crate) fn parse_global(args: &[String]) -> Result<(Global, Vec<String>), Failure> {
    let mut g = Global::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if !arg.starts_with('-') {
            break;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let slot = match name {
            "--help" | "-h" => {
                g.help = true;
                i += 1;
                continue;
            }
            "--version" | "-V" => {
                g.version = true;
                i += 1;
                continue;
            }
            "--username" => &mut g.username,
            "--role" => &mut g.role,
            "--password" => &mut g.password,
            "--store" => &mut g.store,
            "--cluster" | "--cluster-id" => &mut g.cluster,
            "--config" => &mut g.config,
            other => {
                return Err(Failure::new(format!(
                    "unknown option {other} (global options go before the command)"
                )))
            }
        };
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| Failure::new(format!("{name} needs a value")))?
            }
        };
        if slot.replace(value).is_some() {
            return Err(Failure::new(format!("{name} given twice")));
        }
        i += 1;
    }
    Ok((g, args[i..].to_vec()))
}

/// A command's parsed flags.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Args {
    values: BTreeMap<&'static str, Vec<String>>,
    /// The command's words, e.g. ["key", "wrap", "aes-gcm"].
    pub(crate) path: Vec<&'static str>,
}

impl Args {
    /// A flag's single value, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
    /// A required flag's value (the table marks it required, so parsing already checked).
    pub(crate) fn req(&self, name: &str) -> Result<&str, Failure> {
        self.get(name)
            .ok_or_else(|| Failure::new(format!("missing --{name}")))
    }
    /// Every value of a multi-value flag (empty if not given).
    pub(crate) fn many(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }
    /// Whether a flag was given.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
    /// The last word of the command (the mechanism or key type of `key wrap aes-gcm`...).
    pub(crate) fn variant(&self) -> &'static str {
        self.path.last().copied().unwrap_or("")
    }
    /// A number flag.
    pub(crate) fn number(&self, name: &str) -> Result<Option<u64>, Failure> {
        self.get(name)
            .map(|v| {
                parse_number(v).ok_or_else(|| Failure::new(format!("--{name}: not a number: {v}")))
            })
            .transpose()
    }
}

/// A decimal or `0x` hex number.
pub(crate) fn parse_number(v: &str) -> Option<u64> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// What the words of a line name.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// A command with its flags.
    Run(&'static Command, Args),
    /// `help [words]` or `<words> --help`: help on the commands under these words.
    Help(Vec<String>),
}

/// The commands whose path starts with `words`.
pub(crate) fn commands_under(words: &[String]) -> Vec<&'static Command> {
    COMMANDS
        .iter()
        .filter(|c| c.path.len() >= words.len() && c.path.iter().zip(words).all(|(p, w)| p == w))
        .collect()
}

/// Parse the words of one command line.
pub(crate) fn parse_command(words: &[String]) -> Result<Parsed, Failure> {
    if words.first().map(String::as_str) == Some("help") {
        return Ok(Parsed::Help(words[1..].to_vec()));
    }
    let n_words = words.iter().take_while(|w| !w.starts_with("--")).count();
    let path_words = &words[..n_words];
    if words.iter().any(|w| w == "--help" || w == "-h") {
        return Ok(Parsed::Help(path_words.to_vec()));
    }
    let Some(cmd) = COMMANDS
        .iter()
        .find(|c| c.path.len() == n_words && c.path.iter().zip(path_words).all(|(p, w)| p == w))
    else {
        return Err(unknown_command(path_words));
    };
    let mut args = Args {
        values: BTreeMap::new(),
        path: cmd.path.to_vec(),
    };
    let mut i = n_words;
    while i < words.len() {
        let w = &words[i];
        let Some(body) = w.strip_prefix("--") else {
            return Err(Failure::new(format!("unexpected argument '{w}'")));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(flag) = cmd.flags.iter().find(|f| f.name == name) else {
            return Err(Failure::new(format!(
                "`{}` has no option --{name}",
                cmd.path.join(" ")
            )));
        };
        i += 1;
        let mut values = Vec::new();
        match flag.arity {
            Arity::Switch => {
                if let Some(v) = inline {
                    match v.as_str() {
                        "true" => {}
                        "false" => continue,
                        _ => return Err(Failure::new(format!("--{name} takes no value"))),
                    }
                }
            }
            Arity::One => match inline {
                Some(v) => values.push(v),
                None => {
                    let v = words
                        .get(i)
                        .ok_or_else(|| Failure::new(format!("--{name} needs a value")))?;
                    values.push(v.clone());
                    i += 1;
                }
            },
            Arity::Many => {
                values.extend(inline);
                while let Some(v) = words.get(i).filter(|v| !v.starts_with("--")) {
                    values.push(v.clone());
                    i += 1;
                }
                if values.is_empty() {
                    return Err(Failure::new(format!("--{name} needs at least one value")));
                }
            }
        }
        let entry = args.values.entry(flag.name).or_default();
        if flag.arity == Arity::One && !entry.is_empty() {
            return Err(Failure::new(format!("--{name} given twice")));
        }
        entry.extend(values);
    }
    for f in cmd.flags.iter().filter(|f| f.required) {
        if !args.values.contains_key(f.name) {
            return Err(Failure::new(format!(
                "`{}` needs --{}",
                cmd.path.join(" "),
                f.name
            )));
        }
    }
    Ok(Parsed::Run(cmd, args))
}

fn unknown_command(words: &[String]) -> Failure {
    let under = commands_under(words);
    if words.is_empty() {
        return Failure::new("no command given; try `help`");
    }
    if under.is_empty() {
        return Failure::new(format!("unknown command `{}`; try `help`", words.join(" ")));
    }
    let mut next: Vec<&str> = under
        .iter()
        .filter_map(|c| c.path.get(words.len()).copied())
        .collect();
    next.dedup();
    Failure::new(format!(
        "`{}` needs one of: {}",
        words.join(" "),
        next.join(", ")
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_line(s).unwrap()
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            w(r#"key list --filter attr.label="my key" 'a b' c\ d"#),
            ["key", "list", "--filter", "attr.label=my key", "a b", "c d"]
        );
        assert_eq!(w(r#"x "a\"b\\c" ''"#), ["x", r#"a"b\c"#, ""]);
        assert!(split_line("x 'open").is_err());
        assert!(split_line("x \"open").is_err());
        assert!(w("   ").is_empty());
    }

    #[test]
    fn global_options_come_first() {
        let (g, rest) = parse_global(&w(
            "--username cu1 --role=crypto-user --password pw key list --verbose",
        ))
        .unwrap();
        assert_eq!(g.username.as_deref(), Some("cu1"));
        assert_eq!(g.role.as_deref(), Some("crypto-user"));
        assert_eq!(rest, w("key list --verbose"));
        assert!(parse_global(&w("--bogus 1 user list")).is_err());
        assert!(parse_global(&w("--username")).is_err());
        assert!(parse_global(&w("--store a --store b user list")).is_err());
    }

    #[test]
    fn flags_against_the_table() {
        let Parsed::Run(cmd, a) = parse_command(&w(
            "key list --filter attr.label=x key-reference=0x1 --max-items 3 --verbose",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(cmd.path, ["key", "list"]);
        assert_eq!(a.many("filter"), ["attr.label=x", "key-reference=0x1"]);
        assert_eq!(a.number("max-items").unwrap(), Some(3));
        assert!(a.has("verbose"));
        assert!(!a.has("starting-token"));
        let Parsed::Run(_, a) = parse_command(&w(
            "key wrap aes-gcm --payload-filter attr.label=a --wrapping-filter attr.label=b",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.variant(), "aes-gcm");
    }

    /// (line, expected error fragment)
    #[test]
    fn usage_errors() {
        let cases = [
            ("key lsit", "unknown command"),
            (
                "key generate-symmetric",
                "needs one of: aes, generic-secret",
            ),
            (
                "user create --username x --role admin --bogus 1",
                "no option --bogus",
            ),
            ("user create --role admin", "needs --username"),
            (
                "user create --username a --username b --role admin",
                "given twice",
            ),
            ("key list --max-items", "needs a value"),
            ("key list --filter", "at least one value"),
            ("user list extra", "unknown command"),
            ("key list --verbose=maybe", "takes no value"),
        ];
        for (line, want) in cases {
            let err = parse_command(&w(line)).unwrap_err();
            assert!(err.message.contains(want), "{line}: {}", err.message);
        }
    }

    #[test]
    fn help_forms() {
        assert!(matches!(parse_command(&w("help key")).unwrap(), Parsed::Help(v) if v == ["key"]));
        assert!(
            matches!(parse_command(&w("key list --help")).unwrap(), Parsed::Help(v) if v == ["key", "list"])
        );
    }
}
