//! Resilience: circuit breakers, retry, rate limiters and bulkheads around C callbacks.
//!
//! Every call here is synchronous: the callback runs on the calling thread, and waiting (a retry's
//! backoff, a rate limiter's token, a bulkhead's queue) blocks that thread. Event-loop programs use
//! the non-blocking pieces instead: omnitron_breaker_acquire / omnitron_breaker_record,
//! omnitron_rate_limiter_try_acquire and omnitron_retry_delay_ms.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use omnitron::dialect::Dialect;
use omnitron::options::{RawOptions, Value};
use omnitron::resilience::{
    Backoff, BreakerError, BreakerOptions, BreakerState, Bulkhead, CircuitBreaker, Jitter, Outcome, Permit,
    RateLimitKind, RateLimiter, RetryOptions, retry_blocking,
};
use omnitron::{Error, ErrorCode};

use crate::boundary::{
    CPtr, Cleared, OmnitronFreeFn, Table, UserData, check_out, guard, guard_out, guard_void, reported,
    str_arg, write_out,
};
use crate::error::{CallbackStatus, OmnitronStatus, callback_error, clear_callback_message};
use crate::metrics::{OmnitronRegistry, registry_or_global};

/// A circuit breaker. Thread-safe: calls from several threads at once share its state. Its callbacks
/// may call it (the lock is not held while they run).
#[derive(Debug)]
pub struct OmnitronBreaker {
    _private: [u8; 0],
}

/// A retry policy. Thread-safe (immutable once made).
#[derive(Debug)]
pub struct OmnitronRetry {
    _private: [u8; 0],
}

/// A rate limiter. Thread-safe: threads share its tokens.
#[derive(Debug)]
pub struct OmnitronRateLimiter {
    _private: [u8; 0],
}

/// A bulkhead. Thread-safe: that is its point (calls from several threads share its slots).
#[derive(Debug)]
pub struct OmnitronBulkhead {
    _private: [u8; 0],
}

/// Breaker state: calls go through.
pub const OMNITRON_BREAKER_CLOSED: u32 = 0;
/// Breaker state: calls fail fast with OMNITRON_STATUS_CIRCUIT_OPEN.
pub const OMNITRON_BREAKER_OPEN: u32 = 1;
/// Breaker state: a few trial calls go through.
pub const OMNITRON_BREAKER_HALF_OPEN: u32 = 2;

/// omnitron_breaker_record outcome: the call worked.
pub const OMNITRON_OUTCOME_SUCCESS: u32 = 0;
/// omnitron_breaker_record outcome: the call failed and it counts.
pub const OMNITRON_OUTCOME_FAILURE: u32 = 1;
/// omnitron_breaker_record outcome: the call failed in a way that does not count (or was cancelled).
pub const OMNITRON_OUTCOME_IGNORED: u32 = 2;
/// omnitron_breaker_record outcome: the call took too long (counts as a failure).
pub const OMNITRON_OUTCOME_TIMEOUT: u32 = 3;

/// OmnitronRetryOptions.backoff: the same delay every time (`initial_ms`).
pub const OMNITRON_BACKOFF_FIXED: u32 = 0;
/// OmnitronRetryOptions.backoff: `initial_ms + step_ms * (n - 1)`.
pub const OMNITRON_BACKOFF_LINEAR: u32 = 1;
/// OmnitronRetryOptions.backoff: `initial_ms * factor^(n - 1)`.
pub const OMNITRON_BACKOFF_EXPONENTIAL: u32 = 2;

/// OmnitronRetryOptions.jitter: none.
pub const OMNITRON_JITTER_NONE: u32 = 0;
/// OmnitronRetryOptions.jitter: uniform in [0, delay].
pub const OMNITRON_JITTER_FULL: u32 = 1;
/// OmnitronRetryOptions.jitter: delay/2 plus uniform in [0, delay/2].
pub const OMNITRON_JITTER_EQUAL: u32 = 2;

