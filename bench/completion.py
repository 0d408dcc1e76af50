"""Median time of one task completion over HTTP (Flask test client, SQLite) against the raw
SpiffWorkflow round trip of the same transition (deserialize, run, engine steps, serialize),
measured in the same run. Prints one JSON object.

    .venv/bin/python bench/completion.py [--n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import select  # noqa: E402

from tests.conftest import VALID_APPLICATION as APPLICATION  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Application, HumanTask  # noqa: E402
from webapp.services import process_models, users  # noqa: E402

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _login(app, username):
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post(
        "/login", data={"username": username, "password": users.DEMO_PASSWORD, "csrf_token": token}
    )
    token = CSRF_RE.search(client.get("/board").get_data(as_text=True)).group(1)
    return client, token


def _ready_review_tasks(app, n):
    applicant, token = _login(app, "applicant")
    guids = []
    for _ in range(n):
        applicant.post("/applications", data={"csrf_token": token})
        with app.app_context():
            app_row = db.session.scalars(
                select(Application).order_by(Application.id.desc())
            ).first()
            guid = db.session.scalars(
                select(HumanTask.task_guid).where(
                    HumanTask.instance_id == app_row.instance_id, HumanTask.state == "ready"
                )
            ).one()
        applicant.post(f"/tasks/{guid}", data={**APPLICATION, "csrf_token": token})
        with app.app_context():
            guids.append(
                db.session.scalars(
                    select(HumanTask.task_guid).where(
                        HumanTask.instance_id == app_row.instance_id, HumanTask.state == "ready"
                    )
                ).one()
            )
    return guids


def http_completions(app, guids):
    secretary, token = _login(app, "secretary")
    times = []
    for guid in guids:
        start = time.perf_counter()
        response = secretary.post(
            f"/tasks/{guid}", data={"review_decision": "pass", "csrf_token": token}
        )
        times.append(time.perf_counter() - start)
        assert response.status_code == 302, response.status_code
    return times


def raw_engine_completions(n):
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(ROOT / "workflows" / "admission.bpmn"))
    spec = parser.get_spec("admission")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    workflow = BpmnWorkflow(spec)
    workflow.do_engine_steps()
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data.update({k: v for k, v in APPLICATION.items()})
    task.run()
    workflow.do_engine_steps()
    state = serializer.serialize_json(workflow)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        wf = serializer.deserialize_json(state)
        review = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        review.data.update({"review_decision": "pass"})
        review.run()
        wf.do_engine_steps()
        serializer.serialize_json(wf)
        times.append(time.perf_counter() - start)
    return times, len(state)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db", "SECRET_KEY": "bench"}
        )
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            process_models.load_directory(app.config["WORKFLOWS_DIR"], app.config["FORMS_DIR"])
            users.ensure_demo_users()
        guids = _ready_review_tasks(app, args.n)
        http = http_completions(app, guids)
        raw, raw_bytes = raw_engine_completions(args.n)
        with app.app_context():
            db.engine.dispose()
    http_ms, raw_ms = statistics.median(http) * 1000, statistics.median(raw) * 1000
    print(
        json.dumps(
            {
                "what": "one task completion (preliminary review: pass)",
                "n": args.n,
                "cores": os.cpu_count(),
                "database": "sqlite",
                "completion_ms_p50": round(http_ms, 2),
                "engine_ms_p50": round(raw_ms, 2),
                "completion_ratio": round(http_ms / raw_ms, 2),
                "raw_state_bytes": raw_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
