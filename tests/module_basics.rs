//! The module as a library: C_GetInfo, slots and token information, C_Initialize and
//! C_Finalize rules, calls before C_Initialize, NULL pointers, the function lists and the
//! PKCS#11 3.0 interfaces. Each step runs in its own process (see `common`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use std::ffi::{c_void, CStr};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use cryptoki::mechanism::MechanismType;
use cryptoki::types::AuthPin;
use cryptoki_sys::*;

black_box_suite! {
    steps: [
        fresh_token, activated_token, persisted_token, list_slots, before_initialize,
        initialize_rules, null_pointers, function_lists, unload_in_thread,
    ];
    scenarios: [
        token_info_and_flags, slot_ids_stable, not_initialized, initialize_finalize,
        null_arguments, interfaces, unload_and_thread_exit,
    ];
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).map(str::trim))
        .unwrap_or_else(|| panic!("no {key:?} line in:\n{out}"))
}

/// Fresh store: token not initialized; C_InitToken and C_InitPIN set the flags; a new
/// process sees the same slot ID, serial, label and flags.
fn token_info_and_flags(env: &Env) {
    let out = env.run("fresh_token");
    let (slot, serial) = (field(&out, "SLOT "), field(&out, "SERIAL "));
    assert!(
        slot.parse::<u64>().unwrap() < 1 << 31,
        "slot ID {slot} must be below 2^31"
    );
    env.run_with("activated_token", &[("serial", serial)]);
    env.run_with("persisted_token", &[("serial", serial), ("slot", slot)]);
}

/// A text field of a C struct: blank-padded, never NUL-terminated (PKCS#11 §3.2).
fn assert_blank_padded(what: &str, field: &[u8]) {
    assert!(
        !field.contains(&0),
        "{what} must be blank-padded, not NUL-padded: {field:?}"
    );
    assert!(
        field.iter().all(|b| (0x20..0x7f).contains(b) || *b >= 0x80),
        "{what}: {field:?}"
    );
}

fn fresh_token(ctx: &Ctx) {
    let hsm = ctx.init();
    let info = hsm.p11.get_library_info().unwrap();
    let v = info.cryptoki_version();
    assert!(
        v.major() == 3 && (v.minor() == 0 || v.minor() == 2),
        "Cryptoki version {v:?}"
    );
    assert!(!info.manufacturer_id().is_empty() && !info.library_description().is_empty());

    let mut raw_info = CK_INFO::default();
    // SAFETY: a writable CK_INFO.
    assert_rv(
        unsafe { hsm.raw.sys().C_GetInfo(&mut raw_info) },
        CKR_OK,
        "C_GetInfo",
    );
    assert_eq!(raw_info.flags, 0, "CK_INFO flags must be zero");
    assert_blank_padded("manufacturerID", &raw_info.manufacturerID);
    assert_blank_padded("libraryDescription", &raw_info.libraryDescription);

    let all = hsm.p11.get_all_slots().unwrap();
    assert_eq!(all, vec![hsm.slot], "one configured cluster, one slot");
    assert!(
        hsm.slot.id() < 1 << 31,
        "slot ID {} must be below 2^31",
        hsm.slot.id()
    );
    let slot_info = hsm.p11.get_slot_info(hsm.slot).unwrap();
    assert!(slot_info.token_present());
    assert!(!slot_info.slot_description().is_empty());

    let t = hsm.token_info();
    assert_eq!(
        t.label(),
        CONFIG_LABEL,
        "a fresh store's token label comes from the config"
    );
    assert!(
        !t.serial_number().is_empty() && !t.manufacturer_id().is_empty() && !t.model().is_empty()
    );
    assert!(
        !t.token_initialized(),
        "CKF_TOKEN_INITIALIZED must be clear on a fresh store"
    );
    assert!(
        !t.user_pin_initialized(),
        "CKF_USER_PIN_INITIALIZED must be clear on a fresh store"
    );
    assert!(t.login_required(), "CKF_LOGIN_REQUIRED");
    assert!(t.rng(), "CKF_RNG");
    assert!(!t.write_protected());
    assert!(!t.user_pin_locked() && !t.user_pin_count_low() && !t.so_pin_locked());
    assert_eq!(
        (t.min_pin_length(), t.max_pin_length()),
        (4, 32),
        "default PIN length range"
    );

    let mut raw_token = CK_TOKEN_INFO::default();
    // SAFETY: a writable CK_TOKEN_INFO.
    let rv = unsafe { hsm.raw.sys().C_GetTokenInfo(hsm.slot.id(), &mut raw_token) };
    assert_rv(rv, CKR_OK, "C_GetTokenInfo");
    assert_blank_padded("label", &raw_token.label);
    assert_blank_padded("manufacturerID", &raw_token.manufacturerID);
    assert_blank_padded("model", &raw_token.model);
    assert_blank_padded("serialNumber", &raw_token.serialNumber);
    assert!(
        raw_token.ulMaxSessionCount == CK_EFFECTIVELY_INFINITE
            || raw_token.ulMaxSessionCount >= 1024
    );

    // Nothing happened to the slot: a non-blocking wait reports no event.
    assert_eq!(
        hsm.p11.get_slot_event().unwrap(),
        None,
        "C_WaitForSlotEvent(CKF_DONT_BLOCK)"
    );

    let mechs = hsm.p11.get_mechanism_list(hsm.slot).unwrap();
    for m in [
        MechanismType::AES_KEY_GEN,
        MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        MechanismType::ECC_KEY_PAIR_GEN,
        MechanismType::SHA256,
        MechanismType::SHA256_RSA_PKCS,
        MechanismType::ECDSA,
        MechanismType::ECDSA_SHA256,
        MechanismType::AES_GCM,
        MechanismType::SHA256_HMAC,
    ] {
        assert!(mechs.contains(&m), "mechanism list lacks {m}");
    }
    let rsa = hsm
        .p11
        .get_mechanism_info(hsm.slot, MechanismType::RSA_PKCS_KEY_PAIR_GEN)
        .unwrap();
    assert!(
        rsa.min_key_size() <= 2048 && rsa.max_key_size() >= 4096,
        "RSA key sizes {rsa:?}"
    );

    println!("SLOT {}", hsm.slot.id());
    println!("SERIAL {}", t.serial_number());
}

