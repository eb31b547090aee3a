//! Composition: one pipeline that wraps any async call in any of the policies, always in the same
//! documented order (outermost first):
//!
//! 1. **rate limit**: each logical call takes one token (refused, or waited for, before anything else);
//! 2. **bulkhead**: the call holds one slot across all its attempts;
//! 3. **retry**: each attempt below is retried by the retry policy;
//! 4. **circuit breaker**: each attempt goes through the breaker (an open breaker fails the attempt
//!    fast, and by default that is not retried);
//! 5. **timeout**: each attempt is limited in time (a timeout counts as a breaker failure).
//!
//! Bindings expose the same policies as decorators that stack in the order written (see
//! `docs/RESILIENCE.md`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::breaker::{BreakerError, CircuitBreaker};
use super::bulkhead::Bulkhead;
use super::rate_limit::RateLimiter;
use super::retry::RetryOptions;
use crate::error::{Error, ErrorCode};

/// Why a call through a [`Policy`] gave no value.
#[derive(Debug)]
pub enum PolicyError<E> {
    /// A policy refused or cut the call (rate limited, bulkhead full, circuit open, timed out),
    /// with its engine error.
    Rejected(Error),
    /// The call failed; `attempts` were made.
    Failed {
        /// The last attempt's error.
        error: E,
        /// Attempts made.
        attempts: u32,
    },
}

impl<E: std::fmt::Display> std::fmt::Display for PolicyError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyError::Rejected(e) => e.fmt(f),
            PolicyError::Failed { error, attempts } => {
                write!(f, "failed after {attempts} attempt(s): {error}")
            }
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for PolicyError<E> {}

/// A rate limit step: refuse when no token, or wait for one.
#[derive(Debug, Clone)]
pub struct RateLimitStep {
    /// The limiter.
    pub limiter: Arc<RateLimiter>,
    /// Wait for a token instead of refusing.
    pub wait: bool,
}

/// A pipeline of policies.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rate_limit: Option<RateLimitStep>,
    bulkhead: Option<Arc<Bulkhead>>,
    retry: Option<RetryOptions>,
    breaker: Option<Arc<CircuitBreaker>>,
    timeout: Option<Duration>,
    retry_rejections: bool,
}

impl Policy {
    /// An empty pipeline (it just calls).
    pub fn new() -> Self {
        Policy::default()
    }

    /// Adds a rate limit.
    pub fn rate_limit(mut self, limiter: Arc<RateLimiter>, wait: bool) -> Self {
        self.rate_limit = Some(RateLimitStep { limiter, wait });
        self
    }

    /// Adds a bulkhead.
    pub fn bulkhead(mut self, bulkhead: Arc<Bulkhead>) -> Self {
        self.bulkhead = Some(bulkhead);
        self
    }

    /// Adds retries.
    pub fn retry(mut self, opts: RetryOptions) -> Result<Self, Error> {
        opts.validate()?;
        self.retry = Some(opts);
        Ok(self)
    }

    /// Also retries attempts the breaker refused or the timeout cut (off by default).
    pub fn retry_rejections(mut self, yes: bool) -> Self {
        self.retry_rejections = yes;
        self
    }

    /// Adds a circuit breaker.
    pub fn circuit_breaker(mut self, breaker: Arc<CircuitBreaker>) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Adds a per-attempt timeout.
    pub fn timeout(mut self, d: Duration) -> Result<Self, Error> {
        if d.is_zero() {
            return Err(Error::new(ErrorCode::InvalidPolicy, "a timeout must be longer than 0"));
        }
        self.timeout = Some(d);
        Ok(self)
    }

    /// Runs `f` (called once per attempt) through the pipeline. `retryable` decides which of the
    /// call's own errors are worth another attempt.
    pub async fn call<T, E, F, Fut>(
        &self,
        retryable: impl Fn(&E) -> bool,
        mut f: F,
    ) -> Result<T, PolicyError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(step) = &self.rate_limit {
            if step.wait {
                step.limiter.acquire(1).await.map_err(PolicyError::Rejected)?;
            } else {
                step.limiter.check(1).map_err(PolicyError::Rejected)?;
            }
        }
        let attempts = async {
            let max = self.retry.as_ref().map_or(1, |r| r.max_attempts);
            let mut attempt = 1;
            loop {
                let result = self.attempt(&mut f).await;
                let again = attempt < max
                    && match &result {
                        Ok(_) => false,
                        Err(PolicyError::Failed { error, .. }) => retryable(error),
                        Err(PolicyError::Rejected(_)) => self.retry_rejections,
                    };
                if !again {
                    return result.map_err(|e| match e {
                        PolicyError::Failed { error, .. } => PolicyError::Failed { error, attempts: attempt },
                        other => other,
                    });
                }
                if let Some(r) = &self.retry {
                    tokio::time::sleep(r.delay(attempt)).await;
                }
                attempt += 1;
            }
        };
        match &self.bulkhead {
            Some(b) => b.run(attempts).await.map_err(PolicyError::Rejected)?,
            None => attempts.await,
        }
    }

    async fn attempt<T, E, F, Fut>(&self, f: &mut F) -> Result<T, PolicyError<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let timed = |fut: Fut| async move {
            match self.timeout {
                Some(d) => match tokio::time::timeout(d, fut).await {
                    Ok(r) => r.map_err(|e| PolicyError::Failed { error: e, attempts: 1 }),
                    Err(_) => Err(PolicyError::Rejected(super::timeout_error(d, None))),
                },
                None => fut.await.map_err(|e| PolicyError::Failed { error: e, attempts: 1 }),
            }
        };
        match &self.breaker {
            None => timed(f()).await,
            Some(b) => b.call(|| timed(f())).await.map_err(|e| match e {
                BreakerError::Open(e) | BreakerError::Timeout(e) => PolicyError::Rejected(e),
                BreakerError::Failed(inner) => inner,
            }),
        }
    }
}
