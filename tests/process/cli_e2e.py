"""End to end: `omnitron start` runs examples/supervisor/omnitron.yaml (Python and Rust children),
`omnitron ps` sees them, a child killed with SIGKILL is restarted, `omnitron restart` works,
`omnitron stop` stops everything; and a supervisor killed with SIGKILL leaves no orphans.

Run by `make process-test` with OMNITRON_BIN, CALC_WORKER and OMNITRON_PYTHON set."""

import os
import re
import signal
import subprocess
import sys
import time

from support import alive

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ["OMNITRON_BIN"]
CONFIG = os.path.join(ROOT, "examples", "supervisor", "omnitron.yaml")
APP = ["--app", "supervised-demo"]


def omnitron(*args: str, check: bool = True) -> str:
    r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"omnitron {' '.join(args)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r.stdout + r.stderr


def ps() -> list[dict]:
    rows = []
    for line in omnitron("ps", *APP).splitlines():
        m = re.match(r"\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s", line)
        if m and m.group(1) != "NAME":
            pid = None if m.group(3) == "-" else int(m.group(3))
            rows.append({"name": m.group(1), "index": int(m.group(2)), "pid": pid, "state": m.group(4), "restarts": int(m.group(5))})
    return rows


def wait_for(what: str, f, secs: float = 30.0):
    until = time.time() + secs
    while time.time() < until:
        try:
            v = f()
            if v:
                return v
        except AssertionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def all_running() -> list[dict]:
    rows = ps()
    ok = len(rows) == 3 and all(r["state"] == "running" and r["pid"] for r in rows)
    return rows if ok else []


def start() -> subprocess.Popen:
    return subprocess.Popen([BIN, "start", CONFIG], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main() -> None:
    # A bad file is refused with its line and key.
    bad = os.path.join(ROOT, "target", "bad-omnitron.yaml")
    with open(bad, "w") as f:
        f.write("processes:\n  x:\n    command: /bin/true\n    instancez: 2\n")
    out = omnitron("check", bad, check=False)
    assert "bad-omnitron.yaml:4" in out and "instancez" in out, out
    assert "not running" in omnitron("ps", "--app", "nothing-here", check=False)

    app = start()
    try:
        rows = wait_for("every child running", all_running)
        names = sorted(r["name"] for r in rows)
        assert names == ["calc", "counter", "counter"], rows
        # A Python child killed with SIGKILL comes back with a new pid.
        victim = next(r for r in rows if r["name"] == "counter")
        os.kill(victim["pid"], signal.SIGKILL)
        rows = wait_for(
            "the killed child restarted",
            lambda: (lambda rs: rs if rs and any(r["name"] == "counter" and r["restarts"] == 1 for r in rs) else [])(all_running()),
        )
        assert victim["pid"] not in [r["pid"] for r in rows]
        assert not alive(victim["pid"])
        # A manual restart of the Rust child.
        calc_pid = next(r["pid"] for r in rows if r["name"] == "calc")
        omnitron("restart", "calc", *APP)
        rows = wait_for("calc restarted", lambda: (lambda rs: rs if rs and next(r["pid"] for r in rs if r["name"] == "calc") != calc_pid else [])(all_running()))
        pids = [r["pid"] for r in rows]
        # A second start of the same application is refused.
        second = subprocess.run([BIN, "start", CONFIG], capture_output=True, text=True, timeout=60)
        assert second.returncode != 0 and "already running" in second.stderr + second.stdout, second
        omnitron("stop", *APP)
        assert app.wait(timeout=30) == 0
        for p in pids:
            wait_for(f"child {p} gone", lambda p=p: not alive(p), 10)
    finally:
        if app.poll() is None:
            app.kill()

    # SIGKILL the supervisor itself: no child outlives it.
    app = start()
    try:
        pids = [r["pid"] for r in wait_for("every child running again", all_running)]
        app.kill()
        app.wait(timeout=10)
        for p in pids:
            wait_for(f"orphan {p} gone", lambda p=p: not alive(p), 10)
    finally:
        if app.poll() is None:
            app.kill()
    print("process e2e: ok (start, ps, crash restart, manual restart, stop, no orphans)")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"process e2e FAILED: {e}", file=sys.stderr)
        sys.exit(1)
