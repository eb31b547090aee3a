//! One request, from hyper's to a handler's and back: the request id, the body read within its
//! limit and timeout, the route, the handler run with its panics caught, and every error made a
//! problem document.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_LENGTH, HeaderValue, ORIGIN};
use hyper::{Method, StatusCode};

use std::net::SocketAddr;

use super::app::{AppShared, RouteCtx};
use super::options::HttpOptions;
use super::problem::HttpError;
use super::request::{Request, X_REQUEST_ID, parse_query_pairs, query_map, request_id};
use super::response::Response;
use super::router::{Match, RouteId, Router};
use crate::error::ErrorCode;

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) router: Router,
    pub(crate) options: HttpOptions,
    /// The app around the router, for what applies to every request (CORS, security headers,
    /// metrics) and its routes' body limits; none for a bare router.
    pub(crate) app: Option<Arc<AppShared>>,
    /// The app's declared routes by id, for the stages that run before the body is read.
    pub(crate) gates: Vec<Arc<RouteCtx>>,
}

/// Answers one request from a socket; never fails (every error is a problem document).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
    remote: Option<SocketAddr>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let head = req.method() == Method::HEAD;
    let (response, id) = answer_any(&shared, req, remote).await;
    Ok(into_hyper(response, &id, head))
}

/// Answers one request with any body (a socket's, or one made in-process), with its id.
pub(crate) async fn answer_any<B>(
    shared: &Shared,
    req: hyper::Request<B>,
    remote: Option<SocketAddr>,
) -> (Response, String)
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Only an app counts requests (per-route metrics).
    let started = shared.app.is_some().then(std::time::Instant::now);
    let (parts, body) = req.into_parts();
    let id = request_id(&parts.headers);
    let app = shared.app.as_deref();
    let method = parts.method.clone();
    // A CORS preflight from an allowed origin is answered before routing.
    if let Some(r) = app.and_then(|a| a.preflight(&parts)) {
        if let (Some(a), Some(t)) = (app, started) {
            a.metrics.record(None, &method, r.status(), t.elapsed());
        }
        return (r, id);
    }
    let origin = app.filter(|a| a.cors.is_some()).and_then(|_| parts.headers.get(ORIGIN).cloned());
    // A clone of the URI shares its bytes: the path is borrowed, not copied.
    let uri = parts.uri.clone();
    let path = uri.path();
    let mut route = None;
    let traced = crate::telemetry::http::start(&method, path, &parts.headers);
    let (span, trace) = match traced {
        Some(t) => (t.span, Some(t.context)),
        None => (None, None),
    };
    let mut response = match answer(shared, parts, body, &id, path, remote, &mut route, trace).await {
        Ok(mut r) => match r.problem.take() {
            Some(e) => (*e).into_response(path, &id),
            None => r,
        },
        Err(e) => e.into_response(path, &id),
    };
    if let Some(a) = app {
        a.decorate(&mut response, origin.as_ref());
    }
    if let (Some(a), Some(t)) = (app, started) {
        a.metrics.record(route, &method, response.status(), t.elapsed());
    }
    if span.is_some() {
        let pattern = app.zip(route).and_then(|(a, r)| a.metrics.pattern(r));
        crate::telemetry::http::end(span, &method, pattern, response.status());
    }
    (response, id)
}

