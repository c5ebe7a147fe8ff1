//! `[plugin.cards]`: the card number format, the programmes and the card types a till
//! sells, read and checked once at `create`. Anything wrong is refused naming the key, so
//! the plugin fails to load with a reason `posctl plugins` shows, instead of failing a sale
//! later.

use posd_plugin_sdk::Decimal;
use serde::Deserialize;

use crate::error::ConfigError;

/// The most programmes one card carries (the seed: "bis zu 5 verschiedene
/// Kundenbindungsprogramme").
pub const MAX_PROGRAMMES_PER_CARD: usize = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    number_prefix: String,
    #[serde(default = "default_length")]
    number_length: usize,
    #[serde(default = "default_method")]
    tender_method: String,
    #[serde(default)]
    without_customer: WithoutCustomer,
    #[serde(default)]
    programmes: Vec<RawProgramme>,
    #[serde(default)]
    card_types: Vec<RawCardType>,
}

fn default_length() -> usize {
    13
}

fn default_method() -> String {
    "card_credit".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProgramme {
    id: String,
    name: String,
    kind: Kind,
    percent: Option<Decimal>,
    tags: Option<Vec<String>>,
    every: Option<u32>,
    months: Option<u32>,
    price: Option<Decimal>,
    tax_rate: Option<Decimal>,
    sessions: Option<u32>,
    max_balance: Option<Decimal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCardType {
    id: String,
    name: String,
    programmes: Vec<String>,
    #[serde(default)]
    price: Decimal,
    #[serde(default)]
    tax_rate: Decimal,
    #[serde(default)]
    sku: String,
}

/// What a programme does for the holder of a card that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Stored value ("Guthabenkarte"): topped up at the till, spent as a tender.
    StoredValue,
    /// A percentage off tagged goods ("Rabattprogramm").
    Discount,
    /// Every Nth item of a group free ("Bonusartikel", the battery programme).
    BonusArticle,
    /// An extended warranty recorded with the item's serial ("Garantieverlängerung").
    Warranty,
    /// N sessions, one used per visit ("Trainingskarte").
    Sessions,
}

/// What selling a card does on a sale without a customer (`without_customer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithoutCustomer {
    /// The card number becomes the customer: the sale's customer is set to it, and the
    /// card's programmes are that customer's. The default: a card sold over the counter
    /// to someone not known yet is their identity from then on.
    #[default]
    CardBecomesCustomer,
    /// Selling a card needs a customer on the sale (`CustomerRequired`).
    CustomerRequired,
}

/// What a programme of each kind is configured with.
#[derive(Debug, Clone, PartialEq)]
pub enum Terms {
    /// `max_balance`: the most a card may hold; `None` for no limit.
    StoredValue {
        /// The highest balance a top-up may bring the card to.
        max_balance: Option<Decimal>,
    },
    /// `percent` off goods carrying one of `tags`.
    Discount {
        /// Percent, more than 0 and at most 100.
        percent: Decimal,
        /// Line tags of the goods it reduces.
        tags: Vec<String>,
    },
    /// Every `every`th unit of goods carrying one of `tags` is free.
    BonusArticle {
        /// N: after N − 1 paid units the next one is free.
        every: u32,
        /// Line tags of the goods counted.
        tags: Vec<String>,
    },
    /// An extended warranty of `months` from the day of sale, for goods carrying one of
    /// `tags` (any item when empty), sold as a line of `price` at `tax_rate`.
    Warranty {
        /// How long the extended warranty runs from the day of sale.
        months: u32,
        /// Line tags of the goods it may cover; empty: any item.
        tags: Vec<String>,
        /// The price of the extension (0.00: included with the card).
        price: Decimal,
        /// The VAT rate of that price.
        tax_rate: Decimal,
    },
    /// `sessions` sessions put on the card when it is sold.
    Sessions {
        /// How many visits the card is good for.
        sessions: u32,
    },
}

