//! The effects of an admin action (plugin ABI 1.2), committed as a checkout commits a
//! plugin's: a promotional batch of vouchers needs balances in the ledger and terms in kv
//! written together, outside any sale.
//!
//! The write is [`JournalWrite::admin`]: the same balanced-per-plugin postings, floors,
//! kv writes and outbox messages as a checkout's, in one SQLite transaction, as one ledger
//! entry of kind `admin` whose reference names the plugin, the action and a number used once
//! per database (`admin:vouchers:issue:3`). There is no receipt: the money did not pass the
//! till, so the journal's receipts and the host's own accounts are untouched, and
//! `booking::verify` accepts such an entry only with the postings of the plugin it names.

use posd_plugin_sdk::schema as wire;
use rusqlite::OptionalExtension;

use super::checkout::{ADMIN_SEQUENCE, Journal, JournalError, JournalWrite};
use crate::ledger::LedgerError;
use crate::plugins::CallError;

/// The reference of admin write number `n` of `plugin`'s `action`.
pub fn admin_reference(plugin: &str, action: &str, n: i64) -> String {
    format!("admin:{plugin}:{action}:{n}")
}

/// Whether `effects` would write anything.
fn writes_nothing(effects: &wire::CheckoutEffects) -> bool {
    effects.postings.is_empty() && effects.kv.is_empty() && effects.outbox.is_empty()
}

