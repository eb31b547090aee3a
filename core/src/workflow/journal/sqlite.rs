//! The SQLite journal: one file (or `:memory:`), WAL mode, written by one dedicated thread that
//! commits every append waiting in its queue in one transaction (group commit), with cached
//! prepared statements. Async callers never touch the database themselves.
//!
//! Schema (version [`SCHEMA_VERSION`]):
//!
//! ```sql
//! CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
//!   -- ('schema_version', '1'), ('application', 'omnitron-workflow-journal')
//! CREATE TABLE runs (run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, state TEXT NOT NULL,
//!                    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
//! CREATE INDEX runs_by_state ON runs (state);
//! CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL,
//!                      kind TEXT NOT NULL, stage TEXT, data TEXT NOT NULL,
//!                      PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Entry, Event, Journal};
use crate::error::{Error, ErrorCode, Result};
use crate::workflow::definition::BoxFuture;
use crate::workflow::run::{RunFilter, RunState, RunSummary};

/// The journal schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

const APPLICATION: &str = "omnitron-workflow-journal";

/// Migrations: `MIGRATIONS[i]` takes a journal from version `i + 1` to `i + 2`. Empty while only
/// version 1 exists. A journal older than this build is migrated in one transaction; a newer one
/// is refused.
const MIGRATIONS: &[&str] = &[];

const SCHEMA_V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, workflow TEXT NOT NULL, state TEXT NOT NULL,
                   created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
CREATE INDEX runs_by_state ON runs (state);
CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL,
                     kind TEXT NOT NULL, stage TEXT, data TEXT NOT NULL,
                     PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
";

/// SQLite's `synchronous` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// No syncing: fastest, a power loss can corrupt the file. Tests and benchmarks only.
    Off,
    /// In WAL mode: a commit survives the process being killed; a power loss may drop the last
    /// commits (never corrupts). The default.
    #[default]
    Normal,
    /// Every commit is synced: survives a power loss too, slower.
    Full,
}

/// How a [`SqliteJournal`] is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The file (created if missing), or `:memory:`.
    pub path: PathBuf,
    /// Durability (default [`Synchronous::Normal`]).
    pub synchronous: Synchronous,
    /// Most appends committed in one transaction (default 1024).
    pub max_batch: usize,
}

impl SqliteOptions {
    /// Options for `path` with the defaults.
    pub fn new(path: impl AsRef<Path>) -> Self {
        SqliteOptions { path: path.as_ref().to_path_buf(), synchronous: Synchronous::Normal, max_batch: 1024 }
    }
}

type Reply<T> = oneshot::Sender<Result<T>>;

enum Command {
    Append(Arc<[Entry]>, Reply<()>),
    Load(String, Reply<Option<Vec<Entry>>>),
    Unfinished(Reply<Vec<Vec<Entry>>>),
    List(RunFilter, Reply<Vec<RunSummary>>),
}

/// The SQLite journal. Open one per file per process; two engines recovering the same file would
/// both resume its runs.
pub struct SqliteJournal {
    tx: Option<mpsc::Sender<Command>>,
    thread: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal").field("path", &self.path).finish()
    }
}

fn journal_err(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::JournalError,
        format!(
            "workflow journal '{}': {what}: {e}; check that the file is writable and not corrupt",
            path.display()
        ),
    )
}

impl SqliteJournal {
    /// Opens (or creates) the journal at `path` with the default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(SqliteOptions::new(path))
    }

    /// A journal in an in-memory SQLite database.
    pub fn in_memory() -> Result<Self> {
        Self::open_with(SqliteOptions::new(":memory:"))
    }

    /// Opens with options. Checks the schema version first: an older journal is migrated, a newer
    /// one or a file that is not a journal is refused (`JournalVersion`, `JournalError`).
    pub fn open_with(opts: SqliteOptions) -> Result<Self> {
        let path = opts.path.clone();
        let conn = open_connection(&opts)?;
        let (tx, rx) = mpsc::channel();
        let p = path.clone();
        let max_batch = opts.max_batch.max(1);
        let thread = std::thread::Builder::new()
            .name("omnitron-journal".into())
            .spawn(move || writer(conn, rx, p, max_batch))
            .map_err(|e| journal_err(&path, "cannot start the journal thread", e))?;
        Ok(SqliteJournal { tx: Some(tx), thread: Some(thread), path })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> BoxFuture<'static, Result<T>> {
        let (reply, rx) = oneshot::channel();
        let sent = self.tx.as_ref().map(|tx| tx.send(make(reply)).is_ok()).unwrap_or(false);
        let path = self.path.clone();
        Box::pin(async move {
            if !sent {
                return Err(journal_err(&path, "the journal thread has stopped", "closed"));
            }
            rx.await.map_err(|_| journal_err(&path, "the journal thread has stopped", "no answer"))?
        })
    }
}

