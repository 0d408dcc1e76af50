"""Operations commands for production: deploying without demo accounts, creating staff
accounts, and checking that the database is consistent (after a crash, before an upgrade)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from webapp.engine import InvalidDiagram
from webapp.services import accounts, consistency, process_models


def register(app: Flask) -> None:
    """Add the operations commands to `flask`."""
    app.cli.add_command(check)
    app.cli.add_command(deploy)
    app.cli.add_command(create_user)


@click.command("check")
@with_appcontext
@click.option(
    "--batch-size", type=int, default=200, show_default=True, help="Instances read per query."
)
def check(batch_size: int) -> None:
    """Check the database: states deserialize, task lists agree with the engine, audit rows are
    there and their hash chain whole, member numbers gapless. Exits 1 on any inconsistency."""
    report = consistency.check(batch_size=batch_size)
    for problem in report.problems:
        click.echo(f"PROBLEM {problem}")
    click.echo(
        f"checked {report.instances} instance(s) ({report.running} running), "
        f"{report.tasks} task(s), {report.members} member(s), "
        f"{report.audit_rows} audit row(s): "
        + ("consistent" if report.ok else f"{len(report.problems)} problem(s)")
    )
    # Kept elsewhere, the head hash pins the audit trail down to this moment.
    click.echo(f"audit chain head: {report.audit_head}")
    if not report.ok:
        raise SystemExit(1)


@click.command("deploy")
@with_appcontext
def deploy() -> None:
    """Production set-up: migrate the database and load workflows/; no demo accounts."""
    upgrade()
    load_workflows()


def load_workflows() -> None:
    """Load workflows/ and forms/ as new versions where changed, saying what each became."""
    cfg = current_app.config
    try:
        loaded = process_models.load_directory(cfg["WORKFLOWS_DIR"], cfg["FORMS_DIR"])
    except InvalidDiagram as err:
        for p in err.problems:
            click.echo(f"  {p.element_id} {p.element_name}: {p.message}", err=True)
        raise click.ClickException("a workflow in workflows/ cannot be loaded") from None
    for key, version, created in loaded:
        state = "new" if created else "unchanged"
        click.echo(f"workflow {key}: version {version.number} ({state})")


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="A platform role (process_owner, administrator) or the key of a group the account "
    "sits on, e.g. secretariat (repeat for several).",
)
@click.option("--name", "display_name", required=True, help="Name shown to others.")
@click.option("--email", default="", help="Where notifications are mailed.")
@click.password_option(help="Asked for when not given (prefer the prompt: no shell history).")
def create_user(
    username: str, roles: tuple[str, ...], display_name: str, email: str, password: str
) -> None:
    """Create a staff account: its platform roles and the groups it sits on."""
    try:
        accounts.create(username, display_name, email, password, roles)
    except accounts.AccountError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"created {username} ({', '.join(roles)})")
