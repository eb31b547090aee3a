"""Supervisor spelling: ``@supervisor`` bare or with a positional name, ``async close()`` and
``async with`` (``stop()`` kept as a deprecated alias), ``@on_child_crash()`` with or without
parentheses, and unknown keywords refused with E001 naming the nearest valid one. Real children."""

import asyncio
import os
import time
from typing import Any, Optional

import pytest

from omnitron import ChildInfo, Supervisor, child, on_child_crash, on_child_restart, python_worker, supervisor
from omnitron.errors import InvalidArgumentError

from proc_services import Echo

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = python_worker(Echo)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def eventually(f: Any, secs: float = 15.0) -> None:
    until = time.monotonic() + secs
    while time.monotonic() < until:
        if f():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@supervisor
class Plain:
    echo = child(WORKER, cwd=HERE)


@supervisor("backend", strategy="one-for-all", max_restarts=2)
class Named:
    echo = child.python(Echo, cwd=HERE)

    @on_child_crash()
    def crashed(self, info: ChildInfo, reason: str) -> Optional[str]:
        return None

    @on_child_restart()
    def restarted(self, info: ChildInfo, attempt: int) -> None: ...


def test_async_with_starts_and_closes_and_names_come_from_the_decorator_or_the_class() -> None:
    async def main() -> None:
        assert Supervisor.from_class(Plain).name == "Plain"
        async with Supervisor.from_class(Named) as sup:
            assert sup.name == "backend"
            assert sup.state == "running"
            [info] = await sup.children()
            pid = info["pid"]
            assert info["state"] == "running" and pid is not None
        assert sup.state == "stopped"
        await eventually(lambda: not alive(pid))
        await sup.close()  # idempotent
        # Started again after a close, and closed by hand.
        await sup.start()
        assert sup.state == "running"
        await sup.close()

    asyncio.run(main())


def test_stop_is_a_deprecated_alias_of_close() -> None:
    async def main() -> None:
        sup = Supervisor("old")
        sup.add_child("echo", WORKER, cwd=HERE)
        await sup.start()
        pid = (await sup.children())[0]["pid"]
        with pytest.warns(DeprecationWarning, match=r"Supervisor.close\(\)"):
            await sup.stop()
        assert sup.state == "stopped"
        assert pid is not None
        await eventually(lambda: not alive(pid))

    asyncio.run(main())


def unknown(key: str, hint: Optional[str], context: str) -> Any:
    pattern = rf"unknown option '{key}' in {context}"
    if hint:
        pattern += rf".*did you mean '{hint}'"
    return pytest.raises(InvalidArgumentError, match=pattern)


def test_unknown_keywords_are_refused_naming_the_nearest() -> None:
    with unknown("shutdown_timeout", None, r"@supervisor\(\)"):
        supervisor(shutdown_timeout=5.0)
    with unknown("maxRestarts", "max_restarts", r"@supervisor\(\)"):
        supervisor(maxRestarts=3)
    with unknown("strategi", "strategy", r"Supervisor\(\)"):
        Supervisor("x", strategi="one-for-all")  # type: ignore[call-arg]
    with unknown("instance", "instances", r"child\(\)"):
        child(WORKER, instance=2)
    with unknown("critcal", "critical", r"child.python\(\)"):
        child.python(Echo, critcal=True)
    sup = Supervisor("keys")
    with unknown("restart_delays", "restart_delay", r"Supervisor.add_child\(\)"):
        sup.add_child("a", WORKER, restart_delays=1.0)  # type: ignore[call-arg]
    with unknown("critical_", "critical", r"Supervisor.add_supervisor\(\)"):
        sup.add_supervisor(Supervisor("inner"), critical_=True)  # type: ignore[call-arg]

    async def main() -> None:
        assert await sup.children() == []  # nothing was added by the refused calls

    asyncio.run(main())
    # The options the spec's @Supervisor and @Child take, in Python spelling, pass.
    supervisor(strategy="one-for-one", max_restarts=3, window=60.0)
    child(WORKER, instances=4)


def test_bad_values_are_clear_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        supervisor(strategy="all-for-none")
    with pytest.raises(InvalidArgumentError):
        supervisor(max_restarts=-1)
    with pytest.raises(InvalidArgumentError):
        Supervisor("")
    with pytest.raises(InvalidArgumentError):
        Supervisor("x", backoff_factor="fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        supervisor()(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        on_child_crash(42)
    with pytest.raises(InvalidArgumentError):
        child(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        child(WORKER, name="")


def test_health_check_refuses_an_unknown_keyword() -> None:
    from omnitron import HealthCheck

    with pytest.raises(InvalidArgumentError, match=r"unknown option 'max_miss' in HealthCheck\(\).*did you mean 'max_missed'"):
        HealthCheck(interval=1.0, max_miss=2)  # type: ignore[call-arg]
    assert HealthCheck(interval=1.0, max_missed=2).max_missed == 2
