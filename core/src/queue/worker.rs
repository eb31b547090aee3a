//! [`Worker`]: runs a queue's jobs with a handler, under leases, at a set concurrency.
//!
//! Four tasks: the claim loop (takes as many jobs as there are free slots, plus a few held ready
//! to start, and sleeps until work may be ready), one task per running job, the finisher (sends
//! outcomes to the store in batches: one write for every job that finished meanwhile) and the
//! keeper (renews the leases of running and held jobs every third of the lease, and hands back the
//! jobs of lost workers).
//!
//! Held jobs (`WorkerOptions::prefetch`) take the store's round trip off the path from one job to
//! the next: a slot that frees starts a held job at once, and the hold is topped up in the
//! background. A held job that finds no free slot within [`HOLD`] goes back to the front of the
//! queue, so that a worker busy with long jobs does not keep work from idle ones.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::handle::{Queue, QueueEvent};
use super::job::{AttemptError, Finish, FinishAck, Leased, Outcome};
use super::options::WorkerOptions;
use super::store::{BoxFuture, Claim};
use crate::error::{Error, ErrorCode, Result};
use crate::telemetry::TraceContext;
use crate::time::now_ms;

/// How often a running worker samples its queue's depth for the metrics.
const DEPTH_SAMPLE: Duration = Duration::from_secs(5);

/// The longest a worker holds a prefetched job that no free slot has started.
pub(crate) const HOLD: Duration = Duration::from_millis(250);

/// A job as its handler gets it.
#[derive(Clone)]
pub struct Job {
    leased: Arc<Leased>,
    queue: Queue,
    cancelled: CancellationToken,
    trace: Option<TraceContext>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("id", &self.leased.id).field("attempt", &self.leased.attempt).finish()
    }
}

impl Job {
    /// The job's id (stable across attempts: use it as an idempotency key).
    pub fn id(&self) -> &str {
        &self.leased.id
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.leased.name
    }

    /// This attempt, from 1.
    pub fn attempt(&self) -> u32 {
        self.leased.attempt
    }

    /// The lease's fencing token: it grows each time the job is handed out.
    pub fn token(&self) -> u64 {
        self.leased.token
    }

    /// The payload as MessagePack.
    pub fn raw(&self) -> &Bytes {
        &self.leased.data
    }

    /// The payload.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T> {
        rmp_serde::from_slice(&self.leased.data).map_err(|e| {
            Error::new(
                ErrorCode::InvalidJobData,
                format!("job '{}': the data is not of the expected type: {e}", self.id()),
            )
        })
    }

    /// Reports progress (any serializable value); `false` when the job's lease was lost.
    pub async fn progress<T: serde::Serialize + ?Sized>(&self, progress: &T) -> Result<bool> {
        self.progress_raw(super::handle::encode(progress)?).await
    }

    /// Reports progress already in MessagePack (what the doors send).
    pub async fn progress_raw(&self, bytes: Bytes) -> Result<bool> {
        let ok =
            self.queue.store().progress(self.queue.name(), self.id(), self.token(), bytes.clone()).await?;
        if ok {
            self.queue.emit(vec![QueueEvent::Progress { id: self.id().to_string(), progress: bytes }]);
        }
        Ok(ok)
    }

    /// The trace this attempt runs in (its span, a child of the add's), when the job was added in
    /// one: a Rust handler's future has it as its current context already; a door hands it to its
    /// own language's context.
    pub fn trace(&self) -> Option<&TraceContext> {
        self.trace.as_ref()
    }

    /// [`Job::trace`] as a W3C traceparent.
    pub fn traceparent(&self) -> Option<String> {
        self.trace.as_ref().map(TraceContext::traceparent)
    }

    /// Cancelled when the attempt should stop: its timeout passed, its lease was lost, or the
    /// worker is closing and its grace ran out.
    pub fn cancelled(&self) -> &CancellationToken {
        &self.cancelled
    }
}

/// A job handler: the result is MessagePack (see [`Worker::start`] for typed handlers).
pub type Handler = Arc<dyn Fn(Job) -> BoxFuture<'static, Result<Bytes>> + Send + Sync>;

