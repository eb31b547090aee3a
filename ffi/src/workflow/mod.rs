//! Workflows: durable sagas whose stages and compensations are C callbacks. Stage values cross as
//! JSON text. A definition (`OmnitronWorkflow`) collects stages by name; registering it with an
//! engine (`OmnitronWorkflowEngine`, over a SQLite file or in memory) copies it.
//!
//! Threads: stage and compensation callbacks run on the engine's blocking threads (never on the
//! thread that started the run), several at once when stages run in parallel; completion callbacks
//! of asynchronous starts run on an engine thread. Blocking calls (`omnitron_workflow_run`, `_wait`,
//! `_cancel`, ...) block the calling thread until the engine answers.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::Duration;

use omnitron::dialect::Dialect;
use omnitron::options::{RawOptions, Value as RawValue};
use omnitron::resilience::RetryOptions;
use omnitron::telemetry::with_context;

use crate::telemetry::in_caller_trace;

mod context;
use context::{CtxStrings, cstring, json_cstring};
use omnitron::workflow::{
    CompensateFn, Engine, ErrorRecord, RecoveryPolicy, RunFilter, RunState, Stage, StageContext, StageFn,
    StepKind, StepOptions, Workflow,
};
use omnitron::{BoxError, Error, ErrorCode, runtime};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::boundary::{OmnitronFreeFn, Table, UserData, check_out, guard, guard_out, guard_void, str_arg};
use crate::error::{CallbackStatus, OmnitronStatus, callback_error, clear_callback_message};
use crate::memory::{OmnitronBuffer, give};

/// A workflow definition under construction: add stages, dependencies, timeouts, retries and
/// compensations, then register it with omnitron_workflow_engine_register (which copies it; the
/// definition may be freed or reused right after). Thread-safe (calls are serialized). Its
/// callbacks' user_data is freed when the definition and every engine it was registered with are
/// freed and their runs are over.
#[derive(Debug)]
pub struct OmnitronWorkflow {
    _private: [u8; 0],
}

/// A workflow engine: registered workflows, runs in flight and their journal. Thread-safe: runs may
/// be started, waited for and queried from several threads at once. From inside a stage or
/// compensation, do not wait for (or cancel) the run it belongs to.
#[derive(Debug)]
pub struct OmnitronWorkflowEngine {
    _private: [u8; 0],
}

/// What a stage or compensation callback knows about its run. Every string is NUL-terminated and
/// valid during the callback only, on its thread (copy what you keep).
#[repr(C)]
#[derive(Debug)]
pub struct OmnitronStageContext {
    /// The run's id.
    pub run_id: *const c_char,
    /// The workflow's name.
    pub workflow: *const c_char,
    /// The stage's name (for a compensation: the stage it undoes).
    pub stage: *const c_char,
    /// This attempt's number, from 1, counted over the run's whole life.
    pub attempt: u32,
    /// `{run_id}:{stage}` (compensations: `{run_id}:{stage}:compensate`), the same on every attempt
    /// and after a crash: pass it to remote services so a repeated attempt is not applied twice.
    pub idempotency_key: *const c_char,
    /// The run's input as JSON text.
    pub workflow_input: *const c_char,
    /// Whether this is a compensation.
    pub is_compensation: bool,
    /// The trace this attempt runs in as a W3C traceparent (its span when the process traces; the
    /// starter's context, passed on, when it does not but the run was started inside a trace),
    /// else NULL. It is also the thread's current trace during the callback: calls made from it
    /// carry it.
    pub traceparent: *const c_char,
}

/// Where a stage callback puts its output (set it with omnitron_stage_output_set; not set is null).
/// Valid only during the stage call, on its thread.
#[derive(Debug)]
pub struct OmnitronStageOutput {
    json: Option<String>,
}

