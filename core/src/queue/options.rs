//! A queue's options: the defaults its jobs get, and the limits every worker on every machine
//! applies. Rates are written as the spec writes them: `100/minute`.

use std::time::Duration;

use super::job::{Backoff, JobOptions};
use crate::error::{Error, ErrorCode, Result};
use crate::options::{RawOptions, Value};

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
            trace: None,
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
    /// How many jobs the worker holds leased beyond those it runs, ready to start without a round
    /// trip to the store (default: the concurrency, at least 8; always 0 on a queue opened with a
    /// concurrency or rate limit, whose every lease must be a start). A held job waits at most
    /// 250 ms for a free slot before it goes back to the front of the queue.
    pub prefetch: Option<u32>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 1,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            max_stalls: 1,
            name: None,
            prefetch: None,
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

/// `backoff`: `"fixed"` or `"exponential"` (from `backoff_delay`, default 1 s), or
/// `{type, delay}` as BullMQ writes it; `max_delay` caps the exponential one (default 1 h).
fn backoff(raw: &RawOptions) -> Result<Option<Backoff>> {
    let (kind, delay) = match raw.get("backoff") {
        None => (None, raw.duration("backoff_delay")?),
        Some(Value::Map(_)) => {
            let nested = raw.nested("backoff")?.expect("a map");
            let kind = nested.choice("type", &["fixed", "exponential"])?;
            let delay = nested.duration("delay")?;
            nested.check_unknown()?;
            (Some(kind.unwrap_or("exponential")), delay.or(raw.duration("backoff_delay")?))
        }
        Some(_) => (raw.choice("backoff", &["fixed", "exponential"])?, raw.duration("backoff_delay")?),
    };
    let max = raw.duration("max_delay")?;
    if kind.is_none() && delay.is_none() && max.is_none() {
        return Ok(None);
    }
    let delay_ms = delay.map_or(1_000, |d| d.as_millis() as u64);
    Ok(Some(match kind {
        Some("fixed") => Backoff::Fixed { delay_ms },
        _ => Backoff::Exponential { delay_ms, max_ms: max.map_or(3_600_000, |m| m.as_millis() as u64) },
    }))
}

/// `retries` after the first attempt, or `attempts` in all (not both).
fn attempts(raw: &RawOptions) -> Result<Option<u32>> {
    let retries = raw.count("retries", 0)?;
    let attempts = raw.count("attempts", 1)?;
    match (retries, attempts) {
        (Some(_), Some(_)) => Err(raw.invalid(format!(
            "give {} (after the first attempt) or {} (in all), not both",
            raw.name("retries"),
            raw.name("attempts")
        ))),
        (Some(r), None) => Ok(Some(r.saturating_add(1))),
        (None, a) => Ok(a),
    }
}

impl QueueOptions {
    /// Reads a queue's options as a door's user wrote them: `concurrency`, `rate_limit`
    /// (`"100/minute"`), `retries` or `attempts`, `backoff` (`"fixed"`, `"exponential"` or
    /// `{type, delay}`), `backoff_delay`, `max_delay`, `timeout`, `keep_completed`. Unknown keys
    /// are refused.
    pub fn from_raw(raw: &RawOptions) -> Result<QueueOptions> {
        QueueOptions::default().over(raw)
    }

    /// These options with the ones `raw` gives in their place: what `omnitron.yaml`'s
    /// `queues:` entry sets wins over what the code set (`queue::Deployed`).
    pub fn over(mut self, raw: &RawOptions) -> Result<QueueOptions> {
        // Read even when absent, so that an unknown key's message lists it.
        let concurrency = raw.count("concurrency", 1)?;
        if raw.has("concurrency") {
            self.concurrency = concurrency;
        }
        if let Some(text) = raw.text("rate_limit")? {
            self.rate =
                Some(Rate::parse(text, &raw.name("rate_limit")).map_err(|e| raw.invalid(e.message()))?);
        }
        if let Some(a) = attempts(raw)? {
            self.job.attempts = a;
        }
        if let Some(b) = backoff(raw)? {
            self.job.backoff = b;
        }
        if let Some(t) = raw.duration("timeout")? {
            self.job.timeout_ms = Some(t.as_millis() as u64);
        }
        if let Some(k) = raw.duration_or_zero("keep_completed")? {
            self.job.keep_completed_ms = k.as_millis() as u64;
        }
        raw.check_unknown()?;
        Ok(self)
    }
}

impl AddOptions {
    /// Reads one job's options: `id` (or `job_id`), `delay`, `priority`, `retries` or
    /// `attempts`, `backoff`, `backoff_delay`, `max_delay`, `timeout`, `keep_completed`.
    pub fn from_raw(raw: &RawOptions) -> Result<AddOptions> {
        let id = match (raw.text("id")?, raw.text("job_id")?) {
            (Some(_), Some(_)) => {
                return Err(raw.invalid(format!(
                    "give {} or {}, not both",
                    raw.name("id"),
                    raw.name("job_id")
                )));
            }
            (a, b) => a.or(b).map(str::to_string),
        };
        if id.as_ref().is_some_and(|i| i.is_empty() || i.len() > 256) {
            return Err(raw.wrong(if raw.has("id") { "id" } else { "job_id" }, "must be 1 to 256 characters"));
        }
        let o = AddOptions {
            id,
            delay: raw.duration_or_zero("delay")?,
            priority: raw.count("priority", 0)?.unwrap_or(0),
            attempts: attempts(raw)?,
            backoff: backoff(raw)?,
            timeout: raw.duration("timeout")?,
            keep_completed: raw.duration_or_zero("keep_completed")?,
        };
        raw.check_unknown()?;
        Ok(o)
    }
}