// One request's parts, each used once on the way down; a struct for them would only be unpacked.
#[allow(clippy::too_many_arguments)]
async fn answer<B>(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    body: B,
    id: &str,
    path: &str,
    remote: Option<SocketAddr>,
    route: &mut Option<RouteId>,
    trace: Option<crate::telemetry::TraceContext>,
) -> Result<Response, HttpError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let handler = match shared.router.find(&parts.method, path) {
        Match::Found(h, params, id) => {
            *route = Some(id);
            (h, params)
        }
        Match::NotFound => {
            return Err(HttpError::not_found(format!("no route for {} {path}", parts.method))
                .with_code(ErrorCode::RouteNotFound));
        }
        Match::MethodNotAllowed(methods) => {
            let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            let e = HttpError::new(405)
                .with_detail(format!("{path} does not answer {}; it answers {allow}", parts.method))
                .with_code(ErrorCode::MethodNotAllowed);
            let mut r = e.into_response(path, id);
            if let Ok(v) = HeaderValue::from_str(&allow) {
                r.headers.insert(ALLOW, v);
            }
            return Ok(r);
        }
    };
    let limit = match (&shared.app, *route) {
        (Some(app), Some(id)) => app.body_limit(id),
        _ => shared.options.body_limit,
    };
    let (h, params) = handler;
    let query_pairs = parse_query_pairs(parts.uri.query());
    let mut request = Request {
        method: parts.method,
        path: path.to_string(),
        params,
        query: query_map(&query_pairs),
        query_pairs,
        headers: parts.headers,
        body: Bytes::new(),
        request_id: id.to_string(),
        remote,
        input: None,
        admitted: Default::default(),
        trace: trace.clone(),
    };
    // Rate limits and auth first: a refused client costs no body read.
    if let Some(gate) = route.and_then(|id| shared.gates.get(id)).filter(|g| !g.admits_freely()) {
        request.admitted.0 = Some(Box::new(gate.admit(&request)?));
    }
    request.body = match read_body(&shared.options, limit, &request.headers, body).await {
        Ok(b) => b,
        Err(mut e) => {
            if let Some(a) = request.admitted.0.take() {
                a.refuse(&mut e);
            }
            return Err(e);
        }
    };
    let outcome = match catch_unwind(AssertUnwindSafe(|| h(request))) {
        // A Rust handler runs in the request's trace: its calls and spans are children of it.
        Ok(fut) => match trace {
            Some(c) => CatchUnwind(Box::pin(crate::telemetry::in_context(c, fut))).await,
            None => CatchUnwind(fut).await,
        },
        Err(panic) => Err(panic),
    };
    match outcome {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => {
            if e.status() >= 500 {
                tracing::warn!(request_id = id, path, error = %e, "http handler failed");
            }
            Err(e)
        }
        Err(panic) => {
            let what = panic_message(&*panic);
            tracing::error!(request_id = id, path, panic = what, "http handler panicked");
            Err(HttpError::internal("the handler panicked"))
        }
    }
}

/// The whole body, within `limit` (413, `H004`) and the body read timeout (408, `H008`).
async fn read_body<B>(
    options: &HttpOptions,
    limit: usize,
    headers: &hyper::HeaderMap,
    body: B,
) -> Result<Bytes, HttpError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || {
        HttpError::new(413)
            .with_detail(format!("the body is larger than {limit} bytes"))
            .with_code(ErrorCode::BodyTooLarge)
    };
    let declared =
        headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // Most requests have no body (a GET): nothing to wait for, so no timer to arm.
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let mut collect = std::pin::pin!(Limited::new(body, limit).collect());
    // A small body usually came with the head: read what is there first, and arm the timer only
    // when the rest must be waited for.
    let read = match std::future::poll_fn(|cx| Poll::Ready(collect.as_mut().poll(cx))).await {
        Poll::Ready(done) => Ok(done),
        Poll::Pending => tokio::time::timeout(options.body_read_timeout, collect).await,
    };
    match read {
        Err(_) => Err(HttpError::new(408)
            .with_detail(format!("the body did not arrive within {:?}", options.body_read_timeout))
            .with_code(ErrorCode::BodyTimeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(e)) => Err(HttpError::bad_request(format!("the body could not be read: {e}"))
            .with_code(ErrorCode::InvalidBody)),
    }
}

/// hyper's response, with `x-request-id`; a HEAD keeps the length and drops the body.
fn into_hyper(r: Response, id: &str, head: bool) -> hyper::Response<Full<Bytes>> {
    let len = r.body.len();
    let body = if head { Bytes::new() } else { r.body };
    let mut out = hyper::Response::new(Full::new(body));
    *out.status_mut() = r.status;
    *out.headers_mut() = r.headers;
    if let Ok(v) = HeaderValue::from_str(id) {
        out.headers_mut().insert(X_REQUEST_ID, v);
    }
    if head && !out.headers().contains_key(CONTENT_LENGTH) && out.status() != StatusCode::NO_CONTENT {
        out.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    out
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("?")
}

type Panic = Box<dyn std::any::Any + Send>;

/// A future whose panics become an `Err`.
pub(crate) struct CatchUnwind<F>(pub(crate) F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}
