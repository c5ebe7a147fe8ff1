//! The daemon's configuration: one typed tree, layered from several sources.
//!
//! Later sources override earlier ones: built-in defaults → `/etc/posd/posd.toml` →
//! `/etc/posd/posd.d/*.toml` in name order → `POSD_*` environment variables → `--config FILE`.
//! A technician must be told exactly what is wrong, so every source is first checked on its
//! own (built-in defaults filling the rest): an error then names the file or variable, the key
//! and what was expected, instead of a merged tree that no longer knows where a value came
//! from. Unknown keys are errors: a typo must not silently leave a default in force.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why the configuration could not be used. The daemon refuses to start on any of these.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file exists but could not be read (permissions, I/O error).
    #[error("{path}: cannot read configuration: {reason}")]
    Unreadable {
        /// The file that failed.
        path: PathBuf,
        /// What the operating system said.
        reason: String,
    },
    /// A source is not valid TOML (or not parseable at all).
    #[error("{source_name}: not valid TOML: {reason}")]
    Syntax {
        /// File name or `environment`.
        source_name: String,
        /// Line and column, the parser's message, then the line itself with a caret under
        /// the spot on lines of their own.
        reason: String,
    },
    /// A key is unknown, has the wrong type or a value that is not allowed.
    #[error("{source_name}: key `{key}`: {reason}")]
    Invalid {
        /// File name, or the environment variable that set the key.
        source_name: String,
        /// Dotted key path, e.g. `store.currency`.
        key: String,
        /// What was found and what was expected.
        reason: String,
    },
}

/// The whole configuration. Every field has a built-in default, so an empty file (or none
/// at all) gives a daemon that starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which store this till belongs to, and the store's money and language.
    pub store: StoreConfig,
    /// Which register (till) within the store this daemon runs.
    pub register: RegisterConfig,
    /// Logging.
    pub log: LogConfig,
    /// The state database.
    pub database: DatabaseConfig,
    /// Hardware attached to the till.
    pub devices: Vec<DeviceConfig>,
    /// How scanned codes are read, for all scanners.
    pub scanning: ScanningConfig,
    /// Where plugins are loaded from and how they are called.
    pub plugins: PluginsConfig,
    /// Each plugin's own section, keyed by plugin id: `[plugin.vouchers]`. Free-form: the
    /// plugin validates its own keys.
    pub plugin: BTreeMap<String, toml::Table>,
    /// Fixed text on every receipt.
    pub receipt: ReceiptConfig,
    /// Delivery of partner messages.
    pub outbox: OutboxConfig,
    /// What posd is told about customers.
    pub customers: CustomersConfig,
}

/// `[customers]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CustomersConfig {
    /// A TOML file of each customer's groups (`"C-1001" = ["staff"]`), exported by the back
    /// office: plugins see them as the sale's `customer_groups`. None: no customer has
    /// groups. Read at start and on every reload ([`crate::customers`]).
    pub groups_file: Option<std::path::PathBuf>,
}

/// `[outbox]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// First retry of an undelivered message after this many milliseconds; doubling.
    pub retry_first_ms: u64,
    /// Longest wait between two tries, in milliseconds.
    pub retry_cap_ms: u64,
    /// A message still undelivered this many hours after its sale becomes a dead letter.
    pub dead_letter_after_hours: u64,
    /// The same in seconds, in place of `dead_letter_after_hours` when set: for a partner
    /// whose messages are worthless after minutes, and for tests that need a dead letter
    /// without waiting an hour.
    pub dead_letter_after_s: Option<u64>,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            retry_first_ms: 5000,
            retry_cap_ms: 900_000,
            dead_letter_after_hours: 72,
            dead_letter_after_s: None,
        }
    }
}

/// `[store]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Store identifier as the head office knows it; printed and sent to partners.
    pub id: String,
    /// ISO 4217 code of the currency all amounts are in.
    pub currency: String,
    /// BCP 47 language tag for receipts and messages, e.g. `de-AT`, `cs-CZ`.
    pub locale: String,
    /// Cash payments are rounded to a multiple of this: `"auto"` (CZK 1.00, CHF 0.05,
    /// HUF 5, others none), `"none"`, or an amount such as `"0.05"`.
    pub cash_rounding: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            id: "0001".into(),
            currency: "EUR".into(),
            locale: "de-AT".into(),
            cash_rounding: "auto".into(),
        }
    }
}

/// `[register]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterConfig {
    /// Register identifier within the store; receipt numbers run without gaps per register.
    pub id: String,
    /// The day must be opened with a counted float (`OpenDay`) before anything is sold;
    /// otherwise the first sale of a day opens it with a float of 0.
    pub require_day_open: bool,
}

impl Default for RegisterConfig {
    fn default() -> Self {
        Self {
            id: "01".into(),
            require_day_open: false,
        }
    }
}

/// `[log]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `posd=debug,zbus=warn`. `RUST_LOG` wins if set.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// How long a statement waits for a lock held by another connection (a backup, `posctl`)
    /// before it fails, in milliseconds.
    pub busy_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            busy_timeout_ms: 5000,
        }
    }
}

/// What a configured device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// A barcode scanner on a serial line.
    Scanner,
    /// An ESC/POS receipt printer; the cash drawer hangs off it.
    Printer,
}

