"""End to end: `omnitron dev` runs three Python services, each in its own directory; editing one
restarts it alone; a syntax error in it shows the error and keeps the others running; fixing it
starts it again; a failed `build:` keeps the running instance; `omnitron logs` shows what they wrote; Ctrl-C stops everything.

Run by `make process-test` with OMNITRON_BIN and OMNITRON_PYTHON set."""

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

SERVICE = '''import os
from omnitron import public, service

print("{name} v{version} up", flush=True)

@service("{name}@1.0.0")
class {cls}:
    @public
    def version(self) -> int:
        return {version}

    @public
    def pid(self) -> int:
        return os.getpid()
'''

YAML = f"""name: dev-e2e
processes:
  alpha:
    command: {PYTHON} -m omnitron.worker alpha:Alpha
    cwd: alpha
    restart: always
  beta:
    command: {PYTHON} -m omnitron.worker beta:Beta
    cwd: beta
    restart: always
  gamma:
    command: {PYTHON} -m omnitron.worker gamma:Gamma
    cwd: gamma
    build: {PYTHON} -m py_compile gamma.py
"""


class Dev:
    """`omnitron dev` in the background; its lines in a queue."""

    def __init__(self, cwd: str, env: dict):
        self.p = subprocess.Popen(
            [BIN, "dev", "--debounce", "200ms"], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self.lines: "queue.Queue[str]" = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pattern: str, secs: float = 30.0) -> "re.Match[str]":
        until = time.time() + secs
        while time.time() < until:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise AssertionError(f"omnitron dev never printed /{pattern}/; it printed:\n" + "\n".join(self.seen))

    def started(self, name: str) -> int:
        return int(self.expect(rf"✓ {name} started \(pid (\d+)\)").group(1))


def write(path: str, text: str):
    # Written to a temporary file and renamed, as editors do: one event, never half a file.
    tmp = path + ".tmp~"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    root = tempfile.mkdtemp(prefix="omnitron-dev-")
    home = tempfile.mkdtemp(prefix="omnitron-home-")
    env = dict(os.environ, OMNITRON_HOME=home)
    try:
        for name, cls in (("alpha", "Alpha"), ("beta", "Beta"), ("gamma", "Gamma")):
            os.mkdir(os.path.join(root, name))
            write(os.path.join(root, name, f"{name}.py"), SERVICE.format(name=name, cls=cls, version=1))
        write(os.path.join(root, "omnitron.yaml"), YAML)
        dev = Dev(root, env)
        try:
            alpha = dev.started("alpha")
            beta = dev.started("beta")
            dev.expect(r"building gamma")
            gamma = dev.started("gamma")
            dev.expect("watching for changes")

            # A process with a build step: a failed build shows the compiler's error and keeps the
            # running instance; a good one replaces it.
            write(os.path.join(root, "gamma", "gamma.py"), "def broken(:\n")
            dev.expect(r"↻ gamma/gamma\.py changed: restarting gamma")
            dev.expect(r"✗ gamma: the build failed")
            dev.expect(r"the running instance is kept")
            assert alive(gamma), "a failed build kept the running gamma"
            write(os.path.join(root, "gamma", "gamma.py"), SERVICE.format(name="gamma", cls="Gamma", version=2))
            gamma2 = dev.started("gamma")
            assert gamma2 != gamma and not alive(gamma)

            # An edit restarts the process whose directory holds the file, and only it.
            write(os.path.join(root, "alpha", "alpha.py"), SERVICE.format(name="alpha", cls="Alpha", version=2))
            dev.expect(r"↻ alpha/alpha\.py changed: restarting alpha")
            alpha2 = dev.started("alpha")
            assert alpha2 != alpha and not alive(alpha), "alpha was replaced"
            assert alive(beta), "beta kept running"
            assert any("alpha v2 up" in l for l in dev.seen), "the new alpha runs the new code"

            # A syntax error: shown, alpha waits, beta runs on.
            write(os.path.join(root, "alpha", "alpha.py"), "def broken(:\n")
            dev.expect(r"↻ alpha/alpha\.py changed: restarting alpha")
            dev.expect(r"SyntaxError")
            dev.expect(r"✗ alpha did not start")
            assert alive(beta), "beta kept running through alpha's syntax error"
            assert not alive(alpha2)

            # Fixed: alpha starts again.
            write(os.path.join(root, "alpha", "alpha.py"), SERVICE.format(name="alpha", cls="Alpha", version=3))
            alpha3 = dev.started("alpha")
            assert alive(alpha3) and alive(beta)

            # Changes in ignored places restart nothing.
            os.makedirs(os.path.join(root, "beta", "__pycache__"), exist_ok=True)
            write(os.path.join(root, "beta", "__pycache__", "x.pyc"), "x")
            time.sleep(1.0)
            assert not any("restarting beta" in l for l in dev.seen), dev.seen

            # omnitron.yaml changed: every process restarts from the new file, and each is still
            # tracked afterwards (an edit restarts it alone; none is reported as ended).
            old = (alpha3, beta, gamma2)
            write(os.path.join(root, "omnitron.yaml"), YAML + "    env:\n      EXTRA: '1'\n")
            dev.expect(r"omnitron\.yaml changed: restarting every process")
            alpha3, beta = dev.started("alpha"), dev.started("beta")
            gamma2 = dev.started("gamma")
            assert not any(alive(p) for p in old), "the old instances were stopped"
            write(os.path.join(root, "alpha", "alpha.py"), SERVICE.format(name="alpha", cls="Alpha", version=3))
            dev.expect(r"↻ alpha/alpha\.py changed: restarting alpha")
            alpha3 = dev.started("alpha")
            assert alive(beta) and alive(gamma2)
            assert not any(" ended" in l for l in dev.seen), dev.seen

            # omnitron logs shows both processes' lines.
            logs = subprocess.run([BIN, "logs", "--no-follow", "-n", "50"], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=30)
            assert logs.returncode == 0, logs.stderr
            assert re.search(r"alpha \d+ out\| alpha v3 up", logs.stdout), logs.stdout
            assert re.search(r"beta \d+ out\| beta v1 up", logs.stdout), logs.stdout
            only = subprocess.run([BIN, "logs", "beta", "--no-follow"], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=30)
            assert "alpha" not in only.stdout and "beta v1 up" in only.stdout, only.stdout
            bad = subprocess.run([BIN, "logs", "delta", "--no-follow"], cwd=root, env=env,
                                 capture_output=True, text=True, timeout=30)
            assert bad.returncode == 1 and "no process 'delta'" in bad.stderr, bad.stderr

            # Ctrl-C: everything stops, nothing is left behind.
            dev.p.send_signal(signal.SIGINT)
            assert dev.p.wait(timeout=30) == 0
            deadline = time.time() + 10
            while time.time() < deadline and (alive(alpha3) or alive(beta) or alive(gamma2)):
                time.sleep(0.1)
            assert not alive(alpha3) and not alive(beta) and not alive(gamma2), "children outlived omnitron dev"
        finally:
            if dev.p.poll() is None:
                os.killpg(dev.p.pid, signal.SIGKILL)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    print("omnitron dev: an edited child restarted alone, a syntax error kept the rest running, logs followed")


if __name__ == "__main__":
    main()
