//! A pool of worker processes (any language) that run tasks: `exec(method, args)` picks a worker by
//! the pool's strategy, queues (bounded) when every worker is busy, retries a task whose worker died
//! on another one, recycles workers after N tasks or a lifetime, replaces dead workers, and scales
//! between `min` and `max` on queue depth. `map` sends items in chunks (`map.rs`).

mod map;
mod queue;

use queue::{Queued, Waiter, acquire, hand_over};

pub use map::{MapItems, MapOptions, MapPart, MapResults};

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::child::ChildProcess;
use super::host::ProcessHost;
use super::metrics::PoolMetrics;
use super::spec::ChildSpec;
use crate::error::{Error, ErrorCode, Result};
use crate::metrics::Registry;
use crate::rpc::{CallOptions, WireError, check_args, decode, encode_args};

/// How a pool picks a worker for a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Each worker in turn.
    #[default]
    RoundRobin,
    /// The worker with the fewest tasks in flight.
    LeastLoaded,
    /// Two workers at random, the less loaded of them (nearly least-loaded, without a scan).
    PowerOfTwo,
}

impl std::str::FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Strategy> {
        match s {
            "round-robin" | "round_robin" | "roundRobin" => Ok(Strategy::RoundRobin),
            "least-loaded" | "least_loaded" | "leastLoaded" | "least-connections" => {
                Ok(Strategy::LeastLoaded)
            }
            "power-of-two" | "power_of_two" | "powerOfTwo" | "p2c" => Ok(Strategy::PowerOfTwo),
            other => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("unknown pool strategy '{other}' (round-robin, least-loaded, power-of-two)"),
            )),
        }
    }
}

/// How many workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolSize {
    /// This many.
    Fixed(usize),
    /// As many as CPUs.
    Auto,
}

impl PoolSize {
    /// The number it stands for.
    pub fn resolve(self) -> usize {
        match self {
            PoolSize::Fixed(n) => n,
            PoolSize::Auto => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

/// The longest time limit a task is given (a longer one is taken as this).
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// How a pool is set up.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The pool's name (for metrics and logs; default: the child's name).
    pub name: String,
    /// The worker program.
    pub spec: ChildSpec,
    /// Workers to start with.
    pub size: PoolSize,
    /// Fewest workers when scaling down (default: `size`).
    pub min: Option<usize>,
    /// Most workers when scaling up on queue depth (default: `size`, no autoscaling).
    pub max: Option<usize>,
    /// How a worker is picked.
    pub strategy: Strategy,
    /// Start every worker and wait for it before `start` returns (default true).
    pub warmup: bool,
    /// Tasks in flight per worker (default 32).
    pub concurrency: usize,
    /// Tasks waiting for a worker before `exec` fails with `QueueFull` (default 10,000).
    pub queue_limit: usize,
    /// How long a task may take, waiting included (default 30 s).
    pub task_timeout: Duration,
    /// Times a task is retried on another worker when its worker dies (default 1).
    pub task_retries: u32,
    /// Replace a worker after it has finished this many tasks.
    pub recycle_after: Option<u64>,
    /// Replace a worker after it has run this long.
    pub max_lifetime: Option<Duration>,
    /// The service tasks are sent to (default: the first one each worker registers).
    pub service: Option<String>,
    /// How long the pool must be idle before it scales down (default 10 s).
    pub idle_timeout: Duration,
    /// Where the pool's metrics go (default: the global registry).
    pub registry: Registry,
    /// The host workers connect to (default: the process-wide one).
    pub host: Option<ProcessHost>,
}

impl PoolOptions {
    /// A pool of `spec` with the defaults.
    pub fn new(spec: ChildSpec) -> Self {
        PoolOptions {
            name: spec.name.clone(),
            spec,
            size: PoolSize::Fixed(2),
            min: None,
            max: None,
            strategy: Strategy::RoundRobin,
            warmup: true,
            concurrency: 32,
            queue_limit: 10_000,
            task_timeout: Duration::from_secs(30),
            task_retries: 1,
            recycle_after: None,
            max_lifetime: None,
            service: None,
            idle_timeout: Duration::from_secs(10),
            registry: Registry::global().clone(),
            host: None,
        }
    }

    fn validate(&self) -> Result<(usize, usize, usize)> {
        let size = self.size.resolve();
        let min = self.min.unwrap_or(size);
        let max = self.max.unwrap_or(size.max(min));
        let bad =
            |why: String| Err(Error::new(ErrorCode::InvalidArgument, format!("pool '{}': {why}", self.name)));
        if max == 0 {
            return bad("needs at least one worker (size or max above 0)".into());
        }
        if min > max || size > max || size < min {
            return bad(format!("min {min} <= size {size} <= max {max} does not hold"));
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1".into());
        }
        if self.task_timeout.is_zero() {
            return bad("task timeout must be above 0".into());
        }
        Ok((size, min, max))
    }
}

struct Worker {
    child: Arc<ChildProcess>,
    target: String,
    draining: AtomicBool,
    /// Its connection failed a call: no more tasks go to it, even before its process is reaped
    /// and its monitor takes it out (a retry must not land on it again).
    dead: AtomicBool,
    /// Its service registered the reserved `$batch` method: `map` sends it chunks of items.
    batch: bool,
}

#[derive(Default)]
struct State {
    workers: Vec<Arc<Worker>>,
    waiters: VecDeque<Waiter>,
    starting: usize,
    next_index: usize,
    /// Workers wanted now (between min and max).
    target: usize,
    crash_streak: u32,
    last_busy: Option<Instant>,
}

struct PoolInner {
    opts: PoolOptions,
    host: ProcessHost,
    state: Mutex<State>,
    rr: AtomicUsize,
    stop: CancellationToken,
    changed: Notify,
    metrics: PoolMetrics,
    min: usize,
    max: usize,
}

/// A snapshot of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStatus {
    /// Ready workers (draining ones included).
    pub workers: usize,
    /// Workers being started.
    pub starting: usize,
    /// Tasks waiting for a worker.
    pub queued: usize,
    /// Tasks in flight.
    pub in_flight: usize,
    /// Workers' process ids.
    pub pids: Vec<u32>,
}

/// A pool of worker processes. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("name", &self.inner.opts.name).field("status", &self.status()).finish()
    }
}

