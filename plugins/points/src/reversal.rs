//! Voids and returns: the points a receipt earned come off the customer's account and the
//! points it spent come back, by the receipt's record (see [`crate::record`]).
//!
//! Points already spent are taken back all the same: the account may go below zero, a debt
//! printed on the receipt and shown by `Manager1.Customer` and `posctl points`, which the
//! customer's next earnings pay off first (a store wants a Storno or a return to go through
//! at the till; refusing it would leave the goods or the money stuck). Nothing is created or
//! lost: every point taken back is posted against `earned:<programme>`, every point given
//! back against `redeemed:<programme>`, and a redemption of a customer in debt is refused.

use posd_plugin_sdk::schema::{CheckoutEffects, KvWrite, Receipt, ReturnedLine};
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::accounts::{Postings, customer_account, earned_account, redeemed_account};
use crate::checkout::Section;
use crate::config::Config;
use crate::date::Date;
use crate::record::{self, ReceiptRecord};
use crate::texts::Words;

/// How much of the receipt goes back.
#[derive(Clone, Copy)]
pub enum Scope<'a> {
    /// A void: everything no return took back yet.
    Void,
    /// A return of these lines.
    Return(&'a [ReturnedLine]),
}

/// The effects of voiding or returning (part of) `receipt`; none for a receipt this plugin
/// posted nothing on.
pub fn reverse(
    config: &Config,
    host: &Host,
    receipt: &Receipt,
    scope: Scope<'_>,
    words: Words,
) -> Result<CheckoutEffects, PluginError> {
    let mut effects = CheckoutEffects::default();
    let key = record::key(&receipt.id);
    let Some(mut record) = host.kv_get::<ReceiptRecord>(&key)? else {
        return Ok(effects);
    };
    if record.voided {
        return Ok(effects);
    }
    if let Scope::Return(lines) = &scope {
        for line in *lines {
            if record.goods_qty.contains_key(&line.line) {
                *record.returned.entry(line.line.clone()).or_default() += line.qty;
            }
        }
    }
    let customer = record.customer.clone();
    let kind = match scope {
        Scope::Void => "void",
        Scope::Return(_) => "return",
    };
    let ids: Vec<String> = record.programmes.keys().cloned().collect();
    for id in ids {
        let programme = config.programme(&id).ok_or_else(|| {
            PluginError::invalid_configuration(format!(
                "receipt {} holds points of programme {id:?}, which [plugin.points] no longer \
                 configures: restore it to reverse them",
                receipt.id
            ))
        })?;
        let (taken_due, given_due) = match scope {
            Scope::Void => {
                let r = &record.programmes[&id];
                (r.earned, r.spent)
            }
            Scope::Return(_) => record.due_after_returns(programme),
        };
        let Some(entry) = record.programmes.get_mut(&id) else {
            continue;
        };
        let take = (taken_due - entry.taken_back).max(Decimal::ZERO);
        let give = (given_due - entry.given_back).max(Decimal::ZERO);
        if take.is_zero() && give.is_zero() {
            continue;
        }
        let mut postings = Postings::new(programme, &customer);
        let expires = entry.expires.as_deref().and_then(Date::parse);
        postings.pair(-take, earned_account(programme), kind, expires);
        for (expires, points) in entry.give_back_lots(give) {
            postings.pair(points, redeemed_account(programme), kind, expires);
        }
        entry.taken_back += take;
        entry.given_back += give;
        let before = host
            .ledger_balance(&customer_account(programme, &customer))?
            .balance;
        let mut section = Section::new(programme, words);
        section.moved(words.taken_back, -take);
        section.moved(words.given_back, give);
        section.balance(before + postings.moved());
        if let Some(section) = section.finish() {
            effects.sections.push(section);
        }
        effects.postings.extend(postings.list);
    }
    if matches!(scope, Scope::Void) {
        record.voided = true;
    }
    effects.kv.push(KvWrite::new(key, &record)?);
    Ok(effects)
}
