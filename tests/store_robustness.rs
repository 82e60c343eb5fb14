//! The store under real processes: two processes seeing each other's objects, a child after
//! fork, a process SIGKILLed in the middle of 1,000 writes, a flipped (or moved) byte in the
//! database, and no key bytes or private labels in clear in the store files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use cryptoki_sys::*;

black_box_suite! {
    steps: [
        activate, watcher, writer, check_shared, fork_child_works, kill_writer, after_kill,
        make_victims, tampered_private, tampered_public, untampered, secrets_at_rest, reopen_secrets,
    ];
    scenarios: [
        two_processes, fork_child, sigkill_mid_writes, flipped_byte_detected, no_plaintext_at_rest,
    ];
}

fn activate(ctx: &Ctx) {
    ctx.init().activate_with(&[CU1]);
}

// ---------------------------------------------------------------------------- two processes

/// B is initialized and logged in before A writes; B's next find sees A's objects, and A'
/// (a third process) sees B's deletion.
fn two_processes(env: &Env) {
    env.run("activate");
    let mut b = env.spawn("watcher", &[]);
    b.expect_line("READY");
    env.run("writer");
    b.send_line("GO");
    b.expect_line("FOUND");
    b.finish();
    env.run("check_shared");
}

fn watcher(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    assert!(find_label(&s, "shared-key").is_empty());
    assert!(find_label(&s, "shared-data").is_empty());
    println!("READY");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "GO");
    // The very next C_FindObjectsInit sees what the other process committed.
    let data = one(&s, "shared-data");
    assert_eq!(bytes_attr(&s, data, AttributeType::Value), b"written by A");
    let key = one(&s, "shared-key");
    // And the private key works here.
    let mut iv = [3u8; 12];
    let c = s
        .encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
            key,
            b"hello",
        )
        .unwrap();
    let back = s
        .decrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
            key,
            &c,
        )
        .unwrap();
    assert_eq!(back, b"hello");
    // An attribute change by A is seen too: A relabelled "shared-old" before B looked.
    assert_eq!(find_label(&s, "shared-renamed").len(), 1);
    assert!(find_label(&s, "shared-old").is_empty());
    s.destroy_object(data).unwrap();
    println!("FOUND");
}

fn writer(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    s.create_object(&data("shared-data", true, false, b"written by A"))
        .unwrap();
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::ValueLen(32.into()),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Label(b"shared-key".to_vec()),
        ],
    )
    .unwrap();
    let o = s
        .create_object(&data("shared-old", true, true, b"x"))
        .unwrap();
    s.update_attributes(o, &[Attribute::Label(b"shared-renamed".to_vec())])
        .unwrap();
}

fn check_shared(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    assert!(
        find_label(&s, "shared-data").is_empty(),
        "B's deletion is seen by a new process"
    );
    assert_eq!(find_label(&s, "shared-key").len(), 1);
}

// ---------------------------------------------------------------------------- fork

fn fork_child(env: &Env) {
    env.run("activate");
    env.run("fork_child_works");
}

/// What the forked child does; its exit code says which check failed (0: all passed).
fn in_child(ctx: &Ctx, p11: &cryptoki::context::Pkcs11) -> i32 {
    let raw = ctx.raw();
    let mut count: CK_ULONG = 0;
    // SAFETY: count query with a writable count.
    if unsafe {
        raw.sys()
            .C_GetSlotList(CK_FALSE, std::ptr::null_mut(), &mut count)
    } != CKR_CRYPTOKI_NOT_INITIALIZED
    {
        return 2;
    }
    let mut info = CK_INFO::default();
    // SAFETY: a writable CK_INFO.
    if unsafe { raw.sys().C_GetInfo(&mut info) } != CKR_CRYPTOKI_NOT_INITIALIZED {
        return 3;
    }
    if p11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .is_err()
    {
        return 4;
    }
    let Ok(slots) = p11.get_slots_with_token() else {
        return 5;
    };
    let Ok(s) = p11.open_rw_session(slots[0]) else {
        return 6;
    };
    if s.login(UserType::User, Some(&AuthPin::from(CU1))).is_err() {
        return 7;
    }
    let Ok(found) = s.find_objects(&[Attribute::Label(b"fork-key".to_vec())]) else {
        return 8;
    };
    if found.len() != 2 {
        return 9;
    }
    let Some(private) = found.iter().copied().find(|o| {
        s.get_attributes(*o, &[AttributeType::Class])
            .ok()
            .is_some_and(|a| a.contains(&Attribute::Class(ObjectClass::PRIVATE_KEY)))
    }) else {
        return 10;
    };
    let public = if found[0] == private {
        found[1]
    } else {
        found[0]
    };
    let Ok(sig) = s.sign(&Mechanism::EcdsaSha256, private, b"signed in the child") else {
        return 11;
    };
    if s.verify(
        &Mechanism::EcdsaSha256,
        public,
        b"signed in the child",
        &sig,
    )
    .is_err()
    {
        return 12;
    }
    // The child can create objects too.
    if s.create_object(&data("made-in-child", true, false, b"c"))
        .is_err()
    {
        return 13;
    }
    0
}

