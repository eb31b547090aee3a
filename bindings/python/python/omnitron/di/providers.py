"""Turning what users write (classes, ``register(token, use_factory=...)`` calls) into the engine's
provider specs, plus what only Python can hold: the class, the function, the value."""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from .. import _native
from .._options import check_keys
from ..errors import InvalidArgumentError, InvalidProviderError
from .decorators import InjectMarker, injectable_options
from .scope import UNSET, scope_value
from .tokens import describe, token_key, token_name

_C = _native.plan_codes()
KIND_CLASS: int = _C["kind_class"]
KIND_VALUE: int = _C["kind_value"]
KIND_FACTORY: int = _C["kind_factory"]
KIND_ALIAS: int = _C["kind_alias"]

_UNSET: Any = UNSET
_PRIMITIVES = (str, int, float, bool, bytes, list, dict, tuple, set, object)


@dataclass
class Entry:
    """One provider as the container keeps it."""

    token: Any
    spec: dict[str, Any]
    kind: int
    make: Any
    #: Constructor keyword names, in dependency order (for classes injected by keyword).
    names: tuple[str, ...] = ()
    #: Of those, the parameters with a default of their own (kept when nothing provides them).
    defaults: frozenset[str] = frozenset()


def _dep(marker: InjectMarker) -> dict[str, Any]:
    return {
        "token": token_key(marker.token),
        "name": token_name(marker.token),
        "optional": bool(marker.optional),
        "all": bool(marker.all),
    }


def _inject_entry(e: Any, owner: str, i: int) -> dict[str, Any]:
    if isinstance(e, InjectMarker):
        return _dep(e)
    if isinstance(e, (tuple, list)):
        raise InvalidProviderError(
            f"inject[{i}] of '{owner}' is a {type(e).__name__}; write inject({token_name(e[0]) if e else '...'}, optional=True) for an optional dependency"
        )
    if isinstance(e, dict) and "token" in e:
        check_keys(e.keys(), ("token", "optional", "all"), f"inject[{i}] of '{owner}'")
        return _dep(InjectMarker(e["token"], bool(e.get("optional")), bool(e.get("all"))))
    return _dep(InjectMarker(e))


def _is_async_callable(f: Any) -> bool:
    return inspect.iscoroutinefunction(f)


def _init_kind(cls_or_value: Any) -> str:
    hook = getattr(cls_or_value, "on_init", None)
    if hook is None or not callable(hook):
        return "none"
    return "async" if inspect.iscoroutinefunction(hook) else "sync"


def _unwrap_optional(ann: Any) -> tuple[Any, bool]:
    """``Optional[X]`` / ``X | None`` -> (X, True)."""
    origin = typing.get_origin(ann)
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is getattr(types, "UnionType")):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(ann)) == 2:
            return args[0], True
    return ann, False


def describe_type(ann: Any) -> str:
    if isinstance(ann, type) and not typing.get_args(ann):
        return ann.__name__
    return repr(ann).replace("typing.", "")


def _param_marker(cls: type, p: inspect.Parameter, hints: dict[str, Any], decorated: bool = True) -> Optional[InjectMarker]:
    owner = cls.__name__
    if isinstance(p.default, InjectMarker):
        return p.default
    ann = hints.get(p.name, p.annotation)
    if typing.get_origin(ann) is typing.Annotated:
        for extra in getattr(ann, "__metadata__", ()):
            if isinstance(extra, InjectMarker):
                return extra
        ann = typing.get_args(ann)[0]
    target, optional = _unwrap_optional(ann)
    if target is typing.Any:
        target = None
    if isinstance(target, type) and target not in _PRIMITIVES and target is not inspect.Parameter.empty:
        return InjectMarker(target, optional=optional or p.default is not inspect.Parameter.empty)
    if p.default is not inspect.Parameter.empty:
        return None  # a plain default: not injected
    what = "has no type hint" if ann is inspect.Parameter.empty else f"is typed {describe_type(ann)}"
    if not decorated and ann is inspect.Parameter.empty:
        raise InvalidProviderError(
            f"class '{owner}' takes parameters but has no injection metadata (parameter '{p.name}' has no type hint): "
            "annotate its parameters with injectable classes or Inject[TOKEN], give them inject(TOKEN) defaults, "
            "or register it with an explicit inject list. (A class whose __init__ takes no parameters needs no @injectable.)"
        )
    raise InvalidProviderError(
        f"cannot tell what to inject for parameter '{p.name}' of '{owner}' (it {what}): annotate it with an injectable class, Inject[TOKEN], or give it a default of inject(TOKEN)"
    )


