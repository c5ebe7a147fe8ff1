//! `[plugin.vouchers]`: the programmes a till sells and redeems, read and checked once at
//! `create`. Anything wrong is refused with the key that is wrong, so the plugin fails to
//! start with a reason `posctl plugins` shows, instead of failing a sale later.

use posd_plugin_sdk::Decimal;
use serde::Deserialize;

use crate::code::{Case, CodeFormat, DEFAULT_ALPHABET};
use crate::date::Date;
use crate::error::ConfigError;

/// The configuration section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    key_file: Option<String>,
    #[serde(default = "yes")]
    print_full_code: bool,
    #[serde(default)]
    programmes: Vec<RawProgramme>,
    #[serde(default)]
    discount_codes: Vec<crate::discount::RawDiscountCode>,
    lookup_limit: Option<crate::limit::RawLookupLimit>,
    #[serde(default = "shipping_tags")]
    shipping_tags: Vec<String>,
}

fn shipping_tags() -> Vec<String> {
    vec!["shipping".to_string()]
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgramme {
    id: String,
    name: String,
    kind: String,
    amount: Option<Decimal>,
    min_amount: Option<Decimal>,
    max_amount: Option<Decimal>,
    vat_rate: Option<Decimal>,
    valid_months: Option<u32>,
    expires: Option<String>,
    #[serde(default = "yes")]
    reusable: bool,
    residual: Option<String>,
    returns: Option<String>,
    code: RawCode,
    #[serde(default)]
    accept_prefixes: Vec<String>,
    sku: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCode {
    format: String,
    #[serde(default)]
    prefix: String,
    groups: Option<Vec<usize>>,
    separator: Option<String>,
    alphabet: Option<String>,
    case: Option<String>,
}

/// What a programme sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A multi-purpose gift voucher: no VAT when sold, a payment when redeemed.
    Gift,
    /// A single-purpose voucher: VAT at the programme's rate when sold.
    SinglePurpose,
    /// A customer's eWallet: multi-purpose, bound to the customer it was sold to.
    Ewallet,
    /// A payment voucher (AMPAREX "Zahlungsgutschein"): pays like a gift voucher, but is
    /// issued without payment, for goodwill, against the `goodwill` account.
    Payment,
    /// A discount voucher (AMPAREX "Rabattgutschein"): issued like a payment voucher, but
    /// redeemed as a price reduction of the goods (a discount line), not as a tender.
    Discount,
}

impl Kind {
    /// Whether vouchers of this kind are issued without payment (`issue-<programme>`).
    pub fn issued_free(self) -> bool {
        matches!(self, Kind::Payment | Kind::Discount)
    }
}

impl Kind {
    /// The word on receipts and slips.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Gift | Kind::SinglePurpose | Kind::Payment => "Gutschein",
            Kind::Discount => "Rabattgutschein",
            Kind::Ewallet => "eWallet",
        }
    }
}

/// Where what is left of a voucher that is not reusable goes when it is redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Residual {
    /// Forfeited to the `breakage` account, whoever redeems it.
    Breakage,
    /// To the customer's credit when the sale has a customer, else forfeited (the seed's
    /// variants 1 and 2).
    CustomerCredit,
    /// A new voucher for the rest, issued and printed in the same checkout.
    ResidualVoucher,
}

/// How a return gives back the share of the refund that a voucher of the programme paid
/// (`returns`). Read from the programme as configured at the time of the return: a refund
/// policy of the store, not a term of the voucher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Returns {
    /// Back onto the voucher it was paid with; onto a new voucher when that one does not
    /// keep a rest (not reusable) or is blocked or refunded. The default.
    #[default]
    Voucher,
    /// Always onto a new voucher of the programme.
    NewVoucher,
    /// Paid out in cash by the host: the store explicitly lets its vouchers become cash.
    Cash,
}

/// How long a voucher sold now is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// No expiry.
    Unlimited,
    /// Until this day, whenever sold.
    Until(Date),
    /// N months after the day of sale.
    Months(u32),
}

impl Validity {
    /// The expiry of a voucher sold on `today`, `None` for unlimited.
    pub fn expiry(self, today: Date) -> Option<Date> {
        match self {
            Validity::Unlimited => None,
            Validity::Until(day) => Some(day),
            Validity::Months(n) => Some(today.plus_months(n)),
        }
    }
}

