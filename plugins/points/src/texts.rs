//! What the cashier, the customer display and the receipt read, in the till's language:
//! Czech for a `cs` locale, German otherwise (the stores are in AT, DE and CZ).

use posd_plugin_sdk::Decimal;

use crate::config::{Kind, Programme};

/// The words of one language.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// Preview: "you will earn".
    pub earn: &'static str,
    /// "points" after a number.
    pub points: &'static str,
    /// Receipt: earned on this receipt.
    pub earned: &'static str,
    /// Receipt: redeemed on this receipt.
    pub redeemed: &'static str,
    /// Receipt: expired at this contact.
    pub expired: &'static str,
    /// Receipt: the balance after.
    pub balance: &'static str,
    /// Receipt: a debt is paid off by future points.
    pub debt: &'static str,
    /// Receipt: taken back by a void or return.
    pub taken_back: &'static str,
    /// Receipt: given back by a void or return.
    pub given_back: &'static str,
    /// Line name of a free redemption.
    pub redemption: &'static str,
    /// Action label of the redemption.
    pub redeem_action: &'static str,
    /// The next expiry on the receipt.
    pub expires_on: &'static str,
    /// Action label that takes the rewards off the sale.
    pub remove_rewards: &'static str,
    /// The redemption's hint: before the most points that can be redeemed.
    pub at_most: &'static str,
    /// The redemption's hint: that 0 takes it off.
    pub zero_takes_off: &'static str,
    /// The redemption's hint: before what one point is worth.
    pub one_point: &'static str,
}

const GERMAN: Words = Words {
    earn: "Sie sammeln",
    points: "Punkte",
    earned: "Gesammelt",
    redeemed: "Eingelöst",
    expired: "Verfallen",
    balance: "Punktestand",
    debt: "wird mit künftigen Punkten verrechnet",
    taken_back: "Zurückgebucht",
    given_back: "Gutgeschrieben",
    redemption: "Einlösung",
    redeem_action: "Punkte einlösen",
    expires_on: "verfallen am",
    remove_rewards: "Prämien entfernen",
    at_most: "höchstens",
    zero_takes_off: "0 nimmt die Einlösung zurück",
    one_point: "1 Punkt =",
};

const CZECH: Words = Words {
    earn: "Získáte",
    points: "bodů",
    earned: "Získáno",
    redeemed: "Uplatněno",
    expired: "Propadlo",
    balance: "Stav konta",
    debt: "bude započteno s dalšími body",
    taken_back: "Odečteno",
    given_back: "Vráceno",
    redemption: "Uplatnění",
    redeem_action: "Uplatnit body",
    expires_on: "propadne dne",
    remove_rewards: "Odebrat odměny",
    at_most: "nejvýše",
    zero_takes_off: "0 uplatnění zruší",
    one_point: "1 bod =",
};

/// The words for a BCP 47 locale (`cs-CZ` → Czech, anything else German).
pub fn words(locale: &str) -> Words {
    if locale.to_ascii_lowercase().starts_with("cs") {
        CZECH
    } else {
        GERMAN
    }
}

/// `amount` of a programme with its unit: `27 Punkte`, `12.50 CZK`.
pub fn quantity(programme: &Programme, amount: Decimal, words: Words) -> String {
    match programme.kind {
        Kind::Points => format!("{} {}", amount.normalize(), words.points),
        Kind::Money => format!("{:.2} {}", amount, programme.unit),
    }
}

/// A signed amount for receipts: `+27`, `-10`.
pub fn signed(programme: &Programme, amount: Decimal) -> String {
    let shown = match programme.kind {
        Kind::Points => amount.normalize().to_string(),
        Kind::Money => format!("{:.2}", amount),
    };
    if amount > Decimal::ZERO {
        format!("+{shown}")
    } else {
        shown
    }
}

/// A balance for receipts and accounts, as the programme keeps it.
pub fn plain(programme: &Programme, amount: Decimal) -> String {
    match programme.kind {
        Kind::Points => amount.normalize().to_string(),
        Kind::Money => format!("{:.2}", amount),
    }
}
