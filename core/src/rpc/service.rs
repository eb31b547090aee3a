//! Services: a name, a semver version and public methods, each a handler over raw MessagePack. Rust
//! code builds them with typed closures (`ServiceBuilder::method`); bindings register raw handlers.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::codec::{PeerInfo, WireError};
use crate::error::{Error, ErrorCode, Result};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a handler knows about its call.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Cancelled when the caller cancels, disconnects or the deadline passes.
    pub cancel: CancellationToken,
    /// When the caller stops waiting.
    pub deadline: Instant,
    /// Who called (this process for local calls).
    pub peer: Arc<PeerInfo>,
    /// Trace context (a raw MessagePack map): the call's server span when this process traces,
    /// else what the caller sent. Typed handlers run in it (`telemetry::current()`); a raw one
    /// that makes calls of its own passes it on, or runs in `telemetry::in_context`.
    pub trace: Option<Bytes>,
    /// For a request from another process: the way to answer it from the handler's own thread.
    pub(crate) direct: Option<super::answer::DirectAnswer>,
    /// When the request arrived (one clock read for its deadline and its duration metric).
    pub(crate) received: Instant,
}

impl CallContext {
    /// Answers the call now, from this thread, straight into the caller's connection: for a
    /// binding whose handlers finish on their own thread (an event loop), this saves waking an
    /// engine task to write the answer. The handler must still return the same result (it is what
    /// metrics count). True if this sent the answer; false for a local call, or one already
    /// answered (timed out, cancelled).
    pub fn answer_now(&self, r: &Result<Bytes, WireError>) -> bool {
        // Cancelled means the engine decided the answer (E006 at the deadline, E005 on CANCEL):
        // what a handler stopped that way answers must not get there first.
        !self.cancel.is_cancelled() && self.direct.as_ref().is_some_and(|d| d.send(r))
    }
}

/// A unary handler: raw MessagePack arguments (an array) in, a raw MessagePack value out.
pub type UnaryHandler = Arc<dyn Fn(Bytes, CallContext) -> BoxFuture<Result<Bytes, WireError>> + Send + Sync>;

/// A streaming handler: sends items to the sink, then returns.
pub type StreamHandler =
    Arc<dyn Fn(Bytes, CallContext, StreamSink) -> BoxFuture<Result<(), WireError>> + Send + Sync>;

/// A method's handler.
#[derive(Clone)]
pub enum Handler {
    /// One value back.
    Unary(UnaryHandler),
    /// A stream of values back.
    Stream(StreamHandler),
    /// One value back, later, through a [`Reply`](super::Reply).
    Deferred(super::DeferredHandler),
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Handler::Unary(_) => "Handler::Unary",
            Handler::Stream(_) => "Handler::Stream",
            Handler::Deferred(_) => "Handler::Deferred",
        })
    }
}

/// Where a streaming handler sends its items. Sending waits while the caller has not granted credit
/// (backpressure), and fails once the caller has gone.
#[derive(Debug, Clone)]
pub struct StreamSink {
    pub(crate) tx: mpsc::Sender<Bytes>,
}

impl StreamSink {
    /// Sends one raw MessagePack item.
    pub async fn send_raw(&self, item: Bytes) -> Result<()> {
        self.tx
            .send(item)
            .await
            .map_err(|_| Error::new(ErrorCode::Cancelled, "the caller stopped the stream"))
    }

    /// [`StreamSink::send_raw`] from a thread that may block (not an async task): the C door's
    /// handlers.
    pub fn send_blocking(&self, item: Bytes) -> Result<()> {
        self.tx
            .blocking_send(item)
            .map_err(|_| Error::new(ErrorCode::Cancelled, "the caller stopped the stream"))
    }

    /// Sends one item, encoded as MessagePack.
    pub async fn send<T: Serialize + ?Sized>(&self, item: &T) -> Result<()> {
        self.send_raw(encode(item)?).await
    }
}

/// Encodes a value as MessagePack (structs as maps, so every language reads them by name).
pub fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Bytes> {
    rmp_serde::to_vec_named(v)
        .map(Bytes::from)
        .map_err(|e| Error::invalid_argument(format!("cannot encode as MessagePack: {e}")))
}

/// Decodes call arguments (an array) as `A`; no arguments (`[]`) also decode as `()`.
fn decode_args<A: DeserializeOwned>(b: &[u8]) -> Result<A> {
    match decode(b) {
        Ok(a) => Ok(a),
        Err(e) if b == super::msgpack::EMPTY_ARRAY => decode(super::msgpack::NIL).map_err(|_| e),
        Err(e) => Err(e),
    }
}

