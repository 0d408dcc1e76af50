"""Timer start events of deployed models, started by the ticker: once per occurrence, with one
case per active member of the register when the diagram says so.

A process's properties (process-level `spiffworkflow:properties`) say whom a case is about:
- `startFor`: `members` — one case per active member of the register, about that member
  (the member does the tasks of the applicant/member lane, as in any case about it).
  Without it, each occurrence opens one case about no one (e.g. a quarterly statistics
  report the secretariat files): its tasks are all the groups' own.
- `startForTypes`: optionally, the member types (comma-separated keys) that get one.
- `startIf`: optionally, an expression over the model's data and `member_type`, evaluated
  once per member type of the active register at each occurrence: only members of a type for
  which it is true get a case (annual dues: `… ["amount"] > 0`, so a type the fee schedule
  charges nothing gets no dues case at all).
- `startOncePer`: optionally `year` — at most one case per member and calendar year (the
  association's), whatever the occurrences: a timer moved within the year, or a model
  re-deployed with another date, starts nothing new for the members already started that year.

Deploying a version keeps its `scheduled_start` rows in step; the ticker reads the due ones by
their index on `next_at`. Each case an occurrence opens is recorded under the unique key (model,
timer, occurrence, member), so a second ticker, or a re-run after a crash, starts nothing twice.
A large register is started in batches, one commit each (each case's start is atomic in its own
savepoint). On SQLite, the single writer lock gives an occurrence to one ticker at a time, and
between batches it is let go, so another may carry on. On PostgreSQL the register is split into
PARTS by member id: a batch holds one part under a transaction advisory lock (and a shared lock
on the schedule's row, against a deploy changing it meanwhile), so tickers start the parts side
by side; a ticker whose part is gone through ends the occurrence only if it can hold every part,
no other ticker then starting a case of it. An occurrence without members (one case about no
one) is claimed whole with SKIP LOCKED, as BPMN timers are (webapp.services.timers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, text, update
from sqlalchemy.exc import IntegrityError

from webapp.engine import (
    N_,
    EngineError,
    InvalidDiagram,
    ModelSource,
    Problem,
    UserTaskInfo,
    first_occurrence,
)
from webapp.extensions import db
from webapp.models import (
    Member,
    ModelVersion,
    ProcessModel,
    ScheduledStart,
    TimerStartCase,
    utcnow,
)
from webapp.services import (
    announcements,
    audit,
    catalogue,
    groups,
    member_types,
    row_writes,
    users,
)
from webapp.services import model_data as model_data_file
from webapp.services.cases import model_data, open_case
from webapp.services.errors import ProcessError
from webapp.services.register import local_date
from webapp.services.workflow import engine, version_content

START_FOR, START_FOR_TYPES, MEMBERS = "startFor", "startForTypes", "members"
START_IF = "startIf"
ONCE_PER, YEAR = "startOncePer", "year"
BATCH = 50  # cases per commit: a large register in many short transactions
# PostgreSQL: the register is started in parts (by member id), each taken by one ticker at a
# time under an advisory lock of this space, so that tickers start an occurrence side by side.
PARTS = 8
_PART_LOCKS = 0x5354_5254  # "STRT": the two-key advisory locks' space of these parts
RETRY_AFTER = timedelta(hours=1)  # after a start that failed (a diagram's mistake)
UNKNOWN_START_FOR = N_(
    "The process property startFor is %(value)s; it may only be members (one case per active "
    "member of the register)."
)
NOBODY = 0  # TimerStartCase.member_key of an occurrence's one case about no member
NOBODY_TO_ACT = N_(
    "The process starts by a timer without startFor, so its case is about no one, but the "
    "user task %(task)s is in the lane of the case's applicant or member: put it in a "
    "group's lane, or set the process property startFor to members."
)
START_IF_FAILED = N_("The process property startIf cannot be used: %(detail)s")
UNKNOWN_ONCE_PER = N_(
    "The process property startOncePer is %(value)s; it may only be year (one case per member "
    "and calendar year)."
)


def problems(bpmn: bytes, forms: dict, user_tasks: Iterable[UserTaskInfo] = ()) -> list[Problem]:
    """What keeps the diagram's timer starts from being scheduled: an expression that does not
    give a date or cycle over the model's data, or no word on whom the cases are about."""
    props = catalogue.process_properties(bpmn)
    start_for = props.get(START_FOR, "")
    found = []
    if start_for not in ("", MEMBERS):
        found.append(Problem("", "", UNKNOWN_START_FOR, {"value": start_for}))
    if props.get(ONCE_PER, "") not in ("", YEAR):
        found.append(Problem("", "", UNKNOWN_ONCE_PER, {"value": props[ONCE_PER]}))
    rule = props.get(START_IF, "")
    if rule:
        data = model_data(forms)
        for member_type in sorted(model_data_file.live(member_types.FILE)) or [""]:
            try:
                engine.evaluate(rule, {**data, "member_type": member_type})
            except EngineError as err:
                found.append(Problem("", "", START_IF_FAILED, {"detail": str(err)}))
                break
    if not _may_have_timers(bpmn):
        return found  # most diagrams: no second parse
    try:
        timers = engine.timer_starts(ModelSource(key="", bpmn=bpmn))  # "": parsed, not cached
    except InvalidDiagram:
        return found  # said by the diagram's own checks
    if timers and start_for != MEMBERS:
        for task in user_tasks:
            if task.lane and groups.is_applicant_lane(task.lane):
                found.append(Problem(task.spec_id, task.title, NOBODY_TO_ACT, {"task": task.title}))
    data = model_data(forms)
    for timer in timers:
        try:
            engine.timer_value(timer, data)
        except EngineError as err:
            template = err.template or N_("The start timer cannot be used: %(detail)s")
            params = err.params if err.template else {"detail": str(err)}
            found.append(Problem(timer.element_id, timer.name, template, params))
    return found


