//! The thread's last error, and what callbacks pass on (the status enum is generated: status.rs).

use std::cell::{Cell, RefCell};
use std::ffi::{CString, c_char};

use omnitron::{Error, ErrorCode};

use crate::boundary::guard_always;

pub use crate::status::OmnitronStatus;

/// What a C callback returns: an OmnitronStatus, read here as the plain number it is (a callback may
/// return any value, which the Rust enum could not hold). The header spells it `OmnitronStatus`, so a
/// C++ function declared to return OmnitronStatus converts to every callback type, and a C function
/// returning uint32_t still does (in C, OmnitronStatus is uint32_t).
/// cbindgen:ignore
pub type CallbackStatus = u32;

struct LastError {
    status: OmnitronStatus,
    message: CString,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
    static CALLBACK_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(e: &Error) {
    let text = e.to_string().replace('\0', " ");
    let message = CString::new(text).unwrap_or_default();
    let status = OmnitronStatus::from_code(e.code());
    LAST.with(|l| *l.borrow_mut() = Some(LastError { status, message }));
    FAILURES.with(|f| f.set(f.get() + 1));
}

thread_local! {
    /// Failing calls on this thread so far, and how many there were when the running callback
    /// started: a failure since then is one the callback saw.
    static FAILURES: Cell<u64> = const { Cell::new(0) };
    static CALLBACK_START: Cell<u64> = const { Cell::new(0) };
}

/// Forgets any message a previous callback left, before a callback runs, and marks where it starts
/// (the thread's last error is kept: the pointer omnitron_last_error_message gave stays valid until
/// the next failing call, as the header says).
pub(crate) fn clear_callback_message() {
    CALLBACK_MESSAGE.with(|m| *m.borrow_mut() = None);
    CALLBACK_START.with(|s| s.set(FAILURES.with(Cell::get)));
}

/// The error a callback passed on: when it returns the status of a library call it made that failed
/// (and said nothing itself), that call's error, unchanged.
pub(crate) fn passed_on(status: u32) -> Option<Error> {
    if CALLBACK_MESSAGE.with(|m| m.borrow().is_some()) {
        return None;
    }
    if FAILURES.with(Cell::get) == CALLBACK_START.with(Cell::get) {
        return None; // No library call failed during the callback.
    }
    LAST.with(|l| {
        let l = l.borrow();
        let last = l.as_ref()?;
        if last.status as u32 != status {
            return None;
        }
        let code = ErrorCode::from_u32(status)?;
        let text = last.message.to_string_lossy();
        let prefix = format!("[{}] ", code.as_str());
        Some(Error::new(code, text.strip_prefix(&prefix).unwrap_or(&text).to_string()))
    })
}

/// Takes the message a callback left with `omnitron_callback_error`, if any.
pub(crate) fn take_callback_message() -> Option<String> {
    CALLBACK_MESSAGE.with(|m| m.borrow_mut().take())
}

/// The message of the last failure on this thread, or NULL if there was none. The string belongs to
/// the library and stays valid until the next failing call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_last_error_message() -> *const c_char {
    guard_always(|| LAST.with(|l| l.borrow().as_ref().map_or(std::ptr::null(), |e| e.message.as_ptr())))
}

/// The status of the last failure on this thread, or OMNITRON_STATUS_OK if there was none.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_last_error_status() -> OmnitronStatus {
    guard_always(|| LAST.with(|l| l.borrow().as_ref().map_or(OmnitronStatus::Ok, |e| e.status)))
}

/// Forgets the last error of this thread.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_clear_last_error() {
    guard_always(|| LAST.with(|l| *l.borrow_mut() = None))
}

/// The stable short id of a status ("DI001", "E002", "OK"), the same `code` that Node and Python
/// errors carry. Static; do not free. Unknown values give "UNKNOWN".
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_status_id(status: u32) -> *const c_char {
    guard_always(|| {
        if status == 0 {
            return c"OK".as_ptr();
        }
        match ErrorCode::from_u32(status) {
            Some(code) => id_cstr(code),
            None => c"UNKNOWN".as_ptr(),
        }
    })
}

fn id_cstr(code: ErrorCode) -> *const c_char {
    use std::sync::OnceLock;
    static IDS: OnceLock<Vec<(ErrorCode, CString)>> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        ErrorCode::ALL.iter().map(|c| (*c, CString::new(c.as_str()).unwrap_or_default())).collect()
    });
    ids.iter().find(|(c, _)| *c == code).map_or(c"UNKNOWN".as_ptr(), |(_, s)| s.as_ptr())
}

/// Called from inside a callback (factory, hook) on the same thread, before it returns a non-OK
/// status: says why, and the message becomes part of the error the caller sees. NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_callback_error(message: *const c_char) {
    guard_always(|| {
        if message.is_null() {
            return;
        }
        // SAFETY: non-null and NUL-terminated by contract.
        let text = unsafe { std::ffi::CStr::from_ptr(message) }.to_string_lossy().into_owned();
        CALLBACK_MESSAGE.with(|m| *m.borrow_mut() = Some(text));
    })
}

/// The error for a callback that returned `status`: the library error it passed on, or `code` with
/// `what` and the message it left (or the bare status).
pub(crate) fn callback_error(code: ErrorCode, what: String, status: u32) -> Error {
    if let Some(e) = passed_on(status) {
        return e;
    }
    let why = take_callback_message()
        .unwrap_or_else(|| format!("returned status {status} ({})", status_text(status)));
    Error::new(code, format!("{what}: {why}"))
}

/// A short description of a status number for messages ("DI001" or "unknown").
pub(crate) fn status_text(status: u32) -> &'static str {
    ErrorCode::from_u32(status).map_or("unknown", |c| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_code_has_a_status_with_the_same_number() {
        for code in ErrorCode::ALL {
            let s = OmnitronStatus::from_code(*code);
            assert_eq!(s as u32, code.as_u32(), "{code} has no matching OmnitronStatus");
        }
        assert_eq!(OmnitronStatus::ALL.len(), ErrorCode::ALL.len());
    }
}
