#include "{{snake}}_service.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

long {{snake}}_service_record({{pascal}}Service *svc, long amount) {
    if (amount <= 0) return -1;
    return atomic_fetch_add(&svc->total, amount) + amount;
}

/* Every method of the service. Handlers run on engine threads, several at once: the state is
 * atomic. `args` is the JSON array of arguments; the reply is JSON too. */
static OmnitronStatus handle(const char *method, const uint8_t *args, size_t len, OmnitronReply *reply, void *ud) {
    (void)len;
    {{pascal}}Service *svc = ud;
    long result = 0;
    if (strcmp(method, "record") == 0) {
        long amount = 0;
        if (sscanf((const char *)args, " [ %ld ]", &amount) != 1) {
            omnitron_callback_error("record takes one argument: an integer amount");
            return OMNITRON_STATUS_INVALID_ARGUMENT;
        }
        result = {{snake}}_service_record(svc, amount);
        if (result < 0) {
            /* The status and this message reach the caller, whatever its language. */
            omnitron_callback_error("the amount must be positive");
            return OMNITRON_STATUS_INVALID_ARGUMENT;
        }
    } else if (strcmp(method, "total") == 0) {
        result = atomic_load(&svc->total);
    } else {
        return OMNITRON_STATUS_METHOD_NOT_FOUND;
    }
    char out[32];
    int n = snprintf(out, sizeof out, "%ld", result);
    return omnitron_reply_set(reply, (const uint8_t *)out, (size_t)n);
}

OmnitronStatus {{snake}}_service_new({{pascal}}Service *svc, OmnitronService **out) {
    OmnitronStatus s = omnitron_service_new("{{kebab}}", "1.0.0", out);
    if (s == OMNITRON_STATUS_OK) s = omnitron_service_add_method(*out, "record", OMNITRON_FORMAT_JSON, handle, svc, NULL);
    if (s == OMNITRON_STATUS_OK) s = omnitron_service_add_method(*out, "total", OMNITRON_FORMAT_JSON, handle, svc, NULL);
    if (s != OMNITRON_STATUS_OK) {
        omnitron_service_free(*out);
        *out = NULL;
    }
    return s;
}
