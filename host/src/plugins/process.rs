//! The daemon's side of an isolated plugin: starting its child process, talking to it over
//! the channel, and what happens when it dies — the call in flight fails naming the plugin,
//! the hook and the signal, the child comes back after a backoff, and a plugin that keeps
//! crashing is marked failed so that selling goes on without it.
//!
//! A supervisor runs on the instance's thread, exactly where an in-process plugin's calls
//! run, so the order of calls and the host services are the same in both modes.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::instance::Status;
use super::library::Loaded;
use super::sandbox::SandboxSpec;
use super::services::HostContext;
use super::wire::{self, Described, Init, Refused};
use super::{CallError, Hook, PluginError};

/// How long a child may take to start, map its library and answer create.
const START_DEADLINE: Duration = Duration::from_secs(10);
/// How long a child may take to destroy its instance before it is killed.
const DESTROY_DEADLINE: Duration = Duration::from_secs(2);
/// Lines of a child's stdout and stderr that reach the log; the rest is read and dropped.
const OUTPUT_LINES: usize = 200;

/// How isolated plugins are started and when one counts as broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolated {
    /// The executable that becomes the child (`posd plugin-host`); the daemon's own.
    pub program: PathBuf,
    /// The walls.
    pub sandbox: SandboxSpec,
    /// Crashes within [`Isolated::crash_window`] after which the plugin is failed.
    pub crash_limit: u32,
    /// See [`Isolated::crash_limit`].
    pub crash_window: Duration,
}

/// A running child and its channel.
pub struct Child {
    process: std::process::Child,
    channel: UnixStream,
}

/// Why [`Child::receive`] returned no frame.
enum Silence {
    TimedOut,
    Closed,
}

impl Child {
    /// Starts `program plugin-host` with the channel on its standard input and its output
    /// going to the log under `label`, and sends it `init`.
    fn spawn(program: &Path, label: &str, init: &Init) -> Result<Child, String> {
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| format!("cannot make its channel: {e}"))?;
        let mut command = Command::new(program);
        command
            .arg(super::child::PLUGIN_HOST_ARG)
            .env_clear()
            .env(super::child::PARENT_ENV, std::process::id().to_string())
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &init.sandbox.state_dir {
            command.env("POSD_PLUGIN_STATE_DIRECTORY", dir);
        }
        // A plugin names its secrets under systemd's credential directory; whether it may
        // read them is the sandbox's `read` grant.
        if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            command.env("CREDENTIALS_DIRECTORY", dir);
        }
        let mut process = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        for (stream, name) in [
            (process.stdout.take().map(OwnedFd::from), "stdout"),
            (process.stderr.take().map(OwnedFd::from), "stderr"),
        ] {
            if let Some(fd) = stream {
                forward_output(label.to_string(), name, fd);
            }
        }
        let mut child = Child {
            process,
            channel: ours,
        };
        let body = serde_json::to_vec(init).map_err(|e| e.to_string())?;
        if let Err(e) = child.send(wire::INIT, &[&body]) {
            let ended = child.end(true);
            return Err(format!("its process {ended} before it started ({e})"));
        }
        Ok(child)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    fn send(&mut self, tag: u8, parts: &[&[u8]]) -> std::io::Result<()> {
        wire::write_frame(&mut self.channel, tag, parts)
    }

    fn receive(&mut self, until: Instant) -> Result<(u8, Vec<u8>), Silence> {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Silence::TimedOut);
        }
        let _ = self.channel.set_read_timeout(Some(left));
        wire::read_frame(&mut self.channel).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Silence::TimedOut,
            _ => Silence::Closed,
        })
    }

    /// Waits for the process to end (killing it first if `kill`, or if it lingers with its
    /// channel closed) and says how it ended: "was killed by signal 11 (SIGSEGV)".
    fn end(&mut self, kill: bool) -> String {
        if kill {
            let _ = self.process.kill();
        } else {
            let lingering = Instant::now() + Duration::from_millis(500);
            while matches!(self.process.try_wait(), Ok(None)) && Instant::now() < lingering {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = self.process.kill();
        }
        match self.process.wait() {
            Ok(status) => describe_exit(status),
            Err(e) => format!("ended in an unknown way ({e})"),
        }
    }
}

/// Why a child did not describe its library.
enum NotLoaded {
    /// The loader refused the library, saying why.
    Refused(Refused),
    /// The child died, hung or answered garbage; the child is ended and this says how.
    Broken(String),
}

