"""omnitron.testing: testing modules with overridden providers (compiled into the engine's container),
create_mock, and the omnitron_testing fixture registered by the installed package's pytest plugin."""

import asyncio
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import omnitron.pytest_plugin
import omnitron.testing
from conftest import run
from omnitron import CONTEXT, DynamicModule, Inject, create_token, injectable, module, provide
from omnitron.errors import InvalidArgumentError, OmnitronError
from omnitron.testing import TestingModule, create_mock, create_testing_module


def code_of(e: pytest.ExceptionInfo[BaseException]) -> str:
    assert isinstance(e.value, OmnitronError), e.value
    return e.value.code


def example(doc: str) -> str:
    """The first ``::`` block of a docstring, dedented."""
    block = doc.split("::\n", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines))


real_repositories = 0


@injectable
class Database:
    def __init__(self) -> None:
        raise RuntimeError("no database in unit tests")


@injectable
class OrderRepository:
    def __init__(self, db: Database) -> None:
        global real_repositories
        real_repositories += 1
        self.db = db

    async def find(self, order_id: str) -> dict[str, Any]:
        raise RuntimeError(f"real lookup of {order_id}")


@injectable
class OrderService:
    def __init__(self, orders: OrderRepository) -> None:
        self.orders = orders

    async def total(self, order_id: str) -> int:
        return int((await self.orders.find(order_id))["total"])


@module(providers=[Database, OrderRepository, OrderService], exports=[OrderService])
class OrdersModule:
    pass


@injectable
class InMemoryOrders:
    async def find(self, order_id: str) -> dict[str, Any]:
        return {"id": order_id, "total": 42}


def test_the_module_docstring_example_runs() -> None:
    assert omnitron.testing.__doc__
    exec(compile(example(omnitron.testing.__doc__), "omnitron.testing", "exec"), {})


def test_spec_10_1_in_python() -> None:
    @injectable
    class UserRepository:
        async def save(self, user: dict[str, str]) -> dict[str, str]:
            raise RuntimeError("the real repository needs a database")

    @injectable
    class UserService:
        def __init__(self, users: UserRepository) -> None:
            self.users = users

        async def create(self, email: str, name: str) -> dict[str, str]:
            return await self.users.save({"email": email, "name": name})

    async def main() -> None:
        mod = await create_testing_module(
            providers=[UserService, provide(UserRepository, use_value=create_mock(UserRepository))]
        ).compile()
        service = mod.get(UserService)
        user = await service.create(email="test@example.com", name="Test User")
        repo = mod.get(UserRepository)
        repo.save.assert_awaited_once_with({"email": "test@example.com", "name": "Test User"})
        assert user is repo.save.return_value
        await mod.close()

    run(main())


def test_override_use_value_replaces_a_provider_inside_an_imported_module() -> None:
    async def main() -> None:
        repo = create_mock(OrderRepository, find={"id": "o1", "total": 99})
        mod = await (
            create_testing_module(imports=[OrdersModule])
            .override_provider(OrderRepository)
            .use_value(repo)
            .override_provider(Database)
            .use_value(object())
            .compile()
        )
        async with mod:
            assert isinstance(mod, TestingModule)
            service = mod.get(OrderService)
            assert service.orders is repo
            assert await service.total("o1") == 99
            repo.find.assert_awaited_once_with("o1")
            assert real_repositories == 0
            # OrdersModule exports only OrderService: the engine still refuses what it does not export.
            with pytest.raises(OmnitronError) as e:
                mod.get(OrderRepository)
            assert code_of(e) == "DI010"
        assert mod.closed

    run(main())


