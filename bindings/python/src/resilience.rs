//! Resilience policies for Python: the engine's breaker, rate limiter, bulkhead and retry schedule.
//! The Python layer adds what only Python can do (awaiting, sleeping, threads).

use std::time::Duration;

use omnitron::dialect::Dialect;
use omnitron::options::RawOptions;
use omnitron::resilience::{
    Admission, BreakerOptions, BreakerState, Bulkhead, CircuitBreaker, Outcome, Permit, RateLimiter,
    RetryOptions, timeout_error, timeout_in,
};
use omnitron::{Error, ErrorCode};
use pyo3::exceptions::PyBaseException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::{ToPy, to_py};
use crate::metrics::NativeRegistry;
use crate::options;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeBreaker>()?;
    m.add_class::<NativeRateLimiter>()?;
    m.add_class::<NativeBulkhead>()?;
    m.add_class::<NativeRetry>()?;
    m.add_function(wrap_pyfunction!(timeout_exception, m)?)?;
    m.add_function(wrap_pyfunction!(check_timeout, m)?)?;
    Ok(())
}

/// Longer than any real wait (317 years), short enough for every clock to add.
const MAX_SECONDS: f64 = 1e10;

/// Seconds as a duration for a message: NaN and negatives as 0, huge ones capped.
fn clamped(v: f64) -> Duration {
    Duration::from_secs_f64(if v.is_nan() { 0.0 } else { v.clamp(0.0, MAX_SECONDS) })
}

/// A policy's keyword options as core reads them.
fn policy_raw(what: String, options: &Bound<'_, PyDict>) -> PyResult<RawOptions> {
    options::raw(what, ErrorCode::InvalidPolicy, Some(options))
}

fn state_code(s: BreakerState) -> u8 {
    match s {
        BreakerState::Closed => 0,
        BreakerState::Open => 1,
        BreakerState::HalfOpen => 2,
    }
}

/// The engine's circuit breaker.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeBreaker {
    breaker: CircuitBreaker,
}

#[pymethods]
impl NativeBreaker {
    /// `options`: the keywords as the user gave them (`threshold=`, `window=` in seconds, ...),
    /// checked by core.
    #[new]
    #[pyo3(signature = (name, options=None, registry=None))]
    fn new(
        py: Python<'_>,
        name: String,
        options: Option<&Bound<'_, PyDict>>,
        registry: Option<&NativeRegistry>,
    ) -> PyResult<Self> {
        let raw = options::raw(BreakerOptions::describe(&name), ErrorCode::InvalidPolicy, options)?;
        let build = || -> Result<CircuitBreaker, Error> {
            let o = BreakerOptions::from_raw(name, &raw)?;
            match registry {
                Some(r) => CircuitBreaker::with_registry(o, &r.registry),
                None => CircuitBreaker::new(o),
            }
        };
        Ok(NativeBreaker { breaker: build().py(py)? })
    }

    /// A permit (`generation * 2 + trial`), or -1 when open.
    fn acquire(&self) -> i64 {
        match self.breaker.acquire().0 {
            Ok(p) => (p.generation() * 2 + u64::from(p.is_trial())) as i64,
            Err(_) => -1,
        }
    }

    /// Reports a call (0 success, 1 failure, 2 ignored, 3 timeout); returns the state code.
    fn record(&self, permit: i64, outcome: u8) -> u8 {
        let p = permit.max(0) as u64;
        let outcome = match outcome {
            0 => Outcome::Success,
            1 => Outcome::Failure,
            3 => Outcome::Timeout,
            _ => Outcome::Ignored,
        };
        self.breaker.record(Permit::from_parts(p / 2, p % 2 == 1), outcome);
        state_code(self.breaker.state())
    }

    /// 0 closed, 1 open, 2 half-open.
    fn state(&self) -> u8 {
        state_code(self.breaker.state())
    }

    /// The "circuit open" exception.
    fn open_error(&self, py: Python<'_>) -> Py<PyBaseException> {
        let retry_in = match self.breaker.state() {
            BreakerState::Open => Some(self.breaker.options().timeout),
            _ => None,
        };
        to_py(py, &self.breaker.open_error(retry_in)).into_value(py)
    }