/// One checked programme.
#[derive(Debug, Clone, PartialEq)]
pub struct Programme {
    /// Stable id: names ledger accounts and kv keys, so never rename a programme in use.
    pub id: String,
    /// For receipts and `Manager1.Customer`.
    pub name: String,
    /// Its kind's terms.
    pub terms: Terms,
}

impl Programme {
    /// The programme's kind.
    pub fn kind(&self) -> Kind {
        match self.terms {
            Terms::StoredValue { .. } => Kind::StoredValue,
            Terms::Discount { .. } => Kind::Discount,
            Terms::BonusArticle { .. } => Kind::BonusArticle,
            Terms::Warranty { .. } => Kind::Warranty,
            Terms::Sessions { .. } => Kind::Sessions,
        }
    }
}

/// A card type the till sells (`sell-card`), with the programmes its cards carry.
#[derive(Debug, Clone, PartialEq)]
pub struct CardType {
    /// Id, the `card_type` argument of `sell-card`.
    pub id: String,
    /// The line's text.
    pub name: String,
    /// The programmes, 1 to 5, each of another kind.
    pub programmes: Vec<String>,
    /// What the card costs (0.00: free).
    pub price: Decimal,
    /// The VAT rate of the price.
    pub tax_rate: Decimal,
    /// Article number of the card's line.
    pub sku: String,
}

/// The checked configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Digits every card number starts with.
    pub number_prefix: String,
    /// Digits of a card number, check digit included.
    pub number_length: usize,
    /// The tender method of stored value.
    pub tender_method: String,
    /// What selling a card on a sale without a customer does.
    pub without_customer: WithoutCustomer,
    /// In configuration order.
    pub programmes: Vec<Programme>,
    /// In configuration order.
    pub card_types: Vec<CardType>,
}

/// The tender methods of the host and of the vouchers plugin: a card plugin declaring one
/// of them would take tenders that are not its own.
const TAKEN_METHODS: [&str; 4] = ["cash", "card", "voucher", "credit"];

impl Config {
    /// Reads and checks the section; the error names the key.
    pub fn parse(value: serde_json::Value) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "(section)".to_string()
            } else {
                path
            };
            ConfigError::invalid(path, e.inner().to_string())
        })?;
        let prefix = raw.number_prefix.trim().to_string();
        if prefix.is_empty() || prefix.len() > 10 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::invalid(
                "number_prefix",
                format!("{prefix:?} must be 1 to 10 digits"),
            ));
        }
        if !(8..=19).contains(&raw.number_length) || raw.number_length < prefix.len() + 2 {
            return Err(ConfigError::invalid(
                "number_length",
                format!(
                    "{} must be 8 to 19 digits and leave room for at least one digit after the prefix and the check digit",
                    raw.number_length
                ),
            ));
        }
        let method = raw.tender_method.trim().to_string();
        if method.is_empty()
            || !method
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            || TAKEN_METHODS.contains(&method.as_str())
        {
            return Err(ConfigError::invalid(
                "tender_method",
                format!(
                    "{method:?} must be lowercase letters, digits, _ or -, and none of {TAKEN_METHODS:?}"
                ),
            ));
        }
        let mut programmes: Vec<Programme> = Vec::new();
        for (i, p) in raw.programmes.into_iter().enumerate() {
            let key = format!("programmes[{i}]");
            let programme = check_programme(&key, p)?;
            if programmes.iter().any(|q| q.id == programme.id) {
                return Err(ConfigError::invalid(
                    format!("{key}.id"),
                    format!("{:?} is used twice", programme.id),
                ));
            }
            programmes.push(programme);
        }
        let mut card_types: Vec<CardType> = Vec::new();
        for (i, t) in raw.card_types.into_iter().enumerate() {
            let key = format!("card_types[{i}]");
            let card_type = check_card_type(&key, t, &programmes)?;
            if card_types.iter().any(|c| c.id == card_type.id) {
                return Err(ConfigError::invalid(
                    format!("{key}.id"),
                    format!("{:?} is used twice", card_type.id),
                ));
            }
            card_types.push(card_type);
        }
        if card_types.is_empty() {
            return Err(ConfigError::invalid(
                "card_types",
                "at least one card type is needed",
            ));
        }
        Ok(Config {
            number_prefix: prefix,
            number_length: raw.number_length,
            tender_method: method,
            without_customer: raw.without_customer,
            programmes,
            card_types,
        })
    }

    /// The programme with this id.
    pub fn programme(&self, id: &str) -> Option<&Programme> {
        self.programmes.iter().find(|p| p.id == id)
    }

    /// The card type with this id.
    pub fn card_type(&self, id: &str) -> Option<&CardType> {
        self.card_types.iter().find(|c| c.id == id)
    }
}

