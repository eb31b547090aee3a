//! Status codes and the thread's last error.

use std::cell::{Cell, RefCell};
use std::ffi::{CString, c_char};

use omnitron::{Error, ErrorCode};

/// What every fallible function returns. Values match the engine's error codes and never change
/// meaning; retired values stay reserved.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OmnitronStatus {
    /// Success.
    Ok = 0,
    /// An argument was NULL, empty, out of range or not valid UTF-8.
    InvalidArgument = 1,
    /// A handle was NULL, already freed, or of another kind.
    InvalidHandle = 2,
    /// A bug in the library (a caught panic).
    Internal = 3,
    /// A callback returned a non-OK status.
    CallbackFailed = 4,
    /// An operation was cancelled.
    Cancelled = 5,
    /// A deadline or timeout passed.
    Timeout = 6,
    /// E007: an output buffer is too small; the call reports the size needed.
    BufferTooSmall = 7,
    /// DI001: no provider for a token.
    MissingProvider = 100,
    /// DI002: providers depend on each other in a loop.
    CircularDependency = 101,
    /// DI003: a token is registered twice without OMNITRON_PROVIDER_REPLACE.
    DuplicateProvider = 102,
    /// DI004: a malformed provider.
    InvalidProvider = 103,
    /// DI005: an async provider was resolved synchronously.
    AsyncProviderResolvedSync = 104,
    /// DI006: a singleton depends on a scoped provider.
    ScopeViolation = 105,
    /// DI007: a scoped provider was resolved outside a scope.
    ScopeRequired = 106,
    /// DI008: the container (or scope) was disposed.
    ContainerDisposed = 107,
    /// DI009: modules import each other in a loop.
    CircularModuleImport = 108,
    /// DI010: a provider exists but is not exported to the caller.
    NotExported = 109,
    /// DI011: a factory failed.
    FactoryFailed = 110,
    /// DI012: one or more lifecycle hooks failed.
    LifecycleFailed = 111,
    /// DI013: a malformed module.
    InvalidModule = 112,
    /// DI014: an unknown scope.
    InvalidScope = 113,
    /// DI015: a dependency chain longer than the engine's limit (256).
    DependencyTooDeep = 114,
    /// M001: a metric or label name Prometheus does not accept.
    InvalidMetricName = 200,
    /// M002: label values that do not match the metric's label names.
    InvalidLabels = 201,
    /// M003: a metric reached its cap on label sets.
    CardinalityExceeded = 202,
    /// M004: a metric name registered again with a different declaration.
    MetricConflict = 203,
    /// M005: histogram buckets that are empty, unsorted or not finite.
    InvalidBuckets = 204,
    /// M006: a value a metric cannot take (a negative counter increment, NaN).
    InvalidMetricValue = 205,
    /// M007: the metrics HTTP exporter could not start.
    ExporterFailed = 206,
    /// R001: the circuit breaker is open; the call was not made.
    CircuitOpen = 300,
    /// R002: the rate limiter has no token for the call.
    RateLimited = 301,
    /// R003: the bulkhead is full.
    BulkheadFull = 302,
    /// R004: every retry attempt failed.
    RetryExhausted = 303,
    /// R005: a resilience policy with an impossible value.
    InvalidPolicy = 304,
    /// RPC001: no such service, or no version matching the request.
    ServiceNotFound = 400,
    /// RPC002: no such public method.
    MethodNotFound = 401,
    /// RPC003: the auth token is missing or wrong.
    AuthFailed = 402,
    /// RPC004: the peer disconnected with the call in flight.
    PeerDisconnected = 403,
    /// RPC005: a malformed frame or message, or an unsupported protocol version.
    ProtocolError = 404,
    /// RPC006: a frame larger than the maximum.
    FrameTooLarge = 405,
    /// RPC007: a service with that name and version is already exposed.
    DuplicateService = 406,
    /// RPC008: a remote handler failed.
    HandlerFailed = 407,
    /// RPC009: not connected.
    NotConnected = 408,
    /// RPC010: an invalid service name, version, range or address.
    InvalidService = 409,
    /// P001: a child program could not be started.
    SpawnFailed = 500,
    /// P002: a child exited or did not report ready in time.
    ChildNotReady = 501,
    /// P003: a pool's queue is full (backpressure).
    QueueFull = 502,
    /// P004: the worker running a task died and the task's retries are used up.
    WorkerLost = 503,
    /// P005: the pool or supervisor is not running; also every call in a child forked after the
    /// library was used (see "Fork" in the header's top comment).
    NotRunning = 504,
    /// P006: a child used up its restart budget.
    RestartLimit = 505,
    /// P007: a configuration file does not fit the schema.
    InvalidConfig = 506,
    /// P008: no child by that name.
    ChildNotFound = 507,
    /// P009: a worker was started without a parent to connect to.
    NoParent = 508,
    /// WF001: the stages of a workflow depend on each other in a loop.
    WorkflowCycle = 600,
    /// WF002: a stage depends on a stage the workflow does not have.
    UnknownDependency = 601,
    /// WF003: two stages of one workflow have the same name.
    DuplicateStage = 602,
    /// WF004: a malformed workflow definition.
    InvalidWorkflow = 603,
    /// WF005: no workflow of that name is registered.
    WorkflowNotFound = 604,
    /// WF006: no run with that id.
    RunNotFound = 605,
    /// WF007: a stage failed on every attempt.
    StageFailed = 606,
    /// WF008: a stage timed out on its last attempt.
    StageTimeout = 607,
    /// WF009: a run did not finish within the workflow's timeout.
    WorkflowTimeout = 608,
    /// WF010: one or more compensations failed on every attempt.
    CompensationFailed = 609,
    /// WF011: the run was cancelled.
    RunCancelled = 610,
    /// WF012: the workflow journal could not be read or written.
    JournalError = 611,
    /// WF013: the journal has a schema version this build does not read.
    JournalVersion = 612,
    /// WF014: a workflow with that name is already registered.
    DuplicateWorkflow = 613,
    /// WF015: an interrupted run was compensated by its recovery policy.
    RunInterrupted = 614,
    /// WF016: a run id already belongs to a run of another workflow.
    RunIdConflict = 615,
}

