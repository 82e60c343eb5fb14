//! The interactive shell: a prompt with history and tab completion of verbs and options on
//! a terminal (rustyline); one command per line from standard input otherwise.
//!
//! History is kept in memory only, and lines that carry a password are not added to it.

use std::borrow::Cow;
use std::io::BufRead;

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::args::{commands_under, parse_command, split_line, Parsed};
use super::client::Client;
use super::errors::Failure;
use super::table::{COMMANDS, SHELL_WORDS};
use super::{help_text, print_help, print_result};

/// What the shell does after a line.
enum Next {
    Continue,
    Quit,
}

/// Run one line of the shell.
fn execute(client: &mut Client, line: &str) -> Next {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Next::Continue;
    }
    let words = match split_line(line) {
        Ok(w) => w,
        Err(f) => {
            print_result(&Err(f));
            return Next::Continue;
        }
    };
    if matches!(words[0].as_str(), "quit" | "exit") && words.len() == 1 {
        return Next::Quit;
    }
    match parse_command(&words) {
        Ok(Parsed::Help(w)) if w.is_empty() => print!("{}", shell_help()),
        Ok(Parsed::Help(w)) => print_help(&w),
        Ok(Parsed::Run(cmd, args)) => {
            let result = (cmd.run)(client, &args);
            print_result(&result);
        }
        Err(f) => {
            print_result(&Err(f));
        }
    }
    Next::Continue
}

/// Completion of command words, then of the chosen command's options.
struct CliHelper;

/// The completions of the word being typed at the end of `before`.
fn completions(before: &str) -> (usize, Vec<String>) {
    let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let partial = &before[start..];
    let done: Vec<String> = before[..start]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let path: Vec<String> = done
        .iter()
        .take_while(|w| !w.starts_with("--"))
        .cloned()
        .collect();
    let exact = COMMANDS
        .iter()
        .find(|c| c.path.len() == path.len() && c.path.iter().zip(&path).all(|(a, b)| a == b));
    let mut out: Vec<String> = match exact {
        Some(cmd) if partial.is_empty() || partial.starts_with('-') => cmd
            .flags
            .iter()
            .map(|f| format!("--{}", f.name))
            .filter(|f| !done.contains(f))
            .collect(),
        Some(_) => Vec::new(),
        None if path.len() == done.len() => {
            let mut next: Vec<String> = commands_under(&path)
                .iter()
                .filter_map(|c| c.path.get(path.len()))
                .map(|w| (*w).to_string())
                .collect();
            if path.is_empty() {
                next.extend(SHELL_WORDS.iter().map(|w| (*w).to_string()));
            }
            next
        }
        None => Vec::new(),
    };
    out.retain(|w| w.starts_with(partial));
    out.sort();
    out.dedup();
    (start, out)
}

impl Completer for CliHelper {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(completions(&line[..pos]))
    }
}

impl Hinter for CliHelper {
    type Hint = String;
}

impl Highlighter for CliHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}

impl Validator for CliHelper {}

impl Helper for CliHelper {}

fn prompt(client: &Client) -> String {
    match client.who() {
        Some((user, _)) => format!("cloudhsm [{user}] > "),
        None => "cloudhsm > ".to_string(),
    }
}

/// A line worth remembering: never one that carries a password.
fn keep_in_history(line: &str) -> bool {
    !line.contains("password")
}

/// The interactive shell on a terminal.
pub(crate) fn interactive(client: &mut Client) -> u8 {
    let config = Config::builder()
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<CliHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => return print_result(&Err(Failure::new(format!("cannot start the shell: {e}")))),
    };
    editor.set_helper(Some(CliHelper));
    eprintln!(
        "cloudhsm-cli {}: type `help` for commands, `quit` to leave.",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        match editor.readline(&prompt(client)) {
            Ok(line) => {
                if keep_in_history(&line) && !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Next::Quit = execute(client, &line) {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return print_result(&Err(Failure::new(format!("cannot read input: {e}")))),
        }
    }
    0
}

/// Commands from standard input, one per line (no terminal: scripts and pipes).
pub(crate) fn script(client: &mut Client) -> u8 {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if let Next::Quit = execute(client, &line) {
            break;
        }
    }
    0
}

/// `help` in the shell.
pub(crate) fn shell_help() -> String {
    let mut s = help_text(&[]);
    s.push_str("\nShell: help [command], quit | exit. Tab completes commands and options.\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_verbs_then_options() {
        assert_eq!(completions("ke"), (0, vec!["key".to_string()]));
        let (start, c) = completions("key gen");
        assert_eq!(start, 4);
        assert_eq!(
            c,
            [
                "generate-asymmetric-pair",
                "generate-file",
                "generate-symmetric"
            ]
        );
        assert_eq!(
            completions("key generate-symmetric ").1,
            ["aes", "generic-secret"]
        );
        let (_, c) = completions("key list --");
        assert!(c.contains(&"--verbose".to_string()) && c.contains(&"--filter".to_string()));
        let (_, c) = completions("key list --verbose --");
        assert!(!c.contains(&"--verbose".to_string()));
        assert_eq!(completions("q").1, ["quit", "quorum"]);
        assert_eq!(completions("quo").1, ["quorum"]);
        assert!(completions("bogus ").1.is_empty());
    }

    #[test]
    fn passwords_stay_out_of_history() {
        assert!(!keep_in_history(
            "login --username a --role admin --password x"
        ));
        assert!(keep_in_history("key list"));
    }
}
