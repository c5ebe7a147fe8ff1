//! Multi-purpose gift vouchers and eWallets through the `posd-test-vouchers` plugin, driven
//! over the bus like a frontend: sold outside VAT with a slip, redeemed as a payment that
//! leaves the goods' VAT alone, topped up, voided action by action, eWallets refusing a
//! void, vouchers left out of a return — balances read from the ledger in the database.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use posd::client::{Manager1Proxy, Plugin1Proxy, Sale1Proxy, error_reply, plugin_path};
use rust_decimal::Decimal;
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

fn item<'a>(name: &'a str, price: &'a str, rate: &'a str) -> HashMap<&'a str, Variant<'a>> {
    HashMap::from([
        ("sku", Variant::from("4006381333931")),
        ("name", Variant::from(name)),
        ("qty", Variant::from("1")),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from(rate)),
    ])
}

/// A daemon with the vouchers plugin and a receipt printer.
/// Fields drop in order: the client, the daemon, the printer, then the bus.
struct Till {
    conn: zbus::Connection,
    daemon: Daemon,
    printer: FakePrinter,
    _bus: TestBus,
}

impl Till {
    async fn start() -> Self {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let printer = FakePrinter::listen(0);
        let library = build_rust_plugin("posd-test-vouchers");
        let devices = format!(
            "[[devices]]\nname = \"receipt\"\nkind = \"printer\"\nconnection = \"{}\"\nstatus_poll_ms = 200\n",
            printer.connection()
        );
        let (dir, config) = plugin_config(&root, 5000, &devices);
        place_plugin(&library, &dir, "libposd_test_vouchers.so");
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .start();
        let conn = bus.client().await;
        Self {
            conn,
            daemon,
            printer,
            _bus: bus,
        }
    }

    async fn manager(&self) -> Manager1Proxy<'_> {
        Manager1Proxy::new(&self.conn).await.expect("manager")
    }

    async fn open_sale(&self) -> Sale1Proxy<'_> {
        let path = self
            .manager()
            .await
            .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        sale_proxy(&self.conn, path).await
    }

    fn database(&self) -> PathBuf {
        self.daemon.database()
    }

    /// The ledger balance of a code, `None` for a code never posted to.
    fn balance(&self, code: &str) -> Option<Decimal> {
        balance(&self.database(), code)
    }

    fn count(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(self.database())
            .expect("open")
            .query_row(sql, [], |r| r.get(0))
            .expect("count")
    }

    fn verify_ledger(&self) {
        let verified = verify_books(&self.database());
        assert!(verified.is_ok(), "{verified:?}");
    }
}

fn balance(db: &Path, code: &str) -> Option<Decimal> {
    let c = rusqlite::Connection::open(db).expect("open");
    posd::ledger::account(&c, &format!("vouchers:voucher:{code}"))
        .expect("read account")
        .map(|a| a.balance)
}

fn dec(text: &str) -> Option<Decimal> {
    Some(text.parse().expect("decimal"))
}

async fn invoke(
    sale: &Sale1Proxy<'_>,
    action: &str,
    code: &str,
    amount: &str,
) -> zbus::Result<Record> {
    let args = HashMap::from([
        ("code", Variant::from(code)),
        ("amount", Variant::from(amount)),
    ]);
    sale.inner().call("Invoke", &(action, args)).await
}

async fn set_customer(sale: &Sale1Proxy<'_>, customer: &str) -> zbus::Result<()> {
    sale.inner().call("SetCustomer", &(customer,)).await
}

async fn pay_rest(sale: &Sale1Proxy<'_>, method: &str) {
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    sale.add_tender(method, &due, HashMap::new())
        .await
        .expect("pay the rest");
}

/// Sells `code` for `amount` paid in cash; returns the receipt.
async fn sell(till: &Till, code: &str, amount: &str, key: &str) -> String {
    let sale = till.open_sale().await;
    invoke(&sale, "vouchers:sell", code, amount)
        .await
        .expect("sell");
    pay_rest(&sale, "cash").await;
    sale.checkout(key).await.expect("Checkout")
}

