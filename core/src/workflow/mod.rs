//! Durable saga workflows with compensation.
//!
//! A [`Workflow`] is a graph of [`Stage`]s: each names the stages it depends on, and a stage runs
//! once all of them have completed, concurrently with the other stages that are ready. A stage gets
//! the workflow's input (no dependencies), its dependency's output (one), or a map from dependency
//! name to output (several); the run's result is the map from stage name to output. Stages have a
//! timeout, retries with backoff ([`RetryOptions`](crate::resilience::RetryOptions)) and an
//! optional compensation. When a stage fails for good, every completed stage is compensated, last
//! completed first; a compensation that still fails is not swallowed: the run ends in
//! [`RunState::CompensationFailed`] with every error kept.
//!
//! Every state change is written to a [`Journal`] before it takes effect ([`SqliteJournal`]: one
//! file, WAL, group commit on a dedicated thread; [`MemoryJournal`]). After a crash a new
//! [`Engine`] on the same journal calls [`Engine::recover`]: by the workflow's
//! [`RecoveryPolicy`] unfinished runs are resumed (completed stages are not run again; a stage in
//! flight runs again with the same [`idempotency key`](StageContext::idempotency_key)) or
//! compensated.
//!
//! Stage values are JSON ([`serde_json::Value`]): they are journaled as is, and the bindings
//! translate their languages' values to and from JSON. Bindings give stages as boxed closures
//! ([`StageFn`], [`CompensateFn`], [`Stage::from_fn`]). See `docs/WORKFLOWS.md`.

mod context;
mod definition;
mod engine;
mod exec;
pub mod journal;
mod metrics;
mod options;
mod run;
#[cfg(feature = "rpc")]
mod status;
mod trace;

pub use context::StageContext;
pub use definition::{
    BoxFuture, CompensateFn, Dependencies, RecoveryPolicy, Stage, StageFn, StageResult, Workflow,
    WorkflowBuilder, compensate_fn, stage_fn,
};
pub use engine::{Engine, MAX_RUN_ID_LEN, Recovery, RunHandle, UnrecoveredRun};
pub use journal::{Entry, Event, Journal, MemoryJournal};
#[cfg(feature = "sqlite")]
pub use journal::{SqliteJournal, SqliteOptions, Synchronous};
pub use options::{StepKind, StepOptions};
pub use run::{AttemptError, ErrorRecord, RunFilter, RunInfo, RunState, RunSummary, StageInfo, StageState};
