//! posd-promotions — automatic promotions: buy X get Y (one product, mix and match over a
//! group, a different product free), discounts on products or groups with a cap, and
//! basket thresholds with ladders, each with dates, weekdays and hours; where promotions
//! compete for the same goods, the combination best for the customer. See README.md.
//!
//! - [`config`]: `[plugin.promotions]`, checked at `create` (the key named when wrong).
//! - [`clock`]: the store's local time for validity, with EU summer time.
//! - [`engine`]: what each promotion gives and the best combination.
//!
//! The plugin answers `evaluate_basket` only: discount lines (price reductions, which the
//! host spreads over VAT) and nudges; it writes no money and keeps no state.

#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
pub mod engine;
pub mod error;

use posd_plugin_sdk::schema::{
    AutoLine, EvaluateBasketRequest, EvaluateBasketResponse, LineKind, Preview, PreviewKind,
    RefKind,
};
use posd_plugin_sdk::serde_json::Value;
use posd_plugin_sdk::{Decimal, EvaluateBasket, Host, Plugin, PluginError, posd_plugin};

use crate::clock::LocalTime;
use crate::config::{Config, Promotion};
use crate::engine::{Good, Missing, Outcome};

/// The plugin's id, and the `owner` of its lines.
pub const ID: &str = "promotions";

/// One instance per till: the checked configuration.
pub struct Promotions {
    config: Config,
}

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
        Promotions { config }
    }

    /// The promotions that hold at `now_ms` (the host's clock), by index.
    pub fn active(&self, now_ms: i64) -> Vec<usize> {
        let now = self.config.zone.local(now_ms);
        (0..self.config.promotions.len())
            .filter(|&i| holds(&self.config.promotions[i], now))
            .collect()
    }

    /// The answer to `evaluate_basket` at `now_ms`: one discount line per promotion and
    /// line it reduces (so VAT comes off exactly the line it belongs to), one per threshold
    /// spread over the goods it counts, and a nudge per promotion that is near.
    pub fn evaluate(&self, request: &EvaluateBasketRequest, now_ms: i64) -> EvaluateBasketResponse {
        let goods = Good::of(&request.sale.lines);
        let active = self.active(now_ms);
        let outcome = engine::best(&self.config, &goods, &active);
        let mut lines = self.lines(&goods, &outcome);
        lines.sort_by(|a, b| a.reference.cmp(&b.reference));
        let previews = active
            .iter()
            .filter_map(|&i| {
                let missing = engine::missing(&self.config, &goods, &outcome, i)?;
                Some(nudge(
                    &self.config.promotions[i],
                    missing,
                    &request.store.locale,
                    &request.sale.currency,
                ))
            })
            .collect();
        EvaluateBasketResponse { lines, previews }
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
        let items = outcome.items.iter().map(|r| {
            let promotion = &self.config.promotions[r.promotion];
            let id = &goods[r.good].line.id;
            line(
                promotion,
                r.amount,
                vec![id.clone()],
                format!("{}:{id}", promotion.id),
            )
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
        Ok(self.evaluate(&request, host.now()))
    }
}

posd_plugin!(Promotions);
