//! Resilience policies for JavaScript: the engine's breaker, rate limiter, bulkhead and retry
//! schedule. The TypeScript layer adds what only JavaScript can do (awaiting, timers) and keeps the
//! breaker's closed-state successes in a batch so its fast path does not cross into native code.

use std::sync::Arc;
use std::time::Duration;

use napi_derive::napi;
use omnitron::resilience::{
    Admission, Backoff, BreakerOptions, BreakerState, Bulkhead, CircuitBreaker, Jitter, Outcome, Permit,
    RateLimitKind, RateLimiter, RetryOptions, timeout_error,
};
use omnitron::{Error, ErrorCode};

use crate::di::JsErrorInfo;
use crate::error::ToJs;
use crate::metrics::NativeRegistry;
use crate::options::{self, JsRawOption};

fn ms(v: f64, what: &str) -> Result<Duration, Error> {
    if !(v.is_finite() && v > 0.0) {
        return Err(Error::new(
            omnitron::ErrorCode::InvalidPolicy,
            format!("{what} must be a number of milliseconds above 0, got {v}"),
        ));
    }
    Duration::try_from_secs_f64(v / 1000.0)
        .map_err(|_| Error::new(omnitron::ErrorCode::InvalidPolicy, format!("{what} is too large: {v} ms")))
}

fn count(v: f64, what: &str) -> Result<u32, Error> {
    if !(v.is_finite() && v >= 1.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX)) {
        return Err(Error::new(
            omnitron::ErrorCode::InvalidPolicy,
            format!("{what} must be a whole number of at least 1, got {v}"),
        ));
    }
    Ok(v as u32)
}

fn info(e: Error) -> JsErrorInfo {
    JsErrorInfo { code: e.code().as_str().to_string(), message: e.message().to_string() }
}

fn state_code(s: BreakerState) -> u32 {
    match s {
        BreakerState::Closed => 0,
        BreakerState::Open => 1,
        BreakerState::HalfOpen => 2,
    }
}

/// `generation * 4 + state`: what JavaScript mirrors after each native call.
fn status(b: &CircuitBreaker) -> f64 {
    let (state, generation) = b.status();
    (generation * 4 + u64::from(state_code(state))) as f64
}

/// The engine's circuit breaker.
#[napi]
pub struct NativeBreaker {
    breaker: Arc<CircuitBreaker>,
}

#[napi]
impl NativeBreaker {
    #[napi(constructor)]
    pub fn new(
        name: String,
        options: Vec<JsRawOption>,
        registry: Option<&NativeRegistry>,
    ) -> napi::Result<Self, String> {
        let raw = options::raw(BreakerOptions::describe(&name), ErrorCode::InvalidPolicy, options);
        let opts = BreakerOptions::from_raw(name, &raw).js()?;
        let breaker = match registry {
            Some(r) => CircuitBreaker::with_registry(opts, r.inner()),
            None => CircuitBreaker::new(opts),
        }
        .js()?;
        Ok(NativeBreaker { breaker: Arc::new(breaker) })
    }

    /// A permit (`generation * 2 + trial`), or -1 when open.
    #[napi]
    pub fn acquire(&self) -> f64 {
        match self.breaker.acquire().0 {
            Ok(p) => (p.generation() * 2 + u64::from(p.is_trial())) as f64,
            Err(_) => -1.0,
        }
    }

    /// Reports a call (outcome: 0 success, 1 failure, 2 ignored, 3 timeout); returns the status.
    #[napi]
    pub fn record(&self, permit: f64, outcome: u32) -> f64 {
        let p = permit.max(0.0) as u64;
        let outcome = match outcome {
            0 => Outcome::Success,
            1 => Outcome::Failure,
            3 => Outcome::Timeout,
            _ => Outcome::Ignored,
        };
        self.breaker.record(Permit::from_parts(p / 2, p % 2 == 1), outcome);
        status(&self.breaker)
    }

    /// Reports a batch of closed-state successes; returns the status.
    #[napi]
    pub fn record_successes(&self, n: u32) -> f64 {
        self.breaker.record_successes(u64::from(n));
        status(&self.breaker)
    }

    /// `generation * 4 + state` (0 closed, 1 open, 2 half-open).
    #[napi]
    pub fn status(&self) -> f64 {
        status(&self.breaker)
    }

    /// The "circuit open" error.
    #[napi]
    pub fn open_error(&self) -> JsErrorInfo {
        let retry_in = match self.breaker.status().0 {
            BreakerState::Open => Some(self.breaker.options().timeout),
            _ => None,
        };
        info(self.breaker.open_error(retry_in))
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.breaker.name().to_string()
    }

    /// The window of the failure rate, in ms (the batch of successes is flushed at least this often).
    #[napi(getter)]
    pub fn window_ms(&self) -> f64 {
        self.breaker.options().window.as_secs_f64() * 1000.0
    }
}

/// The engine's rate limiter.
#[napi]
pub struct NativeRateLimiter {
    limiter: RateLimiter,
}

#[napi]
impl NativeRateLimiter {
    #[napi(constructor)]
    pub fn new(
        name: String,
        points: f64,
        duration_ms: f64,
        kind: Option<String>,
    ) -> napi::Result<Self, String> {
        let kind: RateLimitKind = kind.as_deref().unwrap_or("token-bucket").parse().js()?;
        let points = count(points, "points").js()?;
        let duration = ms(duration_ms, "duration").js()?;
        Ok(NativeRateLimiter { limiter: RateLimiter::new(name, points, duration, kind).js()? })
    }

