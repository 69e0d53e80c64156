"""Turning what went wrong inside a run into the contract's error codes.

Unexpected exceptions are reported as ``InternalError`` with a generic message: their
text stays in the log, under the trace id, and never reaches a client.
"""

from __future__ import annotations

from typing import NamedTuple

import httpx
import openai

from ..events import ErrorCode, RunStatus
from .control import RunControl

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


class UpstreamMisbehaved(httpx.HTTPError):
    """The model server's answer broke the rules (too large, not an event stream); the
    message is Stagecast's own and is shown to the client."""


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
    if isinstance(exc, UpstreamMisbehaved):
        return RunFailure(ErrorCode.UPSTREAM_ERROR, "error", str(exc), True)
    if _raised_in(exc, "openai._streaming") and isinstance(exc, ValueError | KeyError | TypeError):
        # The SDK could not read the event stream (a data line that is not JSON, say).
        return RunFailure(
            ErrorCode.UPSTREAM_ERROR,
            "error",
            "The language model service sent a stream that could not be read.",
            True,
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


def _raised_in(exc: BaseException, module: str) -> bool:
    """Whether ``exc`` was raised while ``module``'s code was running."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == module:
            return True
        tb = tb.tb_next
    return False