fn fork_child_works(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(P256_OID.to_vec()),
                Attribute::Verify(true),
                Attribute::Label(b"fork-key".to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Sign(true),
                Attribute::Label(b"fork-key".to_vec()),
            ],
        )
        .unwrap();
    s.sign(&Mechanism::EcdsaSha256, private, b"before fork")
        .unwrap();

    // SAFETY: the child only calls the module and exits with _exit, never returning into the
    // test harness; the parent waits for it.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| in_child(ctx, &hsm.p11)))
                .unwrap_or(99);
        // SAFETY: leave the child at once: no destructors, no atexit handlers of the parent.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status),
        "the forked child died: status {status:#x}"
    );
    let what = [
        "",
        "",
        "C_GetSlotList in the child must return CKR_CRYPTOKI_NOT_INITIALIZED",
        "C_GetInfo in the child must return CKR_CRYPTOKI_NOT_INITIALIZED",
        "C_Initialize in the child failed",
        "C_GetSlotList in the child failed",
        "C_OpenSession in the child failed",
        "C_Login in the child failed",
        "C_FindObjects in the child failed",
        "the child did not find the key pair",
        "the child did not find the private key",
        "C_Sign in the child failed",
        "C_Verify in the child failed",
        "C_CreateObject in the child failed",
    ];
    let code = libc::WEXITSTATUS(status);
    assert_eq!(
        code,
        0,
        "forked child: {}",
        what.get(code as usize).copied().unwrap_or("panicked")
    );

    // The parent is unaffected and sees what the child made.
    let sig = s
        .sign(&Mechanism::EcdsaSha256, private, b"after fork")
        .unwrap();
    s.verify(&Mechanism::EcdsaSha256, public, b"after fork", &sig)
        .unwrap();
    assert_eq!(find_label(&s, "made-in-child").len(), 1);
}

// ---------------------------------------------------------------------------- SIGKILL

const WRITES: usize = 1000;
const KILL_AFTER: usize = 300;

fn kill_label(i: usize) -> String {
    format!("kill-{i:04}")
}

fn sigkill_mid_writes(env: &Env) {
    env.run("activate");
    let mut w = env.spawn("kill_writer", &[]);
    let mut printed: Vec<String> = Vec::new();
    while printed.len() < KILL_AFTER {
        let line = w
            .next_line(Duration::from_secs(120))
            .unwrap_or_else(|| panic!("the writer stopped after {} objects", printed.len()));
        if let Some(label) = line.strip_prefix("CREATED ") {
            printed.push(label.to_string());
        }
    }
    let status = w.kill();
    // Lines already in the pipe were printed after C_CreateObject returned: committed too.
    for line in w.drain() {
        if let Some(label) = line.strip_prefix("CREATED ") {
            printed.push(label.to_string());
        }
    }
    println!(
        "killed the writer after {} printed objects ({status})",
        printed.len()
    );
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the writer must die by SIGKILL, not finish"
    );
    let list = env.dir().join("printed.txt");
    std::fs::write(&list, printed.join("\n")).unwrap();
    env.run_with("after_kill", &[("printed", &list.to_string_lossy())]);
}

fn kill_writer(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    for i in 0..WRITES {
        let label = kill_label(i);
        // Alternately private and public, with the label as value.
        s.create_object(&data(&label, true, i % 2 == 0, label.as_bytes()))
            .unwrap();
        println!("CREATED {label}");
    }
    println!("ALL WRITTEN");
    // Wait to be killed (the test kills after 300 lines).
    std::thread::sleep(Duration::from_secs(300));
}

