"""RunManager: starts runs in their own greenlets and keeps them apart from connections.

A run's producer greenlet drives the agent and appends events to the run's log; HTTP
streams only subscribe (DESIGN.md, trap 4). When the last subscriber leaves, the run waits
``disconnect_grace_s`` for a rejoin, then cancels itself, unless it was started with
``on_disconnect: "continue"``.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent

from app import metrics
from app.agent.errors import RunFailure, cancellation, classify
from app.agent.registry import AgentRegistry, UnknownAgentError
from app.config import Settings
from app.errors import ServiceError, not_found
from app.events import ErrorCode, Event, EventFactory, RunStatus
from app.logs import bind_log_context
from app.runs.admission import Admission
from app.runs.log import MemoryEventLog
from app.runs.models import Run, RunRequest
from app.runs.store import RunStore, StoredRun

log = logging.getLogger(__name__)

class RunFinishingElsewhere(ServiceError):
    """The run lives in a worker that is shutting down (a HUP reload or SIGTERM): a client
    should come back shortly, when the run's events are on disk for any worker to replay."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(ErrorCode.SHUTTING_DOWN, 503, message, retry_after=retry_after)


# After a cancel, how long the producer may take to stop before the run is ended without
# it. Cooperative nodes stop well within this; a node stuck in foreign code does not, and
# LangGraph waits for a running node even when its stream is closed (DESIGN.md, trap 3).
CANCEL_DEADLINE_S = 2.0


