"""Busy polling before the event loop sleeps (omnitron/_poll.py): the setting and its bad input, a
loop that polls only while it reads Omnitron connections, and one that still runs its timers and
its other I/O on time with the largest budget."""

import asyncio
import os
import socket
import tempfile
import time

import pytest

from omnitron import Peer, busy_poll, public, service
from omnitron._poll import PollingSelector, selector_of
from omnitron.errors import InvalidArgumentError

from conftest import run

TOKEN = "poll-secret"


@service("echo@1.0.0")
class Echo:
    @public
    def echo(self, x: int) -> int:
        return x


def address() -> str:
    return f"unix:{tempfile.mkdtemp()}/private/poll.sock"


async def pair() -> tuple[Peer, Peer]:
    """A server hosting Echo and a client connected to it, both read by the running loop."""
    addr = address()
    server = await Peer.listen(addr, token=TOKEN)
    await server.expose(Echo())
    return server, await Peer.connect(addr, token=TOKEN)


def test_the_setting_and_its_bad_input() -> None:
    async def main() -> None:
        first = busy_poll()
        assert first == int(os.environ.get("OMNITRON_BUSY_POLL_US", "100"))  # else the default
        assert busy_poll(250) == 250
        assert busy_poll() == 250
        assert busy_poll(0) == 0
        for bad in (-1, 1_000_001, 1.5, "10", True, None.__class__):
            with pytest.raises(InvalidArgumentError, match="microseconds"):
                busy_poll(bad)  # type: ignore[arg-type]
        assert busy_poll() == 0, "a refused value changes nothing"
        # The loop's selector is wrapped once, and still a working selector.
        sel = selector_of(asyncio.get_running_loop())
        assert isinstance(sel, PollingSelector)
        assert selector_of(asyncio.get_running_loop()) is sel
        await asyncio.sleep(0.001)

    run(main())
    with pytest.raises(RuntimeError):
        busy_poll()  # no running loop, and none given


def test_a_loop_polls_only_while_it_reads_connections_and_calls_work_either_way() -> None:
    async def main() -> None:
        sel = selector_of(asyncio.get_running_loop())
        assert sel is not None and sel.readers == 0
        server, client = await pair()
        for us in (0, 100, 1_000_000):
            busy_poll(us)
            assert [await client.call("echo@1.0.0", "echo", i) for i in range(50)] == list(range(50))
        # Both ends of the connection are read by this loop.
        assert sel.readers == 2
        await client.close()
        await server.close()
        for _ in range(100):
            if sel.readers == 0:
                break
            await asyncio.sleep(0.01)
        assert sel.readers == 0

    run(main())


def test_the_largest_budget_does_not_hold_timers_or_other_io() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server, client = await pair()
        busy_poll(1_000_000)
        # Short waits grow the budget toward the maximum (one second).
        for i in range(200):
            await client.call("echo@1.0.0", "echo", i)
        sel = selector_of(loop)
        assert sel is not None
        assert sel.poll.budget_micros > 0, "the loop polled: short waits grew its budget"
        # A timer due in 20 ms is not kept waiting behind a poll of up to a second: the poll is
        # capped by the loop's own timeout. (A bound 40 times the timer, not a speed figure.)
        t0 = time.monotonic()
        await asyncio.sleep(0.02)
        assert time.monotonic() - t0 < 0.8
        # Nor is a socket that is not Omnitron's: the poll watches the loop's whole selector.
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        try:
            t0 = time.monotonic()
            loop.call_later(0.01, b.send, b"ping")
            assert await asyncio.wait_for(loop.sock_recv(a, 4), 5) == b"ping"
            assert time.monotonic() - t0 < 0.8
        finally:
            a.close()
            b.close()
        # Waits longer than the maximum shrink the budget to nothing.
        busy_poll(100)
        for _ in range(8):
            await asyncio.sleep(0.005)
        assert sel.poll.budget_micros == 0
        await client.close()
        await server.close()

    run(main())
