/*
 * libomnitron: the C ABI of the Omnitron engine. Every contract below holds for every function
 * unless the function's own comment says otherwise; docs/C_API.md has the details and examples.
 *
 * STATUS
 *  - Every fallible function returns an OmnitronStatus; OMNITRON_STATUS_OK (0) is success. After a
 *    failure, omnitron_last_error_message() / _status() describe it (per thread).
 *
 * OUTPUTS
 *  - Output pointers must not be NULL unless the function says they may be. On failure every
 *    output is set to NULL / 0 / false / an empty OmnitronBuffer (and owner to OMNITRON_OWNER_NONE),
 *    except the reports a function documents (the size a too-small buffer needs, a rate limiter's
 *    wait, retry attempts made), so a failed call never leaves a stale or half-written value.
 *
 * MEMORY
 *  - Memory the library allocates for you (a `char *` output, the `data` of an OmnitronBuffer) is
 *    freed with omnitron_free(), from any thread. `const char *` results (messages, names, status
 *    ids, versions) belong to the library: never free them. A second free of the same pointer, or
 *    a pointer the library did not hand out, is refused (nothing freed, nothing read through it;
 *    last error OMNITRON_STATUS_INVALID_ARGUMENT), not undefined behaviour.
 *  - Handles are freed with their own _free function (omnitron_peer_free, ...), which also stops
 *    what runs behind them. _free functions accept NULL and handles already freed. A NULL, freed or
 *    wrong-kind handle passed anywhere else is OMNITRON_STATUS_INVALID_HANDLE, never a crash.
 *
 * USER_DATA
 *  - A function that keeps a callback's `user_data` beyond the call takes `free_user_data` right
 *    after it. free_user_data(user_data) then runs exactly once, after the last call of the
 *    callbacks that use it, when the library lets go of it (the function says when: a handle freed,
 *    an unsubscribe, a hook replaced, a completion delivered), on the thread that lets go last; and
 *    when the function itself fails, before it returns. NULL means the library never frees it (keep
 *    it valid for as long as the library may call back). A free_user_data function must not call
 *    into the library except omnitron_free() and the _free functions of other handles.
 *  - Functions that use user_data only during the call (omnitron_breaker_call, omnitron_retry_call,
 *    omnitron_bulkhead_call, omnitron_peer_call_stream) take no free function.
 *
 * THREADS
 *  - Every handle type may be used from several threads at once; the library serializes where it
 *    must. Do not free a handle other threads are still using: the library stays memory-safe (their
 *    calls finish or fail with OMNITRON_STATUS_INVALID_HANDLE) but what they do is unspecified.
 *  - OmnitronReply, OmnitronStreamSink, OmnitronStageOutput, OmnitronStageContext,
 *    OmnitronHttpRequest and OmnitronHttpResponse are given to one callback call: use them only
 *    inside it, on its thread. An OmnitronJob is not: it is used from any thread, during its
 *    callback or later, until omnitron_job_complete or _fail finishes (and frees) it.
 *  - Callbacks run on the thread that called into the library, unless the function says they run
 *    on an engine thread (RPC handlers, events, completions, supervisor hooks, workflow stages,
 *    HTTP handlers and health checks, queue job callbacks).
 *    Engine threads are shared: completions and event callbacks should return quickly.
 *  - From inside a callback, do not free, stop, dispose or wait for the object whose callback it is
 *    (omnitron_peer_free from its handler, omnitron_supervisor_stop from its hook, omnitron_pool_free
 *    from its completion, omnitron_workflow_wait / _cancel on the run of a stage, disposing the
 *    container from its on_destroy, omnitron_http_app_close / _free / _inject from its handler): they may wait for the callback to end, and it is waiting for
 *    them. Other calls, including blocking ones on other objects, are allowed.
 *    omnitron_callback_error() is only for callbacks, on the callback's thread.
 *
 * CALLBACKS MUST NOT UNWIND
 *  - No C++ exception, longjmp or other unwinding may leave a callback into the library: catch
 *    everything inside the callback and return a status (say why with omnitron_callback_error()).
 *    Unwinding through the library is undefined behaviour (in practice the process aborts). The
 *    other way, no Rust panic crosses into your code: it becomes OMNITRON_STATUS_INTERNAL (the
 *    last error's status; a function returning a pointer, a count or a flag returns NULL, 0, false).
 *  - Callback types return OmnitronStatus. In C that is uint32_t, so callbacks returning uint32_t
 *    also fit; in C++ it is an enum, so declare them (and lambdas) to return OmnitronStatus.
 *
 * FORK
 *  - The library starts threads when it needs them (an async runtime, blocking pools); fork() copies
 *    neither them nor the locks they hold. In a child forked from a process that had called any
 *    function of the library, every function fails at once with OMNITRON_STATUS_NOT_RUNNING and
 *    does nothing but clear its outputs, _free functions included: handles made before the fork can
 *    be neither used nor freed there (memory the library handed out may still be read), and a
 *    free_user_data given to such a call is not called (the exception to the USER_DATA rule: the
 *    child is about to exec or exit). Such a child must exec a new program (which may use the library) or
 *    _exit. Only omnitron_version, _version_number, _abi_version, _status_id and the last-error
 *    functions still answer. A process that had not called into the library before fork() may use
 *    it freely in the child. The parent is not affected by forking.
 *
 * VERSIONS
 *  - OMNITRON_VERSION_NUMBER (below) lets `#if` test for newer functions; OMNITRON_ABI_VERSION
 *    changes when a published signature does. omnitron_version_number() and
 *    omnitron_abi_version() tell what the linked library was built as.
 */


#ifndef OMNITRON_H
#define OMNITRON_H

