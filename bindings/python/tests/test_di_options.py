"""Scope constants, unknown keywords, module ``controllers`` / ``process`` / positional name,
classes that need no decorator, and ``close()`` with ``dispose()`` kept as a deprecated alias."""

import warnings
from typing import Any

import pytest

from conftest import run
from omnitron import (
    Container,
    ContainerScope,
    DynamicModule,
    Inject,
    Omnitron,
    Scope,
    create_token,
    inject,
    injectable,
    module,
    provide,
)
from omnitron.errors import (
    InvalidArgumentError,
    InvalidModuleError,
    InvalidProviderError,
    InvalidScopeError,
    NotExportedError,
    ScopeRequiredError,
)


def test_scope_is_a_str_enum_accepted_wherever_a_scope_name_is() -> None:
    assert [s.value for s in Scope] == ["singleton", "transient", "scoped", "request"]
    assert Scope.TRANSIENT == "transient" and isinstance(Scope.SCOPED, str)

    @injectable(scope=Scope.TRANSIENT)
    class PerCall:
        pass

    @injectable(scope=Scope.REQUEST)
    class PerRequest:
        pass

    @injectable(scope=Scope.SINGLETON)
    class Shared:
        pass

    T = create_token("T")
    c = Container()
    for k in (PerCall, PerRequest, Shared):
        c.register(k)
    c.register(T, use_factory=object, scope=Scope.TRANSIENT)
    assert c.resolve(PerCall) is not c.resolve(PerCall)
    assert c.resolve(T) is not c.resolve(T)
    assert c.resolve(Shared) is c.resolve(Shared)
    with pytest.raises(ScopeRequiredError):
        c.resolve(PerRequest)
    s = c.create_scope()
    assert isinstance(s, ContainerScope)
    assert s.resolve(PerRequest) is s.resolve(PerRequest)

    @module(providers=[provide("x", use_factory=object, scope=Scope.SCOPED)])
    class M:
        pass

    c.load_module(M)
    assert s.resolve("x") is s.resolve("x")


def test_scope_none_is_refused_never_a_silent_singleton() -> None:
    with pytest.raises(InvalidArgumentError, match=r"@injectable\(\): scope is None.*leave it out for the default"):
        injectable(scope=None)  # type: ignore[call-overload]
    c = Container()
    T = create_token("T")
    with pytest.raises(InvalidArgumentError, match="the provider of 'T': scope is None"):
        c.register(T, use_factory=object, scope=None)  # type: ignore[arg-type]

    @module(providers=[provide(T, use_value=1, scope=None)])
    class M:
        pass

    with pytest.raises(InvalidArgumentError, match="in module 'M': the provider of 'T': scope is None"):
        c.load_module(M)
    with pytest.raises(InvalidScopeError, match="'forever'"):
        c.register(T, use_factory=object, scope="forever")
    assert not c.has(T)


def test_unknown_keywords_are_refused_naming_the_nearest() -> None:
    c = Container()
    T = create_token("T")
    cases: list[tuple[Any, str]] = [
        (lambda: injectable(scop="transient"), r"unknown option 'scop' in @injectable\(\): did you mean 'scope'\?"),
        (lambda: module(provider=[]), r"unknown option 'provider' in @module\(\): did you mean 'providers'\?"),
        (lambda: provide(T, use_vale=1), r"unknown option 'use_vale' in provide\(\): did you mean 'use_value'\?"),
        (lambda: c.register(T, use_value=1, overide=True), r"unknown option 'overide' in Container.register\(\): did you mean 'override'\?"),
        (lambda: Container(contxt=1), r"unknown option 'contxt' in Container\(\): did you mean 'context'\?"),
        (lambda: DynamicModule(object, provider=[]), r"unknown option 'provider' in DynamicModule\(\): did you mean 'providers'\?"),
        (lambda: inject(T, optinal=True), r"unknown option 'optinal' in inject\(\): did you mean 'optional'\?"),
        (
            lambda: c.register(T, use_factory=lambda a: a, inject=[{"token": "A", "optinal": True}]),
            r"unknown option 'optinal' in inject\[0\] of 'T': did you mean 'optional'\?",
        ),
        (
            lambda: module(process={"type": "service", "isolaton": "thread"})(type("Users", (), {})),
            r"unknown option 'isolaton' in process of module 'Users': did you mean 'isolation'\?",
        ),
    ]
    for call, pattern in cases:
        with pytest.raises(InvalidArgumentError, match=pattern):
            call()
    assert not c.has(T)


def test_omnitron_create_refuses_unknown_keywords() -> None:
    @module()
    class App:
        pass

    with pytest.raises(InvalidArgumentError, match=r"unknown option 'contex' in Omnitron.create\(\): did you mean 'context'\?"):
        run(Omnitron.create(App, contex=1))  # type: ignore[call-arg]


