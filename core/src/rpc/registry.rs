//! What a peer says about the services it can route to: [`ServiceInfo`], the built-in `$registry`
//! service (`list`, `describe`) and the error naming a service's methods when a call names none
//! of them.

use bytes::Bytes;

use super::codec::{WireError, wire};
use super::service::{decode, encode};
use super::state::Inner;
use super::table::Resolved;
use crate::error::{Error, ErrorCode};

/// A service as `services` / `describe` report it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Public methods.
    pub methods: Vec<String>,
    /// Those of them that answer with a stream.
    #[serde(default)]
    pub streams: Vec<String>,
}

pub(super) fn registry_list(inner: &Inner) -> Vec<ServiceInfo> {
    inner
        .table
        .read()
        .list()
        .into_iter()
        .map(|(name, v, methods, streams)| ServiceInfo {
            name,
            version: v.to_string(),
            methods: public(methods),
            streams,
        })
        .collect()
}

pub(super) fn info_of(r: &Resolved) -> ServiceInfo {
    ServiceInfo {
        name: r.name.clone(),
        version: r.version.to_string(),
        methods: public(r.provider.methods()),
        streams: r.provider.streams(),
    }
}

/// A service's interface leaves out the reserved methods (`$batch`, docs/PROTOCOL.md).
fn public(mut methods: Vec<String>) -> Vec<String> {
    methods.retain(|m| !m.starts_with('$'));
    methods
}

/// The built-in `$registry` service.
pub(super) fn builtin_registry(
    inner: &Inner,
    method: &str,
    args: &Bytes,
) -> std::result::Result<Bytes, WireError> {
    let w = |e: Error| WireError::from_error(&e);
    match method {
        "list" => encode(&registry_list(inner)).map_err(w),
        "describe" => {
            let (target,): (String,) = decode(args).map_err(w)?;
            let r = inner.table.read().resolve(&target).map_err(w)?;
            encode(&info_of(&r)).map_err(w)
        }
        other => Err(wire(
            ErrorCode::MethodNotFound,
            format!("'$registry' has no method '{other}' (methods: describe, list)"),
        )),
    }
}

pub(super) fn no_method(r: &Resolved, method: &str) -> WireError {
    let methods = public(r.provider.methods());
    let listed = if methods.is_empty() {
        "it has none".to_string()
    } else {
        format!("methods: {}", methods.join(", "))
    };
    wire(
        ErrorCode::MethodNotFound,
        format!("service '{}' has no public method '{method}' ({listed})", r.id()),
    )
}
