//! The till's day on the journal: opening with a float, cash in and out, the X report and
//! the Z that closes the day. Each event is a receipt written, booked and printed in one
//! transaction under the journal's lock, so it is numbered with the sales and never
//! overlaps a checkout. The rules are in [`super::day`].

use rust_decimal::Decimal;
use serde_json::json;

use super::checkout::{
    Journal, JournalError, JournalWrite, Next, ReceiptSettings, check_key, now_ms, receipt_id_of,
    refused, wake_printer,
};
use super::day::{self, DayReport, DayRow, DayStatus};
use super::engine::{SaleError, limits};
use super::model::{DayEvent, Receipt, ReceiptKind, Tender, Totals};

/// The day a receipt belongs to.
pub(super) struct DayFor {
    /// The day.
    pub(super) row: DayRow,
    /// It opens with the receipt (implicitly, with a float of 0).
    pub(super) opens: bool,
}

/// A cash movement: money put into the drawer or taken out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    /// Einlage.
    In,
    /// Entnahme.
    Out,
}

impl Movement {
    /// `in` or `out`, as the contract spells them.
    pub fn parse(kind: &str) -> Result<Self, SaleError> {
        match kind {
            "in" => Ok(Movement::In),
            "out" => Ok(Movement::Out),
            other => Err(SaleError::InvalidArgument(format!(
                "kind {other:?}: expected \"in\" (Einlage) or \"out\" (Entnahme)"
            ))),
        }
    }

    fn receipt_kind(self) -> ReceiptKind {
        match self {
            Movement::In => ReceiptKind::CashIn,
            Movement::Out => ReceiptKind::CashOut,
        }
    }
}

impl Journal {
    /// Reads the open day of the register from the database (at start, after a reload).
    pub async fn load_day(&self) -> Result<(), JournalError> {
        let register = self.settings().register_id;
        let status = self
            .db
            .call(move |c| {
                let Some(open) = day::open_day(c, &register)? else {
                    return Ok(DayStatus::default());
                };
                let (receipts, postings) = day::day_contents(c, &open.id)?;
                let report = day::build_report(&open, &receipts, &postings);
                Ok(DayStatus {
                    open: Some(open),
                    expected_cash: report.cash.expected,
                })
            })
            .await?;
        self.day.send_replace(status);
        Ok(())
    }

    /// The till's day as it stands.
    pub fn day_status(&self) -> DayStatus {
        self.day.borrow().clone()
    }

    /// Tells of every change of the day: opened, cash moved, closed.
    pub fn watch_day(&self) -> tokio::sync::watch::Receiver<DayStatus> {
        self.day.subscribe()
    }

    /// The day a receipt written now belongs to, under the journal's lock: the day that is
    /// open, or a new one with a float of 0 that opens in the receipt's own transaction
    /// (`opens`), so a refused call opens nothing. Such an implicit opening writes no
    /// receipt of its own, so the receipt numbers a cashier sees on paper have no gap.
    /// `NotAllowed` when the configuration requires an explicit opening.
    pub(super) async fn day_for(&self, settings: &ReceiptSettings) -> Result<DayFor, JournalError> {
        let open = self.day.borrow().open.clone();
        if let Some(row) = open.filter(|d| d.register == settings.register_id) {
            return Ok(DayFor { row, opens: false });
        }
        self.load_day().await?;
        if let Some(row) = self.day.borrow().open.clone() {
            return Ok(DayFor { row, opens: false });
        }
        if settings.require_day_open {
            return Err(JournalError::NotAllowed(
                "no day is open: this till requires the day to be opened with its counted float \
                 first (OpenDay, posctl day open)"
                    .into(),
            ));
        }
        Ok(DayFor {
            row: self.new_day(settings, Decimal::ZERO).await?,
            opens: true,
        })
    }

    /// After a receipt of `day` committed: the day is open (if it opened with the receipt)
    /// and the drawer's expected cash moves by what the receipt did to it.
    pub(super) fn committed_to_day(&self, day: &DayFor, receipt: &Receipt) {
        if day.opens {
            tracing::info!(day = %day.row.id, receipt = %receipt.id, "day opened with a float of 0");
            self.day.send_replace(DayStatus {
                open: Some(day.row.clone()),
                expected_cash: day.row.float,
            });
        }
        let delta = day::expected_delta(receipt);
        if !delta.is_zero() {
            self.day.send_modify(|s| s.expected_cash += delta);
        }
    }

