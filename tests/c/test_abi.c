/*
 * The contracts every function shares (the header's top comment): outputs cleared on failure, one
 * free function for memory, version macros that match the library, handles shared between threads,
 * and fork(). Built with -Wall -Wextra -Werror and run under valgrind by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* ---- versions -------------------------------------------------------------------------------------- */

#if !defined(OMNITRON_VERSION_MAJOR) || !defined(OMNITRON_VERSION_MINOR) || !defined(OMNITRON_VERSION_PATCH)
#error "the header defines no version macros"
#endif
#if OMNITRON_VERSION_NUMBER != OMNITRON_MAKE_VERSION(OMNITRON_VERSION_MAJOR, OMNITRON_VERSION_MINOR, OMNITRON_VERSION_PATCH)
#error "OMNITRON_VERSION_NUMBER is not MAJOR * 1000000 + MINOR * 1000 + PATCH"
#endif

/* What `#if` on the version is for: code that uses a newer function only where it exists. */
#if OMNITRON_VERSION_NUMBER >= OMNITRON_MAKE_VERSION(0, 1, 0)
#define HAVE_RESOLVE_WITH_OWNER 1
#endif

static void test_versions(void) {
    unsigned major = 99, minor = 99, patch = 99;
    CHECK(sscanf(omnitron_version(), "%u.%u.%u", &major, &minor, &patch) == 3);
    CHECK(major == OMNITRON_VERSION_MAJOR && minor == OMNITRON_VERSION_MINOR && patch == OMNITRON_VERSION_PATCH);
    CHECK(strcmp(omnitron_version(), OMNITRON_VERSION_STRING) == 0);
    CHECK(omnitron_version_number() == OMNITRON_VERSION_NUMBER);
    CHECK(OMNITRON_VERSION_NUMBER == major * 1000000u + minor * 1000u + patch);
    CHECK(omnitron_abi_version() == OMNITRON_ABI_VERSION);
    CHECK(OMNITRON_ABI_VERSION >= 2);
#ifdef HAVE_RESOLVE_WITH_OWNER
    passed++;
#else
    CHECK(!"OMNITRON_MAKE_VERSION comparison did not enable a function this header has");
#endif
}

/* ---- outputs are cleared on failure ------------------------------------------------------------------ */

#define STALE ((void *)(uintptr_t)0x5a5a5a5a)
#define STALE_BUFFER ((OmnitronBuffer){(uint8_t *)STALE, 5})

static OmnitronStatus fail_call(void *ud) {
    (void)ud;
    return OMNITRON_STATUS_CALLBACK_FAILED;
}

static OmnitronStatus fail_attempt(uint32_t attempt, void *ud) {
    (void)attempt;
    (void)ud;
    return OMNITRON_STATUS_CALLBACK_FAILED;
}

static void on_event(const char *topic, const uint8_t *payload, size_t len, void *ud) {
    (void)topic;
    (void)payload;
    (void)len;
    (void)ud;
}

static int cleared(OmnitronBuffer b) { return b.data == NULL && b.len == 0; }