/// omnitron_rate_limiter_new kind: a token bucket (`points` per `duration_ms`, refilled
/// continuously, bursts up to `points`).
pub const OMNITRON_RATE_LIMIT_TOKEN_BUCKET: u32 = 0;
/// omnitron_rate_limiter_new kind: at most `points` calls in any window of `duration_ms`.
pub const OMNITRON_RATE_LIMIT_SLIDING_WINDOW: u32 = 1;

/// The work a policy wraps: returns OMNITRON_STATUS_OK on success, anything else on failure (say
/// why with omnitron_callback_error, or return the status of a library call that failed). Runs on
/// the calling thread.
pub type OmnitronCallFn = Option<unsafe extern "C" fn(user_data: *mut c_void) -> CallbackStatus>;

/// Decides whether a failed call counts against the breaker (true) or is ignored; `status` is what
/// the call returned.
pub type OmnitronBreakerPredicateFn =
    Option<unsafe extern "C" fn(status: u32, user_data: *mut c_void) -> bool>;

/// Called on each breaker state change, on the thread whose call caused it, after the breaker's lock
/// is released (it may call the breaker). `name` is valid for the call only.
pub type OmnitronBreakerListenerFn =
    Option<unsafe extern "C" fn(name: *const c_char, from: u32, to: u32, user_data: *mut c_void)>;

/// One attempt of a retried call (`attempt` counts from 1).
pub type OmnitronAttemptFn =
    Option<unsafe extern "C" fn(attempt: u32, user_data: *mut c_void) -> CallbackStatus>;

/// Decides whether a failed attempt is retried (true) or is final; `status` is what the attempt
/// returned.
pub type OmnitronRetryPredicateFn =
    Option<unsafe extern "C" fn(status: u32, attempt: u32, user_data: *mut c_void) -> bool>;

/// How a breaker decides. Fill it with omnitron_breaker_options_default, then change fields. The
/// layout is part of the ABI (OMNITRON_ABI_VERSION changes if it does).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OmnitronBreakerOptions {
    /// Opens after this many consecutive failures; 0 turns the rule off (then failure_rate must be
    /// set). Default 5.
    pub threshold: u32,
    /// Opens when failures / calls over the window reach this (0 < rate <= 1) once min_calls calls
    /// were seen; 0 turns the rule off. Default 0.
    pub failure_rate: f64,
    /// The failure rate's sliding window in milliseconds (> 0). Default 10000.
    pub window_ms: u64,
    /// Calls in the window before the failure rate counts (>= 1). Default 10.
    pub min_calls: u32,
    /// How long it stays open before letting trial calls through, in milliseconds (> 0). The
    /// spec's `timeout`. Default 60000.
    pub timeout_ms: u64,
    /// Trial calls let through at once in half-open (>= 1). Default 1.
    pub half_open_max_calls: u32,
    /// Successful trial calls that close it again (>= 1). Default 1.
    pub success_threshold: u32,
    /// A call taking longer than this many milliseconds counts as a timeout; 0 for none. A C call
    /// cannot be abandoned: the time is measured, and a late result is replaced by
    /// OMNITRON_STATUS_TIMEOUT. Default 0.
    pub call_timeout_ms: u64,
}

/// A retry policy. Fill it with omnitron_retry_options_default, then change fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OmnitronRetryOptions {
    /// Attempts in all, the first included (>= 1; 1 means no retry). Default 3.
    pub max_attempts: u32,
    /// OMNITRON_BACKOFF_FIXED, _LINEAR or _EXPONENTIAL. Default exponential.
    pub backoff: u32,
    /// The first delay in milliseconds. Default 100.
    pub initial_ms: u64,
    /// Linear backoff's step in milliseconds. Default 0.
    pub step_ms: u64,
    /// Exponential backoff's factor (>= 1). Default 2.
    pub factor: f64,
    /// No delay is longer than this many milliseconds; 0 for no cap. Default 30000.
    pub max_delay_ms: u64,
    /// OMNITRON_JITTER_NONE, _FULL or _EQUAL. Default none.
    pub jitter: u32,
}

