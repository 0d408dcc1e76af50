"""A user task's `submissionCheck`: a diagram function run on the submitted form before the task
completes, under the case's lock. The property is a call of the function with field names,
e.g. `identity_may_apply(credit_code, id_number)`: the function gets those fields' values and
returns '' to let the submission through or a sentence saying why not, which the form shows
beside the first of those fields that holds a value — and nothing is changed."""

from __future__ import annotations

import re

from webapp.models import HumanTask
from webapp.services.diagram_functions import diagram_functions
from webapp.services.workflow import task_property

PROPERTY = "submissionCheck"
_CALL = re.compile(
    r"^\s*([A-Za-z_]\w*)\s*\(\s*((?:[A-Za-z_]\w*\s*,\s*)*[A-Za-z_]\w*)?\s*,?\s*\)\s*$"
)


def parse(source: str) -> tuple[str, list[str]]:
    """The function's name and the fields it is given; ValueError when it is no such call."""
    match = _CALL.match(source or "")
    if not match or match.group(1) not in diagram_functions():
        raise ValueError(f"submissionCheck must call a diagram function with field names: {source}")
    fields = [f.strip() for f in (match.group(2) or "").split(",") if f.strip()]
    return match.group(1), fields


def problems(task: HumanTask, version_id: int, data: dict) -> dict[str, list[str]]:
    """The check's refusal as form errors ({} when the task has no check or it passes)."""
    source = task_property(task, PROPERTY, version_id)
    if not source:
        return {}
    name, fields = parse(source)
    message = diagram_functions()[name](*[data.get(field) for field in fields])
    if not message:
        return {}
    field = next((f for f in fields if data.get(f)), fields[0] if fields else "")
    return {field: [str(message)]}
