//! Where posd keeps its state, and where a development daemon leaves word of its bus.

use std::path::{Path, PathBuf};

/// Name of the file, in the state directory, that one daemon at a time holds locked.
pub const LOCK_FILE: &str = "posd.lock";

/// Name of the file that holds a development daemon's private bus address.
pub const BUS_ADDRESS_FILE: &str = "bus-address";

/// Picks the state directory: `--state-dir` if given (an explicit choice wins), else
/// `$STATE_DIRECTORY` (systemd's `StateDirectory=`; the first if it lists several), else the
/// user's XDG state directory (`$XDG_STATE_HOME/posd` or `~/.local/state/posd`) for a
/// developer's run, else `/var/lib/posd`.
pub fn state_dir(cli: Option<PathBuf>, env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(dir) = cli {
        return dir;
    }
    if let Some(dirs) = env("STATE_DIRECTORY")
        && let Some(first) = dirs.split(':').find(|d| !d.is_empty())
    {
        return PathBuf::from(first);
    }
    if let Some(xdg) = env("XDG_STATE_HOME").filter(|d| d.starts_with('/')) {
        return PathBuf::from(xdg).join("posd");
    }
    if let Some(home) = env("HOME").filter(|d| d.starts_with('/')) {
        return PathBuf::from(home).join(".local/state/posd");
    }
    PathBuf::from("/var/lib/posd")
}

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
/// order `posctl --session` looks: `$XDG_RUNTIME_DIR/posd/bus-address` (the user's own
/// runtime directory, emptied at logout) when there is one, then `bus-address` in the state
/// directory, which is per daemon (the state lock makes it so) and found by a posctl that
/// runs without `XDG_RUNTIME_DIR` (a root shell over ssh, a container).
pub fn bus_address_files(state_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(runtime) = env("XDG_RUNTIME_DIR").filter(|d| d.starts_with('/')) {
        files.push(PathBuf::from(runtime).join("posd").join(BUS_ADDRESS_FILE));
    }
    files.push(state_dir.join(BUS_ADDRESS_FILE));
    files
}

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
