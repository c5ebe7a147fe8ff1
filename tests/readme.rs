//! The README's getting started, as a newcomer walks it: its `sh` blocks are read from
//! README.md and run as written, in a fresh home without a session bus; and the development
//! daemon those commands start, as a developer meets it (a second one, a killed one, a
//! plugin installed).
//!
//! How the README's commands are run:
//! - `cargo run --bin NAME -- ARGS` runs the binary cargo built for this test with ARGS
//!   (`CARGO_BIN_EXE_posd`; posctl, a package of its own, built by the harness), which is
//!   what `cargo run` does after building.
//! - `cargo test …` is skipped: it is the suite this test is part of.
//! - `posd` without `--check-config` or `--backup` is the daemon: it is started in the
//!   background (as in the README's first terminal), the commands after it wait until it
//!   serves, and it is stopped with SIGINT (Ctrl-C) at the end, which must exit 0.
//! - `posctl scan-monitor` without `--count` runs until interrupted: once it says it is
//!   waiting for scans it gets SIGINT (Ctrl-C), which must end it with exit 0.
//! - Every other command must exit 0 within the harness's patience.
//!
//! Any other kind of line fails the test, so a command added to the README is either run
//! here or this list says why not.
//!
//! The environment is a newcomer's without a session bus: `HOME` is a temp directory (the
//! working directory too), `DBUS_SESSION_BUS_ADDRESS`, `XDG_STATE_HOME`, `STATE_DIRECTORY`,
//! `RUST_LOG` and `POSD_*` are unset, and `CONFIGURATION_DIRECTORY` points into the temp
//! directory so the machine's `/etc/posd` plays no part. `XDG_RUNTIME_DIR` is unset (a root
//! shell over ssh, a container: the case of the report) or an empty directory of the test's.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// The commands of the README's `sh` blocks, in order, each split into words.
fn readme_commands() -> Vec<Vec<String>> {
    let readme =
        std::fs::read_to_string(workspace().join("README.md")).expect("README.md is readable");
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        let trimmed = line.trim();
        if !in_sh {
            in_sh = trimmed == "```sh";
            continue;
        }
        if trimmed.starts_with("```") {
            in_sh = false;
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        commands.push(shell_words(trimmed));
    }
    assert!(!commands.is_empty(), "README.md has no sh blocks");
    commands
}

/// Splits a command line into words as sh does for plain words and quoted ones; anything
/// fancier (pipes, variables, `&&`) is refused so that it is not run wrongly.
fn shell_words(line: &str) -> Vec<String> {
    assert!(
        !line.contains(['|', '&', ';', '$', '`', '>', '<', '\\']),
        "the README test runs plain commands only: {line}"
    );
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (_, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    assert!(quote.is_none(), "unbalanced quotes: {line}");
    if started {
        words.push(word);
    }
    words
}

/// What a README command turns into here.
enum Step {
    /// `cargo test`: the suite this test belongs to.
    Skip,
    /// The development daemon, in the background.
    Daemon(Vec<String>),
    /// Runs until interrupted.
    UntilInterrupted(String, Vec<String>),
    /// Runs to completion.
    Run(String, Vec<String>),
}

fn step_of(words: &[String]) -> Step {
    let line = words.join(" ");
    let (binary, args) = match words {
        [cargo, test, ..] if cargo == "cargo" && test == "test" => return Step::Skip,
        // The till demo's launcher: tests/till.rs starts `run daemon` and `run till` (and
        // `run display`) as written and drives the till in tmux.
        [launcher, command, ..]
            if launcher == "frontends/till/demo/run"
                && ["daemon", "till", "display"].contains(&command.as_str()) =>
        {
            return Step::Skip;
        }
        [cargo, run, bin, name, dashes, args @ ..]
            if cargo == "cargo" && run == "run" && bin == "--bin" && dashes == "--" =>
        {
            (name.clone(), args.to_vec())
        }
        _ => panic!("the README test does not know how to run `{line}`; teach it"),
    };
    let is = |flag: &str| args.iter().any(|a| a == flag);
    match binary.as_str() {
        "posd" if !is("--check-config") && !is("--backup") => Step::Daemon(args),
        "posctl" if is("scan-monitor") && !is("--count") => Step::UntilInterrupted(binary, args),
        "posd" | "posctl" => Step::Run(binary, args),
        other => panic!("the README runs a binary this test does not know: {other} (`{line}`)"),
    }
}

fn binary(name: &str) -> &'static Path {
    match name {
        "posd" => Path::new(POSD),
        "posctl" => posctl_binary(),
        other => panic!("no binary {other}"),
    }
}

