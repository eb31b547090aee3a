//! Memory the library hands out, and the one function that frees it.
//!
//! Every string (`char *` outputs) and every buffer's `data` the library allocates for the caller is
//! freed with `omnitron_free`; handles are not memory and have their own `_free` functions (they stop
//! what runs behind them). `omnitron_string_free` and `omnitron_buffer_free` remain as deprecated
//! aliases. Each frees only memory that is live and the library's (see `take_back`): a double free
//! or a foreign pointer is refused, not undefined behaviour.

use std::ffi::{c_char, c_void};

use omnitron::Error;

use crate::boundary::{Cleared, give_bytes, guard_void, take_back, write_out};

/// Bytes the library hands out (a result, a JSON text), always followed by a NUL byte not counted in
/// `len`, so text can be read as a C string. Free `data` with omnitron_free. On failure the library
/// sets both fields to NULL / 0.
#[repr(C)]
#[derive(Debug)]
pub struct OmnitronBuffer {
    /// The bytes (free with omnitron_free).
    pub data: *mut u8,
    /// How many (the NUL after them not counted).
    pub len: usize,
}

impl Cleared for OmnitronBuffer {
    fn cleared() -> Self {
        OmnitronBuffer { data: std::ptr::null_mut(), len: 0 }
    }
}

/// Hands bytes to C in `*out`.
pub(crate) fn give(out: *mut OmnitronBuffer, v: &[u8]) -> Result<(), Error> {
    let data = give_bytes(v);
    write_out(out, OmnitronBuffer { data, len: v.len() }, "out")
}

/// Frees memory the library handed out: a string it returned (`char *` outputs such as
/// omnitron_container_export_graph's) or the `data` of an OmnitronBuffer. NULL is ignored. Freeing
/// the same pointer twice, or any pointer the library did not hand out (a handle, a static string
/// such as omnitron_version's, memory from malloc), is safe: the library keeps a record of the
/// memory it has handed out and not taken back, and refuses any other pointer without reading
/// through it (nothing is freed; the thread's last error is OMNITRON_STATUS_INVALID_ARGUMENT). The
/// record is of addresses: once the library hands out new memory at a freed address, a stale copy
/// of the old pointer names the new memory, so do not rely on it beyond catching mistakes.
/// Callable from any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_free(ptr: *mut c_void) {
    guard_void(|| take_back(ptr))
}

/// Deprecated alias of omnitron_free (strings and buffers now free the same way): a second free of
/// the same string, or a pointer the library did not hand out, is refused as there.
#[deprecated(note = "use omnitron_free")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_string_free(s: *mut c_char) {
    guard_void(|| take_back(s.cast()))
}

/// Deprecated: call omnitron_free(buf->data) instead. Frees the buffer's data and sets it to NULL /
/// 0; NULL and empty buffers are ignored. Data already freed (through a copy of the buffer, or with
/// omnitron_free) is refused as by omnitron_free, and the buffer still emptied.
#[deprecated(note = "use omnitron_free(buf.data)")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_buffer_free(buf: *mut OmnitronBuffer) {
    guard_void(|| {
        if buf.is_null() {
            return Ok(());
        }
        // SAFETY: non-null; the caller passes a buffer the library filled (or a zeroed one).
        let b = unsafe { &mut *buf };
        let data = std::mem::replace(&mut b.data, std::ptr::null_mut());
        b.len = 0;
        take_back(data.cast())
    })
}
