"""Diagrams in and out: export any version as a .bpmn file (or with its forms as a zip), and
import a .bpmn file made in another tool into the editor as a working copy to check and deploy.
Mounted inside the admin blueprint, whose guard lets only process owners in."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_babel import gettext as _

from webapp.admin.editor import bundle_error_text, render_editor
from webapp.admin.forms import ImportDiagramForm
from webapp.limits import body_limit
from webapp.services import model_editor, model_transfer, working_copies
from webapp.services.model_editor import MAX_BUNDLE_BYTES, BadBundle

bp = Blueprint("transfer", __name__)


@bp.get("/models/<key>/versions/<id:number>/export.bpmn")
def export_bpmn(key: str, number: int):
    """The diagram of one version as `<key>-v<N>.bpmn`."""
    version = model_editor.find_version(key, number)
    return _attachment(version.bpmn.encode("utf-8"), f"{key}-v{number}.bpmn", "application/xml")


@bp.get("/models/<key>/versions/<id:number>/export.zip")
def export_zip(key: str, number: int):
    """One version with its forms and model data, laid out as workflows/ and forms/<key>/."""
    version = model_editor.find_version(key, number)
    return _attachment(
        model_transfer.export_zip(version), f"{key}-v{number}.zip", "application/zip"
    )


def _attachment(content: bytes, filename: str, mimetype: str) -> Response:
    return Response(
        content,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.post("/models/import")
# A diagram at the bundle limit and the form around it; read_upload says "too large" beyond.
@body_limit(MAX_BUNDLE_BYTES + 64 * 1024)
def import_diagram():
    """Open an uploaded .bpmn file in the editor, into an existing model or as a new one.
    Nothing is stored until the owner deploys it from the editor."""
    models = model_editor.model_list()
    form = import_form(models)
    if not form.validate_on_submit():
        message = next(iter(_errors(form)), _("Please choose a .bpmn file."))
        return _list_with_error(models, form, message)
    upload = form.file.data
    try:
        diagram = model_transfer.read_upload(upload.read(MAX_BUNDLE_BYTES + 1), upload.filename)
    except BadBundle as err:
        return _list_with_error(models, form, bundle_error_text(err), err.status)
    if form.target.data:
        version = model_editor.find_version(form.target.data)
        key, name, forms = form.target.data, version.model.name, version.forms
        base = version.number
    else:
        key = model_transfer.key_for_import(diagram)
        name, forms, base = diagram.name or key, {}, None
    notice = _(
        "Imported %(file)s as the working copy of “%(key)s”. Nothing is saved yet: validate, "
        "then deploy it to make it a version.",
        file=diagram.filename,
        key=key,
    )
    return render_editor(
        key, name, {"bpmn": diagram.bpmn, "forms": dict(forms or {})}, base, notice
    )


def import_form(models) -> ImportDiagramForm:
    """The upload form, offering each model there is, or a new one."""
    form = ImportDiagramForm()
    form.target.choices = [("", _("a new process model"))] + [
        (m.key, f"{m.name} ({m.key})") for m, _rows in models
    ]
    return form


def _errors(form) -> list[str]:
    return [str(message) for messages in form.errors.values() for message in messages]


def copies_of(models) -> dict:
    """Each model's working copy, for the list (a handful of models: one look each)."""
    return {model.key: working_copies.current(model) for model, _rows in models}


def _list_with_error(models, form, message: str, status: int = 400):
    return (
        render_template(
            "admin/models.html",
            models=models,
            copies=copies_of(models),
            import_form=form,
            import_error=message,
        ),
        status,
    )
