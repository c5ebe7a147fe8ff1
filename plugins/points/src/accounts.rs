//! The plugin's ledger accounts (in its namespace; the host prefixes `points:`) and the
//! postings that move them. Every movement is a pair: the customer's account against one
//! contra account per programme that says where the points came from or went.

use posd_plugin_sdk::schema::Posting;
use posd_plugin_sdk::{Decimal, Host, PluginError};

use crate::config::Programme;
use crate::date::Date;
use crate::fifo::Holdings;

/// How many postings are read to replay an account (the host's most).
pub const HISTORY_READ: u32 = 10_000;

/// The customer's balance: `customer:<programme>:<customer>`.
pub fn customer_account(programme: &Programme, customer: &str) -> String {
    format!("customer:{}:{customer}", programme.id)
}

/// Contra account of everything ever earned (negative).
pub fn earned_account(programme: &Programme) -> String {
    format!("earned:{}", programme.id)
}

/// Contra account of everything ever redeemed (positive).
pub fn redeemed_account(programme: &Programme) -> String {
    format!("redeemed:{}", programme.id)
}

/// Contra account of everything ever expired (positive).
pub fn expired_account(programme: &Programme) -> String {
    format!("expired:{}", programme.id)
}

/// A customer's account as read now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Account {
    /// The ledger balance (negative: a debt).
    pub balance: Decimal,
    /// Its lots and debt, replayed first in first out.
    pub holdings: Holdings,
}

impl Account {
    /// Reads the balance and replays the postings.
    pub fn read(host: &Host, programme: &Programme, customer: &str) -> Result<Self, PluginError> {
        let account = customer_account(programme, customer);
        let balance = host.ledger_balance(&account)?;
        if !balance.exists {
            return Ok(Account::default());
        }
        let postings = host.ledger_postings(&account, Some(HISTORY_READ))?;
        Ok(Account {
            balance: balance.balance,
            holdings: Holdings::replay(&postings, balance.balance),
        })
    }

    /// What has expired by `today` and is not posted yet.
    pub fn due_expiry(&self, today: Date) -> Decimal {
        self.holdings.expired(today).iter().map(|l| l.left).sum()
    }

    /// What the customer can spend today: the lots not expired, less any debt.
    pub fn spendable(&self, today: Date) -> Decimal {
        let mut holdings = self.holdings.clone();
        holdings.drop_expired(today);
        holdings.spendable()
    }
}

/// Builds the plugin's postings of one hook in one place, in order.
pub struct Postings<'a> {
    programme: &'a Programme,
    customer: &'a str,
    /// The postings so far.
    pub list: Vec<Posting>,
}

impl<'a> Postings<'a> {
    /// Postings of `programme` for `customer`.
    pub fn new(programme: &'a Programme, customer: &'a str) -> Self {
        Postings {
            programme,
            customer,
            list: Vec::new(),
        }
    }

    /// `amount` onto the customer's account against `contra`. The customer's account has no
    /// floor: a reversal may leave a debt (see the README), and a redemption is checked
    /// against the balance by the plugin before it is posted.
    pub fn pair(&mut self, amount: Decimal, contra: String, kind: &str, expires: Option<Date>) {
        if amount.is_zero() {
            return;
        }
        let unit = self.programme.unit.clone();
        self.list.push(Posting {
            account: customer_account(self.programme, self.customer),
            amount,
            unit: unit.clone(),
            kind: kind.to_string(),
            floor: None,
            customer: Some(self.customer.to_string()),
            expires: expires.map(|d| d.to_string()),
        });
        self.list.push(Posting {
            account: contra,
            amount: -amount,
            unit,
            kind: kind.to_string(),
            floor: None,
            customer: None,
            expires: None,
        });
    }

    /// The sum moved on the customer's account so far.
    pub fn moved(&self) -> Decimal {
        let account = customer_account(self.programme, self.customer);
        self.list
            .iter()
            .filter(|p| p.account == account)
            .map(|p| p.amount)
            .sum()
    }
}
