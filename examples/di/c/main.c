/* The DI demo in C: the same module graph as every other language. */
#include "omnitron.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct { const char *database_url; const char *greeting; } AppConfig;
typedef struct { int id; const char *url; } UserRepository;
typedef struct { const char *id; unsigned user_id; } Request;
typedef struct { const char *request_id; unsigned user_id; } RequestContext;
typedef struct { AppConfig *config; UserRepository *repo; RequestContext *ctx; } GreetingService;

static int repositories = 0;

static const char *find_name(unsigned user_id) {
    return user_id == 1 ? "Ada" : user_id == 2 ? "Grace" : "stranger";
}

static OmnitronStatus make_repo(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)n;
    UserRepository *r = malloc(sizeof *r);
    r->id = ++repositories;
    r->url = ((AppConfig *)deps[0])->database_url;
    *out = r;
    return OMNITRON_STATUS_OK;
}

static OmnitronStatus make_ctx(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)n;
    const Request *req = deps[0];
    RequestContext *c = malloc(sizeof *c);
    c->request_id = req->id;
    c->user_id = req->user_id;
    *out = c;
    return OMNITRON_STATUS_OK;
}

static OmnitronStatus make_greeter(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)n;
    GreetingService *g = malloc(sizeof *g);
    g->config = deps[0];
    g->repo = deps[1];
    g->ctx = deps[2];
    *out = g;
    return OMNITRON_STATUS_OK;
}

static OmnitronStatus release(void *ud, void *instance) {
    (void)ud;
    free(instance);
    return OMNITRON_STATUS_OK;
}

#define TRY(call)                                                                              \
    do {                                                                                       \
        if ((call) != OMNITRON_STATUS_OK) {                                                    \
            fprintf(stderr, "c: %s failed: %s\n", #call, omnitron_last_error_message());       \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

static OmnitronProvider *factory(OmnitronToken *t, OmnitronFactoryFn f, OmnitronToken **deps, int n,
                                 uint32_t lifetime) {
    OmnitronProvider *p = NULL;
    if (omnitron_provider_factory(t, f, NULL, NULL, &p) != OMNITRON_STATUS_OK) return NULL;
    for (int i = 0; i < n; i++) omnitron_provider_add_dependency(p, deps[i], 0);
    omnitron_provider_set_lifetime(p, lifetime);
    omnitron_provider_on_destroy(p, release, NULL, NULL);
    return p;
}

int main(void) {
    static AppConfig config = {"postgres://demo", "Hello"};
    OmnitronToken *tconfig, *trepo, *tctx, *tgreeter;
    TRY(omnitron_token_new("AppConfig", &tconfig));
    TRY(omnitron_token_new("UserRepository", &trepo));
    TRY(omnitron_token_new("RequestContext", &tctx));
    TRY(omnitron_token_new("GreetingService", &tgreeter));

    OmnitronModule *data, *app;
    TRY(omnitron_module_new("DataModule", &data));
    TRY(omnitron_module_new("AppModule", &app));
    OmnitronProvider *p;
    TRY(omnitron_provider_value(tconfig, &config, &p));
    TRY(omnitron_module_add_provider(data, p));
    omnitron_provider_free(p);
    p = factory(trepo, make_repo, &tconfig, 1, OMNITRON_LIFETIME_SINGLETON);
    TRY(omnitron_module_add_provider(data, p));
    omnitron_provider_free(p);
    TRY(omnitron_module_export(data, tconfig));
    TRY(omnitron_module_export(data, trepo));

    OmnitronToken *context = (OmnitronToken *)omnitron_token_context();
    p = factory(tctx, make_ctx, &context, 1, OMNITRON_LIFETIME_SCOPED);
    TRY(omnitron_module_add_provider(app, p));
    omnitron_provider_free(p);
    OmnitronToken *greeter_deps[] = {tconfig, trepo, tctx};
    p = factory(tgreeter, make_greeter, greeter_deps, 3, OMNITRON_LIFETIME_SCOPED);
    TRY(omnitron_module_add_provider(app, p));
    omnitron_provider_free(p);
    TRY(omnitron_module_import(app, data));

    OmnitronContainer *c;
    TRY(omnitron_container_new_from_module(app, &c));
    Request requests[] = {{"r-1", 1}, {"r-2", 2}};
    for (int i = 0; i < 2; i++) {
        OmnitronScope *scope;
        void *out;
        TRY(omnitron_container_create_scope(c, &requests[i], NULL, &scope));
        TRY(omnitron_scope_resolve(scope, tgreeter, &out));
        GreetingService *g = out;
        printf("c:          %s, %s! (request %s, user %u from %s, repository #%d)\n", g->config->greeting,
               find_name(g->ctx->user_id), g->ctx->request_id, g->ctx->user_id, g->repo->url, g->repo->id);
        omnitron_scope_free(scope);
    }
    TRY(omnitron_container_dispose(c));
    omnitron_container_free(c);
    omnitron_module_free(data);
    omnitron_module_free(app);
    omnitron_token_free(tconfig);
    omnitron_token_free(trepo);
    omnitron_token_free(tctx);
    omnitron_token_free(tgreeter);
    return 0;
}
