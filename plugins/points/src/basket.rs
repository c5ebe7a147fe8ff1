//! The sale as this plugin shapes it: the redemption lines the cashier's choice gives on the
//! basket as it is now, and what the basket still has room for.
//!
//! Order: first the reward blocks of every programme (whole blocks only, as many of those
//! taken as the goods still cover), then each programme's free redemption, capped at what
//! the goods left cover: `points = min(chosen, floor(left / coefficient))`, worth
//! `points × coefficient` rounded down to the cent, so a redemption is never worth more than
//! its points. A basket that shrinks shrinks the redemption; one that grows back restores it
//! up to the cashier's choice.

use posd_plugin_sdk::schema::{AutoLine, Line, LineKind, RefKind};
use posd_plugin_sdk::serde_json::json;
use posd_plugin_sdk::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::accrual;
use crate::choices::Choice;
use crate::config::{Config, Programme};
use crate::texts::Words;

/// What the plugin keeps on each of its redemption lines (`data`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineData {
    /// The programme the points come from.
    pub programme: String,
    /// Points the line spends.
    pub points: Decimal,
    /// The reward, for a reward line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<String>,
    /// Blocks of the reward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<u32>,
}

/// This plugin's redemption line and what it keeps on it, if `line` is one.
pub fn own_line(line: &Line, plugin: &str) -> Option<LineData> {
    (line.plugin == plugin)
        .then(|| serde_json::from_value::<LineData>(line.data.clone()).ok())
        .flatten()
}

/// The lines of a sale without this plugin's own (which the plan makes anew).
pub fn others<'a>(lines: &'a [Line], plugin: &str) -> Vec<&'a Line> {
    lines.iter().filter(|l| l.plugin != plugin).collect()
}

/// One planned redemption line.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// What goes on the line's `data`.
    pub data: LineData,
    /// The reduction, negative.
    pub amount: Decimal,
    /// The line's text.
    pub name: String,
    /// Its `ref`: `reward:<programme>:<id>` or `redeem:<programme>`.
    pub reference: String,
}

/// The plugin's lines on a basket and what the goods cover after them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// In order: rewards, then redemptions.
    pub lines: Vec<Planned>,
    /// The goods' base left after every reduction, the plan's too.
    pub left: Decimal,
}

impl Plan {
    /// Points the plan spends in `programme`.
    pub fn points_of(&self, programme: &str) -> Decimal {
        self.lines
            .iter()
            .filter(|l| l.data.programme == programme)
            .map(|l| l.data.points)
            .sum()
    }

    /// The sum of the plan's reductions (negative).
    pub fn reduction(&self) -> Decimal {
        self.lines.iter().map(|l| l.amount).sum()
    }

    /// The plan as automatic lines for `evaluate_basket`.
    pub fn auto_lines(&self) -> Vec<AutoLine> {
        self.lines
            .iter()
            .map(|l| AutoLine {
                kind: LineKind::PointsRedemption,
                name: l.name.clone(),
                amount: l.amount,
                applies_to: Vec::new(),
                tags: Vec::new(),
                reference: l.reference.clone(),
                ref_kind: RefKind::Rule,
                data: json!(l.data),
            })
            .collect()
    }
}

/// `value` rounded down to the cent.
pub fn cents_down(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::ToZero)
}

/// Points of `programme` the goods' base `left` takes at `coefficient` (floored).
pub fn points_for(programme: &Programme, left: Decimal, coefficient: Decimal) -> Decimal {
    if left <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    programme.floor(left / coefficient)
}