/// A stage. `input_json` is the stage's input as NUL-terminated JSON text: the run's input (no
/// dependencies), its dependency's output (one), or an object from dependency name to output
/// (several). Set the output with omnitron_stage_output_set and return OMNITRON_STATUS_OK; on
/// failure return another status and say why with omnitron_callback_error. Runs on an engine
/// thread that may block; stages that are ready together run at once on several threads. A stage
/// whose timeout passes keeps its thread until it returns, and its result is then ignored.
pub type OmnitronStageFn = Option<
    unsafe extern "C" fn(
        input_json: *const c_char,
        ctx: *const OmnitronStageContext,
        output: *mut OmnitronStageOutput,
        user_data: *mut c_void,
    ) -> CallbackStatus,
>;

/// A compensation: undoes a completed stage, given that stage's output as NUL-terminated JSON
/// text. Returns OMNITRON_STATUS_OK, or a failure status (say why with omnitron_callback_error).
/// Runs on an engine thread that may block, one compensation at a time per run.
pub type OmnitronCompensateFn = Option<
    unsafe extern "C" fn(
        output_json: *const c_char,
        ctx: *const OmnitronStageContext,
        user_data: *mut c_void,
    ) -> CallbackStatus,
>;

/// Called once when an asynchronous run ends, on an engine thread. `status` is OMNITRON_STATUS_OK
/// and `json` the outputs (an object from stage name to output) on success; otherwise `status` is
/// the run's error (OMNITRON_STATUS_STAGE_FAILED, _STAGE_TIMEOUT, _COMPENSATION_FAILED, ...) and
/// `json` the error as `{"code": "WF007", "message": "...", "related": [...]}`. `run_id` and `json`
/// are valid during the call only.
pub type OmnitronWorkflowDoneFn = Option<
    unsafe extern "C" fn(status: u32, run_id: *const c_char, json: *const c_char, user_data: *mut c_void),
>;

/// Recovery policy: resume an interrupted run (the default).
pub const OMNITRON_RECOVERY_RESUME: u32 = 0;
/// Recovery policy: compensate an interrupted run.
pub const OMNITRON_RECOVERY_COMPENSATE: u32 = 1;

#[derive(Clone)]
struct StageSpec {
    name: String,
    run: StageFn,
    depends_on: Vec<String>,
    timeout: Option<Duration>,
    retries: Option<RetryOptions>,
    compensate: Option<CompensateFn>,
}

struct Def {
    name: String,
    timeout: Option<Duration>,
    retries: Option<RetryOptions>,
    recovery: RecoveryPolicy,
    stages: Vec<StageSpec>,
    /// Compensations given for names that are not stages (yet): `build` reports them.
    orphans: Vec<(String, CompensateFn)>,
}

static DEFS: Table<Mutex<Def>> = Table::new("workflow");
static ENGINES: Table<Engine> = Table::new("workflow engine");

/// `retries` extra attempts after the first, with exponential backoff from `delay_ms` (0: 100 ms),
/// read by core as every door's are.
fn retry_options(retries: u32, delay_ms: u64) -> Result<RetryOptions, Error> {
    let mut raw = RawOptions::new(Dialect::C, "workflow", ErrorCode::InvalidWorkflow)
        .with("retries", RawValue::Number(f64::from(retries)));
    if delay_ms > 0 {
        raw.set("retry_delay", RawValue::Number(delay_ms as f64));
    }
    let o = StepOptions::from_raw(StepKind::Workflow, &raw)?;
    Ok(o.retries.unwrap_or_else(|| RetryOptions::new(1)))
}

