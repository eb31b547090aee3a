"""Annotations as JSON Schema (for core to validate before the handler runs, and for OpenAPI), and
the functions that turn validated JSON into the annotated Python values.

pydantic v2 is used when a model needs it, and imported only then: a ``BaseModel`` annotation uses
the model's own schema and ``model_validate``; a dataclass uses ``pydantic.TypeAdapter`` when
pydantic is installed, else a schema and a builder made here from its fields (simple types, nested
dataclasses, lists, dicts, ``Optional``)."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import sys
import types
import typing
import uuid
from typing import Any, Callable, Optional, Union

NoneType = type(None)
_UNION_TYPES: tuple[Any, ...] = (Union, types.UnionType) if sys.version_info >= (3, 10) else (Union,)

_pydantic: Any = None


def pydantic() -> Any:
    """The pydantic module, or None when it is not installed (imported on first need)."""
    global _pydantic
    if _pydantic is None:
        try:
            import pydantic as module
        except ImportError:
            _pydantic = False
        else:
            _pydantic = module
    return _pydantic or None


class Invalid(Exception):
    """Input that does not fit its annotation: ``[(where, message), ...]``."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{w}: {m}" for w, m in errors))
        self.errors = errors


def is_model(tp: Any) -> bool:
    """A pydantic v2 model class (told without importing pydantic)."""
    return isinstance(tp, type) and hasattr(tp, "model_json_schema") and hasattr(tp, "model_validate")


def is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``Optional[X]`` / ``X | None`` as ``(X, True)``; anything else ``(tp, False)``."""
    if typing.get_origin(tp) in _UNION_TYPES:
        args = [a for a in typing.get_args(tp) if a is not NoneType]
        if len(args) < len(typing.get_args(tp)):
            return (args[0] if len(args) == 1 else Union[tuple(args)]), True
    return tp, False


SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    uuid.UUID: {"type": "string", "format": "uuid"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    datetime.time: {"type": "string", "format": "time"},
    decimal.Decimal: {"type": "number"},
}


def is_simple(tp: Any) -> bool:
    """A type a path, query or header value can be: str, int, float, bool, UUID, dates, Decimal,
    an Enum, a Literal (each possibly Optional)."""
    tp, _ = unwrap_optional(tp)
    return tp in SIMPLE or (isinstance(tp, type) and issubclass(tp, enum.Enum)) or typing.get_origin(tp) is typing.Literal


# ---- schemas ------------------------------------------------------------------------------------


def schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of ``tp``; models' definitions go into ``defs`` (the root's ``$defs``)."""
    if tp is Any or tp is object:
        return {}
    if tp is NoneType or tp is None:
        return {"type": "null"}
    if tp in SIMPLE:
        return dict(SIMPLE[tp])
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return schema_of(typing.get_args(tp)[0], defs)
    if origin in _UNION_TYPES:
        return {"anyOf": [schema_of(a, defs) for a in typing.get_args(tp)]}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(tp))}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if is_model(tp):
        s = tp.model_json_schema(ref_template="#/$defs/{model}")
        return _hoist(s, defs, tp.__name__)
    if is_dataclass_type(tp):
        p = pydantic()
        if p is not None:
            s = p.TypeAdapter(tp).json_schema(ref_template="#/$defs/{model}")
            return _hoist(s, defs, tp.__name__)
        return _dataclass_schema(tp, defs)
    if origin in (list, set, frozenset, tuple) or tp in (list, set, frozenset, tuple) or _is_abc(origin, "Sequence"):
        args = typing.get_args(tp)
        out: dict[str, Any] = {"type": "array"}
        if args and not (origin is tuple and len(args) != 2 and args[-1] is not Ellipsis):
            out["items"] = schema_of(args[0], defs)
        return out
    if origin is dict or tp is dict or _is_abc(origin, "Mapping"):
        args = typing.get_args(tp)
        out = {"type": "object"}
        if len(args) == 2 and args[1] is not Any:
            out["additionalProperties"] = schema_of(args[1], defs)
        return out
    return {}


def _is_abc(origin: Any, name: str) -> bool:
    import collections.abc

    abc = getattr(collections.abc, name)
    return isinstance(origin, type) and issubclass(origin, abc)


