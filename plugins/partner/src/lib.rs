//! posd-partner — a bonus partner programme for posd (PAYBACK Austria, `../shared/seeds/000`):
//! customers collect the partner's points on tagged articles and pay with them; what the
//! partner must know travels in the background.
//!
//! - **Collecting**: the partner card (scanned, typed or through the `collect` action) and
//!   any number of action coupons (`add-coupon`, or scanned) are put on the sale
//!   ([`collect`]); the cashier gets a confirmation or a named error. At checkout the
//!   eligible turnover (articles with the configured tag, after the reductions on them,
//!   [`turnover`]), the card and the coupons become an outbox message, committed with the
//!   checkout.
//! - **Paying**: the tender method `partner_points` is authorised online within a timeout
//!   below the call deadline ([`partner`]); the hold is captured at checkout by an outbox
//!   message and released when the tender is removed or the sale cancelled
//!   (`release_tender`, ABI 1.4). An authorisation that timed out is cancelled at once, or
//!   by the next checkout's outbox when the partner is down.
//! - **Background**: the host's outbox delivers every message with its idempotency key
//!   (`deliver_message`), so the partner counts each once; voids and returns send
//!   corrections and refunds.
//!
//! See `README.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod collect;
pub mod config;
pub mod number;
pub mod partner;
pub mod turnover;

use std::collections::BTreeMap;
use std::time::Duration;

use posd_plugin_sdk::schema::{
    Action, ActionParam, CheckoutEffects, ClassifyCodeRequest, ClassifyCodeResponse, CodeInfo,
    CodeKind, DeliverMessageRequest, DeliverMessageResponse, Effects, Empty, EnterCodeRequest,
    EnterCodeResponse, EvaluateBasketRequest, EvaluateBasketResponse, InvokeActionRequest, KvWrite,
    ListActionsRequest, ListActionsResponse, OutboxMessage, ParamType, PrepareCheckoutRequest,
    Preview, PreviewKind, ReceiptSection, ReleaseTenderRequest, ReturnLinesRequest,
    ReturnLinesResponse, TakenRefund, ValidateTenderRequest, ValidateTenderResponse,
    VoidReceiptRequest, VoidReceiptResponse,
};
use posd_plugin_sdk::serde_json::{Value, json};
use posd_plugin_sdk::{
    ClassifyCode, Decimal, DeliverMessage, EnterCode, EvaluateBasket, Host, InvokeAction,
    ListActions, Plugin, PluginError, PrepareCheckout, ReleaseTender, ReturnLines, ValidateTender,
    VoidReceipt, posd_plugin,
};

use crate::collect::{Collected, ReceiptRecord, TenderData};
use crate::config::Config;
use crate::number::{Recognised, masked};
use crate::partner::{Partner, PartnerError};

/// The plugin id: its kv namespace, the `plugin` of its tenders.
pub const ID: &str = "partner";

/// Where the messages go (`destination` of its outbox messages).
pub const DESTINATION: &str = "partner";

/// How long cancelling a timed-out authorisation may take inside the tender's call.
const CANCEL_TIMEOUT: Duration = Duration::from_millis(300);

/// One instance: the checked configuration and the partner's client.
pub struct PartnerPlugin {
    config: Config,
    partner: Partner,
    /// What open sales collected, as last written to kv: a basket change reads it here
    /// instead of asking the host each time. Only this plugin writes those keys; after a
    /// restart the cache starts empty and is filled from kv.
    collected: std::collections::HashMap<String, Collected>,
}

impl Plugin for PartnerPlugin {
    const ID: &'static str = ID;
    const NAME: &'static str = "Bonuspartner";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "A bonus partner programme (PAYBACK-style): points collected and paid, sent in the background";

    fn create(host: &Host, config: Value) -> Result<Self, PluginError> {
        let config = Config::parse(config)?;
        let partner = Partner::new(&config)
            .map_err(|e| PluginError::invalid_configuration(format!("[plugin.partner] {e}")))?;
        // The endpoint is no secret; the key is never logged.
        host.info(&format!(
            "{} at {}; cards {} digits, {} earns, a point pays {}",
            config.name,
            config.endpoint,
            config.card.length,
            config.eligible_tag,
            config.point_value
        ));
        Ok(PartnerPlugin {
            config,
            partner,
            collected: Default::default(),
        })
    }
}

