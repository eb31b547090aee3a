//! Python values to and from MessagePack, directly: no `Value` tree in between (building one cost
//! an allocation per element and doubled the time of a pool's map over small items). The rules are
//! `omnitron::rpc::Value`'s: None, bool, int (64 bits), float, str, bytes, list, tuple and dict go
//! out; arrays come back as lists, maps as dicts (an unhashable key as its repr), binary and
//! extension types as bytes; nothing nested deeper than `MAX_DEPTH`.

use omnitron::rpc::MAX_DEPTH;
use omnitron::rpc::msgpack as mp;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::error::to_py;

// ---- encoding -----------------------------------------------------------------------------------

/// Appends the encoding of `obj` to `out`.
pub(crate) fn encode_into(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    write(obj, out, 0)
}

fn write(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(crate::error::invalid_argument("value nested too deeply to send over RPC"));
    }
    // The exact built-in types first (a pointer comparison each), then their subclasses.
    if obj.is_exact_instance_of::<PyInt>() {
        return write_py_int(obj, out);
    }
    if obj.is_none() {
        mp::write_nil(out);
        return Ok(());
    }
    if obj.is_exact_instance_of::<PyString>() {
        mp::write_str(out, &obj.cast::<PyString>()?.to_cow()?);
        return Ok(());
    }
    if obj.is_exact_instance_of::<PyList>() {
        return write_items(obj.cast::<PyList>()?.iter(), out, depth);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        mp::write_bool(out, b.is_true());
        return Ok(());
    }
    if obj.cast::<PyInt>().is_ok() {
        return write_py_int(obj, out);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        mp::write_f64(out, f.value());
        return Ok(());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        mp::write_str(out, &s.to_cow()?);
        return Ok(());
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        mp::write_bin(out, b.as_bytes());
        return Ok(());
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return write_items(l.iter(), out, depth);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return write_items(t.iter(), out, depth);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        mp::write_map_len(out, d.len());
        for (k, v) in d.iter() {
            write(&k, out, depth + 1)?;
            write(&v, out, depth + 1)?;
        }
        return Ok(());
    }
    let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    Err(crate::error::invalid_argument(format!(
        "cannot send a {ty} over RPC: use None, bool, int, float, str, bytes, list, tuple or dict (dataclasses: dataclasses.asdict)"
    )))
}

fn write_items<'py>(
    items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>,
    out: &mut Vec<u8>,
    depth: usize,
) -> PyResult<()> {
    mp::write_array_len(out, items.len());
    for i in items {
        write(&i, out, depth + 1)?;
    }
    Ok(())
}

