"""Testing utilities: a testing module with overridden providers, and mocks of classes.

::

    import asyncio
    from omnitron import injectable, provide
    from omnitron.testing import create_mock, create_testing_module

    @injectable
    class UserRepository:
        async def save(self, user: dict) -> dict:
            raise RuntimeError("the real repository needs a database")

    @injectable
    class UserService:
        def __init__(self, users: UserRepository) -> None:
            self.users = users

        async def create(self, email: str) -> dict:
            return await self.users.save({"email": email.lower()})

    async def main() -> None:
        repo = create_mock(UserRepository, save={"id": 1, "email": "ada@example.com"})
        async with await create_testing_module(
            providers=[UserService, provide(UserRepository, use_value=repo)]
        ).compile() as module:
            user = await module.get(UserService).create("Ada@Example.com")
            assert user == {"id": 1, "email": "ada@example.com"}
            repo.save.assert_awaited_once_with({"email": "ada@example.com"})

    asyncio.run(main())

``create_testing_module(...).override_provider(X).use_value(v)`` (or ``use_class`` /
``use_factory``) replaces every provider of ``X`` in the module tree, imported modules included, before
the container is built; ``compile()`` builds it and runs ``initialize()``. With pytest, the
``omnitron_testing`` fixture (registered by installing the package) builds modules and closes them
after the test: see :class:`TestingSession`.

HTTP controllers are tested in-process (no port) with :class:`AsyncTestClient` (``await
client.get("/users/1")``) or :class:`TestClient` in synchronous tests, shaped like Starlette's
``TestClient``: see :mod:`omnitron._http_testing`.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Awaitable, Callable, Optional, Sequence, TypeVar
from unittest import mock as _mock

from . import _native
from ._http_testing import AsyncTestClient, TestClient, TestResponse
from ._opening import opening
from ._options import checked_keywords
from .di.container import Container
from .di.decorators import DynamicModule, Provide, provide
from .di.tokens import describe, token_key, token_name
from .errors import InvalidArgumentError

T = TypeVar("T")

__all__ = [
    "AsyncTestClient",
    "OverrideBy",
    "OverrideModule",
    "TestingModule",
    "TestingModuleBuilder",
    "TestingSession",
    "TestClient",
    "TestResponse",
    "create_mock",
    "create_testing_module",
]

#: Names a mock leaves unset unless given: the container's lifecycle hooks, so that a mock provided
#: as a value does not get them called (as in the TypeScript door).
_HOOKS = ("on_init", "on_destroy")


def create_mock(spec: Optional[type] = None, /, **attributes: Any) -> Any:
    """A mock of ``spec`` (a class) whose every method is a recording stub: ``unittest.mock``'s
    autospec, so calls are checked against the real signatures, and ``async def`` methods are
    ``AsyncMock`` (``assert_awaited_once_with`` and friends). Without ``spec``, a ``MagicMock``.

    ``attributes`` configure it: a function given for a method becomes its implementation
    (``side_effect``; the stub still records), any other value given for a method is what it returns
    (``return_value``), and a value for anything else is set as the attribute. With a ``spec``, a name
    the class does not have (as an attribute, method or annotation) is refused with E001 naming the
    nearest one. ``on_init`` and ``on_destroy`` are ``None`` unless given.

    ::

        repo = create_mock(UserRepository, find=lambda id: User(id=id))
        repo.find(1)
        repo.find.assert_called_once_with(1)
    """
    if spec is not None and not isinstance(spec, type):
        raise InvalidArgumentError(f"create_mock() takes a class to mock, got {describe(spec)}")
    if spec is None:
        m: Any = _mock.MagicMock()
    else:
        known = _known_names(spec)
        for key in attributes:
            if key not in known:
                raise _native.unknown_option(f"create_mock({spec.__name__})", key, sorted(n for n in known if not n.startswith("_")))
        m = _mock.create_autospec(spec, instance=True)
    for hook in _HOOKS:
        if hook not in attributes:
            setattr(m, hook, None)
    for key, value in attributes.items():
        is_method = spec is None or inspect.isroutine(getattr(spec, key, None))
        if is_method and callable(value) and not isinstance(value, type):
            getattr(m, key).side_effect = value
        elif is_method and spec is not None:
            getattr(m, key).return_value = value
        else:
            setattr(m, key, value)
    return m


def _known_names(cls: type) -> set[str]:
    names = set(dir(cls))
    for c in cls.__mro__:
        names.update(getattr(c, "__annotations__", {}).keys())
    return names


class OverrideBy:
    """What :meth:`TestingModuleBuilder.override_provider` gives: how to provide the token instead."""

    def __init__(self, builder: "TestingModuleBuilder", token: Any) -> None:
        self._builder = builder
        self._token = token

    def use_value(self, value: Any) -> "TestingModuleBuilder":
        return self._builder._set(self._token, provide(self._token, use_value=value))

    def use_class(self, cls: type) -> "TestingModuleBuilder":
        if not isinstance(cls, type):
            raise InvalidArgumentError(f"override_provider({token_name(self._token)}).use_class() takes a class, got {describe(cls)}")
        return self._builder._set(self._token, provide(self._token, use_class=cls))

    @checked_keywords("override_provider().use_factory()")
    def use_factory(self, factory: Callable[..., Any], *, inject: Optional[Sequence[Any]] = None) -> "TestingModuleBuilder":
        """``use_factory(make, inject=[DEP, ...])``: ``make(dep, ...)`` (or ``async def``) builds it."""
        if not callable(factory):
            raise InvalidArgumentError(f"override_provider({token_name(self._token)}).use_factory() takes a function, got {describe(factory)}")
        if inject is not None and not isinstance(inject, (list, tuple)):
            raise InvalidArgumentError(f"override_provider({token_name(self._token)}).use_factory(): inject must be a list, got {describe(inject)}")
        kwargs: dict[str, Any] = {"use_factory": factory}
        if inject is not None:
            kwargs["inject"] = list(inject)
        return self._builder._set(self._token, provide(self._token, **kwargs))


class OverrideModule:
    """What :meth:`TestingModuleBuilder.override_module` gives."""

    def __init__(self, builder: "TestingModuleBuilder", module: Any) -> None:
        self._builder = builder
        self._module = module

    def use_module(self, replacement: Any) -> "TestingModuleBuilder":
        if replacement is None:
            raise InvalidArgumentError("override_module().use_module() takes a module, got None")
        self._builder._modules[id(self._module)] = (self._module, replacement)
        return self._builder


class TestingModuleBuilder:
    """Collects overrides, then builds the container (:meth:`compile`)."""

    __test__ = False  # not a test class, whatever pytest's name patterns say

    def __init__(
        self,
        imports: Sequence[Any],
        providers: Sequence[Any],
        context: Any,
        on_compile: Optional[Callable[["TestingModule"], None]] = None,
        controllers: Sequence[Any] = (),
    ) -> None:
        self._imports = list(imports)
        self._providers = list(providers)
        self._controllers = list(controllers)
        self._context = context
        self._on_compile = on_compile
        #: By token key: what replaces the token's providers.
        self._overrides: dict[int, Provide] = {}
        #: By id of the module replaced: (module, replacement).
        self._modules: dict[int, tuple[Any, Any]] = {}

    def override_provider(self, token: Any) -> OverrideBy:
        """Replaces every provider of ``token`` in the module tree (the testing module's and imported
        modules') with what ``use_value`` / ``use_class`` / ``use_factory`` gives. A token nobody
        provides is added to the testing module; the last override of a token wins. The replacement's
        dependencies are resolved where the provider was declared."""
        token_key(token)  # refuses what is not a token (E001)
        return OverrideBy(self, token)

    def override_module(self, module: Any) -> OverrideModule:
        """Replaces ``module`` (a ``@module`` class or a dynamic module) wherever it is imported."""
        if module is None:
            raise InvalidArgumentError("override_module() takes a module, got None")
        return OverrideModule(self, module)

    def _set(self, token: Any, replacement: Provide) -> "TestingModuleBuilder":
        self._overrides[token_key(token)] = replacement
        return self

    @opening("compile()")
    async def compile(self) -> "TestingModule":
        """Builds the container from the testing module (overrides applied) and runs
        ``initialize()``: every singleton is built and every ``on_init`` hook has run. A failure (a
        missing provider, a failing hook) raises the engine's error, after disposing what was built."""
        root = DynamicModule(
            module=_named("TestingModule"),
            providers=list(self._providers),
            imports=list(self._imports),
            controllers=list(self._controllers),
            name="TestingModule",
        )
        modules = self._modules

        def swap(m: Any) -> Any:
            # Followed through chains; a loop of replacements stops where it comes back. A
            # module's dynamic forms (`ConfigModule.for_root()`) are replaced with it.
            seen: set[int] = set()
            while id(m) not in seen:
                key = id(m) if id(m) in modules else id(m.module) if isinstance(m, DynamicModule) and id(m.module) in modules else None
                if key is None:
                    break
                seen.add(id(m))
                m = modules[key][1]
            return m

        container = Container(context=self._context)
        try:
            container._load_root_module(root, swap if modules else None)
            # The engine puts each replacement where its token's providers were declared.
            for replacement in self._overrides.values():
                container._override_provider(replacement)
            await container.initialize()
        except BaseException:
            try:
                await container.close()
            except Exception:
                pass
            raise
        module = TestingModule(container)
        if self._on_compile is not None:
            self._on_compile(module)
        return module


@checked_keywords("create_testing_module()")
def create_testing_module(
    *, providers: Sequence[Any] = (), imports: Sequence[Any] = (), controllers: Sequence[Any] = (), context: Any = None
) -> TestingModuleBuilder:
    """Starts a testing module: ``await create_testing_module(providers=[...], imports=[...]).compile()``,
    with ``override_provider(X).use_value(v)`` (``use_class``, ``use_factory``) and
    ``override_module(M).use_module(N)`` before ``compile()``. ``controllers`` are built and injected
    as a module's are. ``context`` is what ``CONTEXT`` gives outside any scope."""
    for name, value in (("providers", providers), ("imports", imports), ("controllers", controllers)):
        if not isinstance(value, (list, tuple)):
            raise InvalidArgumentError(f"create_testing_module(): {name} must be a list, got {describe(value)}")
    return TestingModuleBuilder(imports, providers, context, controllers=controllers)


class TestingModule:
    """A compiled testing module: its container, initialized. An async context manager that closes it."""

    __test__ = False

    def __init__(self, container: Container) -> None:
        self.container = container

    def get(self, token: Any) -> Any:
        """Resolves a provider visible from the testing module."""
        return self.container.resolve(token)

    async def get_async(self, token: Any) -> Any:
        """Resolves a provider, awaiting async factories and hooks."""
        return await self.container.resolve_async(token)

    def resolve_all(self, token: Any) -> list[Any]:
        """Every provider of a multi token."""
        return self.container.resolve_all(token)

    def has(self, token: Any) -> bool:
        return self.container.has(token)

    def create_scope(self, context: Any = None) -> Any:
        """A scope (a request, a job): scoped providers get one instance per scope."""
        return self.container.create_scope(context)

    @property
    def closed(self) -> bool:
        return self.container.disposed

    async def close(self) -> None:
        """Runs every ``on_destroy`` and closes the container. Idempotent."""
        await self.container.close()

    async def __aenter__(self) -> "TestingModule":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class TestingSession:
    """What the ``omnitron_testing`` pytest fixture gives (see :mod:`omnitron.pytest_plugin` for an
    example): builders whose modules it closes after the test, and an event loop of its own for
    synchronous tests (:meth:`run`).

    In an ``async def`` test (pytest-asyncio, anyio), ``await builder.compile()`` instead of ``run``;
    the module is still closed after the test (on its own loop when that loop is still open, else on
    the session's).
    """

    __test__ = False

    def __init__(self) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._modules: list[tuple[TestingModule, Optional[asyncio.AbstractEventLoop]]] = []
        self._closed = False

    @checked_keywords("omnitron_testing.create_testing_module()")
    def create_testing_module(
        self, *, providers: Sequence[Any] = (), imports: Sequence[Any] = (), controllers: Sequence[Any] = (), context: Any = None
    ) -> TestingModuleBuilder:
        """:func:`create_testing_module`, with every module it compiles closed after the test."""
        builder = create_testing_module(providers=providers, imports=imports, controllers=controllers, context=context)
        builder._on_compile = self._track
        return builder

    def run(self, aw: Awaitable[T]) -> T:
        """Runs ``aw`` to completion on the session's event loop (for synchronous tests)."""
        if self._closed:
            if inspect.iscoroutine(aw):
                aw.close()
            raise InvalidArgumentError("this omnitron_testing session is closed (the test is over)")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if inspect.iscoroutine(aw):
                aw.close()
            raise InvalidArgumentError("omnitron_testing.run() is for synchronous tests: in an async test, await it")
        return self._own_loop().run_until_complete(aw)

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def _track(self, module: TestingModule) -> None:
        try:
            loop: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        self._modules.append((module, loop))

    def close(self) -> None:
        """Closes every module compiled through the session (newest first), then the session's loop.
        The first failure (a failing ``on_destroy``) is raised once all are closed."""
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []
        for module, loop in reversed(self._modules):
            if module.closed:
                continue
            usable = loop is not None and not loop.is_closed() and not loop.is_running()
            try:
                (loop if usable and loop is not None else self._own_loop()).run_until_complete(module.close())
            except Exception as e:
                errors.append(e)
        self._modules.clear()
        if self._loop is not None:
            self._loop.close()
        if errors:
            raise errors[0]


def _named(name: str) -> type:
    """A fresh class standing for the testing module (each compile makes its own)."""
    return type(name, (), {})