impl Child {
    /// Reads the child's first answer, the description of its library, by `until`. On any
    /// other answer the child is ended (killed if it lingers) and the reason says how.
    fn description(&mut self, until: Instant) -> Result<Described, NotLoaded> {
        let answer = self.receive(until);
        let broken = |child: &mut Child, kill: bool, what: String| {
            let ended = child.end(kill);
            NotLoaded::Broken(format!("{what} (its process {ended})"))
        };
        match answer {
            Ok((wire::DESCRIBED, body)) => serde_json::from_slice::<Described>(&body)
                .map_err(|e| broken(self, true, format!("its loader answered garbage: {e}"))),
            Ok((wire::REFUSED, body)) => {
                let _ = self.end(false);
                Err(match serde_json::from_slice::<Refused>(&body) {
                    Ok(refused) => NotLoaded::Refused(refused),
                    Err(e) => NotLoaded::Broken(format!("its loader answered garbage: {e}")),
                })
            }
            Ok((tag, _)) => Err(broken(
                self,
                true,
                format!("its loader answered frame {tag:?}"),
            )),
            Err(Silence::Closed) => Err(broken(self, false, "it ended while loading".into())),
            Err(Silence::TimedOut) => Err(broken(self, true, "it did not load in time".into())),
        }
    }
}

/// "was killed by signal 11 (SIGSEGV)", "exited with status 0".
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.signal(), status.code()) {
        (Some(signal), _) => format!("was killed by signal {signal} ({})", signal_name(signal)),
        (None, Some(code)) => format!("exited with status {code}"),
        (None, None) => "ended".into(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGSYS => "SIGSYS",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTRAP => "SIGTRAP",
        _ => "signal",
    }
}

/// Copies a child's stdout or stderr to the log, a line at a time, cleaned of control
/// characters and cut at 300 characters; after [`OUTPUT_LINES`] lines the rest is dropped.
fn forward_output(label: String, stream: &'static str, fd: OwnedFd) {
    let _ = std::thread::Builder::new()
        .name(format!("out-{label}"))
        .spawn(move || {
            let mut reader = BufReader::new(std::fs::File::from(fd));
            let mut line = Vec::new();
            let mut shown = 0usize;
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if shown > OUTPUT_LINES {
                    continue;
                }
                shown += 1;
                if shown > OUTPUT_LINES {
                    tracing::warn!(plugin = %label, stream, "more output than {OUTPUT_LINES} lines: the rest is dropped");
                    continue;
                }
                let text: String = String::from_utf8_lossy(&line)
                    .chars()
                    .map(|c| if c.is_control() { '�' } else { c })
                    .take(300)
                    .collect();
                let text = text.trim_end_matches('�').trim_end();
                if !text.is_empty() {
                    tracing::warn!(plugin = %label, stream, "plugin printed: {text}");
                }
            }
        });
}

/// Loads the library at `snapshot` in a child walled in by `sandbox` and returns what it
/// says of itself; the child exits. The daemon never maps a library it has not seen loaded
/// this way, so a library that crashes in its initialisers costs only that child.
pub fn describe(
    program: &Path,
    snapshot: &Path,
    shown_as: &Path,
    host_minor: u16,
    sandbox: &SandboxSpec,
) -> Result<(Loaded, String), PluginError> {
    let label = shown_as
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let init = Init {
        snapshot: snapshot.to_path_buf(),
        shown_as: shown_as.to_path_buf(),
        host_minor,
        describe_only: true,
        sandbox: sandbox.clone(),
    };
    let fail = |reason: String| PluginError::Load {
        path: shown_as.to_path_buf(),
        reason,
    };
    let mut child = Child::spawn(program, &label, &init).map_err(fail)?;
    let d = match child.description(Instant::now() + START_DEADLINE) {
        Ok(d) => d,
        Err(NotLoaded::Refused(r)) if r.not_a_plugin => {
            return Err(PluginError::NotAPlugin {
                path: shown_as.to_path_buf(),
                reason: strip_path(&r.reason, shown_as),
            });
        }
        Err(NotLoaded::Refused(r)) => return Err(fail(strip_path(&r.reason, shown_as))),
        Err(NotLoaded::Broken(why)) => return Err(fail(why)),
    };
    // A describing child exits by itself once it has answered.
    let _ = child.end(false);
    Ok((loaded_of(&d), d.sandbox))
}

/// The loader's reason without the path prefix `PluginError` adds again.
fn strip_path(reason: &str, path: &Path) -> String {
    let prefix = format!("{}: ", path.display());
    reason.strip_prefix(&prefix).unwrap_or(reason).to_string()
}