/// The amount a voucher is sold or topped up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum AmountRule {
    /// Always this amount.
    Fixed {
        /// The amount.
        amount: Decimal,
    },
    /// What the cashier enters, within bounds.
    Free {
        /// The least.
        min: Decimal,
        /// The most.
        max: Decimal,
    },
}

/// One programme, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Programme {
    /// Short id (`gift`), in action ids and stored with each voucher.
    pub id: String,
    /// Name on lines and slips.
    pub name: String,
    /// What it sells.
    pub kind: Kind,
    /// Fixed or free amount.
    pub amount: AmountRule,
    /// VAT rate of a single-purpose voucher.
    pub vat_rate: Option<Decimal>,
    /// Validity of vouchers sold now.
    pub validity: Validity,
    /// Whether a voucher keeps what is left after a redemption.
    pub reusable: bool,
    /// Where the rest goes when it does not (`None` for a reusable one).
    pub residual: Option<Residual>,
    /// How a return refunds what its vouchers paid.
    pub returns: Returns,
    /// How its codes look.
    pub format: CodeFormat,
    /// Canonical prefixes of codes printed elsewhere that this programme claims too.
    pub accept_prefixes: Vec<String>,
    /// The voucher product (article number) this programme sells, if the store sells it
    /// as a product; several programmes may share one (see [`crate::product`]).
    pub sku: Option<String>,
}

/// The plugin's configuration, checked.
#[derive(Debug)]
pub struct Config {
    /// Where the HMAC key is (not the key).
    pub key_file: String,
    /// Whether sale and top-up slips carry the full code (text and barcode).
    pub print_full_code: bool,
    /// The programmes, in configuration order.
    pub programmes: Vec<Programme>,
    /// The discount codes, in configuration order.
    pub discount_codes: Vec<crate::discount::DiscountCode>,
    /// The rate limit on failed look-ups per register.
    pub lookup_limit: crate::limit::LookupLimit,
}

fn money(key: &str, value: Decimal) -> Result<Decimal, ConfigError> {
    if value < Decimal::ZERO || value.scale() > 2 || value > Decimal::from(100_000) {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{value}: an amount from 0 to 100000 with at most two decimals, written as a string"
            ),
        ));
    }
    Ok(value)
}

