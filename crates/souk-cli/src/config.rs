//! Configuration: built-in defaults, overlaid by a TOML file (`--config`), overlaid by
//! `SOUK_*` environment variables, overlaid by command-line flags; typed and validated
//! before anything starts. A bad key or value stops start-up naming the key, where it came
//! from and what was expected.
//!
//! [`OPTIONS`] is the single list of settings: it gives each one's default, its environment
//! variable and its documentation, and `souk config example` prints it. The serde structs
//! below must match it exactly (a unit test deserializes the defaults with
//! `deny_unknown_fields` and no serde defaults, so a key missing on either side fails).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use souk_http::tls::TlsProfile;
use toml::{Table, Value};

/// One setting: its dotted key, default (as TOML) and a line of documentation.
pub struct Opt {
    pub key: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
    pub secret: bool,
}

const fn opt(key: &'static str, default: &'static str, doc: &'static str) -> Opt {
    Opt { key, default, doc, secret: false }
}

const fn secret(key: &'static str, default: &'static str, doc: &'static str) -> Opt {
    Opt { key, default, doc, secret: true }
}

/// Every setting Souk reads.
pub const OPTIONS: &[Opt] = &[
    opt("server.https_addr", r#""127.0.0.1:8443""#, "Address and port of the HTTPS listener."),
    opt(
        "server.http_addr",
        r#""127.0.0.1:8080""#,
        "Address of the plain-HTTP listener that only redirects to HTTPS; empty to disable it.",
    ),
    opt(
        "server.public_url",
        r#""https://localhost:8443""#,
        "The https:// origin people reach Souk at; used for redirects and links. Passkeys need a host name, not an IP address.",
    ),
    opt(
        "server.data_dir",
        r#""./data""#,
        "Directory for the SQLite database and the local certificate authority; created with mode 0700.",
    ),
    opt(
        "server.shutdown_grace_secs",
        "30",
        "On SIGTERM or Ctrl-C, how long in-flight requests may run before connections are closed.",
    ),
    opt(
        "server.security_contact",
        r#""""#,
        "Where to report vulnerabilities (a mailto: or https: URI), published in /.well-known/security.txt; empty means mailto:security@<public host>.",
    ),
    opt(
        "tls.profile",
        r#""intermediate""#,
        "Mozilla TLS profile: \"intermediate\" (TLS 1.2 and 1.3) or \"modern\" (TLS 1.3 only).",
    ),
    opt(
        "tls.cert_path",
        r#""""#,
        "PEM certificate chain to serve; empty means a certificate for localhost issued by Souk's local CA.",
    ),
    opt("tls.key_path", r#""""#, "PEM private key of tls.cert_path."),
    secret(
        "database.url",
        r#""""#,
        "sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB; empty means SQLite at <data_dir>/souk.db.",
    ),
    opt("database.max_connections", "10", "Largest number of pooled database connections."),
    opt(
        "database.acquire_timeout_secs",
        "5",
        "How long a request waits for a free database connection before failing with 503.",
    ),
    opt("http.body_limit_bytes", "1048576", "Largest request body accepted; larger ones get 413."),
    opt("http.header_limit_bytes", "16384", "Largest total size of request headers; larger ones get 431."),
    opt("http.request_timeout_secs", "30", "Longest time a request may take before it is answered with 503."),
    opt(
        "http.header_read_timeout_secs",
        "10",
        "A client must send its request headers within this time (slow-client protection).",
    ),
    opt(
        "rate_limit.enabled",
        "true",
        "Whether per-client rate limiting is on (probes and /metrics are never limited).",
    ),
    opt(
        "rate_limit.per_second",
        "20",
        "Sustained requests per second allowed per client address (per /64 for IPv6).",
    ),
    opt("rate_limit.burst", "100", "Requests a client may send at once before the sustained rate applies."),
    opt(
        "log.format",
        r#""human""#,
        "Log format: \"human\" or \"json\" (one object per line, for log shippers).",
    ),
    opt(
        "log.level",
        r#""info""#,
        "Log filter in tracing's syntax, e.g. \"info\" or \"warn,souk_http=debug\".",
    ),
    opt("demo.load_on_empty", "true", "Load the demo marketplace when the catalog is empty at start-up."),
    secret(
        "metrics.token",
        r#""""#,
        "Bearer token required to read /metrics; empty means only loopback clients may.",
    ),
    opt(
        "keys.provider",
        r#""file""#,
        "Where master keys come from: \"file\" (key files, created on first start) or \"env\" (keys.master_keys).",
    ),
    opt(
        "keys.dir",
        r#""""#,
        "Directory of master key files (mode 0700, files 0600); empty means <data_dir>/keys.",
    ),
    secret(
        "keys.master_keys",
        r#""""#,
        "With keys.provider = \"env\": VERSION:BASE64 entries, comma-separated (`souk keys generate` makes one).",
    ),
    opt(
        "http.trusted_proxies",
        r#""""#,
        "Reverse proxies (CIDR networks, comma-separated) whose X-Forwarded-For is believed; empty means none.",
    ),
    opt(
        "audit.checkpoint_interval_secs",
        "60",
        "How often the server signs a checkpoint of the audit log when it has grown.",
    ),
    secret(
        "mail.smtp_url",
        r#""""#,
        "SMTP relay: smtps://USER:PASS@HOST:465 or smtp://USER:PASS@HOST:587?tls=required (plain smtp:// only to loopback); empty writes mail to <data_dir>/mail-outbox, shown at /dev/mail to loopback clients.",
    ),
    opt("mail.from", r#""Souk <no-reply@localhost>""#, "Sender address of the mail Souk sends."),
    opt(
        "identity.password_min_length",
        "15",
        "Shortest password accepted when it is the account's only factor (NIST SP 800-63B rev 4: 15).",
    ),
    opt(
        "identity.password_min_length_with_mfa",
        "8",
        "Shortest password accepted when the account has a passkey or TOTP (NIST: 8).",
    ),
    opt("identity.password_min_score", "3", "Lowest zxcvbn score (0-4) a new password must reach."),
    opt(
        "identity.argon2_memory_kib",
        "19456",
        "argon2id memory per hash in KiB (OWASP minimum 19456); raising it rehashes passwords at next sign-in.",
    ),
    opt("identity.argon2_passes", "2", "argon2id passes (OWASP minimum 2 at 19 MiB)."),
    opt(
        "identity.sellers_need_mfa",
        "true",
        "Sellers must enrol a passkey or TOTP before they can manage their shop.",
    ),
    opt("identity.staff_need_passkey", "true", "Staff must sign in with a passkey."),
    opt(
        "identity.login_per_address_per_minute",
        "20",
        "Sign-in attempts per minute from one client address (IPv6: /64), checked before any password hashing.",
    ),
    opt(
        "identity.password_hash_concurrency",
        "0",
        "Password hashes computed at once; 0 means one fewer than the CPU cores (at least 1), so sign-in floods leave a core for other requests.",
    ),
    opt(
        "identity.login_per_network_per_minute",
        "120",
        "Sign-in attempts per minute from one network (IPv4 /24, IPv6 /48), checked before any hashing.",
    ),
    opt("market.currency", r#""EUR""#, "The ISO 4217 currency the marketplace prices and sells in."),
    opt(
        "market.unverified_max_active_listings",
        "5",
        "How many listings a shop that is not verified may have active at once.",
    ),
    opt(
        "market.unverified_max_order_minor",
        "50000",
        "The largest order (items and shipping, in minor units) a shop that is not verified may take.",
    ),
    opt("market.unverified_payouts_held", "true", "Hold the payouts of shops that are not verified."),
    opt(
        "market.platform_fee_bps",
        "1000",
        "The platform's commission on each order's items, in basis points (1000 = 10 %); shown to sellers only.",
    ),
    opt(
        "market.dispute_window_days",
        "14",
        "Days after delivery during which a buyer may open a dispute; the order completes after.",
    ),
    opt(
        "market.auto_confirm_days",
        "21",
        "Days after shipping after which an order the buyer never confirmed counts as delivered.",
    ),
    opt(
        "market.prohibited_keywords",
        r#""counterfeit,replica,fake designer,ivory,rhino horn,firearm,ammunition,explosive,cocaine,heroin,fentanyl,stolen,human remains""#,
        "Comma-separated words and phrases no listing may contain (whole words, any case).",
    ),
    secret(
        "payments.vault_database_url",
        r#""""#,
        "The card vault's own database; empty means <data_dir>/vault.db on SQLite, or the marketplace's PostgreSQL in the schema payments.vault_schema.",
    ),
    opt(
        "payments.vault_schema",
        r#""souk_vault""#,
        "The PostgreSQL schema of the card vault's tables (never the marketplace's schema).",
    ),
    opt(
        "payments.vault_keys_dir",
        r#""""#,
        "The card vault's own master key directory; empty means <data_dir>/vault-keys (never the marketplace's keys).",
    ),
    opt(
        "payments.simulator_latency_ms",
        "0",
        "Milliseconds the payment simulator adds to every processor call, like a real round trip.",
    ),
    opt(
        "payments.connector_timeout_secs",
        "30",
        "How long the vault waits for the processor before the payment's outcome counts as unknown (reconciled later).",
    ),
    opt(
        "payments.vault_url",
        r#""""#,
        "A card vault in its own process (`souk vault serve`), e.g. https://127.0.0.1:8444; empty runs the vault inside this process.",
    ),
    opt(
        "payments.vault_client_dir",
        r#""""#,
        "With payments.vault_url: the directory holding vault-ca.pem, marketplace.pem, marketplace-key.pem and marketplace.credential, as `souk vault certs` writes them.",
    ),
    opt(
        "payments.vault_tokenize_per_minute",
        "10",
        "Cards one account may store in the vault per minute (a burst of half as many): card testing starts here. Raise it only for load tests.",
    ),
    opt(
        "payments.vault_authorize_per_minute",
        "20",
        "Payments one account may send through the vault per minute (a burst of half as many). Raise it only for load tests.",
    ),
    opt(
        "payments.first_account_hold_days",
        "7",
        "Days payouts wait after a shop sets its first bank account while it is owed money (a replacement always waits 7 days).",
    ),
    opt(
        "payments.reconcile_interval_secs",
        "60",
        "Seconds between rounds that ask the vault about checkout payments whose outcome is unknown.",
    ),
    opt(
        "webhooks.allow_private_destinations",
        "false",
        "DEVELOPMENT ONLY: let webhook endpoints use plain http and loopback, private or link-local addresses. Opens the SSRF guard; Souk logs a warning at start when it is on.",
    ),
    opt("webhooks.timeout_secs", "10", "How long one webhook delivery may take (connect, send, answer)."),
    opt(
        "webhooks.max_attempts",
        "12",
        "Attempts of a webhook delivery before it is given up and its endpoint disabled (with the default retry, about three days).",
    ),
    opt(
        "webhooks.first_retry_secs",
        "60",
        "The wait after a delivery's first failure; it doubles after each, up to a day, less up to half at random.",
    ),
    opt(
        "webhooks.poll_interval_ms",
        "1000",
        "How often the delivery worker looks for due webhook deliveries.",
    ),
    opt(
        "webhooks.extra_roots_file",
        r#""""#,
        "A PEM file of certificate authorities trusted for webhook destinations besides the public web PKI (a private CA); empty for none.",
    ),
    opt(
        "risk.model",
        r#""""#,
        "A fraud model file (from `souk risk train`) that scores every risk decision; empty: rules only, and rules on :risk_score: never match.",
    ),
];

/// The environment variable of a key: `server.https_addr` → `SOUK_SERVER_HTTPS_ADDR`.
#[must_use]
pub fn env_name(key: &str) -> String {
    format!("SOUK_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Environment variables with this prefix belong to the test suite, not to the server.
const RESERVED_ENV_PREFIX: &str = "SOUK_TEST_";

/// A setting could not be used.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub key: String,
    pub source_name: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source_name, self.message)
        } else {
            write!(f, "setting `{}` (from {}): {}", self.key, self.source_name, self.message)
        }
    }
}

fn err(key: &str, source: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { key: key.to_owned(), source_name: source.to_owned(), message: message.into() }
}

/// The sources to read, in increasing precedence after the defaults.
#[derive(Debug, Default)]
pub struct Sources {
    pub file: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    /// Command-line overrides: (key, value as text).
    pub flags: Vec<(&'static str, String)>,
}

/// The settings as read, before validation. Field names are the keys of [`OPTIONS`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    server: RawServer,
    tls: RawTls,
    database: RawDatabase,
    http: RawHttp,
    rate_limit: RawRateLimit,
    log: RawLog,
    demo: RawDemo,
    metrics: RawMetrics,
    keys: RawKeys,
    audit: RawAudit,
    mail: RawMail,
    identity: RawIdentity,
    market: RawMarket,
    payments: RawPayments,
    webhooks: RawWebhooks,
    risk: RawRisk,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhooks {
    allow_private_destinations: bool,
    timeout_secs: u64,
    max_attempts: u64,
    first_retry_secs: u64,
    poll_interval_ms: u64,
    extra_roots_file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRisk {
    model: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayments {
    vault_database_url: SecretString,
    vault_schema: String,
    vault_keys_dir: String,
    simulator_latency_ms: u64,
    connector_timeout_secs: u64,
    vault_tokenize_per_minute: u64,
    vault_authorize_per_minute: u64,
    vault_url: String,
    vault_client_dir: String,
    first_account_hold_days: u64,
    reconcile_interval_secs: u64,
}

/// Where the card vault keeps its cards and keys, and how payments reach the processor.
#[derive(Debug, Clone)]
pub struct PaymentsConfig {
    /// The vault's own database; `None`: `vault.db` in the data directory on SQLite, the
    /// marketplace's PostgreSQL (schema [`Self::vault_schema`]) otherwise.
    pub vault_database_url: Option<SecretString>,
    pub vault_schema: String,
    /// The vault's own master keys (never the marketplace's).
    pub vault_keys_dir: PathBuf,
    pub simulator_latency: Duration,
    pub connector_timeout: Duration,
    /// How often payments of unknown outcome are reconciled with the vault.
    pub reconcile_interval: Duration,
    /// Per account and minute: cards stored, payments sent (bursts of half as many).
    pub vault_tokenize_per_minute: u32,
    pub vault_authorize_per_minute: u32,
    /// A vault in its own process, reached over mutual TLS; `None`: in this process.
    pub remote_vault: Option<RemoteVaultSettings>,
}

/// Where the vault process listens and where this marketplace's client identity lives.
#[derive(Debug, Clone)]
pub struct RemoteVaultSettings {
    pub url: String,
    pub client_dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarket {
    currency: String,
    unverified_max_active_listings: u32,
    unverified_max_order_minor: i64,
    unverified_payouts_held: bool,
    platform_fee_bps: u32,
    dispute_window_days: u64,
    auto_confirm_days: u64,
    prohibited_keywords: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    smtp_url: SecretString,
    from: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools, reason = "mirrors independent on/off settings")]
struct RawIdentity {
    password_min_length: u32,
    password_min_length_with_mfa: u32,
    password_min_score: u8,
    argon2_memory_kib: u32,
    argon2_passes: u32,
    sellers_need_mfa: bool,
    staff_need_passkey: bool,
    login_per_address_per_minute: u32,
    login_per_network_per_minute: u32,
    password_hash_concurrency: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    provider: String,
    dir: String,
    master_keys: SecretString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    checkpoint_interval_secs: u64,
}

/// Where master keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    Files(PathBuf),
    Env(SecretString),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    https_addr: String,
    http_addr: String,
    public_url: String,
    data_dir: String,
    shutdown_grace_secs: u64,
    security_contact: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    profile: String,
    cert_path: String,
    key_path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: SecretString,
    max_connections: u32,
    acquire_timeout_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    trusted_proxies: String,
    body_limit_bytes: u64,
    header_limit_bytes: u64,
    request_timeout_secs: u64,
    header_read_timeout_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    enabled: bool,
    per_second: u32,
    burst: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
    level: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDemo {
    load_on_empty: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    token: SecretString,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Validated settings. Secrets stay wrapped; `Debug` never shows them.
#[derive(Debug, Clone)]
pub struct Config {
    /// The marketplace's settings (currency, limits for unverified shops, fees, windows).
    pub market: souk_core::market::MarketConfig,
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    /// Origin without a trailing slash.
    pub public_url: String,
    pub public_host: String,
    pub data_dir: PathBuf,
    pub shutdown_grace: Duration,
    pub security_contact: String,
    pub tls_profile: TlsProfile,
    /// Operator-supplied certificate and key; `None` means the local CA issues one.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    pub database_url: SecretString,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub body_limit_bytes: usize,
    pub header_limit_bytes: usize,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    pub rate_limit: Option<souk_http::RateLimitConfig>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub demo_on_empty: bool,
    pub metrics_token: Option<SecretString>,
    pub trusted_proxies: Vec<souk_http::Cidr>,
    pub keys: KeySource,
    pub checkpoint_interval: Duration,
    /// SMTP relay URL; `None` writes mail to the outbox folder.
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    pub identity: souk_core::identity::IdentityConfig,
    pub payments: PaymentsConfig,
    pub webhooks: souk_core::webhooks::WebhookConfig,
    /// The fraud model file loaded at start, if any.
    pub risk_model: Option<PathBuf>,
}

impl Config {
    /// Reads and validates configuration from `sources`.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut merged = defaults();
        if let Some(path) = &sources.file {
            let shown = format!("file {}", path.display());
            let text =
                std::fs::read_to_string(path).map_err(|e| err("", &shown, format!("cannot read it: {e}")))?;
            let table: Table =
                text.parse().map_err(|e: toml::de::Error| err("", &shown, format!("not valid TOML: {e}")))?;
            overlay_file(&mut merged, &table, &shown)?;
        }
        for (name, value) in &sources.env {
            if !name.starts_with("SOUK_") || name.starts_with(RESERVED_ENV_PREFIX) {
                continue;
            }
            let shown = format!("environment variable {name}");
            let opt = OPTIONS.iter().find(|o| env_name(o.key) == *name).ok_or_else(|| {
                err("", &shown, format!("no such setting; known variables: {}", known_env_names()))
            })?;
            set(&mut merged, opt, parse_text(opt, value, &shown)?);
        }
        for (key, value) in &sources.flags {
            let shown = format!("command-line flag for {key}");
            let opt =
                OPTIONS.iter().find(|o| o.key == *key).ok_or_else(|| err(key, &shown, "no such setting"))?;
            set(&mut merged, opt, parse_text(opt, value, &shown)?);
        }
        let raw: Raw = Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| err("", "the merged configuration", e.message().to_owned()))?;
        validate(raw, sources)
    }

    /// The database URL to use (the configured one, or SQLite in the data directory).
    #[must_use]
    pub fn effective_database_url(&self) -> SecretString {
        if self.database_url.expose_secret().is_empty() {
            let path = self.data_dir.join("souk.db");
            SecretString::from(format!("sqlite://{}", path.display()))
        } else {
            self.database_url.clone()
        }
    }
}

/// The defaults, as a TOML table built from [`OPTIONS`].
fn defaults() -> Table {
    let mut table = Table::new();
    for o in OPTIONS {
        let value: Value = format!("v = {}", o.default)
            .parse::<Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or(Value::String(String::new()));
        set(&mut table, o, value);
    }
    table
}

fn set(table: &mut Table, opt: &Opt, value: Value) {
    let (section, key) = opt.key.split_once('.').unwrap_or(("", opt.key));
    if let Value::Table(t) = table.entry(section).or_insert_with(|| Value::Table(Table::new())) {
        t.insert(key.to_owned(), value);
    }
}

fn default_of(opt: &Opt) -> Option<Value> {
    let (section, key) = opt.key.split_once('.')?;
    defaults().get(section)?.get(key).cloned()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Boolean(_) => "true or false",
        Value::Float(_) => "a number",
        _ => "a table or array",
    }
}

fn overlay_file(merged: &mut Table, file: &Table, shown: &str) -> Result<(), ConfigError> {
    for (section, inner) in file {
        let Value::Table(inner) = inner else {
            return Err(err(
                section,
                shown,
                "expected a [section] table; settings live in sections like [server]",
            ));
        };
        for (key, value) in inner {
            let full = format!("{section}.{key}");
            let opt = OPTIONS
                .iter()
                .find(|o| o.key == full)
                .ok_or_else(|| err(&full, shown, format!("unknown setting{}", suggestion(&full))))?;
            let expected = default_of(opt).unwrap_or(Value::String(String::new()));
            if std::mem::discriminant(&expected) != std::mem::discriminant(value) {
                return Err(err(
                    &full,
                    shown,
                    format!("expected {}, got {}", type_name(&expected), type_name(value)),
                ));
            }
            if value.as_integer().is_some_and(|n| n < 0 || n > i64::from(u32::MAX)) {
                return Err(err(&full, shown, format!("expected a whole number from 0 to {}", u32::MAX)));
            }
            set(merged, opt, value.clone());
        }
    }
    Ok(())
}

fn parse_text(opt: &Opt, text: &str, shown: &str) -> Result<Value, ConfigError> {
    match default_of(opt) {
        Some(Value::Integer(_)) => {
            text.trim().parse::<u32>().map(|n| Value::Integer(i64::from(n))).map_err(|_| {
                err(opt.key, shown, format!("expected a whole number from 0 to {}, got {text:?}", u32::MAX))
            })
        }
        Some(Value::Boolean(_)) => match text.trim() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err(err(opt.key, shown, format!("expected true or false, got {text:?}"))),
        },
        _ => Ok(Value::String(text.to_owned())),
    }
}

fn suggestion(key: &str) -> String {
    let best = OPTIONS.iter().map(|o| (edit_distance(o.key, key), o.key)).min();
    match best {
        Some((d, k)) if d <= 3 => format!("; did you mean {k}?"),
        _ => String::new(),
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row.first().copied().unwrap_or(i);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let left = row.get(j).copied().unwrap_or(usize::MAX);
            let value = (diagonal + usize::from(ca != *cb)).min(above + 1).min(left + 1);
            diagonal = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = value;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

fn known_env_names() -> String {
    OPTIONS.iter().map(|o| env_name(o.key)).collect::<Vec<_>>().join(", ")
}

/// Where a key's final value came from, for error messages.
fn origin(key: &str, sources: &Sources) -> String {
    if let Some((k, _)) = sources.flags.iter().rev().find(|(k, _)| *k == key) {
        return format!("command-line flag for {k}");
    }
    let env = env_name(key);
    if sources.env.iter().any(|(n, _)| *n == env) {
        return format!("environment variable {env}");
    }
    if let Some(path) = &sources.file {
        return format!("file {} or its default", path.display());
    }
    "the default".to_owned()
}

/// The remote vault settings: both or neither; the URL is https.
fn remote_vault(p: &RawPayments, sources: &Sources) -> Result<Option<RemoteVaultSettings>, ConfigError> {
    let url = p.vault_url.trim();
    let dir = p.vault_client_dir.trim();
    match (url.is_empty(), dir.is_empty()) {
        (true, true) => Ok(None),
        (false, true) => Err(err(
            "payments.vault_client_dir",
            &origin("payments.vault_client_dir", sources),
            "is needed with payments.vault_url (the marketplace's client certificate and credential)",
        )),
        (true, false) => Err(err(
            "payments.vault_url",
            &origin("payments.vault_url", sources),
            "is needed with payments.vault_client_dir",
        )),
        (false, false) => {
            let parsed = url::Url::parse(url).ok().filter(|u| u.scheme() == "https" && u.host().is_some());
            if parsed.is_none() {
                return Err(err(
                    "payments.vault_url",
                    &origin("payments.vault_url", sources),
                    "expected an https:// URL of the vault process",
                ));
            }
            Ok(Some(RemoteVaultSettings {
                url: url.trim_end_matches('/').to_owned(),
                client_dir: PathBuf::from(dir),
            }))
        }
    }
}

fn positive(key: &str, n: u64, sources: &Sources) -> Result<u64, ConfigError> {
    if n == 0 { Err(err(key, &origin(key, sources), "must be greater than 0")) } else { Ok(n) }
}

fn addr(key: &str, text: &str, sources: &Sources) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        err(
            key,
            &origin(key, sources),
            format!("expected an IP address and port like 127.0.0.1:8443, got {text:?}"),
        )
    })
}

#[expect(clippy::too_many_lines, reason = "one check per setting, in the order of OPTIONS")]
fn validate(raw: Raw, sources: &Sources) -> Result<Config, ConfigError> {
    let o = |k: &str| origin(k, sources);
    let https_addr = addr("server.https_addr", &raw.server.https_addr, sources)?;
    let http_addr = match raw.server.http_addr.trim() {
        "" => None,
        text => Some(addr("server.http_addr", text, sources)?),
    };
    let public = url::Url::parse(&raw.server.public_url)
        .ok()
        .filter(|u| u.scheme() == "https" && u.host_str().is_some() && u.path() == "/" && u.query().is_none())
        .ok_or_else(|| {
            err(
                "server.public_url",
                &o("server.public_url"),
                format!(
                    "expected an https:// origin like https://localhost:8443 (no path), got {:?}",
                    raw.server.public_url
                ),
            )
        })?;
    let public_host = public.host_str().unwrap_or("localhost").trim_matches(['[', ']']).to_owned();
    let public_url = public.as_str().trim_end_matches('/').to_owned();
    if raw.server.data_dir.trim().is_empty() {
        return Err(err("server.data_dir", &o("server.data_dir"), "must not be empty"));
    }
    let security_contact = match raw.server.security_contact.trim() {
        "" => format!("mailto:security@{public_host}"),
        c if c.starts_with("mailto:") || c.starts_with("https://") => c.to_owned(),
        c => {
            return Err(err(
                "server.security_contact",
                &o("server.security_contact"),
                format!("expected a mailto: or https: URI, got {c:?}"),
            ));
        }
    };
    let tls_profile = match raw.tls.profile.as_str() {
        "intermediate" => TlsProfile::Intermediate,
        "modern" => TlsProfile::Modern,
        other => {
            return Err(err(
                "tls.profile",
                &o("tls.profile"),
                format!("expected \"intermediate\" or \"modern\", got {other:?}"),
            ));
        }
    };
    let tls_files = match (raw.tls.cert_path.trim(), raw.tls.key_path.trim()) {
        ("", "") => None,
        (c, k) if !c.is_empty() && !k.is_empty() => Some((PathBuf::from(c), PathBuf::from(k))),
        _ => {
            return Err(err(
                "tls.cert_path",
                &o("tls.cert_path"),
                "tls.cert_path and tls.key_path must be set together",
            ));
        }
    };
    let url = raw.database.url.expose_secret();
    if !url.is_empty() {
        souk_store::Backend::from_url(url)
            .map_err(|e| err("database.url", &o("database.url"), e.to_string()))?;
    }
    let rate_limit = raw.rate_limit.enabled.then_some(souk_http::RateLimitConfig {
        per_second: u32::try_from(positive(
            "rate_limit.per_second",
            raw.rate_limit.per_second.into(),
            sources,
        )?)
        .unwrap_or(u32::MAX),
        burst: u32::try_from(positive("rate_limit.burst", raw.rate_limit.burst.into(), sources)?)
            .unwrap_or(u32::MAX),
    });
    let log_format = match raw.log.format.as_str() {
        "human" => LogFormat::Human,
        "json" => LogFormat::Json,
        other => {
            return Err(err(
                "log.format",
                &o("log.format"),
                format!("expected \"human\" or \"json\", got {other:?}"),
            ));
        }
    };
    tracing_subscriber::EnvFilter::try_new(&raw.log.level)
        .map_err(|e| err("log.level", &o("log.level"), format!("not a valid filter: {e}")))?;
    let to_usize = |key: &str, n: u64| -> Result<usize, ConfigError> {
        usize::try_from(positive(key, n, sources)?).map_err(|_| err(key, &origin(key, sources), "too large"))
    };
    let token = raw.metrics.token.expose_secret();
    let data_dir = PathBuf::from(&raw.server.data_dir);
    let keys = match raw.keys.provider.as_str() {
        "file" if raw.keys.dir.trim().is_empty() => KeySource::Files(data_dir.join("keys")),
        "file" => KeySource::Files(PathBuf::from(raw.keys.dir.trim())),
        "env" if raw.keys.master_keys.expose_secret().trim().is_empty() => {
            return Err(err(
                "keys.master_keys",
                &o("keys.master_keys"),
                "keys.provider is \"env\" but no master key is set (SOUK_KEYS_MASTER_KEYS)",
            ));
        }
        "env" => KeySource::Env(raw.keys.master_keys.clone()),
        other => {
            return Err(err(
                "keys.provider",
                &o("keys.provider"),
                format!("expected \"file\" or \"env\", got {other:?}"),
            ));
        }
    };
    let trusted_proxies = raw
        .http
        .trusted_proxies
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::parse::<souk_http::Cidr>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err("http.trusted_proxies", &o("http.trusted_proxies"), e.to_string()))?;
    let smtp_url = (!raw.mail.smtp_url.expose_secret().trim().is_empty()).then(|| raw.mail.smtp_url.clone());
    if let Some(url) = &smtp_url {
        souk_core::mail::Mailer::smtp(url, &raw.mail.from)
            .map_err(|e| err("mail.smtp_url", &o("mail.smtp_url"), e.to_string()))?;
    }
    if !souk_core::mail::valid_sender(&raw.mail.from) {
        return Err(err(
            "mail.from",
            &o("mail.from"),
            "expected an address like \"Souk <no-reply@shop.example>\"",
        ));
    }
    let id = &raw.identity;
    if id.password_min_length < 8 || id.password_min_length_with_mfa < 8 {
        return Err(err(
            "identity.password_min_length",
            &o("identity.password_min_length"),
            "NIST SP 800-63B requires at least 8 characters in every case",
        ));
    }
    if id.password_min_score > 4 {
        return Err(err("identity.password_min_score", &o("identity.password_min_score"), "expected 0 to 4"));
    }
    if id.argon2_memory_kib < 19_456 || id.argon2_passes < 2 {
        return Err(err(
            "identity.argon2_memory_kib",
            &o("identity.argon2_memory_kib"),
            "below OWASP's minimum for argon2id (19456 KiB, 2 passes)",
        ));
    }
    let identity = souk_core::identity::IdentityConfig {
        public_url: public_url.clone(),
        password_policy: souk_core::identity::PasswordPolicy {
            min_single_factor: id.password_min_length as usize,
            min_with_mfa: id.password_min_length_with_mfa as usize,
            max: 128,
            min_score: id.password_min_score,
        },
        argon_memory_kib: id.argon2_memory_kib,
        argon_passes: id.argon2_passes,
        argon_lanes: 1,
        pepper: true,
        verify_link_ttl: Duration::from_hours(24),
        reset_link_ttl: Duration::from_mins(30),
        sellers_need_mfa: id.sellers_need_mfa,
        staff_need_passkey: id.staff_need_passkey,
        login_per_address_per_minute: u32::try_from(positive(
            "identity.login_per_address_per_minute",
            id.login_per_address_per_minute.into(),
            sources,
        )?)
        .unwrap_or(u32::MAX),
        login_per_network_per_minute: u32::try_from(positive(
            "identity.login_per_network_per_minute",
            id.login_per_network_per_minute.into(),
            sources,
        )?)
        .unwrap_or(u32::MAX),
        hash_concurrency: usize::try_from(id.password_hash_concurrency).unwrap_or(1),
    };
    let mut market = market_config(&raw.market, sources)?;
    market.first_bank_account_hold =
        Duration::from_hours(raw.payments.first_account_hold_days.saturating_mul(24));
    let vault_url = raw.payments.vault_database_url.expose_secret().trim().to_owned();
    let vault_schema = raw.payments.vault_schema.trim().to_owned();
    if vault_schema.is_empty()
        || !vault_schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        || vault_schema == "public"
    {
        return Err(err(
            "payments.vault_schema",
            &o("payments.vault_schema"),
            "expected a schema name of a-z, 0-9 and _ other than \"public\"",
        ));
    }
    let payments = PaymentsConfig {
        vault_database_url: (!vault_url.is_empty()).then(|| SecretString::from(vault_url)),
        vault_schema,
        vault_keys_dir: match raw.payments.vault_keys_dir.trim() {
            "" => data_dir.join(souk_vault::VaultDatabase::DEFAULT_KEYS_DIR),
            dir => PathBuf::from(dir),
        },
        simulator_latency: Duration::from_millis(raw.payments.simulator_latency_ms),
        connector_timeout: Duration::from_secs(positive(
            "payments.connector_timeout_secs",
            raw.payments.connector_timeout_secs,
            sources,
        )?),
        vault_tokenize_per_minute: u32::try_from(positive(
            "payments.vault_tokenize_per_minute",
            raw.payments.vault_tokenize_per_minute,
            sources,
        )?)
        .unwrap_or(u32::MAX),
        vault_authorize_per_minute: u32::try_from(positive(
            "payments.vault_authorize_per_minute",
            raw.payments.vault_authorize_per_minute,
            sources,
        )?)
        .unwrap_or(u32::MAX),
        remote_vault: remote_vault(&raw.payments, sources)?,
        reconcile_interval: Duration::from_secs(positive(
            "payments.reconcile_interval_secs",
            raw.payments.reconcile_interval_secs,
            sources,
        )?),
    };
    let risk_model = match raw.risk.model.trim() {
        "" => None,
        path => Some(PathBuf::from(path)),
    };
    let webhooks = webhooks_config(&raw.webhooks, sources)?;
    Ok(Config {
        market,
        payments,
        webhooks,
        risk_model,
        smtp_url,
        mail_from: raw.mail.from,
        identity,
        trusted_proxies,
        keys,
        checkpoint_interval: Duration::from_secs(positive(
            "audit.checkpoint_interval_secs",
            raw.audit.checkpoint_interval_secs,
            sources,
        )?),
        https_addr,
        http_addr,
        public_url,
        public_host,
        data_dir: PathBuf::from(raw.server.data_dir),
        shutdown_grace: Duration::from_secs(raw.server.shutdown_grace_secs),
        security_contact,
        tls_profile,
        tls_files,
        max_connections: u32::try_from(positive(
            "database.max_connections",
            raw.database.max_connections.into(),
            sources,
        )?)
        .unwrap_or(u32::MAX),
        acquire_timeout: Duration::from_secs(positive(
            "database.acquire_timeout_secs",
            raw.database.acquire_timeout_secs,
            sources,
        )?),
        database_url: raw.database.url,
        body_limit_bytes: to_usize("http.body_limit_bytes", raw.http.body_limit_bytes)?,
        header_limit_bytes: to_usize("http.header_limit_bytes", raw.http.header_limit_bytes)?,
        request_timeout: Duration::from_secs(positive(
            "http.request_timeout_secs",
            raw.http.request_timeout_secs,
            sources,
        )?),
        header_read_timeout: Duration::from_secs(positive(
            "http.header_read_timeout_secs",
            raw.http.header_read_timeout_secs,
            sources,
        )?),
        rate_limit,
        log_format,
        log_level: raw.log.level,
        demo_on_empty: raw.demo.load_on_empty,
        metrics_token: (!token.is_empty()).then(|| raw.metrics.token.clone()),
    })
}

