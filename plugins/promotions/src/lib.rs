//! posd-promotions — automatic promotions: buy X get Y (one product, mix and match over a
//! group, a different product free), discounts on products or groups with a cap, and
//! basket thresholds with ladders, each with dates, weekdays and hours; where promotions
//! compete for the same goods, the combination best for the customer. See README.md.
//!
//! - [`config`]: `[plugin.promotions]`, checked at `create` (the key named when wrong).
//! - [`clock`]: the store's local time for validity, with EU summer time.
//! - [`engine`]: what each promotion gives and the best combination.
//!
//! The plugin answers `evaluate_basket` with discount lines (price reductions, which the
//! host spreads over VAT) and nudges, and offers the cashier actions to take a promotion
//! off a sale and put it back (kept in the host's kv store for the sale). It writes no
//! money.

#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod engine;
pub mod error;

use std::collections::{BTreeSet, HashMap};

use posd_plugin_sdk::schema::{
    Action, AutoLine, CheckoutEffects, Effects, EvaluateBasketRequest, EvaluateBasketResponse,
    ExcludedLine, InvokeActionRequest, KvWrite, Line, LineKind, ListActionsRequest,
    ListActionsResponse, Posting, PrepareCheckoutRequest, Preview, PreviewKind, ReceiptSection,
    RefKind, Repriced, ReturnLinesRequest, ReturnLinesResponse, Sale, VoidReceiptRequest,
    VoidReceiptResponse,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    Decimal, EvaluateBasket, Host, InvokeAction, ListActions, Plugin, PluginError, PrepareCheckout,
    ReturnLines, VoidReceipt, posd_plugin,
};

use crate::clock::LocalTime;
use crate::config::{Config, Promotion};
use crate::engine::{Good, Missing, Outcome};

/// The plugin's id, and the `owner` of its lines.
pub const ID: &str = "promotions";

/// One instance per till: the checked configuration, and the promotions the cashier took
/// off each open sale (read from kv the first time a sale is seen).
pub struct Promotions {
    config: Config,
    removed: HashMap<String, BTreeSet<String>>,
    /// The groups of promotions settled on recent baskets, made anew with the configuration.
    memo: engine::Memo,
}

/// The kv key of the promotions the cashier took off sale `sale`.
fn removed_key(sale: &str) -> String {
    format!("removed:{sale}")
}

/// How long a sale's record of removed promotions is kept: a sale is open for minutes, and
/// records of sales long completed or cancelled are deleted at start.
const REMOVED_KEPT_MS: i64 = 2 * 86_400_000;

/// The ledger account counting the uses of promotion `id` (unit [`USES_UNIT`]): its
/// balance is −(uses so far), and `total_uses` is its floor.
fn uses_account(id: &str) -> String {
    format!("promotion:{id}")
}

/// The ledger account counting one customer's uses of promotion `id`.
fn customer_account(id: &str, customer: &str) -> String {
    format!("promotion:{id}:customer:{customer}")
}

/// The unit uses are counted in.
const USES_UNIT: &str = "uses";

/// The counter-account of every use.
const USES_CONTRA: &str = "promotion_uses";

/// The kv key of the uses receipt `receipt` counted, so that its void gives back exactly
/// those, whatever the configuration says by then.
fn counted_key(receipt: &str) -> String {
    format!("counted:{receipt}")
}

/// The uses one receipt counted: the promotions, and the customer counted per customer.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Counted {
    /// Promotions counted in all.
    total: Vec<String>,
    /// Promotions counted for `customer`.
    per_customer: Vec<String>,
    customer: Option<String>,
}

impl Counted {
    /// The postings of these uses: −1 each on the counters, floored at the limits
    /// (`limits` gives each promotion's), or +1 each without floors to give them back.
    fn postings(&self, back: bool, limits: impl Fn(&str) -> config::Limits) -> Vec<Posting> {
        let (delta, kind) = if back {
            (Decimal::ONE, "use_void")
        } else {
            (-Decimal::ONE, "use")
        };
        let mut postings = Vec::new();
        let mut post = |account: String, floor: Option<u32>, customer: Option<&String>| {
            postings.push(Posting {
                account,
                amount: delta,
                unit: USES_UNIT.to_string(),
                kind: kind.to_string(),
                floor: floor.filter(|_| !back).map(|f| -Decimal::from(f)),
                customer: customer.cloned(),
                ..Posting::default()
            });
            postings.push(Posting {
                account: USES_CONTRA.to_string(),
                amount: -delta,
                unit: USES_UNIT.to_string(),
                kind: kind.to_string(),
                ..Posting::default()
            });
        };
        for id in &self.total {
            post(uses_account(id), limits(id).total, None);
        }
        if let Some(customer) = &self.customer {
            for id in &self.per_customer {
                post(
                    customer_account(id, customer),
                    limits(id).per_customer,
                    Some(customer),
                );
            }
        }
        postings
    }
}

