//! The native half of `@omnitron-dev/native`: a thin napi layer over the engine.
//!
//! JavaScript never sees this module directly; the TypeScript layer in `lib/` wraps it. Everything
//! here translates: JS values to engine specs, engine plans and errors back to JS.

// napi exports must be `pub`, its generated types carry no Debug, and under `cargo test` the
// registration glue is compiled out (so exported functions look unused).
#![allow(unreachable_pub, missing_debug_implementations)]
#![cfg_attr(test, allow(dead_code))]

mod batch;
mod busy_poll;
mod di;
mod error;
mod host_loop;
mod http;
mod log;
mod metrics;
mod options;
mod process;
mod queue;
mod resilience;
mod rpc;
mod rpc_inbox;
mod status;
mod telemetry;
mod workflow;

use napi_derive::napi;

/// The engine version.
#[napi]
pub fn version() -> &'static str {
    omnitron::VERSION
}
