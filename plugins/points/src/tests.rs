//! The plugin through the SDK's in-memory host: a till's sequence of evaluations,
//! checkouts, voids and returns, with the ledger and kv kept across calls and a restart.

use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::testing::Harness;
use posd_plugin_sdk::{Decimal, ErrorName};

use crate::Points;

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// 2026-01-01T10:00:00Z, and that many days later.
fn day(days: i64) -> i64 {
    1_767_261_600_000 + days * 86_400_000
}

fn harness() -> Harness<Points> {
    let h = Harness::<Points>::create(json!({"programmes": [{
        "id": "bonus", "name": "Body", "point_value": "1.00", "valid_months": 12,
        "group_point_values": {"vip": "1.20"},
        "rules": [{"points": "1", "per_amount": "10"}],
        "rewards": [{"id": "5eur", "name": "5 € Rabatt", "points": "100", "amount": "5.00"}]
    }]}))
    .unwrap();
    h.set_now(day(0));
    h
}

fn item(id: &str, qty: &str, price: &str) -> Value {
    let amount = (d(qty) * d(price)).round_dp(2);
    json!({"id": id, "kind": "item", "qty": qty, "unit_price": price, "amount": amount.to_string(),
           "tax_rate": "20", "tags": []})
}

fn sale(id: &str, customer: &str, lines: Vec<Value>) -> Value {
    json!({"id": id, "currency": "CZK", "customer": customer, "customer_groups": ["vip"],
           "lines": lines, "tenders": []})
}

/// The sale with the plugin's automatic lines as the host would add them.
fn evaluated(h: &mut Harness<Points>, mut sale: Value) -> (Value, Value) {
    let answer = h
        .call(
            "evaluate_basket",
            &json!({"schema": 1, "sale": sale, "store": {"locale": "cs-CZ"}}),
        )
        .unwrap();
    for (i, line) in answer["lines"].as_array().unwrap().iter().enumerate() {
        sale["lines"].as_array_mut().unwrap().push(json!({
            "id": format!("A{i}"), "kind": "points_redemption", "qty": "1",
            "unit_price": line["amount"], "amount": line["amount"], "plugin": "points",
            "ref": line["ref"], "data": line["data"]}));
    }
    (sale, answer)
}

fn balance(h: &Harness<Points>) -> Decimal {
    h.ledger_balance("customer:bonus:C-1").balance
}

#[test]
fn a_sale_earns_and_its_void_takes_the_points_back() {
    let mut h = harness();
    let (s, answer) = evaluated(&mut h, sale("S1", "C-1", vec![item("L1", "1", "105.00")]));
    assert_eq!(answer["previews"][0]["points"], "10");
    assert_eq!(answer["previews"][0]["kind"], "earn");
    let done = h.checkout(&s).unwrap();
    assert_eq!(balance(&h), d("10"));
    assert_eq!(h.ledger_balance("earned:bonus").balance, d("-10"));
    let section = &done.effects.sections[0];
    assert!(
        section.lines.contains(&"Gesammelt: +10".to_string()),
        "{section:?}"
    );
    assert!(
        section
            .lines
            .contains(&"Punktestand: 10 Punkte".to_string()),
        "{section:?}"
    );
    h.void(&done.receipt.id).unwrap();
    assert_eq!(balance(&h), Decimal::ZERO);
    assert_eq!(h.ledger_balance("earned:bonus").balance, Decimal::ZERO);
}

#[test]
fn the_cashiers_redemption_survives_a_restart_and_follows_the_basket() {
    let mut h = harness();
    h.checkout(&sale("S0", "C-1", vec![item("L1", "1", "500.00")]))
        .unwrap();
    assert_eq!(balance(&h), d("50"));
    let open = sale("S1", "C-1", vec![item("L1", "1", "30.00")]);
    let actions = h
        .call("list_actions", &json!({"schema": 1, "sale": open}))
        .unwrap();
    let param = &actions["actions"][0]["params"][0];
    assert_eq!(param["suggested"], "25", "30.00 / 1.2 = 25 points, of 50");
    let too_many = h
        .call(
            "invoke_action",
            &json!({"schema": 1, "sale": open, "action": "redeem-bonus", "args": {"points": "60"}}),
        )
        .unwrap_err();
    assert_eq!(too_many.error, ErrorName::InsufficientBalance);
    h.call(
        "invoke_action",
        &json!({"schema": 1, "sale": open, "action": "redeem-bonus", "args": {"points": "20"}}),
    )
    .unwrap();
    h.restart().unwrap();
    let (s, answer) = evaluated(&mut h, open.clone());
    assert_eq!(
        answer["lines"][0]["amount"], "-24.00",
        "20 × 1.2 after the restart"
    );
    // The basket shrinks: the redemption shrinks with it.
    let smaller = sale("S1", "C-1", vec![item("L1", "1", "12.00")]);
    let (_, answer) = evaluated(&mut h, smaller);
    assert_eq!(answer["lines"][0]["amount"], "-12.00");
    assert_eq!(answer["lines"][0]["data"]["points"], "10");
    // Checked out at 30.00: 20 spent, 6.00 left earns 0.
    let done = h.checkout(&s).unwrap();
    assert_eq!(balance(&h), d("30"));
    assert_eq!(h.ledger_balance("redeemed:bonus").balance, d("20"));
    assert!(
        h.kv_get::<Value>("choice:S1").unwrap().is_none(),
        "gone with the checkout"
    );
    // A void gives the 20 back.
    h.void(&done.receipt.id).unwrap();
    assert_eq!(balance(&h), d("50"));
}

