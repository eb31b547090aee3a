import asyncio
from typing import Optional

import pytest

from conftest import run
from omnitron import Container, Inject, create_token, inject, inject_all, injectable
from omnitron.errors import AsyncResolutionError, DuplicateProviderError, FactoryError, OmnitronError


class Config:
    url = "db://local"


@injectable
class Repo:
    def __init__(self, config: Config) -> None:
        self.config = config


@injectable(scope="transient")
class Service:
    def __init__(self, config: Config, repo: Repo) -> None:
        self.config = config
        self.repo = repo


def test_class_providers_get_dependencies_from_type_hints() -> None:
    c = Container()
    c.register(Config, use_value=Config())
    c.register(Repo)
    c.register(Service)
    s = c.resolve(Service)
    assert s.repo.config.url == "db://local"
    assert s.config is s.repo.config
    s2 = c.resolve(Service)
    assert s is not s2, "transient gives a new instance"
    assert s.repo is s2.repo, "the singleton repo is shared"


def test_a_singleton_factory_runs_once() -> None:
    calls = []
    T = create_token("Counter")
    c = Container()
    c.register(T, use_factory=lambda: calls.append(1) or len(calls))
    assert c.resolve(T) == 1
    assert c.resolve(T) == 1
    assert calls == [1]


def test_factories_get_their_inject_list_with_optional_entries() -> None:
    Url = create_token("Url")
    Cache = create_token("Cache")
    Client = create_token("Client")
    c = Container()
    c.register(Url, use_value="pg://x")
    c.register(Client, use_factory=lambda url, cache: (url, cache), inject=[Url, inject(Cache, optional=True)])
    assert c.resolve(Client) == ("pg://x", None)


def test_explicit_inject_markers_and_annotations() -> None:
    Url = create_token("Url")
    Name = create_token("Name")

    @injectable
    class Client:
        def __init__(self, url: Inject[Url], name: str = inject(Name), retries: int = 3) -> None:
            self.url, self.name, self.retries = url, name, retries

    c = Container()
    c.register(Url, use_value="pg://y")
    c.register(Name, use_value="client")
    c.register(Client)
    got = c.resolve(Client)
    assert (got.url, got.name, got.retries) == ("pg://y", "client", 3)


def test_optional_type_hints_are_optional_dependencies() -> None:
    class Cache:
        pass

    @injectable
    class UsesCache:
        def __init__(self, cache: Optional[Cache]) -> None:
            self.cache = cache

    c = Container()
    c.register(UsesCache)
    assert c.resolve(UsesCache).cache is None
    assert c.resolve_optional(Cache) is None


def test_aliases_give_the_same_instance_through_chains() -> None:
    Real, A, B = create_token("Real"), create_token("Alias"), create_token("Alias2")
    c = Container()
    c.register(Real, use_factory=object)
    c.register(A, use_existing=Real)
    c.register(B, use_existing=A)
    assert c.resolve(A) is c.resolve(Real)
    assert c.resolve(B) is c.resolve(Real)


def test_multi_providers_resolve_in_order_and_inject_as_lists() -> None:
    Plugins = create_token("Plugins")
    c = Container()
    for p in ["first", "second", "third"]:
        c.register(Plugins, use_value=p, multi=True)
    assert c.resolve_all(Plugins) == ["first", "second", "third"]
    assert c.resolve_many(Plugins) == ["first", "second", "third"]
    assert c.resolve(Plugins) == "first"
    assert c.resolve_all(create_token("None")) == []

    @injectable
    class Host:
        def __init__(self, plugins: list = inject_all(Plugins)) -> None:  # type: ignore[type-arg]
            self.plugins = plugins

    c.register(Host)
    assert c.resolve(Host).plugins == ["first", "second", "third"]


def test_duplicates_need_override_and_a_failed_registration_changes_nothing() -> None:
    Port = create_token("Port")
    c = Container()
    c.register(Port, use_value=80)
    with pytest.raises(DuplicateProviderError, match="override") as e:
        c.register(Port, use_value=81)
    assert e.value.code == "DI003"
    assert c.resolve(Port) == 80
    c.register(Port, use_value=8080, override=True)
    assert c.resolve(Port) == 8080


def test_async_factories_need_resolve_async() -> None:
    Conn, Len = create_token("Conn"), create_token("UsesConn")

    async def connect() -> str:
        await asyncio.sleep(0.001)
        return "connected"

    c = Container()
    c.register(Conn, use_factory=connect)
    c.register(Len, use_factory=len, inject=[Conn])
    with pytest.raises(AsyncResolutionError, match="resolve_?[Aa]sync"):
        c.resolve(Conn)
    with pytest.raises(AsyncResolutionError, match="depends on async provider 'Conn'"):
        c.resolve(Len)
    assert run(c.resolve_async(Len)) == 9
    assert c.resolve(Conn) == "connected"


def test_concurrent_resolve_async_runs_the_factory_once() -> None:
    calls = []
    Db = create_token("Db")

    async def make() -> int:
        await asyncio.sleep(0.005)
        calls.append(1)
        return len(calls)

    c = Container()
    c.register(Db, use_factory=make)

    async def main() -> list:  # type: ignore[type-arg]
        return list(await asyncio.gather(c.resolve_async(Db), c.resolve_async(Db), c.resolve_async(Db)))

    assert asyncio.run(main()) == [1, 1, 1]
    assert calls == [1]


def test_a_factory_error_is_di011_naming_the_token_from_the_factory_error() -> None:
    Broken = create_token("Broken")
    cause = RuntimeError("disk on fire")

    def boom() -> None:
        raise cause

    c = Container()
    c.register(Broken, use_factory=boom)
    with pytest.raises(FactoryError, match="the factory of 'Broken' failed: RuntimeError: disk on fire") as e:
        c.resolve(Broken)
    assert e.value.__cause__ is cause


def test_same_name_different_tokens_and_strings_are_their_own_identity() -> None:
    a, b = create_token("Config"), create_token("Config")
    c = Container()
    c.register(a, use_value=1)
    c.register(b, use_value=2)
    c.register("CONFIG", use_value=3)
    assert (c.resolve(a), c.resolve(b), c.resolve("CONFIG"), c.resolve("".join(["CON", "FIG"]))) == (1, 2, 3, 3)


def test_has_and_export_graph() -> None:
    c = Container()
    c.register(Config, use_value=Config())
    c.register(Repo)
    assert c.has(Repo) and not c.has(Service)
    g = c.export_graph()
    assert len(g["nodes"]) == 2 and len(g["edges"]) == 1
    assert c.export_graph("mermaid").startswith("graph TD")
    with pytest.raises(OmnitronError) as e:
        c.export_graph("svg")
    assert e.value.code == "E001"
