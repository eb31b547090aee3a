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
        None if super::current::any_context() => current(),
        None => None,
    }
}

/// A call is about to go out: its span (if recorded) and the `trace` field to send. Without a
/// tracer the caller's context is passed on as it is (a process that does not trace does not cut
/// the traces that cross it).
#[inline]
pub(crate) fn client(target: &str, method: &str, trace: Option<Bytes>) -> (Option<Span>, Option<Bytes>) {
    let Some(t) = tracer() else {
        return match trace {
            Some(t) => (None, Some(t)),
            None if super::current::any_context() => (None, super::wire::current_wire()),
            None => (None, None),
        };
    };
    // Checked only once a tracer is there: an untraced call pays nothing for it.
    if plumbing(target) {
        return (None, trace);
    }
    let parent = parent_of(trace.as_ref());
    let (context, parent_id, record) = t.decide(parent.as_ref());
    let wire = Some(to_wire(&context));
    if !record {
        return (None, wire);
    }
    let mut span = Span::recorded(context, parent_id, name_of(target, method).into(), SpanKind::Client);
    attributes(&mut span, target, method);
    (Some(span), wire)
}

/// The protocol's own services (`$registry`, `$status`: what the status page polls) and the
/// engine's (`omnitron.host`: a child reporting ready; `omnitron.control`: `omnitron ps`) are its
/// plumbing, not the application's work: no span of their own; a context they carry is passed on.
fn plumbing(service: &str) -> bool {
    let name = service.split_once('@').map_or(service, |(n, _)| n);
    name.starts_with('$') || name == "omnitron.host" || name == "omnitron.control"
}

/// A request is being served: its span (if recorded) and the `trace` its handler sees (and passes
/// on to the calls it makes). None without a tracer: the handler sees what the caller sent.
#[inline]
pub(crate) fn server(service: &str, method: &str, trace: Option<&Bytes>) -> Option<Served> {
    let t = tracer()?;
    if plumbing(service) {
        return None;
    }
    if let Some(raw) = trace
        && super::wire::plainly_unsampled(raw)
    {
        // Not recorded: the caller's context serves as the handler's, as it came.
        return Some(Served { span: None, wire: raw.clone() });
    }
    let parent = trace.and_then(from_wire);
    if let (Some(p), Some(raw)) = (&parent, trace)
        && !p.sampled
    {
        return Some(Served { span: None, wire: raw.clone() });
    }
    let (context, parent_id, record) = t.decide(parent.as_ref());
    let wire = to_wire(&context);
    if !record {
        return Some(Served { span: None, wire });
    }
    let mut span = Span::recorded(context, parent_id, name_of(service, method).into(), SpanKind::Server);
    attributes(&mut span, service, method);
    Some(Served { span: Some(span), wire })
}

/// A request served under tracing.
pub(crate) struct Served {
    /// Its span, if recorded.
    pub(crate) span: Option<Span>,
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
