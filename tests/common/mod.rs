//! Shared helpers of the black-box suite: the tests load the built `libcloudhsm_pkcs11.so`
//! through the `cryptoki` crate (and, for what that crate hides, through the raw symbols of
//! `cryptoki_sys`), as real applications do.
//!
//! The module is process-global: it reads `CLOUDHSM_PKCS11_CONF` at C_Initialize and keeps
//! login state per process. So a scenario never loads it in the test process itself: each
//! *step* of a scenario runs in a child process, the test binary re-executed with
//! `--exact <test> --nocapture` and `CLOUDHSM_TEST_STEP=<step>`, on the scenario's own
//! throw-away store. Steps talk to each other through the store (that is the point: what one
//! process wrote, the next one must see) and through their output lines.
//!
//! Every scenario is declared once with `black_box_suite!` and runs twice: with the slot's
//! transport "direct" and "wire" (every request encoded as on the network).
//!
//! The module under test is `$CLOUDHSM_PKCS11_MODULE` if set (used as is), else
//! `<target>/release/libcloudhsm_pkcs11.so`, built first if missing or older than the sources.
//! Run one scenario with its steps' output: `cargo test --release --test objects
//! find_among_10000 -- --nocapture`.
#![allow(dead_code, unreachable_pub, unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;

/// The admin's password once the token is activated (C_InitToken's SO PIN).
pub const SO_PIN: &str = "so-password";
/// The slot's default crypto user `user` (a bare PIN names it).
pub const USER_PIN: &str = "user-password";
/// Crypto users in CloudHSM's `name:password` form.
pub const CU1: &str = "cu1:cu1-password";
pub const CU2: &str = "cu2:cu2-password";
/// The label the configuration gives the slot (the token label of a fresh store).
pub const CONFIG_LABEL: &str = "black-box";
/// The token label C_InitToken sets.
pub const TOKEN_LABEL: &str = "activated";

const STEP_VAR: &str = "CLOUDHSM_TEST_STEP";
const TEST_VAR: &str = "CLOUDHSM_TEST_NAME";
const DIR_VAR: &str = "CLOUDHSM_TEST_DIR";
const TRANSPORT_VAR: &str = "CLOUDHSM_TEST_TRANSPORT";
const ARG_PREFIX: &str = "CLOUDHSM_TEST_ARG_";
/// An explicit module to test (used as is, never rebuilt).
const MODULE_VAR: &str = "CLOUDHSM_PKCS11_MODULE";
/// Printed by a child when its step returned: a child that ran no test must not pass.
const STEP_DONE: &str = "@@step-done";
/// No step may take longer (the 10,000-object step is the slowest by far).
const STEP_TIMEOUT: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------- the module

/// How the slot reaches its HSM core (`transport` in the cluster's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Direct,
    Wire,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Direct => "direct",
            Transport::Wire => "wire",
        }
    }
    fn parse(s: &str) -> Transport {
        match s {
            "direct" => Transport::Direct,
            "wire" => Transport::Wire,
            other => panic!("unknown transport {other:?}"),
        }
    }
}

/// The built module: `$CLOUDHSM_PKCS11_MODULE` if set, else `<target>/release/libcloudhsm_pkcs11.so`
/// (`CARGO_TARGET_DIR` aware), built with `cargo build --release --lib` first if it is missing
/// or older than the sources (once, under a file lock, so parallel test binaries don't race).
pub fn module_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(locate_module).clone()
}

fn locate_module() -> PathBuf {
    if let Some(p) = std::env::var_os(MODULE_VAR).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{MODULE_VAR}={} does not exist", p.display());
        return p;
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = target_dir(&manifest);
    let so = target.join("release").join("libcloudhsm_pkcs11.so");
    build_if_needed(&manifest, &target, &so);
    so
}

fn target_dir(manifest: &Path) -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR").filter(|t| !t.is_empty()) {
        let t = PathBuf::from(t);
        return if t.is_absolute() { t } else { manifest.join(t) };
    }
    // A test binary runs from <target>/<profile>/deps/: the target dir is the ancestor that
    // cargo tagged (this also follows a target dir set in .cargo/config.toml).
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe
            .ancestors()
            .skip(1)
            .find(|d| d.join("CACHEDIR.TAG").is_file())
        {
            return dir.to_path_buf();
        }
    }
    manifest.join("target")
}

fn newest_mtime(path: &Path, newest: &mut Option<SystemTime>) {
    let Ok(meta) = fs::metadata(path) else { return };
    if meta.is_dir() {
        for entry in fs::read_dir(path).into_iter().flatten().flatten() {
            newest_mtime(&entry.path(), newest);
        }
    } else if let Ok(t) = meta.modified() {
        if newest.is_none_or(|n| t > n) {
            *newest = Some(t);
        }
    }
}