fn timeout(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

type RawStage = unsafe extern "C" fn(
    *const c_char,
    *const OmnitronStageContext,
    *mut OmnitronStageOutput,
    *mut c_void,
) -> CallbackStatus;
type RawCompensate =
    unsafe extern "C" fn(*const c_char, *const OmnitronStageContext, *mut c_void) -> CallbackStatus;

fn boxed(e: Error) -> BoxError {
    Box::new(e)
}

fn run_stage(f: RawStage, ud: &UserData, input: &Value, ctx: &StageContext) -> Result<Value, Error> {
    let strings = CtxStrings::new(ctx);
    let view = strings.view(ctx);
    let input = json_cstring(input);
    let mut out = OmnitronStageOutput { json: None };
    clear_callback_message();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the stage's contract (header); every pointer lives for the call.
        with_context(ctx.trace().cloned(), || unsafe { f(input.as_ptr(), &view, &mut out, ud.get()) })
    }));
    let status = caught.map_err(|_| Error::new(ErrorCode::Internal, "the stage callback panicked"))?;
    if status != 0 {
        return Err(callback_error(ErrorCode::CallbackFailed, format!("stage '{}'", ctx.stage()), status));
    }
    match out.json {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            Error::invalid_argument(format!(
                "stage '{}' set an output that is not valid JSON: {e}",
                ctx.stage()
            ))
        }),
    }
}

fn stage_fn(f: RawStage, ud: Arc<UserData>) -> StageFn {
    Arc::new(move |input, ctx| {
        let ud = ud.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || run_stage(f, &ud, &input, &ctx))
                .await
                .unwrap_or_else(|e| Err(Error::new(ErrorCode::Internal, e.to_string())))
                .map_err(boxed)
        })
    })
}

fn run_compensation(
    f: RawCompensate,
    ud: &UserData,
    output: &Value,
    ctx: &StageContext,
) -> Result<(), Error> {
    let strings = CtxStrings::new(ctx);
    let view = strings.view(ctx);
    let output = json_cstring(output);
    clear_callback_message();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: the compensation's contract (header); every pointer lives for the call.
        with_context(ctx.trace().cloned(), || unsafe { f(output.as_ptr(), &view, ud.get()) })
    }));
    let status = caught.map_err(|_| Error::new(ErrorCode::Internal, "the compensation callback panicked"))?;
    if status != 0 {
        return Err(callback_error(
            ErrorCode::CallbackFailed,
            format!("compensation of stage '{}'", ctx.stage()),
            status,
        ));
    }
    Ok(())
}

fn compensate_fn(f: RawCompensate, ud: Arc<UserData>) -> CompensateFn {
    Arc::new(move |output, ctx| {
        let ud = ud.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || run_compensation(f, &ud, &output, &ctx))
                .await
                .unwrap_or_else(|e| Err(Error::new(ErrorCode::Internal, e.to_string())))
                .map_err(boxed)
        })
    })
}

impl Def {
    fn stage_mut(&mut self, name: &str) -> Result<&mut StageSpec, Error> {
        let wf = self.name.clone();
        let known: Vec<String> = self.stages.iter().map(|s| s.name.clone()).collect();
        self.stages.iter_mut().find(|s| s.name == name).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidWorkflow,
                format!(
                    "workflow '{wf}' has no stage '{name}' (stages: {}); add it with omnitron_workflow_add_stage first",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            )
        })
    }

    fn build(&self) -> Result<Workflow, Error> {
        let mut b = Workflow::builder(self.name.clone()).recovery(self.recovery);
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        if let Some(r) = &self.retries {
            b = b.retries(r.clone());
        }
        for s in &self.stages {
            let mut st = Stage::from_fn(s.name.clone(), s.run.clone()).depends_on(s.depends_on.clone());
            if let Some(t) = s.timeout {
                st = st.timeout(t);
            }
            if let Some(r) = &s.retries {
                st = st.retries(r.clone());
            }
            if let Some(c) = &s.compensate {
                st = st.compensate_with(c.clone());
            }
            b = b.stage(st);
        }
        for (stage, f) in &self.orphans {
            b = b.compensate(stage.clone(), f.clone(), None);
        }
        b.build()
    }
}

/// Starts a workflow definition named `name`. Free it with omnitron_workflow_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_new(
    name: *const c_char,
    out: *mut *mut OmnitronWorkflow,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let name = str_arg(name, "name")?.to_string();
        DEFS.insert_out(
            out,
            Mutex::new(Def {
                name,
                timeout: None,
                retries: None,
                recovery: RecoveryPolicy::Resume,
                stages: Vec::new(),
                orphans: Vec::new(),
            }),
        )
    })
}

