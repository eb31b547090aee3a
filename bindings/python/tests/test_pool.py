"""Pools from Python, beyond the basics of test_process.py: map in chunks (sizes, order, per-item
errors, a chunk retried when its worker dies), the workers' connections read by the pool's own
loop, close() and its deprecated alias, options checked, and a pool as a provider's attribute
(process_pool) started by the container."""

import asyncio
import os
import tempfile
import warnings
from typing import Any

import pytest

from omnitron import Omnitron, Pool, busy_poll, injectable, module, process_pool, python_worker
from omnitron._poll import selector_of
from omnitron.errors import InvalidArgumentError, MethodNotFoundError, NotRunningError, RemoteError

from proc_services import Echo
from test_process import alive, eventually

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = python_worker(Echo)


async def start(name: str, size: int = 2, **options: Any) -> Pool:
    return await Pool.start(WORKER, name=name, size=size, cwd=HERE, **options)


def test_map_sends_chunks_sized_as_multiprocessing_does_and_keeps_order() -> None:
    async def main() -> None:
        async with await start("py-chunks") as pool:
            items = list(range(100))
            for method in ("chunk", "achunk"):
                # divmod(100, 2 workers * 4) = (12, 4): 13 items a chunk, the last one 9.
                out = await pool.map(items, method)
                assert [o[0] for o in out] == items, method
                assert {o[2] for o in out} == {13, 9}, (method, out)
                assert len({o[1] for o in out}) == 2, "chunks went to both workers"
                out = await pool.map(items, method, chunksize=40)
                assert [o[2] for o in out] == [40] * 80 + [20] * 20
                # 1: one call per item, as before.
                out = await pool.map(items, method, chunksize=1)
                assert {o[2] for o in out} == {1}
            # Any iterable; many items, every one back in its place.
            assert await pool.map(range(20_000), "echo") == list(range(20_000))
            assert await pool.map((x for x in "abc"), "echo") == ["a", "b", "c"]
            assert await pool.map([], "echo") == []
            assert (await pool.exec("chunk", 5))[2] == 1

    asyncio.run(main())


def test_map_with_a_function_runs_it_here_and_the_multiprocessing_order_works() -> None:
    async def main() -> None:
        async with await start("py-map-fn") as pool:
            # The spec's map(items, async (item) => pool.exec('process', item)): fn runs here.
            running = 0
            most = 0

            async def one(x: int) -> Any:
                nonlocal running, most
                running += 1
                most = max(most, running)
                try:
                    return await pool.exec("echo", x)
                finally:
                    running -= 1

            assert await pool.map(range(200), one) == list(range(200))
            assert 1 < most <= 2 * 32, "as many at a time as the workers take"
            assert await pool.map([1, 2, 3], lambda x: x * 10) == [10, 20, 30]
            assert await pool.map([], one) == []

            # Every item runs; the first failure in the items' order is raised.
            seen: list[int] = []

            async def picky(x: int) -> int:
                seen.append(x)
                if x in (7, 3):
                    raise KeyError(x)
                return x

            with pytest.raises(KeyError) as e:
                await pool.map(range(10), picky)
            assert e.value.args == (3,) and sorted(seen) == list(range(10))

            # multiprocessing.Pool.map's order: the method first.
            assert await pool.map("echo", range(5)) == list(range(5))
            with pytest.raises(InvalidArgumentError, match="chunksize is for a method name"):
                await pool.map([1], one, chunksize=2)
            with pytest.raises(InvalidArgumentError, match="iterable"):
                await pool.map(5, one)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgumentError, match="method name or a function"):
                await pool.map([1], 5)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgumentError, match="did you mean 'chunksize'"):
                await pool.map([1], "echo", chunk_size=2)  # type: ignore[call-arg]

    asyncio.run(main())


def test_a_def_method_s_chunks_run_in_a_thread_unless_its_items_were_measured_to_take_microseconds() -> None:
    async def main() -> None:
        async with await start("py-inline", size=1) as pool:
            # Items that sleep (or block on I/O) never run on the worker's loop: not the first
            # chunk (not measured yet), not the next ones (measured slow).
            for _ in range(3):
                names = await pool.map([0.002] * 6, "thread_of", chunksize=6)
                assert all(n != "MainThread" for n in names), names
            # Trivial items: every one answered, in order, wherever they ran.
            for _ in range(3):
                assert await pool.map(range(1000), "echo_sync", chunksize=1000) == list(range(1000))

    asyncio.run(main())


