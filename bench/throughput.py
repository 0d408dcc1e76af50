"""Sustained task completions per second: several client processes, each on its own keep-alive
connection, complete preliminary reviews against gunicorn with several workers. Prints JSON.

    .venv/bin/python bench/throughput.py [--n 2000] [--workers 3] [--clients 6]
                                         [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from bench import harness, population  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import HumanTask  # noqa: E402


def _client(port: int, guids: list[str], start_at: float, queue) -> None:
    secretary = harness.Browser(port, "secretary")
    while time.time() < start_at:
        time.sleep(0.001)
    statuses, finished = {}, []
    for guid in guids:
        status = secretary.post(f"/tasks/{guid}", {"review_decision": "pass"})
        statuses[status] = statuses.get(status, 0) + 1
        finished.append(time.time())
    secretary.close()
    queue.put((statuses, finished))


def open_reviews(app) -> list[str]:
    with app.app_context():
        guids = list(
            db.session.scalars(
                select(HumanTask.task_guid).where(
                    HumanTask.state == "ready", HumanTask.bpmn_id == "preliminary_review"
                )
            )
        )
        db.session.remove()
    return guids


def run(n: int = 2000, workers: int = 3, clients: int = 6, database: str = "sqlite") -> dict:
    """Complete n reviews as fast as `clients` concurrent clients get them done."""
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database(database, Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        templates = population.make_templates(app, 10)
        with app.app_context():
            others = harness.add_applicants(100)
            db.session.remove()
        population.grow(app, templates, others, n + 10)
        guids = open_reviews(app)
        with harness.Gunicorn(url, Path(tmp), workers=workers) as server:
            context = multiprocessing.get_context("fork")
            queue = context.Queue()
            start_at = time.time() + 2  # every client logged in before the clock starts
            cpu = server.cpu_seconds()
            shares = [guids[i::clients] for i in range(clients)]
            processes = [
                context.Process(target=_client, args=(server.port, share, start_at, queue))
                for share in shares
            ]
            for process in processes:
                process.start()
            results = [queue.get() for _ in processes]
            for process in processes:
                process.join()
            cpu = server.cpu_seconds() - cpu
        with app.app_context():
            db.engine.dispose()
    statuses: dict[int, int] = {}
    for partial, _ in results:
        for status, count in partial.items():
            statuses[status] = statuses.get(status, 0) + count
    end = max(max(finished) for _, finished in results if finished)
    done = statuses.get(302, 0)
    # While every client still had reviews to post: the run's tail, when the clients that
    # gunicorn's workers served slower finish alone, is left out.
    all_busy = min(max(finished) for _, finished in results if finished)
    done_all_busy = sum(1 for _, finished in results for moment in finished if moment <= all_busy)
    return {
        "what": "sustained completions (preliminary review: pass), concurrent clients",
        "database": database,
        "cpu_count": os.cpu_count(),
        "gunicorn_workers": workers,
        "clients": clients,
        "completions": done,
        "statuses": {str(k): v for k, v in statuses.items()},
        "seconds": round(end - start_at, 2),
        "completions_per_s": round(done / (end - start_at), 1),
        "completions_per_s_all_busy": round(done_all_busy / (all_busy - start_at), 1),
        # Server CPU per completion (logins included): what bounds the rate on a busy machine.
        "server_cpu_ms_per_completion": round(cpu / max(done, 1) * 1000, 2),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(json.dumps(run(args.n, args.workers, args.clients, args.database)))


if __name__ == "__main__":
    main()
