//! The current trace context: what a call, a job or a span started here takes as its parent. In
//! async Rust it follows the task ([`in_context`]); on a thread that runs foreign callbacks (a
//! binding's event loop) it is set around each callback ([`with_context`]).

use std::cell::RefCell;
use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use super::context::TraceContext;
use super::span::{Span, SpanKind};

tokio::task_local! {
    static CURRENT: TraceContext;
}

thread_local! {
    static THREAD: RefCell<Option<TraceContext>> = const { RefCell::new(None) };
}

/// Set once a context has been made current anywhere in this process: until then no call looks
/// for one (what an untraced process's calls cost is one load).
static ANY: AtomicBool = AtomicBool::new(false);

#[cfg_attr(not(feature = "rpc"), allow(dead_code))] // RPC calls ask; nothing else does yet.
pub(super) fn any_context() -> bool {
    ANY.load(Ordering::Relaxed)
}

/// The current context: the task's, else the thread's.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(Clone::clone).ok().or_else(|| THREAD.with(|t| t.borrow().clone()))
}

/// [`current`], for code on a hot path of processes that may trace nothing: one load while no
/// context was ever made current in this process.
pub fn current_if_any() -> Option<TraceContext> {
    if ANY.load(Ordering::Relaxed) { current() } else { None }
}

/// Runs `f` with `ctx` as the current context of its task.
pub fn in_context<F: Future>(ctx: TraceContext, f: F) -> impl Future<Output = F::Output> {
    ANY.store(true, Ordering::Relaxed);
    CURRENT.scope(ctx, f)
}

/// Runs `f` in the trace a W3C `traceparent` names, or as it is when there is none (or it does not
/// parse): what a door does with the trace its caller's language passed it.
pub fn in_traceparent<F: Future>(
    traceparent: Option<&str>,
    f: F,
) -> impl Future<Output = F::Output> + use<F> {
    let ctx = traceparent.and_then(TraceContext::from_traceparent);
    async move {
        match ctx {
            Some(c) => in_context(c, f).await,
            None => f.await,
        }
    }
}

/// Runs `f` with `ctx` as this thread's current context (restored afterwards).
pub fn with_context<R>(ctx: Option<TraceContext>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<TraceContext>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            THREAD.with(|t| *t.borrow_mut() = prev);
        }
    }
    if ctx.is_some() {
        ANY.store(true, Ordering::Relaxed);
    }
    let _restore = Restore(THREAD.with(|t| std::mem::replace(&mut *t.borrow_mut(), ctx)));
    f()
}

/// Sets this thread's current context, returning the one it replaces: for a door whose spans
/// begin and end in separate calls (C's `omnitron_span_start` / `omnitron_span_end`).
pub fn set_thread_context(ctx: Option<TraceContext>) -> Option<TraceContext> {
    if ctx.is_some() {
        ANY.store(true, Ordering::Relaxed);
    }
    THREAD.with(|t| std::mem::replace(&mut *t.borrow_mut(), ctx))
}

/// Runs `f` in a span of its own named `name`, a child of the current context: the Rust
/// counterpart of `@Trace()`. Calls made inside pass its context on; an `Err` marks it failed.
pub async fn trace<T, E: Display, F: Future<Output = Result<T, E>>>(
    name: &'static str,
    f: F,
) -> Result<T, E> {
    let parent = current();
    let mut span = Span::start(name, SpanKind::Internal, parent.as_ref());
    let r = in_context(span.context().clone(), f).await;
    if let Err(e) = &r {
        span.set_status(super::span::Status::Error(e.to_string()));
    }
    r
}
