"""Subscriptions and services as the spec declares them, through the Python package over real
sockets and real child processes: ``await subscribe()`` returns once the subscription is active
(an event another process publishes right after arrives, every time), ``await expose()`` once the
``@on_event`` methods are subscribed, handlers get ``(payload, topic)``, ``@emit_event``, services
without a version or methods, proxies that hide no remote method, unknown keywords, and the spec's
section 1.3 examples in two processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
from typing import Any, AsyncIterator

import pytest

from omnitron import Omnitron, Peer, Pool, ServiceInfo, emit_event, module, on_event, proxy_info, public, service
from omnitron.errors import InvalidArgumentError, InvalidServiceError, MethodNotFoundError, NotConnectedError, ServiceNotFoundError
from omnitron.rpc import DEFAULT_VERSION, ServiceProxy

TOKEN = "events-secret"
HERE = os.path.dirname(os.path.abspath(__file__))


def address() -> str:
    return f"unix:{tempfile.mkdtemp()}/private/rpc.sock"


HUB = textwrap.dedent(
    """
    import asyncio, sys
    from omnitron import Peer

    async def main() -> None:
        hub = await Peer.listen(sys.argv[1], name="hub", token=sys.argv[2])
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        n = 0
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            n += 1
            await hub.publish(line.strip(), n)
        await hub.close()

    asyncio.run(main())
    """
)


class Child:
    """A Python child process spoken to through its stdin and stdout."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE)

    async def line(self) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, self.proc.stdout.readline), 20)
        assert line, "the child ended"
        return line.strip()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait()


async def start_hub() -> tuple[str, Child]:
    """A hub in another process that publishes each topic written to it (told through a pipe, never
    through the subscriber's connection: only the subscription itself can be in place in time)."""
    script = os.path.join(tempfile.mkdtemp(), "hub.py")
    with open(script, "w") as f:
        f.write(HUB)
    addr = address()
    hub = Child(script, addr, TOKEN)
    assert await hub.line() == "ready"
    return addr, hub


async def until(f: Any, what: str) -> None:
    for _ in range(500):
        if f():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{what}: not within 5 s")


def test_subscribe_returns_once_active_so_an_event_another_process_publishes_right_after_arrives() -> None:
    async def main() -> None:
        addr, hub = await start_hub()
        peer = await Peer.connect(addr, token=TOKEN)
        try:
            got: list[str] = []
            for i in range(200):
                topic = f"race.{i}"
                sub = await peer.subscribe("race.*", lambda payload, topic: got.append(topic))
                hub.send(topic)
                await until(lambda: topic in got, f"round {i}: the event published right after subscribe returned")
                assert await peer.unsubscribe(sub)
        finally:
            await peer.close()
            hub.stop()

    asyncio.run(main())


@service("alerts")
class Alerts:
    def __init__(self) -> None:
        self.seen: list[tuple[Any, str]] = []

    @on_event("alert.#")
    def on_alert(self, payload: Any, topic: str) -> None:
        self.seen.append((payload, topic))


def test_expose_returns_once_on_event_methods_are_subscribed_and_they_get_payload_and_topic() -> None:
    async def main() -> None:
        addr, hub = await start_hub()
        peer = await Peer.connect(addr, token=TOKEN)
        try:
            old: list[Alerts] = []
            for i in range(20):
                alerts = Alerts()
                await peer.expose(alerts)  # no @public method: a service all the same
                hub.send(f"alert.disk.{i}")
                await until(lambda: len(alerts.seen) == 1, f"round {i}: the event published right after expose returned")
                payload, topic = alerts.seen[0]
                assert topic == f"alert.disk.{i}" and isinstance(payload, int)
                assert await peer.unexpose("alerts", "1.0.0")
                old.append(alerts)
            # Unexposed: their @on_event methods were unsubscribed with them.
            assert all(len(a.seen) == 1 for a in old), "an unexposed service gets no more events"
        finally:
            await peer.close()
            hub.stop()

    asyncio.run(main())


