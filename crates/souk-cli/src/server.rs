//! Starting and stopping Souk: prepare the data directory, TLS, the database and the demo,
//! then bind the listeners and serve. `souk serve` and the test kit both start Souk through
//! [`start`], so the tests run exactly what operators run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use souk_core::Souk;
use souk_domain::{Clock, Entropy};
use souk_http::server::{Listeners, ServeOptions};
use souk_http::{AppState, HttpConfig};
use souk_store::{Store, StoreConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use souk_core::keys::KeyService;
use souk_crypto::provider::{EnvKeyProvider, FileKeyProvider, KeyProvider};

use crate::config::{Config, KeySource};
use crate::local_ca;

/// A running server.
#[derive(Debug)]
pub struct Started {
    pub https_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    /// The local CA certificate users should trust, when Souk issued its own certificate.
    pub ca_cert: Option<PathBuf>,
    /// The first-admin setup link, when Souk has no admin yet (single use, one hour).
    pub setup_link: Option<String>,
    pub state: AppState,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Started {
    /// Begins a graceful shutdown and waits for it to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }

    /// Begins a graceful shutdown without waiting; the handle resolves when it is done.
    #[must_use]
    pub fn begin_stop(self) -> JoinHandle<()> {
        let _ = self.stop.send(());
        self.task
    }
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        () = term => {},
    }
}

fn create_data_dir(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if !config.data_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    }
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.effective_database_url();
    let store = Store::connect(&StoreConfig {
        url: url.clone(),
        max_connections: config.max_connections,
        acquire_timeout: config.acquire_timeout,
    })
    .await
    .with_context(|| format!("cannot open the database {}", souk_store::redacted_url(&url)))?;
    let report = store.migrate().await.context("cannot apply database migrations")?;
    tracing::info!(backend = store.backend().name(), applied = report.applied_now, latest = ?report.latest, "database ready");
    Ok(store)
}

/// The master key provider the configuration names.
pub fn key_provider(config: &Config) -> Arc<dyn KeyProvider> {
    match &config.keys {
        KeySource::Files(dir) => Arc::new(FileKeyProvider::new(dir.clone())),
        KeySource::Env(value) => Arc::new(EnvKeyProvider::new("SOUK_KEYS_MASTER_KEYS", value.clone())),
    }
}

