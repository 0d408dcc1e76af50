"""The committee's desk: every case a member's groups may see, searched and filtered, a page at
a time; and what each person has done.

Which cases a member sees follows the diagrams: the cases of every procedure with a lane its
groups work (in any version), and every case for the group that keeps the register. Lists read
case_file and the human-task projection through their indexes, newest first, paged by keyset
(the last row's created_at and id), so a page costs about the same at a thousand cases as at a
hundred thousand. Never a case about the reader itself: nobody decides on its own case.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from sqlalchemy import String, and_, cast, exists, or_, select

from webapp.extensions import db
from webapp.models import Case, HumanTask, Member, ModelVersion, ProcessModel, User, utcnow
from webapp.services import cases as case_service
from webapp.services import groups, inbox, stages
from webapp.services.workflow import version_content

PAGE_SIZE = 50
COUNT_CAP = inbox.COUNT_CAP
SORTS = ("-created", "created")
NOBODY = 0  # "claimed by": nobody
FACETS = ("model", "stage", "status", "outcome")

_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_lanes: dict[tuple[str, int], frozenset[str]] = {}
_lock = threading.Lock()


def lanes_of_version(version_id: int) -> frozenset[str]:
    """The lane names a version's diagram draws; versions never change, so read once."""
    key = (str(db.engine.url), version_id)
    if key not in _lanes:
        root = etree.fromstring(version_content(version_id).source.bpmn, _PARSER)
        found = frozenset(
            (lane.get("name") or "").strip() for lane in root.iter(f"{{{_BPMN}}}lane")
        )
        with _lock:
            _lanes[key] = found
    return _lanes[key]


def visible_models(user: User) -> list[ProcessModel]:
    """The procedures whose cases the user sees: all for the register's keepers, else those
    with a lane (in any version) that one of the user's groups works."""
    models = list(db.session.scalars(select(ProcessModel).order_by(ProcessModel.id)))
    if user.keeps_register:
        return models
    mine = set(user.group_keys)
    if not mine:
        return []
    shown: set[int] = set()
    for model_id, version_id in db.session.execute(select(ModelVersion.model_id, ModelVersion.id)):
        if model_id not in shown and any(
            groups.lane_group(lane) in mine for lane in lanes_of_version(version_id)
        ):
            shown.add(model_id)
    return [m for m in models if m.id in shown]


def stage_order(user: User, models: list[ProcessModel] | None = None) -> list[str]:
    """The stages of the procedures the user sees, in the order of their flows; `models`: the
    user's visible_models, when the caller has them already."""
    order: list[str] = []
    for model in visible_models(user) if models is None else models:
        if model.live_version_id is not None:
            order += [s for s in stages.order_of(model.live_version_id) if s not in order]
    return order


def may_use(user: User) -> bool:
    return user.is_committee


def sees_dashboard(user: User) -> bool:
    """The dashboard is for the groups flagged so (the secretariat and the council unless
    the administrator says otherwise)."""
    return user.is_committee and user.sees_dashboard


@dataclass
class Filters:
    """What the reader asked for; every field optional."""

    q: str = ""
    model: int | None = None
    stage: str | None = None
    status: str | None = None
    outcome: str | None = None
    overdue: bool = False
    mine: bool = False  # waiting on me
    claimed_by: int | None = None
    sort: str = "-created"
    # The search's condition, made once: choosing it costs lookups (see _search), and the list
    # and each of its counts apply it.
    _searched: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def search(self):
        if self._searched is None or self._searched[0] != self.q:
            self._searched = (self.q, _search(self.q))
        return self._searched[1]

    def args(self, **changes) -> dict:
        """The query string for these filters with some changed (None drops one)."""
        values = {
            "q": self.q or None,
            "model": self.model,
            "stage": self.stage,
            "status": self.status,
            "outcome": self.outcome,
            "overdue": 1 if self.overdue else None,
            "mine": 1 if self.mine else None,
            "claimed_by": "nobody" if self.claimed_by == NOBODY else self.claimed_by,
            "sort": None if self.sort == "-created" else self.sort,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}


