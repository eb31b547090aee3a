//! A connection's life: accepting one (handshake, auth token) or making one (and reconnecting with
//! backoff), reading its frames (in a task, or from the host's event loop) and acting on each
//! ([`handle_frame`]), and what its end takes with it ([`end_conn`]). Writing is the outbox's
//! writer task (`transport`); the bookkeeping of calls on a connection is `conn.rs`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::codec::{Message, PROTOCOL_VERSION, PeerInfo, WireError};
use super::conn::{Conn, Leftover, StreamEvent};
use super::host_reader::{HostLoop, HostReader, ReaderPeer};
use super::route::{deliver, remote_subscribe};
use super::serve::{Served, serve_request_now};
use super::service::parse_version;
use super::state::{ConnectionEvent, Inner};
use super::table::{Provider, Resolved};
use crate::error::{Error, ErrorCode, Result};
use crate::transport::{FrameReader, Listener, Outbox, Stream, WriteHalf, run_writer};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const OUTBOX_LIMIT: usize = 4 * 1024 * 1024;

fn tokens_match(expected: &str, got: &str) -> bool {
    // Constant time in the token's content: compare every byte whatever the first difference.
    let (a, b) = (expected.as_bytes(), got.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Starts the writer task of a connection; the token is cancelled when it stops.
fn start_writer(write: WriteHalf) -> (Arc<Outbox>, CancellationToken) {
    let outbox = Outbox::new(OUTBOX_LIMIT);
    let done = CancellationToken::new();
    let (o, d) = (outbox.clone(), done.clone());
    tokio::spawn(async move {
        if let Err(e) = run_writer(o, write).await {
            tracing::debug!("writer stopped: {e}");
        }
        d.cancel();
    });
    (outbox, done)
}

fn start_conn(peer: PeerInfo, outbox: Arc<Outbox>, writer_done: CancellationToken) -> Arc<Conn> {
    let conn = Conn::new(peer, outbox);
    let c = conn.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = writer_done.cancelled() => c.shutdown(),
            _ = c.closed.cancelled() => {}
        }
    });
    conn
}

pub(super) async fn accept_loop(inner: Arc<Inner>, listener: Listener) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = inner.stop.cancelled() => break,
        };
        match accepted {
            Ok(stream) => {
                tokio::spawn(handshake_accept(inner.clone(), stream));
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn refuse(write: WriteHalf, e: &Error) {
    let outbox = Outbox::new(64 * 1024);
    let _ = outbox.send_now(&Message::Error { id: 0, error: WireError::from_error(e) });
    outbox.close();
    let _ = run_writer(outbox, write).await;
}

async fn handshake_accept(inner: Arc<Inner>, stream: Stream) {
    let Stream { read, write, fd } = stream;
    let mut reader = FrameReader::new(read, inner.opts.max_frame.min(64 * 1024));
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.next()).await;
    let hello = match first {
        Ok(Ok(Some(frame))) => Message::decode(frame),
        Ok(Ok(None)) => return,
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Error::new(ErrorCode::ProtocolError, "no HELLO within 5 s")),
    };
    let (peer, token) = match hello {
        Ok(Message::Hello { version, peer, token }) if version == PROTOCOL_VERSION => (peer, token),
        Ok(Message::Hello { version, .. }) => {
            let e = Error::new(
                ErrorCode::ProtocolError,
                format!("protocol version {version} is not supported (this peer speaks {PROTOCOL_VERSION})"),
            );
            return refuse(write, &e).await;
        }
        Ok(_) => {
            let e = Error::new(ErrorCode::ProtocolError, "the first message must be HELLO");
            return refuse(write, &e).await;
        }
        Err(e) => {
            tracing::warn!(code = %e.code(), "refused a connection: {e}");
            return refuse(write, &e).await;
        }
    };
    if let Some(expected) = inner.opts.token.as_deref().filter(|t| !t.is_empty())
        && !tokens_match(expected, token.as_deref().unwrap_or(""))
    {
        let what = if token.is_some() { "a wrong auth token" } else { "no auth token" };
        tracing::warn!(peer = %peer.name, pid = peer.pid, "refused a connection with {what}");
        let e = Error::new(ErrorCode::AuthFailed, format!("authentication failed: {what}"));
        return refuse(write, &e).await;
    }
    reader.set_max(inner.opts.max_frame);
    let (outbox, done) = start_writer(write);
    let conn = start_conn(peer, outbox, done);
    let _ = conn.outbox.send_now(&Message::Welcome { version: PROTOCOL_VERSION, peer: inner.info.clone() });
    inner.conns.lock().insert(conn.id, conn.clone());
    tracing::debug!(peer = %conn.peer.name, lang = %conn.peer.lang, pid = conn.peer.pid, "peer connected");
    inner.notify(&ConnectionEvent::Connected { conn: conn.id, peer: (*conn.peer).clone() });
    read_on(&inner, conn, reader, fd, false).await;
}

