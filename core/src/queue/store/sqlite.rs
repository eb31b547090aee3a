//! The embedded queue store: one SQLite file in WAL mode, written by one thread that runs every
//! call waiting in its queue in one transaction and answers them after the commit (group commit:
//! an outcome is durable before it is acknowledged, at the cost of one sync per batch, not per
//! job). Several processes may share the file: each writes in `BEGIN IMMEDIATE` transactions.
//!
//! Schema (version [`SCHEMA_VERSION`], application `omnitron-queue-store`):
//!
//! ```sql
//! CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
//! CREATE TABLE queues (name TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0,
//!                      concurrency INTEGER, rate_max INTEGER, rate_window_ms INTEGER);
//! CREATE TABLE jobs (pk INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL,
//!   name TEXT NOT NULL, state INTEGER NOT NULL, -- 0 waiting, 1 delayed, 2 active, 3 completed, 4 dead
//!   priority INTEGER NOT NULL, run_at INTEGER NOT NULL, data BLOB NOT NULL, opts TEXT NOT NULL,
//!   attempts INTEGER NOT NULL DEFAULT 0, stalls INTEGER NOT NULL DEFAULT 0,
//!   lease_seq INTEGER NOT NULL DEFAULT 0, lease_until INTEGER, worker TEXT,
//!   progress BLOB, result BLOB, errors TEXT NOT NULL DEFAULT '[]',
//!   created_ms INTEGER NOT NULL, finished_ms INTEGER, expire_ms INTEGER, UNIQUE (queue, id));
//! CREATE TABLE rate_log (queue TEXT NOT NULL, at_ms INTEGER NOT NULL);
//! -- The scheduler's: leader leases (the token grows as a lease changes hands) and each
//! -- schedule's watermark, the latest slot fired or passed over.
//! CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL,
//!                      until_ms INTEGER NOT NULL);
//! CREATE TABLE schedules (name TEXT PRIMARY KEY, slot_ms INTEGER NOT NULL, fired_ms INTEGER NOT NULL);
//! -- Events crossing processes (`sqlite/events.rs`), made in files of any version.
//! CREATE TABLE queue_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL,
//!   origin INTEGER NOT NULL, body BLOB NOT NULL, at_ms INTEGER NOT NULL);
//! CREATE TABLE queue_listeners (queue TEXT NOT NULL, origin INTEGER NOT NULL,
//!   until_ms INTEGER NOT NULL, PRIMARY KEY (queue, origin));
//! ```
//!
//! Ready jobs run by priority, then by the time they became ready, then in the order they were
//! added; a job handed back (its worker lost, or closing) keeps its place at the front.

mod events;
mod jobs;
mod schedule;

use jobs::{
    INFO_COLUMNS, add_jobs, claim_jobs, count_jobs, finish_jobs, info_of, reap_leases, renew_leases,
    upsert_queue,
};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{broadcast, oneshot, watch};

use super::{BoxFuture, Claim, Claimed, DeadSelection, QueueLimits, Store, Waiter};
use crate::error::{Error, ErrorCode, Result};
use crate::queue::QueueEvent;
use crate::queue::events::EventHub;
use crate::queue::job::{Added, Counts, Finish, FinishAck, JobInfo, NewJob, Stalled};
use crate::time::now_ms;

/// The schema this build writes and reads.
pub(crate) const SCHEMA_VERSION: u32 = 1;

const APPLICATION: &str = "omnitron-queue-store";

const SCHEMA_V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE queues (name TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0,
                     concurrency INTEGER, rate_max INTEGER, rate_window_ms INTEGER);
CREATE TABLE jobs (pk INTEGER PRIMARY KEY, queue TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
  state INTEGER NOT NULL, priority INTEGER NOT NULL, run_at INTEGER NOT NULL, data BLOB NOT NULL,
  opts TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, stalls INTEGER NOT NULL DEFAULT 0,
  lease_seq INTEGER NOT NULL DEFAULT 0, lease_until INTEGER, worker TEXT, progress BLOB, result BLOB,
  errors TEXT NOT NULL DEFAULT '[]', created_ms INTEGER NOT NULL, finished_ms INTEGER,
  expire_ms INTEGER, UNIQUE (queue, id));