/* Generated by cbindgen from ffi/. Do not edit: change the Rust code and rebuild. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Marks functions kept for compatibility; the note names the replacement. Define
// OMNITRON_NO_DEPRECATION before including the header to silence the warnings.
#if defined(OMNITRON_NO_DEPRECATION)
#define OMNITRON_DEPRECATED(note)
#elif defined(__GNUC__) || defined(__clang__)
#define OMNITRON_DEPRECATED(note) __attribute__((deprecated(note)))
#elif defined(_MSC_VER)
#define OMNITRON_DEPRECATED(note) __declspec(deprecated(note))
#else
#define OMNITRON_DEPRECATED(note)
#endif
// The version of this header, from the library's crate version. Test for newer functions with
// `#if OMNITRON_VERSION_NUMBER >= OMNITRON_MAKE_VERSION(0, 2, 0)`; compare with
// omnitron_version_number() at run time to check the library you linked.
#define OMNITRON_VERSION_MAJOR 0
#define OMNITRON_VERSION_MINOR 2
#define OMNITRON_VERSION_PATCH 0
// MAJOR * 1000000 + MINOR * 1000 + PATCH (minor and patch stay below 1000).
#define OMNITRON_MAKE_VERSION(major, minor, patch) ((major) * 1000000 + (minor) * 1000 + (patch))
#define OMNITRON_VERSION_NUMBER 2000
#define OMNITRON_VERSION_STRING "0.2.0"


// The ABI version of this header. It changes only when a published function or type changes
// incompatibly; adding functions keeps it. 2: user_data free functions, callbacks returning
// OmnitronStatus, omnitron_free (0.2.0 of the C ABI; see CHANGELOG.md).
#define OMNITRON_ABI_VERSION 2

// omnitron_container_resolve_with_owner: nothing (the call failed).
#define OMNITRON_OWNER_NONE 0

// omnitron_container_resolve_with_owner: the caller owns the instance and releases it (a
// transient: the container keeps no reference and runs no on_destroy for it).
#define OMNITRON_OWNER_CALLER 1

// omnitron_container_resolve_with_owner: the container holds the instance (a singleton or a
// value) until omnitron_container_dispose, which runs its on_destroy; do not release it.
#define OMNITRON_OWNER_CONTAINER 2

// omnitron_container_resolve_with_owner: the scope holds the instance (a scoped provider, or the
// scope's context) until omnitron_scope_dispose / omnitron_scope_free; do not release it.
#define OMNITRON_OWNER_SCOPE 3

// omnitron_container_export_graph format: JSON.
#define OMNITRON_GRAPH_JSON 0

// omnitron_container_export_graph format: a Mermaid flowchart.
#define OMNITRON_GRAPH_MERMAID 1

// omnitron_provider_set_lifetime: one instance per container (the default).
#define OMNITRON_LIFETIME_SINGLETON 0

// omnitron_provider_set_lifetime: a new instance on every resolve, owned by the caller.
#define OMNITRON_LIFETIME_TRANSIENT 1

// omnitron_provider_set_lifetime: one instance per scope (omnitron_container_create_scope).
#define OMNITRON_LIFETIME_SCOPED 2

// omnitron_provider_add_dependency flag: NULL is passed when nothing provides the dependency.
#define OMNITRON_DEP_OPTIONAL 1

// omnitron_provider_set_flags flag: one of several providers of a multi token.
#define OMNITRON_PROVIDER_MULTI 1

// omnitron_provider_set_flags flag: replaces an existing provider of the token.
#define OMNITRON_PROVIDER_REPLACE 2

// Level: step-by-step detail.
#define OMNITRON_LOG_TRACE 10

// Level: what a developer needs to follow a request.
#define OMNITRON_LOG_DEBUG 20

// Level: normal operation.
#define OMNITRON_LOG_INFO 30

// Level: something unexpected the process recovered from.
#define OMNITRON_LOG_WARN 40

// Level: an operation failed.
#define OMNITRON_LOG_ERROR 50

// Level: the process cannot go on.
#define OMNITRON_LOG_FATAL 60

// Exposition format: Prometheus text (version 0.0.4).
#define OMNITRON_METRICS_TEXT 0

// Exposition format: OpenMetrics text (1.0.0).
#define OMNITRON_METRICS_OPENMETRICS 1

// Exposition format: a JSON snapshot (an array of families with their series).
#define OMNITRON_METRICS_JSON 2

// Crash hook answer: what the child's restart policy says.
#define OMNITRON_CRASH_DEFAULT 0

// Crash hook answer: restart it (by the strategy, within the budget).
#define OMNITRON_CRASH_RESTART 1

// Crash hook answer: leave it down.
#define OMNITRON_CRASH_IGNORE 2

// Crash hook answer: fail the supervisor (its parent sees a crash).
#define OMNITRON_CRASH_ESCALATE 3

// Crash hook answer: stop the supervisor cleanly.
#define OMNITRON_CRASH_SHUTDOWN 4

// Breaker state: calls go through.
#define OMNITRON_BREAKER_CLOSED 0

// Breaker state: calls fail fast with OMNITRON_STATUS_CIRCUIT_OPEN.
#define OMNITRON_BREAKER_OPEN 1

// Breaker state: a few trial calls go through.
#define OMNITRON_BREAKER_HALF_OPEN 2

// omnitron_breaker_record outcome: the call worked.
#define OMNITRON_OUTCOME_SUCCESS 0

// omnitron_breaker_record outcome: the call failed and it counts.
#define OMNITRON_OUTCOME_FAILURE 1

// omnitron_breaker_record outcome: the call failed in a way that does not count (or was cancelled).
#define OMNITRON_OUTCOME_IGNORED 2

// omnitron_breaker_record outcome: the call took too long (counts as a failure).
#define OMNITRON_OUTCOME_TIMEOUT 3

// OmnitronRetryOptions.backoff: the same delay every time (`initial_ms`).
#define OMNITRON_BACKOFF_FIXED 0

// OmnitronRetryOptions.backoff: `initial_ms + step_ms * (n - 1)`.
#define OMNITRON_BACKOFF_LINEAR 1

// OmnitronRetryOptions.backoff: `initial_ms * factor^(n - 1)`.
#define OMNITRON_BACKOFF_EXPONENTIAL 2

// OmnitronRetryOptions.jitter: none.
#define OMNITRON_JITTER_NONE 0

// OmnitronRetryOptions.jitter: uniform in [0, delay].
#define OMNITRON_JITTER_FULL 1

// OmnitronRetryOptions.jitter: delay/2 plus uniform in [0, delay/2].
#define OMNITRON_JITTER_EQUAL 2

// omnitron_rate_limiter_new kind: a token bucket (`points` per `duration_ms`, refilled
// continuously, bursts up to `points`).
#define OMNITRON_RATE_LIMIT_TOKEN_BUCKET 0

// omnitron_rate_limiter_new kind: at most `points` calls in any window of `duration_ms`.
#define OMNITRON_RATE_LIMIT_SLIDING_WINDOW 1

// Handler data format: MessagePack (arguments are an array; the result any value).
#define OMNITRON_FORMAT_MSGPACK 0

// Handler data format: JSON text (arguments are a JSON array; the result any JSON value).
#define OMNITRON_FORMAT_JSON 1

// Recovery policy: resume an interrupted run (the default).
#define OMNITRON_RECOVERY_RESUME 0

// Recovery policy: compensate an interrupted run.
#define OMNITRON_RECOVERY_COMPENSATE 1

// What every fallible function returns. Values match the engine's error codes and never
// change meaning; retired values stay reserved. `omnitron_status_id` gives the short id
// (`DI001`) that Node and Python errors carry as `code`.
enum OmnitronStatus
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // Success.
  OMNITRON_STATUS_OK = 0,
  // E001: an argument was null, empty, out of range or of the wrong type.
  OMNITRON_STATUS_INVALID_ARGUMENT = 1,
  // E002: a handle was null, already freed, or of the wrong kind.
  OMNITRON_STATUS_INVALID_HANDLE = 2,
  // E003: a bug in the engine (a caught panic, a broken invariant).
  OMNITRON_STATUS_INTERNAL = 3,
  // E004: a user callback (factory, hook, handler) failed.
  OMNITRON_STATUS_CALLBACK_FAILED = 4,
  // E005: an operation was cancelled.
  OMNITRON_STATUS_CANCELLED = 5,
  // E006: a deadline or timeout passed.
  OMNITRON_STATUS_TIMEOUT = 6,
  // E007: an output buffer the caller passed is too small (the C door; the size needed is reported).
  OMNITRON_STATUS_BUFFER_TOO_SMALL = 7,
  // DI001: no provider for a token where one was needed.
  OMNITRON_STATUS_MISSING_PROVIDER = 100,
  // DI002: providers depend on each other in a loop.
  OMNITRON_STATUS_CIRCULAR_DEPENDENCY = 101,
  // DI003: a token is registered twice without `override`.
  OMNITRON_STATUS_DUPLICATE_PROVIDER = 102,
  // DI004: a provider definition is malformed (no class/value/factory/alias, bad token, bad dependency).
  OMNITRON_STATUS_INVALID_PROVIDER = 103,
  // DI005: an async provider was asked for synchronously before it was created.
  OMNITRON_STATUS_ASYNC_PROVIDER_RESOLVED_SYNC = 104,
  // DI006: a longer-lived provider depends on a shorter-lived one (a singleton on a scoped provider).
  OMNITRON_STATUS_SCOPE_VIOLATION = 105,
  // DI007: a scoped provider was resolved outside any scope.
  OMNITRON_STATUS_SCOPE_REQUIRED = 106,
  // DI008: the container was disposed; nothing can be resolved or registered any more.
  OMNITRON_STATUS_CONTAINER_DISPOSED = 107,
  // DI009: modules import each other in a loop.
  OMNITRON_STATUS_CIRCULAR_MODULE_IMPORT = 108,
  // DI010: a provider exists but its module does not export it to the caller.
  OMNITRON_STATUS_NOT_EXPORTED = 109,
  // DI011: a factory or constructor failed while creating an instance.
  OMNITRON_STATUS_FACTORY_FAILED = 110,
  // DI012: one or more lifecycle hooks (`onInit`, `onDestroy`) failed.
  OMNITRON_STATUS_LIFECYCLE_FAILED = 111,
  // DI013: a module definition is malformed (unknown export, duplicate name).
  OMNITRON_STATUS_INVALID_MODULE = 112,
  // DI014: an unknown scope name.
  OMNITRON_STATUS_INVALID_SCOPE = 113,
  // DI015: a dependency chain longer than the engine's limit (a generated or runaway graph).
  OMNITRON_STATUS_DEPENDENCY_TOO_DEEP = 114,
  // M001: a metric or label name that Prometheus does not accept.
  OMNITRON_STATUS_INVALID_METRIC_NAME = 200,
  // M002: label values that do not match the metric's declared label names.
  OMNITRON_STATUS_INVALID_LABELS = 201,
  // M003: a metric already has as many label sets as its cardinality limit allows.
  OMNITRON_STATUS_CARDINALITY_EXCEEDED = 202,
  // M004: a metric name registered again with a different type, help, labels or buckets.
  OMNITRON_STATUS_METRIC_CONFLICT = 203,
  // M005: histogram buckets that are empty, unsorted, duplicated or not finite.
  OMNITRON_STATUS_INVALID_BUCKETS = 204,
  // M006: a value a metric cannot take (a negative counter increment, NaN).
  OMNITRON_STATUS_INVALID_METRIC_VALUE = 205,
  // M007: the metrics HTTP exporter could not start (address in use, bad address).
  OMNITRON_STATUS_EXPORTER_FAILED = 206,
  // R001: the circuit breaker is open: the call was not made.
  OMNITRON_STATUS_CIRCUIT_OPEN = 300,
  // R002: the rate limiter has no token for the call.
  OMNITRON_STATUS_RATE_LIMITED = 301,
  // R003: the bulkhead's concurrency and queue are both full.
  OMNITRON_STATUS_BULKHEAD_FULL = 302,
  // R004: every retry attempt failed.
  OMNITRON_STATUS_RETRY_EXHAUSTED = 303,
  // R005: a resilience policy was configured with an impossible value.
  OMNITRON_STATUS_INVALID_POLICY = 304,
  // RPC001: no such service, or no version matching the request.
  OMNITRON_STATUS_SERVICE_NOT_FOUND = 400,
  // RPC002: no such public method on the service.
  OMNITRON_STATUS_METHOD_NOT_FOUND = 401,
  // RPC003: the peer's auth token is missing or wrong.
  OMNITRON_STATUS_AUTH_FAILED = 402,
  // RPC004: the peer disconnected with the call in flight.
  OMNITRON_STATUS_PEER_DISCONNECTED = 403,
  // RPC005: a malformed frame or message, or an unsupported protocol version.
  OMNITRON_STATUS_PROTOCOL_ERROR = 404,
  // RPC006: a frame larger than the configured maximum.
  OMNITRON_STATUS_FRAME_TOO_LARGE = 405,
  // RPC007: a service with that name and version is already exposed.
  OMNITRON_STATUS_DUPLICATE_SERVICE = 406,
  // RPC008: a remote handler failed with an error that had no Omnitron code.
  OMNITRON_STATUS_HANDLER_FAILED = 407,
  // RPC009: not connected (and not reconnected within the call's deadline).
  OMNITRON_STATUS_NOT_CONNECTED = 408,
  // RPC010: an invalid service name, version or version range, or an invalid address.
  OMNITRON_STATUS_INVALID_SERVICE = 409,
  // P001: a child program could not be started (not found, not executable, bad working directory).
  OMNITRON_STATUS_SPAWN_FAILED = 500,
  // P002: a child exited, or did not register, before it was ready.
  OMNITRON_STATUS_CHILD_NOT_READY = 501,
  // P003: a pool's queue is full: the task was not queued (backpressure).
  OMNITRON_STATUS_QUEUE_FULL = 502,
  // P004: the worker running a task died, and the task's retries are used up.
  OMNITRON_STATUS_WORKER_LOST = 503,
  // P005: the pool or supervisor is not running (not started yet, or stopped).
  OMNITRON_STATUS_NOT_RUNNING = 504,
  // P006: a child restarted more often than its budget allows (`maxRestarts` within `window`).
  OMNITRON_STATUS_RESTART_LIMIT = 505,
  // P007: an `omnitron.yaml` (or process configuration) that does not fit the schema.
  OMNITRON_STATUS_INVALID_CONFIG = 506,
  // P008: no child by that name or id.
  OMNITRON_STATUS_CHILD_NOT_FOUND = 507,
  // P009: a worker entry point was started without a parent to connect to.
  OMNITRON_STATUS_NO_PARENT = 508,
  // WF001: the stages of a workflow depend on each other in a loop (the message names the loop).
  OMNITRON_STATUS_WORKFLOW_CYCLE = 600,
  // WF002: a stage depends on a stage the workflow does not have.
  OMNITRON_STATUS_UNKNOWN_DEPENDENCY = 601,
  // WF003: two stages of one workflow have the same name.
  OMNITRON_STATUS_DUPLICATE_STAGE = 602,
  // WF004: a workflow definition is malformed (empty name, bad option, compensation for no stage).
  OMNITRON_STATUS_INVALID_WORKFLOW = 603,
  // WF005: no workflow of that name is registered with the engine.
  OMNITRON_STATUS_WORKFLOW_NOT_FOUND = 604,
  // WF006: no run with that id, in memory or in the journal.
  OMNITRON_STATUS_RUN_NOT_FOUND = 605,
  // WF007: a stage failed on every attempt.
  OMNITRON_STATUS_STAGE_FAILED = 606,
  // WF008: a stage did not finish within its timeout on its last attempt.
  OMNITRON_STATUS_STAGE_TIMEOUT = 607,
  // WF009: a run did not finish within the workflow's timeout.
  OMNITRON_STATUS_WORKFLOW_TIMEOUT = 608,
  // WF010: one or more compensations failed on every attempt; the run ended in `compensation_failed`.
  OMNITRON_STATUS_COMPENSATION_FAILED = 609,
  // WF011: the run was cancelled.
  OMNITRON_STATUS_RUN_CANCELLED = 610,
  // WF012: the workflow journal could not be read or written.
  OMNITRON_STATUS_JOURNAL_ERROR = 611,
  // WF013: the journal was written by another schema version than this build reads.
  OMNITRON_STATUS_JOURNAL_VERSION = 612,
  // WF014: a workflow with that name is already registered.
  OMNITRON_STATUS_DUPLICATE_WORKFLOW = 613,
  // WF015: a run was interrupted (the process stopped) and its workflow's recovery policy compensated it.
  OMNITRON_STATUS_RUN_INTERRUPTED = 614,
  // WF016: a run id already belongs to a run of another workflow.
  OMNITRON_STATUS_RUN_ID_CONFLICT = 615,
  // H001: a request's body could not be read as the handler asked (malformed JSON, wrong shape).
  OMNITRON_STATUS_INVALID_BODY = 700,
  // H002: no route matches the request's path.
  OMNITRON_STATUS_ROUTE_NOT_FOUND = 701,
  // H003: a route matches the path but not the method (the answer lists the allowed ones).
  OMNITRON_STATUS_METHOD_NOT_ALLOWED = 702,
  // H004: a request's body is larger than the server's limit.
  OMNITRON_STATUS_BODY_TOO_LARGE = 703,
  // H005: an HTTP handler failed or panicked; the request got a 500.
  OMNITRON_STATUS_HTTP_HANDLER_FAILED = 704,
  // H006: a route pattern is malformed or clashes with another route.
  OMNITRON_STATUS_INVALID_ROUTE = 705,
  // H007: the HTTP server could not bind its address or failed while serving.
  OMNITRON_STATUS_HTTP_SERVER_FAILED = 706,
  // H008: a request's body was not received within the server's body read timeout.
  OMNITRON_STATUS_BODY_TIMEOUT = 707,
  // H009: a request's params, query or body failed the route's schema; the problem lists every field.
  OMNITRON_STATUS_VALIDATION_FAILED = 708,
  // H010: a route requires authentication and the request has no valid credentials (401).
  OMNITRON_STATUS_UNAUTHORIZED = 709,
  // H011: the request is authenticated but lacks a role or permission the route requires (403).
  OMNITRON_STATUS_FORBIDDEN = 710,
  // H012: a client sent more requests than the route's or the server's rate limit allows (429).
  OMNITRON_STATUS_TOO_MANY_REQUESTS = 711,
  // H013: a request's body has a media type the route does not take (415).
  OMNITRON_STATUS_UNSUPPORTED_MEDIA_TYPE = 712,
  // H014: the application is not ready (starting or shutting down), or a health check is down (503).
  OMNITRON_STATUS_NOT_READY = 713,
  // Q001: a queue option, name, rate or job option is invalid; the message names it and the rule.
  OMNITRON_STATUS_INVALID_QUEUE = 800,
  // Q002: the queue store failed (the file cannot be written, the server cannot be reached).
  OMNITRON_STATUS_QUEUE_STORE_FAILED = 801,
  // Q003: the queue store was written by another version of Omnitron, or is not a queue store.
  OMNITRON_STATUS_QUEUE_STORE_VERSION = 802,
  // Q004: no job with that id in the queue.
  OMNITRON_STATUS_JOB_NOT_FOUND = 803,
  // Q005: a job's handler failed (the attempt's error as the job records it).
  OMNITRON_STATUS_JOB_FAILED = 804,
  // Q006: a job's attempt ran longer than its timeout.
  OMNITRON_STATUS_JOB_TIMEOUT = 805,
  // Q007: a worker's lease on a job expired (the worker was lost or too slow to renew): the job went back to the queue and this worker's outcome was dropped.
  OMNITRON_STATUS_LEASE_LOST = 806,
  // Q008: a job's payload could not be serialized; it was refused at `add`.
  OMNITRON_STATUS_INVALID_JOB_DATA = 807,
  // Q009: the queue or worker is closed.
  OMNITRON_STATUS_QUEUE_CLOSED = 808,
  // Q010: the job is running: it can be removed once it finishes.
  OMNITRON_STATUS_JOB_ACTIVE = 809,
  // Q011: a schedule is invalid: its cron pattern, time zone, interval, name or missed-run policy; the message names the field and the rule.
  OMNITRON_STATUS_INVALID_SCHEDULE = 810,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum OmnitronStatus OmnitronStatus;
#else
typedef uint32_t OmnitronStatus;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// A circuit breaker. Thread-safe: calls from several threads at once share its state. Its callbacks
// may call it (the lock is not held while they run).
typedef struct OmnitronBreaker OmnitronBreaker;

// A bulkhead. Thread-safe: that is its point (calls from several threads share its slots).
typedef struct OmnitronBulkhead OmnitronBulkhead;

// A dependency-injection container. Thread-safe: any function may be called on it from several
// threads at once (factories then run on those threads; a singleton is still built once). From
// inside its own callbacks, resolving from it is fine (a loop is reported as
// OMNITRON_STATUS_CIRCULAR_DEPENDENCY); disposing, initializing or freeing it is not (reported as
// OMNITRON_STATUS_LIFECYCLE_FAILED where detected).
typedef struct OmnitronContainer OmnitronContainer;

// A running `/metrics` HTTP server, served from engine threads. Thread-safe.
typedef struct OmnitronExporter OmnitronExporter;

// The answer to an injected request: status, headers and body. Free it with
// omnitron_http_answer_free. Thread-safe (read-only).
typedef struct OmnitronHttpAnswer OmnitronHttpAnswer;

// An HTTP app: routes with their declarations and callbacks, served on a port
// (omnitron_http_app_listen) or answered in-process (omnitron_http_app_inject). Thread-safe. Routes
// and health checks are added before the app first listens or answers an inject. Do not close or
// free it from inside one of its own callbacks (closing waits for them).
typedef struct OmnitronHttpApp OmnitronHttpApp;

// The request a route's callback reads. Valid only during the callback, on its thread.
typedef struct OmnitronHttpRequest OmnitronHttpRequest;

// The response a route's callback fills. Valid only during the callback, on its thread.
typedef struct OmnitronHttpResponse OmnitronHttpResponse;

// A job handed to a worker's callback (OmnitronJobFn). Valid from the callback's start until it is
// finished by omnitron_job_complete or omnitron_job_fail (exactly once, from any thread, during the
// callback or later); both free it. The strings and data its accessors return live as long as it.
// Thread-safe, but do not read it on one thread while another finishes it.
typedef struct OmnitronJob OmnitronJob;

// A metric (all its label sets) declared in a registry. Thread-safe: record from any thread.
typedef struct OmnitronMetric OmnitronMetric;

// A module under construction. Thread-safe (calls are serialized), though normally built on one
// thread; loading it copies what the container needs.
typedef struct OmnitronModule OmnitronModule;

// A peer: this process's end of the RPC network. Thread-safe: calls, publishes and exposes may run
// from several threads at once. Do not free it from inside one of its own handlers or event
// callbacks (omnitron_peer_free waits for them).
typedef struct OmnitronPeer OmnitronPeer;

// A pool of worker processes. Thread-safe: tasks may be submitted from several threads at once. Do
// not stop or free it from inside one of its completion callbacks.
typedef struct OmnitronPool OmnitronPool;

// A provider description under construction. Thread-safe (calls on one provider are serialized),
// though it is normally built on one thread. Registering or adding it to a module copies it; the
// copies share its callbacks' user_data, which is freed when the last of them goes.
typedef struct OmnitronProvider OmnitronProvider;

// A queue: a name in a store, with the options its jobs get by default. Thread-safe: jobs may be
// added and the queue read from several threads at once. Free it with omnitron_queue_free;
// workers started on it keep running until they are closed.
typedef struct OmnitronQueue OmnitronQueue;

// A listener to one queue's events. Free it with omnitron_queue_listener_free.
typedef struct OmnitronQueueListener OmnitronQueueListener;

// A worker running a queue's jobs with a C callback. Thread-safe. Close it with
// omnitron_queue_worker_close (running jobs get a grace to finish) and free it with
// omnitron_queue_worker_free. Closing it from inside its own callback works (close does not wait
// for the callback it is called from) but that callback's job, unfinished, waits out the grace:
// close it from another thread.
typedef struct OmnitronQueueWorker OmnitronQueueWorker;

// A rate limiter. Thread-safe: threads share its tokens.
typedef struct OmnitronRateLimiter OmnitronRateLimiter;

// A metrics registry: the global one (omnitron_registry_global) or a separate one. Thread-safe, as
// are metrics, series and exporters: record from any number of threads at once.
typedef struct OmnitronRegistry OmnitronRegistry;

// Where a handler puts its result. Valid only during the handler call, on its thread.
typedef struct OmnitronReply OmnitronReply;

// A retry policy. Thread-safe (immutable once made).
typedef struct OmnitronRetry OmnitronRetry;

// A scope of a container: scoped providers get one instance per scope. Thread-safe like its
// container; it keeps the container's providers alive until it is freed.
typedef struct OmnitronScope OmnitronScope;

// One series of a metric: fixed label values, for recording without a label lookup per call.
// Thread-safe: record from any thread (updates are atomic).
typedef struct OmnitronSeries OmnitronSeries;

// A service under construction: add methods and streams, then omnitron_peer_expose_service.
// Thread-safe (calls are serialized). Freeing it without exposing it frees its handlers' user_data.
typedef struct OmnitronService OmnitronService;

// A span started by omnitron_span_start; ended (and freed) by omnitron_span_end.
typedef struct OmnitronSpan OmnitronSpan;

// Where a stage callback puts its output (set it with omnitron_stage_output_set; not set is null).
// Valid only during the stage call, on its thread.
typedef struct OmnitronStageOutput OmnitronStageOutput;

// A running status page.
typedef struct OmnitronStatusPage OmnitronStatusPage;

// Where a streaming handler sends its items. Valid only during the handler call, on its thread.
typedef struct OmnitronStreamSink OmnitronStreamSink;

// A supervisor. Thread-safe. Do not stop, wait for or free it from inside its own hooks (it waits
// for them).
typedef struct OmnitronSupervisor OmnitronSupervisor;

// A token. Two tokens made with the same name are different tokens; the name is for messages.
// Immutable once made: use it from any number of threads at once.
typedef struct OmnitronToken OmnitronToken;

// A workflow definition under construction: add stages, dependencies, timeouts, retries and
// compensations, then register it with omnitron_workflow_engine_register (which copies it; the
// definition may be freed or reused right after). Thread-safe (calls are serialized). Its
// callbacks' user_data is freed when the definition and every engine it was registered with are
// freed and their runs are over.
typedef struct OmnitronWorkflow OmnitronWorkflow;

// A workflow engine: registered workflows, runs in flight and their journal. Thread-safe: runs may
// be started, waited for and queried from several threads at once. From inside a stage or
// compensation, do not wait for (or cancel) the run it belongs to.
typedef struct OmnitronWorkflowEngine OmnitronWorkflowEngine;

// Frees a caller's `user_data` once the library lets go of it (see USER_DATA above): exactly once,
// after the last callback that uses it, on the thread that lets go last. It may call omnitron_free
// and the _free functions of other handles, nothing else of the library.
typedef void (*OmnitronFreeFn)(void *user_data);

// Builds an instance. `deps` holds one pointer per dependency, in the order they were added (NULL
// for a missing optional one); it is only valid during the call. Store the new instance in `*out`
// and return OMNITRON_STATUS_OK; on failure return another status (after
// omnitron_callback_error to say why). Runs on the thread that resolves or initializes; several
// threads may run it at once for different instances (never twice for one singleton).
typedef OmnitronStatus (*OmnitronFactoryFn)(void *user_data,
                                            void *const *deps,
                                            size_t deps_len,
                                            void **out);

// A lifecycle hook on an instance (`on_init`). Return OMNITRON_STATUS_OK, or another status to fail
// (after omnitron_callback_error to say why). Runs on the thread that calls
// omnitron_container_initialize (never during a resolve).
typedef OmnitronStatus (*OmnitronHookFn)(void *user_data, void *instance);

// Releases an instance the container owned (`on_destroy`). Runs on the thread that disposes or
// frees the container or scope. Return OMNITRON_STATUS_OK, or another status to report a failure.
typedef OmnitronStatus (*OmnitronDestroyFn)(void *user_data, void *instance);

// A route's handler. Read the request with the omnitron_http_request_* functions and fill the
// response with the omnitron_http_response_* setters (the library copies what they are given);
// both pointers are valid only during this call, on its thread. Return OMNITRON_STATUS_OK to send
// the response: its status if set, else the route's (`status` in its spec, 201 for a POST, 200
// otherwise; 204 when no body was set). Any other status answers a 500 problem document (code
// H005) whose detail is the message given to omnitron_callback_error, and the server goes on
// serving. Runs on an engine thread of the blocking pool; calls run concurrently on several
// threads, so `user_data` must be safe to use from several threads at once.
typedef OmnitronStatus (*OmnitronHttpHandlerFn)(const struct OmnitronHttpRequest *req,
                                                struct OmnitronHttpResponse *res,
                                                void *user_data);

// A health check: returns OMNITRON_STATUS_OK when up; any other status is down, with the message
// given to omnitron_callback_error (or the status's id). Runs on an engine thread of the blocking
// pool, several at once; a check that does not answer within the app's `health_timeout_ms` counts
// as down.
typedef OmnitronStatus (*OmnitronHttpHealthFn)(void *user_data);

// One file of an `upload` route's `multipart/form-data` body, as omnitron_http_request_file
// gives it. Every pointer belongs to the library and is valid during the callback only, on its
// thread (copy what you keep). The layout is part of the ABI (OMNITRON_ABI_VERSION changes if it
// does).
typedef struct OmnitronHttpFile {
  // The form field it came in (the route's `upload.field`, `file` by default).
  const char *field;
  // The file name the client gave (NULL when it gave none).
  const char *filename;
  // Its media type as the client declared it (`image/png`; `text/plain` when the part had
  // none); core already checked it against the route's `upload.mime_types`.
  const char *content_type;
  // Its bytes, followed by a NUL byte not counted in `len` (so text reads as a C string).
  const uint8_t *data;
  // How many bytes (at most the route's `upload.max_size`).
  size_t len;
} OmnitronHttpFile;

// The page a `paginated` route's request asks for, as omnitron_http_request_page gives it. The
// layout is part of the ABI (OMNITRON_ABI_VERSION changes if it does).
typedef struct OmnitronHttpPage {
  // The page, from 1 (the query's `page`; 1 when absent).
  uint64_t page;
  // Items per page (the query's `limit`; the route's `default_limit` when absent).
  uint64_t limit;
  // Items before this page: (page - 1) * limit.
  uint64_t offset;
} OmnitronHttpPage;

// Bytes the library hands out (a result, a JSON text), always followed by a NUL byte not counted in
// `len`, so text can be read as a C string. Free `data` with omnitron_free. On failure the library
// sets both fields to NULL / 0.
typedef struct OmnitronBuffer {
  // The bytes (free with omnitron_free).
  uint8_t *data;
  // How many (the NUL after them not counted).
  size_t len;
} OmnitronBuffer;

// Called when an asynchronous call finishes, on an engine thread. On success `status` is
// OMNITRON_STATUS_OK and `value` / `len` the MessagePack result; otherwise `error` describes the
// failure. The pointers are valid during the call only.
typedef void (*OmnitronCompletionFn)(uint32_t status,
                                     const uint8_t *value,
                                     size_t len,
                                     const char *error,
                                     void *user_data);

// Called when a supervised child ends unexpectedly, on an engine thread that may block.
// `info_json` is the child (`{"name","index","pid","state","restarts","last_exit","critical"}`),
// `reason` says how it ended; both are valid during the call only. Returns an OMNITRON_CRASH_*.
typedef uint32_t (*OmnitronCrashHookFn)(const char *info_json, const char *reason, void *user_data);

// Called before each restart, on an engine thread that may block; `attempt` counts restarts within
// the budget's window. The restart waits for it to return.
typedef void (*OmnitronRestartHookFn)(const char *info_json, uint32_t attempt, void *user_data);

// Runs one job. `job` is the caller's until it is finished: call omnitron_job_complete or
// omnitron_job_fail exactly once, now or later, from any thread (for example after handing the job
// to a thread of your own), and return OMNITRON_STATUS_OK. Returning another status means the
// callback did not take the job: the library fails the attempt with that status's code and the
// message given to omnitron_callback_error, and frees the job (do not use it afterwards; if it was
// finished already, that answer stands). Runs on an engine thread of the blocking pool, up to the
// worker's `concurrency` at once; a job left unfinished holds its slot of the concurrency until
// it is finished or the engine gives up on it (its `timeout_ms`, a lost lease, the worker closing).
// No callback runs once omnitron_queue_worker_close (or _free) has returned.
typedef OmnitronStatus (*OmnitronJobFn)(struct OmnitronJob *job, void *user_data);

// Gets one event as JSON text, valid for the call only: `{"event": "completed", "id": "order-7",
// "name": "charge", "attempt": 1, "result": ..., "error": null, "dead": false, "requeued":
// false, "progress": null}`. `event` is `completed` (with `result`), `failed` (with `error`,
// and `dead` when it was the last attempt), `stalled` (`requeued` false: sent to the dead-letter
// queue), `progress` (with `progress`) or `drained`. Runs on an engine thread, one call at a time
// per listener.
typedef void (*OmnitronQueueEventFn)(const char *event_json, void *user_data);

// How a breaker decides. Fill it with omnitron_breaker_options_default, then change fields. The
// layout is part of the ABI (OMNITRON_ABI_VERSION changes if it does).
typedef struct OmnitronBreakerOptions {
  // Opens after this many consecutive failures; 0 turns the rule off (then failure_rate must be
  // set). Default 5.
  uint32_t threshold;
  // Opens when failures / calls over the window reach this (0 < rate <= 1) once min_calls calls
  // were seen; 0 turns the rule off. Default 0.
  double failure_rate;
  // The failure rate's sliding window in milliseconds (> 0). Default 10000.
  uint64_t window_ms;
  // Calls in the window before the failure rate counts (>= 1). Default 10.
  uint32_t min_calls;
  // How long it stays open before letting trial calls through, in milliseconds (> 0). The
  // spec's `timeout`. Default 60000.
  uint64_t timeout_ms;
  // Trial calls let through at once in half-open (>= 1). Default 1.
  uint32_t half_open_max_calls;
  // Successful trial calls that close it again (>= 1). Default 1.
  uint32_t success_threshold;
  // A call taking longer than this many milliseconds counts as a timeout; 0 for none. A C call
  // cannot be abandoned: the time is measured, and a late result is replaced by
  // OMNITRON_STATUS_TIMEOUT. Default 0.
  uint64_t call_timeout_ms;
} OmnitronBreakerOptions;

// The work a policy wraps: returns OMNITRON_STATUS_OK on success, anything else on failure (say
// why with omnitron_callback_error, or return the status of a library call that failed). Runs on
// the calling thread.
typedef OmnitronStatus (*OmnitronCallFn)(void *user_data);

// Decides whether a failed call counts against the breaker (true) or is ignored; `status` is what
// the call returned.
typedef bool (*OmnitronBreakerPredicateFn)(uint32_t status, void *user_data);

// The right to make one call, for programs that make the call themselves (an event loop): take it
// with omnitron_breaker_acquire and report the outcome with omnitron_breaker_record. Every permit
// must be recorded exactly once, from any thread (it is a plain value).
typedef struct OmnitronPermit {
  // The breaker's generation when the permit was given.
  uint64_t generation;
  // Whether it is a half-open trial call.
  bool trial;
} OmnitronPermit;

// Called on each breaker state change, on the thread whose call caused it, after the breaker's lock
// is released (it may call the breaker). `name` is valid for the call only.
typedef void (*OmnitronBreakerListenerFn)(const char *name,
                                          uint32_t from,
                                          uint32_t to,
                                          void *user_data);

// A retry policy. Fill it with omnitron_retry_options_default, then change fields.
typedef struct OmnitronRetryOptions {
  // Attempts in all, the first included (>= 1; 1 means no retry). Default 3.
  uint32_t max_attempts;
  // OMNITRON_BACKOFF_FIXED, _LINEAR or _EXPONENTIAL. Default exponential.
  uint32_t backoff;
  // The first delay in milliseconds. Default 100.
  uint64_t initial_ms;
  // Linear backoff's step in milliseconds. Default 0.
  uint64_t step_ms;
  // Exponential backoff's factor (>= 1). Default 2.
  double factor;
  // No delay is longer than this many milliseconds; 0 for no cap. Default 30000.
  uint64_t max_delay_ms;
  // OMNITRON_JITTER_NONE, _FULL or _EQUAL. Default none.
  uint32_t jitter;
} OmnitronRetryOptions;

// One attempt of a retried call (`attempt` counts from 1).
typedef OmnitronStatus (*OmnitronAttemptFn)(uint32_t attempt, void *user_data);

// Decides whether a failed attempt is retried (true) or is final; `status` is what the attempt
// returned.
typedef bool (*OmnitronRetryPredicateFn)(uint32_t status, uint32_t attempt, void *user_data);

// A service method. `args` / `args_len` are the arguments (MessagePack array or JSON text, per the
// format given to omnitron_peer_expose). On success, set the result with omnitron_reply_set (no
// result is nil / null) and return OMNITRON_STATUS_OK; on failure return a status and say why with
// omnitron_callback_error. Runs on an engine thread; may run on several at once.
typedef OmnitronStatus (*OmnitronHandlerFn)(const char *method,
                                            const uint8_t *args,
                                            size_t args_len,
                                            struct OmnitronReply *reply,
                                            void *user_data);

// A streaming method: send each item with omnitron_stream_send (it blocks while the caller has not
// taken the previous ones, and fails with OMNITRON_STATUS_CANCELLED once the caller has gone),
// then return OMNITRON_STATUS_OK, or a failure status as for OmnitronHandlerFn. Runs on an engine
// thread that may block.
typedef OmnitronStatus (*OmnitronStreamHandlerFn)(const char *method,
                                                  const uint8_t *args,
                                                  size_t args_len,
                                                  struct OmnitronStreamSink *sink,
                                                  void *user_data);

// Called for each item of a stream, on the thread that called omnitron_peer_call_stream; the next
// item is not requested before it returns (that is the backpressure). Returning a non-OK status
// stops the stream.
typedef OmnitronStatus (*OmnitronItemFn)(const uint8_t *item, size_t len, void *user_data);

// Called for each matching event, on an engine thread; must not block. `payload` is MessagePack,
// valid during the call only.
typedef void (*OmnitronEventFn)(const char *topic,
                                const uint8_t *payload,
                                size_t len,
                                void *user_data);

// What a stage or compensation callback knows about its run. Every string is NUL-terminated and
// valid during the callback only, on its thread (copy what you keep).
typedef struct OmnitronStageContext {
  // The run's id.
  const char *run_id;
  // The workflow's name.
  const char *workflow;
  // The stage's name (for a compensation: the stage it undoes).
  const char *stage;
  // This attempt's number, from 1, counted over the run's whole life.
  uint32_t attempt;
  // `{run_id}:{stage}` (compensations: `{run_id}:{stage}:compensate`), the same on every attempt
  // and after a crash: pass it to remote services so a repeated attempt is not applied twice.
  const char *idempotency_key;
  // The run's input as JSON text.
  const char *workflow_input;
  // Whether this is a compensation.
  bool is_compensation;
  // The trace this attempt runs in as a W3C traceparent (its span when the process traces; the
  // starter's context, passed on, when it does not but the run was started inside a trace),
  // else NULL. It is also the thread's current trace during the callback: calls made from it
  // carry it.
  const char *traceparent;
} OmnitronStageContext;

// A stage. `input_json` is the stage's input as NUL-terminated JSON text: the run's input (no
// dependencies), its dependency's output (one), or an object from dependency name to output
// (several). Set the output with omnitron_stage_output_set and return OMNITRON_STATUS_OK; on
// failure return another status and say why with omnitron_callback_error. Runs on an engine
// thread that may block; stages that are ready together run at once on several threads. A stage
// whose timeout passes keeps its thread until it returns, and its result is then ignored.
typedef OmnitronStatus (*OmnitronStageFn)(const char *input_json,
                                          const struct OmnitronStageContext *ctx,
                                          struct OmnitronStageOutput *output,
                                          void *user_data);

// A compensation: undoes a completed stage, given that stage's output as NUL-terminated JSON
// text. Returns OMNITRON_STATUS_OK, or a failure status (say why with omnitron_callback_error).
// Runs on an engine thread that may block, one compensation at a time per run.
typedef OmnitronStatus (*OmnitronCompensateFn)(const char *output_json,
                                               const struct OmnitronStageContext *ctx,
                                               void *user_data);

// Called once when an asynchronous run ends, on an engine thread. `status` is OMNITRON_STATUS_OK
// and `json` the outputs (an object from stage name to output) on success; otherwise `status` is
// the run's error (OMNITRON_STATUS_STAGE_FAILED, _STAGE_TIMEOUT, _COMPENSATION_FAILED, ...) and
// `json` the error as `{"code": "WF007", "message": "...", "related": [...]}`. `run_id` and `json`
// are valid during the call only.
typedef void (*OmnitronWorkflowDoneFn)(uint32_t status,
                                       const char *run_id,
                                       const char *json,
                                       void *user_data);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The library version as a NUL-terminated string (for example "0.1.0"), the same as
// OMNITRON_VERSION_STRING of the header it was built with. Static; do not free.
const char *omnitron_version(void);

// The library version as a number, OMNITRON_VERSION_NUMBER of the header it was built with
// (MAJOR * 1000000 + MINOR * 1000 + PATCH).
uint32_t omnitron_version_number(void);

// The ABI version the library was built with; compare it with OMNITRON_ABI_VERSION from the header
// you compiled against.
uint32_t omnitron_abi_version(void);

// Creates an empty container. Free it with omnitron_container_free.
OmnitronStatus omnitron_container_new(struct OmnitronContainer **out);

// Creates a container from a root module (like Omnitron.create(AppModule)): everything the module
// can see is resolvable from the container. The module handle may be freed afterwards.
OmnitronStatus omnitron_container_new_from_module(const struct OmnitronModule *module,
                                                  struct OmnitronContainer **out);

// Loads a module (and its imports) into a container: its exports become resolvable.
OmnitronStatus omnitron_container_load_module(struct OmnitronContainer *container,
                                              const struct OmnitronModule *module);

// Registers a provider in the container. The provider handle may be freed or reused afterwards.
OmnitronStatus omnitron_container_register(struct OmnitronContainer *container,
                                           const struct OmnitronProvider *provider);

// Resolves `token`. On success `*out` is the instance: owned by the container for singletons,
// scoped providers and values (valid until dispose), owned by the caller for transients (it
// releases them); which one a token gives is what omnitron_container_resolve_with_owner reports.
// Factory callbacks run on this thread; on_init callbacks never run here
// (omnitron_container_initialize runs them). A factory that fails gives
// OMNITRON_STATUS_FACTORY_FAILED, whose message names the provider, the providers being built and
// the chain of modules that provides it, then what the factory said (omnitron_callback_error); a
// library error the factory passed on (the status of a failed DI call it made) comes back unchanged.
OmnitronStatus omnitron_container_resolve(struct OmnitronContainer *container,
                                          const struct OmnitronToken *token,
                                          void **out);

// Like omnitron_container_resolve, and `*owner` says who owns `*out`: OMNITRON_OWNER_CALLER (a
// transient: release it yourself), OMNITRON_OWNER_CONTAINER (a singleton or value: valid until
// the container is disposed, which runs its on_destroy) or OMNITRON_OWNER_SCOPE (from a scope
// only). Aliases report their target's owner. On failure `*out` is NULL and `*owner`
// OMNITRON_OWNER_NONE.
OmnitronStatus omnitron_container_resolve_with_owner(struct OmnitronContainer *container,
                                                     const struct OmnitronToken *token,
                                                     void **out,
                                                     uint32_t *owner);

// Resolves every provider of a multi token, in registration order. Writes up to `capacity`
// pointers to `out` (which may be NULL when `capacity` is 0) and the total count to `*len`. Each
// instance is owned as omnitron_container_resolve_with_owner reports for its provider. On failure
// `*len` is 0 and `out` is left as it was.
OmnitronStatus omnitron_container_resolve_all(struct OmnitronContainer *container,
                                              const struct OmnitronToken *token,
                                              void **out,
                                              size_t capacity,
                                              size_t *len);

// Sets `*out` to whether something visible from the container provides `token`.
OmnitronStatus omnitron_container_has(struct OmnitronContainer *container,
                                      const struct OmnitronToken *token,
                                      bool *out);

// Builds every singleton not built yet and runs the on_init hook of every singleton not yet
// initialized, in dependency order (dependencies' hooks first), on this thread. Transient and scoped
// instances are never initialized. Stops at the first failure (a failed hook gives
// OMNITRON_STATUS_LIFECYCLE_FAILED naming the provider, and runs again on the next call). Calling it
// again does only what is left: singletons registered, or built by a resolve, since the last call.
OmnitronStatus omnitron_container_initialize(struct OmnitronContainer *container);

// Runs every on_destroy callback (dependents first) on this thread and closes the container. A
// failing callback does not stop the others: all failures are in one OMNITRON_STATUS_LIFECYCLE_FAILED
// error. Idempotent. The handle stays valid (every later resolve fails) until
// omnitron_container_free.
OmnitronStatus omnitron_container_dispose(struct OmnitronContainer *container);

// Disposes the container if that was not done (failures are dropped; call
// omnitron_container_dispose first to see them) and frees the handle. The user_data of its
// providers is freed here (on this thread) unless a scope still holds them. NULL and freed handles
// are ignored.
void omnitron_container_free(struct OmnitronContainer *container);

// Writes the dependency graph as a NUL-terminated string to `*out` (OMNITRON_GRAPH_JSON or
// OMNITRON_GRAPH_MERMAID). Free it with omnitron_free.
OmnitronStatus omnitron_container_export_graph(struct OmnitronContainer *container,
                                               uint32_t format,
                                               char **out);

// Creates a scope. `context` (may be NULL) is what the CONTEXT token gives inside it;
// `free_context(context)` (NULL: the caller keeps it, and it must outlive the scope) runs once
// after the scope is disposed and freed, on the thread that frees it, or before this function
// returns if it fails. Free the scope with omnitron_scope_free.
OmnitronStatus omnitron_container_create_scope(struct OmnitronContainer *container,
                                               void *context,
                                               OmnitronFreeFn free_context,
                                               struct OmnitronScope **out);

// Resolves `token` in a scope; ownership as for omnitron_container_resolve (scoped instances are
// owned by the scope until omnitron_scope_dispose).
OmnitronStatus omnitron_scope_resolve(struct OmnitronScope *scope,
                                      const struct OmnitronToken *token,
                                      void **out);

// omnitron_container_resolve_with_owner in a scope: OMNITRON_OWNER_SCOPE for scoped instances and
// the CONTEXT token.
OmnitronStatus omnitron_scope_resolve_with_owner(struct OmnitronScope *scope,
                                                 const struct OmnitronToken *token,
                                                 void **out,
                                                 uint32_t *owner);

// Runs the on_destroy callbacks of the scope's instances (dependents first) on this thread.
// Idempotent.
OmnitronStatus omnitron_scope_dispose(struct OmnitronScope *scope);

// Disposes the scope if needed (failures dropped) and frees the handle, then its context (if
// free_context was given). NULL and freed handles are ignored.
void omnitron_scope_free(struct OmnitronScope *scope);

// Creates an empty module named `name` (non-empty UTF-8, copied). Until omnitron_module_export is
// called, every provider of the module is exported.
OmnitronStatus omnitron_module_new(const char *name, struct OmnitronModule **out);

// Adds a copy of the provider description to the module.
OmnitronStatus omnitron_module_add_provider(struct OmnitronModule *module,
                                            const struct OmnitronProvider *provider);

// Makes `imported`'s exports visible inside `module`. The imported handle must stay alive until the
// module is loaded.
OmnitronStatus omnitron_module_import(struct OmnitronModule *module,
                                      const struct OmnitronModule *imported);

// Exports a token the module provides or imports. After the first call only listed tokens are
// exported.
OmnitronStatus omnitron_module_export(struct OmnitronModule *module,
                                      const struct OmnitronToken *token);

// Re-exports everything an imported module exports.
OmnitronStatus omnitron_module_export_module(struct OmnitronModule *module,
                                             const struct OmnitronModule *imported);

// Exports nothing (a private module).
OmnitronStatus omnitron_module_export_none(struct OmnitronModule *module);

// Makes the module's exports visible to every module without an import.
OmnitronStatus omnitron_module_set_global(struct OmnitronModule *module, bool global);

// Frees a module handle (containers it was loaded into keep what they need). NULL and freed
// handles are ignored.
void omnitron_module_free(struct OmnitronModule *module);

// Starts a factory provider for `token`: `factory(user_data, deps, ...)` builds the instance. Add
// dependencies with omnitron_provider_add_dependency. `user_data` is passed back untouched;
// `free_user_data(user_data)` (NULL: nothing) runs once when the library lets go of it: when this
// provider handle and every container, scope and module it was copied into are freed (on the
// thread that frees the last of them), or before this function returns if it fails.
OmnitronStatus omnitron_provider_factory(const struct OmnitronToken *token,
                                         OmnitronFactoryFn factory,
                                         void *user_data,
                                         OmnitronFreeFn free_user_data,
                                         struct OmnitronProvider **out);

// Starts a value provider: resolving `token` gives `value`. The container does not own `value`
// unless an on_destroy callback is set, which then runs at dispose.
OmnitronStatus omnitron_provider_value(const struct OmnitronToken *token,
                                       void *value,
                                       struct OmnitronProvider **out);

// Starts an alias: resolving `token` gives the instance of `target`.
OmnitronStatus omnitron_provider_alias(const struct OmnitronToken *token,
                                       const struct OmnitronToken *target,
                                       struct OmnitronProvider **out);

// Adds a dependency; the factory receives dependencies in the order they were added. `flags` is 0
// or OMNITRON_DEP_OPTIONAL.
OmnitronStatus omnitron_provider_add_dependency(struct OmnitronProvider *provider,
                                                const struct OmnitronToken *dependency,
                                                uint32_t flags);

// Sets how long instances live: one of OMNITRON_LIFETIME_* (passed as a number so an out-of-range
// value is an error, not undefined behaviour).
OmnitronStatus omnitron_provider_set_lifetime(struct OmnitronProvider *provider, uint32_t lifetime);

// Sets flags: OMNITRON_PROVIDER_MULTI and/or OMNITRON_PROVIDER_REPLACE.
OmnitronStatus omnitron_provider_set_flags(struct OmnitronProvider *provider, uint32_t flags);

// Sets the on_init hook. omnitron_container_initialize runs it once per singleton instance, after
// the instance's dependencies are built and initialized (dependency order); resolving never runs
// it. Only singletons can have one: registering a transient or scoped provider with an on_init hook
// fails with OMNITRON_STATUS_INVALID_PROVIDER (do the set-up in the factory instead). Setting it
// again replaces it (and lets go of the old user_data); NULL removes it. `free_user_data` as for
// omnitron_provider_factory.
OmnitronStatus omnitron_provider_on_init(struct OmnitronProvider *provider,
                                         OmnitronHookFn hook,
                                         void *user_data,
                                         OmnitronFreeFn free_user_data);

// Sets the on_destroy callback, run at dispose (dependents first) for every instance the container
// or a scope owns. Setting it again replaces it; NULL removes it. `free_user_data` as for
// omnitron_provider_factory: it runs after the last on_destroy call.
OmnitronStatus omnitron_provider_on_destroy(struct OmnitronProvider *provider,
                                            OmnitronDestroyFn destroy,
                                            void *user_data,
                                            OmnitronFreeFn free_user_data);

// Frees a provider description (what was registered from it stays registered). NULL and freed
// handles are ignored.
void omnitron_provider_free(struct OmnitronProvider *provider);

// Creates a token named `name` (a non-empty UTF-8 string, copied). Free it with
// omnitron_token_free once no provider or dependency you still create needs it; containers keep
// what they need.
OmnitronStatus omnitron_token_new(const char *name, struct OmnitronToken **out);

// The built-in CONTEXT token: as a dependency it gives the `context` pointer the scope was created
// with (NULL outside a scope). Static; omnitron_token_free ignores it. NULL only in a forked child
// (see FORK above).
const struct OmnitronToken *omnitron_token_context(void);

// The token's name, or NULL for an invalid handle. Valid while the token handle is.
const char *omnitron_token_name(const struct OmnitronToken *token);

// Frees a token handle. NULL, an already freed handle and the CONTEXT token are ignored.
void omnitron_token_free(struct OmnitronToken *token);

// The message of the last failure on this thread, or NULL if there was none. The string belongs to
// the library and stays valid until the next failing call on this thread.
const char *omnitron_last_error_message(void);

// The status of the last failure on this thread, or OMNITRON_STATUS_OK if there was none.
OmnitronStatus omnitron_last_error_status(void);

// Forgets the last error of this thread.
void omnitron_clear_last_error(void);

// The stable short id of a status ("DI001", "E002", "OK"), the same `code` that Node and Python
// errors carry. Static; do not free. Unknown values give "UNKNOWN".
const char *omnitron_status_id(uint32_t status);

// Called from inside a callback (factory, hook) on the same thread, before it returns a non-OK
// status: says why, and the message becomes part of the error the caller sees. NULL is ignored.
void omnitron_callback_error(const char *message);

// Makes an app from `options_json` (NULL: the defaults; the keys are docs/HTTP.md's, C spelling:
// durations end in `_ms`, for example `{"body_limit": 65536, "shutdown_timeout_ms": 5000,
// "cors": {"origin": "*"}}`). Unknown keys are refused naming the nearest one. Free it with
// omnitron_http_app_free.
OmnitronStatus omnitron_http_app_new(const char *options_json, struct OmnitronHttpApp **out);

// Adds a route declared by `spec_json` (RouteSpec's keys: `method` and `path` (`/users/:id` or
// `/users/{id}`) required; `status`, `params`, `query`, `body`, `response` (JSON Schemas, as
// objects or JSON text), `auth`, `roles`, `permissions`, `rate_limit` ({`max`, `window_ms`,
// `per`}), `cache_ttl` (seconds), `upload` ({`max_size` (bytes, or text such as "5MB"),
// `mime_types`, `field`}: omnitron_http_request_file), `paginated` (true, or {`default_limit`,
// `max_limit`}: omnitron_http_request_page), `audit`, `tags`, `summary`, `description`,
// `operation_id`, `deprecated`), answered by `handler` (see OmnitronHttpHandlerFn). A bad spec is OMNITRON_STATUS_INVALID_ROUTE naming the key; a pattern
// that clashes with another route's is refused when the app is built (its first listen or
// inject). `free_user_data(user_data)` (NULL: nothing) runs once the app is freed and its last
// callback has returned, or before this function returns if it fails.
OmnitronStatus omnitron_http_app_route(struct OmnitronHttpApp *app,
                                       const char *spec_json,
                                       OmnitronHttpHandlerFn handler,
                                       void *user_data,
                                       OmnitronFreeFn free_user_data);

// Adds a health check named `name` (shown by `/health`; `/health/ready` is down while one is
// down), answered by `check` (see OmnitronHttpHealthFn). `free_user_data` as for
// omnitron_http_app_route.
OmnitronStatus omnitron_http_app_health_check(struct OmnitronHttpApp *app,
                                              const char *name,
                                              OmnitronHttpHealthFn check,
                                              void *user_data,
                                              OmnitronFreeFn free_user_data);

// Serves the app on `address` (`"127.0.0.1:8080"`; port 0 picks a free one) and marks it ready;
// `*port_out` (may be NULL) gets the port. Returns once the server is listening; requests are
// served on engine threads until omnitron_http_app_close or _free. An app serves one address at a
// time (a second listen before close is OMNITRON_STATUS_INVALID_ARGUMENT). An address that cannot
// be bound is OMNITRON_STATUS_HTTP_SERVER_FAILED; a bad or clashing route
// OMNITRON_STATUS_INVALID_ROUTE.
OmnitronStatus omnitron_http_app_listen(struct OmnitronHttpApp *app,
                                        const char *address,
                                        uint16_t *port_out);

// Stops serving, gracefully: `/health/ready` answers not ready at once, no new connection is
// accepted, requests in flight finish (up to the app's `shutdown_timeout_ms`), then it returns.
// The app can listen again, and inject still answers. An app that is not listening is left as
// it is.
OmnitronStatus omnitron_http_app_close(struct OmnitronHttpApp *app);

// Closes the app as omnitron_http_app_close does (requests in flight finish first) and frees
// the handle; each route's and check's free_user_data runs once its last callback has returned
// (normally before this returns, on this thread). NULL and freed handles are ignored.
void omnitron_http_app_free(struct OmnitronHttpApp *app);

// The request's method ("GET", ...). Valid during the callback. NULL (with the last error set)
// when `req` is not the running callback's request.
const char *omnitron_http_request_method(const struct OmnitronHttpRequest *req);

// The request's path as sent, without the query string. Valid during the callback.
const char *omnitron_http_request_path(const struct OmnitronHttpRequest *req);

// The path parameter `name` (`id` for `/users/:id`), percent-decoded; after the route's `params`
// schema coerced it, its JSON text (`42`). NULL when the route has no such parameter (or on a
// bad argument: the last error says which). Valid during the callback.
const char *omnitron_http_request_param(const struct OmnitronHttpRequest *req, const char *name);

// The query parameter `name`, decoded (`+` is a space; the first of repeated keys); after the
// route's `query` schema coerced it, its JSON text. NULL when absent. Valid during the callback.
const char *omnitron_http_request_query(const struct OmnitronHttpRequest *req, const char *name);

// The header `name` (any case); repeated headers joined with ", ". NULL when absent. Valid during
// the callback.
const char *omnitron_http_request_header(const struct OmnitronHttpRequest *req, const char *name);

// The body as received: `*data` (followed by a NUL byte not counted in `*len`, so text can be
// read as a C string) and `*len`. Valid during the callback.
OmnitronStatus omnitron_http_request_body(const struct OmnitronHttpRequest *req,
                                          const uint8_t **data,
                                          size_t *len);

// The request as one JSON document, NUL-terminated: `method`, `path`, `requestId`, `params`,
// `query`, `body` (the pipeline's: coerced and checked against the route's schemas; JSON when
// the body is JSON, a string when it is text, else null), `user` (the verified token's claims, or
// null), `headers` (lower-case names), and `files` / `page` on the routes that have them. Valid
// during the callback.
const char *omnitron_http_request_json(const struct OmnitronHttpRequest *req);

// Sets the response's status (100 to 599; otherwise OMNITRON_STATUS_INVALID_ARGUMENT).
OmnitronStatus omnitron_http_response_status(struct OmnitronHttpResponse *res, uint16_t status);

// Adds a response header (copied; a repeated name adds another). A name or value HTTP does not
// allow is OMNITRON_STATUS_INVALID_ARGUMENT.
OmnitronStatus omnitron_http_response_header(struct OmnitronHttpResponse *res,
                                             const char *name,
                                             const char *value);

// Sets the body: `len` bytes at `data` (copied; NULL with 0 is an empty body) with
// `content_type` (NULL: application/octet-stream). Calling it again replaces the body.
OmnitronStatus omnitron_http_response_body(struct OmnitronHttpResponse *res,
                                           const uint8_t *data,
                                           size_t len,
                                           const char *content_type);

// Sets a JSON body (`application/json`) from NUL-terminated `json` (copied). Text that is not
// JSON is OMNITRON_STATUS_INVALID_ARGUMENT. Calling it again replaces the body.
OmnitronStatus omnitron_http_response_json(struct OmnitronHttpResponse *res, const char *json);

// How many files the request's `multipart/form-data` body carried in the route's `upload.field`
// (core has checked each one's size and media type against the route's `upload`; an upload
// without a file was answered 400 before the callback). 0 on a route without `upload`, and, with
// the last error set, when `req` is not the running callback's request.
size_t omnitron_http_request_file_count(const struct OmnitronHttpRequest *req);

// The uploaded file at `index` (from 0, below omnitron_http_request_file_count) into `*out`
// (see OmnitronHttpFile: its pointers belong to the library and are valid during the callback,
// on its thread). An index out of range is OMNITRON_STATUS_INVALID_ARGUMENT. The files' bytes are
// copied once per request, on the first call.
OmnitronStatus omnitron_http_request_file(const struct OmnitronHttpRequest *req,
                                          size_t index,
                                          struct OmnitronHttpFile *out);

// The page a `paginated` route's request asks for, into `*out` (core has already answered 400 to
// a `page` or `limit` that is not a whole number in range). On a route without `paginated`:
// OMNITRON_STATUS_INVALID_ARGUMENT. The answer is then wrapped by the library: a JSON array body
// becomes `{"data": [...], "meta": {"page", "limit"}}`, and an object `{"items": [...], "total":
// n}` becomes `{"data": [...], "meta": {"page", "limit", "total", "pages"}}` with a `Link` header.
OmnitronStatus omnitron_http_request_page(const struct OmnitronHttpRequest *req,
                                          struct OmnitronHttpPage *out);

// The verified bearer token's claim `name` (`sub`, `roles`, ...) on a route that requires auth
// (`auth`, `roles` or `permissions`): a string as it is, anything else as its JSON text
// (`["admin","ops"]`). NULL when the token has no such claim, on a route that does not require
// auth, or on a bad argument (the last error says which). Valid during the callback.
const char *omnitron_http_request_claim(const struct OmnitronHttpRequest *req, const char *name);

// The member `name` of the body as the pipeline read it: on an `upload` route a text field of the
// multipart form (a name sent twice: a JSON array of its values), otherwise a member of a JSON
// object body (after the route's `body` schema checked it). A string as it is, anything else as
// its JSON text. NULL when absent, when the body is not a JSON object, or on a bad argument.
// Valid during the callback.
const char *omnitron_http_request_field(const struct OmnitronHttpRequest *req, const char *name);

// Answers a request in-process, through the app's whole pipeline (no socket): `method` ("GET"),
// `uri` (the path with its query, "/users/7?verbose=1"), `headers_json` (NULL, or a JSON object
// of strings: `{"content-type": "application/json"}`), and `body_len` bytes at `body` (NULL with
// 0: none). Blocks until the answer; `*out` gets it (free with omnitron_http_answer_free). The
// first inject (or listen) builds the app: a bad or clashing route is then
// OMNITRON_STATUS_INVALID_ROUTE. Do not call it from one of the same app's handlers.
OmnitronStatus omnitron_http_app_inject(struct OmnitronHttpApp *app,
                                        const char *method,
                                        const char *uri,
                                        const char *headers_json,
                                        const uint8_t *body,
                                        size_t body_len,
                                        struct OmnitronHttpAnswer **out);

// The answer's status (0 for a bad handle).
uint16_t omnitron_http_answer_status(const struct OmnitronHttpAnswer *answer);

// The answer's header `name` (any case; repeated ones joined with ", "), or NULL when absent.
// Valid until the answer is freed.
const char *omnitron_http_answer_header(const struct OmnitronHttpAnswer *answer, const char *name);

// The answer's body: `*data` (followed by a NUL byte not counted in `*len`, so text reads as a C
// string) and `*len`. Valid until the answer is freed.
OmnitronStatus omnitron_http_answer_body(const struct OmnitronHttpAnswer *answer,
                                         const uint8_t **data,
                                         size_t *len);

// Frees an answer. NULL and freed handles are ignored.
void omnitron_http_answer_free(struct OmnitronHttpAnswer *answer);

// Reads OMNITRON_LOG, OMNITRON_LOG_FORMAT and OMNITRON_LOG_CONTROL (once), names this process
// `name` in its records unless OMNITRON_CHILD_NAME or OTEL_SERVICE_NAME does, and sends the
// engine's own diagnostics to the logger. Logging works without it (with the defaults: `info`,
// JSON unless standard error is a terminal). A variable it cannot use is
// OMNITRON_STATUS_INVALID_CONFIG, naming it (the defaults then stay for it).
OmnitronStatus omnitron_log_init(const char *name);

// Whether a record of `level` from `module` would be written (to skip building an expensive
// one). False for NULL or a level that is not one.
bool omnitron_log_enabled(uint32_t level, const char *module);

// Writes a record of `level` (OMNITRON_LOG_*) from `module` (a dotted name, "" for none) with
// `message`, and `fields_json` (NULL, or the text of one JSON object whose keys are added to the
// record). The record carries this thread's trace context and, in a handler, its call's. Nothing
// is written when the filter leaves `level` out for `module`; that is OMNITRON_STATUS_OK.
OmnitronStatus omnitron_log(uint32_t level,
                            const char *module,
                            const char *message,
                            const char *fields_json);

// Replaces this process's filter: a level, or a level then `module=level` items
// (`"info,orders=debug"`). A bad one is OMNITRON_STATUS_INVALID_ARGUMENT naming the item, and
// nothing changes.
OmnitronStatus omnitron_log_set_filter(const char *filter);

// Sets one module's level ("trace" ... "fatal", or "off"), keeping the rest of the filter;
// `module` "" sets the default.
OmnitronStatus omnitron_log_set_level(const char *module, const char *level);

// The filter in force (`*out`, NUL-terminated; free it with omnitron_free).
OmnitronStatus omnitron_log_filter(char **out);

// Frees memory the library handed out: a string it returned (`char *` outputs such as
// omnitron_container_export_graph's) or the `data` of an OmnitronBuffer. NULL is ignored. Freeing
// the same pointer twice, or any pointer the library did not hand out (a handle, a static string
// such as omnitron_version's, memory from malloc), is safe: the library keeps a record of the
// memory it has handed out and not taken back, and refuses any other pointer without reading
// through it (nothing is freed; the thread's last error is OMNITRON_STATUS_INVALID_ARGUMENT). The
// record is of addresses: once the library hands out new memory at a freed address, a stale copy
// of the old pointer names the new memory, so do not rely on it beyond catching mistakes.
// Callable from any thread.
void omnitron_free(void *ptr);

// Deprecated alias of omnitron_free (strings and buffers now free the same way): a second free of
// the same string, or a pointer the library did not hand out, is refused as there.
OMNITRON_DEPRECATED("use omnitron_free") void omnitron_string_free(char *s);

// Deprecated: call omnitron_free(buf->data) instead. Frees the buffer's data and sets it to NULL /
// 0; NULL and empty buffers are ignored. Data already freed (through a copy of the buffer, or with
// omnitron_free) is refused as by omnitron_free, and the buffer still emptied.
OMNITRON_DEPRECATED("use omnitron_free(buf.data)")
void omnitron_buffer_free(struct OmnitronBuffer *buf);

// Creates an empty registry, separate from the global one. Free it with omnitron_registry_free.
OmnitronStatus omnitron_registry_new(struct OmnitronRegistry **out);

// A handle to the process-wide registry the engine instruments itself into (breaker states and
// call outcomes, later RPC, pools and workflows). Free the handle with omnitron_registry_free; the
// registry itself lives on.
OmnitronStatus omnitron_registry_global(struct OmnitronRegistry **out);

// Frees a registry handle. Metrics and series handles taken from it stay valid. NULL and freed
// handles are ignored.
void omnitron_registry_free(struct OmnitronRegistry *registry);

// Declares a counter with `label_count` label names (NULL and 0 for none). Declaring the same
// metric again gives another handle to it; a different declaration under the same name is
// OMNITRON_STATUS_METRIC_CONFLICT. Free the handle with omnitron_metric_free.
OmnitronStatus omnitron_metric_counter(struct OmnitronRegistry *registry,
                                       const char *name,
                                       const char *help,
                                       const char *const *label_names,
                                       size_t label_count,
                                       struct OmnitronMetric **out);

// Declares a gauge; as omnitron_metric_counter.
OmnitronStatus omnitron_metric_gauge(struct OmnitronRegistry *registry,
                                     const char *name,
                                     const char *help,
                                     const char *const *label_names,
                                     size_t label_count,
                                     struct OmnitronMetric **out);

// Declares a histogram with `bucket_count` upper bounds (finite, strictly increasing; `+Inf` is
// implied; every bound above 0). NULL and 0 give the default buckets (5 ms to 10 s, in seconds).
OmnitronStatus omnitron_metric_histogram(struct OmnitronRegistry *registry,
                                         const char *name,
                                         const char *help,
                                         const char *const *label_names,
                                         size_t label_count,
                                         const double *buckets,
                                         size_t bucket_count,
                                         struct OmnitronMetric **out);

// Frees a metric handle (the metric stays in its registry). NULL and freed handles are ignored.
void omnitron_metric_free(struct OmnitronMetric *metric);

// Adds `value` to the series with these label values (in the order of the label names; NULL and 0
// for an unlabeled metric): a counter refuses negative values, a gauge takes any finite value.
OmnitronStatus omnitron_metric_add(struct OmnitronMetric *metric,
                                   const char *const *label_values,
                                   size_t label_count,
                                   double value);

// Sets a gauge's series to `value`.
OmnitronStatus omnitron_metric_set(struct OmnitronMetric *metric,
                                   const char *const *label_values,
                                   size_t label_count,
                                   double value);

// Records `value` in a histogram's series.
OmnitronStatus omnitron_metric_observe(struct OmnitronMetric *metric,
                                       const char *const *label_values,
                                       size_t label_count,
                                       double value);

// The current value of a counter or gauge series, or the number of observations of a histogram
// series.
OmnitronStatus omnitron_metric_value(struct OmnitronMetric *metric,
                                     const char *const *label_values,
                                     size_t label_count,
                                     double *out);

// A handle to one series (creating it if new), for recording without naming the labels each time.
// Free it with omnitron_series_free.
OmnitronStatus omnitron_metric_series(struct OmnitronMetric *metric,
                                      const char *const *label_values,
                                      size_t label_count,
                                      struct OmnitronSeries **out);

// Adds to a counter or gauge series (see omnitron_metric_add).
OmnitronStatus omnitron_series_add(struct OmnitronSeries *series, double value);

// Sets a gauge series.
OmnitronStatus omnitron_series_set(struct OmnitronSeries *series, double value);

// Records a value in a histogram series.
OmnitronStatus omnitron_series_observe(struct OmnitronSeries *series, double value);

// A counter or gauge series' value; for a histogram series, `*out` is its count and `*sum` (if not
// NULL) its sum.
OmnitronStatus omnitron_series_value(struct OmnitronSeries *series, double *out, double *sum);

// Frees a series handle (the series stays in its metric). NULL and freed handles are ignored.
void omnitron_series_free(struct OmnitronSeries *series);

// Writes the registry's exposition into the caller's buffer `buf` of `capacity` bytes, NUL
// terminated, and its length (without the NUL) to `*len`. When it does not fit, nothing is
// written to `buf`, `*len` is the length needed (0 after other failures) and the status is
// OMNITRON_STATUS_BUFFER_TOO_SMALL:
// call again with at least `*len + 1` bytes. `buf` may be NULL when `capacity` is 0 (to ask the
// size).
OmnitronStatus omnitron_registry_gather(struct OmnitronRegistry *registry,
                                        uint32_t format,
                                        char *buf,
                                        size_t capacity,
                                        size_t *len);

// Like omnitron_registry_gather, into a string the library allocates: free it with
// omnitron_free.
OmnitronStatus omnitron_registry_gather_string(struct OmnitronRegistry *registry,
                                               uint32_t format,
                                               char **out);

// Starts an HTTP server answering `GET /metrics` for `registry` on `address` ("host:port"; port 0
// picks a free one; see omnitron_exporter_port). It runs on the engine's threads until
// omnitron_exporter_stop.
OmnitronStatus omnitron_exporter_start(struct OmnitronRegistry *registry,
                                       const char *address,
                                       struct OmnitronExporter **out);

// The port the exporter listens on.
OmnitronStatus omnitron_exporter_port(struct OmnitronExporter *exporter, uint16_t *out);

// Stops the exporter (waiting until its server is down) and frees the handle. NULL and freed
// handles are ignored.
void omnitron_exporter_stop(struct OmnitronExporter *exporter);

// Starts a pool from `options_json` (`{"name": "resize", "command": ["./worker"], "size": 2, ...}`;
// every key in docs/C_API.md) and waits until its workers are ready (with `"warmup": true`, the
// default). Free it with omnitron_pool_free.
OmnitronStatus omnitron_pool_start(const char *options_json, struct OmnitronPool **out);

// Runs `method` with `args_json` (a JSON array; NULL for none) on a worker, blocking this thread
// until the result; `*out` gets it as NUL-terminated JSON (free `data` with omnitron_free).
// OMNITRON_STATUS_QUEUE_FULL when the pool's queue is full, _WORKER_LOST when the worker died and
// the retries are used up, _TIMEOUT after the task timeout.
OmnitronStatus omnitron_pool_exec_json(struct OmnitronPool *pool,
                                       const char *method,
                                       const char *args_json,
                                       struct OmnitronBuffer *out);

// Starts a task and returns at once; `done` runs exactly once on an engine thread, with the result
// as JSON text in `value` / `len` (NUL-terminated) or the failure in `status` / `error`, then
// `free_user_data(user_data)` (NULL: nothing) on the same thread. If this function fails, `done`
// never runs and `free_user_data` runs before it returns.
OmnitronStatus omnitron_pool_exec_async(struct OmnitronPool *pool,
                                        const char *method,
                                        const char *args_json,
                                        OmnitronCompletionFn done,
                                        void *user_data,
                                        OmnitronFreeFn free_user_data);

// The pool's state as JSON: `{"workers","starting","queued","in_flight","pids"}`.
OmnitronStatus omnitron_pool_status_json(struct OmnitronPool *pool, struct OmnitronBuffer *out);

// Stops the pool: queued tasks fail, tasks in flight get the shutdown timeout, then every worker
// is stopped. The handle stays valid (tasks fail with OMNITRON_STATUS_NOT_RUNNING) until freed.
OmnitronStatus omnitron_pool_stop(struct OmnitronPool *pool);

// Stops the pool (if running) and frees the handle. NULL and freed handles are ignored.
void omnitron_pool_free(struct OmnitronPool *pool);

// A supervisor from `options_json` (`{"name", "strategy", "max_restarts", "window_ms",
// "backoff_initial_ms", "backoff_max_ms", "backoff_factor"}`, all optional; NULL for defaults).
OmnitronStatus omnitron_supervisor_new(const char *options_json, struct OmnitronSupervisor **out);

// Adds a child program (`{"name", "command", "instances", "critical", "restart", ...}`) before
// the supervisor starts.
OmnitronStatus omnitron_supervisor_add_child(struct OmnitronSupervisor *sup,
                                             const char *child_json);

// Nests `child` under `sup`; a `critical` child's failure fails `sup` too.
OmnitronStatus omnitron_supervisor_add_supervisor(struct OmnitronSupervisor *sup,
                                                  struct OmnitronSupervisor *child,
                                                  bool critical);

// Sets the crash hook (see OmnitronCrashHookFn), replacing any earlier one.
// `free_user_data(user_data)` (NULL: nothing; then `user_data` must outlive the supervisor) runs
// once when the hook is replaced or the supervisor is freed (and the last hook call returned), on
// the thread that lets go last; or before this function returns if it fails.
OmnitronStatus omnitron_supervisor_on_crash(struct OmnitronSupervisor *sup,
                                            OmnitronCrashHookFn hook,
                                            void *user_data,
                                            OmnitronFreeFn free_user_data);

// Sets the restart hook (see OmnitronRestartHookFn), replacing any earlier one. `free_user_data`
// as for omnitron_supervisor_on_crash.
OmnitronStatus omnitron_supervisor_on_restart(struct OmnitronSupervisor *sup,
                                              OmnitronRestartHookFn hook,
                                              void *user_data,
                                              OmnitronFreeFn free_user_data);

// Starts every child in order, each ready before the next (idempotent).
OmnitronStatus omnitron_supervisor_start(struct OmnitronSupervisor *sup);

// Stops every child (in reverse order); crashes during the stop restart nothing.
OmnitronStatus omnitron_supervisor_stop(struct OmnitronSupervisor *sup);

// Blocks until the supervisor stops: OK when stopped, OMNITRON_STATUS_RESTART_LIMIT when it failed.
OmnitronStatus omnitron_supervisor_wait(struct OmnitronSupervisor *sup);

// Restarts child `name` (every instance); counts against its budget (OMNITRON_STATUS_RESTART_LIMIT
// when spent).
OmnitronStatus omnitron_supervisor_restart_child(struct OmnitronSupervisor *sup, const char *name);

// Every child as a JSON array of `{"name","index","pid","state","restarts","last_exit","critical"}`.
OmnitronStatus omnitron_supervisor_children_json(struct OmnitronSupervisor *sup,
                                                 struct OmnitronBuffer *out);

// Stops the supervisor (if running) and frees the handle.
void omnitron_supervisor_free(struct OmnitronSupervisor *sup);

// For a C worker: connects to the parent that started this process (its address, token and this
// child's id come in the environment). Expose services on the peer with omnitron_peer_expose or
// omnitron_peer_expose_service, then call omnitron_worker_run. OMNITRON_STATUS_NO_PARENT when
// this process was not started by an Omnitron parent. Free the peer with omnitron_peer_free.
OmnitronStatus omnitron_worker_connect(struct OmnitronPeer **out);

// Reports this worker ready to its parent, then blocks until SIGTERM or SIGINT (the parent's
// stop). Handlers keep running on engine threads meanwhile.
OmnitronStatus omnitron_worker_run(struct OmnitronPeer *peer);

// Opens queue `name` (1 to 128 letters, digits, `-`, `_`, `.`, `:`) in the store `store_url` names:
// `sqlite:<file>` (created if missing; every open of one file in a process shares one store),
// `sqlite::memory:`, or `redis://[user:password@]host[:port][/db][?prefix=<prefix>]`.
// `options_json` (NULL: the defaults) sets what its jobs get unless added otherwise, and the limits
// every worker of the queue applies, on every machine: `{"concurrency": 4, "rate_limit":
// "100/minute", "retries": 5, "backoff": "exponential", "backoff_delay_ms": 1000,
// "max_delay_ms": 3600000, "timeout_ms": 30000, "keep_completed_ms": 3600000}` (or `attempts`
// in all instead of `retries`; `backoff` also as `{"type": "fixed", "delay_ms": 500}`). An unknown
// key is OMNITRON_STATUS_INVALID_ARGUMENT naming the nearest one; a wrong value (a rate that is
// not `N/unit`, a bad name) OMNITRON_STATUS_INVALID_QUEUE naming the key and the rule; a store
// that cannot be opened OMNITRON_STATUS_QUEUE_STORE_FAILED or _QUEUE_STORE_VERSION. Free it with
// omnitron_queue_free.
OmnitronStatus omnitron_queue_open(const char *store_url,
                                   const char *name,
                                   const char *options_json,
                                   struct OmnitronQueue **out);

// Frees the queue handle. Its jobs stay in the store; workers started on it keep running until
// they are closed. NULL and freed handles are ignored.
void omnitron_queue_free(struct OmnitronQueue *queue);

// Adds a job named `job_name` with `len` bytes of MessagePack at `data` (`len` 0: nil; copied),
// once it is durable in the store. `options_json` (NULL: the queue's defaults): `{"id": "order-7"}`
// (or `job_id`; an id the queue already holds, in any state, adds nothing), `delay_ms`,
// `priority` (lower runs first; 0, the default, is the highest), `retries` or `attempts`,
// `backoff`, `backoff_delay_ms`, `max_delay_ms`, `timeout_ms`, `keep_completed_ms`. Writes the
// job's id to `*id_out` (free it with omnitron_free) and whether it was added to `*added_out`
// (false: a duplicate of an existing id); either may be NULL. Data that is not one MessagePack
// value is OMNITRON_STATUS_INVALID_JOB_DATA.
OmnitronStatus omnitron_queue_add(struct OmnitronQueue *queue,
                                  const char *job_name,
                                  const uint8_t *data,
                                  size_t len,
                                  const char *options_json,
                                  char **id_out,
                                  bool *added_out);

// omnitron_queue_add with the job's data as JSON text (NULL: null), stored as MessagePack so every
// door reads it.
OmnitronStatus omnitron_queue_add_json(struct OmnitronQueue *queue,
                                       const char *job_name,
                                       const char *data_json,
                                       const char *options_json,
                                       char **id_out,
                                       bool *added_out);

// Adds many jobs in one write, given as a JSON array: `[{"name": "welcome", "data": {"to":
// "ada@example.com"}, "opts": {"id": "w-1"}}, ...]` (`data` and `opts` optional; `opts` as
// omnitron_queue_add's `options_json`). Writes to `*out` (free `out->data` with omnitron_free;
// `out` may be NULL) a JSON array with each job's fate, in order: `[{"id": "w-1", "added":
// true}, ...]` (`added` false: a duplicate of an existing id). Nothing is added if any job is
// refused (a bad option names the job's index).
OmnitronStatus omnitron_queue_add_many_json(struct OmnitronQueue *queue,
                                            const char *jobs_json,
                                            struct OmnitronBuffer *out);

// How many of the queue's jobs are in each state, across every worker and process, as JSON:
// `{"waiting": 3, "delayed": 0, "active": 1, "completed": 10, "dead": 0, "paused": false}`
// (free `out->data` with omnitron_free).
OmnitronStatus omnitron_queue_counts_json(struct OmnitronQueue *queue, struct OmnitronBuffer *out);

// Stops handing out the queue's jobs, on every worker of every process (running jobs finish).
OmnitronStatus omnitron_queue_pause(struct OmnitronQueue *queue);

// Hands the queue's jobs out again.
OmnitronStatus omnitron_queue_resume(struct OmnitronQueue *queue);

// The job `id`, in any state, as a MessagePack map: `{id, name, data, state ("waiting",
// "delayed", "active", "completed", "dead"), attempts, errors (each `{attempt, at, code,
// message}`), progress, result, priority, createdAt, finishedAt}` (times in ms since the epoch;
// `finishedAt` 0 until it ends; data, progress and result as they were given). Free `out->data`
// with omnitron_free. OMNITRON_STATUS_JOB_NOT_FOUND when the queue holds no such job.
OmnitronStatus omnitron_queue_get(struct OmnitronQueue *queue,
                                  const char *id,
                                  struct OmnitronBuffer *out);

// omnitron_queue_get as JSON text (binary values become arrays of numbers).
OmnitronStatus omnitron_queue_get_json(struct OmnitronQueue *queue,
                                       const char *id,
                                       struct OmnitronBuffer *out);

// The dead-letter queue, oldest first: at most `limit` jobs after skipping `offset`, as a
// MessagePack array of the maps omnitron_queue_get gives, each with every attempt's error. Free
// `out->data` with omnitron_free.
OmnitronStatus omnitron_queue_dead(struct OmnitronQueue *queue,
                                   uint64_t offset,
                                   uint64_t limit,
                                   struct OmnitronBuffer *out);

// omnitron_queue_dead as JSON text.
OmnitronStatus omnitron_queue_dead_json(struct OmnitronQueue *queue,
                                        uint64_t offset,
                                        uint64_t limit,
                                        struct OmnitronBuffer *out);

// Puts dead jobs back in the queue with fresh attempts (their past errors kept): the `count` ids at
// `ids`, or every dead job when `ids` is NULL (then `count` must be 0). Writes how many went back
// to `*retried_out` (may be NULL); ids that are not dead jobs are skipped.
OmnitronStatus omnitron_queue_retry_dead(struct OmnitronQueue *queue,
                                         const char *const *ids,
                                         size_t count,
                                         uint64_t *retried_out);

// Removes job `id` (waiting, delayed, completed or dead) with its errors; writes whether there was
// one to `*removed_out` (may be NULL). A running job is OMNITRON_STATUS_JOB_ACTIVE: remove it once
// it finishes.
OmnitronStatus omnitron_queue_remove(struct OmnitronQueue *queue,
                                     const char *id,
                                     bool *removed_out);

// Starts a worker on `queue` that runs each job with `callback` (see OmnitronJobFn: it runs on an
// engine thread). `options_json` (NULL: the defaults): `{"concurrency": 4, "lease_ms": 30000,
// "poll_interval_ms": 100, "max_stalls": 1, "name": "mailer-1", "prefetch": 8}`: jobs run at once
// (default 1), the lease held on each (renewed every third of it; a worker that dies loses its
// jobs to others after this long; at least 100), how often an idle worker looks for jobs added by
// other processes (jobs added in this process wake it at once), how often a job's worker may be
// lost before it is dead, the worker's name in the store, and how many jobs it holds leased
// beyond the running ones, to start without a round trip to the store (default the concurrency,
// at least 8; 0 on a queue with limits; a held job no free slot starts within 250 ms goes back).
// `free_user_data(user_data)` (NULL: nothing) runs once the worker is closed or freed and its
// last callback has returned, on the thread that lets go last; or before this function returns
// if it fails. Free the worker with
// omnitron_queue_worker_free.
OmnitronStatus omnitron_queue_worker_start(struct OmnitronQueue *queue,
                                           const char *options_json,
                                           OmnitronJobFn callback,
                                           void *user_data,
                                           OmnitronFreeFn free_user_data,
                                           struct OmnitronQueueWorker **out);

// Closes the worker, blocking the calling thread: it takes no new job; running jobs get up to
// `grace_ms` to be finished; jobs still unfinished then are handed back to the front of the queue,
// their attempt not counted (their late answers are dropped). Returns once every outcome is in the
// store and every callback has returned: from then on no callback runs. Closing again (from
// another thread too) waits for the first close. The handle stays valid until
// omnitron_queue_worker_free.
OmnitronStatus omnitron_queue_worker_close(struct OmnitronQueueWorker *worker, uint64_t grace_ms);

// Frees the worker; one still running is closed first with no grace (its running jobs are handed
// back at once, their late answers dropped). Blocks as omnitron_queue_worker_close does. NULL and
// freed handles are ignored.
void omnitron_queue_worker_free(struct OmnitronQueueWorker *worker);

// The job's id (stable across attempts: use it as an idempotency key), or NULL for an invalid
// handle. Valid until the job is finished.
const char *omnitron_job_id(const struct OmnitronJob *job);

// The job's name (as added), or NULL for an invalid handle. Valid until the job is finished.
const char *omnitron_job_name(const struct OmnitronJob *job);

// This attempt's number, from 1 (0 for an invalid handle).
uint32_t omnitron_job_attempt(const struct OmnitronJob *job);

// The lease's fencing token: it grows each time the job is handed out (0 for an invalid handle).
uint64_t omnitron_job_token(const struct OmnitronJob *job);

// The job's data as added: `*len` bytes of MessagePack at `*data` (nil, 0xc0, when it was added
// without data). Owned by the job: valid until it is finished; do not free.
OmnitronStatus omnitron_job_data(const struct OmnitronJob *job, const uint8_t **data, size_t *len);

// The job's data as NUL-terminated JSON text in `*out` (binary values become arrays of numbers;
// free `out->data` with omnitron_free).
OmnitronStatus omnitron_job_data_json(const struct OmnitronJob *job, struct OmnitronBuffer *out);

// Whether the engine has given up on this attempt: its timeout passed, its lease was lost (another
// worker may run the job), or its worker closed and the grace ran out. A long job checks it to
// stop early; it must still be finished, and its answer is then dropped. False for an invalid
// handle.
bool omnitron_job_cancelled(const struct OmnitronJob *job);

// Records the running job's progress: `len` bytes of MessagePack at `data` (copied), kept with the
// job and reported as a `progress` event. Blocks until the store has it. Writes to `*recorded`
// (may be NULL) whether it was recorded: false once the engine has given up on the attempt.
OmnitronStatus omnitron_job_progress(struct OmnitronJob *job,
                                     const uint8_t *data,
                                     size_t len,
                                     bool *recorded);

// omnitron_job_progress with JSON text (NULL: null).
OmnitronStatus omnitron_job_progress_json(struct OmnitronJob *job,
                                          const char *progress_json,
                                          bool *recorded);

// Completes the job with `len` bytes of MessagePack at `result` (`len` 0: nil; copied), kept with
// the completed job for the queue's `keep_completed_ms`, and frees the job handle. Call it, or
// omnitron_job_fail, exactly once per job, from any thread. Whatever it returns, the handle is
// freed (a second finish is OMNITRON_STATUS_INVALID_HANDLE):
// - OMNITRON_STATUS_OK: the engine has the result (it is recorded shortly after, before the
//   `completed` event);
// - OMNITRON_STATUS_LEASE_LOST: the engine had given up on the attempt (omnitron_job_cancelled):
//   the result is dropped; the job was failed (timeout), handed to another worker (lease lost) or
//   handed back (worker closed);
// - a result that is not one MessagePack value (OMNITRON_STATUS_INVALID_JOB_DATA) or a NULL
//   `result` with a length (OMNITRON_STATUS_INVALID_ARGUMENT) fails the attempt with that error.
OmnitronStatus omnitron_job_complete(struct OmnitronJob *job, const uint8_t *result, size_t len);

// omnitron_job_complete with the result as JSON text (NULL: null), stored as MessagePack. Text that
// is not JSON fails the attempt and returns OMNITRON_STATUS_INVALID_ARGUMENT.
OmnitronStatus omnitron_job_complete_json(struct OmnitronJob *job, const char *result_json);

// Fails the job's attempt and frees the job handle: the job is retried after its backoff, or goes
// to the dead-letter queue after its last attempt. `code` is the error's code as the job records
// it: one of the library's ids ("Q006", omnitron_status_id gives them), or NULL (or any other text)
// for "Q005", the handler failed. `message` says why (copied). As for omnitron_job_complete, call
// one of them exactly once; the handle is freed whatever this returns (OMNITRON_STATUS_LEASE_LOST:
// the engine had given up on the attempt). A NULL `message` still fails the attempt, and returns
// OMNITRON_STATUS_INVALID_ARGUMENT.
OmnitronStatus omnitron_job_fail(struct OmnitronJob *job, const char *code, const char *message);

// Calls `callback` with each event of `queue`, from the workers of every process sharing its
// store, until the listener is freed. Returns once events of other processes are heard too
// (OMNITRON_STATUS_QUEUE_STORE_FAILED if the store cannot carry them within a few seconds).
// Events are at most once: a listener hears what happens after this call, and one whose callback
// falls thousands of events behind loses the oldest. `free_user_data(user_data)` (NULL: nothing)
// runs once the listener is freed and its last callback has returned, or before this function
// returns if it fails.
OmnitronStatus omnitron_queue_on_event(struct OmnitronQueue *queue,
                                       OmnitronQueueEventFn callback,
                                       void *user_data,
                                       OmnitronFreeFn free_user_data,
                                       struct OmnitronQueueListener **out);

// Stops the listener and frees it: returns once its callback is not running (called from inside
// its own callback, it does not wait for that call). NULL and freed handles are ignored.
void omnitron_queue_listener_free(struct OmnitronQueueListener *listener);

// Writes the default breaker options (opens after 5 consecutive failures, stays open 60 s, one
// trial call closes it) to `*out`.
OmnitronStatus omnitron_breaker_options_default(struct OmnitronBreakerOptions *out);

// Creates a circuit breaker named `name` (for errors and metrics) with `options` (NULL for the
// defaults), counting its states and call outcomes in `registry` (NULL for the global registry).
// Invalid options are OMNITRON_STATUS_INVALID_POLICY, naming the field. Free it with
// omnitron_breaker_free.
OmnitronStatus omnitron_breaker_new(const char *name,
                                    const struct OmnitronBreakerOptions *options,
                                    const struct OmnitronRegistry *registry,
                                    struct OmnitronBreaker **out);

// Frees a breaker. NULL and freed handles are ignored; a call running on another thread finishes.
void omnitron_breaker_free(struct OmnitronBreaker *breaker);

// Calls `call(user_data)` through the breaker on this thread. Returns OMNITRON_STATUS_OK when it
// ran and succeeded; OMNITRON_STATUS_CIRCUIT_OPEN (the message names the breaker) when the breaker
// is open and `call` was not made; OMNITRON_STATUS_TIMEOUT when it took longer than the call
// timeout; otherwise the call's failure (OMNITRON_STATUS_CALLBACK_FAILED with its message, or the
// library status it passed on). `is_failure` (NULL: every failure counts) decides whether a failed
// call's status counts against the breaker; it gets the same user_data.
OmnitronStatus omnitron_breaker_call(struct OmnitronBreaker *breaker,
                                     OmnitronCallFn call,
                                     OmnitronBreakerPredicateFn is_failure,
                                     void *user_data);

// Asks for a permit: OMNITRON_STATUS_OK with `*out` filled, or OMNITRON_STATUS_CIRCUIT_OPEN.
OmnitronStatus omnitron_breaker_acquire(struct OmnitronBreaker *breaker,
                                        struct OmnitronPermit *out);

// Reports the outcome (OMNITRON_OUTCOME_*) of the call a permit allowed.
OmnitronStatus omnitron_breaker_record(struct OmnitronBreaker *breaker,
                                       struct OmnitronPermit permit,
                                       uint32_t outcome);

// The breaker's state (OMNITRON_BREAKER_CLOSED, _OPEN or _HALF_OPEN). An open breaker whose
// timeout has passed reports OPEN until the next call moves it to half-open.
OmnitronStatus omnitron_breaker_state(struct OmnitronBreaker *breaker, uint32_t *out);

// Registers `listener(name, from, to, user_data)` for every later state change (see
// OmnitronBreakerListenerFn for its thread). Listeners stay until the breaker is freed; then
// `free_user_data(user_data)` (NULL: nothing; then `user_data` must outlive the breaker) runs once,
// on the thread that frees it (or, if a call is still running through it on another thread, on
// that thread when the call ends); or before this function returns if it fails.
OmnitronStatus omnitron_breaker_on_state_change(struct OmnitronBreaker *breaker,
                                                OmnitronBreakerListenerFn listener,
                                                void *user_data,
                                                OmnitronFreeFn free_user_data);

// Writes the default retry options (3 attempts, exponential from 100 ms, factor 2, capped at 30 s,
// no jitter) to `*out`.
OmnitronStatus omnitron_retry_options_default(struct OmnitronRetryOptions *out);

// Creates a retry policy from `options` (NULL for the defaults). Invalid options are
// OMNITRON_STATUS_INVALID_POLICY. Free it with omnitron_retry_free.
OmnitronStatus omnitron_retry_new(const struct OmnitronRetryOptions *options,
                                  struct OmnitronRetry **out);

// Frees a retry policy. NULL and freed handles are ignored.
void omnitron_retry_free(struct OmnitronRetry *retry);

// Calls `call(attempt, user_data)` until it succeeds, `retry_if` (NULL: every failure is retried)
// says a failure is final, or the attempts run out, sleeping this thread for the backoff in
// between. Writes the number of attempts made to `*attempts` (if not NULL; also on failure, 0 when
// none was made). Returns
// OMNITRON_STATUS_OK; the final failure itself when `retry_if` refused; or
// OMNITRON_STATUS_RETRY_EXHAUSTED, whose message has the attempt count and the last failure.
OmnitronStatus omnitron_retry_call(struct OmnitronRetry *retry,
                                   OmnitronAttemptFn call,
                                   OmnitronRetryPredicateFn retry_if,
                                   void *user_data,
                                   uint32_t *attempts);

// The delay in milliseconds to wait after attempt `attempt` (from 1) failed, jitter included: for
// programs that schedule retries on their own loop.
OmnitronStatus omnitron_retry_delay_ms(struct OmnitronRetry *retry,
                                       uint32_t attempt,
                                       uint64_t *out);

// Creates a rate limiter allowing `points` calls per `duration_ms` (both > 0) with `kind`
// (OMNITRON_RATE_LIMIT_TOKEN_BUCKET or _SLIDING_WINDOW). Free it with omnitron_rate_limiter_free.
OmnitronStatus omnitron_rate_limiter_new(const char *name,
                                         uint32_t points,
                                         uint64_t duration_ms,
                                         uint32_t kind,
                                         struct OmnitronRateLimiter **out);

// Frees a rate limiter. NULL and freed handles are ignored.
void omnitron_rate_limiter_free(struct OmnitronRateLimiter *limiter);

// Takes `n` tokens now: OMNITRON_STATUS_OK, or OMNITRON_STATUS_RATE_LIMITED with the milliseconds
// until they would be there in `*retry_in_ms` (if not NULL; at least 1; 0 on success and on other
// failures).
OmnitronStatus omnitron_rate_limiter_try_acquire(struct OmnitronRateLimiter *limiter,
                                                 uint32_t n,
                                                 uint64_t *retry_in_ms);

// Waits (blocking this thread) until `n` tokens are there and takes them. Gives up with
// OMNITRON_STATUS_RATE_LIMITED if that would take longer than `max_wait_ms` (UINT64_MAX: wait as
// long as it takes). Asking for more than `points` at once is OMNITRON_STATUS_INVALID_POLICY.
OmnitronStatus omnitron_rate_limiter_acquire(struct OmnitronRateLimiter *limiter,
                                             uint32_t n,
                                             uint64_t max_wait_ms);

// Tokens available now (fractional for a token bucket).
OmnitronStatus omnitron_rate_limiter_available(struct OmnitronRateLimiter *limiter, double *out);

// Creates a bulkhead: at most `max_concurrent` (> 0) calls at once and `max_queue` waiting. Free it
// with omnitron_bulkhead_free.
OmnitronStatus omnitron_bulkhead_new(const char *name,
                                     size_t max_concurrent,
                                     size_t max_queue,
                                     struct OmnitronBulkhead **out);

// Frees a bulkhead. NULL and freed handles are ignored.
void omnitron_bulkhead_free(struct OmnitronBulkhead *bulkhead);

// Runs `call(user_data)` on this thread once a slot is free, blocking in the queue if need be.
// OMNITRON_STATUS_BULKHEAD_FULL when both the slots and the queue are full; otherwise the call's
// own result.
OmnitronStatus omnitron_bulkhead_call(struct OmnitronBulkhead *bulkhead,
                                      OmnitronCallFn call,
                                      void *user_data);

// Calls running in the bulkhead now and callers waiting (either pointer may be NULL).
OmnitronStatus omnitron_bulkhead_load(struct OmnitronBulkhead *bulkhead,
                                      size_t *active,
                                      size_t *queued);

// Listens on `address` (`unix:/path/to.sock` or `tcp://host:port`). `name` (NULL: "c") names this
// peer in logs; `token` (NULL: none; required on TCP) is what connecting peers must present.
OmnitronStatus omnitron_peer_listen(const char *address,
                                    const char *name,
                                    const char *token,
                                    struct OmnitronPeer **out);

// Connects to the peer listening at `address`, presenting `token`. Reconnects by itself if the
// connection drops.
OmnitronStatus omnitron_peer_connect(const char *address,
                                     const char *name,
                                     const char *token,
                                     struct OmnitronPeer **out);

// Closes every connection (calls in flight fail with OMNITRON_STATUS_PEER_DISCONNECTED), stops
// listening, and frees the handle. NULL and freed handles are ignored.
void omnitron_peer_free(struct OmnitronPeer *peer);

// Sets a handler's result: `len` bytes at `data` (MessagePack, or JSON text for JSON handlers),
// copied. Calling it again replaces the result.
OmnitronStatus omnitron_reply_set(struct OmnitronReply *reply, const uint8_t *data, size_t len);

// Hosts `name@version` (`version` NULL: 1.0.0) with `method_count` method names (0, and `methods`
// NULL, for a service that only handles events: it is listed, and calls to it answer
// OMNITRON_STATUS_METHOD_NOT_FOUND); every call runs
// `handler` with the method's name and the arguments in `format` (OMNITRON_FORMAT_MSGPACK or
// OMNITRON_FORMAT_JSON). A handler returning a non-OK status fails the call with that status's code
// (OMNITRON_STATUS_CALLBACK_FAILED, E004, for statuses the library does not define) and the message
// given to omnitron_callback_error. `free_user_data(user_data)` (NULL: nothing; then `user_data`
// must outlive the peer) runs once after the peer is freed and its last handler call returned, on
// the thread that lets go last (the one calling omnitron_peer_free, or an engine thread); or before
// this function returns if it fails.
OmnitronStatus omnitron_peer_expose(struct OmnitronPeer *peer,
                                    const char *name,
                                    const char *version,
                                    const char *const *methods,
                                    size_t method_count,
                                    uint32_t format,
                                    OmnitronHandlerFn handler,
                                    void *user_data,
                                    OmnitronFreeFn free_user_data);

// Starts a service `name@version` (a semver version; NULL: 1.0.0, the version of a service declared
// without one). Free it with omnitron_service_free (after exposing it, or instead). A service with
// no methods can be exposed: it is listed and described, and calls to it fail with
// OMNITRON_STATUS_METHOD_NOT_FOUND.
OmnitronStatus omnitron_service_new(const char *name,
                                    const char *version,
                                    struct OmnitronService **out);

// Adds a method answered by `handler` (see OmnitronHandlerFn) with data in `format`.
// `free_user_data` as for omnitron_peer_expose (the service handle, if freed unexposed, lets go too).
OmnitronStatus omnitron_service_add_method(struct OmnitronService *service,
                                           const char *method,
                                           uint32_t format,
                                           OmnitronHandlerFn handler,
                                           void *user_data,
                                           OmnitronFreeFn free_user_data);

// Adds a streaming method answered by `handler` (see OmnitronStreamHandlerFn). `free_user_data` as
// for omnitron_service_add_method.
OmnitronStatus omnitron_service_add_stream(struct OmnitronService *service,
                                           const char *method,
                                           uint32_t format,
                                           OmnitronStreamHandlerFn handler,
                                           void *user_data,
                                           OmnitronFreeFn free_user_data);

// Exposes a service built with omnitron_service_new on `peer`. The service handle may then only be
// freed.
OmnitronStatus omnitron_peer_expose_service(struct OmnitronPeer *peer,
                                            struct OmnitronService *service);

// Frees a service handle. NULL and freed handles are ignored.
void omnitron_service_free(struct OmnitronService *service);

// Sends one item of a stream (MessagePack, or JSON text for JSON handlers), blocking while the
// caller has not taken the earlier ones. OMNITRON_STATUS_CANCELLED once the caller has gone: stop
// and return.
OmnitronStatus omnitron_stream_send(struct OmnitronStreamSink *sink,
                                    const uint8_t *data,
                                    size_t len);

// Calls a streaming method, blocking this thread: `on_item` runs here for each item as it comes,
// and the next is only requested when it returns. Returns OMNITRON_STATUS_OK at the end of the
// stream, the stream's failure, or OMNITRON_STATUS_CANCELLED if `on_item` returned non-OK (the
// callee is then stopped).
OmnitronStatus omnitron_peer_call_stream(struct OmnitronPeer *peer,
                                         const char *target,
                                         const char *method,
                                         const uint8_t *args,
                                         size_t args_len,
                                         uint64_t deadline_ms,
                                         OmnitronItemFn on_item,
                                         void *user_data);

// Calls `method` of `target` (`name`, `name@1.0.0`, `name@^1`) with MessagePack `args` (an array),
// blocking this thread until the answer (at most `deadline_ms`; 0 for the default 5 s). On success
// `*out` holds the MessagePack result (free its `data` with omnitron_free). Remote failures keep
// their code: OMNITRON_STATUS_SERVICE_NOT_FOUND, _METHOD_NOT_FOUND, _TIMEOUT, _PEER_DISCONNECTED,
// or OMNITRON_STATUS_HANDLER_FAILED with the remote code in the message. Not from inside an event
// callback (OMNITRON_STATUS_INVALID_ARGUMENT: it runs on the reader the answer needs; use
// omnitron_peer_call_async there).
OmnitronStatus omnitron_peer_call(struct OmnitronPeer *peer,
                                  const char *target,
                                  const char *method,
                                  const uint8_t *args,
                                  size_t args_len,
                                  uint64_t deadline_ms,
                                  struct OmnitronBuffer *out);

// omnitron_peer_call with JSON: `args_json` is a JSON array (NULL for none); `*out` a NUL-terminated
// JSON text.
OmnitronStatus omnitron_peer_call_json(struct OmnitronPeer *peer,
                                       const char *target,
                                       const char *method,
                                       const char *args_json,
                                       uint64_t deadline_ms,
                                       struct OmnitronBuffer *out);

// Starts a call and returns at once; `done` runs on an engine thread when it finishes (always
// exactly once, also on failure), then `free_user_data(user_data)` (NULL: nothing) on the same
// thread. If this function fails, `done` never runs and `free_user_data` runs before it returns.
OmnitronStatus omnitron_peer_call_async(struct OmnitronPeer *peer,
                                        const char *target,
                                        const char *method,
                                        const uint8_t *args,
                                        size_t args_len,
                                        uint64_t deadline_ms,
                                        OmnitronCompletionFn done,
                                        void *user_data,
                                        OmnitronFreeFn free_user_data);

// Publishes an event with a MessagePack payload (`len` 0: nil) to every matching subscriber in
// every connected process.
OmnitronStatus omnitron_peer_publish(struct OmnitronPeer *peer,
                                     const char *topic,
                                     const uint8_t *payload,
                                     size_t len);

// omnitron_peer_publish with a JSON payload (NULL: null).
OmnitronStatus omnitron_peer_publish_json(struct OmnitronPeer *peer,
                                          const char *topic,
                                          const char *payload_json);

// Calls `callback(topic, payload, len, user_data)` for every event matching `pattern` (`order.*`,
// `order.#`); writes the subscription's id to `*out`.
//
// Blocks until the subscription is active, so that an event published by any process after this
// returns reaches `callback` (which may run before it returns): a listening peer's is active at
// once, a connected peer's once its server has recorded it (one round trip). While the peer is
// reconnecting this waits for the connection, up to the peer's default deadline (5 s), then fails
// with OMNITRON_STATUS_NOT_CONNECTED (OMNITRON_STATUS_TIMEOUT if the server never confirms) and
// subscribes nothing. Not from inside an event callback (OMNITRON_STATUS_INVALID_ARGUMENT: the
// callback runs on the connection's reader, which the confirmation needs).
// `free_user_data(user_data)` (NULL: nothing; then `user_data` must outlive the
// subscription) runs once after omnitron_peer_unsubscribe or omnitron_peer_free and the last
// callback call, on the thread that lets go last; or before this function returns if it fails.
OmnitronStatus omnitron_peer_subscribe(struct OmnitronPeer *peer,
                                       const char *pattern,
                                       OmnitronEventFn callback,
                                       void *user_data,
                                       OmnitronFreeFn free_user_data,
                                       uint64_t *out);

// Removes a subscription; `*removed` (if not NULL) says whether it existed.
OmnitronStatus omnitron_peer_unsubscribe(struct OmnitronPeer *peer, uint64_t id, bool *removed);

// The address the peer listens on (`*out`, NUL-terminated; free it with omnitron_free), or
// OMNITRON_STATUS_INVALID_ARGUMENT if it does not listen.
OmnitronStatus omnitron_peer_address(struct OmnitronPeer *peer, char **out);

// Serves the status page of `sup`'s children in the browser on `listen` (`host:port`; port 0
// picks a free one; NULL is `127.0.0.1:0`): state, restarts, CPU and memory, services, breakers,
// pools, workflow runs, recent traces and metrics, refreshed live. Keep it on loopback: the page
// has no login. `*out` is the page: its address from omnitron_status_page_url, stopped and freed
// with omnitron_status_page_free. The supervisor may be freed first (the page then shows nothing).
OmnitronStatus omnitron_status_page_serve(struct OmnitronSupervisor *sup,
                                          const char *listen,
                                          struct OmnitronStatusPage **out);

// The page's address (`http://host:port/`) in `*out`: free it with omnitron_free.
OmnitronStatus omnitron_status_page_url(struct OmnitronStatusPage *page, char **out);

// Stops serving and frees the page. NULL or a freed page is ignored.
void omnitron_status_page_free(struct OmnitronStatusPage *page);

// Starts a span named `name` (`kind`: "internal", "server", "client", "producer" or "consumer";
// NULL: internal), a child of this thread's current context (or the root of a new trace), and
// makes it this thread's current context: calls made from this thread until it ends are its
// children. End it with omnitron_span_end, on the same thread (spans nest: end the last started
// first). `*out` is NULL on failure. Without tracing set up (omnitron_tracing_init_from_env) the
// span records nothing but its context is still passed on.
OmnitronStatus omnitron_span_start(const char *name, const char *kind, struct OmnitronSpan **out);

// Sets a text attribute on a span (copied). Attributes of a span whose trace is not sampled are
// dropped.
OmnitronStatus omnitron_span_set_attribute(struct OmnitronSpan *span,
                                           const char *key,
                                           const char *value);

// Ends a span and frees its handle; on the thread that started it, the context current before it
// started is current again (ended on another thread, no thread's context changes). With
// `error_message` (NULL: it succeeded) the span is marked failed, with `error_code` (NULL: none)
// as its `error.type`. A handle already ended is OMNITRON_STATUS_INVALID_HANDLE.
OmnitronStatus omnitron_span_end(struct OmnitronSpan *span,
                                 const char *error_code,
                                 const char *error_message);

// This thread's current trace context as a W3C `traceparent` (`*out`, NUL-terminated; free it
// with omnitron_free), or `*out` NULL outside any trace.
OmnitronStatus omnitron_trace_current(char **out);

// Sets up tracing from the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_TRACES_SAMPLER, ...; omnitron.yaml's `tracing:` sets them for each process), with
// `service_name` when OTEL_SERVICE_NAME is not set. Nothing happens when none is set, or when
// tracing is already on. Peers do this themselves when they start; call it first to trace
// spans made before. A variable that cannot be used is OMNITRON_STATUS_INVALID_CONFIG, naming it.
OmnitronStatus omnitron_tracing_init_from_env(const char *service_name);

// Sends every span ended so far to the collector, waiting at most `timeout_ms`:
// OMNITRON_STATUS_TIMEOUT if some were still waiting then. Call it before the program exits.
OmnitronStatus omnitron_tracing_flush(uint64_t timeout_ms);

// Starts a workflow definition named `name`. Free it with omnitron_workflow_free.
OmnitronStatus omnitron_workflow_new(const char *name, struct OmnitronWorkflow **out);

// Frees a definition. NULL and freed handles are ignored.
void omnitron_workflow_free(struct OmnitronWorkflow *workflow);

// Each attempt of a whole run must finish within `timeout_ms` (0: no timeout).
OmnitronStatus omnitron_workflow_set_timeout(struct OmnitronWorkflow *workflow,
                                             uint64_t timeout_ms);

// Retries of the whole run (the spec's `retries`: that many attempts after the first), with
// exponential backoff from `delay_ms` (0: 100 ms). A new attempt re-runs only the stages that
// failed or never ran.
OmnitronStatus omnitron_workflow_set_retries(struct OmnitronWorkflow *workflow,
                                             uint32_t retries,
                                             uint64_t delay_ms);

// What recovery does with a run interrupted by a crash: OMNITRON_RECOVERY_RESUME (default) or
// OMNITRON_RECOVERY_COMPENSATE.
OmnitronStatus omnitron_workflow_set_recovery(struct OmnitronWorkflow *workflow, uint32_t policy);

// Adds a stage named `stage` running `run(input, ctx, output, user_data)`.
// `free_user_data(user_data)` (NULL: nothing; then `user_data` must stay valid until every engine
// this definition is registered with is freed and its runs are over) runs once when the definition
// and every such engine are freed and the last run using it is over, on the thread that lets go
// last (the one freeing, or an engine thread when a run ends later); or before this function
// returns if it fails. Names are checked when the definition is registered (duplicates, unknown
// dependencies, cycles).
OmnitronStatus omnitron_workflow_add_stage(struct OmnitronWorkflow *workflow,
                                           const char *stage,
                                           OmnitronStageFn run,
                                           void *user_data,
                                           OmnitronFreeFn free_user_data);

// Stage `stage` runs after `depends_on` completed (call again for several dependencies).
OmnitronStatus omnitron_workflow_stage_depends_on(struct OmnitronWorkflow *workflow,
                                                  const char *stage,
                                                  const char *depends_on);

// Each attempt of stage `stage` must finish within `timeout_ms` (0: no timeout).
OmnitronStatus omnitron_workflow_stage_timeout(struct OmnitronWorkflow *workflow,
                                               const char *stage,
                                               uint64_t timeout_ms);

// Stage `stage` is tried `retries` more times after a failed attempt, with exponential backoff
// from `delay_ms` (0: 100 ms).
OmnitronStatus omnitron_workflow_stage_retries(struct OmnitronWorkflow *workflow,
                                               const char *stage,
                                               uint32_t retries,
                                               uint64_t delay_ms);

// The compensation undoing stage `stage` (the spec's `@Compensate('stage')`). A name that is not
// a stage is reported when the definition is registered. `user_data` and `free_user_data` as for
// stages.
OmnitronStatus omnitron_workflow_compensate(struct OmnitronWorkflow *workflow,
                                            const char *stage,
                                            OmnitronCompensateFn compensate,
                                            void *user_data,
                                            OmnitronFreeFn free_user_data);

// Opens an engine over the SQLite journal file at `path` (created if missing), or over an
// in-memory journal when `path` is NULL. Free it with omnitron_workflow_engine_free. Open one
// engine per journal file per process.
OmnitronStatus omnitron_workflow_engine_open(const char *path, struct OmnitronWorkflowEngine **out);

// Frees an engine handle. Runs still in flight go on (and may still call their callbacks) until
// they end; cancel or wait for them first if their `user_data` is about to go. NULL and freed
// handles are ignored.
void omnitron_workflow_engine_free(struct OmnitronWorkflowEngine *engine);

// Checks the definition and registers a copy of it: OMNITRON_STATUS_WORKFLOW_CYCLE (the message
// names the loop), _UNKNOWN_DEPENDENCY, _DUPLICATE_STAGE, _INVALID_WORKFLOW, _DUPLICATE_WORKFLOW.
OmnitronStatus omnitron_workflow_engine_register(struct OmnitronWorkflowEngine *engine,
                                                 struct OmnitronWorkflow *workflow);

// Starts a run of workflow `name` with `input_json` (NULL: null) and returns once its creation is
// journaled; `*run_id_out` gets the run's id (free its `data` with omnitron_free). `run_id` NULL
// generates one; a run id that exists returns that run (idempotent start).
OmnitronStatus omnitron_workflow_start(struct OmnitronWorkflowEngine *engine,
                                       const char *name,
                                       const char *input_json,
                                       const char *run_id,
                                       struct OmnitronBuffer *run_id_out);

// Starts a run (as omnitron_workflow_start) and blocks until it ends. On success `*out` holds the
// outputs as a JSON object from stage name to output (free `data` with omnitron_free). On failure
// the status is the run's error (OMNITRON_STATUS_STAGE_FAILED, _STAGE_TIMEOUT, _WORKFLOW_TIMEOUT,
// _COMPENSATION_FAILED, _RUN_CANCELLED, ...) and the last error message says what failed and what
// was compensated; omnitron_workflow_get gives every error.
OmnitronStatus omnitron_workflow_run(struct OmnitronWorkflowEngine *engine,
                                     const char *name,
                                     const char *input_json,
                                     const char *run_id,
                                     struct OmnitronBuffer *out);

// Starts a run and returns at once; `done` runs exactly once on an engine thread when the run ends
// (also when it fails to start: then this function still returns OMNITRON_STATUS_OK), then
// `free_user_data(user_data)` (NULL: nothing) on the same thread. NULL `run_id` generates one. If
// this function fails, `done` never runs and `free_user_data` runs before it returns.
OmnitronStatus omnitron_workflow_start_async(struct OmnitronWorkflowEngine *engine,
                                             const char *name,
                                             const char *input_json,
                                             const char *run_id,
                                             OmnitronWorkflowDoneFn done,
                                             void *user_data,
                                             OmnitronFreeFn free_user_data);

// Blocks until run `run_id` ends: `*out` and the status as for omnitron_workflow_run. A run that
// is unfinished in the journal but not running in this engine fails at once (call
// omnitron_workflow_recover first); an unknown id is OMNITRON_STATUS_RUN_NOT_FOUND.
OmnitronStatus omnitron_workflow_wait(struct OmnitronWorkflowEngine *engine,
                                      const char *run_id,
                                      struct OmnitronBuffer *out);

// A run's state as JSON: `run_id`, `workflow`, `state` (`running`, `completed`, `compensated`,
// `compensation_failed`, `cancelled`, ...), `input`, `attempts`, `error`, timestamps (`*_ms`, ms
// since the epoch) and `stages` (per stage: `name`, `state`, `attempts`, `output`, `errors`,
// `compensation_attempts`, `compensation_errors`, ...). Free `out->data` with omnitron_free.
OmnitronStatus omnitron_workflow_get(struct OmnitronWorkflowEngine *engine,
                                     const char *run_id,
                                     struct OmnitronBuffer *out);

// Runs in the journal, oldest first, as a JSON array of `{run_id, workflow, state, created_at_ms,
// updated_at_ms}`. `workflow` and `state` (NULL: any) and `limit` (0: no limit) filter them.
OmnitronStatus omnitron_workflow_list(struct OmnitronWorkflowEngine *engine,
                                      const char *workflow,
                                      const char *state,
                                      size_t limit,
                                      struct OmnitronBuffer *out);

// Cancels run `run_id` and blocks until its completed stages are compensated. `*out` (may be
// NULL) gets its final state as for omnitron_workflow_get (`cancelled`, or
// `compensation_failed`). A finished run is left as it is.
OmnitronStatus omnitron_workflow_cancel(struct OmnitronWorkflowEngine *engine,
                                        const char *run_id,
                                        struct OmnitronBuffer *out);

// Takes up every unfinished run in the journal (register the workflows first) by its workflow's
// recovery policy. `*out` (may be NULL) gets `{"resumed": [ids], "compensating": [ids],
// "unrecovered": [{"run_id", "workflow", "reason"}]}`. Wait for the runs with
// omnitron_workflow_wait.
OmnitronStatus omnitron_workflow_recover(struct OmnitronWorkflowEngine *engine,
                                         struct OmnitronBuffer *out);

// Sets a stage's output: `json` (NUL-terminated JSON text) is copied and checked when the stage
// returns. Calling it again replaces the output.
OmnitronStatus omnitron_stage_output_set(struct OmnitronStageOutput *output, const char *json);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* OMNITRON_H */
