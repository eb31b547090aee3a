//! The circuit breaker: one implementation, used by every door.
//!
//! The breaker is a state machine behind one mutex (so counts stay exact however many calls run at
//! once). Callers take a [`Permit`] before a call and report its [`Outcome`] after; the async
//! [`CircuitBreaker::call`] does both around a future. Bindings use `acquire`/`record` directly, and
//! Node reports successes of the closed state in batches ([`CircuitBreaker::record_successes`]) so its
//! fast path stays in JavaScript.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::time::Instant;

use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::metrics::{Counter, Gauge, MetricOptions, Registry};
use crate::options::RawOptions;

/// Where a breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls fail fast until the reset timeout passes.
    Open,
    /// A limited number of trial calls go through; their outcome closes or reopens the breaker.
    HalfOpen,
}

impl BreakerState {
    /// `closed`, `open` or `half-open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }

    fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change, as listeners see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// Before.
    pub from: BreakerState,
    /// After.
    pub to: BreakerState,
}

/// How a breaker decides.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerOptions {
    /// Name, for errors and metrics.
    pub name: String,
    /// Opens after this many consecutive failures (`None`: only the failure rate counts).
    pub threshold: Option<u32>,
    /// Opens when failures / calls in the window reach this (0 < rate <= 1), once `min_calls` calls
    /// were seen (`None`: only consecutive failures count).
    pub failure_rate: Option<f64>,
    /// The sliding window of the failure rate.
    pub window: Duration,
    /// Calls in the window before the failure rate is considered.
    pub min_calls: u32,
    /// How long it stays open before letting trial calls through (the spec's `timeout`).
    pub timeout: Duration,
    /// Trial calls let through at once in half-open.
    pub half_open_max_calls: u32,
    /// Successful trial calls needed to close again.
    pub success_threshold: u32,
    /// A call taking longer than this counts as a failure (and is abandoned).
    pub call_timeout: Option<Duration>,
}

impl BreakerOptions {
    /// The defaults: opens after 5 consecutive failures, stays open 60 s, one trial call closes it.
    pub fn new(name: impl Into<String>) -> Self {
        BreakerOptions {
            name: name.into(),
            threshold: Some(5),
            failure_rate: None,
            window: Duration::from_secs(10),
            min_calls: 10,
            timeout: Duration::from_secs(60),
            half_open_max_calls: 1,
            success_threshold: 1,
            call_timeout: None,
        }
    }

    /// The options a door's user gave (keys `threshold`, `failure_rate`, `window`, `min_calls`,
    /// `timeout`, `half_open_max_calls`, `success_threshold`, `call_timeout`, spelled as that door
    /// spells them; durations in its unit), checked, over the defaults. Giving only a failure rate
    /// turns the consecutive-failure rule off; a null threshold does too.
    pub fn from_raw(name: impl Into<String>, raw: &RawOptions) -> Result<BreakerOptions> {
        let mut b = BreakerOptions::new(name);
        if raw.has("threshold") || raw.has("failure_rate") {
            b.threshold = raw.count("threshold", 1)?;
        }
        b.failure_rate = raw.rate("failure_rate")?;
        if let Some(w) = raw.duration("window")? {
            b.window = w;
        }
        if let Some(m) = raw.count("min_calls", 1)? {
            b.min_calls = m;
        }
        if let Some(t) = raw.duration("timeout")? {
            b.timeout = t;
        }
        if let Some(h) = raw.count("half_open_max_calls", 1)? {
            b.half_open_max_calls = h;
        }
        if let Some(s) = raw.count("success_threshold", 1)? {
            b.success_threshold = s;
        }
        b.call_timeout = raw.duration("call_timeout")?;
        b.check(raw)?;
        Ok(b)
    }

    /// The words a message about these options starts with.
    pub fn describe(name: &str) -> String {
        format!("circuit breaker '{name}'")
    }

    /// Checks every value, naming the one that is wrong (as a Rust user spells it).
    pub fn validate(&self) -> Result<()> {
        let raw = RawOptions::new(Dialect::Rust, Self::describe(&self.name), ErrorCode::InvalidPolicy);
        self.check(&raw)
    }

