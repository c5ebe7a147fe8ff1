//! Test harness: a private `dbus-daemon`, the real `posd` binary started on it with a temp
//! state directory and a `NOTIFY_SOCKET` the test listens on, and clients that talk to it
//! the way frontends and technicians do (zbus, busctl, gdbus, posctl).

#![allow(dead_code)] // each test binary uses its own part of the harness

use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub use posd::bus::private::PrivateBus;

/// Path of the freshly built daemon.
pub const POSD: &str = env!("CARGO_BIN_EXE_posd");
/// Path of the freshly built CLI, built once per test binary: posctl is a package of its own
/// (it does not link the daemon), so cargo gives these tests no `CARGO_BIN_EXE_posctl`. It
/// reads databases by running the `posd` beside it, which must be [`POSD`], the daemon
/// under test.
pub fn posctl_binary() -> &'static Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let built = build_binary("posctl");
        let beside = built.with_file_name("posd");
        let same = |a: &Path, b: &Path| {
            matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
        };
        assert!(
            same(&beside, Path::new(POSD)),
            "posctl ({}) would run {} as `posd inspect`, not the daemon under test ({POSD}); \
             build both in one target directory and profile",
            built.display(),
            beside.display()
        );
        built
    })
}

/// How long anything in a test may take before it counts as hung.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A temp directory with a private bus in it.
pub struct TestBus {
    pub dir: tempfile::TempDir,
    pub bus: PrivateBus,
}

impl TestBus {
    /// A bus with an open policy.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let bus = PrivateBus::start(&dir.path().join("bus")).expect("dbus-daemon starts");
        Self { dir, bus }
    }

    /// A bus with an open policy that any local user may connect to, for calling as
    /// another user.
    pub fn start_for_everyone() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let policy = format!(
            "{}\n  <policy context=\"default\"><allow user=\"*\"/></policy>",
            posd::bus::private::OPEN_POLICY
        );
        let bus = PrivateBus::start_with(&dir.path().join("bus"), "session", &policy)
            .expect("dbus-daemon starts");
        Self { dir, bus }
    }

    /// The bus address.
    pub fn address(&self) -> &str {
        self.bus.address()
    }

    /// A zbus client connection.
    pub async fn client(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address())
            .build()
            .await
            .expect("client connects")
    }
}

/// A running `posd` process and the notifications it sent.
pub struct Daemon {
    pub child: Child,
    pub state_dir: PathBuf,
    pub config_dir: PathBuf,
    notify: UnixDatagram,
    pub notifications: Vec<String>,
    stderr_path: PathBuf,
}

/// Where the daemons of this test binary run their plugins: `"process"`, each in a child
/// process of its own (the default), or `"in-process"` for a binary whose name ends in
/// `_in_process` — the plugin tests are built twice, so every one runs in both modes.
pub fn isolation() -> &'static str {
    static MODE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    MODE.get_or_init(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        let name = exe
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name
            .rsplit_once('-')
            .map_or(name.as_str(), |(stem, _)| stem);
        if stem.ends_with("_in_process") {
            "in-process"
        } else {
            "process"
        }
    })
}

