"""Uploaded documents of an application: checked by content, stored outside the web root under
generated names, and handed out only to the applicant and the committee."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image
from sqlalchemy import event, select

from webapp.extensions import db
from webapp.models import Case, Document, User
from webapp.services.errors import InvalidFormData, NotFound


@dataclass(frozen=True)
class Kind:
    """A file type we accept."""

    content_type: str
    extensions: tuple[str, ...]  # the first is the one files are stored and offered under
    pillow_format: str | None = None


PDF = Kind("application/pdf", ("pdf",))
JPEG = Kind("image/jpeg", ("jpg", "jpeg"), "JPEG")
PNG = Kind("image/png", ("png",), "PNG")
KINDS = {kind.content_type: kind for kind in (PDF, JPEG, PNG)}
MAGIC = ((b"%PDF-", PDF), (b"\xff\xd8\xff", JPEG), (b"\x89PNG\r\n\x1a\n", PNG))


@dataclass
class _Checked:
    field: str
    original_name: str
    content: bytes
    kind: Kind


def document_fields(schema: dict) -> list[str]:
    """Names of the schema's properties that hold an uploaded document."""
    return [
        name
        for name, prop in (schema.get("properties") or {}).items()
        if isinstance(prop, dict) and prop.get("format") == "document"
    ]


def accept_uploads(user: User, case: Case, schema: dict, files, data: dict) -> dict:
    """Store the uploaded files of the form's document fields and put their tokens into `data`.
    A field without a new file keeps its current token (read from `<name>__current`) if that is
    a document of this application. Raises InvalidFormData if a file is refused, its values
    holding the tokens of the files that passed (stored in the session). Does not commit."""
    data = dict(data)
    errors: dict[str, list[str]] = {}
    accepted: list[_Checked] = []
    names = document_fields(schema)
    for name in names:
        upload = files.get(name) if files is not None else None
        if upload is not None and upload.filename:
            checked = _check(name, upload, errors)
            if checked is not None:
                accepted.append(checked)
    current = [data[n] for n in names if isinstance(data.get(n), str)]
    known = _of_case(case, current)
    for name in names:
        if name in data and not (isinstance(data[name], str) and data[name] in known):
            del data[name]  # tampered with, or another application's: ignored
    # The files that passed are kept even when another is refused, so the form shown again
    # offers them and the user replaces only the refused one (as a draft keeps them).
    for checked in accepted:
        data[checked.field] = _store(user, case, checked).token
    if errors:
        raise InvalidFormData(errors, data)
    return data


def check_tokens(case: Case, schema: dict, data: dict) -> dict[str, list[str]]:
    """Errors for document fields whose value is not a document of this application."""
    names = [name for name in document_fields(schema) if data.get(name) not in (None, "")]
    known = _of_case(case, [data[n] for n in names if isinstance(data[n], str)])
    return {
        name: [_("This document does not belong to this case.")]
        for name in names
        if not (isinstance(data[name], str) and data[name] in known)
    }


def document_for_download(user: User, token: str) -> tuple[Document, Path]:
    """The document and its file, if the user is its applicant or on the committee; else
    NotFound, which does not tell whether it exists."""
    document = db.session.scalars(select(Document).where(Document.token == token)).first()
    if document is None or not _may_download(user, document):
        raise NotFound("document")
    path = upload_dir() / Path(document.stored_name).name
    if not path.is_file():
        current_app.logger.error("document %s: file %s is missing", document.id, path)
        raise NotFound("document")
    return document, path


def _may_download(user: User, document: Document) -> bool:
    if user.is_committee:
        return True
    case = db.session.get(Case, document.case_id)
    return case is not None and case.applicant_id == user.id


def describe(tokens) -> dict[str, Document]:
    """The documents behind these tokens, by token; unknown tokens are left out."""
    wanted = {t for t in tokens if isinstance(t, str) and t}
    if not wanted:
        return {}
    rows = db.session.scalars(select(Document).where(Document.token.in_(wanted)))
    return {document.token: document for document in rows}


def download_name(document: Document) -> str:
    """The original file name, with the extension of the type it really has."""
    kind = KINDS.get(document.content_type)
    stem, dot, ext = document.original_name.rpartition(".")
    if kind is None or (dot and ext.lower() in kind.extensions):
        return document.original_name
    return f"{stem if dot else document.original_name}.{kind.extensions[0]}"


def upload_dir() -> Path:
    """Where files are kept: config UPLOAD_DIR, else the instance folder; never the web root."""
    configured = current_app.config.get("UPLOAD_DIR")
    path = Path(configured or Path(current_app.instance_path) / "uploads").resolve()
    if current_app.static_folder and path.is_relative_to(Path(current_app.static_folder).resolve()):
        raise RuntimeError("UPLOAD_DIR must not be inside the static folder")
    return path


def _of_case(case: Case, tokens: list[str]) -> set[str]:
    if not tokens:
        return set()
    return set(
        db.session.scalars(
            select(Document.token).where(Document.case_id == case.id, Document.token.in_(tokens))
        )
    )


def _check(name: str, upload, errors: dict[str, list[str]]) -> _Checked | None:
    """The upload's content if it is an acceptable file; otherwise records why not."""
    limit = current_app.config.get("MAX_DOCUMENT_BYTES", 10 * 1024 * 1024)
    content = upload.stream.read(limit + 1)  # never trust the declared length
    if len(content) > limit:
        errors[name] = [_("The file is larger than %(max)s MB.", max=f"{limit / 1048576:g}")]
        return None
    kind = _detect(content)
    if kind is None:
        errors[name] = [_("Only PDF, JPEG or PNG files are accepted.")]
        return None
    if _looks_like_html(content):
        errors[name] = [
            _(
                "This file also contains web page code, so it is not accepted. Please upload a "
                "plain scan or a PDF exported from a word processor."
            )
        ]
        return None
    return _Checked(name, _clean_name(upload.filename, kind), content, kind)


