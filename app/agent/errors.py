"""Turning what went wrong inside a run into the contract's error codes.

Unexpected exceptions are reported as ``InternalError`` with a generic message: their
text stays in the log, under the trace id, and never reaches a client.
"""

from __future__ import annotations

from typing import NamedTuple

import httpx
import openai

from app.agent.control import RunControl
from app.events import ErrorCode, RunStatus

CANCEL_REASONS: dict[str, tuple[str, RunStatus, str]] = {
    "cancelled": (ErrorCode.CANCELLED, "cancelled", "The run was cancelled."),
    "disconnected": (
        ErrorCode.CANCELLED,
        "cancelled",
        "The run was cancelled: every client left and none came back in time.",
    ),
    "superseded": (
        ErrorCode.CANCELLED,
        "cancelled",
        "The run was cancelled: a newer run started on its thread.",
    ),
    "timeout": (ErrorCode.TIMEOUT, "timeout", "The run took longer than the time allowed."),
    "shutdown": (
        ErrorCode.INTERRUPTED,
        "error",
        "The run was interrupted: the server shut down before it finished.",
    ),
}


class RunFailure(NamedTuple):
    code: str
    status: RunStatus
    message: str
    expected: bool  # False: a bug or an unknown failure, logged with its traceback


def cancellation(reason: str) -> RunFailure:
    code, status, message = CANCEL_REASONS.get(reason, CANCEL_REASONS["cancelled"])
    return RunFailure(code, status, message, True)


def classify(exc: BaseException, control: RunControl) -> RunFailure:
    """The code, final status and client-safe message for ``exc`` raised by a run."""
    if control.reason is not None:
        # Whatever the node raised after a cancel (often a read on a closed socket) is its echo.
        return cancellation(control.reason)
    if isinstance(exc, openai.RateLimitError):
        return RunFailure(
            ErrorCode.RATE_LIMITED, "error", "The language model service is rate limiting requests.", True
        )
    if isinstance(exc, openai.APIStatusError):
        return RunFailure(
            ErrorCode.UPSTREAM_ERROR,
            "error",
            f"The language model service answered with status {exc.status_code}.",
            True,
        )
    if isinstance(exc, openai.APITimeoutError):
        return RunFailure(
            ErrorCode.UPSTREAM_ERROR, "error", "The language model service did not answer in time.", True
        )
    if isinstance(exc, openai.APIConnectionError | openai.APIResponseValidationError | httpx.HTTPError):
        return RunFailure(
            ErrorCode.UPSTREAM_ERROR,
            "error",
            "The connection to the language model service failed.",
            True,
        )
    return RunFailure(
        ErrorCode.INTERNAL_ERROR, "error", "The agent failed unexpectedly; see the server log.", False
    )
