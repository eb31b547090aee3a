"""The Python side of tests/interop/queue.test.mjs: `work STORE QUEUE N` runs a worker until it has
completed N jobs; `add STORE QUEUE N` adds N jobs `{"n": i}` with ids `py-<i>`. Prints `ready` once
its worker runs, `done` at the end."""

import asyncio
import sys

from omnitron import Job, Queue, Worker


async def main() -> None:
    mode, store, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
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
