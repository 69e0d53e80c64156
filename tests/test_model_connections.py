"""app/agent/model_transport.py's pool: a worker's runs reuse its connections to the model
server, and a run's cancel still closes its own connection, and only that one.

In-process, against the local OpenAI-format server, with both chat models; the same over a
real gunicorn with gevent workers is in tests/test_llm_path.py and tests/test_runs.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpcore
import pytest
from langchain_core.messages import BaseMessageChunk, HumanMessage

from app.agent.chat_model import LLMConfig, make_chat_model, shared_transport
from app.agent.control import RunControl
from app.agent.model_transport import ConnectionPool
from app.config import Settings, load_settings
from tests.support.fake_openai import FakeOpenAI

KINDS = ["fast", "stock"]
QUESTION = [HumanMessage("ABC-12345 부품의 재고는?")]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(token_delay_s=0.0) as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_pools() -> Iterator[None]:
    """Each test starts as a new worker does: without a pool."""
    shared_transport.cache_clear()
    yield
    shared_transport.cache_clear()


def settings_for(upstream: FakeOpenAI, kind: str = "fast", **more: object) -> Settings:
    return load_settings({"openai_base_url": upstream.base_url, "chat_model": kind, **more})


def pool_of(settings: Settings) -> ConnectionPool:
    return shared_transport(
        settings.openai_base_url, settings.llm_keepalive_connections, settings.llm_keepalive_s
    ).pool


def stream(settings: Settings, control: RunControl) -> Iterator[BaseMessageChunk]:
    model = make_chat_model(settings, LLMConfig(), control)
    assert model is not None
    return model.stream(QUESTION)


def answer(settings: Settings) -> str:
    """One run's model call, read to its end; the run then ends (its closers run)."""
    control = RunControl()
    try:
        return "".join(str(chunk.content) for chunk in stream(settings, control))
    finally:
        control.release()


@pytest.mark.parametrize("kind", KINDS)
def test_runs_one_after_another_share_one_connection(upstream: FakeOpenAI, kind: str) -> None:
    settings = settings_for(upstream, kind)
    before = upstream.connections
    for _ in range(4):
        assert answer(settings) == "".join(upstream.tokens)
    assert upstream.connections - before == 1
    assert pool_of(settings).opened == 1 and pool_of(settings).idle == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_cancel_closes_its_runs_connection_and_no_other(kind: str) -> None:
    with FakeOpenAI(tokens=[f"t{i} " for i in range(40)], token_delay_s=0.05) as upstream:
        settings = settings_for(upstream, kind)
        cancelled, other = RunControl(), RunControl()
        first, second = stream(settings, cancelled), stream(settings, other)
        next(first), next(second)  # both answers are streaming, each on its own connection
        assert upstream.connections == 2
        cancel_at = time.monotonic()
        cancelled.cancel("cancelled")
        with pytest.raises(Exception):  # noqa: B017 - the SDK's connection error, whichever
            for _ in first:
                pass
        assert time.monotonic() - cancel_at < 1.0
        assert upstream.first_hangup() - cancel_at < 1.0
        # The other run's answer streams to its end, and its connection serves the next run.
        rest = "".join(str(chunk.content) for chunk in second)
        assert rest and "".join(upstream.tokens).endswith(rest)
        other.release()
        assert len(upstream.hangups) == 1
        assert answer(settings) == "".join(upstream.tokens)
        assert upstream.connections == 2 and pool_of(settings).idle == 1


def test_at_most_the_bound_of_idle_connections_is_kept(upstream: FakeOpenAI) -> None:
    settings = settings_for(upstream, llm_keepalive_connections=1)
    before = upstream.connections
    controls = [RunControl() for _ in range(3)]
    streams = [stream(settings, control) for control in controls]
    for each in streams:
        next(each)  # three answers at once: three connections
    for each, control in zip(streams, controls, strict=True):
        assert "".join(str(chunk.content) for chunk in each)
        control.release()
    assert upstream.connections - before == 3 and pool_of(settings).idle == 1
    for _ in range(3):
        answer(settings)
    assert upstream.connections - before == 3


def test_no_idle_connection_is_kept_with_a_bound_of_0(upstream: FakeOpenAI) -> None:
    settings = settings_for(upstream, llm_keepalive_connections=0)
    before = upstream.connections
    for _ in range(3):
        assert answer(settings) == "".join(upstream.tokens)
    assert upstream.connections - before == 3 and pool_of(settings).idle == 0


def test_an_idle_connection_is_closed_after_keepalive_s(upstream: FakeOpenAI) -> None:
    settings = settings_for(upstream, llm_keepalive_s=0.2)
    before = upstream.connections
    answer(settings)
    answer(settings)
    time.sleep(0.3)
    answer(settings)
    assert upstream.connections - before == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_connection_the_server_closed_is_not_reused(
    upstream: FakeOpenAI, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(upstream, kind)
    upstream.keep_alive = False  # it closes each connection after its answer
    try:
        before, requests = upstream.connections, len(upstream.requests)
        assert answer(settings) == answer(settings) == "".join(upstream.tokens)
        assert upstream.connections - before == 2
        # The server's close not yet seen when the next request goes out (a race with its idle
        # timeout): that request is sent once more, on a new connection, and the run sees nothing.
        monkeypatch.setattr(httpcore.HTTPConnection, "has_expired", lambda self: False)
        assert answer(settings) == "".join(upstream.tokens)
        assert upstream.connections - before == 3 and len(upstream.requests) - requests == 3
    finally:
        upstream.keep_alive = True


def test_the_response_bound_still_holds_per_answer(upstream: FakeOpenAI) -> None:
    settings = settings_for(upstream, llm_max_response_bytes=1024)
    with pytest.raises(Exception, match="more than 1024 bytes"):
        answer(settings)
    # The answer over the bound closed its connection; the next run is served all the same.
    assert answer(settings_for(upstream)) == "".join(upstream.tokens)
