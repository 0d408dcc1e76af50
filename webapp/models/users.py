"""People who log in, the roles the platform gives them, and the groups they belong to."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models.groups import GroupMembership
from webapp.models.types import UTCDateTime, utcnow


def association_today() -> date:
    """Today in the association's time zone: the day group terms are counted in."""
    zone = "Asia/Shanghai"
    if has_app_context():
        zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE") or zone
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    # Comma-separated platform roles (webapp.roles: applicant, process owner, administrator);
    # the committees a person sits on are group memberships.
    roles: Mapped[str] = mapped_column(String(200), default="applicant")
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[GroupMembership]] = relationship(
        order_by=GroupMembership.id, viewonly=True
    )

    @property
    def platform_roles(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)

    @property
    def group_keys(self) -> frozenset[str]:
        """The active groups whose term covers today."""
        today = association_today()
        return frozenset(
            m.group.key for m in self.memberships if m.group.active and m.current(today)
        )

    @property
    def keeps_register(self) -> bool:
        """Sits now on a group that keeps the register (certificates, audit trails)."""
        today = association_today()
        return any(
            m.group.keeps_register and m.group.active and m.current(today) for m in self.memberships
        )

    @property
    def sees_dashboard(self) -> bool:
        """Sits now on a group whose members see the desk's dashboard."""
        today = association_today()
        return any(
            m.group.sees_dashboard and m.group.active and m.current(today) for m in self.memberships
        )

    @property
    def role_set(self) -> frozenset[str]:
        """Platform roles and current groups: what the pages and lanes check."""
        return self.platform_roles | self.group_keys

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_committee(self) -> bool:
        """Sits on a group now, so works an inbox."""
        return bool(self.group_keys)

    def has_role(self, role: str) -> bool:
        return role in self.role_set

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
