//! The HSM core: users and authentication, objects and attribute policy, mechanisms,
//! ownership, audit. Everything here is below the seam (`api::Hsm`).

pub mod aead_pq;
pub mod api;
pub mod attrs;
pub mod audit;
pub mod compat;
pub mod core;
pub mod derive;
pub mod inplace;
pub mod mechs;
pub mod objects;
pub mod quorum;
pub mod users;
pub mod vendor;
pub mod wire;

use std::sync::Arc;

use crate::config::{SlotConfig, Transport};
use crate::error::Result;

/// Open the HSM core for a slot, reached as the slot's config says.
pub fn open(cfg: &SlotConfig) -> Result<Arc<dyn api::Hsm>> {
    let core = Arc::new(core::Core::open(cfg)?);
    Ok(match cfg.transport {
        Transport::Direct => core,
        Transport::Wire => Arc::new(wire::WireHsm::new(core)),
    })
}