/// How to start a daemon.
pub struct DaemonSetup<'a> {
    pub bus_address: &'a str,
    pub state_dir: PathBuf,
    pub config_dir: PathBuf,
    pub extra_args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl<'a> DaemonSetup<'a> {
    /// A daemon on `bus` with state and config under `root` (created as needed).
    pub fn new(bus_address: &'a str, root: &Path) -> Self {
        Self {
            bus_address,
            state_dir: root.join("state"),
            config_dir: root.join("etc"),
            extra_args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Writes `posd.toml` in the config dir.
    pub fn config(self, toml: &str) -> Self {
        std::fs::create_dir_all(&self.config_dir).expect("config dir");
        std::fs::write(self.config_dir.join("posd.toml"), toml).expect("write config");
        self
    }

    /// Adds command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.extra_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the daemon (without waiting for READY).
    pub fn spawn(self) -> Daemon {
        std::fs::create_dir_all(&self.config_dir).expect("config dir");
        let notify_path = self.state_dir.with_file_name(format!(
            "notify-{}",
            self.state_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("x")
        ));
        let _ = std::fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
        notify
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let stderr_path = notify_path.with_extension("stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let mut command = Command::new(POSD);
        command
            .arg("--bus-address")
            .arg(self.bus_address)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--config-dir")
            .arg(&self.config_dir)
            .args(&self.extra_args)
            .env("NOTIFY_SOCKET", &notify_path)
            .env_remove("RUST_LOG")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("STATE_DIRECTORY")
            .env_remove("CONFIGURATION_DIRECTORY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        for (key, _) in std::env::vars() {
            if key.starts_with("POSD_") {
                command.env_remove(key);
            }
        }
        if isolation() == "in-process" {
            command.env("POSD_PLUGINS__ISOLATION", "in-process");
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let child = command.spawn().expect("posd starts");
        Daemon {
            child,
            state_dir: self.state_dir,
            config_dir: self.config_dir,
            notify,
            notifications: Vec::new(),
            stderr_path,
        }
    }

    /// Starts the daemon and waits for READY=1.
    pub fn start(self) -> Daemon {
        let mut daemon = self.spawn();
        daemon.wait_for_notification("READY=1");
        daemon
    }
}

impl Daemon {
    /// Waits until a notification containing `needle` arrives; panics with the daemon's log
    /// if it exits or takes too long.
    pub fn wait_for_notification(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        if let Some(found) = self.notifications.iter().find(|n| n.contains(needle)) {
            return found.clone();
        }
        let mut buf = vec![0u8; 4096];
        while Instant::now() < deadline {
            match self.notify.recv(&mut buf) {
                Ok(n) => {
                    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                    self.notifications.push(message.clone());
                    if message.contains(needle) {
                        return message;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!(
                            "posd exited ({status}) before sending {needle:?}; log:\n{}",
                            self.log()
                        );
                    }
                }
                Err(e) => panic!("notify socket: {e}"),
            }
        }
        panic!(
            "no {needle:?} from posd within {PATIENCE:?}; log:\n{}",
            self.log()
        );
    }

    /// Collects every notification that arrives within `duration`.
    pub fn collect_for(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        let mut buf = vec![0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.notify.recv(&mut buf) {
                self.notifications
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }

    /// What the daemon wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill has no memory-safety preconditions.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Waits for the daemon to exit.
    pub fn wait(&mut self) -> ExitStatus {
        wait_with_timeout(&mut self.child, PATIENCE).unwrap_or_else(|| {
            panic!(
                "posd did not exit within {PATIENCE:?}; log:\n{}",
                self.log()
            )
        })
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait()
    }

    /// Path of the database file.
    pub fn database(&self) -> PathBuf {
        self.state_dir.join(posd::store::DATABASE_FILE)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child` to exit, at most `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Runs a command to completion (at most [`PATIENCE`]) and returns its output.
pub fn run(command: &mut Command) -> Output {
    run_for(command, PATIENCE)
}

/// How long a `cargo build` of a plugin may take: a release build from a cold cache (the
/// benchmarks') compiles the plugin's dependencies too, which takes minutes on 2 cores.
pub const BUILD_PATIENCE: Duration = Duration::from_secs(900);

/// [`run`], waiting at most `patience`.
pub fn run_for(command: &mut Command, patience: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = match wait_with_timeout(&mut child, patience) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            panic!("{command:?} did not finish within {patience:?}");
        }
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// Runs the posctl binary against `bus_address`.
pub fn posctl(bus_address: &str, args: &[&str]) -> Output {
    run(Command::new(posctl_binary())
        .arg("--bus-address")
        .arg(bus_address)
        .args(args))
}

/// Lossy stdout/stderr as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether the tests run as root (needed to call as other users).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A kernel pseudo-terminal pair: the test writes at the master side what a scanner would
/// send; the daemon opens the slave path as its serial port.
pub struct Pty {
    pub master: std::fs::File,
    pub slave_path: PathBuf,
}

impl Pty {
    /// Opens a new pty pair.
    pub fn open() -> Self {
        use std::os::fd::FromRawFd;
        // SAFETY: plain libc calls on a descriptor we own; ptsname_r writes into `buf` of the
        // length passed.
        unsafe {
            let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
            // Not inherited by the daemon: closing it here must unplug the scanner.
            assert_eq!(
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC),
                0,
                "cloexec"
            );
            assert_eq!(libc::grantpt(fd), 0, "grantpt");
            assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
            let mut buf = [0 as libc::c_char; 128];
            assert_eq!(
                libc::ptsname_r(fd, buf.as_mut_ptr(), buf.len()),
                0,
                "ptsname_r"
            );
            let name = std::ffi::CStr::from_ptr(buf.as_ptr())
                .to_string_lossy()
                .into_owned();
            Self {
                master: std::fs::File::from_raw_fd(fd),
                slave_path: PathBuf::from(name),
            }
        }
    }

    /// Sends bytes as the scanner would.
    pub fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.master.write_all(bytes).expect("write to pty master");
    }
}

/// Points `link` at `target`, replacing what it pointed at (a scanner replugged under the
/// same configured path).
pub fn repoint_symlink(link: &Path, target: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

/// Polls `check` until it returns true, at most [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not within {PATIENCE:?}");
}

/// A network receipt printer on a real TCP listener: records every byte it is sent (the
/// real-time status requests `DLE EOT n` taken out) and answers those requests with the
/// status bytes of an Epson TM printer in the state the test sets.
pub struct FakePrinter {
    pub port: u16,
    shared: std::sync::Arc<std::sync::Mutex<FakePrinterState>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What a [`FakePrinter`] has seen and how it answers.
#[derive(Default)]
pub struct FakePrinterState {
    pub received: Vec<u8>,
    pub connections: usize,
    pub paper_out: bool,
    pub cover_open: bool,
    pub near_end: bool,
}

impl FakePrinterState {
    fn answer(&self, n: u8) -> u8 {
        let fixed = 0x12;
        match n {
            1 => {
                fixed
                    | if self.paper_out || self.cover_open {
                        0x08
                    } else {
                        0
                    }
            }
            2 => {
                fixed
                    | if self.cover_open { 0x04 } else { 0 }
                    | if self.paper_out { 0x20 } else { 0 }
            }
            4 => {
                fixed | if self.near_end { 0x0C } else { 0 } | if self.paper_out { 0x60 } else { 0 }
            }
            _ => fixed,
        }
    }
}

/// A loopback port that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl FakePrinter {
    /// Listens on 127.0.0.1:`port` (0 for any).
    pub fn listen(port: u16) -> Self {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("printer port");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let shared = std::sync::Arc::new(std::sync::Mutex::new(FakePrinterState::default()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let shared = shared.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut clients: Vec<(std::net::TcpStream, Vec<u8>)> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((stream, _)) = listener.accept() {
                        stream.set_nonblocking(true).expect("nonblocking");
                        shared.lock().expect("lock").connections += 1;
                        clients.push((stream, Vec::new()));
                    }
                    let mut idle = true;
                    clients.retain_mut(|(stream, pending)| {
                        let mut buf = [0u8; 4096];
                        match stream.read(&mut buf) {
                            Ok(0) => false,
                            Ok(n) => {
                                idle = false;
                                pending.extend_from_slice(&buf[..n]);
                                let mut state = shared.lock().expect("lock");
                                let mut i = 0;
                                while i < pending.len() {
                                    if pending[i] == 0x10
                                        && i + 1 < pending.len()
                                        && pending[i + 1] == 0x04
                                    {
                                        if i + 2 >= pending.len() {
                                            break; // wait for the rest of the request
                                        }
                                        let answer = state.answer(pending[i + 2]);
                                        let _ = stream.write_all(&[answer]);
                                        i += 3;
                                    } else {
                                        state.received.push(pending[i]);
                                        i += 1;
                                    }
                                }
                                pending.drain(..i);
                                true
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => true,
                            Err(_) => false,
                        }
                    });
                    if idle {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            })
        };
        Self {
            port,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// The device's connection string.
    pub fn connection(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }

    /// Reads or changes the printer's state.
    pub fn with<T>(&self, f: impl FnOnce(&mut FakePrinterState) -> T) -> T {
        f(&mut self.shared.lock().expect("lock"))
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<u8> {
        self.with(|s| s.received.clone())
    }
}

impl Drop for FakePrinter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Where `needle` occurs in `haystack`, in order.
pub fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Methods, properties and signals of one interface as sorted lines, docs left out.
pub fn interface_shape(xml: &str, interface: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("introspection XML parses");
    let iface = doc
        .descendants()
        .find(|n| n.has_tag_name("interface") && n.attribute("name") == Some(interface))
        .unwrap_or_else(|| panic!("{interface} missing from:\n{xml}"));
    let mut lines = Vec::new();
    for member in iface.children().filter(|n| n.is_element()) {
        let name = member.attribute("name").unwrap_or_default();
        let mut line = format!("{} {name}", member.tag_name().name());
        if let Some(t) = member.attribute("type") {
            line += &format!(
                " type={t} access={}",
                member.attribute("access").unwrap_or("")
            );
        }
        for child in member.children().filter(|n| n.is_element()) {
            match child.tag_name().name() {
                "arg" => {
                    line += &format!(
                        " arg({},{},{})",
                        child.attribute("name").unwrap_or(""),
                        child.attribute("type").unwrap_or(""),
                        child.attribute("direction").unwrap_or("")
                    )
                }
                "annotation" => {
                    line += &format!(
                        " @{}={}",
                        child.attribute("name").unwrap_or(""),
                        child.attribute("value").unwrap_or("")
                    )
                }
                _ => {}
            }
        }
        lines.push(line);
    }
    lines.sort();
    lines
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Compiles a single-file C plugin against the ABI header with gcc, as a third party would,
/// linked with json-c (`pkg-config --cflags --libs json-c`), the JSON library the guide
/// shows C authors.
pub fn build_c_plugin(source: &Path, out: &Path) -> PathBuf {
    let include = workspace().join("plugins/abi/include");
    let json_c = run(Command::new("pkg-config").args(["--cflags", "--libs", "json-c"]));
    assert!(
        json_c.status.success(),
        "json-c is needed (Debian package libjson-c-dev, with pkgconf): {}",
        text(&json_c.stderr)
    );
    let output = run(Command::new("gcc")
        .args(["-shared", "-fPIC", "-std=c11", "-Wall", "-Werror", "-O1"])
        .arg(format!("-I{}", include.display()))
        .arg("-o")
        .arg(out)
        .arg(source)
        .args(text(&json_c.stdout).split_whitespace()));
    assert!(
        output.status.success(),
        "gcc {}: {}",
        source.display(),
        text(&output.stderr)
    );
    out.to_path_buf()
}

/// Builds a Rust plugin crate of the workspace (a cdylib) with cargo and returns the
/// library's path. Built once per test binary and package.
pub fn build_rust_plugin(package: &str) -> PathBuf {
    build_rust_plugin_with(package, false)
}

/// A `cargo` command in the workspace, as a developer's shell would run it: without what
/// cargo sets for the running test binary (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`, …), which
/// is not the environment of a build. Build scripts that watch such variables (ring's
/// `CARGO_PKG_NAME`, …) would otherwise rebuild here and again at the next `cargo test`.
pub fn cargo() -> Command {
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(workspace());
    const SET_FOR_THE_TEST: &[&str] = &[
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_",
        "CARGO_CRATE_",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if SET_FOR_THE_TEST.iter().any(|p| name.starts_with(p)) {
            command.env_remove(&key);
        }
    }
    command
}

/// [`build_rust_plugin`], optionally in release mode (for benchmarks).
pub fn build_rust_plugin_with(package: &str, release: bool) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, bool, PathBuf)>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().expect("lock");
    if let Some((_, _, path)) = built.iter().find(|(p, r, _)| p == package && *r == release) {
        return path.clone();
    }
    let mut command = cargo();
    command.args(["build", "--quiet", "-p", package, "--message-format=json"]);
    if release {
        command.arg("--release");
    }
    let output = run_for(&mut command, BUILD_PATIENCE);
    assert!(
        output.status.success(),
        "cargo build -p {package}: {}",
        text(&output.stderr)
    );
    let library = text(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        // Proc-macro dependencies are .so files too: take the package's own cdylib.
        .filter(|m| {
            m["target"]["kind"]
                .as_array()
                .is_some_and(|kinds| kinds.iter().any(|k| k == "cdylib"))
        })
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .find(|f| f.extension().is_some_and(|e| e == "so"))
        .unwrap_or_else(|| panic!("cargo built no .so for {package}"));
    built.push((package.to_string(), release, library.clone()));
    library
}

/// Builds the binary of workspace package `package` (debug) and returns its path: for the
/// helpers a test runs beside the daemon, such as the partner simulator.
pub fn build_binary(package: &str) -> PathBuf {
    let output = run_for(
        cargo().args(["build", "--quiet", "-p", package, "--message-format=json"]),
        BUILD_PATIENCE,
    );
    assert!(
        output.status.success(),
        "cargo build -p {package}: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no executable for {package}"))
}

/// A plugin directory in `root` and a configuration that loads from it.
pub fn plugin_config(root: &Path, deadline_ms: u64, extra: &str) -> (PathBuf, String) {
    let dir = root.join("plugins");
    std::fs::create_dir_all(&dir).expect("plugin dir");
    let config = format!(
        "[plugins]\ndirectories = [\"{0}\"]\ninstall_directory = \"{0}\"\ncall_deadline_ms = {deadline_ms}\n{extra}\n",
        dir.display()
    );
    (dir, config)
}

/// Copies a built plugin into a plugin directory as `name`, with a safe mode.
pub fn place_plugin(library: &Path, dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let target = dir.join(name);
    let partial = dir.join(format!(".{name}.tmp"));
    std::fs::copy(library, &partial).expect("copy plugin");
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::rename(&partial, &target).expect("rename");
    target
}

/// A `Sale1` proxy at `path` that asks the daemon for every property: a cached property
/// lags the `PropertiesChanged` signal, so a test would read the value before the change.
pub async fn sale_proxy<'a>(
    conn: &'a zbus::Connection,
    path: impl Into<zbus::OwnedObjectPath>,
) -> posd_client::Sale1Proxy<'a> {
    posd_client::Sale1Proxy::builder(conn)
        .path(path.into())
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("sale proxy")
}

/// A test plugin's C source.
pub fn test_plugin_source(stem: &str) -> PathBuf {
    workspace().join(format!("plugins/testplugins/c/{stem}.c"))
}

/// Runs every check `posctl ledger verify` runs on the database file: the ledger's own
/// invariants, then the journal against the ledger. `Err` names the first breach.
pub fn verify_books(db: &Path) -> Result<String, String> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("open {}: {e}", db.display()))?;
    let ledger = posd::ledger::verify(&c)
        .map_err(|e| e.to_string())?
        .map_err(|b| b.to_string())?;
    let receipts = posd::sale::booking::verify(&c, posd::config::minor_unit_of)
        .map_err(|e| e.to_string())??;
    Ok(format!("{ledger:?}; {receipts:?}"))
}

/// posd with the product plugin `vouchers` (built as a `.so`), its key file, a TCP receipt
/// printer, and `section` appended to `[plugin.vouchers]`: the till the vouchers tests sell at.
pub async fn start_with_vouchers(
    bus: &TestBus,
    section: &str,
) -> (Daemon, FakePrinter, zbus::Connection) {
    let root = bus.dir.path().to_path_buf();
    let key = root.join("vouchers.key");
    std::fs::write(&key, b"0123456789abcdef0123456789abcdef-test-key").expect("key");
    let printer = FakePrinter::listen(0);
    let library = build_rust_plugin("posd-vouchers");
    let extra = format!(
        "[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n\n{}[plugin.vouchers]\nkey_file = \"{}\"\n{section}",
        printer.connection(),
        key_grant("vouchers", &key),
        key.display()
    );
    let (dir, config) = plugin_config(&root, 5000, &extra);
    place_plugin(&library, &dir, "libposd_vouchers.so");
    let daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .start();
    let conn = bus.client().await;
    (daemon, printer, conn)
}

/// The configuration that lets plugin `id`'s process read its secret `key` file (an
/// isolated plugin reads nothing of posd's without it): `[plugins.run.<id>] read`.
pub fn key_grant(id: &str, key: &Path) -> String {
    format!("[plugins.run.{id}]\nread = [\"{}\"]\n\n", key.display())
}

/// A string variant of a record (a line's `amount`, a receipt's `kind`).
pub fn s(v: &zbus::OwnedVariant) -> String {
    String::try_from(v.clone()).expect("string")
}

/// `Sale1.Invoke` of `action` with text `args`, as a cashier's frontend sends them.
pub async fn invoke_action(
    sale: &posd_client::Sale1Proxy<'_>,
    action: &str,
    args: &[(&str, &str)],
) -> zbus::Result<std::collections::HashMap<String, zbus::OwnedVariant>> {
    let args: std::collections::HashMap<&str, zbus::Variant<'_>> = args
        .iter()
        .map(|(k, v)| (*k, zbus::Variant::from(*v)))
        .collect();
    sale.inner().call("Invoke", &(action, args)).await
}

/// Pays what `sale` still has due with `method`; nothing when nothing is due.
pub async fn pay_rest(sale: &posd_client::Sale1Proxy<'_>, method: &str) {
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    if due != "0.00" {
        sale.add_tender(method, &due, std::collections::HashMap::new())
            .await
            .expect("pay the rest");
    }
}

/// The scanner device `name` once it is online, ready to subscribe to `Scanned`.
pub async fn online_scanner<'a>(
    conn: &'a zbus::Connection,
    name: &str,
) -> posd_client::Scanner1Proxy<'a> {
    let device = posd_client::Device1Proxy::builder(conn)
        .path(posd_client::device_path(name))
        .build()
        .await
        .expect("device proxy");
    eventually("scanner online", || async {
        device.state().await.is_ok_and(|s| s == "online")
    })
    .await;
    posd_client::Scanner1Proxy::builder(conn)
        .path(posd_client::device_path(name))
        .build()
        .await
        .expect("scanner proxy")
}

/// A list of records (`aa{sv}`) out of a variant.
pub fn records(
    v: &zbus::OwnedVariant,
) -> Vec<std::collections::HashMap<String, zbus::OwnedVariant>> {
    v.clone().try_into().expect("array of records")
}

/// The D-Bus error name of a failed call, e.g. `org.posd.Error.NotFound`.
pub fn name(err: &zbus::Error) -> String {
    posd_client::error_reply(err).expect("named error").0
}

/// A plugin manager outside any daemon, with `library` placed as `file` in a plugin
/// directory under `dir`, `sections` as the plugins' configuration, and its plugins loaded
/// inside this process: for benchmarks that call a plugin's hooks straight through the ABI.
pub async fn loaded_plugin_manager(
    dir: &Path,
    library: &Path,
    file: &str,
    sections: std::collections::BTreeMap<String, toml::Table>,
) -> std::sync::Arc<posd::plugins::PluginManager> {
    loaded_plugin_manager_isolated(
        dir,
        library,
        file,
        sections,
        posd::plugins::IsolationSettings::in_process(),
    )
    .await
}

/// [`loaded_plugin_manager`] with the plugins run as `isolation` says; for child processes
/// its `program` must be the posd binary ([`POSD`]), which serves as `posd plugin-host`.
pub async fn loaded_plugin_manager_isolated(
    dir: &Path,
    library: &Path,
    file: &str,
    sections: std::collections::BTreeMap<String, toml::Table>,
    isolation: posd::plugins::IsolationSettings,
) -> std::sync::Arc<posd::plugins::PluginManager> {
    let plugin_dir = dir.join("plugins");
    std::fs::create_dir_all(&plugin_dir).expect("plugin dir");
    place_plugin(library, &plugin_dir, file);
    let db =
        posd::store::Database::start(&dir.join("state"), Duration::from_secs(5)).expect("database");
    let plugins = posd::plugins::PluginManager::new(
        db,
        posd::plugins::PluginSettings {
            directories: vec![plugin_dir.clone()],
            install_directory: plugin_dir,
            deadline: Duration::from_secs(2),
            sections,
            cache_dir: dir.join("cache"),
            order: Vec::new(),
            isolation,
        },
    );
    plugins.reload().await;
    plugins
}

/// Times `calls` calls of `hook` on plugin `id` with `request` through the ABI, after
/// `warm_up` calls that are not timed; `check` sees every timed answer.
pub async fn time_hook(
    plugins: &posd::plugins::PluginManager,
    id: &str,
    hook: posd::plugins::Hook,
    request: &serde_json::Value,
    (warm_up, calls): (usize, usize),
    check: impl Fn(&serde_json::Value),
) -> Vec<Duration> {
    for _ in 0..warm_up {
        plugins.call(id, hook, request).await.expect("warm-up");
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let start = Instant::now();
        let answer = plugins.call(id, hook, request).await.expect("hook call");
        samples.push(start.elapsed());
        check(&answer);
    }
    samples
}