def test_module_takes_its_name_positionally_and_works_bare() -> None:
    @module("users", providers=[provide("n", use_value=1)], exports=[])
    class UsersModule:
        pass

    @module
    class Empty:
        pass

    @module(name="kw")
    class Keyword:
        pass

    c = Container()
    c.load_module(Empty)
    c.load_module(Keyword)
    c.load_module(UsersModule)
    with pytest.raises(NotExportedError, match="module 'users'"):
        c.resolve("n")
    with pytest.raises(InvalidArgumentError):
        module(5)  # type: ignore[call-overload]


def test_a_class_whose_init_takes_no_parameters_needs_no_decorator() -> None:
    log = []

    class Clock:
        def now(self) -> int:
            return 42

        def on_init(self) -> None:
            log.append("clock")

    class WithDefaults:
        def __init__(self, retries: int = 3) -> None:
            self.retries = retries

    class Hinted:
        def __init__(self, clock: Clock) -> None:
            self.clock = clock

    c = Container()
    c.register(Clock)
    c.register(WithDefaults)
    c.register(Hinted)
    assert c.resolve(Hinted).clock.now() == 42
    assert c.resolve(WithDefaults).retries == 3
    run(c.initialize())
    assert log == ["clock"]

    @module(providers=[Clock])
    class M:
        pass

    app = run(Omnitron.create(M))
    assert app.get(Clock).now() == 42


def test_a_class_with_parameters_and_no_metadata_is_refused_naming_it() -> None:
    URL = create_token("Url")

    class Plain:
        def __init__(self, a, b):  # type: ignore[no-untyped-def]
            self.a, self.b = a, b

    c = Container()
    with pytest.raises(InvalidProviderError, match=r"class 'Plain' takes parameters but has no injection metadata \(parameter 'a' has no type hint\).*explicit inject list"):
        c.register(Plain)
    c.register(URL, use_value="pg://")
    c.register(Plain, use_class=Plain, inject=[URL, URL])
    assert c.resolve(Plain).b == "pg://"

    class Marked:
        def __init__(self, url: Inject[URL]) -> None:
            self.url = url

    c.register(Marked)
    assert c.resolve(Marked).url == "pg://"


def test_module_controllers_are_providers_built_and_injected() -> None:
    built = []

    class UsersService:
        def find(self) -> str:
            return "ada"

    class UsersController:
        def __init__(self, users: UsersService) -> None:
            self.users = users
            built.append(self)

    @module(controllers=[UsersController], providers=[UsersService], exports=[UsersService])
    class UsersModule:
        pass

    app = run(Omnitron.create(UsersModule))
    assert len(built) == 1, "initialize() built it"
    assert app.get(UsersController).users.find() == "ada"

    @module(controllers=["nope"])
    class Bad:
        pass

    with pytest.raises(InvalidModuleError, match="lists 'nope' as a controller"):
        Container().load_module(Bad)


def test_module_process_is_checked_and_recorded_not_acted_upon() -> None:
    class Worker:
        pass

    @module(providers=[Worker], process={"type": "service", "instances": "auto", "isolation": "thread"})
    class UsersModule:
        pass

    @module(process={"type": "worker", "instances": 4, "isolation": "process"})
    class Workers:
        pass

    app = run(Omnitron.create(UsersModule))
    assert isinstance(app.get(Worker), Worker), "runs in this process"
    run(Omnitron.create(Workers))
    bad: list[tuple[Any, type, str]] = [
        ({"type": "daemon"}, InvalidModuleError, "module 'M': process.type 'daemon' is not one of 'main', 'gateway', 'service', 'worker', 'scheduler', 'queue'"),
        ({"instances": 0}, InvalidModuleError, "process.instances must be 'auto' or a whole number of at least 1, got 0"),
        ({"instances": "many"}, InvalidModuleError, "got many"),
        ({"isolation": "fiber"}, InvalidModuleError, "process.isolation must be 'thread' or 'process', got 'fiber'"),
        ({"type": 7}, InvalidArgumentError, "process of module 'M': type must be a string, got int 7"),
        ({"instances": 1.5}, InvalidArgumentError, "instances must be an int or 'auto'"),
        ({"instances": True}, InvalidArgumentError, "instances must be an int or 'auto'"),
        ("service", InvalidArgumentError, "process of module 'M' must be a dict"),
    ]
    for process, error, text in bad:
        with pytest.raises(error) as e:
            module("M", process=process)(type("M", (), {}))
        assert text in str(e.value), str(e.value)


def test_close_and_async_context_managers_and_dispose_deprecated() -> None:
    log = []

    class Res:
        def on_destroy(self) -> None:
            log.append("closed")

    async def main() -> None:
        async with Container() as c:
            c.register("r", use_factory=Res)
            c.resolve("r")
            async with c.create_scope() as s:
                assert isinstance(s, ContainerScope)
        assert c.disposed
        c2 = Container()
        with pytest.warns(DeprecationWarning, match=r"use close\(\)"):
            await c2.dispose()
        s2 = Container().create_scope()
        with pytest.warns(DeprecationWarning, match=r"use close\(\)"):
            await s2.dispose()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(main())
    assert log == ["closed"]
