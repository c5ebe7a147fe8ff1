//! posctl as scripts use it: every `--json` output is one JSON document (a line per scan for
//! `scan-monitor`) with the keys a script reads, stdout holds nothing else, and a reader
//! that goes away (`posctl … | head`) ends posctl quietly.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use posd_client::Manager1Proxy;
use serde_json::Value;
use support::*;
use zbus::Variant;

/// Runs `posctl --bus-address BUS --json ARGS` and parses stdout, which must be JSON and
/// nothing else, whatever stderr says.
fn json(bus: &str, args: &[&str]) -> Value {
    let out = posctl(bus, &[&["--json"], args].concat());
    assert!(
        out.status.success(),
        "posctl {args:?}: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    parse(&out, args)
}

fn parse(out: &Output, args: &[&str]) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "posctl {args:?} printed no JSON ({e}):\n{}",
            text(&out.stdout)
        )
    })
}

fn config(printer: &FakePrinter, scanner: &Path, plugins: &str) -> String {
    format!(
        "{plugins}\n[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\n\
         status_poll_ms = 200\n[[devices]]\nname = \"scanner\"\nkind = \"scanner\"\n\
         connection = \"serial:{}?baud=9600\"\n",
        printer.connection(),
        scanner.display()
    )
}

/// Waits until `device` is online.
fn online(bus: &str, device: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while json(bus, &["device", device])["org.posd.Device1"]["State"] != "online" {
        assert!(
            std::time::Instant::now() < deadline,
            "{device} never online"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One sale of bread paid in cash, over the bus as a frontend makes it; its receipt id.
async fn sell(conn: &zbus::Connection) -> String {
    let manager = Manager1Proxy::new(conn).await.expect("manager");
    let path = manager
        .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
        .await
        .expect("OpenSale");
    let sale = sale_proxy(conn, path).await;
    sale.add_item(HashMap::from([
        ("sku", Variant::from("4006381333931")),
        ("name", Variant::from("Brot")),
        ("qty", Variant::from("2")),
        ("unit_price", Variant::from("2.49")),
        ("tax_rate", Variant::from("10")),
    ]))
    .await
    .expect("AddItem");
    sale.add_tender("cash", "10.00", HashMap::new())
        .await
        .expect("cash");
    sale.checkout("posctl-json-sale").await.expect("Checkout")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_json_output_is_json_with_the_keys_scripts_read() {
    let bus = TestBus::start();
    let address = bus.address().to_string();
    let bus_address = address.as_str();
    let root = bus.dir.path();
    let printer = FakePrinter::listen(0);
    let mut pty = Pty::open();
    let link = root.join("ttyScanner");
    repoint_symlink(&link, &pty.slave_path);
    let (plugin_dir, plugins) = plugin_config(root, 2000, "");
    let daemon = DaemonSetup::new(bus_address, root)
        .config(&config(&printer, &link, &plugins))
        .start();
    let database = std::path::absolute(daemon.database()).expect("absolute");
    let conn = bus.client().await;
    online(bus_address, "receipt");
    online(bus_address, "scanner");

    let status = json(bus_address, &["status"]);
    assert_eq!(status["StoreId"], "0001");
    assert_eq!(status["State"], "running");
    assert_eq!(status["DatabasePath"], database.display().to_string());

    let devices = json(bus_address, &["devices"]);
    let receipt_printer = devices
        .as_array()
        .expect("a list")
        .iter()
        .find(|d| d["Name"] == "receipt")
        .unwrap_or_else(|| panic!("no receipt printer in {devices}"));
    assert_eq!(receipt_printer["Kind"], "printer");
    assert_eq!(
        json(bus_address, &["device", "receipt"])["org.posd.Printer1"]["Columns"],
        42
    );
    let queued = json(bus_address, &["print-test", "receipt"]);
    assert!(queued["job"].is_string(), "{queued}");
    let printed = json(bus_address, &["print-test", "receipt", "--wait", "20"]);
    assert_eq!(printed["state"], "printed", "{printed}");
    assert_eq!(
        json(bus_address, &["open-drawer", "receipt"])["opened"],
        true
    );

    // The day, then a sale in it.
    let opened = json(bus_address, &["day", "open", "150.00"]);
    assert_eq!(opened["kind"], "day_open", "{opened}");
    let cash_in = json(
        bus_address,
        &["day", "cash-in", "50.00", "--reason", "Wechselgeld"],
    );
    assert!(cash_in["id"].is_string(), "{cash_in}");
    let cash_out = json(
        bus_address,
        &["day", "cash-out", "20.00", "--reason", "Bank"],
    );
    assert!(cash_out["id"].is_string(), "{cash_out}");
    let receipt_id = sell(&conn).await;

    let receipt = json(bus_address, &["receipt", &receipt_id]);
    assert_eq!(receipt["id"], receipt_id);
    assert_eq!(
        receipt["lines"][0]["name"], "Brot",
        "records, not strings: {receipt}"
    );
    assert_eq!(receipt["totals"]["total"], "4.98", "{receipt}");
    assert_eq!(receipt["tenders"][0]["method"], "cash", "{receipt}");
    assert_eq!(receipt["vat"][0]["rate"], "10", "{receipt}");
    assert!(receipt["text"].as_str().is_some_and(|t| t.contains("Brot")));

    let x = json(bus_address, &["day", "x"]);
    assert_eq!(x["cash"]["expected"], "184.98", "{x}");
    assert!(x.get("text").is_none(), "the JSON is the record: {x}");
    let z = json(bus_address, &["day", "z", "184.98"]);
    assert_eq!(z["kind"], "z", "{z}");
    let history = json(bus_address, &["day", "history"]);
    assert_eq!(history[0]["z_receipt_id"], z["id"], "{history}");

    // Reading the daemon's database directly: the one the daemon names.
    let verified = json(bus_address, &["ledger", "verify"]);
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["database"], database.display().to_string());
    assert!(
        verified["receipts"].as_i64().is_some_and(|n| n >= 5),
        "{verified}"
    );
    let balances = json(bus_address, &["ledger", "balance", "host:"]);
    assert!(
        balances
            .as_array()
            .expect("a list")
            .iter()
            .all(|b| b["account"]
                .as_str()
                .is_some_and(|a| a.starts_with("host:"))
                && b["balance"].is_string()),
        "{balances}"
    );
    {
        let db = rusqlite::Connection::open(&database).expect("open");
        db.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        posd::outbox::enqueue(
            &db,
            &posd::outbox::NewMessage {
                plugin: "partner".into(),
                destination: "payback".into(),
                key: "k1".into(),
                payload: serde_json::json!({ "points": 4 }),
                reference: receipt_id.clone(),
            },
        )
        .expect("enqueue");
    }
    let outbox = json(bus_address, &["outbox"]);
    assert_eq!(outbox[0]["reference"], receipt_id, "{outbox}");
    assert_eq!(outbox[0]["payload"]["points"], 4, "{outbox}");

    // Plugins.
    let built = build_c_plugin(
        &workspace().join("plugins/examples/hello-c/hello_c.c"),
        &root.join("libhello_c.so"),
    );
    let installed = json(
        bus_address,
        &["plugin", "install", built.to_str().expect("utf-8")],
    );
    assert_eq!(installed["installed"], "hello-c");
    assert!(plugin_dir.join("libhello_c.so").exists());
    let listed = json(bus_address, &["plugins"]);
    assert_eq!(listed[0]["Id"], "hello-c");
    assert_eq!(listed[0]["State"], "loaded");
    assert_eq!(
        json(bus_address, &["lookup", "HELLOC-bob"])["kind"],
        "customer_card"
    );
    assert_eq!(
        json(bus_address, &["plugin", "disable", "hello-c"])["disabled"],
        "hello-c"
    );
    assert_eq!(
        json(bus_address, &["plugin", "enable", "hello-c"])["enabled"],
        "hello-c"
    );
    assert_eq!(json(bus_address, &["plugins", "reload"])["reloaded"], true);
    assert_eq!(
        json(bus_address, &["plugin", "remove", "hello-c"])["removed"],
        "hello-c"
    );
    assert_eq!(json(bus_address, &["reload-config"])["reloaded"], true);

    // Scans: one JSON document per line.
    let mut monitor = Command::new(posctl_binary())
        .args([
            "--bus-address",
            bus_address,
            "--json",
            "scan-monitor",
            "--count",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("posctl");
    let mut stderr = std::io::BufReader::new(monitor.stderr.take().expect("stderr"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).expect("read");
    assert!(line.contains("waiting for scans"), "{line}");
    pty.send(b"4006381333931\r5901234123457\r");
    let mut stdout = monitor.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut all);
        all
    });
    if wait_with_timeout(&mut monitor, PATIENCE).is_none() {
        let _ = monitor.kill();
        panic!("scan-monitor --count 2 did not end after two scans");
    }
    let scans: Vec<Value> = reader
        .join()
        .expect("stdout reader")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(scans.len(), 2, "{scans:?}");
    assert_eq!(scans[0]["code"], "4006381333931");
    assert_eq!(scans[1]["code"], "5901234123457");
    assert_eq!(scans[1]["device"], "scanner");

    // Without a daemon.
    let png = root.join("page.png");
    let preview = json(
        bus_address,
        &["print-preview", png.to_str().expect("utf-8")],
    );
    assert_eq!(preview["preview"], png.display().to_string());
    assert!(
        preview["missing_characters"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );

    // A failure is JSON too, on stdout, with the exit status of the failure.
    let out = posctl(bus_address, &["--json", "print-test", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(parse(&out, &["print-test", "nosuch"])["error"].is_string());
    drop(daemon);
}

#[test]
fn ledger_and_outbox_read_the_database_of_the_daemon_on_the_bus_and_name_it() {
    let bus = TestBus::start();
    // Not the default state directory: the old posctl read another database here.
    let daemon = DaemonSetup::new(bus.address(), &bus.dir.path().join("elsewhere")).start();
    let database = std::path::absolute(daemon.database()).expect("absolute");
    let out = posctl(bus.address(), &["ledger", "verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!("ledger ok in {}: ", database.display())),
        "{}",
        text(&out.stdout)
    );
    for args in [&["ledger", "balance"][..], &["outbox"][..]] {
        let out = posctl(bus.address(), args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(&database.display().to_string()),
            "{args:?} names the database on stderr: {}",
            text(&out.stderr)
        );
    }
    // --state-dir still works with no daemon at all.
    let state_dir = daemon.state_dir.clone();
    drop(daemon);
    let out = run(Command::new(posctl_binary())
        .args(["--json", "ledger", "verify", "--state-dir"])
        .arg(&state_dir));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        parse(&out, &["ledger", "verify"])["database"],
        state_dir
            .join(posd::store::DATABASE_FILE)
            .display()
            .to_string()
    );
    // A bus named on the command line with no posd on it is an error, not another database.
    let out = posctl(bus.address(), &["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("give --state-dir DIR"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn print_preview_refuses_code_pages_receipts_are_not_printed_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("page.png");
    let out = run(Command::new(posctl_binary())
        .args(["print-preview", "--code-page", "pc437"])
        .arg(&png));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "posctl: org.posd.Error.InvalidArgument: --code-page \"pc437\": expected pc858 or pc852\n"
    );
    assert!(!png.exists(), "nothing written");
}

#[test]
fn print_preview_sums_up_missing_characters_in_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("page.png");
    let out = run(Command::new(posctl_binary()).arg("print-preview").arg(&png));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("posctl: ")
            && stderr.contains(" characters of the test page are not in code page pc858")
            && stderr.contains("ř→r"),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout), format!("wrote {}\n", png.display()));
}

/// Runs posctl with stdout a pipe whose reading end is already closed, as after `| head`
/// has read what it wanted.
fn with_closed_stdout(command: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let child = command
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("posctl starts");
    let mut child = child;
    let status = wait_with_timeout(&mut child, PATIENCE).expect("posctl ends");
    let mut stderr = Vec::new();
    std::io::Read::read_to_end(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("read stderr");
    Output {
        status,
        stdout: Vec::new(),
        stderr,
    }
}

#[test]
fn a_closed_output_pipe_ends_posctl_quietly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("page.png");
    let out = with_closed_stdout(
        Command::new(posctl_binary())
            .args(["print-preview", "--code-page", "pc852"])
            .arg(&png),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    assert!(png.exists(), "the work was done all the same");

    let bus = TestBus::start();
    let mut pty = Pty::open();
    let link = bus.dir.path().join("ttyScanner");
    repoint_symlink(&link, &pty.slave_path);
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&format!(
            "[[devices]]\nname = \"scanner\"\nkind = \"scanner\"\nconnection = \"serial:{}?baud=9600\"\n",
            link.display()
        ))
        .start();
    for args in [&["status"][..], &["--json", "devices"][..]] {
        let out = with_closed_stdout(
            Command::new(posctl_binary())
                .arg("--bus-address")
                .arg(bus.address())
                .args(args),
        );
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{args:?}: quiet");
    }
    // An endless monitor ends at its first line once nobody reads.
    let deadline = std::time::Instant::now() + PATIENCE;
    while !text(&posctl(bus.address(), &["device", "scanner"]).stdout).contains("online") {
        assert!(std::time::Instant::now() < deadline, "scanner never online");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut monitor = Command::new(posctl_binary())
        .args(["--bus-address", bus.address(), "scan-monitor"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("posctl");
    let mut stderr = std::io::BufReader::new(monitor.stderr.take().expect("stderr"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).expect("read");
    assert!(line.contains("waiting for scans"), "{line}");
    pty.send(b"4006381333931\r");
    let status = wait_with_timeout(&mut monitor, PATIENCE).expect("ends after the scan");
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("read");
    assert!(!rest.contains("panicked"), "{rest}");

    // A failure keeps its exit status when nobody reads the answer.
    let empty = TestBus::start();
    let out = with_closed_stdout(Command::new(posctl_binary()).args([
        "--bus-address",
        empty.address(),
        "--json",
        "status",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("panicked"));
}

#[test]
fn with_no_daemon_answering_ledger_verify_reads_the_default_state_directory_and_says_so() {
    let home = tempfile::tempdir().expect("temp dir");
    let state = home.path().join(".local/state/posd");
    drop(posd::store::open(&state, std::time::Duration::from_secs(1)).expect("a database"));
    let database = state.join(posd::store::DATABASE_FILE);
    let out = run(Command::new(posctl_binary())
        .args(["--session", "ledger", "verify"])
        .env("HOME", home.path())
        .env_remove("XDG_STATE_HOME")
        .env_remove("STATE_DIRECTORY")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("DBUS_SESSION_BUS_ADDRESS"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!("ledger ok in {}: ", database.display())),
        "{}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("posctl: no posd answers on the session bus (")
            && stderr.contains(&format!(
                "reading {} of the default state directory",
                database.display()
            )),
        "{stderr}"
    );
}

/// Writes outbox messages for the courier test plugin with `keys`, as earlier sales would
/// have, into the database of `state_dir`; their ids in order.
fn courier_messages(state_dir: &Path, keys: &[&str]) -> Vec<i64> {
    let conn = posd::store::open(state_dir, std::time::Duration::from_secs(1)).expect("database");
    for key in keys {
        posd::outbox::enqueue(
            &conn,
            &posd::outbox::NewMessage {
                plugin: "courier".into(),
                destination: "partner".into(),
                key: (*key).into(),
                payload: serde_json::json!({ "points": 10, "card": "P-77" }),
                reference: "0001-01-000009".into(),
            },
        )
        .expect("enqueue");
    }
    keys.iter()
        .map(|key| {
            conn.query_row("SELECT id FROM outbox WHERE key = ?1", [key], |r| r.get(0))
                .expect("id")
        })
        .collect()
}

/// `posctl outbox show ID --json`, as a technician's script reads it.
fn shown(bus: &str, id: i64) -> Value {
    json(bus, &["outbox", "show", &id.to_string()])
}

/// A failed posctl call: its exit code and the D-Bus error name `--json` prints.
fn refused(bus: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = posctl(bus, &[&["--json"], args].concat());
    let answer = parse(&out, args);
    (
        out.status.code(),
        answer["error"].as_str().unwrap_or("").to_string(),
        answer["message"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_technician_shows_retries_and_discards_dead_letters_with_posctl() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let address = bus.address().to_string();
    // The "partner" is a directory inside the plugin's own state directory (an isolated
    // plugin may write nowhere else); it is missing, so the partner is down.
    let setup = DaemonSetup::new(bus.address(), &root);
    let inbox = setup.state_dir.join("plugin-state/courier/partner-inbox");
    let extra = format!(
        "[plugin.courier]\ninbox = \"{}\"\n[outbox]\nretry_first_ms = 50\nretry_cap_ms = 100\n\
         dead_letter_after_s = 1\n",
        inbox.display()
    );
    let (plugin_dir, config) = plugin_config(&root, 2000, &extra);
    let built = build_c_plugin(
        &test_plugin_source("courier"),
        &root.join("build-courier.so"),
    );
    place_plugin(&built, &plugin_dir, "courier.so");
    let ids = courier_messages(&setup.state_dir, &["k1", "k2"]);
    let (retried, discarded) = (ids[0], ids[1]);
    let daemon = setup.config(&config).start();

    eventually("both messages are dead letters", || async {
        json(&address, &["outbox", "--state", "dead"])
            .as_array()
            .is_some_and(|dead| dead.len() == 2)
    })
    .await;
    let out = posctl(&address, &["outbox", "show", &retried.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    for field in [
        format!("id            {retried}"),
        "plugin        courier".to_string(),
        "destination   partner".to_string(),
        "key           k1".to_string(),
        "reference     0001-01-000009".to_string(),
        "state         dead".to_string(),
        "delivered_at  -".to_string(),
        "payload\n  {\n".to_string(),
        "    \"points\": 10".to_string(),
    ] {
        assert!(page.contains(&field), "{field:?} in:\n{page}");
    }
    assert!(page.contains("partner down"), "the last error: {page}");
    let dead = shown(&address, retried);
    assert_eq!(dead["state"], "dead");
    assert!(dead["attempts"].as_i64().is_some_and(|n| n >= 1), "{dead}");
    assert!(dead["created_at"].is_string() && dead["next_attempt"].is_string());
    assert!(dead["delivered_at"].is_null(), "{dead}");
    assert_eq!(dead["payload"]["card"], "P-77");

    // The partner is back, but a dead letter waits for a technician.
    std::fs::create_dir_all(&inbox).expect("partner back");
    let log = inbox.join("delivered.log");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(!log.exists(), "nothing goes out by itself");

    let answer = json(&address, &["outbox", "discard", &discarded.to_string()]);
    assert_eq!(answer["discarded"], discarded);
    let answer = json(&address, &["outbox", "retry", &retried.to_string()]);
    assert_eq!(answer["retried"], retried);
    eventually("the retried message is delivered", || async {
        shown(&address, retried)["state"] == "delivered"
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        std::fs::read_to_string(&log).expect("delivered.log"),
        "k1\n",
        "the retried message arrived once, the discarded one never"
    );
    let delivered = shown(&address, retried);
    assert!(delivered["delivered_at"].is_string(), "{delivered}");
    assert_eq!(shown(&address, discarded)["state"], "discarded");
    let listed = json(&address, &["outbox", "--state", "discarded"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["key"], "k2");
    let out = posctl(&address, &["outbox"]);
    assert!(
        text(&out.stdout).contains("discarded"),
        "the list shows the state: {}",
        text(&out.stdout)
    );
    assert!(
        daemon.log().lines().any(|line| line.contains("WARN")
            && line.contains("discarded by a technician")
            && line.contains("k2")
            && line.contains("courier")),
        "the discard is logged as a warning naming the message:\n{}",
        daemon.log()
    );

    // What can't be done is refused by name, and posctl exits 1 as for any refusal.
    let (code, error, message) = refused(&address, &["outbox", "retry", &retried.to_string()]);
    assert_eq!((code, error.as_str()), (Some(1), "org.posd.Error.Conflict"));
    assert!(message.contains("delivered"), "{message}");
    let (code, error, message) = refused(&address, &["outbox", "retry", &discarded.to_string()]);
    assert_eq!((code, error.as_str()), (Some(1), "org.posd.Error.Conflict"));
    assert!(message.contains("discarded"), "{message}");
    let (_, error, _) = refused(&address, &["outbox", "discard", &retried.to_string()]);
    assert_eq!(error, "org.posd.Error.Conflict");
    for args in [
        ["outbox", "retry", "999"],
        ["outbox", "discard", "999"],
        ["outbox", "show", "999"],
    ] {
        let (code, error, _) = refused(&address, &args);
        assert_eq!(
            (code, error.as_str()),
            (Some(1), "org.posd.Error.NotFound"),
            "{args:?}"
        );
    }
    let (code, error, _) = refused(&address, &["outbox", "retry", "k1"]);
    assert_eq!(
        (code, error.as_str()),
        (Some(1), "org.posd.Error.InvalidArgument")
    );
    // The daemon answers the same over D-Bus to any client.
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("proxy");
    let err = manager
        .retry_outbox_message("999")
        .await
        .expect_err("unknown id");
    assert_eq!(name(&err), "org.posd.Error.NotFound");
    let err = manager
        .discard_outbox_message("not-a-number")
        .await
        .expect_err("malformed id");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    drop(daemon);
}

#[test]
fn a_caller_who_is_not_admin_cannot_retry_or_discard_outbox_messages() {
    if !is_root() {
        eprintln!("skipped: calling as another user needs root");
        return;
    }
    let bus = TestBus::start_for_everyone();
    let root = bus.dir.path().to_path_buf();
    let setup = DaemonSetup::new(bus.address(), &root);
    let ids = courier_messages(&setup.state_dir, &["k1"]);
    {
        let conn = rusqlite::Connection::open(setup.state_dir.join(posd::store::DATABASE_FILE))
            .expect("open");
        conn.execute(
            "UPDATE outbox SET state = 'dead', last_error = 'rejected'",
            [],
        )
        .expect("a dead letter");
    }
    let _daemon = setup.start();
    use std::os::unix::process::CommandExt;
    let id = ids[0].to_string();
    for action in ["retry", "discard"] {
        let out = run(Command::new(posctl_binary())
            .arg("--bus-address")
            .arg(bus.address())
            .args(["outbox", action, &id])
            .uid(65534)
            .gid(65534));
        assert_eq!(out.status.code(), Some(1), "{action}");
        assert!(
            text(&out.stderr).contains("org.posd.Error.NotAllowed"),
            "{action}: {}",
            text(&out.stderr)
        );
    }
    let message = json(bus.address(), &["outbox", "show", &id]);
    assert_eq!(message["state"], "dead", "nothing changed: {message}");
    assert_eq!(message["last_error"], "rejected");
}

/// posctl and the till are frontends: they build against the client crate and link nothing
/// of the daemon, so they can only do what the contract lets any frontend do.
#[test]
fn posctl_and_the_till_do_not_link_the_daemon() {
    for package in ["posctl", "posd-till"] {
        let out = run_for(
            cargo().args([
                "tree",
                "-p",
                package,
                "-e",
                "normal",
                "--prefix",
                "none",
                "--offline",
                "--locked",
            ]),
            BUILD_PATIENCE,
        );
        assert!(out.status.success(), "cargo tree: {}", text(&out.stderr));
        let tree = text(&out.stdout);
        let packages: Vec<&str> = tree
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert!(
            packages.contains(&package) && packages.contains(&"posd-client"),
            "the tree of {package} and its client crate:\n{tree}"
        );
        assert!(
            !packages.contains(&"posd"),
            "{package} links the daemon crate:\n{tree}"
        );
    }
}

/// Reading a database takes the daemon's executable (`posd inspect`); one that cannot be run
/// is a failure that says what was tried and how to name the right one.
#[test]
fn without_a_posd_to_run_reading_the_database_fails_naming_what_was_tried() {
    let state = tempfile::tempdir().expect("temp dir");
    drop(posd::store::open(state.path(), std::time::Duration::from_secs(1)).expect("a database"));
    let missing = state.path().join("no-such-posd");
    let out = run(Command::new(posctl_binary())
        .args(["ledger", "verify", "--state-dir"])
        .arg(state.path())
        .env("POSD_BINARY", &missing));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("posctl: cannot reach posd: ")
            && stderr.contains(&format!("$POSD_BINARY ({})", missing.display()))
            && stderr.contains("POSD_BINARY"),
        "{stderr}"
    );
    // The daemon's executable named there reads it.
    let out = run(Command::new(posctl_binary())
        .args(["--json", "ledger", "verify", "--state-dir"])
        .arg(state.path())
        .env("POSD_BINARY", POSD));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(parse(&out, &["ledger", "verify"])["ok"], true);
}
