//! RPC for Python: the engine's `Peer`, with Python values converted to and from MessagePack here.
//!
//! Handlers and event callbacks are Python callables invoked with the GIL taken only for the call:
//! the Python layer (`omnitron/rpc.py`) hands the work to its asyncio loop (or a thread pool for
//! `def` handlers) and answers through a `NativeCall`. Calls made from Python complete through a
//! callback the Python layer turns into an asyncio future.

use std::sync::Arc;
use std::time::Duration;

use omnitron::rpc::{CallOptions, HostLoop, HostReader, Peer, PeerOptions, Service, WireError};
use omnitron::transport::Address;
use omnitron::{ErrorCode, runtime};
use parking_lot::Mutex;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::sync::oneshot;

use crate::error::ToPy;

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

// ---- values -----------------------------------------------------------------------------------

// (Written directly, without a `Value` tree in between: `pack.rs`.)

pub(crate) fn encode(obj: &Bound<'_, PyAny>) -> PyResult<bytes::Bytes> {
    let mut out = Vec::new();
    crate::pack::encode_into(obj, &mut out)?;
    Ok(bytes::Bytes::from(out))
}

/// [`encode`] appending to `out` (many values into one buffer).
pub(crate) fn encode_into(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    crate::pack::encode_into(obj, out)
}

pub(crate) fn decode(py: Python<'_>, b: &[u8]) -> PyResult<Py<PyAny>> {
    crate::pack::decode(py, b)
}

/// Encodes a Python value to MessagePack bytes (exposed for tests and the Python layer).
#[pyfunction]
fn pack(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Py<PyBytes>> {
    Ok(PyBytes::new(py, &encode(obj)?).unbind())
}

/// Decodes MessagePack bytes to a Python value.
#[pyfunction]
fn unpack(py: Python<'_>, data: &[u8]) -> PyResult<Py<PyAny>> {
    decode(py, data)
}

pub(crate) fn wire_to_tuple(py: Python<'_>, e: &WireError) -> PyResult<Py<PyAny>> {
    let data = match &e.data {
        Some(d) => decode(py, d).unwrap_or_else(|_| py.None()),
        None => py.None(),
    };
    Ok((e.code.as_str(), e.message.as_str(), data).into_pyobject(py)?.into_any().unbind())
}

// ---- calls answered from Python ----------------------------------------------------------------

/// What Python answered: a value, the end of a stream, or an error.
enum Answer {
    Value(bytes::Bytes),
    End,
    Error(WireError),
}

/// One call (or one stream item) being served by a Python handler: answer it once with `ok`,
/// `end` (streams) or `err`.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeCall {
    to: Mutex<Option<AnswerTo>>,
    /// For a unary call: its key, and whether what stops its handler is in `STOPS`.
    key: u64,
    stoppable: std::sync::atomic::AtomicBool,
}

/// Where a Python handler's answer goes.
enum AnswerTo {
    /// A unary call: straight to its caller.
    Reply(omnitron::rpc::Reply),
    /// The next item of a stream being served: to the serving task.
    Item(oneshot::Sender<Answer>),
}

/// What stops each unary Python handler that waits, by call key: set after its first step, taken
/// when it answers or when the call stops waiting (`ServiceBuilder::deferred`'s cancel callback).
/// Keys this process hands out: a cheap integer hash (Fx) instead of SipHash.
static STOPS: std::sync::LazyLock<Mutex<rustc_hash::FxHashMap<u64, Py<PyAny>>>> =
    std::sync::LazyLock::new(|| Mutex::new(Default::default()));

impl NativeCall {
    fn reply(reply: omnitron::rpc::Reply) -> NativeCall {
        let key = reply.key();
        NativeCall { to: Mutex::new(Some(AnswerTo::Reply(reply))), key, stoppable: false.into() }
    }

    fn item(tx: oneshot::Sender<Answer>) -> NativeCall {
        NativeCall { to: Mutex::new(Some(AnswerTo::Item(tx))), key: 0, stoppable: false.into() }
    }

