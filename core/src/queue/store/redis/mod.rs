//! The Redis queue store: queues shared by workers on any number of machines, with the same
//! semantics as the embedded store (see `docs/QUEUES.md`, "The Redis store").
//!
//! Keys of queue `q` under prefix `p` all start with `p:{q}`: the hash tag keeps one queue in one
//! Cluster slot, so each step runs as one Lua script over the queue's keys, atomically, on the
//! server's clock (`lua/`). Times the engine hands in from this machine's clock (a delayed job's
//! time, a retry's time) travel as delays from now, and the server's times handed back (when the
//! next delayed job is due) as delays too, so machines whose clocks disagree still agree.
//!
//! | key | type | what |
//! | --- | --- | --- |
//! | `p:{q}:j:<id>` | hash | the job: `name data opts prio keep seq run st att stc ls worker created fin prog res an fn` |
//! | `p:{q}:e:<id>` | list | every failed attempt's error (JSON), oldest first |
//! | `p:{q}:ready` | zset | ready jobs: score the priority, member `<run>:<seq>:<id>` |
//! | `p:{q}:delayed` | zset | delayed jobs and retries, by due time |
//! | `p:{q}:active` | zset | leased jobs, by lease deadline |
//! | `p:{q}:done` | zset | completed jobs kept, by expiry |
//! | `p:{q}:dead` | zset | the dead-letter queue, by time of death |
//! | `p:{q}:meta` | hash | `paused conc rmax rwin` |
//! | `p:{q}:marker` | zset | the wake marker (see `waiter.rs`) |
//! | `p:{q}:rate` | zset | the rate limit's sliding log: one entry per start |
//! | `p:{q}:seq` | string | the order jobs were added in |
//! | `p:{q}:cl:<nonce>` | list | what one claim leased, for its repeat; expires with the lease |
//! | `p:layout` | string | the key layout's version |
//! | `p:{q}:events` | channel | the queue's events, published for other processes (`events.rs`) |

mod events;
mod ops;
mod reply;
mod scripts;
#[cfg(test)]
mod tests;
mod waiter;

use std::sync::Arc;
use std::time::Duration;

use ::redis::Client;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use super::{BoxFuture, Claim, Claimed, DeadSelection, QueueLimits, Store, Waiter};
use crate::error::{Error, ErrorCode, Result};
use crate::queue::QueueEvent;
use crate::queue::events::EventHub;
use crate::queue::job::{Added, Counts, Finish, FinishAck, JobInfo, NewJob, Stalled};
use ops::nonce;
use scripts::Caller;

/// The key layout this build writes and reads.
const LAYOUT: u32 = 1;

/// The longest keep, delay or lease the scripts take (about 3,000 years): times stay exact in Lua's
/// doubles, and a ready time fits the 15 digits of a ready job's member (`lua/common.lua`).
const MAX_MS: u64 = 100_000_000_000_000;

/// How a [`RedisStore`] connects.
#[derive(Debug, Clone)]
pub struct RedisStoreOptions {
    /// `redis://[user:password@]host[:port][/db]` (or `unix://`).
    pub url: String,
    /// The first part of every key (default `omni`); applications sharing a server use their own.
    pub prefix: String,
    /// The longest a connection attempt may take (default 2 s).
    pub connection_timeout: Duration,
    /// The longest the server may take to answer a call (default 5 s; waiting for work has no
    /// limit).
    pub response_timeout: Duration,
    /// Repeats of a call that failed for a reason that may pass, such as a dropped connection,
    /// before the call fails with `Q002` (default 4, about 1.5 s in all).
    pub retries: u32,
}

impl RedisStoreOptions {
    /// Options for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        RedisStoreOptions {
            url: url.into(),
            prefix: "omni".into(),
            connection_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            retries: 4,
        }
    }

    /// The same options with another key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// The Redis store. Connect once per process and share it (`Arc`): calls share one connection
/// that reconnects in the background; each worker waiting for work holds one more.
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    caller: Caller,
    prefix: String,
    connection_timeout: Duration,
    hub: Arc<EventHub>,
    /// The task carrying other processes' events here, told of each queue listened to.
    listener: parking_lot::Mutex<Option<mpsc::UnboundedSender<String>>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.inner.caller.server)
            .field("prefix", &self.inner.prefix)
            .finish()
    }
}

