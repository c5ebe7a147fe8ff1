//! The product plugin `posd-points` built as a `.so` and driven over the bus like a
//! frontend, in a Czech store (PREMIER CashBack, seed 004; ETRON loyalty, seed 002): points
//! by product group, price band and turnover over 12 months on a moving test clock; a
//! discount that earns nothing and a voucher payment that earns; redemption at 1 bod =
//! 1,20 Kč with the largest usable amount suggested and lowered by the cashier; rewards one
//! after another; voids and returns of points earned and spent; first-in-first-out expiry;
//! `Manager1.Customer` and `posctl points`. The books verify after each.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;

use posd_client::{Manager1Proxy, Sale1Proxy};
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

/// One day in seconds, for the test clock.
const DAY: i64 = 86_400;

/// The programme the tests sell with: 1 bod per 10 Kč, 5 per coffee, 1 more per 10 Kč on
/// goods of 1000 Kč and up, 1 more per 10 Kč for customers with 5000 Kč turnover over 12
/// months; valid 12 months; 1 bod = 1 Kč, 1,20 Kč for group `vip`; 100 Kč off per 100 bodů.
const BONUS: &str = r#"
[[plugin.points.programmes]]
id = "bonus"
name = "Body"
valid_months = 12
point_value = "1.00"
group_point_values = { vip = "1.20" }
rewards = [{ id = "100czk", name = "Sleva 100 Kč", points = "100", amount = "100.00" }]

[[plugin.points.programmes.rules]]
points = "1"
per_amount = "10"

[[plugin.points.programmes.rules]]
points = "5"
per_item = true
tags = ["group:coffee"]

[[plugin.points.programmes.rules]]
points = "1"
per_amount = "10"
min_price = "1000.00"

[[plugin.points.programmes.rules]]
points = "1"
per_amount = "10"
turnover_months = 12
min_turnover = "5000.00"
"#;

/// A Czech till with the points plugin (and optionally the vouchers plugin), a groups file
/// naming `C-VIP` as `vip`, and a test clock. Fields drop in order: client, daemon, bus.
struct Till {
    conn: zbus::Connection,
    daemon: Daemon,
    clock: PathBuf,
    bus: TestBus,
}

impl Till {
    async fn start(section: &str) -> Self {
        Self::start_with(&format!("[plugin.points]\n{section}"), false).await
    }

    /// A till with `section` (whole TOML tables), the vouchers plugin too if `vouchers`,
    /// and the promotions plugin asked before this one if `promotions` holds its section.
    async fn start_with(section: &str, vouchers: bool) -> Self {
        Self::start_full(section, vouchers, None).await
    }

    async fn start_full(section: &str, vouchers: bool, promotions: Option<&str>) -> Self {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let clock = root.join("clock-offset");
        std::fs::write(&clock, "0").expect("clock");
        let groups = root.join("groups.toml");
        std::fs::write(&groups, "C-VIP = [\"vip\"]\n").expect("groups");
        // Keys before the first table stay in [plugins]: points is asked last, so its
        // preview counts the promotions' discounts.
        let order = "order = [\"promotions\", \"vouchers\", \"points\"]\n";
        let mut extra = format!(
            "{order}[store]\ncurrency = \"CZK\"\nlocale = \"cs-CZ\"\n\n[customers]\ngroups_file = \"{}\"\n\n{section}",
            groups.display()
        );
        if vouchers {
            let key = root.join("vouchers.key");
            std::fs::write(&key, b"0123456789abcdef0123456789abcdef-test-key").expect("key");
            extra = format!(
                "{extra}\n{}[plugin.vouchers]\nkey_file = \"{}\"\n{}\n",
                key_grant("vouchers", &key),
                key.display(),
                r#"
[[plugin.vouchers.programmes]]
id = "gift"
name = "Dárkový poukaz"
kind = "gift"
min_amount = "10.00"
max_amount = "5000.00"
code = { format = "template" }
"#
            );
        }
        if let Some(promotions) = promotions {
            extra =
                format!("{extra}\n[plugin.promotions]\ntimezone = \"Europe/Vienna\"\n{promotions}");
        }
        let (dir, config) = plugin_config(&root, 5000, &extra);
        if promotions.is_some() {
            place_plugin(
                &build_rust_plugin("posd-promotions"),
                &dir,
                "libposd_promotions.so",
            );
        }
        place_plugin(&build_rust_plugin("posd-points"), &dir, "libposd_points.so");
        if vouchers {
            place_plugin(
                &build_rust_plugin("posd-vouchers"),
                &dir,
                "libposd_vouchers.so",
            );
        }
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .env("POSDTEST_CLOCK", clock.to_str().expect("utf-8"))
            .start();
        let conn = bus.client().await;
        Till {
            conn,
            daemon,
            clock,
            bus,
        }
    }