struct CBreaker {
    breaker: CircuitBreaker,
}

static BREAKERS: Table<CBreaker> = Table::new("breaker");
static RETRIES: Table<RetryOptions> = Table::new("retry");
static LIMITERS: Table<RateLimiter> = Table::new("rate limiter");
static BULKHEADS: Table<Bulkhead> = Table::new("bulkhead");

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn options_arg<'a, T>(p: *const T, what: &str) -> Result<&'a T, Error> {
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    // SAFETY: non-null; the caller promises a readable, initialized struct (header contract).
    Ok(unsafe { &*p })
}

/// Writes the default breaker options (opens after 5 consecutive failures, stays open 60 s, one
/// trial call closes it) to `*out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_breaker_options_default(
    out: *mut OmnitronBreakerOptions,
) -> OmnitronStatus {
    guard_out(out, || {
        let d = BreakerOptions::new("default");
        let millis = |d: Duration| d.as_millis() as u64;
        write_out(
            out,
            OmnitronBreakerOptions {
                threshold: d.threshold.unwrap_or(0),
                failure_rate: d.failure_rate.unwrap_or(0.0),
                window_ms: millis(d.window),
                min_calls: d.min_calls,
                timeout_ms: millis(d.timeout),
                half_open_max_calls: d.half_open_max_calls,
                success_threshold: d.success_threshold,
                call_timeout_ms: d.call_timeout.map_or(0, millis),
            },
            "out",
        )
    })
}

/// Creates a circuit breaker named `name` (for errors and metrics) with `options` (NULL for the
/// defaults), counting its states and call outcomes in `registry` (NULL for the global registry).
/// Invalid options are OMNITRON_STATUS_INVALID_POLICY, naming the field. Free it with
/// omnitron_breaker_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_breaker_new(
    name: *const c_char,
    options: *const OmnitronBreakerOptions,
    registry: *const OmnitronRegistry,
    out: *mut *mut OmnitronBreaker,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let name = str_arg(name, "name")?;
        // The struct's fields as core reads them (0 turns threshold, failure_rate and
        // call_timeout_ms off): the checks and their messages are core's.
        let mut raw = RawOptions::new(Dialect::C, BreakerOptions::describe(name), ErrorCode::InvalidPolicy);
        if !options.is_null() {
            let o = options_arg(options, "options")?;
            let off = |v: f64| if v == 0.0 { Value::Null } else { Value::Number(v) };
            raw.set("threshold", off(f64::from(o.threshold)))
                .set("failure_rate", off(o.failure_rate))
                .set("window", Value::Number(o.window_ms as f64))
                .set("min_calls", Value::Number(f64::from(o.min_calls)))
                .set("timeout", Value::Number(o.timeout_ms as f64))
                .set("half_open_max_calls", Value::Number(f64::from(o.half_open_max_calls)))
                .set("success_threshold", Value::Number(f64::from(o.success_threshold)))
                .set("call_timeout", off(o.call_timeout_ms as f64));
        }
        let opts = BreakerOptions::from_raw(name, &raw)?;
        let registry = registry_or_global(registry)?;
        let breaker = CircuitBreaker::with_registry(opts, &registry)?;
        BREAKERS.insert_out(out, CBreaker { breaker })
    })
}

/// Frees a breaker. NULL and freed handles are ignored; a call running on another thread finishes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_breaker_free(breaker: *mut OmnitronBreaker) {
    guard_void(|| {
        BREAKERS.remove(breaker);
        Ok(())
    })
}

fn state_number(s: BreakerState) -> u32 {
    match s {
        BreakerState::Closed => OMNITRON_BREAKER_CLOSED,
        BreakerState::Open => OMNITRON_BREAKER_OPEN,
        BreakerState::HalfOpen => OMNITRON_BREAKER_HALF_OPEN,
    }
}

/// A failed C callback: the status it returned (for the caller's predicate) and the error the caller
/// gets back.
struct Failed(u32, Error);

