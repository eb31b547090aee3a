//! The structured logger for JavaScript (`lib/log.ts`, a pino-shaped `Logger`): records go
//! through the engine's, so a Node process writes the same JSON lines as every other process of
//! the application, and the same filter decides what is written.

use napi_derive::napi;
use omnitron::log::{self, Level, Record};
use omnitron::telemetry::TraceContext;

use crate::error::ToJs;

fn level_of(n: f64) -> omnitron::Result<Level> {
    // lib/log.ts passes pino's numbers only; anything else is refused as the engine words it.
    let whole = n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n);
    Level::from_number(if whole { n as u32 } else { 0 })
}

/// Sends the engine's own diagnostics to the logger and reads `OMNITRON_LOG*` (once); a value it
/// cannot use is returned as a message (the logger keeps its defaults for it).
#[napi]
pub fn log_init(name: String) -> Option<String> {
    log::install_bridge();
    log::init_from_env(&name).err().map(|e| e.to_string())
}

/// Whether a record of pino level `level` from `module` would be written.
#[napi]
pub fn log_enabled(level: f64, module: String) -> bool {
    level_of(level).is_ok_and(|l| log::enabled(l, &module))
}

/// pino's number for the threshold that applies to `module`; `Infinity` when it is off.
#[napi]
pub fn log_threshold(module: String) -> f64 {
    log::threshold(&module).map_or(f64::INFINITY, |l| f64::from(l.number()))
}

/// A number that changes whenever the filter does (what a logger's cached level is checked with).
#[napi]
pub fn log_generation() -> f64 {
    log::generation() as f64
}

/// Writes one record. `fields` is the text of a JSON object (the logger's bindings and the
/// call's object); `traceparent` the current trace's.
#[napi]
pub fn log_write(
    level: f64,
    module: String,
    msg: String,
    fields: Option<String>,
    service: Option<String>,
    method: Option<String>,
    traceparent: Option<String>,
) -> napi::Result<(), String> {
    let level = level_of(level).js()?;
    let trace = traceparent.as_deref().and_then(TraceContext::from_traceparent);
    let mut r = Record::new(level, &module, &msg);
    r.fields = fields.as_deref();
    r.service = service.as_deref();
    r.method = method.as_deref();
    r.trace = trace.as_ref();
    log::write_checked(&r).js()
}

/// Replaces the filter (`info,orders=debug`).
#[napi]
pub fn log_set_filter(spec: String) -> napi::Result<(), String> {
    log::set_filter(&spec).js()
}

/// Sets one module's level (the default's for `''`).
#[napi]
pub fn log_set_level(module: String, level: String) -> napi::Result<(), String> {
    log::set_level(&module, &level).js()
}

/// The filter in force.
#[napi]
pub fn log_filter() -> String {
    log::filter()
}