/// `souk config example`: every option with its default and documentation, as TOML that
/// loads as-is.
#[must_use]
pub fn example() -> String {
    let mut by_section: BTreeMap<&str, Vec<&Opt>> = BTreeMap::new();
    let order: Vec<&str> = OPTIONS.iter().filter_map(|o| o.key.split_once('.').map(|(s, _)| s)).collect();
    for o in OPTIONS {
        by_section.entry(o.key.split_once('.').map_or("", |(s, _)| s)).or_default().push(o);
    }
    let mut out = String::from(
        "# Souk configuration. Every setting is shown with its default.\n\
         # Each can also be set by an environment variable (named after it) or, for some, a flag.\n",
    );
    let mut seen = Vec::new();
    for section in order {
        if seen.contains(&section) {
            continue;
        }
        seen.push(section);
        let _ = write!(out, "\n[{section}]\n");
        for o in by_section.get(section).into_iter().flatten() {
            let key = o.key.split_once('.').map_or(o.key, |(_, k)| k);
            let secret_note = if o.secret { " Secret: prefer the environment variable." } else { "" };
            let _ = write!(out, "# {}{secret_note} Env: {}\n{key} = {}\n", o.doc, env_name(o.key), o.default);
        }
    }
    out
}

/// Whether `path`'s permissions let anyone but the owner read it.
#[must_use]
pub fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

