//! Driving one run: launching stages whose dependencies are done, retries, the workflow's
//! timeout and retries, cancellation, and compensation in reverse order of completion. Every state
//! change goes through [`Exec::commit`]: journaled first, applied after.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::context::{StageContext, compensation_key, stage_key};
use super::definition::Definition;
use super::engine::Inner;
use super::journal::{Entry, Event, now_ms};
use super::metrics::WorkflowMetrics;
use super::run::{ErrorRecord, RunInfo, RunState, StageState};
use super::trace::{self, RunTrace};
use crate::error::{BoxError, Error, ErrorCode, Result};

/// What a run ends with for its caller.
pub(crate) type RunOutcome = std::result::Result<Map<String, Value>, Error>;

/// A registered workflow.
#[derive(Debug)]
pub(crate) struct Registered {
    pub(crate) def: Arc<Definition>,
    pub(crate) name: Arc<str>,
    pub(crate) metrics: WorkflowMetrics,
}

/// A run this engine knows in memory (running, or loaded from the journal).
#[derive(Debug)]
pub(crate) struct RunEntry {
    pub(crate) id: Arc<str>,
    pub(crate) workflow: Arc<str>,
    pub(crate) input: Arc<Value>,
    pub(crate) info: Mutex<RunInfo>,
    pub(crate) done: watch::Sender<Option<RunOutcome>>,
    pub(crate) cancel: CancellationToken,
    /// Its span while it runs here.
    pub(crate) trace: RunTrace,
}

impl RunEntry {
    pub(crate) fn new(info: RunInfo) -> Arc<RunEntry> {
        RunEntry::traced(info, RunTrace::default())
    }

    /// A run with its span in this engine.
    pub(crate) fn traced(info: RunInfo, trace: RunTrace) -> Arc<RunEntry> {
        let outcome = info.outcome();
        Arc::new(RunEntry {
            id: info.run_id.as_str().into(),
            workflow: info.workflow.as_str().into(),
            input: Arc::new(info.input.clone()),
            info: Mutex::new(info),
            done: watch::Sender::new(outcome),
            cancel: CancellationToken::new(),
            trace,
        })
    }
}

/// How a driver begins.
#[derive(Debug)]
pub(crate) enum Mode {
    /// A new run whose first stages were journaled as started (the indices).
    Fresh(Vec<usize>),
    /// Carry on from the journaled state (recovery with `resume`, or a run already compensating).
    Resume,
    /// Compensate now, for this reason.
    Compensate(ErrorRecord),
}

enum StageDone {
    Ok { output: Value, attempt: u32 },
    Failed { last: ErrorRecord, attempt: u32, tries: u32, timed_out: bool },
    Journal(Error),
}

enum AttemptEnd {
    Completed,
    Failed(ErrorRecord),
    Cancelled,
}

/// The record of an error from user code: an engine error keeps its code, anything else is `E004`.
pub(crate) fn record_of(e: BoxError) -> ErrorRecord {
    match e.downcast::<Error>() {
        Ok(e) => ErrorRecord::from_error(&e),
        Err(e) => ErrorRecord {
            code: ErrorCode::CallbackFailed.as_str().into(),
            message: e.to_string(),
            related: Vec::new(),
        },
    }
}

pub(crate) fn record(code: ErrorCode, message: String) -> ErrorRecord {
    ErrorRecord { code: code.as_str().into(), message, related: Vec::new() }
}

#[derive(Clone)]
pub(crate) struct Exec {
    pub(crate) engine: Arc<Inner>,
    pub(crate) wf: Arc<Registered>,
    pub(crate) run: Arc<RunEntry>,
}

impl Exec {
    fn def(&self) -> &Definition {
        &self.wf.def
    }

    /// Journals `events`, then applies them to the run.
    pub(crate) async fn commit(&self, events: Vec<Event>) -> Result<()> {
        let entries: Arc<[Entry]> = {
            let mut info = self.run.info.lock();
            let at = now_ms();
            events
                .into_iter()
                .map(|event| {
                    info.last_seq += 1;
                    Entry { run_id: self.run.id.clone(), seq: info.last_seq, at_ms: at, event }
                })
                .collect()
        };
        self.engine.journal.append(entries.clone()).await?;
        let mut info = self.run.info.lock();
        for e in entries.iter() {
            info.apply(e);
        }
        Ok(())
    }

    fn cancel_record(&self) -> ErrorRecord {
        record(
            ErrorCode::RunCancelled,
            format!("run '{}' of workflow '{}' was cancelled", self.run.id, self.run.workflow),
        )
    }

