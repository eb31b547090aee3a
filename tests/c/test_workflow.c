/*
 * Workflows through the C ABI: stages and compensations as callbacks with JSON in and out, data
 * flowing along a chain, parallel stages, compensation in reverse order, retries, timeouts, cycles,
 * a failing compensation, a SQLite journal read by a second engine, asynchronous runs, cancel,
 * recover, bad input. Built with -Wall -Wextra -Werror and run under valgrind by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* A log of what ran, in order, shared by the callbacks (they run on engine threads). */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char run_log[1024];

static void log_add(const char *what) {
    pthread_mutex_lock(&log_lock);
    if (run_log[0] != '\0') strncat(run_log, ",", sizeof run_log - strlen(run_log) - 1);
    strncat(run_log, what, sizeof run_log - strlen(run_log) - 1);
    pthread_mutex_unlock(&log_lock);
}

static void log_reset(void) {
    pthread_mutex_lock(&log_lock);
    run_log[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

/* What a stage does, as its user_data. */
typedef struct {
    const char *name;
    const char *output;   /* JSON to set; NULL: set nothing (null) */
    int fail_times;       /* fail this many attempts first (-1: always) */
    long sleep_ms;        /* sleep before answering */
    int attempts;         /* attempts seen */
    char input[256];      /* the last input seen */
    char key[256];        /* the last idempotency key seen */
} StageSpec;

static uint32_t stage(const char *input, const OmnitronStageContext *ctx, OmnitronStageOutput *out, void *ud) {
    StageSpec *s = ud;
    int attempt = __atomic_add_fetch(&s->attempts, 1, __ATOMIC_SEQ_CST);
    snprintf(s->input, sizeof s->input, "%s", input);
    snprintf(s->key, sizeof s->key, "%s", ctx->idempotency_key);
    if (s->sleep_ms > 0) sleep_ms(s->sleep_ms);
    if (s->fail_times < 0 || attempt <= s->fail_times) {
        char why[128];
        snprintf(why, sizeof why, "%s failed on attempt %d", s->name, attempt);
        omnitron_callback_error(why);
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    log_add(s->name);
    return s->output ? omnitron_stage_output_set(out, s->output) : OMNITRON_STATUS_OK;
}

/* Compensations: log "undo:<stage>" and the output they got; fail when user_data says so. */
static char undo_input[256];

static uint32_t undo(const char *output, const OmnitronStageContext *ctx, void *ud) {
    char what[64];
    snprintf(what, sizeof what, "undo:%s", ctx->stage);
    log_add(what);
    snprintf(undo_input, sizeof undo_input, "%s", output);
    if (ud != NULL) {
        omnitron_callback_error("the warehouse is closed");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    return OMNITRON_STATUS_OK;
}

static OmnitronWorkflowEngine *memory_engine(void) {
    OmnitronWorkflowEngine *e = NULL;
    OK(omnitron_workflow_engine_open(NULL, &e));
    return e;
}

static void test_linear_chain(void) {
    OmnitronWorkflowEngine *e = memory_engine();
    StageSpec a = {.name = "a", .output = "{\"n\":2}"};
    StageSpec b = {.name = "b", .output = "{\"n\":3}"};
    StageSpec c = {.name = "c", .output = "\"done\""};
    OmnitronWorkflow *wf;
    OK(omnitron_workflow_new("chain", &wf));
    OK(omnitron_workflow_add_stage(wf, "a", stage, &a, NULL));
    OK(omnitron_workflow_add_stage(wf, "b", stage, &b, NULL));
    OK(omnitron_workflow_add_stage(wf, "c", stage, &c, NULL));
    OK(omnitron_workflow_stage_depends_on(wf, "b", "a"));
    OK(omnitron_workflow_stage_depends_on(wf, "c", "b"));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    omnitron_workflow_free(wf); /* twice is harmless */

    OmnitronBuffer out = {0};
    OK(omnitron_workflow_run(e, "chain", "{\"n\":1}", "chain-1", &out));
    CHECK(contains((const char *)out.data, "\"a\":{\"n\":2}"));
    CHECK(contains((const char *)out.data, "\"c\":\"done\""));
    CHECK(strcmp(a.input, "{\"n\":1}") == 0);
    CHECK(strcmp(b.input, "{\"n\":2}") == 0);
    CHECK(strcmp(c.input, "{\"n\":3}") == 0);
    CHECK(strcmp(b.key, "chain-1:b") == 0);
    omnitron_free(out.data);

    /* The same id again is the same run: nothing runs twice. */
    OK(omnitron_workflow_run(e, "chain", "{\"n\":1}", "chain-1", &out));
    CHECK(a.attempts == 1);
    omnitron_free(out.data);

    OK(omnitron_workflow_get(e, "chain-1", &out));
    CHECK(contains((const char *)out.data, "\"state\":\"completed\""));
    omnitron_free(out.data);
    OK(omnitron_workflow_list(e, "chain", "completed", 0, &out));
    CHECK(contains((const char *)out.data, "\"run_id\":\"chain-1\""));
    omnitron_free(out.data);
    omnitron_workflow_engine_free(e);
}

static void test_parallel(void) {
    OmnitronWorkflowEngine *e = memory_engine();
    StageSpec a = {.name = "a", .output = "1", .sleep_ms = 300};
    StageSpec b = {.name = "b", .output = "2", .sleep_ms = 300};
    StageSpec j = {.name = "join", .output = NULL};
    OmnitronWorkflow *wf;
    OK(omnitron_workflow_new("fan", &wf));
    OK(omnitron_workflow_add_stage(wf, "a", stage, &a, NULL));
    OK(omnitron_workflow_add_stage(wf, "b", stage, &b, NULL));
    OK(omnitron_workflow_add_stage(wf, "join", stage, &j, NULL));
    OK(omnitron_workflow_stage_depends_on(wf, "join", "a"));
    OK(omnitron_workflow_stage_depends_on(wf, "join", "b"));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    OmnitronBuffer out = {0};
    double t0 = now_ms();
    OK(omnitron_workflow_run(e, "fan", NULL, NULL, &out));
    double took = now_ms() - t0;
    CHECK(took < 600.0); /* loosely: less than the two stages one after the other */
    CHECK(strcmp(j.input, "{\"a\":1,\"b\":2}") == 0);
    CHECK(contains((const char *)out.data, "\"join\":null")); /* a stage that sets nothing gives null */
    omnitron_free(out.data);
    omnitron_workflow_engine_free(e);
}

static void test_compensation(void) {
    OmnitronWorkflowEngine *e = memory_engine();
    /* reserve then a failing payment: the reservation is released with reserve's output */
    StageSpec reserve = {.name = "reserve", .output = "{\"reservation\":\"r-1\"}"};
    StageSpec pay = {.name = "payment", .fail_times = -1};
    OmnitronWorkflow *wf;
    OK(omnitron_workflow_new("order", &wf));
    OK(omnitron_workflow_add_stage(wf, "reserve", stage, &reserve, NULL));
    OK(omnitron_workflow_add_stage(wf, "payment", stage, &pay, NULL));
    OK(omnitron_workflow_stage_depends_on(wf, "payment", "reserve"));
    OK(omnitron_workflow_compensate(wf, "reserve", undo, NULL, NULL));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    log_reset();
    OmnitronBuffer out = {0};
    FAILS_WITH(omnitron_workflow_run(e, "order", "{}", "order-1", &out), OMNITRON_STATUS_STAGE_FAILED);
    CHECK(contains(omnitron_last_error_message(), "payment failed on attempt 1"));
    CHECK(out.data == NULL);
    CHECK(strcmp(run_log, "reserve,undo:reserve") == 0);
    CHECK(strcmp(undo_input, "{\"reservation\":\"r-1\"}") == 0);
    OK(omnitron_workflow_get(e, "order-1", &out));
    CHECK(contains((const char *)out.data, "\"state\":\"compensated\""));
    omnitron_free(out.data);

    /* three stages, the third fails: 2 then 1 are compensated */
    StageSpec s1 = {.name = "s1", .output = "1"}, s2 = {.name = "s2", .output = "2"};
    StageSpec s3 = {.name = "s3", .fail_times = -1};
    OK(omnitron_workflow_new("three", &wf));
    OK(omnitron_workflow_compensate(wf, "s1", undo, NULL, NULL)); /* before the stage exists: kept */
    OK(omnitron_workflow_add_stage(wf, "s1", stage, &s1, NULL));
    OK(omnitron_workflow_add_stage(wf, "s2", stage, &s2, NULL));
    OK(omnitron_workflow_add_stage(wf, "s3", stage, &s3, NULL));
    OK(omnitron_workflow_stage_depends_on(wf, "s2", "s1"));
    OK(omnitron_workflow_stage_depends_on(wf, "s3", "s2"));
    OK(omnitron_workflow_compensate(wf, "s2", undo, NULL, NULL));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    log_reset();
    FAILS_WITH(omnitron_workflow_run(e, "three", NULL, NULL, &out), OMNITRON_STATUS_STAGE_FAILED);
    CHECK(strcmp(run_log, "s1,s2,undo:s2,undo:s1") == 0);

    /* a compensation that fails: compensation_failed, with both errors */
    StageSpec f1 = {.name = "f1", .output = "1"}, f2 = {.name = "f2", .fail_times = -1};
    OK(omnitron_workflow_new("broken", &wf));
    OK(omnitron_workflow_add_stage(wf, "f1", stage, &f1, NULL));
    OK(omnitron_workflow_add_stage(wf, "f2", stage, &f2, NULL));
    OK(omnitron_workflow_stage_depends_on(wf, "f2", "f1"));
    OK(omnitron_workflow_compensate(wf, "f1", undo, (void *)1, NULL));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    FAILS_WITH(omnitron_workflow_run(e, "broken", NULL, "broken-1", &out), OMNITRON_STATUS_COMPENSATION_FAILED);
    CHECK(contains(omnitron_last_error_message(), "f2 failed"));
    CHECK(contains(omnitron_last_error_message(), "the warehouse is closed"));
    OK(omnitron_workflow_get(e, "broken-1", &out));
    CHECK(contains((const char *)out.data, "\"state\":\"compensation_failed\""));
    CHECK(contains((const char *)out.data, "the warehouse is closed"));
    omnitron_free(out.data);
    omnitron_workflow_engine_free(e);
}

static void test_retry_and_timeout(void) {
    OmnitronWorkflowEngine *e = memory_engine();
    StageSpec flaky = {.name = "flaky", .output = "\"ok\"", .fail_times = 1};
    StageSpec slow = {.name = "slow", .output = "1", .sleep_ms = 400};
    OmnitronWorkflow *wf;
    OK(omnitron_workflow_new("retry", &wf));
    OK(omnitron_workflow_add_stage(wf, "flaky", stage, &flaky, NULL));
    OK(omnitron_workflow_stage_retries(wf, "flaky", 2, 10));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    OmnitronBuffer out = {0};
    OK(omnitron_workflow_run(e, "retry", NULL, NULL, &out));
    CHECK(flaky.attempts == 2);
    CHECK(contains((const char *)out.data, "\"flaky\":\"ok\""));
    omnitron_free(out.data);

    OK(omnitron_workflow_new("timeout", &wf));
    OK(omnitron_workflow_add_stage(wf, "slow", stage, &slow, NULL));
    OK(omnitron_workflow_stage_timeout(wf, "slow", 50));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    FAILS_WITH(omnitron_workflow_run(e, "timeout", NULL, NULL, &out), OMNITRON_STATUS_STAGE_TIMEOUT);
    sleep_ms(450); /* the abandoned callback still holds its thread (and &slow) until it returns */
    omnitron_workflow_engine_free(e);
}

static void test_definitions(void) {
    OmnitronWorkflowEngine *e = memory_engine();
    StageSpec s = {.name = "s"};
    OmnitronWorkflow *wf;
    /* a cycle of three is refused, naming it */
    OK(omnitron_workflow_new("loop", &wf));
    OK(omnitron_workflow_add_stage(wf, "a", stage, &s, NULL));
    OK(omnitron_workflow_add_stage(wf, "b", stage, &s, NULL));
    OK(omnitron_workflow_add_stage(wf, "c", stage, &s, NULL));
    OK(omnitron_workflow_stage_depends_on(wf, "a", "b"));
    OK(omnitron_workflow_stage_depends_on(wf, "b", "c"));
    OK(omnitron_workflow_stage_depends_on(wf, "c", "a"));
    FAILS_WITH(omnitron_workflow_engine_register(e, wf), OMNITRON_STATUS_WORKFLOW_CYCLE);
    CHECK(contains(omnitron_last_error_message(), "a -> b -> c -> a"));
    CHECK(strcmp(omnitron_status_id(omnitron_last_error_status()), "WF001") == 0);
    omnitron_workflow_free(wf);

    /* an unknown dependency, a compensation for no stage, a duplicate workflow */
    OK(omnitron_workflow_new("typo", &wf));
    OK(omnitron_workflow_add_stage(wf, "reserve", stage, &s, NULL));
    OK(omnitron_workflow_add_stage(wf, "pay", stage, &s, NULL));
    OK(omnitron_workflow_stage_depends_on(wf, "pay", "reserv"));
    FAILS_WITH(omnitron_workflow_engine_register(e, wf), OMNITRON_STATUS_UNKNOWN_DEPENDENCY);
    CHECK(contains(omnitron_last_error_message(), "did you mean 'reserve'"));
    omnitron_workflow_free(wf);
    OK(omnitron_workflow_new("orphan", &wf));
    OK(omnitron_workflow_compensate(wf, "ghost", undo, NULL, NULL));
    FAILS_WITH(omnitron_workflow_engine_register(e, wf), OMNITRON_STATUS_INVALID_WORKFLOW);
    omnitron_workflow_free(wf);

    /* an empty workflow: an empty result */
    OK(omnitron_workflow_new("empty", &wf));
    OK(omnitron_workflow_engine_register(e, wf));
    FAILS_WITH(omnitron_workflow_engine_register(e, wf), OMNITRON_STATUS_DUPLICATE_WORKFLOW);
    omnitron_workflow_free(wf);
    OmnitronBuffer out = {0};
    OK(omnitron_workflow_run(e, "empty", NULL, NULL, &out));
    CHECK(strcmp((const char *)out.data, "{}") == 0 && out.len == 2);
    omnitron_free(out.data);
    omnitron_workflow_engine_free(e);
}

static void test_sqlite_journal(void) {
    char dir[] = "/tmp/omni-wf-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/journal.db", dir);
    StageSpec a = {.name = "a", .output = "{\"kept\":true}"};
    OmnitronWorkflow *wf;
    OK(omnitron_workflow_new("durable", &wf));
    OK(omnitron_workflow_add_stage(wf, "a", stage, &a, NULL));

    OmnitronWorkflowEngine *e1 = NULL;
    OK(omnitron_workflow_engine_open(path, &e1));
    OK(omnitron_workflow_engine_register(e1, wf));
    OmnitronBuffer out = {0};
    OK(omnitron_workflow_run(e1, "durable", "7", "durable-1", &out));
    omnitron_free(out.data);
    omnitron_workflow_engine_free(e1);

    OmnitronWorkflowEngine *e2 = NULL;
    OK(omnitron_workflow_engine_open(path, &e2));
    OK(omnitron_workflow_engine_register(e2, wf));
    OK(omnitron_workflow_get(e2, "durable-1", &out));
    CHECK(contains((const char *)out.data, "\"state\":\"completed\""));
    CHECK(contains((const char *)out.data, "\"kept\":true"));
    CHECK(contains((const char *)out.data, "\"input\":7"));
    omnitron_free(out.data);
    OK(omnitron_workflow_wait(e2, "durable-1", &out)); /* a finished run's outputs, from the file */
    CHECK(contains((const char *)out.data, "\"a\":{\"kept\":true}"));
    omnitron_free(out.data);
    OK(omnitron_workflow_recover(e2, &out));
    CHECK(strcmp((const char *)out.data, "{\"compensating\":[],\"resumed\":[],\"unrecovered\":[]}") == 0);
    omnitron_free(out.data);
    omnitron_workflow_engine_free(e2);
    omnitron_workflow_free(wf);

    /* a file that is not a journal */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/not-a-journal", dir);
    FILE *f = fopen(bad, "w");
    if (f) {
        fputs("this is not sqlite, just text that is long enough to look like a header......", f);
        fclose(f);
    }
    OmnitronWorkflowEngine *e3 = NULL;
    CHECK(omnitron_workflow_engine_open(bad, &e3) != OMNITRON_STATUS_OK);
    CHECK(e3 == NULL);
    remove(bad);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* asynchronous runs: the completion reports once, on an engine thread */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    uint32_t status;
    char run_id[128];
    char json[512];
} Done;

static void on_done(uint32_t status, const char *run_id, const char *json, void *ud) {
    Done *d = ud;
    pthread_mutex_lock(&d->lock);
    d->calls++;
    d->status = status;
    snprintf(d->run_id, sizeof d->run_id, "%s", run_id);
    snprintf(d->json, sizeof d->json, "%s", json);
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

static void wait_done(Done *d) {
    pthread_mutex_lock(&d->lock);
    while (d->calls == 0) pthread_cond_wait(&d->cond, &d->lock);
    pthread_mutex_unlock(&d->lock);
}

static void test_async_cancel(void) {
    OmnitronWorkflowEngine *e = memory_engine();
    StageSpec first = {.name = "first", .output = "\"one\""};
    StageSpec slow = {.name = "slow", .output = "2", .sleep_ms = 300};
    OmnitronWorkflow *wf;
    OK(omnitron_workflow_new("async", &wf));
    OK(omnitron_workflow_add_stage(wf, "first", stage, &first, NULL));
    OK(omnitron_workflow_add_stage(wf, "slow", stage, &slow, NULL));
    OK(omnitron_workflow_stage_depends_on(wf, "slow", "first"));
    OK(omnitron_workflow_compensate(wf, "first", undo, NULL, NULL));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);

    Done d = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    OK(omnitron_workflow_start_async(e, "async", "{}", "async-1", on_done, &d, NULL));
    wait_done(&d);
    CHECK(d.calls == 1 && d.status == OMNITRON_STATUS_OK);
    CHECK(strcmp(d.run_id, "async-1") == 0);
    CHECK(strcmp(d.json, "{\"first\":\"one\",\"slow\":2}") == 0);

    /* a failure to start is reported through the completion too */
    Done d2 = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    OK(omnitron_workflow_start_async(e, "nope", NULL, NULL, on_done, &d2, NULL));
    wait_done(&d2);
    CHECK(d2.status == OMNITRON_STATUS_WORKFLOW_NOT_FOUND);
    CHECK(contains(d2.json, "\"code\":\"WF005\""));

    /* cancel: the completed stage is compensated, the run ends cancelled */
    log_reset();
    OmnitronBuffer id = {0}, out = {0};
    OK(omnitron_workflow_start(e, "async", NULL, "async-2", &id));
    CHECK(strcmp((const char *)id.data, "async-2") == 0);
    sleep_ms(100);
    OK(omnitron_workflow_cancel(e, (const char *)id.data, &out));
    CHECK(contains((const char *)out.data, "\"state\":\"cancelled\""));
    CHECK(contains(run_log, "undo:first"));
    omnitron_free(out.data);
    FAILS_WITH(omnitron_workflow_wait(e, "async-2", &out), OMNITRON_STATUS_RUN_CANCELLED);
    omnitron_free(id.data);
    sleep_ms(300); /* the abandoned stage returns */
    omnitron_workflow_engine_free(e);
}

static void test_bad_input(void) {
    OmnitronWorkflowEngine *e = memory_engine();
    OmnitronWorkflow *wf = NULL;
    StageSpec s = {.name = "s"};
    OmnitronBuffer out = {0};
    FAILS_WITH(omnitron_workflow_new(NULL, &wf), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_new("x", NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_add_stage(NULL, "s", stage, &s, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_workflow_add_stage((OmnitronWorkflow *)e, "s", stage, &s, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    OK(omnitron_workflow_new("bad", &wf));
    FAILS_WITH(omnitron_workflow_add_stage(wf, "s", NULL, &s, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_add_stage(wf, NULL, stage, &s, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_stage_depends_on(wf, "missing", "a"), OMNITRON_STATUS_INVALID_WORKFLOW);
    FAILS_WITH(omnitron_workflow_compensate(wf, "s", NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_set_recovery(wf, 7), OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_workflow_set_recovery(wf, OMNITRON_RECOVERY_COMPENSATE));
    OK(omnitron_workflow_set_timeout(wf, 1000));
    OK(omnitron_workflow_set_retries(wf, 0, 0));
    FAILS_WITH(omnitron_workflow_set_retries(wf, UINT32_MAX, 0), OMNITRON_STATUS_INVALID_WORKFLOW);
    CHECK(contains(omnitron_last_error_message(), "retries must be a whole number below 4294967295"));
    OK(omnitron_workflow_add_stage(wf, "s", stage, &s, NULL));
    OK(omnitron_workflow_add_stage(wf, "s", stage, &s, NULL));
    FAILS_WITH(omnitron_workflow_engine_register(e, wf), OMNITRON_STATUS_DUPLICATE_STAGE);
    FAILS_WITH(omnitron_workflow_engine_register(NULL, wf), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_workflow_engine_register(e, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    omnitron_workflow_free(wf);
    FAILS_WITH(omnitron_workflow_set_timeout(wf, 1), OMNITRON_STATUS_INVALID_HANDLE); /* freed */

    FAILS_WITH(omnitron_workflow_engine_open(NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_run(e, "nope", NULL, NULL, &out), OMNITRON_STATUS_WORKFLOW_NOT_FOUND);
    FAILS_WITH(omnitron_workflow_run(e, "nope", "{oops", NULL, &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_run(e, "nope", NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_start(NULL, "nope", NULL, NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_workflow_start_async(e, "nope", NULL, NULL, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_get(e, "no-such-run", &out), OMNITRON_STATUS_RUN_NOT_FOUND);
    FAILS_WITH(omnitron_workflow_get(e, NULL, &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_workflow_wait(e, "no-such-run", &out), OMNITRON_STATUS_RUN_NOT_FOUND);
    FAILS_WITH(omnitron_workflow_cancel(e, "no-such-run", NULL), OMNITRON_STATUS_RUN_NOT_FOUND);
    FAILS_WITH(omnitron_workflow_list(e, NULL, "sleeping", 0, &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "compensation_failed"));
    OK(omnitron_workflow_list(e, NULL, NULL, 1, &out));
    CHECK(strcmp((const char *)out.data, "[]") == 0);
    omnitron_free(out.data);
    FAILS_WITH(omnitron_stage_output_set(NULL, "1"), OMNITRON_STATUS_INVALID_ARGUMENT);

    /* a stage that sets invalid JSON fails its run with a clear error */
    StageSpec junk = {.name = "junk", .output = "{not json"};
    OK(omnitron_workflow_new("junk", &wf));
    OK(omnitron_workflow_add_stage(wf, "junk", stage, &junk, NULL));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    FAILS_WITH(omnitron_workflow_run(e, "junk", NULL, NULL, &out), OMNITRON_STATUS_STAGE_FAILED);
    CHECK(contains(omnitron_last_error_message(), "not valid JSON"));
    omnitron_workflow_engine_free(e);
    omnitron_workflow_engine_free(e);
    FAILS_WITH(omnitron_workflow_run(e, "junk", NULL, NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
}

int main(void) {
    test_linear_chain();
    test_parallel();
    test_compensation();
    test_retry_and_timeout();
    test_definitions();
    test_sqlite_journal();
    test_async_cancel();
    test_bad_input();
    printf("test_workflow: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
