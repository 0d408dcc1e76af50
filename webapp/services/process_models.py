"""Process models as versions in the database: load `workflows/` and `forms/`, check, deploy."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import func, select

from webapp.engine import InvalidDiagram, ModelSource, Problem
from webapp.extensions import db
from webapp.models import ModelVersion, ProcessInstance, ProcessModel
from webapp.roles import role_for_lane
from webapp.services.errors import NoLiveModel
from webapp.services.workflow import engine


def content_hash(bpmn: str, forms: dict[str, dict]) -> str:
    """The identity of a version: its BPMN text and every form, byte for byte."""
    digest = hashlib.sha256(bpmn.encode("utf-8"))
    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def read_forms(forms_dir: Path) -> dict[str, dict]:
    """Every JSON file of a model's form folder, by file name."""
    if not forms_dir.is_dir():
        return {}
    return {p.name: json.loads(p.read_text("utf-8")) for p in sorted(forms_dir.glob("*.json"))}


def check_model(bpmn: str, forms: dict[str, dict]):
    """The process as drawn, if it can run here; raises InvalidDiagram naming every problem."""
    key = hashlib.sha256(bpmn.encode("utf-8")).hexdigest()
    info = engine.describe(ModelSource(key=key, bpmn=bpmn.encode("utf-8")))
    problems = []
    for task in info.user_tasks:

        def problem(message, task=task):
            problems.append(Problem(task.spec_id, task.title, message))

        if role_for_lane(task.lane) is None:
            problem(
                f"The user task is in lane '{task.lane or ''}', which no role works: put it "
                "in a lane named applicant, secretariat, council or finance."
            )
        for name in (task.form, task.ui_form):
            if name and name not in forms:
                problem(f"The form file '{name}' does not exist: add it or correct the name.")
        if not task.form:
            problem("The user task has no form: set the property formJsonSchemaFilename.")
        elif task.form in forms:
            try:
                Draft202012Validator.check_schema(forms[task.form])
            except SchemaError as err:
                problem(f"The form '{task.form}' is not valid JSON Schema: {err.message}")
    if problems:
        raise InvalidDiagram(problems)
    return info


def deploy(key: str, bpmn: str, forms: dict[str, dict]) -> tuple[ModelVersion, bool]:
    """Make this content the live version of the model; a new version only if it changed."""
    info = check_model(bpmn, forms)
    digest = content_hash(bpmn, forms)
    model = db.session.scalars(select(ProcessModel).where(ProcessModel.key == key)).first()
    if model is None:
        model = ProcessModel(key=key, name=info.name)
        db.session.add(model)
        db.session.flush()
    version = db.session.scalars(
        select(ModelVersion).where(
            ModelVersion.model_id == model.id, ModelVersion.content_hash == digest
        )
    ).first()
    created = version is None
    if created:
        number = (
            db.session.scalar(
                select(func.max(ModelVersion.number)).where(ModelVersion.model_id == model.id)
            )
            or 0
        ) + 1
        version = ModelVersion(
            model=model,
            number=number,
            content_hash=digest,
            process_id=info.process_id,
            bpmn=bpmn,
            forms=forms,
        )
        db.session.add(version)
        db.session.flush()
    model.name = info.name
    model.live_version = version
    return version, created


def load_directory(workflows_dir: Path, forms_dir: Path) -> list[tuple[str, ModelVersion, bool]]:
    """Deploy every `workflows/*.bpmn` with its `forms/<name>/`; commits once at the end."""
    loaded = []
    for path in sorted(Path(workflows_dir).glob("*.bpmn")):
        key = path.stem
        version, created = deploy(key, path.read_text("utf-8"), read_forms(forms_dir / key))
        loaded.append((key, version, created))
    db.session.commit()
    return loaded


def live_version(key: str) -> ModelVersion:
    """The version new instances of a model start on."""
    model = db.session.scalars(select(ProcessModel).where(ProcessModel.key == key)).first()
    if model is None or model.live_version is None:
        raise NoLiveModel(key)
    return model.live_version


def overview() -> list[tuple[ProcessModel, list[tuple[ModelVersion, int, int]]]]:
    """Each model with its versions, newest first: (version, running, finished) counts."""
    counts = {
        (version_id, status): n
        for version_id, status, n in db.session.execute(
            select(ProcessInstance.version_id, ProcessInstance.status, func.count()).group_by(
                ProcessInstance.version_id, ProcessInstance.status
            )
        )
    }
    result = []
    for model in db.session.scalars(select(ProcessModel).order_by(ProcessModel.key)):
        versions = db.session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id == model.id)
            .order_by(ModelVersion.number.desc())
        )
        result.append(
            (
                model,
                [
                    (v, counts.get((v.id, "running"), 0), counts.get((v.id, "finished"), 0))
                    for v in versions
                ],
            )
        )
    return result
