"""The spec's examples of sections 1.3, 2.3, 2.4, 2.6, 3.2, 3.3 and 7.3 in Python's idiom: the same
classes, modules, stages, children, pools and metrics, with snake_case decorators, ``inject_process``
for ``@InjectProcess`` and stubs (each marked "stub") for what the spec uses but does not show (a
payment gateway, a repository, worker classes, in spec_workers.py) and for the decorators of later
issues that section 2.4 uses (``inject_logger``, ``inject_repository``, ``inject_cache``, ``cache``,
``trace``, ``transactional``, ``validate``, ``audit``: HTTP validation is issue 19, tracing and logs
issue 21). Each section is a function returning its classes, so that the spec's names (three
``UsersService``, two ``PaymentService``) stay as written. Real peers on real sockets, real child
processes. Run as a script (``python test_spec_examples.py ADDRESS TOKEN``), this file is section
1.3's other process."""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace
from typing import Any, Callable, Optional

import pytest
from prometheus_client.parser import text_string_to_metric_families

from omnitron import (
    REGISTRY,
    ChildInfo,
    DynamicModule,
    Inject,
    Omnitron,
    Peer,
    Supervisor,
    WorkflowEngine,
    child,
    circuit_breaker,
    compensate,
    create_token,
    emit_event,
    generate_latest,
    inject_process,
    injectable,
    metric,
    module,
    on_child_crash,
    on_child_restart,
    on_event,
    process_pool,
    provide,
    public,
    rate_limit,
    service,
    stage,
    supervisor,
    workflow,
)
from omnitron.errors import CircuitOpenError, NotExportedError, RateLimitedError, StageFailedError

from spec_workers import ApiWorkerProcess, DataProcessor, WebSocketProcess

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "spec-secret"


def address() -> str:
    return f"unix:{tempfile.mkdtemp(prefix='omni-spec-')}/private/rpc.sock"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


