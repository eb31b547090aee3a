"""Options checks shared by the package: an unknown option is refused with ``InvalidArgumentError``
(E001) naming it, the nearest valid option and the valid ones. The message is the engine's
(``omnitron::options``), so every door words it alike."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Collection, Iterable, Mapping, TypeVar

from . import _native

F = TypeVar("F", bound=Callable[..., Any])


def check_keys(given: Iterable[str], allowed: Collection[str], context: str) -> None:
    """Raises E001 for the first of ``given`` that is not in ``allowed``."""
    for key in given:
        if key not in allowed:
            raise _native.unknown_option(context, str(key), list(allowed))


def check_options(options: Mapping[str, Any], allowed: Collection[str], context: str) -> None:
    """:func:`check_keys` for a mapping of options (``**options`` handed on to another function)."""
    check_keys(options.keys(), allowed, context)


def keyword_names(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The names ``fn`` accepts as keywords (what ``**options`` given to it may hold)."""
    return tuple(
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) and p.name not in ("self", "cls")
    )


def checked_keywords(context: str) -> Callable[[F], F]:
    """Makes ``fn`` refuse an unknown keyword argument with E001 naming the nearest valid one
    (Python's own ``TypeError`` names only the unknown one). For functions called rarely (decorators,
    constructors, ``start``): it costs a loop over the keywords per call."""

    def wrap(fn: F) -> F:
        allowed = frozenset(keyword_names(fn))
        names = keyword_names(fn)

        def check(kwargs: dict[str, Any]) -> None:
            for key in kwargs:
                if key not in allowed:
                    raise _native.unknown_option(context, key, list(names))

        if inspect.iscoroutinefunction(fn):
            # Still a coroutine function to whoever inspects it (mocks, frameworks).
            @functools.wraps(fn)
            async def checked_async(*args: Any, **kwargs: Any) -> Any:
                check(kwargs)
                return await fn(*args, **kwargs)

            return checked_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            check(kwargs)
            return fn(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return wrap
