//! The supervisor's actor: the one task that owns every child's state and handles one event at a
//! time (a child lost, a manual restart, a new instance, a listing). A lost child goes through the
//! restart policy and the crash hook, then its restart budget, then the strategy that says which
//! children restart with it.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::types::{
    ChildInfo, ChildOptions, ChildState, CrashDecision, RestartBackoff, RestartPolicy, Strategy,
};
use super::{Supervisor, SupervisorState};
use crate::error::{Error, ErrorCode, Result};
use crate::process::child::{ChildProcess, LostReason};
use crate::process::host::ProcessHost;
use crate::process::spec::ChildSpec;
use crate::telemetry::{Span, SpanKind};

#[derive(Debug, Clone)]
pub(super) enum Entry {
    Child(Box<ChildOptions>),
    Nested { sup: Supervisor, critical: bool },
}

impl Entry {
    pub(super) fn name(&self) -> String {
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

pub(super) enum Ev {
    Lost { unit: usize, epoch: u64, reason: LostReason },
    Restart { name: String, reply: oneshot::Sender<Result<()>> },
    StartChild { args: Vec<String>, reply: oneshot::Sender<Result<usize>> },
    Children { reply: oneshot::Sender<Vec<ChildInfo>> },
    Processes { reply: oneshot::Sender<Vec<(ChildInfo, Option<Arc<ChildProcess>>)>> },
}

pub(super) struct Unit {
    pub(super) entry: usize,
    pub(super) index: usize,
    pub(super) spec: Option<ChildSpec>,
    pub(super) current: Option<Arc<ChildProcess>>,
    pub(super) epoch: u64,
    pub(super) state: ChildState,
    pub(super) restarts: u32,
    pub(super) last_exit: Option<String>,
}

pub(super) struct Actor {
    pub(super) sup: Supervisor,
    pub(super) host: ProcessHost,
    pub(super) entries: Vec<Entry>,
    pub(super) budgets: Vec<VecDeque<Instant>>,
    pub(super) units: Vec<Unit>,
    pub(super) tx: mpsc::UnboundedSender<Ev>,
    pub(super) stopping: CancellationToken,
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

    pub(super) async fn start_unit(&mut self, u: usize) -> Result<()> {
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

    pub(super) async fn stop_all(&mut self) {
        for u in (0..self.units.len()).rev() {
            self.stop_unit(u).await;
        }
    }

    fn fail(&self, why: String) {
        tracing::error!(supervisor = %self.sup.name(), "{why}");
        self.sup.inner.state.send_replace(SupervisorState::Failed(why));
    }

    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Ev>) {
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
                Ev::Processes { reply } => {
                    let _ = reply.send(
                        (0..self.units.len())
                            .map(|u| (self.info(u), self.units[u].current.clone()))
                            .collect(),
                    );
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
        if let Some(h) = hook {
            match h(self.info(u), reason.clone()).await {
                CrashDecision::Default => {}
                d => decision = d,
            }
        }
        if self.stopping.is_cancelled() {
            return None;
        }
        match decision {
            CrashDecision::Ignore | CrashDecision::Default => None,
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
        // The restart is a span of the supervisor's (docs/OBSERVABILITY.md, "Supervisor restarts"):
        // from the decision to the group running again, each start a child span.
        let mut span = Span::start(format!("restart {name}"), SpanKind::Internal, None);
        span.set_attribute("omnitron.supervisor", self.sup.name().to_string());
        span.set_attribute("process.name", name.clone());
        span.set_attribute("process.index", self.units[u].index as i64);
        span.set_attribute("omnitron.restart.attempt", i64::from(attempt));
        span.set_attribute("omnitron.restart.reason", reason.to_string());
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
            let mut start = Span::start(
                format!("start {}[{}]", self.entries[self.units[v].entry].name(), self.units[v].index),
                SpanKind::Internal,
                Some(span.context()),
            );
            let started = self.start_unit(v).await;
            if let Err(err) = &started {
                start.set_error(err.code().as_str(), err.message());
                span.set_error(err.code().as_str(), err.message());
            } else if let Some(pid) = self.units[v].current.as_ref().map(|c| c.pid) {
                start.set_attribute("process.pid", i64::from(pid));
            }
            start.end();
            if let Err(err) = started {
                self.units[v].state = ChildState::Stopped;
                let epoch = self.units[v].epoch;
                let _ = self.tx.send(Ev::Lost {
                    unit: v,
                    epoch,
                    reason: LostReason::StartFailed(err.message().to_string()),
                });
            }
        }
        span.end();
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