    fn answer(&self, r: Result<bytes::Bytes, WireError>) -> bool {
        self.send(match r {
            Ok(b) => Answer::Value(b),
            Err(e) => Answer::Error(e),
        })
    }

    fn send(&self, a: Answer) -> bool {
        let to = self.to.lock().take();
        match to {
            Some(AnswerTo::Reply(reply)) => {
                if self.stoppable.load(std::sync::atomic::Ordering::Acquire) {
                    // Dropped after the lock is let go: freeing a Python object may run Python code.
                    let stop = STOPS.lock().remove(&self.key);
                    drop(stop);
                }
                reply.send(match a {
                    Answer::Value(b) => Ok(b),
                    Answer::End => Ok(bytes::Bytes::from_static(omnitron::rpc::NIL)),
                    Answer::Error(e) => Err(e),
                })
            }
            Some(AnswerTo::Item(tx)) => tx.send(a).is_ok(),
            None => false,
        }
    }

    /// Keeps what stops this call's handler until it answers or is told to stop.
    fn stoppable_by(&self, stop: Py<PyAny>) {
        if self.to.lock().is_some() {
            let old = STOPS.lock().insert(self.key, stop);
            self.stoppable.store(true, std::sync::atomic::Ordering::Release);
            drop(old);
        }
    }
}

impl Drop for NativeCall {
    fn drop(&mut self) {
        // Dropped without an answer: the caller hears so now, not at its deadline.
        if let Some(AnswerTo::Reply(reply)) = self.to.get_mut().take() {
            if *self.stoppable.get_mut() {
                let stop = STOPS.lock().remove(&self.key);
                drop(stop);
            }
            reply.send(Err(never_answered()));
        }
    }
}

fn never_answered() -> WireError {
    WireError {
        code: ErrorCode::HandlerFailed.as_str().into(),
        message: "the Python handler never answered".into(),
        data: None,
    }
}

#[pymethods]
impl NativeCall {
    /// Answers with a value. False if the call was already answered or is gone.
    fn ok(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        match encode(value) {
            Ok(b) => Ok(self.answer(Ok(b))),
            Err(e) => {
                let py = value.py();
                let msg = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                self.answer(Err(WireError {
                    code: ErrorCode::InvalidArgument.as_str().into(),
                    message: format!("the handler's result cannot be sent: {msg}"),
                    data: None,
                }));
                Err(e)
            }
        }
    }

    /// Ends a stream.
    fn end(&self) -> bool {
        self.send(Answer::End)
    }

    /// Answers with an error (`code` such as "E001" or an application's own).
    #[pyo3(signature = (code, message, data=None))]
    fn err(&self, code: &str, message: &str, data: Option<&Bound<'_, PyAny>>) -> bool {
        let data = data.filter(|d| !d.is_none()).and_then(|d| encode(d).ok());
        self.answer(Err(WireError { code: code.to_string(), message: message.to_string(), data }))
    }
}

/// A call in flight from Python.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativePending {
    pub(crate) call: omnitron::rpc::CallHandle,
}

#[pymethods]
impl NativePending {
    /// Stops waiting; the callee is sent CANCEL. `done` is not called.
    fn cancel(&self) {
        self.call.cancel();
    }
}

