//! One connection's call bookkeeping: the calls this side made (waiting for answers), the calls it is
//! serving (with their cancellation and stream credit), and the event patterns the other side asked
//! for. The read loop that feeds it lives in `lifecycle.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::answer::AnswerSink;
use super::codec::{Message, PeerInfo, Request, WireError, wire};
use super::deferred_call::{DeferredCall, Ended};
use super::pattern::Pattern;
use crate::error::ErrorCode;
use crate::transport::Outbox;

/// Items a streaming call grants up front; the caller tops it up as it consumes.
pub(crate) const STREAM_WINDOW: u32 = 16;

/// How often a connection's sweeper looks for calls past their deadline.
const SWEEP_PERIOD: Duration = Duration::from_millis(10);

pub(crate) enum StreamEvent {
    Item(Bytes),
    End,
    Error(WireError),
}

/// Work a frame leaves to finish asynchronously (delivering or forwarding an event).
pub(crate) type Leftover = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What to do with an answer.
pub(crate) type Callback = Box<dyn FnOnce(Result<Bytes, WireError>) + Send>;

enum Pending {
    /// A call awaited by a task; `None` tells it that its deadline passed (the sweeper's doing).
    Unary(oneshot::Sender<Option<Result<Bytes, WireError>>>, Due),
    Stream(mpsc::UnboundedSender<StreamEvent>),
    /// A call made from a binding's thread: the read loop hands the answer straight to the
    /// callback (no task to wake); the sweeper fails it at its deadline.
    Callback(Callback, Due),
}

/// When a call times out. The clock is not read when the call is made: the sweeper stamps the
/// call the first time it sees it, `after` from then. A call therefore times out between its
/// deadline and two sweep periods after it, never before.
#[derive(Clone, Copy)]
pub(crate) struct Due {
    after: Duration,
    at: Option<tokio::time::Instant>,
}

impl Due {
    fn after(d: Duration) -> Due {
        Due { after: d, at: None }
    }

    /// Stamps it if new; whether it has passed by `now`.
    fn passed(&mut self, now: tokio::time::Instant) -> bool {
        *self.at.get_or_insert(now + self.after) <= now
    }
}

pub(crate) struct Serving {
    pub(crate) cancel: CancellationToken,
    pub(crate) credit: Option<Arc<Semaphore>>,
}

/// A request being served: by a task (or future) that a token cancels, or by a deferred handler.
enum ServingEntry {
    Task(Serving),
    Deferred(DeferredCall),
}

/// Takes request `id`'s entry out if a task serves it: a deferred call that reused the id is
/// not the task's to remove.
fn remove_task(serving: &mut HashMap<u64, ServingEntry>, id: u64) {
    if matches!(serving.get(&id), Some(ServingEntry::Task(_))) {
        serving.remove(&id);
    }
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// This side's own call ids (not chosen by the other side) by one multiply: the map is touched
/// twice per call.
type IdMap<V> = crate::int_hash::IntMap<u64, V>;

/// One connection, either direction.
pub(crate) struct Conn {
    pub(crate) id: u64,
    pub(crate) peer: Arc<PeerInfo>,
    pub(crate) outbox: Arc<Outbox>,
    next_id: AtomicU64,
    pending: Mutex<IdMap<Pending>>,
    serving: Mutex<HashMap<u64, ServingEntry>>,
    pub(crate) closed: CancellationToken,
    /// `closed`, readable without a lock (checked on every call).
    closed_flag: std::sync::atomic::AtomicBool,
    pub(crate) subs: Mutex<Vec<(u64, Pattern)>>,
    sweeping: std::sync::atomic::AtomicBool,
    pings: Mutex<HashMap<u64, oneshot::Sender<()>>>,
    /// The descriptor a host event loop reads this connection from, while it does
    /// (`HostReader`): closing the connection shuts its reading down to wake that loop.
    pub(crate) host_fd: Mutex<Option<std::os::fd::RawFd>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("id", &self.id).field("peer", &self.peer).finish()
    }
}