/// Encodes call arguments: a tuple or sequence becomes a MessagePack array; `()` an empty one.
pub fn encode_args<T: Serialize + ?Sized>(args: &T) -> Result<Bytes> {
    let args = encode(args)?;
    if args[..] == *super::msgpack::NIL {
        return Ok(Bytes::from_static(super::msgpack::EMPTY_ARRAY));
    }
    check_args(&args)?;
    Ok(args)
}

/// Checks that raw arguments are a MessagePack array, as the protocol requires.
pub fn check_args(args: &[u8]) -> Result<()> {
    if matches!(args.first(), Some(0x90..=0x9f | 0xdc | 0xdd)) {
        Ok(())
    } else {
        Err(Error::invalid_argument("call arguments must be a tuple or a sequence (an array)"))
    }
}

/// Decodes a MessagePack value.
pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T> {
    rmp_serde::from_slice(b)
        .map_err(|e| Error::invalid_argument(format!("cannot decode the MessagePack value: {e}")))
}

/// A service: name, version and methods. Build one with [`Service::builder`].
#[derive(Debug, Clone)]
pub struct Service {
    pub(crate) name: String,
    pub(crate) version: semver::Version,
    pub(crate) methods: BTreeMap<String, Handler>,
    pub(crate) deadline: Option<Duration>,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('$')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidService,
            format!(
                "invalid service name '{name}': letters, digits, '-', '_', '.', '/' (and not starting with '$')"
            ),
        ))
    }
}

/// The version of a service declared without one (`@Service('notifications')`,
/// `@service("notifications")`, a NULL version in C): it is reachable as `notifications`,
/// `notifications@1.0.0` and by any range that matches (`notifications@^1`).
pub const DEFAULT_VERSION: &str = "1.0.0";

/// Parses a service's declared id: `name@version` (a full semver version), or a bare `name`, whose
/// version is [`DEFAULT_VERSION`]. Every door's service decorator parses its argument here.
pub fn parse_id(id: &str) -> Result<(String, semver::Version)> {
    let (name, version) = id.split_once('@').unwrap_or((id, DEFAULT_VERSION));
    check_name(name)?;
    Ok((name.to_string(), parse_version(version)?))
}

pub(crate) fn parse_version(v: &str) -> Result<semver::Version> {
    semver::Version::parse(v).map_err(|e| {
        Error::new(
            ErrorCode::InvalidService,
            format!("invalid version '{v}': {e} (expected semver such as 1.0.0)"),
        )
    })
}

