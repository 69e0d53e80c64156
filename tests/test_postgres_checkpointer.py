"""The distributed mode's checkpointer (``PostgresCheckpointer``) against LangGraph's own
``PostgresSaver``: the same graphs leave the same rows and the same states, one statement
per write, and the one case it cannot merge is sent as the library sends it."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.base import ERROR, INTERRUPT, RESUME
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from app.runs.models import Run, RunRequest
from app.runs.store.postgres import PostgresCheckpointer, PostgresRunStore, StaleAttemptError, open_pool
from tests.support.services import postgres_database


class State(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    note: str
    count: int
    payload: dict[str, Any]


def first(state: State) -> dict[str, Any]:
    return {"log": ["first"], "note": "plain", "count": 1, "payload": {"rows": [1, 2, 3]}}


def ask(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "go on?"})
    return {"log": [f"asked:{answer}"], "count": state["count"] + 1}


def last(state: State) -> dict[str, Any]:
    if state.get("note") == "fail":
        raise RuntimeError("boom")
    return {"log": ["last"], "note": "done"}


def build(checkpointer: PostgresSaver) -> Any:
    builder = StateGraph(State)
    for name, node in (("first", first), ("ask", ask), ("last", last)):
        builder.add_node(name, node)
    builder.add_edge(START, "first")
    builder.add_edge("first", "ask")
    builder.add_edge("ask", "last")
    builder.add_edge("last", END)
    return builder.compile(checkpointer=checkpointer)


class CountingPool:
    """The pool, counting checkouts: each of the checkpointer's writes takes one."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.checkouts = 0

    def connection(self) -> Any:
        self.checkouts += 1
        return self.pool.connection()


@pytest.fixture(scope="module")
def savers() -> Iterator[tuple[PostgresSaver, PostgresCheckpointer]]:
    with postgres_database() as library_url, postgres_database() as ours_url:
        library_pool, ours_pool = open_pool(library_url, 2), open_pool(ours_url, 2)
        try:
            library, ours = PostgresSaver(library_pool), PostgresCheckpointer(ours_pool)  # type: ignore[arg-type]
            library.setup()
            ours.setup()
            yield library, ours
        finally:
            library_pool.close()
            ours_pool.close()


