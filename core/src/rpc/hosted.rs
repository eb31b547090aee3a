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
    /// Its calls' events, when they are on (`call_events.rs`).
    pub(crate) events: Option<super::call_events::CallEvents>,
}

/// When the handler's timer fires: the caller's deadline, or the service's own if sooner.
pub(crate) fn timer_deadline(svc: &LocalService, ctx: &CallContext) -> Instant {
    svc.service.deadline.map_or(ctx.deadline, |d| ctx.deadline.min(ctx.received + d))
}

pub(crate) fn count_call(svc: &LocalService, method: &str, trace: Option<&Bytes>) {
    if let Some(m) = svc.metrics.methods.get(method) {
        m.calls.inc();
    }
    if let Some(e) = &svc.events {
        e.started(method, trace);
    }
}

/// Counts a finished call's duration and error code.
pub(crate) fn count_result(
    svc: &LocalService,
    method: &str,
    started: Instant,
    result: Result<Bytes, WireError>,
    trace: Option<&Bytes>,
) -> Result<Bytes, WireError> {
    count_result_in(svc, svc.metrics.methods.get(method).map(|m| &**m), method, started, result, trace)
}

/// [`count_result`] with the method's series already looked up.
pub(crate) fn count_result_in(
    svc: &LocalService,
    m: Option<&MethodMetrics>,
    method: &str,
    started: Instant,
    result: Result<Bytes, WireError>,
    trace: Option<&Bytes>,
) -> Result<Bytes, WireError> {
    let took = started.elapsed();
    if let Some(m) = m {
        m.duration.observe(took.as_secs_f64());
    }
    if let Err(e) = &result {
        svc.metrics.error(method, &e.code);
    }
    if crate::log::enabled(crate::log::Level::Debug, CALL_LOG) {
        log_call(svc.service.name(), method, took, &result, trace);
    }
    if let Some(e) = &svc.events {
        e.ended(method, took, &result, trace);
    }
    result
}

/// The trace a served call's debug line and events name, kept only when one of them is made.
#[inline]
pub(crate) fn logged_trace(svc: &LocalService, trace: &Option<Bytes>) -> Option<Bytes> {
    if svc.events.is_some() || crate::log::enabled(crate::log::Level::Debug, CALL_LOG) {
        trace.clone()
    } else {
        None
    }
}

/// The module of the line each served call writes at debug (spec 7.1).
pub(crate) const CALL_LOG: &str = "omnitron.rpc";

/// `inventory/reserve completed in 0.41 ms`, with the service, the method, the outcome and the
/// call's trace (its correlation id).
#[cold]
fn log_call(
    service: &str,
    method: &str,
    took: std::time::Duration,
    r: &Result<Bytes, WireError>,
    trace: Option<&Bytes>,
) {
    use crate::log::{Level, Record, record_string};
    let ms = took.as_secs_f64() * 1000.0;
    let (msg, fields) = match r {
        Ok(_) => (
            format!("{service}/{method} completed in {ms:.2} ms"),
            format!("{{\"outcome\":\"completed\",\"duration_ms\":{ms:.3}}}"),
        ),
        Err(e) => {
            let mut f = format!("{{\"outcome\":\"failed\",\"duration_ms\":{ms:.3},\"error\":{{\"code\":");
            record_string(&mut f, &e.code);
            f.push_str(",\"message\":");
            record_string(&mut f, &e.message);
            f.push_str("}}");
            (format!("{service}/{method} failed in {ms:.2} ms: {} {}", e.code, e.message), f)
        }
    };
    let ctx = trace.and_then(crate::telemetry::from_wire);
    let mut rec = Record::new(Level::Debug, CALL_LOG, &msg);
    rec.fields = Some(&fields);
    rec.service = Some(service);
    rec.method = Some(method);
    rec.trace = ctx.as_ref();
    crate::log::write(&rec);
}