impl OmnitronStatus {
    /// Every status, for the mapping test.
    pub(crate) const ALL: &'static [OmnitronStatus] = &[
        OmnitronStatus::InvalidArgument,
        OmnitronStatus::InvalidHandle,
        OmnitronStatus::Internal,
        OmnitronStatus::CallbackFailed,
        OmnitronStatus::Cancelled,
        OmnitronStatus::Timeout,
        OmnitronStatus::BufferTooSmall,
        OmnitronStatus::MissingProvider,
        OmnitronStatus::CircularDependency,
        OmnitronStatus::DuplicateProvider,
        OmnitronStatus::InvalidProvider,
        OmnitronStatus::AsyncProviderResolvedSync,
        OmnitronStatus::ScopeViolation,
        OmnitronStatus::ScopeRequired,
        OmnitronStatus::ContainerDisposed,
        OmnitronStatus::CircularModuleImport,
        OmnitronStatus::NotExported,
        OmnitronStatus::FactoryFailed,
        OmnitronStatus::LifecycleFailed,
        OmnitronStatus::InvalidModule,
        OmnitronStatus::InvalidScope,
        OmnitronStatus::DependencyTooDeep,
        OmnitronStatus::InvalidMetricName,
        OmnitronStatus::InvalidLabels,
        OmnitronStatus::CardinalityExceeded,
        OmnitronStatus::MetricConflict,
        OmnitronStatus::InvalidBuckets,
        OmnitronStatus::InvalidMetricValue,
        OmnitronStatus::ExporterFailed,
        OmnitronStatus::CircuitOpen,
        OmnitronStatus::RateLimited,
        OmnitronStatus::BulkheadFull,
        OmnitronStatus::RetryExhausted,
        OmnitronStatus::InvalidPolicy,
        OmnitronStatus::ServiceNotFound,
        OmnitronStatus::MethodNotFound,
        OmnitronStatus::AuthFailed,
        OmnitronStatus::PeerDisconnected,
        OmnitronStatus::ProtocolError,
        OmnitronStatus::FrameTooLarge,
        OmnitronStatus::DuplicateService,
        OmnitronStatus::HandlerFailed,
        OmnitronStatus::NotConnected,
        OmnitronStatus::InvalidService,
        OmnitronStatus::SpawnFailed,
        OmnitronStatus::ChildNotReady,
        OmnitronStatus::QueueFull,
        OmnitronStatus::WorkerLost,
        OmnitronStatus::NotRunning,
        OmnitronStatus::RestartLimit,
        OmnitronStatus::InvalidConfig,
        OmnitronStatus::ChildNotFound,
        OmnitronStatus::NoParent,
        OmnitronStatus::WorkflowCycle,
        OmnitronStatus::UnknownDependency,
        OmnitronStatus::DuplicateStage,
        OmnitronStatus::InvalidWorkflow,
        OmnitronStatus::WorkflowNotFound,
        OmnitronStatus::RunNotFound,
        OmnitronStatus::StageFailed,
        OmnitronStatus::StageTimeout,
        OmnitronStatus::WorkflowTimeout,
        OmnitronStatus::CompensationFailed,
        OmnitronStatus::RunCancelled,
        OmnitronStatus::JournalError,
        OmnitronStatus::JournalVersion,
        OmnitronStatus::DuplicateWorkflow,
        OmnitronStatus::RunInterrupted,
        OmnitronStatus::RunIdConflict,
    ];

    /// The status for an engine error code (codes and statuses share numbers).
    pub(crate) fn from_code(code: ErrorCode) -> OmnitronStatus {
        Self::ALL.iter().copied().find(|s| *s as u32 == code.as_u32()).unwrap_or(OmnitronStatus::Internal)
    }
}

