"""`make demo`: starts the order-saga application with the omnitron supervisor, sends a few hundred
orders over HTTP, kills one service process with SIGKILL halfway through, waits for every order to
finish, prints a report, checks the invariants, and stops everything, leaving no process behind.

Environment (set by the Makefile): OMNITRON_BIN, OMNITRON_PYTHON, SHIPPING_BIN; ORDERS (default 300),
KILL (the process to kill: payment by default, or inventory, shipping, gateway)."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ["OMNITRON_BIN"]
ORDERS = int(os.environ.get("ORDERS", "300"))
KILL = os.environ.get("KILL", "payment")
APP = ["--app", "order-saga"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT = free_port()


def request(method: str, path: str, body: Any = None) -> tuple[int, Any]:
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        data = None if body is None else json.dumps(body)
        c.request(method, path, body=data, headers={"content-type": "application/json"})
        r = c.getresponse()
        text = r.read().decode()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text
    finally:
        c.close()


def ps() -> list[dict[str, Any]]:
    out = subprocess.run([BIN, "ps", *APP], capture_output=True, text=True, timeout=30).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s", line)
        if m and m.group(1) != "NAME":
            rows.append({"name": m.group(1), "pid": None if m.group(3) == "-" else int(m.group(3)), "state": m.group(4), "restarts": int(m.group(5))})
    return rows


def status_page_url() -> str | None:
    out = subprocess.run([BIN, "ps", *APP], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"status page: (\S+)", out)
    return m.group(1) if m else None


def check_status_page(out_dir: str) -> list[str]:
    """The status page, loaded in headless Chromium while the application runs."""
    import status_page

    url = status_page_url()
    if not url:
        return ["omnitron ps shows no status page"]
    problems = status_page.check(url, out_dir, {
        "processes": ["inventory[0]", "inventory[1]", "payment[0]", "shipping[0]", "gateway[0]", "running"],
        "services": ["inventory@1.0.0", "payment@1.0.0", "shipping@1.0.0"],
        "breakers": ["payment[0]"],
        "workflows": ["order", "completed", "reserve", "payment", "shipping"],
        # One order's trace: the HTTP request, the workflow run and its stages in the gateway, and the calls
        # they made to Python, TypeScript and C.
        "traces": ["across gateway, inventory, payment, shipping", "workflow order", "stage reserve"],
        "metrics": ["omnitron_rpc_requests_total /s", "CPU, all processes"],
    })
    print(f"status page: {url} {'ok' if not problems else 'FAILED'} (screenshot in {out_dir}/status-page.png)")
    return problems


class Collector:
    """An OTLP/HTTP receiver (tests/interop/otlp_receiver.py: the official opentelemetry-proto
    decodes every export) that the application's processes export their spans to."""

    def __init__(self, script: str) -> None:
        self.proc = subprocess.Popen([sys.executable, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().split()
        self.port = int(first[1])
        self.spans: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.spans.append(json.loads(line))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def check_order_trace(collector: Collector, order_id: str) -> list[str]:
    """One order is one trace from the HTTP request to the C service, with every parent in it."""
    def of_order() -> list[dict[str, Any]]:
        run = [s for s in collector.spans if s["name"] == "workflow order" and s["attributes"].get("workflow.run_id") == order_id]
        if not run:
            return []
        spans = [s for s in collector.spans if s["trace"] == run[0]["trace"]]
        return spans if {"inventory", "payment", "shipping"} <= {s["service"] for s in spans} else []

    try:
        spans = wait_until(f"the trace of {order_id} to reach the collector", of_order, 30)
    except SystemExit:
        names = Counter((s["service"], s["name"]) for s in collector.spans)
        return [f"the trace of {order_id} never reached the collector whole; it got {len(collector.spans)} spans: {names.most_common(12)}"]
    problems = []
    ids = {s["span"] for s in spans}
    roots = [s for s in spans if s["parent"] not in ids]
    if len(roots) != 1 or not roots[0]["name"].startswith("POST /orders"):
        problems.append(f"the trace of {order_id} does not have the POST /orders request as its one root: {[(s['service'], s['name'], s['parent']) for s in roots]}")
    by_id = {s["span"]: s for s in spans}
    for svc in ("inventory", "payment", "shipping"):
        served = [s for s in spans if s["service"] == svc and s["kind"] == 2]
        if not served:
            problems.append(f"no span of {svc} serving a call in the trace of {order_id}")
        for s in served:
            parent = by_id.get(s["parent"])
            grand = parent and by_id.get(parent["parent"])
            if not parent or parent["service"] != "gateway" or not grand or not grand["name"].startswith("stage "):
                problems.append(f"{svc}'s span {s['name']} is not the child of a gateway call made by a stage")
    langs = {s["language"] for s in spans}
    if not {"nodejs", "python", "cpp"} <= langs:
        problems.append(f"the trace of {order_id} has spans in {sorted(langs)}, not Node, Python and C")
    print(f"trace of {order_id}: {len(spans)} spans, {len(roots)} root, services {sorted({s['service'] for s in spans})}, languages {sorted(langs)}: {'ok' if not problems else 'FAILED'}")
    return problems


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until(what: str, f: Any, secs: float = 60.0) -> Any:
    until = time.time() + secs
    while time.time() < until:
        try:
            v = f()
            if v:
                return v
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise SystemExit(f"demo: timed out waiting for {what}")


def order(i: int) -> dict[str, Any]:
    # One order in ten asks for more than the stock allows and is compensated.
    qty = 11 if i % 10 == 7 else 1 + i % 5
    return {"id": f"order-{i:04d}", "sku": f"sku-{i % 7}", "qty": qty, "amount": round(5 + (i % 13) * 2.5, 2), "address": f"{i} Main St"}


def main() -> int:
    tmp = tempfile.mkdtemp(prefix="omnitron-demo-")
    env = dict(os.environ, ORDERS_DIR=tmp, GATEWAY_PORT=str(PORT))
    collector = Collector(os.environ["OTLP_RECEIVER"]) if os.environ.get("OTLP_RECEIVER") else None
    if collector:
        env.update(TRACE_EXPORTER="otlp", TRACE_ENDPOINT=f"http://127.0.0.1:{collector.port}")
    t_start = time.time()
    app = subprocess.Popen([BIN, "start", os.path.join(HERE, "omnitron.yaml")], env=env, cwd=HERE,
                           stdout=open(os.path.join(tmp, "omnitron.log"), "w"), stderr=subprocess.STDOUT)
    pids: set[int] = set()
    try:
        wait_until("the gateway to be ready", lambda: request("GET", "/health/ready")[0] == 200, 90)
        print(f"demo: application up in {time.time() - t_start:.1f} s: {', '.join(sorted({r['name'] for r in ps()}))}")
        pids |= {r["pid"] for r in ps() if r["pid"]}
        # Bad requests get a clear 4xx and start nothing: the body is checked against CreateOrderDto
        # before the handler runs, and the 400 names every failing field.
        for path, body, want in (("/orders", [1, 2], 400), ("/orders/no-such-order", None, 404)):
            status, answer = request("POST" if body is not None else "GET", path, body)
            if status != want:
                raise SystemExit(f"demo: {path} answered {status} ({answer}), expected {want}")
        status, answer = request("POST", "/orders", {"id": "bad", "sku": "x", "qty": 0, "amount": 1})
        fields = sorted(e.get("path") for e in answer.get("errors", [])) if isinstance(answer, dict) else []
        if status != 400 or fields != ["/address", "/qty"]:
            raise SystemExit(f"demo: an order with qty 0 and no address answered {status} ({answer}), expected a 400 naming /address and /qty")
        killed: dict[str, Any] = {}
        sent: dict[str, float] = {}

        def send(i: int) -> None:
            o = order(i)
            # A killed gateway refuses connections until the supervisor has restarted it.
            status, body = wait_until("the gateway to take an order", lambda: request("POST", "/orders", o), 60)
            if status != 202:
                raise SystemExit(f"demo: POST /orders answered {status}: {body}")
            sent[o["id"]] = time.time()

        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            half = ORDERS // 2
            list(ex.map(send, range(half)))
            victim = next(r for r in ps() if r["name"] == KILL)
            os.kill(victim["pid"], signal.SIGKILL)
            killed = victim
            print(f"demo: sent {half} orders; killed {KILL} (pid {victim['pid']}) with SIGKILL")
            list(ex.map(send, range(half, ORDERS)))
        print(f"demo: sent {ORDERS} orders")
        page_problems: list[str] = []
        if os.environ.get("STATUS_PAGE"):
            # The page while the application runs, once an order sent after the kill is done (the
            # killed process's spans went with it, so earlier orders' traces lack their payment).
            last = list(sent)[-1]
            wait_until("the last order to finish", lambda: request("GET", f"/orders/{last}")[1].get("state") in ("completed", "compensated"), 60)
            page_problems = check_status_page(os.environ["STATUS_PAGE"])

        def finished() -> list[dict[str, Any]]:
            runs = [request("GET", f"/orders/{oid}")[1] for oid in sent]
            return runs if all(r.get("state") in ("completed", "compensated", "compensation_failed") for r in runs) else []

        runs = wait_until("every order to finish", finished, 120)
        rows = ps()
        pids |= {r["pid"] for r in rows if r["pid"]}
        states = Counter(r["state"] for r in runs)
        reasons = Counter(re.sub(r"(order|sku)-\d+", r"\1-N", r["error"]["related"][0]["message"] if r.get("error", {}).get("related") else str(r.get("error"))) for r in runs if r["state"] != "completed")
        attempts = Counter()
        for r in runs:
            for s in r["stages"]:
                attempts[s["name"]] += s["attempts"]
        lat = sorted(r["finishedAtMs"] - r["createdAtMs"] for r in runs)
        restarts = {r["name"]: r["restarts"] for r in rows if r["restarts"]}
        print("\n== report")
        print(f"orders: {len(runs)}  completed: {states['completed']}  compensated: {states['compensated']}  compensation failed: {states['compensation_failed']}")
        for why, n in reasons.most_common():
            print(f"  compensated because: {why} ({n})")
        service_of = {"reserve": "inventory (Python)", "payment": "payment (TypeScript)", "shipping": "shipping (C)"}
        print("calls per service (stage attempts): " + ", ".join(f"{service_of[k]} {v}" for k, v in attempts.items() if k in service_of))
        print(f"restarts: {restarts or 'none'} ({KILL} pid {killed['pid']} was killed)")
        status, pay = request("GET", "/stats/payment")
        if status == 200:
            changes = pay.get("breakerChanges", [])
            print(f"payment: {pay.get('bankCalls')} calls to the flaky bank; breaker state changes since the restart: {len(changes)} {changes[:6]}")
        print(f"order latency: p50 {statistics.median(lat):.0f} ms, p99 {lat[int(len(lat) * 0.99) - 1]:.0f} ms")
        # Invariants.
        db = sqlite3.connect(os.path.join(tmp, "ledger.db"))
        held = {k for (k,) in db.execute("SELECT key FROM reservations WHERE released = 0")}
        completed = {r["runId"] for r in runs if r["state"] == "completed"}
        problems = []
        if request("GET", "/orders/bad")[0] != 404:
            problems.append("the invalid order (qty 0) started a saga")
        if states["compensation_failed"]:
            problems.append("some compensations failed")
        if {k.split(":")[0] for k in held} != completed:
            problems.append("reservations held do not match completed orders")
        if len(runs) != ORDERS:
            problems.append("orders lost")
        if not restarts.get(KILL):
            problems.append(f"the killed {KILL} was not restarted")
        charged: Counter[str] = Counter()
        refunded: set[str] = set()
        with open(os.path.join(tmp, "payments.jsonl")) as f:
            for line in f:
                e = json.loads(line)
                if e["kind"] == "charge":
                    charged[e["charge"]["order"]] += 1
                else:
                    refunded.add(e["key"])
        if any(n > 1 for n in charged.values()):
            problems.append("an order was charged twice")
        kept = {o for o in charged if f"{o}:payment" not in refunded}
        if kept != completed:
            problems.append(f"charges kept ({len(kept)}) do not match completed orders ({len(completed)})")
        if collector:
            # An order sent after the kill: the killed process's spans not yet exported died with it.
            last = max(r["runId"] for r in runs if r["state"] == "completed")
            problems += check_order_trace(collector, last)
        problems += page_problems
        print("invariants: " + ("ok (every order completed or fully compensated; charges kept == reservations held == completed orders; no order charged twice)" if not problems else "FAILED: " + "; ".join(problems)))
        return 1 if problems else 0
    finally:
        subprocess.run([BIN, "stop", *APP], capture_output=True, timeout=30)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
        if collector:
            collector.close()
        left = [p for p in pids if alive(p)]
        print(f"stopped: {'no process left' if not left else f'processes left: {left}'}; total {time.time() - t_start:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