CREATE INDEX jobs_ready ON jobs (queue, priority, run_at, pk) WHERE state = 0;
CREATE INDEX jobs_delayed ON jobs (queue, run_at) WHERE state = 1;
CREATE INDEX jobs_leases ON jobs (queue, lease_until) WHERE state = 2;
CREATE INDEX jobs_expire ON jobs (queue, expire_ms) WHERE state IN (3, 4) AND expire_ms IS NOT NULL;
CREATE INDEX jobs_dead ON jobs (queue, finished_ms) WHERE state = 4;
CREATE TABLE rate_log (queue TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX rate_log_by_queue ON rate_log (queue, at_ms);
CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, token INTEGER NOT NULL,
                     until_ms INTEGER NOT NULL);
CREATE TABLE schedules (name TEXT PRIMARY KEY, slot_ms INTEGER NOT NULL, fired_ms INTEGER NOT NULL);
";

pub(super) const WAITING: i64 = 0;
pub(super) const DELAYED: i64 = 1;
pub(super) const ACTIVE: i64 = 2;
pub(super) const COMPLETED: i64 = 3;
pub(super) const DEAD: i64 = 4;

/// How a [`SqliteStore`] is opened.
#[derive(Debug, Clone)]
pub struct SqliteStoreOptions {
    /// The file (created if missing), or `:memory:`.
    pub path: PathBuf,
    /// Sync every commit to disk (survives a power loss); off, a commit survives the process
    /// being killed (WAL, `synchronous = NORMAL`). Off by default.
    pub full_sync: bool,
    /// Most calls committed in one transaction (default 1024).
    pub max_batch: usize,
}

impl SqliteStoreOptions {
    /// Options for `path` with the defaults.
    pub fn new(path: impl AsRef<Path>) -> Self {
        SqliteStoreOptions { path: path.as_ref().to_path_buf(), full_sync: false, max_batch: 1024 }
    }
}

/// What a batch did that workers waiting in this process should hear of.
#[derive(Default)]
pub(super) struct Effects {
    wake: Vec<String>,
}

type Deliver = Box<dyn FnOnce(Option<&Error>) + Send>;
/// A call run in the writer's transaction: its answer (sent after the commit) and whether it
/// succeeded (a failed call's changes are rolled back to its savepoint).
type Op = Box<dyn FnOnce(std::result::Result<&Connection, &Error>, &mut Effects) -> (Deliver, bool) + Send>;

/// A call for the writer. A *plain* one fails only when SQLite does (a claim, a finish): it runs
/// without a savepoint, and its failure rolls the whole batch back, every call of it answered with
/// the failure. Savepoints were a tenth of the writer's work; the others keep theirs, so that a
/// call refused for its own reasons (a duplicate schedule, a running job removed) undoes only its
/// own changes.
struct Call {
    op: Op,
    plain: bool,
}

/// Per queue, a counter bumped when jobs become ready (see [`Store::waiter`]).
#[derive(Default)]
struct Signals(Mutex<HashMap<String, watch::Sender<u64>>>);

impl Signals {
    fn sender(&self, queue: &str) -> watch::Sender<u64> {
        self.0.lock().entry(queue.to_string()).or_insert_with(|| watch::channel(0).0).clone()
    }

    fn bump(&self, queue: &str) {
        if let Some(s) = self.0.lock().get(queue) {
            s.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// The embedded store. Open one per file per process and share it (`Arc`): workers of this process
/// are woken at once when a job is added here; jobs added by another process sharing the file are
/// seen at the workers' next poll.
pub struct SqliteStore {
    tx: Mutex<Option<mpsc::Sender<Call>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    signals: Arc<Signals>,
    path: PathBuf,
    hub: Arc<EventHub>,
    /// Started by the first listener: carries other processes' events here.
    tail: Mutex<Option<events::Tail>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish()
    }
}

fn store_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::QueueStoreFailed,
        format!(
            "queue store '{}': {what}: {e}; check that the file is writable and not corrupt",
            path.display()
        ),
    )
}

