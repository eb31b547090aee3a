//! The one boundary kit: every exported function runs through [`guard_value`] (through [`guard`]
//! when it returns a status, [`guard_out`] when it has output pointers, [`guard_void`] when it
//! returns nothing, [`guard_always`] for the few that answer in a forked child), and every handle,
//! string, pointer, user_data and byte the library hands out crosses through the helpers here. No
//! exported function does its own catching, casting, clearing or freeing.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Once};
use std::thread::LocalKey;

use omnitron::{Error, ErrorCode};
use parking_lot::{Mutex, RwLock};

use crate::error::{OmnitronStatus, set_last_error};

/// What an export returns when its body fails or panics, declared once per return type (as
/// rustls-ffi's panic boundary does): a status says why; every other type has the value its header
/// comment documents for a failure (NULL, 0, false, nothing).
pub(crate) trait Failed {
    /// The value returned after a failure whose status is `status`.
    fn failed(status: OmnitronStatus) -> Self;
}

impl Failed for OmnitronStatus {
    fn failed(status: OmnitronStatus) -> Self {
        status
    }
}

impl Failed for () {
    fn failed(_: OmnitronStatus) -> Self {}
}

impl<T> Failed for *const T {
    fn failed(_: OmnitronStatus) -> Self {
        std::ptr::null()
    }
}

impl<T> Failed for *mut T {
    fn failed(_: OmnitronStatus) -> Self {
        std::ptr::null_mut()
    }
}

macro_rules! failed_as_default {
    ($($t:ty),*) => { $(impl Failed for $t { fn failed(_: OmnitronStatus) -> Self { <$t>::default() } })* };
}
failed_as_default!(bool, u16, u32, u64, usize);

/// The one boundary every export runs in, whatever it returns: refuses to run in a forked child,
/// catches panics, records a failure (an error, or a panic as OMNITRON_STATUS_INTERNAL) as the
/// thread's last error, and returns the body's value, or the return type's [`Failed`] value.
pub(crate) fn guard_value<T: Failed>(f: impl FnOnce() -> Result<T, Error>) -> T {
    if let Err(e) = fork_check() {
        return fail(&e);
    }
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => fail(&e),
        Err(panic) => fail(&internal(&*panic)),
    }
}

/// [`guard_value`] for the few functions that answer in a forked child too (versions, status ids,
/// the last error, omnitron_callback_error): no fork check, and a body that cannot fail; a panic is
/// still caught and recorded.
pub(crate) fn guard_always<T: Failed>(f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(panic) => fail(&internal(&*panic)),
    }
}

/// Runs an export that returns a status: [`guard_value`], with OMNITRON_STATUS_OK on success.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Error>) -> OmnitronStatus {
    guard_value(|| f().map(|()| OmnitronStatus::Ok))
}

/// Like [`guard`] for functions that return nothing (frees): failures are only recorded.
pub(crate) fn guard_void(f: impl FnOnce() -> Result<(), Error>) {
    guard_value(f)
}

fn fail<T: Failed>(e: &Error) -> T {
    set_last_error(e);
    T::failed(OmnitronStatus::from_code(e.code()))
}

fn internal(panic: &(dyn Any + Send)) -> Error {
    let what = panic_message(panic);
    Error::new(ErrorCode::Internal, format!("internal error (a bug in libomnitron): {what}"))
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

/// Every allocation the library has handed out and not taken back: its address and length, so
/// omnitron_free frees only memory that is live and ours, and never reads through any other pointer
/// (a double free, a static string, a handle, memory from malloc are refused, not undefined
/// behaviour). Sharded by address so threads handing out and freeing memory rarely meet on a lock.
static LIVE: LazyLock<[Mutex<HashMap<usize, usize>>; LIVE_SHARDS]> =
    LazyLock::new(|| std::array::from_fn(|_| Mutex::new(HashMap::new())));
const LIVE_SHARDS: usize = 16;
/// The alignment of memory handed out (what malloc gives on 64-bit targets).
const ALIGN: usize = 16;

fn live_shard(addr: usize) -> &'static Mutex<HashMap<usize, usize>> {
    // Allocations are ALIGN-aligned: the low bits say nothing; mix in a higher group too.
    &LIVE[((addr >> 4) ^ (addr >> 12)) % LIVE_SHARDS]
}

fn layout(len: usize) -> std::alloc::Layout {
    // len + 1 cannot overflow isize for a length that exists in memory.
    std::alloc::Layout::from_size_align(len + 1, ALIGN).expect("allocation size")
}

