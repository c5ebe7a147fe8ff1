//! The product plugin `posd-promotions` built as a `.so` and driven over the bus like a
//! frontend: the ETRON seed's three iced teas with one free, a basket threshold that comes
//! and goes as the basket changes, and a broken configuration that fails the plugin (naming
//! the key) while the till goes on selling.

mod support;

use std::collections::HashMap;

use posd_client::{Manager1Proxy, Plugin1Proxy, Sale1Proxy, plugin_path};
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

/// A daemon with the promotions plugin configured by `section` (the `[plugin.promotions]`
/// body). Fields drop in order: the client, the daemon, then the bus.
struct Till {
    conn: zbus::Connection,
    daemon: Daemon,
    _bus: TestBus,
}

impl Till {
    async fn start(section: &str) -> Self {
        Self::start_in("Europe/Vienna", section).await
    }

    /// [`Till::start`] with the store in time zone `zone`.
    async fn start_in(zone: &str, section: &str) -> Self {
        Self::start_with(zone, section, None).await
    }

    /// [`Till::start`] with the vouchers plugin too, configured by `vouchers` (the body of
    /// `[plugin.vouchers]` after its key file).
    async fn start_with_vouchers(section: &str, vouchers: &str) -> Self {
        Self::start_with("Europe/Vienna", section, Some(vouchers)).await
    }

    async fn start_with(zone: &str, section: &str, vouchers: Option<&str>) -> Self {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let library = build_rust_plugin("posd-promotions");
        let mut extra = format!("[plugin.promotions]\ntimezone = \"{zone}\"\n{section}");
        if let Some(vouchers) = vouchers {
            let key = root.join("vouchers.key");
            std::fs::write(&key, b"0123456789abcdef0123456789abcdef-test-key").expect("key");
            extra = format!(
                "{}[plugin.vouchers]\nkey_file = \"{}\"\n{vouchers}\n{extra}",
                key_grant("vouchers", &key),
                key.display()
            );
        }
        let (dir, config) = plugin_config(&root, 5000, &extra);
        place_plugin(&library, &dir, "libposd_promotions.so");
        if vouchers.is_some() {
            let library = build_rust_plugin("posd-vouchers");
            place_plugin(&library, &dir, "libposd_vouchers.so");
        }
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .start();
        let conn = bus.client().await;
        Till {
            conn,
            daemon,
            _bus: bus,
        }
    }

    async fn open_sale(&self) -> Sale1Proxy<'_> {
        self.open_sale_for(None).await
    }

    /// A sale of `customer`, or of no customer.
    async fn open_sale_for(&self, customer: Option<&str>) -> Sale1Proxy<'_> {
        let mut options = HashMap::from([("cashier", Variant::from("anna"))]);
        if let Some(customer) = customer {
            options.insert("customer", Variant::from(customer));
        }
        let path = Manager1Proxy::new(&self.conn)
            .await
            .expect("manager")
            .open_sale(options)
            .await
            .expect("OpenSale");
        sale_proxy(&self.conn, path).await
    }

    /// Pays `sale` in cash and checks it out with `key`: the receipt id.
    async fn pay_and_check_out(&self, sale: &Sale1Proxy<'_>, key: &str) -> zbus::Result<String> {
        let due = s(&sale.totals().await.expect("Totals")["due"]);
        if due != "0.00" {
            sale.add_tender("cash", &due, HashMap::new())
                .await
                .expect("cash");
        }
        sale.checkout(key).await
    }
}

/// Adds `qty` of article `sku` named `name` at `price`, 10 % VAT, no tags.
async fn add(sale: &Sale1Proxy<'_>, sku: &str, name: &str, qty: &str, price: &str) -> String {
    add_line(sale, sku, name, qty, price, "10", &[]).await
}

/// Adds `qty` of article `sku`, named as its sku, at `price` and VAT `rate` with `tags`.
async fn add_with(
    sale: &Sale1Proxy<'_>,
    sku: &str,
    qty: &str,
    price: &str,
    rate: &str,
    tags: &[&str],
) -> String {
    add_line(sale, sku, sku, qty, price, rate, tags).await
}

async fn add_line(
    sale: &Sale1Proxy<'_>,
    sku: &str,
    name: &str,
    qty: &str,
    price: &str,
    rate: &str,
    tags: &[&str],
) -> String {
    sale.add_item(HashMap::from([
        ("sku", Variant::from(sku)),
        ("name", Variant::from(name)),
        ("qty", Variant::from(qty)),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from(rate)),
        ("tags", Variant::from(tags.to_vec())),
    ]))
    .await
    .expect("AddItem")
}

