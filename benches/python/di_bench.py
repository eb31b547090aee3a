"""DI resolve cost through the omnitron package, side by side with dependency-injector and injector,
in one run: resolving a singleton, and a transient class with two (singleton) dependencies."""

from __future__ import annotations

import sys

import injector as inj
from dependency_injector import containers, providers

import omnitron
from harness import Case, report, run


# ---- omnitron ---------------------------------------------------------------------------------
@omnitron.injectable
class OConfig:
    url = "db://bench"


@omnitron.injectable
class ORepo:
    def __init__(self, config: OConfig) -> None:
        self.config = config


@omnitron.injectable(scope="transient")
class OService:
    def __init__(self, config: OConfig, repo: ORepo) -> None:
        self.config = config
        self.repo = repo


oc = omnitron.Container()
oc.register(OConfig)
oc.register(ORepo)
oc.register(OService)


# ---- dependency-injector ----------------------------------------------------------------------
class DConfig:
    url = "db://bench"


class DRepo:
    def __init__(self, config: DConfig) -> None:
        self.config = config


class DService:
    def __init__(self, config: DConfig, repo: DRepo) -> None:
        self.config = config
        self.repo = repo


class DContainer(containers.DeclarativeContainer):
    config = providers.Singleton(DConfig)
    repo = providers.Singleton(DRepo, config=config)
    service = providers.Factory(DService, config=config, repo=repo)


dc = DContainer()


# ---- injector ---------------------------------------------------------------------------------
@inj.singleton
class IConfig:
    url = "db://bench"


@inj.singleton
class IRepo:
    @inj.inject
    def __init__(self, config: IConfig) -> None:
        self.config = config


class IService:
    @inj.inject
    def __init__(self, config: IConfig, repo: IRepo) -> None:
        self.config = config
        self.repo = repo


ic = inj.Injector()


def sanity() -> None:
    for name, single, trans in (
        ("omnitron", lambda: oc.resolve(OConfig), lambda: oc.resolve(OService)),
        ("dependency-injector", dc.config, dc.service),
        ("injector", lambda: ic.get(IConfig), lambda: ic.get(IService)),
    ):
        a = single()
        assert a is single() and a.url == "db://bench", name
        s1, s2 = trans(), trans()
        assert s1 is not s2 and s1.repo is s2.repo and s1.config is a, name


sanity()
results = run(
    [
        Case("singleton", "omnitron", lambda: oc.resolve(OConfig)),
        Case("singleton", "dependency-injector", lambda: dc.config()),
        Case("singleton", "injector", lambda: ic.get(IConfig), batch=5_000),
        Case("transient+2 deps", "omnitron", lambda: oc.resolve(OService)),
        Case("transient+2 deps", "dependency-injector", lambda: dc.service()),
        Case("transient+2 deps", "injector", lambda: ic.get(IService), batch=1_000),
    ]
)
report(f"DI resolve (CPython {sys.version.split()[0]})", results, "omnitron")
