//! Engine errors become JS errors whose `code` is the engine's stable id (`DI001`, ...). The
//! TypeScript layer turns them into `OmnitronError` instances.

use napi::Error;

/// Converts engine errors to JS errors keeping the code.
pub(crate) trait ToJs<T> {
    fn js(self) -> napi::Result<T, String>;
}

impl<T> ToJs<T> for omnitron::Result<T> {
    fn js(self) -> napi::Result<T, String> {
        self.map_err(to_js)
    }
}

pub(crate) fn to_js(e: omnitron::Error) -> Error<String> {
    Error::new(e.code().as_str().to_string(), e.message().to_string())
}
