//! The ledger: double-entry bookkeeping of every value account plugins keep — voucher
//! balances, eWallets, customer credit, points, forfeited residual values, use counters.
//!
//! Plugins never write money themselves: they return postings, and the host commits them
//! here inside the checkout's transaction. Every posting belongs to one journal entry, and
//! within an entry the postings of each unit sum to zero. The tables are append-only
//! (triggers refuse updates and deletes); a balance is the sum of an account's postings,
//! cached on the account and checked by [`verify`]. An account may have a floor (a voucher
//! can't go below 0): a posting that would cross it fails the whole entry.
//!
//! Amounts are `rust_decimal::Decimal`, stored as decimal strings: never floats.

use std::collections::BTreeMap;
use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;

/// Why a ledger write was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// An entry without postings.
    #[error("a journal entry needs at least one posting")]
    Empty,
    /// The postings of a unit do not sum to zero.
    #[error("the postings in {unit} sum to {sum}, not 0: double entry requires a counter-posting")]
    Unbalanced {
        /// The unit.
        unit: String,
        /// What they sum to.
        sum: Decimal,
    },
    /// A posting's unit differs from its account's.
    #[error("account {account} is kept in {expected}, not {found}")]
    UnitMismatch {
        /// The account.
        account: String,
        /// Its unit.
        expected: String,
        /// The posting's unit.
        found: String,
    },
    /// The posting would take the account below its floor.
    #[error("account {account} would fall to {balance}, below its floor of {floor}")]
    BelowFloor {
        /// The account.
        account: String,
        /// The balance it would have.
        balance: Decimal,
        /// Its floor.
        floor: Decimal,
    },
    /// A writer's own rule refused the postings (a plugin's postings that do not balance on
    /// their own).
    #[error("{0}")]
    Refused(String),
    /// SQLite failed.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Owner of the host's own accounts (`host:cash:01`, `host:vat:20`, …); no plugin may take
/// this id, so plugins' postings never reach the host's accounts.
pub const HOST_OWNER: &str = "host";

/// The full account code of a plugin's account: plugins name accounts in their own
/// namespace, the host prefixes the plugin id so no plugin can touch another's.
pub fn plugin_account(plugin: &str, account: &str) -> String {
    format!("{plugin}:{account}")
}

/// One posting to write.
#[derive(Debug, Clone, PartialEq)]
pub struct PostingSpec {
    /// Full account code (see [`plugin_account`]).
    pub account: String,
    /// Signed amount.
    pub amount: Decimal,
    /// Currency code, `points`, `uses`, …
    pub unit: String,
    /// Kind of the account when it is first used: voucher, wallet, credit, points, …
    pub kind: String,
    /// Lowest balance allowed, set when the account is first used.
    pub floor: Option<Decimal>,
    /// Customer the account belongs to, set when the account is first used.
    pub customer: Option<String>,
    /// When this posting's value expires (points lots), RFC 3339 date or time.
    pub expires: Option<String>,
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Full code.
    pub code: String,
    /// Plugin id, or `host`.
    pub owner: String,
    /// voucher, wallet, credit, points, …
    pub kind: String,
    /// Unit of its amounts.
    pub unit: String,
    /// Lowest balance allowed.
    pub floor: Option<Decimal>,
    /// Owning customer.
    pub customer: Option<String>,
    /// Cached balance (sum of postings).
    pub balance: Decimal,
}

/// A posting as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Posting {
    /// Journal entry id.
    pub entry: i64,
    /// When the entry was written.
    pub time: String,
    /// Signed amount.
    pub amount: Decimal,
    /// Expiry of this value, if any.
    pub expires: Option<String>,
}

