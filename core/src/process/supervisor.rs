//! Supervision trees: children (processes, or nested supervisors) restarted by a strategy within a
//! restart budget, with crash and restart hooks.
//!
//! One task (the supervisor's actor) owns every child's state and handles one event at a time:
//! a crash, a manual restart, a stop. That is what makes concurrent start/stop/crash safe: the
//! original framework raced here.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::child::{ChildProcess, LostReason};
use super::host::ProcessHost;
use super::spec::ChildSpec;
use crate::error::{Error, ErrorCode, Result};
use crate::metrics::{CounterVec, MetricOptions, Registry};

/// Which children restart when one crashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the crashed one.
    #[default]
    OneForOne,
    /// All of them (stopped in reverse order, started in order).
    OneForAll,
    /// The crashed one and every child started after it.
    RestForOne,
    /// One template, many dynamically added instances ([`Supervisor::start_child`]), each restarted
    /// on its own.
    SimpleOneForOne,
}

impl std::str::FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Strategy> {
        match s {
            "one-for-one" | "one_for_one" | "oneForOne" => Ok(Strategy::OneForOne),
            "one-for-all" | "one_for_all" | "oneForAll" => Ok(Strategy::OneForAll),
            "rest-for-one" | "rest_for_one" | "restForOne" => Ok(Strategy::RestForOne),
            "simple-one-for-one" | "simple_one_for_one" | "simpleOneForOne" => Ok(Strategy::SimpleOneForOne),
            other => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "unknown supervision strategy '{other}' (one-for-one, one-for-all, rest-for-one, simple-one-for-one)"
                ),
            )),
        }
    }
}

/// When a child that ended is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// Whenever it ends (Erlang's permanent).
    #[default]
    Always,
    /// Only when it fails: a clean exit (code 0) is left alone (transient).
    OnFailure,
    /// Never (temporary).
    Never,
}

impl std::str::FromStr for RestartPolicy {
    type Err = Error;
    fn from_str(s: &str) -> Result<RestartPolicy> {
        match s {
            "always" | "permanent" => Ok(RestartPolicy::Always),
            "on-failure" | "on_failure" | "onFailure" | "transient" => Ok(RestartPolicy::OnFailure),
            "never" | "no" | "temporary" => Ok(RestartPolicy::Never),
            other => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("unknown restart policy '{other}' (always, on-failure, never)"),
            )),
        }
    }
}

/// What the crash hook decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashDecision {
    /// Restart it (by the strategy, within the budget).
    Restart,
    /// Leave it down.
    Ignore,
    /// Give up: the supervisor stops its children and fails (its parent supervisor sees a crash).
    Escalate,
    /// Stop the whole supervisor cleanly.
    Shutdown,
}

/// A child's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChildState {
    /// Being started.
    Starting,
    /// Ready and running.
    Running,
    /// Crashed, waiting out its backoff.
    Restarting,
    /// Ended and not restarted (policy, hook, or stopped).
    Stopped,
    /// Gave up after its restart budget.
    Failed,
}

/// A child as hooks and `children()` see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChildInfo {
    /// Its configured name.
    pub name: String,
    /// Its instance index.
    pub index: usize,
    /// The current process's id, while it runs.
    pub pid: Option<u32>,
    /// Its state.
    pub state: ChildState,
    /// Times it was restarted.
    pub restarts: u32,
    /// How it last ended.
    pub last_exit: Option<String>,
    /// Whether its exhausted budget escalates.
    pub critical: bool,
}

/// Exponential backoff between restarts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RestartBackoff {
    /// Delay before the first restart.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Growth per restart within the window.
    pub factor: f64,
}

impl Default for RestartBackoff {
    fn default() -> Self {
        RestartBackoff { initial: Duration::from_millis(100), max: Duration::from_secs(5), factor: 2.0 }
    }
}

impl RestartBackoff {
    fn delay(&self, attempt: u32) -> Duration {
        let f = self.factor.max(1.0).powi(attempt.saturating_sub(1).min(30) as i32);
        self.initial.mul_f64(f).min(self.max)
    }
}

