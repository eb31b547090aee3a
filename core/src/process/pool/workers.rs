//! The pool's workers: picking one for a task by the strategy, releasing its slot when a task ends
//! (recycling it when it is due), starting one, watching it until it is gone, and the manager that
//! keeps the pool at its target size, replaces dead and old workers and scales on queue depth.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::options::Strategy;
use super::queue::{self, hand_over};
use super::{PoolInner, State};
use crate::error::{Error, ErrorCode, Result};
use crate::process::child::ChildProcess;

pub(super) struct Worker {
    pub(super) child: Arc<ChildProcess>,
    pub(super) target: String,
    pub(super) draining: AtomicBool,
    /// Its connection failed a call: no more tasks go to it, even before its process is reaped
    /// and its monitor takes it out (a retry must not land on it again).
    pub(super) dead: AtomicBool,
    /// Its service registered the reserved `$batch` method: `map` sends it chunks of items.
    pub(super) batch: bool,
}

pub(super) async fn drain_and_stop(w: &Worker) {
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

pub(super) fn pick(inner: &PoolInner, s: &State) -> Option<Arc<Worker>> {
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

/// A task finished on `w`: hand its slot to the next waiting task, and recycle `w` if it is due.
pub(super) fn release(inner: &Arc<PoolInner>, w: &Arc<Worker>) {
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

pub(super) async fn start_worker(inner: &Arc<PoolInner>) -> Result<()> {
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
        .any(|s| child.methods(s).is_some_and(|m| m.iter().any(|x| x == crate::process::batch::BATCH_METHOD)))
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
pub(super) async fn manage(inner: Arc<PoolInner>) {
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
