//! The parent process: starts one child per side with its own throw-away store, then for each
//! case prepares every side (in parallel, untimed), warms each up, and runs the repetitions one
//! side at a time, rotating the order every repetition so noise hits all sides alike.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::cases::{Case, CASES};
use crate::child::PREFIX;
use crate::{Options, Plan};

/// The sides, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SideId {
    Ours,
    SoftHsm,
    Raw,
}

impl SideId {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SideId::Ours => "ours",
            SideId::SoftHsm => "softhsm",
            SideId::Raw => "raw",
        }
    }
}

/// A case's numbers on one side: medians over the repetitions.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    pub(crate) ops_per_s: f64,
    /// ops/s of each repetition, in run order (for ratios between sides).
    pub(crate) rep_rates: Vec<f64>,
    pub(crate) cpu_ns_per_op: f64,
    pub(crate) p50_ns: u64,
    pub(crate) p99_ns: u64,
}

#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Measured(Stats),
    /// CKR_MECHANISM_INVALID (or no raw equivalent).
    NotSupported(String),
    Failed(String),
}

pub(crate) struct CaseResult {
    pub(crate) case: &'static Case,
    pub(crate) cells: BTreeMap<SideId, Cell>,
}

impl CaseResult {
    pub(crate) fn stats(&self, side: SideId) -> Option<&Stats> {
        match self.cells.get(&side) {
            Some(Cell::Measured(s)) => Some(s),
            _ => None,
        }
    }
}

pub(crate) struct SideInfo {
    pub(crate) id: SideId,
    pub(crate) description: String,
    pub(crate) peak_rss_kib: Option<u64>,
}

pub(crate) struct Results {
    pub(crate) cases: Vec<CaseResult>,
    pub(crate) sides: Vec<SideInfo>,
}

impl Results {
    pub(crate) fn has_errors(&self) -> bool {
        self.cases
            .iter()
            .any(|c| c.cells.values().any(|cell| matches!(cell, Cell::Failed(_))))
    }

    pub(crate) fn case(&self, name: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.case.name == name)
    }
}

enum Reply {
    Ok(Vec<String>),
    NotSupported(String),
    Failed(String),
}

struct Worker {
    id: SideId,
    process: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Set once the child died or broke the protocol: it gets no more requests.
    broken: Option<String>,
}

