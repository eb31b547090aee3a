/*
 * The {{pascal}}Module DI module, a function of its options (as {{pascal}}Module.forRoot(...) is in
 * TypeScript): the options, copied, and a repository built from them; only the repository is
 * exported. Import it where it is needed: omnitron_module_import(app_module, {{snake}}_module).
 */
#pragma once

#include "omnitron.h"

typedef struct {{pascal}}Options {
    char url[128]; /* where the data lives */
} {{pascal}}Options;

/* The module's repository: a singleton, freed when its container is disposed. */
typedef struct {{pascal}}Repository {
    char url[128];
} {{pascal}}Repository;

/* Makes the module; the repository is provided under `repository_token` (yours: make it with
 * omnitron_token_new and resolve with it). Free the module with omnitron_module_free once a
 * container is made from it, or a module importing it is. */
OmnitronStatus {{snake}}_module_new(const {{pascal}}Options *options, const OmnitronToken *repository_token,
                                    OmnitronModule **out);
