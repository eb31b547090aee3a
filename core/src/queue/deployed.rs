//! This process's share of `omnitron.yaml`'s spec-3.1 keys: its `concurrency`, its `queues:` and
//! its `cronJobs:`, which `omnitron start` hands each process as `OMNITRON_QUEUES` (a JSON
//! object). The doors apply them by themselves, through this one reading:
//! - a queue a door opens takes its `queues:` entry's options over the ones in code (the file is
//!   the deployment's word: an operator changes a rate limit without a new build);
//! - a worker whose code sets no `concurrency` takes the process's;
//! - `Omnitron.create` starts the `cronJobs:` schedules, beside the `@Cron` / `@Interval` methods.
//!
//! Rust code reads it explicitly: `Deployed::current()?.queue_options("emails", &raw)`, or
//! `Deployed::from_env()?` and its fields.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::handle::check_name;
use super::{QueueOptions, WorkerOptions};
use crate::dialect::Dialect;
use crate::error::{Error, ErrorCode, Result};
use crate::options::{RawOptions, Value};
#[cfg(feature = "scheduler")]
use crate::scheduler::{Schedule, ScheduleSpec};

/// A `cronJobs:` entry: checked as a schedule where the scheduler is built in; kept as it is
/// (a C library without the scheduler has no use for it) otherwise.
#[cfg(feature = "scheduler")]
pub type CronJob = ScheduleSpec;
/// A `cronJobs:` entry: checked as a schedule where the scheduler is built in; kept as it is
/// (a C library without the scheduler has no use for it) otherwise.
#[cfg(not(feature = "scheduler"))]
pub type CronJob = serde_json::Value;

/// The variable `omnitron start` sets.
pub const ENV: &str = "OMNITRON_QUEUES";

/// One entry of a process's `queues:`: a name and the queue's options as TypeScript writes them
/// (`concurrency`, `rateLimit: 100/minute`, `retries`, `backoff`, durations in ms).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct QueueEntry {
    /// The queue.
    pub name: String,
    /// Its options, as `Queue.open` takes them.
    #[serde(flatten)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

impl QueueEntry {
    /// The entry's options over `code`'s; `at` names the entry in errors
    /// (`processes.queue.queues[0]`).
    pub fn over(&self, code: QueueOptions, at: &str) -> Result<QueueOptions> {
        let mut raw = RawOptions::new(Dialect::TypeScript, at, ErrorCode::InvalidConfig);
        for (k, v) in &self.options {
            raw.set(k, Value::from_json(v));
        }
        code.over(&raw)
    }

    /// Checks the entry's name and options.
    pub fn check(&self, at: &str) -> Result<()> {
        check_name(&self.name)
            .map_err(|e| Error::new(ErrorCode::InvalidConfig, format!("{at}: {}", e.message())))?;
        self.over(QueueOptions::default(), at).map(|_| ())
    }
}

/// What `OMNITRON_QUEUES` holds (nothing, for a process started otherwise).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployed {
    /// The worker concurrency of this process's workers whose code sets none.
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Options for the queues this process opens, by name.
    #[serde(default)]
    pub queues: Vec<QueueEntry>,
    /// Schedules this process runs. Their firings go to the queue `cron` unless an entry names
    /// another, each job named after the entry's `name` or `handler`.
    #[serde(default)]
    pub cron_jobs: Vec<CronJob>,
}

impl Deployed {
    /// Reads and checks `OMNITRON_QUEUES`'s JSON: every entry, as `omnitron.yaml`'s loader does.
    pub fn parse(json: &str) -> Result<Deployed> {
        let bad = |m: String| Error::new(ErrorCode::InvalidConfig, format!("{ENV}: {m}"));
        let d: Deployed = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        if d.concurrency == Some(0) {
            return Err(bad("concurrency: must be at least 1".into()));
        }
        for (i, q) in d.queues.iter().enumerate() {
            q.check(&format!("{ENV}: queues[{i}]"))?;
        }
        #[cfg(feature = "scheduler")]
        d.schedules().map_err(|e| bad(e.message().to_string()))?;
        Ok(d)
    }

    /// This process's environment's (empty when the variable is not set).
    pub fn from_env() -> Result<Deployed> {
        match std::env::var(ENV) {
            Ok(json) if !json.trim().is_empty() => Deployed::parse(&json),
            _ => Ok(Deployed::default()),
        }
    }

