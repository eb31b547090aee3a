//! One running child: its process, its connection, its health, and how it is stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::host::{ProcessHost, Ready};
use super::os::{Exit, OsProcess};
use super::spec::{ChildSpec, HealthCheck};
use crate::rpc::{CallOptions, WireError};

/// Why a child is no longer available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostReason {
    /// The process ended on its own (or was killed from outside).
    Exited(Exit),
    /// It stopped answering pings and was killed.
    Unresponsive {
        /// Pings missed in a row.
        missed: u32,
    },
    /// It closed its connection to the parent and was killed.
    Disconnected,
    /// It was stopped on purpose.
    Stopped,
    /// A restart did not bring it back (it exited or timed out before it was ready).
    StartFailed(String),
}

impl LostReason {
    /// A short name for the kind of loss: `exited`, `unresponsive`, `disconnected`, `stopped`,
    /// `start-failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            LostReason::Exited(_) => "exited",
            LostReason::Unresponsive { .. } => "unresponsive",
            LostReason::Disconnected => "disconnected",
            LostReason::Stopped => "stopped",
            LostReason::StartFailed(_) => "start-failed",
        }
    }

    /// Whether this counts as a failure (anything but a clean exit or a stop).
    pub fn is_failure(&self) -> bool {
        !matches!(self, LostReason::Exited(Exit::Code(0)) | LostReason::Stopped)
    }
}

impl std::fmt::Display for LostReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LostReason::Exited(e) => write!(f, "{e}"),
            LostReason::Unresponsive { missed } => {
                write!(f, "stopped answering ({missed} pings missed) and was killed")
            }
            LostReason::Disconnected => f.write_str("closed its connection to the parent and was killed"),
            LostReason::Stopped => f.write_str("was stopped"),
            LostReason::StartFailed(why) => write!(f, "did not start: {why}"),
        }
    }
}

/// A ready child process.
#[derive(Debug)]
pub struct ChildProcess {
    host: ProcessHost,
    /// Its configured name.
    pub name: String,
    /// Its instance index.
    pub index: usize,
    /// Its unique id (the name it connected under).
    pub id: String,
    /// Its process id.
    pub pid: u32,
    /// The services it registered.
    pub services: Vec<String>,
    /// The public methods of each of `services`, in the same order.
    methods: Vec<Vec<String>>,
    conn: u64,
    proc: OsProcess,
    lost: CancellationToken,
    stopping: AtomicBool,
    unresponsive: Mutex<Option<u32>>,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) tasks_done: AtomicU64,
    started: Instant,
    ready_after: Duration,
    shutdown_timeout: Duration,
}

impl ChildProcess {
    #[allow(clippy::too_many_arguments)] // Everything a ready child is made of, gathered once.
    pub(crate) fn new(
        host: ProcessHost,
        spec: &ChildSpec,
        index: usize,
        id: String,
        proc: OsProcess,
        ready: Ready,
        lost: CancellationToken,
        started: Instant,
    ) -> Arc<ChildProcess> {
        let child = Arc::new(ChildProcess {
            host,
            name: spec.name.clone(),
            index,
            id,
            pid: proc.pid,
            services: ready.services,
            methods: ready.methods,
            conn: ready.conn,
            proc,
            lost,
            stopping: AtomicBool::new(false),
            unresponsive: Mutex::new(None),
            in_flight: AtomicUsize::new(0),
            tasks_done: AtomicU64::new(0),
            ready_after: started.elapsed(),
            started,
            shutdown_timeout: spec.shutdown_timeout,
        });
        if let Some(h) = spec.health {
            tokio::spawn(health_loop(Arc::downgrade(&child), h));
        }
        child
    }

    /// The public methods `service` (one of [`ChildProcess::services`]) registered with.
    pub fn methods(&self, service: &str) -> Option<&[String]> {
        let i = self.services.iter().position(|s| s == service)?;
        self.methods.get(i).map(Vec::as_slice)
    }

    /// How long it took from spawn to ready.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// How long a stop waits after SIGTERM.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// How long it has been running.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Calls in flight to it through a pool.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Tasks it has finished through a pool.
    pub fn tasks_done(&self) -> u64 {
        self.tasks_done.load(Ordering::Relaxed)
    }

    /// How it ended, if it has.
    pub fn exit(&self) -> Option<Exit> {
        self.proc.exited()
    }

    /// Whether it is still available (running, connected, answering).
    pub fn is_alive(&self) -> bool {
        self.proc.exited().is_none() && !self.lost.is_cancelled()
    }

