#include "{{snake}}_workflow.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char {{snake}}_workflow_name[] = "{{kebab}}";

/* Stage values are JSON text. These read one field of a flat object; a real workflow uses a JSON
 * library (cJSON, jansson, ...). */
static int json_string(const char *json, const char *key, char *out, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *at = strstr(json, pattern);
    if (at == NULL) return 0;
    at = strchr(at + strlen(pattern), '"');
    const char *end = at ? strchr(at + 1, '"') : NULL;
    if (end == NULL || (size_t)(end - at - 1) >= cap) return 0;
    memcpy(out, at + 1, (size_t)(end - at - 1));
    out[end - at - 1] = '\0';
    return 1;
}

static int json_long(const char *json, const char *key, long *out) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *at = strstr(json, pattern);
    return at != NULL && sscanf(at + strlen(pattern), " : %ld", out) == 1;
}

/* reserve: gets the run's input, {"item": "book", "amount": 20}; outputs {"reservation": "res-book"}. */
static OmnitronStatus reserve(const char *input, const OmnitronStageContext *ctx, OmnitronStageOutput *out, void *ud) {
    (void)ctx; /* ctx->idempotency_key: pass it to the inventory service */
    {{pascal}}Inventory *inventory = ud;
    char item[64];
    if (!json_string(input, "item", item, sizeof item)) {
        omnitron_callback_error("the input needs an \"item\"");
        return OMNITRON_STATUS_INVALID_ARGUMENT;
    }
    atomic_fetch_add(&inventory->reserved, 1);
    char output[128];
    snprintf(output, sizeof output, "{\"reservation\": \"res-%s\"}", item);
    return omnitron_stage_output_set(out, output);
}

/* reserve's compensation: gets reserve's output and releases the reservation. */
static OmnitronStatus release(const char *reserved, const OmnitronStageContext *ctx, void *ud) {
    (void)reserved;
    (void)ctx;
    {{pascal}}Inventory *inventory = ud;
    atomic_fetch_add(&inventory->released, 1);
    return OMNITRON_STATUS_OK;
}

/* charge: gets reserve's output, and reads the amount from the run's input. */
static OmnitronStatus charge(const char *reserved, const OmnitronStageContext *ctx, OmnitronStageOutput *out, void *ud) {
    (void)ud;
    long amount = 0;
    if (!json_long(ctx->workflow_input, "amount", &amount)) {
        omnitron_callback_error("the input needs an \"amount\"");
        return OMNITRON_STATUS_INVALID_ARGUMENT;
    }
    if (amount > {{snake}}_workflow_limit) {
        char why[96];
        snprintf(why, sizeof why, "charge of %ld declined (limit %d)", amount, {{snake}}_workflow_limit);
        omnitron_callback_error(why);
        return OMNITRON_STATUS_CALLBACK_FAILED;
    }
    char reservation[64] = "";
    json_string(reserved, "reservation", reservation, sizeof reservation);
    char output[160];
    snprintf(output, sizeof output, "{\"charged\": %ld, \"for\": \"%s\"}", amount, reservation);
    return omnitron_stage_output_set(out, output);
}

OmnitronStatus {{snake}}_workflow_register(OmnitronWorkflowEngine *engine, {{pascal}}Inventory *inventory) {
    OmnitronWorkflow *wf = NULL;
    OmnitronStatus s = omnitron_workflow_new({{snake}}_workflow_name, &wf);
    if (s == OMNITRON_STATUS_OK) s = omnitron_workflow_add_stage(wf, "reserve", reserve, inventory, NULL);
    if (s == OMNITRON_STATUS_OK) s = omnitron_workflow_stage_timeout(wf, "reserve", 5000);
    if (s == OMNITRON_STATUS_OK) s = omnitron_workflow_compensate(wf, "reserve", release, inventory, NULL);
    if (s == OMNITRON_STATUS_OK) s = omnitron_workflow_add_stage(wf, "charge", charge, NULL, NULL);
    if (s == OMNITRON_STATUS_OK) s = omnitron_workflow_stage_depends_on(wf, "charge", "reserve");
    if (s == OMNITRON_STATUS_OK) s = omnitron_workflow_engine_register(engine, wf);
    omnitron_workflow_free(wf); /* the engine keeps a copy */
    return s;
}