/// A newcomer's home without a session bus.
struct Home {
    dir: tempfile::TempDir,
    runtime_dir: Option<PathBuf>,
}

impl Home {
    fn new(with_runtime_dir: bool) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime_dir = with_runtime_dir.then(|| {
            let runtime = dir.path().join("run");
            std::fs::create_dir(&runtime).expect("runtime dir");
            std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700))
                .expect("chmod");
            runtime
        });
        Self { dir, runtime_dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state_dir(&self) -> PathBuf {
        self.path().join(".local/state/posd")
    }

    /// A command of `binary` as the newcomer's shell would run it.
    fn command(&self, binary: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(binary);
        command
            .current_dir(self.path())
            .env("HOME", self.path())
            .env("CONFIGURATION_DIRECTORY", self.path().join("etc"))
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("XDG_STATE_HOME")
            .env_remove("STATE_DIRECTORY")
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET");
        match &self.runtime_dir {
            Some(runtime) => command.env("XDG_RUNTIME_DIR", runtime),
            None => command.env_remove("XDG_RUNTIME_DIR"),
        };
        for (key, _) in std::env::vars() {
            if key.starts_with("POSD_") {
                command.env_remove(key);
            }
        }
        command
    }

    /// Runs a posctl command to completion.
    fn posctl(&self, args: &[&str]) -> std::process::Output {
        run(self.command(posctl_binary()).args(args))
    }
}

/// A development daemon started as the README's first command starts it.
struct DevDaemon {
    child: Child,
    stderr: PathBuf,
}

impl DevDaemon {
    /// Starts `posd ARGS` in `home` without waiting.
    fn spawn(home: &Home, args: &[String], name: &str) -> Self {
        let stderr = home.path().join(format!("{name}.stderr"));
        let child = home
            .command(POSD)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("posd starts");
        Self { child, stderr }
    }

