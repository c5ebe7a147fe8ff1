//! The cashier screen's state and keys, in plain Rust: a key or an answer of the daemon goes
//! in, requests for the daemon come out. Nothing here draws or touches the bus, so the whole
//! behaviour of the keys is tested directly.
//!
//! Keys (shown in the bottom line):
//! - typing + Enter: a catalogue code adds the product (`3*1001` three of them), `?words`
//!   lists the products of that name, anything else goes to `EnterCode` (vouchers,
//!   discount codes, customer and partner cards);
//! - ↑/↓ pick a line, Tab switches between lines and payments;
//! - F2 quantity, F3 or Delete remove (a line or a payment), F4 customer, F5 actions,
//!   F6 rewards, F7 pay, F8 receipts, F9 check out, F10 cancel the sale, Ctrl-C quit;
//! - in dialogs: Tab/↓ next field, ↑ previous, ←/→ choose, Enter confirm, Esc back.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::catalogue::Catalogue;
use crate::i18n::{Lang, error_text, tr};
use crate::link::{Action, Event, Outcome, Request, Reward};
use crate::view::{ReceiptView, SaleView, is_zero};

/// How a message on the status line should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Something happened as asked.
    Info,
    /// It happened, but look (an expired voucher taken).
    Warning,
    /// It did not happen.
    Error,
}

/// One field of a dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Argument name sent to the daemon.
    pub name: String,
    /// What the cashier reads.
    pub label: String,
    /// string, code, choice, decimal, integer, boolean.
    pub kind: String,
    /// Whether it must be filled in.
    pub required: bool,
    /// What is typed (or chosen).
    pub value: String,
    /// The values to choose from (choice, boolean).
    pub choices: Vec<String>,
    /// What the cashier reads for each of `choices` (a basket line's position and name for
    /// its id); empty when the choices read as they are.
    pub names: Vec<String>,
    /// A hint beside it: the plugin's suggestion.
    pub hint: String,
    /// The value is the one the dialog came with, untouched: the first key typed replaces
    /// it instead of adding to it (the cashier types the amount tendered over the due).
    pub fresh: bool,
}

impl Field {
    fn text(name: &str, label: &str, value: &str) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            kind: "string".into(),
            required: false,
            value: value.into(),
            choices: Vec::new(),
            names: Vec::new(),
            hint: String::new(),
            fresh: !value.is_empty(),
        }
    }

    fn typed(&mut self, c: char) {
        if self.fresh {
            self.value.clear();
            self.fresh = false;
        }
        self.value.push(c);
    }

    fn erase(&mut self) {
        if self.fresh {
            self.value.clear();
            self.fresh = false;
        } else {
            self.value.pop();
        }
    }

    fn choose(&mut self, step: isize) {
        if self.choices.is_empty() {
            return;
        }
        let n = self.choices.len() as isize;
        let now = self
            .choices
            .iter()
            .position(|c| *c == self.value)
            .map_or(-1, |i| i as isize);
        let next = if now < 0 {
            0
        } else {
            (now + step).rem_euclid(n)
        };
        self.value = self.choices[next as usize].clone();
    }

    /// The value as the cashier reads it: the name of the chosen choice where it has one.
    pub fn shown(&self) -> &str {
        self.choices
            .iter()
            .position(|c| *c == self.value)
            .and_then(|i| self.names.get(i))
            .map_or(&self.value, |n| n)
    }
}

/// What a dialog is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// A line's quantity.
    Quantity(String),
    /// The sale's customer.
    Customer,
    /// A payment.
    Pay,
    /// A plugin's action.
    Invoke(String),
    /// Which receipt to show.
    ReceiptNumber,
    /// Lines of a receipt to take back.
    Return(String),
}

/// A dialog: a title and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// Title.
    pub title: String,
    /// What it does on Enter.
    pub purpose: Purpose,
    /// The fields.
    pub fields: Vec<Field>,
    /// The field being edited.
    pub focus: usize,
}

/// What a list is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuKind {
    /// Plugins' actions.
    Actions(Vec<Action>),
    /// Rewards.
    Rewards(Vec<Reward>),
    /// Products found by name (`?rohlík`), for goods without a barcode.
    Products(Vec<crate::catalogue::Product>),
}

/// A list to pick from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// Title.
    pub title: String,
    /// The entries' text.
    pub items: Vec<String>,
    /// The entry under the cursor.
    pub selected: usize,
    /// What the entries are.
    pub kind: MenuKind,
}

/// A question with yes and no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Cancel the sale.
    CancelSale,
    /// Void a receipt.
    Void(String),
}

/// What is on top of the basket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The basket and the input line.
    Basket,
    /// A dialog.
    Form(Form),
    /// A list.
    Menu(Menu),
    /// A receipt, with reprint, void and return.
    Receipt(Box<ReceiptView>),
    /// A yes/no question.
    Confirm(Confirm),
}

/// Which list ↑/↓ and F3 act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The basket's lines.
    Lines,
    /// The payments.
    Tenders,
}