/// A supervisor's settings.
#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    /// Its name (logs, metrics, errors).
    pub name: String,
    /// Which children restart together.
    pub strategy: Strategy,
    /// Restarts allowed per child within `window` (default 3).
    pub max_restarts: u32,
    /// The budget's window (default 60 s).
    pub window: Duration,
    /// Delay between restarts.
    pub backoff: RestartBackoff,
    /// Where restarts are counted.
    pub registry: Registry,
    /// The host children connect to (default: the process-wide one).
    pub host: Option<ProcessHost>,
}

impl SupervisorOptions {
    /// Defaults, named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        SupervisorOptions {
            name: name.into(),
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            window: Duration::from_secs(60),
            backoff: RestartBackoff::default(),
            registry: Registry::global().clone(),
            host: None,
        }
    }

    /// With a strategy.
    pub fn strategy(mut self, s: Strategy) -> Self {
        self.strategy = s;
        self
    }

    /// With a budget: `n` restarts within `window`.
    pub fn budget(mut self, n: u32, window: Duration) -> Self {
        self.max_restarts = n;
        self.window = window;
        self
    }
}

/// A supervised child program.
#[derive(Debug, Clone)]
pub struct ChildOptions {
    /// What to run.
    pub spec: ChildSpec,
    /// How many instances (default 1).
    pub instances: usize,
    /// An exhausted budget escalates to the parent supervisor instead of leaving it down.
    pub critical: bool,
    /// When it is restarted.
    pub restart: RestartPolicy,
    /// Its own budget, instead of the supervisor's.
    pub max_restarts: Option<u32>,
    /// Its own window, instead of the supervisor's.
    pub window: Option<Duration>,
    /// Its own first restart delay, instead of the supervisor's.
    pub restart_delay: Option<Duration>,
}

impl ChildOptions {
    /// One instance of `spec`, restarted always, not critical.
    pub fn new(spec: ChildSpec) -> Self {
        ChildOptions {
            spec,
            instances: 1,
            critical: false,
            restart: RestartPolicy::Always,
            max_restarts: None,
            window: None,
            restart_delay: None,
        }
    }

    /// With `n` instances.
    pub fn instances(mut self, n: usize) -> Self {
        self.instances = n;
        self
    }

    /// Marked critical.
    pub fn critical(mut self, c: bool) -> Self {
        self.critical = c;
        self
    }

    /// With a restart policy.
    pub fn restart(mut self, r: RestartPolicy) -> Self {
        self.restart = r;
        self
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// Decides what happens when a child ends unexpectedly.
pub type CrashHook = Arc<dyn Fn(ChildInfo, LostReason) -> BoxFuture<CrashDecision> + Send + Sync>;
/// How a crash hook is kept: `None` leaves the restart policy's decision.
type StoredCrashHook = Arc<dyn Fn(ChildInfo, LostReason) -> BoxFuture<Option<CrashDecision>> + Send + Sync>;
/// Told about each restart, with the attempt number within the window.
pub type RestartHook = Arc<dyn Fn(ChildInfo, u32) -> BoxFuture<()> + Send + Sync>;

#[derive(Debug, Clone)]
enum Entry {
    Child(Box<ChildOptions>),
    Nested { sup: Supervisor, critical: bool },
}

impl Entry {
    fn name(&self) -> String {
        match self {
            Entry::Child(c) => c.spec.name.clone(),
            Entry::Nested { sup, .. } => sup.inner.opts.name.clone(),
        }
    }
    fn critical(&self) -> bool {
        match self {
            Entry::Child(c) => c.critical,
            Entry::Nested { critical, .. } => *critical,
        }
    }
}

/// Where a supervisor is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorState {
    /// Not started.
    Idle,
    /// Running.
    Running,
    /// Stopped (by `stop` or a crash hook's shutdown).
    Stopped,
    /// Failed: a critical child exhausted its budget, or a hook escalated.
    Failed(String),
}

struct Running {
    tx: mpsc::UnboundedSender<Ev>,
    stopping: CancellationToken,
    actor: tokio::task::JoinHandle<()>,
}

struct SupInner {
    opts: SupervisorOptions,
    entries: Mutex<Vec<Entry>>,
    on_crash: Mutex<Option<StoredCrashHook>>,
    on_restart: Mutex<Option<RestartHook>>,
    life: tokio::sync::Mutex<()>,
    running: Mutex<Option<Running>>,
    state: watch::Sender<SupervisorState>,
    restarts: Option<CounterVec>,
}

/// A supervisor. Cheap to clone; every clone is the same supervisor.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<SupInner>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("name", &self.inner.opts.name)
            .field("state", &self.state())
            .finish()
    }
}