    /// Moves the business clock to `days` days from now.
    fn days_later(&self, days: i64) {
        std::fs::write(&self.clock, (days * DAY).to_string()).expect("clock");
    }

    async fn manager(&self) -> Manager1Proxy<'_> {
        Manager1Proxy::new(&self.conn).await.expect("manager")
    }

    async fn open_sale(&self, customer: &str) -> Sale1Proxy<'_> {
        let mut options = HashMap::from([("cashier", Variant::from("jana"))]);
        if !customer.is_empty() {
            options.insert("customer", Variant::from(customer));
        }
        let path = self
            .manager()
            .await
            .open_sale(options)
            .await
            .expect("OpenSale");
        sale_proxy(&self.conn, path).await
    }

    /// Pays what is due in cash and checks out: the receipt id.
    async fn pay_and_check_out(&self, sale: &Sale1Proxy<'_>, key: &str) -> String {
        let due = s(&sale.totals().await.expect("Totals")["due"]);
        if due != "0.00" {
            sale.add_tender("cash", &due, HashMap::new())
                .await
                .expect("cash");
        }
        sale.checkout(key).await.expect("Checkout")
    }

    /// A sale of `qty` × `price` (tags `tags`) for `customer`, paid in cash: the receipt.
    async fn buy(
        &self,
        customer: &str,
        qty: &str,
        price: &str,
        tags: &[&str],
        key: &str,
    ) -> String {
        let sale = self.open_sale(customer).await;
        add(&sale, "zbozi", qty, price, tags).await;
        self.pay_and_check_out(&sale, key).await
    }

    /// The customer's balance in `Body` as `Manager1.Customer` shows it.
    async fn balance(&self, customer: &str) -> String {
        let info = self
            .manager()
            .await
            .customer(customer)
            .await
            .expect("Customer");
        let accounts = records(&info["accounts"]);
        let ours: Vec<&Record> = accounts
            .iter()
            .filter(|a| s(&a["plugin"]) == "points")
            .collect();
        assert_eq!(ours.len(), 1, "{accounts:?}");
        assert_eq!(s(&ours[0]["programme"]), "Body");
        assert_eq!(s(&ours[0]["kind"]), "points");
        assert_eq!(s(&ours[0]["unit"]), "points");
        s(&ours[0]["balance"])
    }

    /// The receipt's section of this plugin: its lines.
    async fn section(&self, receipt: &str) -> Vec<String> {
        let printed = self
            .manager()
            .await
            .get_receipt(receipt)
            .await
            .expect("GetReceipt");
        records(&printed["sections"])
            .iter()
            .filter(|s_| s(&s_["plugin"]) == "points")
            .flat_map(|s_| -> Vec<String> { s_["lines"].clone().try_into().expect("lines") })
            .collect()
    }

    fn posctl_text(&self, args: &[&str]) -> String {
        let out = posctl(self.bus.address(), args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// The balance of `account` as `posctl --json ledger balance` shows it.
    fn ledger_balance(&self, account: &str) -> String {
        let out = posctl(
            self.bus.address(),
            &["--json", "ledger", "balance", account],
        );
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        rows.as_array()
            .and_then(|rows| rows.iter().find(|r| r["account"] == account))
            .and_then(|r| r["balance"].as_str())
            .unwrap_or_else(|| panic!("{account}: {rows}"))
            .to_string()
    }

    fn verify(&self) {
        verify_books(&self.daemon.database()).expect("the books verify");
    }
}

async fn add(sale: &Sale1Proxy<'_>, sku: &str, qty: &str, price: &str, tags: &[&str]) -> String {
    sale.add_item(HashMap::from([
        ("sku", Variant::from(sku)),
        ("name", Variant::from(sku)),
        ("qty", Variant::from(qty)),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from("21")),
        ("tags", Variant::from(tags.to_vec())),
    ]))
    .await
    .expect("AddItem")
}

