"""The app for `flask` commands run from the repository root without FLASK_APP (Flask looks for
wsgi.py), e.g. `.venv/bin/flask tick`; gunicorn is given `webapp:create_app()` instead."""

from webapp import create_app

app = create_app()