def test_async_items_of_a_chunk_each_run_as_their_own_handler() -> None:
    async def main() -> None:
        async with await start("py-async-items", size=1) as pool:
            # Each item has its own context (a context variable one sets is not seen by another)
            # and its own task (a timeout inside one item does not cancel the others).
            assert await pool.map(list(range(40)), "own_context", chunksize=40) == list(range(40))
            out = await pool.map([0, 1, 2, 3, 4, 5], "times_out_if_odd", chunksize=6)
            assert out == ["ok", "timed out", "ok", "timed out", "ok", "timed out"]

    asyncio.run(main())


def test_every_item_runs_and_map_raises_the_first_failure_in_order() -> None:
    async def main() -> None:
        async with await start("py-item-errors") as pool:
            for method in ("maybe_fail", "amaybe_fail"):
                for chunksize in (None, 1, 7):
                    with pytest.raises(RemoteError) as e:
                        await pool.map(range(40), method, chunksize=chunksize)
                    # Items 3, 10, 17, ... fail: the first of them is the one raised, as exec raises it.
                    assert str(e.value).endswith("ValueError: item 3 is bad"), (method, chunksize, e.value)
                    assert e.value.data == {"type": "ValueError"}
                    with pytest.raises(RemoteError) as one:
                        await pool.exec(method, 3)
                    assert str(one.value) == str(e.value)
                assert await pool.map([0, 1, 2, 4], method) == [0, 2, 4, 8]
            with pytest.raises(MethodNotFoundError, match="nope"):
                await pool.map(range(20), "nope")

    asyncio.run(main())


def test_a_chunk_whose_worker_dies_is_run_again_on_another() -> None:
    async def main() -> None:
        marker = os.path.join(tempfile.mkdtemp(), "died")
        async with await start("py-chunk-retry", task_retries=1) as pool:
            pids = pool.status()["pids"]
            out = await asyncio.wait_for(pool.map([[i, marker] for i in range(100)], "die_once", chunksize=10), 60)
            assert out == list(range(100))
            assert os.path.exists(marker), "a worker died on item 50"
            await eventually(lambda: any(not alive(p) for p in pids))
            await eventually(lambda: pool.status()["workers"] == 2, 30)

    asyncio.run(main())


def test_bad_map_input_is_refused_with_e001() -> None:
    async def main() -> None:
        async with await start("py-bad-map", size=1) as pool:
            for bad in (0, -1, True, 1.5, "2"):
                with pytest.raises(InvalidArgumentError, match="chunksize"):
                    await pool.map([1, 2], "echo", chunksize=bad)  # type: ignore[arg-type]
            for items in (42, None, object()):
                with pytest.raises(InvalidArgumentError, match="iterable"):
                    await pool.map(items, "echo")  # type: ignore[arg-type]
            with pytest.raises(InvalidArgumentError, match="method name"):
                await pool.map([1], 42)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgumentError):
                await pool.map([object()], "echo")  # cannot be sent: nothing is
            assert await pool.map([1, 2], "echo") == [1, 2], "the pool goes on"

    asyncio.run(main())


def test_the_pool_s_loop_reads_its_workers_and_polls() -> None:
    async def main() -> None:
        sel = selector_of(asyncio.get_running_loop())
        assert sel is not None and sel.readers == 0
        async with await start("py-host-loop") as pool:
            # Each worker's connection is read by this loop (one wake-up per answer, not two).
            assert sel.readers == 2
            # With the largest budget (one second), every wait for an answer is a short one.
            busy_poll(1_000_000)
            for i in range(200):
                assert await pool.exec("echo", i) == i
            assert sel.poll.budget_micros > 0, "the loop polled: short waits grew its budget"
            busy_poll(100)
        assert sel.readers == 0

    asyncio.run(main())


