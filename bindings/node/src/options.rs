//! Options: the TypeScript layer finds an unknown key itself and asks here for the error, and
//! hands a capability's options over as they are (`raw`), for core to check (`omnitron::options`).

use napi_derive::napi;
use omnitron::ErrorCode;
use omnitron::dialect::Dialect;
use omnitron::options::{RawOptions, Value};

use crate::di::JsErrorInfo;

/// The error for an unknown option `key` of `context`, naming the nearest of `allowed`.
#[napi]
pub fn unknown_option(context: String, key: String, allowed: Vec<String>) -> JsErrorInfo {
    let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
    let e = omnitron::options::unknown_option(&context, &key, &allowed);
    JsErrorInfo { code: e.code().as_str().to_string(), message: e.message().to_string() }
}

/// One option as the user gave it, for core to check (`omnitron::options::RawOptions`): at most one
/// of the values is set; none is `null`.
#[napi(object)]
pub struct JsRawOption {
    /// The key as the user wrote it (`failureRate`); empty for a list's item.
    pub key: String,
    pub number: Option<f64>,
    pub text: Option<String>,
    pub flag: Option<bool>,
    /// Anything else, described (`a function`).
    pub other: Option<String>,
    /// A list (its items' keys are empty).
    pub list: Option<Vec<JsRawOption>>,
    /// Nested options (a plain object).
    pub map: Option<Vec<JsRawOption>>,
}

/// The options for `what` as core reads them; a wrong value is a `code` error.
pub(crate) fn raw(what: String, code: ErrorCode, options: Vec<JsRawOption>) -> RawOptions {
    let mut raw = RawOptions::new(Dialect::TypeScript, what, code);
    for (key, v) in entries(options) {
        raw.set(&key, v);
    }
    raw
}

/// The options as (key as written, value) pairs: nested options (a health check's) are a map of
/// them.
pub(crate) fn entries(options: Vec<JsRawOption>) -> Vec<(String, Value)> {
    options.into_iter().map(|o| (o.key.clone(), value(o))).collect()
}

fn value(o: JsRawOption) -> Value {
    match o {
        JsRawOption { number: Some(n), .. } => Value::Number(n),
        JsRawOption { text: Some(s), .. } => Value::Text(s),
        JsRawOption { flag: Some(b), .. } => Value::Bool(b),
        JsRawOption { other: Some(d), .. } => Value::Other(d),
        JsRawOption { list: Some(items), .. } => Value::List(items.into_iter().map(value).collect()),
        JsRawOption { map: Some(items), .. } => Value::Map(entries(items)),
        _ => Value::Null,
    }
}
