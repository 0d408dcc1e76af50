"""axe-core (from npm, node_modules/axe-core) run in Chromium against WCAG 2.0/2.1 A and AA rules.

`check(page)` runs it once on the page as it stands and fails with a readable list. `Watcher`
runs it on every address the browser tests show: when a context closes or the test ends, each
page still open is checked as the test left it, then every other address the context showed is
opened again in that context (same login, language and width) and checked. A page another test
already showed alike (same person, language, width, route and title) is not checked again, which
keeps the run's time close to what it was. Pages cannot be checked while the test runs:
Playwright cannot evaluate in a document whose navigation is under way, and a check racing the
test's next click would be lost."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# Returns the violations in a compact form; injects axe only once per document.
_RUN = """async ([source, tags]) => {
  if (!window.axe) { (0, eval)(source); }
  const result = await window.axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations'],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary || ''})),
  }));
}"""

# What makes two visits of one address different states worth checking again.
_STATE = """() => location.href.split('#')[0] + ' alerts=' +
  document.querySelectorAll('.alert, .is-invalid, .invalid-feedback, .modal.show').length"""

# What makes two pages the same page for the whole run: one person, language and width, one
# route (ids left out) and title (numbers left out), as many alerts. Checked once per run.
_KIND = """() => JSON.stringify([
  (document.querySelector('#who') || {}).textContent || '', document.documentElement.lang,
  innerWidth >= 1200, location.pathname.replace(/\\/[0-9a-f-]{6,}|\\/\\d+/g, '/_'),
  [...new URLSearchParams(location.search).keys()].sort().join(','),
  document.title.replace(/\\d+/g, ''),
  document.querySelectorAll('.alert, .is-invalid, .invalid-feedback, .modal.show').length])"""
SEEN_IN_RUN: set = set()

_source: str | None = None
# What the checks cost the run, for the terminal summary (conftest): pages checked, seconds.
SPENT = {"pages": 0, "seconds": 0.0}
FLUSH = {"seconds": 0.0}  # all of it, reopening pages included


def _axe_source() -> str:
    global _source
    if _source is None:
        if not AXE_JS.exists():
            raise RuntimeError(f"{AXE_JS} is missing: run `npm ci` (make deps installs it)")
        _source = AXE_JS.read_text(encoding="utf-8")
    return _source


def violations(page_or_frame) -> list[dict]:
    began = time.perf_counter()
    try:
        return page_or_frame.evaluate(_RUN, [_axe_source(), TAGS])
    finally:
        SPENT["pages"] += 1
        SPENT["seconds"] += time.perf_counter() - began


def describe(url: str, found: list[dict]) -> str:
    lines = [f"{url}:"]
    for v in found:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        for node in v["nodes"][:8]:
            summary = " / ".join(s.strip() for s in node["summary"].splitlines()[1:3] if s.strip())
            lines.append(f"      {node['target']}  — {summary}")
        if len(v["nodes"]) > 8:
            lines.append(f"      … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def check(page) -> None:
    """Fails when axe finds any WCAG 2 A/AA violation on the page as it stands."""
    found = violations(page)
    if found:
        raise AssertionError("axe-core found WCAG 2 A/AA violations\n" + describe(page.url, found))


@dataclass
class Watcher:
    """Runs axe on every address the contexts it watches showed (see the module's docstring)."""

    reports: list[str] = field(default_factory=list)
    contexts: list = field(default_factory=list)
    visited: dict = field(default_factory=dict)  # context -> addresses in the order first shown
    checked: set = field(default_factory=set)  # (context, state) already checked
    revisiting: bool = False

    def watch(self, context) -> None:
        self.contexts.append(context)
        self.visited[id(context)] = {}
        context.on("page", self._watch_page)

    def _watch_page(self, page) -> None:
        context_id = id(page.context)

        def navigated(frame):
            if self.revisiting:
                return
            if frame.parent_frame is None and frame.url.startswith("http"):
                self.visited[context_id].setdefault(frame.url.split("#")[0], None)

        page.on("framenavigated", navigated)

    def inspect(self, page) -> None:
        """The page as it stands, unless this state was already checked in its context."""
        try:
            if page.is_closed() or not page.url.startswith("http"):
                return
            state = page.evaluate(_STATE)
            key = (id(page.context), state)
            if key in self.checked:
                return
            self.checked.add(key)
            kind = page.evaluate(_KIND)
            if kind in SEEN_IN_RUN:
                return
            SEEN_IN_RUN.add(kind)
            found = violations(page)
        except Exception:  # a page closing under the check: nothing left to see
            return
        if found:
            self.reports.append(describe(page.url, found))

    def flush(self, context) -> None:
        """Checks the open pages as they stand, then opens again every other address shown."""
        shown = self.visited.get(id(context), {})
        if not shown:
            return
        began = time.perf_counter()
        try:
            self._flush(context, shown)
        finally:
            FLUSH["seconds"] += time.perf_counter() - began

    def _flush(self, context, shown) -> None:
        open_pages = [page for page in context.pages if not page.is_closed()]
        for page in open_pages:
            self.inspect(page)
        done = {key[1].split(" ")[0] for key in self.checked if key[0] == id(context)}
        remaining = [url for url in shown if url not in done and not _unsafe(url)]
        self.visited[id(context)] = {}
        if not remaining:
            return
        self.revisiting = True
        page = context.new_page()
        try:
            for url in remaining:
                try:
                    page.goto(url, wait_until="load")
                except Exception:  # a download or an address that no longer answers
                    continue
                self.inspect(page)
        finally:
            page.close()
            self.revisiting = False

    def finish(self) -> str | None:
        for context in self.contexts:
            try:
                self.flush(context)
            except Exception:  # closed by the test: flushed then
                pass
        if self.reports:
            return "axe-core found WCAG 2 A/AA violations on pages this test visited\n" + "\n".join(
                dict.fromkeys(self.reports)
            )
        return None


def _unsafe(url: str) -> bool:
    """Addresses whose GET changes the session or answers a file: not opened again."""
    return any(part in url for part in ("logout", "/download", ".csv", ".xlsx", "/files/"))
