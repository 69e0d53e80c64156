"""A LangGraph API run body -> the RunRequest Stagecast starts (app/protocols/langgraph/inputs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app.config import Settings
from app.errors import ServiceError
from app.protocols.langgraph.inputs import run_request
from app.protocols.langgraph.models import RunCreate

SETTINGS = Settings()


@pytest.fixture(autouse=True)
def request_context() -> Iterator[None]:
    """A run request's ``user_id`` is bound to the authenticated caller, who lives in Flask's
    request context (here none: authentication off)."""
    with Flask(__name__).test_request_context():
        yield


def _request(**body: Any) -> Any:
    return run_request(RunCreate(assistant_id="chat", **body), "t1", "cancel", SETTINGS)


def test_the_last_human_message_is_the_question_and_earlier_ones_its_history() -> None:
    request = _request(
        input={
            "messages": [
                {"type": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"type": "ai", "content": "Hello"},
                {
                    "role": "human",
                    "content": [{"type": "text", "text": "ABC-12345 "}, {"type": "text", "text": "재고?"}],
                },
                {"type": "ai", "content": "(an AI turn after the question is ignored)"},
            ]
        }
    )
    assert request.message == "ABC-12345 재고?"
    assert [(h.role, h.content) for h in request.history] == [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello"),
    ]
    assert (request.conversation_id, request.agent, request.on_disconnect) == ("t1", "chat", "cancel")


def test_a_question_key_and_the_agent_options_from_context_and_config() -> None:
    request = _request(
        input={"question": "0.5"},
        context={"user_id": "ana", "ignored": 1},
        config={"configurable": {"custom_prompt": "Answer in French.", "llm_config": {"temperature": 0.5}}},
    )
    assert request.message == "0.5"
    assert request.user_id == "ana" and request.custom_prompt == "Answer in French."
    assert request.llm_config.temperature == 0.5


def test_command_resume() -> None:
    request = _request(command={"resume": {"approved": True}})
    assert request.resume == {"approved": True} and request.message is None


def test_graph_controls_checkpoint_command_breakpoints_and_input_null() -> None:
    forked = _request(input={"question": "hi"}, checkpoint={"checkpoint_id": "c1", "checkpoint_ns": ""})
    assert forked.checkpoint_id == "c1" and forked.message == "hi"
    assert _request(input={"question": "hi"}, checkpoint_id="c2").checkpoint_id == "c2"
    command = _request(command={"goto": "draft", "update": {"question": "v3"}})
    assert command.command is not None and command.command.goto == "draft"
    assert command.command.update == {"question": "v3"} and command.message is None
    both = _request(command={"goto": ["a"], "resume": "yes"})
    assert both.resume == "yes" and both.command is not None
    paused = _request(input={"question": "hi"}, interrupt_before=["approve"], interrupt_after="*")
    assert paused.interrupt_before == ["approve"] and paused.interrupt_after == "*"
    proceeding = _request(input=None)
    assert proceeding.proceed and proceeding.message is None and proceeding.resume is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"input": {"messages": [{"role": "ai", "content": "hi"}]}}, 400),
        ({"input": {"other": 1}}, 422),
        ({"input": {"question": "hi"}, "command": {"resume": "yes"}}, 422),
        ({"input": {"question": "hi"}, "command": {"goto": "draft"}}, 422),
        ({"input": {"question": "x" * (SETTINGS.max_message_chars + 1)}}, 400),
        ({"input": {"question": "   "}}, 400),
    ],
)
def test_refused(body: dict[str, Any], status: int) -> None:
    with pytest.raises(ServiceError) as refused:
        _request(**body)
    assert refused.value.status == status
