//! libomnitron: the C ABI of the Omnitron engine.
//!
//! Every exported function goes through [`boundary`]: panics are caught, handles are looked up in a
//! table (so a NULL, freed or wrong-kind handle is an error rather than a crash), outputs are cleared
//! on failure, user_data is freed once by its owner's free function, and failures set the thread's
//! last error. The header `include/omnitron.h` is generated from this crate by cbindgen; its top
//! comment (in `cbindgen.toml`) states the contracts every function shares.

#![allow(clippy::missing_safety_doc)] // Each export documents its contract in the header instead.

mod boundary;
pub mod di;
pub mod error;
pub mod http;
pub mod log;
pub mod memory;
pub mod metrics;
mod options;
pub mod process;
pub mod queue;
pub mod resilience;
pub mod rpc;
pub mod status;
pub mod status_page;
pub mod telemetry;
pub mod workflow;

#[cfg(test)]
mod lint;

use std::ffi::c_char;

use boundary::guard_always;

pub use boundary::OmnitronFreeFn;
pub use error::OmnitronStatus;

/// The ABI version of this header. It changes only when a published function or type changes
/// incompatibly; adding functions keeps it. 2: user_data free functions, callbacks returning
/// OmnitronStatus, omnitron_free (0.2.0 of the C ABI; see CHANGELOG.md).
pub const OMNITRON_ABI_VERSION: u32 = 2;

/// The library version as a NUL-terminated string (for example "0.1.0"), the same as
/// OMNITRON_VERSION_STRING of the header it was built with. Static; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_version() -> *const c_char {
    guard_always(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}

/// The library version as a number, OMNITRON_VERSION_NUMBER of the header it was built with
/// (MAJOR * 1000000 + MINOR * 1000 + PATCH).
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_version_number() -> u32 {
    guard_always(version_number)
}

/// The ABI version the library was built with; compare it with OMNITRON_ABI_VERSION from the header
/// you compiled against.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_abi_version() -> u32 {
    guard_always(|| OMNITRON_ABI_VERSION)
}

const fn parse(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u32;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

/// MAJOR * 1000000 + MINOR * 1000 + PATCH, from the crate version (build.rs writes the same into the
/// header).
const fn version_number() -> u32 {
    parse(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + parse(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + parse(env!("CARGO_PKG_VERSION_PATCH"))
}
