/*
 * Core's pipeline as a C app meets it, over a real socket (the client of http_client.h): JWT auth
 * (401, and 403 for a valid token without the route's role or permission) with the claims read in
 * the callback; 413 for a body over the app's limit and for an upload's file over its max_size,
 * while an upload route takes a body over the app's limit when its file fits; 415 for a JSON route
 * sent text/plain and for an upload of a media type the route does not take; 429 with Retry-After
 * from a route's and from the app's rate limit; 304 for a cached GET asked again with
 * If-None-Match; pages and uploaded files as a callback reads them (omnitron_http_request_page,
 * _file_count, _file, _field, _claim). Every refused request is answered before its callback runs
 * (each route counts its calls). Built with -Wall -Wextra -Werror and run under valgrind by
 * `make c-test`.
 *
 * The bearer tokens are fixed HS256 JWTs expiring on 2100-01-01 (exp 4102444800), made with
 * Python's standard library:
 *
 *   def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
 *   head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
 *   body = b64(json.dumps(claims, separators=(",", ":")).encode())
 *   sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
 *   token = f"{head}.{body}.{b64(sig)}"
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http_client.h"

#define SECRET "c-door-pipeline-test-secret-0123"
/* {"sub":"ada","roles":["user"],"permissions":["things:read"],"exp":4102444800}, signed with SECRET. */
#define USER_TOKEN                                                                                          \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZGEiLCJyb2xlcyI6WyJ1c2VyIl0sInBlcm1pc3Npb25zIjpbInRo" \
    "aW5nczpyZWFkIl0sImV4cCI6NDEwMjQ0NDgwMH0.NjeDchwgjpwK7ppnlb-b-Duy12H8pGIHoZdLBJJTdbI"
/* {"sub":"root","roles":["admin","user"],"permissions":["things:read","things:write"],
 *  "exp":4102444800}, signed with SECRET. */
#define ADMIN_TOKEN                                                                                         \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJyb290Iiwicm9sZXMiOlsiYWRtaW4iLCJ1c2VyIl0sInBlcm1pc3Np" \
    "b25zIjpbInRoaW5nczpyZWFkIiwidGhpbmdzOndyaXRlIl0sImV4cCI6NDEwMjQ0NDgwMH0.jFbaV6hIak4qx25etAeDQEur79mmgV" \
    "23-sRNM-42oQE"
/* USER_TOKEN's claims signed with another secret ("another-secret-of-thirty-two-b!!"). */
#define FORGED_TOKEN                                                                                        \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhZGEiLCJyb2xlcyI6WyJ1c2VyIl0sInBlcm1pc3Npb25zIjpbInRo" \
    "aW5nczpyZWFkIl0sImV4cCI6NDEwMjQ0NDgwMH0.8mKs6UcV1359aRdmLru4SPiR77OiVSiddpfAHvQ76ic"

#define BEARER(token) "Authorization: Bearer " token "\r\n"
#define BOUNDARY "c-test-boundary-7f3a"
#define MULTIPART "multipart/form-data; boundary=" BOUNDARY

/* ---- the routes' callbacks ----------------------------------------------------------------------- */

/* How many times each route's callback ran (its user_data points to its counter). */
enum { R_ME, R_ADMIN, R_DELETE, R_ECHO, R_AVATAR, R_LIMITED, R_CLOCK, R_ITEMS, R_LIST, R_COUNT };
static int ran[R_COUNT];

static int count(void *ud) {
    return __atomic_add_fetch((int *)ud, 1, __ATOMIC_SEQ_CST);
}

static int runs(int route) {
    return __atomic_load_n(&ran[route], __ATOMIC_SEQ_CST);
}

/* Answers 500 with `what` as text: the check in the callback that failed. */
static uint32_t wrong(OmnitronHttpResponse *res, const char *what) {
    omnitron_http_response_status(res, 500);
    return omnitron_http_response_body(res, (const uint8_t *)what, strlen(what), "text/plain");
}

