"""`flask models …`: process-model commands for automation (validation from the shell)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import make_url

from webapp.services import groups, message_templates, process_models


@click.group("models")
def models() -> None:
    """Process models: validate BPMN files as the editor does."""


@models.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--forms",
    "forms_dir",
    type=click.Path(path_type=Path),
    help="Folder of the forms (default: FORMS_DIR/<file name without .bpmn>, if it exists).",
)
@with_appcontext
def validate(files: tuple[Path, ...], forms_dir: Path | None) -> None:
    """Check each FILE as a deployment would; exit 1 if any is rejected."""
    rejected = 0
    for path in files:
        lines = _problems_of(path, forms_dir)
        click.echo(f"{path}: {'rejected' if lines else 'accepted'}")
        for line in lines:
            click.echo(f"  {line}")
        rejected += bool(lines)
    if rejected:
        raise SystemExit(1)


def _problems_of(path: Path, forms_dir: Path | None) -> list[str]:
    """One line per problem of a file and its forms; none when it may be deployed."""
    try:
        bpmn = path.read_bytes()
    except OSError as err:
        return [f"the file cannot be read: {err.strerror or err}"]
    if forms_dir is None:
        default = Path(current_app.config["FORMS_DIR"]) / path.stem
        forms, lines = _read_forms(default) if default.is_dir() else ({}, [])
    elif not forms_dir.is_dir():
        return [f"the form folder {forms_dir} does not exist"]
    else:
        forms, lines = _read_forms(forms_dir)
    for problem in process_models.validate(bpmn, forms, _lanes()):
        where = " ".join(part for part in (problem.element_id, problem.element_name) if part)
        lines.append(f"{where or '-'}: {problem.message}")
    return lines


def _lanes() -> dict[str, str]:
    """The groups lanes may name: the database's once it is set up; before that (a SQLite file
    not yet made, which a connection would create) those of workflows/groups.json."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return groups.known_lanes(Path(current_app.config["WORKFLOWS_DIR"]) / "groups.json")
    return groups.known_lanes()


def _read_forms(folder: Path) -> tuple[dict[str, object], list[str]]:
    """The JSON files and message templates of a form folder by name, and a line for each
    that cannot be read."""
    forms, lines = {}, []
    for path in sorted(folder.glob("*.json")):
        try:
            forms[path.name] = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            lines.append(f"{path.name}: the form file is not readable JSON: {err}")
    for path in sorted(folder.glob(f"{message_templates.FOLDER}*")):
        name = path.relative_to(folder).as_posix()
        if not message_templates.FILE_NAME.fullmatch(name):
            lines.append(f"{name}: a message is named messages/<name>.<language>.txt")
            continue
        try:
            forms[name] = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            lines.append(f"{name}: the message is not readable UTF-8 text: {err}")
    return forms, lines