impl Pool {
    /// Starts a pool. With `warmup` every worker is ready when this returns (or the first that
    /// fails to start is the error); without it they start in the background and tasks wait.
    pub async fn start(opts: PoolOptions) -> Result<Pool> {
        let (size, min, max) = opts.validate()?;
        let host = match &opts.host {
            Some(h) => h.clone(),
            None => ProcessHost::shared().await?,
        };
        let metrics = PoolMetrics::new(&opts.registry, &opts.name);
        let pool = Pool {
            inner: Arc::new(PoolInner {
                host,
                state: Mutex::new(State { target: size, ..State::default() }),
                rr: AtomicUsize::new(0),
                stop: CancellationToken::new(),
                changed: Notify::new(),
                metrics,
                min,
                max,
                opts,
            }),
        };
        if pool.inner.opts.warmup {
            let mut starts = tokio::task::JoinSet::new();
            for _ in 0..size {
                let p = pool.inner.clone();
                p.state.lock().starting += 1;
                starts.spawn(async move { start_worker(&p).await });
            }
            let mut first_err = None;
            while let Some(r) = starts.join_next().await {
                if let Ok(Err(e)) = r {
                    first_err.get_or_insert(e);
                }
            }
            if let Some(e) = first_err {
                pool.stop().await;
                return Err(e);
            }
        }
        tokio::spawn(manage(pool.inner.clone()));
        Ok(pool)
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.opts.name
    }

    /// The host its workers connect to.
    pub fn host(&self) -> &ProcessHost {
        &self.inner.host
    }

    /// Runs `method` with raw MessagePack arguments (an array) on a worker; the raw result.
    pub async fn exec_raw(&self, method: &str, args: Bytes) -> std::result::Result<Bytes, WireError> {
        check_args(&args).map_err(|e| WireError::from_error(&e))?;
        let started = Instant::now();
        self.exec_from(method, args, started, started + self.inner.opts.task_timeout, 0).await
    }

