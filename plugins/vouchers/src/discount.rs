//! Discount codes such as `XMAS20` (ETRON "Rabattcodes"): a code the cashier enters that
//! reduces the price — a percentage, a fixed amount, or a product free. A discount is a
//! reduction of the goods (a discount line that takes VAT off pro rata), never a tender.
//!
//! The code is entered once (`EnterCode`); its line is an automatic line of
//! `evaluate_basket`, so it follows the basket: a percentage follows the goods, a minimum
//! basket no longer met takes the line away until it is met again, and a free product
//! removed from the basket takes its discount with it. Uses are counted at checkout in the
//! checkout's own transaction, as ledger postings with a floor, so two tills can never use
//! a code more often than it allows.

use posd_plugin_sdk::schema::{AutoLine, LedgerBalance, Line, LineKind, Posting, RefKind, Sale};
use posd_plugin_sdk::{Decimal, Host, PluginError, RoundingStrategy};
use serde::Deserialize;

use crate::date::Date;
use crate::error::ConfigError;

/// The unit the use counters are kept in.
pub const USES_UNIT: &str = "uses";
/// The contra account of every use posting: how many uses all codes have had.
pub const USES_CONTRA: &str = "code_uses";

/// A discount code as written in `[[plugin.vouchers.discount_codes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscountCode {
    code: String,
    name: String,
    percent: Option<Decimal>,
    amount: Option<Decimal>,
    free_product: Option<RawFreeProduct>,
    #[serde(default)]
    free_shipping: bool,
    total_uses: Option<u32>,
    uses_per_customer: Option<u32>,
    valid_from: Option<String>,
    valid_to: Option<String>,
    min_basket: Option<Decimal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFreeProduct {
    sku: String,
    name: String,
    price: Decimal,
    vat_rate: Decimal,
    #[serde(default = "one")]
    qty: u32,
}

fn one() -> u32 {
    1
}

/// What a discount code gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Reward {
    /// This percentage off every good of the sale.
    Percent(Decimal),
    /// This amount off the goods (never more than they cost).
    Amount(Decimal),
    /// `qty` units of a product free: added when the code is entered if the basket has none,
    /// else that many of the ones in the basket, the cheapest first.
    FreeProduct {
        /// Article number the product is found by in the basket.
        sku: String,
        /// Its name, for the line added.
        name: String,
        /// Its price, for the line added.
        price: Decimal,
        /// Its VAT rate, for the line added.
        vat_rate: Decimal,
        /// How many units are free.
        qty: u32,
    },
    /// The sale's shipping charges free: every item line carrying one of the configured
    /// `shipping_tags` (the frontend adds the delivery charge as such an item).
    FreeShipping,
}

/// One discount code, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscountCode {
    /// The canonical code (upper case, no separators), what the cashier types.
    pub code: String,
    /// Line text.
    pub name: String,
    /// What it gives.
    pub reward: Reward,
    /// How often it may be used in all, on every till sharing the database.
    pub total_uses: Option<u32>,
    /// How often one customer may use it; such a code needs a customer on the sale.
    pub uses_per_customer: Option<u32>,
    /// First valid day.
    pub valid_from: Option<Date>,
    /// Last valid day.
    pub valid_to: Option<Date>,
    /// The least the goods must cost (gross, before this discount, without shipping) for it
    /// to apply.
    pub min_basket: Option<Decimal>,
    /// The tags that make an item line a shipping charge: those lines are not goods (no
    /// percentage or amount comes off them, they don't count for `min_basket`), and a
    /// free-shipping code takes them off.
    pub shipping_tags: Vec<String>,
}

/// Rounds an amount to the currency's `minor` units half away from zero, as the host rounds
/// money (a half cent goes to the customer's side of a discount: 10 % of 12.25 is 1.23).
fn money(amount: Decimal, minor: u32) -> Decimal {
    amount.round_dp_with_strategy(minor, RoundingStrategy::MidpointAwayFromZero)
}

