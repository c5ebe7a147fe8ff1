//! Where posd keeps its state, and where a development daemon leaves word of its bus.

use std::path::{Path, PathBuf};

/// Name of the file, in the state directory, that one daemon at a time holds locked.
pub const LOCK_FILE: &str = "posd.lock";

/// Name of the file that holds a development daemon's private bus address.
pub use posd_client::connect::BUS_ADDRESS_FILE;

/// Picks the state directory: `--state-dir` if given, else `$STATE_DIRECTORY`, else the
/// XDG state directory, else `/var/lib/posd`. Clients look for a development daemon's bus
/// there, so the rule lives in the client crate.
pub use posd_client::connect::state_dir;

/// Picks the configuration directory: `--config-dir`, else `$CONFIGURATION_DIRECTORY`
/// (systemd's `ConfigurationDirectory=`), else `/etc/posd`.
pub fn config_dir(cli: Option<PathBuf>, env: impl Fn(&str) -> Option<String>) -> PathBuf {
    cli.or_else(|| {
        env("CONFIGURATION_DIRECTORY")
            .and_then(|d| d.split(':').find(|d| !d.is_empty()).map(PathBuf::from))
    })
    .unwrap_or_else(|| PathBuf::from("/etc/posd"))
}

/// Where a development daemon records the address of the private bus it started, in the
/// order clients look (the client crate's rule, which they share).
pub use posd_client::connect::bus_address_files;

/// The plugin directory of a development daemon: in its own state directory, which the
/// developer can write, instead of `/var/lib/posd/plugins`, which only the packaged daemon
/// can.
pub fn development_plugin_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("plugins")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn state_dir_prefers_cli_then_systemd_then_xdg() {
        let all = [
            ("STATE_DIRECTORY", "/var/lib/posd:/var/lib/other"),
            ("XDG_STATE_HOME", "/home/u/.state"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(state_dir(Some("/x".into()), env(&all)), PathBuf::from("/x"));
        assert_eq!(state_dir(None, env(&all)), PathBuf::from("/var/lib/posd"));
        assert_eq!(
            state_dir(None, env(&all[1..])),
            PathBuf::from("/home/u/.state/posd")
        );
        assert_eq!(
            state_dir(None, env(&all[2..])),
            PathBuf::from("/home/u/.local/state/posd")
        );
        assert_eq!(state_dir(None, env(&[])), PathBuf::from("/var/lib/posd"));
    }

    #[test]
    fn config_dir_prefers_cli_then_systemd() {
        let vars = [("CONFIGURATION_DIRECTORY", "/etc/posd-a")];
        assert_eq!(
            config_dir(Some("/c".into()), env(&vars)),
            PathBuf::from("/c")
        );
        assert_eq!(config_dir(None, env(&vars)), PathBuf::from("/etc/posd-a"));
        assert_eq!(config_dir(None, env(&[])), PathBuf::from("/etc/posd"));
    }

    #[test]
    fn bus_address_is_looked_for_in_the_runtime_then_the_state_directory() {
        let state = Path::new("/home/u/.local/state/posd");
        assert_eq!(
            bus_address_files(state, env(&[("XDG_RUNTIME_DIR", "/run/user/1000")])),
            vec![
                PathBuf::from("/run/user/1000/posd/bus-address"),
                PathBuf::from("/home/u/.local/state/posd/bus-address")
            ]
        );
        assert_eq!(
            bus_address_files(state, env(&[("XDG_RUNTIME_DIR", "relative")])),
            vec![PathBuf::from("/home/u/.local/state/posd/bus-address")],
            "a relative runtime directory is ignored"
        );
    }
}
