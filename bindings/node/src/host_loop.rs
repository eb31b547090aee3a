//! Connections read on Node's own event loop: each connection's socket is watched by a libuv poll
//! handle on the thread that made the peer, and read there (`omnitron::rpc::HostReader`), so a
//! message reaches JavaScript after one wake-up (the loop's), not two (an engine thread's, then the
//! loop's through a thread-safe function).
//!
//! The engine hands each new connection's reader over on an engine thread: it waits in the peer's
//! `pending` list, and a thread-safe function asks the loop's thread to adopt it
//! ([`HostLoopState::adopt_pending`]), which starts the poll handle. The handles are unreferenced:
//! like the peer's thread-safe functions, they do not keep the process alive.

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void};
use std::sync::Arc;

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use omnitron::rpc::{HostLoop, HostReader};
use parking_lot::Mutex;

/// `(0)`: connections are waiting to be adopted by this loop (answer with `hostAdopt()`).
pub(crate) type AdoptFn = ThreadsafeFunction<u32, (), u32, napi::Status, false, true>;

// libuv, as exported by the node executable (see uv.h). Only what a poll handle needs. napi-rs has
// no libuv bindings and Node-API no poll handle, so these are declared by hand: libuv 1.x keeps its
// ABI, and `libuv_matches` checks at run time that this is libuv 1 and that UV_POLL still means
// "poll" (the one constant whose meaning libuv can be asked); if not, connections are read by the
// engine's threads instead (slower, correct), and the test `host-internals.test.ts` fails loudly.
const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;
const UV_DISCONNECT: c_int = 4;
type PollCb = extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCb = extern "C" fn(handle: *mut c_void);
unsafe extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_handle_type_name(kind: c_int) -> *const std::ffi::c_char;
    fn uv_version() -> std::ffi::c_uint;
    fn uv_poll_init(lp: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int;
    fn uv_poll_stop(handle: *mut c_void) -> c_int;
    fn uv_close(handle: *mut c_void, cb: CloseCb);
    fn uv_unref(handle: *mut c_void);
    // Node-API 8: a hook that runs when the environment (a worker thread, the process) is torn
    // down and may finish asynchronously (closing libuv handles), before the loop is closed.
    fn napi_add_async_cleanup_hook(
        env: napi::sys::napi_env,
        hook: Option<unsafe extern "C" fn(handle: *mut c_void, arg: *mut c_void)>,
        arg: *mut c_void,
        remove_handle: *mut *mut c_void,
    ) -> c_int;
    fn napi_remove_async_cleanup_hook(remove_handle: *mut c_void) -> c_int;
}

thread_local! {
    /// Poll handles watching connections on this thread's loop.
    static OPEN: RefCell<Vec<*mut c_void>> = const { RefCell::new(Vec::new()) };
    /// Handles closed but whose close callback has not run yet.
    static CLOSING: Cell<usize> = const { Cell::new(0) };
    /// This thread's environment has the cleanup hook.
    static HOOKED: Cell<bool> = const { Cell::new(false) };
    /// While the environment is torn down: the hook to tell once every handle is closed.
    static TEARDOWN: Cell<*mut c_void> = const { Cell::new(std::ptr::null_mut()) };
}

/// The environment is going away (a worker thread ends or is terminated, the process exits): every
/// poll handle is closed first, or Node would find them open when it closes the loop (and abort).
unsafe extern "C" fn on_teardown(handle: *mut c_void, _arg: *mut c_void) {
    TEARDOWN.set(handle);
    for h in OPEN.take() {
        // SAFETY: an open poll handle of this thread's loop, closed once (it left OPEN).
        unsafe { close(h) };
    }
    for h in crate::busy_poll::take_handles() {
        CLOSING.set(CLOSING.get() + 1);
        // SAFETY: a live handle of this thread's loop, handed over once.
        unsafe { uv_close(h, on_busy_poll_close) };
    }
    teardown_done_if_idle();
}

fn teardown_done_if_idle() {
    let hook = TEARDOWN.get();
    if !hook.is_null() && CLOSING.get() == 0 && OPEN.with_borrow(Vec::is_empty) {
        TEARDOWN.set(std::ptr::null_mut());
        // SAFETY: the handle Node gave the hook, removed once.
        unsafe { napi_remove_async_cleanup_hook(hook) };
    }
}

