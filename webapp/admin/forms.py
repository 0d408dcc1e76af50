"""Forms of the process owners' pages (Flask-WTF, so every post carries a CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length

from webapp.services.workdays import NOTE_MAX


class CalendarDayForm(FlaskForm):
    day = DateField(
        _l("Date"), validators=[InputRequired(message=_l("Please enter a date (YYYY-MM-DD)."))]
    )
    kind = RadioField(
        _l("This day is"),
        choices=[
            SelectChoice("holiday", _l("a holiday (no work)")),
            SelectChoice("workday", _l("a make-up working day")),
        ],
        validators=[InputRequired(message=_l("Please choose one of the options."))],
    )
    note = StringField(
        _l("Note"),
        validators=[Length(max=NOTE_MAX)],
        description=_l("For example: Spring Festival, or the make-up day for National Day."),
    )
