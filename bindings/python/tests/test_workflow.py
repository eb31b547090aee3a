"""Workflows through the Python package: decorators and the builder, data along a chain, parallel
stages, compensation in reverse order, retries, timeouts, cycles, a failing compensation, cancel, a
SQLite journal read by a second engine, a stage calling an RPC service, bad input."""

import asyncio
import os
import tempfile
import threading
from typing import Any

import pytest

from omnitron import Peer, StageContext, WorkflowEngine, compensate, define_workflow, public, service, stage, workflow
from omnitron.errors import (
    CompensationFailedError,
    DuplicateStageError,
    DuplicateWorkflowError,
    InvalidArgumentError,
    InvalidWorkflowError,
    OmnitronError,
    RunCancelledError,
    RunNotFoundError,
    StageFailedError,
    StageTimeoutError,
    UnknownDependencyError,
    WorkflowCycleError,
    WorkflowNotFoundError,
)

from conftest import run


@workflow(name="order-processing", timeout=30.0, retries=0)
class OrderProcessing:
    def __init__(self) -> None:
        self.log: list[str] = []

    @stage(name="validate")
    async def validate(self, order: dict[str, Any]) -> dict[str, Any]:
        self.log.append("validate")
        return order

    @stage(name="reserve", depends_on="validate", timeout=5.0, retries=2)
    def reserve(self, order: dict[str, Any], ctx: StageContext) -> dict[str, Any]:
        # A sync stage runs in a thread, off the event loop.
        assert threading.current_thread() is not threading.main_thread()
        self.log.append(f"reserve:{ctx.idempotency_key}")
        return {"reservation": f"r-{order['id']}", "qty": order["qty"]}

    @stage(name="payment", depends_on=["reserve"])
    async def pay(self, reservation: dict[str, Any]) -> dict[str, Any]:
        if reservation["qty"] > 10:
            raise ValueError("card declined")
        self.log.append("payment")
        return {"paid": reservation["qty"] * 10}

    @compensate("reserve")
    async def release(self, reservation: dict[str, Any], ctx: StageContext) -> None:
        self.log.append(f"release:{reservation['reservation']}:{ctx.workflow_input['id']}")


def test_decorated_chain_passes_data_along() -> None:
    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        wf = OrderProcessing()
        assert engine.register(wf) == "order-processing"
        out = await engine.run("order-processing", {"id": "o1", "qty": 2}, run_id="o1")
        assert out == {
            "validate": {"id": "o1", "qty": 2},
            "reserve": {"reservation": "r-o1", "qty": 2},
            "payment": {"paid": 20},
        }
        assert wf.log == ["validate", "reserve:o1:reserve", "payment"]
        info = await engine.get("o1")
        assert info.state == "completed"
        assert [(s.name, s.state, s.attempts) for s in info.stages] == [
            ("validate", "completed", 1),
            ("reserve", "completed", 1),
            ("payment", "completed", 1),
        ]
        assert info.finished_at is not None and info.finished_at >= info.created_at
        # The same id again is the same run: nothing runs twice.
        again = await engine.start("order-processing", {"id": "o1", "qty": 2}, run_id="o1")
        assert await again.wait() == out
        assert len(wf.log) == 3
        assert [(r.run_id, r.state) for r in await engine.list(workflow="order-processing")] == [("o1", "completed")]
        await engine.close()

    run(main())


def test_failing_payment_compensates_the_reservation() -> None:
    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        wf = OrderProcessing()
        engine.register(wf)
        with pytest.raises(StageFailedError) as e:
            await engine.run("order-processing", {"id": "o2", "qty": 50}, run_id="o2")
        assert e.value.code == "WF007"
        assert "compensated 'reserve'" in e.value.message
        assert "ValueError: card declined" in str(e.value.errors[0])
        assert wf.log == ["validate", "reserve:o2:reserve", "release:r-o2:o2"]
        info = await engine.get("o2")
        assert info.state == "compensated"
        assert info.stage("reserve").state == "compensated"
        await engine.close()

    run(main())


def test_third_stage_failing_compensates_two_then_one_and_none_output() -> None:
    log: list[str] = []

    def one(_: Any) -> None:
        log.append("one")

    async def two(v: Any) -> int:
        log.append(f"two:{v}")
        return 2

    def three(_: Any) -> None:
        raise RuntimeError("boom")

    async def undo_two(v: Any) -> None:
        await asyncio.sleep(0.005)
        log.append(f"undo-two:{v}")

    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        engine.register(
            define_workflow("three")
            .stage("one", one)
            .stage("two", two, depends_on="one")
            .stage("three", three, depends_on="two")
            .compensate("one", lambda v: log.append(f"undo-one:{v}"))
            .compensate("two", undo_two)
            .build()
        )
        with pytest.raises(StageFailedError):
            await engine.run("three")
        assert log == ["one", "two:None", "undo-two:2", "undo-one:None"]
        await engine.close()

    run(main())


