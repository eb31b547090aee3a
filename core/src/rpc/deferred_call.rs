//! A deferred call from another process as its connection records it while its handler works on
//! it (see `deferred.rs` for the handlers): what is counted when it ends, and the error it ends
//! with when its handler's answer does not end it.

use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use super::codec::{WireError, wire};
use super::deferred::DeferredCancel;
use super::hosted::{LocalService, count_result_in};
use super::metrics::MethodMetrics;
use crate::error::ErrorCode;

/// Why a deferred call ended without its handler's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Its caller sent CANCEL.
    Cancelled,
    /// Its deadline passed.
    TimedOut,
    /// Its connection closed, or the other side reused its request id: no answer is sent.
    Closed,
}

/// A deferred call from another process that waits for its answer (in its connection's serving map).
pub(crate) struct DeferredCall {
    pub(crate) key: u64,
    pub(crate) cancel: DeferredCancel,
    pub(crate) svc: Arc<LocalService>,
    pub(crate) metrics: Option<Arc<MethodMetrics>>,
    pub(crate) method: String,
    pub(crate) received: Instant,
    pub(crate) deadline: Instant,
    /// Its start callback returned: until then the cancel callback is not called (an end that
    /// comes first is kept in `ended` and carried out when it returns).
    pub(crate) started: bool,
    pub(crate) ended: Option<Ended>,
}

impl DeferredCall {
    /// Counts how it ended (duration, error code).
    pub(crate) fn count(&self, r: Result<Bytes, WireError>) -> Result<Bytes, WireError> {
        count_result_in(&self.svc, self.metrics.as_deref(), &self.method, self.received, r)
    }

    /// The error it ends with when it ends without its handler's answer.
    pub(crate) fn error(&self, why: Ended) -> WireError {
        match why {
            Ended::Cancelled | Ended::Closed => self.cancelled(),
            Ended::TimedOut => self.timed_out(),
        }
    }

    /// Why it ended without its handler's answer: its caller cancelled it.
    fn cancelled(&self) -> WireError {
        wire(
            ErrorCode::Cancelled,
            format!("the call to '{}' {}() was cancelled", self.svc.service.id(), self.method),
        )
    }

    /// Why it ended without its handler's answer: the deadline passed.
    fn timed_out(&self) -> WireError {
        wire(
            ErrorCode::Timeout,
            format!(
                "'{}' {}() passed its deadline of {} ms",
                self.svc.service.id(),
                self.method,
                self.deadline.saturating_duration_since(self.received).as_millis()
            ),
        )
    }
}
