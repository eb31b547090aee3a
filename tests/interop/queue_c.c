/*
 * The C side of the cross-language queue test (tests/interop/queue_c_python.py runs it), over one
 * SQLite store shared with a Python process:
 *   queue_c add <store>          adds jobs c-1 (MessagePack) and c-2 (JSON) to "interop-c2py";
 *   queue_c work <store> <n>     runs a C worker on "interop-py2c" until n jobs are completed,
 *                                each answered with {"from": "c", "data": <its data>};
 *   queue_c check <store>        prints job c-1 of "interop-c2py" (as the Python worker left it)
 *                                as JSON.
 * Exits 0 when every call succeeded.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(const char *what) {
    const char *m = omnitron_last_error_message();
    fprintf(stderr, "queue_c: %s: %s\n", what, m ? m : "no message");
    return 1;
}

static OmnitronStatus echo(OmnitronJob *job, void *ud) {
    (void)ud;
    OmnitronBuffer data = {0};
    OmnitronStatus s = omnitron_job_data_json(job, &data);
    if (s != OMNITRON_STATUS_OK) return s;
    size_t size = data.len + 32;
    char *result = malloc(size);
    if (result == NULL) {
        omnitron_free(data.data);
        return OMNITRON_STATUS_INTERNAL;
    }
    snprintf(result, size, "{\"from\": \"c\", \"data\": %s}", (const char *)data.data);
    omnitron_free(data.data);
    s = omnitron_job_complete_json(job, result);
    free(result);
    return s;
}

static long completed(OmnitronQueue *q) {
    OmnitronBuffer out = {0};
    if (omnitron_queue_counts_json(q, &out) != OMNITRON_STATUS_OK) return -1;
    const char *at = strstr((const char *)out.data, "\"completed\":");
    long n = at ? strtol(at + strlen("\"completed\":"), NULL, 10) : -1;
    omnitron_free(out.data);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: queue_c add|work|check <store> [n]\n");
        return 2;
    }
    const char *mode = argv[1], *store = argv[2];
    OmnitronQueue *q = NULL;
    int rc = 0;
    if (strcmp(mode, "add") == 0) {
        if (omnitron_queue_open(store, "interop-c2py", NULL, &q) != OMNITRON_STATUS_OK) return fail("open");
        /* Added inside a span: the jobs carry its trace to whichever language runs them. */
        OmnitronSpan *span = NULL;
        char *tp = NULL;
        if (omnitron_span_start("c-adds", "producer", &span) != OMNITRON_STATUS_OK || omnitron_trace_current(&tp) != OMNITRON_STATUS_OK)
            return fail("span");
        printf("%s\n", tp);
        omnitron_free(tp);
        static const uint8_t n1[] = {0x81, 0xa1, 'n', 0x01}; /* {"n": 1} */
        if (omnitron_queue_add(q, "from-c", n1, sizeof n1, "{\"id\": \"c-1\"}", NULL, NULL) != OMNITRON_STATUS_OK)
            rc = fail("add c-1");
        else if (omnitron_queue_add_json(q, "from-c", "{\"n\": 2, \"tags\": [\"a\", \"b\"]}", "{\"id\": \"c-2\"}", NULL,
                                         NULL) != OMNITRON_STATUS_OK)
            rc = fail("add c-2");
        omnitron_span_end(span, NULL, NULL);
    } else if (strcmp(mode, "work") == 0 && argc == 4) {
        long want = strtol(argv[3], NULL, 10);
        if (omnitron_queue_open(store, "interop-py2c", NULL, &q) != OMNITRON_STATUS_OK) return fail("open");
        OmnitronQueueWorker *w = NULL;
        if (omnitron_queue_worker_start(q, "{\"concurrency\": 2, \"poll_interval_ms\": 20}", echo, NULL, NULL, &w) !=
            OMNITRON_STATUS_OK) {
            rc = fail("worker");
        } else {
            struct timespec tick = {0, 20 * 1000000L};
            for (int i = 0; i < 3000 && completed(q) < want; i++) nanosleep(&tick, NULL);
            if (completed(q) < want) rc = fail("waiting for the jobs");
            if (omnitron_queue_worker_close(w, 5000) != OMNITRON_STATUS_OK) rc = fail("close");
            omnitron_queue_worker_free(w);
        }
    } else if (strcmp(mode, "check") == 0) {
        if (omnitron_queue_open(store, "interop-c2py", NULL, &q) != OMNITRON_STATUS_OK) return fail("open");
        OmnitronBuffer out = {0};
        if (omnitron_queue_get_json(q, "c-1", &out) != OMNITRON_STATUS_OK) {
            rc = fail("get c-1");
        } else {
            printf("%s\n", (const char *)out.data);
        }
        omnitron_free(out.data);
    } else {
        fprintf(stderr, "queue_c: unknown mode '%s'\n", mode);
        rc = 2;
    }
    omnitron_queue_free(q);
    return rc;
}