    /// Runs the run to its end and tells the waiters.
    pub(crate) async fn drive(self, mode: Mode) {
        let outcome = match self.drive_inner(mode).await {
            Ok(o) => o,
            Err(e) => Err(e.context(format!(
                "run '{}' of workflow '{}' stopped because its journal failed; it stays unfinished in the journal and `recover()` picks it up",
                self.run.id, self.run.workflow
            ))),
        };
        let (state, error) = {
            let info = self.run.info.lock();
            (info.state, info.error.clone())
        };
        self.run.trace.end(state, error.as_ref());
        if state.is_final()
            && let Some(c) = self.wf.metrics.runs.get(&state)
        {
            c.inc();
        }
        self.engine.active.lock().remove(&self.run.id);
        self.run.done.send_replace(Some(outcome));
    }

    async fn drive_inner(&self, mode: Mode) -> Result<RunOutcome> {
        let cause = match mode {
            Mode::Compensate(cause) => cause,
            Mode::Fresh(launched) => match self.execute(Some(launched)).await? {
                Ok(map) => return Ok(Ok(map)),
                Err(cause) => cause,
            },
            Mode::Resume => {
                let (state, error) = {
                    let info = self.run.info.lock();
                    (info.state, info.error.clone())
                };
                if state == RunState::Compensating {
                    error.unwrap_or_else(|| {
                        record(ErrorCode::RunInterrupted, format!("run '{}' was interrupted", self.run.id))
                    })
                } else {
                    if state == RunState::Pending {
                        self.commit(vec![Event::RunState { state: RunState::Running, error: None }]).await?;
                    }
                    match self.execute(None).await? {
                        Ok(map) => return Ok(Ok(map)),
                        Err(cause) => cause,
                    }
                }
            }
        };
        self.compensate(cause).await
    }

