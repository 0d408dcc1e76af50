"""What tests need from outside Python (Chromium, poppler, the BPMN corpus): where it is missing
they are skipped with the reason, except under REQUIRE_ALL=1 (set by .ci/run), where a missing
dependency fails the run: CI must never pass because a test did not run."""

from __future__ import annotations

import os

import pytest

REQUIRE_ALL = os.environ.get("REQUIRE_ALL") == "1"


def needs(available: bool, reason: str) -> pytest.MarkDecorator:
    """A mark that skips the tests when `available` is false, or fails under REQUIRE_ALL=1."""
    if available:
        return pytest.mark.skipif(False, reason=reason)
    if REQUIRE_ALL:
        raise pytest.UsageError(f"REQUIRE_ALL=1 but {reason}")
    return pytest.mark.skip(reason=f"SKIPPED: {reason} — these tests did not run")
