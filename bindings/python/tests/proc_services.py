"""Services the process tests run in real Python worker processes."""

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
    def env(self, key: str) -> object:
        return os.environ.get(key)

    @public
    def fail(self, message: str) -> None:
        raise ValueError(message)