/// One `[[devices]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Name under `/org/posd/Posd1/device/<name>`: letters, digits and `_` only.
    pub name: String,
    /// Scanner, printer, drawer or display.
    pub kind: DeviceKind,
    /// `serial:/dev/ttyUSB0?baud=9600`, `tcp:192.0.2.10:9100` or `file:/dev/usb/lp0`.
    pub connection: String,
    /// A device can be kept in the file but switched off.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Scanner: what ends a code (`cr`, `lf`, `crlf`, `tab`, `none`). Default `cr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<posd_scanner::Suffix>,
    /// Scanner: characters the scanner puts before each code, stripped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Scanner: a pause this long ends a code (scanners without suffix). Default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_byte_timeout_ms: Option<u64>,

    /// Printer: characters per line, 32, 42 or 48. Default 42.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<u8>,
    /// Printer: code page for text, `pc858` (German, €) or `pc852` (Czech). Default `pc858`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_page: Option<posd_printer::CodePage>,
    /// Printer: printable width in dots: 384 (58 mm), 512 or 576 (80 mm). Default by
    /// columns: 32 → 384, 42 → 512, 48 → 576.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dots_per_line: Option<u16>,
    /// Printer: drawer kick pin, 2 or 5. Default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawer_pin: Option<u8>,
    /// Printer: drawer pulse length in milliseconds. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawer_pulse_ms: Option<u16>,
    /// Printer: how often an idle printer is asked for its status, in milliseconds.
    /// Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_poll_ms: Option<u64>,
}

/// `[scanning]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ScanningConfig {
    /// Layouts of the store's in-store EAN-13 codes (prefixes 20–29) for weighed and
    /// priced goods, e.g. `{ prefixes = ["28"], item_digits = 5, value = "weight",
    /// value_digits = 5, decimals = 3 }`.
    pub in_store: Vec<posd_scanner::InStoreLayout>,
}

fn yes() -> bool {
    true
}

/// `[plugins]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Directories searched for plugin libraries, in order.
    pub directories: Vec<PathBuf>,
    /// Where `posctl plugin install` puts plugin files; one of `directories`.
    pub install_directory: PathBuf,
    /// How long one plugin call may take before it counts as failed, in milliseconds.
    pub call_deadline_ms: u64,
    /// The order in which plugins are asked, by id: for a code, for the basket (each sees
    /// the automatic lines of those before it, so a points preview after the promotions
    /// counts what they took off), for rewards and actions. Plugins not listed follow, by
    /// id. Ids of plugins not loaded are skipped.
    pub order: Vec<String>,
    /// Where plugins run: `"process"`, each in a child process of its own behind a sandbox
    /// (a crash costs one call, never the till), or `"in-process"`, inside the daemon.
    pub isolation: IsolationMode,
    /// Crashes of one plugin's process within `crash_window_s` after which it is failed.
    pub crash_limit: u32,
    /// See `crash_limit`, in seconds.
    pub crash_window_s: u64,
    /// Address-space limit of each plugin process, in MiB.
    pub memory_mb: u64,
    /// CPU time each plugin process may use over its life, in seconds; it is then
    /// restarted (counted as a crash).
    pub cpu_seconds: u64,
    /// Open files of each plugin process.
    pub open_files: u64,
    /// Per plugin id: `[plugins.run.<id>]` with `isolation`, `network` (the `host:port`
    /// endpoints it may connect to; none without), `read` (its own secret files) and the
    /// limits above.
    pub run: BTreeMap<String, PluginRunConfig>,
}

/// Where plugins run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationMode {
    /// Each in a child process of its own.
    #[default]
    Process,
    /// Inside the daemon.
    InProcess,
}

/// `[plugins.run.<id>]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PluginRunConfig {
    /// Overrides `plugins.isolation`.
    pub isolation: Option<IsolationMode>,
    /// TCP endpoints (`host:port`) the plugin may connect to.
    pub network: Vec<String>,
    /// Files or directories the plugin may read besides the system's libraries: its own
    /// secrets, e.g. `"$CREDENTIALS_DIRECTORY/vouchers.key"` (systemd's credential
    /// directory). Nothing else of posd's is readable from a plugin's process.
    pub read: Vec<String>,
    /// Overrides `plugins.memory_mb`.
    pub memory_mb: Option<u64>,
    /// Overrides `plugins.cpu_seconds`.
    pub cpu_seconds: Option<u64>,
    /// Overrides `plugins.open_files`.
    pub open_files: Option<u64>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            directories: vec![
                PathBuf::from("/usr/lib/posd/plugins"),
                PathBuf::from("/var/lib/posd/plugins"),
            ],
            install_directory: PathBuf::from("/var/lib/posd/plugins"),
            call_deadline_ms: 2000,
            order: Vec::new(),
            isolation: IsolationMode::Process,
            crash_limit: 5,
            crash_window_s: 600,
            memory_mb: 1024,
            cpu_seconds: 3600,
            open_files: 256,
            run: BTreeMap::new(),
        }
    }
}

/// `[receipt]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiptConfig {
    /// The printer device receipts go to; "" for the first printer configured.
    pub printer: String,
    /// Lines printed centred above every receipt (store name, address, VAT id).
    pub header: Vec<String>,
    /// Lines printed centred below every receipt.
    pub footer: Vec<String>,
    /// When the cash drawer on the receipt printer opens by itself after a receipt.
    pub open_drawer: OpenDrawer,
}

