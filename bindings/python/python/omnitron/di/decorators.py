"""The DI decorators. They only record metadata on classes; the engine reads it when a class is
registered and decides everything else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Mapping, Optional, Sequence, TypeVar, Union, overload

from .. import _native
from .._options import check_options, checked_keywords
from ..errors import InvalidArgumentError
from .scope import UNSET, Scope, ScopeName, scope_value
from .tokens import describe

if TYPE_CHECKING:
    from typing import Annotated

T = TypeVar("T")
C = TypeVar("C", bound=type)

_INJECTABLE = "__omnitron_injectable__"
_MODULE = "__omnitron_module__"


@dataclass(frozen=True)
class InjectMarker:
    """What a constructor parameter asks for (see :func:`inject` and :class:`Inject`)."""

    token: Any
    optional: bool = False
    all: bool = False


@checked_keywords("inject()")
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
def injectable(*, scope: ScopeName = ...) -> Callable[[C], C]: ...


@checked_keywords("@injectable()")
def injectable(cls: Optional[C] = None, *, scope: ScopeName = UNSET) -> Union[C, Callable[[C], C]]:
    """Marks a class as a provider: ``@injectable`` or ``@injectable(scope=Scope.TRANSIENT)``.
    Constructor parameters are injected by their type hints. A class whose ``__init__`` takes no
    parameters, or whose parameters are all type-hinted, needs no decorator unless it sets a scope."""
    if cls is not None and not isinstance(cls, type):
        raise InvalidArgumentError(f"@injectable decorates classes, got {describe(cls)}")
    name = scope_value(scope, "@injectable()")

    def apply(c: C) -> C:
        if not isinstance(c, type):
            raise InvalidArgumentError(f"@injectable decorates classes, got {describe(c)}")
        setattr(c, _INJECTABLE, {} if name is None else {"scope": name})
        return c

    return apply(cls) if cls is not None else apply


@dataclass
class ModuleMeta:
    name: Optional[str] = None
    imports: Sequence[Any] = ()
    providers: Sequence[Any] = ()
    exports: Optional[Sequence[Any]] = None
    is_global: bool = False
    controllers: Sequence[Any] = ()
    #: The engine's form of ``process`` (checked), or None.
    process: Optional[dict[str, Optional[str]]] = None


@dataclass
class DynamicModule:
    """What a module's ``for_root(...)`` classmethod returns: the module plus extra providers."""

    module: type
    providers: Sequence[Any] = ()
    imports: Sequence[Any] = ()
    exports: Optional[Sequence[Any]] = None
    is_global: Optional[bool] = None
    name: Optional[str] = None
    controllers: Sequence[Any] = ()
    process: Optional[Mapping[str, Any]] = None


# An unknown keyword is E001 naming the nearest valid one, as everywhere else.
DynamicModule.__init__ = checked_keywords("DynamicModule()")(DynamicModule.__init__)  # type: ignore[method-assign]

_PROCESS_KEYS = ("type", "instances", "isolation")


def module_process(process: Any, module_name: str) -> Optional[dict[str, Optional[str]]]:
    """Checks a module's ``process`` (unknown keys and wrong types: E001; values: DI013, by the
    engine) and gives it in the engine's form."""
    if process is None:
        return None
    where = f"process of module '{module_name}'"
    if not isinstance(process, Mapping):
        raise InvalidArgumentError(f"{where} must be a dict, got {describe(process)}")
    check_options(process, _PROCESS_KEYS, where)

    def text(key: str, allow_int: bool) -> Optional[str]:
        v = process.get(key)
        if v is None:
            return None
        if isinstance(v, str):
            return v
        if allow_int and isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        expected = "an int or 'auto'" if allow_int else "a string"
        raise InvalidArgumentError(f"{where}: {key} must be {expected}, got {describe(v)}")

    out = {"kind": text("type", False), "instances": text("instances", True), "isolation": text("isolation", False)}
    _native.check_module_process(module_name, out["kind"], out["instances"], out["isolation"])
    return out


def module_meta(target: object) -> Optional[ModuleMeta]:
    if isinstance(target, type):
        m = target.__dict__.get(_MODULE)
        return m if isinstance(m, ModuleMeta) else None
    return None


@overload
def module(name: C) -> C: ...
@overload
def module(
    name: Optional[str] = None,
    *,
    imports: Sequence[Any] = (),
    providers: Sequence[Any] = (),
    controllers: Sequence[Any] = (),
    exports: Optional[Sequence[Any]] = None,
    is_global: bool = False,
    process: Optional[Mapping[str, Any]] = None,
) -> Callable[[C], C]: ...


@checked_keywords("@module()")
def module(
    name: Any = None,
    *,
    imports: Sequence[Any] = (),
    providers: Sequence[Any] = (),
    controllers: Sequence[Any] = (),
    exports: Optional[Sequence[Any]] = None,
    is_global: bool = False,
    process: Optional[Mapping[str, Any]] = None,
) -> Any:
    """Declares a module: ``@module(imports=[...], providers=[...], exports=[...])``, with its name
    first when it is not the class's (``@module("users", ...)``). Omitting ``exports`` exports every
    provider; ``exports=[]`` none. ``controllers`` are classes registered as providers of the module.
    ``process`` (``type``, ``instances``, ``isolation``) is checked and recorded, not acted upon yet:
    the module runs in the process that loads it. ``@module`` alone declares an empty module."""
    if isinstance(name, type):
        return module()(name)
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentError(f"@module() takes the module's name first, got {describe(name)}")

    def apply(c: C) -> C:
        if not isinstance(c, type):
            raise InvalidArgumentError(f"@module decorates classes, got {describe(c)}")
        checked = module_process(process, name or c.__name__)
        setattr(c, _MODULE, ModuleMeta(name, imports, providers, exports, is_global, controllers, checked))
        return c

    return apply


@dataclass
class Provide:
    """A provider entry for a module's ``providers`` list (see :func:`provide`)."""

    token: Any
    kwargs: dict[str, Any] = field(default_factory=dict)


_PROVIDE_KEYS = ("use_class", "use_value", "use_factory", "use_existing", "inject", "scope", "multi", "override", "is_async")


def provide(token: Any, **kwargs: Any) -> Provide:
    """``provide(TOKEN, use_value=...)`` / ``use_class=`` / ``use_factory=..., inject=[...]`` /
    ``use_existing=``, with ``scope=``, ``multi=``, ``override=``, ``is_async=``: the same keywords
    as :meth:`Container.register`."""
    check_options(kwargs, _PROVIDE_KEYS, "provide()")
    return Provide(token, kwargs)


__all__ = [
    "Scope",
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
