//! Tracing for Python: spans made by `@trace` and the trace context a handler runs in and passes on
//! (`python/omnitron/telemetry.py`). Sampling, recording and export are the engine's.

use std::time::Duration;

use bytes::Bytes;
use omnitron::telemetry::{self, AttrValue, SpanKind, TraceContext};
use pyo3::prelude::*;

use crate::error::ToPy;

/// A trace context as Python holds it: `(traceparent, tracestate)`.
pub(crate) type Headers = (String, Option<String>);

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(trace_span_start, m)?)?;
    m.add_function(wrap_pyfunction!(trace_span_attribute, m)?)?;
    m.add_function(wrap_pyfunction!(trace_span_end, m)?)?;
    m.add_function(wrap_pyfunction!(tracing_install_from_env, m)?)?;
    m.add_function(wrap_pyfunction!(tracing_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(tracing_flush, m)?)?;
    Ok(())
}

/// The RPC `trace` field for a context from Python (an invalid `traceparent` passes nothing on:
/// W3C says a new trace starts).
pub(crate) fn wire_of(h: Option<&Headers>) -> Option<Bytes> {
    let (parent, state) = h?;
    TraceContext::from_headers(parent, state.as_deref()).map(|c| telemetry::to_wire(&c))
}

/// A call's `trace` field as Python sees it.
pub(crate) fn headers_of(raw: Option<&Bytes>) -> Option<Headers> {
    let raw = raw?;
    // The usual form: its traceparent as it came, nothing formatted.
    if let Some(p) = telemetry::plain_traceparent(raw) {
        return Some((p.to_string(), None));
    }
    telemetry::from_wire(raw).map(|c| c.headers())
}

/// Starts a span: `(id, traceparent, tracestate)`, id 0 when it is not recorded (nothing to end).
#[pyfunction]
#[pyo3(signature = (name, kind=None, traceparent=None, tracestate=None))]
fn trace_span_start(
    py: Python<'_>,
    name: String,
    kind: Option<&str>,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) -> PyResult<(u64, String, Option<String>)> {
    let kind = match kind {
        None => SpanKind::Internal,
        Some(k) => SpanKind::parse(k).py(py)?,
    };
    let parent = traceparent.and_then(|p| TraceContext::from_headers(p, tracestate));
    let (id, context) = telemetry::start_span(name, kind, parent.as_ref());
    let (parent, state) = context.headers();
    Ok((id, parent, state))
}

/// Sets an attribute (str, int, float or bool) on a span `trace_span_start` started.
#[pyfunction]
fn trace_span_attribute(id: u64, key: String, value: &Bound<'_, PyAny>) -> PyResult<()> {
    // bool before int: a Python bool is an int.
    let v = if let Ok(b) = value.cast::<pyo3::types::PyBool>() {
        AttrValue::Bool(b.is_true())
    } else if let Ok(i) = value.extract::<i64>() {
        AttrValue::Int(i)
    } else if let Ok(f) = value.extract::<f64>() {
        AttrValue::Float(f)
    } else if let Ok(s) = value.extract::<String>() {
        AttrValue::from(s)
    } else {
        return Err(crate::error::invalid_argument(format!(
            "a span attribute is a str, int, float or bool, got {}",
            value.get_type().name()?
        )));
    };
    telemetry::set_span_attribute(id, key, v);
    Ok(())
}

/// Ends a span: failed when `message` is given (with the error's `code`, if any).
#[pyfunction]
#[pyo3(signature = (id, code=None, message=None))]
fn trace_span_end(id: u64, code: Option<&str>, message: Option<&str>) -> bool {
    telemetry::end_span(id, code, message)
}

/// Installs tracing from the `OTEL_*` variables (once per process); whether tracing is on.
#[pyfunction]
fn tracing_install_from_env(py: Python<'_>, service: &str) -> PyResult<bool> {
    telemetry::install_from_env(service, "python").py(py)?;
    Ok(telemetry::enabled())
}

/// Whether tracing is on in this process.
#[pyfunction]
fn tracing_enabled() -> bool {
    telemetry::enabled()
}

/// Exports every span ended so far, waiting at most `timeout_s` (the GIL released).
#[pyfunction]
fn tracing_flush(py: Python<'_>, timeout_s: f64) -> bool {
    let s = if timeout_s.is_finite() { timeout_s.clamp(0.0, 60.0) } else { 0.0 };
    py.detach(|| telemetry::flush(Duration::from_secs_f64(s)))
}
