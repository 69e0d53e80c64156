"""The shared rule of the protocols' chat requests: the last user message asks."""

from __future__ import annotations

import pytest

from app.errors import ServiceError
from app.protocols.turns import history, split_question


def test_the_last_user_message_asks_and_the_earlier_ones_are_history() -> None:
    turns = [
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello"),
        ("user", "Stock?"),
        ("assistant", ""),
    ]
    question, earlier = split_question(turns)
    assert question == "Stock?"
    assert history(earlier) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
    ]
    assert history([*earlier, ("tool", "42"), ("user", "")], frozenset({"user"})) == [
        {"role": "user", "content": "Hi"}
    ]


def test_no_user_message_is_a_400() -> None:
    with pytest.raises(ServiceError) as caught:
        split_question([("assistant", "Hello")])
    assert caught.value.status == 400 and caught.value.code == "ValidationError"
