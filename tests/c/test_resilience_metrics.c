/*
 * Resilience (breaker, retry, rate limiter, bulkhead) and metrics (registry, series, exposition, the
 * /metrics exporter scraped over a real socket) through the C ABI, plus bad input.
 * Built with -Wall -Wextra -Werror and run under valgrind by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* The value of the sample `series` (name plus labels, exactly as exposed) in an exposition, or -1. */
static double sample(const char *text, const char *series) {
    size_t n = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ') return strtod(line + n + 1, NULL);
    }
    return -1;
}

/* ---- callbacks ------------------------------------------------------------------------------ */

typedef struct {
    int calls;
    int fail_first; /* fail this many calls, then succeed */
    uint32_t fail_status;
} Work;

static uint32_t work(void *ud) {
    Work *w = ud;
    w->calls++;
    if (w->calls <= w->fail_first) {
        omnitron_callback_error("the bank said no");
        return w->fail_status;
    }
    return OMNITRON_STATUS_OK;
}

static uint32_t attempt_work(uint32_t attempt, void *ud) {
    (void)attempt;
    return work(ud);
}

static bool only_timeouts_count(uint32_t status, void *ud) {
    (void)ud;
    return status == OMNITRON_STATUS_TIMEOUT;
}

typedef struct {
    int changes;
    uint32_t last_from, last_to;
    char name[32];
} Changes;

static void on_change(const char *name, uint32_t from, uint32_t to, void *ud) {
    Changes *c = ud;
    c->changes++;
    c->last_from = from;
    c->last_to = to;
    snprintf(c->name, sizeof c->name, "%s", name);
}

static uint32_t slow_work(void *ud) {
    (void)ud;
    sleep_ms(30);
    return OMNITRON_STATUS_OK;
}

/* ---- circuit breaker ------------------------------------------------------------------------ */

