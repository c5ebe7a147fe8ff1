//! posd-cards — customer-card programmes for posd (AMPAREX "Kundenbindungsprogramme",
//! `../shared/seeds/001`): up to five programmes on one card, combinable.
//!
//! A card is sold at the till (`sell-card`), which assigns its card type's programmes to the
//! sale's customer; scanning it later puts that customer on the sale. The programmes:
//!
//! - [`credit`]: stored value, topped up as a line outside VAT and spent as a tender;
//! - [`discount`]: x % off tagged goods for holders, an automatic discount line;
//! - [`punches`]: the bonus article, every Nth item of a group free, on a punch-card
//!   counter that voids take back exactly;
//! - [`warranty`]: an extended warranty recorded with the item's serial number, printed on
//!   the receipt and found with `posctl warranty SERIAL`;
//! - [`sessions`]: N sessions, one used per visit, the rest printed.
//!
//! The rest of the crate: [`config`] (the `[plugin.cards]` section, checked at load),
//! [`number`] (card numbers with an EAN check digit), [`store`] (every kv key and ledger
//! account), [`holdings`] (what a customer holds), [`selling`] (cards sold and voided),
//! [`scan`] (cards scanned or typed), [`accounts`] (`Manager1.Customer`), [`lines`] (the
//! plugin's data on lines and tenders), [`date`] and [`error`]. Balances live in the host's
//! ledger and the cards in its kv store, all written with the checkouts and voids that
//! change them, never only in memory. See `README.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounts;
pub mod config;
pub mod credit;
pub use posd_plugin_sdk::date;
pub mod discount;
pub mod error;
pub mod holdings;
pub mod lines;
pub mod number;
pub mod punches;
pub mod scan;
pub mod selling;
pub mod sessions;
pub mod store;
pub mod warranty;

use std::collections::BTreeMap;

use posd_plugin_sdk::schema::{
    CheckoutEffects, ClassifyCodeRequest, ClassifyCodeResponse, CustomerAccountsRequest,
    CustomerAccountsResponse, Effects, EnterCodeRequest, EnterCodeResponse, EvaluateBasketRequest,
    EvaluateBasketResponse, ExcludedLine, InvokeActionRequest, InvokeAdminActionRequest,
    InvokeAdminActionResponse, ListActionsRequest, ListActionsResponse, ListAdminActionsRequest,
    ListAdminActionsResponse, PrepareCheckoutRequest, ReturnLinesRequest, ReturnLinesResponse,
    ValidateTenderRequest, ValidateTenderResponse, VoidReceiptRequest, VoidReceiptResponse,
};
use posd_plugin_sdk::serde_json::Value;
use posd_plugin_sdk::{
    ClassifyCode, CustomerAccounts, Decimal, EnterCode, EvaluateBasket, Host, InvokeAction,
    InvokeAdminAction, ListActions, ListAdminActions, Plugin, PluginError, PrepareCheckout,
    ReturnLines, ValidateTender, VoidReceipt, posd_plugin,
};

use crate::config::{Config, Kind, Terms};
use crate::holdings::holdings;
use crate::lines::{LineData, own_lines};

/// The plugin id: the `plugin` of its lines and tenders, its kv and ledger namespace.
pub const ID: &str = "cards";

/// One instance: only the checked configuration. Everything else is in the host.
pub struct Cards {
    config: Config,
}

impl Cards {
    /// An instance of a checked configuration.
    pub fn new(config: Config) -> Self {
        Cards { config }
    }
}

impl Plugin for Cards {
    const ID: &'static str = ID;
    const NAME: &'static str = "Kundenkarten";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Customer cards with up to five programmes: stored value, holder discounts, punch cards, warranty extensions, session cards";

    fn create(host: &Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::parse(config)?;
        host.info(&format!(
            "{} programme(s), {} card type(s), card numbers {}… ({} digits)",
            config.programmes.len(),
            config.card_types.len(),
            config.number_prefix,
            config.number_length
        ));
        Ok(Cards::new(config))
    }
}

/// The unit of money postings: the sale's currency, else the store's.
fn unit_of<'a>(sale_currency: &'a str, store_currency: &'a str) -> &'a str {
    if sale_currency.is_empty() {
        store_currency
    } else {
        sale_currency
    }
}

