"""Pools and supervisors through the Python package, with real Python worker processes."""

import asyncio
import json
import os
import signal
import urllib.request
import time
from typing import Any, Optional

import pytest

from omnitron import (
    ChildInfo,
    HealthCheck,
    Pool,
    Supervisor,
    child,
    on_child_crash,
    on_child_restart,
    python_worker,
    supervisor,
)
from omnitron.errors import (
    ChildNotReadyError,
    ExporterFailedError,
    InvalidArgumentError,
    NotRunningError,
    OmnitronError,
    QueueFullError,
    RestartLimitError,
    SpawnFailedError,
    TimeoutError,
    WorkerLostError,
)

from proc_services import Echo

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = python_worker(Echo)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def eventually(f: Any, secs: float = 15.0) -> Any:
    until = time.monotonic() + secs
    while time.monotonic() < until:
        v = f()
        if asyncio.iscoroutine(v):
            v = await v
        if v:
            return v
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def test_a_pool_runs_tasks_on_python_workers() -> None:
    async def main() -> None:
        async with await Pool.start(WORKER, name="py-echo", size=2, cwd=HERE) as pool:
            status = pool.status()
            assert status["workers"] == 2
            pids = {await pool.exec("pid") for _ in range(10)}
            assert pids == set(status["pids"])
            assert await pool.exec("echo", {"a": [1, 2.5, "x"]}) == {"a": [1, 2.5, "x"]}
            items = list(range(200))
            assert await pool.map(items, "echo") == items
            with pytest.raises(OmnitronError) as e:
                await pool.exec("fail", "bad order")
            assert "bad order" in str(e.value)
        with pytest.raises(NotRunningError):
            await pool.exec("pid")
        for pid in status["pids"]:
            await eventually(lambda: not alive(pid))

    asyncio.run(main())


