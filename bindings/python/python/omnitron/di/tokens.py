"""Tokens: what providers are registered under and what dependencies ask for."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, Union

from .. import _native
from ..errors import InvalidArgumentError

T = TypeVar("T")


class Token(Generic[T]):
    """A named token. Two tokens created with the same name are different tokens: the name only
    appears in messages. Classes are tokens too, and a string is its own identity (the same string
    is the same token everywhere)."""

    __slots__ = ("key", "name")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgumentError(f"a token needs a non-empty name, got {describe(name)}")
        self.key: int = _native.fresh_token_key()
        self.name: str = name

    def __repr__(self) -> str:
        return f"Token({self.name!r})"


def create_token(name: str) -> Token[Any]:
    """Creates a token (``Token[T](name)`` gives a typed one)."""
    return Token(name)


def _context_token() -> Token[Any]:
    t: Token[Any] = Token.__new__(Token)
    t.key = _native.context_token_key()
    t.name = "CONTEXT"
    return t


#: Inside a scope: the context the scope was created with; outside: the container's context.
#: The string ``"CONTEXT"`` means the same token.
CONTEXT: Token[Any] = _context_token()

InjectionToken = Union["Token[Any]", type, str]

#: String tokens (and classes that cannot carry an attribute, such as built-in types) by value.
_keys: dict[Any, int] = {"CONTEXT": CONTEXT.key}
_CLASS_KEY = "__omnitron_token_key__"


def token_key(token: object) -> int:
    """The engine key of a token (allocated on first sight for classes and strings). A class keeps
    its key on itself, so nothing here holds classes alive."""
    if isinstance(token, Token):
        return token.key
    if isinstance(token, type):
        k = token.__dict__.get(_CLASS_KEY)
        if isinstance(k, int):
            return k
        k = _native.fresh_token_key()
        try:
            type.__setattr__(token, _CLASS_KEY, k)
        except (TypeError, AttributeError):
            return _keys.setdefault(token, k)
        return k
    if isinstance(token, str) and token.strip():
        try:
            return _keys[token]
        except KeyError:
            k = _native.fresh_token_key()
            _keys[token] = k
            return k
    raise InvalidArgumentError(
        f"invalid injection token {describe(token)}: use a class, a Token, or a non-empty string"
    )


def token_name(token: object) -> str:
    if isinstance(token, Token):
        return token.name
    if isinstance(token, type):
        return token.__name__
    if isinstance(token, str):
        return token
    return describe(token)


def describe(v: object) -> str:
    if v is None:
        return "None"
    if isinstance(v, type):
        return f"class {v.__name__}"
    if isinstance(v, str):
        return repr(v)
    if callable(v):
        return f"function {getattr(v, '__name__', repr(v))}"
    return f"{type(v).__name__} {v!r}"
