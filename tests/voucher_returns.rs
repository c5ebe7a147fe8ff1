//! Returns and voids of sales paid with the `posd-vouchers` plugin's tenders, through the
//! real daemon with the plugin as a `.so`: a partial return splits its refund between the
//! voucher and cash, the voucher's share goes back onto it (or onto a new voucher when it
//! keeps no rest, or out in cash when the programme says `returns = "cash"`), an eWallet's
//! and a customer credit's share go back onto them; a full return gives a discount code's
//! use and a discount voucher's reduction back, a partial one does not; a void of a
//! redemption undoes the move of its rest (breakage, credit, residual voucher), and is
//! refused, changing nothing, when the credited rest was spent since. The books verify
//! after each.

mod support;

use std::collections::HashMap;

use posd_client::{Manager1Proxy, Sale1Proxy};
use rust_decimal::Decimal;
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

const SECTION: &str = r#"
[[plugin.vouchers.programmes]]
id = "gift"
name = "Geschenkgutschein"
kind = "gift"
min_amount = "5.00"
max_amount = "500.00"
code = { format = "template", groups = [4, 4, 4, 4], separator = "-" }

[[plugin.vouchers.programmes]]
id = "once"
name = "Einmalgutschein"
kind = "gift"
amount = "50.00"
reusable = false
residual = "breakage"
code = { format = "template", prefix = "NR" }

[[plugin.vouchers.programmes]]
id = "credit"
name = "Kundengutschein"
kind = "gift"
amount = "50.00"
reusable = false
residual = "customer_credit"
code = { format = "template", prefix = "CC" }

[[plugin.vouchers.programmes]]
id = "rest"
name = "Gutschein mit Restwert"
kind = "gift"
amount = "50.00"
reusable = false
residual = "residual_voucher"
code = { format = "template", prefix = "RV" }

[[plugin.vouchers.programmes]]
id = "bar"
name = "Barrückgabe-Gutschein"
kind = "gift"
min_amount = "5.00"
max_amount = "500.00"
returns = "cash"
code = { format = "template", prefix = "BR" }

[[plugin.vouchers.programmes]]
id = "wallet"
name = "eWallet"
kind = "ewallet"
max_amount = "1000.00"
code = { format = "template", prefix = "EW" }

[[plugin.vouchers.programmes]]
id = "rabatt"
name = "Rabattgutschein"
kind = "discount"
max_amount = "100.00"
code = { format = "template", prefix = "RG" }

[[plugin.vouchers.discount_codes]]
code = "XMAS10"
name = "Weihnachten -10 %"
percent = "10"
total_uses = 5
"#;

fn item<'a>(name: &'a str, price: &'a str) -> HashMap<&'a str, Variant<'a>> {
    HashMap::from([
        ("name", Variant::from(name)),
        ("qty", Variant::from("1")),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from("20")),
    ])
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

/// A daemon with the vouchers plugin, a receipt printer and a key file.
/// Fields drop in order: the client, the daemon, the printer, then the bus.
struct Till {
    conn: zbus::Connection,
    daemon: Daemon,
    printer: FakePrinter,
    _bus: TestBus,
}

impl Till {
    async fn start() -> Self {
        Self::start_with(SECTION).await
    }

    async fn start_with(section: &str) -> Self {
        let bus = TestBus::start();
        let (daemon, printer, conn) = start_with_vouchers(&bus, section).await;
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

    async fn open_sale(&self, customer: Option<&str>) -> Sale1Proxy<'_> {
        let path = self
            .manager()
            .await
            .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        let sale = sale_proxy(&self.conn, path).await;
        if let Some(c) = customer {
            sale.inner()
                .call::<_, _, ()>("SetCustomer", &(c,))
                .await
                .expect("SetCustomer");
        }
        sale
    }

    /// The balance `LookupCode` shows, or the error's name (`VoucherEmpty`).
    async fn balance(&self, code: &str) -> String {
        match self.manager().await.lookup_code(code).await {
            Ok(info) => s(&info["balance"]),
            Err(e) => name(&e).trim_start_matches("org.posd.Error.").to_string(),
        }
    }

