//! What a queue holds: jobs to add, jobs handed to a worker, their outcomes and what a reader sees.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// How long to wait before attempt `n + 1` of a job whose attempt `n` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Backoff {
    /// The same delay every time.
    Fixed {
        /// Milliseconds.
        delay_ms: u64,
    },
    /// `delay_ms * 2^(n - 1)`, at most `max_ms`.
    Exponential {
        /// Milliseconds before the second attempt.
        delay_ms: u64,
        /// The longest delay.
        max_ms: u64,
    },
}

impl Default for Backoff {
    /// Exponential from 1 s, at most 1 h.
    fn default() -> Self {
        Backoff::Exponential { delay_ms: 1_000, max_ms: 3_600_000 }
    }
}

impl Backoff {
    /// The delay after failed attempt `attempt` (1-based), with equal jitter (half fixed, half
    /// random) so that jobs failing together do not retry together.
    pub fn delay_ms(&self, attempt: u32, jitter: bool) -> u64 {
        let d = match *self {
            Backoff::Fixed { delay_ms } => delay_ms,
            Backoff::Exponential { delay_ms, max_ms } => {
                let shift = attempt.saturating_sub(1).min(40);
                delay_ms.saturating_mul(1u64 << shift).min(max_ms)
            }
        };
        if jitter && d > 1 { d / 2 + fastrand::u64(0..=d / 2) } else { d }
    }
}

/// Jobs added together carry the same options text: a store reading many of them (a claim, a
/// finish) parses it once.
#[derive(Default)]
pub(crate) struct OptionsCache {
    last: Option<(Box<[u8]>, JobOptions)>,
}

impl OptionsCache {
    /// The options `text` holds; options written by a newer build, unreadable here, read as the
    /// defaults.
    pub(crate) fn read(&mut self, text: &[u8]) -> JobOptions {
        if let Some((t, o)) = &self.last
            && **t == *text
        {
            return o.clone();
        }
        let o: JobOptions = serde_json::from_slice(text).unwrap_or_default();
        self.last = Some((text.into(), o.clone()));
        o
    }
}

/// A job's own options: they travel with it, so a worker in any language applies the same rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOptions {
    /// Attempts in all, the first included (at least 1).
    pub attempts: u32,
    /// The delay between attempts.
    pub backoff: Backoff,
    /// Random spread of the backoff (on by default).
    pub jitter: bool,
    /// The longest one attempt may run, in milliseconds (none: no limit).
    pub timeout_ms: Option<u64>,
    /// How long a completed job (and its result) is kept, in milliseconds; 0 removes it at once.
    pub keep_completed_ms: u64,
    /// The trace the job was added in (a W3C traceparent): set by `add` from the current context,
    /// and the context its handler runs in (docs/OBSERVABILITY.md, "Queue jobs").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            attempts: 3,
            backoff: Backoff::default(),
            jitter: true,
            timeout_ms: None,
            keep_completed_ms: 3_600_000,
            trace: None,
        }
    }
}

/// A job to add.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Unique in its queue: adding a job whose id the queue already holds (in any state) adds nothing.
    pub id: String,
    /// What kind of job it is (a processor may route on it).
    pub name: String,
    /// The payload, MessagePack (the form every language reads).
    pub data: Bytes,
    /// Lower runs first; 0 (the default) is the highest.
    pub priority: u32,
    /// Not before this time (ms since the Unix epoch); 0: now.
    pub run_at_ms: u64,
    /// Its options.
    pub opts: JobOptions,
}

/// What `add` did with one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// It is in the queue now.
    New,
    /// The queue already held a job with that id; nothing was added.
    Duplicate,
}

/// A job handed to a worker, under a lease.
#[derive(Debug, Clone)]
pub struct Leased {
    /// The job's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its payload.
    pub data: Bytes,
    /// This attempt, from 1.
    pub attempt: u32,
    /// The lease's fencing token: it grows with every hand-out of the job, and a worker presenting
    /// an older one (its lease expired and the job went to another) is refused.
    pub token: u64,
    /// The job's options.
    pub opts: JobOptions,
    /// When it was added (ms since the Unix epoch).
    pub created_ms: u64,
}

/// One failed attempt, kept with the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt, from 1.
    pub attempt: u32,
    /// When it failed (ms since the Unix epoch).
    pub at_ms: u64,
    /// The error's code (`Q006` for a timeout, the handler's own code, or empty).
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// How an attempt ended, as the worker reports it.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Done; the result (MessagePack) is kept for the job's `keep_completed_ms`.
    Completed(Bytes),
    /// Failed; run again at `at_ms`.
    Retry(AttemptError, u64),
    /// Failed for the last time: to the dead-letter queue.
    Dead(AttemptError),
    /// Not run (the worker is closing): back to the front of the queue, the attempt not counted.
    Release,
}

/// An outcome for one leased job.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The job.
    pub id: String,
    /// The token it was leased with.
    pub token: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// What the store did with one [`Finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishAck {
    /// Recorded.
    Done,
    /// The lease had expired and the job went back to the queue (or to another worker): the
    /// outcome was dropped; the job runs again.
    LeaseLost,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Ready to run.
    Waiting,
    /// Waiting for its time (a delayed add, or a retry's backoff).
    Delayed,
    /// Leased by a worker.
    Active,
    /// Done (kept for its `keep_completed_ms`).
    Completed,
    /// Failed every attempt, or its worker was lost too often: in the dead-letter queue.
    Dead,
}

impl JobState {
    /// The lowercase name (`waiting`, `delayed`, `active`, `completed`, `dead`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Delayed => "delayed",
            JobState::Active => "active",
            JobState::Completed => "completed",
            JobState::Dead => "dead",
        }
    }
}

/// A job as a reader sees it.
#[derive(Debug, Clone)]
pub struct JobInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its payload.
    pub data: Bytes,
    /// Where it is.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: u32,
    /// Every failed attempt's error, oldest first.
    pub errors: Vec<AttemptError>,
    /// The last progress it reported (MessagePack).
    pub progress: Option<Bytes>,
    /// Its result, once completed.
    pub result: Option<Bytes>,
    /// Its options.
    pub opts: JobOptions,
    /// Its priority.
    pub priority: u32,
    /// When it was added.
    pub created_ms: u64,
    /// When it completed or died.
    pub finished_ms: Option<u64>,
}

/// How many jobs a queue holds in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Ready to run.
    pub waiting: u64,
    /// Waiting for their time.
    pub delayed: u64,
    /// Leased by workers.
    pub active: u64,
    /// Completed and still kept.
    pub completed: u64,
    /// In the dead-letter queue.
    pub dead: u64,
    /// The queue is paused.
    pub paused: bool,
}

/// A job whose worker was lost (its lease expired), as the reaper dealt with it.
#[derive(Debug, Clone)]
pub struct Stalled {
    /// The job.
    pub id: String,
    /// Back in the queue (`false`: it stalled too often and went to the dead-letter queue).
    pub requeued: bool,
}

/// A fresh job id: milliseconds then randomness, so ids sort roughly by creation and two
/// processes never make the same one.
pub fn new_job_id() -> String {
    let ms = crate::time::now_ms();
    format!("{ms:012x}{:016x}", fastrand::u64(..))
}
