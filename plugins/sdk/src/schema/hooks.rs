//! One request and one response type per hook, in the hooks table's order.
//!
//! Requests carry `"schema": 1`; these types ignore it (and every other key they do not
//! know), because a newer minor only ever adds keys. Responses that are "this or that" on
//! the wire (`{"claimed": false}` or `{"claimed": true, …}`) are enums here, so a plugin
//! cannot claim a code without saying what it is.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Decimal;
use crate::schema::effects::{CheckoutEffects, CodeKind, Effects, RefKind};
use crate::schema::view::{LineKind, Receipt, Sale, Store};
use crate::schema::{is_null, open_string_enum};

/// The request of the hooks that look at a sale and nothing else: `list_actions`,
/// `evaluate_basket` and `list_rewards`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SaleRequest {
    /// The open sale.
    pub sale: Sale,
    /// Where it happens.
    pub store: Store,
}

/// `classify_code` request: what is this code? Asked without a sale (balance inquiry,
/// scanner lookups), so the answer cannot change a sale.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassifyCodeRequest {
    /// The code as entered or scanned.
    pub code: String,
    /// Where it was entered.
    pub store: Store,
}

/// What a claimed code is. `kind` is required on the wire: a claim must say what it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeInfo {
    /// What kind of code.
    pub kind: CodeKind,
    /// Its balance, for vouchers and wallets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<Decimal>,
    /// Expiry date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// State in the plugin's terms, e.g. `active`, `blocked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The customer the code belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Notes for the cashier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl CodeInfo {
    /// A code of this kind with nothing else known.
    pub fn new(kind: CodeKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }
}

/// `classify_code` response.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassifyCodeResponse {
    /// Not this plugin's code; the host asks the next plugin. Wire: `{"claimed": false}`.
    NotClaimed,
    /// This plugin's code. Wire: `{"claimed": true, "kind": …, …}`.
    Claimed(CodeInfo),
}

/// `enter_code` request: a code entered on a sale.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnterCodeRequest {
    /// The open sale.
    pub sale: Sale,
    /// Where it happens.
    pub store: Store,
    /// The code as entered or scanned.
    pub code: String,
}

/// `enter_code` response.
// Returned once per call and serialised at once; boxing `Effects` would only add noise to
// every plugin's code.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum EnterCodeResponse {
    /// Not this plugin's code. Wire: `{"claimed": false}`.
    NotClaimed,
    /// Claimed, with what it does to the sale. Wire: `{"claimed": true, …Effects}`.
    Claimed(Effects),
}

/// `list_actions` request.
pub type ListActionsRequest = SaleRequest;

/// How a frontend asks for an action's parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Free text.
    #[default]
    String,
    /// A decimal string (an amount).
    Decimal,
    /// A whole number.
    Integer,
    /// Yes or no.
    Boolean,
    /// One of `choices`.
    Choice,
    /// A code, typed or scanned.
    Code,
    /// ABI 1.1, admin actions only: a file the client (posctl) writes the answer's
    /// `output` to, on the technician's side, created with mode 0600 and never
    /// overwritten. The value never reaches the host or the plugin, so secrets such as
    /// voucher codes stay out of the daemon's log and disk; without it the client prints
    /// `output` once.
    OutputFile,
}

/// One parameter of an action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActionParam {
    /// Key in the `args` of `invoke_action`.
    pub name: String,
    /// How to ask for it.
    #[serde(rename = "type")]
    pub param_type: ParamType,
    /// Whether the action cannot run without it.
    pub required: bool,
    /// Value taken when the cashier gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Value to offer pre-filled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested: Option<Value>,
    /// The allowed values of a `choice`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// ABI 1.1: one line saying what to give, for `posctl --help` and frontends.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub help: String,
}

/// An action a plugin offers on the sale now; a generic frontend renders it as a button.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Action {
    /// Id, passed back in `invoke_action`.
    pub id: String,
    /// Button text.
    pub label: String,
    /// What to ask before invoking.
    pub params: Vec<ActionParam>,
}

/// `list_actions` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListActionsResponse {
    /// The actions offered now.
    pub actions: Vec<Action>,
}