fn module_is_fresh(manifest: &Path, so: &Path) -> bool {
    let Ok(built) = fs::metadata(so).and_then(|m| m.modified()) else {
        return false;
    };
    let mut newest = None;
    for p in ["src", "include", "build.rs", "Cargo.toml", "Cargo.lock"] {
        newest_mtime(&manifest.join(p), &mut newest);
    }
    newest.is_none_or(|n| n <= built)
}

fn build_if_needed(manifest: &Path, target: &Path, so: &Path) {
    if module_is_fresh(manifest, so) {
        return;
    }
    fs::create_dir_all(target).unwrap();
    let lock = File::create(target.join(".black-box-module-build.lock")).unwrap();
    // SAFETY: flock on a file descriptor we own for the duration of the call; the lock is
    // released when `lock` is closed at the end of this function.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "cannot lock {}", target.display());
    if module_is_fresh(manifest, so) {
        return; // another test binary built it while we waited
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--lib"])
        .current_dir(manifest)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .expect("cannot run cargo");
    assert!(
        status.success(),
        "`cargo build --release --lib` failed: {status}"
    );
    assert!(so.is_file(), "{} was not built", so.display());
}

// ---------------------------------------------------------------------------- scenarios

/// A step: what one child process does.
pub type Step = fn(&Ctx);

/// Declares the steps of a test file and its scenarios. Each scenario `name` is a function
/// `fn name(env: &Env)` run in the test process; it becomes the two tests `name::direct` and
/// `name::wire`. Steps are `fn step(ctx: &Ctx)` and run in child processes (`env.run("step")`).
macro_rules! black_box_suite {
    (steps: [$($step:ident),* $(,)?]; scenarios: [$($sc:ident),* $(,)?] $(;)?) => {
        static STEPS: &[(&str, common::Step)] = &[$((stringify!($step), $step as common::Step)),*];
        $(
            mod $sc {
                #[test]
                fn direct() {
                    crate::common::scenario(
                        concat!(stringify!($sc), "::direct"),
                        crate::common::Transport::Direct,
                        super::$sc,
                        super::STEPS,
                    );
                }
                #[test]
                fn wire() {
                    crate::common::scenario(
                        concat!(stringify!($sc), "::wire"),
                        crate::common::Transport::Wire,
                        super::$sc,
                        super::STEPS,
                    );
                }
            }
        )*
    };
}

/// The entry point of every scenario test. In the test process: make a store and run `body`.
/// In a child (re-executed with a step named): run that step and say so.
pub fn scenario(
    test: &'static str,
    transport: Transport,
    body: fn(&Env),
    steps: &'static [(&'static str, Step)],
) {
    if let Ok(step) = std::env::var(STEP_VAR) {
        assert_eq!(
            std::env::var(TEST_VAR).as_deref(),
            Ok(test),
            "a child ran the wrong test"
        );
        let f = steps
            .iter()
            .find(|(n, _)| *n == step)
            .unwrap_or_else(|| panic!("unknown step {step}"))
            .1;
        let ctx = Ctx::from_env();
        assert_eq!(ctx.transport, transport);
        if std::env::var_os(format!("{ARG_PREFIX}unpinned")).is_none() {
            // Keep the module loaded for the life of the child: the `cryptoki` crate dlcloses
            // it when a context drops, and unloading it under a live thread is a separate
            // question with its own test (module_basics `unload_and_thread_exit`).
            std::mem::forget(Raw::load(&ctx.module));
        }
        // libtest has printed "test <name> ... " without a newline: start the step's own lines.
        println!();
        f(&ctx);
        println!("{STEP_DONE} {step}");
        return;
    }
    let env = Env::new(test, transport, steps);
    body(&env);
}