@dataclass
class Facet:
    value: str
    label: str
    count: inbox.Count


@dataclass
class CasePage:
    rows: list[Case]
    facets: dict[str, list[Facet]]
    models: dict[int, ProcessModel]
    waiting: dict[int, case_service.Progress]
    claimers: dict[int, User]
    next_cursor: str | None
    total: inbox.Count
    colleagues: list[User] = field(default_factory=list)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(q: str):
    """Name (its beginning), member number (of the case, or of the member it is about) or case
    number, through their indexes; when none of those finds anything, any part of the name or
    a code (a credit code) in the case's form data, which only a scan can find."""
    q = q.strip()[:100]
    indexed = [Case.name.between(q, q + "\uffff"), Case.member_number == q]
    # A case about a member (renewal, honours…) under that member's number. The member is
    # looked up first: a subquery inside the OR keeps PostgreSQL from combining the indexes
    # (it scanned every case instead).
    subjects = list(db.session.scalars(select(Member.id).where(Member.member_number == q)))
    if subjects:
        indexed.append(Case.subject_member_id.in_(subjects))
    if q.isdigit() and len(q) < 10:
        indexed.append(Case.id == int(q))
    if db.session.scalar(select(Case.id).where(or_(*indexed)).limit(1)) is not None:
        return or_(*indexed)
    # Codes live in the form data, which the model names.
    return or_(
        Case.name.like(_like(q), escape="\\"),
        cast(Case.data, String).like(_like(q), escape="\\"),
    )


def _open_task(*where):
    return exists().where(
        HumanTask.instance_id == Case.instance_id, HumanTask.state == "ready", *where
    )


def _conditions(user: User, filters: Filters, model_ids: list[int] | None, skip: str = ""):
    where = [Case.applicant_id.is_distinct_from(user.id)]  # a case about no one too
    if model_ids is not None:
        where.append(Case.model_id.in_(model_ids))
    if filters.q.strip():
        where.append(filters.search())
    if filters.model is not None and skip != "model":
        where.append(Case.model_id == filters.model)
    if filters.stage and skip != "stage":
        where.append(Case.stage == filters.stage)
    if filters.status and skip != "status":
        where.append(Case.status == filters.status)
    if filters.outcome and skip != "outcome":
        where.append(Case.outcome_code == filters.outcome)
    if filters.overdue:
        where.append(_open_task(HumanTask.due_at < utcnow()))
    if filters.mine:
        lanes = groups.lane_names(user.group_keys)
        where.append(
            _open_task(
                HumanTask.lane.in_(lanes),
                or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id),
            )
        )
    if filters.claimed_by == NOBODY:
        where.append(_open_task(HumanTask.claimed_by_id.is_(None)))
    elif filters.claimed_by is not None:
        where.append(_open_task(HumanTask.claimed_by_id == filters.claimed_by))
    return where


def task_conditions(filters: Filters) -> list:
    """The same search and filters for the inbox, on an open task and its case."""
    where = []
    if filters.q.strip():
        where.append(_search(filters.q))
    if filters.model is not None:
        where.append(Case.model_id == filters.model)
    if filters.stage:
        where.append(HumanTask.stage == filters.stage)
    if filters.overdue:
        where.append(HumanTask.due_at < utcnow())
    if filters.claimed_by == NOBODY:
        where.append(HumanTask.claimed_by_id.is_(None))
    elif filters.claimed_by is not None:
        where.append(HumanTask.claimed_by_id == filters.claimed_by)
    return where


def _cursor(case: Case) -> str:
    return f"{case.created_at.isoformat()}_{case.id}"


def _after(cursor: str | None, descending: bool):
    if not cursor:
        return None
    try:
        at, case_id = cursor.rsplit("_", 1)
        created, number = datetime.fromisoformat(at), int(case_id)
    except ValueError:
        return None
    if descending:
        return or_(Case.created_at < created, and_(Case.created_at == created, Case.id < number))
    return or_(Case.created_at > created, and_(Case.created_at == created, Case.id > number))


