"""HTTP test clients (``omnitron.testing``): requests answered in-process through core's
``inject``, the same pipeline a socket's request goes through, with no port.

::

    import asyncio
    from omnitron.http import HttpApp, controller, get
    from omnitron.testing import AsyncTestClient, TestClient

    @controller("users")
    class UsersController:
        @get("/{id}")
        async def find(self, id: int) -> dict:
            return {"id": id}

    async def main() -> None:
        async with AsyncTestClient(HttpApp([UsersController()])) as client:
            r = await client.get("/users/7", params={"verbose": 1})
            assert r.status_code == 200 and r.json() == {"id": 7}

    asyncio.run(main())

    with TestClient(HttpApp([UsersController()])) as client:  # synchronous tests
        assert client.get("/users/7").json() == {"id": 7}

Shaped like Starlette's ``TestClient`` and httpx: ``client.get(url, params=, headers=)``,
``client.post(url, json=...)`` (also ``content=``, ``data=`` for a form, ``files=`` for a
multipart upload), responses with ``status_code``, ``headers``, ``content``, ``text``, ``json()``.
"""

from __future__ import annotations

import asyncio
import json as _json
import uuid
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence, Union
from urllib.parse import urlencode, urlsplit

from .errors import InvalidArgumentError

if TYPE_CHECKING:
    from .http import HttpApp

_UNSET: Any = object()
FileSpec = Union[bytes, str, tuple[Optional[str], Union[bytes, str]], tuple[Optional[str], Union[bytes, str], str]]


