//! posd-test-points — a small loyalty-points plugin the crash test and the checkout benchmark
//! load, so that every checkout commits something of a plugin's in its transaction.
//!
//! - `evaluate_basket`: a preview "Sie sammeln N Punkte", one point per full currency unit of
//!   the sale's item lines (discounts, vouchers sold and other lines earn nothing).
//! - `prepare_checkout`: the same N points, booked double entry in unit `points` — `+N` on
//!   `customer:<id>` (or on the anonymous pool `pool:anonymous` when the sale has no
//!   customer, so every checkout posts), `-N` on `issued` — plus one outbox message to
//!   `partner` keyed by the checkout id with `{"points": N}`, a receipt section "Punkte"
//!   and a kv write `checkouts:<account>` counting the account's checkouts. The counter is
//!   read with `kv.get` during prepare and written through the checkout's effects, so it
//!   only moves when the checkout commits: after any crash it equals the number of receipts
//!   that account has.
//! - `commit_checkout`, `abort_checkout`: nothing to do (everything is in the effects).
//! - `deliver_message`: the "partner" is simulated and takes every message at once, so the
//!   host's outbox worker delivers each checkout's message instead of retrying it forever.

#![forbid(unsafe_code)]

use posd_plugin_sdk::schema::{
    AbortCheckoutRequest, CheckoutEffects, CommitCheckoutRequest, DeliverMessageRequest,
    DeliverMessageResponse, Empty, EvaluateBasketRequest, EvaluateBasketResponse, KvWrite,
    LineKind, OutboxMessage, Posting, PrepareCheckoutRequest, Preview, ReceiptSection, Sale,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    AbortCheckout, CommitCheckout, Decimal, DeliverMessage, EvaluateBasket, Host, Plugin,
    PluginError, PrepareCheckout, WholeUnits, posd_plugin,
};

/// The destination of the outbox messages, the only one `deliver_message` knows.
pub const PARTNER: &str = "partner";

/// The account of sales without a customer.
pub const ANONYMOUS_POOL: &str = "pool:anonymous";
/// The contra account every earned point is booked against.
pub const ISSUED: &str = "issued";
/// The unit of every posting.
pub const UNIT: &str = "points";

/// No state: everything it needs is in the request or the host's kv.
pub struct Points;

impl Plugin for Points {
    const ID: &'static str = "points";
    const NAME: &'static str = "Points (test)";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Test plugin: one point per full currency unit, booked at checkout";

    fn create(_host: &Host, _config: Value) -> Result<Self, PluginError> {
        Ok(Points)
    }
}

/// Points a sale earns: one per full currency unit of its item lines, never negative.
pub fn points_of(sale: &Sale) -> Decimal {
    let goods: Decimal = sale
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Item)
        .map(|l| l.amount)
        .sum();
    goods.trunc().max(Decimal::ZERO).normalize()
}

/// The ledger account (in the plugin's namespace) a sale's points go to.
pub fn account_of(sale: &Sale) -> String {
    match sale.customer.as_deref().map(str::trim) {
        Some(customer) if !customer.is_empty() => format!("customer:{customer}"),
        _ => ANONYMOUS_POOL.to_string(),
    }
}

impl EvaluateBasket for Points {
    fn evaluate_basket(
        &mut self,
        _host: &Host,
        request: EvaluateBasketRequest,
    ) -> Result<EvaluateBasketResponse, PluginError> {
        let points = points_of(&request.sale);
        Ok(EvaluateBasketResponse {
            lines: Vec::new(),
            independent: true,
            previews: vec![Preview {
                label: format!("Sie sammeln {points} Punkte"),
                points: Some(points),
                amount: None,
                ..Preview::default()
            }],
        })
    }
}

impl PrepareCheckout for Points {
    fn prepare_checkout(
        &mut self,
        host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let points = points_of(&request.sale);
        let whole = points.whole_units()?;
        let account = account_of(&request.sale);
        let customer = request
            .sale
            .customer
            .clone()
            .filter(|c| !c.trim().is_empty());
        // `-0` would print as such: book a zero sale as 0 on both sides.
        let contra = if points.is_zero() {
            Decimal::ZERO
        } else {
            -points
        };
        let counter_key = format!("checkouts:{account}");
        let checkouts = host.kv_get::<u64>(&counter_key)?.unwrap_or(0) + 1;
        let posting = |account: &str, amount: Decimal, customer: Option<String>| Posting {
            account: account.to_string(),
            amount,
            unit: UNIT.to_string(),
            kind: "points".to_string(),
            customer,
            ..Posting::default()
        };
        Ok(CheckoutEffects {
            postings: vec![
                posting(&account, points, customer),
                posting(ISSUED, contra, None),
            ],
            outbox: vec![OutboxMessage {
                destination: PARTNER.to_string(),
                key: request.checkout.clone(),
                payload: json!({ "points": whole }),
            }],
            sections: vec![ReceiptSection {
                title: "Punkte".to_string(),
                lines: vec![format!("+{points} Punkte")],
                ..ReceiptSection::default()
            }],
            kv: vec![KvWrite::new(counter_key, &checkouts)?],
        })
    }
}