extern "C" fn on_busy_poll_close(handle: *mut c_void) {
    // SAFETY: libuv is done with the handle, allocated by `busy_poll::start` with this layout.
    unsafe { std::alloc::dealloc(handle.cast(), crate::busy_poll::layout()) };
    CLOSING.set(CLOSING.get() - 1);
    teardown_done_if_idle();
}

/// Whether this thread's loop reads any connection.
pub(crate) fn reading() -> bool {
    OPEN.with_borrow(|o| !o.is_empty())
}

/// Stops and closes a poll handle (its reader is dropped in `on_close`).
unsafe fn close(handle: *mut c_void) {
    CLOSING.set(CLOSING.get() + 1);
    // SAFETY: the caller passes a live poll handle of this thread's loop, not closed before.
    unsafe {
        uv_poll_stop(handle);
        uv_close(handle, on_close);
    }
}

/// The libuv this process runs: "libuv 1.x.y, UV_POLL is 'poll'", or why it is not the one the
/// declarations above were written for.
pub(crate) fn libuv_check() -> Result<String, String> {
    // SAFETY: pure functions of libuv, callable from any thread; the name is a static string.
    let (version, name) = unsafe { (uv_version(), uv_handle_type_name(UV_POLL)) };
    let (major, minor, patch) = (version >> 16, (version >> 8) & 0xff, version & 0xff);
    let name = if name.is_null() {
        String::new()
    } else {
        // SAFETY: non-null, NUL-terminated and static (uv.h).
        unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned()
    };
    let what = format!("libuv {major}.{minor}.{patch}, UV_POLL ({UV_POLL}) is '{name}'");
    if major == 1 && name == "poll" { Ok(what) } else { Err(what) }
}

/// Whether connections may be read on Node's loop (checked once per process).
pub(crate) fn libuv_matches() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| match libuv_check() {
        Ok(_) => true,
        Err(what) => {
            tracing::warn!(
                "{what}: not the libuv Omnitron was built for; connections are read by engine threads"
            );
            false
        }
    })
}

/// The libuv check, for the test that fails loudly when Node's libuv changes under the addon.
#[napi_derive::napi]
pub fn host_loop_check() -> napi::Result<String, String> {
    libuv_check().map_err(|e| napi::Error::new(String::from("E003"), e))
}

/// A peer's readers waiting for its loop.
#[derive(Default)]
pub(crate) struct HostLoopState {
    pending: Mutex<Vec<HostReader>>,
}

impl HostLoopState {
    /// The engine side: queue the reader, and ask the loop to adopt it.
    pub(crate) fn host_loop(self: &Arc<Self>, adopt: Arc<AdoptFn>) -> HostLoop {
        let state = self.clone();
        HostLoop(Arc::new(move |r| {
            state.pending.lock().push(r);
            adopt.call(0, ThreadsafeFunctionCallMode::NonBlocking);
        }))
    }