/// A partner error as the cashier's named error.
fn cashier_error(name: &str, e: PartnerError) -> PluginError {
    match e {
        PartnerError::Refused {
            status: 402,
            message,
            ..
        } => PluginError::insufficient_balance(format!("{name}: {message}")),
        PartnerError::Refused {
            status: 404,
            message,
            ..
        } => PluginError::not_found(format!("{name}: {message}")),
        PartnerError::Refused { error, message, .. } => {
            PluginError::invalid_argument(format!("{name} refused: {error}: {message}"))
        }
        PartnerError::Unreachable(why) | PartnerError::Failed(why) => collect::unavailable(
            format!("{name} is not reachable ({why}): take another payment"),
        ),
    }
}

/// Open sales whose collection is kept in memory at most; past it the cache starts over.
const CACHED_SALES: usize = 64;

impl PartnerPlugin {
    /// What sale `sale` collected so far.
    fn collected(&mut self, host: &Host, sale: &str) -> Result<Collected, PluginError> {
        if let Some(c) = self.collected.get(sale) {
            return Ok(c.clone());
        }
        let c = Collected::of(host, sale)?;
        if self.collected.len() >= CACHED_SALES {
            self.collected.clear();
        }
        self.collected.insert(sale.to_string(), c.clone());
        Ok(c)
    }

    /// Keeps what sale `sale` collected, in kv and here.
    fn keep(&mut self, host: &Host, sale: &str, c: Collected) -> Result<(), PluginError> {
        c.store(host, sale)?;
        self.collected.insert(sale.to_string(), c);
        Ok(())
    }

    fn card_of(&self, input: &str) -> Result<Option<String>, PluginError> {
        match self.config.card.recognise(input) {
            Recognised::NotOurs => Ok(None),
            Recognised::Valid(card) => Ok(Some(card)),
            Recognised::BadCheckDigit(card) => Err(PluginError::invalid_argument(format!(
                "card: {} card number {card} has a wrong check digit: type it again",
                self.config.name
            ))),
        }
    }

    fn coupon_of(&self, input: &str) -> Result<Option<String>, PluginError> {
        match self.config.coupon.recognise(input) {
            Recognised::NotOurs => Ok(None),
            Recognised::Valid(coupon) => Ok(Some(coupon)),
            Recognised::BadCheckDigit(coupon) => Err(PluginError::invalid_argument(format!(
                "coupon: {} coupon {coupon} has a wrong check digit: scan it again",
                self.config.name
            ))),
        }
    }

    /// Puts `card` on the sale; the confirmation the cashier sees.
    fn take_card(
        &mut self,
        host: &Host,
        sale: &posd_plugin_sdk::schema::Sale,
        card: String,
    ) -> Result<Effects, PluginError> {
        let mut collected = self.collected(host, &sale.id)?;
        let replaced = collected
            .card
            .as_ref()
            .filter(|c| **c != card)
            .map(|c| masked(c));
        collected.card = Some(card.clone());
        self.keep(host, &sale.id, collected.clone())?;
        let points = turnover::points(&self.config, &turnover::eligible(&self.config, sale));
        let mut message = format!(
            "{} card {} taken: {points} points for this sale, sent when it is checked out",
            self.config.name,
            masked(&card)
        );
        if let Some(old) = replaced {
            message += &format!(" (instead of card {old})");
        }
        Ok(Effects {
            kind: Some(CodeKind::PartnerCard),
            message: Some(message),
            result: Some(json!({
                "card": masked(&card), "coupons": collected.coupons.len(), "points": points.to_string(),
            })),
            ..Effects::default()
        })
    }

