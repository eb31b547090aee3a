//! Retry with backoff: one implementation of fixed, linear and exponential backoff, capped, with full
//! or equal jitter. Bindings ask it for each delay; Rust gets the whole loop.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};

/// How the delay grows between attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backoff {
    /// The same delay every time.
    Fixed(Duration),
    /// `initial + step * (n - 1)` before attempt `n + 1`.
    Linear {
        /// First delay.
        initial: Duration,
        /// Added each time.
        step: Duration,
    },
    /// `initial * factor^(n - 1)` before attempt `n + 1`.
    Exponential {
        /// First delay.
        initial: Duration,
        /// Growth factor (at least 1).
        factor: f64,
    },
}

/// Randomness added to each delay so many clients do not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// The computed delay exactly.
    #[default]
    None,
    /// Uniform in `[0, delay]`.
    Full,
    /// `delay / 2` plus uniform in `[0, delay / 2]`.
    Equal,
}

impl std::str::FromStr for Jitter {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Jitter::None),
            "full" => Ok(Jitter::Full),
            "equal" => Ok(Jitter::Equal),
            other => Err(Error::new(
                ErrorCode::InvalidPolicy,
                format!("unknown jitter '{other}': expected 'none', 'full' or 'equal'"),
            )),
        }
    }
}

/// A retry policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryOptions {
    /// Attempts in all, the first included (1 means no retry).
    pub max_attempts: u32,
    /// Delay growth.
    pub backoff: Backoff,
    /// No delay is longer than this.
    pub max_delay: Option<Duration>,
    /// Randomness.
    pub jitter: Jitter,
}

impl RetryOptions {
    /// `max_attempts` attempts with exponential backoff from 100 ms (factor 2), capped at 30 s.
    pub fn new(max_attempts: u32) -> Self {
        RetryOptions {
            max_attempts,
            backoff: Backoff::Exponential { initial: Duration::from_millis(100), factor: 2.0 },
            max_delay: Some(Duration::from_secs(30)),
            jitter: Jitter::None,
        }
    }

    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::new(ErrorCode::InvalidPolicy, format!("retry: {why}")));
        if self.max_attempts == 0 {
            return bad("attempts must be at least 1".into());
        }
        if let Backoff::Exponential { factor, .. } = self.backoff
            && !(factor.is_finite() && factor >= 1.0)
        {
            return bad(format!("the exponential factor must be a number of at least 1, got {factor}"));
        }
        Ok(())
    }

    /// The delay before attempt `attempt + 1`, after `attempt` (1-based) failed, before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let n = attempt.max(1) - 1;
        let d = match self.backoff {
            Backoff::Fixed(d) => d,
            Backoff::Linear { initial, step } => initial.saturating_add(step.saturating_mul(n)),
            Backoff::Exponential { initial, factor } => {
                let secs = initial.as_secs_f64() * factor.powi(n.min(1024) as i32);
                if secs.is_finite() && secs < 1e9 {
                    Duration::from_secs_f64(secs)
                } else {
                    Duration::from_secs(1_000_000_000)
                }
            }
        };
        match self.max_delay {
            Some(cap) => d.min(cap),
            None => d,
        }
    }

    /// The delay to wait after `attempt` failed, jitter included.
    pub fn delay(&self, attempt: u32) -> Duration {
        let d = self.base_delay(attempt);
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => d.mul_f64(fastrand::f64()),
            Jitter::Equal => d / 2 + (d / 2).mul_f64(fastrand::f64()),
        }
    }

    /// The error reported when every attempt failed: code `RetryExhausted`, the attempt count and the
    /// last error's message.
    pub fn exhausted(&self, attempts: u32, last: &dyn std::fmt::Display) -> Error {
        Error::new(ErrorCode::RetryExhausted, format!("gave up after {attempts} attempt(s): {last}"))
    }
}

/// What every attempt ended with.
#[derive(Debug)]
pub struct RetryError<E> {
    /// The last attempt's error.
    pub last: E,
    /// Attempts made.
    pub attempts: u32,
}

impl<E: std::fmt::Display> std::fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "gave up after {} attempt(s): {}", self.attempts, self.last)
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for RetryError<E> {}

/// Calls `f(attempt)` until it succeeds, `retry_if` says an error is final, or the attempts run out,
/// sleeping the policy's delay in between (tokio's clock, so tests can pause time).
pub async fn retry<T, E, F, Fut>(
    opts: &RetryOptions,
    retry_if: impl Fn(&E) -> bool,
    mut f: F,
) -> std::result::Result<T, RetryError<E>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match f(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= opts.max_attempts || !retry_if(&e) => {
                return Err(RetryError { last: e, attempts: attempt });
            }
            Err(_) => {
                tokio::time::sleep(opts.delay(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// [`retry`] for synchronous code: sleeps the calling thread between attempts (the C door's loop).
pub fn retry_blocking<T, E>(
    opts: &RetryOptions,
    retry_if: impl Fn(&E, u32) -> bool,
    mut f: impl FnMut(u32) -> std::result::Result<T, E>,
) -> std::result::Result<T, RetryError<E>> {
    let mut attempt = 1;
    loop {
        match f(attempt) {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= opts.max_attempts || !retry_if(&e, attempt) => {
                return Err(RetryError { last: e, attempts: attempt });
            }
            Err(_) => {
                std::thread::sleep(opts.delay(attempt));
                attempt += 1;
            }
        }
    }
}