fn loaded_of(d: &Described) -> Loaded {
    let mut present = [false; posd_plugin_abi::HOOK_NAMES.len()];
    for (slot, has) in present.iter_mut().zip(&d.present) {
        *slot = *has;
    }
    Loaded {
        id: d.id.clone(),
        name: d.name.clone(),
        version: d.version.clone(),
        description: d.description.clone(),
        abi: d.abi,
        min_abi_minor: d.min_abi_minor,
        present,
        native: None,
    }
}

/// One isolated plugin instance's child, kept alive across crashes: the loop of the
/// instance's thread.
pub struct Supervisor {
    id: String,
    init: Init,
    config: Vec<u8>,
    host: HostContext,
    deadline: Duration,
    isolated: Isolated,
    status: Arc<Status>,
    child: Option<Child>,
    crashes: VecDeque<Instant>,
    /// Crashes since the last call it answered: the backoff grows with them.
    streak: u32,
    restart_at: Option<Instant>,
}

impl Supervisor {
    /// Starts the first child and creates the instance in it; an error is create's.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        id: &str,
        snapshot: &Path,
        shown_as: &Path,
        config: Vec<u8>,
        host: HostContext,
        deadline: Duration,
        isolated: Isolated,
        status: Arc<Status>,
    ) -> Result<Supervisor, String> {
        let init = Init {
            snapshot: snapshot.to_path_buf(),
            shown_as: shown_as.to_path_buf(),
            host_minor: posd_plugin_abi::POSD_ABI_MINOR,
            describe_only: false,
            sandbox: isolated.sandbox.clone(),
        };
        let mut supervisor = Supervisor {
            id: id.to_string(),
            init,
            config,
            host,
            deadline,
            isolated,
            status,
            child: None,
            crashes: VecDeque::new(),
            streak: 0,
            restart_at: None,
        };
        supervisor.start_child()?;
        Ok(supervisor)
    }

    /// When the next restart is due, if one is.
    pub fn restart_at(&self) -> Option<Instant> {
        self.restart_at
    }

    fn start_child(&mut self) -> Result<(), String> {
        if let Some(dir) = &self.init.sandbox.state_dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot make its state directory {}: {e}", dir.display()))?;
        }
        let mut child = Child::spawn(&self.isolated.program, &self.id, &self.init)?;
        let until = Instant::now() + START_DEADLINE.max(self.deadline);
        let d = child.description(until).map_err(|e| match e {
            NotLoaded::Refused(r) => r.reason,
            NotLoaded::Broken(why) => why,
        })?;
        if d.id != self.id {
            let _ = child.end(true);
            return Err(format!("its file now holds plugin {:?}", d.id));
        }
        // Said once per process start: a technician reading the log of a till whose kernel
        // lacks a mechanism learns it from the plugin's first line.
        match &d.degraded {
            Some(missing) => {
                tracing::warn!(plugin = %self.id, pid = child.pid(), "plugin process started with a weaker sandbox: {missing}; {}", d.sandbox)
            }
            None => {
                tracing::info!(plugin = %self.id, pid = child.pid(), "plugin process started: {}", d.sandbox)
            }
        }
        let offset = crate::clock::offset_seconds().saturating_mul(1000);
        if child
            .send(wire::CREATE, &[&offset.to_le_bytes(), &self.config])
            .is_err()
        {
            let ended = child.end(false);
            return Err(format!("its process {ended} before create"));
        }
        loop {
            match child.receive(until) {
                Ok((wire::CREATED, _)) => break,
                Ok((wire::CREATE_FAILED, body)) => {
                    let _ = child.end(false);
                    return Err(String::from_utf8_lossy(&body).into_owned());
                }
                Ok((wire::LOG, body)) => self.log(&body),
                Ok((wire::SERVICE, body)) => {
                    if self.serve(&mut child, &body).is_err() {
                        let ended = child.end(false);
                        return Err(format!("its process {ended} in create"));
                    }
                }
                Ok(_) => {
                    let _ = child.end(true);
                    return Err("create answered garbage on its channel".into());
                }
                Err(Silence::Closed) => {
                    let ended = child.end(false);
                    return Err(format!("its process {ended} in create"));
                }
                Err(Silence::TimedOut) => {
                    let ended = child.end(true);
                    return Err(format!(
                        "create did not return in time (its process {ended})"
                    ));
                }
            }
        }
        self.status.pid.store(child.pid(), Ordering::SeqCst);
        self.child = Some(child);
        Ok(())
    }

    /// Calls `hook` in the child; a crash, a kill or a missed deadline is this call's
    /// `Failed`, and the child is restarted later.
    pub fn call(&mut self, hook: Hook, request: &[u8]) -> Result<Vec<u8>, CallError> {
        let Some(mut child) = self.child.take() else {
            let last = self.status.last_crash();
            return Err(CallError::Failed(match self.restart_at {
                Some(at) => format!(
                    "plugin {} is restarting after it {last}; back in {} ms",
                    self.id,
                    at.saturating_duration_since(Instant::now()).as_millis()
                ),
                None => format!("plugin {} is not running: {last}", self.id),
            }));
        };
        let offset = crate::clock::offset_seconds().saturating_mul(1000);
        if child
            .send(wire::HOOK, &[&[hook as u8], &offset.to_le_bytes(), request])
            .is_err()
        {
            let ended = child.end(false);
            return Err(self.crashed(
                hook,
                format!("crashed before {}: its process {ended}", hook.name()),
            ));
        }
        let until = Instant::now() + self.deadline;
        loop {
            match child.receive(until) {
                Ok((wire::ANSWER, body)) => {
                    self.child = Some(child);
                    self.streak = 0;
                    return answer(&body, hook);
                }
                Ok((wire::SERVICE, body)) => {
                    if self.serve(&mut child, &body).is_err() {
                        let ended = child.end(false);
                        return Err(self.crashed(
                            hook,
                            format!("crashed in {}: its process {ended}", hook.name()),
                        ));
                    }
                }
                Ok((wire::LOG, body)) => self.log(&body),
                Ok((tag, _)) => {
                    let ended = child.end(true);
                    return Err(self.crashed(
                        hook,
                        format!(
                            "wrote garbage (frame {tag:?}) on its channel in {}: its process {ended}",
                            hook.name()
                        ),
                    ));
                }
                Err(Silence::Closed) => {
                    let ended = child.end(false);
                    return Err(self.crashed(
                        hook,
                        format!("crashed in {}: its process {ended}", hook.name()),
                    ));
                }
                Err(Silence::TimedOut) => {
                    let pid = child.pid();
                    let _ = child.end(true);
                    return Err(self.crashed(
                        hook,
                        format!(
                            "did not answer {} within {} ms: its process {pid} was killed",
                            hook.name(),
                            self.deadline.as_millis()
                        ),
                    ));
                }
            }
        }
    }

    /// Counts a crash; returns the error of the call it ended.
    fn crashed(&mut self, hook: Hook, what: String) -> CallError {
        let message = format!("plugin {} {what}", self.id);
        tracing::error!(plugin = %self.id, hook = hook.name(), "{message}");
        self.count_crash(what);
        CallError::Failed(message)
    }

    fn count_crash(&mut self, what: String) {
        let now = Instant::now();
        self.status.pid.store(0, Ordering::SeqCst);
        self.status.restarts.fetch_add(1, Ordering::SeqCst);
        *self
            .status
            .last_crash
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = what.clone();
        self.crashes.push_back(now);
        while self
            .crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.isolated.crash_window)
        {
            self.crashes.pop_front();
        }
        let count = self.crashes.len() as u32;
        if count >= self.isolated.crash_limit {
            self.restart_at = None;
            self.status.mark_failed(
                &self.id,
                &format!(
                    "crashed {count} times within {} s, the last time: it {what}",
                    self.isolated.crash_window.as_secs()
                ),
            );
        } else {
            // 100 ms, 200 ms, 400 ms … up to 10 s, while it crashes without answering in
            // between; a crash after answers is a first one again.
            self.streak += 1;
            let backoff = Duration::from_millis(100u64 << (self.streak - 1).min(7))
                .min(Duration::from_secs(10));
            self.restart_at = Some(now + backoff);
        }
        self.status.changed();
    }

    /// Starts the child again after a crash (the restart is due).
    pub fn restart(&mut self) {
        self.restart_at = None;
        match self.start_child() {
            Ok(()) => {
                tracing::info!(plugin = %self.id, pid = self.status.pid.load(Ordering::SeqCst), "plugin process restarted");
                self.status.changed();
            }
            Err(reason) => {
                tracing::error!(plugin = %self.id, "plugin process did not restart: {reason}");
                self.count_crash(format!("did not restart: {reason}"));
            }
        }
    }

    /// Destroys the instance and lets the child exit; kills it if it does not.
    pub fn stop(&mut self) {
        self.restart_at = None;
        let Some(mut child) = self.child.take() else {
            return;
        };
        self.status.pid.store(0, Ordering::SeqCst);
        if child.send(wire::DESTROY, &[]).is_ok() {
            let until = Instant::now() + DESTROY_DEADLINE;
            loop {
                match child.receive(until) {
                    Ok((wire::LOG, body)) => self.log(&body),
                    Ok((wire::SERVICE, body)) => {
                        if self.serve(&mut child, &body).is_err() {
                            break;
                        }
                    }
                    Ok(_) | Err(_) => break,
                }
            }
        }
        let _ = child.end(false);
    }

    fn serve(&self, child: &mut Child, body: &[u8]) -> std::io::Result<()> {
        let (status, answer) = match service_of(body) {
            Some((service, request)) => {
                let request: Result<Value, _> = if request.iter().all(u8::is_ascii_whitespace) {
                    Ok(Value::Object(Default::default()))
                } else {
                    serde_json::from_slice(request)
                };
                match request {
                    Ok(request) => match self.host.serve(service, &request) {
                        Ok(v) => (posd_plugin_abi::POSD_OK, v),
                        Err(e) => (posd_plugin_abi::POSD_ERROR, e),
                    },
                    Err(e) => (
                        posd_plugin_abi::POSD_ERROR,
                        super::services::refusal(
                            "InvalidArgument",
                            &format!("the request is not JSON: {e}"),
                        ),
                    ),
                }
            }
            None => (
                posd_plugin_abi::POSD_ERROR,
                super::services::refusal("InvalidArgument", "a malformed host call"),
            ),
        };
        let answer = answer.to_string();
        child.send(
            wire::SERVICE_ANSWER,
            &[&status.to_le_bytes(), answer.as_bytes()],
        )
    }

    fn log(&self, body: &[u8]) {
        if let Some((level, message)) = wire::split_i32(body) {
            self.host.log(level, &String::from_utf8_lossy(message));
        }
    }
}