impl Conn {
    pub(crate) fn new(peer: PeerInfo, outbox: Arc<Outbox>) -> Arc<Conn> {
        Arc::new(Conn {
            id: NEXT_CONN.fetch_add(1, Ordering::Relaxed),
            peer: Arc::new(peer),
            outbox,
            next_id: AtomicU64::new(1),
            pending: Mutex::new(IdMap::default()),
            serving: Mutex::new(HashMap::new()),
            closed: CancellationToken::new(),
            closed_flag: std::sync::atomic::AtomicBool::new(false),
            subs: Mutex::new(Vec::new()),
            sweeping: std::sync::atomic::AtomicBool::new(false),
            pings: Mutex::new(HashMap::new()),
            host_fd: Mutex::new(None),
        })
    }

    fn disconnected(&self) -> WireError {
        wire(
            ErrorCode::PeerDisconnected,
            format!("peer '{}' (pid {}) disconnected with the call in flight", self.peer.name, self.peer.pid),
        )
    }

    /// Makes a call and waits for its answer, at most `deadline`. Dropping the future (or the
    /// deadline passing) sends CANCEL. The deadline is kept by the connection's sweeper (no timer
    /// per call), so it is honoured to within its 10 ms period.
    pub(crate) async fn call(
        self: &Arc<Self>,
        target: &str,
        method: &str,
        args: Bytes,
        deadline: Duration,
        trace: Option<Bytes>,
    ) -> Result<Bytes, WireError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, Pending::Unary(tx, Due::after(deadline)));
        let mut guard = CancelOnDrop { conn: self, id, armed: true };
        if self.is_closed() {
            guard.armed = false;
            self.pending.lock().remove(&id);
            return Err(self.disconnected());
        }
        if !self.sweeping.load(Ordering::Acquire) {
            // The caller's runtime, or the engine's for a caller polled outside any.
            let rt = tokio::runtime::Handle::try_current().unwrap_or_else(|_| crate::runtime::handle());
            self.start_sweeper(&rt);
        }
        let deadline_ms = deadline.as_millis().min(u128::from(u32::MAX)) as u32;
        let encode = |out: &mut Vec<u8>| {
            Request::encode_frame(out, id, target, method, &args, deadline_ms, trace.as_ref(), false)
        };
        // Queued at once unless the outbox is full; only then a (boxed: this future stays small,
        // and it is moved on every call) wait for room.
        let mut encode = Some(encode);
        let queued = self.outbox.try_send_with(|out| (encode.take().expect("called once"))(out));
        match queued {
            Ok(true) => {}
            Ok(false) => {
                let encode = encode.take().expect("not called when full");
                Box::pin(self.outbox.send_with(encode)).await.map_err(|_| self.disconnected())?;
            }
            Err(_) => return Err(self.disconnected()),
        }
        let answer = rx.await;
        guard.armed = false;
        match answer {
            Ok(Some(r)) => r,
            Ok(None) => Err(wire(
                ErrorCode::Timeout,
                format!("the call to {target} {method}() got no answer within {} ms", deadline.as_millis()),
            )),
            Err(_) => Err(self.disconnected()),
        }
    }

    /// Starts a streaming call.
    pub(crate) async fn call_stream(
        self: &Arc<Self>,
        target: &str,
        method: &str,
        args: Bytes,
        deadline: Option<Duration>,
        trace: Option<Bytes>,
    ) -> Result<RemoteStream, WireError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.pending.lock().insert(id, Pending::Stream(tx));
        if self.is_closed() {
            self.pending.lock().remove(&id);
            return Err(self.disconnected());
        }
        let stream = RemoteStream { conn: self.clone(), id, rx, consumed: 0, done: false };
        let req = Message::Request(Request {
            id,
            target: target.to_string(),
            method: method.to_string(),
            args,
            deadline_ms: deadline.map_or(0, |d| d.as_millis().min(u128::from(u32::MAX)) as u32),
            trace,
            stream: true,
        });
        self.outbox.send(&req).await.map_err(|_| self.disconnected())?;
        Ok(stream)
    }

    /// Sends PING; the receiver completes when its PONG arrives (and fails if the connection goes).
    pub(crate) fn ping(&self) -> crate::error::Result<oneshot::Receiver<()>> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pings.lock().insert(n, tx);
        if let Err(e) = self.outbox.send_now(&Message::Ping(n)) {
            self.pings.lock().remove(&n);
            return Err(e);
        }
        self.outbox.flush_now();
        Ok(rx)
    }

    /// A PONG arrived.
    pub(crate) fn pong(&self, n: u64) {
        if let Some(tx) = self.pings.lock().remove(&n) {
            let _ = tx.send(());
        }
    }

    /// An answer arrived.
    pub(crate) fn complete(&self, id: u64, r: Result<Bytes, WireError>) {
        let p = self.pending.lock().remove(&id);
        match p {
            Some(Pending::Unary(tx, _)) => {
                let _ = tx.send(Some(r));
            }
            Some(Pending::Stream(tx)) => {
                let _ = tx.send(match r {
                    Ok(v) => StreamEvent::Item(v),
                    Err(e) => StreamEvent::Error(e),
                });
            }
            Some(Pending::Callback(cb, _)) => cb(r),
            None => {}
        }
    }

    /// Makes a call from any thread without waiting: queues the request (unless the outbox is over
    /// its limit: then `Err(cb)` gives the callback back, for the caller to take the waiting path)
    /// and calls `cb` with the answer, on an engine thread, or with a timeout error at the deadline.
    #[allow(clippy::too_many_arguments)] // A request's parts plus where to answer and what runs the sweeper.
    pub(crate) fn call_callback(
        self: &Arc<Self>,
        target: &str,
        method: &str,
        args: &[u8],
        deadline: Duration,
        trace: Option<&Bytes>,
        cb: Callback,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Option<u64>, Callback> {
        if self.is_closed() {
            cb(Err(self.disconnected()));
            return Ok(None);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let at = Due::after(deadline);
        let deadline_ms = deadline.as_millis().min(u128::from(u32::MAX)) as u32;
        let alone = {
            let mut p = self.pending.lock();
            p.insert(id, Pending::Callback(cb, at));
            p.len() == 1
        };
        let encode = |out: &mut Vec<u8>| {
            Request::encode_frame(out, id, target, method, args, deadline_ms, trace, false)
        };
        // During a host loop's turn (`transport::begin_turn`) the turn's end writes it, with the
        // turn's other calls. Else the only call in flight is written from this thread now (no
        // writer to wake); with others in flight, the writer sends many per write.
        let queued = if self.outbox.hold_for_turn() || !alone {
            self.outbox.try_send_with(encode)
        } else {
            self.outbox.send_and_flush(encode)
        };
        match queued {
            Ok(true) => {}
            Ok(false) => {
                // Full: hand the callback back.
                return match self.pending.lock().remove(&id) {
                    Some(Pending::Callback(cb, _)) => Err(cb),
                    _ => Ok(None),
                };
            }
            Err(_) => {
                if let Some(Pending::Callback(cb, _)) = self.pending.lock().remove(&id) {
                    cb(Err(self.disconnected()));
                }
                return Ok(None);
            }
        }
        self.start_sweeper(runtime);
        Ok(Some(id))
    }

    /// Stops waiting for a call made with [`Conn::call_callback`]: its callback is dropped without
    /// being called, and the callee is sent CANCEL. False if it had already finished.
    pub(crate) fn forget_callback(&self, id: u64) -> bool {
        let removed = matches!(self.pending.lock().remove(&id), Some(Pending::Callback(..)));
        if removed && self.outbox.send_now(&Message::Cancel { id }).is_ok() {
            self.outbox.flush_now();
        }
        removed
    }

    /// Starts the sweeper unless it runs.
    fn start_sweeper(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        if !self.sweeping.swap(true, Ordering::AcqRel) {
            let conn = self.clone();
            runtime.spawn(async move { conn.sweep().await });
        }
    }

    /// Fails calls past their deadline (each gets CANCEL sent), and ends deferred calls served past
    /// theirs (`E006`), every 10 ms while any waits: one timer for the connection instead of one
    /// per call.
    async fn sweep(self: Arc<Self>) {
        fn timed(p: &mut Pending) -> Option<&mut Due> {
            match p {
                Pending::Unary(_, due) | Pending::Callback(_, due) => Some(due),
                Pending::Stream(_) => None,
            }
        }
        // A sweeper that dies (a callback panicked, its runtime shut down) lets the next call start
        // another.
        struct Restart<'a>(&'a std::sync::atomic::AtomicBool, bool);
        impl Drop for Restart<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.store(false, Ordering::Release);
                }
            }
        }
        let mut restart = Restart(&self.sweeping, true);
        loop {
            tokio::time::sleep(SWEEP_PERIOD).await;
            let now = tokio::time::Instant::now();
            let (expired, left) = {
                let mut p = self.pending.lock();
                let mut left = false;
                let mut ids = Vec::new();
                for (id, v) in p.iter_mut() {
                    if let Some(due) = timed(v) {
                        if due.passed(now) {
                            ids.push(*id);
                        } else {
                            left = true;
                        }
                    }
                }
                let expired: Vec<(u64, Pending)> =
                    ids.into_iter().filter_map(|id| p.remove(&id).map(|v| (id, v))).collect();
                (expired, left)
            };
            let (late, serving_left) = self.deferred_due(now);
            for (id, key) in late {
                self.end_deferred(id, Some(key), Ended::TimedOut);
            }
            let left = left || serving_left;
            for (id, p) in expired {
                let _ = self.outbox.send_now(&Message::Cancel { id });
                match p {
                    Pending::Callback(cb, _) => {
                        cb(Err(wire(ErrorCode::Timeout, "the call got no answer before its deadline")))
                    }
                    Pending::Unary(tx, _) => {
                        let _ = tx.send(None);
                    }
                    Pending::Stream(_) => {}
                }
            }
            if !left || self.is_closed() {
                self.sweeping.store(false, Ordering::Release);
                // A call registered between the check and the store would have seen `true`: look again.
                let more = self.pending.lock().values_mut().any(|v| timed(v).is_some())
                    || self.serving.lock().values().any(|s| matches!(s, ServingEntry::Deferred(_)));
                if more && !self.sweeping.swap(true, Ordering::AcqRel) {
                    continue;
                }
                restart.1 = false;
                return;
            }
        }
    }

    /// The deferred calls past their deadline at `now`, and whether others wait.
    fn deferred_due(&self, now: tokio::time::Instant) -> (Vec<(u64, u64)>, bool) {
        let serving = self.serving.lock();
        let mut late = Vec::new();
        let mut left = false;
        for (id, s) in serving.iter() {
            if let ServingEntry::Deferred(d) = s {
                if d.deadline <= now {
                    late.push((*id, d.key));
                } else {
                    left = true;
                }
            }
        }
        (late, left)
    }

    /// A stream item or end arrived.
    pub(crate) fn stream_event(&self, id: u64, ev: StreamEvent) {
        let mut pending = self.pending.lock();
        let end = matches!(ev, StreamEvent::End);
        if let Some(Pending::Stream(tx)) = pending.get(&id) {
            let _ = tx.send(ev);
            if end {
                pending.remove(&id);
            }
        }
    }

    pub(crate) fn start_serving(&self, id: u64, stream: bool) -> Serving {
        let s = Serving {
            // Not a child of `closed` (registering children costs a lock per call); shutdown cancels
            // every serving token itself.
            cancel: CancellationToken::new(),
            credit: stream.then(|| Arc::new(Semaphore::new(STREAM_WINDOW as usize))),
        };
        let copy = Serving { cancel: s.cancel.clone(), credit: s.credit.clone() };
        self.insert_serving(id, ServingEntry::Task(copy));
        s
    }

    /// Records a unary request whose handler has to wait, so a CANCEL can reach it.
    pub(crate) fn serve_later(&self, id: u64, cancel: CancellationToken) {
        self.insert_serving(id, ServingEntry::Task(Serving { cancel: cancel.clone(), credit: None }));
        // Closed meanwhile (from another thread): `shutdown` may have missed it.
        if self.is_closed() {
            cancel.cancel();
        }
    }

    /// Records a request a deferred handler serves, before its start callback runs
    /// ([`Conn::deferred_started`] after); the sweeper enforces its deadline.
    pub(crate) fn serve_deferred(
        self: &Arc<Self>,
        id: u64,
        call: DeferredCall,
        runtime: &tokio::runtime::Handle,
    ) {
        self.insert_serving(id, ServingEntry::Deferred(call));
        // Closed meanwhile (from another thread): `shutdown` may have missed it.
        if self.is_closed() {
            self.end_deferred(id, None, Ended::Closed);
        } else {
            self.start_sweeper(runtime);
        }
    }

    /// The start callback of deferred call `key` (request `id`) returned. If the call stopped
    /// waiting meanwhile it ends now: its handler is told to stop only once it exists.
    pub(crate) fn deferred_started(&self, id: u64, key: u64) {
        let (call, why) = {
            let mut serving = self.serving.lock();
            let why = match serving.get_mut(&id) {
                Some(ServingEntry::Deferred(d)) if d.key == key => match d.phase.started() {
                    None => return,
                    Some(why) => why,
                },
                // Answered from its start callback already.
                _ => return,
            };
            let Some(ServingEntry::Deferred(d)) = serving.remove(&id) else { unreachable!("matched above") };
            (d, why)
        };
        self.end_early(id, call, why);
    }

    /// Records a request being served. A request id the other side reused while its first call
    /// is still served cancels the first (their answers could not be told apart).
    fn insert_serving(&self, id: u64, entry: ServingEntry) {
        let old = self.serving.lock().insert(id, entry);
        match old {
            Some(ServingEntry::Task(s)) => s.cancel.cancel(),
            // Told to stop, not answered: an answer with this id would reach the new call.
            Some(ServingEntry::Deferred(d)) => self.end_early(id, d, Ended::Closed),
            None => {}
        }
    }

    /// Ends the deferred call served as request `id` (only if its key is `key`, when given)
    /// without its handler's answer; one whose start callback has not returned ends when it does.
    fn end_deferred(&self, id: u64, key: Option<u64>, why: Ended) {
        let call = {
            let mut serving = self.serving.lock();
            match serving.get_mut(&id) {
                Some(ServingEntry::Deferred(d)) if key.is_none_or(|k| k == d.key) => {
                    if !d.phase.end(why) {
                        return;
                    }
                }
                _ => return,
            }
            let Some(ServingEntry::Deferred(d)) = serving.remove(&id) else { unreachable!("matched above") };
            d
        };
        self.end_early(id, call, why);
    }

    /// A deferred call taken out without its handler's answer: counted with its error, answered
    /// with it unless the connection is gone, and its handler told to stop.
    fn end_early(&self, id: u64, mut call: DeferredCall, why: Ended) {
        let r = call.count(Err(call.error(why)));
        if why != Ended::Closed {
            self.answer_now(id, r, false);
        }
        (call.cancel)(call.key);
    }

    /// Queues an answer from this thread; the only call being served is written at once.
    fn answer_now(&self, id: u64, r: Result<Bytes, WireError>, alone: bool) {
        let m = match r {
            Ok(value) => Message::Result { id, value },
            Err(error) => Message::Error { id, error },
        };
        if self.outbox.send_now(&m).is_ok() && alone {
            self.outbox.flush_now();
        }
    }

    pub(crate) fn stop_serving(&self, id: u64) {
        remove_task(&mut self.serving.lock(), id);
    }

    pub(crate) fn cancel_serving(&self, id: u64) {
        let deferred = match self.serving.lock().get(&id) {
            Some(ServingEntry::Task(s)) => {
                s.cancel.cancel();
                false
            }
            Some(ServingEntry::Deferred(_)) => true,
            None => false,
        };
        if deferred {
            self.end_deferred(id, None, Ended::Cancelled);
        }
    }

    pub(crate) fn add_credit(&self, id: u64, n: u32) {
        if let Some(ServingEntry::Task(Serving { credit: Some(c), .. })) = self.serving.lock().get(&id) {
            // Bounded so a hostile peer cannot overflow the semaphore.
            let room = Semaphore::MAX_PERMITS.saturating_sub(c.available_permits()).min(1 << 20);
            c.add_permits((n as usize).min(room));
        }
    }

    /// Whether the connection is gone (its `closed` token cancelled).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed_flag.load(Ordering::Acquire)
    }

    /// The connection is gone: every call in flight fails at once, every handler is cancelled.
    pub(crate) fn shutdown(&self) {
        self.closed_flag.store(true, Ordering::Release);
        self.closed.cancel();
        if let Some(fd) = *self.host_fd.lock() {
            // SAFETY: the reader holding `fd` open clears `host_fd` (under this lock) before it lets
            // the descriptor go, so `fd` is still this connection's socket.
            unsafe { libc::shutdown(fd, libc::SHUT_RD) };
        }
        self.outbox.close();
        let pending: Vec<Pending> = self.pending.lock().drain().map(|(_, p)| p).collect();
        for p in pending {
            match p {
                Pending::Unary(tx, _) => {
                    let _ = tx.send(Some(Err(self.disconnected())));
                }
                Pending::Stream(tx) => {
                    let _ = tx.send(StreamEvent::Error(self.disconnected()));
                }
                Pending::Callback(cb, _) => cb(Err(self.disconnected())),
            }
        }
        let serving: Vec<(u64, ServingEntry)> = self.serving.lock().drain().collect();
        for (id, s) in serving {
            match s {
                ServingEntry::Task(s) => s.cancel.cancel(),
                ServingEntry::Deferred(mut d) => {
                    if d.phase.close() {
                        self.end_early(id, d, Ended::Closed);
                    } else {
                        // Not started yet: ended by `deferred_started` when its start callback returns.
                        self.serving.lock().insert(id, ServingEntry::Deferred(d));
                    }
                }
            }
        }
        self.pings.lock().clear();
    }

    pub(crate) fn wants(&self, topic: &str) -> bool {
        self.subs.lock().iter().any(|(_, p)| p.matches(topic))
    }
}