/// Sales whose removed promotions are kept in memory; more, and the memory starts afresh
/// (kv holds them).
const REMEMBERED_SALES: usize = 256;

impl Plugin for Promotions {
    const ID: &'static str = ID;
    const NAME: &'static str = "Aktionen";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Automatic promotions: buy X get Y, product and group discounts, basket thresholds";

    fn create(host: &Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::parse(config)?;
        host.info(&format!(
            "{} promotion(s): {}",
            config.promotions.len(),
            config
                .promotions
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let cutoff = host.now() - REMOVED_KEPT_MS;
        for entry in host.kv_list("removed:")? {
            if entry.value.get("at").and_then(Value::as_i64).unwrap_or(0) < cutoff {
                host.kv_delete(&entry.key)?;
            }
        }
        Ok(Promotions::with_config(config))
    }
}

/// Whether `promotion` holds at `now`.
fn holds(promotion: &Promotion, now: LocalTime) -> bool {
    let v = &promotion.validity;
    v.from.is_none_or(|from| now.date >= from)
        && v.until.is_none_or(|until| now.date <= until)
        && v.weekdays.contains(now.weekday)
        && v.hours.is_none_or(|h| h.contains(now.minute))
}

/// An amount as the store's locale writes it: `12,30` in German and Czech, `12.30` else.
fn money(amount: Decimal, locale: &str) -> String {
    let text = format!("{:.2}", amount);
    if locale.starts_with("de") || locale.starts_with("cs") {
        text.replace('.', ",")
    } else {
        text
    }
}

/// The nudge for what `promotion` misses, in the store's language.
fn nudge(promotion: &Promotion, missing: Missing, locale: &str, currency: &str) -> Preview {
    let label = match (missing, locale.get(..2).unwrap_or("")) {
        (Missing::Units(n), "de") => format!("Noch {n} Stück: {}", promotion.name),
        (Missing::Units(n), "cs") => format!("Ještě {n} ks: {}", promotion.name),
        (Missing::Units(n), _) => format!("{n} more: {}", promotion.name),
        (Missing::Value(v), "de") => {
            format!("Noch {} {currency}: {}", money(v, locale), promotion.name)
        }
        (Missing::Value(v), "cs") => {
            format!("Ještě {} {currency}: {}", money(v, locale), promotion.name)
        }
        (Missing::Value(v), _) => {
            format!("{} {currency} more: {}", money(v, locale), promotion.name)
        }
    };
    Preview {
        kind: Some(PreviewKind::Nudge),
        label,
        points: None,
        amount: match missing {
            Missing::Value(v) => Some(v),
            Missing::Units(_) => None,
        },
    }
}

impl Promotions {
    /// The plugin with a checked configuration, as `create` makes it (for tests and the
    /// host's benchmark, which call it directly).
    pub fn with_config(config: Config) -> Self {
        Promotions {
            config,
            removed: HashMap::new(),
            memo: engine::Memo::default(),
        }
    }

    /// The promotions the cashier took off `sale`.
    fn removed_from(
        &mut self,
        host: &Host,
        sale: &str,
    ) -> Result<&mut BTreeSet<String>, PluginError> {
        if !self.removed.contains_key(sale) {
            if self.removed.len() >= REMEMBERED_SALES {
                self.removed.clear();
            }
            let stored: Option<Value> = host.kv_get(&removed_key(sale))?;
            let ids = stored
                .and_then(|v| v.get("promotions").cloned())
                .and_then(|v| posd_plugin_sdk::serde_json::from_value(v).ok())
                .unwrap_or_default();
            self.removed.insert(sale.to_string(), ids);
        }
        Ok(self.removed.entry(sale.to_string()).or_default())
    }

    /// Writes what the cashier took off `sale` to kv.
    fn store_removed(&mut self, host: &Host, sale: &str) -> Result<(), PluginError> {
        let ids = self.removed_from(host, sale)?.clone();
        if ids.is_empty() {
            host.kv_delete(&removed_key(sale))?;
        } else {
            host.kv_put(
                &removed_key(sale),
                &json!({ "at": host.now(), "promotions": ids }),
            )?;
        }
        Ok(())
    }

    /// The promotion with `id`.
    fn promotion(&self, id: &str) -> Option<&Promotion> {
        self.config.promotions.iter().find(|p| p.id == id)
    }

    /// The promotions that hold at `now_ms` (the host's clock), by index.
    pub fn active(&self, now_ms: i64) -> Vec<usize> {
        let now = self.config.zone.local(now_ms);
        (0..self.config.promotions.len())
            .filter(|&i| holds(&self.config.promotions[i], now))
            .collect()
    }

    /// The answer to `evaluate_basket` at `now_ms`: one discount line per item promotion and
    /// VAT rate it reduces (so VAT comes off exactly the rate it belongs to), one per
    /// threshold spread over the goods it counts, and a nudge per promotion that is near.
    pub fn evaluate(
        &self,
        request: &EvaluateBasketRequest,
        now_ms: i64,
        removed: &BTreeSet<String>,
    ) -> EvaluateBasketResponse {
        let goods = Good::of(&request.sale.lines);
        let groups = &request.sale.customer_groups;
        let mut active = self.active(now_ms);
        active.retain(|&i| {
            let promotion = &self.config.promotions[i];
            let wanted = &promotion.validity.customer_groups;
            !removed.contains(&promotion.id)
                && (wanted.is_empty() || wanted.iter().any(|g| groups.contains(g)))
        });
        let outcome = engine::best_remembering(&self.config, &goods, &active, &self.memo);
        let mut lines = self.lines(&goods, &outcome);
        lines.sort_by(|a, b| a.reference.cmp(&b.reference));
        let previews = outcome
            .missing
            .iter()
            .map(|&(i, missing)| {
                nudge(
                    &self.config.promotions[i],
                    missing,
                    &request.store.locale,
                    &request.sale.currency,
                )
            })
            .collect();
        EvaluateBasketResponse {
            lines,
            previews,
            ..EvaluateBasketResponse::default()
        }
    }

    fn lines(&self, goods: &[Good], outcome: &Outcome) -> Vec<AutoLine> {
        let line = |promotion: &Promotion,
                    amount: Decimal,
                    applies_to: Vec<String>,
                    reference: String| AutoLine {
            kind: LineKind::Discount,
            name: promotion.name.clone(),
            amount: -amount,
            applies_to,
            tags: Vec::new(),
            reference,
            ref_kind: RefKind::Rule,
            data: Value::Null,
        };
        // One line per promotion and VAT rate: VAT comes off exactly the rate it belongs to,
        // and the host's pro rata spread within one rate changes no VAT.
        let mut items: Vec<(usize, Decimal, Decimal, Vec<usize>)> = Vec::new();
        for r in &outcome.items {
            let rate = goods[r.good].line.tax_rate.normalize();
            match items
                .iter_mut()
                .find(|(p, at, _, _)| *p == r.promotion && *at == rate)
            {
                Some((_, _, amount, on)) => {
                    *amount += r.amount;
                    on.push(r.good);
                }
                None => items.push((r.promotion, rate, r.amount, vec![r.good])),
            }
        }
        let items = items.into_iter().map(|(p, rate, amount, mut on)| {
            let promotion = &self.config.promotions[p];
            on.sort_unstable();
            on.dedup();
            let on = on.iter().map(|&g| goods[g].line.id.clone()).collect();
            line(promotion, amount, on, format!("{}@{rate}", promotion.id))
        });
        let basket = outcome.basket.iter().map(|b| {
            let promotion = &self.config.promotions[b.promotion];
            let on = b.goods.iter().map(|&g| goods[g].line.id.clone()).collect();
            line(promotion, b.amount, on, promotion.id.clone())
        });
        items.chain(basket).collect()
    }
}

impl EvaluateBasket for Promotions {
    fn evaluate_basket(
        &mut self,
        host: &Host,
        request: EvaluateBasketRequest,
    ) -> Result<EvaluateBasketResponse, PluginError> {
        let mut off = self.removed_from(host, &request.sale.id)?.clone();
        for promotion in self.config.promotions.iter().filter(|p| p.limits.any()) {
            if unusable(host, promotion, request.sale.customer.as_deref())?.is_some() {
                off.insert(promotion.id.clone());
            }
        }
        Ok(self.evaluate(&request, host.now(), &off))
    }
}

/// Why `promotion` can't be used on a sale of `customer` now — used up in all
/// (`LimitReached`), by this customer (`LimitReached`), or limited per customer on a sale
/// without one (`CustomerRequired`) — or `None` when it can. Reads the counters from the
/// host's ledger: one look-up per limit.
fn unusable(
    host: &Host,
    promotion: &Promotion,
    customer: Option<&str>,
) -> Result<Option<PluginError>, PluginError> {
    let used = |account: String| -> Result<Decimal, PluginError> {
        Ok(-host.ledger_balance(&account)?.balance)
    };
    let name = &promotion.name;
    if let Some(total) = promotion.limits.total
        && used(uses_account(&promotion.id))? >= Decimal::from(total)
    {
        return Ok(Some(PluginError::limit_reached(format!(
            "Aktion {name} ist aufgebraucht ({total}× genutzt; promotion used up)"
        ))));
    }
    if let Some(each) = promotion.limits.per_customer {
        let Some(customer) = customer else {
            return Ok(Some(PluginError::customer_required(format!(
                "Aktion {name} gilt {each}× je Kunde: bitte Kunden zuordnen (customer required)"
            ))));
        };
        if used(customer_account(&promotion.id, customer))? >= Decimal::from(each) {
            return Ok(Some(PluginError::limit_reached(format!(
                "Aktion {name}: von diesem Kunden schon {each}× genutzt (used up by this customer)"
            ))));
        }
    }
    Ok(None)
}

/// The promotions whose lines are on `sale`, by id, in the order of their lines.
fn applied(sale: &Sale) -> Vec<String> {
    applied_on(sale.lines_of(ID))
}

/// The promotions of `lines` (the plugin's own), by id, in their order.
fn applied_on<'a>(lines: impl IntoIterator<Item = &'a Line>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for line in lines {
        let id = line
            .reference
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// An action's label in the store's language: take `name` off, or put it back.
fn action_label(remove: bool, name: &str, locale: &str) -> String {
    match (remove, locale.get(..2).unwrap_or("")) {
        (true, "de") => format!("Aktion entfernen: {name}"),
        (false, "de") => format!("Aktion wieder anwenden: {name}"),
        (true, "cs") => format!("Odebrat akci: {name}"),
        (false, "cs") => format!("Znovu použít akci: {name}"),
        (true, _) => format!("Remove promotion: {name}"),
        (false, _) => format!("Apply promotion again: {name}"),
    }
}

impl ListActions for Promotions {
    fn list_actions(
        &mut self,
        host: &Host,
        request: ListActionsRequest,
    ) -> Result<ListActionsResponse, PluginError> {
        let locale = request.store.locale.clone();
        let removed = self.removed_from(host, &request.sale.id)?.clone();
        let mut actions: Vec<Action> = applied(&request.sale)
            .iter()
            .filter_map(|id| self.promotion(id))
            .map(|p| Action {
                id: format!("remove:{}", p.id),
                label: action_label(true, &p.name, &locale),
                params: Vec::new(),
            })
            .collect();
        actions.extend(
            removed
                .iter()
                .filter_map(|id| self.promotion(id))
                .map(|p| Action {
                    id: format!("restore:{}", p.id),
                    label: action_label(false, &p.name, &locale),
                    params: Vec::new(),
                }),
        );
        Ok(ListActionsResponse { actions })
    }
}

impl InvokeAction for Promotions {
    fn invoke_action(
        &mut self,
        host: &Host,
        request: InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        let (verb, id) = request
            .action
            .split_once(':')
            .unwrap_or((&request.action, ""));
        let Some(promotion) = self.promotion(id).map(|p| p.name.clone()) else {
            return Err(PluginError::not_found(format!("no promotion {id:?}")));
        };
        let sale = request.sale.id.clone();
        let message = match verb {
            "remove" => {
                self.removed_from(host, &sale)?.insert(id.to_string());
                format!("{promotion}: off this sale")
            }
            "restore" => {
                self.removed_from(host, &sale)?.remove(id);
                format!("{promotion}: applies again")
            }
            other => {
                return Err(PluginError::not_found(format!("no action {other:?}")));
            }
        };
        self.store_removed(host, &sale)?;
        // The host evaluates the basket again after the action: the lines follow.
        Ok(Effects {
            message: Some(message),
            ..Effects::default()
        })
    }
}

/// The receipt section of what the promotions took off `sale`: one line per promotion and
/// the total saved, in the store's language; `None` when none applied.
pub fn savings(sale: &Sale, locale: &str) -> Option<ReceiptSection> {
    let mut by_name: Vec<(String, Decimal)> = Vec::new();
    for line in sale.lines_of(ID) {
        match by_name.iter_mut().find(|(name, _)| *name == line.name) {
            Some(entry) => entry.1 -= line.amount,
            None => by_name.push((line.name.clone(), -line.amount)),
        }
    }
    let total: Decimal = by_name.iter().map(|(_, a)| *a).sum();
    if total <= Decimal::ZERO {
        return None;
    }
    let (title, saved) = match locale.get(..2).unwrap_or("") {
        "de" => ("Ihre Ersparnis", "Sie sparen heute"),
        "cs" => ("Vaše úspora", "Dnes ušetříte"),
        _ => ("Your savings", "You save today"),
    };
    let currency = &sale.currency;
    let mut lines: Vec<String> = by_name
        .iter()
        .map(|(name, amount)| format!("{name}: {} {currency}", money(*amount, locale)))
        .collect();
    lines.push(format!("{saved} {} {currency}", money(total, locale)));
    Some(ReceiptSection {
        title: title.to_string(),
        lines,
        ..ReceiptSection::default()
    })
}

impl PrepareCheckout for Promotions {
    fn prepare_checkout(
        &mut self,
        host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        // The sale is done: what the cashier took off it is forgotten with the checkout (the
        // delete commits with it; should the checkout fail, kv still holds the record).
        let known = self.removed.remove(&request.sale.id);
        let mut kv = if known.is_none_or(|ids| !ids.is_empty()) {
            vec![KvWrite {
                key: removed_key(&request.sale.id),
                value: Value::Null,
            }]
        } else {
            Vec::new()
        };
        // Uses are counted with the checkout. A promotion used up since the basket was
        // priced (its last use taken at another till) fails the checkout; the host prices
        // the sale again, without it. The floors keep two checkouts at the same moment
        // apart: one of them fails with `InsufficientBalance` and writes nothing.
        let customer = request.sale.customer.clone();
        let mut counted = Counted {
            customer: customer.clone(),
            ..Counted::default()
        };
        for id in applied(&request.sale) {
            let Some(promotion) = self.promotion(&id) else {
                continue;
            };
            if !promotion.limits.any() {
                continue;
            }
            if let Some(refusal) = unusable(host, promotion, customer.as_deref())? {
                return Err(refusal);
            }
            if promotion.limits.total.is_some() {
                counted.total.push(id.clone());
            }
            if promotion.limits.per_customer.is_some() {
                counted.per_customer.push(id);
            }
        }
        let postings = counted.postings(false, |id| {
            self.promotion(id).map(|p| p.limits).unwrap_or_default()
        });
        if !postings.is_empty() {
            kv.push(KvWrite {
                key: counted_key(&request.receipt_id),
                value: json!(counted),
            });
        }
        Ok(CheckoutEffects {
            sections: savings(&request.sale, &request.store.locale)
                .into_iter()
                .collect(),
            kv,
            postings,
            ..CheckoutEffects::default()
        })
    }
}

impl VoidReceipt for Promotions {
    /// The uses the receipt counted come back (+1 each, kind `use_void`); the receipt's
    /// discount lines are reversed by the host with the rest of it.
    fn void_receipt(
        &mut self,
        host: &Host,
        request: VoidReceiptRequest,
    ) -> Result<VoidReceiptResponse, PluginError> {
        let key = counted_key(&request.receipt.id);
        let Some(counted) = host.kv_get::<Counted>(&key)? else {
            return Ok(VoidReceiptResponse::default());
        };
        let effects = CheckoutEffects {
            postings: counted.postings(true, |_| config::Limits::default()),
            kv: vec![KvWrite {
                key,
                value: Value::Null,
            }],
            ..CheckoutEffects::default()
        };
        Ok(VoidReceiptResponse {
            effects,
            ..VoidReceiptResponse::default()
        })
    }
}

impl ReturnLines for Promotions {
    /// Prices what the customer keeps with the promotions the receipt had: what of each of
    /// its lines the kept goods no longer earn is kept back from the refund (`repriced`),
    /// and a promotion the kept goods no longer earn at all gives its use back.
    fn return_lines(
        &mut self,
        host: &Host,
        request: ReturnLinesRequest,
    ) -> Result<ReturnLinesResponse, PluginError> {
        let receipt = &request.receipt;
        let own: Vec<&Line> = receipt.lines.iter().filter(|l| l.plugin == ID).collect();
        if own.is_empty() {
            return Ok(ReturnLinesResponse::default());
        }
        if host.abi_minor() < 3 {
            // An older host would not keep back what is repriced: goods of a receipt with
            // promotions can't come back at such a till, rather than keep their discount.
            let excluded = request
                .lines
                .iter()
                .map(|l| ExcludedLine {
                    line: l.line.clone(),
                    message: "Aktionsbeleg: Retoure braucht posd mit Plugin-ABI 1.3 \
                              (a receipt with promotions needs plugin ABI 1.3 to take goods back)"
                        .to_string(),
                })
                .collect();
            return Ok(ReturnLinesResponse {
                excluded,
                ..ReturnLinesResponse::default()
            });
        }
        let now = self.earned_by_kept(&request);
        let mut repriced = Vec::new();
        for held in &request.reductions {
            let Some(line) = own.iter().find(|l| l.id == held.line) else {
                continue;
            };
            let configured = line
                .reference
                .split('@')
                .next()
                .and_then(|id| self.promotion(id))
                .is_some();
            let back = if configured {
                let earned = now.get(&line.reference).copied().unwrap_or_default();
                engine::round(held.kept - earned)
            } else {
                // No longer configured: it can't be priced again, so what earlier returns
                // kept back stays, as far as the kept goods still hold it.
                held.kept_back.min(held.kept)
            };
            if back > Decimal::ZERO {
                repriced.push(Repriced {
                    line: held.line.clone(),
                    amount: back,
                });
            }
        }
        // A promotion the kept goods earn nothing of any more was not used after all.
        let mut effects = CheckoutEffects::default();
        let key = counted_key(&receipt.id);
        if let Some(mut counted) = host.kv_get::<Counted>(&key)? {
            let unused = |id: &String| !now.keys().any(|r| r.split('@').next() == Some(id));
            let back = Counted {
                total: counted
                    .total
                    .iter()
                    .filter(|id| unused(id))
                    .cloned()
                    .collect(),
                per_customer: counted
                    .per_customer
                    .iter()
                    .filter(|id| unused(id))
                    .cloned()
                    .collect(),
                customer: counted.customer.clone(),
            };
            if !back.total.is_empty() || !back.per_customer.is_empty() {
                effects.postings = back.postings(true, |_| config::Limits::default());
                counted.total.retain(|id| !back.total.contains(id));
                counted
                    .per_customer
                    .retain(|id| !back.per_customer.contains(id));
                let value = if counted.total.is_empty() && counted.per_customer.is_empty() {
                    Value::Null
                } else {
                    json!(counted)
                };
                effects.kv.push(KvWrite { key, value });
            }
        }
        Ok(ReturnLinesResponse {
            effects,
            repriced,
            ..ReturnLinesResponse::default()
        })
    }
}

impl Promotions {
    /// What the goods the customer keeps after `request`'s return earn of the promotions
    /// the receipt had (no other), by the `ref` of the line each would have: the receipt's
    /// item lines less what this and earlier returns took back, each at its share of the
    /// amount paid for it before reductions.
    fn earned_by_kept(&self, request: &ReturnLinesRequest) -> HashMap<String, Decimal> {
        let receipt = &request.receipt;
        let back = |id: &str| -> Decimal {
            request
                .lines
                .iter()
                .chain(&request.returned_before)
                .filter(|r| r.line == id)
                .map(|r| r.qty)
                .sum()
        };
        let kept: Vec<Line> = receipt
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Item && !l.qty.is_zero())
            .filter_map(|l| {
                let qty = l.qty - back(&l.id);
                (qty > Decimal::ZERO).then(|| Line {
                    qty,
                    amount: engine::round(l.amount * qty / l.qty),
                    ..l.clone()
                })
            })
            .collect();
        let had = applied_on(receipt.lines.iter().filter(|l| l.plugin == ID));
        let active: Vec<usize> = had
            .iter()
            .filter_map(|id| self.config.promotions.iter().position(|p| &p.id == id))
            .collect();
        let goods = Good::of(&kept);
        let outcome = engine::best(&self.config, &goods, &active);
        self.lines(&goods, &outcome)
            .into_iter()
            .map(|l| (l.reference, -l.amount))
            .collect()
    }
}

posd_plugin!(Promotions);

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::schema::Line;
    use posd_plugin_sdk::serde_json::json;

    fn request(groups: &[&str]) -> EvaluateBasketRequest {
        EvaluateBasketRequest {
            sale: Sale {
                id: "S1".into(),
                currency: "EUR".into(),
                customer: Some("C-1".into()),
                customer_groups: groups.iter().map(|g| g.to_string()).collect(),
                lines: vec![Line {
                    id: "L1".into(),
                    kind: LineKind::Item,
                    sku: "a".into(),
                    name: "A".into(),
                    qty: Decimal::ONE,
                    unit_price: Decimal::TEN,
                    amount: Decimal::TEN,
                    tax_rate: Decimal::from(20),
                    ..Line::default()
                }],
                ..Sale::default()
            },
            ..EvaluateBasketRequest::default()
        }
    }

    #[test]
    fn a_promotion_for_customer_groups_holds_only_for_their_customers() {
        let config = Config::parse(json!({"promotions": [
            {"id": "STAFF", "name": "Personal -20 %", "kind": "discount", "skus": ["a"],
             "percent": "20", "customer_groups": ["staff", "vip"]},
            {"id": "ALL", "name": "Alle -5 %", "kind": "discount", "skus": ["a"],
             "percent": "5", "stackable": true},
        ]}))
        .expect("config");
        let plugin = Promotions::with_config(config);
        let names = |groups: &[&str]| -> Vec<String> {
            plugin
                .evaluate(&request(groups), 0, &BTreeSet::new())
                .lines
                .into_iter()
                .map(|l| l.name)
                .collect()
        };
        assert_eq!(names(&[]), ["Alle -5 %"], "a customer in no group");
        assert_eq!(names(&["vip"]), ["Alle -5 %", "Personal -20 %"]);
        assert_eq!(names(&["guest"]), ["Alle -5 %"]);
        let empty = Config::parse(json!({"promotions": [
            {"id": "X", "name": "X", "kind": "discount", "percent": "5", "customer_groups": [" "]}]}));
        assert!(
            matches!(&empty, Err(e) if e.to_string().contains("promotions[0].customer_groups[0]")),
            "{empty:?}"
        );
    }

    /// An item line of `qty` units at `price` and `rate` % VAT, tagged `snack`.
    fn snack(id: &str, qty: u32, price: &str, rate: u32) -> Line {
        let unit_price: Decimal = price.parse().expect("price");
        Line {
            id: id.into(),
            kind: LineKind::Item,
            sku: id.to_lowercase(),
            name: id.into(),
            qty: Decimal::from(qty),
            unit_price,
            amount: unit_price * Decimal::from(qty),
            tax_rate: Decimal::from(rate),
            tags: vec!["snack".into()],
            ..Line::default()
        }
    }

    #[test]
    fn one_line_per_promotion_and_vat_rate_naming_the_lines_it_reduces() {
        let config = Config::parse(json!({"promotions": [
            {"id": "MM", "name": "Snacks 3 für 2", "kind": "buy_get", "tags": ["snack"],
             "buy": 2, "get": 1, "percent": "100"}]}))
        .expect("config");
        let plugin = Promotions::with_config(config);
        let mut basket = request(&[]);
        // Six units at 20 %: of each set of three the cheapest is free, one of L2 (2.00)
        // and one of L3 (1.00) — one line naming both.
        basket.sale.lines = vec![snack("L2", 3, "2.00", 20), snack("L3", 3, "1.00", 20)];
        let seen = |basket: &EvaluateBasketRequest| -> Vec<(String, String, Vec<String>)> {
            plugin
                .evaluate(basket, 0, &BTreeSet::new())
                .lines
                .into_iter()
                .map(|l| (l.reference, l.amount.to_string(), l.applies_to))
                .collect()
        };
        assert_eq!(
            seen(&basket),
            [(
                "MM@20".to_string(),
                "-3.00".to_string(),
                vec!["L2".to_string(), "L3".to_string()]
            )]
        );
        // Three dearer units at 10 % make a set of their own: the promotion now has a line
        // at each rate, and the one at 20 % is the same as before.
        basket.sale.lines.push(snack("L4", 3, "5.00", 10));
        assert_eq!(
            seen(&basket),
            [
                (
                    "MM@10".to_string(),
                    "-5.00".to_string(),
                    vec!["L4".to_string()]
                ),
                (
                    "MM@20".to_string(),
                    "-3.00".to_string(),
                    vec!["L2".to_string(), "L3".to_string()]
                )
            ]
        );
        let names = plugin.evaluate(&basket, 0, &BTreeSet::new()).lines;
        assert!(names.iter().all(|l| l.name == "Snacks 3 für 2"));
    }

    #[test]
    fn on_a_host_older_than_1_3_goods_of_a_receipt_with_promotions_do_not_come_back() {
        use posd_plugin_sdk::testing::Harness;
        let config = json!({"promotions": [
            {"id": "MM", "name": "Snacks 3 für 2", "kind": "buy_get", "tags": ["snack"],
             "buy": 2, "get": 1, "percent": "100"}]});
        let line = |id: &str, kind: &str, amount: &str, plugin: &str, reference: &str| {
            json!({"id": id, "kind": kind, "sku": "s", "name": id, "qty": "1",
                   "unit_price": amount, "amount": amount, "tax_rate": "20", "tags": ["snack"],
                   "plugin": plugin, "ref": reference, "data": {}})
        };
        let request = json!({"schema": 1, "store": {"currency": "EUR", "locale": "de-AT"},
            "receipt": {"id": "R-1", "time": "2026-06-14T10:31:07+02:00", "kind": "sale",
                "lines": [line("L1", "item", "3.00", "", ""),
                          line("L2", "discount", "-1.00", ID, "MM@20")],
                "tenders": [], "totals": {}, "customer": null},
            "lines": [{"line": "L1", "qty": "1"}], "return_receipt_id": "R-2", "refunds": []});
        let mut old = Harness::<Promotions>::create_on_minor(config.clone(), 2).expect("1.2");
        let answer = old.call("return_lines", &request).expect("return_lines");
        assert_eq!(answer["excluded"][0]["line"], "L1", "{answer}");
        let mut new = Harness::<Promotions>::create(config).expect("1.3");
        let answer = new.call("return_lines", &request).expect("return_lines");
        assert!(
            answer
                .get("excluded")
                .is_none_or(|e| e.as_array().is_some_and(Vec::is_empty)),
            "{answer}"
        );
    }

    #[test]
    fn a_promotion_no_longer_configured_keeps_what_was_kept_back_as_far_as_it_is_held() {
        use posd_plugin_sdk::testing::Harness;
        let line = |id: &str, kind: &str, qty: &str, amount: &str, plugin: &str, r: &str| {
            json!({"id": id, "kind": kind, "sku": "s", "name": id, "qty": qty,
                   "unit_price": amount, "amount": amount, "tax_rate": "20", "tags": ["snack"],
                   "plugin": plugin, "ref": r, "data": {}})
        };
        let request = |kept: &str| {
            json!({"schema": 1, "store": {"currency": "EUR", "locale": "de-AT"},
                "receipt": {"id": "R-1", "time": "2026-06-14T10:31:07+02:00", "kind": "sale",
                    "lines": [line("L1", "item", "3", "3.00", "", ""),
                              line("L2", "discount", "1", "-1.00", ID, "GONE@20")],
                    "tenders": [], "totals": {}, "customer": null},
                "lines": [{"line": "L1", "qty": "1"}], "return_receipt_id": "R-3",
                "returned_before": [{"line": "L1", "qty": "1"}],
                "reductions": [{"line": "L2", "amount": "1.00", "kept": kept, "kept_back": "0.30"}],
                "refunds": []})
        };
        let config = json!({"promotions": [
            {"id": "OTHER", "name": "Other", "kind": "discount", "skus": ["x"], "percent": "5"}]});
        let mut plugin = Harness::<Promotions>::create(config).expect("create");
        let answer = plugin
            .call("return_lines", &request("0.33"))
            .expect("return_lines");
        assert_eq!(
            answer["repriced"],
            json!([{"line": "L2", "amount": "0.30"}]),
            "{answer}"
        );
        let answer = plugin
            .call("return_lines", &request("0.20"))
            .expect("return_lines");
        assert_eq!(
            answer["repriced"],
            json!([{"line": "L2", "amount": "0.20"}]),
            "no more than the kept goods still hold: {answer}"
        );
    }
}
