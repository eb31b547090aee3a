#include "{{snake}}_controller.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GET /{{kebab}}/:id. The id must be a number: anything else is a 400 set here. */
static OmnitronStatus get_one(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)ud;
    const char *id = omnitron_http_request_param(req, "id");
    char *end = NULL;
    long n = id ? strtol(id, &end, 10) : 0;
    if (id == NULL || *id == '\0' || *end != '\0') {
        omnitron_http_response_status(res, 400);
        return omnitron_http_response_json(res, "{\"error\":\"id must be a number\"}");
    }
    char out[96];
    snprintf(out, sizeof out, "{\"id\":%ld,\"verbose\":%s}", n,
             omnitron_http_request_query(req, "verbose") ? "true" : "false");
    return omnitron_http_response_json(res, out);
}

/* POST /{{kebab}}: the body (checked against the route's schema before this runs) with a new id. */
static OmnitronStatus create(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    {{pascal}}Controller *ctl = ud;
    const uint8_t *body = NULL;
    size_t len = 0;
    OmnitronStatus s = omnitron_http_request_body(req, &body, &len);
    if (s != OMNITRON_STATUS_OK) return s;
    if (len == 0 || body[0] != '{') {
        omnitron_http_response_status(res, 400);
        return omnitron_http_response_json(res, "{\"error\":\"the body must be a JSON object\"}");
    }
    long id = atomic_fetch_add(&ctl->created, 1) + 1;
    size_t size = len + 64;
    char *out = malloc(size);
    if (out == NULL) {
        /* Any status but OK answers a 500 problem document with this message. */
        omnitron_callback_error("out of memory");
        return OMNITRON_STATUS_INTERNAL;
    }
    snprintf(out, size, "{\"id\":%ld,\"item\":%.*s}", id, (int)len, (const char *)body);
    s = omnitron_http_response_json(res, out); /* copied: free ours */
    free(out);
    return s; /* 201: the route is a POST */
}

OmnitronStatus {{snake}}_controller_routes(OmnitronHttpApp *app, {{pascal}}Controller *ctl) {
    OmnitronStatus s = omnitron_http_app_route(
        app, "{\"method\": \"GET\", \"path\": \"/{{kebab}}/:id\", \"summary\": \"one {{kebab}}\"}", get_one, ctl, NULL);
    if (s == OMNITRON_STATUS_OK)
        s = omnitron_http_app_route(app,
                                    "{\"method\": \"POST\", \"path\": \"/{{kebab}}\", \"summary\": \"create a {{kebab}}\","
                                    " \"body\": {\"type\": \"object\"}}",
                                    create, ctl, NULL);
    return s;
}
