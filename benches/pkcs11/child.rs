//! The child process: one side, serving the parent's requests one line at a time.
//!
//! Requests on stdin, replies on stdout as `@@ ok ...`, `@@ na REASON` or `@@ err REASON`
//! (other stdout lines, e.g. a module's own prints, are ignored by the parent):
//!
//! | request | reply |
//! |---|---|
//! | (start) | `ok DESCRIPTION` once the side is loaded and its token provisioned |
//! | `prep CASE` | `ok` |
//! | `run CASE WARMUP TIME_US MAX_OPS` | `ok OPS WALL_NS CPU_NS`; a warm-up's latencies are dropped |
//! | `lat` | `ok P50_NS P99_NS` of the repetitions since the last `lat`, then forgets them |
//! | `rss` | `ok PEAK_RSS_KIB` |
//! | `quit` or end of input | exits |

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::cases::CASES;
use crate::measure::{rusage, Histogram, Limits};
use crate::raw::RawSide;
use crate::token::TokenSide;
use crate::{Failure, Side};

pub(crate) const PREFIX: &str = "@@ ";

/// `--child raw` or `--child module --module PATH --objects N`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    let side: Result<Box<dyn Side>, Failure> = match args {
        [kind] if kind == "raw" => Ok(Box::new(RawSide::default())),
        [kind, m, path, o, n] if kind == "module" && m == "--module" && o == "--objects" => match n
            .parse()
        {
            Ok(n) => TokenSide::open(&PathBuf::from(path), n).map(|t| Box::new(t) as Box<dyn Side>),
            Err(e) => Err(Failure::Error(format!("--objects {n}: {e}"))),
        },
        _ => Err(Failure::Error(format!("bad child arguments {args:?}"))),
    };
    let mut side = match side {
        Ok(s) => s,
        Err(e) => {
            reply(Err(e));
            return ExitCode::FAILURE;
        }
    };
    reply(Ok(side.describe()));
    let mut pooled = Histogram::new();
    let mut scratch = Histogram::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["prep", case] => case_at(case)
                .and_then(|c| side.prepare(c))
                .map(|()| String::new()),
            ["run", case, warmup, time_us, max_ops] => (|| {
                let case = case_at(case)?;
                let limits = Limits {
                    time: Duration::from_micros(number(time_us)?),
                    max_ops: number(max_ops)?.max(1),
                };
                let hist = if *warmup == "1" {
                    &mut scratch
                } else {
                    &mut pooled
                };
                let s = side.run(case, limits, hist)?;
                scratch.clear();
                Ok(format!("{} {} {}", s.ops, s.wall_ns, s.cpu_ns))
            })(),
            ["lat"] => {
                let answer = format!("{} {}", pooled.quantile(0.50), pooled.quantile(0.99));
                pooled.clear();
                Ok(answer)
            }
            ["rss"] => Ok(rusage::max_rss_kib().to_string()),
            ["quit"] => break,
            _ => Err(Failure::Error(format!("bad request {line:?}"))),
        };
        reply(answer);
    }
    drop(side); // closes sessions and finalizes the module before the process ends
    ExitCode::SUCCESS
}

fn case_at(word: &str) -> Result<&'static crate::cases::Case, Failure> {
    word.parse::<usize>()
        .ok()
        .and_then(|i| CASES.get(i))
        .ok_or_else(|| Failure::Error(format!("no case {word}")))
}

fn number(word: &str) -> Result<u64, Failure> {
    word.parse()
        .map_err(|e| Failure::Error(format!("{word}: {e}")))
}

fn reply(answer: Result<String, Failure>) {
    let one_line = |s: String| s.replace(['\n', '\r'], " ");
    let line = match answer {
        Ok(s) => format!("{PREFIX}ok {}", one_line(s)),
        Err(Failure::NotSupported(s)) => format!("{PREFIX}na {}", one_line(s)),
        Err(Failure::Error(s)) => format!("{PREFIX}err {}", one_line(s)),
    };
    let mut out = std::io::stdout().lock();
    // If the parent is gone there is no one to tell.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