    /// Starts `posd --session` and waits until it serves.
    fn start(home: &Home, name: &str) -> Self {
        let mut daemon = Self::spawn(home, &["--session".to_string()], name);
        daemon.wait_until_serving();
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while !self.log().contains("serving org.posd.Posd1") {
            assert!(
                Instant::now() < deadline,
                "posd never served:\n{}",
                self.log()
            );
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("posd exited ({status}):\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill has no memory-safety preconditions.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill {pid}");
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        wait_with_timeout(&mut self.child, PATIENCE)
            .unwrap_or_else(|| panic!("posd did not exit:\n{}", self.log()))
    }
}

impl Drop for DevDaemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs a command until it says it listens, then interrupts it as Ctrl-C would.
fn run_until_interrupted(home: &Home, binary_name: &str, args: &[String], line: &str) {
    let mut child = home
        .command(binary(binary_name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut said = String::new();
    let deadline = Instant::now() + PATIENCE;
    while !said.contains("waiting for scans") {
        let mut next = String::new();
        let read = std::io::BufRead::read_line(&mut stderr, &mut next).expect("read stderr");
        said += &next;
        assert!(
            read > 0 && Instant::now() < deadline,
            "`{line}` never said it listens: {said}"
        );
    }
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = wait_with_timeout(&mut child, PATIENCE).expect("ends on Ctrl-C");
    assert!(status.success(), "`{line}` on Ctrl-C: {status}; {said}");
}

/// Runs every command of the README in `home`; returns the daemon's log.
fn walk_the_readme(home: &Home) -> String {
    let mut daemon: Option<DevDaemon> = None;
    for words in readme_commands() {
        let line = words.join(" ");
        match step_of(&words) {
            Step::Skip => {}
            Step::Daemon(args) => {
                assert!(
                    daemon.is_none(),
                    "the README starts a second daemon: {line}"
                );
                let mut started = DevDaemon::spawn(home, &args, "posd");
                started.wait_until_serving();
                daemon = Some(started);
            }
            Step::UntilInterrupted(name, args) => run_until_interrupted(home, &name, &args, &line),
            Step::Run(name, args) => {
                let out = run(home.command(binary(&name)).args(&args));
                assert!(
                    out.status.success(),
                    "`{line}` failed ({}):\n{}{}",
                    out.status,
                    text(&out.stdout),
                    text(&out.stderr)
                );
            }
        }
    }
    let mut daemon = daemon.expect("the README starts a daemon");
    daemon.signal(libc::SIGINT);
    let status = daemon.wait();
    assert!(
        status.success(),
        "Ctrl-C stops posd cleanly:\n{}",
        daemon.log()
    );
    daemon.log()
}

#[test]
fn the_readme_commands_run_as_written_without_a_session_bus() {
    let home = Home::new(false);
    let log = walk_the_readme(&home);
    let recorded = home.state_dir().join(posd::paths::BUS_ADDRESS_FILE);
    assert!(
        !recorded.exists(),
        "a clean stop removes the recorded bus address: {log}"
    );
    assert!(
        home.path().join("test-page.png").exists(),
        "print-preview wrote its PNG where the README says"
    );
}

#[test]
fn the_readme_commands_run_as_written_with_a_runtime_directory_but_no_bus() {
    let home = Home::new(true);
    walk_the_readme(&home);
    let runtime = home.runtime_dir.as_ref().expect("runtime dir");
    assert!(
        !runtime
            .join("posd")
            .join(posd::paths::BUS_ADDRESS_FILE)
            .exists(),
        "a clean stop removes the recorded bus address"
    );
}

#[test]
fn posctl_says_on_stderr_which_bus_it_fell_back_to_and_keeps_stdout_for_the_answer() {
    let home = Home::new(true);
    let daemon = DevDaemon::start(&home, "posd");
    let out = home.posctl(&["--session", "--json", "status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("only JSON");
    assert_eq!(status["StoreId"], "0001");
    let address = posd::bus::private::read_recorded(
        &home
            .runtime_dir
            .as_ref()
            .expect("runtime dir")
            .join("posd/bus-address"),
    )
    .expect("recorded in the runtime directory");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("there is no session bus; using the private bus of the development posd")
            && stderr.contains(&address),
        "{stderr}"
    );
    assert!(
        daemon.log().contains(&address),
        "the same address posd printed"
    );
}

#[test]
fn a_second_development_daemon_on_the_same_state_is_refused_before_it_starts_a_bus() {
    let home = Home::new(false);
    let first = DevDaemon::start(&home, "first");
    let recorded = home.state_dir().join(posd::paths::BUS_ADDRESS_FILE);
    let address = posd::bus::private::read_recorded(&recorded).expect("recorded");

    let mut second = DevDaemon::spawn(&home, &["--session".to_string()], "second");
    let status = second.wait();
    let log = second.log();
    assert_eq!(status.code(), Some(69), "{log}");
    assert!(
        log.contains(&format!(
            "the state directory {} is in use by another posd (pid {})",
            home.state_dir().display(),
            first.child.id()
        )),
        "{log}"
    );
    assert!(!log.contains("private bus"), "no bus of its own: {log}");
    assert_eq!(
        posd::bus::private::read_recorded(&recorded).as_deref(),
        Some(address.as_str()),
        "the first one's record stays"
    );
    let out = home.posctl(&["--session", "status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_killed_development_daemon_leaves_a_record_that_posctl_ignores() {
    let home = Home::new(false);
    let mut killed = DevDaemon::start(&home, "killed");
    killed.signal(libc::SIGKILL);
    killed.wait();
    let recorded = home.state_dir().join(posd::paths::BUS_ADDRESS_FILE);
    let stale = posd::bus::private::read_recorded(&recorded).expect("left behind");

    let out = home.posctl(&["--session", "status"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot reach posd"), "{stderr}");
    assert!(
        !stderr.contains(&stale),
        "the dead bus is not offered: {stderr}"
    );

    // The next daemon starts (the lock died with the first) and replaces the record.
    let next = DevDaemon::start(&home, "next");
    let fresh = posd::bus::private::read_recorded(&recorded).expect("recorded");
    assert_ne!(fresh, stale);
    let out = home.posctl(&["--session", "status"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        next.log()
    );
}

#[test]
fn plugin_install_in_development_mode_goes_into_the_state_directory() {
    let home = Home::new(false);
    let _daemon = DevDaemon::start(&home, "posd");
    let built = build_c_plugin(
        &workspace().join("plugins/examples/hello-c/hello_c.c"),
        &home.path().join("libhello_c.so"),
    );
    let out = home.posctl(&[
        "--session",
        "plugin",
        "install",
        built.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("installed plugin hello-c"),
        "{}",
        text(&out.stdout)
    );
    let installed = home.state_dir().join("plugins/libhello_c.so");
    assert!(installed.exists(), "copied into {}", installed.display());
    let out = home.posctl(&["--session", "--json", "plugins"]);
    let plugins: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(plugins[0]["State"], "loaded", "{plugins}");
    assert_eq!(
        plugins[0]["Path"],
        installed.display().to_string(),
        "{plugins}"
    );
}