def class_deps(
    cls: type, explicit: Optional[Sequence[Any]], decorated: bool = True
) -> tuple[list[dict[str, Any]], tuple[str, ...], frozenset[str]]:
    """What a class needs injected: an explicit ``inject`` list (positional), or its ``__init__``
    parameters (by keyword). ``decorated``: it has ``@injectable`` (only changes the message when a
    parameter says nothing)."""
    owner = cls.__name__
    if explicit is not None:
        if not isinstance(explicit, (list, tuple)):
            raise InvalidProviderError(f"inject of '{owner}' must be a list, got {describe(explicit)}")
        return [_inject_entry(e, owner, i) for i, e in enumerate(explicit)], (), frozenset()
    init: Any = getattr(cls, "__init__")
    if init is object.__init__:
        return [], (), frozenset()
    try:
        sig = inspect.signature(init)
    except (TypeError, ValueError) as e:
        raise InvalidProviderError(f"cannot read the constructor of '{owner}': {e}") from None
    try:
        hints = typing.get_type_hints(init, include_extras=True)
    except Exception as e:  # a forward reference that does not resolve
        raise InvalidProviderError(
            f"cannot read the type hints of '{owner}.__init__': {e}. Define the referenced classes at module level, or use Inject[TOKEN]"
        ) from None
    deps: list[dict[str, Any]] = []
    names: list[str] = []
    defaults: set[str] = set()
    # Positional when the injected parameters are exactly the leading ones (faster to call);
    # otherwise by keyword, so parameters left to their defaults keep them.
    positional = True
    for i, p in enumerate(sig.parameters.values()):
        if i == 0 or p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        marker = _param_marker(cls, p, hints, decorated)
        if marker is None:
            positional = False
            continue
        if p.kind is inspect.Parameter.POSITIONAL_ONLY and not positional:
            raise InvalidProviderError(
                f"parameter '{p.name}' of '{owner}' is positional-only and follows a parameter that is not injected"
            )
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            positional = False
        if p.default is not inspect.Parameter.empty and not isinstance(p.default, InjectMarker):
            # Keep the parameter's own default when nothing provides it: call by keyword.
            defaults.add(p.name)
            positional = False
        deps.append(_dep(marker))
        names.append(p.name)
    return deps, (() if positional else tuple(names)), frozenset(defaults)


def _flag(v: Any, key: str, token: Any) -> bool:
    if not isinstance(v, bool):
        raise InvalidArgumentError(f"{key} of '{token_name(token)}' must be a bool, got {describe(v)}")
    return v


def _base(token: Any, kind: str, scope: Any, multi: bool, override: bool) -> dict[str, Any]:
    scope = scope_value(scope, f"the provider of '{token_name(token)}'")
    return {
        "token": token_key(token),
        "name": token_name(token),
        "kind": kind,
        "target": None,
        "target_name": None,
        "scope": scope,
        "deps": [],
        "is_async": False,
        "init": "none",
        "multi": _flag(multi, "multi", token),
        "replace": _flag(override, "override", token),
        "label": None,
    }


def class_entry(cls: Any, *, scope: Any = UNSET, multi: bool = False, override: bool = False) -> Entry:
    if not isinstance(cls, type):
        raise InvalidProviderError(f"expected a class (an @injectable class, or one whose __init__ takes no parameters), got {describe(cls)}")
    return _use_class(cls, cls, None, scope, multi, override)


def _use_class(token: Any, cls: Any, inject: Optional[Sequence[Any]], scope: Any, multi: bool, override: bool) -> Entry:
    if not isinstance(cls, type):
        raise InvalidProviderError(f"use_class of '{token_name(token)}' must be a class, got {describe(cls)}")
    opts = injectable_options(cls)
    deps, names, defaults = class_deps(cls, inject, opts is not None)
    spec = _base(token, "class", scope if scope is not UNSET else (opts or {}).get("scope", UNSET), multi, override)
    spec["deps"] = deps
    spec["init"] = _init_kind(cls)
    spec["label"] = cls.__name__
    return Entry(token, spec, KIND_CLASS, cls, names, defaults)


def provider_entry(
    token: Any,
    *,
    use_class: Any = _UNSET,
    use_value: Any = _UNSET,
    use_factory: Any = _UNSET,
    use_existing: Any = _UNSET,
    inject: Optional[Sequence[Any]] = None,
    scope: Any = UNSET,
    multi: bool = False,
    override: bool = False,
    is_async: Optional[bool] = None,
) -> Entry:
    token_key(token)  # validates
    given = [n for n, v in (("use_class", use_class), ("use_value", use_value), ("use_factory", use_factory), ("use_existing", use_existing)) if v is not _UNSET]
    if len(given) != 1:
        raise InvalidProviderError(
            f"the provider of '{token_name(token)}' needs exactly one of use_class, use_value, use_factory, use_existing"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if use_value is not _UNSET:
        spec = _base(token, "value", scope, multi, override)
        return Entry(token, spec, KIND_VALUE, use_value)
    if use_class is not _UNSET:
        return _use_class(token, use_class, inject, scope, multi, override)
    if use_factory is not _UNSET:
        if not callable(use_factory):
            raise InvalidProviderError(f"use_factory of '{token_name(token)}' must be callable, got {describe(use_factory)}")
        if inject is not None and not isinstance(inject, (list, tuple)):
            raise InvalidProviderError(f"inject of '{token_name(token)}' must be a list, got {describe(inject)}")
        spec = _base(token, "factory", scope, multi, override)
        spec["deps"] = [_inject_entry(e, token_name(token), i) for i, e in enumerate(inject or ())]
        spec["is_async"] = bool(is_async) if is_async is not None else _is_async_callable(use_factory)
        spec["label"] = getattr(use_factory, "__name__", "use_factory")
        return Entry(token, spec, KIND_FACTORY, use_factory)
    spec = _base(token, "alias", scope, multi, override)
    spec["target"] = token_key(use_existing)
    spec["target_name"] = token_name(use_existing)
    return Entry(token, spec, KIND_ALIAS, use_existing)
