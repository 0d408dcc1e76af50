"""The database models, typed SQLAlchemy 2.0."""

from webapp.models.applications import Application, MemberNumberCounter
from webapp.models.audit import AuditEvent
from webapp.models.processes import HumanTask, ModelVersion, ProcessInstance, ProcessModel
from webapp.models.types import utcnow
from webapp.models.users import User

__all__ = [
    "Application",
    "AuditEvent",
    "HumanTask",
    "MemberNumberCounter",
    "ModelVersion",
    "ProcessInstance",
    "ProcessModel",
    "User",
    "utcnow",
]
