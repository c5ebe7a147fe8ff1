//! `release_tender` (ABI 1.4) through the SDK: a plugin that holds money for the tenders it
//! authorises gets each hold back when the tender is removed or its sale cancelled. (A
//! plugin that does not implement the hook has a NULL slot: `tests/trampolines.rs`.)

use posd_plugin_sdk::schema::{
    Empty, ReleaseReason, ReleaseTenderRequest, ValidateTenderRequest, ValidateTenderResponse,
};
use posd_plugin_sdk::testing::Harness;
use posd_plugin_sdk::{
    ErrorName, Host, Plugin, PluginError, ReleaseTender, ValidateTender, posd_plugin,
};
use serde_json::{Value, json};

/// Authorises tenders of method `tab` and holds each in kv (`hold:<ref>`) until released.
struct Tabs {
    next: u32,
}

impl Plugin for Tabs {
    const ID: &'static str = "tabs";
    const NAME: &'static str = "Tabs";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str = "Holds a tab for each tender it authorises";

    fn create(_host: &Host, _config: Value) -> Result<Self, PluginError> {
        Ok(Tabs { next: 1 })
    }
}

impl ValidateTender for Tabs {
    fn validate_tender(
        &mut self,
        host: &Host,
        request: ValidateTenderRequest,
    ) -> Result<ValidateTenderResponse, PluginError> {
        if request.tender.method != "tab" {
            return Err(PluginError::not_found("not a tab"));
        }
        let reference = format!("TAB-{}", self.next);
        self.next += 1;
        host.kv_put(&format!("hold:{reference}"), &request.tender.amount)?;
        Ok(ValidateTenderResponse {
            amount: request.tender.amount,
            reference: reference.clone(),
            data: json!({"hold": reference}),
        })
    }
}

impl ReleaseTender for Tabs {
    fn release_tender(
        &mut self,
        host: &Host,
        request: ReleaseTenderRequest,
    ) -> Result<Empty, PluginError> {
        let hold = request.tender.data["hold"].as_str().unwrap_or_default();
        if hold != request.tender.reference {
            return Err(PluginError::invalid_argument("the tender lost its data"));
        }
        if request.reason == ReleaseReason::Removed
            && request
                .sale
                .tenders
                .iter()
                .any(|t| t.id == request.tender.id)
        {
            return Err(PluginError::conflict(
                "a removed tender is still on the sale",
            ));
        }
        host.kv_delete(&format!("hold:{hold}"))?;
        host.info(&format!(
            "released {} ({}, {}) {}",
            request.tender.id, request.tender.method, request.tender.amount, request.reason
        ));
        Ok(Empty {})
    }
}

posd_plugin!(Tabs);

/// A sale with one item and the tender `tab` authorised as `reference`.
fn sale_with(tenders: &[(&str, &str)]) -> Value {
    let tenders: Vec<Value> = tenders
        .iter()
        .map(|(id, reference)| {
            json!({"id": id, "method": "tab", "amount": "5.00", "plugin": "tabs",
                   "ref": reference, "data": {"hold": reference}})
        })
        .collect();
    json!({"id": "s1", "currency": "EUR",
           "lines": [{"id": "L1", "kind": "item", "name": "Tee", "qty": "1",
                      "unit_price": "10.00", "amount": "10.00", "tax_rate": "10"}],
           "tenders": tenders})
}

fn authorise(harness: &mut Harness<Tabs>) -> String {
    let answer = harness
        .call(
            "validate_tender",
            &json!({"schema": 1, "sale": sale_with(&[]), "store": {},
                    "tender": {"method": "tab", "amount": "5.00", "details": {}}}),
        )
        .expect("authorised");
    answer["ref"].as_str().expect("ref").to_string()
}

#[test]
fn a_removed_tender_and_those_left_on_a_cancelled_sale_give_their_holds_back() {
    let mut harness = Harness::<Tabs>::create(json!({})).expect("create");
    assert!(harness.implements("release_tender"));
    let first = authorise(&mut harness);
    let second = authorise(&mut harness);
    let third = authorise(&mut harness);
    assert_eq!(harness.kv().len(), 3, "three holds: {:?}", harness.kv());

    let sale = sale_with(&[("T1", &first), ("T2", &second), ("T3", &third)]);
    harness
        .release_tender(&sale, "T1", ReleaseReason::Removed)
        .expect("released");
    assert!(!harness.kv().contains_key(&format!("hold:{first}")));

    // The sale is cancelled with the other two still on it: each is released.
    let sale = sale_with(&[("T2", &second), ("T3", &third)]);
    for tender in ["T2", "T3"] {
        harness
            .release_tender(&sale, tender, ReleaseReason::Cancelled)
            .expect("released");
    }
    assert!(harness.kv().is_empty(), "{:?}", harness.kv());
    let logs: Vec<String> = harness.logs().into_iter().map(|(_, line)| line).collect();
    assert_eq!(
        logs,
        [
            "released T1 (tab, 5.00) removed",
            "released T2 (tab, 5.00) cancelled",
            "released T3 (tab, 5.00) cancelled",
        ]
    );

    let unknown = harness
        .release_tender(&sale, "T9", ReleaseReason::Removed)
        .expect_err("no such tender");
    assert_eq!(unknown.error, ErrorName::NotFound);
}
