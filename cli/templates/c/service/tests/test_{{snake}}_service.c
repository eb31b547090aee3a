/* {{kebab}}@1.0.0: its state directly, then its methods over RPC between two peers of this test. */
#include "check.h" /* first: it sets the POSIX feature macro */

#include "{{snake}}_service.h"

static void records_add_up(void) {
    {{pascal}}Service svc = {0};
    CHECK({{snake}}_service_record(&svc, 2) == 2);
    CHECK({{snake}}_service_record(&svc, 3) == 5);
    CHECK({{snake}}_service_record(&svc, 0) == -1);
    CHECK(svc.total == 5);
}

static void answers_over_rpc(void) {
    {{pascal}}Service svc = {0};
    RpcPair rpc;
    CHECK(rpc_pair(&rpc));
    OmnitronService *service = NULL;
    OK({{snake}}_service_new(&svc, &service));
    OK(omnitron_peer_expose_service(rpc.server, service));
    omnitron_service_free(service);

    OmnitronBuffer out = {0};
    OK(omnitron_peer_call_json(rpc.client, "{{kebab}}@^1", "record", "[250]", 0, &out));
    CHECK(contains(out.data, "250"));
    omnitron_free(out.data);
    OK(omnitron_peer_call_json(rpc.client, "{{kebab}}", "total", NULL, 0, &out));
    CHECK(contains(out.data, "250"));
    omnitron_free(out.data);
    /* Errors come back with their status and message. */
    CHECK(omnitron_peer_call_json(rpc.client, "{{kebab}}", "record", "[-5]", 0, &out) == OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "must be positive"));
    rpc_pair_free(&rpc);
}

int main(void) {
    records_add_up();
    answers_over_rpc();
    return check_done("test_{{snake}}_service");
}