pub(super) fn sql_err(e: rusqlite::Error) -> Error {
    Error::new(ErrorCode::QueueStoreFailed, format!("queue store: {e}"))
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(SqliteStoreOptions::new(path))
    }

    /// A store in an in-memory database (one process; nothing kept).
    pub fn in_memory() -> Result<Self> {
        Self::open_with(SqliteStoreOptions::new(":memory:"))
    }

    /// Opens with options. A file that is not a queue store, or one written by a newer schema, is
    /// refused (`Q003`).
    pub fn open_with(opts: SqliteStoreOptions) -> Result<Self> {
        let path = opts.path.clone();
        let conn = open_connection(&opts)?;
        let (tx, rx) = mpsc::channel::<Call>();
        let signals = Arc::new(Signals::default());
        let s = signals.clone();
        let max_batch = opts.max_batch.max(1);
        let thread = std::thread::Builder::new()
            .name("omnitron-queue".into())
            .spawn(move || writer(conn, rx, s, max_batch))
            .map_err(|e| store_err(&path, "cannot start the store thread", e))?;
        Ok(SqliteStore {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            signals,
            path: opts.path,
            hub: Arc::default(),
            tail: Mutex::new(None),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in the writer's next transaction, in a savepoint of its own; its answer arrives
    /// after the commit.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &mut Effects) -> Result<T> + Send + 'static,
    ) -> BoxFuture<'static, Result<T>> {
        self.call(false, f)
    }

    /// [`SqliteStore::run`] for a call that fails only when SQLite does (see [`Call`]).
    fn run_plain<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &mut Effects) -> Result<T> + Send + 'static,
    ) -> BoxFuture<'static, Result<T>> {
        self.call(true, f)
    }

    fn call<T: Send + 'static>(
        &self,
        plain: bool,
        f: impl FnOnce(&Connection, &mut Effects) -> Result<T> + Send + 'static,
    ) -> BoxFuture<'static, Result<T>> {
        let (reply, rx) = oneshot::channel::<Result<T>>();
        let op: Op = Box::new(move |conn, fx| {
            let result = match conn {
                Ok(c) => f(c, fx),
                Err(e) => Err(e.clone()),
            };
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |commit: Option<&Error>| {
                let _ = reply.send(match commit {
                    Some(e) => Err(e.clone()),
                    None => result,
                });
            });
            (deliver, ok)
        });
        let sent = self.tx.lock().as_ref().is_some_and(|tx| tx.send(Call { op, plain }).is_ok());
        let path = self.path.clone();
        Box::pin(async move {
            if !sent {
                return Err(Error::new(
                    ErrorCode::QueueClosed,
                    format!("queue store '{}' is closed", path.display()),
                ));
            }
            rx.await.map_err(|_| store_err(&path, "the store thread stopped", "no answer"))?
        })
    }

    fn is_memory(&self) -> bool {
        self.path == Path::new(":memory:")
    }

    /// Has other processes' events carried to this store's listeners (one thread per store, for
    /// every queue listened to). A store in memory has no other process.
    fn listen(&self) {
        if self.is_memory() {
            for q in self.hub.queues() {
                self.hub.set_ready(&q, true);
            }
            return;
        }
        let mut tail = self.tail.lock();
        match tail.as_ref() {
            Some(t) => t.wake(),
            None => match events::Tail::start(self.path.clone(), self.hub.clone()) {
                Ok(t) => *tail = Some(t),
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "queue events: cannot start the thread that hears other processes")
                }
            },
        }
    }

    /// Stops the store's thread once the calls already made are answered. Later calls fail with
    /// `Q009`. Dropping the store does the same.
    pub fn close(&self) {
        self.tail.lock().take();
        self.tx.lock().take();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// The store for `path`, shared by every caller in this process while one holds it
/// ([`super::connect`]); `:memory:` is a new store each time.
pub(super) fn shared(path: &str) -> Result<Arc<dyn Store>> {
    static OPEN: std::sync::LazyLock<Mutex<HashMap<PathBuf, std::sync::Weak<SqliteStore>>>> =
        std::sync::LazyLock::new(Default::default);
    if path == ":memory:" {
        return Ok(Arc::new(SqliteStore::in_memory()?));
    }
    // The same file under two spellings is one store: key by the absolute path.
    let key = std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path));
    let mut open = OPEN.lock();
    if let Some(s) = open.get(&key).and_then(std::sync::Weak::upgrade) {
        return Ok(s);
    }
    open.retain(|_, w| w.strong_count() > 0);
    let store = Arc::new(SqliteStore::open(&key)?);
    open.insert(key, Arc::downgrade(&store));
    Ok(store)
}