    /// Checks every value; `raw` says who reads the message.
    fn check(&self, raw: &RawOptions) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::new(ErrorCode::InvalidPolicy, "a circuit breaker needs a non-empty name"));
        }
        let f = |n: &str| raw.name(n);
        if self.threshold == Some(0) {
            return Err(raw.invalid(format!("{} must be at least 1", f("threshold"))));
        }
        if let Some(r) = self.failure_rate
            && !(r > 0.0 && r <= 1.0)
        {
            return Err(raw.invalid(format!("{} must be above 0 and at most 1, got {r}", f("failure_rate"))));
        }
        if self.threshold.is_none() && self.failure_rate.is_none() {
            return Err(raw.invalid(format!(
                "set a {} (consecutive failures) or a {}, or it can never open",
                f("threshold"),
                f("failure_rate")
            )));
        }
        let positive = [
            ("window", self.window.is_zero(), "must be longer than 0"),
            ("timeout", self.timeout.is_zero(), "(how long it stays open) must be longer than 0"),
            ("call_timeout", self.call_timeout.is_some_and(|d| d.is_zero()), "must be longer than 0"),
        ];
        if let Some((n, _, rule)) = positive.iter().find(|(_, bad, _)| *bad) {
            return Err(raw.invalid(format!("{} {rule}", f(n))));
        }
        let counts = [
            ("min_calls", self.min_calls),
            ("half_open_max_calls", self.half_open_max_calls),
            ("success_threshold", self.success_threshold),
        ];
        if let Some((n, _)) = counts.iter().find(|(_, v)| *v == 0) {
            return Err(raw.invalid(format!("{} must be at least 1", f(n))));
        }
        Ok(())
    }
}

/// The right to make one call, from [`CircuitBreaker::acquire`]. Report it with
/// [`CircuitBreaker::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    generation: u64,
    trial: bool,
}

impl Permit {
    /// The breaker's generation when the permit was given (it changes on every state change).
    pub fn generation(self) -> u64 {
        self.generation
    }

    /// Whether it is one of the half-open state's trial calls.
    pub fn is_trial(self) -> bool {
        self.trial
    }

    /// Rebuilds a permit a binding carried as numbers. A made-up permit can only be ignored (stale
    /// generation) or counted as one call of the current state; it cannot corrupt the breaker.
    pub fn from_parts(generation: u64, trial: bool) -> Permit {
        Permit { generation, trial }
    }
}

/// What became of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It worked.
    Success,
    /// It failed in a way that counts against the breaker.
    Failure,
    /// It failed in a way the predicate says does not count (or it was cancelled).
    Ignored,
    /// It took longer than the call timeout (counts as a failure).
    Timeout,
}

const BUCKETS: usize = 10;

/// Failure counts over a sliding window, in `BUCKETS` buckets.
#[derive(Debug)]
struct Window {
    span: Duration,
    successes: [u64; BUCKETS],
    failures: [u64; BUCKETS],
    /// Start of the bucket `head` points at.
    head_start: Instant,
    head: usize,
}

impl Window {
    fn new(span: Duration, now: Instant) -> Self {
        Window { span, successes: [0; BUCKETS], failures: [0; BUCKETS], head_start: now, head: 0 }
    }

    fn bucket_len(&self) -> Duration {
        (self.span / BUCKETS as u32).max(Duration::from_nanos(1))
    }

    fn advance(&mut self, now: Instant) {
        let len = self.bucket_len();
        let elapsed = now.saturating_duration_since(self.head_start);
        let steps = (elapsed.as_nanos() / len.as_nanos()) as usize;
        if steps == 0 {
            return;
        }
        for i in 1..=steps.min(BUCKETS) {
            let b = (self.head + i) % BUCKETS;
            self.successes[b] = 0;
            self.failures[b] = 0;
        }
        self.head = (self.head + steps) % BUCKETS;
        self.head_start += len * steps as u32;
    }

    fn record(&mut self, now: Instant, successes: u64, failures: u64) {
        self.advance(now);
        self.successes[self.head] += successes;
        self.failures[self.head] += failures;
    }

    fn totals(&mut self, now: Instant) -> (u64, u64) {
        self.advance(now);
        (self.successes.iter().sum(), self.failures.iter().sum())
    }

