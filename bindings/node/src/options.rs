//! Options checks: the TypeScript layer finds an unknown key itself and asks here for the error,
//! written once in core (`omnitron::options`).

use napi_derive::napi;

use crate::di::JsErrorInfo;

/// The error for an unknown option `key` of `context`, naming the nearest of `allowed`.
#[napi]
pub fn unknown_option(context: String, key: String, allowed: Vec<String>) -> JsErrorInfo {
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let e = omnitron::options::unknown_option(&context, &key, &allowed);
    JsErrorInfo { code: e.code().as_str().to_string(), message: e.message().to_string() }
}
