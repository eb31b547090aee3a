"""RPC through the Python package, over real sockets and a real child process: services, versions,
interfaces, errors, deadlines, cancellation, events, sync handlers, bad input."""

import asyncio
import contextvars
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from typing import Any

import pytest

from omnitron import Peer, on_event, proxy_info, public, service
from omnitron._native import pack, unpack
from omnitron.errors import (
    AuthFailedError,
    InvalidArgumentError,
    InvalidServiceError,
    MethodNotFoundError,
    NotConnectedError,
    OmnitronError,
    PeerDisconnectedError,
    RemoteError,
    ServiceNotFoundError,
    TimeoutError,
)

TOKEN = "py-secret"


def address() -> str:
    d = tempfile.mkdtemp()
    return f"unix:{d}/private/rpc.sock"


@service("payment@1.0.0")
class Payment:
    def __init__(self) -> None:
        self.cancelled = asyncio.Event()
        self.events: list[Any] = []

    @public
    async def charge(self, amount: float, currency: str = "EUR") -> dict[str, Any]:
        return {"charged": amount, "currency": currency}

    @public
    def refund_sync(self, amount: float) -> str:
        # A plain def runs in a thread pool, off the event loop.
        assert threading.current_thread() is not threading.main_thread()
        return f"refunded {amount}"

    @public
    async def decline(self) -> None:
        raise ValueError("card declined")

    @public
    async def slow(self) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise

    @public
    async def bad_result(self) -> Any:
        return object()

    async def not_public(self) -> str:
        return "secret"

    @on_event("order.*")
    async def on_order(self, order: Any) -> None:
        self.events.append(order)


@service("payment@2.0.0")
class PaymentV2:
    @public
    async def charge(self, amount: float) -> str:
        return f"v2 charged {amount}"


def test_values_round_trip_through_messagepack() -> None:
    v = {"a": [1, -2, 3.5, "x", b"\x00\xff", None, True], "nested": {"k": (1, 2)}, 7: "int key"}
    out = unpack(pack(v))
    assert out == {"a": [1, -2, 3.5, "x", b"\x00\xff", None, True], "nested": {"k": [1, 2]}, 7: "int key"}
    assert unpack(pack(2**64 - 1)) == 2**64 - 1
    with pytest.raises(TypeError):
        pack(object())
    with pytest.raises(TypeError):
        pack(2**70)
    with pytest.raises(OmnitronError):
        unpack(b"\xc1")