    /// [`Pool::exec_raw`] reporting to `done` instead of being awaited. When a worker is free the
    /// request is written from the calling thread and `done` runs where the answer is read (no task,
    /// no thread hop); otherwise the task waits in the queue and is written by the thread that frees
    /// a slot for it (a retry after a worker died continues as a task on the engine's runtime).
    /// `done` runs exactly once, on an engine thread or the caller's, unless the task is cancelled
    /// first ([`PoolTask::cancel`]).
    pub fn exec_raw_with(
        &self,
        method: &str,
        args: Bytes,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> PoolTask {
        self.exec_raw_for(method, args, self.inner.opts.task_timeout, done)
    }

    /// [`Pool::exec_raw_with`] with its own time limit (a map's chunk has the task timeout of
    /// each of its items).
    pub(crate) fn exec_raw_for(
        &self,
        method: &str,
        args: Bytes,
        timeout: Duration,
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
        let Some(w) = picked else { return self.enqueue(method, args, started, deadline, done) };
        match self.send_to(w.clone(), method, args, started, deadline, done) {
            Some(call) => PoolTask(PoolTaskInner::Call { call, pool: self.clone(), worker: w }),
            None => PoolTask(PoolTaskInner::Finished),
        }
    }

    /// No worker is free (or the pool stopped): the task waits in the queue as a callback, sent by
    /// whoever frees a slot ([`queue::hand_over`]).
    fn enqueue(
        &self,
        method: &str,
        args: Bytes,
        started: Instant,
        deadline: Instant,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> PoolTask {
        let inner = &self.inner;
        let q = Arc::new(Queued { start: Mutex::new(None), deadline, sent: Mutex::new(None) });
        let (pool, method, weak) = (self.clone(), method.to_string(), Arc::downgrade(&q));
        *q.start.lock() = Some(Box::new(move |w| match w {
            Ok(w) => {
                let call = pool.send_to(w.clone(), &method, args, started, deadline, done);
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
    fn send_to(
        &self,
        w: Arc<Worker>,
        method: &str,
        args: Bytes,
        started: Instant,
        deadline: Instant,
        done: impl FnOnce(std::result::Result<Bytes, WireError>) + Send + 'static,
    ) -> Option<crate::rpc::CallHandle> {
        let left = deadline.saturating_duration_since(Instant::now());
        let opts = CallOptions { deadline: Some(left.max(Duration::from_millis(1))), trace: None };
        let (pool, m, w2, a) = (self.clone(), method.to_string(), w.clone(), args.clone());
        let cb: Box<dyn FnOnce(std::result::Result<Bytes, WireError>) + Send> = Box::new(move |r| {
            // Without a runtime here (the connection was already gone), finish on the engine's.
            if tokio::runtime::Handle::try_current().is_ok() {
                pool.finish_fast(&m, a, &w2, started, deadline, r, done);
            } else {
                crate::runtime::handle()
                    .spawn(async move { pool.finish_fast(&m, a, &w2, started, deadline, r, done) });
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
                            done(pool.exec_from(&method, args, started, deadline, 1).await)
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
    async fn exec_from(
        &self,
        method: &str,
        args: Bytes,
        started: Instant,
        deadline: Instant,
        mut attempt: u32,
    ) -> std::result::Result<Bytes, WireError> {
        let inner = &self.inner;
        let result = loop {
            let w = match acquire(inner, deadline).await {
                Ok(w) => w,
                Err(e) => break Err(WireError::from_error(&e)),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            let opts = CallOptions { deadline: Some(left), trace: None };
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

    /// Runs `method` with typed arguments (a tuple) and a typed result.
    pub async fn exec<A: Serialize, R: DeserializeOwned>(&self, method: &str, args: &A) -> Result<R> {
        let b = encode_args(args)?;
        let out = self.exec_raw(method, b).await.map_err(|e| e.to_error())?;
        decode(&out)
    }

    /// What the pool looks like now.
    pub fn status(&self) -> PoolStatus {
        let s = self.inner.state.lock();
        PoolStatus {
            workers: s.workers.len(),
            starting: s.starting,
            // Tasks cancelled while queued leave their place behind until handed over.
            queued: s.waiters.iter().filter(|w| !w.is_closed()).count(),
            in_flight: s.workers.iter().map(|w| w.child.in_flight()).sum(),
            pids: s.workers.iter().map(|w| w.child.pid).collect(),
        }
    }

    /// The ready workers.
    pub fn workers(&self) -> Vec<Arc<ChildProcess>> {
        self.inner.state.lock().workers.iter().map(|w| w.child.clone()).collect()
    }

    /// Waits until `n` workers are ready, at most `timeout`.
    pub async fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<()> {
        let until = Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            if self.inner.state.lock().workers.len() >= n {
                return Ok(());
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return Err(Error::new(
                    ErrorCode::Timeout,
                    format!(
                        "pool '{}' has {} of {n} workers after {} ms",
                        self.name(),
                        self.status().workers,
                        timeout.as_millis()
                    ),
                ));
            }
        }
    }

    /// Stops the pool: queued tasks fail with `NotRunning`, tasks in flight get the workers'
    /// shutdown timeout to finish, then every worker is stopped (SIGTERM, then SIGKILL).
    pub async fn stop(&self) {
        let inner = &self.inner;
        inner.stop.cancel();
        queue::expire(inner, true);
        let workers = {
            let s = inner.state.lock();
            for w in &s.workers {
                w.draining.store(true, Ordering::Release);
            }
            s.workers.clone()
        };
        inner.changed.notify_waiters();
        let mut stops = tokio::task::JoinSet::new();
        for w in workers {
            stops.spawn(async move { drain_and_stop(&w).await });
        }
        while stops.join_next().await.is_some() {}
        // Workers that were starting are stopped by their start task when it sees the stop.
        for _ in 0..500 {
            if inner.state.lock().starting == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        inner.state.lock().workers.clear();
        inner.metrics.set_workers(0, 0);
    }
}

async fn drain_and_stop(w: &Worker) {
    w.draining.store(true, Ordering::Release);
    let until = Instant::now() + w.child_shutdown_timeout();
    while w.child.in_flight() > 0 && Instant::now() < until && w.child.is_alive() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let left = until.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
    w.child.stop_within(left).await;
}

impl Worker {
    fn child_shutdown_timeout(&self) -> Duration {
        self.child.shutdown_timeout()
    }

    fn has_room(&self, concurrency: usize) -> bool {
        !self.draining.load(Ordering::Acquire)
            && !self.dead.load(Ordering::Acquire)
            && self.child.in_flight() < concurrency
            && self.child.is_alive()
    }
}

fn pick(inner: &PoolInner, s: &State) -> Option<Arc<Worker>> {
    let c = inner.opts.concurrency;
    let n = s.workers.len();
    if n == 0 {
        return None;
    }
    let chosen = match inner.opts.strategy {
        Strategy::RoundRobin => {
            let start = inner.rr.fetch_add(1, Ordering::Relaxed);
            (0..n).map(|k| &s.workers[(start + k) % n]).find(|w| w.has_room(c))
        }
        Strategy::LeastLoaded => {
            s.workers.iter().filter(|w| w.has_room(c)).min_by_key(|w| w.child.in_flight())
        }
        Strategy::PowerOfTwo => {
            // Two different workers (when there are two).
            let i = fastrand::usize(..n);
            let j = if n > 1 { (i + 1 + fastrand::usize(..n - 1)) % n } else { i };
            let (a, b) = (&s.workers[i], &s.workers[j]);
            let best = if b.child.in_flight() < a.child.in_flight() { b } else { a };
            if best.has_room(c) {
                Some(best)
            } else {
                s.workers.iter().filter(|w| w.has_room(c)).min_by_key(|w| w.child.in_flight())
            }
        }
    };
    chosen.map(|w| {
        w.child.in_flight.fetch_add(1, Ordering::AcqRel);
        w.clone()
    })
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

/// A task finished on `w`: hand its slot to the next waiting task, and recycle `w` if it is due.
fn release(inner: &Arc<PoolInner>, w: &Arc<Worker>) {
    w.child.in_flight.fetch_sub(1, Ordering::AcqRel);
    let done = w.child.tasks_done.fetch_add(1, Ordering::Relaxed) + 1;
    if let Some(n) = inner.opts.recycle_after
        && done >= n
        && !w.draining.swap(true, Ordering::AcqRel)
    {
        recycle(inner, w.clone(), "task limit");
    }
    hand_over(inner);
}

/// Replaces `w`: a new worker is started, `w` finishes what it has and stops. Not a crash.
fn recycle(inner: &Arc<PoolInner>, w: Arc<Worker>, why: &'static str) {
    tracing::info!(pool = %inner.opts.name, pid = w.child.pid, "recycling a worker ({why})");
    inner.metrics.recycled.inc();
    let inner = inner.clone();
    tokio::spawn(async move {
        drain_and_stop(&w).await;
        // The monitor sees a stop, removes it, and the manager starts a replacement.
    });
    inner.changed.notify_waiters();
}

async fn start_worker(inner: &Arc<PoolInner>) -> Result<()> {
    let index = {
        let mut s = inner.state.lock();
        s.next_index += 1;
        s.next_index - 1
    };
    let r = inner.host.spawn(&inner.opts.spec, index).await;
    let child = match r {
        Ok(c) => c,
        Err(e) => {
            let mut s = inner.state.lock();
            s.starting -= 1;
            s.crash_streak += 1;
            drop(s);
            tracing::error!(pool = %inner.opts.name, "a worker did not start: {e}");
            inner.changed.notify_waiters();
            return Err(e);
        }
    };
    let target = match inner.opts.service.clone().or_else(|| child.services.first().cloned()) {
        Some(t) => t,
        None => {
            inner.state.lock().starting -= 1;
            child.stop().await;
            return Err(Error::new(
                ErrorCode::ChildNotReady,
                format!("pool '{}': the worker registered no service to send tasks to", inner.opts.name),
            ));
        }
    };
    inner.metrics.spawn_to_ready.observe(child.ready_after().as_secs_f64());
    let batch = takes_batches(&child, &target);
    let w = Arc::new(Worker {
        child,
        target,
        draining: AtomicBool::new(false),
        dead: AtomicBool::new(false),
        batch,
    });
    let stopped = {
        let mut s = inner.state.lock();
        s.starting -= 1;
        let stopped = inner.stop.is_cancelled();
        if !stopped {
            s.workers.push(w.clone());
        }
        inner.metrics.set_workers(s.workers.len(), s.starting);
        stopped
    };
    if stopped {
        w.child.stop().await;
        return Err(Error::new(ErrorCode::NotRunning, "the pool stopped"));
    }
    tokio::spawn(monitor(inner.clone(), w));
    hand_over(inner);
    inner.changed.notify_waiters();
    Ok(())
}

/// Whether the service `target` names (`name`, `name@version` or a range) registered `$batch`.
fn takes_batches(child: &ChildProcess, target: &str) -> bool {
    let name = |s: &str| s.split_once('@').map_or(s, |(n, _)| n).to_string();
    let wanted = name(target);
    child
        .services
        .iter()
        .filter(|s| *s == target || name(s) == wanted)
        .any(|s| child.methods(s).is_some_and(|m| m.iter().any(|x| x == super::batch::BATCH_METHOD)))
}

/// Watches one worker until it is gone, then takes it out of the pool.
async fn monitor(inner: Arc<PoolInner>, w: Arc<Worker>) {
    let reason = w.child.lost().await;
    let crashed = reason.is_failure() && !w.draining.load(Ordering::Acquire);
    {
        let mut s = inner.state.lock();
        s.workers.retain(|x| !Arc::ptr_eq(x, &w));
        // A worker that dies young counts towards a crash loop (replacements then back off); one
        // that ran a while ends it.
        if w.child.uptime() >= Duration::from_secs(5) {
            s.crash_streak = 0;
        } else if crashed {
            s.crash_streak += 1;
        }
        inner.metrics.set_workers(s.workers.len(), s.starting);
    }
    if crashed && !inner.stop.is_cancelled() {
        inner.metrics.restarts.inc();
        tracing::warn!(pool = %inner.opts.name, pid = w.child.pid, "worker {reason}");
    }
    inner.changed.notify_waiters();
}

/// Keeps the pool at its target size, replaces dead and old workers, and scales on queue depth.
async fn manage(inner: Arc<PoolInner>) {
    loop {
        let notified = inner.changed.notified();
        if inner.stop.is_cancelled() {
            return;
        }
        queue::expire(&inner, false);
        let (need, delay) = {
            let mut s = inner.state.lock();
            let now = Instant::now();
            // Scale up while tasks wait; down after a quiet spell.
            if !s.waiters.is_empty() {
                s.last_busy = Some(now);
                if s.target < inner.max && s.starting == 0 {
                    s.target += 1;
                }
            } else if s.target > inner.min
                && s.workers.iter().all(|w| w.child.in_flight() == 0)
                && s.last_busy.is_none_or(|t| now.duration_since(t) >= inner.opts.idle_timeout)
            {
                s.target -= 1;
                s.last_busy = Some(now);
                if let Some(w) = s.workers.iter().rev().find(|w| !w.draining.load(Ordering::Acquire)).cloned()
                {
                    w.draining.store(true, Ordering::Release);
                    tokio::spawn(async move { drain_and_stop(&w).await });
                }
            }
            if let Some(life) = inner.opts.max_lifetime {
                let old: Vec<Arc<Worker>> = s
                    .workers
                    .iter()
                    .filter(|w| w.child.uptime() >= life && !w.draining.swap(true, Ordering::AcqRel))
                    .cloned()
                    .collect();
                for w in old {
                    recycle(&inner, w, "lifetime");
                }
            }
            let live = s.workers.iter().filter(|w| !w.draining.load(Ordering::Acquire)).count();
            let need = s.target.saturating_sub(live + s.starting);
            let delay = if s.crash_streak == 0 {
                Duration::ZERO
            } else {
                Duration::from_millis(100u64 << s.crash_streak.min(6)).min(Duration::from_secs(5))
            };
            s.starting += need;
            (need, delay)
        };
        for _ in 0..need {
            let p = inner.clone();
            tokio::spawn(async move {
                if !delay.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = p.stop.cancelled() => { p.state.lock().starting -= 1; return; }
                    }
                }
                let _ = start_worker(&p).await;
            });
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = inner.stop.cancelled() => return,
        }
    }
}
