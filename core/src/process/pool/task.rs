//! A task's way through the pool when it is started with `exec_raw_with` (what the bindings use):
//! sent from the caller's thread to a free worker, or queued as a callback that whoever frees a slot
//! runs; finished where its answer is read; retried on another worker when its worker dies; and
//! cancelled through its [`PoolTask`]. The awaited form (`exec_raw`) shares the retry loop,
//! `exec_from`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;

use super::options::YEAR;
use super::queue::{self, Queued, acquire, hand_over};
use super::workers::{Worker, pick, release};
use super::{Pool, PoolInner};
use crate::error::{Error, ErrorCode};
use crate::rpc::{CallOptions, WireError, check_args};

impl Pool {
    /// [`Pool::exec_raw`] reporting to `done` instead of being awaited. When a worker is free the
    /// request is written from the calling thread and `done` runs where the answer is read (no task,
    /// no thread hop); otherwise the task waits in the queue and is written by the thread that frees
    /// a slot for it (a retry after a worker died continues as a task on the engine's runtime).
    /// `done` runs exactly once, on an engine thread or the caller's, unless the task is cancelled
    /// first ([`PoolTask::cancel`]).
    /// The task carries the current trace context to its worker (the handler runs in it).
    pub fn exec_raw_with(
        &self,
        method: &str,
        args: Bytes,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> PoolTask {
        let trace = crate::telemetry::current_wire_if_any();
        self.exec_raw_for(method, args, self.inner.opts.task_timeout, trace, done)
    }

    /// [`Pool::exec_raw_with`] with the trace context given (a raw `trace` map): for the
    /// bindings, whose current context is their own.
    pub fn exec_raw_traced(
        &self,
        method: &str,
        args: Bytes,
        trace: Option<Bytes>,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> PoolTask {
        self.exec_raw_for(method, args, self.inner.opts.task_timeout, trace, done)
    }

    /// [`Pool::exec_raw_with`] with its own time limit (a map's chunk has the task timeout of
    /// each of its items).
    pub(crate) fn exec_raw_for(
        &self,
        method: &str,
        args: Bytes,
        timeout: Duration,
        trace: Option<Bytes>,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> PoolTask {
        if let Err(e) = check_args(&args) {
            done(Err(WireError::from_error(&e)));
            return PoolTask(PoolTaskInner::Finished);
        }
        let inner = &self.inner;
        let started = Instant::now();
        // A year stands for "no limit" (an Instant cannot be as far as Duration::MAX).
        let deadline = started.checked_add(timeout.min(YEAR)).unwrap_or(started);
        let picked = {
            let mut s = inner.state.lock();
            let w = if inner.stop.is_cancelled() { None } else { pick(inner, &s) };
            if w.is_some() {
                s.last_busy = Some(started);
            }
            w
        };
        let Some(w) = picked else { return self.enqueue(method, args, started, deadline, trace, done) };
        match self.send_to(w.clone(), method, args, started, deadline, trace, done) {
            Some(call) => PoolTask(PoolTaskInner::Call { call, pool: self.clone(), worker: w }),
            None => PoolTask(PoolTaskInner::Finished),
        }
    }

    /// No worker is free (or the pool stopped): the task waits in the queue as a callback, sent by
    /// whoever frees a slot ([`queue::hand_over`]).
    #[allow(clippy::too_many_arguments)] // The task's parts, and where its answer goes.
    fn enqueue(
        &self,
        method: &str,
        args: Bytes,
        started: Instant,
        deadline: Instant,
        trace: Option<Bytes>,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> PoolTask {
        let inner = &self.inner;
        let q = Arc::new(Queued { start: Mutex::new(None), deadline, sent: Mutex::new(None) });
        let (pool, method, weak) = (self.clone(), method.to_string(), Arc::downgrade(&q));
        *q.start.lock() = Some(Box::new(move |w| match w {
            Ok(w) => {
                let call = pool.send_to(w.clone(), &method, args, started, deadline, trace, done);
                if let (Some(call), Some(q)) = (call, weak.upgrade()) {
                    *q.sent.lock() = Some((call, w));
                }
            }
            Err(e) => {
                let r = Err(e);
                pool.record(started, &r);
                done(r)
            }
        }));
        let queued = {
            let mut s = inner.state.lock();
            if inner.stop.is_cancelled() {
                Err(queue::stopped(inner))
            } else {
                s.last_busy = Some(started);
                queue::enqueue(inner, &mut s, q.clone())
            }
        };
        match queued {
            Ok(()) => {
                inner.changed.notify_waiters();
                // A slot freed since the first look is not left idle while this task waits.
                hand_over(inner);
                PoolTask(PoolTaskInner::Queued(q, self.clone()))
            }
            Err(e) => {
                if let Some(start) = q.start.lock().take() {
                    start(Err(WireError::from_error(&e)));
                }
                PoolTask(PoolTaskInner::Finished)
            }
        }
    }

    /// Sends a task to `w` (a slot already taken on it) from this thread; its answer finishes it
    /// where it is read. The call, to cancel it; None when the worker's outbox was full and the
    /// call went out from a task instead.
    #[allow(clippy::too_many_arguments)] // A task's parts, where it goes and when it must end.
    #[allow(clippy::too_many_arguments)] // The task's parts, and where its answer goes.
    fn send_to(
        &self,
        w: Arc<Worker>,
        method: &str,
        args: Bytes,
        started: Instant,
        deadline: Instant,
        trace: Option<Bytes>,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> Option<crate::rpc::CallHandle> {
        let left = deadline.saturating_duration_since(Instant::now());
        let opts = CallOptions { deadline: Some(left.max(Duration::from_millis(1))), trace: trace.clone() };
        let (pool, m, w2, a) = (self.clone(), method.to_string(), w.clone(), args.clone());
        let cb: Box<dyn FnOnce(std::result::Result<Bytes, WireError>) + Send> = Box::new(move |r| {
            // Without a runtime here (the connection was already gone), finish on the engine's.
            if tokio::runtime::Handle::try_current().is_ok() {
                pool.finish_fast(&m, a, &w2, started, deadline, trace, r, done);
            } else {
                crate::runtime::handle()
                    .spawn(async move { pool.finish_fast(&m, a, &w2, started, deadline, trace, r, done) });
            }
        });
        match w.child.call_raw_with(&w.target, method, &args, opts.clone(), cb) {
            Ok(call) => Some(call),
            Err(cb) => {
                // The worker's outbox is full: await it instead (the callback still finishes the
                // task; not cancellable: the callback owns the slot's release).
                let (child, target, method) = (w.child.clone(), w.target.clone(), method.to_string());
                crate::runtime::handle()
                    .spawn(async move { cb(child.call_raw(&target, &method, args, opts).await) });
                None
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // As `send_to`, and the answer.
    fn finish_fast(
        &self,
        method: &str,
        args: Bytes,
        w: &Arc<Worker>,
        started: Instant,
        deadline: Instant,
        trace: Option<Bytes>,
        r: std::result::Result<Bytes, WireError>,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) {
        release(&self.inner, w);
        match r {
            Err(e) if e.code == ErrorCode::PeerDisconnected.as_str() => {
                match self.lost_attempt(method, w, 1, &e) {
                    Err(lost) => done(Err(lost)),
                    Ok(()) => {
                        let (pool, method) = (self.clone(), method.to_string());
                        tokio::spawn(async move {
                            done(pool.exec_from(&method, args, started, deadline, trace, 1).await)
                        });
                    }
                }
            }
            r => {
                self.record(started, &r);
                done(r)
            }
        }
    }

    /// A worker died running a task on its `attempt`-th try: fine to retry, or the WorkerLost error.
    fn lost_attempt(
        &self,
        method: &str,
        w: &Worker,
        attempt: u32,
        e: &WireError,
    ) -> std::result::Result<(), WireError> {
        let inner = &self.inner;
        w.dead.store(true, Ordering::Release);
        if attempt > inner.opts.task_retries {
            inner.metrics.outcome("lost");
            return Err(WireError::from_error(&Error::new(
                ErrorCode::WorkerLost,
                format!(
                    "pool '{}': the worker running {method}() died (pid {}), {attempt} attempt(s): {}",
                    inner.opts.name, w.child.pid, e.message
                ),
            )));
        }
        tracing::warn!(pool = %inner.opts.name, pid = w.child.pid, "worker died mid-task; retrying {method}() on another");
        Ok(())
    }

    fn record(&self, started: Instant, result: &std::result::Result<Bytes, WireError>) {
        let inner = &self.inner;
        inner.metrics.task_duration.observe(started.elapsed().as_secs_f64());
        inner.metrics.outcome(match result {
            Ok(_) => "ok",
            Err(e) if e.code == ErrorCode::QueueFull.as_str() => "rejected",
            Err(e) if e.code == ErrorCode::Timeout.as_str() => "timeout",
            Err(_) => "error",
        });
    }

    /// The task loop: a worker (queueing for one), the call, a retry if the worker died.
    pub(super) async fn exec_from(
        &self,
        method: &str,
        args: Bytes,
        started: Instant,
        deadline: Instant,
        trace: Option<Bytes>,
        mut attempt: u32,
    ) -> std::result::Result<Bytes, WireError> {
        let inner = &self.inner;
        let result = loop {
            let w = match acquire(inner, deadline).await {
                Ok(w) => w,
                Err(e) => break Err(WireError::from_error(&e)),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let opts = CallOptions { deadline: Some(left), trace: trace.clone() };
            // Released however the call ends, the caller dropping this future included (the call
            // is then cancelled on the worker).
            let lease = Lease { inner, w: &w };
            let r = w.child.call_raw(&w.target, method, args.clone(), opts).await;
            drop(lease);
            match r {
                Err(e) if e.code == ErrorCode::PeerDisconnected.as_str() => {
                    attempt += 1;
                    self.lost_attempt(method, &w, attempt, &e)?;
                }
                other => break other,
            }
        };
        self.record(started, &result);
        result
    }
}

/// A task started with [`Pool::exec_raw_with`], to cancel it.
pub struct PoolTask(PoolTaskInner);

enum PoolTaskInner {
    /// Sent to a worker from the caller's thread: the callback releases the slot when it runs.
    Call { call: crate::rpc::CallHandle, pool: Pool, worker: Arc<Worker> },
    /// Queued (then sent by whoever freed a slot).
    Queued(Arc<Queued>, Pool),
    /// Done, or not cancellable.
    Finished,
}

impl std::fmt::Debug for PoolTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            PoolTaskInner::Call { .. } => "PoolTask(sent)",
            PoolTaskInner::Queued(..) => "PoolTask(queued)",
            PoolTaskInner::Finished => "PoolTask(finished)",
        })
    }
}

impl PoolTask {
    /// Stops the task: a queued one leaves the queue, a running one is sent CANCEL (its handler
    /// sees it) and its worker's slot is freed at once. `done` is then not called. Does nothing
    /// to a task that already finished (or, rarely, one a dead worker's retry has taken over).
    pub fn cancel(&self) {
        // Called from a binding's thread: releasing may recycle the worker, which spawns.
        let _rt = crate::runtime::handle().enter();
        match &self.0 {
            PoolTaskInner::Call { call, pool, worker } => {
                // Only when the callback will not run: it would release the slot itself.
                if call.cancel_pending() {
                    release(&pool.inner, worker);
                    pool.inner.metrics.outcome("cancelled");
                }
            }
            PoolTaskInner::Queued(q, pool) => {
                // Still waiting: it leaves the queue. Sent since: as a sent task.
                let waiting = q.start.lock().take();
                if waiting.is_some() {
                    pool.inner.metrics.outcome("cancelled");
                    return;
                }
                let sent = q.sent.lock().take();
                if let Some((call, worker)) = sent
                    && call.cancel_pending()
                {
                    release(&pool.inner, &worker);
                    pool.inner.metrics.outcome("cancelled");
                }
            }
            PoolTaskInner::Finished => {}
        }
    }
}

/// A task's hold on its worker's slot: released when dropped.
struct Lease<'a> {
    inner: &'a Arc<PoolInner>,
    w: &'a Arc<Worker>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        release(self.inner, self.w);
    }
}