/// Frees a definition. NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_free(workflow: *mut OmnitronWorkflow) {
    guard_void(|| {
        DEFS.remove(workflow);
        Ok(())
    })
}

/// Each attempt of a whole run must finish within `timeout_ms` (0: no timeout).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_set_timeout(
    workflow: *mut OmnitronWorkflow,
    timeout_ms: u64,
) -> OmnitronStatus {
    guard(|| {
        DEFS.get(workflow)?.lock().timeout = timeout(timeout_ms);
        Ok(())
    })
}

/// Retries of the whole run (the spec's `retries`: that many attempts after the first), with
/// exponential backoff from `delay_ms` (0: 100 ms). A new attempt re-runs only the stages that
/// failed or never ran.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_set_retries(
    workflow: *mut OmnitronWorkflow,
    retries: u32,
    delay_ms: u64,
) -> OmnitronStatus {
    guard(|| {
        let d = DEFS.get(workflow)?;
        d.lock().retries = Some(retry_options(retries, delay_ms)?);
        Ok(())
    })
}

/// What recovery does with a run interrupted by a crash: OMNITRON_RECOVERY_RESUME (default) or
/// OMNITRON_RECOVERY_COMPENSATE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_set_recovery(
    workflow: *mut OmnitronWorkflow,
    policy: u32,
) -> OmnitronStatus {
    guard(|| {
        let d = DEFS.get(workflow)?;
        d.lock().recovery = match policy {
            OMNITRON_RECOVERY_RESUME => RecoveryPolicy::Resume,
            OMNITRON_RECOVERY_COMPENSATE => RecoveryPolicy::Compensate,
            other => {
                return Err(Error::invalid_argument(format!(
                    "unknown recovery policy {other}: use OMNITRON_RECOVERY_RESUME or OMNITRON_RECOVERY_COMPENSATE"
                )));
            }
        };
        Ok(())
    })
}

/// Adds a stage named `stage` running `run(input, ctx, output, user_data)`.
/// `free_user_data(user_data)` (NULL: nothing; then `user_data` must stay valid until every engine
/// this definition is registered with is freed and its runs are over) runs once when the definition
/// and every such engine are freed and the last run using it is over, on the thread that lets go
/// last (the one freeing, or an engine thread when a run ends later); or before this function
/// returns if it fails. Names are checked when the definition is registered (duplicates, unknown
/// dependencies, cycles).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_add_stage(
    workflow: *mut OmnitronWorkflow,
    stage: *const c_char,
    run: OmnitronStageFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let d = DEFS.get(workflow)?;
        let name = str_arg(stage, "stage")?.to_string();
        let run =
            run.ok_or_else(|| Error::invalid_argument(format!("the function of stage '{name}' is NULL")))?;
        d.lock().stages.push(StageSpec {
            name,
            run: stage_fn(run, ud),
            depends_on: Vec::new(),
            timeout: None,
            retries: None,
            compensate: None,
        });
        Ok(())
    })
}

/// Stage `stage` runs after `depends_on` completed (call again for several dependencies).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_stage_depends_on(
    workflow: *mut OmnitronWorkflow,
    stage: *const c_char,
    depends_on: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let d = DEFS.get(workflow)?;
        let (stage, dep) = (str_arg(stage, "stage")?, str_arg(depends_on, "depends_on")?);
        d.lock().stage_mut(stage)?.depends_on.push(dep.to_string());
        Ok(())
    })
}

/// Each attempt of stage `stage` must finish within `timeout_ms` (0: no timeout).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_stage_timeout(
    workflow: *mut OmnitronWorkflow,
    stage: *const c_char,
    timeout_ms: u64,
) -> OmnitronStatus {
    guard(|| {
        let d = DEFS.get(workflow)?;
        d.lock().stage_mut(str_arg(stage, "stage")?)?.timeout = timeout(timeout_ms);
        Ok(())
    })
}

