"""inventory@1.0.0: stock by SKU. The orders service (TypeScript) reserves and releases it over RPC,
through the supervisor that runs both (omnitron.yaml)."""

import os
from typing import Any, Optional

from omnitron import public, service

#: The stock a process starts with, unless INVENTORY_STOCK says otherwise ("book=10,lamp=3").
DEFAULT_STOCK = "book=10,lamp=3,pen=100"


def parse_stock(text: str) -> dict[str, int]:
    """``"book=10,lamp=3"`` -> ``{"book": 10, "lamp": 3}``."""
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {sku.strip(): int(qty) for sku, qty in pairs}


@service("inventory@1.0.0")
class Inventory:
    """Kept in this process's memory, so omnitron.yaml runs one instance: several would each have
    their own stock (share a database between them instead)."""

    def __init__(self, stock: Optional[dict[str, int]] = None) -> None:
        self.stock = dict(stock) if stock is not None else parse_stock(os.environ.get("INVENTORY_STOCK", DEFAULT_STOCK))
        #: What is held, by the caller's key.
        self.reservations: dict[str, dict[str, Any]] = {}

    # `async def` methods run on the worker's event loop, one step at a time: no locks needed.
    @public
    async def reserve(self, key: str, sku: str, qty: int) -> dict[str, Any]:
        """Holds `qty` of `sku` under `key`. The same key again returns the same reservation, so a
        retried or resumed saga stage (its idempotency key) never reserves twice."""
        if key in self.reservations:
            return self.reservations[key]
        if qty <= 0:
            raise ValueError(f"qty must be positive, got {qty}")
        if sku not in self.stock:
            raise LookupError(f"unknown sku '{sku}'")
        if self.stock[sku] < qty:
            raise ValueError(f"only {self.stock[sku]} {sku} left, {qty} asked")
        self.stock[sku] -= qty
        reservation = {"reservation": key, "sku": sku, "qty": qty}
        self.reservations[key] = reservation
        return reservation

    @public
    async def release(self, key: str) -> bool:
        """Puts a reservation's stock back; False if `key` holds nothing (already released)."""
        reservation = self.reservations.pop(key, None)
        if reservation is None:
            return False
        self.stock[reservation["sku"]] += reservation["qty"]
        return True

    @public
    async def available(self, sku: str) -> int:
        return self.stock.get(sku, 0)

    @public
    async def held(self) -> list[str]:
        """The keys of the reservations held."""
        return sorted(self.reservations)
