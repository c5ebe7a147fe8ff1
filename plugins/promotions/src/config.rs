//! `[plugin.promotions]`: the promotions a till applies on its own, read and checked once at
//! `create`. Anything wrong is refused with the key that is wrong, so the plugin fails to
//! start with a reason `posctl plugins` shows, instead of pricing a sale wrongly later.

use posd_plugin_sdk::Decimal;
use serde::Deserialize;

use crate::clock::{Hours, Weekdays, Zone};
use crate::error::ConfigError;

/// The configuration section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    timezone: Option<String>,
    #[serde(default)]
    promotions: Vec<RawPromotion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPromotion {
    id: String,
    name: String,
    kind: String,
    #[serde(default)]
    skus: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    buy: Option<u32>,
    get: Option<u32>,
    percent: Option<Decimal>,
    amount: Option<Decimal>,
    #[serde(default)]
    reward_skus: Vec<String>,
    #[serde(default)]
    reward_tags: Vec<String>,
    cap: Option<Decimal>,
    cap_basis: Option<String>,
    #[serde(default)]
    tiers: Vec<RawTier>,
    min_quantity: Option<u32>,
    basis: Option<String>,
    after_discounts: Option<bool>,
    per: Option<String>,
    from: Option<String>,
    until: Option<String>,
    #[serde(default)]
    weekdays: Vec<String>,
    hours: Option<String>,
    #[serde(default)]
    customer_groups: Vec<String>,
    total_uses: Option<u32>,
    uses_per_customer: Option<u32>,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    stackable: bool,
    #[serde(default)]
    exclusive_with: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    from: Decimal,
    percent: Option<Decimal>,
    amount: Option<Decimal>,
}

/// Which lines a promotion counts: articles by sku, lines by tag; neither given: every good.
/// The engine finds them through an index by sku and tag (`engine::Pricing`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Article numbers.
    pub skus: Vec<String>,
    /// Line tags (product groups, campaign flags).
    pub tags: Vec<String>,
}

/// What a rewarded unit, or a selected line, gets off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reward {
    /// This percentage of the price off (100: free).
    Percent(Decimal),
    /// This amount off, never more than the price.
    Amount(Decimal),
}

/// Whether an amount is counted with VAT or without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// With VAT, as the customer pays.
    Gross,
    /// Without VAT.
    Net,
}

/// How often a threshold's fixed amount is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Once per sale.
    Sale,
    /// Once per full multiple of the tier's `from` ("5 € off per 50 €").
    Set,
}

/// One step of a threshold's ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// The basket value from which it applies (inclusive).
    pub from: Decimal,
    /// What it gives.
    pub reward: Reward,
}

/// What a promotion does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Of every `buy + get` selected units, the `get` cheapest get `reward`; with a reward
    /// selector, every `buy` selected units earn `get` units of the reward selector (a
    /// different product), at most as many as the basket holds.
    BuyGet {
        /// Units to buy per set.
        buy: u32,
        /// Units rewarded per set.
        get: u32,
        /// What a rewarded unit gets off.
        reward: Reward,
        /// Where the rewarded units come from, if not from the set itself.
        reward_from: Option<Selector>,
    },
    /// Every selected unit gets `reward` off, all together at most `cap`.
    Discount {
        /// What each selected unit gets off.
        reward: Reward,
        /// The most the promotion gives on a sale, and whether that is with or without VAT.
        cap: Option<(Decimal, Basis)>,
    },
    /// From a basket value on, the highest tier reached comes off the selected goods.
    Threshold {
        /// The ladder, ascending by `from`.
        tiers: Vec<Tier>,
        /// Selected units the basket must hold as well.
        min_quantity: u32,
        /// Whether the value is counted with VAT or without.
        basis: Basis,
        /// Whether the value counts what is left after item promotions (else before).
        after_discounts: bool,
        /// How often a fixed amount is given.
        per: Per,
    },
}

/// When a promotion applies, in the store's time zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validity {
    /// First day (`YYYY-MM-DD`), inclusive.
    pub from: Option<(i32, u32, u32)>,
    /// Last day, inclusive.
    pub until: Option<(i32, u32, u32)>,
    /// Days of the week; empty: every day.
    pub weekdays: Weekdays,
    /// Hours of the day; none: all day.
    pub hours: Option<Hours>,
    /// Customer groups (staff, VIP, …) of which the sale's customer must be in one; empty:
    /// every sale, with a customer or without.
    pub customer_groups: Vec<String>,
}