/// What the sale will earn, as the preview of kind `earn` says.
async fn earn_preview(sale: &Sale1Proxy<'_>) -> Option<(String, String)> {
    let previews: Vec<Record> = sale.previews().await.expect("Previews");
    previews
        .iter()
        .find(|p| s(&p["plugin"]) == "points" && s(&p["kind"]) == "earn")
        .map(|p| (s(&p["points"]), s(&p["label"])))
}

async fn earns(sale: &Sale1Proxy<'_>) -> String {
    earn_preview(sale).await.map(|(p, _)| p).unwrap_or_default()
}

/// The plugin's redemption lines: (amount, name, ref).
async fn redemptions(sale: &Sale1Proxy<'_>) -> Vec<(String, String, String)> {
    sale.lines()
        .await
        .expect("Lines")
        .iter()
        .filter(|l| s(&l["plugin"]) == "points")
        .map(|l| {
            // A price reduction of its own kind, not a discount.
            assert_eq!(s(&l["kind"]), "points_redemption");
            (s(&l["amount"]), s(&l["name"]), s(&l["ref"]))
        })
        .collect()
}

async fn total(sale: &Sale1Proxy<'_>) -> String {
    s(&sale.totals().await.expect("Totals")["total"])
}

async fn redeem(sale: &Sale1Proxy<'_>, points: &str) -> zbus::Result<Record> {
    let args = HashMap::from([("points", Variant::from(points))]);
    sale.inner()
        .call("Invoke", &("points:redeem-bonus", args))
        .await
}

/// The `suggested` points of the redeem action, if it is offered.
async fn suggested(sale: &Sale1Proxy<'_>) -> Option<String> {
    redeem_param(sale, "suggested").await
}

/// One key of the redeem action's `points` param, if the action is offered.
async fn redeem_param(sale: &Sale1Proxy<'_>, key: &str) -> Option<String> {
    let actions: Vec<Record> = sale.inner().call("Actions", &()).await.expect("Actions");
    let action = actions
        .iter()
        .find(|a| s(&a["id"]) == "points:redeem-bonus")?;
    let params = records(&action["params"]);
    Some(s(&params[0][key]))
}

