"""The spec's section 1.3 examples (IPC and events) in Python's idiom: ``PaymentService`` with a
``@public`` method, ``OrderService`` calling it through a proxy from another process, and
``NotificationService`` with ``@on_event("order.created")`` and ``@emit_event("notification.sent")``.
Stubs: the payment gateway (``self.stripe``) and ``send_email``.

Run as a script (``python rpc_spec.py ADDRESS TOKEN``) it is the other process of
``test_rpc_events.py``'s spec test: it connects, builds ``OrderService`` and exposes
``NotificationService``, says ``ready``, then runs ``order TOTAL EMAIL`` and ``notify`` lines read on
stdin, answering a line each; ``email TO`` lines are the stub mailer."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from omnitron import Peer, ServiceProxy, emit_event, on_event, public, service

charged: list[float] = []


class Stripe:
    """Stub: the payment gateway."""

    async def charge(self, amount: float) -> dict[str, Any]:
        charged.append(amount)
        return {"id": f"ch_{len(charged)}", "amount": amount}


@service("payment@1.0.0")
class PaymentService:
    def __init__(self) -> None:
        self.stripe = Stripe()

    @public
    async def process_payment(self, amount: float) -> dict[str, Any]:
        # Available over RPC to other processes.
        return await self.stripe.charge(amount)


class OrderService:
    """In another process: the payment service through its proxy."""

    def __init__(self, payment: ServiceProxy) -> None:
        self.payment = payment

    async def create_order(self, order: dict[str, Any]) -> None:
        result = await self.payment.process_payment(order["total"])
        assert result["amount"] == order["total"]


@service("notifications")
class NotificationService:
    @on_event("order.created")
    async def handle_order_created(self, order: dict[str, Any]) -> None:
        # Subscribed to events from every process once exposed.
        await self.send_email(order["customer_email"])

    @emit_event("notification.sent")
    async def send_notification(self, data: Any) -> dict[str, Any]:
        # Published to every process.
        return {"sent_at": time.time()}

    async def send_email(self, to: str) -> None:
        """Stub: the mailer."""
        print("email", to, flush=True)


async def main(address: str, token: str) -> None:
    peer = await Peer.connect(address, name="orders", token=token)
    orders = OrderService(await peer.query_interface("payment@^1"))
    notifications = NotificationService()
    await peer.expose(notifications)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        cmd, *rest = line.split()
        try:
            if cmd == "order":
                await orders.create_order({"total": float(rest[0]), "customer_email": rest[1]})
                print("ordered", flush=True)
            elif cmd == "notify":
                await notifications.send_notification({"to": "ann@example.com"})
                print("notified", flush=True)
        except Exception as e:  # noqa: BLE001 - reported to the test
            print("error", e, flush=True)
    await peer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
