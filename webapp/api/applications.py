"""Applications through the API: the caller's own list, starting one, one application with its
stages and the tasks waiting on its applicant, and uploading a document that a task's form
will name by its token."""

from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.api import bp
from webapp.api.access import api_login_required, forbidden
from webapp.api.errors import error_response
from webapp.api.public import iso
from webapp.api.tasks import task_summary
from webapp.limits import body_limit
from webapp.models import Application
from webapp.routing import MAX_PAGE
from webapp.services import applications, documents, progress, tasks
from webapp.services.errors import InvalidFormData

APPLICATION_PATH = "/applications/<id:application_id>"


def summary(application: Application) -> dict:
    """The fields every listing of an application shows."""
    return {
        "id": application.id,
        "name": application.name,
        "title": application.title,
        "stage": application.stage,
        "status": application.status,
        "created_at": iso(application.created_at),
        "updated_at": iso(application.updated_at),
    }


def detail(application: Application) -> dict:
    """An application as its page shows it to the caller: stages, own open tasks, data."""
    own = application.applicant_id == current_user.id
    waiting = applications.progress(application).for_applicant if own else []
    timeline = [
        {
            "stage": event.stage,
            "label": event.title,
            "state": event.state,
            "at": iso(event.at),
            "until": iso(event.until),
        }
        for event in progress.stage_timeline(application)
    ]
    return {
        **summary(application),
        "timeline": timeline,
        "open_tasks": [task_summary(task, application) for task in waiting],
        "data": application.data or {},
    }


def _page() -> int:
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE):
        message = _("Enter a whole number from 1 to %(max)s.", max=MAX_PAGE)
        raise InvalidFormData({"page": [message]}, {})
    return int(raw)


@bp.get("/applications")
@api_login_required
def list_applications():
    """A page of the caller's own applications, newest first."""
    page = _page()
    own, has_next = applications.for_applicant(current_user, page)
    return jsonify(
        items=[summary(a) for a in own],
        page=page,
        per_page=applications.PAGE_SIZE,
        has_next=has_next,
    )


@bp.post("/applications")
@api_login_required
def start_application():
    """Start a new application; its form is the first of its open tasks."""
    application = applications.start(current_user)
    response = jsonify(detail(application))
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_application", application_id=application.id)
    return response


@bp.get(APPLICATION_PATH)
@api_login_required
def get_application(application_id: int):
    """One application: its own, or any for the committee (others are not found)."""
    return jsonify(detail(applications.visible(current_user, application_id)))


def _open_document_fields(application: Application) -> set[str]:
    """The document fields of the forms now waiting on the application's applicant."""
    names: set[str] = set()
    for task in applications.progress(application).for_applicant:
        schema, _ui = tasks.form_of(task)
        names.update(documents.document_fields(schema))
    return names


@bp.post(f"{APPLICATION_PATH}/documents")
@api_login_required
@body_limit("MAX_CONTENT_LENGTH")
def upload_document(application_id: int):
    """Keep one file for a document field of a form waiting on the applicant; the answer's
    token goes into that field when the task is completed."""
    application = applications.visible(current_user, application_id)
    if application.applicant_id != current_user.id:
        return forbidden()  # the committee sees the application but does not file for it
    if request.mimetype != "multipart/form-data":
        message = _("Send the file as multipart/form-data, with the fields file and field.")
        return error_response(415, "unsupported_media_type", message)
    field, upload = request.form.get("field", ""), request.files.get("file")
    errors: dict[str, list[str]] = {}
    if field not in _open_document_fields(application):
        errors["field"] = [_("No form waiting for you has a document field of this name.")]
    if upload is None or not upload.filename:
        errors["file"] = [_("Choose a file to upload.")]
    if errors:
        raise InvalidFormData(errors, {})
    try:
        document = documents.store_upload(current_user, application, field, upload)
    except documents.UploadTooLarge as err:
        return error_response(413, "too_large", err.errors["file"][0], err.errors)
    body = {
        "token": document.token,
        "name": document.original_name,
        "content_type": document.content_type,
        "size": document.size,
    }
    return jsonify(body), 201
