"""The inventory service's package: `python -m omnitron.worker inventory:Inventory` serves it."""

from .stock import Inventory

__all__ = ["Inventory"]
