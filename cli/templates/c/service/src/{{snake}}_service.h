/*
 * {{kebab}}@1.0.0: an RPC service. {{pascal}}Service holds its state; {{snake}}_service_new exposes
 * it to other processes, in any language:
 *   omnitron_peer_call_json(peer, "{{kebab}}", "record", "[250]", 0, &out)   -> 250
 */
#pragma once

#include "omnitron.h"

/* The service's state: a running total. Start it zeroed ({{pascal}}Service s = {0};). */
typedef struct {{pascal}}Service {
    _Atomic long total;
} {{pascal}}Service;

/* Adds `amount` (positive) to the total; returns the new total, or -1 (and the total unchanged)
 * for an amount that is not positive. */
long {{snake}}_service_record({{pascal}}Service *svc, long amount);

/* {{kebab}}@1.0.0 with JSON methods record(amount) -> total and total() -> total, over `svc`
 * (which must outlive the peer the service is exposed on). Expose it with
 * omnitron_peer_expose_service (in src/main.c, next to the greeter), then free it with
 * omnitron_service_free. */
OmnitronStatus {{snake}}_service_new({{pascal}}Service *svc, OmnitronService **out);
