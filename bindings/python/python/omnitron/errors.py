"""Exceptions. Every error the engine raises is an :class:`OmnitronError` whose ``code`` is the
engine's stable id (``DI001`` for a missing provider, ...), the same one C, Rust and Node see. Each
code has its own class (:class:`MissingProviderError`) under one per family (:class:`DIError`), and
those Python users would reach for are built-in classes too: ``except LookupError`` catches a
missing provider, ``except TimeoutError`` an engine timeout, and a cancelled call is an
:class:`asyncio.CancelledError`. The classes are generated from the engine's error table
(``_error_classes.py``)."""

from __future__ import annotations

from ._error_base import OmnitronError
from ._error_classes import *  # noqa: F403 - every code's class is part of this module
from ._error_classes import BY_CODE as _BY_CODE
from ._error_classes import __all__ as _classes


def from_code(code: str, message: str) -> OmnitronError:
    """The exception for an engine error code (used by the native module)."""
    cls = _BY_CODE.get(code, OmnitronError)
    return cls(message, code=code)


def remote_error(code: str, message: str, data: object = None) -> OmnitronError:
    """The exception for an error that came over the wire. Codes Omnitron does not know (an
    application's own) give an :class:`OmnitronError` with that code."""
    err = from_code(code, message)
    err.data = data
    return err


__all__ = ["OmnitronError", *_classes, "from_code", "remote_error"]
