"""The garbage collector's settings of the long-running processes: gunicorn's workers take them
from gunicorn.conf.py once the app is loaded, and GC_TUNING=0 keeps CPython's defaults."""

import os
import subprocess
import sys

from webapp.config import ROOT

PROBE = (
    "import gc; from webapp import create_app, collector; create_app(); collector.tune(); "
    "print(gc.get_threshold()[0], gc.get_freeze_count() > 10000)"
)


def _probe(**env) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_a_loaded_app_is_frozen_and_young_collections_are_rarer():
    assert _probe() == ["50000", "True"]


def test_gc_tuning_off_keeps_the_defaults():
    assert _probe(GC_TUNING="0") == ["700", "False"]


def test_gunicorn_started_from_the_root_reads_its_hook():
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--print-config", "webapp:create_app()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    settings = dict(
        (part.strip() for part in line.split("=", 1))
        for line in done.stdout.splitlines()
        if "=" in line
    )
    assert settings["config"] == "./gunicorn.conf.py"
    assert settings["post_worker_init"] == "<post_worker_init()>"