/// `[receipt] open_drawer`: when a committed receipt opens the cash drawer of its printer.
///
/// The kick is queued with the receipt in the receipt's own transaction, right after it, so
/// it is neither lost nor sent twice, and the drawer opens when the receipt prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OpenDrawer {
    /// When cash was taken or given back: a sale, void or return with a cash tender or
    /// change, a cash movement, an opening float.
    #[default]
    Cash,
    /// After every sale, void and return, whatever paid it (stores that keep card slips in
    /// the drawer); and when cash was taken or given.
    Always,
    /// Never by itself; `OpenDrawer` on the printer (`posctl open-drawer`) still works.
    Never,
}

/// The currencies posd can keep books in, with their minor unit (decimal places).
pub const CURRENCIES: &[(&str, u32)] = &[
    ("EUR", 2),
    ("CZK", 2),
    ("CHF", 2),
    ("PLN", 2),
    ("HUF", 2),
    ("GBP", 2),
    ("USD", 2),
    ("DKK", 2),
    ("SEK", 2),
    ("NOK", 2),
    ("RON", 2),
    ("BGN", 2),
];

impl Config {
    /// Whether a printer is configured (switched on or not): without one, development mode
    /// adds its virtual printer, at start and after every reload.
    pub fn has_printer(&self) -> bool {
        self.devices.iter().any(|d| d.kind == DeviceKind::Printer)
    }

    /// Checks values that the types alone don't constrain. Returns the dotted key and the
    /// reason of the first problem.
    fn check_values(&self) -> Result<(), (String, String)> {
        fn bad(key: impl Into<String>, reason: impl Into<String>) -> Result<(), (String, String)> {
            Err((key.into(), reason.into()))
        }
        if !is_identifier(&self.store.id) {
            return bad("store.id", identifier_rule(&self.store.id));
        }
        if !is_identifier(&self.register.id) {
            return bad("register.id", identifier_rule(&self.register.id));
        }
        if !CURRENCIES.iter().any(|(c, _)| *c == self.store.currency) {
            let known: Vec<_> = CURRENCIES.iter().map(|(c, _)| *c).collect();
            return bad(
                "store.currency",
                format!(
                    "`{}` is not a supported ISO 4217 currency; expected one of {}",
                    self.store.currency,
                    known.join(", ")
                ),
            );
        }
        if !matches!(self.store.cash_rounding.as_str(), "auto" | "none")
            && crate::money::parse_bounded(
                "store.cash_rounding",
                &self.store.cash_rounding,
                rust_decimal::Decimal::new(1, 2),
                rust_decimal::Decimal::from(100),
                2,
            )
            .is_err()
        {
            return bad(
                "store.cash_rounding",
                format!(
                    "`{}` is not \"auto\", \"none\" or an amount like \"0.05\"",
                    self.store.cash_rounding
                ),
            );
        }
        if !is_language_tag(&self.store.locale) {
            return bad(
                "store.locale",
                format!(
                    "`{}` is not a BCP 47 language tag; expected e.g. `de-AT` or `cs-CZ`",
                    self.store.locale
                ),
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&self.log.level) {
            return bad(
                "log.level",
                format!(
                    "`{}` is not a log filter ({e}); expected e.g. `info` or `posd=debug`",
                    self.log.level
                ),
            );
        }
        if self.database.busy_timeout_ms == 0 || self.database.busy_timeout_ms > 600_000 {
            return bad(
                "database.busy_timeout_ms",
                "expected a number of milliseconds from 1 to 600000",
            );
        }
        if self.plugins.call_deadline_ms == 0 || self.plugins.call_deadline_ms > 60_000 {
            return bad(
                "plugins.call_deadline_ms",
                "expected a number of milliseconds from 1 to 60000",
            );
        }
        if let Some((k, id)) = self
            .plugins
            .order
            .iter()
            .enumerate()
            .find(|(k, id)| id.trim().is_empty() || self.plugins.order[..*k].contains(id))
        {
            return bad(
                "plugins.order",
                format!(
                    "entry {} ({id:?}) is {}; expected each plugin id once",
                    k + 1,
                    if id.trim().is_empty() {
                        "empty"
                    } else {
                        "listed twice"
                    }
                ),
            );
        }
        if let Some(dir) = self.plugins.directories.iter().find(|d| !d.is_absolute()) {
            return bad(
                "plugins.directories",
                format!("{} is not an absolute path", dir.display()),
            );
        }
        if !self
            .plugins
            .directories
            .contains(&self.plugins.install_directory)
        {
            return bad(
                "plugins.install_directory",
                format!(
                    "{} is not one of plugins.directories, so installed plugins would never load",
                    self.plugins.install_directory.display()
                ),
            );
        }
        if self.outbox.retry_first_ms == 0 || self.outbox.retry_first_ms > self.outbox.retry_cap_ms
        {
            return bad(
                "outbox.retry_first_ms",
                "expected at least 1 and at most outbox.retry_cap_ms",
            );
        }
        if self.outbox.dead_letter_after_hours == 0 {
            return bad("outbox.dead_letter_after_hours", "expected at least 1 hour");
        }
        if self.outbox.dead_letter_after_s == Some(0) {
            return bad("outbox.dead_letter_after_s", "expected at least 1 second");
        }
        let mut names = std::collections::HashSet::new();
        for (i, device) in self.devices.iter().enumerate() {
            let key = format!("devices[{i}]");
            if device.name.is_empty()
                || !device
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return bad(
                    format!("{key}.name"),
                    format!(
                        "`{}` is not a device name; expected letters, digits and `_` only",
                        device.name
                    ),
                );
            }
            if !names.insert(device.name.as_str()) {
                return bad(
                    format!("{key}.name"),
                    format!("device `{}` is declared twice", device.name),
                );
            }
            if let Err((field, reason)) = check_device(device) {
                return bad(format!("{key}.{field}"), reason);
            }
        }
        for id in self.plugin.keys() {
            if !is_identifier(id) {
                return bad(format!("plugin.{id}"), identifier_rule(id));
            }
        }
        if self.plugins.crash_limit == 0 || self.plugins.crash_limit > 1000 {
            return bad("plugins.crash_limit", "expected a number from 1 to 1000");
        }
        if self.plugins.crash_window_s == 0 {
            return bad(
                "plugins.crash_window_s",
                "expected a number of seconds above 0",
            );
        }
        let limits = |key: &str, memory: Option<u64>, cpu: Option<u64>, files: Option<u64>| {
            if memory.is_some_and(|m| !(64..=1_048_576).contains(&m)) {
                return bad(format!("{key}memory_mb"), "expected MiB from 64 to 1048576");
            }
            if cpu.is_some_and(|c| c == 0) {
                return bad(format!("{key}cpu_seconds"), "expected seconds above 0");
            }
            if files.is_some_and(|f| !(16..=1_048_576).contains(&f)) {
                return bad(
                    format!("{key}open_files"),
                    "expected a number from 16 to 1048576",
                );
            }
            Ok(())
        };
        limits(
            "plugins.",
            Some(self.plugins.memory_mb),
            Some(self.plugins.cpu_seconds),
            Some(self.plugins.open_files),
        )?;
        for (id, run) in &self.plugins.run {
            if !is_identifier(id) {
                return bad(format!("plugins.run.{id}"), identifier_rule(id));
            }
            limits(
                &format!("plugins.run.{id}."),
                run.memory_mb,
                run.cpu_seconds,
                run.open_files,
            )?;
            if let Some(path) = run.read.iter().find(|p| {
                let p = p.strip_prefix("$CREDENTIALS_DIRECTORY").unwrap_or(p);
                !p.starts_with('/')
            }) {
                return bad(
                    format!("plugins.run.{id}.read"),
                    format!(
                        "{path:?} is not an absolute path (or one under $CREDENTIALS_DIRECTORY)"
                    ),
                );
            }
            if let Err(reason) = crate::plugins::sandbox::ports(&run.network) {
                return bad(
                    format!("plugins.run.{id}.network"),
                    format!("{reason}; expected endpoints such as \"partner.example.com:443\""),
                );
            }
        }
        Ok(())
    }