    /// Adds `coupon` to the sale; the confirmation the cashier sees.
    fn take_coupon(
        &mut self,
        host: &Host,
        sale: &posd_plugin_sdk::schema::Sale,
        coupon: String,
    ) -> Result<Effects, PluginError> {
        let mut collected = self.collected(host, &sale.id)?;
        if collected.coupons.contains(&coupon) {
            return Err(PluginError::invalid_argument(format!(
                "coupon: {coupon} is on this sale already"
            )));
        }
        if collected.coupons.len() >= self.config.max_coupons {
            return Err(PluginError::limit_reached(format!(
                "coupon: a sale takes at most {} coupons",
                self.config.max_coupons
            )));
        }
        collected.coupons.push(coupon.clone());
        self.keep(host, &sale.id, collected.clone())?;
        let mut message = format!(
            "{} coupon {coupon} added ({} on this sale)",
            self.config.name,
            collected.coupons.len()
        );
        if collected.card.is_none() {
            message += &format!("; scan the {} card too", self.config.name);
        }
        Ok(Effects {
            kind: Some(CodeKind::Coupon),
            message: Some(message),
            result: Some(json!({ "coupon": coupon, "coupons": collected.coupons.len() })),
            ..Effects::default()
        })
    }

    fn message(key: String, payload: Value) -> OutboxMessage {
        OutboxMessage {
            destination: DESTINATION.into(),
            key,
            payload,
        }
    }

    fn points_of(&self, amount: Decimal) -> u64 {
        let points = (amount / self.config.point_value).floor();
        u64::try_from(points.mantissa().max(0) / 10i128.pow(points.scale())).unwrap_or(0)
    }
}

impl ClassifyCode for PartnerPlugin {
    fn classify_code(
        &mut self,
        _host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        // Only well-formed numbers are claimed: a mistyped one is refused when it is
        // entered on a sale, with the reason.
        if let Recognised::Valid(_) = self.config.card.recognise(&request.code) {
            return Ok(ClassifyCodeResponse::Claimed(CodeInfo::new(
                CodeKind::PartnerCard,
            )));
        }
        if let Recognised::Valid(_) = self.config.coupon.recognise(&request.code) {
            return Ok(ClassifyCodeResponse::Claimed(CodeInfo::new(
                CodeKind::Coupon,
            )));
        }
        Ok(ClassifyCodeResponse::NotClaimed)
    }
}

impl EnterCode for PartnerPlugin {
    fn enter_code(
        &mut self,
        host: &Host,
        request: EnterCodeRequest,
    ) -> Result<EnterCodeResponse, PluginError> {
        if let Some(card) = self.card_of(&request.code)? {
            return Ok(EnterCodeResponse::Claimed(self.take_card(
                host,
                &request.sale,
                card,
            )?));
        }
        if let Some(coupon) = self.coupon_of(&request.code)? {
            return Ok(EnterCodeResponse::Claimed(self.take_coupon(
                host,
                &request.sale,
                coupon,
            )?));
        }
        Ok(EnterCodeResponse::NotClaimed)
    }
}

impl ListActions for PartnerPlugin {
    fn list_actions(
        &mut self,
        _host: &Host,
        _request: ListActionsRequest,
    ) -> Result<ListActionsResponse, PluginError> {
        let param = |name: &str, help: String| ActionParam {
            name: name.into(),
            param_type: ParamType::Code,
            required: true,
            help,
            ..ActionParam::default()
        };
        Ok(ListActionsResponse {
            actions: vec![
                Action {
                    id: "collect".into(),
                    label: format!("{} Punkte sammeln", self.config.name),
                    params: vec![param(
                        "card",
                        format!(
                            "the {} card number, {} digits",
                            self.config.name, self.config.card.length
                        ),
                    )],
                },
                Action {
                    id: "add-coupon".into(),
                    label: format!("{} Coupon hinzufügen", self.config.name),
                    params: vec![param("coupon", "an action coupon's number".into())],
                },
            ],
        })
    }
}

impl InvokeAction for PartnerPlugin {
    fn invoke_action(
        &mut self,
        host: &Host,
        request: InvokeActionRequest,
    ) -> Result<Effects, PluginError> {
        let arg = |name: &str| {
            request
                .args
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| PluginError::invalid_argument(format!("{name}: required")))
        };
        match request.action.as_str() {
            "collect" => {
                let input = arg("card")?;
                let card = self.card_of(&input)?.ok_or_else(|| {
                    PluginError::invalid_argument(format!(
                        "card: {input} is not a {} card number ({} digits)",
                        self.config.name, self.config.card.length
                    ))
                })?;
                self.take_card(host, &request.sale, card)
            }
            "add-coupon" => {
                let input = arg("coupon")?;
                let coupon = self.coupon_of(&input)?.ok_or_else(|| {
                    PluginError::invalid_argument(format!(
                        "coupon: {input} is not a {} coupon number ({} digits)",
                        self.config.name, self.config.coupon.length
                    ))
                })?;
                self.take_coupon(host, &request.sale, coupon)
            }
            other => Err(PluginError::not_found(format!("no action {other:?}"))),
        }
    }
}

