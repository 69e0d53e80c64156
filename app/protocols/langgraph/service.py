"""The Platform API's view of Stagecast: assistants are agents, threads are checkpointer
threads, runs are RunManager runs. Views call this; it never drives an agent itself.

Multitask strategies map onto the busy-thread handling of the run manager (one run per
thread at a time):

- ``reject``: 409 while the thread has a run in progress.
- ``interrupt``/``rollback``: the run in progress is cancelled, and the new one starts once
  it has ended. Rollback keeps the cancelled run's checkpoints (LangGraph Server deletes them).
- ``enqueue`` (the default): the request waits for the run in progress to end, then starts;
  LangGraph Server answers at once with a ``pending`` run instead.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

import gevent
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot

from ...agent.registry import AgentRegistry
from ...agent.threads import read_thread
from ...auth import current_owner
from ...config import Settings
from ...errors import ServiceError, not_found
from ...events import ErrorCode
from ...ownership import check_claimable, check_key, check_run, resolve_thread
from ...runs.manager import CANCEL_DEADLINE_S, RunManager
from ...runs.models import FINISHED_STATES, Run, RunRequest
from ...runs.owners import public_thread_id
from ...transport.streams import Transport
from . import state
from .cron_table import Crons, one_shot
from .inputs import run_request, unprocessable
from .models import RunCreate
from .serialize import iso, jsonable
from .stream import STREAM_MODES
from .threads import LangGraphRecords, RunRecord, ThreadRecord
from .webhooks import check_webhook, deliver_when_done

# Native run states -> the SDKs' RunStatus. A cancelled run is "interrupted" there, and so is
# a run paused by the graph's interrupt() (its thread is then "interrupted" too).
_RUN_STATUS = {
    "pending": "pending",
    "running": "running",
    "success": "success",
    "error": "error",
    "timeout": "timeout",
    "cancelled": "interrupted",
    "interrupted": "interrupted",
    "paused": "interrupted",
}
# The error code of POST /threads for an id in use with if_exists "raise" (the SDKs' 409).
THREAD_EXISTS = "ThreadExists"
# How often a request waiting for a busy thread looks again (the thread's run may be on
# another worker, so there is no log to wait on).
_BUSY_POLL_S = 0.05
_UNSUPPORTED: tuple[str, ...] = ()
# How long past its due time a delayed run may take to be started by some worker's scheduler.
_START_SLACK_S = 30.0


@dataclass(frozen=True)
class LangGraphService:
    settings: Settings
    manager: RunManager
    transport: Transport
    records: LangGraphRecords
    started_at: float

    @property
    def agents(self) -> AgentRegistry:
        return self.manager.agents

    # --- assistants ---

    def assistant(self, assistant_id: str) -> dict[str, Any]:
        agent = self.agents.agents.get(assistant_id)
        if agent is None:
            raise not_found(
                ErrorCode.UNKNOWN_AGENT, f"No assistant {assistant_id}; have {sorted(self.agents.agents)}."
            )
        created = iso(self.started_at)
        return {
            "assistant_id": agent.name,
            "graph_id": agent.name,
            "name": agent.name,
            "description": agent.description or None,
            "config": {},
            "context": {},
            "metadata": {"created_by": "system"},
            "version": 1,
            "created_at": created,
            "updated_at": created,
        }

    def assistants(self) -> list[dict[str, Any]]:
        return [self.assistant(name) for name in sorted(self.agents.agents)]

    # --- threads ---

    def graph_of(self, thread_id: str) -> Pregel:
        """The graph of the agent that ran the thread (the default agent for a new one)."""
        return self.agents.get(self.agent_of(thread_id)).graph

    def agent_of(self, thread_id: str) -> str:
        """The name of the agent that ran the thread (the default agent for a new one)."""
        record = self.records.get_thread(thread_id)
        name = record.assistant_id if record else None
        if name is None:
            written = read_thread(self.agents.checkpointer, thread_id)
            name = written.agent if written else None
        return name if name in self.agents.agents else self.agents.default

    def thread_record(self, thread_id: str) -> ThreadRecord | None:
        """The thread's record; a thread only the native API wrote gets one made from its state."""
        record = self.records.get_thread(thread_id)
        if record is not None:
            return record
        snapshot = state.current(self.graph_of(thread_id), thread_id)
        if snapshot is None:
            return None
        created = _timestamp(snapshot.created_at)
        return ThreadRecord(thread_id, created, created, {})

    def require_thread(self, thread_id: str) -> ThreadRecord:
        """The thread, if it exists and the caller may see it (404 otherwise, as for /api)."""
        check_key(thread_id)
        record = self.thread_record(thread_id)
        if record is None:
            raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No thread {thread_id}.")
        return record

    def create_thread(
        self, thread_id: str | None, metadata: dict[str, Any], if_exists: str
    ) -> dict[str, Any]:
        # A chosen id is the caller's own (app/runs/owners.py): another user's never shows.
        thread_id = resolve_thread(thread_id) if thread_id else str(uuid.uuid4())
        check_claimable(thread_id)
        existing = self.thread_record(thread_id)
        if existing is not None:
            if if_exists == "raise":
                raise ServiceError(THREAD_EXISTS, 409, f"Thread {thread_id} already exists.")
            return self.thread_json(existing)
        now = time.time()
        owner = current_owner()
        if owner is not None:
            self.manager.store.claim_thread(thread_id, owner)
        record = ThreadRecord(thread_id, now, now, metadata)
        self.records.put_thread(record)
        return self.thread_json(record)

    def update_thread(self, thread_id: str, metadata: dict[str, Any]) -> dict[str, Any]:
        """Merge ``metadata`` into the thread's (as LangGraph Server does)."""
        record = self.require_thread(thread_id)
        updated = replace(record, metadata={**record.metadata, **metadata}, updated_at=time.time())
        self.records.put_thread(updated)
        return self.thread_json(updated)

    def delete_thread(self, thread_id: str) -> None:
        self.require_thread(thread_id)
        holder = self.manager.thread_run(thread_id)
        if holder is not None:
            self._stop(thread_id, holder)
        self.agents.checkpointer.delete_thread(thread_id)
        self.records.delete_thread(thread_id)

    def thread_json(self, record: ThreadRecord) -> dict[str, Any]:
        snapshot = state.current(self.graph_of(record.thread_id), record.thread_id)
        interrupts: dict[str, list[dict[str, Any]]] = {}
        if snapshot is not None:
            for task in snapshot.tasks:
                if task.interrupts:
                    interrupts[task.id] = [{"value": jsonable(i.value), "id": i.id} for i in task.interrupts]
        if self.manager.thread_run(record.thread_id) is not None:
            status = "busy"
        elif interrupts or (snapshot is not None and self._at_breakpoint(snapshot)):
            status = "interrupted"
        else:
            status = "idle"
        return {
            "thread_id": public_thread_id(record.thread_id),
            "created_at": iso(record.created_at),
            "updated_at": iso(record.updated_at),
            "metadata": record.metadata,
            "status": status,
            "values": jsonable(snapshot.values) if snapshot is not None else None,
            "interrupts": interrupts,
            "config": {},
            "error": None,
        }

    def _at_breakpoint(self, snapshot: StateSnapshot) -> bool:
        """Whether the run that wrote the checkpoint stopped at an ``interrupt_before`` or
        ``interrupt_after`` (``input: null`` continues it); a cancelled run leaves nodes to run too."""
        run_id = (snapshot.metadata or {}).get(state.RUN_ID_KEY)
        if not snapshot.next or not isinstance(run_id, str):
            return False
        try:
            return self.manager.describe(run_id)["status"] == "paused"
        except ServiceError:
            return False  # a run forgotten since

    # --- runs ---

    def start(
        self,
        body: RunCreate,
        thread_id: str | None,
        *,
        background: bool,
        trace_id: str,
        stream: bool = False,
        delayed_run_id: str | None = None,
    ) -> tuple[Run, RunRecord]:
        """Start ``body`` on ``thread_id`` (a new stateless thread when None); for a ``stream``
        of this request, after the stream slots are checked (a refused stream costs no run). A
        delayed start (``after_seconds``) goes through :meth:`create`, and comes back with
        ``delayed_run_id``."""
        if body.after_seconds and delayed_run_id is None:
            raise unprocessable("after_seconds is for background runs (POST /threads/<id>/runs, /runs).")
        thread_id, stateless, request = self._check(body, thread_id, background)
        self._make_room(thread_id, body.multitask_strategy)
        start = self.transport.start if stream else self.manager.start
        run = start(request, trace_id, owner=current_owner(), run_id=delayed_run_id)
        options = {
            "stream_mode": body.modes,
            "stream_subgraphs": body.stream_subgraphs,
            "stream_resumable": body.stream_resumable,
            "multitask_strategy": body.multitask_strategy,
        }
        record = RunRecord(
            run.run_id, thread_id, body.assistant_id, run.created_at, body.metadata or {}, options
        )
        if not stateless and delayed_run_id is None:
            thread = self.records.get_thread(thread_id) or ThreadRecord(
                thread_id, run.created_at, run.created_at, {}, body.assistant_id
            )
            # As LangGraph Server does: UIs list a graph's threads by this metadata.
            graph = {"graph_id": body.assistant_id, "assistant_id": body.assistant_id}
            self.records.put_thread(replace(thread, metadata={**thread.metadata, **graph}))
            self.records.add_run(record)
        if body.webhook is not None:
            run_id = run.run_id
            deliver_when_done(
                self.manager,
                run_id,
                body.webhook,
                lambda: {**self.run_json(record), "values": self.output(run_id, thread_id)},
                self.settings,
            )
        return run, record

    def _check(
        self, body: RunCreate, thread_id: str | None, background: bool
    ) -> tuple[str, bool, RunRequest]:
        """Every check a start makes: the thread's id, whether it is stateless, the request."""
        refused = [name for name in _UNSUPPORTED if getattr(body, name) is not None]
        if refused:
            raise unprocessable(f"Not supported by this server: {', '.join(refused)}.")
        if body.webhook is not None:
            check_webhook(body.webhook, self.settings)
        unknown = [mode for mode in body.modes if mode not in STREAM_MODES]
        if unknown:
            raise unprocessable(f"Unknown stream_mode: {', '.join(unknown)}.")
        if body.assistant_id not in self.agents.agents:
            raise not_found(
                ErrorCode.UNKNOWN_AGENT,
                f"No assistant {body.assistant_id}; have {sorted(self.agents.agents)}.",
            )
        stateless = thread_id is None
        thread_id = thread_id or str(uuid.uuid4())
        check_claimable(thread_id)
        if not stateless and self.thread_record(thread_id) is None:
            if body.if_not_exists != "create":
                raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No thread {thread_id}.")
            now = time.time()
            self.records.put_thread(ThreadRecord(thread_id, now, now, {}, body.assistant_id))
        on_disconnect = "continue" if background else (body.on_disconnect or "cancel")
        # The public id: the run's start resolves it to this same key (app/runs/owners.py).
        request = run_request(body, public_thread_id(thread_id), on_disconnect, self.settings)
        return thread_id, stateless, request

    def create(self, body: RunCreate, thread_id: str | None, *, trace_id: str) -> tuple[str, RunRecord]:
        """A background run: started now, or with ``after_seconds``, scheduled (its thread id
        and record; a stateless delayed run's thread id is made when it starts)."""
        if not body.after_seconds:
            run, record = self.start(body, thread_id, background=True, trace_id=trace_id)
            return run.thread_id, record
        # Every check a start makes, now: a refusal is an answer, not a lost scheduled run.
        self._check(body, thread_id, True)
        return thread_id or "", self._delay(body, thread_id)

    def _delay(self, body: RunCreate, thread_id: str | None) -> RunRecord:
        """Schedule the run's start in ``after_seconds`` (a one-shot row the cron scheduler
        fires, once, on any worker); its record says ``pending`` until then."""
        if body.webhook is not None:
            raise unprocessable("after_seconds and webhook are not taken together.")
        crons = Crons(self.records)
        now = crons.now()
        run_id = str(uuid.uuid4())
        payload = body.model_dump(exclude={"after_seconds"}, exclude_none=True, mode="json")
        crons.add(
            one_shot(run_id, thread_id, payload, current_owner(), now + float(body.after_seconds or 0), now)
        )
        options = {
            "stream_mode": body.modes,
            "multitask_strategy": body.multitask_strategy,
            "after_seconds": body.after_seconds,
        }
        record = RunRecord(
            run_id, thread_id or "", body.assistant_id, time.time(), body.metadata or {}, options
        )
        if thread_id is not None:
            self.records.add_run(record)
        return record

    def wait_started(self, record: RunRecord) -> None:
        """A delayed run (``after_seconds``): wait until it has started, or 404 past its time."""
        if not record.kwargs.get("after_seconds") or record.kwargs.get("called_off"):
            return
        delay = float(record.kwargs.get("after_seconds") or 0)
        deadline = record.created_at + delay + _START_SLACK_S
        while True:
            try:
                self.manager.describe(record.run_id)
                return
            except ServiceError:
                if time.time() >= deadline:
                    raise
                gevent.sleep(_BUSY_POLL_S * 4)

    def _make_room(self, thread_id: str, strategy: str) -> None:
        holder = self.manager.thread_run(thread_id)
        if holder is None:
            return
        if strategy == "reject":
            raise ServiceError(
                ErrorCode.THREAD_BUSY,
                409,
                f"Thread {thread_id} already has a run in progress ({holder}); multitask_strategy is reject.",
            )
        if strategy in ("interrupt", "rollback"):
            self._stop(thread_id, holder)
        elif not self._ended(thread_id, self.settings.run_timeout_s):
            raise ServiceError(
                ErrorCode.THREAD_BUSY, 409, f"Thread {thread_id} is still busy with run {holder}."
            )

    def _stop(self, thread_id: str, run_id: str) -> None:
        """Cancel the thread's run in progress, wherever it executes, and wait for it to end."""
        self.manager.cancel_by_id(run_id)
        if not self._ended(thread_id, CANCEL_DEADLINE_S * 2):
            raise ServiceError(
                ErrorCode.THREAD_BUSY, 409, f"Thread {thread_id} is still busy with run {run_id}."
            )

    def _ended(self, thread_id: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the thread's run in progress to end (or be ended)."""
        deadline = time.monotonic() + timeout_s
        while self.manager.thread_run(thread_id) is not None:
            if time.monotonic() >= deadline:
                return False
            gevent.sleep(_BUSY_POLL_S)
        return True

    def cancel(self, run_id: str, *, wait: bool) -> bool:
        """Cancel the run wherever it executes (and wait for its end); False if it had ended.
        A delayed run not started yet is called off."""
        record = self.records.get_run(run_id)
        pending = (
            record is not None and record.kwargs.get("after_seconds") and not record.kwargs.get("called_off")
        )
        if record is not None and pending and Crons(self.records).take_id(f"once-{run_id}"):
            self.records.delete_run(run_id)
            self.records.add_run(replace(record, kwargs={**record.kwargs, "called_off": True}))
            return True
        cancelled = bool(self.manager.cancel_by_id(run_id)["cancelled"])
        deadline = time.monotonic() + CANCEL_DEADLINE_S * 2
        while wait and self.manager.describe(run_id)["status"] not in FINISHED_STATES:
            if time.monotonic() >= deadline:
                break
            gevent.sleep(_BUSY_POLL_S)
        return cancelled

    def run_record(self, thread_id: str, run_id: str) -> RunRecord:
        check_key(thread_id)
        check_run(run_id)
        record = self.records.get_run(run_id)
        if record is None or record.thread_id != thread_id:
            raise not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on thread {thread_id}.")
        return record

    def run_json(self, record: RunRecord) -> dict[str, Any]:
        try:
            summary = self.manager.describe(record.run_id)
        except ServiceError:
            if not record.kwargs.get("after_seconds"):
                raise
            # Its delayed start is still to come, or it was called off before it.
            summary = {"status": "cancelled" if record.kwargs.get("called_off") else "pending"}
        updated = summary.get("ended_at") or summary.get("started_at") or record.created_at
        return {
            "run_id": record.run_id,
            "thread_id": public_thread_id(record.thread_id),
            "assistant_id": record.assistant_id,
            "created_at": iso(record.created_at),
            "updated_at": iso(updated),
            "status": _RUN_STATUS.get(summary["status"], summary["status"]),
            "metadata": record.metadata,
            "multitask_strategy": record.kwargs.get("multitask_strategy", "enqueue"),
            "kwargs": record.kwargs,
        }

    def steps_of(self, run_id: str, thread_id: str, agent: str) -> partial[list[state.Step]]:
        return partial(state.run_steps, self.agents.get(agent).graph, thread_id, run_id)

    def output(self, run_id: str, thread_id: str) -> dict[str, Any]:
        """What ``/wait`` and ``/join`` answer once a run ended: the state values, or ``__error__``."""
        summary = self.manager.describe(run_id)
        if summary.get("error") is not None and summary.get("result") is None:
            return {"__error__": summary["error"]}
        steps = state.run_steps(self.agents.get(summary["agent"]).graph, thread_id, run_id)
        if not steps:
            return {}
        last = steps[-1].snapshot
        values = jsonable(last.values)
        if last.interrupts:
            values["__interrupt__"] = state.interrupts_of(last)
        return values


def _timestamp(created_at: str | None) -> float:
    return datetime.fromisoformat(created_at).timestamp() if created_at else time.time()
