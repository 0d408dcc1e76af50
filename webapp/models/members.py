"""The member register and the certificates issued to members."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Member(db.Model):
    """One entry per member for life: the number is its archive and certificate number."""

    # The register's filters page by id (keyset), so each filter is indexed with it; the
    # identifiers are searched exactly.
    __table_args__ = (
        Index("ix_member_status_id", "status", "id"),
        Index("ix_member_type_id", "member_type", "id"),
        Index("ix_member_region_id", "region", "id"),
        Index("ix_member_industry_id", "industry", "id"),
        Index("ix_member_name", "name"),
        Index("ix_member_credit_code", "credit_code"),
        Index("ix_member_id_number", "id_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_number: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    member_type: Mapped[str] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(50))
    industry: Mapped[str | None] = mapped_column(String(50))
    admitted_on: Mapped[date] = mapped_column(Date, index=True)  # the dashboard's months
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Details copied from the admission case and changed only with history (MemberDetailChange).
    legal_representative: Mapped[str | None] = mapped_column(String(100))
    contact_person: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(300))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    id_number: Mapped[str | None] = mapped_column(String(18))

    case = relationship("Case", foreign_keys=[case_id])


class MemberStatusChange(db.Model):
    """One change of a member's register status: from what, to what, why, in which case, by whom."""

    __tablename__ = "member_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MemberDetailChange(db.Model):
    """One changed detail of a member (name, address, …): old and new value, why, which case,
    who."""

    __tablename__ = "member_detail_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A body's decision ({"by": group key, "approve"/"reject"/"abstain"/"eligible": counts}):
    # the history names it, not the person whose step recorded it (the last vote cast).
    decided_by: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Certificate(db.Model):
    """A member certificate; the PDF is drawn from this row, the QR code carries `verify_token`."""

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    # One certificate per admission: a second issuance of the same application is refused here.
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), unique=True)
    verify_token: Mapped[str] = mapped_column(String(40), unique=True)
    issued_on: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The name printed on it: a later change of name re-issues, and the old one keeps its own.
    holder_name: Mapped[str | None] = mapped_column(String(200))

    member: Mapped[Member] = relationship()

    @property
    def name(self) -> str:
        """The member's name as this certificate bears it."""
        return self.holder_name or self.member.name

    @property
    def valid(self) -> bool:
        return self.revoked_at is None and self.member.status == "active"
