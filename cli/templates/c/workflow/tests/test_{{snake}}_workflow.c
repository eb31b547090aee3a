/* The {{kebab}} saga on an in-memory engine: a run that completes, and one whose declined charge
 * releases the reservation. */
#include "check.h" /* first: it sets the POSIX feature macro */

#include "{{snake}}_workflow.h"

static void every_stage_runs_in_order(void) {
    {{pascal}}Inventory inventory = {0};
    OmnitronWorkflowEngine *engine = NULL;
    OK(omnitron_workflow_engine_open(NULL, &engine));
    OK({{snake}}_workflow_register(engine, &inventory));
    OmnitronBuffer out = {0};
    OK(omnitron_workflow_run(engine, {{snake}}_workflow_name, "{\"item\": \"book\", \"amount\": 20}", NULL, &out));
    CHECK(contains(out.data, "\"reservation\":\"res-book\""));
    CHECK(contains(out.data, "\"charged\":20"));
    omnitron_free(out.data);
    CHECK(inventory.reserved == 1 && inventory.released == 0);
    omnitron_workflow_engine_free(engine);
}

static void a_declined_charge_releases_the_reservation(void) {
    {{pascal}}Inventory inventory = {0};
    OmnitronWorkflowEngine *engine = NULL;
    OK(omnitron_workflow_engine_open(NULL, &engine));
    OK({{snake}}_workflow_register(engine, &inventory));
    OmnitronBuffer out = {0};
    CHECK(omnitron_workflow_run(engine, {{snake}}_workflow_name, "{\"item\": \"piano\", \"amount\": 5000}", "order-1",
                                &out) == OMNITRON_STATUS_STAGE_FAILED);
    CHECK(contains(omnitron_last_error_message(), "declined"));
    CHECK(out.data == NULL);
    CHECK(inventory.reserved == 1 && inventory.released == 1);
    OK(omnitron_workflow_get(engine, "order-1", &out));
    CHECK(contains(out.data, "\"state\":\"compensated\""));
    omnitron_free(out.data);
    omnitron_workflow_engine_free(engine);
}

int main(void) {
    every_stage_runs_in_order();
    a_declined_charge_releases_the_reservation();
    return check_done("test_{{snake}}_workflow");
}
