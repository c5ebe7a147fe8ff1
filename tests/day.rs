//! The till's day over the bus as a cashier and a technician see it: sales, vouchers, voids
//! and returns adding up in the X and Z reports and in the ledger, the day opened and
//! closed explicitly or by the first sale, reversals that never give back more than a sale
//! took in, `posctl ledger verify` catching a tampered database, and `posctl day`.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use futures_util::StreamExt;
use posd_client::{Manager1Proxy, Register1Proxy, Sale1Proxy, error_reply};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;
/// The `details` of a cash movement.
type Details<'a> = HashMap<&'a str, Variant<'a>>;

fn record(v: &OwnedVariant) -> Record {
    v.clone().try_into().expect("record")
}

fn message(err: &zbus::Error) -> String {
    error_reply(err).expect("named error").1
}

fn dec(text: &str) -> Decimal {
    text.parse().expect("decimal")
}

fn record_json(r: &Record) -> Value {
    Value::Object(
        r.iter()
            .map(|(k, v)| (k.clone(), posd_client::to_json(v)))
            .collect(),
    )
}

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

async fn open_sale<'a>(
    conn: &'a zbus::Connection,
    manager: &Manager1Proxy<'_>,
    cashier: &str,
) -> Sale1Proxy<'a> {
    let path = manager
        .open_sale(HashMap::from([("cashier", Variant::from(cashier))]))
        .await
        .expect("OpenSale");
    sale_proxy(conn, path).await
}

/// A Register1 proxy that asks the daemon for every property (no cache lagging behind).
async fn register_proxy(conn: &zbus::Connection) -> Register1Proxy<'_> {
    Register1Proxy::builder(conn)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("register proxy")
}

async fn pay(sale: &Sale1Proxy<'_>, method: &str, amount: &str) {
    sale.add_tender(method, amount, HashMap::new())
        .await
        .unwrap_or_else(|e| panic!("AddTender {method} {amount}: {e}"));
}

async fn pay_rest(sale: &Sale1Proxy<'_>, method: &str) {
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    pay(sale, method, &due).await;
}

async fn total_of(sale: &Sale1Proxy<'_>) -> String {
    s(&sale.totals().await.expect("Totals")["total"])
}

async fn take_back(
    manager: &Manager1Proxy<'_>,
    receipt: &str,
    lines: &[(&str, &str)],
    key: &str,
) -> zbus::Result<(String, Vec<String>)> {
    let lines = lines
        .iter()
        .map(|(line, qty)| {
            HashMap::from([("line", Variant::from(*line)), ("qty", Variant::from(*qty))])
        })
        .collect();
    manager.r#return(receipt, lines, key).await
}

/// Sells a voucher of the gift programme for `amount` on `sale`; its code, which the
/// plugin generates and hands back once in `result.code`.
async fn sell_gift(sale: &Sale1Proxy<'_>, amount: &str) -> String {
    let args = HashMap::from([("amount", Variant::from(amount))]);
    let answer: Record = sale
        .inner()
        .call("Invoke", &("vouchers:sell-gift", args))
        .await
        .expect("sell");
    s(&record(&answer["result"])["code"])
}

