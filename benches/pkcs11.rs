//! The PKCS#11 benchmark (issue 6): our module and SoftHSMv2 side by side in one run, with the
//! same operation done directly with aws-lc-rs as the limit.
//!
//! ```text
//! cargo bench --bench pkcs11 -- [--smoke] [--out docs/benchmarks.md] [--ours PATH] [--softhsm PATH]
//!                                [--sides ours,softhsm,raw] [--cases NAME,...] [--reps N] [--rep-ms MS]
//!                                [--objects N] [--store-dir DIR]
//! ```
//!
//! Each side runs in its own child process (this binary re-executed with `--child`), so module
//! globals and peak RSS are per side; the parent sends one request at a time, so the sides never
//! run together, and alternates their order per repetition so machine noise hits them alike.
//! Without `--bench` (as `cargo test --all-targets` runs it) it does the smoke run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[path = "pkcs11/cases.rs"]
mod cases;
#[path = "pkcs11/child.rs"]
mod child;
#[path = "pkcs11/coordinator.rs"]
mod coordinator;
#[path = "pkcs11/measure.rs"]
mod measure;
#[path = "pkcs11/raw.rs"]
mod raw;
#[path = "pkcs11/report.rs"]
mod report;
#[path = "pkcs11/token.rs"]
mod token;

use cases::Case;
use measure::{Histogram, Limits, Sample};

/// Why a case did not give a number on a side.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The side does not do this operation (CKR_MECHANISM_INVALID): reported as "n/a".
    NotSupported(String),
    /// Anything else: reported as an error, the run goes on.
    Error(String),
}

/// One benchmark side, living in a child process.
pub(crate) trait Side {
    /// Makes what the case needs (keys, inputs, objects), untimed.
    fn prepare(&mut self, case: &Case) -> Result<(), Failure>;
    /// One repetition.
    fn run(&mut self, case: &Case, limits: Limits, hist: &mut Histogram)
        -> Result<Sample, Failure>;
    /// What this side is, for the report.
    fn describe(&self) -> String;
}

/// Repetition counts and sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) smoke: bool,
    pub(crate) reps: usize,
    pub(crate) rep_time: Duration,
    pub(crate) warmup_time: Duration,
    /// Caps every case's ops per repetition (the smoke run's "handful").
    pub(crate) max_ops: Option<u64>,
    /// Token objects the find case searches among.
    pub(crate) find_objects: usize,
}

impl Plan {
    fn full() -> Self {
        Plan {
            smoke: false,
            // Many short repetitions: the median then shrugs off a burst of load from another
            // process on a shared machine.
            reps: 11,
            rep_time: Duration::from_millis(300),
            warmup_time: Duration::from_millis(150),
            max_ops: None,
            find_objects: 10_000,
        }
    }

    fn smoke() -> Self {
        Plan {
            smoke: true,
            reps: 3,
            rep_time: Duration::from_millis(20),
            warmup_time: Duration::from_millis(5),
            max_ops: Some(3),
            find_objects: 20,
        }
    }

    pub(crate) fn limits(&self, case: &Case, warmup: bool) -> Limits {
        let max_ops = self.max_ops.map_or(case.max_ops, |m| m.min(case.max_ops));
        if warmup {
            // A slow case (few ops per repetition) warms up with one op.
            Limits {
                time: self.warmup_time,
                max_ops: if case.max_ops < 100 { 1 } else { max_ops },
            }
        } else {
            Limits {
                time: self.rep_time,
                max_ops,
            }
        }
    }
}

/// The parsed command line.
pub(crate) struct Options {
    pub(crate) plan: Plan,
    pub(crate) out: Option<PathBuf>,
    pub(crate) ours: PathBuf,
    pub(crate) softhsm: PathBuf,
    /// Where the throw-away stores go (a fresh directory inside it).
    pub(crate) store_dir: PathBuf,
    pub(crate) sides: Vec<String>,
    pub(crate) cases: Vec<&'static Case>,
    /// Under `cargo test`: a side whose module is not installed is left out, not an error.
    pub(crate) lenient: bool,
    /// The arguments as given, for the report's command line.
    pub(crate) args: Vec<String>,
}

