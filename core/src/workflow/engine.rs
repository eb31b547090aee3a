//! The engine: registered workflows, runs in flight, the journal, and the public calls (start,
//! wait, get, list, cancel, recover).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value};

use super::definition::Workflow;
use super::exec::{Exec, Mode, Registered, RunEntry, record};
use super::journal::{Entry, Event, Journal, MemoryJournal, now_ms};
use super::metrics::WorkflowMetrics;
use super::run::{ErrorRecord, RunFilter, RunInfo, RunState, RunSummary};
use super::trace::RunTrace;
use super::{RecoveryPolicy, StageState};
use crate::error::{Error, ErrorCode, Result};
use crate::metrics::Registry;

/// Longest run id accepted.
pub const MAX_RUN_ID_LEN: usize = 256;

pub(crate) struct Inner {
    pub(crate) journal: Arc<dyn Journal>,
    registry: Registry,
    workflows: RwLock<HashMap<String, Arc<Registered>>>,
    pub(crate) active: Mutex<HashMap<Arc<str>, Arc<RunEntry>>>,
}

/// The workflow engine. Cheap to clone (clones share everything). Its async methods must be
/// called on a tokio runtime (runs are spawned onto it).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use omnitron::workflow::{Engine, Stage, Workflow};
/// use serde_json::json;
///
/// let engine = Engine::in_memory();
/// engine.register(
///     Workflow::builder("greet")
///         .stage(Stage::new("name", |input, _| async move { Ok::<_, std::io::Error>(input["who"].clone()) }))
///         .stage(Stage::new("hello", |name, _| async move {
///             Ok::<_, std::io::Error>(format!("hello {}", name.as_str().unwrap_or("?")))
///         }).depends_on("name"))
///         .build()
///         .unwrap(),
/// ).unwrap();
/// let out = engine.run("greet", json!({ "who": "Ada" })).await.unwrap();
/// assert_eq!(out["hello"], "hello Ada");
/// # });
/// ```
#[derive(Clone)]
pub struct Engine {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("journal", &self.inner.journal)
            .field("workflows", &self.inner.workflows.read().len())
            .field("active_runs", &self.inner.active.lock().len())
            .finish()
    }
}

/// A run started or found by the engine.
#[derive(Clone, Debug)]
pub struct RunHandle {
    entry: Arc<RunEntry>,
}

impl RunHandle {
    /// The run's id.
    pub fn id(&self) -> &str {
        &self.entry.id
    }

    /// Its state now.
    pub fn info(&self) -> RunInfo {
        self.entry.info.lock().clone()
    }

    /// Waits for the end: the map of stage outputs (stage name to output), or the run's error
    /// (`StageFailed`, `StageTimeout`, `WorkflowTimeout`, `RunCancelled`, `RunInterrupted` with the
    /// compensations' outcome in the message; `CompensationFailed` with every error in
    /// [`Error::related`]; `JournalError` if the journal failed).
    pub async fn wait(&self) -> Result<Map<String, Value>> {
        let mut rx = self.entry.done.subscribe();
        let r = rx.wait_for(|o| o.is_some()).await;
        match r {
            Ok(o) => {
                o.clone().unwrap_or_else(|| Err(Error::new(ErrorCode::Internal, "run ended without outcome")))
            }
            Err(_) => Err(Error::new(ErrorCode::Internal, "the run's driver went away")),
        }
    }
}

/// A run that [`Engine::recover`] did not take up, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrecoveredRun {
    /// The run.
    pub run_id: String,
    /// Its workflow.
    pub workflow: String,
    /// Why it was left alone (it stays unfinished in the journal).
    pub reason: String,
}

/// What [`Engine::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Runs resumed (their completed stages are not run again).
    pub resumed: Vec<String>,
    /// Runs being compensated (policy `compensate`, or already compensating or cancelled).
    pub compensating: Vec<String>,
    /// Runs left alone: unknown workflow, changed stages, unreadable entries.
    pub unrecovered: Vec<UnrecoveredRun>,
}

impl Recovery {
    /// The ids of every run taken up (resumed, then compensating).
    pub fn run_ids(&self) -> Vec<String> {
        self.resumed.iter().chain(&self.compensating).cloned().collect()
    }
}

fn generated_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("run-{t:016x}{:016x}", fastrand::u64(..))
}

impl Engine {
    /// An engine over `journal`, reporting into the global metrics registry.
    pub fn new(journal: Arc<dyn Journal>) -> Engine {
        Engine::with_registry(journal, Registry::global())
    }

