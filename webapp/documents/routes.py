"""Download an uploaded document, always as an attachment; and the template helper that names
a document by its token."""

from __future__ import annotations

from flask import Blueprint, g, send_file
from flask_login import current_user, login_required

from webapp.models import Document
from webapp.services import documents

bp = Blueprint("documents", __name__)


@bp.get("/documents/<token>")
@login_required
def download(token: str):
    """The file, to the applicant of its application or a committee member; 404 to others."""
    document, path = documents.document_for_download(current_user, token)
    response = send_file(
        path,
        mimetype=document.content_type,
        as_attachment=True,
        download_name=documents.download_name(document),
        conditional=False,
        etag=False,
    )
    # The browser must neither guess another type nor keep a copy of someone's papers; and
    # should one display the file rather than save it, it is a sandboxed document of no
    # origin that may load and run nothing.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.app_template_global()
def document_info(token) -> Document | None:
    """The document behind a token (file name, size, type) for pages; None if unknown."""
    if not isinstance(token, str) or not token:
        return None
    cache = g.setdefault("document_info", {})
    if token not in cache:
        cache.update(documents.describe([token]))
        cache.setdefault(token, None)
    return cache[token]