/// What a C callback returns: an OmnitronStatus, read here as the plain number it is (a callback may
/// return any value, which the Rust enum could not hold). The header spells it `OmnitronStatus`, so a
/// C++ function declared to return OmnitronStatus converts to every callback type, and a C function
/// returning uint32_t still does (in C, OmnitronStatus is uint32_t).
/// cbindgen:ignore
pub type CallbackStatus = u32;

struct LastError {
    status: OmnitronStatus,
    message: CString,
}

thread_local! {
    static LAST: RefCell<Option<LastError>> = const { RefCell::new(None) };
    static CALLBACK_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(e: &Error) {
    let text = e.to_string().replace('\0', " ");
    let message = CString::new(text).unwrap_or_default();
    let status = OmnitronStatus::from_code(e.code());
    LAST.with(|l| *l.borrow_mut() = Some(LastError { status, message }));
    FAILURES.with(|f| f.set(f.get() + 1));
}

thread_local! {
    /// Failing calls on this thread so far, and how many there were when the running callback
    /// started: a failure since then is one the callback saw.
    static FAILURES: Cell<u64> = const { Cell::new(0) };
    static CALLBACK_START: Cell<u64> = const { Cell::new(0) };
}

/// Forgets any message a previous callback left, before a callback runs, and marks where it starts
/// (the thread's last error is kept: the pointer omnitron_last_error_message gave stays valid until
/// the next failing call, as the header says).
pub(crate) fn clear_callback_message() {
    CALLBACK_MESSAGE.with(|m| *m.borrow_mut() = None);
    CALLBACK_START.with(|s| s.set(FAILURES.with(Cell::get)));
}

/// The error a callback passed on: when it returns the status of a library call it made that failed
/// (and said nothing itself), that call's error, unchanged.
pub(crate) fn passed_on(status: u32) -> Option<Error> {
    if CALLBACK_MESSAGE.with(|m| m.borrow().is_some()) {
        return None;
    }
    if FAILURES.with(Cell::get) == CALLBACK_START.with(Cell::get) {
        return None; // No library call failed during the callback.
    }
    LAST.with(|l| {
        let l = l.borrow();
        let last = l.as_ref()?;
        if last.status as u32 != status {
            return None;
        }
        let code = ErrorCode::from_u32(status)?;
        let text = last.message.to_string_lossy();
        let prefix = format!("[{}] ", code.as_str());
        Some(Error::new(code, text.strip_prefix(&prefix).unwrap_or(&text).to_string()))
    })
}

/// Takes the message a callback left with `omnitron_callback_error`, if any.
pub(crate) fn take_callback_message() -> Option<String> {
    CALLBACK_MESSAGE.with(|m| m.borrow_mut().take())
}

/// The message of the last failure on this thread, or NULL if there was none. The string belongs to
/// the library and stays valid until the next failing call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_last_error_message() -> *const c_char {
    LAST.with(|l| l.borrow().as_ref().map_or(std::ptr::null(), |e| e.message.as_ptr()))
}

