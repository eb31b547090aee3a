/*
 * Dependency injection through the C ABI: every scenario of the engine, plus bad input.
 * Built with -Wall -Wextra -Werror and run under valgrind by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include "omnitron.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- a small object model: config, repository, service ------------------------------------ */

typedef struct { const char *url; } Config;
typedef struct { Config *config; int id; } Repo;
typedef struct { Config *config; Repo *repo; int id; } Service;

static int next_id = 0;
static int factory_calls = 0;

static uint32_t make_repo(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    if (n != 1 || deps[0] == NULL) return OMNITRON_STATUS_INVALID_ARGUMENT;
    Repo *r = malloc(sizeof *r);
    r->config = deps[0];
    r->id = ++next_id;
    factory_calls++;
    *out = r;
    return OMNITRON_STATUS_OK;
}

static uint32_t make_service(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    if (n != 2) return OMNITRON_STATUS_INVALID_ARGUMENT;
    Service *s = malloc(sizeof *s);
    s->config = deps[0];
    s->repo = deps[1];
    s->id = ++next_id;
    *out = s;
    return OMNITRON_STATUS_OK;
}

static uint32_t free_instance(void *ud, void *instance) {
    (void)ud;
    free(instance);
    return OMNITRON_STATUS_OK;
}

static OmnitronToken *token(const char *name) {
    OmnitronToken *t = NULL;
    OK(omnitron_token_new(name, &t));
    return t;
}

static void register_value(OmnitronContainer *c, OmnitronToken *t, void *value) {
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_value(t, value, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
}

static OmnitronProvider *factory(OmnitronToken *t, OmnitronFactoryFn f, void *ud) {
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(t, f, ud, NULL, &p));
    OK(omnitron_provider_on_destroy(p, free_instance, NULL, NULL));
    return p;
}

static void test_version(void) {
    CHECK(strcmp(omnitron_version(), "") != 0);
    CHECK(omnitron_abi_version() == OMNITRON_ABI_VERSION);
    CHECK(strcmp(omnitron_status_id(OMNITRON_STATUS_MISSING_PROVIDER), "DI001") == 0);
    CHECK(strcmp(omnitron_status_id(0), "OK") == 0);
    CHECK(strcmp(omnitron_status_id(99999), "UNKNOWN") == 0);
}

static void test_graph_and_lifetimes(void) {
    Config config = {"db://local"};
    OmnitronToken *tc = token("Config"), *tr = token("Repo"), *ts = token("Service");
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    register_value(c, tc, &config);

    OmnitronProvider *pr = factory(tr, make_repo, NULL);
    OK(omnitron_provider_add_dependency(pr, tc, 0));
    OK(omnitron_container_register(c, pr));
    omnitron_provider_free(pr);

    OmnitronProvider *ps = NULL;
    OK(omnitron_provider_factory(ts, make_service, NULL, NULL, &ps));
    OK(omnitron_provider_add_dependency(ps, tc, 0));
    OK(omnitron_provider_add_dependency(ps, tr, 0));
    OK(omnitron_provider_set_lifetime(ps, OMNITRON_LIFETIME_TRANSIENT));
    OK(omnitron_container_register(c, ps));
    omnitron_provider_free(ps);

    void *a = NULL, *b = NULL;
    OK(omnitron_container_resolve(c, ts, &a));
    OK(omnitron_container_resolve(c, ts, &b));
    Service *sa = a, *sb = b;
    CHECK(sa != sb);                       /* transient: new each time, owned by us */
    CHECK(sa->repo == sb->repo);           /* singleton repo shared */
    CHECK(sa->config == &config);
    CHECK(strcmp(sa->repo->config->url, "db://local") == 0);
    free(sa);
    free(sb);

    bool has = false;
    OK(omnitron_container_has(c, tr, &has));
    CHECK(has);
    OmnitronToken *nope = token("Nope");
    OK(omnitron_container_has(c, nope, &has));
    CHECK(!has);

    char *json = NULL;
    OK(omnitron_container_export_graph(c, OMNITRON_GRAPH_JSON, &json));
    CHECK(contains(json, "\"Service\"") && contains(json, "\"edges\""));
    omnitron_free(json);
    char *mermaid = NULL;
    OK(omnitron_container_export_graph(c, OMNITRON_GRAPH_MERMAID, &mermaid));
    CHECK(contains(mermaid, "graph TD"));
    omnitron_free(mermaid);
    FAILS_WITH(omnitron_container_export_graph(c, 7, &json), OMNITRON_STATUS_INVALID_ARGUMENT);

    OK(omnitron_container_dispose(c));
    omnitron_container_free(c);
    omnitron_token_free(tc);
    omnitron_token_free(tr);
    omnitron_token_free(ts);
    omnitron_token_free(nope);
}

static uint32_t make_int(void *ud, void *const *deps, size_t n, void **out) {
    (void)deps;
    (void)n;
    *out = ud;
    return OMNITRON_STATUS_OK;
}

static uint32_t make_echo_optional(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    *out = (n == 1 && deps[0] == NULL) ? (void *)"absent" : (void *)"present";
    return OMNITRON_STATUS_OK;
}