    /// The increment cash is rounded to, if any.
    pub fn cash_increment(&self) -> Option<rust_decimal::Decimal> {
        use std::str::FromStr;
        match self.store.cash_rounding.as_str() {
            "none" => None,
            "auto" => match self.store.currency.as_str() {
                "CZK" => Some(rust_decimal::Decimal::ONE),
                "CHF" => rust_decimal::Decimal::from_str("0.05").ok(),
                "HUF" => Some(rust_decimal::Decimal::from(5)),
                _ => None,
            },
            other => rust_decimal::Decimal::from_str(other).ok(),
        }
    }

    /// The outbox's retry policy.
    pub fn retry_policy(&self) -> crate::outbox::RetryPolicy {
        crate::outbox::RetryPolicy {
            first: std::time::Duration::from_millis(self.outbox.retry_first_ms),
            cap: std::time::Duration::from_millis(self.outbox.retry_cap_ms),
            give_up_after: std::time::Duration::from_secs(
                self.outbox
                    .dead_letter_after_s
                    .unwrap_or(self.outbox.dead_letter_after_hours.saturating_mul(3600)),
            ),
        }
    }

    /// Minor unit (decimal places) of the configured currency.
    pub fn currency_minor_unit(&self) -> u32 {
        minor_unit_of(&self.store.currency)
    }
}

/// Decimal places of an ISO 4217 currency posd knows (2 for any other).
pub fn minor_unit_of(currency: &str) -> u32 {
    CURRENCIES
        .iter()
        .find(|(c, _)| *c == currency)
        .map_or(2, |(_, u)| *u)
}

