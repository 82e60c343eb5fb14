//! The report: the results table, the issue-6 targets met or missed, peak RSS, the machine,
//! the versions and the command, as markdown (`docs/benchmarks.md`, everything below the
//! hand-written marker kept) and as the summary printed after every run.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::cases::Kind;
use crate::coordinator::{median, CaseResult, Cell, Results, SideId};
use crate::Options;

/// Everything after this line in the output file is hand-written and survives regeneration.
pub(crate) const MARKER: &str =
    "<!-- Hand-written notes below this line are kept when the file is regenerated. -->";

const DEFAULT_NOTES: &str = "\n## What mattered\n\n_Profile notes go here: what `perf record` / `valgrind --tool=callgrind` \
showed and what changed because of it._\n";

pub(crate) struct Report<'a> {
    options: &'a Options,
    results: &'a Results,
}

fn present(results: &Results, side: SideId) -> bool {
    results.sides.iter().any(|s| s.id == side)
}

fn side_title(side: SideId) -> &'static str {
    match side {
        SideId::Ours => "ours",
        SideId::SoftHsm => "SoftHSM",
        SideId::Raw => "aws-lc-rs",
    }
}

fn ops(rate: f64) -> String {
    if rate >= 100.0 {
        let digits = format!("{rate:.0}");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        format!("{rate:.1}")
    }
}

fn duration(ns: f64) -> String {
    match ns {
        n if n < 1e3 => format!("{n:.0} ns"),
        n if n < 1e4 => format!("{:.2} µs", n / 1e3),
        n if n < 1e6 => format!("{:.1} µs", n / 1e3),
        n if n < 1e7 => format!("{:.2} ms", n / 1e6),
        n if n < 1e9 => format!("{:.1} ms", n / 1e6),
        n => format!("{:.2} s", n / 1e9),
    }
}

/// Above this relative spread a case's repetitions are reported as noisy.
const NOISY: f64 = 0.2;

/// The interquartile range of `rates` over their median.
fn spread(rates: &[f64]) -> f64 {
    let mut v = rates.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    let at = |quarter: usize| v.get((v.len() - 1) * quarter / 4).copied();
    match (at(1), at(2), at(3)) {
        (Some(lo), Some(mid), Some(hi)) if mid > 0.0 => (hi - lo) / mid,
        _ => 0.0,
    }
}

fn ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.2}×")
    }
}

fn percent(r: f64) -> String {
    format!("{:.0} %", r * 100.0)
}

impl CaseResult {
    fn rate(&self, side: SideId) -> Option<f64> {
        self.stats(side).map(|s| s.ops_per_s)
    }

    /// a ÷ b: the median of the ratios of repetitions run next to each other (so a slow
    /// drift of the machine's load cancels), or of the medians if the counts differ.
    fn ratio(&self, a: SideId, b: SideId) -> Option<f64> {
        let (a, b) = (self.stats(a)?, self.stats(b)?);
        if a.rep_rates.len() == b.rep_rates.len() {
            let pairs = a.rep_rates.iter().zip(&b.rep_rates);
            Some(median(pairs.map(|(x, y)| x / y.max(f64::MIN_POSITIVE))))
        } else {
            Some(a.ops_per_s / b.ops_per_s)
        }
    }

    fn cell_text(
        &self,
        side: SideId,
        show: impl Fn(&crate::coordinator::Stats) -> String,
    ) -> String {
        match self.cells.get(&side) {
            Some(Cell::Measured(s)) => show(s),
            Some(Cell::NotSupported(_)) => "n/a".into(),
            Some(Cell::Failed(_)) => "error".into(),
            None => "—".into(),
        }
    }
}

/// One issue-6 target: what it asks, what we measured, whether it holds.
struct Target {
    what: String,
    measured: String,
    met: Option<bool>,
}

impl<'a> Report<'a> {
    pub(crate) fn new(options: &'a Options, results: &'a Results) -> Self {
        Report { options, results }
    }

    /// The side the ratios are about: ours, or SoftHSM when ours is not in the run.
    fn subject(&self) -> SideId {
        if present(self.results, SideId::Ours) {
            SideId::Ours
        } else {
            SideId::SoftHsm
        }
    }