def all_cases(user: User, filters: Filters, cursor: str | None = None) -> CasePage:
    """One page of the cases the user may see, newest (or oldest) first, with counts per
    procedure, stage, status and outcome under the other filters."""
    models = visible_models(user)
    model_ids = None if user.keeps_register else [m.id for m in models]
    descending = filters.sort != "created"
    where = _conditions(user, filters, model_ids)
    after = _after(cursor, descending)
    query = select(Case).where(*where)
    if after is not None:
        query = query.where(after)
    order = (Case.created_at.desc(), Case.id.desc()) if descending else (Case.created_at, Case.id)
    rows = list(db.session.scalars(query.order_by(*order).limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    waiting = case_service.waiting_on(rows)
    held = [t for progress in waiting.values() for t in progress.open_tasks]
    facets = _facets(user, filters, model_ids, {m.id: m for m in models})
    # The status facet counts every case under the other filters: the total, one status's share.
    total = sum(
        (f.count for f in facets["status"] if filters.status in (None, f.value)), inbox.Count(0)
    )
    return CasePage(
        rows=rows,
        facets=facets,
        models={m.id: m for m in models},
        waiting=waiting,
        claimers=inbox.claimers_of(held),
        next_cursor=_cursor(rows[-1]) if more else None,
        total=total,
        colleagues=colleagues(user),
    )


_FACET_COLUMNS = {
    "model": Case.model_id,
    "stage": Case.stage,
    "status": Case.status,
    "outcome": Case.outcome_code,
}


def _facets(user, filters, model_ids, models) -> dict[str, list[Facet]]:
    """How many cases each value of a filter would show, the other filters applied: counted
    over the newest COUNT_CAP + 1 matching cases at most (one index range each, so the page
    costs the same at any size); beyond the cap a count reads "1000+", as in the inbox."""
    found: dict[str, list[Facet]] = {}
    tallies: dict[str, tuple[dict, bool]] = {}
    columns = list(_FACET_COLUMNS.values())
    for name in _FACET_COLUMNS:
        skip = name if getattr(filters, name) not in (None, "") else ""
        if skip not in tallies:
            rows = db.session.execute(
                select(*columns)
                .where(*_conditions(user, filters, model_ids, skip=skip))
                .order_by(Case.created_at.desc(), Case.id.desc())
                .limit(COUNT_CAP + 1)
            ).all()
            capped = len(rows) > COUNT_CAP
            tallies[skip] = (rows[:COUNT_CAP], capped)
        rows, capped = tallies[skip]
        index = list(_FACET_COLUMNS).index(name)
        counts: dict = {}
        for row in rows:
            counts[row[index]] = counts.get(row[index], 0) + 1
        facets = [
            Facet(str(value), _label(name, value, models), inbox.Count(n, capped))
            for value, n in counts.items()
            if value not in (None, "")
        ]
        found[name] = sorted(facets, key=lambda f: (-f.count.n, f.label))
    return found


def _label(facet: str, value, models) -> str:
    if facet == "model":
        model = models.get(value)
        return model.name if model else str(value)
    if facet == "stage":
        return stages.stage_label(value)
    if facet == "status":
        return stages.status_label(value)
    return stages.outcome_label(value) or value


def colleagues(user: User) -> list[User]:
    """The people of the user's groups today (for "claimed by" and assigning)."""
    ids: set[int] = set()
    for key in user.group_keys:
        ids.update(groups.members(key))
    if not ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))


@dataclass
class DonePage:
    rows: list[tuple[HumanTask, Case]]
    page: int
    has_next: bool


def done(user: User, page: int = 1) -> DonePage:
    """The tasks the user completed, newest first, with their cases (through the index on the
    completing person and time)."""
    page = max(1, page)
    rows = list(
        db.session.execute(
            select(HumanTask, Case)
            .join(Case, Case.instance_id == HumanTask.instance_id)
            .where(HumanTask.completed_by_id == user.id, HumanTask.state == "completed")
            .order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    )
    return DonePage(rows=rows[:PAGE_SIZE], page=page, has_next=len(rows) > PAGE_SIZE)
