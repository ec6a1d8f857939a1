//! `souk vault …`: the card vault as its own process. `certs` issues a vault CA, the vault's
//! server certificate, the marketplace's client certificate and credential, and a
//! `vault.toml`; `serve` reads that file and serves the vault behind mutual TLS.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use souk_crypto::provider::FileKeyProvider;
use souk_domain::{Clock as _, OsEntropy, SystemClock};
use souk_payments::connector::simulator::{Simulator, SimulatorConfig};
use souk_vault::pki::VaultCa;
use souk_vault::server::{self as vault_server, MARKETPLACE_OPERATIONS};
use souk_vault::{
    Credential, InProcessVault, RateLimits, TestCardBins, VaultAuditEvent, VaultAuditSink, VaultConfig,
    VaultDatabase, VaultOperation,
};

use crate::config::readable_by_others;

/// `souk vault …`.
#[derive(Debug, Subcommand)]
pub(crate) enum VaultAction {
    /// Serve the card vault on its own listener (TLS 1.3, client certificates, scoped
    /// credentials), configured by a vault.toml (see `souk vault certs`).
    Serve {
        /// The vault's configuration file.
        #[arg(long = "vault-config", value_name = "FILE", default_value = "vault/vault.toml")]
        file: PathBuf,
    },
    /// Issue a vault CA, the vault's server certificate, a client certificate and a
    /// credential for the marketplace, and a vault.toml using them, into DIR.
    Certs {
        #[arg(long, value_name = "DIR", default_value = "vault")]
        dir: PathBuf,
        /// A host name or IP address the vault is reached at (repeat for several).
        #[arg(long = "host", default_values = ["localhost", "127.0.0.1"])]
        hosts: Vec<String>,
        /// The address `souk vault serve` listens on.
        #[arg(long, default_value = "127.0.0.1:7443")]
        listen: SocketAddr,
    },
    /// Issue another client certificate and credential from the vault CA in DIR, and print
    /// the `[[credentials]]` entry to add to vault.toml.
    Client {
        #[arg(long, value_name = "DIR", default_value = "vault")]
        dir: PathBuf,
        /// The client's name (letters, digits and dashes).
        #[arg(long)]
        name: String,
        /// An operation it may call (repeat): tokenize, read_card, forget, authorize,
        /// complete_challenge, capture, void, refund, status.
        #[arg(long = "operation", required = true)]
        operations: Vec<String>,
    },
}

