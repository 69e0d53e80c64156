"""RunManager: the lifecycle of runs: start, produce, finish, cancel, take over, shut down.

A run's producer greenlet drives the agent and appends events to the run's log; HTTP
streams only subscribe (DESIGN.md, trap 4). When the last subscriber leaves, the run waits
``disconnect_grace_s`` for a rejoin, then cancels itself, unless it was started with
``on_disconnect: "continue"``. Where runs and their logs live, and how workers learn of
each other's cancels, watchers and lost runs, is the coordinator's (``app.runs.backends``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent

from app import metrics
from app.agent.branches import has_checkpoint
from app.agent.chatbot import ChatbotAgent, Restart
from app.agent.errors import RunFailure, cancellation, classify
from app.agent.registry import AgentRegistry, UnknownAgentError
from app.agent.store import set_scope, user_scope
from app.agent.threads import read_thread
from app.config import Settings
from app.errors import ServiceError, not_found
from app.events import ErrorCode, Event, EventFactory, RunStatus
from app.logs import bind_log_context
from app.runs.admission import Admission
from app.runs.backends import Coordinator, StoreUnavailableError
from app.runs.log import MemoryEventLog
from app.runs.models import Run, RunRequest
from app.runs.store import RunPage, RunStore, StoredRun
from app.runs.timers import Later

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

# How long a new run on a thread waits for the end of the thread's previous run, which ended
# in this process, to reach the shared store that frees the thread (distributed mode).
RELEASE_WAIT_S = 2.0


class RunManager:
    def __init__(
        self, settings: Settings, agents: AgentRegistry, store: RunStore, coordinator: Coordinator
    ) -> None:
        self.settings = settings
        self.agents = agents
        self.store = store
        self.coordinator = coordinator
        self.worker = coordinator.worker
        self.runs: dict[str, Run] = {}
        self._finished: deque[str] = deque()  # ids of finished runs, oldest first
        self.active = 0
        self.admission = Admission(
            settings.admission_lag_ms / 1000, min(settings.max_running_runs, settings.max_concurrent_runs)
        )
        self.draining = False
        self.pid = os.getpid()
        store.forget_older_than(time.time() - settings.run_retention_s)
        if not coordinator.distributed:
            self._interrupt_runs_of_dead_workers()
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
        thread_id = request.conversation_id or str(uuid.uuid4())
        if owner is not None and self.store.claim_thread(thread_id, owner) != owner:
            raise not_found(ErrorCode.THREAD_NOT_FOUND, f"No conversation {thread_id}.")
        if request.checkpoint_id and not has_checkpoint(
            self.agents.checkpointer, thread_id, request.checkpoint_id
        ):
            raise not_found(
                ErrorCode.CHECKPOINT_NOT_FOUND, f"No checkpoint {request.checkpoint_id} in {thread_id}."
            )
        run_id = run_id or str(uuid.uuid4())  # given: the id a delayed start promised
        self._claim_thread(thread_id, run_id)
        if request.resuming:
            try:
                agent = self._paused_agent(thread_id, request.agent, request.resume)
            except ServiceError:
                self.coordinator.release_thread(thread_id, run_id)
                raise
        run = Run(
            run_id=run_id,
            thread_id=thread_id,
            trace_id=trace_id,
            agent=agent.name,
            request=request,
            owner=owner,
            worker=self.worker,
            log=self.coordinator.new_log(run_id, thread_id, 1, []),
        )
        try:
            self.store.started(run)
            self.coordinator.begin(run_id, 1)
        except Exception as exc:
            # Undo the start completely: nothing may stay counted, locked or pending.
            self.coordinator.release_thread(thread_id, run_id)
            self._forget_record(run_id)
            log.error("run could not be started", exc_info=exc, extra={"run_id": run_id})
            raise StoreUnavailableError(str(exc)) from exc
        self.runs[run_id] = run
        self.active += 1
        metrics.run_started(run.agent)
        # The start event goes in now, from the request's own greenlet: the stream's first
        # read finds it at once instead of waiting for the producer's first turn on a busy hub.
        self._append(run, EventFactory(run.run_id, run.trace_id).start(run.thread_id, run.agent))
        self._schedule(run, self.settings.run_timeout_s)
        return run

    def _schedule(self, run: Run, timeout_s: float, restart: Restart | None = None) -> None:
        self._later(run, "timeout", timeout_s, lambda: self.cancel(run, "timeout"))
        self._arm_grace(run)  # nobody may ever come to watch it
        # gevent starts a greenlet with an empty contextvars context (DESIGN.md, trap 7).
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

    def _claim_thread(self, thread_id: str, run_id: str) -> None:
        holder = self.coordinator.claim_thread(thread_id, run_id)
        ended_here = self.runs.get(holder) if holder is not None else None
        if ended_here is not None and ended_here.finished:
            # Its clients here read `done` from memory; the shared store frees the thread when
            # the end reaches it, a moment later. A follow-up (a resume) waits for that moment.
            deadline = time.monotonic() + RELEASE_WAIT_S
            while holder is not None and time.monotonic() < deadline:
                gevent.sleep(0.01)
                holder = self.coordinator.claim_thread(thread_id, run_id)
        if holder is None:
            return
        if self.settings.busy_thread_policy == "reject":
            raise ServiceError(
                ErrorCode.THREAD_BUSY,
                409,
                f"Conversation {thread_id} already has a run in progress ({holder}); "
                "wait for it to end or cancel it.",
            )
        self._cancel_anywhere(holder, "superseded")
        deadline = time.monotonic() + CANCEL_DEADLINE_S * 2
        while time.monotonic() < deadline:
            gevent.sleep(0.05)
            if self.coordinator.claim_thread(thread_id, run_id) is None:
                return
        raise ServiceError(
            ErrorCode.THREAD_BUSY, 409, f"Conversation {thread_id} is still busy with run {holder}."
        )

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
                run.request, run.thread_id, run.control, events, partial(self._record, run), restart=restart
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
        try:
            self.store.finished(run, run.log.read(0, 0))
        except Exception as exc:
            # Its events stay in the live log (memory, or Redis for its TTL); nothing stays locked.
            log.error("could not record the end of the run", exc_info=exc)
        metrics.run_finished(run.agent, status, run.ended_at - started, (run.error or {}).get("error"))
        log.info("run finished", extra={"status": status, "events": run.log.last_seq})
        self._later(run, "forget", self.settings.run_ttl_s, lambda: self._forget(run))
        self._keep_finished(run)

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

    # --- cancelling ---

    def cancel(self, run: Run, reason: str = "cancelled") -> bool:
        """Stop ``run``; its subscribers get ``error`` and ``done``. False if it had ended."""
        if run.finished or run.relinquished or not run.control.cancel(reason):
            return False
        log.info("run cancel requested", extra={"run_id": run.run_id, "reason": reason})
        if self.admission.withdraw(run):
            self._abandon(run)  # it was waiting to start: nothing to stop
        else:
            self._later(run, "deadline", CANCEL_DEADLINE_S, lambda: self._abandon(run))
        return True

    def cancel_local(self, run_id: str, reason: str) -> None:
        """A cancel requested on another worker for a run that may execute here."""
        run = self.runs.get(run_id)
        if run is not None:
            self.cancel(run, reason)

    def cancel_by_id(self, run_id: str) -> dict[str, Any]:
        """Cancel ``run_id`` wherever it executes; what ``POST /api/runs/<id>/cancel`` answers."""
        run = self.runs.get(run_id)
        if run is not None and not run.relinquished:
            cancelled = self.cancel(run)
            return {"run_id": run_id, "cancelled": cancelled, "status": run.state}
        stored = self.store.get(run_id)
        if stored is None:
            raise not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
        if stored.finished or stored.state == "interrupted":
            return {"run_id": run_id, "cancelled": False, "status": stored.state}
        if not self.coordinator.request_cancel(run_id, "cancelled"):
            raise self._missing(run_id, stored)
        return {"run_id": run_id, "cancelled": True, "status": stored.state}

    def _cancel_anywhere(self, run_id: str, reason: str) -> None:
        run = self.runs.get(run_id)
        if run is not None and not run.relinquished:
            self.cancel(run, reason)
        else:
            self.coordinator.request_cancel(run_id, reason)

    def _abandon(self, run: Run) -> None:
        """End a cancelled run that has not stopped (or never started); a producer still
        running finishes on its own."""
        if run.log.closed or run.released:
            return
        if run.producer is not None and not run.producer.dead:
            log.warning("run did not stop in time; ending it without its node", extra={"run_id": run.run_id})
        events = EventFactory(run.run_id, run.trace_id)
        self._fail(run, events, cancellation(run.control.reason or "cancelled"))
        self._finish(run, events)

    # --- taking over runs of lost workers (distributed mode) ---

    def local_runs(self) -> list[tuple[str, int]]:
        """(run_id, attempt) of the unfinished runs this process executes (it holds their leases)."""
        return [
            (run.run_id, run.attempt)
            for run in self.runs.values()
            if not run.finished and not run.relinquished and not run.released
        ]

    def fenced(self, run_id: str) -> None:
        """Another worker took ``run_id`` over: stop it here without writing anything more."""
        run = self.runs.get(run_id)
        if run is not None and not run.finished and not run.released:
            log.warning("run was taken over by another worker; stopping it here", extra={"run_id": run_id})
            self._relinquish(run, "fenced")

    def _relinquish(self, run: Run, reason: str) -> None:
        run.relinquished = True
        run.control.cancel(reason)
        self._forget(run)
        run.log.fail()  # its readers here reconnect and follow the run where it continues
        if run.producer is None or run.producer.dead:
            self._release(run)

    def take_over(self, run_id: str, attempt: int) -> None:
        """This worker claimed ``run_id`` after its worker was lost: continue it here."""
        context = contextvars.copy_context()
        gevent.spawn(context.run, self._take_over, run_id, attempt)

    def _take_over(self, run_id: str, attempt: int) -> None:
        stored = self.store.get(run_id)
        if stored is None or stored.finished:
            log.warning("claimed run %s has no unfinished record; ignoring it", run_id)
            return
        summary = stored.summary
        entries = self.coordinator.entries(run_id)
        run = Run(
            run_id=run_id,
            thread_id=stored.thread_id,
            trace_id=summary["trace_id"],
            agent=summary["agent"],
            request=RunRequest.model_validate(stored.request),
            owner=summary.get("owner"),
            worker=self.worker,
            attempt=attempt,
            log=self.coordinator.new_log(run_id, stored.thread_id, attempt, entries),
            created_at=summary["created_at"],
            started_at=summary.get("started_at"),
        )
        bind_log_context(run_id=run_id, trace_id=run.trace_id)
        self.runs[run_id] = run
        self.active += 1
        events = EventFactory(run_id, run.trace_id)
        delivered = [json.loads(entry) for entry in entries]
        for event in delivered:  # an outcome already written ends it
            if event["type"] == "final":
                run.result = event["data"]
            elif event["type"] == "error":
                run.error = event["data"]
        cancel_reason = self.coordinator.cancel_reason(run_id)
        if run.result is not None or run.error is not None or cancel_reason:
            if cancel_reason:
                run.control.cancel(cancel_reason)
                self._fail(run, events, cancellation(cancel_reason))
            self._finish(run, events)
            return
        if attempt > self.settings.run_max_attempts:
            self._fail(
                run,
                events,
                RunFailure(
                    ErrorCode.INTERRUPTED,
                    "error",
                    f"The run was interrupted: its worker was lost {attempt - 1} times.",
                    True,
                ),
            )
            self._finish(run, events)
            return
        restart = self.agents.get(run.agent).plan_restart(run.thread_id, run_id, delivered)
        self._append(run, events.restart(attempt, restart.discard_message_ids))
        self._record_progress(run)
        log.info("run taken over", extra={"attempt": attempt, "discarded": restart.discard_message_ids})
        remaining = self.settings.run_timeout_s - (time.time() - run.created_at)
        self._schedule(run, max(1.0, remaining), restart)

    # --- subscribers ---

    def attach(self, run: Run) -> None:
        run.subscribers += 1
        timer = run.timers.pop("grace", None)
        if timer is not None:
            timer.cancel()

    def detach(self, run: Run) -> None:
        run.subscribers -= 1
        self._arm_grace(run)

    def watch(self, run_id: str, run: Run | None) -> None:
        """A client starts reading ``run_id``'s stream (``run``: None if it executes elsewhere)."""
        if run is not None:
            self.attach(run)
        else:
            self.coordinator.watching(run_id, +1)

    def unwatch(self, run_id: str, run: Run | None, log_: MemoryEventLog) -> None:
        if run is not None:
            self.detach(run)
        else:
            self.coordinator.watching(run_id, -1)
            self.close_log(run_id, log_)

    def close_log(self, run_id: str, log_: MemoryEventLog) -> None:
        """A log from :meth:`open_log` is no longer read."""
        self.coordinator.close_remote(run_id, log_)

    def _arm_grace(self, run: Run) -> None:
        # During shutdown, shutdown owns the ending: no run is cancelled for lack of watchers.
        if run.subscribers or run.finished or self.draining or run.request.on_disconnect == "continue":
            return
        # A timer even for a grace of 0: a run just started is watched by the request that
        # started it before that request yields, and only then may the timer fire.
        self._later(run, "grace", self.settings.disconnect_grace_s, lambda: self._grace_over(run))

    def _grace_over(self, run: Run) -> None:
        if run.subscribers or run.finished or self.draining:
            return
        if self.coordinator.watched_elsewhere(run.run_id):
            self._arm_grace(run)  # a client on another worker still watches it
        else:
            self.cancel(run, "disconnected")

    # --- lookup ---

    def get(self, run_id: str) -> Run:
        """A live or recently finished run of this worker, or ServiceError (404/409)."""
        run = self.runs.get(run_id)
        if run is None:
            raise self._missing(run_id, self.store.get(run_id))
        return run

    def thread_run(self, thread_id: str) -> str | None:
        """The id of the run executing on ``thread_id`` (in any worker the backend knows), if any."""
        holder = self.coordinator.thread_holder(thread_id)
        ended_here = self.runs.get(holder) if holder is not None else None
        # Ended here, its end on its way to the shared store (see _claim_thread): not busy.
        return None if ended_here is not None and ended_here.finished else holder

    def describe(self, run_id: str) -> dict[str, Any]:
        """The run's summary, from memory or, once this worker forgot it, from the store."""
        run = self.runs.get(run_id)
        if run is not None:
            return run.summary()
        stored = self.store.get(run_id)
        if stored is None:
            raise not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
        return stored.summary

    def page(self, limit: int, cursor: str | None, owner: str | None = None) -> RunPage:
        """Run summaries without answers, newest first; this worker's live runs as they are now;
        only ``owner``'s runs when given."""
        page = self.store.page(limit, cursor, owner)
        for index, summary in enumerate(page.runs):
            run = self.runs.get(summary["run_id"])
            if run is not None:
                page.runs[index] = {k: v for k, v in run.summary().items() if k != "result"}
        return page

    def open_log(self, run_id: str) -> tuple[MemoryEventLog, Run | None]:
        """The run's event log: live from memory, followed from the shared log when the run
        executes elsewhere, or replayed from the store once finished. Give it back with
        :meth:`close_log` (or :meth:`unwatch`)."""
        run = self.runs.get(run_id)
        if run is not None:
            return run.log, run
        stored = self.store.get(run_id)
        if stored is None:
            raise not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
        if stored.events is not None:
            return MemoryEventLog.replay(stored.events), None
        remote = self.coordinator.open_remote(run_id) if stored.state != "interrupted" else None
        if remote is not None:
            return remote, None
        raise self._missing(run_id, stored)

    def _missing(self, run_id: str, stored: StoredRun | None) -> ServiceError:
        if stored is None:
            return not_found(ErrorCode.RUN_NOT_FOUND, f"No run {run_id} on this server.")
        if stored.state == "interrupted" or self.coordinator.distributed or _worker_dead(stored.worker):
            return ServiceError(
                ErrorCode.INTERRUPTED,
                410,
                f"Run {run_id} was interrupted: its worker process stopped before it finished.",
            )
        if stored.state == "draining":
            return RunFinishingElsewhere(
                f"Run {run_id} is finishing on worker {stored.worker}, which is shutting down; "
                "its events can be read here once it ends.",
                retry_after=1,
            )
        return ServiceError(
            ErrorCode.RUN_ON_ANOTHER_WORKER,
            409,
            f"Run {run_id} is running in worker process {stored.worker}, and without the distributed "
            "mode runs live in the memory of the process that started them. Serve with one worker "
            "per host, or set STAGECAST_REDIS_URL and STAGECAST_DATABASE_URL.",
        )

    def _interrupt_runs_of_dead_workers(self) -> None:
        """Runs whose worker on this host died (kill -9, OOM) without recording an end."""
        dead = [run_id for run_id, worker in self.store.unfinished() if _worker_dead(worker)]
        if dead:
            self.store.set_state(dead, "interrupted", ended_at=time.time())
            log.warning("marked %d runs of dead workers interrupted", len(dead))

    # --- shutdown ---

    def drain(self) -> None:
        """Stop taking runs and end every open stream (they reconnect elsewhere)."""
        if self.draining:
            return
        self.draining = True
        self.admission.stop()  # runs still waiting are ended by shutdown()
        for run in self.runs.values():
            timer = run.timers.pop("grace", None)
            if timer is not None:
                timer.cancel()
        if not self.coordinator.distributed:
            self._set_state_of_unfinished("draining")
        for run in list(self.runs.values()):
            run.log.wake()

    def shutdown(self, budget: float) -> None:
        """At worker exit: let runs finish in half of ``budget``; then, in the distributed mode,
        hand the rest to other workers, else end them as interrupted."""
        self.drain()
        deadline = time.monotonic() + budget
        for run in list(self.runs.values()):
            if run.producer is not None:
                run.producer.join(max(0.0, deadline - budget / 2 - time.monotonic()))
        for run in list(self.runs.values()):
            if run.finished or run.released:
                continue
            if self.coordinator.distributed:
                self.coordinator.hand_over(run.run_id)
                self._relinquish(run, "handover")
                continue
            if self.cancel(run, "shutdown") and run.producer is not None:
                run.producer.join(max(0.0, min(CANCEL_DEADLINE_S, deadline - time.monotonic())))
            self._abandon(run)
        if not self.coordinator.distributed:
            self._set_state_of_unfinished("interrupted", ended_at=time.time())
        self.coordinator.stop()

    def _set_state_of_unfinished(self, state: str, ended_at: float | None = None) -> None:
        mine = [run_id for run_id, worker in self.store.unfinished() if worker == self.worker]
        self.store.set_state(mine, state, ended_at)

    def _later(self, run: Run, name: str, seconds: float, action: Callable[[], object]) -> None:
        previous = run.timers.pop(name, None)
        if previous is not None:
            previous.cancel()
        run.timers[name] = Later(seconds, action)


def _worker_dead(worker: str) -> bool:
    """Whether ``worker`` (``host:pid``) is a process of this host that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