def test_use_class_and_use_factory_build_the_replacement_where_the_provider_was_declared() -> None:
    async def main() -> None:
        async with await (
            create_testing_module(imports=[OrdersModule])
            .override_provider(OrderRepository)
            .use_class(InMemoryOrders)
            .override_provider(Database)
            .use_value(object())
            .compile()
        ) as a:
            assert isinstance(a.get(OrderService).orders, InMemoryOrders)
            assert await a.get(OrderService).total("x") == 42

        class Rates:
            rate = 7

        def make(db: Any) -> InMemoryOrders:
            orders = InMemoryOrders()
            orders.find = lambda order_id: _resolved({"id": order_id, "total": db.rate * 6})  # type: ignore[method-assign]
            return orders

        async with await (
            create_testing_module(imports=[OrdersModule])
            .override_provider(Database)
            .use_value(Rates())
            .override_provider(OrderRepository)
            .use_factory(make, inject=[Database])
            .compile()
        ) as b:
            assert await b.get(OrderService).total("y") == 42

        # The testing module's own providers are not visible from inside OrdersModule.
        rate = create_token("RATE")
        with pytest.raises(OmnitronError, match="'RATE' is provided by module 'TestingModule' but is not visible from module 'OrdersModule'") as e:
            await (
                create_testing_module(imports=[OrdersModule], providers=[provide(rate, use_value=7)])
                .override_provider(Database)
                .use_value(object())
                .override_provider(OrderRepository)
                .use_factory(lambda r: r, inject=[rate])
                .compile()
            )
        assert code_of(e) == "DI010"

        # The last override wins; an async factory is awaited by compile().
        async def make_async() -> InMemoryOrders:
            return InMemoryOrders()

        async with await (
            create_testing_module(providers=[OrderService])
            .override_provider(OrderRepository)
            .use_value(object())
            .override_provider(OrderRepository)
            .use_factory(make_async)
            .compile()
        ) as c:
            assert await c.get(OrderService).total("z") == 42
        assert real_repositories == 0

    run(main())


async def _resolved(v: Any) -> Any:
    return v


def test_an_override_of_a_token_nobody_provides_is_provided_by_the_testing_module() -> None:
    async def main() -> None:
        async with await create_testing_module(providers=[OrderService]).override_provider(OrderRepository).use_value(InMemoryOrders()).compile() as mod:
            assert await mod.get(OrderService).total("a") == 42

    run(main())


def test_a_module_imported_twice_stays_one_module_and_override_module_swaps_a_module() -> None:
    built = []

    @injectable
    class Clock:
        def __init__(self) -> None:
            built.append(self)

    @module(providers=[Clock])
    class ClockModule:
        pass

    @injectable
    class A:
        def __init__(self, clock: Clock) -> None:
            self.clock = clock

    @injectable
    class B:
        def __init__(self, clock: Clock) -> None:
            self.clock = clock

    @module(imports=[ClockModule], providers=[A], exports=[A])
    class AModule:
        pass

    @module(imports=[ClockModule], providers=[B], exports=[B])
    class BModule:
        pass

    class FakeClock:
        pass

    @module(providers=[provide(Clock, use_class=FakeClock, inject=[])])
    class FakeClockModule:
        pass

    async def main() -> None:
        async with await create_testing_module(imports=[AModule, BModule]).override_provider("unused").use_value(1).compile() as mod:
            assert mod.get(A).clock is mod.get(B).clock
            assert len(built) == 1
        async with await create_testing_module(imports=[AModule, BModule]).override_module(ClockModule).use_module(FakeClockModule).compile() as swapped:
            assert isinstance(swapped.get(A).clock, FakeClock)
            assert swapped.get(A).clock is swapped.get(B).clock
            assert len(built) == 1
        # Providers of dynamic modules are replaced too.
        dyn = DynamicModule(module=AModule, name="AForRoot")
        async with await create_testing_module(imports=[dyn]).override_provider(Clock).use_value("fake").compile() as d:
            assert d.get(A).clock == "fake"
        # A module imported in its dynamic form (`for_root()`) is replaced by override_module too.
        clock_for_root = DynamicModule(module=ClockModule, name="ClockForRoot")

        @module(imports=[clock_for_root], providers=[A], exports=[A])
        class UsesForRoot:
            pass

        async with create_testing_module(imports=[UsesForRoot]).override_module(ClockModule).use_module(FakeClockModule).compile() as f:
            assert isinstance(f.get(A).clock, FakeClock)
            assert len(built) == 1

    run(main())


def test_controllers_are_built_and_injected_as_in_a_module() -> None:
    @injectable
    class UsersService:
        pass

    @injectable
    class UsersController:
        def __init__(self, users: UsersService) -> None:
            self.users = users

    async def main() -> None:
        async with create_testing_module(controllers=[UsersController], providers=[UsersService]).compile() as m:
            assert m.get(UsersController).users is m.get(UsersService)
        with pytest.raises(InvalidArgumentError, match="controllers must be a list"):
            create_testing_module(controllers=UsersController)  # type: ignore[arg-type]

    run(main())


