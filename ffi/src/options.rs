//! Options given as JSON objects (`options_json`), handed to core as the user wrote them: core
//! reads them in C's dialect (snake_case keys, durations in milliseconds under `_ms` keys),
//! refuses unknown keys naming the nearest one, and states the rule a wrong value breaks.

use std::ffi::c_char;

use omnitron::dialect::Dialect;
use omnitron::options::{RawOptions, Value};
use omnitron::{Error, ErrorCode};

use crate::boundary::str_arg;

/// The JSON object in `text` as `what`'s options.
pub(crate) fn json_object(
    text: &str,
    what: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::invalid_argument(format!("{what} must be a JSON object"))),
        Err(e) => Err(Error::invalid_argument(format!("{what} is not valid JSON: {e}"))),
    }
}

/// `options_json` (NULL: none given) as the raw options of `what`, whose wrong values are `code`
/// errors.
pub(crate) fn raw_options(
    options_json: *const c_char,
    what: String,
    code: ErrorCode,
) -> Result<RawOptions, Error> {
    let mut raw = RawOptions::new(Dialect::C, what, code);
    if !options_json.is_null() {
        for (k, v) in &json_object(str_arg(options_json, "options_json")?, "options_json")? {
            raw.set(k, Value::from_json(v));
        }
    }
    Ok(raw)
}
