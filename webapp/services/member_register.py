"""The secretariat's view of the register: search and filter members, page through them by
id (keyset, so page 2,000 costs what page 1 does), export exactly what a filter shows, and
gather one member's page. ID numbers are shown whole only to the groups that keep the register
(004 第一条: 会员资料保密)."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import Select, exists, false, func, or_, select

from webapp.extensions import db
from webapp.models import (
    Case,
    Certificate,
    DuesEntry,
    Member,
    MemberDetailChange,
    MemberStatusChange,
    ProcessModel,
    User,
)
from webapp.models.dues import OWING
from webapp.services import audit, register
from webapp.services.errors import NotFound
from webapp.services.workflow import version_content

PAGE_SIZE = 50
MAX_QUERY = 100
# Searched whole against the number, the credit code and the ID number (indexed).
_IDENTIFIER = re.compile(r"^[0-9A-Za-z\-]{6,40}$")
EXPORT_COLUMNS = (
    "member_number",
    "name",
    "member_type",
    "status",
    "region",
    "industry",
    "credit_code",
    "id_number",
    "legal_representative",
    "contact_person",
    "phone",
    "email",
    "address",
    "admitted_on",
)
_TYPE = EXPORT_COLUMNS.index("member_type")
# The dues filter's values: owing for any year (what a secretary chases), unpaid after the
# period of any year (where a consequence is due or was decided), paid for the latest year.
DUES_FILTERS = ("owing", "unpaid", "paid")


@dataclass(frozen=True)
class RegisterFilter:
    """What the register page was asked for."""

    q: str = ""
    status: str = ""
    member_type: str = ""
    region: str = ""
    industry: str = ""
    dues: str = ""

    @classmethod
    def of(cls, args) -> RegisterFilter:
        """From a request's query arguments; unknown or overlong values are ignored."""
        values = {k: (args.get(k) or "").strip()[:MAX_QUERY] for k in cls.__dataclass_fields__}
        if values["status"] not in register.STATUSES:
            values["status"] = ""
        if values["dues"] not in DUES_FILTERS:
            values["dues"] = ""
        return cls(**values)

    def args(self) -> dict[str, str]:
        """The non-empty fields, for links that keep the filter."""
        return {k: v for k, v in asdict(self).items() if v}


def _filtered(f: RegisterFilter, columns=(Member,)) -> Select:
    query = select(*columns)
    for column, value in (
        (Member.status, f.status),
        (Member.member_type, f.member_type),
        (Member.region, f.region),
        (Member.industry, f.industry),
    ):
        if value:
            query = query.where(column == value)
    if f.q:
        # A number, credit code or ID number is looked up whole, through its index; only when
        # it names none is the text searched for in names (which reads the rows).
        identifier = _identifier_match(f.q) if _IDENTIFIER.match(f.q) else None
        if identifier is not None:
            query = query.where(identifier)
        else:
            escaped = f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Member.name.like(f"%{escaped}%", escape="\\"))
    if f.dues:
        query = query.where(_dues_condition(f.dues))
    return query


def _dues_condition(value: str):
    # A correlated EXISTS: per member it probes dues_entry through the (member_id, year)
    # key, so the register still pages by member id without reading every dues row.
    entry = DuesEntry.member_id == Member.id
    if value == "owing":
        return exists().where(entry, DuesEntry.state.in_(OWING))
    if value == "unpaid":
        return exists().where(entry, DuesEntry.state == "unpaid")
    # The latest year any notice was opened for (read off the (year, state) index).
    latest = db.session.scalar(select(func.max(DuesEntry.year)))
    if latest is None:
        return false()  # no year opened yet: nobody has paid
    return exists().where(entry, DuesEntry.year == latest, DuesEntry.state == "paid")


def _identifier_match(q: str):
    """The condition that finds the member(s) this identifier names, or None if it names none."""
    code = q.upper()
    for condition in (
        Member.member_number == q,
        Member.credit_code == code,
        Member.id_number == code,
    ):
        if db.session.scalar(select(Member.id).where(condition).limit(1)) is not None:
            return condition
    return None


