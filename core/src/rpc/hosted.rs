//! A service hosted in this process with its metric series, and the counting of its calls: every
//! way of serving one (a request read from a connection, a call made here, a deferred call
//! answered later) counts it the same way.

use bytes::Bytes;
use tokio::time::Instant;

use super::codec::WireError;
use super::metrics::{MethodMetrics, ServiceMetrics};
use super::service::{CallContext, Service};

/// A service hosted in this process, with its metric series.
#[derive(Debug)]
pub(crate) struct LocalService {
    pub(crate) service: Service,
    pub(crate) metrics: ServiceMetrics,
}

/// When the handler's timer fires: the caller's deadline, or the service's own if sooner.
pub(crate) fn timer_deadline(svc: &LocalService, ctx: &CallContext) -> Instant {
    svc.service.deadline.map_or(ctx.deadline, |d| ctx.deadline.min(ctx.received + d))
}

pub(crate) fn count_call(svc: &LocalService, method: &str) {
    if let Some(m) = svc.metrics.methods.get(method) {
        m.calls.inc();
    }
}

/// Counts a finished call's duration and error code.
pub(crate) fn count_result(
    svc: &LocalService,
    method: &str,
    started: Instant,
    result: Result<Bytes, WireError>,
) -> Result<Bytes, WireError> {
    count_result_in(svc, svc.metrics.methods.get(method).map(|m| &**m), method, started, result)
}

/// [`count_result`] with the method's series already looked up.
pub(crate) fn count_result_in(
    svc: &LocalService,
    m: Option<&MethodMetrics>,
    method: &str,
    started: Instant,
    result: Result<Bytes, WireError>,
) -> Result<Bytes, WireError> {
    if let Some(m) = m {
        m.duration.observe(started.elapsed().as_secs_f64());
    }
    if let Err(e) = &result {
        svc.metrics.error(method, &e.code);
    }
    result
}