/* The byte at `i` of the test files: every value, NUL included. */
static uint8_t file_byte(size_t i) {
    return (uint8_t)(i * 31 + 7);
}

static const OmnitronHttpRequest *kept_request = NULL;

/* GET /me (auth): the claims, and the accessors of what this route does not have. */
static uint32_t me(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    count(ud);
    kept_request = req;
    OmnitronHttpPage page = {7, 7, 7};
    OmnitronHttpFile file = {"x", "x", "x", (const uint8_t *)"x", 1};
    if (omnitron_http_request_claim(req, "absent") != NULL) return wrong(res, "an absent claim");
    if (omnitron_http_request_claim(req, NULL) != NULL) return wrong(res, "claim(req, NULL)");
    if (omnitron_last_error_status() != OMNITRON_STATUS_INVALID_ARGUMENT) return wrong(res, "claim(req, NULL)'s status");
    if (omnitron_http_request_claim(NULL, "sub") != NULL) return wrong(res, "claim(NULL)");
    if (omnitron_last_error_status() != OMNITRON_STATUS_INVALID_HANDLE) return wrong(res, "claim(NULL)'s status");
    if (omnitron_http_request_page(req, &page) != OMNITRON_STATUS_INVALID_ARGUMENT) return wrong(res, "page");
    if (page.page != 0 || page.limit != 0 || page.offset != 0) return wrong(res, "page not cleared");
    if (!contains(omnitron_last_error_message(), "not paginated")) return wrong(res, "page's message");
    if (omnitron_http_request_page(req, NULL) != OMNITRON_STATUS_INVALID_ARGUMENT) return wrong(res, "page(NULL)");
    if (omnitron_http_request_file_count(req) != 0) return wrong(res, "files on a route without upload");
    if (omnitron_http_request_file(req, 0, &file) != OMNITRON_STATUS_INVALID_ARGUMENT) return wrong(res, "file 0");
    if (file.field != NULL || file.filename != NULL || file.data != NULL || file.len != 0)
        return wrong(res, "file not cleared");
    if (omnitron_http_request_field(req, "name") != NULL) return wrong(res, "a field without a body");
    const char *sub = omnitron_http_request_claim(req, "sub");
    const char *roles = omnitron_http_request_claim(req, "roles");
    const char *exp = omnitron_http_request_claim(req, "exp");
    char out[256];
    snprintf(out, sizeof out, "{\"sub\":\"%s\",\"roles\":%s,\"exp\":%s}", sub ? sub : "?", roles ? roles : "null",
             exp ? exp : "null");
    return omnitron_http_response_json(res, out);
}

/* GET /admin (roles: admin). */
static uint32_t admin(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    count(ud);
    char out[128];
    const char *sub = omnitron_http_request_claim(req, "sub");
    snprintf(out, sizeof out, "{\"admin\":\"%s\"}", sub ? sub : "?");
    return omnitron_http_response_json(res, out);
}

/* DELETE /things/:id (permissions: things:write): no body, 204. */
static uint32_t delete_thing(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)req, (void)res;
    count(ud);
    return OMNITRON_STATUS_OK;
}

/* POST /echo (a JSON body schema): its members read one by one. */
static uint32_t echo(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    count(ud);
    if (omnitron_http_request_claim(req, "sub") != NULL) return wrong(res, "a claim without auth");
    if (omnitron_http_request_field(req, "absent") != NULL) return wrong(res, "an absent field");
    const char *name = omnitron_http_request_field(req, "name");
    const char *tags = omnitron_http_request_field(req, "tags");
    char out[256];
    snprintf(out, sizeof out, "{\"name\":\"%s\",\"tags\":%s}", name ? name : "?", tags ? tags : "null");
    return omnitron_http_response_json(res, out);
}

