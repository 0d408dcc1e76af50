"""The functions a diagram's expressions and scripts may call, beyond the sandbox's basics.

They give the process owner's rules the association's calendar, its people and its voting
arithmetic, and the register (acting on the case being moved, in its step's transaction);
each takes and returns plain values.
"""

from __future__ import annotations

from typing import Any

from webapp.engine import know_diagram_functions
from webapp.services import appeals, dues, groups, reapplication, register, voting, workdays


def diagram_functions() -> dict[str, Any]:
    """Name → function, as the engine's sandbox offers them."""
    return {
        **workdays.DIAGRAM_FUNCTIONS,
        **register.DIAGRAM_FUNCTIONS,
        **dues.DIAGRAM_FUNCTIONS,
        **reapplication.DIAGRAM_FUNCTIONS,
        **appeals.DIAGRAM_FUNCTIONS,
        "role_members": groups.members,
        "vote_outcome": voting.vote_outcome,
    }


# Validation checks every call a diagram makes against these (and these only: an engine made
# with other functions, as in tests, does not change what a diagram may call).
know_diagram_functions(diagram_functions())
