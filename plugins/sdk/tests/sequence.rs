//! A plugin tested as a till uses it, in sequence, against the SDK's in-memory host: a
//! customer's stamps from earlier visits are preloaded, a checkout earns stamps, the reward
//! they buy is listed and applied, the next checkout spends them, and voids undo both —
//! refused while the stamps a void would take back are already spent.
//!
//! The plugin is a small stamp card written the typed way: stamps counted with
//! `Line::whole_units`, read with `host.kv_get::<T>`, committed with `KvWrite::new`, and
//! mirrored in the ledger (unit `stamps`, floor 0 on the customer's card).

use posd_plugin_sdk::schema::{
    ApplyRewardRequest, CheckoutEffects, Effects, KvWrite, LineKind, ListRewardsRequest,
    ListRewardsResponse, NewLine, Posting, PrepareCheckoutRequest, ReceiptSection, Reward, Sale,
    VoidReceiptRequest, VoidReceiptResponse,
};
use posd_plugin_sdk::testing::Harness;
use posd_plugin_sdk::{
    ApplyReward, Decimal, ErrorName, Host, ListRewards, Plugin, PluginError, PrepareCheckout,
    VoidReceipt, parse_config, posd_plugin,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const ID: &str = "stamps";
const REWARD: &str = "free-coffee";
const UNIT: &str = "stamps";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    stamps_per_reward: u32,
}

/// A stamp per cup of coffee (lines tagged `cup`); a free coffee for `stamps_per_reward`.
struct Stamps {
    per_reward: u32,
}

/// What a receipt did to a card, kept in kv so that its void can undo exactly that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Booked {
    customer: String,
    earned: u32,
    spent: u32,
}

fn card(customer: &str) -> String {
    format!("card:{customer}")
}

fn stamps_key(customer: &str) -> String {
    format!("stamps:{customer}")
}

fn customer_of(sale: &Sale) -> Option<&str> {
    sale.customer.as_deref().filter(|c| !c.is_empty())
}

fn posting(account: &str, amount: i64) -> Posting {
    Posting {
        account: account.to_string(),
        amount: Decimal::from(amount),
        unit: UNIT.to_string(),
        kind: "stamps".to_string(),
        floor: (account != "issued").then_some(Decimal::ZERO),
        ..Posting::default()
    }
}

impl Plugin for Stamps {
    const ID: &'static str = ID;
    const NAME: &'static str = "Stamp card";
    const VERSION: &'static str = "1.0.0";
    const DESCRIPTION: &'static str = "A stamp per coffee, a free coffee per full card";

    fn create(_host: &Host, config: Value) -> Result<Self, PluginError> {
        let config: Config = parse_config(config)?;
        Ok(Stamps {
            per_reward: config.stamps_per_reward,
        })
    }
}

impl ListRewards for Stamps {
    fn list_rewards(
        &mut self,
        host: &Host,
        request: ListRewardsRequest,
    ) -> Result<ListRewardsResponse, PluginError> {
        let Some(customer) = customer_of(&request.sale) else {
            return Ok(ListRewardsResponse::default());
        };
        let stamps = host.kv_get::<u32>(&stamps_key(customer))?.unwrap_or(0);
        let cheapest_cup = request
            .sale
            .lines
            .iter()
            .filter(|l| l.tags.iter().any(|t| t == "cup"))
            .map(|l| l.unit_price)
            .min();
        Ok(ListRewardsResponse {
            rewards: match cheapest_cup {
                Some(price) if stamps >= self.per_reward => vec![Reward {
                    id: REWARD.to_string(),
                    label: "Gratis-Kaffee".to_string(),
                    amount: price,
                    points: Decimal::from(self.per_reward),
                }],
                _ => Vec::new(),
            },
        })
    }
}

impl ApplyReward for Stamps {
    fn apply_reward(
        &mut self,
        host: &Host,
        request: ApplyRewardRequest,
    ) -> Result<Effects, PluginError> {
        let offered = self.list_rewards(
            host,
            ListRewardsRequest {
                sale: request.sale,
                store: request.store,
            },
        )?;
        let reward = offered
            .rewards
            .into_iter()
            .find(|r| r.id == request.reward)
            .ok_or_else(|| PluginError::not_found(format!("no reward {:?} now", request.reward)))?;
        Ok(Effects {
            add_lines: vec![NewLine {
                kind: LineKind::Discount,
                name: reward.label,
                qty: Decimal::ONE,
                unit_price: -reward.amount,
                reference: REWARD.to_string(),
                ..NewLine::default()
            }],
            ..Effects::default()
        })
    }
}

