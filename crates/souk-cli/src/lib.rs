//! The `souk` command line: parses arguments, reads configuration, and runs one command.
//! This crate is the only place that reads the environment, arguments and files; everything
//! below it receives typed values.

mod audit_admin;
pub mod config;
pub mod drive;
mod keys_admin;
mod ledger_admin;
mod load;
pub mod local_ca;
mod logging;
mod progress;
mod risk_admin;
pub mod server;
mod vault_admin;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use souk_domain::{OsEntropy, SystemClock};

use crate::config::{Config, Sources};

/// Souk: a marketplace server with trust and security built in.
#[derive(Debug, Parser)]
#[command(name = "souk", version, about)]
struct Cli {
    /// A TOML configuration file (see `souk config example`).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database URL (sqlite://PATH or postgres://…); overrides the configuration.
    /// Prefer SOUK_DATABASE_URL when it holds a password: arguments are visible to other users.
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Data directory; overrides server.data_dir.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTPS (the default when no command is given).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the demo marketplace (shops, listings, buyers). Safe to run twice.
    Demo,
    /// Print the OpenAPI 3.1 document of the JSON API (for client generators).
    Openapi,
    /// Master keys: status, rotation, retirement.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The tamper-evident audit log: verify, prove, checkpoints.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// The risk model: train one from a labelled CSV, evaluate one; replay a stored decision.
    Risk {
        #[command(subcommand)]
        action: RiskAction,
    },
    /// The double-entry ledger: check its invariants, run a payout batch.
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
    /// Staff accounts: create one (prints its single-use sign-in link, also mailed).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// The card vault as its own process: `certs` to set it up, `serve` to run it.
    Vault {
        #[command(subcommand)]
        action: vault_admin::VaultAction,
    },
    /// Load generators that drive a running Souk over HTTPS as buyers and sellers do.
    Load {
        #[command(subcommand)]
        action: LoadAction,
    },
    /// Inspect configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
enum RiskAction {
    /// Re-evaluates a stored decision from its feature vector, with the rule-set version and
    /// the model (`risk.model`) it was taken with; exits 1 if the answer differs.
    Replay {
        #[arg(long, value_name = "ID")]
        decision: String,
    },
    /// Train a model on a numeric CSV with a header: one label column (0/1), an optional
    /// time column (rows are ordered by it; the latest 20 % validate), every other column a
    /// feature unless dropped.
    Train {
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// The label column (1 = fraud).
        #[arg(long, value_name = "COLUMN")]
        label: String,
        /// A time column (epoch seconds or ISO 8601) to order rows by.
        #[arg(long, value_name = "COLUMN")]
        time: Option<String>,
        /// Columns that are not features (ids, free text); repeat for several.
        #[arg(long, value_name = "COLUMN")]
        drop: Vec<String>,
        /// Where to write the model.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The most trees to grow (training stops earlier when validation stops improving).
        #[arg(long, default_value_t = 300)]
        trees: usize,
        /// Seed of the row subsampling (the same seed and data give the same model).
        #[arg(long, default_value_t = 0x5EED)]
        seed: u64,
    },
    /// Report AUC-ROC, AUPRC and recall at 1 % and 0.1 % false positives on a labelled CSV.
    Evaluate {
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        #[arg(long, value_name = "COLUMN")]
        label: String,
        #[arg(long, value_name = "FILE")]
        model: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum LoadAction {
    /// Whole checkouts as fast as the server takes them: each buyer fills its cart, checks
    /// out, types a card into the vault endpoint and pays, in a loop. Sellers and buyers are
    /// signed up first (confirmed through `/dev/mail`: the server must use the development
    /// mail outbox and be on this machine). Prints paid checkouts per second and latency.
    Checkouts {
        /// The server's public URL.
        #[arg(long, default_value = "https://localhost:8443")]
        url: String,
        /// The CA certificate the server's certificate chains to (PEM).
        #[arg(long, value_name = "FILE", default_value = "data/tls/souk-local-ca.pem")]
        ca: PathBuf,
        /// Connect to this address instead of resolving the URL's host (e.g. 127.0.0.1:8443).
        #[arg(long, value_name = "ADDR")]
        connect: Option<std::net::SocketAddr>,
        /// Buyers signed up before the run (the population).
        #[arg(long, default_value_t = 400)]
        buyers: usize,
        /// Buyers shopping at once, each in its own task.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Checkouts per buyer (the default risk rules block a sixth within ten minutes).
        #[arg(long, default_value_t = 5)]
        per_buyer: usize,
        /// Sellers, each with one listing the buyers share out.
        #[arg(long, default_value_t = 4)]
        sellers: usize,
        /// How long to run, after the setup.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// The card to pay with (a simulator test card).
        #[arg(long, default_value = "4242424242424242")]
        card: String,
        /// Type the card once per buyer and pay with the saved card afterwards.
        #[arg(long)]
        saved_card: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Show master key versions, their ages, and how many keys each wraps.
    Status,
    /// Create a new master key version and rewrap every data key under it, online.
    Rotate {
        /// Do not create a new version; finish an interrupted rotation to the current one.
        #[arg(long)]
        resume: bool,
    },
    /// Destroy an old master key version that nothing uses any more.
    Retire { version: u32 },
    /// Print a new master key entry for SOUK_KEYS_MASTER_KEYS (environment provider).
    Generate {
        #[arg(long)]
        version: u32,
    },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Recompute the whole log and check every signed checkpoint; exit 1 naming the first
    /// entry modified, deleted, inserted or reordered.
    Verify,
    /// Print a proof that entry SEQ is in the log (against the newest checkpoint).
    Prove { seq: u64 },
    /// Sign a checkpoint of the log now.
    Checkpoint,
    /// Print every signed checkpoint as JSON lines, for an auditor to keep.
    ExportCheckpoints,
    /// Check that the log still extends every checkpoint in FILE (an earlier export).
    CheckCheckpoints { file: PathBuf },
}

#[derive(Debug, Subcommand)]
enum LedgerAction {
    /// Replay every ledger transaction and check each invariant (each transaction balances
    /// per currency, no escrow below zero, no payout above the payable balance, no order
    /// giving back more than it was paid); exit 1 naming every violation.
    Check,
    /// Pay every shop's payable balance through the simulated bank (shops on hold wait);
    /// payouts an earlier run left in transit are settled first by asking the bank.
    Payouts {
        /// Only settle payouts left in transit (ask the bank with each payout's key); pay
        /// nothing new.
        #[arg(long)]
        reconcile: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Create a staff account. It signs in once with the printed link and adds a passkey.
    Create {
        /// The staff member's email address.
        #[arg(long)]
        email: String,
        /// Their name.
        #[arg(long)]
        name: String,
        /// A role: support, trust_safety, finance or admin (repeat for several).
        #[arg(long = "role", default_value = "admin")]
        roles: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Print every setting with its default and documentation, as a loadable TOML file.
    Example,
    /// Load and validate the configuration, then print a summary (secrets redacted).
    Check,
}

/// Exit code for a configuration error.
const EXIT_CONFIG: u8 = 2;

/// Runs the command line; returns the process exit code.
#[must_use]
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // Commands that read no configuration and touch nothing.
    match command {
        Command::Config { action: ConfigAction::Example } => {
            print!("{}", config::example());
            return ExitCode::SUCCESS;
        }
        Command::Openapi => {
            println!("{}", String::from_utf8_lossy(&souk_http::api::openapi_json()));
            return ExitCode::SUCCESS;
        }
        Command::Keys { action: KeysAction::Generate { version } } => {
            keys_admin::generate(version);
            return ExitCode::SUCCESS;
        }
        // Offline work on files: no configuration or database needed.
        Command::Risk { action } if !matches!(action, RiskAction::Replay { .. }) => return risk(action),
        // The vault reads its own configuration, never the marketplace's.
        Command::Vault { action } => return vault_admin::run(action),
        // A client of a running server: no configuration of its own.
        Command::Load { action } => return load(action),
        Command::Serve
        | Command::Migrate
        | Command::Demo
        | Command::Keys { .. }
        | Command::Audit { .. }
        | Command::Ledger { .. }
        | Command::Admin { .. }
        | Command::Risk { .. }
        | Command::Config { action: ConfigAction::Check } => {}
    }
    let mut flags = Vec::new();
    if let Some(url) = cli.database_url {
        flags.push(("database.url", url));
    }
    if let Some(dir) = cli.data_dir {
        flags.push(("server.data_dir", dir));
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let operator =
        env.iter().find(|(k, _)| k == "USER").map_or_else(|| "unknown".to_owned(), |(_, v)| v.clone());
    let sources = Sources { file: cli.config, env, flags };
    let config = match Config::load(&sources) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: invalid configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Command::Config { action: ConfigAction::Check } = command {
        println!("configuration OK");
        println!("  https:     {}", config.https_addr);
        println!(
            "  http:      {}",
            config.http_addr.map_or_else(|| "disabled".to_owned(), |a| a.to_string())
        );
        println!("  public:    {}", config.public_url);
        println!("  database:  {}", souk_store::redacted_url(&config.effective_database_url()));
        println!("  data dir:  {}", config.data_dir.display());
        return ExitCode::SUCCESS;
    }
    logging::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Migrate => server::migrate_only(&config).await,
            Command::Demo => {
                server::demo_only(&config, Arc::new(SystemClock), Arc::new(OsEntropy::new())).await
            }
            Command::Serve => serve(&config).await,
            Command::Keys { action } => keys(&config, action, &operator).await,
            Command::Audit { action } => audit(&config, action).await,
            Command::Ledger { action } => ledger(&config, action).await,
            Command::Admin { action } => admin(&config, action, &operator).await,
            Command::Risk { action: RiskAction::Replay { decision } } => replay(&config, &decision).await,
            Command::Config { .. }
            | Command::Openapi
            | Command::Risk { .. }
            | Command::Vault { .. }
            | Command::Load { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(action: LoadAction) -> ExitCode {
    let LoadAction::Checkouts {
        url,
        ca,
        connect,
        buyers,
        concurrency,
        per_buyer,
        sellers,
        seconds,
        card,
        saved_card,
    } = action;
    let args = load::LoadArgs {
        url,
        ca,
        connect,
        buyers,
        concurrency,
        per_buyer,
        sellers,
        seconds,
        card,
        saved_card,
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(load::checkouts(&args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn risk(action: RiskAction) -> ExitCode {
    let result = match action {
        RiskAction::Train { csv, label, time, drop, out, trees, seed } => {
            risk_admin::train_model(&risk_admin::TrainArgs { csv, label, time, drop, out, trees, seed })
        }
        RiskAction::Evaluate { csv, label, model } => risk_admin::evaluate_model(&csv, &label, &model),
        // Dispatched with the configuration (it reads the database), never here.
        RiskAction::Replay { .. } => {
            Err(anyhow::anyhow!("replay reads the database: run it with the configuration"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn replay(config: &Config, decision: &str) -> anyhow::Result<()> {
    let souk = server::open_souk(config, Arc::new(SystemClock), Arc::new(OsEntropy::new()))
        .await?
        .with_risk_engine(server::risk_engine(config)?);
    let result = risk_admin::replay(&souk, decision).await;
    souk.store.close().await;
    result
}

async fn keys(config: &Config, action: KeysAction, operator: &str) -> anyhow::Result<()> {
    let souk = server::open_souk(config, Arc::new(SystemClock), Arc::new(OsEntropy::new())).await?;
    let result = match action {
        KeysAction::Status => keys_admin::status(&souk).await,
        KeysAction::Rotate { resume } => keys_admin::rotate(&souk, resume, operator).await,
        KeysAction::Retire { version } => keys_admin::retire(&souk, version, operator).await,
        KeysAction::Generate { version } => {
            keys_admin::generate(version);
            Ok(())
        }
    };
    souk.store.close().await;
    result
}

async fn audit(config: &Config, action: AuditAction) -> anyhow::Result<()> {
    let souk = server::open_souk(config, Arc::new(SystemClock), Arc::new(OsEntropy::new())).await?;
    let result = match action {
        AuditAction::Verify => audit_admin::verify(&souk).await,
        AuditAction::Prove { seq } => audit_admin::prove(&souk, seq).await,
        AuditAction::Checkpoint => audit_admin::checkpoint_now(&souk).await,
        AuditAction::ExportCheckpoints => audit_admin::export(&souk).await,
        AuditAction::CheckCheckpoints { file } => audit_admin::check_exported(&souk, &file).await,
    };
    souk.store.close().await;
    result
}

async fn ledger(config: &Config, action: LedgerAction) -> anyhow::Result<()> {
    let souk = server::open_souk(config, Arc::new(SystemClock), Arc::new(OsEntropy::new())).await?;
    let result = match action {
        LedgerAction::Check => ledger_admin::check(&souk).await,
        LedgerAction::Payouts { reconcile: false } => ledger_admin::payouts(&souk).await,
        LedgerAction::Payouts { reconcile: true } => ledger_admin::reconcile(&souk).await,
    };
    souk.store.close().await;
    result
}

async fn admin(config: &Config, action: AdminAction, operator: &str) -> anyhow::Result<()> {
    let souk = server::open_souk(config, Arc::new(SystemClock), Arc::new(OsEntropy::new())).await?;
    let result = match action {
        AdminAction::Create { email, name, roles } => async {
            let roles = souk_core::staff::parse_roles(&roles)?;
            let invitation =
                souk_core::staff::create_staff_as_operator(&souk, operator, &email, &name, &roles).await?;
            println!("staff account {} created for {email}", invitation.account);
            println!(
                "sign-in link (single use, {} hours): {}",
                souk_core::staff::INVITE_SECS / 3600,
                invitation.link
            );
            println!(
                "the link was also mailed to {email}; after signing in, add a passkey in the security centre"
            );
            Ok::<_, anyhow::Error>(())
        }
        .await,
    };
    // Let the invitation mail leave before the process ends.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    souk.store.close().await;
    result
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let started = server::start(config, Arc::new(SystemClock), Arc::new(OsEntropy::new())).await?;
    let url = format!("{}/", config.public_url);
    println!("Souk is running.");
    println!("  Open          {url}");
    println!("  API docs      {url}api/docs");
    let https = started.https_addr;
    match started.http_addr {
        Some(http) => println!("  Listening     {https} (HTTPS), {http} (HTTP, redirects to HTTPS)"),
        None => println!("  Listening     {https} (HTTPS)"),
    }
    if let Some(ca) = &started.ca_cert {
        println!("  Local CA      {} (trust it once: see README, \"Trust the local CA\")", ca.display());
    }
    if config.smtp_url.is_none() {
        println!("  Mail outbox   {url}dev/mail (from this machine only; no SMTP relay is configured)");
    }
    if let Some(link) = &started.setup_link {
        println!("  First admin   {link}");
        println!("                (single use, expires in 1 hour; or run `souk admin create`)");
    }
    println!("  Stop          Ctrl-C");
    server::shutdown_signal().await;
    started.stop().await;
    Ok(())
}
