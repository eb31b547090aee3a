"""Omnitron for Python: the Rust engine with Pythonic decorators.

::

    from omnitron import Container, injectable

    @injectable
    class Repo: ...

    @injectable
    class Service:
        def __init__(self, repo: Repo) -> None:
            self.repo = repo

    c = Container()
    c.register(Repo)
    c.register(Service)
    c.resolve(Service)
"""

from . import _native
from .app import Omnitron, OmnitronApp
from .di import (
    CONTEXT,
    Container,
    DynamicModule,
    Inject,
    Provide,
    Scope,
    Token,
    create_token,
    inject,
    inject_all,
    injectable,
    module,
    provide,
)
from .errors import OmnitronError

__version__: str = _native.version()

__all__ = [
    "CONTEXT",
    "Container",
    "DynamicModule",
    "Inject",
    "Omnitron",
    "OmnitronApp",
    "OmnitronError",
    "Provide",
    "Scope",
    "Token",
    "create_token",
    "inject",
    "inject_all",
    "injectable",
    "module",
    "provide",
]
