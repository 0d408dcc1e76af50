"""The register's search at 1,000 and at 100,000 members: the secretariat's queries (first page,
filters, identifier searches, a name search, a deep page by keyset) through the service the
page calls, and full CSV and XLSX exports. Prints JSON: p50/p95 per size, the ratio of the
p95s (goal ≤ 1.2), the exports' times and the CSV export's peak Python memory.

    .venv/bin/python bench/register.py [--sizes 1000,100000] [--rounds 40] [--database sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

from bench import harness  # noqa: E402
from tests.register_population import populate  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Member  # noqa: E402
from webapp.services import member_register  # noqa: E402
from webapp.services.member_register import RegisterFilter  # noqa: E402


def queries(size: int) -> list[tuple[str, RegisterFilter, int | None]]:
    """The same questions at every size, about members that exist at every size."""
    middle = size // 2
    return [
        ("first_page", RegisterFilter(), None),
        ("status", RegisterFilter(status="suspended"), None),
        ("type_region", RegisterFilter(member_type="individual", region="上海市"), None),
        ("member_number", RegisterFilter(q="2026-P-0000421"), None),
        ("credit_code", RegisterFilter(q="910000000000000422"), None),
        ("name", RegisterFilter(q="示例科技"), None),
        ("deep_page", RegisterFilter(industry="it"), middle),
    ]


def measure(apps: dict[int, object], rounds: int) -> dict:
    """p50/p95 of the queries at each size. Rounds go round the sizes in turn, so that every
    size meets the same moments of a busy machine and the ratio compares like with like."""
    times: dict[int, list[float]] = {size: [] for size in apps}
    firsts = {}
    for size, app in apps.items():
        with app.app_context():
            firsts[size] = db.session.scalar(select(func.min(Member.id)))
    for round_ in range(rounds + 3):  # three warm-up rounds
        for size, app in apps.items():
            with app.app_context():
                for _name, f, before in queries(size):
                    start = time.perf_counter()
                    member_register.search(f, firsts[size] + before if before else None)
                    elapsed = time.perf_counter() - start
                    if round_ >= 3:
                        times[size].append(elapsed * 1000)
    results = {}
    for size, app in apps.items():
        ordered = sorted(times[size])
        results[size] = {
            "p50_ms": round(statistics.median(ordered), 3),
            "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 3),
            **export(app),
        }
    return results


def export(app) -> dict:
    """The whole register as CSV: its time, then (a second run, traced) its peak memory."""
    with app.app_context():
        start = time.perf_counter()
        out = member_register.export_csv(RegisterFilter(), ["h"] * 14, {})
        seconds = time.perf_counter() - start
        size = out.seek(0, 2)
        out.close()
        start = time.perf_counter()
        member_register.export_xlsx(RegisterFilter(), ["h"] * 14, {}).close()
        xlsx_seconds = time.perf_counter() - start
        tracemalloc.start()
        member_register.export_csv(RegisterFilter(), ["h"] * 14, {}).close()
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "export_seconds": round(seconds, 2),
        "export_mb": round(size / 1e6, 1),
        "export_peak_python_mb": round(peak / 1e6, 1),
        "xlsx_export_seconds": round(xlsx_seconds, 2),
    }


def run(sizes: list[int], database: str = "sqlite", rounds: int = 40) -> dict:
    """The queries and exports at each size, each size on a database of its own."""
    with contextlib.ExitStack() as stack:
        apps = {}
        for size in sizes:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(harness.bench_database(database, tmp))
            apps[size] = harness.make_app(url, tmp)
            with apps[size].app_context():
                populate(size)
                if db.engine.dialect.name == "postgresql":
                    # What autovacuum does soon after a bulk load: without the row counts the
                    # planner sorted every suspended member to show fifty (6.7 ms at 100,000).
                    db.session.execute(text("ANALYZE member"))
                    db.session.commit()
        results = measure(apps, rounds)
        for app in apps.values():
            with app.app_context():
                db.engine.dispose()
    small, large = results[sizes[0]], results[sizes[-1]]
    return {
        "database": database,
        "queries": [name for name, _f, _b in queries(sizes[-1])],
        "sizes": results,
        "p95_ratio": round(large["p95_ms"] / small["p95_ms"], 2),
        "goal_p95_ratio": 1.2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(json.dumps(run(sizes, args.database, args.rounds), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
