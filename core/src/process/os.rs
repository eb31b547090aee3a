//! Starting and signalling OS processes.
//!
//! Every child is started from one long-lived thread: Linux's `PR_SET_PDEATHSIG` fires when the
//! *thread* that forked the child exits, not the process, so forking from a runtime's short-lived
//! blocking threads would kill children at random. Each child gets `PR_SET_PDEATHSIG(SIGKILL)` and
//! its own process group, so a parent killed with SIGKILL takes its children with it, and a stop
//! reaches the child's own children too.

use std::collections::VecDeque;
use std::io;
use std::process::Stdio;
use std::sync::{Arc, OnceLock, mpsc as std_mpsc};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{oneshot, watch};

use crate::error::{Error, ErrorCode, Result};

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

impl Exit {
    /// Whether it exited with code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with code {c}"),
            Exit::Signal(s) => write!(f, "was killed by signal {s} ({})", signal_name(*s)),
        }
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGINT => "SIGINT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

/// Which stream a line of child output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line a child wrote.
#[derive(Debug, Clone)]
pub struct OutputLine {
    /// The child's name.
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// Where it wrote it.
    pub stream: Stream,
    /// The line, without its newline (cut at 16 KiB).
    pub line: String,
}

/// Where children's output goes besides the logs.
pub type OutputSink = Arc<dyn Fn(&OutputLine) + Send + Sync>;

const MAX_LINE: usize = 16 * 1024;
const KEEP_LINES: usize = 20;

/// A started OS process.
#[derive(Debug)]
pub(crate) struct OsProcess {
    pub(crate) pid: u32,
    pub(crate) exit: watch::Receiver<Option<Exit>>,
    /// Its last lines of stderr, for error messages.
    pub(crate) last_stderr: Arc<Mutex<VecDeque<String>>>,
    /// Turns true once its stderr reached end of file: an exit can be seen before the last lines
    /// were read, and those are the ones that say why.
    stderr_closed: watch::Receiver<bool>,
}

impl OsProcess {
    /// Whether it has ended.
    pub(crate) fn exited(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// Waits for it to end.
    pub(crate) async fn wait(&self) -> Exit {
        let mut rx = self.exit.clone();
        loop {
            if let Some(e) = *rx.borrow_and_update() {
                return e;
            }
            if rx.changed().await.is_err() {
                return rx.borrow().unwrap_or(Exit::Signal(libc::SIGKILL));
            }
        }
    }

    /// Sends `sig` to its process group: it and anything it started. Also after it ended, so that
    /// a stop reaches what it left behind (a group id is not reused while the group has members).
    pub(crate) fn signal_group(&self, sig: i32) {
        // SAFETY: killpg only sends a signal; a group that is gone gives ESRCH, which is fine.
        unsafe { libc::killpg(self.pid as libc::pid_t, sig) };
    }

    /// The last lines it wrote to stderr, joined, for an error message.
    /// [`Self::stderr_tail`] once its stderr is read to the end, or after a short wait: a child it
    /// started may hold the pipe open after it exited.
    pub(crate) async fn stderr_tail_after_exit(&self) -> String {
        let mut closed = self.stderr_closed.clone();
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), closed.wait_for(|c| *c)).await;
        self.stderr_tail()
    }

    pub(crate) fn stderr_tail(&self) -> String {
        let lines = self.last_stderr.lock();
        if lines.is_empty() {
            return String::new();
        }
        let mut s = String::from("; its last stderr lines:");
        for l in lines.iter() {
            s.push_str("\n  ");
            s.push_str(l);
        }
        s
    }
}

type SpawnJob =
    (std::process::Command, tokio::runtime::Handle, oneshot::Sender<io::Result<tokio::process::Child>>);

/// The one thread children are forked from; it lives as long as the process.
fn spawner() -> &'static Mutex<std_mpsc::Sender<SpawnJob>> {
    static SPAWNER: OnceLock<Mutex<std_mpsc::Sender<SpawnJob>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("omnitron-spawner".into())
            .spawn(move || {
                for (cmd, rt, reply) in rx {
                    // The child is registered with the caller's runtime, which reaps it.
                    let _guard = rt.enter();
                    let _ = reply.send(tokio::process::Command::from(cmd).spawn());
                }
            })
            .expect("omnitron: cannot start the spawner thread");
        Mutex::new(tx)
    })
}

