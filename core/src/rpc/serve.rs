//! Serving the requests that arrive on a connection.
//!
//! Most calls are to a service hosted here whose handler has its answer at once. Those are served
//! where the frame was read ([`serve_request_now`]): no task, no entry in the connection's serving
//! map, no timer, and the answer goes into the outbox from here. Only a handler that has to wait
//! gets the rest: an entry a CANCEL can find, the deadline's timer, and a task (or the host
//! reader's next look).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::answer::DirectAnswer;
use super::codec::{Message, Request, WireError};
use super::conn::{Conn, Leftover};
use super::deferred::{DeferredHandler, Reply, next_call_key};
use super::deferred_call::{DeferredCall, DeferredPhase};
use super::hosted::{LocalService, count_call, count_result, logged_trace, timer_deadline};
use super::options::FOREVER;
use super::route::{route_unary, serve_stream_request, wait_unary};
use super::service::{CallContext, Handler};
use super::state::Inner;
use super::table::Provider;
use crate::telemetry;

/// What serving a request left to do.
pub(super) enum Served {
    /// Answered (or the answer is queued).
    Done,
    /// The handler is still working: run this to finish it (a task, or the host reader's next look).
    Later(Leftover),
    /// The answer waits for room in a full outbox: the reader waits on this before reading more
    /// (a caller that does not read its answers stops being read).
    Blocked(Leftover),
}

/// Serves a request as far as it goes without waiting.
pub(super) fn serve_request_now(inner: &Arc<Inner>, conn: &Arc<Conn>, req: Request) -> Served {
    let local = if req.stream || req.target.starts_with('$') {
        None
    } else {
        inner.table.read().lookup(&req.target).filter(|r| matches!(r.provider, Provider::Local(_)))
    };
    let handler = local.as_ref().and_then(|r| match &r.provider {
        Provider::Local(svc) => match svc.service.methods.get(&req.method) {
            Some(h @ (Handler::Unary(_) | Handler::Deferred(_))) => Some(h.clone()),
            _ => None,
        },
        Provider::Remote { .. } => None,
    });
    let (Some(r), Some(handler)) = (local, handler) else {
        // Streams, forwarding, the registry and every error: the general path.
        let mut fut: Leftover = Box::pin(serve_request(inner.clone(), conn.clone(), req));
        return if poll_once(fut.as_mut()).is_pending() { Served::Later(fut) } else { Served::Done };
    };
    let Provider::Local(svc) = &r.provider else { unreachable!("filtered to local services") };
    let received = Instant::now();
    let handler = match handler {
        Handler::Unary(h) => h,
        Handler::Deferred(h) => return serve_deferred(inner, conn, svc, &h, req, received),
        Handler::Stream(_) => unreachable!("filtered to unary handlers"),
    };
    let svc: &LocalService = svc;
    let id = req.id;
    let cancel = CancellationToken::new();
    let sent = Arc::new(AtomicBool::new(false));
    let deadline = received + requested_deadline(inner, &req);
    let (span, trace) = match telemetry::rpc::server(svc.service.name(), &req.method, req.trace.as_ref()) {
        Some(s) => (s.span, Some(s.wire)),
        None => (None, req.trace),
    };
    let logged = logged_trace(svc, &trace);
    let ctx = CallContext {
        cancel: cancel.clone(),
        deadline,
        peer: conn.peer.clone(),
        trace,
        direct: Some(DirectAnswer { conn: conn.clone(), id, sent: sent.clone() }),
        received,
    };
    let timer = timer_deadline(svc, &ctx);
    count_call(svc, &req.method, logged.as_ref());
    let mut fut = handler(req.args, ctx);
    if let Poll::Ready(result) = poll_once(fut.as_mut()) {
        drop(fut);
        telemetry::rpc::end(span, &result);
        let result = count_result(svc, &req.method, received, result, logged.as_ref());
        return answer(conn, id, &sent, result);
    }
    // It has to wait. A CANCEL for it can only be read after this returns, so registering it now
    // misses none.
    conn.serve_later(id, cancel.clone());
    let conn = conn.clone();
    let method = req.method;
    Served::Later(Box::pin(async move {
        let Provider::Local(svc) = &r.provider else { return };
        let svc: &LocalService = svc;
        let result = wait_unary(fut, &cancel, timer, &r, &method, received).await;
        telemetry::rpc::end(span, &result);
        let result = count_result(svc, &method, received, result, logged.as_ref());
        if let Served::Blocked(wait) = answer(&conn, id, &sent, result) {
            wait.await;
        }
        conn.stop_serving(id);
    }))
}

