/*
 * Memory the library hands out: freed once, and every mistake after that refused rather than
 * undefined behaviour (the header's MEMORY section). A string or buffer freed twice (with
 * omnitron_free, the deprecated aliases, or a mix), and pointers the library never gave (malloc'd
 * memory, a static string, a stack address, a handle), are refused: nothing is freed, nothing is
 * read through them, and the thread's last error says so. Threads freeing the same pointer at once
 * free it once. Run under valgrind by `make c-test`: it must stay clean (no invalid read or free).
 *
 * Also: a series handle freed while this thread has recorded on it (so it sits in the thread's
 * handle cache) is refused afterwards, as any freed handle.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A free that must be refused: the pointer is left alone and the call reported. */
#define REFUSED(call)                                                                    \
    do {                                                                                 \
        omnitron_clear_last_error();                                                     \
        call;                                                                            \
        CHECK(omnitron_last_error_status() == OMNITRON_STATUS_INVALID_ARGUMENT);         \
        CHECK(contains(omnitron_last_error_message(), "did not hand out, or one already freed")); \
    } while (0)

/* A free that must succeed: no error recorded. */
#define FREED(call)                                                                      \
    do {                                                                                 \
        omnitron_clear_last_error();                                                     \
        call;                                                                            \
        CHECK(omnitron_last_error_status() == OMNITRON_STATUS_OK);                       \
    } while (0)

static char *graph(OmnitronContainer *c) {
    char *s = NULL;
    OK(omnitron_container_export_graph(c, OMNITRON_GRAPH_JSON, &s));
    CHECK(s != NULL);
    return s;
}

static OmnitronBuffer list(OmnitronWorkflowEngine *e) {
    OmnitronBuffer b = {0};
    OK(omnitron_workflow_list(e, NULL, NULL, 0, &b));
    CHECK(b.data != NULL);
    return b;
}

static void test_twice(OmnitronContainer *c, OmnitronWorkflowEngine *e) {
    /* A string, twice. */
    char *s = graph(c);
    FREED(omnitron_free(s));
    REFUSED(omnitron_free(s));
    REFUSED(omnitron_free(s)); /* and a third time */

    /* A buffer's data, twice. */
    OmnitronBuffer b = list(e);
    FREED(omnitron_free(b.data));
    REFUSED(omnitron_free(b.data));

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    /* The deprecated aliases, alone and mixed with omnitron_free. */
    s = graph(c);
    FREED(omnitron_string_free(s));
    REFUSED(omnitron_string_free(s));
    REFUSED(omnitron_free(s));

    s = graph(c);
    FREED(omnitron_free(s));
    REFUSED(omnitron_string_free(s));

    /* omnitron_buffer_free on two copies of one buffer: the first frees, the second is refused. */
    b = list(e);
    OmnitronBuffer copy = b;
    FREED(omnitron_buffer_free(&b));
    CHECK(b.data == NULL && b.len == 0);
    REFUSED(omnitron_buffer_free(&copy));
    CHECK(copy.data == NULL && copy.len == 0); /* emptied all the same */
    FREED(omnitron_buffer_free(&copy));        /* an emptied buffer: nothing to do */

    /* Data freed with omnitron_free, then its buffer with omnitron_buffer_free. */
    b = list(e);
    FREED(omnitron_free(b.data));
    REFUSED(omnitron_buffer_free(&b));
#pragma GCC diagnostic pop
}

static void test_not_ours(OmnitronContainer *c) {
    /* Memory from malloc: refused, not freed (valgrind would see a mismatched or double free). */
    char *mine = malloc(32);
    CHECK(mine != NULL);
    strcpy(mine, "from malloc");
    REFUSED(omnitron_free(mine));
    CHECK(strcmp(mine, "from malloc") == 0);
    REFUSED(omnitron_free(mine + 1)); /* inside a block: nothing before it is read either */
    free(mine);

    /* A static string of the library's, a string literal, a stack address, a handle. */
    REFUSED(omnitron_free((void *)omnitron_version()));
    REFUSED(omnitron_free((void *)"a literal"));
    int on_stack = 7;
    REFUSED(omnitron_free(&on_stack));
    CHECK(on_stack == 7);
    REFUSED(omnitron_free(c));
    char *s = graph(c); /* the container still works */
    FREED(omnitron_free(s));

    /* Inside memory the library did hand out: only its start is ours to free. */
    s = graph(c);
    REFUSED(omnitron_free(s + 1));
    FREED(omnitron_free(s));

    FREED(omnitron_free(NULL));
}

/* Several threads free the same strings at once: each is freed exactly once. */
enum { THREADS = 4, STRINGS = 200 };
static char *shared[STRINGS];
static int refused_by[THREADS];

static void *free_all(void *arg) {
    int i = (int)(intptr_t)arg;
    for (int k = 0; k < STRINGS; k++) {
        omnitron_clear_last_error();
        omnitron_free(shared[k]);
        if (omnitron_last_error_status() == OMNITRON_STATUS_INVALID_ARGUMENT) refused_by[i]++;
    }
    return NULL;
}

static void test_threads(OmnitronContainer *c) {
    for (int k = 0; k < STRINGS; k++) shared[k] = graph(c);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, free_all, (void *)(intptr_t)i);
    int refused = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        refused += refused_by[i];
    }
    CHECK(refused == (THREADS - 1) * STRINGS);
}

/* A series this thread recorded on (cached by the thread), then freed: refused from then on. */
static void test_series_handles(void) {
    OmnitronRegistry *r = NULL;
    OmnitronMetric *m = NULL;
    OmnitronSeries *a = NULL, *b = NULL;
    OK(omnitron_registry_new(&r));
    OK(omnitron_metric_counter(r, "cached_total", "series handles", NULL, 0, &m));
    OK(omnitron_metric_series(m, NULL, 0, &a));
    OK(omnitron_metric_series(m, NULL, 0, &b));
    for (int i = 0; i < 10; i++) OK(omnitron_series_add(a, 1));
    OK(omnitron_series_add(b, 1));
    omnitron_series_free(a);
    FAILS_WITH(omnitron_series_add(a, 1), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_series_set(a, 1), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_series_observe(a, 1), OMNITRON_STATUS_INVALID_HANDLE);
    OK(omnitron_series_add(b, 1)); /* the other handle to the same series is still live */
    double v = 0;
    OK(omnitron_series_value(b, &v, NULL));
    CHECK(v == 12);
    /* A handle of another kind, and NULL, are refused too (not mistaken for a cached series). */
    FAILS_WITH(omnitron_series_add((OmnitronSeries *)m, 1), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_series_add(NULL, 1), OMNITRON_STATUS_INVALID_HANDLE);
    omnitron_series_free(b);
    FAILS_WITH(omnitron_series_add(b, 1), OMNITRON_STATUS_INVALID_HANDLE);
    omnitron_metric_free(m);
    omnitron_registry_free(r);
}

int main(void) {
    OmnitronContainer *c = NULL;
    OmnitronWorkflowEngine *e = NULL;
    OK(omnitron_container_new(&c));
    OK(omnitron_workflow_engine_open(NULL, &e));
    test_twice(c, e);
    test_not_ours(c);
    test_threads(c);
    test_series_handles();
    omnitron_workflow_engine_free(e);
    omnitron_container_free(c);
    printf("memory: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
