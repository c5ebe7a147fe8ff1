//! What the host shows a plugin of the world: the open sale, the store, a committed receipt.
//!
//! These come in requests only. Every field has a default so that a key the host leaves out
//! does not fail the call, and unknown keys are ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Decimal;
use crate::error::PluginError;
use crate::schema::open_string_enum;

/// A decimal quantity as a count of whole units, for rules that count things: stamps per
/// coffee, one free item per three. `qty.whole_units()?` is `3` for `"3"` and `"3.000"`.
///
/// A fraction is refused with `InvalidArgument`, never rounded: `0.350` kg of coffee beans
/// is not "0 coffees" and not "1 coffee", and a rule that silently floored it would give or
/// withhold a stamp the customer can see on the receipt. Decide per rule what a weighed line
/// counts as, and say so: skip lines that are not counted in units
/// (`qty.fract().is_zero()`), or floor on purpose with `qty.floor().whole_units()`.
/// Negative quantities are refused too: a count is never below zero.
pub trait WholeUnits {
    /// The number of whole units, or `InvalidArgument` for a fraction or a negative number.
    fn whole_units(&self) -> Result<u64, PluginError>;
}

impl WholeUnits for Decimal {
    fn whole_units(&self) -> Result<u64, PluginError> {
        if !self.fract().is_zero() {
            return Err(PluginError::invalid_argument(format!(
                "quantity {self} is not a whole number of units"
            )));
        }
        if self.is_sign_negative() && !self.is_zero() {
            return Err(PluginError::invalid_argument(format!(
                "quantity {self} is negative, not a count of units"
            )));
        }
        u64::try_from(self.trunc()).map_err(|e| {
            PluginError::invalid_argument(format!("quantity {self} is too large to count: {e}"))
        })
    }
}

open_string_enum! {
    /// What a sale line is. The host may add kinds in a later minor; they arrive as `Other`.
    pub enum LineKind {
        /// Goods or a service.
        #[default]
        Item = "item",
        /// A gift voucher sold (no VAT: it is a payment in advance).
        VoucherSale = "voucher_sale",
        /// An eWallet or voucher topped up (no VAT).
        VoucherTopup = "voucher_topup",
        /// A price reduction (reduces VAT).
        Discount = "discount",
        /// A product given away.
        FreeProduct = "free_product",
        /// Points spent as money.
        PointsRedemption = "points_redemption",
        /// Cash rounding.
        Rounding = "rounding",
    }
}

/// The till and store a call happens at; plugins use it for per-store rules and texts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Store {
    /// Store id, e.g. `"AT-0042"`.
    pub id: String,
    /// Register (till) id within the store.
    pub register: String,
    /// ISO 4217 currency of the store, e.g. `"EUR"`, `"CZK"`.
    pub currency: String,
    /// BCP 47 locale for texts, e.g. `"de-AT"`.
    pub locale: String,
}

/// One line of a sale or receipt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Line {
    /// Line id, unique within the sale; used in `remove_lines` and `applies_to`.
    pub id: String,
    /// What the line is.
    pub kind: LineKind,
    /// Article number; empty for lines without one.
    pub sku: String,
    /// Text on the receipt.
    pub name: String,
    /// Quantity, e.g. `"1"` or `"0.350"` (kg).
    pub qty: Decimal,
    /// Price of one unit, gross.
    pub unit_price: Decimal,
    /// Line total, gross; negative for discounts.
    pub amount: Decimal,
    /// VAT rate in percent, e.g. `"20"`; `"0"` for vouchers.
    pub tax_rate: Decimal,
    /// Free tags (product groups, campaign flags) that rules match on.
    pub tags: Vec<String>,
    /// The plugin that owns the line; `""` for the host's own lines.
    pub plugin: String,
    /// The code behind the line, unmasked for plugins (masked wherever shown or printed).
    #[serde(rename = "ref")]
    pub reference: String,
    /// For a reduction (discount, free product, points redemption): the ids of the goods it
    /// reduces; empty for every good of the sale, and for goods. Sent since 1.3 (JSON).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub applies_to: Vec<String>,
    /// The owning plugin's private data, only on its own lines (null otherwise).
    pub data: Value,
}

