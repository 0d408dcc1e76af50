"""Many members, fast: rows of an instance, its case and its register entry inserted in bulk,
for the register's tests and its benchmark (the pages never read an instance's state)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select, text

from webapp.extensions import db
from webapp.models import Case, Member, ModelVersion, ProcessInstance, ProcessModel, User

REGIONS = ("北京市", "上海市", "广东省", "浙江省", "四川省")
INDUSTRIES = ("it", "manufacturing", "finance", "services")
STATUSES = ("active",) * 7 + ("suspended", "withdrawn", "expelled")
AT = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def populate(count: int, batch: int = 5000, prefix: str = "P") -> None:
    """`count` members (unit and individual, several regions, industries and statuses), with
    unique credit codes and ID numbers; commits."""
    version_id = db.session.scalar(
        select(ProcessModel.live_version_id).where(ProcessModel.live_version_id.is_not(None))
    ) or db.session.scalar(select(ModelVersion.id))
    first_instance = (db.session.scalar(select(func.max(ProcessInstance.id))) or 0) + 1
    first_case = (db.session.scalar(select(func.max(Case.id))) or 0) + 1
    first_member = (db.session.scalar(select(func.max(Member.id))) or 0) + 1
    user_id = db.session.scalar(select(func.min(User.id)))
    for start in range(0, count, batch):
        instances, cases, members = [], [], []
        for i in range(start, min(count, start + batch)):
            unit = i % 3 != 0
            name = f"{REGIONS[i % 5][:2]}示例{'科技有限公司' if unit else '个人'}{i:06d}"
            instances.append(
                {"id": first_instance + i, "version_id": version_id, "state": "{}",
                 "lock_version": 1, "status": "completed", "created_at": AT, "updated_at": AT}
            )  # fmt: skip
            cases.append(
                {"id": first_case + i, "instance_id": first_instance + i, "applicant_id": user_id,
                 "title": "入会申请", "name": name, "data": {}, "facts": {}, "stage": "",
                 "status": "admitted", "created_at": AT, "updated_at": AT}
            )  # fmt: skip
            members.append(
                {
                    "id": first_member + i,
                    "member_number": f"2026-{prefix}-{i:07d}",
                    "case_id": first_case + i,
                    "user_id": user_id,
                    "name": name,
                    "member_type": "unit" if unit else "individual",
                    "region": REGIONS[i % 5],
                    "industry": INDUSTRIES[i % 4],
                    "status": STATUSES[i % 10],
                    "admitted_on": date(2026, 1, 5) + timedelta(days=i % 300),
                    "created_at": AT,
                    "credit_code": f"91{i:016d}" if unit else None,
                    "id_number": None if unit else f"110101{i:011d}X"[:18],
                    "contact_person": "联系人",
                    "phone": "010-12345678",
                }
            )
        db.session.execute(insert(ProcessInstance), instances)
        db.session.execute(insert(Case.__table__), cases)
        db.session.execute(insert(Member.__table__), members)
        db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        # The ids were given explicitly: the sequences must go past them, or the next row
        # the app inserts collides with one of these.
        for table in ("process_instance", "case_file", "member"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        db.session.commit()
