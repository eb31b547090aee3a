"""Loads the application's status page in headless Chromium (Debian's `chromium`), as a user's
browser would, and checks what it shows while the order saga runs; saves a screenshot.

Used by demo.py when STATUS_PAGE names a directory (make saga-test sets it)."""

from __future__ import annotations

import html.parser
import os
import shutil
import subprocess
import tempfile
from typing import Any


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("status page check: no chromium on PATH (make deps installs Debian's chromium)")


def run_chromium(url: str, *args: str) -> str:
    # A profile of its own: a second run must not find the first one's lock.
    with tempfile.TemporaryDirectory(prefix="omnitron-chromium-") as profile:
        cmd = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}",
            # The page asks the supervisor every two seconds; give it time for three answers so
            # that the charts have rates to draw.
            "--virtual-time-budget=7000", "--run-all-compositor-stages-before-draw",
            *args, url,
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"status page check: chromium failed ({r.returncode}): {r.stderr[-2000:]}")
        return r.stdout


class Text(html.parser.HTMLParser):
    """The text of each section of the page, by its id."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, list[str]] = {}
        self.stack: list[str | None] = []
        self.attrs_seen: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.attrs_seen.append(a)
        if tag in ("br", "img", "meta", "link", "input", "polyline"):
            return
        self.stack.append(a.get("id") if tag == "section" else None)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "img", "meta", "link", "input", "polyline"):
            return
        if self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        section = next((s for s in reversed(self.stack) if s), None)
        if section:
            self.sections.setdefault(section, []).append(data)

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.sections.get(section, [])).split())


def check(url: str, out_dir: str, expect: dict[str, list[str]]) -> list[str]:
    """Loads `url`, returns what is missing (`expect`: section id -> texts it must show), and
    saves the page as out_dir/status-page.png and out_dir/status-page.html."""
    os.makedirs(out_dir, exist_ok=True)
    dom = run_chromium(url, "--dump-dom")
    with open(os.path.join(out_dir, "status-page.html"), "w") as f:
        f.write(dom)
    shot = os.path.join(out_dir, "status-page.png")
    run_chromium(url, f"--screenshot={shot}", "--window-size=1400,2600")
    page = Text()
    page.feed(dom)
    problems = []
    if not any(a.get("data-loaded") == "true" for a in page.attrs_seen):
        problems.append("the page's script never drew the supervisor's answer")
    for section, texts in expect.items():
        shown = page.text(section)
        for t in texts:
            if t not in shown:
                problems.append(f"section '{section}' does not show '{t}' (it shows: {shown[:300]!r})")
    if not os.path.exists(shot) or os.path.getsize(shot) < 10_000:
        problems.append("no screenshot was saved")
    return problems
