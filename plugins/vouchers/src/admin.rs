//! Admin actions (ABI 1.1) for technicians, outside any sale: `posctl voucher issue` (a
//! promotional batch, ABI 1.2, see [`crate::batch`]), `voucher lookup`, `voucher block` /
//! `unblock` (a lost card), `voucher history`, `codes list` and `voucher breakage`. The
//! host lets only admins list or run them.
//!
//! Codes are given in full (`--code`), recognised and hashed like at the till; answers and
//! errors show them masked, never in full. Only `voucher issue` answers full codes, once,
//! in `output`.

use posd_plugin_sdk::schema::KvWrite;
use posd_plugin_sdk::schema::{
    ActionParam, AdminAction, CheckoutEffects, InvokeAdminActionRequest, InvokeAdminActionResponse,
    LedgerPosting, ListAdminActionsResponse, ParamType,
};
use posd_plugin_sdk::serde_json::{self as serde_json, Value, json};
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::Vouchers;
use crate::code;
use crate::identity::CodeId;
use crate::store::{BREAKAGE, Found, VoucherStore};

/// How many postings `voucher history` and `voucher breakage` show at most (newest).
pub const HISTORY_LIMIT: u32 = 200;

fn param(name: &str, param_type: ParamType, required: bool, help: &str) -> ActionParam {
    ActionParam {
        name: name.into(),
        param_type,
        required,
        help: help.into(),
        ..ActionParam::default()
    }
}

fn code_action(id: &str, words: [&str; 2], label: &str) -> AdminAction {
    AdminAction {
        id: id.into(),
        command: words.iter().map(|w| (*w).to_string()).collect(),
        label: label.into(),
        params: vec![param(
            "code",
            ParamType::Code,
            true,
            "the voucher's full code",
        )],
        ..AdminAction::default()
    }
}

/// The admin actions the plugin offers, each a `posctl` command path; `voucher issue` only
/// on a host that commits its effects (ABI 1.2) and with a programme it may batch.
pub fn list(plugin: &Vouchers, host: &Host) -> ListAdminActionsResponse {
    let mut list = ListAdminActionsResponse {
        actions: vec![
            code_action(
                "lookup",
                ["voucher", "lookup"],
                "Balance, state, expiry and programme of a voucher",
            ),
            code_action(
                "block",
                ["voucher", "block"],
                "Block a lost voucher or card",
            ),
            code_action("unblock", ["voucher", "unblock"], "Unblock a voucher"),
            code_action(
                "history",
                ["voucher", "history"],
                "A voucher's ledger postings and receipts",
            ),
            AdminAction {
                id: "codes".into(),
                command: vec!["codes".into(), "list".into()],
                label: "Discount codes with their uses left".into(),
                ..AdminAction::default()
            },
            AdminAction {
                id: "breakage".into(),
                command: vec!["voucher".into(), "breakage".into()],
                label: "Residual values forfeited to breakage".into(),
                ..AdminAction::default()
            },
        ],
    };
    if let Some(issue) = crate::batch::action(plugin, host) {
        list.actions.insert(0, issue);
    }
    list
}

/// Runs one admin action.
pub fn invoke(
    plugin: &Vouchers,
    host: &Host,
    request: &InvokeAdminActionRequest,
) -> Result<InvokeAdminActionResponse, PluginError> {
    match request.action.as_str() {
        "issue" => crate::batch::issue(plugin, host, request),
        "lookup" => {
            let (canonical, id, found) = voucher(plugin, host, request)?;
            let batch = crate::batch::issued_in(host, &id)?;
            Ok(lookup(&canonical, &found, batch.as_deref()))
        }
        "block" => set_blocked(plugin, host, request, true),
        "unblock" => set_blocked(plugin, host, request, false),
        "history" => history(plugin, host, request),
        "codes" => codes(plugin, host),
        "breakage" => breakage(host),
        other => Err(PluginError::not_found(format!("no admin action {other:?}"))),
    }
}

/// The voucher a `code` argument names: `NotFound` for a code no programme claims or never
/// sold; `InvalidArgument` for an empty one.
fn voucher(
    plugin: &Vouchers,
    host: &Host,
    request: &InvokeAdminActionRequest,
) -> Result<(String, CodeId, Found), PluginError> {
    let input = request
        .args
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if input.trim().is_empty() {
        return Err(PluginError::invalid_argument("code is empty"));
    }
    let (canonical, id) = plugin.recognise(input).ok_or_else(|| {
        PluginError::not_found("no programme of this plugin issues a code of this format")
    })?;
    let found = plugin.store.find(host, &id)?.ok_or_else(|| {
        PluginError::not_found(format!("no voucher {}", code::masked(&canonical)))
    })?;
    Ok((canonical, id, found))
}

