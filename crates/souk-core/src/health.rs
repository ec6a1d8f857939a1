//! Readiness: can this process serve requests that need the database?

use std::time::Duration;

use crate::{CoreError, Souk};

/// How long a readiness probe waits for the database before calling it down.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Succeeds when the database answers a query within [`READINESS_TIMEOUT`].
pub async fn readiness(souk: &Souk) -> Result<(), CoreError> {
    if souk.store.is_closed() {
        return Err(CoreError::Unavailable);
    }
    souk.store.ping(READINESS_TIMEOUT).await.map_err(|_| CoreError::Unavailable)
}