def test_close_is_idempotent_and_stop_is_a_deprecated_alias() -> None:
    async def main() -> None:
        pool = await start("py-close", size=1)
        pid = pool.status()["pids"][0]
        await pool.close()
        await pool.close()
        with pytest.raises(NotRunningError):
            await pool.exec("pid")
        await eventually(lambda: not alive(pid))
        pool = await start("py-stop", size=1)
        with pytest.warns(DeprecationWarning, match="close"):
            await pool.stop()
        with pytest.raises(NotRunningError):
            await pool.map([1], "echo")

    asyncio.run(main())


def test_wrong_option_types_are_invalid_argument_errors() -> None:
    async def main() -> None:
        for bad in ({"cwd": 5}, {"recycle_after": "5"}, {"task_timeout": 1e11}, {"service": 5}):
            with pytest.raises(InvalidArgumentError):
                await Pool.start(WORKER, name="py-bad-types", size=1, **{"cwd": HERE, **bad})

    asyncio.run(main())


def test_a_cancelled_start_leaves_no_worker_behind() -> None:
    async def main() -> None:
        before = set(children_of_this_process())
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(start("py-cancelled", size=2), 0.01)
        # Every worker the cancelled start spawned is stopped with it.
        await eventually(lambda: set(children_of_this_process()) <= before)

    asyncio.run(main())


def children_of_this_process() -> list[int]:
    """The pids of this process's live children (from /proc)."""
    me = str(os.getpid())
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and fields[0] != "Z":
                out.append(int(d))
    return out


def test_unknown_options_are_refused_naming_the_nearest() -> None:
    async def main() -> None:
        with pytest.raises(InvalidArgumentError, match=r"unknown option 'sise' in Pool.start\(\): did you mean 'size'\?"):
            await Pool.start(WORKER, sise=2)  # type: ignore[call-arg]
        with pytest.raises(InvalidArgumentError, match=r"unknown option 'taskTimeout' in Pool.of\(\): did you mean 'task_timeout'\?"):
            await Pool.of(Echo, taskTimeout=1.0)
        with pytest.raises(InvalidArgumentError, match=r"in process_pool\(\): did you mean 'warmup'"):
            process_pool(Echo, warm_up=True)
        with pytest.raises(InvalidArgumentError, match="@service classes"):
            process_pool(Echo())
        with pytest.raises(InvalidArgumentError):
            process_pool()

    asyncio.run(main())


@injectable
class DataProcessingService:
    # The spec's @ProcessPool({ size: 'auto', strategy: 'round-robin', warmup: true }), in Python.
    pool: Pool = process_pool(Echo, size="auto", strategy="round-robin", warmup=True, cwd=HERE)

    def __init__(self) -> None:
        self.inits = 0

    async def on_init(self) -> None:
        self.inits += 1
        assert isinstance(self.pool, Pool), "the pools start before the instance's own on_init"

    async def process_batch(self, items: list[Any]) -> list[Any]:
        return await self.pool.map(items, "echo")

    async def process_each(self, items: list[Any]) -> list[Any]:
        return list(await asyncio.gather(*(self.pool.exec("echo", item) for item in items)))


@module(providers=[DataProcessingService])
class AppModule:
    pass


def test_a_pool_as_a_provider_s_attribute_starts_with_the_container() -> None:
    async def main() -> None:
        with pytest.raises(NotRunningError, match="on_init"):
            DataProcessingService().pool
        app = await Omnitron.create(AppModule)
        svc = app.get(DataProcessingService)
        assert svc.inits == 1
        items = [{"id": i} for i in range(50)]
        assert await svc.process_batch(items) == items
        assert await svc.process_each(items[:5]) == items[:5]
        pids = svc.pool.status()["pids"]
        assert len(pids) == (os.cpu_count() or 1)
        await app.close()
        for pid in pids:
            await eventually(lambda: not alive(pid))
        with pytest.raises(NotRunningError):
            svc.pool

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        asyncio.run(main())


def test_a_pools_tasks_and_map_chunks_run_in_the_callers_trace() -> None:
    from omnitron import current_trace, span

    async def main() -> None:
        async with await start("py-trace") as pool:
            with span("resize-all"):
                mine = current_trace()
                one = await pool.exec("trace")
                many = await pool.map(range(20), "trace")
            assert mine is not None
            tid = mine[0].split("-")[1]
            assert one.split("-")[1] == tid
            assert all(t.split("-")[1] == tid for t in many), many
            assert await pool.exec("trace") is None, "outside any trace, none"

    asyncio.run(main())
