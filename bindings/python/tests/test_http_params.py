"""Handler parameters filled by name and annotation, as FastAPI fills them: path parameters
coerced by their annotation, query parameters with defaults, headers, the request, keyword-only
parameters; what does not fit is a 400 (H009) naming the field."""

import uuid
from enum import Enum
from typing import Annotated, Literal, Optional

from conftest import run
from http_helpers import afetch

from omnitron.http import Header, HttpApp, Query, Request, controller, get
from omnitron.testing import AsyncTestClient


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@controller("p")
class Params:
    @get("/int/{id}")
    async def by_int(self, id: int) -> dict:
        return {"id": id, "type": type(id).__name__}

    @get("/float/{x}")
    async def by_float(self, x: float) -> dict:
        return {"x": x, "type": type(x).__name__}

    @get("/bool/{flag}")
    async def by_bool(self, flag: bool) -> dict:
        return {"flag": flag}

    @get("/uuid/{u}")
    async def by_uuid(self, u: uuid.UUID) -> dict:
        return {"u": str(u), "version": u.version}

    @get("/str/{name}")
    async def by_str(self, name: str) -> dict:
        return {"name": name}

    @get("/enum/{color}")
    async def by_enum(self, color: Color) -> dict:
        return {"color": color.name}

    @get("/two/{org}/{n}")
    async def two(self, org: str, n: int) -> dict:
        return {"org": org, "n": n}

    @get("/query")
    async def query(
        self,
        limit: int = 10,
        q: Optional[str] = None,
        active: bool = False,
        order: Literal["asc", "desc"] = "asc",
        page: Annotated[int, Query(alias="page-number")] = 1,
    ) -> dict:
        return {"limit": limit, "q": q, "active": active, "order": order, "page": page}

    @get("/list")
    async def listed(self, ids: Annotated[list[int], Query()] = [], after: Optional[int] = None) -> dict:  # noqa: B006
        return {"ids": ids, "after": after}

    @get("/required")
    async def required(self, term: str, size: int) -> dict:
        return {"term": term, "size": size}

    @get("/headers")
    async def headers(
        self, user_agent: Annotated[Optional[str], Header()] = None, token: Annotated[str, Header(alias="X-Token")] = "none"
    ) -> dict:
        return {"ua": user_agent, "token": token}

    @get("/request/{id}")
    async def request(self, request: Request, id: str, *, verbose: bool = False) -> dict:
        return {
            "method": request.method,
            "path": request.path,
            "params": request.path_params,
            "query": request.query_params,
            "id_header": request.headers.get("x-request-id"),
            "request_id": request.request_id,
            "verbose": verbose,
        }

    @get("/catch/{rest:path}")
    async def catch_all(self, rest: str) -> dict:
        return {"rest": rest}


def client() -> AsyncTestClient:
    return AsyncTestClient(HttpApp([Params()]))


def test_path_params_are_coerced_by_their_annotation() -> None:
    async def main() -> None:
        async with client() as c:
            assert (await c.get("/p/int/42")).json() == {"id": 42, "type": "int"}
            assert (await c.get("/p/float/2.5")).json() == {"x": 2.5, "type": "float"}
            assert (await c.get("/p/bool/true")).json() == {"flag": True}
            assert (await c.get("/p/bool/0")).json() == {"flag": False}
            u = uuid.uuid4()
            assert (await c.get(f"/p/uuid/{u}")).json() == {"u": str(u), "version": 4}
            assert (await c.get("/p/str/hello%20world")).json() == {"name": "hello world"}
            assert (await c.get("/p/enum/blue")).json() == {"color": "BLUE"}
            assert (await c.get("/p/two/acme/3")).json() == {"org": "acme", "n": 3}
            assert (await c.get("/p/catch/a/b/c.txt")).json() == {"rest": "a/b/c.txt"}

    run(main())


def test_a_path_param_that_does_not_fit_is_a_400_naming_it() -> None:
    async def main() -> None:
        async with client() as c:
            for url, field in (("/p/int/abc", "id"), ("/p/float/x", "x"), ("/p/bool/maybe", "flag"), ("/p/uuid/nope", "u"), ("/p/enum/green", "color")):
                r = await c.get(url)
                assert r.status_code == 400, (url, r.text)
                assert r.headers["content-type"] == "application/problem+json"
                doc = r.json()
                assert doc["code"] == "H009" and field in r.text, doc
                assert doc["requestId"] == r.headers["x-request-id"]

    run(main())


def test_query_params_take_their_defaults_and_are_coerced() -> None:
    async def main() -> None:
        async with client() as c:
            assert (await c.get("/p/query")).json() == {"limit": 10, "q": None, "active": False, "order": "asc", "page": 1}
            r = await c.get("/p/query", params={"limit": 5, "q": "ada", "active": True, "order": "desc", "page-number": 3})
            assert r.json() == {"limit": 5, "q": "ada", "active": True, "order": "desc", "page": 3}
            r = await c.get("/p/query?limit=many&order=sideways")
            assert r.status_code == 400 and "limit" in r.text and "order" in r.text, r.text

    run(main())


def test_list_and_optional_query_params() -> None:
    async def main() -> None:
        async with client() as c:
            assert (await c.get("/p/list")).json() == {"ids": [], "after": None}
            assert (await c.get("/p/list?ids=3&after=4")).json() == {"ids": [3], "after": 4}
            r = await c.get("/p/list?ids=x")
            assert r.status_code == 400 and "ids" in r.text

    run(main())


def test_required_query_params_are_listed_when_missing() -> None:
    async def main() -> None:
        async with client() as c:
            assert (await c.get("/p/required?term=x&size=2")).json() == {"term": "x", "size": 2}
            r = await c.get("/p/required")
            assert r.status_code == 400
            assert "term" in r.text and "size" in r.text, r.text

    run(main())


def test_headers_and_the_request_object() -> None:
    async def main() -> None:
        async with client() as c:
            r = await c.get("/p/headers", headers={"User-Agent": "tests/1", "x-token": "t0k"})
            assert r.json() == {"ua": "tests/1", "token": "t0k"}
            assert (await c.get("/p/headers")).json() == {"ua": None, "token": "none"}
            r = await c.get("/p/request/9?verbose=true&x=1", headers={"x-request-id": "req-123"})
            got = r.json()
            # Text until core coerces the query by its schema (then true).
            assert got.pop("query") in ({"verbose": "true", "x": "1"}, {"verbose": True, "x": "1"})
            assert got == {
                "method": "GET",
                "path": "/p/request/9",
                "params": {"id": "9"},
                "id_header": "req-123",
                "request_id": "req-123",
                "verbose": True,
            }
            assert r.headers["x-request-id"] == "req-123"

    run(main())


def test_params_over_a_real_socket() -> None:
    async def main() -> None:
        async with HttpApp([Params()]) as app:
            port = await app.listen(0)
            status, headers, body = await afetch(port, "GET", "/p/two/acme/7")
            assert (status, body) == (200, b'{"org":"acme","n":7}')
            assert headers["content-type"] == "application/json"
            status, _, body = await afetch(port, "GET", "/p/int/seven")
            assert status == 400 and b"H009" in body

    run(main())
