//! The `souk` binary itself: configuration errors exit 2 with a message naming the key,
//! `migrate` and `demo` work (and `demo` twice changes nothing), `serve` stops cleanly on
//! SIGTERM, and one flag switches to PostgreSQL.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn souk(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_souk"));
    cmd.current_dir(dir).env_remove("SOUK_TEST_DATABASE_URL").env("SOUK_LOG_LEVEL", "warn");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn configuration_errors_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("unknown.toml"), "[server]\nhttps_adr = \"127.0.0.1:1\"\n").unwrap();
    std::fs::write(dir.path().join("badvalue.toml"), "[http]\nbody_limit_bytes = -5\n").unwrap();
    std::fs::write(dir.path().join("badtype.toml"), "[rate_limit]\nenabled = \"sometimes\"\n").unwrap();
    std::fs::write(dir.path().join("broken.toml"), "[server\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--config", "unknown.toml", "config", "check"], "server.https_adr"),
        (&["--config", "badvalue.toml", "serve"], "http.body_limit_bytes"),
        (&["--config", "badtype.toml", "serve"], "rate_limit.enabled"),
        (&["--config", "broken.toml", "serve"], "not valid TOML"),
        (&["--config", "missing.toml", "serve"], "cannot read it"),
        (&["--database-url", "mysql://x/y", "migrate"], "database.url"),
    ];
    for (args, needle) in cases {
        let (code, _, err) = run(souk(dir.path()).args(*args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let (code, _, err) =
        run(souk(dir.path()).args(["config", "check"]).env("SOUK_SERVER_HTTPS_ADDR", "localhost"));
    assert_eq!(code, 2);
    assert!(err.contains("SOUK_SERVER_HTTPS_ADDR") && err.contains("server.https_addr"), "{err}");
    let (code, _, err) = run(souk(dir.path()).args(["config", "check"]).env("SOUK_SERVR_HTTPS_ADDR", "x"));
    assert_eq!(code, 2, "unknown SOUK_ variables are refused: {err}");
}

#[test]
fn config_example_is_a_loadable_config_and_check_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (code, example, _) = run(souk(dir.path()).args(["config", "example"]));
    assert_eq!(code, 0);
    std::fs::write(dir.path().join("souk.toml"), &example).unwrap();
    let (code, out, err) = run(souk(dir.path())
        .args(["--config", "souk.toml", "config", "check"])
        .env("SOUK_DATABASE_URL", "postgres://souk:hunter2@db.internal/souk"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("configuration OK") && out.contains("postgres://souk:***@db.internal/souk"),
        "{out}"
    );
    assert!(!out.contains("hunter2") && !err.contains("hunter2"));
}

#[test]
fn migrate_then_demo_twice_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(souk(dir.path()).arg("migrate"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("database migrated"));
    let (code, out, err) = run(souk(dir.path()).arg("demo"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("6 shops, 26 listings (with photos), 12 completed and reviewed orders added"),
        "{out}"
    );
    let (code, out, _) = run(souk(dir.path()).arg("demo"));
    assert_eq!(code, 0);
    assert!(out.contains("nothing added"), "{out}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("data")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o700, "the data directory is private");
}

#[test]
fn one_flag_switches_to_postgresql() {
    let Some(admin) = souk_testkit::postgres_admin_url() else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: skipped");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let name = format!("souk_cli_{}", uuid_like());
    rt.block_on(async {
        use sqlx::{Connection as _, Executor as _};
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).await.unwrap();
    });
    let mut url = reqwest::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(souk(dir.path()).args(["--database-url", url.as_str(), "demo"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("26 listings (with photos)"), "{out}");
    assert!(!dir.path().join("data/souk.db").exists(), "nothing was written to SQLite");
    rt.block_on(async {
        use sqlx::{Connection as _, Executor as _};
        let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
        c.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))).await.unwrap();
    });
}

fn uuid_like() -> String {
    format!("{}_{}", std::process::id(), Instant::now().elapsed().as_nanos())
}

#[test]
fn serve_prints_the_url_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = souk(dir.path())
        .env("SOUK_SERVER_HTTPS_ADDR", "127.0.0.1:0")
        .env("SOUK_SERVER_HTTP_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_mins(1);
    let addr = loop {
        assert!(Instant::now() < deadline, "no banner: {banner}");
        let line = lines.next().expect("server exited early").unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if let Some(rest) = line.trim().strip_prefix("Listening") {
            break rest.split_whitespace().next().unwrap().parse::<std::net::SocketAddr>().unwrap();
        }
    };
    assert!(banner.contains("Open          https://localhost:8443/"), "{banner}");
    let ca = std::fs::read(dir.path().join("data/tls/souk-local-ca.pem")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        let client = souk_testkit::client_trusting(&ca, addr);
        client.get(format!("https://localhost:{}/healthz", addr.port())).send().await.unwrap().status()
    });
    assert_eq!(status, 200);
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < deadline, "souk did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0), "a graceful stop exits 0");
}

#[test]
fn json_logs_are_one_object_per_line_and_carry_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = souk(dir.path())
        .arg("migrate")
        .env("SOUK_LOG_FORMAT", "json")
        .env("SOUK_LOG_LEVEL", "info")
        .env("SOUK_METRICS_TOKEN", "tok-s3cret-value")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty(), "info logs were written");
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{line}");
    }
    assert!(!stderr.contains("tok-s3cret-value"));
}

