//! libomnitron: the C ABI of the Omnitron engine.
//!
//! Every exported function goes through [`boundary`]: panics are caught, handles are looked up in a
//! table (so a NULL, freed or wrong-kind handle is an error rather than a crash), and failures set
//! the thread's last error. The header `include/omnitron.h` is generated from this crate by cbindgen.

#![allow(clippy::missing_safety_doc)] // Each export documents its contract in the header instead.

mod boundary;
pub mod di;
pub mod error;
pub mod metrics;
pub mod process;
pub mod resilience;
pub mod rpc;
pub mod workflow;

use std::ffi::c_char;

pub use error::OmnitronStatus;

/// The ABI version of this header. It changes only when a published function or type changes
/// incompatibly; adding functions keeps it.
pub const OMNITRON_ABI_VERSION: u32 = 1;

/// The library version as a NUL-terminated string (for example "0.1.0"). Static; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version the library was built with; compare it with OMNITRON_ABI_VERSION from the header
/// you compiled against.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_abi_version() -> u32 {
    OMNITRON_ABI_VERSION
}
