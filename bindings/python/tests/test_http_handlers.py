"""Handlers: ``async def`` on the app's loop, ``def`` in threads (a blocking one does not hold an
async one up), ``HTTPException``, engine errors, a raising handler (500, then the server keeps
serving), 404 and 405."""

import asyncio
import threading

from conftest import run

from omnitron.errors import ServiceNotFoundError, TimeoutError
from omnitron.http import HTTPException, HttpApp, controller, get, post
from omnitron.testing import AsyncTestClient


@controller("h")
class Handlers:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.loop_thread: "threading.Thread | None" = None

    @get("/async")
    async def on_loop(self) -> dict:
        await asyncio.sleep(0)
        return {"thread": threading.current_thread().name}

    @get("/sync")
    def off_loop(self) -> dict:
        return {"thread": threading.current_thread().name}

    @get("/blocking")
    def blocking(self) -> dict:
        # Waits (in its thread) until an async handler sets the event.
        return {"released": self.release.wait(timeout=30)}

    @post("/release")
    async def set_release(self) -> None:
        self.release.set()

    @get("/teapot")
    async def teapot(self) -> None:
        raise HTTPException(418, "I am a teapot", headers={"x-tea": "earl grey"})

    @get("/detail")
    def detail(self) -> None:
        raise HTTPException(409, {"conflict": "name"})

    @get("/boom")
    async def boom(self) -> None:
        raise RuntimeError("something broke")

    @get("/boom-sync")
    def boom_sync(self) -> None:
        raise KeyError("missing")

    @get("/later-boom")
    async def later_boom(self) -> None:
        await asyncio.sleep(0.001)
        raise ValueError("after a wait")

    @get("/unsendable")
    async def unsendable(self) -> object:
        return object()

    @get("/engine-timeout")
    async def engine_timeout(self) -> None:
        raise TimeoutError("the payment service did not answer")

    @get("/engine-missing")
    async def engine_missing(self) -> None:
        raise ServiceNotFoundError("no service 'payment'")


def test_async_handlers_run_on_the_loop_and_def_handlers_in_threads() -> None:
    async def main() -> None:
        async with AsyncTestClient(HttpApp([Handlers()])) as c:
            assert (await c.get("/h/async")).json() == {"thread": threading.current_thread().name}
            assert (await c.get("/h/sync")).json()["thread"].startswith("omnitron-http")

    run(main())


def test_a_blocking_def_handler_does_not_hold_up_async_ones() -> None:
    async def main() -> None:
        async with AsyncTestClient(HttpApp([Handlers()])) as c:
            blocked = asyncio.ensure_future(c.get("/h/blocking"))
            await asyncio.sleep(0.05)
            assert not blocked.done()
            # The async handler runs while the def one still waits in its thread.
            assert (await c.post("/h/release")).status_code == 204
            r = await asyncio.wait_for(blocked, 30)
            assert r.json() == {"released": True}

    run(main())


def test_http_exception_is_a_problem_with_its_status_detail_and_headers() -> None:
    async def main() -> None:
        async with AsyncTestClient(HttpApp([Handlers()])) as c:
            r = await c.get("/h/teapot")
            assert r.status_code == 418
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["x-tea"] == "earl grey"
            doc = r.json()
            assert doc["detail"] == "I am a teapot" and doc["status"] == 418 and doc["instance"] == "/h/teapot"
            r = await c.get("/h/detail")
            assert r.status_code == 409 and r.json()["detail"] == '{"conflict":"name"}'

    run(main())


def test_engine_errors_get_core_s_status_for_their_code() -> None:
    async def main() -> None:
        async with AsyncTestClient(HttpApp([Handlers()])) as c:
            r = await c.get("/h/engine-timeout")
            assert r.status_code == 504 and r.json()["code"] == "E006", r.text
            r = await c.get("/h/engine-missing")
            assert r.status_code == 404 and r.json()["code"] == "RPC001", r.text

    run(main())


def test_a_raising_handler_is_a_500_and_the_server_keeps_serving(caplog) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        async with AsyncTestClient(HttpApp([Handlers()])) as c:
            for url in ("/h/boom", "/h/boom-sync", "/h/later-boom", "/h/unsendable"):
                r = await c.get(url)
                assert r.status_code == 500, (url, r.text)
                doc = r.json()
                assert doc["code"] == "H005" and doc["requestId"] == r.headers["x-request-id"]
                assert "something broke" not in r.text  # the exception's text stays in the log
                assert (await c.get("/h/async")).status_code == 200

    with caplog.at_level("ERROR", logger="omnitron.http"):
        run(main())
    assert "something broke" in caplog.text and "Handlers.boom" in caplog.text


def test_unknown_paths_are_404_and_other_methods_405() -> None:
    async def main() -> None:
        async with AsyncTestClient(HttpApp([Handlers()])) as c:
            r = await c.get("/h/nope")
            assert r.status_code == 404 and r.json()["code"] == "H002"
            r = await c.delete("/h/async")
            assert r.status_code == 405 and r.json()["code"] == "H003"
            assert r.headers["allow"] == "GET, HEAD"
            r = await c.head("/h/async")
            assert r.status_code == 200 and r.content == b""

    run(main())