def test_parallel_stages_run_concurrently() -> None:
    # Each of a and b waits until the other has started: they can only finish if they run at once.
    a_started, b_started = threading.Event(), threading.Event()

    async def a(_: Any) -> str:
        a_started.set()
        for _ in range(2000):
            if b_started.is_set():
                return "A"
            await asyncio.sleep(0.005)
        raise AssertionError("b never started while a ran")

    def b(_: Any) -> str:
        b_started.set()
        assert a_started.wait(10)  # a sync stage in a thread does not block the loop
        return "B"

    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        engine.register(
            define_workflow("fan").stage("a", a).stage("b", b).stage("join", lambda both: both["a"] + both["b"], depends_on=["a", "b"]).build()
        )
        out = await engine.run("fan")
        assert out["join"] == "AB"
        await engine.close()

    run(main())


def test_retry_then_success_and_stage_timeout() -> None:
    attempts: list[int] = []
    cancelled = asyncio.Event

    def flaky(_: Any, ctx: StageContext) -> int:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("not yet")
        return ctx.attempt

    async def main() -> None:
        was_cancelled = cancelled()

        async def slow(_: Any) -> str:
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError:
                was_cancelled.set()
                raise
            return "late"

        engine = await WorkflowEngine.in_memory()
        engine.register(define_workflow("retry").stage("flaky", flaky, retries=2, retry_delay=0.01).build())
        engine.register(define_workflow("slow").stage("wait", slow, timeout=0.05).build())
        assert await engine.run("retry") == {"flaky": 2}
        assert attempts == [1, 2]
        with pytest.raises(StageTimeoutError):
            await engine.run("slow", run_id="slow-1")
        await asyncio.wait_for(was_cancelled.wait(), 2)  # the abandoned async stage was cancelled
        info = await engine.get("slow-1")
        assert info.stages[0].errors[0].error.code == "WF008"
        await engine.close()

    run(main())


def test_definitions_and_bad_input() -> None:
    def f(_: Any) -> int:
        return 1

    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        with pytest.raises(WorkflowCycleError, match="a -> b -> c -> a"):
            engine.register(define_workflow("loop").stage("a", f, depends_on="b").stage("b", f, depends_on="c").stage("c", f, depends_on="a").build())
        with pytest.raises(UnknownDependencyError, match="did you mean 'reserve'"):
            engine.register(define_workflow("typo").stage("reserve", f).stage("pay", f, depends_on="reserv").build())
        with pytest.raises(DuplicateStageError):
            engine.register(define_workflow("dup").stage("a", f).stage("a", f).build())
        with pytest.raises(InvalidWorkflowError, match="'b'"):
            engine.register(define_workflow("ghost").stage("a", f).compensate("b", f).build())
        engine.register(define_workflow("empty").build())
        with pytest.raises(DuplicateWorkflowError):
            engine.register(define_workflow("empty").build())
        assert await engine.run("empty") == {}

        # Wrong types: clear errors, never a crash.
        with pytest.raises(InvalidArgumentError, match="must be callable"):
            define_workflow("x").stage("a", "not a function")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="depends_on"):
            define_workflow("x").stage("a", f, depends_on=42)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            define_workflow("x").stage("a", f, depends_on=["b", 3])  # type: ignore[list-item]
        # Values are checked by the engine, in Python's words (seconds, snake_case).
        with pytest.raises(InvalidWorkflowError, match=r"workflow 'x', stage 'a': timeout must be a number of seconds above 0, got -1"):
            define_workflow("x").stage("a", f, timeout=-1)
        with pytest.raises(InvalidWorkflowError, match=r"retries must be a whole number of at least 0, got 1.5"):
            define_workflow("x").stage("a", f, retries=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match=r"retry_delay must be a number of seconds above 0, got 'soon'"):
            stage(retry_delay="soon")  # type: ignore[arg-type]
        with pytest.raises(InvalidWorkflowError):
            define_workflow("")
        with pytest.raises(InvalidWorkflowError, match=r"recovery must be one of 'resume', 'compensate', got 'sometimes'"):
            define_workflow("x", recovery="sometimes")
        with pytest.raises(InvalidArgumentError):
            define_workflow("x").compensate("a", None)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            stage(depends_on={})  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            compensate(5)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="@workflow"):
            engine.register(object)
        with pytest.raises(InvalidArgumentError):
            engine.register(42)
        with pytest.raises(WorkflowNotFoundError, match="registered: empty"):
            await engine.run("nope")
        with pytest.raises(InvalidArgumentError):
            await engine.run(42)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="JSON"):
            await engine.run("empty", {"x": object()})
        with pytest.raises(InvalidArgumentError):
            await engine.start("empty", run_id=5)  # type: ignore[arg-type]
        with pytest.raises(RunNotFoundError):
            await engine.get("no-such-run")
        with pytest.raises(RunNotFoundError):
            await engine.cancel("no-such-run")
        with pytest.raises(InvalidArgumentError, match="compensation_failed"):
            await engine.list(state="sleeping")

        # A stage whose result is not JSON fails its run with a clear error.
        engine.register(define_workflow("junk").stage("a", lambda _: {1, 2}).build())
        with pytest.raises(StageFailedError) as e:
            await engine.run("junk")
        assert "cannot be turned into JSON" in str(e.value.errors[0])
        await engine.close()
        with pytest.raises(InvalidArgumentError):
            await engine.run("empty")

    run(main())


