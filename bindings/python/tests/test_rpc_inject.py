"""``inject_process`` (the spec's ``@InjectProcess``), ``Peer.proxy`` and ``Peer.default``, over a
real socket: a class attribute that is a proxy of a remote service through the default peer (or a
given one), proxies that do not look the service up, and ``@emit_event`` publishing through the
default peer when no peer exposes the instance."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

import pytest

from omnitron import Peer, emit_event, inject_process, proxy_info, public, service
from omnitron.errors import InvalidArgumentError, MethodNotFoundError, NotConnectedError, ServiceNotFoundError

TOKEN = "inject-secret"


def address() -> str:
    return f"unix:{tempfile.mkdtemp()}/private/rpc.sock"


@service("payment@1.2.0")
class PaymentService:
    @public
    async def charge(self, amount: float) -> dict[str, Any]:
        return {"charged": amount}


class OrderService:
    payment = inject_process(PaymentService)
    ranged = inject_process("payment@^1")

    async def create_order(self, total: float) -> dict[str, Any]:
        result: dict[str, Any] = await self.payment.charge(total)
        return result


def test_inject_process_calls_through_the_default_peer_and_keeps_the_proxy() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        await server.expose(PaymentService())
        client = await Peer.connect(addr, token=TOKEN)
        try:
            assert Peer.default is client, "the last peer created is the default"
            orders = OrderService()
            assert await orders.create_order(12.5) == {"charged": 12.5}
            assert orders.payment is orders.payment, "made once per instance"
            assert await orders.ranged.charge(3) == {"charged": 3}
            assert proxy_info(orders.payment) is None, "it did not look the service up"
            assert isinstance(OrderService.payment, inject_process)
            assert OrderService.payment.target == "payment@1.2.0"
            # A method the service does not have is the callee's RPC002.
            with pytest.raises(MethodNotFoundError):
                await orders.payment.refund(1)
        finally:
            await client.close()
            await server.close()
        assert Peer.default is None, "closing the default peer forgets it"
        with pytest.raises(NotConnectedError, match="no peer"):
            OrderService().payment  # noqa: B018 - the access is the test

    asyncio.run(main())


def test_inject_process_with_a_given_peer_and_peer_proxy() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        await server.expose(PaymentService())
        client = await Peer.connect(addr, token=TOKEN)
        other = await Peer.connect(addr, token=TOKEN)  # now the default

        class Billing:
            payment = inject_process(PaymentService, peer=client)
            lazy = inject_process("payment", peer=lambda: client)

        try:
            b = Billing()
            assert await b.payment.charge(1) == {"charged": 1}
            assert await b.lazy.charge(2) == {"charged": 2}
            p = client.proxy("payment@^1", deadline=5.0)
            assert await p.charge(4) == {"charged": 4}
            assert "unchecked" in repr(p)
            with pytest.raises(ServiceNotFoundError):
                await client.proxy("nothing@1").anything()
            with pytest.raises(InvalidArgumentError, match="did you mean 'deadline'"):
                client.proxy("payment", deadlin=1)  # type: ignore[call-arg]
            with pytest.raises(InvalidArgumentError):
                client.proxy("")
        finally:
            await other.close()
            await client.close()
            await server.close()

    asyncio.run(main())


def test_inject_process_refuses_what_is_not_a_service() -> None:
    class Plain:
        pass

    for bad in (Plain, 3, None, "", "   "):
        with pytest.raises(InvalidArgumentError):
            inject_process(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        inject_process(PaymentService, peer=42)  # type: ignore[arg-type]


@service("mailer")
class Mailer:
    @emit_event("mail.sent")
    async def send(self, to: str) -> dict[str, str]:
        return {"to": to}


def test_emit_event_publishes_through_the_default_peer_when_no_peer_exposes_the_instance() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        client = await Peer.connect(addr, token=TOKEN)
        got: list[Any] = []
        await server.subscribe("mail.#", lambda payload, topic: got.append((topic, payload)))
        try:
            await Mailer().send("ann@example.com")  # not exposed: Peer.default (client) publishes
            for _ in range(200):
                if got:
                    break
                await asyncio.sleep(0.01)
            assert got == [("mail.sent", {"to": "ann@example.com"})]
        finally:
            await client.close()
            await server.close()

    asyncio.run(main())
