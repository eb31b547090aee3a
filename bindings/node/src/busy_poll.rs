//! Node's side of `omnitron::rpc::BusyPoll`: before this thread's event loop waits for I/O, it
//! polls the loop's own descriptor for a short, adaptive while, so the answer to a call (or the
//! next request) that arrives a few microseconds later finds the loop awake; nothing has to wake
//! it (see the core module for why that matters).
//!
//! A libuv prepare handle (it runs just before the loop waits) polls, a check handle (it runs just
//! after) adapts the budget. Polling the loop's epoll descriptor, rather than one socket, stops for
//! any of the loop's I/O, and libuv's wait then takes the event as usual; the poll is capped by the
//! loop's own timeout (a timer due sooner) and skipped when the loop will not block. The handles
//! start with the first connection this loop reads, poll only while it reads one, and are
//! unreferenced (they do not keep the process alive).

use std::alloc::Layout;
use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::time::Duration;

use omnitron::rpc::BusyPoll;

// libuv, as exported by the node executable (see uv.h).
const UV_CHECK: c_int = 2;
const UV_PREPARE: c_int = 9;
type HandleCb = extern "C" fn(handle: *mut c_void);
unsafe extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_prepare_init(lp: *mut c_void, handle: *mut c_void) -> c_int;
    fn uv_prepare_start(handle: *mut c_void, cb: HandleCb) -> c_int;
    fn uv_check_init(lp: *mut c_void, handle: *mut c_void) -> c_int;
    fn uv_check_start(handle: *mut c_void, cb: HandleCb) -> c_int;
    fn uv_unref(handle: *mut c_void);
    fn uv_backend_fd(lp: *const c_void) -> c_int;
    fn uv_backend_timeout(lp: *const c_void) -> c_int;
    fn uv_update_time(lp: *mut c_void);
}

struct State {
    /// The loop the handles belong to (null before the first connection).
    lp: *mut c_void,
    poller: BusyPoll,
    /// The prepare and check handles (null before they start and once handed over to be closed).
    handles: [*mut c_void; 2],
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        lp: std::ptr::null_mut(),
        poller: BusyPoll::from_env(),
        handles: [std::ptr::null_mut(); 2],
    });
}

/// Both handle kinds in one layout, so one function frees either.
pub(crate) fn layout() -> Layout {
    // SAFETY: pure functions of their argument.
    let size = unsafe { uv_handle_size(UV_PREPARE).max(uv_handle_size(UV_CHECK)) };
    Layout::from_size_align(size, 16).expect("uv handle layout")
}

/// Starts the handles on `lp`, this thread's loop, once (later calls do nothing). If libuv refuses
/// one, this loop does not poll.
///
/// # Safety
/// `lp` is this thread's live loop.
pub(crate) unsafe fn start(lp: *mut c_void) {
    STATE.with_borrow_mut(|s| {
        if !s.lp.is_null() {
            return;
        }
        s.lp = lp;
        for (i, h) in s.handles.iter_mut().enumerate() {
            // SAFETY: a non-zero-sized layout.
            let handle = unsafe { std::alloc::alloc_zeroed(layout()) }.cast::<c_void>();
            if handle.is_null() {
                return;
            }
            // SAFETY: zeroed memory of the size libuv asked for, on the loop's thread.
            let init =
                unsafe { if i == 0 { uv_prepare_init(lp, handle) } else { uv_check_init(lp, handle) } };
            if init != 0 {
                // SAFETY: allocated above with this layout; libuv did not take it.
                unsafe { std::alloc::dealloc(handle.cast(), layout()) };
                return;
            }
            // Initialised, the handle is the loop's: from here it is only freed through uv_close
            // (at teardown), started or not.
            // SAFETY: an initialised handle of this thread's loop.
            unsafe { uv_unref(handle) };
            *h = handle;
            // SAFETY: as above; start fails only for a null callback.
            let started = unsafe {
                if i == 0 {
                    uv_prepare_start(handle, before_wait)
                } else {
                    uv_check_start(handle, after_wait)
                }
            };
            if started != 0 {
                return;
            }
        }
    });
}

/// The environment is going away: the handles to close (each freed with [`layout`]).
pub(crate) fn take_handles() -> Vec<*mut c_void> {
    STATE.with_borrow_mut(|s| s.handles.iter_mut().map(std::mem::take).filter(|h| !h.is_null()).collect())
}

/// Sets the most this thread's event loop polls before each wait, in microseconds (0: never;
/// at most 1,000,000), when given; returns the setting. The first value comes from the
/// `OMNITRON_BUSY_POLL_US` environment variable (default 100).
#[napi_derive::napi]
pub fn busy_poll(max_micros: Option<u32>) -> u32 {
    STATE.with_borrow_mut(|s| {
        if let Some(us) = max_micros {
            s.poller.set_max(Duration::from_micros(u64::from(us))); // capped at BusyPoll::MAX_LIMIT
        }
        u32::try_from(s.poller.max().as_micros()).unwrap_or(u32::MAX)
    })
}

extern "C" fn before_wait(_handle: *mut c_void) {
    if !crate::host_loop::reading() {
        return;
    }
    STATE.with_borrow_mut(|s| {
        if s.handles[1].is_null() {
            return; // No check handle to adapt the budget after the wait.
        }
        // SAFETY: the live loop this handle belongs to, on its thread.
        let (fd, timeout) = unsafe { (uv_backend_fd(s.lp), uv_backend_timeout(s.lp)) };
        let limit = u64::try_from(timeout).ok().map(Duration::from_millis);
        let budget = s.poller.plan(limit);
        if !budget.is_zero() {
            BusyPoll::poll_for(fd, budget);
            // libuv works its wait out from the loop's time after this callback: brought up to
            // date, the time spent polling comes off the wait (a timer is not made later).
            // SAFETY: as above.
            unsafe { uv_update_time(s.lp) };
        }
    });
}

/// The loop's wait returned: called by the first callback it runs (a connection's read), so the
/// JavaScript that read runs is not counted as waiting; the check handle calls it otherwise.
pub(crate) fn woke() {
    STATE.with_borrow_mut(|s| s.poller.after_wait());
}

/// The budget this thread's loop polls for before its next wait, in microseconds (for tests: it
/// grows in a fast exchange and falls to 0 when messages stop).
#[napi_derive::napi]
pub fn busy_poll_budget() -> u32 {
    STATE.with_borrow(|s| u32::try_from(s.poller.budget().as_micros()).unwrap_or(u32::MAX))
}

extern "C" fn after_wait(_handle: *mut c_void) {
    woke();
}