async def eventually(what: str, f: Callable[[], Any], secs: float = 30.0) -> None:
    until = time.monotonic() + secs
    while time.monotonic() < until:
        r = f()
        if await r if asyncio.iscoroutine(r) else r:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {secs} s: {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


# ==== 1.3 Communication Patterns ===================================================================


def spec_1_3() -> SimpleNamespace:
    charged: list[float] = []
    mailbox: list[str] = []

    class Stripe:  # stub: the payment gateway
        async def charge(self, amount: float) -> dict[str, Any]:
            charged.append(amount)
            return {"id": f"ch_{len(charged)}", "amount": amount}

    # Type-safe RPC across process boundaries
    @service("payment@1.0.0")
    class PaymentService:
        stripe = Stripe()  # stub

        @public
        async def process_payment(self, amount: float) -> dict[str, Any]:
            # Available via RPC to other processes
            return await self.stripe.charge(amount)

    # In another process
    @injectable
    class OrderService:
        payment = inject_process(PaymentService)

        async def create_order(self, order: dict[str, Any]) -> None:
            # A remote call
            result = await self.payment.process_payment(order["total"])
            assert result["amount"] == order["total"]

    @service("notifications")
    class NotificationService:
        @on_event("order.created")
        async def handle_order_created(self, order: dict[str, Any]) -> None:
            # Subscribed to distributed events
            await self.send_email(order["customer_email"])

        @emit_event("notification.sent")
        async def send_notification(self, data: Any) -> dict[str, Any]:
            # Events propagate across all processes
            return {"sent_at": time.time()}

        async def send_email(self, to: str) -> None:  # stub: the mailer
            mailbox.append(to)
            print("email", to, flush=True)

    return SimpleNamespace(**locals())


async def orders_process(address: str) -> None:
    """Section 1.3's other process: OrderService and NotificationService, connected to the hub."""
    s = spec_1_3()

    @module(providers=[s.OrderService, s.NotificationService])
    class OrdersModule:
        pass

    peer = await Peer.connect(address, name="orders", token=TOKEN)
    # Exposes every @service among the providers: NotificationService, subscribed when this returns.
    app = await Omnitron.create(OrdersModule, peer=peer)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        cmd, *rest = line.split()
        try:
            if cmd == "order":
                await app.get(s.OrderService).create_order({"total": float(rest[0]), "customer_email": rest[1]})
                print("ordered", flush=True)
            elif cmd == "notify":
                await app.get(s.NotificationService).send_notification({"to": "ann@example.com"})
                print("notified", flush=True)
        except Exception as e:  # noqa: BLE001 - reported to the test
            print("error", e, flush=True)
    await app.close()
    await peer.close()


class ChildProcess:
    """A Python child process spoken to through its stdin and stdout."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE)

    async def line(self) -> str:
        assert self.proc.stdout is not None
        out = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, self.proc.stdout.readline), 20)
        return str(out).strip()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_spec_1_3_payment_here_orders_and_notifications_in_another_process() -> None:
    s = spec_1_3()

    async def main() -> None:
        addr = address()
        hub = await Peer.listen(addr, name="payments", token=TOKEN)
        await hub.expose(s.PaymentService())
        sent: list[tuple[str, Any]] = []
        await hub.subscribe("notification.sent", lambda payload, topic: sent.append((topic, payload)))
        child = ChildProcess(__file__, addr)
        try:
            assert await child.line() == "ready"
            # NotificationService is subscribed once exposed: an order published at once reaches it.
            await hub.publish("order.created", {"total": 30, "customer_email": "ann@example.com"})
            assert await child.line() == "email ann@example.com"
            # OrderService.create_order calls PaymentService.process_payment here, through its proxy.
            child.send("order 42 bob@example.com")
            assert await child.line() == "ordered"
            assert s.charged == [42.0]
            # send_notification's result is published to every process.
            child.send("notify")
            assert await child.line() == "notified"
            await eventually("notification.sent arrives", lambda: len(sent) == 1)
            topic, payload = sent[0]
            assert topic == "notification.sent" and isinstance(payload["sent_at"], float)
            listed = sorted(f"{x['name']}@{x['version']}:{len(x['methods'])}" for x in hub.services())
            assert listed == ["notifications@1.0.0:0", "payment@1.0.0:1"]
        finally:
            child.stop()
            await hub.close()

    asyncio.run(main())


# ==== 2.3 Module System ===========================================================================


def spec_2_3() -> SimpleNamespace:
    # Stubs: the three infrastructure modules with for_root(), and the users feature's classes.
    log: list[str] = []
    config = create_token("Config")
    database_options = create_token("DatabaseOptions")

    @module
    class ConfigModule:
        @classmethod
        def for_root(cls) -> DynamicModule:
            return DynamicModule(cls, providers=[provide(config, use_value={"env": "test"})], exports=[config], is_global=True)

    class Database:
        migrated = False

        async def on_init(self) -> None:
            await asyncio.sleep(0.001)
            self.migrated = True
            log.append("database migrated")

    @module
    class DatabaseModule:
        @classmethod
        def for_root(cls, **options: Any) -> DynamicModule:
            return DynamicModule(cls, providers=[provide(database_options, use_value=options), Database], exports=[Database, database_options], is_global=True)

    class Redis:
        connected = True

    @module
    class RedisModule:
        @classmethod
        def for_root(cls) -> DynamicModule:
            return DynamicModule(cls, providers=[Redis], exports=[Redis], is_global=True)

    class UsersRepository:
        def __init__(self, db: Database) -> None:
            self.db = db

    class UsersService:
        def __init__(self, repository: UsersRepository, redis: Redis, config: Inject[config]) -> None:  # type: ignore[valid-type]
            self.repository, self.redis, self.config = repository, redis, config

        def find_one(self, id: str) -> dict[str, Any]:
            return {"id": id, "migrated": self.repository.db.migrated}

    controllers: list[Any] = []

    class UsersController:
        def __init__(self, users_service: UsersService) -> None:
            self.users_service = users_service
            controllers.append(self)
            log.append("controller built")

    class UsersWorkflow:
        pass

    class OrdersService:
        def __init__(self, users: UsersService) -> None:
            self.users = users

    # ---- users/module.py ----
    @module(
        # HTTP route registration (the controllers are providers until the HTTP layer, issue 19)
        controllers=[UsersController],
        # Dependency injection
        providers=[UsersService, UsersRepository, UsersWorkflow],
        # Export for other modules
        exports=[UsersService],
        # Process isolation (optional): checked and recorded
        process={"type": "service", "instances": "auto", "isolation": "thread"},
    )
    class UsersModule:
        pass

    @module(imports=[UsersModule], providers=[OrdersService], exports=[OrdersService])  # stub
    class OrdersModule:
        pass

    # ---- app/module.py ----
    @module(
        imports=[
            ConfigModule.for_root(),  # configuration loading
            DatabaseModule.for_root(type="postgres", auto_migrate=True),  # database with migration
            RedisModule.for_root(),  # caching and pub/sub
            UsersModule,  # business modules
            OrdersModule,
        ],
        providers=[],
        exports=[],
    )
    class AppModule:
        pass

    return SimpleNamespace(**locals())


def test_spec_2_3_root_and_feature_modules() -> None:
    s = spec_2_3()

    async def main() -> None:
        async with await Omnitron.create(s.AppModule) as app:
            assert s.log == ["database migrated", "controller built"], "initialize() ran on_init and built the controller"
            users = app.get(s.UsersService)
            assert users.find_one("u1") == {"id": "u1", "migrated": True}
            assert users.redis.connected and users.config == {"env": "test"}
            assert app.get(s.OrdersService).users is users
            assert s.controllers[0].users_service is users
            assert app.get(s.database_options) == {"type": "postgres", "auto_migrate": True}
            with pytest.raises(NotExportedError):
                app.get(s.UsersController)  # private to UsersModule

    asyncio.run(main())


# ==== 2.4 Service Layer ===========================================================================


def spec_2_4() -> SimpleNamespace:
    # Stubs: the decorators of later issues (they only record that they were used), the logger, the
    # repository, the cache, the HTTP client and the event emitter.
    used: set[str] = set()
    logged: list[str] = []
    users: dict[str, dict[str, Any]] = {}
    api_calls: list[str] = []

    def marker(name: str) -> Callable[..., Callable[[Any], Any]]:
        def options(*_: Any, **__: Any) -> Callable[[Any], Any]:
            def decorate(f: Any) -> Any:
                used.add(name)
                return f

            return decorate

        return options

    cache, trace, transactional, validate, audit = (marker(n) for n in ("cache", "trace", "transactional", "validate", "audit"))

    class Logger:
        def info(self, fields: dict[str, Any], message: str) -> None:
            logged.append(f"{message} {fields}")

    class Repository:
        async def find_one(self, id: str) -> Optional[dict[str, Any]]:
            return users.get(id)

        async def create(self, data: dict[str, Any]) -> dict[str, Any]:
            user = {"id": f"u{len(users) + 1}", **data}
            users[user["id"]] = user
            return user

    class HttpClient:
        async def get(self, url: str) -> Any:
            api_calls.append(url)
            raise ConnectionError("upstream unavailable")

    def inject_logger() -> Any:
        return Logger()

    def inject_repository(_entity: type) -> Any:
        return Repository()

    def inject_cache() -> Any:
        return {}

    class User:  # the entity
        pass

    @injectable
    @service("users@1.0.0")  # service registration
    class UsersService:
        logger = inject_logger()
        repository = inject_repository(User)
        cache_manager = inject_cache()
        http_client = HttpClient()  # stub

        @public  # exposed via RPC
        @cache(ttl=300)  # 5-minute cache
        @metric("users.find_one")  # metrics
        @trace()  # distributed tracing
        async def find_one(self, id: str) -> Optional[dict[str, Any]]:
            self.logger.info({"id": id}, "Finding user")
            return await self.repository.find_one(id)

        @public
        @transactional()  # transaction management
        @validate(dict)  # input validation
        @audit()  # audit logging
        async def create(self, data: dict[str, Any]) -> dict[str, Any]:
            user = await self.repository.create(data)
            # event emission
            await self.emit("user.created", user)
            return user

        @rate_limit(points=10, duration=60)
        @circuit_breaker(threshold=5, timeout=60.0)
        async def call_external_api(self, user_id: str) -> Any:
            # resilience patterns
            return await self.http_client.get(f"/api/users/{user_id}")

        async def emit(self, topic: str, payload: Any) -> None:  # stub: through the default peer
            assert Peer.default is not None
            await Peer.default.publish(topic, payload)

    return SimpleNamespace(**locals())


def test_spec_2_4_users_service_over_rpc_with_metric_event_rate_limit_and_breaker() -> None:
    s = spec_2_4()

    @module(providers=[s.UsersService])
    class UsersModule:
        pass

    async def main() -> None:
        server = await Peer.listen(address(), name="users")
        app = await Omnitron.create(UsersModule, peer=server)  # exposes the @service providers
        assert server.address is not None
        client = await Peer.connect(server.address, name="web")
        created: list[Any] = []
        await client.subscribe("user.created", lambda payload: created.append(payload))
        try:
            users = client.proxy("users@^1")
            ann = await users.create({"name": "Ann", "email": "ann@example.com"})
            assert ann == {"id": "u1", "name": "Ann", "email": "ann@example.com"}
            assert await users.find_one("u1") == ann
            assert s.logged == ["Finding user {'id': 'u1'}"]
            await eventually("user.created arrives", lambda: created == [ann])
            m = samples(generate_latest().decode())
            assert m[("method_calls_total", (("method", "users.find_one"),))] == 1
            assert m[("method_duration_seconds_count", (("method", "users.find_one"),))] == 1
            assert s.used == {"cache", "trace", "transactional", "validate", "audit"}

            service = app.get(s.UsersService)
            # Five failures open the breaker (threshold 5): the next calls fail fast.
            for _ in range(5):
                with pytest.raises(ConnectionError):
                    await service.call_external_api("u")
            for _ in range(5):
                with pytest.raises(CircuitOpenError):
                    await service.call_external_api("u")
            assert len(s.api_calls) == 5
            # Ten calls in the minute spent the rate limit (points 10): the eleventh is refused first.
            with pytest.raises(RateLimitedError):
                await service.call_external_api("u")
        finally:
            await client.close()
            await app.close()
            await server.close()

    asyncio.run(main())


# ==== 2.6 Workflow Orchestration ===================================================================


def spec_2_6() -> SimpleNamespace:
    # Stubs: the three remote services (another peer serves them over a socket).
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

    # ---- orders/workflow.py ----
    @workflow("order-processing", timeout=300.0, retries=3)
    class OrderProcessingWorkflow:
        inventory = inject_process(InventoryService)
        payment = inject_process(PaymentService)
        shipping = inject_process(ShippingService)

        @stage("validate-order")
        async def validate_order(self, order: dict[str, Any]) -> dict[str, Any]:
            # Validation logic
            return {"valid": True, "order": order}

        @stage("reserve-inventory", depends_on="validate-order", timeout=30.0)
        async def reserve_inventory(self, result: dict[str, Any]) -> dict[str, Any]:
            reservation = await self.inventory.reserve(result["order"]["items"])
            return {**result, "reservation": reservation}

        @compensate("reserve-inventory")
        async def release_inventory(self, result: dict[str, Any]) -> None:
            # Rollback on failure
            await self.inventory.release(result["reservation"]["id"])

        @stage("process-payment", depends_on="reserve-inventory", retries=3)
        async def process_payment(self, result: dict[str, Any]) -> dict[str, Any]:
            payment = await self.payment.charge(result["order"]["payment"])
            return {**result, "payment": payment}

        @compensate("process-payment")
        async def refund_payment(self, result: dict[str, Any]) -> None:
            # Compensation on failure
            await self.payment.refund(result["payment"]["id"])

        @stage("arrange-shipping", depends_on="process-payment")
        async def arrange_shipping(self, result: dict[str, Any]) -> dict[str, Any]:
            shipment = await self.shipping.create(result["order"])
            return {**result, "shipment": shipment, "status": "completed"}

    # 14.2 (From NestJS): a workflow without a name is named after its class.
    @workflow
    class UserWorkflow:
        @stage("validate")
        async def validate(self, data: Any) -> None:
            pass

    return SimpleNamespace(**locals())


def test_spec_2_6_order_processing_over_rpc_with_compensation_in_reverse() -> None:
    s = spec_2_6()

    async def main() -> None:
        addr = address()
        async with await Peer.listen(addr, name="services") as services, await Peer.connect(addr, name="orders"):
            for svc in (s.InventoryService(), s.PaymentService(), s.ShippingService()):
                await services.expose(svc)
            # The workflow's proxies go through Peer.default: the "orders" peer, created last.
            async with await WorkflowEngine.in_memory() as engine:
                assert engine.register(s.OrderProcessingWorkflow()) == "order-processing"
                assert engine.register(s.UserWorkflow()) == "UserWorkflow"
                order = {"id": "o1", "items": [{"sku": "book", "qty": 2}], "payment": {"amount": 30, "card": "4242"}, "address": "Main St 1"}
                out = await engine.run(s.OrderProcessingWorkflow, order, run_id="o1")
                assert out["arrange-shipping"] == {
                    "valid": True,
                    "order": order,
                    "reservation": {"id": "res-1"},
                    "payment": {"id": "pay-30"},
                    "shipment": {"tracking": "track-o1"},
                    "status": "completed",
                }
                assert s.remote == ["reserve 2xbook", "charge 30", "ship o1"]
                s.remote.clear()

                # Shipping keeps failing: the payment is refunded, then the inventory released.
                lost = {**order, "id": "o2", "address": "nowhere"}
                with pytest.raises(StageFailedError, match="arrange-shipping") as e:
                    await engine.run("order-processing", lost, run_id="o2")
                assert "no carrier delivers to nowhere" in str(e.value.errors[0])
                assert s.remote == ["reserve 2xbook", "charge 30", "refund pay-30", "release res-1"]
                info = await engine.get("o2")
                assert info.state == "compensated" and info.attempts == 4
                assert [(st.name, st.state) for st in info.stages] == [
                    ("validate-order", "completed"),
                    ("reserve-inventory", "compensated"),
                    ("process-payment", "compensated"),
                    ("arrange-shipping", "failed"),
                ]

    asyncio.run(main())


# ==== 3.2 Process Supervision =====================================================================


def spec_3_2() -> SimpleNamespace:
    ops: list[str] = []

    class Logger:  # stub
        def error(self, fields: dict[str, Any], message: str) -> None:
            ops.append(f"log {fields['child']['name']} {message}")

    @supervisor(strategy="one-for-one", max_restarts=3, window=60.0)  # restart only the failed child
    class ApiSupervisor:
        api_worker = child.python(ApiWorkerProcess, instances=4, cwd=HERE)
        websocket_handler = child.python(WebSocketProcess, instances=2, cwd=HERE)

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

    return SimpleNamespace(**locals())


def test_spec_3_2_api_supervisor_restarts_a_killed_child_and_its_hooks_see_it() -> None:
    s = spec_3_2()

    async def main() -> None:
        async with Supervisor.from_class(s.ApiSupervisor) as sup:
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

                await eventually(f"restart {round}", restarted)
            assert s.ops.count("log api_worker Child process crashed") == 3
            assert len([o for o in s.ops if o.startswith("notify api_worker#2:") and "signal 9" in o]) == 3, s.ops
            assert [o for o in s.ops if o.startswith("alert")] == ["alert Process failing repeatedly"]
            others = [c for i, c in enumerate(await sup.children()) if i != 2]
            assert all(c["restarts"] == 0 and c["state"] == "running" for c in others)
        assert sup.state == "stopped"

    asyncio.run(main())


# ==== 3.3 Process Pools ===========================================================================


def spec_3_3() -> SimpleNamespace:
    @injectable
    class DataProcessingService:
        # The spec's @ProcessPool({ size: 'auto', strategy: 'round-robin', warmup: true }); the
        # worker class is named (DataProcessor, a stub in spec_workers.py).
        pool = process_pool(DataProcessor, size="auto", strategy="round-robin", warmup=True, cwd=HERE)

        async def process_batch(self, items: list[Any]) -> list[Any]:
            # Load distribution
            async def one(item: Any) -> Any:
                return await self.pool.exec("process", item)

            return await self.pool.map(items, one)

    return SimpleNamespace(**locals())


def test_spec_3_3_a_pool_attribute_of_an_injectable_started_by_omnitron_create() -> None:
    s = spec_3_3()

    @module(providers=[s.DataProcessingService])
    class AppModule:
        pass

    async def main() -> None:
        app = await Omnitron.create(AppModule)
        svc = app.get(s.DataProcessingService)
        items = [{"id": i} for i in range(50)]
        assert await svc.process_batch(items) == [{"id": i, "done": True} for i in range(50)]
        pids = svc.pool.status()["pids"]
        assert len(pids) == (os.cpu_count() or 1), "size='auto' is one worker per CPU"
        await app.close()
        for pid in pids:
            await eventually(f"worker {pid} gone", lambda pid=pid: not alive(pid))

    asyncio.run(main())


# ==== 7.3 Metrics Collection ======================================================================


def spec_7_3() -> SimpleNamespace:
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

    return SimpleNamespace(**locals())


def test_spec_7_3_metrics_service_records_into_the_default_registry() -> None:
    s = spec_7_3()

    @module(providers=[s.MetricsService])
    class MetricsModule:
        pass

    async def main() -> None:
        async with await Omnitron.create(MetricsModule) as app:
            m = app.get(s.MetricsService)
            m.increment_orders("paid", "card")
            m.increment_orders("paid", "card")
            m.increment_orders("failed", "paypal")
            m.record_processing_time(0.7)
            m.record_processing_time(3)
            m.set_active_connections(12)
        got = samples(REGISTRY.generate_latest())
        assert got[("orders_total", (("payment_method", "card"), ("status", "paid")))] == 2
        assert got[("orders_total", (("payment_method", "paypal"), ("status", "failed")))] == 1
        assert got[("order_processing_duration_bucket", (("le", "1.0"),))] == 1
        assert got[("order_processing_duration_bucket", (("le", "5.0"),))] == 2
        assert got[("order_processing_duration_sum", ())] == pytest.approx(3.7)
        assert got[("active_connections", ())] == 12

    asyncio.run(main())


if __name__ == "__main__":
    asyncio.run(orders_process(sys.argv[1]))