impl ClassifyCode for Cards {
    fn classify_code(
        &mut self,
        host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        Ok(
            match scan::card_of_code(host, &self.config, &request.code)? {
                None => ClassifyCodeResponse::NotClaimed,
                Some(card) => ClassifyCodeResponse::Claimed(scan::info(host, &self.config, &card)?),
            },
        )
    }
}

impl EnterCode for Cards {
    fn enter_code(
        &mut self,
        host: &Host,
        request: EnterCodeRequest,
    ) -> Result<EnterCodeResponse, PluginError> {
        Ok(
            match scan::card_of_code(host, &self.config, &request.code)? {
                None => EnterCodeResponse::NotClaimed,
                Some(card) => EnterCodeResponse::Claimed(scan::enter(&self.config, &card)),
            },
        )
    }
}

impl ListActions for Cards {
    fn list_actions(
        &mut self,
        host: &Host,
        request: ListActionsRequest,
    ) -> Result<ListActionsResponse, PluginError> {
        // Without a customer every action is offered, so the cashier who tries one is told
        // CustomerRequired; with one, only what the customer's cards carry.
        let held = match request.sale.customer.as_deref().filter(|c| !c.is_empty()) {
            Some(customer) => Some(holdings(host, &self.config, customer)?),
            None => None,
        };
        let has = |kind: Kind| {
            held.as_ref()
                .is_none_or(|held| held.iter().any(|h| h.programme.kind() == kind))
        };
        let mut actions = vec![selling::action(&self.config)];
        if has(Kind::StoredValue) {
            actions.push(credit::action());
        }
        if has(Kind::Sessions) {
            actions.push(sessions::action());
        }
        if has(Kind::Warranty) {
            actions.push(warranty::action());
        }
        Ok(ListActionsResponse { actions })
    }
}

impl InvokeAction for Cards {
    fn invoke_action(
        &mut self,
        host: &Host,
        request: InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        match request.action.as_str() {
            selling::SELL_CARD => selling::sell(host, &self.config, &request),
            credit::TOPUP => credit::topup(host, &self.config, &request),
            sessions::USE_SESSION => sessions::use_one(host, &self.config, &request),
            warranty::WARRANTY => warranty::register(host, &self.config, &request),
            other => Err(PluginError::not_found(format!("no action {other}"))),
        }
    }
}

impl EvaluateBasket for Cards {
    fn evaluate_basket(
        &mut self,
        host: &Host,
        request: EvaluateBasketRequest,
    ) -> Result<EvaluateBasketResponse, PluginError> {
        let Some(customer) = request.sale.customer.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(EvaluateBasketResponse::default());
        };
        let held = holdings(host, &self.config, customer)?;
        if !held.iter().any(|h| {
            matches!(
                h.programme.terms,
                Terms::Discount { .. } | Terms::BonusArticle { .. }
            )
        }) {
            return Ok(EvaluateBasketResponse::default());
        }
        let walks = punches::walks(host, &held, customer, &request.sale)?;
        let (mut lines, previews) = punches::evaluate(&walks)?;
        let mut free: BTreeMap<String, Decimal> = BTreeMap::new();
        for (_, _, w) in &walks {
            for (line, price) in &w.free {
                *free.entry(line.clone()).or_default() += *price;
            }
        }
        lines.extend(discount::evaluate(&held, &request.sale, &free)?);
        Ok(EvaluateBasketResponse {
            lines,
            previews,
            // Holder discounts and punches count the goods alone, never other reductions.
            independent: true,
        })
    }
}

impl ValidateTender for Cards {
    fn validate_tender(
        &mut self,
        host: &Host,
        request: ValidateTenderRequest,
    ) -> Result<ValidateTenderResponse, PluginError> {
        if request.tender.method != self.config.tender_method {
            return Err(PluginError::not_found(format!(
                "tender method {:?} is not this plugin's",
                request.tender.method
            )));
        }
        credit::validate(host, &self.config, &request)
    }
}