def test_failing_compensation_keeps_both_errors() -> None:
    def pay(_: Any) -> None:
        raise ValueError("card declined")

    def undo(_: Any) -> None:
        raise OSError("warehouse closed")

    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        engine.register(define_workflow("broken").stage("reserve", lambda _: "r1").stage("pay", pay, depends_on="reserve").compensate("reserve", undo).build())
        with pytest.raises(CompensationFailedError) as e:
            await engine.run("broken", run_id="b1")
        assert "card declined" in e.value.message and "warehouse closed" in e.value.message
        assert [type(x) for x in e.value.errors][0] is StageFailedError
        assert "warehouse closed" in str(e.value.errors[1])
        info = await engine.get("b1")
        assert info.state == "compensation_failed"
        assert info.stages[0].state == "compensation_failed"
        assert "OSError: warehouse closed" in info.stages[0].compensation_errors[0].error.message
        await engine.close()

    run(main())


def test_cancel_compensates_and_cancels_the_stage_in_flight() -> None:
    log: list[str] = []

    async def long(_: Any) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        engine.register(define_workflow("c").stage("first", lambda _: "one").stage("long", long, depends_on="first").compensate("first", lambda v: log.append(f"undo:{v}")).build())
        r = await engine.start("c")
        await asyncio.sleep(0.05)
        info = await r.cancel()
        assert info.state == "cancelled"
        await asyncio.sleep(0.01)
        assert sorted(log) == ["cancelled", "undo:one"]
        with pytest.raises(RunCancelledError):
            await r.wait()
        await engine.close()

    run(main())


def test_sqlite_journal_is_read_by_a_second_engine() -> None:
    d = tempfile.mkdtemp()
    path = os.path.join(d, "journal.db")
    definition = define_workflow("durable").stage("a", lambda n: {"doubled": n * 2}).build()

    async def main() -> None:
        first = await WorkflowEngine.open(path)
        first.register(definition)
        await first.run("durable", 21, run_id="d1")
        await first.close()
        del first
        second = await WorkflowEngine.open(path)
        second.register(definition)
        info = await second.get("d1")
        assert info.state == "completed"
        assert info.stages[0].output == {"doubled": 42}
        assert await second.wait("d1") == {"a": {"doubled": 42}}
        rec = await second.recover()
        assert (rec.resumed, rec.compensating, rec.unrecovered) == ([], [], [])
        await second.close()
        with pytest.raises(InvalidArgumentError):
            await WorkflowEngine.open("")

    run(main())


@service("inventory@1.2.0")
class Inventory:
    def __init__(self) -> None:
        self.released: list[str] = []

    @public
    async def reserve(self, sku: str, qty: int, key: str) -> dict[str, Any]:
        return {"id": f"res-{key}", "sku": sku, "qty": qty}

    @public
    async def release(self, id: str) -> bool:
        self.released.append(id)
        return True


def test_stages_call_an_rpc_service() -> None:
    async def main() -> None:
        addr = f"unix:{tempfile.mkdtemp()}/private/rpc.sock"
        server = await Peer.listen(addr, token="t")
        inventory = Inventory()
        await server.expose(inventory)
        client = await Peer.connect(addr, token="t")
        engine = await WorkflowEngine.in_memory()
        try:
            proxy = await client.query_interface("inventory@^1")

            async def reserve(o: dict[str, Any], ctx: StageContext) -> Any:
                return await proxy.reserve(o["sku"], o["qty"], ctx.idempotency_key)

            async def pay(_: Any) -> None:
                raise OmnitronError("no funds", code="PAY01")

            async def release(r: dict[str, Any]) -> Any:
                return await proxy.release(r["id"])

            engine.register(define_workflow("remote").stage("reserve", reserve).stage("pay", pay, depends_on="reserve").compensate("reserve", release).build())
            with pytest.raises(StageFailedError) as e:
                await engine.run("remote", {"sku": "lamp", "qty": 1}, run_id="ro1")
            assert "[PAY01] no funds" in str(e.value.errors[0])
            assert inventory.released == ["res-ro1:reserve"]
        finally:
            await engine.close()
            await client.close()
            await server.close()

    run(main())
