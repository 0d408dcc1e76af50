"""Errors of the JSON API: `{"error": code, "message": sentence}` with the HTTP status, and
per-field errors for invalid data. The sentences are the ones the pages show."""

from __future__ import annotations

from flask import Response, jsonify, request

from webapp.services.errors import (
    DomainError,
    Forbidden,
    InvalidFormData,
    NoLiveModel,
    NotFound,
    NoticeClosed,
    ProcessError,
    TaskClaimed,
    TaskNotOpen,
)

PREFIX = "/api/"

# The machine-readable code for each kind of domain error.
DOMAIN_CODES: tuple[tuple[type[DomainError], str], ...] = (
    (InvalidFormData, "invalid_data"),
    (TaskNotOpen, "task_not_open"),
    (TaskClaimed, "task_claimed"),
    (Forbidden, "forbidden"),
    (NotFound, "not_found"),
    (NoticeClosed, "notice_closed"),
    (ProcessError, "process_error"),
    (NoLiveModel, "not_set_up"),
)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def wants_json() -> bool:
    """Whether this request is one of the API's, so its errors are answered in JSON."""
    return request.path.startswith(PREFIX)


def error_response(
    status: int, code: str, message: str, fields: dict[str, list[str]] | None = None
) -> Response:
    """The JSON body of an error, with its status."""
    body: dict = {"error": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    response = jsonify(body)
    response.status_code = status
    return response


def domain_code(error: DomainError) -> str:
    """The code of a domain error."""
    for kind, code in DOMAIN_CODES:
        if isinstance(error, kind):
            return code
    return HTTP_CODES.get(error.status, "error")
