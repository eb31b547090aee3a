/*
 * HTTP through the C ABI: an app of routes declared with JSON, answered by C callbacks, served on
 * a real socket (the small blocking HTTP/1.1 client of http_client.h) and answered in-process with
 * inject: params, query, headers, bodies, statuses, a failing callback (500, then the next request
 * is served), concurrent requests, a graceful close that lets a request in flight finish, and bad
 * input (NULL arguments, freed handles, pointers kept past their callback). Built with -Wall
 * -Wextra -Werror and run under valgrind by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "http_client.h"

/* ---- the client (http_client.h), as these tests call it ----------------------------------------- */

/* Sends `method path` with `body` (NULL: none) as JSON, with an X-Agent header. Returns 0 on
 * success. */
static int http(uint16_t port, const char *method, const char *path, const char *body, Reply *out) {
    return http_send(port, method, path, "X-Agent: c-test\r\n", "application/json", body, body ? strlen(body) : 0,
                     out);
}

/* ---- the routes' callbacks ----------------------------------------------------------------------- */

static int started_slow = 0;
static int calls = 0;
static const OmnitronHttpRequest *kept_request = NULL;
static OmnitronHttpResponse *kept_response = NULL;

static uint32_t get_user(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    __atomic_add_fetch((int *)ud, 1, __ATOMIC_SEQ_CST);
    const char *id = omnitron_http_request_param(req, "id");
    const char *verbose = omnitron_http_request_query(req, "verbose");
    const char *agent = omnitron_http_request_header(req, "x-agent");
    char out[512];
    snprintf(out, sizeof out, "{\"id\":\"%s\",\"verbose\":%s,\"agent\":\"%s\",\"method\":\"%s\",\"path\":\"%s\"}",
             id ? id : "?", verbose ? "true" : "false", agent ? agent : "", omnitron_http_request_method(req),
             omnitron_http_request_path(req));
    return omnitron_http_response_json(res, out);
}

static uint32_t create_user(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)ud;
    const uint8_t *data = NULL;
    size_t len = 0;
    uint32_t s = omnitron_http_request_body(req, &data, &len);
    if (s != OMNITRON_STATUS_OK) return s;
    /* The envelope carries the parsed body too. */
    const char *env = omnitron_http_request_json(req);
    if (env == NULL || strstr(env, "\"body\":{\"name\":\"ada\"}") == NULL) {
        omnitron_callback_error("the envelope does not carry the body");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    s = omnitron_http_response_header(res, "Location", "/users/1");
    if (s != OMNITRON_STATUS_OK) return s;
    return omnitron_http_response_body(res, data, len, "application/json");
}

static uint32_t delete_user(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)req, (void)res, (void)ud;
    return OMNITRON_STATUS_OK; /* no body: 204 */
}

static uint32_t teapot(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)req, (void)ud;
    uint32_t s = omnitron_http_response_status(res, 418);
    if (s == OMNITRON_STATUS_OK) s = omnitron_http_response_header(res, "X-Brew", "earl grey");
    if (s == OMNITRON_STATUS_OK) s = omnitron_http_response_body(res, (const uint8_t *)"short and stout", 15, "text/plain");
    return s;
}

static uint32_t fails(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)req, (void)ud;
    omnitron_http_response_json(res, "{\"never\":\"sent\"}");
    omnitron_callback_error("database down");
    return OMNITRON_STATUS_CALLBACK_FAILED;
}

static uint32_t slow(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)req, (void)ud;
    __atomic_store_n(&started_slow, 1, __ATOMIC_SEQ_CST);
    sleep_ms(300);
    return omnitron_http_response_json(res, "\"done\"");
}

/* Misuse from inside a callback: every bad argument is a status (or NULL), never a crash. Answers
 * "ok", or the first check that failed. */
