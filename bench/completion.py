"""One task completion (preliminary review: pass) over HTTP against a real gunicorn on loopback,
against the raw SpiffWorkflow round trip of the same transition (deserialize, complete, engine
steps, serialize with SpiffWorkflow's own serializer), measured in the same run. Prints JSON.

    .venv/bin/python bench/completion.py [--n 200] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

from bench import harness  # noqa: E402
from webapp.engine.sandbox import SandboxScriptEngine  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.services import cases, process_models  # noqa: E402
from webapp.services.diagram_functions import diagram_functions  # noqa: E402
from webapp.services.workflow import engine, source_for  # noqa: E402

WARM_UP = 10


class RawEngine:
    """The same transition done with SpiffWorkflow alone, the state stored as its serializer
    does by default (spec included). Diagram functions read the database: use in an app context.
    """

    def __init__(self):
        self.secretary_id = harness.user("secretary").id
        applicant_id = harness.user("applicant").id
        version = process_models.live_version("admission")
        forms = cases.version_content(version.id).forms
        parser = SpiffBpmnParser(validator=VALIDATOR)
        parser.add_bpmn_file(str(harness.ROOT / "workflows" / "admission.bpmn"))
        self.script_engine = SandboxScriptEngine(diagram_functions())
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        workflow = BpmnWorkflow(parser.get_spec("admission"), script_engine=self.script_engine)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update({"applicant_id": applicant_id, **cases.model_data(forms)})
        workflow.do_engine_steps()
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update({**harness.APPLICATION, "completed_by": applicant_id})
        task.run()
        workflow.do_engine_steps()
        self.state = self.serializer.serialize_json(workflow)

    def round_trip(self) -> float:
        """Seconds for deserialize, complete the review, engine steps, serialize."""
        start = time.perf_counter()
        wf = self.serializer.deserialize_json(self.state)
        wf.script_engine = self.script_engine
        review = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        review.data.update({"review_decision": "pass", "completed_by": self.secretary_id})
        review.run()
        wf.do_engine_steps()
        self.serializer.serialize_json(wf)
        return time.perf_counter() - start


def interleaved(app, port: int, guids: list[str]) -> tuple[list[float], list[float]]:
    """HTTP completions (one keep-alive connection) alternating with raw engine round trips,
    so that both meet the same moments of a busy machine."""
    http, raw = [], []
    with app.app_context():
        engine_alone = RawEngine()
        secretary = harness.Browser(port, "secretary")
        for guid in guids:
            raw.append(engine_alone.round_trip())
            start = time.perf_counter()
            status = secretary.post(f"/tasks/{guid}", {"review_decision": "pass"})
            http.append(time.perf_counter() - start)
            if status != 302:
                raise RuntimeError(f"completion answered {status}")
        secretary.close()
        db.session.remove()
    return http, raw


def adapter_completions(app, guids: list[str]) -> list[float]:
    """Our adapter's share alone (webapp.engine.complete on stored states), for the profile."""
    from sqlalchemy import select

    from webapp.models import HumanTask, ProcessInstance

    with app.app_context():
        secretary_id = harness.user("secretary").id
        rows = db.session.execute(
            select(HumanTask.task_guid, ProcessInstance.state, ProcessInstance.version_id)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(HumanTask.task_guid.in_(guids))
        ).all()
        # The states were written by this process (prepare_reviews), which kept their
        # workflows; the server never saw them and restores each: so does this.
        engine.restored.clear()
        times = []
        for guid, state, version_id in rows:
            source = source_for(version_id)
            start = time.perf_counter()
            engine.complete(source, state, guid, {"review_decision": "pass"}, actor=secretary_id)
            times.append(time.perf_counter() - start)
        db.session.remove()
    return times


def run(n: int = 200, database: str = "sqlite") -> dict:
    """Prepare n reviews, complete them over HTTP, and time the raw engine in the same run."""
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database(database, Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        guids = harness.prepare_reviews(app, n + WARM_UP)
        adapter = adapter_completions(app, guids[WARM_UP:])
        with harness.Gunicorn(url, Path(tmp), workers=1) as server:
            interleaved(app, server.port, guids[:WARM_UP])
            cpu = server.cpu_seconds()
            http, raw = interleaved(app, server.port, guids[WARM_UP:])
            cpu = server.cpu_seconds() - cpu
        with app.app_context():
            raw_bytes = len(RawEngine().state)
            db.engine.dispose()
    http_ms, raw_ms = harness.summary_ms(http), harness.summary_ms(raw)
    return {
        "what": "one task completion (preliminary review: pass), gunicorn: 1 gthread worker",
        "database": database,
        "n": n,
        "cpu_count": os.cpu_count(),
        "completion_ms_p50": http_ms["p50"],
        "completion_ms_p95": http_ms["p95"],
        "engine_ms_p50": raw_ms["p50"],
        "engine_ms_p95": raw_ms["p95"],
        "completion_ratio": round(http_ms["p50"] / raw_ms["p50"], 2),
        "completion_ratio_p95": round(http_ms["p95"] / raw_ms["p95"], 2),
        "adapter_ms_p50": harness.summary_ms(adapter)["p50"],
        # The same engine work without HTTP and database: what the serving path adds.
        "completion_adapter_ratio": round(http_ms["p50"] / harness.summary_ms(adapter)["p50"], 2),
        # CPU the server spent per completion: steadier than latency on a busy machine.
        "server_cpu_ms_per_completion": round(cpu / n * 1000, 2),
        "raw_state_bytes": raw_bytes,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(json.dumps(run(args.n, args.database)))


if __name__ == "__main__":
    main()