static void test_alias_multi_optional_duplicate(void) {
    static int one = 1, two = 2, three = 3;
    OmnitronToken *real = token("Real"), *alias = token("Alias"), *plugins = token("Plugins");
    OmnitronToken *cache = token("Cache"), *user = token("UsesCache");
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));

    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(real, make_int, &one, NULL, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OK(omnitron_provider_alias(alias, real, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    void *x = NULL, *y = NULL;
    OK(omnitron_container_resolve(c, real, &x));
    OK(omnitron_container_resolve(c, alias, &y));
    CHECK(x == y && x == &one);

    int *values[] = {&one, &two, &three};
    for (int i = 0; i < 3; i++) {
        OK(omnitron_provider_value(plugins, values[i], &p));
        OK(omnitron_provider_set_flags(p, OMNITRON_PROVIDER_MULTI));
        OK(omnitron_container_register(c, p));
        omnitron_provider_free(p);
    }
    void *got[3] = {0};
    size_t len = 0;
    OK(omnitron_container_resolve_all(c, plugins, got, 3, &len));
    CHECK(len == 3 && got[0] == &one && got[1] == &two && got[2] == &three);
    OK(omnitron_container_resolve_all(c, plugins, NULL, 0, &len));
    CHECK(len == 3);

    OK(omnitron_provider_factory(user, make_echo_optional, NULL, NULL, &p));
    OK(omnitron_provider_add_dependency(p, cache, OMNITRON_DEP_OPTIONAL));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OK(omnitron_container_resolve(c, user, &x));
    CHECK(strcmp((const char *)x, "absent") == 0);

    /* Duplicates need REPLACE. */
    OK(omnitron_provider_value(real, &two, &p));
    FAILS_WITH(omnitron_container_register(c, p), OMNITRON_STATUS_DUPLICATE_PROVIDER);
    CHECK(contains(omnitron_last_error_message(), "'Real' is already registered"));
    OK(omnitron_provider_set_flags(p, OMNITRON_PROVIDER_REPLACE));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OK(omnitron_container_resolve(c, real, &x));
    CHECK(x == &two);

    omnitron_container_free(c);
    omnitron_token_free(real);
    omnitron_token_free(alias);
    omnitron_token_free(plugins);
    omnitron_token_free(cache);
    omnitron_token_free(user);
}

static uint32_t make_nothing(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)deps;
    (void)n;
    *out = NULL;
    return OMNITRON_STATUS_OK;
}

static uint32_t failing_factory(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)deps;
    (void)n;
    (void)out;
    omnitron_callback_error("disk on fire");
    return OMNITRON_STATUS_CALLBACK_FAILED;
}