impl PrepareCheckout for Cards {
    fn prepare_checkout(
        &mut self,
        host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let sale = &request.sale;
        let unit = unit_of(&sale.currency, &request.store.currency);
        holdings::check_holders(host, sale)?;
        let mut effects = CheckoutEffects::default();
        selling::checkout(host, &self.config, sale, &request.receipt_id, &mut effects)?;
        credit::checkout(host, &self.config, sale, unit, &mut effects)?;
        sessions::checkout(host, &self.config, sale, &mut effects)?;
        warranty::checkout(host, &self.config, sale, &request.receipt_id, &mut effects)?;
        let held = match sale.customer.as_deref().filter(|c| !c.is_empty()) {
            Some(customer) => holdings(host, &self.config, customer)?,
            None => Vec::new(),
        };
        punches::checkout(host, &held, sale, &request.receipt_id, &mut effects)?;
        Ok(effects)
    }
}

impl VoidReceipt for Cards {
    fn void_receipt(
        &mut self,
        host: &Host,
        request: VoidReceiptRequest,
    ) -> Result<VoidReceiptResponse, PluginError> {
        let receipt = &request.receipt;
        let unit = request.store.currency.as_str();
        let mut effects = CheckoutEffects::default();
        credit::void(host, &self.config, receipt, unit, &mut effects)?;
        sessions::void(host, &self.config, receipt, &mut effects)?;
        punches::void(host, &self.config, receipt, &mut effects)?;
        warranty::void(host, receipt, &request.void_receipt_id, &mut effects)?;
        selling::void(host, receipt, &mut effects)?;
        Ok(VoidReceiptResponse {
            effects,
            payouts: Vec::new(),
        })
    }
}

impl ReturnLines for Cards {
    fn return_lines(
        &mut self,
        host: &Host,
        request: ReturnLinesRequest,
    ) -> Result<ReturnLinesResponse, PluginError> {
        let unit = request.store.currency.clone();
        let mut effects = CheckoutEffects::default();
        let mut excluded = Vec::new();
        for returned in &request.lines {
            let Some((_, data)) =
                own_lines(&request.receipt.lines).find(|(l, _)| l.id == returned.line)
            else {
                continue;
            };
            let message = match data {
                LineData::SellCard { .. } => {
                    "Kundenkarten werden nicht zurückgenommen: Storno des Verkaufs"
                }
                LineData::Topup { .. } => {
                    "Aufladungen werden nicht zurückgenommen: Storno der Aufladung"
                }
                LineData::Session { .. } => {
                    "Genutzte Einheiten werden nicht zurückgenommen: Storno des Besuchs"
                }
                LineData::Warranty { .. } => "Garantieverlängerungen werden nicht zurückgenommen",
                LineData::Bonus { .. } | LineData::Discount { .. } => continue,
            };
            excluded.push(ExcludedLine {
                line: returned.line.clone(),
                message: message.into(),
            });
        }
        punches::returns(host, &self.config, &request, &mut effects, &mut excluded)?;
        warranty::returns(host, &request, &excluded, &mut effects)?;
        let refunds = credit::refunds(host, &self.config, &request, &unit, &mut effects)?;
        Ok(ReturnLinesResponse {
            effects,
            excluded,
            refunds,
            ..ReturnLinesResponse::default()
        })
    }
}

impl CustomerAccounts for Cards {
    fn customer_accounts(
        &mut self,
        host: &Host,
        request: CustomerAccountsRequest,
    ) -> Result<CustomerAccountsResponse, PluginError> {
        Ok(CustomerAccountsResponse {
            accounts: accounts::of_customer(host, &self.config, &request.customer)?,
        })
    }
}

impl ListAdminActions for Cards {
    fn list_admin_actions(
        &mut self,
        _host: &Host,
        _request: ListAdminActionsRequest,
    ) -> Result<ListAdminActionsResponse, PluginError> {
        Ok(ListAdminActionsResponse {
            actions: vec![warranty::admin_action()],
        })
    }
}

impl InvokeAdminAction for Cards {
    fn invoke_admin_action(
        &mut self,
        host: &Host,
        request: InvokeAdminActionRequest,
    ) -> Result<InvokeAdminActionResponse, PluginError> {
        match request.action.as_str() {
            warranty::WARRANTY => warranty::lookup(host, &request.args),
            other => Err(PluginError::not_found(format!("no admin action {other}"))),
        }
    }
}

posd_plugin!(Cards);

#[cfg(test)]
mod tests;