/// The test-process side of a scenario: its throw-away store and config, and its children.
pub struct Env {
    dir: tempfile::TempDir,
    test: &'static str,
    pub transport: Transport,
    steps: &'static [(&'static str, Step)],
    module: PathBuf,
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Env {
    fn new(
        test: &'static str,
        transport: Transport,
        steps: &'static [(&'static str, Step)],
    ) -> Env {
        let module = module_path();
        let dir = tempfile::Builder::new()
            .prefix("cloudhsm-black-box-")
            .tempdir()
            .unwrap();
        let env = Env {
            dir,
            test,
            transport,
            steps,
            module,
        };
        fs::create_dir_all(env.home()).unwrap();
        env.write_config(&env.cluster_toml(CONFIG_LABEL, &env.store()));
        env
    }

    /// The scenario's scratch directory (the store lives in `store/` under it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// The store directory of the configured slot.
    pub fn store(&self) -> PathBuf {
        self.dir().join("store")
    }
    /// `CLOUDHSM_HOME` of the children (nothing should land there with a config).
    pub fn home(&self) -> PathBuf {
        self.dir().join("home")
    }
    pub fn conf(&self) -> PathBuf {
        self.dir().join("cloudhsm-pkcs11.toml")
    }

    /// One `[[cluster]]` table with this scenario's transport.
    pub fn cluster_toml(&self, name: &str, store: &Path) -> String {
        format!(
            "[[cluster]]\nname = {}\nlabel = {}\nstore = {}\ntransport = {}\n",
            toml_string(name),
            toml_string(name),
            toml_string(&store.to_string_lossy()),
            toml_string(self.transport.as_str()),
        )
    }

    /// Replace the configuration the children read.
    pub fn write_config(&self, toml: &str) {
        fs::write(self.conf(), toml).unwrap();
    }

    fn command(&self, step: &str, vars: &[(&str, &str)]) -> Command {
        assert!(
            self.steps.iter().any(|(n, _)| *n == step),
            "no step named {step}"
        );
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([self.test, "--exact", "--nocapture", "--test-threads=1"])
            .env(STEP_VAR, step)
            .env(TEST_VAR, self.test)
            .env(DIR_VAR, self.dir())
            .env(TRANSPORT_VAR, self.transport.as_str())
            .env(MODULE_VAR, &self.module)
            .env("CLOUDHSM_PKCS11_CONF", self.conf())
            .env("CLOUDHSM_HOME", self.home());
        for (k, v) in vars {
            cmd.env(format!("{ARG_PREFIX}{k}"), v);
        }
        cmd
    }

    /// Run a step in a new process and return what it printed; fail the test if it failed.
    pub fn run(&self, step: &str) -> String {
        self.run_with(step, &[])
    }

    /// Same, with named arguments (read in the step with `ctx.arg(name)`).
    pub fn run_with(&self, step: &str, vars: &[(&str, &str)]) -> String {
        let mut cmd = self.command(step, vars);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let status = wait_timeout(&mut child, STEP_TIMEOUT);
        let (out, err) = (out.join().unwrap(), err.join().unwrap());
        let done = format!("{STEP_DONE} {step}");
        let ok = status.is_some_and(|s| s.success()) && out.lines().any(|l| l == done);
        if ok {
            report(step, self.transport, &out, &err);
        }
        assert!(
            ok,
            "step `{step}` ({}) failed: {}\n--- stdout\n{out}\n--- stderr\n{err}",
            self.transport.as_str(),
            describe(status)
        );
        out
    }

    /// Run a step and return how it ended and what it printed, without judging it.
    pub fn run_unchecked(
        &self,
        step: &str,
        vars: &[(&str, &str)],
    ) -> (Option<ExitStatus>, String, String) {
        let mut cmd = self.command(step, vars);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let status = wait_timeout(&mut child, STEP_TIMEOUT);
        (status, out.join().unwrap(), err.join().unwrap())
    }

    /// Start a step and talk to it line by line (stdin/stdout).
    pub fn spawn(&self, step: &str, vars: &[(&str, &str)]) -> Spawned {
        let mut cmd = self.command(step, vars);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let stderr = collect(child.stderr.take().unwrap());
        let transcript = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let t = transcript.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                t.lock().unwrap().push_str(&format!("{line}\n"));
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Spawned {
            child,
            stdin,
            lines: rx,
            transcript,
            stderr: Some(stderr),
            step: step.to_string(),
            transport: self.transport,
        }
    }
}

fn collect<R: Read + Send + 'static>(mut r: R) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn describe(status: Option<ExitStatus>) -> String {
    status.map_or_else(
        || format!("timed out after {STEP_TIMEOUT:?}"),
        |s| s.to_string(),
    )
}

/// Echo a child's output (libtest shows it for failing tests, or with --nocapture).
fn report(step: &str, transport: Transport, out: &str, err: &str) {
    println!("--- step `{step}` ({}):", transport.as_str());
    for line in out.lines().filter(|l| !l.is_empty()) {
        println!("    {line}");
    }
    for line in err.lines().filter(|l| !l.is_empty()) {
        println!("    stderr: {line}");
    }
}

/// A running step the test talks to.
pub struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    transcript: Arc<Mutex<String>>,
    stderr: Option<JoinHandle<String>>,
    step: String,
    transport: Transport,
}

impl Spawned {
    /// The next line the step printed, or None at its end or after `timeout`.
    pub fn next_line(&mut self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Wait for a line starting with `prefix` (other lines are skipped); return it.
    pub fn expect_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while let Some(line) = self.next_line(deadline.saturating_duration_since(Instant::now())) {
            if line.starts_with(prefix) {
                return line;
            }
        }
        let _ = self.child.kill();
        let output = self.output();
        panic!("step `{}` never printed {prefix:?}:\n{output}", self.step);
    }

    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin closed");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// SIGKILL the step; its exit status.
    pub fn kill(&mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }

    /// Every line still buffered (after the step ended).
    pub fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(l) = self.next_line(Duration::from_secs(5)) {
            out.push(l);
        }
        out
    }

    fn output(&mut self) -> String {
        let err = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        format!(
            "--- stdout\n{}\n--- stderr\n{err}",
            self.transcript.lock().unwrap()
        )
    }

    /// Wait for the step to end; fail the test unless it succeeded.
    pub fn finish(mut self) -> String {
        drop(self.stdin.take());
        let status = wait_timeout(&mut self.child, STEP_TIMEOUT);
        while self.next_line(Duration::from_secs(5)).is_some() {}
        let out = self.transcript.lock().unwrap().clone();
        let err = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let done = format!("{STEP_DONE} {}", self.step);
        let ok = status.is_some_and(|s| s.success()) && out.lines().any(|l| l == done);
        if ok {
            report(&self.step, self.transport, &out, &err);
        }
        assert!(
            ok,
            "step `{}` ({}) failed: {}\n--- stdout\n{out}\n--- stderr\n{err}",
            self.step,
            self.transport.as_str(),
            describe(status)
        );
        out
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------- in a child

/// What a step knows: where the scenario's files are and how to load the module.
pub struct Ctx {
    pub dir: PathBuf,
    pub transport: Transport,
    pub module: PathBuf,
}

impl Ctx {
    fn from_env() -> Ctx {
        let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set in a child"));
        Ctx {
            dir: PathBuf::from(var(DIR_VAR)),
            transport: Transport::parse(&var(TRANSPORT_VAR)),
            module: PathBuf::from(var(MODULE_VAR)),
        }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.join("store")
    }
    pub fn conf(&self) -> PathBuf {
        self.dir.join("cloudhsm-pkcs11.toml")
    }

    /// A named argument given by `env.run_with`.
    pub fn arg(&self, name: &str) -> String {
        std::env::var(format!("{ARG_PREFIX}{name}"))
            .unwrap_or_else(|_| panic!("argument {name} not given"))
    }

    /// The module loaded, not initialized.
    pub fn load(&self) -> Pkcs11 {
        Pkcs11::new(&self.module).unwrap()
    }

    /// The module's exported symbols (the same loaded instance as `load`).
    pub fn raw(&self) -> Raw {
        Raw::load(&self.module)
    }

    /// Load and C_Initialize the module; its one configured slot.
    pub fn init(&self) -> Hsm {
        let p11 = self.load();
        p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        Hsm::new(p11, self.raw())
    }
}

/// An initialized module and its slot.
pub struct Hsm {
    pub p11: Pkcs11,
    pub slot: Slot,
    pub raw: Raw,
}

impl Hsm {
    pub fn new(p11: Pkcs11, raw: Raw) -> Hsm {
        let slots = p11.get_slots_with_token().unwrap();
        assert_eq!(slots.len(), 1, "one cluster configured, one slot expected");
        Hsm {
            slot: slots[0],
            p11,
            raw,
        }
    }

    pub fn token_info(&self) -> TokenInfo {
        self.p11.get_token_info(self.slot).unwrap()
    }

    pub fn rw(&self) -> Session {
        self.p11.open_rw_session(self.slot).unwrap()
    }

    pub fn ro(&self) -> Session {
        self.p11.open_ro_session(self.slot).unwrap()
    }

    /// A read-write session logged in as a crypto user (`pin` in either form).
    pub fn user(&self, pin: &str) -> Session {
        let s = self.rw();
        login(&s, UserType::User, pin).unwrap_or_else(|e| panic!("login {pin:?}: {e:?}"));
        s
    }

    /// A read-write session logged in as the admin.
    pub fn so(&self) -> Session {
        let s = self.rw();
        login(&s, UserType::So, SO_PIN).unwrap();
        s
    }

    /// Activate the fresh store (C_InitToken) and create the default crypto user and cu1, cu2.
    pub fn activate(&self) {
        self.activate_with(&[USER_PIN, CU1, CU2]);
    }

    /// Activate and create the given crypto users (C_InitPIN from the admin's session).
    pub fn activate_with(&self, users: &[&str]) {
        self.p11
            .init_token(self.slot, &AuthPin::from(SO_PIN), TOKEN_LABEL)
            .unwrap();
        let so = self.so();
        for pin in users {
            so.init_pin(&AuthPin::from(*pin))
                .unwrap_or_else(|e| panic!("C_InitPIN {pin:?}: {e:?}"));
        }
        so.logout().unwrap();
    }
}

/// A template as raw bytes: (CKA_*, value), for the calls the `cryptoki` crate hides.
pub type RawTemplate = Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>;

/// CK_ATTRIBUTEs pointing into `t`'s own value buffers (keep `t` alive for the call).
pub fn ck_attributes(t: &mut [(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Vec<CK_ATTRIBUTE> {
    t.iter_mut()
        .map(|(ty, v)| CK_ATTRIBUTE {
            type_: *ty,
            pValue: v.as_mut_ptr().cast(),
            ulValueLen: v.len() as CK_ULONG,
        })
        .collect()
}

/// A raw return code as a result: CKR_OK is `Ok(())`, any other code `Err(code)`.
pub fn ck_result(rv: CK_RV) -> Result<(), CK_RV> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(rv)
    }
}

/// The PKCS#11 return code of a call made through the `cryptoki` crate.
pub fn rv<T>(r: cryptoki::error::Result<T>) -> Result<T, RvError> {
    match r {
        Ok(v) => Ok(v),
        Err(CkError::Pkcs11(rv, _)) => Err(rv),
        Err(e) => panic!("not a PKCS#11 return code: {e:?}"),
    }
}

pub fn login(s: &Session, user_type: UserType, pin: &str) -> Result<(), RvError> {
    rv(s.login(user_type, Some(&AuthPin::from(pin))))
}

pub fn find(s: &Session, template: &[Attribute]) -> Vec<ObjectHandle> {
    s.find_objects(template).unwrap()
}

pub fn find_label(s: &Session, label: &str) -> Vec<ObjectHandle> {
    find(s, &[Attribute::Label(label.as_bytes().to_vec())])
}

/// The single object with this label.
pub fn one(s: &Session, label: &str) -> ObjectHandle {
    let found = find_label(s, label);
    assert_eq!(found.len(), 1, "objects labelled {label:?}");
    found[0]
}

/// A data object's template.
pub fn data(label: &str, token: bool, private: bool, value: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(token),
        Attribute::Private(private),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Value(value.to_vec()),
    ]
}

/// One attribute's value; panics unless it is readable.
pub fn attr(s: &Session, o: ObjectHandle, ty: AttributeType) -> Attribute {
    let mut got = s.get_attributes(o, &[ty]).unwrap();
    assert_eq!(got.len(), 1, "attribute {ty:?} not returned");
    got.remove(0)
}

pub fn bytes_attr(s: &Session, o: ObjectHandle, ty: AttributeType) -> Vec<u8> {
    match attr(s, o, ty) {
        Attribute::Label(v)
        | Attribute::Value(v)
        | Attribute::Id(v)
        | Attribute::Modulus(v)
        | Attribute::PublicExponent(v)
        | Attribute::EcParams(v)
        | Attribute::EcPoint(v)
        | Attribute::UniqueId(v)
        | Attribute::PublicKeyInfo(v)
        | Attribute::CheckValue(v)
        | Attribute::Application(v) => v,
        other => panic!("{ty:?} is not a byte string: {other:?}"),
    }
}

pub fn bool_attr(s: &Session, o: ObjectHandle, ty: AttributeType) -> bool {
    // Read through the raw call: the crate's typed decoding is not what is under test here.
    let (rv, out) = raw_get(s, o, &[(ty.into(), Some(8))]);
    assert_eq!(rv, CKR_OK, "reading {ty:?}: {}", ckr_name(rv));
    let v = out[0].value.clone().unwrap();
    assert_eq!(v.len(), 1, "{ty:?} must be one CK_BBOOL byte");
    v[0] != 0
}

pub fn ulong_attr(s: &Session, o: ObjectHandle, ty: AttributeType) -> u64 {
    let (rv, out) = raw_get(s, o, &[(ty.into(), Some(8))]);
    assert_eq!(rv, CKR_OK, "reading {ty:?}: {}", ckr_name(rv));
    let v = out[0].value.clone().unwrap();
    assert_eq!(v.len(), 8, "{ty:?} must be one CK_ULONG");
    u64::from_ne_bytes(v.try_into().unwrap())
}

fn raw_get(
    s: &Session,
    o: ObjectHandle,
    req: &[(CK_ATTRIBUTE_TYPE, Option<usize>)],
) -> (CK_RV, Vec<AttrOut>) {
    RAW.with(|r| r.get_attribute_value(s.handle(), o.handle(), req))
}

thread_local! {
    /// The module's symbols for the helpers above (a child runs its step on one thread).
    static RAW: Raw = Raw::load(&PathBuf::from(std::env::var(MODULE_VAR).unwrap()));
}

// ---------------------------------------------------------------------------- raw calls

/// One attribute as C_GetAttributeValue left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrOut {
    /// ulValueLen after the call (CK_UNAVAILABLE_INFORMATION included).
    pub len: CK_ULONG,
    /// The buffer given (None: pValue was NULL), cut to `len` when that fits.
    pub value: Option<Vec<u8>>,
}

