"""The committee's dashboard: where the cases stand and how long each stage takes, what is
overdue and with whom, admissions per month and the register by region, type and quarter
(the regulations ask for monthly admission figures and quarterly ones by region and type),
and the annual dues' collection rate per year.

Every figure is a table (title, columns, rows) that the page draws as a chart beside it and
offers as CSV and XLSX. All come from the projection and audit tables through their indexes,
over the procedures the reader's groups have lanes in; never from deserialized workflows.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Case, DuesEntry, HumanTask, Member, User, utcnow
from webapp.models.users import association_today
from webapp.services import desk, groups, member_types, stage_counts, stages

# The durations of a stage are read from its latest completed tasks: enough for a median and
# a 90th percentile, and the same cost however long the association has been at work.
DURATION_SAMPLE = 1000
MONTHS = 12
QUARTERS = 8


@dataclass
class Figure:
    key: str
    title: str
    columns: list[str]
    rows: list[list]
    chart: str = "bar"  # bar | funnel | line
    value_column: int = 1  # the column the chart draws
    value_max: float | None = None  # a fixed end of the value axis (a rate: 100)


def _visible(user: User):
    """The condition on Case for the procedures the user sees (None: every one)."""
    if user.keeps_register:
        return None
    return Case.model_id.in_([m.id for m in desk.visible_models(user)])


def _where(user: User) -> list:
    condition = _visible(user)
    return [] if condition is None else [condition]


def funnel(user: User) -> Figure:
    """Cases in progress per stage, in the order of the flow: from the running counts, a few
    rows however many cases there are."""
    model_ids = None if user.keeps_register else [m.id for m in desk.visible_models(user)]
    counts = stage_counts.now(model_ids)
    order = desk.stage_order(user)
    keys = [s for s in order if s in counts] + sorted(s for s in counts if s not in order)
    rows = [[stages.stage_label(s) or _("(none)"), counts[s]] for s in keys]
    return Figure(
        "funnel", _("Cases in progress per stage"), [_("Stage"), _("Cases")], rows, "funnel"
    )


def stage_times(user: User) -> Figure:
    """Median and 90th percentile of the days a stage's tasks took (latest completed ones)."""
    rows = []
    for stage in desk.stage_order(user):
        days = [
            (done - created).total_seconds() / 86400
            for created, done in db.session.execute(
                _joined(
                    user,
                    select(HumanTask.created_at, HumanTask.completed_at).where(
                        HumanTask.state == "completed", HumanTask.stage == stage
                    ),
                )
                .order_by(HumanTask.completed_at.desc())
                .limit(DURATION_SAMPLE)
            )
            if done is not None
        ]
        if not days:
            continue
        p90 = statistics.quantiles(days, n=10)[-1] if len(days) > 1 else days[0]
        rows.append(
            [stages.stage_label(stage), round(statistics.median(days), 1), round(p90, 1), len(days)]
        )
    return Figure(
        "stage_times",
        _("Days per stage"),
        [_("Stage"), _("Median (days)"), _("90th percentile (days)"), _("Tasks")],
        rows,
    )


def _overdue(user: User, *columns):
    """Open tasks past their deadline, through the index on (state, due_at, …); joined to their
    cases only when the reader sees some procedures and not others."""
    return _joined(
        user, select(*columns).where(HumanTask.state == "ready", HumanTask.due_at < utcnow())
    )


def _joined(user: User, query):
    """Tasks joined to their cases only when the reader sees some procedures and not others:
    the register's keepers read the task index alone."""
    where = _where(user)
    if where:
        query = query.join(Case, Case.instance_id == HumanTask.instance_id).where(*where)
    return query


def overdue_by_stage(user: User) -> Figure:
    counts = dict(
        db.session.execute(
            _overdue(user, HumanTask.stage, func.count()).group_by(HumanTask.stage)
        ).all()
    )
    rows = [
        [stages.stage_label(s) or _("(none)"), n]
        for s, n in sorted(counts.items(), key=lambda i: -i[1])
    ]
    return Figure("overdue_stage", _("Overdue tasks per stage"), [_("Stage"), _("Overdue")], rows)


