"""Flask commands: set-up, loading workflows, demo users, the ticker."""

from __future__ import annotations

import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade

from webapp import cli_models, cli_operations, collector
from webapp.services import (
    demo_cases,
    demo_clock,
    login_sessions,
    mailer,
    scheduled_starts,
    timers,
    users,
)


def register(app: Flask) -> None:
    """Add the commands to `flask`."""
    app.cli.add_command(setup)
    app.cli.add_command(load_workflows)
    app.cli.add_command(demo)
    app.cli.add_command(tick)
    app.cli.add_command(send_mail)
    app.cli.add_command(cli_models.models)
    cli_operations.register(app)


@click.command("setup")
@with_appcontext
def setup() -> None:
    """Upgrade the database, load workflows/ and create the demo users."""
    upgrade()
    cli_operations.load_workflows()
    for username, password, roles in users.ensure_demo_users():
        click.echo(f"demo login: {username:<11} password: {password}  role: {roles}")
    if current_app.config.get("DEMO_MODE"):
        click.echo(f"demo cases: {demo_cases.seed()} seeded (demo/cases/)")


@click.command("load-workflows")
@with_appcontext
def load_workflows() -> None:
    """Load workflows/ and forms/ as new versions where their content changed."""
    cli_operations.load_workflows()


@click.group("demo", invoke_without_command=True)
@click.pass_context
@with_appcontext
def demo(ctx: click.Context) -> None:
    """Create the demo users of every role; `flask demo advance 5d` moves demo time on."""
    if ctx.invoked_subcommand is not None:
        return
    for username, password, roles in users.ensure_demo_users():
        click.echo(f"demo login: {username:<11} password: {password}  role: {roles}")


@demo.command("advance")
@click.argument("period")
@with_appcontext
def demo_advance(period: str) -> None:
    """Move demo time on by PERIOD (5d, 12h, 30m): every running case's timers and due dates
    come that much closer, and the ticker's step fires what fell due. Demo mode only."""
    try:
        by = demo_clock.parse_period(period)
    except ValueError:
        raise click.BadParameter("a number of days, hours or minutes: 5d, 12h, 30m") from None
    try:
        fired = demo_clock.advance(by)
    except demo_clock.DemoTimeRefused as refusal:
        raise click.ClickException(str(refusal)) from None
    click.echo(f"moved on by {period}: fired {fired} timer(s)")


@click.command("tick")
@with_appcontext
@click.option("--interval", type=float, default=0, help="Repeat every N seconds (0: once).")
def tick(interval: float) -> None:
    """Start the cases of due timer start events, fire due BPMN timers, then mail the pending
    notifications; forget old logins.

    SIGTERM or SIGINT (systemd stopping the unit, Ctrl-C) ends the ticker after the case it is
    starting or the instance it is firing has committed, with its counts printed: a stop never
    cuts a step in half.
    """
    if interval:
        collector.tune()  # a long-running process from here on
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if interval:
        click.echo(f"ticker started, every {interval:g} s")
    while not stop.is_set():
        started = scheduled_starts.start_due(stopping=stop.is_set)
        if started or not interval:
            click.echo(f"started {started} case(s)")
        fired = 0 if stop.is_set() else timers.fire_due(stopping=stop.is_set)
        if fired or not interval:
            click.echo(f"fired {fired} timer(s)")
        if stop.is_set():
            break
        _send_mail(quiet=bool(interval))
        login_sessions.purge()
        if not interval:
            return
        stop.wait(interval)
    click.echo("ticker stopped")


@click.command("send-mail")
@with_appcontext
def send_mail() -> None:
    """Mail the pending notifications now."""
    _send_mail(quiet=False)


def _send_mail(quiet: bool) -> None:
    if not current_app.config.get("MAIL_SERVER"):
        if not quiet:
            click.echo("MAIL_SERVER is not set: messages are kept for the in-app list only")
        return
    sent, failed = mailer.send_pending()
    if sent or failed or not quiet:
        click.echo(f"sent {sent} message(s), {failed} failed")