/// The status of the last failure on this thread, or OMNITRON_STATUS_OK if there was none.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_last_error_status() -> OmnitronStatus {
    LAST.with(|l| l.borrow().as_ref().map_or(OmnitronStatus::Ok, |e| e.status))
}

/// Forgets the last error of this thread.
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_clear_last_error() {
    LAST.with(|l| *l.borrow_mut() = None);
}

/// The stable short id of a status ("DI001", "E002", "OK"), the same `code` that Node and Python
/// errors carry. Static; do not free. Unknown values give "UNKNOWN".
#[unsafe(no_mangle)]
pub extern "C" fn omnitron_status_id(status: u32) -> *const c_char {
    if status == 0 {
        return c"OK".as_ptr();
    }
    match ErrorCode::from_u32(status) {
        Some(code) => id_cstr(code),
        None => c"UNKNOWN".as_ptr(),
    }
}

fn id_cstr(code: ErrorCode) -> *const c_char {
    use std::sync::OnceLock;
    static IDS: OnceLock<Vec<(ErrorCode, CString)>> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        ErrorCode::ALL.iter().map(|c| (*c, CString::new(c.as_str()).unwrap_or_default())).collect()
    });
    ids.iter().find(|(c, _)| *c == code).map_or(c"UNKNOWN".as_ptr(), |(_, s)| s.as_ptr())
}

/// Called from inside a callback (factory, hook) on the same thread, before it returns a non-OK
/// status: says why, and the message becomes part of the error the caller sees. NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn omnitron_callback_error(message: *const c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: non-null and NUL-terminated by contract.
    let text = unsafe { std::ffi::CStr::from_ptr(message) }.to_string_lossy().into_owned();
    CALLBACK_MESSAGE.with(|m| *m.borrow_mut() = Some(text));
}

/// The error for a callback that returned `status`: the library error it passed on, or `code` with
/// `what` and the message it left (or the bare status).
pub(crate) fn callback_error(code: ErrorCode, what: String, status: u32) -> Error {
    if let Some(e) = passed_on(status) {
        return e;
    }
    let why = take_callback_message()
        .unwrap_or_else(|| format!("returned status {status} ({})", status_text(status)));
    Error::new(code, format!("{what}: {why}"))
}

/// A short description of a status number for messages ("DI001" or "unknown").
pub(crate) fn status_text(status: u32) -> &'static str {
    ErrorCode::from_u32(status).map_or("unknown", |c| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_code_has_a_status_with_the_same_number() {
        for code in ErrorCode::ALL {
            let s = OmnitronStatus::from_code(*code);
            assert_eq!(s as u32, code.as_u32(), "{code} has no matching OmnitronStatus");
        }
        assert_eq!(OmnitronStatus::ALL.len(), ErrorCode::ALL.len());
    }
}
