"""HTTP servers side by side: Omnitron's doors against the servers a user would otherwise pick.

Every server is one process serving the same two routes (see peers.ts, peers.py,
../rust/http_servers.rs and the omnitron_* servers): a JSON GET (`GET /users/42`) and a POST whose
JSON body is validated (`POST /users`). The load generator is wrk (one thread, 50 connections)
on the same 2-core machine. Rounds are interleaved (each round starts every server afresh, warms
it up, then measures both cases), and the median round is reported with requests/s, p50 and p99.

    python run.py [--group rust,node,python] [--rounds 3] [--duration 5] [--only name,name]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
# The Makefile builds for the host triple (CARGO_BUILD_TARGET), a bare `cargo build` without one.
RUST_BIN = str(next(iter(sorted(ROOT.glob("target/*/release/http-servers"))), ROOT / "target" / "release" / "http-servers"))


@dataclass
class Server:
    name: str
    group: str
    argv: list[str]
    cwd: Path
    cases: tuple[str, ...] = ("get", "post")
    env: dict[str, str] = field(default_factory=dict)


SERVERS = [
    Server("hyper", "rust", [RUST_BIN, "hyper"], ROOT),
    Server("hyper-timeouts", "rust", [RUST_BIN, "hyper-timeouts"], ROOT),
    Server("omnitron-rust", "rust", [RUST_BIN, "omnitron"], ROOT),
    Server("node:http", "node", ["node", "dist/peers.js", "node-http"], HERE / "node"),
    Server("fastify", "node", ["node", "dist/peers.js", "fastify"], HERE / "node"),
    Server("nestjs-fastify", "node", ["node", "dist/peers.js", "nest"], HERE / "node"),
    Server("express", "node", ["node", "dist/peers.js", "express"], HERE / "node"),
    Server("omnitron-node", "node", ["node", "dist/omnitron.js"], HERE / "node"),
    Server("uvicorn-starlette", "python", [PY, "peers.py", "starlette"], HERE / "python"),
    Server("granian-starlette", "python", [PY, "peers.py", "granian"], HERE / "python"),
    Server("fastapi-uvicorn", "python", [PY, "peers.py", "fastapi"], HERE / "python"),
    Server("robyn", "python", [PY, "peers.py", "robyn"], HERE / "python", cases=("get",)),
    Server("omnitron-python", "python", [PY, "omnitron_server.py"], HERE / "python"),
]

# (ours, peer, case, the target ratio of requests/s)
TARGETS = [
    ("omnitron-node", "fastify", "get", 2.0),
    ("omnitron-node", "fastify", "post", 1.5),
    ("omnitron-node", "nestjs-fastify", "post", 3.0),
    ("omnitron-python", "fastapi-uvicorn", "get", 3.0),
    ("omnitron-python", "granian-starlette", "get", 1.5),
    ("omnitron-python", "fastapi-uvicorn", "post", 4.0),
    ("omnitron-rust", "hyper", "get", 0.9),
    ("omnitron-rust", "hyper", "post", 0.9),
    ("omnitron-rust", "hyper-timeouts", "get", 0.9),
    ("omnitron-rust", "hyper-timeouts", "post", 0.9),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/users/1")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not answer within 30 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(port: int, case: str, duration: float) -> tuple[float, float, float]:
    """requests/s, p50 ms, p99 ms."""
    url = f"http://127.0.0.1:{port}" + ("/users/42" if case == "get" else "/users")
    argv = ["wrk", "-t1", "-c50", f"-d{max(1, round(duration))}s", "--latency", url]
    if case == "post":
        argv[1:1] = ["-s", str(HERE / "post.lua")]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses", out):
        raise RuntimeError(f"{case}: the server answered errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * UNIT[m.group(2)] if m else float("nan")

    return rps, pct("50"), pct("99")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--group", default="rust,node,python")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    groups = a.group.split(",")
    only = set(filter(None, a.only.split(",")))
    servers = [s for s in SERVERS if s.group in groups and (not only or s.name in only)]
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for r in range(a.rounds):
        for s in servers:
            port = free_port()
            try:
                proc = subprocess.Popen(
                    [*s.argv, str(port)], cwd=s.cwd, env={**os.environ, **s.env},
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                )
            except OSError as e:
                print(f"round {r + 1}: {s.name}: cannot start: {e}", file=sys.stderr)
                continue
            try:
                wait_ready(port, proc)
                for case in s.cases:
                    wrk(port, case, a.warmup)
                    results.setdefault((s.name, case), []).append(wrk(port, case, a.duration))
            except Exception as e:  # noqa: BLE001 - a server that fails is reported, the rest go on
                err = proc.stderr.read().decode()[-500:] if proc.poll() is not None and proc.stderr else ""
                print(f"round {r + 1}: {s.name}: {e} {err}", file=sys.stderr)
            finally:
                stop(proc)
        print(f"round {r + 1} of {a.rounds} done", file=sys.stderr)

    def median(name: str, case: str) -> tuple[float, float, float] | None:
        runs = results.get((name, case))
        if not runs:
            return None
        runs = sorted(runs)
        return runs[len(runs) // 2]

    print(f"\nwrk -t1 -c50 -d{a.duration:g}s, one server process each, median of {a.rounds} interleaved rounds\n")
    print(f"| server | case | requests/s | p50 ms | p99 ms |\n| --- | --- | ---: | ---: | ---: |")
    for s in servers:
        for case in s.cases:
            m = median(s.name, case)
            if m:
                print(f"| {s.name} | {case} | {m[0]:,.0f} | {m[1]:.2f} | {m[2]:.2f} |")
    print("\n| ours | peer | case | ratio (requests/s) | target | p99 ours / peer |\n| --- | --- | --- | ---: | ---: | ---: |")
    for ours, peer, case, target in TARGETS:
        mo, mp = median(ours, case), median(peer, case)
        if mo and mp:
            print(f"| {ours} | {peer} | {case} | {mo[0] / mp[0]:.2f}x | {target:g}x | {mo[2]:.2f} / {mp[2]:.2f} ms |")


if __name__ == "__main__":
    main()
