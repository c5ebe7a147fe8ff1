//! What returns and voids give back to this plugin's tenders and reductions.
//!
//! - **Returns** (`return_lines`): the host offers each of our tenders' pro-rata share of
//!   the refund. A voucher's or eWallet's share goes back onto it; a voucher that keeps no
//!   rest (not reusable), is blocked or was refunded gets a **new voucher** for it, issued
//!   and printed on a secret slip with the return; the programme's `returns` rule may ask
//!   for a new voucher always (`new_voucher`) or let the host pay the share out in cash
//!   (`cash`, answered in `released`). Customer credit (`credit`) goes back onto the
//!   customer's credit account. When the returns of a receipt have given back **every item
//!   line**, its discount codes' uses and its discount vouchers' reductions are given back
//!   too; a partial return keeps them counted (the customer keeps the discount on what is
//!   kept).
//! - **Voids** of a redemption whose rest was moved (breakage, credit, residual voucher)
//!   undo the move, from the note `moved:<voucher>:<receipt>` the redeeming checkout wrote:
//!   breakage comes back; credit comes back unless it was spent since (`NotAllowed`); a
//!   residual voucher is set to 0 and what is left on it comes back — a partly spent one
//!   gives back only what is left, as seed 002 pays out only what is left of a partly spent
//!   voucher. A void of credit paid puts it back onto the customer's credit.

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{
    KvWrite, LineKind, Posting, ReceiptSection, ReturnLinesRequest, ReturnLinesResponse,
    TakenRefund, Tender, TenderRefund, VoidReceiptRequest,
};
use posd_plugin_sdk::{Decimal, Host, PluginError, ReturnLines};
use serde::{Deserialize, Serialize};

use crate::config::{Kind, Residual, Returns};
use crate::identity::CodeId;
use crate::store::{self, Found, VoucherStore};
use crate::{
    CREDIT_METHOD, ID, Vouchers, admin, credit_customer, discount, discount_voucher_of_line,
    goodwill_pair, ordered, own_tender_data, unit_of,
};

/// Where the rest of a non-reusable voucher went when a receipt redeemed it, noted by that
/// checkout (kv `moved:<voucher id>:<receipt>`) so that a void of the receipt can undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moved {
    /// The rule that moved it.
    pub rule: Residual,
    /// The rest moved.
    pub amount: Decimal,
    /// The customer whose credit took it (`customer_credit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The identity of the residual voucher that took it (`residual_voucher`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

fn moved_key(id: &CodeId, receipt: &str) -> String {
    format!("moved:{id}:{receipt}")
}

/// The kv write noting where a redemption on `receipt` moved the rest of voucher `id`.
pub fn note_moved(id: &CodeId, receipt: &str, moved: &Moved) -> Result<KvWrite, PluginError> {
    KvWrite::new(moved_key(id, receipt), moved)
}

/// The kv key of what the returns of a receipt took back so far (line id → quantity).
fn returned_key(receipt: &str) -> String {
    format!("returned:{receipt}")
}

/// What undoing a moved rest adds to a void.
#[derive(Debug, Default)]
pub(crate) struct Undone {
    /// The postings (pairs, the old voucher's first).
    pub pairs: Vec<[Posting; 2]>,
    /// Terms to write (a residual voucher refunded).
    pub kv: Vec<KvWrite>,
    /// Receipt lines saying what came back.
    pub lines: Vec<String>,
    /// What came back onto the old voucher.
    pub back: Decimal,
}

fn posting(account: String, amount: Decimal, unit: &str, kind: &str) -> Posting {
    Posting {
        account,
        amount,
        unit: unit.to_string(),
        kind: kind.to_string(),
        ..Posting::default()
    }
}

fn floored(mut p: Posting) -> Posting {
    p.floor = Some(Decimal::ZERO);
    p
}

fn expiry_line(expires: &Option<String>) -> String {
    match expires {
        Some(day) => format!("Gültig bis: {day}"),
        None => "Unbefristet gültig".to_string(),
    }
}

