/*
 * The greeter: a DI module that builds it from its greeting, and the RPC service greeter@1.0.0
 * that lets other processes (in any language) call it.
 */
#pragma once

#include <stddef.h>

#include "omnitron.h"

typedef struct Greeter {
    char greeting[64];
} Greeter;

/* Writes "<greeting>, <name>!" to `out` (`cap` bytes, NUL-terminated); returns the length it needs,
 * like snprintf. */
int greeter_greet(const Greeter *greeter, const char *name, char *out, size_t cap);

/* The GreeterModule: its configuration (the greeting, copied) and a singleton Greeter built from
 * it, provided under `greeter_token` (yours: make it with omnitron_token_new and resolve with it).
 * Only the greeter is exported. The container frees what it built at dispose; free the module with
 * omnitron_module_free once a container is made from it. */
OmnitronStatus greeter_module_new(const char *greeting, const OmnitronToken *greeter_token,
                                  OmnitronModule **out);

/* greeter@1.0.0, with one JSON method: greet(name) -> "<greeting>, <name>!". `greeter` must outlive
 * the peer the service is exposed on. Expose it with omnitron_peer_expose_service, then free it
 * with omnitron_service_free. */
OmnitronStatus greeter_service_new(const Greeter *greeter, OmnitronService **out);
