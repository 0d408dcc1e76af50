"""Login and registration forms (Flask-WTF, so every post carries a CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Regexp, ValidationError

from webapp.services import passwords
from webapp.text import visible

PASSWORD_PROBLEMS = {
    "too_short": lambda: _l(
        "Please choose a password of at least %(n)d characters.", n=passwords.MIN_LENGTH
    ),
    "common": lambda: _l(
        "This password is too common or too easy to guess (like 12345678, or made of your "
        "name). Please choose another one, e.g. a few unrelated words."
    ),
}


def _visible(value):
    return visible(value) if isinstance(value, str) else value


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class RegisterForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(),
            Length(min=3, max=40),
            Regexp(
                r"^[A-Za-z0-9_.-]+$", message=_l("Letters, digits, dot, dash and underscore only.")
            ),
        ],
    )
    display_name = StringField(
        _l("Name (person or organisation)"),
        # Without control and bidi characters: U+202E would make the name read backwards.
        filters=[_visible],
        validators=[DataRequired(), Length(min=2, max=120)],
    )
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))],
    )

    def validate_password(self, field) -> None:
        """Refuse short and common passwords, and ones made of what else was typed."""
        related = (self.username.data or "", self.display_name.data or "", self.email.data or "")
        reason = passwords.weakness(field.data or "", *related)
        if reason is not None:
            raise ValidationError(str(PASSWORD_PROBLEMS[reason]()))
