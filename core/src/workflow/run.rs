//! Runs as callers see them: states, per-stage detail, errors. A run's state is the fold of its
//! journal entries ([`RunInfo::apply`]), the same live and after a restart.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::journal::{Entry, Event};
use crate::error::{Error, ErrorCode};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Created and journaled, not started yet.
    Pending,
    /// Stages are running.
    Running,
    /// A stage failed for good (or the run was cancelled or interrupted): compensations are
    /// running.
    Compensating,
    /// Every stage completed. Final.
    Completed,
    /// A stage failed for good and every compensation succeeded. Final.
    Compensated,
    /// A stage failed (or the run was cancelled) and at least one compensation failed on every
    /// attempt. Final.
    CompensationFailed,
    /// Cancelled by the caller; completed stages were compensated. Final.
    Cancelled,
}

impl RunState {
    /// Every state.
    pub const ALL: [RunState; 7] = [
        RunState::Pending,
        RunState::Running,
        RunState::Compensating,
        RunState::Completed,
        RunState::Compensated,
        RunState::CompensationFailed,
        RunState::Cancelled,
    ];

    /// `pending`, `running`, `compensating`, `completed`, `compensated`, `compensation_failed` or
    /// `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Compensating => "compensating",
            RunState::Completed => "completed",
            RunState::Compensated => "compensated",
            RunState::CompensationFailed => "compensation_failed",
            RunState::Cancelled => "cancelled",
        }
    }

    /// Whether the run is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Completed | RunState::Compensated | RunState::CompensationFailed | RunState::Cancelled
        )
    }

    /// The state named `s` (as [`RunState::as_str`] spells it).
    pub fn parse(s: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::str::FromStr for RunState {
    type Err = crate::Error;

    /// The state named `s`, or E001 listing the states.
    fn from_str(s: &str) -> crate::Result<RunState> {
        RunState::parse(s).ok_or_else(|| {
            crate::Error::invalid_argument(format!(
                "unknown run state '{s}': use one of {}",
                RunState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a stage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    /// Not started.
    Pending,
    /// An attempt is running (or waiting for its retry delay).
    Running,
    /// Done; its output is kept.
    Completed,
    /// Failed on its last attempt, or abandoned (run cancelled or timed out).
    Failed,
    /// Its compensation is running.
    Compensating,
    /// Its compensation succeeded.
    Compensated,
    /// Its compensation failed on every attempt.
    CompensationFailed,
}

impl StageState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            StageState::Pending => "pending",
            StageState::Running => "running",
            StageState::Completed => "completed",
            StageState::Failed => "failed",
            StageState::Compensating => "compensating",
            StageState::Compensated => "compensated",
            StageState::CompensationFailed => "compensation_failed",
        }
    }
}

impl fmt::Display for StageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the journal keeps it: the code's string id, the message, and the errors it
/// aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The code's string id (`WF007`, `E004`, ...).
    pub code: String,
    /// The message, without the code.
    pub message: String,
    /// Aggregated errors (for a run: the stage's error, then failed compensations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<ErrorRecord>,
}

impl ErrorRecord {
    /// The record of an engine error.
    pub fn from_error(e: &Error) -> Self {
        ErrorRecord {
            code: e.code().as_str().to_string(),
            message: e.message().to_string(),
            related: e.related().iter().map(ErrorRecord::from_error).collect(),
        }
    }

    /// Back to an engine error (an unknown code becomes `E004`, callback failed).
    pub fn to_error(&self) -> Error {
        let code = ErrorCode::from_id(&self.code).unwrap_or(ErrorCode::CallbackFailed);
        Error::new(code, self.message.clone())
            .with_related(self.related.iter().map(|r| r.to_error()).collect())
    }
}

impl fmt::Display for ErrorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

/// One failed attempt of a stage or a compensation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt's number.
    pub attempt: u32,
    /// When it failed (ms since the Unix epoch).
    pub at_ms: u64,
    /// What it failed with.
    pub error: ErrorRecord,
}

/// A stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageInfo {
    /// Its name.
    pub name: String,
    /// Where it is.
    pub state: StageState,
    /// Attempts started.
    pub attempts: u32,
    /// Its output, once completed.
    pub output: Option<Value>,
    /// Every failed attempt.
    pub errors: Vec<AttemptError>,
    /// When its first attempt started (ms since the Unix epoch).
    pub started_at_ms: Option<u64>,
    /// When it completed or failed for good.
    pub finished_at_ms: Option<u64>,
    /// Compensation attempts started.
    pub compensation_attempts: u32,
    /// Every failed compensation attempt.
    pub compensation_errors: Vec<AttemptError>,
    /// Position in the run's completion order (the journal sequence number of its completion).
    pub completed_seq: Option<u64>,
}

impl StageInfo {
    fn new(name: String) -> Self {
        StageInfo {
            name,
            state: StageState::Pending,
            attempts: 0,
            output: None,
            errors: Vec::new(),
            started_at_ms: None,
            finished_at_ms: None,
            compensation_attempts: 0,
            compensation_errors: Vec::new(),
            completed_seq: None,
        }
    }

    /// Milliseconds from its first start to its end, once ended.
    pub fn duration_ms(&self) -> Option<u64> {
        Some(self.finished_at_ms?.saturating_sub(self.started_at_ms?))
    }
}

