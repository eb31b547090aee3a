//! How a pool is set up: [`PoolOptions`], the [`PoolSize`] it starts with and the [`Strategy`] that
//! picks a worker for each task, with the checks `Pool::start` runs on them.

use std::time::Duration;

use crate::error::{Error, ErrorCode, Result};
use crate::metrics::Registry;
use crate::process::host::ProcessHost;
use crate::process::spec::ChildSpec;

/// How a pool picks a worker for a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Each worker in turn.
    #[default]
    RoundRobin,
    /// The worker with the fewest tasks in flight.
    LeastLoaded,
    /// Two workers at random, the less loaded of them (nearly least-loaded, without a scan).
    PowerOfTwo,
}

impl std::str::FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Strategy> {
        match s {
            "round-robin" | "round_robin" | "roundRobin" => Ok(Strategy::RoundRobin),
            "least-loaded" | "least_loaded" | "leastLoaded" | "least-connections" => {
                Ok(Strategy::LeastLoaded)
            }
            "power-of-two" | "power_of_two" | "powerOfTwo" | "p2c" => Ok(Strategy::PowerOfTwo),
            other => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("unknown pool strategy '{other}' (round-robin, least-loaded, power-of-two)"),
            )),
        }
    }
}

/// How many workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolSize {
    /// This many.
    Fixed(usize),
    /// As many as CPUs.
    Auto,
}

impl PoolSize {
    /// The number it stands for.
    pub fn resolve(self) -> usize {
        match self {
            PoolSize::Fixed(n) => n,
            PoolSize::Auto => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }
}

/// The longest time limit a task is given (a longer one is taken as this).
pub(super) const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// How a pool is set up.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// The pool's name (for metrics and logs; default: the child's name).
    pub name: String,
    /// The worker program.
    pub spec: ChildSpec,
    /// Workers to start with.
    pub size: PoolSize,
    /// Fewest workers when scaling down (default: `size`).
    pub min: Option<usize>,
    /// Most workers when scaling up on queue depth (default: `size`, no autoscaling).
    pub max: Option<usize>,
    /// How a worker is picked.
    pub strategy: Strategy,
    /// Start every worker and wait for it before `start` returns (default true).
    pub warmup: bool,
    /// Tasks in flight per worker (default 32).
    pub concurrency: usize,
    /// Tasks waiting for a worker before `exec` fails with `QueueFull` (default 10,000).
    pub queue_limit: usize,
    /// How long a task may take, waiting included (default 30 s).
    pub task_timeout: Duration,
    /// Times a task is retried on another worker when its worker dies (default 1).
    pub task_retries: u32,
    /// Replace a worker after it has finished this many tasks.
    pub recycle_after: Option<u64>,
    /// Replace a worker after it has run this long.
    pub max_lifetime: Option<Duration>,
    /// The service tasks are sent to (default: the first one each worker registers).
    pub service: Option<String>,
    /// How long the pool must be idle before it scales down (default 10 s).
    pub idle_timeout: Duration,
    /// Where the pool's metrics go (default: the global registry).
    pub registry: Registry,
    /// The host workers connect to (default: the process-wide one).
    pub host: Option<ProcessHost>,
}

impl PoolOptions {
    /// A pool of `spec` with the defaults.
    pub fn new(spec: ChildSpec) -> Self {
        PoolOptions {
            name: spec.name.clone(),
            spec,
            size: PoolSize::Fixed(2),
            min: None,
            max: None,
            strategy: Strategy::RoundRobin,
            warmup: true,
            concurrency: 32,
            queue_limit: 10_000,
            task_timeout: Duration::from_secs(30),
            task_retries: 1,
            recycle_after: None,
            max_lifetime: None,
            service: None,
            idle_timeout: Duration::from_secs(10),
            registry: Registry::global().clone(),
            host: None,
        }
    }

    pub(super) fn validate(&self) -> Result<(usize, usize, usize)> {
        let size = self.size.resolve();
        let min = self.min.unwrap_or(size);
        let max = self.max.unwrap_or(size.max(min));
        let bad =
            |why: String| Err(Error::new(ErrorCode::InvalidArgument, format!("pool '{}': {why}", self.name)));
        if max == 0 {
            return bad("needs at least one worker (size or max above 0)".into());
        }
        if min > max || size > max || size < min {
            return bad(format!("min {min} <= size {size} <= max {max} does not hold"));
        }
        if self.concurrency == 0 {
            return bad("concurrency must be at least 1".into());
        }
        if self.task_timeout.is_zero() {
            return bad("task timeout must be above 0".into());
        }
        Ok((size, min, max))
    }
}
