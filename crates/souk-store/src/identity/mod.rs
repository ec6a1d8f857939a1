//! Identity persistence: account sign-in state, passwords, sessions, one-time tokens,
//! throttles, second factors, passkeys and API keys. Secrets never arrive here in clear:
//! callers pass hashes, PHC strings and sealed bytes.

pub mod api_keys;
pub mod factors;
pub mod sessions;
pub mod signin;

use souk_domain::ids::AccountId;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::StoreError;

pub(crate) fn account_id(row: &AnyRow, column: &str) -> Result<AccountId, StoreError> {
    let raw: String = row.try_get(column)?;
    raw.parse::<AccountId>().map_err(StoreError::corrupt)
}