enum Ev {
    Lost { unit: usize, epoch: u64, reason: LostReason },
    Restart { name: String, reply: oneshot::Sender<Result<()>> },
    StartChild { args: Vec<String>, reply: oneshot::Sender<Result<usize>> },
    Children { reply: oneshot::Sender<Vec<ChildInfo>> },
}

struct Unit {
    entry: usize,
    index: usize,
    spec: Option<ChildSpec>,
    current: Option<Arc<ChildProcess>>,
    epoch: u64,
    state: ChildState,
    restarts: u32,
    last_exit: Option<String>,
}

struct Actor {
    sup: Supervisor,
    host: ProcessHost,
    entries: Vec<Entry>,
    budgets: Vec<VecDeque<Instant>>,
    units: Vec<Unit>,
    tx: mpsc::UnboundedSender<Ev>,
    stopping: CancellationToken,
}

impl Supervisor {
    /// A supervisor with no children yet.
    pub fn new(opts: SupervisorOptions) -> Supervisor {
        let restarts = opts
            .registry
            .counter_vec(
                MetricOptions::new(
                    "omnitron_process_restarts_total",
                    "Supervised children restarted, manual restarts included",
                )
                .labels(["supervisor", "child"]),
            )
            .ok();
        Supervisor {
            inner: Arc::new(SupInner {
                opts,
                entries: Mutex::new(Vec::new()),
                on_crash: Mutex::new(None),
                on_restart: Mutex::new(None),
                life: tokio::sync::Mutex::new(()),
                running: Mutex::new(None),
                state: watch::channel(SupervisorState::Idle).0,
                restarts,
            }),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.inner.opts.name
    }

    /// Adds a child program (before `start`; started in the order added).
    pub fn add_child(&self, child: ChildOptions) -> Result<()> {
        let mut e = self.inner.entries.lock();
        if e.iter().any(|x| x.name() == child.spec.name) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("supervisor '{}' already has a child named '{}'", self.name(), child.spec.name),
            ));
        }
        if self.inner.opts.strategy == Strategy::SimpleOneForOne && !e.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "simple-one-for-one supervisor '{}' takes one child template; add instances with start_child",
                    self.name()
                ),
            ));
        }
        e.push(Entry::Child(Box::new(child)));
        Ok(())
    }

    /// Adds a nested supervisor as a child. A critical one's failure fails this one too.
    pub fn add_supervisor(&self, sup: Supervisor, critical: bool) -> Result<()> {
        if Arc::ptr_eq(&sup.inner, &self.inner) {
            return Err(Error::new(ErrorCode::InvalidArgument, "a supervisor cannot supervise itself"));
        }
        let mut e = self.inner.entries.lock();
        if e.iter().any(|x| x.name() == sup.name()) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("supervisor '{}' already has a child named '{}'", self.name(), sup.name()),
            ));
        }
        e.push(Entry::Nested { sup, critical });
        Ok(())
    }

    /// Sets the crash hook (the spec's `@OnChildCrash`).
    pub fn on_crash<F, Fut>(&self, f: F)
    where
        F: Fn(ChildInfo, LostReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CrashDecision> + Send + 'static,
    {
        *self.inner.on_crash.lock() = Some(Arc::new(move |i, r| {
            let fut = f(i, r);
            Box::pin(async move { Some(fut.await) })
        }));
    }

    /// Sets a crash hook that may leave the decision to the child's restart policy by returning
    /// `None` (bindings use it for hooks that return nothing).
    pub fn on_crash_or_default<F, Fut>(&self, f: F)
    where
        F: Fn(ChildInfo, LostReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<CrashDecision>> + Send + 'static,
    {
        *self.inner.on_crash.lock() = Some(Arc::new(move |i, r| Box::pin(f(i, r))));
    }

    /// Sets the restart hook (the spec's `@OnChildRestart`).
    pub fn on_restart<F, Fut>(&self, f: F)
    where
        F: Fn(ChildInfo, u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *self.inner.on_restart.lock() = Some(Arc::new(move |i, n| Box::pin(f(i, n))));
    }

    /// Starts every child in order, each ready before the next. Idempotent: a running supervisor
    /// returns at once, and concurrent calls wait for the same start. If a child cannot start, the
    /// ones started are stopped and the error says which.
    pub async fn start(&self) -> Result<()> {
        let _life = self.inner.life.lock().await;
        if self.inner.running.lock().is_some() {
            return Ok(());
        }
        let host = match &self.inner.opts.host {
            Some(h) => h.clone(),
            None => ProcessHost::shared().await?,
        };
        let entries = self.inner.entries.lock().clone();
        let (tx, rx) = mpsc::unbounded_channel();
        let stopping = CancellationToken::new();
        let mut actor = Actor {
            sup: self.clone(),
            host,
            budgets: vec![VecDeque::new(); entries.len()],
            units: Vec::new(),
            entries,
            tx: tx.clone(),
            stopping: stopping.clone(),
        };
        for (e, entry) in actor.entries.iter().enumerate() {
            let n = match entry {
                Entry::Child(c) => c.instances,
                Entry::Nested { .. } => 1,
            };
            for index in 0..n {
                actor.units.push(Unit {
                    entry: e,
                    index,
                    spec: None,
                    current: None,
                    epoch: 0,
                    state: ChildState::Starting,
                    restarts: 0,
                    last_exit: None,
                });
            }
        }
        for u in 0..actor.units.len() {
            if let Err(e) = actor.start_unit(u).await {
                actor.stop_all().await;
                return Err(e.context(format!("supervisor '{}' could not start", self.name())));
            }
        }
        let task = tokio::spawn(actor.run(rx));
        *self.inner.running.lock() = Some(Running { tx, stopping, actor: task });
        self.inner.state.send_replace(SupervisorState::Running);
        Ok(())
    }

    /// `start` behind a box: a nested supervisor's start is awaited inside its parent's.
    fn start_boxed(&self) -> BoxFuture<Result<()>> {
        let s = self.clone();
        Box::pin(async move { s.start().await })
    }

    /// Stops every child (in reverse order). A crash while stopping restarts nothing. Idempotent.
    pub async fn stop(&self) {
        let _life = self.inner.life.lock().await;
        let running = self.inner.running.lock().take();
        if let Some(r) = running {
            r.stopping.cancel();
            let _ = r.actor.await;
            self.inner.state.send_if_modified(|s| {
                if matches!(s, SupervisorState::Running) {
                    *s = SupervisorState::Stopped;
                    true
                } else {
                    false
                }
            });
        }
    }

    /// Where it is.
    pub fn state(&self) -> SupervisorState {
        self.inner.state.borrow().clone()
    }

    /// Waits until it is no longer running: `Ok` when stopped, the reason when it failed.
    pub async fn wait(&self) -> Result<()> {
        let mut rx = self.inner.state.subscribe();
        loop {
            match &*rx.borrow_and_update() {
                SupervisorState::Stopped => return Ok(()),
                SupervisorState::Failed(why) => return Err(Error::new(ErrorCode::RestartLimit, why.clone())),
                _ => {}
            }
            if rx.changed().await.is_err() {
                return Ok(());
            }
        }
    }

    fn sender(&self) -> Result<mpsc::UnboundedSender<Ev>> {
        self.inner.running.lock().as_ref().map(|r| r.tx.clone()).ok_or_else(|| {
            Error::new(ErrorCode::NotRunning, format!("supervisor '{}' is not running", self.name()))
        })
    }

    /// Restarts the child named `name` (every instance) by hand. It counts against its budget: over
    /// budget, it is refused with `RestartLimit` and the child is left as it is.
    pub async fn restart_child(&self, name: &str) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(Ev::Restart { name: name.to_string(), reply })
            .map_err(|_| Error::new(ErrorCode::NotRunning, "the supervisor stopped"))?;
        rx.await.map_err(|_| Error::new(ErrorCode::NotRunning, "the supervisor stopped"))?
    }

    /// Adds an instance of the template (simple-one-for-one), with extra arguments; its index.
    pub async fn start_child(&self, extra_args: Vec<String>) -> Result<usize> {
        if self.inner.opts.strategy != Strategy::SimpleOneForOne {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("start_child is for simple-one-for-one supervisors; '{}' is not one", self.name()),
            ));
        }
        let (reply, rx) = oneshot::channel();
        self.sender()?
            .send(Ev::StartChild { args: extra_args, reply })
            .map_err(|_| Error::new(ErrorCode::NotRunning, "the supervisor stopped"))?;
        rx.await.map_err(|_| Error::new(ErrorCode::NotRunning, "the supervisor stopped"))?
    }

    /// Every child and its state (empty when not running).
    pub async fn children(&self) -> Vec<ChildInfo> {
        let Ok(tx) = self.sender() else { return Vec::new() };
        let (reply, rx) = oneshot::channel();
        if tx.send(Ev::Children { reply }).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    fn count_restart(&self, child: &str) {
        if let Some(c) = &self.inner.restarts
            && let Ok(c) = c.with_labels(&[self.name(), child])
        {
            c.inc();
        }
    }
}

