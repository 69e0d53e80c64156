"""``make chaos``: a seeded, time-bounded, loopback-only randomized fault run (docs/faults.md).

One cluster (``tests.support.faults.Cluster``): a redis-server of its own, a fresh database,
three gunicorn hosts with one worker each (two reach Redis and PostgreSQL through TCP proxies;
one's clock runs 30 s ahead). Each *schedule* starts a conversation of two turns on random hosts, with a
client reading each turn from a random host, and injects one random fault at a random moment
of the first turn. Afterwards it heals everything and checks, for both runs and the thread:

- one log: every host serves the same log; every event a client received is in it, same id
  and data; the tokens no ``restart`` discarded concatenate to ``final``;
- one outcome: ``GET /api/runs/<id>`` agrees on every host, and the run ended;
- one history: the thread's last answer is the last successful turn's ``final``, and every
  successful turn's answer is in the thread, in order;
- durable cancel: a run whose cancel was answered did not end ``success``.

    python -m tests.chaos --seed 7 --budget-s 600

prints a table: seed, schedules, runs, faults injected by kind, violations by invariant.
Exit status 1 if any invariant was violated (details in ``<workdir>/violations.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import threading
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

from tests.support.client import StreamResult, read_stream
from tests.support.faults import Cluster, TcpProxy, paused
from tests.support.server import Server

QUESTIONS = ["ABC-12345 부품의 재고는?", "그 부품의 월별 사용량 추이는?"]
FAULTS = ["none", "pause", "partition", "partition_pause", "kill9", "sigterm", "redis_restart", "redis_empty"]
FAULTS += ["cancel_kill", "pg_cut", "pg_down", "redis_empty_pause"]
ENDED = {"success", "error", "cancelled", "timeout", "interrupted", "paused"}
LEASE_S = 1.0


class Chaos:
    def __init__(self, cluster: Cluster, rng: random.Random, workdir: Path) -> None:
        self.cluster = cluster
        self.rng = rng
        self.workdir = workdir
        self.client = httpx.Client(timeout=httpx.Timeout(30.0))
        self.hosts: dict[str, Server] = {}
        self.generation = 0
        self.faults: Counter[str] = Counter()
        self.violations: Counter[str] = Counter()
        self.runs = 0
        # Each host slot's proxies to Redis and to PostgreSQL (None: it reaches them directly).
        self._proxy_of: dict[str, TcpProxy | None] = {}
        self._pg_proxy_of: dict[str, TcpProxy | None] = {}
        for name, proxied, skew in (("h0", True, 0.0), ("h1", True, 0.0), ("h2", False, 30.0)):
            self._start(name, proxied, skew)

    def _start(self, slot: str, proxied: bool, skew: float) -> None:
        self.generation += 1
        name = f"{slot}-{self.generation}"
        self.hosts[slot] = self.cluster.host(
            name, redis_proxy=proxied, postgres_proxy=proxied, clock_skew_s=skew
        )
        self._proxy_of[slot] = self.cluster.proxies.get(name)
        self._pg_proxy_of[slot] = self.cluster.proxies.get(name + "/pg")

    def _replace(self, slot: str) -> None:
        self._start(slot, slot != "h2", 30.0 if slot == "h2" else 0.0)

    def _slot_of(self, run_id: str) -> str | None:
        worker = self._get(run_id).get("worker", "")
        pid = int(worker.rpartition(":")[2] or 0)
        for slot, host in self.hosts.items():
            if pid in host.worker_pids():
                return slot
        return None

    def _worker(self, slot: str) -> int:
        return self.hosts[slot].worker_pids()[0]

    def _get(self, run_id: str) -> dict[str, Any]:
        for host in self.rng.sample(list(self.hosts.values()), len(self.hosts)):
            with suppress(httpx.HTTPError, ValueError):
                answer = self.client.get(f"{host.url}/api/runs/{run_id}")
                if answer.status_code == 200:
                    return answer.json()
        return {}

    # --- one schedule ---

    def schedule(self, number: int) -> None:
        thread_id = f"chaos-{number}-{self.rng.randrange(1 << 30)}"
        fault = self.rng.choice(FAULTS)
        turns: list[dict[str, Any]] = []
        for turn, question in enumerate(QUESTIONS):
            run = self._start_run(thread_id, question)
            if run is None:
                self.violations["start_refused"] += 1
                return
            readers = [
                _Reader(h.url + run["stream_url"]) for h in self.rng.sample(list(self.hosts.values()), 2)
            ]
            for reader in readers:
                reader.start()
            cancelled = False
            if turn == 0:
                time.sleep(self.rng.uniform(0.05, 0.8))
                applied, cancelled = self._inject(fault, run["run_id"], thread_id)
                self.faults[applied] += 1
            status = self._wait_end(run["run_id"])
            for reader in readers:
                reader.join(30)
            turns.append(
                {"run_id": run["run_id"], "status": status, "readers": readers, "cancelled": cancelled}
            )
            self.runs += 1
        self._heal()
        time.sleep(LEASE_S)  # a stale worker that just resumed gets its chance to do harm
        self._check(thread_id, turns)

    def _start_run(self, thread_id: str, question: str) -> dict[str, Any] | None:
        body = {"message": question, "conversation_id": thread_id, "on_disconnect": "continue"}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            host = self.rng.choice(list(self.hosts.values()))
            with suppress(httpx.HTTPError):
                answer = self.client.post(host.url + "/api/runs", json=body)
                if answer.status_code == 202:
                    return answer.json()
            time.sleep(0.3)  # 503 while a store comes back, 409 while the thread frees up
        return None

    def _inject(self, fault: str, run_id: str, thread_id: str) -> tuple[str, bool]:
        """Inject ``fault`` into the run's cluster: (the fault actually injected, whether a
        cancel of the run was answered ``cancelled``)."""
        slot = self._slot_of(run_id)
        if fault == "none" or (slot is None and not fault.startswith("redis")):
            return "none", False  # the run ended (or is between workers) before the fault
        pg_proxy = self._pg_proxy_of.get(slot) if slot else None
        if fault.startswith("pg_") and pg_proxy is None:
            fault = "pause"  # the direct host has no proxy to cut
        if fault == "pause" and slot:
            with paused(self._worker(slot)):
                time.sleep(self.rng.uniform(1.5, 3) * LEASE_S)
        elif fault.startswith("partition") and slot:
            proxy = self._proxy_of.get(slot)
            if proxy is None:  # the direct host: pause it instead
                with paused(self._worker(slot)):
                    time.sleep(2 * LEASE_S)
                return "pause", False
            proxy.partition()
            if fault == "partition_pause":
                time.sleep(0.2)
                with paused(self._worker(slot)):
                    time.sleep(self.rng.uniform(1.5, 3) * LEASE_S)
            time.sleep(self.rng.uniform(0.5, 2))
            proxy.heal()
        elif fault == "kill9" and slot:
            self.hosts[slot].kill_all()
            self._replace(slot)
        elif fault == "sigterm" and slot:
            self.hosts[slot].stop(signal.SIGTERM)
            self._replace(slot)
        elif fault == "redis_restart":
            self.cluster.redis.stop()
            time.sleep(self.rng.uniform(0.2, 1.5))
            self.cluster.redis.start()
        elif fault == "redis_empty":
            self.cluster.redis.restart_empty()
        elif fault == "cancel_kill" and slot:
            host = self.hosts[slot]
            with suppress(httpx.HTTPError):
                answer = self.client.post(f"{host.url}/api/runs/{run_id}/cancel").json()
                host.kill_all()
                self._replace(slot)
                return fault, bool(answer.get("cancelled"))
            host.kill_all()
            self._replace(slot)
        elif fault == "pg_cut" and pg_proxy:
            pg_proxy.cut()
        elif fault == "pg_down" and pg_proxy:
            pg_proxy.down()
            time.sleep(self.rng.uniform(0.3, 2))
            pg_proxy.up()
        elif fault == "redis_empty_pause" and slot:
            # The thread's busy mark is lost while its run's worker cannot write it back: a
            # second turn elsewhere must still be refused (docs/faults.md, "Store loss").
            with paused(self._worker(slot)):
                self.cluster.redis.restart_empty()
                other = self.rng.choice([h for name, h in self.hosts.items() if name != slot])
                body = {"message": QUESTIONS[1], "conversation_id": thread_id, "on_disconnect": "continue"}
                with suppress(httpx.HTTPError):
                    accepted = self.client.post(other.url + "/api/runs", json=body).status_code == 202
                    # Accepted is right only if the first run had ended meanwhile (a sweeper
                    # ends a run nobody can write back as interrupted).
                    if accepted and self._get(run_id).get("status") not in ENDED:
                        self._violate("one_run_per_thread", thread_id=thread_id, run_id=run_id)
                time.sleep(self.rng.uniform(0.2, 1.5) * LEASE_S)
        return fault, False

    def _wait_end(self, run_id: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = self._get(run_id).get("status", "")
            if status in ENDED:
                return status
            time.sleep(0.2)
        return status or "unknown"

    def _heal(self) -> None:
        for proxy in self._proxy_of.values():
            if proxy is not None and proxy.partitioned:
                proxy.heal()
        for slot, host in list(self.hosts.items()):
            if host.process.poll() is not None:
                self._replace(slot)

    # --- invariants ---

    def _violate(self, invariant: str, **details: Any) -> None:
        self.violations[invariant] += 1
        with (self.workdir / "violations.jsonl").open("a") as out:
            out.write(json.dumps({"invariant": invariant, **details}, ensure_ascii=False, default=str) + "\n")

    def _check(self, thread_id: str, turns: list[dict[str, Any]]) -> None:
        hosts = list(self.hosts.values())
        finals: list[str] = []
        for turn in turns:
            run_id = turn["run_id"]
            summaries = [self.client.get(f"{h.url}/api/runs/{run_id}").json() for h in hosts]
            outcome = {(s.get("status"), s.get("attempt")) for s in summaries}
            if len(outcome) != 1:
                self._violate("one_outcome", run_id=run_id, seen=sorted(map(str, outcome)))
            status = summaries[0].get("status")
            if status not in ENDED:
                self._violate("every_run_ends", run_id=run_id, status=status)
                continue
            if turn["cancelled"] and status == "success":
                self._violate("durable_cancel", run_id=run_id)
            if status == "interrupted":
                continue  # its log was lost with Redis; nothing was replayed under its ids
            logs = [read_stream(self.client, "GET", f"{h.url}/api/runs/{run_id}/stream") for h in hosts]
            reference = [(m.id, m.data) for m in logs[0].messages]
            if any([(m.id, m.data) for m in other.messages] != reference for other in logs[1:]):
                self._violate("one_log_hosts_agree", run_id=run_id)
            committed = dict(reference)
            for reader in turn["readers"]:
                for result in reader.results:
                    for message in result.messages:
                        if committed.get(message.id) != message.data:
                            self._violate("one_log_delivered_committed", run_id=run_id, id=message.id)
                            break
            if status == "success":
                final = _answer_check(logs[0])
                if final is None:
                    self._violate("answer_is_final", run_id=run_id)
                else:
                    finals.append(final)
        history = self.client.get(f"{hosts[0].url}/api/threads/{thread_id}/messages")
        stored = [m["content"] for m in history.json().get("messages", []) if m["role"] == "assistant"]
        if finals:
            position = 0
            for final in finals:
                while position < len(stored) and stored[position] != final:
                    position += 1
                if position == len(stored):
                    self._violate("one_history", thread_id=thread_id, finals=finals, stored=stored)
                    break
                position += 1
            else:
                if turns[-1]["status"] == "success" and stored[-1] != finals[-1]:
                    self._violate("one_history_head", thread_id=thread_id)


class _Reader(threading.Thread):
    """A client that reads a run's stream, resuming with Last-Event-ID on a cut, until ``done``."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.results: list[StreamResult] = []

    def run(self) -> None:
        last: str | None = None
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=httpx.Timeout(20.0)) as client:
            while time.monotonic() < deadline:
                try:
                    result = read_stream(
                        client, "GET", self.url, headers={"Last-Event-ID": last} if last else {}
                    )
                except httpx.HTTPError:
                    time.sleep(0.3)
                    continue
                self.results.append(result)
                if result.messages:
                    last = result.messages[-1].id
                if result.status != 200 or (result.messages and result.types[-1] == "done"):
                    return
                time.sleep(0.2)