def test_calls_versions_interfaces_and_errors() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, name="server", token=TOKEN)
        p = Payment()
        await server.expose(p)
        await server.expose(PaymentV2)
        client = await Peer.connect(addr, name="client", token=TOKEN)

        assert await client.call("payment@1.0.0", "charge", 10.5) == {"charged": 10.5, "currency": "EUR"}
        assert await client.call("payment@^1", "charge", 3, "USD") == {"charged": 3, "currency": "USD"}
        assert await client.call("payment", "charge", 1) == "v2 charged 1"
        assert await client.call("payment@1", "refund_sync", 2) == "refunded 2"

        proxy = await client.query_interface("payment@^1")
        assert proxy_info(proxy).version == "1.0.0"
        assert sorted(proxy_info(proxy).methods) == ["bad_result", "charge", "decline", "refund_sync", "slow"]
        assert await proxy.charge(7) == {"charged": 7, "currency": "EUR"}
        with pytest.raises(AttributeError, match="no public method 'not_public'"):
            proxy.not_public

        with pytest.raises(ServiceNotFoundError, match="1.0.0, 2.0.0"):
            await client.call("payment@^3", "charge", 1)
        with pytest.raises(MethodNotFoundError):
            await client.call("payment@1", "not_public")
        with pytest.raises(RemoteError, match="ValueError: card declined") as e:
            await client.call("payment@1", "decline")
        assert e.value.data == {"type": "ValueError"}  # type: ignore[attr-defined]
        with pytest.raises(InvalidArgumentError, match="cannot be sent"):
            await client.call("payment@1", "bad_result")
        with pytest.raises(InvalidServiceError):
            await client.call("payment@???", "charge", 1)
        with pytest.raises(TypeError):
            await client.call("payment@1", "charge", object())

        # A deadline past what a clock can add is as long as there is.
        assert await client.call("payment@1", "charge", 2, deadline=1e300) == {"charged": 2, "currency": "EUR"}

        # The deadline reaches the handler as a cancellation.
        with pytest.raises(TimeoutError):
            await client.call("payment@1", "slow", deadline=0.2)
        await asyncio.wait_for(p.cancelled.wait(), 5)

        # Cancelling the awaiting task cancels the remote call.
        p.cancelled.clear()
        task = asyncio.ensure_future(client.call("payment@1", "slow"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(p.cancelled.wait(), 5)

        # Synchronous callers block only their thread.
        assert await asyncio.get_running_loop().run_in_executor(None, lambda: client.call_sync("payment@1", "charge", 1)) == {
            "charged": 1,
            "currency": "EUR",
        }
        await client.close()
        with pytest.raises(NotConnectedError):
            await client.call("payment@1", "charge", 1)
        await server.close()

    asyncio.run(main())


def test_auth_and_bad_input() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        with pytest.raises(AuthFailedError):
            await Peer.connect(addr, token="wrong")
        with pytest.raises(AuthFailedError):
            await Peer.connect(addr)
        with pytest.raises(AuthFailedError):
            await Peer.listen("tcp://127.0.0.1:0")
        with pytest.raises(InvalidServiceError):
            await Peer.listen("ftp://nowhere")
        with pytest.raises(InvalidArgumentError, match="not a @service"):
            await server.expose(object())
        with pytest.raises(InvalidServiceError):
            service("bad version@1")
        with pytest.raises(InvalidArgumentError):
            await server.subscribe("a.*", "not callable")  # type: ignore[arg-type]
        with pytest.raises(OmnitronError):
            await server.publish("order.*", 1)
        await server.close()

    asyncio.run(main())


def test_events_reach_every_process_and_on_event_methods() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        p = Payment()
        await server.expose(p)
        a = await Peer.connect(addr, token=TOKEN)
        got: list[Any] = []
        await a.subscribe("order.#", lambda payload: got.append(payload))
        await a.publish("order.created", {"id": 1})
        await server.publish("order.item.added", {"id": 2})
        for _ in range(200):
            if len(got) == 2 and p.events:
                break
            await asyncio.sleep(0.01)
        assert sorted(x["id"] for x in got) == [1, 2]
        assert p.events == [{"id": 1}]
        await a.close()
        await server.close()

    asyncio.run(main())


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from omnitron import Peer, public, service

    @service("inventory@1.0.0")
    class Inventory:
        @public
        async def reserve(self, sku: str, qty: int) -> dict:
            return {"sku": sku, "qty": qty, "by": "child"}

    async def main() -> None:
        peer = await Peer.connect(sys.argv[1], name="inventory-child", token=sys.argv[2])
        await peer.expose(Inventory())
        print("ready", flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_a_child_process_hosts_a_service_and_its_death_fails_calls_at_once() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, name="parent", token=TOKEN)
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(CHILD)
        child = subprocess.Popen([sys.executable, f.name, addr, TOKEN], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            line = await asyncio.get_running_loop().run_in_executor(None, child.stdout.readline)
            assert line.strip() == "ready"
            for _ in range(200):
                if server.services():
                    break
                await asyncio.sleep(0.01)
            assert await server.call("inventory@^1", "reserve", "sku-1", 2) == {"sku": "sku-1", "qty": 2, "by": "child"}
            # Another client reaches the child through the parent.
            c = await Peer.connect(addr, token=TOKEN)
            inv = await c.query_interface("inventory")
            assert (await inv.reserve("sku-2", 1))["sku"] == "sku-2"
            child.kill()
            started = time.monotonic()
            with pytest.raises((PeerDisconnectedError, ServiceNotFoundError)):
                for _ in range(100):
                    await c.call("inventory", "reserve", "x", 1)
                    await asyncio.sleep(0.02)
            assert time.monotonic() - started < 4
            await c.close()
        finally:
            child.kill()
            child.wait()
            os.unlink(f.name)
            await server.close()

    asyncio.run(main())


@service("ticker@1.0.0")
class Ticker:
    def __init__(self) -> None:
        self.produced = 0
        self.stopped = asyncio.Event()

    @public
    async def count(self, n: int) -> Any:
        try:
            for i in range(n):
                self.produced += 1
                yield i
        finally:
            self.stopped.set()

    @public
    def count_sync(self, n: int) -> Any:
        yield from range(n)

    @public
    async def broken(self) -> Any:
        yield 1
        raise KeyError("ran dry")


def test_streams_from_async_and_sync_generators_with_backpressure() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        t = Ticker()
        await server.expose(t)
        client = await Peer.connect(addr, token=TOKEN)
        assert [x async for x in client.stream("ticker", "count", 5)] == [0, 1, 2, 3, 4]
        assert [x async for x in client.stream("ticker", "count_sync", 3)] == [0, 1, 2]
        proxy = await client.query_interface("ticker")
        assert sorted(proxy_info(proxy).streams) == ["broken", "count", "count_sync"]
        got = []
        async for x in proxy.count(3):
            got.append(x)
        assert got == [0, 1, 2]
        items = []
        with pytest.raises(RemoteError, match="KeyError"):
            async for x in client.stream("ticker", "broken"):
                items.append(x)
        assert items == [1]
        # A slow consumer: the generator runs at most the credit window ahead, and leaving early
        # stops it.
        t.produced = 0
        t.stopped.clear()
        async for x in client.stream("ticker", "count", 100_000):
            if x == 0:
                await asyncio.sleep(0.3)
                assert t.produced < 100, t.produced
            if x == 5:
                break
        await asyncio.wait_for(t.stopped.wait(), 5)
        await client.close()
        await server.close()

    asyncio.run(main())


def test_the_app_exposes_its_service_providers_on_a_peer() -> None:
    from omnitron import Omnitron, injectable, module

    @injectable
    class Rates:
        rate = 2

    @service("pricing@1.0.0")
    @injectable
    class Pricing:
        def __init__(self, rates: Rates) -> None:
            self.rates = rates

        @public
        async def price(self, x: int) -> int:
            return x * self.rates.rate

    @module(providers=[Rates, Pricing])
    class AppModule:
        pass

    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, token=TOKEN)
        app = await Omnitron.create(AppModule, peer=server)
        client = await Peer.connect(addr, token=TOKEN)
        assert await client.call("pricing@^1", "price", 21) == 42
        await client.close()
        await server.close()
        await app.close()

    asyncio.run(main())


@service("echo@1.0.0")
class Echo:
    @public
    async def say(self, x: Any) -> Any:
        return x

    @public
    def say_sync(self, x: Any) -> Any:
        return x


def test_connections_read_on_the_loop_carry_big_and_many_frames_and_close_cleanly() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, name="server", token=TOKEN)
        await server.expose(Echo)
        client = await Peer.connect(addr, name="client", token=TOKEN)
        # Frames far bigger than a socket buffer, both ways, several at once; then many small ones.
        big = "x" * 3_000_000
        got = await asyncio.gather(*(client.call("echo", "say", big + str(i)) for i in range(4)))
        assert got == [big + str(i) for i in range(4)]
        got = await asyncio.gather(*(client.call("echo", "say_sync" if i % 2 else "say", i) for i in range(2000)))
        assert got == list(range(2000))
        # Both outboxes past their 4 MiB at once (16 MiB of calls, as much back): a side whose
        # outbox is full of its own calls still reads their answers (no deadlock).
        mid = b"m" * 500_000
        got = await asyncio.gather(*(client.call("echo", "say", mid + bytes([i])) for i in range(32)))
        assert got == [mid + bytes([i]) for i in range(32)]
        # The client closes; the server lets its connection go and goes on serving.
        await client.close()
        assert await server.call("echo", "say", "still here") == "still here"
        await server.close()

    asyncio.run(main())


_REQUEST: "contextvars.ContextVar[str]" = contextvars.ContextVar("request", default="none")


@service("eager@1.0.0")
class Eager:
    """Handlers that run their first step where the request is read (see omnitron/_eager.py)."""

    @public
    async def task_state(self, tag: str) -> list[Any]:
        # Each call sees its own task and its own copy of the context, from the first step on.
        task = asyncio.current_task()
        before = _REQUEST.get()
        _REQUEST.set(tag)
        return [task is not None, before, _REQUEST.get()]

    @public
    async def with_timeout(self, seconds: float) -> str:
        # asyncio.timeout() needs the current task from its first line.
        if sys.version_info < (3, 11):
            await asyncio.wait_for(asyncio.sleep(seconds), 5)
            return "done"
        async with asyncio.timeout(0.05):
            await asyncio.sleep(seconds)
        return "done"

    @public
    async def waits_then_answers(self, x: int) -> int:
        await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        return x * 2

    @public
    async def raises_at_once(self) -> None:
        raise KeyError("nothing here")

    @public
    async def keeps_task_and_context_across_waits(self, tag: str) -> list[Any]:
        _REQUEST.set(tag)
        before = asyncio.current_task()
        await asyncio.sleep(0.02)
        after = asyncio.current_task()
        return [before is after, _REQUEST.get(), id(after)]

    @public
    async def cancels_itself(self) -> str:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        return "ok"


def test_async_handlers_start_where_the_request_is_read_with_task_semantics_kept() -> None:
    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, name="server", token=TOKEN)
        await server.expose(Eager)
        client = await Peer.connect(addr, name="client", token=TOKEN)
        states = await asyncio.gather(*(client.call("eager", "task_state", f"r{i}") for i in range(50)))
        # No context variable leaks from one request into the next.
        assert states == [[True, "none", f"r{i}"] for i in range(50)]
        assert _REQUEST.get() == "none"
        assert await client.call("eager", "with_timeout", 0) == "done"
        with pytest.raises(RemoteError, match="TimeoutError"):
            await client.call("eager", "with_timeout", 1.0)
        assert await asyncio.gather(*(client.call("eager", "waits_then_answers", i) for i in range(20))) == [
            2 * i for i in range(20)
        ]
        with pytest.raises(RemoteError, match="KeyError"):
            await client.call("eager", "raises_at_once")
        # Handlers that wait each get their own task and keep their context from step to step.
        waited = await asyncio.gather(*(client.call("eager", "keeps_task_and_context_across_waits", f"w{i}") for i in range(10)))
        assert [w[:2] for w in waited] == [[True, f"w{i}"] for i in range(10)]
        assert len({w[2] for w in waited}) == 10
        # A handler that cancels its own task answers, and the next ones are not affected.
        assert await client.call("eager", "cancels_itself") == "ok"
        assert await client.call("eager", "task_state", "after") == [True, "none", "after"]
        assert await client.call("eager", "waits_then_answers", 4) == 8
        # A handler waiting when its caller gives up is cancelled, like any task.
        payment = Payment()
        await server.expose(payment)
        with pytest.raises(TimeoutError):
            await client.call("payment@1.0.0", "slow", deadline=0.1)
        await asyncio.wait_for(payment.cancelled.wait(), 5)
        await client.close()
        await server.close()

    asyncio.run(main())


