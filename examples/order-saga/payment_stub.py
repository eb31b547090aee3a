"""A stand-in payment@1.0.0 in Python, for running the saga before the TypeScript one is built."""

import os

from omnitron import public, service


@service("payment@1.0.0")
class Payment:
    @public
    def charge(self, key: str, order_id: str, amount: float) -> dict:
        return {"charge": key, "order": order_id, "amount": amount, "by": f"python:{os.getpid()}"}

    @public
    def refund(self, key: str, charge: dict) -> bool:
        return True