/// Reads `conn` from here on: in a task of this runtime, or from the host's event loop when the
/// peer was given one ([`PeerOptions::host_loop`]).
async fn read_on(
    inner: &Arc<Inner>,
    conn: Arc<Conn>,
    reader: FrameReader,
    fd: std::os::fd::RawFd,
    upstream: bool,
) {
    let Some(host) = &inner.opts.host_loop else {
        inner.runtime.spawn(read_loop(inner.clone(), conn, reader, upstream));
        return;
    };
    // Frames that came in with the handshake are handled here: the host would only look once more
    // arrives, which may be never.
    let (read, mut buf) = reader.into_parts();
    loop {
        let handled = match crate::transport::take_frame(&mut buf, inner.opts.max_frame) {
            Ok(Some(frame)) => handle_frame(inner, &conn, frame, upstream, None),
            Ok(None) => break,
            Err(e) => Err(e),
        };
        match handled {
            Ok(None) => {}
            Ok(Some(more)) => more.await,
            Err(e) => return end_conn(inner, &conn, Err(e), upstream),
        }
    }
    conn.outbox.flush_now();
    let (keep, fd) = leave_reactor(&conn, read, fd).await;
    (host.0)(HostReader::new(Arc::new(inner.clone()), conn, keep, fd, buf, upstream));
}

/// Takes a host-read connection's socket out of the engine's reactor (see `transport::FdWriter`):
/// the writer gets a writing half on a duplicate of the descriptor, and the stream the reactor
/// watched is dropped. What keeps the descriptor open, and the descriptor to watch. If the
/// descriptor cannot be duplicated, the connection stays as it was.
async fn leave_reactor(
    conn: &Arc<Conn>,
    read: crate::transport::ReadHalf,
    fd: std::os::fd::RawFd,
) -> (Box<dyn Send>, std::os::fd::RawFd) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: `fd` is the open socket that `read` keeps open; F_DUPFD_CLOEXEC makes a new one.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return (Box::new(read), fd);
    }
    // SAFETY: `dup` was just made and is owned by nothing else.
    let owned = Arc::new(unsafe { OwnedFd::from_raw_fd(dup) });
    let writer = crate::transport::FdWriter::new(owned.clone(), tokio::runtime::Handle::current());
    if !conn.outbox.replace_writer(Box::pin(writer)).await {
        return (Box::new(read), fd);
    }
    // The old writing half is gone; this drops the reading half, and with it the reactor's watch.
    drop(read);
    let fd = owned.as_raw_fd();
    (Box::new(owned), fd)
}

pub(super) async fn handshake_connect(inner: &Arc<Inner>) -> Result<Arc<Conn>> {
    let Some(address) = inner.upstream_address.clone() else {
        return Err(Error::new(ErrorCode::Internal, "no upstream address"));
    };
    let Stream { read, write, fd } = crate::transport::connect(&address).await?;
    let mut reader = FrameReader::new(read, inner.opts.max_frame);
    let (outbox, done) = start_writer(write);
    outbox.send_now(&Message::Hello {
        version: PROTOCOL_VERSION,
        peer: inner.info.clone(),
        token: inner.opts.token.clone(),
    })?;
    let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.next()).await;
    let fail = |e: Error| {
        outbox.close();
        Err(e)
    };
    let peer = match answer {
        Ok(Ok(Some(frame))) => match Message::decode(frame) {
            Ok(Message::Welcome { peer, .. }) => peer,
            Ok(Message::Error { error, .. }) => {
                return fail(error.to_error().context(format!("{address} refused the connection")));
            }
            Ok(_) => return fail(Error::new(ErrorCode::ProtocolError, "expected WELCOME")),
            Err(e) => return fail(e),
        },
        Ok(Ok(None)) => {
            return fail(Error::new(ErrorCode::NotConnected, format!("{address} closed the connection")));
        }
        Ok(Err(e)) => return fail(e),
        Err(_) => {
            return fail(Error::new(ErrorCode::NotConnected, format!("{address} did not answer within 5 s")));
        }
    };
    let conn = start_conn(peer, outbox.clone(), done);
    // Services and subscriptions made before (or during a reconnect) are announced again.
    let (services, subs) = {
        let t = inner.table.read();
        let services: Vec<Message> = t
            .list()
            .into_iter()
            .filter(|(n, v, _, _)| {
                matches!(t.resolve(&format!("{n}@{v}")), Ok(Resolved { provider: Provider::Local(_), .. }))
            })
            .map(|(name, v, methods, streams)| Message::Register {
                name,
                version: v.to_string(),
                methods,
                streams,
            })
            .collect();
        (services, inner.subs.announce())
    };
    for m in services.iter().chain(subs.iter()) {
        conn.outbox.send_now(m)?;
    }
    read_on(inner, conn.clone(), reader, fd, true).await;
    Ok(conn)
}

