"""Collecting a module tree for the engine: every module reachable from the root, with providers,
imports and exports. The engine checks it (loops, unknown exports, duplicates)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from .. import _native
from ..errors import InvalidModuleError, InvalidProviderError, OmnitronError
from .decorators import DynamicModule, ModuleMeta, Provide, module_meta, module_process
from .providers import Entry, class_entry, provider_entry
from .tokens import describe, token_key, token_name

_MODULE_KEY = "__omnitron_module_key__"


def _key(ref: Any) -> int:
    """A module's identity, kept on the class (or dynamic module object) itself."""
    own = ref.__dict__ if isinstance(ref, type) else getattr(ref, "__dict__", {})
    k = own.get(_MODULE_KEY)
    if isinstance(k, int):
        return k
    k = _native.fresh_module_key()
    if isinstance(ref, type):
        type.__setattr__(ref, _MODULE_KEY, k)
    else:
        object.__setattr__(ref, _MODULE_KEY, k)
    return k


def _resolve(ref: Any, importer: Optional[str]) -> tuple[str, ModuleMeta]:
    where = "" if importer is None else f" (imported by '{importer}')"
    if isinstance(ref, DynamicModule):
        base = module_meta(ref.module) or ModuleMeta()
        name = ref.name or base.name or ref.module.__name__
        for field, value in (("imports", ref.imports), ("providers", ref.providers), ("controllers", ref.controllers)):
            if not isinstance(value, (list, tuple)):
                raise InvalidModuleError(f"{field} of module '{name}' must be a list, got {describe(value)}")
        exports = None if ref.exports is None and base.exports is None else [*(base.exports or ()), *(ref.exports or ())]
        return (
            name,
            ModuleMeta(
                name=ref.name,
                imports=[*base.imports, *ref.imports],
                providers=[*base.providers, *ref.providers],
                exports=exports,
                is_global=ref.is_global if ref.is_global is not None else base.is_global,
                controllers=[*base.controllers, *ref.controllers],
                process=module_process(ref.process, name) if ref.process is not None else base.process,
            ),
        )
    meta = module_meta(ref)
    if meta is None:
        if ref is None:
            raise InvalidModuleError(f"a module is None{where}: is it defined yet (a circular import)?")
        raise InvalidModuleError(f"{describe(ref)} is not a module{where}: decorate it with @module(...)")
    return meta.name or ref.__name__, meta


def _provider(p: Any, module_name: str) -> Entry:
    if isinstance(p, type):
        return class_entry(p)
    if isinstance(p, Provide):
        try:
            return provider_entry(p.token, **p.kwargs)
        except OmnitronError as e:
            e.message = f"in module '{module_name}': {e.message}"
            e.args = (e.message,)
            raise
    raise InvalidProviderError(
        f"module '{module_name}' lists {describe(p)} as a provider: expected an @injectable class or provide(token, ...)"
    )


def _is_module(x: Any) -> bool:
    return isinstance(x, DynamicModule) or module_meta(x) is not None


def collect_modules(
    root: Any, is_loaded: Callable[[int], bool], swap: Optional[Callable[[Any], Any]] = None
) -> tuple[int, list[dict[str, Any]], list[list[Entry]]]:
    """Every module reachable from ``root`` not loaded yet, as specs for the engine, and their
    providers' entries. ``swap`` replaces modules wherever they are imported or re-exported (a
    testing module's ``override_module``)."""
    sub: Callable[[Any], Any] = swap or (lambda m: m)
    root = sub(root)
    _resolve(root, None)
    specs: list[dict[str, Any]] = []
    entries: list[list[Entry]] = []
    seen: set[int] = set()
    stack: list[tuple[Any, Optional[str]]] = [(root, None)]
    while stack:
        ref, importer = stack.pop()
        name, meta = _resolve(ref, importer)
        key = _key(ref)
        if key in seen or is_loaded(key):
            continue
        seen.add(key)
        for field, value in (("imports", meta.imports), ("providers", meta.providers), ("controllers", meta.controllers)):
            if not isinstance(value, (list, tuple)):
                raise InvalidModuleError(f"{field} of module '{name}' must be a list, got {describe(value)}")
        module_entries = [_provider(p, name) for p in meta.providers]
        for c in meta.controllers:
            if not isinstance(c, type):
                raise InvalidModuleError(f"module '{name}' lists {describe(c)} as a controller: controllers are classes")
            module_entries.append(class_entry(c))
        exports: Optional[list[dict[str, Any]]] = None
        if meta.exports is not None:
            if not isinstance(meta.exports, (list, tuple)):
                raise InvalidModuleError(f"exports of module '{name}' must be a list, got {describe(meta.exports)}")
            exports = [
                {"module": _key(sub(x)), "token": None, "name": None}
                if _is_module(x)
                else {"module": None, "token": token_key(x), "name": token_name(x)}
                for x in meta.exports
            ]
        imports = []
        imported = [sub(i) for i in meta.imports]
        for i in imported:
            _resolve(i, name)
            imports.append(_key(i))
        specs.append(
            {
                "key": key,
                "name": name,
                "imports": imports,
                "providers": [e.spec for e in module_entries],
                "exports": exports,
                "global_": bool(meta.is_global),
                "process": meta.process,
            }
        )
        entries.append(module_entries)
        for i in imported:
            stack.append((i, name))
    return _key(root), specs, entries
