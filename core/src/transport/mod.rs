//! Byte transports for the RPC protocol: local sockets (Unix domain sockets through `interprocess`)
//! and TCP, behind one listener and one connect function, plus length-prefixed framing with batched
//! reads and writes (`frame`).

mod address;
mod fd_writer;
mod frame;
mod local;
pub(crate) use fd_writer::FdWriter;
#[cfg(feature = "process")]
pub(crate) use local::private_dir;

pub use address::Address;
pub(crate) use frame::take_frame;
pub use frame::{DEFAULT_MAX_FRAME, FrameReader, Outbox, OutboxHold, begin_turn, end_turn, run_writer};

use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::error::{Error, ErrorCode, Result};

/// The reading half of a connection.
pub type ReadHalf = Pin<Box<dyn AsyncRead + Send>>;
/// The writing half of a connection.
pub type WriteHalf = Pin<Box<dyn AsyncWrite + Send>>;

/// One open connection: its two halves, and the descriptor they share (which a host event loop can
/// watch for reading; see `rpc::HostReader`). The descriptor stays open while either half lives.
pub struct Stream {
    /// The reading half.
    pub read: ReadHalf,
    /// The writing half.
    pub write: WriteHalf,
    /// The socket's file descriptor.
    pub fd: RawFd,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("fd", &self.fd).finish()
    }
}

fn tcp(s: tokio::net::TcpStream) -> Stream {
    let _ = s.set_nodelay(true);
    let fd = s.as_raw_fd();
    let (r, w) = s.into_split();
    Stream { read: Box::pin(r), write: Box::pin(TcpWrite(Some(w))), fd }
}

/// A TCP stream's writing half that, dropped, leaves the stream open for whoever still holds it:
/// tokio's would shut the sending side down, and a connection read by the host's loop replaces
/// its writing half (`rpc` module, `leave_reactor`) while the socket goes on. The writer task
/// shuts the stream down itself when the connection ends.
struct TcpWrite(Option<tokio::net::tcp::OwnedWriteHalf>);

impl TcpWrite {
    fn half(self: Pin<&mut Self>) -> Pin<&mut tokio::net::tcp::OwnedWriteHalf> {
        // `OwnedWriteHalf` is `Unpin`: no pinning to keep.
        Pin::new(self.get_mut().0.as_mut().expect("present until dropped"))
    }
}

impl Drop for TcpWrite {
    fn drop(&mut self) {
        if let Some(w) = self.0.take() {
            w.forget();
        }
    }
}

impl AsyncWrite for TcpWrite {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.half().poll_write(cx, buf)
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.half().poll_flush(cx)
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.half().poll_shutdown(cx)
    }
}

fn io_error(what: &str, e: std::io::Error) -> Error {
    Error::new(ErrorCode::NotConnected, format!("{what}: {e}"))
}

/// Accepts connections on a local socket or a TCP port.
#[derive(Debug)]
pub struct Listener {
    inner: Inner,
    address: Address,
}

#[derive(Debug)]
enum Inner {
    Local(local::LocalListener),
    Tcp(TcpListener),
}

impl Listener {
    /// Listens on `address`. A local socket's directory must be private to this user (mode 0700; it
    /// is created so if missing); the socket file is made 0600.
    pub async fn bind(address: &Address) -> Result<Listener> {
        match address {
            Address::Local(path) => {
                let l = local::LocalListener::bind(path)?;
                Ok(Listener { inner: Inner::Local(l), address: address.clone() })
            }
            Address::Tcp(hostport) => {
                let l = TcpListener::bind(hostport.as_str())
                    .await
                    .map_err(|e| io_error(&format!("cannot listen on tcp://{hostport}"), e))?;
                let local = l.local_addr().map_err(|e| io_error("tcp listener", e))?;
                Ok(Listener { inner: Inner::Tcp(l), address: Address::Tcp(local.to_string()) })
            }
        }
    }

    /// The address it listens on (with the real port when port 0 was asked for).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The next connection.
    pub async fn accept(&self) -> Result<Stream> {
        match &self.inner {
            Inner::Local(l) => l.accept().await,
            Inner::Tcp(l) => {
                let (s, _) = l.accept().await.map_err(|e| io_error("accept", e))?;
                Ok(tcp(s))
            }
        }
    }
}

/// Connects to `address`.
pub async fn connect(address: &Address) -> Result<Stream> {
    match address {
        Address::Local(path) => local::connect(path).await,
        Address::Tcp(hostport) => {
            let s = tokio::net::TcpStream::connect(hostport.as_str())
                .await
                .map_err(|e| io_error(&format!("cannot connect to tcp://{hostport}"), e))?;
            Ok(tcp(s))
        }
    }
}
