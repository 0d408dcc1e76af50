"""The append-only audit trail: who did what, when, with which data; chained by hashes so
that a row edited or deleted after the fact shows."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.types import UTCDateTime, utcnow

GENESIS = "0" * 64


class AuditEvent(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(50))
    task_guid: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The row's place in the chain, the previous row's hash and its own; set when the
    # transaction that wrote the row commits (webapp.services.audit).
    seq: Mapped[int | None] = mapped_column(unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    def digest(self, seq: int, prev_hash: str) -> str:
        """The hash of this row at this place of the chain."""
        return row_digest(
            seq,
            prev_hash,
            self.at,
            self.action,
            self.actor_id,
            self.instance_id,
            self.task_guid,
            self.data,
        )


class AuditChainHead(db.Model):
    """The chain's last link (one row, id 1). Appending locks it, so chains never fork; and a
    deleted last row shows, because the head still names it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def row_digest(
    seq: int,
    prev_hash: str,
    at: datetime,
    action: str,
    actor_id: int | None,
    instance_id: int | None,
    task_guid: str | None,
    data: Any,
) -> str:
    """SHA-256 over the row's fields in a canonical form that survives a round trip through
    either database (microsecond UTC times; JSON as the column gives it back)."""
    moment = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    canonical_data = json.loads(json.dumps(data)) if data is not None else None
    payload = json.dumps(
        [
            seq,
            prev_hash,
            moment.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            action,
            actor_id,
            instance_id,
            task_guid,
            canonical_data,
        ],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