async fn rewards(sale: &Sale1Proxy<'_>) -> Vec<String> {
    let list: Vec<Record> = sale.inner().call("Rewards", &()).await.expect("Rewards");
    list.iter().map(|r| s(&r["id"])).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn points_accrue_by_group_price_band_and_turnover_over_the_last_twelve_months() {
    let till = Till::start(BONUS).await;
    // Coffee: 2 × 50 Kč = 10 for the money and 2 × 5 for the group.
    let sale = till.open_sale("C-1").await;
    let coffee = add(&sale, "kava", "2", "50.00", &["group:coffee"]).await;
    let (points, label) = earn_preview(&sale).await.expect("an earn preview");
    assert_eq!(
        (points.as_str(), label.as_str()),
        ("20", "Získáte 20 bodů (Body)")
    );
    // Recomputed on every change: one coffee less.
    sale.set_quantity(&coffee, "1").await.expect("SetQuantity");
    assert_eq!(earns(&sale).await, "10");
    sale.set_quantity(&coffee, "2").await.expect("SetQuantity");
    let first = till.pay_and_check_out(&sale, "coffee").await;
    assert!(
        till.section(&first)
            .await
            .contains(&"Získáno: +20".to_string()),
        "{:?}",
        till.section(&first).await
    );

    // The price band: a 1200 Kč good earns 120 and 120 more; a 999 Kč one only 99.
    let sale = till.open_sale("C-1").await;
    add(&sale, "tv", "1", "1200.00", &[]).await;
    assert_eq!(earns(&sale).await, "240");
    add(&sale, "radio", "1", "999.00", &[]).await;
    assert_eq!(earns(&sale).await, "339");
    till.pay_and_check_out(&sale, "tv").await;
    // 100 + 2199 = 2299 Kč bought: below 5000, no turnover bonus yet.
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "100.00", &[]).await;
    assert_eq!(earns(&sale).await, "10");
    sale.cancel().await.expect("Cancel");
    till.buy("C-1", "1", "3000.00", &[], "big").await;
    // 5299 Kč over the last 12 months: 10 more per 100 Kč.
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "100.00", &[]).await;
    assert_eq!(earns(&sale).await, "20");
    sale.cancel().await.expect("Cancel");
    // 13 months later that turnover is older than 12 months.
    till.days_later(396);
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "100.00", &[]).await;
    assert_eq!(earns(&sale).await, "10");
    // Another customer never had the turnover; no customer, no points.
    let other = till.open_sale("C-2").await;
    add(&other, "zbozi", "1", "100.00", &[]).await;
    assert_eq!(earns(&other).await, "10");
    till.verify();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_discount_earns_nothing_and_what_a_voucher_pays_earns() {
    let till = Till::start_with(&format!("[plugin.points]\n{BONUS}"), true).await;
    // A gift voucher of 200 Kč sold: a voucher sold earns nothing (its points come when it
    // is spent).
    let sale = till.open_sale("C-1").await;
    let sold: Record = sale
        .inner()
        .call(
            "Invoke",
            &(
                "vouchers:sell-gift",
                HashMap::from([("amount", Variant::from("200.00"))]),
            ),
        )
        .await
        .expect("sell");
    let result: Record = sold["result"].clone().try_into().expect("result");
    let code = s(&result["code"]);
    assert_eq!(earns(&sale).await, "");
    till.pay_and_check_out(&sale, "voucher").await;
    assert_eq!(till.balance("C-1").await, "0");

    // 150 Kč of goods, 150 of it paid by the voucher: 15 points, as in cash.
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "150.00", &[]).await;
    sale.enter_code(&code).await.expect("the voucher");
    assert_eq!(earns(&sale).await, "15");
    let paid = till.pay_and_check_out(&sale, "paid-by-voucher").await;
    let printed = till
        .manager()
        .await
        .get_receipt(&paid)
        .await
        .expect("receipt");
    let tenders: Vec<String> = records(&printed["tenders"])
        .iter()
        .map(|t| s(&t["method"]))
        .collect();
    assert_eq!(tenders, ["voucher"]);
    assert_eq!(till.balance("C-1").await, "15");

    // A reduction (the plugin's own redemption, 10 points = 10 Kč) takes its part off what
    // earns: 100 − 10 = 90 Kč earn 9.
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "100.00", &[]).await;
    assert_eq!(earns(&sale).await, "10");
    redeem(&sale, "10").await.expect("redeem");
    assert_eq!(total(&sale).await, "90.00");
    assert_eq!(earns(&sale).await, "9");
    till.pay_and_check_out(&sale, "discounted").await;
    assert_eq!(till.balance("C-1").await, "14", "15 − 10 + 9");
    till.verify();
}