fn run_call(
    call: unsafe extern "C" fn(*mut c_void) -> CallbackStatus,
    ud: CPtr,
    what: &str,
) -> Result<(), Failed> {
    clear_callback_message();
    // SAFETY: the caller passed `call` with this contract (header) and its user_data.
    let status = unsafe { call(ud.get()) };
    if status == 0 {
        Ok(())
    } else {
        Err(Failed(status, callback_error(ErrorCode::CallbackFailed, what.into(), status)))
    }
}

/// Calls `call(user_data)` through the breaker on this thread. Returns OMNITRON_STATUS_OK when it
/// ran and succeeded; OMNITRON_STATUS_CIRCUIT_OPEN (the message names the breaker) when the breaker
/// is open and `call` was not made; OMNITRON_STATUS_TIMEOUT when it took longer than the call
/// timeout; otherwise the call's failure (OMNITRON_STATUS_CALLBACK_FAILED with its message, or the
/// library status it passed on). `is_failure` (NULL: every failure counts) decides whether a failed
/// call's status counts against the breaker; it gets the same user_data.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_breaker_call(
    breaker: *mut OmnitronBreaker,
    call: OmnitronCallFn,
    is_failure: OmnitronBreakerPredicateFn,
    user_data: *mut c_void,
) -> OmnitronStatus {
    guard(|| {
        let b = BREAKERS.get(breaker)?;
        let call = call.ok_or_else(|| Error::invalid_argument("call is NULL"))?;
        let ud = CPtr(user_data);
        let what = format!("the call through circuit breaker '{}' failed", b.breaker.name());
        let counts = |e: &Failed| match is_failure {
            // SAFETY: the caller's predicate, with its contract (header).
            Some(p) => unsafe { p(e.0, ud.get()) },
            None => true,
        };
        match b.breaker.call_blocking(counts, || run_call(call, ud, &what)) {
            Ok(()) => Ok(()),
            Err(BreakerError::Open(e) | BreakerError::Timeout(e)) => Err(e),
            Err(BreakerError::Failed(Failed(_, e))) => Err(e),
        }
    })
}

impl Cleared for OmnitronBreakerOptions {
    fn cleared() -> Self {
        OmnitronBreakerOptions {
            threshold: 0,
            failure_rate: 0.0,
            window_ms: 0,
            min_calls: 0,
            timeout_ms: 0,
            half_open_max_calls: 0,
            success_threshold: 0,
            call_timeout_ms: 0,
        }
    }
}

impl Cleared for OmnitronRetryOptions {
    fn cleared() -> Self {
        OmnitronRetryOptions {
            max_attempts: 0,
            backoff: 0,
            initial_ms: 0,
            step_ms: 0,
            factor: 0.0,
            max_delay_ms: 0,
            jitter: 0,
        }
    }
}

impl Cleared for OmnitronPermit {
    fn cleared() -> Self {
        OmnitronPermit { generation: 0, trial: false }
    }
}

/// The right to make one call, for programs that make the call themselves (an event loop): take it
/// with omnitron_breaker_acquire and report the outcome with omnitron_breaker_record. Every permit
/// must be recorded exactly once, from any thread (it is a plain value).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct OmnitronPermit {
    /// The breaker's generation when the permit was given.
    pub generation: u64,
    /// Whether it is a half-open trial call.
    pub trial: bool,
}

/// Asks for a permit: OMNITRON_STATUS_OK with `*out` filled, or OMNITRON_STATUS_CIRCUIT_OPEN.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_breaker_acquire(
    breaker: *mut OmnitronBreaker,
    out: *mut OmnitronPermit,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let b = BREAKERS.get(breaker)?;
        let p = b.breaker.acquire().0?;
        write_out(out, OmnitronPermit { generation: p.generation(), trial: p.is_trial() }, "out")
    })
}