/// A deferred handler's request: recorded with its deadline, then handed to the handler, whose
/// [`Reply`] answers it later (`Conn::finish_deferred`).
fn serve_deferred(
    inner: &Arc<Inner>,
    conn: &Arc<Conn>,
    svc: &Arc<LocalService>,
    h: &DeferredHandler,
    req: Request,
    received: Instant,
) -> Served {
    let deadline = received + requested_deadline(inner, &req);
    let deadline = svc.service.deadline.map_or(deadline, |d| deadline.min(received + d));
    // Looked up once: counted now, and timed when it ends.
    let metrics = svc.metrics.methods.get(&req.method).cloned();
    if let Some(m) = &metrics {
        m.calls.inc();
    }
    let key = next_call_key();
    let (span, trace) = match telemetry::rpc::server(svc.service.name(), &req.method, req.trace.as_ref()) {
        Some(s) => (s.span, Some(s.wire)),
        None => (None, req.trace),
    };
    let logged = logged_trace(svc, &trace);
    if let Some(e) = &svc.events {
        e.started(&req.method, logged.as_ref());
    }
    let call = DeferredCall {
        key,
        cancel: h.cancel.clone(),
        svc: svc.clone(),
        metrics,
        method: req.method,
        received,
        deadline,
        phase: DeferredPhase::Starting,
        span,
        logged,
    };
    conn.serve_deferred(req.id, call, &inner.runtime);
    (h.start)(req.args, Reply::conn(key, conn.clone(), req.id, trace));
    conn.deferred_started(req.id, key);
    Served::Done
}

/// The general path: streams, calls this peer forwards to another, the registry, and errors.
async fn serve_request(inner: Arc<Inner>, conn: Arc<Conn>, req: Request) {
    let serving = conn.start_serving(req.id, req.stream);
    let id = req.id;
    let sent = Arc::new(AtomicBool::new(false));
    let received = Instant::now();
    let ctx = CallContext {
        cancel: serving.cancel.clone(),
        deadline: received + requested_deadline(&inner, &req),
        peer: conn.peer.clone(),
        trace: req.trace.clone(),
        direct: (!req.stream).then(|| DirectAnswer { conn: conn.clone(), id, sent: sent.clone() }),
        received,
    };
    if req.stream {
        serve_stream_request(&inner, &conn, req, ctx, serving).await;
    } else {
        // Requests arriving from a connection never go back upstream (no routing loops).
        let r = route_unary(&inner, &req.target, &req.method, req.args, ctx, false).await;
        if let Served::Blocked(wait) = answer(&conn, id, &sent, r) {
            wait.await;
        }
    }
    conn.stop_serving(id);
}

/// How long the caller waits: what it sent, or this peer's default (a stream: forever).
fn requested_deadline(inner: &Inner, req: &Request) -> Duration {
    match req.deadline_ms {
        0 if req.stream => FOREVER,
        0 => inner.opts.default_deadline.min(FOREVER),
        ms => Duration::from_millis(u64::from(ms)),
    }
}

/// Queues the answer to request `id`, unless the handler already sent it from its own thread
/// ([`CallContext::answer_now`]).
fn answer(conn: &Arc<Conn>, id: u64, sent: &AtomicBool, r: Result<Bytes, WireError>) -> Served {
    if sent.swap(true, Ordering::AcqRel) {
        return Served::Done;
    }
    let m = match r {
        Ok(value) => Message::Result { id, value },
        Err(error) => Message::Error { id, error },
    };
    match conn.outbox.try_send_with(|out| m.encode_frame(out)) {
        Ok(true) | Err(_) => Served::Done,
        Ok(false) => {
            let conn = conn.clone();
            Served::Blocked(Box::pin(async move {
                let _ = conn.outbox.send(&m).await;
            }))
        }
    }
}

/// Polls a future once with a waker that does nothing. Safe to hand the future to a task afterwards:
/// the task polls it again, registering its own waker, before anything could be missed.
fn poll_once<F: std::future::Future + ?Sized>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    fut.poll(&mut cx)
}