fn after_kill(ctx: &Ctx) {
    let printed: Vec<String> = std::fs::read_to_string(ctx.arg("printed"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // The store opens, logins work, writes work.
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    for label in &printed {
        let found = find_label(&s, label);
        assert_eq!(
            found.len(),
            1,
            "the committed object {label} must be there, once"
        );
        assert_eq!(
            bytes_attr(&s, found[0], AttributeType::Value),
            label.as_bytes(),
            "{label}: intact"
        );
    }
    let all: BTreeSet<String> = find(&s, &[Attribute::Class(ObjectClass::DATA)])
        .iter()
        .map(|o| String::from_utf8(bytes_attr(&s, *o, AttributeType::Label)).unwrap())
        .collect();
    let printed_set: BTreeSet<String> = printed.iter().cloned().collect();
    let extra: Vec<&String> = all.difference(&printed_set).collect();
    // At most the one write in flight when the signal came, and only whole.
    assert!(
        extra.len() <= 1 && extra.iter().all(|l| **l == kill_label(printed.len())),
        "unexpected objects: {extra:?}"
    );
    for l in &extra {
        let o = one(&s, l);
        assert_eq!(
            bytes_attr(&s, o, AttributeType::Value),
            l.as_bytes(),
            "the in-flight object, if there, is whole"
        );
    }
    s.create_object(&data("after-the-kill", true, true, b"ok"))
        .unwrap();
    assert_eq!(find_label(&s, "after-the-kill").len(), 1);
    println!(
        "{} committed objects intact, {} in flight",
        printed.len(),
        extra.len()
    );
}

// ---------------------------------------------------------------------------- tamper

fn store_db(store: &Path) -> PathBuf {
    let named = store.join("store.db");
    if named.is_file() {
        return named;
    }
    std::fs::read_dir(store)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| read_or_empty(p).starts_with(b"SQLite format 3\0"))
        .unwrap_or_else(|| panic!("no sqlite database in {}", store.display()))
}

/// The rowid and body of the `records` row whose (non-body) columns hold `id`.
fn find_record(db: &rusqlite::Connection, id: &[u8]) -> (i64, Vec<u8>) {
    let mut stmt = db.prepare("SELECT rowid, * FROM records").unwrap();
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let body_col = names
        .iter()
        .position(|n| n == "body")
        .expect("records has a body column");
    let mut rows = stmt.query([]).unwrap();
    let mut hits = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let holds_id =
            (1..names.len())
                .filter(|c| *c != body_col)
                .any(|c| match row.get_ref(c).unwrap() {
                    rusqlite::types::ValueRef::Blob(b) => b == id,
                    rusqlite::types::ValueRef::Text(t) => t == hex(id).as_bytes(),
                    _ => false,
                });
        if holds_id {
            hits.push((
                row.get::<_, i64>(0).unwrap(),
                row.get::<_, Vec<u8>>(body_col).unwrap(),
            ));
        }
    }
    assert_eq!(hits.len(), 1, "records rows holding id {}", hex(id));
    hits.remove(0)
}