fn activated_token(ctx: &Ctx) {
    let hsm = ctx.init();
    hsm.p11
        .init_token(hsm.slot, &AuthPin::from(SO_PIN), TOKEN_LABEL)
        .unwrap();
    let t = hsm.token_info();
    assert!(
        t.token_initialized(),
        "CKF_TOKEN_INITIALIZED after C_InitToken"
    );
    assert!(!t.user_pin_initialized(), "no crypto user yet");
    assert_eq!(t.label(), TOKEN_LABEL, "C_InitToken sets the label");
    assert_eq!(
        t.serial_number(),
        ctx.arg("serial"),
        "the serial number is the store's, stable"
    );

    let so = hsm.so();
    so.init_pin(&AuthPin::from(USER_PIN)).unwrap();
    let t = hsm.token_info();
    assert!(
        t.user_pin_initialized(),
        "CKF_USER_PIN_INITIALIZED after C_InitPIN"
    );
    assert!(t.login_required() && t.rng());
    so.logout().unwrap(); // no RO session may open while the SO is logged in
    let _ro = hsm.ro();
    let t = hsm.token_info();
    assert_eq!(
        (t.session_count(), t.rw_session_count()),
        (Some(2), Some(1)),
        "open sessions, truthfully"
    );
}

fn persisted_token(ctx: &Ctx) {
    let hsm = ctx.init();
    assert_eq!(
        hsm.slot.id().to_string(),
        ctx.arg("slot"),
        "the slot ID is stable across processes"
    );
    let t = hsm.token_info();
    assert!(
        t.token_initialized() && t.user_pin_initialized(),
        "flags persist"
    );
    assert_eq!(t.label(), TOKEN_LABEL);
    assert_eq!(t.serial_number(), ctx.arg("serial"));
    // And the default crypto user exists in this process too.
    hsm.user(USER_PIN).logout().unwrap();
}

/// Two clusters: two slots, distinct, below 2^31, the same in every process.
fn slot_ids_stable(env: &Env) {
    let two = format!(
        "{}\n{}",
        env.cluster_toml("alpha", &env.dir().join("alpha")),
        env.cluster_toml("beta", &env.dir().join("beta"))
    );
    env.write_config(&two);
    let first = env.run("list_slots");
    let second = env.run("list_slots");
    let ids = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("SLOT "))
            .map(String::from)
            .collect()
    };
    assert_eq!(ids(&first).len(), 2, "{first}");
    assert_eq!(
        ids(&first),
        ids(&second),
        "slot IDs must be stable across processes"
    );
}

fn list_slots(ctx: &Ctx) {
    let p11 = ctx.load();
    p11.initialize(cryptoki::context::CInitializeArgs::new(
        cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
    ))
    .unwrap();
    let slots = p11.get_slots_with_token().unwrap();
    assert_eq!(slots.len(), 2);
    assert_ne!(slots[0].id(), slots[1].id());
    let mut labels = Vec::new();
    for s in &slots {
        assert!(s.id() < 1 << 31, "slot ID {} must be below 2^31", s.id());
        labels.push(p11.get_token_info(*s).unwrap().label().to_string());
        println!("SLOT {} {}", s.id(), labels.last().unwrap());
    }
    labels.sort();
    assert_eq!(
        labels,
        ["alpha", "beta"],
        "each cluster's label on its slot"
    );
}