impl PrepareCheckout for Stamps {
    fn prepare_checkout(
        &mut self,
        host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let Some(customer) = customer_of(&request.sale) else {
            return Ok(CheckoutEffects::default());
        };
        let mut earned = 0u64;
        for line in request
            .sale
            .lines
            .iter()
            .filter(|l| l.tags.iter().any(|t| t == "cup"))
        {
            earned += line.whole_units()?; // 1.5 cups is refused, not rounded
        }
        let rewards = request
            .sale
            .lines_of(ID)
            .filter(|l| l.reference == REWARD)
            .count();
        let earned = u32::try_from(earned)
            .map_err(|_| PluginError::invalid_argument(format!("{earned} stamps at once")))?;
        let spent = u32::try_from(rewards)
            .unwrap_or(u32::MAX)
            .saturating_mul(self.per_reward);
        let before = host.kv_get::<u32>(&stamps_key(customer))?.unwrap_or(0);
        let after = (before + earned).checked_sub(spent).ok_or_else(|| {
            PluginError::insufficient_balance(format!("{customer} has {before} stamps"))
        })?;
        let booked = Booked {
            customer: customer.to_string(),
            earned,
            spent,
        };
        Ok(CheckoutEffects {
            postings: vec![
                posting(&card(customer), i64::from(earned) - i64::from(spent)),
                posting("issued", i64::from(spent) - i64::from(earned)),
            ],
            sections: vec![ReceiptSection {
                title: "Stempelkarte".to_string(),
                lines: vec![format!("{after} Stempel")],
                ..ReceiptSection::default()
            }],
            kv: vec![
                KvWrite::new(stamps_key(customer), &after)?,
                KvWrite::new(format!("receipt:{}", request.receipt_id), &booked)?,
            ],
            ..CheckoutEffects::default()
        })
    }
}

impl VoidReceipt for Stamps {
    fn void_receipt(
        &mut self,
        host: &Host,
        request: VoidReceiptRequest,
    ) -> Result<VoidReceiptResponse, PluginError> {
        let record = format!("receipt:{}", request.receipt.id);
        let Some(booked) = host.kv_get::<Booked>(&record)? else {
            return Ok(VoidReceiptResponse::default());
        };
        let before = host
            .kv_get::<u32>(&stamps_key(&booked.customer))?
            .unwrap_or(0);
        // May go "below zero" here: the ledger's floor on the card refuses that void.
        let after = i64::from(before) - i64::from(booked.earned) + i64::from(booked.spent);
        let back = i64::from(booked.spent) - i64::from(booked.earned);
        Ok(VoidReceiptResponse {
            effects: CheckoutEffects {
                postings: vec![
                    posting(&card(&booked.customer), back),
                    posting("issued", -back),
                ],
                kv: vec![
                    KvWrite::new(stamps_key(&booked.customer), &after.max(0))?,
                    KvWrite::delete(record),
                ],
                ..CheckoutEffects::default()
            },
            payouts: Vec::new(),
        })
    }
}

posd_plugin!(Stamps);

fn coffee(id: &str, qty: &str) -> Value {
    json!({"id": id, "kind": "item", "name": "Kaffee", "qty": qty, "unit_price": "3.20",
           "amount": "3.20", "tax_rate": "10", "tags": ["cup"]})
}