/// Reads a stored decimal; a non-decimal is corruption and an error, never a silent 0.
fn stored_decimal(index: usize, text: &str) -> rusqlite::Result<Decimal> {
    Decimal::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Reads an account by code.
pub fn account(c: &Connection, code: &str) -> rusqlite::Result<Option<Account>> {
    let row = c
        .query_row(
            "SELECT code, owner, kind, unit, floor, customer, balance FROM ledger_accounts WHERE code = ?1",
            [code],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )
        .optional()?;
    row.map(|(code, owner, kind, unit, floor, customer, balance)| {
        Ok(Account {
            floor: floor.as_deref().map(|f| stored_decimal(4, f)).transpose()?,
            balance: stored_decimal(6, &balance)?,
            code,
            owner,
            kind,
            unit,
            customer,
        })
    })
    .transpose()
}

/// The newest `limit` postings of an account, **newest first**, as the plugin ABI's
/// `ledger.postings` promises (a points plugin walks them back for FIFO expiry).
pub fn postings(c: &Connection, code: &str, limit: u64) -> rusqlite::Result<Vec<Posting>> {
    let mut stmt = c.prepare(
        "SELECT p.entry_id, e.time, p.amount, p.expires FROM ledger_postings p
         JOIN ledger_entries e ON e.id = p.entry_id
         JOIN ledger_accounts a ON a.id = p.account_id
         WHERE a.code = ?1 ORDER BY p.id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        params![code, i64::try_from(limit).unwrap_or(i64::MAX)],
        |r| {
            Ok(Posting {
                entry: r.get(0)?,
                time: r.get(1)?,
                amount: stored_decimal(2, &r.get::<_, String>(2)?)?,
                expires: r.get(3)?,
            })
        },
    )?;
    rows.collect()
}

/// Checks that `postings` sum to zero in each unit (double entry).
pub fn check_balanced(postings: &[PostingSpec]) -> Result<(), LedgerError> {
    let mut sums: BTreeMap<&str, Decimal> = BTreeMap::new();
    for p in postings {
        *sums.entry(p.unit.as_str()).or_default() += p.amount;
    }
    match sums.into_iter().find(|(_, sum)| !sum.is_zero()) {
        Some((unit, sum)) => Err(LedgerError::Unbalanced {
            unit: unit.to_string(),
            sum,
        }),
        None => Ok(()),
    }
}

/// Writes one journal entry with its postings, in the caller's transaction. Refuses, writing
/// nothing, an entry that does not balance per unit or takes an account below its floor.
pub fn post(
    c: &Connection,
    kind: &str,
    reference: &str,
    memo: &str,
    postings: &[PostingSpec],
) -> Result<i64, LedgerError> {
    if postings.is_empty() {
        return Err(LedgerError::Empty);
    }
    check_balanced(postings)?;
    // A savepoint: a refused posting halfway leaves the caller's transaction as it was.
    c.execute_batch("SAVEPOINT ledger_post")?;
    let result = write_entry(c, kind, reference, memo, postings);
    match &result {
        Ok(_) => c.execute_batch("RELEASE ledger_post")?,
        Err(_) => c.execute_batch("ROLLBACK TO ledger_post; RELEASE ledger_post")?,
    }
    result
}

fn write_entry(
    c: &Connection,
    kind: &str,
    reference: &str,
    memo: &str,
    postings: &[PostingSpec],
) -> Result<i64, LedgerError> {
    c.prepare_cached(
        "INSERT INTO ledger_entries (time, kind, reference, memo) VALUES (?4, ?1, ?2, ?3)",
    )?
    .execute(params![
        kind,
        reference,
        memo,
        crate::sale::time::rfc3339_ms(crate::clock::now_ms())
    ])?;
    let entry = c.last_insert_rowid();
    for p in postings {
        let existing = c
            .prepare_cached("SELECT id, unit, balance, floor FROM ledger_accounts WHERE code = ?1")?
            .query_row([&p.account], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    stored_decimal(2, &r.get::<_, String>(2)?)?,
                    r.get::<_, Option<String>>(3)?
                        .as_deref()
                        .map(|f| stored_decimal(3, f))
                        .transpose()?,
                ))
            })
            .optional()?;
        let (account_id, balance, floor) = match existing {
            Some((id, unit, balance, floor)) => {
                if unit != p.unit {
                    return Err(LedgerError::UnitMismatch {
                        account: p.account.clone(),
                        expected: unit,
                        found: p.unit.clone(),
                    });
                }
                (id, balance, floor)
            }
            None => {
                let owner = p.account.split(':').next().unwrap_or("host");
                c.prepare_cached("INSERT INTO ledger_accounts (code, owner, kind, unit, floor, customer, balance, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, '0', ?7)")?.execute(
                    params![
                        p.account,
                        owner,
                        p.kind,
                        p.unit,
                        p.floor.map(|f| f.to_string()),
                        p.customer,
                        crate::sale::time::rfc3339_ms(crate::clock::now_ms())
                    ],
                )?;
                (c.last_insert_rowid(), Decimal::ZERO, p.floor)
            }
        };
        let new_balance = balance + p.amount;
        if let Some(floor) = floor
            && new_balance < floor
        {
            return Err(LedgerError::BelowFloor {
                account: p.account.clone(),
                balance: new_balance,
                floor,
            });
        }
        c.prepare_cached("INSERT INTO ledger_postings (entry_id, account_id, amount, expires) VALUES (?1, ?2, ?3, ?4)")?.execute(
            params![entry, account_id, p.amount.to_string(), p.expires],
        )?;
        c.prepare_cached("UPDATE ledger_accounts SET balance = ?2 WHERE id = ?1")?
            .execute(params![account_id, new_balance.to_string()])?;
    }
    Ok(entry)
}