#[tokio::test(flavor = "multi_thread")]
async fn redemption_suggests_the_most_usable_the_cashier_lowers_it_and_it_follows_the_basket() {
    let till = Till::start(BONUS).await;
    till.buy("C-VIP", "1", "500.00", &[], "earn").await;
    assert_eq!(till.balance("C-VIP").await, "50");

    let sale = till.open_sale("C-VIP").await;
    let line = add(&sale, "zbozi", "2", "15.00", &[]).await;
    // 30 Kč at 1 bod = 1,20 Kč: at most 25 of the 50 points.
    assert_eq!(suggested(&sale).await.as_deref(), Some("25"));
    // The hint beside the field reads in the store's language (cs-CZ).
    assert_eq!(
        redeem_param(&sale, "help").await.as_deref(),
        Some("nejvýše 25 bodů (0 uplatnění zruší); 1 bod = 1.2")
    );
    let refused = redeem(&sale, "60")
        .await
        .expect_err("more than the balance");
    assert_eq!(
        name(&refused),
        "org.posd.Error.InsufficientBalance",
        "{refused}"
    );
    let refused = redeem(&sale, "26").await.expect_err("more than the basket");
    assert_eq!(
        name(&refused),
        "org.posd.Error.InvalidArgument",
        "{refused}"
    );
    let refused = redeem(&sale, "2.5").await.expect_err("whole points");
    assert_eq!(
        name(&refused),
        "org.posd.Error.InvalidArgument",
        "{refused}"
    );
    assert!(
        redemptions(&sale).await.is_empty(),
        "refusals change nothing"
    );
    // The cashier lowers it to 20: 24,00 Kč off.
    redeem(&sale, "20").await.expect("redeem 20");
    assert_eq!(
        redemptions(&sale).await,
        [(
            "-24.00".to_string(),
            "Uplatnění Body: 20 × 1.2".to_string(),
            "redeem:bonus".to_string()
        )]
    );
    assert_eq!(total(&sale).await, "6.00");
    // The plugin restarts (disabled and enabled: a new instance): the choice is in kv.
    let manager = till.manager().await;
    manager
        .set_plugin_enabled("points", false)
        .await
        .expect("disable");
    manager
        .set_plugin_enabled("points", true)
        .await
        .expect("enable");
    // The basket shrinks below it: 12 points (14,40 Kč) fit into 15 Kč.
    sale.set_quantity(&line, "1").await.expect("SetQuantity");
    assert_eq!(redemptions(&sale).await[0].0, "-14.40");
    // It grows again: back to the 20 chosen.
    sale.set_quantity(&line, "2").await.expect("SetQuantity");
    assert_eq!(redemptions(&sale).await[0].0, "-24.00");
    let receipt = till.pay_and_check_out(&sale, "redeemed").await;
    // 6 Kč left earn nothing: 50 − 20.
    assert_eq!(till.balance("C-VIP").await, "30");
    let section = till.section(&receipt).await;
    assert!(
        section.contains(&"Uplatněno: -20".to_string()),
        "{section:?}"
    );
    assert!(
        section.contains(&"Stav konta: 30 bodů".to_string()),
        "{section:?}"
    );
    // No customer: nothing offered.
    let anonymous = till.open_sale("").await;
    add(&anonymous, "zbozi", "1", "15.00", &[]).await;
    assert_eq!(suggested(&anonymous).await, None);
    till.verify();
}

