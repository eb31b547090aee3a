"""Job queues through the Python package: a job run once with its result kept, dedup by id, retries
to the dead-letter queue and back, a timeout cancelling an ``async def`` handler, ``def`` handlers on
a thread, pause and resume, a ``@queue_processor`` class started by ``Omnitron.create``, bad input."""

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from typing import Any

import pytest

from omnitron import Job, Omnitron, Queue, QueueEvent, Worker, cron, injectable, interval, module, on_queue_event, process_message, queue_processor
from omnitron.errors import InvalidArgumentError, InvalidJobDataError, InvalidQueueError, InvalidScheduleError

from conftest import run

_dir = tempfile.mkdtemp(prefix="omnitron-queue-")
_n = [0]


def store() -> str:
    _n[0] += 1
    return f"sqlite:{os.path.join(_dir, f'q{_n[0]}.db')}"


def next_event(q: Queue[Any], event: str, when: Any = lambda e: True) -> "asyncio.Future[QueueEvent]":
    fut: asyncio.Future[QueueEvent] = asyncio.get_running_loop().create_future()

    def listener(e: QueueEvent) -> None:
        if when(e) and not fut.done():
            fut.set_result(e)

    q.on(event, listener)
    return fut


async def until(what: str, f: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not f():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_a_job_runs_once_and_its_result_is_kept() -> None:
    async def main() -> None:
        q = await Queue.open("emails", store=store())
        assert await q.add("welcome", {"to": "ada@example.com"}, id="w-1") == "w-1"
        assert await q.add("welcome", {"to": "x"}, id="w-1") == "w-1"  # a duplicate adds nothing
        assert (await q.counts()).waiting == 1
        seen: list[Job[Any]] = []
        done = next_event(q, "completed")

        async def handle(job: Job[Any]) -> dict[str, Any]:
            seen.append(job)
            return {"sent": job.data["to"], "attempt": job.attempt}

        w = Worker(q, handle)
        e = await asyncio.wait_for(done, 20)
        await w.close()
        assert e.id == "w-1" and e.result == {"sent": "ada@example.com", "attempt": 1}
        assert [j.name for j in seen] == ["welcome"]
        info = await q.get_job("w-1")
        assert info is not None and info.state == "completed" and info.result == e.result
        assert await q.get_job("nope") is None

    run(main())


def test_a_poison_job_reaches_the_dead_letter_queue_and_can_be_retried() -> None:
    async def main() -> None:
        q = await Queue.open("poison", store=store(), retries=1, backoff="fixed", backoff_delay=0.01)
        await q.add("bad", 7, id="p")
        heal = threading.Event()
        dead = next_event(q, "failed", lambda e: e.dead)

        def handle(job: Job[int]) -> str:  # a `def` handler: run on a thread
            assert threading.current_thread() is not threading.main_thread()
            if heal.is_set():
                return "ok"
            raise RuntimeError(f"attempt {job.attempt} failed")

        w = Worker(q, handle)
        await asyncio.wait_for(dead, 20)
        [d] = await q.dead()
        assert d.id == "p" and [e.message for e in d.errors] == ["attempt 1 failed", "attempt 2 failed"]
        assert d.errors[0].code == "Q005"
        heal.set()
        completed = next_event(q, "completed")
        assert await q.retry_dead() == 1
        await asyncio.wait_for(completed, 20)
        await w.close()
        info = await q.get_job("p")
        assert info is not None and info.state == "completed" and len(info.errors) == 2

    run(main())


def test_an_attempt_past_its_timeout_cancels_the_handler() -> None:
    async def main() -> None:
        q = await Queue.open("slow", store=store(), retries=0)
        await q.add("sleep", None, id="s", timeout=0.1)
        cancelled = asyncio.Event()
        failed = next_event(q, "failed")

        async def handle(job: Job[Any]) -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        w = Worker(q, handle)
        await asyncio.wait_for(failed, 20)
        await w.close()
        await asyncio.wait_for(cancelled.wait(), 5)
        info = await q.get_job("s")
        assert info is not None and info.errors[0].code == "Q006"

    run(main())


def test_pause_resume_delay_and_add_many() -> None:
    async def main() -> None:
        q = await Queue.open("held", store=store())
        await q.pause()
        ids = await q.add_many([("a", 1), ("b", 2, {"priority": 1})])
        assert len(ids) == 2
        runs: list[int] = []

        async def handle(job: Job[int]) -> None:
            runs.append(job.data)

        w = Worker(q, handle, poll_interval=0.02)
        await asyncio.sleep(0.2)
        assert runs == [] and (await q.counts()).paused
        loop = asyncio.get_running_loop()
        started = loop.time()
        await q.add("c", 3, delay=0.3)
        await q.resume()
        await until("three jobs", lambda: len(runs) == 3)
        await w.close()
        assert runs == [1, 2, 3]
        assert loop.time() - started >= 0.3

    run(main())


def test_bad_input_names_the_option_and_the_rule() -> None:
    async def main() -> None:
        with pytest.raises(InvalidArgumentError, match="retries"):
            await Queue.open("x", store=store(), retrys=1)
        with pytest.raises(InvalidQueueError, match="100/minute"):
            await Queue.open("x", store=store(), rate_limit="lots")
        with pytest.raises(InvalidQueueError):
            await Queue.open("bad name", store=store())
        q = await Queue.open("ok", store=store())
        with pytest.raises(InvalidJobDataError):
            await q.add("f", object())
        with pytest.raises(InvalidQueueError, match="priority"):
            await q.add("f", 1, priority=-1)
        with pytest.raises(InvalidQueueError, match="not both"):
            await q.add("f", 1, retries=1, attempts=2)
        with pytest.raises(InvalidArgumentError):
            Worker(q, "nope")  # type: ignore[arg-type]
        with pytest.raises(InvalidQueueError, match="concurrency"):
            Worker(q, lambda job: None, concurrency=0)
        with pytest.raises(InvalidArgumentError):
            q.on("finished", lambda e: None)
        assert (await q.counts()).waiting == 0

    run(main())


@injectable
class Mailer:
    def __init__(self) -> None:
        self.sent: list[str] = []


completions: list[QueueEvent] = []


@queue_processor("emails", concurrency=2, retries=0)
class EmailProcessor:
    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    @process_message
    async def send(self, job: Job[dict[str, str]]) -> dict[str, str]:
        self.mailer.sent.append(job.data["to"])
        return {"to": job.data["to"]}

    @on_queue_event("completed")
    async def on_completed(self, event: QueueEvent) -> None:
        completions.append(event)


@module(providers=[Mailer, EmailProcessor])
class AppModule:
    pass


def test_a_queue_processor_class_runs_with_injected_dependencies() -> None:
    async def main() -> None:
        s = store()
        app = await Omnitron.create(AppModule, queues={"store": s})
        q = await Queue.open("emails", store=s)
        await q.add_many([("welcome", {"to": "a@example.com"}), ("welcome", {"to": "b@example.com"})])
        await until("two completions", lambda: len(completions) == 2)
        mailer = app.get(Mailer)
        await app.close()
        assert sorted(mailer.sent) == ["a@example.com", "b@example.com"]
        assert sorted(e.result["to"] for e in completions) == ["a@example.com", "b@example.com"]

    run(main())


ticks: list[str] = []


@injectable
class Reports:
    @interval(1)
    def tick(self) -> None:  # a `def` method: run on a thread
        ticks.append("tick")

    @cron("*/1 * * * * *", name="every-second", timezone="Europe/Paris")
    async def every_second(self) -> None:
        ticks.append("cron")


@module(providers=[Reports])
class ScheduledModule:
    pass


def test_interval_and_cron_methods_run_on_their_schedule() -> None:
    async def main() -> None:
        s = store()
        app = await Omnitron.create(ScheduledModule, queues={"store": s})
        await until("both schedules", lambda: "tick" in ticks and "cron" in ticks)
        await app.close()
        for name in ("cron:Reports.tick", "cron:every-second"):
            counts = await (await Queue.open(name, store=s)).counts()
            assert counts.completed >= 1 and counts.dead == 0, (name, counts)

    run(main())


@injectable
class BadSchedule:
    @cron("61 * * * *")
    def never(self) -> None:
        pass


@module(providers=[BadSchedule])
class BadScheduleModule:
    pass


def test_a_bad_cron_pattern_fails_the_application_naming_the_method() -> None:
    async def main() -> None:
        with pytest.raises(InvalidScheduleError, match=r"BadSchedule\.never.*minute"):
            await Omnitron.create(BadScheduleModule, queues={"store": store()})
        with pytest.raises(InvalidArgumentError):
            cron(5)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            interval(-1)

    run(main())


def _deployed(env: str, code: str) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter whose OMNITRON_QUEUES is `env` (read once per process)."""
    return subprocess.run(
        [sys.executable, "-c", "import asyncio\nfrom omnitron import Omnitron, Queue, Worker, module\n" + code],
        env={**os.environ, "OMNITRON_QUEUES": env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_omnitron_yaml_queue_entries_win_and_a_wrong_one_names_the_variable_and_the_rule() -> None:
    # The entry's `retries: 4` wins over the code's `retries=1`: the job is tried 5 times.
    ok = _deployed(
        '{"concurrency": 3, "queues": [{"name": "q", "retries": 4}]}',
        "async def m():\n"
        "    q = await Queue.open('q', store='sqlite::memory:', retries=1)\n"
        "    seen = []\n"
        "    async def fail(job):\n"
        "        seen.append(job.attempt)\n"
        "        raise ValueError('no')\n"
        "    await q.add('x', 1, id='j', backoff='fixed', backoff_delay=0.001)\n"
        "    w = Worker(q, fail, poll_interval=0.01)\n"
        "    while len(seen) < 5:\n"
        "        await asyncio.sleep(0.01)\n"
        "    await w.close()\n"
        "    print('attempts', len(seen))\n"
        "asyncio.run(m())\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "attempts 5" in ok.stdout
    bad = _deployed('{"queues": [{"name": "q", "rateLimit": "lots"}]}', "asyncio.run(Queue.open('q', store='sqlite::memory:'))\n")
    assert "InvalidConfigError: [P007] OMNITRON_QUEUES: queues[0]: rateLimit: 'lots' is not a rate" in bad.stderr
    cron = _deployed(
        '{"cronJobs": [{"pattern": "61 * * * *", "handler": "x"}]}',
        "@module(providers=[])\nclass M:\n    pass\nasyncio.run(Omnitron.create(M))\n",
    )
    assert "OMNITRON_QUEUES: cronJobs[0].pattern: '61 * * * *' is not a cron pattern" in cron.stderr
