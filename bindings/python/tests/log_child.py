"""Run by test_log.py in a process of its own (the logger is one per process): Python logging
through the application's logger, from a handler called inside a span and outside any call."""

import asyncio
import logging
import sys
import tempfile

from omnitron import Peer, current_trace, log, public, service, span

log.install()
orders = logging.getLogger("orders.payment")


@service("inventory@1.0.0")
class Inventory:
    @public
    async def reserve(self, sku: str) -> int:
        logging.getLogger("inventory").info("reserving %s", sku, extra={"sku": sku, "qty": 2})
        logging.getLogger("inventory").debug("not written: the module is at info")
        return len(sku)

    @public
    def reserve_sync(self, sku: str) -> int:
        logging.getLogger("inventory").warning("sync %s", sku)
        return len(sku)


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        addr = f"unix:{d}/private/rpc.sock"
        server = await Peer.listen(addr, name="server")
        await server.expose(Inventory())
        client = await Peer.connect(addr, name="client")
        with span("place-order"):
            await client.call("inventory@1.0.0", "reserve", "a-1")
            await client.call("inventory@1.0.0", "reserve_sync", "b-22")
            trace = current_trace()
        assert trace is not None
        print(trace[0], flush=True)
        try:
            raise ValueError("card declined")
        except ValueError:
            orders.exception("charge failed", extra={"order_id": 42})
        orders.debug("not yet")
        log.set_level("orders", "debug")
        orders.debug("now at debug")
        logging.getLogger().info("root %d", 1)
        await client.close()
        await server.close()


asyncio.run(main())
sys.exit(0)
