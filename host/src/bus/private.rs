//! A private `dbus-daemon` of our own, for development machines without a session bus and
//! for tests that want a bus nobody else uses.
//!
//! The bus lives in a directory of its own (config and socket) and ends with the
//! [`PrivateBus`] value; should the process that started it die without cleaning up, the kernel
//! stops it too (`PR_SET_PDEATHSIG`).

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `dbus-daemon` and the address to reach it.
#[derive(Debug)]
pub struct PrivateBus {
    child: Child,
    address: String,
    dir: PathBuf,
}

/// The open policy of a development bus: everyone may own names and call everything.
pub const OPEN_POLICY: &str = r#"<policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>"#;

impl PrivateBus {
    /// Starts a bus with an open policy whose socket and config live in `dir`.
    pub fn start(dir: &Path) -> std::io::Result<Self> {
        Self::start_with(dir, "session", OPEN_POLICY)
    }

    /// Starts a bus of `bus_type` (`session` or `system`) with `policy_xml` (any `<policy>`,
    /// `<include>` or `<limit>` elements) in `dir`.
    pub fn start_with(dir: &Path, bus_type: &str, policy_xml: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let socket = dir.join("bus");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{bus_type}</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  {policy_xml}
</busconfig>
"#,
                socket.display()
            ),
        )?;
        let mut command = Command::new("dbus-daemon");
        command
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .arg("--nopidfile")
            .arg("--print-address=1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(dir.join("bus.log"))?));
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot start dbus-daemon (package dbus-daemon): {e}"),
            )
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let address = line.trim().to_string();
        if address.is_empty() {
            let _ = child.kill();
            let status = child.wait()?;
            return Err(std::io::Error::other(format!(
                "dbus-daemon exited ({status}) without printing its address; see {}",
                dir.join("bus.log").display()
            )));
        }
        Ok(Self {
            child,
            address,
            dir: dir.to_path_buf(),
        })
    }

    /// The address to give to `--bus-address` or `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Directory holding the socket and config.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Process id of the bus daemon.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private bus's address written where `posctl --session` looks for it (see
/// [`crate::paths::bus_address_files`]), so the README's second command finds a development
/// daemon without being told the address. Dropping it removes the files that still hold this
/// address: a clean stop leaves nothing behind, and a later daemon's record is left alone.
/// A daemon that was killed leaves its files; their bus is gone with it, so readers check
/// that the bus answers before they trust one.
#[derive(Debug)]
pub struct RecordedAddress {
    address: String,
    files: Vec<PathBuf>,
}

impl RecordedAddress {
    /// Writes `address` into each of `files` (each atomically, through a temporary file).
    /// Returns the record and, per file that could not be written, the reason, so the caller
    /// can say so without failing the start: the address is also printed.
    pub fn write(address: &str, files: &[PathBuf]) -> (Self, Vec<String>) {
        let mut written = Vec::new();
        let mut failures = Vec::new();
        for file in files {
            match write_atomically(file, address) {
                Ok(()) => written.push(file.clone()),
                Err(e) => failures.push(format!("{}: {e}", file.display())),
            }
        }
        (
            Self {
                address: address.to_string(),
                files: written,
            },
            failures,
        )
    }

    /// The files the address was written to.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl Drop for RecordedAddress {
    fn drop(&mut self) {
        for file in &self.files {
            if read_recorded(file).as_deref() == Some(self.address.as_str()) {
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

fn write_atomically(file: &Path, address: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = file
        .parent()
        .ok_or_else(|| std::io::Error::other("no directory"))?;
    // The runtime directory is the user's own; ours inside it is too.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let partial = dir.join(format!(".bus-address.{}", std::process::id()));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    out.write_all(format!("{address}\n").as_bytes())?;
    drop(out);
    std::fs::rename(&partial, file)
}

/// The address recorded in `file`, if it holds one.
pub use posd_client::connect::read_recorded;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_removed_on_drop_unless_a_later_daemon_replaced_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = vec![
            dir.path().join("run/posd/bus-address"),
            dir.path().join("state/bus-address"),
        ];
        let (first, failures) = RecordedAddress::write("unix:path=/tmp/a", &files);
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(
            read_recorded(&files[0]).as_deref(),
            Some("unix:path=/tmp/a")
        );
        assert_eq!(
            read_recorded(&files[1]).as_deref(),
            Some("unix:path=/tmp/a")
        );
        drop(first);
        assert!(
            !files[0].exists() && !files[1].exists(),
            "a clean stop leaves nothing"
        );

        let (older, _) = RecordedAddress::write("unix:path=/tmp/a", &files[..1]);
        let (newer, _) = RecordedAddress::write("unix:path=/tmp/b", &files[..1]);
        drop(older);
        assert_eq!(
            read_recorded(&files[0]).as_deref(),
            Some("unix:path=/tmp/b"),
            "the later daemon's record stays"
        );
        drop(newer);
        assert!(!files[0].exists());
    }

    #[test]
    fn an_unwritable_place_is_reported_not_fatal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").expect("write");
        let files = vec![
            blocker.join("bus-address"),
            dir.path().join("ok/bus-address"),
        ];
        let (record, failures) = RecordedAddress::write("unix:path=/tmp/c", &files);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(failures[0].contains("file/bus-address"), "{failures:?}");
        assert_eq!(record.files(), &files[1..]);
    }
}
