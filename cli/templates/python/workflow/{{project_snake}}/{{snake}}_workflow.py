"""The {{kebab}} saga: `reserve`, then `charge`; when `charge` fails, `release` undoes `reserve`.

Register it on a workflow engine and run it::

    async with WorkflowEngine.open("runs.db") as engine:   # a journal: runs survive restarts
        engine.register({{pascal}}Workflow())
        outputs = await engine.run("{{kebab}}", {"id": "o-1", "amount": 40}, run_id="o-1")

A stage gets the run's input (no dependency) or its dependency's output, and optionally a
StageContext. Values cross as JSON. A real saga calls other services in its stages, passing
`ctx.idempotency_key` so that a retried stage is not applied twice.
"""

from typing import Any

from omnitron import StageContext, compensate, stage, workflow

#: Charges above this fail (a stand-in for a payment that can be declined).
LIMIT = 100


@workflow("{{kebab}}", timeout=30.0, retries=0)
class {{pascal}}Workflow:
    def __init__(self) -> None:
        #: What happened, in order.
        self.log: list[str] = []

    @stage("reserve", retries=2)
    async def reserve(self, order: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        self.log.append(f"reserve:{ctx.idempotency_key}")
        return {"reservation": f"r-{order['id']}", "amount": order["amount"]}

    @stage("charge", depends_on="reserve")
    async def charge(self, reserved: dict[str, Any]) -> dict[str, Any]:
        if reserved["amount"] > LIMIT:
            raise ValueError(f"amount {reserved['amount']} is over the limit of {LIMIT}")
        self.log.append(f"charge:{reserved['amount']}")
        return {"charged": reserved["amount"]}

    # Runs only if a later stage fails, with what `reserve` returned.
    @compensate("reserve")
    async def release(self, reserved: dict[str, Any]) -> None:
        self.log.append(f"release:{reserved['reservation']}")
