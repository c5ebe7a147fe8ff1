//! Where vouchers live: one interface, [`VoucherStore`], so that a chain's central store can
//! replace the host's ledger and kv later without touching the rules in `lib.rs`.
//!
//! Today's implementation, [`HostStore`], keeps
//! - the **balance** as the ledger account `voucher:<id>` (host: `vouchers:voucher:<id>`),
//!   posted only with a checkout, a void or a promotional batch's admin effects
//!   ([`crate::batch`]), each posting with floor 0;
//! - the **terms** the voucher was sold under as the kv value `voucher:<id>` ([`Voucher`]),
//!   written in the same transaction as the sale (or batch) that issued it.

use posd_plugin_sdk::schema::{KvWrite, Posting};
use posd_plugin_sdk::{Decimal, Host, PluginError};
use serde::{Deserialize, Serialize};

use crate::config::{AmountRule, Kind};

/// Where forfeited residual values go (`vouchers:breakage`).
pub const BREAKAGE: &str = "breakage";

/// The account of a customer's credit (residual values), paid out as tender `credit`.
pub fn credit_account(customer: &str) -> String {
    format!("credit:{customer}")
}
use crate::identity::CodeId;

/// The contra account of every voucher posting: what the store owes its voucher holders.
pub const ISSUED: &str = "issued";

/// A voucher's terms, fixed when it was sold: a later change of its programme does not
/// touch vouchers sold before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voucher {
    /// The programme id it was sold under.
    pub programme: String,
    /// The programme's name then.
    pub name: String,
    /// Gift, single-purpose or eWallet.
    pub kind: Kind,
    /// The last four characters of its code.
    pub last4: String,
    /// Day of sale.
    pub issued: String,
    /// Last valid day, `None` for unlimited.
    pub expires: Option<String>,
    /// Whether it keeps what is left after a redemption.
    pub reusable: bool,
    /// Where the rest goes when it is not reusable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual: Option<crate::config::Residual>,
    /// VAT rate of a single-purpose voucher.
    pub vat_rate: Option<Decimal>,
    /// How top-ups are priced (the programme's rule at sale).
    pub amount: AmountRule,
    /// The owner of an eWallet.
    pub customer: Option<String>,
    /// Blocked (lost card): refused everywhere. Kept apart from the terms, under
    /// `blocked:<id>` ([`VoucherStore::set_blocked`]), so a checkout that rewrites the terms
    /// (a top-up, a void) never writes an old state back over a block made meanwhile: the
    /// terms are never written with it, and [`VoucherStore::find`] fills it in.
    #[serde(default, skip_serializing)]
    pub blocked: bool,
    /// The receipt that sold it.
    pub sold_on: String,
    /// The void receipt that refunded it ("Rückerstattung"), if any.
    #[serde(default)]
    pub refunded_by: Option<String>,
}

impl Voucher {
    /// The terms of a voucher issued now under `programme` (sold, or issued in a batch):
    /// the programme's rules as they are today stay with the voucher. `customer` binds an
    /// eWallet; other kinds ignore it. `sold_on` is filled in at checkout.
    pub fn issued_under(
        programme: &crate::config::Programme,
        canonical: &str,
        today: crate::date::Date,
        expires: Option<crate::date::Date>,
        customer: Option<String>,
    ) -> Self {
        Voucher {
            programme: programme.id.clone(),
            name: programme.name.clone(),
            kind: programme.kind,
            last4: crate::code::last_four(canonical),
            issued: today.to_string(),
            expires: expires.map(|d| d.to_string()),
            reusable: programme.reusable,
            residual: programme.residual,
            vat_rate: programme.vat_rate,
            amount: programme.amount,
            customer: customer.filter(|_| programme.kind == Kind::Ewallet),
            blocked: false,
            sold_on: String::new(),
            refunded_by: None,
        }
    }
}

/// A voucher with its balance as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Its terms.
    pub voucher: Voucher,
    /// Its balance.
    pub balance: Decimal,
}

/// Looks vouchers up and says how to change them with a checkout.
pub trait VoucherStore {
    /// The voucher with this identity, `None` if none was ever sold.
    fn find(&self, host: &Host, id: &CodeId) -> Result<Option<Found>, PluginError>;
    /// Blocks or unblocks a voucher at once, outside any sale: a checkout already preparing
    /// with it completes (it was entered before the block), every later look-up and
    /// checkout refuses it.
    fn set_blocked(&self, host: &Host, id: &CodeId, blocked: bool) -> Result<(), PluginError>;
    /// The write that stores (or replaces) a voucher's terms with the checkout.
    fn record(&self, id: &CodeId, voucher: &Voucher) -> Result<KvWrite, PluginError>;
    /// The postings that move `amount` onto (positive) or off (negative) a voucher, balanced
    /// against [`ISSUED`]; the voucher's posting has floor 0, so the checkout fails with
    /// `InsufficientBalance` rather than overdraw it.
    fn move_balance(&self, id: &CodeId, amount: Decimal, unit: &str, kind: &str) -> [Posting; 2];
}

/// The host's ledger and kv, in the plugin's namespace.
#[derive(Debug, Default)]
pub struct HostStore;

fn key(id: &CodeId) -> String {
    format!("voucher:{id}")
}

fn block_key(id: &CodeId) -> String {
    format!("blocked:{id}")
}

impl VoucherStore for HostStore {
    fn find(&self, host: &Host, id: &CodeId) -> Result<Option<Found>, PluginError> {
        let Some(mut voucher) = host.kv_get::<Voucher>(&key(id))? else {
            return Ok(None);
        };
        // Terms written before the block had its own key may still say `blocked`; the key,
        // once written, decides.
        if let Some(blocked) = host.kv_get::<bool>(&block_key(id))? {
            voucher.blocked = blocked;
        }
        let balance = host.ledger_balance(&key(id))?.balance;
        Ok(Some(Found { voucher, balance }))
    }

    fn set_blocked(&self, host: &Host, id: &CodeId, blocked: bool) -> Result<(), PluginError> {
        host.kv_put(&block_key(id), &blocked)
    }

    fn record(&self, id: &CodeId, voucher: &Voucher) -> Result<KvWrite, PluginError> {
        KvWrite::new(key(id), voucher)
    }

    fn move_balance(&self, id: &CodeId, amount: Decimal, unit: &str, kind: &str) -> [Posting; 2] {
        [
            Posting {
                account: key(id),
                amount,
                unit: unit.to_string(),
                kind: kind.to_string(),
                floor: Some(Decimal::ZERO),
                ..Posting::default()
            },
            Posting {
                account: ISSUED.to_string(),
                amount: -amount,
                unit: unit.to_string(),
                kind: kind.to_string(),
                ..Posting::default()
            },
        ]
    }
}
