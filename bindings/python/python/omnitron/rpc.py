"""RPC between processes and languages: services by ``name@version``, calls, interfaces and events.

::

    import asyncio, tempfile
    from omnitron import Peer, emit_event, on_event, public, service
    from omnitron.rpc import proxy_info

    @service("payment@1.0.0")
    class PaymentService:
        @public
        async def charge(self, amount: float) -> dict:
            return {"charged": amount}

        @on_event("order.*")
        async def on_order(self, order: dict, topic: str) -> None:
            print("order event", topic, order)

    @service("notifications")  # version 1.0.0
    class NotificationService:
        @emit_event("notification.sent")
        async def notify(self, to: str) -> dict:
            return {"to": to}

    async def main() -> None:
        address = f"unix:{tempfile.mkdtemp()}/app/rpc.sock"
        server = await Peer.listen(address, token="s3cret")
        await server.expose(PaymentService())
        notifications = NotificationService()
        await server.expose(notifications)

        client = await Peer.connect(address, token="s3cret")
        sent = asyncio.Event()
        await client.subscribe("notification.sent", lambda payload, topic: sent.set())
        payment = await client.query_interface("payment@^1")
        print(proxy_info(payment).version, await payment.charge(10.0))
        await client.publish("order.created", {"id": 1})
        await notifications.notify("ann@example.com")
        await asyncio.wait_for(sent.wait(), 5)
        await client.close()
        await server.close()

    asyncio.run(main())

``async def`` handlers run on the event loop the peer was created on; ``def`` handlers run in a
thread pool, off the event loop. A ``@public`` (async) generator is a streaming method: callers
iterate it with ``async for item in peer.stream(...)`` (or the proxy's method), and the generator
is only advanced as the caller consumes. Values cross as MessagePack: None, bool, int, float, str, bytes,
list, tuple and dict (dataclasses: pass ``dataclasses.asdict(x)``). Deadlines are in seconds.

Event handlers (``subscribe``, ``@on_event``) get ``(payload, topic)``; one that takes a single
positional parameter gets only the payload. ``await peer.subscribe(...)`` and ``await
peer.expose(...)`` return once the subscriptions are active: an event published after that, by any
process, reaches them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import dataclasses
import functools
import inspect
import threading
import weakref
from typing import Any, AsyncIterator, Awaitable, Callable, ClassVar, NoReturn, Optional, TypeVar, Union, overload

from . import _batch, _eager, _native, _poll
from . import log as _log
from . import telemetry as _telemetry
from ._background import log, spawn
from ._opening import opening
from ._options import check_keys, checked_keywords
from ._turn import Turn
from .di.tokens import describe
from .errors import InvalidArgumentError, InvalidServiceError, NotConnectedError, OmnitronError, remote_error

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

_SERVICE = "__omnitron_service__"
_PUBLIC = "__omnitron_public__"
_EVENTS = "__omnitron_events__"

_CALL_KEYS = ("deadline",)

_pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _threads() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="omnitron-rpc")
        return _pool


#: The version of a service declared without one: ``@service("notifications")`` is ``notifications@1.0.0``.
DEFAULT_VERSION = "1.0.0"


def _service_meta(name: str, version: Optional[str]) -> tuple[str, str]:
    """``(name, version)`` checked by the engine (RPC010 when either is invalid)."""
    if version is None:
        return _native.parse_service_id(name)
    if "@" in name:
        raise InvalidArgumentError(f"@service(): give the version in the name ('{name}') or as version=, not both")
    return _native.parse_service_id(f"{name}@{version}")


@overload
def service(name: type[T], /) -> type[T]: ...


@overload
def service(name: Optional[str] = None, *, version: Optional[str] = None) -> Callable[[type[T]], type[T]]: ...


@checked_keywords("@service()")
def service(name: Union[str, type, None] = None, *, version: Optional[str] = None) -> Any:
    """``@service("payment@1.0.0")``: a class whose ``@public`` methods other processes can call,
    and whose ``@on_event`` methods receive events once it is exposed. Also ``@service("notifications")``
    (version 1.0.0), ``@service`` / ``@service()`` (named after the class) and
    ``@service(name="ledger", version="2.1.0")``. A service is reachable by its bare name, its exact
    version and any range that matches (``payment@^1``)."""
    if isinstance(name, type):
        if version is not None:
            raise InvalidArgumentError("@service(version=...) takes the class as its decorated argument, not positionally")
        cls = name
        setattr(cls, _SERVICE, _service_meta(cls.__name__, None))
        return cls
    if name is not None and not isinstance(name, str):
        raise InvalidArgumentError(f"@service() takes a name ('payment' or 'payment@1.0.0'), got {describe(name)}")
    if version is not None and not isinstance(version, str):
        raise InvalidArgumentError(f"@service()'s version is a string such as '1.0.0', got {describe(version)}")
    meta = None if name is None else _service_meta(name, version)

    def decorate(cls: type[T]) -> type[T]:
        if not isinstance(cls, type):
            raise InvalidArgumentError(f"@service decorates classes, got {describe(cls)}")
        setattr(cls, _SERVICE, meta or _service_meta(cls.__name__, version))
        return cls

    return decorate


@overload
def public(f: F, /) -> F: ...


@overload
def public() -> Callable[[F], F]: ...


def public(f: Optional[F] = None) -> Any:
    """``@public`` (or ``@public()``): the method can be called over RPC (only these can)."""
    if f is None:
        return public
    if not callable(f):
        raise InvalidArgumentError(f"@public decorates methods, got {describe(f)}")
    setattr(f, _PUBLIC, True)
    return f


def on_event(pattern: str) -> Callable[[F], F]:
    """``@on_event("order.*")``: the method receives every matching event (``*`` one word, ``#`` any
    number), from any connected process, once the service is exposed: ``(payload, topic)``, or only
    the payload if it takes one parameter besides ``self``."""
    if not isinstance(pattern, str) or not pattern:
        raise InvalidArgumentError(f"@on_event needs a pattern such as 'order.*', got {describe(pattern)}")

    def decorate(f: F) -> F:
        patterns = list(getattr(f, _EVENTS, ()))
        patterns.append(pattern)
        setattr(f, _EVENTS, patterns)
        return f

    return decorate


def emit_event(topic: str) -> Callable[[F], F]:
    """``@emit_event("notification.sent")``: what the method returns (awaited for ``async def``) is
    published as that event, through the peer that exposes the service, else :attr:`Peer.default`
    (nothing is published when there is neither). Failing to publish fails the call."""
    if not isinstance(topic, str) or not topic:
        raise InvalidArgumentError(f"@emit_event needs a topic such as 'notification.sent', got {describe(topic)}")

    def decorate(f: F) -> F:
        if not callable(f) or inspect.isasyncgenfunction(f) or inspect.isgeneratorfunction(f):
            raise InvalidArgumentError(f"@emit_event decorates methods that return a value, got {describe(f)}")
        if inspect.iscoroutinefunction(f):

            @functools.wraps(f)
            async def emitting_async(self: Any, *args: Any, **kwargs: Any) -> Any:
                result = await f(self, *args, **kwargs)
                _emit(self, topic, result)
                return result

            return emitting_async  # type: ignore[return-value]

        @functools.wraps(f)
        def emitting(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = f(self, *args, **kwargs)
            _emit(self, topic, result)
            return result

        return emitting  # type: ignore[return-value]

    return decorate


#: The peer that exposes each service instance (for ``@emit_event``), without keeping either alive.
_EXPOSED_BY: "weakref.WeakKeyDictionary[Any, weakref.ref[Peer]]" = weakref.WeakKeyDictionary()
_PEER_ATTR = "__omnitron_peer__"


def _remember_peer(instance: Any, peer: "Peer") -> None:
    try:
        _EXPOSED_BY[instance] = weakref.ref(peer)
    except TypeError:  # Not weakly referenceable or not hashable: kept on the instance instead.
        try:
            setattr(instance, _PEER_ATTR, weakref.ref(peer))
        except (AttributeError, TypeError):
            pass


def _emit(instance: Any, topic: str, value: Any) -> None:
    try:
        ref = _EXPOSED_BY.get(instance)
    except TypeError:
        ref = None
    ref = ref or getattr(instance, _PEER_ATTR, None)
    peer = ref() if ref is not None else None
    if peer is None or peer._closed:
        peer = Peer.default
    if peer is not None and not peer._closed:
        peer._native.publish(topic, value)


def _event_caller(handler: Callable[..., Any]) -> Callable[[Any, str], Any]:
    """``handler`` called as ``(payload, topic)``, or ``(payload)`` when it takes one positional
    parameter: decided once, from its signature. One that can take neither is refused (E001), not
    left to fail at every event."""
    try:
        sig = inspect.signature(handler)
    except ValueError:  # No signature to read (some builtins): given both.
        return handler
    for args in ((None, None), (None,)):
        try:
            sig.bind(*args)
        except TypeError:
            continue
        return handler if len(args) == 2 else (lambda payload, topic: handler(payload))
    raise InvalidArgumentError(f"an event handler takes (payload, topic) or (payload), not {sig}")


def _answer_error(call: Any, e: BaseException) -> None:
    w = _batch.wire_error(e)
    call.err(w["code"], w["message"], w.get("data"))


async def _run_async(fn: Callable[..., Awaitable[Any]], args: list[Any], call: Any) -> None:
    try:
        result = await fn(*args)
    except OmnitronError as e:  # An engine error (E005 included) is the handler's own failure.
        _answer_error(call, e)
        return
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


@dataclasses.dataclass(frozen=True)
class ServiceInfo:
    """What a peer knows of a service: what :func:`proxy_info` returns."""

    name: str
    version: str
    methods: list[str]
    #: The methods that answer with a stream: calling them gives an async iterator.
    streams: list[str]


class ServiceProxy:
    """A remote service: each of its public methods is an attribute of that name, ``async`` (streams:
    an async iterator), whatever the name (``proxy.version()`` calls a remote ``version``). Which
    service it stands for is :func:`proxy_info`'s answer. Dunder names are Python's own: call a
    remote ``__x__`` with ``peer.call()``. Each method takes ``deadline=`` (seconds).

    A proxy from :meth:`Peer.query_interface` knows the service's interface (a method it does not
    have is an ``AttributeError`` at once); one from :meth:`Peer.proxy` or :func:`inject_process`
    does not look it up: every attribute is a remote call, checked by the callee."""

    __slots__ = ("__peer", "__info", "__deadline", "__target")

    def __init__(
        self, peer: "Peer", info: Optional[ServiceInfo], deadline: Optional[float] = None, target: Optional[str] = None
    ) -> None:
        self.__peer = peer
        self.__info = info
        self.__deadline = deadline
        self.__target = target if info is None else f"{info.name}@{info.version}"

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("__") and method.endswith("__"):
            raise AttributeError(method)
        info = self.__info
        target: str = self.__target  # type: ignore[assignment]
        if info is None:
            return self.__invoke(target, method)
        if method not in info.methods:
            listed = f"methods: {', '.join(info.methods)}" if info.methods else "it has none"
            raise AttributeError(f"service '{target}' has no public method '{method}' ({listed})")
        peer, default = self.__peer, self.__deadline
        if method in info.streams:

            def stream(*args: Any, deadline: Optional[float] = default, **unknown: NoReturn) -> AsyncIterator[Any]:
                if unknown:
                    check_keys(unknown, ("deadline",), f"{target}.{method}()")
                return peer.stream(target, method, *args, deadline=deadline)

            stream.__name__ = method
            return stream
        return self.__invoke(target, method)

    def __invoke(self, target: str, method: str) -> Callable[..., Awaitable[Any]]:
        peer, default = self.__peer, self.__deadline

        async def invoke(*args: Any, deadline: Optional[float] = default, **unknown: NoReturn) -> Any:
            if unknown:
                check_keys(unknown, ("deadline",), f"{target}.{method}()")
            return await peer.call(target, method, *args, deadline=deadline)

        invoke.__name__ = method
        return invoke

    def __dir__(self) -> list[str]:
        info = self.__info
        return sorted(set(super().__dir__()) | set(info.methods if info is not None else ()))

    def __repr__(self) -> str:
        info = self.__info
        if info is None:
            return f"<ServiceProxy {self.__target} (unchecked)>"
        return f"<ServiceProxy {info.name}@{info.version} {info.methods}>"


def proxy_info(proxy: ServiceProxy) -> Optional[ServiceInfo]:
    """The service ``proxy`` stands for: name, version, public methods and streams (``None`` for a
    proxy that did not look it up: :meth:`Peer.proxy`, :func:`inject_process`). A function, not
    attributes of the proxy, so that no remote method's name is hidden."""
    if not isinstance(proxy, ServiceProxy):
        raise InvalidArgumentError(f"proxy_info() takes a ServiceProxy (from query_interface), got {describe(proxy)}")
    info: Optional[ServiceInfo] = object.__getattribute__(proxy, "_ServiceProxy__info")
    return info