fn date_key(key: &str, text: Option<String>) -> Result<Option<Date>, ConfigError> {
    text.map(|t| {
        Date::parse(&t)
            .ok_or_else(|| ConfigError::invalid(key, format!("{t:?} is no date YYYY-MM-DD")))
    })
    .transpose()
}

fn positive_money(key: &str, value: Decimal) -> Result<Decimal, ConfigError> {
    if value <= Decimal::ZERO || value.scale() > 2 || value > Decimal::from(100_000) {
        return Err(ConfigError::invalid(
            key,
            format!("{value}: an amount above 0, at most 100000, with at most two decimals"),
        ));
    }
    Ok(value)
}

impl DiscountCode {
    pub(crate) fn parse(
        at: &str,
        raw: RawDiscountCode,
        shipping_tags: &[String],
    ) -> Result<Self, ConfigError> {
        let key = |k: &str| format!("{at}.{k}");
        let code = crate::code::canonical(&raw.code)
            .filter(|c| (3..=32).contains(&c.len()))
            .ok_or_else(|| {
                ConfigError::invalid(
                    key("code"),
                    format!("{:?}: 3 to 32 letters or digits", raw.code),
                )
            })?;
        if raw.name.trim().is_empty() {
            return Err(ConfigError::invalid(key("name"), "is empty"));
        }
        let reward = match (raw.percent, raw.amount, raw.free_product, raw.free_shipping) {
            (None, None, None, true) => Reward::FreeShipping,
            (Some(p), None, None, false) => {
                if p <= Decimal::ZERO || p > Decimal::from(100) || p.scale() > 2 {
                    return Err(ConfigError::invalid(
                        key("percent"),
                        format!("{p}: above 0 and at most 100, at most two decimals"),
                    ));
                }
                Reward::Percent(p)
            }
            (None, Some(a), None, false) => Reward::Amount(positive_money(&key("amount"), a)?),
            (None, None, Some(f), false) => {
                let fkey = |k: &str| format!("{at}.free_product.{k}");
                if f.sku.trim().is_empty() {
                    return Err(ConfigError::invalid(fkey("sku"), "is empty"));
                }
                if f.name.trim().is_empty() {
                    return Err(ConfigError::invalid(fkey("name"), "is empty"));
                }
                if f.vat_rate < Decimal::ZERO || f.vat_rate >= Decimal::from(100) {
                    return Err(ConfigError::invalid(
                        fkey("vat_rate"),
                        format!("{}: a VAT rate in percent from 0 to under 100", f.vat_rate),
                    ));
                }
                if f.qty == 0 || f.qty > 100 {
                    return Err(ConfigError::invalid(fkey("qty"), "1 to 100"));
                }
                Reward::FreeProduct {
                    sku: f.sku.trim().to_string(),
                    name: f.name.trim().to_string(),
                    price: positive_money(&fkey("price"), f.price)?,
                    vat_rate: f.vat_rate,
                    qty: f.qty,
                }
            }
            _ => {
                return Err(ConfigError::invalid(
                    at,
                    "give exactly one of percent, amount, free_product or free_shipping = true",
                ));
            }
        };
        for (name, value) in [
            ("total_uses", raw.total_uses),
            ("uses_per_customer", raw.uses_per_customer),
        ] {
            if value == Some(0) {
                return Err(ConfigError::invalid(
                    key(name),
                    "must be at least 1 (leave it out for no limit)",
                ));
            }
        }
        let valid_from = date_key(&key("valid_from"), raw.valid_from)?;
        let valid_to = date_key(&key("valid_to"), raw.valid_to)?;
        if let (Some(from), Some(to)) = (valid_from, valid_to)
            && from > to
        {
            return Err(ConfigError::invalid(
                key("valid_to"),
                format!("{to} is before valid_from {from}"),
            ));
        }
        Ok(DiscountCode {
            code,
            name: raw.name.trim().to_string(),
            reward,
            total_uses: raw.total_uses,
            uses_per_customer: raw.uses_per_customer,
            valid_from,
            valid_to,
            min_basket: raw
                .min_basket
                .map(|m| positive_money(&key("min_basket"), m))
                .transpose()?,
            shipping_tags: shipping_tags.to_vec(),
        })
    }

