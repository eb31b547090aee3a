#include "greeter.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int greeter_greet(const Greeter *greeter, const char *name, char *out, size_t cap) {
    return snprintf(out, cap, "%s, %s!", greeter->greeting, name);
}

/* ---- dependency injection ---------------------------------------------------------------------- */

typedef struct {
    char greeting[64];
} GreeterConfig;

/* The configuration's factory: copies the greeting it was given as user_data. */
static OmnitronStatus make_config(void *greeting, void *const *deps, size_t n, void **out) {
    (void)deps;
    (void)n;
    GreeterConfig *config = calloc(1, sizeof *config);
    if (config == NULL) {
        omnitron_callback_error("out of memory");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    snprintf(config->greeting, sizeof config->greeting, "%s", (const char *)greeting);
    *out = config;
    return OMNITRON_STATUS_OK;
}

/* The greeter's factory: its one dependency is the configuration. */
static OmnitronStatus make_greeter(void *ud, void *const *deps, size_t n, void **out) {
    (void)ud;
    (void)n;
    const GreeterConfig *config = deps[0];
    Greeter *greeter = calloc(1, sizeof *greeter);
    if (greeter == NULL) {
        omnitron_callback_error("out of memory");
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    memcpy(greeter->greeting, config->greeting, sizeof greeter->greeting);
    *out = greeter;
    return OMNITRON_STATUS_OK;
}

/* Both are released when their container is disposed. */
static OmnitronStatus release(void *ud, void *instance) {
    (void)ud;
    free(instance);
    return OMNITRON_STATUS_OK;
}

/* Adds a singleton built by `factory` (with `user_data`, freed by `free_user_data`), depending on
 * `dep` if not NULL. */
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

OmnitronStatus greeter_module_new(const char *greeting, const OmnitronToken *greeter_token,
                                  OmnitronModule **out) {
    *out = NULL;
    char *copy = malloc(strlen(greeting) + 1);
    if (copy == NULL) return OMNITRON_STATUS_INTERNAL;
    strcpy(copy, greeting);
    OmnitronToken *config = NULL;
    OmnitronModule *module = NULL;
    OmnitronStatus s = omnitron_token_new("GreeterConfig", &config);
    if (s == OMNITRON_STATUS_OK) s = omnitron_module_new("GreeterModule", &module);
    if (s == OMNITRON_STATUS_OK) {
        /* The provider owns the copy from here, even when this fails: free() runs when it goes. */
        s = add_singleton(module, config, make_config, copy, free, NULL);
    } else {
        free(copy);
    }
    if (s == OMNITRON_STATUS_OK) s = add_singleton(module, greeter_token, make_greeter, NULL, NULL, config);
    if (s == OMNITRON_STATUS_OK) s = omnitron_module_export(module, greeter_token);
    omnitron_token_free(config); /* the module keeps what it needs */
    if (s != OMNITRON_STATUS_OK) {
        omnitron_module_free(module);
        return s;
    }
    *out = module;
    return OMNITRON_STATUS_OK;
}

/* ---- RPC --------------------------------------------------------------------------------------- */

/* greet(name): `args` is the JSON array of arguments, `["Ada"]`. (A real service parses it with a
 * JSON library; names with quotes or escapes are refused here.) */
static OmnitronStatus greet(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)method;
    (void)len;
    const Greeter *greeter = ud;
    char name[64];
    if (sscanf((const char *)args, " [ \"%63[^\"\\]\" ]", name) != 1) {
        omnitron_callback_error("greet takes one argument: a name (a string without quotes or escapes)");
        return OMNITRON_STATUS_INVALID_ARGUMENT;
    }
    char line[160];
    int n = greeter_greet(greeter, name, line + 1, sizeof line - 2);
    if (n < 0 || (size_t)n >= sizeof line - 2) return OMNITRON_STATUS_INVALID_ARGUMENT;
    line[0] = '"'; /* the result is JSON too: a string */
    line[n + 1] = '"';
    return omnitron_reply_set(reply, (const uint8_t *)line, (size_t)n + 2);
}

OmnitronStatus greeter_service_new(const Greeter *greeter, OmnitronService **out) {
    OmnitronStatus s = omnitron_service_new("greeter", "1.0.0", out);
    if (s == OMNITRON_STATUS_OK) {
        s = omnitron_service_add_method(*out, "greet", OMNITRON_FORMAT_JSON, greet, (void *)greeter, NULL);
        if (s != OMNITRON_STATUS_OK) {
            omnitron_service_free(*out);
            *out = NULL;
        }
    }
    return s;
}