impl Drop for SqliteJournal {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Journal for SqliteJournal {
    fn append(&self, entries: Arc<[Entry]>) -> BoxFuture<'static, Result<()>> {
        self.send(|r| Command::Append(entries, r))
    }

    fn load_run(&self, run_id: &str) -> BoxFuture<'static, Result<Option<Vec<Entry>>>> {
        let id = run_id.to_string();
        self.send(|r| Command::Load(id, r))
    }

    fn unfinished(&self) -> BoxFuture<'static, Result<Vec<Vec<Entry>>>> {
        self.send(Command::Unfinished)
    }

    fn list(&self, filter: &RunFilter) -> BoxFuture<'static, Result<Vec<RunSummary>>> {
        let f = filter.clone();
        self.send(|r| Command::List(f, r))
    }
}

fn open_connection(opts: &SqliteOptions) -> Result<Connection> {
    let path = &opts.path;
    let conn = Connection::open(path).map_err(|e| journal_err(path, "cannot open", e))?;
    let sync = match opts.synchronous {
        Synchronous::Off => "OFF",
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| journal_err(path, "busy_timeout", e))?;
    // `journal_mode` answers with the mode set ("memory" for an in-memory database).
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| journal_err(path, "cannot switch to WAL mode", e))?;
    conn.execute_batch(&format!("PRAGMA synchronous = {sync}; PRAGMA foreign_keys = OFF;"))
        .map_err(|e| journal_err(path, "cannot set pragmas", e))?;
    check_schema(&conn, path)?;
    Ok(conn)
}

fn check_schema(conn: &Connection, path: &Path) -> Result<()> {
    let q = |e| journal_err(path, "cannot read the schema", e);
    let has_meta: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(q)?
        > 0;
    if !has_meta {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
            .map_err(q)?;
        if tables > 0 {
            return Err(Error::new(
                ErrorCode::JournalError,
                format!(
                    "'{}' is a SQLite database but not an Omnitron workflow journal (it has tables and no 'meta' table); give the engine a new file",
                    path.display()
                ),
            ));
        }
        let sql = format!(
            "BEGIN; {SCHEMA_V1} INSERT INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'), ('application', '{APPLICATION}'); COMMIT;"
        );
        conn.execute_batch(&sql).map_err(|e| journal_err(path, "cannot create the schema", e))?;
        return Ok(());
    }
    let get = |key: &str| -> Result<Option<String>> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(q)
    };
    if get("application")?.as_deref() != Some(APPLICATION) {
        return Err(Error::new(
            ErrorCode::JournalError,
            format!(
                "'{}' has a 'meta' table but is not an Omnitron workflow journal; give the engine a new file",
                path.display()
            ),
        ));
    }
    let raw = get("schema_version")?.unwrap_or_default();
    let Ok(version) = raw.trim().parse::<u32>() else {
        return Err(Error::new(
            ErrorCode::JournalVersion,
            format!("workflow journal '{}' has an unreadable schema version '{raw}'", path.display()),
        ));
    };
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    if version > SCHEMA_VERSION || version == 0 {
        return Err(Error::new(
            ErrorCode::JournalVersion,
            format!(
                "workflow journal '{}' has schema version {version}, this build of Omnitron reads version {SCHEMA_VERSION}; open it with the Omnitron version that wrote it (or a newer one), or start a new journal file",
                path.display()
            ),
        ));
    }
    // Older: migrate step by step in one transaction.
    let steps = MIGRATIONS.get(version as usize - 1..).unwrap_or(&[]);
    if steps.len() != (SCHEMA_VERSION - version) as usize {
        return Err(Error::new(
            ErrorCode::JournalVersion,
            format!(
                "workflow journal '{}' has schema version {version} and this build has no migration from it to {SCHEMA_VERSION}; open it with an older Omnitron to finish its runs",
                path.display()
            ),
        ));
    }
    let sql = format!(
        "BEGIN; {} UPDATE meta SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version'; COMMIT;",
        steps.join("\n")
    );
    conn.execute_batch(&sql).map_err(|e| journal_err(path, "cannot migrate the schema", e))
}

