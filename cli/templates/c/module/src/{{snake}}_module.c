#include "{{snake}}_module.h"

#include <stdlib.h>
#include <string.h>

/* The options' factory: copies the options it was given as user_data (one copy per container). */
static OmnitronStatus make_options(void *given, void *const *deps, size_t n, void **out) {
    (void)deps;
    (void)n;
    {{pascal}}Options *options = malloc(sizeof *options);
    if (options == NULL) {
        omnitron_callback_error("out of memory");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    memcpy(options, given, sizeof *options);
    *out = options;
    return OMNITRON_STATUS_OK;
}

/* The repository's factory: its one dependency is the options. */
static OmnitronStatus make_repository(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)n;
    const {{pascal}}Options *options = deps[0];
    {{pascal}}Repository *repository = calloc(1, sizeof *repository);
    if (repository == NULL) {
        omnitron_callback_error("out of memory");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    memcpy(repository->url, options->url, sizeof repository->url);
    *out = repository;
    return OMNITRON_STATUS_OK;
}

static OmnitronStatus release(void *ud, void *instance) {
    (void)ud;
    free(instance);
    return OMNITRON_STATUS_OK;
}

/* Adds a singleton built by `factory` (with `user_data`, which the provider frees with
 * `free_user_data` when it goes, also if this fails), depending on `dep` if not NULL. */
static OmnitronStatus add_singleton(OmnitronModule *module, const OmnitronToken *token, OmnitronFactoryFn factory,
                                    void *user_data, OmnitronFreeFn free_user_data, const OmnitronToken *dep) {
    OmnitronProvider *p = NULL;
    OmnitronStatus s = omnitron_provider_factory(token, factory, user_data, free_user_data, &p);
    if (s == OMNITRON_STATUS_OK && dep != NULL) s = omnitron_provider_add_dependency(p, dep, 0);
    if (s == OMNITRON_STATUS_OK) s = omnitron_provider_set_lifetime(p, OMNITRON_LIFETIME_SINGLETON);
    if (s == OMNITRON_STATUS_OK) s = omnitron_provider_on_destroy(p, release, NULL, NULL);
    if (s == OMNITRON_STATUS_OK) s = omnitron_module_add_provider(module, p);
    omnitron_provider_free(p);
    return s;
}

OmnitronStatus {{snake}}_module_new(const {{pascal}}Options *options, const OmnitronToken *repository_token,
                                    OmnitronModule **out) {
    *out = NULL;
    {{pascal}}Options *copy = malloc(sizeof *copy);
    if (copy == NULL) return OMNITRON_STATUS_INTERNAL;
    memcpy(copy, options, sizeof *copy);
    OmnitronToken *options_token = NULL;
    OmnitronModule *module = NULL;
    OmnitronStatus s = omnitron_token_new("{{pascal}}Options", &options_token);
    if (s == OMNITRON_STATUS_OK) s = omnitron_module_new("{{pascal}}Module", &module);
    if (s == OMNITRON_STATUS_OK) {
        s = add_singleton(module, options_token, make_options, copy, free, NULL);
    } else {
        free(copy);
    }
    if (s == OMNITRON_STATUS_OK) s = add_singleton(module, repository_token, make_repository, NULL, NULL, options_token);
    if (s == OMNITRON_STATUS_OK) s = omnitron_module_export(module, repository_token);
    omnitron_token_free(options_token); /* the module keeps what it needs */
    if (s != OMNITRON_STATUS_OK) {
        omnitron_module_free(module);
        return s;
    }
    *out = module;
    return OMNITRON_STATUS_OK;
}