/// Runs `souk vault …`; returns the exit code.
pub(crate) fn run(action: VaultAction) -> ExitCode {
    let result = match action {
        VaultAction::Certs { dir, hosts, listen } => certs(&dir, &hosts, listen),
        VaultAction::Client { dir, name, operations } => client(&dir, &name, &operations),
        VaultAction::Serve { file } => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
                .with_writer(std::io::stderr)
                .try_init();
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")
                .and_then(|rt| rt.block_on(serve(&file)))
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

/// A credential as written in vault.toml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    name: String,
    /// `Credential::hash_token` of the bearer token (the token itself stays with the client).
    token_sha256: String,
    /// Operation names: tokenize, read_card, forget, authorize, complete_challenge, capture,
    /// void, refund, status.
    operations: Vec<String>,
    /// The client certificate name (`souk vault certs` issues `marketplace`) the credential
    /// is accepted from; unset, any certificate from the vault CA may present it.
    #[serde(default)]
    client: Option<String>,
}

/// vault.toml. Relative paths are relative to the file's directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultFile {
    listen: SocketAddr,
    #[serde(default = "dot")]
    data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; default: vault.db in data_dir.
    #[serde(default)]
    database_url: Option<String>,
    #[serde(default)]
    database_schema: Option<String>,
    /// Default: vault-keys in data_dir.
    #[serde(default)]
    keys_dir: Option<PathBuf>,
    ca_cert: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    /// Default: vault-audit.jsonl in data_dir.
    #[serde(default)]
    audit_log: Option<PathBuf>,
    /// Only `simulator` today.
    #[serde(default = "simulator")]
    connector: String,
    #[serde(default)]
    credentials: Vec<CredentialFile>,
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

fn simulator() -> String {
    "simulator".to_owned()
}

/// The vault's audit trail as JSON lines in a 0600 file (no card numbers: the events carry
/// token, brand and last four at most).
#[derive(Debug)]
struct JsonLinesAudit {
    file: Mutex<fs::File>,
}

impl VaultAuditSink for JsonLinesAudit {
    fn record(&self, e: VaultAuditEvent) {
        let line = serde_json::json!({
            "at": e.at.to_rfc3339(),
            "operation": e.operation.as_str(),
            "actor": e.actor,
            "request_id": e.request_id,
            "token": e.token.map(|t| t.to_string()),
            "card": e.card,
            "payment": e.payment.map(|p| p.to_string()),
            "idempotency_key": e.idempotency_key.map(|k| k.to_string()),
            "amount": e.amount,
            "result": e.result,
        });
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(err) = writeln!(file, "{line}").and_then(|()| file.sync_data()) {
            tracing::error!(error = %err, "vault: cannot write the audit log");
        }
    }
}

/// The credentials of vault.toml, checked: known operations, distinct names and tokens.
fn credentials(list: &[CredentialFile]) -> anyhow::Result<Vec<Credential>> {
    for (i, c) in list.iter().enumerate() {
        if list.iter().skip(i + 1).any(|d| d.name == c.name || d.token_sha256 == c.token_sha256) {
            bail!("credential {:?}: another credential has the same name or token", c.name);
        }
    }
    list.iter()
        .map(|c| {
            let ops = c
                .operations
                .iter()
                .map(|o| {
                    VaultOperation::from_name(o)
                        .with_context(|| format!("credential {:?}: no operation {o:?}", c.name))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let credential = Credential::new(&c.name, &c.token_sha256, ops)?;
            Ok(match &c.client {
                Some(client) => credential.for_client(client),
                None => credential,
            })
        })
        .collect()
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

async fn serve(file: &Path) -> anyhow::Result<()> {
    let text = fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let config: VaultFile = toml::from_str(&text).with_context(|| format!("invalid {}", file.display()))?;
    let base = file.parent().unwrap_or_else(|| Path::new("."));
    let at = |p: &Path| base.join(p);
    let data_dir = at(&config.data_dir);
    if config.connector != "simulator" {
        bail!("connector {:?}: only \"simulator\" is available", config.connector);
    }
    let server_key = at(&config.server_key);
    if readable_by_others(&server_key) {
        bail!(
            "{} is readable by other users; run `chmod 600 {}`",
            server_key.display(),
            server_key.display()
        );
    }
    let credentials = credentials(&config.credentials)?;
    if credentials.is_empty() {
        bail!("{} lists no credentials: nobody could call the vault", file.display());
    }
    let tls = vault_server::server_tls(
        &read(&at(&config.ca_cert))?,
        &read(&at(&config.server_cert))?,
        &read(&server_key)?,
    )?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let audit_path = config.audit_log.as_deref().map_or_else(|| data_dir.join("vault-audit.jsonl"), at);
    let audit_file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&audit_path)
        .with_context(|| format!("cannot open {}", audit_path.display()))?;
    let audit = Arc::new(JsonLinesAudit { file: Mutex::new(audit_file) });
    let keys_dir =
        config.keys_dir.as_deref().map_or_else(|| data_dir.join(VaultDatabase::DEFAULT_KEYS_DIR), at);
    let entropy = Arc::new(OsEntropy::new());
    let keys = FileKeyProvider::new(&keys_dir);
    keys.ensure(entropy.as_ref()).with_context(|| format!("vault keys in {}", keys_dir.display()))?;
    let mut database = match &config.database_url {
        Some(url) => VaultDatabase::new(SecretString::from(url.clone())),
        None => VaultDatabase::sqlite_in(&data_dir),
    };
    if let Some(schema) = &config.database_schema {
        database.schema.clone_from(schema);
    }
    let clock = Arc::new(SystemClock);
    let vault = InProcessVault::open(VaultConfig {
        database,
        keys: Arc::new(keys),
        connector: Arc::new(Simulator::new(SimulatorConfig::default(), entropy.clone())),
        clock: clock.clone(),
        entropy,
        audit: audit.clone(),
        limits: RateLimits::default(),
        bins: Arc::new(TestCardBins),
        connector_timeout: VaultConfig::DEFAULT_CONNECTOR_TIMEOUT,
    })
    .await?;
    let vault = Arc::new(vault);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let running = vault_server::serve(listener, tls, vault.clone(), audit, clock, credentials)?;
    println!("souk vault listening on {}", running.addr);
    println!("  audit log     {}", audit_path.display());
    let _ = std::io::stdout().flush();
    crate::server::shutdown_signal().await;
    running.stop().await;
    vault.close().await;
    Ok(())
}

fn write_new(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// Every file `certs` writes, and its mode.
const FILES: [(&str, u32); 8] = [
    ("vault-ca.pem", 0o644),
    ("vault-ca-key.pem", 0o600),
    ("vault-server.pem", 0o644),
    ("vault-server-key.pem", 0o600),
    ("marketplace.pem", 0o644),
    ("marketplace-key.pem", 0o600),
    ("marketplace.credential", 0o600),
    ("vault.toml", 0o600),
];

fn certs(dir: &Path, hosts: &[String], listen: SocketAddr) -> anyhow::Result<()> {
    if let Some((name, _)) = FILES.iter().find(|(name, _)| dir.join(name).exists()) {
        bail!("{} exists; refusing to overwrite vault certificates", dir.join(name).display());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let now = SystemClock.now().to_datetime().context("the system clock is out of range")?;
    let ca = VaultCa::generate(&format!("Souk vault CA {}", now.date()), now)?;
    let server = ca.issue_server(hosts, now)?;
    let client = ca.issue_client("marketplace", now)?;
    let token = Credential::generate_token(&OsEntropy::new());
    let ops: Vec<String> = MARKETPLACE_OPERATIONS.iter().map(|o| format!("{:?}", o.name())).collect();
    let toml = format!(
        "# The card vault's configuration (`souk vault serve --vault-config {file}`).\n\
         # Relative paths are relative to this file's directory.\n\
         listen = \"{listen}\"\n\
         data_dir = \".\"\n\
         # database_url = \"postgres://vault@db/vault\"   # default: vault.db in data_dir\n\
         # keys_dir = \"vault-keys\"                      # the vault's own master keys\n\
         ca_cert = \"vault-ca.pem\"\n\
         server_cert = \"vault-server.pem\"\n\
         server_key = \"vault-server-key.pem\"\n\
         audit_log = \"vault-audit.jsonl\"\n\
         connector = \"simulator\"\n\n\
         # The marketplace: its client certificate is marketplace.pem, its bearer token\n\
         # marketplace.credential; only the token's hash is kept here. Add \"forget\" to\n\
         # let it erase cards.\n\
         [[credentials]]\n\
         name = \"marketplace\"\n\
         client = \"marketplace\"\n\
         token_sha256 = \"{hash}\"\n\
         operations = [{ops}]\n",
        file = dir.join("vault.toml").display(),
        hash = Credential::hash_token(&token),
        ops = ops.join(", "),
    );
    // Keys first, so a crash never leaves a certificate without its private key.
    write_new(&dir.join("vault-ca-key.pem"), ca.key_pem.expose_secret(), 0o600)?;
    write_new(&dir.join("vault-server-key.pem"), server.key_pem.expose_secret(), 0o600)?;
    write_new(&dir.join("marketplace-key.pem"), client.key_pem.expose_secret(), 0o600)?;
    write_new(&dir.join("marketplace.credential"), &format!("{}\n", token.expose_secret()), 0o600)?;
    write_new(&dir.join("vault-ca.pem"), &ca.cert_pem, 0o644)?;
    write_new(&dir.join("vault-server.pem"), &server.cert_pem, 0o644)?;
    write_new(&dir.join("marketplace.pem"), &client.cert_pem, 0o644)?;
    write_new(&dir.join("vault.toml"), &toml, 0o600)?;
    println!("Vault certificates written to {}:", dir.display());
    for (name, mode) in FILES {
        println!("  {name:<24} {mode:o}");
    }
    println!("Start the vault:    souk vault serve --vault-config {}", dir.join("vault.toml").display());
    println!(
        "The marketplace needs vault-ca.pem, marketplace.pem, marketplace-key.pem and marketplace.credential."
    );
    println!("Move vault-ca-key.pem offline: it is needed only to issue new certificates.");
    Ok(())
}

/// `souk vault client`: one more client certificate and credential from the vault CA.
fn client(dir: &Path, name: &str, operations: &[String]) -> anyhow::Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        bail!("a client name has letters, digits and dashes only");
    }
    for o in operations {
        VaultOperation::from_name(o).with_context(|| format!("no vault operation {o:?}"))?;
    }
    let files = [format!("{name}.pem"), format!("{name}-key.pem"), format!("{name}.credential")];
    if let Some(f) = files.iter().find(|f| dir.join(f).exists()) {
        bail!("{} exists; pick another client name", dir.join(f).display());
    }
    let key_path = dir.join("vault-ca-key.pem");
    if readable_by_others(&key_path) {
        bail!("{} is readable by other users; run `chmod 600 {}`", key_path.display(), key_path.display());
    }
    let cert_pem = fs::read_to_string(dir.join("vault-ca.pem")).context("cannot read vault-ca.pem")?;
    let key_pem = fs::read_to_string(&key_path).context("cannot read vault-ca-key.pem (is it offline?)")?;
    let ca = VaultCa::from_pem(&cert_pem, SecretString::from(key_pem))?;
    let now = SystemClock.now().to_datetime().context("the system clock is out of range")?;
    let issued = ca.issue_client(name, now)?;
    let token = Credential::generate_token(&OsEntropy::new());
    write_new(&dir.join(format!("{name}-key.pem")), issued.key_pem.expose_secret(), 0o600)?;
    write_new(&dir.join(format!("{name}.credential")), &format!("{}\n", token.expose_secret()), 0o600)?;
    write_new(&dir.join(format!("{name}.pem")), &issued.cert_pem, 0o644)?;
    let ops: Vec<String> = operations.iter().map(|o| format!("{o:?}")).collect();
    eprintln!("Wrote {name}.pem, {name}-key.pem and {name}.credential to {}.", dir.display());
    eprintln!("Add this to vault.toml and restart the vault:");
    println!(
        "\n[[credentials]]\nname = {name:?}\nclient = {name:?}\ntoken_sha256 = \"{}\"\noperations = [{}]",
        Credential::hash_token(&token),
        ops.join(", ")
    );
    Ok(())
}
