//! Length-prefixed frames. Reading fills a buffer with as much as the socket has and hands out every
//! complete frame in it (zero-copy slices); writing appends frames to one outgoing buffer that a
//! writer task flushes in a single write, so many frames share each system call both ways.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::{ReadHalf, WriteHalf};
use crate::error::{Error, ErrorCode, Result};
use crate::rpc::Message;

/// The default largest frame accepted: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

const READ_CHUNK: usize = 64 * 1024;

/// Frames queued without a write after which the thread queuing the next one writes them itself
/// (when the socket is free). Whoever makes many frames in a row (a read's answers, a loop turn's
/// calls) thus sends them in slices of this many, and the other side starts on the first slice
/// while this one makes the rest: at 64 calls in flight between two processes on two cores, 16
/// took Rust from about 530k to 900k calls/s and Node from 150k to about 210k (4 and 32 were
/// slower for Rust; Python, bound by its interpreter, moved little).
const FLUSH_FRAMES: u32 = 16;

/// Reads frames from one connection.
#[derive(Debug)]
pub struct FrameReader {
    read: ReadHalfDebug,
    buf: BytesMut,
    max: usize,
}

struct ReadHalfDebug(ReadHalf);

struct WriteHalfDebug(WriteHalf);

impl std::fmt::Debug for WriteHalfDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteHalf")
    }
}

impl std::fmt::Debug for ReadHalfDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadHalf")
    }
}

impl FrameReader {
    /// Frames of at most `max` bytes from `read`.
    pub fn new(read: ReadHalf, max: usize) -> Self {
        FrameReader { read: ReadHalfDebug(read), buf: BytesMut::with_capacity(READ_CHUNK), max }
    }

    /// Whether a whole frame is already buffered (the next `next` returns without reading).
    pub fn has_buffered_frame(&self) -> bool {
        self.buf.len() >= 4
            && self.buf.len()
                >= 4 + u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize
    }

    /// Changes the largest frame accepted (the handshake reads with a small limit).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
    }

    /// The next frame's body; `None` at a clean end of the stream. A length over the maximum is
    /// refused from its 4-byte prefix, before anything is allocated for the body.
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        loop {
            if let Some(frame) = take_frame(&mut self.buf, self.max)? {
                return Ok(Some(frame));
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 8 {
                self.buf.reserve(READ_CHUNK);
            }
            let n = self
                .read
                .0
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| Error::new(ErrorCode::PeerDisconnected, format!("read failed: {e}")))?;
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(Error::new(
                        ErrorCode::ProtocolError,
                        "the connection closed in the middle of a frame",
                    ))
                };
            }
        }
    }
}

impl FrameReader {
    /// Gives up reading: the reading half (kept open, unread) and whatever was read past the last
    /// frame handed out. For a reader that goes on from the host's own event loop.
    pub(crate) fn into_parts(self) -> (ReadHalf, BytesMut) {
        (self.read.0, self.buf)
    }
}

/// Takes the first whole frame out of `buf`, if there is one; reserves room for the rest of a
/// partial one. A length over `max` (or zero) is an error, found from the prefix alone.
pub(crate) fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len == 0 {
        return Err(Error::new(ErrorCode::ProtocolError, "an empty frame (length 0)"));
    }
    if len > max {
        return Err(Error::new(
            ErrorCode::FrameTooLarge,
            format!("a frame of {len} bytes is over the limit of {max} bytes"),
        ));
    }
    if buf.len() >= 4 + len {
        buf.advance(4);
        return Ok(Some(buf.split_to(len).freeze()));
    }
    buf.reserve(4 + len - buf.len());
    Ok(None)
}

/// The outgoing side of a connection: encoded frames waiting for the writer task. Bounded: past its
/// limit, `send` waits until the writer has drained it (backpressure, not unbounded memory).
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<OutState>,
    wake_writer: Notify,
    space: Notify,
    /// The socket's writing half, once the writer task runs. Whoever writes holds this lock and
    /// takes the queued bytes under it, so frames go out in order whoever sends them.
    write: tokio::sync::Mutex<Option<WriteHalfDebug>>,
    limit: usize,
}

#[derive(Debug, Default)]
struct OutState {
    buf: Vec<u8>,
    closed: bool,
    /// Holds in force ([`Outbox::hold`]): while any is, queueing does not wake the writer task.
    held: u32,
    /// Frames queued since the buffer was last taken for writing.
    frames: u32,
}

fn closed_error() -> Error {
    Error::new(ErrorCode::PeerDisconnected, "the connection is closed")
}

