"""Health (spec 7.2) with Python checks: a ``@health_indicator`` class's ``@health_check`` methods
(async and sync) reported by ``/health``, and ``/health/ready`` down while one is down."""

import asyncio
import json

import pytest
from conftest import run
from http_helpers import afetch

from omnitron import Omnitron, module
from omnitron.errors import InvalidArgumentError
from omnitron.http import HealthCheckResult, HttpApp, controller, get, health_check, health_indicator


@controller("ping")
class Ping:
    @get()
    async def ping(self) -> str:
        return "pong"


@health_indicator
class Checks:
    def __init__(self) -> None:
        self.database_up = True

    @health_check("database")
    async def database(self) -> dict:
        if self.database_up:
            return {"status": "up", "message": "connected", "pool": 5}
        return {"status": "down", "message": "connection refused"}

    @health_check("cache", timeout=2)
    def cache(self) -> HealthCheckResult:
        return HealthCheckResult.up("warm", entries=3)


@health_indicator()
class Broken:
    @health_check("queue")
    def queue(self) -> None:
        raise RuntimeError("broker unreachable")


def test_health_reports_every_check() -> None:
    async def main() -> None:
        checks = Checks()
        async with HttpApp([Ping()], indicators=[checks]) as app:
            ready, _, _ = await app.inject("GET", "/health/ready")
            assert ready == 503  # not listening yet
            port = await app.listen(0)
            status, _, body = await afetch(port, "GET", "/health")
            assert status == 200, body
            text = body.decode()
            for word in ("database", "connected", "cache", "warm"):
                assert word in text, text
            assert (await afetch(port, "GET", "/health/ready"))[0] == 200
            checks.database_up = False
            status, _, body = await afetch(port, "GET", "/health")
            assert status == 503 and "connection refused" in body.decode()
            assert (await afetch(port, "GET", "/health/ready"))[0] == 503
            assert (await afetch(port, "GET", "/health/live"))[0] == 200

    run(main())


def test_a_raising_check_is_down_with_its_message() -> None:
    async def main() -> None:
        async with HttpApp([Ping()], indicators=[Broken()]) as app:
            await app.listen(0)
            status, _, body = await app.inject("GET", "/health")
            assert status == 503
            assert "queue" in body.decode() and "broker unreachable" in body.decode()

    run(main())


def test_indicators_listed_in_a_module_are_the_app_s_checks() -> None:
    @module(controllers=[Ping], providers=[Checks])
    class AppModule:
        pass

    async def main() -> None:
        async with await Omnitron.create(AppModule) as app:
            await app.listen(0)
            http = await app.http_app()
            status, _, body = await http.inject("GET", "/health")
            assert status == 200 and "database" in json.dumps(json.loads(body))

    run(main())


def test_check_health_runs_every_check_through_core() -> None:
    @health_indicator
    class Slow:
        @health_check("slow", timeout=0.05)
        async def slow(self) -> None:
            await asyncio.sleep(30)

    async def main() -> None:
        checks = Checks()
        async with HttpApp([Ping()], indicators=[checks, Broken(), Slow()]) as app:
            reports = await app.check_health()
            assert reports == {
                "database": {"status": "up", "message": "connected", "pool": 5},
                "cache": {"status": "up", "message": "warm", "entries": 3},
                "queue": {"status": "down", "message": "RuntimeError: broker unreachable"},
                "slow": {"status": "down", "message": "did not answer within 0.05 s"},
            }
            checks.database_up = False
            assert (await app.check_health())["database"] == {"status": "down", "message": "connection refused"}

    run(main())


def test_health_declarations_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="not a health indicator"):
        HttpApp([Ping()], indicators=[Ping()])
    with pytest.raises(InvalidArgumentError):
        health_check("")

    @health_indicator
    class SlowToDeclare:
        @health_check("x", timeout=-1)
        def x(self) -> None: ...

    with pytest.raises(InvalidArgumentError, match="timeout"):
        HttpApp([], indicators=[SlowToDeclare()])
    with pytest.raises(InvalidArgumentError, match="up.*down"):
        HealthCheckResult("sideways")
