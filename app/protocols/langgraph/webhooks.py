"""A run's ``webhook``: when the run ends, POST its final state to the URL (LangGraph Server's
shape: the run object with ``values`` and ``webhook_sent_at``).

Guarded and bounded (docs/langgraph-api.md, "Webhooks"):

- only ``http`` and ``https`` URLs, to a host named in ``STAGECAST_WEBHOOK_HOSTS`` (empty, the
  default, refuses every webhook); checked before the run starts, 422 otherwise;
- redirects are not followed; each attempt has :data:`TIMEOUT_S`; a connection error, a
  timeout, a 429 or a 5xx is tried again, up to :data:`ATTEMPTS` times, waiting
  :data:`BACKOFF_S` doubled each time; any other answer ends the delivery;
- the worker that started the run delivers it, once the run has ended wherever it executed;
  if that worker stops first, the webhook is not sent.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import gevent

from ...config import Settings
from ...runs.manager import RunManager
from .inputs import unprocessable

log = logging.getLogger(__name__)

ATTEMPTS = 4
BACKOFF_S = 0.5
TIMEOUT_S = 10.0
MAX_URL_CHARS = 2048
# How long the deliverer waits for the run's end, beyond the run timeout.
_END_SLACK_S = 60.0


def check_webhook(url: str, settings: Settings) -> None:
    """422 unless ``url`` is an http(s) URL to an allowed host."""
    if not settings.webhook_hosts:
        raise unprocessable("Not supported by this server: webhook (STAGECAST_WEBHOOK_HOSTS is empty).")
    if len(url) > MAX_URL_CHARS:
        raise unprocessable(f"webhook is longer than {MAX_URL_CHARS} characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise unprocessable("webhook is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise unprocessable("webhook must be an http or https URL.")
    if host.lower() not in {allowed.lower() for allowed in settings.webhook_hosts}:
        raise unprocessable(f"webhook host {host} is not in STAGECAST_WEBHOOK_HOSTS.")


def deliver_when_done(
    manager: RunManager, run_id: str, url: str, payload: Callable[[], dict[str, Any]], settings: Settings
) -> None:
    """In the background: wait for the run's end, then POST ``payload()`` to ``url``."""
    context = contextvars.copy_context()
    gevent.spawn(context.run, _deliver, manager, run_id, url, payload, settings)


def _deliver(
    manager: RunManager, run_id: str, url: str, payload: Callable[[], dict[str, Any]], settings: Settings
) -> None:
    try:
        _wait_for_end(manager, run_id, settings.run_timeout_s + _END_SLACK_S, settings.heartbeat_s)
        body = {**payload(), "webhook_sent_at": datetime.now(UTC).isoformat()}
        post(url, body)
    except Exception as exc:  # a background delivery: logged, never raised into the hub
        log.warning("webhook not delivered: %s", exc, extra={"run_id": run_id})


def _wait_for_end(manager: RunManager, run_id: str, budget_s: float, poll_s: float) -> None:
    log_, _ = manager.open_log(run_id)
    waited = 0.0
    while not log_.closed and not log_.failed and waited < budget_s:
        log_.read(log_.last_seq, poll_s)
        waited += poll_s


def post(url: str, body: dict[str, Any]) -> int | None:
    """POST ``body`` with retries; the last status, or None if no answer ever came."""
    import httpx  # in the worker only, after gevent patched (docs/architecture.md, trap 6)

    from .serialize import dumps

    status: int | None = None
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
        for attempt in range(ATTEMPTS):
            if attempt:
                gevent.sleep(BACKOFF_S * 2 ** (attempt - 1))
            try:
                answer = client.post(url, content=dumps(body), headers={"Content-Type": "application/json"})
            except httpx.HTTPError as exc:
                log.info("webhook attempt %d failed: %s", attempt + 1, exc)
                continue
            status = answer.status_code
            if status != 429 and status < 500:
                return status
    return status