impl Worker {
    fn spawn(
        id: SideId,
        module: Option<&Path>,
        plan: &Plan,
        store: &Path,
    ) -> Result<Worker, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("--child");
        match module {
            Some(m) => {
                cmd.args(["module", "--module"])
                    .arg(m)
                    .args(["--objects", &plan.find_objects.to_string()]);
            }
            None => {
                cmd.arg("raw");
            }
        }
        match id {
            SideId::Ours => {
                std::fs::create_dir_all(store).map_err(|e| format!("{}: {e}", store.display()))?;
                // The embedded default slot on this store, but with the key quota (CloudHSM's
                // 16,666 by default) lifted: aes-keygen keeps every key it makes until the case
                // ends, as it does on SoftHSM, which has no quota.
                let conf = store.join("cloudhsm-pkcs11.toml");
                let text = format!(
                    "[[cluster]]\nname = \"default\"\nlabel = \"cloudhsm\"\nstore = {:?}\nmax_keys = 100000000\n",
                    store.display().to_string()
                );
                std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
                cmd.env("CLOUDHSM_HOME", store)
                    .env("CLOUDHSM_PKCS11_CONF", conf)
                    .env_remove("CLOUDHSM_PKCS11_LOG");
            }
            SideId::SoftHsm => {
                let tokens = store.join("tokens");
                std::fs::create_dir_all(&tokens)
                    .map_err(|e| format!("{}: {e}", tokens.display()))?;
                let conf = store.join("softhsm2.conf");
                let text = format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                    tokens.display()
                );
                std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
                cmd.env("SOFTHSM2_CONF", conf);
            }
            SideId::Raw => {}
        }
        let mut process = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting the {} child: {e}", id.name()))?;
        let (Some(stdin), Some(stdout)) = (process.stdin.take(), process.stdout.take()) else {
            return Err("child without pipes".into());
        };
        Ok(Worker {
            id,
            process,
            stdin,
            stdout: BufReader::new(stdout),
            broken: None,
        })
    }

    fn send(&mut self, request: &str) {
        if self.broken.is_some() {
            return;
        }
        if let Err(e) = writeln!(self.stdin, "{request}").and_then(|()| self.stdin.flush()) {
            self.broken = Some(format!("the {} child is gone: {e}", self.id.name()));
        }
    }

    fn receive(&mut self) -> Reply {
        if let Some(why) = &self.broken {
            return Reply::Failed(why.clone());
        }
        let mut line = String::new();
        loop {
            line.clear();
            match self.stdout.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    let status = self
                        .process
                        .wait()
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    let why = format!("the {} child died ({status})", self.id.name());
                    self.broken = Some(why.clone());
                    return Reply::Failed(why);
                }
                Ok(_) => {}
            }
            let Some(rest) = line.trim_end().strip_prefix(PREFIX) else {
                eprint!("[{}] {line}", self.id.name()); // the module's own output
                continue;
            };
            let (word, text) = rest.split_once(' ').unwrap_or((rest, ""));
            return match word {
                "ok" => Reply::Ok(text.split_whitespace().map(str::to_string).collect()),
                "na" => Reply::NotSupported(text.to_string()),
                _ => Reply::Failed(text.to_string()),
            };
        }
    }

    fn request(&mut self, request: &str) -> Reply {
        self.send(request);
        self.receive()
    }

    /// A reply of `n` numbers.
    fn numbers<const N: usize>(&mut self, request: &str) -> Result<[u64; N], Cell> {
        match self.request(request) {
            Reply::Ok(words) => {
                let parsed: Vec<u64> = words.iter().filter_map(|w| w.parse().ok()).collect();
                <[u64; N]>::try_from(parsed)
                    .map_err(|_| Cell::Failed(format!("bad reply {words:?}")))
            }
            Reply::NotSupported(why) => Err(Cell::NotSupported(why)),
            Reply::Failed(why) => Err(Cell::Failed(why)),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.broken.is_none() {
            self.send("quit");
        }
        let _ = self.process.wait();
    }
}

/// The sides to run, each with its module, leaving out (under `cargo test`) a module that is
/// not installed.
fn chosen_sides(options: &Options) -> Result<Vec<(SideId, Option<&Path>)>, String> {
    let mut sides = Vec::new();
    for name in &options.sides {
        let (id, module) = match name.as_str() {
            "ours" => (SideId::Ours, Some(options.ours.as_path())),
            "softhsm" => (SideId::SoftHsm, Some(options.softhsm.as_path())),
            _ => (SideId::Raw, None),
        };
        if let Some(m) = module {
            if !m.exists() {
                let hint = match id {
                    SideId::Ours => "build it with `cargo build --release`, or pass --ours PATH",
                    _ => "install it with `apt-get install softhsm2`, or pass --softhsm PATH",
                };
                if options.lenient {
                    eprintln!(
                        "note: {} not found, the {} side is left out ({hint})",
                        m.display(),
                        id.name()
                    );
                    continue;
                }
                return Err(format!("{} not found: {hint}", m.display()));
            }
        }
        sides.push((id, module));
    }
    sides.sort_by_key(|(id, _)| *id);
    sides.dedup_by_key(|(id, _)| *id);
    Ok(sides)
}

pub(crate) fn run(options: &Options) -> Result<Results, String> {
    let plan = &options.plan;
    let stores = tempfile::Builder::new()
        .prefix("pkcs11-bench-")
        .tempdir_in(&options.store_dir)
        .map_err(|e| format!("temp dir: {e}"))?;
    let mut workers = Vec::new();
    for (id, module) in chosen_sides(options)? {
        workers.push(Worker::spawn(
            id,
            module,
            plan,
            &stores.path().join(id.name()),
        )?);
    }
    // The children load and provision at once, in parallel; collect their greetings.
    let mut sides = Vec::new();
    for w in &mut workers {
        let description = match w.receive() {
            Reply::Ok(words) => words.join(" "),
            Reply::NotSupported(why) | Reply::Failed(why) => {
                return Err(format!("the {} side could not start: {why}", w.id.name()));
            }
        };
        eprintln!("{:<8} {description}", w.id.name());
        sides.push(SideInfo {
            id: w.id,
            description,
            peak_rss_kib: None,
        });
    }

    let mut cases = Vec::new();
    for case in &options.cases {
        let index = CASES
            .iter()
            .position(|c| std::ptr::eq(c, *case))
            .unwrap_or_default();
        cases.push(run_case(&mut workers, case, index, plan));
    }

    for (w, info) in workers.iter_mut().zip(&mut sides) {
        info.peak_rss_kib = w.numbers::<1>("rss").ok().map(|[kib]| kib);
    }
    drop(workers); // the children exit before their stores are removed
    Ok(Results { cases, sides })
}

