//! Workflows for Node: the engine's `workflow::Engine`, with stages and compensations that are
//! JavaScript functions. Values cross as JSON text (the engine journals JSON). Stage calls reach
//! JavaScript through a thread-safe function and are answered with `workflowAnswer(callId, ...)`,
//! so the engine never blocks on the event loop; engine operations (start, wait, get, ...) run on
//! the engine's runtime and report through the `done` thread-safe function.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use omnitron::dialect::Dialect;
use omnitron::options::{RawOptions, Value as RawValue};
use omnitron::workflow::{
    CompensateFn, Engine, ErrorRecord, RunFilter, RunState, Stage, StageContext, StageFn, StepKind,
    StepOptions, Workflow,
};
use omnitron::{BoxError, Error, ErrorCode, runtime};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::di::JsErrorInfo;
use crate::error::ToJs;
use crate::options::JsRawOption;

/// `(callId, workflow, stage, compensation, inputJson, ctxJson)`: run a stage (or its compensation)
/// and answer with `workflowAnswer(callId, ...)`.
type InvokeFn = ThreadsafeFunction<
    (u32, u32, u32, bool, String, String),
    (),
    (u32, u32, u32, bool, String, String),
    napi::Status,
    false,
    true,
>;
/// `(callId)`: the stage call was abandoned (timeout, cancel): abort its signal.
type AbortFn = ThreadsafeFunction<u32, (), u32, napi::Status, false, true>;
/// `(opId, resultJson)`: an engine operation finished: `{"ok": value}` or `{"error": {code, message,
/// related}}`.
type DoneFn = ThreadsafeFunction<(u32, String), (), (u32, String), napi::Status, false, true>;

type Answer = oneshot::Sender<Result<Value, Error>>;

/// Stage calls being run by JavaScript, by id.
static RUNNING: LazyLock<Mutex<HashMap<u32, Answer>>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_CALL: AtomicU32 = AtomicU32::new(1);

/// Answers a stage call: `code` null for success (`outputJson` the output, null for none), else the
/// error's code and message. False if the call is gone (timed out, cancelled).
#[napi]
pub fn workflow_answer(
    call_id: u32,
    code: Option<String>,
    message: Option<String>,
    output_json: Option<String>,
) -> bool {
    let Some(tx) = RUNNING.lock().remove(&call_id) else { return false };
    let r = match code {
        None => match output_json {
            None => Ok(Value::Null),
            Some(t) => serde_json::from_str(&t)
                .map_err(|e| Error::invalid_argument(format!("the stage's output is not valid JSON: {e}"))),
        },
        Some(code) => {
            let message = message.unwrap_or_default();
            Err(match ErrorCode::from_id(&code) {
                Some(c) => Error::new(c, message),
                None => Error::new(ErrorCode::CallbackFailed, format!("[{code}] {message}")),
            })
        }
    };
    tx.send(r).is_ok()
}

/// The callbacks an engine reports through.
#[napi(object, object_to_js = false)]
pub struct WorkflowCallbacks {
    #[napi(
        ts_type = "(call: [callId: number, workflow: number, stage: number, compensation: boolean, inputJson: string, ctxJson: string]) => void"
    )]
    pub invoke: InvokeFn,
    #[napi(ts_type = "(callId: number) => void")]
    pub abort: AbortFn,
    #[napi(ts_type = "(result: [opId: number, resultJson: string]) => void")]
    pub done: DoneFn,
}

/// A stage as the TypeScript layer describes it (times in ms; `retries` after the first attempt).
#[napi(object)]
pub struct JsStageDef {
    pub name: String,
    pub depends_on: Vec<String>,
    pub timeout_ms: Option<f64>,
    pub retries: Option<f64>,
    pub retry_delay_ms: Option<f64>,
    pub compensate: bool,
    pub compensation_retries: Option<f64>,
    pub compensation_retry_delay_ms: Option<f64>,
}

/// A workflow as the TypeScript layer describes it.
#[napi(object)]
pub struct JsWorkflowDef {
    pub name: String,
    pub timeout_ms: Option<f64>,
    pub retries: Option<f64>,
    pub retry_delay_ms: Option<f64>,
    /// `resume` (default) or `compensate`.
    pub recovery: Option<String>,
    pub stages: Vec<JsStageDef>,
}

/// Options the TypeScript layer passed as numbers and strings, as core reads them.
fn raw(what: String, values: &[(&str, Option<f64>)], recovery: Option<String>) -> RawOptions {
    let raw = RawOptions::new(Dialect::TypeScript, what, ErrorCode::InvalidWorkflow).numbers(values);
    match recovery {
        Some(r) => raw.with("recovery", RawValue::Text(r)),
        None => raw,
    }
}

