//! The server: a TCP listener, one task per connection, HTTP/1.1 (keep-alive, pipelining) and
//! HTTP/2 cleartext with prior knowledge on the same port (hyper-util's auto builder reads the
//! connection's preface), and a graceful shutdown.
//!
//! **Connection cap.** At most [`HttpOptions::max_connections`] connections are open at once. A
//! connection accepted beyond the cap is closed at once, without a response: the client sees a
//! reset or an end of stream and can retry, and the listener's backlog is not left to fill up.
//!
//! **Slow clients.** An HTTP/1.1 client that does not send a request's headers within
//! [`HttpOptions::header_read_timeout`] has its connection closed (this includes an idle
//! keep-alive connection, whose next request never starts); a body that does not arrive within
//! [`HttpOptions::body_read_timeout`] is a 408.
//!
//! **TLS.** An app with `tls` options serves TLS on the same accept loop (see `tls.rs`): the
//! handshake must finish within [`HttpOptions::header_read_timeout`], then the connection is
//! served as a cleartext one is.
//!
//! **Shutdown.** [`HttpServer::shutdown`] first marks the app not ready (`/health/ready` answers
//! 503), then stops accepting, asks every connection to finish (HTTP/1.1 closes after the
//! response in flight, HTTP/2 sends GOAWAY), waits up to [`HttpOptions::shutdown_timeout`] for
//! the requests in flight, then drops what is left.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use super::app::AppShared;
use super::options::HttpOptions;
use super::router::Router;
use super::service::{Shared, serve};
use crate::error::{Error, ErrorCode, Result};

/// A running HTTP server. Dropping it without [`HttpServer::shutdown`] stops accepting and
/// closes every connection at once.
#[derive(Debug)]
pub struct HttpServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// The app served, marked not ready when the server stops.
    app: Option<Arc<AppShared>>,
}

#[cfg(feature = "http-tls")]
type Tls = Option<super::tls::Acceptor>;
#[cfg(not(feature = "http-tls"))]
type Tls = Option<NoTls>;

/// Without the `http-tls` feature there is never an acceptor.
#[cfg(not(feature = "http-tls"))]
#[derive(Clone)]
enum NoTls {}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port, see [`HttpServer::local_addr`]) and serves
    /// `router` on the engine's runtime. A router with a bad route, or an address that cannot be
    /// bound, is refused (`H006`, `H007`).
    pub async fn bind(addr: impl ToSocketAddrs, router: Router, options: HttpOptions) -> Result<HttpServer> {
        router.check()?;
        HttpServer::bind_shared(addr, Arc::new(Shared { router, options, app: None, gates: Vec::new() }))
            .await
    }

    /// Binds `addr` and serves what every connection shares.
    pub(crate) async fn bind_shared(addr: impl ToSocketAddrs, shared: Arc<Shared>) -> Result<HttpServer> {
        let tls = tls_of(&shared)?;
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            Error::new(ErrorCode::HttpServerFailed, format!("could not bind: {e}")).with_source(e)
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorCode::HttpServerFailed, format!("no local address: {e}")))?;
        let (stop, stopped) = watch::channel(false);
        let app = shared.app.clone();
        let task = tokio::spawn(accept_loop(listener, shared, tls, stopped));
        tracing::debug!(%local_addr, "http server listening");
        Ok(HttpServer { local_addr, stop, task: Some(task), app })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Marks the app not ready, stops accepting, lets requests in flight finish (up to the
    /// shutdown timeout), and returns once every connection is closed.
    pub async fn shutdown(mut self) {
        self.not_ready();
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl HttpServer {
    fn not_ready(&self) {
        if let Some(app) = &self.app {
            app.ready.store(false, Ordering::SeqCst);
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.not_ready();
            task.abort();
        }
    }
}

/// The TLS acceptor of the app's `tls` options, when it has some (`H007` when they cannot be
/// used).
fn tls_of(shared: &Shared) -> Result<Tls> {
    let Some(o) = shared.app.as_ref().and_then(|a| a.options.tls.as_ref()) else { return Ok(None) };
    #[cfg(feature = "http-tls")]
    {
        super::tls::acceptor(o).map(Some)
    }
    #[cfg(not(feature = "http-tls"))]
    {
        let _ = o;
        Err(Error::new(
            ErrorCode::HttpServerFailed,
            "TLS is configured but omnitron was built without its http-tls feature",
        ))
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Tls,
    mut stopped: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.options.header_read_timeout)
        .keep_alive(true)
        .pipeline_flush(true);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(shared.options.max_connections));
    let graceful = GracefulShutdown::new();
    // Connections still open when the drain times out are aborted with this set.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little rather than spin.
                        tracing::warn!(error = %e, "http accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::debug!(%peer, "http connection cap reached; closing the new connection");
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let tls = tls.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve_io(&builder, stream, shared, peer, watcher).await,
                        #[cfg(feature = "http-tls")]
                        Some(acceptor) => {
                            let handshake = acceptor.accept(stream);
                            match tokio::time::timeout(shared.options.header_read_timeout, handshake).await {
                                Ok(Ok(stream)) => serve_io(&builder, stream, shared, peer, watcher).await,
                                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake failed"),
                                Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
                            }
                        }
                        #[cfg(not(feature = "http-tls"))]
                        Some(never) => match never {},
                    }
                    drop(permit);
                });
                // Reap finished connections so the set does not grow.
                while connections.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    let timeout = shared.options.shutdown_timeout;
    if tokio::time::timeout(timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(?timeout, open = connections.len(), "http shutdown timed out; closing what is left");
    }
    connections.shutdown().await;
}

/// Serves one connection (cleartext or TLS) until it ends or the server shuts down.
async fn serve_io<I>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    shared: Arc<Shared>,
    peer: SocketAddr,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| serve(shared.clone(), req, Some(peer)));
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "http connection ended with an error");
    }
}
