"""Job queues across languages and processes, over one SQLite store: jobs added from C (one as
MessagePack, one as JSON) run by a Python worker, and jobs added from Python run by a C worker;
each side reads the other's results; the jobs C adds inside a span run in its trace in Python. Run by `make interop-test`:
    queue_c_python.py <path to tests/interop/queue_c built>
"""

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile

from omnitron import current_trace
from omnitron.queue import Queue, Worker


async def wait_completed(queue: Queue, n: int) -> None:
    for _ in range(3000):
        if (await queue.counts()).completed >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"queue '{queue.name}': {n} jobs not completed in time: {await queue.counts()}")


async def main(c_bin: str) -> None:
    tmp = tempfile.mkdtemp(prefix="omnitron-queue-interop-")
    store = f"sqlite:{tmp}/queues.db"
    try:
        # C adds, Python runs.
        added = subprocess.run([c_bin, "add", store], check=True, timeout=60, capture_output=True, text=True)
        c_trace = added.stdout.split()[0].split("-")[1]
        c2py = await Queue.open("interop-c2py", store=store)
        seen = []
        traces = []

        async def handle(job):
            seen.append((job.id, job.name, job.data))
            # The C program added it inside a span: the handler runs in that trace.
            traces.append((current_trace() or ("",))[0])
            return {"from": "python", "n": job.data["n"] * 10}

        worker = Worker(c2py, handle, poll_interval=0.02)
        await wait_completed(c2py, 2)
        await worker.close()
        assert sorted(seen) == [
            ("c-1", "from-c", {"n": 1}),
            ("c-2", "from-c", {"n": 2, "tags": ["a", "b"]}),
        ], seen
        assert [t.split("-")[1] if t else None for t in traces] == [c_trace, c_trace], (c_trace, traces)
        # C reads what Python completed.
        out = subprocess.run([c_bin, "check", store], check=True, timeout=60, capture_output=True, text=True)
        c1 = json.loads(out.stdout)
        assert c1["state"] == "completed" and c1["result"] == {"from": "python", "n": 10}, c1

        # Python adds, C runs.
        py2c = await Queue.open("interop-py2c", store=store)
        texts = ["hello", "wörld", {"nested": [1, 2.5, None, True]}]
        ids = [await py2c.add("echo", {"text": t}) for t in texts]
        subprocess.run([c_bin, "work", store, str(len(texts))], check=True, timeout=120)
        for job_id, text in zip(ids, texts):
            info = await py2c.get_job(job_id)
            assert info is not None and info.state == "completed", info
            assert info.result == {"from": "c", "data": {"text": text}}, info.result
        print(f"queue interop: C -> Python {len(seen)} jobs, Python -> C {len(ids)} jobs: ok")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