#[tokio::test(flavor = "multi_thread")]
async fn rewards_are_taken_one_after_another_while_points_and_basket_allow() {
    let till = Till::start(BONUS).await;
    till.buy("C-1", "1", "2500.00", &[], "earn").await; // 250 + 250 (band) = 500
    assert_eq!(till.balance("C-1").await, "500");
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "250.00", &[]).await;
    assert_eq!(rewards(&sale).await, ["points:bonus:100czk"]);
    let line: String = sale
        .inner()
        .call("ApplyReward", &("points:bonus:100czk",))
        .await
        .expect("ApplyReward");
    // The automatic line the reward became, which follows the basket from now on.
    let lines = sale.lines().await.expect("Lines");
    let shown = lines
        .iter()
        .find(|l| s(&l["id"]) == line)
        .expect("its line");
    assert_eq!(s(&shown["plugin"]), "points");
    assert_eq!(total(&sale).await, "150.00");
    // Asked again after the first: 150 Kč left, a second block fits.
    assert_eq!(rewards(&sale).await, ["points:bonus:100czk"]);
    let again: String = sale
        .inner()
        .call("ApplyReward", &("points:bonus:100czk",))
        .await
        .expect("ApplyReward");
    assert_eq!(again, line, "the same line, now two blocks");
    assert_eq!(total(&sale).await, "50.00");
    assert_eq!(redemptions(&sale).await[0].1, "2 × Sleva 100 Kč");
    // 50 Kč left: no third block offered.
    assert!(rewards(&sale).await.is_empty());
    let offered_no_more = sale
        .inner()
        .call::<_, _, String>("ApplyReward", &("points:bonus:100czk",))
        .await
        .expect_err("not offered now");
    assert_eq!(name(&offered_no_more), "org.posd.Error.NotFound");
    // The cashier takes the rewards off again; the points stay unspent.
    let _: Record = sale
        .inner()
        .call(
            "Invoke",
            &("points:remove-rewards", HashMap::<&str, Variant<'_>>::new()),
        )
        .await
        .expect("remove-rewards");
    assert_eq!(total(&sale).await, "250.00");
    assert!(redemptions(&sale).await.is_empty());
    // One block again, and checked out: 500 − 100 + 15.
    let _: String = sale
        .inner()
        .call("ApplyReward", &("points:bonus:100czk",))
        .await
        .expect("ApplyReward");
    till.pay_and_check_out(&sale, "rewarded").await;
    assert_eq!(till.balance("C-1").await, "415", "500 − 100 + 15");
    till.verify();
}

#[tokio::test(flavor = "multi_thread")]
async fn voids_and_partial_returns_take_back_points_earned_and_give_back_points_spent() {
    let till = Till::start(BONUS).await;
    let manager = till.manager().await;
    let first = till.buy("C-1", "4", "50.00", &[], "first").await; // 20
    let sale = till.open_sale("C-1").await;
    let goods = add(&sale, "zbozi", "2", "50.00", &[]).await;
    redeem(&sale, "10").await.expect("redeem");
    assert_eq!(earns(&sale).await, "9", "90 Kč after the redemption");
    let second = till.pay_and_check_out(&sale, "second").await;
    assert_eq!(till.balance("C-1").await, "19", "20 − 10 + 9");

    // One of the two back: its share of the 9 earned (4) comes off, its share of the 10
    // spent (5) comes back.
    let lines = vec![HashMap::from([
        ("line", Variant::from(goods.as_str())),
        ("qty", Variant::from("1")),
    ])];
    let (back, _) = manager
        .r#return(&second, lines.clone(), "back-1")
        .await
        .expect("Return");
    assert_eq!(till.balance("C-1").await, "20");
    let section = till.section(&back).await;
    assert!(section.contains(&"Odečteno: -4".to_string()), "{section:?}");
    assert!(section.contains(&"Vráceno: +5".to_string()), "{section:?}");
    // The same return again (its idempotency key) takes nothing twice.
    manager
        .r#return(&second, lines.clone(), "back-1")
        .await
        .expect("Return replayed");
    assert_eq!(till.balance("C-1").await, "20");
    // The other one: the rest, 5 and 5.
    manager
        .r#return(&second, lines, "back-2")
        .await
        .expect("Return");
    assert_eq!(till.balance("C-1").await, "20", "20 − 5 + 5");

    // The first sale voided: its 20 come off.
    let void = manager.void(&first, "void-1").await.expect("Void");
    assert_eq!(till.balance("C-1").await, "0");
    assert!(
        till.section(&void)
            .await
            .contains(&"Odečteno: -20".to_string()),
        "{:?}",
        till.section(&void).await
    );
    assert_eq!(till.ledger_balance("points:earned:bonus"), "0");
    till.verify();
}

