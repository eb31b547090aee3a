//! The journal: every state change of every run, written before it takes effect.
//!
//! A run is the fold of its entries ([`RunInfo::apply`](super::RunInfo::apply)). The engine
//! appends entries and waits until they are durable before acting on them; after a restart it
//! reads back the unfinished runs. Two journals ship: [`SqliteJournal`] (one file, the default
//! for durable runs) and [`MemoryJournal`] (tests, ephemeral runs). Another store (PostgreSQL)
//! implements [`Journal`].

mod memory;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use memory::MemoryJournal;
#[cfg(feature = "sqlite")]
pub use sqlite::{SCHEMA_VERSION, SqliteJournal, SqliteOptions, Synchronous};

use super::definition::BoxFuture;
use super::run::{ErrorRecord, RunFilter, RunState, RunSummary};
use crate::error::Result;

/// A state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A run was created (always its first entry).
    RunCreated {
        /// The workflow's name.
        workflow: String,
        /// The run's input.
        input: Value,
        /// The workflow's stages at that time, in definition order.
        stages: Vec<String>,
        /// The run's trace context (a W3C traceparent), when tracing was on: an engine that takes
        /// the run up links its own trace to it. Absent in journals written before.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<String>,
    },
    /// The run moved to another state (with why, for failures).
    RunState {
        /// The new state.
        state: RunState,
        /// The error (when failing or failed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorRecord>,
    },
    /// A new attempt of the whole run begins after a failure.
    RunRetry {
        /// Its number (2 for the first retry).
        attempt: u32,
        /// What the previous attempt failed with.
        error: ErrorRecord,
    },
    /// A stage attempt begins.
    StageStarted {
        /// The stage.
        stage: String,
        /// The attempt's number over the run's life.
        attempt: u32,
    },
    /// A stage completed.
    StageCompleted {
        /// The stage.
        stage: String,
        /// The attempt that succeeded.
        attempt: u32,
        /// Its output.
        output: Value,
    },
    /// A stage attempt failed.
    StageFailed {
        /// The stage.
        stage: String,
        /// The attempt.
        attempt: u32,
        /// Why.
        error: ErrorRecord,
        /// Whether it was the stage's last attempt (the stage failed for good).
        last: bool,
    },
    /// A compensation attempt begins.
    CompensationStarted {
        /// The stage it undoes.
        stage: String,
        /// The attempt.
        attempt: u32,
    },
    /// A compensation succeeded.
    CompensationCompleted {
        /// The stage it undid.
        stage: String,
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// A compensation attempt failed.
    CompensationFailed {
        /// The stage.
        stage: String,
        /// The attempt.
        attempt: u32,
        /// Why.
        error: ErrorRecord,
        /// Whether it was the last attempt.
        last: bool,
    },
}

impl Event {
    /// The snake_case name of the event (the `kind` column).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunCreated { .. } => "run_created",
            Event::RunState { .. } => "run_state",
            Event::RunRetry { .. } => "run_retry",
            Event::StageStarted { .. } => "stage_started",
            Event::StageCompleted { .. } => "stage_completed",
            Event::StageFailed { .. } => "stage_failed",
            Event::CompensationStarted { .. } => "compensation_started",
            Event::CompensationCompleted { .. } => "compensation_completed",
            Event::CompensationFailed { .. } => "compensation_failed",
        }
    }

    /// The stage it is about, if any.
    pub fn stage(&self) -> Option<&str> {
        match self {
            Event::StageStarted { stage, .. }
            | Event::StageCompleted { stage, .. }
            | Event::StageFailed { stage, .. }
            | Event::CompensationStarted { stage, .. }
            | Event::CompensationCompleted { stage, .. }
            | Event::CompensationFailed { stage, .. } => Some(stage),
            _ => None,
        }
    }
}

/// One journaled state change of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The run.
    pub run_id: Arc<str>,
    /// Its position in the run's history (from 1, no two alike).
    pub seq: u64,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// What changed.
    pub event: Event,
}

/// Where runs are kept. Implementations must make `append` durable (as far as they promise)
/// before its future resolves, keep entries of one run apart from others', and be usable from
/// many tasks at once.
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// Stores entries (of one or several runs) atomically.
    fn append(&self, entries: Arc<[Entry]>) -> BoxFuture<'static, Result<()>>;

    /// Every entry of one run, `None` if the run is unknown.
    fn load_run(&self, run_id: &str) -> BoxFuture<'static, Result<Option<Vec<Entry>>>>;

    /// The entries of every run not in a final state, one `Vec` per run.
    fn unfinished(&self) -> BoxFuture<'static, Result<Vec<Vec<Entry>>>>;

    /// Summaries of runs, oldest first.
    fn list(&self, filter: &RunFilter) -> BoxFuture<'static, Result<Vec<RunSummary>>>;
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    crate::time::now_ms()
}

/// Whether a summary passes a filter.
pub(crate) fn matches(filter: &RunFilter, s: &RunSummary) -> bool {
    filter.workflow.as_deref().is_none_or(|w| w == s.workflow) && filter.state.is_none_or(|st| st == s.state)
}
