//! Finding the daemon: the system bus, the session bus, a bus by address, or the private bus
//! a development posd recorded for its clients when there was no session bus.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::BUS_NAME;

/// The file a development posd records its private bus address in.
pub const BUS_ADDRESS_FILE: &str = "bus-address";

/// The state database's file in the state directory (see [`state_dir`]): a client that reads
/// a till's books without its daemon (posctl, through `posd inspect`) names it by this.
pub const DATABASE_FILE: &str = "posd.sqlite3";

/// Which bus a client talks on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusChoice {
    /// The system bus: production.
    System,
    /// The caller's session bus: development; falls back to a recorded private bus.
    Session,
    /// Any bus by address (`unix:path=…`): tests and private buses.
    Address(String),
}

impl std::fmt::Display for BusChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusChoice::System => f.write_str("system bus"),
            BusChoice::Session => f.write_str("session bus"),
            BusChoice::Address(a) => write!(f, "bus at {a}"),
        }
    }
}

/// The starting point of a connection to `choice`.
pub fn builder(choice: &BusChoice) -> zbus::connection::Builder<'static> {
    match choice {
        BusChoice::System => zbus::connection::Builder::system(),
        BusChoice::Session => zbus::connection::Builder::session(),
        BusChoice::Address(a) => zbus::connection::Builder::address(a.as_str()),
    }
}

/// How long a client waits for posd's answer to a call before it gives up with
/// `zbus::Error::InputOutput(TimedOut)`: the D-Bus daemon's own default. A frontend must
/// not hang forever on a daemon that hangs; a call the daemon answers later is still
/// carried out, which is why checkout, void and return take idempotency keys.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// A client connection to `choice`, without looking for posd on it; calls time out after
/// [`CALL_TIMEOUT`].
pub async fn connect(choice: &BusChoice) -> zbus::Result<zbus::Connection> {
    builder(choice).method_timeout(CALL_TIMEOUT).build().await
}

/// A connection where posd answers, and, when it is not the bus asked for, a note saying
/// which bus was taken instead (for stderr or a status line). [`BusChoice::Session`] where no
/// session bus answers, or where posd is not on it, falls back to the private bus a
/// development posd recorded (see [`bus_address_files`]); a recorded bus that does not answer
/// is a leftover of a killed daemon and is skipped.
pub async fn connect_to_posd(
    choice: &BusChoice,
) -> zbus::Result<(zbus::Connection, Option<String>)> {
    if *choice != BusChoice::Session {
        return Ok((connect(choice).await?, None));
    }
    let session = connect(choice).await;
    if let Ok(conn) = &session
        && posd_is_on(conn).await
    {
        return Ok((conn.clone(), None));
    }
    if let Some((conn, address, file)) = recorded_private_bus().await {
        let why = match &session {
            Ok(_) => "posd is not on the session bus",
            Err(_) => "there is no session bus",
        };
        let note = format!(
            "{why}; using the private bus of the development posd, {address} (recorded in {})",
            file.display()
        );
        return Ok((conn, Some(note)));
    }
    Ok((session?, None))
}

/// Whether someone owns posd's name on `conn`'s bus.
pub async fn posd_is_on(conn: &zbus::Connection) -> bool {
    let Ok(dbus) = zbus::fdo::DBusProxy::new(conn).await else {
        return false;
    };
    let Ok(name) = zbus::names::BusName::try_from(BUS_NAME) else {
        return false;
    };
    dbus.name_has_owner(name).await.unwrap_or(false)
}

/// The first recorded private bus that answers with posd on it: the connection, its
/// address and the file it was recorded in.
async fn recorded_private_bus() -> Option<(zbus::Connection, String, PathBuf)> {
    let state_dir = state_dir(None, env_var);
    for file in bus_address_files(&state_dir, env_var) {
        let Some(address) = read_recorded(&file) else {
            continue;
        };
        let attempt = tokio::time::timeout(
            Duration::from_secs(2),
            connect(&BusChoice::Address(address.clone())),
        )
        .await;
        if let Ok(Ok(conn)) = attempt
            && posd_is_on(&conn).await
        {
            return Some((conn, address, file));
        }
    }
    None
}

/// An environment variable, empty counting as unset (as posd reads them).
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// posd's state directory as the daemon picks it: the one given, else `$STATE_DIRECTORY`
/// (systemd's `StateDirectory=`; the first if it lists several), else the user's XDG state
/// directory (`$XDG_STATE_HOME/posd` or `~/.local/state/posd`) for a developer's run, else
/// `/var/lib/posd`.
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

/// Where a development daemon records the address of its private bus, in the order clients
/// look: `posd/bus-address` in `$XDG_RUNTIME_DIR` (the user's runtime directory, emptied at
/// logout) when there is one, then `bus-address` in the state directory, which is per daemon
/// (the state lock makes it so) and found by a client that runs without `XDG_RUNTIME_DIR` (a
/// root shell over ssh, a container).
pub fn bus_address_files(state_dir: &Path, env: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(runtime) = env("XDG_RUNTIME_DIR").filter(|d| d.starts_with('/')) {
        files.push(PathBuf::from(runtime).join("posd").join(BUS_ADDRESS_FILE));
    }
    files.push(state_dir.join(BUS_ADDRESS_FILE));
    files
}

/// The address recorded in `file`, if it holds one.
pub fn read_recorded(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let address = text.lines().next()?.trim();
    (!address.is_empty()).then(|| address.to_string())
}
