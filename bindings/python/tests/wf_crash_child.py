"""The crashing side of test_workflow_recovery: runs one order through a durable workflow whose
second stage hangs (after counting its side effect), so the test can SIGKILL this process mid-stage.
Side effects are counted in a SQLite table keyed by idempotency key (one row per application)."""

import asyncio
import os
import sqlite3
import sys
from typing import Any

from omnitron import StageContext, WorkflowEngine, compensate, stage, workflow

def _effects() -> str:
    return os.environ["EFFECTS_DB"]


def apply(key: str) -> None:
    db = sqlite3.connect(_effects(), isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT, pid INTEGER)")
    db.execute("INSERT INTO effects VALUES (?, ?)", (key, os.getpid()))
    db.close()


def applied(key: str) -> bool:
    db = sqlite3.connect(_effects(), isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT, pid INTEGER)")
    n = db.execute("SELECT COUNT(*) FROM effects WHERE key = ?", (key,)).fetchone()[0]
    db.close()
    return bool(n)


@workflow(name="crashy", recovery="resume")
class Crashy:
    @stage(name="s1")
    async def s1(self, order: Any, ctx: StageContext) -> dict:
        apply(ctx.idempotency_key)
        return {"s1": True}

    @stage(name="s2", depends_on="s1")
    async def s2(self, prev: Any, ctx: StageContext) -> dict:
        # An idempotent side effect: applied once per key, whoever runs the stage.
        if not applied(ctx.idempotency_key):
            apply(ctx.idempotency_key)
        if os.environ.get("HANG") == "1":
            print("in-stage", flush=True)
            await asyncio.sleep(60)
        return {"s2": True}

    @stage(name="s3", depends_on="s2")
    async def s3(self, prev: Any, ctx: StageContext) -> dict:
        apply(ctx.idempotency_key)
        return {"s3": True}

    @compensate("s1")
    async def undo_s1(self, out: Any, ctx: StageContext) -> None:
        apply(ctx.idempotency_key + ":undo")


async def main() -> None:
    engine = await WorkflowEngine.open(sys.argv[1])
    engine.register(Crashy)
    await engine.run("crashy", {"order": 1}, run_id="crash-run")


if __name__ == "__main__":
    asyncio.run(main())