    /// A ledger account's balance as the books hold it (0 for none).
    fn account(&self, code: &str) -> Decimal {
        let c = rusqlite::Connection::open(self.daemon.database()).expect("open");
        posd::ledger::account(&c, code)
            .expect("read account")
            .map_or(Decimal::ZERO, |a| a.balance)
    }

    fn verify_ledger(&self) {
        let verified = verify_books(&self.daemon.database());
        assert!(verified.is_ok(), "{verified:?}");
    }

    /// Sells a voucher of `programme` paid in cash (for `customer`); its code.
    async fn sell(&self, programme: &str, amount: &str, customer: Option<&str>) -> String {
        let sale = self.open_sale(customer).await;
        let args: HashMap<&str, Variant<'_>> = if amount.is_empty() {
            HashMap::new()
        } else {
            HashMap::from([("amount", Variant::from(amount))])
        };
        let answer: Record = sale
            .inner()
            .call("Invoke", &(format!("vouchers:sell-{programme}"), args))
            .await
            .expect("sell");
        let result: Record = answer["result"].clone().try_into().expect("result");
        let code = s(&result["code"]);
        pay_rest(&sale).await;
        sale.checkout(&format!("sell-{code}"))
            .await
            .expect("Checkout");
        code
    }

    /// Returns one unit of `line` of `receipt`.
    async fn give_back(&self, receipt: &str, line: &str, key: &str) -> zbus::Result<String> {
        self.manager()
            .await
            .r#return(
                receipt,
                vec![HashMap::from([
                    ("line", Variant::from(line)),
                    ("qty", Variant::from("1")),
                ])],
                key,
            )
            .await
            .map(|(id, _)| id)
    }

    /// A receipt's tenders: (method, amount, ref).
    async fn tenders_of(&self, receipt: &str) -> Vec<(String, String, String)> {
        let r = self
            .manager()
            .await
            .get_receipt(receipt)
            .await
            .expect("GetReceipt");
        records(&r["tenders"])
            .iter()
            .map(|t| (s(&t["method"]), s(&t["amount"]), s(&t["ref"])))
            .collect()
    }

    /// A receipt's sections: (title, lines, masked code).
    async fn sections_of(&self, receipt: &str) -> Vec<(String, Vec<String>, String)> {
        let r = self
            .manager()
            .await
            .get_receipt(receipt)
            .await
            .expect("GetReceipt");
        records(&r["sections"])
            .iter()
            .map(|x| {
                (
                    s(&x["title"]),
                    x["lines"].clone().try_into().expect("lines"),
                    s(&x["code"]),
                )
            })
            .collect()
    }

    /// The full code of a voucher printed on a slip, found by its prefix and last four.
    async fn printed_code(&self, prefix: &str, masked: &str) -> String {
        let last4 = masked.trim_start_matches('•');
        for _ in 0..100 {
            let bytes = self.printer.received();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some(code) = text
                .match_indices(prefix)
                .map(|(i, _)| text[i..].chars().take(22).collect::<String>())
                .find(|c| c.ends_with(last4))
            {
                return code;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no code ending in {last4} printed");
    }

    /// A customer's credit as `Manager1.Customer` shows it.
    async fn credit_of(&self, customer: &str) -> String {
        let info: Record = self
            .manager()
            .await
            .inner()
            .call("Customer", &(customer,))
            .await
            .expect("Customer");
        records(&info["accounts"])
            .iter()
            .find(|a| s(&a["kind"]) == "credit")
            .map_or_else(|| "none".to_string(), |a| s(&a["balance"]))
    }
}

async fn pay_rest(sale: &Sale1Proxy<'_>) {
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    if dec(&due) > Decimal::ZERO {
        sale.add_tender("cash", &due, HashMap::new())
            .await
            .expect("pay the rest");
    }
}

/// Redeems `code` on a sale of one item of `price` (for `customer`); the receipt and the
/// item's line.
async fn redeem(till: &Till, code: &str, price: &str, customer: Option<&str>) -> (String, String) {
    let sale = till.open_sale(customer).await;
    let line = sale.add_item(item("Hemd", price)).await.expect("AddItem");
    sale.enter_code(code).await.expect("EnterCode");
    pay_rest(&sale).await;
    let receipt = sale
        .checkout(&format!("redeem-{code}-{price}"))
        .await
        .expect("Checkout");
    (receipt, line)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_return_splits_the_refund_and_the_vouchers_share_goes_back_onto_it() {
    let till = Till::start().await;
    let code = till.sell("gift", "60.00", None).await;
    // 100.00 of goods, 60.00 by the voucher, 50.00 cash with 10.00 change: 60 % / 40 %.
    let sale = till.open_sale(None).await;
    let belt = sale
        .add_item(item("Gürtel", "30.00"))
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
    sale.enter_code(&code).await.expect("EnterCode");
    sale.add_tender("cash", "50.00", HashMap::new())
        .await
        .expect("cash");
    let paid = sale.checkout("pay").await.expect("Checkout");
    assert_eq!(till.balance(&code).await, "VoucherEmpty");
    let drawer = till.account("host:cash:01");

    // The belt (30.00): 18.00 back onto the voucher, 12.00 in cash.
    let back = till
        .give_back(&paid, &belt, "ret-belt")
        .await
        .expect("Return");
    let masked = format!("••••{}", &code[code.len() - 4..]);
    assert_eq!(
        till.tenders_of(&back).await,
        [
            ("voucher".to_string(), "-18.00".to_string(), masked.clone()),
            ("cash".to_string(), "-12.00".to_string(), String::new()),
        ]
    );
    assert_eq!(till.balance(&code).await, "18.00");
    assert_eq!(drawer - till.account("host:cash:01"), dec("12.00"));
    let sections = till.sections_of(&back).await;
    assert!(
        sections
            .iter()
            .any(|(title, lines, _)| title == "Gutschein zurückgebucht"
                && lines.contains(&format!("Code: {masked}"))
                && lines.contains(&"Guthaben: 18.00 EUR".to_string())),
        "{sections:?}"
    );
    // The same return again (same key) is the same receipt and changes nothing.
    assert_eq!(
        till.give_back(&paid, &belt, "ret-belt")
            .await
            .expect("replay"),
        back
    );
    assert_eq!(till.balance(&code).await, "18.00");
    // The belt can't come back twice.
    let err = till
        .give_back(&paid, &belt, "ret-belt-2")
        .await
        .expect_err("already returned");
    assert_eq!(name(&err), "org.posd.Error.InvalidArgument");
    assert_eq!(till.balance(&code).await, "18.00");

    // The trousers one by one: 21.00 back on the voucher and 14.00 cash each, so all the
    // returns add up to the sale's tenders: 60.00 on the voucher, 40.00 cash.
    for (key, balance) in [("ret-t1", "39.00"), ("ret-t2", "60.00")] {
        let back = till.give_back(&paid, &trousers, key).await.expect("Return");
        assert_eq!(
            till.tenders_of(&back).await,
            [
                ("voucher".to_string(), "-21.00".to_string(), masked.clone()),
                ("cash".to_string(), "-14.00".to_string(), String::new()),
            ]
        );
        assert_eq!(till.balance(&code).await, balance);
    }
    assert_eq!(
        drawer - till.account("host:cash:01"),
        dec("40.00"),
        "only the cash share left the drawer, the 40.00 it kept"
    );
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_voucher_that_keeps_no_rest_gets_a_new_voucher_for_the_return_and_it_pays() {
    let till = Till::start().await;
    let code = till.sell("once", "", None).await;
    let (paid, line) = redeem(&till, &code, "30.00", None).await;
    assert_eq!(till.account("vouchers:breakage"), dec("20.00"));

    let back = till.give_back(&paid, &line, "ret").await.expect("Return");
    let sections = till.sections_of(&back).await;
    let (_, lines, new_masked) = sections
        .iter()
        .find(|(title, _, _)| title == "Gutschein aus Rückgabe Einmalgutschein")
        .cloned()
        .unwrap_or_else(|| panic!("a new voucher's slip: {sections:?}"));
    assert!(lines.contains(&"Wert: 30.00 EUR".to_string()), "{lines:?}");
    assert!(new_masked.starts_with("••••"), "masked in the journal");
    assert_eq!(
        till.tenders_of(&back).await,
        [(
            "voucher".to_string(),
            "-30.00".to_string(),
            new_masked.clone()
        )]
    );
    assert_eq!(
        till.balance(&code).await,
        "VoucherEmpty",
        "the old one stays empty"
    );
    assert_eq!(till.account("vouchers:breakage"), dec("20.00"));
    let new_code = till.printed_code("NR-", &new_masked).await;
    assert_eq!(till.balance(&new_code).await, "30.00");
    // The slip was secret: once printed, its code is in none of the database files.
    let db = till.daemon.database();
    eventually("the return's secret slip wiped", || async {
        let c = rusqlite::Connection::open(&db).expect("open");
        c.query_row(
            "SELECT count(*) FROM print_jobs WHERE kind = 'secret_slip' AND reference = ?1
             AND state = 'printed' AND length(bytes) = 0",
            [&back],
            |r| r.get::<_, i64>(0),
        )
        .expect("count")
            == 1
    })
    .await;
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", db.display())) {
            bytes.extend(b);
        }
    }
    let plain: String = new_code.chars().filter(|c| *c != '-').collect();
    for needle in [new_code.as_str(), plain.as_str()] {
        assert!(
            find_all(&bytes, needle.as_bytes()).is_empty(),
            "{needle} is in the database files"
        );
    }
    redeem(&till, &new_code, "30.00", None).await;
    assert_eq!(till.balance(&new_code).await, "VoucherEmpty");
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ewallets_and_a_customer_credits_share_go_back_onto_them_on_return_and_void() {
    let till = Till::start().await;
    // eWallet: 50, 20 spent, the item returned: 50 again.
    let wallet = till.sell("wallet", "50.00", Some("C-1")).await;
    let (paid, line) = redeem(&till, &wallet, "20.00", Some("C-1")).await;
    assert_eq!(till.balance(&wallet).await, "30.00");
    let back = till.give_back(&paid, &line, "ret-w").await.expect("Return");
    assert_eq!(till.balance(&wallet).await, "50.00");
    assert_eq!(till.tenders_of(&back).await[0].1, "-20.00");

    // Customer credit: 20 left of a 50 voucher credited, 15 spent, returned: 20 again.
    let code = till.sell("credit", "", None).await;
    redeem(&till, &code, "30.00", Some("C-7")).await;
    assert_eq!(till.credit_of("C-7").await, "20.00");
    let sale = till.open_sale(Some("C-7")).await;
    let socks = sale
        .add_item(item("Socken", "15.00"))
        .await
        .expect("AddItem");
    sale.add_tender("credit", "15.00", HashMap::new())
        .await
        .expect("credit");
    let paid = sale.checkout("pay-credit").await.expect("Checkout");
    assert_eq!(till.credit_of("C-7").await, "5.00");
    let back = till
        .give_back(&paid, &socks, "ret-c")
        .await
        .expect("Return");
    assert_eq!(till.credit_of("C-7").await, "20.00");
    let tenders = till.tenders_of(&back).await;
    assert_eq!(
        tenders
            .iter()
            .map(|(m, a, _)| (m.as_str(), a.as_str()))
            .collect::<Vec<_>>(),
        [("credit", "-15.00")],
        "the credit's share, not cash"
    );
    // A void of a sale paid with credit gives it back too.
    let sale = till.open_sale(Some("C-7")).await;
    sale.add_item(item("Schal", "12.00"))
        .await
        .expect("AddItem");
    sale.add_tender("credit", "12.00", HashMap::new())
        .await
        .expect("credit");
    let paid = sale.checkout("pay-credit-2").await.expect("Checkout");
    assert_eq!(till.credit_of("C-7").await, "8.00");
    till.manager()
        .await
        .void(&paid, "void-credit")
        .await
        .expect("Void");
    assert_eq!(till.credit_of("C-7").await, "20.00");
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_programme_with_returns_cash_pays_the_vouchers_share_out_in_cash() {
    let till = Till::start().await;
    let code = till.sell("bar", "40.00", None).await;
    let sale = till.open_sale(None).await;
    let small = sale
        .add_item(item("Tasse", "10.00"))
        .await
        .expect("AddItem");
    let big = sale
        .add_item(item("Kanne", "30.00"))
        .await
        .expect("AddItem");
    sale.enter_code(&code).await.expect("EnterCode");
    let paid = sale.checkout("pay").await.expect("Checkout");
    assert_eq!(till.balance(&code).await, "VoucherEmpty");
    let drawer = till.account("host:cash:01");
    let back = till
        .give_back(&paid, &small, "ret-1")
        .await
        .expect("Return");
    assert_eq!(
        till.tenders_of(&back).await,
        [("cash".to_string(), "-10.00".to_string(), String::new())]
    );
    assert_eq!(
        till.balance(&code).await,
        "VoucherEmpty",
        "nothing back on it"
    );
    assert_eq!(drawer - till.account("host:cash:01"), dec("10.00"));
    let sections = till.sections_of(&back).await;
    assert!(
        sections
            .iter()
            .any(|(_, lines, _)| lines.contains(&"Bar ausbezahlt: 10.00 EUR".to_string())),
        "{sections:?}"
    );
    till.give_back(&paid, &big, "ret-2").await.expect("Return");
    assert_eq!(drawer - till.account("host:cash:01"), dec("40.00"));
    till.verify_ledger();

    // A gift voucher (returns = "voucher") is never paid out in cash.
    let gift = till.sell("gift", "10.00", None).await;
    let (paid, line) = redeem(&till, &gift, "10.00", None).await;
    let drawer = till.account("host:cash:01");
    let back = till.give_back(&paid, &line, "ret-3").await.expect("Return");
    assert_eq!(till.tenders_of(&back).await[0].0, "voucher");
    assert_eq!(till.account("host:cash:01"), drawer);
    assert_eq!(till.balance(&gift).await, "10.00");
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn released_cash_is_cash_rounded_as_the_host_rounds_cash() {
    // Swiss francs: cash in multiples of 0.05.
    let till = Till::start_with(&format!("{SECTION}\n[store]\ncurrency = \"CHF\"\n")).await;
    let code = till.sell("bar", "10.00", None).await;
    let (paid, line) = redeem(&till, &code, "3.02", None).await;
    let drawer = till.account("host:cash:01");
    let back = till.give_back(&paid, &line, "ret").await.expect("Return");
    assert_eq!(
        till.tenders_of(&back).await,
        [("cash".to_string(), "-3.00".to_string(), String::new())],
        "3.02 released, paid out as 3.00"
    );
    let receipt = till
        .manager()
        .await
        .get_receipt(&back)
        .await
        .expect("GetReceipt");
    let lines: Vec<(String, String)> = records(&receipt["lines"])
        .iter()
        .map(|l| (s(&l["kind"]), s(&l["amount"])))
        .collect();
    assert!(
        lines.contains(&("rounding".to_string(), "0.02".to_string())),
        "{lines:?}"
    );
    assert_eq!(drawer - till.account("host:cash:01"), dec("3.00"));
    till.verify_ledger();

    // 3.03 would round up to 3.05, more than the voucher paid: rounded down to 3.00.
    let (paid, line) = redeem(&till, &code, "3.03", None).await;
    let back = till
        .give_back(&paid, &line, "ret-up")
        .await
        .expect("Return");
    assert_eq!(
        till.tenders_of(&back).await,
        [("cash".to_string(), "-3.00".to_string(), String::new())]
    );
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_return_gives_the_discount_codes_use_and_the_discount_voucher_back_a_partial_one_does_not()
 {
    let till = Till::start().await;
    let uses = "vouchers:code:XMAS10";
    let sale = till.open_sale(None).await;
    let a = sale.add_item(item("Buch", "20.00")).await.expect("AddItem");
    let b = sale
        .add_item(item("Kerze", "30.00"))
        .await
        .expect("AddItem");
    sale.enter_code("XMAS10").await.expect("EnterCode");
    pay_rest(&sale).await;
    let first = sale.checkout("xmas-1").await.expect("Checkout");
    assert_eq!(till.account(uses), dec("-1"));
    let back = till.give_back(&first, &a, "ret-a").await.expect("Return");
    assert_eq!(
        till.tenders_of(&back).await,
        [("cash".to_string(), "-18.00".to_string(), String::new())],
        "the discount stays with what was bought"
    );
    assert_eq!(till.account(uses), dec("-1"), "partly returned: still used");
    till.give_back(&first, &b, "ret-b").await.expect("Return");
    assert_eq!(
        till.account(uses),
        dec("0"),
        "all returned: the use is back"
    );

    // A second sale returned in part keeps its use.
    let sale = till.open_sale(None).await;
    let a = sale.add_item(item("Buch", "20.00")).await.expect("AddItem");
    sale.add_item(item("Kerze", "30.00"))
        .await
        .expect("AddItem");
    sale.enter_code("XMAS10").await.expect("EnterCode");
    pay_rest(&sale).await;
    let second = sale.checkout("xmas-2").await.expect("Checkout");
    till.give_back(&second, &a, "ret-a2").await.expect("Return");
    assert_eq!(till.account(uses), dec("-1"));

    // A discount voucher of 40 on goods of 50: restored only when all came back.
    let sale = till.open_sale(None).await;
    let answer: Record = sale
        .inner()
        .call(
            "Invoke",
            &(
                "vouchers:issue-rabatt",
                HashMap::from([("amount", Variant::from("40.00"))]),
            ),
        )
        .await
        .expect("issue");
    let result: Record = answer["result"].clone().try_into().expect("result");
    let rabatt = s(&result["code"]);
    sale.checkout("issue").await.expect("Checkout");
    let sale = till.open_sale(None).await;
    let a = sale.add_item(item("Buch", "20.00")).await.expect("AddItem");
    let b = sale
        .add_item(item("Kerze", "30.00"))
        .await
        .expect("AddItem");
    sale.enter_code(&rabatt).await.expect("EnterCode");
    pay_rest(&sale).await;
    let third = sale.checkout("rabatt").await.expect("Checkout");
    assert_eq!(till.balance(&rabatt).await, "VoucherEmpty");
    till.give_back(&third, &a, "ret-r-a").await.expect("Return");
    assert_eq!(till.balance(&rabatt).await, "VoucherEmpty");
    let back = till.give_back(&third, &b, "ret-r-b").await.expect("Return");
    assert_eq!(till.balance(&rabatt).await, "40.00");
    let sections = till.sections_of(&back).await;
    assert!(
        sections
            .iter()
            .any(|(_, lines, _)| lines.contains(&"Rabatt zurückgebucht: 40.00 EUR".to_string())),
        "{sections:?}"
    );
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_void_of_a_redemption_undoes_where_its_rest_went() {
    let till = Till::start().await;
    // Breakage: 50, 30 paid, 20 forfeited; the void puts all 50 back, breakage 0.
    let code = till.sell("once", "", None).await;
    let (paid, _) = redeem(&till, &code, "30.00", None).await;
    assert_eq!(till.account("vouchers:breakage"), dec("20.00"));
    till.manager()
        .await
        .void(&paid, "void-b")
        .await
        .expect("Void");
    assert_eq!(till.balance(&code).await, "50.00");
    assert_eq!(till.account("vouchers:breakage"), dec("0"));
    till.verify_ledger();

    // Customer credit: the 20 credited come off the credit and back onto the voucher.
    let code = till.sell("credit", "", None).await;
    let (paid, _) = redeem(&till, &code, "30.00", Some("C-8")).await;
    assert_eq!(till.credit_of("C-8").await, "20.00");
    let void = till
        .manager()
        .await
        .void(&paid, "void-c")
        .await
        .expect("Void");
    assert_eq!(till.balance(&code).await, "50.00");
    assert_eq!(till.credit_of("C-8").await, "0.00");
    let sections = till.sections_of(&void).await;
    assert!(
        sections.iter().any(|(_, lines, _)| lines
            .contains(&"Kundenguthaben zurückgebucht: 20.00 EUR".to_string())
            && lines.contains(&"Guthaben: 50.00 EUR".to_string())),
        "{sections:?}"
    );
    till.verify_ledger();

    // Residual voucher, untouched: set to 0, all 50 back on the old one.
    let code = till.sell("rest", "", None).await;
    let (paid, _) = redeem(&till, &code, "30.00", None).await;
    let masked = till
        .sections_of(&paid)
        .await
        .into_iter()
        .find(|(title, _, _)| title.starts_with("Restwertgutschein"))
        .expect("residual slip")
        .2;
    let residual = till.printed_code("RV-", &masked).await;
    assert_eq!(till.balance(&residual).await, "20.00");
    till.manager()
        .await
        .void(&paid, "void-r")
        .await
        .expect("Void");
    assert_eq!(till.balance(&code).await, "50.00");
    assert_eq!(till.balance(&residual).await, "VoucherEmpty");
    till.verify_ledger();

    // Residual voucher partly spent since: only what is left on it comes back. Spending
    // 5 of its 20 moved its own rest of 15 onto a further residual voucher, so nothing is
    // left on it and the old voucher gets back the 30 paid: 30 + 5 spent + 15 on the
    // further voucher is the 50 the customer had, nothing lost or doubled.
    let code = till.sell("rest", "", None).await;
    let (paid, _) = redeem(&till, &code, "30.00", None).await;
    let masked = till
        .sections_of(&paid)
        .await
        .into_iter()
        .find(|(title, _, _)| title.starts_with("Restwertgutschein"))
        .expect("residual slip")
        .2;
    let residual = till.printed_code("RV-", &masked).await;
    redeem(&till, &residual, "5.00", None).await;
    let void = till
        .manager()
        .await
        .void(&paid, "void-r2")
        .await
        .expect("Void");
    assert_eq!(till.balance(&code).await, "30.00");
    assert_eq!(till.balance(&residual).await, "VoucherEmpty");
    let sections = till.sections_of(&void).await;
    assert!(
        sections
            .iter()
            .any(|(_, lines, _)| lines.contains(&"Davon bereits eingelöst: 20.00 EUR".to_string())),
        "{sections:?}"
    );
    till.verify_ledger();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_void_whose_credited_rest_was_spent_since_is_refused_and_changes_nothing() {
    let till = Till::start().await;
    let code = till.sell("credit", "", None).await;
    let (paid, _) = redeem(&till, &code, "30.00", Some("C-9")).await;
    let sale = till.open_sale(Some("C-9")).await;
    sale.add_item(item("Socken", "15.00"))
        .await
        .expect("AddItem");
    sale.add_tender("credit", "15.00", HashMap::new())
        .await
        .expect("credit");
    sale.checkout("spend").await.expect("Checkout");
    assert_eq!(till.credit_of("C-9").await, "5.00");
    let issued = till.account("vouchers:issued");

    let err = till
        .manager()
        .await
        .void(&paid, "void")
        .await
        .expect_err("credit spent");
    assert_eq!(name(&err), "org.posd.Error.NotAllowed");
    assert!(err.to_string().contains("C-9"), "{err}");
    assert_eq!(till.balance(&code).await, "VoucherEmpty");
    assert_eq!(till.credit_of("C-9").await, "5.00");
    assert_eq!(till.account("vouchers:issued"), issued);
    let reversals: Vec<String> = {
        let c = rusqlite::Connection::open(till.daemon.database()).expect("open");
        let mut stmt = c
            .prepare("SELECT id FROM receipts WHERE kind = 'void'")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    };
    assert!(reversals.is_empty(), "no void written: {reversals:?}");
    till.verify_ledger();
}
