//! An HTTP server for `/metrics` (hyper), started and stopped from any door.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::expose::{OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
use super::registry::Registry;
use crate::error::{Error, ErrorCode, Result};
use crate::runtime;

/// A running `/metrics` server. Dropping it stops it.
#[derive(Debug)]
pub struct Exporter {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Exporter {
    /// Serves `registry` on `addr` (`host:port`; port 0 picks a free one) from the engine's runtime.
    /// `GET /metrics` answers in the Prometheus text format, or OpenMetrics when the request's
    /// `Accept` asks for `application/openmetrics-text`.
    pub fn start(registry: Registry, addr: &str) -> Result<Exporter> {
        let (addr, stop, task) = spawn_http1(addr, "/metrics", move |req| serve(registry.clone(), req))?;
        tracing::debug!(%addr, "metrics exporter listening");
        Ok(Exporter { addr, stop, task: Some(task) })
    }

    /// The address it listens on (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits until the server is down.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// [`Exporter::stop`] from synchronous code.
    pub fn stop_blocking(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            runtime::block_on(async move {
                let _ = t.await;
            });
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A small HTTP/1.1 server on the engine's runtime, answering every request with `handler`:
/// what the `/metrics` exporter and the status page share. Sending `true` on the returned sender
/// stops it (connections finish their request in flight); the task ends when it is down.
#[allow(clippy::type_complexity)]
pub(crate) fn spawn_http1<F, Fut>(
    addr: &str,
    what: &str,
    handler: F,
) -> Result<(SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>)>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut:
        std::future::Future<Output = std::result::Result<Response<Full<Bytes>>, Infallible>> + Send + 'static,
{
    let failed = |e: std::io::Error| {
        Error::new(ErrorCode::ExporterFailed, format!("cannot listen on '{addr}' for {what}: {e}"))
    };
    let listener = std::net::TcpListener::bind(addr).map_err(failed)?;
    listener.set_nonblocking(true).map_err(failed)?;
    let local = listener.local_addr().map_err(failed)?;
    let handle = runtime::handle();
    let listener = {
        let _guard = handle.enter();
        tokio::net::TcpListener::from_std(listener).map_err(failed)?
    };
    let (stop, mut stopped) = watch::channel(false);
    let task = handle.spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let handler = handler.clone();
                    let mut stopped = stopped.clone();
                    tokio::spawn(async move {
                        let service = service_fn(handler);
                        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                        tokio::pin!(conn);
                        tokio::select! {
                            _ = conn.as_mut() => {}
                            _ = stopped.changed() => conn.as_mut().graceful_shutdown(),
                        }
                    });
                }
            }
        }
    });
    Ok((local, stop, task))
}

async fn serve(
    registry: Registry,
    req: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, ctype: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        if let Ok(v) = ctype.parse() {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        Ok(r)
    };
    if req.uri().path() != "/metrics" {
        return reply(StatusCode::NOT_FOUND, "text/plain", "not found: metrics are at /metrics\n".into());
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "use GET\n".into());
    }
    let openmetrics = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        reply(StatusCode::OK, OPENMETRICS_CONTENT_TYPE, registry.gather_openmetrics())
    } else {
        reply(StatusCode::OK, TEXT_CONTENT_TYPE, registry.gather_text())
    }
}
