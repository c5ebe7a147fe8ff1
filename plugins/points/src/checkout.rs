//! The checkout: what a sale posts for its customer, per programme, in one entry with the
//! sale — first the points that expired since the last contact, then the redemption, then
//! what the sale earns — and the receipt section with the balance after.

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{CheckoutEffects, KvWrite, ReceiptSection, Sale};
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::accounts::{Account, Postings, earned_account, expired_account, redeemed_account};
use crate::accrual::{self, Customer};
use crate::basket::own_line;
use crate::choices::Choices;
use crate::config::{Config, Programme};
use crate::date::Date;
use crate::error::PointsError;
use crate::fifo::Lot;
use crate::record::{self, ProgrammeRecord, ReceiptRecord, SpentLot};
use crate::texts::{self, Words};

/// The kv key that lists a customer for `posctl points expire` (every customer who ever
/// checked out with points).
pub fn customer_index_key(customer: &str) -> String {
    format!("customers:{customer}")
}

/// A turnover look-up that asks the host once per number of months.
pub fn turnover_of<'h>(
    host: &'h Host,
    customer: &'h str,
) -> impl FnMut(u32) -> Result<Decimal, PluginError> + 'h {
    let mut known: BTreeMap<u32, Decimal> = BTreeMap::new();
    move |months| {
        if let Some(value) = known.get(&months) {
            return Ok(*value);
        }
        let value = host.ledger_turnover(customer, months)?.turnover;
        known.insert(months, value);
        Ok(value)
    }
}

/// The receipt section of one programme: what moved and the balance after.
pub struct Section<'a> {
    /// The programme.
    pub programme: &'a Programme,
    /// The language.
    pub words: Words,
    /// The lines so far.
    pub lines: Vec<String>,
}

impl<'a> Section<'a> {
    /// A section for `programme`.
    pub fn new(programme: &'a Programme, words: Words) -> Self {
        Section {
            programme,
            words,
            lines: Vec::new(),
        }
    }

    /// A line `label: +27` for a non-zero amount.
    pub fn moved(&mut self, label: &str, amount: Decimal) {
        if !amount.is_zero() {
            self.lines.push(format!(
                "{label}: {}",
                texts::signed(self.programme, amount)
            ));
        }
    }

    /// The balance after, with the debt note when it is negative.
    pub fn balance(&mut self, balance: Decimal) {
        if !self.programme.print_balance {
            return;
        }
        let shown = texts::quantity(self.programme, balance, self.words);
        if balance < Decimal::ZERO {
            self.lines.push(format!(
                "{}: {shown} ({})",
                self.words.balance, self.words.debt
            ));
        } else {
            self.lines.push(format!("{}: {shown}", self.words.balance));
        }
    }

    /// The section, if it has anything to say.
    pub fn finish(self) -> Option<ReceiptSection> {
        (!self.lines.is_empty()).then(|| ReceiptSection {
            title: self.programme.name.clone(),
            lines: self.lines,
            ..ReceiptSection::default()
        })
    }
}

/// The effects of checking `sale` out as receipt `receipt_id`.
pub fn prepare(
    config: &Config,
    host: &Host,
    sale: &Sale,
    receipt_id: &str,
    words: Words,
) -> Result<CheckoutEffects, PluginError> {
    let mut effects = CheckoutEffects::default();
    let Some(customer) = sale.customer.as_deref().filter(|c| !c.trim().is_empty()) else {
        return Ok(effects);
    };
    let today = Date::from_epoch_ms(host.now());
    let own: Vec<_> = sale
        .lines
        .iter()
        .filter_map(|l| own_line(l, crate::ID))
        .collect();
    let goods = accrual::goods(&sale.lines, Decimal::ZERO);
    let mut record = ReceiptRecord {
        customer: customer.to_string(),
        goods_qty: goods.iter().map(|g| (g.id.to_string(), g.qty)).collect(),
        goods_amount: goods.iter().map(|g| (g.id.to_string(), g.amount)).collect(),
        ..ReceiptRecord::default()
    };
    let mut turnover = turnover_of(host, customer);
    for programme in &config.programmes {
        let account = Account::read(host, programme, customer)?;
        let mut holdings = account.holdings.clone();
        let mut postings = Postings::new(programme, customer);
        let mut section = Section::new(programme, words);

        let expired = holdings.expired(today);
        for lot in &expired {
            postings.pair(-lot.left, expired_account(programme), "expire", lot.expires);
        }
        holdings.drop_expired(today);
        let expired_points: Decimal = expired.iter().map(|l| l.left).sum();

        let spent: Decimal = own
            .iter()
            .filter(|d| d.programme == programme.id)
            .map(|d| d.points)
            .sum();
        let mut spent_lots: Vec<Lot> = Vec::new();
        if spent > Decimal::ZERO {
            let available = holdings.spendable();
            if spent > available {
                return Err(PointsError::InsufficientBalance {
                    programme: programme.id.clone(),
                    asked: spent,
                    available,
                }
                .into());
            }
            spent_lots = holdings.take(spent, None);
            postings.pair(-spent, redeemed_account(programme), "redeem", None);
        }

        let earning = accrual::earn(
            programme,
            &goods,
            &mut Customer {
                groups: &sale.customer_groups,
                turnover: &mut turnover,
            },
        )?;
        let expires = programme.valid_months.map(|m| today.plus_months(m));
        postings.pair(earning.points, earned_account(programme), "earn", expires);

        section.moved(words.expired, -expired_points);
        section.moved(words.redeemed, -spent);
        section.moved(words.earned, earning.points);
        let anything = !postings.list.is_empty();
        if anything || account.balance != Decimal::ZERO {
            section.balance(account.balance + postings.moved());
            let mut after = holdings.clone();
            after.add(earning.points, expires);
            if programme.print_balance
                && let Some((day, points)) = after.next_expiry()
            {
                section.lines.push(format!(
                    "{} {} {day}",
                    texts::quantity(programme, points, words),
                    words.expires_on
                ));
            }
        }
        if let Some(section) = section.finish() {
            effects.sections.push(section);
        }
        if earning.points > Decimal::ZERO || spent > Decimal::ZERO {
            record.programmes.insert(
                programme.id.clone(),
                ProgrammeRecord {
                    earned: earning.points,
                    expires: expires.map(|d| d.to_string()),
                    per_line: earning
                        .per_line
                        .into_iter()
                        .map(|(line, points)| (line.to_string(), points))
                        .collect(),
                    spent,
                    spent_lots: spent_lots
                        .into_iter()
                        .map(|l| SpentLot {
                            expires: l.expires.map(|d| d.to_string()),
                            points: l.left,
                        })
                        .collect(),
                    taken_back: Decimal::ZERO,
                    given_back: Decimal::ZERO,
                },
            );
        }
        effects.postings.extend(postings.list);
    }
    if !record.programmes.is_empty() {
        effects
            .kv
            .push(KvWrite::new(record::key(receipt_id), &record)?);
    }
    if !effects.postings.is_empty() {
        effects
            .kv
            .push(KvWrite::new(customer_index_key(customer), &true)?);
    }
    effects.kv.push(Choices::delete_with_checkout(&sale.id));
    Ok(effects)
}
