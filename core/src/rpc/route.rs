//! Routing: where a call or an event goes. A call to `$registry`, to a service hosted here, to one
//! a connected peer registered, or (for a connected peer) upstream; a streaming call likewise; an
//! event to this process's subscribers and to every connected peer that subscribed to its topic.
//! Running a handler hosted here (its deadline, cancellation, metrics, a stream's credit) is here
//! too, for calls made in this process and for requests read from a connection (`serve.rs`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::codec::{Message, Request, WireError, wire};
use super::conn::{Conn, STREAM_WINDOW, Serving, StreamEvent};
use super::deferred::start_local;
use super::handles::{RpcStream, StreamInner};
use super::hosted::{LocalService, count_call, count_result, logged_trace, timer_deadline};
use super::options::{CallOptions, FOREVER};
use super::pattern::Pattern;
use super::registry::{builtin_registry, no_method};
use super::service::{BoxFuture, CallContext, Handler, StreamSink};
use super::state::Inner;
use super::table::{Provider, Resolved};
use crate::error::{Error, ErrorCode};
use crate::telemetry;

/// The upstream connection, waiting up to `deadline` for it while the peer reconnects.
pub(super) async fn upstream_conn(
    inner: &Inner,
    deadline: impl Into<Deadline>,
) -> std::result::Result<Arc<Conn>, WireError> {
    if let Some(c) = inner.upstream.borrow().as_ref()
        && !c.is_closed()
    {
        return Ok(c.clone());
    }
    let mut rx = inner.upstream.subscribe();
    let addr = inner.upstream_address.as_ref().map_or(String::new(), ToString::to_string);
    let wait = async {
        loop {
            let current = rx.borrow_and_update().clone();
            if let Some(c) = current {
                if !c.is_closed() {
                    return Some(c);
                }
                // Gone, and the reconnect loop has not noticed yet: wait for it.
                tokio::select! {
                    _ = rx.changed() => continue,
                    _ = tokio::time::sleep(Duration::from_millis(5)) => continue,
                }
            }
            if rx.changed().await.is_err() {
                return None;
            }
        }
    };
    let deadline = match deadline.into() {
        Deadline::At(at) => at,
        Deadline::In(d) => Instant::now() + d,
    };
    match tokio::time::timeout_at(deadline, wait).await {
        Ok(Some(c)) => Ok(c),
        _ => Err(wire(ErrorCode::NotConnected, format!("not connected to {addr} (reconnecting)"))),
    }
}

/// How long to wait for the upstream connection: until an instant, or for a while from now (read
/// from the clock only if the connection is not there).
pub(super) enum Deadline {
    At(Instant),
    In(Duration),
}

impl From<Instant> for Deadline {
    fn from(at: Instant) -> Deadline {
        Deadline::At(at)
    }
}

impl From<Duration> for Deadline {
    fn from(d: Duration) -> Deadline {
        Deadline::In(d)
    }
}

/// Routes a unary call: built-in, hosted here, hosted by a connected peer, or (for a connected
/// peer) sent upstream.
pub(super) async fn route_unary(
    inner: &Arc<Inner>,
    target: &str,
    method: &str,
    args: Bytes,
    ctx: CallContext,
    may_go_up: bool,
) -> std::result::Result<Bytes, WireError> {
    // What this process reports to the status page: always answered here, never sent upstream.
    if target == crate::status::STATUS_SERVICE {
        return match method {
            crate::status::REPORT_METHOD => {
                // Its own task: the report reads the registry and the spans, off the connection's.
                let text = tokio::spawn(crate::status::report_json())
                    .await
                    .map_err(|e| wire(ErrorCode::Internal, format!("the report failed: {e}")))?;
                super::service::encode(&text).map_err(|e| WireError::from_error(&e))
            }
            other => Err(wire(
                ErrorCode::MethodNotFound,
                format!("'$status' has no method '{other}' (methods: report)"),
            )),
        };
    }
    if target == "$registry" || target.starts_with("$registry@") {
        if may_go_up && inner.upstream_address.is_some() {
            let conn = upstream_conn(inner, ctx.deadline).await?;
            let left = ctx.deadline.saturating_duration_since(Instant::now());
            return conn.call(target, method, args, left, ctx.trace.clone()).await;
        }
        return builtin_registry(inner, method, &args);
    }
    let resolved = {
        let t = inner.table.read();
        match t.lookup(target) {
            Some(r) => Ok(r),
            // Not a name we host or route: a connected peer sends it upstream without building an
            // error; otherwise say what is missing.
            None if may_go_up && inner.upstream_address.is_some() && !t.has_name(target) => {
                Err(Error::new(ErrorCode::ServiceNotFound, String::new()))
            }
            None => t.resolve(target).map(Arc::new),
        }
    };
    match resolved {
        Ok(r) => match &r.provider {
            Provider::Local(svc) => serve_local_unary(svc, &r, method, args, ctx).await,
            Provider::Remote { conn, methods, .. } => {
                if !methods.iter().any(|m| m == method) {
                    return Err(no_method(&r, method));
                }
                let left = ctx.deadline.saturating_duration_since(Instant::now());
                let id = r.id();
                let call = conn.call(&id, method, args, left, ctx.trace.clone());
                tokio::select! {
                    res = call => res,
                    _ = ctx.cancel.cancelled() => Err(wire(ErrorCode::Cancelled, "the call was cancelled")),
                }
            }
        },
        Err(e) if may_go_up && inner.upstream_address.is_some() && e.code() == ErrorCode::ServiceNotFound => {
            let conn = upstream_conn(inner, ctx.deadline).await?;
            let left = ctx.deadline.saturating_duration_since(Instant::now());
            conn.call(target, method, args, left, ctx.trace.clone()).await
        }
        Err(e) => Err(WireError::from_error(&e)),
    }
}

