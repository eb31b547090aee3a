"""What the decorators declare reaches core as one route spec, checked there: values core refuses
name the route and the key (with the nearest known key for a misspelling), clashing routes are
refused, and a signature that cannot be filled from a request is refused when the app is made."""

import dataclasses
from typing import Any, Optional

import pytest

from omnitron.errors import InvalidArgumentError, InvalidRouteError
from omnitron.http import (
    HttpApp,
    Page,
    UploadFile,
    api_operation,
    api_tag,
    audit_log,
    cached,
    controller,
    get,
    paginated,
    post,
    rate_limit,
    require_auth,
    require_permissions,
    require_roles,
    response_status,
    upload,
)
from omnitron.testing import TestClient


@dataclasses.dataclass
class Thing:
    name: str


@controller("things", tags=["inventory"])
@require_roles("staff")
class Things:
    @get()
    @cached(ttl=30)
    @paginated(default_limit=10, max_limit=50)
    @rate_limit(max=100, window=60)
    @api_operation(summary="List things", description="Every thing, a page at a time")
    async def list(self, page: Optional[Page] = None) -> list[Thing]:
        return []

    @post()
    @require_permissions("things:write")
    @audit_log(action="CREATE_THING")
    @response_status(202)
    @api_tag("writes")
    async def create(self, thing: Thing) -> Thing:
        return thing

    @post("/{id}/picture")
    @require_auth()
    @upload(max_size="5MB", mime_types=["image/*"])
    async def picture(self, id: int, picture: UploadFile) -> dict:
        return {"size": picture.size}


def test_every_declaration_is_accepted_by_core() -> None:
    HttpApp([Things()], jwt={"secret": "s3cret"})


def test_core_refuses_bad_declarations_naming_the_route_and_key() -> None:
    @controller("a")
    class CachedPost:
        @post()
        @cached(ttl=5)
        async def create(self) -> None: ...

    with pytest.raises(InvalidRouteError, match=r"CachedPost\.create.*cache_ttl.*GET"):
        HttpApp([CachedPost()])

    @controller("b")
    class Misspelt:
        @get("/x", sumary="typo")
        async def x(self) -> None: ...

    with pytest.raises(InvalidArgumentError, match=r"Misspelt\.x: did you mean 'summary'"):
        HttpApp([Misspelt()])

    @controller("c")
    class BadStatus:
        @get()
        @response_status(999)
        async def x(self) -> None: ...

    with pytest.raises(InvalidRouteError, match="status"):
        HttpApp([BadStatus()])

    @controller("d")
    class BadLimit:
        @get()
        @rate_limit(max=0)
        async def x(self) -> None: ...

    with pytest.raises(InvalidRouteError, match="max"):
        HttpApp([BadLimit()])

    @controller("e")
    class BadUpload:
        @post()
        @upload(max_size="lots")
        async def x(self) -> None: ...

    with pytest.raises(InvalidRouteError, match="max_size"):
        HttpApp([BadUpload()])


def test_clashing_routes_are_refused() -> None:
    @controller("users")
    class One:
        @get("/{id}")
        async def a(self, id: str) -> None: ...

    @controller("users")
    class Two:
        @get("/{name}")
        async def b(self, name: str) -> None: ...

    with pytest.raises(InvalidRouteError):
        HttpApp([One(), Two()])


def test_signatures_that_cannot_be_filled_are_refused() -> None:
    @controller("x")
    class TwoBodies:
        @post()
        async def x(self, a: Thing, b: dict[str, Any]) -> None: ...

    with pytest.raises(InvalidRouteError, match="both take the body"):
        HttpApp([TwoBodies()])

    @controller("x")
    class Star:
        @get()
        async def x(self, *args: Any) -> None: ...

    with pytest.raises(InvalidRouteError, match=r"\*args"):
        HttpApp([Star()])

    @controller("x")
    class BadPath:
        @get("/{id}")
        async def x(self, id: Thing) -> None: ...

    with pytest.raises(InvalidRouteError, match="path parameter"):
        HttpApp([BadPath()])


def test_routes_without_a_path_and_more_than_one_route_per_method() -> None:
    @controller()
    class Root:
        @get()
        @get("/home")
        async def home(self) -> str:
            return "home"

    with TestClient(HttpApp([Root()])) as c:
        assert c.get("/").json() == "home"
        assert c.get("/home").json() == "home"


def test_decorators_refuse_what_they_cannot_decorate() -> None:
    with pytest.raises(InvalidArgumentError):
        controller(42)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError):
        get(7)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        require_roles("admin")(42)


def test_the_openapi_document_describes_python_routes() -> None:
    with TestClient(HttpApp([Things()], jwt={"secret": "s3cret"})) as c:
        r = c.get("/openapi.json")
        assert r.status_code == 200, r.text
        paths = r.json()["paths"]
    listed = paths["/things"]["get"]
    assert listed["operationId"] == "Things.list" and listed["summary"] == "List things"
    assert listed["tags"] == ["inventory"]
    assert listed["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    created = paths["/things"]["post"]
    assert created["operationId"] == "Things.create" and "202" in created["responses"]
    assert set(created["tags"]) == {"inventory", "writes"}
    assert created["requestBody"]["content"]["application/json"]["schema"]["required"] == ["name"]
    picture = paths["/things/{id}/picture"]["post"]
    assert [p["name"] for p in picture["parameters"] if p["in"] == "path"] == ["id"]
