import asyncio

import pytest

from conftest import run
from omnitron import Container, create_token, injectable
from omnitron.errors import AsyncResolutionError, ContainerDisposedError, LifecycleError


def chain(log: list[str]):  # type: ignore[no-untyped-def]
    @injectable
    class Database:
        async def on_init(self) -> None:
            await asyncio.sleep(0.001)
            log.append("init Database")

        def on_destroy(self) -> None:
            log.append("destroy Database")

    @injectable
    class Repository:
        def __init__(self, db: Database) -> None:
            self.db = db

        def on_init(self) -> None:
            log.append("init Repository")

        async def on_destroy(self) -> None:
            log.append("destroy Repository")

    @injectable
    class Service:
        def __init__(self, repo: Repository) -> None:
            self.repo = repo

        def on_init(self) -> None:
            log.append("init Service")

        def on_destroy(self) -> None:
            log.append("destroy Service")

    c = Container()
    c.register(Service)
    c.register(Repository)
    c.register(Database)
    return c, Database, Service


def test_initialize_in_dependency_order_and_dispose_in_reverse() -> None:
    log: list[str] = []
    c, _, Service = chain(log)
    run(c.initialize())
    assert log == ["init Database", "init Repository", "init Service"]
    del log[:]
    assert isinstance(c.resolve(Service), Service)
    run(c.initialize())
    assert log == []
    run(c.dispose())
    assert log == ["destroy Service", "destroy Repository", "destroy Database"]


def test_an_async_on_init_makes_a_provider_async_until_built() -> None:
    log: list[str] = []
    c, Database, _ = chain(log)
    with pytest.raises(AsyncResolutionError, match="async onInit hook"):
        c.resolve(Database)
    run(c.resolve_async(Database))
    assert log == ["init Database"]


def test_dispose_keeps_going_and_reports_every_failure() -> None:
    log: list[str] = []
    A, B, D = create_token("A"), create_token("B"), create_token("D")
    err_a, err_d = RuntimeError("A broke"), RuntimeError("D broke")

    class Hook:
        def __init__(self, name: str, err: Exception | None) -> None:
            self.name, self.err = name, err

        def on_destroy(self) -> None:
            log.append(self.name)
            if self.err:
                raise self.err

    c = Container()
    c.register(A, use_factory=lambda: Hook("A", err_a))
    c.register(B, use_factory=lambda a: Hook("B", None), inject=[A])

    async def make_d(b: object) -> Hook:
        return Hook("D", err_d)

    c.register(D, use_factory=lambda b: Hook("D", err_d), inject=[B])
    c.resolve(D)
    with pytest.raises(LifecycleError) as e:
        run(c.dispose())
    assert log == ["D", "B", "A"]
    assert e.value.code == "DI012"
    assert e.value.errors == [err_d, err_a]
    assert "2 of 3" in str(e.value) and "D broke" in str(e.value) and "A broke" in str(e.value)
    del log[:]
    with pytest.raises(LifecycleError):
        run(c.dispose())
    assert log == []
    _ = make_d


def test_after_dispose_everything_fails_with_container_disposed() -> None:
    T = create_token("T")
    c = Container()
    c.register(T, use_value=1)
    assert c.resolve(T) == 1
    run(c.dispose())
    assert c.disposed
    for f in (lambda: c.resolve(T), lambda: c.register(create_token("U"), use_value=2), c.create_scope):
        with pytest.raises(ContainerDisposedError, match="disposed"):
            f()
    with pytest.raises(ContainerDisposedError):
        run(c.resolve_async(T))
    with pytest.raises(ContainerDisposedError):
        run(c.initialize())


def test_concurrent_dispose_runs_each_hook_once() -> None:
    n = []

    class Slow:
        async def on_destroy(self) -> None:
            await asyncio.sleep(0.002)
            n.append(1)

    T = create_token("T")
    c = Container()
    c.register(T, use_factory=Slow)
    c.resolve(T)

    async def main() -> None:
        await asyncio.gather(c.dispose(), c.dispose())

    run(main())
    assert n == [1]


def test_resolved_values_with_on_destroy_are_destroyed_never_built_ones_are_not() -> None:
    log: list[str] = []

    class Closeable:
        def __init__(self, name: str) -> None:
            self.name = name

        def on_destroy(self) -> None:
            log.append(self.name)

    V, Never = create_token("V"), create_token("Never")
    c = Container()
    c.register(V, use_value=Closeable("value"))
    c.register(Never, use_factory=lambda: Closeable("never"))
    c.resolve(V)
    run(c.dispose())
    assert log == ["value"]


def test_a_failing_on_init_fails_initialize() -> None:
    @injectable
    class Flaky:
        def on_init(self) -> None:
            raise RuntimeError("not ready")

    c = Container()
    c.register(Flaky)
    with pytest.raises(RuntimeError, match="not ready"):
        run(c.initialize())