    fn reset(&mut self, now: Instant) {
        *self = Window::new(self.span, now);
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    generation: u64,
    consecutive_failures: u32,
    window: Window,
    opened_at: Instant,
    trials_in_flight: u32,
    trial_successes: u32,
}

struct BreakerMetrics {
    state: Gauge,
    success: Counter,
    failure: Counter,
    ignored: Counter,
    timeout: Counter,
    rejected: Counter,
    registry: Registry,
}

type Listener = Box<dyn Fn(&StateChange) + Send + Sync>;

/// A circuit breaker. Share it with `Arc`; every method takes `&self`.
pub struct CircuitBreaker {
    name: Arc<str>,
    opts: BreakerOptions,
    inner: Mutex<Inner>,
    listeners: RwLock<Vec<Listener>>,
    metrics: BreakerMetrics,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker").field("name", &self.name).field("state", &self.state()).finish()
    }
}

fn breaker_metrics(registry: &Registry, name: &str) -> Result<BreakerMetrics> {
    let state = registry
        .gauge_vec(
            MetricOptions::new(
                "omnitron_circuit_breaker_state",
                "Circuit breaker state (0 closed, 1 open, 2 half-open)",
            )
            .labels(["breaker"]),
        )?
        .with_labels(&[name])?;
    let calls = registry.counter_vec(
        MetricOptions::new(
            "omnitron_circuit_breaker_calls_total",
            "Calls through circuit breakers by outcome",
        )
        .labels(["breaker", "outcome"]),
    )?;
    Ok(BreakerMetrics {
        state,
        success: calls.with_labels(&[name, "success"])?,
        failure: calls.with_labels(&[name, "failure"])?,
        ignored: calls.with_labels(&[name, "ignored"])?,
        timeout: calls.with_labels(&[name, "timeout"])?,
        rejected: calls.with_labels(&[name, "rejected"])?,
        registry: registry.clone(),
    })
}

impl CircuitBreaker {
    /// A breaker reporting into the global registry.
    pub fn new(opts: BreakerOptions) -> Result<Self> {
        Self::with_registry(opts, Registry::global())
    }