    /// Opens a day with a float of 0 unless one is open (a sale is being opened).
    /// `NotAllowed` when the configuration requires an explicit opening.
    pub async fn ensure_day(&self) -> Result<(), JournalError> {
        if self.day.borrow().open.is_some() {
            return Ok(());
        }
        let _one = self.one_at_a_time.lock().await;
        let pending = self.day_for(&self.settings()).await?;
        if pending.opens {
            let row = pending.row.clone();
            self.db.call(move |c| day::insert_day(c, &row)).await?;
            tracing::info!(day = %pending.row.id, "day opened with a float of 0 for a sale");
            self.day.send_replace(DayStatus {
                open: Some(pending.row),
                expected_cash: Decimal::ZERO,
            });
        }
        Ok(())
    }

    /// The next day of the register, not written yet.
    async fn new_day(
        &self,
        settings: &ReceiptSettings,
        float: Decimal,
    ) -> Result<DayRow, JournalError> {
        let register = settings.register_id.clone();
        let number = self
            .db
            .call(move |c| day::next_day_number(c, &register))
            .await?;
        Ok(DayRow {
            id: day::day_id(&settings.store_id, &settings.register_id, number),
            register: settings.register_id.clone(),
            number,
            opened_at: super::time::local_rfc3339_ms(now_ms()),
            float,
            open_receipt: String::new(),
            closed_at: None,
            z_receipt: None,
            counted: None,
            difference: None,
            expected: None,
        })
    }

    /// Opens the day with a counted float; returns the `day_open` receipt. `Conflict` while
    /// a day is open.
    pub async fn open_day(&self, float: &str, key: &str) -> Result<String, JournalError> {
        let key = check_key(key)?;
        let float = amount("float", float, self.currency_minor(), true)?;
        let _one = self.one_at_a_time.lock().await;
        let settings = self.settings();
        let request = json!({ "op": "day_open", "float": float.to_string() }).to_string();
        let number = match self.replay_or_number(key, &request, &settings).await? {
            Next::Done(done) => return Ok(done),
            Next::Number(number) => number,
        };
        self.load_day().await?;
        if let Some(open) = &self.day.borrow().open {
            return Err(JournalError::Conflict(format!(
                "day {} is open since {}; close it with a Z first",
                open.id, open.opened_at
            )));
        }
        let row = self
            .write_day_open(&settings, number, key, request, float)
            .await?;
        Ok(row.open_receipt)
    }

    /// Writes an explicit opening: the `day_open` receipt numbered `number` and the day, in
    /// one transaction, and prints the receipt.
    async fn write_day_open(
        &self,
        settings: &ReceiptSettings,
        number: i64,
        key: &str,
        request: String,
        float: Decimal,
    ) -> Result<DayRow, JournalError> {
        let mut row = self.new_day(settings, float).await?;
        row.open_receipt = receipt_id_of(settings, number);
        let receipt = self.day_receipt(
            settings,
            &row.open_receipt,
            number,
            ReceiptKind::DayOpen,
            &row.id,
            "",
            float,
            None,
        );
        let mut write = JournalWrite::new(&receipt, &[], self.currency_minor())?;
        write.day_opened = Some(row.clone());
        write.idempotency = Some((key.to_string(), "day_open", request));
        let printer = self.print_day_receipt(&mut write, &receipt);
        if let Err(e) = self.db.call(move |c| write.apply(c)).await? {
            return Err(refused(e));
        }
        tracing::info!(day = %row.id, receipt = %row.open_receipt, %float, "day opened");
        self.day.send_replace(DayStatus {
            open: Some(row.clone()),
            expected_cash: float,
        });
        wake_printer(printer.as_ref());
        Ok(row)
    }