fn write_py_int(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<()> {
    if let Ok(v) = obj.extract::<i64>() {
        mp::write_int(out, v);
        return Ok(());
    }
    match obj.extract::<u64>() {
        Ok(v) => {
            mp::write_uint(out, v);
            Ok(())
        }
        Err(_) => Err(crate::error::invalid_argument("int too large to send over RPC (64 bits at most)")),
    }
}

// ---- decoding -----------------------------------------------------------------------------------

fn bad(py: Python<'_>, what: impl std::fmt::Display) -> PyErr {
    to_py(
        py,
        &omnitron::Error::new(
            omnitron::ErrorCode::InvalidArgument,
            format!("cannot decode the MessagePack value: {what}"),
        ),
    )
}

/// Decodes exactly one value from `b`.
pub(crate) fn decode(py: Python<'_>, b: &[u8]) -> PyResult<Py<PyAny>> {
    let mut r = Reader { b, pos: 0 };
    let v = r.value(py, 0)?;
    if r.pos != b.len() {
        return Err(bad(py, "bytes after the value"));
    }
    Ok(v)
}

/// Decodes `n` values encoded one after the other in `b` onto `out` (a chunk's values from a pool's
/// map).
pub(crate) fn decode_many(py: Python<'_>, b: &[u8], n: usize, out: &mut Vec<Py<PyAny>>) -> PyResult<()> {
    let mut r = Reader { b, pos: 0 };
    for _ in 0..n {
        out.push(r.value(py, 0)?);
    }
    if r.pos != b.len() {
        return Err(bad(py, "bytes after the values"));
    }
    Ok(())
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, py: Python<'_>, n: usize) -> PyResult<&'a [u8]> {
        let end =
            self.pos.checked_add(n).filter(|e| *e <= self.b.len()).ok_or_else(|| bad(py, "truncated"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, py: Python<'_>, n: usize) -> PyResult<u64> {
        Ok(self.take(py, n)?.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x)))
    }

    /// A Python int, made through the C API (the generic conversion costs a third of a small
    /// array's decoding).
    fn int(py: Python<'_>, v: i64) -> PyResult<Py<PyAny>> {
        // SAFETY: PyLong_FromLongLong returns a new reference or NULL with an exception set.
        unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyLong_FromLongLong(v)).map(Bound::unbind) }
    }

    fn uint(py: Python<'_>, v: u64) -> PyResult<Py<PyAny>> {
        // SAFETY: as for `int`.
        unsafe {
            Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyLong_FromUnsignedLongLong(v)).map(Bound::unbind)
        }
    }

    /// A count of elements of `per` bytes at least: more than what is left is malformed (refused
    /// before anything is reserved for it).
    fn count(&self, py: Python<'_>, n: u64, per: u64) -> PyResult<usize> {
        if n.saturating_mul(per) > (self.b.len() - self.pos) as u64 {
            Err(bad(py, "truncated"))
        } else {
            Ok(n as usize)
        }
    }

    fn value(&mut self, py: Python<'_>, depth: usize) -> PyResult<Py<PyAny>> {
        if depth > MAX_DEPTH {
            return Err(bad(py, format_args!("nested deeper than {MAX_DEPTH} levels")));
        }
        let m = self.take(py, 1)?[0];
        Ok(match m {
            0x00..=0x7f => Self::int(py, i64::from(m))?,
            0xe0..=0xff => Self::int(py, i64::from(m as i8))?,
            0x80..=0x8f => {
                let n = self.count(py, u64::from(m & 0x0f), 2)?;
                self.map(py, n, depth)?
            }
            0x90..=0x9f => {
                let n = self.count(py, u64::from(m & 0x0f), 1)?;
                self.array(py, n, depth)?
            }
            0xa0..=0xbf => self.string(py, usize::from(m & 0x1f))?,
            0xc0 => py.None(),
            0xc2 => PyBool::new(py, false).to_owned().into_any().unbind(),
            0xc3 => PyBool::new(py, true).to_owned().into_any().unbind(),
            0xc4..=0xc6 => {
                let n = self.be(py, 1 << (m - 0xc4))? as usize;
                PyBytes::new(py, self.take(py, n)?).into_any().unbind()
            }
            0xc7..=0xc9 => {
                let n = self.be(py, 1 << (m - 0xc7))? as usize;
                self.take(py, 1)?;
                PyBytes::new(py, self.take(py, n)?).into_any().unbind()
            }
            0xca => f64::from(f32::from_bits(self.be(py, 4)? as u32)).into_pyobject(py)?.into_any().unbind(),
            0xcb => f64::from_bits(self.be(py, 8)?).into_pyobject(py)?.into_any().unbind(),
            0xcc..=0xcf => Self::uint(py, self.be(py, 1 << (m - 0xcc))?)?,
            0xd0 => Self::int(py, i64::from(self.be(py, 1)? as u8 as i8))?,
            0xd1 => Self::int(py, i64::from(self.be(py, 2)? as u16 as i16))?,
            0xd2 => Self::int(py, i64::from(self.be(py, 4)? as u32 as i32))?,
            0xd3 => Self::int(py, self.be(py, 8)? as i64)?,
            0xd4..=0xd8 => {
                self.take(py, 1)?;
                PyBytes::new(py, self.take(py, 1 << (m - 0xd4))?).into_any().unbind()
            }
            0xd9..=0xdb => {
                let n = self.be(py, 1 << (m - 0xd9))? as usize;
                self.string(py, n)?
            }
            0xdc | 0xdd => {
                let n = self.be(py, if m == 0xdc { 2 } else { 4 })?;
                let n = self.count(py, n, 1)?;
                self.array(py, n, depth)?
            }
            0xde | 0xdf => {
                let n = self.be(py, if m == 0xde { 2 } else { 4 })?;
                let n = self.count(py, n, 2)?;
                self.map(py, n, depth)?
            }
            0xc1 => return Err(bad(py, "marker 0xc1 is never used")),
        })
    }

    fn string(&mut self, py: Python<'_>, n: usize) -> PyResult<Py<PyAny>> {
        let s = self.take(py, n)?;
        let s = std::str::from_utf8(s).map_err(|_| bad(py, "a string is not UTF-8"))?;
        Ok(PyString::new(py, s).into_any().unbind())
    }

    fn array(&mut self, py: Python<'_>, n: usize, depth: usize) -> PyResult<Py<PyAny>> {
        // The list is made at its size and filled in place (no vector of items first). `n` was
        // checked against what is left to read (`count`), so it fits in an isize.
        // SAFETY: PyList_New returns a new reference (slots NULL) or NULL with an exception set;
        // the Bound owns it, so an error below drops it (a list with NULL slots is safe to free).
        let list = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyList_New(n as isize))? };
        for i in 0..n {
            let item = self.value(py, depth + 1)?;
            // SAFETY: `i` is in range; PyList_SetItem steals the reference it is given.
            if unsafe { pyo3::ffi::PyList_SetItem(list.as_ptr(), i as isize, item.into_ptr()) } != 0 {
                return Err(PyErr::fetch(py));
            }
        }
        Ok(list.unbind())
    }

    fn map(&mut self, py: Python<'_>, n: usize, depth: usize) -> PyResult<Py<PyAny>> {
        let d = PyDict::new(py);
        for _ in 0..n {
            let key = self.value(py, depth + 1)?;
            let value = self.value(py, depth + 1)?;
            // Unhashable keys (a list) cannot be dict keys in Python: their repr is used.
            let key =
                if key.bind(py).hash().is_ok() { key } else { key.bind(py).repr()?.into_any().unbind() };
            d.set_item(key, value)?;
        }
        Ok(d.into_any().unbind())
    }
}
