/*
 * Tracing through the C ABI over a real Unix socket: spans on the calling thread, the context a
 * handler runs in (its caller's, carried by the call), nesting, and bad input (NULLs, ended
 * handles, unknown kinds, unusable OTEL_* variables). No tracing is set up here: contexts are
 * still made and passed on; what reaches a collector is checked by tests/interop/tracing.test.mjs.
 */
#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <stdlib.h>
#include <time.h>

/* trace@1.0.0 current(): the handler's current traceparent (JSON string), or null. */
static uint32_t current(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)method, (void)args, (void)len, (void)ud;
    char *tp = NULL;
    if (omnitron_trace_current(&tp) != OMNITRON_STATUS_OK) return OMNITRON_STATUS_INTERNAL;
    char json[128];
    int n = tp ? snprintf(json, sizeof json, "\"%s\"", tp) : snprintf(json, sizeof json, "null");
    omnitron_free(tp);
    return omnitron_reply_set(reply, (const uint8_t *)json, (size_t)n);
}

/* The 32 hex digits of a traceparent's trace id (from a JSON string or a plain one). */
static void trace_id(const char *tp, char out[33]) {
    const char *at = strchr(tp, '-');
    out[0] = 0;
    if (at && strlen(at) > 33) {
        memcpy(out, at + 1, 32);
        out[32] = 0;
    }
}

/* A stage that records the traceparent its context gives and the one current on its thread. */
typedef struct {
    char given[64];
    char current[64];
} Seen;

static uint32_t traced_stage(const char *input, const OmnitronStageContext *ctx, OmnitronStageOutput *out, void *ud) {
    (void)input, (void)out;
    Seen *seen = ud;
    snprintf(seen->given, sizeof seen->given, "%s", ctx->traceparent ? ctx->traceparent : "");
    char *tp = NULL;
    if (omnitron_trace_current(&tp) != OMNITRON_STATUS_OK) return OMNITRON_STATUS_INTERNAL;
    snprintf(seen->current, sizeof seen->current, "%s", tp ? tp : "");
    omnitron_free(tp);
    return OMNITRON_STATUS_OK;
}

/* A job handler that records the thread's current trace, then completes the job. */
static uint32_t traced_job(OmnitronJob *job, void *ud) {
    Seen *seen = ud;
    char *tp = NULL;
    if (omnitron_trace_current(&tp) != OMNITRON_STATUS_OK) return OMNITRON_STATUS_INTERNAL;
    snprintf(seen->current, sizeof seen->current, "%s", tp ? tp : "");
    omnitron_free(tp);
    __atomic_store_n(&seen->given[0], 'x', __ATOMIC_SEQ_CST);
    return omnitron_job_complete_json(job, NULL);
}