fn webhooks_config(
    w: &RawWebhooks,
    sources: &Sources,
) -> Result<souk_core::webhooks::WebhookConfig, ConfigError> {
    use rustls_pki_types::pem::PemObject as _;
    let mut extra_roots = Vec::new();
    let file = w.extra_roots_file.trim();
    if !file.is_empty() {
        let key = "webhooks.extra_roots_file";
        let pem = std::fs::read(file)
            .map_err(|e| err(key, &origin(key, sources), format!("cannot read {file}: {e}")))?;
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|_| err(key, &origin(key, sources), "not a PEM certificate file"))?;
            extra_roots.push(cert.as_ref().to_vec());
        }
        if extra_roots.is_empty() {
            return Err(err(key, &origin(key, sources), "the file holds no certificate"));
        }
    }
    Ok(souk_core::webhooks::WebhookConfig {
        allow_private_destinations: w.allow_private_destinations,
        timeout: Duration::from_secs(positive("webhooks.timeout_secs", w.timeout_secs, sources)?),
        max_attempts: u32::try_from(positive("webhooks.max_attempts", w.max_attempts, sources)?)
            .unwrap_or(u32::MAX),
        first_retry: Duration::from_secs(positive("webhooks.first_retry_secs", w.first_retry_secs, sources)?),
        poll_interval: Duration::from_millis(positive(
            "webhooks.poll_interval_ms",
            w.poll_interval_ms,
            sources,
        )?),
        extra_roots,
    })
}

