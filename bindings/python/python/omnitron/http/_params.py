"""A handler's signature read once, as FastAPI reads it: where each parameter comes from, what
turns the request's JSON into its value, and the route's params, query and body JSON Schemas.

A parameter is, in this order: what its marker says (``Annotated[str, Header()]``, ``limit: int =
Query(10)``, ``Annotated[Claims, CURRENT_USER]``); the :class:`Request` (annotated ``Request``);
an :class:`UploadFile` (or a list of them); the :class:`Page`; a path parameter (named as one in
the route's path); the body (a pydantic model, a dataclass, a ``dict`` or ``list``); else a query
parameter (required unless it has a default)."""

from __future__ import annotations

import inspect
import re
import typing
from typing import Any, Callable, Optional

from ..errors import InvalidRouteError
from ._schema import Invalid, builder_of, coercer_of, is_dataclass_type, is_model, is_simple, root_schema, schema_of, unwrap_optional
from ._types import CURRENT_USER, Page, Param, Request, UploadFile, _CurrentUser

_MISSING: Any = inspect.Parameter.empty
_PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::path)?\}|^[:*]([A-Za-z_][A-Za-z0-9_]*)$")

Getter = Callable[[dict[str, Any]], Any]


def core_path(path: str) -> str:
    """FastAPI's ``{rest:path}`` as core's catch-all ``*rest``; the rest as written."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*):path\}", r"*\1", path)


def path_params(path: str) -> list[str]:
    names = []
    for seg in path.split("/"):
        m = _PATH_PARAM.search(seg)
        if m:
            names.append(m.group(1) or m.group(2))
    return names


class Plan:
    """How a handler is called: ``bind(env)`` gives its positional arguments and keyword
    arguments (raising :class:`Invalid` listing every parameter that does not fit)."""

    __slots__ = ("getters", "keywords", "params_schema", "query_schema", "body_schema", "response_schema", "upload_param")

    def __init__(self) -> None:
        self.getters: list[tuple[str, Getter]] = []
        self.keywords: list[tuple[str, Getter]] = []
        self.params_schema: Optional[dict[str, Any]] = None
        self.query_schema: Optional[dict[str, Any]] = None
        self.body_schema: Optional[dict[str, Any]] = None
        self.response_schema: Optional[dict[str, Any]] = None
        #: The name of the parameter taking an uploaded file, if one does.
        self.upload_param: Optional[str] = None

    def bind(self, env: dict[str, Any]) -> tuple[list[Any], Optional[dict[str, Any]]]:
        args: list[Any] = []
        errors: Optional[list[tuple[str, str]]] = None
        for _name, get in self.getters:
            try:
                args.append(get(env))
            except Invalid as e:
                errors = (errors or []) + e.errors
                args.append(None)
        kwargs: Optional[dict[str, Any]] = None
        if self.keywords:
            kwargs = {}
            for name, get in self.keywords:
                try:
                    kwargs[name] = get(env)
                except Invalid as e:
                    errors = (errors or []) + e.errors
        if errors:
            raise Invalid(errors)
        return args, kwargs


def plan(fn: Callable[..., Any], path: str, what: str, upload_field: Optional[str], paginated: bool = False) -> Plan:
    """Reads ``fn``'s signature (a bound method: ``self`` is not in it) for a route at ``path``."""
    try:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
    except (TypeError, ValueError, NameError) as e:
        raise InvalidRouteError(f"route {what}: its signature cannot be read ({e})") from None
    in_path = path_params(path)
    out = Plan()
    params: dict[str, Any] = {}
    query: dict[str, Any] = {}
    query_required: list[str] = []
    body: Optional[tuple[str, Any, bool]] = None
    for p in sig.parameters.values():
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise InvalidRouteError(f"route {what}: *{p.name} and **{p.name} parameters cannot be filled from a request")
        ann = hints.get(p.name, Any)
        marker: Any = None
        if typing.get_origin(ann) is typing.Annotated:
            base, *extras = typing.get_args(ann)
            marker = next((m for m in extras if isinstance(m, (Param, _CurrentUser))), None)
            ann = base
        default = p.default
        if isinstance(default, Param):
            marker, default = default, default.default
        required = default is _MISSING or default is Ellipsis
        kind = _kind(p.name, ann, marker, in_path)
        key = marker.alias if isinstance(marker, Param) and marker.alias else p.name
        where = {"path": "params", "query": "query", "header": "headers", "body": "body"}.get(kind, kind)
        label = f"{where}.{key}" if kind != "body" else "body"
        get: Getter
        if kind == "request":
            get = Request
        elif kind == "user":
            get = _user_getter(ann)
        elif kind == "page":
            if not paginated:
                raise InvalidRouteError(f"route {what}: parameter '{p.name}' takes the page: the route needs @paginated()")
            get = _page if not required or unwrap_optional(ann)[1] else _page_required
        elif kind == "file":
            out.upload_param = p.name
            get = _file_getter(upload_field or p.name, ann, default, required, label)
        elif kind == "path":
            if key not in in_path:
                raise InvalidRouteError(f"route {what}: parameter '{p.name}' is a path parameter but the path '{path}' has no {{{key}}}")
            _check_simple(ann, p.name, what, "a path parameter")
            params[key] = _describe(schema_of(unwrap_optional(ann)[0], {}), marker)
            get = _getter("params", key, coercer_of(ann), default, True, label)
        elif kind == "query":
            inner, nullable = unwrap_optional(ann)
            item = _list_item(inner)
            if item is not None:
                # A repeated key (`?tag=a&tag=b`), as FastAPI's `list[str] = Query()`.
                _check_simple(item, p.name, what, "a list query parameter's item")
                schema: dict[str, Any] = {"type": "array", "items": schema_of(unwrap_optional(item)[0], {})}
                coerce = _list_coercer(coercer_of(item))
            else:
                _check_simple(ann, p.name, what, "a query parameter")
                schema = schema_of(inner, {})
                coerce = coercer_of(ann)
            if nullable:
                # Core reads an empty value as null for it (`?after=`).
                schema = {"anyOf": [schema, {"type": "null"}]}
            query[key] = _describe(schema, marker)
            if required:
                query_required.append(key)
            get = _getter("query", key, coerce, default, required, label)
        elif kind == "header":
            _check_simple(ann, p.name, what, "a header")
            name = (marker.alias if marker.alias else p.name.replace("_", "-")).lower()
            get = _getter("headers", name, coercer_of(ann), default, required, f"headers.{name}")
        else:  # body
            if body is not None:
                raise InvalidRouteError(
                    f"route {what}: '{body[0]}' and '{p.name}' both take the body; a handler takes one body "
                    "(a model holding both, or a dict)"
                )
            body = (p.name, ann, required)
            get = _body_getter(ann, default, required)
        (out.keywords if p.kind == inspect.Parameter.KEYWORD_ONLY else out.getters).append((p.name, get))
    if params:
        out.params_schema = {"type": "object", "properties": params, "required": list(params)}
    if query:
        out.query_schema = {"type": "object", "properties": query}
        if query_required:
            out.query_schema["required"] = query_required
    # A text body (``str``) has no schema: core hands it over as text (or JSON, when it parses).
    if body is not None and body[1] is not Any and unwrap_optional(body[1])[0] is not str:
        s = root_schema(body[1])
        if s and not body[2] and not unwrap_optional(body[1])[1]:
            defs = s.pop("$defs", None)
            s = {"anyOf": [s, {"type": "null"}]}
            if defs:
                s["$defs"] = defs
        out.body_schema = s or None
    ret = hints.get("return", None)
    if ret is not None and _describes_a_model(ret):
        out.response_schema = root_schema(ret)
    return out


