//! The node's own settings, remembered in `<data dir>/settings.json` so that a restart needs
//! only `--data-dir`: where a manager listens, the address it advertises, and the hostname it
//! goes by. A flag given on a
//! restart overrides what was remembered and is remembered in turn. A manager asked to listen
//! on port 0 remembers the port it was given, so it comes back where its cluster knows it.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::layout::{Error, read_json, write_json};

/// File name of the remembered settings.
pub const SETTINGS_FILE: &str = "settings.json";

/// Where a node listens when neither a flag nor a remembered setting says.
pub const DEFAULT_LISTEN_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    super::runtime::DEFAULT_PORT,
));

/// Settings a node keeps across restarts (`None`: not set, the default applies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSettings {
    /// `--listen-addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_addr: Option<SocketAddr>,
    /// `--advertise-addr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertise_addr: Option<String>,
    /// `--hostname`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
}

impl NodeSettings {
    /// What is in force: each setting given now, else the remembered one.
    pub fn over(self, remembered: &NodeSettings) -> NodeSettings {
        NodeSettings {
            listen_addr: self.listen_addr.or(remembered.listen_addr),
            advertise_addr: self.advertise_addr.or(remembered.advertise_addr.clone()),
            hostname: self.hostname.or(remembered.hostname.clone()),
        }
    }

    /// The settings to remember once the node listens on `bound` (a port 0 becomes the port
    /// it was given).
    pub fn bound_to(mut self, bound: Option<SocketAddr>) -> NodeSettings {
        if let (Some(asked), Some(bound)) = (self.listen_addr, bound)
            && asked.port() == 0
        {
            self.listen_addr = Some(SocketAddr::new(asked.ip(), bound.port()));
        }
        self
    }

    /// The remembered settings of `data_dir` (none when it has no settings file).
    pub fn load(data_dir: &Path) -> Result<NodeSettings, Error> {
        Ok(read_json(&data_dir.join(SETTINGS_FILE))?.unwrap_or_default())
    }

    /// Remembers these settings in `data_dir` (atomically, owner-only).
    pub fn save(&self, data_dir: &Path) -> Result<(), Error> {
        write_json(&data_dir.join(SETTINGS_FILE), self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn a_flag_overrides_what_was_remembered_and_an_absent_one_keeps_it() {
        let remembered = NodeSettings {
            listen_addr: Some(addr("10.0.0.1:7420")),
            advertise_addr: Some("203.0.113.7".into()),
            hostname: Some("edge-1".into()),
        };
        let none = NodeSettings::default().over(&remembered);
        assert_eq!(none, remembered);
        let given = NodeSettings {
            listen_addr: Some(addr("10.0.0.2:7500")),
            advertise_addr: None,
            hostname: Some("edge-2".into()),
        };
        assert_eq!(
            given.over(&remembered),
            NodeSettings {
                listen_addr: Some(addr("10.0.0.2:7500")),
                advertise_addr: Some("203.0.113.7".into()),
                hostname: Some("edge-2".into()),
            }
        );
    }

    #[test]
    fn port_zero_is_remembered_as_the_port_given() {
        let asked = NodeSettings {
            listen_addr: Some(addr("127.0.0.1:0")),
            advertise_addr: None,
            hostname: None,
        };
        let kept = asked.bound_to(Some(addr("127.0.0.1:41234")));
        assert_eq!(kept.listen_addr, Some(addr("127.0.0.1:41234")));
        let fixed = NodeSettings {
            listen_addr: Some(addr("127.0.0.1:7420")),
            advertise_addr: None,
            hostname: None,
        };
        assert_eq!(fixed.clone().bound_to(Some(addr("127.0.0.1:9"))), fixed);
    }

    #[test]
    fn settings_survive_a_save_and_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            NodeSettings::load(dir.path()).expect("none yet"),
            NodeSettings::default()
        );
        let settings = NodeSettings {
            listen_addr: Some(addr("127.0.0.1:7420")),
            advertise_addr: Some("10.1.1.1:7000".into()),
            hostname: Some("m1".into()),
        };
        settings.save(dir.path()).expect("save");
        assert_eq!(NodeSettings::load(dir.path()).expect("load"), settings);
    }
}