/// `invoke_action` request; answered with [`Effects`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InvokeActionRequest {
    /// The open sale.
    pub sale: Sale,
    /// Where it happens.
    pub store: Store,
    /// The action's id from `list_actions`.
    pub action: String,
    /// The parameters as the frontend collected them, by name.
    pub args: Map<String, Value>,
}

/// `evaluate_basket` request.
pub type EvaluateBasketRequest = SaleRequest;

/// An automatic line (discount or free product) from `evaluate_basket`.
///
/// The host keeps an automatic line's id (`A1`, `A2`, …) for as long as the plugin keeps
/// answering a line with the same `ref` (the same `name` when `ref` is empty): the line is
/// the same promotion, only its amount or `applies_to` may have changed. Several lines with
/// one `ref` are matched in the order given; give each its own `ref` (rule id plus the line
/// it reduces, say) when they stand for different things. A line that is no longer answered
/// is gone; a later line of that `ref` gets a new id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoLine {
    /// [`LineKind::Discount`], [`LineKind::FreeProduct`] or [`LineKind::PointsRedemption`].
    pub kind: LineKind,
    /// Text on the receipt.
    pub name: String,
    /// Amount, negative.
    pub amount: Decimal,
    /// Ids of the lines it reduces; empty: every good of the sale. The host spreads the
    /// amount over them pro rata for VAT (the ABI guide's "How VAT comes off a reduction").
    pub applies_to: Vec<String>,
    /// Tags for rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The rule or code behind it; also what keeps the line's id from one basket change
    /// to the next.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Whether `ref` is a code (masked where shown or printed, the default) or a rule id such
    /// as `PROMO-EISTEE-3` (shown as it is): a promotion's rule says [`RefKind::Rule`].
    #[serde(skip_serializing_if = "RefKind::is_code")]
    pub ref_kind: RefKind,
    /// Private data the plugin gets back on this line.
    #[serde(skip_serializing_if = "is_null")]
    pub data: Value,
}

open_string_enum! {
    /// What a preview is about, so a customer display can show each kind in its place.
    pub enum PreviewKind {
        /// Points or money the sale will earn ("Sie sammeln 12 Punkte").
        #[default]
        Earn = "earn",
        /// What more would unlock a reward ("1 more Eistee → 1 free").
        Nudge = "nudge",
        /// Anything else worth showing beside the basket.
        Info = "info",
    }
}

/// A preview for the cashier and the customer display ("You will earn 12 points"); the host
/// serves them as `Sale1.Previews`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preview {
    /// What it is about. Left out: `earn` when `points` or `amount` is given, else `info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<PreviewKind>,
    /// Text, in the store's locale.
    pub label: String,
    /// Points to earn, if that is what it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<Decimal>,
    /// An amount, if that is what it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
}

/// `evaluate_basket` response: the host replaces this plugin's previous automatic lines with
/// `lines` on every basket change, so answer with all of them every time; a line answered
/// again with the same `ref` keeps its id (see [`AutoLine`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvaluateBasketResponse {
    /// All automatic lines of this plugin for the basket as it is now.
    pub lines: Vec<AutoLine>,
    /// Previews.
    pub previews: Vec<Preview>,
    /// This answer is the same whatever automatic lines of other plugins the sale holds (it
    /// reads only the cashier's lines, as a discount on goods or a punch card does): the
    /// host may take it although plugins asked before this one added lines since, instead
    /// of asking again after them. Set it only when true; a points preview that counts what
    /// discounts took off is not independent. JSON since 1.3; older hosts ignore it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub independent: bool,
}

/// `list_rewards` request.
pub type ListRewardsRequest = SaleRequest;

/// A reward the customer can take now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Reward {
    /// Id, passed back in `apply_reward`; the host passes only an id offered now.
    pub id: String,
    /// Text.
    pub label: String,
    /// What it is worth.
    pub amount: Decimal,
    /// What it costs in points.
    pub points: Decimal,
}

/// `list_rewards` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListRewardsResponse {
    /// The rewards available now.
    pub rewards: Vec<Reward>,
}

/// `apply_reward` request; answered with [`Effects`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApplyRewardRequest {
    /// The open sale.
    pub sale: Sale,
    /// Where it happens.
    pub store: Store,
    /// The reward's id from `list_rewards`: the host asks `list_rewards` again first and
    /// refuses an id it does not offer now with `NotFound`, without calling `apply_reward`.
    pub reward: String,
}