class RunManager:
    def __init__(self, settings: Settings, agents: AgentRegistry, store: RunStore) -> None:
        self.settings = settings
        self.agents = agents
        self.store = store
        self.runs: dict[str, Run] = {}
        self._busy_threads: dict[str, Run] = {}
        self.active = 0
        self.admission = Admission(
            settings.admission_lag_ms / 1000, min(settings.max_running_runs, settings.max_concurrent_runs)
        )
        self.draining = False
        self.pid = os.getpid()
        store.forget_older_than(time.time() - settings.run_retention_s)

    # --- starting ---

    def start(self, request: RunRequest, trace_id: str, owner: str | None = None) -> Run:
        """Start a run now, or raise ServiceError (unknown agent, busy thread, limits).

        ``owner`` (the authenticated user) owns the run, and the thread unless another
        user does: then the thread does not exist for them (404, README "Security")."""
        if self.draining:
            raise ServiceError(ErrorCode.SHUTTING_DOWN, 503, "The server is restarting.", retry_after=1)
        if self.active >= self.settings.max_concurrent_runs:
            raise ServiceError(
                ErrorCode.TOO_MANY_RUNS,
                429,
                f"This worker is running its limit of {self.settings.max_concurrent_runs} runs.",
                retry_after=2,
            )
        try:
            agent = self.agents.get(request.agent)
        except UnknownAgentError:
            raise ServiceError(
                ErrorCode.UNKNOWN_AGENT,
                400,
                f"No agent named {request.agent!r}; have {sorted(self.agents.agents)}.",
            ) from None
        thread_id = request.conversation_id or str(uuid.uuid4())
        if owner is not None and self.store.claim_thread(thread_id, owner) != owner:
            raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")
        self._claim_thread(thread_id)
        run = Run(
            run_id=str(uuid.uuid4()),
            thread_id=thread_id,
            trace_id=trace_id,
            agent=agent.name,
            request=request,
            owner=owner,
        )
        self.runs[run.run_id] = run
        self._busy_threads[thread_id] = run
        self.active += 1
        self.store.started(run, self.pid)
        metrics.run_started(run.agent)
        # The start event goes in now, from the request's own greenlet: the stream's first
        # read finds it at once instead of waiting for the producer's first turn on a busy hub.
        self._append(run, EventFactory(run.run_id, run.trace_id).start(run.thread_id, run.agent))
        self._later(run, "timeout", self.settings.run_timeout_s, lambda: self.cancel(run, "timeout"))
        self._arm_grace(run)  # nobody may ever come to watch it
        # gevent starts a greenlet with an empty contextvars context (DESIGN.md, trap 7).
        context = contextvars.copy_context()
        self.admission.submit(run, lambda: self._launch(run, context))
        return run

    def _launch(self, run: Run, context: contextvars.Context) -> None:
        run.producer = gevent.spawn(context.run, self._produce, run)

    def _claim_thread(self, thread_id: str) -> None:
        busy = self._busy_threads.get(thread_id)
        if busy is None:
            return
        if self.settings.busy_thread_policy == "reject":
            raise ServiceError(
                ErrorCode.THREAD_BUSY,
                409,
                f"Conversation {thread_id} already has a run in progress ({busy.run_id}); "
                "wait for it to end or cancel it.",
            )
        self.cancel(busy, "superseded")
        if busy.producer is not None:
            busy.producer.join(CANCEL_DEADLINE_S * 2)

    # --- producing ---

    def _produce(self, run: Run) -> None:
        bind_log_context(run_id=run.run_id, trace_id=run.trace_id)
        events = EventFactory(run.run_id, run.trace_id)
        run.state = "running"
        run.started_at = time.time()
        log.info("run started", extra={"thread_id": run.thread_id, "agent": run.agent})
        agent = self.agents.get(run.agent)
        try:
            agent.run(run.request, run.thread_id, run.control, events, partial(self._record, run))
        except Exception as exc:
            # A bug outside the agent's own handling (the agent reports its own failures).
            failure = classify(exc, run.control)
            if not failure.expected:
                log.error("run failed outside the agent", exc_info=exc)
            if run.result is None and run.error is None:
                self._fail(run, events, failure)
        finally:
            self._finish(run, events)

    def _record(self, run: Run, event: Event) -> None:
        """An event from the agent: into the log, and its outcome onto the run."""
        if run.log.closed:
            return  # ended without the agent after a cancel deadline
        self._append(run, event)
        if event.type == "final":
            run.result = event.data.model_dump()
        elif event.type == "error":
            run.error = event.data.model_dump()

    def _append(self, run: Run, event: Event) -> None:
        if not run.log.closed:
            run.log.append(event.to_json())

    def _fail(self, run: Run, events: EventFactory, failure: RunFailure) -> None:
        run.error = {"error": failure.code, "message": failure.message}
        self._append(run, events.error(failure.code, failure.message))

    def _finish(self, run: Run, events: EventFactory) -> None:
        if run.log.closed:
            return
        status: RunStatus
        if run.result is not None:
            status = "success"
        elif run.control.reason is not None:
            status = cancellation(run.control.reason).status
        else:
            status = "error"
        run.ended_at = time.time()
        started = run.started_at or run.created_at
        self._append(run, events.done(status, round((run.ended_at - started) * 1000)))
        run.state = "interrupted" if run.control.reason == "shutdown" else status
        run.log.close()
        run.control.release()
        for timer in run.timers.values():
            timer.kill(block=False)
        run.timers.clear()
        self.active -= 1
        if run.producer is not None:
            self.admission.release()
        if self._busy_threads.get(run.thread_id) is run:
            del self._busy_threads[run.thread_id]
        self.store.finished(run, run.log.read(0, 0))
        metrics.run_finished(run.agent, status, run.ended_at - started, (run.error or {}).get("error"))
        log.info("run finished", extra={"status": status, "events": run.log.last_seq})
        self._later(run, "forget", self.settings.run_ttl_s, lambda: self.runs.pop(run.run_id, None))

    # --- cancelling ---

    def cancel(self, run: Run, reason: str = "cancelled") -> bool:
        """Stop ``run``; its subscribers get ``error`` and ``done``. False if it had ended."""
        if run.finished or not run.control.cancel(reason):
            return False
        log.info("run cancel requested", extra={"run_id": run.run_id, "reason": reason})
        if self.admission.withdraw(run):
            self._abandon(run)  # it was waiting to start: nothing to stop
        else:
            self._later(run, "deadline", CANCEL_DEADLINE_S, lambda: self._abandon(run))
        return True

    def _abandon(self, run: Run) -> None:
        """End a cancelled run that has not stopped (or never started); a producer still
        running finishes on its own."""
        if run.log.closed:
            return
        if run.producer is not None:
            log.warning("run did not stop in time; ending it without its node", extra={"run_id": run.run_id})
        events = EventFactory(run.run_id, run.trace_id)
        self._fail(run, events, cancellation(run.control.reason or "cancelled"))
        self._finish(run, events)

    # --- subscribers ---

    def attach(self, run: Run) -> None:
        run.subscribers += 1
        timer = run.timers.pop("grace", None)
        if timer is not None:
            timer.kill(block=False)

    def detach(self, run: Run) -> None:
        run.subscribers -= 1
        self._arm_grace(run)

    def _arm_grace(self, run: Run) -> None:
        if run.subscribers or run.finished or run.request.on_disconnect == "continue":
            return
        grace = self.settings.disconnect_grace_s
        if grace == 0:
            self.cancel(run, "disconnected")
        else:
            self._later(run, "grace", grace, lambda: self.cancel(run, "disconnected"))

    # --- lookup ---

    def get(self, run_id: str) -> Run:
        """A live or recently finished run of this worker, or ServiceError (404/409)."""
        run = self.runs.get(run_id)
        if run is None:
            raise self._missing(run_id, self.store.get(run_id))
        return run

    def describe(self, run_id: str) -> dict[str, Any]:
        """The run's summary, from memory or, once this worker forgot it, from the store."""
        run = self.runs.get(run_id)
        if run is not None:
            return run.summary()
        stored = self.store.get(run_id)
        if stored is None:
            raise self._missing(run_id, stored)
        return {**stored.summary, "status": stored.state}

    def open_log(self, run_id: str) -> tuple[MemoryEventLog, Run | None]:
        """The run's event log: live from memory, or replayed from the store once finished."""
        run = self.runs.get(run_id)
        if run is not None:
            return run.log, run
        stored = self.store.get(run_id)
        if stored is None or stored.events is None:
            raise self._missing(run_id, stored)
        return MemoryEventLog.replay(stored.events), None

    def _missing(self, run_id: str, stored: StoredRun | None) -> ServiceError:
        if stored is None:
            return not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
        if stored.state == "interrupted" or not _process_alive(stored.worker_pid):
            return ServiceError(
                ErrorCode.INTERRUPTED,
                410,
                f"Run {run_id} was interrupted: its worker process stopped before it finished.",
            )
        if stored.state == "draining":
            return RunFinishingElsewhere(
                f"Run {run_id} is finishing on worker {stored.worker_pid}, which is shutting down; "
                "its events can be read here once it ends.",
                retry_after=1,
            )
        return ServiceError(
            ErrorCode.RUN_ON_ANOTHER_WORKER,
            409,
            f"Run {run_id} is running in worker process {stored.worker_pid}, and runs live in "
            "the memory of the process that started them. Serve with one worker per host "
            "(STAGECAST_WORKERS=1) or route a run's requests to the same worker.",
        )

    # --- shutdown ---

    def drain(self) -> None:
        """Stop taking runs and end every open stream (they reconnect elsewhere)."""
        if self.draining:
            return
        self.draining = True
        self.admission.stop()  # runs still waiting are ended as interrupted by shutdown()
        self.store.mark_draining(self.pid)
        for run in list(self.runs.values()):
            run.log.wake()

    def shutdown(self, budget: float) -> None:
        """At worker exit: let runs finish in half of ``budget``, then interrupt the rest."""
        self.drain()
        deadline = time.monotonic() + budget
        for run in list(self.runs.values()):
            if run.producer is not None:
                run.producer.join(max(0.0, deadline - budget / 2 - time.monotonic()))
        for run in list(self.runs.values()):
            if self.cancel(run, "shutdown") and run.producer is not None:
                run.producer.join(max(0.0, min(CANCEL_DEADLINE_S, deadline - time.monotonic())))
            self._abandon(run)
        self.store.mark_interrupted(self.pid)

    def _later(self, run: Run, name: str, seconds: float, action: Callable[[], object]) -> None:
        previous = run.timers.pop(name, None)
        if previous is not None:
            previous.kill(block=False)
        run.timers[name] = gevent.spawn_later(seconds, action)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
