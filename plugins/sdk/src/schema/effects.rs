//! What a plugin may do: to an open sale ([`Effects`]) and to the books when a sale, void
//! or return is committed ([`CheckoutEffects`]).
//!
//! The plugin never changes the sale or the ledger itself: it describes the change and the
//! host applies it — the sale at once, the checkout in one SQLite transaction with the
//! receipt. That is what keeps a till consistent when a plugin fails halfway.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Decimal;
use crate::error::PluginError;
use crate::schema::view::LineKind;
use crate::schema::{is_null, open_string_enum};

open_string_enum! {
    /// What a code is, as the cashier and the frontend are told.
    pub enum CodeKind {
        /// A gift voucher: pays as a tender.
        #[default]
        Voucher = "voucher",
        /// A customer's stored-value wallet: pays as a tender, needs the customer.
        Ewallet = "ewallet",
        /// A discount code: becomes a discount line.
        DiscountCode = "discount_code",
        /// A loyalty or customer card: sets the customer.
        CustomerCard = "customer_card",
        /// A partner programme's card (PAYBACK and the like).
        PartnerCard = "partner_card",
        /// A product code the plugin knows.
        Product = "product",
        /// A coupon.
        Coupon = "coupon",
    }
}

open_string_enum! {
    /// What a line's `ref` is, which decides whether it is masked wherever the host shows or
    /// prints it. Most refs are codes that pay or discount, and a code printed in full can be
    /// redeemed by whoever finds the receipt, so a line that does not say is masked.
    pub enum RefKind {
        /// A code (voucher, discount code, coupon): shown and printed as its last 4
        /// characters, `••••5678`. The default.
        #[default]
        Code = "code",
        /// The id of a rule or campaign (`PROMO-EISTEE-3`, a reward id): no secret, shown and
        /// printed as it is.
        Rule = "rule",
    }
}

impl RefKind {
    /// Whether this is the default, [`RefKind::Code`] (left out of the JSON). A kind this SDK
    /// does not know is masked like a code by the host.
    pub fn is_code(&self) -> bool {
        *self == RefKind::Code
    }
}

/// A line to add to the sale.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewLine {
    /// What the line is, e.g. [`LineKind::VoucherSale`].
    pub kind: LineKind,
    /// Article number, may be empty.
    pub sku: String,
    /// Text on the receipt.
    pub name: String,
    /// Quantity.
    pub qty: Decimal,
    /// Price of one unit, gross.
    pub unit_price: Decimal,
    /// VAT rate in percent. Not used for a reduction (discount, points redemption, free
    /// product), which takes VAT off every good of the sale pro rata.
    pub tax_rate: Decimal,
    /// Tags for rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The code behind the line (shown masked), or the rule behind it (see `ref_kind`).
    #[serde(rename = "ref")]
    pub reference: String,
    /// Whether `ref` is a code (masked where shown or printed, the default) or a rule id
    /// (shown as it is).
    #[serde(skip_serializing_if = "RefKind::is_code")]
    pub ref_kind: RefKind,
    /// Private data the plugin gets back on this line in later requests.
    #[serde(skip_serializing_if = "is_null")]
    pub data: Value,
}

/// A tender to add to the sale.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewTender {
    /// Tender method, e.g. `voucher`.
    pub method: String,
    /// The amount to pay with it now.
    pub amount: Decimal,
    /// Set for a voucher: the tender follows the amount due up to this (its balance).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<Decimal>,
    /// The code behind the tender (shown masked).
    #[serde(rename = "ref")]
    pub reference: String,
    /// Private data the plugin gets back on this tender.
    #[serde(skip_serializing_if = "is_null")]
    pub data: Value,
}

/// What `enter_code`, `invoke_action` and `apply_reward` do to the sale. Every field is
/// optional; `Effects::default()` changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Effects {
    /// What the code or action was, for the frontend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<CodeKind>,
    /// A line for the cashier, e.g. "Gutschein eingelöst".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Things that do not stop the action (an expired voucher still accepted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Lines to add.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_lines: Vec<NewLine>,
    /// Tenders to add.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_tenders: Vec<NewTender>,
    /// Ids of lines to remove (the plugin's own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_lines: Vec<String>,
    /// Ids of tenders to remove (the plugin's own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove_tenders: Vec<String>,
    /// Put this customer on the sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_customer: Option<String>,
    /// Lock (`true`) or unlock (`false`) the sale's customer, e.g. while an eWallet line is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_customer: Option<bool>,
    /// Anything the frontend should get back (e.g. a generated voucher code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// One ledger posting. Accounts are in the plugin's own namespace: the host prefixes the
/// plugin id and a colon, so `"voucher:ABC"` of plugin `gift` is `gift:voucher:ABC` in the
/// ledger (`posctl ledger balance gift:`), and no plugin can post to another's accounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Posting {
    /// The account, in the plugin's namespace.
    pub account: String,
    /// Signed amount; the postings of one unit sum to zero.
    pub amount: Decimal,
    /// Currency code or a points unit, e.g. `"EUR"`, `"points"`.
    pub unit: String,
    /// What the posting is for, e.g. `"issue"`, `"redeem"`, `"earn"`, `"breakage"`.
    pub kind: String,
    /// The lowest balance the account may reach by this posting (e.g. `"0"` for a voucher);
    /// the host refuses the checkout with `InsufficientBalance` below it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<Decimal>,
    /// The customer the account belongs to, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// When this lot expires (points, vouchers), as `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A message for a partner, delivered later through `deliver_message`, so that a sale never
