"""RPC between processes and languages: services by ``name@version``, calls, interfaces and events.

::

    @service("payment@1.0.0")
    class PaymentService:
        @public
        async def charge(self, amount: float) -> dict: ...

        @on_event("order.*")
        async def on_order(self, order: dict) -> None: ...

    server = await Peer.listen("unix:/run/app/rpc.sock", token="...")
    await server.expose(PaymentService())

    client = await Peer.connect("unix:/run/app/rpc.sock", token="...")
    payment = await client.query_interface("payment@^1")
    await payment.charge(10.0)

``async def`` handlers run on the event loop the peer was created on; ``def`` handlers run in a
thread pool, off the event loop. A ``@public`` (async) generator is a streaming method: callers
iterate it with ``async for item in peer.stream(...)`` (or the proxy's method), and the generator
is only advanced as the caller consumes. Values cross as MessagePack: None, bool, int, float, str, bytes,
list, tuple and dict (dataclasses: pass ``dataclasses.asdict(x)``). Deadlines are in seconds."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any, AsyncIterator, Awaitable, Callable, Optional, TypeVar

from . import _batch, _eager, _native, _poll
from ._turn import Turn
from .di.tokens import describe
from .errors import InvalidArgumentError, InvalidServiceError, NotConnectedError, OmnitronError, remote_error

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_SERVICE = "__omnitron_service__"
_PUBLIC = "__omnitron_public__"
_EVENTS = "__omnitron_events__"

_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _threads() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="omnitron-rpc")
        return _pool


def service(id: str) -> Callable[[type[T]], type[T]]:
    """``@service("payment@1.0.0")``: a class whose ``@public`` methods other processes can call."""
    if not isinstance(id, str) or "@" not in id:
        raise InvalidServiceError(f"@service needs 'name@version' (for example 'payment@1.0.0'), got {describe(id)}")
    name, version = id.split("@", 1)
    if not name or not version:
        raise InvalidServiceError(f"@service needs 'name@version', got '{id}'")

    def decorate(cls: type[T]) -> type[T]:
        if not isinstance(cls, type):
            raise InvalidArgumentError(f"@service decorates classes, got {describe(cls)}")
        setattr(cls, _SERVICE, (name, version))
        return cls

    return decorate


def public(f: F) -> F:
    """``@public``: the method can be called over RPC (only these can)."""
    if not callable(f):
        raise InvalidArgumentError(f"@public decorates methods, got {describe(f)}")
    setattr(f, _PUBLIC, True)
    return f


def on_event(pattern: str) -> Callable[[F], F]:
    """``@on_event("order.*")``: the method receives every matching event (``*`` one word, ``#`` any
    number), from any connected process, once the service is exposed."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidArgumentError(f"@on_event needs a pattern such as 'order.*', got {describe(pattern)}")

    def decorate(f: F) -> F:
        patterns = list(getattr(f, _EVENTS, ()))
        patterns.append(pattern)
        setattr(f, _EVENTS, patterns)
        return f

    return decorate


def _answer_error(call: Any, e: BaseException) -> None:
    if isinstance(e, OmnitronError):
        call.err(e.code, e.message, getattr(e, "data", None))
    else:
        call.err("RPC008", f"{type(e).__name__}: {e}", {"type": type(e).__name__})


async def _run_async(fn: Callable[..., Awaitable[Any]], args: list[Any], call: Any) -> None:
    try:
        result = await fn(*args)
    except asyncio.CancelledError:
        call.err("E005", "the call was cancelled")
        raise
    except BaseException as e:  # noqa: BLE001 - every failure goes back to the caller
        _answer_error(call, e)
        return
    try:
        call.ok(result)
    except TypeError:
        pass  # `ok` already answered with the encoding error


def _run_sync(fn: Callable[..., Any], args: list[Any], call: Any) -> None:
    try:
        result = fn(*args)
    except BaseException as e:  # noqa: BLE001
        _answer_error(call, e)
        return
    try:
        call.ok(result)
    except TypeError:
        pass