/// Checks one device entry: its connection and that it only has keys of its kind.
fn check_device(device: &DeviceConfig) -> Result<(), (&'static str, String)> {
    match device.kind {
        DeviceKind::Scanner => {
            if let Err(e) = posd_scanner::SerialSpec::parse(&device.connection) {
                return Err((
                    "connection",
                    format!("{e}; a scanner is `serial:/dev/…?baud=9600`"),
                ));
            }
            let printer_keys = [
                ("columns", device.columns.is_some()),
                ("code_page", device.code_page.is_some()),
                ("dots_per_line", device.dots_per_line.is_some()),
                ("drawer_pin", device.drawer_pin.is_some()),
                ("drawer_pulse_ms", device.drawer_pulse_ms.is_some()),
                ("status_poll_ms", device.status_poll_ms.is_some()),
            ];
            if let Some((key, _)) = printer_keys.iter().find(|(_, set)| *set) {
                return Err((key, "only printers have this key".into()));
            }
            if device
                .inter_byte_timeout_ms
                .is_some_and(|ms| !(1..=5000).contains(&ms))
            {
                return Err((
                    "inter_byte_timeout_ms",
                    "expected a number of milliseconds from 1 to 5000".into(),
                ));
            }
        }
        DeviceKind::Printer => {
            if let Err(e) = posd_printer::Connection::parse(&device.connection) {
                return Err((
                    "connection",
                    format!(
                        "{e}; a printer is `tcp:HOST:9100`, `serial:/dev/…` or `file:/dev/usb/lp0`"
                    ),
                ));
            }
            let scanner_keys = [
                ("suffix", device.suffix.is_some()),
                ("prefix", device.prefix.is_some()),
                (
                    "inter_byte_timeout_ms",
                    device.inter_byte_timeout_ms.is_some(),
                ),
            ];
            if let Some((key, _)) = scanner_keys.iter().find(|(_, set)| *set) {
                return Err((key, "only scanners have this key".into()));
            }
            if device.columns.is_some_and(|c| ![32, 42, 48].contains(&c)) {
                return Err(("columns", "expected 32, 42 or 48".into()));
            }
            if let Err(e) = crate::devices::PrinterSettings::of(device) {
                return Err(("dots_per_line", e.to_string()));
            }
            if device.drawer_pin.is_some_and(|p| p != 2 && p != 5) {
                return Err(("drawer_pin", "expected 2 or 5".into()));
            }
            if device
                .drawer_pulse_ms
                .is_some_and(|ms| !(10..=500).contains(&ms))
            {
                return Err(("drawer_pulse_ms", "expected 10 to 500 milliseconds".into()));
            }
            if device
                .status_poll_ms
                .is_some_and(|ms| !(100..=60_000).contains(&ms))
            {
                return Err((
                    "status_poll_ms",
                    "expected 100 to 60000 milliseconds".into(),
                ));
            }
        }
    }
    Ok(())
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn identifier_rule(s: &str) -> String {
    format!("`{s}` is not an identifier; expected 1 to 64 letters, digits, `-`, `_` or `.`")
}

fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let Some(language) = parts.next() else {
        return false;
    };
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Where the configuration comes from. Tests and `--config-dir` point it elsewhere than `/etc`.
#[derive(Debug, Clone)]
pub struct ConfigSources {
    /// `/etc/posd` normally (`$CONFIGURATION_DIRECTORY` under systemd): `posd.toml` and
    /// `posd.d/*.toml` are read from it when they exist.
    pub config_dir: Option<PathBuf>,
    /// The process environment; only `POSD_*` variables are read.
    pub environment: HashMap<String, String>,
    /// `--config FILE`: must exist.
    pub explicit_file: Option<PathBuf>,
}

/// A validated configuration and the sources it was built from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The effective configuration.
    pub config: Config,
    /// Every source that contributed, in the order applied, for `--check-config` and logs.
    pub sources: Vec<String>,
}

const ENV_PREFIX: &str = "POSD_";

enum Source {
    File { path: PathBuf, text: String },
    Environment(HashMap<String, String>),
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File { path, .. } => path.display().to_string(),
            Source::Environment(_) => "environment".into(),
        }
    }

    fn add_to(
        &self,
        builder: config::ConfigBuilder<config::builder::DefaultState>,
    ) -> config::ConfigBuilder<config::builder::DefaultState> {
        match self {
            Source::File { text, .. } => {
                builder.add_source(config::File::from_str(text, config::FileFormat::Toml))
            }
            Source::Environment(vars) => builder.add_source(
                config::Environment::with_prefix("POSD")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true)
                    .source(Some(vars.clone().into_iter().collect())),
            ),
        }
    }

    /// Names the environment variable behind a key, so the technician sees what to change:
    /// the one that sets the key, else those that set something in its section (a value
    /// rule such as `plugins.install_directory` may be broken by its neighbour).
    fn describe_key(&self, key: &str) -> String {
        match self {
            Source::File { .. } => self.name(),
            Source::Environment(vars) => {
                let key_of = |variable: &str| {
                    variable
                        .strip_prefix(ENV_PREFIX)
                        .unwrap_or(variable)
                        .to_lowercase()
                        .replace("__", ".")
                };
                let mut names: Vec<&str> = vars
                    .keys()
                    .map(String::as_str)
                    .filter(|v| key_of(v) == key)
                    .collect();
                if names.is_empty() {
                    let section = key.split(['.', '[']).next().unwrap_or(key);
                    names = vars
                        .keys()
                        .map(String::as_str)
                        .filter(|v| key_of(v).split('.').next() == Some(section))
                        .collect();
                }
                names.sort_unstable();
                match names.as_slice() {
                    [] => format!("the {ENV_PREFIX}* environment variables"),
                    [one] => format!("environment variable {one}"),
                    many => format!("environment variables {}", many.join(", ")),
                }
            }
        }
    }
}

