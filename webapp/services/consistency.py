"""`flask check`: does what the database holds add up? Every instance's state deserializes, the
human-task projection agrees with the engine, no instance is stuck (finished with a step still
ready, waiting on a timer the ticker cannot find, or waiting on nothing at all), every committed
transition has its audit row,
applications agree with their instances, member numbers are unique and gapless, and the
audit trail's hash chain is whole.

The register adds up too: each member's status is where its status history (the cases that
changed it) left it, each revoked certificate was revoked by a case or a status change, a
number belongs to one member for life (every case that carries it is about that member), and
each active member holds exactly one valid certificate.

Read-only, in batches of instances, so it can run beside the live application after a crash.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    Certificate,
    HumanTask,
    Member,
    MemberDetailChange,
    MemberNumberCounter,
    MemberStatusChange,
    ProcessInstance,
)
from webapp.services import audit_integrity, member_types, stage_counts
from webapp.services.workflow import engine, source_for


@dataclass(frozen=True)
class Problem:
    """One inconsistency, naming the instance (and application) it was found on."""

    message: str
    instance_id: int | None = None
    case_id: int | None = None

    def __str__(self) -> str:
        where = []
        if self.instance_id is not None:
            where.append(f"instance {self.instance_id}")
        if self.case_id is not None:
            where.append(f"application {self.case_id}")
        return f"{', '.join(where) or 'database'}: {self.message}"


@dataclass
class Report:
    """What was checked and what was wrong."""

    instances: int = 0
    running: int = 0
    tasks: int = 0
    members: int = 0
    audit_rows: int = 0
    audit_head: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(batch_size: int = 200) -> Report:
    """Check the whole database; never writes."""
    report = Report()
    try:
        for batch in _instance_batches(batch_size):
            _check_batch(batch, report)
        _check_member_numbers(report)
        _check_register(report)
        _check_stage_counts(report)
        _check_audit_chain(report)
    finally:
        db.session.rollback()  # drop the read transaction (and any row cached for the batch)
    return report


def _instance_batches(size: int) -> Iterator[list[ProcessInstance]]:
    last_id = 0
    while True:
        batch = list(
            db.session.scalars(
                select(ProcessInstance)
                .where(ProcessInstance.id > last_id)
                .order_by(ProcessInstance.id)
                .limit(size)
            )
        )
        if not batch:
            return
        yield batch
        last_id = batch[-1].id
        db.session.expunge_all()  # states are large: keep one batch in memory, not all


def _check_batch(batch: list[ProcessInstance], report: Report) -> None:
    found = _findings(batch)
    moving = [instance.id for instance in batch if found[instance.id][1]]
    if moving:
        # The site may be running: an instance that moved between the reads of its state and
        # of its task rows looks inconsistent. Read those again, each at once, and keep only
        # what is still wrong.
        db.session.rollback()
        again = db.session.scalars(
            select(ProcessInstance)
            .where(ProcessInstance.id.in_(moving))
            .execution_options(populate_existing=True)
        ).all()
        found.update(_findings(again))
    for instance in batch:
        report.instances += 1
        report.running += instance.status == "running"
        report.tasks += found[instance.id][0]
        case_id, messages = found[instance.id][2], found[instance.id][1]
        report.problems += [Problem(m, instance.id, case_id) for m in messages]


def _findings(batch: list[ProcessInstance]) -> dict[int, tuple[int, list[str], int | None]]:
    """Per instance: its number of task rows, what is wrong with it, its application's id."""
    ids = [instance.id for instance in batch]
    tasks = defaultdict(list)
    for task in db.session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id.in_(ids))
        .execution_options(populate_existing=True)
    ):
        tasks[task.instance_id].append(task)
    audits = defaultdict(lambda: defaultdict(list))
    for instance_id, action, task_guid in db.session.execute(
        select(AuditEvent.instance_id, AuditEvent.action, AuditEvent.task_guid).where(
            AuditEvent.instance_id.in_(ids)
        )
    ):
        audits[instance_id][action].append(task_guid)
    cases = {
        a.instance_id: a
        for a in db.session.scalars(
            select(Case).where(Case.instance_id.in_(ids)).execution_options(populate_existing=True)
        )
    }
    found = {}
    for instance in batch:
        case = cases.get(instance.id)
        messages = _check_instance(instance, tasks[instance.id], audits[instance.id], case)
        found[instance.id] = (
            len(tasks[instance.id]),
            messages,
            case.id if case else None,
        )
    return found


