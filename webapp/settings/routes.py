"""The user's own settings: personal API tokens, listed, created (the token shown once) and
revoked."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Regexp

from webapp.services import api_tokens

bp = Blueprint("settings", __name__)


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(),
            Length(max=100),
            # Control characters (a NUL above all) have no place in a label, and PostgreSQL
            # refuses a NUL outright.
            Regexp(r"^[^\x00-\x1f\x7f]*$", message=_l("Control characters are not allowed.")),
        ],
    )


@bp.get("/settings/tokens")
@login_required
def tokens():
    """The user's API tokens and a form to create one."""
    return _page(TokenForm())


@bp.post("/settings/tokens")
@login_required
def create_token():
    """Create a token and show it, this once."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form), 400
    token, plain = api_tokens.create(current_user, form.name.data)
    response = _page(TokenForm(formdata=None), created=token, plain=plain)
    # The only time the token is ever shown: no cache may keep a copy of this page.
    return response, 201, {"Cache-Control": "no-store"}


# Ids are 32-bit columns: a larger number is not found by the router rather than overflowing.
@bp.post("/settings/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """End one of the user's tokens; another's is not found."""
    token = api_tokens.revoke(current_user, token_id)
    flash(_("The token “%(name)s” has been revoked.", name=token.name), "success")
    return redirect(url_for("settings.tokens"))


def _page(form: TokenForm, created=None, plain: str | None = None) -> str:
    return render_template(
        "settings/tokens.html",
        form=form,
        tokens=api_tokens.of_user(current_user),
        created=created,
        plain=plain,
    )
