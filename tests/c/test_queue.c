/*
 * Job queues through the C ABI, in a temporary SQLite file: jobs added as MessagePack and JSON, a
 * worker whose callback completes jobs at once and one later from a thread of its own, reports
 * progress, fails a job in each of its ways until it is dead-lettered, then gets it back with
 * retry_dead; counts, get, the dead list, removal, dedup by id, pause and resume; jobs the engine
 * gave up on (a timeout, a worker freed) finished late; close waiting for callbacks, and closing from
 * inside one; many jobs added in one call and a listener hearing their events; bad input of every
 * kind. Built with
 * -Wall -Wextra -Werror and run under valgrind by `make test`.
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

static char dir[64];
static char store_url[128];

/* Waits are bounded generously: valgrind runs the engine many times slower. */
#define WAIT_MS 60000.0

/* The count of `state` in the queue's counts ("completed", "dead", ...), or -1. */
static long count_of(OmnitronQueue *q, const char *state) {
    OmnitronBuffer out = {0};
    if (omnitron_queue_counts_json(q, &out) != OMNITRON_STATUS_OK) return -1;
    char key[32];
    snprintf(key, sizeof key, "\"%s\":", state);
    const char *at = strstr((const char *)out.data, key);
    long n = at ? strtol(at + strlen(key), NULL, 10) : -1;
    omnitron_free(out.data);
    return n;
}

/* Waits until the queue holds `n` jobs in `state`; true if it did in time. */
static int wait_count(OmnitronQueue *q, const char *state, long n) {
    double until = now_ms() + WAIT_MS;
    while (now_ms() < until) {
        if (count_of(q, state) == n) return 1;
        sleep_ms(20);
    }
    fprintf(stderr, "waited in vain for %ld %s jobs (now %ld)\n", n, state, count_of(q, state));
    return 0;
}

/* ---- what the worker's callback does, by job name ----------------------------------------------- */

/* The worker's state, its user_data. Callbacks run on engine threads, several at once: what they
 * find wrong is counted here under the lock, and checked by the main thread. */
typedef struct {
    pthread_mutex_t lock;
    int wrong;
    char why[256];
    int revived;               /* "bad" completes once retried from the dead-letter queue */
    int calls;
    pthread_t later[4];
    int later_count;
    OmnitronJob *held[4];      /* jobs kept unfinished ("hold") */
    int held_count;
    int freed;                 /* free_user_data ran */
    OmnitronQueueWorker *worker; /* for "close-me" */
    int slow_started, slow_done;
    int closed_inside;         /* "close-me" closed its own worker and returned */
} State;

static void wrong(State *s, const char *what) {
    pthread_mutex_lock(&s->lock);
    s->wrong++;
    const char *m = omnitron_last_error_message();
    snprintf(s->why, sizeof s->why, "%s (last error: %s)", what, m ? m : "none");
    pthread_mutex_unlock(&s->lock);
}

