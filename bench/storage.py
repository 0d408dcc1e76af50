"""Stored bytes of one instance after the whole procedure (application to certificate), through
the services on a travelling clock: our stored state (spec left out), the rows beside it, and
what SpiffWorkflow's own serializer would store (spec included, its default). Prints JSON.

    .venv/bin/python bench/storage.py [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import time_machine  # noqa: E402
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bench import harness  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import (  # noqa: E402
    AuditEvent,
    Case,
    HumanTask,
    OutboxMessage,
    ProcessInstance,
)
from webapp.services import tasks, timers  # noqa: E402
from webapp.services.workflow import engine, source_for  # noqa: E402

START = datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
STEPS = (
    ("secretary", "preliminary_review", {"review_decision": "pass"}),
    ("council", "council_vote", {"vote": "approve"}),
    ("council2", "council_vote", {"vote": "approve"}),
    ("council3", "council_vote", {"vote": "approve"}),
    (
        "applicant",
        "declare_payment",
        {
            "payment_method": "bank_transfer",
            "payment_reference": "TX-2026-001",
            "payment_amount": "5000",
            "payment_date": "2026-06-20",
        },
    ),
    ("finance", "confirm_payment", {"payment_check": "received"}),
    ("secretary", "issue_certificate", {"certificate_confirmed": "on"}),
)


def _open_task(case: Case, bpmn_id: str, user_id: int) -> str:
    return db.session.scalars(
        select(HumanTask.task_guid)
        .where(
            HumanTask.instance_id == case.instance_id,
            HumanTask.state == "ready",
            HumanTask.bpmn_id == bpmn_id,
            (HumanTask.assignee_id.is_(None)) | (HumanTask.assignee_id == user_id),
        )
        .order_by(HumanTask.id)
    ).first()


def full_procedure(app) -> int:
    """One application from its form to its certificate; returns its id."""
    with time_machine.travel(START, tick=False) as traveller, app.app_context():
        case_id, _review = harness.submit_application(app, harness.user("applicant"))
        for username, bpmn_id, data in STEPS:
            case = db.session.get(Case, case_id)
            if bpmn_id == "council_vote" and case.notice_closes_at is not None:
                traveller.move_to(case.notice_closes_at + timedelta(minutes=1))
                timers.fire_due()
                case = db.session.get(Case, case_id)
            person = harness.user(username)
            guid = _open_task(case, bpmn_id, person.id)
            with app.test_request_context():
                tasks.complete(person, guid, data)
        db.session.remove()
    return case_id


def _size(value) -> int:
    if value is None:
        return 0
    if isinstance(value, (dict, list)):
        return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    return len(str(value).encode("utf-8"))


def _row_bytes(rows) -> int:
    return sum(_size(getattr(r, c.key)) for r in rows for c in r.__table__.columns)


def measure(app, case_id: int) -> dict:
    with app.app_context():
        case = db.session.get(Case, case_id)
        instance = db.session.get(ProcessInstance, case.instance_id)
        if instance.status != "finished":
            raise RuntimeError(f"instance not finished: {case.status}")
        human = list(
            db.session.scalars(select(HumanTask).where(HumanTask.instance_id == instance.id))
        )
        audit = list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance.id))
        )
        outbox = list(
            db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id))
        )
        # What SpiffWorkflow stores by default: the same workflow through its own serializer.
        # The adapter's restore is private; a benchmark may look inside.
        model = engine._specs.get(source_for(instance.version_id))
        workflow = engine._restore(model, instance.state)
        raw = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
        raw_state = raw.serialize_json(workflow)
        figures = {
            "bytes_per_instance": len(instance.state.encode("utf-8")),
            "raw_bytes_per_instance": len(raw_state.encode("utf-8")),
            "raw_spec_bytes": len(json.dumps(raw.to_dict(workflow)["spec"]).encode("utf-8")),
            "projection_rows": len(human),
            "projection_bytes": _row_bytes(human),
            "application_row_bytes": _row_bytes([case]),
            "audit_rows": len(audit),
            "audit_bytes": _row_bytes(audit),
            "outbox_rows": len(outbox),
            "outbox_bytes": _row_bytes(outbox),
        }
        if db.engine.dialect.name == "postgresql":
            figures["pg_state_column_bytes"] = db.session.scalar(
                select(db.func.pg_column_size(ProcessInstance.state)).where(
                    ProcessInstance.id == instance.id
                )
            )
        db.session.remove()
    figures["all_rows_bytes_per_instance"] = (
        figures["bytes_per_instance"]
        + figures["projection_bytes"]
        + figures["application_row_bytes"]
        + figures["audit_bytes"]
        + figures["outbox_bytes"]
    )
    return figures


def run(database: str = "sqlite") -> dict:
    with tempfile.TemporaryDirectory() as tmp, harness.bench_database(database, Path(tmp)) as url:
        app = harness.make_app(url, Path(tmp))
        figures = measure(app, full_procedure(app))
        with app.app_context():
            db.engine.dispose()
    return {
        "what": "stored bytes of one instance after the full procedure (to the certificate)",
        "database": database,
        "cpu_count": os.cpu_count(),
        **figures,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(json.dumps(run(args.database)))


if __name__ == "__main__":
    main()