/// Pulls items from a Python (async) generator and sends them, one at a time: the sink's credit is
/// the backpressure, and the generator is stopped if the caller goes away.
async fn serve_stream(
    inbox: Arc<Inbox>,
    ds: Arc<Py<PyAny>>,
    method: String,
    args: bytes::Bytes,
    sink: omnitron::rpc::StreamSink,
) -> Result<(), WireError> {
    // (pull, stop), made by the first job.
    let made: GeneratorSlot = Arc::new(Mutex::new(None));
    let mut guard = StopOnDrop { inbox: inbox.clone(), stop: StopWith::Stream(made.clone()), armed: true };
    let mut first = Some((ds, method, args));
    loop {
        let (tx, rx) = oneshot::channel();
        let (g, start) = (made.clone(), first.take());
        inbox.run(move |py| {
            let call = NativeCall::item(tx);
            if let Some((ds, method, args)) = start {
                let made = decode(py, &args)
                    .and_then(|a| ds.call1(py, (method.as_str(), a))?.extract::<(Py<PyAny>, Py<PyAny>)>(py));
                match made {
                    Ok(pair) => *g.lock() = Some(pair),
                    Err(e) => {
                        let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                        call.answer(Err(WireError {
                            code: ErrorCode::HandlerFailed.as_str().into(),
                            message,
                            data: None,
                        }));
                        return;
                    }
                }
            }
            let pull = g.lock().as_ref().map(|(p, _)| p.clone_ref(py));
            if let Some(pull) = pull {
                match Py::new(py, call) {
                    Ok(c) => print_err(py, pull.call1(py, (c,))),
                    Err(e) => e.print(py),
                }
            }
        });
        match rx.await {
            Ok(Answer::Value(b)) => {
                if sink.send_raw(b).await.is_err() {
                    return Err(WireError {
                        code: ErrorCode::Cancelled.as_str().into(),
                        message: "the caller stopped the stream".into(),
                        data: None,
                    });
                }
            }
            Ok(Answer::End) => {
                guard.armed = false;
                return Ok(());
            }
            Ok(Answer::Error(e)) => {
                guard.armed = false;
                return Err(e);
            }
            Err(_) => return Err(never_answered()),
        }
    }
}

/// A streaming handler's `(pull, stop)` callables, once made.
type GeneratorSlot = Arc<Mutex<Option<(Py<PyAny>, Py<PyAny>)>>>;

/// What stops a handler still running.
enum StopWith {
    /// The callable `dispatch` returned (set once it has run).
    Call(Arc<Mutex<Option<Py<PyAny>>>>),
    /// The generator's `stop`.
    Stream(GeneratorSlot),
}

/// Tells the Python handler to stop when dropped (unless disarmed), through the inbox.
struct StopOnDrop {
    inbox: Arc<Inbox>,
    stop: StopWith,
    armed: bool,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let stop = std::mem::replace(&mut self.stop, StopWith::Call(Arc::new(Mutex::new(None))));
        self.inbox.run(move |py| {
            let f = match stop {
                StopWith::Call(c) => c.lock().take(),
                StopWith::Stream(g) => g.lock().take().map(|(_, stop)| stop),
            };
            if let Some(f) = f {
                print_err(py, f.call0(py));
            }
        });
    }
}

/// The receiving end of a streaming call.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeStream {
    inner: Arc<tokio::sync::Mutex<Option<omnitron::rpc::RpcStream>>>,
    inbox: Arc<Inbox>,
}

#[pymethods]
impl NativeStream {
    /// Fetches the next item: `done(item, False, None)`, `done(None, True, None)` at the end, or
    /// `done(None, True, (code, message, data))`, called on the peer's event loop.
    fn next(&self, done: Py<PyAny>) {
        let (inner, inbox) = (self.inner.clone(), self.inbox.clone());
        runtime::handle().spawn(async move {
            let item = {
                let mut s = inner.lock().await;
                match s.as_mut() {
                    Some(s) => s.next_raw().await,
                    None => None,
                }
            };
            inbox.run(move |py| {
                let r = match item {
                    Some(Ok(b)) => decode(py, &b).and_then(|v| done.call1(py, (v, false, py.None()))),
                    None => done.call1(py, (py.None(), true, py.None())),
                    Some(Err(e)) => wire_to_tuple(py, &e).and_then(|t| done.call1(py, (py.None(), true, t))),
                };
                print_err(py, r);
            });
        });
    }

    /// Stops the stream (the callee is cancelled if it has not finished).
    fn close(&self) {
        let inner = self.inner.clone();
        runtime::handle().spawn(async move {
            inner.lock().await.take();
        });
    }
}

// ---- the peer ---------------------------------------------------------------------------------

