//! The product plugins' configuration the benches share when they load every shipped
//! plugin: the points and cards sections, the order they are asked in, and a card sold to
//! a customer so that its programmes follow the basket.

#![allow(dead_code)] // each bench uses its own part

use std::collections::HashMap;

use posd_client::Manager1Proxy;
use zbus::Variant;

use crate::support::sale_proxy;

/// `[plugins] order` of the example configuration: reductions first, then what counts them.
pub const ORDER: &str = "order = [\"promotions\", \"cards\", \"vouchers\", \"points\"]";

/// The files the product points and cards plugins are placed as; where the cards plugin is,
/// [`SHIPPED`] configures both and the sale's customer gets a card.
pub const POINTS_FILE: &str = "libposd_points.so";
pub const CARDS_FILE: &str = "libposd_cards.so";

/// The points and cards plugins' sections: points on every amount and more on two groups;
/// a card with a holder discount on one group and a punch card on another.
pub const SHIPPED: &str = r#"
[[plugin.points.programmes]]
id = "bonus"
name = "Punkte"
valid_months = 12
print_balance = true
rewards = [{ id = "5eur", name = "5 € Rabatt", points = "500", amount = "5.00" }]
[[plugin.points.programmes.rules]]
points = "1"
per_amount = "1"
[[plugin.points.programmes.rules]]
points = "2"
per_item = true
tags = ["group:3", "group:7"]
[plugin.cards]
number_prefix = "2791"
[[plugin.cards.programmes]]
id = "rabatt"
name = "Kartenrabatt"
kind = "discount"
percent = "5"
tags = ["group:1"]
[[plugin.cards.programmes]]
id = "bonus"
name = "Jeder 10. gratis"
kind = "bonus_article"
every = 10
tags = ["group:5"]
[[plugin.cards.card_types]]
id = "plus"
name = "Kundenkarte"
price = "5.00"
tax_rate = "20"
programmes = ["rabatt", "bonus"]
"#;

/// Sells `customer` the card numbered `n` of [`SHIPPED`]'s card type, checked out in cash.
pub async fn sell_card(
    conn: &zbus::Connection,
    manager: &Manager1Proxy<'_>,
    customer: &str,
    n: u32,
) {
    let path = manager
        .open_sale(HashMap::from([
            ("cashier", Variant::from("bench")),
            ("customer", Variant::from(customer)),
        ]))
        .await
        .expect("OpenSale");
    let sale = sale_proxy(conn, path).await;
    let number = posd_cards::number::with_check_digit(&format!("2791{n:08}"));
    let args = HashMap::from([
        ("card_type", Variant::from("plus")),
        ("number", Variant::from(number.as_str())),
    ]);
    let _: HashMap<String, zbus::OwnedVariant> = sale
        .inner()
        .call("Invoke", &("cards:sell-card", args))
        .await
        .expect("sell-card");
    sale.add_tender("cash", "5.00", HashMap::new())
        .await
        .expect("cash");
    sale.checkout(&format!("bench-card-{n}"))
        .await
        .expect("the card sold");
}
