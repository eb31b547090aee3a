//! Reading a connection from the host's own event loop (libuv in Node, asyncio in Python).
//!
//! By default an engine thread reads every connection and hands what it read to the host's thread
//! (a napi thread-safe function, the Python inbox): two thread wake-ups per message, on a machine
//! where each costs tens of microseconds. A binding that gives its peer a [`HostLoop`] instead gets
//! a [`HostReader`] per connection: it watches [`HostReader::fd`] with its loop and calls
//! [`HostReader::on_readable`] on the loop's thread, which reads and handles every whole frame
//! there. Answers complete their callbacks on that thread and requests start their handlers there,
//! so a message costs the one wake-up the host would pay for its own socket. Writing is unchanged
//! (the outbox, flushed by whoever finishes a batch, or by the writer task).

use std::os::fd::RawFd;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::codec::Message;
use super::conn::{Conn, Leftover};
use crate::error::{Error, ErrorCode, Result};
use crate::transport::take_frame;

const READ_CHUNK: usize = 64 * 1024;

/// What a binding does with each new connection's reader: arrange for
/// [`HostReader::on_readable`] to be called on its loop's thread whenever the descriptor is
/// readable, until it returns false. Called on an engine thread.
#[derive(Clone)]
pub struct HostLoop(pub Arc<dyn Fn(HostReader) + Send + Sync>);

impl std::fmt::Debug for HostLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostLoop")
    }
}

/// What a [`HostReader`] needs of the peer its connection belongs to: the peer's shared state
/// implements it (`lifecycle.rs`). A trait, not the state itself: the state holds the peer's
/// options, they hold the [`HostLoop`], which takes readers, so naming the state here would tie
/// this file and the state's in a circle.
pub(crate) trait ReaderPeer: Send + Sync {
    /// The runtime the peer was made on: its tasks, including those started from the loop's thread.
    fn runtime(&self) -> &tokio::runtime::Handle;
    /// Largest frame accepted.
    fn max_frame(&self) -> usize;
    /// Where a connection goes back to after a pause.
    fn host_loop(&self) -> Option<HostLoop>;
    /// Handles one frame read from `conn` (`lifecycle::handle_frame`).
    fn handle_frame(
        &self,
        conn: &Arc<Conn>,
        frame: Bytes,
        upstream: bool,
        defer: Option<&mut Vec<Leftover>>,
    ) -> Result<Option<Leftover>>;
    /// The reading side of `conn` is done (`lifecycle::end_conn`).
    fn end_conn(&self, conn: &Arc<Conn>, result: Result<()>, upstream: bool);
}

/// One connection, read by the host's event loop. Keeps the connection's descriptor open while it
/// lives: drop it only after the loop stopped watching the descriptor.
pub struct HostReader {
    peer: Arc<dyn ReaderPeer>,
    conn: Arc<Conn>,
    /// Keeps the descriptor open (and not reused) while watched. Taken by the reader that goes on
    /// after a pause.
    _keep: Option<Box<dyn Send>>,
    fd: RawFd,
    buf: BytesMut,
    upstream: bool,
    done: bool,
    /// Requests started by the last read that had not finished (see `settle`).
    unsettled: Vec<Leftover>,
    /// The outbox filled during the last pass: stop reading until it has room (see `pause`).
    full: bool,
    /// The last pass read a request (its answer needs room in the outbox).
    served: bool,
    /// Spent by a pause: dropping it tells the reader that goes on that the loop let this one go.
    dropped: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for HostReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostReader").field("fd", &self.fd).field("conn", &self.conn.id).finish()
    }
}

impl HostReader {
    pub(super) fn new(
        peer: Arc<dyn ReaderPeer>,
        conn: Arc<Conn>,
        keep: Box<dyn Send>,
        fd: RawFd,
        buf: BytesMut,
        upstream: bool,
    ) -> HostReader {
        // Closing the connection from this side must wake the loop watching it.
        *conn.host_fd.lock() = Some(fd);
        HostReader {
            peer,
            conn,
            _keep: Some(keep),
            fd,
            buf,
            upstream,
            done: false,
            unsettled: Vec::new(),
            full: false,
            served: false,
            dropped: None,
        }
    }

    /// The descriptor to watch for reading (non-blocking).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Reads what the socket has and handles every whole frame, on the calling thread. False when
    /// the loop must stop watching the descriptor, then drop the reader: the connection is over
    /// (the peer left, a bad frame, or this side closed it), or its outbox is full (the other side
    /// does not read its answers). In that case the engine keeps the connection, waits for room and
    /// hands a new reader to the [`HostLoop`]. Never blocks.
    pub fn on_readable(&mut self) -> bool {
        self.on_readable_with(|| {})
    }

    /// [`HostReader::on_readable`], running `deliver` after the frames were handled and before
    /// looking again at the requests they started: a binding hands what the read queued for it
    /// (answers, calls for its handlers) to its code there, so a handler that answers at once
    /// finishes its request without an engine task (two thread wake-ups fewer per request).
    pub fn on_readable_with(&mut self, deliver: impl FnOnce()) -> bool {
        if self.done {
            deliver();
            return false;
        }
        let mut held = None;
        let result = {
            // Handlers started here may spawn tasks and arm timers: they belong to the peer's runtime.
            let _rt = self.peer.runtime().enter();
            self.read_and_handle(&mut held)
        };
        deliver();
        if matches!(result, Ok(true)) {
            self.settle();
        }
        drop(held);
        match result {
            // Only a pass that read requests stops reading: one that read answers goes on (an outbox
            // full of this side's own calls must not keep their answers from being read).
            Ok(true) if self.full || (self.served && self.conn.outbox.is_full()) => {
                self.pause();
                false
            }
            Ok(true) => true,
            Ok(false) => {
                self.finish(Ok(()));
                false
            }
            Err(e) => {
                self.finish(Err(e));
                false
            }
        }
    }