    /// Whether `line` is a shipping charge (an item with one of the shipping tags).
    pub fn is_shipping(&self, line: &Line) -> bool {
        line.tags.iter().any(|t| self.shipping_tags.contains(t))
    }

    /// Why the code cannot be used on `today`, if it cannot.
    pub fn out_of_date(&self, today: Date) -> Option<String> {
        match (self.valid_from, self.valid_to) {
            (Some(from), _) if today < from => {
                Some(format!("Rabattcode {} gilt erst ab {from}", self.code))
            }
            (_, Some(to)) if today > to => {
                Some(format!("Rabattcode {} galt nur bis {to}", self.code))
            }
            _ => None,
        }
    }

    /// The ledger account counting this code's uses (negative: one down per use).
    pub fn uses_account(&self) -> String {
        format!("code:{}", self.code)
    }

    /// The ledger account counting one customer's uses of this code.
    pub fn customer_account(&self, customer: &str) -> String {
        format!("code:{}:customer:{customer}", self.code)
    }

    /// Refuses the code when it, or the customer's share of it, is used up (`LimitReached`),
    /// or when it is limited per customer and the sale has none (`CustomerRequired`).
    pub fn check_uses(&self, host: &Host, customer: Option<&str>) -> Result<(), PluginError> {
        let used = |b: LedgerBalance| -b.balance;
        if let Some(total) = self.total_uses
            && used(host.ledger_balance(&self.uses_account())?) >= Decimal::from(total)
        {
            return Err(PluginError::limit_reached(format!(
                "Rabattcode {} ist aufgebraucht ({total} Einlösungen)",
                self.code
            )));
        }
        if let Some(each) = self.uses_per_customer {
            let customer = customer.ok_or_else(|| {
                PluginError::customer_required(format!(
                    "Rabattcode {} gilt {each}× je Kunde: bitte Kunden zuordnen",
                    self.code
                ))
            })?;
            if used(host.ledger_balance(&self.customer_account(customer))?) >= Decimal::from(each) {
                return Err(PluginError::limit_reached(format!(
                    "Rabattcode {} wurde von diesem Kunden schon {each}× eingelöst",
                    self.code
                )));
            }
        }
        Ok(())
    }

    /// The postings of one use at checkout: one down on the code's counter and the
    /// customer's, each with its limit as the floor, so the checkout that would use it once
    /// too often fails with `InsufficientBalance` and writes nothing.
    pub fn use_postings(&self, customer: Option<&str>) -> Vec<Posting> {
        self.postings(customer, false)
    }

    /// The postings that give one use back, when the sale that used it is voided.
    pub fn give_back_postings(&self, customer: Option<&str>) -> Vec<Posting> {
        self.postings(customer, true)
    }

    fn postings(&self, customer: Option<&str>, back: bool) -> Vec<Posting> {
        let (delta, kind) = if back {
            (Decimal::ONE, "use_void")
        } else {
            (-Decimal::ONE, "use")
        };
        let posting = |account: String, floor: Option<u32>, customer: Option<&str>| Posting {
            account,
            amount: delta,
            unit: USES_UNIT.to_string(),
            kind: kind.to_string(),
            floor: floor.filter(|_| !back).map(|f| -Decimal::from(f)),
            customer: customer.map(str::to_string),
            ..Posting::default()
        };
        let contra = Posting {
            account: USES_CONTRA.to_string(),
            amount: -delta,
            unit: USES_UNIT.to_string(),
            kind: kind.to_string(),
            ..Posting::default()
        };
        let mut postings = vec![
            posting(self.uses_account(), self.total_uses, None),
            contra.clone(),
        ];
        if let (Some(each), Some(c)) = (self.uses_per_customer, customer) {
            postings.push(posting(self.customer_account(c), Some(each), Some(c)));
            postings.push(contra);
        }
        postings
    }

