"""``await Omnitron.create(AppModule)``: the application object."""

from __future__ import annotations

import asyncio

from typing import TYPE_CHECKING, Any, Optional

from ._opening import opening
from ._options import checked_keywords
from .di.container import Container, ContainerScope

if TYPE_CHECKING:
    from .http import HttpApp


class OmnitronApp:
    """A running application: its container, built from the root module and initialized."""

    def __init__(self, container: Container) -> None:
        self.container = container
        # What `create(peer=...)` exposed: `(peer, name, version)`, unexposed by `close()`.
        self._exposed: list[tuple[Any, str, str]] = []
        self._http: Optional["HttpApp"] = None
        # The workers of the modules' `@queue_processor` classes, closed first by `close()`.
        self._workers: list[Any] = []
        self._schedules: Any = None
        self._close_grace = 10.0

    def get(self, token: Any) -> Any:
        """Resolves a provider visible from the root module."""
        return self.container.resolve(token)

    async def get_async(self, token: Any) -> Any:
        return await self.container.resolve_async(token)

    def create_scope(self, context: Any = None) -> ContainerScope:
        return self.container.create_scope(context)

    async def http_app(self, **options: Any) -> "HttpApp":
        """The :class:`omnitron.http.HttpApp` serving the modules' ``@controller`` classes (built by
        the container, with their constructor dependencies) and ``@health_indicator`` providers;
        made on the first call, with ``options`` (the app's options: ``cors``, ``jwt``,
        ``body_limit``, ...). Later calls return it (giving options again is an error)."""
        if self._http is not None:
            if options:
                from .errors import InvalidArgumentError

                raise InvalidArgumentError("the HTTP app is made already: give its options to the first http_app() or listen()")
            return self._http
        from .http._modules import app_of

        self._http = await app_of(self.container, options)
        return self._http

    async def listen(self, port: int = 0, host: str = "127.0.0.1", **options: Any) -> int:
        """Serves the modules' controllers over HTTP on ``host:port`` (0 picks a free port) and
        returns the port; ``options`` as for :meth:`http_app`. :meth:`close` stops serving first,
        letting the requests in flight finish."""
        http = await self.http_app(**options)
        return await http.listen(port, host)

    async def close(self) -> None:
        """Stops serving HTTP (requests in flight are answered first) and hosting the services
        ``create(peer=...)`` exposed (their methods and ``@on_event`` subscriptions), then runs
        every ``on_destroy`` and closes the application. Queue processors stop first: their running
        jobs finish (or are handed back after the grace)."""
        schedules, self._schedules = self._schedules, None
        if schedules is not None:
            try:
                await schedules.close(self._close_grace)
            except Exception:  # its jobs come back after their lease
                pass
        while self._workers:
            try:
                await self._workers.pop().close(self._close_grace)
            except Exception:  # a worker that failed to close: its jobs come back after their lease
                pass
        if self._http is not None:
            await self._http.close()
        while self._exposed:
            peer, name, version = self._exposed.pop()
            try:
                await peer.unexpose(name, version)
            except Exception:  # a closed peer: nothing left to stop
                pass
        await self.container.close()
        from .telemetry import flush_traces, tracing_enabled

        if tracing_enabled():
            await asyncio.get_running_loop().run_in_executor(None, flush_traces)

    async def __aenter__(self) -> "OmnitronApp":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class Omnitron:
    @staticmethod
    @opening("Omnitron.create()")
    @checked_keywords("Omnitron.create()")
    async def create(
        root_module: Any, *, context: Any = None, peer: Any = None, queues: Optional[dict[str, Any]] = None
    ) -> OmnitronApp:
        """Builds the application from its root module: loads it, then ``initialize()`` builds
        every singleton and runs every ``on_init`` (dependencies first, awaited); on failure what was
        built is closed and the error raised. With ``peer`` (an :class:`omnitron.Peer`), every
        ``@service`` class among the modules' providers is then exposed on it (each must be
        resolvable from the root module). Every ``@queue_processor`` class among the providers gets
        a worker; ``queues={"store": "sqlite:jobs.db", "close_grace": 10.0}`` names the store of
        the processors that name none and how long :meth:`OmnitronApp.close` lets their jobs run."""
        from ._options import check_options

        queue_options = dict(queues or {})
        check_options(queue_options, ("store", "close_grace"), "Omnitron.create(): queues")
        # Tracing from the OTEL_* variables (omnitron.yaml's `tracing:` sets them for each process):
        # a bad value fails here, naming the variable.
        import os

        from .telemetry import tracing_from_env

        tracing_from_env(os.environ.get("OMNITRON_CHILD_NAME") or str(getattr(root_module, "__name__", "omnitron")))
        # Logs through the application's logger, unless the program set up logging of its own.
        import logging

        from . import log as _log

        if not logging.getLogger().handlers:
            _log.install()
        container = Container(context=context)
        container._load_root_module(root_module)
        app = OmnitronApp(container)
        try:
            await container.initialize()
            from .di.modules import collect_modules
            from .queue import default_store, deployed_schedules, processor_of, schedules_of, start_processor, start_schedules

            _, _, entries = collect_modules(root_module, lambda _key: False)
            app._close_grace = float(queue_options.get("close_grace", 10.0))
            for e in (e for module in entries for e in module):
                processor = processor_of(e.make) if e.kind == 0 else None
                if processor is not None:
                    instance = await container.resolve_async(e.token)
                    worker = await start_processor(instance, processor, queue_options.get("store"))
                    if worker is not None:
                        app._workers.append(worker)
            scheduled = []
            for e in (e for module in entries for e in module):
                decls = schedules_of(e.make) if e.kind == 0 else []
                if decls:
                    scheduled.append((await container.resolve_async(e.token), decls))
            # The `cron_jobs:` that `omnitron.yaml` gives this process join the decorated schedules.
            if scheduled or deployed_schedules() > 0:
                app._schedules = await start_schedules(scheduled, queue_options.get("store") or default_store())
            if peer is not None:
                from .rpc import _SERVICE

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
