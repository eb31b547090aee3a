"""Services the process tests run in real Python worker processes."""

import asyncio
import os
import time

from omnitron import public, service


@service("echo@1.0.0")
class Echo:
    @public
    async def echo(self, value: object) -> object:
        return value

    @public
    def pid(self) -> int:
        return os.getpid()

    @public
    def sleep(self, seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()

    @public
    async def wait_cancel(self, marker: str) -> None:
        # Says it started (`marker`.started), waits until cancelled, then says so in `marker`.
        with open(marker + ".started", "w") as f:
            f.write("started")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            with open(marker, "w") as f:
                f.write("cancelled")
            raise

    @public
    def env(self, key: str) -> object:
        return os.environ.get(key)

    @public
    def fail(self, message: str) -> None:
        raise ValueError(message)
