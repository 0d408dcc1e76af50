"""The process owner's editor: the model list with its instances, bundles (a diagram and its
forms) to edit and check, and deploying an edited bundle as the live version."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_babel import gettext
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from webapp.engine import InvalidDiagram
from webapp.extensions import db
from webapp.models import (
    AuditEvent,
    Case,
    ModelVersion,
    ProcessInstance,
    ProcessModel,
    User,
)
from webapp.services import audit, message_templates, process_models, working_copies
from webapp.services.errors import DomainError, NotFound

# A diagram with its forms is tens of kilobytes; two megabytes leaves room without inviting abuse.
MAX_BUNDLE_BYTES = 2 * 1024 * 1024
# File names stay plain so that a bundle unpacks into forms/<key>/ on any system.
FORM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,100}\.json")
KEY = re.compile(r"[a-z][a-z0-9_]{0,79}")
DATA_SUFFIX = ".data.json"


class BadBundle(DomainError):
    """A bundle or upload the editor cannot take; `reason` says which rule it broke."""

    status = 400

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail
        if reason == "too_large":
            self.status = 413


class DeployConflict(DomainError):
    """Another deploy made a different version live while this owner was editing."""

    status = 409

    def __init__(self, live_number: int, by: str | None, at):
        super().__init__(live_number)
        self.live_number, self.by, self.at = live_number, by, at


class BundleRejected(DomainError):
    """The bundle cannot run; `problems` says where and why. Nothing was saved."""

    status = 422

    def __init__(self, problems: list[dict[str, str]]):
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass(frozen=True)
class VersionRow:
    """One version in the list: instance counts, and running applications per stage."""

    version: ModelVersion
    running: int
    finished: int
    is_live: bool
    stages: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DeployOutcome:
    number: int
    created: bool
    # The working copy's revision after the deploy ended it (0: the model never had one).
    copy_revision: int = 0


def model_list() -> list[tuple[ProcessModel, list[VersionRow]]]:
    """Every model with its versions (newest first) and where their applications stand."""
    stages: dict[int, dict[str, int]] = {}
    for version_id, stage, n in db.session.execute(
        select(ProcessInstance.version_id, Case.stage, func.count())
        .join(Case, Case.instance_id == ProcessInstance.id)
        .where(ProcessInstance.status == "running")
        .group_by(ProcessInstance.version_id, Case.stage)
    ):
        stages.setdefault(version_id, {})[stage] = n
    return [
        (
            model,
            [
                VersionRow(
                    v, running, finished, v.id == model.live_version_id, stages.get(v.id, {})
                )
                for v, running, finished in versions
            ],
        )
        for model, versions in process_models.overview()
    ]


def version_numbers(model: ProcessModel) -> list[int]:
    """The model's version numbers, newest first."""
    return list(
        db.session.scalars(
            select(ModelVersion.number)
            .where(ModelVersion.model_id == model.id)
            .order_by(ModelVersion.number.desc())
        )
    )


def find_model(key: str) -> ProcessModel:
    """The model with this key, or NotFound."""
    model = db.session.scalars(select(ProcessModel).where(ProcessModel.key == key)).first()
    if model is None:
        raise NotFound()
    return model


def find_version(key: str, number: int | None = None) -> ModelVersion:
    """A version of a model by number; without a number the live one (else the newest)."""
    model = find_model(key)
    query = select(ModelVersion).where(ModelVersion.model_id == model.id)
    if number is not None:
        query = query.where(ModelVersion.number == number)
    elif model.live_version_id is not None:
        query = query.where(ModelVersion.id == model.live_version_id)
    version = db.session.scalars(query.order_by(ModelVersion.number.desc())).first()
    if version is None:
        raise NotFound()
    return version


def bundle_of(version: ModelVersion) -> dict[str, Any]:
    """What the editor works on: the diagram text and every form, data and message file by
    name (messages as text, the others as JSON values)."""
    return {"bpmn": version.bpmn, "forms": dict(version.forms or {})}


