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


def two_steps(engine: WorkflowEngine, guid: str, state: str, source, actor: int):
    """Seconds of the first step (review) and of the second (objection) on one instance."""
    start = time.perf_counter()
    result = engine.complete(source, state, guid, {"review_decision": "pass"}, actor=actor)
    first = time.perf_counter() - start
    start = time.perf_counter()
    engine.merge_data(source, result.state, OBJECTION)
    return first, time.perf_counter() - start


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
            engines = {
                name: WorkflowEngine(
                    diagram_functions(), EngineLimits(), SandboxLimits(), restored=kept
                )
                for name, kept in (("kept", 256), ("restored", 0))
            }
            times = {name: ([], [], [0.0]) for name in engines}
            # Each instance's state through both engines, in turn, so that both meet the same
            # moments of a busy machine.
            for i, (guid, state, version_id) in enumerate(rows):
                for name, engine in engines.items():
                    cpu = time.process_time()
                    first, second = two_steps(engine, guid, state, source_for(version_id), actor)
                    if i >= WARM_UP:
                        times[name][0].append(first)
                        times[name][1].append(second)
                        times[name][2][0] += time.process_time() - cpu
            db.session.remove()
            db.engine.dispose()
    figures = {"what": "review then objection on one instance, adapter only, kept vs restored"}
    figures["n"] = n
    for name, (first, second, cpu) in times.items():
        figures[f"{name}_first_step_ms_p50"] = harness.summary_ms(first)["p50"]
        figures[f"{name}_second_step_ms_p50"] = harness.summary_ms(second)["p50"]
        # CPU of this process only: the sandbox's own process runs the scripts.
        figures[f"{name}_cpu_ms_per_pair"] = round(cpu[0] / n * 1000, 2)
        figures[f"{name}_hits"] = engines[name].restored_hits
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(run(args.n)))


if __name__ == "__main__":
    main()