impl Actor {
    fn info(&self, u: usize) -> ChildInfo {
        let unit = &self.units[u];
        let entry = &self.entries[unit.entry];
        ChildInfo {
            name: entry.name(),
            index: unit.index,
            pid: unit.current.as_ref().map(|c| c.pid),
            state: unit.state,
            restarts: unit.restarts,
            last_exit: unit.last_exit.clone(),
            critical: entry.critical(),
        }
    }

    async fn start_unit(&mut self, u: usize) -> Result<()> {
        self.units[u].epoch += 1;
        self.units[u].state = ChildState::Starting;
        let epoch = self.units[u].epoch;
        let tx = self.tx.clone();
        match self.entries[self.units[u].entry].clone() {
            Entry::Child(c) => {
                let spec = self.units[u].spec.clone().unwrap_or(c.spec);
                let child = self.host.spawn(&spec, self.units[u].index).await?;
                self.units[u].current = Some(child.clone());
                tokio::spawn(async move {
                    let reason = child.lost().await;
                    let _ = tx.send(Ev::Lost { unit: u, epoch, reason });
                });
            }
            Entry::Nested { sup, .. } => {
                sup.start_boxed().await?;
                tokio::spawn(async move {
                    let reason = match sup.wait().await {
                        Ok(()) => LostReason::Stopped,
                        Err(e) => LostReason::StartFailed(e.message().to_string()),
                    };
                    let _ = tx.send(Ev::Lost { unit: u, epoch, reason });
                });
            }
        }
        self.units[u].state = ChildState::Running;
        Ok(())
    }