/// A running worker. [`Worker::close`] lets running jobs finish; dropping it stops at once
/// (running jobs are handed back when their lease expires).
pub struct Worker {
    closing: CancellationToken,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("queue", &self.shared.queue.name()).finish_non_exhaustive()
    }
}

/// What the finisher is sent, in order: an attempt's outcome, or the queue found empty (reported
/// after the outcomes sent before it).
enum Report {
    Outcome(Finish, Arc<Leased>),
    Drained,
}

struct Running {
    token: u64,
    cancel: CancellationToken,
}

/// Jobs leased ahead, oldest first, with when each was leased.
#[derive(Default)]
struct Held {
    jobs: VecDeque<(Leased, tokio::time::Instant)>,
    /// Set when the worker closes: jobs leased after that go straight back.
    closed: bool,
    /// A top-up claim is on its way.
    topping_up: bool,
}

struct Shared {
    queue: Queue,
    options: WorkerOptions,
    /// The jobs held beyond the running ones, at most (see `WorkerOptions::prefetch`); 0 once a
    /// claim says the queue has limits.
    prefetch: std::sync::atomic::AtomicU32,
    held: Mutex<Held>,
    /// Woken when a top-up brought jobs in.
    topped_up: tokio::sync::Notify,
    name: String,
    handler: Handler,
    slots: Arc<Semaphore>,
    running: Mutex<HashMap<String, Running>>,
    done: mpsc::UnboundedSender<Report>,
    /// Cancelled when running jobs must stop (the grace of `close` ran out, or the worker dropped).
    abort: CancellationToken,
}

impl Worker {
    /// Starts a worker whose handler returns any serializable value (its result, kept with the
    /// job). An `Err` fails the attempt: the job is retried after its backoff, or goes to the
    /// dead-letter queue after its last attempt.
    pub fn start<F, Fut, R>(queue: &Queue, options: WorkerOptions, handler: F) -> Result<Worker>
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
        R: serde::Serialize + Send + 'static,
    {
        let handler = Arc::new(handler);
        let raw: Handler = Arc::new(move |job| {
            let fut = handler(job);
            Box::pin(async move { super::handle::encode(&fut.await?) })
        });
        Worker::start_raw(queue, options, raw)
    }