/// Reports the outcome (OMNITRON_OUTCOME_*) of the call a permit allowed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_breaker_record(
    breaker: *mut OmnitronBreaker,
    permit: OmnitronPermit,
    outcome: u32,
) -> OmnitronStatus {
    guard(|| {
        let b = BREAKERS.get(breaker)?;
        let outcome = match outcome {
            OMNITRON_OUTCOME_SUCCESS => Outcome::Success,
            OMNITRON_OUTCOME_FAILURE => Outcome::Failure,
            OMNITRON_OUTCOME_IGNORED => Outcome::Ignored,
            OMNITRON_OUTCOME_TIMEOUT => Outcome::Timeout,
            other => return Err(Error::invalid_argument(format!("unknown outcome {other}"))),
        };
        b.breaker.record(Permit::from_parts(permit.generation, permit.trial), outcome);
        Ok(())
    })
}

/// The breaker's state (OMNITRON_BREAKER_CLOSED, _OPEN or _HALF_OPEN). An open breaker whose
/// timeout has passed reports OPEN until the next call moves it to half-open.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_breaker_state(
    breaker: *mut OmnitronBreaker,
    out: *mut u32,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let b = BREAKERS.get(breaker)?;
        write_out(out, state_number(b.breaker.state()), "out")
    })
}

/// Registers `listener(name, from, to, user_data)` for every later state change (see
/// OmnitronBreakerListenerFn for its thread). Listeners stay until the breaker is freed; then
/// `free_user_data(user_data)` (NULL: nothing; then `user_data` must outlive the breaker) runs once,
/// on the thread that frees it (or, if a call is still running through it on another thread, on
/// that thread when the call ends); or before this function returns if it fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_breaker_on_state_change(
    breaker: *mut OmnitronBreaker,
    listener: OmnitronBreakerListenerFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let b = BREAKERS.get(breaker)?;
        let f = listener.ok_or_else(|| Error::invalid_argument("listener is NULL"))?;
        let name = std::ffi::CString::new(b.breaker.name()).unwrap_or_default();
        b.breaker.on_state_change(move |c| {
            // SAFETY: the caller's listener, with its contract (header); `name` outlives the call.
            unsafe { f(name.as_ptr(), state_number(c.from), state_number(c.to), ud.get()) }
        });
        Ok(())
    })
}

/// Writes the default retry options (3 attempts, exponential from 100 ms, factor 2, capped at 30 s,
/// no jitter) to `*out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_retry_options_default(out: *mut OmnitronRetryOptions) -> OmnitronStatus {
    guard_out(out, || {
        write_out(
            out,
            OmnitronRetryOptions {
                max_attempts: 3,
                backoff: OMNITRON_BACKOFF_EXPONENTIAL,
                initial_ms: 100,
                step_ms: 0,
                factor: 2.0,
                max_delay_ms: 30_000,
                jitter: OMNITRON_JITTER_NONE,
            },
            "out",
        )
    })
}

/// Creates a retry policy from `options` (NULL for the defaults). Invalid options are
/// OMNITRON_STATUS_INVALID_POLICY. Free it with omnitron_retry_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_retry_new(
    options: *const OmnitronRetryOptions,
    out: *mut *mut OmnitronRetry,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let mut opts = RetryOptions::new(3);
        if !options.is_null() {
            let o = options_arg(options, "options")?;
            opts.max_attempts = o.max_attempts;
            opts.backoff = match o.backoff {
                OMNITRON_BACKOFF_FIXED => Backoff::Fixed(ms(o.initial_ms)),
                OMNITRON_BACKOFF_LINEAR => Backoff::Linear { initial: ms(o.initial_ms), step: ms(o.step_ms) },
                OMNITRON_BACKOFF_EXPONENTIAL => {
                    Backoff::Exponential { initial: ms(o.initial_ms), factor: o.factor }
                }
                other => {
                    return Err(Error::new(
                        ErrorCode::InvalidPolicy,
                        format!("retry: unknown backoff {other}"),
                    ));
                }
            };
            opts.max_delay = (o.max_delay_ms > 0).then(|| ms(o.max_delay_ms));
            opts.jitter = match o.jitter {
                OMNITRON_JITTER_NONE => Jitter::None,
                OMNITRON_JITTER_FULL => Jitter::Full,
                OMNITRON_JITTER_EQUAL => Jitter::Equal,
                other => {
                    return Err(Error::new(
                        ErrorCode::InvalidPolicy,
                        format!("retry: unknown jitter {other}"),
                    ));
                }
            };
        }
        opts.validate()?;
        RETRIES.insert_out(out, opts)
    })
}