fn market_config(m: &RawMarket, sources: &Sources) -> Result<souk_core::market::MarketConfig, ConfigError> {
    let o = |k: &str| origin(k, sources);
    let err = |key: &str, message: &str| ConfigError {
        key: key.to_owned(),
        source_name: o(key),
        message: message.to_owned(),
    };
    let currency =
        souk_domain::Currency::from_code(&m.currency).map_err(|e| err("market.currency", &e.to_string()))?;
    if m.platform_fee_bps > 5_000 {
        return Err(err("market.platform_fee_bps", "a commission above 50 % (5000) is refused as a typo"));
    }
    if m.unverified_max_order_minor < 0 {
        return Err(err("market.unverified_max_order_minor", "must not be negative"));
    }
    Ok(souk_core::market::MarketConfig {
        currency,
        unverified_max_active_listings: m.unverified_max_active_listings,
        unverified_max_order_minor: m.unverified_max_order_minor,
        unverified_payouts_held: m.unverified_payouts_held,
        platform_fee_bps: m.platform_fee_bps,
        invitation_ttl: Duration::from_hours(7 * 24),
        prohibited_keywords: m
            .prohibited_keywords
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect(),
        dispute_window: Duration::from_hours(m.dispute_window_days.saturating_mul(24)),
        auto_confirm_after: Duration::from_hours(m.auto_confirm_days.saturating_mul(24)),
        // Set from `payments.first_account_hold_days` by the caller.
        first_bank_account_hold: Duration::from_hours(7 * 24),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_toml(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("souk.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&Sources { file: Some(path), ..Sources::default() })
    }

    #[test]
    fn defaults_deserialize_into_the_structs_exactly() {
        let c = Config::load(&Sources::default()).unwrap();
        assert_eq!(c.https_addr.to_string(), "127.0.0.1:8443");
        assert_eq!(c.public_url, "https://localhost:8443");
        assert_eq!(c.security_contact, "mailto:security@localhost");
        assert!(c.effective_database_url().expose_secret().starts_with("sqlite://"));
    }

    #[test]
    fn the_example_loads_and_equals_the_defaults() {
        let from_example = load_toml(&example()).unwrap();
        let defaults = Config::load(&Sources::default()).unwrap();
        assert_eq!(format!("{from_example:?}"), format!("{defaults:?}"));
        for o in OPTIONS {
            assert!(example().contains(&env_name(o.key)), "{}", o.key);
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key() {
        let e = load_toml("[server]\nhttps_adr = \"x\"\n").unwrap_err();
        assert_eq!(e.key, "server.https_adr");
        assert!(e.to_string().contains("did you mean server.https_addr"), "{e}");
        let e = load_toml("[http]\nbody_limit_bytes = \"big\"\n").unwrap_err();
        assert_eq!(e.key, "http.body_limit_bytes");
        assert!(e.message.contains("expected an integer"), "{e}");
        let e = load_toml("[server]\nhttps_addr = \"nope\"\n").unwrap_err();
        assert!(e.to_string().contains("server.https_addr") && e.to_string().contains("\"nope\""), "{e}");
        let e = load_toml("[tls]\nprofile = \"old\"\n").unwrap_err();
        assert_eq!(e.key, "tls.profile");
    }

    #[test]
    fn environment_overrides_the_file_and_unknown_variables_fail() {
        let env = vec![("SOUK_HTTP_BODY_LIMIT_BYTES".to_owned(), "2048".to_owned())];
        let c = Config::load(&Sources { env, ..Sources::default() }).unwrap();
        assert_eq!(c.body_limit_bytes, 2048);
        let env = vec![("SOUK_NOPE".to_owned(), "1".to_owned())];
        assert!(Config::load(&Sources { env, ..Sources::default() }).is_err());
        let env = vec![("SOUK_TEST_DATABASE_URL".to_owned(), "postgres://x/y".to_owned())];
        assert!(Config::load(&Sources { env, ..Sources::default() }).is_ok(), "test variables are ignored");
        let env = vec![("SOUK_RATE_LIMIT_ENABLED".to_owned(), "maybe".to_owned())];
        let e = Config::load(&Sources { env, ..Sources::default() }).unwrap_err();
        assert!(e.to_string().contains("SOUK_RATE_LIMIT_ENABLED"), "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let env = vec![
            ("SOUK_DATABASE_URL".to_owned(), "postgres://souk:hunter2@db/souk".to_owned()),
            ("SOUK_METRICS_TOKEN".to_owned(), "tok-s3cret".to_owned()),
        ];
        let c = Config::load(&Sources { env, ..Sources::default() }).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("tok-s3cret"), "{shown}");
    }

    #[test]
    fn public_url_must_be_an_https_origin() {
        for bad in ["http://localhost:8443", "https://localhost:8443/shop", "localhost"] {
            let flags = vec![("server.public_url", bad.to_owned())];
            let e = Config::load(&Sources { flags, ..Sources::default() }).unwrap_err();
            assert_eq!(e.key, "server.public_url", "{bad}");
        }
    }
}
