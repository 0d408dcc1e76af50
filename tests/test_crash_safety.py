"""The server is SIGKILLed at random points while people complete reviews and cast votes, and
started again: no answered step is lost, none is half done, and `flask check` finds the
database consistent."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import time_machine

from tests.crash import run_round
from tests.procedure import SHANGHAI
from tests.servers import PUBLIC_BASE_URL, SECRET_KEY, Server

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3


@pytest.fixture
def server(app, database_url, tmp_path):
    with Server(database_url, tmp_path, workers=2) as running:
        yield running


def crash_seed() -> int:
    """CRASH_SEED from the environment to replay a run, else a fresh one."""
    chosen = os.environ.get("CRASH_SEED", "").strip()
    return int(chosen) if chosen else random.SystemRandom().randrange(2**32)


def test_killing_the_server_under_load_loses_no_step(app, database_url, server):
    seed = crash_seed()
    # Shown with the failure (pytest prints a failing test's output): rerun with it to replay
    # where the killer strikes.
    print(f"crash test seed: CRASH_SEED={seed}")
    rng = random.Random(seed)
    # The server reads the real clock: the cases start from it, so no deadline is already past.
    start = datetime.now(SHANGHAI)
    with time_machine.travel(start, tick=False) as traveller:
        rounds = [run_round(app, server, traveller, start, rng) for _ in range(ROUNDS)]
    print("strikes after completions:", [r.strike_after for r in rounds])
    assert server.starts == ROUNDS + 1
    replay = f"replay with CRASH_SEED={seed}"
    for found in rounds:
        assert found.problems == [], (replay, found)
        assert set(found.answered) <= {302, 409}, (replay, found)
    # The killer struck while the load was under way, not before or after it.
    assert any(0 < r.killed_after_completions < r.steps for r in rounds), (replay, rounds)

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }
    check = subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "webapp:create_app", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, (replay, check.stdout + check.stderr)
    assert "consistent" in check.stdout
