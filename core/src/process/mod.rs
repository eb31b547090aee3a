//! Processes in any language: spawned, connected back over RPC, pooled and supervised.
//!
//! - [`ChildSpec`]: a program to run (any language). The parent passes its socket address, an auth
//!   token and the child's id in the environment ([`ENV_PARENT`], [`ENV_TOKEN`], [`ENV_CHILD_ID`]);
//!   the child connects back, registers its services and reports ready ([`worker`]).
//! - [`ProcessHost`]: the parent's endpoint; [`ProcessHost::spawn`] gives a ready [`ChildProcess`].
//! - [`Pool`]: workers that run tasks, with strategies, a bounded queue, retries when a worker dies,
//!   recycling and autoscaling; `map` sends items in chunks to workers that take them ([`batch`]).
//! - [`Supervisor`]: restart strategies, budgets, backoff, hooks, health pings, nesting.
//!
//! No orphans: every child gets `PR_SET_PDEATHSIG(SIGKILL)` and its own process group, so a parent
//! killed with SIGKILL takes its children with it.

pub mod batch;
mod child;
pub mod control;
mod host;
pub mod json;
mod metrics;
mod options;
mod os;
mod pool;
mod spec;
mod supervisor;
pub mod worker;

pub use child::{ChildProcess, LostReason};
pub use host::ProcessHost;
pub use os::{Exit, OutputLine, OutputSink, Stream};
pub use pool::{
    MapItems, MapOptions, MapPart, MapResults, Pool, PoolOptions, PoolSize, PoolStatus, PoolTask,
    Strategy as PoolStrategy,
};
pub use spec::{
    ChildSpec, ENV_CHILD_ID, ENV_CHILD_INDEX, ENV_CHILD_NAME, ENV_PARENT, ENV_TOKEN, HOST_SERVICE,
    HealthCheck, split_words,
};
pub use supervisor::{
    ChildInfo, ChildOptions, ChildState, CrashDecision, CrashHook, RestartBackoff, RestartHook,
    RestartPolicy, Strategy, Supervisor, SupervisorOptions, SupervisorState,
};
