//! Calls answered from Python: `NativeCall`, through which a Python handler answers a call or a
//! stream item once, what stops a handler whose caller went away, and the task that serves a
//! stream from a Python generator.

use std::sync::Arc;

use omnitron::ErrorCode;
use omnitron::rpc::WireError;
use parking_lot::Mutex;
use pyo3::prelude::*;
use tokio::sync::oneshot;

use super::{Inbox, decode, encode, print_err};

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
    /// Its trace context (the protocol's field), when its caller sent one or tracing is on here.
    trace: Option<bytes::Bytes>,
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
pub(super) static STOPS: std::sync::LazyLock<Mutex<rustc_hash::FxHashMap<u64, Py<PyAny>>>> =
    std::sync::LazyLock::new(|| Mutex::new(Default::default()));

impl NativeCall {
    pub(super) fn reply(reply: omnitron::rpc::Reply) -> NativeCall {
        let key = reply.key();
        let trace = reply.trace().cloned();
        NativeCall { to: Mutex::new(Some(AnswerTo::Reply(reply))), key, stoppable: false.into(), trace }
    }

    fn item(tx: oneshot::Sender<Answer>, trace: Option<bytes::Bytes>) -> NativeCall {
        NativeCall { to: Mutex::new(Some(AnswerTo::Item(tx))), key: 0, stoppable: false.into(), trace }
    }

    pub(super) fn answer(&self, r: Result<bytes::Bytes, WireError>) -> bool {
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
    pub(super) fn stoppable_by(&self, stop: Py<PyAny>) {
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
    /// The call's trace context, `(traceparent, tracestate)`, or None.
    #[getter]
    fn trace(&self) -> Option<crate::telemetry::Headers> {
        crate::telemetry::headers_of(self.trace.as_ref())
    }

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

/// Pulls items from a Python (async) generator and sends them, one at a time: the sink's credit is
/// the backpressure, and the generator is stopped if the caller goes away.
pub(super) async fn serve_stream(
    inbox: Arc<Inbox>,
    ds: Arc<Py<PyAny>>,
    method: String,
    args: bytes::Bytes,
    sink: omnitron::rpc::StreamSink,
    trace: Option<bytes::Bytes>,
) -> Result<(), WireError> {
    // (pull, stop), made by the first job.
    let made: GeneratorSlot = Arc::new(Mutex::new(None));
    let mut guard = StopOnDrop { inbox: inbox.clone(), stop: StopWith::Stream(made.clone()), armed: true };
    let mut first = Some((ds, method, args));
    loop {
        let (tx, rx) = oneshot::channel();
        let (g, start, trace) = (made.clone(), first.take(), trace.clone());
        inbox.run(move |py| {
            // Each pull carries the call's trace: the generator steps in it.
            let call = NativeCall::item(tx, trace);
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
