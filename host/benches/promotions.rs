//! The promotions plugin's evaluation of a 200-line basket with 50 promotions that hold:
//! called directly in Rust, and as `evaluate_basket` through the ABI (the plugin's `.so`
//! on its thread, JSON both ways), median and p99 of each in the same run. Each both as a
//! basket change is (the middle line's quantity changed, so its group is searched again
//! and the other nine come from the plugin's memory) and with every group searched. The promotions
//! are of every kind and compete: ten product groups, each with a mix-and-match and a group
//! discount that want the same units, products with their own buy X get Y, thresholds with
//! ladders, and exclusions.
//!
//! `cargo bench -p posd --bench promotions`. Prints figures; asserts nothing.

#[path = "../../tests/support/mod.rs"]
mod support;

mod figures;
mod promotion_set;

use std::time::Instant;

use figures::report;
use posd::plugins::Hook;
use posd_promotions::Promotions;
use posd_promotions::config::Config;
use posd_promotions::engine::{self, Good};
use serde_json::{Value, json};
use support::*;

const CALLS: usize = 2_000;
const LINES: usize = 200;

/// A 200-line basket over the ten groups.
fn basket() -> Value {
    let lines: Vec<Value> = (0..LINES)
        .map(|i| {
            let qty = rust_decimal::Decimal::from(1 + i % 3);
            let price: rust_decimal::Decimal = format!("{}.{:02}", 1 + i % 7, (i * 37) % 100)
                .parse()
                .expect("price");
            json!({
                "id": format!("L{i}"), "kind": "item", "sku": format!("sku{}", i % 40),
                "name": format!("Artikel {i}"), "qty": qty.to_string(),
                "unit_price": price.to_string(), "amount": (qty * price).to_string(),
                "tax_rate": if i % 4 == 0 { "10" } else { "20" },
                "tags": [format!("group:{}", i % 10)], "plugin": "", "ref": "", "data": {}
            })
        })
        .collect();
    json!({
        "schema": 1,
        "sale": { "id": "S-bench", "currency": "EUR", "customer": null, "customer_groups": [],
                  "lines": lines, "tenders": [],
                  "totals": { "subtotal": "0", "discount": "0", "tax": "0", "total": "0",
                              "paid": "0", "due": "0", "change": "0" } },
        "store": { "id": "0001", "register": "01", "currency": "EUR", "locale": "de-AT" }
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let library = build_rust_plugin_with("posd-promotions", true);
    let config = promotion_set::fifty();
    let request = basket();
    let typed: posd_plugin_sdk::schema::EvaluateBasketRequest =
        serde_json::from_value(request.clone()).expect("typed request");
    let plugin_config = Config::parse(config.clone()).expect("config");
    let plugin = Promotions::with_config(plugin_config.clone());
    let now = 1_796_000_000_000; // 30 November 2026; no promotion has a validity window
    let answer = plugin.evaluate(&typed, now, &Default::default());
    println!(
        "posd promotions: evaluate_basket, {LINES}-line basket ({} bytes of JSON), {} promotions \
         holding, {} discount lines and {} nudges in the answer",
        request.to_string().len(),
        plugin.active(now).len(),
        answer.lines.len(),
        answer.previews.len()
    );

    let goods = Good::of(&typed.sale.lines);
    let active = plugin.active(now);
    let mut afresh = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        std::hint::black_box(engine::best(
            &plugin_config,
            std::hint::black_box(&goods),
            &active,
        ));
        afresh.push(start.elapsed());
    }
    let mut changed = typed.clone();
    let mut direct = Vec::with_capacity(CALLS);
    for call in 0..CALLS {
        set_quantity(&mut changed.sale.lines[LINES / 2], call);
        let start = Instant::now();
        std::hint::black_box(plugin.evaluate(
            std::hint::black_box(&changed),
            now,
            &Default::default(),
        ));
        direct.push(start.elapsed());
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let section: toml::Table =
        toml::from_str(&toml::to_string(&config).expect("toml")).expect("section");
    let plugins = loaded_plugin_manager(
        dir.path(),
        &library,
        "libposd_promotions.so",
        [("promotions".to_string(), section)].into(),
    )
    .await;
    let mut request = request;
    let mut through_abi = Vec::with_capacity(CALLS);
    for call in 0..100 + CALLS {
        let mut line: posd_plugin_sdk::schema::Line =
            serde_json::from_value(request["sale"]["lines"][LINES / 2].clone()).expect("line");
        set_quantity(&mut line, call);
        request["sale"]["lines"][LINES / 2] = serde_json::to_value(&line).expect("line");
        let start = Instant::now();
        let answer = plugins
            .call("promotions", Hook::EvaluateBasket, &request)
            .await
            .expect("evaluate_basket");
        if call >= 100 {
            through_abi.push(start.elapsed());
        }
        std::hint::black_box(answer);
    }
    report("direct, every group searched", afresh);
    report("direct, one line changed (target: under 1 ms)", direct);
    report(
        "through the ABI, one line changed (host → plugin → host)",
        through_abi,
    );
}

/// Gives `line` a quantity of its own for `call` (1 to 500, so that the group it is in has
/// never been seen the same way in the 500 calls before).
fn set_quantity(line: &mut posd_plugin_sdk::schema::Line, call: usize) {
    line.qty = rust_decimal::Decimal::from(1 + call % 500);
    line.amount = line.qty * line.unit_price;
}
