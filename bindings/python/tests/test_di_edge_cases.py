"""Edge cases found in review: runtime loops, awaitable-returning hooks and factories, threads,
defaults, dispose racing builds, failed bootstraps."""

import asyncio
import threading
import time
from typing import Any, Optional

import pytest

from conftest import run
from omnitron import Container, Inject, Omnitron, create_token, inject, injectable, module, provide
from omnitron.errors import (
    AsyncResolutionError,
    CircularDependencyError,
    ContainerDisposedError,
    DependencyTooDeepError,
    InvalidProviderError,
    LifecycleError,
    MissingProviderError,
    OmnitronError,
)


def test_a_factory_resolving_its_own_token_is_a_loop_error() -> None:
    A, B = create_token("A"), create_token("B")
    c = Container()
    c.register(A, use_factory=lambda: c.resolve(B) + 1, scope="transient")
    c.register(B, use_factory=lambda: c.resolve(A) + 1, scope="transient")
    with pytest.raises(CircularDependencyError, match=r"at run time.*A -> B -> A"):
        c.resolve(A)
    c.register("D", use_value=4)
    assert c.resolve("D") == 4, "the container still works"


def test_an_async_hook_resolving_its_own_provider_gets_the_instance_not_a_hang() -> None:
    seen = []

    @injectable
    class Selfish:
        async def on_init(self) -> None:
            seen.append(await c.resolve_async(Selfish) is self)

    c = Container()
    c.register(Selfish)

    async def main() -> None:
        await asyncio.wait_for(c.initialize(), timeout=5)

    run(main())
    assert seen == [True]


def test_a_plain_def_factory_returning_a_coroutine_is_awaited_by_resolve_async() -> None:
    calls = []
    Conn = create_token("Conn")

    async def connect() -> str:
        calls.append(1)
        return "connected"

    c = Container()
    c.register(Conn, use_factory=lambda: connect())
    with pytest.raises(AsyncResolutionError, match="resolve_async"):
        c.resolve(Conn)
    assert run(c.resolve_async(Conn)) == "connected"
    assert c.resolve(Conn) == "connected"


def test_a_def_on_init_returning_a_coroutine_is_awaited_by_initialize() -> None:
    log = []

    async def connect() -> None:
        log.append("connected")

    @injectable
    class Pool:
        def on_init(self) -> Any:
            return connect()

    c = Container()
    c.register(Pool)
    run(c.initialize())
    assert log == ["connected"]
    assert isinstance(c.resolve(Pool), Pool)


def test_factory_built_singletons_get_on_init_too_from_initialize() -> None:
    log = []

    class Res:
        def on_init(self) -> None:
            log.append("init")

        def on_destroy(self) -> None:
            log.append("destroy")

    R = create_token("Res")
    c = Container()
    c.register(R, use_factory=Res)
    c.resolve(R)
    assert log == []
    run(c.initialize())
    run(c.close())
    assert log == ["init", "destroy"]


def test_singletons_are_built_once_across_threads() -> None:
    calls = []

    @injectable
    class Slow:
        def __init__(self) -> None:
            time.sleep(0.02)
            calls.append(1)

    c = Container()
    c.register(Slow)
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(c.resolve(Slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(g is got[0] for g in got)


def test_registering_while_resolving_from_other_threads() -> None:
    c = Container()
    c.register("base", use_value=0)
    errors: list[BaseException] = []

    def resolver() -> None:
        for _ in range(2_000):
            try:
                c.resolve("base")
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

    def registrar() -> None:
        for i in range(200):
            c.register(f"t{i}", use_value=i)

    threads = [threading.Thread(target=resolver) for _ in range(3)] + [threading.Thread(target=registrar)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert c.resolve("t199") == 199


def test_a_parameter_default_is_kept_when_nothing_provides_it() -> None:
    class Clock:
        pass

    DEFAULT = Clock()

    @injectable
    class Uses:
        def __init__(self, clock: Clock = DEFAULT) -> None:
            self.clock = clock

    c = Container()
    c.register(Uses)
    assert c.resolve(Uses).clock is DEFAULT
    other = Clock()
    c2 = Container()
    c2.register(Clock, use_value=other)
    c2.register(Uses)
    assert c2.resolve(Uses).clock is other


def test_typing_any_is_refused_at_registration() -> None:
    @injectable
    class Vague:
        def __init__(self, s: Any) -> None:
            self.s = s

    with pytest.raises(InvalidProviderError, match="parameter 's' of 'Vague'.*Any"):
        Container().register(Vague)


def test_a_class_as_a_value_is_not_destroyed_as_an_instance() -> None:
    class Closeable:
        def on_destroy(self) -> None:
            raise AssertionError("called on the class")

    c = Container()
    c.register("cls", use_value=Closeable)
    assert c.resolve("cls") is Closeable
    run(c.close())


def test_an_instance_finished_after_dispose_is_destroyed_and_reported() -> None:
    log = []

    @injectable
    class Slow:
        async def on_init(self) -> None:
            await c.close()

        def on_destroy(self) -> None:
            log.append("destroyed")

    c = Container()
    c.register(Slow)
    with pytest.raises(ContainerDisposedError):
        run(c.initialize())
    assert log == ["destroyed"]


def test_create_destroys_what_it_built_when_initialization_fails() -> None:
    log = []

    @injectable
    class Db:
        def on_init(self) -> None:
            log.append("db open")

        def on_destroy(self) -> None:
            log.append("db closed")

    @injectable
    class Svc:
        def __init__(self, db: Db) -> None:
            self.db = db

        def on_init(self) -> None:
            raise RuntimeError("svc broken")

    @module(providers=[Db, Svc])
    class App:
        pass

    with pytest.raises(LifecycleError, match="svc broken") as e:
        run(Omnitron.create(App))
    assert isinstance(e.value.__cause__, RuntimeError)
    assert log == ["db open", "db closed"]


def test_resolve_all_on_a_disposed_scope_is_refused() -> None:
    c = Container()
    c.register("P", use_factory=object, scope="scoped", multi=True)
    s = c.create_scope()
    run(s.close())
    with pytest.raises(ContainerDisposedError):
        s.resolve_all("P")


def test_chains_deeper_than_the_limit_are_refused() -> None:
    c = Container()
    tokens = [create_token(f"T{i}") for i in range(300)]
    c.register(tokens[299], use_value=0)
    for i in range(298, -1, -1):
        c.register(tokens[i], use_factory=lambda x: x + 1, inject=[tokens[i + 1]])
    with pytest.raises(DependencyTooDeepError, match="limit of 256") as e:
        c.resolve(tokens[0])
    assert e.value.code == "DI015"
    assert c.resolve(tokens[44]) == 255


def test_messages_speak_python() -> None:
    c = Container()
    c.register("Config", use_value=1)
    with pytest.raises(MissingProviderError, match="A different token named 'Config' is registered"):
        c.resolve(create_token("Config"))
    S = create_token("PerRequest")
    c.register(S, use_factory=object, scope="scoped")
    with pytest.raises(OmnitronError, match=r"container\.create_scope\(\)"):
        c.resolve(S)
    with pytest.raises(OmnitronError, match="override=True"):
        c.register("Config", use_value=2)


def test_the_type_checker_friendly_form() -> None:
    URL = create_token("Url")

    @injectable
    class Client:
        def __init__(self, url: str = inject(URL), name: Optional[str] = None) -> None:
            self.url, self.name = url, name

    c = Container()
    c.register(URL, use_value="pg://")
    c.register(Client)
    got = c.resolve(Client)
    assert (got.url, got.name) == ("pg://", None)
    _ = (Inject, provide)