/// Starts `program` with `args`, `env` and `cwd`, forwarding its output line by line.
pub(crate) async fn start(
    name: &str,
    program: &std::path::Path,
    args: &[String],
    env: &[(String, String)],
    cwd: Option<&std::path::Path>,
    sink: Option<OutputSink>,
) -> Result<OsProcess> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.process_group(0);
    // SAFETY: getpid is async-signal-safe; read here, before the fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and calls only async-signal-safe functions
    // (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent died between fork and prctl: nobody would reap or stop us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (tx, rx) = oneshot::channel();
    let rt = tokio::runtime::Handle::try_current().unwrap_or_else(|_| crate::runtime::handle());
    spawner()
        .lock()
        .send((cmd, rt, tx))
        .map_err(|_| Error::new(ErrorCode::Internal, "the spawner thread is gone"))?;
    let spawned = rx.await.map_err(|_| Error::new(ErrorCode::Internal, "the spawner thread is gone"))?;
    let mut child = spawned.map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::NotFound => " (not found: check the path, or that it is on PATH)",
            io::ErrorKind::PermissionDenied => " (permission denied: is it executable?)",
            _ => "",
        };
        let dir = cwd.map(|d| format!(" in {}", d.display())).unwrap_or_default();
        Error::new(
            ErrorCode::SpawnFailed,
            format!("cannot start child '{name}': {}{dir}: {e}{hint}", program.display()),
        )
    })?;
    let pid = child.id().unwrap_or(0);
    let last_stderr = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward(name.to_string(), pid, Stream::Stdout, out, sink.clone(), None));
    }
    let (closed_tx, stderr_closed) = watch::channel(false);
    if let Some(err) = child.stderr.take() {
        let (name, keep) = (name.to_string(), last_stderr.clone());
        tokio::spawn(async move {
            forward(name, pid, Stream::Stderr, err, sink, Some(keep)).await;
            let _ = closed_tx.send(true);
        });
    } else {
        let _ = closed_tx.send(true);
    }
    let (exit_tx, exit_rx) = watch::channel(None);
    tokio::spawn(async move {
        use std::os::unix::process::ExitStatusExt;
        let status = child.wait().await;
        let exit = match status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(c), _) => Exit::Code(c),
                (None, Some(sig)) => Exit::Signal(sig),
                _ => Exit::Code(-1),
            },
            Err(_) => Exit::Code(-1),
        };
        let _ = exit_tx.send(Some(exit));
    });
    Ok(OsProcess { pid, exit: exit_rx, last_stderr, stderr_closed })
}

/// Forwards a child's output, a line at a time, to the logs and the sink.
async fn forward(
    name: String,
    pid: u32,
    stream: Stream,
    mut from: impl AsyncRead + Unpin,
    sink: Option<OutputSink>,
    keep: Option<Arc<Mutex<VecDeque<String>>>>,
) {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 8192];
    let emit = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let line = text.trim_end_matches(['\n', '\r']).to_string();
        if crate::log::bridged() && crate::log::is_record(&line) {
            // A record of the child's own logger: passed on as it is (its level, its trace).
            crate::log::write_line(&line);
        } else {
            match stream {
                Stream::Stdout => tracing::info!(target: "omnitron::child", child = %name, pid, "{line}"),
                Stream::Stderr => tracing::warn!(target: "omnitron::child", child = %name, pid, "{line}"),
            }
        }
        if let Some(k) = &keep {
            let mut k = k.lock();
            if k.len() == KEEP_LINES {
                k.pop_front();
            }
            k.push_back(line.clone());
        }
        if let Some(s) = &sink {
            s(&OutputLine { name: name.clone(), pid, stream, line });
        }
    };
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let rest = buf.split_off(i + 1);
            emit(&buf);
            buf = rest;
        }
        if buf.len() >= MAX_LINE {
            // A line with no end in sight: emit it cut, and go on.
            emit(&buf[..MAX_LINE]);
            buf.clear();
        }
    }
    if !buf.is_empty() {
        emit(&buf);
    }
}
