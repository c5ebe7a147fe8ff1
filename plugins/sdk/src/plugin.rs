//! What a plugin author implements: [`Plugin`] once, and one small trait per hook the
//! plugin takes part in.
//!
//! # How a hook is declared implemented
//!
//! A hook is implemented exactly when its trait is implemented: `impl ClassifyCode for
//! MyPlugin { … }`. [`posd_plugin!`](crate::posd_plugin) looks at the concrete type and
//! puts a function into the hooks table for every hook trait the type implements, and NULL
//! for every other one, so the host skips the plugin there. There is no second list to keep
//! in step: a hook cannot be implemented but left out of the table, nor be in the table
//! with a "not implemented" body. A method with the wrong signature does not compile.

use serde_json::Value;

use crate::error::PluginError;
use crate::host::Host;
use crate::schema::{
    AbortCheckoutRequest, ApplyRewardRequest, CheckoutEffects, ClassifyCodeRequest,
    ClassifyCodeResponse, CommitCheckoutRequest, CustomerAccountsRequest, CustomerAccountsResponse,
    DeliverMessageRequest, DeliverMessageResponse, Effects, Empty, EnterCodeRequest,
    EnterCodeResponse, EvaluateBasketRequest, EvaluateBasketResponse, InvokeActionRequest,
    InvokeAdminActionRequest, InvokeAdminActionResponse, ListActionsRequest, ListActionsResponse,
    ListAdminActionsRequest, ListAdminActionsResponse, ListRewardsRequest, ListRewardsResponse,
    PrepareCheckoutRequest, ReleaseTenderRequest, ReturnLinesRequest, ReturnLinesResponse,
    ValidateTenderRequest, ValidateTenderResponse, VoidReceiptRequest, VoidReceiptResponse,
};

/// A plugin: who it is and how an instance is made from its configuration.
///
/// The host makes one instance per configured plugin and calls it from one thread of its
/// own, one call at a time, so hook methods take `&mut self` and need no locking. Dropping
/// the instance is `destroy`: put clean-up into `Drop` if there is any.
pub trait Plugin: Sized + Send + 'static {
    /// Stable id: lowercase ASCII letters, digits, `-` and `_`. It names the configuration
    /// section, the kv and ledger namespace, and the plugin in logs and errors; checked when
    /// `posd_plugin!` compiles.
    const ID: &'static str;
    /// Name for people, e.g. in `posctl plugins`.
    const NAME: &'static str;
    /// The plugin's own version; `env!("CARGO_PKG_VERSION")` is the usual choice.
    const VERSION: &'static str;
    /// One line saying what the plugin does.
    const DESCRIPTION: &'static str;

    /// Makes an instance from the plugin's configuration section (a JSON object, `{}` if the
    /// store configured nothing). Refuse a broken configuration here with
    /// `InvalidConfiguration` rather than failing in every sale later;
    /// [`parse_config`](crate::parse_config) reads it into a typed struct.
    fn create(host: &Host, config: Value) -> Result<Self, PluginError>;
}