def test_compile_runs_on_init_close_runs_on_destroy_and_scopes_and_context_work() -> None:
    events: list[str] = []

    @injectable
    class Cache:
        ready = False

        async def on_init(self) -> None:
            await asyncio.sleep(0)
            self.ready = True
            events.append("init")

        def on_destroy(self) -> None:
            events.append("destroy")

    @injectable(scope="scoped")
    class RequestInfo:
        def __init__(self, ctx: Inject[CONTEXT]) -> None:
            self.ctx = ctx

    settings = create_token("SETTINGS")

    async def make_settings() -> dict[str, str]:
        return {"url": "mem://"}

    async def main() -> None:
        mod = await create_testing_module(
            providers=[Cache, RequestInfo, provide(settings, use_factory=make_settings)], context={"user": "root"}
        ).compile()
        assert events == ["init"]
        assert mod.get(Cache).ready
        assert await mod.get_async(settings) == {"url": "mem://"}
        assert mod.has(settings) and not mod.has("nothing")
        assert mod.get(CONTEXT) == {"user": "root"}
        with pytest.raises(OmnitronError) as e:
            mod.get(RequestInfo)
        assert code_of(e) == "DI007"
        async with mod.create_scope({"user": "ada"}) as scope:
            assert scope.resolve(RequestInfo).ctx == {"user": "ada"}
        await mod.close()
        await mod.close()
        assert events == ["init", "destroy"]
        with pytest.raises(OmnitronError) as e:
            mod.get(Cache)
        assert code_of(e) == "DI008"

    run(main())


def test_errors_keep_the_engine_codes() -> None:
    destroyed: list[str] = []

    @injectable
    class Good:
        def on_destroy(self) -> None:
            destroyed.append("good")

    @injectable
    class Bad:
        def __init__(self, good: Good) -> None:
            self.good = good

        def on_init(self) -> None:
            raise ValueError("bad init")

    class NotAModule:
        pass

    @module(imports=[NotAModule])
    class Broken:
        pass

    async def main() -> None:
        with pytest.raises(OmnitronError, match="OrderRepository") as e:
            await create_testing_module(providers=[OrderService]).compile()
        assert code_of(e) == "DI001"
        with pytest.raises(Exception, match="bad init"):
            await create_testing_module(providers=[Good, Bad]).compile()
        assert destroyed == ["good"], "what compile() built before the failure was disposed"
        for builder in (create_testing_module(imports=[Broken]), create_testing_module(imports=[Broken]).override_provider("x").use_value(1)):
            with pytest.raises(OmnitronError, match="NotAModule") as e:
                await builder.compile()
            assert code_of(e) == "DI013"

    run(main())


def test_bad_input_is_refused_with_e001_naming_the_nearest_valid_key() -> None:
    with pytest.raises(OmnitronError, match=r"(?s)'provider'.*'providers'") as e:
        create_testing_module(provider=[])  # type: ignore[call-arg]
    assert code_of(e) == "E001"
    for bad in (lambda: create_testing_module(providers=OrderService),  # type: ignore[arg-type]
                lambda: create_testing_module(imports="x"),  # type: ignore[arg-type]
                lambda: create_testing_module(providers=[OrderService]).override_provider(None),
                lambda: create_testing_module(providers=[OrderService]).override_provider(42),
                lambda: create_testing_module().override_provider(OrderRepository).use_class("x"),  # type: ignore[arg-type]
                lambda: create_testing_module().override_provider(OrderRepository).use_factory(1),  # type: ignore[arg-type]
                lambda: create_testing_module().override_provider(OrderRepository).use_factory(lambda: 1, inject="x"),  # type: ignore[arg-type]
                lambda: create_testing_module().override_module(None),
                lambda: create_testing_module().override_module(OrdersModule).use_module(None),
                lambda: create_mock(42),  # type: ignore[arg-type]
                lambda: create_mock(InMemoryOrders()),  # type: ignore[arg-type]
                ):
        with pytest.raises(OmnitronError) as e:
            bad()
        assert code_of(e) == "E001"
    with pytest.raises(OmnitronError, match=r"(?s)'injects'.*'inject'") as e:
        create_testing_module().override_provider(OrderRepository).use_factory(lambda: 1, injects=[])  # type: ignore[call-arg]
    assert code_of(e) == "E001"
    with pytest.raises(OmnitronError, match=r"(?s)'fnd'.*'find'") as e:
        create_mock(OrderRepository, fnd=1)
    assert code_of(e) == "E001"


