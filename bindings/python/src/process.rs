//! Pools and supervisors for Python: the engine's `Pool` and `Supervisor`, with options read from
//! the dicts the Python layer (`omnitron/process.py`) builds, results handed to the asyncio loop
//! through an inbox, and hooks run on that loop.

use std::sync::Arc;

use omnitron::ErrorCode;
use omnitron::options::RawOptions;
use omnitron::process::{
    ChildInfo, ChildOptions, ChildSpec, CrashDecision, MapItems, MapOptions, MapPart, MapResults, Pool,
    PoolOptions, PoolSize, Supervisor, SupervisorOptions,
};
use omnitron::rpc::WireError;
use omnitron::runtime;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use tokio::sync::oneshot;

use crate::error::ToPy;
use crate::options;
use crate::rpc::{Inbox, decode, encode, print_err, wire_to_tuple};

/// Options from a dict the Python layer built, as core reads them (a wrong value is E001).
fn raw(what: &str, d: &Bound<'_, PyDict>) -> PyResult<RawOptions> {
    options::raw(what.to_string(), ErrorCode::InvalidArgument, Some(d))
}

/// A `ChildSpec` from `{name, command: [program, *args], env: {..}, cwd, ready_timeout,
/// shutdown_timeout, health: {interval, timeout, max_missed}}` (checked by core).
fn spec(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<ChildSpec> {
    let name = d.get_item("name")?.and_then(|n| n.extract::<String>().ok()).unwrap_or_default();
    ChildSpec::from_raw(&raw(&format!("child '{name}'"), d)?).py(py)
}

/// A pool of worker processes. Its workers connect to a host of its own whose connections the
/// pool's asyncio loop reads (`host_loop`, as a `Peer`'s are): an answer reaches Python with one
/// wake-up of that loop, and the loop polls before it sleeps (`omnitron/_poll.py`).
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativePool {
    /// `settle(future, value, error)`, for `exec_future` (set once by the Python layer).
    settle: std::sync::OnceLock<Arc<Py<PyAny>>>,
    opts: parking_lot::Mutex<Option<PoolOptions>>,
    pool: std::sync::OnceLock<Pool>,
    inbox: Arc<Inbox>,
    adopt: Arc<std::sync::OnceLock<Py<PyAny>>>,
}

fn not_started() -> WireError {
    WireError::from_error(&omnitron::Error::new(omnitron::ErrorCode::NotRunning, "the pool has not started"))
}

fn pool_options(
    py: Python<'_>,
    child: &Bound<'_, PyDict>,
    options: &Bound<'_, PyDict>,
) -> PyResult<PoolOptions> {
    let name = options.get_item("name")?.and_then(|n| n.extract::<String>().ok()).unwrap_or_default();
    let mut o = PoolOptions::from_raw(spec(py, child)?, &raw(&format!("pool '{name}'"), options)?).py(py)?;
    if options.get_item("size")?.is_none() {
        o.size = PoolSize::Fixed(2);
    }
    Ok(o)
}

/// The items, each the single argument of its call, written one after the other into one buffer
/// (no buffer per item).
fn encode_items(items: &Bound<'_, PyList>) -> PyResult<MapItems> {
    let mut buf = Vec::with_capacity(items.len() * 2);
    let mut ends = Vec::with_capacity(items.len());
    for item in items.iter() {
        crate::rpc::encode_into(&item, &mut buf)?;
        ends.push(buf.len());
    }
    Ok(MapItems::Values { values: bytes::Bytes::from(buf), ends })
}

#[pymethods]
impl NativePool {
    /// Checks the options; `start` starts it. Register `inbox_fd` with the loop and call
    /// `set_adopt` before `start`: the workers' connections are handed to the loop as they come.
    #[new]
    fn new(py: Python<'_>, child: &Bound<'_, PyDict>, options: &Bound<'_, PyDict>) -> PyResult<NativePool> {
        let opts = pool_options(py, child, options)?;
        let inbox = Inbox::new()?;
        Ok(NativePool {
            settle: std::sync::OnceLock::new(),
            opts: parking_lot::Mutex::new(Some(opts)),
            pool: std::sync::OnceLock::new(),
            inbox,
            adopt: Arc::new(std::sync::OnceLock::new()),
        })
    }

    /// Sets what takes each worker's connection (a `NativeConnection`) to watch on the loop.
    fn set_adopt(&self, adopt: Py<PyAny>) {
        let _ = self.adopt.set(adopt);
    }

    /// Starts the workers (blocks until they are ready, without the GIL: call it from an executor
    /// while the loop runs, since the loop reads the workers' connections).
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let Some(mut o) = self.opts.lock().take() else {
            return Err(PyRuntimeError::new_err("the pool was already started"));
        };
        let mut peer = omnitron::rpc::PeerOptions::new("omnitron-pool");
        peer.lang = "python".into();
        peer.host_loop = Some(crate::rpc::host_loop(&self.inbox, &self.adopt));
        let pool = py
            .detach(|| {
                runtime::block_on(async move {
                    o.host = Some(omnitron::process::ProcessHost::start_with(peer).await?);
                    let host = o.host.clone();
                    let r = Pool::start(o).await;
                    if r.is_err()
                        && let Some(h) = host
                    {
                        h.peer().shutdown().await;
                    }
                    r
                })
            })
            .py(py)?;
        let _ = self.pool.set(pool);
        Ok(())
    }

    /// The descriptor that becomes readable when results are queued (`loop.add_reader`).
    fn inbox_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inbox.wake_rx.as_raw_fd()
    }

    /// Runs the queued result callbacks on this thread.
    fn drain(&self, py: Python<'_>) {
        self.inbox.drain(py);
    }

    /// Runs `method(*args)` on a worker, in the trace `trace` gives; `done(value, None)` or
    /// `done(None, (code, message, data))` runs on the event loop when it finishes.
    #[pyo3(signature = (method, args, done, trace=None))]
    fn exec(
        &self,
        method: &str,
        args: &Bound<'_, PyList>,
        done: Py<PyAny>,
        trace: Option<crate::telemetry::Headers>,
    ) -> PyResult<NativePoolTask> {
        let args = encode(args.as_any())?;
        let inbox = self.inbox.clone();
        let report = move |r: Result<bytes::Bytes, WireError>| {
            inbox.run(move |py| {
                let outcome = match r {
                    // An answer that does not decode fails the task with why (never left unsettled).
                    Ok(b) => Ok(decode(py, &b)
                        .map_or_else(|e| (py.None(), e.into_value(py).into_any()), |v| (v, py.None()))),
                    Err(e) => wire_to_tuple(py, &e).map(|t| (py.None(), t)),
                };
                print_err(py, outcome.and_then(|a| done.call1(py, a)));
            });
        };
        let Some(pool) = self.pool.get() else {
            report(Err(not_started()));
            return Ok(NativePoolTask { task: None });
        };
        // The request goes out from this thread when a worker is free; the answer is queued for
        // the event loop from the thread that reads it (the loop's own, in a read pass).
        let task = pool.exec_raw_traced(method, args, crate::telemetry::wire_of(trace.as_ref()), report);
        Ok(NativePoolTask { task: Some(task) })
    }

    /// Sets what `exec_future` settles its futures with: `settle(future, value, error)`, called
    /// on the loop that drains the inbox. Called once.
    fn set_settle(&self, settle: Py<PyAny>) {
        let _ = self.settle.set(Arc::new(settle));
    }

    /// `exec` for a caller on the pool's own loop: `args` is a tuple (or list), and the answer
    /// settles `future` through the `set_settle` function (no callable made per task).
    #[pyo3(signature = (method, args, future, trace=None))]
    fn exec_future(
        &self,
        py: Python<'_>,
        method: &str,
        args: &Bound<'_, PyAny>,
        future: Py<PyAny>,
        trace: Option<crate::telemetry::Headers>,
    ) -> PyResult<NativePoolTask> {
        let Some(settle) = self.settle.get().cloned() else {
            return Err(PyRuntimeError::new_err("exec_future needs set_settle first"));
        };
        let Some(pool) = self.pool.get() else {
            return Err(not_started().to_error()).py(py);
        };
        let args = encode(args)?;
        let inbox = self.inbox.clone();
        let trace = crate::telemetry::wire_of(trace.as_ref());
        let task = pool.exec_raw_traced(method, args, trace, move |r| {
            inbox.run(move |py| {
                let outcome = match r {
                    Ok(b) => decode(py, &b).map(|v| (v, py.None())),
                    Err(e) => wire_to_tuple(py, &e).map(|t| (py.None(), t)),
                };
                let (value, error) = outcome.unwrap_or_else(|e| (py.None(), e.into_value(py).into_any()));
                print_err(py, settle.call1(py, (future, value, error)));
            });
        });
        Ok(NativePoolTask { task: Some(task) })
    }

    /// Runs `method(item)` for every item, in chunks of `chunksize` (None: multiprocessing's
    /// choice) for workers that take them; `done(results, None)` once, in order, or `done(None,
    /// (code, message, data))` with the first failing item's error.
    #[pyo3(signature = (method, items, done, chunksize=None, trace=None))]
    #[allow(clippy::too_many_arguments)]
    fn map(
        &self,
        py: Python<'_>,
        method: &str,
        items: &Bound<'_, PyList>,
        done: Py<PyAny>,
        chunksize: Option<usize>,
        trace: Option<crate::telemetry::Headers>,
    ) -> PyResult<()> {
        let args = encode_items(items)?;
        let Some(pool) = self.pool.get() else {
            return Err(not_started().to_error()).py(py);
        };
        // Each part is decoded on the loop as it comes (while the workers run the others); the
        // list is put together once every part is in.
        type Decoded = Vec<(usize, PyResult<Vec<Py<PyAny>>>)>;
        let decoded: Arc<parking_lot::Mutex<Decoded>> = Arc::default();
        let (inbox, store) = (self.inbox.clone(), decoded.clone());
        let on_part = move |p: &MapPart| {
            if !p.errors.is_empty() {
                return; // The map fails with the first error: nothing to decode.
            }
            let (first, len, values, store) = (p.first, p.len, p.values.clone(), store.clone());
            inbox.run(move |py| {
                let mut out = Vec::with_capacity(len);
                let r = crate::pack::decode_many(py, &values, len, &mut out).map(|()| out);
                store.lock().push((first, r));
            });
        };
        let inbox = self.inbox.clone();
        let report = move |results: MapResults| {
            inbox.run(move |py| {
                let outcome = (|| -> PyResult<(Py<PyAny>, Py<PyAny>)> {
                    if let Some((_, e)) = results.first_error() {
                        return Ok((py.None(), wire_to_tuple(py, e)?));
                    }
                    let mut parts = std::mem::take(&mut *decoded.lock());
                    parts.sort_unstable_by_key(|(first, _)| *first);
                    let mut values = Vec::with_capacity(results.len());
                    for (_, part) in parts {
                        values.extend(part?);
                    }
                    Ok((PyList::new(py, values)?.into_any().unbind(), py.None()))
                })();
                // A part that does not decode fails the map with why (never left unsettled).
                let outcome = outcome.or_else(|e| Ok::<_, PyErr>((py.None(), e.into_value(py).into_any())));
                print_err(py, outcome.and_then(|a| done.call1(py, a)));
            });
        };
        // Every chunk carries the caller's trace (the map reads the context current as it starts).
        let ctx = trace.and_then(|(p, s)| omnitron::telemetry::TraceContext::from_headers(&p, s.as_deref()));
        omnitron::telemetry::with_context(ctx, || {
            pool.map_raw_with_parts(method, args, MapOptions { chunksize }, on_part, report)
        })
        .py(py)
    }

    /// `{workers, starting, queued, in_flight, pids}`.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.pool.get().map(Pool::status).unwrap_or_else(|| omnitron::process::PoolStatus {
            workers: 0,
            starting: 0,
            queued: 0,
            in_flight: 0,
            pids: Vec::new(),
        });
        let d = PyDict::new(py);
        d.set_item("workers", s.workers)?;
        d.set_item("starting", s.starting)?;
        d.set_item("queued", s.queued)?;
        d.set_item("in_flight", s.in_flight)?;
        d.set_item("pids", s.pids)?;
        Ok(d)
    }

    /// Stops the pool and its host (blocks without the GIL).
    fn stop(&self, py: Python<'_>) {
        self.opts.lock().take();
        let Some(pool) = self.pool.get().cloned() else { return };
        py.detach(|| {
            runtime::block_on(async move {
                pool.stop().await;
                // The host is this pool's own (`start`).
                pool.host().peer().shutdown().await;
            })
        });
    }
}