#[test]
fn openapi_command_prints_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(souk(dir.path()).arg("openapi"));
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(!dir.path().join("data").exists(), "printing the document touches nothing");
}

#[test]
fn keys_rotate_retire_and_audit_commands_work_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(souk(dir.path()).arg("demo"));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(souk(dir.path()).args(["keys", "status"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("v1: created") && out.contains("wraps 12 data keys and 3 system keys  (current)"),
        "{out}"
    );

    let (code, out, err) = run(souk(dir.path()).args(["keys", "rotate"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("master key v2 is current; 15 keys rewrapped"), "{out}");
    let (_, out, _) = run(souk(dir.path()).args(["keys", "status"]));
    assert!(out.contains("v1: created") && out.contains("wraps 0 data keys and 0 system keys"), "{out}");
    let (code, _, err) = run(souk(dir.path()).args(["keys", "retire", "2"]));
    assert_eq!(code, 1, "the current key cannot be retired");
    assert!(err.contains("current"), "{err}");
    let (code, out, err) = run(souk(dir.path()).args(["keys", "retire", "1"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("retired"));
    assert!(!dir.path().join("data/keys/kek-v0001.key").exists());
    // The data is still readable under v2 alone: the demo loader finds its accounts.
    let (code, out, _) = run(souk(dir.path()).arg("demo"));
    assert_eq!(code, 0);
    assert!(out.contains("nothing added"));

    let (code, out, err) = run(souk(dir.path()).args(["audit", "verify"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("audit log intact"), "{out}");
    let (code, proof, err) = run(souk(dir.path()).args(["audit", "prove", "0"]));
    assert_eq!(code, 0, "{err}");
    let proof: serde_json::Value = serde_json::from_str(&proof).unwrap();
    assert_eq!(proof["seq"], 0);
    let (code, export, _) = run(souk(dir.path()).args(["audit", "export-checkpoints"]));
    assert_eq!(code, 0);
    assert!(export.lines().count() >= 2, "{export}");
    std::fs::write(dir.path().join("seen.jsonl"), &export).unwrap();
    let (code, out, err) = run(souk(dir.path()).args(["audit", "check-checkpoints", "seen.jsonl"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("consistent with the log"), "{out}");

    // Someone edits the database behind Souk's back.
    let db = dir.path().join("data/souk.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query("UPDATE audit_log SET actor_id = 'mallory' WHERE seq = 1").execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    });
    let (code, out, err) = run(souk(dir.path()).args(["audit", "verify"]));
    assert_eq!(code, 1, "tampering makes verify fail");
    assert!(out.contains("entry 1 was modified") && err.contains("entry 1 was modified"), "{out}\n{err}");
    let (code, out, _) = run(souk(dir.path()).args(["audit", "check-checkpoints", "seen.jsonl"]));
    assert_eq!(code, 1, "an auditor's old checkpoints expose the rewrite: {out}");
}

#[test]
fn a_master_key_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(souk(dir.path()).arg("migrate"));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(souk(dir.path()).args(["keys", "status"]));
    assert_eq!(code, 0, "{err}");
    let key = dir.path().join("data/keys/kek-v0001.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(souk(dir.path()).args(["keys", "status"]));
    assert_eq!(code, 1);
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn master_keys_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (code, entry, _) = run(souk(dir.path()).args(["keys", "generate", "--version", "1"]));
    assert_eq!(code, 0);
    let entry = entry.trim().to_owned();
    assert!(entry.starts_with("1:"));
    let (code, out, err) = run(souk(dir.path())
        .arg("demo")
        .env("SOUK_KEYS_PROVIDER", "env")
        .env("SOUK_KEYS_MASTER_KEYS", &entry));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("26 listings (with photos)"));
    assert!(!dir.path().join("data/keys").exists(), "no key file was written");
    let (code, _, err) = run(souk(dir.path()).arg("demo").env("SOUK_KEYS_PROVIDER", "env"));
    assert_eq!(code, 2, "env provider without keys is a configuration error: {err}");
    // A different key cannot open what the first one sealed.
    let (_, other, _) = run(souk(dir.path()).args(["keys", "generate", "--version", "1"]));
    let (code, _, err) = run(souk(dir.path())
        .args(["keys", "status"])
        .env("SOUK_KEYS_PROVIDER", "env")
        .env("SOUK_KEYS_MASTER_KEYS", other.trim()));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot load the keys"), "{err}");
}
