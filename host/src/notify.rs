//! The systemd notification protocol (`sd_notify`), written by hand: one datagram per message
//! to the socket named in `NOTIFY_SOCKET`.
//!
//! systemd starts the till's other units after posd only once it said `READY=1`, shows the
//! `STATUS=` line in `systemctl status`, restarts posd when `WATCHDOG=1` stops arriving, and
//! knows a stop is deliberate from `STOPPING=1`. Outside systemd (no `NOTIFY_SOCKET`) every
//! call is a no-op.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Sends notifications to the service manager, if there is one.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment.
    pub fn from_env() -> Self {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let watchdog_usec = std::env::var("WATCHDOG_USEC").ok();
        let watchdog_pid = std::env::var("WATCHDOG_PID").ok();
        Self::new(
            socket.as_deref().and_then(|s| s.to_str()),
            watchdog_usec.as_deref(),
            watchdog_pid.as_deref(),
        )
    }

    fn new(socket: Option<&str>, watchdog_usec: Option<&str>, watchdog_pid: Option<&str>) -> Self {
        let target = socket.and_then(|name| match Self::connect(name) {
            Ok(target) => Some(target),
            Err(e) => {
                tracing::warn!("NOTIFY_SOCKET={name} is unusable, not notifying systemd: {e}");
                None
            }
        });
        // The watchdog is ours only if systemd meant this process (WATCHDOG_PID unset or ours).
        let for_us = watchdog_pid
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = watchdog_usec
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(Duration::from_micros);
        Self { target, watchdog }
    }

    fn connect(name: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
        let addr = if let Some(abstract_name) = name.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name.as_bytes())?
        } else {
            SocketAddr::from_pathname(name)?
        };
        Ok((UnixDatagram::unbound()?, addr))
    }

    /// Whether a service manager listens.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// How often to send `WATCHDOG=1`: half the interval systemd asked for, so one late
    /// beat does not kill the till.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.target
            && let Err(e) = socket.send_to_addr(message.as_bytes(), addr)
        {
            tracing::warn!("sd_notify {message:?} failed: {e}");
        }
    }

    /// The daemon serves: bus name owned, database open.
    pub fn ready(&self, status: &str) {
        self.send(&format!(
            "READY=1\nSTATUS={}\nMAINPID={}",
            one_line(status),
            std::process::id()
        ));
    }

    /// A human-readable line for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    /// The daemon is alive and its database answers.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// A deliberate stop has begun.
    pub fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }

    /// Reload (SIGHUP) begun; systemd waits for `READY=1` again.
    pub fn reloading(&self) {
        self.send("RELOADING=1");
    }

    /// Reload finished.
    pub fn reloaded(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_as_datagrams() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        let notifier = Notifier::new(path.to_str(), None, None);
        assert!(notifier.is_enabled());
        notifier.ready("serving");
        notifier.stopping("bye\nnow");
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).expect("recv");
        let first = std::str::from_utf8(&buf[..n]).expect("utf8");
        assert!(
            first.starts_with("READY=1\nSTATUS=serving\nMAINPID="),
            "{first}"
        );
        let n = listener.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"STOPPING=1\nSTATUS=bye now");
    }

    #[test]
    fn abstract_socket_names_are_supported() {
        let name = format!("posd-test-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt;
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("addr");
        let listener = UnixDatagram::bind_addr(&addr).expect("bind");
        Notifier::new(Some(&format!("@{name}")), None, None).watchdog();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[test]
    fn watchdog_interval_is_half_and_only_for_this_process() {
        let n = Notifier::new(None, Some("30000000"), None);
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(15)));
        let ours = std::process::id().to_string();
        let n = Notifier::new(None, Some("1000000"), Some(&ours));
        assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(500)));
        let n = Notifier::new(None, Some("1000000"), Some("1"));
        assert_eq!(n.watchdog_interval(), None);
        assert!(!Notifier::new(None, None, None).is_enabled());
    }
}