@service("big@1.0.0")
class Big:
    @public
    async def get(self, _pad: bytes) -> bytes:
        return b"\x07" * (1 << 20)


def _frame(message: Any) -> bytes:
    body = pack(message)
    return len(body).to_bytes(4, "big") + body


def _read_frame(sock: Any) -> Any:
    def exactly(n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            assert chunk, "the server closed the connection"
            out += chunk
        return bytes(out)

    return unpack(exactly(int.from_bytes(exactly(4), "big")))


def test_a_caller_that_does_not_read_its_answers_is_not_read_either_and_loses_none() -> None:
    """The outbox of a connection read on the loop stays bounded: once a caller's unread answers fill
    it, the server stops reading that caller (its writes block), serves the others, and goes on
    where it stopped once the caller reads."""
    import select
    import socket

    def flood(path: str) -> tuple[int, bytes, socket.socket]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(_frame([0, 1, {"name": "raw", "lang": "python", "pid": os.getpid()}, TOKEN]))
        assert _read_frame(s)[0] == 1  # WELCOME
        s.setblocking(False)
        pad = b"p" * 65536
        for i in range(1, 257):
            data = _frame([2, i, "big@1.0.0", "get", [pad], 30000, None, False])
            while data:
                try:
                    data = data[s.send(data) :]
                except BlockingIOError:
                    if not select.select([], [s], [], 2.0)[1]:
                        return i, data, s  # Held back: request i is (partly) unsent.
        return 256, b"", s

    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, name="server", token=TOKEN)
        await server.expose(Big)
        await server.expose(Payment)
        sent, rest, sock = await asyncio.to_thread(flood, addr.removeprefix("unix:"))
        # 1 MiB answers against a 4 MiB outbox: without backpressure all 256 requests would be read.
        assert rest, "the server kept reading a caller that reads nothing"
        assert sent < 64
        # The server still serves others meanwhile.
        client = await Peer.connect(addr, name="good", token=TOKEN)
        assert await client.call("payment", "charge", 3) == {"charged": 3, "currency": "EUR"}

        def drain() -> list[int]:
            sock.setblocking(True)
            ids: list[int] = []
            writer = threading.Thread(target=sock.sendall, args=(rest,))
            writer.start()
            while len(ids) < sent:
                m = _read_frame(sock)
                assert m[0] == 3 and len(m[2]) == 1 << 20, m[:2]
                ids.append(m[1])
            writer.join()
            return ids

        ids = await asyncio.to_thread(drain)
        assert sorted(ids) == list(range(1, sent + 1))
        sock.close()
        await client.close()
        await server.close()

    asyncio.run(main())


