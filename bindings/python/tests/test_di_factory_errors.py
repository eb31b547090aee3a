"""A factory or constructor that raises: FactoryError (DI011) naming the token, the resolution path
and the module path, raised ``from`` the original exception. DI errors raised inside a factory pass
through unchanged."""

import asyncio
from typing import Any

import pytest

from conftest import run
from omnitron import Container, Omnitron, create_token, injectable, module, provide
from omnitron.errors import AsyncResolutionError, FactoryError, MissingProviderError

DB = create_token("Database")


class ConnectionRefused(ConnectionError):
    def __init__(self, port: int) -> None:
        super().__init__(f"connection refused on port {port}")
        self.port = port


def app_with(**db_provider: Any) -> tuple[type, Any]:
    @module(providers=[provide(DB, **db_provider)], exports=[DB])
    class DatabaseModule:
        pass

    REPO, USERS = create_token("UserRepository"), create_token("UserService")

    @module(
        imports=[DatabaseModule],
        providers=[
            provide(REPO, use_factory=lambda db: {"db": db}, inject=[DB]),
            provide(USERS, use_factory=lambda repo: {"repo": repo}, inject=[REPO]),
        ],
        exports=[USERS],
    )
    class UsersModule:
        pass

    @module(imports=[UsersModule])
    class AppModule:
        pass

    return AppModule, USERS


def check(e: BaseException, port: int, via_users: bool = True) -> None:
    assert isinstance(e, FactoryError) and e.code == "DI011"
    text = str(e)
    assert f"the factory of 'Database' failed: ConnectionRefused: connection refused on port {port}" in text
    assert ("Resolution path: UserService -> UserRepository -> Database" in text) == via_users, text
    assert "Module path: AppModule -> UsersModule -> DatabaseModule" in text, text
    assert isinstance(e.__cause__, ConnectionRefused) and e.__cause__.port == port


def refuse(port: int) -> Any:
    raise ConnectionRefused(port)


def test_a_raising_factory_names_token_resolution_path_module_path_and_keeps_the_cause() -> None:
    App, USERS = app_with(use_factory=lambda: refuse(5432))
    c = Container()
    c._load_root_module(App)
    with pytest.raises(FactoryError) as e:
        c.resolve(USERS)
    check(e.value, 5432)
    with pytest.raises(FactoryError) as e:
        run(c.resolve_async(USERS))
    check(e.value, 5432)
    with pytest.raises(FactoryError) as e:
        run(Omnitron.create(App))
    check(e.value, 5432, via_users=False)


def test_an_async_factory_that_raises_says_the_same() -> None:
    async def connect() -> Any:
        await asyncio.sleep(0.001)
        raise ConnectionRefused(6379)

    App, USERS = app_with(use_factory=connect)
    c = Container()
    c._load_root_module(App)
    with pytest.raises(FactoryError) as e:
        run(c.resolve_async(USERS))
    check(e.value, 6379)
    with pytest.raises(FactoryError) as e:
        run(c.initialize())
    check(e.value, 6379, via_users=False)


def test_a_plain_def_factory_whose_coroutine_raises_says_the_same() -> None:
    async def connect() -> Any:
        raise ConnectionRefused(1)

    App, USERS = app_with(use_factory=lambda: connect())
    c = Container()
    c._load_root_module(App)
    with pytest.raises(AsyncResolutionError):
        c.resolve(USERS)

    async def main() -> Any:
        # The sync attempt inside a loop started the build; the async resolve shares it.
        try:
            c.resolve(USERS)
        except AsyncResolutionError:
            pass
        return await c.resolve_async(USERS)

    with pytest.raises(FactoryError) as e:
        run(main())
    check(e.value, 1)


def test_a_raising_constructor_is_reported_as_constructing_the_class() -> None:
    @injectable
    class Strict:
        def __init__(self) -> None:
            raise ValueError("refuses to start")

    c = Container()
    c.register(Strict)
    with pytest.raises(FactoryError, match="constructing 'Strict' failed: ValueError: refuses to start") as e:
        c.resolve(Strict)
    assert isinstance(e.value.__cause__, ValueError)
    assert "Registered in the container itself" in str(e.value)


def test_a_di_error_raised_inside_a_factory_passes_through_unchanged() -> None:
    Missing, Outer, AsyncOuter = create_token("NotRegistered"), create_token("Outer"), create_token("AsyncOuter")
    c = Container()
    c.register(Outer, use_factory=lambda: c.resolve(Missing))
    with pytest.raises(MissingProviderError, match="no provider for 'NotRegistered'"):
        c.resolve(Outer)

    async def outer() -> Any:
        return await c.resolve_async(Missing)

    c.register(AsyncOuter, use_factory=outer)
    with pytest.raises(MissingProviderError):
        run(c.resolve_async(AsyncOuter))


def test_a_factory_failing_inside_another_factory_shows_the_whole_build() -> None:
    Inner, Outer = create_token("Inner"), create_token("Outer")

    def inner() -> Any:
        raise RuntimeError("inner broke")

    c = Container()
    c.register(Inner, use_factory=inner)
    c.register(Outer, use_factory=lambda: c.resolve(Inner))
    with pytest.raises(FactoryError, match="the factory of 'Inner' failed: RuntimeError: inner broke") as e:
        c.resolve(Outer)
    assert "Resolution path: Outer -> Inner" in str(e.value)
