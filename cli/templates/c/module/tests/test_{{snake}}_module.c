/* The {{pascal}}Module: resolved from a container of its own, then imported by an application module. */
#include "check.h" /* first: it sets the POSIX feature macro */

#include "{{snake}}_module.h"

static const {{pascal}}Options options = {.url = "memory://{{kebab}}"};

static void builds_the_repository_once(void) {
    OmnitronToken *token = NULL;
    OmnitronModule *module = NULL;
    OmnitronContainer *container = NULL;
    void *first = NULL, *again = NULL;
    OK(omnitron_token_new("{{pascal}}Repository", &token));
    OK({{snake}}_module_new(&options, token, &module));
    OK(omnitron_container_new_from_module(module, &container));
    omnitron_module_free(module);
    OK(omnitron_container_resolve(container, token, &first));
    OK(omnitron_container_resolve(container, token, &again));
    CHECK(first != NULL && first == again); /* a singleton */
    CHECK(first != NULL && strcmp((({{pascal}}Repository *)first)->url, "memory://{{kebab}}") == 0);
    OK(omnitron_container_dispose(container));
    omnitron_container_free(container);
    omnitron_token_free(token);
}

/* A consumer in the importing module: the repository's url. */
static OmnitronStatus make_consumer(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)n;
    *out = (({{pascal}}Repository *)deps[0])->url;
    return OMNITRON_STATUS_OK;
}

static void is_imported_by_an_app_module(void) {
    OmnitronToken *repository = NULL, *consumer = NULL;
    OmnitronModule *module = NULL, *app = NULL;
    OmnitronProvider *p = NULL;
    OmnitronContainer *container = NULL;
    OK(omnitron_token_new("{{pascal}}Repository", &repository));
    OK(omnitron_token_new("Consumer", &consumer));
    OK({{snake}}_module_new(&options, repository, &module));
    OK(omnitron_module_new("AppModule", &app));
    OK(omnitron_module_import(app, module));
    OK(omnitron_provider_factory(consumer, make_consumer, NULL, NULL, &p));
    OK(omnitron_provider_add_dependency(p, repository, 0));
    OK(omnitron_module_add_provider(app, p));
    omnitron_provider_free(p);
    OK(omnitron_container_new_from_module(app, &container));
    omnitron_module_free(app);
    omnitron_module_free(module);
    void *url = NULL;
    OK(omnitron_container_resolve(container, consumer, &url));
    CHECK(url != NULL && strcmp(url, "memory://{{kebab}}") == 0);
    OK(omnitron_container_dispose(container));
    omnitron_container_free(container);
    omnitron_token_free(repository);
    omnitron_token_free(consumer);
}

int main(void) {
    builds_the_repository_once();
    is_imported_by_an_app_module();
    return check_done("test_{{snake}}_module");
}
