//! Drawing the cashier screen with ratatui: the basket, what plugins say beside it, the
//! totals, the status and input lines, the keys; dialogs on top. 80×24 is the smallest
//! screen it is laid out for; wider and taller screens give the basket the room.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use crate::app::{App, Confirm, Focus, Form, Menu, Mode, Tone};
use crate::i18n::{Lang, tr};
use crate::view::{Line, Preview, ReceiptView, SaleView, is_zero};

/// Draws the whole cashier screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let lang = app.lang;
    let area = frame.area();
    let [basket, side, totals, status, input, help] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(3),
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(2),
    ])
    .areas(area);

    draw_basket(frame, app, basket);
    draw_side(frame, app, side);
    draw_totals(frame, app, totals);

    let (tone, text) = app.message.clone().unwrap_or((Tone::Info, String::new()));
    let style = match tone {
        Tone::Info => Style::default().fg(Color::Green),
        Tone::Warning => Style::default().fg(Color::Yellow),
        Tone::Error => Style::default().fg(Color::White).bg(Color::Red),
    };
    let busy = if app.in_flight.is_empty() { "" } else { "… " };
    frame.render_widget(Paragraph::new(format!("{busy}{text}")).style(style), status);

    let prompt = TextLine::from(vec![
        Span::styled("> ", Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(app.input.clone()),
        Span::styled("_", Style::default().add_modifier(Modifier::SLOW_BLINK)),
        Span::styled(
            if app.input.is_empty() {
                format!("   {}", tr(lang, "Scan or type a code"))
            } else {
                String::new()
            },
            Style::default().fg(Color::DarkGray),
        ),
    ]);
    frame.render_widget(Paragraph::new(prompt), input);

    let keys: [(&str, &'static str); 10] = [
        ("F2", "quantity"),
        ("F3", "remove"),
        ("F4", "customer"),
        ("F5", "actions"),
        ("F6", "rewards"),
        ("F7", "pay"),
        ("F8", "receipts"),
        ("F9", "check out"),
        ("F10", "cancel sale"),
        ("^C", "quit"),
    ];
    // Laid out by hand, a key and its label together, so no line ends between them.
    let mut rows: Vec<Vec<Span<'_>>> = vec![Vec::new()];
    let mut used = 0usize;
    for (key, label) in keys {
        let label = format!(" {} ", tr(lang, label));
        let width = key.chars().count() + label.chars().count();
        if used > 0 && used + width > help.width as usize {
            rows.push(Vec::new());
            used = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push(Span::styled(
                key,
                Style::default().fg(Color::Black).bg(Color::Cyan),
            ));
            row.push(Span::raw(label));
        }
        used += width;
    }
    frame.render_widget(
        Paragraph::new(rows.into_iter().map(TextLine::from).collect::<Vec<_>>()),
        help,
    );

    match &app.mode {
        Mode::Basket => {}
        Mode::Form(form) => draw_form(frame, lang, form),
        Mode::Menu(menu) => draw_menu(frame, menu),
        Mode::Receipt(r) => draw_receipt(frame, lang, r, &app.details),
        Mode::Confirm(c) => draw_confirm(frame, lang, c),
    }
}

fn header(app: &App) -> String {
    let lang = app.lang;
    let mut parts = vec![format!("posd-till {}", app.till)];
    if !app.cashier.is_empty() {
        parts.push(format!("{} {}", tr(lang, "Cashier"), app.cashier));
    }
    match &app.sale {
        Some(s) => {
            // The customer first: on a narrow screen the sale's long id is what gets cut.
            if !s.customer.is_empty() {
                let lock = if s.customer_locked { " 🔒" } else { "" };
                parts.push(format!("{} {}{lock}", tr(lang, "Customer"), s.customer));
            }
            parts.push(format!("{} {}", tr(lang, "Sale"), s.id));
        }
        None => parts.push(tr(lang, "no sale").to_string()),
    }
    if app.demo_catalogue {
        parts.push(format!(
            "{} ({})",
            tr(lang, "demo catalogue"),
            app.catalogue.len()
        ));
    }
    format!(" {} ", parts.join(" · "))
}

fn draw_basket(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let block = Block::default().borders(Borders::ALL).title(header(app));
    if app.sale.is_none()
        && let Some(r) = &app.completed
    {
        let text = vec![
            TextLine::from(format!("{} {}", tr(lang, "Sale completed"), r.id)),
            TextLine::from(""),
            TextLine::from(format!(
                "{:<12}{:>14}",
                tr(lang, "Total"),
                lang.number(&r.totals.total)
            ))
            .style(Style::default().add_modifier(Modifier::BOLD)),
            TextLine::from(format!(
                "{:<12}{:>14}",
                tr(lang, "Given"),
                lang.number(&given(r))
            )),
            TextLine::from(format!(
                "{:<12}{:>14}",
                tr(lang, "Change"),
                lang.number(&r.totals.change)
            ))
            .style(
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ),
        ];
        frame.render_widget(
            Paragraph::new(text)
                .block(block)
                .alignment(Alignment::Center),
            area,
        );
        return;
    }
    let lines: &[Line] = app.sale.as_ref().map_or(&[], |s| &s.lines);
    let rows: Vec<Row<'_>> = lines
        .iter()
        .map(|l| {
            let style = if l.is_automatic() {
                Style::default().fg(Color::Green)
            } else {
                Style::default()
            };
            let name = match l.shown_reference() {
                "" => l.name.clone(),
                reference => format!("{} {reference}", l.name),
            };
            Row::new(vec![
                Cell::from(name),
                Cell::from(lang.number(&l.qty)),
                Cell::from(lang.number(&l.unit_price)),
                Cell::from(format!("{}%", lang.number(&l.tax_rate))),
                Cell::from(lang.number(&l.amount)),
            ])
            .style(style)
        })
        .collect();
    let widths = [
        Constraint::Min(20),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(5),
        Constraint::Length(10),
    ];
    let head = Row::new(vec![
        tr(lang, "Item"),
        tr(lang, "Qty"),
        tr(lang, "Price"),
        tr(lang, "VAT"),
        tr(lang, "Amount"),
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let highlight = if app.focus == Focus::Lines && matches!(app.mode, Mode::Basket) {
        Style::default().add_modifier(Modifier::REVERSED)
    } else {
        Style::default()
    };
    let table = Table::new(rows, widths)
        .header(head)
        .block(block)
        .row_highlight_style(highlight);
    let mut state = TableState::default();
    if !lines.is_empty() {
        state.select(Some(app.selected.min(lines.len() - 1)));
    }
    frame.render_stateful_widget(table, area, &mut state);
}

/// The details of the last answer first (a voucher code just sold must not scroll away),
/// then previews (nudges first: they ask the cashier to act), then warnings of the sale and
/// the printer.
fn side_lines(app: &App) -> Vec<TextLine<'static>> {
    let lang = app.lang;
    let mut out: Vec<TextLine<'static>> = app
        .details
        .iter()
        .map(|d| TextLine::styled(d.clone(), Style::default().add_modifier(Modifier::BOLD)))
        .collect();
    if let Some(s) = &app.sale {
        let mut previews: Vec<&Preview> = s.previews.iter().collect();
        previews.sort_by_key(|p| match p.kind.as_str() {
            "nudge" => 0,
            "earn" => 1,
            _ => 2,
        });
        for p in previews {
            let mark = match p.kind.as_str() {
                "nudge" => "➜ ",
                "earn" => "★ ",
                _ => "ℹ ",
            };
            out.push(TextLine::styled(
                format!("{mark}{}", p.label),
                Style::default().fg(Color::Cyan),
            ));
        }
        for w in &s.warnings {
            out.push(TextLine::styled(
                format!("⚠ {w}"),
                Style::default().fg(Color::Yellow),
            ));
        }
    }
    for w in &app.printer {
        out.push(TextLine::styled(
            format!("⚠ {}", tr(lang, w)),
            Style::default().fg(Color::Yellow),
        ));
    }
    out
}

fn draw_side(frame: &mut Frame<'_>, app: &App, area: Rect) {
    frame.render_widget(Paragraph::new(side_lines(app)), area);
}

fn draw_totals(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let lang = app.lang;
    let Some(s) = &app.sale else {
        return;
    };
    let t = &s.totals;
    let n = |v: &str| lang.number(v);
    let first = TextLine::from(vec![
        Span::raw(format!("{} {}  ", tr(lang, "Subtotal"), n(&t.subtotal))),
        Span::raw(format!("{} {}  ", tr(lang, "Discount"), n(&t.discount))),
        Span::raw(format!("{} {}  ", tr(lang, "Tax"), n(&t.tax))),
        Span::styled(
            format!("{} {} {}", tr(lang, "Total"), n(&t.total), app.currency),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    ]);
    let mut second = vec![
        Span::raw(format!("{} {}  ", tr(lang, "Paid"), n(&t.paid))),
        Span::styled(
            format!("{} {}  ", tr(lang, "Due"), n(&t.due)),
            if is_zero(&t.due) {
                Style::default()
            } else {
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD)
            },
        ),
        Span::raw(format!("{} {}", tr(lang, "Change"), n(&t.change))),
    ];
    if !s.tenders.is_empty() {
        second.push(Span::raw(format!("  │ {}:", tr(lang, "Payments"))));
        for (i, tender) in s.tenders.iter().enumerate() {
            let style = if app.focus == Focus::Tenders && i == app.selected {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            second.push(Span::raw(" "));
            second.push(Span::styled(
                format!(
                    "{} {}{}",
                    method_label(lang, &tender.method),
                    n(&tender.amount),
                    if tender.reference.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", tender.reference)
                    }
                ),
                style,
            ));
        }
    }
    frame.render_widget(
        Paragraph::new(vec![first, TextLine::from(second)]).wrap(Wrap { trim: true }),
        area,
    );
}

/// What the customer handed over: the sum of the receipt's payments (the daemon's `paid` is
/// net of the change given back).
fn given(r: &ReceiptView) -> String {
    let sum: Option<rust_decimal::Decimal> = r
        .tenders
        .iter()
        .map(|t| t.amount.parse::<rust_decimal::Decimal>().ok())
        .sum();
    match sum {
        Some(sum) if !r.tenders.is_empty() => sum.to_string(),
        _ => r.totals.paid.clone(),
    }
}

/// A payment method's name in the cashier's language.
pub fn method_label(lang: Lang, method: &str) -> String {
    crate::app::PAY_METHODS
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, label)| tr(lang, label).to_string())
        .unwrap_or_else(|| method.to_string())
}

