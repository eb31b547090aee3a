"""The decorators of HTTP controllers. They only record what a route declares (core's ``RouteSpec``
keys, in Python's spelling); the app hands it to core, which checks it (an unknown key or a wrong
value is ``InvalidRouteError``, H006, naming the route)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, TypeVar, Union, overload

from ..errors import InvalidArgumentError

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
C = TypeVar("C", bound=type)

#: On a controller class: its path prefix and options for every route.
CONTROLLER = "__omnitron_controller__"
#: On a handler: ``[(method, path, options), ...]``.
ROUTES = "__omnitron_routes__"
#: On a handler or a controller class: what the decorators below declared.
DECLARED = "__omnitron_http__"
#: On a health indicator class.
INDICATOR = "__omnitron_health_indicator__"
#: On a health check method: ``(name, timeout)``.
CHECK = "__omnitron_health_check__"

#: Options whose values add up (class then method) instead of replacing.
_LISTS = ("roles", "permissions", "tags")


def _describe(x: Any) -> str:
    return getattr(x, "__qualname__", None) or type(x).__name__


# ---- controllers and routes -------------------------------------------------------------------


@overload
def controller(prefix: C, /) -> C: ...


@overload
def controller(prefix: str = "", /, **options: Any) -> Callable[[C], C]: ...


def controller(prefix: Union[str, type] = "", /, **options: Any) -> Any:
    """``@controller("users")``: a class whose ``@get`` / ``@post`` ... methods are routes under
    ``/users``. ``options`` (route keys such as ``tags=["users"]``) apply to each of its routes.
    Listed in a module's ``controllers``, it is built by the container (constructor injection)."""
    if isinstance(prefix, type):
        setattr(prefix, CONTROLLER, ("", {}))
        return prefix
    if not isinstance(prefix, str):
        raise InvalidArgumentError(f"@controller() takes a path prefix such as 'users', got {_describe(prefix)}")

    def apply(cls: C) -> C:
        if not isinstance(cls, type):
            raise InvalidArgumentError(f"@controller decorates classes, got {_describe(cls)}")
        setattr(cls, CONTROLLER, (prefix, dict(options)))
        return cls

    return apply


def route(method: str, path: str = "", **options: Any) -> Callable[[F], F]:
    """A route for ``method`` at ``path`` under the controller's prefix (``{id}`` is a path
    parameter, ``{rest:path}`` a catch-all); ``options`` are route keys (``status``, ``summary``,
    ``response_model``, ...)."""
    if not isinstance(path, str):
        raise InvalidArgumentError(f"@{method.lower()}() takes a path such as '/{{id}}', got {_describe(path)}")

    def apply(fn: F) -> F:
        if not callable(fn):
            raise InvalidArgumentError(f"@{method.lower()}() decorates methods, got {_describe(fn)}")
        routes = list(getattr(fn, ROUTES, ()))
        routes.append((method, path, dict(options)))
        setattr(fn, ROUTES, routes)
        return fn

    return apply


def get(path: str = "", **options: Any) -> Callable[[F], F]:
    """``@get("/{id}")``: answers GET (and HEAD) at ``path``."""
    return route("GET", path, **options)


def post(path: str = "", **options: Any) -> Callable[[F], F]:
    """``@post()``: answers POST (201 unless the handler or ``@response_status`` says otherwise)."""
    return route("POST", path, **options)


def put(path: str = "", **options: Any) -> Callable[[F], F]:
    return route("PUT", path, **options)


def patch(path: str = "", **options: Any) -> Callable[[F], F]:
    return route("PATCH", path, **options)


def delete(path: str = "", **options: Any) -> Callable[[F], F]:
    return route("DELETE", path, **options)


# ---- what a route declares ------------------------------------------------------------------------


def _declare(**values: Any) -> Callable[[T], T]:
    """A decorator for a method or a controller class that records ``values``."""

    def apply(target: T) -> T:
        if not callable(target):
            raise InvalidArgumentError(f"HTTP decorators apply to controller classes and their methods, got {_describe(target)}")
        own = target.__dict__.get(DECLARED) if isinstance(target, type) else getattr(target, DECLARED, None)
        declared = dict(own or {})
        for k, v in values.items():
            declared[k] = [*declared.get(k, ()), *v] if k in _LISTS else v
        setattr(target, DECLARED, declared)
        return target

    return apply


def _bare_or_called(target: Any, make: Callable[[], Callable[[T], T]]) -> Any:
    return make()(target) if target is not None else make()


def require_auth(target: Any = None) -> Any:
    """``@require_auth()``: a valid bearer token (JWT, the app's ``jwt`` option) is required: 401
    without one."""
    return _bare_or_called(target, lambda: _declare(auth=True))


def require_roles(*roles: str) -> Callable[[T], T]:
    """``@require_roles("admin")``: every one of these roles is required (403 without; 401 without a
    token)."""
    return _declare(roles=list(roles))


def require_permissions(*permissions: str) -> Callable[[T], T]:
    """``@require_permissions("users:write")``: every one of these permissions is required."""
    return _declare(permissions=list(permissions))


def audit_log(action: str) -> Callable[[T], T]:
    """``@audit_log(action="DELETE_USER")``: an audit record (who, what, when, outcome) per call."""
    return _declare(audit=action)


def cached(target: Any = None, *, ttl: float = 60) -> Any:
    """``@cached(ttl=60)``: GET answers kept in memory for ``ttl`` seconds, with an ETag (304 on
    ``If-None-Match``)."""
    return _bare_or_called(target, lambda: _declare(cache_ttl=ttl))