    async fn stop_unit(&mut self, u: usize) {
        self.units[u].epoch += 1; // Its loss is expected now: ignore the event.
        match &self.entries[self.units[u].entry] {
            Entry::Child(_) => {
                if let Some(c) = self.units[u].current.take() {
                    c.stop().await;
                }
            }
            Entry::Nested { sup, .. } => sup.stop().await,
        }
        if self.units[u].state != ChildState::Failed {
            self.units[u].state = ChildState::Stopped;
        }
    }

    async fn stop_all(&mut self) {
        for u in (0..self.units.len()).rev() {
            self.stop_unit(u).await;
        }
    }

    fn fail(&self, why: String) {
        tracing::error!(supervisor = %self.sup.name(), "{why}");
        self.sup.inner.state.send_replace(SupervisorState::Failed(why));
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Ev>) {
        loop {
            let ev = tokio::select! {
                biased;
                _ = self.stopping.cancelled() => break,
                ev = rx.recv() => match ev { Some(ev) => ev, None => break },
            };
            match ev {
                Ev::Lost { unit, epoch, reason } => {
                    if epoch != self.units[unit].epoch {
                        continue;
                    }
                    if let Some(end) = self.on_lost(unit, reason).await {
                        self.stop_all().await;
                        *self.sup.inner.running.lock() = None;
                        match end {
                            Ok(()) => {
                                self.sup.inner.state.send_replace(SupervisorState::Stopped);
                            }
                            Err(why) => self.fail(why),
                        }
                        return;
                    }
                }
                Ev::Restart { name, reply } => {
                    let r = self.manual_restart(&name).await;
                    let _ = reply.send(r);
                }
                Ev::StartChild { args, reply } => {
                    let r = self.add_instance(args).await;
                    let _ = reply.send(r);
                }
                Ev::Children { reply } => {
                    let _ = reply.send((0..self.units.len()).map(|u| self.info(u)).collect());
                }
            }
        }
        self.stop_all().await;
    }