/* POST /avatar (upload: any image, at most 2048 bytes, field "avatar"): the file as C reads it. */
static uint32_t avatar(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    count(ud);
    size_t n = omnitron_http_request_file_count(req);
    if (n != 1) return wrong(res, "not one file");
    OmnitronHttpFile f;
    uint32_t s = omnitron_http_request_file(req, 0, &f);
    if (s != OMNITRON_STATUS_OK) return s;
    OmnitronHttpFile again;
    if (omnitron_http_request_file(req, 0, &again) != OMNITRON_STATUS_OK || again.data != f.data)
        return wrong(res, "the file read again is another copy");
    if (omnitron_http_request_file(req, 1, &again) != OMNITRON_STATUS_INVALID_ARGUMENT || again.data != NULL)
        return wrong(res, "file 1 of 1");
    if (!contains(omnitron_last_error_message(), "out of range")) return wrong(res, "file 1's message");
    if (omnitron_http_request_file(req, 0, NULL) != OMNITRON_STATUS_INVALID_ARGUMENT) return wrong(res, "file(NULL)");
    int intact = f.data != NULL && f.data[f.len] == 0;
    for (size_t i = 0; intact && i < f.len; i++) intact = f.data[i] == file_byte(i);
    const char *caption = omnitron_http_request_field(req, "caption");
    char out[512];
    snprintf(out, sizeof out,
             "{\"field\":\"%s\",\"filename\":\"%s\",\"type\":\"%s\",\"size\":%zu,\"intact\":%s,\"caption\":\"%s\"}",
             f.field, f.filename ? f.filename : "(none)", f.content_type, f.len, intact ? "true" : "false",
             caption ? caption : "(none)");
    return omnitron_http_response_json(res, out);
}

/* GET /limited (rate_limit: 2 an hour), and the routes of the app-wide limit. */
static uint32_t limited(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)req;
    count(ud);
    return omnitron_http_response_json(res, "\"ok\"");
}

/* GET /clock (cache_ttl: an hour): how many times it ran. */
static uint32_t clock_route(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    (void)req;
    char out[64];
    snprintf(out, sizeof out, "{\"n\":%d}", count(ud));
    return omnitron_http_response_json(res, out);
}

/* GET /items (paginated: limit 2 by default, 5 at most): items 0 to 6, a page of them. */
static uint32_t items(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    count(ud);
    OmnitronHttpPage p;
    uint32_t s = omnitron_http_request_page(req, &p);
    if (s != OMNITRON_STATUS_OK) return s;
    if (p.offset != (p.page - 1) * p.limit) return wrong(res, "offset");
    char out[256] = "{\"items\":[";
    size_t len = strlen(out);
    for (uint64_t i = p.offset; i < p.offset + p.limit && i < 7; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%llu", i == p.offset ? "" : ",", (unsigned long long)i);
    snprintf(out + len, sizeof out - len, "],\"total\":7}");
    return omnitron_http_response_json(res, out);
}

/* GET /list (paginated: true): the page itself, as an array. */
static uint32_t list(const OmnitronHttpRequest *req, OmnitronHttpResponse *res, void *ud) {
    count(ud);
    OmnitronHttpPage p;
    uint32_t s = omnitron_http_request_page(req, &p);
    if (s != OMNITRON_STATUS_OK) return s;
    char out[128];
    snprintf(out, sizeof out, "[%llu,%llu,%llu]", (unsigned long long)p.page, (unsigned long long)p.limit,
             (unsigned long long)p.offset);
    return omnitron_http_response_json(res, out);
}

static OmnitronHttpApp *make_app(uint16_t *port) {
    OmnitronHttpApp *app = NULL;
    OK(omnitron_http_app_new("{\"body_limit\": 1024, \"jwt\": {\"secret\": \"" SECRET "\"}}", &app));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/me\", \"auth\": true}", me, &ran[R_ME], NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/admin\", \"roles\": [\"admin\"]}", admin,
                               &ran[R_ADMIN], NULL));
    OK(omnitron_http_app_route(app,
                               "{\"method\": \"DELETE\", \"path\": \"/things/:id\", "
                               "\"permissions\": [\"things:write\"]}",
                               delete_thing, &ran[R_DELETE], NULL));
    OK(omnitron_http_app_route(app,
                               "{\"method\": \"POST\", \"path\": \"/echo\", \"body\": {\"type\": \"object\", "
                               "\"required\": [\"name\"], \"properties\": {\"name\": {\"type\": \"string\"}}}}",
                               echo, &ran[R_ECHO], NULL));
    OK(omnitron_http_app_route(app,
                               "{\"method\": \"POST\", \"path\": \"/avatar\", \"upload\": {\"max_size\": 2048, "
                               "\"mime_types\": [\"image/*\"], \"field\": \"avatar\"}}",
                               avatar, &ran[R_AVATAR], NULL));
    OK(omnitron_http_app_route(app,
                               "{\"method\": \"GET\", \"path\": \"/limited\", "
                               "\"rate_limit\": {\"max\": 2, \"window_ms\": 3600000}}",
                               limited, &ran[R_LIMITED], NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/clock\", \"cache_ttl\": 3600}", clock_route,
                               &ran[R_CLOCK], NULL));
    OK(omnitron_http_app_route(app,
                               "{\"method\": \"GET\", \"path\": \"/items\", "
                               "\"paginated\": {\"default_limit\": 2, \"max_limit\": 5}}",
                               items, &ran[R_ITEMS], NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/list\", \"paginated\": true}", list,
                               &ran[R_LIST], NULL));
    OK(omnitron_http_app_listen(app, "127.0.0.1:0", port));
    return app;
}