class inject_process:  # noqa: N801 - used like a function, as the spec's @InjectProcess
    """``payment = inject_process(PaymentService)`` (or ``inject_process("payment@^1")``) as a class
    attribute: on first access from an instance, a :class:`ServiceProxy` of that service through
    ``peer`` (a :class:`Peer`, or a function giving one), else :attr:`Peer.default`; kept on the
    instance after that. The spec's ``@InjectProcess(PaymentService)``. The proxy does not look the
    service up: each call is checked by the callee (``RPC001`` / ``RPC002``)."""

    def __init__(self, service: Union[type, str], *, peer: Union["Peer", Callable[[], Optional["Peer"]], None] = None) -> None:
        if isinstance(service, str):
            if not service or service.isspace():
                raise InvalidArgumentError("inject_process() needs a service: a @service class or 'name@range'")
            self.target = service
        elif isinstance(service, type) and getattr(service, _SERVICE, None) is not None:
            name, version = getattr(service, _SERVICE)
            self.target = f"{name}@{version}"
        else:
            raise InvalidArgumentError(f"inject_process() takes a @service class or 'name@range', got {describe(service)}")
        if peer is not None and not isinstance(peer, Peer) and not callable(peer):
            raise InvalidArgumentError(f"inject_process(peer=) takes a Peer or a function giving one, got {describe(peer)}")
        self._peer = peer
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: Optional[type] = None) -> "inject_process": ...

    @overload
    def __get__(self, instance: object, owner: Optional[type] = None) -> ServiceProxy: ...

    def __get__(self, instance: Optional[object], owner: Optional[type] = None) -> Any:
        if instance is None:
            return self
        p = self._peer
        peer = p if isinstance(p, Peer) else (p() if p is not None else None) or Peer.default
        if peer is None or peer._closed:
            raise NotConnectedError(
                f"inject_process('{self.target}'): no peer: create one with Peer.listen() or Peer.connect() first"
            )
        proxy = peer.proxy(self.target)
        if self._name:
            try:
                instance.__dict__[self._name] = proxy
            except AttributeError:  # __slots__: looked up again next time
                pass
        return proxy