/// This process's end of the RPC network.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativePeer {
    peer: Peer,
    inbox: Arc<Inbox>,
    adopt: Arc<std::sync::OnceLock<Py<PyAny>>>,
    /// `settle(future, value, error)`, for `call_future` (set once by the Python layer).
    settle: std::sync::OnceLock<Arc<Py<PyAny>>>,
}

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

fn options(name: &str, token: Option<String>, max_frame: Option<usize>) -> PeerOptions {
    let mut o = PeerOptions::new(name);
    o.lang = "python".into();
    o.token = token;
    if let Some(m) = max_frame {
        o.max_frame = m;
    }
    o
}

/// A call's deadline in seconds, checked by core.
fn deadline(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| omnitron::rpc::deadline_in(omnitron::dialect::Dialect::Python, s))
        .transpose()
        .map_err(|e| Python::attach(|py| crate::error::to_py(py, &e)))
}

#[pymethods]
impl NativePeer {
    /// Listens on `address` (`unix:/path`, `tcp://host:port`).
    #[staticmethod]
    #[pyo3(signature = (address, name, token=None, max_frame=None))]
    fn listen(
        py: Python<'_>,
        address: &str,
        name: &str,
        token: Option<String>,
        max_frame: Option<usize>,
    ) -> PyResult<Self> {
        let addr: Address = address.parse().py(py)?;
        let mut o = options(name, token, max_frame);
        let inbox = Inbox::new()?;
        let adopt = Arc::new(std::sync::OnceLock::new());
        o.host_loop = Some(host_loop(&inbox, &adopt));
        let peer = py.detach(|| runtime::block_on(async move { Peer::listen(&addr, o).await })).py(py)?;
        Ok(NativePeer { peer, inbox, adopt, settle: std::sync::OnceLock::new() })
    }

    /// Connects to the peer listening at `address`.
    #[staticmethod]
    #[pyo3(signature = (address, name, token=None, max_frame=None))]
    fn connect(
        py: Python<'_>,
        address: &str,
        name: &str,
        token: Option<String>,
        max_frame: Option<usize>,
    ) -> PyResult<Self> {
        let addr: Address = address.parse().py(py)?;
        let mut o = options(name, token, max_frame);
        let inbox = Inbox::new()?;
        let adopt = Arc::new(std::sync::OnceLock::new());
        o.host_loop = Some(host_loop(&inbox, &adopt));
        let peer = py.detach(|| runtime::block_on(async move { Peer::connect(&addr, o).await })).py(py)?;
        Ok(NativePeer { peer, inbox, adopt, settle: std::sync::OnceLock::new() })
    }

