"""Append-only audit rows, written in the same transaction as what they record."""

from __future__ import annotations

from typing import Any

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