/// The plan for a basket of `lines` (without this plugin's own) and `choice`.
pub fn plan<L: std::borrow::Borrow<Line>>(
    config: &Config,
    lines: &[L],
    groups: &[String],
    choice: Option<&Choice>,
    words: Words,
) -> Plan {
    let mut left = accrual::total_base(&accrual::goods(lines, Decimal::ZERO));
    let mut planned = Vec::new();
    let Some(choice) = choice else {
        return Plan {
            lines: planned,
            left,
        };
    };
    for programme in &config.programmes {
        for reward in &programme.rewards {
            let Some(&blocks) = choice
                .rewards
                .get(&format!("{}:{}", programme.id, reward.id))
            else {
                continue;
            };
            let fit = (left / reward.amount).floor();
            let blocks = Decimal::from(blocks).min(fit);
            if blocks <= Decimal::ZERO {
                continue;
            }
            let amount = blocks * reward.amount;
            left -= amount;
            let count = u32::try_from(blocks).unwrap_or(0);
            planned.push(Planned {
                data: LineData {
                    programme: programme.id.clone(),
                    points: blocks * reward.points,
                    reward: Some(reward.id.clone()),
                    blocks: Some(count),
                },
                amount: -amount,
                name: if count > 1 {
                    format!("{} × {}", count, reward.name)
                } else {
                    reward.name.clone()
                },
                reference: format!("reward:{}:{}", programme.id, reward.id),
            });
        }
    }
    for programme in &config.programmes {
        let Some(&chosen) = choice.redeem.get(&programme.id) else {
            continue;
        };
        let coefficient = programme.coefficient(groups);
        let points = chosen.min(points_for(programme, left, coefficient));
        let amount = cents_down(points * coefficient);
        if points <= Decimal::ZERO || amount <= Decimal::ZERO {
            continue;
        }
        left -= amount;
        planned.push(Planned {
            data: LineData {
                programme: programme.id.clone(),
                points,
                reward: None,
                blocks: None,
            },
            amount: -amount,
            name: format!(
                "{} {}: {} × {}",
                words.redemption,
                programme.name,
                points.normalize(),
                coefficient.normalize()
            ),
            reference: format!("redeem:{}", programme.id),
        });
    }
    Plan {
        lines: planned,
        left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::texts::words;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn config() -> Config {
        Config::parse(json!({"programmes": [{"id": "bonus", "name": "Body", "point_value": "1.00",
            "group_point_values": {"vip": "1.20"},
            "rules": [{"points": "1", "per_amount": "10"}],
            "rewards": [{"id": "5eur", "name": "5 € Rabatt", "points": "100", "amount": "5.00"}]}]}))
        .unwrap()
    }

    fn item(amount: &str) -> Line {
        Line {
            id: "L1".into(),
            kind: LineKind::Item,
            qty: Decimal::ONE,
            unit_price: d(amount),
            amount: d(amount),
            ..Line::default()
        }
    }

    #[test]
    fn the_redemption_converts_at_the_groups_coefficient_and_shrinks_with_the_basket() {
        let config = config();
        let mut choice = Choice::new("C-1", 0);
        choice.redeem.insert("bonus".into(), d("10"));
        let vip = ["vip".to_string()];
        let plan = plan(
            &config,
            &[item("50.00")],
            &vip,
            Some(&choice),
            words("cs-CZ"),
        );
        assert_eq!(plan.lines[0].amount, d("-12.00"), "10 × 1.2");
        assert_eq!(plan.left, d("38.00"));
        // The basket shrinks to 10.00: 8 points (9.60) fit, not 9 (10.80).
        let small = super::plan(
            &config,
            &[item("10.00")],
            &vip,
            Some(&choice),
            words("cs-CZ"),
        );
        assert_eq!(small.lines[0].data.points, d("8"));
        assert_eq!(small.lines[0].amount, d("-9.60"));
        assert_eq!(small.lines[0].name, "Uplatnění Body: 8 × 1.2");
    }

    #[test]
    fn reward_blocks_are_whole_and_come_before_the_free_redemption() {
        let config = config();
        let mut choice = Choice::new("C-1", 0);
        choice.rewards.insert("bonus:5eur".into(), 3);
        choice.redeem.insert("bonus".into(), d("100"));
        let plan = plan(
            &config,
            &[item("12.00")],
            &[],
            Some(&choice),
            words("de-AT"),
        );
        assert_eq!(
            plan.lines[0].amount,
            d("-10.00"),
            "two blocks fit, not three"
        );
        assert_eq!(plan.lines[0].data.points, d("200"));
        assert_eq!(plan.lines[1].data.points, d("2"), "the rest: 2.00 at 1.00");
        assert_eq!(plan.left, Decimal::ZERO);
        assert_eq!(plan.points_of("bonus"), d("202"));
    }
}
