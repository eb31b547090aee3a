//! Resilience: exactly one circuit breaker, one retry with backoff, one timeout, one rate limiter
//! and one bulkhead, each usable alone and composable with [`Policy`]. Every binding uses these.
//!
//! Time is tokio's clock (`tokio::time::Instant`), so tests run on paused time.

mod breaker;
mod bulkhead;
mod options;
mod policy;
mod rate_limit;
mod retry;
mod timeout;

pub use breaker::{BreakerError, BreakerOptions, BreakerState, CircuitBreaker, Outcome, Permit, StateChange};
pub use bulkhead::{Admission, Bulkhead, WaiterId};
pub use options::{policy_options, timeout_in};
pub use policy::{Policy, PolicyError, RateLimitStep};
pub use rate_limit::{RateLimitKind, RateLimiter};
pub use retry::{Backoff, Jitter, RetryError, RetryOptions, retry, retry_blocking};
pub use timeout::{timeout, timeout_error};