def test_closing_the_app_stops_hosting_what_create_exposed() -> None:
    @module(providers=[Alerts])
    class AlertsModule:
        pass

    async def main() -> None:
        server = await Peer.listen(address(), token=TOKEN)
        try:
            app = await Omnitron.create(AlertsModule, peer=server)
            assert [s["name"] for s in server.services()] == ["alerts"]
            alerts = app.get(Alerts)
            await server.publish("alert.before", 1)
            await until(lambda: len(alerts.seen) == 1, "the event before close")
            await app.close()
            assert server.services() == [], "unexposed by close()"
            await server.publish("alert.after", 2)
            await asyncio.sleep(0.05)
            assert len(alerts.seen) == 1, "no event reaches a closed application"
        finally:
            await server.close()

    asyncio.run(main())


def test_handlers_get_payload_and_topic_unless_they_take_one_parameter() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        client = await Peer.connect(addr, token=TOKEN)
        got: list[Any] = []

        class Sink:
            def one(self, payload: Any) -> None:
                got.append(("bound one", payload))

        async def both_async(payload: Any, topic: str) -> None:
            got.append(("async both", payload, topic))

        await client.subscribe("e.*", lambda payload: got.append(("one", payload)))
        await client.subscribe("e.*", lambda payload, topic: got.append(("both", payload, topic)))
        await client.subscribe("e.*", lambda *args: got.append(("varargs", *args)))
        await client.subscribe("e.*", lambda payload, topic="?": got.append(("default", payload, topic)))
        await client.subscribe("e.*", Sink().one)
        await client.subscribe("e.*", both_async)
        await server.publish("e.x", 7)
        await until(lambda: len(got) == 6, "every handler")
        assert sorted(got, key=repr) == sorted(
            [
                ("one", 7),
                ("both", 7, "e.x"),
                ("varargs", 7, "e.x"),
                ("default", 7, "e.x"),
                ("bound one", 7),
                ("async both", 7, "e.x"),
            ],
            key=repr,
        )
        # A handler that can take neither (payload, topic) nor (payload) is refused at once.
        with pytest.raises(InvalidArgumentError, match=r"takes \(payload, topic\) or \(payload\)"):
            await client.subscribe("e.*", lambda a, b, c: None)
        with pytest.raises(InvalidArgumentError, match="needs a topic"):
            await client.publish(None, 1)  # type: ignore[arg-type]
        await client.close()
        await server.close()

    asyncio.run(main())


@service("notifications")
class Notifications:
    @public
    def ping(self) -> str:
        return "pong"


@service
class Inventory:
    @public
    def count(self) -> int:
        return 3


@service()
class Stock:
    @public
    def level(self) -> int:
        return 5


@service(name="ledger", version="2.1.0")
class Ledger:
    @public
    async def balance(self) -> int:
        return 100


@service("audit")
class Audit:
    pass


def test_a_service_without_a_version_gets_1_0_0_and_is_reached_by_name_version_and_range() -> None:
    async def main() -> None:
        assert DEFAULT_VERSION == "1.0.0"
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        client = await Peer.connect(addr, token=TOKEN)
        for s in (Notifications(), Inventory(), Stock(), Ledger(), Audit()):
            await server.expose(s)
        for target in ("notifications", "notifications@1.0.0", "notifications@^1", "notifications@*"):
            assert await client.call(target, "ping") == "pong", target
        with pytest.raises(ServiceNotFoundError, match="1.0.0"):
            await client.call("notifications@^2", "ping")
        assert await client.call("Inventory@^1", "count") == 3
        assert await client.call("Stock", "level") == 5
        assert await client.call("ledger@~2.1", "balance") == 100
        with pytest.raises(MethodNotFoundError, match="it has none"):
            await client.call("audit", "anything")
        listed = sorted(f"{s['name']}@{s['version']}" for s in server.services())
        assert listed == ["Inventory@1.0.0", "Stock@1.0.0", "audit@1.0.0", "ledger@2.1.0", "notifications@1.0.0"]
        await client.close()
        await server.close()

    asyncio.run(main())