static void test_breaker(void) {
    OmnitronRegistry *reg = NULL;
    OK(omnitron_registry_new(&reg));

    OmnitronBreakerOptions o;
    OK(omnitron_breaker_options_default(&o));
    CHECK(o.threshold == 5 && o.timeout_ms == 60000 && o.success_threshold == 1);
    o.threshold = 3;
    o.timeout_ms = 1500; /* long enough that a loaded machine (valgrind) cannot half-open it early */
    OmnitronBreaker *b = NULL;
    OK(omnitron_breaker_new("bank", &o, reg, &b));
    Changes ch = {0};
    OK(omnitron_breaker_on_state_change(b, on_change, &ch, NULL));

    Work w = {0, 3, OMNITRON_STATUS_CALLBACK_FAILED};
    for (int i = 0; i < 3; i++) {
        FAILS_WITH(omnitron_breaker_call(b, work, NULL, &w), OMNITRON_STATUS_CALLBACK_FAILED);
        CHECK(contains(omnitron_last_error_message(), "the bank said no"));
    }
    uint32_t state = 99;
    OK(omnitron_breaker_state(b, &state));
    CHECK(state == OMNITRON_BREAKER_OPEN);
    CHECK(ch.changes == 1 && ch.last_from == OMNITRON_BREAKER_CLOSED && ch.last_to == OMNITRON_BREAKER_OPEN);
    CHECK(strcmp(ch.name, "bank") == 0);

    /* Open: fails fast, the call is not made, the error names the breaker. */
    FAILS_WITH(omnitron_breaker_call(b, work, NULL, &w), OMNITRON_STATUS_CIRCUIT_OPEN);
    CHECK(w.calls == 3);
    CHECK(contains(omnitron_last_error_message(), "'bank' is open"));
    CHECK(strcmp(omnitron_status_id(omnitron_last_error_status()), "R001") == 0);

    /* After the reset timeout one trial call goes through and closes it. */
    sleep_ms(1600);
    OK(omnitron_breaker_call(b, work, NULL, &w));
    CHECK(w.calls == 4);
    OK(omnitron_breaker_state(b, &state));
    CHECK(state == OMNITRON_BREAKER_CLOSED);
    CHECK(ch.changes == 3 && ch.last_to == OMNITRON_BREAKER_CLOSED);

    /* The predicate: failures it rejects do not count. */
    Work w2 = {0, 100, OMNITRON_STATUS_CALLBACK_FAILED};
    for (int i = 0; i < 10; i++) {
        FAILS_WITH(omnitron_breaker_call(b, work, only_timeouts_count, &w2), OMNITRON_STATUS_CALLBACK_FAILED);
    }
    OK(omnitron_breaker_state(b, &state));
    CHECK(state == OMNITRON_BREAKER_CLOSED);

    /* Permits, for callers that make the call themselves. */
    OmnitronPermit p;
    for (int i = 0; i < 3; i++) {
        OK(omnitron_breaker_acquire(b, &p));
        OK(omnitron_breaker_record(b, p, OMNITRON_OUTCOME_FAILURE));
    }
    FAILS_WITH(omnitron_breaker_acquire(b, &p), OMNITRON_STATUS_CIRCUIT_OPEN);
    FAILS_WITH(omnitron_breaker_record(b, p, 42), OMNITRON_STATUS_INVALID_ARGUMENT);

    /* Every outcome and transition is in the registry. */
    char *text = NULL;
    OK(omnitron_registry_gather_string(reg, OMNITRON_METRICS_TEXT, &text));
    CHECK(sample(text, "omnitron_circuit_breaker_calls_total{breaker=\"bank\",outcome=\"failure\"}") == 6);
    CHECK(sample(text, "omnitron_circuit_breaker_calls_total{breaker=\"bank\",outcome=\"ignored\"}") == 10);
    CHECK(sample(text, "omnitron_circuit_breaker_calls_total{breaker=\"bank\",outcome=\"success\"}") == 1);
    CHECK(sample(text, "omnitron_circuit_breaker_calls_total{breaker=\"bank\",outcome=\"rejected\"}") == 2);
    CHECK(sample(text, "omnitron_circuit_breaker_state{breaker=\"bank\"}") == 1);
    CHECK(sample(text, "omnitron_circuit_breaker_transitions_total{breaker=\"bank\",from=\"closed\",to=\"open\"}") == 2);
    omnitron_free(text);
    omnitron_breaker_free(b);

    /* The call timeout is measured: a slow success counts as a timeout. */
    OK(omnitron_breaker_options_default(&o));
    o.call_timeout_ms = 5;
    OK(omnitron_breaker_new("slow", &o, reg, &b));
    FAILS_WITH(omnitron_breaker_call(b, slow_work, NULL, NULL), OMNITRON_STATUS_TIMEOUT);
    CHECK(contains(omnitron_last_error_message(), "slow"));
    omnitron_breaker_free(b);

    /* Bad options are refused at construction, naming the field. */
    OmnitronBreaker *bad = NULL;
    OK(omnitron_breaker_options_default(&o));
    o.threshold = 0;
    FAILS_WITH(omnitron_breaker_new("x", &o, reg, &bad), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(contains(omnitron_last_error_message(), "never open"));
    OK(omnitron_breaker_options_default(&o));
    o.timeout_ms = 0;
    FAILS_WITH(omnitron_breaker_new("x", &o, reg, &bad), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(contains(omnitron_last_error_message(), "timeout"));
    OK(omnitron_breaker_options_default(&o));
    o.failure_rate = 1.5;
    FAILS_WITH(omnitron_breaker_new("x", &o, reg, &bad), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(contains(omnitron_last_error_message(), "failure_rate must be a number above 0 and at most 1"));
    FAILS_WITH(omnitron_breaker_new("", NULL, reg, &bad), OMNITRON_STATUS_INVALID_POLICY);
    FAILS_WITH(omnitron_breaker_new(NULL, NULL, reg, &bad), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_breaker_new("x", NULL, reg, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    FAILS_WITH(omnitron_breaker_call(NULL, work, NULL, &w), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_breaker_call((OmnitronBreaker *)reg, work, NULL, &w), OMNITRON_STATUS_INVALID_HANDLE);
    OK(omnitron_breaker_new("x", NULL, NULL, &bad)); /* NULL registry: the global one */
    FAILS_WITH(omnitron_breaker_call(bad, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_breaker_state(bad, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    omnitron_breaker_free(bad);
    omnitron_breaker_free(bad); /* twice is harmless */
    FAILS_WITH(omnitron_breaker_state(bad, &state), OMNITRON_STATUS_INVALID_HANDLE);
    omnitron_registry_free(reg);
}

/* Thousands of concurrent calls: every outcome is counted exactly once. */
typedef struct {
    OmnitronBreaker *b;
    int ok;
} Worker;

static uint32_t trivial(void *ud) {
    (void)ud;
    return OMNITRON_STATUS_OK;
}

static void *hammer(void *arg) {
    Worker *wk = arg;
    for (int i = 0; i < 2000; i++) {
        if (omnitron_breaker_call(wk->b, trivial, NULL, NULL) == OMNITRON_STATUS_OK) wk->ok++;
    }
    return NULL;
}

static void test_breaker_concurrency(void) {
    OmnitronRegistry *reg = NULL;
    OK(omnitron_registry_new(&reg));
    OmnitronBreaker *b = NULL;
    OK(omnitron_breaker_new("busy", NULL, reg, &b));
    pthread_t t[4];
    Worker wk[4];
    for (int i = 0; i < 4; i++) {
        wk[i] = (Worker){b, 0};
        pthread_create(&t[i], NULL, hammer, &wk[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += wk[i].ok;
    }
    CHECK(total == 8000);
    const char *labels[] = {"busy", "success"};
    OmnitronMetric *calls = NULL;
    const char *names[] = {"breaker", "outcome"};
    OK(omnitron_metric_counter(reg, "omnitron_circuit_breaker_calls_total", "Calls through circuit breakers by outcome",
                               names, 2, &calls));
    double v = 0;
    OK(omnitron_metric_value(calls, labels, 2, &v));
    CHECK(v == 8000);
    omnitron_metric_free(calls);
    omnitron_breaker_free(b);
    omnitron_registry_free(reg);
}

/* ---- retry ---------------------------------------------------------------------------------- */

static bool retry_only_callback_failures(uint32_t status, uint32_t attempt, void *ud) {
    (void)attempt;
    (void)ud;
    return status == OMNITRON_STATUS_CALLBACK_FAILED;
}

static void test_retry(void) {
    OmnitronRetryOptions o;
    OK(omnitron_retry_options_default(&o));
    CHECK(o.max_attempts == 3 && o.backoff == OMNITRON_BACKOFF_EXPONENTIAL && o.initial_ms == 100);
    o.max_attempts = 4;
    o.initial_ms = 1;
    OmnitronRetry *r = NULL;
    OK(omnitron_retry_new(&o, &r));

    /* Succeeds on the third attempt. */
    Work w = {0, 2, OMNITRON_STATUS_CALLBACK_FAILED};
    uint32_t attempts = 0;
    OK(omnitron_retry_call(r, attempt_work, NULL, &w, &attempts));
    CHECK(attempts == 3 && w.calls == 3);

    /* Runs out: the last error and the attempt count are kept. */
    Work w2 = {0, 100, OMNITRON_STATUS_CALLBACK_FAILED};
    FAILS_WITH(omnitron_retry_call(r, attempt_work, NULL, &w2, &attempts), OMNITRON_STATUS_RETRY_EXHAUSTED);
    CHECK(attempts == 4 && w2.calls == 4);
    CHECK(contains(omnitron_last_error_message(), "gave up after 4 attempt(s)"));
    CHECK(contains(omnitron_last_error_message(), "the bank said no"));

    /* A failure the predicate calls final is returned at once, as itself. */
    Work w3 = {0, 100, OMNITRON_STATUS_INVALID_ARGUMENT};
    FAILS_WITH(omnitron_retry_call(r, attempt_work, retry_only_callback_failures, &w3, &attempts),
               OMNITRON_STATUS_CALLBACK_FAILED);
    CHECK(attempts == 1 && w3.calls == 1);

    /* Delays for programs with their own loop: exponential, capped. */
    uint64_t d = 0;
    OK(omnitron_retry_delay_ms(r, 1, &d));
    CHECK(d == 1);
    OK(omnitron_retry_delay_ms(r, 3, &d));
    CHECK(d == 4);
    omnitron_retry_free(r);

    OK(omnitron_retry_options_default(&o));
    o.backoff = OMNITRON_BACKOFF_LINEAR;
    o.initial_ms = 10;
    o.step_ms = 5;
    o.max_delay_ms = 18;
    OK(omnitron_retry_new(&o, &r));
    OK(omnitron_retry_delay_ms(r, 2, &d));
    CHECK(d == 15);
    OK(omnitron_retry_delay_ms(r, 5, &d));
    CHECK(d == 18);
    omnitron_retry_free(r);

    /* Bad input. */
    OmnitronRetry *bad = NULL;
    OK(omnitron_retry_options_default(&o));
    o.max_attempts = 0;
    FAILS_WITH(omnitron_retry_new(&o, &bad), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(contains(omnitron_last_error_message(), "attempts"));
    OK(omnitron_retry_options_default(&o));
    o.factor = 0.5;
    FAILS_WITH(omnitron_retry_new(&o, &bad), OMNITRON_STATUS_INVALID_POLICY);
    OK(omnitron_retry_options_default(&o));
    o.jitter = 9;
    FAILS_WITH(omnitron_retry_new(&o, &bad), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(bad == NULL);
    FAILS_WITH(omnitron_retry_call(NULL, attempt_work, NULL, &w, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    OK(omnitron_retry_new(NULL, &bad));
    FAILS_WITH(omnitron_retry_call(bad, NULL, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    omnitron_retry_free(bad);
}

/* ---- rate limiter and bulkhead ---------------------------------------------------------------- */

static void test_rate_limiter(void) {
    OmnitronRateLimiter *l = NULL;
    OK(omnitron_rate_limiter_new("api", 3, 60000, OMNITRON_RATE_LIMIT_TOKEN_BUCKET, &l));
    for (int i = 0; i < 3; i++) OK(omnitron_rate_limiter_try_acquire(l, 1, NULL));
    uint64_t retry_in = 0;
    FAILS_WITH(omnitron_rate_limiter_try_acquire(l, 1, &retry_in), OMNITRON_STATUS_RATE_LIMITED);
    CHECK(retry_in > 19000 && retry_in <= 20000);
    CHECK(contains(omnitron_last_error_message(), "'api'"));
    double avail = -1;
    OK(omnitron_rate_limiter_available(l, &avail));
    CHECK(avail >= 0 && avail < 0.1);
    /* Waiting longer than allowed gives up at once instead of sleeping. */
    FAILS_WITH(omnitron_rate_limiter_acquire(l, 1, 10), OMNITRON_STATUS_RATE_LIMITED);
    FAILS_WITH(omnitron_rate_limiter_acquire(l, 4, UINT64_MAX), OMNITRON_STATUS_INVALID_POLICY);
    omnitron_rate_limiter_free(l);

    /* A fast limiter: acquire waits for the token. */
    OK(omnitron_rate_limiter_new("fast", 1, 20, OMNITRON_RATE_LIMIT_SLIDING_WINDOW, &l));
    OK(omnitron_rate_limiter_acquire(l, 1, UINT64_MAX));
    OK(omnitron_rate_limiter_acquire(l, 1, UINT64_MAX));
    omnitron_rate_limiter_free(l);

    OmnitronRateLimiter *bad = NULL;
    FAILS_WITH(omnitron_rate_limiter_new("x", 0, 1000, 0, &bad), OMNITRON_STATUS_INVALID_POLICY);
    FAILS_WITH(omnitron_rate_limiter_new("x", 1, 0, 0, &bad), OMNITRON_STATUS_INVALID_POLICY);
    FAILS_WITH(omnitron_rate_limiter_new("x", 1, 1000, 7, &bad), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(bad == NULL);
    FAILS_WITH(omnitron_rate_limiter_try_acquire(NULL, 1, NULL), OMNITRON_STATUS_INVALID_HANDLE);
}

typedef struct {
    OmnitronBulkhead *b;
    uint32_t status;
} Entrant;

static void *enter(void *arg) {
    Entrant *e = arg;
    e->status = omnitron_bulkhead_call(e->b, slow_work, NULL);
    return NULL;
}

static void test_bulkhead(void) {
    OmnitronBulkhead *b = NULL;
    OK(omnitron_bulkhead_new("db", 1, 1, &b));
    Work w = {0, 0, 0};
    OK(omnitron_bulkhead_call(b, work, &w));
    CHECK(w.calls == 1);
    Work fails = {0, 1, OMNITRON_STATUS_CALLBACK_FAILED};
    FAILS_WITH(omnitron_bulkhead_call(b, work, &fails), OMNITRON_STATUS_CALLBACK_FAILED);

    /* One running, one queued, the rest refused: 4 threads, at least 2 pass, the others are full. */
    pthread_t t[4];
    Entrant e[4];
    for (int i = 0; i < 4; i++) {
        e[i] = (Entrant){b, 99};
        pthread_create(&t[i], NULL, enter, &e[i]);
    }
    int ok = 0, full = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (e[i].status == OMNITRON_STATUS_OK) ok++;
        if (e[i].status == OMNITRON_STATUS_BULKHEAD_FULL) full++;
    }
    CHECK(ok + full == 4 && ok >= 2);
    size_t active = 9, queued = 9;
    OK(omnitron_bulkhead_load(b, &active, &queued));
    CHECK(active == 0 && queued == 0);
    omnitron_bulkhead_free(b);

    OmnitronBulkhead *bad = NULL;
    FAILS_WITH(omnitron_bulkhead_new("x", 0, 1, &bad), OMNITRON_STATUS_INVALID_POLICY);
    CHECK(contains(omnitron_last_error_message(), "max_concurrent must be at least 1"));
    FAILS_WITH(omnitron_bulkhead_call(NULL, work, &w), OMNITRON_STATUS_INVALID_HANDLE);
}

/* ---- metrics -------------------------------------------------------------------------------- */

static char *http_get(uint16_t port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return NULL;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t got;
    while ((got = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)got;
        if (len + 1 >= cap) break;
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

static void test_metrics(void) {
    OmnitronRegistry *reg = NULL;
    OK(omnitron_registry_new(&reg));

    OmnitronMetric *requests = NULL, *temp = NULL, *latency = NULL, *plain = NULL;
    const char *names[] = {"method", "code"};
    OK(omnitron_metric_counter(reg, "http_requests_total", "HTTP requests", names, 2, &requests));
    OK(omnitron_metric_gauge(reg, "temperature_celsius", "Temperature", NULL, 0, &temp));
    double buckets[] = {0.1, 0.5, 1};
    OK(omnitron_metric_histogram(reg, "latency_seconds", "Latency", names, 1, buckets, 3, &latency));
    OK(omnitron_metric_counter(reg, "jobs_total", "Jobs", NULL, 0, &plain));

    const char *get200[] = {"GET", "200"};
    const char *post500[] = {"POST", "500"};
    OK(omnitron_metric_add(requests, get200, 2, 1));
    OK(omnitron_metric_add(requests, get200, 2, 2));
    OK(omnitron_metric_add(requests, post500, 2, 1));
    OK(omnitron_metric_set(temp, NULL, 0, 21.5));
    OK(omnitron_metric_add(temp, NULL, 0, -1.5));
    const char *get[] = {"GET"};
    OK(omnitron_metric_observe(latency, get, 1, 0.05));
    OK(omnitron_metric_observe(latency, get, 1, 0.7));
    OK(omnitron_metric_observe(latency, get, 1, 3));

    /* Series handles: no label lookup per call. */
    OmnitronSeries *jobs = NULL, *lat = NULL;
    OK(omnitron_metric_series(plain, NULL, 0, &jobs));
    for (int i = 0; i < 10; i++) OK(omnitron_series_add(jobs, 1));
    OK(omnitron_metric_series(latency, get, 1, &lat));
    OK(omnitron_series_observe(lat, 0.2));
    double v = 0, sum = 0;
    OK(omnitron_series_value(jobs, &v, NULL));
    CHECK(v == 10);
    OK(omnitron_series_value(lat, &v, &sum));
    CHECK(v == 4 && sum > 3.949 && sum < 3.951);
    OK(omnitron_metric_value(requests, get200, 2, &v));
    CHECK(v == 3);
    OK(omnitron_metric_value(temp, NULL, 0, &v));
    CHECK(v == 20);

    /* Exposition into the caller's buffer: ask the size, then fill. */
    size_t len = 0;
    FAILS_WITH(omnitron_registry_gather(reg, OMNITRON_METRICS_TEXT, NULL, 0, &len), OMNITRON_STATUS_BUFFER_TOO_SMALL);
    CHECK(len > 100);
    char small[8] = "unset";
    FAILS_WITH(omnitron_registry_gather(reg, OMNITRON_METRICS_TEXT, small, sizeof small, &len),
               OMNITRON_STATUS_BUFFER_TOO_SMALL);
    CHECK(strcmp(small, "unset") == 0);
    char *buf = malloc(len + 1);
    size_t len2 = 0;
    OK(omnitron_registry_gather(reg, OMNITRON_METRICS_TEXT, buf, len + 1, &len2));
    CHECK(len2 == len && strlen(buf) == len);
    CHECK(sample(buf, "http_requests_total{method=\"GET\",code=\"200\"}") == 3);
    CHECK(sample(buf, "http_requests_total{method=\"POST\",code=\"500\"}") == 1);
    CHECK(sample(buf, "temperature_celsius") == 20);
    CHECK(sample(buf, "jobs_total") == 10);
    CHECK(sample(buf, "latency_seconds_bucket{method=\"GET\",le=\"0.1\"}") == 1);
    CHECK(sample(buf, "latency_seconds_bucket{method=\"GET\",le=\"0.5\"}") == 2);
    CHECK(sample(buf, "latency_seconds_bucket{method=\"GET\",le=\"1.0\"}") == 3);
    CHECK(sample(buf, "latency_seconds_bucket{method=\"GET\",le=\"+Inf\"}") == 4);
    CHECK(sample(buf, "latency_seconds_count{method=\"GET\"}") == 4);
    CHECK(contains(buf, "# TYPE latency_seconds histogram"));
    free(buf);

    char *om = NULL, *json = NULL;
    OK(omnitron_registry_gather_string(reg, OMNITRON_METRICS_OPENMETRICS, &om));
    CHECK(contains(om, "# EOF"));
    CHECK(sample(om, "http_requests_total{method=\"GET\",code=\"200\"}") == 3);
    OK(omnitron_registry_gather_string(reg, OMNITRON_METRICS_JSON, &json));
    CHECK(contains(json, "\"name\":\"http_requests_total\""));
    omnitron_free(om);
    omnitron_free(json);
    char *none = NULL;
    FAILS_WITH(omnitron_registry_gather_string(reg, 9, &none), OMNITRON_STATUS_INVALID_ARGUMENT);

    /* /metrics over real HTTP. */
    OmnitronExporter *ex = NULL;
    OK(omnitron_exporter_start(reg, "127.0.0.1:0", &ex));
    uint16_t port = 0;
    OK(omnitron_exporter_port(ex, &port));
    CHECK(port != 0);
    char *resp = http_get(port, "/metrics");
    CHECK(contains(resp, "HTTP/1.1 200"));
    CHECK(contains(resp, "text/plain; version=0.0.4"));
    const char *body = resp ? strstr(resp, "\r\n\r\n") : NULL;
    CHECK(body != NULL && sample(body + 4, "jobs_total") == 10);
    free(resp);
    resp = http_get(port, "/nothing-here");
    CHECK(contains(resp, "HTTP/1.1 404"));
    free(resp);
    OmnitronExporter *clash = NULL;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    FAILS_WITH(omnitron_exporter_start(reg, addr, &clash), OMNITRON_STATUS_EXPORTER_FAILED);
    FAILS_WITH(omnitron_exporter_start(reg, "not an address", &clash), OMNITRON_STATUS_EXPORTER_FAILED);
    CHECK(clash == NULL);
    omnitron_exporter_stop(ex);
    resp = http_get(port, "/metrics");
    CHECK(resp == NULL || !contains(resp, "HTTP/1.1 200"));
    free(resp);
    omnitron_exporter_stop(ex); /* twice is harmless */

    /* Bad input: clear errors, nothing recorded. */
    OmnitronMetric *bad = NULL;
    FAILS_WITH(omnitron_metric_counter(reg, "1bad name", "h", NULL, 0, &bad), OMNITRON_STATUS_INVALID_METRIC_NAME);
    const char *bad_label[] = {"__reserved"};
    FAILS_WITH(omnitron_metric_counter(reg, "ok_total", "h", bad_label, 1, &bad), OMNITRON_STATUS_INVALID_METRIC_NAME);
    FAILS_WITH(omnitron_metric_gauge(reg, "http_requests_total", "HTTP requests", names, 2, &bad),
               OMNITRON_STATUS_METRIC_CONFLICT);
    double unsorted[] = {1, 0.5};
    FAILS_WITH(omnitron_metric_histogram(reg, "h_seconds", "h", NULL, 0, unsorted, 2, &bad),
               OMNITRON_STATUS_INVALID_BUCKETS);
    double negative[] = {-1};
    FAILS_WITH(omnitron_metric_histogram(reg, "h2_seconds", "h", NULL, 0, negative, 1, &bad),
               OMNITRON_STATUS_INVALID_BUCKETS);
    FAILS_WITH(omnitron_metric_histogram(reg, "h3_seconds", "h", NULL, 0, NULL, 2, &bad),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_metric_counter(reg, "n_total", "h", NULL, 1, &bad), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_metric_counter(reg, NULL, "h", NULL, 0, &bad), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    FAILS_WITH(omnitron_metric_add(requests, get, 1, 1), OMNITRON_STATUS_INVALID_LABELS);
    CHECK(contains(omnitron_last_error_message(), "method"));
    FAILS_WITH(omnitron_metric_add(requests, get200, 2, -1), OMNITRON_STATUS_INVALID_METRIC_VALUE);
    FAILS_WITH(omnitron_series_set(jobs, 5), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_metric_observe(temp, NULL, 0, 1), OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_metric_value(requests, get200, 2, &v));
    CHECK(v == 3);
    FAILS_WITH(omnitron_metric_add(NULL, NULL, 0, 1), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_series_add((OmnitronSeries *)requests, 1), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_registry_gather(NULL, 0, NULL, 0, &len), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_registry_gather(reg, 0, NULL, 5, &len), OMNITRON_STATUS_INVALID_ARGUMENT);

    omnitron_series_free(jobs);
    omnitron_series_free(lat);
    omnitron_metric_free(requests);
    omnitron_metric_free(temp);
    omnitron_metric_free(latency);
    omnitron_metric_free(plain);
    omnitron_registry_free(reg);

    /* The global registry is where the engine instruments itself. */
    OmnitronRegistry *global = NULL;
    OK(omnitron_registry_global(&global));
    OmnitronBreaker *b = NULL;
    OK(omnitron_breaker_new("global-one", NULL, NULL, &b));
    OK(omnitron_breaker_call(b, trivial, NULL, NULL));
    char *text = NULL;
    OK(omnitron_registry_gather_string(global, OMNITRON_METRICS_TEXT, &text));
    CHECK(sample(text, "omnitron_circuit_breaker_calls_total{breaker=\"global-one\",outcome=\"success\"}") == 1);
    omnitron_free(text);
    omnitron_breaker_free(b);
    omnitron_registry_free(global);
}

int main(void) {
    test_breaker();
    test_breaker_concurrency();
    test_retry();
    test_rate_limiter();
    test_bulkhead();
    test_metrics();
    printf("resilience and metrics through C: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
