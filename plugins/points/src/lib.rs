//! posd-points — loyalty points and cashback (PREMIER CashBack, seed 004; ETRON loyalty,
//! seed 002): programmes that award points or virtual money for goods bought, shown live on
//! the basket, posted at checkout, taken back by voids and returns, redeemed with a
//! coefficient or in reward blocks, expiring first in, first out. Balances live in the
//! host's ledger only. See README.md for configuration, accounts and the algorithms.
//!
//! Reading order:
//! - [`config`]: `[plugin.points]`, checked at `create` (the key named when wrong).
//! - [`accrual`]: the goods after reductions and what each programme's rules give them.
//! - [`fifo`]: a customer's balance as lots, expiry and what a redemption spends.
//! - [`accounts`]: the ledger accounts and the postings that move them.
//! - [`choices`], [`basket`]: what the cashier chose to redeem, and the redemption lines
//!   that follow the basket.
//! - [`redemption`]: the redeem action and rewards.
//! - [`checkout`]: what a sale posts and prints; [`record`] what it keeps for reversals.
//! - [`reversal`]: voids and returns.
//! - [`admin`]: `posctl points CUSTOMER` and `posctl points expire`.
//! - [`texts`], [`date`], [`error`]: words, days, errors.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounts;
pub mod accrual;
pub mod admin;
pub mod basket;
pub mod checkout;
pub mod choices;
pub mod config;
pub use posd_plugin_sdk::date;
pub mod error;
pub mod fifo;
pub mod record;
pub mod redemption;
pub mod reversal;
pub mod texts;

use std::collections::HashMap;

use posd_plugin_sdk::schema::{
    AbortCheckoutRequest, AccountKind, ApplyRewardRequest, CheckoutEffects, CommitCheckoutRequest,
    CustomerAccount, CustomerAccountsRequest, CustomerAccountsResponse, Effects, Empty,
    EvaluateBasketRequest, EvaluateBasketResponse, InvokeActionRequest, InvokeAdminActionRequest,
    InvokeAdminActionResponse, ListActionsRequest, ListActionsResponse, ListAdminActionsRequest,
    ListAdminActionsResponse, ListRewardsRequest, ListRewardsResponse, PrepareCheckoutRequest,
    Preview, PreviewKind, ReturnLinesRequest, ReturnLinesResponse, VoidReceiptRequest,
    VoidReceiptResponse,
};
use posd_plugin_sdk::serde_json::Value;
use posd_plugin_sdk::{
    AbortCheckout, ApplyReward, CommitCheckout, CustomerAccounts, Decimal, EvaluateBasket, Host,
    InvokeAction, InvokeAdminAction, ListActions, ListAdminActions, ListRewards, Plugin,
    PluginError, PrepareCheckout, ReturnLines, VoidReceipt, posd_plugin,
};

use crate::accounts::customer_account;
use crate::accrual::Customer;
use crate::choices::Choices;
use crate::config::{Config, Kind};
use crate::reversal::Scope;

/// The plugin id: its lines' `plugin` and its ledger and kv namespace.
pub const ID: &str = "points";

/// One instance: the checked configuration, the cashier's choices on open sales (also in
/// kv), and the sale of each checkout being prepared.
pub struct Points {
    config: Config,
    choices: Choices,
    preparing: HashMap<String, String>,
}

impl Plugin for Points {
    const ID: &'static str = ID;
    const NAME: &'static str = "Treuepunkte & CashBack";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Loyalty points and cashback earned and redeemed at the till, kept in the host's ledger";