/// Frees a retry policy. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_retry_free(retry: *mut OmnitronRetry) {
    guard_void(|| {
        RETRIES.remove(retry);
        Ok(())
    })
}

/// Calls `call(attempt, user_data)` until it succeeds, `retry_if` (NULL: every failure is retried)
/// says a failure is final, or the attempts run out, sleeping this thread for the backoff in
/// between. Writes the number of attempts made to `*attempts` (if not NULL; also on failure, 0 when
/// none was made). Returns
/// OMNITRON_STATUS_OK; the final failure itself when `retry_if` refused; or
/// OMNITRON_STATUS_RETRY_EXHAUSTED, whose message has the attempt count and the last failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_retry_call(
    retry: *mut OmnitronRetry,
    call: OmnitronAttemptFn,
    retry_if: OmnitronRetryPredicateFn,
    user_data: *mut c_void,
    attempts: *mut u32,
) -> OmnitronStatus {
    guard_out(reported(attempts), || {
        let opts = RETRIES.get(retry)?;
        let call = call.ok_or_else(|| Error::invalid_argument("call is NULL"))?;
        let ud = CPtr(user_data);
        let refused = Cell::new(false);
        let made = Cell::new(0u32);
        let result = retry_blocking(
            &opts,
            |e: &Failed, attempt| {
                let again = match retry_if {
                    // SAFETY: the caller's predicate, with its contract (header).
                    Some(p) => unsafe { p(e.0, attempt, ud.get()) },
                    None => true,
                };
                refused.set(!again);
                again
            },
            |attempt| {
                made.set(attempt);
                clear_callback_message();
                // SAFETY: the caller's callback, with its contract (header).
                let status = unsafe { call(attempt, ud.get()) };
                if status == 0 {
                    Ok(())
                } else {
                    let what = format!("attempt {attempt} failed");
                    Err(Failed(status, callback_error(ErrorCode::CallbackFailed, what, status)))
                }
            },
        );
        if !attempts.is_null() {
            write_out(attempts, made.get(), "attempts")?;
        }
        match result {
            Ok(()) => Ok(()),
            Err(e) if refused.get() => Err(e.last.1),
            Err(e) => Err(opts.exhausted(e.attempts, &e.last.1).with_source(e.last.1)),
        }
    })
}

/// The delay in milliseconds to wait after attempt `attempt` (from 1) failed, jitter included: for
/// programs that schedule retries on their own loop.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_retry_delay_ms(
    retry: *mut OmnitronRetry,
    attempt: u32,
    out: *mut u64,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let opts = RETRIES.get(retry)?;
        write_out(out, opts.delay(attempt).as_millis() as u64, "out")
    })
}

/// Creates a rate limiter allowing `points` calls per `duration_ms` (both > 0) with `kind`
/// (OMNITRON_RATE_LIMIT_TOKEN_BUCKET or _SLIDING_WINDOW). Free it with omnitron_rate_limiter_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_rate_limiter_new(
    name: *const c_char,
    points: u32,
    duration_ms: u64,
    kind: u32,
    out: *mut *mut OmnitronRateLimiter,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let kind = match kind {
            OMNITRON_RATE_LIMIT_TOKEN_BUCKET => RateLimitKind::TokenBucket,
            OMNITRON_RATE_LIMIT_SLIDING_WINDOW => RateLimitKind::SlidingWindow,
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidPolicy,
                    format!("unknown rate limiter kind {other}"),
                ));
            }
        };
        let l = RateLimiter::new(str_arg(name, "name")?, points, ms(duration_ms), kind)?;
        LIMITERS.insert_out(out, l)
    })
}

