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