/// The first broken invariant [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    /// An entry's postings in a unit do not sum to zero.
    #[error("journal entry {entry} does not balance in {unit}: its postings sum to {sum}")]
    Unbalanced {
        /// Entry id.
        entry: i64,
        /// Unit.
        unit: String,
        /// The sum.
        sum: String,
    },
    /// An account's cached balance differs from the sum of its postings.
    #[error("account {account}: cached balance {cached} but its postings sum to {sum}")]
    CacheMismatch {
        /// Account code.
        account: String,
        /// Cached.
        cached: String,
        /// Computed.
        sum: String,
    },
    /// An account is below its floor.
    #[error("account {account} is at {balance}, below its floor of {floor}")]
    BelowFloor {
        /// Account code.
        account: String,
        /// Balance.
        balance: String,
        /// Floor.
        floor: String,
    },
    /// A stored amount is not a decimal.
    #[error("{0}")]
    Corrupt(String),
}

/// What [`verify`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verified {
    /// Journal entries checked.
    pub entries: u64,
    /// Postings checked.
    pub postings: u64,
    /// Accounts checked.
    pub accounts: u64,
}

/// Checks every ledger invariant; stops at the first breach.
pub fn verify(c: &Connection) -> rusqlite::Result<Result<Verified, Breach>> {
    let mut report = Verified::default();
    // Entry balance per unit.
    let mut stmt = c.prepare(
        "SELECT p.entry_id, a.unit, p.amount, a.code FROM ledger_postings p
         JOIN ledger_accounts a ON a.id = p.account_id ORDER BY p.entry_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut current: Option<i64> = None;
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut per_account: BTreeMap<String, Decimal> = BTreeMap::new();
    let check_entry = |entry: i64, sums: &BTreeMap<String, Decimal>| -> Option<Breach> {
        sums.iter()
            .find(|(_, s)| !s.is_zero())
            .map(|(unit, sum)| Breach::Unbalanced {
                entry,
                unit: unit.clone(),
                sum: sum.to_string(),
            })
    };
    while let Some(row) = rows.next()? {
        let entry: i64 = row.get(0)?;
        let unit: String = row.get(1)?;
        let amount_text: String = row.get(2)?;
        let code: String = row.get(3)?;
        let Ok(amount) = Decimal::from_str(&amount_text) else {
            return Ok(Err(Breach::Corrupt(format!(
                "posting of {code}: {amount_text:?} is not a decimal"
            ))));
        };
        if current != Some(entry) {
            if let Some(previous) = current
                && let Some(breach) = check_entry(previous, &sums)
            {
                return Ok(Err(breach));
            }
            current = Some(entry);
            sums.clear();
            report.entries += 1;
        }
        *sums.entry(unit).or_default() += amount;
        *per_account.entry(code).or_default() += amount;
        report.postings += 1;
    }
    if let Some(last) = current
        && let Some(breach) = check_entry(last, &sums)
    {
        return Ok(Err(breach));
    }
    // Cached balances and floors.
    let mut stmt = c.prepare("SELECT code, balance, floor FROM ledger_accounts ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let code: String = row.get(0)?;
        let cached_text: String = row.get(1)?;
        let floor: Option<String> = row.get(2)?;
        report.accounts += 1;
        let Ok(cached) = Decimal::from_str(&cached_text) else {
            return Ok(Err(Breach::Corrupt(format!(
                "account {code}: balance {cached_text:?} is not a decimal"
            ))));
        };
        let sum = per_account.get(&code).copied().unwrap_or_default();
        if cached != sum {
            return Ok(Err(Breach::CacheMismatch {
                account: code,
                cached: cached.to_string(),
                sum: sum.to_string(),
            }));
        }
        if let Some(floor) = floor.as_deref().and_then(|f| Decimal::from_str(f).ok())
            && sum < floor
        {
            return Ok(Err(Breach::BelowFloor {
                account: code,
                balance: sum.to_string(),
                floor: floor.to_string(),
            }));
        }
    }
    Ok(Ok(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().expect("dir");
        let c = crate::store::open(dir.path(), Duration::from_secs(1)).expect("open");
        (dir, c)
    }

    fn spec(account: &str, amount: &str) -> PostingSpec {
        PostingSpec {
            account: account.into(),
            amount: Decimal::from_str(amount).expect("decimal"),
            unit: "EUR".into(),
            kind: "voucher".into(),
            floor: account.contains("voucher").then_some(Decimal::ZERO),
            customer: None,
            expires: None,
        }
    }

    #[test]
    fn balanced_entries_post_and_balances_follow() {
        let (_dir, c) = db();
        post(
            &c,
            "sale",
            "R1",
            "sold",
            &[spec("v:voucher:A", "20.00"), spec("v:issued", "-20.00")],
        )
        .expect("post");
        post(
            &c,
            "sale",
            "R2",
            "redeemed",
            &[spec("v:voucher:A", "-7.50"), spec("v:issued", "7.50")],
        )
        .expect("post");
        assert_eq!(
            account(&c, "v:voucher:A")
                .expect("read")
                .expect("exists")
                .balance,
            Decimal::from_str("12.50").expect("d")
        );
        let newest_first: Vec<String> = postings(&c, "v:voucher:A", 10)
            .expect("postings")
            .iter()
            .map(|p| p.amount.to_string())
            .collect();
        assert_eq!(newest_first, ["-7.50", "20.00"], "newest first");
        let newest: Vec<String> = postings(&c, "v:voucher:A", 1)
            .expect("postings")
            .iter()
            .map(|p| p.amount.to_string())
            .collect();
        assert_eq!(newest, ["-7.50"], "the limit keeps the newest");
        assert_eq!(
            verify(&c).expect("verify"),
            Ok(Verified {
                entries: 2,
                postings: 4,
                accounts: 2
            })
        );
    }

    #[test]
    fn unbalanced_and_below_floor_entries_write_nothing() {
        let (_dir, c) = db();
        let err =
            post(&c, "sale", "R1", "", &[spec("v:voucher:A", "20.00")]).expect_err("unbalanced");
        assert!(matches!(err, LedgerError::Unbalanced { .. }), "{err}");
        post(
            &c,
            "sale",
            "R1",
            "",
            &[spec("v:voucher:A", "5.00"), spec("v:issued", "-5.00")],
        )
        .expect("post");
        let err = post(
            &c,
            "sale",
            "R2",
            "",
            &[spec("v:voucher:A", "-5.01"), spec("v:issued", "5.01")],
        )
        .expect_err("floor");
        assert!(matches!(err, LedgerError::BelowFloor { .. }), "{err}");
        assert_eq!(
            account(&c, "v:voucher:A")
                .expect("read")
                .expect("exists")
                .balance,
            Decimal::from_str("5.00").expect("d")
        );
        let entries: i64 = c
            .query_row("SELECT count(*) FROM ledger_entries", [], |r| r.get(0))
            .expect("count");
        assert_eq!(entries, 1, "the refused entry left nothing behind");
    }

    #[test]
    fn postings_are_append_only() {
        let (_dir, c) = db();
        post(
            &c,
            "sale",
            "R1",
            "",
            &[spec("v:voucher:A", "5"), spec("v:issued", "-5")],
        )
        .expect("post");
        assert!(
            c.execute("UPDATE ledger_postings SET amount = '500'", [])
                .is_err()
        );
        assert!(c.execute("DELETE FROM ledger_postings", []).is_err());
        assert!(c.execute("DELETE FROM ledger_entries", []).is_err());
    }

    #[test]
    fn verify_finds_a_tampered_cache() {
        let (_dir, c) = db();
        post(
            &c,
            "sale",
            "R1",
            "",
            &[spec("v:voucher:A", "5"), spec("v:issued", "-5")],
        )
        .expect("post");
        c.execute(
            "UPDATE ledger_accounts SET balance = '50' WHERE code = 'v:voucher:A'",
            [],
        )
        .expect("tamper");
        let breach = verify(&c).expect("verify").expect_err("breach");
        assert!(matches!(breach, Breach::CacheMismatch { .. }), "{breach}");
    }

    #[test]
    fn a_unit_mismatch_is_refused() {
        let (_dir, c) = db();
        post(
            &c,
            "sale",
            "R1",
            "",
            &[spec("v:voucher:A", "5"), spec("v:issued", "-5")],
        )
        .expect("post");
        let mut points = spec("v:voucher:A", "5");
        points.unit = "points".into();
        let mut contra = spec("p:pool", "-5");
        contra.unit = "points".into();
        assert!(matches!(
            post(&c, "x", "", "", &[points, contra]),
            Err(LedgerError::UnitMismatch { .. })
        ));
    }
}