fn service_of(body: &[u8]) -> Option<(&str, &[u8])> {
    let (len, rest) = body.split_first_chunk::<2>()?;
    let len = u16::from_le_bytes(*len) as usize;
    let name = std::str::from_utf8(rest.get(..len)?).ok()?;
    Some((name, &rest[len..]))
}

fn answer(body: &[u8], hook: Hook) -> Result<Vec<u8>, CallError> {
    let Some((&outcome, rest)) = body.split_first() else {
        return Err(CallError::Failed(format!(
            "{} answered nothing",
            hook.name()
        )));
    };
    match outcome {
        wire::outcome::OK => Ok(rest.to_vec()),
        wire::outcome::REFUSED => Err(super::instance::parse_error_object(rest)),
        wire::outcome::NOT_IMPLEMENTED => Err(CallError::NotImplemented),
        _ => Err(CallError::Failed(
            String::from_utf8_lossy(rest).into_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_is_told_with_its_signal_or_status() {
        let signalled = ExitStatus::from_raw(libc::SIGSEGV);
        assert_eq!(
            describe_exit(signalled),
            "was killed by signal 11 (SIGSEGV)"
        );
        let exited = ExitStatus::from_raw(3 << 8);
        assert_eq!(describe_exit(exited), "exited with status 3");
    }

    #[test]
    fn a_child_answer_becomes_the_callers_result() {
        let hook = Hook::EvaluateBasket;
        assert_eq!(answer(b"\x00{}", hook), Ok(b"{}".to_vec()));
        assert_eq!(
            answer(b"\x02it broke", hook),
            Err(CallError::Failed("it broke".into())),
            "a failure in the child, told as it said it"
        );
        assert_eq!(
            answer(
                b"\x01{\"error\":\"NotFound\",\"message\":\"no such code\"}",
                hook
            ),
            Err(CallError::Refused {
                error: "NotFound".into(),
                message: "no such code".into()
            })
        );
        assert_eq!(answer(b"\x03", hook), Err(CallError::NotImplemented));
        assert_eq!(
            answer(b"", hook),
            Err(CallError::Failed("evaluate_basket answered nothing".into()))
        );
    }

    #[test]
    fn a_host_call_frame_names_its_service() {
        let mut body = 6u16.to_le_bytes().to_vec();
        body.extend_from_slice(b"kv.get{\"key\":\"a\"}");
        assert_eq!(service_of(&body), Some(("kv.get", &b"{\"key\":\"a\"}"[..])));
        assert_eq!(
            service_of(&[9, 0, b'k']),
            None,
            "a name longer than the frame"
        );
        assert_eq!(service_of(&[1]), None);
    }
}
