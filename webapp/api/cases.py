"""Cases through the API: the catalogue of what the caller may start, the caller's own cases,
starting one, one case with its stages and the tasks waiting on its applicant, and uploading a
document that a task's form will name by its token."""

from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.api import bp
from webapp.api.access import api_login_required, forbidden
from webapp.api.errors import error_response
from webapp.api.public import iso
from webapp.api.tasks import json_object, task_summary
from webapp.limits import body_limit
from webapp.models import Case
from webapp.routing import MAX_PAGE
from webapp.services import cases, catalogue, documents, progress, tasks
from webapp.services.errors import InvalidFormData

CASE_PATH = "/cases/<id:case_id>"


def summary(case: Case) -> dict:
    """The fields every listing of a case shows."""
    return {
        "id": case.id,
        "name": case.name,
        "title": case.title,
        "stage": case.stage,
        "status": case.status,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
    }


def detail(case: Case) -> dict:
    """A case as its page shows it to the caller: stages, own open tasks, data."""
    own = case.applicant_id == current_user.id
    waiting = cases.progress(case).for_applicant if own else []
    timeline = [
        {
            "stage": event.stage,
            "label": event.title,
            "state": event.state,
            "at": iso(event.at),
            "until": iso(event.until),
        }
        for event in progress.stage_timeline(case)
    ]
    return {
        **summary(case),
        "timeline": timeline,
        "open_tasks": [task_summary(task, case) for task in waiting],
        "data": case.data or {},
    }


def _page() -> int:
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE):
        message = _("Enter a whole number from 1 to %(max)s.", max=MAX_PAGE)
        raise InvalidFormData({"page": [message]}, {})
    return int(raw)


@bp.get("/cases")
@api_login_required
def list_cases():
    """A page of the caller's own cases, newest first."""
    page = _page()
    own, has_next = cases.for_applicant(current_user, page)
    return jsonify(
        items=[summary(a) for a in own],
        page=page,
        per_page=cases.PAGE_SIZE,
        has_next=has_next,
    )


@bp.get("/catalogue")
@api_login_required
def list_catalogue():
    """The procedures the caller may start."""
    return jsonify(
        items=[
            {"process": p.key, "title": p.title_zh, "title_en": p.title_en, "subject": p.subject}
            for p in catalogue.startable(current_user)
        ]
    )


@bp.post("/cases")
@api_login_required
def start_case():
    """Start a case: `{"process": key}`, with `"member_number"` when it is about a member.
    Without a body, the one procedure an applicant may start about itself (admission)."""
    body = json_object() if request.content_length else {}
    key, number = body.get("process"), body.get("member_number")
    errors = {}
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 80):
        errors["process"] = [_("Name the procedure by its key, as the catalogue lists it.")]
    if number is not None and (not isinstance(number, str) or len(number) > 40):
        errors["member_number"] = [_("There is no active member with this member number.")]
    if errors:
        raise InvalidFormData(errors, {})
    case = cases.start(current_user, key, number)
    response = jsonify(detail(case))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_case", case_id=case.id)
    return response


@bp.get(CASE_PATH)
@api_login_required
def get_case(case_id: int):
    """One case: its own, or any the committee may see (others are not found)."""
    return jsonify(detail(cases.visible(current_user, case_id)))


def _open_document_fields(case: Case) -> set[str]:
    """The document fields of the forms now waiting on the case's applicant."""
    names: set[str] = set()
    for task in cases.progress(case).for_applicant:
        schema, _ui = tasks.form_of(task)
        names.update(documents.document_fields(schema))
    return names


@bp.post(f"{CASE_PATH}/documents")
@api_login_required
@body_limit("MAX_CONTENT_LENGTH")
def upload_document(case_id: int):
    """Keep one file for a document field of a form waiting on the applicant; the answer's
    token goes into that field when the task is completed."""
    case = cases.visible(current_user, case_id)
    if case.applicant_id != current_user.id:
        return forbidden()  # the committee sees the case but does not file for it
    if request.mimetype != "multipart/form-data":
        message = _("Send the file as multipart/form-data, with the fields file and field.")
        return error_response(415, "unsupported_media_type", message)
    field, upload = request.form.get("field", ""), request.files.get("file")
    errors: dict[str, list[str]] = {}
    if field not in _open_document_fields(case):
        errors["field"] = [_("No form waiting for you has a document field of this name.")]
    if upload is None or not upload.filename:
        errors["file"] = [_("Choose a file to upload.")]
    if errors:
        raise InvalidFormData(errors, {})
    try:
        document = documents.store_upload(current_user, case, field, upload)
    except documents.UploadTooLarge as err:
        return error_response(413, "too_large", err.errors["file"][0], err.errors)
    body = {
        "token": document.token,
        "name": document.original_name,
        "content_type": document.content_type,
        "size": document.size,
    }
    return jsonify(body), 201