fn open_connection(opts: &SqliteStoreOptions) -> Result<Connection> {
    let path = &opts.path;
    // The default store is `.omnitron/queues.db`: its directory is made on first use.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && path != Path::new(":memory:")) {
        std::fs::create_dir_all(dir).map_err(|e| store_err(path, "cannot create its directory", e))?;
    }
    let conn = Connection::open(path).map_err(|e| store_err(path, "cannot open", e))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| store_err(path, "busy_timeout", e))?;
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| store_err(path, "cannot switch to WAL mode", e))?;
    let sync = if opts.full_sync { "FULL" } else { "NORMAL" };
    // The log is copied into the file every 10,000 pages, not SQLite's 1,000: a queue rewrites the
    // same few pages in every commit, and a checkpoint copies each page once, however many times
    // the log holds it, so ten times fewer checkpoints do a tenth of the work (the log may grow to
    // about 40 MB).
    conn.execute_batch(&format!("PRAGMA synchronous = {sync}; PRAGMA wal_autocheckpoint = 10000;"))
        .map_err(|e| store_err(path, "cannot set pragmas", e))?;
    conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| store_err(path, "cannot lock the schema", e))?;
    let checked = check_schema(&conn, path);
    let end = if checked.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end).map_err(|e| store_err(path, "cannot write the schema", e))?;
    checked?;
    conn.execute_batch(events::TABLES).map_err(|e| store_err(path, "cannot create the event tables", e))?;
    Ok(conn)
}

/// Creates the schema in an empty file; refuses a file that is something else or newer.
fn check_schema(conn: &Connection, path: &Path) -> Result<()> {
    let q = |e| store_err(path, "cannot read the schema", e);
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
        .map_err(q)?;
    if tables == 0 {
        conn.execute_batch(SCHEMA_V1).map_err(|e| store_err(path, "cannot create the schema", e))?;
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?1), ('application', ?2)",
            params![SCHEMA_VERSION.to_string(), APPLICATION],
        )
        .map_err(|e| store_err(path, "cannot create the schema", e))?;
        return Ok(());
    }
    let get = |key: &str| -> Option<String> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().ok().flatten()
    };
    let not_ours = || {
        Error::new(
            ErrorCode::QueueStoreVersion,
            format!(
                "'{}' is a SQLite database but not an Omnitron queue store; give the queue a new file",
                path.display()
            ),
        )
    };
    if get("application").as_deref() != Some(APPLICATION) {
        return Err(not_ours());
    }
    match get("schema_version").and_then(|v| v.parse::<u32>().ok()) {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(v) => Err(Error::new(
            ErrorCode::QueueStoreVersion,
            format!(
                "queue store '{}' has schema version {v}; this build of Omnitron reads version {SCHEMA_VERSION}",
                path.display()
            ),
        )),
        None => Err(not_ours()),
    }
}