/// Reads, layers and validates the configuration.
pub fn load(sources: &ConfigSources) -> Result<LoadedConfig, ConfigError> {
    let mut layers = Vec::new();
    if let Some(dir) = &sources.config_dir {
        let main = dir.join("posd.toml");
        if let Some(text) = read_optional(&main)? {
            layers.push(Source::File { path: main, text });
        }
        for path in drop_in_files(&dir.join("posd.d"))? {
            if let Some(text) = read_optional(&path)? {
                layers.push(Source::File { path, text });
            }
        }
    }
    let env: HashMap<String, String> = sources
        .environment
        .iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !env.is_empty() {
        layers.push(Source::Environment(env));
    }
    if let Some(path) = &sources.explicit_file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        layers.push(Source::File {
            path: path.clone(),
            text,
        });
    }

    // Each source alone over the defaults: errors name their source. Files are checked with
    // the toml crate, which is strict about types (the config crate would quietly turn
    // `id = 1` into "1") and reports lines; the environment, all strings, through the config
    // crate's parsing.
    for layer in &layers {
        match layer {
            Source::File { path, text } => check_file(path, text)?,
            Source::Environment(_) => {
                build_and_check(layer.add_to(config::Config::builder()), layer)?;
            }
        }
    }

    let mut merged = config::Config::builder();
    for layer in &layers {
        merged = layer.add_to(merged);
    }
    let config = match layers.last() {
        Some(last) => build_and_check(merged, last)?,
        None => Config::default(),
    };
    let mut names = vec!["built-in defaults".to_string()];
    names.extend(layers.iter().map(Source::name));
    Ok(LoadedConfig {
        config,
        sources: names,
    })
}

fn check_file(path: &Path, text: &str) -> Result<(), ConfigError> {
    let source_name = path.display().to_string();
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax {
            source_name: source_name.clone(),
            reason: describe_syntax_error(text, &e),
        })?;
    let config: Config =
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            // The message alone: the error's Display adds "in `store`" on a line of its
            // own, and the key is named by us already.
            let (key, reason) = describe_deserialize_error(&path, e.into_inner().message());
            ConfigError::Invalid {
                source_name: source_name.clone(),
                key,
                reason,
            }
        })?;
    config
        .check_values()
        .map_err(|(key, reason)| ConfigError::Invalid {
            source_name,
            key,
            reason,
        })
}

fn build_and_check(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
    layer: &Source,
) -> Result<Config, ConfigError> {
    let built = builder.build().map_err(|e| ConfigError::Syntax {
        source_name: layer.name(),
        reason: e.to_string(),
    })?;
    let config: Config = serde_path_to_error::deserialize(built).map_err(|e| {
        let path = e.path().to_string();
        let message = match e.into_inner() {
            config::ConfigError::At { error, .. } => error.to_string(),
            other => other.to_string(),
        };
        let (key, reason) = describe_deserialize_error(&path, &message);
        ConfigError::Invalid {
            source_name: layer.describe_key(&key),
            key,
            reason,
        }
    })?;
    config
        .check_values()
        .map_err(|(key, reason)| ConfigError::Invalid {
            source_name: layer.describe_key(&key),
            key,
            reason,
        })?;
    Ok(config)
}

/// The parser's message as a person reads it: where, what, and the line with a caret under
/// the spot, each on its own line (the parser's own rendering, squashed onto one line, was
/// unreadable).
fn describe_syntax_error(text: &str, error: &toml::de::Error) -> String {
    let message = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let Some(span) = error.span() else {
        return message;
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_number = text[..line_start].matches('\n').count() + 1;
    let line = text[line_start..line_end].trim_end_matches('\r');
    let before = &text[line_start..start];
    let column = before.chars().count() + 1;
    // Tabs stay tabs under the line, so the caret lines up however the terminal shows them.
    let indent: String = before
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let gutter = " ".repeat(line_number.to_string().len());
    format!(
        "line {line_number}, column {column}: {message}\n    {line_number} | {line}\n    {gutter} | {indent}{}",
        "^".repeat(width)
    )
}

/// Turns serde's message into key and reason, the key pointing at the typo itself.
fn describe_deserialize_error(path: &str, message: &str) -> (String, String) {
    let path = if path == "." { "" } else { path };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        // serde_path_to_error usually includes the field already; not always.
        let key = if path.is_empty() {
            field.to_string()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            path.to_string()
        } else {
            format!("{path}.{field}")
        };
        return (key, format!("unknown key{expected}"));
    }
    // The config crate appends "for key `x` in source" itself; the key is ours to name.
    let reason = message
        .split(" for key `")
        .next()
        .unwrap_or(message)
        .to_string();
    let key = if path.is_empty() {
        "(top level)".into()
    } else {
        path.to_string()
    };
    (key, reason)
}

fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