/// The kv key under which a receipt that moved a voucher is noted.
fn receipt_key(id: &str, receipt: &str) -> String {
    format!("receipts:{id}:{receipt}")
}

/// One receipt that moved a voucher, as `voucher history` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReceiptNote {
    /// The receipt (sale or void).
    pub receipt: String,
    /// What it moved onto (positive) or off (negative) the voucher.
    pub amount: Decimal,
    /// The posting kind (`voucher`, `redeem`, `void`, …).
    pub kind: String,
}

/// Notes, with the checkout or void's own transaction, each voucher its postings move and
/// by how much, one kv key per voucher and receipt (`receipts:<id>:<receipt>`): the host's
/// `ledger.postings` answers journal entries, not receipts, and `voucher history` wants
/// the receipts. One key per receipt, so two tills never overwrite each other's note.
pub fn note_receipts(effects: &mut CheckoutEffects, receipt: &str) -> Result<(), PluginError> {
    let mut moved: std::collections::BTreeMap<String, ReceiptNote> = Default::default();
    for posting in &effects.postings {
        let Some(id) = posting.account.strip_prefix("voucher:") else {
            continue;
        };
        let note = moved.entry(id.to_string()).or_insert_with(|| ReceiptNote {
            receipt: receipt.to_string(),
            amount: Decimal::ZERO,
            kind: posting.kind.clone(),
        });
        note.amount += posting.amount;
    }
    for (id, note) in moved {
        effects
            .kv
            .push(KvWrite::new(receipt_key(&id, receipt), &note)?);
    }
    Ok(())
}

/// Sorts postings oldest first by their journal entry (`ledger.postings` answers newest
/// first); a posting's entry number orders it even if two share a time.
fn oldest_first(postings: &mut [LedgerPosting]) {
    postings.sort_by_key(|p| (p.entry.parse::<u64>().unwrap_or(u64::MAX), p.time.clone()));
}

fn state(found: &Found) -> &'static str {
    if found.voucher.blocked {
        "blocked"
    } else if found.balance.is_zero() {
        "empty"
    } else {
        "active"
    }
}

fn record(canonical: &str, found: &Found, batch: Option<&str>) -> Value {
    let v = &found.voucher;
    json!({
        "batch": batch,
        "last4": code::last_four(canonical),
        "masked": code::masked(canonical),
        "programme": v.programme,
        "name": v.name,
        "kind": v.kind,
        "balance": found.balance.to_string(),
        "state": state(found),
        "blocked": v.blocked,
        "expires": v.expires,
        "issued": v.issued,
        "sold_on": v.sold_on,
        "refunded_by": v.refunded_by,
        "customer": v.customer,
    })
}

/// Where a voucher came from, for people: the receipt that sold it or the batch.
fn origin(found: &Found, batch: Option<&str>) -> String {
    match batch {
        Some(batch) => format!("issued in batch {batch}"),
        None => format!("sold on receipt {}", found.voucher.sold_on),
    }
}

fn lookup(canonical: &str, found: &Found, batch: Option<&str>) -> InvokeAdminActionResponse {
    let v = &found.voucher;
    InvokeAdminActionResponse {
        result: record(canonical, found, batch),
        text: format!(
            "{} {} ({}): balance {}, {}, {}, {}",
            v.name,
            code::masked(canonical),
            v.programme,
            found.balance,
            state(found),
            v.expires
                .as_deref()
                .map_or_else(|| "no expiry".to_string(), |e| format!("valid until {e}")),
            origin(found, batch),
        ),
        output: String::new(),
        effects: None,
    }
}

/// Blocks or unblocks a voucher at once (kv, outside any sale); the till refuses a blocked
/// one on entry, look-up, top-up and at checkout.
fn set_blocked(
    plugin: &Vouchers,
    host: &Host,
    request: &InvokeAdminActionRequest,
    blocked: bool,
) -> Result<InvokeAdminActionResponse, PluginError> {
    let (canonical, id, mut found) = voucher(plugin, host, request)?;
    let changed = found.voucher.blocked != blocked;
    found.voucher.blocked = blocked;
    if changed {
        plugin.store.set_blocked(host, &id, blocked)?;
    }
    let batch = crate::batch::issued_in(host, &id)?;
    let mut response = lookup(&canonical, &found, batch.as_deref());
    response.text = format!(
        "voucher {} {}{}",
        code::masked(&canonical),
        if blocked { "blocked" } else { "unblocked" },
        if changed { "" } else { " (already)" }
    );
    if let Value::Object(map) = &mut response.result {
        map.insert("changed".into(), json!(changed));
    }
    Ok(response)
}

