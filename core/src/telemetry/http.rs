//! The span of an HTTP request the server answers: a child of the client's `traceparent` header
//! (W3C), named `METHOD /route/:pattern` once the route is known, with OpenTelemetry's HTTP
//! attributes; failed when the answer is a 5xx (a 4xx is the client's error, not the server's).

use hyper::HeaderMap;
use hyper::Method;

use super::context::TraceContext;
use super::span::{Span, SpanKind, Status};
use super::tracer::tracer;

/// A request's trace: its span (if recorded) and the context its handler runs in.
pub(crate) struct HttpSpan {
    pub(crate) span: Option<Span>,
    pub(crate) context: TraceContext,
}

/// The client's context, from `traceparent` (and `tracestate`).
fn parent_of(headers: &HeaderMap) -> Option<TraceContext> {
    let tp = headers.get("traceparent")?.to_str().ok()?;
    let ts = headers.get("tracestate").and_then(|v| v.to_str().ok());
    TraceContext::from_headers(tp, ts)
}

/// Starts a request's span. Without a tracer the handler still runs in the client's context, if
/// it sent one, so the calls it makes carry it on; with neither, nothing is made.
pub(crate) fn start(method: &Method, path: &str, headers: &HeaderMap) -> Option<HttpSpan> {
    let Some(t) = tracer() else {
        return parent_of(headers).map(|context| HttpSpan { span: None, context });
    };
    let parent = parent_of(headers);
    let (context, parent_id, record) = t.decide(parent.as_ref());
    let span = record.then(|| {
        let mut s =
            Span::recorded(context.clone(), parent_id, method.as_str().to_string().into(), SpanKind::Server);
        s.set_attribute("http.request.method", method.as_str().to_string());
        s.set_attribute("url.path", path.to_string());
        s
    });
    Some(HttpSpan { span, context })
}

/// Ends a request's span with its route (the pattern, as declared) and its status.
pub(crate) fn end(span: Option<Span>, method: &Method, route: Option<&str>, status: u16) {
    let Some(mut s) = span else { return };
    if let Some(r) = route {
        s.set_name(format!("{} {r}", method.as_str()));
        s.set_attribute("http.route", r.to_string());
    }
    s.set_attribute("http.response.status_code", i64::from(status));
    if status >= 500 {
        s.set_attribute("error.type", status.to_string());
        s.set_status(Status::Error(String::new()));
    }
    s.end();
}