/// Checks a workflow's (`kind` "workflow"), stage's ("stage") or compensation's
/// ("compensation") options where they are declared: the error, or null.
#[napi]
pub fn check_workflow_options(kind: String, what: String, options: Vec<JsRawOption>) -> Option<JsErrorInfo> {
    let raw = crate::options::raw(what, ErrorCode::InvalidWorkflow, options);
    StepKind::from_name(&kind)
        .and_then(|kind| StepOptions::from_raw(kind, &raw))
        .err()
        .map(|e| JsErrorInfo { code: e.code().as_str().to_string(), message: e.message().to_string() })
}

fn ctx_json(ctx: &StageContext) -> String {
    json!({
        "runId": ctx.run_id(),
        "workflow": ctx.workflow(),
        "stage": ctx.stage(),
        "attempt": ctx.attempt(),
        "idempotencyKey": ctx.idempotency_key(),
        "isCompensation": ctx.is_compensation(),
        "workflowInput": ctx.workflow_input(),
        "traceparent": ctx.traceparent(),
    })
    .to_string()
}

struct AbortOnDrop {
    id: u32,
    abort: Arc<AbortFn>,
    armed: bool,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        RUNNING.lock().remove(&self.id);
        if self.armed {
            self.abort.call(self.id, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// Calls JavaScript and waits for its answer without blocking an engine thread.
async fn call_js(
    invoke: Arc<InvokeFn>,
    abort: Arc<AbortFn>,
    wf: u32,
    stage: u32,
    compensation: bool,
    input: Value,
    ctx: StageContext,
) -> Result<Value, BoxError> {
    let id = NEXT_CALL.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    RUNNING.lock().insert(id, tx);
    let mut guard = AbortOnDrop { id, abort, armed: true };
    let status = invoke.call(
        (id, wf, stage, compensation, input.to_string(), ctx_json(&ctx)),
        ThreadsafeFunctionCallMode::NonBlocking,
    );
    if status != napi::Status::Ok {
        guard.armed = false;
        return Err(Box::new(Error::new(
            ErrorCode::CallbackFailed,
            format!("the JavaScript stage could not be called ({status})"),
        )));
    }
    let r = rx.await;
    guard.armed = false;
    match r {
        Ok(r) => r.map_err(|e| Box::new(e) as BoxError),
        Err(_) => Err(Box::new(Error::new(ErrorCode::CallbackFailed, "the JavaScript stage never answered"))),
    }
}

/// The engine for JavaScript.
#[napi]
pub struct NativeWorkflowEngine {
    engine: Engine,
    invoke: Arc<InvokeFn>,
    abort: Arc<AbortFn>,
    done: Arc<DoneFn>,
    next_workflow: AtomicU32,
}

fn error_json(e: &Error) -> String {
    json!({ "error": ErrorRecord::from_error(e) }).to_string()
}

#[napi]
impl NativeWorkflowEngine {
    /// An engine over the SQLite journal at `path` (created if missing), or in memory without one.
    #[napi(factory)]
    pub fn open(path: Option<String>, cb: WorkflowCallbacks) -> napi::Result<NativeWorkflowEngine, String> {
        let engine = match path {
            Some(p) => Engine::open(p).js()?,
            None => Engine::in_memory(),
        };
        Ok(NativeWorkflowEngine {
            engine,
            invoke: Arc::new(cb.invoke),
            abort: Arc::new(cb.abort),
            done: Arc::new(cb.done),
            next_workflow: AtomicU32::new(1),
        })
    }

    /// Checks and registers a workflow; returns the index `invoke` reports for its stages.
    #[napi]
    pub fn register(&self, def: JsWorkflowDef) -> napi::Result<u32, String> {
        let index = self.next_workflow.fetch_add(1, Ordering::Relaxed);
        let wf = self.build(index, def).js()?;
        self.engine.register(wf).js()?;
        Ok(index)
    }

    /// Starts a run, in the trace `traceparent` names if any (the caller's); reports
    /// `{"ok": runId}`.
    #[napi]
    pub fn start(
        &self,
        op: u32,
        name: String,
        input_json: String,
        run_id: Option<String>,
        traceparent: Option<String>,
    ) {
        let engine = self.engine.clone();
        self.spawn_in(op, traceparent, async move {
            let input = parse_input(&input_json)?;
            let h = engine.start(&name, input, run_id.as_deref()).await?;
            Ok(Value::String(h.id().to_string()))
        });
    }

    /// Waits for a run's end; reports `{"ok": outputs}` or the run's error.
    #[napi]
    pub fn wait(&self, op: u32, run_id: String) {
        let engine = self.engine.clone();
        self.spawn(op, async move { Ok(Value::Object(engine.wait(&run_id).await?)) });
    }

    /// Starts a run and waits for its end; reports `{"ok": outputs}` or the run's error.
    #[napi]
    pub fn run(
        &self,
        op: u32,
        name: String,
        input_json: String,
        run_id: Option<String>,
        traceparent: Option<String>,
    ) {
        let engine = self.engine.clone();
        self.spawn_in(op, traceparent, async move {
            let input = parse_input(&input_json)?;
            let h = engine.start(&name, input, run_id.as_deref()).await?;
            Ok(Value::Object(h.wait().await?))
        });
    }

    /// A run's state (the engine's `RunInfo` as JSON, snake_case).
    #[napi]
    pub fn get(&self, op: u32, run_id: String) {
        let engine = self.engine.clone();
        self.spawn(op, async move { to_value(&engine.get(&run_id).await?) });
    }

    /// Runs in the journal, oldest first.
    #[napi]
    pub fn list(&self, op: u32, workflow: Option<String>, state: Option<String>, limit: Option<u32>) {
        let engine = self.engine.clone();
        self.spawn(op, async move {
            let state = state.map(|s| s.parse::<RunState>()).transpose()?;
            let filter = RunFilter { workflow, state, limit: limit.map(|l| l as usize) };
            to_value(&engine.list(&filter).await?)
        });
    }

    /// Cancels a run; reports its final state.
    #[napi]
    pub fn cancel(&self, op: u32, run_id: String) {
        let engine = self.engine.clone();
        self.spawn(op, async move { to_value(&engine.cancel(&run_id).await?) });
    }

    /// Takes up unfinished runs; reports `{resumed, compensating, unrecovered}`.
    #[napi]
    pub fn recover(&self, op: u32) {
        let engine = self.engine.clone();
        self.spawn(op, async move {
            let r = engine.recover().await?;
            let unrecovered: Vec<Value> = r
                .unrecovered
                .iter()
                .map(|u| json!({ "runId": u.run_id, "workflow": u.workflow, "reason": u.reason }))
                .collect();
            Ok(json!({ "resumed": r.resumed, "compensating": r.compensating, "unrecovered": unrecovered }))
        });
    }

    /// The registered workflows' names, sorted.
    #[napi]
    pub fn workflows(&self) -> Vec<String> {
        self.engine.workflows()
    }

    /// Runs in flight in this engine.
    #[napi]
    pub fn active_runs(&self) -> u32 {
        self.engine.active_runs() as u32
    }
}

fn parse_input(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("the input is not valid JSON: {e}")))
}

fn to_value(v: &impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
}

impl NativeWorkflowEngine {
    fn spawn(&self, op: u32, f: impl std::future::Future<Output = Result<Value, Error>> + Send + 'static) {
        let done = self.done.clone();
        runtime::handle().spawn(async move {
            let text = match f.await {
                Ok(v) => json!({ "ok": v }).to_string(),
                Err(e) => error_json(&e),
            };
            done.call((op, text), ThreadsafeFunctionCallMode::NonBlocking);
        });
    }

