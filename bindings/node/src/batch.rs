//! Handing queued items to JavaScript in one call, written into a buffer JavaScript owns and
//! reuses (`lib/batch.ts` reads it). Creating typed arrays over engine memory costs about 3 us each
//! on the development machine (an external buffer and its finalizer), more than the rest of a
//! call; writing into a buffer JavaScript already has costs nothing of the kind.
//!
//! Item layout, little-endian: kind u8, string count u8, id u32, aux u32, byte count u32, the bytes,
//! then each string as a u32 length and UTF-8.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use napi::bindgen_prelude::FunctionRef;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, JsValue};
use parking_lot::Mutex;

/// `()`: items are waiting; take them with `drain(buffer)`.
pub(crate) type WakeFn = napi::threadsafe_function::ThreadsafeFunction<(), (), (), napi::Status, false, true>;

const HEADER: usize = 14;

/// One item's parts, as written.
pub(crate) struct Parts<'a> {
    pub(crate) kind: u8,
    pub(crate) id: u32,
    pub(crate) aux: u32,
    pub(crate) bytes: &'a [u8],
    pub(crate) strings: [Option<&'a str>; 2],
}

impl Parts<'_> {
    fn size(&self) -> usize {
        HEADER + self.bytes.len() + self.strings.iter().flatten().map(|s| 4 + s.len()).sum::<usize>()
    }

    fn write(&self, out: &mut [u8]) {
        let n = self.strings.iter().flatten().count() as u8;
        out[0] = self.kind;
        out[1] = n;
        out[2..6].copy_from_slice(&self.id.to_le_bytes());
        out[6..10].copy_from_slice(&self.aux.to_le_bytes());
        out[10..14].copy_from_slice(&(self.bytes.len() as u32).to_le_bytes());
        let mut at = HEADER;
        out[at..at + self.bytes.len()].copy_from_slice(self.bytes);
        at += self.bytes.len();
        for s in self.strings.iter().flatten() {
            out[at..at + 4].copy_from_slice(&(s.len() as u32).to_le_bytes());
            out[at + 4..at + 4 + s.len()].copy_from_slice(s.as_bytes());
            at += 4 + s.len();
        }
    }
}

/// Calls JavaScript's drain function at once: from the loop thread that owns it, right after a
/// host-loop read queued items (`host_loop`), instead of through the thread-safe function, which
/// would take another turn of the loop (an `eventfd` write and poll) to get there.
pub(crate) struct Direct {
    env: napi::sys::napi_env,
    func: FunctionRef<(), ()>,
    thread: std::thread::ThreadId,
}

// SAFETY: `env` is only used on `thread` (checked before every use); `FunctionRef` is Send + Sync
// and releases itself on its own thread.
unsafe impl Send for Direct {}
// SAFETY: as for Send: nothing is reached through a shared `Direct` off its thread.
unsafe impl Sync for Direct {}

impl Direct {
    /// `func` called directly on this thread (the one `env` belongs to).
    pub(crate) fn new(env: &Env, func: FunctionRef<(), ()>) -> Direct {
        Direct { env: env.raw(), func, thread: std::thread::current().id() }
    }