/// Copies `bytes` into memory the caller frees with `omnitron_free`, followed by a NUL byte (not
/// counted), so text is a C string.
pub(crate) fn give_bytes(bytes: &[u8]) -> *mut u8 {
    let layout = layout(bytes.len());
    // SAFETY: the layout has a non-zero size.
    let data = unsafe { std::alloc::alloc(layout) };
    if data.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `data` has len + 1 writable bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        data.add(bytes.len()).write(0);
    }
    live_shard(data as usize).lock().insert(data as usize, bytes.len());
    data
}

/// A string the caller frees with `omnitron_free`.
pub(crate) fn give_string(text: &str) -> Result<*mut c_char, Error> {
    if text.as_bytes().contains(&0) {
        return Err(Error::new(ErrorCode::Internal, "a string for C contains a NUL byte"));
    }
    Ok(give_bytes(text.as_bytes()).cast())
}

/// Frees memory made by [`give_bytes`]. NULL is ignored. Any pointer not live in [`LIVE`] (already
/// freed, or never handed out: a static string, a handle, memory from malloc) is refused and left
/// alone, without reading through it.
pub(crate) fn take_back(ptr: *mut c_void) -> Result<(), Error> {
    if ptr.is_null() {
        return Ok(());
    }
    let addr = ptr as usize;
    // Removed under the shard's lock: of two threads freeing the same pointer, one frees it.
    let Some(len) = live_shard(addr).lock().remove(&addr) else {
        return Err(Error::invalid_argument(
            "omnitron_free was given a pointer the library did not hand out, or one already freed: \
             it was left alone",
        ));
    };
    // SAFETY: made by give_bytes with this length, and no longer in LIVE, so freed once.
    unsafe { std::alloc::dealloc(ptr.cast(), layout(len)) };
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
    /// Handles removed so far: a [`HandleCache`] filled before the last removal is stale.
    removals: AtomicU64,
}

/// Handle numbers are unique across all tables, so one kind's handle is never valid as another's.
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(0x1000);

impl<T> Table<T> {
    pub(crate) const fn new(kind: &'static str) -> Self {
        Table { kind, items: LazyLock::new(|| RwLock::new(HashMap::new())), removals: AtomicU64::new(0) }
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
        let removed = self.items.write().remove(&(handle as usize));
        if removed.is_some() {
            // After the removal (see `with_cached`): a cache that reads this count finds no entry.
            self.removals.fetch_add(1, Ordering::Release);
        }
        removed
    }

    /// Runs `f` on the value behind a handle, looked up in this thread's `cache` first: for hot
    /// paths (recording on a series), where the table's lock and the count of its `Arc` would be
    /// shared writes on every call. A hit costs one atomic load: the cache is dropped whole after
    /// any removal from the table, so a freed handle is looked up again and refused as by
    /// [`Table::get`]. Dropping cached values must not call back into C (the cache is borrowed).
    pub(crate) fn with_cached<H, R>(
        &self,
        cache: &'static LocalKey<RefCell<HandleCache<T>>>,
        handle: *const H,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, Error> {
        let id = handle as usize;
        // Read before any lookup below: a handle removed after this read changes the count, so the
        // entry this call caches is dropped by the next call.
        let removals = self.removals.load(Ordering::Acquire);
        let mut f = Some(f);
        let cached = cache.try_with(|c| -> Option<Result<R, Error>> {
            // Busy only if `f` re-entered this function on the same thread: take the plain path.
            let mut c = c.try_borrow_mut().ok()?;
            if c.removals != removals {
                c.entries.clear();
                c.removals = removals;
            }
            let at = match c.entries.iter().position(|(i, _)| *i == id) {
                Some(at) => at,
                None => {
                    let value = match self.get(handle) {
                        Ok(v) => v,
                        Err(e) => return Some(Err(e)),
                    };
                    if c.entries.len() == HandleCache::<T>::CAPACITY {
                        c.entries.remove(0);
                    }
                    c.entries.push((id, value));
                    c.entries.len() - 1
                }
            };
            let f = f.take()?;
            Some(Ok(f(&c.entries[at].1)))
        });
        if let Ok(Some(r)) = cached {
            return r;
        }
        // No cache on this thread (it is being torn down) or the cache is busy: `f` did not run.
        let value = self.get(handle)?;
        let f =
            f.take().ok_or_else(|| Error::new(ErrorCode::Internal, "the handle cache ran `f` and failed"))?;
        Ok(f(&value))
    }
}

/// One thread's recently used handles of one [`Table`] (see [`Table::with_cached`]): a few entries,
/// each keeping its value alive until the cache is dropped (after a removal from the table, or when
/// the thread ends).
pub(crate) struct HandleCache<T> {
    removals: u64,
    entries: Vec<(usize, Arc<T>)>,
}

impl<T> HandleCache<T> {
    const CAPACITY: usize = 8;

