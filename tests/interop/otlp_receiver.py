"""An OTLP/HTTP trace receiver for the cross-language tests: decodes every export request with
the official ``opentelemetry-proto`` package and prints each span as one JSON line. Prints
``port N`` first; serves until stdin closes."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

lock = threading.Lock()


def value(v: Any) -> Any:
    return getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path != "/v1/traces" or self.headers["Content-Type"] != "application/x-protobuf":
            self.send_response(404)
            self.end_headers()
            return
        req = ExportTraceServiceRequest.FromString(body)
        lines = []
        for rs in req.resource_spans:
            res = {kv.key: value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    lines.append(
                        json.dumps(
                            {
                                "service": res.get("service.name"),
                                "language": res.get("telemetry.sdk.language"),
                                "name": s.name,
                                "kind": s.kind,
                                "trace": s.trace_id.hex(),
                                "span": s.span_id.hex(),
                                "parent": s.parent_span_id.hex(),
                                "status": s.status.code,
                                "attributes": {kv.key: value(kv.value) for kv in s.attributes},
                            }
                        )
                    )
        with lock:
            for line in lines:
                print(line, flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"port {server.server_address[1]}", flush=True)
sys.stdin.read()
server.shutdown()
