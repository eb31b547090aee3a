"""inventory@1.0.0, a Python service (two instances in omnitron.yaml): reserve and release stock.

Reservations are kept in a SQLite ledger shared by the instances, keyed by the saga's idempotency
key, so a retried or resumed stage never reserves twice, whichever instance it lands on."""

import os
import sqlite3
import threading

from omnitron import public, service

LEDGER = os.environ.get("ORDERS_LEDGER", "ledger.db")


def _db() -> sqlite3.Connection:
    # Plain `def` handlers run in a thread pool: one connection, shared under a lock.
    db = sqlite3.connect(LEDGER, timeout=10, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS reservations (key TEXT PRIMARY KEY, sku TEXT, qty INTEGER, pid INTEGER, released INTEGER DEFAULT 0)"
    )
    return db


@service("inventory@1.0.0")
class Inventory:
    def __init__(self) -> None:
        self.db = _db()
        self.lock = threading.Lock()

    @public
    def reserve(self, key: str, sku: str, qty: int) -> dict:
        if qty > int(os.environ.get("MAX_QTY", "10")):
            raise ValueError(f"not enough stock of {sku} for {qty}")
        with self.lock:
            self.db.execute("INSERT OR IGNORE INTO reservations (key, sku, qty, pid) VALUES (?, ?, ?, ?)", (key, sku, qty, os.getpid()))
        return {"reservation": key, "sku": sku, "qty": qty, "by": f"python:{os.getpid()}"}

    @public
    def release(self, key: str, reservation: dict) -> bool:
        with self.lock:
            self.db.execute("UPDATE reservations SET released = 1 WHERE key = ?", (reservation["reservation"],))
        return True
