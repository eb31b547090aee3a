/* The tests' small harness: CHECK counts and reports failures (with the library's last error),
 * check_done() ends a test program; rpc_pair() connects two peers over a private socket. */
#pragma once

#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "omnitron.h"

static int checks_failed = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            checks_failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);         \
            const char *last_ = omnitron_last_error_message();                      \
            if (last_) fprintf(stderr, "     last error: %s\n", last_);            \
        }                                                                           \
    } while (0)

#define OK(call) CHECK((call) == OMNITRON_STATUS_OK)

/* Whether `text` contains `part` (false for NULL). */
static inline int contains(const void *text, const char *part) {
    return text != NULL && strstr((const char *)text, part) != NULL;
}

/* main's return value: 0 when every check passed. */
static inline int check_done(const char *name) {
    if (checks_failed) fprintf(stderr, "%s: %d check(s) failed\n", name, checks_failed);
    else printf("%s: ok\n", name);
    return checks_failed ? 1 : 0;
}

/* Two peers of this process: `server` listening on a socket in a new private directory (`dir`,
 * removed by rpc_pair_free), `client` connected to it. */
typedef struct {
    char dir[64];
    char socket[128];
    OmnitronPeer *server;
    OmnitronPeer *client;
} RpcPair;

static inline int rpc_pair(RpcPair *pair) {
    memset(pair, 0, sizeof *pair);
    snprintf(pair->dir, sizeof pair->dir, "/tmp/omnitron-test-XXXXXX");
    if (mkdtemp(pair->dir) == NULL) return 0; /* mode 0700: sockets must be private */
    snprintf(pair->socket, sizeof pair->socket, "%s/rpc.sock", pair->dir);
    char address[160];
    snprintf(address, sizeof address, "unix:%s", pair->socket);
    return omnitron_peer_listen(address, "server", "secret", &pair->server) == OMNITRON_STATUS_OK &&
           omnitron_peer_connect(address, "client", "secret", &pair->client) == OMNITRON_STATUS_OK;
}

static inline void rpc_pair_free(RpcPair *pair) {
    omnitron_peer_free(pair->client);
    omnitron_peer_free(pair->server);
    unlink(pair->socket);
    rmdir(pair->dir);
}