impl CommitCheckout for Points {
    fn commit_checkout(
        &mut self,
        _host: &Host,
        _request: CommitCheckoutRequest,
    ) -> Result<Empty, PluginError> {
        Ok(Empty {})
    }
}

impl AbortCheckout for Points {
    fn abort_checkout(
        &mut self,
        _host: &Host,
        _request: AbortCheckoutRequest,
    ) -> Result<Empty, PluginError> {
        Ok(Empty {})
    }
}

impl DeliverMessage for Points {
    fn deliver_message(
        &mut self,
        _host: &Host,
        request: DeliverMessageRequest,
    ) -> Result<DeliverMessageResponse, PluginError> {
        if request.message.destination == PARTNER {
            Ok(DeliverMessageResponse::Delivered)
        } else {
            Err(PluginError::invalid_argument(format!(
                "no partner {:?}",
                request.message.destination
            )))
        }
    }
}

posd_plugin!(Points);

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::testing::Harness;

    fn harness() -> Harness<Points> {
        Harness::create(json!({})).unwrap()
    }

    fn sale(customer: Value) -> Value {
        json!({
            "id": "S1", "currency": "EUR", "customer": customer,
            "lines": [
                {"id": "L1", "kind": "item", "qty": "2", "unit_price": "6.50", "amount": "13.00"},
                {"id": "L2", "kind": "item", "qty": "1", "unit_price": "3.99", "amount": "3.99"},
                {"id": "L3", "kind": "voucher_sale", "qty": "1", "unit_price": "50.00",
                 "amount": "50.00"},
                {"id": "L4", "kind": "discount", "qty": "1", "unit_price": "-1.00",
                 "amount": "-1.00"}
            ],
            "tenders": [{"id": "T1", "method": "cash", "amount": "70.00"}],
            "totals": {"total": "65.99"}
        })
    }

    fn prepare(h: &mut Harness<Points>, customer: Value, checkout: &str) -> Value {
        h.call(
            "prepare_checkout",
            &json!({"schema": 1, "sale": sale(customer), "store": {"id": "0001"},
                    "checkout": checkout, "receipt_id": "0001-01-000007"}),
        )
        .unwrap()
    }

    #[test]
    fn implements_exactly_the_points_hooks() {
        let h = harness();
        for hook in [
            "evaluate_basket",
            "prepare_checkout",
            "commit_checkout",
            "abort_checkout",
            "deliver_message",
        ] {
            assert!(h.implements(hook), "{hook}");
        }
        for hook in [
            "classify_code",
            "enter_code",
            "void_receipt",
            "return_lines",
        ] {
            assert!(!h.implements(hook), "{hook}");
        }
    }

    #[test]
    fn the_preview_counts_a_point_per_full_unit_of_item_lines() {
        let mut h = harness();
        let answer = h
            .call(
                "evaluate_basket",
                &json!({"schema": 1, "sale": sale(json!("C-1")), "store": {}}),
            )
            .unwrap();
        assert_eq!(
            answer,
            json!({"lines": [], "previews": [{"label": "Sie sammeln 16 Punkte", "points": "16"}],
                   "independent": true})
        );
        let empty = h
            .call(
                "evaluate_basket",
                &json!({"schema": 1, "sale": {"lines": []}}),
            )
            .unwrap();
        assert_eq!(empty["previews"][0]["points"], "0");
    }

    #[test]
    fn a_customer_earns_points_with_a_message_a_section_and_a_counter() {
        let mut h = harness();
        let answer = prepare(&mut h, json!("C-1001"), "S1/k-1");
        assert_eq!(
            answer["postings"],
            json!([
                {"account": "customer:C-1001", "amount": "16", "unit": "points",
                 "kind": "points", "customer": "C-1001"},
                {"account": "issued", "amount": "-16", "unit": "points", "kind": "points"}
            ])
        );
        assert_eq!(
            answer["outbox"],
            json!([{"destination": "partner", "key": "S1/k-1", "payload": {"points": 16}}])
        );
        assert_eq!(
            answer["sections"],
            json!([{"title": "Punkte", "lines": ["+16 Punkte"], "slip": false}])
        );
        assert_eq!(
            answer["kv"],
            json!([{"key": "checkouts:customer:C-1001", "value": 1}])
        );
        // Prepare changes nothing itself: the counter moves only when the host commits the
        // kv write of the effects.
        assert!(h.kv().is_empty());
        assert_eq!(h.service_calls(), vec!["kv.get".to_string()]);
    }

    #[test]
    fn the_counter_continues_from_what_the_host_committed() {
        let mut h = harness();
        h.kv_put("checkouts:customer:C-7", &41u64).unwrap();
        let answer = prepare(&mut h, json!("C-7"), "S1/k-2");
        assert_eq!(
            answer["kv"],
            json!([{"key": "checkouts:customer:C-7", "value": 42}])
        );
    }

    #[test]
    fn checkouts_in_sequence_count_book_and_send_as_the_host_commits_them() {
        let mut h = harness();
        for _ in 0..2 {
            h.checkout(&sale(json!("C-1001"))).unwrap();
        }
        h.checkout(&sale(Value::Null)).unwrap();
        assert_eq!(
            h.kv_get::<u64>("checkouts:customer:C-1001").unwrap(),
            Some(2)
        );
        assert_eq!(
            h.kv_get::<u64>("checkouts:pool:anonymous").unwrap(),
            Some(1)
        );
        let card = h.ledger_balance("customer:C-1001");
        assert_eq!(
            (card.balance, card.unit.as_str()),
            (Decimal::from(32), UNIT)
        );
        assert_eq!(h.ledger_balance(ISSUED).balance, Decimal::from(-48));
        let outbox = h.outbox();
        assert_eq!(outbox.len(), 3, "one message per checkout: {outbox:?}");
        assert_eq!(outbox[0].payload, json!({"points": 16}));
    }

    #[test]
    fn without_a_customer_the_points_go_to_the_anonymous_pool() {
        let mut h = harness();
        for customer in [Value::Null, json!("")] {
            let answer = prepare(&mut h, customer, "S2/k");
            assert_eq!(answer["postings"][0]["account"], ANONYMOUS_POOL);
            assert!(answer["postings"][0].get("customer").is_none());
            assert_eq!(answer["postings"][1]["amount"], "-16");
            assert_eq!(answer["kv"][0]["key"], "checkouts:pool:anonymous");
        }
    }

    #[test]
    fn a_sale_below_one_unit_books_zero_on_both_sides() {
        let mut h = harness();
        let answer = h
            .call(
                "prepare_checkout",
                &json!({"schema": 1, "checkout": "S3/k", "sale": {"customer": "C-1",
                        "lines": [{"id": "L1", "kind": "item", "amount": "0.99"}]}}),
            )
            .unwrap();
        assert_eq!(answer["postings"][0]["amount"], "0");
        assert_eq!(answer["postings"][1]["amount"], "0");
        assert_eq!(answer["outbox"][0]["payload"], json!({"points": 0}));
        assert_eq!(answer["sections"][0]["lines"], json!(["+0 Punkte"]));
    }

    #[test]
    fn commit_and_abort_answer_an_empty_object() {
        let mut h = harness();
        let commit = h
            .call(
                "commit_checkout",
                &json!({"schema": 1, "checkout": "S1/k", "receipt_id": "R1"}),
            )
            .unwrap();
        assert_eq!(commit, json!({}));
        let abort = h
            .call(
                "abort_checkout",
                &json!({"schema": 1, "checkout": "S1/k", "reason": "test"}),
            )
            .unwrap();
        assert_eq!(abort, json!({}));
        assert_eq!(h.outstanding_host_buffers(), 0);
    }

    #[test]
    fn the_simulated_partner_takes_its_messages_and_refuses_others() {
        let mut h = harness();
        let delivered = h
            .call(
                "deliver_message",
                &json!({"schema": 1, "message": {"id": "1", "destination": "partner",
                        "key": "S1/k", "payload": {"points": 3}, "attempt": 1}}),
            )
            .unwrap();
        assert_eq!(delivered, json!({"delivered": true}));
        let error = h
            .call(
                "deliver_message",
                &json!({"schema": 1, "message": {"id": "2", "destination": "payback"}}),
            )
            .unwrap_err();
        assert_eq!(error.error, posd_plugin_sdk::ErrorName::InvalidArgument);
    }
}