/* ---- checks on the answers ----------------------------------------------------------------------- */

/* The answer is a problem document with `status` and `code`. */
static void check_problem(const Reply *r, int status, const char *code) {
    char want[32], type[128];
    snprintf(want, sizeof want, "\"code\":\"%s\"", code);
    CHECK(r->status == status);
    CHECK(contains(r->body, want));
    CHECK(reply_header(r, "content-type", type, sizeof type) && strcmp(type, "application/problem+json") == 0);
    if (r->status != status || !contains(r->body, want)) fprintf(stderr, "     got %d: %s\n", r->status, r->body);
}

/* The answer is `status` with exactly `body` (a callback's failed check is its body: shown). */
static void check_answer(const Reply *r, int status, const char *body) {
    CHECK(r->status == status);
    CHECK(strcmp(r->body, body) == 0);
    if (r->status != status || strcmp(r->body, body) != 0) fprintf(stderr, "     got %d: %s\n", r->status, r->body);
}

/* ---- 401 and 403 ------------------------------------------------------------------------------- */

static void auth(uint16_t port) {
    Reply r;
    char h[256];
    CHECK(http_send(port, "GET", "/me", NULL, NULL, NULL, 0, &r) == 0);
    check_problem(&r, 401, "H010");
    CHECK(reply_header(&r, "www-authenticate", h, sizeof h) && strcmp(h, "Bearer") == 0);
    CHECK(http_send(port, "GET", "/me", BEARER(FORGED_TOKEN), NULL, NULL, 0, &r) == 0);
    check_problem(&r, 401, "H010");
    CHECK(reply_header(&r, "www-authenticate", h, sizeof h) && contains(h, "error=\"invalid_token\""));
    CHECK(runs(R_ME) == 0);

    CHECK(http_send(port, "GET", "/me", BEARER(USER_TOKEN), NULL, NULL, 0, &r) == 0);
    check_answer(&r, 200, "{\"sub\":\"ada\",\"roles\":[\"user\"],\"exp\":4102444800}");
    /* The request is refused once its callback has returned. */
    CHECK(kept_request != NULL);
    CHECK(omnitron_http_request_file_count(kept_request) == 0);
    CHECK(omnitron_last_error_status() == OMNITRON_STATUS_INVALID_HANDLE);
    OmnitronHttpPage page;
    FAILS_WITH(omnitron_http_request_page(kept_request, &page), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(omnitron_http_request_claim(kept_request, "sub") == NULL);
    CHECK(omnitron_http_request_field(kept_request, "name") == NULL);
    CHECK(omnitron_last_error_status() == OMNITRON_STATUS_INVALID_HANDLE);

    /* A valid token without the role: 403, the callback not called. */
    CHECK(http_send(port, "GET", "/admin", BEARER(USER_TOKEN), NULL, NULL, 0, &r) == 0);
    check_problem(&r, 403, "H011");
    CHECK(contains(r.body, "admin"));
    CHECK(reply_header(&r, "www-authenticate", h, sizeof h) && contains(h, "error=\"insufficient_scope\""));
    CHECK(runs(R_ADMIN) == 0);
    CHECK(http_send(port, "GET", "/admin", BEARER(ADMIN_TOKEN), NULL, NULL, 0, &r) == 0);
    check_answer(&r, 200, "{\"admin\":\"root\"}");
    CHECK(runs(R_ADMIN) == 1);

    /* Without the permission: 403. */
    CHECK(http_send(port, "DELETE", "/things/1", BEARER(USER_TOKEN), NULL, NULL, 0, &r) == 0);
    check_problem(&r, 403, "H011");
    CHECK(contains(r.body, "things:write"));
    CHECK(runs(R_DELETE) == 0);
    CHECK(http_send(port, "DELETE", "/things/1", BEARER(ADMIN_TOKEN), NULL, NULL, 0, &r) == 0);
    CHECK(r.status == 204 && r.body_len == 0);
    CHECK(runs(R_DELETE) == 1);
}

/* ---- 413 and 415 ------------------------------------------------------------------------------- */

/* A multipart body: a "caption" field, then `len` bytes of file_byte as `filename` of `type` in
 * the form field `field`. Returns its length (0 when `size` is too small). */
static size_t multipart(char *out, size_t size, const char *field, const char *filename, const char *type, size_t len) {
    int n = snprintf(out, size,
                     "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nme at the beach\r\n"
                     "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                     "Content-Type: %s\r\n\r\n",
                     field, filename, type);
    const char *end = "\r\n--" BOUNDARY "--\r\n";
    if (n < 0 || (size_t)n + len + strlen(end) > size) return 0;
    for (size_t i = 0; i < len; i++) out[(size_t)n + i] = (char)file_byte(i);
    memcpy(out + (size_t)n + len, end, strlen(end));
    return (size_t)n + len + strlen(end);
}

/* Sends only the head of a POST whose Content-Length says `declared` bytes: a body over the
 * limit is refused from its length, before it is sent. */
static int post_head(uint16_t port, const char *path, const char *content_type, size_t declared, Reply *r) {
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     path, content_type, declared);
    return http_raw(port, head, (size_t)n, r);
}