static uint32_t misuse(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)ud;
    const char *bad = NULL;
    const uint8_t *data = (const uint8_t *)"x";
    size_t len = 7;
    if (omnitron_http_request_param(NULL, "id") != NULL) bad = "param(NULL)";
    else if (omnitron_last_error_status() != OMNITRON_STATUS_INVALID_HANDLE) bad = "param(NULL) status";
    else if (omnitron_http_request_param(req, NULL) != NULL) bad = "param(req, NULL)";
    else if (omnitron_http_request_query(req, "absent") != NULL) bad = "absent query";
    else if (omnitron_http_request_header(req, "x-absent") != NULL) bad = "absent header";
    else if (omnitron_http_request_body(req, NULL, &len) != OMNITRON_STATUS_INVALID_ARGUMENT) bad = "body(NULL)";
    else if (omnitron_http_request_body((const OmnitronHttpRequest *)res, &data, &len) != OMNITRON_STATUS_INVALID_HANDLE)
        bad = "body(response as request)";
    else if (data != NULL || len != 0) bad = "outputs not cleared";
    else if (omnitron_http_response_status(res, 99) != OMNITRON_STATUS_INVALID_ARGUMENT) bad = "status 99";
    else if (omnitron_http_response_status(NULL, 200) != OMNITRON_STATUS_INVALID_HANDLE) bad = "status(NULL)";
    else if (omnitron_http_response_header(res, "bad name", "v") != OMNITRON_STATUS_INVALID_ARGUMENT) bad = "header name";
    else if (omnitron_http_response_header(res, "x-ok", NULL) != OMNITRON_STATUS_INVALID_ARGUMENT) bad = "header NULL";
    else if (omnitron_http_response_json(res, "{oops") != OMNITRON_STATUS_INVALID_ARGUMENT) bad = "json";
    else if (omnitron_http_response_body(res, NULL, 3, NULL) != OMNITRON_STATUS_INVALID_ARGUMENT) bad = "body NULL";
    kept_request = req;
    kept_response = res;
    if (bad != NULL) {
        omnitron_http_response_status(res, 500);
        return omnitron_http_response_body(res, (const uint8_t *)bad, strlen(bad), "text/plain");
    }
    return omnitron_http_response_body(res, (const uint8_t *)"ok", 2, "text/plain");
}

static int freed_user_data = 0;
static void free_counter(void *p) {
    (void)p;
    __atomic_add_fetch(&freed_user_data, 1, __ATOMIC_SEQ_CST);
}

static uint32_t healthy(void *ud) {
    (void)ud;
    return OMNITRON_STATUS_OK;
}

static OmnitronHttpApp *make_app(void) {
    OmnitronHttpApp *app = NULL;
    OK(omnitron_http_app_new("{\"shutdown_timeout_ms\": 10000, \"body_limit\": 65536}", &app));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/users/:id\", \"summary\": \"a user\"}",
                               get_user, &calls, free_counter));
    OK(omnitron_http_app_route(app,
                               "{\"method\": \"POST\", \"path\": \"/users\", "
                               "\"body\": {\"type\": \"object\", \"required\": [\"name\"]}}",
                               create_user, NULL, NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"DELETE\", \"path\": \"/users/{id}\"}", delete_user, NULL, NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/teapot\"}", teapot, NULL, NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/fail\"}", fails, NULL, NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/slow\"}", slow, NULL, NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/misuse\"}", misuse, NULL, NULL));
    OK(omnitron_http_app_health_check(app, "database", healthy, NULL, free_counter));
    return app;
}

/* ---- over a socket ------------------------------------------------------------------------------- */

typedef struct {
    uint16_t port;
    int ok;
} Worker;

static void *hammer(void *p) {
    Worker *w = p;
    for (int i = 0; i < 5; i++) {
        Reply r;
        char path[64];
        snprintf(path, sizeof path, "/users/%d", i);
        if (http(w->port, "GET", path, NULL, &r) == 0 && r.status == 200) w->ok++;
    }
    return NULL;
}

static void *get_slow(void *p) {
    Worker *w = p;
    Reply r;
    if (http(w->port, "GET", "/slow", NULL, &r) == 0 && r.status == 200 && contains(r.body, "done")) w->ok = 1;
    return NULL;
}

