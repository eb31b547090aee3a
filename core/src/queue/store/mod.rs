//! Where a queue's jobs live. One trait, two stores with the same semantics (see
//! `docs/QUEUES.md`): [`SqliteStore`], embedded, the default; and [`RedisStore`] (feature
//! `redis`), for an application spread over machines.
//!
//! Every call names its queue: one store holds any number of queues. Times are milliseconds
//! since the Unix epoch, read from the store's clock where it has one.

#[cfg(feature = "redis")]
mod redis;
mod sqlite;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreOptions};
pub use sqlite::{SqliteStore, SqliteStoreOptions};

use super::QueueEvent;
use super::job::{Added, Counts, Finish, FinishAck, JobInfo, Leased, NewJob, Stalled};
use crate::error::Result;

/// A boxed future, as the stores return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens the store a URL names:
/// - `sqlite:<path>` (or a plain path) for the embedded store, `sqlite::memory:` for one in memory;
/// - `redis://[user:password@]host[:port][/db][?prefix=<prefix>]` (or `unix://`) for Redis, keys
///   under `prefix` (default `omni`).
///
/// In one process, every open of one file, or of one server and prefix, answers the same store, so
/// that its workers wake at once for jobs added through any handle.
pub async fn connect(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    let url = url.trim();
    if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://") {
        return connect_redis(url).await;
    }
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    if path.is_empty() || path.contains("://") {
        return Err(crate::error::Error::new(
            crate::error::ErrorCode::InvalidQueue,
            format!("queue store '{url}': write 'sqlite:<file>', 'sqlite::memory:' or 'redis://host:port'"),
        ));
    }
    sqlite::shared(path)
}

#[cfg(feature = "redis")]
async fn connect_redis(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Weak};
    static OPEN: LazyLock<parking_lot::Mutex<HashMap<String, Weak<RedisStore>>>> =
        LazyLock::new(Default::default);
    // `prefix` is ours, not the Redis client's: taken out of the query before it sees the URL.
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut prefix = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| match p.strip_prefix("prefix=") {
            Some(v) => {
                prefix = Some(v.to_string());
                false
            }
            None => true,
        })
        .collect();
    let client_url = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
    let mut opts = RedisStoreOptions::new(client_url.clone());
    if let Some(p) = prefix {
        opts = opts.prefix(p);
    }
    let key = format!("{client_url}#{}", opts.prefix);
    if let Some(s) = OPEN.lock().get(&key).and_then(Weak::upgrade) {
        return Ok(s);
    }
    let store = Arc::new(RedisStore::connect_with(opts).await?);
    let mut open = OPEN.lock();
    open.retain(|_, w| w.strong_count() > 0);
    open.insert(key, Arc::downgrade(&store));
    Ok(store)
}

#[cfg(not(feature = "redis"))]
async fn connect_redis(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    Err(crate::error::Error::new(
        crate::error::ErrorCode::InvalidQueue,
        format!("queue store '{url}': this build has no Redis store (cargo feature `redis`)"),
    ))
}

/// What a worker asks of [`Store::claim`].
#[derive(Debug, Clone)]
pub struct Claim {
    /// Who asks (kept with the job, for people reading the store).
    pub worker: String,
    /// At most this many jobs.
    pub max: u32,
    /// How long the worker may hold each before it must renew.
    pub lease: Duration,
}

/// What [`Store::claim`] handed out.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    /// The jobs, now leased to the worker.
    pub jobs: Vec<Leased>,
    /// When the next delayed job is due, if any.
    pub next_due_ms: Option<u64>,
    /// The queue's rate limit is reached: nothing may start for this long.
    pub rate_wait: Option<Duration>,
    /// The queue is paused.
    pub paused: bool,
    /// The queue has a concurrency or rate limit (every lease counts as a start).
    pub limited: bool,
}

/// A queue's limits, held in the store so that every worker on every machine applies them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueLimits {
    /// At most this many jobs active at once across all workers (none: no limit).
    pub concurrency: Option<u32>,
    /// At most this many jobs started in any window of this length (none: no limit).
    pub rate: Option<(u32, Duration)>,
}

/// Jobs that failed their last attempt (or whose worker was lost too often).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadSelection<'a> {
    /// All of them.
    All,
    /// These ids.
    Ids(&'a [String]),
}

