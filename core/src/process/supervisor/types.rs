//! A supervisor's public types: its settings ([`SupervisorOptions`], [`ChildOptions`] and the
//! [`Strategy`], [`RestartPolicy`] and [`RestartBackoff`] they name), what the crash and restart
//! hooks decide and see ([`CrashDecision`], [`ChildInfo`]), and the states of a child and of the
//! supervisor.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::metrics::Registry;
use crate::process::child::LostReason;
use crate::process::host::ProcessHost;
use crate::process::spec::ChildSpec;

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
    /// One template, many dynamically added instances
    /// ([`Supervisor::start_child`](super::Supervisor::start_child)), each restarted on its own.
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

impl std::str::FromStr for CrashDecision {
    type Err = Error;
    fn from_str(s: &str) -> Result<CrashDecision> {
        match s {
            "restart" => Ok(CrashDecision::Restart),
            "ignore" => Ok(CrashDecision::Ignore),
            "escalate" => Ok(CrashDecision::Escalate),
            "shutdown" => Ok(CrashDecision::Shutdown),
            "default" | "" => Ok(CrashDecision::Default),
            other => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("a crash hook decides 'restart', 'ignore', 'escalate' or 'shutdown', not '{other}'"),
            )),
        }
    }
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
    /// What the child's restart policy says (a hook that only observes returns this).
    Default,
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

impl ChildState {
    /// Its name: `starting`, `running`, `restarting`, `stopped`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChildState::Starting => "starting",
            ChildState::Running => "running",
            ChildState::Restarting => "restarting",
            ChildState::Stopped => "stopped",
            ChildState::Failed => "failed",
        }
    }
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
    pub(super) fn delay(&self, attempt: u32) -> Duration {
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
pub(super) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// Decides what happens when a child ends unexpectedly.
pub type CrashHook = Arc<dyn Fn(ChildInfo, LostReason) -> BoxFuture<CrashDecision> + Send + Sync>;
/// Told about each restart, with the attempt number within the window.
pub type RestartHook = Arc<dyn Fn(ChildInfo, u32) -> BoxFuture<()> + Send + Sync>;

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
