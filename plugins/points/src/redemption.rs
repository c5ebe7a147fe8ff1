//! Spending points on a sale: the `redeem-<programme>` action (a number of points, the
//! largest usable suggested, the cashier may lower it) and rewards in whole blocks
//! (`list_rewards` / `apply_reward`). Both only change the cashier's [`Choice`]; the lines
//! come from `evaluate_basket` ([`crate::basket`]).
//!
//! What a customer can use is their balance less what has expired by today (posted at the
//! checkout) and less any debt, less what this sale already uses.

use posd_plugin_sdk::schema::{
    Action, ActionParam, Effects, ParamType, Reward as OfferedReward, Sale,
};
use posd_plugin_sdk::serde_json::{Map, Value};
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::accounts::Account;
use crate::basket::{self, Plan};
use crate::choices::{Choice, Choices};
use crate::config::{Config, Programme};
use crate::date::Date;
use crate::error::PointsError;
use crate::texts::{self, Words};

/// Action ids: `redeem-<programme>`.
pub const REDEEM_PREFIX: &str = "redeem-";
/// The action that takes every reward block off the sale again (offered while there are).
pub const REMOVE_REWARDS: &str = "remove-rewards";

fn customer_of(sale: &Sale) -> Option<&str> {
    sale.customer.as_deref().filter(|c| !c.trim().is_empty())
}

/// The plan of `sale` with `choice`, on the sale's lines without this plugin's own.
fn plan_with(config: &Config, sale: &Sale, choice: Option<&Choice>, words: Words) -> Plan {
    let lines = basket::others(&sale.lines, crate::ID);
    basket::plan(config, &lines, &sale.customer_groups, choice, words)
}

/// What `programme` could redeem on `sale` now: (usable points, the largest the basket and
/// balance allow). The free redemption of this programme is left out of the plan, so the
/// answer is what the cashier may choose instead of it.
fn room(
    config: &Config,
    host: &Host,
    sale: &Sale,
    choice: &Choice,
    programme: &Programme,
    words: Words,
) -> Result<(Decimal, Decimal), PluginError> {
    let customer = customer_of(sale).ok_or(PointsError::CustomerRequired)?;
    let today = Date::from_epoch_ms(host.now());
    let account = Account::read(host, programme, customer)?;
    let mut without = choice.clone();
    without.redeem.remove(&programme.id);
    let plan = plan_with(config, sale, Some(&without), words);
    let usable = (account.spendable(today) - plan.points_of(&programme.id)).max(Decimal::ZERO);
    let fits = basket::points_for(
        programme,
        plan.left,
        programme.coefficient(&sale.customer_groups),
    );
    Ok((usable, usable.min(fits)))
}

/// The redemption actions offered on `sale`.
pub fn list_actions(
    config: &Config,
    choices: &Choices,
    host: &Host,
    sale: &Sale,
    words: Words,
) -> Result<Vec<Action>, PluginError> {
    let Some(customer) = customer_of(sale) else {
        return Ok(Vec::new());
    };
    let choice = choices
        .of(&sale.id, Some(customer))
        .cloned()
        .unwrap_or_else(|| Choice::new(customer, host.now()));
    let mut actions = Vec::new();
    for programme in config.programmes.iter().filter(|p| p.redeem) {
        let (usable, largest) = room(config, host, sale, &choice, programme, words)?;
        if usable <= Decimal::ZERO && !choice.redeem.contains_key(&programme.id) {
            continue;
        }
        actions.push(Action {
            id: format!("{REDEEM_PREFIX}{}", programme.id),
            label: format!("{} ({})", words.redeem_action, programme.name),
            params: vec![ActionParam {
                name: "points".into(),
                param_type: ParamType::Decimal,
                required: true,
                suggested: Some(Value::String(largest.normalize().to_string())),
                // Read by the cashier beside the field, so in the till's language.
                help: format!(
                    "{} {} {} ({}); {} {}",
                    words.at_most,
                    largest.normalize(),
                    words.points,
                    words.zero_takes_off,
                    words.one_point,
                    programme.coefficient(&sale.customer_groups).normalize()
                ),
                ..ActionParam::default()
            }],
        });
    }
    if !choice.rewards.is_empty() {
        actions.push(Action {
            id: REMOVE_REWARDS.into(),
            label: words.remove_rewards.into(),
            params: Vec::new(),
        });
    }
    Ok(actions)
}

fn decimal_arg(args: &Map<String, Value>, name: &str) -> Result<Decimal, PointsError> {
    let text = match args.get(name) {
        Some(Value::String(text)) => text.trim().to_string(),
        Some(Value::Number(number)) => number.to_string(),
        _ => {
            return Err(PointsError::InvalidArgument(format!(
                "{name}: a number of points is needed"
            )));
        }
    };
    text.parse::<Decimal>()
        .map_err(|_| PointsError::InvalidArgument(format!("{name}: {text:?} is not a number")))
}