/// The voucher's postings, oldest first, with the receipts its terms name (the one that
/// sold it, the void that refunded it). The host's `ledger.postings` answers the journal
/// entry of each posting, not its receipt.
fn history(
    plugin: &Vouchers,
    host: &Host,
    request: &InvokeAdminActionRequest,
) -> Result<InvokeAdminActionResponse, PluginError> {
    let (canonical, id, found) = voucher(plugin, host, request)?;
    let mut postings = host.ledger_postings(&format!("voucher:{id}"), Some(HISTORY_LIMIT))?;
    oldest_first(&mut postings);
    let batch = crate::batch::issued_in(host, &id)?;
    let mut text = format!(
        "{} {}: balance {}, {}{}\n",
        found.voucher.name,
        code::masked(&canonical),
        found.balance,
        origin(&found, batch.as_deref()),
        found
            .voucher
            .refunded_by
            .as_deref()
            .map_or_else(String::new, |r| format!(", refunded by {r}")),
    );
    for p in &postings {
        text.push_str(&format!(
            "  {}  entry {}  {:>10}\n",
            p.time, p.entry, p.amount
        ));
    }
    let receipts: Vec<ReceiptNote> = host
        .kv_list(&receipt_key(&id.to_string(), ""))?
        .into_iter()
        .filter_map(|entry| serde_json::from_value(entry.value).ok())
        .collect();
    for r in &receipts {
        text.push_str(&format!(
            "  receipt {}  {}  {:>10}\n",
            r.receipt, r.kind, r.amount
        ));
    }
    let mut result = record(&canonical, &found, batch.as_deref());
    if let Value::Object(map) = &mut result {
        map.insert("postings".into(), json!(postings));
        map.insert("receipts".into(), json!(receipts));
    }
    Ok(InvokeAdminActionResponse {
        result,
        text: text.trim_end().to_string(),
        output: String::new(),
        effects: None,
    })
}

/// The configured discount codes with their uses so far and left.
fn codes(plugin: &Vouchers, host: &Host) -> Result<InvokeAdminActionResponse, PluginError> {
    let mut rows = Vec::new();
    let mut text = String::new();
    for dc in &plugin.config.discount_codes {
        let used = -host.ledger_balance(&dc.uses_account())?.balance;
        let left = dc
            .total_uses
            .map(|total| (Decimal::from(total) - used).max(Decimal::ZERO));
        text.push_str(&format!(
            "{}  {}  used {}  left {}\n",
            dc.code,
            dc.name,
            used,
            left.map_or_else(|| "unlimited".to_string(), |l| l.to_string())
        ));
        rows.push(json!({
            "code": dc.code,
            "name": dc.name,
            "used": used.to_string(),
            "total_uses": dc.total_uses,
            "uses_left": left.map(|l| l.to_string()),
            "uses_per_customer": dc.uses_per_customer,
            "valid_from": dc.valid_from.map(|d| d.to_string()),
            "valid_to": dc.valid_to.map(|d| d.to_string()),
        }));
    }
    if text.is_empty() {
        text.push_str("no discount codes configured");
    }
    Ok(InvokeAdminActionResponse {
        result: json!({ "codes": rows }),
        text: text.trim_end().to_string(),
        output: String::new(),
        effects: None,
    })
}