impl Programme {
    fn parse(at: &str, raw: RawProgramme) -> Result<Self, ConfigError> {
        let key = |k: &str| format!("{at}.{k}");
        if raw.id.is_empty()
            || raw.id.len() > 32
            || !raw
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(ConfigError::invalid(
                key("id"),
                format!("{:?}: 1 to 32 of a-z, 0-9 and _", raw.id),
            ));
        }
        if raw.name.trim().is_empty() {
            return Err(ConfigError::invalid(key("name"), "is empty"));
        }
        let kind = match raw.kind.as_str() {
            "gift" => Kind::Gift,
            "single_purpose" => Kind::SinglePurpose,
            "ewallet" => Kind::Ewallet,
            "payment" => Kind::Payment,
            "discount" => Kind::Discount,
            other => {
                return Err(ConfigError::invalid(
                    key("kind"),
                    format!(
                        "{other:?}: one of \"gift\", \"single_purpose\", \"ewallet\", \"payment\", \"discount\""
                    ),
                ));
            }
        };
        let fixed = raw
            .amount
            .map(|a| money(&key("amount"), a))
            .transpose()?
            .filter(|a| !a.is_zero());
        let amount = match fixed {
            Some(amount) => {
                if raw.min_amount.is_some() || raw.max_amount.is_some() {
                    return Err(ConfigError::invalid(
                        key("min_amount"),
                        "min_amount and max_amount are for a free amount (amount \"0\" or none)",
                    ));
                }
                AmountRule::Fixed { amount }
            }
            None => {
                let min = money(&key("min_amount"), raw.min_amount.unwrap_or(Decimal::ONE))?;
                let max = money(
                    &key("max_amount"),
                    raw.max_amount.ok_or_else(|| {
                        ConfigError::invalid(
                            key("max_amount"),
                            "a programme with a free amount needs a max_amount",
                        )
                    })?,
                )?;
                if min.is_zero() || min > max {
                    return Err(ConfigError::invalid(
                        key("min_amount"),
                        format!("{min}: above 0 and at most max_amount {max}"),
                    ));
                }
                AmountRule::Free { min, max }
            }
        };
        let vat_rate = match (kind, raw.vat_rate) {
            (Kind::SinglePurpose, Some(rate))
                if rate > Decimal::ZERO && rate < Decimal::from(100) =>
            {
                Some(rate)
            }
            (Kind::SinglePurpose, _) => {
                return Err(ConfigError::invalid(
                    key("vat_rate"),
                    "a single-purpose voucher needs its VAT rate in percent, e.g. \"20\"",
                ));
            }
            (_, Some(_)) => {
                return Err(ConfigError::invalid(
                    key("vat_rate"),
                    "only a single_purpose programme has a VAT rate: gift vouchers and eWallets are taxed when redeemed",
                ));
            }
            (_, None) => None,
        };
        let validity = match (raw.valid_months, raw.expires) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    key("expires"),
                    "give valid_months or expires, not both",
                ));
            }
            (Some(0), None) => {
                return Err(ConfigError::invalid(
                    key("valid_months"),
                    "must be at least 1",
                ));
            }
            (Some(n), None) if n > 1200 => {
                return Err(ConfigError::invalid(
                    key("valid_months"),
                    format!("{n}: at most 1200"),
                ));
            }
            (Some(n), None) => Validity::Months(n),
            (None, Some(text)) => Validity::Until(Date::parse(&text).ok_or_else(|| {
                ConfigError::invalid(key("expires"), format!("{text:?} is no date YYYY-MM-DD"))
            })?),
            (None, None) => Validity::Unlimited,
        };
        let residual = match (raw.reusable, raw.residual.as_deref()) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err(ConfigError::invalid(
                    key("residual"),
                    "is for a programme with reusable = false: a reusable voucher keeps what is left",
                ));
            }
            (false, None | Some("customer_credit")) => Some(Residual::CustomerCredit),
            (false, Some("breakage")) => Some(Residual::Breakage),
            (false, Some("residual_voucher")) => Some(Residual::ResidualVoucher),
            (false, Some(other)) => {
                return Err(ConfigError::invalid(
                    key("residual"),
                    format!(
                        "{other:?}: one of \"customer_credit\", \"breakage\", \"residual_voucher\""
                    ),
                ));
            }
        };
        let returns = match raw.returns.as_deref() {
            None | Some("voucher") => Returns::Voucher,
            Some("new_voucher") if matches!(kind, Kind::Ewallet | Kind::Discount) => {
                return Err(ConfigError::invalid(
                    key("returns"),
                    "\"new_voucher\" is not for eWallets and discount vouchers: a return goes back onto the eWallet, and a discount voucher pays no tender",
                ));
            }
            Some("new_voucher") => Returns::NewVoucher,
            Some("cash") => Returns::Cash,
            Some(other) => {
                return Err(ConfigError::invalid(
                    key("returns"),
                    format!("{other:?}: one of \"voucher\", \"new_voucher\", \"cash\""),
                ));
            }
        };
        if residual.is_some() && matches!(kind, Kind::Ewallet | Kind::Discount) {
            return Err(ConfigError::invalid(
                key("reusable"),
                "eWallets and discount vouchers are always reusable",
            ));
        }
        let code_key = key("code");
        let format = match raw.code.format.as_str() {
            "template" => {
                let case = match raw.code.case.as_deref().unwrap_or("upper") {
                    "upper" => Case::Upper,
                    "lower" => Case::Lower,
                    other => {
                        return Err(ConfigError::invalid(
                            format!("{code_key}.case"),
                            format!("{other:?}: \"upper\" or \"lower\""),
                        ));
                    }
                };
                CodeFormat::template(
                    &code_key,
                    &raw.code.prefix,
                    raw.code.groups.unwrap_or_else(|| vec![4, 4, 4, 4]),
                    raw.code.separator.as_deref().unwrap_or("-"),
                    raw.code.alphabet.as_deref().unwrap_or(DEFAULT_ALPHABET),
                    case,
                )?
            }
            "ean13" => {
                for (name, set) in [
                    ("groups", raw.code.groups.is_some()),
                    ("separator", raw.code.separator.is_some()),
                    ("alphabet", raw.code.alphabet.is_some()),
                    ("case", raw.code.case.is_some()),
                ] {
                    if set {
                        return Err(ConfigError::invalid(
                            format!("{code_key}.{name}"),
                            "is for template codes, not ean13",
                        ));
                    }
                }
                CodeFormat::ean13(&code_key, &raw.code.prefix)?
            }
            other => {
                return Err(ConfigError::invalid(
                    format!("{code_key}.format"),
                    format!("{other:?}: \"template\" or \"ean13\""),
                ));
            }
        };
        let mut accept_prefixes = Vec::new();
        for (i, prefix) in raw.accept_prefixes.iter().enumerate() {
            match crate::code::canonical(prefix) {
                Some(p) if p.len() >= 2 && p.len() <= 8 => accept_prefixes.push(p),
                _ => {
                    return Err(ConfigError::invalid(
                        format!("{}[{i}]", key("accept_prefixes")),
                        format!("{prefix:?}: 2 to 8 letters or digits"),
                    ));
                }
            }
        }
        Ok(Programme {
            id: raw.id,
            name: raw.name.trim().to_string(),
            kind,
            amount,
            vat_rate,
            validity,
            reusable: raw.reusable,
            residual,
            returns,
            format,
            accept_prefixes,
            sku: crate::product::checked_sku(&key("sku"), raw.sku)?,
        })
    }

    /// Whether a canonical code is this programme's: its format, or an accepted prefix.
    pub fn claims(&self, canonical: &str) -> bool {
        self.format.matches(canonical)
            || (canonical.len() >= 8
                && self
                    .accept_prefixes
                    .iter()
                    .any(|p| canonical.starts_with(p.as_str())))
    }
}

