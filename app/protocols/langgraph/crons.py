"""``/langgraph`` crons: runs started on a schedule, on a thread or stateless (a new thread each).

A cron is a row of ``langgraph_crons`` (SQLite, or PostgreSQL in the distributed mode) holding
the run body, the schedule (app/protocols/langgraph/schedule.py, UTC) and ``next_run_at``.
Every worker looks for due crons every :data:`POLL_S`; a worker fires a cron's tick only if
it moved ``next_run_at`` on, in one compare-and-set ``UPDATE ... WHERE next_run_at = <the due
time>``: of the workers and hosts that saw the same tick, exactly one wins it, so a tick runs
once. Due times are read against the database's clock (PostgreSQL's ``clock_timestamp()``), one
clock for every host. A tick missed while no worker ran is not caught up: the next one is
scheduled from now. The run is started as the cron's owner, like any run of the API.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from typing import Any

import gevent
from flask import Flask, Response, g, jsonify

from ...auth import OPEN, Principal, current_owner, current_principal
from ...errors import not_found
from ...events import ErrorCode
from ...ownership import check_thread
from .api import _body, bp, service
from .cron_table import RUN_ID_KEY, CronRecord, Crons, when_added
from .inputs import run_request, unprocessable
from .models import CronCreate, CronSearch, RunCreate
from .schedule import ScheduleError, parse
from .service import LangGraphService

log = logging.getLogger(__name__)

POLL_S = 1.0
CRON_NOT_FOUND = "CronNotFound"
# --- the scheduler ---


def start_scheduler(app: Flask, svc: LangGraphService) -> None:
    """Every worker polls for due crons (see the module docstring). In the embedded mode a
    worker starts polling only once the table holds a row (at its start, or when it adds
    one): an idle service touches no SQLite file in the background, where a read can fault
    the worker if the data directory has become unwritable (tests/test_process_faults.py)."""
    crons = Crons(svc.records)

    def start() -> None:
        gevent.spawn(contextvars.copy_context().run, _loop, app, svc, crons)

    if svc.settings.distributed or crons.any():
        start()
    else:
        when_added(start)


def _loop(app: Flask, svc: LangGraphService, crons: Crons) -> None:
    while True:
        gevent.sleep(POLL_S)
        try:
            _tick(app, svc, crons)
        except Exception as exc:  # a store hiccup: the next poll tries again
            log.warning("cron poll failed: %s", exc)


def _tick(app: Flask, svc: LangGraphService, crons: Crons) -> None:
    now = crons.now()
    for cron in crons.due(now):
        if not cron.schedule:  # a run's delayed start (after_seconds)
            if crons.take(cron):
                gevent.spawn(contextvars.copy_context().run, _fire, app, svc, cron)
            continue
        if cron.end_time is not None and now >= cron.end_time:
            crons.delete(cron.cron_id)
            continue
        if crons.claim(cron, parse(cron.schedule).next_after(now), now):
            gevent.spawn(contextvars.copy_context().run, _fire, app, svc, cron)


def _fire(app: Flask, svc: LangGraphService, cron: CronRecord) -> None:
    """Start the cron's run, as its owner would."""
    with app.app_context():
        g.principal = OPEN if cron.owner is None else Principal(user_id=cron.owner)
        try:
            body = RunCreate.model_validate(cron.payload)
            run_id = cron.payload.get(RUN_ID_KEY)
            run, _ = svc.start(
                body, cron.thread_id, background=True, trace_id=uuid.uuid4().hex, delayed_run_id=run_id
            )
            log.info("cron started a run", extra={"cron_id": cron.cron_id, "run_id": run.run_id})
        except Exception as exc:
            log.warning("cron %s could not start its run: %s", cron.cron_id, exc)


# --- routes ---


@bp.post("/threads/<thread_id>/runs/crons")
def create_cron_for_thread(thread_id: str) -> Response:
    service().require_thread(thread_id)
    return jsonify(_create(thread_id))


@bp.post("/runs/crons")
def create_cron() -> Response:
    return jsonify(_create(None))


@bp.post("/runs/crons/search")
def search_crons() -> Response:
    query = _body(CronSearch)
    found = [c for c in _visible() if _matches(c, query)]
    return jsonify([c.to_json() for c in found[query.offset : query.offset + query.limit]])


@bp.post("/runs/crons/count")
def count_crons() -> Response:
    query = _body(CronSearch)
    return jsonify(sum(1 for c in _visible() if _matches(c, query)))


@bp.delete("/runs/crons/<cron_id>")
def delete_cron(cron_id: str) -> tuple[str, int]:
    crons = Crons(service().records)
    cron = crons.get(cron_id)
    if cron is None or not current_principal().can_see(cron.owner):
        raise not_found(CRON_NOT_FOUND, f"No cron {cron_id}.")
    crons.delete(cron_id)
    return "", 204


def _create(thread_id: str | None) -> dict[str, Any]:
    body = _body(CronCreate)
    svc = service()
    try:
        schedule = parse(body.schedule)
    except ScheduleError as exc:
        raise unprocessable(f"schedule: {exc}.") from None
    if body.timezone not in (None, "UTC", "Etc/UTC"):
        raise unprocessable(f"Schedules are read in UTC; timezone {body.timezone} is not supported.")
    payload = body.model_dump(exclude={"schedule", "end_time", "timezone"}, exclude_none=True, mode="json")
    run_body = RunCreate.model_validate(payload)
    if run_body.webhook is not None or run_body.after_seconds is not None:
        raise unprocessable("A cron's runs take neither webhook nor after_seconds.")
    if run_body.assistant_id not in svc.agents.agents:
        raise not_found(ErrorCode.UNKNOWN_AGENT, f"No assistant {run_body.assistant_id}.")
    run_request(run_body, thread_id or "cron-check", "continue", svc.settings)  # 4xx now, not at a tick
    if thread_id is not None:
        check_thread(thread_id)
    crons = Crons(svc.records)
    now = crons.now()
    end = body.end_time.timestamp() if body.end_time else None
    cron = CronRecord(
        str(uuid.uuid4()),
        thread_id,
        run_body.assistant_id,
        body.schedule,
        payload,
        body.metadata or {},
        current_owner(),
        now,
        now,
        schedule.next_after(now),
        end,
    )
    crons.add(cron)
    return cron.to_json()


def _visible() -> list[CronRecord]:
    principal = current_principal()
    return [c for c in Crons(service().records).all() if principal.can_see(c.owner)]


def _matches(cron: CronRecord, query: CronSearch) -> bool:
    return (query.assistant_id is None or cron.assistant_id == query.assistant_id) and (
        query.thread_id is None or cron.thread_id == query.thread_id
    )
