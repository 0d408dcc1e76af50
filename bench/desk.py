"""The committee's desk at growing numbers of cases: the all-cases list (first page, with its
counts), a search by name and by case number, a filtered list, 已办 and the dashboard, over HTTP
against gunicorn, as the secretariat (which sees every case). Prints JSON: p50/p95 per size and
the ratio of the largest size's p95 to the smallest's (goal: at most 1.2).

    .venv/bin/python bench/desk.py [--sizes 1000,100000] [--requests 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

from bench import harness  # noqa: E402
from bench.lists import _populate  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Case  # noqa: E402


def _prepare(app) -> dict[str, str]:
    """Distinct names (as a real register has), and the pages to time on this database."""
    with app.app_context():
        db.session.execute(text("UPDATE case_file SET name = '样本企业' || id"))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does soon after: the rename leaves a dead index entry per case,
            # which the planner steps through when a search's range lies beyond the names it
            # knows (7-10 ms of planning per query at 100,000 cases, 0.8 ms after the vacuum).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE case_file"))
        some = db.session.scalar(select(func.max(Case.id))) // 2
        stage = db.session.scalar(select(Case.stage).where(Case.id == some))
        db.session.remove()
    quote = urllib.parse.quote
    return {
        "all_cases": "/desk/cases",
        "search_name": f"/desk/cases?q={quote(f'样本企业{some}')}",
        "search_number": f"/desk/cases?q={some}",
        "filter_stage": f"/desk/cases?stage={quote(stage)}&sort=created",
        "done": "/desk/done",
        "dashboard": "/desk/dashboard",
        # The process owner's heatmap of the version every case runs on.
        "heatmap": ("owner", "/models/admission/heatmap?version=1"),
    }


def measure(made: dict, requests: int) -> dict:
    """Requests go round the sizes in turn, so each meets the same moments of a busy machine."""
    browsers = {
        (size, user): harness.Browser(m["port"], user)
        for size, m in made.items()
        for user in ("secretary", "owner")
    }
    names = list(next(iter(made.values()))["pages"])

    def target(size, name):
        page = made[size]["pages"][name]
        return page if isinstance(page, tuple) else ("secretary", page)

    times = {(size, name): [] for size in made for name in names}
    for round_ in range(requests + 5):  # the first five warm the caches up
        for size in made:
            for name in names:
                user, url = target(size, name)
                start = time.perf_counter()
                browsers[size, user].get(url)
                if round_ >= 5:
                    times[size, name].append(time.perf_counter() - start)
    for browser in browsers.values():
        browser.close()
    return {size: {n: harness.summary_ms(times[size, n]) for n in names} for size in made}


def run(sizes: list[int], database: str, requests: int) -> dict:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        made = {}
        for size in sizes:
            (tmp / str(size)).mkdir()
            made[size] = _populate(database, tmp / str(size), size, stack)
            made[size]["pages"] = _prepare(made[size]["app"])
        for m in made.values():
            m["port"] = stack.enter_context(harness.Gunicorn(m["url"], m["folder"], workers=1)).port
        results = measure(made, requests)
        for m in made.values():
            with m["app"].app_context():
                db.engine.dispose()
    small, large = min(sizes), max(sizes)
    ratios = {
        name: round(results[large][name]["p95"] / results[small][name]["p95"], 2)
        for name in results[small]
    }
    return {
        "what": (
            "the desk's all-cases list, searches, filters, done list, dashboard and the heatmap; "
            "gunicorn, 1 gthread worker"
        ),
        "database": database,
        "cpu_count": os.cpu_count(),
        "sizes": sizes,
        "pages": {str(size): figures for size, figures in results.items()},
        "p95_ratio_largest_to_smallest": ratios,
        "goal": "each ratio <= 1.2",
        "generation_s": {str(size): m["generation_s"] for size, m in made.items()},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(json.dumps(run(sizes, args.database, args.requests)))


if __name__ == "__main__":
    main()
