//! The daemon as systemd, frontends and technicians see it: a real `posd` on a private
//! `dbus-daemon`, reached with zbus, busctl, gdbus and posctl.

mod support;

use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use posd_client::Manager1Proxy;
use support::*;

const SHOP_CONFIG: &str = r#"
[store]
id = "S42"
currency = "CZK"
locale = "cs-CZ"

[register]
id = "R7"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn ready_arrives_and_properties_read_back_right() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(SHOP_CONFIG)
        .start();
    let ready = daemon.wait_for_notification("READY=1");
    assert!(ready.contains("STATUS=serving org.posd.Posd1"), "{ready}");
    assert!(
        daemon
            .notifications
            .iter()
            .any(|n| n.contains("STATUS=opening the database")),
        "status lines before READY: {:?}",
        daemon.notifications
    );

    // A frontend with zbus.
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("proxy");
    assert_eq!(manager.store_id().await.expect("StoreId"), "S42");
    assert_eq!(manager.register_id().await.expect("RegisterId"), "R7");
    assert_eq!(manager.currency().await.expect("Currency"), "CZK");
    assert_eq!(manager.locale().await.expect("Locale"), "cs-CZ");
    assert_eq!(manager.state().await.expect("State"), "running");
    assert_eq!(manager.abi_version().await.expect("AbiVersion"), "1.4");
    assert_eq!(
        manager.version().await.expect("Version"),
        env!("CARGO_PKG_VERSION")
    );

    // An outside client with busctl.
    let out = run(Command::new("busctl")
        .arg(format!("--address={}", bus.address()))
        .args(["get-property", "org.posd.Posd1", "/org/posd/Posd1"])
        .args(["org.posd.Manager1", "StoreId"]));
    assert!(out.status.success(), "busctl: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "s \"S42\"");

    // And with gdbus: every property in one GetAll, plus the ObjectManager.
    let out = run(Command::new("gdbus")
        .args(["call", "--address", bus.address()])
        .args([
            "--dest",
            "org.posd.Posd1",
            "--object-path",
            "/org/posd/Posd1",
        ])
        .args([
            "--method",
            "org.freedesktop.DBus.Properties.GetAll",
            "org.posd.Manager1",
        ]));
    assert!(out.status.success(), "gdbus: {}", text(&out.stderr));
    let all = text(&out.stdout);
    for expected in [
        "'Version'",
        "'AbiVersion': <'1.4'>",
        "'StoreId': <'S42'>",
        "'RegisterId': <'R7'>",
        "'Currency': <'CZK'>",
        "'Locale': <'cs-CZ'>",
        "'State': <'running'>",
    ] {
        assert!(all.contains(expected), "{expected} missing from {all}");
    }
    let out = run(Command::new("gdbus")
        .args(["call", "--address", bus.address()])
        .args([
            "--dest",
            "org.posd.Posd1",
            "--object-path",
            "/org/posd/Posd1",
        ])
        .args([
            "--method",
            "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
        ]));
    assert!(out.status.success(), "ObjectManager: {}", text(&out.stderr));

    assert!(daemon.stop().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn second_daemon_on_the_same_bus_is_refused() {
    let bus = TestBus::start();
    let first = DaemonSetup::new(bus.address(), &bus.dir.path().join("one")).start();
    let mut second = DaemonSetup::new(bus.address(), &bus.dir.path().join("two")).spawn();
    let status = second.wait();
    assert_eq!(
        status.code(),
        Some(69),
        "EX_UNAVAILABLE; log:\n{}",
        second.log()
    );
    let log = second.log();
    assert!(log.contains("already owned"), "{log}");
    assert!(
        log.contains(&format!("pid {}", first.child.id())),
        "names the owner: {log}"
    );
    assert!(
        !second.notifications.iter().any(|n| n.contains("READY=1")),
        "the refused daemon never said READY"
    );
    // The first one is undisturbed.
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("proxy");
    assert_eq!(manager.state().await.expect("State"), "running");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_announces_stopping_and_exits_cleanly() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("proxy");
    let mut changes = manager.receive_state_changed().await;
    // The first item of a property stream is the current value.
    let first = tokio::time::timeout(PATIENCE, changes.next())
        .await
        .expect("current state")
        .expect("stream");
    assert_eq!(first.get().await.expect("value"), "running");

    daemon.signal(libc::SIGTERM);
    let change = tokio::time::timeout(PATIENCE, changes.next())
        .await
        .expect("State changes on SIGTERM")
        .expect("stream");
    assert_eq!(change.get().await.expect("value"), "stopping");
    let stopping = daemon.wait_for_notification("STOPPING=1");
    assert!(stopping.contains("STATUS="), "{stopping}");
    let status = daemon.wait();
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());

    // The name is released: nobody owns it any more.
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.expect("dbus proxy");
    let owned = dbus
        .name_has_owner("org.posd.Posd1".try_into().expect("name"))
        .await
        .expect("NameHasOwner");
    assert!(!owned);
    // The WAL was folded back into the database file.
    let wal = daemon
        .state_dir
        .join(format!("{}-wal", posd::store::DATABASE_FILE));
    assert!(!wal.exists() || std::fs::metadata(&wal).expect("wal").len() == 0);
}

