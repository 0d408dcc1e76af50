"""The process owner's editor: the modeler page, and the JSON endpoints it calls to check,
deploy, preview forms and import a diagram. Mounted inside the admin blueprint, whose guard
lets only process owners in."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from werkzeug.exceptions import HTTPException

from webapp import formschema
from webapp.errors import HTTP_MESSAGES
from webapp.limits import MAX_JSON_DEPTH, TooDeep, body_limit, json_body
from webapp.roles import APPLICANT
from webapp.routing import id_arg
from webapp.services import model_editor, model_transfer, working_copies
from webapp.services.errors import DomainError
from webapp.services.groups import all_groups
from webapp.services.model_editor import (
    MAX_BUNDLE_BYTES,
    BadBundle,
    BundleRejected,
    DeployConflict,
)
from webapp.services.stages import STAGES_FILE
from webapp.services.working_copies import CopyConflict

bp = Blueprint("editor", __name__)


@bp.get("/models/<key>/edit")
def edit(key: str):
    """The modeler on the saved working copy if there is one, else on the live version; on a
    given version with ?version=N."""
    number = id_arg("version")
    version = model_editor.find_version(key, number)
    copy = working_copies.current(version.model)
    if number is None and copy.exists:
        return render_editor(
            key,
            version.model.name,
            {"bpmn": copy.bpmn, "forms": copy.forms or {}},
            copy.base_number,
            copy=copy,
            opened_copy=True,
        )
    return render_editor(
        key, version.model.name, model_editor.bundle_of(version), version.number, copy=copy
    )


def render_editor(key, name, bundle, base_number, notice=None, copy=None, opened_copy=False):
    """The editor page on a bundle (a version, the saved working copy or an imported file).
    `copy` is the model's working copy as it stands, whose revision the page's saves name."""
    model = _existing_model(key)
    live = model.live_version.number if model is not None and model.live_version else None
    if copy is None:
        copy = working_copies.current(model) if model is not None else working_copies.NONE
    return render_template(
        "admin/editor.html",
        key=key,
        name=name,
        bundle=bundle,
        base_number=base_number,
        live_number=live,
        notice=notice,
        copy=copy,
        opened_copy=opened_copy,
        can_save=model is not None,
        stages=_declared_stages(bundle),
        lanes=[APPLICANT, *(group.key for group in all_groups())],
        max_bytes=MAX_BUNDLE_BYTES,
    )


def _declared_stages(bundle) -> list[tuple[str, str]]:
    # The stages the model's data names, offered for the `stage` property of its elements.
    declared = (bundle.get("forms") or {}).get(STAGES_FILE)
    if not isinstance(declared, dict):
        return []
    english = str(get_locale() or "").startswith("en")
    return [
        (key, str((entry or {}).get("en" if english else "zh") or key))
        if isinstance(entry, dict)
        else (key, key)
        for key, entry in declared.items()
    ]


def _existing_model(key):
    try:
        return model_editor.find_model(key)
    except DomainError:
        return None


@bp.post("/models/<key>/validate")
@body_limit(MAX_BUNDLE_BYTES)  # read no more, however the body is sent
def validate(key: str):
    """Check a posted bundle as a deploy would; nothing is stored."""
    bpmn, forms = model_editor.read_bundle(_payload())
    problems = model_editor.problems_in(bpmn, forms)
    return jsonify(ok=not problems, problems=problems)


@bp.post("/models/<key>/deploy")
@body_limit(MAX_BUNDLE_BYTES)  # read no more, however the body is sent
def deploy(key: str):
    """Check the bundle again and make it the live version; on problems nothing is saved."""
    payload = _payload()
    bpmn, forms = model_editor.read_bundle(payload)
    live_at_start = payload.get("live_version")
    if live_at_start is not None and not isinstance(live_at_start, int):
        raise BadBundle("not_json")
    copy_revision = payload.get("copy_revision")
    if copy_revision is not None:
        copy_revision = _revision(payload, "copy_revision")
    try:
        outcome = model_editor.deploy_bundle(
            key,
            bpmn,
            forms,
            live_at_start,
            current_user,
            comment=_comment(payload),
            copy_revision=copy_revision,
        )
    except BundleRejected as err:
        return _json_error(
            422,
            _("Nothing was deployed: the diagram has problems. Correct them and try again."),
            problems=err.problems,
        )
    if outcome.created:
        message = _(
            "Version %(n)d is now live. New cases use it; running ones stay on their version.",
            n=outcome.number,
        )
    else:
        message = _("Nothing changed since version %(n)d, which is live again.", n=outcome.number)
    return jsonify(
        ok=True,
        version=outcome.number,
        created=outcome.created,
        message=message,
        copy_revision=outcome.copy_revision,
    )


@bp.post("/models/<key>/working-copy")
@body_limit(MAX_BUNDLE_BYTES)  # read no more, however the body is sent
def save_working_copy(key: str):
    """Store the editor's bundle as the model's working copy, without checking or deploying
    it: a draft may be invalid. Refused (409) when another owner changed the copy since."""
    payload = _payload()
    bpmn, forms = model_editor.read_bundle(payload)
    revision = _revision(payload, "revision")
    base = payload.get("base_version")
    if base is not None and (not isinstance(base, int) or isinstance(base, bool)):
        raise BadBundle("not_json")
    copy = working_copies.save(key, bpmn, forms, revision, base, current_user)
    return jsonify(
        ok=True,
        revision=copy.revision,
        saved=saved_text(copy),
        message=_("Working copy saved. It is not live: deploy it to make it a version."),
    )


@bp.post("/models/<key>/working-copy/discard")
@body_limit(64 * 1024)
def discard_working_copy(key: str):
    """Throw the working copy away; the editor then opens the live version."""
    payload = _payload()
    copy = working_copies.discard(key, _revision(payload, "revision"), current_user)
    return jsonify(
        ok=True,
        revision=copy.revision,
        message=_("The working copy was discarded."),
    )


def _revision(payload, name: str) -> int:
    """The working copy's revision the editor opened (0: none yet)."""
    value = payload.get(name) if isinstance(payload, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadBundle("not_json")
    return value


def saved_text(copy) -> str:
    """Who saved the working copy and when, for the editor's header."""
    return _(
        "working copy saved by %(who)s, %(when)s",
        who=copy.by or _("another process owner"),
        when=_moment(copy.at),
    )


def _moment(value) -> str:
    # The site's one way of writing a moment per language, as the pages show it; imported
    # here because the views module mounts this blueprint.
    from webapp.views import _when

    return _when(value)


@bp.post("/models/form-preview")
@body_limit(MAX_BUNDLE_BYTES)  # read no more, however the body is sent
def form_preview():
    """A form rendered as the task page renders it, from a schema being edited."""
    payload = _payload()
    if not isinstance(payload, dict) or not isinstance(payload.get("schema"), dict):
        return _json_error(422, _("The form must be a JSON object."))
    schema, ui = payload["schema"], payload.get("ui") or {}
    if not isinstance(ui, dict):
        return _json_error(422, _("The UI schema must be a JSON object."))
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        return _json_error(422, _("This is not valid JSON Schema: %(detail)s", detail=err.message))
    except RecursionError:  # nesting within the body's limit that jsonschema still cannot walk
        raise BadBundle("too_deep") from None
    try:
        form = formschema.build_form(schema, ui, str(get_locale()))
    except (AttributeError, TypeError, ValueError, KeyError) as err:
        # A schema can be valid JSON Schema and still use shapes our forms cannot show.
        return _json_error(422, _("This form cannot be shown: %(detail)s", detail=str(err)))
    return jsonify(html=render_template("admin/_form_preview.html", form=form))


@bp.post("/models/<key>/import")
@body_limit(MAX_BUNDLE_BYTES)  # read no more, however the body is sent
def import_into_editor(key: str):
    """Read an uploaded .bpmn file for the editor's working copy; nothing is stored."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadBundle("no_file")
    diagram = model_transfer.read_upload(upload.read(MAX_BUNDLE_BYTES + 1), upload.filename)
    return jsonify(
        bpmn=diagram.bpmn,
        message=_(
            "Imported %(file)s into the editor. Validate and deploy it to make it a version.",
            file=diagram.filename,
        ),
    )


def _comment(payload) -> str | None:
    """The deploy's comment (why this version), one line of at most 500 characters."""
    comment = payload.get("comment") if isinstance(payload, dict) else None
    if not isinstance(comment, str):
        return None
    return " ".join(comment.split())[:500] or None


def _payload():
    """The posted JSON; None when it is not JSON (read_bundle says so), BadBundle when it
    nests deeper than any bundle does."""
    if not request.is_json:
        return None
    try:
        return json_body()
    except TooDeep:
        raise BadBundle("too_deep") from None
    except ValueError:
        return None


def bundle_error_text(error: BadBundle) -> str:
    """What the owner reads about a refused bundle or upload."""
    texts = {
        "not_json": lambda: _("The request is not a diagram bundle (JSON expected)."),
        "too_deep": lambda: _(
            "The JSON is nested more than %(n)d levels deep; no diagram or form needs that.",
            n=MAX_JSON_DEPTH,
        ),
        "no_bpmn": lambda: _("The bundle has no diagram."),
        "forms_not_object": lambda: _("The forms of the bundle must be a JSON object."),
        "bad_form_name": lambda: _(
            "“%(name)s” is not a usable file name: use letters, digits, _ - . and end in .json.",
            name=error.detail,
        ),
        "form_not_object": lambda: _("The form %(name)s must be a JSON object.", name=error.detail),
        "bad_message_name": lambda: _(
            "“%(name)s” is not a usable message name: use messages/<name>.<language>.txt, e.g. "
            "messages/application_received.zh.txt.",
            name=error.detail,
        ),
        "message_not_text": lambda: _("The message %(name)s must be text.", name=error.detail),
        "bad_key": lambda: _(
            "“%(key)s” is not a usable model key: lower-case letters, digits and _.",
            key=error.detail,
        ),
        "too_large": lambda: too_large_text(),
        "no_file": lambda: _("Please choose a .bpmn file."),
        "not_bpmn_name": lambda: _(
            "%(file)s is not a .bpmn file. Export the diagram as BPMN 2.0 XML (.bpmn).",
            file=error.detail,
        ),
        "empty_file": lambda: _("The file %(file)s is empty.", file=error.detail),
        "not_utf8": lambda: _("The file %(file)s is not UTF-8 text.", file=error.detail),
        "not_xml": lambda: _("The file is not well-formed XML: %(detail)s", detail=error.detail),
        "not_bpmn": lambda: _(
            "The file %(file)s is XML but not a BPMN 2.0 diagram (no bpmn:definitions).",
            file=error.detail,
        ),
    }
    return texts.get(error.reason, HTTP_MESSAGES[400])()


def too_large_text() -> str:
    """Size refusal, with the limit."""
    return _(
        "The diagram and its forms are too large: at most %(mb)d MB.",
        mb=MAX_BUNDLE_BYTES // (1024 * 1024),
    )


def conflict_text(error: DeployConflict) -> str:
    """Who deployed in between, so the owner can decide."""
    return _(
        "While you were editing, %(who)s deployed version %(n)d (%(when)s). Deploy again to "
        "replace it with your working copy, or reload the page to start from it.",
        who=error.by or _("another process owner"),
        n=error.live_number,
        when=format_datetime(error.at, "short") if error.at else "",
    )


def _json_error(status: int, message: str, **extra):
    return jsonify(ok=False, error=message, **extra), status


@bp.errorhandler(BadBundle)
def _bad_bundle(error: BadBundle):
    return _json_error(error.status, bundle_error_text(error))


def copy_conflict_text(error: CopyConflict) -> str:
    """What happened to the working copy since this editor opened it, by whom and when."""
    who = error.by or _("another process owner")
    when = _moment(error.at)
    if error.action == "discarded":
        return _(
            "%(who)s discarded the working copy (%(when)s) after you opened the editor. "
            "Nothing was written: reload the page, or save again to keep yours.",
            who=who,
            when=when,
        )
    if error.action == "deployed":
        return _(
            "%(who)s deployed the working copy (%(when)s) after you opened the editor. "
            "Nothing was written: reload the page, or save again to keep yours.",
            who=who,
            when=when,
        )
    return _(
        "%(who)s saved the working copy (%(when)s) after you opened the editor. Nothing "
        "was written: reload the page to see their copy, or save again to replace it.",
        who=who,
        when=when,
    )


@bp.errorhandler(CopyConflict)
def _copy_conflict(error: CopyConflict):
    return _json_error(409, copy_conflict_text(error), revision=error.revision)


@bp.errorhandler(DeployConflict)
def _conflict(error: DeployConflict):
    return _json_error(409, conflict_text(error), live_version=error.live_number)


@bp.errorhandler(CSRFError)
def _csrf(error: CSRFError):
    return _json_error(
        400, _("The page has expired or did not come from this site. Please reload it.")
    )


@bp.errorhandler(HTTPException)
def _http(error: HTTPException):
    status = error.code or 400
    if request.method == "GET":  # pages get the site's error page, the scripts JSON
        message = HTTP_MESSAGES.get(status, HTTP_MESSAGES[400])()
        return render_template("errors/error.html", status=status, message=message), status
    if status == 413:
        return _json_error(413, too_large_text())
    return _json_error(status, HTTP_MESSAGES.get(status, HTTP_MESSAGES[400])())
