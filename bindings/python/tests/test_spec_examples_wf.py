"""The spec's examples of sections 2.4 (@Metric, @RateLimit, @CircuitBreaker), 2.6 (workflow
orchestration), 3.2 (process supervision) and 7.3 (metrics collection), in Python's idiom: the same
classes, stages, compensations, children, hooks and metrics, with snake_case decorators, proxies
handed to the workflow's constructor (where TypeScript uses ``@InjectProcess``) and stubs for what
the spec leaves out (the remote services, ``self.logger``, ``notify_ops``, ``alert_oncall``, the HTTP
client). Real peers on a real socket, real child processes."""

import asyncio
import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from omnitron import (
    REGISTRY,
    ChildInfo,
    Container,
    Peer,
    ServiceProxy,
    Supervisor,
    WorkflowEngine,
    child,
    circuit_breaker,
    compensate,
    generate_latest,
    injectable,
    metric,
    on_child_crash,
    on_child_restart,
    public,
    rate_limit,
    service,
    stage,
    supervisor,
    workflow,
)
from omnitron.errors import CircuitOpenError, RateLimitedError, StageFailedError
from prometheus_client.parser import text_string_to_metric_families

from spec_wf_services import ApiWorkerProcess, WebSocketProcess


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def address() -> str:
    return f"unix:{tempfile.mkdtemp(prefix='omni-spec-')}/rpc.sock"


# ---- 2.6 Workflow Orchestration -------------------------------------------------------------------

remote: list[str] = []


@service("inventory@1.0.0")
class InventoryService:
    @public
    async def reserve(self, items: list[dict[str, Any]]) -> dict[str, str]:
        remote.append("reserve " + ",".join(f"{i['qty']}x{i['sku']}" for i in items))
        return {"id": f"res-{len(items)}"}

    @public
    async def release(self, reservation_id: str) -> None:
        remote.append(f"release {reservation_id}")


@service("payment@1.0.0")
class PaymentService:
    @public
    async def charge(self, payment: dict[str, Any]) -> dict[str, str]:
        remote.append(f"charge {payment['amount']}")
        return {"id": f"pay-{payment['amount']}"}

    @public
    async def refund(self, payment_id: str) -> None:
        remote.append(f"refund {payment_id}")


@service("shipping@1.0.0")
class ShippingService:
    @public
    async def create(self, order: dict[str, Any]) -> dict[str, str]:
        if order["address"] == "nowhere":
            raise LookupError("no carrier delivers to nowhere")
        remote.append(f"ship {order['id']}")
        return {"tracking": f"track-{order['id']}"}


@workflow("order-processing", timeout=300.0, retries=3)
class OrderProcessingWorkflow:
    def __init__(self, inventory: ServiceProxy, payment: ServiceProxy, shipping: ServiceProxy) -> None:
        self.inventory = inventory
        self.payment = payment
        self.shipping = shipping

    @stage("validate-order")
    async def validate_order(self, order: dict[str, Any]) -> dict[str, Any]:
        return {"valid": True, "order": order}

    @stage("reserve-inventory", depends_on="validate-order", timeout=30.0)
    async def reserve_inventory(self, result: dict[str, Any]) -> dict[str, Any]:
        reservation = await self.inventory.reserve(result["order"]["items"])
        return {**result, "reservation": reservation}

    @compensate("reserve-inventory")
    async def release_inventory(self, result: dict[str, Any]) -> None:
        await self.inventory.release(result["reservation"]["id"])

    @stage("process-payment", depends_on="reserve-inventory", retries=3)
    async def process_payment(self, result: dict[str, Any]) -> dict[str, Any]:
        payment = await self.payment.charge(result["order"]["payment"])
        return {**result, "payment": payment}

    @compensate("process-payment")
    async def refund_payment(self, result: dict[str, Any]) -> None:
        await self.payment.refund(result["payment"]["id"])

    @stage("arrange-shipping", depends_on="process-payment")
    async def arrange_shipping(self, result: dict[str, Any]) -> dict[str, Any]:
        shipment = await self.shipping.create(result["order"])
        return {**result, "shipment": shipment, "status": "completed"}


