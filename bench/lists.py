"""The inbox (secretariat: every application waits on its preliminary review) and "my
applications" (an applicant with a handful of its own among everyone's) at growing numbers of
open instances, over HTTP against gunicorn. Prints JSON: p50/p95 per size, ratio largest/smallest.

    .venv/bin/python bench/lists.py [--sizes 1000,10000,100000] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness, population  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.services import cases, inbox  # noqa: E402

PAGES = {"inbox": ("secretary", "/inbox"), "my_applications": ("applicant", "/cases")}
OWN_APPLICATIONS = 20
OTHER_APPLICANTS = 1000


def measure(ports: dict[int, int], requests: int) -> dict:
    """p50/p95 of each page at each size. Requests go round the sizes in turn, so that every
    size meets the same moments of a busy machine and the ratios compare like with like."""
    browsers = {
        (size, name): harness.Browser(port, username)
        for size, port in ports.items()
        for name, (username, _path) in PAGES.items()
    }
    times = {key: [] for key in browsers}
    for round_ in range(requests + 5):  # the first five warm the caches up
        for (size, name), browser in browsers.items():
            start = time.perf_counter()
            browser.get(PAGES[name][1])
            if round_ >= 5:
                times[size, name].append(time.perf_counter() - start)
    for browser in browsers.values():
        browser.close()
    return {size: {name: harness.summary_ms(times[size, name]) for name in PAGES} for size in ports}


def plans(app) -> list[dict]:
    """The plans of the queries behind both pages (first page, both inbox orders)."""

    def pages():
        secretary, applicant = harness.user("secretary"), harness.user("applicant")
        inbox.page_of(secretary)
        inbox.page_of(secretary, sort="waiting")
        own, _more = cases.for_applicant(applicant)
        cases.waiting_on(own)

    with app.test_request_context():
        found = harness.query_plans(pages)
        db.session.remove()
    return found


def _populate(database: str, folder: Path, size: int, stack: contextlib.ExitStack) -> dict:
    """A database of its own for one size, with `size` applications."""
    url = stack.enter_context(harness.bench_database(database, folder))
    app = harness.make_app(url, folder)
    start = time.perf_counter()
    templates = population.make_templates(app, OWN_APPLICATIONS - 2, at_notice=2)
    per_service = (time.perf_counter() - start) / OWN_APPLICATIONS
    with app.app_context():
        others = harness.add_applicants(OTHER_APPLICANTS)
        db.session.remove()
    seconds = population.grow(app, templates, others, size)
    return {
        "url": url,
        "folder": folder,
        "app": app,
        "templates": templates,
        "others": others,
        "generation_s": round(seconds, 1),
        "per_service": per_service,
    }


def run(sizes: list[int], database: str = "sqlite", requests: int = 100, after=None) -> dict:
    """One database per size, served side by side, both pages timed at each; `after(app,
    templates, applicant_ids)` may measure more on the largest one (the ticker)."""
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        made = {}
        for size in sizes:
            (tmp / str(size)).mkdir()
            made[size] = _populate(database, tmp / str(size), size, stack)
        ports = {
            size: stack.enter_context(harness.Gunicorn(m["url"], m["folder"], workers=1)).port
            for size, m in made.items()
        }
        results = measure(ports, requests)
        largest = made[max(sizes)]
        extra = after(largest["app"], largest["templates"], largest["others"]) if after else {}
        for m in made.values():
            with m["app"].app_context():
                db.engine.dispose()
    generation = {size: m["generation_s"] for size, m in made.items()}
    per_service = made[min(sizes)]["per_service"]
    small, large = min(sizes), max(sizes)
    return {
        "what": "inbox and my applications pages, gunicorn: 1 gthread worker",
        "database": database,
        "cpu_count": os.cpu_count(),
        "sizes": sizes,
        "pages": {str(size): figures for size, figures in results.items()},
        "inbox_p50_ms_small": results[small]["inbox"]["p50"],
        "inbox_p95_ms_small": results[small]["inbox"]["p95"],
        "inbox_p50_ms_large": results[large]["inbox"]["p50"],
        "inbox_p95_ms_large": results[large]["inbox"]["p95"],
        "inbox_ratio": round(results[large]["inbox"]["p95"] / results[small]["inbox"]["p95"], 2),
        "inbox_ratio_p50": round(
            results[large]["inbox"]["p50"] / results[small]["inbox"]["p50"], 2
        ),
        "my_applications_ratio_p50": round(
            results[large]["my_applications"]["p50"] / results[small]["my_applications"]["p50"],
            2,
        ),
        "my_applications_p95_ms_small": results[small]["my_applications"]["p95"],
        "my_applications_p95_ms_large": results[large]["my_applications"]["p95"],
        "my_applications_ratio": round(
            results[large]["my_applications"]["p95"] / results[small]["my_applications"]["p95"],
            2,
        ),
        "generation_s": {str(size): seconds for size, seconds in generation.items()},
        "services_ms_per_application": round(per_service * 1000, 1),
        **extra,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(json.dumps(run(sizes, args.database, args.requests)))


if __name__ == "__main__":
    main()