def schedule(model: ProcessModel, version: ModelVersion, now: datetime | None = None) -> None:
    """Bring the model's scheduled starts in line with its (new) live version."""
    now = now or utcnow()
    rows = {
        row.element_id: row
        for row in db.session.scalars(
            select(ScheduledStart).where(ScheduledStart.model_id == model.id)
        )
    }
    content = version_content(version.id)
    timers = engine.timer_starts(content.source) if _may_have_timers(content.source.bpmn) else []
    data = model_data(content.forms)
    for timer in timers:
        try:
            value = engine.timer_value(timer, data)
        except EngineError as err:
            raise ProcessError.of(err) from err
        row = rows.pop(timer.element_id, None)
        if row is None:
            row = ScheduledStart(model_id=model.id, element_id=timer.element_id, value="")
            db.session.add(row)
        row.version_id = version.id
        if (row.kind, row.value) != (timer.kind, value):
            # A changed time: its occurrences are counted afresh, never repeating the last one.
            row.kind, row.value = timer.kind, value
            row.occurrence_at = first_occurrence(timer.kind, value, now, after=row.last_at)
            row.next_at, row.error = row.occurrence_at, None
        row.updated_at = now
    for row in rows.values():  # its timer start is no longer drawn
        db.session.delete(row)


def _may_have_timers(bpmn: bytes) -> bool:
    # A diagram without any timer has no timer start: spare it a parse.
    return b"timerEventDefinition" in bpmn


def _never() -> bool:
    return False


def start_due(
    now: datetime | None = None, limit: int = 100_000, stopping: Callable[[], bool] = _never
) -> int:
    """Start the cases of every timer start due by now, at most `limit`; returns how many.

    `stopping` is asked between cases: a ticker told to stop commits the cases it started and
    ends, and the next tick starts the rest of the occurrence.
    """
    now = now or utcnow()
    started = 0
    passed: set[tuple[int, int | None]] = set()  # (schedule, part) failed or gone through
    gone_through: dict[tuple[int, int | None], int] = {}  # → the last member id gone through
    while started < limit and not stopping():
        claimed = _claim(now, passed)
        if claimed is None:
            db.session.rollback()
            return started
        row, part = claimed
        count, done = _start_batch(
            row, now, min(BATCH, limit - started), stopping, gone_through, part
        )
        started += count
        if done:
            passed.add((row.id, part))
    return started