#[tokio::test(flavor = "multi_thread")]
async fn vouchers_are_sold_redeemed_topped_up_and_voided_in_the_ledger() {
    let till = Till::start().await;
    let manager = till.manager().await;

    let actions: Vec<Record> = till
        .open_sale()
        .await
        .inner()
        .call("Actions", &())
        .await
        .expect("Actions");
    let ids: Vec<String> = actions
        .iter()
        .map(|a| String::try_from(a["id"].clone()).expect("id"))
        .collect();
    assert_eq!(ids, vec!["vouchers:sell", "vouchers:topup"]);

    // Sold for 50: outside VAT, a slip with the code, balance 50.
    let sold = sell(&till, "GV-1", "50.00", "sell-1").await;
    assert_eq!(till.balance("GV-1"), dec("50.00"));
    let receipt = manager.get_receipt(&sold).await.expect("GetReceipt");
    let vat = records(&receipt["vat"]);
    assert_eq!(vat.len(), 1, "only the voucher line");
    assert_eq!(
        (s(&vat[0]["rate"]), s(&vat[0]["gross"]), s(&vat[0]["vat"])),
        (String::new(), "50.00".into(), "0.00".into()),
        "the voucher line is outside VAT"
    );
    let lines = records(&receipt["lines"]);
    assert_eq!(
        (s(&lines[0]["kind"]), s(&lines[0]["name"])),
        ("voucher_sale".into(), "Gutschein".into())
    );
    let sections = records(&receipt["sections"]);
    assert_eq!(sections.len(), 1);
    assert!(bool::try_from(sections[0]["slip"].clone()).expect("slip"));
    assert_eq!(
        s(&sections[0]["code"]),
        "••••",
        "the sold voucher's slip is secret: the journal keeps its code masked"
    );
    assert_eq!(
        till.count(&format!(
            "SELECT count(*) FROM print_jobs WHERE kind = 'secret_slip' AND reference = '{sold}'"
        )),
        1,
        "the slip was queued for the printer"
    );
    // Sold once only.
    let again = till.open_sale().await;
    assert_eq!(
        name(
            &invoke(&again, "vouchers:sell", "GV-1", "10.00")
                .await
                .expect_err("sold")
        ),
        "org.posd.Error.Conflict"
    );
    again.cancel().await.expect("Cancel");

    // Redeemed as a partial payment: card 20, the voucher the 40 left of 60; the goods' VAT
    // is the same as without the voucher.
    let sale = till.open_sale().await;
    sale.add_item(item("Mantel", "60.00", "20"))
        .await
        .expect("AddItem");
    sale.add_tender("card", "20.00", HashMap::new())
        .await
        .expect("card");
    let tax_before = s(&sale.totals().await.expect("Totals")["tax"]);
    let entered = sale.enter_code("GV-1").await.expect("EnterCode");
    assert_eq!(s(&entered["plugin"]), "vouchers");
    assert_eq!(s(&entered["kind"]), "voucher");
    let totals = sale.totals().await.expect("Totals");
    assert_eq!(
        (s(&totals["tax"]), s(&totals["due"]), s(&totals["paid"])),
        (tax_before.clone(), "0.00".into(), "60.00".into()),
        "a voucher payment does not reduce VAT"
    );
    assert_eq!(tax_before, "10.00");
    let redeemed = sale.checkout("redeem-1").await.expect("Checkout");
    assert_eq!(till.balance("GV-1"), dec("10.00"), "50 less the 40 paid");
    let receipt = manager.get_receipt(&redeemed).await.expect("GetReceipt");
    let vat = records(&receipt["vat"]);
    assert_eq!(
        vat.iter()
            .map(|r| (s(&r["rate"]), s(&r["gross"]), s(&r["vat"])))
            .collect::<Vec<_>>(),
        vec![("20".to_string(), "60.00".to_string(), "10.00".to_string())]
    );
    let tenders = records(&receipt["tenders"]);
    let voucher: Vec<&Record> = tenders
        .iter()
        .filter(|t| s(&t["method"]) == "voucher")
        .collect();
    assert_eq!(s(&voucher[0]["amount"]), "40.00");

    // Topped up by 10: 20; voiding the top-up gives 10.
    let sale = till.open_sale().await;
    invoke(&sale, "vouchers:topup", "GV-1", "10.00")
        .await
        .expect("topup");
    assert_eq!(
        s(&sale.lines().await.expect("Lines")[0]["kind"]),
        "voucher_topup"
    );
    pay_rest(&sale, "cash").await;
    let topped_up = sale.checkout("topup-1").await.expect("Checkout");
    assert_eq!(till.balance("GV-1"), dec("20.00"));
    manager
        .void(&topped_up, "void-topup-1")
        .await
        .expect("Void");
    assert_eq!(
        till.balance("GV-1"),
        dec("10.00"),
        "the top-up is taken off"
    );

    // GV-2 sold for 100, 20 redeemed (the voucher follows the 20 due): 80; voiding the
    // redemption books it back: 100.
    let sold_2 = sell(&till, "GV-2", "100.00", "sell-2").await;
    let sale = till.open_sale().await;
    sale.add_item(item("Buch", "20.00", "10"))
        .await
        .expect("AddItem");
    sale.enter_code("GV-2").await.expect("EnterCode");
    assert_eq!(s(&sale.totals().await.expect("Totals")["due"]), "0.00");
    let redeemed_2 = sale.checkout("redeem-2").await.expect("Checkout");
    assert_eq!(till.balance("GV-2"), dec("80.00"), "100 less the 20 paid");
    manager
        .void(&redeemed_2, "void-redeem-2")
        .await
        .expect("Void");
    assert_eq!(
        till.balance("GV-2"),
        dec("100.00"),
        "the redemption is booked back"
    );

    // Voiding the sale of a voucher pays out what is left: the balance goes to 0.
    manager.void(&sold_2, "void-sell-2").await.expect("Void");
    assert_eq!(till.balance("GV-2"), dec("0"));
    let void = manager.void(&sold, "void-sell-1").await.expect("Void");
    assert_eq!(till.balance("GV-1"), dec("0"), "the 10 left of GV-1");
    // GV-1 was sold for 50 and 40 of it spent: the customer gets the 10 back in cash, not
    // the 50 paid for it, and the receipt says so.
    let receipt = manager.get_receipt(&void).await.expect("GetReceipt");
    let totals: HashMap<String, OwnedVariant> =
        receipt["totals"].clone().try_into().expect("totals");
    assert_eq!(s(&totals["total"]), "-10.00");
    let lines = records(&receipt["lines"]);
    assert_eq!(
        lines
            .iter()
            .map(|l| (s(&l["kind"]), s(&l["amount"])))
            .collect::<Vec<_>>(),
        vec![("voucher_sale".to_string(), "-10.00".to_string())]
    );
    let tenders = records(&receipt["tenders"]);
    assert_eq!(
        tenders
            .iter()
            .map(|t| (s(&t["method"]), s(&t["amount"])))
            .collect::<Vec<_>>(),
        vec![("cash".to_string(), "-10.00".to_string())],
        "cash back net of the change given on the sale, less what was spent"
    );
    let vat = records(&receipt["vat"]);
    assert_eq!(
        vat.iter()
            .map(|r| (s(&r["rate"]), s(&r["gross"])))
            .collect::<Vec<_>>(),
        vec![(String::new(), "-10.00".to_string())]
    );
    let sections = records(&receipt["sections"]);
    let said: Vec<String> = sections
        .iter()
        .flat_map(|x| Vec::<String>::try_from(x["lines"].clone()).expect("lines"))
        .collect();
    assert_eq!(
        said,
        vec!["Ausbezahlt: 10.00 EUR", "Bereits eingelöst: 40.00 EUR"],
        "the void's voucher section"
    );

    // A voucher bought with another voucher and partly spent can't be voided: the old
    // voucher would come back whole and the spent part be handed out again. Nothing moves.
    let _ = sell(&till, "GV-4", "40.00", "sell-4").await;
    let sale = till.open_sale().await;
    invoke(&sale, "vouchers:sell", "GV-3", "30.00")
        .await
        .expect("sell");
    sale.enter_code("GV-4").await.expect("EnterCode");
    assert_eq!(s(&sale.totals().await.expect("Totals")["due"]), "0.00");
    let sold_3 = sale.checkout("sell-3").await.expect("Checkout");
    let sale = till.open_sale().await;
    sale.add_item(item("Kerze", "5.00", "20"))
        .await
        .expect("AddItem");
    sale.enter_code("GV-3").await.expect("EnterCode");
    sale.checkout("redeem-3").await.expect("Checkout");
    assert_eq!(
        (till.balance("GV-3"), till.balance("GV-4")),
        (dec("25.00"), dec("10.00"))
    );
    let receipts_before = till.count("SELECT count(*) FROM receipts");
    let refused = manager
        .void(&sold_3, "void-sell-3")
        .await
        .expect_err("spent value");
    assert_eq!(name(&refused), "org.posd.Error.NotAllowed", "{refused}");
    assert_eq!(
        (till.balance("GV-3"), till.balance("GV-4")),
        (dec("25.00"), dec("10.00")),
        "a refused void changes no balance"
    );
    assert_eq!(
        till.count("SELECT count(*) FROM receipts"),
        receipts_before,
        "and writes no receipt"
    );

    // Known but empty, and unknown.
    let sale = till.open_sale().await;
    sale.add_item(item("Brot", "2.49", "10"))
        .await
        .expect("AddItem");
    assert_eq!(
        name(&sale.enter_code("GV-1").await.expect_err("empty")),
        "org.posd.Error.VoucherEmpty"
    );
    assert_eq!(
        name(&sale.enter_code("GV-99").await.expect_err("unknown")),
        "org.posd.Error.NotFound"
    );
    sale.cancel().await.expect("Cancel");

    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ewallet_top_up_needs_a_customer_and_cannot_be_voided() {
    let till = Till::start().await;
    let manager = till.manager().await;
    let sale = till.open_sale().await;
    assert_eq!(
        name(
            &invoke(&sale, "vouchers:topup", "EW-1", "20.00")
                .await
                .expect_err("no customer")
        ),
        "org.posd.Error.CustomerRequired"
    );
    set_customer(&sale, "C-1001").await.expect("SetCustomer");
    invoke(&sale, "vouchers:topup", "EW-1", "20.00")
        .await
        .expect("topup");
    assert_eq!(
        name(&set_customer(&sale, "C-2002").await.expect_err("locked")),
        "org.posd.Error.CustomerLocked"
    );
    pay_rest(&sale, "cash").await;
    let receipt = sale.checkout("ew-1").await.expect("Checkout");
    assert_eq!(till.balance("EW-1"), dec("20.00"));

    let receipts = till.count("SELECT count(*) FROM receipts");
    let entries = till.count("SELECT count(*) FROM ledger_entries");
    let err = manager
        .void(&receipt, "void-ew-1")
        .await
        .expect_err("refused");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed");
    assert!(
        error_reply(&err)
            .expect("named")
            .1
            .contains("eWallet actions cannot be voided"),
        "{err}"
    );
    assert_eq!(till.balance("EW-1"), dec("20.00"), "nothing changed");
    assert_eq!(till.count("SELECT count(*) FROM receipts"), receipts);
    assert_eq!(till.count("SELECT count(*) FROM ledger_entries"), entries);

    // Paying with the wallet makes that receipt unvoidable too.
    let sale = till.open_sale().await;
    sale.add_item(item("Tee", "5.00", "10"))
        .await
        .expect("AddItem");
    sale.enter_code("EW-1").await.expect("EnterCode");
    let paid = sale.checkout("ew-2").await.expect("Checkout");
    assert_eq!(till.balance("EW-1"), dec("15.00"));
    assert_eq!(
        name(&manager.void(&paid, "void-ew-2").await.expect_err("refused")),
        "org.posd.Error.NotAllowed"
    );
    assert_eq!(till.balance("EW-1"), dec("15.00"));
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_return_leaves_the_voucher_out_and_refunds_the_item() {
    let till = Till::start().await;
    let manager = till.manager().await;
    let sale = till.open_sale().await;
    let voucher_line = invoke(&sale, "vouchers:sell", "GV-3", "25.00")
        .await
        .expect("sell");
    let voucher_line: Vec<String> = voucher_line["lines"].clone().try_into().expect("lines");
    let item_line = sale
        .add_item(item("Buch", "15.00", "10"))
        .await
        .expect("AddItem");
    pay_rest(&sale, "card").await;
    let receipt = sale.checkout("ret-1").await.expect("Checkout");
    assert_eq!(till.balance("GV-3"), dec("25.00"));

    let (returned, messages) = manager
        .r#return(
            &receipt,
            vec![
                HashMap::from([
                    ("line", Variant::from(voucher_line[0].as_str())),
                    ("qty", Variant::from("1")),
                ]),
                HashMap::from([
                    ("line", Variant::from(item_line.as_str())),
                    ("qty", Variant::from("1")),
                ]),
            ],
            "return-1",
        )
        .await
        .expect("Return");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].starts_with("Gutschein:"), "{messages:?}");
    let back = manager.get_receipt(&returned).await.expect("GetReceipt");
    assert_eq!(s(&back["kind"]), "return");
    let lines = records(&back["lines"]);
    assert_eq!(
        lines
            .iter()
            .map(|l| (s(&l["id"]), s(&l["kind"]), s(&l["amount"])))
            .collect::<Vec<_>>(),
        vec![(item_line.clone(), "item".to_string(), "-15.00".to_string())]
    );
    let totals: Record = back["totals"].clone().try_into().expect("totals");
    assert_eq!(s(&totals["total"]), "-15.00");
    assert_eq!(till.balance("GV-3"), dec("25.00"), "the voucher stays");
    till.verify_ledger();
}