/// Stage `stage` is tried `retries` more times after a failed attempt, with exponential backoff
/// from `delay_ms` (0: 100 ms).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_stage_retries(
    workflow: *mut OmnitronWorkflow,
    stage: *const c_char,
    retries: u32,
    delay_ms: u64,
) -> OmnitronStatus {
    guard(|| {
        let d = DEFS.get(workflow)?;
        let r = retry_options(retries, delay_ms)?;
        d.lock().stage_mut(str_arg(stage, "stage")?)?.retries = Some(r);
        Ok(())
    })
}

/// The compensation undoing stage `stage` (the spec's `@Compensate('stage')`). A name that is not
/// a stage is reported when the definition is registered. `user_data` and `free_user_data` as for
/// stages.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_compensate(
    workflow: *mut OmnitronWorkflow,
    stage: *const c_char,
    compensate: OmnitronCompensateFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let d = DEFS.get(workflow)?;
        let name = str_arg(stage, "stage")?.to_string();
        let f = compensate
            .ok_or_else(|| Error::invalid_argument(format!("the compensation of stage '{name}' is NULL")))?;
        let f = compensate_fn(f, ud);
        let old = {
            let mut d = d.lock();
            match d.stages.iter_mut().find(|s| s.name == name) {
                Some(s) => s.compensate.replace(f),
                None => {
                    d.orphans.push((name, f));
                    None
                }
            }
        };
        drop(old); // after the lock: freeing runs C code, which may call the library.
        Ok(())
    })
}

/// Opens an engine over the SQLite journal file at `path` (created if missing), or over an
/// in-memory journal when `path` is NULL. Free it with omnitron_workflow_engine_free. Open one
/// engine per journal file per process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_engine_open(
    path: *const c_char,
    out: *mut *mut OmnitronWorkflowEngine,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let engine = if path.is_null() { Engine::in_memory() } else { Engine::open(str_arg(path, "path")?)? };
        ENGINES.insert_out(out, engine)
    })
}

/// Frees an engine handle. Runs still in flight go on (and may still call their callbacks) until
/// they end; cancel or wait for them first if their `user_data` is about to go. NULL and freed
/// handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_engine_free(engine: *mut OmnitronWorkflowEngine) {
    guard_void(|| {
        ENGINES.remove(engine);
        Ok(())
    })
}

/// Checks the definition and registers a copy of it: OMNITRON_STATUS_WORKFLOW_CYCLE (the message
/// names the loop), _UNKNOWN_DEPENDENCY, _DUPLICATE_STAGE, _INVALID_WORKFLOW, _DUPLICATE_WORKFLOW.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_engine_register(
    engine: *mut OmnitronWorkflowEngine,
    workflow: *mut OmnitronWorkflow,
) -> OmnitronStatus {
    guard(|| {
        let e = ENGINES.get(engine)?;
        let wf = DEFS.get(workflow)?.lock().build()?;
        e.register(wf)
    })
}

fn input_arg(p: *const c_char) -> Result<Value, Error> {
    if p.is_null() {
        return Ok(Value::Null);
    }
    serde_json::from_str(str_arg(p, "input_json")?)
        .map_err(|e| Error::invalid_argument(format!("input_json is not valid JSON: {e}")))
}

fn run_id_arg(p: *const c_char) -> Result<Option<String>, Error> {
    if p.is_null() { Ok(None) } else { Ok(Some(str_arg(p, "run_id")?.to_string())) }
}

fn give_json(out: *mut OmnitronBuffer, v: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string(v).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
    give(out, text.as_bytes())
}

