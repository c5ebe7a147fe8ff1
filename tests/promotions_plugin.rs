//! The product plugin `posd-promotions` built as a `.so` and driven over the bus like a
//! frontend: the ETRON seed's three iced teas with one free, a basket threshold that comes
//! and goes as the basket changes, and a broken configuration that fails the plugin (naming
//! the key) while the till goes on selling.

mod support;

use std::collections::HashMap;

use posd::client::{Manager1Proxy, Plugin1Proxy, Sale1Proxy, plugin_path};
use support::*;
use zbus::{OwnedVariant, Variant};

type Record = HashMap<String, OwnedVariant>;

/// A daemon with the promotions plugin configured by `section` (the `[plugin.promotions]`
/// body). Fields drop in order: the client, the daemon, then the bus.
struct Till {
    conn: zbus::Connection,
    _daemon: Daemon,
    _bus: TestBus,
}

impl Till {
    async fn start(section: &str) -> Self {
        let bus = TestBus::start();
        let root = bus.dir.path().to_path_buf();
        let library = build_rust_plugin("posd-promotions");
        let extra = format!("[plugin.promotions]\ntimezone = \"Europe/Vienna\"\n{section}");
        let (dir, config) = plugin_config(&root, 5000, &extra);
        place_plugin(&library, &dir, "libposd_promotions.so");
        let daemon = DaemonSetup::new(bus.address(), &root)
            .config(&config)
            .start();
        let conn = bus.client().await;
        Till {
            conn,
            _daemon: daemon,
            _bus: bus,
        }
    }

    async fn open_sale(&self) -> Sale1Proxy<'_> {
        let path = Manager1Proxy::new(&self.conn)
            .await
            .expect("manager")
            .open_sale(HashMap::from([("cashier", Variant::from("anna"))]))
            .await
            .expect("OpenSale");
        sale_proxy(&self.conn, path).await
    }
}

async fn add(sale: &Sale1Proxy<'_>, sku: &str, name: &str, qty: &str, price: &str) -> String {
    sale.add_item(HashMap::from([
        ("sku", Variant::from(sku)),
        ("name", Variant::from(name)),
        ("qty", Variant::from(qty)),
        ("unit_price", Variant::from(price)),
        ("tax_rate", Variant::from("10")),
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
        reference,
        format!("EISTEE-3FUER2:{tea}"),
        "the rule id, shown as it is"
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
