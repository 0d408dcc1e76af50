"""Two steps in a row on one instance in one worker (preliminary review: pass, then an objection
filed while the notice runs), with the worker's kept workflows and without. The second step is
where keeping pays: it takes the workflow the first one left instead of restoring the state. The
first step shows what keeping costs when nothing is taken. Through the adapter alone, or with
--http over HTTP against two gunicorns of one worker each (ENGINE_RESTORED=256 and 0), taking
each instance in turn. Prints JSON.

    .venv/bin/python bench/consecutive_steps.py [--n 200] [--http]
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


def over_http(n: int = 200) -> dict:
    """The same two steps as a secretary's form and an objection on the board, each instance on
    one of two servers in turn; wall time of each objection, server CPU per pair."""
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database("sqlite", Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        with app.app_context():
            applicant = harness.user("applicant")
            pairs = [harness.submit_application(app, applicant) for _ in range(2 * (n + WARM_UP))]
            db.session.remove()
            db.engine.dispose()
        os.environ["RATELIMIT_ENABLED"] = "false"  # one address files every objection
        with contextlib.ExitStack() as stack:
            servers = {}
            for name, kept in (("kept", "256"), ("restored", "0")):
                os.environ["ENGINE_RESTORED"] = kept
                servers[name] = stack.enter_context(harness.Gunicorn(url, Path(tmp)))
            browsers = {name: harness.Browser(s.port, "secretary") for name, s in servers.items()}
            walls = {name: [] for name in servers}
            cpu = {name: 0.0 for name in servers}
            for i, (case_id, guid) in enumerate(pairs):
                name = ("kept", "restored")[i % 2]
                browser, server = browsers[name], servers[name]
                before = server.cpu_seconds()
                if browser.post(f"/tasks/{guid}", {"review_decision": "pass"}) != 302:
                    raise RuntimeError("the review was not accepted")
                start = time.perf_counter()
                status = browser.post(
                    f"/board/{case_id}/objection", {"reason": "该企业存在拖欠员工工资的情况。"}
                )
                wall = time.perf_counter() - start
                if status != 302:
                    raise RuntimeError(f"the objection answered {status}")
                if i >= 2 * WARM_UP:
                    walls[name].append(wall)
                    cpu[name] += server.cpu_seconds() - before
    figures = {"what": "review then objection over HTTP, two 1-worker gunicorns, kept vs restored"}
    figures["n"] = n
    for name in servers:
        figures[f"{name}_objection_ms_p50"] = harness.summary_ms(walls[name])["p50"]
        figures[f"{name}_server_cpu_ms_per_pair"] = round(cpu[name] / n * 1000, 2)
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--http", action="store_true")
    args = parser.parse_args()
    print(json.dumps(over_http(args.n) if args.http else run(args.n)))


if __name__ == "__main__":
    main()
