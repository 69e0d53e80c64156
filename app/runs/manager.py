"""RunManager: the one door to runs: start a run (claiming its thread), produce it, finish it.

A run's producer greenlet drives the agent and appends events to the run's log; HTTP
streams only subscribe (docs/architecture.md, trap 4). Where runs and their logs live, and
how workers learn of each other's cancels, watchers and lost runs, is the coordinator's
(``app.runs.backends``).

The manager's other jobs each have a room beside it, behind the manager's methods of the
same names: :mod:`app.runs.claim` (one run at a time per thread), :mod:`app.runs.cancel`
(cancel, and ending a run that does not stop), :mod:`app.runs.grace` (subscribers, and the
disconnect grace after the last one leaves), :mod:`app.runs.takeover` (runs of lost
workers, fencing), :mod:`app.runs.lookup` (finding runs, replaying their events) and
:mod:`app.runs.shutdown` (drain, hand over, interrupt).
The rooms call the manager's underscored methods (``_fail``, ``_finish``, ``_release``...),
which are private to this package.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent

from ..agent.branches import has_checkpoint
from ..agent.chatbot import ChatbotAgent, Restart
from ..agent.control import RunControl
from ..agent.errors import RunFailure, cancellation, classify
from ..agent.registry import AgentRegistry, UnknownAgentError
from ..agent.run_metrics import NO_METRICS, RunMetrics
from ..agent.store import set_scope, user_scope
from ..agent.threads import read_thread
from ..config import Settings
from ..errors import ServiceError, not_found
from ..events import ErrorCode, Event, EventFactory, RunStatus
from ..logs import bind_log_context
from . import cancel, claim, grace, lookup, shutdown, takeover
from .admission import Admission
from .backends import Coordinator, StoreUnavailableError
from .cancel import CANCEL_DEADLINE_S
from .log import MemoryEventLog
from .lookup import RunFinishingElsewhere
from .models import Run, RunRequest
from .owners import public_thread_id, thread_key
from .store import RunPage, RunStore
from .timers import Later

# CANCEL_DEADLINE_S and RunFinishingElsewhere live in their rooms; callers import them from here.
__all__ = ["CANCEL_DEADLINE_S", "RunFinishingElsewhere", "RunManager"]

log = logging.getLogger(__name__)


class RunManager:
    def __init__(
        self,
        settings: Settings,
        agents: AgentRegistry,
        store: RunStore,
        coordinator: Coordinator,
        metrics: RunMetrics = NO_METRICS,
    ) -> None:
        self.settings = settings
        self.metrics = metrics  # app.metrics in the service (app/state.py)
        self.agents = agents
        self.store = store
        self.coordinator = coordinator
        self.worker = coordinator.worker
        self.runs: dict[str, Run] = {}
        self.claiming: dict[str, int] = {}  # runs being taken over here: their attempt
        self._finished: deque[str] = deque()  # ids of finished runs, oldest first
        self.active = 0
        self.admission = Admission(
            settings.admission_lag_ms / 1000, min(settings.max_running_runs, settings.max_concurrent_runs)
        )
        self.draining = False
        self.pid = os.getpid()
        store.forget_older_than(time.time() - settings.run_retention_s)
        if not coordinator.distributed:
            lookup.interrupt_runs_of_dead_workers(self)
        coordinator.start(self)

    # --- starting ---

    def start(
        self, request: RunRequest, trace_id: str, owner: str | None = None, run_id: str | None = None
    ) -> Run:
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
        agent = self._agent(request.agent)
        # A chosen id names a thread in the owner's namespace (app/runs/owners.py).
        admin = owner in self.settings.admins
        chosen = request.conversation_id
        thread_id = thread_key(self.store, chosen, owner, admin) if chosen else str(uuid.uuid4())
        if owner is not None and self.store.claim_thread(thread_id, owner) != owner:
            raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")
        if request.checkpoint_id and not has_checkpoint(
            self.agents.checkpointer, thread_id, request.checkpoint_id
        ):
            raise not_found(
                ErrorCode.CHECKPOINT_NOT_FOUND,
                f"No checkpoint {request.checkpoint_id} in {public_thread_id(thread_id)}.",
            )
        run_id = run_id or str(uuid.uuid4())  # given: the id a delayed start promised
        claim.claim_thread(self, thread_id, run_id)
        if request.resuming:
            try:
                agent = self._paused_agent(thread_id, request.agent, request.resume)
            except ServiceError:
                self.coordinator.release_thread(thread_id, run_id)
                raise
        # The start event is in the log from the first: the stream's first read finds it at
        # once, and the distributed mode commits it with the run's lease, in one round trip,
        # instead of waiting for the flusher's next turn on a busy hub (docs/benchmarks.md).
        start = EventFactory(run_id, trace_id).start(public_thread_id(thread_id), agent.name)
        run = Run(
            run_id=run_id,
            thread_id=thread_id,
            trace_id=trace_id,
            agent=agent.name,
            request=request,
            owner=owner,
            worker=self.worker,
            log=self.coordinator.new_log(run_id, thread_id, 1, [start.to_json()]),
            control=RunControl(self.metrics),
        )
        try:
            recorded = self.store.started(run)
            try:
                self.coordinator.begin(run_id, 1)  # while the record is written: one wait, not two
            finally:
                recorded()
        except Exception as exc:
            # Undo the start completely: nothing may stay counted, leased, locked or pending.
            self.coordinator.withdraw(run_id)
            self.coordinator.release_thread(thread_id, run_id)
            self._forget_record(run_id)
            log.error("run could not be started", exc_info=exc, extra={"run_id": run_id})
            raise StoreUnavailableError(str(exc)) from exc
        self.runs[run_id] = run
        self.active += 1
        self.metrics.run_started(run.agent)
        self._schedule(run, self.settings.run_timeout_s)
        return run

    def _schedule(self, run: Run, timeout_s: float, restart: Restart | None = None) -> None:
        self._later(run, "timeout", timeout_s, lambda: self.cancel(run, "timeout"))
        grace.arm_grace(self, run)  # nobody may ever come to watch it
        # gevent starts a greenlet with an empty contextvars context (docs/architecture.md, trap 7).
        context = contextvars.copy_context()
        self.admission.submit(run, lambda: self._launch(run, context, restart))

    def _launch(self, run: Run, context: contextvars.Context, restart: Restart | None) -> None:
        run.producer = gevent.spawn(context.run, self._produce, run, restart)

    def _paused_agent(self, thread_id: str, named: str | None, resume: Any) -> ChatbotAgent:
        """The agent that paused ``thread_id`` (a resume continues its graph), or 409; 422 for
        an answer that agent cannot read."""
        paused = read_thread(self.agents.checkpointer, thread_id)
        if paused is None or not paused.interrupts:
            raise ServiceError(
                ErrorCode.NOTHING_TO_RESUME,
                409,
                f"Conversation {thread_id} is not waiting for an answer; send a message instead.",
            )
        agent = self._agent(named or paused.agent)
        agent.check_resume(resume, paused.interrupts)
        return agent

    def _agent(self, name: str | None) -> ChatbotAgent:
        try:
            return self.agents.get(name)
        except UnknownAgentError:
            raise ServiceError(
                ErrorCode.UNKNOWN_AGENT, 400, f"No agent named {name!r}; have {sorted(self.agents.agents)}."
            ) from None

    # --- producing ---

    def _produce(self, run: Run, restart: Restart | None) -> None:
        bind_log_context(run_id=run.run_id, trace_id=run.trace_id)
        set_scope(user_scope(run.owner, sees_all=False))  # its nodes' store is its owner's
        events = EventFactory(run.run_id, run.trace_id)
        run.state = "running"
        run.started_at = run.started_at or time.time()
        if self.coordinator.distributed:
            self._record_progress(run)  # other hosts read its status from the store
        log.info(
            "run started", extra={"thread_id": run.thread_id, "agent": run.agent, "attempt": run.attempt}
        )
        agent = self.agents.get(run.agent)
        try:
            agent.run(
                run.request,
                run.thread_id,
                run.control,
                events,
                partial(self._record, run),
                restart=restart,
                attempt=run.attempt,
            )
        except Exception as exc:
            # A bug outside the agent's own handling (the agent reports its own failures).
            failure = classify(exc, run.control)
            if not failure.expected:
                log.error("run failed outside the agent", exc_info=exc)
            self._fail(run, events, failure)
        finally:
            self._finish(run, events)

    def _record(self, run: Run, event: Event) -> None:
        """An event from the agent: into the log, and its outcome onto the run."""
        if event.type == "final" or event.type == "error":
            if run.result is not None or run.error is not None:
                return  # exactly one outcome per run, whatever raced (a cancel deadline)
            if event.type == "final":
                run.result = event.data.model_dump()
            else:
                run.error = event.data.model_dump()
        self._append(run, event)
        if event.type == "interrupt":
            run.interrupts = event.data.model_dump()["interrupts"]

    def _append(self, run: Run, event: Event) -> None:
        if not run.log.closed and not run.relinquished:
            run.log.append(event.to_json())

    def _fail(self, run: Run, events: EventFactory, failure: RunFailure) -> None:
        self._record(run, events.error(failure.code, failure.message))
        if run.error is None and run.result is None:  # relinquished: remembered, not written
            run.error = {"error": failure.code, "message": failure.message}

    def _finish(self, run: Run, events: EventFactory) -> None:
        if run.log.closed or run.released:
            return
        if run.relinquished:
            self._release(run)
            return
        status: RunStatus
        if run.result is not None:
            status = "success"
        elif run.interrupts is not None and run.error is None:
            status = "paused"
        elif run.control.reason is not None:
            status = cancellation(run.control.reason).status
        else:
            status = "error"
        run.ended_at = time.time()
        started = run.started_at or run.created_at
        self._append(run, events.done(status, round((run.ended_at - started) * 1000)))
        run.state = "interrupted" if run.control.reason == "shutdown" else status
        run.log.close()
        self._release(run)
        # Recorded before its terminal event is committed in Redis, so a client that saw
        # `done` finds the end on every host; the record is guarded by the attempt, so a run
        # taken over meanwhile keeps its one end, and a claim that finds it ended releases
        # what it holds (docs/faults.md).
        self._record_end(run)
        self.metrics.run_finished(run.agent, status, run.ended_at - started, (run.error or {}).get("error"))
        log.info("run finished", extra={"status": status, "events": run.log.appended_seq})
        self._later(run, "forget", self.settings.run_ttl_s, lambda: self._forget(run))
        self._keep_finished(run)

    def _record_end(self, run: Run) -> None:
        try:
            self.store.finished(run, run.log.appended())
        except Exception as exc:
            # Its events stay in the live log (memory, or Redis for its TTL); nothing stays locked.
            log.error("could not record the end of the run", exc_info=exc)

    def _release(self, run: Run) -> None:
        """What a run held in this process, given back once however it ended."""
        run.released = True
        run.control.release()
        for name, timer in list(run.timers.items()):
            # Not the timer doing this (a cancel deadline): killing it would cut its own
            # store write short, mid-query.
            if name != "forget" and not timer.running_here:
                timer.cancel()
                del run.timers[name]
        self.active -= 1
        if run.producer is not None:
            self.admission.release()
        else:
            self.admission.withdraw(run)
        if not self.coordinator.distributed:
            # In Redis the terminal append releases the thread, atomically with the end.
            self.coordinator.release_thread(run.thread_id, run.run_id)

    def _keep_finished(self, run: Run) -> None:
        """Keep at most ``max_finished_runs`` finished runs in memory, whatever their age:
        memory is then bounded at any rate of runs (at 80 runs/s, ten minutes of them held
        gigabytes). The ones let go are still replayed from the store."""
        self._finished.append(run.run_id)
        while len(self._finished) > self.settings.max_finished_runs:
            oldest = self.runs.get(self._finished.popleft())
            if oldest is not None and oldest.finished:
                self._forget(oldest)
                timer = oldest.timers.pop("forget", None)
                if timer is not None:
                    timer.cancel()

    def _forget(self, run: Run) -> None:
        if self.runs.get(run.run_id) is run:
            del self.runs[run.run_id]

    def _forget_record(self, run_id: str) -> None:
        try:
            self.store.forget(run_id)
        except Exception:
            log.warning("could not remove the record of a run that failed to start", exc_info=True)

    def _record_progress(self, run: Run) -> None:
        try:
            self.store.updated(run)
        except Exception:
            log.warning("could not record the run's state", exc_info=True)

    def _later(self, run: Run, name: str, seconds: float, action: Callable[[], object]) -> None:
        """Run ``action`` in ``seconds``, as the run's timer ``name`` (replacing one of that name)."""
        previous = run.timers.pop(name, None)
        if previous is not None:
            previous.cancel()
        run.timers[name] = Later(seconds, action)

    # --- the rooms: each job in its own module, behind this one door ---

    # cancelling (app.runs.cancel)

    def cancel(self, run: Run, reason: str = "cancelled") -> bool:
        """Stop ``run``; its subscribers get ``error`` and ``done``. False if it had ended."""
        return cancel.cancel(self, run, reason)

    def cancel_local(self, run_id: str, reason: str) -> None:
        """A cancel requested on another worker for a run that may execute here."""
        cancel.cancel_local(self, run_id, reason)

    def cancel_by_id(self, run_id: str) -> dict[str, Any]:
        """Cancel ``run_id`` wherever it executes; what ``POST /api/runs/<id>/cancel`` answers."""
        return cancel.cancel_by_id(self, run_id)

    # taking over runs of lost workers, distributed mode (app.runs.takeover)

    def local_runs(self) -> list[tuple[str, int]]:
        """(run_id, attempt) of the unfinished runs this process executes (it holds their leases)."""
        return takeover.local_runs(self)

    def fenced(self, run_id: str) -> None:
        """Another worker took ``run_id`` over: stop it here without writing anything more."""
        takeover.fenced(self, run_id)

    def take_over(self, run_id: str, attempt: int, handed_over: bool = False) -> None:
        """This worker claimed ``run_id`` after its worker was lost (or handed it over): continue it here."""
        takeover.take_over(self, run_id, attempt, handed_over)

    # subscribers and the disconnect grace (app.runs.grace)

    def attach(self, run: Run) -> None:
        grace.attach(self, run)

    def detach(self, run: Run) -> None:
        grace.detach(self, run)

    def watch(self, run_id: str, run: Run | None) -> None:
        """A client starts reading ``run_id``'s stream (``run``: None if it executes elsewhere)."""
        grace.watch(self, run_id, run)

    def unwatch(self, run_id: str, run: Run | None, log_: MemoryEventLog) -> None:
        grace.unwatch(self, run_id, run, log_)

    # lookup and replay (app.runs.lookup)

    def get(self, run_id: str) -> Run:
        """A live or recently finished run of this worker, or ServiceError (404/409)."""
        return lookup.get(self, run_id)

    def thread_run(self, thread_id: str) -> str | None:
        """The id of the run executing on ``thread_id`` (in any worker the backend knows), if any."""
        return lookup.thread_run(self, thread_id)

    def describe(self, run_id: str) -> dict[str, Any]:
        """The run's summary, from memory or, once this worker forgot it, from the store."""
        return lookup.describe(self, run_id)

    def page(self, limit: int, cursor: str | None, owner: str | None = None) -> RunPage:
        """Run summaries without answers, newest first (only ``owner``'s runs when given)."""
        return lookup.page(self, limit, cursor, owner)

    def open_log(self, run_id: str) -> tuple[MemoryEventLog, Run | None]:
        """The run's event log, live or replayed; give it back with :meth:`close_log` (or :meth:`unwatch`)."""
        return lookup.open_log(self, run_id)

    def close_log(self, run_id: str, log_: MemoryEventLog) -> None:
        """A log from :meth:`open_log` is no longer read."""
        lookup.close_log(self, run_id, log_)

    # shutdown (app.runs.shutdown)

    def drain(self) -> None:
        """Stop taking runs and end every open stream (they reconnect elsewhere)."""
        shutdown.drain(self)

    def shutdown(self, budget: float) -> None:
        """At worker exit: let runs finish, then hand the rest over, or end them as interrupted."""
        shutdown.shutdown(self, budget)
