"""Tasks through the API: who the caller is, the committee's open tasks, one task with its form
and what its page shows, and claiming, releasing and completing a task — the same services,
rules and errors as the pages."""

from __future__ import annotations

import re

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from webapp.api import bp
from webapp.api.access import api_login_required, require_committee
from webapp.api.public import iso
from webapp.limits import json_body
from webapp.models import Case, HumanTask, User, utcnow
from webapp.routing import MAX_PAGE
from webapp.services import cases, inbox, tasks
from webapp.services.errors import DomainError, Forbidden, InvalidFormData
from webapp.services.groups import lane_group, lane_names

MAX_PER_PAGE = 100
# Process model keys are plain identifiers; anything else is not looked up at all (a NUL in a
# parameter is an error on PostgreSQL, not a miss).
MODEL_KEY = re.compile(r"[A-Za-z0-9_.-]{1,80}")
BOOLEANS = {"true": True, "false": False}


class BadBody(DomainError):
    """The body is not the JSON object the endpoint takes."""

    status = 400


class NotJson(DomainError):
    """The body is not declared as JSON."""

    status = 415


def task_summary(
    task: HumanTask,
    case: Case,
    process: str | None = None,
    claimers: dict[int, User] | None = None,
) -> dict:
    """The fields every listing of a task shows. `process` and `claimers` save the lookups
    when a whole page is summarised."""
    if process is None:
        process = inbox.process_keys([task.instance_id]).get(task.instance_id)
    holder = (claimers or {}).get(task.claimed_by_id) or tasks.holder(task)
    return {
        "id": task.task_guid,
        "name": task.title,
        "lane": task.lane,
        "stage": task.stage,
        "state": task.state,
        "created_at": iso(task.created_at),
        "due_at": iso(task.due_at),
        "overdue": task.state == "ready" and task.due_at is not None and task.due_at < utcnow(),
        "claimed_by": (
            {"id": holder.id, "display_name": holder.display_name} if holder is not None else None
        ),
        "case": {"id": case.id, "name": case.name},
        "process": process,
    }


@bp.get("/me")
@api_login_required
def me():
    """The caller: the account behind the session or token."""
    return jsonify(
        id=current_user.id,
        username=current_user.username,
        display_name=current_user.display_name,
        roles=sorted(current_user.role_set),
    )


@bp.get("/tasks")
@require_committee
def list_tasks():
    """A page of the open tasks of the caller's lanes, filtered and sorted as asked."""
    found = inbox.open_tasks(current_user, **_list_arguments())
    return jsonify(
        items=[
            task_summary(task, case, found.processes.get(task.instance_id), found.claimers)
            for task, case in found.rows
        ],
        page=found.page,
        per_page=found.per_page,
        has_next=found.has_next,
    )


def _list_arguments():
    """The list's query as keyword arguments of inbox.open_tasks; InvalidFormData for values
    that cannot be meant, Forbidden for the lane of a role the caller does not hold."""
    query, errors = request.args, {}
    own_lanes = lane_names(current_user.group_keys)
    lanes = own_lanes
    lane = query.get("lane")
    if lane is not None:
        if lane_group(lane) is None:
            errors["lane"] = [_("There is no lane of this name.")]
        elif lane not in own_lanes:
            raise Forbidden("not_your_lane")
        else:
            lanes = [lane]
    model_id = None
    process = query.get("process")
    if process is not None:
        model_id = inbox.model_id(process) if MODEL_KEY.fullmatch(process) else None
        if model_id is None:
            errors["process"] = [_("There is no process model with this key.")]
    overdue = query.get("overdue")
    if overdue is not None and overdue not in BOOLEANS:
        errors["overdue"] = [_("Use true or false.")]
    sort = query.get("sort", "due")
    if sort not in inbox.SORTS:
        errors["sort"] = [_("Use one of: %(choices)s.", choices=", ".join(inbox.SORTS))]
    page = _whole_number(query.get("page", "1"), MAX_PAGE, "page", errors)
    per_page = _whole_number(query.get("per_page", "20"), MAX_PER_PAGE, "per_page", errors)
    if errors:
        raise InvalidFormData(errors, {})
    return {
        "lanes": lanes,
        "sort": sort,
        "page": page,
        "per_page": per_page,
        "overdue": BOOLEANS.get(overdue) if overdue is not None else None,
        "model_id": model_id,
    }


def _whole_number(raw: str, largest: int, name: str, errors: dict) -> int:
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= largest:
        return int(raw)
    errors[name] = [_("Enter a whole number from 1 to %(max)s.", max=largest)]
    return 1


@bp.get("/tasks/<task_guid>")
@api_login_required
def task(task_guid: str):
    """One open task the caller may work: its summary, its form, and what its page shows."""
    found, case = tasks.find(current_user, task_guid)
    schema, ui = tasks.form_of(found)
    return jsonify(
        {
            **task_summary(found, case),
            "form": {"schema": schema, "ui_schema": ui},
            "data": _page_data(found, case),
        }
    )


def _page_data(task: HumanTask, case: Case) -> dict:
    """What the task's page shows the caller besides the form: the application's data, the
    saved draft, what the task is about, and — for the committee — earlier decisions."""
    data = {"case": case.data or {}, "draft": task.draft, "item": task.item}
    if case.applicant_id == current_user.id:
        return data
    # As on the page: the peers of a multi-instance task (the other council members' votes)
    # stay hidden, so that nobody votes by looking at the others.
    data["earlier"] = [
        {
            "task": done.bpmn_id,
            "name": done.title,
            "completed_at": iso(done.completed_at),
            "completed_by": done.completed_by.display_name if done.completed_by else None,
            "data": done.submitted_data,
        }
        for done in cases.progress(case).history
        if done.submitted_data
        and not tasks.is_case_form(done)
        and not (task.item is not None and done.bpmn_id == task.bpmn_id)
    ]
    return data


@bp.post("/tasks/<task_guid>/claim")
@api_login_required
def claim(task_guid: str):
    """Take the task on, so that the others of its lane leave it to the caller."""
    claimed, case = tasks.claim(current_user, task_guid)
    return jsonify(task_summary(claimed, case))


@bp.post("/tasks/<task_guid>/unclaim")
@api_login_required
def unclaim(task_guid: str):
    """Give the caller's claim on the task up."""
    released, case = tasks.unclaim(current_user, task_guid)
    return jsonify(task_summary(released, case))


@bp.post("/tasks/<task_guid>/complete")
@api_login_required
def complete(task_guid: str):
    """Complete the task with `{"data": {...}}`, checked against the task's form."""
    body = json_object()
    completed, case = tasks.complete_with(current_user, task_guid, body.get("data"))
    return jsonify(
        task=task_summary(completed, case),
        case={
            "id": case.id,
            "stage": case.stage,
            "status": case.status,
        },
    )


def json_object() -> dict:
    """The request's body as a JSON object."""
    if not request.is_json:
        raise NotJson()
    try:
        body = json_body()
    except ValueError:  # not JSON, or nested too deep
        raise BadBody() from None
    if not isinstance(body, dict):
        raise BadBody()
    return body
