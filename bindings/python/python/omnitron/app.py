"""``await Omnitron.create(AppModule)``: the application object."""

from __future__ import annotations

from typing import Any

from .di.container import Container, Scope


class OmnitronApp:
    """A running application: its container, built from the root module and initialized."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def get(self, token: Any) -> Any:
        """Resolves a provider visible from the root module."""
        return self.container.resolve(token)

    async def get_async(self, token: Any) -> Any:
        return await self.container.resolve_async(token)

    def create_scope(self, context: Any = None) -> Scope:
        return self.container.create_scope(context)

    async def close(self) -> None:
        """Runs every ``on_destroy`` and closes the application."""
        await self.container.dispose()

    async def __aenter__(self) -> "OmnitronApp":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class Omnitron:
    @staticmethod
    async def create(root_module: Any, *, context: Any = None) -> OmnitronApp:
        """Builds the application from its root module and runs every ``on_init`` (dependency
        order)."""
        container = Container(context=context)
        container._load_root_module(root_module)
        try:
            await container.initialize()
        except BaseException:
            # Whatever was built before the failure is destroyed; the failure is what the caller sees.
            try:
                await container.dispose()
            except Exception:
                pass
            raise
        return OmnitronApp(container)