    fn create(host: &Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::parse(config)?;
        host.info(&format!(
            "{} programme(s): {}",
            config.programmes.len(),
            config
                .programmes
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(Points {
            config,
            choices: Choices::load(host)?,
            preparing: HashMap::new(),
        })
    }
}

impl EvaluateBasket for Points {
    /// The redemption lines of the cashier's choice on the basket as it is, and what the
    /// sale will earn after every reduction (previews of kind `earn`).
    fn evaluate_basket(
        &mut self,
        host: &Host,
        request: EvaluateBasketRequest,
    ) -> Result<EvaluateBasketResponse, PluginError> {
        let sale = &request.sale;
        let words = texts::words(&request.store.locale);
        let Some(customer) = sale.customer.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Ok(EvaluateBasketResponse::default());
        };
        let lines = basket::others(&sale.lines, ID);
        let choice = self.choices.of(&sale.id, Some(customer));
        let plan = basket::plan(&self.config, &lines, &sale.customer_groups, choice, words);
        let goods = accrual::goods(&lines, plan.reduction());
        let mut turnover = checkout::turnover_of(host, customer);
        let mut previews = Vec::new();
        for programme in &self.config.programmes {
            let earning = accrual::earn(
                programme,
                &goods,
                &mut Customer {
                    groups: &sale.customer_groups,
                    turnover: &mut turnover,
                },
            )?;
            if earning.points <= Decimal::ZERO {
                continue;
            }
            let (points, amount) = match programme.kind {
                Kind::Points => (Some(earning.points), None),
                Kind::Money => (None, Some(earning.points)),
            };
            previews.push(Preview {
                kind: Some(PreviewKind::Earn),
                label: format!(
                    "{} {} ({})",
                    words.earn,
                    texts::quantity(programme, earning.points, words),
                    programme.name
                ),
                points,
                amount,
            });
        }
        Ok(EvaluateBasketResponse {
            lines: plan.auto_lines(),
            previews,
            // What the sale earns counts what the other plugins' discounts took off.
            independent: false,
        })
    }
}

impl ListActions for Points {
    fn list_actions(
        &mut self,
        host: &Host,
        request: ListActionsRequest,
    ) -> Result<ListActionsResponse, PluginError> {
        let words = texts::words(&request.store.locale);
        Ok(ListActionsResponse {
            actions: redemption::list_actions(
                &self.config,
                &self.choices,
                host,
                &request.sale,
                words,
            )?,
        })
    }
}

impl InvokeAction for Points {
    fn invoke_action(
        &mut self,
        host: &Host,
        request: InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        let words = texts::words(&request.store.locale);
        redemption::invoke(
            &self.config,
            &mut self.choices,
            host,
            &request.sale,
            &request.action,
            &request.args,
            words,
        )
    }
}

impl ListRewards for Points {
    fn list_rewards(
        &mut self,
        host: &Host,
        request: ListRewardsRequest,
    ) -> Result<ListRewardsResponse, PluginError> {
        let words = texts::words(&request.store.locale);
        Ok(ListRewardsResponse {
            rewards: redemption::list_rewards(
                &self.config,
                &self.choices,
                host,
                &request.sale,
                words,
            )?,
        })
    }
}

impl ApplyReward for Points {
    fn apply_reward(
        &mut self,
        host: &Host,
        request: ApplyRewardRequest,
    ) -> Result<Effects, PluginError> {
        let words = texts::words(&request.store.locale);
        redemption::apply_reward(
            &self.config,
            &mut self.choices,
            host,
            &request.sale,
            &request.reward,
            words,
        )
    }
}

impl PrepareCheckout for Points {
    fn prepare_checkout(
        &mut self,
        host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let words = texts::words(&request.store.locale);
        let effects = checkout::prepare(
            &self.config,
            host,
            &request.sale,
            &request.receipt_id,
            words,
        )?;
        self.preparing
            .insert(request.checkout.clone(), request.sale.id.clone());
        Ok(effects)
    }
}

impl CommitCheckout for Points {
    fn commit_checkout(
        &mut self,
        _host: &Host,
        request: CommitCheckoutRequest,
    ) -> Result<Empty, PluginError> {
        if let Some(sale) = self.preparing.remove(&request.checkout) {
            self.choices.forget(&sale);
        }
        Ok(Empty {})
    }
}

impl AbortCheckout for Points {
    fn abort_checkout(
        &mut self,
        _host: &Host,
        request: AbortCheckoutRequest,
    ) -> Result<Empty, PluginError> {
        // The choice stays (in memory and kv): the sale is still open.
        self.preparing.remove(&request.checkout);
        Ok(Empty {})
    }
}

impl VoidReceipt for Points {
    fn void_receipt(
        &mut self,
        host: &Host,
        request: VoidReceiptRequest,
    ) -> Result<VoidReceiptResponse, PluginError> {
        let words = texts::words(&request.store.locale);
        let effects = reversal::reverse(&self.config, host, &request.receipt, Scope::Void, words)?;
        Ok(VoidReceiptResponse {
            effects,
            payouts: Vec::new(),
        })
    }
}

impl ReturnLines for Points {
    fn return_lines(
        &mut self,
        host: &Host,
        request: ReturnLinesRequest,
    ) -> Result<ReturnLinesResponse, PluginError> {
        let words = texts::words(&request.store.locale);
        let effects = reversal::reverse(
            &self.config,
            host,
            &request.receipt,
            Scope::Return(&request.lines),
            words,
        )?;
        Ok(ReturnLinesResponse {
            effects,
            ..ReturnLinesResponse::default()
        })
    }
}

impl CustomerAccounts for Points {
    /// The customer's balance in every programme (0 where they have none yet).
    fn customer_accounts(
        &mut self,
        host: &Host,
        request: CustomerAccountsRequest,
    ) -> Result<CustomerAccountsResponse, PluginError> {
        let mut accounts = Vec::new();
        for programme in &self.config.programmes {
            let balance = host.ledger_balance(&customer_account(programme, &request.customer))?;
            accounts.push(CustomerAccount {
                programme: programme.name.clone(),
                kind: AccountKind::Points,
                balance: balance.balance,
                unit: programme.unit.clone(),
            });
        }
        Ok(CustomerAccountsResponse { accounts })
    }
}

impl ListAdminActions for Points {
    fn list_admin_actions(
        &mut self,
        host: &Host,
        _request: ListAdminActionsRequest,
    ) -> Result<ListAdminActionsResponse, PluginError> {
        Ok(ListAdminActionsResponse {
            actions: admin::list(host.abi_minor()),
        })
    }
}

impl InvokeAdminAction for Points {
    fn invoke_admin_action(
        &mut self,
        host: &Host,
        request: InvokeAdminActionRequest,
    ) -> Result<InvokeAdminActionResponse, PluginError> {
        admin::invoke(&self.config, host, &request)
    }
}

posd_plugin!(Points);

#[cfg(test)]
mod tests;
