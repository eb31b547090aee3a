/*
 * The C side of the cross-language test: connects to the peer at argv[1] with token argv[2], calls
 * the Rust service calc@^1 add(2, 40), subscribes to interop.hello and answers interop.ack.c, then
 * prints what happened. Exits 0 when the call worked and the event came.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static volatile int got_hello = 0;

static void on_hello(const char *topic, const uint8_t *payload, size_t len, void *ud) {
    (void)payload;
    (void)len;
    (void)ud;
    if (strcmp(topic, "interop.hello") == 0) got_hello = 1;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    OmnitronPeer *peer = NULL;
    if (omnitron_peer_connect(argv[1], "c-client", argv[2], &peer) != OMNITRON_STATUS_OK) {
        fprintf(stderr, "connect: %s\n", omnitron_last_error_message());
        return 1;
    }
    OmnitronBuffer out = {0};
    if (omnitron_peer_call_json(peer, "calc@^1", "add", "[2, 40]", 5000, &out) != OMNITRON_STATUS_OK) {
        fprintf(stderr, "call: %s\n", omnitron_last_error_message());
        return 1;
    }
    printf("c: calc.add=%s\n", (const char *)out.data);
    omnitron_free(out.data);
    if (omnitron_peer_call_json(peer, "inventory", "reserve", "[\"c-sku\", 1]", 5000, &out) == OMNITRON_STATUS_OK) {
        printf("c: inventory.reserve=%s\n", (const char *)out.data);
        omnitron_free(out.data);
    }
    uint64_t sub = 0;
    omnitron_peer_subscribe(peer, "interop.#", on_hello, NULL, NULL, &sub);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < 1000 && !got_hello; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (got_hello) {
        omnitron_peer_publish_json(peer, "interop.ack.c", "\"c\"");
        printf("c: event interop.hello\n");
        fflush(stdout);
    }
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    omnitron_peer_free(peer);
    return got_hello ? 0 : 1;
}
