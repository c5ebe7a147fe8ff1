//! Receipts on paper as a cashier and a technician see them: the cash drawer after a cash
//! sale, the copy mark of a reprint, VAT letters, the customer and the receipt id as a
//! barcode; and the development mode's virtual printer filing them by receipt and job.
//! Real daemon, real private bus, real TCP printers.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use posd_client::{Manager1Proxy, Printer1Proxy, Register1Proxy, Sale1Proxy, device_path};
use posd_virtual_printer::{BarcodeKind, Line, Output};
use support::*;
use zbus::Variant;

/// ESC p 0 t1 t2: pin 2, 100 ms on, 200 ms off (in 2 ms units), as configured below.
const KICK: [u8; 5] = [0x1B, 0x70, 0x00, 50, 100];

fn printer_config(connection: &str, open_drawer: &str) -> String {
    format!(
        r#"
[receipt]
open_drawer = "{open_drawer}"

[[devices]]
name = "receipt"
kind = "printer"
connection = "{connection}"
columns = 42
code_page = "pc858"
status_poll_ms = 200
drawer_pin = 2
drawer_pulse_ms = 100
"#
    )
}

/// A paid sale, checked out: `items` are (name, qty, price, rate), paid with `method`
/// (`amount` of it), on a sale for `customer` ("" for none).
async fn sell(
    conn: &zbus::Connection,
    manager: &Manager1Proxy<'_>,
    customer: &str,
    items: &[(&str, &str, &str, &str)],
    method: &str,
    amount: &str,
    key: &str,
) -> String {
    let mut options = HashMap::from([("cashier", Variant::from("anna"))]);
    if !customer.is_empty() {
        options.insert("customer", Variant::from(customer));
    }
    let path = manager.open_sale(options).await.expect("OpenSale");
    let sale: Sale1Proxy<'_> = sale_proxy(conn, path).await;
    for (name, qty, price, rate) in items {
        sale.add_item(HashMap::from([
            ("sku", Variant::from("4006381333931")),
            ("name", Variant::from(*name)),
            ("qty", Variant::from(*qty)),
            ("unit_price", Variant::from(*price)),
            ("tax_rate", Variant::from(*rate)),
        ]))
        .await
        .expect("AddItem");
    }
    sale.add_tender(method, amount, HashMap::new())
        .await
        .expect("AddTender");
    sale.checkout(key).await.expect("Checkout")
}

