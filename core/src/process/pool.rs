//! A pool of worker processes (any language) that run tasks: `exec(method, args)` picks a worker by
//! the pool's strategy, queues (bounded) when every worker is busy, retries a task whose worker died
//! on another one, recycles workers after N tasks or a lifetime, replaces dead workers, and scales
//! between `min` and `max` on queue depth. `map` sends items in chunks (`map.rs`).
//!
//! This file holds the handle, [`Pool`]: starting, the awaited `exec` calls, status and stop.
//! Beside it in `pool/`:
//!
//! - `options.rs`: [`PoolOptions`], [`PoolSize`] and the worker-picking [`Strategy`];
//! - `task.rs`: a task's way through the pool (`exec_raw_with`): sent from the caller's thread or
//!   queued, retried when its worker dies, cancelled ([`PoolTask`]);
//! - `workers.rs`: the workers: picking one, releasing its slot, starting, watching, recycling,
//!   and the manager that keeps their number and scales it;
//! - `queue.rs`: tasks waiting for a slot; `map.rs`: a map in chunks.

mod map;
mod options;
mod queue;
mod task;
mod workers;

use queue::Waiter;
use workers::{Worker, drain_and_stop, manage, start_worker};

pub use map::{MapItems, MapOptions, MapPart, MapResults};
pub use options::{PoolOptions, PoolSize, Strategy};
pub use task::PoolTask;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
use crate::error::{Error, ErrorCode, Result};
use crate::rpc::{WireError, check_args, decode, encode_args};

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
        let trace = crate::telemetry::current_wire_if_any();
        self.exec_from(method, args, started, started + self.inner.opts.task_timeout, trace, 0).await
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