/// The module's exported C symbols, for what the `cryptoki` crate hides: NULL pointers,
/// size queries, too-small buffers, raw templates, stale handles.
pub struct Raw(cryptoki_sys::Pkcs11);

impl Raw {
    pub fn load(path: &Path) -> Raw {
        // SAFETY: loading the module under test; dlopen of an already loaded library returns
        // the same instance, so this shares the state of the `cryptoki` context.
        Raw(unsafe { cryptoki_sys::Pkcs11::new(path) }.unwrap())
    }

    /// The symbols themselves, for calls with deliberately bad arguments.
    pub fn sys(&self) -> &cryptoki_sys::Pkcs11 {
        &self.0
    }

    /// C_GetAttributeValue with, per attribute, a buffer of the given size or NULL.
    pub fn get_attribute_value(
        &self,
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        req: &[(CK_ATTRIBUTE_TYPE, Option<usize>)],
    ) -> (CK_RV, Vec<AttrOut>) {
        let mut bufs: Vec<Option<Vec<u8>>> =
            req.iter().map(|(_, n)| n.map(|n| vec![0u8; n])).collect();
        let mut template: Vec<CK_ATTRIBUTE> = req
            .iter()
            .zip(bufs.iter_mut())
            .map(|((ty, n), b)| CK_ATTRIBUTE {
                type_: *ty,
                pValue: b
                    .as_mut()
                    .map_or(std::ptr::null_mut(), |b| b.as_mut_ptr().cast()),
                ulValueLen: n.unwrap_or(0) as CK_ULONG,
            })
            .collect();
        // SAFETY: every pValue is NULL or points to a live buffer of ulValueLen bytes.
        let rv = unsafe {
            self.0.C_GetAttributeValue(
                session,
                object,
                template.as_mut_ptr(),
                template.len() as CK_ULONG,
            )
        };
        let out = template
            .iter()
            .zip(bufs)
            .map(|(a, b)| AttrOut {
                len: a.ulValueLen,
                value: b.map(|mut b| {
                    if (a.ulValueLen as usize) <= b.len() {
                        b.truncate(a.ulValueLen as usize);
                    }
                    b
                }),
            })
            .collect();
        (rv, out)
    }