/// The print jobs of the daemon's queue in order: (kind, reference, bytes, state).
fn print_jobs(database: &Path) -> Vec<(String, String, Vec<u8>, String)> {
    let c =
        rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the database");
    let mut stmt = c
        .prepare("SELECT kind, reference, bytes, state FROM print_jobs ORDER BY id")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Waits until every queued job of the daemon's database printed, then returns them.
async fn all_printed(database: &Path) -> Vec<(String, String, Vec<u8>, String)> {
    eventually("every job printed", || async {
        print_jobs(database)
            .iter()
            .all(|(_, _, _, state)| state == "printed")
    })
    .await;
    print_jobs(database)
}

/// What the printer must have received for `jobs`: their bytes, one after the other.
fn concatenated(jobs: &[(String, String, Vec<u8>, String)]) -> Vec<u8> {
    jobs.iter()
        .flat_map(|(_, _, bytes, _)| bytes.clone())
        .collect()
}

fn kinds(jobs: &[(String, String, Vec<u8>, String)]) -> Vec<(&str, &str)> {
    jobs.iter()
        .map(|(kind, reference, _, _)| (kind.as_str(), reference.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cash_taken_or_given_opens_the_drawer_right_after_the_receipt_and_a_card_sale_does_not() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(&printer.connection(), "cash"))
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let database = daemon.database();

    let cash = sell(
        &conn,
        &manager,
        "",
        &[("Wein", "1", "3.87", "20")],
        "cash",
        "5.00",
        "k-cash",
    )
    .await;
    let jobs = all_printed(&database).await;
    assert_eq!(
        kinds(&jobs),
        [("receipt", cash.as_str()), ("drawer", cash.as_str())]
    );
    assert_eq!(
        jobs[1].2, KICK,
        "ESC p m t1 t2 with the configured pin and pulse"
    );
    eventually("receipt and kick arrive", || async {
        printer.received().len() >= concatenated(&jobs).len()
    })
    .await;
    assert_eq!(
        printer.received(),
        concatenated(&jobs),
        "the receipt, then at once the drawer kick"
    );
    let outputs = posd_virtual_printer::decode_all(&printer.received());
    assert!(
        matches!(outputs.as_slice(), [Output::Receipt(_), Output::DrawerKick(k)] if k.pin() == Some(2)),
        "{outputs:#?}"
    );

    let card = sell(
        &conn,
        &manager,
        "",
        &[("Brot", "1", "2.49", "10")],
        "card",
        "2.49",
        "k-card",
    )
    .await;
    // A card refund gives no cash back; a cash refund does.
    let card_void = manager.void(&card, "v-card").await.expect("Void");
    let cash_void = manager.void(&cash, "v-cash").await.expect("Void");
    let jobs = all_printed(&database).await;
    assert_eq!(
        kinds(&jobs),
        [
            ("receipt", cash.as_str()),
            ("drawer", cash.as_str()),
            ("receipt", card.as_str()),
            ("void", card_void.as_str()),
            ("void", cash_void.as_str()),
            ("drawer", cash_void.as_str()),
        ]
    );
    eventually("everything arrives", || async {
        printer.received().len() >= concatenated(&jobs).len()
    })
    .await;
    assert_eq!(printer.received(), concatenated(&jobs));
    assert_eq!(find_all(&printer.received(), &KICK).len(), 2);

    // Cash into the drawer opens it too.
    let register = Register1Proxy::new(&conn).await.expect("register");
    let cash_in = register
        .cash_movement("in", "50.00", "Wechselgeld", HashMap::new(), "c-in")
        .await
        .expect("CashMovement");
    let jobs = all_printed(&database).await;
    assert_eq!(
        kinds(&jobs)[6..],
        [("cash_in", cash_in.as_str()), ("drawer", cash_in.as_str())]
    );

    // "never": no kick, not even for cash; "always": a card sale opens it as well.
    std::fs::write(
        daemon.config_dir.join("posd.toml"),
        printer_config(&printer.connection(), "never"),
    )
    .expect("write");
    manager.reload_config().await.expect("ReloadConfig");
    let never = sell(
        &conn,
        &manager,
        "",
        &[("Salz", "1", "0.99", "10")],
        "cash",
        "1.00",
        "k-n",
    )
    .await;
    std::fs::write(
        daemon.config_dir.join("posd.toml"),
        printer_config(&printer.connection(), "always"),
    )
    .expect("write");
    manager.reload_config().await.expect("ReloadConfig");
    let always = sell(
        &conn,
        &manager,
        "",
        &[("Tee", "1", "1.99", "10")],
        "card",
        "1.99",
        "k-a",
    )
    .await;
    let jobs = all_printed(&database).await;
    assert_eq!(
        kinds(&jobs)[8..],
        [
            ("receipt", never.as_str()),
            ("receipt", always.as_str()),
            ("drawer", always.as_str()),
        ]
    );
    eventually("everything arrives", || async {
        printer.received().len() >= concatenated(&jobs).len()
    })
    .await;
    assert_eq!(printer.received(), concatenated(&jobs));
    assert!(daemon.stop().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reprint_is_a_copy_marked_as_such_with_the_originals_numbers() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(&printer.connection(), "cash"))
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let id = sell(
        &conn,
        &manager,
        "",
        &[("Wein", "2", "7.99", "20")],
        "cash",
        "20.00",
        "k-1",
    )
    .await;
    let before = manager.get_receipt(&id).await.expect("GetReceipt");
    let job = manager.reprint(&id).await.expect("Reprint");
    let jobs = all_printed(&daemon.database()).await;
    assert_eq!(
        kinds(&jobs),
        [
            ("receipt", id.as_str()),
            ("drawer", id.as_str()),
            ("reprint", id.as_str())
        ],
        "a copy opens no drawer"
    );
    assert!(job.ends_with("-3"), "{job}");
    let decode = |bytes: &[u8]| {
        let receipts = posd_virtual_printer::decode(bytes);
        assert_eq!(receipts.len(), 1);
        receipts[0].to_text(42)
    };
    let original = decode(&jobs[0].2);
    let copy = decode(&jobs[2].2);
    assert_ne!(jobs[0].2, jobs[2].2, "a copy is not byte-identical");
    // Double-size text takes two columns a character in the printer's text form.
    let marks: Vec<usize> = copy
        .lines()
        .enumerate()
        .filter(|(_, l)| l.replace(' ', "") == "***KOPIE***")
        .map(|(i, _)| i)
        .collect();
    let last = copy.lines().filter(|l| !l.starts_with('✂')).count() - 1;
    assert_eq!(marks, [0, last], "first and last on the paper:\n{copy}");
    assert!(copy.contains("Nachdruck"), "{copy}");
    for line in original.lines().filter(|l| !l.starts_with('✂')) {
        assert!(
            copy.contains(line),
            "{line:?} of the original missing in\n{copy}"
        );
    }
    assert!(copy.contains(&id) && copy.contains("1 5 , 9 8"), "{copy}");
    // The journal is unchanged.
    let after = manager.get_receipt(&id).await.expect("GetReceipt");
    assert_eq!(s(&after["text"]), s(&before["text"]));
    assert!(!s(&after["text"]).contains("KOPIE"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receipt_carries_vat_letters_the_customer_and_its_id_as_a_barcode() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&printer_config(&printer.connection(), "cash"))
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let id = sell(
        &conn,
        &manager,
        "C-1001",
        &[("Milch", "3", "1.29", "10"), ("Wein", "1", "3.87", "20")],
        "card",
        "7.74",
        "k-1",
    )
    .await;
    let receipt = manager.get_receipt(&id).await.expect("GetReceipt");
    let printed = s(&receipt["text"]);
    let row = |left: &str, right: &str| {
        format!(
            "{left}{}{right}",
            " ".repeat(42 - left.chars().count() - right.chars().count())
        )
    };
    let lines: Vec<&str> = printed.lines().collect();
    for expected in [
        row("Kunde", "C-1001"),
        row("Milch", "3,87 B"),
        row("Wein", "3,87 A"),
        // 3.87 at 20 %: VAT 3.87 × 20 / 120 = 0.645, rounded to 0.65.
        row("A 20 %", " 3,22   0,65   3,87"),
        row("B 10 %", " 3,52   0,35   3,87"),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "{expected:?} in\n{printed}"
        );
    }
    let vat: Vec<HashMap<String, zbus::OwnedVariant>> =
        receipt["vat"].clone().try_into().expect("vat rows");
    let taxes: Vec<(String, String)> = vat.iter().map(|r| (s(&r["rate"]), s(&r["vat"]))).collect();
    assert_eq!(
        taxes,
        [("10".into(), "0.35".into()), ("20".into(), "0.65".into())]
    );

    // posctl shows the same text.
    let out = posctl(bus.address(), &["receipt", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&row("Wein", "3,87 A")));

    // On paper: the id as CODE128, its data exactly the id, to scan for a return.
    let jobs = all_printed(&daemon.database()).await;
    let receipts = posd_virtual_printer::decode(&jobs[0].2);
    let barcodes: Vec<(BarcodeKind, String)> = receipts[0]
        .lines
        .iter()
        .filter_map(|l| match l {
            Line::Barcode(b) => Some((b.kind, b.data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(barcodes, [(BarcodeKind::Code128, id.clone())]);
    assert_eq!(id, "0001-01-000001");
}

/// Starts `posd --session` (development mode) on `bus` as its session bus, with no devices
/// configured, state and configuration under `root`.
fn development_daemon(bus: &TestBus, root: &Path) -> std::process::Child {
    let stderr = std::fs::File::create(root.join("stderr")).expect("stderr");
    std::fs::create_dir_all(root.join("etc")).expect("config dir");
    let mut command = std::process::Command::new(POSD);
    command
        .arg("--session")
        .arg("--state-dir")
        .arg(root.join("state"))
        .arg("--config-dir")
        .arg(root.join("etc"))
        .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("STATE_DIRECTORY")
        .env_remove("CONFIGURATION_DIRECTORY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr);
    for (key, _) in std::env::vars() {
        if key.starts_with("POSD_") {
            command.env_remove(key);
        }
    }
    command.spawn().expect("posd starts")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn development_mode_files_receipts_by_number_and_job_and_logs_the_drawer_at_once() {
    let bus = TestBus::start();
    let root = bus.dir.path().join("dev");
    std::fs::create_dir_all(&root).expect("dir");
    let mut child = development_daemon(&bus, &root);
    let log = || std::fs::read_to_string(root.join("stderr")).unwrap_or_default();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    eventually("development daemon running", || async {
        manager.state().await.is_ok_and(|s| s == "running")
    })
    .await;
    let folder = root.join("state/virtual-printer");

    let id = sell(
        &conn,
        &manager,
        "",
        &[("Summe der Mühen", "1", "3.87", "20")],
        "cash",
        "5.00",
        "k-1",
    )
    .await;
    let events = folder.join("events.log");
    // The log is created before its first line is written: wait for the line itself.
    eventually("receipt filed and drawer logged", || async {
        folder.join(format!("{id}-job1.png")).exists()
            && std::fs::read_to_string(&events).is_ok_and(|t| t.ends_with('\n'))
    })
    .await;
    let receipt = std::fs::read_to_string(folder.join(format!("{id}-job1.txt"))).expect("txt");
    assert!(
        receipt.contains("Summe EUR") || receipt.contains("S u m m e"),
        "{receipt}"
    );
    let logged = std::fs::read_to_string(&events).expect("events.log");
    assert!(
        logged.trim_end().ends_with(&format!(
            "drawer kick pin 2 (m=0, on 100 ms, off 200 ms) after {id}-job1"
        )) && logged.lines().count() == 1,
        "logged while the daemon runs, naming the receipt it followed: {logged}"
    );

    let reprint = manager.reprint(&id).await.expect("Reprint");
    let printer = Printer1Proxy::builder(&conn)
        .path(device_path("receipt"))
        .build()
        .await
        .expect("printer proxy");
    let test_page = printer.print_test_page().await.expect("PrintTestPage");
    let void = manager.void(&id, "v-1").await.expect("Void");
    let wanted = [
        format!("{id}-reprint-job3.txt"),
        "test-page-job4.txt".to_string(),
        format!("{void}-void-job5.txt"),
    ];
    eventually("copy, test page and void filed", || async {
        wanted.iter().all(|name| folder.join(name).exists())
            && std::fs::read_to_string(&events).is_ok_and(|l| l.lines().count() == 2)
    })
    .await;
    assert_eq!(
        (reprint.as_str(), test_page.as_str()),
        ("receipt-3", "receipt-4")
    );
    let copy = std::fs::read_to_string(folder.join(&wanted[0])).expect("copy");
    assert!(copy.replace(' ', "").contains("***KOPIE***"), "{copy}");
    let logged = std::fs::read_to_string(&events).expect("events.log");
    assert!(
        logged
            .lines()
            .nth(1)
            .is_some_and(|l| l.ends_with(&format!("after {void}-void-job5"))),
        "{logged}"
    );

    // The drawer opened by hand is logged at once too, not kept for a blank receipt.
    printer.open_drawer().await.expect("OpenDrawer");
    eventually("OpenDrawer logged", || async {
        std::fs::read_to_string(&events).is_ok_and(|l| l.lines().count() == 3)
    })
    .await;

    let before = files_in(&folder);
    assert_eq!(before.len(), 4 * 2 + 1, "{before:?}");
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_with_timeout(&mut child, PATIENCE).expect("exits");
    assert!(status.success(), "{}", log());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(files_in(&folder), before, "no blank receipt at shutdown");
}
