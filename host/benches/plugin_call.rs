//! A hook round trip host → plugin → host with a 50-line basket: the `evaluate_basket` hook
//! of the hello-rust example through the real ABI (JSON encoding, the plugin's thread, the
//! C calling convention, JSON decoding), with the plugin inside this process and in a
//! sandboxed child process of its own (`posd plugin-host`, the default), next to a direct
//! call of the same Rust function in the same run.
//!
//! `cargo bench -p posd --bench plugin_call`. Prints figures; asserts nothing.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use posd::plugins::Hook;
use serde_json::json;
use support::*;

const CALLS: usize = 10_000;

fn report(what: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "{what:<40} n={:<6} median={:>8.2} µs  p99={:>8.2} µs",
        samples.len(),
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6
    );
    at(0.5)
}

fn basket() -> serde_json::Value {
    let lines: Vec<serde_json::Value> = (0..50)
        .map(|i| {
            json!({
                "id": format!("L{i}"), "kind": "item", "sku": format!("40063813{i:05}"),
                "name": format!("Artikel Nummer {i} mit einem längeren Namen"), "qty": "2",
                "unit_price": "1.99", "amount": "3.98", "tax_rate": "20",
                "tags": ["group:food", "payback"], "plugin": "", "ref": "", "data": {}
            })
        })
        .collect();
    json!({
        "schema": 1,
        "sale": {
            "id": "S-bench", "currency": "EUR", "customer": "C1", "customer_groups": [],
            "lines": lines, "tenders": [],
            "totals": { "subtotal": "199.00", "discount": "0.00", "tax": "33.17",
                        "total": "199.00", "paid": "0.00", "due": "199.00", "change": "0.00" }
        },
        "store": { "id": "0001", "register": "01", "currency": "EUR", "locale": "de-AT" }
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let library = build_rust_plugin_with("hello-rust", true);
    let dir = tempfile::tempdir().expect("temp dir");
    let plugins =
        loaded_plugin_manager(dir.path(), &library, "libhello_rust.so", Default::default()).await;
    let request = basket();
    println!(
        "posd plugin hook round trip: evaluate_basket, 50-line basket ({} bytes of JSON)",
        request.to_string().len()
    );

    let through_abi = time_hook(
        &plugins,
        "hello-rust",
        Hook::EvaluateBasket,
        &request,
        (500, CALLS),
        |answer| assert_eq!(answer["previews"][0]["points"], "199"),
    )
    .await;
    let isolated_dir = tempfile::tempdir().expect("temp dir");
    let isolated = loaded_plugin_manager_isolated(
        isolated_dir.path(),
        &library,
        "libhello_rust.so",
        Default::default(),
        posd::plugins::IsolationSettings {
            default: posd::plugins::Isolation::Process,
            program: POSD.into(),
            state_dir: isolated_dir.path().join("plugin-state"),
            ..posd::plugins::IsolationSettings::in_process()
        },
    )
    .await;
    assert!(
        isolated
            .list()
            .iter()
            .all(|p| p.isolation == "process" && p.pid != 0),
        "{:?}",
        isolated.list()
    );
    let through_process = time_hook(
        &isolated,
        "hello-rust",
        Hook::EvaluateBasket,
        &request,
        (500, CALLS),
        |answer| assert_eq!(answer["previews"][0]["points"], "199"),
    )
    .await;

    let typed: posd_plugin_sdk::schema::EvaluateBasketRequest =
        serde_json::from_value(request.clone()).expect("typed request");
    let mut direct = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        let answer = std::hint::black_box(hello_rust::points_preview(std::hint::black_box(
            &typed.sale,
        )));
        direct.push(start.elapsed());
        std::hint::black_box(answer);
    }

    // Where the time goes: the JSON work alone, on this thread.
    let mut json_only = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let start = Instant::now();
        let bytes = serde_json::to_vec(&request).expect("encode");
        let typed: posd_plugin_sdk::schema::EvaluateBasketRequest =
            serde_json::from_slice(&bytes).expect("decode");
        let answer = serde_json::to_vec(&hello_rust::points_preview(&typed.sale)).expect("encode");
        let back: serde_json::Value = serde_json::from_slice(&answer).expect("decode");
        std::hint::black_box(back);
        json_only.push(start.elapsed());
    }

    let abi = report("through the ABI, plugin in-process", through_abi.clone());
    let process = report(
        "through the ABI, plugin in its process",
        through_process.clone(),
    );
    report("the same JSON work, no thread or FFI", json_only);
    let baseline = report("direct call of the same Rust function", direct);
    println!(
        "ABI overhead per call: {:.2} µs in-process (target: round trip under 50 µs)",
        (abi.as_secs_f64() - baseline.as_secs_f64()) * 1e6
    );
    let p99 = |mut s: Vec<Duration>| {
        s.sort();
        s[((s.len() - 1) as f64 * 0.99).round() as usize]
    };
    println!(
        "isolation adds per call: median {:.2} µs, p99 {:.2} µs (target: median at most 50 µs)",
        (process.as_secs_f64() - abi.as_secs_f64()) * 1e6,
        (p99(through_process).as_secs_f64() - p99(through_abi).as_secs_f64()) * 1e6
    );
}
