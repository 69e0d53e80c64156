"""Errors a client is told about: a stable code, an HTTP status and a human message.

Raised anywhere below the API (validation, run manager); the API turns them into the
contract's body ``{"success": false, "error": code, "message": message}``.
"""

from __future__ import annotations

from .events import ErrorCode


class ServiceError(Exception):
    def __init__(self, code: str, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def body(self) -> dict[str, object]:
        return {"success": False, "error": self.code, "message": self.message}


def not_found(code: str, message: str) -> ServiceError:
    return ServiceError(code, 404, message)


def bad_request(message: str, code: str = ErrorCode.VALIDATION_ERROR) -> ServiceError:
    return ServiceError(code, 400, message)
