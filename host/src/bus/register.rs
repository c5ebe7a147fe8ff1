//! `org.posd.Register1` on `/org/posd/Posd1`: the till's day, a thin skin over
//! [`crate::sale::register`].

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use zbus::{OwnedVariant, Variant, interface};

use super::BusError;
use super::sale::Record;
use crate::money;
use crate::sale::checkout::Journal;
use crate::sale::day::{DayReport, DayRow};
use crate::sale::register::Movement;
use crate::service::Shared;

/// The register object beside Manager1.
#[derive(Debug)]
pub struct Register {
    shared: Arc<Shared>,
    journal: Arc<Journal>,
}

impl Register {
    /// The register over the journal.
    pub fn new(shared: Arc<Shared>, journal: Arc<Journal>) -> Self {
        Self { shared, journal }
    }

    fn minor(&self) -> u32 {
        self.journal.currency_minor()
    }

    fn begin(&self) -> Result<crate::service::CallGuard, BusError> {
        self.shared
            .begin_call()
            .ok_or_else(|| BusError::ShuttingDown("posd is stopping".into()))
    }
}

#[interface(name = "org.posd.Register1")]
impl Register {
    /// `open` or `closed`.
    #[zbus(property)]
    fn day_state(&self) -> String {
        if self.journal.day_status().open.is_some() {
            "open".into()
        } else {
            "closed".into()
        }
    }

    /// The open day's id, "" while closed.
    #[zbus(property)]
    fn day_id(&self) -> String {
        self.journal
            .day_status()
            .open
            .map(|d| d.id)
            .unwrap_or_default()
    }

    /// When the open day was opened (RFC 3339), "" while closed.
    #[zbus(property)]
    fn opened_at(&self) -> String {
        self.journal
            .day_status()
            .open
            .map(|d| d.opened_at)
            .unwrap_or_default()
    }

    /// Cash the drawer should hold: float + cash taken − cash given back ± cash movements.
    #[zbus(property)]
    fn expected_cash(&self) -> String {
        money::format(self.journal.day_status().expected_cash, self.minor())
    }

    /// Opens the day with the counted float; returns its receipt. Conflict while a day is open.
    #[zbus(out_args("receipt_id"))]
    async fn open_day(&self, float: &str, idempotency_key: &str) -> Result<String, BusError> {
        let _call = self.begin()?;
        Ok(self.journal.open_day(float, idempotency_key).await?)
    }

    /// Cash in (`in`, Einlage) or out (`out`, Entnahme) with a reason; details: cashier.
    #[zbus(out_args("receipt_id"))]
    async fn cash_movement(
        &self,
        kind: &str,
        amount: &str,
        reason: &str,
        details: HashMap<String, OwnedVariant>,
        idempotency_key: &str,
    ) -> Result<String, BusError> {
        let _call = self.begin()?;
        let movement =
            Movement::parse(kind).map_err(|e| BusError::InvalidArgument(e.to_string()))?;
        let mut cashier = String::new();
        for (key, value) in &details {
            match key.as_str() {
                "cashier" => {
                    cashier = String::try_from(value.clone()).map_err(|_| {
                        BusError::InvalidArgument("cashier must be a string".into())
                    })?;
                }
                other => {
                    return Err(BusError::InvalidArgument(format!(
                        "unknown key {other:?} in details; expected cashier"
                    )));
                }
            }
        }
        Ok(self
            .journal
            .cash_movement(movement, amount, reason, &cashier, idempotency_key)
            .await?)
    }

    /// The X report of the open day; nothing is written. Conflict while no day is open.
    #[zbus(out_args("report"))]
    async fn report(&self) -> Result<Record, BusError> {
        let _call = self.begin()?;
        let report = self.journal.x_report().await?;
        let mut record = report_record(&report, self.minor());
        let text = crate::sale::receipt::report_text(
            &report,
            &self.journal.receipt_locale(),
            self.minor(),
            42,
        );
        record.insert("text".into(), Variant::from(text));
        Ok(record)
    }

    /// Closes the day with the counted cash: the Z report, printed and in the journal;
    /// returns its receipt. Conflict while no day is open.
    #[zbus(out_args("z_receipt_id"))]
    async fn close_day(&self, counted: &str, idempotency_key: &str) -> Result<String, BusError> {
        let _call = self.begin()?;
        Ok(self.journal.close_day(counted, idempotency_key).await?)
    }

    /// Closed days opened between `from` and `to` (`YYYY-MM-DD`, "" for no bound), with
    /// their Z receipts.
    #[zbus(out_args("days"))]
    async fn list_days(&self, from: &str, to: &str) -> Result<Vec<Record>, BusError> {
        let _call = self.begin()?;
        let days = self.journal.closed_days(from, to).await?;
        Ok(days.iter().map(|d| day_record(d, self.minor())).collect())
    }
}

fn amount(value: Decimal, minor: u32) -> Variant<'static> {
    Variant::from(money::format(value, minor))
}

fn text(value: &str) -> Variant<'static> {
    Variant::from(value.to_string())
}

fn tally(t: &crate::sale::day::Tally, minor: u32) -> Record {
    HashMap::from([
        ("count".to_string(), Variant::from(t.count)),
        ("amount".to_string(), amount(t.amount, minor)),
    ])
}