class Peer:
    """This process's end of the RPC network: it listens or connects, hosts services, calls them
    and publishes and receives events."""

    #: The peer :func:`inject_process` and ``@emit_event`` use when none is given: the last one
    #: created (until it is closed), as Node's ``Peer.default``.
    default: ClassVar[Optional["Peer"]] = None

    def __init__(self, native: _native.NativePeer, loop: asyncio.AbstractEventLoop) -> None:
        Peer.default = self
        self._native = native
        self._loop = loop
        self._starter = _eager.Starter(loop)
        self._turn = Turn(loop)
        self._closed = False
        # The `@on_event` subscriptions of each service `expose` set up, undone by `unexpose`.
        self._exposed: dict[tuple[str, str], list[int]] = {}
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
    @opening("Peer.listen()")
    @checked_keywords("Peer.listen()")
    async def listen(cls, address: str, *, name: str = "python", token: Optional[str] = None, max_frame: Optional[int] = None) -> "Peer":
        """Listens on ``address`` (``unix:/path`` or ``tcp://host:port``; TCP needs a token)."""
        loop = asyncio.get_running_loop()
        native = await loop.run_in_executor(None, lambda: _native.NativePeer.listen(address, name, token, max_frame))
        return cls(native, loop)

    @classmethod
    @opening("Peer.connect()")
    @checked_keywords("Peer.connect()")
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
        methods become callable, and its ``@on_event`` methods are subscribed. Returns once those
        subscriptions are active; if one cannot be made (the peer is reconnecting past its
        deadline), nothing of the service stays exposed."""
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
        streams = {n: f for n, f in methods.items() if inspect.isasyncgenfunction(f) or inspect.isgeneratorfunction(f)}
        unary = {n: f for n, f in methods.items() if n not in streams}
        # With `$batch`, through which a pool's map sends chunks of items (omnitron/_batch.py).
        dispatch = _log.named_dispatch(
            meta[0], _telemetry.traced_dispatch(_batch.wrap(self._dispatcher(unary), unary, _threads, self._starter.start))
        )
        dispatch_stream = _log.named_stream_dispatch(meta[0], self._stream_dispatcher(streams))
        name, version = meta
        await self._loop.run_in_executor(
            None,
            lambda: self._native.expose(name, version, list(unary), dispatch, list(streams), dispatch_stream),
        )
        _remember_peer(instance, self)
        subscribed: list[int] = []
        self._exposed[(name, version)] = subscribed
        try:
            for pattern, handler in events:
                subscribed.append(await self.subscribe(pattern, handler))
        except BaseException:
            await self.unexpose(name, version)
            raise

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
            # The thread runs it in this context: its call and trace go with it.
            _threads().submit(contextvars.copy_context().run, _run_sync, fn, args, call)
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
                    h = call.trace
                    if h is None:
                        loop.create_task(step(call))
                    else:
                        # The task copies this context: the generator steps in the call's trace.
                        with _telemetry.in_trace(h):
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
                h = call.trace
                if h is None:
                    # In this context: the call's names go with it.
                    _threads().submit(contextvars.copy_context().run, step_sync, call)
                else:
                    with _telemetry.in_trace(h):
                        _threads().submit(contextvars.copy_context().run, step_sync, call)

            def stop_sync() -> None:
                _threads().submit(sync_gen.close)

            return pull_sync, stop_sync

        return dispatch

    async def stream(
        self, target: str, method: str, *args: Any, deadline: Optional[float] = None, **unknown: NoReturn
    ) -> AsyncIterator[Any]:
        """Calls a streaming method: its items, as they come (the callee waits while they are not
        consumed). Leaving the loop early stops the callee."""
        if unknown:
            check_keys(unknown, _CALL_KEYS, "Peer.stream()")
        loop = asyncio.get_running_loop()
        trace = _telemetry.current_trace()
        native = await loop.run_in_executor(None, lambda: self._native.stream(target, method, list(args), deadline, trace))
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
        """Stops hosting ``name@version``: its methods can no longer be called and its ``@on_event``
        methods get no more events. False if it was not hosted here."""
        for sub in self._exposed.pop((name, version), ()):
            self._native.unsubscribe(sub)
        return await self._loop.run_in_executor(None, lambda: self._native.unexpose(name, version))

    async def call(
        self, target: str, method: str, *args: Any, deadline: Optional[float] = None, **unknown: NoReturn
    ) -> Any:
        """Calls ``method`` of ``target`` (``payment``, ``payment@1.0.0``, ``payment@^1``). Errors
        come back as the :class:`OmnitronError` subclass of their code; cancelling the awaiting task
        cancels the remote call."""
        if unknown:
            check_keys(unknown, _CALL_KEYS, "Peer.call()")
        if self._closed:
            raise NotConnectedError("this peer was closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        trace = _telemetry.current_trace()
        if loop is self._loop:
            # The inbox runs on this loop: the answer settles the future there directly. The calls
            # of one loop turn are written together (in slices), at the latest when it ends.
            self._turn.open()
            pending = self._native.call_future(target, method, args, deadline, fut, trace)
        else:

            def done(value: Any, error: Any) -> None:
                # Run by the inbox on the peer's loop: a caller on another loop gets it thread-safely.
                loop.call_soon_threadsafe(_settle, fut, value, error)

            pending = self._native.call(target, method, list(args), deadline, done, trace)
        try:
            return await fut
        except asyncio.CancelledError:
            pending.cancel()
            raise

    def call_sync(
        self, target: str, method: str, *args: Any, deadline: Optional[float] = None, **unknown: NoReturn
    ) -> Any:
        """:meth:`call` for synchronous code (blocks this thread; not on the event loop)."""
        if unknown:
            check_keys(unknown, _CALL_KEYS, "Peer.call_sync()")
        return self._native.call_blocking(target, method, list(args), deadline, _telemetry.current_trace())

    async def query_interface(self, target: str, *, deadline: Optional[float] = None, **unknown: NoReturn) -> ServiceProxy:
        """The service ``target`` resolves to, as an object whose public methods are awaitable
        (``deadline``, in seconds: for this look-up and, by default, for the proxy's calls).
        :func:`proxy_info` tells which service it is."""
        if unknown:
            check_keys(unknown, _CALL_KEYS, "Peer.query_interface()")
        d = await self.call("$registry", "describe", target, deadline=deadline)
        info = ServiceInfo(d["name"], d["version"], list(d["methods"]), list(d.get("streams", [])))
        return ServiceProxy(self, info, deadline)

    def proxy(self, target: str, *, deadline: Optional[float] = None, **unknown: NoReturn) -> ServiceProxy:
        """A proxy of ``target`` (``payment``, ``payment@^1``) that does not look the service up:
        every attribute is a remote call (``await proxy.charge(10)``), checked by the callee. See
        :meth:`query_interface` for one that knows the interface (and its streams)."""
        if unknown:
            check_keys(unknown, _CALL_KEYS, "Peer.proxy()")
        if not isinstance(target, str) or not target:
            raise InvalidArgumentError(f"proxy() needs a target such as 'payment@^1', got {describe(target)}")
        return ServiceProxy(self, None, deadline, target)

    async def publish(self, topic: str, payload: Any = None) -> None:
        """Publishes an event to every matching subscriber in every connected process."""
        if not isinstance(topic, str):
            raise InvalidArgumentError(f"publish() needs a topic such as 'order.created', got {describe(topic)}")
        self._native.publish(topic, payload, _telemetry.current_trace())

    async def subscribe(self, pattern: str, handler: Callable[..., Any]) -> int:
        """Calls ``handler(payload, topic)`` (``async`` or not; ``handler(payload)`` if it takes one
        positional parameter) on this peer's event loop for every event matching ``pattern``
        (``order.*``, ``order.#``), from any connected process. Returns the subscription id once it
        is active: an event published anywhere after that reaches ``handler`` (a listening peer's
        is active at once; a connected peer's once its server has it, one round trip). While the
        peer is reconnecting it waits for the connection up to the default deadline (5 s), then
        raises :class:`NotConnectedError` and subscribes nothing."""
        if not isinstance(pattern, str):
            raise InvalidArgumentError(f"subscribe() needs a pattern such as 'order.*', got {describe(pattern)}")
        if not callable(handler):
            raise InvalidArgumentError(f"an event handler must be callable, got {describe(handler)}")
        if self._closed:
            raise NotConnectedError("this peer was closed")
        call = _event_caller(handler)
        loop, here = self._loop, asyncio.get_running_loop()

        def deliver(topic: str, payload: Any, trace: Optional[_telemetry.TraceHeaders] = None) -> None:
            # On this peer's loop (the inbox); in the publisher's trace, when it had one.
            try:
                if trace is None:
                    r = call(payload, topic)
                else:
                    with _telemetry.in_trace(trace):
                        r = call(payload, topic)
                        if inspect.isawaitable(r):
                            # The task copies this context: the handler runs in the trace.
                            spawn(r, f"the handler of '{pattern}' for event '{topic}'", loop)
                            return
            except Exception:  # noqa: BLE001 - a failing handler does not stop delivery to others
                log.exception("the handler of '%s' failed for event '%s'", pattern, topic)
                return
            if inspect.isawaitable(r):
                spawn(r, f"the handler of '{pattern}' for event '{topic}'", loop)

        active: asyncio.Future[Any] = here.create_future()

        def done(error: Any) -> None:
            # Run by the inbox on the peer's loop.
            if here is loop:
                _settle(active, None, error)
            else:
                here.call_soon_threadsafe(_settle, active, None, error)

        sub = self._native.subscribe(pattern, deliver, done)
        try:
            await active
        except asyncio.CancelledError:
            # Whoever waited has no id to unsubscribe with: nothing stays subscribed.
            self._native.unsubscribe(sub)
            raise
        return sub

    async def unsubscribe(self, subscription: int) -> bool:
        """Removes a subscription; False if it did not exist."""
        return self._native.unsubscribe(subscription)

    def services(self) -> list[dict[str, Any]]:
        """The services this peer routes to (hosted here or by connected peers)."""
        return [{"name": n, "version": v, "methods": m} for n, v, m in self._native.services()]

    async def close(self) -> None:
        """Closes every connection; calls in flight fail with ``PeerDisconnectedError``."""
        self._closed = True
        if Peer.default is self:
            Peer.default = None
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
        # The spans of its last calls reach the collector before the process goes.
        if _telemetry.tracing_enabled():
            await self._loop.run_in_executor(None, _telemetry.flush_traces)
        self._starter.close()

    async def __aenter__(self) -> "Peer":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = [
    "DEFAULT_VERSION",
    "Peer",
    "ServiceInfo",
    "ServiceProxy",
    "emit_event",
    "inject_process",
    "on_event",
    "proxy_info",
    "public",
    "service",
]
