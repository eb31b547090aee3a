/*
 * shipping@1.0.0, a C service: create(key, order_id, address) books a shipment. A worker of the
 * omnitron supervisor: it connects back to its parent by itself (omnitron_worker_connect).
 */
#include "omnitron.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static OmnitronStatus create(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)method;
    (void)len;
    (void)ud;
    /* args: ["<key>", "<order id>", <address>] as JSON; the shipment id is derived from the key, so a
       retried call books the same shipment. */
    char key[256] = {0};
    if (sscanf((const char *)args, "[\"%255[^\"]\"", key) != 1) {
        omnitron_callback_error("create takes (key, order_id, address)");
        return OMNITRON_STATUS_INVALID_ARGUMENT;
    }
    char out[512];
    int n = snprintf(out, sizeof out, "{\"shipment\":\"ship-%s\",\"by\":\"c:%ld\"}", key, (long)getpid());
    return omnitron_reply_set(reply, (const uint8_t *)out, (size_t)n);
}

int main(void) {
    OmnitronPeer *peer = NULL;
    OmnitronService *svc = NULL;
    if (omnitron_worker_connect(&peer) != OMNITRON_STATUS_OK || omnitron_service_new("shipping", "1.0.0", &svc) != OMNITRON_STATUS_OK ||
        omnitron_service_add_method(svc, "create", OMNITRON_FORMAT_JSON, create, NULL, NULL) != OMNITRON_STATUS_OK ||
        omnitron_peer_expose_service(peer, svc) != OMNITRON_STATUS_OK) {
        fprintf(stderr, "shipping: %s\n", omnitron_last_error_message());
        return 2;
    }
    omnitron_service_free(svc);
    uint32_t s = omnitron_worker_run(peer);
    omnitron_peer_free(peer);
    return s == OMNITRON_STATUS_OK ? 0 : 3;
}
