/* /{{kebab}}: its routes answered in-process (omnitron_http_app_inject: the app's whole pipeline, no
 * port); omnitron_http_app_listen serves the same on a socket. */
#include "check.h" /* first: it sets the POSIX feature macro */

#include "{{snake}}_controller.h"

/* The answer's status, and its body in `body` (NUL-terminated, cut to `size`). */
static int request(OmnitronHttpApp *app, const char *method, const char *uri, const char *json, char *body, size_t size) {
    OmnitronHttpAnswer *a = NULL;
    size_t len = json ? strlen(json) : 0;
    if (omnitron_http_app_inject(app, method, uri, "{\"content-type\": \"application/json\"}", (const uint8_t *)json,
                                 len, &a) != OMNITRON_STATUS_OK)
        return 0;
    const uint8_t *data = NULL;
    size_t n = 0;
    omnitron_http_answer_body(a, &data, &n);
    snprintf(body, size, "%.*s", (int)n, (const char *)data);
    int status = omnitron_http_answer_status(a);
    omnitron_http_answer_free(a);
    return status;
}

int main(void) {
    {{pascal}}Controller ctl = {0};
    OmnitronHttpApp *app = NULL;
    OK(omnitron_http_app_new(NULL, &app));
    OK({{snake}}_controller_routes(app, &ctl));

    char body[512];
    CHECK(request(app, "GET", "/{{kebab}}/7?verbose=1", NULL, body, sizeof body) == 200);
    CHECK(contains(body, "\"id\":7") && contains(body, "\"verbose\":true"));
    CHECK(request(app, "GET", "/{{kebab}}/abc", NULL, body, sizeof body) == 400);
    CHECK(request(app, "POST", "/{{kebab}}", "{\"name\":\"first\"}", body, sizeof body) == 201);
    CHECK(contains(body, "\"id\":1") && contains(body, "\"item\":{\"name\":\"first\"}"));
    CHECK(request(app, "POST", "/{{kebab}}", "{oops", body, sizeof body) == 400);
    CHECK(contains(body, "H001")); /* a problem document: the body is not JSON */
    CHECK(request(app, "GET", "/nowhere", NULL, body, sizeof body) == 404);

    omnitron_http_app_free(app);
    return check_done("test_{{snake}}_controller");
}
