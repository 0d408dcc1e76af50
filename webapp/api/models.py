"""Process models through the API, for process owners: each model with its versions and
instance counts, and one version's diagram and forms (as the editor and export give them)."""

from __future__ import annotations

from flask import jsonify

from webapp.api import bp
from webapp.api.access import require_role
from webapp.api.public import iso
from webapp.roles import PROCESS_OWNER
from webapp.services import model_editor
from webapp.services.errors import NotFound

# Version numbers and ids are 32-bit integer columns: a larger number in a path is not found
# by the router instead of overflowing in the database.


def _model(model, rows: list[model_editor.VersionRow]) -> dict:
    live = next((row.version.number for row in rows if row.is_live), None)
    return {
        "key": model.key,
        "name": model.name,
        "live_version": live,
        "versions": [
            {
                "number": row.version.number,
                "created_at": iso(row.version.created_at),
                "live": row.is_live,
                "running": row.running,
                "finished": row.finished,
            }
            for row in rows
        ],
    }


def _known_key(key: str) -> str:
    # Keys are plain identifiers; anything else is not looked up (a NUL would fail on PostgreSQL).
    if not model_editor.KEY.fullmatch(key):
        raise NotFound("model")
    return key


@bp.get("/models")
@require_role(PROCESS_OWNER)
def list_models():
    """Every process model with its versions, newest first."""
    return jsonify(items=[_model(model, rows) for model, rows in model_editor.model_list()])


@bp.get("/models/<key>")
@require_role(PROCESS_OWNER)
def get_model(key: str):
    """One process model with its versions."""
    key = _known_key(key)
    for found, rows in model_editor.model_list():
        if found.key == key:
            return jsonify(_model(found, rows))
    raise NotFound("model")


@bp.get("/models/<key>/versions/<id:number>")
@require_role(PROCESS_OWNER)
def get_model_version(key: str, number: int):
    """One version: its BPMN text and every form and data file by name."""
    found = model_editor.find_version(_known_key(key), number)
    bundle = model_editor.bundle_of(found)
    return jsonify(
        number=found.number,
        created_at=iso(found.created_at),
        live=found.id == found.model.live_version_id,
        bpmn=bundle["bpmn"],
        forms=bundle["forms"],
    )