/// Every call before C_Initialize: CKR_CRYPTOKI_NOT_INITIALIZED; the function lists may be
/// fetched before it.
fn not_initialized(env: &Env) {
    env.run("before_initialize");
}

fn before_initialize(ctx: &Ctx) {
    let raw = ctx.raw();
    let p = raw.sys();
    let mut count: CK_ULONG = 0;
    let mut info = CK_INFO::default();
    let mut token = CK_TOKEN_INFO::default();
    let mut slot_info = CK_SLOT_INFO::default();
    let mut session: CK_SESSION_HANDLE = 0;
    let mut buf = [0u8; 8];
    let mut pin = *b"12345678";
    let mut slot: CK_SLOT_ID = 0;
    // SAFETY: every pointer is NULL or points to a live, writable buffer of
    // the size given; before C_Initialize the module must not touch them anyway.
    let calls: Vec<(&str, CK_RV)> = unsafe {
        vec![
            ("C_GetInfo", p.C_GetInfo(&mut info)),
            (
                "C_GetSlotList",
                p.C_GetSlotList(CK_FALSE, null_mut(), &mut count),
            ),
            ("C_GetSlotInfo", p.C_GetSlotInfo(1, &mut slot_info)),
            ("C_GetTokenInfo", p.C_GetTokenInfo(1, &mut token)),
            (
                "C_GetMechanismList",
                p.C_GetMechanismList(1, null_mut(), &mut count),
            ),
            (
                "C_OpenSession",
                p.C_OpenSession(1, CKF_SERIAL_SESSION, null_mut(), None, &mut session),
            ),
            ("C_CloseAllSessions", p.C_CloseAllSessions(1)),
            ("C_CloseSession", p.C_CloseSession(1)),
            ("C_Login", p.C_Login(1, CKU_USER, pin.as_mut_ptr(), 8)),
            (
                "C_GenerateRandom",
                p.C_GenerateRandom(1, buf.as_mut_ptr(), 8),
            ),
            (
                "C_WaitForSlotEvent",
                p.C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut()),
            ),
            ("C_Finalize", p.C_Finalize(null_mut())),
        ]
    };
    for (name, rv) in calls {
        assert_rv(rv, CKR_CRYPTOKI_NOT_INITIALIZED, name);
    }
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: `list` is writable.
    assert_rv(
        unsafe { p.C_GetFunctionList(&mut list) },
        CKR_OK,
        "C_GetFunctionList before C_Initialize",
    );
    let mut n: CK_ULONG = 0;
    // SAFETY: NULL list pointer = count query; `n` is writable.
    assert_rv(
        unsafe { p.C_GetInterfaceList(null_mut(), &mut n) },
        CKR_OK,
        "C_GetInterfaceList before C_Initialize",
    );

    // Then C_Initialize works, and so does everything.
    // SAFETY: NULL arguments are allowed (no threads, no locking).
    assert_rv(
        unsafe { p.C_Initialize(null_mut()) },
        CKR_OK,
        "C_Initialize(NULL)",
    );
    // SAFETY: count query; `count` is writable.
    assert_rv(
        unsafe { p.C_GetSlotList(CK_TRUE, null_mut(), &mut count) },
        CKR_OK,
        "C_GetSlotList",
    );
    assert_eq!(count, 1);
}

/// C_Initialize / C_Finalize as the spec says: double initialization, finalization rules,
/// mutex callbacks honoured or refused, CKF_LIBRARY_CANT_CREATE_OS_THREADS, a config path
/// in pReserved.
fn initialize_finalize(env: &Env) {
    env.run("initialize_rules");
}

extern "C" fn create_mutex(pp: *mut *mut c_void) -> CK_RV {
    if pp.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    let m = Box::new(AtomicBool::new(false));
    // SAFETY: the module gives a writable pointer slot.
    unsafe { *pp = Box::into_raw(m).cast() };
    CKR_OK
}

extern "C" fn destroy_mutex(p: *mut c_void) -> CK_RV {
    if p.is_null() {
        return CKR_MUTEX_BAD;
    }
    // SAFETY: `p` came from `create_mutex`'s Box::into_raw and is destroyed once.
    drop(unsafe { Box::from_raw(p.cast::<AtomicBool>()) });
    CKR_OK
}

