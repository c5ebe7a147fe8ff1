//! Voucher products: a programme may name the product (`sku`) it sells, and one product
//! may belong to several programmes (seed 002: "wenn ein Geschenkkarten- oder
//! eWallet-Produkt bei mehreren Programmen hinterlegt ist, [muss] zusätzlich zur Auswahl
//! des Produkts das Programm ausgewählt werden"). Each product gets an action
//! `sell-product-<sku>`; for a product of several programmes it asks which one with a
//! required `programme` parameter of type `choice`.

use posd_plugin_sdk::PluginError;
use posd_plugin_sdk::schema::{Action, ActionParam, Effects, InvokeActionRequest, ParamType};
use posd_plugin_sdk::{Host, serde_json::json};

use crate::config::{AmountRule, Programme};
use crate::error::ConfigError;

/// Action id prefix of selling a product: `sell-product-<sku>` (a programme id has no
/// `-`, so this never meets a `sell-<programme>` action).
pub const SELL_PRODUCT_PREFIX: &str = "sell-product-";

/// The parameter that picks the programme of a product in several.
pub const PROGRAMME_PARAM: &str = "programme";

/// A configured `sku`, checked: 1–32 of `A-Z a-z 0-9 - _ .` (it is part of an action id).
pub fn checked_sku(key: &str, sku: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(sku) = sku else {
        return Ok(None);
    };
    let sku = sku.trim().to_string();
    if sku.is_empty()
        || sku.len() > 32
        || !sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(ConfigError::invalid(
            key,
            format!("{sku:?}: 1 to 32 of A-Z, a-z, 0-9, -, _ and ."),
        ));
    }
    Ok(Some(sku))
}

/// The configured products in configuration order, each with its programmes.
fn products(programmes: &[Programme]) -> Vec<(&str, Vec<&Programme>)> {
    let mut products: Vec<(&str, Vec<&Programme>)> = Vec::new();
    for p in programmes {
        let Some(sku) = p.sku.as_deref() else {
            continue;
        };
        match products.iter_mut().find(|(s, _)| *s == sku) {
            Some((_, of)) => of.push(p),
            None => products.push((sku, vec![p])),
        }
    }
    products
}

impl crate::Vouchers {
    /// One `sell-product-<sku>` action per configured product.
    pub(crate) fn product_actions(&self) -> Vec<Action> {
        products(&self.config.programmes)
            .into_iter()
            .map(|(sku, of)| {
                let mut params = Vec::new();
                if of.len() > 1 {
                    params.push(ActionParam {
                        name: PROGRAMME_PARAM.into(),
                        param_type: ParamType::Choice,
                        required: true,
                        choices: of.iter().map(|p| p.id.clone()).collect(),
                        help: "Programm des Produkts wählen".into(),
                        ..ActionParam::default()
                    });
                }
                let fixed = match of.as_slice() {
                    [only] => match only.amount {
                        AmountRule::Fixed { amount } => Some(amount),
                        AmountRule::Free { .. } => None,
                    },
                    _ => None,
                };
                params.push(ActionParam {
                    name: "amount".into(),
                    param_type: ParamType::Decimal,
                    required: of
                        .iter()
                        .all(|p| matches!(p.amount, AmountRule::Free { .. })),
                    suggested: fixed.map(|a| json!(a.to_string())),
                    ..ActionParam::default()
                });
                let label = match of.as_slice() {
                    // "(Artikel …)": the programme's own sell action has the plain name.
                    [only] => format!("{} verkaufen (Artikel {sku})", only.name),
                    _ => format!("Gutscheinprodukt {sku} verkaufen"),
                };
                Action {
                    id: format!("{SELL_PRODUCT_PREFIX}{sku}"),
                    label,
                    params,
                }
            })
            .collect()
    }

    /// Sells (or issues) the product `sku` under the programme the cashier chose.
    pub(crate) fn sell_product(
        &mut self,
        host: &Host,
        request: &InvokeActionRequest,
        sku: &str,
    ) -> Result<Effects, PluginError> {
        let programme = {
            let products = products(&self.config.programmes);
            let (_, of) = products
                .into_iter()
                .find(|(s, _)| *s == sku)
                .ok_or_else(|| PluginError::not_found(format!("no action {:?}", request.action)))?;
            let chosen = crate::string_arg(request, PROGRAMME_PARAM)?;
            match (of.as_slice(), chosen) {
                ([only], None) => (*only).clone(),
                (_, None) => {
                    return Err(PluginError::invalid_argument(format!(
                        "argument {PROGRAMME_PARAM}: product {sku} belongs to several programmes, choose one of {}",
                        of.iter()
                            .map(|p| p.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                (_, Some(id)) => of
                    .iter()
                    .find(|p| p.id == id)
                    .map(|p| (*p).clone())
                    .ok_or_else(|| {
                        PluginError::invalid_argument(format!(
                            "argument {PROGRAMME_PARAM}: {id:?} is not a programme of product {sku}"
                        ))
                    })?,
            }
        };
        self.sell(host, request, &programme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sku_must_fit_an_action_id() {
        assert_eq!(checked_sku("k", None), Ok(None));
        assert_eq!(
            checked_sku("k", Some(" GK-1 ".into())),
            Ok(Some("GK-1".into()))
        );
        for bad in ["", "GK 1", "GK:1", &"X".repeat(33)] {
            let e = checked_sku("programmes[0].sku", Some(bad.to_string()))
                .expect_err(bad)
                .to_string();
            assert!(e.contains("programmes[0].sku"), "{e}");
        }
    }
}
