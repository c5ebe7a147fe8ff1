//! `[plugin.points]`: the programmes, their accrual rules, redemption coefficients and
//! rewards, read and checked once at `create`. Anything wrong is refused naming the key, so
//! the plugin fails to load with a reason `posctl plugins` shows and the till sells on.

use std::collections::BTreeMap;

use posd_plugin_sdk::Decimal;
use serde::Deserialize;

use crate::error::ConfigError;

/// The section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    programmes: Vec<RawProgramme>,
    #[serde(default = "default_history")]
    history_limit: u32,
}

fn default_history() -> u32 {
    10
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgramme {
    id: String,
    name: String,
    #[serde(default = "default_kind")]
    kind: String,
    unit: Option<String>,
    decimals: Option<u32>,
    valid_months: Option<u32>,
    point_value: Option<Decimal>,
    #[serde(default)]
    group_point_values: BTreeMap<String, Decimal>,
    #[serde(default = "yes")]
    redeem: bool,
    #[serde(default = "yes")]
    print_balance: bool,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    rewards: Vec<RawReward>,
}

fn default_kind() -> String {
    "points".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    points: Decimal,
    per_amount: Option<Decimal>,
    #[serde(default)]
    per_item: bool,
    #[serde(default)]
    tags: Vec<String>,
    min_price: Option<Decimal>,
    max_price: Option<Decimal>,
    #[serde(default)]
    customer_groups: Vec<String>,
    turnover_months: Option<u32>,
    min_turnover: Option<Decimal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReward {
    id: String,
    name: String,
    points: Decimal,
    amount: Decimal,
}

/// What a programme's balance is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Points ("body"): worth `point_value` each when redeemed.
    Points,
    /// Virtual money ("virtuální peníze"): the balance is in a currency, one unit worth one.
    Money,
}

/// How a rule measures what a line earns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// `points` for every `per_amount` of the line's base (goods after reductions), pro rata.
    PerAmount(Decimal),
    /// `points` for every whole unit of the line (a weighed line counts its whole units).
    PerItem,
}

/// The customer's turnover a rule asks for: at least `min` over the last `months` months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnoverCondition {
    /// Months looked back (`ledger.turnover`).
    pub months: u32,
    /// The least turnover, in the store's currency.
    pub min: Decimal,
}

/// One accrual rule; every rule whose conditions hold adds its points (rules combine).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Points per measure.
    pub points: Decimal,
    /// What the points are counted per.
    pub measure: Measure,
    /// The line must carry one of these tags (product groups); empty: any line.
    pub tags: Vec<String>,
    /// Unit price band, lower bound inclusive.
    pub min_price: Option<Decimal>,
    /// Unit price band, upper bound exclusive.
    pub max_price: Option<Decimal>,
    /// The customer must be in one of these groups; empty: any customer.
    pub customer_groups: Vec<String>,
    /// The customer's turnover condition, if any.
    pub turnover: Option<TurnoverCondition>,
}

/// A reward taken in whole blocks: `points` for `amount` off, as often as balance and basket allow.
#[derive(Debug, Clone, PartialEq)]
pub struct Reward {
    /// Unique within the programme; the reward's id is `<programme>:<id>`.
    pub id: String,
    /// Shown to the cashier and printed on the line.
    pub name: String,
    /// Points one block costs.
    pub points: Decimal,
    /// What one block takes off, in the store's currency.
    pub amount: Decimal,
}

/// One programme, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Programme {
    /// `a-z 0-9 _ -`, part of account names and action ids.
    pub id: String,
    /// Printed and shown.
    pub name: String,
    /// Points or money.
    pub kind: Kind,
    /// The ledger unit: `points` or a currency code.
    pub unit: String,
    /// Decimals a balance is kept in; what a sale earns is floored to them.
    pub decimals: u32,
    /// Months points stay valid after the day they were earned; `None`: they never expire.
    pub valid_months: Option<u32>,
    /// Currency per point when redeemed (the coefficient).
    pub point_value: Decimal,
    /// Coefficients for customer groups (the highest of the customer's groups counts).
    pub group_point_values: BTreeMap<String, Decimal>,
    /// Whether the free redemption action is offered.
    pub redeem: bool,
    /// Whether receipts print the balance.
    pub print_balance: bool,
    /// Accrual rules.
    pub rules: Vec<Rule>,
    /// Rewards in whole blocks.
    pub rewards: Vec<Reward>,
}