impl Outbox {
    /// An outbox that holds up to about `limit` bytes before senders wait.
    pub fn new(limit: usize) -> Arc<Outbox> {
        Arc::new(Outbox {
            state: Mutex::new(OutState::default()),
            wake_writer: Notify::new(),
            write: tokio::sync::Mutex::new(None),
            space: Notify::new(),
            limit,
        })
    }

    /// Queues a message, waiting while the outbox is full.
    pub async fn send(&self, m: &Message) -> Result<()> {
        // Events are a one-way stream: they go out in whole batches, not in slices (sliced, Node to
        // Node events fell from about 590k to 460k a second: more, smaller reads on the other side).
        let sliced = !matches!(m, Message::Publish { .. });
        self.send_with_sliced(|out| m.encode_frame(out), sliced).await
    }

    /// Queues whatever `encode` appends (one or more whole frames), waiting while the outbox is full.
    pub async fn send_with(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        self.send_with_sliced(encode, true).await
    }

    async fn send_with_sliced(&self, encode: impl FnOnce(&mut Vec<u8>), sliced: bool) -> Result<()> {
        let mut encode = Some(encode);
        // Room now (the usual case): no waiter to set up.
        while !self.queue(&mut encode, sliced, false)? {
            self.room().await;
        }
        Ok(())
    }

    /// Queues what `encode` appends if the outbox is under its limit: `Ok(true)` queued, `Ok(false)`
    /// full (nothing queued), `Err` closed. For callers that cannot wait.
    pub fn try_send_with(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<bool> {
        self.queue(&mut Some(encode), true, false)
    }

    /// Queues a message now, over the limit if need be: for small control messages (answers,
    /// cancels, credits, pongs) that must not wait behind the data they control.
    pub fn send_now(&self, m: &Message) -> Result<()> {
        self.queue(&mut Some(|out: &mut Vec<u8>| m.encode_frame(out)), true, true).map(|_| ())
    }

    /// Queues if there is room (or `over_limit`); `sliced` counts the frame towards
    /// [`FLUSH_FRAMES`]. `Ok(false)`: full, nothing queued.
    fn queue(
        &self,
        encode: &mut Option<impl FnOnce(&mut Vec<u8>)>,
        sliced: bool,
        over_limit: bool,
    ) -> Result<bool> {
        let mut s = self.state.lock();
        if s.closed {
            return Err(closed_error());
        }
        if !over_limit && s.buf.len() >= self.limit {
            return Ok(false);
        }
        let wake = s.buf.is_empty() && s.held == 0;
        if let Some(f) = encode.take() {
            f(&mut s.buf);
        }
        s.frames += u32::from(sliced);
        let flush = s.frames >= FLUSH_FRAMES;
        drop(s);
        if wake {
            self.wake_writer.notify_one();
        }
        if flush {
            self.flush_now();
        }
        Ok(true)
    }

    /// Writes what is queued now, from this thread, if the socket takes it without waiting and no
    /// writer is busy; whatever is left goes to the writer task. Saves waking the writer (a thread
    /// switch) when a caller knows nothing else is about to be queued.
    pub fn flush_now(&self) {
        let Ok(mut w) = self.write.try_lock() else { return };
        let Some(w) = w.as_mut() else { return };
        let mut s = self.state.lock();
        if s.buf.is_empty() {
            return;
        }
        // A waker that does nothing: if the socket is full this registers it, and the writer task,
        // woken below, registers its own when it tries.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if let std::task::Poll::Ready(Ok(n)) = w.0.as_mut().poll_write(&mut cx, &s.buf) {
            s.buf.drain(..n);
            s.frames = 0;
        }
        let left = !s.buf.is_empty();
        drop(s);
        if left {
            self.wake_writer.notify_one();
        } else {
            self.space.notify_waiters();
        }
    }

