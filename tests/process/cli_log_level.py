"""End to end: `omnitron log-level` changes a running Python process's log filter. Under `omnitron
start`, a service whose thread logs `ticker` records at debug and info writes only the info ones
(omnitron.yaml's `logging: { level: info, format: json }`), as pino-shaped JSON lines in its log
file; `omnitron log-level debug ticker` lets the debug ones through within a few ticks, and
`omnitron log-level warn` silences both; a bad level and an unknown process are refused; `omnitron
stop` leaves nothing running.

Run by `make process-test` with OMNITRON_BIN and OMNITRON_PYTHON set."""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from support import alive

BIN = os.environ["OMNITRON_BIN"]
PYTHON = os.environ["OMNITRON_PYTHON"]
APP = "log-e2e"

TICKER = '''import logging
import os
import threading
import time

from omnitron import log, public, service

log.install()
_log = logging.getLogger("ticker")


def _tick():
    n = 0
    while True:
        n += 1
        _log.debug("tick debug %d", n)
        _log.info("tick info %d", n)
        time.sleep(0.1)


threading.Thread(target=_tick, name="ticker", daemon=True).start()


@service("ticker@1.0.0")
class Ticker:
    @public
    def pid(self) -> int:
        return os.getpid()
'''

YAML = f"""name: {APP}
logging:
  level: info
  format: json
processes:
  ticker:
    command: {PYTHON} -m omnitron.worker ticker:Ticker
    cwd: ticker
"""

# `<time> <name> <pid> out|err| <text>`, as the supervisor writes each child's line.
LOG_LINE = re.compile(r"^(\S+) (\S+) (\d+) (out|err)\| (.*)$")