/// The tender being validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenderRequest {
    /// A method this plugin declared.
    pub method: String,
    /// The amount asked for.
    pub amount: Decimal,
    /// What the frontend sent with it, as strings (e.g. `code`). The host knows only the keys
    /// of its own methods, so a plugin checks these itself: refuse a key the method does not
    /// take with `InvalidArgument` naming the key, as the contract says of unknown keys.
    pub details: Map<String, Value>,
}

/// `validate_tender` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValidateTenderRequest {
    /// The open sale.
    pub sale: Sale,
    /// Where it happens.
    pub store: Store,
    /// The tender.
    pub tender: TenderRequest,
}

/// `validate_tender` response: the tender is accepted (wire: `"accepted": true`); a refusal
/// is an error (`Err(PluginError)`), never `accepted: false`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidateTenderResponse {
    /// The amount accepted (may be less than asked, e.g. a voucher's balance).
    pub amount: Decimal,
    /// The code or authorisation behind it.
    pub reference: String,
    /// Private data the plugin gets back on this tender.
    pub data: Value,
}

/// `prepare_checkout` request: say what to commit; nothing is final until
/// `commit_checkout`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrepareCheckoutRequest {
    /// The sale being checked out.
    pub sale: Sale,
    /// Where it happens.
    pub store: Store,
    /// Checkout id, repeated in commit or abort.
    pub checkout: String,
    /// The receipt id the sale will get.
    pub receipt_id: String,
}

/// `commit_checkout` request; answered with [`Empty`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommitCheckoutRequest {
    /// The checkout id from `prepare_checkout`.
    pub checkout: String,
    /// The committed receipt's id.
    pub receipt_id: String,
}

/// `abort_checkout` request; answered with [`Empty`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AbortCheckoutRequest {
    /// The checkout id from `prepare_checkout`.
    pub checkout: String,
    /// Why, for the log.
    pub reason: String,
}

/// `{}`: the answer of hooks that only acknowledge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// `void_receipt` request; answered with [`CheckoutEffects`] or `NotAllowed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VoidReceiptRequest {
    /// Where it happens.
    pub store: Store,
    /// The receipt being voided.
    pub receipt: Receipt,
    /// The id of the void receipt.
    pub void_receipt_id: String,
}

/// One line being returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReturnedLine {
    /// The line id on the original receipt.
    pub line: String,
    /// How many units come back.
    pub qty: Decimal,
}

/// `return_lines` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReturnLinesRequest {
    /// Where it happens.
    pub store: Store,
    /// The original receipt.
    pub receipt: Receipt,
    /// The lines coming back.
    pub lines: Vec<ReturnedLine>,
    /// The id of the return receipt.
    pub return_receipt_id: String,
    /// The share of the refund that falls on each of this plugin's tenders of the original
    /// receipt (the refund split pro rata over the tenders): the plugin takes it back onto
    /// its voucher in `refunds` of the response, or the return is refused, so a voucher
    /// never turns into cash at the till. Empty when none of its tenders paid the receipt
    /// (and from a host older than this JSON addition, see the ABI version history).
    pub refunds: Vec<TenderRefund>,
    /// Each of this plugin's reductions on the receipt (its discount lines) and what of it
    /// the customer still holds on the goods they keep (ABI 1.3): the plugin answers in
    /// `repriced` what of that they no longer qualify for. Empty from an older host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reductions: Vec<HeldReduction>,
    /// The receipt's lines that earlier returns took back, and how much of each (ABI 1.3):
    /// with `lines`, what the customer keeps is the receipt less both. Empty from an older
    /// host, and for a receipt's first return.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub returned_before: Vec<ReturnedLine>,
}

/// One of the plugin's reductions on a receipt being returned from (ABI 1.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeldReduction {
    /// The reduction's line id on the original receipt.
    pub line: String,
    /// The reduction as sold, positive.
    pub amount: Decimal,
    /// What of it stays with the goods the customer keeps once this return's lines are
    /// back (and those of earlier returns): the host's spread of it over the goods it
    /// reduced, for the units kept; positive.
    pub kept: Decimal,
    /// What earlier returns of the receipt kept back of it (their `repriced`), in all.
    pub kept_back: Decimal,
}

