"""The HTTP app of a container: the controllers and health indicators its modules list, built by
the container (constructor injection)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._app import HttpApp
from ._decorators import CONTROLLER, INDICATOR

if TYPE_CHECKING:
    from ..di.container import Container


async def app_of(container: "Container", options: dict[str, Any]) -> HttpApp:
    """An :class:`HttpApp` serving every ``@controller`` class provider of ``container`` (a module's
    ``controllers`` or ``providers``) with every ``@health_indicator`` one as its health checks."""
    controllers = _one_per_class(await container._class_instances(lambda c: getattr(c, CONTROLLER, None) is not None))
    indicators = _one_per_class(await container._class_instances(lambda c: bool(getattr(c, INDICATOR, False))))
    return HttpApp(controllers, indicators=indicators, **options)


def _one_per_class(instances: list[Any]) -> list[Any]:
    # A class listed by two modules is one controller (its routes would clash otherwise).
    seen: dict[type, Any] = {}
    for i in instances:
        seen.setdefault(type(i), i)
    return list(seen.values())
