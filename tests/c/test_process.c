/*
 * Pools and supervisors through the C ABI, with real C worker processes (c_worker.c): tasks,
 * asynchronous tasks, status, a supervised child killed and restarted with hooks, bad input.
 * Built with -Wall -Wextra -Werror and run under valgrind by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <libgen.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http_client.h"

static char worker_path[4096];

static int frees = 0;
static int done_before_free = 0;

static void count_free(void *ud) {
    __atomic_add_fetch(&frees, 1, __ATOMIC_SEQ_CST);
    free(ud);
}

static int async_done = 0;
static char async_result[64];

static void on_done(uint32_t status, const uint8_t *value, size_t len, const char *error, void *ud) {
    (void)error;
    (void)ud;
    if (status == OMNITRON_STATUS_OK && len < sizeof async_result) {
        memcpy(async_result, value, len);
        async_result[len] = 0;
    }
    if (__atomic_load_n(&frees, __ATOMIC_SEQ_CST) == 0) done_before_free++;
    __atomic_add_fetch(&async_done, 1, __ATOMIC_SEQ_CST);
}

static int crashes = 0;
static int restarts = 0;
static uint32_t last_attempt = 0;

static uint32_t on_crash(const char *info_json, const char *reason, void *ud) {
    (void)ud;
    if (contains(info_json, "\"name\":\"calc\"") && contains(reason, "signal 9")) __atomic_add_fetch(&crashes, 1, __ATOMIC_SEQ_CST);
    return OMNITRON_CRASH_DEFAULT;
}

static void on_restart(const char *info_json, uint32_t attempt, void *ud) {
    (void)info_json;
    (void)ud;
    __atomic_store_n(&last_attempt, attempt, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&restarts, 1, __ATOMIC_SEQ_CST);
}

static long first_pid(const char *json) {
    const char *p = strstr(json, "\"pid\":");
    return p ? atol(p + 6) : -1;
}

static void pools(void) {
    char options[8192];
    snprintf(options, sizeof options,
             "{\"name\":\"c-calc\",\"command\":[\"%s\"],\"size\":2,\"strategy\":\"least-loaded\",\"task_timeout_ms\":5000}",
             worker_path);
    OmnitronPool *pool = NULL;
    OK(omnitron_pool_start(options, &pool));
    OmnitronBuffer out = {0};
    OK(omnitron_pool_exec_json(pool, "add", "[2,3]", &out));
    CHECK(out.data && strcmp((const char *)out.data, "5") == 0);
    omnitron_free(out.data);
    OK(omnitron_pool_status_json(pool, &out));
    CHECK(contains((const char *)out.data, "\"workers\":2"));
    omnitron_free(out.data);
    /* An application error keeps its code. */
    FAILS_WITH(omnitron_pool_exec_json(pool, "add", "[\"x\"]", &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "two integers"));
    FAILS_WITH(omnitron_pool_exec_json(pool, "nope", NULL, &out), OMNITRON_STATUS_METHOD_NOT_FOUND);
    FAILS_WITH(omnitron_pool_exec_json(pool, "add", "{oops", &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_pool_exec_json(pool, "add", "7", &out), OMNITRON_STATUS_INVALID_ARGUMENT);
    /* Asynchronous: done runs, then the user_data's free function, once each. */
    OK(omnitron_pool_exec_async(pool, "add", "[40,2]", on_done, malloc(8), count_free));
    for (int i = 0; i < 500 && __atomic_load_n(&frees, __ATOMIC_SEQ_CST) == 0; i++) sleep_ms(10);
    CHECK(strcmp(async_result, "42") == 0);
    CHECK(async_done == 1 && frees == 1 && done_before_free == 1);
    FAILS_WITH(omnitron_pool_exec_async(pool, "add", "[1,1]", NULL, malloc(8), count_free),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(frees == 2); /* a failing call frees it before returning */
    OK(omnitron_pool_stop(pool));
    FAILS_WITH(omnitron_pool_exec_json(pool, "add", "[1,1]", &out), OMNITRON_STATUS_NOT_RUNNING);
    omnitron_pool_free(pool);
    omnitron_pool_free(pool); /* twice is harmless */
    FAILS_WITH(omnitron_pool_exec_json(pool, "add", "[1,1]", &out), OMNITRON_STATUS_INVALID_HANDLE);

    /* Bad options. */
    FAILS_WITH(omnitron_pool_start(NULL, &pool), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_pool_start("{\"name\":\"x\",\"command\":[\"/bin/true\"],\"sise\":2}", &pool),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "sise"));
    CHECK(contains(omnitron_last_error_message(), "did you mean 'size'"));
    /* Values are checked by the engine, named as the JSON spells them (durations in ms). */
    FAILS_WITH(omnitron_pool_start("{\"name\":\"x\",\"command\":[\"/bin/true\"],\"task_timeout_ms\":-1}", &pool),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "task_timeout_ms must be a number of milliseconds, 0 or more, got -1"));
    FAILS_WITH(omnitron_pool_start("{\"name\":\"x\",\"command\":[\"/nonexistent/worker\"]}", &pool),
               OMNITRON_STATUS_SPAWN_FAILED);
    FAILS_WITH(omnitron_pool_start("{\"name\":\"x\",\"command\":[\"/bin/true\"]}", NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    /* A program that is not a worker exits before it is ready. */
    FAILS_WITH(omnitron_pool_start("{\"name\":\"x\",\"command\":[\"/bin/true\"]}", &pool), OMNITRON_STATUS_CHILD_NOT_READY);
}

static void supervisors(void) {
    OmnitronSupervisor *sup = NULL;
    OK(omnitron_supervisor_new("{\"name\":\"c-sup\",\"max_restarts\":3,\"backoff_initial_ms\":10}", &sup));
    char child[8192];
    snprintf(child, sizeof child, "{\"name\":\"calc\",\"command\":[\"%s\"]}", worker_path);
    OK(omnitron_supervisor_add_child(sup, child));
    FAILS_WITH(omnitron_supervisor_add_child(sup, "{\"name\":\"x\",\"command\":[\"y\"],\"restart\":\"sometimes\"}"),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_supervisor_on_crash(sup, on_crash, NULL, NULL));
    OK(omnitron_supervisor_on_restart(sup, on_restart, NULL, NULL));
    FAILS_WITH(omnitron_supervisor_on_crash(sup, NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_supervisor_start(sup));
    OK(omnitron_supervisor_start(sup)); /* idempotent */
    OmnitronBuffer out = {0};
    OK(omnitron_supervisor_children_json(sup, &out));
    long pid = first_pid((const char *)out.data);
    CHECK(contains((const char *)out.data, "\"state\":\"running\""));
    omnitron_free(out.data);
    CHECK(pid > 0);
    if (pid > 0) kill((pid_t)pid, SIGKILL);
    for (int i = 0; i < 1000 && __atomic_load_n(&restarts, __ATOMIC_SEQ_CST) == 0; i++) sleep_ms(10);
    CHECK(__atomic_load_n(&crashes, __ATOMIC_SEQ_CST) == 1);
    CHECK(__atomic_load_n(&last_attempt, __ATOMIC_SEQ_CST) == 1);
    long now = -1;
    for (int i = 0; i < 1000; i++) {
        OK(omnitron_supervisor_children_json(sup, &out));
        now = first_pid((const char *)out.data);
        int running = contains((const char *)out.data, "\"state\":\"running\"");
        omnitron_free(out.data);
        if (running && now > 0 && now != pid) break;
        sleep_ms(10);
    }
    CHECK(now > 0 && now != pid);
    OK(omnitron_supervisor_restart_child(sup, "calc"));
    FAILS_WITH(omnitron_supervisor_restart_child(sup, "nobody"), OMNITRON_STATUS_CHILD_NOT_FOUND);

    /* The status page: the child and its own report (asked of the C worker over its socket). */
    OmnitronStatusPage *page = NULL;
    OK(omnitron_status_page_serve(sup, NULL, &page));
    char *url = NULL;
    OK(omnitron_status_page_url(page, &url));
    unsigned port = 0;
    CHECK(url && sscanf(url, "http://127.0.0.1:%u/", &port) == 1 && port > 0);
    Reply r;
    int shown = 0;
    for (int i = 0; i < 500 && !shown; i++) {
        CHECK(http_send((uint16_t)port, "GET", "/api/status", NULL, NULL, NULL, 0, &r) == 0);
        shown = r.status == 200 && contains(r.body, "\"name\":\"calc\"") && contains(r.body, "\"report\":{\"metrics\"");
        if (!shown) sleep_ms(10);
    }
    CHECK(shown);
    CHECK(http_send((uint16_t)port, "GET", "/", NULL, NULL, NULL, 0, &r) == 0 && r.status == 200 && contains(r.body, "/status.js"));
    CHECK(http_send((uint16_t)port, "DELETE", "/api/status", NULL, NULL, NULL, 0, &r) == 0 && r.status == 405);
    omnitron_free(url);
    omnitron_status_page_free(page);
    omnitron_status_page_free(page); /* twice is harmless */
    FAILS_WITH(omnitron_status_page_url(page, &url), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_status_page_serve(NULL, NULL, &page), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_status_page_serve(sup, "nowhere", &page), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "nowhere"));
    FAILS_WITH(omnitron_status_page_serve(sup, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_supervisor_stop(sup));
    OK(omnitron_supervisor_wait(sup));
    omnitron_supervisor_free(sup);
    FAILS_WITH(omnitron_supervisor_start(sup), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_supervisor_new("[1]", &sup), OMNITRON_STATUS_INVALID_ARGUMENT);

    /* Not a child: a worker without a parent says so. */
    OmnitronPeer *peer = NULL;
    FAILS_WITH(omnitron_worker_connect(&peer), OMNITRON_STATUS_NO_PARENT);
    FAILS_WITH(omnitron_worker_run(NULL), OMNITRON_STATUS_INVALID_HANDLE);
}

int main(int argc, char **argv) {
    (void)argc;
    /* The worker sits next to this program; children get an absolute path. */
    char self[1024], dir[1024];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(dir, sizeof dir, "%s", dirname(self));
    if (dir[0] == '/') {
        snprintf(worker_path, sizeof worker_path, "%s/c_worker", dir);
    } else {
        char cwd[1024];
        if (getcwd(cwd, sizeof cwd) == NULL) return 1;
        snprintf(worker_path, sizeof worker_path, "%s/%s/c_worker", cwd, dir);
    }
    if (access(worker_path, X_OK) != 0) {
        fprintf(stderr, "test_process: %s is missing (make builds it)\n", worker_path);
        return 1;
    }
    pools();
    supervisors();
    printf("test_process: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