/// The cashier screen.
#[derive(Debug)]
pub struct App {
    /// The cashier's language.
    pub lang: Lang,
    /// Whether the language was chosen on the command line (else the store's locale).
    pub lang_fixed: bool,
    /// Products by code.
    pub catalogue: Catalogue,
    /// Store/register, once connected.
    pub till: String,
    /// The store's currency.
    pub currency: String,
    /// The cashier.
    pub cashier: String,
    /// The sale being rung up.
    pub sale: Option<SaleView>,
    /// The line (or payment) under the cursor.
    pub selected: usize,
    /// Lines or payments.
    pub focus: Focus,
    /// The input line.
    pub input: String,
    /// The status line.
    pub message: Option<(Tone, String)>,
    /// Further lines of the last answer (an action's result, a return's messages).
    pub details: Vec<String>,
    /// What is on top.
    pub mode: Mode,
    /// Printer warnings.
    pub printer: Vec<&'static str>,
    /// The last receipt of this till.
    pub last_receipt: String,
    /// The last completed sale's receipt, shown until the next sale starts.
    pub completed: Option<ReceiptView>,
    /// Requests sent and not answered, in order: whether each is a checkout (the worker
    /// answers in order, so the front is the next answer's).
    pub in_flight: std::collections::VecDeque<bool>,
    /// A checkout was sent and its answer did not come: F9 sends it again with its key.
    pub checkout_unconfirmed: bool,
    /// The built-in demo catalogue is in use (no catalogue file): said in the header.
    pub demo_catalogue: bool,
    /// Set by Ctrl-C.
    pub quit: bool,
}

impl App {
    /// A screen with no daemon answer yet.
    pub fn new(lang: Lang, lang_fixed: bool, catalogue: Catalogue, cashier: String) -> App {
        App {
            lang,
            lang_fixed,
            catalogue,
            till: String::new(),
            currency: String::new(),
            cashier,
            sale: None,
            selected: 0,
            focus: Focus::Lines,
            input: String::new(),
            message: None,
            details: Vec::new(),
            mode: Mode::Basket,
            printer: Vec::new(),
            last_receipt: String::new(),
            completed: None,
            in_flight: std::collections::VecDeque::new(),
            checkout_unconfirmed: false,
            demo_catalogue: false,
            quit: false,
        }
    }

