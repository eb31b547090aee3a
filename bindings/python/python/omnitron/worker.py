"""Run Python services as a child of an Omnitron parent (a pool, a supervisor, ``omnitron start``).

The one line::

    python -m omnitron.worker inventory:InventoryService [more.module:Other ...]

or from code::

    asyncio.run(omnitron.worker.serve(InventoryService()))

The parent passes its address, a token and this child's id in the environment; the worker connects
back, exposes the services, reports ready, and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
from typing import Any

from .errors import InvalidArgumentError, NoParentError
from .rpc import Peer

ENV_PARENT = "OMNITRON_PARENT"
ENV_TOKEN = "OMNITRON_TOKEN"
ENV_CHILD_ID = "OMNITRON_CHILD_ID"
ENV_CHILD_NAME = "OMNITRON_CHILD_NAME"
ENV_CHILD_INDEX = "OMNITRON_CHILD_INDEX"
HOST_SERVICE = "omnitron.host@1.0.0"

__all__ = ["connect_to_parent", "report_ready", "serve", "load", "main"]


async def connect_to_parent() -> Peer:
    """Connects to the parent named in the environment, under this child's id."""
    address = os.environ.get(ENV_PARENT)
    child_id = os.environ.get(ENV_CHILD_ID)
    if not address or not child_id:
        raise NoParentError(
            f"this worker has no parent: {ENV_PARENT} and {ENV_CHILD_ID} are not set "
            "(start it from a pool, a supervisor or `omnitron start`)"
        )
    return await Peer.connect(address, name=child_id, token=os.environ.get(ENV_TOKEN) or None)


async def report_ready(peer: Peer) -> None:
    """Tells the parent this child is ready: call after exposing every service."""
    await peer.call(HOST_SERVICE, "ready", os.environ.get(ENV_CHILD_ID, ""), deadline=10.0)


async def serve(*services: Any) -> None:
    """Connects to the parent, exposes ``services`` (``@service`` instances), reports ready, and
    serves until SIGTERM or SIGINT."""
    peer = await connect_to_parent()
    try:
        for s in services:
            await peer.expose(s)
        await report_ready(peer)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await peer.close()


def load(spec: str) -> Any:
    """``module:Name`` -> an instance: a class is called with no arguments, a function is called,
    anything else is used as it is."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidArgumentError(f"expected module:Name (for example inventory:InventoryService), got '{spec}'")
    module = importlib.import_module(module_name)
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise InvalidArgumentError(f"module '{module_name}' has no '{attr}'") from None
    return obj() if callable(obj) else obj


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m omnitron.worker module:Service [module:Service ...]")
        return 0 if args else 2
    # The working directory (the config's directory) is where the service modules live.
    sys.path.insert(0, os.getcwd())
    try:
        services = [load(a) for a in args]
        asyncio.run(serve(*services))
    except NoParentError as e:
        print(f"omnitron.worker: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
