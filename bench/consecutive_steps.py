"""Two steps in a row on one instance in one worker (preliminary review: pass, then an objection
filed while the notice runs), through the adapter alone, with the worker's kept workflows and
without. The second step is where keeping pays: it takes the workflow the first one left instead
of restoring the state. The first step shows what keeping costs when nothing is taken. Prints
JSON.

    .venv/bin/python bench/consecutive_steps.py [--n 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from bench import harness  # noqa: E402
from webapp.engine import EngineLimits, SandboxLimits, WorkflowEngine  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import HumanTask, ProcessInstance  # noqa: E402
from webapp.services.diagram_functions import diagram_functions  # noqa: E402
from webapp.services.workflow import source_for  # noqa: E402

WARM_UP = 10
OBJECTION = {"objections": [{"reason": "拖欠员工工资", "filed_at": "2026-06-02T09:00:00+08:00"}]}


def two_steps(engine: WorkflowEngine, rows, actor: int) -> tuple[list[float], list[float]]:
    """Seconds of the first step (review) and of the second (objection) on each instance."""
    first, second = [], []
    for guid, state, version_id in rows:
        source = source_for(version_id)
        start = time.perf_counter()
        result = engine.complete(source, state, guid, {"review_decision": "pass"}, actor=actor)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        engine.merge_data(source, result.state, OBJECTION)
        second.append(time.perf_counter() - start)
    return first[WARM_UP:], second[WARM_UP:]


def run(n: int = 200) -> dict:
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database("sqlite", Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        guids = harness.prepare_reviews(app, n + WARM_UP)
        with app.app_context():
            actor = harness.user("secretary").id
            rows = db.session.execute(
                select(HumanTask.task_guid, ProcessInstance.state, ProcessInstance.version_id)
                .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
                .where(HumanTask.task_guid.in_(guids))
            ).all()
            figures = {}
            for name, kept in (("kept", 256), ("restored", 0)):
                engine = WorkflowEngine(
                    diagram_functions(), EngineLimits(), SandboxLimits(), restored=kept
                )
                cpu = time.process_time()
                first, second = two_steps(engine, rows, actor)
                cpu = time.process_time() - cpu
                figures[name] = {
                    "first_step_ms_p50": harness.summary_ms(first)["p50"],
                    "second_step_ms_p50": harness.summary_ms(second)["p50"],
                    "cpu_ms_per_pair": round(cpu / len(rows) * 1000, 2),
                    "hits": engine.restored_hits,
                }
            db.session.remove()
            db.engine.dispose()
    return {
        "what": "review then objection on one instance, adapter only, kept workflows vs none",
        "n": n,
        **{f"{name}_{key}": value for name, fig in figures.items() for key, value in fig.items()},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(run(args.n)))


if __name__ == "__main__":
    main()
