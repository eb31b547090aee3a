"""Worker classes the spec's examples name but do not show (stubs), run as child processes by
test_spec_examples.py: the children of section 3.2's ApiSupervisor and the pool workers of 3.3."""

import os
from typing import Any

from omnitron import public, service


@service("api-worker@1.0.0")
class ApiWorkerProcess:
    @public
    def pid(self) -> int:
        return os.getpid()


@service("websocket-handler@1.0.0")
class WebSocketProcess:
    @public
    def pid(self) -> int:
        return os.getpid()


@service("data-processor@1.0.0")
class DataProcessor:
    @public
    def process(self, item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "done": True}
