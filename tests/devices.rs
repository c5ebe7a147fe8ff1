//! Scanners and printers as frontends see them: real pseudo-terminals for serial scanners,
//! real TCP listeners for network printers, the real daemon on a private bus.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use posd_client::{Device1Proxy, Manager1Proxy, Printer1Proxy, Scanner1Proxy, device_path};
use support::*;

async fn device_proxy<'a>(conn: &'a zbus::Connection, name: &str) -> Device1Proxy<'a> {
    Device1Proxy::builder(conn)
        .path(device_path(name))
        .build()
        .await
        .expect("device proxy")
}

async fn wait_for_state(device: &Device1Proxy<'_>, state: &str) {
    eventually(&format!("device becomes {state}"), || async {
        device.state().await.is_ok_and(|s| s == state)
    })
    .await;
}

fn scanner_config(link: &std::path::Path) -> String {
    format!(
        r#"
[[devices]]
name = "scanner"
kind = "scanner"
connection = "serial:{}?baud=9600"
suffix = "cr"

[[scanning.in_store]]
prefixes = ["28"]
item_digits = 5
value = "weight"
value_digits = 5
decimals = 3
"#,
        link.display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn scans_on_a_serial_line_become_signals_and_misreads_do_not() {
    let bus = TestBus::start();
    let mut pty = Pty::open();
    let link = bus.dir.path().join("ttyScanner");
    repoint_symlink(&link, &pty.slave_path);
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&scanner_config(&link))
        .start();
    let conn = bus.client().await;
    let device = device_proxy(&conn, "scanner").await;
    wait_for_state(&device, "online").await;
    assert_eq!(
        device.connection().await.expect("Connection"),
        format!("serial:{}@9600", link.display())
    );
    let scanner = Scanner1Proxy::builder(&conn)
        .path(device_path("scanner"))
        .build()
        .await
        .expect("scanner proxy");
    let mut scans = scanner.receive_scanned().await.expect("subscribe");

    // An EAN-13 with its AIM identifier; the identifier is stripped.
    pty.send(b"]E04006381333931\r");
    let scan = tokio::time::timeout(PATIENCE, scans.next())
        .await
        .expect("Scanned")
        .expect("stream");
    let args = scan.args().expect("args");
    assert_eq!(args.code, "4006381333931");
    assert_eq!(args.symbology, "ean13");
    assert_eq!(args.kind, "product");

    // A misread (wrong check digit) never arrives; it is counted instead.
    pty.send(b"]E04006381333932\r");
    // GS1-128 with FNC1 as GS: GTIN, expiry, batch, net weight.
    pty.send(b"]C101040123456789011726113010ABC123\x1d3103001250\r");
    let scan = tokio::time::timeout(PATIENCE, scans.next())
        .await
        .expect("Scanned")
        .expect("stream");
    let args = scan.args().expect("args");
    assert_eq!(args.symbology, "gs1-128", "the misread was not emitted");
    let details: HashMap<String, String> = args
        .details
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                String::try_from(v.clone()).expect("string detail"),
            )
        })
        .collect();
    assert_eq!(
        details.get("gtin").map(String::as_str),
        Some("04012345678901")
    );
    assert_eq!(
        details.get("expiry").map(String::as_str),
        Some("2026-11-30")
    );
    assert_eq!(details.get("batch").map(String::as_str), Some("ABC123"));
    assert_eq!(
        details.get("net_weight_kg").map(String::as_str),
        Some("1.250")
    );
    assert_eq!(args.kind, "product");
    assert_eq!(scanner.rejected_scans().await.expect("RejectedScans"), 1);

    // An in-store weight code by the configured layout: item 12345, 0.350 kg.
    let code = ean13_with_check("281234500350");
    pty.send(format!("{code}\r").as_bytes());
    let scan = tokio::time::timeout(PATIENCE, scans.next())
        .await
        .expect("Scanned")
        .expect("stream");
    let args = scan.args().expect("args");
    let weight = args
        .details
        .get("weight_kg")
        .map(|v| String::try_from(v.clone()).expect("string"));
    assert_eq!(weight.as_deref(), Some("0.350"), "{:?}", args.details);
    let item = args
        .details
        .get("item")
        .map(|v| String::try_from(v.clone()).expect("string"));
    assert_eq!(item.as_deref(), Some("12345"));
}

