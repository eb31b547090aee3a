//! The Lua scripts, one per step that touches several keys, each with the shared helpers
//! (`lua/common.lua`) in front, and how they are called.
//!
//! A script runs atomically on the server and reads the server's clock. It is called by its SHA
//! (EVALSHA) and loaded again when the server answers NOSCRIPT (a restarted server has forgotten
//! it). A call that fails for a reason that may pass (the connection dropped, the server is
//! loading its data after a restart, a failover) is retried a few times with backoff: every
//! script is safe to repeat.

use std::sync::LazyLock;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{ErrorKind, RedisError, Script, ServerErrorKind, Value};

use crate::error::{Error, ErrorCode, Result};

macro_rules! script {
    ($(#[$doc:meta])* $name:ident = $($file:literal),+) => {
        $(#[$doc])*
        pub(super) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(include_str!("lua/common.lua"), $(include_str!($file)),+))
        });
    };
}

script!(
    /// Adds jobs (dedup by id in any state).
    ADD = "lua/add.lua"
);
script!(
    /// Leases ready jobs within the queue's limits.
    CLAIM = "lua/claim.lua"
);
script!(
    /// Records outcomes (fenced by the lease's token); purges expired completed jobs.
    FINISH = "lua/finish.lua"
);
script!(
    /// Extends leases.
    RENEW = "lua/renew.lua"
);
script!(
    /// Hands expired leases back, or to the dead-letter queue.
    REAP = "lua/reap.lua"
);
script!(
    /// Records progress (fenced).
    PROGRESS = "lua/progress.lua"
);
script!(
    /// One job.
    GET = "lua/info.lua", "lua/get.lua"
);
script!(
    /// A page of the dead-letter queue.
    DEAD = "lua/info.lua", "lua/dead.lua"
);
script!(
    /// Removes a job that is not running.
    REMOVE = "lua/remove.lua"
);
script!(
    /// Puts dead jobs back with fresh attempts.
    RETRY_DEAD = "lua/retry_dead.lua"
);
script!(
    /// Sets the queue's limits.
    LIMITS = "lua/limits.lua"
);
script!(
    /// Pauses or resumes.
    PAUSE = "lua/pause.lua"
);
script!(
    /// Counts jobs per state.
    COUNTS = "lua/counts.lua"
);
script!(
    /// A schedule's firing: moves its watermark and adds its job, once per slot.
    FIRE = "lua/fire.lua"
);
script!(
    /// Takes or keeps the scheduler's leader lease.
    LEASE = "lua/lease.lua"
);
script!(
    /// Ends a held lease now.
    RELEASE = "lua/release.lua"
);

/// A failure that may pass: the call is worth repeating.
pub(super) fn transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::ReadOnly
            )
        )
}

/// Where calls go and how hard they try.
pub(super) struct Caller {
    pub(super) conn: ConnectionManager,
    /// Repeats of a call that failed transiently.
    pub(super) retries: u32,
    /// What error messages name the server by (its URL without a password).
    pub(super) server: String,
}

impl Caller {
    /// Runs `script` on the queue's `keys` with `args`, retrying transient failures with
    /// exponential backoff (100 ms doubling, half of it random) before answering `Q002`.
    pub(super) async fn eval(&self, script: &Script, keys: &[String], args: &[Vec<u8>]) -> Result<Value> {
        let mut delay = Duration::from_millis(100);
        let mut tried = 0;
        loop {
            let mut call = script.prepare_invoke();
            for k in keys {
                call.key(k);
            }
            for a in args {
                call.arg(&a[..]);
            }
            let mut conn = self.conn.clone();
            match call.invoke_async::<Value>(&mut conn).await {
                Ok(v) => return Ok(v),
                Err(e) if tried < self.retries && transient(&e) => {
                    tried += 1;
                    tracing::debug!(server = %self.server, error = %e, tried, "queue store: retrying a Redis call");
                    let half = delay / 2;
                    tokio::time::sleep(half + half.mul_f64(fastrand::f64())).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(self.failed(&e)),
            }
        }
    }

    pub(super) fn failed(&self, e: &RedisError) -> Error {
        let hint = if transient(e) {
            "check that Redis is running and reachable; the call was tried again and may be repeated safely"
        } else {
            "the server refused the call"
        };
        Error::new(ErrorCode::QueueStoreFailed, format!("queue store '{}': {e}; {hint}", self.server))
    }
}
