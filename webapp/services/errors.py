"""Errors a user can cause, mapped to HTTP statuses and translated messages in one place."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """Base of the errors shown to users; `status` is the HTTP status to answer with."""

    status = 400


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403

    def __init__(self, reason: str = "not_your_lane"):
        super().__init__(reason)
        self.reason = reason  # not_your_lane | own_application | not_committee | not_claimable


class TaskNotOpen(DomainError):
    """Someone else (or an earlier click) already moved this task on."""

    status = 409

    def __init__(self, state: str, by: str | None = None, at: datetime | None = None):
        super().__init__(state)
        self.state, self.by, self.at = state, by, at


class InvalidFormData(DomainError):
    status = 400

    def __init__(self, errors: dict[str, list[str]], values: dict):
        super().__init__("invalid form data")
        self.errors, self.values = errors, values


class ProcessError(DomainError):
    """The diagram failed at run time; nothing was changed.

    `template` and `params`: the detail as a sentence of ours to translate (see Problem), when
    the engine said it in its own words rather than passing on SpiffWorkflow's.
    """

    status = 422

    def __init__(self, detail: str, template: str | None = None, params: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        # A message the engine marked for translation (a limit reached), with its values.
        self.template, self.params = template, params or {}

    @classmethod
    def of(cls, err: Exception) -> ProcessError:
        """The error of an engine step, keeping a translatable message where it has one."""
        return cls(str(err), getattr(err, "template", None), getattr(err, "params", None))


class NoLiveModel(DomainError):
    status = 503


class NoticeClosed(DomainError):
    """An objection to an application that is not (or no longer) on public notice."""

    status = 409

    def __init__(self, closed_at: datetime | None = None):
        super().__init__("notice closed")
        self.closed_at = closed_at


class TaskClaimed(DomainError):
    """Another member of the lane has claimed the task: the others leave it to them."""

    status = 409

    def __init__(self, by: str, at: datetime | None = None):
        super().__init__(by)
        self.by, self.at = by, at
