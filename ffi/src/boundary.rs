//! The one boundary kit: every exported function runs through [`guard`] (or [`guard_out`] when it
//! has output pointers), and every handle, string, pointer, user_data and byte the library hands out
//! crosses through the helpers here. No exported function does its own casting, clearing or freeing.

use std::any::Any;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Once};

use omnitron::{Error, ErrorCode};
use parking_lot::RwLock;

use crate::error::{OmnitronStatus, set_last_error};

/// Runs an export's body: refuses to run in a forked child, catches panics, records failures as the
/// thread's last error, and turns the outcome into a status.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Error>) -> OmnitronStatus {
    if let Err(e) = fork_check() {
        set_last_error(&e);
        return OmnitronStatus::from_code(e.code());
    }
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

/// Like [`guard`] for functions with output pointers: every output is cleared (NULL, 0, false, an
/// empty buffer) before the body runs, and again if it fails, so a caller never reads a stale or
/// half-written value after a failure. Outputs wrapped in [`reported`] keep what the body wrote on
/// failure (the size a too-small buffer needs, the wait of a refused rate limiter).
pub(crate) fn guard_out<O: Outputs>(outs: O, f: impl FnOnce() -> Result<(), Error>) -> OmnitronStatus {
    outs.clear(false);
    let status = guard(f);
    if status != OmnitronStatus::Ok {
        outs.clear(true);
    }
    status
}

/// A value an output pointer is reset to on failure.
pub(crate) trait Cleared: Sized {
    /// NULL, 0, false, an empty struct.
    fn cleared() -> Self;
}

impl<T> Cleared for *mut T {
    fn cleared() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> Cleared for *const T {
    fn cleared() -> Self {
        std::ptr::null()
    }
}

macro_rules! cleared_as_default {
    ($($t:ty),*) => { $(impl Cleared for $t { fn cleared() -> Self { <$t>::default() } })* };
}
cleared_as_default!(bool, u16, u32, u64, usize, f64);

/// The output pointers of one export, for [`guard_out`].
pub(crate) trait Outputs: Copy {
    /// Resets every output that is not NULL. `failed`: the body failed (reported outputs stay).
    fn clear(self, failed: bool);
}

impl<T: Cleared> Outputs for *mut T {
    fn clear(self, _failed: bool) {
        if !self.is_null() {
            // SAFETY: non-null, and the caller promises it points to writable memory for a T.
            unsafe { self.write(T::cleared()) };
        }
    }
}

impl Outputs for () {
    fn clear(self, _failed: bool) {}
}

impl<A: Outputs, B: Outputs> Outputs for (A, B) {
    fn clear(self, failed: bool) {
        self.0.clear(failed);
        self.1.clear(failed);
    }
}

/// An output the body writes on failure too (a report: the size needed, the wait): cleared before
/// the body runs, left as the body wrote it afterwards.
pub(crate) struct Reported<T>(*mut T);

// Not derived: the derive would ask `T: Copy`, and only the pointer is copied.
impl<T> Clone for Reported<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Reported<T> {}

/// Marks an output pointer as a report (see [`Reported`]).
pub(crate) fn reported<T>(p: *mut T) -> Reported<T> {
    Reported(p)
}

impl<T: Cleared> Outputs for Reported<T> {
    fn clear(self, failed: bool) {
        if !failed {
            self.0.clear(false);
        }
    }
}

// ---- fork ----------------------------------------------------------------------------------------

/// Set in a child forked from a process that had used the library: the engine's threads (the tokio
/// runtime, blocking pools) and any lock another thread held did not survive the fork, so every
/// call would hang or misbehave. Calls fail at once instead.
static FORKED: AtomicBool = AtomicBool::new(false);
static ATFORK: Once = Once::new();

extern "C" fn in_forked_child() {
    // Async-signal-safe: one atomic store.
    FORKED.store(true, Ordering::Relaxed);
}

fn fork_check() -> Result<(), Error> {
    ATFORK.call_once(|| {
        // SAFETY: registers a child handler that only stores to an atomic. A failure to register
        // (ENOMEM) only loses the check.
        unsafe { libc::pthread_atfork(None, None, Some(in_forked_child)) };
    });
    if FORKED.load(Ordering::Relaxed) {
        return Err(Error::new(
            ErrorCode::NotRunning,
            "libomnitron was used in this process before it was forked: its threads did not survive \
             fork(), so a forked child cannot use it (nor its handles). Exec a new program in the \
             child, or fork before the first call into the library (see docs/C_API.md, \"fork\")",
        ));
    }
    Ok(())
}

// ---- user_data -----------------------------------------------------------------------------------

/// Frees a caller's `user_data` once the library lets go of it (see USER_DATA above): exactly once,
/// after the last callback that uses it, on the thread that lets go last. It may call omnitron_free
/// and the _free functions of other handles, nothing else of the library.
pub type OmnitronFreeFn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A caller's `user_data` and the function that frees it. Shared by every copy of what holds it
/// (a provider registered in several containers, a handler running on several threads); the free
/// function runs exactly once, when the last holder drops it, after the last callback that uses it
/// has returned. Created first thing in an export, so a failing call frees it before returning.
#[derive(Debug)]
pub(crate) struct UserData {
    ptr: CPtr,
    free: OmnitronFreeFn,
}

impl UserData {
    pub(crate) fn new(ptr: *mut c_void, free: OmnitronFreeFn) -> Arc<UserData> {
        Arc::new(UserData { ptr: CPtr(ptr), free })
    }