fn info_dict<'py>(py: Python<'py>, c: &ChildInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &c.name)?;
    d.set_item("index", c.index)?;
    d.set_item("pid", c.pid)?;
    d.set_item("state", c.state.as_str())?;
    d.set_item("restarts", c.restarts)?;
    d.set_item("last_exit", c.last_exit.as_deref())?;
    d.set_item("critical", c.critical)?;
    Ok(d)
}

/// The answer a Python hook gives the engine (once).
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeHookAnswer {
    tx: parking_lot::Mutex<Option<oneshot::Sender<String>>>,
}

#[pymethods]
impl NativeHookAnswer {
    /// Answers with a decision (`restart`, `ignore`, `escalate`, `shutdown`, or `default`).
    fn set(&self, decision: &str) -> bool {
        self.tx.lock().take().is_some_and(|tx| tx.send(decision.to_string()).is_ok())
    }
}

/// Runs `hook(args..., answer)` on the event loop and waits for its answer.
async fn ask(
    inbox: Arc<Inbox>,
    hook: Arc<Py<PyAny>>,
    make: impl FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send + 'static,
) -> String {
    let (tx, rx) = oneshot::channel();
    inbox.run(move |py| {
        let answer = NativeHookAnswer { tx: parking_lot::Mutex::new(Some(tx)) };
        let r = make(py).and_then(|args| {
            let args = args.bind(py).cast::<pyo3::types::PyTuple>()?.clone();
            let mut v: Vec<Py<PyAny>> = args.iter().map(|a| a.unbind()).collect();
            v.push(Py::new(py, answer)?.into_any());
            hook.call1(py, pyo3::types::PyTuple::new(py, v)?)
        });
        print_err(py, r);
    });
    rx.await.unwrap_or_default()
}

