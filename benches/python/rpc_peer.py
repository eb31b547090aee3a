"""Helper processes for the RPC benchmarks.

    rpc_peer.py serve ADDRESS TOKEN   host echo@1.0.0 (and count bench.* events), print "ready"
    rpc_peer.py call ADDRESS TOKEN    call echo@1.0.0 there with 1 and 64 in flight, print the figures
    rpc_peer.py mpserve PORTFILE      a multiprocessing.connection echo server
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Awaitable, Callable

from omnitron import Peer, public, service


@service("echo@1.0.0")
class Echo:
    @public
    async def echo(self, x: Any) -> Any:
        return x


async def measure(in_flight: int, total: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, float, float]:
    for _ in range(500):
        await call()
    lat: list[float] = []
    per = total // in_flight

    async def loop() -> None:
        for _ in range(per):
            s = time.perf_counter()
            await call()
            lat.append((time.perf_counter() - s) * 1e6)

    t0 = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(in_flight)))
    secs = time.perf_counter() - t0
    lat.sort()
    return per * in_flight / secs, lat[len(lat) // 2], lat[int(len(lat) * 0.99)]


def row(name: str, r: tuple[float, float, float]) -> None:
    print(f"{name:<40}{r[0]:>10.0f}{r[1]:>10.1f}{r[2]:>10.1f}", flush=True)


async def serve(address: str, token: str) -> None:
    peer = await Peer.listen(address, token=token)
    await peer.expose(Echo())
    counter = {"n": 0}

    def tick(_: Any) -> None:
        counter["n"] += 1

    async def done(_: Any) -> None:
        await peer.publish("bench-count", counter["n"])
        counter["n"] = 0

    await peer.subscribe("bench.#", tick)
    await peer.subscribe("bench-done", done)
    print("ready", flush=True)
    await asyncio.sleep(3600)


async def call(address: str, token: str) -> None:
    peer = await Peer.connect(address, token=token)
    row("Python -> Node service, 1 in flight", await measure(1, 3_000, lambda: peer.call("echo@1.0.0", "echo", 42)))
    row("Python -> Node service, 64 in flight", await measure(64, 30_000, lambda: peer.call("echo@1.0.0", "echo", 42)))
    await peer.close()


def mpserve(portfile: str) -> None:
    from multiprocessing.connection import Listener

    with Listener(("127.0.0.1", 0), authkey=b"bench") as l:
        with open(portfile, "w") as f:
            f.write(str(l.address[1]))
        with l.accept() as conn:
            while True:
                try:
                    conn.send(conn.recv())
                except EOFError:
                    return


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "serve":
        asyncio.run(serve(sys.argv[2], sys.argv[3]))
    elif mode == "call":
        asyncio.run(call(sys.argv[2], sys.argv[3]))
    elif mode == "mpserve":
        mpserve(sys.argv[2])