def test_a_loop_stopped_in_the_middle_of_a_turn_does_not_hold_the_next_loops_calls() -> None:
    """Calls of one loop turn are written when the turn ends (a ``call_soon`` callback). A loop
    stopped before that callback ran must not leave the thread holding the next loop's calls."""
    first = asyncio.new_event_loop()
    addr = address()

    async def start() -> Peer:
        server = await Peer.listen(addr, name="server", token=TOKEN)
        await server.expose(Payment)
        return await Peer.connect(addr, name="client", token=TOKEN)

    client = first.run_until_complete(start())

    async def calls_then_stop() -> None:
        for _ in range(3):
            asyncio.ensure_future(client.call("payment@1", "charge", 1))
        await asyncio.sleep(0)  # The calls are made (a turn opens); the loop stops in this turn.
        first.stop()

    first.create_task(calls_then_stop())
    first.run_forever()
    first.close()

    async def again() -> None:
        addr2 = address()
        server = await Peer.listen(addr2, name="server2", token=TOKEN)
        await server.expose(Payment)
        peer = await Peer.connect(addr2, name="client2", token=TOKEN)
        got = await asyncio.wait_for(asyncio.gather(*(peer.call("payment@1", "charge", i, deadline=2) for i in range(5))), 3)
        assert [g["charged"] for g in got] == list(range(5))
        assert await peer.call("payment@1", "charge", 9, deadline=2) == {"charged": 9, "currency": "EUR"}
        await peer.close()
        await server.close()

    asyncio.run(again())