fn set_body(db: &rusqlite::Connection, rowid: i64, body: &[u8]) {
    let n = db
        .execute(
            "UPDATE records SET body = ?1 WHERE rowid = ?2",
            rusqlite::params![body, rowid],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn flipped(body: &[u8], at_end: usize) -> Vec<u8> {
    let mut b = body.to_vec();
    let i = b.len() - at_end;
    b[i] ^= 0x01;
    b
}

/// The object IDs the step printed as `ID <label> <hex of CKA_UNIQUE_ID>`.
fn ids(out: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    out.lines()
        .filter_map(|l| l.strip_prefix("ID "))
        .map(|l| {
            let (label, id) = l.split_once(' ').unwrap();
            // CKA_UNIQUE_ID is text; the store keys records by the 128-bit id it spells in hex.
            let id = if id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()) {
                unhex(id)
            } else {
                id.as_bytes().to_vec()
            };
            (label.to_string(), id)
        })
        .collect()
}

fn flipped_byte_detected(env: &Env) {
    env.run("activate");
    let out = env.run("make_victims");
    let ids = ids(&out);
    let path = store_db(&env.store());
    let with_db = |f: &dyn Fn(&rusqlite::Connection)| {
        let db = rusqlite::Connection::open(&path).unwrap();
        f(&db);
    };
    let victim = ids["victim"].clone();
    let public_victim = ids["public-victim"].clone();
    let bystander = ids["bystander"].clone();

    // One flipped byte near the end of a private object's record.
    let original = std::cell::RefCell::new(Vec::new());
    with_db(&|db| {
        let (rowid, body) = find_record(db, &victim);
        *original.borrow_mut() = body.clone();
        set_body(db, rowid, &flipped(&body, 5));
    });
    env.run("tampered_private");
    // Restored: everything is fine again (the error was that byte, nothing else).
    with_db(&|db| set_body(db, find_record(db, &victim).0, &original.borrow()));
    env.run("untampered");

    // The same in the middle of the record.
    with_db(&|db| {
        let (rowid, body) = find_record(db, &victim);
        set_body(db, rowid, &flipped(&body, body.len() / 2));
    });
    env.run("tampered_private");
    with_db(&|db| set_body(db, find_record(db, &victim).0, &original.borrow()));

    // Another object's (valid) record moved under the victim's id: detected too.
    with_db(&|db| {
        let (_, other) = find_record(db, &bystander);
        set_body(db, find_record(db, &victim).0, &other);
    });
    env.run("tampered_private");
    with_db(&|db| set_body(db, find_record(db, &victim).0, &original.borrow()));
    env.run("untampered");

    // A public object: detected before any login.
    let public_original = std::cell::RefCell::new(Vec::new());
    with_db(&|db| {
        let (rowid, body) = find_record(db, &public_victim);
        *public_original.borrow_mut() = body.clone();
        set_body(db, rowid, &flipped(&body, 3));
    });
    env.run("tampered_public");
    with_db(&|db| {
        set_body(
            db,
            find_record(db, &public_victim).0,
            &public_original.borrow(),
        )
    });
    env.run("untampered");
}

fn make_victims(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    for (label, private, value) in [
        ("victim", true, &b"the victim's value"[..]),
        ("bystander", true, b"another value"),
        ("public-victim", false, b"public value"),
    ] {
        let o = s.create_object(&data(label, true, private, value)).unwrap();
        let id = bytes_attr(&s, o, AttributeType::UniqueId);
        println!(
            "ID {label} {}",
            String::from_utf8(id).expect("CKA_UNIQUE_ID is text")
        );
    }
}

/// Whatever a call touching the tampered object returns, it is an error, never other data.
fn tampered_private(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let found = rv(s.find_objects(&[Attribute::Label(b"victim".to_vec())]));
    println!("find of the tampered object: {found:?}");
    match found {
        Err(_) => {}
        Ok(handles) => {
            assert!(
                !handles.is_empty(),
                "the tampered object silently vanished: the corruption went undetected"
            );
            for h in handles {
                let read = rv(s.get_attributes(h, &[AttributeType::Value]));
                assert!(
                    read.is_err(),
                    "reading a tampered object must fail, got {read:?}"
                );
            }
        }
    }
    let all = rv(s.find_objects(&[]));
    if let Ok(handles) = all {
        for h in handles {
            if let Ok(attrs) =
                rv(s.get_attributes(h, &[AttributeType::Label, AttributeType::Value]))
            {
                let label = attrs.iter().find_map(|a| {
                    if let Attribute::Label(l) = a {
                        Some(l.clone())
                    } else {
                        None
                    }
                });
                let value = attrs.iter().find_map(|a| {
                    if let Attribute::Value(v) = a {
                        Some(v.clone())
                    } else {
                        None
                    }
                });
                if label.as_deref() == Some(b"victim") {
                    panic!("the tampered object was read: {value:?}");
                }
                if label.as_deref() == Some(b"bystander") {
                    assert_eq!(
                        value.as_deref(),
                        Some(&b"another value"[..]),
                        "other objects keep their data"
                    );
                }
            }
        }
    }
}

fn tampered_public(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.rw();
    let found = rv(s.find_objects(&[Attribute::Label(b"public-victim".to_vec())]));
    println!("find of the tampered public object: {found:?}");
    match found {
        Err(_) => {}
        Ok(handles) => {
            assert!(
                !handles.is_empty(),
                "the tampered public object silently vanished"
            );
            for h in handles {
                assert!(
                    rv(s.get_attributes(h, &[AttributeType::Value])).is_err(),
                    "reading a tampered public object must fail"
                );
            }
        }
    }
}

fn untampered(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    for (label, value) in [
        ("victim", &b"the victim's value"[..]),
        ("bystander", b"another value"),
        ("public-victim", b"public value"),
    ] {
        assert_eq!(
            bytes_attr(&s, one(&s, label), AttributeType::Value),
            value,
            "{label} after the restore"
        );
    }
}

// ---------------------------------------------------------------------------- at rest

/// A key value and labels nobody would write by chance.
const KNOWN_KEY: [u8; 32] = [
    0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15, 0xf3, 0x9c, 0xc0, 0x60, 0x5c, 0xed, 0xc8, 0x34,
    0x10, 0x82, 0x27, 0x6b, 0xf3, 0xa2, 0x72, 0x51, 0xf8, 0x6c, 0x6a, 0x11, 0xd0, 0xc1, 0x8e, 0x95,
];
const PRIVATE_LABEL: &str = "private-label-5f0c2a91-do-not-leak";
const PRIVATE_DATA: &str = "private-data-value-77d1e3-do-not-leak";

fn no_plaintext_at_rest(env: &Env) {
    env.run("activate");
    // While the writer is alive (its WAL not yet checkpointed) and after it is gone.
    let mut w = env.spawn("secrets_at_rest", &[]);
    w.expect_line("WRITTEN");
    assert_no_secrets(&env.store(), "while the process runs");
    w.send_line("EXIT");
    w.finish();
    assert_no_secrets(&env.store(), "after the process ended");
    env.run("reopen_secrets");
    assert_no_secrets(&env.store(), "after another process used the objects");
}

fn needles() -> Vec<(String, Vec<u8>)> {
    let pw = CU1.split_once(':').unwrap().1;
    vec![
        ("the AES key".into(), KNOWN_KEY.to_vec()),
        ("the AES key's first half".into(), KNOWN_KEY[..16].to_vec()),
        ("the AES key's second half".into(), KNOWN_KEY[16..].to_vec()),
        ("the AES key in hex".into(), hex(&KNOWN_KEY).into_bytes()),
        ("a private label".into(), PRIVATE_LABEL.as_bytes().to_vec()),
        (
            "a private data value".into(),
            PRIVATE_DATA.as_bytes().to_vec(),
        ),
        ("cu1's password".into(), pw.as_bytes().to_vec()),
        ("the SO PIN".into(), SO_PIN.as_bytes().to_vec()),
    ]
}

fn assert_no_secrets(store: &Path, when: &str) {
    let mut files = Vec::new();
    let mut stack = vec![store.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    assert!(
        files.iter().any(|f| f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".db"))),
        "no database in {files:?}"
    );
    for f in &files {
        let bytes = read_or_empty(f);
        for (what, needle) in needles() {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{what} is in clear in {} ({when})",
                f.display()
            );
        }
    }
    // Something was read at all.
    assert!(
        files.iter().map(|f| read_or_empty(f).len()).sum::<usize>() > 4096,
        "the store files are nearly empty"
    );
}