class Headers(Mapping[str, str]):
    """Response headers, by name in any case; a repeated header's values joined with ``, ``
    (:meth:`get_list` gives them apart)."""

    __slots__ = ("_items",)

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._items = [(k.lower(), v) for k, v in items]

    def __getitem__(self, name: str) -> str:
        values = self.get_list(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def get_list(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self._items if k == low]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self._items))

    def __len__(self) -> int:
        return len(dict.fromkeys(k for k, _ in self._items))

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class TestResponse:
    """An answer: ``status_code``, ``headers``, ``content`` (bytes), ``text``, ``json()``."""

    __test__ = False
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Sequence[tuple[str, str]], content: bytes) -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return _json.loads(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def __repr__(self) -> str:
        return f"<TestResponse [{self.status_code}]>"


def _request_parts(
    url: str,
    params: Optional[Mapping[str, Any]],
    headers: Optional[Mapping[str, str]],
    json: Any,
    content: Union[bytes, str, None],
    data: Optional[Mapping[str, Any]],
    files: Optional[Mapping[str, FileSpec]],
    defaults: Mapping[str, str],
) -> tuple[str, list[tuple[str, str]], Optional[bytes]]:
    parts = urlsplit(url)
    target = parts.path or "/"
    query = parts.query
    if params:
        extra = urlencode([(k, _text(v)) for k, v in params.items() if v is not None], doseq=False)
        query = f"{query}&{extra}" if query else extra
    if query:
        target = f"{target}?{query}"
    hs = {k.lower(): v for k, v in defaults.items()}
    hs.update({k.lower(): v for k, v in (headers or {}).items()})
    body: Optional[bytes] = None
    given = sum(x is not None and x is not _UNSET for x in (content, data, files)) + (json is not _UNSET)
    if given > 1 and not (given == 2 and data is not None and files is not None):
        raise InvalidArgumentError("a request takes one of json=, content=, data= (with files=, a form), files=")
    if json is not _UNSET:
        body = _json.dumps(json, separators=(",", ":")).encode()
        hs.setdefault("content-type", "application/json")
    elif files is not None:
        body, ctype = _multipart(data or {}, files)
        hs.setdefault("content-type", ctype)
    elif data is not None:
        body = urlencode([(k, _text(v)) for k, v in data.items()]).encode()
        hs.setdefault("content-type", "application/x-www-form-urlencoded")
    elif content is not None:
        body = content.encode() if isinstance(content, str) else bytes(content)
    return target, list(hs.items()), body


def _text(v: Any) -> str:
    if v is True or v is False:
        return "true" if v else "false"
    return str(v)


def _multipart(data: Mapping[str, Any], files: Mapping[str, FileSpec]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in data.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += _text(value).encode() + b"\r\n"
    for name, spec in files.items():
        filename: Optional[str] = name
        ctype = "application/octet-stream"
        if isinstance(spec, tuple):
            filename, payload = spec[0], spec[1]
            if len(spec) > 2:
                ctype = spec[2]
        else:
            payload = spec
        raw = payload.encode() if isinstance(payload, str) else bytes(payload)
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n".encode()
        out += raw + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


class AsyncTestClient:
    """``async with AsyncTestClient(app) as client: r = await client.get("/users/1")``.

    ``app`` is an :class:`omnitron.http.HttpApp`, an :class:`omnitron.OmnitronApp` (its
    ``http_app()``), a compiled testing module (its controllers; the client closes that app), or a
    list of controllers; ``options`` are the app's (when the client makes it); ``headers`` are
    sent with every request."""

    __test__ = False

    def __init__(self, app: Any, *, headers: Optional[Mapping[str, str]] = None, **options: Any) -> None:
        self._target = app
        self._options = options
        self._headers = dict(headers or {})
        self._app: Optional["HttpApp"] = None
        self._owned = False

    async def app(self) -> "HttpApp":
        """The :class:`omnitron.http.HttpApp` requests go to (made on first use)."""
        if self._app is None:
            from .http import HttpApp

            t = self._target
            if isinstance(t, HttpApp):
                if self._options:
                    raise InvalidArgumentError("AsyncTestClient(app, **options): an HttpApp has its options already")
                self._app = t
            elif hasattr(t, "http_app"):
                self._app = await t.http_app(**self._options)
            elif hasattr(t, "container"):
                from .http._modules import app_of

                self._app, self._owned = await app_of(t.container, self._options), True
            elif isinstance(t, (list, tuple)):
                self._app, self._owned = HttpApp(t, **self._options), True
            else:
                raise InvalidArgumentError(
                    f"a test client takes an HttpApp, an OmnitronApp, a testing module or a list of controllers, got {type(t).__name__}"
                )
        return self._app

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        json: Any = _UNSET,
        content: Union[bytes, str, None] = None,
        data: Optional[Mapping[str, Any]] = None,
        files: Optional[Mapping[str, FileSpec]] = None,
    ) -> TestResponse:
        target, hs, body = _request_parts(url, params, headers, json, content, data, files, self._headers)
        app = await self.app()
        method = method.upper()
        status, out_headers, out_body = await app.inject(method, target, hs, body)
        # What a client reads of a HEAD answer (the server sends no body over a socket).
        return TestResponse(status, out_headers, b"" if method == "HEAD" else out_body)

    async def get(self, url: str, *, params: Optional[Mapping[str, Any]] = None, headers: Optional[Mapping[str, str]] = None) -> TestResponse:
        return await self.request("GET", url, params=params, headers=headers)

    async def head(self, url: str, *, params: Optional[Mapping[str, Any]] = None, headers: Optional[Mapping[str, str]] = None) -> TestResponse:
        return await self.request("HEAD", url, params=params, headers=headers)

    async def options(self, url: str, *, params: Optional[Mapping[str, Any]] = None, headers: Optional[Mapping[str, str]] = None) -> TestResponse:
        return await self.request("OPTIONS", url, params=params, headers=headers)

    async def delete(self, url: str, *, params: Optional[Mapping[str, Any]] = None, headers: Optional[Mapping[str, str]] = None) -> TestResponse:
        return await self.request("DELETE", url, params=params, headers=headers)

    async def post(self, url: str, **kwargs: Any) -> TestResponse:
        """``post(url, json=..., params=, headers=, content=, data=, files=)``."""
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> TestResponse:
        return await self.request("PATCH", url, **kwargs)

    async def close(self) -> None:
        """Closes the app if the client made it."""
        if self._app is not None and self._owned:
            await self._app.close()

    async def __aenter__(self) -> "AsyncTestClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class TestClient:
    """:class:`AsyncTestClient` for synchronous tests: each request runs on the client's own event
    loop (the app binds to it: give it an app not used on another loop yet).
    ``with TestClient(app) as client: assert client.get("/users/1").status_code == 200``."""

    __test__ = False

    def __init__(self, app: Any, *, headers: Optional[Mapping[str, str]] = None, **options: Any) -> None:
        self._client = AsyncTestClient(app, headers=headers, **options)
        self._loop: Optional[asyncio.AbstractEventLoop] = asyncio.new_event_loop()

    def _run(self, aw: Any) -> Any:
        if self._loop is None:
            aw.close()
            raise InvalidArgumentError("this TestClient is closed")
        return self._loop.run_until_complete(aw)

    def request(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        return self._run(self._client.request(method, url, **kwargs))  # type: ignore[no-any-return]

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("OPTIONS", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", url, **kwargs)

    def close(self) -> None:
        """Closes the app if the client made it (an ``HttpApp`` given is closed too: it is bound to
        this client's loop, which ends here), then the loop."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            app = self._client._app
            if app is not None:
                loop.run_until_complete(app.close())
        finally:
            loop.close()

    def __enter__(self) -> "TestClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["AsyncTestClient", "Headers", "TestClient", "TestResponse"]