def read_bundle(payload: Any) -> tuple[str, dict[str, Any]]:
    """The diagram and forms of a posted bundle; BadBundle names what is wrong with it."""
    if not isinstance(payload, dict):
        raise BadBundle("not_json")
    bpmn, forms = payload.get("bpmn"), payload.get("forms", {})
    if not isinstance(bpmn, str) or not bpmn.strip():
        raise BadBundle("no_bpmn")
    if not isinstance(forms, dict):
        raise BadBundle("forms_not_object")
    for name, content in forms.items():
        if message_templates.is_message_file(name):
            if not message_templates.FILE_NAME.fullmatch(name):
                raise BadBundle("bad_message_name", name)
            if not isinstance(content, str):
                raise BadBundle("message_not_text", name)
            continue
        if not FORM_NAME.fullmatch(name):
            raise BadBundle("bad_form_name", name)
        # Model data may be any JSON value; a form (schema or UI schema) is an object.
        if not name.endswith(DATA_SUFFIX) and not isinstance(content, dict):
            raise BadBundle("form_not_object", name)
    return bpmn, forms


def problems_in(bpmn: str, forms: dict[str, Any]) -> list[dict[str, str]]:
    """Every problem that keeps the bundle from running, as plain values; [] when it can."""
    try:
        process_models.check_model(bpmn, forms)
    except InvalidDiagram as err:
        return problem_dicts(err.problems)
    except Exception:  # noqa: BLE001 — an owner's upload must never end in an error page
        current_app.logger.exception("checking a diagram failed")
        return [{"element_id": "", "element_name": "", "message": _unreadable_text()}]
    return []


def problem_dicts(problems) -> list[dict[str, str]]:
    """Problems as the editor shows them: element id and name, and the translated sentence."""
    return [
        {
            "element_id": p.element_id or "",
            "element_name": p.element_name or "",
            "message": process_models.problem_text(p),
        }
        for p in problems
    ]


def _unreadable_text() -> str:
    return gettext(
        "The diagram could not be read. Check that it is a BPMN 2.0 file with one executable "
        "process."
    )


def deploy_bundle(
    key: str,
    bpmn: str,
    forms: dict[str, Any],
    live_at_start: int | None,
    user: User,
    comment: str | None = None,
    copy_revision: int | None = None,
) -> DeployOutcome:
    """Make the bundle the model's live version in one transaction: the bundle is checked
    (BundleRejected; nothing is saved), the model row locked, a deploy by someone else since
    `live_at_start` refused (DeployConflict), and the deploy audited. With `copy_revision`
    (the working copy's revision the editor opened) the deployed working copy ends with it,
    unless another owner changed it since (CopyConflict); without, it is left alone."""
    if not KEY.fullmatch(key):
        raise BadBundle("bad_key", key)
    problems = problems_in(bpmn, forms)
    if problems:
        raise BundleRejected(problems)
    try:
        model = _lock_model(key)
        if model is not None and model.live_version is not None:
            live = model.live_version.number
            if live_at_start is not None and live != live_at_start:
                by, at = _who_deployed(key, live)
                raise DeployConflict(live, by, at)
        revision_after = 0
        if model is not None and copy_revision is not None:
            revision_after = working_copies.end_with_deploy(model, copy_revision, user)
        try:
            version, created = process_models.deploy(key, bpmn, forms)
        except InvalidDiagram as err:
            raise BundleRejected(problem_dicts(err.problems)) from None
        if created and comment:
            version.deploy_comment = comment
        audit.record(
            "model_deployed",
            user.id,
            data={"model": key, "version": version.number, "created": created, "comment": comment},
        )
        db.session.commit()
    except IntegrityError:
        # Two first deploys of a new model at once: the other one created it.
        db.session.rollback()
        model = find_model(key)
        by, at = _who_deployed(key, model.live_version.number)
        raise DeployConflict(model.live_version.number, by, at) from None
    except BaseException:
        db.session.rollback()
        raise
    return DeployOutcome(version.number, created, revision_after)


def _lock_model(key: str) -> ProcessModel | None:
    """The model row, locked until commit (SQLite: by a first write, which takes its lock)."""
    query = select(ProcessModel).where(ProcessModel.key == key)
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(
            update(ProcessModel)
            .where(ProcessModel.key == key)
            .values(name=ProcessModel.name)
            .execution_options(synchronize_session=False)
        )
    else:
        query = query.with_for_update()
    return db.session.scalars(query.execution_options(populate_existing=True)).first()


def _who_deployed(key: str, number: int) -> tuple[str | None, Any]:
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "model_deployed")
        .order_by(AuditEvent.id.desc())
        .limit(200)
    )
    for event in events:
        data = event.data or {}
        if data.get("model") == key and data.get("version") == number:
            user = db.session.get(User, event.actor_id) if event.actor_id else None
            return (user.display_name if user else None), event.at
    return None, None