/// A rectangle of `width` × `height` in the middle of `area`, never larger than it.
fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_form(frame: &mut Frame<'_>, lang: Lang, form: &Form) {
    let height = (form.fields.len() as u16) * 2 + 4;
    let area = centred(frame.area(), 72, height);
    frame.render_widget(Clear, area);
    let mut text = Vec::new();
    for (i, f) in form.fields.iter().enumerate() {
        let focus = i == form.focus;
        let label = &f.label;
        let required = if f.required { " *" } else { "" };
        text.push(TextLine::styled(
            format!("{label}{required}"),
            Style::default().add_modifier(Modifier::BOLD),
        ));
        let value = if f.name == "method" {
            method_label(lang, &f.value)
        } else {
            f.shown().to_string()
        };
        let shown = if f.choices.is_empty() {
            format!("[{value}{}]", if focus { "_" } else { "" })
        } else {
            format!("◀ {value} ▶")
        };
        let style = if focus {
            Style::default().add_modifier(Modifier::REVERSED)
        } else {
            Style::default()
        };
        let mut spans = vec![Span::styled(shown, style)];
        if !f.hint.is_empty() {
            spans.push(Span::styled(
                format!("  {}", f.hint),
                Style::default().fg(Color::DarkGray),
            ));
        }
        text.push(TextLine::from(spans));
    }
    text.push(TextLine::styled(
        format!(
            "{}   {}",
            tr(lang, "Enter: confirm   Esc: back"),
            if form.fields.len() > 1 {
                tr(lang, "Tab: next field   ←/→: choose")
            } else {
                ""
            }
        ),
        Style::default().fg(Color::DarkGray),
    ));
    frame.render_widget(
        Paragraph::new(text).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", form.title)),
        ),
        area,
    );
}