    /// [`Deployed::from_env`], read once per process.
    pub fn current() -> Result<&'static Deployed> {
        static CURRENT: OnceLock<Result<Deployed>> = OnceLock::new();
        CURRENT.get_or_init(Deployed::from_env).as_ref().map_err(Clone::clone)
    }

    /// The options of queue `name`: what `code` (as a door's user wrote them) gives, with the
    /// queue's entry, if any, over them.
    pub fn queue_options(&self, name: &str, code: &RawOptions) -> Result<QueueOptions> {
        let options = QueueOptions::from_raw(code)?;
        match self.queues.iter().position(|q| q.name == name) {
            Some(i) => self.queues[i].over(options, &format!("{ENV}: queues[{i}]")),
            None => Ok(options),
        }
    }

    /// A worker's options as its code gives them, with the process's `concurrency` when the code
    /// sets none.
    pub fn worker_options(&self, code: &RawOptions) -> Result<WorkerOptions> {
        let mut options = WorkerOptions::from_raw(code)?;
        if let (false, Some(n)) = (code.has("concurrency"), self.concurrency) {
            options.concurrency = n;
        }
        Ok(options)
    }

    /// The `cronJobs:` schedules, checked (errors name `cronJobs[i]` and the field).
    #[cfg(feature = "scheduler")]
    pub fn schedules(&self) -> Result<Vec<Schedule>> {
        self.cron_jobs.iter().enumerate().map(|(i, s)| s.schedule(&format!("cronJobs[{i}]"))).collect()
    }
}

#[cfg(all(test, feature = "scheduler"))]
mod tests {
    use super::*;

    fn code(pairs: &[(&str, Value)]) -> RawOptions {
        let mut raw = RawOptions::new(Dialect::Python, "queue 'emails'", ErrorCode::InvalidQueue);
        for (k, v) in pairs {
            raw.set(k, v.clone());
        }
        raw
    }

    #[test]
    fn an_entry_wins_over_code_and_the_process_concurrency_fills_in() {
        let d = Deployed::parse(
            r#"{"concurrency":10,"queues":[{"name":"emails","rateLimit":"100/minute","retries":5,"timeout":2000}],
                "cronJobs":[{"pattern":"0 * * * *","handler":"jobs/hourly-cleanup"}]}"#,
        )
        .unwrap();
        // Python's durations are seconds; the entry's, as TypeScript writes them, milliseconds.
        let o = d
            .queue_options(
                "emails",
                &code(&[("retries", Value::Number(1.0)), ("timeout", Value::Number(9.0))]),
            )
            .unwrap();
        assert_eq!(o.job.attempts, 6);
        assert_eq!(o.job.timeout_ms, Some(2000));
        assert!(o.rate.is_some());
        let other = d.queue_options("webhooks", &code(&[("retries", Value::Number(1.0))])).unwrap();
        assert_eq!((other.job.attempts, other.rate.is_none()), (2, true));
        assert_eq!(d.worker_options(&code(&[])).unwrap().concurrency, 10);
        assert_eq!(d.worker_options(&code(&[("concurrency", Value::Number(2.0))])).unwrap().concurrency, 2);
        assert_eq!(d.schedules().unwrap()[0].name(), "jobs/hourly-cleanup");
        assert_eq!(Deployed::parse("{}").unwrap(), Deployed::default());
    }

    #[test]
    fn a_wrong_entry_names_the_variable_the_entry_and_the_rule() {
        let m = |json: &str| Deployed::parse(json).unwrap_err().message().to_string();
        let e = m(r#"{"queues":[{"name":"emails","rateLimit":"lots"}]}"#);
        assert!(e.contains("OMNITRON_QUEUES: queues[0]") && e.contains("rateLimit"), "{e}");
        let e = m(r#"{"queues":[{"name":"emails","colour":"red"}]}"#);
        assert!(e.contains("colour"), "{e}");
        let e = m(r#"{"cronJobs":[{"pattern":"61 * * * *","handler":"x"}]}"#);
        assert!(e.contains("cronJobs[0].pattern"), "{e}");
        let e = m(r#"{"concurrency":0}"#);
        assert!(e.contains("concurrency: must be at least 1"), "{e}");
        let e = m(r#"{"concurency":3}"#);
        assert!(e.starts_with("OMNITRON_QUEUES: unknown field `concurency`"), "{e}");
        assert_eq!(Deployed::parse("[").unwrap_err().code(), ErrorCode::InvalidConfig);
    }
}