    pub(crate) const fn new() -> Self {
        HandleCache { removals: 0, entries: Vec::new() }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{omnitron_last_error_message, omnitron_last_error_status};

    fn last_message() -> String {
        let m = omnitron_last_error_message();
        assert!(!m.is_null());
        // SAFETY: the library's own NUL-terminated message, valid until the next failure.
        unsafe { CStr::from_ptr(m) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_returns_the_declared_failure_of_each_return_type() {
        assert_eq!(guard(|| panic!("boom")), OmnitronStatus::Internal);
        assert_eq!(omnitron_last_error_status(), OmnitronStatus::Internal);
        assert!(last_message().contains("a bug in libomnitron): boom"));
        assert!(guard_value::<*const u8>(|| panic!("ptr")).is_null());
        assert!(guard_value::<*mut u8>(|| panic!("ptr")).is_null());
        assert!(!guard_value::<bool>(|| panic!("bool")));
        assert_eq!(guard_value::<usize>(|| panic!("size")), 0);
        assert_eq!(guard_value::<u32>(|| panic!("count")), 0);
        assert!(last_message().contains("count"));
        guard_void(|| panic!("void"));
        assert_eq!(omnitron_last_error_status(), OmnitronStatus::Internal);
        assert_eq!(guard_always::<u32>(|| panic!("always")), 0);
        assert!(last_message().contains("always"));
    }

    #[test]
    fn an_error_returns_the_failure_and_records_its_status() {
        assert!(guard_value::<*const u8>(|| Err(Error::new(ErrorCode::InvalidHandle, "gone"))).is_null());
        assert_eq!(omnitron_last_error_status(), OmnitronStatus::InvalidHandle);
        assert_eq!(guard(|| Err(Error::invalid_argument("no"))), OmnitronStatus::InvalidArgument);
        assert_eq!(guard_value(|| Ok(7usize)), 7);
        assert_eq!(guard(|| Ok(())), OmnitronStatus::Ok);
    }

    #[test]
    fn memory_is_taken_back_once_and_only_if_ours() {
        let p = give_bytes(b"abc").cast::<c_void>();
        // SAFETY: three bytes and the NUL just handed out.
        assert_eq!(unsafe { CStr::from_ptr(p.cast()) }.to_bytes(), b"abc");
        assert!(take_back(p).is_ok());
        assert_eq!(take_back(p).unwrap_err().code(), ErrorCode::InvalidArgument);
        let mut local = [0u8; 4];
        assert!(take_back(local.as_mut_ptr().cast()).is_err());
        assert!(take_back(std::ptr::null_mut()).is_ok());
        let empty = give_bytes(b"");
        assert!(take_back(empty.cast()).is_ok());
    }

    static NUMBERS: Table<u32> = Table::new("number");
    thread_local! {
        static CACHE: RefCell<HandleCache<u32>> = const { RefCell::new(HandleCache::new()) };
    }

    #[test]
    fn a_cached_handle_is_refused_once_removed() {
        let handles: Vec<*mut u8> =
            (0..HandleCache::<u32>::CAPACITY as u32 + 3).map(|i| NUMBERS.insert(i)).collect();
        for _ in 0..2 {
            for (i, h) in handles.iter().enumerate() {
                assert_eq!(NUMBERS.with_cached(&CACHE, *h, |v| *v).unwrap(), i as u32);
            }
        }
        NUMBERS.remove(handles[handles.len() - 1]);
        let e = NUMBERS.with_cached(&CACHE, handles[handles.len() - 1], |v| *v).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidHandle);
        assert_eq!(NUMBERS.with_cached(&CACHE, handles[0], |v| *v).unwrap(), 0);
        assert!(NUMBERS.with_cached(&CACHE, std::ptr::null::<u8>(), |v| *v).is_err());
        // Re-entered on the same thread (the cache is borrowed): the plain lookup answers.
        let nested =
            NUMBERS.with_cached(&CACHE, handles[0], |_| NUMBERS.with_cached(&CACHE, handles[1], |v| *v));
        assert_eq!(nested.unwrap().unwrap(), 1);
        // Removed from another thread: this thread's cache is dropped at its next call.
        let h = handles[2] as usize;
        std::thread::spawn(move || NUMBERS.remove(h as *const u8)).join().unwrap();
        assert!(NUMBERS.with_cached(&CACHE, handles[2], |v| *v).is_err());
    }
}
