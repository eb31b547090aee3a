//! Workflows for Python: the engine's `workflow::Engine`, with stages and compensations that are
//! Python callables. Values cross as JSON text (the engine journals JSON; the Python layer does
//! `json.dumps` / `json.loads`). Engine threads queue stage calls and finished operations in an
//! inbox (see `rpc/host.rs`) drained by the engine's asyncio loop, so they never wait for the GIL.

use std::sync::Arc;

use omnitron::dialect::Dialect;
use omnitron::options::{RawOptions, Value as RawValue};
use omnitron::workflow::{
    CompensateFn, Engine, ErrorRecord, RunFilter, RunState, Stage, StageContext, StageFn, StepKind,
    StepOptions, Workflow,
};
use omnitron::{BoxError, Error, ErrorCode, runtime};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::error::ToPy;
use crate::rpc::Inbox;

/// One stage (or compensation) call being run by Python: answer it once with `ok` or `err`.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeStageCall {
    tx: Mutex<Option<oneshot::Sender<Result<Value, Error>>>>,
}

impl NativeStageCall {
    fn send(&self, r: Result<Value, Error>) -> bool {
        match self.tx.lock().take() {
            Some(tx) => tx.send(r).is_ok(),
            None => false,
        }
    }
}

#[pymethods]
impl NativeStageCall {
    /// Answers with the output as JSON text (None: null). False if already answered or gone. Text
    /// that is not JSON fails the attempt with E001.
    #[pyo3(signature = (output_json=None))]
    fn ok(&self, output_json: Option<&str>) -> bool {
        let r = match output_json {
            None => Ok(Value::Null),
            Some(t) => serde_json::from_str(t)
                .map_err(|e| Error::invalid_argument(format!("the stage's output is not valid JSON: {e}"))),
        };
        self.send(r)
    }

    /// Answers with an error: an engine code ("E001", "WF007", ...) keeps its code; any other
    /// becomes E004 with the code in the message.
    fn err(&self, code: &str, message: &str) -> bool {
        let e = match ErrorCode::from_id(code) {
            Some(c) => Error::new(c, message),
            None => Error::new(ErrorCode::CallbackFailed, format!("[{code}] {message}")),
        };
        self.send(Err(e))
    }
}

/// The engine for Python.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeWorkflowEngine {
    engine: Engine,
    inbox: Arc<Inbox>,
}

/// Options the Python layer passed as numbers and strings, as core reads them.
fn raw(what: String, values: &[(&str, Option<f64>)], recovery: Option<String>) -> RawOptions {
    let raw = RawOptions::new(Dialect::Python, what, ErrorCode::InvalidWorkflow).numbers(values);
    match recovery {
        Some(r) => raw.with("recovery", RawValue::Text(r)),
        None => raw,
    }
}

/// Checks a workflow's (`kind` "workflow"), stage's ("stage") or compensation's ("compensation")
/// keyword options where they are declared (raises `InvalidWorkflowError`, or
/// `InvalidArgumentError` for a wrong type).
#[pyfunction]
#[pyo3(signature = (kind, what, options))]
fn check_workflow_options(
    py: Python<'_>,
    kind: &str,
    what: String,
    options: &Bound<'_, PyDict>,
) -> PyResult<()> {
    let raw = crate::options::raw(what, ErrorCode::InvalidWorkflow, Some(options))?;
    StepKind::from_name(kind).and_then(|kind| StepOptions::from_raw(kind, &raw)).map(|_| ()).py(py)
}

fn ctx_json(ctx: &StageContext) -> String {
    json!({
        "run_id": ctx.run_id(),
        "workflow": ctx.workflow(),
        "stage": ctx.stage(),
        "attempt": ctx.attempt(),
        "idempotency_key": ctx.idempotency_key(),
        "is_compensation": ctx.is_compensation(),
        "workflow_input": ctx.workflow_input(),
        "traceparent": ctx.traceparent(),
    })
    .to_string()
}

/// Tells the Python stage to stop (its cancel callable) when the attempt is abandoned.
struct StopOnDrop {
    inbox: Arc<Inbox>,
    stop: Arc<Mutex<Option<Py<PyAny>>>>,
    armed: bool,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let stop = self.stop.clone();
        self.inbox.run(move |py| {
            if let Some(f) = stop.lock().take()
                && let Err(e) = f.call0(py)
            {
                e.print(py);
            }
        });
    }
}

