"""/{{kebab}}: an HTTP controller. Serve it with ``HttpApp([{{pascal}}Controller()])`` and
``await app.listen(8080)``; test it in-process with ``omnitron.testing.AsyncTestClient``."""

from dataclasses import dataclass
from typing import Optional

from omnitron.http import HTTPException, controller, delete, get, post


@dataclass
class New{{pascal}}:
    """What a client sends to create one (the body is checked against it before the handler runs)."""

    name: str


@controller("{{kebab}}")
class {{pascal}}Controller:
    def __init__(self) -> None:
        self.items: dict[int, dict] = {}

    @get()
    async def list_items(self, limit: Optional[int] = None) -> list:
        items = list(self.items.values())
        return items if limit is None else items[:limit]

    # `id` is read from the path and converted to an int (a 400 naming it when it is not one).
    @get("/{id}")
    async def find(self, id: int) -> dict:
        item = self.items.get(id)
        if item is None:
            raise HTTPException(404, f"no {{kebab}} {id}")
        return item

    @post()
    async def create(self, body: New{{pascal}}) -> dict:
        item = {"id": max(self.items, default=0) + 1, "name": body.name}
        self.items[item["id"]] = item
        return item  # 201: a POST

    @delete("/{id}")
    async def remove(self, id: int) -> None:  # nothing returned: 204
        if self.items.pop(id, None) is None:
            raise HTTPException(404, f"no {{kebab}} {id}")