/// The sale's discount lines: (id, name, amount, ref).
async fn discounts(sale: &Sale1Proxy<'_>) -> Vec<(String, String, String, String)> {
    sale.lines()
        .await
        .expect("Lines")
        .iter()
        .filter(|l| s(&l["kind"]) == "discount")
        .map(|l| (s(&l["id"]), s(&l["name"]), s(&l["amount"]), s(&l["ref"])))
        .collect()
}

async fn total(sale: &Sale1Proxy<'_>) -> String {
    s(&sale.totals().await.expect("Totals")["total"])
}

async fn nudges(sale: &Sale1Proxy<'_>) -> Vec<String> {
    let previews: Vec<Record> = sale.previews().await.expect("Previews");
    previews
        .iter()
        .filter(|p| s(&p["kind"]) == "nudge")
        .map(|p| s(&p["label"]))
        .collect()
}

const EISTEE: &str = r#"
[[plugin.promotions.promotions]]
id = "EISTEE-3FUER2"
name = "Eistee 3 für 2"
kind = "buy_get"
skus = ["9001"]
buy = 2
get = 1
percent = "100"
"#;

/// The iced tea promotion and a basket threshold of 1.00 off from 10 €.
fn eistee_and_basket() -> String {
    EISTEE.to_string()
        + r#"
[[plugin.promotions.promotions]]
id = "KORB"
name = "Einkauf ab 10 €"
kind = "threshold"
tiers = [{ from = "10.00", amount = "1.00" }]
"#
}

