"""Bodies in and answers out: pydantic v2 models and dataclasses as the body (validated, then
built), dict and list bodies, return values as JSON (models, dataclasses, dicts, strings), None as
204, ``@response_status``, and ``Response`` for full control."""

import dataclasses
import datetime
import uuid
from typing import Any, Optional

import pydantic
from conftest import run

from omnitron.http import Body, HttpApp, JSONResponse, Response, controller, delete, get, post, put, response_status
from omnitron.testing import AsyncTestClient


class Address(pydantic.BaseModel):
    city: str
    zip: str


class NewUser(pydantic.BaseModel):
    name: str = pydantic.Field(min_length=1)
    age: int = pydantic.Field(ge=0)
    address: Optional[Address] = None


class User(NewUser):
    id: uuid.UUID


@dataclasses.dataclass
class Line:
    sku: str
    qty: int = 1


@dataclasses.dataclass
class Order:
    customer: str
    lines: list[Line]
    note: Optional[str] = None


ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


@controller("b")
class Bodies:
    @post("/users")
    async def create_user(self, user: NewUser) -> User:
        return User(id=ID, **user.model_dump())

    @post("/orders")
    def create_order(self, order: Order) -> Order:
        assert isinstance(order.lines[0], Line)
        return order

    @put("/any")
    async def any_body(self, data: dict[str, Any]) -> dict[str, Any]:
        return {"got": data}

    @post("/list")
    async def list_body(self, items: list[int]) -> int:
        return sum(items)

    @post("/text")
    async def text_body(self, text: str = Body("")) -> str:
        return text.upper()

    @delete("/things/{id}")
    async def remove(self, id: int) -> None:
        return None

    @post("/accepted")
    @response_status(202)
    async def accepted(self) -> dict:
        return {"queued": True}

    @get("/custom")
    async def custom(self) -> Response:
        return Response(b"\x00\x01", status_code=206, headers={"x-custom": "1"}, media_type="application/x-thing")

    @get("/text-response")
    async def text_response(self) -> Response:
        return Response("plain words")

    @get("/json-response")
    async def json_response(self) -> JSONResponse:
        return JSONResponse({"when": datetime.date(2024, 1, 2), "id": ID}, status_code=203)

    @get("/models")
    async def models(self) -> list[User]:
        return [User(id=ID, name="a", age=1), User(id=ID, name="b", age=2)]

    @get("/string")
    async def string(self) -> str:
        return "hi"


def client() -> AsyncTestClient:
    return AsyncTestClient(HttpApp([Bodies()]))


def test_a_pydantic_body_is_validated_then_built() -> None:
    async def main() -> None:
        async with client() as c:
            r = await c.post("/b/users", json={"name": "Ada", "age": 36, "address": {"city": "London", "zip": "N1"}})
            assert r.status_code == 201
            assert r.json() == {"name": "Ada", "age": 36, "address": {"city": "London", "zip": "N1"}, "id": str(ID)}
            r = await c.post("/b/users", json={"name": "", "age": -1, "address": {"city": "x"}})
            assert r.status_code == 400, r.text
            doc = r.json()
            assert doc["code"] == "H009"
            for field in ("name", "age", "address"):  # every failing field is named
                assert field in r.text, (field, doc)
            r = await c.post("/b/users", content=b"{not json", headers={"content-type": "application/json"})
            assert r.status_code == 400
            r = await c.post("/b/users")
            assert r.status_code == 400 and "body" in r.text

    run(main())


def test_a_dataclass_body_is_built_with_its_nested_dataclasses() -> None:
    async def main() -> None:
        async with client() as c:
            order = {"customer": "c1", "lines": [{"sku": "a", "qty": 2}, {"sku": "b"}]}
            r = await c.post("/b/orders", json=order)
            assert r.status_code == 201, r.text
            assert r.json() == {"customer": "c1", "lines": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 1}], "note": None}
            r = await c.post("/b/orders", json={"lines": [{"qty": "many"}]})
            assert r.status_code == 400
            for field in ("customer", "sku", "qty"):
                assert field in r.text, (field, r.text)

    run(main())


def test_dict_list_and_text_bodies() -> None:
    async def main() -> None:
        async with client() as c:
            assert (await c.put("/b/any", json={"a": [1, 2]})).json() == {"got": {"a": [1, 2]}}
            r = await c.post("/b/list", json=[1, 2, 3])
            assert (r.status_code, r.json()) == (201, 6)
            r = await c.post("/b/text", content="shout", headers={"content-type": "text/plain"})
            assert r.json() == "SHOUT"

    run(main())


def test_statuses_follow_the_route_and_the_answer() -> None:
    async def main() -> None:
        async with client() as c:
            r = await c.delete("/b/things/1")
            assert (r.status_code, r.content) == (204, b"")
            r = await c.post("/b/accepted")
            assert (r.status_code, r.json()) == (202, {"queued": True})
            r = await c.get("/b/custom")
            assert (r.status_code, r.content) == (206, b"\x00\x01")
            assert r.headers["content-type"] == "application/x-thing" and r.headers["x-custom"] == "1"
            r = await c.get("/b/text-response")
            assert (r.status_code, r.text) == (200, "plain words")
            assert r.headers["content-type"].startswith("text/plain")
            r = await c.get("/b/json-response")
            assert (r.status_code, r.json()) == (203, {"when": "2024-01-02", "id": str(ID)})
            r = await c.get("/b/models")
            assert [u["name"] for u in r.json()] == ["a", "b"]
            assert (await c.get("/b/string")).json() == "hi"

    run(main())