    /// Puts cash into the drawer or takes it out, with a reason; returns the receipt.
    pub async fn cash_movement(
        &self,
        movement: Movement,
        amount_text: &str,
        reason: &str,
        cashier: &str,
        key: &str,
    ) -> Result<String, JournalError> {
        let key = check_key(key)?;
        let minor = self.currency_minor();
        let value = amount("amount", amount_text, minor, false)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(SaleError::InvalidArgument(
                "reason is empty: say why cash goes in or out".into(),
            )
            .into());
        }
        if reason.chars().count() > limits::MAX_TEXT || reason.chars().any(char::is_control) {
            return Err(SaleError::InvalidArgument(format!(
                "reason must be at most {} printable characters",
                limits::MAX_TEXT
            ))
            .into());
        }
        let _one = self.one_at_a_time.lock().await;
        let settings = self.settings();
        let kind = movement.receipt_kind();
        let request = json!({ "op": kind.as_str(), "amount": value.to_string(),
                              "reason": reason, "cashier": cashier })
        .to_string();
        let number = match self.replay_or_number(key, &request, &settings).await? {
            Next::Done(done) => return Ok(done),
            Next::Number(number) => number,
        };
        let day = self.day_for(&settings).await?;
        let expected = if day.opens {
            day.row.float
        } else {
            self.day.borrow().expected_cash
        };
        if movement == Movement::Out && value > expected {
            return Err(SaleError::InvalidArgument(format!(
                "amount: {} is more than the {} the drawer should hold",
                crate::money::format(value, minor),
                crate::money::format(expected, minor)
            ))
            .into());
        }
        let signed = if movement == Movement::In {
            value
        } else {
            -value
        };
        let receipt_id = receipt_id_of(&settings, number);
        let receipt = self.day_receipt(
            &settings,
            &receipt_id,
            number,
            kind,
            &day.row.id,
            cashier,
            signed,
            Some(DayEvent {
                reason: reason.to_string(),
                report: None,
            }),
        );
        let mut write = JournalWrite::new(&receipt, &[], minor)?;
        write.idempotency = Some((key.to_string(), kind.as_str(), request));
        write.day_opened = day.opens.then(|| day.row.clone());
        let printer = self.print_day_receipt(&mut write, &receipt);
        if let Err(e) = self.db.call(move |c| write.apply(c)).await? {
            return Err(refused(e));
        }
        self.committed_to_day(&day, &receipt);
        tracing::info!(day = %day.row.id, receipt = %receipt_id, kind = kind.as_str(), amount = %signed, "cash moved");
        wake_printer(printer.as_ref());
        Ok(receipt_id)
    }

    /// The X report of the open day; nothing is written. `Conflict` while no day is open.
    pub async fn x_report(&self) -> Result<DayReport, JournalError> {
        let register = self.settings().register_id;
        let found = self
            .db
            .call(move |c| {
                let Some(open) = day::open_day(c, &register)? else {
                    return Ok(None);
                };
                let (receipts, postings) = day::day_contents(c, &open.id)?;
                Ok(Some(day::build_report(&open, &receipts, &postings)))
            })
            .await?;
        found.ok_or_else(|| JournalError::Conflict("no day is open".into()))
    }

    /// Closes the open day with the cash counted: the Z report, numbered with the day,
    /// stored in the journal and printed; the difference to the expected cash is booked.
    /// Returns the Z receipt. `Conflict` while no day is open.
    pub async fn close_day(&self, counted: &str, key: &str) -> Result<String, JournalError> {
        let key = check_key(key)?;
        let minor = self.currency_minor();
        let counted = amount("counted", counted, minor, true)?;
        let _one = self.one_at_a_time.lock().await;
        let settings = self.settings();
        let request = json!({ "op": "z", "counted": counted.to_string() }).to_string();
        let number = match self.replay_or_number(key, &request, &settings).await? {
            Next::Done(done) => return Ok(done),
            Next::Number(number) => number,
        };
        let mut report = self.x_report().await?;
        let open = self
            .day
            .borrow()
            .open
            .clone()
            .filter(|d| d.id == report.day);
        let Some(mut day) = open else {
            return Err(JournalError::Conflict(format!(
                "day {} is not the day this posd has open; reload and try again",
                report.day
            )));
        };
        let time = super::time::local_rfc3339_ms(now_ms());
        let difference = counted - report.cash.expected;
        report.closed_at = time.clone();
        report.cash.counted = Some(counted);
        report.cash.difference = Some(difference);
        let receipt_id = receipt_id_of(&settings, number);
        day.closed_at = Some(time);
        day.z_receipt = Some(receipt_id.clone());
        day.counted = Some(counted);
        day.difference = Some(difference);
        day.expected = Some(report.cash.expected);
        let receipt = self.day_receipt(
            &settings,
            &receipt_id,
            number,
            ReceiptKind::Z,
            &day.id,
            "",
            Decimal::ZERO,
            Some(DayEvent {
                reason: String::new(),
                report: Some(report),
            }),
        );
        let mut write = JournalWrite::new(&receipt, &[], minor)?;
        write.idempotency = Some((key.to_string(), "z", request));
        write.day_closed = Some(day.clone());
        write.fault = Some("close-day-before-commit");
        let printer = self.print_day_receipt(&mut write, &receipt);
        if let Err(e) = self.db.call(move |c| write.apply(c)).await? {
            return Err(refused(e));
        }
        tracing::info!(day = %day.id, z = day.number, receipt = %receipt_id, %counted, %difference, "day closed");
        self.day.send_replace(DayStatus::default());
        wake_printer(printer.as_ref());
        Ok(receipt_id)
    }

    /// Closed days whose opening date lies in `from..=to` (`YYYY-MM-DD`, "" for no bound).
    pub async fn closed_days(&self, from: &str, to: &str) -> Result<Vec<DayRow>, JournalError> {
        let date = |what: &str, text: &str| -> Result<String, JournalError> {
            let text = text.trim();
            if text.is_empty() || calendar_date(text) {
                Ok(text.to_string())
            } else {
                Err(SaleError::InvalidArgument(format!(
                    "{what}: {text:?} is not a date like 2026-12-01 (or \"\" for no bound)"
                ))
                .into())
            }
        };
        let (from, to) = (date("from", from)?, date("to", to)?);
        let register = self.settings().register_id;
        Ok(self
            .db
            .call(move |c| day::closed_days(c, &register, &from, &to))
            .await?)
    }

    /// The locale receipts and reports are printed in.
    pub fn receipt_locale(&self) -> String {
        self.settings().locale
    }

    /// Decimal places of the store currency's minor unit.
    pub fn currency_minor(&self) -> u32 {
        self.book.till().currency.minor
    }

    /// A receipt of the till's day: no lines, the cash it moves as one cash tender.
    #[allow(clippy::too_many_arguments)]
    fn day_receipt(
        &self,
        settings: &ReceiptSettings,
        id: &str,
        number: i64,
        kind: ReceiptKind,
        day: &str,
        cashier: &str,
        cash: Decimal,
        event: Option<DayEvent>,
    ) -> Receipt {
        let till = self.book.till();
        let tenders = if cash.is_zero() {
            Vec::new()
        } else {
            vec![Tender::host("T1", "cash", cash)]
        };
        Receipt {
            id: id.to_string(),
            number,
            kind,
            time: super::time::local_rfc3339_ms(now_ms()),
            store_id: settings.store_id.clone(),
            register_id: settings.register_id.clone(),
            currency: till.currency_code.clone(),
            locale: settings.locale.clone(),
            cashier: cashier.to_string(),
            customer: String::new(),
            sale_id: String::new(),
            original: String::new(),
            lines: Vec::new(),
            tenders,
            totals: Totals {
                total: cash,
                paid: cash,
                ..Totals::default()
            },
            vat: Vec::new(),
            sections: Vec::new(),
            header: settings.header.clone(),
            footer: Vec::new(),
            day: day.to_string(),
            event,
        }
    }

    /// Adds the receipt's print job to `write`; returns the printer to wake after the commit.
    fn print_day_receipt(
        &self,
        write: &mut JournalWrite,
        receipt: &Receipt,
    ) -> Option<super::checkout::ReceiptPrinter> {
        let printer = self.receipt_printer()?;
        let document = super::receipt::render_receipt(receipt, self.currency_minor());
        write.print_jobs.push((
            printer.0.name.clone(),
            receipt.kind.as_str(),
            posd_printer::render(&document, &printer.1).bytes,
        ));
        let open_drawer = self.settings().open_drawer;
        write
            .print_jobs
            .extend(super::checkout::drawer_job(receipt, &printer, open_drawer));
        Some(printer)
    }
}

/// Whether `text` is a date of the calendar written `YYYY-MM-DD`.
fn calendar_date(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A counted amount from a frontend: 0 (if `zero_ok`) or more, in the currency's minor unit.
fn amount(what: &str, text: &str, minor: u32, zero_ok: bool) -> Result<Decimal, SaleError> {
    let value = crate::money::parse_bounded(what, text, Decimal::ZERO, limits::MAX_AMOUNT, minor)?;
    if value.is_zero() && !zero_ok {
        return Err(SaleError::InvalidArgument(format!(
            "{what}: a cash movement of 0 moves nothing"
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::calendar_date;

    #[test]
    fn only_dates_of_the_calendar_pass() {
        for good in ["2026-12-01", "2024-02-29", "2000-02-29", "1999-12-31"] {
            assert!(calendar_date(good), "{good}");
        }
        for bad in [
            "2026-13-45",
            "2026-02-30",
            "2026-00-10",
            "1900-02-29",
            "2026-12-01garbage",
            "2026-1-01",
            "yesterday",
            "2026/12/01",
        ] {
            assert!(!calendar_date(bad), "{bad}");
        }
    }
}
