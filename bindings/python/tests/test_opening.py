"""Every async constructor of the package is spelled one way: ``await X(...)`` gives the object,
``async with X(...) as x:`` gives it and closes it at the end, and it is a coroutine to
``asyncio.create_task`` / ``gather`` (omnitron/_opening.py). Real pools, peers and containers."""

import asyncio
import os
import tempfile
import pytest

from omnitron import Omnitron, Peer, Pool, WorkflowEngine, module, python_worker
from omnitron.testing import create_testing_module

from proc_services import Echo

HERE = os.path.dirname(os.path.abspath(__file__))


class Hooked:
    closed = 0

    def on_destroy(self) -> None:
        Hooked.closed += 1


@module(providers=[Hooked])
class AppModule:
    pass


def test_every_constructor_is_awaited_or_entered_and_a_coroutine() -> None:
    async def main() -> None:
        async with Pool.start(python_worker(Echo), name="opening", size=1, cwd=HERE) as pool:
            assert await pool.exec("echo", 1) == 1
        assert pool._stopped, "closed at the end of the block"

        address = f"unix:{tempfile.mkdtemp()}/private/rpc.sock"
        async with Peer.listen(address) as server:
            # A coroutine: a task can make it.
            client = await asyncio.create_task(Peer.connect(address))
            await client.close()
            both = await asyncio.gather(Peer.connect(address), Peer.connect(address))
            for p in both:
                await p.close()
        assert server._closed

        async with Omnitron.create(AppModule) as app:
            assert isinstance(app.get(Hooked), Hooked)
        assert Hooked.closed == 1

        async with create_testing_module(providers=[Hooked]).compile() as testing:
            assert isinstance(testing.get(Hooked), Hooked)
        assert Hooked.closed == 2

        async with WorkflowEngine.in_memory() as engine:
            assert isinstance(engine, WorkflowEngine)

    asyncio.run(main())


def test_a_constructor_not_awaited_says_so_and_runs_nothing() -> None:
    opening = Pool.start(python_worker(Echo), name="never", size=1, cwd=HERE)
    with pytest.raises(AttributeError, match=r"Pool.start\(\) is async: use `await Pool.start\(\)`"):
        opening.exec  # noqa: B018 - the access is the test
    opening.close()  # nothing was started: nothing to close, and no "never awaited" warning
    assert "awaitable Pool.start()" in repr(opening)


def test_unknown_keywords_are_still_refused() -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="did you mean 'size'"):
            await Pool.start(python_worker(Echo), sise=2)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="did you mean 'token'"):
            await Peer.connect("unix:/nowhere", tokn="x")  # type: ignore[call-arg]

    asyncio.run(main())
