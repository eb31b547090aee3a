"""{{pascal}}Module: a provider ({{pascal}}Repository) and a service that gets it injected.

Use it from your root module: ``@module(imports=[{{pascal}}Module], ...)``; then anything in the
application can take a ``{{pascal}}Service`` constructor parameter.
"""

from typing import Any, Optional

from omnitron import injectable, module, public, service


@injectable
class {{pascal}}Repository:
    """Where {{kebab}} records live: in memory here; put your database access behind these methods."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}

    async def save(self, row: dict[str, Any]) -> dict[str, Any]:
        self._rows[row["id"]] = row
        return row

    async def find(self, id: str) -> Optional[dict[str, Any]]:
        return self._rows.get(id)


@service("{{kebab}}@1.0.0")
@injectable
class {{pascal}}Service:
    # Injected by type: the container builds one {{pascal}}Repository and hands it in.
    def __init__(self, repository: {{pascal}}Repository) -> None:
        self.repository = repository

    @public
    async def register(self, id: str, data: dict[str, Any]) -> dict[str, Any]:
        if not id:
            raise ValueError("id must not be empty")
        return await self.repository.save({**data, "id": id})

    @public
    async def lookup(self, id: str) -> Optional[dict[str, Any]]:
        return await self.repository.find(id)


@module(providers=[{{pascal}}Repository, {{pascal}}Service], exports=[{{pascal}}Service])
class {{pascal}}Module:
    pass
