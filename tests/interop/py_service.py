"""The Python side of the cross-language test: hosts inventory@1.0.0, calls the Node service
payment@1.0.0 (Python calling Node), and answers interop.hello with interop.ack.python."""

import asyncio
import sys

from omnitron import Peer, on_event, public, service


@service("inventory@1.0.0")
class Inventory:
    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    @public
    async def reserve(self, sku: str, qty: int) -> dict:
        return {"sku": sku, "qty": qty, "by": "python"}

    @on_event("interop.hello")
    async def hello(self, payload: object) -> None:
        await self.peer.publish("interop.ack.python", "python")


async def main() -> None:
    peer = await Peer.connect(sys.argv[1], name="py-inventory", token=sys.argv[2])
    await peer.expose(Inventory(peer))
    print("ready", flush=True)
    # Python calling Node.
    payment = await peer.query_interface("payment@^1")
    result = await payment.charge(12.5, "EUR")
    await peer.publish("interop.python.called", result)
    await asyncio.sleep(60)


asyncio.run(main())
