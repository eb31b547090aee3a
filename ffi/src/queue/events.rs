//! Queue events through the C ABI: a listener whose callback gets each event of a queue as JSON,
//! from the workers of every process sharing the store (`docs/QUEUES.md`, "Events").
//!
//! Threads: callbacks run one at a time, in the order the events came, on the engine's blocking
//! pool. Once omnitron_queue_listener_free returns, no callback runs and none will.

use std::cell::Cell;
use std::ffi::{CString, c_char, c_void};

use omnitron::queue::door;
use omnitron::runtime;
use parking_lot::Mutex;
use tokio::sync::{broadcast, watch};

use super::{OmnitronQueue, QUEUES};
use crate::boundary::{OmnitronFreeFn, Table, UserData, check_out, guard_out, guard_void};
use crate::error::OmnitronStatus;
use crate::rpc::msgpack_to_json;

/// A listener to one queue's events. Free it with omnitron_queue_listener_free.
#[derive(Debug)]
pub struct OmnitronQueueListener {
    _private: [u8; 0],
}

/// Gets one event as JSON text, valid for the call only: `{"event": "completed", "id": "order-7",
/// "name": "charge", "attempt": 1, "result": ..., "error": null, "dead": false, "requeued":
/// false, "progress": null}`. `event` is `completed` (with `result`), `failed` (with `error`,
/// and `dead` when it was the last attempt), `stalled` (`requeued` false: sent to the dead-letter
/// queue), `progress` (with `progress`) or `drained`. Runs on an engine thread, one call at a time
/// per listener.
pub type OmnitronQueueEventFn =
    Option<unsafe extern "C" fn(event_json: *const c_char, user_data: *mut c_void)>;

struct CListener {
    /// Its number, for a callback that frees its own listener.
    id: usize,
    /// Told to stop; the task answers by ending.
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

thread_local! {
    /// The listener whose callback this thread runs (its number), 0 for none.
    static IN_LISTENER: Cell<usize> = const { Cell::new(0) };
}

static LISTENERS: Table<CListener> = Table::new("queue listener");

/// Calls `callback` with each event of `queue`, from the workers of every process sharing its
/// store, until the listener is freed. Returns once events of other processes are heard too
/// (OMNITRON_STATUS_QUEUE_STORE_FAILED if the store cannot carry them within a few seconds).
/// Events are at most once: a listener hears what happens after this call, and one whose callback
/// falls thousands of events behind loses the oldest. `free_user_data(user_data)` (NULL: nothing)
/// runs once the listener is freed and its last callback has returned, or before this function
/// returns if it fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_on_event(
    queue: *mut OmnitronQueue,
    callback: OmnitronQueueEventFn,
    user_data: *mut c_void,
    free_user_data: OmnitronFreeFn,
    out: *mut *mut OmnitronQueueListener,
) -> OmnitronStatus {
    guard_out(out, || {
        let ud = UserData::new(user_data, free_user_data);
        check_out(out, "out")?;
        let q = QUEUES.get(queue)?;
        let callback = callback.ok_or_else(|| omnitron::Error::invalid_argument("callback is NULL"))?;
        let mut events = q.events();
        runtime::block_on(q.listening())?;
        let (stop, mut stopped) = watch::channel(false);
        let me = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let task = runtime::handle().spawn(async move {
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    _ = stopped.wait_for(|s| *s) => return,
                };
                let json = match event {
                    Ok(e) => msgpack_to_json(&door::event_envelope(&e)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Ok(text) = json.map(|j| CString::new(j).unwrap_or_default()) else { continue };
                let ud = ud.clone();
                let call = move || {
                    let before = IN_LISTENER.with(|c| c.replace(me));
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        // SAFETY: the callback's contract (header); `text` lives for the call.
                        unsafe { callback(text.as_ptr(), ud.get()) }
                    }));
                    IN_LISTENER.with(|c| c.set(before));
                };
                if tokio::task::spawn_blocking(call).await.is_err() {
                    return;
                }
            }
        });
        LISTENERS.insert_out(out, CListener { id: me, stop, task: Mutex::new(Some(task)) })
    })
}

/// Stops the listener and frees it: returns once its callback is not running (called from inside
/// its own callback, it does not wait for that call). NULL and freed handles are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_queue_listener_free(listener: *mut OmnitronQueueListener) {
    guard_void(|| {
        if let Some(l) = LISTENERS.remove(listener) {
            l.stop.send_replace(true);
            let task = l.task.lock().take();
            let inside = IN_LISTENER.with(Cell::get) == l.id;
            if let Some(task) = task
                && !inside
            {
                let _ = runtime::block_on(task);
            }
        }
        Ok(())
    })
}
