/*
 * The {{kebab}} saga: `reserve` then `charge`. When `charge` fails for good, the completed `reserve`
 * is compensated (its compensation gets reserve's output and releases the reservation), so a run
 * either completes or leaves nothing behind:
 *
 *   OmnitronWorkflowEngine *engine;
 *   omnitron_workflow_engine_open(NULL, &engine);            // or a file: a journal that survives restarts
 *   {{snake}}_workflow_register(engine, &inventory);
 *   omnitron_workflow_run(engine, {{snake}}_workflow_name, "{\"item\": \"book\", \"amount\": 20}", NULL, &out);
 */
#pragma once

#include "omnitron.h"

/* The workflow's name: "{{kebab}}". */
extern const char {{snake}}_workflow_name[];

/* Charges above this are declined (a stand-in for a payment service saying no). */
enum { {{snake}}_workflow_limit = 1000 };

/* What the stages act on: counters standing in for an inventory service (a real stage calls one,
 * passing ctx->idempotency_key so a repeated attempt is not applied twice). Yours; it must outlive
 * the engine's runs. */
typedef struct {{pascal}}Inventory {
    _Atomic int reserved;
    _Atomic int released;
} {{pascal}}Inventory;

/* Registers the saga on `engine`, its stages acting on `inventory`. */
OmnitronStatus {{snake}}_workflow_register(OmnitronWorkflowEngine *engine, {{pascal}}Inventory *inventory);
