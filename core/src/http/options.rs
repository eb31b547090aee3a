//! The server's limits and timeouts, with their defaults, read once in core from what a door
//! gives ([`HttpOptions::from_raw`]).

use std::time::Duration;

use crate::dialect::Dialect;
use crate::error::{ErrorCode, Result};
use crate::options::RawOptions;

/// Limits and timeouts of an [`HttpServer`](super::HttpServer).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpOptions {
    /// How long a client has to send a request's headers (HTTP/1.1) before the connection is
    /// closed: a slow-loris client is cut off. Default 10 s.
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body once its headers are in: 408 after.
    /// Default 30 s.
    pub body_read_timeout: Duration,
    /// The largest body read, in bytes: 413 beyond. Default 1 MiB.
    pub body_limit: usize,
    /// The most connections open at once; a connection accepted beyond it is closed at once.
    /// Default 10,000.
    pub max_connections: usize,
    /// How long [`HttpServer::shutdown`](super::HttpServer::shutdown) waits for requests in flight
    /// before it closes their connections. Default 30 s.
    pub shutdown_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            body_limit: 1024 * 1024,
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Empty options for an HTTP server, read by a user of `dialect`; a wrong value is `E001`.
pub fn http_options(dialect: Dialect) -> RawOptions {
    RawOptions::new(dialect, "http server", ErrorCode::InvalidArgument)
}

impl HttpOptions {
    /// The defaults.
    pub fn new() -> HttpOptions {
        HttpOptions::default()
    }

    /// Options from `header_read_timeout`, `body_read_timeout` and `shutdown_timeout` (durations
    /// in the door's unit, above 0), `body_limit` (bytes, at least 1) and `max_connections` (at
    /// least 1); any other key is refused with the nearest known one.
    pub fn from_raw(raw: &RawOptions) -> Result<HttpOptions> {
        let o = HttpOptions::read(raw)?;
        raw.check_unknown()?;
        Ok(o)
    }

    /// The server's keys of `raw`, leaving other keys to the caller (an app's options).
    pub(crate) fn read(raw: &RawOptions) -> Result<HttpOptions> {
        let mut o = HttpOptions::default();
        if let Some(d) = raw.duration("header_read_timeout")? {
            o.header_read_timeout = d;
        }
        if let Some(d) = raw.duration("body_read_timeout")? {
            o.body_read_timeout = d;
        }
        if let Some(d) = raw.duration("shutdown_timeout")? {
            o.shutdown_timeout = d;
        }
        if let Some(n) = raw.whole("body_limit", 1)? {
            o.body_limit = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = raw.count("max_connections", 1)? {
            o.max_connections = n as usize;
        }
        Ok(o)
    }

    /// Sets the header read timeout.
    pub fn header_read_timeout(mut self, d: Duration) -> HttpOptions {
        self.header_read_timeout = d;
        self
    }

    /// Sets the body read timeout.
    pub fn body_read_timeout(mut self, d: Duration) -> HttpOptions {
        self.body_read_timeout = d;
        self
    }

    /// Sets the body limit, in bytes.
    pub fn body_limit(mut self, bytes: usize) -> HttpOptions {
        self.body_limit = bytes;
        self
    }

    /// Sets the cap on open connections.
    pub fn max_connections(mut self, n: usize) -> HttpOptions {
        self.max_connections = n;
        self
    }

    /// Sets how long shutdown waits for requests in flight.
    pub fn shutdown_timeout(mut self, d: Duration) -> HttpOptions {
        self.shutdown_timeout = d;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Value;

    #[test]
    fn options_are_read_in_the_door_s_words() {
        let raw = http_options(Dialect::TypeScript)
            .with("headerReadTimeout", Value::Number(2000.0))
            .with("bodyLimit", Value::Number(10.0));
        let o = HttpOptions::from_raw(&raw).unwrap();
        assert_eq!(o.header_read_timeout, Duration::from_secs(2));
        assert_eq!(o.body_limit, 10);
        assert_eq!(o.max_connections, 10_000);
        let raw = http_options(Dialect::Python).with("max_connection", Value::Number(1.0));
        let e = HttpOptions::from_raw(&raw).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        assert!(e.message().contains("max_connections"), "{}", e.message());
        let raw = http_options(Dialect::Python).with("body_limit", Value::Number(0.0));
        assert!(HttpOptions::from_raw(&raw).is_err());
    }
}
