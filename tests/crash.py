"""One crash round: people complete reviews and cast votes over HTTP while the server is
SIGKILLed at a random moment and started again; afterwards every step each client was
answered for is in the database, and nothing is half done.

Shared by tests/test_crash_safety.py (a few rounds) and bench/crash_safety.py (fifty or more).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select

from tests import staged
from tests.servers import Server, run_retrying
from webapp.extensions import db
from webapp.models import HumanTask
from webapp.services import consistency, users


@dataclass
class Round:
    """What one round did and found."""

    steps: int = 0
    strike_after: int = 0  # the completions the killer waited for, drawn from the seed
    answered: dict[int, int] = field(default_factory=dict)  # HTTP status → how many
    killed_after_completions: int = 0
    restart_seconds: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)  # prepare, load, verify
    problems: list[str] = field(default_factory=list)


def prepare(app, traveller, reviews: int, votes: int) -> list[tuple[str, list]]:
    """Open tasks for one round, as each person's plan of posts."""
    with app.test_request_context():
        to_review = staged.submitted(reviews)
        to_vote = staged.in_vote(votes, traveller)
        secretary = [
            (f"/tasks/{staged.open_tasks(a, 'preliminary_review')[0].task_guid}",
             {"review_decision": "pass"})
            for a in to_review
        ]  # fmt: skip
        plans = [("secretary", secretary)]
        for member in staged.COUNCIL:
            voter = users.by_username(member).id
            own = [
                next(t for t in staged.open_tasks(a, "council_vote") if t.assignee_id == voter)
                for a in to_vote
            ]
            plans.append((member, [(f"/tasks/{t.task_guid}", {"vote": "approve"}) for t in own]))
    return plans


def guids_of(plans) -> list[str]:
    return [path.rsplit("/", 1)[1] for _user, steps in plans for path, _data in steps]


def completed_count(app, guids: list[str]) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(HumanTask)
            .where(HumanTask.task_guid.in_(guids), HumanTask.state == "completed")
        )


def run_round(
    app, server: Server, traveller, start, rng: random.Random, reviews=6, votes=2
) -> Round:
    """Prepare (on the caller's clock, from `start`), load, kill the server once at a random
    point of the load, restart it, verify."""
    began = time.monotonic()
    traveller.move_to(start)
    plans = prepare(app, traveller, reviews, votes)
    guids = guids_of(plans)
    found = Round(steps=len(guids))
    found.seconds["prepare"] = time.monotonic() - began

    def crash_midway():
        # Strike after a random number of completions within the first half of the load: a
        # random delay instead would often land after the end once completions are fast.
        wanted = found.strike_after = rng.randint(1, max(1, len(guids) // 2))
        deadline = time.monotonic() + 60
        while completed_count(app, guids) < wanted and time.monotonic() < deadline:
            time.sleep(0.002)
        found.killed_after_completions = completed_count(app, guids)
        server.kill()
        started = time.monotonic()
        server.start()
        found.restart_seconds = time.monotonic() - started

    began = time.monotonic()
    outcomes = run_retrying(server.url, plans, during=crash_midway)
    found.seconds["load"] = time.monotonic() - began
    began = time.monotonic()
    found.problems += verify(app, plans, outcomes, found)
    found.seconds["verify"] = time.monotonic() - began
    return found


def verify(app, plans, outcomes, found: Round) -> list[str]:
    """Every step answered 302, or 409 because the same person's step had committed just before
    the crash cut the answer off; each such step is completed in the database by its person."""
    problems = []
    with app.app_context():
        for (username, steps), answers in zip(plans, outcomes, strict=True):
            for (path, _data), (status, page) in zip(steps, answers, strict=True):
                found.answered[status] = found.answered.get(status, 0) + 1
                guid = path.rsplit("/", 1)[1]
                task = db.session.scalars(
                    select(HumanTask).where(HumanTask.task_guid == guid)
                ).one()
                if task.state != "completed":
                    problems.append(f"{username}'s task {guid} answered {status} is {task.state}")
                elif task.completed_by.username != username:
                    problems.append(f"task {guid} completed by {task.completed_by.username}")
                elif status not in (302, 409):
                    problems.append(f"{username}'s task {guid} answered {status}: {page[:200]}")
        report = consistency.check()
    return problems + [str(p) for p in report.problems]