/// A queue's key prefix `p:{q}`.
fn queue_prefix(prefix: &str, queue: &str) -> String {
    format!("{prefix}:{{{queue}}}")
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_string(),
    }
}

fn check_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty() && prefix.len() <= 128 && !prefix.contains(['{', '}']);
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidQueue,
            format!(
                "prefix '{prefix}': use 1 to 128 characters without '{{' or '}}' (they mark the hash tag)"
            ),
        ))
    }
}

impl RedisStore {
    /// Connects to the server at `url` with the default options.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(RedisStoreOptions::new(url)).await
    }

    /// Connects with options. An unreachable server is `Q002`; keys under the prefix written by
    /// another layout are refused (`Q003`).
    pub async fn connect_with(opts: RedisStoreOptions) -> Result<Self> {
        check_prefix(&opts.prefix)?;
        let server = redacted(&opts.url);
        if opts.url.starts_with("rediss://") {
            return Err(Error::new(
                ErrorCode::InvalidQueue,
                format!(
                    "url '{server}': TLS (rediss://) is not in this build of the queue store; use redis://"
                ),
            ));
        }
        let client = Client::open(opts.url.as_str()).map_err(|e| {
            Error::new(
                ErrorCode::InvalidQueue,
                format!("url '{server}': not a Redis URL ({e}); write redis://host:6379/0"),
            )
        })?;
        // Few reconnection attempts per failed call: the store's own retries (`retries`) and the
        // workers' loops try again, so a call on a server that is down fails within seconds.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(opts.connection_timeout))
            .set_response_timeout(Some(opts.response_timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client.clone(), config).await.map_err(|e| {
            Error::new(
                ErrorCode::QueueStoreFailed,
                format!(
                    "queue store '{server}': cannot connect: {e}; check that Redis is running and reachable"
                ),
            )
        })?;
        let inner = Inner {
            client,
            caller: Caller { conn, retries: opts.retries, server },
            prefix: opts.prefix,
            connection_timeout: opts.connection_timeout,
            hub: Arc::default(),
            listener: parking_lot::Mutex::new(None),
        };
        inner.check_server().await?;
        Ok(RedisStore { inner: Arc::new(inner) })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }
}

impl Inner {
    /// The server is new enough, and the keys under the prefix are in this build's layout.
    async fn check_server(&self) -> Result<()> {
        let mut conn = self.caller.conn.clone();
        let failed = |e: ::redis::RedisError| self.caller.failed(&e);
        // Where INFO is disabled (some managed servers rename it), the scripts' first call tells.
        let info: Option<String> = ::redis::cmd("INFO").arg("server").query_async(&mut conn).await.ok();
        let version = info
            .as_deref()
            .and_then(|i| i.lines().find_map(|l| l.strip_prefix("redis_version:")))
            .map(|v| v.trim().to_string());
        if let Some(version) = version
            && version.split('.').next().and_then(|m| m.parse::<u32>().ok()).is_some_and(|major| major < 6)
        {
            return Err(Error::new(
                ErrorCode::QueueStoreFailed,
                format!(
                    "queue store '{}': Redis {version} is too old; the queue store needs Redis 6.0 or later",
                    self.caller.server
                ),
            ));
        }
        let key = format!("{}:layout", self.prefix);
        let _: ::redis::Value = ::redis::cmd("SET")
            .arg(&key)
            .arg(LAYOUT)
            .arg("NX")
            .query_async(&mut conn)
            .await
            .map_err(failed)?;
        let layout: Option<String> =
            ::redis::cmd("GET").arg(&key).query_async(&mut conn).await.map_err(failed)?;
        if layout.as_deref() != Some(&LAYOUT.to_string()) {
            return Err(Error::new(
                ErrorCode::QueueStoreVersion,
                format!(
                    "queue store '{}': the keys under prefix '{}' have layout {}; this build of Omnitron reads layout {LAYOUT}; use another prefix",
                    self.caller.server,
                    self.prefix,
                    layout.as_deref().unwrap_or("(none)")
                ),
            ));
        }
        // Evicted keys would be lost jobs: say so once, if the server lets us look.
        let policy: std::result::Result<Vec<String>, _> =
            ::redis::cmd("CONFIG").arg("GET").arg("maxmemory-policy").query_async(&mut conn).await;
        if let Ok(p) = policy
            && let Some(p) = p.get(1)
            && p != "noeviction"
        {
            tracing::warn!(server = %self.caller.server, policy = %p, "queue store: Redis may evict keys under memory pressure, which loses jobs; set maxmemory-policy noeviction");
        }
        Ok(())
    }

