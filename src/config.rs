//! Module configuration: `$CLOUDHSM_PKCS11_CONF` (TOML) or a path given to C_Initialize in
//! pReserved; with neither, one embedded slot on the default store.
//!
//! ```toml
//! [[cluster]]
//! name = "dev"            # slot ID derives from it (stable across runs, below 2^31)
//! store = "/var/lib/cloudhsm/dev"
//! label = "dev"
//! min_pin_len = 4
//! max_pin_len = 32
//! compat = "default"      # or "cloudhsm"
//! transport = "direct"    # or "wire": every call encoded as on the network
//! max_users = 1024        # users per cluster (CloudHSM's quota)
//! max_keys = 16666        # key objects per cluster, session and token (CloudHSM's quota)
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// How a slot reaches its HSM core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// The core in-process, called directly.
    #[default]
    Direct,
    /// The core in-process, every request and response encoded and decoded as on the wire.
    Wire,
}

/// Which behaviour a slot reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    /// PKCS#11 as the spec says.
    #[default]
    Default,
    /// What an application meets on AWS CloudHSM Client SDK 5.
    Cloudhsm,
}

/// One cluster = one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotConfig {
    pub slot_id: u64,
    pub name: String,
    pub label: String,
    pub store: PathBuf,
    pub min_pin_len: u64,
    pub max_pin_len: u64,
    pub compat: Compat,
    pub transport: Transport,
    /// Users per cluster (CloudHSM: 1,024).
    pub max_users: u64,
    /// Key objects per cluster, session and token (CloudHSM: 16,666).
    pub max_keys: u64,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub slots: Vec<SlotConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    cluster: Vec<FileCluster>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCluster {
    name: String,
    store: Option<PathBuf>,
    label: Option<String>,
    slot_id: Option<u64>,
    min_pin_len: Option<u64>,
    max_pin_len: Option<u64>,
    #[serde(default)]
    compat: Compat,
    #[serde(default)]
    transport: Transport,
    max_users: Option<u64>,
    max_keys: Option<u64>,
}

/// The default store directory: `$CLOUDHSM_HOME`, else `$XDG_DATA_HOME/cloudhsm`, else
/// `~/.local/share/cloudhsm`.
pub fn default_store() -> PathBuf {
    if let Some(h) = std::env::var_os("CLOUDHSM_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("cloudhsm");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/cloudhsm")
}

/// A stable slot ID from a cluster name: FNV-1a, kept below 2^31 (Java reads slot IDs as int).
pub fn slot_id_for(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h & 0x7fff_ffff
}

impl SlotConfig {
    fn embedded_default() -> Self {
        SlotConfig {
            slot_id: slot_id_for("default"),
            name: "default".into(),
            label: "cloudhsm".into(),
            store: default_store(),
            min_pin_len: 4,
            max_pin_len: 32,
            compat: Compat::Default,
            transport: Transport::Direct,
            max_users: crate::hsm::users::MAX_USERS,
            max_keys: crate::hsm::users::MAX_KEYS,
        }
    }
}

impl Config {
    /// Load from `path`, else `$CLOUDHSM_PKCS11_CONF`, else the embedded default.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let env = std::env::var_os("CLOUDHSM_PKCS11_CONF").filter(|v| !v.is_empty());
        match path.map(Path::to_path_buf).or(env.map(PathBuf::from)) {
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|_| Error::GeneralError)?;
                Config::parse(&text)
            }
            None => Ok(Config {
                slots: vec![SlotConfig::embedded_default()],
            }),
        }
    }

    /// Parse TOML text.
    pub fn parse(text: &str) -> Result<Config> {
        let file: FileConfig = toml::from_str(text).map_err(|_| Error::GeneralError)?;
        let mut slots = Vec::with_capacity(file.cluster.len());
        for c in file.cluster {
            let (min, max) = match c.compat {
                Compat::Cloudhsm => (7, 32),
                Compat::Default => (4, 32),
            };
            let slot = SlotConfig {
                slot_id: c.slot_id.unwrap_or_else(|| slot_id_for(&c.name)),
                label: c.label.unwrap_or_else(|| c.name.clone()),
                store: c.store.unwrap_or_else(|| default_store().join(&c.name)),
                min_pin_len: c.min_pin_len.unwrap_or(min),
                max_pin_len: c.max_pin_len.unwrap_or(max),
                compat: c.compat,
                transport: c.transport,
                max_users: c.max_users.unwrap_or(crate::hsm::users::MAX_USERS),
                max_keys: c.max_keys.unwrap_or(crate::hsm::users::MAX_KEYS),
                name: c.name,
            };
            if slot.slot_id > 0x7fff_ffff
                || slot.min_pin_len == 0
                || slot.min_pin_len > slot.max_pin_len
                || slot.max_users == 0
                || slots.iter().any(|s: &SlotConfig| s.slot_id == slot.slot_id)
            {
                return Err(Error::GeneralError);
            }
            slots.push(slot);
        }
        if slots.is_empty() {
            slots.push(SlotConfig::embedded_default());
        }
        Ok(Config { slots })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clusters() {
        let c = Config::parse(
            "[[cluster]]\nname = \"a\"\nstore = \"/tmp/a\"\ncompat = \"cloudhsm\"\n\
             [[cluster]]\nname = \"b\"\nstore = \"/tmp/b\"\ntransport = \"wire\"\n",
        )
        .unwrap();
        assert_eq!(c.slots.len(), 2);
        assert_eq!(c.slots[0].min_pin_len, 7);
        assert_eq!(c.slots[1].transport, Transport::Wire);
        assert!(c.slots[0].slot_id < 1 << 31);
        assert_ne!(c.slots[0].slot_id, c.slots[1].slot_id);
    }

    #[test]
    fn rejects_bad_config() {
        assert!(Config::parse("[[cluster]]\nname = \"a\"\nbogus = 1\n").is_err());
        assert!(
            Config::parse("[[cluster]]\nname = \"a\"\nmin_pin_len = 9\nmax_pin_len = 8\n").is_err()
        );
    }
}
