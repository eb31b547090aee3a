//! The native half of `@omnitron-dev/native`: a thin napi layer over the engine.
//!
//! JavaScript never sees this module directly; the TypeScript layer in `lib/` wraps it. Everything
//! here translates: JS values to engine specs, engine plans and errors back to JS.

// napi exports must be `pub` at the crate root's reach, and its generated types carry no Debug.
#![allow(unreachable_pub, missing_debug_implementations)]

mod di;
mod error;

use napi_derive::napi;

/// The engine version.
#[napi]
pub fn version() -> &'static str {
    omnitron::VERSION
}
