/*
 * The greeter end to end: resolved through DI, called over RPC between two peers of this test, and
 * served by this project's own program as a pool worker (as `omnitron start` runs it).
 */
#include "check.h"
#include "greeter.h"

static void resolves_through_di(void) {
    OmnitronToken *token = NULL;
    OmnitronModule *module = NULL;
    OmnitronContainer *container = NULL;
    void *first = NULL, *again = NULL;
    OK(omnitron_token_new("Greeter", &token));
    OK(greeter_module_new("Hello", token, &module));
    OK(omnitron_container_new_from_module(module, &container));
    omnitron_module_free(module);
    OK(omnitron_container_resolve(container, token, &first));
    OK(omnitron_container_resolve(container, token, &again));
    CHECK(first != NULL && first == again); /* a singleton */
    char line[64];
    greeter_greet(first, "Ada", line, sizeof line);
    CHECK(strcmp(line, "Hello, Ada!") == 0);
    OK(omnitron_container_dispose(container)); /* frees what it built */
    omnitron_container_free(container);
    omnitron_token_free(token);
}

static void answers_over_rpc(void) {
    Greeter greeter = {.greeting = "Hi"};
    RpcPair rpc;
    CHECK(rpc_pair(&rpc));
    OmnitronService *service = NULL;
    OK(greeter_service_new(&greeter, &service));
    OK(omnitron_peer_expose_service(rpc.server, service));
    omnitron_service_free(service);

    OmnitronBuffer out = {0};
    OK(omnitron_peer_call_json(rpc.client, "greeter@^1", "greet", "[\"Grace\"]", 0, &out));
    CHECK(contains(out.data, "\"Hi, Grace!\""));
    omnitron_free(out.data);
    /* A bad argument fails the call with its code and message. */
    CHECK(omnitron_peer_call_json(rpc.client, "greeter", "greet", "[42]", 0, &out) == OMNITRON_STATUS_INVALID_ARGUMENT);
    CHECK(contains(omnitron_last_error_message(), "a name"));
    rpc_pair_free(&rpc);
}

static void the_program_is_a_worker(void) {
    OmnitronPool *pool = NULL;
    OK(omnitron_pool_start("{\"name\": \"greeter\", \"command\": [\"" APP_PATH "\"], \"size\": 1,"
                           " \"env\": {\"GREETING\": \"Welcome\"}}",
                           &pool));
    OmnitronBuffer out = {0};
    OK(omnitron_pool_exec_json(pool, "greet", "[\"Linus\"]", &out));
    CHECK(contains(out.data, "\"Welcome, Linus!\""));
    omnitron_free(out.data);
    omnitron_pool_free(pool);
}

int main(void) {
    resolves_through_di();
    answers_over_rpc();
    the_program_is_a_worker();
    return check_done("test_greeter");
}