impl Config {
    /// Reads and checks the configuration section.
    pub fn parse(value: serde_json::Value) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_json::from_value(value)
            .map_err(|e| ConfigError::invalid("configuration", e.to_string()))?;
        let key_file = raw
            .key_file
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::invalid(
                    "key_file",
                    "is required: the file holding the key codes are hashed with, e.g. \"/etc/posd/vouchers.key\" or \"$CREDENTIALS_DIRECTORY/vouchers.key\"",
                )
            })?;
        let mut programmes: Vec<Programme> = Vec::new();
        for (i, raw) in raw.programmes.into_iter().enumerate() {
            let at = format!("programmes[{i}]");
            let programme = Programme::parse(&at, raw)?;
            if programmes.iter().any(|p| p.id == programme.id) {
                return Err(ConfigError::invalid(
                    format!("{at}.id"),
                    format!("{:?} is used by an earlier programme", programme.id),
                ));
            }
            programmes.push(programme);
        }
        if !raw.print_full_code
            && let Some(i) = programmes
                .iter()
                .position(|p| p.returns == Returns::NewVoucher)
        {
            return Err(ConfigError::invalid(
                format!("programmes[{i}].returns"),
                "\"new_voucher\" needs print_full_code = true: its slip is the only place the new code is ever shown",
            ));
        }
        if !raw.print_full_code
            && let Some(i) = programmes
                .iter()
                .position(|p| p.residual == Some(Residual::ResidualVoucher))
        {
            return Err(ConfigError::invalid(
                format!("programmes[{i}].residual"),
                "\"residual_voucher\" needs print_full_code = true: its slip is the only place the new code is ever shown",
            ));
        }
        let shipping_tags: Vec<String> = raw
            .shipping_tags
            .iter()
            .map(|t| t.trim().to_string())
            .collect();
        if let Some(i) = shipping_tags.iter().position(String::is_empty) {
            return Err(ConfigError::invalid(
                format!("shipping_tags[{i}]"),
                "is empty: a tag the frontend puts on the delivery charge, e.g. \"shipping\"",
            ));
        }
        let mut discount_codes: Vec<crate::discount::DiscountCode> = Vec::new();
        for (i, raw) in raw.discount_codes.into_iter().enumerate() {
            let at = format!("discount_codes[{i}]");
            let code = crate::discount::DiscountCode::parse(&at, raw, &shipping_tags)?;
            if discount_codes.iter().any(|c| c.code == code.code) {
                return Err(ConfigError::invalid(
                    format!("{at}.code"),
                    format!("{:?} is used by an earlier discount code", code.code),
                ));
            }
            if programmes.iter().any(|p| p.claims(&code.code)) {
                return Err(ConfigError::invalid(
                    format!("{at}.code"),
                    format!("{:?} looks like a voucher code of a programme", code.code),
                ));
            }
            discount_codes.push(code);
        }
        if programmes.is_empty() && discount_codes.is_empty() {
            return Err(ConfigError::invalid(
                "programmes",
                "no programme: configure at least one [[plugin.vouchers.programmes]] or [[plugin.vouchers.discount_codes]]",
            ));
        }
        Ok(Config {
            key_file,
            print_full_code: raw.print_full_code,
            programmes,
            discount_codes,
            lookup_limit: crate::limit::LookupLimit::parse(raw.lookup_limit)?,
        })
    }

    /// The programme with this id.
    pub fn programme(&self, id: &str) -> Option<&Programme> {
        self.programmes.iter().find(|p| p.id == id)
    }

    /// The discount code `canonical` is, if it is one.
    pub fn discount_code(&self, canonical: &str) -> Option<&crate::discount::DiscountCode> {
        self.discount_codes.iter().find(|c| c.code == canonical)
    }

    /// Whether any programme claims a canonical code.
    pub fn claims(&self, canonical: &str) -> bool {
        self.programmes.iter().any(|p| p.claims(canonical))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gift() -> serde_json::Value {
        json!({"id": "gift", "name": "Geschenk", "kind": "gift", "max_amount": "500.00",
               "valid_months": 36, "code": {"format": "template"}})
    }

    fn error_of(programme: serde_json::Value) -> String {
        Config::parse(json!({"key_file": "/k", "programmes": [programme]}))
            .unwrap_err()
            .to_string()
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut p = gift();
        p[key] = value;
        p
    }

    #[test]
    fn a_full_configuration_is_read() {
        let config = Config::parse(json!({"key_file": "/etc/posd/vouchers.key", "programmes": [
            gift(),
            {"id": "fixed", "name": "25", "kind": "gift", "amount": "25.00",
             "code": {"format": "ean13", "prefix": "044"}, "accept_prefixes": ["999"]},
            {"id": "spa", "name": "Spa", "kind": "single_purpose", "vat_rate": "20",
             "max_amount": "100", "expires": "2030-12-31",
             "code": {"format": "template", "groups": [5, 5, 5], "case": "lower"}}
        ]}))
        .unwrap();
        assert!(config.print_full_code);
        let gift = config.programme("gift").unwrap();
        assert_eq!(
            gift.amount,
            AmountRule::Free {
                min: Decimal::ONE,
                max: Decimal::from(500)
            }
        );
        assert_eq!(gift.validity, Validity::Months(36));
        let fixed = config.programme("fixed").unwrap();
        assert_eq!(
            fixed.amount,
            AmountRule::Fixed {
                amount: "25.00".parse().unwrap()
            }
        );
        assert!(fixed.claims("99912345"), "an accepted prefix");
        assert!(!fixed.claims("0441234567890"), "a wrong check digit");
        assert_eq!(
            config.programme("spa").unwrap().vat_rate,
            Some(Decimal::from(20))
        );
    }

    #[test]
    fn the_returns_rule_is_read_and_checked() {
        let programmes: Vec<serde_json::Value> = [
            gift(),
            with("returns", json!("cash")),
            with("returns", json!("new_voucher")),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            p["id"] = json!(format!("p{i}"));
            p
        })
        .collect();
        let config = Config::parse(json!({"key_file": "/k", "programmes": programmes})).unwrap();
        let rules: Vec<Returns> = config.programmes.iter().map(|p| p.returns).collect();
        assert_eq!(
            rules,
            [Returns::Voucher, Returns::Cash, Returns::NewVoucher]
        );
        assert!(error_of(with("returns", json!("bank"))).contains("programmes[0].returns"));
        let mut wallet = with("returns", json!("new_voucher"));
        wallet["kind"] = json!("ewallet");
        assert!(error_of(wallet).contains("programmes[0].returns"));
        let masked = Config::parse(json!({"key_file": "/k", "print_full_code": false,
                                          "programmes": [with("returns", json!("new_voucher"))]}))
        .unwrap_err()
        .to_string();
        assert!(masked.contains("print_full_code"), "{masked}");
    }

    #[test]
    fn each_mistake_is_refused_naming_its_key() {
        let cases = [
            (with("kind", json!("coupon")), "programmes[0].kind"),
            (with("id", json!("Gift!")), "programmes[0].id"),
            (with("max_amount", json!(null)), "programmes[0].max_amount"),
            (with("min_amount", json!("600")), "programmes[0].min_amount"),
            (with("amount", json!("-5")), "programmes[0].amount"),
            (with("vat_rate", json!("20")), "programmes[0].vat_rate"),
            (
                with("expires", json!("2030-02-30")),
                "programmes[0].expires",
            ),
            (with("valid_months", json!(0)), "programmes[0].valid_months"),
            (
                with("residual", json!("breakage")),
                "programmes[0].residual",
            ),
            (
                {
                    let mut p = with("reusable", json!(false));
                    p["residual"] = json!("lottery");
                    p
                },
                "programmes[0].residual",
            ),
            (
                with("code", json!({"format": "qr"})),
                "programmes[0].code.format",
            ),
            (
                with("code", json!({"format": "template", "groups": [4, 4, 4]})),
                "programmes[0].code.groups",
            ),
            (
                with(
                    "code",
                    json!({"format": "ean13", "prefix": "044", "case": "upper"}),
                ),
                "programmes[0].code.case",
            ),
            (
                with("accept_prefixes", json!(["9"])),
                "programmes[0].accept_prefixes[0]",
            ),
            (with("colour", json!("red")), "colour"),
        ];
        for (programme, key) in cases {
            let e = error_of(programme);
            assert!(e.contains(key), "{key}: {e}");
        }
        let single = json!({"id": "s", "name": "S", "kind": "single_purpose", "max_amount": "5",
                            "code": {"format": "template"}});
        assert!(error_of(single).contains("programmes[0].vat_rate"));
        let e = Config::parse(json!({"programmes": [gift()]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("key_file"), "{e}");
        let e = Config::parse(json!({"key_file": "/k"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("programmes"), "{e}");
        let e = Config::parse(json!({"key_file": "/k", "programmes": [gift(), gift()]}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("programmes[1].id"), "{e}");
        let mut rest = with("reusable", json!(false));
        rest["residual"] = json!("residual_voucher");
        let e = Config::parse(
            json!({"key_file": "/k", "print_full_code": false, "programmes": [rest]}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("programmes[0].residual") && e.contains("print_full_code"),
            "{e}"
        );
        let wallet = json!({"id": "w", "name": "W", "kind": "ewallet", "max_amount": "5",
                            "reusable": false, "code": {"format": "template"}});
        assert!(error_of(wallet).contains("programmes[0].reusable"));
    }

    /// A programme that does not keep the rest defaults to the seed's rule (customer credit,
    /// else forfeited); each discount code mistake names its key.
    #[test]
    fn residual_rules_and_discount_codes_are_read_and_checked() {
        let config = Config::parse(json!({"key_file": "/k",
            "programmes": [with("reusable", json!(false))],
            "discount_codes": [
                {"code": "xmas-20", "name": "X", "percent": "20", "min_basket": "50"},
                {"code": "OBST", "name": "O", "free_product": {"sku": "O-1", "name": "Obst", "price": "25.00", "vat_rate": "10"}}
            ]}))
        .unwrap();
        assert_eq!(
            config.programmes[0].residual,
            Some(Residual::CustomerCredit)
        );
        assert!(config.discount_code("XMAS20").is_some(), "read canonical");
        let only_codes = Config::parse(json!({"key_file": "/k",
            "discount_codes": [{"code": "FIVE", "name": "F", "amount": "5"}]}));
        assert!(only_codes.is_ok(), "discount codes need no programme");
        let code = |c: serde_json::Value| {
            Config::parse(json!({"key_file": "/k", "programmes": [gift()], "discount_codes": [c]}))
                .unwrap_err()
                .to_string()
        };
        for (bad, key) in [
            (
                json!({"code": "X", "name": "X", "percent": "5"}),
                "discount_codes[0].code",
            ),
            (
                json!({"code": "XMAS", "name": "X", "percent": "101"}),
                "discount_codes[0].percent",
            ),
            (
                json!({"code": "XMAS", "name": "X", "percent": "5", "amount": "5"}),
                "discount_codes[0]",
            ),
            (json!({"code": "XMAS", "name": "X"}), "discount_codes[0]"),
            (
                json!({"code": "XMAS", "name": "X", "amount": "0"}),
                "discount_codes[0].amount",
            ),
            (
                json!({"code": "XMAS", "name": "X", "amount": "5", "total_uses": 0}),
                "discount_codes[0].total_uses",
            ),
            (
                json!({"code": "XMAS", "name": "X", "amount": "5", "valid_from": "2026-02-01", "valid_to": "2026-01-01"}),
                "discount_codes[0].valid_to",
            ),
            (
                json!({"code": "XMAS", "name": "X", "amount": "5", "valid_to": "soon"}),
                "discount_codes[0].valid_to",
            ),
            (
                json!({"code": "XMAS", "name": "X", "free_product": {"sku": "", "name": "O", "price": "1", "vat_rate": "10"}}),
                "discount_codes[0].free_product.sku",
            ),
        ] {
            let e = code(bad);
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