impl Vouchers {
    /// Undoes what the redemption of voucher `id` on `receipt` did with its rest, for the
    /// void `request`. Nothing when the redemption moved no rest (or was checked out before
    /// the note existed).
    pub(crate) fn undo_moved_rest(
        &self,
        host: &Host,
        id: &CodeId,
        receipt: &str,
        request: &VoidReceiptRequest,
        unit: &str,
    ) -> Result<Undone, PluginError> {
        let Some(moved) = host.kv_get::<Moved>(&moved_key(id, receipt))? else {
            return Ok(Undone::default());
        };
        let rest = moved.amount;
        let onto_old = |amount: Decimal, kind: &str| {
            floored(posting(format!("voucher:{id}"), amount, unit, kind))
        };
        let mut undone = Undone::default();
        match moved.rule {
            Residual::Breakage => {
                undone.pairs.push([
                    onto_old(rest, "void"),
                    posting(store::BREAKAGE.into(), -rest, unit, "void"),
                ]);
                undone
                    .lines
                    .push(format!("Verfallener Restwert zurück: {rest} {unit}"));
                undone.back = rest;
            }
            Residual::CustomerCredit => {
                let customer = moved.customer.clone().ok_or_else(|| {
                    PluginError::plugin_failed(format!(
                        "{receipt}: the note of the credited rest names no customer"
                    ))
                })?;
                let account = store::credit_account(&customer);
                let left = host.ledger_balance(&account)?.balance;
                if left < rest {
                    return Err(PluginError::not_allowed(format!(
                        "{receipt} can't be voided: the rest of {rest} {unit} it credited to customer {customer} was spent since ({left} {unit} left); \
                         a void would give it back twice (Storno nicht möglich: Kundenguthaben bereits verwendet)"
                    )));
                }
                let mut off = floored(posting(account, -rest, unit, "void"));
                off.customer = Some(customer);
                undone.pairs.push([onto_old(rest, "void"), off]);
                undone
                    .lines
                    .push(format!("Kundenguthaben zurückgebucht: {rest} {unit}"));
                undone.back = rest;
            }
            Residual::ResidualVoucher => {
                let new_id = moved.to.as_deref().and_then(CodeId::parse).ok_or_else(|| {
                    PluginError::plugin_failed(format!(
                        "{receipt}: the note of the residual voucher names none"
                    ))
                })?;
                let found = self.store.find(host, &new_id)?.ok_or_else(|| {
                    PluginError::not_found(format!("{receipt}: the residual voucher is gone"))
                })?;
                // Seed 002: a partly spent voucher gives back only what is left.
                let left = found.balance.min(rest).max(Decimal::ZERO);
                if !left.is_zero() {
                    undone.pairs.push([
                        onto_old(left, "void"),
                        floored(posting(format!("voucher:{new_id}"), -left, unit, "void")),
                    ]);
                }
                let mut terms = found.voucher.clone();
                terms.refunded_by = Some(request.void_receipt_id.clone());
                undone.kv.push(self.store.record(&new_id, &terms)?);
                undone.lines.push(format!(
                    "Restwertgutschein ••••{} storniert: {left} {unit} zurück",
                    found.voucher.last4
                ));
                if left < rest {
                    undone
                        .lines
                        .push(format!("Davon bereits eingelöst: {} {unit}", rest - left));
                }
                undone.back = left;
            }
        }
        Ok(undone)
    }

    /// The postings and receipt section that put `amount` of a `credit` tender back onto
    /// its customer's credit; `None` for any other tender.
    pub(crate) fn credit_back(
        &self,
        host: &Host,
        tender: &Tender,
        amount: Decimal,
        unit: &str,
        kind: &str,
    ) -> Result<Option<([Posting; 2], ReceiptSection)>, PluginError> {
        if tender.plugin != ID || tender.method != CREDIT_METHOD || amount <= Decimal::ZERO {
            return Ok(None);
        }
        let customer = credit_customer(tender)?;
        let account = store::credit_account(customer);
        let balance = host.ledger_balance(&account)?.balance;
        let mut onto = floored(posting(account, amount, unit, kind));
        onto.customer = Some(customer.to_string());
        Ok(Some((
            [onto, posting(store::ISSUED.into(), -amount, unit, kind)],
            ReceiptSection {
                title: "Kundenguthaben".into(),
                lines: vec![
                    format!("Zurückgebucht: {amount} {unit}"),
                    format!("Guthaben: {} {unit}", balance + amount),
                ],
                ..ReceiptSection::default()
            },
        )))
    }