    /// The file descriptor that becomes readable when work for Python is queued: register it with
    /// the event loop (`loop.add_reader(fd, peer.drain)`).
    fn inbox_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inbox.wake_rx.as_raw_fd()
    }

    /// Sets what takes each new connection (a `NativeConnection`) to watch on the loop; called once,
    /// before the loop drains the inbox.
    fn set_adopt(&self, adopt: Py<PyAny>) {
        let _ = self.adopt.set(adopt);
    }

    /// Sets what `call_future` settles its futures with: `settle(future, value, error)`, called on
    /// the loop that drains the inbox. Called once.
    fn set_settle(&self, settle: Py<PyAny>) {
        let _ = self.settle.set(Arc::new(settle));
    }

    /// `call` for a caller on this peer's own loop: the answer settles `future` through the
    /// `set_settle` function (no callable made per call).
    #[pyo3(signature = (target, method, args, deadline_s, future))]
    fn call_future(
        &self,
        target: &str,
        method: &str,
        args: &Bound<'_, PyAny>,
        deadline_s: Option<f64>,
        future: Py<PyAny>,
    ) -> PyResult<NativePending> {
        let Some(settle) = self.settle.get().cloned() else {
            return Err(PyRuntimeError::new_err("call_future needs set_settle first"));
        };
        let args = encode(args)?;
        let opts = CallOptions { deadline: deadline(deadline_s)?, trace: None };
        let inbox = self.inbox.clone();
        let handle = self.peer.call_raw_with(target, method, args, opts, move |r| {
            inbox.run(move |py| {
                let (value, error) = answer_args(py, r);
                if let Err(e) = settle.call1(py, (future, value, error)) {
                    e.print(py);
                }
            });
        });
        Ok(NativePending { call: handle })
    }

    /// Runs the queued work (handlers to start, answers, events) on this thread.
    fn drain(&self, py: Python<'_>) {
        self.inbox.drain(py);
    }

    /// The address it listens on, if it listens.
    fn address(&self) -> Option<String> {
        self.peer.address().map(|a| a.to_string())
    }

    /// Hosts `name@version` with `methods`; every call runs `dispatch(method, args, call)` on an
    /// engine thread with the GIL, which must return quickly (scheduling the work) and may return a
    /// callable to run if the call is cancelled.
    ///
    /// Methods in `streams` are streaming: `dispatch_stream(method, args)` returns `(pull, stop)`;
    /// `pull(call)` is called for each item (answer `ok(item)`, `end()` or `err(...)`), `stop()` when
    /// the caller goes away first.
    #[pyo3(signature = (name, version, methods, dispatch, streams=Vec::new(), dispatch_stream=None))]
    #[allow(clippy::too_many_arguments)] // The Python signature, one to one.
    fn expose(
        &self,
        py: Python<'_>,
        name: &str,
        version: &str,
        methods: Vec<String>,
        dispatch: Py<PyAny>,
        streams: Vec<String>,
        dispatch_stream: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let dispatch = Arc::new(dispatch);
        let mut b = Service::builder(name, version).py(py)?;
        if !streams.is_empty() {
            let ds = Arc::new(
                dispatch_stream.ok_or_else(|| PyRuntimeError::new_err("streams need dispatch_stream"))?,
            );
            for m in streams {
                let (ds, method, inbox) = (ds.clone(), m.clone(), self.inbox.clone());
                b = b.raw_stream(&m, move |args, _ctx, sink| {
                    let (ds, method, inbox) = (ds.clone(), method.clone(), inbox.clone());
                    Box::pin(serve_stream(inbox, ds, method, args, sink))
                });
            }
        }
        for m in methods {
            let (dispatch, method, inbox) = (dispatch.clone(), m.clone(), self.inbox.clone());
            let stop_inbox = self.inbox.clone();
            // Answered later through the call's Reply (`ServiceBuilder::deferred`): no future,
            // task or timer per call.
            b = b.deferred(
                &m,
                move |args, reply| {
                    let (dispatch, method) = (dispatch.clone(), method.clone());
                    inbox.run(move |py| {
                        let call = match Py::new(py, NativeCall::reply(reply)) {
                            Ok(c) => c,
                            Err(e) => return e.print(py),
                        };
                        let started = decode(py, &args)
                            .and_then(|a| dispatch.call1(py, (method.as_str(), a, call.clone_ref(py))));
                        match started {
                            // It waits: this stops it.
                            Ok(c) if !c.is_none(py) => call.get().stoppable_by(c),
                            Ok(_) => {}
                            Err(e) => {
                                let message = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                                call.get().answer(Err(WireError {
                                    code: ErrorCode::HandlerFailed.as_str().into(),
                                    message,
                                    data: None,
                                }));
                            }
                        }
                    });
                },
                // On the loop, after the job above (the inbox runs jobs in order).
                move |key| {
                    stop_inbox.run(move |py| {
                        let stop = STOPS.lock().remove(&key);
                        if let Some(f) = stop {
                            print_err(py, f.call0(py));
                        }
                    });
                },
            );
        }
        let svc = b.build().py(py)?;
        let peer = self.peer.clone();
        py.detach(|| runtime::block_on(async move { peer.expose(svc).await })).py(py)
    }

    /// Stops hosting `name@version`.
    fn unexpose(&self, py: Python<'_>, name: &str, version: &str) -> PyResult<bool> {
        let peer = self.peer.clone();
        let (n, v) = (name.to_string(), version.to_string());
        py.detach(|| runtime::block_on(async move { peer.unexpose(&n, &v).await })).py(py)
    }

    /// Calls `method` of `target` with `args` (a list); `done(value, None)` or `done(None, (code,
    /// message, data))` is called on an engine thread when it finishes.
    #[pyo3(signature = (target, method, args, deadline_s, done))]
    fn call(
        &self,
        target: &str,
        method: &str,
        args: &Bound<'_, PyAny>,
        deadline_s: Option<f64>,
        done: Py<PyAny>,
    ) -> PyResult<NativePending> {
        let args = encode(args)?;
        let opts = CallOptions { deadline: deadline(deadline_s)?, trace: None };
        let inbox = self.inbox.clone();
        // The answer is handed over where it is read: on this loop's thread when the connection is
        // read here (no engine thread woken on the way).
        let handle = self.peer.call_raw_with(target, method, args, opts, move |r| {
            inbox.run(move |py| {
                if let Err(e) = done.call1(py, answer_args(py, r)) {
                    e.print(py);
                }
            });
        });
        Ok(NativePending { call: handle })
    }

    /// Starts a streaming call; pull items with `NativeStream.next`.
    #[pyo3(signature = (target, method, args, deadline_s=None))]
    fn stream(
        &self,
        py: Python<'_>,
        target: &str,
        method: &str,
        args: &Bound<'_, PyAny>,
        deadline_s: Option<f64>,
    ) -> PyResult<NativeStream> {
        let args = encode(args)?;
        let opts = CallOptions { deadline: deadline(deadline_s)?, trace: None };
        let (peer, target, method) = (self.peer.clone(), target.to_string(), method.to_string());
        let s = py.detach(|| {
            runtime::block_on(async move { peer.call_stream_raw(&target, &method, args, opts).await })
        });
        match s {
            Ok(s) => Ok(NativeStream {
                inner: Arc::new(tokio::sync::Mutex::new(Some(s))),
                inbox: self.inbox.clone(),
            }),
            Err(e) => Err(remote_error(py, &e)),
        }
    }

    /// A blocking call (the GIL is released while it waits).
    #[pyo3(signature = (target, method, args, deadline_s=None))]
    fn call_blocking(
        &self,
        py: Python<'_>,
        target: &str,
        method: &str,
        args: &Bound<'_, PyAny>,
        deadline_s: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let args = encode(args)?;
        let opts = CallOptions { deadline: deadline(deadline_s)?, trace: None };
        let (peer, target, method) = (self.peer.clone(), target.to_string(), method.to_string());
        let r =
            py.detach(|| runtime::block_on(async move { peer.call_raw(&target, &method, args, opts).await }));
        match r {
            Ok(b) => decode(py, &b),
            Err(e) => Err(remote_error(py, &e)),
        }
    }

    /// Publishes an event to every subscriber in every connected process.
    fn publish(&self, py: Python<'_>, topic: &str, payload: &Bound<'_, PyAny>) -> PyResult<()> {
        let payload = encode(payload)?;
        let (peer, topic) = (self.peer.clone(), topic.to_string());
        py.detach(|| runtime::block_on(async move { peer.publish_raw(&topic, payload).await })).py(py)
    }

    /// Calls `callback(topic, payload)` on the peer's event loop (through the inbox) for every
    /// matching event. Returns the subscription's id at once; `done(None)` is called on that loop
    /// once the subscription is active, or `done((code, message, data))` if it was withdrawn
    /// (see `omnitron::rpc::Peer::subscribe_raw_with`). Never blocks: the loop that would read
    /// the server's answer may be this thread's.
    fn subscribe(
        &self,
        py: Python<'_>,
        pattern: &str,
        callback: Py<PyAny>,
        done: Py<PyAny>,
    ) -> PyResult<u64> {
        let callback = Arc::new(callback);
        let (inbox, done_inbox) = (self.inbox.clone(), self.inbox.clone());
        self.peer
            .subscribe_raw_with(
                pattern,
                move |topic, payload| {
                    let (callback, topic, payload) = (callback.clone(), topic.to_string(), payload.clone());
                    inbox.run(move |py| {
                        let r = decode(py, &payload).and_then(|v| callback.call1(py, (topic, v)));
                        print_err(py, r);
                    });
                },
                move |r| {
                    done_inbox.run(move |py| {
                        let error = match r {
                            Ok(()) => Ok(py.None()),
                            Err(e) => wire_to_tuple(py, &WireError::from_error(&e)),
                        };
                        print_err(py, error.and_then(|e| done.call1(py, (e,))));
                    });
                },
            )
            .py(py)
    }

    /// Removes a subscription.
    fn unsubscribe(&self, py: Python<'_>, id: u64) -> bool {
        let peer = self.peer.clone();
        py.detach(|| runtime::block_on(async move { peer.unsubscribe(id).await }))
    }

    /// `[(name, version, [methods])]` this peer routes to.
    fn services(&self) -> Vec<(String, String, Vec<String>)> {
        self.peer.services().into_iter().map(|s| (s.name, s.version, s.methods)).collect()
    }

    /// Closes every connection and stops listening / reconnecting.
    fn shutdown(&self, py: Python<'_>) {
        let peer = self.peer.clone();
        py.detach(|| runtime::block_on(async move { peer.shutdown().await }));
    }
}