def _settle_item(fut: "asyncio.Future[tuple[Any, bool]]", value: Any, end: bool, error: Any) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(remote_error(*error))
    else:
        fut.set_result((value, end))


def _settle(fut: "asyncio.Future[Any]", value: Any, error: Any) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(remote_error(*error))
    else:
        fut.set_result(value)


class ServiceProxy:
    """A remote service: each public method is an ``async`` callable."""

    def __init__(self, peer: "Peer", target: str, name: str, version: str, methods: list[str], streams: list[str]) -> None:
        self._peer = peer
        self._target = target
        self.name = name
        self.version = version
        self.methods = list(methods)
        #: The methods that answer with a stream: calling them gives an async iterator.
        self.streams = list(streams)

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        if method.startswith("_"):
            raise AttributeError(method)
        if method not in self.methods:
            raise AttributeError(f"service '{self.name}@{self.version}' has no public method '{method}' (methods: {', '.join(self.methods)})")
        target = f"{self.name}@{self.version}"
        if method in self.streams:

            def stream(*args: Any, deadline: Optional[float] = None) -> AsyncIterator[Any]:
                return self._peer.stream(target, method, *args, deadline=deadline)

            stream.__name__ = method
            return stream  # type: ignore[return-value]

        async def invoke(*args: Any, deadline: Optional[float] = None) -> Any:
            return await self._peer.call(target, method, *args, deadline=deadline)

        invoke.__name__ = method
        return invoke

    def __repr__(self) -> str:
        return f"<ServiceProxy {self.name}@{self.version} {self.methods}>"