def test_create_mock_is_an_autospec_with_async_methods_awaitable_and_configurable() -> None:
    class Mailer:
        sender: str

        def count(self) -> int:
            return 0

        async def send(self, to: str, body: str) -> bool:
            return False

        def on_destroy(self) -> None:
            pass

    m = create_mock(Mailer)
    assert isinstance(m, Mailer)
    m.count()
    m.count.assert_called_once_with()
    with pytest.raises(TypeError):
        m.count(1)  # the real signature is checked
    with pytest.raises(AttributeError):
        m.nope  # not in the spec
    m.send.return_value = True
    assert run(m.send("a@x", "hi")) is True
    m.send.assert_awaited_once_with("a@x", "hi")
    assert m.on_init is None and m.on_destroy is None, "lifecycle hooks are left unset"

    configured = create_mock(Mailer, sender="noreply@x", count=7, send=lambda to, body: to.endswith("@ok"))
    assert configured.sender == "noreply@x"
    assert configured.count() == 7
    assert run(configured.send("x@ok", "")) is True
    assert run(configured.send("x@no", "")) is False
    assert configured.send.await_count == 2

    loose = create_mock()
    loose.anything(1, k=2)
    loose.anything.assert_called_once_with(1, k=2)
    assert loose.on_destroy is None
    with_impl = create_mock(find=lambda x: x * 2, name_="n")
    assert with_impl.find(4) == 8 and with_impl.name_ == "n"
    with_impl.find.assert_called_once_with(4)


def test_the_fixture_is_registered_by_the_installed_package(omnitron_testing: Any) -> None:
    # No conftest defines it: the wheel's pytest11 entry point does.
    assert any(e.value == "omnitron.pytest_plugin" for e in metadata.entry_points(group="pytest11"))
    destroyed: list[str] = []

    @injectable
    class Conn:
        def on_destroy(self) -> None:
            destroyed.append("conn")

    mod = omnitron_testing.run(omnitron_testing.create_testing_module(providers=[Conn]).compile())
    assert isinstance(mod.get(Conn), Conn)
    omnitron_testing.close()
    assert destroyed == ["conn"] and mod.closed, "the fixture closes what it compiled"
    with pytest.raises(OmnitronError) as e:
        omnitron_testing.run(asyncio.sleep(0))
    assert code_of(e) == "E001"

    # In an async test: run() says to await instead; a module compiled inside a loop that is gone by
    # the end is closed on the session's own loop.
    fresh = omnitron.testing.TestingSession()
    compiled = asyncio.run(_in_loop(fresh, Conn))
    assert not compiled.closed
    fresh.close()
    assert compiled.closed and destroyed == ["conn", "conn"]


async def _in_loop(session: omnitron.testing.TestingSession, cls: type) -> TestingModule:
    with pytest.raises(OmnitronError, match="synchronous tests"):
        session.run(asyncio.sleep(0))
    return await session.create_testing_module(providers=[cls]).compile()


def test_pytest_runs_the_plugin_docstring_example_and_closes_modules_after_each_test(tmp_path: Path) -> None:
    assert omnitron.pytest_plugin.__doc__
    marker = tmp_path / "destroyed.txt"
    (tmp_path / "test_example.py").write_text(
        example(omnitron.pytest_plugin.__doc__)
        + textwrap.dedent(
            f"""

            @injectable
            class Conn:
                def on_destroy(self) -> None:
                    with open({str(marker)!r}, "a") as f:
                        f.write("closed\\n")

            def test_module_closed_after(omnitron_testing):
                omnitron_testing.run(omnitron_testing.create_testing_module(providers=[Conn]).compile())
                assert not __import__("os").path.exists({str(marker)!r})

            def test_then(omnitron_testing):
                assert open({str(marker)!r}).read() == "closed\\n"

            @injectable
            class Failing:
                def on_destroy(self) -> None:
                    raise RuntimeError("hook failed at teardown")

            def test_failing_hook_is_reported(omnitron_testing):
                omnitron_testing.run(omnitron_testing.create_testing_module(providers=[Failing]).compile())
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_example.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "4 passed, 1 error" in r.stdout, r.stdout + r.stderr
    assert "ERROR at teardown of test_failing_hook_is_reported" in r.stdout
    assert "hook failed at teardown" in r.stdout
