"""The three encoders on their own: native events in, the protocol's bytes out."""

from __future__ import annotations

import json
from typing import Any

from ag_ui.core import Event as AgUiEvent
from pydantic import TypeAdapter

from app.protocols.ag_ui import AgUiEncoder
from app.protocols.ai_sdk import UIMessageEncoder
from app.protocols.openai import ChunkEncoder

AG_UI_EVENT = TypeAdapter(AgUiEvent)


def event(type: str, **data: Any) -> dict[str, Any]:
    return {"type": type, "data": data, "run_id": "r1", "trace_id": "t1", "ts": 0}


def token(content: str, message_id: str = "m1") -> dict[str, Any]:
    return event("token", content=content, node="answer", message_id=message_id)


def progress(node: str, status: str, message: str = "") -> dict[str, Any]:
    return event("progress", node=node, stage=node, status=status, message=message)


START = event("start", run_id="r1", thread_id="th1", trace_id="t1", agent="chat")
DONE = event("done", status="success", duration_ms=5)


def data_lines(raw: bytes) -> list[str]:
    """The ``data:`` payloads of a run of SSE messages (each ``data: ...\\n\\n``)."""
    text = raw.decode()
    assert text.endswith("\n\n") or not text
    return [block.removeprefix("data: ") for block in text.split("\n\n") if block]


def test_ui_message_parts_open_text_once_and_put_tool_input_before_output() -> None:
    encoder = UIMessageEncoder("msg-r1")
    events = [
        START,
        token("Hel"),
        token("lo"),
        event("tool_call", id="c1", name="lookup", args={"p": 1}, status="completed", result="7"),
        event("final", content="Hello", table_data={"rows": []}, chart_data=None, confidence_score=0.5),
        DONE,
    ]
    lines = data_lines(b"".join(encoder.encode(e) for e in events))
    assert lines[-1] == "[DONE]"
    parts = [json.loads(line) for line in lines[:-1]]
    assert parts[:5] == [
        {"type": "start", "messageId": "msg-r1", "messageMetadata": START["data"]},
        {"type": "start-step"},
        {"type": "text-start", "id": "m1"},
        {"type": "text-delta", "id": "m1", "delta": "Hel"},
        {"type": "text-delta", "id": "m1", "delta": "lo"},
    ]
    server_side = {"toolCallId": "c1", "providerExecuted": True, "dynamic": True}
    assert parts[5:7] == [
        {"type": "tool-input-available", **server_side, "toolName": "lookup", "input": {"p": 1}},
        {"type": "tool-output-available", **server_side, "output": "7"},
    ]
    assert [p["type"] for p in parts[7:]] == [
        "text-end",
        "data-table",
        "message-metadata",
        "finish-step",
        "finish",
    ]
    assert encoder.end(cut=True) == b""  # a drained stream ends without finish: useChat resumes it


def test_ui_message_sources_are_urls_or_documents() -> None:
    sources = [
        {"id": "s1", "title": "Web", "content": "x", "metadata": {"url": "https://e.example"}, "score": 1},
        {"id": "s2", "title": "Doc", "content": "y", "metadata": {"kind": "document"}, "score": None},
    ]
    lines = data_lines(UIMessageEncoder("m").encode({**event("sources"), "data": sources}))
    url, document = (json.loads(line) for line in lines)
    assert url["type"] == "source-url" and url["url"] == "https://e.example" and url["title"] == "Web"
    assert document["type"] == "source-document" and document["mediaType"] == "text/markdown"
    assert document["providerMetadata"] == {
        "stagecast": {"content": "y", "score": None, "metadata": {"kind": "document"}}
    }


def test_ag_ui_events_are_balanced_and_nothing_follows_the_end() -> None:
    encoder = AgUiEncoder("th1", "client-run")
    events = [
        START,
        progress("answer", "in_progress"),
        progress("answer", "in_progress", "half way"),
        token(""),
        token("Hi"),
        progress("answer", "completed"),
        token(" again"),
        event("final", content="Hi again", usage={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}),
        DONE,
    ]
    raw = b"".join(encoder.encode(e) for e in events) + encoder.end(cut=False)
    # Each is a valid AG-UI event by the protocol package's own models.
    out = [
        AG_UI_EVENT.validate_json(line).model_dump(by_alias=True, exclude_none=True)
        for line in data_lines(raw)
    ]
    assert [(e["type"], e.get("stepName") or e.get("messageId") or e.get("name")) for e in out] == [
        ("RUN_STARTED", None),
        ("STEP_STARTED", "answer"),
        ("CUSTOM", "progress"),
        ("TEXT_MESSAGE_START", "m1"),
        ("TEXT_MESSAGE_CONTENT", "m1"),
        ("TEXT_MESSAGE_END", "m1"),
        ("STEP_FINISHED", "answer"),
        ("TEXT_MESSAGE_START", "m1:2"),  # the same native message, reopened: a new message
        ("TEXT_MESSAGE_CONTENT", "m1:2"),
        ("TEXT_MESSAGE_END", "m1:2"),
        ("RUN_FINISHED", None),
    ]
    assert out[0]["threadId"] == "th1" and out[0]["runId"] == "client-run"
    assert out[-1]["outcome"] == {"type": "success"}
    assert out[-1]["usage"] == [{"inputTokens": 3, "outputTokens": 2, "totalTokens": 5}]


def test_ag_ui_interrupt_cancel_and_cut() -> None:
    interrupted = AgUiEncoder("th", "r")
    raw = interrupted.encode(START) + interrupted.encode(
        event("interrupt", interrupts=[{"id": "i1", "value": "Ship it?"}])
    )
    finished = json.loads(data_lines(raw)[-1])
    assert finished["outcome"] == {
        "type": "interrupt",
        "interrupts": [
            {"id": "i1", "reason": "input_required", "message": "Ship it?", "metadata": {"value": "Ship it?"}}
        ],
    }
    cancelled = AgUiEncoder("th", "r")
    raw = cancelled.encode(event("error", error="Cancelled", message="Cancelled by a client."))
    assert json.loads(data_lines(raw)[-1])["outcome"] == {"type": "cancelled"}
    cut = AgUiEncoder("th", "r")
    cut.encode(START)
    assert json.loads(data_lines(cut.end(cut=True))[-1])["code"] == "ShuttingDown"


def test_openai_chunks_of_a_paused_run_and_of_a_cut() -> None:
    paused = ChunkEncoder("chatcmpl-1", "chat", 0, include_usage=True)
    events = [START, token("Hi"), event("done", status="paused", duration_ms=1)]
    lines = data_lines(b"".join(paused.encode(e) for e in events))
    chunks = [json.loads(line) for line in lines[:-1]]
    assert lines[-1] == "[DONE]"
    assert [c["choices"][0]["delta"] if c["choices"] else "usage" for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "Hi"},
        {},
        "usage",
    ]
    assert chunks[2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[3]["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    cut = ChunkEncoder("chatcmpl-2", "chat", 0, include_usage=False)
    error, done = data_lines(cut.end(cut=True))
    assert json.loads(error)["error"]["code"] == "ShuttingDown" and done == "[DONE]"
