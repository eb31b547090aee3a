//! A deferred call from another process as its connection records it while its handler works on
//! it (see `deferred.rs` for the handlers): its phase ([`DeferredPhase`], one enum where two flags,
//! started and ended, could disagree), what is counted when it ends, and the error it ends with
//! when its handler's answer does not end it.

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

/// Where a deferred call is between its start callback and its end. Its handler is told to stop
/// (the cancel callback) only once its start callback has returned, so that the handler knows the
/// call: an end that comes first waits for that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeferredPhase {
    /// Its start callback has not returned.
    Starting,
    /// It ended, for this reason, before its start callback returned: it ends when that returns.
    EndedWhileStarting(Ended),
    /// Its start callback returned: it waits for its handler's answer.
    Waiting,
}

impl DeferredPhase {
    /// Its start callback returned. `None`: it waits for its answer now; `Some(why)`: it ended
    /// meanwhile, and ends now.
    pub(crate) fn started(&mut self) -> Option<Ended> {
        match *self {
            DeferredPhase::Starting | DeferredPhase::Waiting => {
                *self = DeferredPhase::Waiting;
                None
            }
            DeferredPhase::EndedWhileStarting(why) => Some(why),
        }
    }

    /// It ends for `why` (a CANCEL, its deadline): true if it ends now, false if it ends when its
    /// start callback returns (for the first reason given).
    pub(crate) fn end(&mut self, why: Ended) -> bool {
        match *self {
            DeferredPhase::Waiting => true,
            DeferredPhase::Starting => {
                *self = DeferredPhase::EndedWhileStarting(why);
                false
            }
            DeferredPhase::EndedWhileStarting(_) => false,
        }
    }

    /// Its connection closed: true if it ends now, false if it ends when its start callback
    /// returns. It then ends as closed whatever ended it first: no answer can be sent any more.
    pub(crate) fn close(&mut self) -> bool {
        match *self {
            DeferredPhase::Waiting => true,
            DeferredPhase::Starting | DeferredPhase::EndedWhileStarting(_) => {
                *self = DeferredPhase::EndedWhileStarting(Ended::Closed);
                false
            }
        }
    }
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
    pub(crate) phase: DeferredPhase,
    /// Its server span, when its trace is recorded: ended with it.
    pub(crate) span: Option<crate::telemetry::Span>,
    /// Its trace, kept for its debug line when that is written.
    pub(crate) logged: Option<Bytes>,
}

impl DeferredCall {
    /// Counts how it ended (duration, error code), and ends its span.
    pub(crate) fn count(&mut self, r: Result<Bytes, WireError>) -> Result<Bytes, WireError> {
        crate::telemetry::rpc::end(self.span.take(), &r);
        count_result_in(
            &self.svc,
            self.metrics.as_deref(),
            &self.method,
            self.received,
            r,
            self.logged.as_ref(),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use DeferredPhase::{EndedWhileStarting, Starting, Waiting};

    #[test]
    fn a_started_call_waits_for_its_answer() {
        let mut p = Starting;
        assert_eq!(p.started(), None);
        assert_eq!(p, Waiting);
    }

    #[test]
    fn a_waiting_call_ends_at_once() {
        for why in [Ended::Cancelled, Ended::TimedOut] {
            let mut p = Waiting;
            assert!(p.end(why));
        }
        let mut p = Waiting;
        assert!(p.close());
    }

    #[test]
    fn an_end_before_the_start_returns_waits_for_it() {
        let mut p = Starting;
        assert!(!p.end(Ended::TimedOut));
        assert_eq!(p, EndedWhileStarting(Ended::TimedOut));
        assert_eq!(p.started(), Some(Ended::TimedOut));
    }

    #[test]
    fn the_first_reason_to_end_is_kept() {
        let mut p = Starting;
        assert!(!p.end(Ended::Cancelled));
        assert!(!p.end(Ended::TimedOut));
        assert_eq!(p.started(), Some(Ended::Cancelled));
    }

    #[test]
    fn a_close_before_the_start_returns_ends_it_as_closed() {
        let mut p = Starting;
        assert!(!p.end(Ended::TimedOut));
        assert!(!p.close());
        assert_eq!(p.started(), Some(Ended::Closed));
        let mut p = Starting;
        assert!(!p.close());
        assert_eq!(p, EndedWhileStarting(Ended::Closed));
    }
}