impl EvaluateBasket for PartnerPlugin {
    fn evaluate_basket(
        &mut self,
        host: &Host,
        request: EvaluateBasketRequest,
    ) -> Result<EvaluateBasketResponse, PluginError> {
        let eligible = turnover::eligible(&self.config, &request.sale);
        let total: Decimal = eligible.values().map(|e| e.amount).sum();
        if total <= Decimal::ZERO {
            return Ok(EvaluateBasketResponse::default());
        }
        let points = turnover::points(&self.config, &eligible);
        let collected = self.collected(host, &request.sale.id)?;
        let preview = match &collected.card {
            Some(card) => Preview {
                kind: Some(PreviewKind::Earn),
                label: format!(
                    "{} {}: {points} Punkte{}",
                    self.config.name,
                    masked(card),
                    match collected.coupons.len() {
                        0 => String::new(),
                        n => format!(", {n} Coupon(s)"),
                    }
                ),
                points: Some(points),
                amount: None,
            },
            None => Preview {
                kind: Some(PreviewKind::Nudge),
                label: format!("{} Karte? {points} Punkte möglich", self.config.name),
                points: Some(points),
                amount: None,
            },
        };
        Ok(EvaluateBasketResponse {
            previews: vec![preview],
            ..EvaluateBasketResponse::default()
        })
    }
}

impl ValidateTender for PartnerPlugin {
    fn validate_tender(
        &mut self,
        host: &Host,
        request: ValidateTenderRequest,
    ) -> Result<ValidateTenderResponse, PluginError> {
        if request.tender.method != self.config.tender_method {
            return Err(PluginError::not_found(format!(
                "not a {} tender",
                self.config.tender_method
            )));
        }
        let collected = self.collected(host, &request.sale.id)?;
        let card = collected.card.ok_or_else(|| {
            PluginError::customer_required(format!(
                "scan the {} card before paying with its points",
                self.config.name
            ))
        })?;
        let points = self.points_of(request.tender.amount);
        if points == 0 {
            return Err(PluginError::invalid_argument(format!(
                "amount: {} buys no whole point (a point pays {})",
                request.tender.amount, self.config.point_value
            )));
        }
        let try_id = format!("{}-{}", request.sale.id, host.now());
        match self.partner.authorize(&card, points, &try_id) {
            Ok(granted) => {
                let data = TenderData {
                    card: card.clone(),
                    authorization: granted.id.clone(),
                    points: granted.points,
                    request: try_id,
                };
                Ok(ValidateTenderResponse {
                    amount: Decimal::from(granted.points) * self.config.point_value,
                    reference: masked(&card),
                    data: serde_json::to_value(&data).unwrap_or(Value::Null),
                })
            }
            Err(e) => {
                if matches!(e, PartnerError::Unreachable(_) | PartnerError::Failed(_)) {
                    // The partner may have held the points after we stopped waiting: cancel
                    // that now, or with the next checkout's messages if it is down.
                    if self.partner.cancel(&try_id, CANCEL_TIMEOUT).is_err() {
                        collect::remember_orphan(host, &try_id)?;
                    }
                    host.warn(&format!("authorisation {try_id} failed: {e}"));
                }
                Err(cashier_error(&self.config.name, e))
            }
        }
    }
}

