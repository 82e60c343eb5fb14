//! PKCS#11 bookkeeping above the seam: the module's global state, slots, sessions, login
//! state, object handles, find cursors, operation state and the output-buffer protocol.
//!
//! Safe Rust only: `ffi` turns C arguments into owned Rust values and calls the methods of
//! [`Module`]; every request to the HSM core goes through `trait Hsm`. No security decision is
//! taken here: the core decides who may log in, see or use what; this layer only keeps the
//! state PKCS#11 says an application (a process) has.
//!
//! # Lock order
//!
//! Locks are taken in this order, never the other way round:
//!
//! 1. `STATE` (this file): the module itself. Held only to clone the `Arc<Module>`, by
//!    C_Initialize / C_Finalize to swap it, and across `fork()` by the fork handlers.
//! 2. `Slot::state` (login state and the slot's sessions). Held across the core calls that
//!    change login or session state (Login, Logout, OpenSession, CloseSession, InitToken), so
//!    those are atomic with respect to each other. Never held for crypto.
//! 3. `Session::ops` (a session's operations). Held across that session's crypto calls: this
//!    serializes one session only, never the module.
//!    `Session::msg` (its message-based operations) is taken after `ops` when both are
//!    needed (never the other way round), and alone for the message functions.
//! 4. Leaves, held only for a lookup or an insert, never while taking another lock or calling
//!    the core: `Module::sessions` (handle → session registry), `Slot::objects` (handle map),
//!    `Slot::seen_generation`, `Module::finalized`.
//!
//! `parking_lot` locks do not poison; `STATE` is a `std` lock (its guard is held across
//! `fork()`, see below) whose poisoning is reported as CKR_GENERAL_ERROR.
//!
//! # Fork
//!
//! A child process must get CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize itself.
//! `ffi` registers [`fork_prepare`], [`fork_parent`] and [`fork_child`] with `pthread_atfork`:
//! `STATE` is write-locked across the fork (so no thread of the parent holds it in the
//! child), and the child bumps `FORK_EPOCH`. A module whose epoch is not the current one
//! belongs to the parent: every lookup fails, and C_Initialize in the child forgets it (never
//! dropping it: that would close the parent's store connections and log the parent out).

mod handles;
mod message;
mod objects;
mod ops;
mod session;
mod slot;

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

pub use message::MessageOut;
pub use ops::Out;
pub use session::{Session, SessionInfo};
pub(crate) use slot::{library_version, MANUFACTURER};
pub use slot::{LoginKind, SlotInfo, TokenInfoView};

use crate::config::{Config, SlotConfig};
use crate::error::{Error, Result};
use crate::hsm::api::Hsm;
use slot::Slot;

/// The module: `None` before C_Initialize and after C_Finalize.
static STATE: RwLock<Option<Arc<Module>>> = RwLock::new(None);

/// Bumped in every child process right after `fork()`.
static FORK_EPOCH: AtomicU64 = AtomicU64::new(0);

/// Bumped after every change of `STATE` (C_Initialize, C_Finalize) and in a forked child: a
/// thread's cached module ([`with_module`]) is current while this has not moved.
static STATE_GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// `STATE`'s write guard, held by the forking thread from the prepare handler to the
    /// parent or child handler.
    static FORK_GUARD: RefCell<Option<RwLockWriteGuard<'static, Option<Arc<Module>>>>> =
        const { RefCell::new(None) };

    /// This thread's copy of the module and the `STATE_GENERATION` it was taken at, so that
    /// the lookup every call starts with reads no shared lock and bumps no shared reference
    /// count (two threads doing so on every call make their cores fight over cache lines).
    static CURRENT: RefCell<Option<(u64, Arc<Module>)>> = const { RefCell::new(None) };
}

/// How often a blocking C_WaitForSlotEvent looks at the tokens.
const EVENT_POLL: Duration = Duration::from_millis(100);

/// The state of an initialized library in one process.
pub struct Module {
    epoch: u64,
    slots: Vec<Arc<Slot>>,
    /// Every open session of every slot, by handle (leaf locks: lookups only).
    sessions: handles::SessionTable,
    /// Set by C_Finalize; wakes a blocking C_WaitForSlotEvent.
    finalized: Mutex<bool>,
    wakeup: Condvar,
}

/// C_Initialize: load the configuration (from `config_path`, else `$CLOUDHSM_PKCS11_CONF`,
/// else the embedded default) and open every slot's HSM.
pub fn initialize(config_path: Option<&Path>) -> Result<()> {
    let mut state = STATE.write().map_err(|_| Error::GeneralError)?;
    let epoch = FORK_EPOCH.load(Ordering::Acquire);
    if let Some(inherited) = state.take() {
        if inherited.epoch == epoch {
            *state = Some(inherited);
            return Err(Error::CryptokiAlreadyInitialized);
        }
        // Inherited through fork(): the parent's store connections and logins. Never drop.
        std::mem::forget(inherited);
    }
    let config = Config::load(config_path)?;
    let mut backends = Vec::with_capacity(config.slots.len());
    for cfg in config.slots {
        let hsm = crate::hsm::open(&cfg)?;
        backends.push((cfg, hsm));
    }
    *state = Some(Arc::new(Module::with_backends_at(epoch, backends)?));
    STATE_GENERATION.fetch_add(1, Ordering::AcqRel);
    Ok(())
}

