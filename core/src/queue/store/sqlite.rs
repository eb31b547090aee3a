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
//! ```
//!
//! Ready jobs run by priority, then by the time they became ready, then in the order they were
//! added; a job handed back (its worker lost, or closing) keeps its place at the front.

mod schedule;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::{oneshot, watch};

use super::{BoxFuture, Claim, Claimed, DeadSelection, QueueLimits, Store, Waiter};
use crate::error::{Error, ErrorCode, Result};
use crate::queue::job::{
    Added, AttemptError, Counts, Finish, FinishAck, JobInfo, JobOptions, JobState, Leased, NewJob, Outcome,
    Stalled,
};
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

const WAITING: i64 = 0;
const DELAYED: i64 = 1;
const ACTIVE: i64 = 2;
const COMPLETED: i64 = 3;
const DEAD: i64 = 4;

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
struct Effects {
    wake: Vec<String>,
}

type Deliver = Box<dyn FnOnce(Option<&Error>) + Send>;
/// A call run in the writer's transaction: its answer (sent after the commit) and whether it
/// succeeded (a failed call's changes are rolled back to its savepoint).
type Op = Box<dyn FnOnce(std::result::Result<&Connection, &Error>, &mut Effects) -> (Deliver, bool) + Send>;

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
    tx: Mutex<Option<mpsc::Sender<Op>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    signals: Arc<Signals>,
    path: PathBuf,
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

fn sql_err(e: rusqlite::Error) -> Error {
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
        let (tx, rx) = mpsc::channel::<Op>();
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
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in the writer's next transaction; its answer arrives after the commit.
    fn run<T: Send + 'static>(
        &self,
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
        let sent = self.tx.lock().as_ref().is_some_and(|tx| tx.send(op).is_ok());
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

    /// Stops the store's thread once the calls already made are answered. Later calls fail with
    /// `Q009`. Dropping the store does the same.
    pub fn close(&self) {
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
    let conn = Connection::open(path).map_err(|e| store_err(path, "cannot open", e))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| store_err(path, "busy_timeout", e))?;
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| store_err(path, "cannot switch to WAL mode", e))?;
    let sync = if opts.full_sync { "FULL" } else { "NORMAL" };
    conn.execute_batch(&format!("PRAGMA synchronous = {sync};"))
        .map_err(|e| store_err(path, "cannot set pragmas", e))?;
    conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| store_err(path, "cannot lock the schema", e))?;
    let checked = check_schema(&conn, path);
    let end = if checked.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end).map_err(|e| store_err(path, "cannot write the schema", e))?;
    checked?;
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