/// Opens the database (migrated) and the key service: everything a command needs to run
/// use cases. On first start with key files, creates master key version 1.
pub async fn open_souk(
    config: &Config,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> anyhow::Result<Souk> {
    create_data_dir(config)?;
    let store = open_store(config).await?;
    if let KeySource::Files(dir) = &config.keys
        && FileKeyProvider::new(dir.clone())
            .ensure(entropy.as_ref())
            .context("cannot create the master key")?
    {
        tracing::warn!(dir = %dir.display(), "created master key version 1: back it up, apart from database backups");
    }
    let keys = KeyService::open(&store, key_provider(config), entropy.as_ref(), clock.now())
        .await
        .context("cannot load the keys")?;
    let mailer = match &config.smtp_url {
        Some(url) => souk_core::mail::Mailer::smtp(url, &config.mail_from).context("mail.smtp_url")?,
        None => souk_core::mail::Mailer::Outbox(config.data_dir.join("mail-outbox")),
    };
    let backend = store.backend();
    let (sink, audit_rx) = souk_core::payments::vault::audit_channel();
    let vault = open_vault(config, backend, clock.clone(), entropy.clone(), sink).await?;
    let souk = Souk::new(store, clock, entropy, Arc::new(keys), config.identity.clone(), mailer)
        .context("cannot start the identity service")?
        .with_market(config.market.clone())
        .with_vault(vault)
        .with_webhooks(config.webhooks.clone())
        .context("cannot set up webhook delivery")?
        .with_risk_engine(risk_engine(config)?);
    souk_core::payments::vault::spawn_audit_writer(souk.clone(), audit_rx);
    Ok(souk)
}

/// The fraud model named by `risk.model`, checked (a damaged or hostile file stops the
/// start rather than scoring with garbage), or none.
pub(crate) fn risk_engine(config: &Config) -> anyhow::Result<souk_core::risk::Engine> {
    let Some(path) = &config.risk_model else { return Ok(souk_core::risk::Engine::without_model()) };
    let bytes = std::fs::read(path).with_context(|| format!("risk.model: cannot read {}", path.display()))?;
    let engine = souk_core::risk::Engine::from_model_file(&bytes)
        .map_err(|e| anyhow::anyhow!("risk.model: {} is not a usable model: {e}", path.display()))?;
    tracing::info!(model = %path.display(), sha256 = engine.model_sha.as_deref().unwrap_or(""), "fraud model loaded");
    Ok(engine)
}

/// Opens the card vault in this process: its own database (a file of its own on SQLite, its
/// own schema on PostgreSQL), its own master keys, the payment simulator as its processor,
/// and `sink` for its audit events.
async fn open_vault(
    config: &Config,
    backend: souk_store::Backend,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    sink: Arc<dyn souk_vault::VaultAuditSink>,
) -> anyhow::Result<Arc<dyn souk_vault::VaultClient>> {
    use souk_payments::connector::simulator::{Simulator, SimulatorConfig};
    use souk_vault::{InProcessVault, RateLimit, RateLimits, TestCardBins, VaultConfig, VaultDatabase};

    let p = &config.payments;
    if let Some(remote) = &p.remote_vault {
        return open_remote_vault(remote, p.connector_timeout);
    }
    let mut database = match (&p.vault_database_url, backend) {
        (Some(url), _) => VaultDatabase::new(url.clone()),
        (None, souk_store::Backend::Postgres) => VaultDatabase::new(config.effective_database_url()),
        (None, souk_store::Backend::Sqlite) => VaultDatabase::sqlite_in(&config.data_dir),
    };
    database.schema.clone_from(&p.vault_schema);
    let keys = FileKeyProvider::new(p.vault_keys_dir.clone());
    if keys.ensure(entropy.as_ref()).context("cannot create the vault's master key")? {
        tracing::warn!(dir = %p.vault_keys_dir.display(), "created the card vault's master key version 1: back it up, apart from database backups and the marketplace's keys");
    }
    let simulator = Simulator::new(SimulatorConfig { latency: p.simulator_latency }, entropy.clone());
    let vault = InProcessVault::open(VaultConfig {
        database,
        keys: Arc::new(keys),
        connector: Arc::new(simulator),
        clock,
        entropy,
        audit: sink,
        limits: RateLimits {
            tokenize: RateLimit {
                per_minute: p.vault_tokenize_per_minute,
                burst: (p.vault_tokenize_per_minute / 2).max(1),
            },
            authorize: RateLimit {
                per_minute: p.vault_authorize_per_minute,
                burst: (p.vault_authorize_per_minute / 2).max(1),
            },
            ..RateLimits::default()
        },
        bins: Arc::new(TestCardBins),
        connector_timeout: p.connector_timeout,
    })
    .await
    .context("cannot open the card vault")?;
    Ok(Arc::new(vault))
}

/// The vault in its own process: the client identity `souk vault certs` wrote for the
/// marketplace. Its audit events stay in the vault's own log.
fn open_remote_vault(
    remote: &crate::config::RemoteVaultSettings,
    connector_timeout: std::time::Duration,
) -> anyhow::Result<Arc<dyn souk_vault::VaultClient>> {
    use souk_vault::{RemoteVault, RemoteVaultConfig};
    let read = |name: &str| {
        let path = remote.client_dir.join(name);
        std::fs::read(&path)
            .with_context(|| format!("payments.vault_client_dir: cannot read {}", path.display()))
    };
    let key = String::from_utf8(read("marketplace-key.pem")?).context("marketplace-key.pem is not PEM")?;
    // Zeroized on drop: the trimmed copy below is the one kept (as a secret).
    let credential = secrecy::zeroize::Zeroizing::new(
        String::from_utf8(read("marketplace.credential")?).context("marketplace.credential is not text")?,
    );
    let vault = RemoteVault::new(&RemoteVaultConfig {
        url: remote.url.clone(),
        ca_pem: read("vault-ca.pem")?,
        client_cert_pem: read("marketplace.pem")?,
        client_key_pem: secrecy::SecretString::from(key),
        credential: secrecy::SecretString::from(credential.trim().to_owned()),
        // A little above the vault's own wait for the processor: past it the outcome of a
        // payment call is unknown and reconciled.
        timeout: connector_timeout + std::time::Duration::from_secs(5),
        connect_timeout: RemoteVaultConfig::DEFAULT_CONNECT_TIMEOUT,
    })
    .context("cannot set up the remote card vault client")?;
    tracing::info!(url = %remote.url, "card vault: a separate process over mutual TLS");
    Ok(Arc::new(vault))
}

/// `souk migrate`.
pub async fn migrate_only(config: &Config) -> anyhow::Result<()> {
    create_data_dir(config)?;
    let store = open_store(config).await?;
    store.close().await;
    println!("database migrated ({})", souk_store::redacted_url(&config.effective_database_url()));
    Ok(())
}

/// `souk demo`.
pub async fn demo_only(
    config: &Config,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> anyhow::Result<()> {
    let souk = open_souk(config, clock, entropy).await?;
    let report = souk_core::demo::load(&souk).await.context("cannot load the demo marketplace")?;
    souk_core::audit::checkpoint(&souk).await.context("cannot sign an audit checkpoint")?;
    souk.store.close().await;
    if report.is_empty() {
        println!("demo marketplace already loaded; nothing added");
    } else {
        println!(
            "demo marketplace loaded: {} accounts, {} shops, {} listings (with photos), {} completed and reviewed orders added",
            report.accounts, report.shops, report.listings, report.orders
        );
    }
    Ok(())
}

fn tls_config(
    config: &Config,
    clock: &dyn Clock,
) -> anyhow::Result<(Arc<rustls::ServerConfig>, Option<PathBuf>)> {
    let (cert, key, ca) = match &config.tls_files {
        Some((cert_path, key_path)) => {
            if crate::config::readable_by_others(key_path) {
                anyhow::bail!(
                    "{} is readable by other users; run `chmod 600 {}`",
                    key_path.display(),
                    key_path.display()
                );
            }
            let cert =
                std::fs::read(cert_path).with_context(|| format!("cannot read {}", cert_path.display()))?;
            let key =
                std::fs::read(key_path).with_context(|| format!("cannot read {}", key_path.display()))?;
            (cert, key, None)
        }
        None => {
            let now = clock.now().to_datetime().context("the clock is out of range")?;
            let ca = local_ca::ensure(&config.data_dir.join("tls"), &config.public_host, now)?;
            let (cert, key) = ca.issue(&config.public_host, now)?;
            (cert.into_bytes(), key.into_bytes(), Some(ca.cert_path))
        }
    };
    let tls = souk_http::tls::server_config(config.tls_profile, &cert, &key)
        .context("cannot use the TLS certificate")?;
    Ok((tls, ca))
}

/// Starts Souk: everything `souk serve` does before it waits for a signal.
pub async fn start(
    config: &Config,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
) -> anyhow::Result<Started> {
    create_data_dir(config)?;
    let (tls, ca_cert) = tls_config(config, clock.as_ref())?;
    let souk = open_souk(config, clock, entropy).await?;
    let store = souk.store.clone();
    if config.demo_on_empty && souk_core::demo::catalog_is_empty(&souk).await? {
        souk_core::demo::load(&souk).await.context("cannot load the demo marketplace")?;
    }
    let setup_link =
        souk_core::staff::first_admin_link(&souk).await.context("cannot issue the setup link")?;
    souk_core::audit::checkpoint(&souk).await.context("cannot sign an audit checkpoint")?;
    let http_config = HttpConfig {
        public_url: config.public_url.clone(),
        body_limit_bytes: config.body_limit_bytes,
        header_limit_bytes: config.header_limit_bytes,
        request_timeout: config.request_timeout,
        rate_limit: config.rate_limit,
        security_contact: config.security_contact.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        metrics_token: config.metrics_token.clone(),
    };
    let state = AppState::new(souk, http_config, souk_http::install_recorder());
    let app = souk_http::app(state.clone());

    let https = TcpListener::bind(config.https_addr)
        .await
        .with_context(|| format!("cannot listen on {} (server.https_addr)", config.https_addr))?;
    let http = match config.http_addr {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (server.http_addr)"))?,
        ),
        None => None,
    };
    let https_addr = https.local_addr()?;
    let http_addr = http.as_ref().map(TcpListener::local_addr).transpose()?;
    let options = ServeOptions {
        public_url: config.public_url.clone(),
        shutdown_grace: config.shutdown_grace,
        handshake_timeout: Duration::from_secs(10),
        header_read_timeout: config.header_read_timeout,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let checkpoint_interval = config.checkpoint_interval;
    let reconcile_interval = config.payments.reconcile_interval;
    let serve_state = state.clone();
    if config.webhooks.allow_private_destinations {
        tracing::warn!(
            "webhooks.allow_private_destinations is on: webhook endpoints may reach loopback and private networks (SSRF); development only"
        );
    }
    let (stop_webhooks, webhooks_stopped) = tokio::sync::watch::channel(false);
    let webhooks = tokio::spawn(souk_core::webhooks::worker::run(state.souk().clone(), webhooks_stopped));
    let task = tokio::spawn(async move {
        let housekeeping = tokio::spawn(housekeeping(serve_state.clone(), checkpoint_interval));
        let reconciler = tokio::spawn(reconcile_payments(serve_state.clone(), reconcile_interval));
        souk_http::server::serve(serve_state, app, tls, Listeners { https, http }, options, async {
            let _ = stopped.await;
        })
        .await;
        housekeeping.abort();
        reconciler.abort();
        // The delivery worker finishes the round it is in (each delivery is bounded by its
        // timeout); a delivery cut short would be sent again after its lease, not lost.
        let _ = stop_webhooks.send(true);
        let _ = webhooks.await;
        store.close().await;
    });
    tracing::info!(%https_addr, ?http_addr, "listening");
    Ok(Started { https_addr, http_addr, ca_cert, setup_link, state, stop, task })
}

/// Every 30 seconds: mail the owners of accounts whose password was used without the
/// second step being completed within three minutes.
async fn sign_in_alerts(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        if let Err(e) = souk_core::identity::login::alert_unfinished_sign_ins(state.souk()).await {
            tracing::warn!(error = %e, "could not check unfinished sign-ins");
        }
        // Unpaid checkouts give their stock back when their payment window closes.
        match souk_core::market::checkout::expire_unpaid(state.souk()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "unpaid checkouts expired"),
            Err(e) => tracing::warn!(error = %e, "could not expire unpaid checkouts"),
        }
        // Shipped orders nobody confirmed count as delivered; delivered ones complete once
        // the dispute window has passed.
        match souk_core::market::orders::advance_due(state.souk()).await {
            Ok((0, 0)) => {}
            Ok((delivered, completed)) => tracing::info!(delivered, completed, "orders moved on by time"),
            Err(e) => tracing::warn!(error = %e, "could not move orders on"),
        }
    }
}