static void test_errors(void) {
    OmnitronToken *a = token("A"), *b = token("B"), *svc = token("UserService");
    OmnitronToken *db = token("Database"), *typo = token("Databse"), *bad = token("Broken");
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    OmnitronProvider *p = NULL;

    OK(omnitron_provider_factory(a, make_nothing, NULL, NULL, &p));
    OK(omnitron_provider_add_dependency(p, b, 0));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OK(omnitron_provider_factory(b, make_nothing, NULL, NULL, &p));
    OK(omnitron_provider_add_dependency(p, a, 0));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    void *x = NULL;
    FAILS_WITH(omnitron_container_resolve(c, a, &x), OMNITRON_STATUS_CIRCULAR_DEPENDENCY);
    CHECK(contains(omnitron_last_error_message(), "A -> B -> A"));
    CHECK(omnitron_last_error_status() == OMNITRON_STATUS_CIRCULAR_DEPENDENCY);

    register_value(c, db, &x);
    OK(omnitron_provider_factory(svc, make_nothing, NULL, NULL, &p));
    OK(omnitron_provider_add_dependency(p, typo, 0));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    FAILS_WITH(omnitron_container_resolve(c, svc, &x), OMNITRON_STATUS_MISSING_PROVIDER);
    const char *m = omnitron_last_error_message();
    CHECK(contains(m, "DI001") && contains(m, "Databse") && contains(m, "UserService -> Databse"));
    CHECK(contains(m, "Did you mean 'Database'?"));

    OK(omnitron_provider_factory(bad, failing_factory, NULL, NULL, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    FAILS_WITH(omnitron_container_resolve(c, bad, &x), OMNITRON_STATUS_FACTORY_FAILED);
    CHECK(contains(omnitron_last_error_message(), "disk on fire"));
    CHECK(contains(omnitron_last_error_message(), "Broken"));

    omnitron_clear_last_error();
    CHECK(omnitron_last_error_message() == NULL);
    CHECK(omnitron_last_error_status() == OMNITRON_STATUS_OK);

    omnitron_container_free(c);
    omnitron_token_free(a);
    omnitron_token_free(b);
    omnitron_token_free(svc);
    omnitron_token_free(db);
    omnitron_token_free(typo);
    omnitron_token_free(bad);
}

static int scoped_counter = 0;

static uint32_t make_scoped(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    int *v = malloc(sizeof *v);
    /* deps[0] is the scope context: a string naming the request. */
    *v = ++scoped_counter;
    if (n == 1 && deps[0] != NULL && strcmp((const char *)deps[0], "req-2") == 0) *v += 100;
    *out = v;
    return OMNITRON_STATUS_OK;
}

static void test_scopes(void) {
    OmnitronToken *req = token("RequestState"), *single = token("Singleton");
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    OmnitronProvider *p = factory(req, make_scoped, NULL);
    OK(omnitron_provider_add_dependency(p, omnitron_token_context(), 0));
    OK(omnitron_provider_set_lifetime(p, OMNITRON_LIFETIME_SCOPED));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);

    void *x = NULL, *y = NULL;
    FAILS_WITH(omnitron_container_resolve(c, req, &x), OMNITRON_STATUS_SCOPE_REQUIRED);
    CHECK(contains(omnitron_last_error_message(), "omnitron_container_create_scope()"));

    OmnitronScope *s1 = NULL, *s2 = NULL;
    OK(omnitron_container_create_scope(c, "req-1", NULL, &s1));
    OK(omnitron_container_create_scope(c, "req-2", NULL, &s2));
    OK(omnitron_scope_resolve(s1, req, &x));
    OK(omnitron_scope_resolve(s1, req, &y));
    CHECK(x == y && *(int *)x == 1);
    OK(omnitron_scope_resolve(s2, req, &y));
    CHECK(x != y && *(int *)y == 102);
    OK(omnitron_scope_resolve(s1, omnitron_token_context(), &x));
    CHECK(strcmp((const char *)x, "req-1") == 0);

    OK(omnitron_scope_dispose(s1));
    FAILS_WITH(omnitron_scope_resolve(s1, req, &x), OMNITRON_STATUS_CONTAINER_DISPOSED);
    omnitron_scope_free(s1);
    omnitron_scope_free(s2); /* disposes: frees the scoped int */

    OK(omnitron_provider_factory(single, make_nothing, NULL, NULL, &p));
    OK(omnitron_provider_add_dependency(p, req, 0));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OmnitronScope *s3 = NULL;
    OK(omnitron_container_create_scope(c, NULL, NULL, &s3));
    FAILS_WITH(omnitron_scope_resolve(s3, single, &x), OMNITRON_STATUS_SCOPE_VIOLATION);
    CHECK(contains(omnitron_last_error_message(), "Singleton -> RequestState"));
    omnitron_scope_free(s3);

    omnitron_container_free(c);
    omnitron_token_free(req);
    omnitron_token_free(single);
}

/* ---- who owns what resolve gives ----------------------------------------------------------- */

static OmnitronStatus make_int_copy(void *ud, void *const *deps, size_t n, void **out) {
    (void)deps;
    (void)n;
    int *v = malloc(sizeof *v);
    *v = *(int *)ud;
    *out = v;
    return OMNITRON_STATUS_OK;
}

/* Releases an instance whatever its owner: what a caller does with omnitron_container_resolve_with_owner. */
static void release_if_mine(void *instance, uint32_t owner) {
    if (owner == OMNITRON_OWNER_CALLER) free(instance);
}

static void test_owners(void) {
    static int seven = 7, config = 1;
    OmnitronToken *tsingle = token("Single"), *ttrans = token("Trans"), *tscoped = token("Scoped");
    OmnitronToken *tvalue = token("Value"), *talias = token("AliasOfTrans"), *tmissing = token("Nobody");
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    OmnitronProvider *p = factory(tsingle, make_int_copy, &seven);
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OK(omnitron_provider_factory(ttrans, make_int_copy, &seven, NULL, &p));
    OK(omnitron_provider_set_lifetime(p, OMNITRON_LIFETIME_TRANSIENT));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    p = factory(tscoped, make_int_copy, &seven);
    OK(omnitron_provider_set_lifetime(p, OMNITRON_LIFETIME_SCOPED));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    register_value(c, tvalue, &config);
    OK(omnitron_provider_alias(talias, ttrans, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);

    void *x = NULL;
    uint32_t owner = 99;
    OK(omnitron_container_resolve_with_owner(c, ttrans, &x, &owner));
    CHECK(owner == OMNITRON_OWNER_CALLER && *(int *)x == 7);
    release_if_mine(x, owner); /* a transient: ours to free (valgrind would see the leak otherwise) */
    OK(omnitron_container_resolve_with_owner(c, talias, &x, &owner));
    CHECK(owner == OMNITRON_OWNER_CALLER); /* an alias reports its target's owner */
    release_if_mine(x, owner);
    OK(omnitron_container_resolve_with_owner(c, tsingle, &x, &owner));
    CHECK(owner == OMNITRON_OWNER_CONTAINER);
    release_if_mine(x, owner); /* not freed: the container's on_destroy does it */
    void *again = NULL;
    OK(omnitron_container_resolve(c, tsingle, &again));
    CHECK(again == x);
    OK(omnitron_container_resolve_with_owner(c, tvalue, &x, &owner));
    CHECK(owner == OMNITRON_OWNER_CONTAINER && x == &config);
    FAILS_WITH(omnitron_container_resolve_with_owner(c, tscoped, &x, &owner), OMNITRON_STATUS_SCOPE_REQUIRED);
    CHECK(owner == OMNITRON_OWNER_NONE && x == NULL);
    FAILS_WITH(omnitron_container_resolve_with_owner(c, tmissing, &x, &owner), OMNITRON_STATUS_MISSING_PROVIDER);
    CHECK(owner == OMNITRON_OWNER_NONE && x == NULL);
    FAILS_WITH(omnitron_container_resolve_with_owner(c, ttrans, &x, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);

    OmnitronScope *s = NULL;
    OK(omnitron_container_create_scope(c, "ctx", NULL, &s));
    OK(omnitron_scope_resolve_with_owner(s, tscoped, &x, &owner));
    CHECK(owner == OMNITRON_OWNER_SCOPE && *(int *)x == 7);
    OK(omnitron_scope_resolve_with_owner(s, omnitron_token_context(), &x, &owner));
    CHECK(owner == OMNITRON_OWNER_SCOPE && strcmp((const char *)x, "ctx") == 0);
    OK(omnitron_scope_resolve_with_owner(s, ttrans, &x, &owner));
    CHECK(owner == OMNITRON_OWNER_CALLER);
    release_if_mine(x, owner);
    OK(omnitron_scope_resolve_with_owner(s, tsingle, &x, &owner));
    CHECK(owner == OMNITRON_OWNER_CONTAINER);
    omnitron_scope_free(s); /* frees the scoped int (on_destroy) */
    omnitron_container_free(c); /* frees the singleton */
    omnitron_token_free(tsingle);
    omnitron_token_free(ttrans);
    omnitron_token_free(tscoped);
    omnitron_token_free(tvalue);
    omnitron_token_free(talias);
    omnitron_token_free(tmissing);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static char events[512];

static void record(const char *what) {
    strncat(events, what, sizeof events - strlen(events) - 1);
    strncat(events, ";", sizeof events - strlen(events) - 1);
}

static uint32_t on_init(void *ud, void *instance) {
    (void)instance;
    char buf[64];
    snprintf(buf, sizeof buf, "init %s", (const char *)ud);
    record(buf);
    return OMNITRON_STATUS_OK;
}

static uint32_t on_destroy(void *ud, void *instance) {
    (void)instance;
    char buf[64];
    snprintf(buf, sizeof buf, "destroy %s", (const char *)ud);
    record(buf);
    if (strcmp((const char *)ud, "Repo") == 0) {
        omnitron_callback_error("repo would not close");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    return OMNITRON_STATUS_OK;
}

static void add_hooked(OmnitronContainer *c, OmnitronToken *t, OmnitronToken *dep, const char *name) {
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(t, make_int, (void *)name, NULL, &p));
    if (dep) OK(omnitron_provider_add_dependency(p, dep, 0));
    OK(omnitron_provider_on_init(p, on_init, (void *)name, NULL));
    OK(omnitron_provider_on_destroy(p, on_destroy, (void *)name, NULL));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
}

static void test_lifecycle(void) {
    OmnitronToken *db = token("Db"), *repo = token("Repo"), *svc = token("Svc");
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    add_hooked(c, svc, repo, "Svc");
    add_hooked(c, repo, db, "Repo");
    add_hooked(c, db, NULL, "Db");

    events[0] = '\0';
    OK(omnitron_container_initialize(c));
    CHECK(strcmp(events, "init Db;init Repo;init Svc;") == 0);
    OK(omnitron_container_initialize(c));
    CHECK(strcmp(events, "init Db;init Repo;init Svc;") == 0);

    events[0] = '\0';
    FAILS_WITH(omnitron_container_dispose(c), OMNITRON_STATUS_LIFECYCLE_FAILED);
    CHECK(strcmp(events, "destroy Svc;destroy Repo;destroy Db;") == 0);
    CHECK(contains(omnitron_last_error_message(), "repo would not close"));
    CHECK(contains(omnitron_last_error_message(), "1 of 3"));

    events[0] = '\0';
    FAILS_WITH(omnitron_container_dispose(c), OMNITRON_STATUS_LIFECYCLE_FAILED); /* same outcome */
    CHECK(events[0] == '\0');                                                    /* nothing ran twice */

    void *x = NULL;
    FAILS_WITH(omnitron_container_resolve(c, db, &x), OMNITRON_STATUS_CONTAINER_DISPOSED);
    CHECK(contains(omnitron_last_error_message(), "disposed"));
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_value(token("Late"), &x, &p));
    FAILS_WITH(omnitron_container_register(c, p), OMNITRON_STATUS_CONTAINER_DISPOSED);
    omnitron_provider_free(p);
    OmnitronScope *s = NULL;
    FAILS_WITH(omnitron_container_create_scope(c, NULL, NULL, &s), OMNITRON_STATUS_CONTAINER_DISPOSED);

    omnitron_container_free(c);
    omnitron_token_free(db);
    omnitron_token_free(repo);
    omnitron_token_free(svc);
}

/* Resolving never runs on_init; initialize() runs the hooks of singletons not yet initialized, in
 * dependency order, and again later only for what is new. */
static void test_initialize_semantics(void) {
    OmnitronToken *db = token("Db"), *repo = token("Repo"), *svc = token("Svc"), *late = token("Late");
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    add_hooked(c, svc, repo, "Svc");
    add_hooked(c, repo, db, "Repo");
    add_hooked(c, db, NULL, "Db");

    events[0] = '\0';
    void *x = NULL;
    OK(omnitron_container_resolve(c, svc, &x));
    CHECK(events[0] == '\0'); /* built, not initialized */
    OK(omnitron_container_initialize(c));
    CHECK(strcmp(events, "init Db;init Repo;init Svc;") == 0); /* dependencies first */

    /* Registered after initialize(), then resolved: initialized by the next call only. */
    events[0] = '\0';
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(late, make_int, (void *)"Late", NULL, &p));
    OK(omnitron_provider_add_dependency(p, svc, 0));
    OK(omnitron_provider_on_init(p, on_init, (void *)"Late", NULL));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OK(omnitron_container_resolve(c, late, &x));
    CHECK(events[0] == '\0');
    OK(omnitron_container_initialize(c));
    CHECK(strcmp(events, "init Late;") == 0);
    OK(omnitron_container_initialize(c));
    CHECK(strcmp(events, "init Late;") == 0);

    /* A transient or scoped provider cannot have on_init: it would never run. */
    static const uint32_t lifetimes[] = {OMNITRON_LIFETIME_TRANSIENT, OMNITRON_LIFETIME_SCOPED};
    for (int i = 0; i < 2; i++) {
        OmnitronToken *t = token("PerCall");
        OK(omnitron_provider_factory(t, make_int, (void *)"x", NULL, &p));
        OK(omnitron_provider_set_lifetime(p, lifetimes[i]));
        OK(omnitron_provider_on_init(p, on_init, (void *)"x", NULL));
        FAILS_WITH(omnitron_container_register(c, p), OMNITRON_STATUS_INVALID_PROVIDER);
        CHECK(contains(omnitron_last_error_message(), "'PerCall'") &&
              contains(omnitron_last_error_message(), "would never run"));
        bool has = true;
        OK(omnitron_container_has(c, t, &has));
        CHECK(!has);
        omnitron_provider_free(p);
        omnitron_token_free(t);
    }

    /* Repo's on_destroy fails on purpose (see on_destroy). */
    FAILS_WITH(omnitron_container_dispose(c), OMNITRON_STATUS_LIFECYCLE_FAILED);
    omnitron_container_free(c);
    omnitron_token_free(db);
    omnitron_token_free(repo);
    omnitron_token_free(svc);
    omnitron_token_free(late);
}

typedef struct { OmnitronContainer *c; OmnitronToken *t; } SelfRef_;

static uint32_t refuses_to_connect(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)deps;
    (void)n;
    (void)out;
    omnitron_callback_error("connection refused on port 5432");
    return OMNITRON_STATUS_CALLBACK_FAILED;
}

static uint32_t passes_on_a_missing_provider(void *ud, void *const *deps, size_t n, void **out) {
    (void)deps;
    (void)n;
    SelfRef_ *r = ud;
    return omnitron_container_resolve(r->c, r->t, out); /* fails: the status is passed on */
}

static int init_tries = 0;

static uint32_t init_fails_once(void *ud, void *instance) {
    (void)ud;
    (void)instance;
    if (init_tries++ == 0) {
        omnitron_callback_error("not ready");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    return OMNITRON_STATUS_OK;
}

/* A failing factory names the token, the providers being built and the module path; a library
 * error the factory passes on comes back unchanged; a failing on_init runs again next time. */
static void test_failure_paths(void) {
    static int seven = 7;
    OmnitronToken *db = token("Database"), *repo = token("UserRepository"), *users = token("UserService");
    OmnitronModule *dbm = NULL, *um = NULL, *app = NULL;
    OK(omnitron_module_new("DatabaseModule", &dbm));
    OK(omnitron_module_new("UsersModule", &um));
    OK(omnitron_module_new("AppModule", &app));
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(db, refuses_to_connect, NULL, NULL, &p));
    OK(omnitron_module_add_provider(dbm, p));
    omnitron_provider_free(p);
    OK(omnitron_provider_factory(repo, make_int, &seven, NULL, &p));
    OK(omnitron_provider_add_dependency(p, db, 0));
    OK(omnitron_module_add_provider(um, p));
    omnitron_provider_free(p);
    OK(omnitron_provider_factory(users, make_int, &seven, NULL, &p));
    OK(omnitron_provider_add_dependency(p, repo, 0));
    OK(omnitron_module_add_provider(um, p));
    omnitron_provider_free(p);
    OK(omnitron_module_import(um, dbm));
    OK(omnitron_module_export(um, users));
    OK(omnitron_module_import(app, um));

    OmnitronContainer *c = NULL;
    OK(omnitron_container_new_from_module(app, &c));
    void *x = NULL;
    FAILS_WITH(omnitron_container_resolve(c, users, &x), OMNITRON_STATUS_FACTORY_FAILED);
    const char *m = omnitron_last_error_message();
    CHECK(contains(m, "the factory of 'Database' failed: connection refused on port 5432"));
    CHECK(contains(m, "Resolution path: UserService -> UserRepository -> Database"));
    CHECK(contains(m, "Module path: AppModule -> UsersModule -> DatabaseModule"));
    FAILS_WITH(omnitron_container_initialize(c), OMNITRON_STATUS_FACTORY_FAILED);
    CHECK(contains(omnitron_last_error_message(), "Module path: AppModule -> UsersModule -> DatabaseModule"));
    omnitron_container_free(c);

    /* A DI error from a call the factory made passes through unchanged. */
    OK(omnitron_container_new(&c));
    OmnitronToken *outer = token("Outer"), *missing = token("NotRegistered");
    SelfRef_ r = {c, missing};
    OK(omnitron_provider_factory(outer, passes_on_a_missing_provider, &r, NULL, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    FAILS_WITH(omnitron_container_resolve(c, outer, &x), OMNITRON_STATUS_MISSING_PROVIDER);
    CHECK(contains(omnitron_last_error_message(), "no provider for 'NotRegistered'"));

    omnitron_container_free(c);

    /* A failing on_init: LIFECYCLE_FAILED naming it, run again by the next initialize(). */
    OmnitronToken *flaky = token("Flaky");
    OK(omnitron_container_new(&c));
    OK(omnitron_provider_factory(flaky, make_int, &seven, NULL, &p));
    OK(omnitron_provider_on_init(p, init_fails_once, NULL, NULL));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    FAILS_WITH(omnitron_container_initialize(c), OMNITRON_STATUS_LIFECYCLE_FAILED);
    CHECK(contains(omnitron_last_error_message(), "on_init of 'Flaky' failed: not ready"));
    CHECK(contains(omnitron_last_error_message(), "Registered in the container itself"));
    OK(omnitron_container_initialize(c));
    CHECK(init_tries == 2);

    omnitron_container_free(c);
    omnitron_module_free(dbm);
    omnitron_module_free(um);
    omnitron_module_free(app);
    omnitron_token_free(db);
    omnitron_token_free(repo);
    omnitron_token_free(users);
    omnitron_token_free(outer);
    omnitron_token_free(missing);
    omnitron_token_free(flaky);
}

/* ---- modules ----------------------------------------------------------------------------- */

static void test_modules(void) {
    static int conn = 7, secret = 42, logger = 3;
    OmnitronToken *tconn = token("Connection"), *tsecret = token("Secret"), *tlog = token("Logger");
    OmnitronModule *db = NULL, *logging = NULL, *app = NULL;
    OK(omnitron_module_new("DatabaseModule", &db));
    OK(omnitron_module_new("LoggingModule", &logging));
    OK(omnitron_module_new("AppModule", &app));
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_value(tconn, &conn, &p));
    OK(omnitron_module_add_provider(db, p));
    omnitron_provider_free(p);
    OK(omnitron_provider_value(tsecret, &secret, &p));
    OK(omnitron_module_add_provider(db, p));
    omnitron_provider_free(p);
    OK(omnitron_module_export(db, tconn));
    OK(omnitron_provider_value(tlog, &logger, &p));
    OK(omnitron_module_add_provider(logging, p));
    omnitron_provider_free(p);
    OK(omnitron_module_set_global(logging, true));
    OK(omnitron_module_import(app, db));
    OK(omnitron_module_import(app, logging));

    OmnitronContainer *c = NULL;
    OK(omnitron_container_new_from_module(app, &c));
    void *x = NULL;
    OK(omnitron_container_resolve(c, tconn, &x));
    CHECK(x == &conn);
    OK(omnitron_container_resolve(c, tlog, &x));
    CHECK(x == &logger);
    FAILS_WITH(omnitron_container_resolve(c, tsecret, &x), OMNITRON_STATUS_NOT_EXPORTED);
    CHECK(contains(omnitron_last_error_message(), "exports of module 'DatabaseModule'"));
    omnitron_container_free(c);

    /* A loop of imports is refused and names the loop. */
    OmnitronModule *ma = NULL, *mb = NULL;
    OK(omnitron_module_new("ModuleA", &ma));
    OK(omnitron_module_new("ModuleB", &mb));
    OK(omnitron_module_import(ma, mb));
    OK(omnitron_module_import(mb, ma));
    FAILS_WITH(omnitron_container_new_from_module(ma, &c), OMNITRON_STATUS_CIRCULAR_MODULE_IMPORT);
    CHECK(contains(omnitron_last_error_message(), "ModuleA -> ModuleB -> ModuleA"));

    /* Exporting what the module lacks. */
    OmnitronModule *liar = NULL;
    OK(omnitron_module_new("Liar", &liar));
    OK(omnitron_module_export(liar, tsecret));
    FAILS_WITH(omnitron_container_new_from_module(liar, &c), OMNITRON_STATUS_INVALID_MODULE);

    omnitron_module_free(db);
    omnitron_module_free(logging);
    omnitron_module_free(app);
    omnitron_module_free(ma);
    omnitron_module_free(mb);
    omnitron_module_free(liar);
    omnitron_token_free(tconn);
    omnitron_token_free(tsecret);
    omnitron_token_free(tlog);
}

/* ---- re-entrancy and lifecycle edge cases ------------------------------------------------ */

typedef struct { OmnitronContainer *c; OmnitronToken *t; } SelfRef;

static uint32_t resolves_itself(void *ud, void *const *deps, size_t n, void **out) {
    (void)deps;
    (void)n;
    SelfRef *r = ud;
    void *x = NULL;
    uint32_t st = omnitron_container_resolve(r->c, r->t, &x);
    if (st != OMNITRON_STATUS_OK) return st; /* the loop is reported, not hung on */
    *out = x;
    return OMNITRON_STATUS_OK;
}

static uint32_t ok_with_stale_message(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)deps;
    (void)n;
    omnitron_callback_error("stale reason from an OK callback");
    *out = (void *)"fine";
    return OMNITRON_STATUS_OK;
}

static uint32_t fails_silently(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)deps;
    (void)n;
    (void)out;
    return OMNITRON_STATUS_CALLBACK_FAILED;
}