impl Line {
    /// [`WholeUnits::whole_units`] of the line's quantity, the error naming the line: how
    /// many of the article the line holds, for rules that count items.
    pub fn whole_units(&self) -> Result<u64, PluginError> {
        self.qty.whole_units().map_err(|e| {
            PluginError::invalid_argument(format!(
                "line {} ({}): {}",
                self.id, self.name, e.message
            ))
        })
    }
}

/// One payment of a sale or receipt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tender {
    /// Tender id, unique within the sale; used in `remove_tenders`.
    pub id: String,
    /// `cash`, `card`, `voucher`, `credit` or a method a plugin declares.
    pub method: String,
    /// Amount paid with it.
    pub amount: Decimal,
    /// The plugin that owns the tender; `""` for the host's own.
    pub plugin: String,
    /// The code behind the tender, unmasked for plugins.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The owning plugin's private data, only on its own tenders.
    pub data: Value,
}

/// A sale's or receipt's totals, all gross in the sale's currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    /// Sum of the lines before reductions: goods and vouchers sold (not cash rounding).
    pub subtotal: Decimal,
    /// Sum of the reductions: discounts, points redeemed, free products (negative or zero).
    pub discount: Decimal,
    /// VAT included in the total.
    pub tax: Decimal,
    /// What the customer owes.
    pub total: Decimal,
    /// What the tenders pay, change taken off.
    pub paid: Decimal,
    /// Still to pay (zero once paid).
    pub due: Decimal,
    /// Change to give back.
    pub change: Decimal,
}

/// The open sale as a plugin sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sale {
    /// Sale id.
    pub id: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// The customer on the sale, if any.
    pub customer: Option<String>,
    /// The customer's groups (staff, VIP, …) for group prices and rules, from the store's
    /// customer-groups file (`[customers] groups_file`); empty without one.
    pub customer_groups: Vec<String>,
    /// Lines in the order they were added.
    pub lines: Vec<Line>,
    /// Tenders in the order they were added.
    pub tenders: Vec<Tender>,
    /// Totals as the host computed them.
    pub totals: Totals,
}

impl Sale {
    /// The lines a plugin owns: the ones it added, with its private `data`.
    pub fn lines_of<'a>(&'a self, plugin_id: &'a str) -> impl Iterator<Item = &'a Line> + 'a {
        self.lines
            .iter()
            .filter(move |line| line.plugin == plugin_id)
    }

    /// The tenders a plugin owns.
    pub fn tenders_of<'a>(&'a self, plugin_id: &'a str) -> impl Iterator<Item = &'a Tender> + 'a {
        self.tenders
            .iter()
            .filter(move |tender| tender.plugin == plugin_id)
    }
}

/// A committed receipt from the journal, for void and return.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Receipt {
    /// Receipt id.
    pub id: String,
    /// When it was committed, RFC 3339.
    pub time: String,
    /// `sale`, `void` or `return`.
    pub kind: String,
    /// Its lines.
    pub lines: Vec<Line>,
    /// Its tenders.
    pub tenders: Vec<Tender>,
    /// Its totals.
    pub totals: Totals,
    /// The customer, if any.
    pub customer: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qty(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn whole_units_count_whole_quantities_and_refuse_fractions() {
        assert_eq!(qty("3").whole_units(), Ok(3));
        assert_eq!(qty("3.000").whole_units(), Ok(3));
        assert_eq!(qty("0").whole_units(), Ok(0));
        let weighed = qty("0.350").whole_units().unwrap_err();
        assert_eq!(weighed.error, crate::ErrorName::InvalidArgument);
        assert_eq!(
            weighed.message,
            "quantity 0.350 is not a whole number of units"
        );
        assert!(qty("-2").whole_units().is_err(), "a count is not negative");
        assert_eq!(
            qty("0.350").floor().whole_units(),
            Ok(0),
            "floor on purpose"
        );
    }

    #[test]
    fn a_lines_whole_units_error_names_the_line() {
        let line = Line {
            id: "L3".into(),
            name: "Bohnen".into(),
            qty: qty("1.5"),
            ..Line::default()
        };
        let error = line.whole_units().unwrap_err();
        assert_eq!(
            error.message,
            "line L3 (Bohnen): quantity 1.5 is not a whole number of units"
        );
    }
}