/// Queues the call for Python and waits for its answer.
async fn call_py(
    inbox: Arc<Inbox>,
    dispatch: Arc<Py<PyAny>>,
    stage: usize,
    compensation: bool,
    input: Value,
    ctx: StageContext,
) -> Result<Value, BoxError> {
    let (tx, rx) = oneshot::channel();
    let stop: Arc<Mutex<Option<Py<PyAny>>>> = Arc::new(Mutex::new(None));
    let slot = stop.clone();
    let (input, ctx) = (input.to_string(), ctx_json(&ctx));
    inbox.run(move |py| {
        let call = match Py::new(py, NativeStageCall { tx: Mutex::new(Some(tx)) }) {
            Ok(c) => c,
            Err(e) => return e.print(py),
        };
        match dispatch.call1(py, (stage, compensation, input, ctx, call.clone_ref(py))) {
            Ok(c) if !c.is_none(py) => *slot.lock() = Some(c),
            Ok(_) => {}
            Err(e) => {
                let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                call.get().send(Err(Error::new(ErrorCode::CallbackFailed, message)));
            }
        }
    });
    let mut guard = StopOnDrop { inbox, stop, armed: true };
    let r = rx.await;
    guard.armed = false;
    match r {
        Ok(r) => r.map_err(|e| Box::new(e) as BoxError),
        Err(_) => Err(Box::new(Error::new(ErrorCode::CallbackFailed, "the Python stage never answered"))),
    }
}

/// `(name, depends_on, timeout_s, retries, retry_delay_s, compensate, compensation_retries,
/// compensation_retry_delay_s)`.
type StageSpec = (String, Vec<String>, Option<f64>, Option<u32>, Option<f64>, bool, Option<u32>, Option<f64>);

fn parse_input(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("the input is not valid JSON: {e}")))
}

fn to_value(v: &impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(v).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
}

impl NativeWorkflowEngine {
    /// Runs `f` on the engine's runtime; `done(result_json)` is called on the loop with
    /// `{"ok": value}` or `{"error": {code, message, related}}`.
    /// [`Self::spawn`] with the caller's trace as the current context (a run started inside it
    /// is its child).
    fn spawn_in(
        &self,
        done: Py<PyAny>,
        traceparent: Option<String>,
        f: impl std::future::Future<Output = Result<Value, Error>> + Send + 'static,
    ) {
        self.spawn(done, omnitron::telemetry::in_traceparent(traceparent.as_deref(), f));
    }

    fn spawn(
        &self,
        done: Py<PyAny>,
        f: impl std::future::Future<Output = Result<Value, Error>> + Send + 'static,
    ) {
        let inbox = self.inbox.clone();
        runtime::handle().spawn(async move {
            let text = match f.await {
                Ok(v) => json!({ "ok": v }).to_string(),
                Err(e) => json!({ "error": ErrorRecord::from_error(&e) }).to_string(),
            };
            inbox.run(move |py| {
                if let Err(e) = done.call1(py, (text,)) {
                    e.print(py);
                }
            });
        });
    }
}

#[pymethods]
impl NativeWorkflowEngine {
    /// An engine over the SQLite journal at `path` (created if missing), or in memory (None).
    #[staticmethod]
    #[pyo3(signature = (path=None))]
    fn open(py: Python<'_>, path: Option<String>) -> PyResult<Self> {
        let inbox = Inbox::new()?;
        let engine = match path {
            Some(p) => py.detach(|| Engine::open(p)).py(py)?,
            None => Engine::in_memory(),
        };
        Ok(NativeWorkflowEngine { engine, inbox })
    }

