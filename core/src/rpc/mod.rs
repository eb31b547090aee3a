//! RPC between processes and languages: services by `name@version`, calls with deadlines and
//! cancellation, server streaming with credit-based backpressure, and events with wildcard
//! subscriptions, over the protocol in `docs/PROTOCOL.md`.
//!
//! A [`Peer`] is this process's end: it [`listens`](Peer::listen) (a server, a supervisor) or
//! [`connects`](Peer::connect) to one (a client, a child), hosts [`Service`]s and calls them
//! wherever they are.

mod answer;
mod busy_poll;
mod call_events;
mod codec;
mod conn;
mod deferred;
mod deferred_call;
mod events;
mod handles;
mod host_reader;
mod hosted;
mod lifecycle;
mod metrics;
pub mod msgpack;
mod options;
mod pattern;
mod peer;
mod registry;
mod route;
mod serve;
mod service;
mod state;
mod table;
mod value;

pub use busy_poll::{BUSY_POLL_ENV, BusyPoll};
pub use codec::{Message, PROTOCOL_VERSION, PeerInfo, Request, WireError};
pub use deferred::{DeferredCancel, DeferredHandler, DeferredStart, Reply, next_call_key};
pub use handles::{CallHandle, RpcStream};
pub use host_reader::{HostLoop, HostReader};
pub use msgpack::{EMPTY_ARRAY, NIL};
#[cfg(feature = "process")]
pub(crate) use msgpack::{Reader, write_array_len, write_str};
pub use options::{CallOptions, DEFAULT_DEADLINE, PeerOptions, deadline_in};
pub use pattern::{Pattern, check_topic};
pub use peer::Peer;
pub use registry::ServiceInfo;
pub use service::{
    BATCH_METHOD, BoxFuture, CallContext, DEFAULT_VERSION, Handler, Service, ServiceBuilder, StreamHandler,
    StreamSink, UnaryHandler, check_args, decode, encode, encode_args, parse_id,
};
pub use state::ConnectionEvent;
pub use value::{MAX_DEPTH, Value};