def _answer_check(result: StreamResult) -> str | None:
    """``final.content`` if the tokens no ``restart`` discarded concatenate to it, else None."""
    finals = [e["data"]["content"] for e in result.events if e["type"] == "final"]
    return finals[-1] if finals and result.kept_answer == finals[-1] else None


def run_chaos(seed: int, budget_s: float, workdir: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    with Cluster(workdir, run_lease_s=LEASE_S, offline_token_delay_ms=25, graceful_timeout_s=4) as cluster:
        chaos = Chaos(cluster, rng, workdir)
        started = time.monotonic()  # the budget is for schedules, not for starting the hosts
        schedules = 0
        while time.monotonic() - started < budget_s:
            chaos.schedule(schedules)
            schedules += 1
        chaos.client.close()
    return {
        "seed": seed,
        "schedules": schedules,
        "runs": chaos.runs,
        "faults": dict(chaos.faults),
        "violations": dict(chaos.violations),
        "seconds": round(time.monotonic() - started),
    }


def table(report: dict[str, Any]) -> str:
    lines = [f"{'seed':<32}{report['seed']}", f"{'schedules':<32}{report['schedules']}"]
    lines += [f"{'runs':<32}{report['runs']}", f"{'seconds':<32}{report['seconds']}", "faults injected:"]
    lines += [f"  {kind:<30}{report['faults'].get(kind, 0)}" for kind in FAULTS]
    lines.append("violations:")
    invariants = ["one_log_hosts_agree", "one_log_delivered_committed", "one_outcome", "every_run_ends"]
    invariants += ["one_history", "one_history_head", "answer_is_final", "durable_cancel", "start_refused"]
    invariants += ["one_run_per_thread"]
    lines += [f"  {name:<30}{report['violations'].get(name, 0)}" for name in invariants]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", "1")))
    parser.add_argument("--budget-s", type=float, default=float(os.environ.get("CHAOS_BUDGET_S", "600")))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="stagecast-chaos-"))
    report = run_chaos(args.seed, args.budget_s, workdir)
    print(table(report))
    print(f"work directory: {workdir}")
    return 1 if report["violations"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