#[test]
fn sigint_stops_like_sigterm() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    daemon.signal(libc::SIGINT);
    assert_eq!(daemon.wait().code(), Some(0));
    daemon.wait_for_notification("STOPPING=1");
}

#[test]
fn a_wrongly_typed_value_is_refused_naming_file_and_key() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config("[database]\nbusy_timeout_ms = \"long\"\n")
        .spawn();
    assert_eq!(daemon.wait().code(), Some(78), "EX_CONFIG");
    let log = daemon.log();
    assert!(log.contains("posd.toml"), "{log}");
    assert!(log.contains("database.busy_timeout_ms"), "{log}");
    assert!(
        !daemon.database().exists(),
        "no database is created for a refused start"
    );
}

#[test]
fn an_unknown_key_in_a_drop_in_is_refused_naming_it() {
    let bus = TestBus::start();
    let setup = DaemonSetup::new(bus.address(), bus.dir.path());
    let drop_in = setup.config_dir.join("posd.d");
    std::fs::create_dir_all(&drop_in).expect("posd.d");
    std::fs::write(drop_in.join("20-till.toml"), "[register]\nidd = \"3\"\n").expect("write");
    let mut daemon = setup.spawn();
    assert_eq!(daemon.wait().code(), Some(78));
    let log = daemon.log();
    assert!(
        log.contains("20-till.toml") && log.contains("register.idd"),
        "{log}"
    );
}