def _check_instance(instance, tasks, audits, case) -> list[str]:
    problems = []
    try:
        view = engine.inspect(source_for(instance.version_id), instance.state)
    except Exception as err:  # whatever a broken state raises, it is a finding, not a crash
        problems.append(f"state does not deserialize: {type(err).__name__}: {err}"[:300])
        view = None
    ready = {t.task_guid: t for t in tasks if t.state == "ready"}
    if view is not None:
        problems += _compare_projection(ready, {t.id: t for t in view.ready_tasks})
        problems += _stuck(instance, view)
    if instance.status == "finished" and ready:
        problems.append(f"finished, yet tasks are listed as open: {', '.join(sorted(ready))}")

    completed = {t.task_guid for t in tasks if t.state == "completed"}
    audited = Counter(audits.get("task_completed", []))
    for guid in sorted(completed - set(audited)):
        problems.append(f"task {guid} is completed but has no task_completed audit row")
    for guid in sorted(set(audited) - completed):
        problems.append(f"audit row says task {guid} was completed, but it is not")
    for guid, count in sorted(audited.items()):
        if count > 1:
            problems.append(f"task {guid} has {count} task_completed audit rows")

    if case is not None:
        problems += _check_application(instance, case, audits)
    return problems


def _stuck(instance, view) -> list[str]:
    """An instance nothing will move on: no person's task, no timer the ticker will find."""
    steps = [t.info.spec_id for t in view.ready_tasks] + view.ready_steps
    if instance.status == "finished":
        if steps:
            return [f"finished, yet the engine has ready step(s): {', '.join(steps)}"]
        if not view.complete:
            return ["finished, yet the engine says the instance is not complete"]
        return []
    problems = []
    timers = [spec_id for spec_id, _due in view.timers]
    if timers and instance.next_timer_at is None:
        problems.append(
            f"waits on timer(s) {', '.join(timers)}, but its next_timer_at is empty, "
            "so the ticker will never fire them"
        )
    if not view.ready_tasks and not timers:
        waits = [f"ready automatic step(s) {', '.join(view.ready_steps)}"] if steps else []
        waits += [f"event(s) {', '.join(view.events)}"] if view.events else []
        problems.append(
            "neither finished nor waiting on a person or a timer "
            f"(the engine has {'; '.join(waits) or 'nothing left to do'})"
        )
    return problems


def _compare_projection(ready: dict, offered: dict) -> list[str]:
    problems = []
    for guid in sorted(set(offered) - set(ready)):
        problems.append(
            f"the engine offers task {guid} ({offered[guid].info.spec_id}) "
            "but the task list does not show it"
        )
    for guid in sorted(set(ready) - set(offered)):
        problems.append(
            f"the task list shows task {guid} ({ready[guid].bpmn_id}) "
            "but the engine does not offer it"
        )
    for guid in sorted(set(ready) & set(offered)):
        if ready[guid].bpmn_id != offered[guid].info.spec_id:
            problems.append(
                f"task {guid} is {ready[guid].bpmn_id} in the task list "
                f"but {offered[guid].info.spec_id} in the engine"
            )
    return problems


def _check_application(instance, case, audits) -> list[str]:
    problems = []
    if "case_started" not in audits:
        problems.append("no application_started audit row")
    finished = instance.status == "finished"
    if finished != (case.status != "in_progress"):
        problems.append(f"application is {case.status} but its instance is {instance.status}")
    # What a diagram did to the register leaves its audit row in the same step.
    entered = db.session.scalar(select(Member.id).where(Member.case_id == case.id))
    if entered is not None and "member_registered" not in audits:
        problems.append("entered into the register without a member_registered audit row")
    certified = db.session.scalar(select(Certificate.id).where(Certificate.case_id == case.id))
    if certified is not None and "certificate_issued" not in audits:
        problems.append("a certificate without a certificate_issued audit row")
    return problems


def _check_stage_counts(report: Report) -> None:
    """The funnel's running counts agree with a count of the cases in progress."""
    kept, counted = stage_counts.kept(), stage_counts.counted()
    for model_id, stage in sorted(set(kept) | set(counted)):
        if kept.get((model_id, stage), 0) != counted.get((model_id, stage), 0):
            report.problems.append(
                Problem(
                    f"the funnel counts {kept.get((model_id, stage), 0)} cases in progress of "
                    f"procedure {model_id} at stage {stage!r}, case_file "
                    f"{counted.get((model_id, stage), 0)}"
                )
            )


def _check_audit_chain(report: Report) -> None:
    chain = audit_integrity.verify()
    report.audit_rows, report.audit_head = chain.rows, chain.head_hash
    report.problems += [Problem(message) for message in chain.problems or []]