static void over_a_socket(void) {
    OmnitronHttpApp *app = make_app();
    uint16_t port = 0;
    OK(omnitron_http_app_listen(app, "127.0.0.1:0", &port));
    CHECK(port != 0);
    FAILS_WITH(omnitron_http_app_listen(app, "127.0.0.1:0", NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/late\"}", teapot, NULL, NULL),
               OMNITRON_STATUS_INVALID_ARGUMENT);

    Reply r;
    CHECK(http(port, "GET", "/users/7?verbose=1", NULL, &r) == 0);
    CHECK(r.status == 200);
    CHECK(contains(r.body, "\"id\":\"7\""));
    CHECK(contains(r.body, "\"verbose\":true"));
    CHECK(contains(r.body, "\"agent\":\"c-test\""));
    CHECK(contains(r.body, "\"method\":\"GET\",\"path\":\"/users/7\""));
    CHECK(contains(r.head, "content-type: application/json"));
    CHECK(contains(r.head, "x-request-id: "));

    CHECK(http(port, "POST", "/users", "{\"name\":\"ada\"}", &r) == 0);
    CHECK(r.status == 201);
    CHECK(strcmp(r.body, "{\"name\":\"ada\"}") == 0);
    CHECK(contains(r.head, "location: /users/1"));

    CHECK(http(port, "POST", "/users", "{\"name\":", &r) == 0);
    CHECK(r.status == 400);
    CHECK(contains(r.body, "\"code\":\"H001\""));

    CHECK(http(port, "DELETE", "/users/3", NULL, &r) == 0);
    CHECK(r.status == 204);
    CHECK(r.body[0] == 0);

    CHECK(http(port, "GET", "/teapot", NULL, &r) == 0);
    CHECK(r.status == 418);
    CHECK(contains(r.head, "x-brew: earl grey"));
    CHECK(contains(r.head, "content-type: text/plain"));
    CHECK(strcmp(r.body, "short and stout") == 0);

    /* A failing callback: a 500 problem with its message; the next request is served. */
    CHECK(http(port, "GET", "/fail", NULL, &r) == 0);
    CHECK(r.status == 500);
    CHECK(contains(r.head, "content-type: application/problem+json"));
    CHECK(contains(r.body, "\"code\":\"H005\""));
    CHECK(contains(r.body, "database down"));
    CHECK(!contains(r.body, "never"));
    CHECK(http(port, "GET", "/users/8", NULL, &r) == 0);
    CHECK(r.status == 200);

    CHECK(http(port, "GET", "/nope", NULL, &r) == 0);
    CHECK(r.status == 404);
    CHECK(http(port, "PUT", "/teapot", NULL, &r) == 0);
    CHECK(r.status == 405);
    CHECK(contains(r.head, "allow: GET"));

    /* Misuse inside a callback is a status; pointers kept past their callback are refused. */
    CHECK(http(port, "GET", "/misuse", NULL, &r) == 0);
    CHECK(r.status == 200);
    CHECK(strcmp(r.body, "ok") == 0);
    if (r.status != 200) fprintf(stderr, "     misuse: %s\n", r.body);
    CHECK(kept_request != NULL);
    CHECK(omnitron_http_request_method(kept_request) == NULL);
    CHECK(omnitron_last_error_status() == OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(contains(omnitron_last_error_message(), "valid only during"));
    FAILS_WITH(omnitron_http_response_status(kept_response, 200), OMNITRON_STATUS_INVALID_HANDLE);

    /* Callbacks run on several threads at once. */
    int before = __atomic_load_n(&calls, __ATOMIC_SEQ_CST);
    pthread_t t[4];
    Worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (Worker){port, 0};
        pthread_create(&t[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].ok == 5);
    }
    CHECK(__atomic_load_n(&calls, __ATOMIC_SEQ_CST) == before + 20);

    /* A graceful close: the request in flight finishes, then nothing is accepted. */
    Worker sw = {port, 0};
    pthread_t st;
    pthread_create(&st, NULL, get_slow, &sw);
    while (!__atomic_load_n(&started_slow, __ATOMIC_SEQ_CST)) sleep_ms(5);
    OK(omnitron_http_app_close(app));
    pthread_join(st, NULL);
    CHECK(sw.ok == 1);
    CHECK(http(port, "GET", "/users/1", NULL, &r) != 0);

    /* It can listen again. */
    uint16_t again = 0;
    OK(omnitron_http_app_listen(app, "127.0.0.1:0", &again));
    CHECK(http(again, "GET", "/users/2", NULL, &r) == 0 && r.status == 200);

    int freed_before = __atomic_load_n(&freed_user_data, __ATOMIC_SEQ_CST);
    omnitron_http_app_free(app);
    /* The route's and the check's user_data, freed once the app is. */
    CHECK(__atomic_load_n(&freed_user_data, __ATOMIC_SEQ_CST) == freed_before + 2);
    omnitron_http_app_free(app); /* freed twice: ignored */
    CHECK(http(again, "GET", "/users/1", NULL, &r) != 0);
}