    /// The descriptor that becomes readable when work for Python is queued.
    fn inbox_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inbox.wake_rx.as_raw_fd()
    }

    /// Runs the queued work (stage calls, finished operations) on this thread.
    fn drain(&self, py: Python<'_>) {
        self.inbox.drain(py);
    }

    /// Checks and registers a workflow. Every stage call runs `dispatch(stage_index, compensation,
    /// input_json, ctx_json, call)` on the loop, which must return at once (scheduling the work)
    /// and may return a callable to stop it if the attempt is abandoned.
    #[pyo3(signature = (name, stages, dispatch, timeout_s=None, retries=None, retry_delay_s=None, recovery=None))]
    #[allow(clippy::too_many_arguments)] // The Python signature, one to one.
    fn register(
        &self,
        py: Python<'_>,
        name: String,
        stages: Vec<StageSpec>,
        dispatch: Py<PyAny>,
        timeout_s: Option<f64>,
        retries: Option<u32>,
        retry_delay_s: Option<f64>,
        recovery: Option<String>,
    ) -> PyResult<()> {
        let wf = self.build(name, stages, dispatch, timeout_s, retries, retry_delay_s, recovery).py(py)?;
        self.engine.register(wf).py(py)
    }

    /// The registered workflows' names, sorted.
    fn workflows(&self) -> Vec<String> {
        self.engine.workflows()
    }

    /// Starts a run, in the trace `traceparent` names if any (the caller's); `done` gets
    /// `{"ok": run_id}`.
    #[pyo3(signature = (name, input_json, run_id, traceparent, done))]
    fn start(
        &self,
        name: String,
        input_json: String,
        run_id: Option<String>,
        traceparent: Option<String>,
        done: Py<PyAny>,
    ) {
        let engine = self.engine.clone();
        self.spawn_in(done, traceparent, async move {
            let h = engine.start(&name, parse_input(&input_json)?, run_id.as_deref()).await?;
            Ok(Value::String(h.id().to_string()))
        });
    }

    /// Starts a run and waits for its end; `done` gets the outputs or the run's error.
    #[pyo3(signature = (name, input_json, run_id, traceparent, done))]
    fn run(
        &self,
        name: String,
        input_json: String,
        run_id: Option<String>,
        traceparent: Option<String>,
        done: Py<PyAny>,
    ) {
        let engine = self.engine.clone();
        self.spawn_in(done, traceparent, async move {
            let h = engine.start(&name, parse_input(&input_json)?, run_id.as_deref()).await?;
            Ok(Value::Object(h.wait().await?))
        });
    }

    /// Waits for a run's end.
    fn wait(&self, run_id: String, done: Py<PyAny>) {
        let engine = self.engine.clone();
        self.spawn(done, async move { Ok(Value::Object(engine.wait(&run_id).await?)) });
    }

    /// A run's state (the engine's `RunInfo` as JSON).
    fn get(&self, run_id: String, done: Py<PyAny>) {
        let engine = self.engine.clone();
        self.spawn(done, async move { to_value(&engine.get(&run_id).await?) });
    }

    /// Runs in the journal, oldest first.
    #[pyo3(signature = (workflow, state, limit, done))]
    fn list(&self, workflow: Option<String>, state: Option<String>, limit: Option<usize>, done: Py<PyAny>) {
        let engine = self.engine.clone();
        self.spawn(done, async move {
            let state = state.map(|s| s.parse::<RunState>()).transpose()?;
            to_value(&engine.list(&RunFilter { workflow, state, limit }).await?)
        });
    }

    /// Cancels a run; `done` gets its final state.
    fn cancel(&self, run_id: String, done: Py<PyAny>) {
        let engine = self.engine.clone();
        self.spawn(done, async move { to_value(&engine.cancel(&run_id).await?) });
    }

    /// Takes up unfinished runs.
    fn recover(&self, done: Py<PyAny>) {
        let engine = self.engine.clone();
        self.spawn(done, async move {
            let r = engine.recover().await?;
            let unrecovered: Vec<Value> = r
                .unrecovered
                .iter()
                .map(|u| json!({ "run_id": u.run_id, "workflow": u.workflow, "reason": u.reason }))
                .collect();
            Ok(json!({ "resumed": r.resumed, "compensating": r.compensating, "unrecovered": unrecovered }))
        });
    }
}

impl NativeWorkflowEngine {
    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        name: String,
        stages: Vec<StageSpec>,
        dispatch: Py<PyAny>,
        timeout_s: Option<f64>,
        retry_count: Option<u32>,
        retry_delay_s: Option<f64>,
        recovery: Option<String>,
    ) -> Result<Workflow, Error> {
        let wf = name.clone();
        let dispatch = Arc::new(dispatch);
        let values =
            [("timeout", timeout_s), ("retries", retry_count.map(f64::from)), ("retry_delay", retry_delay_s)];
        let o =
            StepOptions::from_raw(StepKind::Workflow, &raw(format!("workflow '{wf}'"), &values, recovery))?;
        let mut b = Workflow::builder(name).options(o);
        for (i, (sname, deps, timeout, r, delay, compensate, cr, cdelay)) in stages.into_iter().enumerate() {
            let what = format!("workflow '{wf}', stage '{sname}'");
            let (inbox, d) = (self.inbox.clone(), dispatch.clone());
            let run: StageFn =
                Arc::new(move |input, ctx| Box::pin(call_py(inbox.clone(), d.clone(), i, false, input, ctx)));
            let values = [
                ("timeout", timeout),
                ("retries", r.map(f64::from)),
                ("retry_delay", delay),
                ("compensation_retries", cr.map(f64::from)),
                ("compensation_retry_delay", cdelay),
            ];
            let o = StepOptions::from_raw(StepKind::Stage, &raw(what, &values, None))?;
            let mut st = Stage::from_fn(sname, run).depends_on(deps).options(o);
            if compensate {
                let (inbox, d) = (self.inbox.clone(), dispatch.clone());
                let f: CompensateFn = Arc::new(move |output, ctx| {
                    let fut = call_py(inbox.clone(), d.clone(), i, true, output, ctx);
                    Box::pin(async move { fut.await.map(|_| ()) })
                });
                st = st.compensate_with(f);
            }
            b = b.stage(st);
        }
        b.build()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeWorkflowEngine>()?;
    m.add_class::<NativeStageCall>()?;
    m.add_function(wrap_pyfunction!(check_workflow_options, m)?)?;
    Ok(())
}