#[test]
fn checkout_rewards_and_voids_run_as_a_sequence_against_the_in_memory_host() {
    let mut h = Harness::<Stamps>::create(json!({"stamps_per_reward": 5})).unwrap();
    // Three stamps from earlier visits, in kv and on the books.
    h.kv_put("stamps:C-1", &3u32).unwrap();
    h.post(&[posting("card:C-1", 3), posting("issued", -3)])
        .unwrap();

    // Two coffees and an espresso (cups), beans by weight (not a cup): three stamps.
    let first = h
        .checkout(&json!({"id": "S1", "customer": "C-1", "lines": [
            coffee("L1", "2"),
            {"id": "L2", "kind": "item", "name": "Espresso", "qty": "1", "unit_price": "2.40",
             "amount": "2.40", "tags": ["cup"]},
            {"id": "L3", "kind": "item", "name": "Bohnen", "qty": "0.350", "unit_price": "24.00",
             "amount": "8.40", "tags": ["beans"]}
        ], "totals": {"total": "17.00"}}))
        .unwrap();
    assert_eq!(first.receipt.id, "0001-01-000001");
    assert_eq!(first.receipt.kind, "sale");
    assert_eq!(first.effects.sections[0].lines, ["6 Stempel"]);
    assert_eq!(h.kv_get::<u32>("stamps:C-1").unwrap(), Some(6));
    assert_eq!(h.ledger_balance("card:C-1").balance, Decimal::from(6));
    assert_eq!(
        h.kv_get::<Booked>("receipt:0001-01-000001").unwrap(),
        Some(Booked {
            customer: "C-1".into(),
            earned: 3,
            spent: 0
        })
    );

    // Six stamps buy a free coffee on the next sale.
    let next_sale = json!({"id": "S2", "customer": "C-1", "lines": [coffee("L1", "1")]});
    let rewards = h
        .call("list_rewards", &json!({"schema": 1, "sale": next_sale}))
        .unwrap();
    assert_eq!(
        rewards["rewards"],
        json!([{"id": "free-coffee", "label": "Gratis-Kaffee", "amount": "3.20", "points": "5"}])
    );
    let applied = h
        .call(
            "apply_reward",
            &json!({"schema": 1, "sale": next_sale, "reward": "free-coffee"}),
        )
        .unwrap();
    assert_eq!(applied["add_lines"][0]["unit_price"], "-3.20");
    // The host would add that line to the sale; the test does, with the plugin's id on it.
    let second = h
        .checkout(&json!({"id": "S2", "customer": "C-1", "lines": [
            coffee("L1", "1"),
            {"id": "L2", "kind": "discount", "name": "Gratis-Kaffee", "qty": "1",
             "unit_price": "-3.20", "amount": "-3.20", "plugin": "stamps", "ref": "free-coffee"}
        ], "totals": {"total": "0.00"}}))
        .unwrap();
    assert_eq!(second.receipt.id, "0001-01-000002");
    assert_eq!(h.kv_get::<u32>("stamps:C-1").unwrap(), Some(2), "6 + 1 - 5");
    assert_eq!(h.ledger_balance("card:C-1").balance, Decimal::from(2));
    let none_left = h
        .call("list_rewards", &json!({"schema": 1, "sale": next_sale}))
        .unwrap();
    assert_eq!(none_left["rewards"], json!([]));

    // The first receipt's three stamps were spent on the reward: its void would take the
    // card below zero, so the ledger refuses it and nothing changes.
    let refused = h.void(&first.receipt.id).unwrap_err();
    assert_eq!(
        refused.error,
        ErrorName::InsufficientBalance,
        "{}",
        refused.message
    );
    assert!(refused.message.contains("card:C-1"), "{}", refused.message);
    assert_eq!(h.kv_get::<u32>("stamps:C-1").unwrap(), Some(2));
    assert_eq!(h.ledger_balance("card:C-1").balance, Decimal::from(2));

    // Voiding the reward's receipt first gives the five back (and takes its one stamp);
    // then the first receipt can be voided, and the card is as the test found it.
    // A restart (the daemon reloading the plugin) keeps what was committed: the void
    // below still finds what the receipts booked.
    h.restart().unwrap();
    let void = h.void(&second.receipt.id).unwrap();
    assert_eq!(void.receipt.kind, "void");
    assert_eq!(void.receipt.id, "0001-01-000003");
    assert_eq!(h.kv_get::<u32>("stamps:C-1").unwrap(), Some(6));
    h.void(&first.receipt.id).unwrap();
    assert_eq!(h.kv_get::<u32>("stamps:C-1").unwrap(), Some(3));
    assert_eq!(h.ledger_balance("card:C-1").balance, Decimal::from(3));
    assert_eq!(h.kv_get::<Booked>("receipt:0001-01-000001").unwrap(), None);
    let again = h.void(&first.receipt.id).unwrap_err();
    assert_eq!(again.error, ErrorName::Conflict);
    assert_eq!(h.outstanding_host_buffers(), 0);
}

#[test]
fn a_refused_checkout_keeps_nothing() {
    let mut h = Harness::<Stamps>::create(json!({"stamps_per_reward": 5})).unwrap();
    h.kv_put("stamps:C-1", &3u32).unwrap();
    // Half a cup is no count of cups: refused by whole_units, naming the line.
    let error = h
        .checkout(&json!({"id": "S1", "customer": "C-1", "lines": [coffee("L7", "1.5")]}))
        .unwrap_err();
    assert_eq!(error.error, ErrorName::InvalidArgument);
    assert!(
        error.message.contains("L7") && error.message.contains("1.5"),
        "{}",
        error.message
    );
    // A reward line without the stamps for it: the plugin refuses.
    let error = h
        .checkout(&json!({"id": "S2", "customer": "C-1", "lines": [
            {"id": "L1", "kind": "discount", "plugin": "stamps", "ref": "free-coffee",
             "qty": "1", "unit_price": "-3.20", "amount": "-3.20"}
        ]}))
        .unwrap_err();
    assert_eq!(error.error, ErrorName::InsufficientBalance);
    assert_eq!(h.kv_get::<u32>("stamps:C-1").unwrap(), Some(3));
    assert!(h.receipt("0001-01-000001").is_none());
    assert!(!h.ledger_balance("card:C-1").exists, "no posting was kept");
}

#[test]
fn kv_values_are_read_as_the_type_they_were_stored_from() {
    let h = Harness::<Stamps>::create(json!({"stamps_per_reward": 5})).unwrap();
    h.kv_put(
        "receipt:R1",
        &Booked {
            customer: "C-9".into(),
            earned: 2,
            spent: 0,
        },
    )
    .unwrap();
    assert_eq!(
        h.kv()["receipt:R1"],
        json!({"customer": "C-9", "earned": 2, "spent": 0}),
        "stored as plain JSON"
    );
    let wrong = h.kv_get::<u32>("receipt:R1").unwrap_err();
    assert_eq!(wrong.error, ErrorName::PluginFailed);
    assert!(wrong.message.contains("receipt:R1"), "{}", wrong.message);
    h.kv_put("receipt:R1", &None::<Booked>).unwrap();
    assert!(h.kv().is_empty(), "a null deletes the key");
    assert_eq!(
        serde_json::to_value(KvWrite::new("n", &7u8).unwrap()).unwrap(),
        json!({"key": "n", "value": 7})
    );
}