/// The tenders of a receipt as (method, amount, ref).
async fn tenders_of(manager: &Manager1Proxy<'_>, receipt: &str) -> Vec<(String, String, String)> {
    let r = manager.get_receipt(receipt).await.expect("GetReceipt");
    records(&r["tenders"])
        .iter()
        .map(|t| (s(&t["method"]), s(&t["amount"]), s(&t["ref"])))
        .collect()
}

async fn give_back(
    manager: &Manager1Proxy<'_>,
    receipt: &str,
    line: &str,
    qty: &str,
    key: &str,
) -> String {
    manager
        .r#return(
            receipt,
            vec![HashMap::from([
                ("line", Variant::from(line)),
                ("qty", Variant::from(qty)),
            ])],
            key,
        )
        .await
        .expect("Return")
        .0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_return_of_goods_paid_by_voucher_and_cash_puts_the_vouchers_share_back_on_it() {
    let till = Till::start().await;
    let manager = till.manager().await;
    sell(&till, "GV-5", "60.00", "sell-5").await;
    // 100.00 of goods, 60.00 by GV-5, 50.00 cash with 10.00 change: 60 % voucher, 40 % cash.
    let sale = till.open_sale().await;
    let belt = sale
        .add_item(item("Gürtel", "30.00", "20"))
        .await
        .expect("AddItem");
    let trousers = sale
        .add_item(HashMap::from([
            ("name", Variant::from("Hose")),
            ("qty", Variant::from("2")),
            ("unit_price", Variant::from("35.00")),
            ("tax_rate", Variant::from("20")),
        ]))
        .await
        .expect("AddItem");
    sale.enter_code("GV-5").await.expect("EnterCode");
    sale.add_tender("cash", "50.00", HashMap::new())
        .await
        .expect("cash");
    let paid = sale.checkout("pay-5").await.expect("Checkout");
    assert_eq!(till.balance("GV-5"), dec("0.00"));
    let drawer = |till: &Till| {
        let c = rusqlite::Connection::open(till.database()).expect("open");
        posd::ledger::account(&c, "host:cash:01")
            .expect("read account")
            .map(|a| a.balance)
    };
    let drawer_after_sales = drawer(&till);

    // The belt (30.00): 18.00 back onto GV-5, 12.00 cash.
    let back = give_back(&manager, &paid, &belt, "1", "ret-belt").await;
    assert_eq!(
        tenders_of(&manager, &back).await,
        vec![
            (
                "voucher".to_string(),
                "-18.00".to_string(),
                "GV-5".to_string()
            ),
            ("cash".to_string(), "-12.00".to_string(), String::new()),
        ]
    );
    assert_eq!(
        till.balance("GV-5"),
        dec("18.00"),
        "the voucher took its share"
    );
    let receipt = manager.get_receipt(&back).await.expect("GetReceipt");
    let sections = records(&receipt["sections"]);
    assert!(
        sections
            .iter()
            .any(|x| Vec::<String>::try_from(x["lines"].clone())
                .expect("lines")
                .contains(&"Guthaben: 18.00 EUR".to_string())),
        "the return receipt shows the new balance"
    );

    // The trousers one by one: 21.00 / 14.00 each; all returns add up to the tenders.
    for (key, balance) in [("ret-t1", "39.00"), ("ret-t2", "60.00")] {
        let back = give_back(&manager, &paid, &trousers, "1", key).await;
        assert_eq!(
            tenders_of(&manager, &back).await,
            vec![
                (
                    "voucher".to_string(),
                    "-21.00".to_string(),
                    "GV-5".to_string()
                ),
                ("cash".to_string(), "-14.00".to_string(), String::new()),
            ]
        );
        assert_eq!(till.balance("GV-5"), dec(balance));
    }
    assert_eq!(
        drawer(&till)
            .zip(drawer_after_sales)
            .map(|(now, then)| then - now),
        dec("40.00"),
        "only the cash share left the drawer, the 40.00 it kept"
    );
    till.verify_ledger();

    // Without the plugin nobody takes the voucher's share back: the return is refused
    // rather than paying it out in cash, and nothing is written.
    sell(&till, "GV-6", "30.00", "sell-6").await;
    let sale = till.open_sale().await;
    let scarf = sale
        .add_item(item("Schal", "50.00", "20"))
        .await
        .expect("AddItem");
    sale.enter_code("GV-6").await.expect("EnterCode");
    pay_rest(&sale, "cash").await;
    let paid = sale.checkout("pay-6").await.expect("Checkout");
    manager
        .set_plugin_enabled("vouchers", false)
        .await
        .expect("disable");
    let plugin = Plugin1Proxy::builder(&till.conn)
        .path(plugin_path("vouchers"))
        .build()
        .await
        .expect("plugin proxy");
    eventually("disabled", || async {
        plugin.state().await.is_ok_and(|s| s == "disabled")
    })
    .await;
    let receipts = till.count("SELECT count(*) FROM receipts");
    let err = manager
        .r#return(
            &paid,
            vec![HashMap::from([
                ("line", Variant::from(scarf.as_str())),
                ("qty", Variant::from("1")),
            ])],
            "ret-6",
        )
        .await
        .expect_err("the voucher's share has nowhere to go");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed", "{err}");
    let text = error_reply(&err).expect("named error").1;
    assert!(
        text.contains("30.00") && text.contains("vouchers"),
        "{text}"
    );
    assert_eq!(till.count("SELECT count(*) FROM receipts"), receipts);
    assert_eq!(till.balance("GV-6"), dec("0.00"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_slip_prints_its_pin_and_leaves_no_copy_in_the_database_files() {
    let till = Till::start().await;
    let manager = till.manager().await;
    let sold = sell(&till, "GV-918273645", "20.00", "sell-secret").await;
    // The test plugin's PIN of the code: its characters reversed behind "PIN".
    let pin = "PIN546372819VG";
    eventually("the slip printed", || async {
        !find_all(&till.printer.received(), pin.as_bytes()).is_empty()
    })
    .await;
    eventually("the printed slip's bytes wiped", || async {
        till.count(&format!(
            "SELECT count(*) FROM print_jobs WHERE kind = 'secret_slip' AND reference = '{sold}'
             AND state = 'printed' AND length(bytes) = 0"
        )) == 1
    })
    .await;
    let received = till.printer.received();
    assert!(
        find_all(&received, format!("PIN: {pin}").as_bytes()).len() == 1,
        "the slip has the PIN in full as text"
    );

    let receipt = manager.get_receipt(&sold).await.expect("GetReceipt");
    let sections = records(&receipt["sections"]);
    let lines: Vec<String> = sections[0]["lines"].clone().try_into().expect("lines");
    assert!(
        lines.contains(&"PIN: ••••19VG".to_string()),
        "the journal keeps the PIN masked: {lines:?}"
    );

    let db = till.database();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", db.display())) {
            bytes.extend(b);
        }
    }
    assert!(
        bytes.len() > 10_000,
        "read the database: {} bytes",
        bytes.len()
    );
    assert!(
        !find_all(&bytes, b"Guthaben: 20.00").is_empty(),
        "the search reads the journal's text"
    );
    assert!(
        find_all(&bytes, pin.as_bytes()).is_empty(),
        "the PIN is in the database files"
    );
    assert!(
        find_all(&bytes, &pin.as_bytes()[3..]).is_empty(),
        "the PIN's digits are in the database files"
    );

    // A reprint is a copy of the receipt: the secret slip does not come again.
    let printed = till.printer.received().len();
    manager.reprint(&sold).await.expect("Reprint");
    eventually("the copy printed", || async {
        till.printer.received().len() > printed
    })
    .await;
    eventually("the queue empty", || async {
        till.count("SELECT count(*) FROM print_jobs WHERE state = 'queued'") == 0
    })
    .await;
    assert_eq!(
        find_all(&till.printer.received(), pin.as_bytes()).len(),
        2,
        "the PIN printed once as text and once in the QR, and not on the copy"
    );
}
