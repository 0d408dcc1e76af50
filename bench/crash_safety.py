"""Crash safety, many times over: in each run people complete reviews and cast votes over HTTP
against a real gunicorn, the server's process group is SIGKILLed at a random point of the load
and started again, and then every answered step is checked in the database and the whole
database with `flask check`'s consistency check. Prints one JSON object.

    .venv/bin/python bench/crash_safety.py [--runs 50] [--database sqlite|postgresql] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run(runs: int, database: str = "sqlite", seed: int | None = None) -> dict:
    # Imported here, not at the top: the client processes are spawned, and each imports this
    # script afresh; the app and its engine would cost every client seconds.
    import time_machine

    from bench import harness
    from tests.crash import run_round
    from tests.procedure import SHANGHAI
    from tests.servers import Server
    from webapp.extensions import db

    seed = seed if seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    began = time.monotonic()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database(database, Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        # The server reads the real clock, so each run's cases start from it.
        start = datetime.now(SHANGHAI)
        with Server(url, Path(tmp), workers=2) as server:
            with time_machine.travel(start, tick=False) as traveller:
                for _ in range(runs):
                    rounds.append(run_round(app, server, traveller, start, rng))
            starts = server.starts
        with app.app_context():
            db.engine.dispose()
    answered = {}
    for found in rounds:
        for status, count in found.answered.items():
            answered[status] = answered.get(status, 0) + count
    problems = [p for found in rounds for p in found.problems]
    mid_load = sum(1 for r in rounds if 0 < r.killed_after_completions < r.steps)
    return {
        "what": "SIGKILL of gunicorn (2 workers × 2 threads) at a random point of a load of "
        "reviews and votes by 4 client processes, restart, verify answered steps + flask check",
        "database": database,
        "cpu_count": os.cpu_count(),
        "seed": seed,
        "crash_runs": len(rounds),
        "kills": starts - 1,
        "kills_mid_load": mid_load,
        "steps": sum(r.steps for r in rounds),
        "answered_302": answered.get(302, 0),
        # A step committed just before the kill whose answer was lost: the retry hears 409
        # "already completed by you", and the step is in the database once.
        "answered_409_after_crash": answered.get(409, 0),
        "answered_other": sum(c for s, c in answered.items() if s not in (302, 409)),
        "inconsistencies": len(problems),
        "problems": problems[:20],
        "restart_s_p50": round(statistics.median(r.restart_seconds for r in rounds), 2)
        if rounds
        else None,
        "phase_seconds": {
            phase: round(sum(r.seconds.get(phase, 0) for r in rounds), 1)
            for phase in ("prepare", "load", "verify")
        },
        "seconds": round(time.monotonic() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    result = run(args.runs, args.database, args.seed)
    print(json.dumps(result, ensure_ascii=False))
    sys.exit(1 if result["inconsistencies"] or result["answered_other"] else 0)


if __name__ == "__main__":
    main()