    /// The pointer, to pass back to C.
    pub(crate) fn get(&self) -> *mut c_void {
        self.ptr.0
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller gave `free` for this pointer (header contract); it runs once.
            unsafe { free(self.ptr.0) }
        }
    }
}

// ---- memory handed out -----------------------------------------------------------------------------

/// Bytes before each allocation the library hands out: the length and a mark.
const HEADER: usize = 16;
/// The mark: "omnitron" in ASCII.
const MARK: u64 = u64::from_be_bytes(*b"omnitron");

fn layout(len: usize) -> std::alloc::Layout {
    // HEADER + len + 1 cannot overflow isize for a length that exists in memory.
    std::alloc::Layout::from_size_align(HEADER + len + 1, HEADER).expect("allocation size")
}

/// Copies `bytes` into memory the caller frees with `omnitron_free`, followed by a NUL byte (not
/// counted), so text is a C string.
pub(crate) fn give_bytes(bytes: &[u8]) -> *mut u8 {
    let layout = layout(bytes.len());
    // SAFETY: the layout has a non-zero size.
    let base = unsafe { std::alloc::alloc(layout) };
    if base.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `base` has HEADER + len + 1 writable bytes, aligned to HEADER.
    unsafe {
        base.cast::<u64>().write(bytes.len() as u64);
        base.add(8).cast::<u64>().write(MARK);
        let data = base.add(HEADER);
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        data.add(bytes.len()).write(0);
        data
    }
}

/// A string the caller frees with `omnitron_free`.
pub(crate) fn give_string(text: &str) -> Result<*mut c_char, Error> {
    if text.as_bytes().contains(&0) {
        return Err(Error::new(ErrorCode::Internal, "a string for C contains a NUL byte"));
    }
    Ok(give_bytes(text.as_bytes()).cast())
}

/// Frees memory made by [`give_bytes`]. NULL is ignored; a pointer without the mark is reported and
/// left alone (a likely misuse: a static string, a handle, memory from malloc).
pub(crate) fn take_back(ptr: *mut c_void) -> Result<(), Error> {
    if ptr.is_null() {
        return Ok(());
    }
    let data = ptr.cast::<u8>();
    // SAFETY: by contract `ptr` came from give_bytes, so HEADER bytes before it are ours.
    let (len, mark) = unsafe {
        let base = data.sub(HEADER);
        (base.cast::<u64>().read(), base.add(8).cast::<u64>().read())
    };
    if mark != MARK {
        return Err(Error::invalid_argument(
            "omnitron_free was given a pointer the library did not hand out",
        ));
    }
    // SAFETY: made by give_bytes with this length. The mark is wiped first, so a stale copy of the
    // pointer is less likely to pass for live memory.
    unsafe {
        let base = data.sub(HEADER);
        base.add(8).cast::<u64>().write(0);
        std::alloc::dealloc(base, layout(len as usize));
    }
    Ok(())
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