def _check_member_numbers(report: Report) -> None:
    """Each series (year and member type) holds exactly the numbers 1…last of its counter."""
    members = db.session.execute(
        select(Member.id, Member.member_number, Member.member_type, Case).join(
            Case, Case.id == Member.case_id
        )
    ).all()
    report.members = len(members)
    issued = defaultdict(list)
    # A later change of type keeps the number: its series is of the type admitted as.
    changed_type = dict(
        db.session.execute(
            select(MemberDetailChange.member_id, MemberDetailChange.old_value)
            .where(MemberDetailChange.field == "member_type")
            .order_by(MemberDetailChange.at.desc(), MemberDetailChange.id.desc())
        ).all()
    )
    for member_id, number, member_type, case in members:
        # The series is the year of admission (UTC, as issued) and the member type's code.
        member_type = changed_type.get(member_id, member_type)
        series = f"{case.admitted_at.year}-{member_types.number_code(member_type)}"
        issued[series].append((number, case))
    fmt = current_app.config["MEMBER_NUMBER_FORMAT"]
    counters = {
        series: last
        for series, last in db.session.execute(
            select(MemberNumberCounter.series, MemberNumberCounter.last)
        )
    }
    for series in sorted(set(counters) | set(issued)):
        year, type_code = series.split("-", 1)
        expected = {
            fmt.format(year=int(year), type=type_code, seq=seq)
            for seq in range(1, counters.get(series, 0) + 1)
        }
        numbers = [number for number, _ in issued[series]]
        for number in sorted(expected - set(numbers)):
            report.problems.append(Problem(f"member number {number} was never issued (a gap)"))
        for number, case in issued[series]:
            if number not in expected:
                report.problems.append(
                    Problem(
                        f"member number {number} is outside its series {series} "
                        f"(1…{counters.get(series, 0)})",
                        case.instance_id,
                        case.id,
                    )
                )
    # 终身一号: a number is its member's for life, so every case carrying it — the admission,
    # a re-admission, a change — must be about that member, never about another.
    holders = dict(db.session.execute(select(Member.member_number, Member.id)).all())
    for case_id, instance_id, number, subject_id, entered_id in db.session.execute(
        select(Case.id, Case.instance_id, Case.member_number, Case.subject_member_id, Member.id)
        .outerjoin(Member, Member.case_id == Case.id)
        .where(Case.member_number.is_not(None))
        .order_by(Case.id)
    ):
        holder = holders.get(number)
        if holder is not None and holder not in (subject_id, entered_id):
            report.problems.append(
                Problem(
                    f"member number {number} is reused: it belongs to member {holder}, "
                    f"but this case is about member {subject_id or entered_id}",
                    instance_id,
                    case_id,
                )
            )
    without_certificate = db.session.execute(
        select(Case.instance_id, Case.id)
        .join(Member, Member.case_id == Case.id)
        .where(~select(Certificate.id).where(Certificate.member_id == Member.id).exists())
    ).all()
    for instance_id, case_id in without_certificate:
        report.problems.append(Problem("member without a certificate", instance_id, case_id))


def _check_register(report: Report) -> None:
    """Status against its history, revoked certificates against what revoked them, one valid
    certificate per active member. Read in batches of members, like the instances."""
    revoked_by_case = {
        (data or {}).get("certificate_id")
        for data, instance_id in db.session.execute(
            select(AuditEvent.data, AuditEvent.instance_id).where(
                AuditEvent.action == "certificate_revoked"
            )
        )
        if instance_id is not None
    }
    last_id = 0
    while True:
        members = db.session.execute(
            select(Member.id, Member.member_number, Member.status, Member.case_id)
            .where(Member.id > last_id)
            .order_by(Member.id)
            .limit(500)
        ).all()
        if not members:
            return
        last_id = members[-1].id
        ids = [m.id for m in members]
        history = defaultdict(list)
        for change in db.session.scalars(
            select(MemberStatusChange)
            .where(MemberStatusChange.member_id.in_(ids))
            .order_by(MemberStatusChange.at, MemberStatusChange.id)
        ):
            history[change.member_id].append(change)
        certificates = defaultdict(list)
        for certificate in db.session.execute(
            select(Certificate.id, Certificate.member_id, Certificate.revoked_at).where(
                Certificate.member_id.in_(ids)
            )
        ):
            certificates[certificate.member_id].append(certificate)
        where = dict(
            db.session.execute(
                select(Case.id, Case.instance_id).where(Case.id.in_([m.case_id for m in members]))
            ).all()
        )
        for member in members:
            report.problems += [
                Problem(message, where.get(member.case_id), member.case_id)
                for message in _member_findings(
                    member, history[member.id], certificates[member.id], revoked_by_case
                )
            ]


def _member_findings(member, changes, certificates, revoked_by_case) -> list[str]:
    problems = []
    number = member.member_number
    # The status is where the last case that changed it left it (admission: active).
    expected = changes[-1].to_status if changes else "active"
    if member.status != expected:
        last = f"case {changes[-1].case_id}" if changes and changes[-1].case_id else "its history"
        problems.append(f"member {number} is {member.status}, but {last} last set it to {expected}")
    ended = [c for c in changes if c.to_status != "active"]
    for certificate in certificates:
        if certificate.revoked_at is None or certificate.id in revoked_by_case:
            continue
        # Without an audit row of a case, a status change at that moment explains it.
        if not any(abs((c.at - certificate.revoked_at).total_seconds()) < 60 for c in ended):
            problems.append(
                f"certificate {certificate.id} of member {number} is revoked, "
                "but no case or status change revoked it"
            )
    if member.status == "active":
        valid = [c for c in certificates if c.revoked_at is None]
        if len(valid) != 1:
            problems.append(
                f"active member {number} holds {len(valid)} valid certificates (one expected)"
            )
    return problems