static uint32_t disposes_own_container(void *ud, void *instance) {
    (void)instance;
    return omnitron_container_dispose((OmnitronContainer *)ud);
}

static void test_reentry(void) {
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    SelfRef r = {c, token("Narcissus")};
    OmnitronProvider *p = NULL;
    OK(omnitron_provider_factory(r.t, resolves_itself, &r, NULL, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    void *x = NULL;
    FAILS_WITH(omnitron_container_resolve(c, r.t, &x), OMNITRON_STATUS_CIRCULAR_DEPENDENCY);
    CHECK(contains(omnitron_last_error_message(), "Narcissus -> Narcissus"));

    /* A message left by a callback that returned OK does not stick to a later failure. */
    OmnitronToken *a = token("A"), *b = token("B");
    OK(omnitron_provider_factory(a, ok_with_stale_message, NULL, NULL, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OK(omnitron_provider_factory(b, fails_silently, NULL, NULL, &p));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OK(omnitron_container_resolve(c, a, &x));
    FAILS_WITH(omnitron_container_resolve(c, b, &x), OMNITRON_STATUS_FACTORY_FAILED);
    CHECK(!contains(omnitron_last_error_message(), "stale"));

    /* Values take no lifetime and no on_init. */
    static int v = 1;
    OmnitronToken *tv = token("Value");
    OK(omnitron_provider_value(tv, &v, &p));
    OK(omnitron_provider_set_lifetime(p, OMNITRON_LIFETIME_TRANSIENT));
    FAILS_WITH(omnitron_container_register(c, p), OMNITRON_STATUS_INVALID_PROVIDER);
    OK(omnitron_provider_set_lifetime(p, OMNITRON_LIFETIME_SINGLETON));
    OK(omnitron_provider_on_init(p, on_init, "Value", NULL));
    FAILS_WITH(omnitron_container_register(c, p), OMNITRON_STATUS_INVALID_PROVIDER);
    CHECK(contains(omnitron_last_error_message(), "use a factory"));
    omnitron_provider_free(p);
    /* Nor does an alias: initialize() runs the hook of the provider it aliases. */
    OmnitronToken *ta = token("ValueAlias");
    OK(omnitron_provider_alias(ta, tv, &p));
    OK(omnitron_provider_on_init(p, on_init, "Alias", NULL));
    FAILS_WITH(omnitron_container_register(c, p), OMNITRON_STATUS_INVALID_PROVIDER);
    CHECK(contains(omnitron_last_error_message(), "is an alias and has an on_init hook"));
    omnitron_provider_free(p);
    omnitron_token_free(ta);
    omnitron_container_free(c);

    /* on_destroy disposing its own container is an error, not a hang. */
    OmnitronContainer *c2 = NULL;
    OK(omnitron_container_new(&c2));
    OmnitronToken *d = token("Destroyer");
    OK(omnitron_provider_factory(d, make_int, &v, NULL, &p));
    OK(omnitron_provider_on_destroy(p, disposes_own_container, c2, NULL));
    OK(omnitron_container_register(c2, p));
    omnitron_provider_free(p);
    OK(omnitron_container_resolve(c2, d, &x));
    FAILS_WITH(omnitron_container_dispose(c2), OMNITRON_STATUS_LIFECYCLE_FAILED);
    CHECK(contains(omnitron_last_error_message(), "same container"));
    omnitron_container_free(c2);
    omnitron_token_free(r.t);
    omnitron_token_free(a);
    omnitron_token_free(b);
    omnitron_token_free(tv);
    omnitron_token_free(d);
}

/* ---- bad input --------------------------------------------------------------------------- */

static void test_bad_input(void) {
    OmnitronContainer *c = NULL;
    OmnitronToken *t = NULL;
    OmnitronProvider *p = NULL;
    void *x = NULL;

    FAILS_WITH(omnitron_container_new(NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_token_new(NULL, &t), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_token_new("", &t), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "empty"));
    FAILS_WITH(omnitron_token_new("\xff\xfe", &t), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "UTF-8"));
    FAILS_WITH(omnitron_token_new("ok", NULL), OMNITRON_STATUS_INVALID_ARGUMENT);

    t = token("T");
    FAILS_WITH(omnitron_container_resolve(NULL, t, &x), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(contains(omnitron_last_error_message(), "container handle is NULL"));
    OK(omnitron_container_new(&c));
    FAILS_WITH(omnitron_container_resolve(c, NULL, &x), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_container_resolve(c, t, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    /* A handle of another kind, and garbage. */
    FAILS_WITH(omnitron_container_resolve((OmnitronContainer *)t, t, &x), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_container_resolve((OmnitronContainer *)(uintptr_t)0xdeadbeef, t, &x),
               OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_container_resolve(c, (OmnitronToken *)c, &x), OMNITRON_STATUS_INVALID_HANDLE);

    FAILS_WITH(omnitron_provider_factory(t, NULL, NULL, NULL, &p), OMNITRON_STATUS_INVALID_ARGUMENT);
    OK(omnitron_provider_factory(t, make_nothing, NULL, NULL, &p));
    FAILS_WITH(omnitron_provider_set_lifetime(p, 99), OMNITRON_STATUS_INVALID_SCOPE);
    CHECK(contains(omnitron_last_error_message(), "unknown lifetime 99"));
    FAILS_WITH(omnitron_provider_set_flags(p, 0x80), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_provider_add_dependency(p, t, 0x10), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_provider_add_dependency(p, NULL, 0), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_container_register(c, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_container_register(NULL, p), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_provider_value((OmnitronToken *)omnitron_token_context(), &x, &p),
               OMNITRON_STATUS_OK); /* building is fine ... */
    FAILS_WITH(omnitron_container_register(c, p), OMNITRON_STATUS_INVALID_PROVIDER); /* ... registering the built-in is not */
    omnitron_provider_free(p);

    FAILS_WITH(omnitron_module_new(NULL, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_module_import(NULL, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_container_load_module(c, NULL), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_container_initialize(NULL), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_container_dispose(NULL), OMNITRON_STATUS_INVALID_HANDLE);
    FAILS_WITH(omnitron_scope_resolve(NULL, t, &x), OMNITRON_STATUS_INVALID_HANDLE);
    size_t len = 0;
    FAILS_WITH(omnitron_container_resolve_all(c, t, NULL, 4, &len), OMNITRON_STATUS_INVALID_ARGUMENT);
    FAILS_WITH(omnitron_container_resolve_all(c, t, NULL, 0, NULL), OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(omnitron_token_name(NULL) == NULL);
    CHECK(strcmp(omnitron_token_name(t), "T") == 0);

    /* Use after free and double free. */
    omnitron_container_free(c);
    FAILS_WITH(omnitron_container_resolve(c, t, &x), OMNITRON_STATUS_INVALID_HANDLE);
    CHECK(contains(omnitron_last_error_message(), "already freed"));
    omnitron_container_free(c);
    omnitron_container_free(NULL);
    omnitron_token_free(t);
    omnitron_token_free(t);
    omnitron_token_free((OmnitronToken *)omnitron_token_context()); /* ignored */
    omnitron_provider_free(NULL);
    omnitron_module_free(NULL);
    omnitron_scope_free(NULL);
    omnitron_free(NULL);
    omnitron_callback_error(NULL);
}

/* ---- threads ----------------------------------------------------------------------------- */

static int slow_calls = 0;
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t make_slow(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)deps;
    (void)n;
    pthread_mutex_lock(&slow_lock);
    slow_calls++;
    pthread_mutex_unlock(&slow_lock);
    int *v = malloc(sizeof *v);
    *v = 5;
    *out = v;
    return OMNITRON_STATUS_OK;
}

typedef struct { OmnitronContainer *c; OmnitronToken *t; void *got; } Job;

static void *resolve_job(void *arg) {
    Job *j = arg;
    if (omnitron_container_resolve(j->c, j->t, &j->got) != OMNITRON_STATUS_OK) j->got = NULL;
    return NULL;
}

static void test_threads(void) {
    OmnitronToken *t = token("Shared");
    OmnitronContainer *c = NULL;
    OK(omnitron_container_new(&c));
    OmnitronProvider *p = factory(t, make_slow, NULL);
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    pthread_t threads[8];
    Job jobs[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (Job){c, t, NULL};
        pthread_create(&threads[i], NULL, resolve_job, &jobs[i]);
    }
    for (int i = 0; i < 8; i++) pthread_join(threads[i], NULL);
    int same = 1;
    for (int i = 0; i < 8; i++) same = same && jobs[i].got != NULL && jobs[i].got == jobs[0].got;
    CHECK(same);
    CHECK(slow_calls == 1);
    omnitron_container_free(c);
    omnitron_token_free(t);
}

/* The last error's message stays valid until the next failing call, callbacks run by successful
 * calls in between included (the library once dropped it before every callback). */
static int counted_factory_runs = 0;
static uint32_t counted(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud; (void)deps; (void)n;
    counted_factory_runs++;
    *out = &counted_factory_runs;
    return OMNITRON_STATUS_OK;
}

static void test_last_error_survives_callbacks(void) {
    OmnitronToken *t = token("Counted");
    OmnitronContainer *c = NULL;
    OmnitronProvider *p = NULL;
    OK(omnitron_container_new(&c));
    OK(omnitron_provider_factory(t, counted, NULL, NULL, &p));
    OK(omnitron_provider_set_lifetime(p, OMNITRON_LIFETIME_TRANSIENT));
    OK(omnitron_container_register(c, p));
    omnitron_provider_free(p);
    OmnitronToken *bad = NULL;
    FAILS_WITH(omnitron_token_new(NULL, &bad), OMNITRON_STATUS_INVALID_ARGUMENT);
    const char *message = omnitron_last_error_message();
    CHECK(contains(message, "name"));
    void *x = NULL;
    OK(omnitron_container_resolve(c, t, &x)); /* runs the factory: a callback */
    CHECK(counted_factory_runs == 1);
    CHECK(contains(message, "name")); /* still the same, valid string (valgrind would see a free) */
    CHECK(omnitron_last_error_message() == message);
    omnitron_container_free(c);
    omnitron_token_free(t);
}

int main(void) {
    test_version();
    test_graph_and_lifetimes();
    test_alias_multi_optional_duplicate();
    test_errors();
    test_scopes();
    test_lifecycle();
    test_initialize_semantics();
    test_failure_paths();
    test_modules();
    test_bad_input();
    test_threads();
    test_reentry();
    test_owners();
    test_last_error_survives_callbacks();
    CHECK(factory_calls == 1);
    printf("C DI tests: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
