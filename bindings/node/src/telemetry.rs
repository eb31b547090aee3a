//! Tracing for JavaScript: spans made by `@Trace()` and the trace context a handler runs in and
//! passes on (`lib/telemetry.ts`). Sampling, recording and export are the engine's.

use std::time::Duration;

use bytes::Bytes;
use napi_derive::napi;
use omnitron::telemetry::{self, AttrValue, SpanKind, TraceContext};

use crate::error::ToJs;

/// A span `traceSpanStart` started.
#[napi(object)]
pub struct StartedSpan {
    /// Pass to `traceSpanEnd`; 0 when the span is not recorded (nothing to end).
    pub id: f64,
    /// Its context, for the code it wraps.
    pub traceparent: String,
    pub tracestate: Option<String>,
}

/// The context a `traceparent` (and `tracestate`) header gives; None if it is not valid.
fn context_of(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<TraceContext> {
    TraceContext::from_headers(traceparent?, tracestate)
}

/// The RPC `trace` field for a `traceparent` from JavaScript (an invalid one starts a new trace, as
/// W3C says: none is passed on).
pub(crate) fn wire_of(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<Bytes> {
    context_of(traceparent, tracestate).map(|c| telemetry::to_wire(&c))
}

/// A call's trace context on its way to its JavaScript handler: the field as it came when it is in
/// the usual form (its `traceparent` is read from it in place, nothing is formatted), else the
/// two headers.
pub(crate) enum CallTrace {
    Plain(Bytes),
    Headers(Box<(String, Option<String>)>),
}

impl CallTrace {
    pub(crate) fn of(raw: Option<&Bytes>) -> Option<CallTrace> {
        let raw = raw?;
        if telemetry::plain_traceparent(raw).is_some() {
            return Some(CallTrace::Plain(raw.clone()));
        }
        telemetry::from_wire(raw).map(|c| CallTrace::Headers(Box::new(c.headers())))
    }

    /// `traceparent` and `tracestate`, as the item's two strings.
    pub(crate) fn strings(&self) -> [Option<&str>; 2] {
        match self {
            CallTrace::Plain(raw) => [telemetry::plain_traceparent(raw), None],
            CallTrace::Headers(h) => [Some(&h.0), h.1.as_deref()],
        }
    }
}

/// Starts a span named `name`, a child of the given context (or a root, sampled as configured).
#[napi]
pub fn trace_span_start(
    name: String,
    kind: Option<String>,
    traceparent: Option<String>,
    tracestate: Option<String>,
) -> napi::Result<StartedSpan, String> {
    let kind = match kind.as_deref() {
        None => SpanKind::Internal,
        Some(k) => SpanKind::parse(k).js()?,
    };
    let parent = context_of(traceparent.as_deref(), tracestate.as_deref());
    let (id, context) = telemetry::start_span(name, kind, parent.as_ref());
    let (traceparent, tracestate) = context.headers();
    // Numbers past 2^53 would not survive JavaScript: the engine's count starts at 1.
    Ok(StartedSpan { id: id as f64, traceparent, tracestate })
}

/// Sets an attribute on a span `traceSpanStart` started (nothing if it ended or is not recorded).
#[napi]
pub fn trace_span_attribute(id: f64, key: String, value: napi::Either<String, napi::Either<f64, bool>>) {
    let value = match value {
        napi::Either::A(v) => AttrValue::from(v),
        napi::Either::B(napi::Either::A(n)) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            AttrValue::Int(n as i64)
        }
        napi::Either::B(napi::Either::A(n)) => AttrValue::Float(n),
        napi::Either::B(napi::Either::B(b)) => AttrValue::Bool(b),
    };
    telemetry::set_span_attribute(id as u64, key, value);
}

/// Ends a span: failed when `message` is given (with the error's `code`, if any).
#[napi]
pub fn trace_span_end(id: f64, code: Option<String>, message: Option<String>) {
    telemetry::end_span(id as u64, code.as_deref(), message.as_deref());
}

/// Installs tracing from the `OTEL_*` variables (once per process); whether tracing is on.
#[napi]
pub fn tracing_install_from_env(service: String) -> napi::Result<bool, String> {
    telemetry::install_from_env(&service, "node").js()?;
    Ok(telemetry::enabled())
}

/// Whether tracing is on in this process.
#[napi]
pub fn tracing_enabled() -> bool {
    telemetry::enabled()
}

/// Exports every span ended so far, waiting at most `timeoutMs` (off the event loop): true if
/// all went out.
#[napi(ts_return_type = "Promise<boolean>")]
pub fn tracing_flush(timeout_ms: f64) -> napi::bindgen_prelude::AsyncTask<Flush> {
    let ms = if timeout_ms.is_finite() { timeout_ms.clamp(0.0, 60_000.0) } else { 0.0 };
    napi::bindgen_prelude::AsyncTask::new(Flush(Duration::from_millis(ms as u64)))
}

/// `tracingFlush`'s work, on a libuv worker thread.
pub struct Flush(Duration);

impl napi::Task for Flush {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> napi::Result<bool> {
        Ok(telemetry::flush(self.0))
    }

    fn resolve(&mut self, _env: napi::Env, out: bool) -> napi::Result<bool> {
        Ok(out)
    }
}
