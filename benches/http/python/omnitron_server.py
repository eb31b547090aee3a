"""Omnitron's Python controllers serving the benchmark's two routes (see peers.py), written as a
FastAPI user would: a controller class, a pydantic model checked by core before the handler runs.

`python omnitron_server.py <port>`; one process, the default asyncio loop (uvloop when installed,
as uvicorn picks it).
"""

import asyncio
import sys

from pydantic import BaseModel, EmailStr, Field

from omnitron.http import HttpApp, controller, get, post


class CreateUser(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    email: EmailStr
    age: int = Field(ge=0, le=150)


@controller("users")
class Users:
    @get("/{id}")
    async def find(self, id: str) -> dict[str, object]:
        return {"id": id, "name": "Ada Lovelace", "active": True}

    @post()
    async def create(self, body: CreateUser) -> dict[str, object]:
        return {**body.model_dump(), "id": 1}


async def main(port: int) -> None:
    # As the peers run: no security headers (none of them sets any), the rest as defaults.
    app = HttpApp([Users()], security_headers=False)
    await app.listen(port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1])))