/// An answer as Python sees it: `(value, None)`, or `(None, (code, message, data))` (an answer
/// that does not decode is an `InvalidArgument` error).
fn answer_args(py: Python<'_>, r: Result<bytes::Bytes, WireError>) -> (Py<PyAny>, Py<PyAny>) {
    let outcome = match r {
        Ok(b) => decode(py, &b).map(|v| (v, py.None())),
        Err(e) => wire_to_tuple(py, &e).map(|t| (py.None(), t)),
    };
    outcome.unwrap_or_else(|e| {
        let error = (ErrorCode::InvalidArgument.as_str(), e.to_string(), py.None());
        (py.None(), error.into_pyobject(py).map(|t| t.into_any().unbind()).unwrap_or_else(|_| py.None()))
    })
}

/// The Python exception for an error that came over the wire.
fn remote_error(py: Python<'_>, e: &WireError) -> PyErr {
    match py.import("omnitron.errors").and_then(|m| m.getattr("remote_error")).and_then(|f| {
        let data = e.data.as_ref().and_then(|d| decode(py, d).ok()).unwrap_or_else(|| py.None());
        f.call1((e.code.as_str(), e.message.as_str(), data))
    }) {
        Ok(exc) => PyErr::from_value(exc),
        Err(import_failed) => import_failed,
    }
}

