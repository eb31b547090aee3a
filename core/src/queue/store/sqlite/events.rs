//! How a queue's events cross processes sharing one SQLite file: a process that listens to a queue
//! says so in `queue_listeners` (a row it keeps fresh); a process publishing events writes them to
//! `queue_events` only while another process listens to that queue, in the writer's transaction;
//! each listening process tails the table on a thread of its own, which reads only when
//! `PRAGMA data_version` says another connection committed something. Rows older than a minute
//! are deleted: the table carries news, it keeps no history.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::queue::QueueEvent;
use crate::queue::events::{EventHub, encode};
use crate::time::now_ms;

use super::sql_err;

/// Made with the store, in files of any schema version: they hold nothing that must outlive a
/// minute.
pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS queue_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL,
  origin INTEGER NOT NULL, body BLOB NOT NULL, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS queue_listeners (queue TEXT NOT NULL, origin INTEGER NOT NULL,
  until_ms INTEGER NOT NULL, PRIMARY KEY (queue, origin));
";

/// How often a listening process looks for news.
const POLL: Duration = Duration::from_millis(20);
/// How long a listener's row holds without being refreshed (a killed process stops counting).
const LISTENER_TTL_MS: i64 = 30_000;
/// How often a listener refreshes its rows and deletes old events.
const REFRESH: Duration = Duration::from_secs(10);
/// How long an event row is kept.
const KEEP_MS: i64 = 60_000;

/// Writes a publication if another process listens to `queue` (in the writer's transaction).
pub(super) fn publish(c: &Connection, queue: &str, origin: u64, events: &[QueueEvent]) -> Result<()> {
    let now = now_ms() as i64;
    let origin = origin as i64;
    let listened: bool = c
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM queue_listeners WHERE queue = ?1 AND origin <> ?2 AND until_ms > ?3)",
        )
        .and_then(|mut s| s.query_row(params![queue, origin, now], |r| r.get(0)))
        .map_err(sql_err)?;
    if listened {
        c.prepare_cached("INSERT INTO queue_events (queue, origin, body, at_ms) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![queue, origin, encode(origin as u64, events), now]))
            .map_err(sql_err)?;
    }
    Ok(())
}

/// The thread tailing `queue_events` for this store's listeners. Dropping it stops the thread
/// (which takes its rows out of `queue_listeners`).
pub(super) struct Tail {
    /// Told of each queue newly listened to, so that it registers at once.
    wake: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tail {
    pub(super) fn start(path: PathBuf, hub: Arc<EventHub>) -> std::io::Result<Tail> {
        let (wake, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("omnitron-queue-events".into())
            .spawn(move || {
                if let Err(e) = tail(&path, &hub, &rx) {
                    tracing::warn!(path = %path.display(), error = %e, "queue events: cannot hear other processes' events");
                }
            })?;
        Ok(Tail { wake, thread: Some(thread) })
    }

    pub(super) fn wake(&self) {
        let _ = self.wake.send(());
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        // Closing the channel stops the thread.
        let (closed, _) = mpsc::channel();
        self.wake = closed;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn tail(path: &std::path::Path, hub: &EventHub, wake: &mpsc::Receiver<()>) -> Result<()> {
    let c = Connection::open(path).map_err(sql_err)?;
    c.busy_timeout(Duration::from_secs(10)).map_err(sql_err)?;
    let last =
        c.query_row("SELECT coalesce(max(seq), 0) FROM queue_events", [], |r| r.get(0)).map_err(sql_err)?;
    let mut t = Tailing {
        origin: hub.origin() as i64,
        registered: HashSet::new(),
        last,
        version: None,
        refreshed: std::time::Instant::now(),
    };
    let mut warned: Option<std::time::Instant> = None;
    loop {
        // A busy or failing file is retried at the next poll; said once a minute.
        if let Err(e) = t.step(&c, hub)
            && warned.is_none_or(|w| w.elapsed() >= Duration::from_secs(60))
        {
            warned = Some(std::time::Instant::now());
            tracing::warn!(path = %path.display(), error = %e, "queue events: reading other processes' events failed; retrying");
        }
        match wake.recv_timeout(POLL) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let _ = c.execute("DELETE FROM queue_listeners WHERE origin = ?1", [t.origin]);
    Ok(())
}

struct Tailing {
    origin: i64,
    /// The queues this process said it listens to.
    registered: HashSet<String>,
    /// The last event row read.
    last: i64,
    /// `PRAGMA data_version` when last read: it changes when another connection commits.
    version: Option<i64>,
    refreshed: std::time::Instant,
}

impl Tailing {
    fn step(&mut self, c: &Connection, hub: &EventHub) -> Result<()> {
        for q in hub.queues() {
            if !self.registered.contains(&q) {
                c.execute(
                    "INSERT OR REPLACE INTO queue_listeners (queue, origin, until_ms) VALUES (?1, ?2, ?3)",
                    params![q, self.origin, now_ms() as i64 + LISTENER_TTL_MS],
                )
                .map_err(sql_err)?;
                hub.set_ready(&q, true);
                self.registered.insert(q);
            }
        }
        let v: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(sql_err)?;
        if self.version != Some(v) {
            let mut s = c
                .prepare_cached("SELECT seq, queue, body FROM queue_events WHERE seq > ?1 ORDER BY seq")
                .map_err(sql_err)?;
            let mut rows = s.query([self.last]).map_err(sql_err)?;
            while let Some(r) = rows.next().map_err(sql_err)? {
                self.last = r.get(0).map_err(sql_err)?;
                let queue: String = r.get(1).map_err(sql_err)?;
                if self.registered.contains(&queue) {
                    let body = r.get_ref(2).map_err(sql_err)?.as_blob().unwrap_or_default();
                    hub.deliver_published(&queue, body);
                }
            }
            self.version = Some(v);
        }
        if self.refreshed.elapsed() >= REFRESH {
            let now = now_ms() as i64;
            c.execute(
                "UPDATE queue_listeners SET until_ms = ?2 WHERE origin = ?1",
                params![self.origin, now + LISTENER_TTL_MS],
            )
            .map_err(sql_err)?;
            c.execute("DELETE FROM queue_listeners WHERE until_ms < ?1", [now]).map_err(sql_err)?;
            c.execute("DELETE FROM queue_events WHERE at_ms < ?1", [now - KEEP_MS]).map_err(sql_err)?;
            self.refreshed = std::time::Instant::now();
        }
        Ok(())
    }
}
