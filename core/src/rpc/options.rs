//! How a peer and its calls are set up: [`PeerOptions`], [`CallOptions`] and the deadlines they
//! default to. Apart from `peer.rs` because the peer's shared state (`state.rs`) holds the options
//! and every part of the peer reads them.

use std::time::Duration;

use bytes::Bytes;

use super::host_reader::HostLoop;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::metrics::Registry;
use crate::transport::DEFAULT_MAX_FRAME;

/// A call's deadline as a door's user gave it (a number in the door's unit, above 0), checked
/// here for every door (no options object to read: a call is a hot path).
pub fn deadline_in(dialect: Dialect, v: f64) -> Result<Duration> {
    match dialect.duration(v) {
        Some(d) if v > 0.0 => Ok(d),
        // Longer than any clock adds: as long as there is (calls cap it at FOREVER).
        None if v.is_finite() && v > 0.0 => Ok(FOREVER),
        _ => Err(Error::invalid_argument(format!(
            "deadline {}, got {v}",
            crate::options::duration_rule(dialect, false)
        ))),
    }
}

/// The default deadline of a call: 5 s.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// The longest deadline: about a century (a longer one would overflow the clock).
pub(super) const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How a peer is set up.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// A name for logs and errors.
    pub name: String,
    /// The language this peer speaks for (`rust`, `c`, `node`, `python`).
    pub lang: String,
    /// The auth token: required of connecting peers when listening (always on TCP), presented when
    /// connecting.
    pub token: Option<String>,
    /// Largest frame accepted (default 16 MiB).
    pub max_frame: usize,
    /// Deadline of calls that do not set one (default 5 s).
    pub default_deadline: Duration,
    /// Where RPC metrics go (default: the global registry).
    pub registry: Registry,
    /// The host's event loop, for a binding whose own thread should read the connections (see
    /// [`HostLoop`]); `None` (the default) reads them on the engine's threads.
    pub host_loop: Option<HostLoop>,
}

impl PeerOptions {
    /// Defaults for a peer named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        PeerOptions {
            name: name.into(),
            lang: "rust".into(),
            token: None,
            max_frame: DEFAULT_MAX_FRAME,
            default_deadline: DEFAULT_DEADLINE,
            registry: Registry::global().clone(),
            host_loop: None,
        }
    }

    /// With an auth token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

/// Per-call settings.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// How long to wait (default: the peer's default deadline; for streams, no limit).
    pub deadline: Option<Duration>,
    /// Trace context to pass on (a raw MessagePack map).
    pub trace: Option<Bytes>,
}

impl CallOptions {
    /// The deadline, or `default`; at most [`FOREVER`] (a longer one, `Duration::MAX` say, would
    /// overflow the clock).
    pub(crate) fn deadline_or(&self, default: Duration) -> Duration {
        self.deadline.unwrap_or(default).min(FOREVER)
    }

    /// The deadline if one was given, at most [`FOREVER`] (a stream without one has none).
    pub(super) fn capped_deadline(&self) -> Option<Duration> {
        self.deadline.map(|d| d.min(FOREVER))
    }
}
