"""A Python process running a durable workflow is killed with SIGKILL in the middle of a stage; a new
engine on the same SQLite journal recovers the run, which completes with no stage's side effect
applied twice."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile

import pytest

from omnitron import WorkflowEngine

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from wf_crash_child import Crashy  # noqa: E402


def effects(db: str) -> dict[str, int]:
    c = sqlite3.connect(db)
    rows = c.execute("SELECT key, COUNT(*) FROM effects GROUP BY key").fetchall()
    c.close()
    return {k: n for k, n in rows}


def test_a_run_killed_mid_stage_is_resumed_by_a_new_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = tempfile.mkdtemp()
    journal, db = os.path.join(tmp, "journal.db"), os.path.join(tmp, "effects.db")
    env = dict(os.environ, EFFECTS_DB=db, HANG="1")
    child = subprocess.Popen([sys.executable, os.path.join(HERE, "wf_crash_child.py"), journal], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "in-stage"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert effects(db) == {"crash-run:s1": 1, "crash-run:s2": 1}

    monkeypatch.setenv("EFFECTS_DB", db)  # the stages of this process count into the same table

    async def main() -> None:
        engine = await WorkflowEngine.open(journal)
        try:
            engine.register(Crashy)
            recovery = await engine.recover()
            assert recovery.resumed == ["crash-run"], recovery
            out = await engine.wait("crash-run")
            assert out["s3"] == {"s3": True}
            info = await engine.get("crash-run")
            assert info.state == "completed"
            assert info.stage("s1").attempts == 1, "a completed stage is not run again"
        finally:
            await engine.close()

    asyncio.run(main())
    # s1 once (not re-run), s2 once (re-run with the same key, applied once), s3 once, no undo.
    assert effects(db) == {"crash-run:s1": 1, "crash-run:s2": 1, "crash-run:s3": 1}
