/*
 * The C hop of the cross-language trace test: connects to the peer at argv[1] (token argv[2]) and
 * hosts shipping@1.0.0, whose ship(sku) calls the Rust service calc@^1 add(2, 40) from its handler
 * (the call carries the handler's trace context) and answers {"c": <its traceparent>, "sum": n}.
 * Serves until stdin closes, then sends its last spans and exits.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <stdio.h>
#include <string.h>

static OmnitronPeer *peer = NULL;

static uint32_t ship(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)method, (void)args, (void)len, (void)ud;
    omnitron_log(OMNITRON_LOG_INFO, "shipping", "shipping", NULL);
    OmnitronBuffer sum = {0};
    OmnitronStatus st = omnitron_peer_call_json(peer, "calc@^1", "add", "[2, 40]", 5000, &sum);
    if (st != OMNITRON_STATUS_OK) return st;
    char *tp = NULL;
    omnitron_trace_current(&tp);
    char json[256];
    int n = snprintf(json, sizeof json, "{\"c\": \"%s\", \"sum\": %s}", tp ? tp : "", (const char *)sum.data);
    omnitron_free(tp);
    omnitron_free(sum.data);
    return omnitron_reply_set(reply, (const uint8_t *)json, (size_t)n);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    if (omnitron_peer_connect(argv[1], "c-shipping", argv[2], &peer) != OMNITRON_STATUS_OK) {
        fprintf(stderr, "connect: %s\n", omnitron_last_error_message());
        return 1;
    }
    const char *methods[] = {"ship"};
    if (omnitron_peer_expose(peer, "shipping", "1.0.0", methods, 1, OMNITRON_FORMAT_JSON, ship, NULL, NULL) !=
        OMNITRON_STATUS_OK) {
        fprintf(stderr, "expose: %s\n", omnitron_last_error_message());
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char buf[64];
    while (fgets(buf, sizeof buf, stdin) != NULL) {
    }
    int flushed = omnitron_tracing_flush(5000) == OMNITRON_STATUS_OK;
    omnitron_peer_free(peer);
    return flushed ? 0 : 1;
}
