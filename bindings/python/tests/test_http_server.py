"""The app over real sockets with the standard library's client: keep-alive, concurrent requests
(batched to Python and back, each answer to its own request), graceful close with a request in
flight, and options refused by core with its message."""

import asyncio
import concurrent.futures
import http.client
import json
import socket

import pytest
from conftest import run
from http_helpers import afetch, fetch

from omnitron.errors import HttpServerError, InvalidArgumentError
from omnitron.http import HttpApp, controller, get, post


@controller("s")
class Serve:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.go = asyncio.Event()

    @get("/echo/{n}")
    async def echo(self, n: int, tag: str = "") -> dict:
        if n % 3 == 0:
            await asyncio.sleep(0)  # some wait, some answer in their first step
        return {"n": n, "tag": tag}

    @get("/sync/{n}")
    def echo_sync(self, n: int) -> dict:
        return {"n": n}

    @post("/items")
    async def create(self, item: dict) -> dict:
        return {"created": item}

    @get("/slow")
    async def slow(self) -> dict:
        self.started.set()
        await self.go.wait()
        return {"done": True}


def test_get_and_post_over_one_keep_alive_connection() -> None:
    async def main() -> None:
        async with HttpApp([Serve()]) as app:
            port = await app.listen(0)
            assert app.port == port and app.ready

            def talk() -> list[tuple[int, bytes]]:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                out = []
                for i in range(3):
                    conn.request("GET", f"/s/echo/{i}?tag=t{i}")
                    r = conn.getresponse()
                    out.append((r.status, r.read()))
                conn.request("POST", "/s/items", body=b'{"a":1}', headers={"content-type": "application/json"})
                r = conn.getresponse()
                out.append((r.status, r.read()))
                conn.close()
                return out

            out = await asyncio.get_running_loop().run_in_executor(None, talk)
            assert out == [
                (200, b'{"n":0,"tag":"t0"}'),
                (200, b'{"n":1,"tag":"t1"}'),
                (200, b'{"n":2,"tag":"t2"}'),
                (201, b'{"created":{"a":1}}'),
            ]

    run(main())


def test_concurrent_requests_each_get_their_own_answer() -> None:
    async def main() -> None:
        async with HttpApp([Serve()]) as app:
            port = await app.listen(0)
            loop = asyncio.get_running_loop()
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                jobs = [loop.run_in_executor(pool, fetch, port, "GET", f"/s/{'sync' if n % 5 == 0 else 'echo'}/{n}") for n in range(200)]
                answers = await asyncio.gather(*jobs)
            for n, (status, _, body) in enumerate(answers):
                assert status == 200 and json.loads(body)["n"] == n

    run(main())


def test_close_drains_a_request_in_flight() -> None:
    async def main() -> None:
        s = Serve()
        app = HttpApp([s])
        port = await app.listen(0)
        pending = asyncio.ensure_future(afetch(port, "GET", "/s/slow"))
        await asyncio.wait_for(s.started.wait(), 30)
        closing = asyncio.ensure_future(app.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # it waits for the request in flight
        assert not app.ready
        s.go.set()
        status, _, body = await asyncio.wait_for(pending, 30)
        assert (status, json.loads(body)) == (200, {"done": True})
        await asyncio.wait_for(closing, 30)
        with pytest.raises(OSError):
            await afetch(port, "GET", "/s/echo/1")
        await app.close()  # idempotent

    run(main())


def test_bad_options_are_refused_with_core_s_message() -> None:
    with pytest.raises(InvalidArgumentError, match="body_limit"):
        HttpApp([Serve()], body_limt=10)
    with pytest.raises(InvalidArgumentError, match="max_connections"):
        HttpApp([Serve()], max_connections=0)
    with pytest.raises(InvalidArgumentError, match="body_limit"):
        HttpApp([Serve()], body_limit="big")
    with pytest.raises(InvalidArgumentError, match="origin"):
        HttpApp([Serve()], cors={"origins": ["https://a.example"]})
    with pytest.raises(InvalidArgumentError, match="secret"):
        HttpApp([Serve()], jwt={})
    HttpApp([Serve()], body_limit=10, cors={"origin": "https://a.example"}, openapi=False, shutdown_timeout=1.5, health=False)


def test_a_port_in_use_and_a_second_listen_are_refused() -> None:
    async def main() -> None:
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        try:
            async with HttpApp([Serve()]) as app:
                with pytest.raises(HttpServerError):
                    await app.listen(taken.getsockname()[1])
                await app.listen(0)
                with pytest.raises(InvalidArgumentError, match="listening already"):
                    await app.listen(0)
                with pytest.raises(InvalidArgumentError, match="port"):
                    await HttpApp([Serve()]).listen(70000)
        finally:
            taken.close()

    run(main())
