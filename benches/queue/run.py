"""Job queues side by side: Omnitron's (from Node, Python and Rust, on Redis and on the embedded
SQLite store) against BullMQ 5 and Celery 5, on the same Redis, in one run.

Every measurement is one fresh process of a runner (node/bullmq.ts, node/omnitron.ts,
python/celery_peer.py, python/omnitron_peer.py, ../rust/queue.rs), which prints one JSON line.
Redis runs use database 9, emptied (FLUSHDB, never FLUSHALL: other tests share the server) before
each; Omnitron's also get a key prefix of their own. Embedded runs get a fresh file in a temporary
directory on disk. Rounds are interleaved (each round runs every case of every runner, the runners'
order rotated from one round to the next) and the median of the rounds is reported.

Cases (10,000 trivial jobs unless stated):
- add, bulk: one bulk call (BullMQ `addBulk`, Omnitron `addBulk`/`add_many`/`add_many_raw`, a
  Celery `group`); jobs/s.
- add, one by one: each add awaited before the next; jobs/s.
- process, concurrency 1 and 100: the queue filled first, then one worker; jobs/s from the worker's
  start to the last completion recorded in the store (for Celery, which records nothing, to the end
  of the last task).
- idle pickup: a worker idle in its own process; a job carrying CLOCK_MONOTONIC at its add, 5 ms
  after the previous one started; p50 and p99 of add-to-handler, 500 samples after 20 unkept.
- lease: 1,000 jobs held in flight by handlers that never end (a 3 s lease renewed every second;
  BullMQ: a 3 s lock renewed every second, stalled check every 1.5 s); the worker process's CPU
  (its threads' /proc/self/task/*/schedstat, in ns) per second over 6 s, less the process's own
  before the worker started.
- embedded, from Rust: processing at concurrency 100 of 100,000 jobs, every completion durable
  before acknowledged (group commit), `synchronous = NORMAL` (the default) and `FULL`.

    python run.py [--rounds 3] [--n 10000] [--only bullmq,omnitron-node,...] [--cases add-bulk,...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
REDIS = "redis://127.0.0.1:6379/9"
REDIS_DB = "9"


def rust_bin() -> str:
    """The runner, where the Makefile builds it: under CARGO_TARGET_DIR (or target/), for the host
    triple (CARGO_BUILD_TARGET) or without one."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    found = sorted(target.glob("*/release/queue-runner")) + [target / "release" / "queue-runner"]
    return str(next((p for p in found if p.exists()), found[-1]))


@dataclass(frozen=True)
class Case:
    key: str
    title: str
    argv: tuple[str, ...]
    kind: str  # "rate", "latency" or "cpu"


@dataclass
class Runner:
    name: str
    argv: list[str]
    cwd: Path
    store: str  # "redis", "redis-peer", "sqlite" or "sqlite-full"
    cases: tuple[str, ...]
    #: How many jobs this runner's process cases get instead of --n (the embedded store from Rust).
    n: int | None = None
    extra: list[str] = field(default_factory=list)


def cases(n: int) -> dict[str, Case]:
    return {c.key: c for c in [
        Case("add-bulk", "add, bulk", ("add-bulk", "--n", str(n)), "rate"),
        Case("add-one", "add, one by one", ("add-one", "--n", str(n)), "rate"),
        Case("process-1", "process, concurrency 1", ("process", "--n", str(n), "--concurrency", "1"), "rate"),
        Case("process-100", "process, concurrency 100", ("process", "--n", str(n), "--concurrency", "100"), "rate"),
        Case("pickup", "idle pickup", ("pickup", "--n", "500"), "latency"),
        Case("lease", "lease, 1,000 in flight", ("lease", "--concurrency", "1000", "--seconds", "6"), "cpu"),
    ]}


ALL = ("add-bulk", "add-one", "process-1", "process-100", "pickup", "lease")
NODE = ["node"]