/// waits on a partner's network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboxMessage {
    /// Where it goes, in the plugin's terms (e.g. `"payback"`).
    pub destination: String,
    /// Idempotency key: the host keeps one message per key.
    pub key: String,
    /// The message.
    pub payload: Value,
}

/// A block the plugin adds to the receipt (a points balance, a voucher slip). `barcode` and
/// `qr` are printed on slips only; frontends get the barcode back masked, as `code`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceiptSection {
    /// Heading.
    pub title: String,
    /// Text lines.
    pub lines: Vec<String>,
    /// Print as a separate slip (cut before it), e.g. a voucher to hand over.
    pub slip: bool,
    /// A barcode to print under it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<String>,
    /// A QR code to print under it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    /// The `barcode`/`qr` is a secret (a sold voucher's full, spendable code): the host
    /// prints it only on the slip and keeps it masked everywhere else — in the journal,
    /// and, once the slip printed, not even in the print queue. Only for `slip: true`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// A write to the plugin's key-value store, committed with the checkout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KvWrite {
    /// The key, in the plugin's namespace.
    pub key: String,
    /// The new value; `null` deletes the key (always serialised, never left out).
    pub value: Value,
}

impl KvWrite {
    /// Sets `key` to `value`, any serialisable type, as `Host::kv_put` takes it and
    /// `Host::kv_get::<T>` reads it back: `KvWrite::new("stamps:C-1", &4)?`. A value that
    /// serialises to `null` (`None`) deletes the key; one that cannot be JSON is
    /// `InvalidArgument` naming the key.
    pub fn new<V: Serialize + ?Sized>(
        key: impl Into<String>,
        value: &V,
    ) -> Result<Self, PluginError> {
        let key = key.into();
        let value = crate::schema::kv_json(&key, value)?;
        Ok(Self { key, value })
    }

    /// Sets `key` to a value that is JSON already; [`KvWrite::new`] takes your own types.
    pub fn put(key: impl Into<String>, value: Value) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }

    /// Deletes `key`.
    pub fn delete(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: Value::Null,
        }
    }
}

/// What a plugin commits with a checkout, void or return: all of it or none, in the same
/// transaction as the receipt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckoutEffects {
    /// Ledger postings; per unit they sum to zero (double entry).
    pub postings: Vec<Posting>,
    /// Messages for partners.
    pub outbox: Vec<OutboxMessage>,
    /// Receipt sections.
    pub sections: Vec<ReceiptSection>,
    /// Key-value writes.
    pub kv: Vec<KvWrite>,
}

impl CheckoutEffects {
    /// Checks double entry: the postings of each unit sum to zero. The SDK runs this on
    /// every checkout answer, so an unbalanced booking fails in the plugin's own call with
    /// a message naming the unit, not later in the host's transaction.
    pub fn check_balanced(&self) -> Result<(), PluginError> {
        let mut sums: BTreeMap<&str, Decimal> = BTreeMap::new();
        for posting in &self.postings {
            *sums.entry(posting.unit.as_str()).or_default() += posting.amount;
        }
        let unbalanced: Vec<String> = sums
            .iter()
            .filter(|(_, sum)| !sum.is_zero())
            .map(|(unit, sum)| format!("{unit} sums to {sum}"))
            .collect();
        if unbalanced.is_empty() {
            Ok(())
        } else {
            Err(PluginError::plugin_failed(format!(
                "postings do not balance: {}",
                unbalanced.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn posting(unit: &str, amount: &str) -> Posting {
        Posting {
            account: "a".into(),
            amount: amount.parse().unwrap(),
            unit: unit.into(),
            kind: "test".into(),
            ..Posting::default()
        }
    }

    #[test]
    fn balanced_postings_pass_and_unbalanced_name_the_unit() {
        let mut effects = CheckoutEffects {
            postings: vec![
                posting("EUR", "10.00"),
                posting("EUR", "-10.00"),
                posting("points", "5"),
            ],
            ..CheckoutEffects::default()
        };
        let e = effects.check_balanced().unwrap_err();
        assert!(e.message.contains("points sums to 5"), "{}", e.message);
        effects.postings.push(posting("points", "-5"));
        effects.check_balanced().unwrap();
    }

    #[test]
    fn effects_leave_out_what_is_empty_and_kv_deletes_say_null() {
        let effects = Effects {
            message: Some("Hallo".into()),
            add_tenders: vec![NewTender {
                method: "voucher".into(),
                amount: "10.00".parse().unwrap(),
                max_amount: Some("10.00".parse().unwrap()),
                reference: "V-1".into(),
                data: Value::Null,
            }],
            ..Effects::default()
        };
        assert_eq!(
            serde_json::to_value(&effects).unwrap(),
            json!({"message": "Hallo", "add_tenders": [
                {"method": "voucher", "amount": "10.00", "max_amount": "10.00", "ref": "V-1"}
            ]})
        );
        assert_eq!(
            serde_json::to_value(KvWrite::delete("k")).unwrap(),
            json!({"key": "k", "value": null})
        );
    }

    #[test]
    fn unknown_code_kinds_are_kept() {
        let kind: CodeKind = serde_json::from_value(json!("stamp_card")).unwrap();
        assert_eq!(kind, CodeKind::Other("stamp_card".into()));
        assert_eq!(serde_json::to_value(&kind).unwrap(), json!("stamp_card"));
        assert_eq!(
            serde_json::to_value(CodeKind::DiscountCode).unwrap(),
            json!("discount_code")
        );
    }
}
