"""The DI decorators. They only record metadata on classes; the engine reads it when a class is
registered and decides everything else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, Sequence, TypeVar, Union, overload

from ..errors import InvalidArgumentError
from .tokens import describe

if TYPE_CHECKING:
    from typing import Annotated

T = TypeVar("T")
C = TypeVar("C", bound=type)

ScopeName = str  # "singleton" | "transient" | "scoped" | "request"

_INJECTABLE = "__omnitron_injectable__"
_MODULE = "__omnitron_module__"


@dataclass(frozen=True)
class InjectMarker:
    """What a constructor parameter asks for (see :func:`inject` and :class:`Inject`)."""

    token: Any
    optional: bool = False
    all: bool = False


def inject(token: Any, *, optional: bool = False) -> Any:
    """Marks a constructor parameter: ``def __init__(self, db=inject(DB_TOKEN))``."""
    if token is None:
        raise InvalidArgumentError("inject() was given None: is the token defined yet?")
    return InjectMarker(token, optional=optional)


def inject_all(token: Any) -> Any:
    """Marks a parameter that receives every provider of a multi token, as a list."""
    if token is None:
        raise InvalidArgumentError("inject_all() was given None: is the token defined yet?")
    return InjectMarker(token, all=True)


class Inject(Generic[T]):
    """``Inject[TOKEN]`` as a parameter annotation injects ``TOKEN``:

    ``def __init__(self, url: Inject[DATABASE_URL]) -> None``.
    """

    def __class_getitem__(cls, token: Any) -> Any:
        from typing import Annotated

        return Annotated[Any, InjectMarker(token)]


def injectable_options(cls: type) -> Optional[dict[str, Any]]:
    """The options of ``@injectable`` on exactly this class (not inherited)."""
    opts = cls.__dict__.get(_INJECTABLE)
    return opts if isinstance(opts, dict) else None


@overload
def injectable(cls: C) -> C: ...
@overload
def injectable(*, scope: ScopeName = "singleton") -> Callable[[C], C]: ...


def injectable(cls: Optional[C] = None, *, scope: ScopeName = "singleton") -> Union[C, Callable[[C], C]]:
    """Marks a class as a provider: ``@injectable`` or ``@injectable(scope="transient")``.
    Constructor parameters are injected by their type hints."""
    if cls is not None and not isinstance(cls, type):
        raise InvalidArgumentError(f"@injectable decorates classes, got {describe(cls)}")
    if not isinstance(scope, str):
        raise InvalidArgumentError(f"scope must be a string, got {describe(scope)}")

    def apply(c: C) -> C:
        if not isinstance(c, type):
            raise InvalidArgumentError(f"@injectable decorates classes, got {describe(c)}")
        setattr(c, _INJECTABLE, {"scope": scope})
        return c

    return apply(cls) if cls is not None else apply


@dataclass
class ModuleMeta:
    name: Optional[str] = None
    imports: Sequence[Any] = ()
    providers: Sequence[Any] = ()
    exports: Optional[Sequence[Any]] = None
    is_global: bool = False


@dataclass
class DynamicModule:
    """What a module's ``for_root(...)`` classmethod returns: the module plus extra providers."""

    module: type
    providers: Sequence[Any] = ()
    imports: Sequence[Any] = ()
    exports: Optional[Sequence[Any]] = None
    is_global: Optional[bool] = None
    name: Optional[str] = None


def module_meta(target: object) -> Optional[ModuleMeta]:
    if isinstance(target, type):
        m = target.__dict__.get(_MODULE)
        return m if isinstance(m, ModuleMeta) else None
    return None


def module(
    *,
    imports: Sequence[Any] = (),
    providers: Sequence[Any] = (),
    exports: Optional[Sequence[Any]] = None,
    is_global: bool = False,
    name: Optional[str] = None,
) -> Callable[[C], C]:
    """Declares a module. Omitting ``exports`` exports every provider; ``exports=[]`` none."""

    def apply(c: C) -> C:
        if not isinstance(c, type):
            raise InvalidArgumentError(f"@module decorates classes, got {describe(c)}")
        setattr(c, _MODULE, ModuleMeta(name, imports, providers, exports, is_global))
        return c

    return apply


@dataclass
class Provide:
    """A provider entry for a module's ``providers`` list (see :func:`provide`)."""

    token: Any
    kwargs: dict[str, Any] = field(default_factory=dict)


def provide(token: Any, **kwargs: Any) -> Provide:
    """``provide(TOKEN, use_value=...)`` / ``use_class=`` / ``use_factory=..., inject=[...]`` /
    ``use_existing=``, with ``scope=``, ``multi=``, ``override=``, ``is_async=``: the same keywords
    as :meth:`Container.register`."""
    return Provide(token, kwargs)


__all__ = [
    "Inject",
    "InjectMarker",
    "inject",
    "inject_all",
    "injectable",
    "module",
    "DynamicModule",
    "Provide",
    "provide",
]

if TYPE_CHECKING:  # pragma: no cover
    _ = Annotated
