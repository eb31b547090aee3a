//! `NativePeer`, this process's end of the RPC network as the Python layer drives it: listen or
//! connect, expose services, call, stream, publish and subscribe. Its connections are read by the
//! Python layer's asyncio loop (`super::host`).

use std::sync::Arc;
use std::time::Duration;

use omnitron::rpc::{CallOptions, Peer, PeerOptions, Service, WireError};
use omnitron::transport::Address;
use omnitron::{ErrorCode, runtime};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use super::call::{NativePending, NativeStream, answer_args, remote_error};
use super::serve::{NativeCall, STOPS, serve_stream};
use super::{Inbox, decode, encode, host_loop, print_err, wire_to_tuple};
use crate::error::ToPy;
use crate::telemetry::{Headers, wire_of};

/// This process's end of the RPC network.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativePeer {
    peer: Peer,
    inbox: Arc<Inbox>,
    adopt: Arc<std::sync::OnceLock<Py<PyAny>>>,
    /// `settle(future, value, error)`, for `call_future` (set once by the Python layer).
    settle: std::sync::OnceLock<Arc<Py<PyAny>>>,
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
    #[pyo3(signature = (target, method, args, deadline_s, future, trace=None))]
    #[allow(clippy::too_many_arguments)] // The Python signature, one to one.
    fn call_future(
        &self,
        target: &str,
        method: &str,
        args: &Bound<'_, PyAny>,
        deadline_s: Option<f64>,
        future: Py<PyAny>,
        trace: Option<Headers>,
    ) -> PyResult<NativePending> {
        let Some(settle) = self.settle.get().cloned() else {
            return Err(PyRuntimeError::new_err("call_future needs set_settle first"));
        };
        let args = encode(args)?;
        let opts = CallOptions { deadline: deadline(deadline_s)?, trace: wire_of(trace.as_ref()) };
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
                b = b.raw_stream(&m, move |args, ctx, sink| {
                    let (ds, method, inbox) = (ds.clone(), method.clone(), inbox.clone());
                    Box::pin(serve_stream(inbox, ds, method, args, sink, ctx.trace))
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
    #[pyo3(signature = (target, method, args, deadline_s, done, trace=None))]
    fn call(
        &self,
        target: &str,
        method: &str,
        args: &Bound<'_, PyAny>,
        deadline_s: Option<f64>,
        done: Py<PyAny>,
        trace: Option<Headers>,
    ) -> PyResult<NativePending> {
        let args = encode(args)?;
        let opts = CallOptions { deadline: deadline(deadline_s)?, trace: wire_of(trace.as_ref()) };
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
    #[pyo3(signature = (target, method, args, deadline_s=None, trace=None))]
    fn stream(
        &self,
        py: Python<'_>,
        target: &str,
        method: &str,
        args: &Bound<'_, PyAny>,
        deadline_s: Option<f64>,
        trace: Option<Headers>,
    ) -> PyResult<NativeStream> {
        let args = encode(args)?;
        let opts = CallOptions { deadline: deadline(deadline_s)?, trace: wire_of(trace.as_ref()) };
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
    #[pyo3(signature = (target, method, args, deadline_s=None, trace=None))]
    fn call_blocking(
        &self,
        py: Python<'_>,
        target: &str,
        method: &str,
        args: &Bound<'_, PyAny>,
        deadline_s: Option<f64>,
        trace: Option<Headers>,
    ) -> PyResult<Py<PyAny>> {
        let args = encode(args)?;
        let opts = CallOptions { deadline: deadline(deadline_s)?, trace: wire_of(trace.as_ref()) };
        let (peer, target, method) = (self.peer.clone(), target.to_string(), method.to_string());
        let r =
            py.detach(|| runtime::block_on(async move { peer.call_raw(&target, &method, args, opts).await }));
        match r {
            Ok(b) => decode(py, &b),
            Err(e) => Err(remote_error(py, &e)),
        }
    }

    /// Publishes an event to every subscriber in every connected process, in the trace `trace`
    /// gives (`(traceparent, tracestate)`), if any: its subscribers' handlers run in it.
    #[pyo3(signature = (topic, payload, trace=None))]
    fn publish(
        &self,
        py: Python<'_>,
        topic: &str,
        payload: &Bound<'_, PyAny>,
        trace: Option<crate::telemetry::Headers>,
    ) -> PyResult<()> {
        let payload = encode(payload)?;
        let (peer, topic) = (self.peer.clone(), topic.to_string());
        let trace = crate::telemetry::wire_of(trace.as_ref());
        py.detach(|| runtime::block_on(async move { peer.publish_raw_traced(&topic, payload, trace).await }))
            .py(py)
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
                    // Delivered with the publisher's trace current: the handler runs in it.
                    let trace = omnitron::telemetry::current().map(|c| c.headers());
                    inbox.run(move |py| {
                        let r = decode(py, &payload).and_then(|v| callback.call1(py, (topic, v, trace)));
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
