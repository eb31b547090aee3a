//! Logging from C through the application's structured logger: the same JSON lines as every other
//! process of the application, with this thread's trace (a handler's records name its call's),
//! and the same filter (OMNITRON_LOG, omnitron.yaml's `logging:`, `omnitron log-level`).

use std::ffi::c_char;

use omnitron::Error;
use omnitron::log::{self, Level, Record};

use crate::boundary::{check_out, give_string, guard, guard_out, guard_value, str_arg, write_out};
use crate::error::OmnitronStatus;

/// Level: step-by-step detail.
pub const OMNITRON_LOG_TRACE: u32 = 10;
/// Level: what a developer needs to follow a request.
pub const OMNITRON_LOG_DEBUG: u32 = 20;
/// Level: normal operation.
pub const OMNITRON_LOG_INFO: u32 = 30;
/// Level: something unexpected the process recovered from.
pub const OMNITRON_LOG_WARN: u32 = 40;
/// Level: an operation failed.
pub const OMNITRON_LOG_ERROR: u32 = 50;
/// Level: the process cannot go on.
pub const OMNITRON_LOG_FATAL: u32 = 60;

fn level_arg(level: u32) -> Result<Level, Error> {
    Level::from_number(level)
}

/// Reads OMNITRON_LOG, OMNITRON_LOG_FORMAT and OMNITRON_LOG_CONTROL (once), names this process
/// `name` in its records unless OMNITRON_CHILD_NAME or OTEL_SERVICE_NAME does, and sends the
/// engine's own diagnostics to the logger. Logging works without it (with the defaults: `info`,
/// JSON unless standard error is a terminal). A variable it cannot use is
/// OMNITRON_STATUS_INVALID_CONFIG, naming it (the defaults then stay for it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_log_init(name: *const c_char) -> OmnitronStatus {
    guard(|| {
        let name = str_arg(name, "name")?;
        log::install_bridge();
        log::init_from_env(name)
    })
}

/// Whether a record of `level` from `module` would be written (to skip building an expensive
/// one). False for NULL or a level that is not one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_log_enabled(level: u32, module: *const c_char) -> bool {
    guard_value(|| Ok(log::enabled(level_arg(level)?, str_arg(module, "module")?)))
}

/// Writes a record of `level` (OMNITRON_LOG_*) from `module` (a dotted name, "" for none) with
/// `message`, and `fields_json` (NULL, or the text of one JSON object whose keys are added to the
/// record). The record carries this thread's trace context and, in a handler, its call's. Nothing
/// is written when the filter leaves `level` out for `module`; that is OMNITRON_STATUS_OK.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_log(
    level: u32,
    module: *const c_char,
    message: *const c_char,
    fields_json: *const c_char,
) -> OmnitronStatus {
    guard(|| {
        let level = level_arg(level)?;
        let module = str_arg(module, "module")?;
        let message = str_arg(message, "message")?;
        let fields = if fields_json.is_null() { None } else { Some(str_arg(fields_json, "fields_json")?) };
        let mut r = Record::new(level, module, message);
        r.fields = fields;
        log::write_checked(&r)
    })
}

/// Replaces this process's filter: a level, or a level then `module=level` items
/// (`"info,orders=debug"`). A bad one is OMNITRON_STATUS_INVALID_ARGUMENT naming the item, and
/// nothing changes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_log_set_filter(filter: *const c_char) -> OmnitronStatus {
    guard(|| log::set_filter(str_arg(filter, "filter")?))
}

/// Sets one module's level ("trace" ... "fatal", or "off"), keeping the rest of the filter;
/// `module` "" sets the default.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_log_set_level(
    module: *const c_char,
    level: *const c_char,
) -> OmnitronStatus {
    guard(|| log::set_level(str_arg(module, "module")?, str_arg(level, "level")?))
}

/// The filter in force (`*out`, NUL-terminated; free it with omnitron_free).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_log_filter(out: *mut *mut c_char) -> OmnitronStatus {
    guard_out(out, || {
        check_out(out, "out")?;
        write_out(out, give_string(&log::filter())?, "out")
    })
}
