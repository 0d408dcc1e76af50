"""The database models, typed SQLAlchemy 2.0."""

from webapp.models.access import ApiToken, LoginSession
from webapp.models.audit import AuditChainHead, AuditEvent
from webapp.models.bans import ReapplicationBan
from webapp.models.calendar import CalendarDay
from webapp.models.cases import Case, MemberNumberCounter, StageCount
from webapp.models.delegations import Delegation
from webapp.models.documents import Document
from webapp.models.dues import DuesEntry
from webapp.models.groups import Group, GroupMembership
from webapp.models.incidents import Incident
from webapp.models.members import Certificate, Member, MemberDetailChange, MemberStatusChange
from webapp.models.notice import Objection
from webapp.models.outbox import OutboxMessage
from webapp.models.processes import (
    ElementCount,
    HumanTask,
    ModelVersion,
    ProcessInstance,
    ProcessModel,
    TimerWait,
    WorkingCopy,
)
from webapp.models.schedules import ScheduledStart, TimerStartCase
from webapp.models.stamps import ReferenceStamp
from webapp.models.types import parse_iso, utcnow
from webapp.models.users import User

__all__ = [
    "ApiToken",
    "Case",
    "AuditChainHead",
    "AuditEvent",
    "CalendarDay",
    "Certificate",
    "Delegation",
    "Document",
    "DuesEntry",
    "Group",
    "GroupMembership",
    "HumanTask",
    "TimerWait",
    "ElementCount",
    "Incident",
    "LoginSession",
    "Member",
    "MemberDetailChange",
    "MemberStatusChange",
    "MemberNumberCounter",
    "StageCount",
    "ModelVersion",
    "Objection",
    "OutboxMessage",
    "ProcessInstance",
    "ProcessModel",
    "ReapplicationBan",
    "ReferenceStamp",
    "ScheduledStart",
    "TimerStartCase",
    "User",
    "WorkingCopy",
    "parse_iso",
    "utcnow",
]