    /// A child was lost. `Some(Ok)` ends the supervisor cleanly, `Some(Err)` fails it.
    async fn on_lost(&mut self, u: usize, reason: LostReason) -> Option<std::result::Result<(), String>> {
        let entry = self.entries[self.units[u].entry].clone();
        let failed = reason.is_failure();
        self.units[u].current = None;
        self.units[u].last_exit = Some(reason.to_string());
        self.units[u].state = ChildState::Stopped;
        let name = entry.name();
        if failed {
            tracing::warn!(supervisor = %self.sup.name(), child = %name, index = self.units[u].index, "child {reason}");
        }
        let mut decision = match (&entry, reason.is_failure()) {
            (Entry::Child(c), f) => match c.restart {
                RestartPolicy::Always => CrashDecision::Restart,
                RestartPolicy::OnFailure if f => CrashDecision::Restart,
                _ => CrashDecision::Ignore,
            },
            (Entry::Nested { .. }, _) => CrashDecision::Restart,
        };
        let hook = self.sup.inner.on_crash.lock().clone();
        if let Some(h) = hook
            && let Some(d) = h(self.info(u), reason.clone()).await
        {
            decision = d;
        }
        if self.stopping.is_cancelled() {
            return None;
        }
        match decision {
            CrashDecision::Ignore => None,
            CrashDecision::Shutdown => Some(Ok(())),
            CrashDecision::Escalate => Some(Err(format!(
                "supervisor '{}': the crash hook escalated '{name}' ({reason})",
                self.sup.name()
            ))),
            CrashDecision::Restart => self.restart_by_strategy(u, &reason).await,
        }
    }

    /// Takes one restart from the child's budget: the attempt number, or `None` if it is spent.
    fn take_budget(&mut self, e: usize) -> Option<u32> {
        let (max, window) = match &self.entries[e] {
            Entry::Child(c) => (
                c.max_restarts.unwrap_or(self.sup.inner.opts.max_restarts),
                c.window.unwrap_or(self.sup.inner.opts.window),
            ),
            Entry::Nested { .. } => (self.sup.inner.opts.max_restarts, self.sup.inner.opts.window),
        };
        let now = Instant::now();
        let b = &mut self.budgets[e];
        while b.front().is_some_and(|t| now.duration_since(*t) > window) {
            b.pop_front();
        }
        if b.len() as u32 >= max {
            return None;
        }
        b.push_back(now);
        Some(b.len() as u32)
    }

