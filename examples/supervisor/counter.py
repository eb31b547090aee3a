"""counter@1.0.0: a Python service run by `python -m omnitron.worker counter:Counter`."""

import os

from omnitron import public, service


@service("counter@1.0.0")
class Counter:
    def __init__(self) -> None:
        self.value = int(os.environ.get("COUNTER_START", "0"))

    @public
    def next(self) -> int:
        self.value += 1
        return self.value

    @public
    def pid(self) -> int:
        return os.getpid()
