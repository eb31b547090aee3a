//! The rate limiter's, bulkhead's, retry's and timeout's options as a door's user gave them,
//! checked once here in the reader's words (the breaker's are read in `breaker.rs`). A binding
//! hands over what its user wrote; it checks nothing itself.

use std::time::Duration;

use super::bulkhead::Bulkhead;
use super::rate_limit::{RateLimitKind, RateLimiter};
use super::retry::{Backoff, Jitter, RetryOptions};
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::options::RawOptions;

/// The options of a policy named `name`: `<kind> '<name>'` starts its messages; a wrong value is
/// R005.
pub fn policy_options(dialect: Dialect, kind: &str, name: &str) -> RawOptions {
    RawOptions::new(dialect, format!("{kind} '{name}'"), ErrorCode::InvalidPolicy)
}

impl RateLimiter {
    /// A limiter from `points` (calls per duration, at least 1), `duration` (in seconds in every
    /// door, as the spec's `@RateLimit({ points, duration })`) and `kind` (`token-bucket`, the
    /// default, or `sliding-window`).
    pub fn from_raw(name: impl Into<String>, raw: &RawOptions) -> Result<RateLimiter> {
        let points = raw.count("points", 1)?.ok_or_else(|| raw.wrong("points", "must be given"))?;
        let duration = raw.seconds("duration")?.ok_or_else(|| raw.wrong("duration", "must be given"))?;
        let kind = match raw.text("kind")? {
            Some(k) => k.parse::<RateLimitKind>()?,
            None => RateLimitKind::TokenBucket,
        };
        RateLimiter::new(name, points, duration, kind)
    }
}

impl Bulkhead {
    /// A bulkhead from `max_concurrent` (at least 1) and `max_queue` (default 0).
    pub fn from_raw(name: impl Into<String>, raw: &RawOptions) -> Result<Bulkhead> {
        let max_concurrent =
            raw.count("max_concurrent", 1)?.ok_or_else(|| raw.wrong("max_concurrent", "must be given"))?;
        let max_queue = raw.whole("max_queue", 0)?.unwrap_or(0);
        Bulkhead::new(name, max_concurrent as usize, max_queue as usize)
    }
}

impl RetryOptions {
    /// A retry schedule from `attempts` (in all, default 3), `backoff` (`fixed`, `linear` or
    /// `exponential`, the default), `delay` (the first, default 100 ms; 0 allowed), `step` (linear:
    /// default the delay), `factor` (exponential: at least 1, default 2), `max_delay` and `jitter`
    /// (`none`, `full` or `equal`).
    pub fn from_raw(raw: &RawOptions) -> Result<RetryOptions> {
        let mut r = RetryOptions::new(raw.count("attempts", 1)?.unwrap_or(3));
        let delay = raw.duration_or_zero("delay")?.unwrap_or(Duration::from_millis(100));
        let step = raw.duration_or_zero("step")?;
        let factor = raw.at_least("factor", 1.0)?.unwrap_or(2.0);
        r.backoff = match raw.choice("backoff", &["fixed", "linear", "exponential"])? {
            Some("fixed") => Backoff::Fixed(delay),
            Some("linear") => Backoff::Linear { initial: delay, step: step.unwrap_or(delay) },
            _ => Backoff::Exponential { initial: delay, factor },
        };
        if let Some(m) = raw.duration("max_delay")? {
            r.max_delay = Some(m);
        }
        if let Some(j) = raw.text("jitter")? {
            r.jitter = j.parse::<Jitter>()?;
        }
        r.validate()?;
        Ok(r)
    }
}

/// A timeout as a door's user gave it (a number in the door's unit, above 0), checked.
pub fn timeout_in(dialect: Dialect, v: f64) -> Result<Duration> {
    match dialect.duration(v) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(Error::new(
            ErrorCode::InvalidPolicy,
            format!("timeout {}, got {v}", crate::options::duration_rule(dialect, false)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Value;

    #[test]
    fn policies_read_their_options_in_the_door_s_words() {
        let raw = policy_options(Dialect::Python, "rate limiter", "api")
            .with("points", Value::Number(10.0))
            .with("duration", Value::Number(1.5));
        let l = RateLimiter::from_raw("api", &raw).unwrap();
        assert_eq!(l.name(), "api");
        let e = RateLimiter::from_raw("api", &policy_options(Dialect::TypeScript, "rate limiter", "api"))
            .unwrap_err();
        assert_eq!(e.message(), "rate limiter 'api': points must be given");
        let raw =
            policy_options(Dialect::TypeScript, "bulkhead", "db").with("maxConcurrent", Value::Number(0.0));
        let e = Bulkhead::from_raw("db", &raw).unwrap_err();
        assert_eq!(e.message(), "bulkhead 'db': maxConcurrent must be a whole number of at least 1, got 0");
        let raw = policy_options(Dialect::Python, "retry", "r")
            .with("backoff", Value::Text("linear".into()))
            .with("delay", Value::Number(0.0))
            .with("step", Value::Number(0.5));
        let r = RetryOptions::from_raw(&raw).unwrap();
        assert_eq!(r.backoff, Backoff::Linear { initial: Duration::ZERO, step: Duration::from_millis(500) });
        let raw = policy_options(Dialect::Python, "retry", "r").with("factor", Value::Number(0.5));
        let e = RetryOptions::from_raw(&raw).unwrap_err();
        assert_eq!(e.message(), "retry 'r': factor must be a number of at least 1, got 0.5");
        assert_eq!(timeout_in(Dialect::Python, 2.0).unwrap(), Duration::from_secs(2));
        assert!(timeout_in(Dialect::TypeScript, 0.0).unwrap_err().message().contains("milliseconds above 0"));
    }
}