/// How much of a reduction the customer no longer qualifies for with the goods they keep
/// (ABI 1.3), in all: the host keeps back this less what earlier returns kept back (or gives
/// that difference back, when goods an earlier return repriced come back too).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Repriced {
    /// The reduction's line id, one offered in the request's `reductions`.
    pub line: String,
    /// At least 0 and at most the reduction's `kept`; a reduction left out counts as 0.
    pub amount: Decimal,
}

/// A share of a return's refund on one plugin tender of the original receipt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenderRefund {
    /// The tender id on the original receipt (`T2`).
    pub tender: String,
    /// The share, positive (`"18.00"`).
    pub amount: Decimal,
}

/// A share of the refund a plugin takes back onto its voucher or wallet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TakenRefund {
    /// The tender id on the original receipt, one of the request's `refunds`.
    pub tender: String,
    /// What the plugin takes back (and posts in its effects): more than 0, at most the
    /// share offered; the host refuses the return when it is less.
    pub amount: Decimal,
    /// What the return receipt's tender shows (a masked code); the original tender's
    /// reference when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// A line the plugin keeps out of a return (a sold voucher already spent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExcludedLine {
    /// The line id.
    pub line: String,
    /// Why, for the cashier.
    pub message: String,
}

/// `return_lines` response: the bookings of the return plus the lines refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReturnLinesResponse {
    /// Postings, messages, sections and kv writes of the return.
    #[serde(flatten)]
    pub effects: CheckoutEffects,
    /// Lines that cannot be returned, with the reason.
    #[serde(default)]
    pub excluded: Vec<ExcludedLine>,
    /// The shares of the refund (offered in the request's `refunds`) the plugin took back
    /// onto its vouchers; the host books each as the plugin's tender with the negative
    /// amount on the return receipt. An older host ignores it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<TakenRefund>,
    /// The shares (or parts of them, offered in `refunds`) the plugin lets the host pay
    /// out in its own cash, for a configuration that allows it (ABI 1.2, JSON): taken plus
    /// released must be the whole share. An older host ignores it, and the return is then
    /// refused as a share not taken back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released: Vec<TenderRefund>,
    /// Parts of the plugin's reductions the customer no longer qualifies for with what they
    /// keep (ABI 1.3): kept back from the refund and shown on the return receipt. An older
    /// host ignores it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repriced: Vec<Repriced>,
}

/// What the customer gets back for one line of a voided receipt when it is less than the
/// line's amount: a voucher sold on the receipt and partly spent since pays out only what is
/// left. Lines without a payout are reversed in full.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Payout {
    /// The line id on the original receipt (one of the plugin's own lines).
    pub line: String,
    /// Paid back for the line: at least 0, at most the line's amount.
    pub amount: Decimal,
}

/// `void_receipt` response: the bookings of the void plus the lines paid back for less.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoidReceiptResponse {
    /// Postings, messages, sections and kv writes of the void.
    #[serde(flatten)]
    pub effects: CheckoutEffects,
    /// Lines paid back for less than their amount; the host takes the difference off the
    /// refund.
    #[serde(default)]
    pub payouts: Vec<Payout>,
}

/// An outbox message being delivered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryMessage {
    /// The host's message id.
    pub id: String,
    /// As the plugin put it in the outbox.
    pub destination: String,
    /// As the plugin put it in the outbox.
    pub key: String,
    /// As the plugin put it in the outbox.
    pub payload: Value,
    /// 1 on the first try.
    pub attempt: u32,
}

/// `deliver_message` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliverMessageRequest {
    /// The message.
    pub message: DeliveryMessage,
}

/// `deliver_message` response. A permanent failure is an error (`Err(PluginError)`): the
/// host moves the message to the dead letters.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliverMessageResponse {
    /// The partner has it. Wire: `{"delivered": true}`.
    Delivered,
    /// A temporary failure; the host tries again. Wire:
    /// `{"delivered": false, "retry_after_ms": …, "reason": …}`.
    RetryLater {
        /// How long to wait, if the plugin knows (a partner's `Retry-After`).
        retry_after_ms: Option<u64>,
        /// Why, for the log.
        reason: String,
    },
}

/// `customer_accounts` request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerAccountsRequest {
    /// The customer id.
    pub customer: String,
}

/// What kind of account a customer has with a programme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Loyalty points.
    #[default]
    Points,
    /// Stored value.
    Wallet,
    /// Customer credit (residual voucher value).
    Credit,
    /// A card without a balance.
    Card,
}

