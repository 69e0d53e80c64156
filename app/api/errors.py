"""Every error answer is the contract's JSON body; nothing leaks a stack trace or HTML."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from ..errors import ServiceError
from ..events import ErrorCode
from ..runs.backends import StoreUnavailableError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    408: ErrorCode.REQUEST_TIMEOUT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


def error_response(error: ServiceError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _http_error(exc: HTTPException) -> Response:
    code = _HTTP_CODES.get(
        exc.code or 500, ErrorCode.BAD_REQUEST if (exc.code or 500) < 500 else ErrorCode.INTERNAL_ERROR
    )
    response = error_response(ServiceError(code, exc.code or 500, exc.description or exc.name))
    allowed = getattr(exc, "valid_methods", None)  # set on MethodNotAllowed only
    if exc.code == 405 and allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response


def _unexpected(exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return error_response(
        ServiceError(ErrorCode.INTERNAL_ERROR, 500, "Something went wrong; see the server log.")
    )


def _store_unavailable(exc: StoreUnavailableError) -> Response:
    log.warning("shared store unavailable: %s", exc)
    return error_response(
        ServiceError(
            ErrorCode.STORE_UNAVAILABLE, 503, "The run store is unavailable; retry shortly.", retry_after=2
        )
    )


def init_app(app: Flask | Blueprint) -> None:
    """Answer errors in JSON: every error of ``app``, or the errors of a blueprint's routes."""
    app.register_error_handler(ServiceError, error_response)
    app.register_error_handler(StoreUnavailableError, _store_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