extern "C" fn lock_mutex(p: *mut c_void) -> CK_RV {
    if p.is_null() {
        return CKR_MUTEX_BAD;
    }
    // SAFETY: `p` is a live mutex from `create_mutex`.
    let m = unsafe { &*p.cast::<AtomicBool>() };
    while m
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
    CKR_OK
}

extern "C" fn unlock_mutex(p: *mut c_void) -> CK_RV {
    if p.is_null() {
        return CKR_MUTEX_BAD;
    }
    // SAFETY: `p` is a live mutex from `create_mutex`.
    let m = unsafe { &*p.cast::<AtomicBool>() };
    if !m.swap(false, Ordering::Release) {
        return CKR_MUTEX_NOT_LOCKED;
    }
    CKR_OK
}

fn init_args(flags: CK_FLAGS, mutexes: bool) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: mutexes
            .then_some(create_mutex as unsafe extern "C" fn(*mut *mut c_void) -> CK_RV),
        DestroyMutex: mutexes
            .then_some(destroy_mutex as unsafe extern "C" fn(*mut c_void) -> CK_RV),
        LockMutex: mutexes.then_some(lock_mutex as unsafe extern "C" fn(*mut c_void) -> CK_RV),
        UnlockMutex: mutexes.then_some(unlock_mutex as unsafe extern "C" fn(*mut c_void) -> CK_RV),
        flags,
        pReserved: null_mut(),
    }
}

fn initialize(raw: &Raw, args: &mut CK_C_INITIALIZE_ARGS) -> CK_RV {
    // SAFETY: `args` is a valid CK_C_INITIALIZE_ARGS whose callbacks stay alive.
    unsafe {
        raw.sys()
            .C_Initialize((args as *mut CK_C_INITIALIZE_ARGS).cast())
    }
}

fn finalize(raw: &Raw) -> CK_RV {
    // SAFETY: NULL is the only valid argument.
    unsafe { raw.sys().C_Finalize(null_mut()) }
}

/// Some use of the module under the current initialization: slots, a session, random bytes.
fn exercise(raw: &Raw) {
    let p = raw.sys();
    let mut slots = [0 as CK_SLOT_ID; 4];
    let mut n: CK_ULONG = 4;
    // SAFETY: `slots` holds `n` entries.
    assert_rv(
        unsafe { p.C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n) },
        CKR_OK,
        "C_GetSlotList",
    );
    assert!(n >= 1);
    let mut h: CK_SESSION_HANDLE = 0;
    // SAFETY: `h` is writable; no callback.
    let rv = unsafe { p.C_OpenSession(slots[0], CKF_SERIAL_SESSION, null_mut(), None, &mut h) };
    assert_rv(rv, CKR_OK, "C_OpenSession");
    let mut buf = [0u8; 32];
    // SAFETY: `buf` holds 32 bytes.
    assert_rv(
        unsafe { p.C_GenerateRandom(h, buf.as_mut_ptr(), 32) },
        CKR_OK,
        "C_GenerateRandom",
    );
    assert_rv(raw.close_session(h), CKR_OK, "C_CloseSession");
}

