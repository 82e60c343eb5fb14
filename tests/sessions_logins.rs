//! Sessions and logins through the built module: the session-state × function table, the PIN
//! forms, login state per application, lockout and unlock, C_SetPIN, C_InitToken re-init,
//! session objects, the session limit and stale handles. Each step runs in its own process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;

black_box_suite! {
    steps: [
        activate, state_table, ro_rw_so_rules, pin_forms, login_state, lock_users, still_locked,
        admin_reset, after_reset, change_pins, changed_pins, populate, reinit_token, after_reinit,
        session_objects, session_limit, stale_handles,
    ];
    scenarios: [
        session_state_table, login_forms, login_state_per_application, lockout_and_unlock,
        set_pin, init_token_wipes, session_objects_die, session_count_limit, stale_handles_invalid,
    ];
}

fn activate(ctx: &Ctx) {
    ctx.init().activate();
}

// ---------------------------------------------------------------------------- the table

/// The five session states of PKCS#11 §5.6 (table 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    RoPublic,
    RoUser,
    RwPublic,
    RwUser,
    RwSo,
}

const STATES: [State; 5] = [
    State::RoPublic,
    State::RoUser,
    State::RwPublic,
    State::RwUser,
    State::RwSo,
];

#[derive(Debug, Clone, Copy)]
enum Func {
    CreateSessionPublic,
    CreateSessionPrivate,
    CreateTokenPublic,
    CreateTokenPrivate,
    DestroyTokenPublic,
    DestroyOwnSessionObject,
    GenerateTokenKey,
    GenerateSessionKey,
    InitPin,
    SetPin,
}

use RvError::{SessionReadOnly as SRO, UserNotLoggedIn as UNL};

/// An expected outcome: OK, or one of these codes (two only where the spec does not say which
/// of two violations a module reports first).
type Want = &'static [Option<RvError>];
const OK: Want = &[None];

/// (function, expected outcome in RO public, RO user, RW public, RW user, RW SO).
/// PKCS#11 2.40 §4.1 / 3.0 §4.4 (object access per state), §5.6 (C_InitPIN only in "R/W SO
/// Functions", else CKR_USER_NOT_LOGGED_IN; C_SetPIN only in R/W states, else
/// CKR_SESSION_READ_ONLY).
const TABLE: &[(Func, [Want; 5])] = &[
    (Func::CreateSessionPublic, [OK, OK, OK, OK, OK]),
    (
        Func::CreateSessionPrivate,
        [&[Some(UNL)], OK, &[Some(UNL)], OK, &[Some(UNL)]],
    ),
    (
        Func::CreateTokenPublic,
        [&[Some(SRO)], &[Some(SRO)], OK, OK, OK],
    ),
    (
        Func::CreateTokenPrivate,
        [
            &[Some(SRO), Some(UNL)],
            &[Some(SRO)],
            &[Some(UNL)],
            OK,
            &[Some(UNL)],
        ],
    ),
    (
        Func::DestroyTokenPublic,
        [&[Some(SRO)], &[Some(SRO)], OK, OK, OK],
    ),
    (Func::DestroyOwnSessionObject, [OK, OK, OK, OK, OK]),
    (
        Func::GenerateTokenKey,
        [
            &[Some(SRO), Some(UNL)],
            &[Some(SRO)],
            &[Some(UNL)],
            OK,
            &[Some(UNL)],
        ],
    ),
    (
        Func::GenerateSessionKey,
        [&[Some(UNL)], OK, &[Some(UNL)], OK, &[Some(UNL)]],
    ),
    (
        Func::InitPin,
        [&[Some(UNL)], &[Some(UNL)], &[Some(UNL)], &[Some(UNL)], OK],
    ),
    (Func::SetPin, [&[Some(SRO)], &[Some(SRO)], OK, OK, OK]),
];

fn session_state_table(env: &Env) {
    env.run("activate");
    env.run("state_table");
    env.run("ro_rw_so_rules");
}

