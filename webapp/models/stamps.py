"""Where the database says that reference data changed: one stamp per kind, set anew by the
database's own triggers on every change to that kind's table (see the migration that made it)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db


class ReferenceStamp(db.Model):
    """A kind of reference data (`calendar`, `groups`) and the stamp of its last change.

    Random rather than counted: a change rolled back must never share its stamp with a later
    one that commits, or a copy kept from inside the rolled-back transaction would pass for it.
    """

    __tablename__ = "reference_stamp"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    stamp: Mapped[str] = mapped_column(String(40))
