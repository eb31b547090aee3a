//! Tracing from C: spans of your own (omnitron_span_start / omnitron_span_end), the trace context
//! a handler runs in and the calls it makes carry, and tracing set up from the OTEL_* variables.
//!
//! C code is blocking, so the current context belongs to the thread: a handler runs with its
//! call's context current on its thread; a span started on a thread is current there until it
//! ends; every call made from that thread carries the current context.

use std::ffi::c_char;
use std::time::Duration;

use omnitron::telemetry::{self, AttrValue, SpanKind, TraceContext};
use omnitron::{Error, ErrorCode};

use crate::boundary::{Table, check_out, give_string, guard, guard_out, str_arg, write_out};
use crate::error::OmnitronStatus;

/// A span started by omnitron_span_start; ended (and freed) by omnitron_span_end.
#[derive(Debug)]
pub struct OmnitronSpan {
    _private: [u8; 0],
}

struct SpanEntry {
    /// The engine's number for it (0: not recorded).
    id: u64,
    /// The thread's context before it started: current again when it ends (on that thread).
    previous: Option<TraceContext>,
    /// The thread that started it (the one whose current context it is).
    thread: std::thread::ThreadId,
}

static SPANS: Table<parking_lot::Mutex<Option<SpanEntry>>> = Table::new("span");

/// Starts a span named `name` (`kind`: "internal", "server", "client", "producer" or "consumer";
/// NULL: internal), a child of this thread's current context (or the root of a new trace), and
/// makes it this thread's current context: calls made from this thread until it ends are its
/// children. End it with omnitron_span_end, on the same thread (spans nest: end the last started
/// first). `*out` is NULL on failure. Without tracing set up (omnitron_tracing_init_from_env) the
/// span records nothing but its context is still passed on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_span_start(
    name: *const c_char,
    kind: *const c_char,
    out: *mut *mut OmnitronSpan,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let name = str_arg(name, "name")?;
        if name.is_empty() {
            return Err(Error::invalid_argument("a span needs a name"));
        }
        let kind = if kind.is_null() { SpanKind::Internal } else { SpanKind::parse(str_arg(kind, "kind")?)? };
        let parent = telemetry::current();
        let (id, context) = telemetry::start_span(name.to_string(), kind, parent.as_ref());
        let previous = telemetry::set_thread_context(Some(context));
        let thread = std::thread::current().id();
        SPANS.insert_out(out, parking_lot::Mutex::new(Some(SpanEntry { id, previous, thread })))
    })
}

/// Sets a text attribute on a span (copied). Attributes of a span whose trace is not sampled are
/// dropped.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_span_set_attribute(
    span: *mut OmnitronSpan,
    key: *const c_char,
    value: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let s = SPANS.get(span)?;
        let (key, value) = (str_arg(key, "key")?.to_string(), str_arg(value, "value")?.to_string());
        if let Some(e) = s.lock().as_ref() {
            telemetry::set_span_attribute(e.id, key, AttrValue::from(value));
        }
        Ok(())
    })
}

/// Ends a span and frees its handle; on the thread that started it, the context current before it
/// started is current again (ended on another thread, no thread's context changes). With
/// `error_message` (NULL: it succeeded) the span is marked failed, with `error_code` (NULL: none)
/// as its `error.type`. A handle already ended is OMNITRON_STATUS_INVALID_HANDLE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_span_end(
    span: *mut OmnitronSpan,
    error_code: *const c_char,
    error_message: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let code = if error_code.is_null() { None } else { Some(str_arg(error_code, "error_code")?) };
        let message =
            if error_message.is_null() { None } else { Some(str_arg(error_message, "error_message")?) };
        let s = SPANS.get(span)?;
        SPANS.remove(span);
        let Some(e) = s.lock().take() else {
            return Err(Error::new(ErrorCode::InvalidHandle, "the span was already ended"));
        };
        telemetry::end_span(e.id, code, message);
        // Ended on another thread: that thread's context is not this span's to restore.
        if e.thread == std::thread::current().id() {
            telemetry::set_thread_context(e.previous);
        }
        Ok(())
    })
}

/// This thread's current trace context as a W3C `traceparent` (`*out`, NUL-terminated; free it
/// with omnitron_free), or `*out` NULL outside any trace.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_trace_current(out: *mut *mut c_char) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        match telemetry::current() {
            Some(c) => write_out(out, give_string(&c.traceparent())?, "out"),
            None => Ok(()),
        }
    })
}

/// Sets up tracing from the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT,
/// OTEL_TRACES_SAMPLER, ...; omnitron.yaml's `tracing:` sets them for each process), with
/// `service_name` when OTEL_SERVICE_NAME is not set. Nothing happens when none is set, or when
/// tracing is already on. Peers do this themselves when they start; call it first to trace
/// spans made before. A variable that cannot be used is OMNITRON_STATUS_INVALID_CONFIG, naming it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_tracing_init_from_env(service_name: *const c_char) -> OmnitronStatus {
    guard(|| telemetry::install_from_env(str_arg(service_name, "service_name")?, "c"))
}

/// Sends every span ended so far to the collector, waiting at most `timeout_ms`:
/// OMNITRON_STATUS_TIMEOUT if some were still waiting then. Call it before the program exits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_tracing_flush(timeout_ms: u64) -> OmnitronStatus {
    guard(|| {
        if telemetry::flush(Duration::from_millis(timeout_ms.min(600_000))) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::Timeout,
                format!("spans were still waiting for export after {timeout_ms} ms"),
            ))
        }
    })
}

/// `f` in the calling thread's current trace (a span the C program started): a workflow run or a
/// queue job started in it is its child, whichever thread the engine polls it on.
pub(crate) fn in_caller_trace<F: std::future::Future>(f: F) -> impl std::future::Future<Output = F::Output> {
    let parent = omnitron::telemetry::current();
    async move {
        match parent {
            Some(p) => omnitron::telemetry::in_context(p, f).await,
            None => f.await,
        }
    }
}