    /// Reads and handles what arrived, holding the outbox (`Outbox::hold`) from the first frame
    /// on: the answers this pass produces (by handling the frames, or by the host's handlers
    /// during `deliver`) go out together at its end, written by this thread, without waking the
    /// writer task (Python to Python at 64 in flight: about 82k calls/s held, 65k not).
    fn read_and_handle(&mut self, held: &mut Option<crate::transport::OutboxHold>) -> Result<bool> {
        self.served = false;
        if self.conn.is_closed() {
            return Ok(false);
        }
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 8 {
            self.buf.reserve(READ_CHUNK);
        }
        let spare = self.buf.spare_capacity_mut();
        // SAFETY: `spare` is writable memory of `spare.len()` bytes owned by `buf`; `read` writes at
        // most that many and says how many, which are then marked initialised.
        let n = unsafe { libc::read(self.fd, spare.as_mut_ptr().cast(), spare.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => Ok(true),
                _ => Err(Error::new(ErrorCode::PeerDisconnected, format!("read failed: {e}"))),
            };
        }
        if n == 0 {
            return if self.buf.is_empty() {
                Ok(false)
            } else {
                Err(Error::new(ErrorCode::ProtocolError, "the connection closed in the middle of a frame"))
            };
        }
        // SAFETY: `read` initialised `n` bytes of the spare capacity.
        unsafe { self.buf.set_len(self.buf.len() + n as usize) };
        while let Some(frame) = take_frame(&mut self.buf, self.peer.max_frame())? {
            if held.is_none() {
                *held = Some(self.conn.outbox.hold());
            }
            let request = Message::is_request(&frame);
            self.served |= request;
            if let Some(more) =
                self.peer.handle_frame(&self.conn, frame, self.upstream, Some(&mut self.unsettled))?
            {
                self.unsettled.push(more);
            }
            if request && self.conn.outbox.is_full() {
                // The rest of the buffer waits: what one read brings (64 KiB of small requests)
                // could otherwise queue answers many times the limit.
                self.full = true;
                break;
            }
        }
        Ok(true)
    }

    /// The outbox is full: a caller that does not read its answers is not read either (as on
    /// connections the engine reads). The loop stops watching; an engine task waits for room,
    /// handles the frames already read (waiting for room before each), and hands the connection
    /// back to the host's loop with a new reader. This one is spent (its drop does nothing).
    fn pause(&mut self) {
        let next = HostReader {
            peer: self.peer.clone(),
            conn: self.conn.clone(),
            _keep: self._keep.take(),
            fd: self.fd,
            buf: std::mem::take(&mut self.buf),
            upstream: self.upstream,
            done: false,
            unsettled: Vec::new(),
            full: false,
            served: false,
            dropped: None,
        };
        self.done = true;
        let (tx, let_go) = tokio::sync::oneshot::channel();
        self.dropped = Some(tx);
        let _rt = self.peer.runtime().enter();
        self.peer.runtime().spawn(next.resume(let_go));
    }

    /// `let_go` ends when the loop dropped the spent reader: only then may the connection be handed
    /// back (a loop adopting it before it stopped watching the old one could stop watching both).
    async fn resume(mut self, let_go: tokio::sync::oneshot::Receiver<()>) {
        loop {
            self.conn.outbox.room().await;
            if self.conn.is_closed() || self.conn.outbox.is_closed() {
                return; // Dropped: the connection ends (`finish`).
            }
            let frame = match take_frame(&mut self.buf, self.peer.max_frame()) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return self.finish(Err(e)),
            };
            match self.peer.handle_frame(&self.conn, frame, self.upstream, None) {
                Ok(None) => {}
                Ok(Some(more)) => drop(self.peer.runtime().spawn(more)),
                Err(e) => return self.finish(Err(e)),
            }
        }
        self.conn.outbox.flush_now();
        let _ = let_go.await;
        match self.peer.host_loop() {
            Some(host) => (host.0)(self),
            None => self.finish(Ok(())),
        }
    }

    /// Looks once more at the requests the last read started that had not finished: those the host
    /// answered meanwhile end here; the rest become tasks of the engine.
    fn settle(&mut self) {
        if self.unsettled.is_empty() {
            return;
        }
        let _rt = self.peer.runtime().enter();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        for mut fut in self.unsettled.drain(..) {
            if fut.as_mut().poll(&mut cx).is_pending() {
                self.peer.runtime().spawn(fut);
            }
        }
    }

    fn finish(&mut self, result: Result<()>) {
        self.settle();
        self.done = true;
        *self.conn.host_fd.lock() = None;
        self.peer.end_conn(&self.conn, result, self.upstream);
    }
}

impl Drop for HostReader {
    fn drop(&mut self) {
        if !self.done {
            // Dropped while the connection was open (the host is going away): close it properly.
            let _rt = self.peer.runtime().enter();
            self.finish(Ok(()));
        }
    }
}