int main(void) {
    char dir[] = "/tmp/omnitron-c-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char address[256];
    snprintf(address, sizeof address, "unix:%s/private/rpc.sock", dir);

    OmnitronPeer *server = NULL, *client = NULL;
    OK(omnitron_peer_listen(address, "c-server", "tok", &server));
    const char *methods[] = {"current"};
    OK(omnitron_peer_expose(server, "trace", "1.0.0", methods, 1, OMNITRON_FORMAT_JSON, current, NULL, NULL));
    OK(omnitron_peer_connect(address, "c-client", "tok", &client));

    /* Outside any span: nothing is current here, and the handler has no context either. */
    char *tp = (char *)1;
    OK(omnitron_trace_current(&tp));
    CHECK(tp == NULL);
    OmnitronBuffer out = {0};
    OK(omnitron_peer_call_json(client, "trace", "current", NULL, 0, &out));
    CHECK(out.data && strcmp((const char *)out.data, "null") == 0);
    omnitron_free(out.data);

    /* Inside a span: it is current on this thread, and the handler runs in its trace. */
    OmnitronSpan *outer = NULL, *inner = NULL;
    OK(omnitron_span_start("checkout", NULL, &outer));
    CHECK(outer != NULL);
    OK(omnitron_span_set_attribute(outer, "order.id", "42"));
    char *outer_tp = NULL;
    OK(omnitron_trace_current(&outer_tp));
    CHECK(outer_tp && strlen(outer_tp) == 55 && strncmp(outer_tp, "00-", 3) == 0);
    OK(omnitron_peer_call_json(client, "trace", "current", NULL, 0, &out));
    char a[33], b[33];
    trace_id(outer_tp, a);
    trace_id(out.data ? (const char *)out.data : "", b);
    CHECK(a[0] && strcmp(a, b) == 0);
    CHECK(out.data && strstr((const char *)out.data, outer_tp) != NULL); /* untraced: passed on as is */
    omnitron_free(out.data);

    /* Nested: a child of the outer span, and the outer one is current again once it ends. */
    OK(omnitron_span_start("reserve", "client", &inner));
    char *inner_tp = NULL;
    OK(omnitron_trace_current(&inner_tp));
    trace_id(inner_tp, b);
    CHECK(strcmp(a, b) == 0 && strcmp(inner_tp, outer_tp) != 0);
    OK(omnitron_span_end(inner, "E004", "out of stock"));
    char *again = NULL;
    OK(omnitron_trace_current(&again));
    CHECK(again && strcmp(again, outer_tp) == 0);
    OK(omnitron_span_end(outer, NULL, NULL));
    OK(omnitron_trace_current(&tp));
    CHECK(tp == NULL);
    omnitron_free(outer_tp);
    omnitron_free(inner_tp);
    omnitron_free(again);

    /* A workflow run started inside a span: each stage gets the trace in its context, and it is
     * the thread's current trace while the callback runs (calls made from it carry it). With
     * tracing off, as here, it is the starter's context itself (no span of the run's to point at). */
    OmnitronWorkflowEngine *engine = NULL;
    OmnitronWorkflow *wf = NULL;
    Seen seen = {0}, outside = {0};
    OK(omnitron_workflow_engine_open(NULL, &engine));
    OK(omnitron_workflow_new("traced", &wf));
    OK(omnitron_workflow_add_stage(wf, "reserve", traced_stage, &seen, NULL));
    OK(omnitron_workflow_engine_register(engine, wf));
    omnitron_workflow_free(wf);
    OK(omnitron_span_start("checkout", NULL, &outer));
    char *checkout_tp = NULL;
    OK(omnitron_trace_current(&checkout_tp));
    OmnitronBuffer run_out = {0};
    OK(omnitron_workflow_run(engine, "traced", "{}", "traced-1", &run_out));
    omnitron_free(run_out.data);
    OK(omnitron_span_end(outer, NULL, NULL));
    trace_id(checkout_tp, a);
    trace_id(seen.given, b);
    CHECK(a[0] && strcmp(a, b) == 0);
    CHECK(strcmp(seen.given, checkout_tp) == 0); /* tracing is off here: passed on as it came */
    CHECK(strcmp(seen.given, seen.current) == 0);
    omnitron_free(checkout_tp);
    /* Outside any trace, with tracing off: nothing is made. */
    OK(omnitron_workflow_new("untraced", &wf));
    OK(omnitron_workflow_add_stage(wf, "reserve", traced_stage, &outside, NULL));
    OK(omnitron_workflow_engine_register(engine, wf));
    omnitron_workflow_free(wf);
    OK(omnitron_workflow_run(engine, "untraced", "{}", "untraced-1", &run_out));
    omnitron_free(run_out.data);
    CHECK(outside.given[0] == 0 && outside.current[0] == 0);
    omnitron_workflow_engine_free(engine);

    /* A job added inside a span runs with that trace current on its callback's thread. */
    char store[300];
    snprintf(store, sizeof store, "sqlite:%s/q.db", dir);
    OmnitronQueue *queue = NULL;
    OmnitronQueueWorker *qw = NULL;
    Seen job_seen = {0};
    OK(omnitron_queue_open(store, "traced", NULL, &queue));
    OK(omnitron_span_start("signup", NULL, &outer));
    char *signup_tp = NULL;
    OK(omnitron_trace_current(&signup_tp));
    OK(omnitron_queue_add_json(queue, "welcome", "{}", NULL, NULL, NULL));
    OK(omnitron_span_end(outer, NULL, NULL));
    OK(omnitron_queue_worker_start(queue, "{\"poll_interval_ms\": 10}", traced_job, &job_seen, NULL, &qw));
    for (int i = 0; i < 500 && __atomic_load_n(&job_seen.given[0], __ATOMIC_SEQ_CST) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    omnitron_queue_worker_free(qw);
    omnitron_queue_free(queue);
    trace_id(signup_tp, a);
    trace_id(job_seen.current, b);
    CHECK(a[0] && strcmp(a, b) == 0); /* tracing is off here: the trace is passed on as it is */
    omnitron_free(signup_tp);

    /* Bad input: a clear status, nothing crashes, nothing leaks. */
    OmnitronSpan *s = (OmnitronSpan *)1;
    FAILS_WITH(omnitron_span_start(NULL, NULL, &s), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(s == NULL);
    FAILS_WITH(omnitron_span_start("", NULL, &s), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_span_start("x", "sideways", &s), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "not a span kind"));
    FAILS_WITH(omnitron_span_start("x", NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_span_end(outer, NULL, NULL), OMNITRON_STATUS_INVALID_HANDLE); /* ended */
    FAILS_WITH(omnitron_span_end(NULL, NULL, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_span_set_attribute(outer, "k", "v"), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_trace_current(NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_tracing_init_from_env(NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_span_start("x", NULL, &s));
    FAILS_WITH(omnitron_span_set_attribute(s, NULL, "v"), OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_span_end(s, NULL, NULL));
    /* Unusable variables are refused with the variable named; nothing is set up. */
    setenv("OTEL_TRACES_EXPORTER", "zipkin", 1);
    FAILS_WITH(omnitron_tracing_init_from_env("c-test"), OMNITRON_STATUS_INVALID_CONFIG);
    CHECK(contains(omnitron_last_error_message(), "OTEL_TRACES_EXPORTER"));
    unsetenv("OTEL_TRACES_EXPORTER");
    /* Nothing set: nothing to do, and a flush has nothing to wait for. */
    OK(omnitron_tracing_init_from_env("c-test"));
    OK(omnitron_tracing_flush(100));

    omnitron_peer_free(client);
    omnitron_peer_free(server);
    printf("test_telemetry: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