    /// A breaker reporting into `registry`.
    pub fn with_registry(opts: BreakerOptions, registry: &Registry) -> Result<Self> {
        opts.validate()?;
        let metrics = breaker_metrics(registry, &opts.name)?;
        metrics.state.set(0.0);
        let now = Instant::now();
        Ok(CircuitBreaker {
            name: opts.name.as_str().into(),
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                generation: 0,
                consecutive_failures: 0,
                window: Window::new(opts.window, now),
                opened_at: now,
                trials_in_flight: 0,
                trial_successes: 0,
            }),
            opts,
            listeners: RwLock::new(Vec::new()),
            metrics,
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its options.
    pub fn options(&self) -> &BreakerOptions {
        &self.opts
    }

    /// The current state (an open breaker whose timeout passed still reads `Open` until the next
    /// call moves it to half-open).
    pub fn state(&self) -> BreakerState {
        self.inner.lock().state
    }

    /// The state and the generation (which changes on every state change) together.
    pub fn status(&self) -> (BreakerState, u64) {
        let s = self.inner.lock();
        (s.state, s.generation)
    }

    /// Calls `f` on every state change, after the change (outside the breaker's lock).
    pub fn on_state_change(&self, f: impl Fn(&StateChange) + Send + Sync + 'static) {
        self.listeners.write().push(Box::new(f));
    }

    /// The "circuit open" error for this breaker.
    pub fn open_error(&self, retry_in: Option<Duration>) -> Error {
        let when = match retry_in {
            Some(d) => format!("; it lets a trial call through in {} ms", d.as_millis()),
            None => "; trial calls are in progress".to_string(),
        };
        Error::new(ErrorCode::CircuitOpen, format!("circuit breaker '{}' is open{when}", self.name))
    }

    /// Asks to make a call: a permit, or the "circuit open" error (with any state change it caused).
    pub fn acquire(&self) -> (std::result::Result<Permit, Error>, Option<StateChange>) {
        let mut change = None;
        let result = {
            let mut s = self.inner.lock();
            // The closed state needs no clock: that keeps the success path to one lock each way.
            if s.state == BreakerState::Closed {
                return (Ok(Permit { generation: s.generation, trial: false }), None);
            }
            let now = Instant::now();
            if s.state == BreakerState::Open
                && now.saturating_duration_since(s.opened_at) >= self.opts.timeout
            {
                change = Some(self.transition(&mut s, BreakerState::HalfOpen, now));
            }
            match s.state {
                BreakerState::Closed => Ok(Permit { generation: s.generation, trial: false }),
                BreakerState::HalfOpen if s.trials_in_flight < self.opts.half_open_max_calls => {
                    s.trials_in_flight += 1;
                    Ok(Permit { generation: s.generation, trial: true })
                }
                BreakerState::HalfOpen => Err(None),
                BreakerState::Open => {
                    Err(Some(self.opts.timeout.saturating_sub(now.saturating_duration_since(s.opened_at))))
                }
            }
        };
        self.notify(&change);
        match result {
            Ok(p) => (Ok(p), change),
            Err(retry_in) => {
                self.metrics.rejected.inc();
                (Err(self.open_error(retry_in)), change)
            }
        }
    }

    /// Reports a call's outcome; returns the state change it caused, if any.
    pub fn record(&self, permit: Permit, outcome: Outcome) -> Option<StateChange> {
        match outcome {
            Outcome::Success => self.metrics.success.inc(),
            Outcome::Failure => self.metrics.failure.inc(),
            Outcome::Ignored => self.metrics.ignored.inc(),
            Outcome::Timeout => self.metrics.timeout.inc(),
        }
        // Only the failure-rate window and state changes need the time; a plain success does not.
        let now = || Instant::now();
        let rate = self.opts.failure_rate.is_some();
        let change = {
            let mut s = self.inner.lock();
            if permit.generation != s.generation {
                // The call started before the last state change: its outcome says nothing about now.
                None
            } else if permit.trial {
                s.trials_in_flight = s.trials_in_flight.saturating_sub(1);
                match outcome {
                    Outcome::Success => {
                        s.trial_successes += 1;
                        (s.trial_successes >= self.opts.success_threshold)
                            .then(|| self.transition(&mut s, BreakerState::Closed, now()))
                    }
                    Outcome::Failure | Outcome::Timeout => {
                        Some(self.transition(&mut s, BreakerState::Open, now()))
                    }
                    Outcome::Ignored => None,
                }
            } else {
                match outcome {
                    Outcome::Success => {
                        s.consecutive_failures = 0;
                        if rate {
                            s.window.record(now(), 1, 0);
                        }
                        None
                    }
                    Outcome::Failure | Outcome::Timeout => {
                        s.consecutive_failures += 1;
                        let now = now();
                        if rate {
                            s.window.record(now, 0, 1);
                        }
                        self.should_open(&mut s, now)
                            .then(|| self.transition(&mut s, BreakerState::Open, now))
                    }
                    Outcome::Ignored => None,
                }
            }
        };
        self.notify(&change);
        change
    }

    /// Reports `n` successful calls of the closed state at once (a binding's batched fast path).
    /// Ignored unless the breaker is closed.
    pub fn record_successes(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.metrics.success.inc_by(n as f64).ok();
        let mut s = self.inner.lock();
        if s.state == BreakerState::Closed {
            s.consecutive_failures = 0;
            if self.opts.failure_rate.is_some() {
                s.window.record(Instant::now(), n, 0);
            }
        }
    }

    fn should_open(&self, s: &mut Inner, now: Instant) -> bool {
        if self.opts.threshold.is_some_and(|t| s.consecutive_failures >= t) {
            return true;
        }
        if let Some(rate) = self.opts.failure_rate {
            let (ok, failed) = s.window.totals(now);
            let calls = ok + failed;
            return calls >= u64::from(self.opts.min_calls) && failed as f64 / calls as f64 >= rate;
        }
        false
    }

    fn transition(&self, s: &mut Inner, to: BreakerState, now: Instant) -> StateChange {
        let from = s.state;
        s.state = to;
        s.generation += 1;
        s.trials_in_flight = 0;
        s.trial_successes = 0;
        match to {
            BreakerState::Open => s.opened_at = now,
            BreakerState::Closed => {
                s.consecutive_failures = 0;
                s.window.reset(now);
            }
            BreakerState::HalfOpen => {}
        }
        self.metrics.state.set(to.gauge_value());
        if let Ok(c) = self
            .metrics
            .registry
            .counter_vec(
                MetricOptions::new(
                    "omnitron_circuit_breaker_transitions_total",
                    "Circuit breaker state changes",
                )
                .labels(["breaker", "from", "to"]),
            )
            .and_then(|v| v.with_labels(&[&*self.name, from.as_str(), to.as_str()]))
        {
            c.inc();
        }
        tracing::info!(breaker = %self.name, %from, %to, "circuit breaker state change");
        StateChange { breaker: self.name.clone(), from, to }
    }

    fn notify(&self, change: &Option<StateChange>) {
        if let Some(c) = change {
            for l in self.listeners.read().iter() {
                l(c);
            }
        }
    }

    /// Runs `f` through the breaker: fails fast when open, counts every error as a failure, and
    /// applies the call timeout.
    pub async fn call<T, E, F, Fut>(&self, f: F) -> std::result::Result<T, BreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
    {
        self.call_with(|_| true, f).await
    }

    /// Like [`CircuitBreaker::call`], counting only errors for which `counts` is true.
    pub async fn call_with<T, E, F, Fut>(
        &self,
        counts: impl Fn(&E) -> bool,
        f: F,
    ) -> std::result::Result<T, BreakerError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
    {
        let permit = self.acquire().0.map_err(BreakerError::Open)?;
        // If the caller drops this future mid-call, the permit is still given back.
        let mut guard = PermitGuard { breaker: self, permit: Some(permit) };
        let result = match self.opts.call_timeout {
            Some(d) => match tokio::time::timeout(d, f()).await {
                Ok(r) => r,
                Err(_) => {
                    guard.finish(Outcome::Timeout);
                    return Err(BreakerError::Timeout(super::timeout_error(d, Some(&self.name))));
                }
            },
            None => f().await,
        };
        match &result {
            Ok(_) => guard.finish(Outcome::Success),
            Err(e) if counts(e) => guard.finish(Outcome::Failure),
            Err(_) => guard.finish(Outcome::Ignored),
        }
        result.map_err(BreakerError::Failed)
    }
}

impl CircuitBreaker {
    /// Runs a synchronous `f` through the breaker on this thread (the C door's call). A synchronous
    /// call cannot be abandoned, so the call timeout is measured rather than enforced: a call that
    /// took longer counts as a timeout and its result is replaced by the timeout error.
    pub fn call_blocking<T, E>(
        &self,
        counts: impl Fn(&E) -> bool,
        f: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, BreakerError<E>> {
        let permit = self.acquire().0.map_err(BreakerError::Open)?;
        let mut guard = PermitGuard { breaker: self, permit: Some(permit) };
        let started = self.opts.call_timeout.map(|d| (d, std::time::Instant::now()));
        let result = f();
        if let Some((d, started)) = started
            && started.elapsed() > d
        {
            guard.finish(Outcome::Timeout);
            return Err(BreakerError::Timeout(super::timeout_error(d, Some(&self.name))));
        }
        match &result {
            Ok(_) => guard.finish(Outcome::Success),
            Err(e) if counts(e) => guard.finish(Outcome::Failure),
            Err(_) => guard.finish(Outcome::Ignored),
        }
        result.map_err(BreakerError::Failed)
    }
}

struct PermitGuard<'a> {
    breaker: &'a CircuitBreaker,
    permit: Option<Permit>,
}

impl PermitGuard<'_> {
    fn finish(&mut self, outcome: Outcome) {
        if let Some(p) = self.permit.take() {
            self.breaker.record(p, outcome);
        }
    }
}

impl Drop for PermitGuard<'_> {
    fn drop(&mut self) {
        self.finish(Outcome::Ignored);
    }
}

/// Why a call through a breaker did not give a value.
#[derive(Debug)]
pub enum BreakerError<E> {
    /// The breaker was open; the call was not made.
    Open(Error),
    /// The call took longer than the call timeout.
    Timeout(Error),
    /// The call itself failed.
    Failed(E),
}

impl<E: fmt::Display> fmt::Display for BreakerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerError::Open(e) | BreakerError::Timeout(e) => e.fmt(f),
            BreakerError::Failed(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for BreakerError<E> {}
