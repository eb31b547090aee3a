//! The events each served call publishes when `OMNITRON_CALL_EVENTS` is on (spec 7.1; set by
//! `omnitron.yaml`'s `instrumentation.callEvents`): `<service>.<method>.started`, then
//! `.completed` or `.failed`, on the peer's event bus, in the call's trace, so any process of the application, in any
//! language, can subscribe (`inventory.*.failed`, `#.failed`). Best effort and in order: they go
//! through one bounded queue per peer, drained by one task; a full queue drops them (counted in
//! `omnitron_rpc_call_events_dropped_total`), a call never waits for one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use super::codec::WireError;
use crate::{Error, ErrorCode, Result};

/// How many events may wait to be published.
pub(crate) const QUEUE: usize = 4096;

/// Whether call events are on: read once from `OMNITRON_CALL_EVENTS` (1, true, yes, on; or 0,
/// false, no, off, unset).
pub(crate) fn enabled() -> Result<bool> {
    // 0 unread, 1 off, 2 on.
    static ON: AtomicU8 = AtomicU8::new(0);
    match ON.load(Ordering::Relaxed) {
        1 => return Ok(false),
        2 => return Ok(true),
        _ => {}
    }
    let on = switch(&std::env::var("OMNITRON_CALL_EVENTS").unwrap_or_default())?;
    ON.store(if on { 2 } else { 1 }, Ordering::Relaxed);
    Ok(on)
}

/// The variable's value as on or off.
fn switch(v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::new(
            ErrorCode::InvalidConfig,
            format!("OMNITRON_CALL_EVENTS: '{v}' is not on or off (1, true, yes, on; 0, false, no, off)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_switch_is_on_or_off_and_anything_else_is_named() {
        assert!(super::switch(" ON ").unwrap());
        assert!(!super::switch("").unwrap());
        assert!(!super::switch("0").unwrap());
        let e = super::switch("sometimes").unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidConfig);
        assert!(e.message().starts_with("OMNITRON_CALL_EVENTS: 'sometimes'"), "{e}");
    }
}

/// A hosted service's way to publish its calls' events.
#[derive(Debug, Clone)]
pub(crate) struct CallEvents {
    tx: mpsc::Sender<(String, Bytes, Option<Bytes>)>,
    service: Arc<str>,
    dropped: Option<crate::metrics::Counter>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    service: &'a str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorPayload<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
}

#[derive(Serialize)]
struct ErrorPayload<'a> {
    code: &'a str,
    message: &'a str,
}

impl CallEvents {
    /// The publisher for `service`, through its peer's queue (`Peer::call_event_queue`).
    pub(crate) fn new(
        tx: mpsc::Sender<(String, Bytes, Option<Bytes>)>,
        service: &str,
        registry: &crate::metrics::Registry,
    ) -> CallEvents {
        let dropped = registry
            .counter(crate::metrics::MetricOptions::new(
                "omnitron_rpc_call_events_dropped_total",
                "Call events dropped because the queue to the event bus was full",
            ))
            .ok();
        CallEvents { tx, service: service.into(), dropped }
    }

    /// `<service>.<method>.started`.
    pub(crate) fn started(&self, method: &str, trace: Option<&Bytes>) {
        self.send(method, "started", None, None, trace);
    }

    /// `.completed` or `.failed`, with the duration and the error.
    pub(crate) fn ended(
        &self,
        method: &str,
        took: Duration,
        r: &std::result::Result<Bytes, WireError>,
        trace: Option<&Bytes>,
    ) {
        let ms = Some(took.as_secs_f64() * 1000.0);
        match r {
            Ok(_) => self.send(method, "completed", ms, None, trace),
            Err(e) => self.send(
                method,
                "failed",
                ms,
                Some(ErrorPayload { code: &e.code, message: &e.message }),
                trace,
            ),
        }
    }

    fn send(
        &self,
        method: &str,
        what: &str,
        duration_ms: Option<f64>,
        error: Option<ErrorPayload<'_>>,
        trace: Option<&Bytes>,
    ) {
        let trace_id = trace.and_then(crate::telemetry::from_wire).map(|c| c.trace_id_hex());
        let p = Payload { service: &self.service, method, duration_ms, error, trace_id };
        let Ok(payload) = rmp_serde::to_vec_named(&p) else { return };
        let topic = format!("{}.{method}.{what}", self.service);
        if self.tx.try_send((topic, Bytes::from(payload), trace.cloned())).is_err()
            && let Some(d) = &self.dropped
        {
            d.inc();
        }
    }
}
