"""One streamed answer's chunks, gathered for their merge without holding every chunk.

A chat model's chunk is about 2.4 KB of pydantic objects. LangChain's ``stream`` keeps each
until the answer ends (to merge them for ``on_llm_end``), and so did the chat graph's node (to
merge them into its answer): an answer held ~2.4 KB per token it had streamed, 130 KB of a
43-token answer's 327 KB (traced in a worker). Most chunks add only text to the merge, so
:class:`AnswerParts` keeps their text and drops the objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.ai import add_ai_message_chunks
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.outputs.chat_generation import merge_chat_generation_chunks

__all__ = ["AnswerParts", "adds_only_text", "generation_parts", "message_parts"]

# Merging equal values of these response_metadata keys keeps one (langchain_core.utils._merge).
_KEPT_WHEN_EQUAL = frozenset({"model_provider"})
_JOIN_AT = 64  # texts held as separate strings at most, before they are joined into one


def adds_only_text(message: AIMessageChunk, head: AIMessageChunk) -> bool:
    """Whether merging ``message`` after ``head`` (the answer's first chunk) changes nothing
    but the content: then the merge needs only its text."""
    return (
        type(message.content) is str
        and type(head.content) is str
        and not message.tool_call_chunks
        and not message.additional_kwargs
        and message.usage_metadata is None
        and message.chunk_position is None
        and message.name is None
        and message.id == head.id
        and message.response_metadata == head.response_metadata
        and message.response_metadata.keys() <= _KEPT_WHEN_EQUAL
    )


Part = TypeVar("Part", AIMessageChunk, ChatGenerationChunk)


class AnswerParts(Generic[Part]):
    """One streamed answer, gathered for its merge without holding every chunk.

    A chunk that adds only text (:func:`adds_only_text`) is kept as its text; the texts between
    two other chunks become one text chunk. Merging what is kept gives what merging every
    chunk gives: contents concatenate, and a text chunk changes nothing else."""

    def __init__(
        self, merge: Callable[[list[Part]], Part | None], text_part: Callable[[str, AIMessageChunk], Part]
    ) -> None:
        self._merge: Callable[[list[Part]], Part | None] = merge
        self._text_part: Callable[[str, AIMessageChunk], Part] = text_part
        self._kept: list[Part] = []
        self._head: AIMessageChunk | None = None
        self._texts: list[str] = []  # of the chunks since the last kept one

    def add(self, part: Part, message: AIMessageChunk, extra: object = None) -> None:
        """``part`` (its ``message``); ``extra``: what else it brings (a generation's info)."""
        if self._head is not None and not extra and adds_only_text(message, self._head):
            self._texts.append(message.content)  # type: ignore[arg-type]  # a str: adds_only_text
            if len(self._texts) >= _JOIN_AT:
                self._texts = ["".join(self._texts)]
            return
        self._kept += self._pending()
        self._kept.append(part)
        self._head = self._head or message

    def merged(self) -> Part | None:
        """What merging every chunk added would give."""
        return self._merge(self._kept + self._pending(keep=True))

    def _pending(self, keep: bool = False) -> list[Part]:
        if not self._texts or self._head is None:
            return []
        text = "".join(self._texts)
        if not keep:
            self._texts = []
        return [self._text_part(text, self._head)]


def generation_parts() -> AnswerParts[ChatGenerationChunk]:
    """For ``ChatGenerationChunk``\\ s, merged as ``stream`` merges them for ``on_llm_end``."""
    return AnswerParts(
        merge_chat_generation_chunks, lambda text, head: ChatGenerationChunk(message=_text_chunk(text, head))
    )


def message_parts() -> AnswerParts[AIMessageChunk]:
    """For the ``AIMessageChunk``\\ s a graph node reads from ``stream``."""
    return AnswerParts(_add_messages, _text_chunk)


def _add_messages(chunks: list[AIMessageChunk]) -> AIMessageChunk | None:
    return (
        add_ai_message_chunks(chunks[0], *chunks[1:]) if len(chunks) > 1 else (chunks[0] if chunks else None)
    )


def _text_chunk(text: str, head: AIMessageChunk) -> AIMessageChunk:
    return AIMessageChunk(content=text, id=head.id, response_metadata=dict(head.response_metadata))