def _hoist(s: dict[str, Any], defs: dict[str, Any], name: str) -> dict[str, Any]:
    """A model's schema with its ``$defs`` moved to the root's."""
    defs.update(s.pop("$defs", {}))
    return s


def _dataclass_schema(tp: type, defs: dict[str, Any]) -> dict[str, Any]:
    name = tp.__name__
    if name not in defs:
        defs[name] = {}  # placed first: a dataclass that refers to itself
        hints = typing.get_type_hints(tp, include_extras=True)
        props: dict[str, Any] = {}
        required: list[str] = []
        for f in dataclasses.fields(tp):
            if not f.init:
                continue
            props[f.name] = schema_of(hints.get(f.name, Any), defs)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        s: dict[str, Any] = {"type": "object", "title": name, "properties": props}
        if required:
            s["required"] = required
        defs[name] = s
    return {"$ref": f"#/$defs/{name}"}


def root_schema(tp: Any) -> dict[str, Any]:
    """A schema to hand to core: ``tp``'s, with the definitions it refers to at its root."""
    defs: dict[str, Any] = {}
    s = schema_of(tp, defs)
    if set(s) == {"$ref"}:
        # A bare reference at the root: the definition itself (kept in $defs too, for what refers
        # to it).
        s = dict(defs[s["$ref"].rsplit("/", 1)[-1]])
    if defs:
        s["$defs"] = defs
    return s


# ---- building values from validated JSON ---------------------------------------------------------


def builder_of(tp: Any) -> Callable[[Any], Any]:
    """What turns JSON (already checked by core against ``schema_of(tp)``) into a ``tp``: a model's
    ``model_validate``, a dataclass built with pydantic's ``TypeAdapter`` or here; JSON as it is for
    ``dict``, ``list``, ``Any``. Raises :class:`Invalid` for what does not fit."""
    inner, _ = unwrap_optional(tp)
    if is_model(inner):
        validate = inner.model_validate

        def model(v: Any) -> Any:
            if v is None and inner is not tp:
                return None
            try:
                return validate(v)
            except ValueError as e:
                raise Invalid(_pydantic_errors(e)) from None

        return model
    if is_dataclass_type(inner) or _holds_models(inner):
        p = pydantic()
        if p is not None:
            validate_python = p.TypeAdapter(tp).validate_python

            def adapted(v: Any) -> Any:
                try:
                    return validate_python(v)
                except ValueError as e:
                    raise Invalid(_pydantic_errors(e)) from None

            return adapted
        return lambda v: _build(tp, v, "body")
    if inner in SIMPLE or (isinstance(inner, type) and issubclass(inner, enum.Enum)) or typing.get_origin(inner) is typing.Literal:
        c = coercer_of(tp)
        return lambda v: c(v, "body")
    return lambda v: v


def _holds_models(tp: Any) -> bool:
    return any(is_model(a) or is_dataclass_type(a) or _holds_models(a) for a in typing.get_args(tp))


def _pydantic_errors(e: Exception) -> list[tuple[str, str]]:
    errors = getattr(e, "errors", None)
    if not callable(errors):
        return [("body", str(e))]
    out = []
    for err in errors():
        loc = ".".join(str(x) for x in err.get("loc", ()))
        out.append(("body" + (f".{loc}" if loc else ""), str(err.get("msg", "invalid"))))
    return out


def _build(tp: Any, v: Any, where: str) -> Any:
    """JSON as ``tp`` without pydantic (dataclasses, lists, dicts, simple types)."""
    inner, optional = unwrap_optional(tp)
    if v is None:
        if optional or inner is Any:
            return None
        raise Invalid([(where, "a value is required")])
    if is_dataclass_type(inner):
        if not isinstance(v, dict):
            raise Invalid([(where, f"must be an object, got {type(v).__name__}")])
        hints = typing.get_type_hints(inner)
        kwargs: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        for f in dataclasses.fields(inner):
            if not f.init:
                continue
            if f.name in v:
                try:
                    kwargs[f.name] = _build(hints.get(f.name, Any), v[f.name], f"{where}.{f.name}")
                except Invalid as e:
                    errors.extend(e.errors)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                errors.append((f"{where}.{f.name}", "field required"))
        if errors:
            raise Invalid(errors)
        return inner(**kwargs)
    origin = typing.get_origin(inner)
    if origin in (list, set, frozenset, tuple) or inner in (list, set, frozenset, tuple):
        if not isinstance(v, list):
            raise Invalid([(where, f"must be an array, got {type(v).__name__}")])
        args = typing.get_args(inner)
        item = args[0] if args else Any
        items = [_build(item, x, f"{where}.{i}") for i, x in enumerate(v)]
        kind = origin or inner
        return items if kind is list else kind(items)
    if origin is dict or inner is dict:
        if not isinstance(v, dict):
            raise Invalid([(where, f"must be an object, got {type(v).__name__}")])
        args = typing.get_args(inner)
        if len(args) == 2 and args[1] is not Any:
            return {k: _build(args[1], x, f"{where}.{k}") for k, x in v.items()}
        return v
    if is_simple(inner):
        return coercer_of(inner)(v, where)
    return v