static void limits_and_media_types(uint16_t port) {
    Reply r;
    const char *ada = "{\"name\":\"ada\",\"tags\":[\"a\",\"b\"]}";
    CHECK(http_send(port, "POST", "/echo", NULL, "text/plain", "name=ada", 8, &r) == 0);
    check_problem(&r, 415, "H013");
    CHECK(http_send(port, "POST", "/echo", NULL, "application/json", ada, strlen(ada), &r) == 0);
    check_answer(&r, 201, "{\"name\":\"ada\",\"tags\":[\"a\",\"b\"]}");
    /* Over the app's body_limit (1024 bytes). */
    CHECK(post_head(port, "/echo", "application/json", 2048, &r) == 0);
    check_problem(&r, 413, "H004");
    CHECK(runs(R_ECHO) == 1);

    /* An upload route: its limit is its max_size plus the app's, so a 1500-byte file is taken
     * in a body over the app's limit, and the callback reads it byte for byte. */
    static char body[8192];
    size_t len = multipart(body, sizeof body, "avatar", "me.png", "image/png", 1500);
    CHECK(len > 1024);
    CHECK(http_send(port, "POST", "/avatar", NULL, MULTIPART, body, len, &r) == 0);
    check_answer(&r, 201,
                 "{\"field\":\"avatar\",\"filename\":\"me.png\",\"type\":\"image/png\",\"size\":1500,\"intact\":true,"
                 "\"caption\":\"me at the beach\"}");
    CHECK(runs(R_AVATAR) == 1);

    /* A file over max_size: 413 from the upload stage, naming the limit. */
    len = multipart(body, sizeof body, "avatar", "big.png", "image/png", 2500);
    CHECK(http_send(port, "POST", "/avatar", NULL, MULTIPART, body, len, &r) == 0);
    check_problem(&r, 413, "H004");
    CHECK(contains(r.body, "2048"));
    /* A body over the route's own limit (2048 + 1024): 413 from its length. */
    CHECK(post_head(port, "/avatar", MULTIPART, 8000, &r) == 0);
    check_problem(&r, 413, "H004");
    /* A media type not in mime_types, and a body that is not multipart: 415. */
    len = multipart(body, sizeof body, "avatar", "notes.txt", "text/plain", 10);
    CHECK(http_send(port, "POST", "/avatar", NULL, MULTIPART, body, len, &r) == 0);
    check_problem(&r, 415, "H013");
    CHECK(contains(r.body, "text/plain"));
    CHECK(http_send(port, "POST", "/avatar", NULL, "application/json", ada, strlen(ada), &r) == 0);
    check_problem(&r, 415, "H013");
    /* A file in another field: 400. */
    len = multipart(body, sizeof body, "photo", "me.png", "image/png", 10);
    CHECK(http_send(port, "POST", "/avatar", NULL, MULTIPART, body, len, &r) == 0);
    check_problem(&r, 400, "H009");
    CHECK(runs(R_AVATAR) == 1);
}