def _due(now: datetime):
    return (ScheduledStart.next_at <= now,)


def _claim(now: datetime, passed: set) -> tuple[ScheduledStart, int | None] | None:
    """The next due schedule this transaction may work on, and the part of the register it
    takes (None: all of it, or no register), or None."""
    if db.session.get_bind().dialect.name == "sqlite":
        return _claim_one_writer(now, {row_id for row_id, _part in passed})
    query = select(ScheduledStart.id).where(*_due(now)).order_by(ScheduledStart.next_at)
    for row_id in list(db.session.scalars(query.order_by(ScheduledStart.id))):
        if _starts_members(row_id):
            for part in range(PARTS):
                if (row_id, part) not in passed and _take_part(row_id, part):
                    # Held against a deploy changing it meanwhile, not against other tickers.
                    row = _read_due(row_id, now, lock=_SHARED)
                    if row is not None:
                        return row, part
                    db.session.rollback()
                    break
        elif (row_id, None) not in passed:
            row = _read_due(row_id, now, lock=_SKIP_LOCKED)
            if row is not None:
                return row, None
    return None


def _claim_one_writer(now: datetime, passed: set[int]) -> tuple[ScheduledStart, None] | None:
    query = select(ScheduledStart.id).where(*_due(now))
    if passed:
        query = query.where(ScheduledStart.id.notin_(passed))
    query = query.order_by(ScheduledStart.next_at, ScheduledStart.id)
    for row_id in list(db.session.scalars(query)):
        # SQLite: a no-op write takes the database's write lock; then look again, since
        # another ticker may have started this occurrence while we waited for it.
        db.session.execute(
            update(ScheduledStart)
            .where(ScheduledStart.id == row_id)
            .values(updated_at=ScheduledStart.updated_at)
            .execution_options(synchronize_session=False)
        )
        row = _read_due(row_id, now)
        if row is not None:
            return row, None
        db.session.rollback()
    return None


_SHARED, _SKIP_LOCKED = "shared", "skip_locked"


def _read_due(row_id: int, now: datetime, lock: str | None = None) -> ScheduledStart | None:
    query = select(ScheduledStart).where(ScheduledStart.id == row_id, *_due(now))
    if lock == _SHARED:
        query = query.with_for_update(read=True)
    elif lock == _SKIP_LOCKED:
        query = query.with_for_update(skip_locked=True)
    return db.session.scalars(query.execution_options(populate_existing=True)).first()


def _starts_members(row_id: int) -> bool:
    version_id = db.session.get(ScheduledStart, row_id).version_id
    return catalogue.properties_of(version_id).get(START_FOR, "") == MEMBERS


def _take_part(row_id: int, part: int) -> bool:
    """PostgreSQL: this transaction takes one part of the schedule's register, if no other
    holds it. Tickers start the parts side by side; one that holds them all may end the
    occurrence (no other is then starting cases of it)."""
    return bool(
        db.session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:space, :key)"),
            {"space": _PART_LOCKS, "key": row_id * PARTS + part},
        )
    )


def _take_all_parts(row_id: int) -> bool:
    return all(_take_part(row_id, part) for part in range(PARTS))


def start_key(occurrence: datetime, once_per: str) -> datetime:
    """The occurrence a started case is recorded under: the occurrence itself, or with
    `startOncePer` = year the first moment of its (local) year, so one per member and year."""
    if once_per != YEAR:
        return occurrence
    return datetime(local_date(occurrence).year, 1, 1, tzinfo=UTC)


def _pending_members(
    row: ScheduledStart,
    key_at: datetime,
    types: list[str] | None,
    size: int,
    after: int = 0,
    part: int | None = None,
) -> list[Member]:
    """Active members (of those types, None: any; in that part of the register, None: all)
    that have no case of this occurrence (or year) yet, in the order of their ids, from the
    first after `after`."""
    return list(db.session.scalars(_pending_members_query(row, key_at, types, size, after, part)))


