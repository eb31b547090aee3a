/*
 * A C worker: started by a pool or supervisor, it connects back to its parent, hosts calc@1.0.0
 * (add, pid, sleep_ms) and serves until SIGTERM. Used by test_process.c and the spawn benchmark.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint32_t calc(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)ud;
    (void)len;
    const char *json = (const char *)args;
    char out[64];
    int n = 0;
    if (strcmp(method, "add") == 0) {
        long a = 0, b = 0;
        if (sscanf(json, "[%ld,%ld]", &a, &b) != 2) {
            omnitron_callback_error("add takes two integers");
            return OMNITRON_STATUS_INVALID_ARGUMENT;
        }
        n = snprintf(out, sizeof out, "%ld", a + b);
    } else if (strcmp(method, "pid") == 0) {
        n = snprintf(out, sizeof out, "%ld", (long)getpid());
    } else if (strcmp(method, "sleep_ms") == 0) {
        long ms = 0;
        if (sscanf(json, "[%ld]", &ms) != 1) return OMNITRON_STATUS_INVALID_ARGUMENT;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0) {
        }
        n = snprintf(out, sizeof out, "%ld", (long)getpid());
    } else {
        return OMNITRON_STATUS_METHOD_NOT_FOUND;
    }
    return omnitron_reply_set(reply, (const uint8_t *)out, (size_t)n);
}

int main(void) {
    OmnitronPeer *peer = NULL;
    if (omnitron_worker_connect(&peer) != OMNITRON_STATUS_OK) {
        fprintf(stderr, "c_worker: %s\n", omnitron_last_error_message());
        return 2;
    }
    OmnitronService *svc = NULL;
    if (omnitron_service_new("calc", "1.0.0", &svc) != OMNITRON_STATUS_OK ||
        omnitron_service_add_method(svc, "add", OMNITRON_FORMAT_JSON, calc, NULL, NULL) != OMNITRON_STATUS_OK ||
        omnitron_service_add_method(svc, "pid", OMNITRON_FORMAT_JSON, calc, NULL, NULL) != OMNITRON_STATUS_OK ||
        omnitron_service_add_method(svc, "sleep_ms", OMNITRON_FORMAT_JSON, calc, NULL, NULL) != OMNITRON_STATUS_OK ||
        omnitron_peer_expose_service(peer, svc) != OMNITRON_STATUS_OK) {
        fprintf(stderr, "c_worker: %s\n", omnitron_last_error_message());
        return 3;
    }
    omnitron_service_free(svc);
    uint32_t s = omnitron_worker_run(peer);
    omnitron_peer_free(peer);
    return s == OMNITRON_STATUS_OK ? 0 : 4;
}