def test_service_refuses_what_is_not_a_name_a_version_or_its_keywords() -> None:
    with pytest.raises(InvalidArgumentError, match=r"unknown option 'nmae' in @service\(\): did you mean 'name'\?"):
        service(nmae="x")  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match="did you mean 'version'"):
        service("x", versoin="1.0.0")  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError):
        service(42)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError):
        service("x", version=1)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match="not both"):
        service("x@1.0.0", version="2.0.0")
    for bad in ("bad name", "x@1", "x@", "", "$registry"):
        with pytest.raises(InvalidServiceError):
            service(bad)
    with pytest.raises(InvalidServiceError):
        service(version="one")(type("Named", (), {}))
    with pytest.raises(InvalidArgumentError):
        service()(42)  # type: ignore[arg-type]


@service("mailer@1.0.0")
class Mailer:
    def __init__(self) -> None:
        self.sent = 0

    @public
    @emit_event("mail.sent")
    async def send(self, to: str) -> dict[str, Any]:
        self.sent += 1
        return {"to": to, "n": self.sent}

    @emit_event("mail.counted")
    def count(self) -> int:
        return self.sent


def test_emit_event_publishes_what_the_method_returns_through_the_exposing_peer() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        client = await Peer.connect(addr, token=TOKEN)
        got: list[tuple[str, Any]] = []
        await client.subscribe("mail.*", lambda payload, topic: got.append((topic, payload)))

        # Not exposed by any peer: published through Peer.default (the client, created last).
        alone = Mailer()
        assert await alone.send("nobody") == {"to": "nobody", "n": 1}
        await until(lambda: len(got) == 1, "the event of an instance no peer exposes")
        assert got.pop() == ("mail.sent", {"to": "nobody", "n": 1})
        m = Mailer()
        await server.expose(m)
        # Called remotely (async def) and locally (def): each result is published.
        assert await client.call("mailer", "send", "ann") == {"to": "ann", "n": 1}
        assert m.count() == 1
        await until(lambda: len(got) == 2, "both events")
        assert sorted(got, key=repr) == [("mail.counted", 1), ("mail.sent", {"to": "ann", "n": 1})]

        with pytest.raises(InvalidArgumentError):
            emit_event("")
        with pytest.raises(InvalidArgumentError):
            emit_event(42)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="return a value"):

            @emit_event("x")
            async def gen() -> AsyncIterator[int]:
                yield 1

        @emit_event(topic="keyword.ok")
        def f(self: Any) -> int:
            return 1

        assert f(None) == 1
        await client.close()
        await server.close()

    asyncio.run(main())


@service("odd@1.0.0")
class Odd:
    @public
    def name(self) -> str:
        return "n"

    @public
    def version(self) -> str:
        return "v"

    @public
    def methods(self) -> str:
        return "m"

    @public
    def streams(self) -> str:
        return "s"

    @public
    def _private(self) -> str:
        return "p"


def test_proxies_expose_every_remote_method_whatever_its_name() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        await server.expose(Odd())
        client = await Peer.connect(addr, token=TOKEN)
        odd = await client.query_interface("odd")
        assert [await odd.name(), await odd.version(), await odd.methods(), await odd.streams(), await odd._private()] == [
            "n",
            "v",
            "m",
            "s",
            "p",
        ]
        assert proxy_info(odd) == ServiceInfo("odd", "1.0.0", ["_private", "methods", "name", "streams", "version"], [])
        assert "version" in dir(odd)
        assert "odd@1.0.0" in repr(odd)
        with pytest.raises(AttributeError, match="no public method 'nope'"):
            odd.nope
        with pytest.raises(AttributeError):
            odd.__aenter__
        with pytest.raises(InvalidArgumentError):
            proxy_info(object())  # type: ignore[arg-type]
        # The proxy's calls take deadline= and refuse other keywords.
        assert await odd.name(deadline=2.0) == "n"
        with pytest.raises(InvalidArgumentError, match=r"odd@1.0.0.name\(\): did you mean 'deadline'"):
            await odd.name(deadlin=2.0)
        assert isinstance(await client.query_interface("odd", deadline=2.0), ServiceProxy)
        await client.close()
        await server.close()

    asyncio.run(main())


