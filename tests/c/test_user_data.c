/*
 * user_data free functions: every function that keeps a caller's pointer beyond the call takes a
 * free_user_data, called exactly once, after the last callback that uses it, when the library lets go
 * (and before the function returns when it fails). Each user_data here is a malloc'd Tag whose free
 * function counts and frees it, so valgrind's leak check proves nothing is left and the counts prove
 * "exactly once". Built with -Wall -Wextra -Werror and run under valgrind by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* ---- tags: numbered user_data that count their frees -------------------------------------------- */

enum { MAX_TAGS = 64 };
static int freed[MAX_TAGS];     /* how many times each tag was freed */
static int calls_after[MAX_TAGS]; /* callbacks that ran after their tag was freed (must stay 0) */
static int next_tag = 0;

typedef struct { int id; } Tag;

static Tag *tag(void) {
    Tag *t = malloc(sizeof *t);
    t->id = next_tag++;
    return t;
}

static void free_tag(void *p) {
    Tag *t = p;
    __atomic_add_fetch(&freed[t->id], 1, __ATOMIC_SEQ_CST);
    free(t);
}

static int freed_count(int id) { return __atomic_load_n(&freed[id], __ATOMIC_SEQ_CST); }

/* Frees that happen on an engine thread may land a moment after the call that let go returns: wait
 * for them (up to a generous deadline; no timing is asserted). */
static int wait_freed(int id) {
    for (int i = 0; i < 2000 && freed_count(id) == 0; i++) sleep_ms(5);
    return freed_count(id);
}

/* Records that a callback ran; a callback of a freed tag would be a use after free (valgrind sees
 * it too), so it is counted instead of dereferenced when the count says freed. */
static void touched(void *ud) {
    Tag *t = ud;
    if (freed_count(t->id) != 0) calls_after[t->id]++;
}

/* ---- dependency injection ---------------------------------------------------------------------- */

static OmnitronStatus make_value(void *ud, void *const *deps, size_t n, void **out) {
    (void)deps;
    (void)n;
    touched(ud);
    *out = ud;
    return OMNITRON_STATUS_OK;
}

static OmnitronStatus hook(void *ud, void *instance) {
    (void)instance;
    touched(ud);
    return OMNITRON_STATUS_OK;
}

static OmnitronToken *token(const char *name) {
    OmnitronToken *t = NULL;
    OK(omnitron_token_new(name, &t));
    return t;
}

static void test_di_provider_copies(void) {
    /* A factory provider registered in two containers and added to a module: its user_data goes
     * when the handle, both containers and the module's container are all freed. */
    OmnitronToken *t = token("Shared");
    Tag *ud = tag(), *init_ud = tag(), *destroy_ud = tag();
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(t, make_value, ud, free_tag, &p));
    OK(omnitron_provider_on_init(p, hook, init_ud, free_tag));
    OK(omnitron_provider_on_destroy(p, hook, destroy_ud, free_tag));
    OmnitronContainer *c1 = NULL, *c2 = NULL, *c3 = NULL;
    OK(omnitron_container_new(&c1));
    OK(omnitron_container_new(&c2));
    OK(omnitron_container_register(c1, p));
    OK(omnitron_container_register(c2, p));
    OmnitronModule *m = NULL;
    OK(omnitron_module_new("M", &m));
    OK(omnitron_module_add_provider(m, p));
    OK(omnitron_container_new_from_module(m, &c3));
    void *x = NULL;
    OK(omnitron_container_resolve(c1, t, &x));
    CHECK(x == ud);
    OK(omnitron_container_initialize(c2));

    omnitron_provider_free(p);
    CHECK(freed_count(ud->id) == 0);
    omnitron_container_free(c1); /* runs on_destroy: destroy_ud still alive */
    CHECK(freed_count(ud->id) == 0);
    omnitron_container_free(c2);
    omnitron_module_free(m);
    CHECK(freed_count(ud->id) == 0); /* c3 still holds its copy */
    int id = ud->id, init_id = init_ud->id, destroy_id = destroy_ud->id;
    omnitron_container_free(c3);
    CHECK(freed_count(id) == 1);
    CHECK(freed_count(init_id) == 1);
    CHECK(freed_count(destroy_id) == 1);
    CHECK(calls_after[id] == 0 && calls_after[init_id] == 0 && calls_after[destroy_id] == 0);
    omnitron_token_free(t);
}