/// Which entries of a list of `count` fit in `room` rows with `selected` among them: the
/// first shown and how many. The window moves only when the cursor would leave it.
pub fn menu_window(count: usize, selected: usize, room: usize) -> (usize, usize) {
    let room = room.max(1);
    if count <= room {
        return (0, count);
    }
    let first = selected.saturating_sub(room - 1).min(count - room);
    (first, room)
}

fn draw_menu(frame: &mut Frame<'_>, menu: &Menu) {
    // Above the status, input and key lines, like the receipt.
    let full = frame.area();
    let above = Rect {
        height: full.height.saturating_sub(4),
        ..full
    };
    let room = above.height.saturating_sub(2).max(1) as usize;
    let (first, shown) = menu_window(menu.items.len(), menu.selected, room);
    let area = centred(above, 64, (shown as u16 + 2).max(3));
    frame.render_widget(Clear, area);
    let position = if shown < menu.items.len() {
        format!(
            " {}{}/{}{} ",
            if first > 0 { "▲ " } else { "" },
            menu.selected + 1,
            menu.items.len(),
            if first + shown < menu.items.len() {
                " ▼"
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    let text: Vec<TextLine<'_>> = menu
        .items
        .iter()
        .enumerate()
        .skip(first)
        .take(shown)
        .map(|(i, item)| {
            let style = if i == menu.selected {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            TextLine::styled(format!(" {item}"), style)
        })
        .collect();
    frame.render_widget(
        Paragraph::new(text).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", menu.title))
                .title_bottom(position),
        ),
        area,
    );
}

/// The lines of a receipt as shown on screen (and in tests).
pub fn receipt_lines(lang: Lang, r: &ReceiptView) -> Vec<String> {
    let kind = match r.kind.as_str() {
        "sale" => tr(lang, "Sale"),
        "void" => tr(lang, "Voided"),
        "return" => tr(lang, "Returned"),
        other => other,
    };
    let mut out = vec![format!(
        "{} {}  {kind}  {}",
        tr(lang, "Receipt"),
        r.id,
        r.time
    )];
    if !r.customer.is_empty() {
        out.push(format!("{} {}", tr(lang, "Customer"), r.customer));
    }
    for l in &r.lines {
        out.push(format!(
            "{:<36} {:>6} {:>10}",
            truncate(&l.name, 36),
            lang.number(&l.qty),
            lang.number(&l.amount)
        ));
    }
    out.push(format!(
        "{:<43} {:>10}",
        tr(lang, "Total"),
        lang.number(&r.totals.total)
    ));
    for t in &r.tenders {
        out.push(format!(
            "  {:<41} {:>10}",
            method_label(lang, &t.method),
            lang.number(&t.amount)
        ));
    }
    if !is_zero(&r.totals.change) {
        out.push(format!(
            "{:<43} {:>10}",
            tr(lang, "Change"),
            lang.number(&r.totals.change)
        ));
    }
    out.extend(r.sections.iter().cloned());
    out
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn draw_receipt(frame: &mut Frame<'_>, lang: Lang, r: &ReceiptView, details: &[String]) {
    // Above the status, input and key lines, so what a void or return did stays in sight.
    let full = frame.area();
    let area = centred(
        Rect {
            height: full.height.saturating_sub(4),
            ..full
        },
        60,
        full.height.saturating_sub(5),
    );
    frame.render_widget(Clear, area);
    let mut text: Vec<TextLine<'_>> = receipt_lines(lang, r)
        .into_iter()
        .map(TextLine::from)
        .collect();
    for d in details {
        text.push(TextLine::styled(
            d.clone(),
            Style::default().fg(Color::Yellow),
        ));
    }
    let keys = format!(
        " P {} · V {} · R {} · Esc {} ",
        tr(lang, "reprint"),
        tr(lang, "void"),
        tr(lang, "return"),
        tr(lang, "close")
    );
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} {} ", tr(lang, "Receipt"), r.id))
                .title_bottom(keys),
        ),
        area,
    );
}

fn draw_confirm(frame: &mut Frame<'_>, lang: Lang, c: &Confirm) {
    let question = match c {
        Confirm::CancelSale => tr(lang, "Cancel this sale?").to_string(),
        Confirm::Void(id) => format!("{} {id}", tr(lang, "Void this receipt?")),
    };
    let area = centred(frame.area(), 56, 5);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(vec![
            TextLine::styled(question, Style::default().add_modifier(Modifier::BOLD)),
            TextLine::from(""),
            TextLine::from(tr(lang, "Enter: yes   Esc: no")),
        ])
        .alignment(Alignment::Center)
        .block(Block::default().borders(Borders::ALL)),
        area,
    );
}