static void test_outputs_di(void) {
    OmnitronToken *tok = STALE;
    FAILS_WITH(omnitron_token_new("", &tok), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(tok == NULL);
    OmnitronModule *m = STALE;
    FAILS_WITH(omnitron_module_new("", &m), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(m == NULL);
    OmnitronProvider *p = STALE;
    FAILS_WITH(omnitron_provider_value(NULL, NULL, &p), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(p == NULL);
    p = STALE;
    FAILS_WITH(omnitron_provider_alias(NULL, NULL, &p), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(p == NULL);
    p = STALE;
    FAILS_WITH(omnitron_provider_factory(NULL, NULL, NULL, NULL, &p),
               OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(p == NULL);
    OmnitronContainer *c = STALE;
    FAILS_WITH(omnitron_container_new_from_module(NULL, &c), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(c == NULL);

    OK(omnitron_container_new(&c));
    OmnitronToken *missing = NULL;
    OK(omnitron_token_new("Missing", &missing));
    void *x = STALE;
    FAILS_WITH(omnitron_container_resolve(c, missing, &x), OMNITRON_STATUS_MISSING_PROVIDER);
    CHECK(x == NULL);
    uint32_t owner = 77;
    x = STALE;
    FAILS_WITH(omnitron_container_resolve_with_owner(c, missing, &x, &owner), OMNITRON_STATUS_MISSING_PROVIDER);
    CHECK(x == NULL && owner == OMNITRON_OWNER_NONE);
    void *arr[2] = {STALE, STALE};
    size_t len = 99;
    FAILS_WITH(omnitron_container_resolve_all(c, NULL, arr, 2, &len), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(len == 0 && arr[0] == STALE); /* the caller's array is left alone */
    bool has = true;
    FAILS_WITH(omnitron_container_has(NULL, missing, &has), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(!has);
    char *text = STALE;
    FAILS_WITH(omnitron_container_export_graph(c, 9, &text), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(text == NULL);
    OmnitronScope *s = STALE;
    FAILS_WITH(omnitron_container_create_scope(NULL, NULL, NULL, &s), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(s == NULL);
    x = STALE;
    FAILS_WITH(omnitron_scope_resolve(NULL, missing, &x), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(x == NULL);
    x = STALE;
    owner = 77;
    FAILS_WITH(omnitron_scope_resolve_with_owner(NULL, missing, &x, &owner), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(x == NULL && owner == OMNITRON_OWNER_NONE);
    omnitron_container_free(c);
    omnitron_token_free(missing);
}

static void test_outputs_metrics(void) {
    OmnitronRegistry *r = NULL;
    OK(omnitron_registry_new(&r));
    OmnitronMetric *m = STALE;
    FAILS_WITH(omnitron_metric_counter(r, "bad name!", "h", NULL, 0, &m), OMNITRON_STATUS_INVALID_METRIC_NAME);
    CHECK(m == NULL);
    m = STALE;
    FAILS_WITH(omnitron_metric_gauge(NULL, "g", "h", NULL, 0, &m), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(m == NULL);
    m = STALE;
    FAILS_WITH(omnitron_metric_histogram(r, "h", "h", NULL, 0, NULL, 3, &m), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(m == NULL);
    const char *labels[] = {"status"};
    OK(omnitron_metric_counter(r, "orders_total", "Orders", labels, 1, &m));
    double v = 3.5;
    FAILS_WITH(omnitron_metric_value(m, NULL, 0, &v), OMNITRON_STATUS_INVALID_LABELS);
    CHECK(v == 0.0);
    OmnitronSeries *series = STALE;
    FAILS_WITH(omnitron_metric_series(m, NULL, 0, &series), OMNITRON_STATUS_INVALID_LABELS);
    CHECK(series == NULL);
    double sum = 4.5;
    v = 3.5;
    FAILS_WITH(omnitron_series_value(NULL, &v, &sum), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(v == 0.0 && sum == 0.0);
    const char *values[] = {"paid"};
    OK(omnitron_metric_add(m, values, 1, 1));
    size_t len = 99;
    FAILS_WITH(omnitron_registry_gather(r, 9, NULL, 0, &len), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(len == 0);
    char small[4] = "xyz";
    FAILS_WITH(omnitron_registry_gather(r, OMNITRON_METRICS_TEXT, small, sizeof small, &len),
               OMNITRON_STATUS_BUFFER_TOO_SMALL);
    CHECK(len > sizeof small); /* a report: the size needed, kept on this failure */
    CHECK(strcmp(small, "xyz") == 0);
    char *text = STALE;
    FAILS_WITH(omnitron_registry_gather_string(r, 9, &text), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(text == NULL);
    OmnitronExporter *e = STALE;
    FAILS_WITH(omnitron_exporter_start(r, "not an address", &e), OMNITRON_STATUS_EXPORTER_FAILED);
    CHECK(e == NULL);
    uint16_t port = 9;
    FAILS_WITH(omnitron_exporter_port(NULL, &port), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(port == 0);
    omnitron_metric_free(m);
    omnitron_registry_free(r);
}

static void test_outputs_resilience(void) {
    OmnitronBreakerOptions o;
    OK(omnitron_breaker_options_default(&o));
    o.threshold = 0;
    o.failure_rate = 0;
    OmnitronBreaker *b = STALE;
    FAILS_WITH(omnitron_breaker_new("x", &o, NULL, &b), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(b == NULL);
    OK(omnitron_breaker_options_default(&o));
    o.threshold = 1;
    OmnitronRegistry *r = NULL;
    OK(omnitron_registry_new(&r));
    OK(omnitron_breaker_new("opens", &o, r, &b));
    FAILS_WITH(omnitron_breaker_call(b, fail_call, NULL, NULL), OMNITRON_STATUS_CALLBACK_FAILED);
    OmnitronPermit permit = {99, true};
    FAILS_WITH(omnitron_breaker_acquire(b, &permit), OMNITRON_STATUS_CIRCUIT_OPEN);
    CHECK(permit.generation == 0 && !permit.trial);
    uint32_t state = 9;
    FAILS_WITH(omnitron_breaker_state(NULL, &state), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(state == 0);
    omnitron_breaker_free(b);
    omnitron_registry_free(r);

    OmnitronRetryOptions ro;
    OK(omnitron_retry_options_default(&ro));
    ro.max_attempts = 0;
    OmnitronRetry *retry = STALE;
    FAILS_WITH(omnitron_retry_new(&ro, &retry), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(retry == NULL);
    uint32_t attempts = 9;
    FAILS_WITH(omnitron_retry_call(NULL, fail_attempt, NULL, NULL, &attempts), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(attempts == 0);
    OK(omnitron_retry_options_default(&ro));
    ro.initial_ms = 1;
    OK(omnitron_retry_new(&ro, &retry));
    FAILS_WITH(omnitron_retry_call(retry, fail_attempt, NULL, NULL, &attempts), OMNITRON_STATUS_RETRY_EXHAUSTED);
    CHECK(attempts == 3); /* a report: kept on failure */
    uint64_t delay = 9;
    FAILS_WITH(omnitron_retry_delay_ms(NULL, 1, &delay), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(delay == 0);
    omnitron_retry_free(retry);

    OmnitronRateLimiter *l = STALE;
    FAILS_WITH(omnitron_rate_limiter_new("x", 0, 1000, OMNITRON_RATE_LIMIT_TOKEN_BUCKET, &l),
               OMNITRON_STATUS_INVALID_POLICY);
    CHECK(l == NULL);
    OK(omnitron_rate_limiter_new("one", 1, 60000, OMNITRON_RATE_LIMIT_TOKEN_BUCKET, &l));
    uint64_t wait = 9;
    OK(omnitron_rate_limiter_try_acquire(l, 1, &wait));
    CHECK(wait == 0);
    FAILS_WITH(omnitron_rate_limiter_try_acquire(l, 1, &wait), OMNITRON_STATUS_RATE_LIMITED);
    CHECK(wait >= 1); /* a report */
    FAILS_WITH(omnitron_rate_limiter_try_acquire(NULL, 1, &wait), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(wait == 0);
    double avail = 9;
    FAILS_WITH(omnitron_rate_limiter_available(NULL, &avail), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(avail == 0.0);
    omnitron_rate_limiter_free(l);

    OmnitronBulkhead *bh = STALE;
    FAILS_WITH(omnitron_bulkhead_new("x", 0, 0, &bh), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(bh == NULL);
    size_t active = 9, queued = 9;
    FAILS_WITH(omnitron_bulkhead_load(NULL, &active, &queued), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(active == 0 && queued == 0);
}

static void test_outputs_rpc_process_workflow(void) {
    OmnitronPeer *peer = STALE;
    FAILS_WITH(omnitron_peer_listen("bogus", NULL, NULL, &peer), OMNITRON_STATUS_INVALID_SERVICE);
    CHECK(peer == NULL);
    peer = STALE;
    FAILS_WITH(omnitron_peer_connect("bogus", NULL, NULL, &peer), OMNITRON_STATUS_INVALID_SERVICE);
    CHECK(peer == NULL);
    OmnitronService *svc = STALE;
    FAILS_WITH(omnitron_service_new("x", "not-semver", &svc), OMNITRON_STATUS_INVALID_SERVICE);
    CHECK(svc == NULL);
    OmnitronBuffer out = STALE_BUFFER;
    FAILS_WITH(omnitron_peer_call(NULL, "a", "b", NULL, 0, 0, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_peer_call_json(NULL, "a", "b", NULL, 0, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    uint64_t id = 9;
    FAILS_WITH(omnitron_peer_subscribe(NULL, "a.*", on_event, NULL, NULL, &id), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(id == 0);
    bool removed = true;
    FAILS_WITH(omnitron_peer_unsubscribe(NULL, 1, &removed), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(!removed);
    char *address = STALE;
    FAILS_WITH(omnitron_peer_address(NULL, &address), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(address == NULL);

    OmnitronPool *pool = STALE;
    FAILS_WITH(omnitron_pool_start("{bad", &pool), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(pool == NULL);
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_pool_exec_json(NULL, "m", NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_pool_status_json(NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    OmnitronSupervisor *sup = STALE;
    FAILS_WITH(omnitron_supervisor_new("{bad", &sup), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(sup == NULL);
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_supervisor_children_json(NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    peer = STALE;
    FAILS_WITH(omnitron_worker_connect(&peer), OMNITRON_STATUS_NO_PARENT);
    CHECK(peer == NULL);

    OmnitronWorkflow *wf = STALE;
    FAILS_WITH(omnitron_workflow_new(NULL, &wf), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(wf == NULL);
    OmnitronWorkflowEngine *e = STALE;
    FAILS_WITH(omnitron_workflow_engine_open("/nonexistent/dir/journal.db", &e), OMNITRON_STATUS_JOURNAL_ERROR);
    CHECK(e == NULL);
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_workflow_start(NULL, "w", NULL, NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_workflow_run(NULL, "w", NULL, NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_workflow_wait(NULL, "r", &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_workflow_get(NULL, "r", &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_workflow_list(NULL, NULL, NULL, 0, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_workflow_cancel(NULL, "r", &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
    out = STALE_BUFFER;
    FAILS_WITH(omnitron_workflow_recover(NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(cleared(out));
}

/* ---- memory ---------------------------------------------------------------------------------------- */

static void test_memory(void) {
    omnitron_free(NULL);
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    char *graph = NULL;
    OK(omnitron_container_export_graph(c, OMNITRON_GRAPH_JSON, &graph));
    CHECK(contains(graph, "nodes"));
    omnitron_free(graph); /* strings ... */
    OmnitronWorkflowEngine *e = NULL;
    OK(omnitron_workflow_engine_open(NULL, &e));
    OmnitronBuffer list = {0};
    OK(omnitron_workflow_list(e, NULL, NULL, 0, &list));
    CHECK(list.len == 2 && strcmp((const char *)list.data, "[]") == 0); /* NUL after len */
    omnitron_free(list.data); /* ... and buffers free the same way */

    /* A pointer the library did not hand out is reported and left alone (not freed). */
    static char not_ours[64] = "static text, not from the library";
    omnitron_clear_last_error();
    omnitron_free(not_ours + 32);
    CHECK(omnitron_last_error_status() == OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "did not hand out"));

    /* The old free functions still work (deprecated: the header marks them). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    OK(omnitron_container_export_graph(c, OMNITRON_GRAPH_MERMAID, &graph));
    omnitron_string_free(graph);
    OK(omnitron_workflow_list(e, NULL, NULL, 0, &list));
    omnitron_buffer_free(&list);
    CHECK(cleared(list));
    omnitron_buffer_free(&list); /* an emptied buffer twice is harmless */
    omnitron_buffer_free(NULL);
    omnitron_string_free(NULL);
#pragma GCC diagnostic pop
    omnitron_workflow_engine_free(e);
    omnitron_container_free(c);
}

/* ---- threads: every handle may be shared ---------------------------------------------------------- */

typedef struct {
    OmnitronContainer *c;
    OmnitronToken *t;
    OmnitronSeries *series;
    OmnitronMetric *metric;
    OmnitronBreaker *breaker;
    void *first;
    int errors;
} Shared;

static OmnitronStatus ok_call(void *ud) {
    (void)ud;
    return OMNITRON_STATUS_OK;
}

static OmnitronStatus make_once(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)deps;
    (void)n;
    *out = malloc(16);
    return OMNITRON_STATUS_OK;
}

static OmnitronStatus free_instance(void *ud, void *instance) {
    (void)ud;
    free(instance);
    return OMNITRON_STATUS_OK;
}

static void *hammer(void *arg) {
    Shared *s = arg;
    const char *values[] = {"a"};
    for (int i = 0; i < 500; i++) {
        void *x = NULL;
        if (omnitron_container_resolve(s->c, s->t, &x) != OMNITRON_STATUS_OK || x != s->first) s->errors++;
        if (omnitron_series_add(s->series, 1) != OMNITRON_STATUS_OK) s->errors++;
        if (omnitron_metric_add(s->metric, values, 1, 1) != OMNITRON_STATUS_OK) s->errors++;
        if (omnitron_breaker_call(s->breaker, ok_call, NULL, NULL) != OMNITRON_STATUS_OK) s->errors++;
        if (strcmp(omnitron_token_name(s->t), "Shared") != 0) s->errors++;
    }
    return NULL;
}


static void *use_until_freed(void *arg) {
    OmnitronSeries *series = arg;
    /* Keeps using a handle another thread frees: each call succeeds or reports INVALID_HANDLE. */
    for (;;) {
        OmnitronStatus st = omnitron_series_add(series, 1);
        if (st == OMNITRON_STATUS_INVALID_HANDLE) return (void *)1;
        if (st != OMNITRON_STATUS_OK) return NULL;
    }
}

static void test_threads(void) {
    Shared s = {0};
    OK(omnitron_container_new(&s.c));
    OK(omnitron_token_new("Shared", &s.t));
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(s.t, make_once, NULL, NULL, &p));
    OK(omnitron_provider_on_destroy(p, free_instance, NULL, NULL));
    OK(omnitron_container_register(s.c, p));
    omnitron_provider_free(p);
    OK(omnitron_container_resolve(s.c, s.t, &s.first));
    OmnitronRegistry *r = NULL;
    OK(omnitron_registry_new(&r));
    const char *labels[] = {"k"};
    OK(omnitron_metric_counter(r, "hits_total", "Hits", labels, 1, &s.metric));
    OmnitronMetric *plain = NULL;
    OK(omnitron_metric_counter(r, "plain_total", "Plain", NULL, 0, &plain));
    OK(omnitron_metric_series(plain, NULL, 0, &s.series));
    OK(omnitron_breaker_new("shared", NULL, r, &s.breaker));

    enum { N = 4 };
    pthread_t threads[N];
    Shared each[N];
    for (int i = 0; i < N; i++) {
        each[i] = s;
        pthread_create(&threads[i], NULL, hammer, &each[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        CHECK(each[i].errors == 0);
    }
    double v = 0;
    OK(omnitron_series_value(s.series, &v, NULL));
    CHECK(v == N * 500);
    const char *values[] = {"a"};
    OK(omnitron_metric_value(s.metric, values, 1, &v));
    CHECK(v == N * 500);

    /* Freeing a handle another thread is using: no crash, the user sees INVALID_HANDLE. */
    OmnitronSeries *doomed = NULL;
    OK(omnitron_metric_series(plain, NULL, 0, &doomed));
    pthread_t user;
    pthread_create(&user, NULL, use_until_freed, doomed);
    omnitron_series_free(doomed);
    void *saw_invalid = NULL;
    pthread_join(user, &saw_invalid);
    CHECK(saw_invalid == (void *)1);

    omnitron_series_free(s.series);
    omnitron_metric_free(s.metric);
    omnitron_metric_free(plain);
    omnitron_breaker_free(s.breaker);
    omnitron_registry_free(r);
    omnitron_container_free(s.c);
    omnitron_token_free(s.t);
}

/* ---- fork ---------------------------------------------------------------------------------------- */

static OmnitronStatus stage(const char *input, const OmnitronStageContext *ctx, OmnitronStageOutput *out, void *ud) {
    (void)input;
    (void)ctx;
    (void)ud;
    return omnitron_stage_output_set(out, "\"ran\"");
}

/* Uses the engine's threads (a workflow runs on the runtime's blocking pool) and DI. 0 when it works. */
static int use_library(void) {
    OmnitronWorkflow *wf = NULL;
    OmnitronWorkflowEngine *e = NULL;
    if (omnitron_workflow_new("forked", &wf) != OMNITRON_STATUS_OK) return 1;
    if (omnitron_workflow_add_stage(wf, "s", stage, NULL, NULL) != OMNITRON_STATUS_OK) return 2;
    if (omnitron_workflow_engine_open(NULL, &e) != OMNITRON_STATUS_OK) return 3;
    if (omnitron_workflow_engine_register(e, wf) != OMNITRON_STATUS_OK) return 4;
    OmnitronBuffer out = {0};
    if (omnitron_workflow_run(e, "forked", NULL, NULL, &out) != OMNITRON_STATUS_OK) return 5;
    int ok = contains((const char *)out.data, "\"ran\"");
    omnitron_free(out.data);
    omnitron_workflow_free(wf);
    omnitron_workflow_engine_free(e);
    OmnitronContainer *c = NULL;
    if (omnitron_container_new(&c) != OMNITRON_STATUS_OK) return 6;
    omnitron_container_free(c);
    return ok ? 0 : 7;
}

/* Runs `body` in a forked child and returns what it returned. The answer comes through a pipe, not
 * the exit status: under valgrind a child's exit status reports valgrind's own findings (the
 * threads the fork left behind look like leaks), which is not what is tested here. */
static int in_child(int (*body)(void)) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        int answer = body();
        if (write(fds[1], &answer, sizeof answer) != (ssize_t)sizeof answer) _exit(99);
        _exit(0);
    }
    close(fds[1]);
    int answer = -1;
    if (read(fds[0], &answer, sizeof answer) != (ssize_t)sizeof answer) answer = -1;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return answer;
}

/* Run first, before this process has called into the library: a child may use it freely. */
static int fork_before_first_use(void) { return in_child(use_library); }

static OmnitronContainer *parent_container = NULL;

/* In a child forked after use: every call fails at once, the harmless ones still answer. */
static int forked_child(void) {
    int bad = 0;
    OmnitronContainer *other = STALE;
    if (omnitron_container_new(&other) != OMNITRON_STATUS_NOT_RUNNING) bad |= 1;
    if (!contains(omnitron_last_error_message(), "fork")) bad |= 2;
    if (other != NULL) bad |= 4; /* cleared, as after any failure */
    OmnitronWorkflowEngine *e = NULL;
    if (omnitron_workflow_engine_open(NULL, &e) != OMNITRON_STATUS_NOT_RUNNING) bad |= 8;
    if (omnitron_token_context() != NULL) bad |= 16;
    if (strcmp(omnitron_version(), OMNITRON_VERSION_STRING) != 0) bad |= 32;
    if (strcmp(omnitron_status_id(OMNITRON_STATUS_NOT_RUNNING), "P005") != 0) bad |= 64;
    omnitron_container_free(parent_container); /* does nothing (and does not hang) */
    void *x = NULL;
    OmnitronToken *t = NULL;
    if (omnitron_token_new("x", &t) != OMNITRON_STATUS_NOT_RUNNING || t != NULL) bad |= 128;
    if (omnitron_container_resolve(parent_container, t, &x) != OMNITRON_STATUS_NOT_RUNNING) bad |= 256;
    return bad;
}

/* After the parent used the library, a forked child gets NOT_RUNNING from every call, at once, and
 * the parent goes on as before. */
static void test_fork_after_use(void) {
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    CHECK(use_library() == 0); /* the runtime's threads are running now */
    parent_container = c;
    int child = in_child(forked_child);
    if (child != 0) fprintf(stderr, "forked child reported %d\n", child);
    CHECK(child == 0);
    /* The parent is unaffected. */
    void *x = NULL;
    OmnitronToken *t = NULL;
    OK(omnitron_token_new("AfterFork", &t));
    FAILS_WITH(omnitron_container_resolve(c, t, &x), OMNITRON_STATUS_MISSING_PROVIDER);
    CHECK(use_library() == 0);
    omnitron_token_free(t);
    omnitron_container_free(c);
}

int main(void) {
    int fresh_child = fork_before_first_use();
    CHECK(fresh_child == 0);
    test_versions();
    test_outputs_di();
    test_outputs_metrics();
    test_outputs_resilience();
    test_outputs_rpc_process_workflow();
    test_memory();
    test_threads();
    test_fork_after_use();
    printf("ABI contracts: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
