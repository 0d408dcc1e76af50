"""Forms of the process owners' pages (Flask-WTF, so every post carries a CSRF token)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, RadioField, SelectChoice, SelectField, StringField
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


class ImportDiagramForm(FlaskForm):
    file = FileField(
        _l("BPMN file"), validators=[FileRequired(message=_l("Please choose a .bpmn file."))]
    )
    # Choices are the models there are, filled in by the view.
    target = SelectField(_l("Open it as"), choices=[], validate_choice=True)
