"""``await Omnitron.create(AppModule)``: the application object."""

from __future__ import annotations

from typing import Any

from ._opening import opening
from ._options import checked_keywords
from .di.container import Container, ContainerScope


class OmnitronApp:
    """A running application: its container, built from the root module and initialized."""

    def __init__(self, container: Container) -> None:
        self.container = container
        # What `create(peer=...)` exposed: `(peer, name, version)`, unexposed by `close()`.
        self._exposed: list[tuple[Any, str, str]] = []

    def get(self, token: Any) -> Any:
        """Resolves a provider visible from the root module."""
        return self.container.resolve(token)

    async def get_async(self, token: Any) -> Any:
        return await self.container.resolve_async(token)

    def create_scope(self, context: Any = None) -> ContainerScope:
        return self.container.create_scope(context)

    async def close(self) -> None:
        """Stops hosting the services ``create(peer=...)`` exposed (their methods and ``@on_event``
        subscriptions), then runs every ``on_destroy`` and closes the application."""
        while self._exposed:
            peer, name, version = self._exposed.pop()
            try:
                await peer.unexpose(name, version)
            except Exception:  # a closed peer: nothing left to stop
                pass
        await self.container.close()

    async def __aenter__(self) -> "OmnitronApp":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class Omnitron:
    @staticmethod
    @opening("Omnitron.create()")
    @checked_keywords("Omnitron.create()")
    async def create(root_module: Any, *, context: Any = None, peer: Any = None) -> OmnitronApp:
        """Builds the application from its root module: loads it, then ``initialize()`` builds
        every singleton and runs every ``on_init`` (dependencies first, awaited); on failure what was
        built is closed and the error raised. With ``peer`` (an :class:`omnitron.Peer`), every
        ``@service`` class among the modules' providers is then exposed on it (each must be
        resolvable from the root module)."""
        container = Container(context=context)
        container._load_root_module(root_module)
        app = OmnitronApp(container)
        try:
            await container.initialize()
            if peer is not None:
                from .di.modules import collect_modules
                from .rpc import _SERVICE

                _, _, entries = collect_modules(root_module, lambda _key: False)
                for e in (e for module in entries for e in module):
                    meta = getattr(e.make, _SERVICE, None) if e.kind == 0 and isinstance(e.make, type) else None
                    if meta is not None:
                        await peer.expose(await container.resolve_async(e.token))
                        app._exposed.append((peer, meta[0], meta[1]))
        except BaseException:
            # Whatever was built before the failure is destroyed; the failure is what the caller sees.
            try:
                await app.close()
            except Exception:
                pass
            raise
        return app