/// The breakage account's balance and postings (residual values forfeited).
fn breakage(host: &Host) -> Result<InvokeAdminActionResponse, PluginError> {
    let balance = host.ledger_balance(BREAKAGE)?;
    let mut postings = host.ledger_postings(BREAKAGE, Some(HISTORY_LIMIT))?;
    oldest_first(&mut postings);
    let mut text = format!("breakage: {} {}\n", balance.balance, balance.unit);
    for p in &postings {
        text.push_str(&format!(
            "  {}  entry {}  {:>10}\n",
            p.time, p.entry, p.amount
        ));
    }
    Ok(InvokeAdminActionResponse {
        result: json!({
            "account": BREAKAGE,
            "balance": balance.balance.to_string(),
            "unit": balance.unit,
            "postings": postings,
        }),
        text: text.trim_end().to_string(),
        output: String::new(),
        effects: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Vouchers;
    use posd_plugin_sdk::testing::Harness;

    /// A sold voucher is found by its code, blocked and unblocked in kv, and its history
    /// names the receipt that sold it; nothing the plugin answers holds the code.
    #[test]
    fn lookup_block_and_history_of_a_sold_voucher() {
        let dir = std::env::temp_dir().join(format!("posd-vouchers-admin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k");
        std::fs::write(&key, [7u8; 32]).unwrap();
        let mut h = Harness::<Vouchers>::create(json!({"key_file": key, "programmes": [
            {"id": "gift", "name": "Geschenk", "kind": "gift", "amount": "25.00",
             "code": {"format": "template"}}]}))
        .unwrap();
        let listed = h.admin_actions().unwrap();
        assert_eq!(listed.actions[0].command, ["voucher", "issue"]);
        assert_eq!(listed.actions[1].command, ["voucher", "lookup"]);
        let sale = json!({"id": "S1", "currency": "EUR", "lines": [], "tenders": []});
        let sold = h
            .call(
                "invoke_action",
                &json!({"schema": 1, "action": "sell-gift", "args": {}, "sale": sale}),
            )
            .unwrap();
        let code = sold["result"]["code"].as_str().unwrap().to_string();
        let line = &sold["add_lines"][0];
        let done = h
            .checkout(&json!({"id": "S1", "currency": "EUR", "lines": [
                {"id": "L1", "kind": "voucher_sale", "qty": "1", "unit_price": "25.00", "amount": "25.00",
                 "plugin": "vouchers", "ref": line["ref"], "data": line["data"]}],
                "tenders": [{"id": "T1", "method": "cash", "amount": "25.00"}]}))
            .unwrap();
        let looked = h.invoke_admin("lookup", json!({"code": code})).unwrap();
        assert_eq!(looked.result["balance"], "25.00");
        assert_eq!(looked.result["state"], "active");
        let blocked = h.invoke_admin("block", json!({"code": code})).unwrap();
        assert_eq!(blocked.result["state"], "blocked");
        let id = line["data"]["id"].as_str().unwrap();
        assert_eq!(
            h.kv_get::<bool>(&format!("blocked:{id}")).unwrap(),
            Some(true)
        );
        // A checkout that rewrites the terms meanwhile (a top-up) writes what it read before
        // the block: the block stands.
        let stored: Value = h.kv_get(&format!("voucher:{id}")).unwrap().unwrap();
        assert!(
            stored.get("blocked").is_none(),
            "not part of the terms: {stored}"
        );
        h.kv_put(&format!("voucher:{id}"), &stored).unwrap();
        let looked_again = h.invoke_admin("lookup", json!({"code": code})).unwrap();
        assert_eq!(looked_again.result["state"], "blocked");
        let again = h.invoke_admin("block", json!({"code": code})).unwrap();
        assert_eq!(again.result["changed"], false);
        h.invoke_admin("unblock", json!({"code": code})).unwrap();
        let history = h.invoke_admin("history", json!({"code": code})).unwrap();
        assert_eq!(
            history.result["receipts"][0]["receipt"],
            done.receipt.id.as_str()
        );
        assert_eq!(history.result["receipts"][0]["amount"], "25.00");
        let plain: String = code.chars().filter(|c| *c != '-').collect();
        for answer in [&looked, &blocked, &history] {
            let all = format!("{} {}", answer.result, answer.text);
            assert!(!all.contains(&plain) && !all.contains(&code), "{all}");
        }
        assert_eq!(
            h.invoke_admin("lookup", json!({"code": " "}))
                .unwrap_err()
                .error,
            posd_plugin_sdk::ErrorName::InvalidArgument
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn batch_harness(minor: u16) -> (std::path::PathBuf, Harness<Vouchers>) {
        let dir = std::env::temp_dir().join(format!(
            "posd-vouchers-batch-{}-{minor}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("k");
        std::fs::write(&key, [9u8; 32]).unwrap();
        let config = json!({"key_file": key, "programmes": [
            {"id": "promo", "name": "Aktion", "kind": "gift", "amount": "10.00",
             "code": {"format": "template", "prefix": "PR"}},
            {"id": "free", "name": "Geschenk", "kind": "gift", "min_amount": "5.00",
             "max_amount": "100.00", "valid_months": 12, "code": {"format": "template"}},
            {"id": "wallet", "name": "eWallet", "kind": "ewallet", "max_amount": "100.00",
             "code": {"format": "template", "prefix": "EW"}}]});
        let h = Harness::<Vouchers>::create_on_minor(config, minor).unwrap();
        (dir, h)
    }

    /// A batch posts each voucher against promo and stores its terms and batch, all through
    /// the answer's effects; its codes are only in `output`, and each is a voucher the till
    /// finds; bad input is refused with nothing applied; a 1.1 host is not offered it.
    #[test]
    fn a_batch_is_issued_through_effects_and_its_codes_only_in_output() {
        let (dir, mut old) = batch_harness(1);
        assert!(
            old.admin_actions()
                .unwrap()
                .actions
                .iter()
                .all(|a| a.id != "issue"),
            "a 1.1 host would drop the effects"
        );
        let (_, mut h) = batch_harness(2);
        let listed = h.admin_actions().unwrap();
        assert_eq!(listed.actions[0].params[0].choices, ["promo", "free"]);
        let answer = h
            .invoke_admin("issue", json!({"programme": "promo", "count": 3}))
            .unwrap();
        let codes: Vec<&str> = answer.output.lines().collect();
        assert_eq!(codes.len(), 3);
        let batch = answer.result["batch"].as_str().unwrap().to_string();
        assert!(batch.starts_with("B-20260101-"), "{batch}");
        assert_eq!(answer.result["amount"], "10.00");
        assert_eq!(
            h.ledger_balance(crate::batch::PROMO).balance,
            Decimal::new(-3000, 2)
        );
        for code in &codes {
            assert!(code.starts_with("PR-"), "{code}");
            let canonical = code::canonical(code).unwrap();
            let all = format!("{} {}", answer.result, answer.text);
            assert!(!all.contains(&canonical[2..]), "{all}");
            let looked = h.invoke_admin("lookup", json!({"code": code})).unwrap();
            assert_eq!(looked.result["balance"], "10.00");
            assert_eq!(looked.result["batch"], batch.as_str());
            assert!(
                looked.text.contains(&format!("issued in batch {batch}")),
                "{}",
                looked.text
            );
        }
        let kv = h.kv();
        assert!(
            kv.values()
                .all(|v| codes.iter().all(|c| !v.to_string().contains(c)))
        );
        let record: crate::batch::Batch =
            h.kv_get(&crate::batch::batch_key(&batch)).unwrap().unwrap();
        assert_eq!(record.count, 3);

        let free = h
            .invoke_admin(
                "issue",
                json!({"programme": "free", "count": 1, "amount": "7.50", "expires": "2026-06-30"}),
            )
            .unwrap();
        assert_eq!(free.result["expires"], "2026-06-30");
        let entries = h.kv().len();
        for (args, part) in [
            (
                json!({"programme": "wallet", "count": 1, "amount": "5"}),
                "eWallet",
            ),
            (json!({"programme": "nope", "count": 1}), "no programme"),
            (json!({"programme": "promo", "count": 0}), "1 to 1000"),
            (json!({"programme": "promo", "count": 1001}), "1 to 1000"),
            (
                json!({"programme": "promo", "count": 1, "amount": "12.00"}),
                "fixed at 10.00",
            ),
            (
                json!({"programme": "free", "count": 1}),
                "amount is required",
            ),
            (
                json!({"programme": "free", "count": 1, "amount": "500"}),
                "outside",
            ),
            (
                json!({"programme": "free", "count": 1, "amount": "-5"}),
                "positive",
            ),
            (
                json!({"programme": "free", "count": 1, "amount": "5", "expires": "2025-12-31"}),
                "has passed",
            ),
            (
                json!({"programme": "free", "count": 1, "amount": "5", "expires": "soon"}),
                "no day",
            ),
        ] {
            let err = h.invoke_admin("issue", args.clone()).unwrap_err();
            assert_eq!(
                err.error,
                posd_plugin_sdk::ErrorName::InvalidArgument,
                "{args}"
            );
            assert!(err.message.contains(part), "{args}: {}", err.message);
        }
        assert_eq!(h.kv().len(), entries, "nothing was written");
        assert_eq!(
            h.ledger_balance(crate::batch::PROMO).balance,
            Decimal::new(-3750, 2)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