    /// 0 when `n` tokens were taken; otherwise the milliseconds until they would be there.
    #[napi]
    pub fn try_acquire(&self, n: u32) -> f64 {
        match self.limiter.try_acquire(n) {
            Ok(()) => 0.0,
            Err(wait) => (wait.as_secs_f64() * 1000.0).max(0.001),
        }
    }

    #[napi]
    pub fn limited_error(&self, wait_ms: f64) -> JsErrorInfo {
        info(
            self.limiter.limited_error(
                Duration::try_from_secs_f64(wait_ms.max(0.0) / 1000.0).unwrap_or(Duration::MAX),
            ),
        )
    }

    #[napi]
    pub fn available(&self) -> f64 {
        self.limiter.available()
    }
}

/// The engine's bulkhead.
#[napi]
pub struct NativeBulkhead {
    bulkhead: Bulkhead,
}

#[napi]
impl NativeBulkhead {
    #[napi(constructor)]
    pub fn new(name: String, max_concurrent: f64, max_queue: f64) -> napi::Result<Self, String> {
        let c = count(max_concurrent, "maxConcurrent").js()?;
        if !(max_queue.is_finite() && max_queue >= 0.0 && max_queue.fract() == 0.0) {
            return Err(crate::error::to_js(Error::new(
                omnitron::ErrorCode::InvalidPolicy,
                format!("maxQueue must be a whole number of at least 0, got {max_queue}"),
            )));
        }
        Ok(NativeBulkhead { bulkhead: Bulkhead::new(name, c as usize, max_queue as usize).js()? })
    }

    /// 0 granted, a waiter id (> 0) when queued, -1 when full.
    #[napi]
    pub fn try_enter(&self) -> f64 {
        match self.bulkhead.try_enter() {
            Admission::Granted => 0.0,
            Admission::Queued(id) => id as f64,
            Admission::Rejected => -1.0,
        }
    }

    /// Gives a slot back; returns the waiter id that now holds it, or 0.
    #[napi]
    pub fn leave(&self) -> f64 {
        self.bulkhead.leave().map_or(0.0, |id| id as f64)
    }

    /// Leaves the queue; false when the waiter already holds a slot.
    #[napi]
    pub fn cancel(&self, id: f64) -> bool {
        self.bulkhead.cancel(id as u64)
    }

    #[napi]
    pub fn full_error(&self) -> JsErrorInfo {
        info(self.bulkhead.full_error())
    }

    #[napi(getter)]
    pub fn active(&self) -> u32 {
        self.bulkhead.active() as u32
    }

    #[napi(getter)]
    pub fn queued(&self) -> u32 {
        self.bulkhead.queued() as u32
    }
}

#[napi(object)]
pub struct JsRetryOptions {
    pub attempts: f64,
    /// `fixed`, `linear` or `exponential`.
    pub backoff: Option<String>,
    pub delay_ms: Option<f64>,
    pub step_ms: Option<f64>,
    pub factor: Option<f64>,
    pub max_delay_ms: Option<f64>,
    /// `none`, `full` or `equal`.
    pub jitter: Option<String>,
}

/// The engine's retry schedule.
#[napi]
pub struct NativeRetry {
    opts: RetryOptions,
}

#[napi]
impl NativeRetry {
    #[napi(constructor)]
    pub fn new(o: JsRetryOptions) -> napi::Result<Self, String> {
        let build = || -> Result<RetryOptions, Error> {
            let mut r = RetryOptions::new(count(o.attempts, "attempts")?);
            let delay = match o.delay_ms {
                Some(0.0) => Duration::ZERO,
                Some(d) => ms(d, "delay")?,
                None => Duration::from_millis(100),
            };
            r.backoff = match o.backoff.as_deref().unwrap_or("exponential") {
                "fixed" => Backoff::Fixed(delay),
                "linear" => Backoff::Linear {
                    initial: delay,
                    step: match o.step_ms {
                        Some(s) => ms(s, "step")?,
                        None => delay,
                    },
                },
                "exponential" => Backoff::Exponential { initial: delay, factor: o.factor.unwrap_or(2.0) },
                other => {
                    return Err(Error::new(
                        omnitron::ErrorCode::InvalidPolicy,
                        format!("unknown backoff '{other}': expected 'fixed', 'linear' or 'exponential'"),
                    ));
                }
            };
            r.max_delay = o.max_delay_ms.map(|m| ms(m, "maxDelay")).transpose()?.or(r.max_delay);
            r.jitter = match o.jitter.as_deref() {
                None => Jitter::None,
                Some(j) => j.parse()?,
            };
            r.validate()?;
            Ok(r)
        };
        Ok(NativeRetry { opts: build().js()? })
    }

    #[napi(getter)]
    pub fn max_attempts(&self) -> u32 {
        self.opts.max_attempts
    }

    /// Milliseconds to wait after attempt `attempt` (1-based) failed, jitter included.
    #[napi]
    pub fn delay(&self, attempt: u32) -> f64 {
        self.opts.delay(attempt).as_secs_f64() * 1000.0
    }

    #[napi]
    pub fn exhausted_error(&self, attempts: u32, last: String) -> JsErrorInfo {
        info(self.opts.exhausted(attempts, &last))
    }
}

/// The error of an operation that took longer than `ms`.
#[napi]
pub fn timeout_error_info(ms: f64, name: Option<String>) -> JsErrorInfo {
    info(timeout_error(
        Duration::try_from_secs_f64(ms.max(0.0) / 1000.0).unwrap_or(Duration::MAX),
        name.as_deref(),
    ))
}

/// Checks a timeout value (ms).
#[napi]
pub fn check_timeout(ms_value: f64) -> napi::Result<(), String> {
    ms(ms_value, "timeout").map(|_| ()).js()
}