def _pending_members_query(
    row: ScheduledStart,
    key_at: datetime,
    types: list[str] | None,
    size: int,
    after: int,
    part: int | None = None,
):
    """The query of `_pending_members`.

    Each batch reads its members from where the last one stopped, and the started cases are
    looked up one member at a time, by their unique index: without that, PostgreSQL's generic
    plan (statistics not yet caught up with a start that writes a row per member) joined every
    member with every started case, 1.8 s a batch at 7,500 members and growing with their
    square. OFFSET 0 keeps the lookup a subquery run per member."""
    done = exists(
        select(TimerStartCase.id)
        .where(
            TimerStartCase.model_id == row.model_id,
            TimerStartCase.element_id == row.element_id,
            TimerStartCase.occurrence_at == key_at,
            TimerStartCase.member_key == Member.id,
        )
        .offset(0)
    )
    query = select(Member).where(Member.status == "active", Member.id > after, ~done)
    if types is not None:
        query = query.where(Member.member_type.in_(types))
    if part is not None:
        query = query.where(Member.id % PARTS == part)
    return query.order_by(Member.id).limit(size)


def _types_started(version_id: int, rule: str, types: list[str] | None) -> list[str]:
    """The member types of the active register (of those named, None: any) for which the
    process's `startIf` rule holds. The rule reads the model's data, not the member: evaluated
    once per type, its answer becomes a filter of the register's query."""
    present = select(Member.member_type).where(Member.status == "active").distinct()
    if types is not None:
        present = present.where(Member.member_type.in_(types))
    data = model_data(version_content(version_id).forms)
    return [
        t
        for t in db.session.scalars(present)
        if t is not None and engine.evaluate(rule, {**data, "member_type": t})
    ]


def _nobody_pending(row: ScheduledStart, key_at: datetime) -> bool:
    """Whether the occurrence's (or year's) one case about no one is still to be opened."""
    return not db.session.scalar(
        select(
            exists().where(
                TimerStartCase.model_id == row.model_id,
                TimerStartCase.element_id == row.element_id,
                TimerStartCase.occurrence_at == key_at,
                TimerStartCase.member_key == NOBODY,
            )
        )
    )


def _start_batch(
    row: ScheduledStart,
    now: datetime,
    size: int,
    stopping: Callable[[], bool],
    gone_through: dict[tuple[int, int | None], int],
    part: int | None = None,
) -> tuple[int, bool]:
    """Start up to `size` cases of the row's occurrence (of its members in `part`, None: all)
    and commit; (started, done): done when the schedule (part) is not to be claimed again this
    round, its start having failed or its part gone through while another ticker still starts
    cases of the occurrence. When no member is left to start, the occurrence is done and the
    next one is scheduled. `gone_through`: per schedule and part, the last member id an earlier
    batch of this round went through (each started, or started by another ticker); the batch
    goes on from there."""
    model = db.session.get(ProcessModel, row.model_id)
    props = catalogue.properties_of(row.version_id)
    types = [t.strip() for t in props.get(START_FOR_TYPES, "").split(",") if t.strip()] or None
    key_at = start_key(row.occurrence_at, props.get(ONCE_PER, "")) if row.occurrence_at else None
    if key_at is None:
        pending = []
    elif props.get(START_FOR, "") == MEMBERS:
        if props.get(START_IF):
            try:
                types = _types_started(row.version_id, props[START_IF], types)
            except EngineError as err:
                db.session.rollback()
                _hold_back(row.id, ProcessError.of(err).detail, now)
                return 0, True
        pending = _pending_from(row, key_at, types, size, gone_through, part)
    else:
        pending = [None] if _nobody_pending(row, key_at) else []
    if not pending and part is not None:
        # Its part is gone through. The occurrence is done once no case of it is being
        # started: when this transaction can hold every part, it looks at them all.
        if not _take_all_parts(row.id):
            db.session.rollback()  # another ticker still starts cases of it: it ends it
            return 0, True
        part = None
        if key_at is not None:
            pending = _pending_from(row, key_at, types, size, gone_through, part)
    if not pending:
        _advance(row, now)
        db.session.commit()
        return 0, False
    # Held for the batch: each case's start looks it up, and finds it in the session.
    version = db.session.get(ModelVersion, row.version_id)
    number = version.number
    # Each case's notification looks its subject up: the batch's people are read at once and
    # held here until the commit, so each look-up finds its person in the session.
    people = users.by_ids(m.user_id for m in pending if m is not None and m.user_id)  # noqa: F841
    started, opened = 0, []
    for member in pending:
        if started and stopping():
            break
        member_key = member.id if member is not None else NOBODY

        def recorded(case, member_key=member_key):
            return TimerStartCase(
                model_id=row.model_id,
                element_id=row.element_id,
                occurrence_at=key_at,
                member_key=member_key,
                case_id=case.id,
            )

        try:
            with db.session.begin_nested():
                case, result, offered = open_case(
                    row.version_id,
                    model.name,
                    member.user_id if member is not None else None,
                    member,
                    started_by=None,
                    extra={"occurrence": row.occurrence_at.isoformat()},
                    timer_start=row.element_id,
                    occurrence=row.occurrence_at,
                    started=recorded,
                )
        except IntegrityError:
            if member is not None:
                gone_through[row.id, part] = member.id
            continue  # another ticker started this member's case first
        except ProcessError as err:
            # The diagram fails for everyone alike: keep what started, look again later.
            _tell(opened, model, number, row)
            db.session.commit()
            _hold_back(row.id, err.detail, now)
            return started, True
        opened.append((case, result, offered, member))
        started += 1
        if member is not None:
            gone_through[row.id, part] = member.id
    failed_before = row.error is not None
    _tell(opened, model, number, row)
    db.session.commit()
    if failed_before:
        _hold_back(row.id, None, None)  # it starts again: the error is gone
    return started, False


