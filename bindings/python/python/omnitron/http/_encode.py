"""A handler's return value as the answer core sends: ``(id, status, headers, body, content type)``.

None is no body (204 unless the route sets a status); a :class:`Response` is taken as it is; a
pydantic model is its ``model_dump_json()``; anything else is JSON (dataclasses, UUIDs, dates,
Decimals and Enums included)."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from typing import Any, Callable, Optional

from ._types import JSONResponse, Response

Answer = tuple[int, Optional[int], Optional[list[tuple[str, str]]], Any, Optional[str]]


def _default(o: Any) -> Any:
    dump = getattr(o, "model_dump", None)
    if dump is not None and callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, (uuid.UUID, decimal.Decimal)):
        return str(o)
    if isinstance(o, (datetime.datetime, datetime.date, datetime.time)):
        return o.isoformat()
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"{type(o).__name__} cannot be sent as JSON")


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default)


def _make_fast() -> Optional[Callable[[Any], str]]:
    """``JSONEncoder.encode`` makes its C encoder anew at every call (about a microsecond); this
    one is made once. Without the circular-reference check (a cycle is a RecursionError, which
    fails the request as any error would). None when the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    encode = make(None, _default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    join = "".join

    def fast(o: Any) -> str:
        return join(encode(o, 0))

    return fast


#: Compact JSON, as a ``str`` (the native side takes its UTF-8 bytes).
dumps: Callable[[Any], str] = _make_fast() or _encoder.encode

_TEXT = "text/plain; charset=utf-8"
_OCTETS = "application/octet-stream"


def answer_of(rid: int, value: Any) -> Answer:
    """The answer for request ``rid`` from what its handler returned; raises TypeError for a value
    that cannot be sent."""
    t = type(value)
    if t is dict or t is list:
        return (rid, None, None, dumps(value), None)
    if value is None:
        return (rid, None, None, None, None)
    if isinstance(value, Response):
        return _response(rid, value)
    dump_json = getattr(value, "model_dump_json", None)
    if dump_json is not None and not isinstance(value, type):
        return (rid, None, None, dump_json(), None)
    if t is bytes or t is bytearray:
        return (rid, None, None, bytes(value), _OCTETS)
    return (rid, None, None, dumps(value), None)


def _response(rid: int, r: Response) -> Answer:
    headers = list(r.headers.items()) if r.headers else None
    c = r.content
    media = r.media_type
    if c is None:
        body: Any = None
    elif isinstance(c, (bytes, bytearray)) and not isinstance(r, JSONResponse):
        body, media = bytes(c), media or _OCTETS
    elif isinstance(c, str) and not isinstance(r, JSONResponse):
        body, media = c, media or _TEXT
    else:
        dump_json = getattr(c, "model_dump_json", None)
        body = dump_json() if dump_json is not None and not isinstance(c, type) else dumps(c)
    return (rid, r.status_code, headers, body, media)


__all__ = ["Answer", "answer_of", "dumps"]
