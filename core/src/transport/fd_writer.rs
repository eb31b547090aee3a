//! Writing to a socket that the engine's reactor does not watch.
//!
//! A connection read by the host's event loop ([`crate::rpc::HostReader`]) still had its socket
//! registered with the engine's reactor (tokio), for reading and writing, edge-triggered: every
//! message that arrived, and every time the other side read what this side wrote, woke an engine
//! thread that had nothing to do. Python to Python with one call in flight, that was about two
//! engine-thread wake-ups per call on each side. [`FdWriter`] writes with a plain non-blocking
//! `send`, and registers the socket with the reactor only while the socket is full (for
//! writability), dropping the registration after the next write that goes through.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncWrite, Interest};

/// The descriptor, borrowed: the registration must not close it.
struct Borrowed(RawFd);

impl AsRawFd for Borrowed {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// The writing side of a socket whose reading is done elsewhere. Shares the descriptor (`fd`),
/// which stays open while any holder lives.
pub(crate) struct FdWriter {
    /// Registered with the reactor while the socket is full. Declared before `fd`: dropped (and
    /// deregistered) before the descriptor may close.
    full: Option<AsyncFd<Borrowed>>,
    fd: Arc<OwnedFd>,
    /// The engine's runtime: a write may be tried from a host thread (`Outbox::flush_now`), and
    /// registering needs the reactor.
    runtime: tokio::runtime::Handle,
}

impl FdWriter {
    pub(crate) fn new(fd: Arc<OwnedFd>, runtime: tokio::runtime::Handle) -> FdWriter {
        FdWriter { full: None, fd, runtime }
    }
}

impl AsyncWrite for FdWriter {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let fd = self.fd.as_raw_fd();
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes; `fd` is open (held by `self.fd`).
            // MSG_NOSIGNAL: a closed peer is an error here, not a SIGPIPE for the host program.
            let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                self.full = None;
                return Poll::Ready(Ok(n as usize));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {}
                _ => return Poll::Ready(Err(e)),
            }
            if self.full.is_none() {
                let _rt = self.runtime.enter();
                // SAFETY: `fd` stays open while the registration lives: `self.fd` holds it, and the
                // registration is dropped first.
                let registered = unsafe { AsyncFd::register_with_interest(Borrowed(fd), Interest::WRITABLE) };
                self.full = Some(registered.map_err(io::Error::from)?);
            }
            let Some(full) = self.full.as_ref() else { continue };
            match full.poll_write_ready(cx) {
                Poll::Ready(Ok(mut ready)) => ready.clear_ready(),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: `fd` is open (held by `self.fd`). A socket already shut down or reset is fine.
        unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_WR) };
        Poll::Ready(Ok(()))
    }
}