/// Draws the customer display: the sale's lines, the savings, the nudges, the total; a
/// thank-you with the change once it is completed.
pub fn draw_display(frame: &mut Frame<'_>, lang: Lang, currency: &str, sale: Option<&SaleView>) {
    let area = frame.area();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ", tr(lang, "Customer display")));
    let Some(s) = sale else {
        frame.render_widget(
            Paragraph::new(vec![
                TextLine::from(""),
                TextLine::styled(
                    tr(lang, "Welcome"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                TextLine::from(tr(lang, "Waiting for a sale")),
            ])
            .alignment(Alignment::Center)
            .block(block),
            area,
        );
        return;
    };
    let n = |v: &str| lang.number(v);
    if s.state == "completed" {
        let mut text = vec![
            TextLine::from(""),
            TextLine::styled(
                tr(lang, "Thank you!"),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            TextLine::from(""),
            TextLine::from(format!(
                "{} {} {currency}",
                tr(lang, "Total"),
                n(&s.totals.total)
            )),
            TextLine::from(format!("{} {}", tr(lang, "Paid"), n(&s.totals.paid))),
            TextLine::styled(
                format!("{} {}", tr(lang, "Change"), n(&s.totals.change)),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ];
        if !is_zero(&s.totals.discount) {
            text.push(TextLine::from(format!(
                "{} {}",
                tr(lang, "You save"),
                n(s.totals.discount.trim_start_matches('-'))
            )));
        }
        frame.render_widget(
            Paragraph::new(text)
                .alignment(Alignment::Center)
                .block(block),
            area,
        );
        return;
    }
    if s.state == "cancelled" {
        frame.render_widget(
            Paragraph::new(vec![
                TextLine::from(""),
                TextLine::from(tr(lang, "Next customer, please")),
            ])
            .alignment(Alignment::Center)
            .block(block),
            area,
        );
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [lines_area, info, total] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(3),
        Constraint::Length(2),
    ])
    .areas(inner);
    let visible = lines_area.height as usize;
    let skip = s.lines.len().saturating_sub(visible);
    let text: Vec<TextLine<'_>> = s
        .lines
        .iter()
        .skip(skip)
        .map(|l| {
            let qty = if l.qty == "1" || l.qty.is_empty() {
                String::new()
            } else {
                format!("{} × ", n(&l.qty))
            };
            let style = if l.is_automatic() {
                Style::default().fg(Color::Green)
            } else {
                Style::default()
            };
            let left = format!("{qty}{}", l.name);
            let right = n(&l.amount);
            let width = lines_area.width as usize;
            let pad = width.saturating_sub(left.chars().count() + right.chars().count());
            TextLine::styled(format!("{left}{}{right}", " ".repeat(pad)), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(text), lines_area);
    let mut infos = Vec::new();
    if !is_zero(&s.totals.discount) {
        infos.push(TextLine::styled(
            format!(
                "{} {}",
                tr(lang, "You save"),
                n(s.totals.discount.trim_start_matches('-'))
            ),
            Style::default().fg(Color::Green),
        ));
    }
    for p in s.previews.iter().filter(|p| p.kind != "info") {
        infos.push(TextLine::styled(
            format!("➜ {}", p.label),
            Style::default().fg(Color::Cyan),
        ));
    }
    frame.render_widget(Paragraph::new(infos), info);
    frame.render_widget(
        Paragraph::new(vec![TextLine::styled(
            format!("{} {} {currency}", tr(lang, "Total"), n(&s.totals.total)),
            Style::default().add_modifier(Modifier::BOLD),
        )])
        .alignment(Alignment::Right),
        total,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::view::Totals;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen(app: &App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        terminal.draw(|f| draw(f, app)).expect("draw");
        let buffer = terminal.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..height {
            for x in 0..width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn the_basket_fits_80_by_24_with_totals_nudges_and_every_key() {
        let mut app = App::new(Lang::De, true, Catalogue::demo(), "anna".into());
        app.sale = Some(SaleView {
            id: "S1".into(),
            state: "open".into(),
            lines: vec![
                Line {
                    id: "L1".into(),
                    kind: "item".into(),
                    name: "Eistee Pfirsich 0,5 l".into(),
                    qty: "2".into(),
                    unit_price: "1.49".into(),
                    amount: "2.98".into(),
                    tax_rate: "20".into(),
                    ..Line::default()
                },
                Line {
                    id: "L2".into(),
                    kind: "discount".into(),
                    name: "3 für 2 Eistee".into(),
                    qty: "1".into(),
                    amount: "-1.49".into(),
                    plugin: "promotions".into(),
                    reference: "EISTEE-3FUER2@3".into(),
                    ..Line::default()
                },
            ],
            previews: vec![Preview {
                kind: "nudge".into(),
                label: "1 mehr → 1 gratis".into(),
                ..Preview::default()
            }],
            totals: Totals {
                total: "1.49".into(),
                due: "1.49".into(),
                ..Totals::default()
            },
            ..SaleView::default()
        });
        let text = screen(&app, 80, 24);
        assert!(text.contains("Eistee Pfirsich 0,5 l"), "{text}");
        assert!(text.contains("-1,49"), "{text}");
        assert!(
            !text.contains("EISTEE-3FUER2@3"),
            "a promotion's own key is not the cashier's business: {text}"
        );
        assert!(text.contains("1 mehr → 1 gratis"), "{text}");
        assert!(text.contains("Summe 1,49"), "{text}");
        assert!(text.contains("F10"), "{text}");
    }

    #[test]
    fn a_long_menu_scrolls_with_the_cursor_and_says_where_it_is() {
        assert_eq!(menu_window(5, 4, 10), (0, 5));
        assert_eq!(menu_window(30, 0, 18), (0, 18));
        assert_eq!(menu_window(30, 17, 18), (0, 18));
        assert_eq!(menu_window(30, 18, 18), (1, 18));
        assert_eq!(menu_window(30, 29, 18), (12, 18));
        let mut app = App::new(Lang::De, true, Catalogue::demo(), "anna".into());
        app.mode = Mode::Menu(Menu {
            title: "Aktionen".into(),
            items: (1..=30).map(|i| format!("Aktion Nummer {i}")).collect(),
            selected: 24,
            kind: crate::app::MenuKind::Actions(Vec::new()),
        });
        let text = screen(&app, 80, 24);
        assert!(text.contains("Aktion Nummer 25"), "{text}");
        assert!(!text.contains("Aktion Nummer 1 "), "{text}");
        assert!(text.contains("▲ 25/30 ▼"), "{text}");
        assert!(text.contains("F10"), "the key line stays in sight: {text}");
    }
}