def _pending_from(
    row: ScheduledStart,
    key_at: datetime,
    types: list[str] | None,
    size: int,
    gone_through: dict[tuple[int, int | None], int],
    part: int | None,
) -> list[Member]:
    after = gone_through.pop((row.id, part), 0)
    pending = _pending_members(row, key_at, types, size, after, part)
    if not pending and after:
        # Before the occurrence is done: a member before the mark still to start (made
        # active meanwhile) is looked for once, from the first.
        pending = _pending_members(row, key_at, types, size, 0, part)
    return pending


def _hold_back(row_id: int, error: str | None, now: datetime | None) -> None:
    """Write the schedule's error (None: clear it) and, with one, look at it again after
    RETRY_AFTER; in a transaction of its own, after the batch's: on PostgreSQL tickers starting
    the same occurrence each hold a shared lock on the row until they commit, and two of them
    writing it under their shared locks would deadlock."""
    values = {"error": error[:2000] if error is not None else None}
    if error is not None:
        values["next_at"] = now + RETRY_AFTER
    db.session.execute(
        update(ScheduledStart)
        .where(ScheduledStart.id == row_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _tell(opened: list, model: ProcessModel, number: int, row: ScheduledStart) -> None:
    """The started cases' messages and audit rows, outside their savepoints (audit rows are
    chained at commit, and must all be written) and after all of them: the batch's rows are
    then written together, not one case's at each savepoint."""
    with row_writes.gathered():
        _tell_each(opened, model, number, row)


def _tell_each(opened: list, model: ProcessModel, number: int, row: ScheduledStart) -> None:
    for case, result, offered, member in opened:
        if offered:
            announcements.after_step(case, result, offered)
        audit.record(
            "case_started",
            None,
            case.instance_id,
            data={
                "version": number,
                "process": model.key,
                "member_id": member.id if member is not None else None,
                "timer_start": row.element_id,
                "occurrence": row.occurrence_at.isoformat(),
            },
        )


def _advance(row: ScheduledStart, now: datetime) -> None:
    """The occurrence is done: the next is the first still to come (missed ones fire once)."""
    if row.occurrence_at is not None:
        row.last_at = row.occurrence_at
        row.occurrence_at = first_occurrence(row.kind, row.value, now, after=row.last_at)
    row.next_at, row.error, row.updated_at = row.occurrence_at, None, now