/* ---- 429 ----------------------------------------------------------------------------------------- */

static void rate_limits(uint16_t port) {
    Reply r;
    char h[64];
    for (int i = 0; i < 2; i++) {
        CHECK(http_send(port, "GET", "/limited", NULL, NULL, NULL, 0, &r) == 0);
        check_answer(&r, 200, "\"ok\"");
        CHECK(reply_header(&r, "ratelimit-limit", h, sizeof h) && strcmp(h, "2") == 0);
    }
    CHECK(http_send(port, "GET", "/limited", NULL, NULL, NULL, 0, &r) == 0);
    check_problem(&r, 429, "H012");
    CHECK(reply_header(&r, "retry-after", h, sizeof h) && atoi(h) >= 1);
    CHECK(reply_header(&r, "ratelimit-remaining", h, sizeof h) && strcmp(h, "0") == 0);
    CHECK(runs(R_LIMITED) == 2);

    /* The app's limit counts every declared route together (404s are not counted). */
    OmnitronHttpApp *app = NULL;
    int calls = 0;
    OK(omnitron_http_app_new("{\"rate_limit\": {\"max\": 1, \"window_ms\": 3600000}}", &app));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/a\"}", limited, &calls, NULL));
    OK(omnitron_http_app_route(app, "{\"method\": \"GET\", \"path\": \"/b\"}", limited, &calls, NULL));
    uint16_t port2 = 0;
    OK(omnitron_http_app_listen(app, "127.0.0.1:0", &port2));
    CHECK(http_send(port2, "GET", "/a", NULL, NULL, NULL, 0, &r) == 0);
    check_answer(&r, 200, "\"ok\"");
    CHECK(http_send(port2, "GET", "/nope", NULL, NULL, NULL, 0, &r) == 0);
    check_problem(&r, 404, "H002");
    CHECK(http_send(port2, "GET", "/b", NULL, NULL, NULL, 0, &r) == 0);
    check_problem(&r, 429, "H012");
    CHECK(reply_header(&r, "retry-after", h, sizeof h) && atoi(h) >= 1);
    omnitron_http_app_free(app);
    CHECK(calls == 1);
}

/* ---- 304 ----------------------------------------------------------------------------------------- */

