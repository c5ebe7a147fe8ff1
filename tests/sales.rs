//! Sales as a frontend builds them over the bus, checked out into the journal, with a
//! printer and plugins attached.

mod support;

use std::collections::HashMap;

use futures_util::StreamExt;
use posd_client::{Manager1Proxy, Sale1Proxy, error_reply};
use support::*;
use zbus::Variant;

fn item<'a>(
    name: &'a str,
    qty: &'a str,
    price: &'a str,
    rate: &'a str,
) -> HashMap<&'a str, Variant<'a>> {
    HashMap::from([
        ("sku", Variant::from("4006381333931")),
        ("name", Variant::from(name)),
        ("qty", Variant::from(qty)),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from(rate)),
    ])
}

async fn open_sale<'a>(conn: &'a zbus::Connection, manager: &Manager1Proxy<'_>) -> Sale1Proxy<'a> {
    let path = manager
        .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
        .await
        .expect("OpenSale");
    sale_proxy(conn, path).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sale_is_built_paid_and_checked_out_into_the_journal_and_printed() {
    let bus = TestBus::start();
    let printer = FakePrinter::listen(0);
    let config = format!(
        "[receipt]\nheader = [\"Filiale Wien\"]\nfooter = [\"Danke!\"]\n[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n",
        printer.connection()
    );
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config(&config)
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    assert_eq!(sale.state().await.expect("State"), "open");

    let milk = sale
        .add_item(item("Milch", "2", "1.29", "10"))
        .await
        .expect("AddItem");
    sale.add_item(item("Wein", "1", "7.99", "20"))
        .await
        .expect("AddItem");
    let totals = sale.totals().await.expect("Totals");
    assert_eq!(s(&totals["total"]), "10.57");
    assert_eq!(s(&totals["due"]), "10.57");
    sale.set_quantity(&milk, "3").await.expect("SetQuantity");
    assert_eq!(s(&sale.totals().await.expect("Totals")["total"]), "11.86");

    let err = sale.checkout("k-1").await.expect_err("not paid");
    assert_eq!(name(&err), "org.posd.Error.NotPaid");
    sale.add_tender("cash", "20.00", HashMap::new())
        .await
        .expect("cash");
    let totals = sale.totals().await.expect("Totals");
    assert_eq!(
        (s(&totals["due"]), s(&totals["change"])),
        ("0.00".into(), "8.14".into())
    );

    let mut completed = manager.receive_sale_completed().await.expect("subscribe");
    let receipt_id = sale.checkout("k-1").await.expect("Checkout");
    assert_eq!(receipt_id, "0001-01-000001");
    let signal = tokio::time::timeout(PATIENCE, completed.next())
        .await
        .expect("SaleCompleted")
        .expect("stream");
    assert_eq!(signal.args().expect("args").receipt_id, receipt_id);
    assert_eq!(sale.state().await.expect("State"), "completed");
    assert_eq!(sale.receipt_id().await.expect("ReceiptId"), receipt_id);

    // Retrying with the same key gives the same receipt and changes nothing.
    assert_eq!(sale.checkout("k-1").await.expect("retry"), receipt_id);
    // Another sale with the same key is a conflict.
    let other = open_sale(&conn, &manager).await;
    other
        .add_item(item("Brot", "1", "2.49", "10"))
        .await
        .expect("AddItem");
    other
        .add_tender("card", "2.49", HashMap::new())
        .await
        .expect("card");
    assert_eq!(
        name(&other.checkout("k-1").await.expect_err("conflict")),
        "org.posd.Error.Conflict"
    );
    assert_eq!(
        other.checkout("k-2").await.expect("Checkout"),
        "0001-01-000002",
        "numbered without gaps"
    );
    // A completed sale takes no more changes.
    let err = sale
        .add_item(item("X", "1", "1.00", "20"))
        .await
        .expect_err("closed");
    assert_eq!(name(&err), "org.posd.Error.Conflict");

    let receipt = manager.get_receipt(&receipt_id).await.expect("GetReceipt");
    assert_eq!(s(&receipt["kind"]), "sale");
    let text = s(&receipt["text"]);
    assert!(
        text.contains("Filiale Wien") && text.contains("Danke!"),
        "{text}"
    );
    assert!(text.contains("11,86"), "German amounts: {text}");
    let vat: Vec<HashMap<String, zbus::OwnedVariant>> =
        receipt["vat"].clone().try_into().expect("vat rows");
    let gross: Vec<String> = vat.iter().map(|r| s(&r["gross"])).collect();
    assert_eq!(gross, vec!["3.87", "7.99"]);

    eventually("receipt printed", || async {
        find_all(&printer.received(), b"Filiale Wien").len() == 2
    })
    .await;
    assert_eq!(
        name(&manager.get_receipt("nope").await.expect_err("unknown")),
        "org.posd.Error.NotFound"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_by_name_and_changes_nothing() {
    let bus = TestBus::start();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    let line = sale
        .add_item(item("Brot", "1", "2.49", "10"))
        .await
        .expect("AddItem");
    let before = (
        sale.lines().await.expect("Lines").len(),
        s(&sale.totals().await.expect("Totals")["total"]),
    );
    for bad in [
        item("X", "0", "1.00", "20"),
        item("X", "-2", "1.00", "20"),
        item("X", "99999999", "1.00", "20"),
        item("X", "1", "-5", "20"),
        item("X", "1", "1,50", "20"),
        item("X", "1", "1e9", "20"),
    ] {
        let err = sale.add_item(bad).await.expect_err("refused");
        assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    }
    let mut typo = item("X", "1", "1.00", "20");
    typo.insert("colour", Variant::from("red"));
    let err = sale.add_item(typo).await.expect_err("unknown key");
    assert!(error_reply(&err).expect("named").1.contains("colour"));
    assert_eq!(
        name(&sale.set_quantity("L99", "1").await.expect_err("no line")),
        "org.posd.Error.NotFound"
    );
    assert_eq!(
        name(&sale.set_quantity(&line, "abc").await.expect_err("bad qty")),
        "org.posd.Error.InvalidArgument"
    );
    assert_eq!(
        name(&sale.remove_line("L99").await.expect_err("no line")),
        "org.posd.Error.NotFound"
    );
    assert_eq!(
        name(
            &sale
                .add_tender("card", "10.00", HashMap::new())
                .await
                .expect_err("card above due")
        ),
        "org.posd.Error.InvalidArgument"
    );
    assert_eq!(
        name(
            &sale
                .add_tender("bitcoin", "1.00", HashMap::new())
                .await
                .expect_err("unknown method")
        ),
        "org.posd.Error.InvalidArgument"
    );
    let after = (
        sale.lines().await.expect("Lines").len(),
        s(&sale.totals().await.expect("Totals")["total"]),
    );
    assert_eq!(before, after);
    sale.cancel().await.expect("Cancel");
    assert_eq!(sale.state().await.expect("State"), "cancelled");
    assert_eq!(
        name(&sale.checkout("k").await.expect_err("cancelled")),
        "org.posd.Error.Conflict"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_sale_comes_back_after_a_restart_at_the_same_path() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    sale.add_item(item("Käse", "0.355", "12.90", "10"))
        .await
        .expect("AddItem");
    sale.add_tender("card", "1.00", HashMap::new())
        .await
        .expect("card");
    let path = sale.inner().path().to_owned();
    daemon.signal(libc::SIGKILL);
    daemon.wait();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let again = sale_proxy(&conn, path).await;
    let lines = again.lines().await.expect("the sale is back");
    assert_eq!(lines.len(), 1);
    assert_eq!(s(&lines[0]["amount"]), "4.58");
    assert_eq!(again.tenders().await.expect("Tenders").len(), 1);
    assert_eq!(s(&again.totals().await.expect("Totals")["due"]), "3.58");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voucher_code_pays_as_a_tender_through_its_plugin() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let library = build_rust_plugin("hello-rust");
    let (dir, config) = plugin_config(&root, 2000, "[plugin.hello-rust]\nbalance = \"5.00\"\n");
    place_plugin(&library, &dir, "libhello_rust.so");
    let _daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    sale.add_item(item("Schal", "1", "12.00", "20"))
        .await
        .expect("AddItem");
    let result = sale
        .enter_code("HELLORS-ABCD-1234")
        .await
        .expect("EnterCode");
    assert_eq!(s(&result["plugin"]), "hello-rust");
    assert_eq!(s(&result["kind"]), "voucher");
    let tenders = sale.tenders().await.expect("Tenders");
    assert_eq!(s(&tenders[0]["ref"]), "••••1234", "masked");
    let totals = sale.totals().await.expect("Totals");
    assert_eq!(
        (s(&totals["paid"]), s(&totals["due"])),
        ("5.00".into(), "7.00".into())
    );
    assert_eq!(
        s(&totals["tax"]),
        "2.00",
        "a voucher payment does not reduce VAT"
    );
    assert_eq!(
        name(&sale.enter_code("NOBODY-1").await.expect_err("unclaimed")),
        "org.posd.Error.NotFound"
    );
    sale.add_tender("cash", "7.00", HashMap::new())
        .await
        .expect("cash");
    let receipt_id = sale.checkout("v-1").await.expect("Checkout");
    let receipt = manager.get_receipt(&receipt_id).await.expect("GetReceipt");
    let text = s(&receipt["text"]);
    assert!(
        !text.contains("ABCD-1234"),
        "the code is masked on the receipt: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn void_and_return_write_reversing_receipts_once() {
    let bus = TestBus::start();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let checkout = |lines: Vec<HashMap<&'static str, Variant<'static>>>, key: &'static str| {
        let conn = conn.clone();
        async move {
            let manager = Manager1Proxy::new(&conn).await.expect("manager");
            let sale = open_sale(&conn, &manager).await;
            for line in lines {
                sale.add_item(line).await.expect("AddItem");
            }
            let due = s(&sale.totals().await.expect("Totals")["due"]);
            sale.add_tender("card", &due, HashMap::new())
                .await
                .expect("card");
            sale.checkout(key).await.expect("Checkout")
        }
    };
    let first = checkout(
        vec![
            item("Milch", "3", "1.29", "10"),
            item("Wein", "1", "7.99", "20"),
        ],
        "c-1",
    )
    .await;

    let (returned, messages) = manager
        .r#return(
            &first,
            vec![HashMap::from([
                ("line", Variant::from("L1")),
                ("qty", Variant::from("2")),
            ])],
            "r-1",
        )
        .await
        .expect("Return");
    assert!(messages.is_empty(), "{messages:?}");
    let receipt = manager.get_receipt(&returned).await.expect("GetReceipt");
    assert_eq!(s(&receipt["kind"]), "return");
    assert_eq!(s(&receipt["original"]), first);
    let totals: HashMap<String, zbus::OwnedVariant> =
        receipt["totals"].clone().try_into().expect("totals");
    assert_eq!(s(&totals["total"]), "-2.58");
    // Only one more milk is left to return.
    let err = manager
        .r#return(
            &first,
            vec![HashMap::from([
                ("line", Variant::from("L1")),
                ("qty", Variant::from("2")),
            ])],
            "r-2",
        )
        .await
        .expect_err("too many");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    assert_eq!(
        manager
            .r#return(
                &first,
                vec![HashMap::from([
                    ("line", Variant::from("L1")),
                    ("qty", Variant::from("2"))
                ])],
                "r-1"
            )
            .await
            .expect("same key")
            .0,
        returned,
        "the same key returns the same receipt"
    );

    let second = checkout(vec![item("Brot", "1", "2.49", "10")], "c-2").await;
    let void = manager.void(&second, "v-1").await.expect("Void");
    assert_eq!(manager.void(&second, "v-1").await.expect("same key"), void);
    assert_eq!(
        name(&manager.void(&second, "v-2").await.expect_err("twice")),
        "org.posd.Error.Conflict"
    );
    assert_eq!(
        name(&manager.void(&void, "v-3").await.expect_err("a void")),
        "org.posd.Error.InvalidArgument"
    );
    let receipt = manager.get_receipt(&void).await.expect("GetReceipt");
    assert_eq!(s(&receipt["kind"]), "void");
    let totals: HashMap<String, zbus::OwnedVariant> =
        receipt["totals"].clone().try_into().expect("totals");
    assert_eq!(s(&totals["total"]), "-2.49");
    assert_eq!(
        name(&manager.void("nope", "v-4").await.expect_err("unknown")),
        "org.posd.Error.NotFound"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn posctl_shows_receipts_and_verifies_the_ledger() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    sale.add_item(item("Semmel", "4", "0.45", "10"))
        .await
        .expect("AddItem");
    sale.add_tender("cash", "2.00", HashMap::new())
        .await
        .expect("cash");
    let receipt = sale.checkout("p-1").await.expect("Checkout");

    let out = posctl(bus.address(), &["receipt", &receipt]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("Semmel") && printed.contains("1,80"),
        "{printed}"
    );

    // Some bookings, then the check over the real file.
    let db = daemon.database();
    {
        let c = rusqlite::Connection::open(&db).expect("open");
        let spec = |account: &str, amount: i64| posd::ledger::PostingSpec {
            account: account.into(),
            amount: rust_decimal::Decimal::from(amount),
            unit: "points".into(),
            kind: "points".into(),
            floor: Some(rust_decimal::Decimal::ZERO).filter(|_| account.contains("customer")),
            customer: None,
            expires: None,
        };
        posd::ledger::post(
            &c,
            "sale",
            &receipt,
            "test",
            &[spec("t:customer:1", 5), spec("t:issued", -5)],
        )
        .expect("post");
    }
    let state = daemon.state_dir.to_string_lossy().into_owned();
    let out = run(std::process::Command::new(posctl_binary()).args([
        "ledger",
        "verify",
        "--state-dir",
        &state,
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ledger ok") && text(&out.stdout).contains("1 receipts"),
        "{}",
        text(&out.stdout)
    );
    assert!(daemon.stop().success());
    rusqlite::Connection::open(&db)
        .expect("open")
        .execute(
            "UPDATE ledger_accounts SET balance = '50' WHERE code = 't:customer:1'",
            [],
        )
        .expect("tamper");
    let out = run(std::process::Command::new(posctl_binary()).args([
        "ledger",
        "verify",
        "--state-dir",
        &state,
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("t:customer:1"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn served_sale_interface_matches_the_checked_in_xml() {
    let bus = TestBus::start();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    let introspectable = zbus::fdo::IntrospectableProxy::builder(&conn)
        .destination("org.posd.Posd1")
        .path(sale.inner().path().to_owned())
        .build()
        .await
        .expect("proxy");
    let served = introspectable.introspect().await.expect("Introspect");
    let checked_in = include_str!("../host/interfaces/org.posd.Sale1.xml");
    assert_eq!(
        interface_shape(&served, "org.posd.Sale1"),
        interface_shape(checked_in, "org.posd.Sale1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sale_takes_no_changes_while_its_checkout_runs_and_is_never_sold_twice() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    // slowpoke takes 300 ms in evaluate_basket and prepare_checkout: a window to race in.
    let (dir, config) = plugin_config(&root, 5000, "");
    let built = build_c_plugin(&test_plugin_source("slowpoke"), &root.join("slowpoke.so"));
    place_plugin(&built, &dir, "libslowpoke.so");
    let mut daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    sale.add_item(item("Brot", "1", "2.00", "10"))
        .await
        .expect("AddItem");
    sale.add_tender("cash", "50.00", HashMap::new())
        .await
        .expect("cash");
    let path = sale.inner().path().to_owned();
    let checkout = {
        let conn = conn.clone();
        let path = path.clone();
        tokio::spawn(async move {
            let sale = Sale1Proxy::builder(&conn)
                .path(path)
                .build()
                .await
                .expect("proxy");
            sale.checkout("k-1").await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let err = sale
        .add_item(item("Wein", "1", "9.00", "20"))
        .await
        .expect_err("frozen");
    assert_eq!(name(&err), "org.posd.Error.Conflict");
    let receipt = checkout.await.expect("join").expect("Checkout");
    let lines: Vec<HashMap<String, zbus::OwnedVariant>> =
        manager.get_receipt(&receipt).await.expect("GetReceipt")["lines"]
            .clone()
            .try_into()
            .expect("lines");
    assert_eq!(lines.len(), 1);

    // After a crash the sale is still completed, its receipt still one, and a retry answers.
    daemon.signal(libc::SIGKILL);
    daemon.wait();
    let _daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .start();
    let again = sale_proxy(&conn, path).await;
    assert_eq!(again.state().await.expect("State"), "completed");
    assert_eq!(
        again.checkout("k-1").await.expect("retry after restart"),
        receipt
    );
    assert_eq!(
        name(&again.checkout("k-2").await.expect_err("sold once")),
        "org.posd.Error.Conflict"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tender_method_a_plugin_declares_is_authorised_by_it() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let library = build_rust_plugin("hello-rust");
    let (dir, config) = plugin_config(&root, 2000, "[plugin.hello-rust]\nbalance = \"3.00\"\n");
    place_plugin(&library, &dir, "libhello_rust.so");
    let _daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    sale.add_item(item("Tee", "1", "4.50", "10"))
        .await
        .expect("AddItem");
    sale.add_tender("hello-points", "4.50", HashMap::new())
        .await
        .expect("plugin tender");
    let tenders = sale.tenders().await.expect("Tenders");
    assert_eq!(s(&tenders[0]["plugin"]), "hello-rust");
    assert_eq!(
        s(&tenders[0]["amount"]),
        "3.00",
        "authorised up to the balance"
    );
    assert_eq!(s(&sale.totals().await.expect("Totals")["due"]), "1.50");
    let err = sale
        .add_tender("moon-money", "1.00", HashMap::new())
        .await
        .expect_err("nobody takes it");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    sale.add_tender("card", "1.50", HashMap::new())
        .await
        .expect("card");
    sale.checkout("h-1").await.expect("Checkout");
}

/// A sale of one item with article number `sku`, paid by card; returns it and the line id.
async fn sale_with<'a>(
    conn: &'a zbus::Connection,
    manager: &Manager1Proxy<'_>,
    sku: &str,
) -> (Sale1Proxy<'a>, String) {
    let sale = open_sale(conn, manager).await;
    let mut line = item("Ding", "1", "5.00", "20");
    line.insert("sku", Variant::from(sku));
    let id = sale.add_item(line).await.expect("AddItem");
    sale.add_tender("card", "5.00", HashMap::new())
        .await
        .expect("card");
    (sale, id)
}

/// What the checkout_log test plugin `x` (A or B) has heard so far.
async fn heard(manager: &Manager1Proxy<'_>, x: &str) -> String {
    let info = manager
        .lookup_code(&format!("LOG-{x}"))
        .await
        .expect("LookupCode");
    String::try_from(info["state"].clone()).expect("state")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_prepare_or_a_floor_breach_aborts_every_plugin_and_keeps_the_sale_open() {
    let bus = TestBus::start();
    let root = bus.dir.path().to_path_buf();
    let (dir, config) = plugin_config(&root, 2000, "");
    for stem in ["checkout_log", "checkout_log_b"] {
        let built = build_c_plugin(&test_plugin_source(stem), &root.join(format!("{stem}.so")));
        place_plugin(&built, &dir, &format!("lib{stem}.so"));
    }
    let daemon = DaemonSetup::new(bus.address(), &root)
        .config(&config)
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let receipts = || {
        rusqlite::Connection::open(daemon.state_dir.join("posd.sqlite3"))
            .expect("db")
            .query_row("SELECT count(*) FROM receipts", [], |r| r.get::<_, i64>(0))
            .expect("count")
    };

    // A plain checkout: both prepare, both hear the commit.
    let (sale, _) = sale_with(&conn, &manager, "4006381333931").await;
    let first = sale.checkout("ok-1").await.expect("Checkout");
    for x in ["A", "B"] {
        eventually(&format!("{x} hears the commit"), || async {
            heard(&manager, x).await == "prepare commit"
        })
        .await;
    }

    // B refuses: A prepared alongside and is told to abort, as is B; nothing is written
    // and the sale stays open for the cashier to fix.
    let (refused, line) = sale_with(&conn, &manager, "FAIL-B").await;
    let err = refused.checkout("fail-1").await.expect_err("refused");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed", "{err}");
    assert!(err.to_string().contains("refuses FAIL-B"), "{err}");
    for x in ["A", "B"] {
        eventually(&format!("{x} hears the abort"), || async {
            heard(&manager, x).await == "prepare commit prepare abort"
        })
        .await;
    }
    assert_eq!(refused.state().await.expect("State"), "open");
    assert_eq!(receipts(), 1, "a refused checkout writes no receipt");

    // A posts below an account's floor: the ledger refuses at commit, both abort.
    let (overdrawn, _) = sale_with(&conn, &manager, "OVERDRAW-A").await;
    let err = overdrawn
        .checkout("floor-1")
        .await
        .expect_err("below floor");
    assert_eq!(name(&err), "org.posd.Error.InsufficientBalance", "{err}");
    for x in ["A", "B"] {
        eventually(&format!("{x} hears the second abort"), || async {
            heard(&manager, x).await == "prepare commit prepare abort prepare abort"
        })
        .await;
    }
    assert_eq!(overdrawn.state().await.expect("State"), "open");
    assert_eq!(receipts(), 1, "a refused posting writes no receipt");

    // The refused sale, fixed, checks out, and takes the next number: no gap.
    refused.remove_line(&line).await.expect("RemoveLine");
    refused
        .add_item(item("Ding", "1", "5.00", "20"))
        .await
        .expect("AddItem");
    let second = refused.checkout("fail-1b").await.expect("Checkout");
    assert_eq!(
        (&first[first.len() - 6..], &second[second.len() - 6..]),
        ("000001", "000002"),
        "receipt numbers stay gapless after refused checkouts"
    );
    assert_eq!(receipts(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_of_a_sale_is_announced_with_properties_changed() {
    let bus = TestBus::start();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager).await;
    let properties = zbus::fdo::PropertiesProxy::builder(&conn)
        .destination("org.posd.Posd1")
        .path(sale.inner().path().to_owned())
        .build()
        .await
        .expect("properties proxy");
    let mut changes = properties
        .receive_properties_changed()
        .await
        .expect("subscribe");
    // The next announcement: which properties, and their values as strings where they are.
    let mut next = async || -> HashMap<String, zbus::OwnedVariant> {
        let signal = tokio::time::timeout(std::time::Duration::from_secs(10), changes.next())
            .await
            .expect("a PropertiesChanged in time")
            .expect("stream");
        let args = signal.args().expect("args");
        assert_eq!(args.interface_name().as_str(), "org.posd.Sale1");
        args.changed_properties()
            .iter()
            .map(|(k, v)| (k.to_string(), v.try_to_owned().expect("owned")))
            .collect()
    };
    let totals_of = |changed: &HashMap<String, zbus::OwnedVariant>| {
        let totals: HashMap<String, zbus::OwnedVariant> =
            changed["Totals"].clone().try_into().expect("Totals");
        (s(&totals["total"]), s(&totals["due"]))
    };

    sale.add_item(item("Milch", "2", "1.29", "10"))
        .await
        .expect("AddItem");
    let changed = next().await;
    let lines: Vec<HashMap<String, zbus::OwnedVariant>> =
        changed["Lines"].clone().try_into().expect("Lines");
    assert_eq!(lines.len(), 1);
    assert_eq!(totals_of(&changed), ("2.58".into(), "2.58".into()));
    let previews: Vec<HashMap<String, zbus::OwnedVariant>> =
        changed["Previews"].clone().try_into().expect("Previews");
    assert!(previews.is_empty(), "no plugin, no previews, but announced");

    sale.add_tender("card", "2.58", HashMap::new())
        .await
        .expect("card");
    let changed = next().await;
    let tenders: Vec<HashMap<String, zbus::OwnedVariant>> =
        changed["Tenders"].clone().try_into().expect("Tenders");
    assert_eq!(tenders.len(), 1);
    assert_eq!(totals_of(&changed), ("2.58".into(), "0.00".into()));

    let receipt = sale.checkout("announce-1").await.expect("Checkout");
    let changed = next().await;
    assert_eq!(s(&changed["State"]), "completed");
    assert_eq!(s(&changed["ReceiptId"]), receipt);
}

/// The year `seconds` from now by the system clock, as receipts write it.
fn year_in(seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    posd::sale::time::rfc3339_ms(now + u128::from(seconds) * 1000)[..4].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_test_clock_moves_receipts_and_ledger_entries_without_a_restart() {
    let bus = TestBus::start();
    let offset = bus.dir.path().join("clock-offset");
    let two_years: u64 = 2 * 366 * 86_400;
    std::fs::write(&offset, two_years.to_string()).expect("offset");
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .env("POSDTEST_CLOCK", offset.to_str().expect("utf-8"))
        .start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let checkout = async |key: &str| {
        let sale = open_sale(&conn, &manager).await;
        sale.add_item(item("Brot", "1", "2.49", "10"))
            .await
            .expect("AddItem");
        sale.add_tender("cash", "2.49", HashMap::new())
            .await
            .expect("cash");
        let id = sale.checkout(key).await.expect("Checkout");
        s(&manager.get_receipt(&id).await.expect("GetReceipt")["time"])
    };
    let later = checkout("clock-1").await;
    assert!(later.starts_with(&year_in(two_years)), "{later}");
    std::fs::write(&offset, "0").expect("offset back");
    let now = checkout("clock-2").await;
    assert!(now.starts_with(&year_in(0)), "{now}");

    let db = rusqlite::Connection::open(daemon.database()).expect("db");
    let times: Vec<String> = db
        .prepare("SELECT time FROM ledger_entries ORDER BY id")
        .expect("query")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("times");
    let years: Vec<&str> = times.iter().map(|t| &t[..4]).collect();
    assert_eq!(years, vec![year_in(two_years), year_in(0)], "{times:?}");
    assert!(
        daemon.log().contains("POSDTEST_CLOCK is set"),
        "a shifted clock is logged"
    );
    daemon.stop();
}