/// One promotion, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    /// Id: the automatic line's `ref`, shown as it is.
    pub id: String,
    /// Text on the receipt.
    pub name: String,
    /// The lines it counts.
    pub select: Selector,
    /// What it does.
    pub rule: Rule,
    /// When.
    pub validity: Validity,
    /// Higher first where the best combination is not searched exhaustively, and between
    /// combinations worth the same.
    pub priority: i32,
    /// Whether it applies on top of other item promotions on the same units.
    pub stackable: bool,
    /// Promotions it never applies together with (either side may say so).
    pub exclusive_with: Vec<String>,
    /// How often it may be used.
    pub limits: Limits,
}

/// How often a promotion may be used: a use is a sale checked out with one of its lines.
/// Counted in the host's ledger in the checkout's transaction, with each limit as a floor,
/// so no till and no customer gets a use past it (see the README's "Use limits").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Uses in all, on every till of the database.
    pub total: Option<u32>,
    /// Uses per customer; the promotion then holds only on sales with a customer.
    pub per_customer: Option<u32>,
}

impl Limits {
    /// Whether there is any limit to count.
    pub fn any(&self) -> bool {
        self.total.is_some() || self.per_customer.is_some()
    }
}

impl Promotion {
    /// Whether it counts units (buy X get Y, item discounts) rather than the basket value.
    pub fn is_item_level(&self) -> bool {
        !matches!(self.rule, Rule::Threshold { .. })
    }
}

/// The configuration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The store's time zone, for validity.
    pub zone: Zone,
    /// The promotions, in the order configured.
    pub promotions: Vec<Promotion>,
    /// The promotions by what they select, for the engine.
    pub index: crate::engine::Index,
}

fn hundred() -> Decimal {
    Decimal::ONE_HUNDRED
}

/// A percentage in (0, 100] or a positive amount, exactly one of them.
fn reward(
    at: &str,
    percent: Option<Decimal>,
    amount: Option<Decimal>,
) -> Result<Reward, ConfigError> {
    match (percent, amount) {
        (Some(p), None) if p > Decimal::ZERO && p <= hundred() => Ok(Reward::Percent(p)),
        (Some(p), None) => Err(ConfigError::invalid(
            format!("{at}.percent"),
            format!("must be more than 0 and at most 100, is {p}"),
        )),
        (None, Some(a)) if a > Decimal::ZERO => Ok(Reward::Amount(a)),
        (None, Some(a)) => Err(ConfigError::invalid(
            format!("{at}.amount"),
            format!("must be more than 0, is {a}"),
        )),
        (Some(_), Some(_)) => Err(ConfigError::invalid(at, "give percent or amount, not both")),
        (None, None) => Err(ConfigError::invalid(
            at,
            "give percent (\"100\" for free) or amount",
        )),
    }
}

fn basis(at: &str, value: Option<&str>) -> Result<Basis, ConfigError> {
    match value.unwrap_or("gross") {
        "gross" => Ok(Basis::Gross),
        "net" => Ok(Basis::Net),
        other => Err(ConfigError::invalid(
            at,
            format!("{other:?} is neither \"gross\" (with VAT) nor \"net\" (without)"),
        )),
    }
}

fn day(at: &str, text: Option<&str>) -> Result<Option<(i32, u32, u32)>, ConfigError> {
    text.map(|t| {
        crate::clock::parse_date(t)
            .ok_or_else(|| ConfigError::invalid(at, format!("{t:?} is not a day as YYYY-MM-DD")))
    })
    .transpose()
}

/// A key that belongs to some kinds only: its name, those kinds, and whether it is given.
type KindKey = (
    &'static str,
    &'static [&'static str],
    fn(&RawPromotion) -> bool,
);

/// The kind-specific keys.
const KIND_KEYS: [KindKey; 13] = [
    ("buy", &["buy_get"], |r| r.buy.is_some()),
    ("get", &["buy_get"], |r| r.get.is_some()),
    ("reward_skus", &["buy_get"], |r| !r.reward_skus.is_empty()),
    ("reward_tags", &["buy_get"], |r| !r.reward_tags.is_empty()),
    ("percent", &["buy_get", "discount"], |r| r.percent.is_some()),
    ("amount", &["buy_get", "discount"], |r| r.amount.is_some()),
    ("cap", &["discount"], |r| r.cap.is_some()),
    ("cap_basis", &["discount"], |r| r.cap_basis.is_some()),
    ("tiers", &["threshold"], |r| !r.tiers.is_empty()),
    ("min_quantity", &["threshold"], |r| r.min_quantity.is_some()),
    ("basis", &["threshold"], |r| r.basis.is_some()),
    ("after_discounts", &["threshold"], |r| {
        r.after_discounts.is_some()
    }),
    ("per", &["threshold"], |r| r.per.is_some()),
];