def runners() -> list[Runner]:
    rust = rust_bin()
    node, py = HERE / "node", HERE / "python"
    return [
        Runner("bullmq", [*NODE, "dist/bullmq.js"], node, "redis-peer", ALL),
        Runner("omnitron-node", [*NODE, "dist/omnitron.js"], node, "redis", ALL),
        Runner("celery", [PY, "celery_peer.py"], py, "redis-peer", ALL[:5]),
        Runner("omnitron-python", [PY, "omnitron_peer.py"], py, "redis", ALL),
        Runner("omnitron-rust", [rust], ROOT, "redis", ALL),
        Runner("omnitron-node sqlite", [*NODE, "dist/omnitron.js"], node, "sqlite", ("add-bulk", "add-one", "process-1", "process-100")),
        Runner("omnitron-python sqlite", [PY, "omnitron_peer.py"], py, "sqlite", ("add-bulk", "add-one", "process-1", "process-100")),
        Runner("omnitron-rust sqlite", [rust], ROOT, "sqlite", ("add-bulk", "add-one", "process-1", "process-100", "lease")),
        Runner("omnitron-rust sqlite, 100k", [rust], ROOT, "sqlite", ("process-100",), n=100_000),
        Runner("omnitron-rust sqlite FULL, 100k", [rust], ROOT, "sqlite-full", ("process-100",), n=100_000, extra=["--full-sync"]),
    ]


# (ours, peer, case, what is compared, target). "rate": ours / peer >= target; "p50"/"p99": ours
# sooner than the peer; "under_us": our p50 under that many us; "at_least": our jobs/s.
TARGETS = [
    ("omnitron-node", "bullmq", "process-1", "rate", 3.0),
    ("omnitron-node", "bullmq", "process-100", "rate", 3.0),
    ("omnitron-node", "bullmq", "add-bulk", "rate", 3.0),
    ("omnitron-node", "bullmq", "pickup", "p50", 1.0),
    ("omnitron-node", "bullmq", "pickup", "p99", 1.0),
    ("omnitron-python", "celery", "process-1", "rate", 10.0),
    ("omnitron-python", "celery", "process-100", "rate", 10.0),
    ("omnitron-python", None, "pickup", "under_us", 1000.0),
    ("omnitron-rust sqlite, 100k", None, "process-100", "at_least", 100_000.0),
]


def redis_cli(*argv: str) -> str:
    return subprocess.run(["redis-cli", "-n", REDIS_DB, *argv], capture_output=True, text=True, check=True).stdout.strip()


def ensure_redis() -> None:
    try:
        if redis_cli("PING") == "PONG":
            return
    except subprocess.CalledProcessError:
        pass
    subprocess.run(["redis-server", "--port", "6379", "--daemonize", "yes"], check=True)
    for _ in range(50):
        time.sleep(0.1)
        try:
            if redis_cli("PING") == "PONG":
                return
        except subprocess.CalledProcessError:
            pass
    raise RuntimeError("Redis did not start at 127.0.0.1:6379")


def redis_facts() -> str:
    info = dict(line.split(":", 1) for line in redis_cli("INFO", "server").splitlines() if ":" in line)
    conf = redis_cli("CONFIG", "GET", "appendonly").split() + redis_cli("CONFIG", "GET", "save").split("\n")
    return f"Redis {info.get('redis_version', '?')} ({' '.join(conf)})"


def store_url(r: Runner, key: str, rnd: int, tmp: Path) -> str:
    if r.store == "redis-peer":
        return REDIS
    if r.store == "redis":
        return f"{REDIS}?prefix=qb{rnd}-{key}"
    return f"sqlite:{tmp / (r.name.replace(' ', '_').replace(',', '') + f'-{key}-{rnd}.db')}"


