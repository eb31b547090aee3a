//! Dependency injection through the C ABI.
//!
//! Instances are `void *` owned by C. The container owns the instances it builds for singletons and
//! scoped providers (and values registered with a destroy callback): it calls their destroy callback
//! at dispose. A transient instance belongs to whoever resolved it.

pub mod container;
pub mod module;
pub mod provider;
pub mod token;

use std::ffi::c_void;
use std::sync::Arc;

use omnitron::di::Instance;

use crate::boundary::CPtr;

/// A C instance as the engine stores it.
pub(crate) fn instance(ptr: *mut c_void) -> Instance {
    Arc::new(CPtr(ptr))
}

/// The C pointer inside an engine instance (NULL if it is not a C instance, which cannot happen for
/// tokens registered through this API).
pub(crate) fn pointer(inst: &Instance) -> *mut c_void {
    inst.downcast_ref::<CPtr>().map_or(std::ptr::null_mut(), |p| p.0)
}