impl RawPromotion {
    /// Refuses a key that belongs to other kinds than this one's, given anyway: a typo or a
    /// misunderstanding a technician must hear of.
    fn refuse_foreign(&self, at: &str) -> Result<(), ConfigError> {
        let kind = self.kind.as_str();
        match KIND_KEYS
            .iter()
            .find(|(_, kinds, given)| !kinds.contains(&kind) && given(self))
        {
            Some((key, _, _)) => Err(ConfigError::invalid(
                format!("{at}.{key}"),
                format!("is not a key of kind {kind:?}"),
            )),
            None => Ok(()),
        }
    }
}

impl Promotion {
    fn parse(at: &str, raw: RawPromotion) -> Result<Self, ConfigError> {
        let id = raw.id.trim().to_string();
        if id.is_empty() {
            return Err(ConfigError::invalid(format!("{at}.id"), "is empty"));
        }
        if id.contains('@') {
            return Err(ConfigError::invalid(
                format!("{at}.id"),
                format!(
                    "{id:?} holds '@', which the lines' refs (`<id>@<VAT rate>`) keep for themselves"
                ),
            ));
        }
        let name = raw.name.trim().to_string();
        if name.is_empty() {
            return Err(ConfigError::invalid(
                format!("{at}.name"),
                "is empty: it is the text on the receipt",
            ));
        }
        if ["buy_get", "discount", "threshold"].contains(&raw.kind.as_str()) {
            raw.refuse_foreign(at)?;
        }
        let select = Selector {
            skus: raw.skus,
            tags: raw.tags,
        };
        let rule = match raw.kind.as_str() {
            "buy_get" => {
                let buy = raw.buy.filter(|&b| b > 0).ok_or_else(|| {
                    ConfigError::invalid(format!("{at}.buy"), "is required and at least 1")
                })?;
                let get = raw.get.filter(|&g| g > 0).ok_or_else(|| {
                    ConfigError::invalid(format!("{at}.get"), "is required and at least 1")
                })?;
                let reward_from = (!raw.reward_skus.is_empty() || !raw.reward_tags.is_empty())
                    .then_some(Selector {
                        skus: raw.reward_skus,
                        tags: raw.reward_tags,
                    });
                Rule::BuyGet {
                    buy,
                    get,
                    reward: reward(at, raw.percent, raw.amount)?,
                    reward_from,
                }
            }
            "discount" => {
                let cap = match raw.cap {
                    Some(c) if c > Decimal::ZERO => Some((
                        c,
                        basis(&format!("{at}.cap_basis"), raw.cap_basis.as_deref())?,
                    )),
                    Some(c) => {
                        return Err(ConfigError::invalid(
                            format!("{at}.cap"),
                            format!("must be more than 0, is {c}"),
                        ));
                    }
                    None if raw.cap_basis.is_some() => {
                        return Err(ConfigError::invalid(
                            format!("{at}.cap_basis"),
                            "is given without a cap",
                        ));
                    }
                    None => None,
                };
                Rule::Discount {
                    reward: reward(at, raw.percent, raw.amount)?,
                    cap,
                }
            }
            "threshold" => {
                if raw.tiers.is_empty() {
                    return Err(ConfigError::invalid(
                        format!("{at}.tiers"),
                        "is required: at least one { from = \"100.00\", percent = \"10\" }",
                    ));
                }
                let mut tiers: Vec<Tier> = Vec::new();
                for (i, tier) in raw.tiers.into_iter().enumerate() {
                    let here = format!("{at}.tiers[{i}]");
                    if tier.from < Decimal::ZERO {
                        return Err(ConfigError::invalid(
                            format!("{here}.from"),
                            format!("must not be negative, is {}", tier.from),
                        ));
                    }
                    if let Some(before) = tiers.last()
                        && tier.from <= before.from
                    {
                        return Err(ConfigError::invalid(
                            format!("{here}.from"),
                            format!(
                                "must be more than the tier before it ({}), is {}",
                                before.from, tier.from
                            ),
                        ));
                    }
                    tiers.push(Tier {
                        from: tier.from,
                        reward: reward(&here, tier.percent, tier.amount)?,
                    });
                }
                let per = match raw.per.as_deref().unwrap_or("sale") {
                    "sale" => Per::Sale,
                    "set" => Per::Set,
                    other => {
                        return Err(ConfigError::invalid(
                            format!("{at}.per"),
                            format!("{other:?} is neither \"sale\" nor \"set\""),
                        ));
                    }
                };
                if per == Per::Set
                    && let Some((i, _)) = tiers
                        .iter()
                        .enumerate()
                        .find(|(_, t)| matches!(t.reward, Reward::Percent(_)) || t.from.is_zero())
                {
                    return Err(ConfigError::invalid(
                        format!("{at}.tiers[{i}]"),
                        "per = \"set\" gives an amount per full `from`: it needs an amount and a `from` above 0",
                    ));
                }
                Rule::Threshold {
                    tiers,
                    min_quantity: raw.min_quantity.unwrap_or(0),
                    basis: basis(&format!("{at}.basis"), raw.basis.as_deref())?,
                    after_discounts: raw.after_discounts.unwrap_or(true),
                    per,
                }
            }
            other => {
                return Err(ConfigError::invalid(
                    format!("{at}.kind"),
                    format!("{other:?} is none of \"buy_get\", \"discount\", \"threshold\""),
                ));
            }
        };
        let validity = Validity {
            from: day(&format!("{at}.from"), raw.from.as_deref())?,
            until: day(&format!("{at}.until"), raw.until.as_deref())?,
            weekdays: Weekdays::parse(&raw.weekdays)
                .map_err(|reason| ConfigError::invalid(format!("{at}.weekdays"), reason))?,
            hours: raw
                .hours
                .as_deref()
                .map(Hours::parse)
                .transpose()
                .map_err(|reason| ConfigError::invalid(format!("{at}.hours"), reason))?,
            customer_groups: raw
                .customer_groups
                .iter()
                .map(|g| g.trim().to_string())
                .collect(),
        };
        if let Some(i) = validity.customer_groups.iter().position(String::is_empty) {
            return Err(ConfigError::invalid(
                format!("{at}.customer_groups[{i}]"),
                "is empty",
            ));
        }
        if let (Some(from), Some(until)) = (validity.from, validity.until)
            && until < from
        {
            return Err(ConfigError::invalid(
                format!("{at}.until"),
                "is before `from`",
            ));
        }
        Ok(Promotion {
            id,
            name,
            select,
            rule,
            validity,
            priority: raw.priority,
            stackable: raw.stackable,
            exclusive_with: raw.exclusive_with,
            limits: Limits {
                total: at_least_one(&format!("{at}.total_uses"), raw.total_uses)?,
                per_customer: at_least_one(
                    &format!("{at}.uses_per_customer"),
                    raw.uses_per_customer,
                )?,
            },
        })
    }
}