    fn table(&self) -> String {
        let r = self.results;
        let subject = self.subject();
        let modules: Vec<SideId> = [SideId::Ours, SideId::SoftHsm]
            .into_iter()
            .filter(|s| present(r, *s))
            .collect();
        let mut head = vec!["case".to_string()];
        for side in [SideId::Ours, SideId::SoftHsm, SideId::Raw]
            .into_iter()
            .filter(|s| present(r, *s))
        {
            head.push(format!("{} ops/s", side_title(side)));
        }
        let vs_softhsm = subject != SideId::SoftHsm && present(r, SideId::SoftHsm);
        if vs_softhsm {
            head.push(format!("{} ÷ SoftHSM", side_title(subject)));
        }
        let vs_raw = present(r, SideId::Raw) && present(r, subject);
        if vs_raw {
            head.push(format!("{} ÷ aws-lc-rs", side_title(subject)));
        }
        for side in &modules {
            head.push(format!("{} p50 / p99", side_title(*side)));
        }
        for side in &modules {
            head.push(format!("{} CPU/op", side_title(*side)));
        }
        let mut out = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
        let mut errors = Vec::new();
        for c in &r.cases {
            let mut row = vec![c.case.name.to_string()];
            for side in [SideId::Ours, SideId::SoftHsm, SideId::Raw]
                .into_iter()
                .filter(|s| present(r, *s))
            {
                row.push(c.cell_text(side, |s| ops(s.ops_per_s)));
            }
            if vs_softhsm {
                row.push(c.ratio(subject, SideId::SoftHsm).map_or("—".into(), ratio));
            }
            if vs_raw {
                row.push(c.ratio(subject, SideId::Raw).map_or("—".into(), percent));
            }
            for side in &modules {
                row.push(c.cell_text(*side, |s| {
                    format!(
                        "{} / {}",
                        duration(s.p50_ns as f64),
                        duration(s.p99_ns as f64)
                    )
                }));
            }
            for side in &modules {
                row.push(c.cell_text(*side, |s| duration(s.cpu_ns_per_op)));
            }
            for (side, cell) in &c.cells {
                match cell {
                    Cell::Failed(why) => {
                        errors.push(format!("- {} on {}: {why}", c.case.name, side_title(*side)))
                    }
                    Cell::NotSupported(why) if *side != SideId::Raw => {
                        errors.push(format!(
                            "- {} on {}: n/a, {why}",
                            c.case.name,
                            side_title(*side)
                        ));
                    }
                    _ => {}
                }
            }
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        if !errors.is_empty() {
            let _ = write!(out, "\n{}\n", errors.join("\n"));
        }
        let noisy: Vec<String> = r
            .cases
            .iter()
            .flat_map(|c| {
                c.cells.iter().filter_map(move |(side, cell)| match cell {
                    Cell::Measured(s) if spread(&s.rep_rates) > NOISY => Some(format!(
                        "{} ({} ±{:.0} %)",
                        c.case.name,
                        side_title(*side),
                        spread(&s.rep_rates) * 50.0
                    )),
                    _ => None,
                })
            })
            .collect();
        if !noisy.is_empty() {
            let _ = write!(
                out,
                "\nNoisy (the middle half of the repetitions spans more than ±{:.0} % of the median): {}.\n",
                NOISY * 50.0,
                noisy.join(", ")
            );
        }
        out
    }

    fn targets(&self) -> Vec<Target> {
        let r = self.results;
        let (ours, soft, raw) = (SideId::Ours, SideId::SoftHsm, SideId::Raw);
        let mut targets = Vec::new();
        let mut vs = |name: &str, other: SideId, at_least: f64| {
            let got = r.case(name).and_then(|c| c.ratio(ours, other));
            let what = if other == raw {
                format!("{name} ≥ {} of raw aws-lc-rs", percent(at_least))
            } else {
                format!("{name} ≥ {}× SoftHSM", at_least)
            };
            let measured = got.map_or("—".into(), |g| {
                if other == raw {
                    percent(g)
                } else {
                    ratio(g)
                }
            });
            targets.push(Target {
                what,
                measured,
                met: got.map(|g| g >= at_least),
            });
        };
        vs("rsa2048-sign", soft, 2.4);
        vs("ecdsa-p256-sign", soft, 2.5);
        vs("ecdsa-p384-sign", soft, 9.0);
        vs("aes256-gcm-encrypt 4 KiB", soft, 5.0);
        vs("aes256-gcm-encrypt 1 MiB", soft, 15.0);
        vs("C_CreateObject (token)", soft, 5.0);
        for c in &r.cases {
            let sign_verify_encrypt = c.case.threads == 1
                && matches!(
                    c.case.kind,
                    Kind::RsaSign { .. }
                        | Kind::RsaVerify
                        | Kind::EcdsaSign { .. }
                        | Kind::EcdsaVerify
                        | Kind::AesGcm { .. }
                        | Kind::AesCbcPad { .. }
                        | Kind::Hmac { .. }
                );
            if sign_verify_encrypt {
                vs(c.case.name, raw, 0.9);
            }
        }
        // Time per call; beside it, the same case's raw aws-lc-rs time when there is one (the
        // floor: C_GenerateRandom cannot beat the DRBG it calls).
        let time_per_op = |name: &str, side: SideId| {
            r.case(name)
                .and_then(|c| c.stats(side))
                .map(|s| 1e9 / s.ops_per_s)
        };
        for (name, limit) in [
            ("find by label", 50_000.0),
            ("empty call (C_GenerateRandom 1 B)", 1_000.0),
        ] {
            let got = time_per_op(name, ours);
            let floor = time_per_op(name, raw).map_or(String::new(), |f| {
                format!(" (aws-lc-rs alone: {})", duration(f))
            });
            targets.push(Target {
                what: format!("{name} ≤ {} per call", duration(limit)),
                measured: got.map_or("—".into(), |g| format!("{}{floor}", duration(g))),
                met: got.map(|g| g <= limit),
            });
        }
        // Scaling; beside it, raw aws-lc-rs's own scaling: what this machine allows right now.
        let scaling = |one: &str, two: &str, side: SideId| {
            let two = r.case(two).and_then(|c| c.rate(side))?;
            Some(two / r.case(one).and_then(|c| c.rate(side))?)
        };
        for (one, two) in [
            ("rsa2048-sign", "rsa2048-sign 2 threads"),
            ("ecdsa-p256-sign", "ecdsa-p256-sign 2 threads"),
        ] {
            let got = scaling(one, two, ours);
            let machine = scaling(one, two, raw)
                .map_or(String::new(), |m| format!(" (aws-lc-rs: {})", ratio(m)));
            targets.push(Target {
                what: format!("{one}: 2 threads ≥ 1.9× 1 thread"),
                measured: got.map_or("—".into(), |g| format!("{}{machine}", ratio(g))),
                met: got.map(|g| g >= 1.9),
            });
        }
        for c in r.cases.iter().filter(|c| {
            c.case.threads == 1
                && matches!(c.case.kind, Kind::RsaSign { .. } | Kind::EcdsaSign { .. })
        }) {
            let got = c
                .stats(ours)
                .map(|s| s.p99_ns as f64 / s.p50_ns.max(1) as f64);
            targets.push(Target {
                what: format!("{}: p99 / p50 ≤ 3", c.case.name),
                measured: got.map_or("—".into(), |g| format!("{g:.2}")),
                met: got.map(|g| g <= 3.0),
            });
        }
        targets
    }

    fn targets_table(&self) -> String {
        let targets = self.targets();
        let met = targets.iter().filter(|t| t.met == Some(true)).count();
        let judged = targets.iter().filter(|t| t.met.is_some()).count();
        let mut out = format!(
            "{met} of {judged} measured targets met.\n\n| target | measured | |\n|---|---|---|\n"
        );
        for t in &targets {
            let mark = match t.met {
                Some(true) => "met",
                Some(false) => "**missed**",
                None => "not measured",
            };
            let _ = writeln!(out, "| {} | {} | {mark} |", t.what, t.measured);
        }
        out
    }

    fn rss(&self) -> String {
        let mut out = String::from("| side | peak RSS | what |\n|---|---|---|\n");
        for s in &self.results.sides {
            let rss = s
                .peak_rss_kib
                .map_or("—".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
            let _ = writeln!(out, "| {} | {rss} | {} |", side_title(s.id), s.description);
        }
        out
    }

    fn command(&self) -> String {
        let args = self.options.args.join(" ");
        if args.is_empty() {
            "cargo bench --bench pkcs11".into()
        } else {
            format!("cargo bench --bench pkcs11 -- {args}")
        }
    }

    /// What is printed after every run: the tables without the machine and notes.
    pub(crate) fn summary(&self) -> String {
        let mut out = self.table();
        if present(self.results, SideId::Ours) && present(self.results, SideId::SoftHsm) {
            let _ = write!(out, "\n{}", self.targets_table());
        }
        let _ = write!(out, "\n{}", self.rss());
        if self.options.plan.smoke {
            out.push_str(
                "\n(smoke run: a handful of operations per case; the numbers mean nothing)\n",
            );
        }
        out
    }

    fn method(&self) -> String {
        let p = &self.options.plan;
        format!(
            "Each side runs in its own child process of the bench binary: our module with \
`CLOUDHSM_HOME` at a fresh temporary store, SoftHSM with its own `SOFTHSM2_CONF` and token \
directory, the raw column with aws-lc-rs in-process. Both stores are under `{store}` (tmpfs by \
default: SoftHSM rewrites files on every object change, which on this machine's ext4 disk costs \
~70 ms per C_CreateObject and would measure the disk, not the module). Both modules get a throw-away token the \
same way (C_InitToken with an SO PIN, SO login, C_InitPIN, user login) and run the same calls \
through the `cryptoki` crate, as a Rust application would (so an output-producing call is a \
size query with a NULL buffer, then the call). Keys are token objects made before timing.

Per case: one warm-up, then {reps} repetitions of up to {rep_ms} ms each (fewer ops for slow cases), \
one side at a time, the order rotating every repetition. **ops/s** is the median over the \
repetitions; **p50 / p99** are the latency percentiles of every call in them; **CPU/op** is the \
median of the process's user + system time (getrusage, all threads) per op. Ratios (ours ÷ \
SoftHSM, and ours ÷ aws-lc-rs doing the same operation directly with its keys parsed once: the \
limit of this design) are the median of the per-repetition ratios, each repetition paired with \
the other side's run right beside it, so load from other processes largely cancels; the \
2-thread targets divide medians. Objects a case creates (keygen, derive, \
C_CreateObject) are destroyed after each repetition, untimed. The find case creates {objects} \
token AES keys once per side, untimed, then times C_FindObjectsInit + C_FindObjects + \
C_FindObjectsFinal of one label. The 2-thread rows run one session per thread, both signing \
with the same key; ops/s is their sum. OAEP uses SHA-1/MGF1-SHA-1, the one SoftHSM supports; \
CKM_ECDSA signs a 32-byte (P-256) or 48-byte (P-384) digest.\n",
            reps = p.reps,
            rep_ms = p.rep_time.as_millis(),
            objects = ops(p.find_objects as f64),
            store = self.options.store_dir.display(),
        )
    }

    fn markdown(&self) -> String {
        let mut out = String::from("# Benchmarks\n\n");
        let _ = write!(
            out,
            "Generated on {} by `scripts/bench.sh`, which runs\n\n```sh\n{}\n```\n\n\
Everything above the marker line near the end is generated; the notes below it are kept.\n\n",
            run(&["date", "-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "an unknown date".into()),
            self.command()
        );
        if self.options.plan.smoke {
            out.push_str(
                "**Smoke run: a handful of operations per case; the numbers mean nothing.**\n\n",
            );
        }
        let _ = write!(out, "## Results\n\n{}\n", self.table());
        if present(self.results, SideId::Ours) && present(self.results, SideId::SoftHsm) {
            let _ = write!(out, "## Targets (issue 6)\n\n{}\n", self.targets_table());
        }
        let _ = write!(out, "## Peak RSS\n\n{}\n", self.rss());
        let _ = write!(out, "## Method\n\n{}\n", self.method());
        let _ = write!(out, "## Machine\n\n{}\n", machine());
        let _ = write!(out, "## Versions\n\n{}\n", self.versions());
        out
    }

    fn versions(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "- rustc: {}",
            run(&["rustc", "-V"]).unwrap_or_else(|| "unknown".into())
        );
        for s in &self.results.sides {
            let extra = match s.id {
                SideId::SoftHsm => run(&["dpkg-query", "-W", "-f", "${Version}", "softhsm2"])
                    .map(|v| format!(" — Debian package softhsm2 {v}"))
                    .unwrap_or_default(),
                SideId::Ours => {
                    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                    let path = &self.options.ours;
                    format!(" — {}", path.strip_prefix(root).unwrap_or(path).display())
                }
                SideId::Raw => continue, // its crate versions follow
            };
            let _ = writeln!(out, "- {}: {}{extra}", side_title(s.id), s.description);
        }
        for krate in ["aws-lc-rs", "aws-lc-sys", "cryptoki"] {
            if let Some(v) = locked_version(krate) {
                let _ = writeln!(out, "- {krate} {v}");
            }
        }
        out
    }

    /// Writes the markdown to `path`, keeping what follows the marker in the existing file.
    pub(crate) fn write(&self, path: &Path) -> std::io::Result<()> {
        let notes = std::fs::read_to_string(path)
            .ok()
            .and_then(|old| {
                old.find(MARKER)
                    .map(|at| old[at + MARKER.len()..].to_string())
            })
            .unwrap_or_else(|| DEFAULT_NOTES.to_string());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, format!("{}{MARKER}{notes}", self.markdown()))
    }
}

/// A command's trimmed stdout, if it ran and succeeded.
fn run(argv: &[&str]) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or("unknown".into(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    let cores = std::thread::available_parallelism().map_or("unknown".into(), |n| n.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("PRETTY_NAME=")
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    format!(
        "- CPU: {model}, `nproc` = {cores}\n- memory: {memory}\n- OS: {os}, Linux {}\n",
        kernel.trim()
    )
}

/// The version of `krate` in the package's Cargo.lock.
fn locked_version(krate: &str) -> Option<String> {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).ok()?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{krate}\"") {
            return lines
                .next()?
                .strip_prefix("version = ")
                .map(|v| v.trim_matches('"').to_string());
        }
    }
    None
}