fn secrets_at_rest(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Encrypt(true),
            Attribute::Value(KNOWN_KEY.to_vec()),
            Attribute::Label(PRIVATE_LABEL.as_bytes().to_vec()),
        ])
        .unwrap();
    s.create_object(&data(PRIVATE_LABEL, true, true, PRIVATE_DATA.as_bytes()))
        .unwrap();
    // Change and copy them too, so every write path has run.
    s.update_attributes(
        key,
        &[
            Attribute::Label(PRIVATE_LABEL.as_bytes().to_vec()),
            Attribute::Decrypt(true),
        ],
    )
    .unwrap();
    s.copy_object(key, &[Attribute::Token(true)]).unwrap();
    println!("WRITTEN");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "EXIT");
}

fn reopen_secrets(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let found = find(
        &s,
        &[
            Attribute::Label(PRIVATE_LABEL.as_bytes().to_vec()),
            Attribute::Class(ObjectClass::SECRET_KEY),
        ],
    );
    assert_eq!(found.len(), 2, "the key and its copy");
    // The known key really is the key: AES-ECB of a block matches a key created from the bytes.
    let same = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Value(KNOWN_KEY.to_vec()),
            Attribute::Encrypt(true),
        ])
        .unwrap();
    let block = [0x11u8; 16];
    let want = s.encrypt(&Mechanism::AesEcb, same, &block).unwrap();
    for k in found {
        assert_eq!(s.encrypt(&Mechanism::AesEcb, k, &block).unwrap(), want);
    }
    let d = find(
        &s,
        &[
            Attribute::Label(PRIVATE_LABEL.as_bytes().to_vec()),
            Attribute::Class(ObjectClass::DATA),
        ],
    );
    assert_eq!(d.len(), 1);
    assert_eq!(
        bytes_attr(&s, d[0], AttributeType::Value),
        PRIVATE_DATA.as_bytes()
    );
}
