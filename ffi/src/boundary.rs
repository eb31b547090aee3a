//! The one boundary kit: every exported function runs through [`guard`], and every handle, string
//! and pointer crosses through the helpers here. No exported function does its own casting.

use std::any::Any;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use omnitron::{Error, ErrorCode};
use parking_lot::RwLock;

use crate::error::{OmnitronStatus, set_last_error};

/// Runs an export's body: catches panics, records failures as the thread's last error, and turns
/// the outcome into a status.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Error>) -> OmnitronStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => OmnitronStatus::Ok,
        Ok(Err(e)) => {
            let status = OmnitronStatus::from_code(e.code());
            set_last_error(&e);
            status
        }
        Err(panic) => {
            let what = panic_message(&*panic);
            set_last_error(&Error::new(
                ErrorCode::Internal,
                format!("internal error (a bug in libomnitron): {what}"),
            ));
            OmnitronStatus::Internal
        }
    }
}

/// Like [`guard`] for functions that return nothing (frees): failures are only recorded.
pub(crate) fn guard_void(f: impl FnOnce() -> Result<(), Error>) {
    let _ = guard(f);
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Handles are numbers in per-kind tables, handed to C as opaque pointers. A number that is not in
/// the table (NULL, freed, another kind's, garbage) is an `InvalidHandle` error.
pub(crate) struct Table<T> {
    kind: &'static str,
    items: LazyLock<RwLock<HashMap<usize, Arc<T>>>>,
}

/// Handle numbers are unique across all tables, so one kind's handle is never valid as another's.
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(0x1000);

impl<T> Table<T> {
    pub(crate) const fn new(kind: &'static str) -> Self {
        Table { kind, items: LazyLock::new(|| RwLock::new(HashMap::new())) }
    }

    /// Stores `value` and returns its handle.
    pub(crate) fn insert<H>(&self, value: T) -> *mut H {
        let id = NEXT_HANDLE.fetch_add(16, Ordering::Relaxed);
        self.items.write().insert(id, Arc::new(value));
        id as *mut H
    }

    /// Stores `value` and writes its handle to `out`, refusing a NULL `out` before storing anything.
    pub(crate) fn insert_out<H>(&self, out: *mut *mut H, value: T) -> Result<(), Error> {
        check_out(out, "out")?;
        let handle = self.insert::<H>(value);
        write_out(out, handle, "out")
    }

    /// The value behind a handle.
    pub(crate) fn get<H>(&self, handle: *const H) -> Result<Arc<T>, Error> {
        let id = handle as usize;
        if id == 0 {
            return Err(Error::new(ErrorCode::InvalidHandle, format!("the {} handle is NULL", self.kind)));
        }
        self.items.read().get(&id).cloned().ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidHandle,
                format!("not a live {} handle (already freed, or not a {})", self.kind, self.kind),
            )
        })
    }

    /// Forgets a handle; the value is dropped when its last user is done. NULL and unknown handles
    /// are ignored (freeing twice is harmless).
    pub(crate) fn remove<H>(&self, handle: *const H) -> Option<Arc<T>> {
        self.items.write().remove(&(handle as usize))
    }
}

/// A NUL-terminated UTF-8 string argument.
pub(crate) fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    // SAFETY: the caller promises a NUL-terminated string that lives for the call (header contract).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| Error::invalid_argument(format!("{what} is not valid UTF-8")))
}

/// Writes an output argument, refusing NULL.
pub(crate) fn write_out<T>(out: *mut T, value: T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::invalid_argument(format!("{what} (the output pointer) is NULL")));
    }
    // SAFETY: non-null, and the caller promises it points to writable memory for a T.
    unsafe { out.write(value) };
    Ok(())
}

/// Checks an output pointer before doing work whose result would be lost.
pub(crate) fn check_out<T>(out: *mut T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        Err(Error::invalid_argument(format!("{what} (the output pointer) is NULL")))
    } else {
        Ok(())
    }
}

/// A C pointer the engine stores or passes between threads. The C side owns what it points to; the
/// header says which callbacks may run on which thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CPtr(pub(crate) *mut c_void);

// SAFETY: the engine never dereferences a CPtr; it only hands it back to C, whose contract (in the
// header) covers thread use.
unsafe impl Send for CPtr {}
// SAFETY: as above.
unsafe impl Sync for CPtr {}

impl CPtr {
    /// The pointer. (A method, so closures capture the whole `CPtr`, which is `Send`.)
    pub(crate) fn get(self) -> *mut c_void {
        self.0
    }
}
