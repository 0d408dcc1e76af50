"""The start page: the procedures of the catalogue the user may start, and starting one."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from webapp.services import cases, catalogue, tasks
from webapp.services.errors import Forbidden, InvalidFormData

bp = Blueprint("start", __name__)


@bp.get("/start")
@login_required
def index():
    """What the user may start, each with what it needs (a member number when it is about a
    member of the register)."""
    return render_template("start/index.html", procedures=catalogue.startable(current_user))


@bp.post("/start/<key>")
@login_required
def start(key: str):
    """Start a case and open its first step when it is the starter's, else the case's page."""
    member_number = request.form.get("member_number", "")[:40]
    try:
        case = cases.start(current_user, key[:80], member_number or None)
    except InvalidFormData as err:
        return _with_errors(key, err.errors, member_number), 400
    except Forbidden as err:
        if err.reason != "own_case":
            raise
        # Said beside the number typed, where the error page would leave the starter guessing.
        own = _("This is your own membership: nobody starts a case about themselves. Ask a "
                "colleague to start it.")  # fmt: skip
        return _with_errors(key, {"member_number": [own]}, member_number), 403
    first = tasks.first_for(current_user, case)
    if first is not None:
        return redirect(url_for("tasks.show", task_guid=first.task_guid))
    return redirect(url_for("portal.detail", case_id=case.id))


def _with_errors(key: str, errors: dict, member_number: str) -> str:
    return render_template(
        "start/index.html",
        procedures=catalogue.startable(current_user),
        errors={key: errors},
        values={key: {"member_number": member_number}},
    )
