/*
 * {{name}}'s program. Started by `omnitron dev` / `omnitron start` (omnitron.yaml), a pool or a
 * supervisor, it connects back to its parent and serves greeter@1.0.0 until SIGTERM. Run on its own
 * (`build/{{kebab}} Ada`), it greets once.
 */
#include <stdio.h>
#include <stdlib.h>

#include "greeter.h"

static int fail(const char *what) {
    fprintf(stderr, "{{kebab}}: %s: %s\n", what, omnitron_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    /* Dependency injection: the greeter, built by its module's factories. */
    const char *greeting = getenv("GREETING");
    OmnitronToken *greeter_token = NULL;
    OmnitronModule *module = NULL;
    OmnitronContainer *container = NULL;
    void *instance = NULL;
    if (omnitron_token_new("Greeter", &greeter_token) != OMNITRON_STATUS_OK ||
        greeter_module_new(greeting ? greeting : "Hello", greeter_token, &module) != OMNITRON_STATUS_OK ||
        omnitron_container_new_from_module(module, &container) != OMNITRON_STATUS_OK ||
        omnitron_container_resolve(container, greeter_token, &instance) != OMNITRON_STATUS_OK)
        return fail("cannot build the greeter");
    omnitron_module_free(module);
    const Greeter *greeter = instance;

    OmnitronPeer *peer = NULL;
    OmnitronStatus s = omnitron_worker_connect(&peer);
    if (s == OMNITRON_STATUS_NO_PARENT) {
        /* Not started by omnitron: greet once. */
        char line[128];
        greeter_greet(greeter, argc > 1 ? argv[1] : "world", line, sizeof line);
        printf("%s\n", line);
        fprintf(stderr, "(run it as a service with `omnitron dev`: see omnitron.yaml)\n");
    } else if (s == OMNITRON_STATUS_OK) {
        /* A worker: host every service (add yours here), report ready, serve until SIGTERM. */
        OmnitronService *service = NULL;
        if (greeter_service_new(greeter, &service) != OMNITRON_STATUS_OK ||
            omnitron_peer_expose_service(peer, service) != OMNITRON_STATUS_OK)
            return fail("cannot expose greeter@1.0.0");
        omnitron_service_free(service);
        s = omnitron_worker_run(peer);
        omnitron_peer_free(peer);
    } else {
        return fail("cannot connect to the parent");
    }
    omnitron_container_free(container);
    omnitron_token_free(greeter_token);
    return s == OMNITRON_STATUS_OK || s == OMNITRON_STATUS_NO_PARENT ? 0 : 1;
}
