"""Many open applications, fast: a few made through the services serve as templates, and each
new one is a copy of a template's rows (instance state, application, human tasks, audit) with
fresh ids and fresh task UUIDs, inserted in bulk. The copies have the exact shape of what the
services write, so pages, the ticker and `flask check` see real instances."""

from __future__ import annotations

import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from bench import harness
from webapp.extensions import db
from webapp.models import (
    AuditChainHead,
    AuditEvent,
    Case,
    HumanTask,
    ProcessInstance,
    TimerWait,
    utcnow,
)
from webapp.models.audit import row_digest
from webapp.services import heat_counts, stage_counts, tasks

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TABLES = (ProcessInstance, Case, HumanTask, TimerWait, AuditEvent)


@dataclass
class Template:
    """The stored rows of one real application, as plain dicts."""

    rows: dict[str, list[dict]]
    kind: str


def _row_dict(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def capture(case_id: int, kind: str) -> Template:
    """Read the rows an application and its instance have in the database."""
    case = db.session.get(Case, case_id)
    instance = db.session.get(ProcessInstance, case.instance_id)
    human = db.session.scalars(
        select(HumanTask).where(HumanTask.instance_id == instance.id).order_by(HumanTask.id)
    )
    audit = db.session.scalars(
        select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.id)
    )
    waits = db.session.scalars(
        select(TimerWait).where(TimerWait.instance_id == instance.id).order_by(TimerWait.id)
    )
    return Template(
        {
            "process_instance": [_row_dict(instance)],
            "case_file": [_row_dict(case)],
            "human_task": [_row_dict(t) for t in human],
            "audit_event": [_row_dict(e) for e in audit],
            "timer_wait": [_row_dict(w) for w in waits],
        },
        kind,
    )


def make_templates(app, count: int, at_notice: int = 0) -> list[Template]:
    """`count` applications at the preliminary review, and `at_notice` more that passed it and
    wait on the notice period's timer, all made through the services."""
    templates = []
    with app.app_context():
        applicant = harness.user("applicant")
        secretary = harness.user("secretary")
        for i in range(count + at_notice):
            case_id, review = harness.submit_application(app, applicant)
            kind = "review"
            if i >= count:
                with app.test_request_context():
                    tasks.complete(secretary, review, {"review_decision": "pass"})
                kind = "notice"
            templates.append(capture(case_id, kind))
        db.session.remove()
    return templates