def run_one(r: Runner, c: Case, url: str, timeout: float) -> dict[str, float]:
    argv = list(c.argv)
    if r.n is not None and "--n" in argv:
        argv[argv.index("--n") + 1] = str(r.n)
    redis_cli("FLUSHDB")
    out = subprocess.run(
        [*r.argv, *argv, "--store", url, *r.extra], cwd=r.cwd, capture_output=True, text=True, timeout=timeout,
        start_new_session=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"exit {out.returncode}: {out.stderr.strip()[-600:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--only", default="", help="runners, by name, comma-separated")
    ap.add_argument("--cases", default="", help="cases, by key, comma-separated")
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()
    ensure_redis()
    facts = redis_facts()
    only = set(filter(None, a.only.split(",")))
    keys = [k for k in ALL if not a.cases or k in a.cases.split(",")]
    all_cases = cases(a.n)
    rs = [r for r in runners() if not only or r.name in only]
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="omnitron-queue-bench-", dir=os.environ.get("BENCH_TMP", "/tmp")))
    started = time.monotonic()
    try:
        for rnd in range(a.rounds):
            order = rs[rnd % len(rs):] + rs[: rnd % len(rs)]
            for key in keys:
                for r in order:
                    if key not in r.cases:
                        continue
                    try:
                        got = run_one(r, all_cases[key], store_url(r, key, rnd, tmp), a.timeout)
                        results.setdefault((r.name, key), []).append(got)
                    except Exception as e:  # noqa: BLE001 - a runner that fails is reported, the rest go on
                        print(f"round {rnd + 1}: {r.name} {key}: {e}", file=sys.stderr)
                    finally:
                        for f in tmp.iterdir():
                            f.unlink()
            print(f"round {rnd + 1} of {a.rounds} done ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    finally:
        redis_cli("FLUSHDB")
        shutil.rmtree(tmp, ignore_errors=True)
    report(rs, keys, all_cases, results, a, facts)


def median(results: dict[tuple[str, str], list[dict[str, float]]], name: str, key: str, metric: str) -> float | None:
    runs = [r[metric] for r in results.get((name, key), []) if metric in r]
    return statistics.median(runs) if runs else None


def report(rs: list[Runner], keys: list[str], cs: dict[str, Case], results: dict[tuple[str, str], list[dict[str, float]]],
           a: argparse.Namespace, facts: str) -> None:
    def m(name: str, key: str, metric: str) -> float | None:
        return median(results, name, key, metric)

    rate_keys = [k for k in keys if cs[k].kind == "rate"]
    print(f"\n{a.n:,} trivial jobs (100,000 where stated), median of {a.rounds} interleaved rounds; {facts}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n")
    if rate_keys:
        print("| runner | store | " + " | ".join(f"{cs[k].title}, jobs/s" for k in rate_keys) + " |")
        print("| --- | --- |" + " ---: |" * len(rate_keys))
        for r in rs:
            cells = [m(r.name, k, "rate") for k in rate_keys]
            if any(c is not None for c in cells):
                print(f"| {r.name.split(' ')[0]} | {store_title(r)} | " + " | ".join(f"{c:,.0f}" if c else "" for c in cells) + " |")
    if "pickup" in keys:
        print("\n| runner | idle pickup p50 us | p99 us |\n| --- | ---: | ---: |")
        for r in rs:
            p50, p99 = m(r.name, "pickup", "p50_us"), m(r.name, "pickup", "p99_us")
            if p50 is not None and p99 is not None:
                print(f"| {r.name} | {p50:,.0f} | {p99:,.0f} |")
    if "lease" in keys:
        print("\n| runner | store | CPU per 1,000 kept leases, ms/s | % of a core | the process before, ms/s |\n| --- | --- | ---: | ---: | ---: |")
        for r in rs:
            cpu, base, jobs = m(r.name, "lease", "cpu_ms_per_s"), m(r.name, "lease", "base_ms_per_s"), m(r.name, "lease", "jobs")
            if cpu is not None and base is not None and jobs:
                per = cpu * 1000 / jobs
                print(f"| {r.name.split(' ')[0]} | {store_title(r)} | {per:.1f} | {per / 10:.2f}% | {base:.1f} |")
    print("\n| ours | against | case | measured | target | met |\n| --- | --- | --- | ---: | ---: | --- |")
    for ours, peer, key, how, target in TARGETS:
        if key not in keys:
            continue
        line = target_line(ours, peer, key, how, target, m)
        if line:
            print(line)


def store_title(r: Runner) -> str:
    return {"redis": "Redis", "redis-peer": "Redis", "sqlite": "embedded", "sqlite-full": "embedded, FULL"}[r.store] + (
        f", {r.n:,} jobs" if r.n else "")


def target_line(ours: str, peer: str | None, key: str, how: str, target: float, m) -> str | None:  # type: ignore[no-untyped-def]
    if how == "rate":
        o, p = m(ours, key, "rate"), m(peer, key, "rate")
        if o is None or p is None:
            return None
        return f"| {ours} | {peer} | {key} | {o / p:.2f}x ({o:,.0f} / {p:,.0f} jobs/s) | {target:g}x | {'yes' if o / p >= target else 'no'} |"
    if how in ("p50", "p99"):
        o, p = m(ours, key, f"{how}_us"), m(peer, key, f"{how}_us")
        if o is None or p is None:
            return None
        return f"| {ours} | {peer} | {key} {how} | {o:,.0f} / {p:,.0f} us | sooner | {'yes' if o < p else 'no'} |"
    if how == "under_us":
        o = m(ours, key, "p50_us")
        return None if o is None else f"| {ours} | | {key} p50 | {o:,.0f} us | < {target:,.0f} us | {'yes' if o < target else 'no'} |"
    o = m(ours, key, "rate")
    return None if o is None else f"| {ours} | | {key} | {o:,.0f} jobs/s | >= {target:,.0f} | {'yes' if o >= target else 'no'} |"


if __name__ == "__main__":
    main()