fn ean13_with_check(twelve: &str) -> String {
    let sum: u32 = twelve
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{twelve}{}", (10 - sum % 10) % 10)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unplugged_scanner_goes_offline_and_comes_back_without_restart() {
    let bus = TestBus::start();
    let pty = Pty::open();
    let link = bus.dir.path().join("ttyScanner");
    repoint_symlink(&link, &pty.slave_path);
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&scanner_config(&link))
        .start();
    let conn = bus.client().await;
    let device = device_proxy(&conn, "scanner").await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    wait_for_state(&device, "online").await;
    eventually("daemon running", || async {
        manager.state().await.is_ok_and(|s| s == "running")
    })
    .await;

    drop(pty); // unplugged
    wait_for_state(&device, "offline").await;
    assert!(!device.last_error().await.expect("LastError").is_empty());
    eventually("daemon degraded", || async {
        manager.state().await.is_ok_and(|s| s == "degraded")
    })
    .await;

    let mut replugged = Pty::open();
    repoint_symlink(&link, &replugged.slave_path);
    wait_for_state(&device, "online").await;
    eventually("daemon running again", || async {
        manager.state().await.is_ok_and(|s| s == "running")
    })
    .await;
    let scanner = Scanner1Proxy::builder(&conn)
        .path(device_path("scanner"))
        .build()
        .await
        .expect("scanner proxy");
    let mut scans = scanner.receive_scanned().await.expect("subscribe");
    replugged.send(b"]E455123457\r");
    let scan = tokio::time::timeout(PATIENCE, scans.next())
        .await
        .expect("Scanned after replug")
        .expect("stream");
    assert_eq!(scan.args().expect("args").code, "55123457");
}

fn printer_config(connection: &str, extra: &str) -> String {
    format!(
        r#"
[[devices]]
name = "receipt"
kind = "printer"
connection = "{connection}"
columns = 42
code_page = "pc852"
status_poll_ms = 200
{extra}
"#
    )
}

async fn printer_proxy<'a>(conn: &'a zbus::Connection) -> Printer1Proxy<'a> {
    Printer1Proxy::builder(conn)
        .path(device_path("receipt"))
        .build()
        .await
        .expect("printer proxy")
}

/// "Czech: áčďéěíňóřšťúůýž" (a line of the test page) in PC852, written out from the code
/// page table.
const CZECH_PC852: &[u8] = &[
    0x43, 0x7A, 0x65, 0x63, 0x68, 0x3A, 0x20, 0xA0, 0x9F, 0xD4, 0x82, 0xD8, 0xA1, 0xE5, 0xA2, 0xFD,
    0xE7, 0x9C, 0xA3, 0x85, 0xEC, 0xA7,
];