static void test_di_replace_and_failures(void) {
    OmnitronToken *t = token("T");
    OmnitronProvider *p = NULL;
    Tag *first = tag(), *second = tag();
    int first_id = first->id, second_id = second->id;
    OK(omnitron_provider_factory(t, make_value, tag(), free_tag, &p));
    OK(omnitron_provider_on_init(p, hook, first, free_tag));
    CHECK(freed_count(first_id) == 0);
    OK(omnitron_provider_on_init(p, hook, second, free_tag)); /* replacing lets go of the first */
    CHECK(freed_count(first_id) == 1);
    OK(omnitron_provider_on_init(p, NULL, NULL, NULL)); /* removing lets go of the second */
    CHECK(freed_count(second_id) == 1);
    omnitron_provider_free(p);

    /* A failing call frees what it was given before it returns. */
    Tag *a = tag(), *b = tag(), *c = tag(), *d = tag();
    int ida = a->id, idb = b->id, idc = c->id, idd = d->id;
    FAILS_WITH(omnitron_provider_factory(t, NULL, a, free_tag, &p), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(p == NULL && freed_count(ida) == 1);
    FAILS_WITH(omnitron_provider_factory(NULL, make_value, b, free_tag, &p), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(freed_count(idb) == 1);
    FAILS_WITH(omnitron_provider_on_destroy(NULL, hook, c, free_tag), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(freed_count(idc) == 1);
    OmnitronScope *s = NULL;
    FAILS_WITH(omnitron_container_create_scope(NULL, d, free_tag, &s), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(s == NULL && freed_count(idd) == 1);

    /* NULL free function: the library never frees (the caller keeps ownership). */
    static Tag kept = {MAX_TAGS - 1};
    OK(omnitron_provider_factory(t, make_value, &kept, NULL, &p));
    omnitron_provider_free(p);
    CHECK(freed_count(MAX_TAGS - 1) == 0);
    omnitron_token_free(t);
}

/* A scoped instance that keeps a pointer to the scope's context and reads it in on_destroy: the
 * context must still be alive then, and be freed once after. */
typedef struct { char name[16]; } Request;
typedef struct { Request *req; } Handler;

static Request *ctx_alive = NULL;
static int destroy_saw_context = 0;
static int context_frees = 0;

static OmnitronStatus make_handler(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    if (n != 1 || deps[0] == NULL) return OMNITRON_STATUS_INVALID_ARGUMENT;
    Handler *h = malloc(sizeof *h);
    h->req = deps[0];
    *out = h;
    return OMNITRON_STATUS_OK;
}

static OmnitronStatus destroy_handler(void *ud, void *instance) {
    (void)ud;
    Handler *h = instance;
    if (ctx_alive == h->req && strcmp(h->req->name, "req-1") == 0) destroy_saw_context++;
    free(h);
    return OMNITRON_STATUS_OK;
}

static void free_request(void *p) {
    if (p == ctx_alive) ctx_alive = NULL;
    context_frees++;
    free(p);
}

static void test_scope_context(void) {
    OmnitronToken *t = token("Handler");
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(t, make_handler, NULL, NULL, &p));
    OK(omnitron_provider_add_dependency(p, omnitron_token_context(), 0));
    OK(omnitron_provider_set_lifetime(p, OMNITRON_LIFETIME_SCOPED));
    OK(omnitron_provider_on_destroy(p, destroy_handler, NULL, NULL));
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);

    Request *req = malloc(sizeof *req);
    strcpy(req->name, "req-1");
    ctx_alive = req;
    OmnitronScope *s = NULL;
    OK(omnitron_container_create_scope(c, req, free_request, &s));
    void *h = NULL;
    OK(omnitron_scope_resolve(s, t, &h));
    CHECK(((Handler *)h)->req == req);
    CHECK(context_frees == 0);
    omnitron_scope_free(s); /* disposes (on_destroy reads the context), then frees the context */
    CHECK(destroy_saw_context == 1);
    CHECK(context_frees == 1);
    CHECK(ctx_alive == NULL);
    omnitron_container_free(c);
    CHECK(context_frees == 1);
    omnitron_token_free(t);
}

/* ---- RPC ------------------------------------------------------------------------------------------ */

static OmnitronStatus echo(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)method;
    touched(ud);
    return omnitron_reply_set(reply, args, len);
}

static OmnitronStatus ticks(const char *method, const uint8_t *args, size_t len, OmnitronStreamSink *sink,
                            void *ud) {
    (void)method;
    (void)args;
    (void)len;
    touched(ud);
    return omnitron_stream_send(sink, (const uint8_t *)"1", 1);
}

static int events_seen = 0;

static void on_event(const char *topic, const uint8_t *payload, size_t len, void *ud) {
    (void)topic;
    (void)payload;
    (void)len;
    touched(ud);
    __atomic_add_fetch(&events_seen, 1, __ATOMIC_SEQ_CST);
}

/* A completion records whether its tag was still alive when it ran (free comes after done). */
static int done_before_free = 0;

static void on_done(uint32_t status, const uint8_t *value, size_t len, const char *error, void *ud) {
    (void)value;
    (void)len;
    (void)error;
    Tag *t = ud;
    if (status == OMNITRON_STATUS_OK && freed_count(t->id) == 0) __atomic_add_fetch(&done_before_free, 1, __ATOMIC_SEQ_CST);
}

static void test_rpc(const char *dir) {
    char address[256];
    snprintf(address, sizeof address, "unix:%s/ud.sock", dir);
    OmnitronPeer *server = NULL, *client = NULL;
    OK(omnitron_peer_listen(address, "ud-server", "tok", &server));

    const char *methods[] = {"echo"};
    Tag *expose_ud = tag(), *method_ud = tag(), *stream_ud = tag(), *unexposed_ud = tag();
    int expose_id = expose_ud->id, method_id = method_ud->id, stream_id = stream_ud->id;
    int unexposed_id = unexposed_ud->id;
    OK(omnitron_peer_expose(server, "echo", "1.0.0", methods, 1, OMNITRON_FORMAT_JSON, echo, expose_ud, free_tag));
    OmnitronService *svc = NULL;
    OK(omnitron_service_new("svc", "1.0.0", &svc));
    OK(omnitron_service_add_method(svc, "echo", OMNITRON_FORMAT_JSON, echo, method_ud, free_tag));
    OK(omnitron_service_add_stream(svc, "ticks", OMNITRON_FORMAT_JSON, ticks, stream_ud, free_tag));
    OK(omnitron_peer_expose_service(server, svc));
    omnitron_service_free(svc);
    CHECK(freed_count(method_id) == 0 && freed_count(stream_id) == 0); /* the peer holds them */

    /* A service freed without being exposed lets go of its handlers at once. */
    OmnitronService *never = NULL;
    OK(omnitron_service_new("never", "1.0.0", &never));
    OK(omnitron_service_add_method(never, "x", OMNITRON_FORMAT_JSON, echo, unexposed_ud, free_tag));
    omnitron_service_free(never);
    CHECK(freed_count(unexposed_id) == 1);

    OK(omnitron_peer_connect(address, "ud-client", "tok", &client));
    OmnitronBuffer out = {0};
    OK(omnitron_peer_call_json(client, "echo", "echo", "[1]", 0, &out));
    omnitron_free(out.data);
    OK(omnitron_peer_call_json(client, "svc", "echo", "[2]", 0, &out));
    omnitron_free(out.data);

    /* Subscriptions: unsubscribe lets go. */
    Tag *sub_ud = tag();
    int sub_id = sub_ud->id;
    uint64_t sub = 0;
    OK(omnitron_peer_subscribe(server, "ud.*", on_event, sub_ud, free_tag, &sub));
    OK(omnitron_peer_publish_json(client, "ud.one", "1"));
    for (int i = 0; i < 2000 && __atomic_load_n(&events_seen, __ATOMIC_SEQ_CST) == 0; i++) sleep_ms(5);
    CHECK(events_seen == 1);
    CHECK(freed_count(sub_id) == 0);
    bool removed = false;
    OK(omnitron_peer_unsubscribe(server, sub, &removed));
    CHECK(removed);
    CHECK(wait_freed(sub_id) == 1);

    /* A subscription still active when its peer is freed goes with the peer. */
    Tag *sub2_ud = tag();
    int sub2_id = sub2_ud->id;
    OK(omnitron_peer_subscribe(client, "other.*", on_event, sub2_ud, free_tag, &sub));

    /* Completions: done first, then the free, exactly once each. */
    Tag *call_ud = tag();
    int call_id = call_ud->id;
    const uint8_t args[] = {0x91, 0x07}; /* [7] */
    OK(omnitron_peer_call_async(client, "echo", "echo", args, sizeof args, 0, on_done, call_ud, free_tag));
    CHECK(wait_freed(call_id) == 1);
    CHECK(done_before_free == 1);
    Tag *bad_call = tag();
    int bad_call_id = bad_call->id;
    FAILS_WITH(omnitron_peer_call_async(client, "echo", "echo", args, sizeof args, 0, NULL, bad_call, free_tag),
               OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(freed_count(bad_call_id) == 1); /* before the failing call returned */
    Tag *bad_sub = tag();
    int bad_sub_id = bad_sub->id;
    FAILS_WITH(omnitron_peer_subscribe(NULL, "x", on_event, bad_sub, free_tag, &sub), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(freed_count(bad_sub_id) == 1 && sub == 0);

    omnitron_peer_free(client);
    CHECK(wait_freed(sub2_id) == 1);
    CHECK(freed_count(expose_id) == 0);
    omnitron_peer_free(server);
    CHECK(wait_freed(expose_id) == 1);
    CHECK(wait_freed(method_id) == 1);
    CHECK(wait_freed(stream_id) == 1);
    CHECK(calls_after[expose_id] == 0 && calls_after[method_id] == 0 && calls_after[sub_id] == 0);
}

/* ---- resilience, supervisors ----------------------------------------------------------------------- */

static void on_change(const char *name, uint32_t from, uint32_t to, void *ud) {
    (void)name;
    (void)from;
    (void)to;
    touched(ud);
}

static OmnitronStatus failing(void *ud) {
    (void)ud;
    return OMNITRON_STATUS_CALLBACK_FAILED;
}

static uint32_t crash_hook(const char *info, const char *reason, void *ud) {
    (void)info;
    (void)reason;
    touched(ud);
    return OMNITRON_CRASH_DEFAULT;
}

static void restart_hook(const char *info, uint32_t attempt, void *ud) {
    (void)info;
    (void)attempt;
    touched(ud);
}

static void test_breaker_and_supervisor(void) {
    OmnitronBreakerOptions o;
    OK(omnitron_breaker_options_default(&o));
    o.threshold = 1;
    OmnitronRegistry *r = NULL;
    OK(omnitron_registry_new(&r));
    OmnitronBreaker *b = NULL;
    OK(omnitron_breaker_new("ud", &o, r, &b));
    Tag *l1 = tag(), *l2 = tag();
    int l1_id = l1->id, l2_id = l2->id;
    OK(omnitron_breaker_on_state_change(b, on_change, l1, free_tag));
    OK(omnitron_breaker_on_state_change(b, on_change, l2, free_tag));
    FAILS_WITH(omnitron_breaker_call(b, failing, NULL, NULL), OMNITRON_STATUS_CALLBACK_FAILED);
    CHECK(freed_count(l1_id) == 0 && freed_count(l2_id) == 0);
    omnitron_breaker_free(b);
    CHECK(freed_count(l1_id) == 1 && freed_count(l2_id) == 1);
    omnitron_registry_free(r);

    OmnitronSupervisor *sup = NULL;
    OK(omnitron_supervisor_new(NULL, &sup));
    Tag *c1 = tag(), *c2 = tag(), *rs = tag();
    int c1_id = c1->id, c2_id = c2->id, rs_id = rs->id;
    OK(omnitron_supervisor_on_crash(sup, crash_hook, c1, free_tag));
    OK(omnitron_supervisor_on_crash(sup, crash_hook, c2, free_tag)); /* replaces the first */
    CHECK(wait_freed(c1_id) == 1);
    OK(omnitron_supervisor_on_restart(sup, restart_hook, rs, free_tag));
    CHECK(freed_count(c2_id) == 0 && freed_count(rs_id) == 0);
    omnitron_supervisor_free(sup);
    CHECK(wait_freed(c2_id) == 1);
    CHECK(wait_freed(rs_id) == 1);
    Tag *bad = tag();
    int bad_id = bad->id;
    FAILS_WITH(omnitron_supervisor_on_restart(sup, restart_hook, bad, free_tag), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(freed_count(bad_id) == 1);
}

/* ---- workflows ------------------------------------------------------------------------------------- */

static OmnitronStatus stage(const char *input, const OmnitronStageContext *ctx, OmnitronStageOutput *out, void *ud) {
    (void)input;
    (void)ctx;
    touched(ud);
    return omnitron_stage_output_set(out, "1");
}

static OmnitronStatus undo(const char *output, const OmnitronStageContext *ctx, void *ud) {
    (void)output;
    (void)ctx;
    touched(ud);
    return OMNITRON_STATUS_OK;
}

static int wf_done_before_free = 0;

static void wf_done(uint32_t status, const char *run_id, const char *json, void *ud) {
    (void)run_id;
    (void)json;
    Tag *t = ud;
    if (status == OMNITRON_STATUS_OK && freed_count(t->id) == 0) __atomic_add_fetch(&wf_done_before_free, 1, __ATOMIC_SEQ_CST);
}

static void test_workflow(void) {
    OmnitronWorkflow *wf = NULL;
    OK(omnitron_workflow_new("ud-flow", &wf));
    Tag *s = tag(), *c_old = tag(), *c = tag();
    int s_id = s->id, c_old_id = c_old->id, c_id = c->id;
    OK(omnitron_workflow_add_stage(wf, "a", stage, s, free_tag));
    OK(omnitron_workflow_compensate(wf, "a", undo, c_old, free_tag));
    OK(omnitron_workflow_compensate(wf, "a", undo, c, free_tag)); /* replaces */
    CHECK(freed_count(c_old_id) == 1);
    Tag *bad = tag();
    int bad_id = bad->id;
    FAILS_WITH(omnitron_workflow_add_stage(wf, "b", NULL, bad, free_tag), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(freed_count(bad_id) == 1);

    OmnitronWorkflowEngine *e = NULL;
    OK(omnitron_workflow_engine_open(NULL, &e));
    OK(omnitron_workflow_engine_register(e, wf));
    omnitron_workflow_free(wf);
    CHECK(freed_count(s_id) == 0); /* the engine holds its copy */
    OmnitronBuffer out = {0};
    OK(omnitron_workflow_run(e, "ud-flow", NULL, NULL, &out));
    omnitron_free(out.data);

    Tag *done_ud = tag();
    int done_id = done_ud->id;
    OK(omnitron_workflow_start_async(e, "ud-flow", NULL, NULL, wf_done, done_ud, free_tag));
    CHECK(wait_freed(done_id) == 1);
    CHECK(wf_done_before_free == 1);

    omnitron_workflow_engine_free(e);
    CHECK(wait_freed(s_id) == 1);
    CHECK(wait_freed(c_id) == 1);
    CHECK(calls_after[s_id] == 0);
}

int main(void) {
    char dir[] = "/tmp/omnitron-ud-XXXXXX";
    if (!mkdtemp(dir)) return 2;
    test_di_provider_copies();
    test_di_replace_and_failures();
    test_scope_context();
    test_rpc(dir);
    test_breaker_and_supervisor();
    test_workflow();
    /* Every tag made was freed exactly once. */
    for (int i = 0; i < next_tag; i++) {
        if (freed[i] != 1) fprintf(stderr, "tag %d freed %d times\n", i, freed[i]);
        CHECK(freed[i] == 1);
    }
    char sock[300];
    snprintf(sock, sizeof sock, "%s/ud.sock", dir);
    unlink(sock);
    rmdir(dir);
    printf("user_data free functions: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