    /// The queue's key prefix `p:{q}` and its keys, in the order `lua/common.lua` reads them.
    fn keys(&self, queue: &str) -> (String, Vec<String>) {
        let p = queue_prefix(&self.prefix, queue);
        let keys = ["ready", "delayed", "active", "done", "dead", "meta", "marker", "rate", "seq"]
            .iter()
            .map(|k| format!("{p}:{k}"))
            .collect();
        (p, keys)
    }

    /// The key of the scheduler's lease `name`, and of every schedule's watermark.
    fn lease_key(&self, name: &str) -> String {
        format!("{}:lease:{name}", self.prefix)
    }

    fn schedules_key(&self) -> String {
        format!("{}:schedules", self.prefix)
    }

    /// Has other processes' events of `queue` carried to the hub (the carrier starts with the first
    /// queue listened to, once a runtime is at hand).
    fn listen(&self, queue: &str) {
        let mut listener = self.listener.lock();
        if let Some(tx) = listener.as_ref()
            && tx.send(queue.to_string()).is_ok()
        {
            return;
        }
        let prefix = self.prefix.clone();
        let channels = move |q: &str| events::channel(&queue_prefix(&prefix, q));
        // The new carrier subscribes to every queue in the hub, this one included.
        *listener = events::start(self.client.clone(), channels, self.hub.clone(), self.connection_timeout);
    }

    /// Runs `script` for `queue`; `args` follow the queue's key prefix.
    async fn eval(
        &self,
        script: &::redis::Script,
        queue: &str,
        mut args: Vec<Vec<u8>>,
    ) -> Result<::redis::Value> {
        let (p, keys) = self.keys(queue);
        args.insert(0, p.into_bytes());
        self.caller.eval(script, &keys, &args).await
    }
}

impl RedisStore {
    /// Runs `f` with the store's state in a `'static` future.
    fn run<T, F, Fut>(&self, f: F) -> BoxFuture<'static, Result<T>>
    where
        F: FnOnce(Arc<Inner>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        Box::pin(async move { f(inner).await })
    }
}