    fn here(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    /// Calls the function in a callback scope (so the promises it settles run their continuations
    /// before this returns). False if it could not be called (the caller falls back to the
    /// thread-safe function).
    fn call(&self) -> bool {
        use napi::sys;
        if !self.here() {
            return false;
        }
        let env = self.env;
        // SAFETY: on the env's own thread (checked above), outside any JavaScript frame (a libuv
        // callback), with a handle scope opened and closed around the handles made here.
        unsafe {
            let mut scope = std::ptr::null_mut();
            if sys::napi_open_handle_scope(env, &mut scope) != sys::Status::napi_ok {
                return false;
            }
            let e = Env::from_raw(env);
            let called = match self.func.borrow_back(&e) {
                Ok(f) => {
                    let mut recv = std::ptr::null_mut();
                    let mut result = std::ptr::null_mut();
                    sys::napi_get_global(env, &mut recv);
                    let status = sys::napi_make_callback(
                        env,
                        std::ptr::null_mut(),
                        recv,
                        f.raw(),
                        0,
                        std::ptr::null(),
                        &mut result,
                    );
                    if status == sys::Status::napi_pending_exception {
                        // Thrown by the drain itself: uncaught, as from any callback.
                        let mut err = std::ptr::null_mut();
                        sys::napi_get_and_clear_last_exception(env, &mut err);
                        sys::napi_fatal_exception(env, err);
                    }
                    status == sys::Status::napi_ok || status == sys::Status::napi_pending_exception
                }
                Err(_) => false,
            };
            sys::napi_close_handle_scope(env, scope);
            called
        }
    }
}

thread_local! {
    /// Set while a host-loop read runs on this thread (`while_reading`).
    static READING: Cell<bool> = const { Cell::new(false) };
    /// Queues that got items during that read, to drain directly once it is done.
    static DEFERRED: RefCell<Vec<Arc<dyn Deliver>>> = const { RefCell::new(Vec::new()) };
}

trait Deliver {
    fn deliver(&self);
}

/// A host-loop read starts on this thread: queues it fills are drained by [`end_read`].
pub(crate) fn begin_read() {
    READING.set(true);
}

/// The read is done: drain what it queued by calling JavaScript directly.
pub(crate) fn end_read() {
    READING.set(false);
    for q in DEFERRED.take() {
        q.deliver();
    }
}

/// Items waiting for JavaScript, and the one wake-up pending for them.
pub(crate) struct Queue<T> {
    items: Mutex<Vec<T>>,
    scheduled: AtomicBool,
    wake: WakeFn,
    direct: Option<Direct>,
}

impl<T: Send + 'static> Deliver for Queue<T> {
    fn deliver(&self) {
        if !self.direct.as_ref().is_some_and(Direct::call) {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

impl<T: Send + 'static> Queue<T> {
    pub(crate) fn new(wake: WakeFn, direct: Option<Direct>) -> Arc<Queue<T>> {
        Arc::new(Queue { items: Mutex::new(Vec::new()), scheduled: AtomicBool::new(false), wake, direct })
    }

    /// Queues an item; the first one after a drain wakes JavaScript.
    pub(crate) fn push(self: &Arc<Self>, item: T) {
        self.items.lock().push(item);
        self.schedule();
    }

    fn schedule(self: &Arc<Self>) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        if READING.get() && self.direct.as_ref().is_some_and(Direct::here) {
            DEFERRED.with_borrow_mut(|d| d.push(self.clone()));
        } else {
            self.wake.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// Writes as many queued items as fit into `out`; returns the bytes written, or, when the first
    /// item alone does not fit, minus the size it needs (nothing is taken then). Items that did not
    /// fit stay queued, with another wake-up scheduled for them.
    pub(crate) fn drain_into(self: &Arc<Self>, out: &mut [u8], parts: impl Fn(&T) -> Parts<'_>) -> i64 {
        // Cleared first: whatever is pushed from now on schedules another wake-up.
        self.scheduled.store(false, Ordering::Release);
        let items = std::mem::take(&mut *self.items.lock());
        let mut at = 0;
        let mut taken = 0;
        for item in &items {
            let p = parts(item);
            let size = p.size();
            if at + size > out.len() {
                break;
            }
            p.write(&mut out[at..at + size]);
            at += size;
            taken += 1;
        }
        if taken == items.len() {
            return at as i64;
        }
        let need = if taken == 0 { Some(parts(&items[0]).size()) } else { None };
        let mut rest: Vec<T> = items.into_iter().skip(taken).collect();
        {
            let mut q = self.items.lock();
            rest.append(&mut q);
            *q = rest;
        }
        match need {
            // JavaScript grows its buffer and asks again at once.
            Some(n) => -(n as i64),
            None => {
                self.schedule();
                at as i64
            }
        }
    }
}
