//! Supervision trees: children (processes, or nested supervisors) restarted by a strategy within a
//! restart budget, with crash and restart hooks.
//!
//! One task (the supervisor's actor) owns every child's state and handles one event at a time:
//! a crash, a manual restart, a stop. That is what makes concurrent start/stop/crash safe: the
//! original framework raced here.
//!
//! This file holds the handle, [`Supervisor`]: adding children, setting hooks, start, stop, and
//! the requests it sends to the running actor. Beside it in `supervisor/`:
//!
//! - `types.rs`: the settings ([`SupervisorOptions`], [`ChildOptions`], [`Strategy`],
//!   [`RestartPolicy`], [`RestartBackoff`]), what hooks decide and see, the states;
//! - `actor.rs`: the actor's loop: starting and stopping children, a lost child, the restart budget
//!   and the restart strategies.

mod actor;
mod types;

pub use types::{
    ChildInfo, ChildOptions, ChildState, CrashDecision, CrashHook, RestartBackoff, RestartHook,
    RestartPolicy, Strategy, SupervisorOptions, SupervisorState,
};

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::child::{ChildProcess, LostReason};
use super::host::ProcessHost;
use crate::error::{Error, ErrorCode, Result};
use crate::metrics::{CounterVec, MetricOptions};
use actor::{Actor, Entry, Ev, Unit};
use types::BoxFuture;

struct Running {
    tx: mpsc::UnboundedSender<Ev>,
    stopping: CancellationToken,
    actor: tokio::task::JoinHandle<()>,
}

struct SupInner {
    opts: SupervisorOptions,
    entries: Mutex<Vec<Entry>>,
    on_crash: Mutex<Option<CrashHook>>,
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

    /// Every child with its running process, if it has one (what the status page asks each
    /// process for its report through).
    pub async fn processes(&self) -> Vec<(ChildInfo, Option<Arc<ChildProcess>>)> {
        let Ok(tx) = self.sender() else { return Vec::new() };
        let (reply, rx) = oneshot::channel();
        if tx.send(Ev::Processes { reply }).is_err() {
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
