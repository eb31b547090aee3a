//! The engine's one error type.
//!
//! Every error carries a stable [`ErrorCode`]: a numeric value (what C sees as a status) and a short
//! string id such as `DI001` (what Node and Python see as `err.code`). Codes are grouped in ranges by
//! module and are never reused; a retired code stays listed as a comment.

use std::fmt;
use std::sync::Arc;

/// Boxed error from user code (a factory, a hook) kept as the cause of an engine error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for results whose error is the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $num:literal, $id:literal; )*) => {
        /// Stable error codes. The numeric value never changes meaning once published.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $name = $num, )*
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
        }
    };
}

error_codes! {
    // 1..=99: general
    /// An argument was null, empty, out of range or of the wrong type.
    InvalidArgument = 1, "E001";
    /// A handle was null, already freed, or of the wrong kind.
    InvalidHandle = 2, "E002";
    /// A bug in the engine (a caught panic, a broken invariant).
    Internal = 3, "E003";
    /// A user callback (factory, hook, handler) failed.
    CallbackFailed = 4, "E004";
    /// An operation was cancelled.
    Cancelled = 5, "E005";
    /// A deadline or timeout passed.
    Timeout = 6, "E006";
    /// An output buffer the caller passed is too small (the C door; the size needed is reported).
    BufferTooSmall = 7, "E007";

    // 100..=199: dependency injection
    /// No provider for a token where one was needed.
    MissingProvider = 100, "DI001";
    /// Providers depend on each other in a loop.
    CircularDependency = 101, "DI002";
    /// A token is registered twice without `override`.
    DuplicateProvider = 102, "DI003";
    /// A provider definition is malformed (no class/value/factory/alias, bad token, bad dependency).
    InvalidProvider = 103, "DI004";
    /// An async provider was asked for synchronously before it was created.
    AsyncProviderResolvedSync = 104, "DI005";
    /// A longer-lived provider depends on a shorter-lived one (a singleton on a scoped provider).
    ScopeViolation = 105, "DI006";
    /// A scoped provider was resolved outside any scope.
    ScopeRequired = 106, "DI007";
    /// The container was disposed; nothing can be resolved or registered any more.
    ContainerDisposed = 107, "DI008";
    /// Modules import each other in a loop.
    CircularModuleImport = 108, "DI009";
    /// A provider exists but its module does not export it to the caller.
    NotExported = 109, "DI010";
    /// A factory or constructor failed while creating an instance.
    FactoryFailed = 110, "DI011";
    /// One or more lifecycle hooks (`onInit`, `onDestroy`) failed.
    LifecycleFailed = 111, "DI012";
    /// A module definition is malformed (unknown export, duplicate name).
    InvalidModule = 112, "DI013";
    /// An unknown scope name.
    InvalidScope = 113, "DI014";
    /// A dependency chain longer than the engine's limit (a generated or runaway graph).
    DependencyTooDeep = 114, "DI015";

    // 200..=299: metrics
    /// A metric or label name that Prometheus does not accept.
    InvalidMetricName = 200, "M001";
    /// Label values that do not match the metric's declared label names.
    InvalidLabels = 201, "M002";
    /// A metric already has as many label sets as its cardinality limit allows.
    CardinalityExceeded = 202, "M003";
    /// A metric name registered again with a different type, help, labels or buckets.
    MetricConflict = 203, "M004";
    /// Histogram buckets that are empty, unsorted, duplicated or not finite.
    InvalidBuckets = 204, "M005";
    /// A value a metric cannot take (a negative counter increment, NaN).
    InvalidMetricValue = 205, "M006";
    /// The metrics HTTP exporter could not start (address in use, bad address).
    ExporterFailed = 206, "M007";

    // 300..=399: resilience
    /// The circuit breaker is open: the call was not made.
    CircuitOpen = 300, "R001";
    /// The rate limiter has no token for the call.
    RateLimited = 301, "R002";
    /// The bulkhead's concurrency and queue are both full.
    BulkheadFull = 302, "R003";
    /// Every retry attempt failed.
    RetryExhausted = 303, "R004";
    /// A resilience policy was configured with an impossible value.
    InvalidPolicy = 304, "R005";

    // 400..=499: RPC and transport
    /// No such service, or no version matching the request.
    ServiceNotFound = 400, "RPC001";
    /// No such public method on the service.
    MethodNotFound = 401, "RPC002";
    /// The peer's auth token is missing or wrong.
    AuthFailed = 402, "RPC003";
    /// The peer disconnected with the call in flight.
    PeerDisconnected = 403, "RPC004";
    /// A malformed frame or message, or an unsupported protocol version.
    ProtocolError = 404, "RPC005";
    /// A frame larger than the configured maximum.
    FrameTooLarge = 405, "RPC006";
    /// A service with that name and version is already exposed.
    DuplicateService = 406, "RPC007";
    /// A remote handler failed with an error that had no Omnitron code.
    HandlerFailed = 407, "RPC008";
    /// Not connected (and not reconnected within the call's deadline).
    NotConnected = 408, "RPC009";
    /// An invalid service name, version or version range, or an invalid address.
    InvalidService = 409, "RPC010";

    // 500..=599: processes, pools and supervision
    /// A child program could not be started (not found, not executable, bad working directory).
    SpawnFailed = 500, "P001";
    /// A child exited, or did not register, before it was ready.
    ChildNotReady = 501, "P002";
    /// A pool's queue is full: the task was not queued (backpressure).
    QueueFull = 502, "P003";
    /// The worker running a task died, and the task's retries are used up.
    WorkerLost = 503, "P004";
    /// The pool or supervisor is not running (not started yet, or stopped).
    NotRunning = 504, "P005";
    /// A child restarted more often than its budget allows (`maxRestarts` within `window`).
    RestartLimit = 505, "P006";
    /// An `omnitron.yaml` (or process configuration) that does not fit the schema.
    InvalidConfig = 506, "P007";
    /// No child by that name or id.
    ChildNotFound = 507, "P008";
    /// A worker entry point was started without a parent to connect to.
    NoParent = 508, "P009";
    // 500..=599: reserved for the process module

    // 600..=699: workflows
    /// The stages of a workflow depend on each other in a loop (the message names the loop).
    WorkflowCycle = 600, "WF001";
    /// A stage depends on a stage the workflow does not have.
    UnknownDependency = 601, "WF002";
    /// Two stages of one workflow have the same name.
    DuplicateStage = 602, "WF003";
    /// A workflow definition is malformed (empty name, bad option, compensation for no stage).
    InvalidWorkflow = 603, "WF004";
    /// No workflow of that name is registered with the engine.
    WorkflowNotFound = 604, "WF005";
    /// No run with that id, in memory or in the journal.
    RunNotFound = 605, "WF006";
    /// A stage failed on every attempt.
    StageFailed = 606, "WF007";
    /// A stage did not finish within its timeout on its last attempt.
    StageTimeout = 607, "WF008";
    /// A run did not finish within the workflow's timeout.
    WorkflowTimeout = 608, "WF009";
    /// One or more compensations failed on every attempt; the run ended in `compensation_failed`.
    CompensationFailed = 609, "WF010";
    /// The run was cancelled.
    RunCancelled = 610, "WF011";
    /// The workflow journal could not be read or written.
    JournalError = 611, "WF012";
    /// The journal was written by another schema version than this build reads.
    JournalVersion = 612, "WF013";
    /// A workflow with that name is already registered.
    DuplicateWorkflow = 613, "WF014";
    /// A run was interrupted (the process stopped) and its workflow's recovery policy compensated it.
    RunInterrupted = 614, "WF015";
    /// A run id already belongs to a run of another workflow.
    RunIdConflict = 615, "WF016";
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
