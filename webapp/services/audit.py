"""Append-only audit rows, written in the same transaction as what they record."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEvent


def record(
    action: str,
    actor_id: int | None = None,
    instance_id: int | None = None,
    task_guid: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit row to the current transaction."""
    event = AuditEvent(
        action=action, actor_id=actor_id, instance_id=instance_id, task_guid=task_guid, data=data
    )
    db.session.add(event)
    return event


CSV_COLUMNS = ("at", "action", "actor", "task", "data")


def trail(instance_id: int) -> list[AuditEvent]:
    """Every audit row of one instance, oldest first."""
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.instance_id == instance_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def as_csv(events: list[AuditEvent], actor_names: dict[int, str]) -> str:
    """The rows as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese right)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow(
            [
                event.at.isoformat(),
                event.action,
                actor_names.get(event.actor_id, "") if event.actor_id else "",
                event.task_guid or "",
                json.dumps(event.data or {}, ensure_ascii=False, sort_keys=True, default=str),
            ]
        )
    return out.getvalue()