fn writer(mut conn: Connection, rx: mpsc::Receiver<Command>, path: PathBuf, max_batch: usize) {
    let mut appends: Vec<(Arc<[Entry]>, Reply<()>)> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut cmds = vec![first];
        while cmds.len() < max_batch {
            match rx.try_recv() {
                Ok(c) => cmds.push(c),
                Err(_) => break,
            }
        }
        for cmd in cmds {
            match cmd {
                Command::Append(e, r) => appends.push((e, r)),
                read => {
                    // Reads see every append queued before them.
                    flush(&mut conn, &mut appends, &path);
                    match read {
                        Command::Load(id, r) => {
                            let _ = r.send(load(&conn, &id, &path));
                        }
                        Command::Unfinished(r) => {
                            let _ = r.send(unfinished(&conn, &path));
                        }
                        Command::List(f, r) => {
                            let _ = r.send(list(&conn, &f, &path));
                        }
                        Command::Append(..) => unreachable!("appends are queued above"),
                    }
                }
            }
        }
        flush(&mut conn, &mut appends, &path);
    }
}

fn flush(conn: &mut Connection, appends: &mut Vec<(Arc<[Entry]>, Reply<()>)>, path: &Path) {
    if appends.is_empty() {
        return;
    }
    let result = write_all(conn, appends).map_err(|e| journal_err(path, "cannot write", e));
    for (_, reply) in appends.drain(..) {
        let _ = reply.send(result.clone());
    }
}

fn write_all(conn: &mut Connection, appends: &[(Arc<[Entry]>, Reply<()>)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO events (run_id, seq, at_ms, kind, stage, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut created = tx.prepare_cached(
            "INSERT INTO runs (run_id, workflow, state, created_ms, updated_ms) VALUES (?1, ?2, 'pending', ?3, ?3)",
        )?;
        let mut state = tx.prepare_cached("UPDATE runs SET state = ?2, updated_ms = ?3 WHERE run_id = ?1")?;
        for (entries, _) in appends {
            for e in entries.iter() {
                let data = serde_json::to_string(&e.event)
                    .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
                let run_id: &str = &e.run_id;
                ins.execute(params![
                    run_id,
                    e.seq as i64,
                    e.at_ms as i64,
                    e.event.kind(),
                    e.event.stage(),
                    data
                ])?;
                match &e.event {
                    Event::RunCreated { workflow, .. } => {
                        created.execute(params![run_id, workflow, e.at_ms as i64])?;
                    }
                    Event::RunState { state: s, .. } => {
                        state.execute(params![run_id, s.as_str(), e.at_ms as i64])?;
                    }
                    Event::RunRetry { .. } => {
                        state.execute(params![run_id, RunState::Running.as_str(), e.at_ms as i64])?;
                    }
                    _ => {}
                }
            }
        }
    }
    tx.commit()
}

fn load(conn: &Connection, run_id: &str, path: &Path) -> Result<Option<Vec<Entry>>> {
    let err = |e: rusqlite::Error| journal_err(path, "cannot read", e);
    let mut stmt = conn
        .prepare_cached("SELECT seq, at_ms, data FROM events WHERE run_id = ?1 ORDER BY seq")
        .map_err(err)?;
    let id: Arc<str> = run_id.into();
    let rows = stmt
        .query_map([run_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?)))
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at_ms, data) = row.map_err(err)?;
        let event: Event = serde_json::from_str(&data)
            .map_err(|e| journal_err(path, &format!("entry {seq} of run '{run_id}' cannot be decoded"), e))?;
        out.push(Entry { run_id: id.clone(), seq: seq as u64, at_ms: at_ms as u64, event });
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}

fn unfinished(conn: &Connection, path: &Path) -> Result<Vec<Vec<Entry>>> {
    let err = |e: rusqlite::Error| journal_err(path, "cannot read", e);
    let finals: Vec<&str> = RunState::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
    let sql = format!(
        "SELECT run_id FROM runs WHERE state NOT IN ({}) ORDER BY created_ms, rowid",
        finals.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
    );
    let ids: Vec<String> = {
        let mut stmt = conn.prepare(&sql).map_err(err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(err)?
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(entries) = load(conn, &id, path)? {
            out.push(entries);
        }
    }
    Ok(out)
}

fn list(conn: &Connection, f: &RunFilter, path: &Path) -> Result<Vec<RunSummary>> {
    let err = |e: rusqlite::Error| journal_err(path, "cannot read", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT run_id, workflow, state, created_ms, updated_ms FROM runs
             WHERE (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR state = ?2)
             ORDER BY created_ms, rowid LIMIT ?3",
        )
        .map_err(err)?;
    let limit = f.limit.map(|l| l.min(i64::MAX as usize) as i64).unwrap_or(-1);
    let rows = stmt
        .query_map(params![f.workflow, f.state.map(|s| s.as_str()), limit], |r| {
            let state: String = r.get(2)?;
            Ok(RunSummary {
                run_id: r.get(0)?,
                workflow: r.get(1)?,
                state: RunState::parse(&state).unwrap_or(RunState::Pending),
                created_at_ms: r.get::<_, i64>(3)? as u64,
                updated_at_ms: r.get::<_, i64>(4)? as u64,
            })
        })
        .map_err(err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(err)
}