#define EXPECT(s, cond) \
    do {                \
        if (!(cond)) wrong((s), #cond); \
    } while (0)

static void state_free(void *ud) {
    State *s = ud;
    pthread_mutex_lock(&s->lock);
    s->freed++;
    pthread_mutex_unlock(&s->lock);
}

/* {"n": 7} and "ok" in MessagePack. */
static const uint8_t N7[] = {0x81, 0xa1, 'n', 0x07};
static const uint8_t OK_RESULT[] = {0xa2, 'o', 'k'};

/* Finishes a job from a thread of its own, a while after its callback returned. */
static void *finish_later(void *arg) {
    OmnitronJob *job = arg;
    sleep_ms(100);
    bool recorded = false;
    OmnitronStatus progress = omnitron_job_progress_json(job, "{\"pct\": 50}", &recorded);
    OmnitronStatus done = omnitron_job_complete_json(job, "\"late\"");
    if (progress != OMNITRON_STATUS_OK || !recorded || done != OMNITRON_STATUS_OK) {
        fprintf(stderr, "FAIL finish_later: progress %u recorded %d complete %u\n", progress, recorded, done);
        failed++;
    }
    return NULL;
}

static OmnitronStatus run_job(OmnitronJob *job, void *ud) {
    State *s = ud;
    pthread_mutex_lock(&s->lock);
    s->calls++;
    pthread_mutex_unlock(&s->lock);
    const char *name = omnitron_job_name(job);
    const char *id = omnitron_job_id(job);
    uint32_t attempt = omnitron_job_attempt(job);
    EXPECT(s, name != NULL && id != NULL && attempt >= 1 && omnitron_job_token(job) >= 1);
    EXPECT(s, !omnitron_job_cancelled(job));

    if (strcmp(name, "sync") == 0) {
        /* {"n": k} in, {"twice": 2k} out, at once; finishing twice is refused. */
        OmnitronBuffer data = {0};
        EXPECT(s, omnitron_job_data_json(job, &data) == OMNITRON_STATUS_OK);
        long n = data.data ? strtol(strchr((const char *)data.data, ':') + 1, NULL, 10) : -1;
        omnitron_free(data.data);
        char result[64];
        snprintf(result, sizeof result, "{\"twice\": %ld}", 2 * n);
        EXPECT(s, omnitron_job_complete_json(job, result) == OMNITRON_STATUS_OK);
        EXPECT(s, omnitron_job_complete_json(job, result) == OMNITRON_STATUS_INVALID_HANDLE);
        EXPECT(s, omnitron_job_fail(job, NULL, "again") == OMNITRON_STATUS_INVALID_HANDLE);
        EXPECT(s, omnitron_job_name(job) == NULL);
        return OMNITRON_STATUS_OK;
    }
    if (strcmp(name, "msgpack") == 0) {
        const uint8_t *data = NULL;
        size_t len = 0;
        EXPECT(s, omnitron_job_data(job, &data, &len) == OMNITRON_STATUS_OK);
        EXPECT(s, len == sizeof N7 && memcmp(data, N7, len) == 0);
        bool recorded = false;
        EXPECT(s, omnitron_job_progress(job, N7, sizeof N7, &recorded) == OMNITRON_STATUS_OK && recorded);
        EXPECT(s, omnitron_job_complete(job, OK_RESULT, sizeof OK_RESULT) == OMNITRON_STATUS_OK);
        return OMNITRON_STATUS_OK;
    }
    if (strcmp(name, "later") == 0) {
        pthread_mutex_lock(&s->lock);
        int made = s->later_count < 4 && pthread_create(&s->later[s->later_count], NULL, finish_later, job) == 0;
        if (made) s->later_count++;
        pthread_mutex_unlock(&s->lock);
        EXPECT(s, made);
        return OMNITRON_STATUS_OK;
    }
    if (strcmp(name, "bad") == 0) {
        pthread_mutex_lock(&s->lock);
        int revived = s->revived;
        pthread_mutex_unlock(&s->lock);
        if (revived) return omnitron_job_complete_json(job, "\"revived\"");
        /* One way of failing per attempt: fail(), a failure status, fail() with a code. */
        if (attempt == 1) {
            EXPECT(s, omnitron_job_fail(job, NULL, "refused on attempt 1") == OMNITRON_STATUS_OK);
            return OMNITRON_STATUS_OK;
        }
        if (attempt == 2) {
            omnitron_callback_error("refused by status");
            return OMNITRON_STATUS_CALLBACK_FAILED;
        }
        EXPECT(s, omnitron_job_fail(job, "Q006", "too slow") == OMNITRON_STATUS_OK);
        return OMNITRON_STATUS_OK;
    }
    if (strcmp(name, "hold") == 0) {
        /* Kept unfinished: the engine gives up on it (timeout, worker freed); finished late. */
        pthread_mutex_lock(&s->lock);
        if (s->held_count < 4) s->held[s->held_count++] = job;
        pthread_mutex_unlock(&s->lock);
        return OMNITRON_STATUS_OK;
    }
    if (strcmp(name, "slow") == 0) {
        /* Still running when its worker closes with no grace: close waits for it to return. */
        pthread_mutex_lock(&s->lock);
        s->slow_started++;
        pthread_mutex_unlock(&s->lock);
        sleep_ms(300);
        EXPECT(s, omnitron_job_cancelled(job));
        EXPECT(s, omnitron_job_complete(job, NULL, 0) == OMNITRON_STATUS_LEASE_LOST);
        pthread_mutex_lock(&s->lock);
        s->slow_done++;
        pthread_mutex_unlock(&s->lock);
        return OMNITRON_STATUS_OK;
    }
    if (strcmp(name, "close-me") == 0) {
        /* Closing its own worker from inside: it does not wait for itself. */
        EXPECT(s, omnitron_queue_worker_close(s->worker, 0) == OMNITRON_STATUS_OK);
        EXPECT(s, omnitron_job_complete(job, NULL, 0) == OMNITRON_STATUS_LEASE_LOST);
        pthread_mutex_lock(&s->lock);
        s->closed_inside++;
        pthread_mutex_unlock(&s->lock);
        return OMNITRON_STATUS_OK;
    }
    omnitron_callback_error("no such job name");
    return OMNITRON_STATUS_INVALID_ARGUMENT;
}

static void state_init(State *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
}

static void state_check(State *s) {
    pthread_mutex_lock(&s->lock);
    if (s->wrong) fprintf(stderr, "FAIL in a job callback: %s\n", s->why);
    CHECK(s->wrong == 0);
    pthread_mutex_unlock(&s->lock);
}

static int wait_freed(State *s) {
    double until = now_ms() + WAIT_MS;
    while (now_ms() < until) {
        pthread_mutex_lock(&s->lock);
        int freed = s->freed;
        pthread_mutex_unlock(&s->lock);
        if (freed) return freed;
        sleep_ms(10);
    }
    return 0;
}

/* Waits until the callback has kept `n` jobs unfinished. */
static int wait_held(State *s, int n) {
    double until = now_ms() + WAIT_MS;
    while (now_ms() < until) {
        pthread_mutex_lock(&s->lock);
        int held = s->held_count;
        pthread_mutex_unlock(&s->lock);
        if (held == n) return 1;
        sleep_ms(10);
    }
    return 0;
}

/* The JSON text of job `id`, or an empty string; free it with omnitron_free. */
static char *job_json(OmnitronQueue *q, const char *id) {
    OmnitronBuffer out = {0};
    if (omnitron_queue_get_json(q, id, &out) != OMNITRON_STATUS_OK) return NULL;
    return (char *)out.data;
}

/* ---- a worker over every way of finishing a job ---------------------------------------------------- */

static void test_worker(void) {
    OmnitronQueue *q = NULL;
    OK(omnitron_queue_open(store_url, "c-jobs", "{\"attempts\": 3, \"backoff\": \"fixed\", \"backoff_delay_ms\": 10}", &q));

    char *ids[3] = {0};
    for (int i = 0; i < 3; i++) {
        char data[32];
        snprintf(data, sizeof data, "{\"n\": %d}", i + 1);
        bool added = false;
        OK(omnitron_queue_add_json(q, "sync", data, NULL, &ids[i], &added));
        CHECK(added && ids[i] != NULL && strlen(ids[i]) > 0);
    }
    char *later = NULL, *bad = NULL, *packed = NULL;
    OK(omnitron_queue_add_json(q, "later", NULL, NULL, &later, NULL));
    OK(omnitron_queue_add_json(q, "bad", "{}", "{\"id\": \"bad-1\"}", &bad, NULL));
    CHECK(bad != NULL && strcmp(bad, "bad-1") == 0);
    OK(omnitron_queue_add(q, "msgpack", N7, sizeof N7, "{\"priority\": 1}", &packed, NULL));
    CHECK(count_of(q, "waiting") == 6);

    State s;
    state_init(&s);
    OmnitronQueueWorker *w = NULL;
    OK(omnitron_queue_worker_start(q, "{\"concurrency\": 2, \"poll_interval_ms\": 20}", run_job, &s, state_free, &w));
    CHECK(wait_count(q, "completed", 5));
    CHECK(wait_count(q, "dead", 1));
    CHECK(count_of(q, "waiting") == 0 && count_of(q, "active") == 0);

    /* What the jobs became. */
    char *j = job_json(q, ids[1]);
    CHECK(contains(j, "\"state\":\"completed\"") && contains(j, "\"result\":{\"twice\":4}"));
    CHECK(contains(j, "\"data\":{\"n\":2}") && contains(j, "\"attempts\":1"));
    omnitron_free(j);
    j = job_json(q, later);
    CHECK(contains(j, "\"result\":\"late\"") && contains(j, "\"progress\":{\"pct\":50}"));
    omnitron_free(j);
    OmnitronBuffer raw = {0};
    OK(omnitron_queue_get(q, packed, &raw));
    CHECK(raw.len > 0 && raw.data[0] == 0x8b); /* a map of 11 */
    omnitron_free(raw.data);
    j = job_json(q, packed);
    CHECK(contains(j, "\"result\":\"ok\"") && contains(j, "\"progress\":{\"n\":7}"));
    omnitron_free(j);

    /* The dead job keeps each attempt's error: fail(), a failure status, fail() with a code. */
    OmnitronBuffer dead = {0};
    OK(omnitron_queue_dead_json(q, 0, 10, &dead));
    const char *d = (const char *)dead.data;
    CHECK(contains(d, "\"id\":\"bad-1\"") && contains(d, "\"state\":\"dead\""));
    CHECK(contains(d, "\"code\":\"Q005\",\"message\":\"refused on attempt 1\""));
    CHECK(contains(d, "\"code\":\"E004\",\"message\":\"the job callback: refused by status\""));
    CHECK(contains(d, "\"code\":\"Q006\",\"message\":\"too slow\""));
    omnitron_free(dead.data);
    OmnitronBuffer dead_raw = {0};
    OK(omnitron_queue_dead(q, 0, 10, &dead_raw));
    CHECK(dead_raw.len > 0 && dead_raw.data[0] == 0x91); /* an array of 1 */
    omnitron_free(dead_raw.data);

    /* Back from the dead-letter queue, it completes. */
    pthread_mutex_lock(&s.lock);
    s.revived = 1;
    pthread_mutex_unlock(&s.lock);
    uint64_t retried = 0;
    const char *which[] = {"bad-1", "no-such-job"};
    OK(omnitron_queue_retry_dead(q, which, 2, &retried));
    CHECK(retried == 1);
    CHECK(wait_count(q, "completed", 6));
    CHECK(count_of(q, "dead") == 0);
    j = job_json(q, "bad-1");
    CHECK(contains(j, "\"result\":\"revived\"") && contains(j, "\"Q006\""));
    omnitron_free(j);

    /* An id the queue holds, in any state, adds nothing. */
    bool added = true;
    char *dup = NULL;
    OK(omnitron_queue_add_json(q, "sync", "{\"n\": 9}", "{\"job_id\": \"bad-1\"}", &dup, &added));
    CHECK(!added && dup != NULL && strcmp(dup, "bad-1") == 0);
    omnitron_free(dup);

    /* Paused: nothing is handed out until resumed. */
    OK(omnitron_queue_pause(q));
    char *paused_id = NULL;
    OK(omnitron_queue_add_json(q, "sync", "{\"n\": 5}", NULL, &paused_id, NULL));
    sleep_ms(300);
    CHECK(count_of(q, "waiting") == 1);
    OmnitronBuffer counts = {0};
    OK(omnitron_queue_counts_json(q, &counts));
    CHECK(contains((const char *)counts.data, "\"paused\":true"));
    omnitron_free(counts.data);
    OK(omnitron_queue_resume(q));
    CHECK(wait_count(q, "completed", 7));
    j = job_json(q, paused_id);
    CHECK(contains(j, "\"result\":{\"twice\":10}"));
    omnitron_free(j);

    /* Removal: a finished job goes; an unknown one is reported, not an error. */
    bool removed = false;
    OK(omnitron_queue_remove(q, ids[0], &removed));
    CHECK(removed);
    OK(omnitron_queue_remove(q, ids[0], &removed));
    CHECK(!removed);
    OmnitronBuffer gone = {(uint8_t *)"stale", 5};
    FAILS_WITH(omnitron_queue_get(q, ids[0], &gone), OMNITRON_STATUS_JOB_NOT_FOUND);
    CHECK(gone.data == NULL && gone.len == 0);
    CHECK(contains(omnitron_last_error_message(), ids[0]));

    OK(omnitron_queue_worker_close(w, 5000));
    OK(omnitron_queue_worker_close(w, 5000)); /* again: harmless */
    pthread_mutex_lock(&s.lock);
    for (int i = 0; i < s.later_count; i++) pthread_join(s.later[i], NULL);
    pthread_mutex_unlock(&s.lock);
    omnitron_queue_worker_free(w);
    omnitron_queue_worker_free(w); /* again: harmless */
    CHECK(wait_freed(&s) == 1);
    FAILS_WITH(omnitron_queue_worker_close(w, 0), OMNITRON_STATUS_INVALID_HANDLE);
    state_check(&s);
    CHECK(s.calls == 10); /* 4 sync, later, msgpack, bad 3 times and once revived */

    for (int i = 0; i < 3; i++) omnitron_free(ids[i]);
    omnitron_free(later);
    omnitron_free(bad);
    omnitron_free(packed);
    omnitron_free(paused_id);
    omnitron_queue_free(q);
    omnitron_queue_free(q); /* again: harmless */
}

/* ---- jobs the engine gave up on are still finished by C, their answers dropped ---------------------- */

static void test_abandoned(void) {
    OmnitronQueue *q = NULL;
    OK(omnitron_queue_open(store_url, "c-abandoned", "{\"attempts\": 1, \"timeout_ms\": 200}", &q));
    State s;
    state_init(&s);
    OmnitronQueueWorker *w = NULL;
    OK(omnitron_queue_worker_start(q, NULL, run_job, &s, state_free, &w));

    /* Its timeout passes: the attempt fails (Q006), the job is dead; the late answer is dropped. */
    OK(omnitron_queue_add_json(q, "hold", NULL, "{\"id\": \"slow\"}", NULL, NULL));
    CHECK(wait_count(q, "dead", 1));
    CHECK(wait_held(&s, 1));
    pthread_mutex_lock(&s.lock);
    OmnitronJob *held = s.held_count == 1 ? s.held[0] : NULL;
    pthread_mutex_unlock(&s.lock);
    CHECK(held != NULL);
    CHECK(omnitron_job_cancelled(held));
    CHECK(strcmp(omnitron_job_id(held), "slow") == 0);
    bool recorded = true;
    OK(omnitron_job_progress_json(held, "1", &recorded));
    CHECK(!recorded);
    FAILS_WITH(omnitron_job_complete_json(held, "\"too late\""), OMNITRON_STATUS_LEASE_LOST);
    CHECK(contains(omnitron_last_error_message(), "dropped"));
    FAILS_WITH(omnitron_job_complete_json(held, "\"again\""), OMNITRON_STATUS_INVALID_HANDLE);
    char *j = job_json(q, "slow");
    CHECK(contains(j, "\"state\":\"dead\"") && contains(j, "\"code\":\"Q006\"") && !contains(j, "too late"));
    omnitron_free(j);

    /* The worker freed while a job runs: the job goes back to the queue, its attempt not counted. */
    OmnitronQueue *q2 = NULL;
    OK(omnitron_queue_open(store_url, "c-handed-back", NULL, &q2));
    OmnitronQueueWorker *w2 = NULL;
    OK(omnitron_queue_worker_start(q2, NULL, run_job, &s, NULL, &w2));
    OK(omnitron_queue_add_json(q2, "hold", NULL, "{\"id\": \"kept\"}", NULL, NULL));
    CHECK(wait_held(&s, 2));
    omnitron_queue_worker_free(w2);
    CHECK(count_of(q2, "waiting") == 1 && count_of(q2, "active") == 0);
    pthread_mutex_lock(&s.lock);
    held = s.held_count == 2 ? s.held[1] : NULL;
    pthread_mutex_unlock(&s.lock);
    CHECK(held != NULL && omnitron_job_cancelled(held));
    FAILS_WITH(omnitron_job_fail(held, NULL, "late"), OMNITRON_STATUS_LEASE_LOST);
    j = job_json(q2, "kept");
    CHECK(contains(j, "\"state\":\"waiting\"") && contains(j, "\"attempts\":0") && !contains(j, "late"));
    omnitron_free(j);

    omnitron_queue_worker_free(w);
    CHECK(wait_freed(&s) == 1);
    state_check(&s);
    omnitron_queue_free(q);
    omnitron_queue_free(q2);
}

/* ---- after close returns, no callback runs; closing from inside a callback does not hang -------- */

static void test_close(void) {
    OmnitronQueue *q = NULL;
    OK(omnitron_queue_open(store_url, "c-close", NULL, &q));
    State s;
    state_init(&s);
    OmnitronQueueWorker *w = NULL;
    OK(omnitron_queue_worker_start(q, "{\"concurrency\": 2}", run_job, &s, state_free, &w));
    OK(omnitron_queue_add_json(q, "slow", NULL, "{\"id\": \"slow\"}", NULL, NULL));
    double until = now_ms() + WAIT_MS;
    int started = 0;
    while (!started && now_ms() < until) {
        pthread_mutex_lock(&s.lock);
        started = s.slow_started;
        pthread_mutex_unlock(&s.lock);
        if (!started) sleep_ms(5);
    }
    CHECK(started == 1);
    OK(omnitron_queue_worker_close(w, 0));
    pthread_mutex_lock(&s.lock);
    CHECK(s.slow_done == 1);
    pthread_mutex_unlock(&s.lock);
    char *j = job_json(q, "slow");
    CHECK(contains(j, "\"state\":\"waiting\""));
    omnitron_free(j);
    omnitron_queue_worker_free(w);
    CHECK(wait_freed(&s) == 1);

    /* A second worker takes the job back and closes itself from inside its callback. */
    OK(omnitron_queue_remove(q, "slow", NULL));
    State s2;
    state_init(&s2);
    OK(omnitron_queue_worker_start(q, NULL, run_job, &s2, state_free, &s2.worker));
    OK(omnitron_queue_add_json(q, "close-me", NULL, "{\"id\": \"close-me\"}", NULL, NULL));
    until = now_ms() + WAIT_MS;
    int closed = 0;
    while (!closed && now_ms() < until) {
        pthread_mutex_lock(&s2.lock);
        closed = s2.closed_inside;
        pthread_mutex_unlock(&s2.lock);
        if (!closed) sleep_ms(5);
    }
    CHECK(closed == 1);
    OK(omnitron_queue_worker_close(s2.worker, 0));
    omnitron_queue_worker_free(s2.worker);
    CHECK(wait_freed(&s2) == 1);
    j = job_json(q, "close-me");
    CHECK(contains(j, "\"state\":\"waiting\"") && contains(j, "\"attempts\":0"));
    omnitron_free(j);
    state_check(&s);
    state_check(&s2);
    omnitron_queue_free(q);
}

/* ---- bad input: refused with a status and a message, never a crash ------------------------------- */

static int start_freed = 0;
static void count_free(void *ud) {
    (void)ud;
    start_freed++;
}

static void test_bad_input(void) {
    OmnitronQueue *q = (OmnitronQueue *)(uintptr_t)0x5a5a;
    FAILS_WITH(omnitron_queue_open(NULL, "q", NULL, &q), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(q == NULL);
    FAILS_WITH(omnitron_queue_open(store_url, NULL, NULL, &q), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_open(store_url, "q", NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_open(store_url, "bad name!", NULL, &q), OMNITRON_STATUS_INVALID_QUEUE);
    CHECK(contains(omnitron_last_error_message(), "bad name!"));
    FAILS_WITH(omnitron_queue_open("ftp://host/q", "q", NULL, &q), OMNITRON_STATUS_INVALID_QUEUE);
    CHECK(contains(omnitron_last_error_message(), "sqlite:"));

    /* Options: an unknown key names the nearest; a bad rate is Q001 with the accepted forms. */
    FAILS_WITH(omnitron_queue_open(store_url, "q", "{\"concurency\": 2}", &q), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "'concurency'") &&
          contains(omnitron_last_error_message(), "did you mean 'concurrency'"));
    FAILS_WITH(omnitron_queue_open(store_url, "q", "{\"rate_limit\": \"lots\"}", &q), OMNITRON_STATUS_INVALID_QUEUE);
    CHECK(strcmp(omnitron_status_id(omnitron_last_error_status()), "Q001") == 0);
    CHECK(contains(omnitron_last_error_message(), "rate_limit") && contains(omnitron_last_error_message(), "100/minute"));
    FAILS_WITH(omnitron_queue_open(store_url, "q", "{\"timeout\": \"1s\"}", &q), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "milliseconds"));
    FAILS_WITH(omnitron_queue_open(store_url, "q", "[1]", &q), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_open(store_url, "q", "{not json", &q), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(q == NULL);

    OK(omnitron_queue_open(store_url, "c-bad", "{\"rate_limit\": \"100/minute\", \"concurrency\": 2}", &q));

    /* Handles: NULL, garbage, another kind's, freed. */
    OmnitronQueue *garbage = (OmnitronQueue *)(uintptr_t)0xdead0;
    char *id = (char *)"stale";
    bool added = true;
    FAILS_WITH(omnitron_queue_add_json(NULL, "j", NULL, NULL, &id, &added), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(id == NULL && !added);
    FAILS_WITH(omnitron_queue_add_json(garbage, "j", NULL, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    OmnitronQueue *freed = NULL;
    OK(omnitron_queue_open(store_url, "c-freed", NULL, &freed));
    omnitron_queue_free(freed);
    FAILS_WITH(omnitron_queue_pause(freed), OMNITRON_STATUS_INVALID_HANDLE);
    OmnitronBuffer out = {0};
    FAILS_WITH(omnitron_queue_counts_json(NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_queue_counts_json(q, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_get_json(q, NULL, &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_dead(garbage, 0, 1, &out), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_queue_resume(garbage), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_queue_remove(q, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_retry_dead(q, NULL, 3, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_queue_retry_dead(q, NULL, 0, NULL));
    omnitron_queue_free(NULL);

    /* Payloads and job options. */
    FAILS_WITH(omnitron_queue_add(q, "j", NULL, 5, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    static const uint8_t never[] = {0xc1};
    FAILS_WITH(omnitron_queue_add(q, "j", never, 1, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_JOB_DATA);
    static const uint8_t two[] = {0x01, 0x02};
    FAILS_WITH(omnitron_queue_add(q, "j", two, 2, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_JOB_DATA);
    FAILS_WITH(omnitron_queue_add_json(q, "j", "{oops", NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_add_json(q, NULL, "1", NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_add_json(q, "j", "1", "{\"priorty\": 1}", NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "did you mean 'priority'"));
    FAILS_WITH(omnitron_queue_add_json(q, "j", "1", "{\"attempts\": 0}", NULL, NULL), OMNITRON_STATUS_INVALID_QUEUE);
    FAILS_WITH(omnitron_queue_add_json(q, "j", "1", "{\"id\": \"a\", \"job_id\": \"b\"}", NULL, NULL),
               OMNITRON_STATUS_INVALID_QUEUE);
    FAILS_WITH(omnitron_queue_add_json(q, "j", "1", "{\"delay_ms\": -1}", NULL, NULL), OMNITRON_STATUS_INVALID_QUEUE);
    CHECK(contains(omnitron_last_error_message(), "delay_ms"));
    CHECK(count_of(q, "waiting") == 0);

    /* A worker: no callback, wrong options; user_data is freed when the start fails. */
    OmnitronQueueWorker *w = (OmnitronQueueWorker *)(uintptr_t)0x5a5a;
    FAILS_WITH(omnitron_queue_worker_start(q, NULL, NULL, NULL, count_free, &w), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(w == NULL && start_freed == 1);
    FAILS_WITH(omnitron_queue_worker_start(q, "{\"lease_ms\": 50}", run_job, NULL, count_free, &w),
               OMNITRON_STATUS_INVALID_QUEUE);
    CHECK(contains(omnitron_last_error_message(), "lease_ms") && start_freed == 2);
    FAILS_WITH(omnitron_queue_worker_start(q, "{\"concurrency\": 0}", run_job, NULL, count_free, &w),
               OMNITRON_STATUS_INVALID_QUEUE);
    FAILS_WITH(omnitron_queue_worker_start(q, "{\"threads\": 2}", run_job, NULL, count_free, &w),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_worker_start(NULL, NULL, run_job, NULL, count_free, &w), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_queue_worker_start(q, NULL, run_job, NULL, count_free, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(start_freed == 6);
    FAILS_WITH(omnitron_queue_worker_close(NULL, 0), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_queue_worker_close((OmnitronQueueWorker *)q, 0), OMNITRON_STATUS_INVALID_HANDLE);
    omnitron_queue_worker_free(NULL);

    /* Jobs: NULL, garbage, another kind's handle. */
    OmnitronJob *bogus = (OmnitronJob *)q;
    FAILS_WITH(omnitron_job_complete(NULL, NULL, 0), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_job_complete_json(bogus, "1"), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_job_fail(bogus, NULL, "x"), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(contains(omnitron_last_error_message(), "not a live job handle"));
    FAILS_WITH(omnitron_job_progress(NULL, NULL, 0, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(omnitron_job_id(NULL) == NULL && omnitron_job_name(bogus) == NULL);
    CHECK(omnitron_job_attempt(bogus) == 0 && omnitron_job_token(NULL) == 0 && !omnitron_job_cancelled(bogus));
    const uint8_t *data = (const uint8_t *)"stale";
    size_t len = 5;
    FAILS_WITH(omnitron_job_data(bogus, &data, &len), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(data == NULL && len == 0);
    FAILS_WITH(omnitron_job_data_json(NULL, &out), OMNITRON_STATUS_INVALID_HANDLE);

    omnitron_queue_free(q);
}

/* ---- a job's finish with bad arguments still finishes it, as a failed attempt --------------------- */

static OmnitronStatus finish_badly(OmnitronJob *job, void *ud) {
    State *s = ud;
    static const uint8_t never[] = {0xc1};
    const char *name = omnitron_job_name(job);
    if (strcmp(name, "bad-result") == 0) {
        EXPECT(s, omnitron_job_complete(job, never, 1) == OMNITRON_STATUS_INVALID_JOB_DATA);
    } else if (strcmp(name, "null-result") == 0) {
        EXPECT(s, omnitron_job_complete(job, NULL, 3) == OMNITRON_STATUS_INVALID_ARGUMENT);
    } else if (strcmp(name, "null-message") == 0) {
        EXPECT(s, omnitron_job_fail(job, NULL, NULL) == OMNITRON_STATUS_INVALID_ARGUMENT);
    } else {
        EXPECT(s, omnitron_job_complete_json(job, "{bad json") == OMNITRON_STATUS_INVALID_ARGUMENT);
    }
    EXPECT(s, omnitron_job_complete(job, NULL, 0) == OMNITRON_STATUS_INVALID_HANDLE);
    return OMNITRON_STATUS_OK;
}

static void test_bad_finish(void) {
    OmnitronQueue *q = NULL;
    OK(omnitron_queue_open(store_url, "c-bad-finish", "{\"attempts\": 1}", &q));
    const char *names[] = {"bad-result", "null-result", "null-message", "bad-json"};
    for (int i = 0; i < 4; i++) {
        char opts[64];
        snprintf(opts, sizeof opts, "{\"id\": \"%s\"}", names[i]);
        OK(omnitron_queue_add_json(q, names[i], NULL, opts, NULL, NULL));
    }
    State s;
    state_init(&s);
    OmnitronQueueWorker *w = NULL;
    OK(omnitron_queue_worker_start(q, "{\"concurrency\": 4}", finish_badly, &s, NULL, &w));
    CHECK(wait_count(q, "dead", 4));
    char *j = job_json(q, "bad-result");
    CHECK(contains(j, "\"code\":\"Q008\"") && contains(j, "not one MessagePack value"));
    omnitron_free(j);
    j = job_json(q, "null-message");
    CHECK(contains(j, "\"code\":\"E001\"") && contains(j, "omnitron_job_fail: message is NULL"));
    omnitron_free(j);
    OK(omnitron_queue_worker_close(w, 1000));
    omnitron_queue_worker_free(w);
    state_check(&s);
    omnitron_queue_free(q);
}

/* ---- add-many and events ---------------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t lock;
    int completed;
    int drained;
    int others;
    char seen[512];
    int freed;
} Heard;

static void on_event(const char *event_json, void *ud) {
    Heard *h = ud;
    pthread_mutex_lock(&h->lock);
    if (contains(event_json, "\"event\":\"completed\"")) {
        h->completed++;
        const char *id = strstr(event_json, "\"id\":\"");
        if (id != NULL && strlen(h->seen) + 16 < sizeof h->seen) strncat(h->seen, id + 6, 5);
    } else if (contains(event_json, "\"event\":\"drained\"")) {
        h->drained++;
    } else {
        h->others++;
    }
    pthread_mutex_unlock(&h->lock);
}

static void heard_free(void *ud) {
    ((Heard *)ud)->freed++;
}

static OmnitronStatus complete_now(OmnitronJob *job, void *ud) {
    (void)ud;
    return omnitron_job_complete_json(job, "\"done\"");
}

static int heard_completed(Heard *h) {
    pthread_mutex_lock(&h->lock);
    int n = h->completed;
    pthread_mutex_unlock(&h->lock);
    return n;
}

static void test_add_many_and_events(void) {
    OmnitronQueue *q = NULL;
    OK(omnitron_queue_open(store_url, "c-events", NULL, &q));
    Heard h = {.lock = PTHREAD_MUTEX_INITIALIZER};
    OmnitronQueueListener *l = NULL;
    OK(omnitron_queue_on_event(q, on_event, &h, heard_free, &l));

    OmnitronBuffer fates = {0};
    OK(omnitron_queue_add_many_json(q,
                                    "[{\"name\": \"a\", \"data\": {\"n\": 1}, \"opts\": {\"id\": \"e-1\"}},"
                                    " {\"name\": \"b\", \"opts\": {\"id\": \"e-2\", \"priority\": 1}},"
                                    " {\"name\": \"c\", \"data\": [1, 2], \"opts\": {\"id\": \"e-1\"}},"
                                    " {\"name\": \"d\", \"data\": null}]",
                                    &fates));
    CHECK(contains((const char *)fates.data, "[{\"id\":\"e-1\",\"added\":true},{\"id\":\"e-2\",\"added\":true},{\"id\":\"e-1\",\"added\":false},{\"id\":\""));
    omnitron_free(fates.data);
    CHECK(count_of(q, "waiting") == 3);

    OmnitronQueueWorker *w = NULL;
    OK(omnitron_queue_worker_start(q, "{\"poll_interval_ms\": 20}", complete_now, NULL, NULL, &w));
    double until = now_ms() + WAIT_MS;
    while (heard_completed(&h) < 3 && now_ms() < until) sleep_ms(10);
    CHECK(heard_completed(&h) == 3);
    OK(omnitron_queue_worker_close(w, 1000));
    omnitron_queue_worker_free(w);
    pthread_mutex_lock(&h.lock);
    CHECK(contains(h.seen, "e-1") && contains(h.seen, "e-2") && h.others == 0);
    pthread_mutex_unlock(&h.lock);
    omnitron_queue_listener_free(l);
    CHECK(h.freed == 1);
    omnitron_queue_listener_free(l); /* freed: ignored */
    omnitron_queue_listener_free(NULL);

    /* Bad input: nothing is added, user data is freed, the error says what is wrong. */
    FAILS_WITH(omnitron_queue_add_many_json(q, "{\"name\": \"x\"}", NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "JSON array"));
    FAILS_WITH(omnitron_queue_add_many_json(q, "[{\"name\": \"x\"}, {\"nam\": \"y\"}]", NULL),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "jobs_json[1]"));
    FAILS_WITH(omnitron_queue_add_many_json(q, "[{\"name\": \"x\", \"opts\": {\"delay_ms\": \"soon\"}}]", NULL),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "jobs_json[0]: delay_ms"));
    FAILS_WITH(omnitron_queue_add_many_json(q, "[{\"name\": \"x\"}, {\"name\": \"y\", \"opts\": {\"id\": \"\"}}]", NULL),
               OMNITRON_STATUS_INVALID_QUEUE);
    FAILS_WITH(omnitron_queue_add_many_json(q, "[1,", NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_add_many_json(q, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_queue_add_many_json(NULL, "[]", NULL), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(count_of(q, "waiting") == 0);
    Heard h2 = {.lock = PTHREAD_MUTEX_INITIALIZER};
    FAILS_WITH(omnitron_queue_on_event(q, NULL, &h2, heard_free, &l), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(h2.freed == 1);
    FAILS_WITH(omnitron_queue_on_event(NULL, on_event, &h2, heard_free, &l), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(h2.freed == 2);
    FAILS_WITH(omnitron_queue_on_event(q, on_event, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    omnitron_queue_free(q);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/omnitron-c-queue-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(store_url, sizeof store_url, "sqlite:%s/queue.db", dir);

    test_worker();
    test_abandoned();
    test_close();
    test_bad_input();
    test_bad_finish();
    test_add_many_and_events();

    const char *files[] = {"queue.db", "queue.db-wal", "queue.db-shm"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    printf("test_queue: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
