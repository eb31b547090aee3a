//! How engine work reaches Python's event loop: the inbox (jobs queued by engine threads, run by
//! the loop) and the connections the loop reads itself (`NativeConnection`, handed over by
//! `host_loop`).

use std::sync::Arc;

use omnitron::rpc::{HostLoop, HostReader};
use parking_lot::Mutex;
use pyo3::prelude::*;

// ---- the inbox: Python work queued by engine threads ------------------------------------------

/// Work for Python, queued by engine threads without taking the GIL and run by the peer's event
/// loop (which registers `inbox_fd` with `add_reader` and calls `drain`). Taking the GIL on an
/// engine thread would wait for the interpreter's switch interval whenever Python is busy.
type Job = Box<dyn FnOnce(Python<'_>) + Send>;

pub(crate) struct Inbox {
    jobs: Mutex<Vec<Job>>,
    wake_tx: std::os::unix::net::UnixStream,
    pub(crate) wake_rx: std::os::unix::net::UnixStream,
}

impl Inbox {
    pub(crate) fn new() -> std::io::Result<Arc<Inbox>> {
        let (wake_tx, wake_rx) = std::os::unix::net::UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Arc::new(Inbox { jobs: Mutex::new(Vec::new()), wake_tx, wake_rx }))
    }

    pub(crate) fn run(&self, job: impl FnOnce(Python<'_>) + Send + 'static) {
        let was_empty = {
            let mut jobs = self.jobs.lock();
            let was_empty = jobs.is_empty();
            jobs.push(Box::new(job));
            was_empty
        };
        // Queued by the loop's own thread while it reads this inbox's connection: that pass runs
        // the jobs before it returns, so no wake-up (two system calls) is needed.
        if was_empty && !IN_PASS.with(|p| std::ptr::eq(p.get(), self)) {
            let _ = std::io::Write::write(&mut (&self.wake_tx), &[1]);
        }
    }

    /// Runs the queued jobs, for the loop when the inbox's descriptor is readable.
    pub(crate) fn drain(&self, py: Python<'_>) {
        let mut buf = [0u8; 256];
        while matches!(std::io::Read::read(&mut (&self.wake_rx), &mut buf), Ok(n) if n > 0) {}
        self.run_jobs(py);
    }

    /// Runs the queued jobs without looking at the descriptor (a wake-up written meanwhile is read
    /// by a later `drain`, which then finds little or nothing to do).
    fn run_jobs(&self, py: Python<'_>) {
        loop {
            let jobs = std::mem::take(&mut *self.jobs.lock());
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                job(py);
            }
        }
    }
}

thread_local! {
    /// The inbox whose connection this thread is reading now (`NativeConnection::on_readable`).
    static IN_PASS: std::cell::Cell<*const Inbox> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Marks a read pass of `inbox`'s loop thread; restores the previous mark however it ends.
struct Pass(*const Inbox);

impl Pass {
    fn start(inbox: &Inbox) -> Pass {
        Pass(IN_PASS.with(|p| p.replace(inbox as *const Inbox)))
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        IN_PASS.with(|p| p.set(self.0));
    }
}

pub(crate) fn print_err(py: Python<'_>, r: PyResult<impl Sized>) {
    if let Err(e) = r {
        e.print(py);
    }
}

// ---- connections read by the loop ---------------------------------------------------------------

/// One connection read by the peer's asyncio loop: the Python layer calls `on_readable()` when
/// `fd()` is readable (`loop.add_reader`), and `close()` once it stopped watching.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeConnection {
    reader: Mutex<Option<HostReader>>,
    inbox: Arc<Inbox>,
    fd: i32,
}

#[pymethods]
impl NativeConnection {
    /// The socket's descriptor.
    fn fd(&self) -> i32 {
        self.fd
    }

    /// Reads and handles what arrived, then runs the work it queued for Python (answers, handlers,
    /// events) at once, on this thread. False when the loop must stop watching, then `close()`:
    /// the connection is over, or its outbox is full (the engine then hands it back through
    /// `adopt` as a new connection object once there is room).
    fn on_readable(&self, py: Python<'_>) -> bool {
        let mut reader = self.reader.lock();
        let open = match reader.as_mut() {
            Some(r) => {
                let _pass = Pass::start(&self.inbox);
                r.on_readable_with(|| self.inbox.run_jobs(py))
            }
            None => false,
        };
        drop(reader);
        // What the end of the pass queued (requests settled after `deliver`).
        self.inbox.run_jobs(py);
        open
    }

    /// Lets the connection go (after the loop stopped watching its descriptor).
    fn close(&self) {
        let reader = self.reader.lock().take();
        drop(reader);
    }
}

/// Connections are read by the asyncio loop that drains the inbox: each new one is handed to the
/// Python layer's `adopt` callable there, which watches it with `add_reader`.
pub(crate) fn host_loop(inbox: &Arc<Inbox>, adopt: &Arc<std::sync::OnceLock<Py<PyAny>>>) -> HostLoop {
    let (inbox, adopt) = (inbox.clone(), adopt.clone());
    let queue = inbox.clone();
    HostLoop(Arc::new(move |reader: HostReader| {
        let (inbox, adopt) = (inbox.clone(), adopt.clone());
        queue.run(move |py| {
            let fd = reader.fd();
            let conn = NativeConnection { reader: Mutex::new(Some(reader)), inbox, fd };
            let r = match adopt.get() {
                Some(f) => Py::new(py, conn).and_then(|c| f.call1(py, (c,))),
                // No loop to read it (cannot happen through the Python layer): the connection closes.
                None => Ok(py.None()),
            };
            print_err(py, r);
        });
    }))
}
