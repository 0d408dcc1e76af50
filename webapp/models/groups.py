"""Groups of people who work a lane (秘书处, 理事会, 财务, 监事会, …), and who belongs to each
for which term. Groups are rows an administrator edits, never names in code."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow


class Group(db.Model):
    __tablename__ = "user_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A lane works for the group whose key, Chinese or English name it carries.
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name_zh: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)
    # Its members keep the register: every certificate, the audit trails, the incidents.
    keeps_register: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Its members see the desk's dashboard (the secretariat and the council by default).
    sees_dashboard: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def name(self, locale: str | None) -> str:
        """The group's name in a UI language."""
        return self.name_en if (locale or "").startswith("en") else self.name_zh


class GroupMembership(db.Model):
    """One person in one group for a term; a term without an end lasts until ended."""

    __tablename__ = "group_membership"
    __table_args__ = (
        Index("ix_group_membership_user", "user_id"),
        Index("ix_group_membership_group", "group_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("user_group.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[Group] = relationship(lazy="joined")

    def current(self, today: date) -> bool:
        """Whether the term covers that day."""
        return (self.starts_on is None or self.starts_on <= today) and (
            self.ends_on is None or today <= self.ends_on
        )