    /// The line of this code for the basket as it is, `None` when it gives nothing now
    /// (out of date, minimum basket not met, free product not in the basket). A free
    /// product comes off the line `chosen` by the cashier first, else the cheapest units.
    pub fn line(
        &self,
        sale: &Sale,
        today: Date,
        minor: u32,
        chosen: Option<&str>,
    ) -> Option<AutoLine> {
        if self.out_of_date(today).is_some() {
            return None;
        }
        let (shipping, goods): (Vec<&Line>, Vec<&Line>) = sale
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Item && l.amount > Decimal::ZERO)
            .partition(|l| self.is_shipping(l));
        let total: Decimal = goods.iter().map(|l| l.amount).sum();
        if total <= Decimal::ZERO || self.min_basket.is_some_and(|m| total < m) {
            return None;
        }
        let (amount, applies_to) = match &self.reward {
            Reward::Percent(p) => (
                money(total * p / Decimal::from(100), minor),
                goods.iter().map(|l| l.id.clone()).collect(),
            ),
            Reward::Amount(a) => (
                (*a).min(total),
                goods.iter().map(|l| l.id.clone()).collect(),
            ),
            Reward::FreeProduct { sku, qty, .. } => {
                let mut candidates: Vec<&&Line> = goods.iter().filter(|l| &l.sku == sku).collect();
                candidates.sort_by_key(|l| (Some(l.id.as_str()) != chosen, l.unit_price));
                let mut left = Decimal::from(*qty);
                let mut off = Decimal::ZERO;
                let mut ids = Vec::new();
                for line in candidates {
                    if left <= Decimal::ZERO {
                        break;
                    }
                    let take = line.qty.min(left);
                    left -= take;
                    off += (take * line.unit_price).min(line.amount);
                    ids.push(line.id.clone());
                }
                (money(off, minor), ids)
            }
            Reward::FreeShipping => (
                shipping.iter().map(|l| l.amount).sum::<Decimal>(),
                shipping.iter().map(|l| l.id.clone()).collect(),
            ),
        };
        if amount <= Decimal::ZERO {
            return None;
        }
        Some(AutoLine {
            kind: LineKind::Discount,
            name: self.name.clone(),
            amount: -amount,
            applies_to,
            reference: self.code.clone(),
            ref_kind: RefKind::Rule,
            data: match chosen {
                Some(line) => serde_json::json!({ "discount_code": self.code, "line": line }),
                None => serde_json::json!({ "discount_code": self.code }),
            },
            ..AutoLine::default()
        })
    }
}

/// The lines of a sale a free product of `sku` can come off, cheapest first.
pub fn free_product_lines<'a>(sale: &'a Sale, sku: &str) -> Vec<&'a Line> {
    let mut lines: Vec<&Line> = sale
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Item && l.sku == sku && l.amount > Decimal::ZERO)
        .collect();
    lines.sort_by_key(|l| l.unit_price);
    lines
}

/// The discount code of one of this plugin's lines, if it is one.
pub fn code_of_line(line: &Line) -> Option<String> {
    (line.plugin == crate::ID && line.kind == LineKind::Discount)
        .then(|| line.data.get("discount_code")?.as_str().map(str::to_string))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::schema::{LineKind, Sale};

    #[test]
    fn a_percentage_rounds_half_away_from_zero_as_the_host_does() {
        let code = DiscountCode {
            code: "TEN".into(),
            name: "10 %".into(),
            reward: Reward::Percent(Decimal::TEN),
            total_uses: None,
            uses_per_customer: None,
            valid_from: None,
            valid_to: None,
            min_basket: None,
            shipping_tags: Vec::new(),
        };
        let sale = Sale {
            lines: vec![Line {
                id: "L1".into(),
                kind: LineKind::Item,
                qty: Decimal::ONE,
                unit_price: Decimal::new(1225, 2),
                amount: Decimal::new(1225, 2),
                ..Line::default()
            }],
            ..Sale::default()
        };
        let today = Date::new(2026, 12, 2).expect("date");
        let line = code.line(&sale, today, 2, None).expect("a line");
        assert_eq!(
            line.amount,
            Decimal::new(-123, 2),
            "1.225 → 1.23, not the banker's 1.22"
        );
    }
}