/// Every `payments.reconcile_interval_secs`: asks the vault about checkout payments whose
/// answer timed out, so a charge that went through is recorded without waiting for the
/// checkout to expire. Stopped with the server (aborted at shutdown).
async fn reconcile_payments(state: AppState, interval: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match souk_core::payments::pay::reconcile_unknown(state.souk()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(settled = n, "payments of unknown outcome reconciled"),
            Err(e) => tracing::warn!(error = %e, "could not reconcile payments"),
        }
    }
}

/// Periodic upkeep: sign an audit checkpoint when the log grew, pick up master keys added
/// by `souk keys rotate`, and forget idle rate-limit buckets so memory stays bounded.
async fn housekeeping(state: AppState, checkpoint_interval: Duration) {
    // One task, so aborting it stops both loops.
    tokio::join!(sign_in_alerts(state.clone()), upkeep(state, checkpoint_interval));
}

async fn upkeep(state: AppState, checkpoint_interval: Duration) {
    // Start-up has just signed a checkpoint; the first tick comes one interval later.
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + checkpoint_interval, checkpoint_interval);
    loop {
        tick.tick().await;
        if let Err(e) = souk_core::audit::checkpoint(state.souk()).await {
            tracing::warn!(error = %e, "could not sign an audit checkpoint");
        }
        if let Err(e) = state.souk().keys.reload() {
            tracing::warn!(error = %e, "could not reload the master keys");
        }
        state.forget_idle_clients();
        state.souk().identity.gate.forget_idle();
        if let Err(e) = souk_core::idempotency::purge(state.souk()).await {
            tracing::warn!(error = %e, "could not purge idempotency keys");
        }
        if let Err(e) = souk_core::risk::decide::prune(state.souk()).await {
            tracing::warn!(error = %e, "could not prune risk velocity events");
        }
    }
}