#[test]
fn check_config_prints_the_effective_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("posd.toml"), SHOP_CONFIG).expect("write");
    let out = run(Command::new(POSD)
        .arg("--config-dir")
        .arg(dir.path())
        .arg("--check-config")
        .env("POSD_LOG__LEVEL", "debug"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let effective: toml::Table = printed.parse().expect("prints TOML");
    assert_eq!(effective["store"]["currency"].as_str(), Some("CZK"));
    assert_eq!(effective["register"]["id"].as_str(), Some("R7"));
    assert_eq!(
        effective["log"]["level"].as_str(),
        Some("debug"),
        "environment applied"
    );
    assert_eq!(
        effective["database"]["busy_timeout_ms"].as_integer(),
        Some(5000),
        "defaults shown"
    );
    assert!(printed.contains("posd.toml → environment"), "{printed}");

    std::fs::write(dir.path().join("posd.toml"), "[store]\nid = 1\n").expect("write");
    let out = run(Command::new(POSD)
        .arg("--config-dir")
        .arg(dir.path())
        .arg("--check-config"));
    assert_eq!(out.status.code(), Some(78));
    assert!(
        text(&out.stderr).contains("store.id"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_fresh_database_is_created_and_migrated() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = rusqlite::Connection::open(daemon.database()).expect("database exists");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, posd::store::schema_version());
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let history: i64 = conn
        .query_row("SELECT count(*) FROM schema_history", [], |r| r.get(0))
        .expect("history");
    assert_eq!(history, posd::store::schema_version());
    drop(conn);
    assert!(daemon.stop().success());
}

#[test]
fn a_database_from_a_newer_posd_is_refused() {
    let bus = TestBus::start();
    let setup = DaemonSetup::new(bus.address(), bus.dir.path());
    std::fs::create_dir_all(&setup.state_dir).expect("state dir");
    let path = setup.state_dir.join(posd::store::DATABASE_FILE);
    let newer = posd::store::schema_version() + 1;
    rusqlite::Connection::open(&path)
        .expect("create")
        .execute_batch(&format!(
            "CREATE TABLE future (x); PRAGMA user_version = {newer};"
        ))
        .expect("prepare");
    let mut daemon = setup.spawn();
    assert_eq!(
        daemon.wait().code(),
        Some(65),
        "EX_DATAERR; log:\n{}",
        daemon.log()
    );
    let log = daemon.log();
    assert!(log.contains(&format!("schema version {newer}")), "{log}");
    assert!(log.contains("newer posd"), "{log}");
    // Left exactly as it was.
    let conn = rusqlite::Connection::open(&path).expect("open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, newer);
}

#[test]
fn backup_of_a_running_daemon_opens_and_holds_the_data() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let live_id: String = rusqlite::Connection::open(daemon.database())
        .expect("open")
        .query_row(
            "SELECT value FROM meta WHERE key = 'database_id'",
            [],
            |r| r.get(0),
        )
        .expect("database id");
    let target = bus.dir.path().join("backup.sqlite3");
    let out = run(Command::new(POSD)
        .arg("--state-dir")
        .arg(&daemon.state_dir)
        .arg("--config-dir")
        .arg(&daemon.config_dir)
        .arg("--backup")
        .arg(&target));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("integrity ok"),
        "{}",
        text(&out.stdout)
    );
    let copy = rusqlite::Connection::open(&target).expect("backup opens");
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
    let copied_id: String = copy
        .query_row(
            "SELECT value FROM meta WHERE key = 'database_id'",
            [],
            |r| r.get(0),
        )
        .expect("copied id");
    assert_eq!(copied_id, live_id);
    assert!(
        daemon.stop().success(),
        "the daemon kept running during the backup"
    );

    // A backup without a database is an error and writes nothing.
    let empty = bus.dir.path().join("empty-state");
    let target = bus.dir.path().join("nothing.sqlite3");
    let out = run(Command::new(POSD)
        .arg("--state-dir")
        .arg(&empty)
        .arg("--config-dir")
        .arg(&empty)
        .arg("--backup")
        .arg(&target));
    assert!(!out.status.success());
    assert!(!target.exists());
}

#[test]
fn watchdog_beats_at_half_the_interval_only_when_asked() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), &bus.dir.path().join("wd"))
        .env("WATCHDOG_USEC", "400000")
        .start();
    daemon.collect_for(Duration::from_millis(1100));
    let beats = daemon
        .notifications
        .iter()
        .filter(|n| *n == "WATCHDOG=1")
        .count();
    // One beat every 200 ms: about five in 1.1 s; a loaded machine may lose one or two.
    assert!(
        (3..=7).contains(&beats),
        "{beats} beats: {:?}",
        daemon.notifications
    );

    // Without WATCHDOG_USEC: no beats (on a bus of its own, the first still owns the name).
    let other = TestBus::start();
    let mut quiet = DaemonSetup::new(other.address(), other.dir.path()).start();
    quiet.collect_for(Duration::from_millis(600));
    assert!(
        !quiet.notifications.iter().any(|n| n.contains("WATCHDOG")),
        "no watchdog without WATCHDOG_USEC: {:?}",
        quiet.notifications
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_applies_a_valid_config_and_keeps_the_old_one_on_error() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(SHOP_CONFIG)
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("proxy");
    let mut store_ids = manager.receive_store_id_changed().await;
    let _current = store_ids.next().await;

    std::fs::write(
        daemon.config_dir.join("posd.toml"),
        SHOP_CONFIG.replace("S42", "S43").replace("CZK", "EUR"),
    )
    .expect("write");
    manager.reload_config().await.expect("ReloadConfig");
    let change = tokio::time::timeout(PATIENCE, store_ids.next())
        .await
        .expect("PropertiesChanged for StoreId")
        .expect("stream");
    assert_eq!(change.get().await.expect("value"), "S43");
    assert_eq!(
        manager.currency().await.expect("Currency"),
        "CZK",
        "currency changes wait for a restart"
    );
    daemon.wait_for_notification("RELOADING=1");

    // A broken file: the call fails with the key named, and nothing changes.
    std::fs::write(daemon.config_dir.join("posd.toml"), "[store]\nid = [1]\n").expect("write");
    let err = manager.reload_config().await.expect_err("refused");
    let (name, message) = posd_client::error_reply(&err).expect("a D-Bus error");
    assert_eq!(name, "org.posd.Error.InvalidConfiguration");
    assert!(message.contains("store.id"), "{message}");
    assert_eq!(manager.store_id().await.expect("StoreId"), "S43");
    assert_eq!(manager.state().await.expect("State"), "running");

    // SIGHUP does the same as ReloadConfig.
    std::fs::write(
        daemon.config_dir.join("posd.toml"),
        SHOP_CONFIG.replace("S42", "S44"),
    )
    .expect("write");
    daemon.signal(libc::SIGHUP);
    let change = tokio::time::timeout(PATIENCE, store_ids.next())
        .await
        .expect("PropertiesChanged after SIGHUP")
        .expect("stream");
    assert_eq!(change.get().await.expect("value"), "S44");
    assert!(daemon.stop().success());
}