async fn serve_local_unary(
    svc: &Arc<LocalService>,
    r: &Resolved,
    method: &str,
    args: Bytes,
    ctx: CallContext,
) -> std::result::Result<Bytes, WireError> {
    let handler = match svc.service.methods.get(method) {
        Some(h @ (Handler::Unary(_) | Handler::Deferred(_))) => h.clone(),
        Some(Handler::Stream(_)) => {
            return Err(wire(
                ErrorCode::InvalidArgument,
                format!("'{}' {method}() returns a stream: call it as a stream", r.id()),
            ));
        }
        None => return Err(no_method(r, method)),
    };
    let logged = logged_trace(svc, &ctx.trace);
    count_call(svc, method, logged.as_ref());
    let started = ctx.received;
    let deadline = timer_deadline(svc, &ctx);
    let cancel = ctx.cancel.clone();
    let fut = match handler {
        Handler::Deferred(h) => Box::pin(start_local(&h, args, ctx.trace)),
        Handler::Unary(h) => h(args, ctx),
        Handler::Stream(_) => unreachable!("refused above"),
    };
    let result = wait_unary(fut, &cancel, deadline, r, method, started).await;
    count_result(svc, method, started, result, logged.as_ref())
}

/// Waits for a handler that did not answer at once, up to its deadline or the caller's cancel.
pub(super) async fn wait_unary(
    fut: BoxFuture<Result<Bytes, WireError>>,
    cancel: &CancellationToken,
    deadline: Instant,
    r: &Resolved,
    method: &str,
    started: Instant,
) -> Result<Bytes, WireError> {
    // Dropped here, after the token is cancelled, whichever way it ends.
    let mut fut = fut;
    tokio::select! {
        // The handler first: one that answers at once never arms the deadline's timer.
        biased;
        r = &mut fut => r,
        _ = cancel.cancelled() => Err(wire(ErrorCode::Cancelled, format!("the call to '{}' {method}() was cancelled", r.id()))),
        _ = tokio::time::sleep_until(deadline) => {
            cancel.cancel();
            Err(wire(ErrorCode::Timeout, format!("'{}' {method}() passed its deadline of {} ms", r.id(), deadline.saturating_duration_since(started).as_millis())))
        }
    }
}

/// Where a served stream's items go.
enum StreamOut {
    Remote { conn: Arc<Conn>, id: u64, credit: Arc<tokio::sync::Semaphore> },
    Local(mpsc::Sender<StreamEvent>),
}

impl StreamOut {
    async fn item(&self, b: Bytes, cancel: &CancellationToken) -> bool {
        match self {
            StreamOut::Remote { conn, id, credit } => {
                let permit = tokio::select! {
                    p = credit.acquire() => p,
                    _ = cancel.cancelled() => return false,
                };
                match permit {
                    Ok(p) => p.forget(),
                    Err(_) => return false,
                }
                conn.outbox.send(&Message::StreamItem { id: *id, value: b }).await.is_ok()
            }
            StreamOut::Local(tx) => tx.send(StreamEvent::Item(b)).await.is_ok(),
        }
    }

    async fn finish(&self, r: std::result::Result<(), WireError>) {
        match self {
            StreamOut::Remote { conn, id, .. } => {
                let m = match r {
                    Ok(()) => Message::StreamEnd { id: *id },
                    Err(error) => Message::Error { id: *id, error },
                };
                let _ = conn.outbox.send(&m).await;
            }
            StreamOut::Local(tx) => {
                let _ = tx
                    .send(match r {
                        Ok(()) => StreamEvent::End,
                        Err(e) => StreamEvent::Error(e),
                    })
                    .await;
            }
        }
    }
}