    /// The loop side (its own thread): start watching every waiting connection.
    pub(crate) fn adopt_pending(&self, env: &napi::Env) -> napi::Result<()> {
        let lp = env.get_uv_event_loop()?.cast::<c_void>();
        let readers: Vec<HostReader> = std::mem::take(&mut *self.pending.lock());
        if !TEARDOWN.get().is_null() {
            return Ok(()); // Going away: the readers are dropped (their connections close).
        }
        if !readers.is_empty() && !HOOKED.get() {
            // SAFETY: `env` is this thread's live environment; the hook runs on this thread.
            let status = unsafe {
                napi_add_async_cleanup_hook(
                    env.raw(),
                    Some(on_teardown),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            HOOKED.set(status == 0);
        }
        if !readers.is_empty() && HOOKED.get() {
            // Only with the teardown hook, which closes its handles.
            // SAFETY: `lp` is this thread's live loop.
            unsafe { crate::busy_poll::start(lp) };
        }
        for r in readers {
            // SAFETY: `lp` is this thread's live loop; `watch` is called on that thread.
            unsafe { watch(lp, r) };
        }
        Ok(())
    }
}

// The handle's memory: `uv_handle_size(UV_POLL)` bytes, its first field the `data` pointer (uv.h),
// which holds the boxed reader.
fn layout() -> Layout {
    // SAFETY: a pure function of its argument.
    let size = unsafe { uv_handle_size(UV_POLL) };
    Layout::from_size_align(size.max(std::mem::size_of::<*mut c_void>()), 16).expect("uv_poll_t layout")
}

/// Starts a poll handle reading `reader`'s socket on `lp`. On failure the reader is dropped, which
/// closes the connection (its calls fail with "peer disconnected", never hang).
unsafe fn watch(lp: *mut c_void, reader: HostReader) {
    let fd = reader.fd();
    let layout = layout();
    // SAFETY: a non-zero-sized layout.
    let handle = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<c_void>();
    if handle.is_null() {
        return;
    }
    // SAFETY: `handle` is zeroed memory of the size libuv asked for; `lp` is the live loop.
    if unsafe { uv_poll_init(lp, handle, fd) } != 0 {
        // SAFETY: allocated above with this layout, never handed to libuv.
        unsafe { std::alloc::dealloc(handle.cast(), layout) };
        tracing::warn!("cannot watch connection fd {fd} on the event loop");
        return;
    }
    let boxed = Box::into_raw(Box::new(reader));
    // SAFETY: `data` is the handle's first field; libuv leaves it to the user.
    unsafe { *handle.cast::<*mut HostReader>() = boxed };
    // SAFETY: an initialised poll handle on this thread.
    unsafe {
        if uv_poll_start(handle, UV_READABLE | UV_DISCONNECT, on_poll) != 0 {
            close(handle);
            return;
        }
        uv_unref(handle);
    }
    OPEN.with_borrow_mut(|o| o.push(handle));
}

extern "C" fn on_poll(handle: *mut c_void, status: c_int, _events: c_int) {
    // SAFETY: `data` holds the boxed reader until `on_close` frees it, and libuv calls back on the
    // loop's thread only.
    let reader = unsafe { &mut **handle.cast::<*mut HostReader>() };
    // What the read queued for JavaScript is drained right after it, on this thread, before the
    // requests it started are looked at again (those answered by then need no engine task).
    crate::busy_poll::woke();
    let open = status >= 0 && {
        crate::batch::begin_read();
        reader.on_readable_with(crate::batch::end_read)
    };
    if !open {
        OPEN.with_borrow_mut(|o| o.retain(|h| *h != handle));
        // SAFETY: the live handle this callback is for; closed once (it left OPEN, and a stopped
        // handle is not polled again).
        unsafe { close(handle) };
    }
}

extern "C" fn on_close(handle: *mut c_void) {
    // SAFETY: libuv is done with the handle; the reader was boxed in `watch` and is freed here only
    // (dropping it after the handle stopped watching its descriptor, as `HostReader` requires). A
    // handle whose start failed has no reader yet (null).
    unsafe {
        let reader = *handle.cast::<*mut HostReader>();
        if !reader.is_null() {
            drop(Box::from_raw(reader));
        }
        std::alloc::dealloc(handle.cast(), layout());
    }
    CLOSING.set(CLOSING.get() - 1);
    teardown_done_if_idle();
}

/// The process-wide loop (the main thread's) that reads the connections of pools started from
/// JavaScript; set once by `hostLoopInit`.
static PROCESS_LOOP: std::sync::OnceLock<(Arc<HostLoopState>, Arc<AdoptFn>)> = std::sync::OnceLock::new();

/// Makes this thread's event loop (call it from the main thread) the one that reads the
/// connections of process pools started from JavaScript. `adopt` must call `hostLoopAdopt()`.
#[napi_derive::napi]
pub fn host_loop_init(#[napi(ts_arg_type = "(n: number) => void")] adopt: AdoptFn) {
    PROCESS_LOOP.get_or_init(|| (Arc::new(HostLoopState::default()), Arc::new(adopt)));
}

/// Starts reading, on this thread's loop, the pool connections waiting for it.
#[napi_derive::napi]
pub fn host_loop_adopt(env: napi::Env) -> napi::Result<()> {
    match PROCESS_LOOP.get() {
        Some((state, _)) => state.adopt_pending(&env),
        None => Ok(()),
    }
}

/// The process-wide loop, once `hostLoopInit` was called.
pub(crate) fn process_loop() -> Option<HostLoop> {
    if !libuv_matches() {
        return None;
    }
    PROCESS_LOOP.get().map(|(state, adopt)| state.host_loop(adopt.clone()))
}
