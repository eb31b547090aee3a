"""The examples in the HTTP modules' docstrings (``omnitron.http``, ``omnitron._http_testing``) run
as written, against the real server, so that they cannot drift from the API."""

import importlib

from test_docstring_examples import literal_blocks


def _run_script(module_name: str) -> None:
    module = importlib.import_module(module_name)
    (src,) = literal_blocks(module.__doc__ or "")
    exec(compile(src, f"<{module_name} docstring>", "exec"), {"__name__": "__main__"})  # noqa: S102 - our own docstring


def test_http_docstring() -> None:
    _run_script("omnitron.http")


def test_http_testing_docstring() -> None:
    _run_script("omnitron._http_testing")
