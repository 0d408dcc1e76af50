"""My messages: the notifications addressed to the logged-in user, newest first."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from webapp.services import notify

bp = Blueprint("messages", __name__)


@bp.get("/messages", endpoint="index")
@login_required
def index():
    """The current user's own messages: subject, date and text."""
    messages = notify.messages_for(current_user.id)
    unread = {m.id for m in messages if m.read_at is None}  # marked on the page, then read
    notify.mark_read(current_user.id)
    return render_template("messages/index.html", messages=messages, unread=unread)