impl Programme {
    /// The coefficient for a customer in `groups`: the highest group value, else the programme's.
    pub fn coefficient(&self, groups: &[String]) -> Decimal {
        groups
            .iter()
            .filter_map(|g| self.group_point_values.get(g))
            .copied()
            .max()
            .unwrap_or(self.point_value)
    }

    /// `value` floored to the programme's decimals: how every sale's points are rounded.
    pub fn floor(&self, value: Decimal) -> Decimal {
        value.round_dp_with_strategy(self.decimals, posd_plugin_sdk::RoundingStrategy::ToZero)
    }

    /// Whether any rule needs the customer's turnover.
    pub fn needs_turnover(&self) -> bool {
        self.rules.iter().any(|r| r.turnover.is_some())
    }

    /// The reward with this id.
    pub fn reward(&self, id: &str) -> Option<&Reward> {
        self.rewards.iter().find(|r| r.id == id)
    }
}

/// The checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// In configuration order.
    pub programmes: Vec<Programme>,
    /// Postings `posctl points CUSTOMER` lists per programme.
    pub history_limit: u32,
}

impl Config {
    /// Reads and checks the section; the error names the key.
    pub fn parse(value: serde_json::Value) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ConfigError::invalid(path, e.inner().to_string())
        })?;
        if raw.programmes.is_empty() {
            return Err(ConfigError::invalid(
                "programmes",
                "at least one programme is needed",
            ));
        }
        if !(1..=100).contains(&raw.history_limit) {
            return Err(ConfigError::invalid("history_limit", "must be 1 to 100"));
        }
        let mut programmes: Vec<Programme> = Vec::new();
        for (i, p) in raw.programmes.into_iter().enumerate() {
            let programme = check_programme(&format!("programmes[{i}]"), p)?;
            if programmes.iter().any(|q| q.id == programme.id) {
                return Err(ConfigError::invalid(
                    format!("programmes[{i}].id"),
                    format!("{:?} is used twice", programme.id),
                ));
            }
            programmes.push(programme);
        }
        Ok(Config {
            programmes,
            history_limit: raw.history_limit,
        })
    }

    /// The programme with this id.
    pub fn programme(&self, id: &str) -> Option<&Programme> {
        self.programmes.iter().find(|p| p.id == id)
    }
}

fn is_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 32
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn positive(key: &str, value: Decimal) -> Result<Decimal, ConfigError> {
    if value <= Decimal::ZERO || value > Decimal::from(1_000_000) {
        return Err(ConfigError::invalid(
            key,
            format!("{value} must be more than 0 and at most 1000000"),
        ));
    }
    Ok(value)
}

