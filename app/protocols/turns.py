"""The rule every protocol's chat request shares: the last user message is the question, and
the messages before it are the conversation so far (they seed a new thread's history, as the
native ``history`` does)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import bad_request

Turn = tuple[str, str]
"""A message as (role, text)."""


def split_question(messages: Sequence[Turn]) -> tuple[str, list[Turn]]:
    """The last user message's text and the messages before it; 400 if there is none."""
    last_user = max((i for i, (role, _) in enumerate(messages) if role == "user"), default=None)
    if last_user is None:
        raise bad_request("messages has no user message to answer.")
    return messages[last_user][1], list(messages[:last_user])


HISTORY_ROLES = frozenset({"user", "assistant", "system"})
"""The roles the native ``history`` takes."""


def history(turns: Sequence[Turn], roles: frozenset[str] = HISTORY_ROLES) -> list[dict[str, str]]:
    """The native ``history`` entries of ``turns`` in ``roles`` that have text."""
    return [{"role": role, "content": text} for role, text in turns if role in roles and text]
