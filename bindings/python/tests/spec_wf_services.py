"""The process classes of spec 3.2's ApiSupervisor, run as its children (test_spec_examples_wf.py)."""

import os

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