fn check_programme(key: &str, p: RawProgramme) -> Result<Programme, ConfigError> {
    if !is_id(&p.id) {
        return Err(ConfigError::invalid(
            format!("{key}.id"),
            format!("{:?}: 1 to 32 of a-z 0-9 _ -", p.id),
        ));
    }
    if p.name.trim().is_empty() {
        return Err(ConfigError::invalid(format!("{key}.name"), "is empty"));
    }
    let kind = match p.kind.as_str() {
        "points" => Kind::Points,
        "money" => Kind::Money,
        other => {
            return Err(ConfigError::invalid(
                format!("{key}.kind"),
                format!("{other:?}: points or money"),
            ));
        }
    };
    let unit = match (kind, p.unit) {
        (Kind::Points, None) => "points".to_string(),
        (Kind::Points, Some(unit)) if is_id(&unit) => unit,
        (Kind::Money, Some(unit))
            if unit.len() == 3 && unit.chars().all(|c| c.is_ascii_uppercase()) =>
        {
            unit
        }
        (Kind::Money, None) => {
            return Err(ConfigError::invalid(
                format!("{key}.unit"),
                "a money programme names its currency, e.g. \"CZK\"",
            ));
        }
        (_, Some(unit)) => {
            return Err(ConfigError::invalid(
                format!("{key}.unit"),
                format!("{unit:?}: points: a-z 0-9 _ -; money: a currency code such as CZK"),
            ));
        }
    };
    let decimals = match (kind, p.decimals) {
        (Kind::Points, None) => 0,
        (Kind::Points, Some(d)) if d <= 3 => d,
        (Kind::Money, None | Some(2)) => 2,
        (_, Some(d)) => {
            return Err(ConfigError::invalid(
                format!("{key}.decimals"),
                format!("{d}: points 0 to 3, money 2"),
            ));
        }
    };
    if let Some(m) = p.valid_months
        && !(1..=1200).contains(&m)
    {
        return Err(ConfigError::invalid(
            format!("{key}.valid_months"),
            format!("{m}: 1 to 1200"),
        ));
    }
    let point_value = positive(
        &format!("{key}.point_value"),
        p.point_value.unwrap_or(Decimal::ONE),
    )?;
    for (group, value) in &p.group_point_values {
        positive(&format!("{key}.group_point_values.{group}"), *value)?;
    }
    let mut rules = Vec::new();
    for (i, r) in p.rules.into_iter().enumerate() {
        rules.push(check_rule(&format!("{key}.rules[{i}]"), r)?);
    }
    if rules.is_empty() {
        return Err(ConfigError::invalid(
            format!("{key}.rules"),
            "at least one accrual rule is needed",
        ));
    }
    let mut rewards: Vec<Reward> = Vec::new();
    for (i, r) in p.rewards.into_iter().enumerate() {
        let at = format!("{key}.rewards[{i}]");
        if !is_id(&r.id) || rewards.iter().any(|q| q.id == r.id) {
            return Err(ConfigError::invalid(
                format!("{at}.id"),
                format!(
                    "{:?}: 1 to 32 of a-z 0-9 _ -, unique in the programme",
                    r.id
                ),
            ));
        }
        let points = positive(&format!("{at}.points"), r.points)?;
        if points.scale() > decimals {
            return Err(ConfigError::invalid(
                format!("{at}.points"),
                format!("{points} has more decimals than the programme's {decimals}"),
            ));
        }
        let amount = positive(&format!("{at}.amount"), r.amount)?;
        if amount.scale() > 2 {
            return Err(ConfigError::invalid(
                format!("{at}.amount"),
                "at most two decimals",
            ));
        }
        rewards.push(Reward {
            id: r.id,
            name: r.name,
            points,
            amount,
        });
    }
    Ok(Programme {
        id: p.id,
        name: p.name,
        kind,
        unit,
        decimals,
        valid_months: p.valid_months,
        point_value,
        group_point_values: p.group_point_values,
        redeem: p.redeem,
        print_balance: p.print_balance,
        rules,
        rewards,
    })
}

