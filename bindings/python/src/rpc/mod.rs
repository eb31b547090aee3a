//! RPC for Python: the engine's `Peer`, with Python values converted to and from MessagePack here.
//!
//! Handlers and event callbacks are Python callables invoked with the GIL taken only for the call:
//! the Python layer (`omnitron/rpc.py`) hands the work to its asyncio loop (or a thread pool for
//! `def` handlers) and answers through a `NativeCall`. Calls made from Python complete through a
//! callback the Python layer turns into an asyncio future.
//!
//! This file holds the value conversions every door of the extension shares and the module's
//! functions; [`host`] the inbox and the connections Python's event loop reads, [`peer`] the
//! `NativePeer` class, [`serve`] calls answered from Python and [`call`] calls made from it.

mod call;
mod host;
mod peer;
mod serve;

use omnitron::rpc::WireError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use call::{NativePending, NativeStream};
use host::NativeConnection;
use peer::NativePeer;
use serve::NativeCall;

use crate::error::ToPy;
pub(crate) use host::{Inbox, host_loop, print_err};

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

// ---- module functions ----------------------------------------------------------------------------

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