#[test]
fn rewards_are_taken_one_block_after_another() {
    let mut h = harness();
    h.checkout(&sale("S0", "C-1", vec![item("L1", "1", "2500.00")]))
        .unwrap();
    let open = sale("S1", "C-1", vec![item("L1", "1", "12.00")]);
    let listed = h
        .call("list_rewards", &json!({"schema": 1, "sale": open}))
        .unwrap();
    assert_eq!(listed["rewards"][0]["id"], "bonus:5eur");
    for _ in 0..2 {
        h.call(
            "apply_reward",
            &json!({"schema": 1, "sale": open, "reward": "bonus:5eur"}),
        )
        .unwrap();
    }
    let (s, answer) = evaluated(&mut h, open.clone());
    assert_eq!(answer["lines"][0]["amount"], "-10.00");
    let listed = h
        .call("list_rewards", &json!({"schema": 1, "sale": s}))
        .unwrap();
    assert_eq!(listed["rewards"], json!([]), "2.00 left: no third block");
    h.checkout(&s).unwrap();
    assert_eq!(balance(&h), d("50"), "250 − 200");
}

#[test]
fn points_expire_first_in_first_out_at_the_next_checkout() {
    let mut h = harness();
    h.checkout(&sale("S1", "C-1", vec![item("L1", "1", "100.00")]))
        .unwrap(); // 10, valid to 2027-01-01
    h.set_now(day(100));
    h.checkout(&sale("S2", "C-1", vec![item("L1", "1", "50.00")]))
        .unwrap(); // 5, valid to 2027-04-11
    h.set_now(day(366)); // 2027-01-02: the first lot has expired
    let done = h
        .checkout(&sale("S3", "C-1", vec![item("L1", "1", "10.00")]))
        .unwrap();
    assert_eq!(balance(&h), d("6"), "15 − 10 expired + 1");
    assert_eq!(h.ledger_balance("expired:bonus").balance, d("10"));
    assert!(
        done.effects.sections[0]
            .lines
            .contains(&"Verfallen: -10".to_string()),
        "{:?}",
        done.effects.sections
    );
    // Expired once: the next checkout posts no expiry.
    let again = h
        .checkout(&sale("S4", "C-1", vec![item("L1", "1", "1.00")]))
        .unwrap();
    assert!(!again.effects.postings.iter().any(|p| p.kind == "expire"));
}

#[test]
fn a_partial_return_takes_back_its_share_and_a_void_after_it_only_the_rest() {
    let mut h = harness();
    let done = h
        .checkout(&sale(
            "S1",
            "C-1",
            vec![item("L1", "3", "40.00"), item("L2", "1", "80.00")],
        ))
        .unwrap();
    assert_eq!(balance(&h), d("20"));
    let back = |h: &mut Harness<Points>, line: &str| {
        let answer = h
            .call(
                "return_lines",
                &json!({"schema": 1, "receipt": done.receipt, "lines": [{"line": line, "qty": "1"}],
                        "return_receipt_id": "R-back"}),
            )
            .unwrap();
        let effects = serde_json::from_value(answer).unwrap();
        h.apply(&effects).unwrap();
    };
    back(&mut h, "L1");
    assert_eq!(balance(&h), d("16"), "40 of 200 back: 4 points");
    h.void(&done.receipt.id).unwrap();
    assert_eq!(balance(&h), Decimal::ZERO, "the rest, not the 4 again");
    assert_eq!(h.ledger_balance("earned:bonus").balance, Decimal::ZERO);
}

#[test]
fn points_spent_before_a_void_leave_a_visible_debt_that_later_earnings_pay_off() {
    let mut h = harness();
    let first = h
        .checkout(&sale("S1", "C-1", vec![item("L1", "1", "100.00")]))
        .unwrap();
    let open = sale("S2", "C-1", vec![item("L1", "1", "50.00")]);
    h.call(
        "invoke_action",
        &json!({"schema": 1, "sale": open, "action": "redeem-bonus", "args": {"points": "10"}}),
    )
    .unwrap();
    let (s, _) = evaluated(&mut h, open);
    h.checkout(&s).unwrap(); // −10 spent, +3 earned on 38.00
    assert_eq!(balance(&h), d("3"));
    let void = h.void(&first.receipt.id).unwrap();
    assert_eq!(balance(&h), d("-7"), "the 10 come back off: a debt of 7");
    assert!(
        void.effects.sections[0]
            .lines
            .iter()
            .any(|l| l.contains("-7")),
        "{:?}",
        void.effects.sections
    );
    let open = sale("S3", "C-1", vec![item("L1", "1", "10.00")]);
    let refused = h
        .call(
            "invoke_action",
            &json!({"schema": 1, "sale": open, "action": "redeem-bonus", "args": {"points": "1"}}),
        )
        .unwrap_err();
    assert_eq!(refused.error, ErrorName::InsufficientBalance);
    h.checkout(&sale("S4", "C-1", vec![item("L1", "1", "100.00")]))
        .unwrap();
    assert_eq!(balance(&h), d("3"), "the debt paid off first");
}

