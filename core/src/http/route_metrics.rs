//! What an app counts in the metrics registry for every request, and `GET /metrics`.
//!
//! - `omnitron_http_requests_total{route, method, status}`: requests answered;
//! - `omnitron_http_request_duration_seconds{route, method}`: time from the request's head to
//!   its answer (the body read included, the answer's writing not).
//!
//! `route` is the route's pattern as declared (`/users/:id`), never the path as requested, so a
//! path parameter cannot blow up the series; requests no route matched (404 and 405) are
//! `<unmatched>`. `method` is the request's method when it is a standard one, else `OTHER`.
//! The names follow the engine's (`omnitron_rpc_requests_total`, ...).
//!
//! Each route's series are looked up once when the app is built (and per status the first time
//! it is seen, in a few lock-free slots), so recording a request is a few atomic adds.

use std::sync::OnceLock;
use std::time::Duration;

use hyper::Method;
use hyper::header::HeaderValue;

use super::response::Response;
use super::router::RouteId;
use crate::metrics::{
    Counter, CounterVec, Histogram, HistogramVec, MetricOptions, OPENMETRICS_CONTENT_TYPE, Registry,
    TEXT_CONTENT_TYPE,
};

/// The `route` label of requests no route matched.
pub(crate) const UNMATCHED: &str = "<unmatched>";

/// Latency buckets, in seconds: from half a millisecond (a native handler) to ten seconds.
const BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How many statuses of a route keep their counter at hand (more are looked up each time).
const STATUS_SLOTS: usize = 8;

/// An app's request series.
pub(crate) struct HttpMetrics {
    requests: Option<CounterVec>,
    duration: Option<HistogramVec>,
    /// By route id.
    routes: Vec<RouteSeries>,
}

struct RouteSeries {
    pattern: String,
    method: Method,
    duration: Option<Histogram>,
    /// The counters of the route's own method, by status, filled as statuses are first seen.
    statuses: [OnceLock<(u16, Counter)>; STATUS_SLOTS],
}

impl HttpMetrics {
    /// Declares the series in `registry` for `routes` (method and pattern, by route id). A
    /// registry that already has these names declared otherwise gets no HTTP metrics (logged).
    pub(crate) fn new(registry: &Registry, routes: &[(Method, String)]) -> HttpMetrics {
        let requests = registry
            .counter_vec(
                MetricOptions::new("omnitron_http_requests_total", "HTTP requests answered")
                    .labels(["route", "method", "status"]),
            )
            .map_err(|e| tracing::warn!(error = %e, "no http request counter"))
            .ok();
        let duration = registry
            .histogram_vec(
                MetricOptions::new("omnitron_http_request_duration_seconds", "Time to answer HTTP requests")
                    .labels(["route", "method"])
                    .buckets(BUCKETS),
            )
            .map_err(|e| tracing::warn!(error = %e, "no http latency histogram"))
            .ok();
        let routes = routes
            .iter()
            .map(|(method, pattern)| RouteSeries {
                pattern: pattern.clone(),
                method: method.clone(),
                duration: duration
                    .as_ref()
                    .and_then(|d| d.with_labels(&[pattern.as_str(), method.as_str()]).ok()),
                statuses: std::array::from_fn(|_| OnceLock::new()),
            })
            .collect();
        HttpMetrics { requests, duration, routes }
    }

    /// Counts one request: the route it matched (none: unmatched), its method, the answer's
    /// status and how long it took.
    /// A route's pattern as declared (`/users/:id`).
    pub(crate) fn pattern(&self, route: RouteId) -> Option<&str> {
        self.routes.get(route).map(|r| r.pattern.as_str())
    }

    pub(crate) fn record(&self, route: Option<RouteId>, method: &Method, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(r) = route.and_then(|id| self.routes.get(id))
            && r.method == *method
        {
            if let Some(h) = &r.duration {
                h.observe(secs);
            }
            for slot in &r.statuses {
                if slot.get().is_none() {
                    let Some(c) = self.counter(&r.pattern, method, status) else { return };
                    // Another thread may fill the slot first, with this status or another.
                    let _ = slot.set((status, c));
                }
                if let Some((s, c)) = slot.get()
                    && *s == status
                {
                    c.inc();
                    return;
                }
            }
            // A ninth status: looked up each time.
            if let Some(c) = self.counter(&r.pattern, method, status) {
                c.inc();
            }
            return;
        }
        // A HEAD answered by a GET route, or a request no route matched: looked up each time.
        let pattern = route.and_then(|id| self.routes.get(id)).map_or(UNMATCHED, |r| r.pattern.as_str());
        if let Some(h) =
            self.duration.as_ref().and_then(|d| d.with_labels(&[pattern, method_label(method)]).ok())
        {
            h.observe(secs);
        }
        if let Some(c) = self.counter(pattern, method, status) {
            c.inc();
        }
    }

    fn counter(&self, pattern: &str, method: &Method, status: u16) -> Option<Counter> {
        let status = status.to_string();
        self.requests.as_ref()?.with_labels(&[pattern, method_label(method), status.as_str()]).ok()
    }
}

/// A standard method's name, else `OTHER` (a client cannot invent label values).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// `GET /metrics`: the registry in the Prometheus text format, or OpenMetrics when `Accept`
/// asks for `application/openmetrics-text` (as the standalone exporter answers).
pub(crate) fn exposition(registry: &Registry, accept: Option<&HeaderValue>) -> Response {
    let openmetrics =
        accept.and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        Response::bytes(200, OPENMETRICS_CONTENT_TYPE, registry.gather_openmetrics())
    } else {
        Response::bytes(200, TEXT_CONTENT_TYPE, registry.gather_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_labelled_by_pattern_method_and_status() {
        let r = Registry::new();
        let m = HttpMetrics::new(&r, &[(Method::GET, "/users/:id".into())]);
        let t = Duration::from_millis(2);
        m.record(Some(0), &Method::GET, 200, t);
        m.record(Some(0), &Method::GET, 200, t);
        m.record(Some(0), &Method::GET, 404, t);
        m.record(Some(0), &Method::HEAD, 200, t);
        m.record(None, &Method::from_bytes(b"BREW").unwrap(), 404, t);
        let text = r.gather_text();
        assert!(
            text.contains(r#"omnitron_http_requests_total{route="/users/:id",method="GET",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"omnitron_http_requests_total{route="/users/:id",method="GET",status="404"} 1"#)
        );
        assert!(
            text.contains(r#"omnitron_http_requests_total{route="/users/:id",method="HEAD",status="200"} 1"#)
        );
        assert!(
            text.contains(
                r#"omnitron_http_requests_total{route="<unmatched>",method="OTHER",status="404"} 1"#
            )
        );
        assert!(
            text.contains(
                r#"omnitron_http_request_duration_seconds_count{route="/users/:id",method="GET"} 3"#
            )
        );
        // More statuses than slots: each still counted once, the duration once per request.
        for status in 500..512 {
            m.record(Some(0), &Method::GET, status, t);
            m.record(Some(0), &Method::GET, status, t);
        }
        let text = r.gather_text();
        for status in 500..512 {
            let line = format!(
                r#"omnitron_http_requests_total{{route="/users/:id",method="GET",status="{status}"}} 2"#
            );
            assert!(text.contains(&line), "{line}");
        }
        let count = r#"omnitron_http_request_duration_seconds_count{route="/users/:id",method="GET"} 27"#;
        assert!(text.contains(count));
    }
}