    /// Starts a worker with a handler that answers MessagePack itself (what the bindings use).
    pub fn start_raw(queue: &Queue, options: WorkerOptions, handler: Handler) -> Result<Worker> {
        options.check()?;
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{:08x}", std::process::id(), fastrand::u32(..)));
        let (done, done_rx) = mpsc::unbounded_channel();
        let limited = queue.inner.options.concurrency.is_some() || queue.inner.options.rate.is_some();
        let prefetch = match options.prefetch {
            _ if limited => 0,
            Some(n) => n,
            None => options.concurrency.max(8),
        };
        let shared = Arc::new(Shared {
            queue: queue.clone(),
            prefetch: prefetch.into(),
            held: Mutex::new(Held::default()),
            topped_up: tokio::sync::Notify::new(),
            slots: Arc::new(Semaphore::new(options.concurrency as usize)),
            options,
            name,
            handler,
            running: Mutex::new(HashMap::new()),
            done,
            abort: CancellationToken::new(),
        });
        let closing = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(claim_loop(shared.clone(), closing.clone())),
            tokio::spawn(finisher(shared.queue.clone(), done_rx)),
            tokio::spawn(keeper(shared.clone(), closing.clone())),
        ];
        Ok(Worker { closing, shared, tasks })
    }

    /// The queue.
    pub fn queue(&self) -> &Queue {
        &self.shared.queue
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.shared.running.lock().len()
    }

    /// Takes no new job, lets running ones finish for up to `grace`, then stops the rest and hands
    /// them back to the queue (their attempt not counted), and returns once every outcome is in
    /// the store.
    pub async fn close(mut self, grace: Duration) {
        self.closing.cancel();
        let all = self.shared.options.concurrency;
        let slots = self.shared.slots.clone();
        let finished = tokio::time::timeout(grace, slots.acquire_many(all)).await.is_ok();
        if !finished {
            self.shared.abort.cancel();
            // The stopped jobs' tasks release their slots as they hand the jobs back.
            let _ = slots.acquire_many(all).await;
        }
        // Every slot is back, so no job runs. The claim loop stops on `closing`. The keeper has no
        // lease left to renew: it is stopped, rather than left to wait for its next renewal (up to
        // a third of the lease). The finisher stops once every sender is gone, after recording
        // what it was sent.
        let mut tasks = std::mem::take(&mut self.tasks);
        let finisher = tasks.remove(1);
        if let Some(keeper) = tasks.get(1) {
            keeper.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        drop(self);
        let _ = finisher.await;
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.closing.cancel();
        self.shared.abort.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn claim_loop(shared: Arc<Shared>, closing: CancellationToken) {
    claim_jobs(&shared, closing).await;
    // Closing (or the semaphore gone): what is held goes back, and so does what a top-up brings.
    shared.hand_back_held(true);
}

async fn claim_jobs(shared: &Arc<Shared>, closing: CancellationToken) {
    let queue = shared.queue.clone();
    let mut waiter = queue.store().waiter(queue.name());
    let mut busy = false;
    let mut failures = 0u32;
    loop {
        // A free slot; while none is, held jobs past their hold go back.
        let first = loop {
            let stale_at = shared.held.lock().jobs.front().map(|(_, at)| *at + HOLD);
            tokio::select! {
                p = shared.slots.clone().acquire_owned() => match p {
                    Ok(p) => break p,
                    Err(_) => return,
                },
                _ = closing.cancelled() => return,
                _ = sleep_until(stale_at) => shared.hand_back_stale(),
            }
        };
        // Held jobs first: no round trip.
        shared.hand_back_stale();
        let mut slot = Some(first);
        while let Some(s) = slot.take() {
            let Some(job) = shared.take_held() else {
                slot = Some(s);
                break;
            };
            busy = true;
            shared.start(job, s);
            slot = shared.slots.clone().try_acquire_owned().ok();
        }
        let Some(first) = slot else {
            top_up(shared);
            continue;
        };
        let mut slots = vec![first];
        while let Ok(p) = shared.slots.clone().try_acquire_owned() {
            slots.push(p);
        }
        waiter.seen();
        // An idle worker takes only what it can run: jobs added at once go to every idle worker
        // they need, not to the first one woken. Held jobs are for a worker running back to back.
        let ahead = if busy { shared.prefetch() } else { 0 };
        let claim = Claim {
            worker: shared.name.clone(),
            max: (slots.len() as u32).saturating_add(ahead),
            lease: shared.options.lease,
        };
        // Not abandoned when the worker closes: the store would lease jobs to nobody.
        let claimed = queue.store().claim(queue.name(), claim).await;
        let claimed = match claimed {
            Ok(c) => {
                failures = 0;
                c
            }
            Err(e) => {
                // The store is unreachable or failing: back off (up to 5 s) and try again.
                failures = failures.saturating_add(1);
                tracing::warn!(queue = queue.name(), error = %e, "queue worker: claim failed");
                drop(slots);
                let backoff = Duration::from_millis(100u64.saturating_mul(1 << failures.min(6)).min(5_000));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => continue,
                    _ = closing.cancelled() => return,
                }
            }
        };
        if claimed.jobs.is_empty() {
            drop(slots);
            if busy && shared.held.lock().jobs.is_empty() {
                busy = false;
                let _ = shared.done.send(Report::Drained);
            }
            let mut wait = shared.options.poll_interval;
            if let Some(due) = claimed.next_due_ms {
                wait = wait.min(Duration::from_millis(due.saturating_sub(now_ms())));
            }
            if let Some(r) = claimed.rate_wait {
                wait = r;
            }
            tokio::select! {
                _ = waiter.wait(wait) => {}
                _ = shared.topped_up.notified() => {}
                _ = closing.cancelled() => return,
            }
            continue;
        }
        if closing.is_cancelled() {
            for job in claimed.jobs {
                shared.hand_back(job);
            }
            return;
        }
        shared.limits(&claimed);
        busy = true;
        let mut jobs = claimed.jobs.into_iter();
        // Slots first: `zip` takes from its first iterator before it knows the second is done.
        for (slot, job) in slots.into_iter().zip(jobs.by_ref()) {
            shared.start(job, slot);
        }
        shared.hold(jobs);
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Tops the held jobs up in the background once half of them have started.
fn top_up(shared: &Arc<Shared>) {
    let want = {
        let mut held = shared.held.lock();
        let prefetch = shared.prefetch();
        let want = prefetch.saturating_sub(held.jobs.len() as u32);
        if held.topping_up || held.closed || want == 0 || want < prefetch.div_ceil(2) {
            return;
        }
        held.topping_up = true;
        want
    };
    let shared = shared.clone();
    tokio::spawn(async move {
        let claim = Claim { worker: shared.name.clone(), max: want, lease: shared.options.lease };
        let claimed = shared.queue.store().claim(shared.queue.name(), claim).await;
        shared.held.lock().topping_up = false;
        // A failed top-up is not retried here: the claim loop claims for itself when nothing is held.
        let Ok(claimed) = claimed else { return };
        if claimed.paused {
            shared.hand_back_held(false);
        }
        shared.limits(&claimed);
        if !claimed.jobs.is_empty() {
            shared.hold(claimed.jobs);
            shared.topped_up.notify_one();
        }
    });
}

impl Shared {
    fn prefetch(&self) -> u32 {
        self.prefetch.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A queue with limits (set by any process) gets no prefetch: a held job would count as
    /// started against its rate and its concurrency.
    fn limits(&self, claimed: &super::store::Claimed) {
        if claimed.limited && self.prefetch() > 0 {
            self.prefetch.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Runs `job` in `slot`.
    fn start(self: &Arc<Self>, job: Leased, slot: tokio::sync::OwnedSemaphorePermit) {
        let cancel = self.abort.child_token();
        self.running.lock().insert(job.id.clone(), Running { token: job.token, cancel: cancel.clone() });
        tokio::spawn(run_job(self.clone(), Arc::new(job), cancel, slot));
    }

    /// Keeps jobs leased ahead (straight back if the worker is closing).
    fn hold(&self, jobs: impl IntoIterator<Item = Leased>) {
        let now = tokio::time::Instant::now();
        let mut held = self.held.lock();
        for job in jobs {
            if held.closed {
                self.hand_back(job);
            } else {
                held.jobs.push_back((job, now));
            }
        }
    }

    fn take_held(&self) -> Option<Leased> {
        self.held.lock().jobs.pop_front().map(|(job, _)| job)
    }

    /// Hands back the held jobs that waited longer than [`HOLD`].
    fn hand_back_stale(&self) {
        let now = tokio::time::Instant::now();
        let mut held = self.held.lock();
        while held.jobs.front().is_some_and(|(_, at)| now.duration_since(*at) >= HOLD) {
            if let Some((job, _)) = held.jobs.pop_front() {
                self.hand_back(job);
            }
        }
    }

    /// Hands back every held job; `close`: and those leased from now on.
    fn hand_back_held(&self, close: bool) {
        let mut held = self.held.lock();
        held.closed |= close;
        for (job, _) in std::mem::take(&mut held.jobs) {
            self.hand_back(job);
        }
    }

    /// The leases to renew: running and held jobs'.
    fn leases(&self) -> Vec<(String, u64)> {
        let mut leases: Vec<(String, u64)> =
            self.running.lock().iter().map(|(id, r)| (id.clone(), r.token)).collect();
        leases.extend(self.held.lock().jobs.iter().map(|(j, _)| (j.id.clone(), j.token)));
        leases
    }

    /// Back to the front of the queue, the attempt not counted.
    fn hand_back(&self, job: Leased) {
        let f = Finish { id: job.id.clone(), token: job.token, outcome: Outcome::Release };
        let _ = self.done.send(Report::Outcome(f, Arc::new(job)));
    }
}

/// One attempt: the handler in its own task (a panic fails the attempt, not the worker), under the
/// job's timeout; its outcome goes to the finisher.
async fn run_job(
    shared: Arc<Shared>,
    leased: Arc<Leased>,
    cancel: CancellationToken,
    slot: tokio::sync::OwnedSemaphorePermit,
) {
    let (mut span, trace) = super::trace::processing(shared.queue.name(), &leased);
    let job = Job {
        leased: leased.clone(),
        queue: shared.queue.clone(),
        cancelled: cancel.clone(),
        trace: trace.clone(),
    };
    let metrics = &shared.queue.inner.metrics;
    if leased.attempt == 1 {
        metrics.wait.observe(now_ms().saturating_sub(leased.created_ms) as f64 / 1000.0);
    }
    metrics.in_flight.inc();
    let started = std::time::Instant::now();
    let mut task = match trace {
        Some(ctx) => tokio::spawn(crate::telemetry::in_context(
            ctx.clone(),
            crate::telemetry::with_context(Some(ctx), || (shared.handler)(job)),
        )),
        None => tokio::spawn((shared.handler)(job)),
    };
    let timeout = leased.opts.timeout_ms.map(Duration::from_millis).unwrap_or(Duration::MAX);
    enum Ended {
        Ran(std::result::Result<Result<Bytes>, tokio::task::JoinError>),
        TimedOut,
        Stopped,
    }
    // Stopped first: a handler that ends because the attempt was stopped (a door's handler
    // answers at once) must not count as a failed attempt.
    let ended = tokio::select! {
        biased;
        _ = cancel.cancelled() => Ended::Stopped,
        r = &mut task => Ended::Ran(r),
        _ = tokio::time::sleep(timeout) => Ended::TimedOut,
    };
    if !matches!(ended, Ended::Ran(_)) {
        cancel.cancel();
        task.abort();
    }
    metrics.in_flight.dec();
    metrics.duration.observe(started.elapsed().as_secs_f64());
    let lost = shared.running.lock().remove(&leased.id).is_none();
    let failed = |code: ErrorCode, message: String| AttemptError {
        attempt: leased.attempt,
        at_ms: now_ms(),
        code: code.as_str().to_string(),
        message,
    };
    let error = match ended {
        Ended::Ran(Ok(Ok(result))) => Err(result),
        Ended::Ran(Ok(Err(e))) => Ok(AttemptError {
            attempt: leased.attempt,
            at_ms: now_ms(),
            code: e.code().as_str().to_string(),
            message: e.message().to_string(),
        }),
        Ended::Ran(Err(e)) => Ok(failed(ErrorCode::JobFailed, format!("the handler panicked: {e}"))),
        Ended::TimedOut => Ok(failed(
            ErrorCode::JobTimeout,
            format!("the attempt ran longer than its timeout of {} ms", leased.opts.timeout_ms.unwrap_or(0)),
        )),
        // Lease lost (the keeper removed the job): another worker has it; nothing to report.
        Ended::Stopped if lost => {
            if let Some(mut s) = span.take() {
                s.set_error(ErrorCode::LeaseLost.as_str(), "the job's lease was lost: another worker has it");
            }
            drop(slot);
            return;
        }
        // The worker is closing and its grace ran out: back to the queue, the attempt not counted.
        Ended::Stopped => {
            if let Some(mut s) = span.take() {
                s.set_error(
                    ErrorCode::QueueClosed.as_str(),
                    "handed back: the worker closed before it finished",
                );
            }
            let f = Finish { id: leased.id.clone(), token: leased.token, outcome: Outcome::Release };
            let _ = shared.done.send(Report::Outcome(f, leased));
            drop(slot);
            return;
        }
    };
    if let Some(mut s) = span.take() {
        if let Ok(e) = &error {
            s.set_error(&e.code, &e.message);
        }
        s.end();
    }
    let outcome = match error {
        Err(result) => Outcome::Completed(result),
        Ok(e) if leased.attempt >= leased.opts.attempts => Outcome::Dead(e),
        Ok(e) => {
            let delay = leased.opts.backoff.delay_ms(leased.attempt, leased.opts.jitter);
            Outcome::Retry(e, now_ms().saturating_add(delay))
        }
    };
    let _ = shared
        .done
        .send(Report::Outcome(Finish { id: leased.id.clone(), token: leased.token, outcome }, leased));
    drop(slot);
}

/// Sends outcomes to the store, every outcome waiting in one call, and reports them as events.
async fn finisher(queue: Queue, mut rx: mpsc::UnboundedReceiver<Report>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 1024).await > 0 {
        let drained = batch.iter().any(|r| matches!(r, Report::Drained));
        let (finishes, jobs): (Vec<Finish>, Vec<Arc<Leased>>) = batch
            .drain(..)
            .filter_map(|r| match r {
                Report::Outcome(f, j) => Some((f, j)),
                Report::Drained => None,
            })
            .unzip();
        if !finishes.is_empty() {
            record(&queue, finishes, &jobs).await;
        }
        if drained {
            queue.emit(vec![QueueEvent::Drained]);
        }
    }
}

async fn record(queue: &Queue, finishes: Vec<Finish>, jobs: &[Arc<Leased>]) {
    let events: Vec<Option<QueueEvent>> = finishes.iter().zip(jobs).map(|(f, j)| event_of(f, j)).collect();
    let mut delay = Duration::from_millis(50);
    let acks = loop {
        match queue.store().finish(queue.name(), finishes.clone()).await {
            Ok(acks) => break acks,
            Err(e) => {
                // Safe to repeat: an outcome already recorded answers `LeaseLost` and is dropped.
                tracing::warn!(queue = queue.name(), error = %e, "queue worker: recording outcomes failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };
    let m = &queue.inner.metrics;
    let mut heard = Vec::with_capacity(events.len());
    for ((ack, e), f) in acks.into_iter().zip(events).zip(&finishes) {
        if ack != FinishAck::Done {
            continue;
        }
        match f.outcome {
            Outcome::Completed(_) => m.completed.inc(),
            Outcome::Retry(..) => m.retried.inc(),
            Outcome::Dead(_) => m.dead.inc(),
            Outcome::Release => {}
        }
        heard.extend(e);
    }
    queue.emit(heard);
}

fn event_of(f: &Finish, j: &Leased) -> Option<QueueEvent> {
    let (id, name, attempt) = (j.id.clone(), j.name.clone(), j.attempt);
    Some(match &f.outcome {
        Outcome::Completed(result) => QueueEvent::Completed { id, name, attempt, result: result.clone() },
        Outcome::Retry(e, _) => {
            QueueEvent::Failed { id, name, attempt, error: e.message.clone(), dead: false }
        }
        Outcome::Dead(e) => QueueEvent::Failed { id, name, attempt, error: e.message.clone(), dead: true },
        Outcome::Release => return None,
    })
}

/// Renews the running jobs' leases every third of the lease (a lost one stops its job), and hands
/// back the jobs of lost workers every half lease.
async fn keeper(shared: Arc<Shared>, closing: CancellationToken) {
    let queue = shared.queue.clone();
    let lease = shared.options.lease;
    let mut renew = tokio::time::interval(lease / 3);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reap = tokio::time::interval(lease / 2);
    reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The store's counts, for the depth gauges (every machine's jobs, so sampled, not counted).
    let mut sample = tokio::time::interval(DEPTH_SAMPLE);
    sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = renew.tick() => {
                let leases = shared.leases();
                if leases.is_empty() {
                    continue;
                }
                match queue.store().renew(queue.name(), leases, lease).await {
                    Ok(lost) => {
                        if !lost.is_empty() {
                            shared.held.lock().jobs.retain(|(j, _)| !lost.contains(&j.id));
                        }
                        let mut running = shared.running.lock();
                        for id in lost {
                            if let Some(r) = running.remove(&id) {
                                tracing::warn!(queue = queue.name(), job = id, "queue worker: lease lost; the job runs elsewhere");
                                r.cancel.cancel();
                            }
                        }
                    }
                    Err(e) => tracing::warn!(queue = queue.name(), error = %e, "queue worker: renewing leases failed"),
                }
            }
            _ = reap.tick() => {
                match queue.store().reap(queue.name(), shared.options.max_stalls).await {
                    Ok(stalled) => {
                        let m = &queue.inner.metrics;
                        let events = stalled.into_iter().map(|s| {
                            if s.requeued { m.stalled.inc() } else { m.dead.inc() }
                            QueueEvent::Stalled { id: s.id, requeued: s.requeued }
                        }).collect();
                        queue.emit(events);
                    }
                    Err(e) => tracing::warn!(queue = queue.name(), error = %e, "queue worker: reaping leases failed"),
                }
            }
            _ = sample.tick() => {
                if let Ok(c) = queue.store().counts(queue.name()).await {
                    queue.inner.metrics.depth(&c);
                }
            }
            _ = closing.cancelled() => {
                // Running jobs keep their leases while the worker closes.
                if shared.running.lock().is_empty() {
                    return;
                }
                renew.tick().await;
                let _ = queue.store().renew(queue.name(), shared.leases(), lease).await;
            }
        }
    }
}