/// C_Finalize: log out, close every session, disconnect from every slot's HSM.
pub fn finalize() -> Result<()> {
    let module = {
        let mut state = STATE.write().map_err(|_| Error::GeneralError)?;
        match state.as_ref() {
            Some(m) if m.epoch == FORK_EPOCH.load(Ordering::Acquire) => state.take(),
            _ => None,
        }
    };
    STATE_GENERATION.fetch_add(1, Ordering::AcqRel);
    let _ = CURRENT.try_with(|c| c.try_borrow_mut().map(|mut cache| cache.take()));
    let module = module.ok_or(Error::CryptokiNotInitialized)?;
    module.shutdown();
    Ok(())
}

/// The initialized module of this process, or CKR_CRYPTOKI_NOT_INITIALIZED.
pub fn module() -> Result<Arc<Module>> {
    let state = STATE.read().map_err(|_| Error::GeneralError)?;
    match state.as_ref() {
        Some(m) if m.epoch == FORK_EPOCH.load(Ordering::Acquire) => Ok(Arc::clone(m)),
        _ => Err(Error::CryptokiNotInitialized),
    }
}

/// Run `f` on the initialized module of this process (else CKR_CRYPTOKI_NOT_INITIALIZED),
/// through this thread's cached copy when `STATE` has not changed since it was taken. For the
/// short lookup every call starts with (`f` must not block).
pub fn with_module<R>(f: impl FnOnce(&Module) -> Result<R>) -> Result<R> {
    let generation = STATE_GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let cached = CURRENT.try_with(|c| {
        let cache = c.try_borrow().ok()?;
        match cache.as_ref() {
            Some((g, m)) if *g == generation => f.take().map(|f| f(m)),
            _ => None,
        }
    });
    if let Ok(Some(r)) = cached {
        return r;
    }
    let f = f.ok_or(Error::GeneralError)?;
    // Look the module up and remember it (or forget a stale one) for this thread. The
    // generation was read first: a change meanwhile leaves the copy stale, never wrong.
    let found = module();
    let _ = CURRENT.try_with(|c| {
        if let Ok(mut cache) = c.try_borrow_mut() {
            *cache = found.as_ref().ok().map(|m| (generation, Arc::clone(m)));
        }
    });
    let module = found?;
    f(&module)
}

/// `pthread_atfork` prepare handler: hold `STATE` across the fork.
pub fn fork_prepare() {
    let guard = STATE.write().unwrap_or_else(PoisonError::into_inner);
    let _ = FORK_GUARD.try_with(|g| {
        if let Ok(mut slot) = g.try_borrow_mut() {
            *slot = Some(guard);
        }
    });
}

/// `pthread_atfork` parent handler: release `STATE`.
pub fn fork_parent() {
    let _ = FORK_GUARD.try_with(|g| g.try_borrow_mut().map(|mut slot| slot.take()));
}

/// `pthread_atfork` child handler: the module now belongs to the parent; release `STATE`.
pub fn fork_child() {
    FORK_EPOCH.fetch_add(1, Ordering::AcqRel);
    STATE_GENERATION.fetch_add(1, Ordering::AcqRel);
    let _ = FORK_GUARD.try_with(|g| g.try_borrow_mut().map(|mut slot| slot.take()));
}

impl Module {
    /// A module over the given backends, one slot each (tests and embedders; C_Initialize
    /// uses `hsm::open` for each configured slot).
    pub fn with_backends(backends: Vec<(SlotConfig, Arc<dyn Hsm>)>) -> Result<Module> {
        Module::with_backends_at(FORK_EPOCH.load(Ordering::Acquire), backends)
    }

    fn with_backends_at(epoch: u64, backends: Vec<(SlotConfig, Arc<dyn Hsm>)>) -> Result<Module> {
        let mut slots = Vec::with_capacity(backends.len());
        for (cfg, hsm) in backends {
            // On error, the slots opened so far disconnect when dropped.
            slots.push(Arc::new(Slot::connect(cfg, hsm)?));
        }
        Ok(Module {
            epoch,
            slots,
            sessions: handles::SessionTable::default(),
            finalized: Mutex::new(false),
            wakeup: Condvar::new(),
        })
    }

    /// Close every session, log out and disconnect (C_Finalize). Best effort: the core
    /// forgets a connection's state when it goes away anyway.
    pub fn shutdown(&self) {
        *self.finalized.lock() = true;
        self.wakeup.notify_all();
        self.sessions.clear();
        for slot in &self.slots {
            slot.close_all_sessions();
            slot.disconnect();
        }
    }

    /// The slot IDs, in configuration order (C_GetSlotList; every slot has its token).
    pub fn slot_ids(&self) -> Vec<u64> {
        self.slots.iter().map(|s| s.id()).collect()
    }

    fn slot(&self, id: u64) -> Result<&Arc<Slot>> {
        self.slots
            .iter()
            .find(|s| s.id() == id)
            .ok_or(Error::SlotIdInvalid)
    }

    /// An open session, by handle.
    pub fn session(&self, handle: u64) -> Result<Arc<Session>> {
        self.sessions.get(handle).ok_or(Error::SessionHandleInvalid)
    }

    /// C_WaitForSlotEvent: the first slot whose token changed since we last looked, or
    /// CKR_NO_EVENT (`block == false`); blocking, poll until a change or C_Finalize.
    pub fn wait_for_slot_event(&self, block: bool) -> Result<u64> {
        loop {
            for slot in &self.slots {
                if slot.token_changed()? {
                    return Ok(slot.id());
                }
            }
            if !block {
                return Err(Error::NoEvent);
            }
            let mut finalized = self.finalized.lock();
            if *finalized {
                return Err(Error::CryptokiNotInitialized);
            }
            self.wakeup.wait_for(&mut finalized, EVENT_POLL);
            if *finalized {
                return Err(Error::CryptokiNotInitialized);
            }
        }
    }
}
