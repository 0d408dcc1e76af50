"""What a long history costs: rounds of "more material" in the shipped admission diagram,
through the engine adapter alone, printing one JSON object.

    .venv/bin/python bench/long_loops.py [--rounds 300]

Each round (review asks for more material, the applicant provides it) leaves its tasks in the
instance's state, one level deeper each. Past round 249 SpiffWorkflow's default task search
no longer reached the open task; the figures show what a step costs as the history grows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.engine import ModelSource, WorkflowEngine  # noqa: E402

FUNCTIONS = {"working_days_later": lambda n, start=None: "2030-01-07T23:59:59+08:00"}


def run(rounds: int) -> dict:
    """Drive one application through `rounds` rounds; figures for every 50 of them."""
    engine = WorkflowEngine(functions=FUNCTIONS)
    source = ModelSource("admission", (ROOT / "workflows" / "admission.bpmn").read_bytes())
    result = engine.start(source, {"applicant_id": 1})
    result = engine.complete(source, result.state, result.ready_tasks[0].id, {"member_type": "x"})
    samples, block = [], []
    for done in range(1, rounds + 1):
        started = time.perf_counter()
        [review] = result.ready_tasks
        result = engine.complete(
            source, result.state, review.id, {"review_decision": "more_material"}, actor=2
        )
        result = engine.complete(source, result.state, result.ready_tasks[0].id, {})
        block.append((time.perf_counter() - started) / 2)
        if done % 50 == 0 or done == rounds:
            samples.append(
                {
                    "round": done,
                    "median_ms_per_step": round(sorted(block)[len(block) // 2] * 1000, 1),
                    "state_kb": len(result.state) // 1024,
                }
            )
            block = []
    works = [t.info.spec_id for t in result.ready_tasks] == ["preliminary_review"]
    return {
        "rounds": rounds,
        "still_waiting_for_review": works and not result.finished,
        "samples": samples,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    print(json.dumps(run(parser.parse_args().rounds)))