def response_status(status: int) -> Callable[[T], T]:
    """``@response_status(202)``: the status of a successful answer (instead of 201 for a POST, 200
    otherwise, 204 for None)."""
    return _declare(status=status)


def upload(
    *, max_size: Union[int, str, None] = None, mime_types: Optional[Sequence[str]] = None, field: Optional[str] = None
) -> Callable[[T], T]:
    """``@upload(max_size="5MB", mime_types=["image/*"])``: the route takes a
    ``multipart/form-data`` file (413 when larger, 415 for another type), given to the parameter
    annotated :class:`UploadFile` (its form field is ``field``, by default that parameter's name)."""
    spec: dict[str, Any] = {}
    if max_size is not None:
        spec["max_size"] = max_size
    if mime_types is not None:
        spec["mime_types"] = list(mime_types)
    if field is not None:
        spec["field"] = field
    return _declare(upload=spec)


def paginated(target: Any = None, *, default_limit: Optional[int] = None, max_limit: Optional[int] = None) -> Any:
    """``@paginated()``: ``page`` and ``limit`` query parameters (limits checked by core), given
    to the parameter annotated :class:`Page`."""
    spec: Union[bool, dict[str, Any]] = True
    if default_limit is not None or max_limit is not None:
        spec = {k: v for k, v in (("default_limit", default_limit), ("max_limit", max_limit)) if v is not None}
    return _bare_or_called(target, lambda: _declare(paginated=spec))


def rate_limit(*, max: int, window: float = 60, per: Optional[str] = None) -> Callable[[T], T]:  # noqa: A002
    """``@rate_limit(max=10, window=60)``: at most ``max`` requests per ``window`` seconds, per
    client (``per="route"``: for everyone together); 429 with ``Retry-After`` beyond."""
    spec: dict[str, Any] = {"max": max, "window": window}
    if per is not None:
        spec["per"] = per
    return _declare(rate_limit=spec)


def api_tag(*tags: str) -> Callable[[T], T]:
    """``@api_tag("users")``: OpenAPI tags."""
    return _declare(tags=list(tags))


def api_operation(
    *,
    summary: Optional[str] = None,
    description: Optional[str] = None,
    operation_id: Optional[str] = None,
    deprecated: Optional[bool] = None,
) -> Callable[[T], T]:
    """``@api_operation(summary="Find a user")``: the operation's OpenAPI description."""
    values = {k: v for k, v in (("summary", summary), ("description", description), ("operation_id", operation_id), ("deprecated", deprecated)) if v is not None}
    return _declare(**values)


def declared_of_class(cls: type) -> dict[str, Any]:
    """What the class and its bases declared (bases first)."""
    out: dict[str, Any] = {}
    for c in reversed(cls.__mro__):
        own = c.__dict__.get(DECLARED)
        if own:
            merge(out, own)
    return out


def merge(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    for k, v in more.items():
        if k in _LISTS:
            into[k] = list(dict.fromkeys([*into.get(k, ()), *v]))
        else:
            into[k] = v
    return into


# ---- health ------------------------------------------------------------------------------------


@overload
def health_indicator(cls: C, /) -> C: ...


@overload
def health_indicator() -> Callable[[C], C]: ...


def health_indicator(cls: Optional[type] = None) -> Any:
    """``@health_indicator``: a class whose ``@health_check("name")`` methods are the app's health
    checks (``/health`` shows each; ``/health/ready`` is down while one is down). List it in a
    module's providers (or controllers), or give it to ``HttpApp(indicators=[...])``."""

    def apply(c: C) -> C:
        if not isinstance(c, type):
            raise InvalidArgumentError(f"@health_indicator decorates classes, got {_describe(c)}")
        setattr(c, INDICATOR, True)
        return c

    return apply(cls) if cls is not None else apply


def health_check(name: str, *, timeout: Optional[float] = None) -> Callable[[F], F]:
    """``@health_check("database")``: the method (``async def`` or ``def``) checks one thing and
    returns ``{"status": "up" | "down", "message": ...}`` (other keys are details), a
    :class:`HealthCheckResult`, a bool, or None (up); raising is down. ``timeout`` in seconds (the
    app's ``health_timeout``, 5 s, when None)."""
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"@health_check() takes the check's name such as 'database', got {_describe(name)}")

    def apply(fn: F) -> F:
        if not callable(fn):
            raise InvalidArgumentError(f"@health_check() decorates methods, got {_describe(fn)}")
        setattr(fn, CHECK, (name, timeout))
        return fn

    return apply


class HealthCheckResult:
    """What a health check may return: ``HealthCheckResult("up")``, ``HealthCheckResult("down",
    "connection refused", {"host": "db"})``."""

    __slots__ = ("status", "message", "details")

    def __init__(self, status: str = "up", message: Optional[str] = None, details: Optional[dict[str, Any]] = None) -> None:
        if status not in ("up", "down"):
            raise InvalidArgumentError(f"HealthCheckResult's status is 'up' or 'down', got {status!r}")
        self.status = status
        self.message = message
        self.details = details

    @classmethod
    def up(cls, message: Optional[str] = None, **details: Any) -> "HealthCheckResult":
        return cls("up", message, details or None)

    @classmethod
    def down(cls, message: Optional[str] = None, **details: Any) -> "HealthCheckResult":
        return cls("down", message, details or None)

    def __repr__(self) -> str:
        return f"HealthCheckResult({self.status!r}, {self.message!r})"