/// Starts a run of workflow `name` with `input_json` (NULL: null) and returns once its creation is
/// journaled; `*run_id_out` gets the run's id (free its `data` with omnitron_free). `run_id` NULL
/// generates one; a run id that exists returns that run (idempotent start).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_start(
    engine: *mut OmnitronWorkflowEngine,
    name: *const c_char,
    input_json: *const c_char,
    run_id: *const c_char,
    run_id_out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(run_id_out, || {
        check_out(run_id_out, "run_id_out")?;
        let e = ENGINES.get(engine)?;
        let name = str_arg(name, "name")?.to_string();
        let (input, id) = (input_arg(input_json)?, run_id_arg(run_id)?);
        let h =
            runtime::block_on(in_caller_trace(async move { e.start(&name, input, id.as_deref()).await }))?;
        give(run_id_out, h.id().as_bytes())
    })
}

/// Starts a run (as omnitron_workflow_start) and blocks until it ends. On success `*out` holds the
/// outputs as a JSON object from stage name to output (free `data` with omnitron_free). On failure
/// the status is the run's error (OMNITRON_STATUS_STAGE_FAILED, _STAGE_TIMEOUT, _WORKFLOW_TIMEOUT,
/// _COMPENSATION_FAILED, _RUN_CANCELLED, ...) and the last error message says what failed and what
/// was compensated; omnitron_workflow_get gives every error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_run(
    engine: *mut OmnitronWorkflowEngine,
    name: *const c_char,
    input_json: *const c_char,
    run_id: *const c_char,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let e = ENGINES.get(engine)?;
        let name = str_arg(name, "name")?.to_string();
        let (input, id) = (input_arg(input_json)?, run_id_arg(run_id)?);
        let outputs = runtime::block_on(in_caller_trace(async move {
            e.start(&name, input, id.as_deref()).await?.wait().await
        }))?;
        give_json(out, &outputs)
    })
}

/// Starts a run and returns at once; `done` runs exactly once on an engine thread when the run ends
/// (also when it fails to start: then this function still returns OMNITRON_STATUS_OK), then
/// `free_user_data(user_data)` (NULL: nothing) on the same thread. NULL `run_id` generates one. If
/// this function fails, `done` never runs and `free_user_data` runs before it returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_start_async(
    engine: *mut OmnitronWorkflowEngine,
    name: *const c_char,
    input_json: *const c_char,
    run_id: *const c_char,
    done: OmnitronWorkflowDoneFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
) -> OmnitronStatus {
    guard(|| {
        let ud = UserData::new(user_data, free_user_data);
        let e = ENGINES.get(engine)?;
        let done = done.ok_or_else(|| Error::invalid_argument("done is NULL"))?;
        let name = str_arg(name, "name")?.to_string();
        let (input, id) = (input_arg(input_json)?, run_id_arg(run_id)?);
        runtime::handle().spawn(in_caller_trace(async move {
            let (rid, r) = match e.start(&name, input, id.as_deref()).await {
                Ok(h) => (h.id().to_string(), h.wait().await),
                Err(err) => (id.unwrap_or_default(), Err(err)),
            };
            let (status, text) = match r {
                Ok(outputs) => (0, Value::Object(outputs).to_string()),
                Err(err) => (
                    OmnitronStatus::from_code(err.code()) as u32,
                    serde_json::to_string(&ErrorRecord::from_error(&err)).unwrap_or_default(),
                ),
            };
            let (rid, text) = (cstring(&rid), cstring(&text));
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: the completion's contract (header); pointers live for the call.
                unsafe { done(status, rid.as_ptr(), text.as_ptr(), ud.get()) }
            }));
            drop(caught);
        }));
        Ok(())
    })
}

/// Blocks until run `run_id` ends: `*out` and the status as for omnitron_workflow_run. A run that
/// is unfinished in the journal but not running in this engine fails at once (call
/// omnitron_workflow_recover first); an unknown id is OMNITRON_STATUS_RUN_NOT_FOUND.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_wait(
    engine: *mut OmnitronWorkflowEngine,
    run_id: *const c_char,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let e = ENGINES.get(engine)?;
        let id = str_arg(run_id, "run_id")?.to_string();
        let outputs = runtime::block_on(async move { e.wait(&id).await })?;
        give_json(out, &outputs)
    })
}