/* ---- in-process ---------------------------------------------------------------------------------- */

static void in_process(void) {
    OmnitronHttpApp *app = make_app();
    OmnitronHttpAnswer *a = NULL;
    OK(omnitron_http_app_inject(app, "GET", "/users/42?verbose=1", "{\"x-agent\": \"inject\"}", NULL, 0, &a));
    CHECK(omnitron_http_answer_status(a) == 200);
    const uint8_t *data = NULL;
    size_t len = 0;
    OK(omnitron_http_answer_body(a, &data, &len));
    CHECK(len > 0 && contains((const char *)data, "\"id\":\"42\"") && contains((const char *)data, "\"agent\":\"inject\""));
    CHECK(strcmp(omnitron_http_answer_header(a, "Content-Type"), "application/json") == 0);
    CHECK(omnitron_http_answer_header(a, "x-absent") == NULL);
    omnitron_http_answer_free(a);
    CHECK(omnitron_http_answer_status(a) == 0);
    CHECK(omnitron_last_error_status() == OMNITRON_STATUS_INVALID_HANDLE);
    omnitron_http_answer_free(a);

    const char *body = "{\"name\":\"ada\"}";
    OK(omnitron_http_app_inject(app, "post", "/users", "{\"content-type\": \"application/json\"}",
                                (const uint8_t *)body, strlen(body), &a));
    CHECK(omnitron_http_answer_status(a) == 201);
    OK(omnitron_http_answer_body(a, &data, &len));
    CHECK(len == strlen(body) && memcmp(data, body, len) == 0);
    omnitron_http_answer_free(a);

    OK(omnitron_http_app_inject(app, "GET", "/fail", NULL, NULL, 0, &a));
    CHECK(omnitron_http_answer_status(a) == 500);
    OK(omnitron_http_answer_body(a, &data, &len));
    CHECK(contains((const char *)data, "database down"));
    omnitron_http_answer_free(a);

    OK(omnitron_http_app_inject(app, "DELETE", "/users/1", NULL, NULL, 0, &a));
    CHECK(omnitron_http_answer_status(a) == 204);
    omnitron_http_answer_free(a);

    /* The app's pipeline runs before the callback: a route requiring auth answers 401 without a token. */
    OmnitronHttpApp *secured = NULL;
    OK(omnitron_http_app_new("{\"jwt\": {\"secret\": \"s3cret\"}}", &secured));
    OK(omnitron_http_app_route(secured, "{\"method\": \"GET\", \"path\": \"/me\", \"auth\": true}", teapot, NULL, NULL));
    OK(omnitron_http_app_inject(secured, "GET", "/me", NULL, NULL, 0, &a));
    CHECK(omnitron_http_answer_status(a) == 401);
    omnitron_http_answer_free(a);
    omnitron_http_app_free(secured);

    /* Bad input to inject. */
    FAILS_WITH(omnitron_http_app_inject(app, "GET", "/users/1", NULL, NULL, 0, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    a = (OmnitronHttpAnswer *)&len;
    FAILS_WITH(omnitron_http_app_inject(app, NULL, "/", NULL, NULL, 0, &a), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(a == NULL);
    FAILS_WITH(omnitron_http_app_inject(app, "GET", "users", NULL, NULL, 0, &a), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_inject(app, "GET", "/", "[1]", NULL, 0, &a), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_inject(app, "GET", "/", "{\"a\": 1}", NULL, 0, &a), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_inject(app, "GET", "/", NULL, NULL, 5, &a), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_answer_body(NULL, &data, &len), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(data == NULL && len == 0);
    omnitron_http_app_free(app);
    FAILS_WITH(omnitron_http_app_inject(app, "GET", "/", NULL, NULL, 0, &a), OMNITRON_STATUS_INVALID_HANDLE);
}

/* ---- bad input ----------------------------------------------------------------------------------- */

static void bad_input(void) {
    OmnitronHttpApp *app = NULL;
    FAILS_WITH(omnitron_http_app_new(NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_new("{oops", &app), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(app == NULL);
    FAILS_WITH(omnitron_http_app_new("{\"body_limt\": 5}", &app), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "body_limit"));
    FAILS_WITH(omnitron_http_app_new("{\"shutdown_timeout_ms\": -1}", &app), OMNITRON_STATUS_INVALID_ARGUMENT);

    int freed_before = __atomic_load_n(&freed_user_data, __ATOMIC_SEQ_CST);
    FAILS_WITH(omnitron_http_app_route(NULL, "{\"method\":\"GET\",\"path\":\"/\"}", teapot, NULL, free_counter),
               OMNITRON_STATUS_INVALID_HANDLE);
    /* freed when the call fails */
    CHECK(__atomic_load_n(&freed_user_data, __ATOMIC_SEQ_CST) == freed_before + 1);
    FAILS_WITH(omnitron_http_app_listen(NULL, "127.0.0.1:0", NULL), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_http_app_close(NULL), OMNITRON_STATUS_INVALID_HANDLE);
    omnitron_http_app_free(NULL);
    CHECK(omnitron_http_answer_status(NULL) == 0);
    omnitron_http_answer_free(NULL);

    OK(omnitron_http_app_new(NULL, &app));
    FAILS_WITH(omnitron_http_app_route(app, NULL, teapot, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_route(app, "{\"method\":\"GET\",\"path\":\"/\"}", NULL, NULL, NULL),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_route(app, "[]", teapot, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_route(app, "{\"path\":\"/\"}", teapot, NULL, NULL), OMNITRON_STATUS_INVALID_ROUTE);
    FAILS_WITH(omnitron_http_app_route(app, "{\"method\":\"GET\",\"path\":\"/\",\"cache_tll\":5}", teapot, NULL, NULL),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "cache_ttl"));
    FAILS_WITH(omnitron_http_app_route(app, "{\"method\":\"GET\",\"path\":\"/\",\"body\":\"{no\"}", teapot, NULL, NULL),
               OMNITRON_STATUS_INVALID_ROUTE);
    FAILS_WITH(omnitron_http_app_health_check(app, NULL, healthy, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_health_check(app, "x", NULL, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    /* Two routes that clash are refused when the app is built. */
    OK(omnitron_http_app_route(app, "{\"method\":\"GET\",\"path\":\"/a/:id\"}", teapot, NULL, NULL));
    OK(omnitron_http_app_route(app, "{\"method\":\"GET\",\"path\":\"/a/:name\"}", teapot, NULL, NULL));
    uint16_t port = 7;
    FAILS_WITH(omnitron_http_app_listen(app, "127.0.0.1:0", &port), OMNITRON_STATUS_INVALID_ROUTE);
    CHECK(port == 0);
    OmnitronHttpAnswer *a = NULL;
    FAILS_WITH(omnitron_http_app_inject(app, "GET", "/a/1", NULL, NULL, 0, &a), OMNITRON_STATUS_INVALID_ROUTE);
    CHECK(contains(omnitron_last_error_message(), "/a/:name"));
    omnitron_http_app_free(app);

    OK(omnitron_http_app_new(NULL, &app));
    FAILS_WITH(omnitron_http_app_listen(app, NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_http_app_listen(app, "not an address", NULL), OMNITRON_STATUS_HTTP_SERVER_FAILED);
    OK(omnitron_http_app_close(app)); /* not listening: nothing to do */
    omnitron_http_app_free(app);
}

int main(void) {
    bad_input();
    in_process();
    over_a_socket();
    printf("test_http: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
