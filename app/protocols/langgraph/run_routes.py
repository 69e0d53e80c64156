"""``/langgraph`` runs beyond one thread's stream, wait and join: a stateless background run
(``POST /runs``), several runs at once (``POST /runs/batch``), and deleting a run's record.

Routes of the same blueprint as app/protocols/langgraph/api.py; a run is started by
:meth:`LangGraphService.start`, as every other run of the API.
"""

from __future__ import annotations

from flask import Response, jsonify, request
from pydantic import TypeAdapter, ValidationError

from ...errors import ServiceError
from ...events import ErrorCode
from ...ownership import visible_thread
from ...runs.models import FINISHED_STATES
from ...tracing import current_trace_id
from .api import _body, bp, service
from .inputs import unprocessable
from .models import BatchRunCreate, RunCreate, RunsCancel

_BATCH = TypeAdapter(list[BatchRunCreate])
_MAX_BATCH = 100


@bp.post("/runs")
def create_stateless() -> Response:
    """A background run on a thread of its own (not kept in the thread list)."""
    svc = service()
    _, record = svc.create(_body(RunCreate), None, trace_id=current_trace_id())
    response = jsonify(svc.run_json(record))
    response.headers["Content-Location"] = f"/runs/{record.run_id}"
    return response


@bp.post("/runs/batch")
def create_batch() -> Response:
    """Start each run (in the background), in order; the first refused one stops the batch."""
    data = request.get_json(silent=True)
    try:
        bodies = _BATCH.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise unprocessable(f"Send a JSON array of run bodies: {problems}.") from None
    if not 1 <= len(bodies) <= _MAX_BATCH:
        raise unprocessable(f"A batch holds 1 to {_MAX_BATCH} runs.")
    svc = service()
    started = []
    for body in bodies:
        _, record = svc.create(body, body.thread_id, trace_id=current_trace_id())
        started.append(svc.run_json(record))
    return jsonify(started)


@bp.delete("/threads/<thread_id>/runs/<run_id>")
def delete_run(thread_id: str, run_id: str) -> tuple[str, int]:
    """Forget a run that has ended (its checkpoints stay in the thread); 409 while it runs."""
    svc = service()
    svc.run_record(thread_id, run_id)
    try:
        running = svc.manager.describe(run_id)["status"] not in FINISHED_STATES
    except ServiceError:
        running = False  # the run store forgot it; the record is all there is
    if running:
        raise ServiceError(ErrorCode.THREAD_BUSY, 409, f"Run {run_id} is in progress; cancel it first.")
    svc.records.delete_run(run_id)
    return "", 204


@bp.post("/runs/cancel")
def cancel_many() -> tuple[str, int]:
    """Cancel ``run_ids`` of ``thread_id``, or the caller's runs in ``status`` (pending or
    running; ``all``: both), on the threads the caller may see."""
    body = _body(RunsCancel)
    svc = service()
    if body.run_ids is not None:
        if body.thread_id is None:
            raise unprocessable("run_ids need their thread_id.")
        records = [svc.run_record(body.thread_id, run_id) for run_id in body.run_ids]
    elif body.status is not None:
        wanted = {"pending", "running"} if body.status == "all" else {body.status}
        threads = [body.thread_id] if body.thread_id else [t.thread_id for t in svc.records.threads()]
        records = [
            record
            for thread_id in threads
            if visible_thread(thread_id)
            for record in svc.records.runs_of(thread_id)
            if svc.run_json(record)["status"] in wanted
        ]
    else:
        raise unprocessable("Name run_ids (with thread_id), or a status.")
    for record in records:
        svc.cancel(record.run_id, wait=False)
    return "", 204