impl WorkerOptions {
    /// Reads a worker's options: `concurrency`, `lease`, `poll_interval`, `max_stalls`, `name`,
    /// `prefetch`.
    pub fn from_raw(raw: &RawOptions) -> Result<WorkerOptions> {
        let d = WorkerOptions::default();
        let o = WorkerOptions {
            concurrency: raw.count("concurrency", 1)?.unwrap_or(d.concurrency),
            lease: raw.duration("lease")?.unwrap_or(d.lease),
            poll_interval: raw.duration("poll_interval")?.unwrap_or(d.poll_interval),
            max_stalls: raw.count("max_stalls", 0)?.unwrap_or(d.max_stalls),
            name: raw.text("name")?.map(str::to_string),
            prefetch: raw.count("prefetch", 0)?,
        };
        if o.lease < Duration::from_millis(100) {
            return Err(raw.wrong("lease", "must be at least 100 ms"));
        }
        raw.check_unknown()?;
        Ok(o)
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

    fn raw(d: crate::dialect::Dialect, pairs: &[(&str, Value)]) -> RawOptions {
        let mut r = RawOptions::new(d, "queue 'emails'", ErrorCode::InvalidQueue);
        for (k, v) in pairs {
            r.set(k, v.clone());
        }
        r
    }

    #[test]
    fn options_as_each_door_writes_them() {
        use crate::dialect::Dialect;
        let ts = raw(
            Dialect::TypeScript,
            &[
                ("rateLimit", Value::Text("100/minute".into())),
                ("retries", Value::Number(5.0)),
                ("backoff", Value::Text("fixed".into())),
                ("backoffDelay", Value::Number(250.0)),
                ("concurrency", Value::Number(5.0)),
            ],
        );
        let o = QueueOptions::from_raw(&ts).unwrap();
        assert_eq!(o.rate, Some(Rate { max: 100, per: Duration::from_secs(60) }));
        assert_eq!(
            (o.job.attempts, o.job.backoff, o.concurrency),
            (6, Backoff::Fixed { delay_ms: 250 }, Some(5))
        );
        // BullMQ's shape, in Python's units (seconds).
        let nested = Value::Map(vec![
            ("type".into(), Value::Text("exponential".into())),
            ("delay".into(), Value::Number(2.0)),
        ]);
        let py = raw(Dialect::Python, &[("backoff", nested), ("keep_completed", Value::Number(0.0))]);
        let o = QueueOptions::from_raw(&py).unwrap();
        assert_eq!(o.job.backoff, Backoff::Exponential { delay_ms: 2_000, max_ms: 3_600_000 });
        assert_eq!(o.job.keep_completed_ms, 0);
        let add = raw(
            Dialect::TypeScript,
            &[("jobId", Value::Text("a-1".into())), ("delay", Value::Number(1500.0))],
        );
        let a = AddOptions::from_raw(&add).unwrap();
        assert_eq!((a.id.as_deref(), a.delay), (Some("a-1"), Some(Duration::from_millis(1500))));
    }

    #[test]
    fn wrong_options_name_the_key_as_written_and_the_rule() {
        use crate::dialect::Dialect;
        let e =
            QueueOptions::from_raw(&raw(Dialect::TypeScript, &[("rateLimit", Value::Text("lots".into()))]))
                .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidQueue);
        assert!(e.message().contains("rateLimit") && e.message().contains("100/minute"), "{e}");
        let e = QueueOptions::from_raw(&raw(Dialect::Python, &[("retrys", Value::Number(1.0))])).unwrap_err();
        assert!(e.message().contains("retrys") && e.message().contains("retries"), "{e}");
        let e =
            QueueOptions::from_raw(&raw(Dialect::Python, &[("concurency", Value::Number(1.0))])).unwrap_err();
        assert!(e.message().contains("did you mean 'concurrency'"), "{e}");
        let e =
            QueueOptions::from_raw(&raw(Dialect::TypeScript, &[("backoff", Value::Text("linear".into()))]))
                .unwrap_err();
        assert!(e.message().contains("backoff") && e.message().contains("exponential"), "{e}");
        let e = WorkerOptions::from_raw(&raw(Dialect::TypeScript, &[("concurrency", Value::Number(0.0))]))
            .unwrap_err();
        assert!(e.message().contains("concurrency"), "{e}");
        let e = AddOptions::from_raw(&raw(
            Dialect::Python,
            &[("retries", Value::Number(1.0)), ("attempts", Value::Number(2.0))],
        ))
        .unwrap_err();
        assert!(e.message().contains("not both"), "{e}");
    }
}
