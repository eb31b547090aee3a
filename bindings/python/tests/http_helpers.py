"""A real HTTP client for the HTTP tests: the standard library's ``http.client`` over a socket, run
in a thread so the event loop serving the handlers keeps going."""

import asyncio
import http.client
import json
from typing import Any, Optional


def fetch(
    port: int, method: str, path: str, body: Any = None, headers: Optional[dict[str, str]] = None, timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection: ``(status, headers by lower-case name, body)``; a dict or
    list body is sent as JSON."""
    hs = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hs.setdefault("content-type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hs)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


async def afetch(port: int, method: str, path: str, body: Any = None, headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], bytes]:
    """:func:`fetch` from a thread, awaited."""
    return await asyncio.get_running_loop().run_in_executor(None, lambda: fetch(port, method, path, body, headers))