    fn group(&self, u: usize) -> Vec<usize> {
        match self.sup.inner.opts.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => vec![u],
            Strategy::OneForAll => (0..self.units.len()).collect(),
            Strategy::RestForOne => (u..self.units.len()).collect(),
        }
    }

    async fn restart_by_strategy(
        &mut self,
        u: usize,
        reason: &LostReason,
    ) -> Option<std::result::Result<(), String>> {
        let e = self.units[u].entry;
        let name = self.entries[e].name();
        let Some(attempt) = self.take_budget(e) else {
            self.units[u].state = ChildState::Failed;
            let (max, window) = (self.sup.inner.opts.max_restarts, self.sup.inner.opts.window);
            let why = format!(
                "supervisor '{}': child '{name}' exhausted its restart budget ({max} within {} ms); last: {reason}",
                self.sup.name(),
                window.as_millis()
            );
            if self.entries[e].critical() {
                return Some(Err(why));
            }
            tracing::error!("{why}; it stays down");
            return None;
        };
        let group = self.group(u);
        // Others in the group stop (last started first) before anything starts again.
        for &v in group.iter().rev() {
            if v != u && self.units[v].state != ChildState::Failed {
                self.stop_unit(v).await;
            }
        }
        for &v in &group {
            if self.units[v].state != ChildState::Failed {
                self.units[v].state = ChildState::Restarting;
            }
        }
        let delay = match &self.entries[e] {
            Entry::Child(c) if c.restart_delay.is_some() => {
                let initial = c.restart_delay.unwrap_or_default();
                RestartBackoff { initial, ..self.sup.inner.opts.backoff }.delay(attempt)
            }
            _ => self.sup.inner.opts.backoff.delay(attempt),
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = self.stopping.cancelled() => return None,
        }
        self.units[u].restarts += 1;
        self.sup.count_restart(&name);
        let hook = self.sup.inner.on_restart.lock().clone();
        if let Some(h) = hook {
            h(self.info(u), attempt).await;
        }
        for v in group {
            if self.units[v].state == ChildState::Failed || self.stopping.is_cancelled() {
                continue;
            }
            if let Err(err) = self.start_unit(v).await {
                self.units[v].state = ChildState::Stopped;
                let epoch = self.units[v].epoch;
                let _ = self.tx.send(Ev::Lost {
                    unit: v,
                    epoch,
                    reason: LostReason::StartFailed(err.message().to_string()),
                });
            }
        }
        None
    }

    async fn manual_restart(&mut self, name: &str) -> Result<()> {
        let Some(e) = self.entries.iter().position(|x| x.name() == name) else {
            let names: Vec<String> = self.entries.iter().map(Entry::name).collect();
            return Err(Error::new(
                ErrorCode::ChildNotFound,
                format!(
                    "supervisor '{}' has no child '{name}' (children: {})",
                    self.sup.name(),
                    names.join(", ")
                ),
            ));
        };
        if self.take_budget(e).is_none() {
            return Err(Error::new(
                ErrorCode::RestartLimit,
                format!("child '{name}' has used its restart budget; a manual restart counts too"),
            ));
        }
        self.sup.count_restart(name);
        let units: Vec<usize> = (0..self.units.len()).filter(|&u| self.units[u].entry == e).collect();
        for &u in units.iter().rev() {
            self.stop_unit(u).await;
        }
        for u in units {
            self.units[u].restarts += 1;
            self.start_unit(u).await?;
        }
        Ok(())
    }

    async fn add_instance(&mut self, args: Vec<String>) -> Result<usize> {
        let Some(Entry::Child(c)) = self.entries.first().cloned() else {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "a simple-one-for-one supervisor needs a child template",
            ));
        };
        let index = self.units.len();
        let mut spec = c.spec.clone();
        spec.args.extend(args);
        self.units.push(Unit {
            entry: 0,
            index,
            spec: Some(spec),
            current: None,
            epoch: 0,
            state: ChildState::Starting,
            restarts: 0,
            last_exit: None,
        });
        if let Err(e) = self.start_unit(index).await {
            self.units.pop();
            return Err(e);
        }
        Ok(index)
    }
}
