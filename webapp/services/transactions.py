"""One transaction per service call that changes something, so that routes never commit."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from webapp.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


def committed(change: Callable[P, R]) -> Callable[P, R]:
    """The change's writes as one transaction: committed when it returns, rolled back (nothing
    half-written) when it raises."""

    @wraps(change)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = change(*args, **kwargs)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        return result

    return run
