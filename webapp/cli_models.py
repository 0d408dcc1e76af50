"""`flask models …`: process-model commands for automation (validation from the shell)."""

from __future__ import annotations

import click


@click.group("models")
def models() -> None:
    """Process models: validate BPMN files as the editor does."""