/// A service's declared id (`payment@1.0.0`, or a bare `notifications`: version 1.0.0) as
/// `(name, version)`, checked (`InvalidServiceError`, RPC010, when either is invalid).
#[pyfunction]
fn parse_service_id(py: Python<'_>, id: &str) -> PyResult<(String, String)> {
    let (name, version) = omnitron::rpc::parse_id(id).py(py)?;
    Ok((name, version.to_string()))
}

/// Opens a turn on this thread: the calls it makes are written in slices and at `end_turn()`,
/// without waking an engine thread (see `omnitron::transport::begin_turn`). False if one is open.
#[pyfunction]
fn begin_turn() -> bool {
    omnitron::transport::begin_turn()
}

/// Ends this thread's turn: its calls still queued are written now.
#[pyfunction]
fn end_turn() {
    omnitron::transport::end_turn();
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativePeer>()?;
    m.add_class::<NativeConnection>()?;
    m.add_class::<NativeCall>()?;
    m.add_class::<NativePending>()?;
    m.add_class::<NativeStream>()?;
    m.add_function(wrap_pyfunction!(pack, m)?)?;
    m.add_function(wrap_pyfunction!(unpack, m)?)?;
    m.add_function(wrap_pyfunction!(begin_turn, m)?)?;
    m.add_function(wrap_pyfunction!(parse_service_id, m)?)?;
    m.add_function(wrap_pyfunction!(end_turn, m)?)?;
    Ok(())
}
