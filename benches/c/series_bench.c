/* A timing program, not a test: calls/s of omnitron_series_add on one series from 1..N threads, and
 * of a string handed out and freed (omnitron_peer_address-sized work is avoided: the smallest
 * allocating call is omnitron_registry_gather_string on an empty registry).
 *
 *   cargo build --release -p omnitron-ffi
 *   gcc -O2 -std=c11 -Iinclude benches/c/series_bench.c -Ltarget/release -lomnitron -lpthread \
 *       -o target/series_bench
 *   LD_LIBRARY_PATH=target/release target/series_bench [calls-per-thread] [max-threads]
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "omnitron.h"

static OmnitronSeries *series;
static long calls = 5000000;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *adder(void *arg) {
    (void)arg;
    for (long i = 0; i < calls; i++) {
        if (omnitron_series_add(series, 1.0) != OMNITRON_STATUS_OK) abort();
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) calls = atol(argv[1]);
    int max_threads = argc > 2 ? atoi(argv[2]) : 2;
    OmnitronRegistry *r = NULL;
    OmnitronMetric *m = NULL;
    if (omnitron_registry_new(&r) || omnitron_metric_counter(r, "bench_total", "bench", NULL, 0, &m) ||
        omnitron_metric_series(m, NULL, 0, &series))
        return 1;
    adder(NULL); /* warm up */
    for (int n = 1; n <= max_threads; n++) {
        pthread_t t[64];
        double t0 = now();
        for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, adder, NULL);
        for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
        double dt = now() - t0;
        printf("omnitron_series_add, %d thread(s): %.1f M calls/s (%.1f ns/call/thread)\n", n,
               (double)calls * n / dt / 1e6, dt / (double)calls * 1e9);
    }
    long frees = calls / 10;
    double t0 = now();
    for (long i = 0; i < frees; i++) {
        char *s = NULL;
        if (omnitron_registry_gather_string(r, OMNITRON_METRICS_TEXT, &s)) abort();
        omnitron_free(s);
    }
    double dt = now() - t0;
    printf("omnitron_registry_gather_string + omnitron_free: %.2f M pairs/s\n", (double)frees / dt / 1e6);
    omnitron_series_free(series);
    omnitron_metric_free(m);
    omnitron_registry_free(r);
    return 0;
}