class Cloner:
    """Inserts copies of templates; ids continue from the tables' current maxima."""

    def __init__(self):
        self.next_id = {
            model.__tablename__: (db.session.scalar(select(func.max(model.id))) or 0) + 1
            for model in TABLES
        }
        self.serial = 0
        # The copies' audit rows join the hash chain, as the services' rows do.
        head = db.session.get(AuditChainHead, 1)
        self.chain_seq, self.chain_hash = head.seq, head.hash

    def _id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def clone(
        self,
        templates: list[Template],
        count: int,
        applicant_ids: list[int],
        batch: int = 2000,
        timer_due: datetime | None = None,
    ) -> list[int]:
        """Insert `count` copies, committing per batch; returns the new application ids.

        With `timer_due`, templates waiting on a timer get it moved to that moment (in their
        state and in next_timer_at), e.g. into the past to have it fire at the next tick.
        """
        made = []
        pending = {model.__tablename__: [] for model in TABLES}
        now = utcnow()
        for i in range(count):
            template = templates[i % len(templates)]
            applicant_id = applicant_ids[i % len(applicant_ids)]
            made.append(self._copy(template, applicant_id, now, pending, timer_due))
            if len(pending["process_instance"]) >= batch or i == count - 1:
                self._flush(pending)
        return made

    def _copy(self, template, applicant_id, now, pending, timer_due) -> int:
        self.serial += 1
        ids = {}

        def fresh(match):
            old = match.group(0)
            if old not in ids:
                ids[old] = str(uuid.uuid4())
            return ids[old]

        # Spread creation and due times so that lists have something to sort.
        created = now - timedelta(seconds=self.serial * 7 % 864000)
        shift = timedelta(minutes=random.randint(-7200, 7200))
        source = template.rows["process_instance"][0]
        instance_id = self._id("process_instance")
        instance = {**source, "id": instance_id, "lock_version": 1}
        instance["state"] = UUID_RE.sub(fresh, source["state"])
        instance["created_at"] = instance["updated_at"] = created
        if timer_due is not None and source["next_timer_at"] is not None:
            old = source["next_timer_at"]
            instance["state"] = _move_timer(instance["state"], old, timer_due)
            instance["next_timer_at"] = timer_due
        pending["process_instance"].append(instance)
        case_id = self._id("case_file")
        app_source = template.rows["case_file"][0]
        case = {
            **app_source,
            "id": case_id,
            "instance_id": instance_id,
            "applicant_id": applicant_id,
            "name": f"{app_source['name']} {self.serial}",
            "created_at": created,
            "updated_at": created,
            "submitted_at": created,
        }
        if timer_due is not None and app_source["notice_closes_at"] is not None:
            case["notice_closes_at"] = timer_due
        pending["case_file"].append(case)
        for row in template.rows["human_task"]:
            pending["human_task"].append(
                {
                    **row,
                    "id": self._id("human_task"),
                    "instance_id": instance_id,
                    "task_guid": ids.get(row["task_guid"]) or str(uuid.uuid4()),
                    "created_at": created,
                    "due_at": row["due_at"] + shift if row["due_at"] else None,
                    "completed_at": created if row["completed_at"] else None,
                }
            )
        for row in template.rows["timer_wait"]:
            pending["timer_wait"].append(
                {
                    **row,
                    "id": self._id("timer_wait"),
                    "instance_id": instance_id,
                    "started_at": created,
                    "due_at": timer_due or row["due_at"],
                    "ended_at": created if row["ended_at"] else None,
                }
            )
        for row in template.rows["audit_event"]:
            copy = {
                **row,
                "id": self._id("audit_event"),
                "instance_id": instance_id,
                "task_guid": ids.get(row["task_guid"]) if row["task_guid"] else None,
                "at": created,
            }
            self.chain_seq += 1
            copy["seq"], copy["prev_hash"] = self.chain_seq, self.chain_hash
            copy["hash"] = self.chain_hash = row_digest(
                self.chain_seq,
                self.chain_hash,
                created,
                copy["action"],
                copy["actor_id"],
                instance_id,
                copy["task_guid"],
                copy["data"],
            )
            pending["audit_event"].append(copy)
        return case_id

    def _flush(self, pending) -> None:
        for model in TABLES:
            rows = pending[model.__tablename__]
            if rows:
                db.session.execute(model.__table__.insert(), rows)
                rows.clear()
        db.session.execute(
            AuditChainHead.__table__.update()
            .where(AuditChainHead.id == 1)
            .values(seq=self.chain_seq, hash=self.chain_hash)
        )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            for model in TABLES:
                name = model.__tablename__
                # A table none was inserted into (timer waits of templates waiting on none)
                # starts at 1: setval refuses 0.
                last = self.next_id[name] - 1
                db.session.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), :v, :called)"),
                    {"v": max(last, 1), "called": last >= 1},
                )
            db.session.commit()


def _move_timer(state: str, old: datetime, new: datetime) -> str:
    """Put a waiting timer's due moment (kept as an ISO string in the state) at `new`."""
    for fmt in (old.isoformat(), old.replace(tzinfo=None).isoformat()):
        if fmt in state:
            return state.replace(fmt, new.isoformat())
    # The engine may keep the moment in the association's time zone: match on the instant.
    for candidate in set(re.findall(r'"event_value":"([^"]+)"', state)):
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if moment.tzinfo and moment == old:
            return state.replace(candidate, new.isoformat())
    raise ValueError("timer not found in state")


def grow(app, templates, applicant_ids, target: int, cloner: Cloner | None = None) -> float:
    """Bring the number of applications up to `target`; returns the seconds it took."""
    with app.app_context():
        have = db.session.scalar(select(func.count(Case.id)))
        cloner = cloner or Cloner()
        start = time.perf_counter()
        if target > have:
            cloner.clone(templates, target - have, applicant_ids)
            # The copies bypassed the steps that keep the heatmap's running counts.
            heat_counts.recount()
            stage_counts.recount()
            db.session.commit()
        seconds = time.perf_counter() - start
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load; the planner needs the row counts.
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        db.session.remove()
    return seconds
