"""The register's search at 1,000 and at 100,000 members: the secretariat's queries (first page,
filters, identifier searches, a name search, a deep page by keyset) through the service the
page calls, and a full CSV export. Prints JSON: p50/p95 per size, the ratio of the p95s (goal
≤ 1.2) and the export's time and peak Python memory.

    .venv/bin/python bench/register.py [--sizes 1000,100000] [--rounds 30] [--database sqlite]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402
from tests.register_population import populate  # noqa: E402
from webapp.extensions import db  # noqa: E402
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


def measure(app, size: int, rounds: int) -> dict:
    times: list[float] = []
    with app.app_context():
        first_id = db.session.scalar(db.select(db.func.min(member_register.Member.id)))
        for round_ in range(rounds + 3):  # three warm-up rounds
            for _name, f, before in queries(size):
                start = time.perf_counter()
                member_register.search(f, first_id + before if before else None)
                elapsed = time.perf_counter() - start
                if round_ >= 3:
                    times.append(elapsed * 1000)
        tracemalloc.start()
        start = time.perf_counter()
        out = member_register.export_csv(RegisterFilter(), ["h"] * 14, {})
        export_seconds = time.perf_counter() - start
        export_bytes = out.seek(0, 2)
        out.close()
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 3),
        "export_seconds": round(export_seconds, 2),
        "export_mb": round(export_bytes / 1e6, 1),
        "export_peak_python_mb": round(peak / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database", default="sqlite", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp, harness.bench_database(
            args.database, Path(tmp)
        ) as url:
            app = harness.make_app(url, Path(tmp))
            with app.app_context():
                populate(size)
            results[size] = measure(app, size, args.rounds)
            with app.app_context():
                db.engine.dispose()
    small, large = results[sizes[0]], results[sizes[-1]]
    print(
        json.dumps(
            {
                "database": args.database,
                "queries": [name for name, _f, _b in queries(sizes[-1])],
                "sizes": results,
                "p95_ratio": round(large["p95_ms"] / small["p95_ms"], 2),
                "goal_p95_ratio": 1.2,
            },
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
