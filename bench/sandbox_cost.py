"""What evaluating diagram code in the sandbox's helper processes costs, against evaluating it in
this process, measured in the same run. Prints JSON.

Per evaluation: typical expressions of the admission diagram (conditions, a comprehension,
scripts that call diagram functions, the preliminary review's post-script and the vote's set-up;
"plain" says whether it is evaluated here without a helper). Per step: the engine's start and
the two first completions of admission, with the adapter's own state handling. Then the
expressions of the hostile probe against the limits. CPU is this process's plus the helpers'
(from /proc), since the helpers' time is server time too.
The helpers' CPU is read from /proc/PID/sched (se.sum_exec_runtime, Linux).

    .venv/bin/python bench/sandbox_cost.py [--n 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp.engine import ModelSource, SandboxLimits, WorkflowEngine  # noqa: E402
from webapp.engine.sandbox import SandboxEnvironment, SandboxScriptEngine  # noqa: E402
from webapp.engine.sandbox_plain import is_plain  # noqa: E402
from webapp.engine.sandbox_process import IsolatedEnvironment, pool_for  # noqa: E402
from webapp.services.voting import vote_outcome  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ADMISSION = ModelSource("bench", (ROOT / "workflows" / "admission.bpmn").read_bytes())
# The application's functions read the database; fixed answers keep this about the sandbox.
FUNCTIONS = {
    "working_days_later": lambda n, start=None: "2030-01-07T23:59:59+08:00",
    "working_days_before": lambda deadline, n: "2030-01-02T09:00:00+08:00",
    "role_members": lambda role: [11, 12, 13],
    "today": lambda: "2030-01-01",
    "vote_outcome": vote_outcome,
}
DATA = {
    "review_decision": "pass",
    "objection_answers": [{"decision": "dismissed", "answer": "ok"}] * 3,
    "votes": [{"vote": "approve"}] * 3,
    "voters": [11, 12, 13],
    "vote_quorum": "2/3",
    "vote_majority": "1/2",
    "company_name": "示范科技有限公司" * 4,
    "documents": [{"name": f"file{i}.pdf", "size": 1000 * i} for i in range(6)],
    "applicant_id": 7,
    "reviewers": [8],
    "completed_by": 9,
    "review_rounds": 1,
    "settings": {"vote_quorum": "2/3", "vote_majority": "1/2", "vote_working_days": 10},
}
EXPRESSIONS = {
    "plain_condition": ("eval", 'review_decision == "pass"'),
    "comprehension": ("eval", 'any([a["decision"] == "upheld" for a in objection_answers])'),
    "script_calling_a_function": (
        "exec",
        "notice_working_days = 5\nnotice_closes_at = working_days_later(notice_working_days)",
    ),
    "vote_script": (
        "exec",
        "vote_result = vote_outcome(votes, len(voters), quorum=vote_quorum, "
        "majority=vote_majority)",
    ),
    "review_post_script": (
        "exec",
        "reviewers = sorted(set(reviewers + [completed_by]))\nreview_rounds = review_rounds + 1",
    ),
    "vote_setup_script": (
        "exec",
        'vote_quorum = settings["vote_quorum"]\nvote_majority = settings["vote_majority"]\n'
        'vote_working_days = settings["vote_working_days"]\n'
        'voters = [m for m in role_members("council") if m != applicant_id and m not in reviewers]'
        "\nvote_closes_at = working_days_later(vote_working_days)",
    ),
}


def helpers_cpu() -> float:
    """CPU seconds the running helpers of this process have used."""
    total = 0.0
    for pool in list(pool_for.__globals__["_pools"].values()):
        for helper in pool._idle:
            with open(f"/proc/{helper.process.pid}/sched") as sched:
                line = next(x for x in sched if x.startswith("se.sum_exec_runtime"))
            total += float(line.split(":")[1]) / 1e3  # milliseconds, to the nanosecond
    return total


def measure(action, n: int) -> dict:
    """Median wall microseconds of action, and CPU microseconds per call (here + helpers)."""
    for _ in range(10):
        action()
    walls = []
    cpu, helpers = time.process_time(), helpers_cpu()
    for _ in range(n):
        start = time.perf_counter()
        action()
        walls.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu + helpers_cpu() - helpers) / n
    return {"wall_us_median": round(statistics.median(walls) * 1e6), "cpu_us": round(cpu * 1e6)}


def per_evaluation(n: int) -> dict:
    """in_process: the sandbox in this process (as before); isolated: what the engine does now
    (plain code here, the rest in a helper); helper: always the round trip to a helper."""
    local = SandboxEnvironment(FUNCTIONS)
    isolated = IsolatedEnvironment(FUNCTIONS, SandboxLimits())
    figures = {}
    for name, (mode, source) in EXPRESSIONS.items():
        run_local = local.evaluate if mode == "eval" else local.execute
        run_isolated = isolated.evaluate if mode == "eval" else isolated.execute
        figures[name] = {
            "plain": is_plain(source, mode, frozenset(FUNCTIONS)),
            "in_process": measure(lambda f=run_local, s=source: f(s, dict(DATA)), n),
            "isolated": measure(lambda f=run_isolated, s=source: f(s, dict(DATA)), n),
            "helper": measure(
                lambda m=mode, s=source: isolated.pool.run(m, s, (dict(DATA), None), FUNCTIONS),
                n,
            ),
        }
    return figures


def steps(engine: WorkflowEngine) -> None:
    """Start, submit the application, pass the preliminary review (opens the notice)."""
    # The model's settings (the notice period the review opens) come with every start.
    settings = json.loads((ROOT / "forms" / "admission" / "settings.data.json").read_text())
    started = engine.start(ADMISSION, {"applicant_id": 7, "settings": settings})
    submitted = engine.complete(
        ADMISSION, started.state, started.ready_tasks[0].id, {"member_type": "unit"}, actor=7
    )
    review = submitted.ready_tasks[0].id
    engine.complete(ADMISSION, submitted.state, review, {"review_decision": "pass"}, actor=8)


def _count_calls(obj, name: str, counts: dict, key: str) -> None:
    original = getattr(obj, name)

    def counted(*args, **kwargs):
        counts[key] += 1
        return original(*args, **kwargs)

    setattr(obj, name, counted)


def per_step(n: int) -> dict:
    isolated = WorkflowEngine(FUNCTIONS)
    local = WorkflowEngine(FUNCTIONS)
    local._script_engine = SandboxScriptEngine(FUNCTIONS)  # the evaluation of before
    counts = {"evaluations": 0, "sent_to_a_helper": 0}
    probe = WorkflowEngine(FUNCTIONS)
    environment = probe._script_engine.environment
    _count_calls(environment, "evaluate", counts, "evaluations")
    _count_calls(environment, "execute", counts, "evaluations")
    _count_calls(environment.pool, "run", counts, "sent_to_a_helper")
    steps(probe)
    del environment.pool.run  # the pool is shared: back to the class's method
    rows = {
        label: measure(lambda e=engine: steps(e), n)
        for label, engine in (("in_process", local), ("isolated", isolated))
    }
    for row in rows.values():  # three engine calls per round
        row["wall_us_median"] = round(row["wall_us_median"] / 3)
        row["cpu_us"] = round(row["cpu_us"] / 3)
    return {"per_engine_call": rows, "in_3_engine_calls": counts}


HOSTILE = {
    "append_while_mapping": "l = [1]\nx = any(map(l.append, l))",
    "split_inside_sum": "s = 'a ' * 400000\nx = sum(map(len, map(str.split, [s] * 999999)))",
    "integer_from_text": "x = int('1' * 20000, 2)",
    "modular_power": "x = pow(2**9990 - 1, 2**9990 - 1, 2**9990 - 3)",
    "slice_assignment_growth": "l = [1]\nwhile True:\n    l[len(l):] = l",
    "shared_references": "a = [1]\nfor i in range(45):\n    a = [a, a]",
}


def _peak_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next(x for x in status if x.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0.0
    return int(line.split()[1]) / 1024


def hostile() -> dict:
    """Each expression of the hostile probe: how long it held this process, the helper's peak
    memory (sampled every 10 ms from /proc) and what it was told."""
    env = IsolatedEnvironment(FUNCTIONS, SandboxLimits())
    env.execute("warm = len(str(1))", {})
    figures = {}
    for name, source in HOSTILE.items():
        pid = env.pool._idle[-1].process.pid  # the helper the next run takes
        peak, done = [0.0], threading.Event()

        def watch(pid=pid, peak=peak, done=done):
            while not done.wait(0.01):
                peak[0] = max(peak[0], _peak_mb(pid))

        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.perf_counter()
        try:
            env.execute(source, {})
            said = "no error"
        except Exception as err:
            said = str(err)
        took = time.perf_counter() - started
        done.set()
        watcher.join()
        figures[name] = {"seconds": round(took, 2), "helper_peak_mb": round(peak[0]), "said": said}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    figures = {"n": args.n, "per_evaluation": per_evaluation(args.n)}
    figures["per_step"] = per_step(max(args.n // 5, 20))
    started = time.perf_counter()
    helper = IsolatedEnvironment(FUNCTIONS, SandboxLimits(megabytes=128))
    helper.pool.close()
    helper.execute("x = str(1)", {})  # not plain: it starts a helper
    figures["helper_start_ms"] = round((time.perf_counter() - started) * 1e3)
    figures["hostile"] = hostile()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
