"""Voting rules a diagram applies to the ballots of a council vote: quorum and majority.

Rules are written in the diagram as fractions, so a process owner can require two thirds for
expulsion and more than half for admission without touching Python: "2/3" means at least two
thirds, ">1/2" more than half, ">=2/3" at least two thirds.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

VOTE_CHOICES = ("approve", "reject", "abstain")
_RULE = re.compile(r"^\s*(>=|>)?\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_rule(rule: str, default_op: str) -> tuple[str, Fraction]:
    """A rule string as (comparison, fraction); raises ValueError naming the rule."""
    match = _RULE.match(str(rule))
    if not match or int(match.group(3)) == 0 or int(match.group(2)) > int(match.group(3)):
        raise ValueError(f'voting rule \'{rule}\' is not a fraction like "2/3", ">1/2" or ">=2/3"')
    return match.group(1) or default_op, Fraction(int(match.group(2)), int(match.group(3)))


def _reaches(part: int, whole: int, op: str, fraction: Fraction) -> bool:
    if whole <= 0:
        return False
    share = Fraction(part, whole)
    return share > fraction if op == ">" else share >= fraction


def vote_outcome(
    votes: list[dict[str, Any]] | None,
    eligible: int,
    quorum: str = "2/3",
    majority: str = ">1/2",
) -> dict[str, Any]:
    """The tally of a vote and whether it carried.

    The quorum counts every ballot (abstentions too) against the eligible voters; the majority
    counts approvals against the votes cast, abstentions included, so an abstention never helps
    a motion pass.
    """
    ballots = [b for b in (votes or []) if isinstance(b, dict)]
    counts = {choice: sum(1 for b in ballots if b.get("vote") == choice) for choice in VOTE_CHOICES}
    voted = sum(counts.values())
    quorum_op, quorum_fraction = parse_rule(quorum, ">=")
    majority_op, majority_fraction = parse_rule(majority, ">")
    quorum_met = _reaches(voted, int(eligible), quorum_op, quorum_fraction)
    passed = quorum_met and _reaches(counts["approve"], voted, majority_op, majority_fraction)
    return {
        **counts,
        "voted": voted,
        "eligible": int(eligible),
        "quorum": str(quorum),
        "majority": str(majority),
        "quorum_met": quorum_met,
        "passed": passed,
    }
