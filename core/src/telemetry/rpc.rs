//! The spans the RPC layer makes: one per call on the caller's side (`CLIENT`), one per request
//! served on the callee's side (`SERVER`), named `service/method` with OpenTelemetry's `rpc.*`
//! attributes. Without a tracer these pass the caller's context on untouched and cost one load.

use bytes::Bytes;

use super::context::TraceContext;
use super::current::current;
use super::span::{Span, SpanKind};
use super::tracer::tracer;
use super::wire::{from_wire, to_wire};
use crate::rpc::WireError;

/// The parent a call takes: the context the binding passed, else the current one.
fn parent_of(trace: Option<&Bytes>) -> Option<TraceContext> {
    match trace {
        Some(raw) => from_wire(raw),
        None => current(),
    }
}

/// A call is about to go out: its span (if recorded) and the `trace` field to send.
#[inline]
pub(crate) fn client(target: &str, method: &str, trace: Option<Bytes>) -> (Option<Span>, Option<Bytes>) {
    let Some(t) = tracer() else { return (None, trace) };
    let parent = parent_of(trace.as_ref());
    let mut span = t.start(name_of(target, method).into(), SpanKind::Client, parent.as_ref());
    let wire = Some(to_wire(span.context()));
    if !span.is_recording() {
        return (None, wire);
    }
    attributes(&mut span, target, method);
    (Some(span), wire)
}

/// A request is being served: its span (if recorded) and the `trace` its handler sees (and passes
/// on to the calls it makes). None without a tracer: the handler sees what the caller sent.
#[inline]
pub(crate) fn server(service: &str, method: &str, trace: Option<&Bytes>) -> Option<Served> {
    let t = tracer()?;
    let parent = trace.and_then(from_wire);
    let mut span = t.start(name_of(service, method).into(), SpanKind::Server, parent.as_ref());
    let wire = to_wire(span.context());
    let context = span.context().clone();
    if !span.is_recording() {
        return Some(Served { span: None, context, wire });
    }
    attributes(&mut span, service, method);
    Some(Served { span: Some(span), context, wire })
}

/// A request served under tracing.
pub(crate) struct Served {
    /// Its span, if recorded.
    pub(crate) span: Option<Span>,
    /// The context its handler runs in (the span's, recorded or not).
    pub(crate) context: TraceContext,
    /// The same as a `trace` field.
    pub(crate) wire: Bytes,
}

/// `service/method`, the service without its version or range, as OpenTelemetry's RPC
/// conventions name spans: the caller's and the callee's spans of a call have the same name.
fn name_of(target: &str, method: &str) -> String {
    let name = target.split_once('@').map_or(target, |(n, _)| n);
    format!("{name}/{method}")
}

fn attributes(span: &mut Span, target: &str, method: &str) {
    let name = target.split_once('@').map_or(target, |(n, _)| n);
    span.set_attribute("rpc.system", "omnitron");
    span.set_attribute("rpc.service", name.to_string());
    span.set_attribute("rpc.method", method.to_string());
}

/// Ends a call's span with its outcome: an error's code and message mark it failed.
pub(crate) fn end<T>(span: Option<Span>, r: &Result<T, WireError>) {
    if let Some(mut s) = span {
        if let Err(e) = r {
            s.set_error(&e.code, &e.message);
        }
        s.end();
    }
}