impl Store for RedisStore {
    fn add(&self, queue: &str, jobs: Vec<NewJob>) -> BoxFuture<'static, Result<Vec<Added>>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.add(&q, &nonce(), &jobs).await })
    }

    fn claim(&self, queue: &str, claim: Claim) -> BoxFuture<'static, Result<Claimed>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.claim(&q, &nonce(), &claim).await })
    }

    fn finish(&self, queue: &str, done: Vec<Finish>) -> BoxFuture<'static, Result<Vec<FinishAck>>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.finish(&q, &nonce(), done).await })
    }

    fn renew(
        &self,
        queue: &str,
        leases: Vec<(String, u64)>,
        lease: Duration,
    ) -> BoxFuture<'static, Result<Vec<String>>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.renew(&q, leases, lease).await })
    }

    fn reap(&self, queue: &str, max_stalls: u32) -> BoxFuture<'static, Result<Vec<Stalled>>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.reap(&q, max_stalls).await })
    }

    fn progress(
        &self,
        queue: &str,
        id: &str,
        token: u64,
        progress: Bytes,
    ) -> BoxFuture<'static, Result<bool>> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.run(move |s| async move { s.progress(&q, &id, token, progress).await })
    }

    fn get(&self, queue: &str, id: &str) -> BoxFuture<'static, Result<Option<JobInfo>>> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.run(move |s| async move { s.get(&q, &id).await })
    }

    fn remove(&self, queue: &str, id: &str) -> BoxFuture<'static, Result<bool>> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.run(move |s| async move { s.remove(&q, &id).await })
    }

    fn dead(&self, queue: &str, offset: u64, limit: u64) -> BoxFuture<'static, Result<Vec<JobInfo>>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.dead(&q, offset, limit).await })
    }

    fn retry_dead(&self, queue: &str, which: DeadSelection<'_>) -> BoxFuture<'static, Result<u64>> {
        let q = queue.to_string();
        // The script reads no ids as every dead job: an empty selection is answered here.
        let ids = match which {
            DeadSelection::All => Some(Vec::new()),
            DeadSelection::Ids([]) => None,
            DeadSelection::Ids(ids) => Some(ids.to_vec()),
        };
        self.run(move |s| async move {
            match ids {
                None => Ok(0),
                Some(ids) => s.retry_dead(&q, &ids).await,
            }
        })
    }

    fn set_limits(&self, queue: &str, limits: QueueLimits) -> BoxFuture<'static, Result<()>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.set_limits(&q, limits).await })
    }

    fn set_paused(&self, queue: &str, paused: bool) -> BoxFuture<'static, Result<()>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.set_paused(&q, paused).await })
    }

    fn counts(&self, queue: &str) -> BoxFuture<'static, Result<Counts>> {
        let q = queue.to_string();
        self.run(move |s| async move { s.counts(&q).await })
    }

    fn lease(&self, name: &str, holder: &str, ttl: Duration) -> BoxFuture<'static, Result<Option<u64>>> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |s| async move { s.lease(&name, &holder, ttl).await })
    }

    fn release_lease(&self, name: &str, holder: &str) -> BoxFuture<'static, Result<bool>> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |s| async move { s.release_lease(&name, &holder).await })
    }

    fn watermark(&self, schedule: &str) -> BoxFuture<'static, Result<Option<u64>>> {
        let schedule = schedule.to_string();
        self.run(move |s| async move { s.watermark(&schedule).await })
    }

    fn fire(
        &self,
        schedule: &str,
        slot_ms: u64,
        queue: &str,
        job: Option<NewJob>,
    ) -> BoxFuture<'static, Result<bool>> {
        let (schedule, q) = (schedule.to_string(), queue.to_string());
        self.run(move |s| async move { s.fire(&schedule, slot_ms, &q, &nonce(), job).await })
    }

    fn events(&self, queue: &str) -> broadcast::Receiver<QueueEvent> {
        let (rx, first) = self.inner.hub.subscribe(queue);
        if first {
            self.inner.listen(queue);
        }
        rx
    }

    fn listening(&self, queue: &str) -> BoxFuture<'static, Result<()>> {
        let q = queue.to_string();
        self.run(move |s| async move {
            if !s.hub.listened(&q) {
                return Ok(());
            }
            s.listen(&q);
            let wait = s.connection_timeout.max(Duration::from_secs(5));
            tokio::time::timeout(wait, s.hub.ready(&q)).await.map_err(|_| {
                Error::new(
                    ErrorCode::QueueStoreFailed,
                    format!(
                        "queue store '{}': cannot subscribe to queue '{q}''s events within {wait:?}; check that Redis is reachable",
                        s.caller.server
                    ),
                )
            })
        })
    }

    fn publish(&self, queue: &str, events: Vec<QueueEvent>) {
        if events.is_empty() {
            return;
        }
        self.inner.hub.deliver(queue, &events);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let body = crate::queue::events::encode(self.inner.hub.origin(), &events);
        let channel = events::channel(&queue_prefix(&self.inner.prefix, queue));
        let mut conn = self.inner.caller.conn.clone();
        // Not awaited by the worker: an event is news, and a lost one is not retried.
        runtime.spawn(async move {
            let sent: ::redis::RedisResult<::redis::Value> =
                ::redis::cmd("PUBLISH").arg(channel).arg(body).query_async(&mut conn).await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "queue events: publishing failed");
            }
        });
    }

    fn waiter(&self, queue: &str) -> Box<dyn Waiter> {
        let (p, _) = self.inner.keys(queue);
        Box::new(waiter::RedisWaiter {
            client: self.inner.client.clone(),
            marker: format!("{p}:marker"),
            connection_timeout: self.inner.connection_timeout,
            conn: None,
        })
    }
}