def test_spec_2_6_order_processing_over_rpc_with_compensation_in_reverse() -> None:
    async def main() -> None:
        addr = address()
        async with await Peer.listen(addr, name="services") as services, await Peer.connect(addr, name="orders") as orders:
            for s in (InventoryService(), PaymentService(), ShippingService()):
                await services.expose(s)
            wf = OrderProcessingWorkflow(
                await orders.query_interface("inventory@^1"),
                await orders.query_interface("payment@^1"),
                await orders.query_interface("shipping@^1"),
            )
            async with WorkflowEngine.in_memory() as engine:
                assert engine.register(wf) == "order-processing"
                order = {"id": "o1", "items": [{"sku": "book", "qty": 2}], "payment": {"amount": 30, "card": "4242"}, "address": "Main St 1"}
                out = await engine.run(OrderProcessingWorkflow, order, run_id="o1")
                assert out["arrange-shipping"] == {
                    "valid": True,
                    "order": order,
                    "reservation": {"id": "res-1"},
                    "payment": {"id": "pay-30"},
                    "shipment": {"tracking": "track-o1"},
                    "status": "completed",
                }
                assert remote == ["reserve 2xbook", "charge 30", "ship o1"]
                remote.clear()

                lost = {**order, "id": "o2", "address": "nowhere"}
                with pytest.raises(StageFailedError, match="arrange-shipping") as e:
                    await engine.run(OrderProcessingWorkflow, lost, run_id="o2")
                assert "no carrier delivers to nowhere" in str(e.value.errors[0])
                assert remote == ["reserve 2xbook", "charge 30", "refund pay-30", "release res-1"]
                info = await engine.get("o2")
                assert info.state == "compensated" and info.attempts == 4
                assert [(s.name, s.state) for s in info.stages] == [
                    ("validate-order", "completed"),
                    ("reserve-inventory", "compensated"),
                    ("process-payment", "compensated"),
                    ("arrange-shipping", "failed"),
                ]

    asyncio.run(main())


# ---- 3.2 Process Supervision ----------------------------------------------------------------------

ops: list[str] = []


@dataclass
class Logger:  # stub
    lines: list[str] = field(default_factory=list)

    def error(self, fields: dict[str, Any], message: str) -> None:
        ops.append(f"log {fields['child']['name']} {message}")


@supervisor(strategy="one-for-one", max_restarts=3, window=60.0)
class ApiSupervisor:
    api_worker = child.python(ApiWorkerProcess, instances=4, cwd=os.path.dirname(__file__))
    websocket_handler = child.python(WebSocketProcess, instances=2, cwd=os.path.dirname(__file__))

    logger = Logger()  # stub

    @on_child_crash
    async def handle_crash(self, child: ChildInfo, error: str) -> None:
        self.logger.error({"child": child, "error": error}, "Child process crashed")
        await self.notify_ops(child, error)

    @on_child_restart
    async def handle_restart(self, child: ChildInfo, attempt: int) -> None:
        if attempt > 2:
            await self.alert_oncall("Process failing repeatedly")

    async def notify_ops(self, child: ChildInfo, error: str) -> None:  # stub
        ops.append(f"notify {child['name']}#{child['index']}: {error}")

    async def alert_oncall(self, message: str) -> None:  # stub
        ops.append(f"alert {message}")


def test_spec_3_2_api_supervisor_restarts_a_killed_child_and_its_hooks_see_it() -> None:
    async def eventually(f: Any, secs: float = 30.0) -> None:
        until = time.monotonic() + secs
        while time.monotonic() < until:
            if await f():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("timed out")

    async def main() -> None:
        async with Supervisor.from_class(ApiSupervisor) as sup:
            children = await sup.children()
            assert [(c["name"], c["index"], c["state"]) for c in children] == [("api_worker", i, "running") for i in range(4)] + [
                ("websocket_handler", i, "running") for i in range(2)
            ]
            for round in (1, 2, 3):
                victim = (await sup.children())[2]
                assert victim["pid"] is not None
                os.kill(victim["pid"], signal.SIGKILL)

                async def restarted(round: int = round, pid: Optional[int] = victim["pid"]) -> bool:
                    c = (await sup.children())[2]
                    return c["state"] == "running" and c["pid"] != pid and c["restarts"] == round

                await eventually(restarted)
            assert ops.count("log api_worker Child process crashed") == 3
            assert len([o for o in ops if o.startswith("notify api_worker#2:") and "signal 9" in o]) == 3, ops
            assert [o for o in ops if o.startswith("alert")] == ["alert Process failing repeatedly"]
            others = [c for i, c in enumerate(await sup.children()) if i != 2]
            assert all(c["restarts"] == 0 and c["state"] == "running" for c in others)
        assert sup.state == "stopped"

    asyncio.run(main())


