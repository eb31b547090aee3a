"""Core's pipeline stages as Python routes declare them: JWT auth with roles and permissions and
the claims as ``CurrentUser``, uploads, pages, the GET cache and rate limits."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Annotated, Any, Optional

from conftest import run

from omnitron.http import (
    CURRENT_USER,
    CurrentUser,
    HttpApp,
    Page,
    UploadFile,
    audit_log,
    cached,
    controller,
    delete,
    get,
    paginated,
    post,
    rate_limit,
    require_auth,
    require_permissions,
    require_roles,
    upload,
)
from omnitron.testing import AsyncTestClient

SECRET = "test-secret"


def token(claims: dict[str, Any], secret: str = SECRET) -> str:
    """An HS256 JWT."""

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"exp": int(time.time()) + 600, **claims}).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def bearer(claims: dict[str, Any], secret: str = SECRET) -> dict[str, str]:
    return {"authorization": f"Bearer {token(claims, secret)}"}


class Claims:
    def __init__(self, sub: str, roles: Optional[list[str]] = None, **_: Any) -> None:
        self.sub = sub
        self.roles = roles or []


@controller("api")
class Api:
    @get("/me")
    @require_auth()
    async def me(self, user: CurrentUser) -> dict:
        return {"sub": user["sub"]}

    @get("/admin")
    @require_roles("admin")
    async def admin(self, user: CurrentUser) -> dict:
        return {"admin": user["sub"]}

    @post("/write")
    @require_permissions("things:write")
    async def write(self) -> None:
        return None

    @post("/avatar")
    @upload(max_size=1024, mime_types=["image/*"])
    async def avatar(self, avatar: UploadFile) -> dict:
        return {"name": avatar.filename, "type": avatar.content_type, "size": avatar.size, "head": (await avatar.read())[:4].decode("latin-1")}

    @get("/items")
    @paginated(default_limit=2, max_limit=5)
    async def items(self, page: Page) -> dict:
        return {"page": page.page, "limit": page.limit, "offset": page.offset}

    @get("/clock")
    @cached(ttl=60)
    async def clock(self) -> dict:
        return {"t": time.monotonic_ns()}

    @get("/limited")
    @rate_limit(max=2, window=60)
    async def limited(self) -> str:
        return "ok"


def client() -> AsyncTestClient:
    return AsyncTestClient(HttpApp([Api()], jwt={"secret": SECRET}))


def test_auth_roles_permissions_and_the_current_user() -> None:
    async def main() -> None:
        async with client() as c:
            r = await c.get("/api/me")
            assert r.status_code == 401, r.text
            assert r.status_code == 401 and r.json()["code"] == "H010"
            assert (await c.get("/api/me", headers=bearer({"sub": "u1"}, "wrong key"))).status_code == 401
            r = await c.get("/api/me", headers=bearer({"sub": "u1"}))
            assert (r.status_code, r.json()) == (200, {"sub": "u1"})
            r = await c.get("/api/admin", headers=bearer({"sub": "u1", "roles": ["user"]}))
            assert r.status_code == 403 and r.json()["code"] == "H011"
            r = await c.get("/api/admin", headers=bearer({"sub": "u2", "roles": ["admin"]}))
            assert r.json() == {"admin": "u2"}
            r = await c.post("/api/write", headers=bearer({"sub": "u3", "permissions": ["things:write"]}))
            assert r.status_code == 204

    run(main())


def test_claims_built_into_a_class() -> None:
    import dataclasses

    @dataclasses.dataclass
    class User:
        sub: str

    @controller("typed")
    class Typed:
        @get()
        @require_auth()
        async def me(self, user: Annotated[User, CURRENT_USER]) -> dict:
            assert isinstance(user, User)
            return {"sub": user.sub}

    async def main() -> None:
        async with AsyncTestClient(HttpApp([Typed()], jwt={"secret": SECRET})) as c:
            assert (await c.get("/typed")).status_code == 401
            r = await c.get("/typed", headers=bearer({"sub": "u9", "extra": 1}))
            assert r.json() == {"sub": "u9"}

    run(main())


def test_uploads_reach_the_upload_file_parameter() -> None:
    async def main() -> None:
        async with client() as c:
            r = await c.post("/api/avatar", files={"avatar": ("me.png", b"\x89PNG....", "image/png")})
            assert r.status_code == 201, r.text
            assert r.json() == {"name": "me.png", "type": "image/png", "size": 8, "head": "\x89PNG"}
            r = await c.post("/api/avatar", files={"avatar": ("a.txt", b"text", "text/plain")})
            assert r.status_code == 415
            r = await c.post("/api/avatar", files={"avatar": ("big.png", b"x" * 2048, "image/png")})
            assert r.status_code == 413

    run(main())


def test_pages() -> None:
    async def main() -> None:
        async with client() as c:
            r = await c.get("/api/items")
            assert r.json() == {"page": 1, "limit": 2, "offset": 0}
            assert (await c.get("/api/items?page=3&limit=5")).json() == {"page": 3, "limit": 5, "offset": 10}
            assert (await c.get("/api/items?limit=6")).status_code == 400

    run(main())


def test_cached_gets_answer_with_an_etag_and_304() -> None:
    async def main() -> None:
        async with client() as c:
            first = await c.get("/api/clock")
            assert (await c.get("/api/clock")).json() == first.json()
            r = await c.get("/api/clock", headers={"if-none-match": first.headers["etag"]})
            assert r.status_code == 304

    run(main())


def test_rate_limits() -> None:
    async def main() -> None:
        async with client() as c:
            statuses = [(await c.get("/api/limited")).status_code for _ in range(3)]
            assert statuses == [200, 200, 429]

    run(main())


def test_audit_records_reach_on_audit() -> None:
    records: list[dict[str, Any]] = []

    @controller("audited")
    class Audited:
        @delete("/{id}")
        @require_auth()
        @audit_log(action="DELETE_THING")
        async def remove(self, id: int) -> None:
            return None

    async def main() -> None:
        async with AsyncTestClient(HttpApp([Audited()], jwt={"secret": SECRET}, on_audit=records.append)) as c:
            assert (await c.delete("/audited/7", headers=bearer({"sub": "ada"}))).status_code == 204
            assert (await c.delete("/audited/8")).status_code == 401
            for _ in range(500):  # delivered on the loop, after the answer
                if len(records) == 2:
                    break
                await asyncio.sleep(0.01)

    run(main())
    ok = next(r for r in records if r["status"] == 204)
    assert (ok["action"], ok["actor"], ok["method"], ok["path"], ok["outcome"]) == ("DELETE_THING", "ada", "DELETE", "/audited/7", "success")
    assert ok["route"] == "/audited/{id}" and str(ok["params"]["id"]) == "7" and ok["request_id"]
    assert next(r for r in records if r["status"] == 401)["outcome"] == "failure"