    /// C_CreateObject with a template of raw (type, value bytes).
    pub fn create_object(
        &self,
        session: CK_SESSION_HANDLE,
        template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    ) -> Result<CK_OBJECT_HANDLE, CK_RV> {
        let mut values = template.to_vec();
        let mut attrs = ck_attributes(&mut values);
        let mut handle: CK_OBJECT_HANDLE = 0;
        // SAFETY: the template points to `values`, alive for the call; `handle` is writable.
        let rv = unsafe {
            self.0.C_CreateObject(
                session,
                attrs.as_mut_ptr(),
                attrs.len() as CK_ULONG,
                &mut handle,
            )
        };
        ck_result(rv).map(|()| handle)
    }

    pub fn get_session_info(&self, session: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO, CK_RV> {
        let mut info = CK_SESSION_INFO::default();
        // SAFETY: `info` is a writable CK_SESSION_INFO.
        let rv = unsafe { self.0.C_GetSessionInfo(session, &mut info) };
        if rv == CKR_OK {
            Ok(info)
        } else {
            Err(rv)
        }
    }

    pub fn destroy_object(&self, session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> CK_RV {
        // SAFETY: plain integer arguments.
        unsafe { self.0.C_DestroyObject(session, object) }
    }

    pub fn close_session(&self, session: CK_SESSION_HANDLE) -> CK_RV {
        // SAFETY: plain integer argument.
        unsafe { self.0.C_CloseSession(session) }
    }

    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> CK_RV {
        // SAFETY: plain integer argument.
        unsafe { self.0.C_CloseAllSessions(slot) }
    }

    pub fn logout(&self, session: CK_SESSION_HANDLE) -> CK_RV {
        // SAFETY: plain integer argument.
        unsafe { self.0.C_Logout(session) }
    }

    /// C_GetObjectSize.
    pub fn object_size(
        &self,
        session: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
    ) -> Result<CK_ULONG, CK_RV> {
        let mut size: CK_ULONG = 0;
        // SAFETY: `size` is writable.
        let rv = unsafe { self.0.C_GetObjectSize(session, object, &mut size) };
        if rv == CKR_OK {
            Ok(size)
        } else {
            Err(rv)
        }
    }

    /// C_LoginUser (PKCS#11 3.0): an explicit user name.
    pub fn login_user(
        &self,
        session: CK_SESSION_HANDLE,
        user_type: CK_USER_TYPE,
        name: &str,
        pin: &str,
    ) -> CK_RV {
        let mut name = name.as_bytes().to_vec();
        let mut pin = pin.as_bytes().to_vec();
        // SAFETY: both buffers are alive and their lengths given.
        unsafe {
            self.0.C_LoginUser(
                session,
                user_type,
                pin.as_mut_ptr(),
                pin.len() as CK_ULONG,
                name.as_mut_ptr(),
                name.len() as CK_ULONG,
            )
        }
    }

    pub fn login(&self, session: CK_SESSION_HANDLE, user_type: CK_USER_TYPE, pin: &str) -> CK_RV {
        let mut pin = pin.as_bytes().to_vec();
        // SAFETY: the buffer is alive and its length given.
        unsafe {
            self.0
                .C_Login(session, user_type, pin.as_mut_ptr(), pin.len() as CK_ULONG)
        }
    }

    /// C_SignInit with a mechanism without parameters.
    pub fn sign_init(
        &self,
        session: CK_SESSION_HANDLE,
        mech: CK_MECHANISM_TYPE,
        key: CK_OBJECT_HANDLE,
    ) -> CK_RV {
        let mut m = CK_MECHANISM {
            mechanism: mech,
            pParameter: std::ptr::null_mut(),
            ulParameterLen: 0,
        };
        // SAFETY: `m` is a valid mechanism without parameter.
        unsafe { self.0.C_SignInit(session, &mut m, key) }
    }

    /// C_Sign with an output buffer of `cap` bytes (None: NULL, a size query). Returns the
    /// code, pulSignatureLen after the call, and the buffer cut to that length.
    pub fn sign(
        &self,
        session: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> (CK_RV, CK_ULONG, Vec<u8>) {
        let mut data = data.to_vec();
        let mut buf = vec![0u8; cap.unwrap_or(0)];
        let mut len = cap.unwrap_or(0) as CK_ULONG;
        let out = if cap.is_some() {
            buf.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        };
        // SAFETY: `data` and `buf` are alive; `len` is the capacity of `buf`.
        let rv = unsafe {
            self.0.C_Sign(
                session,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                out,
                &mut len,
            )
        };
        if (len as usize) <= buf.len() {
            buf.truncate(len as usize);
        }
        (rv, len, buf)
    }

    /// C_DigestInit with a mechanism without parameters.
    pub fn digest_init(&self, session: CK_SESSION_HANDLE, mech: CK_MECHANISM_TYPE) -> CK_RV {
        let mut m = CK_MECHANISM {
            mechanism: mech,
            pParameter: std::ptr::null_mut(),
            ulParameterLen: 0,
        };
        // SAFETY: `m` is a valid mechanism without parameter.
        unsafe { self.0.C_DigestInit(session, &mut m) }
    }

    /// C_Digest with the output-buffer protocol, as `sign`.
    pub fn digest(
        &self,
        session: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> (CK_RV, CK_ULONG, Vec<u8>) {
        let mut data = data.to_vec();
        let mut buf = vec![0u8; cap.unwrap_or(0)];
        let mut len = cap.unwrap_or(0) as CK_ULONG;
        let out = if cap.is_some() {
            buf.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        };
        // SAFETY: `data` and `buf` are alive; `len` is the capacity of `buf`.
        let rv = unsafe {
            self.0.C_Digest(
                session,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                out,
                &mut len,
            )
        };
        if (len as usize) <= buf.len() {
            buf.truncate(len as usize);
        }
        (rv, len, buf)
    }

    /// C_EncryptInit with CKM_AES_GCM.
    pub fn encrypt_init_gcm(
        &self,
        session: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        iv: &[u8],
        aad: &[u8],
        tag_bits: u64,
    ) -> CK_RV {
        let mut iv = iv.to_vec();
        let mut aad = aad.to_vec();
        let mut params = CK_GCM_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: iv.len() as CK_ULONG,
            ulIvBits: (iv.len() * 8) as CK_ULONG,
            pAAD: if aad.is_empty() {
                std::ptr::null_mut()
            } else {
                aad.as_mut_ptr()
            },
            ulAADLen: aad.len() as CK_ULONG,
            ulTagBits: tag_bits,
        };
        let mut m = CK_MECHANISM {
            mechanism: CKM_AES_GCM,
            pParameter: (&mut params as *mut CK_GCM_PARAMS).cast(),
            ulParameterLen: std::mem::size_of::<CK_GCM_PARAMS>() as CK_ULONG,
        };
        // SAFETY: the parameter block and the buffers it points to outlive the call.
        unsafe { self.0.C_EncryptInit(session, &mut m, key) }
    }

    /// C_Encrypt with the output-buffer protocol, as `sign`.
    pub fn encrypt(
        &self,
        session: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> (CK_RV, CK_ULONG, Vec<u8>) {
        let mut data = data.to_vec();
        let mut buf = vec![0u8; cap.unwrap_or(0)];
        let mut len = cap.unwrap_or(0) as CK_ULONG;
        let out = if cap.is_some() {
            buf.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        };
        // SAFETY: `data` and `buf` are alive; `len` is the capacity of `buf`.
        let rv = unsafe {
            self.0.C_Encrypt(
                session,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                out,
                &mut len,
            )
        };
        if (len as usize) <= buf.len() {
            buf.truncate(len as usize);
        }
        (rv, len, buf)
    }
}

/// A CK_ULONG attribute value as the C ABI lays it out.
pub fn ulong_bytes(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

/// A CK_BBOOL attribute value.
pub fn bool_bytes(v: bool) -> Vec<u8> {
    vec![u8::from(v)]
}

/// A NUL-terminated copy of `s`.
pub fn c_string(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// The CKR_* name of a return code, for messages.
pub fn ckr_name(rv: CK_RV) -> String {
    let known: &[(CK_RV, &str)] = &[
        (CKR_OK, "CKR_OK"),
        (CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"),
        (CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"),
        (CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"),
        (CKR_NO_EVENT, "CKR_NO_EVENT"),
        (CKR_CANT_LOCK, "CKR_CANT_LOCK"),
        (CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY"),
        (CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"),
        (CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"),
        (CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"),
        (CKR_ACTION_PROHIBITED, "CKR_ACTION_PROHIBITED"),
        (CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"),
        (CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"),
        (CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"),
        (CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"),
        (
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            "CKR_KEY_FUNCTION_NOT_PERMITTED",
        ),
        (CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"),
        (CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"),
        (CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"),
        (
            CKR_OPERATION_NOT_INITIALIZED,
            "CKR_OPERATION_NOT_INITIALIZED",
        ),
        (CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"),
        (CKR_PIN_LOCKED, "CKR_PIN_LOCKED"),
        (CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"),
        (CKR_SESSION_COUNT, "CKR_SESSION_COUNT"),
        (CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"),
        (
            CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            "CKR_SESSION_PARALLEL_NOT_SUPPORTED",
        ),
        (CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"),
        (CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS"),
        (CKR_SESSION_READ_ONLY_EXISTS, "CKR_SESSION_READ_ONLY_EXISTS"),
        (
            CKR_SESSION_READ_WRITE_SO_EXISTS,
            "CKR_SESSION_READ_WRITE_SO_EXISTS",
        ),
        (CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID"),
        (CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"),
        (CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"),
        (CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"),
        (CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"),
        (CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"),
        (CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"),
        (
            CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
            "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
        ),
        (CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"),
        (CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"),
        (
            CKR_CRYPTOKI_ALREADY_INITIALIZED,
            "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        ),
    ];
    known
        .iter()
        .find(|(v, _)| *v == rv)
        .map_or_else(|| format!("CKR_{rv:#x}"), |(_, n)| (*n).to_string())
}

/// Assert a raw return code, naming both sides on failure.
#[track_caller]
pub fn assert_rv(got: CK_RV, want: CK_RV, what: &str) {
    assert!(
        got == want,
        "{what}: got {}, want {}",
        ckr_name(got),
        ckr_name(want)
    );
}

/// Hex, for messages and arguments.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    s.as_bytes()
        .chunks(2)
        .map(|c| {
            assert_eq!(c.len(), 2, "odd hex {s:?}");
            u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()
        })
        .collect()
}

/// DER OBJECT IDENTIFIERs of the curves (CKA_EC_PARAMS).
pub const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
pub const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
pub const P521_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];

/// The content of a DER OCTET STRING (CKA_EC_POINT), panicking on anything else.
pub fn der_octet_string(der: &[u8]) -> Vec<u8> {
    assert!(
        der.len() >= 2 && der[0] == 0x04,
        "CKA_EC_POINT must be a DER OCTET STRING: {}",
        hex(der)
    );
    let (len, start) = match der[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (der[2] as usize, 3),
        0x82 => (((der[2] as usize) << 8) | der[3] as usize, 4),
        _ => panic!("bad DER length in {}", hex(der)),
    };
    assert_eq!(der.len(), start + len, "DER OCTET STRING length");
    der[start..].to_vec()
}

/// Read all of a file, or nothing if it does not exist.
pub fn read_or_empty(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap_or_default()
}

impl Raw {
    /// The module's function list, for calls the helpers above do not wrap.
    pub fn functions(&self) -> &cryptoki_sys::Pkcs11 {
        &self.0
    }
}