#[tokio::test(flavor = "multi_thread")]
async fn points_spent_before_their_sale_is_voided_become_a_debt_that_later_points_pay_off() {
    let till = Till::start(BONUS).await;
    let manager = till.manager().await;
    let first = till.buy("C-1", "1", "100.00", &[], "first").await; // 10
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "40.00", &[]).await;
    redeem(&sale, "10").await.expect("redeem all");
    till.pay_and_check_out(&sale, "spent").await; // −10, +3
    assert_eq!(till.balance("C-1").await, "3");
    let void = manager
        .void(&first, "void")
        .await
        .expect("Void goes through");
    assert_eq!(
        till.balance("C-1").await,
        "-7",
        "a debt, not points made up"
    );
    let section = till.section(&void).await;
    assert!(
        section.contains(&"Stav konta: -7 bodů (bude započteno s dalšími body)".to_string()),
        "{section:?}"
    );
    // Nothing to redeem while in debt: the action is not offered.
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "100.00", &[]).await;
    assert_eq!(suggested(&sale).await, None);
    let refused = redeem(&sale, "1").await.expect_err("in debt");
    assert_eq!(name(&refused), "org.posd.Error.NotFound", "{refused}");
    till.pay_and_check_out(&sale, "pays-off").await;
    assert_eq!(till.balance("C-1").await, "3", "the debt paid off first");
    let shown = till.posctl_text(&["points", "C-1"]);
    assert!(shown.contains("balance 3 points"), "{shown}");
    till.verify();
}

#[tokio::test(flavor = "multi_thread")]
async fn points_expire_first_in_first_out_at_the_next_contact_and_by_posctl() {
    let till = Till::start(BONUS).await;
    till.buy("C-1", "1", "100.00", &[], "jan").await; // 10, valid 12 months
    till.days_later(100);
    till.buy("C-1", "1", "50.00", &[], "apr").await; // 5
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "12.00", &[]).await;
    redeem(&sale, "12").await.expect("redeem");
    till.pay_and_check_out(&sale, "spend").await; // −12 of the oldest: 3 of April's left
    assert_eq!(till.balance("C-1").await, "3");

    // 13 months after the first sale: nothing of January's is left to expire, and
    // April's 3 are still valid.
    till.days_later(396);
    let shown = till.posctl_text(&["points", "C-1"]);
    assert!(!shown.contains("expired"), "{shown}");
    // 14 months after April: the 3 have expired; `posctl points` says so before it is posted.
    till.days_later(100 + 426);
    let shown = till.posctl_text(&["points", "C-1"]);
    assert!(shown.contains("3 expired"), "{shown}");
    // The next contact posts it, in the sale's entry.
    let receipt = till.buy("C-1", "1", "20.00", &[], "later").await;
    assert_eq!(till.balance("C-1").await, "2", "3 expired, 2 earned");
    let section = till.section(&receipt).await;
    assert!(section.contains(&"Propadlo: -3".to_string()), "{section:?}");
    assert_eq!(till.ledger_balance("points:expired:bonus"), "3");
    // Newest first: the expiry (−3), then what that sale earned, is on top of the history.
    let shown = till.posctl_text(&["points", "C-1"]);
    let history: Vec<&str> = shown.lines().filter(|l| l.contains("entry")).collect();
    assert!(history[0].contains("+2"), "{shown}");
    assert!(history[1].contains("-3"), "{shown}");
    assert!(history.last().expect("postings").contains("+10"), "{shown}");

    // A year later again, on a schedule: `posctl points expire` posts the 2 without a sale.
    till.days_later(100 + 426 + 400);
    let posted = till.posctl_text(&["points", "expire"]);
    assert!(posted.contains("C-1: 2 points expired"), "{posted}");
    assert_eq!(till.balance("C-1").await, "0");
    let again = till.posctl_text(&["points", "expire"]);
    assert!(again.contains("nothing expired"), "{again}");
    till.verify();
}