fn initialize_rules(ctx: &Ctx) {
    let raw = ctx.raw();
    // Double initialization; C_Finalize's pReserved must be NULL; finalizing twice.
    let mut args = init_args(CKF_OS_LOCKING_OK, false);
    assert_rv(initialize(&raw, &mut args), CKR_OK, "C_Initialize");
    assert_rv(
        initialize(&raw, &mut args),
        CKR_CRYPTOKI_ALREADY_INITIALIZED,
        "second C_Initialize",
    );
    exercise(&raw);
    let mut junk = 0u64;
    // SAFETY: a non-NULL pReserved must be refused without being dereferenced.
    let rv = unsafe { raw.sys().C_Finalize((&mut junk as *mut u64).cast()) };
    assert_rv(rv, CKR_ARGUMENTS_BAD, "C_Finalize(non-NULL)");
    assert_rv(finalize(&raw), CKR_OK, "C_Finalize");
    assert_rv(
        finalize(&raw),
        CKR_CRYPTOKI_NOT_INITIALIZED,
        "second C_Finalize",
    );

    // Mutex callbacks: all or none.
    let mut partial = init_args(0, true);
    partial.LockMutex = None;
    assert_rv(
        initialize(&raw, &mut partial),
        CKR_ARGUMENTS_BAD,
        "C_Initialize with some mutex callbacks",
    );
    // All four without CKF_OS_LOCKING_OK: the module must use them or refuse with CKR_CANT_LOCK.
    let mut app_locks = init_args(0, true);
    match initialize(&raw, &mut app_locks) {
        CKR_OK => {
            exercise(&raw);
            assert_rv(finalize(&raw), CKR_OK, "C_Finalize");
        }
        CKR_CANT_LOCK => {}
        rv => panic!("C_Initialize with application locks: {}", ckr_name(rv)),
    }
    // All four with CKF_OS_LOCKING_OK: fine.
    let mut both = init_args(CKF_OS_LOCKING_OK, true);
    assert_rv(
        initialize(&raw, &mut both),
        CKR_OK,
        "C_Initialize with callbacks and OS locking",
    );
    exercise(&raw);
    assert_rv(finalize(&raw), CKR_OK, "C_Finalize");
    // The application forbids threads: fine, or CKR_NEED_TO_CREATE_THREADS.
    let mut no_threads = init_args(
        CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS,
        false,
    );
    match initialize(&raw, &mut no_threads) {
        CKR_OK => {
            exercise(&raw);
            assert_rv(finalize(&raw), CKR_OK, "C_Finalize");
        }
        CKR_NEED_TO_CREATE_THREADS => {}
        rv => panic!(
            "C_Initialize with CKF_LIBRARY_CANT_CREATE_OS_THREADS: {}",
            ckr_name(rv)
        ),
    }

    // A configuration path in pReserved wins over $CLOUDHSM_PKCS11_CONF.
    let other = ctx.dir.join("other-store");
    let other_conf = ctx.dir.join("other.toml");
    std::fs::write(
        &other_conf,
        format!(
            "[[cluster]]\nname = \"other\"\nlabel = \"other\"\nstore = \"{}\"\ntransport = \"{}\"\n",
            other.display(),
            ctx.transport.as_str()
        ),
    )
    .unwrap();
    let path = c_string(&other_conf.to_string_lossy());
    let mut with_path = init_args(CKF_OS_LOCKING_OK, false);
    with_path.pReserved = path.as_ptr() as *mut c_void;
    assert_rv(
        initialize(&raw, &mut with_path),
        CKR_OK,
        "C_Initialize with a config path in pReserved",
    );
    let mut slots = [0 as CK_SLOT_ID; 4];
    let mut n: CK_ULONG = 4;
    // SAFETY: `slots` holds `n` entries.
    assert_rv(
        unsafe { raw.sys().C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut n) },
        CKR_OK,
        "C_GetSlotList",
    );
    assert_eq!(n, 1);
    let mut token = CK_TOKEN_INFO::default();
    // SAFETY: a writable CK_TOKEN_INFO.
    assert_rv(
        unsafe { raw.sys().C_GetTokenInfo(slots[0], &mut token) },
        CKR_OK,
        "C_GetTokenInfo",
    );
    assert!(
        token.label.starts_with(b"other "),
        "the slot of the pReserved config: {:?}",
        token.label
    );
    assert_rv(finalize(&raw), CKR_OK, "C_Finalize");

    // And back to normal through the crate.
    let hsm = ctx.init();
    assert_eq!(hsm.token_info().label(), CONFIG_LABEL);
}

/// NULL where the spec requires a pointer: CKR_ARGUMENTS_BAD, never a crash. Bad slot IDs and
/// session flags too.
fn null_arguments(env: &Env) {
    env.run("null_pointers");
}

