import asyncio

import pytest

from conftest import run
from omnitron import Container, create_token, injectable
from omnitron.errors import ContainerDisposedError, LifecycleError


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
    run(c.close())
    assert log == ["destroy Service", "destroy Repository", "destroy Database"]


def test_resolving_never_runs_on_init_and_an_async_hook_does_not_make_a_provider_async() -> None:
    log: list[str] = []
    c, Database, Service = chain(log)
    svc = c.resolve(Service)
    assert isinstance(svc, Service)
    assert isinstance(run(c.resolve_async(Database)), Database)
    assert log == [], "neither resolve nor resolve_async ran a hook"
    run(c.initialize())
    assert log == ["init Database", "init Repository", "init Service"], "on the instances already built"
    assert c.resolve(Service) is svc


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
        run(c.close())
    assert log == ["D", "B", "A"]
    assert e.value.code == "DI012"
    assert e.value.errors == [err_d, err_a]
    assert "2 of 3" in str(e.value) and "D broke" in str(e.value) and "A broke" in str(e.value)
    del log[:]
    with pytest.raises(LifecycleError):
        run(c.close())
    assert log == []
    _ = make_d


def test_after_dispose_everything_fails_with_container_disposed() -> None:
    T = create_token("T")
    c = Container()
    c.register(T, use_value=1)
    assert c.resolve(T) == 1
    run(c.close())
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
        await asyncio.gather(c.close(), c.close())

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
    run(c.close())
    assert log == ["value"]


def test_a_failing_on_init_fails_initialize_with_di012_and_runs_again_next_time() -> None:
    class NotReady(Exception):
        pass

    tries = []

    @injectable
    class Flaky:
        def on_init(self) -> None:
            tries.append(1)
            if len(tries) == 1:
                raise NotReady("not ready")

    c = Container()
    c.register(Flaky)
    with pytest.raises(LifecycleError, match="on_init of 'Flaky' failed: NotReady: not ready") as e:
        run(c.initialize())
    assert isinstance(e.value.__cause__, NotReady)
    assert "Registered in the container itself" in str(e.value)
    run(c.initialize())
    assert len(tries) == 2


def test_initialize_again_does_only_what_was_registered_or_built_since() -> None:
    log: list[str] = []
    c, _, _ = chain(log)
    run(c.initialize())
    del log[:]

    @injectable
    class Late:
        def on_init(self) -> None:
            log.append("init Late")

    Same = create_token("Same")
    c.register(Late)
    # A second provider giving the very same instance: its hook still runs once.
    c.register(Same, use_factory=lambda late: late, inject=[Late])
    late = c.resolve(Late)
    assert log == [], "built by a resolve after initialize(): not initialized yet"
    run(c.initialize())
    assert log == ["init Late"]
    assert c.resolve(Late) is late
    run(c.initialize())
    assert log == ["init Late"]


def test_transient_and_scoped_instances_are_never_initialized() -> None:
    log: list[str] = []

    @injectable(scope="transient")
    class PerCall:
        def on_init(self) -> None:
            log.append("transient")

    @injectable(scope="scoped")
    class PerRequest:
        def on_init(self) -> None:
            log.append("scoped")

    c = Container()
    c.register(PerCall)
    c.register(PerRequest)
    c.resolve(PerCall)
    c.create_scope().resolve(PerRequest)
    run(c.initialize())
    c.resolve(PerCall)
    assert log == []


def test_hooks_run_dependencies_first_even_when_the_dependent_was_built_first() -> None:
    log: list[str] = []
    c, _, Service = chain(log)
    c.resolve(Service)
    run(c.initialize())
    assert log == ["init Database", "init Repository", "init Service"]


def test_a_dependent_built_during_initialize_sees_its_dependencies_initialized() -> None:
    seen = []

    @injectable
    class Conn:
        opened = False

        async def on_init(self) -> None:
            await asyncio.sleep(0.001)
            self.opened = True

    @injectable
    class Repo:
        def __init__(self, conn: Conn) -> None:
            seen.append(conn.opened)

    c = Container()
    c.register(Repo)
    c.register(Conn)
    run(c.initialize())
    assert seen == [True]


def test_initialize_from_a_hook_of_the_same_container_is_di012_not_a_hang() -> None:
    inner: list[BaseException] = []

    @injectable
    class Reentrant:
        async def on_init(self) -> None:
            try:
                await c.initialize()
            except LifecycleError as e:
                inner.append(e)

    c = Container()
    c.register(Reentrant)
    run(asyncio.wait_for(c.initialize(), timeout=5))
    assert len(inner) == 1 and "from inside initialize()" in str(inner[0])


def test_concurrent_initialize_runs_each_hook_once() -> None:
    log: list[str] = []
    c, _, _ = chain(log)

    async def main() -> None:
        await asyncio.gather(c.initialize(), c.initialize(), c.initialize())

    run(main())
    assert log == ["init Database", "init Repository", "init Service"]


def test_a_di_error_raised_by_a_hook_passes_through_unchanged() -> None:
    from omnitron.errors import MissingProviderError

    Missing = create_token("Missing")

    @injectable
    class Looks:
        def on_init(self) -> None:
            c.resolve(Missing)

    c = Container()
    c.register(Looks)
    with pytest.raises(MissingProviderError, match="no provider for 'Missing'"):
        run(c.initialize())