def test_a_cancel_read_with_its_request_cancels_the_handler() -> None:
    """REQUEST and CANCEL in one write: the handler, started where the request is read and handed
    to a task that has not run yet, is still cancelled (not abandoned)."""
    import socket

    async def main() -> None:
        addr = address()
        server = await Peer.listen(addr, name="server", token=TOKEN)
        payment = Payment()
        await server.expose(payment)

        def raw() -> Any:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(addr.removeprefix("unix:"))
            s.sendall(_frame([0, 1, {"name": "raw", "lang": "python", "pid": os.getpid()}, TOKEN]))
            assert _read_frame(s)[0] == 1  # WELCOME
            s.sendall(_frame([2, 1, "payment@1.0.0", "slow", [], 30000, None, False]) + _frame([5, 1]))
            answer = _read_frame(s)
            s.close()
            return answer

        answer = await asyncio.to_thread(raw)
        assert answer[0] == 4 and answer[1] == 1 and answer[2]["code"] == "E005", answer
        await asyncio.wait_for(payment.cancelled.wait(), 5)
        await server.close()

    asyncio.run(main())


def test_an_events_subscribers_run_in_its_publishers_trace() -> None:
    from omnitron import current_trace, span

    async def main() -> None:
        addr = address()
        hub = await Peer.listen(addr, token=TOKEN)
        sub = await Peer.connect(addr, token=TOKEN)
        seen: list[tuple[str, Any]] = []

        async def handler(payload: Any, topic: str) -> None:
            await asyncio.sleep(0)
            seen.append((topic, current_trace()))

        await sub.subscribe("order.*", handler)
        with span("place-order") as h:
            await hub.publish("order.placed", {"id": 1})
        await hub.publish("order.cancelled", {"id": 2})
        for _ in range(500):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.01)
        assert sorted(seen, key=lambda s: s[0]) == [("order.cancelled", None), ("order.placed", (h[0], None))]
        await sub.close()
        await hub.close()

    asyncio.run(main())