    /// Attempts of the whole run. `Ok(Err(cause))` when it must be compensated.
    async fn execute(
        &self,
        mut launched: Option<Vec<usize>>,
    ) -> Result<std::result::Result<Map<String, Value>, ErrorRecord>> {
        let policy = self.def().retries.clone();
        let mut local = 1u32;
        loop {
            match self.attempt(launched.take()).await? {
                AttemptEnd::Completed => return Ok(Ok(self.run.info.lock().outputs())),
                AttemptEnd::Cancelled => return Ok(Err(self.cancel_record())),
                AttemptEnd::Failed(cause) => {
                    if local >= policy.max_attempts {
                        return Ok(Err(cause));
                    }
                    let delay = policy.delay(local);
                    local += 1;
                    let next = self.run.info.lock().attempts + 1;
                    self.commit(vec![Event::RunRetry { attempt: next, error: cause }]).await?;
                    tokio::select! {
                        biased;
                        _ = self.run.cancel.cancelled() => return Ok(Err(self.cancel_record())),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Stages that can start: not running, not completed, every dependency completed (`also` counts
    /// as completed).
    fn ready(&self, running: &[bool], also: Option<usize>) -> Vec<usize> {
        let info = self.run.info.lock();
        let done = |j: usize| Some(j) == also || info.stages[j].state == StageState::Completed;
        (0..running.len())
            .filter(|&i| !running[i] && !done(i) && self.def().deps[i].iter().all(|&d| done(d)))
            .collect()
    }

    fn started(&self, i: usize) -> Event {
        let attempt = self.run.info.lock().stages[i].attempts + 1;
        Event::StageStarted { stage: self.def().stages[i].name.clone(), attempt }
    }

    fn all_completed(&self, also: Option<usize>) -> bool {
        let info = self.run.info.lock();
        info.stages.iter().enumerate().all(|(i, s)| Some(i) == also || s.state == StageState::Completed)
    }

    /// One attempt of the whole run.
    async fn attempt(&self, launched: Option<Vec<usize>>) -> Result<AttemptEnd> {
        let n = self.def().stages.len();
        let mut running = vec![false; n];
        let launched = match launched {
            Some(l) => l,
            None => {
                let ready = self.ready(&running, None);
                let events = ready.iter().map(|&i| self.started(i)).collect::<Vec<_>>();
                if !events.is_empty() {
                    self.commit(events).await?;
                }
                ready
            }
        };
        if launched.is_empty() {
            if self.all_completed(None) {
                self.commit(vec![Event::RunState { state: RunState::Completed, error: None }]).await?;
                return Ok(AttemptEnd::Completed);
            }
            return Ok(AttemptEnd::Failed(record(
                ErrorCode::Internal,
                format!("run '{}': no stage can start although some are not completed", self.run.id),
            )));
        }
        let token = self.run.cancel.child_token();
        let _stop = token.clone().drop_guard();
        let mut set = JoinSet::new();
        let mut ids = HashMap::new();
        for i in launched {
            running[i] = true;
            self.spawn_stage(&mut set, &mut ids, i, &token);
        }
        let deadline = self.def().timeout.map(|t| tokio::time::Instant::now() + t);
        let mut failure: Option<ErrorRecord> = None;
        loop {
            let joined = tokio::select! {
                biased;
                _ = self.run.cancel.cancelled() => {
                    let why = self.cancel_record();
                    self.abandon(&mut set, &running, why).await?;
                    return Ok(AttemptEnd::Cancelled);
                }
                _ = sleep_until(deadline) => {
                    let why = record(
                        ErrorCode::WorkflowTimeout,
                        format!(
                            "run '{}' of workflow '{}' did not finish within its timeout of {:?}; raise the workflow's timeout or make its stages faster",
                            self.run.id, self.run.workflow, self.def().timeout.unwrap_or_default()
                        ),
                    );
                    token.cancel();
                    self.abandon(&mut set, &running, why.clone()).await?;
                    return Ok(AttemptEnd::Failed(why));
                }
                j = set.join_next_with_id() => j,
            };
            let Some(joined) = joined else { break };
            let (i, done) = match joined {
                Ok((_, r)) => r,
                Err(e) => {
                    let i = ids.get(&e.id()).copied().unwrap_or(0);
                    let last = record(ErrorCode::Internal, format!("the stage panicked: {e}"));
                    let attempt = self.run.info.lock().stages[i].attempts;
                    (i, StageDone::Failed { last, attempt, tries: 1, timed_out: false })
                }
            };
            running[i] = false;
            let name = self.def().stages[i].name.clone();
            match done {
                StageDone::Ok { output, attempt } => {
                    let mut events = vec![Event::StageCompleted { stage: name, attempt, output }];
                    let mut next = Vec::new();
                    if failure.is_none() {
                        next = self.ready(&running, Some(i));
                        events.extend(next.iter().map(|&j| self.started(j)));
                        if next.is_empty() && !running.contains(&true) && self.all_completed(Some(i)) {
                            events.push(Event::RunState { state: RunState::Completed, error: None });
                            self.commit(events).await?;
                            return Ok(AttemptEnd::Completed);
                        }
                    }
                    self.commit(events).await?;
                    for j in next {
                        running[j] = true;
                        self.spawn_stage(&mut set, &mut ids, j, &token);
                    }
                }
                StageDone::Failed { last, attempt, tries, timed_out } => {
                    self.commit(vec![Event::StageFailed {
                        stage: name.clone(),
                        attempt,
                        error: last.clone(),
                        last: true,
                    }])
                    .await?;
                    let (code, what) = if timed_out {
                        (ErrorCode::StageTimeout, "timed out")
                    } else {
                        (ErrorCode::StageFailed, "failed")
                    };
                    let cause = ErrorRecord {
                        code: code.as_str().into(),
                        message: format!(
                            "stage '{name}' of workflow '{}' (run '{}') {what} after {tries} attempt(s): {}",
                            self.run.workflow, self.run.id, last.message
                        ),
                        related: vec![last],
                    };
                    failure.get_or_insert(cause);
                }
                StageDone::Journal(e) => return Err(e),
            }
            if !running.contains(&true) {
                break;
            }
        }
        Ok(AttemptEnd::Failed(failure.unwrap_or_else(|| {
            record(ErrorCode::Internal, format!("run '{}': stages stopped without completing", self.run.id))
        })))
    }

    /// Stops the stages in flight and journals them as failed for `why`.
    async fn abandon(
        &self,
        set: &mut JoinSet<(usize, StageDone)>,
        running: &[bool],
        why: ErrorRecord,
    ) -> Result<()> {
        set.abort_all();
        while set.join_next().await.is_some() {}
        let events: Vec<Event> = {
            let info = self.run.info.lock();
            (0..running.len())
                .filter(|&i| running[i])
                .map(|i| Event::StageFailed {
                    stage: self.def().stages[i].name.clone(),
                    attempt: info.stages[i].attempts,
                    error: why.clone(),
                    last: true,
                })
                .collect()
        };
        if events.is_empty() { Ok(()) } else { self.commit(events).await }
    }

    fn input_for(&self, i: usize) -> Value {
        let deps = &self.def().deps[i];
        let info = self.run.info.lock();
        match deps.as_slice() {
            [] => (*self.run.input).clone(),
            [d] => info.stages[*d].output.clone().unwrap_or(Value::Null),
            many => Value::Object(
                many.iter()
                    .map(|&d| {
                        (info.stages[d].name.clone(), info.stages[d].output.clone().unwrap_or(Value::Null))
                    })
                    .collect(),
            ),
        }
    }

    fn spawn_stage(
        &self,
        set: &mut JoinSet<(usize, StageDone)>,
        ids: &mut HashMap<tokio::task::Id, usize>,
        i: usize,
        token: &CancellationToken,
    ) {
        let exec = self.clone();
        let input = self.input_for(i);
        let attempt = self.run.info.lock().stages[i].attempts;
        let token = token.clone();
        let handle = set.spawn(async move { (i, exec.run_stage(i, input, attempt, token).await) });
        ids.insert(handle.id(), i);
    }

    /// A stage's attempts (the first one already journaled as started).
    async fn run_stage(
        &self,
        i: usize,
        input: Value,
        mut attempt: u32,
        token: CancellationToken,
    ) -> StageDone {
        let stage = &self.def().stages[i];
        let m = &self.wf.metrics.stages[i];
        let key: Arc<str> = stage_key(&self.run.id, &stage.name).into();
        let name: Arc<str> = stage.name.as_str().into();
        let mut tries = 1u32;
        loop {
            let (span, attempt_trace) = trace::attempt(&self.run.trace, &stage.name, attempt, false, &key);
            let ctx = StageContext {
                run_id: self.run.id.clone(),
                workflow: self.wf.name.clone(),
                stage: name.clone(),
                attempt,
                idempotency_key: key.clone(),
                input: self.run.input.clone(),
                compensation: false,
                cancel: token.clone(),
                trace: attempt_trace,
            };
            let t0 = std::time::Instant::now();
            let fut = ctx.in_trace((stage.run)(input.clone(), ctx.clone()));
            let (res, timed_out) = match stage.timeout {
                Some(t) => match tokio::time::timeout(t, fut).await {
                    Ok(r) => (r.map_err(record_of), false),
                    Err(_) => (
                        Err(record(
                            ErrorCode::StageTimeout,
                            format!(
                                "the attempt did not finish within {t:?}; raise the stage's timeout or make it faster"
                            ),
                        )),
                        true,
                    ),
                },
                None => (fut.await.map_err(record_of), false),
            };
            m.duration.observe(t0.elapsed().as_secs_f64());
            trace::end_attempt(span, res.as_ref().err());
            let err = match res {
                Ok(output) => {
                    m.ok.inc();
                    return StageDone::Ok { output, attempt };
                }
                Err(e) => e,
            };
            if timed_out {
                m.timeout.inc()
            } else {
                m.failed.inc()
            }
            if tries >= stage.retries.max_attempts {
                return StageDone::Failed { last: err, attempt, tries, timed_out };
            }
            let failed = Event::StageFailed { stage: stage.name.clone(), attempt, error: err, last: false };
            if let Err(e) = self.commit(vec![failed]).await {
                return StageDone::Journal(e);
            }
            tokio::time::sleep(stage.retries.delay(tries)).await;
            tries += 1;
            attempt += 1;
            if let Err(e) =
                self.commit(vec![Event::StageStarted { stage: stage.name.clone(), attempt }]).await
            {
                return StageDone::Journal(e);
            }
        }
    }

    /// Compensates every completed stage, last completed first, and ends the run.
    async fn compensate(&self, cause: ErrorRecord) -> Result<RunOutcome> {
        if self.run.info.lock().state != RunState::Compensating {
            self.commit(vec![Event::RunState { state: RunState::Compensating, error: Some(cause.clone()) }])
                .await?;
        }
        let order: Vec<usize> = {
            let info = self.run.info.lock();
            let mut done: Vec<(u64, usize)> = info
                .stages
                .iter()
                .enumerate()
                .filter(|(_, s)| matches!(s.state, StageState::Completed | StageState::Compensating))
                .filter_map(|(i, s)| Some((s.completed_seq?, i)))
                .collect();
            done.sort_unstable_by(|a, b| b.cmp(a));
            done.into_iter().map(|(_, i)| i).collect()
        };
        for i in order {
            let stage = &self.def().stages[i];
            let Some(f) = stage.compensate.clone() else { continue };
            let m = &self.wf.metrics.stages[i];
            let key: Arc<str> = compensation_key(&self.run.id, &stage.name).into();
            let mut tries = 1u32;
            loop {
                let (attempt, output) = {
                    let info = self.run.info.lock();
                    (
                        info.stages[i].compensation_attempts + 1,
                        info.stages[i].output.clone().unwrap_or(Value::Null),
                    )
                };
                self.commit(vec![Event::CompensationStarted { stage: stage.name.clone(), attempt }]).await?;
                let (span, attempt_trace) = trace::attempt(&self.run.trace, &stage.name, attempt, true, &key);
                let ctx = StageContext {
                    run_id: self.run.id.clone(),
                    workflow: self.wf.name.clone(),
                    stage: stage.name.as_str().into(),
                    attempt,
                    idempotency_key: key.clone(),
                    input: self.run.input.clone(),
                    compensation: true,
                    cancel: CancellationToken::new(),
                    trace: attempt_trace,
                };
                // Its own task, so a panicking compensation is an error like any other.
                let joined = tokio::spawn(ctx.in_trace(f(output, ctx.clone()))).await;
                let result = joined.unwrap_or_else(|e| {
                    Err(Box::new(Error::new(ErrorCode::Internal, format!("the compensation panicked: {e}")))
                        as BoxError)
                });
                let failure = result.as_ref().err().map(|e| record(ErrorCode::CallbackFailed, e.to_string()));
                trace::end_attempt(span, failure.as_ref());
                match result {
                    Ok(()) => {
                        self.commit(vec![Event::CompensationCompleted {
                            stage: stage.name.clone(),
                            attempt,
                        }])
                        .await?;
                        m.compensated.inc();
                        break;
                    }
                    Err(e) => {
                        let last = tries >= stage.compensation_retries.max_attempts;
                        let error = record_of(e);
                        self.commit(vec![Event::CompensationFailed {
                            stage: stage.name.clone(),
                            attempt,
                            error,
                            last,
                        }])
                        .await?;
                        if last {
                            m.compensation_failed.inc();
                            break;
                        }
                        tokio::time::sleep(stage.compensation_retries.delay(tries)).await;
                        tries += 1;
                    }
                }
            }
        }
        let (state, error) = {
            let info = self.run.info.lock();
            let failed: Vec<(String, ErrorRecord)> = info
                .stages
                .iter()
                .filter(|s| s.state == StageState::CompensationFailed)
                .filter_map(|s| Some((s.name.clone(), s.compensation_errors.last()?.error.clone())))
                .collect();
            let mut done: Vec<(u64, String)> = info
                .stages
                .iter()
                .filter(|s| s.state == StageState::Compensated)
                .filter_map(|s| Some((s.completed_seq?, s.name.clone())))
                .collect();
            done.sort_unstable_by_key(|d| std::cmp::Reverse(d.0));
            let done: Vec<String> = done.into_iter().map(|(_, n)| format!("'{n}'")).collect();
            let undone = if done.is_empty() {
                "nothing needed compensating".to_string()
            } else {
                format!("compensated {}", done.join(", "))
            };
            if failed.is_empty() {
                let state = if cause.code == ErrorCode::RunCancelled.as_str() {
                    RunState::Cancelled
                } else {
                    RunState::Compensated
                };
                let mut e = cause.clone();
                e.message = format!("{}; {undone}", e.message);
                (state, e)
            } else {
                let list: Vec<String> =
                    failed.iter().map(|(n, e)| format!("'{n}' ({})", e.message)).collect();
                let mut related = vec![cause.clone()];
                related.extend(failed.iter().map(|(n, e)| {
                    let mut e = e.clone();
                    e.message = format!("compensation of stage '{n}': {}", e.message);
                    e
                }));
                let e = ErrorRecord {
                    code: ErrorCode::CompensationFailed.as_str().into(),
                    message: format!(
                        "{}; then {} compensation(s) failed on every attempt: {}; {undone}. The run is left in compensation_failed: undo those stages by hand (their outputs are in the run's info) or give their compensations more retries",
                        cause.message,
                        failed.len(),
                        list.join(", ")
                    ),
                    related,
                };
                (RunState::CompensationFailed, e)
            }
        };
        self.commit(vec![Event::RunState { state, error: Some(error.clone()) }]).await?;
        Ok(Err(error.to_error()))
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
