"""The database models, typed SQLAlchemy 2.0."""

from webapp.models.access import ApiToken, LoginSession
from webapp.models.applications import Application, MemberNumberCounter
from webapp.models.audit import AuditChainHead, AuditEvent
from webapp.models.calendar import CalendarDay
from webapp.models.documents import Document
from webapp.models.incidents import Incident
from webapp.models.members import Certificate, Member
from webapp.models.notice import Objection
from webapp.models.outbox import OutboxMessage
from webapp.models.processes import HumanTask, ModelVersion, ProcessInstance, ProcessModel
from webapp.models.types import parse_iso, utcnow
from webapp.models.users import User

__all__ = [
    "ApiToken",
    "Application",
    "AuditChainHead",
    "AuditEvent",
    "CalendarDay",
    "Certificate",
    "Document",
    "HumanTask",
    "Incident",
    "LoginSession",
    "Member",
    "MemberNumberCounter",
    "ModelVersion",
    "Objection",
    "OutboxMessage",
    "ProcessInstance",
    "ProcessModel",
    "User",
    "parse_iso",
    "utcnow",
]