/// Where `cargo build` puts our module for the profile this bench was built with.
fn default_ours() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    target.join(profile).join("libcloudhsm_pkcs11.so")
}

const USAGE: &str = "usage: cargo bench --bench pkcs11 -- [--smoke] [--out FILE] [--ours PATH] [--softhsm PATH] \
[--sides ours,softhsm,raw] [--cases NAME,...] [--reps N] [--rep-ms MS] [--objects N] [--store-dir DIR]";

/// The stores live on tmpfs when there is one, so the numbers are the modules' own and not this
/// machine's disk (SoftHSM rewrites files on every object change: on ext4 that is ~70 ms per
/// C_CreateObject, and 10 minutes to make the find case's 10,000 objects).
fn default_store_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let bench_mode = args.iter().any(|a| a == "--bench");
    let mut smoke = !bench_mode; // `cargo test` runs the target without --bench: smoke only
    let (mut out, mut ours, mut softhsm) = (
        None,
        default_ours(),
        PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
    );
    let mut sides = vec!["ours".to_string(), "softhsm".to_string(), "raw".to_string()];
    let mut store_dir = default_store_dir();
    let (mut reps, mut rep_ms, mut objects, mut only) = (None, None, None, None);
    let shown: Vec<String> = args.iter().filter(|a| *a != "--bench").cloned().collect();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--bench" => {}
            "--smoke" => smoke = true,
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--ours" => ours = PathBuf::from(value("--ours")?),
            "--softhsm" => softhsm = PathBuf::from(value("--softhsm")?),
            "--sides" => sides = value("--sides")?.split(',').map(str::to_string).collect(),
            "--cases" => only = Some(value("--cases")?),
            "--reps" => reps = Some(number(value("--reps")?)?),
            "--rep-ms" => rep_ms = Some(number(value("--rep-ms")?)?),
            "--store-dir" => store_dir = PathBuf::from(value("--store-dir")?),
            "--objects" => objects = Some(number(value("--objects")?)?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other if bench_mode => return Err(format!("unknown argument {other}\n{USAGE}")),
            _ => {} // test-harness flags from `cargo test`
        }
    }
    if let Some(bad) = sides
        .iter()
        .find(|s| !["ours", "softhsm", "raw"].contains(&s.as_str()))
    {
        return Err(format!(
            "unknown side {bad}: the sides are ours, softhsm, raw"
        ));
    }
    let mut plan = if smoke { Plan::smoke() } else { Plan::full() };
    if let Some(r) = reps {
        plan.reps = usize::try_from(r.max(1)).unwrap_or(1);
    }
    if let Some(ms) = rep_ms {
        plan.rep_time = Duration::from_millis(ms);
        plan.warmup_time = Duration::from_millis(ms / 2);
    }
    if let Some(n) = objects {
        plan.find_objects = usize::try_from(n.max(1)).unwrap_or(1);
    }
    let cases = match only {
        None => cases::CASES.iter().collect(),
        Some(list) => list
            .split(',')
            .map(|name| Case::by_name(name.trim()).ok_or_else(|| format!("unknown case {name:?}")))
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Options {
        plan,
        out,
        ours,
        softhsm,
        store_dir,
        sides,
        cases,
        lenient: !bench_mode,
        args: shown,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child::main(&args[1..]);
    }
    let options = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match coordinator::run(&options) {
        Ok(results) => {
            let doc = report::Report::new(&options, &results);
            println!("{}", doc.summary());
            if let Some(path) = &options.out {
                if let Err(e) = doc.write(path) {
                    eprintln!("writing {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                eprintln!("wrote {}", path.display());
            }
            if results.has_errors() && options.plan.smoke {
                eprintln!("the smoke run had errors");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}
