"""The Python hop of the cross-language trace test: hosts inventory@1.0.0, whose reserve() calls
the C service shipping@1.0.0; answers with what it saw as its trace context (the engine's and
OpenTelemetry's). Logs through the application's logger (`logging`)."""

import asyncio
import logging
import sys
from typing import Any

from opentelemetry import trace

from omnitron import Peer, current_trace, log, public, service

log.install()


@service("inventory@1.0.0")
class Inventory:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    @public
    async def reserve(self, sku: str) -> dict[str, Any]:
        sc = trace.get_current_span().get_span_context()
        logging.getLogger("inventory").info("reserving %s", sku, extra={"sku": sku})
        shipped = await self.peer.call("shipping", "ship", sku)
        return {"python": current_trace(), "otel": f"{sc.trace_id:032x}", "shipped": shipped}


async def main() -> None:
    peer = await Peer.connect(sys.argv[1], name="py-inventory", token=sys.argv[2])
    await peer.expose(Inventory(peer))
    print("ready", flush=True)
    # Until the test closes stdin; closing the peer sends the last spans.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await peer.close()


asyncio.run(main())