def _kind(name: str, ann: Any, marker: Any, in_path: list[str]) -> str:
    if isinstance(marker, _CurrentUser):
        return "user"
    if isinstance(marker, Param):
        return marker.kind
    inner, _ = unwrap_optional(ann)
    if inner is Request:
        return "request"
    if inner is UploadFile or (typing.get_origin(inner) is list and typing.get_args(inner) == (UploadFile,)):
        return "file"
    if inner is Page:
        return "page"
    if name in in_path:
        return "path"
    if inner is Any or is_simple(inner):
        return "query"
    return "body"


def _check_simple(ann: Any, name: str, what: str, role: str) -> None:
    if ann is not Any and not is_simple(ann):
        raise InvalidRouteError(
            f"route {what}: parameter '{name}' is {role}, which takes str, int, float, bool, UUID, a date, "
            f"an Enum or a Literal (optionally None), not {getattr(ann, '__name__', ann)}"
        )


def _list_item(tp: Any) -> Any:
    """The item type of ``list[X]`` (also ``set``, ``tuple[X, ...]``, ``Sequence[X]``), else None."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, set, frozenset) and len(args) == 1:
        return args[0]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _list_coercer(item: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    def to_list(v: Any, where: str) -> list[Any]:
        values = v if isinstance(v, list) else [v]
        out: list[Any] = []
        errors: list[tuple[str, str]] = []
        for i, x in enumerate(values):
            try:
                out.append(item(x, f"{where}.{i}"))
            except Invalid as e:
                errors.extend(e.errors)
        if errors:
            raise Invalid(errors)
        return out

    return to_list


def _describe(schema: dict[str, Any], marker: Any) -> dict[str, Any]:
    if isinstance(marker, Param) and marker.description:
        schema["description"] = marker.description
    return schema


def _describes_a_model(tp: Any) -> bool:
    inner, _ = unwrap_optional(tp)
    if is_model(inner) or is_dataclass_type(inner):
        return True
    return typing.get_origin(inner) in (list, tuple, set) and any(_describes_a_model(a) for a in typing.get_args(inner))


def _getter(section: str, key: str, coerce: Callable[[Any, str], Any], default: Any, required: bool, label: str) -> Getter:
    if required:

        def get_required(env: dict[str, Any]) -> Any:
            v = env[section].get(key)
            if v is None:
                raise Invalid([(label, "is required")])
            return coerce(v, label)

        return get_required

    def get_optional(env: dict[str, Any]) -> Any:
        v = env[section].get(key)
        return default if v is None else coerce(v, label)

    return get_optional


def _body_getter(ann: Any, default: Any, required: bool) -> Getter:
    build = builder_of(ann)
    nullable = unwrap_optional(ann)[1]

    def get(env: dict[str, Any]) -> Any:
        b = env["body"]
        if b is None:
            if required and not nullable:
                raise Invalid([("body", "a body is required")])
            return None if required else default
        return build(b)

    return get


def _user_getter(ann: Any) -> Getter:
    inner, _ = unwrap_optional(ann)
    if is_model(inner) or is_dataclass_type(inner):
        build = builder_of(ann)
        return lambda env: None if env.get("user") is None else build(env["user"])
    return lambda env: env.get("user")


def _page(env: dict[str, Any]) -> Optional[Page]:
    p = env.get("page")
    return Page(p["page"], p["limit"], p["offset"]) if p else None


def _page_required(env: dict[str, Any]) -> Page:
    p = _page(env)
    if p is None:
        raise Invalid([("page", "the request has no page")])
    return p


def _file_getter(field: str, ann: Any, default: Any, required: bool, label: str) -> Getter:
    many = typing.get_origin(unwrap_optional(ann)[0]) is list

    def get(env: dict[str, Any]) -> Any:
        files = [UploadFile._of(f) for f in env.get("files") or () if f.get("field") == field]
        if many:
            return files
        if files:
            return files[0]
        if required:
            raise Invalid([(f"files.{field}", "a file is required")])
        return default

    return get


__all__ = ["CURRENT_USER", "Plan", "core_path", "path_params", "plan"]
