/*
 * /{{kebab}}: an HTTP controller. {{pascal}}Controller holds its state; {{snake}}_controller_routes
 * adds its routes to an app (omnitron_http_app_new), served with omnitron_http_app_listen:
 *   GET  /{{kebab}}/:id   -> 200 {"id": <id>, "verbose": <?verbose given>}
 *   POST /{{kebab}}       -> 201 {"id": <new id>, "item": <the JSON body>}  (the body must be a JSON object)
 */
#pragma once

#include "omnitron.h"

/* The controller's state: how many items were created. Start it zeroed ({{pascal}}Controller c = {0};). */
typedef struct {{pascal}}Controller {
    _Atomic long created;
} {{pascal}}Controller;

/* Adds the routes to `app` over `ctl` (which must outlive the app). Callbacks run on engine threads,
 * several at once: the state is atomic. */
OmnitronStatus {{snake}}_controller_routes(OmnitronHttpApp *app, {{pascal}}Controller *ctl);
