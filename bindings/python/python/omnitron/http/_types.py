"""What handlers receive and answer: :class:`Request`, :class:`Response`, :class:`HTTPException`,
:class:`UploadFile`, :class:`Page`, and the parameter markers (``Path``, ``Query``, ``Header``,
``Body``, ``CURRENT_USER``)."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Mapping, Optional, Union


class HTTPException(Exception):
    """Raised by a handler: the request gets a problem document (RFC 9457) with ``status_code``
    (400 to 599; anything else is 500) and ``detail``, plus ``headers``. FastAPI's name and
    arguments."""

    def __init__(self, status_code: int, detail: Any = None, headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = dict(headers) if headers else None

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}" if self.detail is not None else str(self.status_code)

    def __repr__(self) -> str:
        return f"HTTPException(status_code={self.status_code!r}, detail={self.detail!r})"


class Response:
    """A handler's answer in full: ``Response(content, status_code=None, headers=None,
    media_type=None)`` (Starlette's order). ``bytes`` and ``str`` content are sent as they are
    (``application/octet-stream``, ``text/plain; charset=utf-8`` unless ``media_type`` says);
    anything else is JSON. ``status_code`` None takes the route's (``@response_status``, 201 for a
    POST, 200 otherwise; 204 when there is no content)."""

    __slots__ = ("content", "status_code", "headers", "media_type")

    def __init__(
        self,
        content: Any = None,
        status_code: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
        media_type: Optional[str] = None,
    ) -> None:
        self.content = content
        self.status_code = status_code
        self.headers = headers
        self.media_type = media_type

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, media_type={self.media_type!r})"


class JSONResponse(Response):
    """A :class:`Response` whose content is always JSON (a ``str`` becomes a JSON string)."""

    __slots__ = ()


class UploadFile:
    """A file of a ``multipart/form-data`` body (an ``@upload`` route): ``filename``,
    ``content_type``, ``size`` and its bytes (``await file.read()`` as in FastAPI, or ``data``)."""

    __slots__ = ("field", "filename", "content_type", "size", "_b64", "_data")

    def __init__(self, field: str, filename: Optional[str], content_type: str, size: int, data: Union[bytes, str]) -> None:
        self.field = field
        self.filename = filename
        self.content_type = content_type
        self.size = size
        # Decoded on first use: the envelope carries it in base64.
        self._b64: Optional[str] = data if isinstance(data, str) else None
        self._data: Optional[bytes] = data if isinstance(data, bytes) else None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = base64.b64decode(self._b64 or "")
            self._b64 = None
        return self._data

    async def read(self) -> bytes:
        return self.data

    @classmethod
    def _of(cls, f: Mapping[str, Any]) -> "UploadFile":
        return cls(f.get("field", ""), f.get("filename"), f.get("contentType", ""), int(f.get("size", 0)), f.get("data", ""))

    def __repr__(self) -> str:
        return f"UploadFile(field={self.field!r}, filename={self.filename!r}, content_type={self.content_type!r}, size={self.size})"


class Page:
    """The page a ``@paginated()`` route was asked for: ``page`` (from 1), ``limit``, ``offset``."""

    __slots__ = ("page", "limit", "offset")

    def __init__(self, page: int = 1, limit: int = 20, offset: int = 0) -> None:
        self.page, self.limit, self.offset = page, limit, offset

    def __repr__(self) -> str:
        return f"Page(page={self.page}, limit={self.limit}, offset={self.offset})"


class Request:
    """The request, for a handler parameter annotated ``Request``: ``method``, ``path``,
    ``path_params``, ``query_params``, ``headers`` (lower-case names), ``body`` (JSON, or the text),
    ``user`` (the token's claims), ``request_id``, ``files``, ``page``."""

    __slots__ = ("_env",)

    def __init__(self, env: dict[str, Any]) -> None:
        self._env = env

    @property
    def method(self) -> str:
        return str(self._env.get("method", ""))

    @property
    def path(self) -> str:
        return str(self._env.get("path", ""))

    @property
    def request_id(self) -> str:
        return str(self._env.get("requestId", ""))

    @property
    def path_params(self) -> dict[str, Any]:
        return self._env.get("params") or {}

    @property
    def query_params(self) -> dict[str, Any]:
        return self._env.get("query") or {}

    @property
    def headers(self) -> dict[str, str]:
        return self._env.get("headers") or {}

    @property
    def body(self) -> Any:
        return self._env.get("body")

    def json(self) -> Any:
        """The body as JSON (a text body is parsed)."""
        b = self._env.get("body")
        return json.loads(b) if isinstance(b, str) else b

    @property
    def user(self) -> Optional[dict[str, Any]]:
        return self._env.get("user")

    @property
    def files(self) -> list[UploadFile]:
        return [UploadFile._of(f) for f in self._env.get("files") or ()]

    @property
    def page(self) -> Optional[Page]:
        p = self._env.get("page")
        return Page(p["page"], p["limit"], p["offset"]) if p else None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path} id={self.request_id}>"


# ---- parameter markers ------------------------------------------------------------------------

_REQUIRED: Any = ...


class Param:
    """Where a handler parameter comes from (see :func:`Path`, :func:`Query`, :func:`Header`,
    :func:`Body`); in ``Annotated[int, Query()]``, or as the default (``limit: int = Query(10)``)."""

    __slots__ = ("kind", "default", "alias", "description")

    def __init__(self, kind: str, default: Any = _REQUIRED, alias: Optional[str] = None, description: Optional[str] = None) -> None:
        self.kind = kind
        self.default = default
        self.alias = alias
        self.description = description

    def __repr__(self) -> str:
        return f"{self.kind.capitalize()}(default={self.default!r}, alias={self.alias!r})"


def Path(default: Any = _REQUIRED, *, alias: Optional[str] = None, description: Optional[str] = None) -> Any:  # noqa: N802
    """A path parameter (a parameter named as one in the route's path is one already)."""
    return Param("path", default, alias, description)


def Query(default: Any = _REQUIRED, *, alias: Optional[str] = None, description: Optional[str] = None) -> Any:  # noqa: N802
    """A query parameter (simple-typed parameters that are not path parameters are already)."""
    return Param("query", default, alias, description)


def Header(default: Any = _REQUIRED, *, alias: Optional[str] = None, description: Optional[str] = None) -> Any:  # noqa: N802
    """A request header: ``user_agent: Annotated[str, Header()]`` reads ``user-agent`` (``_`` is
    ``-``; ``alias`` names it exactly)."""
    return Param("header", default, alias, description)


def Body(default: Any = _REQUIRED, *, description: Optional[str] = None) -> Any:  # noqa: N802
    """The body (a pydantic model or dataclass parameter is already): for ``dict``, ``list``,
    ``str`` or ``Any`` bodies."""
    return Param("body", default, None, description)


class _CurrentUser:
    __slots__ = ()

    def __repr__(self) -> str:
        return "CURRENT_USER"


#: In ``Annotated[Claims, CURRENT_USER]``: the verified token's claims, built into ``Claims`` (a
#: pydantic model or dataclass) or given as a dict.
CURRENT_USER: Any = _CurrentUser()

#: A handler parameter annotated ``CurrentUser`` gets the verified token's claims (a dict; None on
#: a route without auth).
CurrentUser = Annotated[dict[str, Any], CURRENT_USER]


__all__ = [
    "Body",
    "CURRENT_USER",
    "CurrentUser",
    "HTTPException",
    "Header",
    "JSONResponse",
    "Page",
    "Param",
    "Path",
    "Query",
    "Request",
    "Response",
    "UploadFile",
]