#[tokio::test(flavor = "multi_thread")]
async fn posctl_points_shows_balance_and_history_and_a_bad_configuration_names_the_key() {
    let till = Till::start(BONUS).await;
    till.buy("C-1", "1", "123.00", &[], "one").await;
    let shown = till.posctl_text(&["points", "C-1"]);
    assert!(
        shown.contains("Body (bonus): balance 12 points, spendable 12"),
        "{shown}"
    );
    assert!(shown.contains("+12  (expires "), "{shown}");
    let unknown = posctl(till.bus.address(), &["points", "C-NOBODY"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("NotFound"),
        "{}",
        text(&unknown.stderr)
    );
    drop(till);

    let broken = BONUS.replace(
        "per_amount = \"10\"\n\n[[plugin.points.programmes.rules]]\npoints = \"5\"",
        "per_amount = \"0\"\n\n[[plugin.points.programmes.rules]]\npoints = \"5\"",
    );
    let till = Till::start(&broken).await;
    let plugins = till.posctl_text(&["plugins"]);
    assert!(
        plugins.contains("programmes[0].rules[0].per_amount"),
        "{plugins}"
    );
    // The till sells on.
    till.buy("C-1", "1", "10.00", &[], "still-selling").await;
}

/// The ```toml block of the plugin's README: its full configuration example.
fn readme_example() -> String {
    let readme =
        std::fs::read_to_string(workspace().join("plugins/points/README.md")).expect("README.md");
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("its end");
    readme[start..end].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readmes_full_example_loads_and_earns_points_and_cashback() {
    let till = Till::start_with(&readme_example(), false).await;
    let plugins = till.posctl_text(&["plugins"]);
    assert!(!plugins.contains("failed"), "{plugins}");
    // A VIP buys 100 Kč: 10 + 10 (vip) points and 2 % cashback.
    till.buy("C-VIP", "1", "100.00", &[], "vip").await;
    let info = till
        .manager()
        .await
        .customer("C-VIP")
        .await
        .expect("Customer");
    let accounts: Vec<(String, String, String)> = records(&info["accounts"])
        .iter()
        .filter(|a| s(&a["plugin"]) == "points")
        .map(|a| (s(&a["programme"]), s(&a["balance"]), s(&a["unit"])))
        .collect();
    assert_eq!(
        accounts,
        [
            ("Body".to_string(), "20".to_string(), "points".to_string()),
            (
                "CashBack".to_string(),
                "2.00".to_string(),
                "CZK".to_string()
            )
        ]
    );
    till.verify();
}

#[tokio::test(flavor = "multi_thread")]
async fn another_plugins_discount_earns_nothing_in_the_preview_and_at_checkout() {
    let till = Till::start_full(
        &format!("[plugin.points]\n{BONUS}"),
        false,
        Some(
            r#"
[[plugin.promotions.promotions]]
id = "SLEVA10"
name = "Sleva 10 %"
kind = "discount"
percent = "10"
"#,
        ),
    )
    .await;
    let sale = till.open_sale("C-1").await;
    add(&sale, "zbozi", "1", "150.00", &[]).await;
    add(&sale, "dalsi", "1", "50.00", &[]).await;
    // 200 Kč less the 20 Kč discount: 180 Kč earn 18, not 20.
    assert_eq!(total(&sale).await, "180.00");
    assert_eq!(earns(&sale).await, "18");
    let receipt = till.pay_and_check_out(&sale, "discounted").await;
    assert_eq!(till.balance("C-1").await, "18");
    assert!(
        till.section(&receipt)
            .await
            .contains(&"Získáno: +18".to_string()),
        "{:?}",
        till.section(&receipt).await
    );
    till.verify();
}