fn null_pointers(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.rw();
    let obj = s.create_object(&data("n", false, false, b"v")).unwrap();
    let p = hsm.raw.sys();
    let (slot, h, o) = (hsm.slot.id(), s.handle(), obj.handle());
    let mut count: CK_ULONG = 1;
    let mut sess: CK_SESSION_HANDLE = 0;
    let mut byte = [0u8; 1];
    let mut template = [CK_ATTRIBUTE {
        type_: CKA_LABEL,
        pValue: null_mut(),
        ulValueLen: 0,
    }];
    let mut mech = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: each call passes NULL for exactly one required pointer; every
    // other pointer is valid for the call.
    let calls: Vec<(&str, CK_RV)> = unsafe {
        vec![
            ("C_GetInfo(NULL)", p.C_GetInfo(null_mut())),
            ("C_GetFunctionList(NULL)", p.C_GetFunctionList(null_mut())),
            (
                "C_GetInterfaceList(list, NULL)",
                p.C_GetInterfaceList(null_mut(), null_mut()),
            ),
            (
                "C_GetSlotList(.., NULL count)",
                p.C_GetSlotList(CK_FALSE, null_mut(), null_mut()),
            ),
            ("C_GetSlotInfo(NULL)", p.C_GetSlotInfo(slot, null_mut())),
            ("C_GetTokenInfo(NULL)", p.C_GetTokenInfo(slot, null_mut())),
            (
                "C_GetMechanismList(NULL count)",
                p.C_GetMechanismList(slot, null_mut(), null_mut()),
            ),
            (
                "C_GetMechanismInfo(NULL)",
                p.C_GetMechanismInfo(slot, CKM_SHA256, null_mut()),
            ),
            (
                "C_OpenSession(NULL phSession)",
                p.C_OpenSession(slot, CKF_SERIAL_SESSION, null_mut(), None, null_mut()),
            ),
            ("C_GetSessionInfo(NULL)", p.C_GetSessionInfo(h, null_mut())),
            (
                "C_Login(NULL pin, len 8)",
                p.C_Login(h, CKU_USER, null_mut(), 8),
            ),
            (
                "C_CreateObject(NULL template)",
                p.C_CreateObject(h, null_mut(), 3, &mut sess),
            ),
            (
                "C_CreateObject(NULL phObject)",
                p.C_CreateObject(h, template.as_mut_ptr(), 1, null_mut()),
            ),
            (
                "C_GetAttributeValue(NULL template)",
                p.C_GetAttributeValue(h, o, null_mut(), 1),
            ),
            ("C_GetObjectSize(NULL)", p.C_GetObjectSize(h, o, null_mut())),
            (
                "C_FindObjectsInit(NULL, 1)",
                p.C_FindObjectsInit(h, null_mut(), 1),
            ),
            (
                "C_GenerateRandom(NULL)",
                p.C_GenerateRandom(h, null_mut(), 8),
            ),
            ("C_DigestInit(NULL)", p.C_DigestInit(h, null_mut())),
            ("C_Digest(NULL data)", {
                assert_rv(p.C_DigestInit(h, &mut mech), CKR_OK, "C_DigestInit");
                p.C_Digest(h, null_mut(), 3, byte.as_mut_ptr(), &mut count)
            }),
        ]
    };
    for (name, rv) in calls {
        assert_rv(rv, CKR_ARGUMENTS_BAD, name);
    }
    // The module is still fine.
    assert_eq!(s.generate_random_vec(16).unwrap().len(), 16);

    // Bad slot IDs and session flags.
    let mut slot_info = CK_SLOT_INFO::default();
    // SAFETY: writable outputs; the slot ID is simply wrong.
    unsafe {
        assert_rv(
            p.C_GetSlotInfo(slot ^ 0x5a5a, &mut slot_info),
            CKR_SLOT_ID_INVALID,
            "C_GetSlotInfo(bad slot)",
        );
        let rv = p.C_OpenSession(
            slot ^ 0x5a5a,
            CKF_SERIAL_SESSION,
            null_mut(),
            None,
            &mut sess,
        );
        assert_rv(rv, CKR_SLOT_ID_INVALID, "C_OpenSession(bad slot)");
        let rv = p.C_OpenSession(slot, CKF_RW_SESSION, null_mut(), None, &mut sess);
        assert_rv(
            rv,
            CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            "C_OpenSession without CKF_SERIAL_SESSION",
        );
    }
    // The two-call slot list: a too-small buffer gets CKR_BUFFER_TOO_SMALL and the count.
    let mut none: [CK_SLOT_ID; 1] = [0];
    let mut zero: CK_ULONG = 0;
    // SAFETY: a one-entry buffer announced as zero entries.
    let rv = unsafe { p.C_GetSlotList(CK_FALSE, none.as_mut_ptr(), &mut zero) };
    assert_rv(
        rv,
        CKR_BUFFER_TOO_SMALL,
        "C_GetSlotList with a zero-length buffer",
    );
    assert_eq!(zero, 1, "the needed count is returned");
}

/// C_GetFunctionList (2.40), C_GetInterfaceList / C_GetInterface ("PKCS 11" 3.0 and 2.40),
/// every function present in the lists and exported as a symbol.
fn interfaces(env: &Env) {
    env.run("function_lists");
}

macro_rules! missing {
    ($list:expr, $test:ident; $($f:ident),* $(,)?) => {{
        let mut missing: Vec<&str> = Vec::new();
        $( if !$list.$f.$test() { missing.push(stringify!($f)); } )*
        missing
    }};
}

macro_rules! v2_functions {
    ($m:ident!($list:expr, $test:ident)) => {
        $m!($list, $test;
            C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,
            C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN,
            C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,
            C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject, C_DestroyObject,
            C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit,
            C_FindObjects, C_FindObjectsFinal, C_EncryptInit, C_Encrypt, C_EncryptUpdate,
            C_EncryptFinal, C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal, C_DigestInit,
            C_Digest, C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate,
            C_SignFinal, C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate,
            C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate,
            C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey,
            C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom,
            C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent)
    };
}