fn writer(conn: Connection, rx: mpsc::Receiver<Call>, signals: Arc<Signals>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut calls = vec![first];
        while calls.len() < max_batch {
            match rx.try_recv() {
                Ok(call) => calls.push(call),
                Err(_) => break,
            }
        }
        let mut fx = Effects::default();
        // A lone call needs no savepoint either: if it fails, the transaction is rolled back.
        let lone = calls.len() == 1;
        let mut delivers: Vec<Deliver> = Vec::with_capacity(calls.len());
        // The call that failed outside a savepoint, which undoes the batch.
        let mut failed = None;
        match exec(&conn, "BEGIN IMMEDIATE").map_err(sql_err) {
            Err(e) => delivers.extend(calls.into_iter().map(|c| (c.op)(Err(&e), &mut fx).0)),
            Ok(()) => {
                let mut calls = calls.into_iter();
                while let Some(c) = calls.next() {
                    if !(lone || c.plain) {
                        delivers.push(in_savepoint(&conn, c.op, &mut fx));
                        continue;
                    }
                    let (deliver, ok) = (c.op)(Ok(&conn), &mut fx);
                    delivers.push(deliver);
                    if !ok {
                        failed = Some(delivers.len() - 1);
                        let undone = batch_undone();
                        delivers.extend(calls.by_ref().map(|c| (c.op)(Err(&undone), &mut fx).0));
                    }
                }
            }
        }
        if let Some(at) = failed {
            let _ = exec(&conn, "ROLLBACK");
            let undone = batch_undone();
            for (i, d) in delivers.into_iter().enumerate() {
                // The failed call answers its own error.
                d((i != at).then_some(&undone));
            }
            continue;
        }
        let commit = exec(&conn, "COMMIT").map_err(sql_err).err();
        if commit.is_some() {
            let _ = exec(&conn, "ROLLBACK");
        } else {
            for q in fx.wake.iter() {
                signals.bump(q);
            }
        }
        for d in delivers {
            d(commit.as_ref());
        }
    }
}

/// What the calls of a batch undone by another call's failure answer.
fn batch_undone() -> Error {
    Error::new(
        ErrorCode::QueueStoreFailed,
        "queue store: another write of the same transaction failed, so nothing of this one was kept; try again",
    )
}

/// One call's changes are undone if it fails, without undoing the batch's other calls.
fn in_savepoint(conn: &Connection, op: Op, fx: &mut Effects) -> Deliver {
    if let Err(e) = exec(conn, "SAVEPOINT op").map_err(sql_err) {
        return op(Err(&e), fx).0;
    }
    let woke = fx.wake.len();
    let (deliver, ok) = op(Ok(conn), fx);
    if !ok {
        fx.wake.truncate(woke);
        let _ = exec(conn, "ROLLBACK TO op");
    }
    let _ = exec(conn, "RELEASE op");
    deliver
}

/// Runs a statement without results from the connection's cache: the writer's transaction and
/// savepoint statements run several times per batch, and parsing them each time was a tenth of its
/// work.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