/// An id for ledger accounts and kv keys: lowercase letters, digits, `-` and `_`.
fn check_id(key: &str, id: &str) -> Result<String, ConfigError> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(id.to_string())
    } else {
        Err(ConfigError::invalid(
            format!("{key}.id"),
            format!("{id:?} must be 1 to 32 lowercase letters, digits, - or _"),
        ))
    }
}

fn check_name(key: &str, name: &str) -> Result<String, ConfigError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(ConfigError::invalid(
            format!("{key}.name"),
            "must be 1 to 60 characters",
        ));
    }
    Ok(name.to_string())
}

fn check_tags(
    key: &str,
    tags: Option<Vec<String>>,
    needed: bool,
) -> Result<Vec<String>, ConfigError> {
    let tags: Vec<String> = tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.trim().to_string())
        .collect();
    if tags.iter().any(String::is_empty) {
        return Err(ConfigError::invalid(
            format!("{key}.tags"),
            "a tag is empty",
        ));
    }
    if needed && tags.is_empty() {
        return Err(ConfigError::invalid(
            format!("{key}.tags"),
            "needs at least one line tag (e.g. \"group:batteries\")",
        ));
    }
    Ok(tags)
}

fn check_money(key: &str, amount: Decimal) -> Result<Decimal, ConfigError> {
    if amount.is_sign_negative() || amount.scale() > 2 || amount > Decimal::from(100_000) {
        return Err(ConfigError::invalid(
            key,
            format!("{amount} must be 0 to 100000 with at most 2 decimals"),
        ));
    }
    Ok(amount)
}

fn check_rate(key: &str, rate: Decimal) -> Result<Decimal, ConfigError> {
    if rate.is_sign_negative() || rate >= Decimal::ONE_HUNDRED {
        return Err(ConfigError::invalid(
            key,
            format!("{rate} must be 0 to below 100"),
        ));
    }
    Ok(rate)
}

/// Refuses keys given for a kind that does not use them, naming the first.
/// The kind-specific keys of a programme and the kinds each belongs to: one table, so a
/// new key or kind is one line here instead of a list per kind.
const KIND_KEYS: &[(&str, &[Kind])] = &[
    ("percent", &[Kind::Discount]),
    (
        "tags",
        &[Kind::Discount, Kind::BonusArticle, Kind::Warranty],
    ),
    ("every", &[Kind::BonusArticle]),
    ("months", &[Kind::Warranty]),
    ("price", &[Kind::Warranty]),
    ("tax_rate", &[Kind::Warranty]),
    ("sessions", &[Kind::Sessions]),
    ("max_balance", &[Kind::StoredValue]),
];

/// Refuses a key of `p` that belongs to another kind of programme, naming it.
fn refuse_foreign(key: &str, p: &RawProgramme) -> Result<(), ConfigError> {
    let given = |name: &str| match name {
        "percent" => p.percent.is_some(),
        "tags" => p.tags.is_some(),
        "every" => p.every.is_some(),
        "months" => p.months.is_some(),
        "price" => p.price.is_some(),
        "tax_rate" => p.tax_rate.is_some(),
        "sessions" => p.sessions.is_some(),
        "max_balance" => p.max_balance.is_some(),
        _ => false,
    };
    match KIND_KEYS
        .iter()
        .find(|(name, kinds)| given(name) && !kinds.contains(&p.kind))
    {
        Some((name, _)) => Err(ConfigError::invalid(
            format!("{key}.{name}"),
            format!("is not a key of a programme of kind {:?}", p.kind),
        )),
        None => Ok(()),
    }
}