/// One of a customer's accounts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerAccount {
    /// Programme name for people.
    pub programme: String,
    /// What kind of account.
    pub kind: AccountKind,
    /// Balance.
    pub balance: Decimal,
    /// Currency code or points unit.
    pub unit: String,
}

/// `customer_accounts` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomerAccountsResponse {
    /// The customer's accounts with this plugin.
    pub accounts: Vec<CustomerAccount>,
}

// ---- wire forms of the "this or that" responses ----

/// `{"claimed": …}` followed by the claim's own keys.
#[derive(Serialize, Deserialize)]
struct ClaimWire<T> {
    claimed: bool,
    #[serde(flatten)]
    claim: Option<T>,
}

impl Serialize for ClassifyCodeResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let claim = match self {
            ClassifyCodeResponse::NotClaimed => None,
            ClassifyCodeResponse::Claimed(info) => Some(info),
        };
        ClaimWire {
            claimed: claim.is_some(),
            claim,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ClassifyCodeResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = ClaimWire::<CodeInfo>::deserialize(deserializer)?;
        Ok(match (wire.claimed, wire.claim) {
            (true, Some(info)) => ClassifyCodeResponse::Claimed(info),
            (true, None) => return Err(serde::de::Error::missing_field("kind")),
            (false, _) => ClassifyCodeResponse::NotClaimed,
        })
    }
}

impl Serialize for EnterCodeResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let claim = match self {
            EnterCodeResponse::NotClaimed => None,
            EnterCodeResponse::Claimed(effects) => Some(effects),
        };
        ClaimWire {
            claimed: claim.is_some(),
            claim,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for EnterCodeResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = ClaimWire::<Effects>::deserialize(deserializer)?;
        Ok(if wire.claimed {
            EnterCodeResponse::Claimed(wire.claim.unwrap_or_default())
        } else {
            EnterCodeResponse::NotClaimed
        })
    }
}

#[derive(Serialize, Deserialize)]
struct AcceptedWire {
    accepted: bool,
    #[serde(default)]
    amount: Decimal,
    #[serde(rename = "ref", default)]
    reference: String,
    #[serde(default, skip_serializing_if = "is_null")]
    data: Value,
}