class Peer:
    """This process's end of the RPC network: it listens or connects, hosts services, calls them
    and publishes and receives events."""

    def __init__(self, native: _native.NativePeer, loop: asyncio.AbstractEventLoop) -> None:
        self._native = native
        self._loop = loop
        self._starter = _eager.Starter(loop)
        self._turn = Turn(loop)
        self._closed = False
        # Engine threads queue work for Python (handlers to start, answers, events) without taking
        # the GIL; this loop runs it when the inbox's descriptor becomes readable.
        self._fd = native.inbox_fd()
        # Connections are read by this loop too (one wake-up per message, not two): each new one
        # comes through the inbox to _adopt.
        self._conns: set[_native.NativeConnection] = set()
        # While it reads any, the loop polls before it sleeps (_poll.py).
        self._polling = _poll.selector_of(loop)
        native.set_adopt(self._adopt)
        native.set_settle(_settle)
        loop.add_reader(self._fd, native.drain)

    def _adopt(self, conn: _native.NativeConnection) -> None:
        fd = conn.fd()
        self._conns.add(conn)
        if self._polling is not None:
            self._polling.readers += 1

        def readable() -> None:
            if not conn.on_readable():
                self._loop.remove_reader(fd)
                self._conns.discard(conn)
                conn.close()
                if self._polling is not None:
                    self._polling.readers -= 1

        self._loop.add_reader(fd, readable)

    @classmethod
    async def listen(cls, address: str, *, name: str = "python", token: Optional[str] = None, max_frame: Optional[int] = None) -> "Peer":
        """Listens on ``address`` (``unix:/path`` or ``tcp://host:port``; TCP needs a token)."""
        loop = asyncio.get_running_loop()
        native = await loop.run_in_executor(None, lambda: _native.NativePeer.listen(address, name, token, max_frame))
        return cls(native, loop)

    @classmethod
    async def connect(cls, address: str, *, name: str = "python", token: Optional[str] = None, max_frame: Optional[int] = None) -> "Peer":
        """Connects to the peer listening at ``address`` (reconnecting by itself if it drops)."""
        loop = asyncio.get_running_loop()
        native = await loop.run_in_executor(None, lambda: _native.NativePeer.connect(address, name, token, max_frame))
        return cls(native, loop)

    @property
    def address(self) -> Optional[str]:
        """The address it listens on, if it listens."""
        return self._native.address()

    async def expose(self, obj: Any) -> None:
        """Hosts a ``@service`` instance (or class, instantiated without arguments): its ``@public``
        methods become callable, and its ``@on_event`` methods are subscribed."""
        cls = obj if isinstance(obj, type) else type(obj)
        meta = getattr(cls, _SERVICE, None)
        if meta is None:
            raise InvalidArgumentError(f"{describe(obj)} is not a @service class: decorate it with @service('name@1.0.0')")
        instance = obj() if isinstance(obj, type) else obj
        methods: dict[str, Callable[..., Any]] = {}
        events: list[tuple[str, Callable[..., Any]]] = []
        for attr in dir(cls):
            raw = getattr(cls, attr, None)
            if raw is None or not callable(raw):
                continue
            if getattr(raw, _PUBLIC, False):
                methods[attr] = getattr(instance, attr)
            for pattern in getattr(raw, _EVENTS, ()):
                events.append((pattern, getattr(instance, attr)))
        if not methods:
            raise InvalidArgumentError(f"service '{meta[0]}@{meta[1]}' has no @public methods")
        streams = {n: f for n, f in methods.items() if inspect.isasyncgenfunction(f) or inspect.isgeneratorfunction(f)}
        unary = {n: f for n, f in methods.items() if n not in streams}
        # With `$batch`, through which a pool's map sends chunks of items (omnitron/_batch.py).
        dispatch = _batch.wrap(self._dispatcher(unary), unary, _threads, self._starter.start)
        dispatch_stream = self._stream_dispatcher(streams)
        await self._loop.run_in_executor(
            None,
            lambda: self._native.expose(meta[0], meta[1], list(unary), dispatch, list(streams), dispatch_stream),
        )
        for pattern, handler in events:
            await self.subscribe(pattern, handler)

    def _dispatcher(self, methods: dict[str, Callable[..., Any]]) -> Callable[[str, list[Any], Any], Any]:
        start = self._starter.start
        is_async = {name: inspect.iscoroutinefunction(fn) for name, fn in methods.items()}

        def dispatch(method: str, args: list[Any], call: Any) -> Any:
            # On this peer's event loop (the inbox): start the work and return at once.
            fn = methods[method]
            if is_async[method]:
                # Started here: one that answers without waiting is answered by this read.
                # None when it answered during its first step; else what cancels it.
                return start(_run_async(fn, args, call))
            _threads().submit(_run_sync, fn, args, call)
            return None

        return dispatch

    def _stream_dispatcher(self, methods: dict[str, Callable[..., Any]]) -> Callable[[str, list[Any]], Any]:
        loop = self._loop

        def dispatch(method: str, args: list[Any]) -> tuple[Callable[[Any], None], Callable[[], None]]:
            # On this peer's event loop: make the generator; the engine pulls one item at a time.
            gen = methods[method](*args)
            if inspect.isasyncgen(gen):
                agen = gen

                async def step(call: Any) -> None:
                    try:
                        item = await agen.__anext__()
                    except StopAsyncIteration:
                        call.end()
                        return
                    except BaseException as e:  # noqa: BLE001
                        _answer_error(call, e)
                        return
                    try:
                        call.ok(item)
                    except TypeError:
                        pass

                def pull(call: Any) -> None:
                    loop.create_task(step(call))

                def stop() -> None:
                    loop.create_task(agen.aclose())

                return pull, stop

            sync_gen = gen

            def step_sync(call: Any) -> None:
                try:
                    item = next(sync_gen)
                except StopIteration:
                    call.end()
                    return
                except BaseException as e:  # noqa: BLE001
                    _answer_error(call, e)
                    return
                try:
                    call.ok(item)
                except TypeError:
                    pass

            def pull_sync(call: Any) -> None:
                _threads().submit(step_sync, call)

            def stop_sync() -> None:
                _threads().submit(sync_gen.close)

            return pull_sync, stop_sync

        return dispatch

    async def stream(self, target: str, method: str, *args: Any, deadline: Optional[float] = None) -> AsyncIterator[Any]:
        """Calls a streaming method: its items, as they come (the callee waits while they are not
        consumed). Leaving the loop early stops the callee."""
        loop = asyncio.get_running_loop()
        native = await loop.run_in_executor(None, lambda: self._native.stream(target, method, list(args), deadline))
        try:
            while True:
                fut: asyncio.Future[tuple[Any, bool]] = loop.create_future()

                def done(value: Any, end: bool, error: Any, fut: "asyncio.Future[tuple[Any, bool]]" = fut) -> None:
                    _settle_item(fut, value, end, error)

                native.next(done)
                value, end = await fut
                if end:
                    return
                yield value
        finally:
            native.close()

    async def unexpose(self, name: str, version: str) -> bool:
        """Stops hosting ``name@version``."""
        return await self._loop.run_in_executor(None, lambda: self._native.unexpose(name, version))

    async def call(self, target: str, method: str, *args: Any, deadline: Optional[float] = None) -> Any:
        """Calls ``method`` of ``target`` (``payment``, ``payment@1.0.0``, ``payment@^1``). Errors
        come back as the :class:`OmnitronError` subclass of their code; cancelling the awaiting task
        cancels the remote call."""
        if self._closed:
            raise NotConnectedError("this peer was closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if loop is self._loop:
            # The inbox runs on this loop: the answer settles the future there directly. The calls
            # of one loop turn are written together (in slices), at the latest when it ends.
            self._turn.open()
            pending = self._native.call_future(target, method, args, deadline, fut)
        else:

            def done(value: Any, error: Any) -> None:
                # Run by the inbox on the peer's loop: a caller on another loop gets it thread-safely.
                loop.call_soon_threadsafe(_settle, fut, value, error)

            pending = self._native.call(target, method, list(args), deadline, done)
        try:
            return await fut
        except asyncio.CancelledError:
            pending.cancel()
            raise

    def call_sync(self, target: str, method: str, *args: Any, deadline: Optional[float] = None) -> Any:
        """:meth:`call` for synchronous code (blocks this thread; not on the event loop)."""
        return self._native.call_blocking(target, method, list(args), deadline)

    async def query_interface(self, target: str) -> ServiceProxy:
        """The service ``target`` resolves to, as an object whose public methods are awaitable."""
        info = await self.call("$registry", "describe", target)
        return ServiceProxy(self, target, info["name"], info["version"], info["methods"], info.get("streams", []))

    async def publish(self, topic: str, payload: Any = None) -> None:
        """Publishes an event to every matching subscriber in every connected process."""
        self._native.publish(topic, payload)

    async def subscribe(self, pattern: str, handler: Callable[[Any], Any]) -> int:
        """Calls ``handler(payload)`` (``async`` or not) on this peer's event loop for every matching
        event. Returns the subscription id."""
        if not callable(handler):
            raise InvalidArgumentError(f"an event handler must be callable, got {describe(handler)}")
        loop = self._loop

        def deliver(topic: str, payload: Any) -> None:
            # On this peer's loop (the inbox).
            r = handler(payload)
            if inspect.isawaitable(r):
                asyncio.ensure_future(r, loop=loop)

        return self._native.subscribe(pattern, deliver)

    async def unsubscribe(self, subscription: int) -> bool:
        return self._native.unsubscribe(subscription)

    def services(self) -> list[dict[str, Any]]:
        """The services this peer routes to (hosted here or by connected peers)."""
        return [{"name": n, "version": v, "methods": m} for n, v, m in self._native.services()]

    async def close(self) -> None:
        """Closes every connection; calls in flight fail with ``PeerDisconnectedError``."""
        self._closed = True
        self._turn.end()  # What this turn's calls queued goes out before the connections close.
        await self._loop.run_in_executor(None, self._native.shutdown)
        self._native.drain()
        for conn in list(self._conns):
            conn.on_readable()  # Reads the end of the connection: its calls fail now, not later.
            self._loop.remove_reader(conn.fd())
            conn.close()
        if self._polling is not None:
            self._polling.readers -= len(self._conns)
        self._conns.clear()
        self._loop.remove_reader(self._fd)
        self._starter.close()

    async def __aenter__(self) -> "Peer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["Peer", "ServiceProxy", "service", "public", "on_event"]