fn drop_in_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ConfigError::Unreadable {
                path: dir.to_path_buf(),
                reason: e.to_string(),
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The effective configuration as TOML, for `posd --check-config`.
pub fn to_toml(config: &Config) -> String {
    toml::to_string_pretty(config).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    fn load_from(
        dir: &Path,
        env: &[(&str, &str)],
        explicit: Option<PathBuf>,
    ) -> Result<Config, ConfigError> {
        load(&ConfigSources {
            config_dir: Some(dir.to_path_buf()),
            environment: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            explicit_file: explicit,
        })
        .map(|l| l.config)
    }

    #[test]
    fn no_files_give_the_builtin_defaults() {
        let dir = dir_with(&[]);
        assert_eq!(
            load_from(dir.path(), &[], None).expect("loads"),
            Config::default()
        );
    }

    #[test]
    fn later_sources_override_earlier_ones() {
        let dir = dir_with(&[
            (
                "posd.toml",
                "[store]\nid = \"main\"\ncurrency = \"CZK\"\n[register]\nid = \"r1\"\n",
            ),
            ("posd.d/10-a.toml", "[register]\nid = \"r2\"\n"),
            (
                "posd.d/20-b.toml",
                "[register]\nid = \"r3\"\n[store]\nlocale = \"cs-CZ\"\n",
            ),
            ("posd.d/ignored.txt", "this is not toml ["),
        ]);
        let explicit = dir.path().join("explicit.toml");
        std::fs::write(&explicit, "[store]\nid = \"from-cli\"\n").expect("write");
        let env = [("POSD_REGISTER__ID", "from-env"), ("HOME", "/root")];
        let config = load_from(dir.path(), &env, Some(explicit)).expect("loads");
        assert_eq!(config.store.id, "from-cli");
        assert_eq!(config.store.currency, "CZK");
        assert_eq!(config.store.locale, "cs-CZ");
        assert_eq!(config.register.id, "from-env");
    }

    #[test]
    fn drop_ins_apply_in_name_order() {
        let dir = dir_with(&[
            ("posd.d/b.toml", "[register]\nid = \"b\"\n"),
            ("posd.d/a.toml", "[register]\nid = \"a\"\n"),
        ]);
        assert_eq!(
            load_from(dir.path(), &[], None).expect("loads").register.id,
            "b"
        );
    }

    #[test]
    fn unknown_key_names_file_and_key() {
        let dir = dir_with(&[("posd.d/50-typo.toml", "[store]\ncurreny = \"EUR\"\n")]);
        let err = load_from(dir.path(), &[], None)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("50-typo.toml"), "{err}");
        assert!(err.contains("key `store.curreny`:"), "{err}");
        assert!(err.contains("currency"), "names what was expected: {err}");
    }

    #[test]
    fn unknown_section_is_refused() {
        let dir = dir_with(&[("posd.toml", "[stor]\nid = \"x\"\n")]);
        let err = load_from(dir.path(), &[], None)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("key `stor`"), "{err}");
    }

    #[test]
    fn wrong_type_names_file_key_and_expectation() {
        let dir = dir_with(&[("posd.toml", "[database]\nbusy_timeout_ms = \"soon\"\n")]);
        let err = load_from(dir.path(), &[], None)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("posd.toml"), "{err}");
        assert!(err.contains("database.busy_timeout_ms"), "{err}");
        assert!(err.contains("integer") || err.contains("u64"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_with_the_rule() {
        let cases = [
            ("[store]\ncurrency = \"XYZ\"\n", "store.currency"),
            ("[store]\nlocale = \"German\"\n", "store.locale"),
            ("[register]\nid = \"\"\n", "register.id"),
            ("[log]\nlevel = \"posd=loud\"\n", "log.level"),
            (
                "[[devices]]\nname = \"p 1\"\nkind = \"printer\"\nconnection = \"tcp:h:9100\"\n",
                "devices[0].name",
            ),
            (
                "[[devices]]\nname = \"p1\"\nkind = \"printer\"\nconnection = \"usb:1\"\n",
                "devices[0].connection",
            ),
            (
                "[[devices]]\nname = \"p1\"\nkind = \"toaster\"\nconnection = \"tcp:h:1\"\n",
                "devices[0].kind",
            ),
            (
                "[[devices]]\nname = \"p1\"\nkind = \"printer\"\nconnection = \"tcp:h:1\"\n[[devices]]\nname = \"p1\"\nkind = \"scanner\"\nconnection = \"serial:/dev/x\"\n",
                "devices[1].name",
            ),
            (
                "[[devices]]\nname = \"s\"\nkind = \"scanner\"\nconnection = \"tcp:h:1\"\n",
                "devices[0].connection",
            ),
            (
                "[[devices]]\nname = \"s\"\nkind = \"scanner\"\nconnection = \"serial:/dev/x\"\ncolumns = 42\n",
                "devices[0].columns",
            ),
            (
                "[[devices]]\nname = \"p\"\nkind = \"printer\"\nconnection = \"tcp:h:1\"\nsuffix = \"cr\"\n",
                "devices[0].suffix",
            ),
            (
                "[[devices]]\nname = \"p\"\nkind = \"printer\"\nconnection = \"tcp:h:1\"\ncolumns = 40\n",
                "devices[0].columns",
            ),
            (
                "[[devices]]\nname = \"p\"\nkind = \"printer\"\nconnection = \"tcp:h:1\"\ncode_page = \"pc999\"\n",
                "devices[0].code_page",
            ),
            (
                "[[devices]]\nname = \"p\"\nkind = \"printer\"\nconnection = \"tcp:h:1\"\ndrawer_pin = 3\n",
                "devices[0].drawer_pin",
            ),
            (
                "[plugins]\norder = [\"promotions\", \"points\", \"promotions\"]\n",
                "plugins.order",
            ),
            ("[plugins]\norder = [\"\"]\n", "plugins.order"),
        ];
        for (text, key) in cases {
            let dir = dir_with(&[("posd.toml", text)]);
            let err = load_from(dir.path(), &[], None)
                .expect_err(text)
                .to_string();
            assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
        }
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let dir = dir_with(&[]);
        let err = load_from(dir.path(), &[("POSD_STORE__CURRENCY", "DOLLARS")], None)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("POSD_STORE"), "{err}");
        assert!(err.contains("store.currency"), "{err}");
        let err = load_from(dir.path(), &[("POSD_NOSUCH", "1")], None)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("nosuch"), "{err}");
    }

    #[test]
    fn a_number_where_text_belongs_is_a_type_error() {
        let dir = dir_with(&[("posd.toml", "[store]\nid = 1\n")]);
        let err = load_from(dir.path(), &[], None)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("key `store.id`") && err.contains("expected a string"),
            "{err}"
        );
    }

    #[test]
    fn syntax_error_names_the_file_and_line() {
        let dir = dir_with(&[("posd.toml", "[store\nid = 1\n")]);
        let err = load_from(dir.path(), &[], None)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("posd.toml") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn a_syntax_error_shows_its_line_with_a_caret_under_the_spot() {
        let text = "[store]\nid = \"S1\"\n\tlocale = de-AT\n";
        let error = text.parse::<toml::Table>().expect_err("not TOML");
        let described = describe_syntax_error(text, &error);
        let lines: Vec<&str> = described.lines().collect();
        assert_eq!(lines.len(), 3, "{described}");
        assert!(lines[0].starts_with("line 3, column 11: "), "{described}");
        assert_eq!(lines[1], "    3 | \tlocale = de-AT");
        assert_eq!(
            lines[2], "      | \t         ^^^^^",
            "carets under `de-AT`: {described}"
        );
    }

    #[test]
    fn an_environment_error_names_the_whole_variable() {
        let dir = dir_with(&[]);
        let err = load_from(
            dir.path(),
            &[
                ("POSD_DATABASE__BUSY_TIMEOUT_MS", "soon"),
                ("POSD_STORE__ID", "S1"),
            ],
            None,
        )
        .expect_err("refused")
        .to_string();
        assert!(
            err.starts_with(
                "environment variable POSD_DATABASE__BUSY_TIMEOUT_MS: key `database.busy_timeout_ms`: "
            ),
            "{err}"
        );
        let err = load_from(
            dir.path(),
            &[("POSD_PLUGINS__INSTALL_DIRECTORY", "/opt/plugins")],
            None,
        )
        .expect_err("refused")
        .to_string();
        assert!(
            err.starts_with("environment variable POSD_PLUGINS__INSTALL_DIRECTORY: "),
            "{err}"
        );
    }

    #[test]
    fn missing_explicit_file_is_an_error() {
        let dir = dir_with(&[]);
        let err = load_from(dir.path(), &[], Some(dir.path().join("nope.toml")))
            .expect_err("refused")
            .to_string();
        assert!(err.contains("nope.toml"), "{err}");
    }

    #[test]
    fn plugin_sections_are_free_form_and_round_trip() {
        let dir = dir_with(&[(
            "posd.toml",
            "[plugin.vouchers]\nprefix = \"044\"\nprogrammes = [{ name = \"gift\", months = 36 }]\n",
        )]);
        let config = load_from(dir.path(), &[], None).expect("loads");
        assert_eq!(config.plugin["vouchers"]["prefix"].as_str(), Some("044"));
        let again: Config = toml::from_str(&to_toml(&config)).expect("printed config parses");
        assert_eq!(again, config);
    }

    #[test]
    fn the_drawer_opens_for_cash_unless_told_otherwise() {
        let config = load_from(dir_with(&[]).path(), &[], None).expect("defaults");
        assert_eq!(config.receipt.open_drawer, OpenDrawer::Cash);
        let dir = dir_with(&[("posd.toml", "[receipt]\nopen_drawer = \"never\"\n")]);
        let config = load_from(dir.path(), &[], None).expect("loads");
        assert_eq!(config.receipt.open_drawer, OpenDrawer::Never);
        let dir = dir_with(&[("posd.toml", "[receipt]\nopen_drawer = \"card\"\n")]);
        let err = load_from(dir.path(), &[], None)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("receipt.open_drawer") && err.contains("always"),
            "{err}"
        );
    }

    #[test]
    fn an_outbox_dead_letter_time_in_seconds_takes_the_place_of_hours() {
        let give_up_after = |text: &str| {
            let dir = dir_with(&[("posd.toml", text)]);
            load_from(dir.path(), &[], None).map(|c| c.retry_policy().give_up_after)
        };
        assert_eq!(
            give_up_after("").expect("defaults"),
            std::time::Duration::from_secs(72 * 3600)
        );
        assert_eq!(
            give_up_after("[outbox]\ndead_letter_after_hours = 2\ndead_letter_after_s = 90\n")
                .expect("loads"),
            std::time::Duration::from_secs(90)
        );
        let err = give_up_after("[outbox]\ndead_letter_after_s = 0\n")
            .expect_err("refused")
            .to_string();
        assert!(err.contains("outbox.dead_letter_after_s"), "{err}");
    }

    #[test]
    fn documented_example_is_valid_and_complete() {
        let example = include_str!("../../systemd/posd.toml.example");
        let dir = dir_with(&[("posd.toml", example)]);
        load_from(dir.path(), &[], None).expect("the example file is a valid configuration");
        // Every key of the effective configuration is mentioned in the example.
        let printed = to_toml(&Config::default());
        for line in printed.lines() {
            if let Some((key, _)) = line.split_once(" = ") {
                assert!(
                    example.contains(key.trim()),
                    "key `{}` is not documented",
                    key.trim()
                );
            }
        }
    }
}