/// A queue store. Object safe: a queue holds an `Arc<dyn Store>`.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Adds jobs; an id the queue already holds (in any state) is a [`Added::Duplicate`].
    fn add(&self, queue: &str, jobs: Vec<NewJob>) -> BoxFuture<'static, Result<Vec<Added>>>;

    /// Leases up to `claim.max` ready jobs (lowest priority value first, then oldest), due delayed
    /// jobs included, within the queue's limits.
    fn claim(&self, queue: &str, claim: Claim) -> BoxFuture<'static, Result<Claimed>>;

    /// Records outcomes; one whose token is not the job's current lease is refused.
    fn finish(&self, queue: &str, done: Vec<Finish>) -> BoxFuture<'static, Result<Vec<FinishAck>>>;

    /// Extends the leases the worker still holds; answers the ids whose lease was lost.
    fn renew(
        &self,
        queue: &str,
        leases: Vec<(String, u64)>,
        lease: Duration,
    ) -> BoxFuture<'static, Result<Vec<String>>>;

    /// Hands expired leases back: to the front of the queue (the attempt not counted) or, past
    /// `max_stalls`, to the dead-letter queue.
    fn reap(&self, queue: &str, max_stalls: u32) -> BoxFuture<'static, Result<Vec<Stalled>>>;

    /// Records a leased job's progress (MessagePack).
    fn progress(
        &self,
        queue: &str,
        id: &str,
        token: u64,
        progress: bytes::Bytes,
    ) -> BoxFuture<'static, Result<bool>>;

    /// One job, in any state.
    fn get(&self, queue: &str, id: &str) -> BoxFuture<'static, Result<Option<JobInfo>>>;

    /// Removes a job that is not active; answers whether there was one.
    fn remove(&self, queue: &str, id: &str) -> BoxFuture<'static, Result<bool>>;

    /// The dead-letter queue, oldest first.
    fn dead(&self, queue: &str, offset: u64, limit: u64) -> BoxFuture<'static, Result<Vec<JobInfo>>>;

    /// Moves dead jobs back to the queue with their attempts reset (their errors kept); answers
    /// how many.
    fn retry_dead(&self, queue: &str, which: DeadSelection<'_>) -> BoxFuture<'static, Result<u64>>;

    /// Sets the queue's limits.
    fn set_limits(&self, queue: &str, limits: QueueLimits) -> BoxFuture<'static, Result<()>>;

    /// Pauses (no job is handed out; running ones finish) or resumes the queue.
    fn set_paused(&self, queue: &str, paused: bool) -> BoxFuture<'static, Result<()>>;

    /// How many jobs are in each state.
    fn counts(&self, queue: &str) -> BoxFuture<'static, Result<Counts>>;

    /// Hears what happens to `queue`'s jobs in every process sharing the store: this process's
    /// events at once, the others' once [`listening`](Store::listening) resolves (a few
    /// milliseconds after the first call for the queue).
    fn events(&self, queue: &str) -> tokio::sync::broadcast::Receiver<QueueEvent>;

    /// Resolves once the events other processes publish for `queue` reach the receivers of
    /// [`events`](Store::events) (at once if nobody in this process listens to it).
    fn listening(&self, queue: &str) -> BoxFuture<'static, Result<()>>;

    /// Delivers events to this process's listeners and publishes them to the other processes'.
    fn publish(&self, queue: &str, events: Vec<QueueEvent>);

    /// Something to wait on for new work: made before a worker's first claim, it wakes the worker
    /// for any job made ready after that.
    fn waiter(&self, queue: &str) -> Box<dyn Waiter>;

    // The scheduler's two records (see `docs/SCHEDULER.md`): a leader lease, so that one instance
    // of an application fires its schedules, and per schedule a watermark, the fence that makes
    // each firing happen once even when two instances both believe they lead.

    /// Takes or keeps the lease `name` for `holder` until `ttl` from now (the store's clock).
    /// Answers the lease's fencing token while `holder` holds it, `None` while another holder's
    /// lease runs. The token grows each time the lease changes hands and stays the same while one
    /// holder keeps it (even past its expiry, if nobody took it meanwhile): a holder that sees a
    /// new token knows that another held the lease in between.
    fn lease(&self, name: &str, holder: &str, ttl: Duration) -> BoxFuture<'static, Result<Option<u64>>>;

    /// Ends the lease `name` now if `holder` holds it, so that another may take it at once
    /// (its token is kept: the next holder gets the next one); answers whether it did.
    fn release_lease(&self, name: &str, holder: &str) -> BoxFuture<'static, Result<bool>>;

    /// A schedule's watermark: the latest slot (ms since the Unix epoch) fired or passed over;
    /// `None` before the first [`fire`](Store::fire).
    fn watermark(&self, schedule: &str) -> BoxFuture<'static, Result<Option<u64>>>;

    /// In one atomic step: if `slot_ms` is later than the schedule's watermark (or it has none),
    /// moves the watermark to `slot_ms` and adds `job`, if any, to `queue` (as [`add`](Store::add)
    /// does: a job whose id the queue already holds is not added again). Answers whether the
    /// watermark moved; a slot at or before it changes nothing.
    fn fire(
        &self,
        schedule: &str,
        slot_ms: u64,
        queue: &str,
        job: Option<NewJob>,
    ) -> BoxFuture<'static, Result<bool>>;
}

/// Waits for a queue to get work (see [`Store::waiter`]).
pub trait Waiter: Send {
    /// Forgets what woke the worker so far: call it before each claim.
    fn seen(&mut self);

    /// Returns when work may be ready, or after `max`.
    fn wait(&mut self, max: Duration) -> BoxFuture<'_, ()>;
}