impl PrepareCheckout for PartnerPlugin {
    fn prepare_checkout(
        &mut self,
        host: &Host,
        request: PrepareCheckoutRequest,
    ) -> Result<CheckoutEffects, PluginError> {
        let sale = &request.sale;
        let receipt = &request.receipt_id;
        let mut effects = CheckoutEffects::default();
        let collected = self.collected(host, &sale.id)?;
        self.collected.remove(&sale.id);
        let tenders: Vec<(String, TenderData, Decimal)> = sale
            .tenders_of(ID)
            .filter_map(|t| {
                serde_json::from_value::<TenderData>(t.data.clone())
                    .ok()
                    .map(|d| (t.id.clone(), d, t.amount))
            })
            .collect();
        let mut lines = Vec::new();
        if let Some(card) = &collected.card {
            let eligible = turnover::eligible(&self.config, sale);
            let amount: Decimal = eligible.values().map(|e| e.amount).sum();
            let points = turnover::points(&self.config, &eligible);
            effects.outbox.push(Self::message(
                format!("collect-{receipt}"),
                json!({
                    "type": "collect", "card": card, "coupons": collected.coupons,
                    "receipt": receipt, "store": request.store.id, "register": request.store.register,
                    "turnover": amount.to_string(), "currency": sale.currency,
                    "points": points.mantissa() / 10i128.pow(points.scale()),
                }),
            ));
            lines.push(format!("Karte: {}", masked(card)));
            lines.push(format!("Punkte für diesen Einkauf: {points}"));
            if !collected.coupons.is_empty() {
                lines.push(format!("Coupons: {}", collected.coupons.len()));
            }
            let record = ReceiptRecord {
                card: card.clone(),
                coupons: collected.coupons.clone(),
                eligible,
                returned: BTreeMap::new(),
                voided: false,
            };
            effects.kv.push(KvWrite {
                key: collect::receipt_key(receipt),
                value: serde_json::to_value(&record).unwrap_or(Value::Null),
            });
        }
        for (tender, data, amount) in &tenders {
            effects.outbox.push(Self::message(
                format!("capture-{}", data.authorization),
                json!({
                    "type": "capture", "authorization": data.authorization, "card": data.card,
                    "points": data.points, "receipt": receipt, "tender": tender,
                }),
            ));
            lines.push(format!(
                "Mit Punkten bezahlt: {} Punkte = {amount}",
                data.points
            ));
        }
        for orphan in collect::orphans(host)? {
            effects.outbox.push(Self::message(
                format!("release-{orphan}"),
                json!({ "type": "release", "request": orphan }),
            ));
            effects.kv.push(KvWrite {
                key: collect::orphan_key(&orphan),
                value: Value::Null,
            });
        }
        if !lines.is_empty() {
            effects.sections.push(ReceiptSection {
                title: self.config.name.clone(),
                lines,
                ..ReceiptSection::default()
            });
        }
        effects.kv.push(KvWrite {
            key: collect::sale_key(&sale.id),
            value: Value::Null,
        });
        Ok(effects)
    }
}

impl ReleaseTender for PartnerPlugin {
    fn release_tender(
        &mut self,
        host: &Host,
        request: ReleaseTenderRequest,
    ) -> Result<Empty, PluginError> {
        let Ok(data) = serde_json::from_value::<TenderData>(request.tender.data) else {
            return Ok(Empty {});
        };
        // Released at once; with the partner down, by the next checkout's messages.
        if let Err(e) = self
            .partner
            .cancel(&data.request, self.config.authorize_timeout)
        {
            host.warn(&format!(
                "authorisation {} not released now ({e}): it goes with the next checkout",
                data.authorization
            ));
            collect::remember_orphan(host, &data.request)?;
        }
        Ok(Empty {})
    }
}

