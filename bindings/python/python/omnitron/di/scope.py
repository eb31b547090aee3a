"""Scope names: ``Scope.SINGLETON``, ``Scope.TRANSIENT``, ``Scope.SCOPED``, ``Scope.REQUEST``. The
class of a container's scopes is :class:`~omnitron.di.ContainerScope`."""

from __future__ import annotations

from enum import Enum
from typing import Any, Optional, Union

from .. import _native
from ..errors import InvalidArgumentError
from .tokens import describe


class Scope(str, Enum):
    """How long an instance lives. A ``str`` enum: each member is also its name, so
    ``scope=Scope.TRANSIENT`` and ``scope="transient"`` mean the same everywhere a scope is taken.

    - ``SINGLETON``: one per container (the default).
    - ``TRANSIENT``: a new one every resolve.
    - ``SCOPED`` / ``REQUEST``: one per scope (``container.create_scope(context)``).
    """

    SINGLETON = "singleton"
    TRANSIENT = "transient"
    SCOPED = "scoped"
    REQUEST = "request"

    def __str__(self) -> str:
        return self.value


#: A scope given as a member of :class:`Scope` or as its name.
ScopeName = Union[Scope, str]

#: Marks an argument that was not given (so ``scope=None`` can be told from no ``scope``).
UNSET: Any = object()


def scope_value(scope: Any, where: str) -> Optional[str]:
    """The scope's name for the engine, or ``None`` when ``scope`` was not given. ``None`` given
    explicitly (or anything that is not a scope) is refused with E001; an unknown name with DI014."""
    if scope is UNSET:
        return None
    if isinstance(scope, Scope):
        return scope.value
    if not isinstance(scope, str):
        raise InvalidArgumentError(
            f"{where}: scope is {describe(scope)}; expected Scope.SINGLETON, Scope.TRANSIENT, Scope.SCOPED or "
            f"Scope.REQUEST (or 'singleton', 'transient', 'scoped', 'request')"
            + ("; leave it out for the default (singleton)" if scope is None else "")
        )
    _native.check_scope(scope)
    return scope


__all__ = ["Scope", "ScopeName", "scope_value"]