    #[getter]
    fn name(&self) -> String {
        self.breaker.name().to_string()
    }
}

/// The engine's rate limiter.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeRateLimiter {
    limiter: RateLimiter,
}

#[pymethods]
impl NativeRateLimiter {
    /// `options`: `points`, `duration` (seconds), `kind`, as the user gave them (checked by core).
    #[new]
    fn new(py: Python<'_>, name: String, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let raw = policy_raw(format!("rate limiter '{name}'"), options)?;
        Ok(NativeRateLimiter { limiter: RateLimiter::from_raw(name, &raw).py(py)? })
    }

    /// 0.0 when `n` tokens were taken; otherwise the seconds until they would be there.
    #[pyo3(signature = (n=1))]
    fn try_acquire(&self, n: u32) -> f64 {
        match self.limiter.try_acquire(n) {
            Ok(()) => 0.0,
            Err(wait) => wait.as_secs_f64().max(1e-6),
        }
    }

    fn limited_error(&self, py: Python<'_>, wait: f64) -> Py<PyBaseException> {
        to_py(py, &self.limiter.limited_error(clamped(wait))).into_value(py)
    }

    fn available(&self) -> f64 {
        self.limiter.available()
    }
}

/// The engine's bulkhead.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeBulkhead {
    bulkhead: Bulkhead,
}

#[pymethods]
impl NativeBulkhead {
    /// `options`: `max_concurrent`, `max_queue`, as the user gave them (checked by core).
    #[new]
    fn new(py: Python<'_>, name: String, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let raw = policy_raw(format!("bulkhead '{name}'"), options)?;
        Ok(NativeBulkhead { bulkhead: Bulkhead::from_raw(name, &raw).py(py)? })
    }

    /// 0 granted, a waiter id (> 0) when queued, -1 when full.
    fn try_enter(&self) -> i64 {
        match self.bulkhead.try_enter() {
            Admission::Granted => 0,
            Admission::Queued(id) => id as i64,
            Admission::Rejected => -1,
        }
    }

    /// Gives a slot back; the waiter id that now holds it, or 0.
    fn leave(&self) -> i64 {
        self.bulkhead.leave().map_or(0, |id| id as i64)
    }

    fn cancel(&self, id: i64) -> bool {
        self.bulkhead.cancel(id.max(0) as u64)
    }

    fn full_error(&self, py: Python<'_>) -> Py<PyBaseException> {
        to_py(py, &self.bulkhead.full_error()).into_value(py)
    }

    #[getter]
    fn active(&self) -> usize {
        self.bulkhead.active()
    }

    #[getter]
    fn queued(&self) -> usize {
        self.bulkhead.queued()
    }
}

/// The engine's retry schedule.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeRetry {
    opts: RetryOptions,
}

#[pymethods]
impl NativeRetry {
    /// `options`: `attempts`, `backoff`, `delay`, `step`, `factor`, `max_delay` (seconds) and
    /// `jitter`, as the user gave them (checked by core).
    #[new]
    fn new(py: Python<'_>, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let raw = policy_raw("retry".to_string(), options)?;
        Ok(NativeRetry { opts: RetryOptions::from_raw(&raw).py(py)? })
    }

    #[getter]
    fn max_attempts(&self) -> u32 {
        self.opts.max_attempts
    }

    /// Seconds to wait after attempt `attempt` (1-based) failed, jitter included.
    fn delay(&self, attempt: u32) -> f64 {
        self.opts.delay(attempt).as_secs_f64()
    }

    fn exhausted_error(&self, py: Python<'_>, attempts: u32, last: &str) -> Py<PyBaseException> {
        to_py(py, &self.opts.exhausted(attempts, &last)).into_value(py)
    }
}

/// The exception of an operation that took longer than `seconds`.
#[pyfunction]
#[pyo3(signature = (seconds, name=None))]
fn timeout_exception(py: Python<'_>, seconds: f64, name: Option<&str>) -> Py<PyBaseException> {
    to_py(py, &timeout_error(clamped(seconds), name)).into_value(py)
}

/// Checks a timeout value (seconds).
#[pyfunction]
fn check_timeout(py: Python<'_>, seconds: f64) -> PyResult<()> {
    timeout_in(Dialect::Python, seconds).map(|_| ()).py(py)
}
