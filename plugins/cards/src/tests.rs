//! The plugin through the SDK's in-memory host, as a till runs it: cards sold and scanned,
//! every programme through checkout and void, bad input, and a restart in between to show
//! nothing lived only in memory.

use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::testing::Harness;
use posd_plugin_sdk::{Decimal, ErrorName};

use crate::Cards;
use crate::number::with_check_digit;

fn config() -> Value {
    json!({
        "number_prefix": "2791",
        "programmes": [
            {"id": "guthaben", "name": "Guthabenkarte", "kind": "stored_value", "max_balance": "300.00"},
            {"id": "rabatt", "name": "Rabatt Hörgeräte", "kind": "discount", "percent": "10", "tags": ["hearing"]},
            {"id": "batterien", "name": "Batteriebonus", "kind": "bonus_article", "every": 3, "tags": ["group:batteries"]},
            {"id": "garantie", "name": "Garantieverlängerung", "kind": "warranty", "months": 24, "tags": ["hearing"]},
            {"id": "training", "name": "Trainingskarte", "kind": "sessions", "sessions": 3}
        ],
        "card_types": [
            {"id": "plus", "name": "Kundenkarte Plus", "price": "5.00", "tax_rate": "20",
             "programmes": ["guthaben", "rabatt", "batterien", "garantie", "training"]},
            {"id": "bonus", "name": "Bonuskarte", "programmes": ["batterien"]}
        ]
    })
}

fn number(n: u32) -> String {
    with_check_digit(&format!("2791{n:08}"))
}

fn harness() -> Harness<Cards> {
    Harness::<Cards>::create(config()).unwrap()
}

fn sale(id: &str, customer: Option<&str>, lines: Value, tenders: Value) -> Value {
    json!({"id": id, "currency": "EUR", "customer": customer, "lines": lines, "tenders": tenders})
}

fn item(id: &str, price: &str, qty: &str, tags: &[&str]) -> Value {
    let amount = (price.parse::<Decimal>().unwrap() * qty.parse::<Decimal>().unwrap()).to_string();
    json!({"id": id, "kind": "item", "name": "Ware", "sku": "4711", "qty": qty, "unit_price": price,
           "amount": amount, "tax_rate": "20", "tags": tags})
}

/// The first line an effects answer adds, as the host puts it on the sale with `id`.
fn as_line(answer: &Value, id: &str) -> Value {
    let mut line = answer["add_lines"][0].clone();
    let amount = (line["qty"].as_str().unwrap().parse::<Decimal>().unwrap()
        * line["unit_price"]
            .as_str()
            .unwrap()
            .parse::<Decimal>()
            .unwrap())
    .to_string();
    line["id"] = json!(id);
    line["plugin"] = json!("cards");
    line["amount"] = json!(amount);
    line
}

fn invoke(
    h: &mut Harness<Cards>,
    sale: &Value,
    action: &str,
    args: Value,
) -> Result<Value, posd_plugin_sdk::PluginError> {
    h.call(
        "invoke_action",
        &json!({"schema": 1, "sale": sale, "action": action, "args": args}),
    )
}

/// Sells a card of `card_type` to `customer` and checks the sale out; the receipt id.
fn sell_card(h: &mut Harness<Cards>, card_type: &str, card: &str, customer: &str) -> String {
    let open = sale("S-card", Some(customer), json!([]), json!([]));
    let answer = invoke(
        h,
        &open,
        "sell-card",
        json!({"card_type": card_type, "number": card}),
    )
    .unwrap();
    let line = as_line(&answer, "L1");
    let paid = line["amount"].clone();
    h.checkout(&sale(
        "S-card",
        Some(customer),
        json!([line]),
        json!([{"id": "T1", "method": "cash", "amount": paid}]),
    ))
    .unwrap()
    .receipt
    .id
}

fn error(result: Result<Value, posd_plugin_sdk::PluginError>) -> ErrorName {
    result.expect_err("an error").error
}

fn balance(h: &Harness<Cards>, account: &str) -> String {
    h.ledger_balance(account).balance.to_string()
}

