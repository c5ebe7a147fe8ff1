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

    /// The open day for a receipt numbered `number`, under the journal's lock: the day that
    /// is open, or a new one with a float of 0. Such an implicit opening writes the day
    /// alone, no receipt, so the receipt numbers a cashier sees on paper have no gap.
    /// `NotAllowed` when the configuration requires an explicit opening.
    pub(super) async fn day_for(
        &self,
        number: i64,
        settings: &ReceiptSettings,
    ) -> Result<(DayRow, i64), JournalError> {
        let open = self.day.borrow().open.clone();
        if let Some(open) = open.filter(|d| d.register == settings.register_id) {
            return Ok((open, number));
        }
        self.load_day().await?;
        if let Some(open) = self.day.borrow().open.clone() {
            return Ok((open, number));
        }
        if settings.require_day_open {
            return Err(JournalError::NotAllowed(
                "no day is open: this till requires the day to be opened with its counted float \
                 first (OpenDay, posctl day open)"
                    .into(),
            ));
        }
        let row = self.write_day_open(settings, None, Decimal::ZERO).await?;
        Ok((row, number))
    }

    /// Moves the drawer's expected cash by what a committed receipt did to it.
    pub(super) fn committed_to_day(&self, receipt: &Receipt) {
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
        self.day_for(0, &self.settings()).await.map(|_| ())
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
            .write_day_open(&settings, Some((number, key, request)), float)
            .await?;
        Ok(row.open_receipt)
    }

    /// Opens a new day. An explicit opening (receipt number, key, request) writes its
    /// `day_open` receipt with the day in one transaction and prints it; an implicit one
    /// writes the day alone.
    async fn write_day_open(
        &self,
        settings: &ReceiptSettings,
        explicit: Option<(i64, &str, String)>,
        float: Decimal,
    ) -> Result<DayRow, JournalError> {
        let register = settings.register_id.clone();
        let day_number = self
            .db
            .call(move |c| day::next_day_number(c, &register))
            .await?;
        let time = super::time::local_rfc3339_ms(now_ms());
        let mut row = DayRow {
            id: day::day_id(&settings.store_id, &settings.register_id, day_number),
            register: settings.register_id.clone(),
            number: day_number,
            opened_at: time,
            float,
            open_receipt: String::new(),
            closed_at: None,
            z_receipt: None,
            counted: None,
            difference: None,
            expected: None,
        };
        let mut printer = None;
        match explicit {
            Some((number, key, request)) => {
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
                printer = self.print_day_receipt(&mut write, &receipt);
                if let Err(e) = self.db.call(move |c| write.apply(c)).await? {
                    return Err(refused(e));
                }
            }
            None => {
                let day = row.clone();
                self.db.call(move |c| day::insert_day(c, &day)).await?;
            }
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
        let (day, number) = self.day_for(number, &settings).await?;
        let expected = self.day.borrow().expected_cash;
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
            &day.id,
            cashier,
            signed,
            Some(DayEvent {
                reason: reason.to_string(),
                report: None,
            }),
        );
        let mut write = JournalWrite::new(&receipt, &[], minor)?;
        write.idempotency = Some((key.to_string(), kind.as_str(), request));
        let printer = self.print_day_receipt(&mut write, &receipt);
        if let Err(e) = self.db.call(move |c| write.apply(c)).await? {
            return Err(refused(e));
        }
        self.committed_to_day(&receipt);
        tracing::info!(day = %day.id, receipt = %receipt_id, kind = kind.as_str(), amount = %signed, "cash moved");
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
            let b = text.as_bytes();
            let ok = text.is_empty()
                || (b.len() >= 10
                    && b[..10].iter().enumerate().all(|(i, c)| {
                        if i == 4 || i == 7 {
                            *c == b'-'
                        } else {
                            c.is_ascii_digit()
                        }
                    }));
            if !ok {
                return Err(SaleError::InvalidArgument(format!(
                    "{what}: {text:?} is not a date like 2026-12-01 (or \"\" for no bound)"
                ))
                .into());
            }
            Ok(text.get(..10).unwrap_or_default().to_string())
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
        Some(printer)
    }
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