fn check_programme(key: &str, p: RawProgramme) -> Result<Programme, ConfigError> {
    let id = check_id(key, &p.id)?;
    let name = check_name(key, &p.name)?;
    refuse_foreign(key, &p)?;
    let kind = p.kind;
    let terms = match kind {
        Kind::StoredValue => {
            let max_balance = p
                .max_balance
                .map(|m| check_money(&format!("{key}.max_balance"), m))
                .transpose()?;
            if max_balance.is_some_and(|m| m.is_zero()) {
                return Err(ConfigError::invalid(
                    format!("{key}.max_balance"),
                    "must be more than 0 (leave it out for no limit)",
                ));
            }
            Terms::StoredValue { max_balance }
        }
        Kind::Discount => {
            let percent = p.percent.ok_or_else(|| {
                ConfigError::invalid(format!("{key}.percent"), "is required for a discount")
            })?;
            if percent <= Decimal::ZERO || percent > Decimal::ONE_HUNDRED {
                return Err(ConfigError::invalid(
                    format!("{key}.percent"),
                    format!("{percent} must be more than 0 and at most 100"),
                ));
            }
            Terms::Discount {
                percent,
                tags: check_tags(key, p.tags, true)?,
            }
        }
        Kind::BonusArticle => {
            let every = p.every.ok_or_else(|| {
                ConfigError::invalid(format!("{key}.every"), "is required for a bonus article")
            })?;
            if !(2..=1000).contains(&every) {
                return Err(ConfigError::invalid(
                    format!("{key}.every"),
                    format!("{every} must be 2 to 1000 (every Nth item is free)"),
                ));
            }
            Terms::BonusArticle {
                every,
                tags: check_tags(key, p.tags, true)?,
            }
        }
        Kind::Warranty => {
            let months = p.months.ok_or_else(|| {
                ConfigError::invalid(format!("{key}.months"), "is required for a warranty")
            })?;
            if !(1..=120).contains(&months) {
                return Err(ConfigError::invalid(
                    format!("{key}.months"),
                    format!("{months} must be 1 to 120"),
                ));
            }
            Terms::Warranty {
                months,
                tags: check_tags(key, p.tags, false)?,
                price: check_money(&format!("{key}.price"), p.price.unwrap_or_default())?,
                tax_rate: check_rate(&format!("{key}.tax_rate"), p.tax_rate.unwrap_or_default())?,
            }
        }
        Kind::Sessions => {
            let sessions = p.sessions.ok_or_else(|| {
                ConfigError::invalid(format!("{key}.sessions"), "is required for a session card")
            })?;
            if !(1..=1000).contains(&sessions) {
                return Err(ConfigError::invalid(
                    format!("{key}.sessions"),
                    format!("{sessions} must be 1 to 1000"),
                ));
            }
            Terms::Sessions { sessions }
        }
    };
    Ok(Programme { id, name, terms })
}

