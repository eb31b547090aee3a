"""The base class of every Omnitron exception (``omnitron.errors`` has them all)."""

from __future__ import annotations

from typing import Sequence


class OmnitronError(Exception):
    """Base class of every Omnitron error. ``code`` is the engine's stable id (``DI001`` for a
    missing provider, ...), the same one C, Rust and Node see."""

    __module__ = "omnitron.errors"
    code: str = "E000"
    #: What the remote side attached to an error that came over the wire (or None).
    data: object = None

    def __init__(self, message: str, *, code: str | None = None, errors: Sequence[BaseException] = ()) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        #: For aggregate errors (a dispose where several hooks failed): each original exception.
        self.errors: list[BaseException] = list(errors)

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"
