//! The 50 promotions the benchmarks load into the promotions plugin, over baskets whose
//! lines carry the skus `sku0` … `sku39` and the tags `group:0` … `group:9`.

use serde_json::{Value, json};

/// 50 promotions, five per group g (10 groups): a 3-for-2 over the group and -20 % on the
/// group capped at 15 € (the two compete for the group's units), a buy-10-get-1 on one of
/// its products, a threshold with a two-step ladder over the group, and -1 € on another of
/// its products, exclusive with the group's 3-for-2.
pub fn fifty() -> Value {
    let mut list = Vec::new();
    for g in 0..10 {
        list.push(json!({"id": format!("MM{g}"), "name": format!("3 für 2 Gruppe {g}"),
            "kind": "buy_get", "tags": [format!("group:{g}")], "buy": 2, "get": 1, "percent": "100"}));
        list.push(
            json!({"id": format!("GD{g}"), "name": format!("Gruppe {g} -20 %"),
            "kind": "discount", "tags": [format!("group:{g}")], "percent": "20", "cap": "15.00"}),
        );
        list.push(
            json!({"id": format!("P{g}"), "name": format!("Artikel {g}: 10 + 1"),
            "kind": "buy_get", "skus": [format!("sku{g}")], "buy": 10, "get": 1, "percent": "100"}),
        );
        list.push(
            json!({"id": format!("T{g}"), "name": format!("Gruppe {g} ab 30 €"),
            "kind": "threshold", "tags": [format!("group:{g}")],
            "tiers": [{"from": "30.00", "amount": "2.00"}, {"from": "60.00", "amount": "5.00"}]}),
        );
        list.push(
            json!({"id": format!("D{g}"), "name": format!("Artikel {} -1 €", 10 + g),
            "kind": "discount", "skus": [format!("sku{}", 10 + g)], "amount": "1.00",
            "exclusive_with": [format!("MM{g}")]}),
        );
    }
    json!({ "timezone": "Europe/Vienna", "promotions": list })
}