impl Serialize for ValidateTenderResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AcceptedWire {
            accepted: true,
            amount: self.amount,
            reference: self.reference.clone(),
            data: self.data.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ValidateTenderResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = AcceptedWire::deserialize(deserializer)?;
        if !wire.accepted {
            return Err(serde::de::Error::custom(
                "a refused tender is an error object, not accepted: false",
            ));
        }
        Ok(ValidateTenderResponse {
            amount: wire.amount,
            reference: wire.reference,
            data: wire.data,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct DeliveryWire {
    delivered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Serialize for DeliverMessageResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = match self {
            DeliverMessageResponse::Delivered => DeliveryWire {
                delivered: true,
                retry_after_ms: None,
                reason: None,
            },
            DeliverMessageResponse::RetryLater {
                retry_after_ms,
                reason,
            } => DeliveryWire {
                delivered: false,
                retry_after_ms: *retry_after_ms,
                reason: Some(reason.clone()),
            },
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DeliverMessageResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = DeliveryWire::deserialize(deserializer)?;
        Ok(if wire.delivered {
            DeliverMessageResponse::Delivered
        } else {
            DeliverMessageResponse::RetryLater {
                retry_after_ms: wire.retry_after_ms,
                reason: wire.reason.unwrap_or_default(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_are_tagged_with_claimed() {
        assert_eq!(
            serde_json::to_value(ClassifyCodeResponse::NotClaimed).unwrap(),
            json!({"claimed": false})
        );
        let claimed = ClassifyCodeResponse::Claimed(CodeInfo {
            balance: Some("12.50".parse().unwrap()),
            ..CodeInfo::new(CodeKind::Voucher)
        });
        let wire = serde_json::to_value(&claimed).unwrap();
        assert_eq!(
            wire,
            json!({"claimed": true, "kind": "voucher", "balance": "12.50"})
        );
        assert_eq!(
            serde_json::from_value::<ClassifyCodeResponse>(wire).unwrap(),
            claimed
        );
        assert!(serde_json::from_value::<ClassifyCodeResponse>(json!({"claimed": true})).is_err());

        let entered = EnterCodeResponse::Claimed(Effects {
            set_customer: Some("C1".into()),
            ..Effects::default()
        });
        assert_eq!(
            serde_json::to_value(&entered).unwrap(),
            json!({"claimed": true, "set_customer": "C1"})
        );
        assert_eq!(
            serde_json::to_value(EnterCodeResponse::NotClaimed).unwrap(),
            json!({"claimed": false})
        );
    }

    #[test]
    fn a_rule_ref_and_a_preview_kind_travel_only_when_said() {
        let rule = AutoLine {
            kind: LineKind::Discount,
            name: "Eistee 3 für 2".into(),
            amount: "-1.20".parse().unwrap(),
            reference: "PROMO-EISTEE-3".into(),
            ref_kind: RefKind::Rule,
            ..AutoLine::default()
        };
        let wire = serde_json::to_value(&rule).unwrap();
        assert_eq!(wire["ref_kind"], "rule");
        let code = AutoLine {
            ref_kind: RefKind::Code,
            ..rule.clone()
        };
        assert!(
            serde_json::to_value(&code)
                .unwrap()
                .get("ref_kind")
                .is_none(),
            "a code is the default and is left out"
        );
        let read: AutoLine = serde_json::from_value(json!({"ref": "X-1"})).unwrap();
        assert_eq!(
            read.ref_kind,
            RefKind::Code,
            "a line that does not say is a code"
        );

        let nudge = Preview {
            kind: Some(PreviewKind::Nudge),
            label: "1 more Eistee → 1 free".into(),
            ..Preview::default()
        };
        assert_eq!(
            serde_json::to_value(&nudge).unwrap(),
            json!({"kind": "nudge", "label": "1 more Eistee → 1 free"})
        );
        let plain: Preview = serde_json::from_value(json!({"label": "x"})).unwrap();
        assert_eq!(plain.kind, None);
    }

    #[test]
    fn delivery_and_tender_wire_forms() {
        assert_eq!(
            serde_json::to_value(DeliverMessageResponse::Delivered).unwrap(),
            json!({"delivered": true})
        );
        assert_eq!(
            serde_json::to_value(DeliverMessageResponse::RetryLater {
                retry_after_ms: Some(5000),
                reason: "503".into()
            })
            .unwrap(),
            json!({"delivered": false, "retry_after_ms": 5000, "reason": "503"})
        );
        let accepted = ValidateTenderResponse {
            amount: "5.00".parse().unwrap(),
            reference: "W-1".into(),
            data: Value::Null,
        };
        assert_eq!(
            serde_json::to_value(&accepted).unwrap(),
            json!({"accepted": true, "amount": "5.00", "ref": "W-1"})
        );
    }

    #[test]
    fn requests_ignore_unknown_keys_and_refuse_float_money() {
        let request: InvokeActionRequest = serde_json::from_value(json!({
            "schema": 1,
            "added_in_1_7": {"whatever": true},
            "sale": {"id": "S1", "currency": "EUR", "customer": null,
                     "lines": [{"id": "L1", "kind": "gift_wrap", "qty": "1", "amount": "2.00"}],
                     "totals": {"total": "2.00"}},
            "store": {"id": "AT-1"},
            "action": "wave",
            "args": {"times": 3}
        }))
        .unwrap();
        assert_eq!(
            request.sale.lines[0].kind,
            LineKind::Other("gift_wrap".into())
        );
        assert_eq!(request.sale.totals.total.to_string(), "2.00");
        assert_eq!(request.args["times"], json!(3));

        let float_money = serde_json::from_value::<SaleRequest>(json!({
            "sale": {"totals": {"total": 2.0}}
        }));
        assert!(float_money.is_err(), "money must be a decimal string");
    }

    #[test]
    fn void_response_flattens_the_effects_and_reads_payouts_as_decimals() {
        let response: VoidReceiptResponse = serde_json::from_value(json!({
            "postings": [], "payouts": [{"line": "L2", "amount": "7.60"}]
        }))
        .unwrap();
        assert_eq!(response.payouts[0].line, "L2");
        assert_eq!(response.payouts[0].amount.to_string(), "7.60");
        let plain: VoidReceiptResponse = serde_json::from_value(json!({})).unwrap();
        assert!(plain.payouts.is_empty(), "payouts are optional");
        let float_money = serde_json::from_value::<VoidReceiptResponse>(json!({
            "payouts": [{"line": "L2", "amount": 7.6}]
        }));
        assert!(float_money.is_err(), "money must be a decimal string");
    }

    #[test]
    fn return_refunds_are_decimal_strings_and_optional() {
        let request: ReturnLinesRequest = serde_json::from_value(json!({
            "refunds": [{"tender": "T1", "amount": "18.00"}]
        }))
        .unwrap();
        assert_eq!(request.refunds[0].amount.to_string(), "18.00");
        let response: ReturnLinesResponse = serde_json::from_value(json!({
            "refunds": [{"tender": "T1", "amount": "18.00", "reference": "****0001"}]
        }))
        .unwrap();
        assert_eq!(response.refunds[0].reference.as_deref(), Some("****0001"));
        let plain: ReturnLinesResponse = serde_json::from_value(json!({})).unwrap();
        assert!(plain.refunds.is_empty(), "refunds are optional");
        let float_money = serde_json::from_value::<ReturnLinesResponse>(json!({
            "refunds": [{"tender": "T1", "amount": 18.0}]
        }));
        assert!(float_money.is_err(), "money must be a decimal string");
    }

    #[test]
    fn a_return_tells_what_reductions_the_kept_goods_hold_and_takes_back_what_is_repriced() {
        let request: ReturnLinesRequest = serde_json::from_value(json!({
            "lines": [{"line": "L1", "qty": "1"}],
            "returned_before": [{"line": "L1", "qty": "2"}],
            "reductions": [{"line": "L3", "amount": "2.58", "kept": "0.86", "kept_back": "0"}]
        }))
        .unwrap();
        assert_eq!(request.reductions[0].kept, Decimal::new(86, 2));
        assert_eq!(request.returned_before[0].qty, Decimal::TWO);
        let older: ReturnLinesRequest = serde_json::from_value(json!({"lines": []})).unwrap();
        assert!(older.reductions.is_empty() && older.returned_before.is_empty());
        let response: ReturnLinesResponse =
            serde_json::from_value(json!({"repriced": [{"line": "L3", "amount": "0.86"}]}))
                .unwrap();
        assert_eq!(response.repriced[0].amount, Decimal::new(86, 2));
        assert!(
            serde_json::from_value::<ReturnLinesResponse>(
                json!({"repriced": [{"line": "L3", "amount": 0.86}]})
            )
            .is_err(),
            "money must be a decimal string"
        );
        // Nothing repriced: the key is left out, as a 1.2 plugin's answer.
        let json = serde_json::to_value(ReturnLinesResponse::default()).unwrap();
        assert!(json.get("repriced").is_none(), "{json}");
    }

    #[test]
    fn return_response_flattens_the_checkout_effects() {
        let response = ReturnLinesResponse {
            effects: CheckoutEffects::default(),
            excluded: vec![ExcludedLine {
                line: "L1".into(),
                message: "voucher already spent".into(),
            }],
            refunds: Vec::new(),
            released: Vec::new(),
            repriced: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"postings": [], "outbox": [], "sections": [], "kv": [],
                   "excluded": [{"line": "L1", "message": "voucher already spent"}]})
        );
    }
}

/// `list_admin_actions` request (ABI 1.1): asked outside any sale, when a technician lists
/// or runs admin actions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListAdminActionsRequest {
    /// Where it happens.
    pub store: Store,
}

/// An admin action (ABI 1.1): something a plugin offers technicians outside a sale, such
/// as issuing a promotional batch of vouchers. Only admins (root or group `posd-admin`)
/// may list or run them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminAction {
    /// Id, passed back in `invoke_admin_action`; unique within the plugin.
    pub id: String,
    /// The command path posctl runs it under, e.g. `["voucher", "issue"]` for
    /// `posctl voucher issue`: lowercase words of letters, digits and `-`.
    pub command: Vec<String>,
    /// One line for people (`posctl admin-actions`).
    pub label: String,
    /// Longer help, may be empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub help: String,
    /// The parameters, checked by the host like a sale action's before the plugin sees
    /// them; posctl takes each as `--name value`.
    pub params: Vec<ActionParam>,
}

/// `list_admin_actions` response (ABI 1.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListAdminActionsResponse {
    /// The admin actions the plugin offers.
    pub actions: Vec<AdminAction>,
}

/// `invoke_admin_action` request (ABI 1.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InvokeAdminActionRequest {
    /// Where it happens.
    pub store: Store,
    /// The action's id from `list_admin_actions`.
    pub action: String,
    /// The arguments, checked against the declared params (`output_file` params are never
    /// sent: the client keeps them).
    pub args: Map<String, Value>,
}

/// `invoke_admin_action` response (ABI 1.1; `effects` since 1.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InvokeAdminActionResponse {
    /// What the action did, for scripts (`posctl … --json`).
    #[serde(skip_serializing_if = "is_null")]
    pub result: Value,
    /// The same for people (`posctl …` without `--json`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Text the client writes to the action's `output_file` argument, or prints once when
    /// none was given (e.g. the codes of a batch, one a line). The host does not log it.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output: String,
    /// ABI 1.2: what the action commits — postings, kv writes and outbox messages under the
    /// rules of `prepare_checkout`'s (each unit balances, floors hold; no `sections`, there
    /// is no receipt). The host commits them in one transaction, as one journal entry
    /// `admin:<plugin>:<action>:<n>`, before it answers; if it refuses them nothing is
    /// written and the caller gets the error, never `result`, `text` or `output`. A 1.1
    /// host ignores this key, so offer an action that needs it only when
    /// [`Host::abi_minor`](crate::Host::abi_minor) is at least 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effects: Option<CheckoutEffects>,
}

open_string_enum! {
    /// Why a tender is released (`release_tender`, ABI 1.4). A later minor may add reasons;
    /// they arrive as `Other` and mean the same: the tender is gone, release it.
    pub enum ReleaseReason {
        /// The cashier took the tender off the sale (`Sale1.RemoveTender`).
        #[default]
        Removed = "removed",
        /// The sale was cancelled (`Sale1.Cancel`) with the tender still on it.
        Cancelled = "cancelled",
    }
}

/// The tender a `release_tender` request is about (ABI 1.4), as it was on the sale.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleasedTender {
    /// Its id on the sale (`T2`); ids are not given out again within the sale.
    pub id: String,
    /// Its method, one this plugin declared (or gave it in its effects).
    pub method: String,
    /// The amount it paid.
    pub amount: Decimal,
    /// The code or authorisation behind it: `validate_tender`'s `ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The private data the plugin gave the tender (`validate_tender`'s `data`).
    pub data: Value,
}