fn run_case(workers: &mut [Worker], case: &'static Case, index: usize, plan: &Plan) -> CaseResult {
    let mut cells = BTreeMap::new();
    let active: Vec<usize> = (0..workers.len())
        .filter(|&i| workers[i].id != SideId::Raw || case.has_raw())
        .collect();
    if let Some(raw) = workers
        .iter()
        .find(|w| w.id == SideId::Raw && !case.has_raw())
    {
        cells.insert(raw.id, Cell::NotSupported("no raw equivalent".into()));
    }

    // Prepare on every side at once: it is untimed and may be slow (keys, 10,000 objects).
    for &i in &active {
        workers[i].send(&format!("prep {index}"));
    }
    let mut ready = Vec::new();
    for &i in &active {
        match workers[i].receive() {
            Reply::Ok(_) => ready.push(i),
            Reply::NotSupported(why) => drop(cells.insert(workers[i].id, Cell::NotSupported(why))),
            Reply::Failed(why) => drop(cells.insert(workers[i].id, Cell::Failed(why))),
        }
    }

    let run = |w: &mut Worker, warmup: bool| {
        let limits = plan.limits(case, warmup);
        let request = format!(
            "run {index} {} {} {}",
            u8::from(warmup),
            limits.time.as_micros(),
            limits.max_ops
        );
        w.numbers::<3>(&request)
    };
    let mut samples: BTreeMap<usize, Vec<[u64; 3]>> = BTreeMap::new();
    for &i in &ready {
        if let Err(cell) = run(&mut workers[i], true) {
            cells.insert(workers[i].id, cell);
        }
    }
    for rep in 0..plan.reps {
        let live: Vec<usize> = ready
            .iter()
            .copied()
            .filter(|i| !cells.contains_key(&workers[*i].id))
            .collect();
        for k in 0..live.len() {
            let i = live[(k + rep) % live.len()];
            match run(&mut workers[i], false) {
                Ok(s) => samples.entry(i).or_default().push(s),
                Err(cell) => drop(cells.insert(workers[i].id, cell)),
            }
        }
    }
    for &i in &ready {
        let id = workers[i].id;
        let latency = workers[i].numbers::<2>("lat");
        if cells.contains_key(&id) {
            continue;
        }
        let Some(reps) = samples.get(&i).filter(|s| !s.is_empty()) else {
            cells.insert(id, Cell::Failed("no repetitions".into()));
            continue;
        };
        let cell = match latency {
            Ok([p50_ns, p99_ns]) => Cell::Measured(Stats {
                ops_per_s: median(
                    reps.iter()
                        .map(|[ops, wall, _]| *ops as f64 * 1e9 / (*wall).max(1) as f64),
                ),
                rep_rates: reps
                    .iter()
                    .map(|[ops, wall, _]| *ops as f64 * 1e9 / (*wall).max(1) as f64)
                    .collect(),
                cpu_ns_per_op: median(
                    reps.iter()
                        .map(|[ops, _, cpu]| *cpu as f64 / (*ops).max(1) as f64),
                ),
                p50_ns,
                p99_ns,
            }),
            Err(cell) => cell,
        };
        cells.insert(id, cell);
    }
    let line: Vec<String> = cells
        .iter()
        .map(|(id, cell)| match cell {
            Cell::Measured(s) => format!("{} {:.0}/s", id.name(), s.ops_per_s),
            Cell::NotSupported(_) => format!("{} n/a", id.name()),
            Cell::Failed(why) => format!("{} ERROR {why}", id.name()),
        })
        .collect();
    eprintln!("{:<36} {}", case.name, line.join("  "));
    CaseResult { case, cells }
}

pub(crate) fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
