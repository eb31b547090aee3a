"""Workflow spelling: names given positionally (``@workflow("x")``, ``@stage("x")``) or taken from the
class and method (``@workflow``, ``@stage``); ``WorkflowEngine.in_memory()`` and ``open()`` awaited
or used with ``async with``; ``run``/``start``/``list`` by class; unknown keywords refused with E001
naming the nearest valid one."""

import asyncio
import os
from typing import Any, Callable

import pytest

from omnitron import StageContext, WorkflowEngine, compensate, define_workflow, stage, workflow
from omnitron.errors import InvalidArgumentError, InvalidWorkflowError, WorkflowNotFoundError

from conftest import run


@workflow
class Bare:
    @stage
    def first(self, n: int) -> int:
        return n + 1


@workflow()
class Called:
    @stage()
    def first(self, n: int) -> int:
        return n * 2

    @stage("second", depends_on="first")
    def next(self, n: int) -> int:
        return n + 1


@workflow("named", timeout=30.0, retries=1)
class Named:
    @stage("reserve")
    async def reserve(self, order: dict[str, Any], ctx: StageContext) -> str:
        return ctx.idempotency_key

    @compensate("reserve")
    async def release(self, key: str) -> None: ...


@workflow(name="by-keyword")
class ByKeyword:
    @stage(name="only")
    def only(self, _: Any) -> str:
        return "ok"


def test_names_positional_keyword_or_from_the_class_and_method() -> None:
    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        try:
            assert [engine.register(w) for w in (Bare, Called, Named, ByKeyword)] == ["Bare", "Called", "named", "by-keyword"]
            assert await engine.run(Bare, 1) == {"first": 2}
            assert await engine.run("Called", 3) == {"first": 6, "second": 7}
            assert await engine.run(Named, {}, run_id="r1") == {"reserve": "r1:reserve"}
            assert await engine.run(ByKeyword) == {"only": "ok"}
        finally:
            await engine.close()

    run(main())


def test_start_run_and_list_take_the_class() -> None:
    async def main() -> None:
        async with WorkflowEngine.in_memory() as engine:
            engine.register(Called)
            r = await engine.start(Called, 1, run_id="c1")
            assert await r.wait() == {"first": 2, "second": 3}
            assert [s.run_id for s in await engine.list(workflow=Called)] == ["c1"]
            with pytest.raises(WorkflowNotFoundError, match="registered: Called"):
                await engine.run(Bare)  # a class that is not registered
            with pytest.raises(InvalidArgumentError):
                await engine.run(object)

    run(main())


def test_in_memory_and_open_are_awaited_or_entered(tmp_path: Any) -> None:
    async def main() -> None:
        engine = await WorkflowEngine.in_memory()
        assert engine.workflows() == []
        await engine.close()
        path = str(tmp_path / "journal.db")
        async with WorkflowEngine.open(path) as first:
            first.register(Bare)
            await first.run(Bare, 41, run_id="b1")
        with pytest.raises(InvalidArgumentError, match="closed"):
            await first.run(Bare, 1)  # closed by the `async with`
        second = await WorkflowEngine.open(path)
        second.register(Bare)
        assert (await second.get("b1")).stage("first").output == 42
        await second.close()
        assert os.path.exists(path)

    run(main())
    # Made outside a loop it does nothing until awaited; used without `await`, it says so.
    pending = WorkflowEngine.in_memory()
    with pytest.raises(AttributeError, match=r"await WorkflowEngine.in_memory\(\)"):
        pending.register(Bare)  # type: ignore[attr-defined]
    with pytest.raises(InvalidArgumentError):
        WorkflowEngine.open("")


Unknown = Callable[[], Any]


def unknown(key: str, hint: Any, context: str) -> Any:
    """pytest.raises for E001 naming ``key``, the suggestion and the context."""
    pattern = rf"unknown option '{key}' in {context}"
    if hint:
        pattern += rf".*did you mean '{hint}'"
    return pytest.raises(InvalidArgumentError, match=pattern)


def test_unknown_keywords_are_refused_naming_the_nearest() -> None:
    with unknown("retrys", "retries", r"@workflow\(\)"):
        workflow("w", retrys=3)  # type: ignore[call-overload]
    with unknown("timout", "timeout", r"@workflow\(\)"):
        workflow(timout=3)  # type: ignore[call-overload]
    with unknown("dependsOn", "depends_on", r"@stage\(\)"):
        stage("s", dependsOn="a")  # type: ignore[call-overload]
    with unknown("retry_delays", "retry_delay", r"@compensate\(\)"):
        compensate("s", retry_delays=1)  # type: ignore[call-arg]
    with unknown("recover", "recovery", r"define_workflow\(\)"):
        define_workflow("x", recover="resume")  # type: ignore[call-arg]
    with unknown("depend_on", "depends_on", r"WorkflowBuilder.stage\(\)"):
        define_workflow("x").stage("a", lambda _: 1, depend_on="b")  # type: ignore[call-arg]
    # The spec's keys pass.
    workflow("w", timeout=300.0, retries=3)
    stage("s", depends_on="w", timeout=30.0, retries=3)

    async def main() -> None:
        async with WorkflowEngine.in_memory() as engine:
            engine.register(Bare)
            with unknown("runId", "run_id", r"WorkflowEngine.run\(\)"):
                await engine.run(Bare, 1, runId="x")  # type: ignore[call-arg]
            with unknown("status", "state", r"WorkflowEngine.list\(\)"):
                await engine.list(status="completed")  # type: ignore[call-arg]
            assert await engine.list() == []

    run(main())


def test_bad_names_are_clear_errors() -> None:
    with pytest.raises(InvalidWorkflowError):
        workflow("")
    with pytest.raises(InvalidWorkflowError):
        stage("")
    with pytest.raises(InvalidWorkflowError):
        workflow(5)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError):
        workflow()(lambda: 1)  # type: ignore[type-var]