def test_unknown_keywords_are_refused_with_e001_naming_the_nearest() -> None:
    async def main() -> None:
        with pytest.raises(InvalidArgumentError, match=r"unknown option 'max_fram' in Peer.listen\(\): did you mean 'max_frame'\?"):
            await Peer.listen(address(), token=TOKEN, max_fram=10)  # type: ignore[call-arg]
        with pytest.raises(InvalidArgumentError, match=r"in Peer.connect\(\): did you mean 'token'"):
            await Peer.connect(address(), tokn=TOKEN)  # type: ignore[call-arg]
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        await server.expose(Ledger())
        client = await Peer.connect(addr, token=TOKEN)
        with pytest.raises(InvalidArgumentError, match=r"Peer.call\(\): did you mean 'deadline'"):
            await client.call("ledger", "balance", dedline=1)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match=r"Peer.stream\(\)"):
            async for _ in client.stream("ledger", "balance", timeout=1):  # type: ignore[arg-type]
                pass
        with pytest.raises(InvalidArgumentError, match=r"Peer.query_interface\(\)"):
            await client.query_interface("ledger", deadine=1)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match=r"Peer.call_sync\(\)"):
            client.call_sync("ledger", "balance", x=1)  # type: ignore[arg-type]
        assert await client.call("ledger", "balance", deadline=2.0) == 100
        await client.close()
        await server.close()

    asyncio.run(main())


def test_subscribe_refuses_bad_input_and_a_closed_peer_subscribes_nothing() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        client = await Peer.connect(addr, token=TOKEN)
        with pytest.raises(InvalidArgumentError):
            await client.subscribe("a..b", lambda p: None)
        with pytest.raises(InvalidArgumentError):
            await client.subscribe(42, lambda p: None)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            await client.subscribe("a.*", "not callable")  # type: ignore[arg-type]
        got: list[Any] = []
        await client.subscribe("ok.*", got.append)
        await server.publish("ok.1", 1)
        await until(lambda: got == [1], "the event")
        await client.close()
        with pytest.raises(NotConnectedError):
            await client.subscribe("ok.*", got.append)
        await server.close()

    asyncio.run(main())


INVENTORY = textwrap.dedent(
    """
    from omnitron import public, service

    @service
    class InventoryService:
        @public
        def reserve(self, sku: str) -> str:
            return f"reserved {sku}"
    """
)

SERVE = textwrap.dedent(
    """
    import asyncio
    import omnitron.worker
    from inventory import InventoryService

    asyncio.run(omnitron.worker.serve(InventoryService()))
    """
)


def test_the_worker_modules_two_ways_run_as_written_with_a_service_declared_without_a_version() -> None:
    """omnitron/worker.py's docstring: ``python -m omnitron.worker inventory:InventoryService`` and
    ``asyncio.run(omnitron.worker.serve(InventoryService()))``, each under a pool."""

    async def main() -> None:
        d = tempfile.mkdtemp()
        for name, text in (("inventory.py", INVENTORY), ("serve.py", SERVE)):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        commands = ([sys.executable, "-m", "omnitron.worker", "inventory:InventoryService"], [sys.executable, "serve.py"])
        for command in commands:
            async with await Pool.start(command, name="inventory", size=1, cwd=d, service="InventoryService@^1") as pool:
                assert await pool.exec("reserve", "sku-1") == "reserved sku-1"

    asyncio.run(main())


def test_a_failing_event_handler_is_logged_and_the_others_still_get_the_event(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        got: list[Any] = []

        def broken(payload: Any) -> None:
            raise RuntimeError("sync handler broke")

        async def broken_async(payload: Any) -> None:
            raise RuntimeError("async handler broke")

        await server.subscribe("f.*", broken)
        await server.subscribe("f.*", broken_async)
        await server.subscribe("f.*", lambda payload: got.append(payload))
        await server.publish("f.x", 1)
        await until(lambda: got == [1] and len(caplog.records) == 2, "the good handler and two log records")
        await server.close()

    with caplog.at_level("ERROR", logger="omnitron"):
        asyncio.run(main())
    messages = sorted(r.getMessage() for r in caplog.records)
    assert "failed for event 'f.x'" in messages[0] or "for event 'f.x' failed" in messages[0]
    assert all(r.exc_info is not None for r in caplog.records)
    assert {str(r.exc_info[1]) for r in caplog.records if r.exc_info} == {"sync handler broke", "async handler broke"}
