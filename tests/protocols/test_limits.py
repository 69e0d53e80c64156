"""The protocols honour the native limits: the run limit (429 with Retry-After, in each
protocol's error shape) and the history limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import Server, run_server

USER = {"role": "user", "content": "x"}


def ui_message(id: str, role: str, text: str) -> dict[str, object]:
    return {"id": id, "role": role, "parts": [{"type": "text", "text": text}]}


@pytest.fixture(scope="module")
def one_run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("one-run"), max_concurrent_runs=1) as running:
        yield running


def test_run_limit_is_429_with_retry_after_before_the_stream(one_run_server: Server) -> None:
    url = one_run_server.url
    busy = httpx.post(f"{url}/api/runs", json={"message": "5", "agent": "slow", "on_disconnect": "continue"})
    assert busy.status_code == 202
    try:
        openai = httpx.post(f"{url}/v1/chat/completions", json={"model": "chat", "messages": [USER]})
        assert openai.status_code == 429 and openai.headers["retry-after"]
        assert openai.json()["error"]["code"] == "TooManyRuns"
        assert openai.json()["error"]["type"] == "rate_limit_error"
        chat = {"id": "c1", "messages": [ui_message("u", "user", "x")]}
        ai_sdk = httpx.post(f"{url}/api/ai-sdk/chat", json=chat)
        ag_ui = httpx.post(
            f"{url}/api/ag-ui", json={"threadId": "t", "runId": "r", "messages": [{**USER, "id": "u"}]}
        )
        for response in (ai_sdk, ag_ui):
            assert response.status_code == 429 and response.headers["retry-after"]
            assert response.json()["error"] == "TooManyRuns"
    finally:
        httpx.post(f"{url}/api/runs/{busy.json()['run_id']}/cancel")


def test_history_limit(protocol_server: Server) -> None:
    url = protocol_server.url
    earlier = [{"role": "user", "content": f"q{i}"} for i in range(60)]  # the limit is 50
    too_long = httpx.post(f"{url}/v1/chat/completions", json={"model": "chat", "messages": [*earlier, USER]})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "ValidationError"
    # A useChat chat resends all its messages: only the latest 50 seed a new thread.
    messages = [ui_message(f"m{i}", m["role"], m["content"]) for i, m in enumerate(earlier)]
    messages.append(ui_message("u", "user", "x"))
    with httpx.Client(timeout=30) as client:
        response = client.post(f"{url}/api/ai-sdk/chat", json={"id": "long-chat", "messages": messages})
        assert response.status_code == 200 and response.text.rstrip().endswith("data: [DONE]")
        history = client.get(f"{url}/api/threads/long-chat/messages").json()["messages"]
    assert [m["content"] for m in history[:50]] == [f"q{i}" for i in range(10, 60)]