/// A supervisor.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeSupervisor {
    pub(crate) sup: Supervisor,
    inbox: Arc<Inbox>,
}

#[pymethods]
impl NativeSupervisor {
    /// `options`: `{name, strategy, max_restarts, window, backoff_initial, backoff_max,
    /// backoff_factor}` as the user gave them (checked by core).
    #[new]
    fn new(py: Python<'_>, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let o = SupervisorOptions::from_raw(&raw("supervisor", options)?).py(py)?;
        let inbox = Inbox::new()?;
        Ok(NativeSupervisor { sup: Supervisor::new(o), inbox })
    }

    fn inbox_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.inbox.wake_rx.as_raw_fd()
    }

    fn drain(&self, py: Python<'_>) {
        self.inbox.drain(py);
    }

    /// Adds a child: `child` as for pools, plus `{instances, critical, restart, max_restarts,
    /// window, restart_delay}`.
    fn add_child(&self, py: Python<'_>, child: &Bound<'_, PyDict>) -> PyResult<()> {
        let o = ChildOptions::from_raw(spec(py, child)?, &raw("child", child)?).py(py)?;
        self.sup.add_child(o).py(py)
    }

    /// Adds a nested supervisor.
    fn add_supervisor(&self, py: Python<'_>, other: &NativeSupervisor, critical: bool) -> PyResult<()> {
        self.sup.add_supervisor(other.sup.clone(), critical).py(py)
    }

    /// `hook(info, kind, reason, answer)` runs on the event loop for each crash; it answers with
    /// `answer.set("restart" | "ignore" | "escalate" | "shutdown" | "default")`.
    fn on_crash(&self, hook: Py<PyAny>) {
        let (hook, inbox) = (Arc::new(hook), self.inbox.clone());
        self.sup.on_crash(move |info, reason| {
            let (hook, inbox) = (hook.clone(), inbox.clone());
            async move {
                let kind = reason.kind();
                let text = reason.to_string();
                let d = ask(inbox, hook, move |py| {
                    Ok((info_dict(py, &info)?, kind, text).into_pyobject(py)?.into_any().unbind())
                })
                .await;
                // The Python layer checks the decision; anything else means the policy's.
                d.parse().unwrap_or(CrashDecision::Default)
            }
        });
    }

    /// `hook(info, attempt, answer)` runs on the event loop before each restart; the restart waits
    /// for `answer.set(...)`.
    fn on_restart(&self, hook: Py<PyAny>) {
        let (hook, inbox) = (Arc::new(hook), self.inbox.clone());
        self.sup.on_restart(move |info, attempt| {
            let (hook, inbox) = (hook.clone(), inbox.clone());
            async move {
                ask(inbox, hook, move |py| {
                    Ok((info_dict(py, &info)?, attempt).into_pyobject(py)?.into_any().unbind())
                })
                .await;
            }
        });
    }

    /// Starts it (blocking without the GIL: call from an executor).
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let sup = self.sup.clone();
        py.detach(|| runtime::block_on(async move { sup.start().await })).py(py)
    }

    /// Stops it (blocking without the GIL).
    fn stop(&self, py: Python<'_>) {
        let sup = self.sup.clone();
        py.detach(|| runtime::block_on(async move { sup.stop().await }));
    }

    /// Waits until it stops (blocking without the GIL); raises if it failed.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        let sup = self.sup.clone();
        py.detach(|| runtime::block_on(async move { sup.wait().await })).py(py)
    }

    /// `idle`, `running`, `stopped` or `failed: why`.
    fn state(&self) -> String {
        match self.sup.state() {
            omnitron::process::SupervisorState::Idle => "idle".into(),
            omnitron::process::SupervisorState::Running => "running".into(),
            omnitron::process::SupervisorState::Stopped => "stopped".into(),
            omnitron::process::SupervisorState::Failed(why) => format!("failed: {why}"),
        }
    }

    fn restart_child(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let (sup, name) = (self.sup.clone(), name.to_string());
        py.detach(|| runtime::block_on(async move { sup.restart_child(&name).await })).py(py)
    }

    fn start_child(&self, py: Python<'_>, args: Vec<String>) -> PyResult<usize> {
        let sup = self.sup.clone();
        py.detach(|| runtime::block_on(async move { sup.start_child(args).await })).py(py)
    }

    fn children<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let sup = self.sup.clone();
        let infos = py.detach(|| runtime::block_on(async move { sup.children().await }));
        infos.iter().map(|c| info_dict(py, c)).collect()
    }
}

/// A task `NativePool.exec` started: `cancel()` stops it (its `done` is then not called).
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativePoolTask {
    task: Option<omnitron::process::PoolTask>,
}

#[pymethods]
impl NativePoolTask {
    /// Takes it out of the queue, or sends its worker CANCEL and frees the worker's slot.
    fn cancel(&self) {
        if let Some(t) = &self.task {
            t.cancel();
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativePool>()?;
    m.add_class::<NativePoolTask>()?;
    m.add_class::<NativeSupervisor>()?;
    m.add_class::<NativeHookAnswer>()?;
    Ok(())
}