impl Store for SqliteStore {
    fn add(&self, queue: &str, jobs: Vec<NewJob>) -> BoxFuture<'static, Result<Vec<Added>>> {
        let q = queue.to_string();
        self.run(move |c, fx| add_jobs(c, &q, jobs, fx))
    }

    fn claim(&self, queue: &str, claim: Claim) -> BoxFuture<'static, Result<Claimed>> {
        let q = queue.to_string();
        self.run_plain(move |c, _| claim_jobs(c, &q, &claim))
    }

    fn finish(&self, queue: &str, done: Vec<Finish>) -> BoxFuture<'static, Result<Vec<FinishAck>>> {
        let q = queue.to_string();
        self.run_plain(move |c, fx| finish_jobs(c, &q, done, fx))
    }

    fn renew(
        &self,
        queue: &str,
        leases: Vec<(String, u64)>,
        lease: Duration,
    ) -> BoxFuture<'static, Result<Vec<String>>> {
        let q = queue.to_string();
        self.run(move |c, _| renew_leases(c, &q, leases, lease))
    }

    fn reap(&self, queue: &str, max_stalls: u32) -> BoxFuture<'static, Result<Vec<Stalled>>> {
        let q = queue.to_string();
        self.run(move |c, fx| reap_leases(c, &q, max_stalls, fx))
    }

    fn progress(
        &self,
        queue: &str,
        id: &str,
        token: u64,
        progress: Bytes,
    ) -> BoxFuture<'static, Result<bool>> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.run(move |c, _| {
            c.prepare_cached(
                "UPDATE jobs SET progress = ?1 WHERE queue = ?2 AND id = ?3 AND state = 2 AND lease_seq = ?4",
            )
            .map_err(sql_err)?
            .execute(params![&progress[..], q, id, token as i64])
            .map(|n| n == 1)
            .map_err(sql_err)
        })
    }

    fn get(&self, queue: &str, id: &str) -> BoxFuture<'static, Result<Option<JobInfo>>> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.run(move |c, _| {
            c.prepare_cached(&format!("SELECT {INFO_COLUMNS} FROM jobs WHERE queue = ?1 AND id = ?2"))
                .map_err(sql_err)?
                .query_row(params![q, id], info_of)
                .optional()
                .map_err(sql_err)
        })
    }

    fn remove(&self, queue: &str, id: &str) -> BoxFuture<'static, Result<bool>> {
        let (q, id) = (queue.to_string(), id.to_string());
        self.run(move |c, _| {
            let state: Option<i64> = c
                .prepare_cached("SELECT state FROM jobs WHERE queue = ?1 AND id = ?2")
                .map_err(sql_err)?
                .query_row(params![q, id], |r| r.get(0))
                .optional()
                .map_err(sql_err)?;
            match state {
                None => Ok(false),
                Some(ACTIVE) => Err(Error::new(
                    ErrorCode::JobActive,
                    format!("job '{id}' of queue '{q}' is running; remove it once it has finished"),
                )),
                Some(_) => {
                    c.prepare_cached("DELETE FROM jobs WHERE queue = ?1 AND id = ?2")
                        .map_err(sql_err)?
                        .execute(params![q, id])
                        .map_err(sql_err)?;
                    Ok(true)
                }
            }
        })
    }

    fn dead(&self, queue: &str, offset: u64, limit: u64) -> BoxFuture<'static, Result<Vec<JobInfo>>> {
        let q = queue.to_string();
        self.run(move |c, _| {
            c.prepare_cached(&format!(
                "SELECT {INFO_COLUMNS} FROM jobs WHERE queue = ?1 AND state = 4 ORDER BY finished_ms, pk LIMIT ?2 OFFSET ?3"
            ))
            .map_err(sql_err)?
            .query_map(params![q, limit.min(i64::MAX as u64) as i64, offset.min(i64::MAX as u64) as i64], info_of)
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)
        })
    }

    fn retry_dead(&self, queue: &str, which: DeadSelection<'_>) -> BoxFuture<'static, Result<u64>> {
        let q = queue.to_string();
        let ids: Option<Vec<String>> = match which {
            DeadSelection::All => None,
            DeadSelection::Ids(ids) => Some(ids.to_vec()),
        };
        self.run(move |c, fx| {
            let now = now_ms() as i64;
            let sql = "UPDATE jobs SET state = 0, attempts = 0, stalls = 0, run_at = ?2, finished_ms = NULL,
                              expire_ms = NULL WHERE queue = ?1 AND state = 4";
            let n = match ids {
                None => c.prepare_cached(sql).map_err(sql_err)?.execute(params![q, now]).map_err(sql_err)?,
                Some(ids) => {
                    let mut st = c.prepare_cached(&format!("{sql} AND id = ?3")).map_err(sql_err)?;
                    let mut n = 0;
                    for id in ids {
                        n += st.execute(params![q, now, id]).map_err(sql_err)?;
                    }
                    n
                }
            };
            if n > 0 {
                fx.wake.push(q);
            }
            Ok(n as u64)
        })
    }

    fn set_limits(&self, queue: &str, limits: QueueLimits) -> BoxFuture<'static, Result<()>> {
        let q = queue.to_string();
        self.run(move |c, fx| {
            upsert_queue(c, &q)?;
            c.prepare_cached(
                "UPDATE queues SET concurrency = ?2, rate_max = ?3, rate_window_ms = ?4 WHERE name = ?1",
            )
            .map_err(sql_err)?
            .execute(params![
                q,
                limits.concurrency.map(i64::from),
                limits.rate.map(|(m, _)| i64::from(m)),
                limits.rate.map(|(_, w)| w.as_millis() as i64),
            ])
            .map_err(sql_err)?;
            fx.wake.push(q);
            Ok(())
        })
    }

    fn set_paused(&self, queue: &str, paused: bool) -> BoxFuture<'static, Result<()>> {
        let q = queue.to_string();
        self.run(move |c, fx| {
            upsert_queue(c, &q)?;
            c.prepare_cached("UPDATE queues SET paused = ?2 WHERE name = ?1")
                .map_err(sql_err)?
                .execute(params![q, paused])
                .map_err(sql_err)?;
            if !paused {
                fx.wake.push(q);
            }
            Ok(())
        })
    }

    fn counts(&self, queue: &str) -> BoxFuture<'static, Result<Counts>> {
        let q = queue.to_string();
        self.run(move |c, _| count_jobs(c, &q))
    }

    fn events(&self, queue: &str) -> broadcast::Receiver<QueueEvent> {
        let (rx, first) = self.hub.subscribe(queue);
        if first {
            self.listen();
        }
        rx
    }

    fn listening(&self, queue: &str) -> BoxFuture<'static, Result<()>> {
        let hub = self.hub.clone();
        let q = queue.to_string();
        Box::pin(async move {
            hub.ready(&q).await;
            Ok(())
        })
    }

    fn publish(&self, queue: &str, events: Vec<QueueEvent>) {
        if events.is_empty() {
            return;
        }
        self.hub.deliver(queue, &events);
        if self.is_memory() {
            return;
        }
        let (q, origin) = (queue.to_string(), self.hub.origin());
        // Not awaited: the publication joins the writer's next transaction.
        drop(self.run(move |c, _| events::publish(c, &q, origin, &events)));
    }

    fn waiter(&self, queue: &str) -> Box<dyn Waiter> {
        let mut rx = self.signals.sender(queue).subscribe();
        rx.mark_unchanged();
        Box::new(SqliteWaiter { rx })
    }

    fn lease(&self, name: &str, holder: &str, ttl: Duration) -> BoxFuture<'static, Result<Option<u64>>> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |c, _| schedule::lease(c, &name, &holder, ttl))
    }

    fn release_lease(&self, name: &str, holder: &str) -> BoxFuture<'static, Result<bool>> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.run(move |c, _| schedule::release_lease(c, &name, &holder))
    }

    fn watermark(&self, schedule: &str) -> BoxFuture<'static, Result<Option<u64>>> {
        let name = schedule.to_string();
        self.run(move |c, _| schedule::watermark(c, &name))
    }

    fn fire(
        &self,
        schedule: &str,
        slot_ms: u64,
        queue: &str,
        job: Option<NewJob>,
    ) -> BoxFuture<'static, Result<bool>> {
        let (name, q) = (schedule.to_string(), queue.to_string());
        self.run(move |c, fx| schedule::fire(c, &name, slot_ms, &q, job, fx))
    }
}

struct SqliteWaiter {
    rx: watch::Receiver<u64>,
}

impl Waiter for SqliteWaiter {
    fn seen(&mut self) {
        self.rx.mark_unchanged();
    }

    fn wait(&mut self, max: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = tokio::time::timeout(max, self.rx.changed()).await;
        })
    }
}
