"""The examples in the module docstrings of the package (``omnitron``, rpc.py, process.py,
_process_pool.py, workflow.py, metrics.py, resilience.py; worker.py's in test_rpc_events.py,
testing.py's and pytest_plugin.py's in test_testing.py) run as written, against the real engine and
real child processes, so that they cannot drift from the API. Each ``::`` block runs in a namespace seeded with its
module's globals (as doctest does), top-level ``await`` allowed, blocks of a module in order."""

import ast
import importlib
import asyncio
import inspect
import os
import subprocess
import sys
import textwrap
from types import ModuleType
from typing import Any

import pytest

# `omnitron.workflow` is the decorator (the package re-exports it): take the modules by name.
wf_module = importlib.import_module("omnitron.workflow")
metrics_module = importlib.import_module("omnitron.metrics")
resilience_module = importlib.import_module("omnitron.resilience")
process_module = importlib.import_module("omnitron.process")
package = importlib.import_module("omnitron")
rpc_module = importlib.import_module("omnitron.rpc")
process_pool_module = importlib.import_module("omnitron._process_pool")


def literal_blocks(doc: str) -> list[str]:
    """The reStructuredText literal blocks (after a line ending in ``::``) of a docstring."""
    lines = doc.splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.rstrip().endswith("::"):
            i += 1
            continue
        base = len(line) - len(line.lstrip())
        j = i + 1
        body: list[str] = []
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > base):
            body.append(lines[j])
            j += 1
        blocks.append(textwrap.dedent("\n".join(body)).strip("\n"))
        i = j
    return blocks


def run_blocks(module: ModuleType, blocks: list[str]) -> dict[str, Any]:
    assert blocks, f"{module.__name__} has no example"
    ns: dict[str, Any] = dict(vars(module))

    async def main() -> None:
        for n, src in enumerate(blocks):
            code = compile(src, f"<{module.__name__} docstring, example {n + 1}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(code, ns)  # noqa: S307 - our own docstrings
            if inspect.iscoroutine(result):
                await result

    asyncio.run(main())
    return ns


def test_the_parser_finds_the_blocks() -> None:
    doc = "Intro::\n\n    a = 1\n\n    b = 2\n\nProse, then so ::\n\n    c = 3\nEnd."
    assert literal_blocks(doc) == ["a = 1\n\nb = 2", "c = 3"]


def test_workflow_docstring(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # the example opens "orders.journal"
    ns = run_blocks(wf_module, literal_blocks(wf_module.__doc__ or ""))
    assert ns["outputs"]["validate"] == {"sku": "book"}
    assert (tmp_path / "orders.journal").exists()


METRICS_CHECK = """
from test_docstring_examples import literal_blocks, metrics_module, run_blocks

ns = run_blocks(metrics_module, literal_blocks(metrics_module.__doc__ or ""))
assert ns["orders"].labels("paid").get() == 1
assert ns["latency"].count_and_sum()[0] == 1
print("ok")
"""


def test_metrics_docstring() -> None:
    # In a fresh interpreter: the example declares its metrics in the process's one registry, where
    # this test run's other modules declared theirs (the spec's `orders_total` with other labels).
    here = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run([sys.executable, "-c", METRICS_CHECK], cwd=here, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_resilience_docstring() -> None:
    ns = run_blocks(resilience_module, literal_blocks(resilience_module.__doc__ or ""))
    assert ns["charge"].circuit_breaker.state == "closed"


INVENTORY = '''
from omnitron import public, service


@service("inventory@1.0.0")
class Inventory:
    @public
    def reserve(self, sku: str) -> str:
        return sku
'''


def test_process_docstring_supervisor_part(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the example takes as given: an importable module `inventory` with a @service class, and
    # `python` on PATH being this interpreter.
    (tmp_path / "inventory.py").write_text(INVENTORY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.delitem(sys.modules, "inventory", raising=False)
    import inventory  # type: ignore[import-not-found]

    blocks = [b for b in literal_blocks(process_module.__doc__ or "") if "@supervisor" in b]
    assert len(blocks) == 1
    assert inventory.Inventory  # the example imports it itself
    ns = run_blocks(process_module, blocks)
    assert ns["sup"].state == "stopped"


def test_package_docstring() -> None:
    ns = run_blocks(package, literal_blocks(package.__doc__ or ""))
    assert isinstance(ns["c"].resolve(ns["Service"]).repo, ns["Repo"])


def test_rpc_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    # A script: it runs its own event loop (asyncio.run).
    (src,) = literal_blocks(rpc_module.__doc__ or "")
    exec(compile(src, "<omnitron.rpc docstring>", "exec"), {"__name__": "__main__"})  # noqa: S102 - our own docstring
    out = capsys.readouterr().out
    assert "1.0.0 {'charged': 10.0}" in out and "order event order.created {'id': 1}" in out


IMAGES = """
from omnitron import public, service


@service("resizer")
class Resizer:
    @public
    def resize(self, data: bytes, size: int) -> bytes:
        return data[:size]

    @public
    def thumbnail(self, data: object) -> str:
        return f"thumb of {data!r}"
"""

WORKERS = """
from omnitron import public, service


@service
class DataProcessor:
    @public
    def process(self, item: int) -> int:
        return item * 2
"""


def importable(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> ModuleType:
    """A module the example takes as given, importable here and by its worker processes (which
    start in the working directory), with `python` on PATH being this interpreter."""
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


def test_process_docstring_pool_part(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    importable(tmp_path, monkeypatch, "images", IMAGES)
    blocks = [b for b in literal_blocks(process_module.__doc__ or "") if "Pool.start" in b]
    assert len(blocks) == 1
    ns = run_blocks(process_module, blocks)
    assert ns["thumb"] == b"..."
    assert ns["thumbs"] == ["thumb of b'a'", "thumb of b'b'", "thumb of b'c'"]


def test_process_pool_docstring(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    importable(tmp_path, monkeypatch, "workers", WORKERS)
    ns = run_blocks(process_pool_module, literal_blocks(process_pool_module.__doc__ or ""))
    assert ns["results"] == [2, 4, 6]
