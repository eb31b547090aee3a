//! The engine's one error type.
//!
//! Every error carries a stable [`ErrorCode`]: a numeric value (what C sees as a status) and a short
//! string id such as `DI001` (what Node and Python see as `err.code`). Codes are grouped in ranges by
//! module and are never reused; a retired code stays listed as a comment.

use std::fmt;
use std::sync::Arc;

#[cfg(test)]
mod generate;

/// Boxed error from user code (a factory, a hook) kept as the cause of an engine error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for results whose error is the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One row per code: `Variant = number, "ID", ClassName ["python.Base", ...];` with its doc comment.
/// The class name is the exception class Node and Python raise for the code; the optional list
/// holds the Python built-in classes it also derives from (so `except LookupError` catches a
/// missing provider). The C status enum and the Node and Python error classes are generated from
/// this table (`make generate`; `error/generate.rs` checks they match).
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $name:ident = $num:literal, $id:literal, $class:ident $([$($py:literal),*])?; )*) => {
        /// Stable error codes. The numeric value never changes meaning once published.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $name = $num, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name,)*];

            /// The short string id (`DI001`), the same in every language.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$name => $id,)* }
            }

            /// The numeric value, the same as the C status code.
            pub fn as_u32(self) -> u32 {
                self as u32
            }

            /// Looks a code up by its string id.
            pub fn from_id(id: &str) -> Option<ErrorCode> {
                match id { $($id => Some(ErrorCode::$name),)* _ => None }
            }

            /// Looks a code up by its numeric value.
            pub fn from_u32(n: u32) -> Option<ErrorCode> {
                match n { $($num => Some(ErrorCode::$name),)* _ => None }
            }

            /// What the code means, in one sentence (its documentation).
            pub fn description(self) -> &'static str {
                match self { $(ErrorCode::$name => concat!($($doc),*).trim_ascii(),)* }
            }

            /// The name of the exception class Node and Python raise for it (`MissingProviderError`).
            pub fn class_name(self) -> &'static str {
                match self { $(ErrorCode::$name => stringify!($class),)* }
            }
        }

        /// Each code's row as the generators read it: variant name and Python built-in bases.
        #[cfg(test)]
        pub(crate) const ROWS: &[(ErrorCode, &str, &[&str])] =
            &[$((ErrorCode::$name, stringify!($name), &[$($($py),*)?]),)*];
    };
}