impl Service {
    /// Starts a service `name@version` (a semver version such as `1.0.0`).
    pub fn builder(name: &str, version: &str) -> Result<ServiceBuilder> {
        check_name(name)?;
        Ok(ServiceBuilder {
            service: Service {
                name: name.to_string(),
                version: parse_version(version)?,
                methods: BTreeMap::new(),
                deadline: None,
            },
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its version.
    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// Its public methods, sorted.
    pub fn methods(&self) -> Vec<String> {
        self.methods.keys().cloned().collect()
    }

    /// Those of its methods that answer with a stream, sorted.
    pub fn streams(&self) -> Vec<String> {
        self.methods.iter().filter(|(_, h)| matches!(h, Handler::Stream(_))).map(|(k, _)| k.clone()).collect()
    }
}

/// The reserved method a worker takes a chunk of a pool's map items through (docs/PROTOCOL.md,
/// "Batches"; the chunks are written by `process::batch`).
pub const BATCH_METHOD: &str = "$batch";

/// A method name a service may have: not empty, and not starting with `$` unless it is one the
/// protocol defines.
fn method_name_ok(m: &str) -> bool {
    !m.is_empty() && (!m.starts_with('$') || m == BATCH_METHOD)
}

/// Builds a [`Service`].
#[derive(Debug)]
pub struct ServiceBuilder {
    service: Service,
}

fn wire(e: Error) -> WireError {
    WireError::from_error(&e)
}

impl ServiceBuilder {
    /// The service's name.
    pub fn name(&self) -> &str {
        self.service.name()
    }

    /// The longest a call to this service may run (the caller's deadline applies if shorter).
    pub fn deadline(mut self, d: Duration) -> Self {
        self.service.deadline = Some(d);
        self
    }

    /// A typed method: `args` is the argument tuple (`(f64,)`, `(String, u32)`, `()`), the result is
    /// encoded as MessagePack.
    pub fn method<A, R, F, Fut>(self, name: &str, f: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        self.method_ctx(name, move |a: A, _ctx| f(a))
    }

    /// A typed method that also gets its [`CallContext`] (cancellation, deadline, caller).
    pub fn method_ctx<A, R, F, Fut>(self, name: &str, f: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(A, CallContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        let f = Arc::new(f);
        let call = crate::log::CallName::new(self.service.name(), name);
        self.raw(name, move |args: Bytes, ctx| {
            let f = f.clone();
            let call = call.clone();
            crate::log::in_call(call, async move {
                let a: A = decode_args(&args).map_err(|e| {
                    wire(Error::new(ErrorCode::InvalidArgument, format!("wrong arguments: {}", e.message())))
                })?;
                // The handler runs in its call's trace: its calls and spans are children of it.
                let r = match ctx.trace.as_ref().and_then(crate::telemetry::from_wire) {
                    Some(c) => crate::telemetry::in_context(c, f(a, ctx)).await,
                    None => f(a, ctx).await,
                };
                encode(&r.map_err(wire)?).map_err(wire)
            })
        })
    }

    /// A raw method over MessagePack bytes (what the bindings register).
    pub fn raw<F>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(Bytes, CallContext) -> BoxFuture<Result<Bytes, WireError>> + Send + Sync + 'static,
    {
        self.service.methods.insert(name.to_string(), Handler::Unary(Arc::new(f)));
        self
    }

    /// A raw method answered later, from any thread, through the [`Reply`](super::Reply) `start` gets:
    /// for a binding whose handlers run on an event loop. No future, task or timer per call; when
    /// the call stops waiting (cancelled, past its deadline, its caller gone) `cancel` is told
    /// its key. Calls made in this process work too.
    pub fn deferred<S, C>(mut self, name: &str, start: S, cancel: C) -> Self
    where
        S: Fn(Bytes, super::Reply) + Send + Sync + 'static,
        C: Fn(u64) + Send + Sync + 'static,
    {
        let h = super::DeferredHandler { start: Arc::new(start), cancel: Arc::new(cancel) };
        self.service.methods.insert(name.to_string(), Handler::Deferred(h));
        self
    }

    /// A typed streaming method: send items to the sink, return when done.
    pub fn stream<A, F, Fut>(self, name: &str, f: F) -> Self
    where
        A: DeserializeOwned + Send + 'static,
        F: Fn(A, StreamSink) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let f = Arc::new(f);
        let call = crate::log::CallName::new(self.service.name(), name);
        self.raw_stream(name, move |args: Bytes, ctx, sink| {
            let f = f.clone();
            let call = call.clone();
            crate::log::in_call(call, async move {
                let a: A = decode_args(&args).map_err(|e| {
                    wire(Error::new(ErrorCode::InvalidArgument, format!("wrong arguments: {}", e.message())))
                })?;
                // The handler runs in its call's trace: its calls and spans are children of it.
                match ctx.trace.as_ref().and_then(crate::telemetry::from_wire) {
                    Some(c) => crate::telemetry::in_context(c, f(a, sink)).await.map_err(wire),
                    None => f(a, sink).await.map_err(wire),
                }
            })
        })
    }

    /// A raw streaming method.
    pub fn raw_stream<F>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(Bytes, CallContext, StreamSink) -> BoxFuture<Result<(), WireError>> + Send + Sync + 'static,
    {
        self.service.methods.insert(name.to_string(), Handler::Stream(Arc::new(f)));
        self
    }

    /// The service. One with no methods is valid: it is listed and described like any other (a
    /// service that only handles events, say), and calls to it answer `RPC002`. Method names that
    /// start with `$` are the protocol's (`$batch`, docs/PROTOCOL.md): any other is refused.
    pub fn build(self) -> Result<Service> {
        if let Some(bad) = self.service.methods.keys().find(|m| !method_name_ok(m)) {
            return Err(Error::invalid_argument(if bad.is_empty() {
                format!("service '{}': a method name is empty", self.service.name)
            } else {
                format!(
                    "service '{}': method name '{bad}' is reserved: names starting with '$' belong to \
                     the protocol ($registry, {})",
                    self.service.name, BATCH_METHOD
                )
            }));
        }
        Ok(self.service)
    }
}