class Start:
    """`omnitron start` in the background, in its own process group; its output kept."""

    def __init__(self, cwd: str, env: dict):
        self.p = subprocess.Popen(
            [BIN, "start"], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def output(self) -> str:
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return "\n".join(self.seen[-60:])


class LogFile:
    """The ticker's log file, read as it grows: each new line parsed into a record."""

    def __init__(self, path: str):
        self.path = path
        self.pos = 0
        self.partial = ""
        self.records: list[dict] = []

    def read(self) -> list[dict]:
        """The records written since the last read (non-JSON lines are kept as {"text": ...})."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return []
        self.pos += len(data)
        self.partial += data.decode("utf-8", "replace")
        *complete, self.partial = self.partial.split("\n")
        new = []
        for line in complete:
            m = LOG_LINE.match(line)
            text = m.group(5) if m else line
            try:
                rec = json.loads(text)
            except ValueError:
                rec = None
            new.append(rec if isinstance(rec, dict) else {"text": text})
        self.records.extend(new)
        return new

    def wait_for(self, what: str, pred, secs: float, context) -> dict:
        until = time.time() + secs
        while time.time() < until:
            for r in self.read():
                if pred(r):
                    return r
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {secs}s; the log file ends with:\n"
                             + tail(self.records) + "\n-- omnitron start printed:\n" + context())

    def collect(self, secs: float) -> list[dict]:
        """Everything written during the next `secs` seconds."""
        out = []
        until = time.time() + secs
        while time.time() < until:
            out.extend(self.read())
            time.sleep(0.1)
        out.extend(self.read())
        return out


def tail(records: list[dict], n: int = 20) -> str:
    return "\n".join(json.dumps(r) for r in records[-n:])


def tick(kind: str):
    """A predicate: a ticker record whose message is `tick <kind> N`."""
    return lambda r: str(r.get("msg", "")).startswith(f"tick {kind} ")


def omnitron(cwd: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)


def main():
    root = tempfile.mkdtemp(prefix="omnitron-log-")
    home = tempfile.mkdtemp(prefix="omnitron-home-")
    env = dict(os.environ, OMNITRON_HOME=home)
    # The test's own settings must not reach the processes: the file's `logging:` decides.
    for k in ("OMNITRON_LOG", "OMNITRON_LOG_FORMAT", "OMNITRON_LOG_CONTROL"):
        env.pop(k, None)
    start = None
    pids: set[int] = set()
    try:
        os.mkdir(os.path.join(root, "ticker"))
        with open(os.path.join(root, "ticker", "ticker.py"), "w") as f:
            f.write(TICKER)
        with open(os.path.join(root, "omnitron.yaml"), "w") as f:
            f.write(YAML)
        logs = LogFile(os.path.join(home, "logs", APP, "ticker.log"))
        start = Start(root, env)

        # Info records arrive, pino-shaped, named after the process and the Python logger.
        first = logs.wait_for("'tick info' record", tick("info"), 60, start.output)
        assert first.get("name") == "ticker", first
        assert first.get("level") == 30, first
        assert first.get("module") == "ticker", first
        assert isinstance(first.get("time"), int) and isinstance(first.get("pid"), int), first
        assert first.get("hostname"), first
        pids.add(first["pid"])

        # At `info`, no debug record, however long it runs.
        more = logs.collect(1.0)
        assert sum(tick("info")(r) for r in more) >= 3, "the ticker kept logging:\n" + tail(more)
        debug = [r for r in logs.records if tick("debug")(r)]
        assert not debug, "a debug record was written at level info:\n" + tail(debug)
        control = os.path.join(home, "logs", APP, "ticker.level")
        assert not os.path.exists(control), "a run starts with no control file"

        # `omnitron log-level debug ticker`: debug records appear, level 20, within a few ticks.
        r = omnitron(root, env, "log-level", "debug", "ticker")
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        assert r.stdout.strip() == "ticker: debug", r.stdout
        with open(control) as f:
            assert f.read().strip() == "debug"
        d = logs.wait_for("'tick debug' record after log-level debug", tick("debug"), 10, start.output)
        assert d.get("level") == 20 and d.get("module") == "ticker" and d.get("name") == "ticker", d
        assert d.get("pid") in pids, ("the same process, not a restarted one", d, pids)
        more = logs.collect(0.6)
        assert any(tick("debug")(r) for r in more) and any(tick("info")(r) for r in more), tail(more)
        assert all(r.get("level") == 20 for r in more if tick("debug")(r)), tail(more)

        # `omnitron log-level warn` (every process): after a short settle, nothing more is written.
        r = omnitron(root, env, "log-level", "warn")
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        assert r.stdout.strip() == "ticker: warn", r.stdout
        logs.collect(1.0)  # the settle: the logger reads its control file four times a second
        quiet = logs.collect(1.2)
        ticks = [r for r in quiet if tick("info")(r) or tick("debug")(r)]
        assert not ticks, "records below warn were written after log-level warn:\n" + tail(ticks)

        # Bad input: a level that is not one is a usage error; an unknown process a failure.
        r = omnitron(root, env, "log-level", "loud", "ticker")
        assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
        assert "'loud' is not a level" in r.stderr, r.stderr
        with open(control) as f:
            assert f.read().strip() == "warn", "a refused filter changes nothing"
        r = omnitron(root, env, "log-level", "debug", "nosuch")
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert "nosuch" in r.stderr, r.stderr
        with open(control) as f:
            assert f.read().strip() == "warn", "a refused process changes nothing"
        assert not os.path.exists(os.path.join(home, "logs", APP, "nosuch.level"))

        # The ticker ran as one process throughout.
        ps = omnitron(root, env, "ps")
        assert ps.returncode == 0, (ps.returncode, ps.stdout, ps.stderr)
        for p in pids:
            assert alive(p), f"the ticker (pid {p}) is running before the stop"

        # `omnitron stop`: the supervisor and the ticker end; nothing is left.
        r = omnitron(root, env, "stop")
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        try:
            code = start.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("omnitron start did not end after omnitron stop:\n" + start.output())
        assert code == 0, (code, start.output())
        deadline = time.time() + 10
        while time.time() < deadline and any(alive(p) for p in pids):
            time.sleep(0.1)
        left = [p for p in pids if alive(p)]
        assert not left, f"the ticker outlived omnitron start: {left}"
    finally:
        if start is not None and start.p.poll() is None:
            try:
                os.killpg(start.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            start.p.wait(timeout=10)
        for p in pids:
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    print("omnitron log-level: a running process's filter changed to debug, then warn; bad input refused; stopped clean")


if __name__ == "__main__":
    main()