#[test]
fn the_customer_sees_every_programme_and_posctl_the_history() {
    let mut h = harness();
    h.checkout(&sale("S1", "C-1", vec![item("L1", "1", "100.00")]))
        .unwrap();
    let accounts = h
        .call(
            "customer_accounts",
            &json!({"schema": 1, "customer": "C-1"}),
        )
        .unwrap();
    assert_eq!(
        accounts["accounts"],
        json!([{"programme": "Body", "kind": "points", "balance": "10", "unit": "points"}])
    );
    let shown = h.invoke_admin("show", json!({"customer": "C-1"})).unwrap();
    assert!(shown.text.contains("balance 10 points"), "{}", shown.text);
    assert!(
        shown.text.contains("+10  (expires 2027-01-01)"),
        "{}",
        shown.text
    );
    let unknown = h
        .invoke_admin("show", json!({"customer": "C-NOBODY"}))
        .unwrap_err();
    assert_eq!(unknown.error, ErrorName::NotFound);
    h.set_now(day(400));
    let expired = h.invoke_admin("expire", json!({})).unwrap();
    assert!(
        expired.text.contains("C-1: 10 points expired"),
        "{}",
        expired.text
    );
    assert_eq!(balance(&h), Decimal::ZERO);
    let again = h.invoke_admin("expire", json!({})).unwrap();
    assert!(again.effects.is_none(), "nothing twice");
}

#[test]
fn a_void_gives_spent_points_back_with_their_own_expiry_so_they_are_not_made_young() {
    let mut h = harness();
    h.checkout(&sale("S1", "C-1", vec![item("L1", "1", "100.00")]))
        .unwrap(); // 10, valid through 2027-01-01
    h.set_now(day(10));
    let open = sale("S2", "C-1", vec![item("L1", "1", "50.00")]);
    h.call(
        "invoke_action",
        &json!({"schema": 1, "sale": open, "action": "redeem-bonus", "args": {"points": "10"}}),
    )
    .unwrap();
    let (s, _) = evaluated(&mut h, open);
    let spent = h.checkout(&s).unwrap(); // −10, +3 (38.00), valid through 2027-01-11
    h.set_now(day(366)); // 2027-01-02
    let void = h.void(&spent.receipt.id).unwrap();
    let back: Vec<_> = void
        .effects
        .postings
        .iter()
        .filter(|p| p.account == "customer:bonus:C-1" && p.amount > Decimal::ZERO)
        .map(|p| p.expires.clone())
        .collect();
    assert_eq!(back, [Some("2027-01-01".to_string())]);
    assert_eq!(balance(&h), d("10"), "3 taken back, 10 given back");
    // They expired the day before: the next contact posts them away.
    h.checkout(&sale("S3", "C-1", vec![item("L1", "1", "1.00")]))
        .unwrap();
    assert_eq!(balance(&h), Decimal::ZERO);
    assert_eq!(h.ledger_balance("expired:bonus").balance, d("10"));
}

#[test]
fn a_choice_made_for_one_customer_does_not_follow_the_sale_to_another() {
    let mut h = harness();
    h.checkout(&sale("S0", "C-1", vec![item("L1", "1", "500.00")]))
        .unwrap();
    let open = sale("S1", "C-1", vec![item("L1", "1", "30.00")]);
    h.call(
        "invoke_action",
        &json!({"schema": 1, "sale": open, "action": "redeem-bonus", "args": {"points": "5"}}),
    )
    .unwrap();
    let (_, answer) = evaluated(&mut h, sale("S1", "C-2", vec![item("L1", "1", "30.00")]));
    assert_eq!(answer["lines"], json!([]));
    let (_, answer) = evaluated(&mut h, open);
    assert_eq!(answer["lines"][0]["amount"], "-6.00");
}

#[test]
fn without_print_balance_the_receipt_shows_what_moved_but_no_balance() {
    let mut h = Harness::<Points>::create(json!({"programmes": [{
        "id": "cashback", "name": "CashBack", "kind": "money", "unit": "CZK",
        "print_balance": false, "rules": [{"points": "2", "per_amount": "100"}]}]}))
    .unwrap();
    let done = h
        .checkout(&sale("S1", "C-1", vec![item("L1", "1", "250.00")]))
        .unwrap();
    assert_eq!(done.effects.sections[0].lines, ["Gesammelt: +5.00"]);
    assert_eq!(h.ledger_balance("customer:cashback:C-1").balance, d("5.00"));
}