#[test]
fn a_card_sold_is_recognised_scanned_and_listed_and_survives_a_restart() {
    let mut h = harness();
    let card = number(1);
    let receipt = sell_card(&mut h, "plus", &card, "C-1");
    assert_eq!(balance(&h, &format!("sessions:{card}:training")), "3");
    h.restart().unwrap();

    let info = h
        .call("classify_code", &json!({"schema": 1, "code": card}))
        .unwrap();
    assert_eq!(info["kind"], "customer_card");
    assert_eq!(info["customer"], "C-1");
    assert_eq!(info["balance"], "0");
    let entered = h
        .call(
            "enter_code",
            &json!({"schema": 1, "code": card, "sale": sale("S2", None, json!([]), json!([]))}),
        )
        .unwrap();
    assert_eq!(entered["set_customer"], "C-1");
    assert_eq!(entered["kind"], "customer_card");

    let accounts = h
        .call(
            "customer_accounts",
            &json!({"schema": 1, "customer": "C-1"}),
        )
        .unwrap();
    let accounts = accounts["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 5, "{accounts:?}");
    assert_eq!(
        accounts[0]["programme"],
        format!("Guthabenkarte ••••{}", &card[9..])
    );
    assert_eq!(accounts[0]["kind"], "wallet");
    assert_eq!(accounts[4]["balance"], "3");
    assert_eq!(accounts[4]["unit"], "sessions");

    // Sold twice: refused; a void takes the unused card back.
    let again = sale("S3", Some("C-2"), json!([]), json!([]));
    assert_eq!(
        error(invoke(
            &mut h,
            &again,
            "sell-card",
            json!({"card_type": "plus", "number": card})
        )),
        ErrorName::NotAllowed
    );
    h.void(&receipt).unwrap();
    assert_eq!(
        error(h.call("classify_code", &json!({"schema": 1, "code": card}))),
        ErrorName::NotFound
    );
    assert_eq!(balance(&h, &format!("sessions:{card}:training")), "0");
}

#[test]
fn unknown_mistyped_and_foreign_codes() {
    let mut h = harness();
    assert_eq!(
        error(h.call("classify_code", &json!({"schema": 1, "code": number(9)}))),
        ErrorName::NotFound
    );
    let mut wrong = number(9);
    let last = wrong.pop().unwrap();
    wrong.push(if last == '0' { '1' } else { '0' });
    assert_eq!(
        error(h.call("classify_code", &json!({"schema": 1, "code": wrong}))),
        ErrorName::InvalidArgument
    );
    let foreign = h
        .call(
            "classify_code",
            &json!({"schema": 1, "code": "0441234567890"}),
        )
        .unwrap();
    assert_eq!(foreign, json!({"claimed": false}));
}

#[test]
fn a_card_sold_without_a_customer_becomes_the_customer_unless_configured_otherwise() {
    let mut h = harness();
    let card = number(2);
    let open = sale("S1", None, json!([]), json!([]));
    let answer = invoke(
        &mut h,
        &open,
        "sell-card",
        json!({"card_type": "bonus", "number": card}),
    )
    .unwrap();
    assert_eq!(answer["set_customer"], card.as_str());
    let line = as_line(&answer, "L1");
    h.checkout(&sale("S1", Some(&card), json!([line]), json!([])))
        .unwrap();
    let info = h
        .call("classify_code", &json!({"schema": 1, "code": card}))
        .unwrap();
    assert_eq!(info["customer"], card.as_str());

    let mut strict = config();
    strict["without_customer"] = json!("customer_required");
    let mut h = Harness::<Cards>::create(strict).unwrap();
    assert_eq!(
        error(invoke(
            &mut h,
            &open,
            "sell-card",
            json!({"card_type": "bonus", "number": number(3)})
        )),
        ErrorName::CustomerRequired
    );
}

#[test]
fn stored_value_is_topped_up_spent_voided_and_never_overdrawn() {
    let mut h = harness();
    let card = number(4);
    sell_card(&mut h, "plus", &card, "C-4");
    let account = format!("credit:{card}");

    let open = sale("S-top", Some("C-4"), json!([]), json!([]));
    let answer = invoke(&mut h, &open, "topup", json!({"amount": "50.00"})).unwrap();
    assert_eq!(answer["lock_customer"], true);
    let line = as_line(&answer, "L1");
    assert_eq!(line["kind"], "voucher_topup");
    assert_eq!(line["tax_rate"], "0");
    let topped = h
        .checkout(&sale(
            "S-top",
            Some("C-4"),
            json!([line]),
            json!([{"id": "T1", "method": "cash", "amount": "50.00"}]),
        ))
        .unwrap();
    assert_eq!(balance(&h, &account), "50.00");
    assert!(
        topped.effects.sections[0]
            .lines
            .contains(&"Guthaben: 50.00 EUR".to_string())
    );
    // Above max_balance: refused.
    assert_eq!(
        error(invoke(&mut h, &open, "topup", json!({"amount": "260.00"}))),
        ErrorName::NotAllowed
    );

    let goods = json!([item("L1", "80.00", "1", &[])]);
    let tender = |amount: &str| {
        json!({"schema": 1, "sale": sale("S-pay", Some("C-4"), goods.clone(), json!([])),
               "tender": {"method": "card_credit", "amount": amount, "details": {}}})
    };
    let refused = h.call("validate_tender", &tender("50.01")).unwrap_err();
    assert_eq!(refused.error, ErrorName::InsufficientBalance);
    assert!(refused.message.contains("50.00"), "{}", refused.message);
    let other = h
        .call(
            "validate_tender",
            &json!({"schema": 1, "sale": sale("S", Some("C-4"), goods.clone(), json!([])),
                                         "tender": {"method": "credit", "amount": "1.00"}}),
        )
        .unwrap_err();
    assert_eq!(other.error, ErrorName::NotFound, "another plugin's method");
    let accepted = h.call("validate_tender", &tender("30.00")).unwrap();
    assert_eq!(accepted["amount"], "30.00");
    let t = json!({"id": "T1", "method": "card_credit", "amount": "30.00", "plugin": "cards",
                   "ref": accepted["ref"], "data": accepted["data"]});
    let paid = h
        .checkout(&sale(
            "S-pay",
            Some("C-4"),
            goods.clone(),
            json!([t, {"id": "T2", "method": "cash", "amount": "50.00"}]),
        ))
        .unwrap();
    assert_eq!(balance(&h, &account), "20.00");
    assert_eq!(balance(&h, "credit-issued"), "-20.00");

    // The top-up can't be voided now: 30 of it was spent.
    assert_eq!(
        h.void(&topped.receipt.id).unwrap_err().error,
        ErrorName::NotAllowed
    );
    assert_eq!(balance(&h, &account), "20.00", "nothing changed");
    // The payment's void puts the 30 back; then the top-up's void takes all 50 off.
    h.void(&paid.receipt.id).unwrap();
    assert_eq!(balance(&h, &account), "50.00");
    h.restart().unwrap();
    h.void(&topped.receipt.id).unwrap();
    assert_eq!(balance(&h, &account), "0.00");
    assert_eq!(balance(&h, "credit-issued"), "0.00");
}

#[test]
fn a_return_of_goods_paid_with_stored_value_goes_back_onto_the_card() {
    let mut h = harness();
    let card = number(5);
    sell_card(&mut h, "plus", &card, "C-5");
    h.post(&[
        posd_plugin_sdk::schema::Posting {
            account: format!("credit:{card}"),
            amount: Decimal::new(4000, 2),
            unit: "EUR".into(),
            kind: "topup".into(),
            floor: Some(Decimal::ZERO),
            ..Default::default()
        },
        posd_plugin_sdk::schema::Posting {
            account: "credit-issued".into(),
            amount: Decimal::new(-4000, 2),
            unit: "EUR".into(),
            kind: "topup".into(),
            ..Default::default()
        },
    ])
    .unwrap();
    let t = json!({"id": "T1", "method": "card_credit", "amount": "40.00", "plugin": "cards", "ref": "••••",
                   "data": {"card": card, "programme": "guthaben"}});
    let paid = h
        .checkout(&sale(
            "S",
            Some("C-5"),
            json!([item("L1", "40.00", "1", &[])]),
            json!([t]),
        ))
        .unwrap();
    assert_eq!(balance(&h, &format!("credit:{card}")), "0.00");
    let answer = h
        .call("return_lines", &json!({"schema": 1, "store": {"currency": "EUR"}, "receipt": h.receipt(&paid.receipt.id),
                                      "lines": [{"line": "L1", "qty": "1"}], "return_receipt_id": "R-9",
                                      "refunds": [{"tender": "T1", "amount": "40.00"}]}))
        .unwrap();
    assert_eq!(answer["refunds"][0]["amount"], "40.00");
    let effects: posd_plugin_sdk::schema::CheckoutEffects = serde_json::from_value(answer).unwrap();
    h.apply(&effects).unwrap();
    assert_eq!(balance(&h, &format!("credit:{card}")), "40.00");
}

#[test]
fn holders_get_their_discount_on_tagged_goods_only() {
    let mut h = harness();
    sell_card(&mut h, "plus", &number(6), "C-6");
    let basket = sale(
        "S",
        Some("C-6"),
        json!([
            item("L1", "999.95", "1", &["hearing"]),
            item("L2", "10.00", "1", &[])
        ]),
        json!([]),
    );
    let answer = h
        .call("evaluate_basket", &json!({"schema": 1, "sale": basket}))
        .unwrap();
    let lines = answer["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    // 10 % of 999.95 = 99.995, rounded half away from zero.
    assert_eq!(lines[0]["amount"], "-100.00");
    assert_eq!(lines[0]["applies_to"], json!(["L1"]));
    assert_eq!(lines[0]["kind"], "discount");
    let stranger = sale(
        "S",
        Some("C-x"),
        json!([item("L1", "999.95", "1", &["hearing"])]),
        json!([]),
    );
    let answer = h
        .call("evaluate_basket", &json!({"schema": 1, "sale": stranger}))
        .unwrap();
    assert!(answer["lines"].as_array().is_none_or(|l| l.is_empty()));
}

/// What `evaluate_basket` answers for `lines` of customer `c`, as the host puts it on the sale.
fn with_free_line(h: &mut Harness<Cards>, c: &str, lines: Value) -> Value {
    let answer = h
        .call(
            "evaluate_basket",
            &json!({"schema": 1, "sale": sale("S", Some(c), lines.clone(), json!([]))}),
        )
        .unwrap();
    let mut lines = lines.as_array().unwrap().clone();
    for (i, auto) in answer["lines"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let mut l = auto.clone();
        l["id"] = json!(format!("A{}", i + 1));
        l["plugin"] = json!("cards");
        l["qty"] = json!("1");
        lines.push(l);
    }
    json!(lines)
}

#[test]
fn the_punch_card_counts_gives_the_third_free_and_voids_take_back_exactly() {
    let mut h = harness();
    sell_card(&mut h, "bonus", &number(7), "C-7");
    let account = "punches:C-7:batterien";
    let batteries = |n: &str| json!([item("L1", "5.90", n, &["group:batteries"])]);

    let first = with_free_line(&mut h, "C-7", batteries("2"));
    assert_eq!(
        first.as_array().unwrap().len(),
        1,
        "two paid, no free one yet"
    );
    let first = h
        .checkout(&sale("S1", Some("C-7"), first, json!([])))
        .unwrap();
    assert_eq!(balance(&h, account), "2");

    h.restart().unwrap();
    let second = with_free_line(&mut h, "C-7", batteries("1"));
    let free = &second[1];
    assert_eq!(free["kind"], "free_product");
    assert_eq!(free["amount"], "-5.90");
    let second = h
        .checkout(&sale("S2", Some("C-7"), second, json!([])))
        .unwrap();
    assert_eq!(balance(&h, account), "0", "the free one used both punches");

    // The first sale's punches were used for the free item: its void would give it twice.
    assert_eq!(
        h.void(&first.receipt.id).unwrap_err().error,
        ErrorName::NotAllowed
    );
    assert_eq!(balance(&h, account), "0");
    // Voiding the free item gives its punches back; then the first sale can go.
    h.void(&second.receipt.id).unwrap();
    assert_eq!(balance(&h, account), "2");
    h.void(&first.receipt.id).unwrap();
    assert_eq!(balance(&h, account), "0");
    assert_eq!(balance(&h, "punch-pool:batterien"), "0");

    // A basket counted before the card moved at another till fails the checkout: its free
    // item would be missing (or given twice the other way round).
    let stale = with_free_line(&mut h, "C-7", batteries("2"));
    h.checkout(&sale("S3", Some("C-7"), batteries("2"), json!([])))
        .unwrap();
    assert_eq!(
        h.checkout(&sale("S4", Some("C-7"), stale, json!([])))
            .unwrap_err()
            .error,
        ErrorName::Conflict
    );
}

#[test]
fn two_cards_on_one_customer_add_up_their_programmes() {
    let mut h = harness();
    let (a, b) = (number(8), number(18));
    sell_card(&mut h, "bonus", &a, "C-8");
    sell_card(&mut h, "plus", &b, "C-8");
    let accounts = h
        .call(
            "customer_accounts",
            &json!({"schema": 1, "customer": "C-8"}),
        )
        .unwrap();
    let names: Vec<String> = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["programme"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&format!("Batteriebonus ••••{}", &a[9..])));
    assert!(names.contains(&format!("Batteriebonus ••••{}", &b[9..])));
    // The one bonus programme on both cards counts once, on the customer's one counter.
    let lines = with_free_line(
        &mut h,
        "C-8",
        json!([item("L1", "5.90", "3", &["group:batteries"])]),
    );
    assert_eq!(lines.as_array().unwrap().len(), 2);
    assert_eq!(lines[1]["amount"], "-5.90");
}

#[test]
fn a_session_card_uses_one_per_visit_and_prints_the_rest() {
    let mut h = harness();
    let card = number(10);
    sell_card(&mut h, "plus", &card, "C-10");
    let open = sale("S", Some("C-10"), json!([]), json!([]));
    let mut receipts = Vec::new();
    for left in ["2", "1", "0"] {
        let answer = invoke(&mut h, &open, "use-session", json!({})).unwrap();
        let line = as_line(&answer, "L1");
        let done = h
            .checkout(&sale("S", Some("C-10"), json!([line]), json!([])))
            .unwrap();
        let printed = &done.effects.sections[0].lines;
        assert!(
            printed.contains(&format!("Verbleibende Einheiten: {left}")),
            "{printed:?}"
        );
        receipts.push(done.receipt.id);
    }
    assert_eq!(
        error(invoke(&mut h, &open, "use-session", json!({}))),
        ErrorName::InsufficientBalance
    );
    h.void(&receipts[2]).unwrap();
    assert_eq!(balance(&h, &format!("sessions:{card}:training")), "1");
    // Two on one sale: the second needs a second session.
    let answer = invoke(&mut h, &open, "use-session", json!({})).unwrap();
    let with_one = sale(
        "S",
        Some("C-10"),
        json!([as_line(&answer, "L1")]),
        json!([]),
    );
    assert_eq!(
        error(invoke(&mut h, &with_one, "use-session", json!({}))),
        ErrorName::InsufficientBalance
    );
}

#[test]
fn a_warranty_is_recorded_printed_found_and_voided() {
    let mut h = harness();
    let card = number(11);
    sell_card(&mut h, "plus", &card, "C-11");
    let aid = item("L1", "1500.00", "1", &["hearing"]);
    let open = sale("S", Some("C-11"), json!([aid.clone()]), json!([]));
    assert_eq!(
        error(invoke(
            &mut h,
            &open,
            "warranty",
            json!({"line": "L9", "serial": "SN1"})
        )),
        ErrorName::InvalidArgument
    );
    let answer = invoke(
        &mut h,
        &open,
        "warranty",
        json!({"line": "L1", "serial": " hg-2026-0042 "}),
    )
    .unwrap();
    let line = as_line(&answer, "L2");
    assert_eq!(line["ref"], "HG-2026-0042");
    let done = h
        .checkout(&sale("S", Some("C-11"), json!([aid, line]), json!([])))
        .unwrap();
    let section = done
        .effects
        .sections
        .iter()
        .find(|s| s.title == "Garantieverlängerung")
        .unwrap();
    assert!(
        section
            .lines
            .contains(&"Seriennummer: HG-2026-0042".to_string())
    );
    assert!(
        section
            .lines
            .contains(&"Garantie bis: 2028-01-01".to_string()),
        "{:?}",
        section.lines
    );

    h.restart().unwrap();
    let actions = h.admin_actions().unwrap();
    assert_eq!(actions.actions[0].command, vec!["warranty".to_string()]);
    assert_eq!(actions.actions[0].params[0].name, "serial");
    let found = h
        .invoke_admin("warranty", json!({"serial": "hg-2026-0042"}))
        .unwrap();
    assert_eq!(found.result["until"], "2028-01-01");
    assert_eq!(found.result["customer"], "C-11");
    assert!(found.text.contains("active"));
    assert_eq!(
        h.invoke_admin("warranty", json!({"serial": "NOPE"}))
            .unwrap_err()
            .error,
        ErrorName::NotFound
    );
    // The same serial twice: refused.
    assert_eq!(
        error(invoke(
            &mut h,
            &open,
            "warranty",
            json!({"line": "L1", "serial": "HG-2026-0042"})
        )),
        ErrorName::Conflict
    );
    h.void(&done.receipt.id).unwrap();
    let found = h
        .invoke_admin("warranty", json!({"serial": "HG-2026-0042"}))
        .unwrap();
    assert_eq!(found.result["state"], "voided");
}

#[test]
fn a_bad_configuration_fails_the_load_naming_the_key() {
    let mut bad = config();
    bad["programmes"][2]["every"] = json!(0);
    let e = Harness::<Cards>::create(bad).err().expect("refused");
    assert_eq!(e.error, ErrorName::InvalidConfiguration);
    assert!(e.message.contains("programmes[2].every"), "{}", e.message);
}

/// `return_lines` of `lines` (line id, qty) of `receipt`, applied as the host commits it.
fn give_back(h: &mut Harness<Cards>, receipt: &str, lines: &[(&str, &str)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(l, q)| json!({"line": l, "qty": q}))
        .collect();
    let answer = h
        .call(
            "return_lines",
            &json!({"schema": 1, "store": {"currency": "EUR"},
                                      "receipt": h.receipt(receipt), "lines": lines,
                                      "return_receipt_id": format!("R-{receipt}")}),
        )
        .unwrap();
    let effects: posd_plugin_sdk::schema::CheckoutEffects =
        serde_json::from_value(answer.clone()).unwrap();
    h.apply(&effects).unwrap();
    answer
}

#[test]
fn returned_batteries_take_back_their_punches_and_a_full_return_gives_back_the_free_ones() {
    let mut h = harness();
    sell_card(&mut h, "bonus", &number(12), "C-12");
    let account = "punches:C-12:batterien";
    let batteries = |n: &str| json!([item("L1", "5.90", n, &["group:batteries"])]);

    let first = with_free_line(&mut h, "C-12", batteries("2"));
    let first = h
        .checkout(&sale("S1", Some("C-12"), first, json!([])))
        .unwrap()
        .receipt
        .id;
    assert_eq!(balance(&h, account), "2");
    let answer = give_back(&mut h, &first, &[("L1", "1")]);
    assert!(answer["excluded"].as_array().unwrap().is_empty());
    assert_eq!(
        balance(&h, account),
        "1",
        "the returned pack's punch is gone"
    );

    // The other pack's punch goes into a free pack; it can't come back with a punch then.
    let second = with_free_line(&mut h, "C-12", batteries("2"));
    let second = h
        .checkout(&sale("S2", Some("C-12"), second, json!([])))
        .unwrap()
        .receipt
        .id;
    assert_eq!(balance(&h, account), "0");
    let answer = give_back(&mut h, &first, &[("L1", "1")]);
    assert_eq!(answer["excluded"][0]["line"], "L1");
    assert_eq!(balance(&h, account), "0");
    assert_eq!(h.void(&first).unwrap_err().error, ErrorName::NotAllowed);

    // Everything of the second sale back (one paid, one free): its punch off, the free
    // pack's two punches back.
    give_back(&mut h, &second, &[("L1", "2")]);
    assert_eq!(balance(&h, account), "1");
    // Now the first sale's void takes only the punch no return took.
    h.void(&first).unwrap();
    assert_eq!(balance(&h, account), "0");
    assert_eq!(balance(&h, "punch-pool:batterien"), "0");
}

#[test]
fn the_stored_value_tender_needs_its_customer_and_takes_only_a_card() {
    let mut h = harness();
    sell_card(&mut h, "plus", &number(13), "C-13");
    let ask = |customer: Option<&str>, details: Value| {
        json!({"schema": 1, "sale": sale("S", customer, json!([item("L1", "5.00", "1", &[])]), json!([])),
               "tender": {"method": "card_credit", "amount": "1.00", "details": details}})
    };
    assert_eq!(
        error(h.call("validate_tender", &ask(None, json!({})))),
        ErrorName::CustomerRequired
    );
    assert_eq!(
        error(h.call(
            "validate_tender",
            &ask(Some("C-13"), json!({"pin": "1234"}))
        )),
        ErrorName::InvalidArgument
    );
    assert_eq!(
        error(h.call(
            "validate_tender",
            &ask(Some("C-13"), json!({"card": "9999"}))
        )),
        ErrorName::NotFound
    );
    assert_eq!(
        error(h.call("validate_tender", &ask(Some("C-13"), json!({})))),
        ErrorName::InsufficientBalance
    );
}

#[test]
fn a_card_of_another_customer_is_refused_at_checkout() {
    let mut h = harness();
    let card = number(14);
    sell_card(&mut h, "plus", &card, "C-14");
    let open = sale("S", Some("C-14"), json!([]), json!([]));
    let answer = invoke(&mut h, &open, "use-session", json!({})).unwrap();
    let line = as_line(&answer, "L1");
    // The customer changed after the session was put on the sale.
    let e = h
        .checkout(&sale("S", Some("C-other"), json!([line]), json!([])))
        .unwrap_err();
    assert_eq!(e.error, ErrorName::NotAllowed);
    assert_eq!(
        balance(&h, &format!("sessions:{card}:training")),
        "3",
        "nothing used"
    );
}

#[test]
fn an_item_returned_ends_its_extended_warranty() {
    let mut h = harness();
    sell_card(&mut h, "plus", &number(15), "C-15");
    let aid = item("L1", "1500.00", "1", &["hearing"]);
    let open = sale("S", Some("C-15"), json!([aid.clone()]), json!([]));
    let answer = invoke(
        &mut h,
        &open,
        "warranty",
        json!({"line": "L1", "serial": "SN-15"}),
    )
    .unwrap();
    let sold = h
        .checkout(&sale(
            "S",
            Some("C-15"),
            json!([aid, as_line(&answer, "L2")]),
            json!([]),
        ))
        .unwrap()
        .receipt
        .id;
    let answer = give_back(&mut h, &sold, &[("L1", "1"), ("L2", "1")]);
    assert_eq!(
        answer["excluded"][0]["line"], "L2",
        "the warranty line is not returned"
    );
    let found = h
        .invoke_admin("warranty", json!({"serial": "SN-15"}))
        .unwrap();
    assert_eq!(found.result["state"], "returned");
    // The item may be sold again with a new warranty.
    let again = sale(
        "S2",
        Some("C-15"),
        json!([item("L1", "1500.00", "1", &["hearing"])]),
        json!([]),
    );
    invoke(
        &mut h,
        &again,
        "warranty",
        json!({"line": "L1", "serial": "SN-15"}),
    )
    .unwrap();
}
