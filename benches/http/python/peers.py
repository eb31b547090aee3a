"""The Python servers a user would otherwise pick, each serving the benchmark's two routes:

    GET  /users/{id}  -> {"id": "<id>", "name": "Ada Lovelace", "active": true}
    POST /users       -> the body {name, email, age} checked (name 1..100 chars, email, age 0..150
                         integer), answered 201 with an id added; 400/422 when it is not valid.

`python peers.py <starlette|granian|fastapi|robyn> <port>`; one process, one worker.
"""

import json
import sys


def user(id: str) -> dict[str, object]:
    return {"id": id, "name": "Ada Lovelace", "active": True}


def starlette_app():  # type: ignore[no-untyped-def]
    # Starlette does no validation: the POST is parsed only (the "Starlette (no validation)").
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def get_user(request: Request) -> JSONResponse:
        return JSONResponse(user(request.path_params["id"]))

    async def create_user(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({**body, "id": 1}, status_code=201)

    return Starlette(routes=[Route("/users/{id}", get_user), Route("/users", create_user, methods=["POST"])])


def fastapi_app():  # type: ignore[no-untyped-def]
    from fastapi import FastAPI
    from pydantic import BaseModel, EmailStr, Field

    global CreateUser

    class CreateUser(BaseModel):  # type: ignore[no-redef]
        name: str = Field(min_length=1, max_length=100)
        email: EmailStr
        age: int = Field(ge=0, le=150)

    app = FastAPI()

    @app.get("/users/{id}")
    async def get_user(id: str) -> dict[str, object]:
        return user(id)

    @app.post("/users", status_code=201)
    async def create_user(body: CreateUser) -> dict[str, object]:
        return {**body.model_dump(), "id": 1}

    return app


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "starlette":
        import uvicorn

        uvicorn.run(starlette_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    elif kind == "fastapi":
        import uvicorn

        uvicorn.run(fastapi_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    elif kind == "granian":
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            "peers:starlette_app",
            address="127.0.0.1",
            port=port,
            interface=Interfaces.ASGI,
            factory=True,
            workers=1,
            log_enabled=False,
        ).serve()
    elif kind == "robyn":
        from robyn import Headers, Request, Response, Robyn

        app = Robyn(__file__)

        @app.get("/users/:id")
        async def get_user(request: Request) -> dict[str, object]:
            return user(request.path_params["id"])

        @app.post("/users")
        async def create_user(request: Request):  # type: ignore[no-untyped-def]
            body = json.loads(request.body)
            return Response(201, Headers({"content-type": "application/json"}), json.dumps({**body, "id": 1}))

        app.start(host="127.0.0.1", port=port, _check_port=False)
    else:
        sys.exit(f"unknown server '{kind}'")


if __name__ == "__main__":
    main()