    /// [`Self::spawn`] with the caller's trace as the current context (a run started inside it
    /// is its child).
    fn spawn_in(
        &self,
        op: u32,
        traceparent: Option<String>,
        f: impl std::future::Future<Output = Result<Value, Error>> + Send + 'static,
    ) {
        self.spawn(op, omnitron::telemetry::in_traceparent(traceparent.as_deref(), f));
    }

    fn build(&self, index: u32, def: JsWorkflowDef) -> Result<Workflow, Error> {
        let wf = def.name.clone();
        let values =
            [("timeout", def.timeout_ms), ("retries", def.retries), ("retryDelay", def.retry_delay_ms)];
        let o = StepOptions::from_raw(
            StepKind::Workflow,
            &raw(format!("workflow '{wf}'"), &values, def.recovery),
        )?;
        let mut b = Workflow::builder(def.name).options(o);
        for (i, s) in def.stages.into_iter().enumerate() {
            let i = i as u32;
            let what = format!("workflow '{wf}', stage '{}'", s.name);
            let (invoke, abort) = (self.invoke.clone(), self.abort.clone());
            let run: StageFn = Arc::new(move |input, ctx| {
                Box::pin(call_js(invoke.clone(), abort.clone(), index, i, false, input, ctx))
            });
            let values = [
                ("timeout", s.timeout_ms),
                ("retries", s.retries),
                ("retryDelay", s.retry_delay_ms),
                ("compensationRetries", s.compensation_retries),
                ("compensationRetryDelay", s.compensation_retry_delay_ms),
            ];
            let o = StepOptions::from_raw(StepKind::Stage, &raw(what.clone(), &values, None))?;
            let mut st = Stage::from_fn(s.name, run).depends_on(s.depends_on).options(o);
            if s.compensate {
                let (invoke, abort) = (self.invoke.clone(), self.abort.clone());
                let f: CompensateFn = Arc::new(move |output, ctx| {
                    let fut = call_js(invoke.clone(), abort.clone(), index, i, true, output, ctx);
                    Box::pin(async move { fut.await.map(|_| ()) })
                });
                st = st.compensate_with(f);
            }
            b = b.stage(st);
        }
        b.build()
    }
}