/// A run: its state, input, stages and error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Its id.
    pub run_id: String,
    /// Its workflow's name.
    pub workflow: String,
    /// Where it is.
    pub state: RunState,
    /// Its input.
    pub input: Value,
    /// Attempts of the whole run (workflow-level retries).
    pub attempts: u32,
    /// Every stage, in definition order.
    pub stages: Vec<StageInfo>,
    /// Why it failed (or is compensating): for a final failed state the error the caller gets.
    pub error: Option<ErrorRecord>,
    /// When it was created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// When its state last changed.
    pub updated_at_ms: u64,
    /// When it ended.
    pub finished_at_ms: Option<u64>,
    /// The sequence number of its last journal entry.
    pub last_seq: u64,
    /// The run's trace context (a W3C traceparent) when tracing was on as it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// A line of [`Engine::list`](super::Engine::list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Its id.
    pub run_id: String,
    /// Its workflow.
    pub workflow: String,
    /// Where it is.
    pub state: RunState,
    /// When it was created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// When its state last changed.
    pub updated_at_ms: u64,
}

/// Which runs [`Engine::list`](super::Engine::list) returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    /// Only this workflow's runs.
    pub workflow: Option<String>,
    /// Only runs in this state.
    pub state: Option<RunState>,
    /// At most this many (oldest first).
    pub limit: Option<usize>,
}

impl RunInfo {
    /// The run created by a `RunCreated` entry.
    pub(crate) fn created(entry: &Entry) -> Option<RunInfo> {
        let Event::RunCreated { workflow, input, stages, trace } = &entry.event else { return None };
        Some(RunInfo {
            run_id: entry.run_id.to_string(),
            workflow: workflow.clone(),
            state: RunState::Pending,
            input: input.clone(),
            attempts: 1,
            stages: stages.iter().cloned().map(StageInfo::new).collect(),
            error: None,
            created_at_ms: entry.at_ms,
            updated_at_ms: entry.at_ms,
            finished_at_ms: None,
            last_seq: entry.seq,
            trace: trace.clone(),
        })
    }

    /// Folds a run's entries (in any order: they are sorted by sequence number). `None` when the
    /// first is not a `RunCreated`.
    pub fn from_entries(mut entries: Vec<Entry>) -> Option<RunInfo> {
        entries.sort_by_key(|e| e.seq);
        let mut it = entries.iter();
        let mut info = RunInfo::created(it.next()?)?;
        for e in it {
            info.apply(e);
        }
        Some(info)
    }

    /// A stage by name.
    pub fn stage(&self, name: &str) -> Option<&StageInfo> {
        self.stages.iter().find(|s| s.name == name)
    }

    fn stage_mut(&mut self, name: &str) -> Option<&mut StageInfo> {
        self.stages.iter_mut().find(|s| s.name == name)
    }

    /// Every completed stage's output, by stage name (the run's result once completed).
    pub fn outputs(&self) -> Map<String, Value> {
        self.stages.iter().filter_map(|s| Some((s.name.clone(), s.output.clone()?))).collect()
    }

    /// The summary line.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            run_id: self.run_id.clone(),
            workflow: self.workflow.clone(),
            state: self.state,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        }
    }

    /// What a finished run gives its caller: the outputs, or the error. `None` while unfinished.
    pub fn outcome(&self) -> Option<std::result::Result<Map<String, Value>, Error>> {
        match self.state {
            RunState::Completed => Some(Ok(self.outputs())),
            s if s.is_final() => {
                Some(Err(self.error.as_ref().map(ErrorRecord::to_error).unwrap_or_else(|| {
                    Error::new(
                        ErrorCode::Internal,
                        format!("run '{}' ended {s} without an error", self.run_id),
                    )
                })))
            }
            _ => None,
        }
    }

    /// Applies one journal entry.
    pub fn apply(&mut self, entry: &Entry) {
        self.last_seq = self.last_seq.max(entry.seq);
        let at = entry.at_ms;
        match &entry.event {
            Event::RunCreated { .. } => {}
            Event::RunState { state, error } => {
                self.state = *state;
                self.updated_at_ms = at;
                if error.is_some() {
                    self.error = error.clone();
                }
                if state.is_final() {
                    self.finished_at_ms = Some(at);
                }
            }
            Event::RunRetry { attempt, error } => {
                self.attempts = *attempt;
                self.state = RunState::Running;
                self.updated_at_ms = at;
                self.error = Some(error.clone());
            }
            Event::StageStarted { stage, attempt } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.state = StageState::Running;
                    s.attempts = s.attempts.max(*attempt);
                    s.started_at_ms.get_or_insert(at);
                    s.finished_at_ms = None;
                }
            }
            Event::StageCompleted { stage, output, .. } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.state = StageState::Completed;
                    s.output = Some(output.clone());
                    s.finished_at_ms = Some(at);
                    s.completed_seq = Some(entry.seq);
                }
            }
            Event::StageFailed { stage, attempt, error, last } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.errors.push(AttemptError { attempt: *attempt, at_ms: at, error: error.clone() });
                    if *last {
                        s.state = StageState::Failed;
                        s.finished_at_ms = Some(at);
                    }
                }
            }
            Event::CompensationStarted { stage, attempt } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.state = StageState::Compensating;
                    s.compensation_attempts = s.compensation_attempts.max(*attempt);
                }
            }
            Event::CompensationCompleted { stage, .. } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.state = StageState::Compensated;
                }
            }
            Event::CompensationFailed { stage, attempt, error, last } => {
                if let Some(s) = self.stage_mut(stage) {
                    s.compensation_errors.push(AttemptError {
                        attempt: *attempt,
                        at_ms: at,
                        error: error.clone(),
                    });
                    if *last {
                        s.state = StageState::CompensationFailed;
                    }
                }
            }
        }
    }
}