fn check_rule(key: &str, r: RawRule) -> Result<Rule, ConfigError> {
    let points = positive(&format!("{key}.points"), r.points)?;
    let measure = match (r.per_amount, r.per_item) {
        (Some(amount), false) => {
            Measure::PerAmount(positive(&format!("{key}.per_amount"), amount)?)
        }
        (None, true) => Measure::PerItem,
        _ => {
            return Err(ConfigError::invalid(
                key,
                "give exactly one of per_amount (a decimal string) or per_item = true",
            ));
        }
    };
    if let (Some(min), Some(max)) = (r.min_price, r.max_price)
        && min >= max
    {
        return Err(ConfigError::invalid(
            format!("{key}.max_price"),
            format!("{max} must be above min_price {min}"),
        ));
    }
    for (name, value) in [("min_price", r.min_price), ("max_price", r.max_price)] {
        if let Some(v) = value
            && v < Decimal::ZERO
        {
            return Err(ConfigError::invalid(
                format!("{key}.{name}"),
                format!("{v} is negative"),
            ));
        }
    }
    let turnover = match (r.turnover_months, r.min_turnover) {
        (None, None) => None,
        (Some(months), Some(min)) if (1..=120).contains(&months) && min >= Decimal::ZERO => {
            Some(TurnoverCondition { months, min })
        }
        (Some(months), Some(_)) if !(1..=120).contains(&months) => {
            return Err(ConfigError::invalid(
                format!("{key}.turnover_months"),
                format!("{months}: 1 to 120"),
            ));
        }
        _ => {
            return Err(ConfigError::invalid(
                format!("{key}.min_turnover"),
                "turnover_months and min_turnover (not negative) go together",
            ));
        }
    };
    Ok(Rule {
        points,
        measure,
        tags: r.tags,
        min_price: r.min_price,
        max_price: r.max_price,
        customer_groups: r.customer_groups,
        turnover,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bonus() -> serde_json::Value {
        json!({"programmes": [{"id": "bonus", "name": "Body", "rules": [
            {"points": "1", "per_amount": "10"}]}]})
    }

    #[test]
    fn a_minimal_programme_has_the_documented_defaults() {
        let c = Config::parse(bonus()).unwrap();
        let p = &c.programmes[0];
        assert_eq!(
            (p.kind, p.unit.as_str(), p.decimals),
            (Kind::Points, "points", 0)
        );
        assert_eq!(p.point_value, Decimal::ONE);
        assert_eq!(p.valid_months, None);
        assert!(p.redeem && p.print_balance);
        assert_eq!(c.history_limit, 10);
    }

    #[test]
    fn mistakes_name_their_key() {
        let cases = [
            (json!({"programmes": []}), "programmes"),
            (
                json!({"programmes": [{"id": "Bonus", "name": "x", "rules": []}]}),
                "programmes[0].id",
            ),
            (
                json!({"programmes": [{"id": "b", "name": "x", "kind": "money", "rules": [{"points": "1", "per_item": true}]}]}),
                "programmes[0].unit",
            ),
            (
                json!({"programmes": [{"id": "b", "name": "x", "rules": []}]}),
                "programmes[0].rules",
            ),
            (
                json!({"programmes": [{"id": "b", "name": "x", "rules": [{"points": "1"}]}]}),
                "programmes[0].rules[0]",
            ),
            (
                json!({"programmes": [{"id": "b", "name": "x", "rules": [{"points": "1", "per_item": true, "turnover_months": 12}]}]}),
                "programmes[0].rules[0].min_turnover",
            ),
            (
                json!({"programmes": [{"id": "b", "name": "x", "point_value": "0", "rules": [{"points": "1", "per_item": true}]}]}),
                "programmes[0].point_value",
            ),
            (
                json!({"programmes": [{"id": "b", "name": "x", "rules": [{"points": "1", "per_item": true}],
                       "rewards": [{"id": "r", "name": "r", "points": "100.5", "amount": "5"}]}]}),
                "programmes[0].rewards[0].points",
            ),
            (
                json!({"programmes": [{"id": "b", "name": "x", "valid_monts": 3, "rules": []}]}),
                "programmes[0]",
            ),
        ];
        for (config, key) in cases {
            let e = Config::parse(config.clone()).unwrap_err();
            assert!(e.to_string().contains(key), "{config}: {e}");
            assert!(e.to_string().starts_with("[plugin.points]"), "{e}");
        }
    }

    #[test]
    fn the_highest_group_coefficient_counts() {
        let mut config = bonus();
        config["programmes"][0]["point_value"] = json!("1.00");
        config["programmes"][0]["group_point_values"] = json!({"vip": "1.20", "staff": "1.10"});
        let c = Config::parse(config).unwrap();
        let p = &c.programmes[0];
        assert_eq!(p.coefficient(&[]), Decimal::ONE);
        assert_eq!(
            p.coefficient(&["staff".into(), "vip".into()]),
            Decimal::new(120, 2)
        );
    }
}
