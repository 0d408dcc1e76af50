"""The garbage collector's settings for the long-running processes (gunicorn workers, the ticker).

Such a process holds a few hundred thousand long-lived objects from start-up (parsed diagrams,
SQLAlchemy's mappers, templates), and CPython's full collections walk all of them again and
again while each request or step allocates and frees its own. Frozen once the app is loaded,
they are no longer walked; and young collections run every 50,000 allocations instead of every
700, which a step's short-lived objects rarely reach. Reference counting still frees everything
at once: the collector is only for cycles. GC_TUNING=0 keeps CPython's defaults (to measure the
difference: `GC_TUNING=0 .venv/bin/python bench/completion.py`).
"""

from __future__ import annotations

import gc
import os


def tune() -> None:
    """Call once the app is loaded, in the process that will serve or tick."""
    if os.environ.get("GC_TUNING", "1") == "0":
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
