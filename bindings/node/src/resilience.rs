//! Resilience policies for JavaScript: the engine's breaker, rate limiter, bulkhead and retry
//! schedule. The TypeScript layer adds what only JavaScript can do (awaiting, timers) and keeps the
//! breaker's closed-state successes in a batch so its fast path does not cross into native code.

use std::sync::Arc;
use std::time::Duration;

use napi_derive::napi;
use omnitron::dialect::Dialect;
use omnitron::resilience::{
    Admission, BreakerOptions, BreakerState, Bulkhead, CircuitBreaker, Outcome, Permit, RateLimiter,
    RetryOptions, timeout_error, timeout_in,
};
use omnitron::{Error, ErrorCode};

use crate::di::JsErrorInfo;
use crate::error::ToJs;
use crate::metrics::NativeRegistry;
use crate::options::{self, JsRawOption};

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
    /// `options`: `points`, `duration` (seconds), `kind`, as the user gave them (checked by core).
    #[napi(constructor)]
    pub fn new(name: String, options: Vec<JsRawOption>) -> napi::Result<Self, String> {
        let raw = options::raw(format!("rate limiter '{name}'"), ErrorCode::InvalidPolicy, options);
        Ok(NativeRateLimiter { limiter: RateLimiter::from_raw(name, &raw).js()? })
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
    /// `options`: `maxConcurrent`, `maxQueue`, as the user gave them (checked by core).
    #[napi(constructor)]
    pub fn new(name: String, options: Vec<JsRawOption>) -> napi::Result<Self, String> {
        let raw = options::raw(format!("bulkhead '{name}'"), ErrorCode::InvalidPolicy, options);
        Ok(NativeBulkhead { bulkhead: Bulkhead::from_raw(name, &raw).js()? })
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

/// The engine's retry schedule.
#[napi]
pub struct NativeRetry {
    opts: RetryOptions,
}

#[napi]
impl NativeRetry {
    /// `options`: `attempts`, `backoff`, `delay`, `step`, `factor`, `maxDelay` (ms) and `jitter`,
    /// as the user gave them (checked by core).
    #[napi(constructor)]
    pub fn new(options: Vec<JsRawOption>) -> napi::Result<Self, String> {
        let raw = options::raw("retry".to_string(), ErrorCode::InvalidPolicy, options);
        Ok(NativeRetry { opts: RetryOptions::from_raw(&raw).js()? })
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
    timeout_in(Dialect::TypeScript, ms_value).map(|_| ()).js()
}