impl Journal {
    /// Commits the effects admin action `action` of `plugin` answered, before its answer
    /// goes back to the caller; the reference of its ledger entry, or `None` when the
    /// effects write nothing. Refused whole, with nothing written: postings that do not
    /// balance per unit or use an account in two units (`PluginFailed`, naming plugin and
    /// action), a balance below its floor (`InsufficientBalance`), receipt `sections`
    /// (`PluginFailed`: there is no receipt to print them on).
    pub async fn commit_admin(
        &self,
        plugin: &str,
        action: &str,
        effects: wire::CheckoutEffects,
    ) -> Result<Option<String>, JournalError> {
        let failed = |why: String| -> JournalError {
            CallError::Failed(format!("plugin {plugin}: admin action {action}: {why}")).into()
        };
        if !effects.sections.is_empty() {
            return Err(failed(
                "its effects have receipt sections, but an admin action has no receipt to print them on"
                    .into(),
            ));
        }
        if writes_nothing(&effects) {
            return Ok(None);
        }
        let (plugin_id, action_id) = (plugin.to_string(), action.to_string());
        // Number and write in one job of the database thread, which runs one job at a
        // time: no other admin write can take the same number in between.
        let outcome = self
            .db
            .call(move |c| {
                let last: Option<String> = c
                    .query_row(
                        "SELECT value FROM meta WHERE key = ?1",
                        [ADMIN_SEQUENCE],
                        |r| r.get(0),
                    )
                    .optional()?;
                let n = last.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) + 1;
                let reference = admin_reference(&plugin_id, &action_id, n);
                let mut write = JournalWrite::admin(&plugin_id, effects, &reference);
                write.admin_number = Some(n);
                Ok(write.apply(c)?.map(|()| reference))
            })
            .await?;
        match outcome {
            Ok(reference) => {
                tracing::info!(plugin, action, reference = %reference, "admin action's effects committed");
                self.outbox_wake.notify_one();
                Ok(Some(reference))
            }
            Err(e @ LedgerError::BelowFloor { .. }) => Err(JournalError::InsufficientBalance(
                format!("plugin {plugin}: admin action {action}: {e}"),
            )),
            Err(e) => Err(failed(format!("its ledger entry was refused: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::Decimal;
    use std::str::FromStr;

    fn posting(account: &str, amount: &str, floor: Option<&str>) -> wire::Posting {
        wire::Posting {
            account: account.into(),
            amount: Decimal::from_str(amount).expect("decimal"),
            unit: "EUR".into(),
            kind: "issue".into(),
            floor: floor.map(|f| Decimal::from_str(f).expect("decimal")),
            ..wire::Posting::default()
        }
    }

    fn db() -> (tempfile::TempDir, rusqlite::Connection) {
        let dir = tempfile::tempdir().expect("dir");
        let c = crate::store::open(dir.path(), std::time::Duration::from_secs(1)).expect("open");
        (dir, c)
    }

    fn counts(c: &rusqlite::Connection) -> (i64, i64, i64) {
        let count = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).expect("count");
        (
            count("SELECT count(*) FROM ledger_entries"),
            count("SELECT count(*) FROM plugin_kv"),
            count("SELECT count(*) FROM receipts"),
        )
    }

    #[test]
    fn an_admin_write_is_one_entry_without_a_receipt_and_verifies() {
        let (_dir, mut c) = db();
        let effects = wire::CheckoutEffects {
            postings: vec![
                posting("voucher:A", "25", Some("0")),
                posting("promo", "-25", None),
            ],
            kv: vec![wire::KvWrite::put("batch:B-1", serde_json::json!({"n": 1}))],
            ..wire::CheckoutEffects::default()
        };
        let reference = admin_reference("vouchers", "issue", 1);
        let write = JournalWrite::admin("vouchers", effects, &reference);
        write.apply(&mut c).expect("sqlite").expect("booked");
        let entry: (String, String) = c
            .query_row("SELECT kind, reference FROM ledger_entries", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("entry");
        assert_eq!(entry, ("admin".into(), "admin:vouchers:issue:1".into()));
        assert_eq!(counts(&c), (1, 1, 0));
        let verified = super::super::booking::verify(&c, |_| 2).expect("sqlite");
        assert_eq!(verified.map(|v| v.admin_entries), Ok(1));
    }

    #[test]
    fn verify_names_entries_of_no_receipt_that_are_no_admin_actions_own() {
        let spec = |account: &str, amount: i64| crate::ledger::PostingSpec {
            account: account.into(),
            amount: Decimal::from(amount),
            unit: "EUR".into(),
            kind: "issue".into(),
            floor: None,
            customer: None,
            expires: None,
        };
        for (kind, reference, accounts, part) in [
            (
                "admin",
                "admin:vouchers:issue:1",
                ["vouchers:voucher:A", "points:pool"],
                "may only post to its plugin vouchers's",
            ),
            (
                "sale",
                "0001-01-000009",
                ["vouchers:voucher:A", "vouchers:promo"],
                "neither a receipt nor an admin action's entry",
            ),
            (
                "admin",
                "admin:vouchers",
                ["vouchers:voucher:A", "vouchers:promo"],
                "neither a receipt nor an admin action's entry",
            ),
        ] {
            let (_dir, c) = db();
            crate::ledger::post(
                &c,
                kind,
                reference,
                "",
                &[spec(accounts[0], 5), spec(accounts[1], -5)],
            )
            .expect("post");
            let breach = super::super::booking::verify(&c, |_| 2)
                .expect("sqlite")
                .expect_err("breach");
            assert!(breach.contains(part), "{reference}: {breach}");
        }
    }

    #[test]
    fn an_account_used_in_another_unit_refuses_the_whole_write() {
        let (_dir, mut c) = db();
        let eur = wire::CheckoutEffects {
            postings: vec![
                posting("voucher:A", "5", Some("0")),
                posting("promo", "-5", None),
            ],
            ..wire::CheckoutEffects::default()
        };
        JournalWrite::admin("vouchers", eur, "admin:vouchers:issue:1")
            .apply(&mut c)
            .expect("sqlite")
            .expect("booked");
        let mut points = [posting("voucher:A", "5", None), posting("pool", "-5", None)];
        for p in &mut points {
            p.unit = "points".into();
        }
        let mixed = wire::CheckoutEffects {
            postings: points.to_vec(),
            kv: vec![wire::KvWrite::put("x", serde_json::json!(1))],
            ..wire::CheckoutEffects::default()
        };
        let refused = JournalWrite::admin("vouchers", mixed, "admin:vouchers:issue:2")
            .apply(&mut c)
            .expect("sqlite")
            .expect_err("unit mismatch");
        assert!(
            matches!(refused, LedgerError::UnitMismatch { .. }),
            "{refused}"
        );
        assert_eq!(counts(&c), (1, 0, 0), "nothing of the second write");
    }

    #[test]
    fn unbalanced_or_below_floor_admin_effects_write_nothing() {
        let (_dir, mut c) = db();
        let kv = vec![wire::KvWrite::put("batch:B-1", serde_json::json!(1))];
        for (postings, part) in [
            (vec![posting("voucher:A", "25", Some("0"))], "sum to 25"),
            (
                vec![
                    posting("voucher:A", "-5", Some("0")),
                    posting("promo", "5", None),
                ],
                "below its floor",
            ),
        ] {
            let effects = wire::CheckoutEffects {
                postings,
                kv: kv.clone(),
                ..wire::CheckoutEffects::default()
            };
            let mut write = JournalWrite::admin("vouchers", effects, "admin:vouchers:issue:1");
            write.admin_number = Some(1);
            let refused = write.apply(&mut c).expect("sqlite").expect_err("refused");
            assert!(refused.to_string().contains(part), "{refused}");
            assert_eq!(counts(&c), (0, 0, 0), "nothing was written");
            let sequence: Option<String> = c
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [ADMIN_SEQUENCE],
                    |r| r.get(0),
                )
                .optional()
                .expect("meta");
            assert_eq!(sequence, None, "not even the number");
        }
    }
}