/// A run's state as JSON: `run_id`, `workflow`, `state` (`running`, `completed`, `compensated`,
/// `compensation_failed`, `cancelled`, ...), `input`, `attempts`, `error`, timestamps (`*_ms`, ms
/// since the epoch) and `stages` (per stage: `name`, `state`, `attempts`, `output`, `errors`,
/// `compensation_attempts`, `compensation_errors`, ...). Free `out->data` with omnitron_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_get(
    engine: *mut OmnitronWorkflowEngine,
    run_id: *const c_char,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let e = ENGINES.get(engine)?;
        let id = str_arg(run_id, "run_id")?.to_string();
        let info = runtime::block_on(async move { e.get(&id).await })?;
        give_json(out, &info)
    })
}

/// Runs in the journal, oldest first, as a JSON array of `{run_id, workflow, state, created_at_ms,
/// updated_at_ms}`. `workflow` and `state` (NULL: any) and `limit` (0: no limit) filter them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_list(
    engine: *mut OmnitronWorkflowEngine,
    workflow: *const c_char,
    state: *const c_char,
    limit: usize,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        let e = ENGINES.get(engine)?;
        let workflow =
            if workflow.is_null() { None } else { Some(str_arg(workflow, "workflow")?.to_string()) };
        let state = if state.is_null() {
            None
        } else {
            let s = str_arg(state, "state")?;
            Some(s.parse::<RunState>()?)
        };
        let filter = RunFilter { workflow, state, limit: (limit > 0).then_some(limit) };
        let runs = runtime::block_on(async move { e.list(&filter).await })?;
        give_json(out, &runs)
    })
}

/// Cancels run `run_id` and blocks until its completed stages are compensated. `*out` (may be
/// NULL) gets its final state as for omnitron_workflow_get (`cancelled`, or
/// `compensation_failed`). A finished run is left as it is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_cancel(
    engine: *mut OmnitronWorkflowEngine,
    run_id: *const c_char,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        let e = ENGINES.get(engine)?;
        let id = str_arg(run_id, "run_id")?.to_string();
        let info = runtime::block_on(async move { e.cancel(&id).await })?;
        if out.is_null() { Ok(()) } else { give_json(out, &info) }
    })
}

/// Takes up every unfinished run in the journal (register the workflows first) by its workflow's
/// recovery policy. `*out` (may be NULL) gets `{"resumed": [ids], "compensating": [ids],
/// "unrecovered": [{"run_id", "workflow", "reason"}]}`. Wait for the runs with
/// omnitron_workflow_wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_workflow_recover(
    engine: *mut OmnitronWorkflowEngine,
    out: *mut OmnitronBuffer,
) -> OmnitronStatus {
    guard_out(out, || {
        let e = ENGINES.get(engine)?;
        let r = runtime::block_on(async move { e.recover().await })?;
        if out.is_null() {
            return Ok(());
        }
        let unrecovered: Vec<Value> = r
            .unrecovered
            .iter()
            .map(|u| json!({ "run_id": u.run_id, "workflow": u.workflow, "reason": u.reason }))
            .collect();
        give_json(
            out,
            &json!({ "resumed": r.resumed, "compensating": r.compensating, "unrecovered": unrecovered }),
        )
    })
}

/// Sets a stage's output: `json` (NUL-terminated JSON text) is copied and checked when the stage
/// returns. Calling it again replaces the output.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_stage_output_set(
    output: *mut OmnitronStageOutput,
    json: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        if output.is_null() {
            return Err(Error::invalid_argument("output is NULL"));
        }
        let text = str_arg(json, "json")?.to_string();
        // SAFETY: the output pointer was handed to the stage by the library and is valid during it.
        unsafe { &mut *output }.json = Some(text);
        Ok(())
    })
}
