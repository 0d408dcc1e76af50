"""The public objection form (Flask-WTF: CSRF-protected like every other form)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class ObjectionForm(FlaskForm):
    reason = TextAreaField(
        _l("Your objection and its grounds"), validators=[DataRequired(), Length(min=10, max=4000)]
    )
    contact = StringField(
        _l("How the secretariat can reach you (optional, never published)"),
        validators=[Optional(), Length(max=200)],
    )
