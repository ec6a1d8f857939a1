//! Accounts' personal data: sealed on write, revealed on read, found by email through the
//! blind index, erased by destroying the account's data key.

use souk_crypto::{FieldContext, Sealed, Subject};
use souk_domain::ids::AccountId;
use souk_store::accounts as store;
use sqlx::AnyConnection;

use crate::keys::Revealed;
use crate::{CoreError, Souk};

/// An account's personal data in clear, for its owner and authorized staff only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub email: Revealed,
    pub name: Revealed,
    pub address: Option<Revealed>,
}

fn ctx<'a>(column: &'static str, row: &'a str) -> FieldContext<'a> {
    FieldContext { table: "accounts", column, row_id: row }
}

/// Seals and stores an account's personal data, unless it already has some.
pub async fn set_profile(
    souk: &Souk,
    tx: &mut AnyConnection,
    id: AccountId,
    email: &str,
    name: &str,
    address: Option<&str>,
) -> Result<bool, CoreError> {
    let row = id.to_string();
    let subject = Subject { kind: "account", id: &row };
    let now = souk.clock.now();
    let email_sealed = souk.keys.seal(tx, subject, &ctx("email", &row), email.as_bytes(), now).await?;
    let name_sealed = souk.keys.seal(tx, subject, &ctx("name", &row), name.as_bytes(), now).await?;
    let address_sealed = match address {
        Some(a) => Some(souk.keys.seal(tx, subject, &ctx("address", &row), a.as_bytes(), now).await?),
        None => None,
    };
    let index = souk.keys.email_index(email);
    Ok(store::set_profile_if_absent(tx, id, &email_sealed, &index, &name_sealed, address_sealed.as_ref())
        .await?)
}

/// An account's personal data, revealed (or marked erased).
pub async fn profile(souk: &Souk, id: AccountId) -> Result<Profile, CoreError> {
    let mut conn = souk.store.conn().await?;
    let sealed = store::profile(&mut conn, id).await?.ok_or(CoreError::NotFound("account"))?;
    let row = id.to_string();
    let subject = Subject { kind: "account", id: &row };
    let keys = &souk.keys;
    let email =
        keys.reveal(&mut conn, subject, &ctx("email", &row), &Sealed::from_stored(sealed.email)).await?;
    let name = keys.reveal(&mut conn, subject, &ctx("name", &row), &Sealed::from_stored(sealed.name)).await?;
    let address = match sealed.address {
        Some(a) => {
            Some(keys.reveal(&mut conn, subject, &ctx("address", &row), &Sealed::from_stored(a)).await?)
        }
        None => None,
    };
    Ok(Profile { email, name, address })
}

/// The account with this email, if any: candidates share the truncated blind index, and
/// each is opened to compare.
pub async fn find_by_email(souk: &Souk, email: &str) -> Result<Option<AccountId>, CoreError> {
    let mut conn = souk.store.conn().await?;
    let wanted = souk_crypto::blind_index::normalize_email(email);
    for (id, sealed) in store::by_email_index(&mut conn, &souk.keys.email_index(email)).await? {
        let row = id.to_string();
        let subject = Subject { kind: "account", id: &row };
        let revealed =
            souk.keys.reveal(&mut conn, subject, &ctx("email", &row), &Sealed::from_stored(sealed)).await?;
        if let Revealed::Text(found) = revealed
            && souk_crypto::blind_index::normalize_email(&found) == wanted
        {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Erases an account's personal data by destroying its data key, and records it.
pub async fn erase(souk: &Souk, id: AccountId, actor: crate::audit::Actor) -> Result<u64, CoreError> {
    let mut tx = crate::audit::AuditedTx::begin(souk).await?;
    let row = id.to_string();
    let subject = Subject { kind: "account", id: &row };
    let destroyed = souk.keys.shred(tx.conn(), subject, souk.clock.now()).await?;
    let event = crate::audit::Event {
        actor,
        action: "account.erase",
        target_kind: "account",
        target_id: row.clone(),
        outcome: crate::audit::Outcome::Success,
        request_id: String::new(),
        detail: serde_json::json!({ "data_keys_destroyed": destroyed }),
    };
    tx.record(&[event]).await?;
    tx.commit().await?;
    Ok(destroyed)
}