    /// How the share of a return on voucher `found` is refunded.
    fn refund_rule(&self, found: &Found) -> Refund {
        if found.voucher.kind == Kind::Ewallet {
            // An eWallet is its owner's account: always back onto it.
            return Refund::Same;
        }
        let rule = self
            .config
            .programme(&found.voucher.programme)
            .map(|p| p.returns)
            .unwrap_or_default();
        let keeps =
            found.voucher.reusable && !found.voucher.blocked && found.voucher.refunded_by.is_none();
        match rule {
            Returns::Cash => Refund::Cash,
            Returns::NewVoucher => Refund::New,
            Returns::Voucher if keeps => Refund::Same,
            Returns::Voucher => Refund::New,
        }
    }

    /// Gives back the discount codes' uses and discount vouchers' reductions of `request`'s
    /// receipt when, with this return, every item line of it has come back.
    fn discounts_back(
        &self,
        host: &Host,
        request: &ReturnLinesRequest,
        unit: &str,
        effects: &mut posd_plugin_sdk::schema::CheckoutEffects,
    ) -> Result<(), PluginError> {
        let receipt = &request.receipt;
        let codes: Vec<_> = receipt
            .lines
            .iter()
            .filter_map(|l| discount::code_of_line(l).and_then(|c| self.config.discount_code(&c)))
            .collect();
        let vouchers: Vec<(&posd_plugin_sdk::schema::Line, CodeId)> = receipt
            .lines
            .iter()
            .filter_map(|l| {
                discount_voucher_of_line(l)
                    .and_then(|i| CodeId::parse(&i))
                    .map(|i| (l, i))
            })
            .collect();
        if codes.is_empty() && vouchers.is_empty() {
            return Ok(());
        }
        let key = returned_key(&receipt.id);
        let mut returned: BTreeMap<String, Decimal> = host.kv_get(&key)?.unwrap_or_default();
        for line in &request.lines {
            *returned.entry(line.line.clone()).or_default() += line.qty;
        }
        effects.kv.push(KvWrite::new(key, &returned)?);
        let all_back = receipt
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Item)
            .all(|l| returned.get(&l.id).copied().unwrap_or_default() >= l.qty);
        if !all_back {
            return Ok(());
        }
        let customer = receipt
            .customer
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        for dc in codes {
            effects.postings.extend(dc.give_back_postings(customer));
        }
        for (line, id) in vouchers {
            let given = -line.amount;
            if given <= Decimal::ZERO {
                continue;
            }
            effects
                .postings
                .extend(goodwill_pair(&id, given, unit, "return"));
            effects.sections.push(ReceiptSection {
                title: format!("Rabattgutschein {}", line.reference),
                lines: vec![format!("Rabatt zurückgebucht: {given} {unit}")],
                ..ReceiptSection::default()
            });
        }
        Ok(())
    }
}

/// Where one share of a return goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refund {
    /// Back onto the voucher or eWallet it was paid with.
    Same,
    /// Onto a new voucher issued with the return.
    New,
    /// Released to the host, paid out in cash.
    Cash,
}

