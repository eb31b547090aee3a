//! Rate limiting: a token bucket (`points` per `duration`, kept exactly with integer arithmetic, so no
//! fractional token is ever lost) and a sliding-window log.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::error::{Error, ErrorCode, Result};

/// Which algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitKind {
    /// `points` tokens, refilled continuously at `points / duration`; bursts up to `points`.
    #[default]
    TokenBucket,
    /// At most `points` calls in any window of `duration`.
    SlidingWindow,
}

impl std::str::FromStr for RateLimitKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "token-bucket" | "tokenBucket" | "token_bucket" => Ok(RateLimitKind::TokenBucket),
            "sliding-window" | "slidingWindow" | "sliding_window" => Ok(RateLimitKind::SlidingWindow),
            other => Err(Error::new(
                ErrorCode::InvalidPolicy,
                format!("unknown rate limiter '{other}': expected 'token-bucket' or 'sliding-window'"),
            )),
        }
    }
}

#[derive(Debug)]
enum State {
    /// Generic cell rate algorithm in units of nanoseconds times `points`, so the emission interval
    /// (`duration / points`) is an integer: `tat` is the theoretical arrival time.
    Bucket {
        origin: Instant,
        tat: u128,
    },
    Window {
        grants: VecDeque<Instant>,
    },
}

/// A rate limiter. Share it with `Arc`.
#[derive(Debug)]
pub struct RateLimiter {
    name: String,
    points: u32,
    duration: Duration,
    kind: RateLimitKind,
    state: Mutex<State>,
}

impl RateLimiter {
    /// `points` calls per `duration`.
    pub fn new(
        name: impl Into<String>,
        points: u32,
        duration: Duration,
        kind: RateLimitKind,
    ) -> Result<Self> {
        let name = name.into();
        if points == 0 {
            return Err(Error::new(
                ErrorCode::InvalidPolicy,
                format!("rate limiter '{name}': points must be at least 1"),
            ));
        }
        if duration.is_zero() {
            return Err(Error::new(
                ErrorCode::InvalidPolicy,
                format!("rate limiter '{name}': duration must be longer than 0"),
            ));
        }
        let state = match kind {
            RateLimitKind::TokenBucket => State::Bucket { origin: Instant::now(), tat: 0 },
            RateLimitKind::SlidingWindow => State::Window { grants: VecDeque::new() },
        };
        Ok(RateLimiter { name, points, duration, kind, state: Mutex::new(state) })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The error for a refused call.
    pub fn limited_error(&self, retry_in: Duration) -> Error {
        Error::new(
            ErrorCode::RateLimited,
            format!(
                "rate limit '{}' reached ({} per {} ms); retry in {} ms",
                self.name,
                self.points,
                self.duration.as_millis(),
                retry_in.as_millis().max(1)
            ),
        )
    }

    /// Takes `n` tokens now, or says how long until they would be available.
    pub fn try_acquire(&self, n: u32) -> std::result::Result<(), Duration> {
        if n == 0 {
            return Ok(());
        }
        if n > self.points {
            // Never possible: report the whole duration so waiters do not spin.
            return Err(self.duration);
        }
        let now = Instant::now();
        let mut state = self.state.lock();
        match &mut *state {
            State::Bucket { origin, tat } => {
                let points = u128::from(self.points);
                let d = self.duration.as_nanos();
                let t = now.saturating_duration_since(*origin).as_nanos() * points;
                let start = (*tat).max(t);
                let new_tat = start + u128::from(n) * d;
                let limit = t + d * points;
                if new_tat <= limit {
                    *tat = new_tat;
                    Ok(())
                } else {
                    let wait_scaled = new_tat - limit;
                    Err(Duration::from_nanos(wait_scaled.div_ceil(points) as u64))
                }
            }
            State::Window { grants } => {
                while grants.front().is_some_and(|g| now.saturating_duration_since(*g) >= self.duration) {
                    grants.pop_front();
                }
                let used = grants.len() as u32;
                if used + n <= self.points {
                    grants.extend(std::iter::repeat_n(now, n as usize));
                    Ok(())
                } else {
                    // The (used + n - points)-th oldest grant must leave the window first.
                    let idx = (used + n - self.points - 1) as usize;
                    let oldest = grants[idx];
                    Err((oldest + self.duration).saturating_duration_since(now).max(Duration::from_nanos(1)))
                }
            }
        }
    }

    /// Takes `n` tokens now or fails with a `RateLimited` error.
    pub fn check(&self, n: u32) -> Result<()> {
        self.try_acquire(n).map_err(|wait| self.limited_error(wait))
    }

    /// Waits until `n` tokens are available and takes them. Asking for more than `points` at once
    /// fails at once.
    pub async fn acquire(&self, n: u32) -> Result<()> {
        self.fits(n)?;
        loop {
            match self.try_acquire(n) {
                Ok(()) => return Ok(()),
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// [`RateLimiter::acquire`] for synchronous code: sleeps the calling thread until the tokens are
    /// there, or fails with `RateLimited` if that would take longer than `max_wait`.
    pub fn acquire_blocking(&self, n: u32, max_wait: Option<Duration>) -> Result<()> {
        self.fits(n)?;
        let deadline = max_wait.map(|d| std::time::Instant::now() + d);
        loop {
            match self.try_acquire(n) {
                Ok(()) => return Ok(()),
                Err(wait) => {
                    if let Some(deadline) = deadline
                        && std::time::Instant::now() + wait > deadline
                    {
                        return Err(self.limited_error(wait));
                    }
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn fits(&self, n: u32) -> Result<()> {
        if n > self.points {
            return Err(Error::new(
                ErrorCode::InvalidPolicy,
                format!(
                    "rate limiter '{}': asked for {n} tokens but holds at most {}",
                    self.name, self.points
                ),
            ));
        }
        Ok(())
    }

    /// Tokens available now (fractional for the token bucket).
    pub fn available(&self) -> f64 {
        let now = Instant::now();
        let mut state = self.state.lock();
        match &mut *state {
            State::Bucket { origin, tat } => {
                let points = u128::from(self.points);
                let d = self.duration.as_nanos();
                let t = now.saturating_duration_since(*origin).as_nanos() * points;
                let used = (*tat).saturating_sub(t);
                ((d * points).saturating_sub(used)) as f64 / d as f64
            }
            State::Window { grants } => {
                while grants.front().is_some_and(|g| now.saturating_duration_since(*g) >= self.duration) {
                    grants.pop_front();
                }
                (self.points as usize - grants.len().min(self.points as usize)) as f64
            }
        }
    }

    /// Its algorithm.
    pub fn kind(&self) -> RateLimitKind {
        self.kind
    }
}