/// A count that must be at least one when given.
fn at_least_one(key: &str, value: Option<u32>) -> Result<Option<u32>, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::invalid(
            key.to_string(),
            "must be at least 1 (leave it out for no limit)",
        )),
        other => Ok(other),
    }
}

impl Config {
    /// Reads and checks the section; the error names the key.
    pub fn parse(value: serde_json::Value) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." {
                "configuration".to_string()
            } else {
                path
            };
            ConfigError::invalid(key, e.into_inner().to_string())
        })?;
        let zone = Zone::parse(raw.timezone.as_deref().unwrap_or("Europe/Vienna"))
            .map_err(|reason| ConfigError::invalid("timezone", reason))?;
        let mut promotions: Vec<Promotion> = Vec::new();
        for (i, raw) in raw.promotions.into_iter().enumerate() {
            let at = format!("promotions[{i}]");
            let promotion = Promotion::parse(&at, raw)?;
            if promotions.iter().any(|p| p.id == promotion.id) {
                return Err(ConfigError::invalid(
                    format!("{at}.id"),
                    format!("{:?} is used by an earlier promotion", promotion.id),
                ));
            }
            promotions.push(promotion);
        }
        for (i, p) in promotions.iter().enumerate() {
            if let Some(unknown) = p
                .exclusive_with
                .iter()
                .find(|x| !promotions.iter().any(|q| &q.id == *x))
            {
                return Err(ConfigError::invalid(
                    format!("promotions[{i}].exclusive_with"),
                    format!("{unknown:?} is no promotion's id"),
                ));
            }
        }
        let index = crate::engine::Index::new(&promotions);
        Ok(Config {
            zone,
            promotions,
            index,
        })
    }

    /// Whether `a` and `b` never apply together.
    pub fn exclusive(&self, a: &Promotion, b: &Promotion) -> bool {
        a.exclusive_with.contains(&b.id) || b.exclusive_with.contains(&a.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(value: serde_json::Value) -> String {
        match Config::parse(value) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted: {c:?}"),
        }
    }

    #[test]
    fn a_full_configuration_is_read() {
        let config = Config::parse(json!({
            "timezone": "Europe/Berlin",
            "promotions": [
                {"id": "EISTEE", "name": "Eistee 3 für 2", "kind": "buy_get",
                 "skus": ["9001"], "buy": 2, "get": 1, "percent": "100",
                 "from": "2026-12-01", "until": "2026-12-31", "weekdays": ["mo", "sa"],
                 "hours": "08:00-12:30"},
                {"id": "KAFFEE", "name": "Kaffee -20 %", "kind": "discount",
                 "tags": ["group:kaffee"], "percent": "20", "cap": "5.00", "cap_basis": "net",
                 "exclusive_with": ["EISTEE"]},
                {"id": "KORB", "name": "Ab 100 € -10 %", "kind": "threshold",
                 "tiers": [{"from": "100.00", "percent": "10"}, {"from": "200.00", "percent": "15"}],
                 "min_quantity": 2, "basis": "net", "after_discounts": false, "priority": 5},
            ]
        }))
        .expect("valid");
        assert_eq!(config.promotions.len(), 3);
        assert!(config.exclusive(&config.promotions[0], &config.promotions[1]));
        assert!(!config.exclusive(&config.promotions[0], &config.promotions[2]));
        assert!(matches!(
            config.promotions[1].rule,
            Rule::Discount {
                cap: Some((_, Basis::Net)),
                ..
            }
        ));
    }

    #[test]
    fn mistakes_are_refused_naming_the_key() {
        let one = |p: serde_json::Value| refused(json!({ "promotions": [p] }));
        let base = json!({"id": "P", "name": "P", "kind": "buy_get", "buy": 2, "get": 1, "percent": "100"});
        let with = |k: &str, v: serde_json::Value| {
            let mut p = base.clone();
            p[k] = v;
            one(p)
        };
        for (message, key) in [
            (with("kind", json!("bogo")), "promotions[0].kind"),
            (with("buy", json!(0)), "promotions[0].buy"),
            (with("percent", json!("120")), "promotions[0].percent"),
            (
                with("amount", json!("1.00")),
                "promotions[0]: give percent or amount",
            ),
            (with("cap", json!("5")), "promotions[0].cap: is not a key"),
            (
                with("cap_basis", json!("net")),
                "promotions[0].cap_basis: is not a key",
            ),
            (with("from", json!("2026-13-01")), "promotions[0].from"),
            (with("weekdays", json!(["mon"])), "promotions[0].weekdays"),
            (with("hours", json!("8-12")), "promotions[0].hours"),
            (with("colour", json!("red")), "promotions[0]"),
            (
                with("exclusive_with", json!(["NOPE"])),
                "promotions[0].exclusive_with",
            ),
            (with("buy", json!("zwei")), "promotions[0].buy"),
        ] {
            assert!(message.contains(key), "{key}: {message}");
            assert!(message.starts_with("[plugin.promotions] "), "{message}");
        }
        let ladder = refused(json!({"promotions": [
            {"id": "T", "name": "T", "kind": "threshold",
             "tiers": [{"from": "200", "percent": "15"}, {"from": "100", "percent": "10"}]}]}));
        assert!(ladder.contains("promotions[0].tiers[1].from"), "{ladder}");
        let twice = refused(json!({"promotions": [base.clone(), base.clone()]}));
        assert!(twice.contains("promotions[1].id"), "{twice}");
        let mut never = base.clone();
        never["total_uses"] = json!(0);
        let never = refused(json!({"promotions": [never]}));
        assert!(never.contains("promotions[0].total_uses"), "{never}");
        let mut at_sign = base.clone();
        at_sign["id"] = json!("A@B");
        let at_sign = refused(json!({"promotions": [at_sign]}));
        assert!(at_sign.contains("promotions[0].id"), "{at_sign}");
        let zone = refused(json!({"timezone": "Mars/Olympus"}));
        assert!(zone.contains("timezone"), "{zone}");
    }
}
