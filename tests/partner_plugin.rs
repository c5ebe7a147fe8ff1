//! The bonus partner plugin (`plugins/partner`) loaded by the real daemon, in its sandboxed
//! process with network to its endpoint only, against the partner simulator
//! (`plugins/partner/simulator`), a real HTTP server: points collected and sent once, paid
//! and captured or released, a partner down or slow, a daemon killed while it delivers,
//! voids and returns corrected.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use posd_client::{Manager1Proxy, Sale1Proxy};
use serde_json::{Value, json};
use support::*;
use zbus::Variant;

/// The API key the till and the simulator share.
const KEY: &str = "sim-key-0123456789abcdef";

/// The simulator, a real HTTP server in a process of its own.
struct Simulator {
    child: Child,
    port: u16,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Simulator {
    fn start(root: &std::path::Path) -> Simulator {
        let key = root.join("partner.key");
        std::fs::write(&key, KEY).expect("key");
        let mut child = Command::new(build_binary("posd-partner-sim"))
            .args(["--listen", "127.0.0.1:0", "--api-key-file"])
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("simulator starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its first line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Simulator { child, port }
    }

    /// One HTTP request to the simulator: its status and JSON answer.
    fn http(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("request");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("answer");
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let json = answer
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }

    fn control(&self, command: Value) {
        let (status, answer) = self.http("POST", "/control", Some(&command));
        assert_eq!(status, 200, "control {command}: {answer}");
    }

    fn stats(&self) -> Value {
        self.http("GET", "/stats", None).1
    }

    fn transactions(&self, kind: &str) -> Vec<Value> {
        self.stats()["transactions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["body"]["type"] == kind)
            .collect()
    }

    fn balance(&self, card: &str) -> i64 {
        self.stats()["balances"][card].as_i64().unwrap_or(-1)
    }
}

/// A valid partner card number (prefix 308342, 16 digits, Luhn).
fn card(n: u32) -> String {
    let body = format!("308342{n:09}");
    format!("{body}{}", posd_partner::number::luhn_digit(&body))
}

/// A valid coupon (prefix 99, 13 digits, GS1).
fn coupon(n: u32) -> String {
    let body = format!("99{n:010}");
    format!("{body}{}", posd_partner::number::gs1_digit(&body))
}

struct Till {
    bus: TestBus,
    daemon: Daemon,
    sim: Simulator,
    config: String,
}

impl Till {
    async fn start(extra: &str) -> Till {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let sim = Simulator::start(&root);
        let key = root.join("partner.key");
        let library = build_rust_plugin("posd-partner");
        let section = format!(
            "[outbox]\nretry_first_ms = 50\nretry_cap_ms = 200\n{extra}\n\
             [plugins.run.partner]\nnetwork = [\"127.0.0.1:{port}\"]\nread = [\"{key}\"]\n\n\
             [plugin.partner]\nendpoint = \"http://127.0.0.1:{port}\"\napi_key_file = \"{key}\"\n\
             eligible_tag = \"payback\"\nauthorize_timeout_ms = 500\ndeliver_timeout_ms = 1000\n\
             card = {{ prefixes = [\"308342\"], length = 16, check = \"luhn\" }}\n\
             coupon = {{ prefixes = [\"99\"], length = 13, check = \"gs1\" }}\n",
            port = sim.port,
            key = key.display()
        );
        let (dir, config) = plugin_config(&root, 2000, "");
        let config = format!("{config}\n{section}");
        place_plugin(&library, &dir, "libposd_partner.so");
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .start();
        Till {
            bus,
            daemon,
            sim,
            config,
        }
    }

    /// The daemon again on the same state, after it was killed.
    fn restart(&mut self) {
        let root: PathBuf = self.bus.dir.path().to_path_buf();
        self.daemon = DaemonSetup::new(self.bus.address(), &root)
            .config(&self.config)
            .start();
    }

    async fn conn(&self) -> zbus::Connection {
        self.bus.client().await
    }

    async fn manager<'a>(&self, conn: &'a zbus::Connection) -> Manager1Proxy<'a> {
        Manager1Proxy::builder(conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("manager")
    }

    /// A sale with a 10.00 article that earns (tag `payback`) and a 5.00 one that does not.
    async fn sale<'a>(&self, conn: &'a zbus::Connection) -> Sale1Proxy<'a> {
        let path = self
            .manager(conn)
            .await
            .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        let sale = sale_proxy(conn, path).await;
        for (name, price, tags) in [
            ("Zahnpasta", "10.00", vec!["payback"]),
            ("Zeitung", "5.00", vec![]),
        ] {
            sale.add_item(HashMap::from([
                ("name", Variant::from(name)),
                ("qty", Variant::from("1")),
                ("unit_price", Variant::from(price)),
                ("tax_rate", Variant::from("20")),
                ("tags", Variant::from(tags)),
            ]))
            .await
            .expect("AddItem");
        }
        sale
    }