#[test]
fn a_caller_who_is_not_admin_gets_not_allowed() {
    if !is_root() {
        eprintln!("skipped: calling as another user needs root");
        return;
    }
    let bus = TestBus::start_for_everyone();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let nobody = 65534;
    let call = |uid: u32| {
        use std::os::unix::process::CommandExt;
        run(Command::new("busctl")
            .arg(format!("--address={}", bus.address()))
            .args(["call", "org.posd.Posd1", "/org/posd/Posd1"])
            .args(["org.posd.Manager1", "ReloadConfig"])
            .uid(uid)
            .gid(uid))
    };
    let out = call(nobody);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("needs root or membership of group posd-admin"),
        "{stderr}"
    );
    // busctl prints the message; the name is checked through posctl below.
    use std::os::unix::process::CommandExt;
    let out = run(Command::new(posctl_binary())
        .arg("--bus-address")
        .arg(bus.address())
        .arg("reload-config")
        .uid(nobody)
        .gid(nobody));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("org.posd.Error.NotAllowed"),
        "{}",
        text(&out.stderr)
    );
    // Root may.
    let out = call(0);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn posctl_status_prints_properties_as_text_and_json() {
    let bus = TestBus::start();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(SHOP_CONFIG)
        .start();
    let out = posctl(bus.address(), &["status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert!(lines[0].starts_with("Version"), "contract order: {printed}");
    assert!(printed.contains("StoreId      S42"), "{printed}");
    assert!(printed.contains("State        running"), "{printed}");

    let out = posctl(bus.address(), &["status", "--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["RegisterId"], "R7");
    assert_eq!(json["Currency"], "CZK");
    assert_eq!(json["AbiVersion"], "1.4");
}

#[test]
fn posctl_prints_the_dbus_error_name_when_posd_is_absent() {
    let bus = TestBus::start();
    let out = posctl(bus.address(), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("org.freedesktop.DBus.Error.ServiceUnknown"),
        "{stderr}"
    );
    let out = posctl(bus.address(), &["--json", "status"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON error");
    assert_eq!(json["error"], "org.freedesktop.DBus.Error.ServiceUnknown");
    let out = posctl("unix:path=/nonexistent/bus", &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot reach posd"));
}

#[test]
fn readme_first_command_starts_a_private_bus_that_posctl_reaches() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stderr_path = dir.path().join("stderr");
    let mut child = Command::new(POSD)
        .arg("--session")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("RUST_LOG")
        .env("HOME", dir.path())
        .env_remove("XDG_STATE_HOME")
        .env_remove("STATE_DIRECTORY")
        .env("CONFIGURATION_DIRECTORY", dir.path().join("etc"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr"))
        .spawn()
        .expect("posd starts");
    let deadline = std::time::Instant::now() + PATIENCE;
    let address = loop {
        let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if log.contains("serving org.posd.Posd1")
            && let Some(line) = log.lines().find(|l| l.contains("posctl --bus-address"))
        {
            break line.split('\'').nth(1).expect("quoted address").to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no address printed:\n{log}"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "posd exited:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = posctl(&address, &["status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The virtual printer is a configured device that comes online: running, not degraded.
    let deadline = std::time::Instant::now() + PATIENCE;
    while !text(&posctl(&address, &["status"]).stdout).contains("State        running") {
        assert!(std::time::Instant::now() < deadline, "never running");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Without hardware, a test page lands in the virtual printer's folder as text and PNG.
    let out = posctl(&address, &["print-test", "receipt", "--wait", "20"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let folder = dir.path().join(".local/state/posd/virtual-printer");
    let deadline = std::time::Instant::now() + PATIENCE;
    while !folder.join("test-page-job1.png").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no receipt PNG in {}",
            folder.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let receipt = std::fs::read_to_string(folder.join("test-page-job1.txt")).expect("text");
    assert!(receipt.contains("posd receipt printer"), "{receipt}");
    assert!(
        receipt.contains("Euro: € 12,50 €"),
        "PC858 decoded back: {receipt}"
    );
    assert!(
        dir.path()
            .join(".local/state/posd")
            .join(posd::store::DATABASE_FILE)
            .exists(),
        "state in the XDG state directory"
    );
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_with_timeout(&mut child, PATIENCE).expect("exits");
    assert!(status.success());
    let socket_dir = address
        .trim_start_matches("unix:path=")
        .split(',')
        .next()
        .and_then(|p| std::path::Path::new(p).parent().map(|p| p.to_path_buf()))
        .expect("socket dir");
    assert!(!socket_dir.exists(), "the private bus is cleaned up");
}

#[tokio::test(flavor = "multi_thread")]
async fn served_interfaces_match_the_checked_in_xml() {
    let bus = TestBus::start();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let introspectable = zbus::fdo::IntrospectableProxy::builder(&conn)
        .destination("org.posd.Posd1")
        .path("/org/posd/Posd1")
        .build()
        .await
        .expect("proxy");
    let served = introspectable.introspect().await.expect("Introspect");
    for (name, checked_in) in [
        (
            "org.posd.Manager1",
            include_str!("../host/interfaces/org.posd.Manager1.xml"),
        ),
        (
            "org.posd.Register1",
            include_str!("../host/interfaces/org.posd.Register1.xml"),
        ),
    ] {
        let shape = interface_shape(&served, name);
        assert!(!shape.is_empty(), "{name} is not served");
        assert_eq!(
            shape,
            interface_shape(checked_in, name),
            "host/interfaces/{name}.xml and the served interface differ"
        );
    }
}

#[test]
fn a_second_daemon_on_the_same_state_directory_exits_69_naming_the_first() {
    // Two buses, so the name does not decide it: the state directory does.
    let one = TestBus::start();
    let two = TestBus::start();
    let root = one.dir.path();
    let mut first = DaemonSetup::new(one.address(), root).start();
    let mut second = DaemonSetup::new(two.address(), root).spawn();
    let status = second.wait();
    let log = second.log();
    assert_eq!(status.code(), Some(69), "EX_UNAVAILABLE; log:\n{log}");
    assert!(
        log.contains(&format!(
            "the state directory {} is in use by another posd (pid {})",
            first.state_dir.display(),
            first.child.id()
        )),
        "{log}"
    );
    assert!(
        !second.notifications.iter().any(|n| n.contains("READY=1")),
        "the refused daemon never said READY"
    );
    // It did not touch the bus either: nobody owns the name on the second one.
    let out = posctl(two.address(), &["status"]);
    assert!(
        text(&out.stderr).contains("ServiceUnknown"),
        "{}",
        text(&out.stderr)
    );
    let out = posctl(one.address(), &["status"]);
    assert!(
        out.status.success(),
        "the first serves on: {}",
        text(&out.stderr)
    );
    assert!(first.stop().success());
}

#[test]
fn a_killed_daemon_never_blocks_the_next_start() {
    let bus = TestBus::start();
    let root = bus.dir.path();
    let mut killed = DaemonSetup::new(bus.address(), root).start();
    killed.signal(libc::SIGKILL);
    killed.wait();
    assert!(
        killed.state_dir.join(posd::paths::LOCK_FILE).exists(),
        "the lock file stays behind"
    );
    // The kernel released the lock with the process: the next one starts on the same state.
    let mut next = DaemonSetup::new(bus.address(), root).start();
    let out = posctl(bus.address(), &["status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(next.stop().success());
}

/// Every value of `Manager1.State` that `PropertiesChanged` announces on `conn`'s bus.
async fn state_announcements(conn: &zbus::Connection) -> zbus::MessageStream {
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface("org.freedesktop.DBus.Properties")
        .member("PropertiesChanged")
        .path("/org/posd/Posd1")
        .build()
        .expect("match rule");
    zbus::MessageStream::for_match_rule(rule, conn, None)
        .await
        .expect("subscribe")
}

/// The `State` values in the announcements that arrived within `duration`.
async fn states_within(stream: &mut zbus::MessageStream, duration: Duration) -> Vec<String> {
    let mut states = Vec::new();
    let deadline = tokio::time::Instant::now() + duration;
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, stream.next()).await {
        let Ok((interface, changed, _)) = message.body().deserialize::<(
            String,
            std::collections::HashMap<String, zbus::OwnedVariant>,
            Vec<String>,
        )>() else {
            continue;
        };
        if interface != "org.posd.Manager1" {
            continue;
        }
        if let Some(state) = changed.get("State") {
            states.push(String::try_from(state.clone()).expect("a string"));
        }
    }
    states
}

#[tokio::test(flavor = "multi_thread")]
async fn state_is_not_degraded_while_devices_connect_at_start() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let pty = Pty::open();
    let link = bus.dir.path().join("ttyScanner");
    repoint_symlink(&link, &pty.slave_path);
    let config = format!(
        "[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n\
         [[devices]]\nname = \"scanner\"\nkind = \"scanner\"\nconnection = \"serial:{}?baud=9600\"\n",
        printer.connection(),
        link.display()
    );
    // Listening before the daemon exists, so the very first announcement is seen.
    let conn = bus.client().await;
    let mut announcements = state_announcements(&conn).await;
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&config)
        .start();
    let mut states = states_within(&mut announcements, Duration::from_secs(2)).await;
    let manager = Manager1Proxy::new(&conn).await.expect("proxy");
    for name in ["receipt", "scanner"] {
        let device = posd_client::Device1Proxy::builder(&conn)
            .path(posd_client::device_path(name))
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("device proxy");
        eventually(&format!("{name} online"), || async {
            device.state().await.is_ok_and(|s| s == "online")
        })
        .await;
    }
    states.extend(states_within(&mut announcements, Duration::from_millis(500)).await);
    assert!(
        !states.iter().any(|s| s == "degraded"),
        "devices still connecting are not failed: {states:?}\n{}",
        daemon.log()
    );
    assert_eq!(
        states.last().map(String::as_str),
        Some("running"),
        "{states:?}"
    );
    assert_eq!(manager.state().await.expect("State"), "running");

    // A device that has tried and failed is: the state is honest, not just quiet.
    let mut states_on_stop = state_announcements(&conn).await;
    assert!(daemon.stop().success());
    assert_eq!(
        states_within(&mut states_on_stop, Duration::from_millis(300)).await,
        vec!["stopping"]
    );
    let unreachable = format!(
        "[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"tcp:127.0.0.1:{}\"\n",
        free_port()
    );
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&unreachable)
        .start();
    eventually(
        "degraded once the printer's first attempt failed",
        || async { manager.state().await.is_ok_and(|s| s == "degraded") },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_start_log_counts_open_sales_apart_from_completed_ones() {
    use std::collections::HashMap;
    use zbus::Variant;
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("proxy");
    let sale = || {
        let manager = &manager;
        let conn = &conn;
        async move {
            let path = manager.open_sale(HashMap::new()).await.expect("OpenSale");
            let sale = sale_proxy(conn, path).await;
            sale.add_item(HashMap::from([
                ("name", Variant::from("Brot")),
                ("qty", Variant::from("1")),
                ("unit_price", Variant::from("2.00")),
                ("tax_rate", Variant::from("10")),
            ]))
            .await
            .expect("AddItem");
            sale
        }
    };
    for n in 0..3 {
        let completed = sale().await;
        completed
            .add_tender("cash", "2.00", HashMap::new())
            .await
            .expect("cash");
        completed
            .checkout(&format!("key-{n}"))
            .await
            .expect("Checkout");
    }
    let _open = sale().await;
    assert!(daemon.stop().success());

    let daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let log = daemon.log();
    assert!(log.contains("restored 1 open sale(s)"), "{log}");
    assert!(
        log.contains("kept 3 sale(s) completed in the last 24 hours reachable"),
        "{log}"
    );
    assert!(!log.contains("restored 4"), "{log}");
}

/// Runs `posd --check-config` on a config directory holding `posd_toml` (if any), with
/// `env` set, and returns its exit code and stderr with the directory written as `DIR`.
fn check_config(posd_toml: Option<&str>, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    if let Some(text) = posd_toml {
        std::fs::write(dir.path().join("posd.toml"), text).expect("write");
    }
    let mut command = Command::new(POSD);
    command
        .arg("--config-dir")
        .arg(dir.path())
        .arg("--check-config");
    for (key, _) in std::env::vars() {
        if key.starts_with("POSD_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied());
    let out = run(&mut command);
    let stderr = text(&out.stderr).replace(&dir.path().display().to_string(), "DIR");
    (out.status.code(), stderr)
}

const REFUSING: &str = "posd: refusing to start; see systemd/posd.toml.example for every key\n";

#[test]
fn an_unknown_key_is_printed_on_one_line_without_a_stray_location() {
    let (code, stderr) = check_config(Some("[store]\ncurreny = \"EUR\"\n"), &[]);
    assert_eq!(code, Some(78));
    assert_eq!(
        stderr,
        format!(
            "posd: invalid configuration: DIR/posd.toml: key `store.curreny`: unknown key, \
             expected one of `id`, `currency`, `locale`, `cash_rounding`\n{REFUSING}"
        )
    );
    let (_, stderr) = check_config(Some("[store]\nid = 1\n"), &[]);
    assert_eq!(
        stderr,
        format!(
            "posd: invalid configuration: DIR/posd.toml: key `store.id`: invalid type: \
             integer `1`, expected a string\n{REFUSING}"
        )
    );
}

#[test]
fn a_toml_syntax_error_shows_the_line_with_a_caret() {
    let (code, stderr) = check_config(Some("[store]\nid = \"S1\"\nlocale = de-AT\n"), &[]);
    assert_eq!(code, Some(78));
    assert_eq!(
        stderr,
        format!(
            "posd: invalid configuration: DIR/posd.toml: not valid TOML: line 3, column 10: \
             string values must be quoted, expected literal string\n\
             \x20   3 | locale = de-AT\n\
             \x20     |          ^^^^^\n{REFUSING}"
        )
    );
}

#[test]
fn an_environment_error_names_the_whole_variable() {
    let (code, stderr) = check_config(None, &[("POSD_STORE__CURRENCY", "DOLLARS")]);
    assert_eq!(code, Some(78));
    assert_eq!(
        stderr,
        format!(
            "posd: invalid configuration: environment variable POSD_STORE__CURRENCY: key \
             `store.currency`: `DOLLARS` is not a supported ISO 4217 currency; expected one of \
             EUR, CZK, CHF, PLN, HUF, GBP, USD, DKK, SEK, NOK, RON, BGN\n{REFUSING}"
        )
    );
    let (_, stderr) = check_config(None, &[("POSD_DATABASE__BUSY_TIMEOUT_MS", "soon")]);
    assert_eq!(
        stderr,
        format!(
            "posd: invalid configuration: environment variable POSD_DATABASE__BUSY_TIMEOUT_MS: \
             key `database.busy_timeout_ms`: invalid type: string \"soon\", expected an \
             integer\n{REFUSING}"
        )
    );
}