/// A receipt's total and its tenders as (method, amount).
async fn money_of(manager: &Manager1Proxy<'_>, receipt: &str) -> (String, Vec<(String, String)>) {
    let r = manager.get_receipt(receipt).await.expect("GetReceipt");
    let total = s(&record(&r["totals"])["total"]);
    let tenders = records(&r["tenders"])
        .iter()
        .map(|t| (s(&t["method"]), s(&t["amount"])))
        .collect();
    (total, tenders)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .expect("open")
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

fn receipts(db: &Path) -> i64 {
    count(db, "SELECT count(*) FROM receipts")
}

fn ledger_verify(state_dir: &Path) -> std::process::Output {
    run(Command::new(posctl_binary())
        .args(["ledger", "verify", "--state-dir"])
        .arg(state_dir))
}

fn assert_books_ok(daemon: &Daemon) {
    let verified = verify_books(&daemon.database());
    assert!(verified.is_ok(), "{verified:?}");
    let out = ledger_verify(&daemon.state_dir);
    assert!(
        out.status.success() && text(&out.stdout).contains("ledger ok"),
        "posctl ledger verify: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The accounts `posctl ledger balance PREFIX --json` lists (those whose name is or starts
/// with `prefix`) as (account, balance).
fn posctl_balances(state_dir: &Path, prefix: &str) -> Vec<(String, Decimal)> {
    let out = run(Command::new(posctl_binary())
        .args(["--json", "ledger", "balance", prefix, "--state-dir"])
        .arg(state_dir));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list: Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    list.as_array()
        .expect("list")
        .iter()
        .map(|r| {
            (
                r["account"].as_str().expect("account").to_string(),
                dec(r["balance"].as_str().expect("balance")),
            )
        })
        .collect()
}

/// The balance `posctl ledger balance ACCOUNT --json` shows.
fn posctl_balance(state_dir: &Path, account: &str) -> Decimal {
    let rows = posctl_balances(state_dir, account);
    rows.iter()
        .find(|(a, _)| a == account)
        .unwrap_or_else(|| panic!("no {account} in {rows:?}"))
        .1
}

#[tokio::test(flavor = "multi_thread")]
async fn reversals_never_give_back_more_than_the_sale_took_in() {
    let bus = TestBus::start();
    let daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let db = daemon.database();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let register = register_proxy(&conn).await;
    assert_eq!(register.day_state().await.expect("DayState"), "closed");

    // The reported sale: 17.53 paid with 20.00 cash.
    let sale = open_sale(&conn, &manager, "anna").await;
    assert_eq!(
        (
            register.day_state().await.expect("DayState"),
            register.day_id().await.expect("DayId")
        ),
        ("open".to_string(), "0001-01-D000001".to_string()),
        "the first sale opens the day"
    );
    let milk = sale
        .add_item(item("Milch", "3", "1.29", "10"))
        .await
        .expect("AddItem");
    let wine = sale
        .add_item(item("Wein", "1", "7.99", "20"))
        .await
        .expect("AddItem");
    let cheese = sale
        .add_item(item("Käse", "1", "5.67", "13"))
        .await
        .expect("AddItem");
    assert_eq!(total_of(&sale).await, "17.53");
    pay(&sale, "cash", "20.00").await;
    assert_eq!(s(&sale.totals().await.expect("Totals")["change"]), "2.47");
    let first = sale.checkout("sale-1").await.expect("Checkout");
    assert_eq!(
        first, "0001-01-000001",
        "an implicit day opening writes no receipt: numbers stay gapless on paper"
    );
    assert_eq!(register.expected_cash().await.expect("cash"), "17.53");

    let (returned, _) = take_back(&manager, &first, &[(&wine, "1")], "ret-1")
        .await
        .expect("Return");
    assert_eq!(
        money_of(&manager, &returned).await,
        ("-7.99".to_string(), pairs(&[("cash", "-7.99")]))
    );
    assert_eq!(register.expected_cash().await.expect("cash"), "9.54");

    // A void now would pay back the whole 17.53 on top of the 7.99.
    let before = receipts(&db);
    let err = manager
        .void(&first, "void-1")
        .await
        .expect_err("a returned sale can't be voided");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");
    assert!(
        message(&err).contains(&returned),
        "the refusal names the return receipt {returned}: {err}"
    );
    assert_eq!(receipts(&db), before, "a refused void writes no receipt");
    assert_eq!(
        register.expected_cash().await.expect("cash"),
        "9.54",
        "no cash left the drawer"
    );
    // The rest is returned instead: in all, exactly what the sale took in.
    let (rest, _) = take_back(&manager, &first, &[(&milk, "3"), (&cheese, "1")], "ret-2")
        .await
        .expect("Return the rest");
    assert_eq!(
        money_of(&manager, &rest).await,
        ("-9.54".to_string(), pairs(&[("cash", "-9.54")]))
    );
    assert_eq!(register.expected_cash().await.expect("cash"), "0.00");
    let err = take_back(&manager, &first, &[(&wine, "1")], "ret-3")
        .await
        .expect_err("nothing left");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{err}");

    // Void, then return: Conflict; void twice: Conflict.
    let sale = open_sale(&conn, &manager, "anna").await;
    let bread = sale
        .add_item(item("Brot", "1", "2.49", "10"))
        .await
        .expect("AddItem");
    pay_rest(&sale, "card").await;
    let second = sale.checkout("sale-2").await.expect("Checkout");
    let void = manager.void(&second, "void-2").await.expect("Void");
    assert_eq!(
        money_of(&manager, &void).await,
        ("-2.49".to_string(), pairs(&[("card", "-2.49")]))
    );
    let before = receipts(&db);
    let err = take_back(&manager, &second, &[(&bread, "1")], "ret-4")
        .await
        .expect_err("a voided sale can't be returned");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");
    assert!(message(&err).contains(&void), "names the void: {err}");
    let err = manager
        .void(&second, "void-3")
        .await
        .expect_err("voided twice");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");
    assert_eq!(receipts(&db), before, "refusals write no receipt");

    // All returned, then returned again: InvalidArgument; and no void after it either.
    let sale = open_sale(&conn, &manager, "anna").await;
    let water = sale
        .add_item(item("Wasser", "2", "1.50", "20"))
        .await
        .expect("AddItem");
    pay(&sale, "cash", "5.00").await;
    let third = sale.checkout("sale-3").await.expect("Checkout");
    let (back, _) = take_back(&manager, &third, &[(&water, "2")], "ret-5")
        .await
        .expect("Return");
    assert_eq!(
        money_of(&manager, &back).await,
        ("-3.00".to_string(), pairs(&[("cash", "-3.00")]),),
        "cash back net of the 2.00 change"
    );
    let err = take_back(&manager, &third, &[(&water, "1")], "ret-6")
        .await
        .expect_err("all returned");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{err}");
    let err = manager
        .void(&third, "void-4")
        .await
        .expect_err("returned in full");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");

    // Two partial returns, then a third beyond what is left.
    let sale = open_sale(&conn, &manager, "anna").await;
    let cups = sale
        .add_item(item("Becher", "3", "2.00", "20"))
        .await
        .expect("AddItem");
    pay_rest(&sale, "card").await;
    let fourth = sale.checkout("sale-4").await.expect("Checkout");
    for key in ["ret-7", "ret-8"] {
        let (back, _) = take_back(&manager, &fourth, &[(&cups, "1")], key)
            .await
            .expect("Return one");
        assert_eq!(
            money_of(&manager, &back).await,
            ("-2.00".to_string(), pairs(&[("card", "-2.00")]))
        );
    }
    let before = receipts(&db);
    let err = take_back(&manager, &fourth, &[(&cups, "2")], "ret-9")
        .await
        .expect_err("only one left");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{err}");
    assert!(message(&err).contains("1 of 3"), "{err}");
    assert_eq!(receipts(&db), before);

    // Cumulative rounding: 3 x 3.337 = 10.01, returned one by one: 10.01 back, not 10.02.
    let sale = open_sale(&conn, &manager, "anna").await;
    let screws = sale
        .add_item(item("Schrauben", "3", "3.337", "10"))
        .await
        .expect("AddItem");
    assert_eq!(total_of(&sale).await, "10.01");
    pay_rest(&sale, "card").await;
    let fifth = sale.checkout("sale-5").await.expect("Checkout");
    let mut amounts = Vec::new();
    let mut refunded = Decimal::ZERO;
    for key in ["ret-10", "ret-11", "ret-12"] {
        let (back, _) = take_back(&manager, &fifth, &[(&screws, "1")], key)
            .await
            .expect("Return one");
        let (total, tenders) = money_of(&manager, &back).await;
        assert_eq!(
            tenders,
            vec![("card".to_string(), total.clone())],
            "a card sale is refunded on the card"
        );
        refunded += dec(&total);
        amounts.push(total);
    }
    assert_eq!(amounts, vec!["-3.34", "-3.33", "-3.34"]);
    assert_eq!(refunded, dec("-10.01"), "never more than the line's 10.01");
    let err = take_back(&manager, &fifth, &[(&screws, "0.001")], "ret-13")
        .await
        .expect_err("nothing left");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{err}");

    // Cash and card: the refund is split pro rata to what each took in (4.00 of 10.00
    // cash), and the two halves together give back exactly what each took.
    let sale = open_sale(&conn, &manager, "anna").await;
    let lamps = sale
        .add_item(item("Lampe", "2", "5.00", "20"))
        .await
        .expect("AddItem");
    pay(&sale, "cash", "4.00").await;
    pay_rest(&sale, "card").await;
    let sixth = sale.checkout("sale-6").await.expect("Checkout");
    let (back, _) = take_back(&manager, &sixth, &[(&lamps, "1")], "ret-14")
        .await
        .expect("Return");
    assert_eq!(
        money_of(&manager, &back).await,
        (
            "-5.00".to_string(),
            pairs(&[("cash", "-2.00"), ("card", "-3.00")])
        )
    );
    let (back, _) = take_back(&manager, &sixth, &[(&lamps, "1")], "ret-15")
        .await
        .expect("Return");
    assert_eq!(
        money_of(&manager, &back).await,
        (
            "-5.00".to_string(),
            pairs(&[("cash", "-2.00"), ("card", "-3.00")])
        ),
        "the rest of each tender, never more"
    );

    assert_eq!(
        register.expected_cash().await.expect("cash"),
        "0.00",
        "every cash refund left the drawer, no more"
    );
    assert_books_ok(&daemon);
    assert_eq!(
        posctl_balance(&daemon.state_dir, "host:cash:01"),
        Decimal::ZERO,
        "the drawer's account agrees"
    );
}

/// A daemon with a vouchers plugin and a receipt printer.
/// Fields drop in order: the client, the daemon, the printer, then the bus.
struct Till {
    conn: zbus::Connection,
    daemon: Daemon,
    printer: FakePrinter,
    _bus: TestBus,
}

impl Till {
    /// With the product plugin `posd-vouchers` and one gift programme, `sell-gift`.
    async fn with_vouchers() -> Self {
        let bus = TestBus::start();
        let (daemon, printer, conn) = start_with_vouchers(
            &bus,
            "[[plugin.vouchers.programmes]]\nid = \"gift\"\nname = \"Gutschein\"\nkind = \"gift\"\nmax_amount = \"500.00\"\ncode = { format = \"template\" }\n",
        )
        .await;
        Self {
            conn,
            daemon,
            printer,
            _bus: bus,
        }
    }

    fn database(&self) -> PathBuf {
        self.daemon.database()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_day_with_sales_vouchers_reversals_and_cash_movements_adds_up_in_x_and_z() {
    // The product plugin: the return of D puts the voucher's share back on it.
    let till = Till::with_vouchers().await;
    let conn = &till.conn;
    let manager = Manager1Proxy::new(conn).await.expect("manager");
    let register = register_proxy(conn).await;

    let opened = register
        .open_day("100.00", "open-1")
        .await
        .expect("OpenDay");
    assert_eq!(opened, "0001-01-000001");
    assert_eq!(register.day_state().await.expect("DayState"), "open");
    assert_eq!(register.day_id().await.expect("DayId"), "0001-01-D000001");
    assert!(!register.opened_at().await.expect("OpenedAt").is_empty());
    assert_eq!(register.expected_cash().await.expect("cash"), "100.00");
    let r = manager.get_receipt(&opened).await.expect("GetReceipt");
    assert_eq!(
        (s(&r["kind"]), s(&r["day"])),
        ("day_open".to_string(), "0001-01-D000001".to_string())
    );

    // A: anna, three rates, 17.53 paid with 20.00 cash.
    let sale = open_sale(conn, &manager, "anna").await;
    sale.add_item(item("Milch", "3", "1.29", "10"))
        .await
        .expect("AddItem");
    let wine = sale
        .add_item(item("Wein", "1", "7.99", "20"))
        .await
        .expect("AddItem");
    sale.add_item(item("Käse", "1", "5.67", "13"))
        .await
        .expect("AddItem");
    pay(&sale, "cash", "20.00").await;
    let a = sale.checkout("a").await.expect("Checkout");
    // B: bert, 12.00 by card.
    let sale = open_sale(conn, &manager, "bert").await;
    sale.add_item(item("Schal", "1", "12.00", "20"))
        .await
        .expect("AddItem");
    pay_rest(&sale, "card").await;
    sale.checkout("b").await.expect("Checkout");
    // C: anna sells a gift voucher for 25.00, paid with 30.00 cash.
    let sale = open_sale(conn, &manager, "anna").await;
    let code = sell_gift(&sale, "25.00").await;
    pay(&sale, "cash", "30.00").await;
    sale.checkout("c").await.expect("Checkout");
    // D: bert, 40.00 paid 25.00 with the voucher and 15.00 by card.
    let sale = open_sale(conn, &manager, "bert").await;
    let coat = sale
        .add_item(item("Mantel", "1", "40.00", "20"))
        .await
        .expect("AddItem");
    let entered = sale.enter_code(&code).await.expect("EnterCode");
    assert_eq!(s(&entered["plugin"]), "vouchers");
    assert_eq!(s(&sale.totals().await.expect("Totals")["due"]), "15.00");
    pay_rest(&sale, "card").await;
    let d = sale.checkout("d").await.expect("Checkout");
    // E: anna, 4.40 paid with 5.00 cash, then voided.
    let sale = open_sale(conn, &manager, "anna").await;
    sale.add_item(item("Semmeln", "8", "0.55", "10"))
        .await
        .expect("AddItem");
    pay(&sale, "cash", "5.00").await;
    let e = sale.checkout("e").await.expect("Checkout");
    let void = manager.void(&e, "void-e").await.expect("Void");
    assert_eq!(
        money_of(&manager, &void).await,
        ("-4.40".to_string(), pairs(&[("cash", "-4.40")]))
    );
    // The wine of A comes back.
    let (returned, _) = take_back(&manager, &a, &[(&wine, "1")], "ret-a")
        .await
        .expect("Return");
    assert_eq!(
        money_of(&manager, &returned).await,
        ("-7.99".to_string(), pairs(&[("cash", "-7.99")]))
    );
    // D was paid 25.00 with the voucher: the coat's 40.00 goes back 25.00 onto it and
    // 15.00 on the card, none of it out of the drawer as cash.
    let (returned_d, _) = take_back(&manager, &d, &[(&coat, "1")], "ret-d")
        .await
        .expect("paid partly with a voucher");
    assert_eq!(
        money_of(&manager, &returned_d).await,
        (
            "-40.00".to_string(),
            pairs(&[("voucher", "-25.00"), ("card", "-15.00")])
        )
    );
    let looked_up = manager.lookup_code(&code).await.expect("LookupCode");
    assert_eq!(
        s(&looked_up["balance"]),
        "25.00",
        "the voucher has its 25.00 again"
    );
    // The books agree: the one voucher account (its name is the code's keyed hash, never
    // the code) holds the 25.00, as `posctl ledger balance` shows it.
    let vouchers = posctl_balances(&till.daemon.state_dir, "vouchers:voucher:");
    assert_eq!(vouchers.len(), 1, "one voucher sold: {vouchers:?}");
    assert_eq!(vouchers[0].1, dec("25.00"), "{vouchers:?}");
    // Cash in and out.
    let cash_in = register
        .cash_movement(
            "in",
            "50.00",
            "Wechselgeld",
            HashMap::from([("cashier", Variant::from("anna"))]),
            "in-1",
        )
        .await
        .expect("cash in");
    let cash_out = register
        .cash_movement("out", "30.00", "Bank", HashMap::new(), "out-1")
        .await
        .expect("cash out");
    for (id, kind, reason) in [
        (&cash_in, "cash_in", "Wechselgeld"),
        (&cash_out, "cash_out", "Bank"),
    ] {
        let r = manager.get_receipt(id).await.expect("GetReceipt");
        assert_eq!(
            (s(&r["kind"]), s(&r["reason"]), s(&r["day"])),
            (
                kind.to_string(),
                reason.to_string(),
                "0001-01-D000001".to_string()
            )
        );
    }

    // By hand: 100 float + 17.53 (A) + 25.00 (C) + 4.40 (E) − 4.40 (void) − 7.99 (return)
    // + 50 − 30; the return of D moves no cash.
    assert_eq!(register.expected_cash().await.expect("cash"), "154.54");

    let x = register.report().await.expect("Report");
    let mut x_json = record_json(&x);
    let want = json!({
        "day": "0001-01-D000001",
        "number": 1,
        "register": "01",
        "closed_at": "",
        "total": "46.54",
        "sales": { "count": 5, "amount": "98.93" },
        "voids": { "count": 1, "amount": "-4.40" },
        "returns": { "count": 2, "amount": "-47.99" },
        "discounts": { "count": 0, "amount": "0.00" },
        "vat": [
            { "rate": "10", "net": "3.52", "tax": "0.35", "gross": "3.87" },
            { "rate": "13", "net": "5.02", "tax": "0.65", "gross": "5.67" },
            { "rate": "20", "net": "10.00", "tax": "2.00", "gross": "12.00" },
            { "rate": "", "net": "25.00", "tax": "0.00", "gross": "25.00" },
        ],
        "tenders": [
            { "method": "card", "plugin": "", "count": 3, "amount": "12.00" },
            { "method": "cash", "plugin": "", "count": 5, "amount": "34.54" },
            { "method": "voucher", "plugin": "vouchers", "count": 2, "amount": "0.00" },
        ],
        "cashiers": [
            { "cashier": "anna", "count": 5, "amount": "34.54" },
            { "cashier": "bert", "count": 3, "amount": "12.00" },
        ],
        "plugins": [
            { "plugin": "vouchers", "account": "issued", "unit": "EUR", "added": "25", "taken": "-50" },
            { "plugin": "vouchers", "account": "voucher", "unit": "EUR", "added": "50", "taken": "-25" },
        ],
        "cash": { "float": "100.00", "sales": "34.54", "in": "50.00", "out": "30.00", "expected": "154.54" },
    });
    for key in want.as_object().expect("object").keys() {
        assert_eq!(x_json[key], want[key], "X report {key}");
    }
    assert_eq!(
        x_json["opened_at"].as_str(),
        Some(register.opened_at().await.expect("OpenedAt").as_str())
    );
    let x_text = s(&x["text"]);
    assert!(
        x_text.contains("X-Bericht") && x_text.contains("154,54"),
        "{x_text}"
    );
    assert_eq!(
        receipts(&till.database()),
        11,
        "the X report writes nothing"
    );

    // The Z, 1.50 short.
    let z = register.close_day("153.04", "z-1").await.expect("CloseDay");
    assert_eq!(z, "0001-01-000012");
    assert_eq!(
        register.close_day("153.04", "z-1").await.expect("same key"),
        z,
        "the same key answers the same Z"
    );
    assert_eq!(register.day_state().await.expect("DayState"), "closed");
    assert_eq!(register.day_id().await.expect("DayId"), "");
    assert_eq!(register.expected_cash().await.expect("cash"), "0.00");
    let err = register.report().await.expect_err("no day open");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");

    let zr = manager.get_receipt(&z).await.expect("GetReceipt");
    assert_eq!(
        (s(&zr["kind"]), s(&zr["day"])),
        ("z".to_string(), "0001-01-D000001".to_string())
    );
    let z_text = s(&zr["text"]);
    assert!(
        z_text.contains("Z-Bericht") && z_text.contains("-1,50"),
        "{z_text}"
    );
    let mut z_json = record_json(&record(&zr["report"]));
    assert_eq!(z_json["difference"], "-1.50");
    assert_eq!(z_json["counted"], "153.04");
    assert_eq!(z_json["cash"]["difference"], "-1.50");
    assert_eq!(z_json["cash"]["counted"], "153.04");
    assert_eq!(z_json["cash"]["expected"], "154.54");
    assert_ne!(z_json["closed_at"], "", "the Z says when it closed");
    for key in ["closed_at", "counted", "difference", "text"] {
        x_json.as_object_mut().expect("object").remove(key);
        z_json.as_object_mut().expect("object").remove(key);
    }
    for key in ["counted", "difference"] {
        z_json["cash"].as_object_mut().expect("cash").remove(key);
    }
    assert_eq!(z_json, x_json, "the Z records what the X showed");

    // The ledger: the shortfall on the cash-difference account, the drawer emptied.
    let state = &till.daemon.state_dir;
    assert_eq!(
        posctl_balance(state, "host:cash-difference:01"),
        dec("1.50")
    );
    assert_eq!(posctl_balance(state, "host:cash:01"), Decimal::ZERO);

    let days = register.list_days("", "").await.expect("ListDays");
    assert_eq!(days.len(), 1);
    let day = record_json(&days[0]);
    for (key, want) in [
        ("day", json!("0001-01-D000001")),
        ("number", json!(1)),
        ("z_receipt_id", json!(z)),
        ("open_receipt_id", json!(opened)),
        ("float", json!("100.00")),
        ("expected", json!("154.54")),
        ("counted", json!("153.04")),
        ("difference", json!("-1.50")),
    ] {
        assert_eq!(day[key], want, "ListDays {key}");
    }
    let today = day["opened_at"].as_str().expect("opened_at")[..10].to_string();
    assert_eq!(
        register
            .list_days(&today, &today)
            .await
            .expect("ListDays")
            .len(),
        1,
        "listed by its opening date"
    );
    assert!(
        register
            .list_days("2000-01-01", "2000-12-31")
            .await
            .expect("ListDays")
            .is_empty()
    );

    eventually("the Z is printed", || async {
        let bytes = till.printer.received();
        !find_all(&bytes, b"Z-Bericht").is_empty()
            && !find_all(&bytes, b"Wechselgeld").is_empty()
            && !find_all(&bytes, b"Bank").is_empty()
    })
    .await;

    // The next sale opens day 2 by itself, with a float of 0.
    let sale = open_sale(conn, &manager, "anna").await;
    assert_eq!(register.day_state().await.expect("DayState"), "open");
    assert_eq!(register.day_id().await.expect("DayId"), "0001-01-D000002");
    assert_eq!(register.expected_cash().await.expect("cash"), "0.00");
    sale.cancel().await.expect("Cancel");

    let verified = verify_books(&till.database());
    assert!(verified.is_ok(), "{verified:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_day_is_opened_explicitly_when_the_configuration_asks_and_bad_input_changes_nothing() {
    let bus = TestBus::start();
    let daemon = DaemonSetup::new(bus.address(), bus.dir.path())
        .config("[register]\nrequire_day_open = true\n")
        .start();
    let db = daemon.database();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let register = register_proxy(&conn).await;
    let no_details = Details::new;

    let err = manager
        .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
        .await
        .expect_err("no day open");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed", "{err}");
    let err = register
        .cash_movement("in", "10.00", "Wechselgeld", no_details(), "in-0")
        .await
        .expect_err("no day open");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed", "{err}");
    assert_eq!(register.day_state().await.expect("DayState"), "closed");

    for (float, key) in [("-1", "bad-1"), ("abc", "bad-2"), ("1.234", "bad-3")] {
        let err = register.open_day(float, key).await.expect_err("bad float");
        assert_eq!(
            name(&err),
            "org.posd.Error.InvalidArgument",
            "{float}: {err}"
        );
    }
    let err = register
        .close_day("0.00", "z-0")
        .await
        .expect_err("nothing to close");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");
    let err = register.report().await.expect_err("no day open");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");
    assert_eq!(receipts(&db), 0, "refusals write no receipt");
    assert_eq!(count(&db, "SELECT count(*) FROM days"), 0, "nor a day");
    assert_eq!(register.day_state().await.expect("DayState"), "closed");

    let opened = register
        .open_day("100.00", "open-1")
        .await
        .expect("OpenDay");
    assert_eq!(
        register
            .open_day("100.00", "open-1")
            .await
            .expect("same key"),
        opened,
        "the same key answers the first receipt"
    );
    let err = register
        .open_day("50.00", "open-1")
        .await
        .expect_err("the key was used for 100.00");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");
    let err = register
        .open_day("100.00", "open-2")
        .await
        .expect_err("a day is open");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");
    assert_eq!(receipts(&db), 1);
    assert_eq!(register.expected_cash().await.expect("cash"), "100.00");

    let mut typo = no_details();
    typo.insert("foo", Variant::from("bar"));
    let bad: Vec<(&str, &str, &str, Details<'_>, &str)> = vec![
        ("in", "10.00", "", no_details(), "empty reason"),
        ("in", "10.00", "   ", no_details(), "blank reason"),
        ("sideways", "10.00", "Wechselgeld", no_details(), "kind"),
        ("in", "0", "Wechselgeld", no_details(), "zero"),
        ("in", "-5.00", "Wechselgeld", no_details(), "negative"),
        ("in", "1.005", "Wechselgeld", no_details(), "three decimals"),
        ("in", "zehn", "Wechselgeld", no_details(), "not a number"),
        ("in", "10.00", "Wechselgeld", typo, "unknown details key"),
        (
            "out",
            "100.01",
            "Bank",
            no_details(),
            "more than the drawer holds",
        ),
    ];
    for (i, (kind, amount, reason, details, what)) in bad.into_iter().enumerate() {
        let err = register
            .cash_movement(kind, amount, reason, details, &format!("bad-move-{i}"))
            .await
            .expect_err(what);
        assert_eq!(
            name(&err),
            "org.posd.Error.InvalidArgument",
            "{what}: {err}"
        );
        if what == "unknown details key" {
            assert!(message(&err).contains("foo"), "{err}");
        }
    }
    assert_eq!(receipts(&db), 1, "bad cash movements write no receipt");
    assert_eq!(register.expected_cash().await.expect("cash"), "100.00");
    let err = register
        .list_days("yesterday", "")
        .await
        .expect_err("not a date");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{err}");
    let err = register
        .list_days("", "2026-13")
        .await
        .expect_err("not a date");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{err}");

    // ExpectedCash is announced when cash comes in.
    let properties = zbus::fdo::PropertiesProxy::builder(&conn)
        .destination("org.posd.Posd1")
        .path(register.inner().path().to_owned())
        .build()
        .await
        .expect("properties proxy");
    let mut changes = properties
        .receive_properties_changed()
        .await
        .expect("subscribe");
    let moved = register
        .cash_movement("in", "20.00", "Wechselgeld", no_details(), "in-1")
        .await
        .expect("cash in");
    assert_eq!(
        register
            .cash_movement("in", "20.00", "Wechselgeld", no_details(), "in-1")
            .await
            .expect("same key"),
        moved
    );
    let err = register
        .cash_movement("in", "25.00", "Wechselgeld", no_details(), "in-1")
        .await
        .expect_err("key reused");
    assert_eq!(name(&err), "org.posd.Error.Conflict", "{err}");
    let announced = tokio::time::timeout(PATIENCE, async {
        while let Some(signal) = changes.next().await {
            let args = signal.args().expect("args");
            if args.interface_name().as_str() != "org.posd.Register1" {
                continue;
            }
            if let Some(v) = args.changed_properties().get("ExpectedCash") {
                let value = String::try_from(v.try_to_owned().expect("owned")).expect("string");
                if value == "120.00" {
                    return value;
                }
            }
        }
        String::new()
    })
    .await
    .expect("ExpectedCash announced in time");
    assert_eq!(announced, "120.00");
    assert_eq!(register.expected_cash().await.expect("cash"), "120.00");
    assert_eq!(receipts(&db), 2, "the replay wrote nothing");

    // Now sales are allowed.
    let sale = open_sale(&conn, &manager, "anna").await;
    sale.add_item(item("Brot", "1", "2.49", "10"))
        .await
        .expect("AddItem");
    pay(&sale, "cash", "5.00").await;
    sale.checkout("sale-1").await.expect("Checkout");
    assert_eq!(register.expected_cash().await.expect("cash"), "122.49");
    // After the Z, the configuration asks for an explicit opening again.
    register.close_day("122.49", "z-1").await.expect("CloseDay");
    let err = manager
        .open_sale(HashMap::new())
        .await
        .expect_err("closed again");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed", "{err}");
    let verified = verify_books(&db);
    assert!(verified.is_ok(), "{verified:?}");
}

/// Copies the database of a stopped daemon into a fresh state directory.
fn copy_database(db: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("state dir");
    let target = dir.join(posd::store::DATABASE_FILE);
    std::fs::copy(db, &target).expect("copy database");
    for suffix in ["-wal", "-shm"] {
        let sibling = PathBuf::from(format!("{}{suffix}", db.display()));
        if sibling.exists() {
            std::fs::copy(
                &sibling,
                PathBuf::from(format!("{}{suffix}", target.display())),
            )
            .expect("copy sibling");
        }
    }
    target
}

#[tokio::test(flavor = "multi_thread")]
async fn ledger_verify_catches_a_tampered_posting_and_an_edited_receipt() {
    let bus = TestBus::start();
    let mut daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let manager = Manager1Proxy::new(&conn).await.expect("manager");
    let sale = open_sale(&conn, &manager, "anna").await;
    sale.add_item(item("Wein", "1", "7.99", "20"))
        .await
        .expect("AddItem");
    sale.add_item(item("Brot", "1", "2.49", "10"))
        .await
        .expect("AddItem");
    pay_rest(&sale, "card").await;
    let receipt = sale.checkout("sale-1").await.expect("Checkout");
    assert!(daemon.stop().success(), "{}", daemon.log());
    let db = daemon.database();
    rusqlite::Connection::open(&db)
        .expect("open")
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    let root = bus.dir.path();
    let a = root.join("copy-a");
    let b = root.join("copy-b");
    let db_a = copy_database(&db, &a);
    let db_b = copy_database(&db, &b);

    // A: 0.01 moved from VAT to revenue in the posting and the cached balance alike: the
    // entry still balances and every balance matches its postings.
    {
        let c = rusqlite::Connection::open(&db_a).expect("open A");
        c.execute_batch("DROP TRIGGER ledger_postings_no_update;")
            .expect("drop trigger");
        let shift = |account: &str, delta: Decimal| {
            let (posting, amount, account_id, balance): (i64, String, i64, String) = c
                .query_row(
                    "SELECT p.id, p.amount, a.id, a.balance FROM ledger_postings p
                     JOIN ledger_entries e ON e.id = p.entry_id
                     JOIN ledger_accounts a ON a.id = p.account_id
                     WHERE e.reference = ?1 AND a.code = ?2",
                    [receipt.as_str(), account],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .unwrap_or_else(|e| panic!("posting of {account}: {e}"));
            c.execute(
                "UPDATE ledger_postings SET amount = ?2 WHERE id = ?1",
                rusqlite::params![posting, (dec(&amount) + delta).to_string()],
            )
            .expect("tamper posting");
            c.execute(
                "UPDATE ledger_accounts SET balance = ?2 WHERE id = ?1",
                rusqlite::params![account_id, (dec(&balance) + delta).to_string()],
            )
            .expect("tamper balance");
        };
        shift("host:vat:20", dec("-0.01"));
        shift("host:revenue:20", dec("0.01"));
        let ledger = posd::ledger::verify(&c).expect("read");
        assert!(
            ledger.is_ok(),
            "the ledger's own invariants still hold: {ledger:?}"
        );
    }
    let out = ledger_verify(&a);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("org.posd.Error.LedgerBreach")
            && err.contains(&receipt)
            && err.contains("host:vat:20"),
        "{err}"
    );
    let books = verify_books(&db_a);
    assert!(
        books.as_ref().is_err_and(|e| e.contains(&receipt)),
        "{books:?}"
    );

    // B: the receipt's first line edited.
    {
        let c = rusqlite::Connection::open(&db_b).expect("open B");
        c.execute_batch("DROP TRIGGER receipts_no_update;")
            .expect("drop trigger");
        let changed = c
            .execute(
                "UPDATE receipts SET document = json_set(document, '$.lines[0].amount', '0.99')
                 WHERE kind = 'sale'",
                [],
            )
            .expect("edit receipt");
        assert_eq!(changed, 1);
    }
    let out = ledger_verify(&b);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("org.posd.Error.LedgerBreach") && err.contains(&receipt),
        "{err}"
    );

    // The original is untouched and verifies.
    let out = ledger_verify(&daemon.state_dir);
    assert!(
        out.status.success() && text(&out.stdout).contains("ledger ok"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn posctl_day_commands_print_json_and_text() {
    let bus = TestBus::start();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let posctl_ok = |args: &[&str]| {
        let out = posctl(bus.address(), args);
        assert!(
            out.status.success(),
            "posctl {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    let parse = |stdout: &str| -> Value {
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("JSON ({e}): {stdout}"))
    };

    let opened = posctl_ok(&["day", "open", "150.00"]);
    assert!(opened.contains("0001-01-000001"), "{opened}");

    let cash_in = parse(&posctl_ok(&[
        "day",
        "cash-in",
        "20.00",
        "--reason",
        "Wechselgeld",
        "--cashier",
        "anna",
        "--json",
    ]));
    assert_eq!(cash_in["kind"], "cash_in", "{cash_in}");
    assert_eq!(cash_in["reason"], "Wechselgeld", "{cash_in}");
    assert_eq!(cash_in["id"], "0001-01-000002", "{cash_in}");
    assert_eq!(cash_in["totals"]["total"], "20.00", "{cash_in}");

    let x = parse(&posctl_ok(&["day", "x", "--json"]));
    assert_eq!(x["cash"]["expected"], "170.00", "{x}");
    assert_eq!(x["cash"]["float"], "150.00", "{x}");
    assert_eq!(x["cash"]["in"], "20.00", "{x}");
    assert_eq!(x["day"], "0001-01-D000001", "{x}");
    let x_text = posctl_ok(&["day", "x"]);
    assert!(
        x_text.contains("X-Bericht") && x_text.contains("170,00"),
        "{x_text}"
    );

    let z = parse(&posctl_ok(&["day", "z", "170.00", "--json"]));
    assert_eq!(z["kind"], "z", "{z}");
    assert_eq!(z["report"]["difference"], "0.00", "{z}");
    assert_eq!(z["report"]["counted"], "170.00", "{z}");
    assert_eq!(z["report"]["cash"]["expected"], "170.00", "{z}");
    let z_id = z["id"].as_str().expect("id").to_string();
    assert_eq!(z_id, "0001-01-000003");

    let history = parse(&posctl_ok(&["day", "history", "--json"]));
    let days = history.as_array().expect("list");
    assert_eq!(days.len(), 1, "{history}");
    assert_eq!(days[0]["z_receipt_id"], z_id.as_str(), "{history}");
    assert_eq!(days[0]["difference"], "0.00", "{history}");
    let listed = posctl_ok(&["day", "history"]);
    assert!(listed.contains(&z_id), "{listed}");

    let out = posctl(bus.address(), &["day", "z", "170.00"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("org.posd.Error.Conflict"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_refused_after_the_z_leaves_the_day_closed() {
    let till = Till::with_vouchers().await;
    let conn = &till.conn;
    let db = till.database();
    let manager = Manager1Proxy::new(conn).await.expect("manager");
    let register = register_proxy(conn).await;
    // A voucher sold, then a sale paid with it alone.
    let sale = open_sale(conn, &manager, "anna").await;
    let args = HashMap::from([("amount", Variant::from("25.00"))]);
    let sold_lines: Record = sale
        .inner()
        .call("Invoke", &("vouchers:sell-gift", args))
        .await
        .expect("sell");
    let voucher_line: Vec<String> = sold_lines["lines"].clone().try_into().expect("lines");
    let voucher_line = voucher_line[0].clone();
    let code = s(&record(&sold_lines["result"])["code"]);
    pay(&sale, "cash", "25.00").await;
    let sold = sale.checkout("sell-1").await.expect("Checkout");
    let sale = open_sale(conn, &manager, "anna").await;
    let _scarf = sale
        .add_item(item("Schal", "1", "10.00", "20"))
        .await
        .expect("AddItem");
    sale.enter_code(&code).await.expect("EnterCode");
    sale.checkout("redeem-1").await.expect("Checkout");
    register.close_day("25.00", "z-1").await.expect("CloseDay");
    assert_eq!(register.day_state().await.expect("DayState"), "closed");

    // Each refused call must leave the till as the Z left it: closed, no new day. (If one
    // opened a day anyway, that day is closed again so the next call starts closed too.)
    let mut changed = Vec::new();
    let closed = async || {
        (
            register.day_state().await.expect("DayState"),
            register.day_id().await.expect("DayId"),
            count(&db, "SELECT count(*) FROM days"),
        )
    };
    let days_before = count(&db, "SELECT count(*) FROM days");
    let err = register
        .cash_movement("out", "5.00", "Bank", HashMap::new(), "out-1")
        .await
        .expect_err("the drawer holds 0.00");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{err}");
    let after = closed().await;
    if after != ("closed".into(), String::new(), days_before) {
        changed.push(format!(
            "a cash-out refused as more than the drawer holds: DayState, DayId, days = {after:?}"
        ));
        register.close_day("0.00", "z-2").await.expect("CloseDay");
    }
    let days_before = count(&db, "SELECT count(*) FROM days");
    let receipts_before = receipts(&db);
    // A sold voucher is left out of a return: nothing is left to return, refused only
    // after the return looked for its day.
    let err = take_back(&manager, &sold, &[(&voucher_line, "1")], "ret-1")
        .await
        .expect_err("a voucher is not returned");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument", "{err}");
    assert_eq!(receipts(&db), receipts_before, "no receipt written");
    let after = closed().await;
    if after != ("closed".into(), String::new(), days_before) {
        changed.push(format!(
            "a return refused as holding only a voucher: DayState, DayId, days = {after:?}"
        ));
    }
    assert!(
        changed.is_empty(),
        "refused calls opened the next day:\n{}",
        changed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_days_refuses_dates_that_do_not_exist() {
    let bus = TestBus::start();
    let _daemon = DaemonSetup::new(bus.address(), bus.dir.path()).start();
    let conn = bus.client().await;
    let register = register_proxy(&conn).await;
    let mut accepted = Vec::new();
    for (from, to) in [("2026-13-45", ""), ("2026-02-30", ""), ("", "2026-00-10")] {
        match register.list_days(from, to).await {
            Err(err) => assert_eq!(
                name(&err),
                "org.posd.Error.InvalidArgument",
                "{from:?}..{to:?}: {err}"
            ),
            Ok(days) => accepted.push(format!("ListDays({from:?}, {to:?}) -> {} days", days.len())),
        }
    }
    assert!(
        accepted.is_empty(),
        "impossible dates were taken as bounds:\n{}",
        accepted.join("\n")
    );
}