macro_rules! v3_functions {
    ($m:ident!($list:expr, $test:ident)) => {
        $m!($list, $test;
            C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel, C_MessageEncryptInit,
            C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext, C_MessageEncryptFinal,
            C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext,
            C_MessageDecryptFinal, C_MessageSignInit, C_SignMessage, C_SignMessageBegin,
            C_SignMessageNext, C_MessageSignFinal, C_MessageVerifyInit, C_VerifyMessage,
            C_VerifyMessageBegin, C_VerifyMessageNext, C_MessageVerifyFinal)
    };
}

fn interface_version(i: &CK_INTERFACE) -> (u8, u8) {
    assert!(!i.pFunctionList.is_null());
    // SAFETY: every function list starts with its CK_VERSION.
    let v = unsafe { *i.pFunctionList.cast::<CK_VERSION>() };
    (v.major, v.minor)
}

fn interface_name(i: &CK_INTERFACE) -> String {
    assert!(!i.pInterfaceName.is_null());
    // SAFETY: interface names are NUL-terminated strings owned by the module.
    unsafe { CStr::from_ptr(i.pInterfaceName as *const std::ffi::c_char) }
        .to_string_lossy()
        .into_owned()
}

fn get_interface(
    raw: &Raw,
    name: Option<&str>,
    version: Option<(u8, u8)>,
) -> Result<CK_INTERFACE, CK_RV> {
    let name = name.map(c_string);
    let mut v = version.map(|(major, minor)| CK_VERSION { major, minor });
    let mut out: *mut CK_INTERFACE = null_mut();
    // SAFETY: the name is NUL-terminated, the version and `out` are valid or NULL.
    let rv = unsafe {
        raw.sys().C_GetInterface(
            name.as_ref()
                .map_or(null_mut(), |n| n.as_ptr() as *mut CK_UTF8CHAR),
            v.as_mut().map_or(null_mut(), |v| v as *mut CK_VERSION),
            &mut out,
            0,
        )
    };
    if rv != CKR_OK {
        return Err(rv);
    }
    assert!(!out.is_null());
    // SAFETY: the module returned a pointer to one of its interfaces.
    Ok(unsafe { *out })
}