impl AnswerSink for Conn {
    fn answer_direct(&self, id: u64, r: &Result<Bytes, WireError>) {
        // The only call being served: written from this thread now (no task woken on the way).
        // With others in flight, left to the writer, which sends many answers per write.
        let alone = {
            let mut serving = self.serving.lock();
            remove_task(&mut serving, id); // Answered: a late CANCEL has nothing left to stop.
            serving.is_empty()
        };
        self.answer_now(id, r.clone(), alone);
    }

    fn finish_deferred(&self, id: u64, key: u64, r: Result<Bytes, WireError>) -> bool {
        let (mut call, alone) = {
            let mut serving = self.serving.lock();
            // Not this call's entry: the id was reused by a newer call.
            if !matches!(serving.get(&id), Some(ServingEntry::Deferred(d)) if d.key == key) {
                return false;
            }
            let Some(ServingEntry::Deferred(d)) = serving.remove(&id) else { unreachable!("matched above") };
            (d, serving.is_empty())
        };
        let r = call.count(r);
        self.answer_now(id, r, alone);
        true
    }
}

struct CancelOnDrop<'a> {
    conn: &'a Conn,
    id: u64,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed && self.conn.pending.lock().remove(&self.id).is_some() {
            let _ = self.conn.outbox.send_now(&Message::Cancel { id: self.id });
        }
    }
}

/// The receiving end of a streaming call over a connection.
pub(crate) struct RemoteStream {
    conn: Arc<Conn>,
    id: u64,
    rx: mpsc::UnboundedReceiver<StreamEvent>,
    consumed: u32,
    done: bool,
}

impl RemoteStream {
    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, WireError>> {
        if self.done {
            return None;
        }
        match self.rx.recv().await {
            Some(StreamEvent::Item(b)) => {
                self.consumed += 1;
                if self.consumed >= STREAM_WINDOW / 2 {
                    let _ =
                        self.conn.outbox.send_now(&Message::StreamCredit { id: self.id, n: self.consumed });
                    self.consumed = 0;
                }
                Some(Ok(b))
            }
            Some(StreamEvent::End) => {
                self.done = true;
                None
            }
            Some(StreamEvent::Error(e)) => {
                self.done = true;
                Some(Err(e))
            }
            None => {
                self.done = true;
                Some(Err(self.conn.disconnected()))
            }
        }
    }
}

impl Drop for RemoteStream {
    fn drop(&mut self) {
        if !self.done && self.conn.pending.lock().remove(&self.id).is_some() {
            let _ = self.conn.outbox.send_now(&Message::Cancel { id: self.id });
        }
    }
}
