"""Process models as versions in the database: load `workflows/` and `forms/`, check, deploy."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask_babel import gettext
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import func, select

from webapp.engine import N_, InvalidDiagram, Problem, ProcessInfo, UserTaskInfo, check_diagram
from webapp.engine.types import fill
from webapp.extensions import db
from webapp.models import ModelVersion, ProcessInstance, ProcessModel
from webapp.roles import APPLICANT
from webapp.services import (  # noqa: F401 (diagram_functions registers the functions)
    diagram_functions,
    groups,
    message_templates,
    own_cases,
    scheduled_starts,
)
from webapp.services.errors import NoLiveModel
from webapp.services.workflow import engine


def content_hash(bpmn: str, forms: dict[str, dict]) -> str:
    """The identity of a version: its BPMN text and every form, byte for byte."""
    digest = hashlib.sha256(bpmn.encode("utf-8"))
    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def read_forms(forms_dir: Path) -> dict[str, dict | str]:
    """Every JSON file of a model's form folder by file name, and its message templates
    (`messages/<name>.<language>.txt`) as text."""
    if not forms_dir.is_dir():
        return {}
    files: dict[str, dict | str] = {
        p.name: json.loads(p.read_text("utf-8")) for p in sorted(forms_dir.glob("*.json"))
    }
    for path in sorted(forms_dir.glob(f"{message_templates.FOLDER}*.txt")):
        name = path.relative_to(forms_dir).as_posix()
        if message_templates.FILE_NAME.fullmatch(name):
            files[name] = path.read_text("utf-8")
    return files


def check_model(bpmn: str, forms: dict[str, dict]) -> ProcessInfo:
    """The process as drawn, if it can run here; raises InvalidDiagram naming every problem."""
    info, problems = _validate(bpmn, forms)
    if problems or info is None:
        raise InvalidDiagram(problems or [Problem("", "", CANNOT_RUN)])
    return info


def validate(
    bpmn: str | bytes, forms: dict[str, dict], lanes: dict[str, str] | None = None
) -> list[Problem]:
    """Every problem of a diagram and its forms; an empty list means it may be deployed.
    `lanes` maps each lane name a group answers to onto the group's key (default: the groups
    in the database)."""
    return _validate(bpmn, forms, lanes)[1]


def problem_text(problem: Problem) -> str:
    """A problem's sentence in the user's language (ids, names and parser details as given)."""
    return fill(gettext(problem.template), problem.params)


CANNOT_RUN = N_("The diagram has no process the engine can run.")


def _validate(
    bpmn: str | bytes, forms: dict, lanes: dict[str, str] | None = None
) -> tuple[ProcessInfo | None, list[Problem]]:
    data = bpmn.encode("utf-8", "surrogatepass") if isinstance(bpmn, str) else bytes(bpmn)
    report = check_diagram(data, engine.limits)
    problems = list(report.problems)
    lanes = groups.known_lanes() if lanes is None else lanes
    files = forms if isinstance(forms, dict) else {}
    for task in report.user_tasks:
        problems += _user_task_problems(task, files, lanes)
    problems += message_templates.problems(report.notifications, files)
    problems += _recipient_problems(report.recipients, lanes)
    problems += own_cases.problems(data)
    if report.info is not None:
        said = {p.element_id for p in problems if p.element_id}  # e.g. a constant not ISO 8601
        timers = scheduled_starts.problems(data, files, report.user_tasks)
        problems += [p for p in timers if p.element_id not in said]
    return report.info, list(dict.fromkeys(problems))  # a task drawn twice is said once


UNKNOWN_RECIPIENT = N_(
    "The property %(property)s names %(group)s, and no group of that key or name exists: name "
    "one of the groups %(lanes)s, or ask the administrator to create the group."
)


def _recipient_problems(recipients, lanes: dict[str, str]) -> list[Problem]:
    """A message to a group nobody can be in would be lost without a word."""
    known = ", ".join([APPLICANT, *sorted(set(lanes.values()))])
    return [
        Problem(
            told.element_id,
            told.element_name,
            UNKNOWN_RECIPIENT,
            {"property": told.name, "group": told.value, "lanes": known},
        )
        for told in recipients
        if not groups.is_applicant_lane(told.value)
        and told.value not in lanes
        and told.value not in lanes.values()
    ]


def _user_task_problems(task: UserTaskInfo, forms: dict, lanes: dict[str, str]) -> list[Problem]:
    def problem(template: str, **params) -> Problem:
        return Problem(task.spec_id, " ".join(task.title.split()), template, params)

    known = ", ".join([APPLICANT, *sorted(set(lanes.values()))])
    problems = []
    if not task.lane:
        template = N_("The user task is in no lane: put it in a lane named %(lanes)s.")
        problems.append(problem(template, lanes=known))
    elif groups.is_applicant_lane(task.lane):
        pass
    elif task.lane.strip() not in lanes:
        template = N_(
            "The user task is in lane %(lane)s, and no group of that key or name exists: name "
            "the lane after one of the groups %(lanes)s, or ask the administrator to create "
            "the group."
        )
        problems.append(problem(template, lane=task.lane, lanes=known))
    if not task.form:
        template = N_("The user task has no form: set the property formJsonSchemaFilename.")
        problems.append(problem(template))
    for name in (task.form, task.ui_form):
        if not name:
            continue
        if name not in forms:
            template = N_("The form file %(form)s does not exist: add it or correct the name.")
            problems.append(problem(template, form=name))
        elif not isinstance(forms[name], dict):
            template = N_("The form file %(form)s does not hold a JSON object.")
            problems.append(problem(template, form=name))
    if task.form and isinstance(forms.get(task.form), dict):
        try:
            Draft202012Validator.check_schema(forms[task.form])
        except SchemaError as err:
            template = N_("The form %(form)s is not valid JSON Schema: %(detail)s")
            problems.append(problem(template, form=task.form, detail=_schema_error(err)))
    return problems


def _schema_error(err: SchemaError) -> str:
    where = "/".join(str(part) for part in err.absolute_path)
    return f"{err.message} (at /{where})" if where else err.message


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
    scheduled_starts.schedule(model, version)
    return version, created


def load_directory(workflows_dir: Path, forms_dir: Path) -> list[tuple[str, ModelVersion, bool]]:
    """Deploy every `workflows/*.bpmn` with its `forms/<name>/`, after creating the missing
    groups of `workflows/groups.json` that their lanes name; commits once at the end."""
    groups_file = Path(workflows_dir) / "groups.json"
    if groups_file.is_file():
        groups.ensure(json.loads(groups_file.read_text("utf-8"))["groups"])
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
