//! A return of goods paid partly by voucher puts the voucher's share back on it, through the
//! test double `posd-test-vouchers` (fixed codes `GV-<n>`, balances in the host's ledger):
//! the product plugin `posd-vouchers` does not take a return's share back yet. When it does,
//! this scenario belongs with the real plugin (`tests/voucher_returns.rs`), and this file
//! and the double's `return_lines` go. Everything else the host does with vouchers is
//! tested on the real plugin in `tests/vouchers_plugin.rs`.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;

use posd::client::{Manager1Proxy, Sale1Proxy};
use rust_decimal::Decimal;
use support::*;
use zbus::Variant;

fn item<'a>(name: &'a str, price: &'a str, rate: &'a str) -> HashMap<&'a str, Variant<'a>> {
    HashMap::from([
        ("sku", Variant::from("4006381333931")),
        ("name", Variant::from(name)),
        ("qty", Variant::from("1")),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from(rate)),
    ])
}

/// A daemon with the vouchers test double. Fields drop in order: the client, the daemon,
/// then the bus.
struct Till {
    conn: zbus::Connection,
    daemon: Daemon,
    _bus: TestBus,
}

impl Till {
    async fn start() -> Self {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let library = build_rust_plugin("posd-test-vouchers");
        let (dir, config) = plugin_config(&root, 5000, "");
        place_plugin(&library, &dir, "libposd_test_vouchers.so");
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .start();
        let conn = bus.client().await;
        Self {
            conn,
            daemon,
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
        let c = rusqlite::Connection::open(self.database()).expect("open");
        posd::ledger::account(&c, &format!("vouchers:voucher:{code}"))
            .expect("read account")
            .map(|a| a.balance)
    }

    fn verify_ledger(&self) {
        let verified = verify_books(&self.database());
        assert!(verified.is_ok(), "{verified:?}");
    }
}

fn dec(text: &str) -> Option<Decimal> {
    Some(text.parse().expect("decimal"))
}

/// Sells `code` for `amount` paid in cash; returns the receipt.
async fn sell(till: &Till, code: &str, amount: &str, key: &str) -> String {
    let sale = till.open_sale().await;
    let args = HashMap::from([
        ("code", Variant::from(code)),
        ("amount", Variant::from(amount)),
    ]);
    let _: HashMap<String, zbus::OwnedVariant> = sale
        .inner()
        .call("Invoke", &("vouchers:sell", args))
        .await
        .expect("sell");
    let due = s(&sale.totals().await.expect("Totals")["due"]);
    sale.add_tender("cash", &due, HashMap::new())
        .await
        .expect("cash");
    sale.checkout(key).await.expect("Checkout")
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
}
