//! Calls made from Python: the handle of a call in flight, the receiving end of a streaming call,
//! and how answers and remote errors reach Python.

use std::sync::Arc;

use omnitron::rpc::WireError;
use omnitron::{ErrorCode, runtime};
use pyo3::prelude::*;

use super::{Inbox, decode, print_err, wire_to_tuple};

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

/// The receiving end of a streaming call.
#[pyclass(frozen, module = "omnitron._native")]
pub struct NativeStream {
    pub(super) inner: Arc<tokio::sync::Mutex<Option<omnitron::rpc::RpcStream>>>,
    pub(super) inbox: Arc<Inbox>,
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

/// An answer as Python sees it: `(value, None)`, or `(None, (code, message, data))` (an answer
/// that does not decode is an `InvalidArgument` error).
pub(super) fn answer_args(py: Python<'_>, r: Result<bytes::Bytes, WireError>) -> (Py<PyAny>, Py<PyAny>) {
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
pub(super) fn remote_error(py: Python<'_>, e: &WireError) -> PyErr {
    match py.import("omnitron.errors").and_then(|m| m.getattr("remote_error")).and_then(|f| {
        let data = e.data.as_ref().and_then(|d| decode(py, d).ok()).unwrap_or_else(|| py.None());
        f.call1((e.code.as_str(), e.message.as_str(), data))
    }) {
        Ok(exc) => PyErr::from_value(exc),
        Err(import_failed) => import_failed,
    }
}