# ---- path, query and header values ---------------------------------------------------------------

_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))


def coercer_of(tp: Any) -> Callable[[Any, str], Any]:
    """What turns a path, query or header value (a string, or JSON core already coerced) into
    ``tp``; raises :class:`Invalid` naming ``where``."""
    inner, _ = unwrap_optional(tp)
    if typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    if inner is str or inner is Any:
        return lambda v, where: v if type(v) is str or inner is Any else str(v)
    if inner is int:

        def to_int(v: Any, where: str) -> Any:
            if type(v) is int:
                return v
            try:
                if isinstance(v, str):
                    return int(v.strip())
                if isinstance(v, float) and v.is_integer():
                    return int(v)
            except ValueError:
                pass
            raise Invalid([(where, f"must be an integer, got {v!r}")])

        return to_int
    if inner is float:

        def to_float(v: Any, where: str) -> Any:
            if type(v) is float or (type(v) is int):
                return float(v)
            try:
                if isinstance(v, str):
                    return float(v)
            except ValueError:
                pass
            raise Invalid([(where, f"must be a number, got {v!r}")])

        return to_float
    if inner is bool:

        def to_bool(v: Any, where: str) -> Any:
            if type(v) is bool:
                return v
            if isinstance(v, str):
                low = v.strip().lower()
                if low in _TRUE:
                    return True
                if low in _FALSE:
                    return False
            raise Invalid([(where, f"must be a boolean (true or false), got {v!r}")])

        return to_bool
    if typing.get_origin(inner) is typing.Literal:
        allowed = typing.get_args(inner)

        def to_literal(v: Any, where: str) -> Any:
            for a in allowed:
                if v == a or (isinstance(v, str) and not isinstance(a, str) and str(a) == v):
                    return a
            raise Invalid([(where, f"must be one of {list(allowed)}, got {v!r}")])

        return to_literal
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        members = inner

        def to_enum(v: Any, where: str) -> Any:
            try:
                return members(v)
            except ValueError:
                for m in members:
                    if str(m.value) == v:
                        return m
            raise Invalid([(where, f"must be one of {[m.value for m in members]}, got {v!r}")])

        return to_enum
    make: Callable[[Any], Any]
    if inner is uuid.UUID:
        make = uuid.UUID
    elif inner is datetime.datetime:
        make = _parse_datetime
    elif inner is datetime.date:
        make = datetime.date.fromisoformat
    elif inner is datetime.time:
        make = datetime.time.fromisoformat
    elif inner is decimal.Decimal:
        make = lambda v: decimal.Decimal(str(v))  # noqa: E731
    else:
        return lambda v, where: v
    name = SIMPLE[inner].get("format", inner.__name__)

    def to_type(v: Any, where: str) -> Any:
        if isinstance(v, inner):
            return v
        try:
            return make(v)
        except (ValueError, TypeError, decimal.InvalidOperation):
            raise Invalid([(where, f"must be a {name}, got {v!r}")]) from None

    return to_type


def _parse_datetime(v: Any) -> datetime.datetime:
    s = str(v)
    if s.endswith("Z"):  # Before 3.11 fromisoformat does not read "Z".
        s = s[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(s)


__all__ = ["Invalid", "builder_of", "coercer_of", "is_dataclass_type", "is_model", "is_simple", "pydantic", "root_schema", "schema_of", "unwrap_optional"]