/// Frees a rate limiter. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_rate_limiter_free(limiter: *mut OmnitronRateLimiter) {
    guard_void(|| {
        LIMITERS.remove(limiter);
        Ok(())
    })
}

/// Takes `n` tokens now: OMNITRON_STATUS_OK, or OMNITRON_STATUS_RATE_LIMITED with the milliseconds
/// until they would be there in `*retry_in_ms` (if not NULL; at least 1; 0 on success and on other
/// failures).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_rate_limiter_try_acquire(
    limiter: *mut OmnitronRateLimiter,
    n: u32,
    retry_in_ms: *mut u64,
) -> OmnitronStatus {
    guard_out(reported(retry_in_ms), || {
        let l = LIMITERS.get(limiter)?;
        match l.try_acquire(n) {
            Ok(()) => Ok(()),
            Err(wait) => {
                if !retry_in_ms.is_null() {
                    let millis = wait.as_nanos().div_ceil(1_000_000).max(1) as u64;
                    write_out(retry_in_ms, millis, "retry_in_ms")?;
                }
                Err(l.limited_error(wait))
            }
        }
    })
}

/// Waits (blocking this thread) until `n` tokens are there and takes them. Gives up with
/// OMNITRON_STATUS_RATE_LIMITED if that would take longer than `max_wait_ms` (UINT64_MAX: wait as
/// long as it takes). Asking for more than `points` at once is OMNITRON_STATUS_INVALID_POLICY.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_rate_limiter_acquire(
    limiter: *mut OmnitronRateLimiter,
    n: u32,
    max_wait_ms: u64,
) -> OmnitronStatus {
    guard(|| {
        let l = LIMITERS.get(limiter)?;
        l.acquire_blocking(n, (max_wait_ms != u64::MAX).then(|| ms(max_wait_ms)))
    })
}

/// Tokens available now (fractional for a token bucket).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_rate_limiter_available(
    limiter: *mut OmnitronRateLimiter,
    out: *mut f64,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let l = LIMITERS.get(limiter)?;
        write_out(out, l.available(), "out")
    })
}

/// Creates a bulkhead: at most `max_concurrent` (> 0) calls at once and `max_queue` waiting. Free it
/// with omnitron_bulkhead_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_bulkhead_new(
    name: *const c_char,
    max_concurrent: usize,
    max_queue: usize,
    out: *mut *mut OmnitronBulkhead,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let b = Bulkhead::new(str_arg(name, "name")?, max_concurrent, max_queue)?;
        BULKHEADS.insert_out(out, b)
    })
}

/// Frees a bulkhead. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_bulkhead_free(bulkhead: *mut OmnitronBulkhead) {
    guard_void(|| {
        BULKHEADS.remove(bulkhead);
        Ok(())
    })
}

/// Runs `call(user_data)` on this thread once a slot is free, blocking in the queue if need be.
/// OMNITRON_STATUS_BULKHEAD_FULL when both the slots and the queue are full; otherwise the call's
/// own result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_bulkhead_call(
    bulkhead: *mut OmnitronBulkhead,
    call: OmnitronCallFn,
    user_data: *mut c_void,
) -> OmnitronStatus {
    guard(|| {
        let b: Arc<Bulkhead> = BULKHEADS.get(bulkhead)?;
        let call = call.ok_or_else(|| Error::invalid_argument("call is NULL"))?;
        let ud = CPtr(user_data);
        b.run_blocking(|| run_call(call, ud, "the call in the bulkhead failed"))?.map_err(|Failed(_, e)| e)
    })
}

/// Calls running in the bulkhead now and callers waiting (either pointer may be NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_bulkhead_load(
    bulkhead: *mut OmnitronBulkhead,
    active: *mut usize,
    queued: *mut usize,
) -> OmnitronStatus {
    guard_out((active, queued), || {
        let b = BULKHEADS.get(bulkhead)?;
        if !active.is_null() {
            write_out(active, b.active(), "active")?;
        }
        if !queued.is_null() {
            write_out(queued, b.queued(), "queued")?;
        }
        Ok(())
    })
}