#[tokio::test(flavor = "multi_thread")]
async fn three_iced_teas_make_one_free_and_the_line_follows_the_quantity() {
    let till = Till::start(EISTEE).await;
    let sale = till.open_sale().await;
    let tea = add(&sale, "9001", "Eistee Pfirsich", "2", "1.29").await;
    assert!(
        discounts(&sale).await.is_empty(),
        "two teas: nothing free yet"
    );
    let nudge = nudges(&sale).await;
    assert!(
        nudge
            .iter()
            .any(|n| n.contains("1") && n.contains("Eistee 3 für 2")),
        "{nudge:?}"
    );

    sale.set_quantity(&tea, "3").await.expect("qty 3");
    let lines = discounts(&sale).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (id, name, amount, reference) = lines[0].clone();
    assert_eq!(
        (name.as_str(), amount.as_str()),
        ("Eistee 3 für 2", "-1.29")
    );
    assert_eq!(
        reference, "EISTEE-3FUER2@10",
        "the rule id and the VAT rate it reduces, shown as they are"
    );
    assert_eq!(total(&sale).await, "2.58");

    sale.set_quantity(&tea, "6").await.expect("qty 6");
    assert_eq!(
        discounts(&sale).await,
        [(id.clone(), name.clone(), "-2.58".into(), reference.clone())],
        "six teas: two free, the same line id"
    );
    assert_eq!(total(&sale).await, "5.16");

    sale.set_quantity(&tea, "5").await.expect("qty 5");
    assert_eq!(
        discounts(&sale).await,
        [(id.clone(), name.clone(), "-1.29".into(), reference.clone())],
        "five teas: one free"
    );

    sale.set_quantity(&tea, "1").await.expect("qty 1");
    assert!(
        discounts(&sale).await.is_empty(),
        "the condition no longer holds"
    );
    assert_eq!(total(&sale).await, "1.29");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_basket_threshold_comes_and_goes_with_the_basket_and_climbs_its_ladder() {
    let till = Till::start(
        r#"
[[plugin.promotions.promotions]]
id = "KORB"
name = "Einkauf ab 100 €"
kind = "threshold"
tiers = [{ from = "100.00", percent = "10" }, { from = "200.00", percent = "15" }]
"#,
    )
    .await;
    let sale = till.open_sale().await;
    let wine = add(&sale, "w", "Wein", "1", "87.70").await;
    assert!(discounts(&sale).await.is_empty());
    let nudge = nudges(&sale).await;
    assert!(
        nudge
            .iter()
            .any(|n| n.contains("12,30") && n.contains("Einkauf ab 100 €")),
        "{nudge:?}"
    );
    let cheese = add(&sale, "k", "Käse", "1", "12.30").await;
    assert_eq!(discounts(&sale).await.len(), 1);
    assert_eq!(discounts(&sale).await[0].2, "-10.00");
    assert_eq!(total(&sale).await, "90.00");
    sale.set_quantity(&wine, "3").await.expect("three bottles");
    assert_eq!(discounts(&sale).await[0].2, "-41.31", "275.40: 15 %");
    sale.remove_line(&cheese).await.expect("remove");
    assert_eq!(
        discounts(&sale).await[0].2,
        "-39.47",
        "263.10: still 15 %, rounded half up"
    );
    sale.set_quantity(&wine, "1").await.expect("one bottle");
    assert!(
        discounts(&sale).await.is_empty(),
        "87.70: below the threshold again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_configuration_fails_the_plugin_naming_the_key_and_the_till_sells_on() {
    let till = Till::start(
        r#"
[[plugin.promotions.promotions]]
id = "KAPUTT"
name = "Kaputt"
kind = "threshold"
tiers = [{ from = "200.00", percent = "15" }, { from = "100.00", percent = "10" }]
"#,
    )
    .await;
    let plugin = Plugin1Proxy::builder(&till.conn)
        .path(plugin_path("promotions"))
        .build()
        .await
        .expect("proxy");
    assert_eq!(plugin.state().await.expect("State"), "failed");
    let error = plugin.error().await.expect("Error");
    assert!(error.contains("promotions[0].tiers[1].from"), "{error}");
    let sale = till.open_sale().await;
    add(&sale, "9001", "Eistee", "3", "1.29").await;
    assert_eq!(total(&sale).await, "3.87", "sold at full price");
}

#[tokio::test(flavor = "multi_thread")]
async fn competing_promotions_give_the_customer_the_best_result_and_exclusions_hold() {
    // In priority order the breakfast 3-for-2 would take the coffees (4.00 + 1.00 off);
    // the coffee discount on the four coffees and the biscuits' own set give 9.00.
    let till = Till::start(
        r#"
[[plugin.promotions.promotions]]
id = "FRUEH"
name = "Frühstück 3 für 2"
kind = "buy_get"
tags = ["breakfast"]
buy = 2
get = 1
percent = "100"
priority = 10

[[plugin.promotions.promotions]]
id = "KAFFEE"
name = "Kaffee -50 %"
kind = "discount"
skus = ["kaffee"]
percent = "50"

[[plugin.promotions.promotions]]
id = "TEE"
name = "Tee -30 %"
kind = "discount"
skus = ["tee"]
percent = "30"
exclusive_with = ["KAFFEE"]
"#,
    )
    .await;
    let sale = till.open_sale().await;
    add_with(&sale, "kaffee", "4", "4.00", "10", &["breakfast"]).await;
    add_with(&sale, "keks", "3", "1.00", "10", &["breakfast"]).await;
    let off: Vec<(String, String)> = discounts(&sale)
        .await
        .into_iter()
        .map(|(_, name, amount, _)| (name, amount))
        .collect();
    assert_eq!(
        off,
        [
            ("Frühstück 3 für 2".to_string(), "-1.00".to_string()),
            ("Kaffee -50 %".to_string(), "-8.00".to_string()),
        ],
        "sorted by ref: FRUEH on the biscuits, KAFFEE on the coffees"
    );
    assert_eq!(total(&sale).await, "10.00");
    // Tea excludes the coffee discount: with one tea (3.00 → 0.90 off) the coffees' 8.00
    // is worth more, so the tea stays at full price.
    add_with(&sale, "tee", "1", "3.00", "10", &[]).await;
    let names: Vec<String> = discounts(&sale).await.into_iter().map(|d| d.1).collect();
    assert!(
        names.contains(&"Kaffee -50 %".to_string()) && !names.contains(&"Tee -30 %".to_string()),
        "{names:?}"
    );
    assert_eq!(total(&sale).await, "13.00");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_capped_discount_over_two_vat_rates_takes_the_vat_off_each() {
    let till = Till::start(
        r#"
[[plugin.promotions.promotions]]
id = "SALE"
name = "-50 %, höchstens 10 €"
kind = "discount"
tags = ["sale"]
percent = "50"
cap = "10.00"
"#,
    )
    .await;
    let sale = till.open_sale().await;
    add_with(&sale, "a", "1", "13.33", "20", &["sale"]).await;
    add_with(&sale, "b", "1", "16.67", "10", &["sale"]).await;
    let amounts: Vec<String> = discounts(&sale).await.into_iter().map(|d| d.2).collect();
    assert_eq!(
        amounts,
        ["-5.56", "-4.44"],
        "the cap split in proportion, to the cent, a line per rate (by ref: SALE@10, SALE@20)"
    );
    let totals = sale.totals().await.expect("Totals");
    assert_eq!(s(&totals["total"]), "20.00");
    // 8.89 at 20 % and 11.11 at 10 %: VAT 1.48 + 1.01.
    assert_eq!(s(&totals["tax"]), "2.49");
}

/// Today's date in UTC, `YYYY-MM-DD`, `offset` days away; waits out the last seconds of a
/// day so the daemon and the test agree on it.
fn utc_day(offset: i64) -> String {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64
    };
    if now() % 86_400 > 86_390 {
        std::thread::sleep(std::time::Duration::from_secs(11));
    }
    let (y, m, d) = posd_promotions::clock::civil(now() / 86_400 + offset);
    format!("{y:04}-{m:02}-{d:02}")
}

#[tokio::test(flavor = "multi_thread")]
async fn validity_days_are_inclusive_at_both_ends() {
    let (yesterday, today, tomorrow) = (utc_day(-1), utc_day(0), utc_day(1));
    let promotion = |id: &str, from: &str, until: &str| {
        format!(
            "[[plugin.promotions.promotions]]\nid = \"{id}\"\nname = \"{id}\"\nkind = \"discount\"\n\
             skus = [\"{id}\"]\npercent = \"10\"\nfrom = \"{from}\"\nuntil = \"{until}\"\n"
        )
    };
    let section = [
        promotion("ENDS-TODAY", &yesterday, &today),
        promotion("STARTS-TODAY", &today, &tomorrow),
        promotion("ENDED", &yesterday, &yesterday),
        promotion("NOT-YET", &tomorrow, &tomorrow),
    ]
    .concat();
    let till = Till::start_in("UTC", &section).await;
    let sale = till.open_sale().await;
    for sku in ["ENDS-TODAY", "STARTS-TODAY", "ENDED", "NOT-YET"] {
        add_with(&sale, sku, "1", "10.00", "20", &[]).await;
    }
    let mut applied: Vec<String> = discounts(&sale).await.into_iter().map(|d| d.1).collect();
    applied.sort();
    assert_eq!(applied, ["ENDS-TODAY", "STARTS-TODAY"]);
}

/// The sale's actions: (id, label).
async fn actions(sale: &Sale1Proxy<'_>) -> Vec<(String, String)> {
    let list: Vec<Record> = sale.inner().call("Actions", &()).await.expect("Actions");
    list.iter().map(|a| (s(&a["id"]), s(&a["label"]))).collect()
}

async fn invoke(sale: &Sale1Proxy<'_>, action: &str) -> zbus::Result<Record> {
    invoke_action(sale, action, &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cashier_takes_a_promotion_off_a_sale_and_puts_it_back() {
    let till = Till::start(EISTEE).await;
    let sale = till.open_sale().await;
    let tea = add(&sale, "9001", "Eistee Pfirsich", "3", "1.29").await;
    assert_eq!(discounts(&sale).await.len(), 1);
    let offered = actions(&sale).await;
    assert!(
        offered
            .iter()
            .any(|(id, label)| id == "promotions:remove:EISTEE-3FUER2"
                && label.contains("Eistee 3 für 2")),
        "{offered:?}"
    );
    invoke(&sale, "promotions:remove:EISTEE-3FUER2")
        .await
        .expect("remove");
    assert!(discounts(&sale).await.is_empty(), "off the sale");
    assert_eq!(total(&sale).await, "3.87");
    sale.set_quantity(&tea, "6").await.expect("qty 6");
    assert!(discounts(&sale).await.is_empty(), "stays off for this sale");
    let offered = actions(&sale).await;
    assert!(
        offered
            .iter()
            .any(|(id, _)| id == "promotions:restore:EISTEE-3FUER2"),
        "{offered:?}"
    );
    assert!(
        !offered
            .iter()
            .any(|(id, _)| id.starts_with("promotions:remove:")),
        "nothing of it left to remove: {offered:?}"
    );
    // Another sale is not touched.
    let other = till.open_sale().await;
    add(&other, "9001", "Eistee Pfirsich", "3", "1.29").await;
    assert_eq!(
        discounts(&other).await.len(),
        1,
        "the promotion holds elsewhere"
    );

    invoke(&sale, "promotions:restore:EISTEE-3FUER2")
        .await
        .expect("restore");
    assert_eq!(
        discounts(&sale).await[0].2,
        "-2.58",
        "back: six teas, two free"
    );
    let err = invoke(&sale, "promotions:restore:EISTEE-3FUER2")
        .await
        .expect_err("not offered any more");
    assert_eq!(name(&err), "org.posd.Error.NotFound");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_receipt_shows_each_promotion_and_the_total_saved() {
    let till = Till::start(&eistee_and_basket()).await;
    let sale = till.open_sale().await;
    add(&sale, "9001", "Eistee Pfirsich", "6", "1.29").await;
    add(&sale, "k", "Käse", "1", "8.00").await;
    // 7.74 + 8.00 = 15.74; two teas free (2.58), then 1.00 off from 13.16.
    assert_eq!(total(&sale).await, "12.16");
    sale.add_tender("cash", "20.00", HashMap::new())
        .await
        .expect("cash");
    let receipt_id = sale.checkout("promo-1").await.expect("Checkout");
    let manager = Manager1Proxy::new(&till.conn).await.expect("manager");
    let receipt = manager.get_receipt(&receipt_id).await.expect("GetReceipt");
    let names: Vec<String> = records(&receipt["lines"])
        .iter()
        .map(|l| s(&l["name"]))
        .collect();
    assert!(
        names.contains(&"Eistee 3 für 2".to_string())
            && names.contains(&"Einkauf ab 10 €".to_string()),
        "{names:?}"
    );
    let sections = records(&receipt["sections"]);
    assert_eq!(sections.len(), 1, "one section of savings");
    let lines: Vec<String> = sections[0]["lines"].clone().try_into().expect("lines");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("3,58") || l.contains("3.58")),
        "the total saved, 2.58 + 1.00: {lines:?}"
    );
}

/// The seed's iced tea promotion with `limits` (TOML lines) added.
fn eistee_limited(limits: &str) -> String {
    format!("{EISTEE}{limits}\n")
}

/// A sale of three iced teas for `customer`: whether the promotion gave one free.
async fn three_teas<'a>(till: &'a Till, customer: Option<&str>) -> (Sale1Proxy<'a>, bool) {
    let sale = till.open_sale_for(customer).await;
    add(&sale, "9001", "Eistee Pfirsich", "3", "1.29").await;
    let free = match total(&sale).await.as_str() {
        "2.58" => true,
        "3.87" => false,
        other => panic!("three teas cost {other}"),
    };
    (sale, free)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_use_limit_counts_checkouts_and_a_void_gives_the_use_back() {
    let till = Till::start(&eistee_limited("total_uses = 2")).await;
    let mut receipts = Vec::new();
    for n in 0..2 {
        let (sale, free) = three_teas(&till, None).await;
        assert!(free, "use {} of 2", n + 1);
        receipts.push(
            till.pay_and_check_out(&sale, &format!("use-{n}"))
                .await
                .expect("Checkout"),
        );
    }
    let (sale, free) = three_teas(&till, None).await;
    assert!(!free, "the third sale: used up");
    sale.cancel().await.expect("Cancel");
    let manager = Manager1Proxy::new(&till.conn).await.expect("manager");
    let void = manager.void(&receipts[0], "void-0").await.expect("Void");
    let totals: Record = manager.get_receipt(&void).await.expect("GetReceipt")["totals"]
        .clone()
        .try_into()
        .expect("totals");
    assert_eq!(
        s(&totals["total"]),
        "-2.58",
        "the void gives back what was paid"
    );
    let (sale, free) = three_teas(&till, None).await;
    assert!(free, "the void gave its use back");
    till.pay_and_check_out(&sale, "use-again")
        .await
        .expect("Checkout");
    let (_, free) = three_teas(&till, None).await;
    assert!(!free, "used up again: the void gave back one use, not more");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_use_goes_to_one_sale_and_the_other_is_priced_again_when_it_fails() {
    let till = Till::start(&eistee_limited("total_uses = 1")).await;
    let (first, free_first) = three_teas(&till, None).await;
    let (second, free_second) = three_teas(&till, None).await;
    assert!(
        free_first && free_second,
        "both open sales show the last use"
    );
    for sale in [&first, &second] {
        sale.add_tender("cash", "5.00", HashMap::new())
            .await
            .expect("cash");
    }
    first
        .checkout("first")
        .await
        .expect("the first checkout takes the last use");
    let refused = second.checkout("second").await.expect_err("no second use");
    assert!(refused.to_string().contains("LimitReached"), "{refused}");
    assert!(
        refused.to_string().contains("Eistee 3 für 2"),
        "names the promotion: {refused}"
    );
    assert_eq!(
        total(&second).await,
        "3.87",
        "priced again after the refusal: the tea is no longer free"
    );
    assert!(discounts(&second).await.is_empty());
    let receipt = second.checkout("second").await.expect("at full price");
    let manager = Manager1Proxy::new(&till.conn).await.expect("manager");
    let totals = manager.get_receipt(&receipt).await.expect("GetReceipt")["totals"].clone();
    let totals: Record = totals.try_into().expect("totals");
    assert_eq!(s(&totals["total"]), "3.87");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limit_per_customer_holds_for_each_customer_and_needs_one() {
    let till = Till::start(&eistee_limited("uses_per_customer = 1")).await;
    let (sale, free) = three_teas(&till, Some("C-1")).await;
    assert!(free, "C-1's first use");
    till.pay_and_check_out(&sale, "c1").await.expect("Checkout");
    let (_, free) = three_teas(&till, Some("C-1")).await;
    assert!(!free, "C-1 has had the one use");
    let (_, free) = three_teas(&till, Some("C-2")).await;
    assert!(free, "C-2 has a use of their own");
    let (_, free) = three_teas(&till, None).await;
    assert!(
        !free,
        "without a customer the limit can't be kept: no promotion"
    );
}

/// Returns `lines` (line id, quantity) of `receipt` with `key`: the return receipt.
async fn returned(till: &Till, receipt: &str, lines: &[(&str, &str)], key: &str) -> Record {
    let manager = Manager1Proxy::new(&till.conn).await.expect("manager");
    let lines = lines
        .iter()
        .map(|(line, qty)| {
            HashMap::from([("line", Variant::from(*line)), ("qty", Variant::from(*qty))])
        })
        .collect();
    let (back, messages) = manager.r#return(receipt, lines, key).await.expect("Return");
    assert!(messages.is_empty(), "{messages:?}");
    manager.get_receipt(&back).await.expect("GetReceipt")
}

/// Returns `qty` of line `line` of `receipt`: the return receipt's total and its lines
/// (name, amount).
async fn give_back(
    till: &Till,
    receipt: &str,
    line: &str,
    qty: &str,
    key: &str,
) -> (String, Vec<(String, String)>) {
    let printed = returned(till, receipt, &[(line, qty)], key).await;
    let totals: Record = printed["totals"].clone().try_into().expect("totals");
    let lines = records(&printed["lines"])
        .iter()
        .map(|l| (s(&l["name"]), s(&l["amount"])))
        .collect();
    (s(&totals["total"]), lines)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_return_reprices_what_the_customer_keeps_and_the_rest_gives_it_back() {
    let till = Till::start(&eistee_and_basket()).await;
    let sale = till.open_sale().await;
    let tea = add(&sale, "9001", "Eistee Pfirsich", "6", "1.29").await;
    add_with(&sale, "kaese", "1", "8.00", "20", &[]).await;
    // 7.74 + 8.00 = 15.74; two teas free (2.58), then 1.00 off from 13.16: 12.16.
    assert_eq!(total(&sale).await, "12.16");
    let receipt = till
        .pay_and_check_out(&sale, "sold")
        .await
        .expect("Checkout");

    // Four teas back: the customer keeps two teas, which earn no free one, and the cheese,
    // which with them still earns the 1.00. The teas cost 4.67 after reductions (the 1.00
    // spread 0.49 on the teas, 0.51 on the cheese): four of six 3.11 back, less the 0.86 of
    // the free tea the two kept teas held.
    let (refund, lines) = give_back(&till, &receipt, &tea, "4", "back-1").await;
    assert_eq!(refund, "-2.25", "{lines:?}");
    assert!(
        lines.contains(&("Eistee 3 für 2".to_string(), "0.86".to_string())),
        "the return receipt says what was kept back: {lines:?}"
    );
    // The last two teas: the cheese alone earns nothing. Their 1.56 back, the 0.86 kept
    // back for them the first time given back, the 0.51 of the 1.00 the cheese held kept.
    let (refund, lines) = give_back(&till, &receipt, &tea, "2", "back-2").await;
    assert_eq!(refund, "-1.91", "{lines:?}");
    assert!(
        lines.contains(&("Eistee 3 für 2".to_string(), "-0.86".to_string()))
            && lines.contains(&("Einkauf ab 10 €".to_string(), "0.51".to_string())),
        "{lines:?}"
    );
    // 12.16 paid, 2.25 + 1.91 back: the cheese kept at its full 8.00, as if bought alone.
    let verified = verify_books(&till.daemon.database()).expect("the books verify");
    assert!(verified.contains("receipts"), "{verified}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_promotion_for_staff_holds_for_the_customers_the_groups_file_names() {
    let groups = tempfile::NamedTempFile::new().expect("groups file");
    std::fs::write(
        groups.path(),
        "\"C-ANNA\" = [\"staff\"]\nC-BEN = [\"vip\"]\n",
    )
    .expect("write");
    let till = Till::start(&format!(
        r#"
[[plugin.promotions.promotions]]
id = "PERSONAL"
name = "Personalrabatt"
kind = "discount"
percent = "20"
customer_groups = ["staff"]

[customers]
groups_file = "{}"
"#,
        groups.path().display()
    ))
    .await;
    let manager = Manager1Proxy::new(&till.conn).await.expect("manager");
    let anna = manager.customer("C-ANNA").await.expect("Customer");
    let listed: Vec<String> = anna["groups"].clone().try_into().expect("groups");
    assert_eq!(listed, ["staff"]);
    let discounted = |customer: &'static str| {
        let till = &till;
        async move {
            let sale = till.open_sale_for(Some(customer)).await;
            add(&sale, "k", "Kaffee", "1", "10.00").await;
            total(&sale).await
        }
    };
    assert_eq!(discounted("C-ANNA").await, "8.00", "staff");
    assert_eq!(discounted("C-BEN").await, "10.00", "vip is not staff");
    // Ben joins the staff: the next export, read on a reload, counts.
    std::fs::write(
        groups.path(),
        "C-ANNA = [\"staff\"]\nC-BEN = [\"vip\", \"staff\"]\n",
    )
    .expect("write");
    manager.reload_config().await.expect("ReloadConfig");
    assert_eq!(discounted("C-BEN").await, "8.00", "staff now");
    // A broken export leaves the groups read before, and the till sells on.
    std::fs::write(groups.path(), "C-BEN = \"staff\"").expect("write");
    manager.reload_config().await.expect("ReloadConfig");
    assert_eq!(
        discounted("C-BEN").await,
        "8.00",
        "the groups read before stay"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mix_and_match_buy_ten_get_three_and_a_different_product_free_over_the_bus() {
    let till = Till::start(
        r#"
[[plugin.promotions.promotions]]
id = "SNACKS"
name = "Snacks 3 für 2"
kind = "buy_get"
tags = ["group:snacks"]
buy = 2
get = 1
percent = "100"

[[plugin.promotions.promotions]]
id = "WASSER"
name = "Wasser 10 + 3"
kind = "buy_get"
skus = ["wasser"]
buy = 10
get = 3
percent = "100"

[[plugin.promotions.promotions]]
id = "KAFFEE-KEKS"
name = "2 Kaffee, 1 Keks gratis"
kind = "buy_get"
skus = ["kaffee"]
buy = 2
get = 1
percent = "100"
reward_skus = ["keks"]
"#,
    )
    .await;
    let sale = till.open_sale().await;
    // Mix and match: chips 2.49, nuts 1.99, pretzels 0.99 — the cheapest of the set free.
    add_with(&sale, "chips", "1", "2.49", "10", &["group:snacks"]).await;
    add_with(&sale, "nuss", "1", "1.99", "10", &["group:snacks"]).await;
    let pretzel = add_with(&sale, "brezel", "1", "0.99", "10", &["group:snacks"]).await;
    let off = |name: &'static str| {
        let sale = &sale;
        async move {
            discounts(sale)
                .await
                .into_iter()
                .filter(|d| d.1 == name)
                .map(|d| d.2)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        off("Snacks 3 für 2").await,
        ["-0.99"],
        "the pretzel is free"
    );
    sale.remove_line(&pretzel).await.expect("remove");
    assert!(off("Snacks 3 für 2").await.is_empty(), "two snacks: no set");
    // 26 waters: two sets of 13, six free.
    add_with(&sale, "wasser", "26", "0.50", "10", &[]).await;
    assert_eq!(off("Wasser 10 + 3").await, ["-3.00"]);
    // Five coffees earn two biscuits; the basket holds one, so one is free.
    add_with(&sale, "kaffee", "5", "4.00", "10", &[]).await;
    assert!(
        off("2 Kaffee, 1 Keks gratis").await.is_empty(),
        "no biscuit yet"
    );
    add_with(&sale, "keks", "1", "1.50", "10", &[]).await;
    assert_eq!(off("2 Kaffee, 1 Keks gratis").await, ["-1.50"]);
    // 2.49 + 1.99 + 13.00 + 20.00 + 1.50 = 38.98, less 3.00 and 1.50.
    assert_eq!(total(&sale).await, "34.48");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_of_three_free_teas_brought_back_refunds_nothing_and_the_books_agree() {
    let till = Till::start(EISTEE).await;
    let sale = till.open_sale().await;
    let tea = add(&sale, "9001", "Eistee Pfirsich", "3", "1.29").await;
    assert_eq!(total(&sale).await, "2.58");
    let receipt = till
        .pay_and_check_out(&sale, "sold")
        .await
        .expect("Checkout");
    // Two teas kept cost 2.58 without the promotion: what was paid for three.
    let (refund, lines) = give_back(&till, &receipt, &tea, "1", "back").await;
    assert_eq!(refund, "0.00", "{lines:?}");
    assert!(
        lines.contains(&("Eistee 3 für 2".to_string(), "0.86".to_string())),
        "{lines:?}"
    );
    verify_books(&till.daemon.database()).expect("the books verify");
    // The other two later, with the plugin switched off meanwhile: the host still gives
    // back what it kept back for goods that now all came back — their 1.72 and the 0.86.
    let manager = Manager1Proxy::new(&till.conn).await.expect("manager");
    manager
        .set_plugin_enabled("promotions", false)
        .await
        .expect("SetPluginEnabled");
    let (refund, _) = give_back(&till, &receipt, &tea, "2", "back-rest").await;
    assert_eq!(refund, "-2.58");
    verify_books(&till.daemon.database()).expect("the books verify");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_return_paid_by_voucher_takes_back_onto_it_only_what_is_refunded_after_repricing() {
    let till = Till::start_with_vouchers(
        EISTEE,
        r#"
[[plugin.vouchers.programmes]]
id = "gift"
name = "Geschenkgutschein"
kind = "gift"
min_amount = "5.00"
max_amount = "500.00"
code = { format = "template", groups = [4, 4, 4, 4], separator = "-" }
"#,
    )
    .await;
    let manager = Manager1Proxy::new(&till.conn).await.expect("manager");
    // A gift voucher of 10.00, sold for cash.
    let sale = till.open_sale().await;
    let sold = invoke_action(&sale, "vouchers:sell-gift", &[("amount", "10.00")])
        .await
        .expect("sell");
    let result: Record = sold["result"].clone().try_into().expect("result");
    let code = s(&result["code"]);
    till.pay_and_check_out(&sale, "sell").await.expect("sold");

    // Three teas (one free) and a cheese: 2.58 + 8.00, 10.00 of it by the voucher.
    let sale = till.open_sale().await;
    let tea = add(&sale, "9001", "Eistee Pfirsich", "3", "1.29").await;
    let cheese = add_with(&sale, "kaese", "1", "8.00", "20", &[]).await;
    sale.enter_code(&code).await.expect("the voucher");
    let receipt = till
        .pay_and_check_out(&sale, "bought")
        .await
        .expect("Checkout");
    let balance = |info: Record| s(&info["balance"]);
    let spent = manager.lookup_code(&code).await.expect_err("spent");
    assert_eq!(name(&spent), "org.posd.Error.VoucherEmpty", "{spent}");

    // One tea and the cheese back: 0.86 + 8.00 for the goods, less the 0.86 the two kept
    // teas held of the free one. Of the 8.00, the voucher's share (10.00 of 10.58 paid)
    // goes back onto it, the rest in cash.
    let printed = returned(&till, &receipt, &[(&tea, "1"), (&cheese, "1")], "back").await;
    let totals: Record = printed["totals"].clone().try_into().expect("totals");
    assert_eq!(s(&totals["total"]), "-8.00");
    let tenders: Vec<(String, String)> = records(&printed["tenders"])
        .iter()
        .map(|t| (s(&t["method"]), s(&t["amount"])))
        .collect();
    assert_eq!(
        tenders,
        [
            ("voucher".to_string(), "-7.56".to_string()),
            ("cash".to_string(), "-0.44".to_string())
        ],
        "split after what was kept back"
    );
    assert_eq!(
        balance(manager.lookup_code(&code).await.expect("lookup")),
        "7.56"
    );
    verify_books(&till.daemon.database()).expect("the books verify");
}
