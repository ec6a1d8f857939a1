//! Paying: Souk opens its card vault at start (its own database and keys beside, never
//! inside, the marketplace's), and the vault's events land in Souk's audit log without a
//! card number.

use std::time::Duration;

use secrecy::SecretString;
use souk_payments::connector::simulator::TEST_CARDS;
use souk_testkit::{Db, TestApp, backend_tests};
use souk_vault::{CallContext, NewCard};

/// The simulator's card that always succeeds.
fn success_card() -> &'static str {
    TEST_CARDS[0].number
}

/// How many audit entries have `action`.
async fn audit_count(app: &TestApp, action: &str) -> i64 {
    let mut tx = app.state().souk().store.begin().await.unwrap();
    let sql = format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'");
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    n
}

backend_tests! {
    async fn the_vault_opens_at_start_and_audits_into_the_log(app) {
        let souk = app.state().souk();
        let card = souk
            .vault
            .tokenize(
                &CallContext::new("test"),
                NewCard { number: SecretString::from(success_card().to_owned()), exp_month: 12, exp_year: 2099 },
            )
            .await
            .unwrap();
        assert_eq!(card.last4, success_card()[success_card().len() - 4..]);
        // The event reaches the log through the writer task.
        let mut n = 0;
        for _ in 0..100 {
            n = audit_count(app, "vault.tokenize").await;
            if n > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(n, 1);
        // Its own keys, apart from the marketplace's.
        assert!(app.config.payments.vault_keys_dir.exists());
        assert_ne!(app.config.payments.vault_keys_dir, app.config.data_dir.join("keys"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_vault_has_a_database_file_of_its_own() {
    let app = TestApp::spawn(Db::Sqlite).await;
    assert!(app.config.data_dir.join("vault.db").exists());
    assert!(app.config.data_dir.join("souk.db").exists());
    app.stop().await;
}
