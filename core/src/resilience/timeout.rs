//! Timeouts.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};

/// The error of an operation that took longer than `d`.
pub fn timeout_error(d: Duration, what: Option<&str>) -> Error {
    let what = what.map(|w| format!("'{w}' ")).unwrap_or_default();
    Error::new(ErrorCode::Timeout, format!("operation {what}timed out after {} ms", d.as_millis()))
}

/// Runs `fut`, giving up after `d` with a `Timeout` error (the future is dropped).
pub async fn timeout<T>(d: Duration, fut: impl Future<Output = T>) -> Result<T> {
    if d.is_zero() {
        return Err(Error::new(ErrorCode::InvalidPolicy, "a timeout must be longer than 0"));
    }
    tokio::time::timeout(d, fut).await.map_err(|_| timeout_error(d, None))
}