    /// Calls `method` of `target` (one of its services) on this child.
    pub async fn call_raw(
        &self,
        target: &str,
        method: &str,
        args: Bytes,
        opts: CallOptions,
    ) -> std::result::Result<Bytes, WireError> {
        self.host.call_on(self.conn, target, method, args, opts).await
    }

    /// [`ChildProcess::call_raw`] without a task (see [`crate::rpc::Peer::call_raw_on_with`]); `done`
    /// is handed back when the connection's outbox is full.
    #[allow(clippy::type_complexity)]
    pub fn call_raw_with(
        &self,
        target: &str,
        method: &str,
        args: &[u8],
        opts: CallOptions,
        done: Box<dyn FnOnce(std::result::Result<Bytes, WireError>) + Send>,
    ) -> std::result::Result<
        crate::rpc::CallHandle,
        Box<dyn FnOnce(std::result::Result<Bytes, WireError>) + Send>,
    > {
        self.host.peer().call_raw_on_with(self.conn, target, method, args, opts, done)
    }

    /// Checks that it answers: the ping's round trip.
    pub async fn ping(&self, timeout: Duration) -> crate::Result<Duration> {
        self.host.peer().ping_on(self.conn, timeout).await
    }

    /// Waits until it is no longer available, makes sure its process is gone, and says why.
    pub async fn lost(&self) -> LostReason {
        let mut killed_here = false;
        let exit = tokio::select! {
            e = self.proc.wait() => e,
            _ = self.lost.cancelled() => {
                // A crash closes the connection as the process dies: give its exit a moment to
                // arrive before deciding the process is alive and must be killed.
                match tokio::time::timeout(Duration::from_millis(200), self.proc.wait()).await {
                    Ok(e) => e,
                    Err(_) => {
                        killed_here = true;
                        self.proc.signal_group(libc::SIGKILL);
                        self.proc.wait().await
                    }
                }
            }
        };
        self.host.forget(&self.id);
        if self.stopping.load(Ordering::Acquire) {
            return LostReason::Stopped;
        }
        if let Some(missed) = *self.unresponsive.lock() {
            return LostReason::Unresponsive { missed };
        }
        if killed_here {
            return LostReason::Disconnected;
        }
        LostReason::Exited(exit)
    }

    /// Stops it: SIGTERM to its process group, then SIGKILL if it is still running after its
    /// shutdown timeout. Returns how it ended. Waiting for work in flight is the caller's part (a
    /// pool drains a worker before stopping it).
    pub async fn stop(&self) -> Exit {
        self.stop_within(self.shutdown_timeout).await
    }

    /// [`ChildProcess::stop`] with another timeout.
    pub async fn stop_within(&self, timeout: Duration) -> Exit {
        self.stopping.store(true, Ordering::Release);
        if let Some(e) = self.proc.exited() {
            self.proc.signal_group(libc::SIGKILL);
            return e;
        }
        self.proc.signal_group(libc::SIGTERM);
        let exit = match tokio::time::timeout(timeout, self.proc.wait()).await {
            Ok(e) => e,
            Err(_) => {
                tracing::warn!(child = %self.id, pid = self.pid, "did not stop within {} ms of SIGTERM: SIGKILL", timeout.as_millis());
                self.proc.signal_group(libc::SIGKILL);
                self.proc.wait().await
            }
        };
        // Whatever it started and left behind in its group goes too.
        self.proc.signal_group(libc::SIGKILL);
        exit
    }

    /// Kills it at once (SIGKILL to its group), as a crash would.
    pub fn kill(&self) {
        self.proc.signal_group(libc::SIGKILL);
    }

    /// Sends it a signal (the process only, not its group).
    pub fn signal(&self, sig: i32) {
        if self.proc.exited().is_none() {
            // SAFETY: kill only sends a signal.
            unsafe { libc::kill(self.pid as libc::pid_t, sig) };
        }
    }
}

async fn health_loop(child: std::sync::Weak<ChildProcess>, h: HealthCheck) {
    let mut missed = 0u32;
    loop {
        tokio::time::sleep(h.interval).await;
        let Some(c) = child.upgrade() else { return };
        if !c.is_alive() || c.stopping.load(Ordering::Acquire) {
            return;
        }
        match c.ping(h.timeout).await {
            Ok(_) => missed = 0,
            Err(e) => {
                missed += 1;
                tracing::warn!(child = %c.id, pid = c.pid, missed, "missed a health ping: {e}");
                if missed >= h.max_missed.max(1) {
                    tracing::error!(child = %c.id, pid = c.pid, "unresponsive after {missed} missed pings: killing it");
                    *c.unresponsive.lock() = Some(missed);
                    c.proc.signal_group(libc::SIGKILL);
                    c.lost.cancel();
                    return;
                }
            }
        }
    }
}