def rows(saver: PostgresSaver, thread_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a thread left in each table, without the ids that differ between runs (uuid6)."""
    queries = {
        "checkpoints": "SELECT checkpoint_ns, parent_checkpoint_id IS NULL, checkpoint->'channel_versions',"
        " metadata->'step', metadata->'source' FROM checkpoints WHERE thread_id = %s ORDER BY checkpoint_id",
        "checkpoint_blobs": "SELECT channel, split_part(version, '.', 1), type, blob FROM checkpoint_blobs"
        " WHERE thread_id = %s ORDER BY channel, version",
        "checkpoint_writes": "SELECT task_path, idx, channel, type, blob FROM checkpoint_writes"
        " WHERE thread_id = %s ORDER BY checkpoint_id, task_path, idx",
    }
    with saver.conn.connection() as conn:  # type: ignore[union-attr]
        cursor = conn.cursor(row_factory=tuple_row)
        return {table: cursor.execute(sql, (thread_id,)).fetchall() for table, sql in queries.items()}


def versions_free(table: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Channel versions carry a random fraction; keep their counters only."""
    return [
        tuple({k: v.split(".")[0] for k, v in c.items()} if isinstance(c, dict) else c for c in row)
        for row in table
    ]


def play(saver: PostgresSaver, thread_id: str, note: str = "plain") -> list[Any]:
    graph = build(saver)
    config = {"configurable": {"thread_id": thread_id}}
    states = []
    graph.invoke({"log": ["in"]}, config, durability="sync")
    states.append(graph.get_state(config))
    if note == "fail":
        graph.update_state(config, {"note": "fail"})
        with pytest.raises(RuntimeError, match="boom"):
            graph.invoke(Command(resume="yes"), config, durability="sync")
    else:
        graph.invoke(Command(resume="yes"), config, durability="sync")
    states.append(graph.get_state(config))
    return states


@pytest.mark.parametrize("note", ["plain", "fail"])
def test_same_rows_and_states_as_the_library(
    savers: tuple[PostgresSaver, PostgresCheckpointer], note: str
) -> None:
    library, ours = savers
    thread_id = f"thread-{note}"
    expected, got = play(library, thread_id, note), play(ours, thread_id, note)
    for want, have in zip(expected, got, strict=True):
        assert have.values == want.values
        assert have.next == want.next
        assert [[i.value for i in t.interrupts] for t in have.tasks] == [
            [i.value for i in t.interrupts] for t in want.tasks
        ]
        assert [t.error is None for t in have.tasks] == [t.error is None for t in want.tasks]
    assert got[0].next == ("ask",) and got[0].tasks[0].interrupts
    if note == "plain":
        assert got[-1].values["log"] == ["in", "first", "asked:yes", "last"] and not got[-1].next
    else:
        assert got[-1].next == ("last",) and got[-1].tasks[0].error is not None
    mine, theirs = rows(ours, thread_id), rows(library, thread_id)
    assert versions_free(mine["checkpoints"]) == versions_free(theirs["checkpoints"])
    assert mine["checkpoint_blobs"] == theirs["checkpoint_blobs"]
    # An interrupt's id derives from its checkpoint's id: compare the rest of its row.
    assert [r if r[2] != INTERRUPT else r[:4] for r in mine["checkpoint_writes"]] == [
        r if r[2] != INTERRUPT else r[:4] for r in theirs["checkpoint_writes"]
    ]
    channels = {row[2] for row in mine["checkpoint_writes"]}
    assert INTERRUPT in channels and RESUME in channels and (ERROR in channels) == (note == "fail")


def test_each_write_is_one_statement(savers: tuple[PostgresSaver, PostgresCheckpointer]) -> None:
    _, ours = savers
    checkpointer = PostgresCheckpointer(ours.pool)
    counting = checkpointer.pool = CountingPool(ours.pool)  # type: ignore[assignment]
    graph = build(checkpointer)
    config = {"configurable": {"thread_id": "counted"}}
    puts = writes = 0
    put, put_writes = checkpointer.put, checkpointer.put_writes

    def counted_put(*args: Any) -> Any:
        nonlocal puts
        puts += 1
        return put(*args)

    def counted_writes(*args: Any) -> None:
        nonlocal writes
        writes += 1
        put_writes(*args)

    checkpointer.put, checkpointer.put_writes = counted_put, counted_writes  # type: ignore[method-assign]
    graph.invoke({"log": ["in"]}, config, durability="sync")
    assert puts >= 3 and writes >= 2
    assert counting.checkouts == puts + writes
    assert graph.get_state(config).values["log"] == ["in", "first"]


def test_an_upsert_of_several_rows_is_sent_as_the_library_sends_it(
    savers: tuple[PostgresSaver, PostgresCheckpointer],
) -> None:
    """Several writes to one special channel are upserts of the same row: one statement could
    not apply them in turn, so they go one by one, and the last one wins as in the library."""
    written = []
    for saver in savers:
        config = saver.put(
            {"configurable": {"thread_id": "upserts", "checkpoint_ns": ""}},
            {
                "v": 4,
                "id": "1f0a0000-0000-6000-8000-000000000001",
                "ts": "2026-11-30T00:00:00+00:00",
                "channel_values": {"note": "x", "log": ["a"]},
                "channel_versions": {"note": "1", "log": "1"},
                "versions_seen": {},
                "updated_channels": None,
            },
            {"source": "input", "step": -1},
            {"note": "1", "log": "1"},
        )
        saver.put_writes(config, [(RESUME, "first"), (RESUME, "second")], "task-1")
        written.append(rows(saver, "upserts"))
    library, ours = written
    assert ours == library
    assert [row[2] for row in ours["checkpoint_writes"]] == [RESUME]
    assert ours["checkpoint_blobs"][0][0] == "log"


def test_more_parameters_than_one_statement_carries_are_sent_as_the_library_sends_them() -> None:
    from app.runs.store.postgres import _Batch

    sql = "INSERT INTO t (a, b, c) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
    fits, too_many = _Batch(), _Batch()
    fits.executemany(sql, [(1, 2, 3)] * 21845)
    too_many.executemany(sql, [(1, 2, 3)] * 21846)
    merged = fits.merged()
    assert merged is not None and len(merged[1]) == 65535 and merged[0].count("(%s, %s, %s)") == 21845
    assert too_many.merged() is None


def test_a_stale_attempts_write_is_refused_whole_in_its_one_statement() -> None:
    """The fenced write is one statement (``_merge``): a takeover's attempt bump refuses every
    later write of the old attempt, and nothing of a refused write is left."""
    with postgres_database() as url:
        pool = open_pool(url, 2)
        try:
            store = PostgresRunStore(pool)
            ours = PostgresCheckpointer(pool)
            ours.setup()
            stale: list[str] = []
            ours.on_stale = stale.append
            store.started(
                Run(
                    run_id="r1",
                    thread_id="t1",
                    trace_id="x",
                    agent="a",
                    request=RunRequest(message="hi"),
                    worker="w1",
                )
            )()
            graph = build(ours)

            def config(attempt: int) -> Any:
                return {
                    "configurable": {
                        "thread_id": "t1",
                        "stagecast_run_id": "r1",
                        "stagecast_attempt": attempt,
                    }
                }

            graph.invoke({"log": ["in"]}, config(1), durability="sync")
            before = rows(ours, "t1")
            assert before["checkpoints"] and graph.get_state(config(1)).next == ("ask",)
            assert store.take_over("r1", 2, "w2")
            with pytest.raises(StaleAttemptError):
                graph.invoke(Command(resume="yes"), config(1), durability="sync")
            assert rows(ours, "t1") == before and set(stale) == {"r1"}
            graph.invoke(Command(resume="yes"), config(2), durability="sync")
            assert graph.get_state(config(2)).values["log"] == ["in", "first", "asked:yes", "last"]
        finally:
            pool.close()
