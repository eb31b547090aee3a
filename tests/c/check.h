/* The C tests' tiny harness: CHECK counts and reports, printing the library's last error. */
#ifndef OMNITRON_TESTS_CHECK_H
#define OMNITRON_TESTS_CHECK_H

#include "omnitron.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int passed = 0;
static int failed = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (cond) {                                                                 \
            passed++;                                                               \
        } else {                                                                    \
            failed++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);         \
            const char *m_ = omnitron_last_error_message();                         \
            if (m_) fprintf(stderr, "     last error: %s\n", m_);                  \
        }                                                                           \
    } while (0)

#define OK(call) CHECK((call) == OMNITRON_STATUS_OK)
#define FAILS_WITH(call, status) CHECK((call) == (status))

static inline int contains(const char *haystack, const char *needle) {
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

/* Sleeps `ms` milliseconds, resuming after a signal. */
static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* The monotonic clock, in milliseconds. */
static inline double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

#endif