def search(f: RegisterFilter, before_id: int | None = None, limit: int = PAGE_SIZE):
    """One page of members matching the filter, newest entry first, and the id to continue
    before (None on the last page)."""
    query = _filtered(f).order_by(Member.id.desc()).limit(limit + 1)
    if before_id is not None:
        query = query.where(Member.id < before_id)
    rows = list(db.session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def choices() -> dict[str, list[str]]:
    """The regions and industries the register holds, for the filters."""
    found = {}
    for name, column in (("region", Member.region), ("industry", Member.industry)):
        found[name] = [
            v for v in db.session.scalars(select(column).distinct().order_by(column)) if v
        ]
    return found


CODED_FIELDS = ("region", "industry")


def value_labels() -> dict[str, dict[str, str]]:
    """What the live procedures' forms call the register's coded values (the `oneOf` titles
    of a field such as industry), so the register shows 信息技术与软件业 rather than `it`;
    a value no form names is shown as it is."""
    found: dict[str, dict[str, str]] = {name: {} for name in CODED_FIELDS}
    live = db.session.scalars(
        select(ProcessModel.live_version_id).where(ProcessModel.live_version_id.is_not(None))
    )
    for version_id in live:
        for content in version_content(version_id).forms.values():
            props = content.get("properties") if isinstance(content, dict) else None
            for name in CODED_FIELDS:
                field = props.get(name) if isinstance(props, dict) else None
                for option in (field or {}).get("oneOf") or []:
                    if isinstance(option, dict) and isinstance(option.get("title"), str):
                        found[name].setdefault(str(option.get("const")), option["title"])
    return found


def mask_id_number(value: str | None) -> str:
    """1101**********1234: enough to recognise, not enough to use."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def shown_id_number(user: User, value: str | None) -> str:
    """The ID number whole for the register's keepers, masked for everyone else."""
    return (value or "") if user.keeps_register else mask_id_number(value)


def _export_rows(f: RegisterFilter, labels: dict[str, str]) -> Iterator[list[str]]:
    # Plain rows, not ORM objects, fetched in batches: an export of the whole register keeps
    # memory flat and takes seconds.
    columns = [getattr(Member, c) for c in EXPORT_COLUMNS]
    query = _filtered(f, columns).order_by(Member.id.desc())
    result = db.session.execute(query.execution_options(yield_per=2000))
    for values in result:
        row = ["" if v is None else str(v) for v in values]
        row[_TYPE] = labels.get(row[_TYPE], row[_TYPE])
        yield row


def record_export(user: User, f: RegisterFilter, fmt: str) -> None:
    """Audit who exported which part of the register; commits before the file is sent."""
    count = db.session.scalar(
        select(func.count()).select_from(_filtered(f).order_by(None).subquery())
    )
    audit.record(
        "register_exported",
        user.id,
        data={"format": fmt, "filter": f.args(), "rows": count},
    )
    db.session.commit()


def export_csv(f: RegisterFilter, headings: list[str], labels: dict[str, str]):
    """The filter's members as CSV (UTF-8 with BOM for spreadsheet programs), written row by
    row into a temporary file, rewound: memory stays flat however many rows."""
    out = tempfile.TemporaryFile()
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text)
    writer.writerow(headings)
    for row in _export_rows(f, labels):
        writer.writerow([_safe(cell) for cell in row])
    text.flush()
    text.detach()
    out.seek(0)
    return out


def export_xlsx(f: RegisterFilter, headings: list[str], labels: dict[str, str]):
    """The filter's members as an XLSX workbook in a temporary file, rewound. openpyxl's
    write-only mode streams rows to disk, so memory stays flat however many rows."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("members")
    sheet.append(headings)
    for row in _export_rows(f, labels):
        sheet.append([_xlsx_text(cell) for cell in row])
    out = tempfile.TemporaryFile()
    book.save(out)
    out.seek(0)
    return out


def _xlsx_text(cell: str) -> str:
    # Text cells only (a credit code must not turn into a number); characters XML cannot
    # carry are dropped rather than failing the export.
    return ILLEGAL_CHARACTERS_RE.sub("", _safe(cell))


def _safe(cell: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; an address or name must stay text.
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") and cell != "-" else cell


@dataclass
class MemberPage:
    member: Member
    status_history: list[MemberStatusChange]
    detail_history: list[MemberDetailChange]
    cases: list[Case]
    certificates: list[Certificate]
    actors: dict[int, str]
    dues: list[DuesEntry]


def member_page(member_id: int) -> MemberPage:
    """Everything the register knows of one member."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound("member")
    return member_page_of(member)


def member_page_of(member: Member) -> MemberPage:
    """A member's details, its histories, its cases and certificates, newest first."""
    statuses = list(
        db.session.scalars(
            select(MemberStatusChange)
            .where(MemberStatusChange.member_id == member.id)
            .order_by(MemberStatusChange.at.desc(), MemberStatusChange.id.desc())
        )
    )
    details = list(
        db.session.scalars(
            select(MemberDetailChange)
            .where(MemberDetailChange.member_id == member.id)
            .order_by(MemberDetailChange.at.desc(), MemberDetailChange.id.desc())
        )
    )
    cases = list(
        db.session.scalars(
            select(Case)
            .where(or_(Case.subject_member_id == member.id, Case.id == member.case_id))
            .order_by(Case.created_at.desc(), Case.id.desc())
        )
    )
    certificates = list(
        db.session.scalars(
            select(Certificate)
            .where(Certificate.member_id == member.id)
            .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        )
    )
    dues = list(
        db.session.scalars(
            select(DuesEntry)
            .where(DuesEntry.member_id == member.id)
            .order_by(DuesEntry.year.desc())
        )
    )
    actor_ids = {r.actor_id for r in [*statuses, *details] if r.actor_id}
    actors = {}
    if actor_ids:
        for user in db.session.scalars(select(User).where(User.id.in_(actor_ids))):
            actors[user.id] = user.display_name or user.username
    return MemberPage(member, statuses, details, cases, certificates, actors, dues)


def current_certificates(member_ids: list[int]) -> dict[int, Certificate]:
    """Member id → its valid certificate (the newest), for one page of the register."""
    found: dict[int, Certificate] = {}
    if not member_ids:
        return found
    rows = db.session.scalars(
        select(Certificate)
        .where(Certificate.member_id.in_(member_ids), Certificate.revoked_at.is_(None))
        .order_by(Certificate.id)
    )
    for certificate in rows:
        found[certificate.member_id] = certificate  # the newest wins
    return found


MAX_MEMBERSHIPS = 20


def memberships_of(user: User) -> list[Member]:
    """The account's entries in the register (a person and the units it represents), at most
    MAX_MEMBERSHIPS: a page, not a report."""
    return list(
        db.session.scalars(
            select(Member)
            .where(Member.user_id == user.id)
            .order_by(Member.id)
            .limit(MAX_MEMBERSHIPS)
        )
    )


def holds_membership(user: User) -> bool:
    """Whether the account has an entry in the register, whatever its status."""
    return (
        db.session.scalar(select(Member.id).where(Member.user_id == user.id).limit(1)) is not None
    )
