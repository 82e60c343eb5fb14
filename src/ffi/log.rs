//! Logging: off unless `CLOUDHSM_PKCS11_LOG` is set (to `stderr` or a file path), set up in
//! the first C_Initialize (never at library load). `CLOUDHSM_PKCS11_LOG_LEVEL` takes a
//! `tracing` filter (default `info`). Nothing logs buffers, PINs or attribute values.

use std::sync::{Mutex, Once};

static INIT: Once = Once::new();

/// Install the subscriber once, if asked to. A host that installed its own global
/// subscriber keeps it.
pub(crate) fn init() {
    INIT.call_once(|| {
        let Some(dest) = std::env::var_os("CLOUDHSM_PKCS11_LOG").filter(|v| !v.is_empty()) else {
            return;
        };
        let filter = std::env::var("CLOUDHSM_PKCS11_LOG_LEVEL").unwrap_or_else(|_| "info".into());
        let filter = tracing_subscriber::EnvFilter::try_new(filter)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false);
        let _ = if dest == "stderr" {
            builder.with_writer(std::io::stderr).try_init()
        } else {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&dest)
            {
                Ok(file) => builder.with_writer(Mutex::new(file)).try_init(),
                Err(_) => return,
            }
        };
    });
}