fn writer(conn: Connection, rx: mpsc::Receiver<Op>, signals: Arc<Signals>, max_batch: usize) {
    while let Ok(first) = rx.recv() {
        let mut ops = vec![first];
        while ops.len() < max_batch {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let mut fx = Effects::default();
        let delivers: Vec<Deliver> = match conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err) {
            Err(e) => ops.into_iter().map(|op| op(Err(&e), &mut fx).0).collect(),
            Ok(()) => ops.into_iter().map(|op| in_savepoint(&conn, op, &mut fx)).collect(),
        };
        let commit = conn.execute_batch("COMMIT").map_err(sql_err).err();
        if commit.is_some() {
            let _ = conn.execute_batch("ROLLBACK");
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

/// One call's changes are undone if it fails, without undoing the batch's other calls.
fn in_savepoint(conn: &Connection, op: Op, fx: &mut Effects) -> Deliver {
    if let Err(e) = conn.execute_batch("SAVEPOINT op").map_err(sql_err) {
        return op(Err(&e), fx).0;
    }
    let woke = fx.wake.len();
    let (deliver, ok) = op(Ok(conn), fx);
    if !ok {
        fx.wake.truncate(woke);
        let _ = conn.execute_batch("ROLLBACK TO op");
    }
    let _ = conn.execute_batch("RELEASE op");
    deliver
}

fn opts_text(o: &JobOptions) -> String {
    serde_json::to_string(o).unwrap_or_else(|_| "{}".into())
}

fn opts_of(text: &str) -> JobOptions {
    serde_json::from_str(text).unwrap_or_default()
}

fn errors_of(text: &str) -> Vec<AttemptError> {
    serde_json::from_str(text).unwrap_or_default()
}

fn state_of(n: i64) -> JobState {
    match n {
        WAITING => JobState::Waiting,
        DELAYED => JobState::Delayed,
        ACTIVE => JobState::Active,
        COMPLETED => JobState::Completed,
        DEAD => JobState::Dead,
        // Written by a newer build: shown as dead, the state that runs nothing.
        _ => JobState::Dead,
    }
}

const INFO_COLUMNS: &str = "id, name, data, state, attempts, errors, progress, result, opts, priority, created_ms, finished_ms, run_at";

fn info_of(r: &Row<'_>) -> rusqlite::Result<JobInfo> {
    let state: i64 = r.get(3)?;
    let run_at: i64 = r.get(12)?;
    let now = now_ms() as i64;
    let state = if state == DELAYED && run_at <= now { JobState::Waiting } else { state_of(state) };
    Ok(JobInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        data: Bytes::from(r.get::<_, Vec<u8>>(2)?),
        state,
        attempts: r.get::<_, i64>(4)? as u32,
        errors: errors_of(&r.get::<_, String>(5)?),
        progress: r.get::<_, Option<Vec<u8>>>(6)?.map(Bytes::from),
        result: r.get::<_, Option<Vec<u8>>>(7)?.map(Bytes::from),
        opts: opts_of(&r.get::<_, String>(8)?),
        priority: r.get::<_, i64>(9)? as u32,
        created_ms: r.get::<_, i64>(10)? as u64,
        finished_ms: r.get::<_, Option<i64>>(11)?.map(|v| v as u64),
    })
}

fn add_jobs(c: &Connection, queue: &str, jobs: Vec<NewJob>, fx: &mut Effects) -> Result<Vec<Added>> {
    let now = now_ms();
    let mut st = c
        .prepare_cached(
            "INSERT INTO jobs (queue, id, name, state, priority, run_at, data, opts, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (queue, id) DO NOTHING",
        )
        .map_err(sql_err)?;
    let mut out = Vec::with_capacity(jobs.len());
    for j in jobs {
        let delayed = j.run_at_ms > now;
        let n = st
            .execute(params![
                queue,
                j.id,
                j.name,
                if delayed { DELAYED } else { WAITING },
                j.priority as i64,
                j.run_at_ms.max(now) as i64,
                &j.data[..],
                opts_text(&j.opts),
                now as i64,
            ])
            .map_err(sql_err)?;
        out.push(if n == 1 { Added::New } else { Added::Duplicate });
    }
    if out.contains(&Added::New) {
        fx.wake.push(queue.to_string());
    }
    Ok(out)
}

/// A queue's row: paused, its concurrency, its rate (jobs, window ms).
struct Limits {
    paused: bool,
    concurrency: Option<u32>,
    rate: Option<(u32, u64)>,
}

fn limits_of(c: &Connection, queue: &str) -> Result<Limits> {
    let row = c
        .prepare_cached("SELECT paused, concurrency, rate_max, rate_window_ms FROM queues WHERE name = ?1")
        .map_err(sql_err)?
        .query_row([queue], |r| {
            Ok((
                r.get::<_, i64>(0)? != 0,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()
        .map_err(sql_err)?;
    Ok(match row {
        None => Limits { paused: false, concurrency: None, rate: None },
        Some((paused, conc, rmax, rwin)) => Limits {
            paused,
            concurrency: conc.map(|c| c as u32),
            rate: rmax.zip(rwin).map(|(m, w)| (m as u32, w as u64)),
        },
    })
}

fn next_due(c: &Connection, queue: &str) -> Result<Option<u64>> {
    c.prepare_cached("SELECT min(run_at) FROM jobs WHERE queue = ?1 AND state = 1")
        .map_err(sql_err)?
        .query_row([queue], |r| r.get::<_, Option<i64>>(0))
        .map(|v| v.map(|v| v as u64))
        .map_err(sql_err)
}

fn claim_jobs(c: &Connection, queue: &str, claim: &Claim) -> Result<Claimed> {
    let now = now_ms() as i64;
    let Limits { paused, concurrency, rate } = limits_of(c, queue)?;
    if paused {
        return Ok(Claimed { paused: true, ..Claimed::default() });
    }
    // Due delayed jobs (and retries past their backoff) become ready, behind the ready ones of
    // their priority that became ready earlier.
    c.prepare_cached("UPDATE jobs SET state = 0 WHERE queue = ?1 AND state = 1 AND run_at <= ?2")
        .map_err(sql_err)?
        .execute(params![queue, now])
        .map_err(sql_err)?;
    let mut n = i64::from(claim.max);
    if let Some(limit) = concurrency {
        let active: i64 = c
            .prepare_cached("SELECT count(*) FROM jobs WHERE queue = ?1 AND state = 2")
            .map_err(sql_err)?
            .query_row([queue], |r| r.get(0))
            .map_err(sql_err)?;
        n = n.min(i64::from(limit) - active);
    }
    let mut rate_wait = None;
    if let Some((max, window)) = rate {
        let since = now - window as i64;
        c.prepare_cached("DELETE FROM rate_log WHERE queue = ?1 AND at_ms <= ?2")
            .map_err(sql_err)?
            .execute(params![queue, since])
            .map_err(sql_err)?;
        let (used, oldest): (i64, Option<i64>) = c
            .prepare_cached("SELECT count(*), min(at_ms) FROM rate_log WHERE queue = ?1")
            .map_err(sql_err)?
            .query_row([queue], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql_err)?;
        let left = i64::from(max) - used;
        if left <= 0 {
            let wait = oldest.map_or(window as i64, |o| o + window as i64 - now).max(1);
            rate_wait = Some(Duration::from_millis(wait as u64));
        }
        n = n.min(left);
    }
    let mut jobs = Vec::new();
    if n > 0 {
        let lease_until = now + claim.lease.as_millis() as i64;
        let mut st = c
            .prepare_cached(
                "UPDATE jobs SET state = 2, attempts = attempts + 1, lease_seq = lease_seq + 1,
                        lease_until = ?1, worker = ?2
                 WHERE pk IN (SELECT pk FROM jobs WHERE queue = ?3 AND state = 0
                              ORDER BY priority, run_at, pk LIMIT ?4)
                 RETURNING id, name, data, attempts, lease_seq, opts, created_ms, priority, run_at, pk",
            )
            .map_err(sql_err)?;
        let mut rows = st
            .query_map(params![lease_until, claim.worker, queue, n], |r| {
                Ok((
                    Leased {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        data: Bytes::from(r.get::<_, Vec<u8>>(2)?),
                        attempt: r.get::<_, i64>(3)? as u32,
                        token: r.get::<_, i64>(4)? as u64,
                        opts: opts_of(&r.get::<_, String>(5)?),
                        created_ms: r.get::<_, i64>(6)? as u64,
                    },
                    (r.get::<_, i64>(7)?, r.get::<_, i64>(8)?, r.get::<_, i64>(9)?),
                ))
            })
            .map_err(sql_err)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        // RETURNING gives no order: hand them out in the queue's.
        rows.sort_by_key(|(_, order)| *order);
        jobs = rows.into_iter().map(|(j, _)| j).collect();
        if rate.is_some() && !jobs.is_empty() {
            let mut log =
                c.prepare_cached("INSERT INTO rate_log (queue, at_ms) VALUES (?1, ?2)").map_err(sql_err)?;
            for _ in &jobs {
                log.execute(params![queue, now]).map_err(sql_err)?;
            }
        }
    }
    Ok(Claimed { jobs, next_due_ms: next_due(c, queue)?, rate_wait, paused: false })
}

fn push_error(errors: &str, e: &AttemptError) -> String {
    let mut all = errors_of(errors);
    all.push(e.clone());
    serde_json::to_string(&all).unwrap_or_else(|_| "[]".into())
}

fn finish_jobs(c: &Connection, queue: &str, done: Vec<Finish>, fx: &mut Effects) -> Result<Vec<FinishAck>> {
    let now = now_ms() as i64;
    let mut out = Vec::with_capacity(done.len());
    let mut wake = false;
    for f in done {
        let found = c
            .prepare_cached("SELECT pk, errors, opts FROM jobs WHERE queue = ?1 AND id = ?2 AND state = 2 AND lease_seq = ?3")
            .map_err(sql_err)?
            .query_row(params![queue, f.id, f.token as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .optional()
            .map_err(sql_err)?;
        let Some((pk, errors, opts)) = found else {
            out.push(FinishAck::LeaseLost);
            continue;
        };
        match f.outcome {
            Outcome::Completed(result) => {
                let keep = opts_of(&opts).keep_completed_ms;
                if keep == 0 {
                    c.prepare_cached("DELETE FROM jobs WHERE pk = ?1")
                        .map_err(sql_err)?
                        .execute([pk])
                        .map_err(sql_err)?;
                } else {
                    c.prepare_cached(
                        "UPDATE jobs SET state = 3, result = ?2, finished_ms = ?3, expire_ms = ?4,
                                lease_until = NULL WHERE pk = ?1",
                    )
                    .map_err(sql_err)?
                    .execute(params![pk, &result[..], now, now + keep as i64])
                    .map_err(sql_err)?;
                }
            }
            Outcome::Retry(e, at) => {
                c.prepare_cached(
                    "UPDATE jobs SET state = 1, run_at = ?2, errors = ?3, lease_until = NULL WHERE pk = ?1",
                )
                .map_err(sql_err)?
                .execute(params![pk, at as i64, push_error(&errors, &e)])
                .map_err(sql_err)?;
                wake = true;
            }
            Outcome::Dead(e) => {
                c.prepare_cached(
                    "UPDATE jobs SET state = 4, errors = ?2, finished_ms = ?3, lease_until = NULL WHERE pk = ?1",
                )
                .map_err(sql_err)?
                .execute(params![pk, push_error(&errors, &e), now])
                .map_err(sql_err)?;
            }
            Outcome::Release => {
                c.prepare_cached(
                    "UPDATE jobs SET state = 0, attempts = attempts - 1, lease_until = NULL WHERE pk = ?1",
                )
                .map_err(sql_err)?
                .execute([pk])
                .map_err(sql_err)?;
                wake = true;
            }
        }
        out.push(FinishAck::Done);
    }
    // Completed jobs past their keep: a few per call, so no call pays for a large backlog.
    c.prepare_cached(
        "DELETE FROM jobs WHERE pk IN (SELECT pk FROM jobs WHERE queue = ?1 AND state IN (3, 4)
                                        AND expire_ms IS NOT NULL AND expire_ms <= ?2 LIMIT 256)",
    )
    .map_err(sql_err)?
    .execute(params![queue, now])
    .map_err(sql_err)?;
    if wake {
        fx.wake.push(queue.to_string());
    }
    Ok(out)
}

fn renew_leases(
    c: &Connection,
    queue: &str,
    leases: Vec<(String, u64)>,
    lease: Duration,
) -> Result<Vec<String>> {
    let until = now_ms() as i64 + lease.as_millis() as i64;
    let mut st = c
        .prepare_cached(
            "UPDATE jobs SET lease_until = ?1 WHERE queue = ?2 AND id = ?3 AND state = 2 AND lease_seq = ?4",
        )
        .map_err(sql_err)?;
    let mut lost = Vec::new();
    for (id, token) in leases {
        if st.execute(params![until, queue, id, token as i64]).map_err(sql_err)? == 0 {
            lost.push(id);
        }
    }
    Ok(lost)
}

fn reap_leases(c: &Connection, queue: &str, max_stalls: u32, fx: &mut Effects) -> Result<Vec<Stalled>> {
    let now = now_ms() as i64;
    let expired = c
        .prepare_cached(
            "SELECT pk, id, stalls, errors, attempts FROM jobs WHERE queue = ?1 AND state = 2 AND lease_until < ?2",
        )
        .map_err(sql_err)?
        .query_map(params![queue, now], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?))
        })
        .map_err(sql_err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql_err)?;
    let mut out = Vec::with_capacity(expired.len());
    for (pk, id, stalls, errors, attempts) in expired {
        let stalls = stalls + 1;
        if stalls > i64::from(max_stalls) {
            let e = AttemptError {
                attempt: attempts as u32,
                at_ms: now as u64,
                code: ErrorCode::LeaseLost.as_str().into(),
                message: format!("the worker running the job was lost (its lease expired) {stalls} times"),
            };
            c.prepare_cached(
                "UPDATE jobs SET state = 4, stalls = ?2, errors = ?3, finished_ms = ?4, lease_until = NULL WHERE pk = ?1",
            )
            .map_err(sql_err)?
            .execute(params![pk, stalls, push_error(&errors, &e), now])
            .map_err(sql_err)?;
            out.push(Stalled { id, requeued: false });
        } else {
            // Back to the front: the lost attempt is not counted against the job.
            c.prepare_cached(
                "UPDATE jobs SET state = 0, stalls = ?2, attempts = attempts - 1, lease_until = NULL WHERE pk = ?1",
            )
            .map_err(sql_err)?
            .execute(params![pk, stalls])
            .map_err(sql_err)?;
            out.push(Stalled { id, requeued: true });
        }
    }
    if out.iter().any(|s| s.requeued) {
        fx.wake.push(queue.to_string());
    }
    Ok(out)
}

fn upsert_queue(c: &Connection, queue: &str) -> Result<()> {
    c.prepare_cached("INSERT INTO queues (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")
        .map_err(sql_err)?
        .execute([queue])
        .map_err(sql_err)?;
    Ok(())
}

fn count_jobs(c: &Connection, queue: &str) -> Result<Counts> {
    let now = now_ms() as i64;
    let mut counts = c
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE state = 0 OR (state = 1 AND run_at <= ?2)),
                    count(*) FILTER (WHERE state = 1 AND run_at > ?2),
                    count(*) FILTER (WHERE state = 2),
                    count(*) FILTER (WHERE state = 3),
                    count(*) FILTER (WHERE state = 4)
             FROM jobs WHERE queue = ?1",
        )
        .map_err(sql_err)?
        .query_row(params![queue, now], |r| {
            Ok(Counts {
                waiting: r.get::<_, i64>(0)? as u64,
                delayed: r.get::<_, i64>(1)? as u64,
                active: r.get::<_, i64>(2)? as u64,
                completed: r.get::<_, i64>(3)? as u64,
                dead: r.get::<_, i64>(4)? as u64,
                paused: false,
            })
        })
        .map_err(sql_err)?;
    counts.paused = limits_of(c, queue)?.paused;
    Ok(counts)
}

impl Store for SqliteStore {
    fn add(&self, queue: &str, jobs: Vec<NewJob>) -> BoxFuture<'static, Result<Vec<Added>>> {
        let q = queue.to_string();
        self.run(move |c, fx| add_jobs(c, &q, jobs, fx))
    }

    fn claim(&self, queue: &str, claim: Claim) -> BoxFuture<'static, Result<Claimed>> {
        let q = queue.to_string();
        self.run(move |c, _| claim_jobs(c, &q, &claim))
    }

    fn finish(&self, queue: &str, done: Vec<Finish>) -> BoxFuture<'static, Result<Vec<FinishAck>>> {
        let q = queue.to_string();
        self.run(move |c, fx| finish_jobs(c, &q, done, fx))
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