# Markers of an HTML (or SVG) page that could run script if a browser took the file for one. A
# browser decides that from the first bytes only (the MIME Sniffing Standard reads at most
# 1445; Chromium 1024), so a polyglot must put its page there. Further in, the same bytes occur
# by chance in compressed data (about one honest 10 MB scan in a thousand would be refused)
# and make no page of the file. Downloads are also sent as attachments with nosniff and a
# sandbox policy; this check keeps such files out of the archive altogether.
SNIFFED_BYTES = 2048
HTML_MARKERS = re.compile(
    rb"<(?:!doctype|html|head|body|script|iframe|frame|object|embed|svg|img|meta|style|form)"
    rb"[\s/>]",
    re.IGNORECASE,
)


def _looks_like_html(content: bytes) -> bool:
    return HTML_MARKERS.search(content, 0, SNIFFED_BYTES) is not None


def _detect(content: bytes) -> Kind | None:
    """The file's type from its content; None unless it is a well-formed PDF, JPEG or PNG."""
    kind = next((k for magic, k in MAGIC if content.startswith(magic)), None)
    if kind is PDF:
        # A complete PDF ends with %%EOF (readers look for it in the last kilobyte).
        return kind if b"%%EOF" in content[-1024:] else None
    if kind is not None and _image_is_sound(content, kind):
        return kind
    return None


def _image_is_sound(content: bytes, kind: Kind) -> bool:
    try:
        with warnings.catch_warnings():
            # A decompression bomb is refused, not merely warned about.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(content)) as image:
                if image.format != kind.pillow_format:
                    return False
                image.verify()  # PNG: every chunk's checksum, through to IEND
            if kind is JPEG:
                with Image.open(BytesIO(content)) as image:
                    # Decoding at 1/8 scale still reads all the data, so truncation shows,
                    # without holding a full-size bitmap in memory.
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                    image.load()
    except Exception:  # Pillow raises many kinds of error on malformed data
        return False
    return True


def _clean_name(filename: str, kind: Kind) -> str:
    """The user's file name without folders, control or invisible formatting characters, at
    most 255 characters."""
    name = re.split(r"[\\/]", unicodedata.normalize("NFC", filename))[-1]
    # Control characters break headers and logs; format characters such as U+202E (right-to-
    # left override) make "cv\u202efdp.exe" read as "cvexe.pdf"; lone surrogates cannot be
    # stored. Line and paragraph separators are whitespace that ends a line.
    name = "".join(
        " " if unicodedata.category(c) in ("Zl", "Zp") else c
        for c in name
        if unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    )
    name = name.strip().strip(".")
    if not name:
        return f"document.{kind.extensions[0]}"
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) < 10 else name[:255]
    return name


def _store(user: User, case: Case, checked: _Checked) -> Document:
    """Write the file under a fresh random name and add its row to the session."""
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{secrets.token_hex(16)}.{checked.kind.extensions[0]}"
    path = folder / stored_name
    with open(path, "xb") as out:  # exclusive: never overwrite, whatever the odds
        out.write(checked.content)
    _remove_on_rollback(path)
    document = Document(
        token=str(uuid.uuid4()),
        case_id=case.id,
        owner_id=user.id,
        field=checked.field,
        original_name=checked.original_name,
        content_type=checked.kind.content_type,
        size=len(checked.content),
        sha256=hashlib.sha256(checked.content).hexdigest(),
        stored_name=stored_name,
    )
    db.session.add(document)
    return document


def _remove_on_rollback(path: Path) -> None:
    """Delete the file again if the transaction that would record it rolls back."""
    session = db.session()
    pending = session.info.setdefault("uploaded_files", [])
    pending.append(path)
    if not session.info.get("uploaded_files_hooked"):
        session.info["uploaded_files_hooked"] = True
        event.listen(session, "after_commit", _forget_uploads)
        event.listen(session, "after_rollback", _discard_uploads)


def _forget_uploads(session) -> None:
    session.info["uploaded_files"] = []


def _discard_uploads(session) -> None:
    for path in session.info.get("uploaded_files", []):
        path.unlink(missing_ok=True)
    session.info["uploaded_files"] = []


class UploadTooLarge(InvalidFormData):
    """A file over MAX_DOCUMENT_BYTES: refused before its type is even looked at."""

    status = 413


def store_upload(user: User, case: Case, field: str, upload) -> Document:
    """Check one file and keep it as a document of the user's own application, for a later
    submission of `field` to name by its token; the caller has checked that the field is one
    of a form waiting for the user. Raises NotFound, UploadTooLarge or InvalidFormData
    (under the key "file"). Commits."""
    if case.applicant_id != user.id:
        raise NotFound("application")
    errors: dict[str, list[str]] = {}
    limit = current_app.config.get("MAX_DOCUMENT_BYTES", 10 * 1024 * 1024)
    if len(upload.stream.read(limit + 1)) > limit:
        size = f"{limit / 1048576:g}"
        raise UploadTooLarge({"file": [_("The file is larger than %(max)s MB.", max=size)]}, {})
    upload.stream.seek(0)
    checked = _check("file", upload, errors)
    if checked is None:
        raise InvalidFormData(errors, {})
    checked.field = field
    try:
        document = _store(user, case, checked)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return document