    fn outbox_states(&self) -> Vec<String> {
        let c = rusqlite::Connection::open(self.daemon.database()).expect("open");
        let mut stmt = c
            .prepare("SELECT state FROM outbox ORDER BY id")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }
}

async fn enter(sale: &Sale1Proxy<'_>, code: &str) -> HashMap<String, zbus::OwnedVariant> {
    sale.enter_code(code).await.expect("EnterCode")
}

async fn labels(sale: &Sale1Proxy<'_>) -> Vec<String> {
    sale.previews()
        .await
        .expect("Previews")
        .iter()
        .map(|p| s(&p["label"]))
        .collect()
}

async fn check_out(sale: &Sale1Proxy<'_>, key: &str) -> String {
    pay_rest(sale, "cash").await;
    sale.checkout(key).await.expect("Checkout")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_card_and_coupons_are_collected_and_the_eligible_turnover_is_sent_once() {
    let till = Till::start("").await;
    let conn = till.conn().await;
    let manager = till.manager(&conn).await;
    let (c, k) = (card(1), coupon(7));
    assert_eq!(
        s(&manager.lookup_code(&c).await.expect("LookupCode")["kind"]),
        "partner_card"
    );
    assert_eq!(
        s(&manager.lookup_code(&k).await.expect("LookupCode")["kind"]),
        "coupon"
    );

    let sale = till.sale(&conn).await;
    assert_eq!(labels(&sale).await, ["PAYBACK Karte? 10 Punkte möglich"]);
    let taken = enter(&sale, &c).await;
    assert_eq!(s(&taken["kind"]), "partner_card");
    assert!(
        s(&taken["message"]).contains("10 points for this sale"),
        "the cashier's confirmation: {taken:?}"
    );
    assert_eq!(s(&enter(&sale, &k).await["kind"]), "coupon");
    // Mistyped numbers and a coupon twice are named errors; nothing changes.
    let mut wrong = c.clone().into_bytes();
    wrong[15] = b'0' + ((wrong[15] - b'0' + 1) % 10);
    let wrong = String::from_utf8(wrong).expect("digits");
    let err = sale.enter_code(&wrong).await.expect_err("bad check digit");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    assert!(err.to_string().contains("check digit"), "{err}");
    let err = sale.enter_code(&k).await.expect_err("twice");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    let bad_coupon = format!("{}{}", &k[..12], (k.as_bytes()[12] - b'0' + 1) % 10);
    let err = sale.enter_code(&bad_coupon).await.expect_err("bad coupon");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    assert_eq!(
        labels(&sale).await,
        [format!("PAYBACK ••••{}: 10 Punkte, 1 Coupon(s)", &c[12..])]
    );

    let receipt = check_out(&sale, "collect-1").await;
    eventually("the partner has it", || async {
        till.sim.transactions("collect").len() == 1
    })
    .await;
    let sent = &till.sim.transactions("collect")[0];
    assert_eq!(sent["key"], format!("collect-{receipt}"));
    assert_eq!(sent["count"], 1);
    let body = &sent["body"];
    assert_eq!(body["card"], c);
    assert_eq!(body["coupons"], json!([k]));
    assert_eq!(body["turnover"], "10.00", "only the tagged article earns");
    assert_eq!(body["points"], 10);
    eventually("delivered", || async {
        till.outbox_states() == ["delivered"]
    })
    .await;
    verify_books(&till.daemon.database()).expect("books");
    assert!(
        !till.daemon.log().contains(KEY),
        "the API key never reaches the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn points_pay_authorised_online_captured_at_checkout_released_when_removed_or_cancelled() {
    let till = Till::start("").await;
    let c = card(2);
    till.sim.control(json!({ "balances": { c.clone(): 1000 } }));
    let conn = till.conn().await;

    // Without the card there is nothing to pay with.
    let sale = till.sale(&conn).await;
    let err = sale
        .add_tender("partner_points", "5.00", HashMap::new())
        .await
        .expect_err("no card");
    assert_eq!(name(&err), "org.posd.Error.CustomerRequired");
    enter(&sale, &c).await;
    let tender = sale
        .add_tender("partner_points", "5.00", HashMap::new())
        .await
        .expect("AddTender");
    assert_eq!(till.sim.balance(&c), 500, "500 points held");
    sale.remove_tender(&tender).await.expect("RemoveTender");
    eventually("released when removed", || async {
        till.sim.balance(&c) == 1000
    })
    .await;
    // Too many points: a named error.
    let err = sale
        .add_tender("partner_points", "12.00", HashMap::new())
        .await
        .expect_err("only 1000 points");
    assert_eq!(name(&err), "org.posd.Error.InsufficientBalance");
    sale.add_tender("partner_points", "4.00", HashMap::new())
        .await
        .expect("AddTender");
    let receipt = check_out(&sale, "points-1").await;
    eventually("captured", || async {
        till.sim.transactions("capture").len() == 1
    })
    .await;
    let captured = &till.sim.transactions("capture")[0]["body"];
    assert_eq!(captured["points"], 400);
    assert_eq!(captured["receipt"], receipt);
    let stats = till.sim.stats();
    assert!(
        stats["authorizations"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x["state"] == "captured" && x["points"] == 400)),
        "{stats}"
    );
    // A cancelled sale gives its held points back.
    let other = till.sale(&conn).await;
    enter(&other, &c).await;
    other
        .add_tender("partner_points", "2.00", HashMap::new())
        .await
        .expect("AddTender");
    let held = till.sim.balance(&c);
    other.cancel().await.expect("Cancel");
    eventually("released when cancelled", || async {
        till.sim.balance(&c) == held + 200
    })
    .await;
    verify_books(&till.daemon.database()).expect("books");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_down_for_twenty_checkouts_gets_all_twenty_exactly_once_when_back() {
    let till = Till::start("").await;
    till.sim.control(json!({ "mode": "down" }));
    let conn = till.conn().await;
    let mut receipts = Vec::new();
    for n in 0..20 {
        let sale = till.sale(&conn).await;
        enter(&sale, &card(100 + n)).await;
        receipts.push(check_out(&sale, &format!("down-{n}")).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(till.sim.stats()["received"], 0, "the partner was down");
    assert!(till.outbox_states().iter().all(|s| s == "pending"));
    till.sim.control(json!({ "mode": "ok" }));
    eventually("all twenty delivered", || async {
        till.outbox_states().iter().all(|s| s == "delivered")
    })
    .await;
    let stats = till.sim.stats();
    assert_eq!(stats["unique"], 20, "{stats}");
    assert_eq!(stats["received"], 20, "each once: {stats}");
    let keys: Vec<String> = till
        .sim
        .transactions("collect")
        .iter()
        .map(|t| t["key"].as_str().unwrap_or_default().to_string())
        .collect();
    for receipt in receipts {
        assert!(
            keys.contains(&format!("collect-{receipt}")),
            "{receipt}: {keys:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_killed_during_delivery_loses_nothing_and_the_partner_counts_once() {
    let mut till = Till::start("").await;
    // The partner records the message, then answers late: the daemon dies before it hears.
    till.sim
        .control(json!({ "mode": "late", "delay_ms": 3000 }));
    let conn = till.conn().await;
    let sale = till.sale(&conn).await;
    enter(&sale, &card(3)).await;
    let receipt = check_out(&sale, "kill-1").await;
    eventually("the partner received it", || async {
        till.sim.stats()["received"] == 1
    })
    .await;
    till.daemon.signal(libc::SIGKILL);
    till.daemon.wait();
    assert_eq!(
        till.outbox_states(),
        ["pending"],
        "not recorded as delivered"
    );
    till.sim.control(json!({ "mode": "ok" }));
    till.restart();
    eventually("delivered after the restart", || async {
        till.outbox_states() == ["delivered"]
    })
    .await;
    let stats = till.sim.stats();
    assert_eq!(stats["received"], 2, "sent again: {stats}");
    assert_eq!(stats["unique"], 1, "counted once: {stats}");
    assert_eq!(
        till.sim.transactions("collect")[0]["key"],
        format!("collect-{receipt}")
    );
    assert_eq!(till.sim.balance(&card(3)), 10, "its points once");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_authorisation_that_times_out_is_a_clear_error_and_takes_no_points() {
    let till = Till::start("").await;
    let c = card(4);
    till.sim.control(json!({ "balances": { c.clone(): 1000 } }));
    // The partner holds the points at once but answers after the till gave up.
    till.sim
        .control(json!({ "mode": "late", "delay_ms": 1500 }));
    let conn = till.conn().await;
    let sale = till.sale(&conn).await;
    enter(&sale, &c).await;
    let started = std::time::Instant::now();
    let err = sale
        .add_tender("partner_points", "5.00", HashMap::new())
        .await
        .expect_err("timed out");
    assert_eq!(name(&err), "org.posd.Error.DeviceUnavailable", "{err}");
    assert!(
        err.to_string().contains("PAYBACK is not reachable")
            && err.to_string().contains("another payment"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "within the call deadline"
    );
    assert!(sale.tenders().await.expect("Tenders").is_empty());
    // Paid by card instead.
    till.sim.control(json!({ "mode": "ok" }));
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    sale.add_tender("card", &due, HashMap::new())
        .await
        .expect("card");
    sale.checkout("timeout-1").await.expect("Checkout");
    eventually("the hold the late answer made is released", || async {
        till.sim.balance(&c) == 1000 + 10
    })
    .await;
    assert!(
        till.sim.transactions("capture").is_empty(),
        "nothing captured"
    );
    let stats = till.sim.stats();
    assert!(
        stats["authorizations"]
            .as_array()
            .is_some_and(|a| a.iter().all(|x| x["state"] == "released")),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_void_and_a_partial_return_send_corrections_and_refunds() {
    let till = Till::start("").await;
    let c = card(5);
    till.sim.control(json!({ "balances": { c.clone(): 1000 } }));
    let conn = till.conn().await;
    let manager = till.manager(&conn).await;

    // Voided: the 10 points collected come back off, the 300 paid go back on.
    let sale = till.sale(&conn).await;
    enter(&sale, &c).await;
    sale.add_tender("partner_points", "3.00", HashMap::new())
        .await
        .expect("AddTender");
    let first = check_out(&sale, "void-1").await;
    let void = manager.void(&first, "void-1v").await.expect("Void");
    eventually("correction and refund delivered", || async {
        till.outbox_states().iter().all(|s| s == "delivered") && till.outbox_states().len() == 4
    })
    .await;
    let correction = &till.sim.transactions("correction")[0]["body"];
    assert_eq!(correction["original"], first);
    assert_eq!(correction["receipt"], void);
    assert_eq!(correction["turnover"], "-10.00");
    assert_eq!(correction["points"], -10);
    let refund = &till.sim.transactions("refund")[0]["body"];
    assert_eq!(refund["points"], 300);
    assert_eq!(till.sim.balance(&c), 1000, "as before the sale");

    // Returned in part: only the article that earned corrects anything.
    let sale = till.sale(&conn).await;
    enter(&sale, &c).await;
    let second = check_out(&sale, "return-1").await;
    let lines = manager.get_receipt(&second).await.expect("GetReceipt");
    let lines: Vec<HashMap<String, zbus::OwnedVariant>> =
        lines["lines"].clone().try_into().expect("lines");
    let line_of = |name: &str| {
        lines
            .iter()
            .find(|l| s(&l["name"]) == name)
            .map(|l| s(&l["id"]))
            .expect("line")
    };
    for (name, key) in [("Zeitung", "ret-a"), ("Zahnpasta", "ret-b")] {
        manager
            .r#return(
                &second,
                vec![HashMap::from([
                    ("line", Variant::from(line_of(name))),
                    ("qty", Variant::from("1")),
                ])],
                key,
            )
            .await
            .expect("Return");
    }
    eventually("the return's correction delivered", || async {
        till.sim.transactions("correction").len() == 2
            && till.outbox_states().iter().all(|s| s == "delivered")
    })
    .await;
    let corrections = till.sim.transactions("correction");
    assert_eq!(
        corrections.len(),
        2,
        "the newspaper earned nothing to correct"
    );
    assert_eq!(corrections[1]["body"]["turnover"], "-10.00");
    assert_eq!(corrections[1]["body"]["original"], second);
    assert_eq!(till.sim.balance(&c), 1000);
    verify_books(&till.daemon.database()).expect("books");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_retried_by_a_technician_is_delivered_once() {
    let till = Till::start("dead_letter_after_s = 1\n").await;
    till.sim.control(json!({ "mode": "down" }));
    let conn = till.conn().await;
    let sale = till.sale(&conn).await;
    enter(&sale, &card(6)).await;
    let receipt = check_out(&sale, "dead-1").await;
    eventually("a dead letter", || async {
        till.outbox_states() == ["dead"]
    })
    .await;
    let shown = posctl(till.bus.address(), &["--json", "outbox", "show", "1"]);
    let shown: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(shown["state"], "dead");
    assert_eq!(shown["key"], format!("collect-{receipt}"));
    // The partner is back, but a dead letter waits for the technician.
    till.sim.control(json!({ "mode": "ok" }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(till.sim.stats()["received"], 0);
    let out = posctl(till.bus.address(), &["outbox", "retry", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    eventually("delivered after the retry", || async {
        till.outbox_states() == ["delivered"]
    })
    .await;
    let stats = till.sim.stats();
    assert_eq!(
        (stats["unique"].clone(), stats["received"].clone()),
        (json!(1), json!(1)),
        "{stats}"
    );
    assert_eq!(till.sim.balance(&card(6)), 10);
}