pub(super) async fn reconnect_loop(inner: Arc<Inner>) {
    loop {
        let current = inner.upstream.borrow().clone();
        if let Some(c) = current {
            tokio::select! {
                _ = c.closed.cancelled() => {}
                _ = inner.stop.cancelled() => return,
            }
        }
        if inner.stop.is_cancelled() {
            return;
        }
        inner.upstream.send_replace(None);
        let mut delay = Duration::from_millis(50);
        loop {
            match handshake_connect(&inner).await {
                Ok(conn) => {
                    tracing::info!(peer = %conn.peer.name, "reconnected");
                    inner.upstream.send_replace(Some(conn));
                    break;
                }
                Err(e) => {
                    tracing::debug!("reconnect failed ({e}); next try in {} ms", delay.as_millis());
                    let jittered = delay / 2 + delay.mul_f64(fastrand::f64() / 2.0);
                    tokio::select! {
                        _ = tokio::time::sleep(jittered) => {}
                        _ = inner.stop.cancelled() => return,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

async fn read_loop(inner: Arc<Inner>, conn: Arc<Conn>, mut reader: FrameReader, upstream: bool) {
    let result: Result<()> = loop {
        // A frame already read needs no waiting (nor a waiter registered on `closed` per frame).
        let frame = if reader.has_buffered_frame() {
            if conn.is_closed() {
                break Ok(());
            }
            reader.next().await
        } else {
            tokio::select! {
                f = reader.next() => f,
                _ = conn.closed.cancelled() => break Ok(()),
            }
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match handle_frame(&inner, &conn, frame, upstream, None) {
            Ok(None) => {}
            // Waits here: a slow subscriber or a full upstream slows this connection's reading.
            Ok(Some(more)) => more.await,
            Err(e) => break Err(e),
        }
        // Everything that arrived together has been handled: send the answers now, from here.
        if !reader.has_buffered_frame() {
            conn.outbox.flush_now();
        }
    };
    end_conn(&inner, &conn, result, upstream);
}

/// Handles one frame read from `conn`: everything that can be done at once is done here (answers
/// completed, requests started, subscriptions recorded); what must wait comes back. `Err` closes
/// the connection.
fn handle_frame(
    inner: &Arc<Inner>,
    conn: &Arc<Conn>,
    frame: Bytes,
    upstream: bool,
    defer: Option<&mut Vec<Leftover>>,
) -> Result<Option<Leftover>> {
    match Message::decode(frame)? {
        // Served here if it finishes at once; otherwise as its own task, or (`defer`) handed back to
        // look at once more before spawning one.
        Message::Request(req) => match serve_request_now(inner, conn, req) {
            Served::Done => {}
            Served::Later(fut) => match defer {
                Some(d) => d.push(fut),
                None => {
                    inner.runtime.spawn(fut);
                }
            },
            Served::Blocked(wait) => return Ok(Some(wait)),
        },
        Message::Result { id, value } => conn.complete(id, Ok(value)),
        Message::Error { id: 0, error } => {
            tracing::warn!(peer = %conn.peer.name, code = %error.code, "peer reported: {}", error.message);
        }
        Message::Error { id, error } => conn.complete(id, Err(error)),
        Message::Cancel { id } => conn.cancel_serving(id),
        Message::StreamItem { id, value } => conn.stream_event(id, StreamEvent::Item(value)),
        Message::StreamEnd { id } => conn.stream_event(id, StreamEvent::End),
        Message::StreamCredit { id, n } => conn.add_credit(id, n),
        Message::Subscribe { sub, pattern } => remote_subscribe(conn, sub, &pattern),
        Message::Unsubscribe { sub } => conn.subs.lock().retain(|(id, _)| *id != sub),
        Message::Publish { topic, payload, trace } => {
            let inner = inner.clone();
            return Ok(Some(Box::pin(async move {
                if upstream {
                    // From our server: here, and on to anyone connected to us.
                    deliver(&inner, &topic, &payload, trace.as_ref()).await;
                } else {
                    let up = inner.upstream.borrow().clone();
                    match up {
                        Some(u) => {
                            let m = Message::Publish { topic, payload, trace };
                            let _ = u.outbox.send(&m.publish_for(&u.peer)).await;
                        }
                        None => deliver(&inner, &topic, &payload, trace.as_ref()).await,
                    }
                }
            })));
        }
        Message::Ping(n) => {
            let _ = conn.outbox.send_now(&Message::Pong(n));
        }
        Message::Pong(n) => conn.pong(n),
        Message::Register { name, version, methods, streams } => {
            let methods = Arc::new(methods);
            let r = parse_version(&version).and_then(|v| {
                inner.table.write().insert(
                    &name,
                    v,
                    Provider::Remote {
                        conn: conn.clone(),
                        methods: methods.clone(),
                        streams: Arc::new(streams),
                    },
                )
            });
            match r {
                Ok(()) => {
                    let service = format!("{name}@{version}");
                    tracing::debug!(peer = %conn.peer.name, service = %service, "service registered");
                    if !upstream {
                        let methods = methods.to_vec();
                        inner.notify(&ConnectionEvent::Registered { conn: conn.id, service, methods });
                    }
                }
                Err(e) => {
                    let _ = conn.outbox.send_now(&Message::Error { id: 0, error: WireError::from_error(&e) });
                }
            }
        }
        Message::Unregister { name, version } => {
            if let Ok(v) = parse_version(&version) {
                inner.table.write().remove_remote(&name, &v, conn.id);
            }
        }
        Message::Hello { .. } | Message::Welcome { .. } => {
            return Err(Error::new(ErrorCode::ProtocolError, "a second handshake on an open connection"));
        }
    }
    Ok(None)
}

/// The reading side of `conn` is done (the peer left, a bad frame, or this side closed it): every
/// call in flight on it fails, and a connection accepted here takes its services with it.
fn end_conn(inner: &Arc<Inner>, conn: &Arc<Conn>, result: Result<()>, upstream: bool) {
    if let Err(e) = &result {
        tracing::warn!(peer = %conn.peer.name, pid = conn.peer.pid, code = %e.code(), "closing the connection: {e}");
        let _ = conn.outbox.send_now(&Message::Error { id: 0, error: WireError::from_error(e) });
    }
    conn.shutdown();
    if upstream {
        return;
    }
    inner.conns.lock().remove(&conn.id);
    let gone = inner.table.write().remove_conn(conn.id);
    if !gone.is_empty() {
        tracing::info!(peer = %conn.peer.name, services = ?gone, "peer disconnected; its services are gone");
    }
    inner.notify(&ConnectionEvent::Disconnected { conn: conn.id, peer: (*conn.peer).clone() });
}

/// A host loop's reader reaches its peer through this (see `host_reader.rs`).
impl ReaderPeer for Arc<Inner> {
    fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    fn max_frame(&self) -> usize {
        self.opts.max_frame
    }

    fn host_loop(&self) -> Option<HostLoop> {
        self.opts.host_loop.clone()
    }

    fn handle_frame(
        &self,
        conn: &Arc<Conn>,
        frame: Bytes,
        upstream: bool,
        defer: Option<&mut Vec<Leftover>>,
    ) -> Result<Option<Leftover>> {
        handle_frame(self, conn, frame, upstream, defer)
    }

    fn end_conn(&self, conn: &Arc<Conn>, result: Result<()>, upstream: bool) {
        end_conn(self, conn, result, upstream)
    }
}