    /// An engine over `journal`, reporting into `registry`.
    pub fn with_registry(journal: Arc<dyn Journal>, registry: &Registry) -> Engine {
        let engine = Engine {
            inner: Arc::new(Inner {
                journal,
                registry: registry.clone(),
                workflows: RwLock::new(HashMap::new()),
                active: Mutex::new(HashMap::new()),
            }),
        };
        #[cfg(feature = "rpc")]
        super::status::watch(&engine);
        engine
    }

    /// An engine over a new [`MemoryJournal`] (nothing survives the process).
    pub fn in_memory() -> Engine {
        Engine::new(Arc::new(MemoryJournal::new()))
    }

    /// An engine over the SQLite journal at `path` (created if missing).
    #[cfg(feature = "sqlite")]
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Engine> {
        Ok(Engine::new(Arc::new(super::journal::SqliteJournal::open(path)?)))
    }

    /// Its journal.
    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.inner.journal
    }

    /// Registers a workflow (before starting or recovering its runs). A second workflow of the same
    /// name is refused (`DuplicateWorkflow`).
    pub fn register(&self, workflow: Workflow) -> Result<()> {
        let def = workflow.def;
        let mut map = self.inner.workflows.write();
        if map.contains_key(&def.name) {
            return Err(Error::new(
                ErrorCode::DuplicateWorkflow,
                format!(
                    "a workflow named '{}' is already registered with this engine; give the new one another name",
                    def.name
                ),
            ));
        }
        let metrics = WorkflowMetrics::new(&self.inner.registry, &def)?;
        let name: Arc<str> = def.name.as_str().into();
        map.insert(def.name.clone(), Arc::new(Registered { def, name, metrics }));
        Ok(())
    }

    /// The names of the registered workflows, sorted.
    pub fn workflows(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.workflows.read().keys().cloned().collect();
        v.sort();
        v
    }

    fn workflow(&self, name: &str) -> Result<Arc<Registered>> {
        let found = self.inner.workflows.read().get(name).cloned();
        found.ok_or_else(|| {
            let known = self.workflows();
            Error::new(
                ErrorCode::WorkflowNotFound,
                format!(
                    "no workflow named '{name}' is registered (registered: {}); register it with `Engine::register` first",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            )
        })
    }

    /// Starts a run of `workflow` with a generated id and waits for its end (see
    /// [`RunHandle::wait`]).
    pub async fn run(&self, workflow: &str, input: Value) -> Result<Map<String, Value>> {
        self.start(workflow, input, None).await?.wait().await
    }

    /// Starts a run and returns once its creation is journaled. With `run_id` given and a run of
    /// that id already known (running, finished, or unfinished in the journal) this returns that
    /// run instead (an unfinished one not running here is taken up by its recovery policy); a run
    /// of another workflow with that id is `RunIdConflict`.
    pub async fn start(&self, workflow: &str, input: Value, run_id: Option<&str>) -> Result<RunHandle> {
        let wf = self.workflow(workflow)?;
        let id: Arc<str> = match run_id {
            Some(id) => {
                if id.is_empty() || id.len() > MAX_RUN_ID_LEN {
                    return Err(Error::invalid_argument(format!(
                        "a run id must have 1 to {MAX_RUN_ID_LEN} bytes, got {}",
                        id.len()
                    )));
                }
                if let Some(h) = self.existing(&wf, id).await? {
                    return Ok(h);
                }
                id.into()
            }
            None => generated_id().into(),
        };
        let def = &wf.def;
        let run_trace = RunTrace::default();
        let created = Event::RunCreated {
            workflow: def.name.clone(),
            input,
            stages: def.stages.iter().map(|s| s.name.clone()).collect(),
            trace: run_trace.fresh(&def.name, &id),
        };
        let mut info =
            RunInfo::created(&Entry { run_id: id.clone(), seq: 0, at_ms: now_ms(), event: created.clone() })
                .expect("a RunCreated entry");
        info.last_seq = 0;
        let entry = RunEntry::traced(info, run_trace);
        {
            let mut active = self.inner.active.lock();
            if let Some(other) = active.get(&id) {
                // Another start of the same id won the race: this run was never made.
                entry.trace.discard();
                return self.same_workflow(&wf, other.clone());
            }
            active.insert(id.clone(), entry.clone());
        }
        let exec = Exec { engine: self.inner.clone(), wf: wf.clone(), run: entry.clone() };
        let roots: Vec<usize> = (0..def.stages.len()).filter(|&i| def.deps[i].is_empty()).collect();
        // One journal write: creation, running, the first stages started.
        let mut events = vec![created, Event::RunState { state: RunState::Running, error: None }];
        events.extend(
            roots.iter().map(|&i| Event::StageStarted { stage: def.stages[i].name.clone(), attempt: 1 }),
        );
        if let Err(e) = exec.commit(events).await {
            self.inner.active.lock().remove(&id);
            entry.trace.end(RunState::Pending, Some(&ErrorRecord::from_error(&e)));
            return Err(e);
        }
        tokio::spawn(exec.drive(Mode::Fresh(roots)));
        Ok(RunHandle { entry })
    }

    fn same_workflow(&self, wf: &Registered, entry: Arc<RunEntry>) -> Result<RunHandle> {
        if *entry.workflow != *wf.name {
            return Err(Error::new(
                ErrorCode::RunIdConflict,
                format!(
                    "run id '{}' already belongs to a run of workflow '{}', not '{}'; use another id",
                    entry.id, entry.workflow, wf.name
                ),
            ));
        }
        Ok(RunHandle { entry })
    }

    /// The run with this id if it exists, taken up if it is unfinished and not running here.
    async fn existing(&self, wf: &Arc<Registered>, id: &str) -> Result<Option<RunHandle>> {
        if let Some(e) = self.inner.active.lock().get(id).cloned() {
            return self.same_workflow(wf, e).map(Some);
        }
        let Some(entries) = self.inner.journal.load_run(id).await? else { return Ok(None) };
        let info = self.fold(id, entries)?;
        if info.workflow != *wf.name {
            return self.same_workflow(wf, RunEntry::new(info)).map(Some);
        }
        if info.state.is_final() {
            return Ok(Some(RunHandle { entry: RunEntry::new(info) }));
        }
        match self.take_up(wf.clone(), info, None)? {
            Ok(h) => Ok(Some(h)),
            Err(reason) => Err(Error::new(ErrorCode::InvalidWorkflow, reason)),
        }
    }

    fn fold(&self, id: &str, entries: Vec<Entry>) -> Result<RunInfo> {
        RunInfo::from_entries(entries).ok_or_else(|| {
            Error::new(
                ErrorCode::JournalError,
                format!("the journal's entries of run '{id}' do not begin with its creation; the journal is damaged"),
            )
        })
    }

    /// Puts an unfinished run from the journal back to work. `Ok(Err(reason))` when it cannot be.
    fn take_up(
        &self,
        wf: Arc<Registered>,
        info: RunInfo,
        force: Option<Mode>,
    ) -> Result<std::result::Result<RunHandle, String>> {
        let names: Vec<&str> = info.stages.iter().map(|s| s.name.as_str()).collect();
        let now: Vec<&str> = wf.def.stages.iter().map(|s| s.name.as_str()).collect();
        if names != now {
            return Ok(Err(format!(
                "run '{}' was started with stages [{}] but workflow '{}' now has [{}]; register the definition it was started with to recover it",
                info.run_id,
                names.join(", "),
                wf.name,
                now.join(", ")
            )));
        }
        let mode = match force {
            Some(m) => m,
            None if info.state == RunState::Compensating => Mode::Resume,
            None => match wf.def.recovery {
                RecoveryPolicy::Resume => Mode::Resume,
                RecoveryPolicy::Compensate => Mode::Compensate(interrupted(&info)),
            },
        };
        let first_trace = info.trace.clone();
        let entry = RunEntry::new(info);
        {
            let mut active = self.inner.active.lock();
            if let Some(e) = active.get(&entry.id) {
                return Ok(Ok(RunHandle { entry: e.clone() }));
            }
            active.insert(entry.id.clone(), entry.clone());
        }
        entry.trace.resumed(&entry.workflow, &entry.id, first_trace.as_deref());
        let exec = Exec { engine: self.inner.clone(), wf, run: entry.clone() };
        tokio::spawn(exec.drive(mode));
        Ok(Ok(RunHandle { entry }))
    }

    /// A handle to a run: in flight here, or from the journal. Waiting on a run that is unfinished
    /// in the journal but not running in this engine fails at once (call [`Engine::recover`] to
    /// take it up).
    pub async fn handle(&self, run_id: &str) -> Result<RunHandle> {
        if let Some(e) = self.inner.active.lock().get(run_id).cloned() {
            return Ok(RunHandle { entry: e });
        }
        let entries = self.inner.journal.load_run(run_id).await?.ok_or_else(|| not_found(run_id))?;
        let entry = RunEntry::new(self.fold(run_id, entries)?);
        if entry.done.borrow().is_none() {
            entry.done.send_replace(Some(Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "run '{run_id}' is unfinished but not running in this engine; call `recover()` to take it up"
                ),
            ))));
        }
        Ok(RunHandle { entry })
    }

    /// A run's state, stages, attempts, errors and timings.
    pub async fn get(&self, run_id: &str) -> Result<RunInfo> {
        Ok(self.handle(run_id).await?.info())
    }

    /// Waits for a run's end (see [`RunHandle::wait`]). A run unfinished in the journal and not
    /// running in this engine is an error: call [`Engine::recover`] first.
    pub async fn wait(&self, run_id: &str) -> Result<Map<String, Value>> {
        self.handle(run_id).await?.wait().await
    }

    /// Runs in the journal, oldest first.
    pub async fn list(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        self.inner.journal.list(filter).await
    }

    /// Cancels a run and waits until its completed stages are compensated; returns its final
    /// state (`cancelled`, or `compensation_failed`). A finished run is returned unchanged. The
    /// stages in flight are abandoned (dropped) and journaled as failed; they are not compensated.
    pub async fn cancel(&self, run_id: &str) -> Result<RunInfo> {
        let active = self.inner.active.lock().get(run_id).cloned();
        let handle = match active {
            Some(entry) => {
                entry.cancel.cancel();
                RunHandle { entry }
            }
            None => {
                let h = self.handle(run_id).await?;
                let info = h.info();
                if info.state.is_final() {
                    return Ok(info);
                }
                let wf = self.workflow(&info.workflow)?;
                let why = record(
                    ErrorCode::RunCancelled,
                    format!("run '{}' of workflow '{}' was cancelled", info.run_id, info.workflow),
                );
                let mode =
                    if info.state == RunState::Compensating { Mode::Resume } else { Mode::Compensate(why) };
                match self.take_up(wf, info, Some(mode))? {
                    Ok(h) => {
                        h.entry.cancel.cancel();
                        h
                    }
                    Err(reason) => return Err(Error::new(ErrorCode::InvalidWorkflow, reason)),
                }
            }
        };
        let _ = handle.wait().await;
        Ok(handle.info())
    }

    /// Takes up every unfinished run in the journal by its workflow's recovery policy (register the
    /// workflows first). Runs already compensating carry on compensating. Returns what was taken
    /// up; runs of unknown workflows are reported in `unrecovered` and left as they are. Wait for
    /// the runs with [`Engine::wait`].
    pub async fn recover(&self) -> Result<Recovery> {
        let runs = self.inner.journal.unfinished().await?;
        let mut out = Recovery::default();
        for entries in runs {
            let id = entries.first().map(|e| e.run_id.to_string()).unwrap_or_default();
            let info = match self.fold(&id, entries) {
                Ok(i) => i,
                Err(e) => {
                    out.unrecovered.push(UnrecoveredRun {
                        run_id: id,
                        workflow: String::new(),
                        reason: e.message().to_string(),
                    });
                    continue;
                }
            };
            if self.inner.active.lock().contains_key(info.run_id.as_str()) {
                continue;
            }
            let wf = match self.workflow(&info.workflow) {
                Ok(w) => w,
                Err(e) => {
                    out.unrecovered.push(UnrecoveredRun {
                        run_id: info.run_id,
                        workflow: info.workflow,
                        reason: e.message().to_string(),
                    });
                    continue;
                }
            };
            let compensating =
                info.state == RunState::Compensating || wf.def.recovery == RecoveryPolicy::Compensate;
            let (run_id, workflow) = (info.run_id.clone(), info.workflow.clone());
            match self.take_up(wf, info, None)? {
                Ok(_) if compensating => out.compensating.push(run_id),
                Ok(_) => out.resumed.push(run_id),
                Err(reason) => out.unrecovered.push(UnrecoveredRun { run_id, workflow, reason }),
            }
        }
        Ok(out)
    }

    /// How many runs are in flight in this engine.
    pub fn active_runs(&self) -> usize {
        self.inner.active.lock().len()
    }
}

fn not_found(run_id: &str) -> Error {
    Error::new(
        ErrorCode::RunNotFound,
        format!(
            "no run with id '{run_id}' in this engine or its journal; check the id (runs are listed by `list`)"
        ),
    )
}

fn interrupted(info: &RunInfo) -> super::run::ErrorRecord {
    let in_flight: Vec<&str> =
        info.stages.iter().filter(|s| s.state == StageState::Running).map(|s| s.name.as_str()).collect();
    record(
        ErrorCode::RunInterrupted,
        format!(
            "run '{}' of workflow '{}' was interrupted (its process stopped{}) and its recovery policy is 'compensate'",
            info.run_id,
            info.workflow,
            if in_flight.is_empty() {
                String::new()
            } else {
                format!(" during stage(s) {}", in_flight.join(", "))
            }
        ),
    )
}