def test_pool_errors_are_clear() -> None:
    async def main() -> None:
        pool = await Pool.start(WORKER, name="py-queue", size=1, concurrency=1, queue_limit=1, task_timeout=3.0, cwd=HERE)
        try:
            slow = [asyncio.ensure_future(pool.exec("sleep", 0.5)) for _ in range(2)]
            await eventually(lambda: pool.status()["queued"] == 1)
            with pytest.raises(QueueFullError):
                await pool.exec("pid")
            await asyncio.gather(*slow)
        finally:
            await pool.close()
        pool = await Pool.start(WORKER, name="py-timeout", size=1, task_timeout=0.3, cwd=HERE)
        try:
            with pytest.raises(TimeoutError):
                await pool.exec("sleep", 3)
        finally:
            await pool.close()
        with pytest.raises(SpawnFailedError):
            await Pool.start(["/nonexistent/python"], name="ghost")
        with pytest.raises(ChildNotReadyError) as e:
            await Pool.start(["python3", "-c", "import sys; print('boom', file=sys.stderr); sys.exit(4)"], name="crashy")
        assert "boom" in str(e.value) and "code 4" in str(e.value)
        for bad in ({"size": "lots"}, {"strategy": "random"}, {"concurrency": -1}, {"task_timeout": "soon"}, {"env": {"A": 1}}):
            with pytest.raises(InvalidArgumentError):
                await Pool.start(WORKER, **bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            await Pool.start(42)  # type: ignore[arg-type]
        # The engine checks the values, in Python's words (seconds, snake_case).
        with pytest.raises(InvalidArgumentError, match=r"task_timeout must be a number of seconds, 0 or more, got -1"):
            await Pool.start(WORKER, task_timeout=-1)
        with pytest.raises(InvalidArgumentError, match=r"backoff_factor must be a number of at least 1, got 0.5"):
            Supervisor("s", backoff_factor=0.5)

    asyncio.run(main())


def test_workers_killed_under_load_lose_no_task() -> None:
    async def main() -> None:
        pool = await Pool.start(WORKER, name="py-killed", size=2, task_retries=2, cwd=HERE)
        try:
            tasks = [asyncio.ensure_future(pool.exec("sleep", 0.002 * (i % 5))) for i in range(200)]
            await asyncio.sleep(0.1)
            os.kill(pool.status()["pids"][0], signal.SIGKILL)
            results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
            for r in results:
                assert isinstance(r, int) or isinstance(r, WorkerLostError), r
            await eventually(lambda: pool.status()["workers"] == 2, 30)
            assert isinstance(await pool.exec("pid"), int)
        finally:
            await pool.close()

    asyncio.run(main())


def test_a_supervisor_restarts_and_hooks_decide() -> None:
    async def main() -> None:
        sup = Supervisor("py-sup", max_restarts=2, window=60.0, backoff=0.01, backoff_max=0.05)
        sup.add_child("a", WORKER, cwd=HERE)
        sup.add_child("b", WORKER, cwd=HERE)
        crashes: list[tuple[str, str]] = []
        attempts: list[int] = []

        @sup.on_crash
        async def crashed(info: ChildInfo, reason: str) -> Optional[str]:
            crashes.append((info["name"], reason))
            return "ignore" if info["name"] == "b" else None

        @sup.on_restart
        def restarted(info: ChildInfo, attempt: int) -> None:
            attempts.append(attempt)

        await asyncio.gather(sup.start(), sup.start())
        children = await sup.children()
        assert [c["name"] for c in children] == ["a", "b"]
        a_pid = children[0]["pid"]
        assert a_pid is not None
        os.kill(a_pid, signal.SIGKILL)

        async def a_restarted() -> bool:
            c = (await sup.children())[0]
            return c["state"] == "running" and c["pid"] not in (None, a_pid)

        await eventually(a_restarted)
        assert attempts == [1]
        b_pid = (await sup.children())[1]["pid"]
        assert b_pid is not None
        os.kill(b_pid, signal.SIGKILL)

        async def b_down() -> bool:
            return (await sup.children())[1]["state"] == "stopped"

        await eventually(b_down)
        # The status page: each child as the supervisor sees it, with its own report when it runs.
        with sup.serve_status_page() as page:
            assert page.url.startswith("http://127.0.0.1:")

            def fetch(path: str) -> str:
                with urllib.request.urlopen(page.url + path, timeout=20) as r:
                    return str(r.read().decode())

            status = json.loads(await asyncio.get_running_loop().run_in_executor(None, fetch, "api/status"))
            procs = status["processes"]
            assert [(p["name"], p["state"]) for p in procs] == [("a", "running"), ("b", "stopped")]
            assert procs[0]["report"]["pid"] == procs[0]["pid"] and procs[1]["report"] is None
            assert "signal 9" in procs[1]["last_exit"]
            assert "/status.js" in await asyncio.get_running_loop().run_in_executor(None, fetch, "")
            with pytest.raises(InvalidArgumentError, match="nowhere"):
                sup.serve_status_page("nowhere")
            with pytest.raises(ExporterFailedError, match="cannot listen"):
                sup.serve_status_page("192.0.2.1:1")
            with pytest.raises(InvalidArgumentError):
                sup.serve_status_page(80)  # type: ignore[arg-type]
        page.close()
        assert [n for n, _ in crashes] == ["a", "b"]
        assert "signal 9" in crashes[0][1]
        # Manual restarts count against the budget (2): one was used by the crash.
        await sup.restart_child("a")
        with pytest.raises(RestartLimitError):
            await sup.restart_child("a")
        pids = [c["pid"] for c in await sup.children() if c["pid"]]
        await sup.close()
        assert sup.state == "stopped"
        for p in pids:
            await eventually(lambda p=p: not alive(p))

    asyncio.run(main())


def test_a_wedged_child_is_restarted_and_decorators_build_a_supervisor() -> None:
    reasons: list[str] = []

    @supervisor(strategy="one-for-all", max_restarts=3, window=60.0, backoff=0.01)
    class Backend:
        wedge = child(WORKER, cwd=HERE, health=HealthCheck(interval=0.1, timeout=0.15, max_missed=3))
        other = child.python(Echo, cwd=HERE)

        @on_child_crash
        def crashed(self, info: ChildInfo, reason: str) -> None:
            reasons.append(reason)

        @on_child_restart
        async def restarted(self, info: ChildInfo, attempt: int) -> None:
            await asyncio.sleep(0)

    async def main() -> None:
        sup = Supervisor.from_class(Backend())
        await sup.start()
        before = [c["pid"] for c in await sup.children()]
        assert before[0] is not None and before[1] is not None
        os.kill(before[0], signal.SIGSTOP)

        async def all_new() -> bool:
            now = await sup.children()
            return all(c["state"] == "running" for c in now) and all(c["pid"] != b for c, b in zip(now, before))

        await eventually(all_new, 30)
        assert any("stopped answering" in r for r in reasons), reasons
        assert not alive(before[0])
        await sup.close()

    asyncio.run(main())


def test_bad_supervisor_input() -> None:
    with pytest.raises(InvalidArgumentError):
        Supervisor("x", strategy="all-for-none")
    sup = Supervisor("y")
    with pytest.raises(InvalidArgumentError):
        sup.add_child("z", WORKER, restart="sometimes")
    with pytest.raises(InvalidArgumentError):
        sup.add_child("z", WORKER, instances=-1)
    with pytest.raises(InvalidArgumentError):
        sup.on_crash("not a function")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Supervisor.from_class(object())

    async def main() -> None:
        with pytest.raises(NotRunningError):
            await sup.restart_child("z")

    asyncio.run(main())


def test_cancelling_an_exec_cancels_the_task_on_its_worker_and_frees_it(tmp_path: Any) -> None:
    async def main() -> None:
        pool = await Pool.start(WORKER, name="py-cancel", size=1, concurrency=1, task_timeout=20.0, cwd=HERE)
        try:
            # Running: the worker's handler is cancelled, and the worker takes the next task.
            running = tmp_path / "running"
            task = asyncio.ensure_future(pool.exec("wait_cancel", str(running)))
            await eventually(lambda: os.path.exists(str(running) + ".started"))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await eventually(running.exists)
            await eventually(lambda: pool.status()["in_flight"] == 0)
            assert isinstance(await asyncio.wait_for(pool.exec("pid"), 10), int)
            # Queued: it leaves the queue and never runs.
            first, queued = tmp_path / "first", tmp_path / "queued"
            busy = asyncio.ensure_future(pool.exec("wait_cancel", str(first)))
            waiting = asyncio.ensure_future(pool.exec("wait_cancel", str(queued)))
            await eventually(lambda: os.path.exists(str(first) + ".started") and pool.status()["queued"] == 1)
            waiting.cancel()
            await eventually(lambda: pool.status()["queued"] == 0)
            busy.cancel()
            await eventually(first.exists)
            assert isinstance(await asyncio.wait_for(pool.exec("pid"), 10), int)
            assert not os.path.exists(str(queued) + ".started")
        finally:
            await pool.close()

    asyncio.run(main())
