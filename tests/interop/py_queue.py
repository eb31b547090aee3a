"""The Python side of tests/interop/queue.test.mjs: `work STORE QUEUE N` runs a worker until it has
completed N jobs; `add STORE QUEUE N` adds N jobs `{"n": i}` with ids `py-<i>`; `tick STORE - N` runs an
application whose `@interval` method ticks N times; `listen STORE QUEUE
N` starts an application whose `@queue_processor` class only hears events, until it has heard N
completions (run elsewhere), and prints each job's id and result. Prints `ready` once its worker or
listener runs, `done` at the end. `deployed` is a child of `omnitron start` whose application declares
nothing: what it runs comes from omnitron.yaml."""

import asyncio
import json
import sys
from typing import Any

from omnitron import Job, Omnitron, Queue, QueueEvent, Worker, injectable, interval, module, on_queue_event, queue_processor

heard: list[QueueEvent] = []


def listener_module(name: str) -> Any:
    @queue_processor(name)
    class Listener:
        @on_queue_event("completed")
        async def completed(self, event: QueueEvent) -> None:
            heard.append(event)

    @module(providers=[Listener])
    class ListenerModule:
        pass

    return ListenerModule


ticks: list[int] = []


@injectable
class PyTicker:
    @interval(1)
    async def tick(self) -> None:
        ticks.append(1)


@module(providers=[PyTicker])
class TickerModule:
    pass


async def tick(store: str, n: int) -> None:
    """An application whose one schedule ticks until it has run `n` times."""
    app = await Omnitron.create(TickerModule, queues={"store": store})
    print("ready", flush=True)
    while len(ticks) < n:
        await asyncio.sleep(0.01)
    await app.close()


async def listen(store: str, name: str, n: int) -> None:
    app = await Omnitron.create(listener_module(name), queues={"store": store})
    print("ready", flush=True)
    while len(heard) < n:
        await asyncio.sleep(0.01)
    await app.close()
    for e in heard:
        print(json.dumps({"id": e.id, "result": e.result}), flush=True)


@module(providers=[])
class EmptyModule:
    pass


async def deployed() -> None:
    """No schedule and no processor in code: the `cronJobs:` of omnitron.yaml start by themselves."""
    from omnitron.worker import serve

    app = await Omnitron.create(EmptyModule)
    try:
        await serve()
    finally:
        await app.close()


async def main() -> None:
    if sys.argv[1] == "deployed":
        await deployed()
        return
    mode, store, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if mode == "tick":
        await tick(store, n)
        print("done", flush=True)
        return
    if mode == "listen":
        await listen(store, name, n)
        print("done", flush=True)
        return
    q = await Queue.open(name, store=store)
    if mode == "add":
        for i in range(n):
            await q.add("double", {"n": i, "from": "python"}, id=f"py-{i}")
        print("done", flush=True)
        return
    finished = asyncio.Event()
    count = 0

    async def handle(job: Job[dict]) -> dict:
        nonlocal count
        count += 1
        if count == n:
            asyncio.get_running_loop().call_soon(finished.set)
        return {"by": "python", "double": job.data["n"] * 2, "from": job.data["from"]}

    w = Worker(q, handle, concurrency=4, poll_interval=0.02)
    print("ready", flush=True)
    await finished.wait()
    await w.close()
    print("done", flush=True)


asyncio.run(main())
