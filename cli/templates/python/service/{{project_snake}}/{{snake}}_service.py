"""{{kebab}}@1.0.0: a service whose @public methods can be called in this process, and over RPC from
any process of the application, in any language.

Run it as its own process: add to omnitron.yaml's `processes:`

    {{kebab}}:
      command: ${OMNITRON_PYTHON:-python3} -m omnitron.worker {{project_snake}}.{{snake}}_service:{{pascal}}Service
"""

import itertools
from typing import Any

from omnitron import public, service


@service("{{kebab}}@1.0.0")
class {{pascal}}Service:
    def __init__(self) -> None:
        # Kept in memory, per process: replace with your storage.
        self._items: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    @public
    async def create(self, data: dict[str, Any]) -> dict[str, Any]:
        item = {**data, "id": f"{{kebab}}-{next(self._ids)}"}
        self._items[item["id"]] = item
        return item

    @public
    async def get(self, id: str) -> dict[str, Any]:
        try:
            return self._items[id]
        except KeyError:
            # Over RPC the caller gets an error with this message.
            raise LookupError(f"no {{kebab}} '{id}'") from None

    @public
    async def list_items(self) -> list[dict[str, Any]]:
        return list(self._items.values())