    fn t(&self, english: &'static str) -> &'static str {
        tr(self.lang, english)
    }

    fn say(&mut self, tone: Tone, text: impl Into<String>) {
        self.message = Some((tone, text.into()));
    }

    fn send(&mut self, out: &mut Vec<Request>, request: Request) {
        self.in_flight.push_back(request == Request::Checkout);
        out.push(request);
    }

    /// The amount still due, "" with no sale.
    pub fn due(&self) -> String {
        self.sale
            .as_ref()
            .map(|s| s.totals.due.clone())
            .unwrap_or_default()
    }

    /// A key from the terminal.
    pub fn key(&mut self, key: KeyEvent) -> Vec<Request> {
        let mut out = Vec::new();
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q'))
        {
            self.quit = true;
            return out;
        }
        let mode = std::mem::replace(&mut self.mode, Mode::Basket);
        self.mode = match mode {
            Mode::Basket => {
                self.basket_key(key, &mut out);
                // basket_key may have opened something
                std::mem::replace(&mut self.mode, Mode::Basket)
            }
            Mode::Form(form) => self.form_key(form, key, &mut out),
            Mode::Menu(menu) => self.menu_key(menu, key, &mut out),
            Mode::Receipt(receipt) => self.receipt_key(*receipt, key, &mut out),
            Mode::Confirm(c) => self.confirm_key(c, key, &mut out),
        };
        out
    }

    /// A code from a scanner: the same as typed and Enter, whatever dialog is open.
    pub fn scanned(&mut self, code: &str) -> Vec<Request> {
        let mut out = Vec::new();
        if matches!(self.mode, Mode::Basket) {
            self.submit_code(code, &mut out);
        }
        out
    }

    fn basket_key(&mut self, key: KeyEvent, out: &mut Vec<Request>) {
        let count = match self.focus {
            Focus::Lines => self.sale.as_ref().map_or(0, |s| s.lines.len()),
            Focus::Tenders => self.sale.as_ref().map_or(0, |s| s.tenders.len()),
        };
        match key.code {
            KeyCode::Char(c) => self.input.push(c),
            KeyCode::Backspace => {
                self.input.pop();
            }
            KeyCode::Esc => {
                self.input.clear();
                self.details.clear();
            }
            KeyCode::Enter => {
                let code = std::mem::take(&mut self.input);
                if code.trim().is_empty() {
                    return;
                }
                self.submit_code(code.trim(), out);
            }
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down if self.selected + 1 < count => self.selected += 1,
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Lines => Focus::Tenders,
                    Focus::Tenders => Focus::Lines,
                };
                self.selected = 0;
            }
            KeyCode::F(2) => self.open_quantity(),
            KeyCode::F(3) | KeyCode::Delete => self.remove_selected(out),
            KeyCode::F(4) => self.open_customer(),
            KeyCode::F(5) => self.send(out, Request::Actions),
            KeyCode::F(6) => self.send(out, Request::Rewards),
            KeyCode::F(7) => self.open_pay(),
            KeyCode::F(8) => self.open_receipt_number(),
            KeyCode::F(9) => self.checkout(out),
            KeyCode::F(10) if self.sale.is_some() => {
                self.mode = Mode::Confirm(Confirm::CancelSale);
            }
            _ => {}
        }
    }

    fn submit_code(&mut self, code: &str, out: &mut Vec<Request>) {
        self.completed = None;
        self.details.clear();
        if let Some(words) = code.strip_prefix('?') {
            self.search(words.trim());
            return;
        }
        let (qty, rest) = match code.split_once('*') {
            Some((q, r)) if !q.is_empty() && !r.is_empty() => {
                (self.lang.parse_number(q), r.trim().to_string())
            }
            _ => ("1".to_string(), code.to_string()),
        };
        if let Some(product) = self.catalogue.find(&rest) {
            let product = product.clone();
            self.say(Tone::Info, format!("{}: {}", self.t("Added"), product.name));
            self.send(out, Request::AddProduct { product, qty });
        } else {
            self.send(out, Request::EnterCode(code.to_string()));
        }
    }

    /// `?words`: the catalogue's products whose name holds every word, to pick from.
    fn search(&mut self, words: &str) {
        let words: Vec<String> = words.split_whitespace().map(str::to_lowercase).collect();
        let found: Vec<crate::catalogue::Product> = self
            .catalogue
            .products()
            .iter()
            .filter(|p| {
                let name = p.name.to_lowercase();
                words.iter().all(|w| name.contains(w.as_str()))
            })
            .take(20)
            .cloned()
            .collect();
        if found.is_empty() {
            self.say(Tone::Error, self.t("No product of that name"));
            return;
        }
        let lang = self.lang;
        self.mode = Mode::Menu(Menu {
            title: self.t("Products").into(),
            items: found
                .iter()
                .map(|p| {
                    format!(
                        "{:<8} {:<40} {:>8}",
                        p.sku,
                        p.name,
                        lang.number(&p.unit_price.to_string())
                    )
                })
                .collect(),
            selected: 0,
            kind: MenuKind::Products(found),
        });
    }

    /// The selected line, or above an automatic one the cashier's own line it belongs to
    /// (a promotion's line follows the articles it counts).
    fn selected_line(&self) -> Option<&crate::view::Line> {
        let lines = &self.sale.as_ref()?.lines;
        let upto = self.selected.min(lines.len().checked_sub(1)?);
        lines[..=upto].iter().rev().find(|l| !l.is_automatic())
    }

    fn open_quantity(&mut self) {
        let Some(line) = self.selected_line().cloned() else {
            self.say(Tone::Error, self.t("Select a line first"));
            return;
        };
        let mut field = Field::text("qty", self.t("Quantity"), &self.lang.number(&line.qty));
        field.kind = "decimal".into();
        field.required = true;
        self.mode = Mode::Form(Form {
            title: format!("{}: {}", self.t("Quantity"), line.name),
            purpose: Purpose::Quantity(line.id),
            fields: vec![field],
            focus: 0,
        });
    }

    fn remove_selected(&mut self, out: &mut Vec<Request>) {
        let Some(sale) = &self.sale else { return };
        match self.focus {
            Focus::Lines => {
                if let Some(line) = sale.lines.get(self.selected) {
                    let id = line.id.clone();
                    let name = line.name.clone();
                    self.say(Tone::Info, format!("{}: {name}", self.t("Removed")));
                    self.send(out, Request::RemoveLine(id));
                } else {
                    self.say(Tone::Error, self.t("Select a line first"));
                }
            }
            Focus::Tenders => {
                if let Some(t) = sale.tenders.get(self.selected) {
                    let id = t.id.clone();
                    self.send(out, Request::RemoveTender(id));
                }
            }
        }
    }

    fn open_customer(&mut self) {
        let current = self
            .sale
            .as_ref()
            .map(|s| s.customer.clone())
            .unwrap_or_default();
        let mut field = Field::text("customer", self.t("Customer number or card"), &current);
        field.hint = self.t("empty: no customer").into();
        self.mode = Mode::Form(Form {
            title: self.t("Customer").into(),
            purpose: Purpose::Customer,
            fields: vec![field],
            focus: 0,
        });
    }

    fn open_pay(&mut self) {
        let due = self.due();
        if self.sale.is_none() || is_zero(&due) {
            self.say(Tone::Error, self.t("Nothing to pay"));
            return;
        }
        let mut method = Field::text("method", self.t("Method"), "cash");
        method.kind = "choice".into();
        method.choices = PAY_METHODS.iter().map(|(m, _)| m.to_string()).collect();
        let mut amount = Field::text("amount", self.t("Amount"), &self.lang.number(&due));
        amount.kind = "decimal".into();
        amount.required = true;
        let code = Field::text("code", self.t("Code"), "");
        self.mode = Mode::Form(Form {
            title: self.t("Payment").into(),
            purpose: Purpose::Pay,
            fields: vec![method, amount, code],
            focus: 1,
        });
    }

    fn open_receipt_number(&mut self) {
        let last = self.last_receipt.clone();
        let mut field = Field::text("receipt", self.t("Receipt number"), &last);
        field.required = true;
        self.mode = Mode::Form(Form {
            title: self.t("Receipt").into(),
            purpose: Purpose::ReceiptNumber,
            fields: vec![field],
            focus: 0,
        });
    }

    fn checkout(&mut self, out: &mut Vec<Request>) {
        if self.sale.is_some() {
            self.send(out, Request::Checkout);
        }
    }

    fn form_key(&mut self, mut form: Form, key: KeyEvent, out: &mut Vec<Request>) -> Mode {
        let n = form.fields.len();
        match key.code {
            KeyCode::Esc => return Mode::Basket,
            KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % n.max(1),
            KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + n.max(1) - 1) % n.max(1),
            KeyCode::Left | KeyCode::Right => {
                // The focused field if it is a choice, else the dialog's first choice (the
                // payment method while the amount is typed).
                let step = if key.code == KeyCode::Left { -1 } else { 1 };
                let target = form
                    .fields
                    .get(form.focus)
                    .filter(|f| !f.choices.is_empty())
                    .map(|_| form.focus)
                    .or_else(|| form.fields.iter().position(|f| !f.choices.is_empty()));
                if let Some(f) = target.and_then(|i| form.fields.get_mut(i)) {
                    f.choose(step);
                }
            }
            KeyCode::Backspace => {
                if let Some(f) = form.fields.get_mut(form.focus)
                    && f.choices.is_empty()
                {
                    f.erase();
                }
            }
            KeyCode::Char(c) => {
                if let Some(f) = form.fields.get_mut(form.focus) {
                    if f.choices.is_empty() {
                        f.typed(c);
                    } else if c == ' ' {
                        f.choose(1);
                    }
                }
            }
            KeyCode::Enter => return self.submit_form(form, out),
            _ => {}
        }
        Mode::Form(form)
    }

    fn submit_form(&mut self, form: Form, out: &mut Vec<Request>) -> Mode {
        let value = |name: &str| {
            form.fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.value.trim().to_string())
                .unwrap_or_default()
        };
        if let Some(missing) = form
            .fields
            .iter()
            .find(|f| f.required && f.value.trim().is_empty())
        {
            let text = format!("{}: {}", missing.label, self.t("required"));
            self.say(Tone::Error, text);
            return Mode::Form(form);
        }
        for f in &form.fields {
            if matches!(f.kind.as_str(), "decimal" | "integer")
                && !f.value.trim().is_empty()
                && !is_number(&self.lang.parse_number(&f.value))
            {
                let text = format!("{}: {}", f.label, self.t("Not a number"));
                self.say(Tone::Error, text);
                return Mode::Form(form);
            }
        }
        match &form.purpose {
            Purpose::Quantity(line) => {
                let qty = self.lang.parse_number(&value("qty"));
                self.send(
                    out,
                    Request::SetQuantity {
                        line: line.clone(),
                        qty,
                    },
                );
            }
            Purpose::Customer => self.send(out, Request::SetCustomer(value("customer"))),
            Purpose::Pay => {
                let method = value("method");
                let amount = self.lang.parse_number(&value("amount"));
                let code = value("code");
                if method == "voucher" && code.is_empty() {
                    let text = format!("{}: {}", self.t("Code"), self.t("required"));
                    self.say(Tone::Error, text);
                    return Mode::Form(form);
                }
                let details = if code.is_empty() {
                    Vec::new()
                } else {
                    vec![("code".to_string(), code)]
                };
                self.send(
                    out,
                    Request::AddTender {
                        method,
                        amount,
                        details,
                    },
                );
            }
            Purpose::Invoke(action) => {
                let args = form
                    .fields
                    .iter()
                    .filter(|f| !f.value.trim().is_empty())
                    .map(|f| {
                        let v = if matches!(f.kind.as_str(), "decimal" | "integer") {
                            self.lang.parse_number(&f.value)
                        } else {
                            f.value.trim().to_string()
                        };
                        (f.name.clone(), v)
                    })
                    .collect();
                self.send(
                    out,
                    Request::Invoke {
                        action: action.clone(),
                        args,
                    },
                );
            }
            Purpose::ReceiptNumber => self.send(out, Request::GetReceipt(value("receipt"))),
            Purpose::Return(receipt) => {
                let lines: Vec<(String, String)> = form
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), self.lang.parse_number(&f.value)))
                    .filter(|(_, q)| !q.is_empty() && !is_zero(q))
                    .collect();
                if lines.is_empty() {
                    return Mode::Basket;
                }
                self.send(
                    out,
                    Request::Return {
                        receipt: receipt.clone(),
                        lines,
                    },
                );
            }
        }
        Mode::Basket
    }

    fn menu_key(&mut self, mut menu: Menu, key: KeyEvent, out: &mut Vec<Request>) -> Mode {
        match key.code {
            KeyCode::Esc => return Mode::Basket,
            KeyCode::Up => menu.selected = menu.selected.saturating_sub(1),
            KeyCode::Down if menu.selected + 1 < menu.items.len() => menu.selected += 1,
            KeyCode::Enter => match &menu.kind {
                MenuKind::Actions(actions) => {
                    if let Some(a) = actions.get(menu.selected) {
                        return self.action_form(a.clone(), out);
                    }
                }
                MenuKind::Products(products) => {
                    if let Some(p) = products.get(menu.selected) {
                        let product = p.clone();
                        self.say(Tone::Info, format!("{}: {}", self.t("Added"), product.name));
                        self.send(
                            out,
                            Request::AddProduct {
                                product,
                                qty: "1".into(),
                            },
                        );
                        return Mode::Basket;
                    }
                }
                MenuKind::Rewards(rewards) => {
                    if let Some(r) = rewards.get(menu.selected) {
                        let id = r.id.clone();
                        self.send(out, Request::ApplyReward(id));
                        return Mode::Basket;
                    }
                }
            },
            _ => {}
        }
        Mode::Menu(menu)
    }

    /// The dialog of an action, made from its params alone: a new plugin needs no change
    /// here. An action without params runs at once.
    fn action_form(&mut self, action: Action, out: &mut Vec<Request>) -> Mode {
        if action.params.is_empty() {
            self.send(
                out,
                Request::Invoke {
                    action: action.id,
                    args: Vec::new(),
                },
            );
            return Mode::Basket;
        }
        let lines: &[crate::view::Line] = self.sale.as_ref().map_or(&[], |s| &s.lines);
        let under_cursor = self.selected_line().map(|l| l.id.clone());
        let fields = action
            .params
            .iter()
            .map(|p| {
                let mut choices = p.choices.clone();
                let mut names = Vec::new();
                if p.kind == "boolean" && choices.is_empty() {
                    choices = vec!["true".into(), "false".into()];
                }
                // A param named `line` is a line of this sale: chosen from the basket by
                // position and name, starting at the line under the cursor.
                let is_line = p.name == "line" && choices.is_empty() && !lines.is_empty();
                if is_line {
                    choices = lines.iter().map(|l| l.id.clone()).collect();
                    names = lines
                        .iter()
                        .enumerate()
                        .map(|(i, l)| format!("{}. {}", i + 1, l.name))
                        .collect();
                }
                let start = if is_line && p.default.is_empty() {
                    under_cursor.clone().unwrap_or_else(|| choices[0].clone())
                } else if !p.default.is_empty() {
                    p.default.clone()
                } else if !p.suggested.is_empty() {
                    p.suggested.clone()
                } else if p.required && !choices.is_empty() {
                    choices[0].clone()
                } else {
                    String::new()
                };
                let shown = if matches!(p.kind.as_str(), "decimal" | "integer") {
                    self.lang.number(&start)
                } else {
                    start
                };
                let hint = match (p.suggested.is_empty(), p.help.is_empty()) {
                    (true, _) => p.help.clone(),
                    (false, true) => {
                        format!("{} {}", self.t("suggested"), self.lang.number(&p.suggested))
                    }
                    (false, false) => format!(
                        "{} ({} {})",
                        p.help,
                        self.t("suggested"),
                        self.lang.number(&p.suggested)
                    ),
                };
                Field {
                    name: p.name.clone(),
                    label: crate::i18n::param_label(self.lang, &p.name),
                    kind: p.kind.clone(),
                    required: p.required,
                    fresh: !shown.is_empty(),
                    value: shown,
                    choices,
                    names,
                    hint,
                }
            })
            .collect();
        Mode::Form(Form {
            title: action.label,
            purpose: Purpose::Invoke(action.id),
            fields,
            focus: 0,
        })
    }

    fn receipt_key(&mut self, receipt: ReceiptView, key: KeyEvent, out: &mut Vec<Request>) -> Mode {
        match key.code {
            KeyCode::Esc | KeyCode::Enter => Mode::Basket,
            KeyCode::Char('p') | KeyCode::Char('P') | KeyCode::F(2) => {
                self.send(out, Request::Reprint(receipt.id.clone()));
                Mode::Receipt(Box::new(receipt))
            }
            KeyCode::Char('v') | KeyCode::Char('V') | KeyCode::F(3) => {
                Mode::Confirm(Confirm::Void(receipt.id))
            }
            KeyCode::Char('r') | KeyCode::Char('R') | KeyCode::F(4) => {
                let fields = receipt
                    .lines
                    .iter()
                    .filter(|l| l.kind == "item")
                    .map(|l| {
                        let mut f = Field::text(
                            &l.id,
                            &format!(
                                "{} ({} × {})",
                                l.name,
                                self.lang.number(&l.qty),
                                self.lang.number(&l.unit_price)
                            ),
                            "",
                        );
                        f.kind = "decimal".into();
                        f
                    })
                    .collect::<Vec<_>>();
                if fields.is_empty() {
                    return Mode::Receipt(Box::new(receipt));
                }
                Mode::Form(Form {
                    title: format!("{} {}", self.t("Return: quantity per line"), receipt.id),
                    purpose: Purpose::Return(receipt.id),
                    fields,
                    focus: 0,
                })
            }
            _ => Mode::Receipt(Box::new(receipt)),
        }
    }

    fn confirm_key(&mut self, c: Confirm, key: KeyEvent, out: &mut Vec<Request>) -> Mode {
        match key.code {
            KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('j') | KeyCode::Char('a') => {
                match c {
                    Confirm::CancelSale => self.send(out, Request::Cancel),
                    Confirm::Void(id) => self.send(out, Request::Void(id)),
                }
                Mode::Basket
            }
            KeyCode::Esc | KeyCode::Char('n') => Mode::Basket,
            _ => Mode::Confirm(c),
        }
    }

    /// An event of the worker; may lead to more requests (a settled payment checks out).
    pub fn event(&mut self, event: Event) -> Vec<Request> {
        let mut out = Vec::new();
        match event {
            Event::Connected {
                till,
                locale,
                currency,
            } => {
                self.till = till;
                self.currency = currency;
                if !self.lang_fixed {
                    self.lang = Lang::from_locale(&locale);
                }
            }
            Event::Sale(sale) => {
                if let Some(s) = &sale {
                    let count = match self.focus {
                        Focus::Lines => s.lines.len(),
                        Focus::Tenders => s.tenders.len(),
                    };
                    if self.selected >= count {
                        self.selected = count.saturating_sub(1);
                    }
                    // A new line is where the cashier looks next.
                    let grew = self
                        .sale
                        .as_ref()
                        .is_none_or(|old| old.lines.len() < s.lines.len());
                    if grew && self.focus == Focus::Lines {
                        self.selected = s.lines.len().saturating_sub(1);
                    }
                    self.completed = None;
                }
                self.sale = sale;
            }
            Event::Done(outcome) => {
                self.in_flight.pop_front();
                self.done(outcome, &mut out);
            }
            Event::Failed {
                name,
                message,
                unanswered,
            } => {
                let was_checkout = self.in_flight.pop_front().unwrap_or(false);
                let mut text = error_text(self.lang, &name, &message);
                if unanswered && was_checkout {
                    self.checkout_unconfirmed = true;
                    text = format!(
                        "{} — {text}",
                        self.t("Checkout not confirmed: F9 tries again with the same key")
                    );
                } else if unanswered {
                    text = format!("{} — {text}", self.t("Connection to posd lost"));
                }
                self.say(Tone::Error, text);
            }
            Event::Unreachable { name, message } => {
                let text = format!(
                    "{} — {}",
                    self.t("No connection to posd"),
                    error_text(self.lang, &name, &message)
                );
                self.say(Tone::Error, text);
            }
            Event::Recovered(receipt) => self.done(Outcome::Completed(receipt), &mut out),
            Event::Scanned(code) => out = self.scanned(&code),
            Event::Printer(warnings) => self.printer = warnings,
            Event::Resumed(id) => {
                let text = format!("{} {id}", self.t("Sale resumed"));
                self.say(Tone::Info, text);
            }
            Event::LastReceipt(id) => self.last_receipt = id,
        }
        out
    }

    fn done(&mut self, outcome: Outcome, out: &mut Vec<Request>) {
        match outcome {
            Outcome::Line => {}
            Outcome::Taken {
                message,
                warnings,
                result,
                settled,
            } => {
                self.details = result;
                if settled {
                    // A voucher that pays the rest, like a payment by F7.
                    self.send(out, Request::Checkout);
                }
                if !warnings.is_empty() {
                    let text = format!("{}: {}", self.t("Warning"), warnings.join("; "));
                    self.say(Tone::Warning, text);
                } else if !message.is_empty() {
                    self.say(Tone::Info, message);
                }
            }
            Outcome::Actions(actions) => {
                if actions.is_empty() {
                    self.say(Tone::Info, self.t("Nothing offered now"));
                    return;
                }
                self.mode = Mode::Menu(Menu {
                    title: self.t("Actions").into(),
                    items: actions.iter().map(|a| a.label.clone()).collect(),
                    selected: 0,
                    kind: MenuKind::Actions(actions),
                });
            }
            Outcome::Rewards(rewards) => {
                if rewards.is_empty() {
                    self.say(Tone::Info, self.t("Nothing offered now"));
                    return;
                }
                let lang = self.lang;
                self.mode = Mode::Menu(Menu {
                    title: self.t("Rewards").into(),
                    items: rewards
                        .iter()
                        .map(|r| {
                            let mut s = r.label.clone();
                            if !r.amount.is_empty() {
                                s.push_str(&format!("  {}", lang.number(&r.amount)));
                            }
                            if !r.points.is_empty() {
                                s.push_str(&format!("  ({} P)", lang.number(&r.points)));
                            }
                            s
                        })
                        .collect(),
                    selected: 0,
                    kind: MenuKind::Rewards(rewards),
                });
            }
            Outcome::Tendered { settled } => {
                if settled {
                    self.send(out, Request::Checkout);
                }
            }
            Outcome::TenderRemoved => {}
            Outcome::Customer(id) => {
                let text = if id.is_empty() {
                    self.t("Customer removed").to_string()
                } else {
                    format!("{}: {id}", self.t("Customer set"))
                };
                self.say(Tone::Info, text);
            }
            Outcome::Completed(receipt) => {
                self.checkout_unconfirmed = false;
                self.last_receipt = receipt.id.clone();
                let change = receipt.totals.change.clone();
                let text = if is_zero(&change) {
                    format!("{} {}", self.t("Sale completed"), receipt.id)
                } else {
                    format!(
                        "{} {} — {} {}",
                        self.t("Sale completed"),
                        receipt.id,
                        self.t("Change"),
                        self.lang.number(&change)
                    )
                };
                self.say(Tone::Info, text);
                self.sale = None;
                self.selected = 0;
                self.focus = Focus::Lines;
                self.completed = Some(receipt);
            }
            Outcome::Cancelled => {
                self.sale = None;
                self.selected = 0;
                self.say(Tone::Info, self.t("Sale cancelled"));
            }
            Outcome::Receipt(receipt) => self.mode = Mode::Receipt(Box::new(receipt)),
            Outcome::Printing(job) => {
                let text = format!("{} ({job})", self.t("Printing"));
                self.say(Tone::Info, text);
            }
            Outcome::Voided(receipt) => {
                let text = format!("{}: {}", self.t("Voided"), receipt.id);
                self.say(Tone::Info, text);
                self.last_receipt = receipt.id.clone();
                self.mode = Mode::Receipt(Box::new(receipt));
            }
            Outcome::Returned(receipt, messages) => {
                let text = format!("{}: {}", self.t("Returned"), receipt.id);
                self.say(Tone::Info, text);
                self.details = messages;
                self.last_receipt = receipt.id.clone();
                self.mode = Mode::Receipt(Box::new(receipt));
            }
        }
    }
}

