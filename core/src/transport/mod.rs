//! Byte transports for the RPC protocol: local sockets (Unix domain sockets through `interprocess`)
//! and TCP, behind one listener and one connect function, plus length-prefixed framing with batched
//! reads and writes (`frame`).

mod address;
mod frame;
mod local;
pub(crate) use local::private_dir;

pub use address::Address;
pub use frame::{DEFAULT_MAX_FRAME, FrameReader, Outbox, run_writer};

use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::error::{Error, ErrorCode, Result};

/// The reading half of a connection.
pub type ReadHalf = Pin<Box<dyn AsyncRead + Send>>;
/// The writing half of a connection.
pub type WriteHalf = Pin<Box<dyn AsyncWrite + Send>>;

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
    pub async fn accept(&self) -> Result<(ReadHalf, WriteHalf)> {
        match &self.inner {
            Inner::Local(l) => l.accept().await,
            Inner::Tcp(l) => {
                let (s, _) = l.accept().await.map_err(|e| io_error("accept", e))?;
                let _ = s.set_nodelay(true);
                let (r, w) = s.into_split();
                Ok((Box::pin(r), Box::pin(w)))
            }
        }
    }
}

/// Connects to `address`.
pub async fn connect(address: &Address) -> Result<(ReadHalf, WriteHalf)> {
    match address {
        Address::Local(path) => local::connect(path).await,
        Address::Tcp(hostport) => {
            let s = tokio::net::TcpStream::connect(hostport.as_str())
                .await
                .map_err(|e| io_error(&format!("cannot connect to tcp://{hostport}"), e))?;
            let _ = s.set_nodelay(true);
            let (r, w) = s.into_split();
            Ok((Box::pin(r), Box::pin(w)))
        }
    }
}