impl VoidReceipt for PartnerPlugin {
    fn void_receipt(
        &mut self,
        host: &Host,
        request: VoidReceiptRequest,
    ) -> Result<VoidReceiptResponse, PluginError> {
        let void = &request.void_receipt_id;
        let mut effects = CheckoutEffects::default();
        if let Some(mut record) = ReceiptRecord::of(host, &request.receipt.id)? {
            let (amount, points) = record.left(&self.config);
            if amount > Decimal::ZERO {
                effects.outbox.push(Self::message(
                    format!("correction-{void}"),
                    json!({
                        "type": "correction", "card": record.card, "receipt": void,
                        "original": request.receipt.id, "turnover": (-amount).to_string(),
                        "points": -(points as i64),
                    }),
                ));
            }
            record.voided = true;
            effects.kv.push(KvWrite {
                key: collect::receipt_key(&request.receipt.id),
                value: serde_json::to_value(&record).unwrap_or(Value::Null),
            });
        }
        for tender in request.receipt.tenders.iter().filter(|t| t.plugin == ID) {
            if let Ok(data) = serde_json::from_value::<TenderData>(tender.data.clone()) {
                effects.outbox.push(Self::message(
                    format!("refund-{void}-{}", tender.id),
                    json!({
                        "type": "refund", "card": data.card, "points": data.points,
                        "authorization": data.authorization, "receipt": void,
                        "original": request.receipt.id,
                    }),
                ));
            }
        }
        if !effects.outbox.is_empty() {
            effects.sections.push(ReceiptSection {
                title: format!("{} storniert", self.config.name),
                lines: vec!["Punkte werden zurückgebucht".into()],
                ..ReceiptSection::default()
            });
        }
        Ok(VoidReceiptResponse {
            effects,
            ..VoidReceiptResponse::default()
        })
    }
}

impl ReturnLines for PartnerPlugin {
    fn return_lines(
        &mut self,
        host: &Host,
        request: ReturnLinesRequest,
    ) -> Result<ReturnLinesResponse, PluginError> {
        let back = &request.return_receipt_id;
        let mut response = ReturnLinesResponse::default();
        if let Some(mut record) = ReceiptRecord::of(host, &request.receipt.id)? {
            let (amount, points) = record.take_back(&self.config, &request.lines);
            if amount > Decimal::ZERO {
                response.effects.outbox.push(Self::message(
                    format!("correction-{back}"),
                    json!({
                        "type": "correction", "card": record.card, "receipt": back,
                        "original": request.receipt.id, "turnover": (-amount).to_string(),
                        "points": -(points as i64),
                    }),
                ));
                response.effects.kv.push(KvWrite {
                    key: collect::receipt_key(&request.receipt.id),
                    value: serde_json::to_value(&record).unwrap_or(Value::Null),
                });
            }
        }
        // The refund's share on a points tender goes back onto the card as points.
        for share in &request.refunds {
            let Some(tender) = request
                .receipt
                .tenders
                .iter()
                .find(|t| t.id == share.tender)
            else {
                continue;
            };
            let Ok(data) = serde_json::from_value::<TenderData>(tender.data.clone()) else {
                continue;
            };
            let points = self.points_of(share.amount);
            response.effects.outbox.push(Self::message(
                format!("refund-{back}-{}", tender.id),
                json!({
                    "type": "refund", "card": data.card, "points": points,
                    "authorization": data.authorization, "receipt": back,
                    "original": request.receipt.id,
                }),
            ));
            response.refunds.push(TakenRefund {
                tender: share.tender.clone(),
                amount: share.amount,
                reference: Some(masked(&data.card)),
            });
        }
        if !response.effects.outbox.is_empty() {
            response.effects.sections.push(ReceiptSection {
                title: format!("{} Rückgabe", self.config.name),
                lines: vec!["Punkte werden zurückgebucht".into()],
                ..ReceiptSection::default()
            });
        }
        Ok(response)
    }
}

impl DeliverMessage for PartnerPlugin {
    fn deliver_message(
        &mut self,
        host: &Host,
        request: DeliverMessageRequest,
    ) -> Result<DeliverMessageResponse, PluginError> {
        let message = request.message;
        match self.partner.deliver(&message.key, &message.payload) {
            Ok(()) => Ok(DeliverMessageResponse::Delivered),
            Err(PartnerError::Refused {
                status,
                error,
                message: text,
            }) => {
                // The partner will never take it as it is: a dead letter for a technician.
                host.warn(&format!(
                    "message {} refused by the partner ({status} {error}): {text}",
                    message.key
                ));
                Err(PluginError::invalid_argument(format!(
                    "the partner refused message {} ({status} {error}): {text}",
                    message.key
                )))
            }
            Err(e) => Ok(DeliverMessageResponse::RetryLater {
                retry_after_ms: None,
                reason: e.to_string(),
            }),
        }
    }
}

posd_plugin!(PartnerPlugin);