# ---- 2.4 Service Layer: @Metric, @RateLimit, @CircuitBreaker --------------------------------------

api_calls = 0


class Repository:  # stub
    async def find_one(self, user_id: str) -> dict[str, str]:
        return {"id": user_id, "name": f"user {user_id}"}


class HttpClient:  # stub
    async def get(self, url: str) -> Any:
        global api_calls
        api_calls += 1
        raise ConnectionError("upstream unavailable")


@injectable
@service("users@1.0.0")
class UsersService:
    def __init__(self) -> None:
        self.repository = Repository()
        self.http_client = HttpClient()

    @public
    @metric("users.find_one")
    async def find_one(self, user_id: str) -> dict[str, str]:
        return await self.repository.find_one(user_id)

    @rate_limit(points=10, duration=60)
    @circuit_breaker(threshold=5, timeout=60.0)
    async def call_external_api(self, user_id: str) -> Any:
        return await self.http_client.get(f"/api/users/{user_id}")


def test_spec_2_4_metric_rate_limit_and_circuit_breaker() -> None:
    async def main() -> None:
        c = Container()
        c.register(UsersService)
        users = c.resolve(UsersService)
        addr = address()
        async with await Peer.listen(addr, name="users") as server, await Peer.connect(addr, name="web") as client:
            await server.expose(users)
            proxy = await client.query_interface("users@^1")
            assert await proxy.find_one("7") == {"id": "7", "name": "user 7"}
            await proxy.find_one("8")
        s = samples(generate_latest().decode())
        assert s[("method_calls_total", (("method", "users.find_one"),))] == 2
        assert s[("method_duration_seconds_count", (("method", "users.find_one"),))] == 2

        for _ in range(5):
            with pytest.raises(ConnectionError):
                await users.call_external_api("u")
        assert api_calls == 5
        for _ in range(5):
            with pytest.raises(CircuitOpenError):
                await users.call_external_api("u")
        assert api_calls == 5
        with pytest.raises(RateLimitedError):
            await users.call_external_api("u")

    asyncio.run(main())


# ---- 7.3 Metrics Collection -----------------------------------------------------------------------


@injectable
class MetricsService:
    @metric("orders_total", type="counter", help="Total number of orders", labelnames=["status", "payment_method"])
    def increment_orders(self, status: str, payment_method: str) -> None:
        pass  # increments the Prometheus counter

    @metric("order_processing_duration", type="histogram", help="Order processing duration in seconds", buckets=[0.1, 0.5, 1, 2, 5, 10])
    def record_processing_time(self, duration: float) -> None:
        pass  # records the histogram

    @metric("active_connections", type="gauge", help="Number of active connections")
    def set_active_connections(self, count: int) -> None:
        pass  # sets the gauge


def test_spec_7_3_metrics_service_records_into_the_default_registry() -> None:
    c = Container()
    c.register(MetricsService)
    m = c.resolve(MetricsService)
    m.increment_orders("paid", "card")
    m.increment_orders("paid", "card")
    m.increment_orders("failed", "paypal")
    m.record_processing_time(0.7)
    m.record_processing_time(3)
    m.set_active_connections(12)
    s = samples(REGISTRY.generate_latest())
    assert s[("orders_total", (("payment_method", "card"), ("status", "paid")))] == 2
    assert s[("orders_total", (("payment_method", "paypal"), ("status", "failed")))] == 1
    assert s[("order_processing_duration_bucket", (("le", "1.0"),))] == 1
    assert s[("order_processing_duration_bucket", (("le", "5.0"),))] == 2
    assert s[("order_processing_duration_sum", ())] == pytest.approx(3.7)
    assert s[("active_connections", ())] == 12
