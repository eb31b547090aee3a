"""The structured logger from Python: ``logging`` records through the engine's logger. A child
process logs records of every shape; each stderr line must be a pino-shaped JSON record with the
process's name, the module, the call being served and the trace it was made in."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omnitron import log

HERE = Path(__file__).parent


def test_records_are_json_lines_correlated_with_the_call_and_its_trace() -> None:
    env = {**os.environ, "OMNITRON_LOG": "info", "OMNITRON_LOG_FORMAT": "json", "OMNITRON_CHILD_NAME": "shop"}
    env.pop("OMNITRON_LOG_CONTROL", None)
    p = subprocess.run([sys.executable, str(HERE / "log_child.py")], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    trace_id = p.stdout.strip().split("-")[1]
    lines: list[dict[str, Any]] = [json.loads(line) for line in p.stderr.splitlines() if line.startswith("{")]

    def by(msg: str) -> Any:
        return next((line for line in lines if line["msg"] == msg), None)

    r = by("reserving a-1")
    assert r is not None, p.stderr
    assert r["level"] == 30 and r["name"] == "shop" and r["module"] == "inventory"
    assert isinstance(r["pid"], int) and isinstance(r["hostname"], str) and isinstance(r["time"], int)
    assert r["service"] == "inventory" and r["method"] == "reserve"
    assert r["sku"] == "a-1" and r["qty"] == 2
    assert r["trace_id"] == trace_id
    assert by("not written: the module is at info") is None

    s = by("sync b-22")
    assert s["level"] == 40 and s["method"] == "reserve_sync" and s["trace_id"] == trace_id, "a sync handler's thread too"

    f = by("charge failed")
    assert f["level"] == 50 and f["module"] == "orders.payment" and f["order_id"] == 42
    assert f["err"]["type"] == "ValueError" and f["err"]["message"] == "card declined"
    assert "Traceback" in f["err"]["stack"]
    assert "trace_id" not in f and "service" not in f

    assert by("not yet") is None
    assert by("now at debug")["level"] == 20
    assert by("root 1")["level"] == 30


def test_bad_input_is_refused_and_changes_nothing() -> None:
    before = log.filter()
    with pytest.raises(ValueError, match="'loud' is not a level"):
        log.set_filter("info,orders=loud")
    with pytest.raises(TypeError):
        log.set_filter(7)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        log.set_level("orders", "verbose")
    with pytest.raises(TypeError):
        log.install("root")  # type: ignore[arg-type]
    assert log.filter() == before
    with pytest.raises(ValueError, match="not a log level"):
        from omnitron import _native

        _native.log_write(0, "x", "m")
    with pytest.raises(ValueError, match="one JSON object"):
        from omnitron import _native

        _native.log_write(30, "x", "m", "[1]")


def test_install_lets_through_what_the_filter_writes() -> None:
    lg = logging.getLogger("omnitron-test-install")
    lg.propagate = False
    try:
        log.install(lg)
        log.set_filter("warn,omnitron-test-install=debug")
        assert lg.level == logging.DEBUG
        log.set_filter("error")
        assert lg.level == logging.ERROR
        log.set_filter("off")
        assert lg.level > logging.CRITICAL
    finally:
        log.set_filter("info")


def test_a_field_json_cannot_hold_is_written_as_text(capfd: pytest.CaptureFixture[str]) -> None:
    lg = logging.getLogger("omnitron-test-nan")
    lg.propagate = False
    log.install(lg)
    lg.warning("ratio", extra={"r": float("nan"), "nested": {"i": float("inf")}})
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    rec = next(line for line in lines if line["msg"] == "ratio")
    assert rec["r"] == "nan" and rec["nested"]["i"] == "inf"