static void cache(uint16_t port) {
    Reply r;
    char etag[128] = "", h[256], inm[256];
    CHECK(http_send(port, "GET", "/clock", NULL, NULL, NULL, 0, &r) == 0);
    check_answer(&r, 200, "{\"n\":1}");
    CHECK(reply_header(&r, "etag", etag, sizeof etag) != NULL && etag[0] == '"');
    CHECK(reply_header(&r, "cache-control", h, sizeof h) && contains(h, "max-age="));
    /* Kept: the callback does not run again. */
    CHECK(http_send(port, "GET", "/clock", NULL, NULL, NULL, 0, &r) == 0);
    check_answer(&r, 200, "{\"n\":1}");
    CHECK(reply_header(&r, "etag", h, sizeof h) && strcmp(h, etag) == 0);
    /* Asked again with its ETag: 304, no body. */
    snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", etag);
    CHECK(http_send(port, "GET", "/clock", inm, NULL, NULL, 0, &r) == 0);
    CHECK(r.status == 304 && r.body_len == 0);
    CHECK(reply_header(&r, "etag", h, sizeof h) && strcmp(h, etag) == 0);
    CHECK(http_send(port, "GET", "/clock", "If-None-Match: \"another\"\r\n", NULL, NULL, 0, &r) == 0);
    check_answer(&r, 200, "{\"n\":1}");
    CHECK(runs(R_CLOCK) == 1);
    /* Another query is another answer. */
    CHECK(http_send(port, "GET", "/clock?tz=utc", NULL, NULL, NULL, 0, &r) == 0);
    check_answer(&r, 200, "{\"n\":2}");
    CHECK(runs(R_CLOCK) == 2);
}

/* ---- pages --------------------------------------------------------------------------------------- */

static void pages(uint16_t port) {
    Reply r;
    char link[1024];
    CHECK(http_send(port, "GET", "/items", NULL, NULL, NULL, 0, &r) == 0);
    CHECK(r.status == 200);
    CHECK(contains(r.body, "\"data\":[0,1]"));
    CHECK(contains(r.body, "\"page\":1") && contains(r.body, "\"limit\":2") && contains(r.body, "\"total\":7"));
    CHECK(contains(r.body, "\"pages\":4"));
    CHECK(!contains(r.body, "items"));
    CHECK(reply_header(&r, "link", link, sizeof link) && contains(link, "</items?limit=2&page=2>; rel=\"next\""));
    CHECK(!contains(link, "rel=\"prev\""));

    CHECK(http_send(port, "GET", "/items?page=2&limit=3", NULL, NULL, NULL, 0, &r) == 0);
    CHECK(r.status == 200);
    CHECK(contains(r.body, "\"data\":[3,4,5]"));
    CHECK(contains(r.body, "\"page\":2") && contains(r.body, "\"limit\":3") && contains(r.body, "\"pages\":3"));
    CHECK(reply_header(&r, "link", link, sizeof link) && contains(link, "</items?limit=3&page=1>; rel=\"prev\""));
    CHECK(contains(link, "</items?limit=3&page=3>; rel=\"next\""));
    CHECK(runs(R_ITEMS) == 2);

    /* Out of range: 400 before the callback. */
    CHECK(http_send(port, "GET", "/items?limit=6", NULL, NULL, NULL, 0, &r) == 0);
    check_problem(&r, 400, "H009");
    CHECK(http_send(port, "GET", "/items?page=0", NULL, NULL, NULL, 0, &r) == 0);
    check_problem(&r, 400, "H009");
    CHECK(runs(R_ITEMS) == 2);

    /* `paginated: true`: 20 a page; an array answer is wrapped too. */
    CHECK(http_send(port, "GET", "/list?page=3", NULL, NULL, NULL, 0, &r) == 0);
    CHECK(r.status == 200);
    CHECK(contains(r.body, "\"data\":[3,20,40]"));
    CHECK(contains(r.body, "\"page\":3") && contains(r.body, "\"limit\":20"));
    CHECK(runs(R_LIST) == 1);
}

int main(void) {
    uint16_t port = 0;
    OmnitronHttpApp *app = make_app(&port);
    CHECK(port != 0);
    auth(port);
    limits_and_media_types(port);
    rate_limits(port);
    cache(port);
    pages(port);
    omnitron_http_app_free(app);
    printf("test_http_pipeline: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