/// Runs a streaming handler hosted here, feeding `out` (with credit for remote callers).
async fn serve_local_stream(
    svc: Arc<LocalService>,
    r: Resolved,
    method: String,
    args: Bytes,
    ctx: CallContext,
    out: StreamOut,
) {
    let handler = match svc.service.methods.get(&method) {
        Some(Handler::Stream(h)) => h.clone(),
        Some(Handler::Unary(_) | Handler::Deferred(_)) => {
            let e = wire(
                ErrorCode::InvalidArgument,
                format!("'{}' {method}() is not a stream: call it normally", r.id()),
            );
            return out.finish(Err(e)).await;
        }
        None => return out.finish(Err(no_method(&r, &method))).await,
    };
    let m = svc.metrics.methods.get(&method);
    if let Some(m) = m {
        m.calls.inc();
    }
    let started = ctx.received;
    let cancel = ctx.cancel.clone();
    let deadline = ctx.deadline;
    let mut ctx = ctx;
    // A request from another process gets a server span; one made here has its client span.
    let traced = match out {
        StreamOut::Remote { .. } => telemetry::rpc::server(svc.service.name(), &method, ctx.trace.as_ref()),
        StreamOut::Local(_) => None,
    };
    let span = match traced {
        Some(s) => {
            ctx.trace = Some(s.wire);
            s.span
        }
        None => None,
    };
    let (tx, mut rx) = mpsc::channel::<Bytes>(STREAM_WINDOW as usize);
    let fut = handler(args, ctx, StreamSink { tx });
    tokio::pin!(fut);
    let mut done: Option<std::result::Result<(), WireError>> = None;
    let result = loop {
        tokio::select! {
            r = &mut fut, if done.is_none() => {
                done = Some(r);
                // Whatever it sent before returning is already queued: drain it, then finish.
                while let Ok(b) = rx.try_recv() {
                    if let Some(m) = m { m.items.inc(); }
                    if !out.item(b, &cancel).await {
                        break;
                    }
                }
                break done.take().unwrap_or(Ok(()));
            }
            item = rx.recv() => {
                if let Some(b) = item {
                    if let Some(m) = m { m.items.inc(); }
                    if !out.item(b, &cancel).await {
                        break Err(wire(ErrorCode::Cancelled, "the caller stopped the stream"));
                    }
                }
            }
            _ = cancel.cancelled() => break Err(wire(ErrorCode::Cancelled, "the stream was cancelled")),
            _ = tokio::time::sleep_until(deadline) => {
                cancel.cancel();
                break Err(wire(ErrorCode::Timeout, format!("'{}' {method}() passed its deadline", r.id())));
            }
        }
    };
    if let Some(m) = m {
        m.duration.observe(started.elapsed().as_secs_f64());
    }
    if let Err(e) = &result {
        svc.metrics.error(&method, &e.code);
    }
    telemetry::rpc::end(span, &result);
    out.finish(result).await;
}

pub(super) async fn route_stream(
    inner: &Arc<Inner>,
    target: &str,
    method: &str,
    args: Bytes,
    opts: CallOptions,
) -> std::result::Result<RpcStream, WireError> {
    let resolved = inner.table.read().resolve(target);
    match resolved {
        Ok(r) => match r.provider.clone() {
            Provider::Local(svc) => {
                let (tx, rx) = mpsc::channel(STREAM_WINDOW as usize);
                let received = Instant::now();
                let ctx = CallContext {
                    cancel: CancellationToken::new(),
                    deadline: received + opts.deadline_or(FOREVER),
                    peer: Arc::new(inner.info.clone()),
                    trace: opts.trace,
                    direct: None,
                    received,
                };
                let method = method.to_string();
                tokio::spawn(async move {
                    let guard = ctx.cancel.clone();
                    let out = StreamOut::Local(tx);
                    let closed = match &out {
                        StreamOut::Local(tx) => tx.clone(),
                        StreamOut::Remote { .. } => unreachable!(),
                    };
                    // The consumer dropping its stream cancels the handler.
                    tokio::select! {
                        _ = serve_local_stream(svc, r, method, args, ctx, out) => {}
                        _ = closed.closed() => guard.cancel(),
                    }
                });
                Ok(RpcStream { inner: StreamInner::Local(rx), span: None })
            }
            Provider::Remote { conn, methods, .. } => {
                if !methods.iter().any(|m| m == method) {
                    return Err(no_method(&r, method));
                }
                let s = conn.call_stream(&r.id(), method, args, opts.capped_deadline(), opts.trace).await?;
                Ok(RpcStream { inner: StreamInner::Remote(s), span: None })
            }
        },
        Err(e) if inner.upstream_address.is_some() && e.code() == ErrorCode::ServiceNotFound => {
            let deadline = Instant::now() + opts.deadline_or(inner.opts.default_deadline);
            let conn = upstream_conn(inner, deadline).await?;
            let s = conn.call_stream(target, method, args, opts.capped_deadline(), opts.trace).await?;
            Ok(RpcStream { inner: StreamInner::Remote(s), span: None })
        }
        Err(e) => Err(WireError::from_error(&e)),
    }
}

