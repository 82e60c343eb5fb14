//! An open, CloudHSM-compatible HSM: the PKCS#11 module, the HSM core behind `trait Hsm`,
//! its store and its crypto. See DESIGN.md for the layers.

pub mod cli;
pub mod config;
pub mod crypto;
pub mod cryptoki;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
pub mod hsm;
pub mod store;