def overdue_by_person(user: User) -> Figure:
    """Overdue tasks per person holding them (given or claimed), or per lane nobody holds."""
    holder = func.coalesce(HumanTask.assignee_id, HumanTask.claimed_by_id)
    counts = db.session.execute(
        _overdue(user, holder, HumanTask.lane, func.count()).group_by(holder, HumanTask.lane)
    ).all()
    people = {
        u.id: u.display_name
        for u in db.session.scalars(
            select(User).where(User.id.in_({p for p, _l, _n in counts if p is not None}))
        )
    }
    tally: Counter = Counter()
    for person, lane, n in counts:
        name = people.get(person) if person is not None else None
        tally[name or _("Nobody yet (%(lane)s)", lane=groups.lane_label(lane))] += n
    rows = [[name, n] for name, n in tally.most_common()]
    return Figure(
        "overdue_person", _("Overdue tasks per person"), [_("Person"), _("Overdue")], rows
    )


def _months(today: date, count: int) -> list[str]:
    year, month = today.year, today.month
    out = []
    for _i in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(out))


def _quarter(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def _members_since(start: date):
    return db.session.execute(
        select(Member.admitted_on, Member.region, Member.member_type).where(
            Member.admitted_on >= start
        )
    ).all()


def admissions_per_month(today: date | None = None) -> Figure:
    today = today or association_today()
    months = _months(today, MONTHS)
    start = date.fromisoformat(months[0] + "-01")
    counts = Counter(f"{d.year:04d}-{d.month:02d}" for d, _r, _t in _members_since(start))
    rows = [[m, counts.get(m, 0)] for m in months]
    return Figure(
        "admissions_month",
        _("Admissions per month"),
        [_("Month"), _("Number admitted")],
        rows,
        "line",
    )


def members_by_region() -> Figure:
    counts = db.session.execute(
        select(Member.region, func.count())
        .where(Member.status == "active")
        .group_by(Member.region)
        .order_by(func.count().desc())
    ).all()
    rows = [[region or _("(none)"), n] for region, n in counts]
    return Figure(
        "members_region", _("Members by region"), [_("Region"), _("Number of members")], rows
    )


def members_by_type() -> Figure:
    counts = db.session.execute(
        select(Member.member_type, func.count())
        .where(Member.status == "active")
        .group_by(Member.member_type)
        .order_by(func.count().desc())
    ).all()
    rows = [[member_types.label(t) or t, n] for t, n in counts]
    return Figure("members_type", _("Members by type"), [_("Type"), _("Number of members")], rows)


def admissions_per_quarter(today: date | None = None) -> Figure:
    """Admissions per quarter, by region and type (the quarterly statistics)."""
    today = today or association_today()
    first_month = ((today.month - 1) // 3) * 3 + 1  # of this quarter
    start = date(today.year - QUARTERS // 4, first_month, 1) + timedelta(days=92)
    start = date(start.year, ((start.month - 1) // 3) * 3 + 1, 1)  # QUARTERS quarters in all
    counts = Counter(
        (_quarter(d), region or _("(none)"), member_types.label(kind) or kind)
        for d, region, kind in _members_since(start)
    )
    rows = [[q, r, t, n] for (q, r, t), n in sorted(counts.items())]
    return Figure(
        "admissions_quarter",
        _("Admissions per quarter by region and type"),
        [_("Quarter"), _("Region"), _("Type"), _("Number admitted")],
        rows,
        value_column=3,
    )


def dues_collection() -> Figure:
    """Per year of annual dues: members billed, how many paid, and the collection rate."""
    rows = []
    counts = db.session.execute(
        select(DuesEntry.year, DuesEntry.state, func.count())
        .group_by(DuesEntry.year, DuesEntry.state)
        .order_by(DuesEntry.year)
    ).all()
    billed: Counter = Counter()
    paid: Counter = Counter()
    for year, state, n in counts:
        billed[year] += n
        if state == "paid":
            paid[year] += n
    for year in sorted(billed):
        rate = round(100 * paid[year] / billed[year], 1) if billed[year] else 0.0
        rows.append([str(year), rate, billed[year], paid[year]])
    return Figure(
        "dues_collection",
        _("Annual dues: collection rate"),
        [_("Year"), _("Collection rate (%)"), _("Members billed"), _("Paid")],
        rows,
        value_max=100,
    )


FIGURES = {
    "funnel": funnel,
    "stage_times": stage_times,
    "overdue_stage": overdue_by_stage,
    "overdue_person": overdue_by_person,
    "admissions_month": lambda user: admissions_per_month(),
    "members_region": lambda user: members_by_region(),
    "members_type": lambda user: members_by_type(),
    "admissions_quarter": lambda user: admissions_per_quarter(),
    "dues_collection": lambda user: dues_collection(),
}


def figures(user: User) -> list[Figure]:
    return [make(user) for make in FIGURES.values()]


def figure(user: User, key: str) -> Figure | None:
    make = FIGURES.get(key)
    return make(user) if make else None