/// A closed day as `a{sv}`: day, number, opened_at, closed_at, z_receipt_id, float,
/// expected, counted, difference.
pub fn day_record(d: &DayRow, minor: u32) -> Record {
    let optional = |v: Option<Decimal>| v.map_or_else(|| text(""), |v| amount(v, minor));
    HashMap::from([
        ("day".to_string(), text(&d.id)),
        ("number".to_string(), Variant::from(d.number)),
        ("opened_at".to_string(), text(&d.opened_at)),
        (
            "closed_at".to_string(),
            text(d.closed_at.as_deref().unwrap_or("")),
        ),
        ("open_receipt_id".to_string(), text(&d.open_receipt)),
        (
            "z_receipt_id".to_string(),
            text(d.z_receipt.as_deref().unwrap_or("")),
        ),
        ("float".to_string(), amount(d.float, minor)),
        ("expected".to_string(), optional(d.expected)),
        ("counted".to_string(), optional(d.counted)),
        ("difference".to_string(), optional(d.difference)),
    ])
}

/// An X or Z report as the contract's `a{sv}`. Plugin amounts in a unit other than the
/// currency (points) are written as they are, not to the currency's decimals.
pub fn report_record(r: &DayReport, minor: u32) -> Record {
    let vat: Vec<Record> = r
        .vat
        .iter()
        .map(|v| {
            HashMap::from([
                (
                    "rate".to_string(),
                    text(
                        &v.rate
                            .map(|x| x.normalize().to_string())
                            .unwrap_or_default(),
                    ),
                ),
                ("net".to_string(), amount(v.net, minor)),
                ("tax".to_string(), amount(v.vat, minor)),
                ("gross".to_string(), amount(v.gross, minor)),
            ])
        })
        .collect();
    let tenders: Vec<Record> = r
        .tenders
        .iter()
        .map(|t| {
            HashMap::from([
                ("method".to_string(), text(&t.method)),
                ("plugin".to_string(), text(&t.plugin)),
                ("count".to_string(), Variant::from(t.count)),
                ("amount".to_string(), amount(t.amount, minor)),
            ])
        })
        .collect();
    let cashiers: Vec<Record> = r
        .cashiers
        .iter()
        .map(|c| {
            HashMap::from([
                ("cashier".to_string(), text(&c.cashier)),
                ("count".to_string(), Variant::from(c.count)),
                ("amount".to_string(), amount(c.amount, minor)),
            ])
        })
        .collect();
    let plugins: Vec<Record> = r
        .plugins
        .iter()
        .map(|m| {
            HashMap::from([
                ("plugin".to_string(), text(&m.plugin)),
                ("account".to_string(), text(&m.account)),
                ("unit".to_string(), text(&m.unit)),
                ("added".to_string(), text(&m.added.normalize().to_string())),
                ("taken".to_string(), text(&m.taken.normalize().to_string())),
            ])
        })
        .collect();
    let c = &r.cash;
    let mut cash: Record = HashMap::from([
        ("float".to_string(), amount(c.float, minor)),
        ("sales".to_string(), amount(c.sales, minor)),
        ("in".to_string(), amount(c.cash_in, minor)),
        ("out".to_string(), amount(c.cash_out, minor)),
        ("expected".to_string(), amount(c.expected, minor)),
    ]);
    let mut out: Record = HashMap::from([
        ("day".to_string(), text(&r.day)),
        ("number".to_string(), Variant::from(r.number)),
        ("register".to_string(), text(&r.register)),
        ("opened_at".to_string(), text(&r.opened_at)),
        ("closed_at".to_string(), text(&r.closed_at)),
        ("total".to_string(), amount(r.total, minor)),
        ("sales".to_string(), Variant::from(tally(&r.sales, minor))),
        ("voids".to_string(), Variant::from(tally(&r.voids, minor))),
        (
            "returns".to_string(),
            Variant::from(tally(&r.returns, minor)),
        ),
        (
            "discounts".to_string(),
            Variant::from(tally(&r.discounts, minor)),
        ),
        ("vat".to_string(), Variant::from(vat)),
        ("tenders".to_string(), Variant::from(tenders)),
        ("cashiers".to_string(), Variant::from(cashiers)),
        ("plugins".to_string(), Variant::from(plugins)),
    ]);
    for (key, value) in [("counted", c.counted), ("difference", c.difference)] {
        if let Some(value) = value {
            cash.insert(key.to_string(), amount(value, minor));
            out.insert(key.to_string(), amount(value, minor));
        }
    }
    out.insert("cash".to_string(), Variant::from(cash));
    out
}

/// Emits `PropertiesChanged` for the register's properties whenever the day changes.
pub async fn announce_day_changes(conn: zbus::Connection, journal: Arc<Journal>) {
    let mut changes = journal.watch_day();
    let mut last = changes.borrow_and_update().clone();
    while changes.changed().await.is_ok() {
        let now = changes.borrow_and_update().clone();
        let (was, is) = (last.open.as_ref(), now.open.as_ref());
        let result = async {
            let iface = conn
                .object_server()
                .interface::<_, Register>(super::ROOT_PATH)
                .await?;
            let register = iface.get().await;
            let emitter = iface.signal_emitter();
            if was.is_some() != is.is_some() {
                register.day_state_changed(emitter).await?;
            }
            if was.map(|d| &d.id) != is.map(|d| &d.id) {
                register.day_id_changed(emitter).await?;
                register.opened_at_changed(emitter).await?;
            }
            if last.expected_cash != now.expected_cash {
                register.expected_cash_changed(emitter).await?;
            }
            zbus::Result::Ok(())
        }
        .await;
        last = now;
        if let Err(e) = result {
            tracing::warn!("cannot announce the day's change: {e}");
        }
    }
}