    /// Queues what `encode` appends and writes it at once when the socket is free ([`Outbox::flush_now`]),
    /// without waking the writer task unless something is left. `Ok(false)` when the outbox is full
    /// (nothing queued).
    pub fn send_and_flush(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<bool> {
        {
            let mut s = self.state.lock();
            if s.closed {
                return Err(closed_error());
            }
            if s.buf.len() >= self.limit {
                return Ok(false);
            }
            encode(&mut s.buf);
        }
        self.flush_now();
        // Whatever flush_now could not write (a busy writer, a full socket) is the writer's.
        if !self.state.lock().buf.is_empty() {
            self.wake_writer.notify_one();
        }
        Ok(true)
    }

    /// Holds the writer task back until the returned guard is dropped: frames queued meanwhile
    /// (from any thread) do not wake it, and dropping the guard writes them all at once from the
    /// dropping thread. For a host event loop that queues a batch (the answers of one read, the
    /// calls of one loop turn) and is about to flush anyway: it saves a thread wake-up per batch.
    pub fn hold(self: &Arc<Self>) -> OutboxHold {
        self.state.lock().held += 1;
        OutboxHold(self.clone())
    }

    /// Whether the outbox is at or past its limit (a sender that waits would wait now).
    pub fn is_full(&self) -> bool {
        self.state.lock().buf.len() >= self.limit
    }

    /// Waits until the outbox is under its limit, or closed.
    pub async fn room(&self) {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let s = self.state.lock();
                if s.closed || s.buf.len() < self.limit {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Gives the writer task another writing half for the same stream (the old one is dropped),
    /// once the task has started. False if the outbox closed first.
    pub(crate) async fn replace_writer(&self, new: WriteHalf) -> bool {
        loop {
            {
                let mut w = self.write.lock().await;
                if w.is_some() {
                    *w = Some(WriteHalfDebug(new));
                    return true;
                }
            }
            if self.is_closed() {
                return false;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Holds this outbox until the end of the calling thread's turn, if one is open ([`begin_turn`]);
    /// whether one is.
    pub(crate) fn hold_for_turn(self: &Arc<Self>) -> bool {
        TURN.with_borrow_mut(|t| {
            let Some(held) = t else { return false };
            if !held.iter().any(|h| Arc::ptr_eq(&h.0, self)) {
                held.push(self.hold());
            }
            true
        })
    }

    /// Stops accepting messages; the writer sends what is queued, then shuts the stream down.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.wake_writer.notify_one();
        self.space.notify_waiters();
    }

    /// Whether it was closed.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }
}

thread_local! {
    /// The outboxes this thread holds until [`end_turn`] (see [`begin_turn`]).
    static TURN: std::cell::RefCell<Option<Vec<OutboxHold>>> = const { std::cell::RefCell::new(None) };
}

/// Holds ([`Outbox::hold`]), until [`end_turn`] on this thread, every outbox that calls made from
/// this thread queue into. For a host event loop whose turn makes many calls (the tasks an answer
/// batch woke): they go out in slices of 16 frames and the rest at the end of the turn,
/// written by this thread, instead of waking the writer task at the first. False if a turn is
/// already open.
pub fn begin_turn() -> bool {
    TURN.with_borrow_mut(|t| {
        if t.is_some() {
            return false;
        }
        *t = Some(Vec::new());
        true
    })
}

/// Ends the turn [`begin_turn`] opened: what the held outboxes queued is written now.
pub fn end_turn() {
    let held = TURN.with_borrow_mut(Option::take);
    drop(held);
}

/// Keeps an outbox's writer task from being woken while it lives ([`Outbox::hold`]).
#[derive(Debug)]
pub struct OutboxHold(Arc<Outbox>);

impl Drop for OutboxHold {
    fn drop(&mut self) {
        let outbox = &self.0;
        {
            let mut s = outbox.state.lock();
            s.held = s.held.saturating_sub(1);
        }
        outbox.flush_now();
        // What this thread could not write (a busy writer, a full socket) is the writer's.
        if !outbox.state.lock().buf.is_empty() {
            outbox.wake_writer.notify_one();
        }
    }
}

/// Writes everything queued in `outbox` to `write`, many frames per write, until the outbox is closed
/// and drained or the write fails (which closes the outbox).
pub async fn run_writer(outbox: Arc<Outbox>, write: WriteHalf) -> Result<()> {
    *outbox.write.lock().await = Some(WriteHalfDebug(write));
    let mut batch: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let result = loop {
        // Let the tasks that are ready run first: what they queue goes out in this same write
        // (many frames per system call), at the cost of one scheduler pass.
        tokio::task::yield_now().await;
        let mut w = outbox.write.lock().await;
        let got = {
            let mut s = outbox.state.lock();
            if s.buf.is_empty() {
                if s.closed { Some(false) } else { None }
            } else {
                std::mem::swap(&mut s.buf, &mut batch);
                s.frames = 0;
                Some(true)
            }
        };
        match got {
            Some(true) => {}
            Some(false) => break Ok(()),
            None => {
                drop(w);
                outbox.wake_writer.notified().await;
                continue;
            }
        }
        outbox.space.notify_waiters();
        let Some(half) = w.as_mut() else { break Ok(()) };
        if let Err(e) = half.0.write_all(&batch).await {
            break Err(Error::new(ErrorCode::PeerDisconnected, format!("write failed: {e}")));
        }
        drop(w);
        batch.clear();
        if batch.capacity() > 4 * 1024 * 1024 {
            batch.shrink_to(READ_CHUNK);
        }
    };
    outbox.close();
    if let Some(mut half) = outbox.write.lock().await.take() {
        let _ = half.0.shutdown().await;
    }
    result
}
