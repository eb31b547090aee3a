"""HTTP controllers on core's native server (docs/HTTP.md, "Python").

::

    import asyncio
    from dataclasses import dataclass
    from omnitron.http import HTTPException, HttpApp, controller, get, post

    @dataclass
    class NewUser:
        name: str
        age: int = 0

    @controller("users")
    class UsersController:
        def __init__(self) -> None:
            self.users: dict[int, dict] = {1: {"id": 1, "name": "Ada", "age": 36}}

        @get("/{id}")
        async def find(self, id: int, verbose: bool = False) -> dict:
            user = self.users.get(id)
            if user is None:
                raise HTTPException(404, f"no user {id}")
            return user if verbose else {"id": id, "name": user["name"]}

        @post()
        async def create(self, user: NewUser) -> dict:
            new = {"id": len(self.users) + 1, "name": user.name, "age": user.age}
            self.users[new["id"]] = new
            return new  # 201

    async def main() -> None:
        async with HttpApp([UsersController()]) as app:
            port = await app.listen(0)
            status, headers, body = await app.inject("GET", "/users/1?verbose=true")
            assert status == 200 and b'"age":36' in body

    asyncio.run(main())

Paths use FastAPI's ``{id}`` (core's ``:id`` works too); ``{rest:path}`` is a catch-all. Handler
parameters are filled by name and annotation as FastAPI fills them (see :mod:`omnitron.http._params`),
and core checks them against JSON Schemas built from the signature before the handler runs.
``async def`` handlers run on the app's event loop, ``def`` handlers in a thread pool. pydantic v2
is needed only for ``BaseModel`` parameters and return values (imported when one is used);
dataclasses work without it.
"""

from ._app import MAX_THREADS, HttpApp
from ._decorators import (
    HealthCheckResult,
    api_operation,
    api_tag,
    audit_log,
    cached,
    controller,
    delete,
    get,
    health_check,
    health_indicator,
    paginated,
    patch,
    post,
    put,
    rate_limit,
    require_auth,
    require_permissions,
    require_roles,
    response_status,
    route,
    upload,
)
from ._types import (
    CURRENT_USER,
    Body,
    CurrentUser,
    Header,
    HTTPException,
    JSONResponse,
    Page,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
)

__all__ = [
    "Body",
    "CURRENT_USER",
    "CurrentUser",
    "HTTPException",
    "Header",
    "HealthCheckResult",
    "HttpApp",
    "JSONResponse",
    "MAX_THREADS",
    "Page",
    "Path",
    "Query",
    "Request",
    "Response",
    "UploadFile",
    "api_operation",
    "api_tag",
    "audit_log",
    "cached",
    "controller",
    "delete",
    "get",
    "health_check",
    "health_indicator",
    "paginated",
    "patch",
    "post",
    "put",
    "rate_limit",
    "require_auth",
    "require_permissions",
    "require_roles",
    "response_status",
    "route",
    "upload",
]
