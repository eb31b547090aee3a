//! Sending batches of spans to an OTLP/HTTP collector: a small blocking HTTP/1.1 client on the
//! exporter's own thread (one POST per batch, every step under the export timeout), so a slow or
//! dead collector holds only that thread.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::otlp::{self, Resource};
use super::span::{AttrValue, SpanData};
use super::tracer::Tracer;

/// Where a POST goes: `host:port` and the path.
#[derive(Debug, Clone)]
pub(super) struct Target {
    host: String,
    port: u16,
    path: String,
}

impl Target {
    /// `host:port`, an IPv6 address in brackets (for the Host header and messages).
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// From an URL's authority (`host`, `host:port`, `[::1]:port`) and path; None if malformed.
    pub(super) fn parse(authority: &str, path: &str) -> Option<Target> {
        let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
            let (h, after) = rest.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse::<u16>().ok()?,
                None if after.is_empty() => 80,
                None => return None,
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse::<u16>().ok()?),
                None => (authority.to_string(), 80),
            }
        };
        if host.is_empty() || port == 0 || host.contains(['/', '@', ' ']) {
            return None;
        }
        Some(Target { host, port, path: path.to_string() })
    }
}

/// A batch to send.
pub(super) struct Batch<'a> {
    pub(super) resource: &'a Resource<'a>,
    pub(super) spans: &'a [Box<SpanData>],
}

/// Posts export requests to one collector.
pub(super) struct Client {
    target: Target,
    headers: Vec<(String, String)>,
    timeout: Duration,
    /// The last failure's message, so that a dead collector is logged once, not per batch.
    last_error: Option<String>,
    /// The collector's addresses, once resolved.
    addrs: Vec<std::net::SocketAddr>,
}

impl Client {
    pub(super) fn new(endpoint: &str, headers: Vec<(String, String)>, timeout: Duration) -> Option<Client> {
        let rest = endpoint.strip_prefix("http://")?;
        let slash = rest.find('/').unwrap_or(rest.len());
        let path = if slash == rest.len() { "/" } else { &rest[slash..] };
        let target = Target::parse(&rest[..slash], path)?;
        Some(Client { target, headers, timeout, last_error: None, addrs: Vec::new() })
    }

    /// Sends one batch; true if the collector accepted it (a 2xx).
    pub(super) fn send(&mut self, batch: &Batch<'_>) -> bool {
        let body = otlp::export_request(batch.resource, batch.spans);
        match self.post(&body) {
            Ok(()) => {
                if self.last_error.take().is_some() {
                    tracing::info!(endpoint = %self.endpoint(), "the trace collector accepts spans again");
                }
                true
            }
            Err(e) => {
                if self.last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!(endpoint = %self.endpoint(), error = %e, spans = batch.spans.len(),
                        "could not export spans; they are dropped (counted in omnitron_trace_spans_dropped_total)");
                    self.last_error = Some(e);
                }
                false
            }
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}{}", self.target.authority(), self.target.path)
    }

    fn post(&mut self, body: &[u8]) -> Result<(), String> {
        let until = Instant::now() + self.timeout;
        let left = || until.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        // Resolved once, and again only after a failure to connect (a collector that moved).
        if self.addrs.is_empty() {
            self.addrs = (self.target.host.as_str(), self.target.port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {}: {e}", self.target.host))?
                .collect();
        }
        let mut stream = None;
        let mut last = String::from("no address");
        for a in &self.addrs {
            match TcpStream::connect_timeout(a, left()) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("cannot connect to {a}: {e}"),
            }
        }
        let Some(mut s) = stream else {
            self.addrs.clear();
            return Err(last);
        };
        let _ = s.set_nodelay(true);
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.target.path,
            self.target.authority(),
            body.len()
        );
        for (k, v) in &self.headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        // Each write gets what is left of the export's time, so a collector that reads slowly
        // cannot stretch the export past it.
        for part in [head.as_bytes(), body] {
            let mut at = 0;
            while at < part.len() {
                if Instant::now() >= until {
                    return Err("sending: no room within the export timeout".into());
                }
                s.set_write_timeout(Some(left())).map_err(|e| e.to_string())?;
                match s.write(&part[at..]) {
                    Ok(0) => return Err("sending: the collector closed the connection".into()),
                    Ok(n) => at += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("sending: {e}")),
                }
            }
        }
        // The status line is all that is needed; the rest is read only so the collector does not
        // see a reset before it finished writing.
        let mut got = Vec::with_capacity(512);
        let mut buf = [0u8; 1024];
        loop {
            s.set_read_timeout(Some(left())).map_err(|e| e.to_string())?;
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") || got.len() > 64 * 1024 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("waiting for the answer: {e}")),
            }
            if Instant::now() >= until {
                return Err("no answer within the export timeout".into());
            }
        }
        let line = got.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let code = line.split(' ').nth(1).and_then(|c| c.parse::<u16>().ok());
        match code {
            Some(200..=299) => Ok(()),
            Some(c) => Err(format!("the collector answered {c}")),
            None => Err(format!("not an HTTP answer: {:?}", line.trim())),
        }
    }
}

/// The resource this process's spans are exported under.
pub(super) fn resource(t: &Tracer) -> Resource<'_> {
    let mut attributes: Vec<(&str, AttrValue)> = vec![
        ("service.name", AttrValue::from(t.config.service_name.clone())),
        ("telemetry.sdk.name", AttrValue::from("omnitron")),
        ("telemetry.sdk.language", AttrValue::from(t.language.clone())),
        ("telemetry.sdk.version", AttrValue::from(crate::VERSION)),
        ("process.pid", AttrValue::Int(i64::from(std::process::id()))),
    ];
    for (k, v) in &t.config.resource {
        if k != "service.name" {
            attributes.push((k.as_str(), AttrValue::from(v.clone())));
        }
    }
    Resource { attributes, scope_version: crate::VERSION }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_parse() {
        let t = Target::parse("collector:4318", "/v1/traces").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("collector", 4318));
        let t = Target::parse("[::1]:4318", "/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 4318));
        assert_eq!(t.authority(), "[::1]:4318");
        assert_eq!(Target::parse("h", "/").unwrap().port, 80);
        for bad in ["", ":4318", "h:0", "h:99999", "h:x", "[::1", "u@h:1"] {
            assert!(Target::parse(bad, "/").is_none(), "{bad}");
        }
    }
}