fn function_lists(ctx: &Ctx) {
    let raw = ctx.raw();
    let p = raw.sys();

    // Every function of both lists is exported as a symbol.
    let mut missing_symbols = v2_functions!(missing!(p, is_ok));
    missing_symbols.extend(v3_functions!(missing!(p, is_ok)));
    assert!(
        missing_symbols.is_empty(),
        "symbols not exported: {missing_symbols:?}"
    );

    // C_GetFunctionList: the 2.40 list, complete.
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: `list` is writable.
    assert_rv(
        unsafe { p.C_GetFunctionList(&mut list) },
        CKR_OK,
        "C_GetFunctionList",
    );
    assert!(!list.is_null());
    // SAFETY: the module returned a pointer to its CK_FUNCTION_LIST.
    let l = unsafe { *list };
    assert_eq!(
        (l.version.major, l.version.minor),
        (2, 40),
        "C_GetFunctionList gives the 2.40 list"
    );
    let missing2 = v2_functions!(missing!(l, is_some));
    assert!(
        missing2.is_empty(),
        "NULL entries in the 2.40 list: {missing2:?}"
    );

    // C_GetInterfaceList: a count query, a too-small buffer, then the list.
    let mut n: CK_ULONG = 0;
    // SAFETY: NULL list = count query.
    assert_rv(
        unsafe { p.C_GetInterfaceList(null_mut(), &mut n) },
        CKR_OK,
        "C_GetInterfaceList count",
    );
    assert!(n >= 2, "at least the 3.0 and 2.40 interfaces: {n}");
    let empty = CK_INTERFACE {
        pInterfaceName: null_mut(),
        pFunctionList: null_mut(),
        flags: 0,
    };
    let mut ifaces = vec![empty; n as usize];
    let mut small: CK_ULONG = 1;
    // SAFETY: `ifaces` holds at least `small` entries.
    let rv = unsafe { p.C_GetInterfaceList(ifaces.as_mut_ptr(), &mut small) };
    assert_rv(
        rv,
        CKR_BUFFER_TOO_SMALL,
        "C_GetInterfaceList with room for one",
    );
    assert_eq!(small, n, "the needed count is returned");
    // SAFETY: `ifaces` holds `n` entries.
    assert_rv(
        unsafe { p.C_GetInterfaceList(ifaces.as_mut_ptr(), &mut n) },
        CKR_OK,
        "C_GetInterfaceList",
    );
    let mut versions = Vec::new();
    for i in &ifaces[..n as usize] {
        assert_eq!(interface_name(i), "PKCS 11");
        versions.push(interface_version(i));
    }
    assert!(
        versions.contains(&(3, 0)) && versions.contains(&(2, 40)),
        "interface versions {versions:?}"
    );

    // C_GetInterface by name and version.
    let v240 = get_interface(&raw, Some("PKCS 11"), Some((2, 40))).unwrap();
    assert_eq!(interface_version(&v240), (2, 40));
    let v30 = get_interface(&raw, Some("PKCS 11"), Some((3, 0))).unwrap();
    assert_eq!(interface_version(&v30), (3, 0));
    assert_eq!(interface_name(&v30), "PKCS 11");
    // SAFETY: the 3.0 interface's list is a CK_FUNCTION_LIST_3_0.
    let l3 = unsafe { *v30.pFunctionList.cast::<CK_FUNCTION_LIST_3_0>() };
    let mut missing3 = v2_functions!(missing!(l3, is_some));
    missing3.extend(v3_functions!(missing!(l3, is_some)));
    assert!(
        missing3.is_empty(),
        "NULL entries in the 3.0 list: {missing3:?}"
    );
    let default = get_interface(&raw, None, None).unwrap();
    assert_eq!(interface_name(&default), "PKCS 11");
    let by_name = get_interface(&raw, Some("PKCS 11"), None).unwrap();
    assert!(interface_version(&by_name).0 >= 2);
    assert!(
        get_interface(&raw, Some("Vendor Nope"), None).is_err(),
        "an unknown interface name"
    );
    assert!(
        get_interface(&raw, Some("PKCS 11"), Some((1, 0))).is_err(),
        "an unknown interface version"
    );
    // SAFETY: NULL ppInterface must be refused.
    let rv = unsafe { p.C_GetInterface(null_mut(), null_mut(), null_mut(), 0) };
    assert_rv(rv, CKR_ARGUMENTS_BAD, "C_GetInterface(.., NULL)");

    // The lists' functions are the module's: C_GetInfo through the 3.0 list, before and after
    // C_Initialize through the same list.
    let mut info = CK_INFO::default();
    let get_info = l3.C_GetInfo.unwrap();
    // SAFETY: a writable CK_INFO.
    assert_rv(
        unsafe { get_info(&mut info) },
        CKR_CRYPTOKI_NOT_INITIALIZED,
        "3.0 list C_GetInfo before C_Initialize",
    );
    let init = l3.C_Initialize.unwrap();
    // SAFETY: NULL arguments are allowed.
    assert_rv(unsafe { init(null_mut()) }, CKR_OK, "3.0 list C_Initialize");
    // SAFETY: a writable CK_INFO.
    assert_rv(unsafe { get_info(&mut info) }, CKR_OK, "3.0 list C_GetInfo");
    assert_eq!(info.cryptokiVersion.major, 3);
}

/// An application may load the module in a worker thread, use it, C_Finalize, unload it
/// (dlclose, as the `cryptoki` crate does when its context drops) and let the thread end:
/// nothing the module left behind (thread-local destructors, pthread keys) may then run
/// unloaded code.
fn unload_and_thread_exit(env: &Env) {
    let (status, out, err) = env.run_unchecked("unload_in_thread", &[("unpinned", "1")]);
    assert!(
        status.is_some_and(|s| s.success()) && out.contains("UNLOADED"),
        "the process died after the module was used in a thread, finalized and unloaded \
         ({}): a thread-exit destructor still points into the unloaded module\n\
         --- stdout\n{out}\n--- stderr\n{err}",
        describe(status)
    );
}

fn unload_in_thread(ctx: &Ctx) {
    let module = ctx.module.clone();
    let worker = std::thread::spawn(move || {
        let p11 = cryptoki::context::Pkcs11::new(&module).unwrap();
        p11.initialize(cryptoki::context::CInitializeArgs::new(
            cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
        ))
        .unwrap();
        let slot = p11.get_slots_with_token().unwrap()[0];
        let s = p11.open_rw_session(slot).unwrap();
        assert_eq!(s.generate_random_vec(32).unwrap().len(), 32);
        let digest = s
            .digest(&cryptoki::mechanism::Mechanism::Sha256, b"abc")
            .unwrap();
        assert_eq!(digest.len(), 32);
        drop(s);
        p11.finalize().unwrap(); // and dlclose: the last handle goes
    });
    worker.join().unwrap();
    // A second worker, after the unload: the process must still be sound.
    std::thread::spawn(|| ()).join().unwrap();
    println!("UNLOADED");
}