impl ReturnLines for Vouchers {
    fn return_lines(
        &mut self,
        host: &Host,
        request: ReturnLinesRequest,
    ) -> Result<ReturnLinesResponse, PluginError> {
        let receipt = &request.receipt;
        let unit = unit_of("", &request.store.currency).to_string();
        let mut pairs = Vec::new();
        let mut effects = posd_plugin_sdk::schema::CheckoutEffects::default();
        let mut refunds = Vec::new();
        let mut released = Vec::new();
        // What this return put on each voucher so far, for the balances shown.
        let mut added: BTreeMap<String, Decimal> = BTreeMap::new();
        for share in &request.refunds {
            let Some(tender) = receipt
                .tenders
                .iter()
                .find(|t| t.id == share.tender && t.plugin == ID)
            else {
                continue;
            };
            if let Some((pair, section)) =
                self.credit_back(host, tender, share.amount, &unit, "return")?
            {
                pairs.push(pair);
                effects.sections.push(section);
                refunds.push(TakenRefund {
                    tender: tender.id.clone(),
                    amount: share.amount,
                    reference: None,
                });
                continue;
            }
            let Some(data) = own_tender_data(tender) else {
                continue;
            };
            let (id, found) = self.voucher_of_tender(host, tender, &data)?;
            let masked = format!("••••{}", found.voucher.last4);
            match self.refund_rule(&found) {
                Refund::Cash => {
                    released.push(TenderRefund {
                        tender: tender.id.clone(),
                        amount: share.amount,
                    });
                    effects.sections.push(ReceiptSection {
                        title: format!("{} {masked}", found.voucher.kind.title()),
                        lines: vec![format!("Bar ausbezahlt: {} {unit}", share.amount)],
                        ..ReceiptSection::default()
                    });
                }
                Refund::Same => {
                    pairs.push(self.store.move_balance(&id, share.amount, &unit, "return"));
                    let sum = added.entry(id.0.clone()).or_default();
                    *sum += share.amount;
                    effects.sections.push(ReceiptSection {
                        title: format!("{} zurückgebucht", found.voucher.kind.title()),
                        lines: vec![
                            format!("Code: {masked}"),
                            format!("Zurückgebucht: {} {unit}", share.amount),
                            format!("Guthaben: {} {unit}", found.balance + *sum),
                            expiry_line(&found.voucher.expires),
                        ],
                        slip: true,
                        ..ReceiptSection::default()
                    });
                    refunds.push(TakenRefund {
                        tender: tender.id.clone(),
                        amount: share.amount,
                        reference: Some(masked),
                    });
                }
                Refund::New => {
                    if !self.config.print_full_code {
                        return Err(PluginError::not_allowed(format!(
                            "{} of the return goes onto a new voucher for {masked}, whose code would be printed nowhere with print_full_code = false",
                            share.amount
                        )));
                    }
                    let (slip, new_id, kv, last4) = self.voucher_like(
                        host,
                        &found.voucher,
                        share.amount,
                        &unit,
                        &request.return_receipt_id,
                        &format!("Gutschein aus Rückgabe {}", found.voucher.name),
                        format!("Rückgabe zu Gutschein {masked}"),
                    )?;
                    pairs.push(
                        self.store
                            .move_balance(&new_id, share.amount, &unit, "return"),
                    );
                    effects.kv.push(kv);
                    effects.sections.push(slip);
                    refunds.push(TakenRefund {
                        tender: tender.id.clone(),
                        amount: share.amount,
                        reference: Some(format!("••••{last4}")),
                    });
                }
            }
        }
        effects.postings = ordered(pairs);
        self.discounts_back(host, &request, &unit, &mut effects)?;
        admin::note_receipts(&mut effects, &request.return_receipt_id)?;
        Ok(ReturnLinesResponse {
            effects,
            refunds,
            released,
            ..ReturnLinesResponse::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use posd_plugin_sdk::serde_json::{Value, json};
    use posd_plugin_sdk::testing::Harness;

    use crate::Vouchers;

    fn harness(name: &str) -> (Harness<Vouchers>, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("posd-vouchers-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k");
        std::fs::write(&key, [7u8; 32]).unwrap();
        let h = Harness::<Vouchers>::create(json!({"key_file": key, "programmes": [
            {"id": "gift", "name": "Geschenk", "kind": "gift", "max_amount": "500",
             "code": {"format": "template"}},
            {"id": "once", "name": "Einmal", "kind": "gift", "amount": "50.00", "reusable": false,
             "residual": "breakage", "code": {"format": "template", "prefix": "NR"}},
            {"id": "bar", "name": "Bar", "kind": "gift", "max_amount": "500", "returns": "cash",
             "code": {"format": "template", "prefix": "BR"}}]}))
        .unwrap();
        (h, dir)
    }

    /// Sells a voucher of `programme` for `amount`; its code.
    fn sell(h: &mut Harness<Vouchers>, programme: &str, amount: &str) -> String {
        let sale =
            json!({"id": format!("S-{programme}"), "currency": "EUR", "lines": [], "tenders": []});
        let sold = h
            .call(
                "invoke_action",
                &json!({"schema": 1, "action": format!("sell-{programme}"),
                        "args": {"amount": amount}, "sale": sale}),
            )
            .unwrap();
        let line = &sold["add_lines"][0];
        h.checkout(&json!({"id": format!("S-{programme}"), "currency": "EUR", "lines": [
            {"id": "L1", "kind": "voucher_sale", "qty": "1", "unit_price": line["unit_price"],
             "amount": line["unit_price"], "plugin": "vouchers", "ref": line["ref"], "data": line["data"]}],
            "tenders": [{"id": "T1", "method": "cash", "amount": line["unit_price"]}]}))
            .unwrap();
        sold["result"]["code"].as_str().unwrap().to_string()
    }

    /// Pays an item of `price` with `code`: the receipt id and the voucher tender.
    fn redeem(h: &mut Harness<Vouchers>, code: &str, price: &str) -> (String, Value) {
        let sale = json!({"id": "S-r", "currency": "EUR", "lines": [
            {"id": "L1", "kind": "item", "qty": "1", "unit_price": price, "amount": price}],
            "tenders": []});
        let entered = h
            .call(
                "enter_code",
                &json!({"schema": 1, "code": code, "sale": sale}),
            )
            .unwrap();
        let mut tender = entered["add_tenders"][0].clone();
        tender["id"] = json!("T1");
        tender["plugin"] = json!("vouchers");
        tender["amount"] = json!(price);
        let mut sale = sale;
        sale["tenders"] = json!([tender.clone()]);
        let done = h.checkout(&sale).unwrap();
        (done.receipt.id, tender)
    }

    fn give_back(h: &mut Harness<Vouchers>, receipt: &str, share: &str) -> Value {
        let original = h.receipt(receipt).unwrap();
        let answer = h
            .call(
                "return_lines",
                &json!({"schema": 1, "store": {"id": "S", "register": "1", "currency": "EUR"},
                        "receipt": original, "lines": [{"line": "L1", "qty": "1"}],
                        "return_receipt_id": "R-back", "refunds": [{"tender": "T1", "amount": share}]}),
            )
            .unwrap();
        let effects: posd_plugin_sdk::schema::CheckoutEffects =
            posd_plugin_sdk::serde_json::from_value(answer.clone()).unwrap();
        h.apply(&effects).unwrap();
        answer
    }

    fn balance(h: &mut Harness<Vouchers>, code: &str) -> String {
        match h.call("classify_code", &json!({"schema": 1, "code": code})) {
            Ok(v) => v["balance"].as_str().unwrap_or_default().to_string(),
            Err(e) => format!("{:?}", e.error),
        }
    }

    #[test]
    fn a_share_goes_back_onto_the_voucher_a_new_one_or_out_in_cash() {
        let (mut h, dir) = harness("returns");
        // Same voucher: 40, 30 paid, 12 back → 22.
        let code = sell(&mut h, "gift", "40.00");
        let (paid, _) = redeem(&mut h, &code, "30.00");
        let answer = give_back(&mut h, &paid, "12.00");
        assert_eq!(answer["refunds"][0]["amount"], "12.00");
        assert!(answer.get("released").is_none());
        assert_eq!(balance(&mut h, &code), "22.00");

        // Not reusable: a new voucher of 30 on a secret slip, the old one stays empty.
        let code = sell(&mut h, "once", "");
        let (paid, _) = redeem(&mut h, &code, "30.00");
        let answer = give_back(&mut h, &paid, "30.00");
        let slip = answer["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["secret"] == true)
            .expect("a secret slip")
            .clone();
        let new_code = slip["barcode"].as_str().unwrap().to_string();
        assert_eq!(balance(&mut h, &new_code), "30.00");
        assert_ne!(balance(&mut h, &code), "30.00");
        assert_eq!(
            answer["refunds"][0]["reference"],
            format!("••••{}", &new_code[new_code.len() - 4..])
        );

        // returns = "cash": released, nothing posted onto the voucher.
        let code = sell(&mut h, "bar", "20.00");
        let (paid, _) = redeem(&mut h, &code, "20.00");
        let answer = give_back(&mut h, &paid, "20.00");
        assert_eq!(
            answer["released"],
            json!([{"tender": "T1", "amount": "20.00"}])
        );
        assert!(answer.get("refunds").is_none());
        assert!(answer["postings"].as_array().is_none_or(|p| p.is_empty()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