/// Defines one trait per hook from the list in [`for_each_hook`].
macro_rules! define_hook_traits {
    ($(
        $(#[$doc:meta])*
        $trait:ident :: $method:ident ( $request:ty ) -> $response:ty;
    )*) => {
        $(
            $(#[$doc])*
            pub trait $trait: Plugin {
                /// Answers the hook; an `Err` becomes `POSD_ERROR` with the error object, a
                /// panic becomes `PluginFailed`.
                fn $method(
                    &mut self,
                    host: &Host,
                    request: $request,
                ) -> Result<$response, PluginError>;
            }
        )*
    };
}

/// The hooks of ABI 1.4 in table order, each with its trait, method, request and response;
/// the one list the traits, the trampolines and the table are generated from.
macro_rules! for_each_hook {
    ($callback:ident) => {
        $callback! {
            /// `classify_code`: what a code is, without a sale (balance inquiry at the till,
            /// scanner lookups). Must not change the sale. Answer
            /// [`ClassifyCodeResponse::NotClaimed`] quickly for codes that are not yours:
            /// every plugin is asked in turn.
            ClassifyCode::classify_code(ClassifyCodeRequest) -> ClassifyCodeResponse;
            /// `enter_code`: a code entered on a sale; claim it and say what it does (add a
            /// tender for a voucher, a discount line for a discount code, set the customer for
            /// a card).
            EnterCode::enter_code(EnterCodeRequest) -> EnterCodeResponse;
            /// `list_actions`: the actions (buttons) this plugin offers on the sale now.
            ListActions::list_actions(ListActionsRequest) -> ListActionsResponse;
            /// `invoke_action`: run one of the actions from `list_actions`.
            InvokeAction::invoke_action(InvokeActionRequest) -> Effects;
            /// `evaluate_basket`: automatic discounts and previews, on every basket change;
            /// answer with all of this plugin's automatic lines every time. Runs often: keep
            /// it fast and free of host calls where you can.
            EvaluateBasket::evaluate_basket(EvaluateBasketRequest) -> EvaluateBasketResponse;
            /// `list_rewards`: rewards the customer can take now (points to spend).
            ListRewards::list_rewards(ListRewardsRequest) -> ListRewardsResponse;
            /// `apply_reward`: take one reward from `list_rewards`.
            ApplyReward::apply_reward(ApplyRewardRequest) -> Effects;
            /// `validate_tender`: check and authorise a tender of a method this plugin
            /// declared; refuse with an error (e.g. `InsufficientBalance`).
            ValidateTender::validate_tender(ValidateTenderRequest) -> ValidateTenderResponse;
            /// `prepare_checkout`: postings, outbox messages, receipt sections and kv writes
            /// to commit with the sale. Do not change anything yourself: the host commits it
            /// all in one transaction, then calls `commit_checkout` or `abort_checkout`.
            PrepareCheckout::prepare_checkout(PrepareCheckoutRequest) -> CheckoutEffects;
            /// `commit_checkout`: the checkout prepared before was committed.
            CommitCheckout::commit_checkout(CommitCheckoutRequest) -> Empty;
            /// `abort_checkout`: the checkout prepared before was abandoned; forget it.
            AbortCheckout::abort_checkout(AbortCheckoutRequest) -> Empty;
            /// `void_receipt`: a whole receipt is voided; book the reversal, or refuse with
            /// `NotAllowed` (e.g. an eWallet top-up already spent). A line paid back for
            /// less than its amount (a sold voucher partly spent) goes in `payouts`.
            VoidReceipt::void_receipt(VoidReceiptRequest) -> VoidReceiptResponse;
            /// `return_lines`: lines of a receipt come back; book the reversal, name the
            /// lines that cannot be returned, and take the refund's share on your tenders
            /// (`refunds`) back onto the vouchers, or the return is refused.
            ReturnLines::return_lines(ReturnLinesRequest) -> ReturnLinesResponse;
            /// `deliver_message`: deliver one outbox message to a partner. Called by the
            /// host's outbox worker, never during a sale; still mind the call deadline.
            DeliverMessage::deliver_message(DeliverMessageRequest) -> DeliverMessageResponse;
            /// `customer_accounts`: a customer's accounts and balances with this plugin.
            CustomerAccounts::customer_accounts(CustomerAccountsRequest) -> CustomerAccountsResponse;
            /// `list_admin_actions` (ABI 1.1): the admin actions this plugin offers
            /// technicians outside a sale, each with its posctl command path and params.
            ListAdminActions::list_admin_actions(ListAdminActionsRequest) -> ListAdminActionsResponse;
            /// `invoke_admin_action` (ABI 1.1): run one admin action; the host has checked
            /// the caller is an admin and the args against the declared params.
            InvokeAdminAction::invoke_admin_action(InvokeAdminActionRequest) -> InvokeAdminActionResponse;
            /// `release_tender` (ABI 1.4): a tender of yours (one `validate_tender`
            /// authorised, or one your effects added) is gone before any checkout took it —
            /// the cashier removed it, or the sale was cancelled ([`ReleaseReason`]); release
            /// what you hold for it (a partner's authorisation). Told after the change was
            /// committed, and only once per tender; the host does not wait for the answer,
            /// and an error is only logged. A 1.3 host never calls it: a hold must also end
            /// by itself (the partner's expiry) or with the next checkout.
            ///
            /// [`ReleaseReason`]: crate::schema::ReleaseReason
            ReleaseTender::release_tender(ReleaseTenderRequest) -> Empty;
        }
    };
}
pub(crate) use for_each_hook;

for_each_hook!(define_hook_traits);
