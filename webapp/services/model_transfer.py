"""Diagrams in and out of the editor: a .bpmn file from another tool read and checked to be
BPMN (never stored here), a key for a new model, and a version exported with its forms."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ModelVersion, ProcessModel
from webapp.services import message_templates
from webapp.services.model_editor import MAX_BUNDLE_BYTES, BadBundle

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


@dataclass(frozen=True)
class ImportedDiagram:
    """An uploaded .bpmn file, read but not stored: the editor's new working copy."""

    bpmn: str
    filename: str
    process_id: str | None
    name: str | None


def read_upload(content: bytes, filename: str) -> ImportedDiagram:
    """A .bpmn file from another tool, checked to be BPMN XML; nothing is stored."""
    if len(content) > MAX_BUNDLE_BYTES:
        raise BadBundle("too_large")
    if not filename.lower().endswith((".bpmn", ".xml", ".bpmn20.xml")):
        raise BadBundle("not_bpmn_name", filename)
    if not content.strip():
        raise BadBundle("empty_file", filename)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadBundle("not_utf8", filename) from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as err:
        raise BadBundle("not_xml", str(err)) from None
    if root.tag != f"{{{BPMN_NS}}}definitions":
        raise BadBundle("not_bpmn", filename)
    processes = root.findall(f"{{{BPMN_NS}}}process")
    chosen = next((p for p in processes if p.get("isExecutable") == "true"), None)
    chosen = chosen if chosen is not None else (processes[0] if processes else None)
    return ImportedDiagram(
        bpmn=text.lstrip("\ufeff"),
        filename=filename,
        process_id=chosen.get("id") if chosen is not None else None,
        name=chosen.get("name") if chosen is not None else None,
    )


def key_for_import(diagram: ImportedDiagram) -> str:
    """A new model's key from the process id (else the file name), unused by any model."""
    stem = re.sub(r"\.(bpmn20\.xml|bpmn|xml)$", "", diagram.filename, flags=re.I)
    for candidate in (diagram.process_id or "", stem):
        base = re.sub(r"[^a-z0-9_]+", "_", candidate.lower()).strip("_")[:70]
        if base and base[0].isalpha():
            break
    else:
        base = "process"
    taken = set(
        db.session.scalars(select(ProcessModel.key).where(ProcessModel.key.like(f"{base}%")))
    )
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


def export_zip(version: ModelVersion) -> bytes:
    """A version as files laid out like the repository: workflows/<key>.bpmn, forms/<key>/…
    (its messages in forms/<key>/messages/)."""
    key = version.model.key
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"workflows/{key}.bpmn", version.bpmn)
        for name, content in sorted((version.forms or {}).items()):
            if message_templates.is_message_file(name) and isinstance(content, str):
                archive.writestr(f"forms/{key}/{name}", content)  # messages/<name>.<lang>.txt
                continue
            archive.writestr(
                f"forms/{key}/{name}", json.dumps(content, ensure_ascii=False, indent=2) + "\n"
            )
    return out.getvalue()