pub(super) async fn serve_stream_request(
    inner: &Arc<Inner>,
    conn: &Arc<Conn>,
    req: Request,
    ctx: CallContext,
    serving: Serving,
) {
    let credit = serving.credit.clone().unwrap_or_else(|| Arc::new(tokio::sync::Semaphore::new(0)));
    let out = StreamOut::Remote { conn: conn.clone(), id: req.id, credit };
    let resolved = inner.table.read().resolve(&req.target);
    match resolved {
        Ok(r) => match r.provider.clone() {
            Provider::Local(svc) => serve_local_stream(svc, r, req.method, req.args, ctx, out).await,
            Provider::Remote { conn: other, methods, .. } => {
                if !methods.contains(&req.method) {
                    return out.finish(Err(no_method(&r, &req.method))).await;
                }
                let left = ctx.deadline.saturating_duration_since(Instant::now());
                let mut s =
                    match other.call_stream(&r.id(), &req.method, req.args, Some(left), req.trace).await {
                        Ok(s) => s,
                        Err(e) => return out.finish(Err(e)).await,
                    };
                let result = loop {
                    let next = tokio::select! {
                        n = s.next() => n,
                        _ = ctx.cancel.cancelled() => break Err(wire(ErrorCode::Cancelled, "the stream was cancelled")),
                    };
                    match next {
                        Some(Ok(b)) => {
                            if !out.item(b, &ctx.cancel).await {
                                break Err(wire(ErrorCode::Cancelled, "the caller stopped the stream"));
                            }
                        }
                        Some(Err(e)) => break Err(e),
                        None => break Ok(()),
                    }
                };
                out.finish(result).await;
            }
        },
        Err(e) => out.finish(Err(WireError::from_error(&e))).await,
    }
}

// ---- events ------------------------------------------------------------------------------------

/// Delivers an event here and to every connected peer that subscribed to it (the one it came from
/// included, if it subscribed: that is how a publisher's own subscribers get it).
pub(super) async fn deliver(inner: &Arc<Inner>, topic: &str, payload: &Bytes, trace: Option<&Bytes>) {
    deliver_here(inner, topic, payload, trace);
    let targets: Vec<Arc<Conn>> = inner.conns.lock().values().filter(|c| c.wants(topic)).cloned().collect();
    if targets.is_empty() {
        return;
    }
    let m = Message::Publish { topic: topic.to_string(), payload: payload.clone(), trace: trace.cloned() };
    for c in targets {
        let _ = c.outbox.send(&m.publish_for(&c.peer)).await;
    }
}

/// Runs this process's matching handlers, each with the publisher's trace context current on its
/// thread (a C callback's `omnitron_trace_current`, a binding's handler, a Rust handler's calls).
fn deliver_here(inner: &Inner, topic: &str, payload: &Bytes, trace: Option<&Bytes>) {
    let handlers = inner.subs.matching(topic);
    if handlers.is_empty() {
        return;
    }
    let ctx = trace.and_then(crate::telemetry::from_wire);
    for h in handlers {
        if let Some(c) = &inner.events.delivered {
            c.inc();
        }
        crate::telemetry::with_context(ctx.clone(), || h(topic, payload));
    }
}

/// A SUBSCRIBE read from `conn`: recorded (replacing one with the same id), or refused with an
/// ERROR id 0 if the pattern is invalid.
pub(super) fn remote_subscribe(conn: &Conn, sub: u64, pattern: &str) {
    match Pattern::new(pattern) {
        Ok(p) => {
            let mut subs = conn.subs.lock();
            match subs.iter_mut().find(|(id, _)| *id == sub) {
                Some(s) => s.1 = p,
                None => subs.push((sub, p)),
            }
        }
        Err(e) => {
            let error = WireError::from_error(&e);
            let _ = conn.outbox.send_now(&Message::Error { id: 0, error });
        }
    }
}