#[tokio::test(flavor = "multi_thread")]
async fn a_test_page_reaches_a_network_printer_with_the_right_bytes() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(&printer.connection(), ""))
        .start();
    let conn = bus.client().await;
    let device = device_proxy(&conn, "receipt").await;
    wait_for_state(&device, "online").await;
    let proxy = printer_proxy(&conn).await;
    assert_eq!(proxy.columns().await.expect("Columns"), 42);
    let mut done = proxy.receive_job_done().await.expect("subscribe");
    let job = proxy.print_test_page().await.expect("PrintTestPage");
    let signal = tokio::time::timeout(PATIENCE, done.next())
        .await
        .expect("JobDone")
        .expect("stream");
    let args = signal.args().expect("args");
    assert_eq!(
        (args.job_id.as_str(), args.state.as_str()),
        (job.as_str(), "printed")
    );
    let bytes = printer.received();
    assert!(
        bytes.starts_with(&[0x1B, 0x40, 0x1B, 0x74, 18]),
        "init + ESC t 18 (PC852)"
    );
    assert_eq!(
        find_all(&bytes, CZECH_PC852).len(),
        1,
        "Czech text encoded in PC852"
    );
    assert_eq!(
        find_all(&bytes, job.as_bytes()).len(),
        1,
        "the page shows its job id"
    );
    eventually("queue empty", || async {
        proxy.queue_length().await.is_ok_and(|n| n == 0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn german_text_and_the_euro_sign_arrive_in_pc858() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let config = printer_config(&printer.connection(), "").replace("pc852", "pc858");
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&config)
        .start();
    let conn = bus.client().await;
    let proxy = printer_proxy(&conn).await;
    let job = proxy.print_test_page().await.expect("PrintTestPage");
    eventually("printed", || async {
        find_all(&printer.received(), job.as_bytes()).len() == 1
    })
    .await;
    let bytes = printer.received();
    assert!(
        bytes.starts_with(&[0x1B, 0x40, 0x1B, 0x74, 19]),
        "init + ESC t 19 (PC858)"
    );
    // "German: äöü ÄÖÜ ß" and "Euro: € 12,50 €", written out from the PC858 table.
    let german = [
        0x47, 0x65, 0x72, 0x6D, 0x61, 0x6E, 0x3A, 0x20, 0x84, 0x94, 0x81, 0x20, 0x8E, 0x99, 0x9A,
        0x20, 0xE1, 0x0A,
    ];
    let euro = [
        0x45, 0x75, 0x72, 0x6F, 0x3A, 0x20, 0xD5, 0x20, 0x31, 0x32, 0x2C, 0x35, 0x30, 0x20, 0xD5,
        0x0A,
    ];
    assert_eq!(find_all(&bytes, &german).len(), 1);
    assert_eq!(find_all(&bytes, &euro).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_wait_while_the_printer_is_down_and_print_once_in_order_when_it_is_back() {
    let bus = TestBus::start();
    let port = free_port();
    let connection = format!("tcp:127.0.0.1:{port}");
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(&connection, ""))
        .start();
    let conn = bus.client().await;
    let device = device_proxy(&conn, "receipt").await;
    let proxy = printer_proxy(&conn).await;
    wait_for_state(&device, "offline").await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(proxy.print_test_page().await.expect("queued while offline"));
    }
    eventually("three jobs wait", || async {
        proxy.queue_length().await.is_ok_and(|n| n == 3)
    })
    .await;
    let err = proxy
        .open_drawer()
        .await
        .expect_err("no drawer while offline");
    let (name, _) = posd_client::error_reply(&err).expect("named error");
    assert_eq!(name, "org.posd.Error.DeviceUnavailable");

    let mut done = proxy.receive_job_done().await.expect("subscribe");
    let printer = FakePrinter::listen(port);
    let mut printed = Vec::new();
    while printed.len() < 3 {
        let signal = tokio::time::timeout(PATIENCE, done.next())
            .await
            .expect("JobDone")
            .expect("stream");
        printed.push(signal.args().expect("args").job_id.clone());
    }
    assert_eq!(printed, jobs, "in queue order");
    let bytes = printer.received();
    let positions: Vec<usize> = jobs
        .iter()
        .map(|job| {
            let at = find_all(&bytes, job.as_bytes());
            assert_eq!(at.len(), 1, "{job} printed exactly once");
            at[0]
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "paper order {positions:?}"
    );
    // The proxy's property cache follows its own signal stream: allow it to catch up.
    eventually("queue empty", || async {
        proxy.queue_length().await.is_ok_and(|n| n == 0)
    })
    .await;
    wait_for_state(&device, "online").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_survive_a_killed_daemon_and_print_once_after_restart() {
    let bus = TestBus::start();
    let port = free_port();
    let connection = format!("tcp:127.0.0.1:{port}");
    let setup =
        || DaemonSetup::new(bus.address(), bus.dir.path()).config(&printer_config(&connection, ""));
    let mut daemon = setup().start();
    let conn = bus.client().await;
    let jobs = {
        let proxy = printer_proxy(&conn).await;
        let mut jobs = Vec::new();
        for _ in 0..4 {
            jobs.push(proxy.print_test_page().await.expect("queued"));
        }
        jobs
    };
    daemon.signal(libc::SIGKILL);
    daemon.wait();

    // Restarted with the printer still off: the waiting jobs show at once.
    let mut daemon = setup().start();
    let proxy = printer_proxy(&conn).await;
    assert_eq!(proxy.queue_length().await.expect("QueueLength"), 4);
    daemon.signal(libc::SIGKILL);
    daemon.wait();

    let printer = FakePrinter::listen(port);
    let _daemon = setup().start();
    eventually("every job printed", || async {
        let bytes = printer.received();
        jobs.iter()
            .all(|job| !find_all(&bytes, job.as_bytes()).is_empty())
    })
    .await;
    let proxy = printer_proxy(&conn).await;
    eventually("queue drained", || async {
        proxy.queue_length().await.is_ok_and(|n| n == 0)
    })
    .await;
    let bytes = printer.received();
    for job in &jobs {
        assert_eq!(
            find_all(&bytes, job.as_bytes()).len(),
            1,
            "{job} printed exactly once"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_printer_that_drops_its_connection_goes_offline_and_reconnects() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let port = printer.port;
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(&printer.connection(), ""))
        .start();
    let conn = bus.client().await;
    let device = device_proxy(&conn, "receipt").await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    wait_for_state(&device, "online").await;
    drop(printer); // switched off: the connection closes
    wait_for_state(&device, "offline").await;
    eventually("degraded", || async {
        manager.state().await.is_ok_and(|s| s == "degraded")
    })
    .await;
    let printer = FakePrinter::listen(port);
    wait_for_state(&device, "online").await;
    eventually("running", || async {
        manager.state().await.is_ok_and(|s| s == "running")
    })
    .await;
    assert!(printer.with(|s| s.connections) >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn paper_out_holds_the_queue_until_paper_is_back() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    printer.with(|s| s.paper_out = true);
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(&printer.connection(), ""))
        .start();
    let conn = bus.client().await;
    let device = device_proxy(&conn, "receipt").await;
    let proxy = printer_proxy(&conn).await;
    wait_for_state(&device, "error").await;
    eventually("PaperOut", || async {
        proxy.paper_out().await.is_ok_and(|p| p)
    })
    .await;
    assert_eq!(device.last_error().await.expect("LastError"), "paper out");
    let job = proxy.print_test_page().await.expect("queued");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        find_all(&printer.received(), job.as_bytes()).is_empty(),
        "nothing sent while out of paper"
    );
    assert_eq!(proxy.queue_length().await.expect("QueueLength"), 1);

    printer.with(|s| {
        s.paper_out = false;
        s.near_end = true;
    });
    wait_for_state(&device, "online").await;
    eventually("printed after paper change", || async {
        proxy.queue_length().await.is_ok_and(|n| n == 0)
    })
    .await;
    assert_eq!(find_all(&printer.received(), job.as_bytes()).len(), 1);
    eventually("PaperNearEnd", || async {
        proxy.paper_near_end().await.is_ok_and(|p| p)
    })
    .await;
    assert!(!proxy.paper_out().await.expect("PaperOut"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_drawer_opens_with_a_full_pulse_command() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(
            &printer.connection(),
            "drawer_pin = 5\ndrawer_pulse_ms = 100",
        ))
        .start();
    let conn = bus.client().await;
    wait_for_state(&device_proxy(&conn, "receipt").await, "online").await;
    printer_proxy(&conn)
        .await
        .open_drawer()
        .await
        .expect("OpenDrawer");
    // ESC p m t1 t2: pin 5 is m = 1; 100 ms on, 200 ms off, in 2 ms units.
    let expected = [0x1B, 0x70, 0x01, 50, 100];
    eventually("drawer kick arrives", || async {
        find_all(&printer.received(), &expected).len() == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_adds_and_removes_devices_without_a_restart() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let objects = zbus::fdo::ObjectManagerProxy::builder(&conn)
        .destination("org.posd.Posd1")
        .path("/org/posd/Posd1")
        .build()
        .await
        .expect("object manager");
    let mut added = objects.receive_interfaces_added().await.expect("subscribe");
    let mut removed = objects
        .receive_interfaces_removed()
        .await
        .expect("subscribe");
    let pid_before = daemon.child.id();

    std::fs::write(
        daemon.config_dir.join("posd.toml"),
        printer_config(&printer.connection(), ""),
    )
    .expect("write");
    daemon.signal(libc::SIGHUP);
    // zbus announces each interface of the new object in a signal of its own.
    let mut interfaces = std::collections::BTreeSet::new();
    while !interfaces.contains("org.posd.Printer1") {
        let signal = tokio::time::timeout(PATIENCE, added.next())
            .await
            .unwrap_or_else(|_| panic!("no InterfacesAdded; log:\n{}", daemon.log()))
            .expect("stream");
        let args = signal.args().expect("args");
        assert_eq!(args.object_path.as_str(), "/org/posd/Posd1/device/receipt");
        interfaces.extend(args.interfaces_and_properties.keys().map(|k| k.to_string()));
    }
    assert!(interfaces.contains("org.posd.Device1"), "{interfaces:?}");
    wait_for_state(&device_proxy(&conn, "receipt").await, "online").await;

    std::fs::write(daemon.config_dir.join("posd.toml"), "").expect("write");
    Manager1Proxy::new(&conn)
        .await
        .expect("manager")
        .reload_config()
        .await
        .expect("ReloadConfig");
    let signal = tokio::time::timeout(PATIENCE, removed.next())
        .await
        .expect("InterfacesRemoved")
        .expect("stream");
    assert_eq!(
        signal.args().expect("args").object_path.as_str(),
        "/org/posd/Posd1/device/receipt"
    );
    assert_eq!(daemon.child.id(), pid_before);
    assert!(daemon.stop().success());
}

#[test]
fn posctl_lists_devices_and_prints_a_test_page() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(&printer.connection(), ""))
        .start();
    let out = posctl(bus.address(), &["print-test", "receipt", "--wait", "20"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("printed"),
        "{}",
        text(&out.stdout)
    );
    let out = posctl(bus.address(), &["devices"]);
    let listing = text(&out.stdout);
    assert!(
        listing.contains("receipt") && listing.contains("printer") && listing.contains("online"),
        "{listing}"
    );
    let out = posctl(bus.address(), &["--json", "device", "receipt"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["org.posd.Printer1"]["QueueLength"], 0);
    assert_eq!(json["org.posd.Device1"]["State"], "online");
    let out = posctl(bus.address(), &["open-drawer", "nosuch"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("org.posd.Error.NotFound")
            && text(&out.stderr).contains("\"nosuch\""),
        "a missing device is the contract's NotFound, naming it: {}",
        text(&out.stderr)
    );
}

#[test]
fn posctl_scan_monitor_shows_scans() {
    let bus = TestBus::start();
    let mut pty = Pty::open();
    let link = bus.dir.path().join("ttyScanner");
    repoint_symlink(&link, &pty.slave_path);
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&scanner_config(&link))
        .start();
    let deadline = std::time::Instant::now() + PATIENCE;
    while !text(&posctl(bus.address(), &["device", "scanner"]).stdout).contains("online") {
        assert!(
            std::time::Instant::now() < deadline,
            "scanner never came online"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut monitor = std::process::Command::new(posctl_binary())
        .args([
            "--bus-address",
            bus.address(),
            "--json",
            "scan-monitor",
            "--count",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("posctl");
    // It says so on stderr once it listens.
    let mut stderr = std::io::BufReader::new(monitor.stderr.take().expect("stderr"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).expect("read");
    assert!(line.contains("waiting for scans"), "{line}");
    pty.send(b"]E04006381333931\r");
    let out = monitor
        .wait_with_output()
        .expect("posctl ends after one scan");
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON line");
    assert_eq!(line["device"], "scanner");
    assert_eq!(line["code"], "4006381333931");
    assert_eq!(line["symbology"], "ean13");
}

#[test]
fn posctl_print_preview_writes_a_png() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("preview.png");
    let out = run(std::process::Command::new(posctl_binary())
        .args(["print-preview", "--code-page", "pc852"])
        .arg(&out_path));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let png = std::fs::read(&out_path).expect("PNG written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn served_device_interfaces_match_the_checked_in_xml() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let pty = Pty::open();
    let link = bus.dir.path().join("ttyScanner");
    repoint_symlink(&link, &pty.slave_path);
    let config = format!(
        "{}\n{}",
        printer_config(&printer.connection(), ""),
        scanner_config(&link)
    );
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&config)
        .start();
    let conn = bus.client().await;
    let checked_in = include_str!("../host/interfaces/org.posd.Device1.xml");
    for (name, interfaces) in [
        ("receipt", ["org.posd.Device1", "org.posd.Printer1"]),
        ("scanner", ["org.posd.Device1", "org.posd.Scanner1"]),
    ] {
        let introspectable = zbus::fdo::IntrospectableProxy::builder(&conn)
            .destination("org.posd.Posd1")
            .path(device_path(name))
            .build()
            .await
            .expect("proxy");
        let served = introspectable.introspect().await.expect("Introspect");
        for interface in interfaces {
            assert_eq!(
                interface_shape(&served, interface),
                interface_shape(checked_in, interface),
                "{interface} differs between host/interfaces/org.posd.Device1.xml and {name}"
            );
        }
    }
}
