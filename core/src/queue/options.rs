//! A queue's options: the defaults its jobs get, and the limits every worker on every machine
//! applies. Rates are written as the spec writes them: `100/minute`.

use std::time::Duration;

use super::job::{Backoff, JobOptions};
use crate::error::{Error, ErrorCode, Result};

/// At most `max` jobs started in any window of `per`, across all workers of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Jobs.
    pub max: u32,
    /// The window.
    pub per: Duration,
}

impl Rate {
    /// Parses `N/unit` (`100/minute`, `10/s`, `5000/hour`, `1/day`) or `N/<duration>` (`100/30s`,
    /// `20/500ms`). `what` names the option in the error (`Q001`), which states the rule.
    pub fn parse(text: &str, what: &str) -> Result<Rate> {
        let wrong = |why: &str| {
            Error::new(
                ErrorCode::InvalidQueue,
                format!(
                    "{what}: '{text}' is not a rate ({why}); write jobs per window, as '100/minute', '10/second', '5000/hour' or '100/30s'"
                ),
            )
        };
        let (n, unit) = text.trim().split_once('/').ok_or_else(|| wrong("no '/'"))?;
        let max: u32 = n.trim().parse().map_err(|_| wrong("the count is not a whole number"))?;
        if max == 0 {
            return Err(wrong("the count must be at least 1"));
        }
        let unit = unit.trim();
        let per = match unit.to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" | "seconds" => Duration::from_secs(1),
            "m" | "min" | "minute" | "minutes" => Duration::from_secs(60),
            "h" | "hour" | "hours" => Duration::from_secs(3600),
            "d" | "day" | "days" => Duration::from_secs(86_400),
            other => parse_duration(other).ok_or_else(|| wrong("the window is not a unit or a duration"))?,
        };
        if per.is_zero() {
            return Err(wrong("the window must be longer than 0"));
        }
        Ok(Rate { max, per })
    }
}

/// `500ms`, `30s`, `5m`, `2h`, `1d`.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    })
}

/// A queue's options.
#[derive(Debug, Clone, Default)]
pub struct QueueOptions {
    /// What a job added without options gets (3 attempts, exponential backoff from 1 s, results
    /// kept 1 h).
    pub job: JobOptions,
    /// At most this many jobs of the queue active at once, across every worker (none: no limit
    /// beyond each worker's own concurrency).
    pub concurrency: Option<u32>,
    /// At most this many jobs started per window, across every worker (none: no limit).
    pub rate: Option<Rate>,
}

impl QueueOptions {
    /// `retries` after the first attempt (the spec's `retries: 5` is 6 attempts).
    pub fn retries(mut self, retries: u32) -> Self {
        self.job.attempts = retries.saturating_add(1);
        self
    }

    /// The backoff between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.job.backoff = backoff;
        self
    }

    /// A rate limit (`"100/minute"`).
    pub fn rate_limit(mut self, rate: &str) -> Result<Self> {
        self.rate = Some(Rate::parse(rate, "rateLimit")?);
        Ok(self)
    }

    /// The queue-wide concurrency.
    pub fn concurrency(mut self, n: u32) -> Self {
        self.concurrency = Some(n);
        self
    }
}

/// How one job is added; what is left unset comes from the queue's [`QueueOptions`].
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// The job's id: adding an id the queue holds adds nothing (none: a fresh id).
    pub id: Option<String>,
    /// Not before this long from now.
    pub delay: Option<Duration>,
    /// Lower runs first; 0, the default, is the highest.
    pub priority: u32,
    /// Attempts in all.
    pub attempts: Option<u32>,
    /// The backoff between attempts.
    pub backoff: Option<Backoff>,
    /// The longest one attempt may run.
    pub timeout: Option<Duration>,
    /// How long the completed job and its result are kept.
    pub keep_completed: Option<Duration>,
}

impl AddOptions {
    /// The job's options over the queue's defaults.
    pub(crate) fn job_options(&self, defaults: &JobOptions) -> Result<JobOptions> {
        let attempts = self.attempts.unwrap_or(defaults.attempts);
        if attempts == 0 {
            return Err(Error::new(
                ErrorCode::InvalidQueue,
                "attempts: must be at least 1 (the first attempt counts)",
            ));
        }
        Ok(JobOptions {
            attempts,
            backoff: self.backoff.unwrap_or(defaults.backoff),
            jitter: defaults.jitter,
            timeout_ms: self.timeout.map(|t| t.as_millis() as u64).or(defaults.timeout_ms),
            keep_completed_ms: self
                .keep_completed
                .map_or(defaults.keep_completed_ms, |k| k.as_millis() as u64),
        })
    }
}

/// A worker's options.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs this worker runs at once (default 1).
    pub concurrency: u32,
    /// How long the worker holds a job before it must renew its lease (default 30 s; renewed every
    /// third of it). A worker that dies loses its jobs to others after this long.
    pub lease: Duration,
    /// How often an idle worker looks for jobs added by other processes (default 100 ms; jobs
    /// added in this process wake it at once).
    pub poll_interval: Duration,
    /// Times a job's worker may be lost before the job goes to the dead-letter queue (default 1).
    pub max_stalls: u32,
    /// The worker's name in the store (default `<host pid>-<random>`).
    pub name: Option<String>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 1,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            max_stalls: 1,
            name: None,
        }
    }
}

impl WorkerOptions {
    /// Checks the options (`Q001`).
    pub(crate) fn check(&self) -> Result<()> {
        if self.concurrency == 0 {
            return Err(Error::new(ErrorCode::InvalidQueue, "concurrency: must be at least 1"));
        }
        if self.lease < Duration::from_millis(100) {
            return Err(Error::new(ErrorCode::InvalidQueue, "lease: must be at least 100ms"));
        }
        if self.poll_interval.is_zero() {
            return Err(Error::new(ErrorCode::InvalidQueue, "pollInterval: must be longer than 0"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_as_the_spec_writes_them() {
        assert_eq!(Rate::parse("100/minute", "r").unwrap(), Rate { max: 100, per: Duration::from_secs(60) });
        assert_eq!(Rate::parse("10/s", "r").unwrap().per, Duration::from_secs(1));
        assert_eq!(Rate::parse("5 / hour", "r").unwrap().max, 5);
        assert_eq!(Rate::parse("20/500ms", "r").unwrap().per, Duration::from_millis(500));
        for bad in ["100", "x/minute", "0/minute", "100/fortnight", "100/0s", "-1/s"] {
            let e = Rate::parse(bad, "queues[0].rateLimit").unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidQueue, "{bad}");
            assert!(e.message().contains("queues[0].rateLimit") && e.message().contains("100/minute"), "{e}");
        }
    }
}