/// Payment methods of the payment dialog: the contract's own and the shipped plugins'
/// (`partner_points` of the partner plugin, `card_credit` of the cards plugin), with their
/// labels. The contract has no list of plugin methods; one the daemon does not take is
/// refused with a named error, which the till shows.
pub const PAY_METHODS: &[(&str, &str)] = &[
    ("cash", "cash"),
    ("card", "card"),
    ("voucher", "voucher"),
    ("credit", "credit"),
    ("partner_points", "partner points"),
    ("card_credit", "card credit"),
];

/// Whether a typed number is a decimal the daemon takes ("12.5", "-1", "3").
fn is_number(text: &str) -> bool {
    let t = text.strip_prefix('-').unwrap_or(text);
    !t.is_empty()
        && t.chars().filter(|c| *c == '.').count() <= 1
        && t.chars().all(|c| c.is_ascii_digit() || c == '.')
        && t != "."
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{Line, Totals};

    fn app() -> App {
        App::new(Lang::En, true, Catalogue::demo(), "anna".into())
    }

    fn press(app: &mut App, code: KeyCode) -> Vec<Request> {
        app.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn type_text(app: &mut App, text: &str) {
        for c in text.chars() {
            press(app, KeyCode::Char(c));
        }
    }

    fn sale_with(lines: &[(&str, &str)], due: &str) -> SaleView {
        SaleView {
            id: "S1".into(),
            state: "open".into(),
            lines: lines
                .iter()
                .map(|(id, name)| Line {
                    id: id.to_string(),
                    kind: "item".into(),
                    name: name.to_string(),
                    qty: "1".into(),
                    ..Line::default()
                })
                .collect(),
            totals: Totals {
                due: due.into(),
                ..Totals::default()
            },
            ..SaleView::default()
        }
    }

    #[test]
    fn a_catalogue_code_adds_the_product_and_anything_else_is_entered_as_a_code() {
        let mut a = app();
        let product = a.catalogue.products()[0].clone();
        type_text(&mut a, &format!("3*{}", product.sku));
        let out = press(&mut a, KeyCode::Enter);
        assert_eq!(
            out,
            vec![Request::AddProduct {
                product,
                qty: "3".into()
            }]
        );
        type_text(&mut a, "GUTSCHEIN-123");
        let out = press(&mut a, KeyCode::Enter);
        assert_eq!(out, vec![Request::EnterCode("GUTSCHEIN-123".into())]);
        assert!(a.input.is_empty());
    }

    #[test]
    fn a_settled_payment_checks_out_by_itself() {
        let mut a = app();
        a.event(Event::Sale(Some(sale_with(&[("L1", "Milch")], "1.29"))));
        press(&mut a, KeyCode::F(7));
        let Mode::Form(form) = &a.mode else {
            panic!("pay dialog: {:?}", a.mode)
        };
        assert_eq!(form.fields[1].value, "1.29");
        // The amount tendered is typed over the due; ← / → pick the method meanwhile.
        type_text(&mut a, "2");
        press(&mut a, KeyCode::Right);
        press(&mut a, KeyCode::Left);
        let out = press(&mut a, KeyCode::Enter);
        assert_eq!(
            out,
            vec![Request::AddTender {
                method: "cash".into(),
                amount: "2".into(),
                details: vec![]
            }]
        );
        let next = a.event(Event::Done(Outcome::Tendered { settled: true }));
        assert_eq!(next, vec![Request::Checkout]);
    }

    #[test]
    fn an_action_dialog_is_made_from_its_params() {
        let mut a = app();
        a.event(Event::Sale(Some(sale_with(&[], "0"))));
        let action = Action {
            id: "vouchers:sell".into(),
            plugin: "vouchers".into(),
            label: "Sell voucher".into(),
            params: vec![
                crate::link::Param {
                    name: "amount".into(),
                    kind: "decimal".into(),
                    required: true,
                    suggested: "25.00".into(),
                    ..Default::default()
                },
                crate::link::Param {
                    name: "design".into(),
                    kind: "choice".into(),
                    choices: vec!["birthday".into(), "xmas".into()],
                    ..Default::default()
                },
            ],
        };
        a.event(Event::Done(Outcome::Actions(vec![action])));
        let out = press(&mut a, KeyCode::Enter);
        assert!(out.is_empty());
        press(&mut a, KeyCode::Tab);
        press(&mut a, KeyCode::Right);
        press(&mut a, KeyCode::Right);
        let out = press(&mut a, KeyCode::Enter);
        assert_eq!(
            out,
            vec![Request::Invoke {
                action: "vouchers:sell".into(),
                args: vec![
                    ("amount".into(), "25.00".into()),
                    ("design".into(), "xmas".into())
                ]
            }]
        );
    }

    #[test]
    fn a_line_param_is_chosen_from_the_basket_starting_at_the_cursor_and_reads_in_words() {
        let mut a = app();
        a.lang = crate::i18n::Lang::De;
        a.event(Event::Sale(Some(sale_with(
            &[("L1", "Milch"), ("L2", "Brot"), ("L3", "Eistee")],
            "4.00",
        ))));
        press(&mut a, KeyCode::Up);
        let action = Action {
            id: "vouchers:free-product-line".into(),
            plugin: "vouchers".into(),
            label: "Gratisprodukt: Zeile wählen".into(),
            params: vec![
                crate::link::Param {
                    name: "line".into(),
                    kind: "string".into(),
                    required: true,
                    ..Default::default()
                },
                crate::link::Param {
                    name: "serial".into(),
                    kind: "string".into(),
                    help: "auf der Verpackung".into(),
                    ..Default::default()
                },
            ],
        };
        a.event(Event::Done(Outcome::Actions(vec![action])));
        press(&mut a, KeyCode::Enter);
        let Mode::Form(form) = &a.mode else {
            panic!("no dialog: {:?}", a.mode)
        };
        assert_eq!(form.fields[0].label, "Position");
        assert_eq!(form.fields[0].shown(), "2. Brot");
        assert_eq!(form.fields[1].label, "Seriennummer");
        assert_eq!(form.fields[1].hint, "auf der Verpackung");
        press(&mut a, KeyCode::Right);
        let out = press(&mut a, KeyCode::Enter);
        assert_eq!(
            out,
            vec![Request::Invoke {
                action: "vouchers:free-product-line".into(),
                args: vec![("line".into(), "L3".into())]
            }]
        );
    }

    #[test]
    fn a_missing_required_field_keeps_the_dialog_open_and_says_which() {
        let mut a = app();
        a.event(Event::Sale(Some(sale_with(&[("L1", "Milch")], "1.29"))));
        press(&mut a, KeyCode::F(2));
        press(&mut a, KeyCode::Backspace);
        let out = press(&mut a, KeyCode::Enter);
        assert!(out.is_empty());
        assert!(matches!(a.mode, Mode::Form(_)));
        assert_eq!(a.message.as_ref().map(|m| m.0), Some(Tone::Error));
        type_text(&mut a, "2,5");
        let out = press(&mut a, KeyCode::Enter);
        assert_eq!(
            out,
            vec![Request::SetQuantity {
                line: "L1".into(),
                qty: "2.5".into()
            }]
        );
    }

    #[test]
    fn a_named_error_is_shown_in_the_cashiers_language_and_the_till_goes_on() {
        let mut a = App::new(Lang::De, true, Catalogue::demo(), String::new());
        type_text(&mut a, "999");
        press(&mut a, KeyCode::Enter);
        a.event(Event::Failed {
            name: "org.posd.Error.NotFound".into(),
            message: String::new(),
            unanswered: false,
        });
        assert_eq!(
            a.message,
            Some((Tone::Error, "Es konnte nichts gefunden werden".into()))
        );
        assert!(a.in_flight.is_empty());
        type_text(&mut a, "x");
        assert_eq!(a.input, "x");
    }

    #[test]
    fn a_product_without_a_barcode_is_found_by_name() {
        let mut a = app();
        let product = a.catalogue.products()[0].clone();
        let word = product
            .name
            .split_whitespace()
            .next()
            .expect("a word")
            .to_lowercase();
        type_text(&mut a, &format!("?{word}"));
        assert!(press(&mut a, KeyCode::Enter).is_empty());
        let Mode::Menu(menu) = &a.mode else {
            panic!("a list of products: {:?}", a.mode)
        };
        assert!(menu.items[0].contains(&product.name));
        let out = press(&mut a, KeyCode::Enter);
        assert_eq!(
            out,
            vec![Request::AddProduct {
                product,
                qty: "1".into()
            }]
        );
        type_text(&mut a, "?nothing-is-called-this");
        press(&mut a, KeyCode::Enter);
        assert_eq!(a.message.as_ref().map(|m| m.0), Some(Tone::Error));
    }

    #[test]
    fn void_asks_first() {
        let mut a = app();
        a.event(Event::Done(Outcome::Receipt(ReceiptView {
            id: "0001-01-000001".into(),
            ..ReceiptView::default()
        })));
        assert!(press(&mut a, KeyCode::Char('v')).is_empty());
        assert!(matches!(a.mode, Mode::Confirm(Confirm::Void(_))));
        let out = press(&mut a, KeyCode::Enter);
        assert_eq!(out, vec![Request::Void("0001-01-000001".into())]);
    }
}
