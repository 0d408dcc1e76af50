"""The public objection form (Flask-WTF: CSRF-protected like every other form)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from webapp.formschema import storable


def _stripped(value):
    # Counted as stored: the service strips the text, so blanks must not make up the length.
    return value.strip() if isinstance(value, str) else value


def _storable(_form, field) -> None:
    # e.g. a NUL, which PostgreSQL refuses: a stranger's form gets a field error, not a 500.
    if not storable(field.data):
        raise ValidationError(
            _l("This value contains characters or numbers that cannot be stored.")
        )


class ObjectionForm(FlaskForm):
    reason = TextAreaField(
        _l("Your objection and its grounds"),
        filters=[_stripped],
        validators=[DataRequired(), Length(min=10, max=4000), _storable],
    )
    contact = StringField(
        _l("How the secretariat can reach you (optional, never published)"),
        filters=[_stripped],
        validators=[Optional(), Length(max=200), _storable],
    )