/// `redeem-<programme>`: sets the points to redeem on the sale (0 takes it off).
pub fn invoke(
    config: &Config,
    choices: &mut Choices,
    host: &Host,
    sale: &Sale,
    action: &str,
    args: &Map<String, Value>,
    words: Words,
) -> Result<Effects, PluginError> {
    if action == REMOVE_REWARDS {
        return remove_rewards(choices, host, sale, words);
    }
    let programme = action
        .strip_prefix(REDEEM_PREFIX)
        .and_then(|id| config.programme(id))
        .filter(|p| p.redeem)
        .ok_or_else(|| PointsError::NotFound(format!("no action {action}")))?;
    let customer = customer_of(sale).ok_or(PointsError::CustomerRequired)?;
    let points = decimal_arg(args, "points")?;
    if points < Decimal::ZERO || points.normalize().scale() > programme.decimals {
        return Err(PointsError::InvalidArgument(format!(
            "points: {points} is not a number of {} points (at most {} decimals, not negative)",
            programme.name, programme.decimals
        ))
        .into());
    }
    let mut choice = choices
        .of(&sale.id, Some(customer))
        .cloned()
        .unwrap_or_else(|| Choice::new(customer, host.now()));
    choice.at = host.now();
    if points.is_zero() {
        choice.redeem.remove(&programme.id);
        choices.store(host, &sale.id, choice)?;
        return Ok(Effects {
            message: Some(format!("{}: 0", words.redeemed)),
            ..Effects::default()
        });
    }
    let (usable, largest) = room(config, host, sale, &choice, programme, words)?;
    if points > usable {
        return Err(PointsError::InsufficientBalance {
            programme: programme.id.clone(),
            asked: points,
            available: usable,
        }
        .into());
    }
    if points > largest {
        return Err(PointsError::InvalidArgument(format!(
            "points: the basket takes at most {} points of {}",
            largest.normalize(),
            programme.name
        ))
        .into());
    }
    choice.redeem.insert(programme.id.clone(), points);
    choices.store(host, &sale.id, choice)?;
    let value = basket::cents_down(points * programme.coefficient(&sale.customer_groups));
    Ok(Effects {
        message: Some(format!(
            "{}: {} = {value}",
            words.redeemed,
            texts::quantity(programme, points, words)
        )),
        ..Effects::default()
    })
}

/// `remove-rewards`: the reward blocks taken on `sale` come off (the points stay unspent).
fn remove_rewards(
    choices: &mut Choices,
    host: &Host,
    sale: &Sale,
    words: Words,
) -> Result<Effects, PluginError> {
    let customer = customer_of(sale).ok_or(PointsError::CustomerRequired)?;
    let mut choice = choices
        .of(&sale.id, Some(customer))
        .cloned()
        .ok_or_else(|| PointsError::NotFound("no reward is taken on this sale".into()))?;
    choice.rewards.clear();
    choice.at = host.now();
    choices.store(host, &sale.id, choice)?;
    Ok(Effects {
        message: Some(words.remove_rewards.to_string()),
        ..Effects::default()
    })
}

/// Rewards the customer can take on `sale` now: each reward whose block the balance and the
/// basket still cover.
pub fn list_rewards(
    config: &Config,
    choices: &Choices,
    host: &Host,
    sale: &Sale,
    words: Words,
) -> Result<Vec<OfferedReward>, PluginError> {
    let Some(customer) = customer_of(sale) else {
        return Ok(Vec::new());
    };
    let today = Date::from_epoch_ms(host.now());
    let choice = choices.of(&sale.id, Some(customer));
    let plan = plan_with(config, sale, choice, words);
    let mut offered = Vec::new();
    for programme in config.programmes.iter().filter(|p| !p.rewards.is_empty()) {
        let account = Account::read(host, programme, customer)?;
        let usable = account.spendable(today) - plan.points_of(&programme.id);
        for reward in &programme.rewards {
            if usable >= reward.points && plan.left >= reward.amount {
                offered.push(OfferedReward {
                    id: format!("{}:{}", programme.id, reward.id),
                    label: format!(
                        "{} ({})",
                        reward.name,
                        texts::quantity(programme, reward.points, words)
                    ),
                    amount: reward.amount,
                    points: reward.points,
                });
            }
        }
    }
    Ok(offered)
}

/// Takes one block of a reward.
pub fn apply_reward(
    config: &Config,
    choices: &mut Choices,
    host: &Host,
    sale: &Sale,
    id: &str,
    words: Words,
) -> Result<Effects, PluginError> {
    let (programme, reward) = id
        .split_once(':')
        .and_then(|(p, r)| {
            let programme = config.programme(p)?;
            Some((programme, programme.reward(r)?))
        })
        .ok_or_else(|| PointsError::NotFound(format!("no reward {id}")))?;
    let customer = customer_of(sale).ok_or(PointsError::CustomerRequired)?;
    let today = Date::from_epoch_ms(host.now());
    let mut choice = choices
        .of(&sale.id, Some(customer))
        .cloned()
        .unwrap_or_else(|| Choice::new(customer, host.now()));
    let plan = plan_with(config, sale, Some(&choice), words);
    let usable =
        Account::read(host, programme, customer)?.spendable(today) - plan.points_of(&programme.id);
    if usable < reward.points {
        return Err(PointsError::InsufficientBalance {
            programme: programme.id.clone(),
            asked: reward.points,
            available: usable.max(Decimal::ZERO),
        }
        .into());
    }
    if plan.left < reward.amount {
        return Err(PointsError::NotAllowed(format!(
            "{}: the basket has {} left, less than the reward's {}",
            reward.name, plan.left, reward.amount
        ))
        .into());
    }
    *choice
        .rewards
        .entry(format!("{}:{}", programme.id, reward.id))
        .or_default() += 1;
    choice.at = host.now();
    choices.store(host, &sale.id, choice)?;
    Ok(Effects {
        message: Some(format!(
            "{}: {}",
            reward.name,
            texts::quantity(programme, reward.points, words)
        )),
        ..Effects::default()
    })
}
