"""greeter@1.0.0: its @public methods can be called in this process, and over RPC from any process
of the application, in any language (omnitron.yaml runs it as its own process)."""

import os
from typing import Optional

from omnitron import injectable, public, service

from .config import AppConfig


@service("greeter@1.0.0")
@injectable
class Greeter:
    def __init__(self, config: Optional[AppConfig] = None) -> None:
        # Injected by the container (Omnitron.create); `python -m omnitron.worker` builds Greeter()
        # with no arguments, and then it reads its settings itself.
        self.config = config or AppConfig()

    # A `def` method runs in a thread pool when called over RPC, an `async def` on the event loop.
    @public
    def greet(self, name: str) -> str:
        if not name:
            raise ValueError("name must not be empty")
        return f"{self.config.greeting}, {name}!"

    @public
    def pid(self) -> int:
        return os.getpid()