/// `release_tender` request (ABI 1.4); answered with [`Empty`], which the host does not
/// wait for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleaseTenderRequest {
    /// The sale as it is now that the change is committed: without the tender for
    /// [`ReleaseReason::Removed`], cancelled and with its tenders for
    /// [`ReleaseReason::Cancelled`].
    pub sale: Sale,
    /// Where it happens.
    pub store: Store,
    /// The tender that is gone.
    pub tender: ReleasedTender,
    /// Why it is gone.
    pub reason: ReleaseReason,
}

#[cfg(test)]
mod release_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_release_request_reads_the_tender_with_its_ref_data_and_reason() {
        let request: ReleaseTenderRequest = serde_json::from_value(json!({
            "schema": 1,
            "sale": {"id": "s1", "tenders": []},
            "store": {"id": "AT-1"},
            "tender": {"id": "T2", "method": "partner_points", "amount": "12.00",
                       "ref": "AUTH-7", "data": {"hold": "H-1"}},
            "reason": "cancelled"
        }))
        .unwrap();
        assert_eq!(request.tender.reference, "AUTH-7");
        assert_eq!(request.tender.amount, Decimal::new(1200, 2));
        assert_eq!(request.tender.data["hold"], "H-1");
        assert_eq!(request.reason, ReleaseReason::Cancelled);
        let later: ReleaseTenderRequest =
            serde_json::from_value(json!({"reason": "expired"})).unwrap();
        assert_eq!(later.reason, ReleaseReason::Other("expired".into()));
        assert!(
            serde_json::from_value::<ReleaseTenderRequest>(
                json!({"tender": {"amount": 12.0}, "reason": "removed"})
            )
            .is_err(),
            "money must be a decimal string"
        );
    }
}