error_codes! {
    // 1..=99: general
    /// An argument was null, empty, out of range or of the wrong type.
    InvalidArgument = 1, "E001", InvalidArgumentError ["TypeError", "ValueError"];
    /// A handle was null, already freed, or of the wrong kind.
    InvalidHandle = 2, "E002", InvalidHandleError;
    /// A bug in the engine (a caught panic, a broken invariant).
    Internal = 3, "E003", InternalError;
    /// A user callback (factory, hook, handler) failed.
    CallbackFailed = 4, "E004", CallbackFailedError;
    /// An operation was cancelled.
    Cancelled = 5, "E005", CancelledError ["asyncio.CancelledError"];
    /// A deadline or timeout passed.
    Timeout = 6, "E006", TimeoutError ["builtins.TimeoutError"];
    /// An output buffer the caller passed is too small (the C door; the size needed is reported).
    BufferTooSmall = 7, "E007", BufferTooSmallError ["ValueError"];

    // 100..=199: dependency injection
    /// No provider for a token where one was needed.
    MissingProvider = 100, "DI001", MissingProviderError ["LookupError"];
    /// Providers depend on each other in a loop.
    CircularDependency = 101, "DI002", CircularDependencyError;
    /// A token is registered twice without `override`.
    DuplicateProvider = 102, "DI003", DuplicateProviderError;
    /// A provider definition is malformed (no class/value/factory/alias, bad token, bad dependency).
    InvalidProvider = 103, "DI004", InvalidProviderError ["TypeError"];
    /// An async provider was asked for synchronously before it was created.
    AsyncProviderResolvedSync = 104, "DI005", AsyncResolutionError;
    /// A longer-lived provider depends on a shorter-lived one (a singleton on a scoped provider).
    ScopeViolation = 105, "DI006", ScopeViolationError;
    /// A scoped provider was resolved outside any scope.
    ScopeRequired = 106, "DI007", ScopeRequiredError;
    /// The container was disposed; nothing can be resolved or registered any more.
    ContainerDisposed = 107, "DI008", ContainerDisposedError;
    /// Modules import each other in a loop.
    CircularModuleImport = 108, "DI009", CircularModuleImportError;
    /// A provider exists but its module does not export it to the caller.
    NotExported = 109, "DI010", NotExportedError ["LookupError"];
    /// A factory or constructor failed while creating an instance.
    FactoryFailed = 110, "DI011", FactoryError;
    /// One or more lifecycle hooks (`onInit`, `onDestroy`) failed.
    LifecycleFailed = 111, "DI012", LifecycleError;
    /// A module definition is malformed (unknown export, duplicate name).
    InvalidModule = 112, "DI013", InvalidModuleError ["TypeError"];
    /// An unknown scope name.
    InvalidScope = 113, "DI014", InvalidScopeError ["ValueError"];
    /// A dependency chain longer than the engine's limit (a generated or runaway graph).
    DependencyTooDeep = 114, "DI015", DependencyTooDeepError;

    // 200..=299: metrics
    /// A metric or label name that Prometheus does not accept.
    InvalidMetricName = 200, "M001", InvalidMetricNameError ["ValueError"];
    /// Label values that do not match the metric's declared label names.
    InvalidLabels = 201, "M002", InvalidLabelsError ["ValueError"];
    /// A metric already has as many label sets as its cardinality limit allows.
    CardinalityExceeded = 202, "M003", CardinalityExceededError;
    /// A metric name registered again with a different type, help, labels or buckets.
    MetricConflict = 203, "M004", MetricConflictError ["ValueError"];
    /// Histogram buckets that are empty, unsorted, duplicated or not finite.
    InvalidBuckets = 204, "M005", InvalidBucketsError ["ValueError"];
    /// A value a metric cannot take (a negative counter increment, NaN).
    InvalidMetricValue = 205, "M006", InvalidMetricValueError ["ValueError"];
    /// The metrics HTTP exporter could not start (address in use, bad address).
    ExporterFailed = 206, "M007", ExporterFailedError ["OSError"];

    // 300..=399: resilience
    /// The circuit breaker is open: the call was not made.
    CircuitOpen = 300, "R001", CircuitOpenError;
    /// The rate limiter has no token for the call.
    RateLimited = 301, "R002", RateLimitedError;
    /// The bulkhead's concurrency and queue are both full.
    BulkheadFull = 302, "R003", BulkheadFullError;
    /// Every retry attempt failed.
    RetryExhausted = 303, "R004", RetryExhaustedError;
    /// A resilience policy was configured with an impossible value.
    InvalidPolicy = 304, "R005", InvalidPolicyError ["ValueError"];

    // 400..=499: RPC and transport
    /// No such service, or no version matching the request.
    ServiceNotFound = 400, "RPC001", ServiceNotFoundError ["LookupError"];
    /// No such public method on the service.
    MethodNotFound = 401, "RPC002", MethodNotFoundError ["LookupError"];
    /// The peer's auth token is missing or wrong.
    AuthFailed = 402, "RPC003", AuthFailedError ["PermissionError"];
    /// The peer disconnected with the call in flight.
    PeerDisconnected = 403, "RPC004", PeerDisconnectedError ["ConnectionError"];
    /// A malformed frame or message, or an unsupported protocol version.
    ProtocolError = 404, "RPC005", ProtocolError;
    /// A frame larger than the configured maximum.
    FrameTooLarge = 405, "RPC006", FrameTooLargeError;
    /// A service with that name and version is already exposed.
    DuplicateService = 406, "RPC007", DuplicateServiceError;
    /// A remote handler failed with an error that had no Omnitron code.
    HandlerFailed = 407, "RPC008", RemoteError;
    /// Not connected (and not reconnected within the call's deadline).
    NotConnected = 408, "RPC009", NotConnectedError ["ConnectionError"];
    /// An invalid service name, version or version range, or an invalid address.
    InvalidService = 409, "RPC010", InvalidServiceError ["ValueError"];

    // 500..=599: processes, pools and supervision
    /// A child program could not be started (not found, not executable, bad working directory).
    SpawnFailed = 500, "P001", SpawnFailedError;
    /// A child exited, or did not register, before it was ready.
    ChildNotReady = 501, "P002", ChildNotReadyError;
    /// A pool's queue is full: the task was not queued (backpressure).
    QueueFull = 502, "P003", QueueFullError;
    /// The worker running a task died, and the task's retries are used up.
    WorkerLost = 503, "P004", WorkerLostError;
    /// The pool or supervisor is not running (not started yet, or stopped).
    NotRunning = 504, "P005", NotRunningError;
    /// A child restarted more often than its budget allows (`maxRestarts` within `window`).
    RestartLimit = 505, "P006", RestartLimitError;
    /// An `omnitron.yaml` (or process configuration) that does not fit the schema.
    InvalidConfig = 506, "P007", InvalidConfigError ["ValueError"];
    /// No child by that name or id.
    ChildNotFound = 507, "P008", ChildNotFoundError ["LookupError"];
    /// A worker entry point was started without a parent to connect to.
    NoParent = 508, "P009", NoParentError;
    // 500..=599: reserved for the process module

    // 600..=699: workflows
    /// The stages of a workflow depend on each other in a loop (the message names the loop).
    WorkflowCycle = 600, "WF001", WorkflowCycleError;
    /// A stage depends on a stage the workflow does not have.
    UnknownDependency = 601, "WF002", UnknownDependencyError;
    /// Two stages of one workflow have the same name.
    DuplicateStage = 602, "WF003", DuplicateStageError;
    /// A workflow definition is malformed (empty name, bad option, compensation for no stage).
    InvalidWorkflow = 603, "WF004", InvalidWorkflowError;
    /// No workflow of that name is registered with the engine.
    WorkflowNotFound = 604, "WF005", WorkflowNotFoundError;
    /// No run with that id, in memory or in the journal.
    RunNotFound = 605, "WF006", RunNotFoundError;
    /// A stage failed on every attempt.
    StageFailed = 606, "WF007", StageFailedError;
    /// A stage did not finish within its timeout on its last attempt.
    StageTimeout = 607, "WF008", StageTimeoutError;
    /// A run did not finish within the workflow's timeout.
    WorkflowTimeout = 608, "WF009", WorkflowTimeoutError;
    /// One or more compensations failed on every attempt; the run ended in `compensation_failed`.
    CompensationFailed = 609, "WF010", CompensationFailedError;
    /// The run was cancelled.
    RunCancelled = 610, "WF011", RunCancelledError;
    /// The workflow journal could not be read or written.
    JournalError = 611, "WF012", JournalError;
    /// The journal was written by another schema version than this build reads.
    JournalVersion = 612, "WF013", JournalVersionError;
    /// A workflow with that name is already registered.
    DuplicateWorkflow = 613, "WF014", DuplicateWorkflowError;
    /// A run was interrupted (the process stopped) and its workflow's recovery policy compensated it.
    RunInterrupted = 614, "WF015", RunInterruptedError;
    /// A run id already belongs to a run of another workflow.
    RunIdConflict = 615, "WF016", RunIdConflictError;

    // 700..=799: the HTTP server
    /// A request's body could not be read as the handler asked (malformed JSON, wrong shape).
    InvalidBody = 700, "H001", InvalidBodyError ["ValueError"];
    /// No route matches the request's path.
    RouteNotFound = 701, "H002", RouteNotFoundError ["LookupError"];
    /// A route matches the path but not the method (the answer lists the allowed ones).
    MethodNotAllowed = 702, "H003", MethodNotAllowedError;
    /// A request's body is larger than the server's limit.
    BodyTooLarge = 703, "H004", BodyTooLargeError;
    /// An HTTP handler failed or panicked; the request got a 500.
    HttpHandlerFailed = 704, "H005", HttpHandlerError;
    /// A route pattern is malformed or clashes with another route.
    InvalidRoute = 705, "H006", InvalidRouteError ["ValueError"];
    /// The HTTP server could not bind its address or failed while serving.
    HttpServerFailed = 706, "H007", HttpServerError ["OSError"];
    /// A request's body was not received within the server's body read timeout.
    BodyTimeout = 707, "H008", BodyTimeoutError;
    /// A request's params, query or body failed the route's schema; the problem lists every field.
    ValidationFailed = 708, "H009", ValidationError ["ValueError"];
    /// A route requires authentication and the request has no valid credentials (401).
    Unauthorized = 709, "H010", UnauthorizedError;
    /// The request is authenticated but lacks a role or permission the route requires (403).
    Forbidden = 710, "H011", ForbiddenError;
    /// A client sent more requests than the route's or the server's rate limit allows (429).
    TooManyRequests = 711, "H012", TooManyRequestsError;
    /// A request's body has a media type the route does not take (415).
    UnsupportedMediaType = 712, "H013", UnsupportedMediaTypeError;
    /// The application is not ready (starting or shutting down), or a health check is down (503).
    NotReady = 713, "H014", NotReadyError;

    // 800..=899: job queues
    /// A queue option, name, rate or job option is invalid; the message names it and the rule.
    InvalidQueue = 800, "Q001", InvalidQueueError ["ValueError"];
    /// The queue store failed (the file cannot be written, the server cannot be reached).
    QueueStoreFailed = 801, "Q002", QueueStoreError ["OSError"];
    /// The queue store was written by another version of Omnitron, or is not a queue store.
    QueueStoreVersion = 802, "Q003", QueueStoreVersionError;
    /// No job with that id in the queue.
    JobNotFound = 803, "Q004", JobNotFoundError ["LookupError"];
    /// A job's handler failed (the attempt's error as the job records it).
    JobFailed = 804, "Q005", JobFailedError;
    /// A job's attempt ran longer than its timeout.
    JobTimeout = 805, "Q006", JobTimeoutError;
    /// A worker's lease on a job expired (the worker was lost or too slow to renew): the job went
    /// back to the queue and this worker's outcome was dropped.
    LeaseLost = 806, "Q007", LeaseLostError;
    /// A job's payload could not be serialized; it was refused at `add`.
    InvalidJobData = 807, "Q008", InvalidJobDataError ["TypeError"];
    /// The queue or worker is closed.
    QueueClosed = 808, "Q009", QueueClosedError;
    /// The job is running: it can be removed once it finishes.
    JobActive = 809, "Q010", JobActiveError;
    /// A schedule is invalid: its cron pattern, time zone, interval, name or missed-run policy;
    /// the message names the field and the rule.
    InvalidSchedule = 810, "Q011", InvalidScheduleError ["ValueError"];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An engine error: a stable code, a message written for the person reading it, and what caused it.
///
/// `related` holds the individual errors of an aggregate (for instance every `onDestroy` hook that
/// failed during one `dispose()`).
#[derive(Debug, Clone)]
pub struct Error {
    code: ErrorCode,
    message: String,
    related: Vec<Error>,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// A new error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), related: Vec::new(), source: None }
    }

    /// Shorthand for [`ErrorCode::InvalidArgument`].
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::InvalidArgument, message)
    }

    /// Attaches the cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(Arc::from(source.into()));
        self
    }

    /// Attaches the individual errors of an aggregate.
    pub fn with_related(mut self, related: Vec<Error>) -> Self {
        self.related = related;
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message, without the code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The individual errors of an aggregate error (empty otherwise).
    pub fn related(&self) -> &[Error] {
        &self.related
    }

    /// Prefixes the message with where the error happened, keeping code, cause and related errors.
    pub fn context(mut self, prefix: impl std::fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen_ids = std::collections::HashSet::new();
        let mut seen_nums = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert!(seen_ids.insert(code.as_str()), "duplicate id {code}");
            assert!(seen_nums.insert(code.as_u32()), "duplicate number {code}");
            assert_eq!(ErrorCode::from_id(code.as_str()), Some(code));
            assert_eq!(ErrorCode::from_u32(code.as_u32()), Some(code));
            assert_ne!(code.as_u32(), 0, "0 is reserved for success");
        }
    }

    #[test]
    fn display_has_code_and_message() {
        let e = Error::new(ErrorCode::MissingProvider, "no provider for Foo");
        assert_eq!(e.to_string(), "[DI001] no provider for Foo");
    }
}