fn check_card_type(
    key: &str,
    t: RawCardType,
    programmes: &[Programme],
) -> Result<CardType, ConfigError> {
    let id = check_id(key, &t.id)?;
    let name = check_name(key, &t.name)?;
    if t.programmes.is_empty() || t.programmes.len() > MAX_PROGRAMMES_PER_CARD {
        return Err(ConfigError::invalid(
            format!("{key}.programmes"),
            format!(
                "a card carries 1 to {MAX_PROGRAMMES_PER_CARD} programmes, not {}",
                t.programmes.len()
            ),
        ));
    }
    let mut kinds = Vec::new();
    for (j, pid) in t.programmes.iter().enumerate() {
        let programme = programmes.iter().find(|p| p.id == *pid).ok_or_else(|| {
            ConfigError::invalid(
                format!("{key}.programmes[{j}]"),
                format!("{pid:?} is no programme of [[plugin.cards.programmes]]"),
            )
        })?;
        if kinds.contains(&programme.kind()) {
            return Err(ConfigError::invalid(
                format!("{key}.programmes[{j}]"),
                format!(
                    "{pid:?}: a card carries at most one programme of kind {:?}",
                    programme.kind()
                ),
            ));
        }
        kinds.push(programme.kind());
    }
    Ok(CardType {
        id,
        name,
        programmes: t.programmes,
        price: check_money(&format!("{key}.price"), t.price)?,
        tax_rate: check_rate(&format!("{key}.tax_rate"), t.tax_rate)?,
        sku: t.sku,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "number_prefix": "2791",
            "programmes": [
                {"id": "credit", "name": "Guthaben", "kind": "stored_value"},
                {"id": "batt", "name": "Batterien", "kind": "bonus_article", "every": 5,
                 "tags": ["group:batteries"]}
            ],
            "card_types": [{"id": "basic", "name": "Kundenkarte", "programmes": ["credit", "batt"]}]
        })
    }

    fn error_of(value: serde_json::Value) -> String {
        Config::parse(value).unwrap_err().to_string()
    }

    #[test]
    fn a_good_section_reads_with_its_defaults() {
        let c = Config::parse(base()).unwrap();
        assert_eq!(c.number_length, 13);
        assert_eq!(c.tender_method, "card_credit");
        assert_eq!(c.without_customer, WithoutCustomer::CardBecomesCustomer);
        assert_eq!(c.card_types[0].price, Decimal::ZERO);
    }

    #[test]
    fn a_key_of_another_kind_is_refused_by_name_and_its_own_kinds_take_it() {
        let value = |key: &str| match key {
            "tags" => json!(["group:x"]),
            "every" | "months" | "sessions" => json!(3),
            "tax_rate" => json!("20"),
            _ => json!("10.00"),
        };
        let kinds = [
            (Kind::StoredValue, "stored_value"),
            (Kind::Discount, "discount"),
            (Kind::BonusArticle, "bonus_article"),
            (Kind::Warranty, "warranty"),
            (Kind::Sessions, "sessions"),
        ];
        for (key, owners) in KIND_KEYS {
            for (kind, name) in kinds {
                let mut v = base();
                v["programmes"][0] =
                    json!({"id": "p", "name": "P", "kind": name, (*key): value(key)});
                let refused = Config::parse(v).err().map(|e| e.to_string());
                let foreign = refused.as_deref().is_some_and(|e| {
                    e.contains(&format!("programmes[0].{key}")) && e.contains("not a key")
                });
                assert_eq!(
                    foreign,
                    !owners.contains(&kind),
                    "{key} on {name}: {refused:?}"
                );
            }
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut v = base();
        v["programmes"][1]["every"] = json!(1);
        assert!(error_of(v).contains("programmes[1].every"));
        let mut v = base();
        v["programmes"][0]["percent"] = json!("10");
        assert!(
            error_of(v).contains("programmes[0].percent"),
            "a key of another kind"
        );
        let mut v = base();
        v["card_types"][0]["programmes"] = json!(["credit", "nope"]);
        assert!(error_of(v).contains("card_types[0].programmes[1]"));
        let mut v = base();
        v["number_prefix"] = json!("27A");
        assert!(error_of(v).contains("number_prefix"));
        let mut v = base();
        v["tender_method"] = json!("credit");
        assert!(error_of(v).contains("tender_method"));
        let mut v = base();
        v["programmes"][0]["colour"] = json!("red");
        let e = error_of(v);
        assert!(e.contains("programmes[0]") && e.contains("colour"), "{e}");
        let mut v = base();
        v["card_types"][0]["programmes"] = json!(["credit", "credit"]);
        assert!(error_of(v).contains("card_types[0].programmes[1]"));
        let mut v = base();
        v["card_types"][0]["programmes"] = json!(["a", "b", "c", "d", "e", "f"]);
        assert!(error_of(v).contains("card_types[0].programmes"));
        let mut v = base();
        v["without_customer"] = json!("maybe");
        assert!(error_of(v).contains("without_customer"));
    }
}