fn open_state(hsm: &Hsm, state: State) -> Session {
    let s = match state {
        State::RoPublic | State::RoUser => hsm.ro(),
        _ => hsm.rw(),
    };
    match state {
        State::RoUser | State::RwUser => login(&s, UserType::User, USER_PIN).unwrap(),
        State::RwSo => login(&s, UserType::So, SO_PIN).unwrap(),
        State::RoPublic | State::RwPublic => {}
    }
    let want = match state {
        State::RoPublic => SessionState::RoPublic,
        State::RoUser => SessionState::RoUser,
        State::RwPublic => SessionState::RwPublic,
        State::RwUser => SessionState::RwUser,
        State::RwSo => SessionState::RwSecurityOfficer,
    };
    assert_eq!(
        s.get_session_info().unwrap().session_state(),
        want,
        "C_GetSessionInfo state"
    );
    s
}

fn aes_template(label: &str, token: bool) -> Vec<Attribute> {
    vec![
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::ValueLen(16.into()),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

fn run_func(s: &Session, f: Func, state: State, targets: &[ObjectHandle]) -> Result<(), RvError> {
    let label = format!("{f:?}-{state:?}");
    let i = STATES.iter().position(|x| *x == state).unwrap();
    match f {
        Func::CreateSessionPublic => {
            rv(s.create_object(&data(&label, false, false, b"v"))).map(drop)
        }
        Func::CreateSessionPrivate => {
            rv(s.create_object(&data(&label, false, true, b"v"))).map(drop)
        }
        Func::CreateTokenPublic => rv(s.create_object(&data(&label, true, false, b"v"))).map(drop),
        Func::CreateTokenPrivate => rv(s.create_object(&data(&label, true, true, b"v"))).map(drop),
        Func::DestroyTokenPublic => rv(s.destroy_object(targets[i])),
        Func::DestroyOwnSessionObject => {
            let o = s.create_object(&data(&label, false, false, b"v")).unwrap();
            rv(s.destroy_object(o))
        }
        Func::GenerateTokenKey => {
            rv(s.generate_key(&Mechanism::AesKeyGen, &aes_template(&label, true))).map(drop)
        }
        Func::GenerateSessionKey => {
            rv(s.generate_key(&Mechanism::AesKeyGen, &aes_template(&label, false))).map(drop)
        }
        Func::InitPin => rv(s.init_pin(&AuthPin::from(format!("table{i}:table-password")))),
        Func::SetPin => {
            // Set the current PIN of whoever the state names to itself: a real change, no drift.
            let pin = if state == State::RwSo {
                SO_PIN
            } else {
                USER_PIN
            };
            rv(s.set_pin(&AuthPin::from(pin), &AuthPin::from(pin)))
        }
    }
}

fn state_table(ctx: &Ctx) {
    let hsm = ctx.init();
    // One public token object per state for C_DestroyObject, made in a R/W public session:
    // nobody owns it, every R/W state may destroy it.
    let targets: Vec<ObjectHandle> = {
        let s = hsm.rw();
        STATES
            .iter()
            .map(|st| {
                s.create_object(&data(&format!("target-{st:?}"), true, false, b"t"))
                    .unwrap()
            })
            .collect()
    };
    let mut failures = Vec::new();
    for (si, state) in STATES.iter().enumerate() {
        let s = open_state(&hsm, *state);
        for (f, wants) in TABLE {
            let got = run_func(&s, *f, *state, &targets);
            let want = wants[si];
            let got_opt = got.err();
            if !want.contains(&got_opt) {
                failures.push(format!(
                    "{f:?} in {state:?}: got {got_opt:?}, want one of {want:?}"
                ));
            }
        }
        drop(s);
    }
    assert!(
        failures.is_empty(),
        "session-state table:\n{}",
        failures.join("\n")
    );
}

/// C_Login as SO with a read-only session open; a read-only session while the SO is logged in.
fn ro_rw_so_rules(ctx: &Ctx) {
    let hsm = ctx.init();
    {
        let ro = hsm.ro();
        let rw = hsm.rw();
        assert_eq!(
            login(&rw, UserType::So, SO_PIN),
            Err(RvError::SessionReadOnlyExists),
            "SO login with an RO session open"
        );
        // A normal user may log in with read-only sessions open.
        login(&rw, UserType::User, USER_PIN).unwrap();
        assert_eq!(
            ro.get_session_info().unwrap().session_state(),
            SessionState::RoUser
        );
    }
    {
        let so = hsm.so();
        assert_eq!(
            rv(hsm.p11.open_ro_session(hsm.slot)).err(),
            Some(RvError::SessionReadWriteSoExists),
            "RO session with the SO logged in"
        );
        // R/W sessions are still fine, and in the SO state.
        let rw2 = hsm.rw();
        assert_eq!(
            rw2.get_session_info().unwrap().session_state(),
            SessionState::RwSecurityOfficer
        );
        so.logout().unwrap();
        // After the logout, RO sessions open again.
        let ro = hsm.ro();
        assert_eq!(
            ro.get_session_info().unwrap().session_state(),
            SessionState::RoPublic
        );
    }
}

// ---------------------------------------------------------------------------- logins

fn login_forms(env: &Env) {
    env.run("activate");
    env.run("pin_forms");
}

fn pin_forms(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.rw();
    // `name:password` logs in the named crypto user; what it makes is its own.
    login(&s, UserType::User, CU1).unwrap();
    s.create_object(&data("cu1-data", true, true, b"one"))
        .unwrap();
    s.logout().unwrap();
    // A bare password is the default crypto user `user`.
    login(&s, UserType::User, USER_PIN).unwrap();
    assert!(
        find_label(&s, "cu1-data").is_empty(),
        "the default user must not see cu1's private object"
    );
    s.create_object(&data("user-data", true, true, b"two"))
        .unwrap();
    s.logout().unwrap();
    login(&s, UserType::User, &format!("user:{USER_PIN}")).unwrap();
    assert_eq!(
        find_label(&s, "user-data").len(),
        1,
        "`user:<pw>` is the same user as a bare <pw>"
    );
    s.logout().unwrap();

    // C_LoginUser (3.0) with an explicit name; names are case-insensitive.
    let pw1 = CU1.split_once(':').unwrap().1;
    assert_rv(
        hsm.raw.login_user(s.handle(), CKU_USER, "cu1", pw1),
        CKR_OK,
        "C_LoginUser cu1",
    );
    assert_eq!(
        find_label(&s, "cu1-data").len(),
        1,
        "C_LoginUser names the same user as `cu1:`"
    );
    // A second login of the same kind, or of the other kind.
    assert_eq!(
        login(&s, UserType::User, CU1),
        Err(RvError::UserAlreadyLoggedIn)
    );
    assert_eq!(
        login(&s, UserType::So, SO_PIN),
        Err(RvError::UserAnotherAlreadyLoggedIn)
    );
    s.logout().unwrap();
    assert_rv(
        hsm.raw.login_user(s.handle(), CKU_USER, "CU1", pw1),
        CKR_OK,
        "C_LoginUser CU1",
    );
    assert_eq!(find_label(&s, "cu1-data").len(), 1);
    s.logout().unwrap();
    assert_eq!(
        rv(s.logout()),
        Err(RvError::UserNotLoggedIn),
        "C_Logout when nobody is logged in"
    );

    // Wrong passwords, unknown users, the wrong role.
    assert_eq!(
        login(&s, UserType::User, "cu1:not-the-password"),
        Err(RvError::PinIncorrect)
    );
    assert_eq!(
        login(&s, UserType::User, "nosuchuser:whatever1"),
        Err(RvError::PinIncorrect)
    );
    assert_eq!(
        login(&s, UserType::User, &format!("admin:{SO_PIN}")),
        Err(RvError::PinIncorrect),
        "an admin is not a crypto user"
    );
    assert_eq!(
        login(&s, UserType::So, CU1),
        Err(RvError::PinIncorrect),
        "a crypto user is not an admin"
    );
    // The SO in both forms.
    login(&s, UserType::So, SO_PIN).unwrap();
    s.logout().unwrap();
    login(&s, UserType::So, &format!("admin:{SO_PIN}")).unwrap();
    s.logout().unwrap();
    assert_rv(
        hsm.raw.login_user(s.handle(), CKU_SO, "admin", SO_PIN),
        CKR_OK,
        "C_LoginUser admin",
    );
    s.logout().unwrap();
    // After a failure, the right password still works (one failure locks nothing).
    login(&s, UserType::User, CU1).unwrap();
}

fn login_state_per_application(env: &Env) {
    env.run("activate");
    env.run("login_state");
}

fn state_of(s: &Session) -> SessionState {
    s.get_session_info().unwrap().session_state()
}

fn login_state(ctx: &Ctx) {
    let hsm = ctx.init();
    let s1 = hsm.rw();
    let s2 = hsm.rw();
    login(&s1, UserType::User, CU1).unwrap();
    // Login state belongs to the application: every session is logged in, new ones too.
    assert_eq!(state_of(&s2), SessionState::RwUser);
    let s3 = hsm.ro();
    assert_eq!(state_of(&s3), SessionState::RoUser);
    assert_eq!(
        login(&s2, UserType::User, CU1),
        Err(RvError::UserAlreadyLoggedIn)
    );
    s2.create_object(&data("private-in-s2", true, true, b"x"))
        .unwrap();
    // C_Logout from any session logs every session out.
    s2.logout().unwrap();
    assert_eq!(state_of(&s1), SessionState::RwPublic);
    assert_eq!(state_of(&s3), SessionState::RoPublic);
    assert!(
        find_label(&s1, "private-in-s2").is_empty(),
        "private objects vanish with the logout"
    );
    assert_eq!(rv(s1.logout()), Err(RvError::UserNotLoggedIn));
    drop(s3);

    // Closing the last session logs out.
    login(&s1, UserType::User, CU1).unwrap();
    drop(s1);
    drop(s2);
    let s4 = hsm.rw();
    assert_eq!(
        state_of(&s4),
        SessionState::RwPublic,
        "closing the last session logs out"
    );
    login(&s4, UserType::User, CU1).unwrap();
    assert_eq!(find_label(&s4, "private-in-s2").len(), 1);
    // C_CloseAllSessions too.
    assert_rv(
        hsm.raw.close_all_sessions(hsm.slot.id()),
        CKR_OK,
        "C_CloseAllSessions",
    );
    let s5 = hsm.rw();
    assert_eq!(
        state_of(&s5),
        SessionState::RwPublic,
        "C_CloseAllSessions logs out"
    );
    assert!(find_label(&s5, "private-in-s2").is_empty());
    std::mem::forget(s4); // already closed by C_CloseAllSessions
}

// ---------------------------------------------------------------------------- lockout

fn lockout_and_unlock(env: &Env) {
    env.run("activate");
    env.run("lock_users");
    env.run("still_locked");
    env.run("admin_reset");
    env.run("after_reset");
}

const USER_PIN2: &str = "user-password-2";
const CU1_NEW: &str = "cu1:cu1-new-password";

#[track_caller]
fn flags(hsm: &Hsm) -> (bool, bool, bool) {
    let t = hsm.token_info();
    (
        t.user_pin_count_low(),
        t.user_pin_final_try(),
        t.user_pin_locked(),
    )
}

fn lock_users(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.rw();
    assert_eq!(flags(&hsm), (false, false, false));
    // Two failures, then a success: the counter starts over.
    for _ in 0..2 {
        assert_eq!(
            login(&s, UserType::User, "wrong-password"),
            Err(RvError::PinIncorrect)
        );
    }
    assert!(flags(&hsm).0, "CKF_USER_PIN_COUNT_LOW after a failure");
    login(&s, UserType::User, USER_PIN).unwrap();
    s.logout().unwrap();
    assert_eq!(
        flags(&hsm),
        (false, false, false),
        "a successful login resets the counter"
    );

    // Five consecutive failures lock the default user, with the flags along the way.
    let want = [
        (true, false, false),
        (true, false, false),
        (true, false, false),
        (true, true, false),
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(
            login(&s, UserType::User, "wrong-password"),
            Err(RvError::PinIncorrect),
            "failure {}",
            i + 1
        );
        assert_eq!(
            flags(&hsm),
            *w,
            "(COUNT_LOW, FINAL_TRY, LOCKED) after {} failures",
            i + 1
        );
    }
    let fifth = login(&s, UserType::User, "wrong-password");
    assert!(
        matches!(fifth, Err(RvError::PinIncorrect | RvError::PinLocked)),
        "fifth failure: {fifth:?}"
    );
    assert!(flags(&hsm).2, "CKF_USER_PIN_LOCKED after five failures");
    assert_eq!(
        login(&s, UserType::User, USER_PIN),
        Err(RvError::PinLocked),
        "the right PIN on a locked user"
    );

    // cu1 in CloudHSM's form, locked the same way; cu2 is not affected.
    for _ in 0..5 {
        assert!(login(&s, UserType::User, "cu1:wrong-password").is_err());
    }
    assert_eq!(login(&s, UserType::User, CU1), Err(RvError::PinLocked));
    let pw1 = CU1.split_once(':').unwrap().1;
    assert_rv(
        hsm.raw.login_user(s.handle(), CKU_USER, "cu1", pw1),
        CKR_PIN_LOCKED,
        "C_LoginUser of a locked user",
    );
    login(&s, UserType::User, CU2).unwrap();
    s.logout().unwrap();
}

fn still_locked(ctx: &Ctx) {
    let hsm = ctx.init();
    assert!(flags(&hsm).2, "the lock persists in a new process");
    let s = hsm.rw();
    assert_eq!(login(&s, UserType::User, USER_PIN), Err(RvError::PinLocked));
    assert_eq!(login(&s, UserType::User, CU1), Err(RvError::PinLocked));
}

fn admin_reset(ctx: &Ctx) {
    let hsm = ctx.init();
    let so = hsm.so();
    so.init_pin(&AuthPin::from(USER_PIN2)).unwrap();
    so.init_pin(&AuthPin::from(CU1_NEW)).unwrap();
    so.logout().unwrap();
    assert_eq!(
        flags(&hsm),
        (false, false, false),
        "an admin reset clears the lock"
    );
    let s = hsm.rw();
    assert_eq!(
        login(&s, UserType::User, USER_PIN),
        Err(RvError::PinIncorrect),
        "the old PIN is gone"
    );
    login(&s, UserType::User, USER_PIN2).unwrap();
    s.logout().unwrap();
    login(&s, UserType::User, CU1_NEW).unwrap();
    s.logout().unwrap();
}

fn after_reset(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.rw();
    login(&s, UserType::User, USER_PIN2).unwrap();
    s.logout().unwrap();
    login(&s, UserType::User, CU1_NEW).unwrap();
}

// ---------------------------------------------------------------------------- C_SetPIN

fn set_pin(env: &Env) {
    env.run("activate");
    env.run("change_pins");
    env.run("changed_pins");
}

const CU1_CHANGED: &str = "cu1:cu1-changed-pw";

fn change_pins(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    let old = AuthPin::from(CU1.split_once(':').unwrap().1);
    let new = AuthPin::from(CU1_CHANGED.split_once(':').unwrap().1);
    assert_eq!(
        rv(s.set_pin(&AuthPin::from("not-my-password"), &new)),
        Err(RvError::PinIncorrect)
    );
    assert_eq!(
        rv(s.set_pin(&old, &AuthPin::from("abc"))),
        Err(RvError::PinLenRange),
        "a new PIN below the minimum length"
    );
    s.set_pin(&old, &new).unwrap();
    s.logout().unwrap();
    assert_eq!(
        login(&s, UserType::User, CU1),
        Err(RvError::PinIncorrect),
        "the old password fails"
    );
    login(&s, UserType::User, CU1_CHANGED).unwrap();
    s.logout().unwrap();
    // The SO changes its own password.
    let so = hsm.so();
    so.set_pin(&AuthPin::from(SO_PIN), &AuthPin::from("so-password-2"))
        .unwrap();
    so.logout().unwrap();
    // Other users are unaffected.
    login(&s, UserType::User, CU2).unwrap();
}

fn changed_pins(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.rw();
    assert_eq!(
        login(&s, UserType::User, CU1),
        Err(RvError::PinIncorrect),
        "the old password fails in a new process"
    );
    login(&s, UserType::User, CU1_CHANGED).unwrap();
    s.logout().unwrap();
    assert_eq!(login(&s, UserType::So, SO_PIN), Err(RvError::PinIncorrect));
    login(&s, UserType::So, "so-password-2").unwrap();
}

// ---------------------------------------------------------------------------- C_InitToken

fn init_token_wipes(env: &Env) {
    env.run("activate");
    env.run("populate");
    env.run("reinit_token");
    env.run("after_reinit");
}

fn populate(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.user(CU1);
    s.generate_key(&Mechanism::AesKeyGen, &aes_template("cu1-key", true))
        .unwrap();
    s.create_object(&data("cu1-private", true, true, b"p"))
        .unwrap();
    s.create_object(&data("cu1-public", true, false, b"q"))
        .unwrap();
    s.logout().unwrap();
    let pub_session = hsm.rw();
    pub_session
        .create_object(&data("public-data", true, false, b"r"))
        .unwrap();
    assert_eq!(find(&pub_session, &[]).len(), 2, "the public objects");
}

fn reinit_token(ctx: &Ctx) {
    let hsm = ctx.init();
    {
        let _open = hsm.ro();
        assert_eq!(
            rv(hsm
                .p11
                .init_token(hsm.slot, &AuthPin::from(SO_PIN), "wiped")),
            Err(RvError::SessionExists),
            "C_InitToken with a session open"
        );
    }
    assert_eq!(
        rv(hsm
            .p11
            .init_token(hsm.slot, &AuthPin::from("not-the-so-pin"), "wiped")),
        Err(RvError::PinIncorrect),
        "C_InitToken on an activated token requires the SO PIN"
    );
    {
        let s = hsm.rw();
        assert_eq!(
            find(&s, &[]).len(),
            2,
            "a refused C_InitToken destroys nothing"
        );
    }
    hsm.p11
        .init_token(hsm.slot, &AuthPin::from(SO_PIN), "wiped")
        .unwrap();
    let t = hsm.token_info();
    assert_eq!(t.label(), "wiped");
    assert!(t.token_initialized(), "still activated");
    assert!(!t.user_pin_initialized(), "the default crypto user is gone");
    let s = hsm.rw();
    assert!(
        find(&s, &[]).is_empty(),
        "every public token object is gone"
    );
    assert!(login(&s, UserType::User, CU1).is_err(), "cu1 is gone");
    assert!(
        login(&s, UserType::User, USER_PIN).is_err(),
        "the default user is gone"
    );
    // The admin stays and can make users again; the new user sees nothing of the old ones.
    login(&s, UserType::So, SO_PIN).unwrap();
    s.init_pin(&AuthPin::from(CU1)).unwrap();
    s.logout().unwrap();
    login(&s, UserType::User, CU1).unwrap();
    assert!(
        find(&s, &[]).is_empty(),
        "no private object survives either"
    );
}

fn after_reinit(ctx: &Ctx) {
    let hsm = ctx.init();
    let s = hsm.rw();
    assert!(find(&s, &[]).is_empty(), "nothing in a new process either");
    assert!(login(&s, UserType::User, CU2).is_err(), "cu2 is gone");
    login(&s, UserType::User, CU1).unwrap();
    assert!(find(&s, &[]).is_empty());
    assert!(find_label(&s, "cu1-key").is_empty());
}

// ---------------------------------------------------------------------------- session objects

fn session_objects_die(env: &Env) {
    env.run("activate");
    env.run("session_objects");
}

fn session_objects(ctx: &Ctx) {
    let hsm = ctx.init();
    let s1 = hsm.user(CU1);
    let s2 = hsm.rw();
    let pub_obj = s1
        .create_object(&data("session-public", false, false, b"a"))
        .unwrap();
    let priv_key = s1
        .generate_key(&Mechanism::AesKeyGen, &aes_template("session-key", false))
        .unwrap();
    // Session objects are visible to every session of the application while s1 lives.
    assert_eq!(find_label(&s2, "session-public"), vec![pub_obj]);
    assert_eq!(find_label(&s2, "session-key"), vec![priv_key]);
    drop(s1);
    assert!(
        find_label(&s2, "session-public").is_empty(),
        "a session object dies with its session"
    );
    let (code, _) =
        hsm.raw
            .get_attribute_value(s2.handle(), pub_obj.handle(), &[(CKA_LABEL, None)]);
    assert_rv(
        code,
        CKR_OBJECT_HANDLE_INVALID,
        "the handle of a dead session object",
    );
    assert_eq!(
        state_of(&s2),
        SessionState::RwUser,
        "s2 is still logged in: login is per application"
    );
    assert!(
        find_label(&s2, "session-key").is_empty(),
        "a session key dies with its session"
    );
    // Token objects do not.
    let token = s2
        .create_object(&data("token-object", true, false, b"b"))
        .unwrap();
    let s3 = hsm.rw();
    drop(s2);
    assert_eq!(find_label(&s3, "token-object"), vec![token]);
}

// ---------------------------------------------------------------------------- limits, handles

fn session_count_limit(env: &Env) {
    env.run("session_limit");
}

fn session_limit(ctx: &Ctx) {
    let hsm = ctx.init();
    let mut sessions = Vec::with_capacity(1024);
    for i in 0..1024 {
        let s = rv(if i % 2 == 0 {
            hsm.p11.open_ro_session(hsm.slot)
        } else {
            hsm.p11.open_rw_session(hsm.slot)
        })
        .unwrap_or_else(|e| panic!("session {}: {e:?}", i + 1));
        sessions.push(s);
    }
    assert_eq!(
        rv(hsm.p11.open_ro_session(hsm.slot)).err(),
        Some(RvError::SessionCount),
        "session 1,025"
    );
    assert_eq!(
        rv(hsm.p11.open_rw_session(hsm.slot)).err(),
        Some(RvError::SessionCount),
        "session 1,025 (RW)"
    );
    sessions.pop();
    let again = hsm.ro();
    assert_eq!(
        state_of(&again),
        SessionState::RoPublic,
        "a freed place can be used again"
    );
}

fn stale_handles_invalid(env: &Env) {
    env.run("activate");
    env.run("stale_handles");
}

fn stale_handles(ctx: &Ctx) {
    let hsm = ctx.init();
    let raw = &hsm.raw;
    let s = hsm.user(CU1);
    let closed = hsm.rw().handle(); // opened and closed at once
    assert_eq!(
        raw.get_session_info(closed).err(),
        Some(CKR_SESSION_HANDLE_INVALID),
        "a closed session"
    );
    assert_eq!(
        raw.get_session_info(0).err(),
        Some(CKR_SESSION_HANDLE_INVALID),
        "session handle 0"
    );
    assert_eq!(
        raw.get_session_info(0x7777_7777).err(),
        Some(CKR_SESSION_HANDLE_INVALID),
        "a made-up session handle"
    );
    assert_rv(
        raw.close_session(closed),
        CKR_SESSION_HANDLE_INVALID,
        "closing a session twice",
    );

    let obj = s.create_object(&data("doomed", true, true, b"x")).unwrap();
    let key = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    s.destroy_object(obj).unwrap();
    let (code, _) = raw.get_attribute_value(s.handle(), obj.handle(), &[(CKA_LABEL, None)]);
    assert_rv(code, CKR_OBJECT_HANDLE_INVALID, "a destroyed object");
    assert_rv(
        raw.destroy_object(s.handle(), obj.handle()),
        CKR_OBJECT_HANDLE_INVALID,
        "destroying twice",
    );
    let (code, _) = raw.get_attribute_value(s.handle(), 0, &[(CKA_LABEL, None)]);
    assert_rv(code, CKR_OBJECT_HANDLE_INVALID, "object handle 0");
    let (code, _) = raw.get_attribute_value(s.handle(), 0x6666_6666, &[(CKA_LABEL, None)]);
    assert_rv(code, CKR_OBJECT_HANDLE_INVALID, "a made-up object handle");
    assert_eq!(
        raw.object_size(s.handle(), obj.handle()).err(),
        Some(CKR_OBJECT_HANDLE_INVALID)
    );
    // A key handle that is not (or no longer) a key: CKR_KEY_HANDLE_INVALID at *Init.
    assert_rv(
        raw.sign_init(s.handle(), CKM_SHA256_HMAC, obj.handle()),
        CKR_KEY_HANDLE_INVALID,
        "C_SignInit with a destroyed key",
    );
    s.destroy_object(key).unwrap();
    assert_rv(
        raw.sign_init(s.handle(), CKM_SHA256_HMAC, key.handle()),
        CKR_KEY_HANDLE_INVALID,
        "C_SignInit with a destroyed key",
    );
    // Handles are never reused: a new object gets a new handle.
    let fresh = s.create_object(&data("fresh", false, false, b"y")).unwrap();
    assert_ne!(fresh.handle(), obj.handle());
    assert_ne!(fresh.handle(), key.handle());
    assert_ne!(fresh.handle(), 0);
}
